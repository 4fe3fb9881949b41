/* Secrets and ConfigMaps in the fleet (fleet-internal.h): kept by key,
 * loaded, applied and deleted with the workloads (fleet.c calls in). A
 * Secret's values are sealed in the store (XChaCha20-Poly1305 under a key
 * the controller derives from its own secret key: a copy of berth.db alone
 * reads none of them) and in flight (each to the node that runs a pod
 * naming it, with crypto_box_seal to that node's key); in memory they are
 * clear, and wiped when they go. A change reaches the nodes that use the
 * object: their generation moves on, so they fetch their assignments (and
 * the objects) again. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "fleet-internal.h"
#include "manifest/manifest.h"
#include "pb/pb.h"
#include "policy_sqlite.h"

void fleet_object_key(ConfigKind kind, const char *ns, const char *name,
                      char ret_key[FLEET_OBJECT_KEY_BUF])
{
    snprintf(ret_key, FLEET_OBJECT_KEY_BUF, "%s/%s/%s",
             kind == CONFIG_SECRET ? "secret" : "configmap", berth_namespace_or_default(ns), name);
}

const char *fleet_config_kind_name(ConfigKind kind)
{
    return kind == CONFIG_SECRET ? "Secret" : "ConfigMap";
}

static const char *object_key(const void *item)
{
    return ((const fleet_object *)item)->key;
}

static size_t object_at(fleet *f, const char *key, bool *ret_found)
{
    return fleet_sorted_pos((void *const *)f->objects, f->n_objects, object_key, key, ret_found);
}

fleet_object *fleet_object_find(fleet *f, ConfigKind kind, const char *ns, const char *name)
{
    char key[FLEET_OBJECT_KEY_BUF];
    bool found;
    size_t at;

    fleet_object_key(kind, ns, name, key);
    at = object_at(f, key, &found);
    return found ? f->objects[at] : NULL;
}

/* Wipe and free o's values (o stays, with none). */
static void data_drop(ConfigObject *o)
{
    for (size_t k = 0; k < o->n_data; k++) {
        sodium_memzero(o->data[k]->value.data, o->data[k]->value.len);
        protobuf_c_message_free_unpacked(&o->data[k]->base, NULL);
    }
    free(o->data);
    o->data = NULL;
    o->n_data = 0;
}

static void object_free(fleet_object *fo)
{
    berth_config_object_free(fo->o);
    free(fo);
}

void fleet_object_put(fleet *f, ConfigObject *o)
{
    char key[FLEET_OBJECT_KEY_BUF];
    fleet_object *fo;
    bool found;
    size_t at;

    fleet_object_key(o->kind, o->namespace_, o->name, key);
    at = object_at(f, key, &found);
    if (found) {
        fo = f->objects[at];
        berth_config_object_free(fo->o);
        fo->o = o;
        return;
    }
    fo = berth_xcalloc(1, sizeof(*fo));
    snprintf(fo->key, sizeof(fo->key), "%s", key);
    fo->o = o;
    f->objects = berth_xreallocarray(f->objects, f->n_objects + 1, sizeof(*f->objects));
    memmove(&f->objects[at + 1], &f->objects[at], (f->n_objects - at) * sizeof(*f->objects));
    f->objects[at] = fo;
    f->n_objects++;
}

void fleet_object_remove(fleet *f, const char *key)
{
    bool found;
    size_t at = object_at(f, key, &found);

    if (!found)
        return;
    object_free(f->objects[at]);
    memmove(&f->objects[at], &f->objects[at + 1], (f->n_objects - at - 1) * sizeof(*f->objects));
    f->n_objects--;
}

void fleet_objects_free(fleet *f)
{
    for (size_t i = 0; i < f->n_objects; i++)
        object_free(f->objects[i]);
    free(f->objects);
    f->objects = NULL;
    f->n_objects = 0;
    sodium_memzero(f->cfg.secrets_key, sizeof(f->cfg.secrets_key));
}

