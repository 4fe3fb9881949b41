/* The etcd backend's replication (store-repl.h; the model is in store.h).
 *
 * Keys under the prefix:
 *   t/<table>/<pk>[/<pk>]  a row: JSON {"column": value, ...}, blobs as
 *                          {"b64": "..."}; the key's parts are the primary
 *                          key's columns (text %-escaped, blobs in hex)
 *   meta/schema            the newest schema version a leader wrote with
 *   meta/lastwrite         the last transaction's writer and number
 *   meta/leader            the barrier each new leader writes
 *   election/<lease hex>   a member: {"name": ..., "rpc": ...}, leased */
#define SQLITE_ENABLE_SESSION        1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "store-repl.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

#define TABLES_MAX  24
#define COLUMNS_MAX 24
#define MEMBERS_MAX 16
#define KEY_MAX     1024
/* A lease is given up for lost this long before etcd would expire it. */
#define LEASE_MARGIN_NS (500 * BERTH_NSEC_PER_MSEC)
/* etcd out of reach or without a raft leader: tried again this soon, until
 * the lease's deadline. */
#define RETRY_NS (100 * BERTH_NSEC_PER_MSEC)
/* A barrier that has not come back through the watch this long after the
 * lease (a watch on a member cut off from its cluster): give up the lead
 * rather than hold it without a current copy. */
#define TAKEOVER_SLACK_NS (2 * BERTH_NSEC_PER_SEC)
/* The leader drops etcd's history older than one interval. */
#define COMPACT_INTERVAL_NS (300 * BERTH_NSEC_PER_SEC)

typedef struct table_info {
    char name[64];
    int n_cols;
    char cols[COLUMNS_MAX][64];
    char types[COLUMNS_MAX][16];
    int pk[COLUMNS_MAX]; /* the primary key's columns, in key order */
    int n_pk;
    sqlite3_stmt *select; /* SELECT * ... WHERE pk = ? */
    sqlite3_stmt *insert; /* INSERT OR REPLACE of every column */
    sqlite3_stmt *del;    /* DELETE ... WHERE pk = ? */
} table_info;

typedef struct member {
    char key_hex[24]; /* the lease, as the key ends */
    char name[BERTH_NAME_MAX + 1], rpc[256];
    int64_t create_rev;
} member;

/* The lease's keeper (a thread; under mu). */
typedef struct keeper {
    berth_etcd *e;
    int64_t lease, ttl_s;
    int efd;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop, lost;
    char why[256];
    int64_t last_ok; /* when the last renewal that worked was sent */
} keeper;

struct store_repl {
    sqlite3 *db;
    berth_etcd_config cfg; /* strings owned */
    berth_etcd *etcd;
    char prefix[128];
    size_t prefix_len;
    int schema;
    table_info tables[TABLES_MAX];
    int n_tables;
    sqlite3_session *sess;
    int efd;
    berth_etcd_watch *watch;
    /* every row change at or below this is in the copy: the first
     * range's revision, then each of the leader's own commits (one
     * transaction's changes share a revision: the watch gives them as
     * several events) */
    int64_t skip_rev;
    int64_t applied_rev; /* the newest change in the copy */
    bool loading;        /* the first range: keys in key order, all of one revision */
    int64_t lastwrite_mod;
    char writer[48]; /* this process's writes: random, then a number */
    uint64_t seq;
    member members[MEMBERS_MAX];
    size_t n_members;
    /* campaigning */
    bool campaigning;
    char name[BERTH_NAME_MAX + 1], rpc[256];
    char my_key[160];
    int64_t my_create_rev;
    keeper keep;
    berth_store_role role;
    int64_t barrier_rev;
    int64_t takeover_by; /* the barrier must be back by then */
    bool need_reload;    /* the watch could not be started again */
    int64_t compact_at_ns, compact_rev;
};

static void key_of(const store_repl *r, const char *rest, char *out, size_t size)
{
    size_t n = strlen(r->prefix);

    /* the prefix is at most 125 bytes: every key buffer here has room */
    if (n >= size)
        n = size - 1;
    memcpy(out, r->prefix, n);
    snprintf(out + n, size - n, "%s", rest);
}

/* ---- tables ---- */

static int db_fail(store_repl *r, berth_error **err, const char *what)
{
    return berth_error_set(err, EIO, "etcd store: %s: %s", what, sqlite3_errmsg(r->db));
}

static int load_tables(store_repl *r, berth_error **err)
{
    sqlite3_stmt *s = NULL;

    if (sqlite3_prepare_v2(r->db,
                           "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT "
                           "LIKE 'sqlite_%' ORDER BY name",
                           -1, &s, NULL) != SQLITE_OK)
        return db_fail(r, err, "list tables");
    while (sqlite3_step(s) == SQLITE_ROW && r->n_tables < TABLES_MAX) {
        table_info *t = &r->tables[r->n_tables++];
        sqlite3_stmt *c = NULL;
        char sql[2048], where[512] = "", cols[1024] = "", qs[256] = "";
        int pkpos[COLUMNS_MAX] = { 0 };

        snprintf(t->name, sizeof(t->name), "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(sql, sizeof(sql), "PRAGMA table_info(\"%s\")", t->name);
        if (sqlite3_prepare_v2(r->db, sql, -1, &c, NULL) != SQLITE_OK) {
            sqlite3_finalize(s);
            return db_fail(r, err, "table info");
        }
        while (sqlite3_step(c) == SQLITE_ROW && t->n_cols < COLUMNS_MAX) {
            int i = t->n_cols++, pk = sqlite3_column_int(c, 5);

            snprintf(t->cols[i], sizeof(t->cols[i]), "%s", (const char *)sqlite3_column_text(c, 1));
            snprintf(t->types[i], sizeof(t->types[i]), "%s",
                     sqlite3_column_text(c, 2) ? (const char *)sqlite3_column_text(c, 2) : "");
            if (pk > 0 && pk <= COLUMNS_MAX)
                pkpos[pk - 1] = i + 1;
        }
        sqlite3_finalize(c);
        for (int k = 0; k < COLUMNS_MAX && pkpos[k]; k++)
            t->pk[t->n_pk++] = pkpos[k] - 1;
        if (t->n_pk == 0) {
            sqlite3_finalize(s);
            return berth_error_set(err, EINVAL, "etcd store: table %s has no primary key", t->name);
        }
        for (int k = 0; k < t->n_pk; k++) {
            size_t l = strlen(where);

            snprintf(where + l, sizeof(where) - l, "%s\"%s\" = ?%d", k ? " AND " : "",
                     t->cols[t->pk[k]], k + 1);
        }
        for (int i = 0; i < t->n_cols; i++) {
            size_t l = strlen(cols), q = strlen(qs);

            snprintf(cols + l, sizeof(cols) - l, "%s\"%s\"", i ? ", " : "", t->cols[i]);
            snprintf(qs + q, sizeof(qs) - q, "%s?%d", i ? ", " : "", i + 1);
        }
        snprintf(sql, sizeof(sql), "SELECT %s FROM \"%s\" WHERE %s", cols, t->name, where);
        if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->select, NULL))
            goto bad;
        snprintf(sql, sizeof(sql), "INSERT OR REPLACE INTO \"%s\" (%s) VALUES (%s)", t->name, cols,
                 qs);
        if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->insert, NULL))
            goto bad;
        snprintf(sql, sizeof(sql), "DELETE FROM \"%s\" WHERE %s", t->name, where);
        if (sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->del, NULL))
            goto bad;
    }
    sqlite3_finalize(s);
    return 0;
