/* etcd's v3 API through its JSON gateway (etcd.h). */
#include "etcd.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

/* An answer larger than this is refused (a whole fleet's range pages). */
#define BODY_MAX (256u << 20)
/* A member's health is asked with this bound. */
#define STATUS_TIMEOUT_MS 500
/* Keys per range page. */
#define RANGE_PAGE 4096
/* The watch reconnects after a break, at most this often. */
#define WATCH_RETRY_NS (200 * BERTH_NSEC_PER_MSEC)

struct berth_etcd {
    char *endpoints[BERTH_ETCD_ENDPOINTS_MAX];
    size_t n, cur;
    char *ca, *cert, *key;
    long timeout_ms;
    int64_t deadline_ns;          /* no call outlasts it (0: none) */
    bool (*abort_fn)(void *data); /* asked while a call waits: true ends it */
    void *abort_data;
    CURL *h;
    char curl_err[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int berth_etcd_new(const berth_etcd_config *cfg, berth_etcd **ret, berth_error **err)
{
    berth_etcd *e;

    if (cfg->n_endpoints == 0 || cfg->n_endpoints > BERTH_ETCD_ENDPOINTS_MAX)
        return berth_error_set(err, EINVAL, "etcd: 1 to %d endpoints, not %zu",
                               BERTH_ETCD_ENDPOINTS_MAX, cfg->n_endpoints);
    for (size_t i = 0; i < cfg->n_endpoints; i++)
        if (strncmp(cfg->endpoints[i], "http://", 7) != 0 &&
            strncmp(cfg->endpoints[i], "https://", 8) != 0)
            return berth_error_set(err, EINVAL,
                                   "etcd endpoint %s: not http://HOST:PORT or https://HOST:PORT",
                                   cfg->endpoints[i]);
    pthread_once(&curl_once, curl_init);
    e = berth_xcalloc(1, sizeof(*e));
    for (size_t i = 0; i < cfg->n_endpoints; i++) {
        size_t len = strlen(cfg->endpoints[i]);

        e->endpoints[i] = berth_xstrdup(cfg->endpoints[i]);
        if (len && e->endpoints[i][len - 1] == '/')
            e->endpoints[i][len - 1] = '\0';
    }
    e->n = cfg->n_endpoints;
    e->ca = cfg->ca_file ? berth_xstrdup(cfg->ca_file) : NULL;
    e->cert = cfg->cert_file ? berth_xstrdup(cfg->cert_file) : NULL;
    e->key = cfg->key_file ? berth_xstrdup(cfg->key_file) : NULL;
    e->timeout_ms = cfg->timeout_ms > 0 ? (long)cfg->timeout_ms : 5000;
    if (!(e->h = curl_easy_init())) {
        berth_etcd_free(e);
        return berth_error_set(err, ENOMEM, "etcd: curl_easy_init failed");
    }
    *ret = e;
    return 0;
}

void berth_etcd_free(berth_etcd *e)
{
    if (!e)
        return;
    if (e->h)
        curl_easy_cleanup(e->h);
    for (size_t i = 0; i < e->n; i++)
        free(e->endpoints[i]);
    free(e->ca);
    free(e->cert);
    free(e->key);
    free(e);
}

void berth_etcd_set_deadline(berth_etcd *e, int64_t mono_ns)
{
    e->deadline_ns = mono_ns;
}

void berth_etcd_set_abort(berth_etcd *e, bool (*fn)(void *data), void *data)
{
    e->abort_fn = fn;
    e->abort_data = data;
}

static int on_call_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    berth_etcd *e = ud;

    (void)a, (void)b, (void)c, (void)d;
    return e->abort_fn && e->abort_fn(e->abort_data) ? 1 : 0;
}

/* ---- bytes and numbers as the gateway spells them ---- */

static uint8_t *memdup(const void *p, size_t len)
{
    uint8_t *d = berth_xmalloc(len + 1);

    memcpy(d, p, len);
    d[len] = '\0';
    return d;
}

static json_t *b64(const void *data, size_t len)
{
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *s = berth_xmalloc(cap);
    json_t *j;

    sodium_bin2base64(s, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
    j = json_string(s);
    free(s);
    return j;
}

/* A base64 field into a new buffer (NUL-terminated for convenience). */
static uint8_t *unb64(json_t *j, size_t *ret_len)
{
    const char *s = json_string_value(j);
    size_t slen = s ? strlen(s) : 0, len = 0;
    uint8_t *out = berth_xmalloc(slen * 3 / 4 + 2);

    if (s && sodium_base642bin(out, slen * 3 / 4 + 1, s, slen, NULL, &len, NULL,
                               sodium_base64_VARIANT_ORIGINAL) != 0)
        len = 0;
    out[len] = '\0';
    *ret_len = len;
    return out;
}

static json_t *num(int64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return json_string(buf);
}

/* An int64 the gateway wrote as a string (or a number); absent is 0. */
static int64_t jnum(json_t *o, const char *key)
{
    json_t *j = json_object_get(o, key);

    if (json_is_string(j))
        return strtoll(json_string_value(j), NULL, 10);
    if (json_is_integer(j))
        return (int64_t)json_integer_value(j);
    return 0;
}

/* ---- one exchange ---- */

typedef struct body {
    char *buf;
    size_t len, cap;
    bool overflow;
} body;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    body *b = ud;
    size_t len = size * n;

    if (b->len + len + 1 > BODY_MAX) {
        b->overflow = true;
        return 0;
    }
    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        b->buf = berth_xreallocarray(b->buf, 1, b->cap);
    }
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = '\0';
    return len;
}