/* ---- sealed at rest ---- */

/* The values as one message: a ConfigObject with data alone. */
static uint8_t *pack_data(const ConfigObject *o, size_t *ret_len)
{
    ConfigObject d = CONFIG_OBJECT_INIT;
    uint8_t *buf;

    d.data = o->data;
    d.n_data = o->n_data;
    *ret_len = protobuf_c_message_get_packed_size(&d.base);
    buf = berth_xmalloc(*ret_len + 1);
    protobuf_c_message_pack(&d.base, buf);
    return buf;
}

#define SEAL_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SEAL_TAG   crypto_aead_xchacha20poly1305_ietf_ABYTES

/* What the store keeps of o (row key): a Secret with its values sealed
 * (nonce, then XChaCha20-Poly1305 ciphertext bound to the row's key: moved
 * to another row it does not open), a ConfigMap as it is. A new message. */
static ConfigObject *sealed_copy(fleet *f, const ConfigObject *o, const char *key)
{
    ConfigObject *c = BERTH_PB_COPY(ConfigObject, o);
    size_t len;
    uint8_t *plain;

    if (o->kind != CONFIG_SECRET)
        return c;
    data_drop(c);
    plain = pack_data(o, &len);
    c->sealed_data.len = SEAL_NONCE + SEAL_TAG + len;
    c->sealed_data.data = berth_xmalloc(c->sealed_data.len);
    randombytes_buf(c->sealed_data.data, SEAL_NONCE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(c->sealed_data.data + SEAL_NONCE, NULL, plain, len,
                                               (const uint8_t *)key, strlen(key), NULL,
                                               c->sealed_data.data, f->cfg.secrets_key);
    sodium_memzero(plain, len);
    free(plain);
    return c;
}

/* Open a stored Secret's values (row key) into o->data. EBADMSG when the
 * key is not the one it was sealed with (another controller's database),
 * or the values are another row's. */
static int unseal(fleet *f, ConfigObject *o, const char *key, berth_error **err)
{
    const ProtobufCBinaryData *s = &o->sealed_data;
    ConfigObject *d;
    uint8_t *plain;
    size_t len;

    if (o->kind != CONFIG_SECRET || !s->len)
        return 0;
    if (s->len < SEAL_NONCE + SEAL_TAG)
        return berth_error_set(err, EBADMSG, "%s: sealed values too short", key);
    len = s->len - SEAL_NONCE - SEAL_TAG;
    plain = berth_xmalloc(len + 1);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, s->data + SEAL_NONCE,
                                                   s->len - SEAL_NONCE, (const uint8_t *)key,
                                                   strlen(key), s->data, f->cfg.secrets_key) != 0) {
        free(plain);
        return berth_error_set(err, EBADMSG,
                               "%s: its values do not open with this controller's key (the "
                               "database comes from another controller, or the row was "
                               "changed?)",
                               key);
    }
    d = config_object_unpack(NULL, len, plain);
    sodium_memzero(plain, len);
    free(plain);
    if (!d)
        return berth_error_set(err, EBADMSG, "%s: sealed values do not decode", key);
    data_drop(o);
    o->data = d->data;
    o->n_data = d->n_data;
    d->data = NULL;
    d->n_data = 0;
    config_object_free_unpacked(d, NULL);
    free(o->sealed_data.data);
    o->sealed_data.data = NULL;
    o->sealed_data.len = 0;
    return 0;
}

typedef struct load_ctx {
    fleet *f;
    berth_error **err;
} load_ctx;