bad:
    sqlite3_finalize(s);
    return db_fail(r, err, "prepare");
}

static table_info *table_named(store_repl *r, const char *name, size_t len)
{
    for (int i = 0; i < r->n_tables; i++)
        if (strlen(r->tables[i].name) == len && memcmp(r->tables[i].name, name, len) == 0)
            return &r->tables[i];
    return NULL;
}

/* ---- keys and rows ---- */

static bool plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == ':' || c == '@' || c == '=' || c == '+';
}

/* One primary key part onto out (false when it does not fit). */
static bool key_part(sqlite3_value *v, char *out, size_t size)
{
    size_t l = strlen(out);
    static const char hex[] = "0123456789abcdef", HEX[] = "0123456789ABCDEF";

    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER:
        return (size_t)snprintf(out + l, size - l, "%lld", (long long)sqlite3_value_int64(v)) <
               size - l;
    case SQLITE_BLOB: {
        const unsigned char *b = sqlite3_value_blob(v);
        int n = sqlite3_value_bytes(v);

        for (int i = 0; i < n; i++) {
            if (l + 3 > size)
                return false;
            out[l++] = hex[b[i] >> 4];
            out[l++] = hex[b[i] & 15];
        }
        out[l] = '\0';
        return true;
    }
    default: {
        const unsigned char *t = sqlite3_value_text(v);

        for (; t && *t; t++) {
            if (l + 4 > size)
                return false;
            if (plain(*t)) {
                out[l++] = (char)*t;
            } else {
                out[l++] = '%';
                out[l++] = HEX[*t >> 4];
                out[l++] = HEX[*t & 15];
            }
        }
        out[l] = '\0';
        return true;
    }
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Bind part (len bytes of a key) as column col's value to s at i. */
static bool bind_part(sqlite3_stmt *s, int i, const table_info *t, int col, const char *part,
                      size_t len)
{
    _cleanup_free_ unsigned char *buf = berth_xmalloc(len + 1);
    size_t n = 0;

    if (strcasecmp(t->types[col], "INTEGER") == 0) {
        char num[32];

        if (len >= sizeof(num))
            return false;
        memcpy(num, part, len);
        num[len] = '\0';
        return sqlite3_bind_int64(s, i, strtoll(num, NULL, 10)) == SQLITE_OK;
    }
    if (strcasecmp(t->types[col], "BLOB") == 0) {
        if (len % 2)
            return false;
        for (size_t k = 0; k < len; k += 2) {
            int hi = hexval(part[k]), lo = hexval(part[k + 1]);

            if (hi < 0 || lo < 0)
                return false;
            buf[n++] = (unsigned char)(hi << 4 | lo);
        }
        return sqlite3_bind_blob(s, i, buf, (int)n, SQLITE_TRANSIENT) == SQLITE_OK;
    }
    for (size_t k = 0; k < len; k++) {
        if (part[k] == '%' && k + 2 < len + 1 && hexval(part[k + 1]) >= 0 &&
            hexval(part[k + 2]) >= 0) {
            buf[n++] = (unsigned char)(hexval(part[k + 1]) << 4 | hexval(part[k + 2]));
            k += 2;
        } else {
            buf[n++] = (unsigned char)part[k];
        }
    }
    return sqlite3_bind_text(s, i, (const char *)buf, (int)n, SQLITE_TRANSIENT) == SQLITE_OK;
}

static json_t *value_json(sqlite3_stmt *s, int i)
{
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER:
        return json_integer((json_int_t)sqlite3_column_int64(s, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(s, i));
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_column_text(s, i);
        size_t n = (size_t)sqlite3_column_bytes(s, i);
        json_t *j = json_stringn(t, n);
        size_t cap;
        char *b;

        if (j)
            return j;
        /* not UTF-8 (JSON strings are): the bytes, as text */
        cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
        b = berth_xmalloc(cap);
        sodium_bin2base64(b, cap, (const unsigned char *)t, n, sodium_base64_VARIANT_ORIGINAL);
        j = json_pack("{s:s}", "t64", b);
        free(b);
        return j;
    }
    case SQLITE_BLOB: {
        int n = sqlite3_column_bytes(s, i);
        size_t cap = sodium_base64_encoded_len((size_t)n, sodium_base64_VARIANT_ORIGINAL);
        _cleanup_free_ char *b = berth_xmalloc(cap);

        sodium_bin2base64(b, cap, sqlite3_column_blob(s, i), (size_t)n,
                          sodium_base64_VARIANT_ORIGINAL);
        return json_pack("{s:s}", "b64", b);
    }
    default:
        return json_null();
    }
}