static void setup_handle(CURL *h, const char *ca, const char *cert, const char *key, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "berth-controller");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    if (ca)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    if (cert)
        curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
    if (key)
        curl_easy_setopt(h, CURLOPT_SSLKEY, key);
}

/* Whether a failure happened before anything was sent. */
static bool not_sent(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_SSL_CONNECT_ERROR;
}

/* POST req (taken) to path; *ret the answer's JSON. Any failure moves to
 * the next endpoint; idempotent calls are tried at every endpoint, others
 * only while nothing can have reached etcd (EAGAIN: it may have). */
static int post(berth_etcd *e, size_t only, const char *path, json_t *req, bool idempotent,
                json_t **ret, berth_error **err)
{
    _cleanup_free_ char *text = json_dumps(req, JSON_COMPACT);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    size_t tries = only == SIZE_MAX ? e->n : 1;
    int r = -1;

    json_decref(req);
    for (size_t t = 0; t < tries; t++) {
        size_t i = only == SIZE_MAX ? (e->cur + t) % e->n : only;
        char url[512];
        body b = { 0 };
        CURLcode rc;
        long status = 0, timeout = e->timeout_ms;
        json_error_t jerr = { .text = "an empty answer" };
        json_t *ans;

        /* one member's health: quick, whatever the calls' bound */
        if (only != SIZE_MAX && timeout > STATUS_TIMEOUT_MS)
            timeout = STATUS_TIMEOUT_MS;
        if (e->deadline_ns) {
            int64_t left = (e->deadline_ns - berth_now_mono_ns()) / BERTH_NSEC_PER_MSEC;

            if (left <= 0) {
                berth_error_set(err, ETIMEDOUT, "etcd %s: its deadline passed before it was sent",
                                path);
                break;
            }
            if (left < timeout)
                timeout = (long)left;
        }

        snprintf(url, sizeof(url), "%s%s", e->endpoints[i], path);
        curl_easy_reset(e->h);
        e->curl_err[0] = '\0';
        setup_handle(e->h, e->ca, e->cert, e->key, e->curl_err);
        curl_easy_setopt(e->h, CURLOPT_URL, url);
        curl_easy_setopt(e->h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, timeout);
        curl_easy_setopt(e->h, CURLOPT_CONNECTTIMEOUT_MS, timeout / 2 ? timeout / 2 : 1);
        curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e->h, CURLOPT_WRITEDATA, &b);
        if (e->abort_fn) {
            curl_easy_setopt(e->h, CURLOPT_NOPROGRESS, 0L);
            curl_easy_setopt(e->h, CURLOPT_XFERINFOFUNCTION, on_call_progress);
            curl_easy_setopt(e->h, CURLOPT_XFERINFODATA, e);
        }
        rc = curl_easy_perform(e->h);
        if (rc != CURLE_OK) {
            /* a timeout (connecting included) may have sent it */
            bool unsent = not_sent(rc);

            berth_error_set(err, unsent || idempotent ? EHOSTUNREACH : EAGAIN, "etcd %s%s: %s%s",
                            e->endpoints[i], path,
                            b.overflow       ? "answer too large"
                            : e->curl_err[0] ? e->curl_err
                                             : curl_easy_strerror(rc),
                            unsent || idempotent ? "" : " (outcome unknown)");
            free(b.buf);
            if (!unsent && !idempotent) {
                e->cur = (i + 1) % e->n;
                break;
            }
            if (t + 1 < tries)
                berth_error_free(err);
            continue;
        }
        curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
        ans = b.buf ? json_loadb(b.buf, b.len, JSON_ALLOW_NUL, &jerr) : NULL;
        free(b.buf);
        e->cur = i;
        if (status != 200) {
            const char *msg = ans ? json_string_value(json_object_get(ans, "error")) : NULL;

            if (!msg && ans)
                msg = json_string_value(json_object_get(ans, "message"));
            /* 4xx: etcd refused it (too many operations, too large) and
             * did nothing. 5xx: unavailable or timed out, and a proposal
             * that timed out may still commit: for a write, unknown */
            bool unknown = status >= 500 && !idempotent;

            berth_error_set(err,
                            unknown         ? EAGAIN
                            : status >= 500 ? EHOSTUNREACH
                                            : EIO,
                            "etcd %s%s: HTTP %ld: %s%s", e->endpoints[i], path, status,
                            msg ? msg : "no reason given", unknown ? " (outcome unknown)" : "");
            json_decref(ans);
            if (status >= 500 && idempotent && t + 1 < tries) {
                berth_error_free(err);
                continue;
            }
            if (unknown)
                e->cur = (i + 1) % e->n;
            break;
        }
        if (!ans) {
            berth_error_set(err, EIO, "etcd %s%s: an answer that is not JSON: %s", e->endpoints[i],
                            path, jerr.text);
            break;
        }
        *ret = ans;
        r = 0;
        break;
    }
    curl_slist_free_all(hdrs);
    return r;
}