static int load_object(void *data, const char *key, ConfigObject *o)
{
    load_ctx *c = data;
    char want[FLEET_OBJECT_KEY_BUF];

    /* The values are sealed to the row's key; the kind, namespace and
     * name beside them are not: they must name the same row, or a Secret
     * renamed in the database would open as another. */
    fleet_object_key(o->kind, o->namespace_, o->name, want);
    if (strcmp(want, key) != 0) {
        berth_error_set(c->err, EBADMSG, "%s: the row holds %s (the database was changed?)", key,
                        want);
        config_object_free_unpacked(o, NULL);
        return -1;
    }
    if (unseal(c->f, o, key, c->err) < 0) {
        config_object_free_unpacked(o, NULL);
        return -1;
    }
    fleet_object_put(c->f, o);
    return 0;
}

int fleet_objects_load(fleet *f, berth_error **err)
{
    load_ctx c = { f, err };

    return berth_store_objects_load(f->cfg.store, load_object, &c, err);
}

int fleet_object_save(fleet *f, const ConfigObject *o, berth_error **err)
{
    char key[FLEET_OBJECT_KEY_BUF];
    ConfigObject *c;
    int r;

    fleet_object_key(o->kind, o->namespace_, o->name, key);
    c = sealed_copy(f, o, key);
    r = berth_store_object_put(f->cfg.store, key, c, err);
    berth_config_object_free(c);
    return r;
}

/* ---- apply ---- */

/* The operator's part of an object: everything but its times, source,
 * generation and the answers' sizes. */
static bool same_object(const ConfigObject *a, const ConfigObject *b)
{
    ConfigObject x = *a, y = *b;

    x.generation = y.generation = 0;
    x.created_unix_ns = y.created_unix_ns = x.updated_unix_ns = y.updated_unix_ns = 0;
    x.source = y.source = (char *)protobuf_c_empty_string;
    x.n_sizes = y.n_sizes = 0;
    return berth_pb_equal(&x.base, &y.base);
}

int fleet_object_action(fleet *f, const ConfigObject *o, int64_t now, ApplyAction *ret_action,
                        ConfigObject **ret_copy, berth_error **err)
{
    const fleet_object *existing = fleet_object_find(f, o->kind, o->namespace_, o->name);
    ConfigObject *c;

    *ret_copy = NULL;
    if (existing && same_object(existing->o, o)) {
        *ret_action = APPLY_UNCHANGED;
        return 0;
    }
    if (existing && o->kind == CONFIG_SECRET && strcmp(existing->o->type, o->type) != 0)
        return berth_error_set(err, EINVAL,
                               "Secret %s: its type is immutable (%s; delete it and apply it "
                               "again)",
                               o->name, existing->o->type);
    if (existing && existing->o->immutable) {
        ConfigObject x = *existing->o, y = *o;

        /* only its labels may change (Kubernetes' rule) */
        x.n_labels = y.n_labels = 0;
        x.generation = y.generation = 0;
        x.created_unix_ns = y.created_unix_ns = x.updated_unix_ns = y.updated_unix_ns = 0;
        x.source = y.source = (char *)protobuf_c_empty_string;
        if (!berth_pb_equal(&x.base, &y.base))
            return berth_error_set(err, EINVAL,
                                   "%s %s is immutable: its data and type cannot change (delete "
                                   "it and apply it again)",
                                   fleet_config_kind_name(o->kind), o->name);
    }
    c = BERTH_PB_COPY(ConfigObject, o);
    c->generation = existing ? existing->o->generation + 1 : 1;
    c->created_unix_ns = existing ? existing->o->created_unix_ns : now;
    c->updated_unix_ns = now;
    *ret_copy = c;
    *ret_action = existing ? APPLY_CONFIGURED : APPLY_CREATED;
    return 0;
}

/* ---- what a node's containers name ---- */

typedef struct named {
    ConfigKind kind;
    char ns[BERTH_NAMESPACE_BUF];
    const char *name;
} named;

typedef struct names {
    named *v;
    size_t n, cap;
} names;