static bool bind_json(sqlite3_stmt *s, int i, json_t *v)
{
    if (json_is_integer(v))
        return sqlite3_bind_int64(s, i, (sqlite3_int64)json_integer_value(v)) == SQLITE_OK;
    if (json_is_real(v))
        return sqlite3_bind_double(s, i, json_real_value(v)) == SQLITE_OK;
    if (json_is_string(v))
        return sqlite3_bind_text(s, i, json_string_value(v), (int)json_string_length(v),
                                 SQLITE_TRANSIENT) == SQLITE_OK;
    if (json_is_object(v)) {
        const char *t = json_string_value(json_object_get(v, "t64"));
        const char *b = t ? t : json_string_value(json_object_get(v, "b64"));
        size_t len = b ? strlen(b) : 0, n = 0;
        _cleanup_free_ unsigned char *buf = berth_xmalloc(len * 3 / 4 + 1);

        if (!b || sodium_base642bin(buf, len * 3 / 4 + 1, b, len, NULL, &n, NULL,
                                    sodium_base64_VARIANT_ORIGINAL) != 0)
            return false;
        if (t)
            return sqlite3_bind_text(s, i, (const char *)buf, (int)n, SQLITE_TRANSIENT) ==
                   SQLITE_OK;
        return sqlite3_bind_blob(s, i, buf, (int)n, SQLITE_TRANSIENT) == SQLITE_OK;
    }
    return sqlite3_bind_null(s, i) == SQLITE_OK;
}

/* ---- applying etcd's rows to the copy ---- */

/* key (after the prefix): "t/<table>/<parts>"; value: the row or NULL to
 * delete it. A key or row that does not fit the schema is logged and
 * passed over: one bad row must not stop the fleet. */
static void apply_row(store_repl *r, const uint8_t *key, size_t len, const uint8_t *value,
                      size_t vlen)
{
    const char *k = (const char *)key + 2, *end = (const char *)key + len, *slash;
    table_info *t;
    sqlite3_stmt *s;

    if (!(slash = memchr(k, '/', (size_t)(end - k))) ||
        !(t = table_named(r, k, (size_t)(slash - k)))) {
        berth_warn("etcd store: %.*s: no such table here; passed over", (int)len, key);
        return;
    }
    if (value) {
        json_error_t jerr;
        json_t *row = json_loadb((const char *)value, vlen, JSON_ALLOW_NUL, &jerr);
        bool ok = json_is_object(row);

        s = t->insert;
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        for (int i = 0; ok && i < t->n_cols; i++) {
            json_t *v = json_object_get(row, t->cols[i]);

            /* a column an older writer did not know keeps its default */
            if (!v) {
                sqlite3_stmt *d = NULL;
                char sql[256];

                snprintf(sql, sizeof(sql),
                         "SELECT dflt_value FROM pragma_table_info('%s') WHERE name = '%s'",
                         t->name, t->cols[i]);
                if (sqlite3_prepare_v2(r->db, sql, -1, &d, NULL) == SQLITE_OK &&
                    sqlite3_step(d) == SQLITE_ROW && sqlite3_column_type(d, 0) != SQLITE_NULL) {
                    const char *dv = (const char *)sqlite3_column_text(d, 0);

                    if (dv[0] == '\'')
                        sqlite3_bind_text(s, i + 1, dv + 1, (int)strlen(dv) - 2, SQLITE_TRANSIENT);
                    else
                        sqlite3_bind_int64(s, i + 1, strtoll(dv, NULL, 10));
                }
                sqlite3_finalize(d);
                continue;
            }
            ok = bind_json(s, i + 1, v);
        }
        json_decref(row);
        if (!ok) {
            berth_warn("etcd store: %.*s: not a row of %s; passed over", (int)len, key, t->name);
            return;
        }
    } else {
        const char *p = slash + 1;

        s = t->del;
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        for (int i = 0; i < t->n_pk; i++) {
            const char *q = i + 1 < t->n_pk ? memchr(p, '/', (size_t)(end - p)) : end;

            if (!q || !bind_part(s, i + 1, t, t->pk[i], p, (size_t)(q - p))) {
                berth_warn("etcd store: %.*s: not a key of %s; passed over", (int)len, key,
                           t->name);
                return;
            }
            p = q + 1;
        }
    }
    if (sqlite3_step(s) != SQLITE_DONE)
        berth_warn("etcd store: %.*s: %s", (int)len, key, sqlite3_errmsg(r->db));
    sqlite3_reset(s);
}

static member *member_find(store_repl *r, const char *hex)
{
    for (size_t i = 0; i < r->n_members; i++)
        if (strcmp(r->members[i].key_hex, hex) == 0)
            return &r->members[i];
    return NULL;
}

static int member_cmp(const void *a, const void *b)
{
    const member *x = a, *y = b;

    return x->create_rev < y->create_rev ? -1 : x->create_rev > y->create_rev;
}