/* ---- kv ---- */

uint8_t *berth_etcd_prefix_end(const void *prefix, size_t len, size_t *ret_len)
{
    uint8_t *end = berth_xmalloc(len + 1);

    memcpy(end, prefix, len);
    while (len > 0) {
        if (end[len - 1] < 0xff) {
            end[len - 1]++;
            break;
        }
        len--;
    }
    if (len == 0) {
        /* every key: etcd's "\0" */
        end[0] = '\0';
        len = 1;
    }
    *ret_len = len;
    return end;
}

static int kv_of(json_t *j, berth_etcd_kv *kv, uint8_t **key, uint8_t **value)
{
    *key = unb64(json_object_get(j, "key"), &kv->key_len);
    *value = unb64(json_object_get(j, "value"), &kv->value_len);
    kv->key = *key;
    kv->value = *value;
    kv->create_revision = jnum(j, "create_revision");
    kv->mod_revision = jnum(j, "mod_revision");
    kv->lease = jnum(j, "lease");
    return 0;
}

int berth_etcd_range(berth_etcd *e, const void *key, size_t key_len, const void *range_end,
                     size_t end_len, int64_t rev, int (*fn)(void *data, const berth_etcd_kv *kv),
                     void *data, int64_t *ret_rev, berth_error **err)
{
    _cleanup_free_ uint8_t *from = berth_xmalloc(key_len + 1);
    size_t from_len = key_len;
    bool more = true;

    memcpy(from, key, key_len);
    while (more) {
        json_t *req = json_object(), *ans = NULL, *kvs;
        size_t i;
        json_t *it;
        int r = 0;

        json_object_set_new(req, "key", b64(from, from_len));
        if (range_end)
            json_object_set_new(req, "range_end", b64(range_end, end_len));
        json_object_set_new(req, "limit", num(RANGE_PAGE));
        if (rev)
            json_object_set_new(req, "revision", num(rev));
        if (post(e, SIZE_MAX, "/v3/kv/range", req, true, &ans, err) < 0)
            return -1;
        /* later pages read at the first one's revision: one snapshot */
        if (!rev)
            rev = jnum(json_object_get(ans, "header"), "revision");
        more = range_end && json_is_true(json_object_get(ans, "more"));
        kvs = json_object_get(ans, "kvs");
        json_array_foreach(kvs, i, it)
        {
            berth_etcd_kv kv;
            uint8_t *k, *v;

            kv_of(it, &kv, &k, &v);
            if (fn)
                r = fn(data, &kv);
            if (i + 1 == json_array_size(kvs)) {
                /* the next page starts right after the last key */
                from = berth_xreallocarray(from, 1, kv.key_len + 1);
                memcpy(from, k, kv.key_len);
                from[kv.key_len] = '\0';
                from_len = kv.key_len + 1;
            }
            free(k);
            free(v);
            if (r)
                break;
        }
        if (json_array_size(kvs) == 0)
            more = false;
        json_decref(ans);
        if (r)
            return r;
    }
    if (ret_rev)
        *ret_rev = rev;
    return 0;
}

