/* A pod's /etc/hosts and /etc/resolv.conf (podfiles.h). */
#include "podfiles.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define NAMESERVERS_MAX 3
#define SEARCHES_MAX    32
#define OPTIONS_MAX     32
#define WORD_MAX        256

char *podfiles_hosts(const char *ip, const char *hostname)
{
    return berth_xasprintf("# Kubernetes-managed hosts file (berth).\n"
                           "127.0.0.1\tlocalhost\n"
                           "::1\tlocalhost ip6-localhost ip6-loopback\n"
                           "fe00::0\tip6-localnet\n"
                           "fe00::0\tip6-mcastprefix\n"
                           "fe00::1\tip6-allnodes\n"
                           "fe00::2\tip6-allrouters\n"
                           "%s\t%s\n",
                           ip, hostname);
}

typedef struct resolv {
    char ns[NAMESERVERS_MAX][WORD_MAX];
    size_t n_ns;
    char search[SEARCHES_MAX][WORD_MAX];
    size_t n_search;
    char opt[OPTIONS_MAX][WORD_MAX]; /* "name" or "name:value" */
    size_t n_opt;
} resolv;

static bool loopback(const char *ns)
{
    return strncmp(ns, "127.", 4) == 0 || strcmp(ns, "::1") == 0;
}

static void add_ns(resolv *r, const char *ns)
{
    for (size_t i = 0; i < r->n_ns; i++)
        if (strcmp(r->ns[i], ns) == 0)
            return;
    if (r->n_ns < NAMESERVERS_MAX && strlen(ns) < WORD_MAX)
        snprintf(r->ns[r->n_ns++], WORD_MAX, "%s", ns);
}

static void add_search(resolv *r, const char *d)
{
    for (size_t i = 0; i < r->n_search; i++)
        if (strcmp(r->search[i], d) == 0)
            return;
    if (r->n_search < SEARCHES_MAX && strlen(d) < WORD_MAX)
        snprintf(r->search[r->n_search++], WORD_MAX, "%s", d);
}

/* An option "name[:value]": replaces one of the same name. */
static void add_opt(resolv *r, const char *name, const char *value)
{
    char o[WORD_MAX];
    size_t n = strlen(name);

    if (snprintf(o, sizeof(o), "%s%s%s", name, *value ? ":" : "", value) >= (int)sizeof(o))
        return;
    for (size_t i = 0; i < r->n_opt; i++)
        if (strncmp(r->opt[i], name, n) == 0 && (r->opt[i][n] == '\0' || r->opt[i][n] == ':')) {
            snprintf(r->opt[i], WORD_MAX, "%s", o);
            return;
        }
    if (r->n_opt < OPTIONS_MAX)
        snprintf(r->opt[r->n_opt++], WORD_MAX, "%s", o);
}

/* The node's file, line by line: nameserver, search (domain: the same),
 * options; the rest (sortlist, comments) left out. */
static void read_node(resolv *r, const char *text)
{
    char *copy = berth_xstrdup(text ? text : ""), *save = NULL;

    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *wsave = NULL, *key = strtok_r(line, " \t", &wsave), *w;

        if (!key || key[0] == '#' || key[0] == ';')
            continue;
        if (strcmp(key, "nameserver") == 0) {
            if ((w = strtok_r(NULL, " \t", &wsave)) && !loopback(w))
                add_ns(r, w);
        } else if (strcmp(key, "search") == 0 || strcmp(key, "domain") == 0) {
            /* the last search line wins, as the resolver reads it */
            if (strcmp(key, "search") == 0)
                r->n_search = 0;
            while ((w = strtok_r(NULL, " \t", &wsave)))
                add_search(r, w);
        } else if (strcmp(key, "options") == 0) {
            while ((w = strtok_r(NULL, " \t", &wsave))) {
                char *colon = strchr(w, ':');

                if (colon)
                    *colon = '\0';
                add_opt(r, w, colon ? colon + 1 : "");
            }
        }
    }
    free(copy);
}

char *podfiles_resolv(const char *node_text, const PodDNS *dns)
{
    resolv *r = berth_xcalloc(1, sizeof(*r));
    size_t size = 4096, len = 0;
    char *out = berth_xcalloc(1, size);

    if (!dns || strcmp(dns->policy, "None") != 0)
        read_node(r, node_text);
    for (size_t i = 0; dns && i < dns->n_nameservers; i++)
        add_ns(r, dns->nameservers[i]);
    for (size_t i = 0; dns && i < dns->n_searches; i++)
        add_search(r, dns->searches[i]);
    for (size_t i = 0; dns && i < dns->n_options; i++)
        add_opt(r, dns->options[i]->name, dns->options[i]->value);
    len += (size_t)snprintf(out + len, size - len, "# Kubernetes-managed resolv.conf (berth).\n");
    for (size_t i = 0; i < r->n_ns; i++)
        len += (size_t)snprintf(out + len, size - len, "nameserver %s\n", r->ns[i]);
    if (r->n_search) {
        /* 32 domains of up to 255: more than the first buffer */
        size = len + 8 + r->n_search * WORD_MAX + 16 + r->n_opt * WORD_MAX + 16;
        out = berth_xreallocarray(out, size, 1);
        len += (size_t)snprintf(out + len, size - len, "search");
        for (size_t i = 0; i < r->n_search; i++)
            len += (size_t)snprintf(out + len, size - len, " %s", r->search[i]);
        len += (size_t)snprintf(out + len, size - len, "\n");
    }
    if (r->n_opt) {
        size = len + 16 + r->n_opt * WORD_MAX + 16;
        out = berth_xreallocarray(out, size, 1);
        len += (size_t)snprintf(out + len, size - len, "options");
        for (size_t i = 0; i < r->n_opt; i++)
            len += (size_t)snprintf(out + len, size - len, " %s", r->opt[i]);
        snprintf(out + len, size - len, "\n");
    }
    free(r);
    return out;
}