/* One key of the prefix, from the first range or the watch. */
static void apply_kv(store_repl *r, const uint8_t *key, size_t len, const uint8_t *value,
                     size_t vlen, bool del, int64_t create_rev, int64_t mod_rev)
{
    const uint8_t *k = key + r->prefix_len;
    size_t klen;

    if (len < r->prefix_len || memcmp(key, r->prefix, r->prefix_len) != 0)
        return;
    klen = len - r->prefix_len;
    if (klen > 2 && memcmp(k, "t/", 2) == 0) {
        /* the leader's own writes are in already */
        if (!r->loading && mod_rev <= r->skip_rev)
            return;
        apply_row(r, k, klen, del ? NULL : value, vlen);
        if (!r->loading && mod_rev > r->applied_rev)
            r->applied_rev = mod_rev;
    } else if (klen == 14 && memcmp(k, "meta/lastwrite", 14) == 0) {
        if (mod_rev > r->lastwrite_mod)
            r->lastwrite_mod = del ? 0 : mod_rev;
    } else if (klen == 11 && memcmp(k, "meta/leader", 11) == 0) {
        if (r->role == BERTH_STORE_TAKEOVER && !del && mod_rev == r->barrier_rev)
            r->role = BERTH_STORE_LEADER;
    } else if (klen > 9 && klen < 9 + 24 && memcmp(k, "election/", 9) == 0) {
        char hex[24];
        member *m;

        snprintf(hex, sizeof(hex), "%.*s", (int)(klen - 9), k + 9);
        m = member_find(r, hex);
        if (del) {
            if (m) {
                *m = r->members[--r->n_members];
                qsort(r->members, r->n_members, sizeof(member), member_cmp);
            }
            return;
        }
        if (!m && r->n_members < MEMBERS_MAX)
            m = &r->members[r->n_members++];
        if (!m)
            return;
        {
            json_t *j = json_loadb((const char *)value, vlen, 0, NULL);

            memset(m, 0, sizeof(*m));
            snprintf(m->key_hex, sizeof(m->key_hex), "%s", hex);
            snprintf(m->name, sizeof(m->name), "%s",
                     json_string_value(json_object_get(j, "name")) ?: "?");
            snprintf(m->rpc, sizeof(m->rpc), "%s",
                     json_string_value(json_object_get(j, "rpc")) ?: "");
            m->create_rev = create_rev;
            json_decref(j);
        }
        qsort(r->members, r->n_members, sizeof(member), member_cmp);
    }
}

typedef struct load_ctx {
    store_repl *r;
    int64_t schema;
} load_ctx;

static int on_load(void *data, const berth_etcd_kv *kv)
{
    load_ctx *c = data;
    store_repl *r = c->r;

    if (kv->key_len == r->prefix_len + 11 &&
        memcmp(kv->key + r->prefix_len, "meta/schema", 11) == 0) {
        char v[16];

        snprintf(v, sizeof(v), "%.*s", (int)(kv->value_len < 15 ? kv->value_len : 15),
                 (const char *)kv->value);
        c->schema = strtoll(v, NULL, 10);
        return 0;
    }
    apply_kv(r, kv->key, kv->key_len, kv->value, kv->value_len, false, kv->create_revision,
             kv->mod_revision);
    return 0;
}

/* Fill the copy from etcd at one revision and watch from the next. */
static int load_all(store_repl *r, berth_error **err)
{
    _cleanup_free_ uint8_t *end = NULL;
    size_t end_len;
    load_ctx c = { .r = r };
    int64_t rev = 0;
    int rc;

    end = berth_etcd_prefix_end(r->prefix, r->prefix_len, &end_len);
    r->applied_rev = 0;
    r->n_members = 0;
    if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(r, err, "begin");
    for (int i = 0; i < r->n_tables; i++) {
        char sql[128];

        snprintf(sql, sizeof(sql), "DELETE FROM \"%s\"", r->tables[i].name);
        sqlite3_exec(r->db, sql, NULL, NULL, NULL);
    }
    r->loading = true;
    rc = berth_etcd_range(r->etcd, r->prefix, r->prefix_len, end, end_len, 0, on_load, &c, &rev,
                          err);
    r->loading = false;
    if (rc == 0 && c.schema > r->schema) {
        berth_error_set(err, EPROTO,
                        "etcd %s: the fleet's schema version %" PRId64
                        " is newer than this controller's (%d): upgrade this controller",
                        r->prefix, c.schema, r->schema);
        rc = -1;
    }
    if (rc != 0) {
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(r, err, "commit");
    r->applied_rev = r->skip_rev = rev;
    berth_etcd_watch_stop(r->watch);
    r->watch = NULL;
    return berth_etcd_watch_start(&r->cfg, r->prefix, r->prefix_len, end, end_len, rev + 1, r->efd,
                                  &r->watch, err);
}

/* ---- open ---- */

static int new_session(store_repl *r, berth_error **err)
{
    if (r->sess)
        sqlite3session_delete(r->sess);
    r->sess = NULL;
    if (sqlite3session_create(r->db, "main", &r->sess) != SQLITE_OK ||
        sqlite3session_attach(r->sess, NULL) != SQLITE_OK)
        return db_fail(r, err, "session");
    return 0;
}

int store_repl_open(sqlite3 *db, const berth_store_etcd_config *cfg, int schema, store_repl **ret,
                    berth_error **err)
{
    store_repl *r = berth_xcalloc(1, sizeof(*r));
    const char *prefix = cfg->prefix ? cfg->prefix : "/berth/";
    uint8_t rnd[8];

    r->db = db;
    r->schema = schema;
    r->efd = -1;
    r->role = BERTH_STORE_FOLLOWER;
    r->cfg = cfg->etcd;
    for (size_t i = 0; i < cfg->etcd.n_endpoints; i++)
        r->cfg.endpoints[i] = berth_xstrdup(cfg->etcd.endpoints[i]);
    r->cfg.ca_file = cfg->etcd.ca_file ? berth_xstrdup(cfg->etcd.ca_file) : NULL;
    r->cfg.cert_file = cfg->etcd.cert_file ? berth_xstrdup(cfg->etcd.cert_file) : NULL;
    r->cfg.key_file = cfg->etcd.key_file ? berth_xstrdup(cfg->etcd.key_file) : NULL;
    if (prefix[0] != '/' || strlen(prefix) + 2 >= sizeof(r->prefix) ||
        prefix[strlen(prefix) - 1] != '/') {
        berth_error_set(err, EINVAL, "etcd prefix %s: must start and end with '/'", prefix);
        goto fail;
    }
    snprintf(r->prefix, sizeof(r->prefix), "%s", prefix);
    r->prefix_len = strlen(r->prefix);
    randombytes_buf(rnd, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(r->writer + 2 * i, 3, "%02x", rnd[i]);
    if ((r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        berth_error_errno(err, "eventfd");
        goto fail;
    }
    if (berth_etcd_new(&r->cfg, &r->etcd, err) < 0 || load_tables(r, err) < 0 ||
        load_all(r, err) < 0 || new_session(r, err) < 0)
        goto fail;
    *ret = r;
    return 0;
fail:
    store_repl_free(r);
    return -1;
}

static void keeper_stop(keeper *k);

void store_repl_free(store_repl *r)
{
    if (!r)
        return;
    /* leaving: the next member takes over now, not a lease later */
    store_repl_resign(r);
    berth_etcd_watch_stop(r->watch);
    if (r->sess)
        sqlite3session_delete(r->sess);
    for (int i = 0; i < r->n_tables; i++) {
        sqlite3_finalize(r->tables[i].select);
        sqlite3_finalize(r->tables[i].insert);
        sqlite3_finalize(r->tables[i].del);
    }
    berth_etcd_free(r->etcd);
    for (size_t i = 0; i < r->cfg.n_endpoints; i++)
        free((char *)r->cfg.endpoints[i]);
    free((char *)r->cfg.ca_file);
    free((char *)r->cfg.cert_file);
    free((char *)r->cfg.key_file);
    if (r->efd >= 0)
        close(r->efd);
    free(r);
}

/* ---- commit ---- */

/* One op in the making: its key and value are owned. */
typedef struct pending {
    berth_etcd_op *ops;
    char **keys;
    char **values;
    size_t n, cap;
} pending;

static void pending_add(pending *p, char *key, char *value)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->ops = berth_xreallocarray(p->ops, p->cap, sizeof(*p->ops));
        p->keys = berth_xreallocarray(p->keys, p->cap, sizeof(char *));
        p->values = berth_xreallocarray(p->values, p->cap, sizeof(char *));
    }
    p->keys[p->n] = key;
    p->values[p->n] = value;
    p->ops[p->n] = (berth_etcd_op){ .del = value == NULL,
                                    .key = key,
                                    .key_len = strlen(key),
                                    .value = value,
                                    .value_len = value ? strlen(value) : 0 };
    p->n++;
}

static void pending_free(pending *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->keys[i]);
        free(p->values[i]);
    }
    free(p->ops);
    free(p->keys);
    free(p->values);
}