int berth_etcd_txn(berth_etcd *e, const berth_etcd_cmp *cmps, size_t n_cmps,
                   const berth_etcd_op *ops, size_t n_ops, bool *ret_ok, int64_t *ret_rev,
                   berth_error **err)
{
    json_t *req = json_object(), *c = json_array(), *s = json_array(), *ans = NULL;

    for (size_t i = 0; i < n_cmps; i++) {
        bool create = cmps[i].target == BERTH_ETCD_CREATE;

        json_array_append_new(
            c, json_pack("{s:o, s:s, s:s, s:o}", "key", b64(cmps[i].key, cmps[i].key_len), "target",
                         create ? "CREATE" : "MOD", "result", "EQUAL",
                         create ? "create_revision" : "mod_revision", num(cmps[i].value)));
    }
    for (size_t i = 0; i < n_ops; i++) {
        json_t *o = json_object();

        json_object_set_new(o, "key", b64(ops[i].key, ops[i].key_len));
        if (ops[i].del) {
            if (ops[i].range_end)
                json_object_set_new(o, "range_end", b64(ops[i].range_end, ops[i].end_len));
            json_array_append_new(s, json_pack("{s:o}", "request_delete_range", o));
        } else {
            json_object_set_new(o, "value", b64(ops[i].value, ops[i].value_len));
            if (ops[i].lease)
                json_object_set_new(o, "lease", num(ops[i].lease));
            json_array_append_new(s, json_pack("{s:o}", "request_put", o));
        }
    }
    json_object_set_new(req, "compare", c);
    json_object_set_new(req, "success", s);
    if (post(e, SIZE_MAX, "/v3/kv/txn", req, false, &ans, err) < 0)
        return -1;
    *ret_ok = json_is_true(json_object_get(ans, "succeeded"));
    if (ret_rev)
        *ret_rev = jnum(json_object_get(ans, "header"), "revision");
    json_decref(ans);
    return 0;
}