static void names_add(names *l, ConfigKind kind, const char *ns, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].kind == kind && strcmp(l->v[i].ns, ns) == 0 && strcmp(l->v[i].name, name) == 0)
            return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = berth_xreallocarray(l->v, l->cap, sizeof(*l->v));
    }
    l->v[l->n].kind = kind;
    snprintf(l->v[l->n].ns, sizeof(l->v[l->n].ns), "%s", ns);
    l->v[l->n++].name = name;
}

/* The objects spec names (in its own namespace), into l (names borrowed
 * from spec). */
static void spec_names(const ContainerSpec *s, names *l)
{
    char ns[BERTH_NAMESPACE_BUF];

    berth_id_split(s->id, ns);
    for (size_t i = 0; i < s->n_env_key_refs; i++)
        names_add(l, s->env_key_refs[i]->kind, ns, s->env_key_refs[i]->object);
    for (size_t i = 0; i < s->n_env_from; i++)
        names_add(l, s->env_from[i]->kind, ns, s->env_from[i]->object);
    for (size_t i = 0; i < s->n_mounts; i++)
        if (s->mounts[i]->type == MOUNT_CONFIG && s->mounts[i]->config)
            names_add(l, s->mounts[i]->config->kind, ns, s->mounts[i]->config->object);
    for (size_t i = 0; i < s->n_image_pull_secrets; i++)
        names_add(l, CONFIG_SECRET, ns, s->image_pull_secrets[i]);
}

