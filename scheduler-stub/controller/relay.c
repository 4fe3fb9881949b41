/* Clients to the nodes' Agent services (relay.h). */
#include "relay.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* Calls on the wire at once to one node (a socket each, made when first
 * needed): an operator's logs and stops, and two for each stream (exec,
 * attach, forwarded connection: a waiting exchange and a carrying one),
 * so that the 32 streams an operator may have fit; beyond, calls wait
 * their turn. */
#define RELAY_INFLIGHT 64

typedef struct relay_client {
    berth_principal who;
    char *address;
    berth_rpc_client *client;
} relay_client;

/* A client streams hold; retired: the relay let go of it. */
typedef struct relay_hold {
    berth_rpc_client *client;
    unsigned n;
    bool retired;
} relay_hold;

struct ctl_relay {
    berth_loop *loop;
    berth_auth *auth;
    berth_rpc_metrics *metrics;
    relay_client *clients;
    size_t n_clients;
    relay_hold *holds;
    size_t n_holds;
    bool freeing; /* the calls completing now release nothing */
};

static relay_hold *hold_of(ctl_relay *r, const berth_rpc_client *client)
{
    for (size_t i = 0; i < r->n_holds; i++)
        if (r->holds[i].client == client)
            return &r->holds[i];
    return NULL;
}

void ctl_relay_hold(ctl_relay *r, berth_rpc_client *client)
{
    relay_hold *h = hold_of(r, client);

    if (!h) {
        r->holds = berth_xreallocarray(r->holds, r->n_holds + 1, sizeof(*r->holds));
        h = &r->holds[r->n_holds++];
        memset(h, 0, sizeof(*h));
        h->client = client;
    }
    h->n++;
}

void ctl_relay_release(ctl_relay *r, berth_rpc_client *client)
{
    relay_hold *h;

    if (r->freeing)
        return;
    h = hold_of(r, client);
    if (!h || --h->n > 0)
        return;
    if (h->retired)
        berth_rpc_client_free(client);
    *h = r->holds[--r->n_holds];
}

ctl_relay *ctl_relay_new(berth_loop *loop, berth_auth *auth, berth_rpc_metrics *metrics)
{
    ctl_relay *r = berth_xcalloc(1, sizeof(*r));

    r->loop = loop;
    r->auth = auth;
    r->metrics = metrics;
    return r;
}

static void client_close(ctl_relay *r, relay_client *c)
{
    relay_hold *h = c->client ? hold_of(r, c->client) : NULL;

    /* a stream still on it keeps it until its end */
    if (h)
        h->retired = true;
    else
        berth_rpc_client_free(c->client);
    c->client = NULL;
    free(c->address);
    c->address = NULL;
}

void ctl_relay_free(ctl_relay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_clients; i++)
        client_close(r, &r->clients[i]);
    /* the streams are gone by now (the controller ends them first); what
     * their opening calls still held goes, their answers releasing
     * nothing */
    r->freeing = true;
    for (size_t i = 0; i < r->n_holds; i++)
        if (r->holds[i].retired)
            berth_rpc_client_free(r->holds[i].client);
    free(r->holds);
    free(r->clients);
    free(r);
}

static relay_client *client_of(ctl_relay *r, const berth_principal *who)
{
    for (size_t i = 0; i < r->n_clients; i++)
        if (berth_id_eq(r->clients[i].who.id, who->id))
            return &r->clients[i];
    return NULL;
}

int ctl_relay_client(ctl_relay *r, const berth_principal *who, const char *address,
                     berth_rpc_client **ret_client, berth_error **err)
{
    relay_client *c = client_of(r, who);
    berth_rpc_client_config cc = { .loop = r->loop,
                                   .auth = r->auth,
                                   .address = address,
                                   .server = *who,
                                   .max_inflight = RELAY_INFLIGHT,
                                   .metrics = r->metrics };

    if (c && c->client && strcmp(c->address, address) == 0) {
        *ret_client = c->client;
        return 0;
    }
    if (!c) {
        r->clients = berth_xreallocarray(r->clients, r->n_clients + 1, sizeof(*r->clients));
        c = &r->clients[r->n_clients++];
        memset(c, 0, sizeof(*c));
        c->who = *who;
    }
    /* the node registered with another address since */
    client_close(r, c);
    if (berth_rpc_client_new(&cc, &c->client, err) < 0)
        return -1;
    c->address = berth_xstrdup(address);
    *ret_client = c->client;
    return 0;
}

void ctl_relay_node_restarted(ctl_relay *r, const char *name, const char *address)
{
    for (size_t i = 0; i < r->n_clients; i++) {
        relay_client *c = &r->clients[i];

        if (!c->client || strcmp(c->who.name, name) != 0)
            continue;
        if (address && *address && strcmp(c->address, address) == 0)
            berth_rpc_client_sessions_lost(c->client);
        else
            client_close(r, c);
    }
}

void ctl_relay_drop(ctl_relay *r, const char *name)
{
    for (size_t i = 0; i < r->n_clients; i++)
        if (strcmp(r->clients[i].who.name, name) == 0)
            client_close(r, &r->clients[i]);
}