/* ---- leases ---- */

int berth_etcd_lease_grant(berth_etcd *e, int64_t ttl_s, int64_t *ret_id, berth_error **err)
{
    json_t *ans = NULL;
    const char *why;

    if (post(e, SIZE_MAX, "/v3/lease/grant", json_pack("{s:o}", "TTL", num(ttl_s)), false, &ans,
             err) < 0)
        return -1;
    why = json_string_value(json_object_get(ans, "error"));
    *ret_id = jnum(ans, "ID");
    json_decref(ans);
    if (why && *why)
        return berth_error_set(err, EIO, "etcd: lease grant: %s", why);
    if (*ret_id == 0)
        return berth_error_set(err, EIO, "etcd: lease grant: no lease id in the answer");
    return 0;
}

int berth_etcd_lease_keepalive(berth_etcd *e, int64_t id, int64_t *ret_ttl, berth_error **err)
{
    json_t *ans = NULL;

    /* renewing twice is renewing: safe at any endpoint */
    if (post(e, SIZE_MAX, "/v3/lease/keepalive", json_pack("{s:o}", "ID", num(id)), true, &ans,
             err) < 0)
        return -1;
    *ret_ttl = jnum(json_object_get(ans, "result"), "TTL");
    json_decref(ans);
    return 0;
}

int berth_etcd_lease_revoke(berth_etcd *e, int64_t id, berth_error **err)
{
    json_t *ans = NULL;

    if (post(e, SIZE_MAX, "/v3/lease/revoke", json_pack("{s:o}", "ID", num(id)), true, &ans, err) <
        0)
        return -1;
    json_decref(ans);
    return 0;
}

int berth_etcd_compact(berth_etcd *e, int64_t rev, berth_error **err)
{
    json_t *ans = NULL;

    if (post(e, SIZE_MAX, "/v3/kv/compaction", json_pack("{s:o}", "revision", num(rev)), true, &ans,
             err) < 0)
        return -1;
    json_decref(ans);
    return 0;
}

void berth_etcd_status_of(berth_etcd *e, size_t i, berth_etcd_status *ret)
{
    json_t *ans = NULL;
    berth_error *err = NULL;
    const char *v;

    memset(ret, 0, sizeof(*ret));
    if (i >= e->n) {
        snprintf(ret->error, sizeof(ret->error), "no endpoint %zu", i);
        return;
    }
    if (post(e, i, "/v3/maintenance/status", json_object(), true, &ans, &err) < 0) {
        snprintf(ret->error, sizeof(ret->error), "%s", err->msg);
        berth_error_free(&err);
        return;
    }
    v = json_string_value(json_object_get(ans, "version"));
    snprintf(ret->version, sizeof(ret->version), "%s", v ? v : "");
    ret->member_id = (uint64_t)strtoull(
        json_string_value(json_object_get(json_object_get(ans, "header"), "member_id")) ?: "0",
        NULL, 10);
    ret->leader_id =
        (uint64_t)strtoull(json_string_value(json_object_get(ans, "leader")) ?: "0", NULL, 10);
    ret->db_size = jnum(ans, "dbSize");
    ret->revision = jnum(json_object_get(ans, "header"), "revision");
    ret->raft_term = jnum(ans, "raftTerm");
    json_decref(ans);
}

/* ---- the watch ---- */

struct berth_etcd_watch {
    berth_etcd *e;
    uint8_t *key, *end;
    size_t key_len, end_len;
    int efd; /* the caller's */
    pthread_t thread;
    bool started;
    /* the stream's bytes not parsed yet (thread only) */
    body in;
    pthread_mutex_t mu;
    /* under mu */
    bool stop, compacted;
    int64_t next_rev, seen_rev;
    berth_etcd_event *q;
    size_t n_q, cap_q;
};