/* The keys a node may open with: its admitted public keys in X25519 form. */
static size_t node_box_keys(fleet *f, const fleet_node *n,
                            uint8_t ret[BERTH_PUBKEYS_MAX][crypto_box_PUBLICKEYBYTES],
                            berth_error **err)
{
    uint8_t keys[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    berth_principal who;
    size_t n_keys = 0, k = 0;

    if (!f->cfg.policy ||
        berth_policy_sqlite_ops.lookup(f->cfg.policy, n->who.id, &who, keys, &n_keys, err) <= 0)
        return 0;
    for (size_t i = 0; i < n_keys; i++)
        if (crypto_sign_ed25519_pk_to_curve25519(ret[k], keys[i]) == 0)
            k++;
    return k;
}

int fleet_node_objects(fleet *f, fleet_node *n, ContainerSpec *const *specs, size_t n_specs,
                       SealedObject ***ret, size_t *ret_n, berth_error **err)
{
    uint8_t box[BERTH_PUBKEYS_MAX][crypto_box_PUBLICKEYBYTES];
    names l = { 0 };
    SealedObject **out;
    size_t n_box, k = 0, total = 0;
    bool left_out = false;

    for (size_t i = 0; i < n_specs; i++)
        spec_names(specs[i], &l);
    out = berth_xcalloc(l.n + 1, sizeof(*out));
    n_box = l.n ? node_box_keys(f, n, box, err) : 0;
    if (l.n && !n_box) {
        free(l.v);
        free(out);
        if (err && *err)
            return -1;
        return berth_error_set(err, ENOKEY, "node %s: no key to seal its objects to", n->rec.name);
    }
    for (size_t i = 0; i < l.n; i++) {
        const fleet_object *fo = fleet_object_find(f, l.v[i].kind, l.v[i].ns, l.v[i].name);
        ConfigObject plain = CONFIG_OBJECT_INIT;
        SealedObject *so;
        uint8_t *buf;
        size_t len;

        if (!fo)
            continue; /* the node says it is missing */
        /* one answer carries them all: what would outgrow it is left out
         * (its pods wait, saying it is missing) and said */
        len = protobuf_c_message_get_packed_size(&fo->o->base) + crypto_box_SEALBYTES;
        if (total + len * n_box > FLEET_NODE_OBJECTS_MAX) {
            /* said once per generation of the node's assignments, not at
             * every GetAssignments */
            if (n->objects_warned_generation != n->rec.generation)
                fleet_event(f, FLEET_KIND_NODE, n->rec.name, FLEET_WARNING, "ObjectsTooLarge",
                            "%s %s/%s left out of its assignments: its pods' Secrets and "
                            "ConfigMaps would exceed %d MiB",
                            fleet_config_kind_name(fo->o->kind), fo->o->namespace_, fo->o->name,
                            FLEET_NODE_OBJECTS_MAX >> 20);
            left_out = true;
            continue;
        }
        total += len * n_box;
        plain = *fo->o;
        plain.n_sizes = 0;
        plain.sealed_data.len = 0;
        len = protobuf_c_message_get_packed_size(&plain.base);
        buf = berth_xmalloc(len + 1);
        protobuf_c_message_pack(&plain.base, buf);
        so = out[k++] = berth_xcalloc(1, sizeof(*so));
        sealed_object_init(so);
        so->kind = fo->o->kind;
        so->namespace_ = berth_xstrdup(fo->o->namespace_);
        so->name = berth_xstrdup(fo->o->name);
        so->generation = fo->o->generation;
        so->sealed = berth_xcalloc(n_box, sizeof(*so->sealed));
        for (size_t b = 0; b < n_box; b++) {
            ProtobufCBinaryData *d = &so->sealed[so->n_sealed++];

            d->len = crypto_box_SEALBYTES + len;
            d->data = berth_xmalloc(d->len);
            crypto_box_seal(d->data, buf, len, box[b]);
        }
        sodium_memzero(buf, len);
        free(buf);
    }
    if (left_out)
        n->objects_warned_generation = n->rec.generation;
    free(l.v);
    *ret = out;
    *ret_n = k;
    return 0;
}

/* Whether n runs a container naming the object of this kind, namespace
 * and name. */
static bool node_uses(fleet *f, fleet_node *n, ConfigKind kind, const char *ns, const char *name)
{
    for (size_t i = 0; i < n->n_assign; i++) {
        ContainerSpec **v = NULL;
        size_t count = 0;
        bool uses = false;
        names l = { 0 };

        if (fleet_assign_specs(f, n, &n->assign[i], &v, &count, NULL) < 0)
            continue;
        for (size_t k = 0; k < count; k++)
            spec_names(v[k], &l);
        for (size_t k = 0; k < l.n && !uses; k++)
            uses =
                l.v[k].kind == kind && strcmp(l.v[k].ns, ns) == 0 && strcmp(l.v[k].name, name) == 0;
        free(l.v);
        berth_specs_free(v, count);
        if (uses)
            return true;
    }
    return false;
}

int fleet_objects_bump(fleet *f, const fleet_change *changes, size_t n, fleet_bumps *ret,
                       berth_error **err)
{
    bool any = false;

    memset(ret, 0, sizeof(*ret));
    for (size_t c = 0; c < n && !any; c++)
        any = changes[c].action != APPLY_UNCHANGED &&
              (strcmp(changes[c].kind, "Secret") == 0 || strcmp(changes[c].kind, "ConfigMap") == 0);
    if (!any)
        return 0;
    ret->node = berth_xcalloc(f->n_nodes + 1, sizeof(*ret->node));
    ret->old = berth_xcalloc(f->n_nodes + 1, sizeof(*ret->old));
    for (size_t i = 0; i < f->n_nodes; i++) {
        fleet_node *node = f->nodes[i];
        bool uses = false;

        for (size_t c = 0; c < n && !uses; c++) {
            ConfigKind kind;

            if (strcmp(changes[c].kind, "Secret") == 0)
                kind = CONFIG_SECRET;
            else if (strcmp(changes[c].kind, "ConfigMap") == 0)
                kind = CONFIG_MAP;
            else
                continue;
            if (changes[c].action == APPLY_UNCHANGED)
                continue;
            uses = node_uses(f, node, kind, changes[c].ns, changes[c].name);
        }
        if (!uses)
            continue;
        /* a new generation: the node fetches its set, and the objects,
         * again (its containers' specs are the same: none restarts) */
        ret->node[ret->n] = i;
        ret->old[ret->n++] = node->rec.generation;
        node->rec.generation++;
        if (fleet_node_save(f, node, err) < 0)
            return -1;
    }
    return 0;
}

void fleet_objects_bump_undo(fleet *f, fleet_bumps *b)
{
    for (size_t i = 0; i < b->n; i++)
        f->nodes[b->node[i]]->rec.generation = b->old[i];
    free(b->node);
    free(b->old);
    memset(b, 0, sizeof(*b));
}

void fleet_objects_bump_done(fleet *f, fleet_bumps *b)
{
    _cleanup_free_ fleet_wake *wake = berth_xcalloc(b->n + 1, sizeof(*wake));
    size_t n_wake = 0;

    for (size_t i = 0; i < b->n; i++) {
        fleet_node *node = f->nodes[b->node[i]];

        if (fleet_node_registered(node))
            wake[n_wake++] = (fleet_wake){ node->who.id, node->rec.generation };
    }
    if (n_wake && f->fx.wake)
        f->fx.wake(f->fx.data, wake, n_wake);
    free(b->node);
    free(b->old);
    memset(b, 0, sizeof(*b));
}

/* ---- the operator's listing ---- */

int fleet_objects_list(fleet *f, const ListObjectsRequest *in, const char *by, ConfigObject ***ret,
                       size_t *ret_n, berth_error **err)
{
    ConfigObject **v = berth_xcalloc(f->n_objects + 1, sizeof(*v));
    size_t n = 0;

    if (in->kind != CONFIG_SECRET && in->kind != CONFIG_MAP) {
        free(v);
        return berth_error_set(err, EINVAL, "kind: Secret or ConfigMap");
    }
    if (in->reveal && (!*in->name || !*in->namespace_)) {
        free(v);
        return berth_error_set(err, EINVAL,
                               "a Secret's values are shown one Secret at a time: name it, in "
                               "its namespace");
    }
    for (size_t i = 0; i < f->n_objects; i++) {
        const ConfigObject *o = f->objects[i]->o;
        ConfigObject *c;

        if (o->kind != in->kind ||
            (*in->namespace_ && strcmp(o->namespace_, in->namespace_) != 0) ||
            (*in->name && strcmp(o->name, in->name) != 0))
            continue;
        c = BERTH_PB_COPY(ConfigObject, o);
        c->sizes = berth_xcalloc(c->n_data + 1, sizeof(*c->sizes));
        for (size_t k = 0; k < c->n_data; k++) {
            ConfigObject_SizesEntry *e = berth_xcalloc(1, sizeof(*e));

            config_object_sizes_entry_init(e);
            e->key = berth_xstrdup(c->data[k]->key);
            e->value = (uint32_t)c->data[k]->value.len;
            c->sizes[c->n_sizes++] = e;
        }
        /* a Secret's values only when asked; a ConfigMap's when it is
         * named (a listing of them all could outgrow an answer) */
        if ((o->kind == CONFIG_SECRET && !in->reveal) || (o->kind == CONFIG_MAP && !*in->name))
            data_drop(c);
        v[n++] = c;
    }
    if (n == 0 && *in->name) {
        free(v);
        return berth_error_set(err, ENOENT, "%s \"%.60s\" not found",
                               in->kind == CONFIG_SECRET ? "secrets" : "configmaps", in->name);
    }
    if (in->kind == CONFIG_SECRET && in->reveal) {
        char key[FLEET_OBJECT_KEY_BUF];

        fleet_object_key(CONFIG_SECRET, v[0]->namespace_, v[0]->name, key);
        fleet_event(f, "Secret", key + strlen("secret/"), FLEET_NORMAL, "ValuesRead",
                    "the values of Secret %s were read by operator %s", v[0]->name, by);
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

void fleet_objects_list_free(ConfigObject **v, size_t n)
{
    berth_config_objects_free(v, n);
}