/* The row the changeset names, read back whole, as JSON text. */
static char *row_json(table_info *t, sqlite3_changeset_iter *it, bool use_new)
{
    sqlite3_stmt *s = t->select;
    json_t *o;
    char *text = NULL;

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    for (int k = 0; k < t->n_pk; k++) {
        sqlite3_value *v = NULL;

        if (use_new)
            sqlite3changeset_new(it, t->pk[k], &v);
        else
            sqlite3changeset_old(it, t->pk[k], &v);
        sqlite3_bind_value(s, k + 1, v);
    }
    if (sqlite3_step(s) != SQLITE_ROW) {
        sqlite3_reset(s);
        return NULL;
    }
    o = json_object();
    for (int i = 0; i < t->n_cols; i++)
        json_object_set_new(o, t->cols[i], value_json(s, i));
    sqlite3_reset(s);
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

static int changes(store_repl *r, pending *p, berth_error **err)
{
    int n = 0, rc;
    void *buf = NULL;
    sqlite3_changeset_iter *it = NULL;

    if (sqlite3session_changeset(r->sess, &n, &buf) != SQLITE_OK)
        return db_fail(r, err, "changeset");
    if (n == 0)
        return 0;
    if (sqlite3changeset_start(&it, n, buf) != SQLITE_OK) {
        sqlite3_free(buf);
        return db_fail(r, err, "changeset");
    }
    while ((rc = sqlite3changeset_next(it)) == SQLITE_ROW) {
        const char *tab;
        int ncol, op, ind;
        table_info *t;
        char key[KEY_MAX];
        bool ok = true;

        sqlite3changeset_op(it, &tab, &ncol, &op, &ind);
        if (!(t = table_named(r, tab, strlen(tab))))
            continue;
        snprintf(key, sizeof(key), "%st/%s/", r->prefix, t->name);
        for (int k = 0; k < t->n_pk && ok; k++) {
            sqlite3_value *v = NULL;

            if (op == SQLITE_INSERT)
                sqlite3changeset_new(it, t->pk[k], &v);
            else
                sqlite3changeset_old(it, t->pk[k], &v);
            if (k)
                ok = strlen(key) + 2 < sizeof(key) && strcat(key, "/");
            ok = ok && v && key_part(v, key, sizeof(key));
        }
        if (!ok) {
            sqlite3changeset_finalize(it);
            sqlite3_free(buf);
            return berth_error_set(err, ENAMETOOLONG, "etcd store: a key of %s is too long",
                                   t->name);
        }
        if (op == SQLITE_DELETE) {
            pending_add(p, berth_xstrdup(key), NULL);
        } else {
            char *row = row_json(t, it, op == SQLITE_INSERT);

            if (!row) {
                sqlite3changeset_finalize(it);
                sqlite3_free(buf);
                return berth_error_set(err, EIO, "etcd store: %s: changed but not found", key);
            }
            pending_add(p, berth_xstrdup(key), row);
        }
    }
    sqlite3changeset_finalize(it);
    sqlite3_free(buf);
    return 0;
}

/* Read the last write's marker: its value into buf, its mod revision. */
static int lastwrite_read(store_repl *r, char *buf, size_t size, int64_t *ret_mod,
                          berth_error **err);

typedef struct lw_ctx {
    char *buf;
    size_t size;
    int64_t mod;
} lw_ctx;

static int on_lastwrite(void *data, const berth_etcd_kv *kv)
{
    lw_ctx *c = data;

    snprintf(c->buf, c->size, "%.*s", (int)kv->value_len, (const char *)kv->value);
    c->mod = kv->mod_revision;
    return 0;
}

static int lastwrite_read(store_repl *r, char *buf, size_t size, int64_t *ret_mod,
                          berth_error **err)
{
    char key[160];
    lw_ctx c = { .buf = buf, .size = size };

    buf[0] = '\0';
    key_of(r, "meta/lastwrite", key, sizeof(key));
    if (berth_etcd_range(r->etcd, key, strlen(key), NULL, 0, 0, on_lastwrite, &c, NULL, err) < 0)
        return -1;
    *ret_mod = c.mod;
    return 0;
}

/* A blocking store's wait between tries, as SQLite's busy handler sleeps:
 * the loop waits for the store in any case, and this is bounded by the
 * lease. */
static void pause_ns(int64_t ns)
{
    struct timespec ts = { ns / BERTH_NSEC_PER_SEC, ns % BERTH_NSEC_PER_SEC };

    nanosleep(&ts, NULL);
}

/* When the lease may run out at etcd, as this member can tell. */
static int64_t lease_deadline(store_repl *r)
{
    int64_t last;

    pthread_mutex_lock(&r->keep.mu);
    last = r->keep.last_ok;
    pthread_mutex_unlock(&r->keep.mu);
    return last + r->keep.ttl_s * BERTH_NSEC_PER_SEC - LEASE_MARGIN_NS;
}

/* Whether the lease may have run out at etcd: the loop thread's own
 * check, whatever a renewal stuck in a dead connection does. */
static bool lease_lapsed(store_repl *r, char *why, size_t size)
{
    bool lost;
    int64_t last;

    if (!r->campaigning)
        return false;
    pthread_mutex_lock(&r->keep.mu);
    lost = r->keep.lost;
    last = r->keep.last_ok;
    if (lost)
        snprintf(why, size, "%s", r->keep.why);
    pthread_mutex_unlock(&r->keep.mu);
    if (!lost &&
        berth_now_mono_ns() >= last + r->keep.ttl_s * BERTH_NSEC_PER_SEC - LEASE_MARGIN_NS) {
        snprintf(why, size, "the lease was not renewed for %" PRId64 " s", r->keep.ttl_s);
        lost = true;
    }
    return lost;
}

static void lose(store_repl *r, const char *why)
{
    if (r->role != BERTH_STORE_LOST)
        berth_err("etcd store: no longer the leader: %s", why);
    r->role = BERTH_STORE_LOST;
}

int store_repl_commit(store_repl *r, berth_error **err)
{
    pending p = { 0 };
    char key[160], marker[96], seen[96];
    berth_etcd_cmp cmps[2];
    bool ok = false, maybe_sent = false;
    int64_t rev = 0, mod = 0;
    int rc = -1;

    if (changes(r, &p, err) < 0)
        goto out;
    if (p.n == 0) {
        rc = 0;
        goto out;
    }
    if (r->role != BERTH_STORE_LEADER) {
        berth_error_set(err, EPERM,
                        "etcd store: not the leader (%s): this controller writes nothing",
                        berth_store_role_name(r->role));
        goto out;
    }
    key_of(r, "meta/lastwrite", key, sizeof(key));
    snprintf(marker, sizeof(marker), "%s:%" PRIu64, r->writer, ++r->seq);
    pending_add(&p, berth_xstrdup(key), berth_xstrdup(marker));
    cmps[0] = (berth_etcd_cmp){ .key = r->my_key,
                                .key_len = strlen(r->my_key),
                                .target = BERTH_ETCD_CREATE,
                                .value = r->my_create_rev };
    cmps[1] = (berth_etcd_cmp){
        .key = key, .key_len = strlen(key), .target = BERTH_ETCD_MOD, .value = r->lastwrite_mod
    };
    for (;;) {
        berth_error *e = NULL;
        char why[300];
        int txn;

        if (lease_lapsed(r, why, sizeof(why))) {
            lose(r, why);
            berth_error_set(err, EPERM, "etcd store: %s: this controller no longer leads", why);
            goto out;
        }
        /* no write outlasts the lease: past it etcd would refuse it anyway */
        berth_etcd_set_deadline(r->etcd, lease_deadline(r));
        txn = berth_etcd_txn(r->etcd, cmps, 2, p.ops, p.n, &ok, &rev, &e);
        berth_etcd_set_deadline(r->etcd, 0);
        if (txn == 0 && (ok || !maybe_sent))
            break;
        if (txn < 0 && (e->code == EAGAIN || e->code == EHOSTUNREACH || e->code == ETIMEDOUT)) {
            /* out of reach, without a raft leader, or an answer lost:
             * again, while the lease lasts (if the last one reached etcd,
             * the marker's comparison lets at most one of them through) */
            maybe_sent = maybe_sent || e->code == EAGAIN;
            berth_debug("etcd store: %s: again", e->msg);
            berth_error_free(&e);
            pause_ns(RETRY_NS);
            continue;
        }
        if (txn < 0 && !maybe_sent) {
            berth_error_set(err, e->code, "%s%s", e->msg,
                            strstr(e->msg, "too many operations") || strstr(e->msg, "too large")
                                ? " (raise etcd's --max-txn-ops and --max-request-bytes)"
                                : "");
            berth_error_free(&e);
            goto out;
        }
        /* refused (or failed) after an attempt whose outcome is unknown:
         * the marker says whether one of them went through */
        berth_error_free(&e);
        for (;;) {
            if (lease_lapsed(r, why, sizeof(why))) {
                /* unknown, and unknowable in time: nothing may be built on it */
                lose(r, why);
                berth_error_set(err, EPERM, "etcd store: a write's outcome is unknown and %s", why);
                goto out;
            }
            berth_etcd_set_deadline(r->etcd, lease_deadline(r));
            txn = lastwrite_read(r, seen, sizeof(seen), &mod, &e);
            berth_etcd_set_deadline(r->etcd, 0);
            if (txn == 0)
                break;
            berth_error_free(&e);
            pause_ns(RETRY_NS);
        }
        ok = strcmp(seen, marker) == 0;
        rev = mod;
        break;
    }
    if (!ok) {
        lose(r, "a write was refused: another member leads, or this one's lease expired");
        berth_error_set(err, EPERM,
                        "etcd store: the write was fenced: this controller no "
                        "longer leads");
        goto out;
    }
    r->lastwrite_mod = rev;
    r->applied_rev = r->skip_rev = rev;
    rc = 0;
out:
    pending_free(&p);
    new_session(r, NULL);
    return rc;
}

void store_repl_discard(store_repl *r)
{
    new_session(r, NULL);
}

void store_repl_failed(store_repl *r, const char *why)
{
    lose(r, why);
}

/* ---- the lease ---- */

static void *keeper_thread(void *arg)
{
    keeper *k = arg;
    int64_t last_ok = berth_now_mono_ns();
    /* renewed six times a lease, and soon again after a failure: etcd
     * electing a new raft leader (a second or two) must not cost this
     * member its lead */
    int64_t every = k->ttl_s * BERTH_NSEC_PER_SEC / 6, wait = every;

    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec ts;
        int64_t start, ttl = 0, deadline;
        berth_error *err = NULL;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        deadline = (int64_t)ts.tv_sec * BERTH_NSEC_PER_SEC + ts.tv_nsec + wait;
        ts.tv_sec = deadline / BERTH_NSEC_PER_SEC;
        ts.tv_nsec = deadline % BERTH_NSEC_PER_SEC;
        while (!k->stop && pthread_cond_timedwait(&k->cond, &k->mu, &ts) == 0)
            ;
        if (k->stop)
            break;
        pthread_mutex_unlock(&k->mu);
        start = berth_now_mono_ns();
        r = berth_etcd_lease_keepalive(k->e, k->lease, &ttl, &err);
        pthread_mutex_lock(&k->mu);
        wait = every;
        if (r == 0 && ttl > 0) {
            last_ok = k->last_ok = start;
            continue;
        }
        if (r == 0) {
            snprintf(k->why, sizeof(k->why), "the lease expired");
        } else {
            if (berth_now_mono_ns() - last_ok < k->ttl_s * BERTH_NSEC_PER_SEC - LEASE_MARGIN_NS) {
                berth_warn("etcd lease: %s (retrying)", err->msg);
                berth_error_free(&err);
                wait = RETRY_NS;
                continue;
            }
            snprintf(k->why, sizeof(k->why), "the lease could not be renewed: %s", err->msg);
            berth_error_free(&err);
        }
        k->lost = true;
        {
            uint64_t one = 1;

            if (write(k->efd, &one, sizeof(one)) < 0)
                berth_warn("etcd lease: eventfd: %m");
        }
        break;
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* The keeper's calls end when it is told to stop. */
static bool keeper_stopping(void *data)
{
    keeper *k = data;
    bool stop;

    pthread_mutex_lock(&k->mu);
    stop = k->stop;
    pthread_mutex_unlock(&k->mu);
    return stop;
}

static void keeper_stop(keeper *k)
{
    if (k->started) {
        pthread_mutex_lock(&k->mu);
        k->stop = true;
        pthread_cond_signal(&k->cond);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->thread, NULL);
        pthread_mutex_destroy(&k->mu);
        pthread_cond_destroy(&k->cond);
        k->started = false;
    }
    berth_etcd_free(k->e);
    k->e = NULL;
}

int store_repl_campaign(store_repl *r, const char *name, const char *rpc, int64_t ttl_s,
                        berth_error **err)
{
    _cleanup_free_ char *value = NULL;
    char rest[64];
    berth_etcd_cmp cmp;
    berth_etcd_op op;
    bool ok = false;
    int rc;
    pthread_condattr_t ca;

    if (r->campaigning)
        return berth_error_set(err, EALREADY, "already campaigning");
    r->keep.stop = r->keep.lost = false;
    r->keep.why[0] = '\0';
    r->keep.last_ok = berth_now_mono_ns();
    if (berth_etcd_lease_grant(r->etcd, ttl_s, &r->keep.lease, err) < 0)
        return -1;
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->rpc, sizeof(r->rpc), "%s", rpc ? rpc : "");
    snprintf(rest, sizeof(rest), "election/%016" PRIx64, (uint64_t)r->keep.lease);
    key_of(r, rest, r->my_key, sizeof(r->my_key));
    {
        json_t *j = json_pack("{s:s, s:s}", "name", r->name, "rpc", r->rpc);

        value = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    cmp = (berth_etcd_cmp){
        .key = r->my_key, .key_len = strlen(r->my_key), .target = BERTH_ETCD_CREATE, .value = 0
    };
    op = (berth_etcd_op){ .key = r->my_key,
                          .key_len = strlen(r->my_key),
                          .value = value,
                          .value_len = strlen(value),
                          .lease = r->keep.lease };
    if (berth_etcd_txn(r->etcd, &cmp, 1, &op, 1, &ok, &r->my_create_rev, err) < 0)
        goto fail;
    if (!ok) {
        berth_error_set(err, EEXIST, "etcd: %s exists already", r->my_key);
        goto fail;
    }
    r->keep.ttl_s = ttl_s;
    r->keep.efd = r->efd;
    {
        /* a renewal stuck on a dead member must not hold the lease's
         * loss (or the stop) up: a quarter of the lease per attempt */
        berth_etcd_config kc = r->cfg;

        kc.timeout_ms = ttl_s * 1000 / 4;
        if (berth_etcd_new(&kc, &r->keep.e, err) < 0)
            goto fail;
        /* and a stop does not wait for one */
        berth_etcd_set_abort(r->keep.e, keeper_stopping, &r->keep);
    }
    pthread_mutex_init(&r->keep.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->keep.cond, &ca);
    pthread_condattr_destroy(&ca);
    if ((rc = pthread_create(&r->keep.thread, NULL, keeper_thread, &r->keep)) != 0) {
        pthread_mutex_destroy(&r->keep.mu);
        pthread_cond_destroy(&r->keep.cond);
        berth_error_make(err, rc, "etcd lease: thread");
        goto fail;
    }
    r->keep.started = true;
    r->campaigning = true;
    berth_info("etcd: campaigning as %s (lease %016" PRIx64 ", %" PRId64 " s, revision %" PRId64
               ")",
               r->name, (uint64_t)r->keep.lease, ttl_s, r->my_create_rev);
    return 0;
fail:
    /* a key left behind could be the oldest and hold the election up */
    berth_etcd_lease_revoke(r->etcd, r->keep.lease, NULL);
    berth_etcd_free(r->keep.e);
    r->keep.e = NULL;
    return -1;
}

void store_repl_resign(store_repl *r)
{
    berth_error *err = NULL;

    if (!r->campaigning)
        return;
    keeper_stop(&r->keep);
    /* a deposed member's lease may be alive still (a fenced write, a
     * watch behind): revoke it whatever, so the next takes over now; bounded,
     * and not found is no news */
    berth_etcd_set_deadline(r->etcd, berth_now_mono_ns() + r->keep.ttl_s * BERTH_NSEC_PER_SEC / 2);
    if (berth_etcd_lease_revoke(r->etcd, r->keep.lease, &err) < 0 && !strstr(err->msg, "not found"))
        berth_log_error(BERTH_LOG_WARN, err, "etcd: resign");
    berth_error_free(&err);
    berth_etcd_set_deadline(r->etcd, 0);
    r->campaigning = false;
    if (r->role != BERTH_STORE_LOST)
        r->role = BERTH_STORE_FOLLOWER;
}

/* ---- sync ---- */

/* The oldest member is this one: write the barrier and wait for it. */
static int take_over(store_repl *r, berth_error **err)
{
    char key[160], skey[160], value[160], schema[16];
    berth_etcd_cmp cmp = { .key = r->my_key,
                           .key_len = strlen(r->my_key),
                           .target = BERTH_ETCD_CREATE,
                           .value = r->my_create_rev };
    berth_etcd_op ops[2];
    bool ok = false;

    key_of(r, "meta/leader", key, sizeof(key));
    key_of(r, "meta/schema", skey, sizeof(skey));
    snprintf(value, sizeof(value), "%s:%s", r->name, r->writer);
    snprintf(schema, sizeof(schema), "%d", r->schema);
    ops[0] = (berth_etcd_op){
        .key = key, .key_len = strlen(key), .value = value, .value_len = strlen(value)
    };
    ops[1] = (berth_etcd_op){
        .key = skey, .key_len = strlen(skey), .value = schema, .value_len = strlen(schema)
    };
    if (berth_etcd_txn(r->etcd, &cmp, 1, ops, 2, &ok, &r->barrier_rev, err) < 0)
        return -1;
    if (!ok) {
        lose(r, "this member's election key is gone");
        return 0;
    }
    r->role = BERTH_STORE_TAKEOVER;
    r->takeover_by = berth_now_mono_ns() + r->keep.ttl_s * BERTH_NSEC_PER_SEC + TAKEOVER_SLACK_NS;
    berth_info("etcd: elected (%s); reading up to revision %" PRId64, r->name, r->barrier_rev);
    return 0;
}

int store_repl_sync(store_repl *r, berth_error **err)
{
    berth_etcd_event *evs = NULL;
    size_t n = 0;
    int64_t seen = 0;
    bool compacted = false;
    uint64_t v;

    if (read(r->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        berth_warn("etcd store: eventfd: %m");
    {
        char why[300];

        if (lease_lapsed(r, why, sizeof(why))) {
            lose(r, why);
            return 0;
        }
    }
    if (r->watch)
        berth_etcd_watch_take(r->watch, &evs, &n, &seen, &compacted);
    if (n) {
        /* the watch's rows go in unrecorded: they are etcd's already */
        sqlite3session_enable(r->sess, 0);
        sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL);
        for (size_t i = 0; i < n; i++)
            apply_kv(r, evs[i].key, evs[i].key_len, evs[i].value, evs[i].value_len, evs[i].del,
                     evs[i].create_revision, evs[i].mod_revision);
        sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
        sqlite3session_enable(r->sess, 1);
        berth_etcd_events_free(evs, n);
    }
    if (compacted || r->need_reload) {
        if (r->role == BERTH_STORE_LEADER || r->role == BERTH_STORE_TAKEOVER) {
            lose(r, "its watch fell behind etcd's compaction");
            return 0;
        }
        berth_info("etcd: history compacted past this copy (or its watch broke): reading it "
                   "all again");
        sqlite3session_enable(r->sess, 0);
        r->need_reload = load_all(r, err) < 0;
        sqlite3session_enable(r->sess, 1);
        if (r->need_reload)
            return -1;
    }
    if (r->role == BERTH_STORE_TAKEOVER && berth_now_mono_ns() > r->takeover_by) {
        lose(r, "the barrier did not come back through the watch");
        return 0;
    }
    if (r->campaigning && r->role == BERTH_STORE_FOLLOWER && r->n_members &&
        r->members[0].create_rev == r->my_create_rev && take_over(r, err) < 0)
        return -1;
    if (r->role == BERTH_STORE_LEADER) {
        int64_t now = berth_now_mono_ns();

        if (!r->compact_at_ns) {
            r->compact_at_ns = now + COMPACT_INTERVAL_NS;
            r->compact_rev = r->applied_rev;
        } else if (now >= r->compact_at_ns) {
            berth_error *e = NULL;

            if (berth_etcd_compact(r->etcd, r->compact_rev, &e) < 0) {
                berth_log_error(BERTH_LOG_DEBUG, e, "etcd: compact");
                berth_error_free(&e);
            }
            r->compact_at_ns = now + COMPACT_INTERVAL_NS;
            r->compact_rev = r->applied_rev;
        }
    }
    return 0;
}

int store_repl_fd(const store_repl *r)
{
    return r->efd;
}

berth_store_role store_repl_role(const store_repl *r)
{
    return r->role;
}

size_t store_repl_members(const store_repl *r, berth_store_member *ret, size_t cap)
{
    size_t n = r->n_members < cap ? r->n_members : cap;

    for (size_t i = 0; i < n; i++) {
        memset(&ret[i], 0, sizeof(ret[i]));
        snprintf(ret[i].name, sizeof(ret[i].name), "%s", r->members[i].name);
        snprintf(ret[i].rpc, sizeof(ret[i].rpc), "%s", r->members[i].rpc);
        ret[i].create_revision = r->members[i].create_rev;
        ret[i].self = r->campaigning && r->members[i].create_rev == r->my_create_rev;
    }
    return n;
}

size_t store_repl_health(store_repl *r, berth_etcd_status *ret, const char **ret_endpoints)
{
    for (size_t i = 0; i < r->cfg.n_endpoints; i++) {
        berth_etcd_status_of(r->etcd, i, &ret[i]);
        ret_endpoints[i] = r->cfg.endpoints[i];
    }
    return r->cfg.n_endpoints;
}