static void watch_signal(berth_etcd_watch *w)
{
    uint64_t one = 1;

    if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        berth_warn("etcd watch: eventfd: %m");
}

/* One message of the stream (thread, under mu). */
static void watch_message(berth_etcd_watch *w, json_t *msg)
{
    json_t *res = json_object_get(msg, "result"), *evs, *it;
    size_t i;
    int64_t rev;

    if (!res)
        return;
    if (jnum(res, "compact_revision") > 0) {
        w->compacted = true;
        return;
    }
    evs = json_object_get(res, "events");
    rev = jnum(json_object_get(res, "header"), "revision");
    json_array_foreach(evs, i, it)
    {
        json_t *kv = json_object_get(it, "kv");
        berth_etcd_event *ev;

        if (w->n_q == w->cap_q) {
            w->cap_q = w->cap_q ? w->cap_q * 2 : 64;
            w->q = berth_xreallocarray(w->q, 1, w->cap_q * sizeof(*w->q));
        }
        ev = &w->q[w->n_q++];
        memset(ev, 0, sizeof(*ev));
        ev->del = json_is_string(json_object_get(it, "type")) &&
                  strcmp(json_string_value(json_object_get(it, "type")), "DELETE") == 0;
        ev->key = unb64(json_object_get(kv, "key"), &ev->key_len);
        ev->value = unb64(json_object_get(kv, "value"), &ev->value_len);
        ev->create_revision = jnum(kv, "create_revision");
        ev->mod_revision = jnum(kv, "mod_revision");
        ev->lease = jnum(kv, "lease");
        if (ev->mod_revision >= w->next_rev)
            w->next_rev = ev->mod_revision + 1;
    }
    if (json_array_size(evs) && rev > w->seen_rev)
        w->seen_rev = rev;
}

static size_t on_watch_bytes(char *data, size_t size, size_t n, void *ud)
{
    berth_etcd_watch *w = ud;
    size_t len = size * n, start = 0;
    bool any = false;

    on_body(data, size, n, &w->in);
    if (w->in.overflow) {
        /* a message this large again and again: the loop reads it all
         * afresh instead */
        pthread_mutex_lock(&w->mu);
        w->compacted = true;
        pthread_mutex_unlock(&w->mu);
        watch_signal(w);
        return 0;
    }
    pthread_mutex_lock(&w->mu);
    /* the gateway ends each message with a newline */
    for (size_t i = 0; i < w->in.len; i++) {
        json_t *msg;

        if (w->in.buf[i] != '\n')
            continue;
        msg = json_loadb(w->in.buf + start, i - start, 0, NULL);
        if (msg) {
            watch_message(w, msg);
            json_decref(msg);
            any = true;
        }
        start = i + 1;
    }
    memmove(w->in.buf, w->in.buf + start, w->in.len - start);
    w->in.len -= start;
    if (any)
        watch_signal(w);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        return 0;
    }
    pthread_mutex_unlock(&w->mu);
    return len;
}

static int on_watch_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    berth_etcd_watch *w = ud;
    bool stop;

    (void)a, (void)b, (void)c, (void)d;
    pthread_mutex_lock(&w->mu);
    stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop ? 1 : 0;
}

static void *watch_thread(void *arg)
{
    berth_etcd_watch *w = arg;
    berth_etcd *e = w->e;

    for (;;) {
        json_t *cr, *req;
        _cleanup_free_ char *text = NULL;
        struct curl_slist *hdrs;
        char url[512];
        CURLcode rc;
        int64_t from;
        bool stop;

        pthread_mutex_lock(&w->mu);
        stop = w->stop || w->compacted;
        from = w->next_rev;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
        cr = json_object();
        json_object_set_new(cr, "key", b64(w->key, w->key_len));
        json_object_set_new(cr, "range_end", b64(w->end, w->end_len));
        json_object_set_new(cr, "start_revision", num(from));
        req = json_pack("{s:o}", "create_request", cr);
        text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        snprintf(url, sizeof(url), "%s/v3/watch", e->endpoints[e->cur]);
        hdrs = curl_slist_append(NULL, "Content-Type: application/json");
        /* etcd's "require leader": a member cut off from its cluster ends
         * the stream instead of keeping it open and silent */
        hdrs = curl_slist_append(hdrs, "Grpc-Metadata-Hasleader: true");
        curl_easy_reset(e->h);
        setup_handle(e->h, e->ca, e->cert, e->key, e->curl_err);
        curl_easy_setopt(e->h, CURLOPT_URL, url);
        curl_easy_setopt(e->h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(e->h, CURLOPT_CONNECTTIMEOUT_MS, e->timeout_ms);
        /* a silent stream (a dead member) is noticed by TCP keepalive */
        curl_easy_setopt(e->h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(e->h, CURLOPT_TCP_KEEPIDLE, 2L);
        curl_easy_setopt(e->h, CURLOPT_TCP_KEEPINTVL, 1L);
        curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, on_watch_bytes);
        curl_easy_setopt(e->h, CURLOPT_WRITEDATA, w);
        curl_easy_setopt(e->h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e->h, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
        curl_easy_setopt(e->h, CURLOPT_XFERINFODATA, w);
        w->in.len = 0;
        w->in.overflow = false;
        rc = curl_easy_perform(e->h);
        curl_slist_free_all(hdrs);
        pthread_mutex_lock(&w->mu);
        stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
        berth_debug("etcd watch at %s ended (%s): reopening", e->endpoints[e->cur],
                    e->curl_err[0] ? e->curl_err : curl_easy_strerror(rc));
        e->cur = (e->cur + 1) % e->n;
        {
            struct timespec ts = { 0, WATCH_RETRY_NS };

            nanosleep(&ts, NULL);
        }
    }
    /* a compacted watch tells the loop, which starts over */
    watch_signal(w);
    return NULL;
}

int berth_etcd_watch_start(const berth_etcd_config *cfg, const void *key, size_t key_len,
                           const void *range_end, size_t end_len, int64_t start_rev, int notify_fd,
                           berth_etcd_watch **ret, berth_error **err)
{
    berth_etcd_watch *w = berth_xcalloc(1, sizeof(*w));
    int r;

    w->efd = -1;
    pthread_mutex_init(&w->mu, NULL);
    if (berth_etcd_new(cfg, &w->e, err) < 0)
        goto fail;
    w->key = memdup(key, key_len);
    w->key_len = key_len;
    w->end = memdup(range_end, end_len);
    w->end_len = end_len;
    w->next_rev = start_rev;
    w->seen_rev = start_rev - 1;
    w->efd = notify_fd;
    if ((r = pthread_create(&w->thread, NULL, watch_thread, w)) != 0) {
        berth_error_make(err, r, "etcd watch: thread");
        goto fail;
    }
    w->started = true;
    *ret = w;
    return 0;
fail:
    berth_etcd_watch_stop(w);
    return -1;
}

void berth_etcd_watch_take(berth_etcd_watch *w, berth_etcd_event **ret, size_t *ret_n,
                           int64_t *ret_seen_rev, bool *ret_compacted)
{
    pthread_mutex_lock(&w->mu);
    *ret = w->q;
    *ret_n = w->n_q;
    *ret_seen_rev = w->seen_rev;
    *ret_compacted = w->compacted;
    w->q = NULL;
    w->n_q = w->cap_q = 0;
    pthread_mutex_unlock(&w->mu);
}

void berth_etcd_events_free(berth_etcd_event *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

void berth_etcd_watch_stop(berth_etcd_watch *w)
{
    if (!w)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    berth_etcd_events_free(w->q, w->n_q);
    berth_etcd_free(w->e);
    free(w->in.buf);
    free(w->key);
    free(w->end);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
