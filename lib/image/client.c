/* The distribution API client on libcurl: endpoints, retries, auth. */
#include "image/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "image/auth.h"
#include "image/dl.h"
#include "image/oci.h"

#define ERROR_BODY_MAX (64 << 10)
#define HEADER_MAX     4096
#define REDIRECTS_MAX  5
#define PROGRESS_EVERY (100 * BERTH_NSEC_PER_MSEC)
#define SYSTEM_CA_PATH "/etc/ssl/certs"

typedef struct endpoint_state {
    berth_registry_endpoint ep;
    CURL *curl;
    bool http;         /* plain HTTP */
    bool scheme_known; /* an answer came: no more falling back */
    char *bearer;      /* "Authorization: Bearer ..." */
    bool basic;        /* send username and password */
} endpoint_state;

struct berth_registry_client {
    char *path;
    endpoint_state eps[BERTH_REGISTRY_ENDPOINTS_MAX];
    size_t n_eps, current;
    berth_registry_opts o;
    char curl_err[CURL_ERROR_SIZE];
};

/* One HTTP exchange's answer, and where its body goes. */
typedef struct response {
    long status;
    char *type, *www_auth;
    int64_t range_start; /* Content-Range's first byte; -1 when absent */
    char *ebuf;          /* an error status's body, capped */
    size_t elen;
    /* a manifest or token: to memory, at most max bytes */
    char *buf;
    size_t len, max;
    bool overflow;
    /* a blob: to fd */
    bool to_fd, started, bad_range, restarted;
    int fd, werrno;
    int64_t *have, size;
    berth_sha256 *hash;
    berth_registry_bytes_fn on_bytes;
    void *data;
    int64_t reported_ns;
} response;

void berth_registry_client_free(berth_registry_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_eps; i++) {
        if (c->eps[i].curl)
            curl_easy_cleanup(c->eps[i].curl);
        if (c->eps[i].bearer)
            explicit_bzero(c->eps[i].bearer, strlen(c->eps[i].bearer));
        free(c->eps[i].bearer);
    }
    free(c->path);
    free(c);
}

int berth_registry_client_new(const berth_image_ref *ref, const berth_registry_opts *opts,
                              berth_registry_client **ret, berth_error **err)
{
    berth_registry_client *c;
    berth_registry_endpoint eps[BERTH_REGISTRY_ENDPOINTS_MAX];

    if (image_dl_curl(err) < 0)
        return berth_error_prefix(err, "registry client");
    c = berth_xcalloc(1, sizeof(*c));
    c->o = opts ? *opts : (berth_registry_opts){ 0 };
    if (c->o.attempts <= 0)
        c->o.attempts = 6;
    if (c->o.backoff_ns <= 0)
        c->o.backoff_ns = 250 * BERTH_NSEC_PER_MSEC;
    if (c->o.backoff_max_ns <= 0)
        c->o.backoff_max_ns = 8 * BERTH_NSEC_PER_SEC;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 10000;
    if (c->o.stall_timeout_s <= 0)
        c->o.stall_timeout_s = 30;
    c->path = berth_xstrdup(ref->path);
    c->n_eps = berth_registries_endpoints(c->o.registries, ref->domain, eps);
    for (size_t i = 0; i < c->n_eps; i++) {
        endpoint_state *es = &c->eps[i];

        es->ep = eps[i];
        es->curl = curl_easy_init();
        if (!es->curl)
            berth_oom();
        es->http = es->ep.http_only;
        es->scheme_known = es->ep.http_only;
        if (es->ep.token)
            es->bearer = berth_xasprintf("Authorization: Bearer %s", es->ep.token);
    }
    *ret = c;
    return 0;
}

const char *berth_registry_client_endpoint(const berth_registry_client *c)
{
    return c->eps[c->current].ep.name;
}

/* ---- one exchange ---- */

static void header_value(char **field, const char *v, size_t n)
{
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    free(*field);
    *field = berth_xstrndup(v, n > HEADER_MAX ? HEADER_MAX : n);
}

static size_t on_header(char *b, size_t size, size_t n, void *data)
{
    response *r = data;
    size_t len = size * n;
    const char *colon;

    if (len > 5 && strncmp(b, "HTTP/", 5) == 0) {
        /* a new answer (after a redirect, or a 100): forget the last one's */
        const char *sp = memchr(b, ' ', len);

        r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        free(r->type);
        free(r->www_auth);
        r->type = r->www_auth = NULL;
        r->range_start = -1;
        r->elen = 0;
        return len;
    }
    colon = memchr(b, ':', len);
    if (!colon)
        return len;
#define IS(h) ((size_t)(colon - b) == strlen(h) && strncasecmp(b, h, strlen(h)) == 0)
    if (IS("content-type")) {
        header_value(&r->type, colon + 1, len - (size_t)(colon + 1 - b));
    } else if (IS("www-authenticate")) {
        header_value(&r->www_auth, colon + 1, len - (size_t)(colon + 1 - b));
    } else if (IS("content-range")) {
        char *v = NULL;
        long long start;

        header_value(&v, colon + 1, len - (size_t)(colon + 1 - b));
        if (v && sscanf(v, "bytes %lld-", &start) == 1)
            r->range_start = start;
        free(v);
    }
#undef IS
    return len;
}

static void report(response *r, bool force)
{
    int64_t now;

    if (!r->on_bytes)
        return;
    now = berth_now_mono_ns();
    if (!force && now - r->reported_ns < PROGRESS_EVERY)
        return;
    r->reported_ns = now;
    r->on_bytes(*r->have, r->data);
}

static size_t on_body(char *b, size_t size, size_t n, void *data)
{
    response *r = data;
    size_t len = size * n;

    if (r->status < 200 || r->status >= 300) {
        size_t take = len < ERROR_BODY_MAX - r->elen ? len : ERROR_BODY_MAX - r->elen;

        if (!r->ebuf)
            r->ebuf = berth_xmalloc(ERROR_BODY_MAX + 1);
        memcpy(r->ebuf + r->elen, b, take);
        r->elen += take;
        r->ebuf[r->elen] = '\0';
        return len;
    }
    if (!r->to_fd) {
        if (len > r->max - r->len) {
            r->overflow = true;
            return 0;
        }
        r->buf = berth_xreallocarray(r->buf, r->len + len + 1, 1);
        memcpy(r->buf + r->len, b, len);
        r->len += len;
        r->buf[r->len] = '\0';
        return len;
    }
    if (!r->started) {
        r->started = true;
        if (r->status == 206 && r->range_start != *r->have) {
            r->bad_range = true;
            return 0;
        }
        if (r->status != 206 && *r->have > 0) {
            /* the server ignored our Range: start over */
            if (ftruncate(r->fd, 0) < 0) {
                r->werrno = errno;
                return 0;
            }
            *r->have = 0;
            berth_sha256_init(r->hash);
        }
    }
    if ((int64_t)len > r->size - *r->have) {
        r->overflow = true;
        return 0;
    }
    for (size_t done = 0; done < len;) {
        ssize_t w = pwrite(r->fd, b + done, len - done, (off_t)(*r->have + (int64_t)done));

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            r->werrno = errno;
            return 0;
        }
        done += (size_t)w;
    }
    berth_sha256_update(r->hash, b, len);
    *r->have += (int64_t)len;
    report(r, false);
    return len;
}

static void response_reset(response *r)
{
    r->status = 0;
    free(r->type);
    free(r->www_auth);
    r->type = r->www_auth = NULL;
    r->range_start = -1;
    r->elen = 0;
    r->len = 0;
    r->overflow = r->started = r->bad_range = false;
    r->werrno = 0;
}

static void response_clear(response *r)
{
    response_reset(r);
    free(r->ebuf);
    free(r->buf);
    r->ebuf = r->buf = NULL;
}

static void set_tls(CURL *h, const berth_registry_endpoint *ep)
{
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, ep->tls_verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, ep->tls_verify ? 2L : 0L);
    if (ep->ca_file) {
        /* the registry's CA beside the system's */
        curl_easy_setopt(h, CURLOPT_CAINFO, ep->ca_file);
        curl_easy_setopt(h, CURLOPT_CAPATH, SYSTEM_CA_PATH);
    }
}

static void set_common(berth_registry_client *c, CURL *h, response *r)
{
    c->curl_err[0] = '\0';
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "berth/0.1");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)REDIRECTS_MAX);
    curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)c->o.stall_timeout_s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
}

static CURLcode exchange(berth_registry_client *c, endpoint_state *es, const char *url,
                         const char *accept, response *r)
{
    CURL *h = es->curl;
    struct curl_slist *hdrs = NULL;
    char range[48], acc[512];
    CURLcode cc;

    set_common(c, h, r);
    set_tls(h, &es->ep);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (accept) {
        snprintf(acc, sizeof(acc), "Accept: %s", accept);
        hdrs = curl_slist_append(hdrs, acc);
    }
    if (es->bearer)
        hdrs = curl_slist_append(hdrs, es->bearer);
    if ((accept || es->bearer) && !hdrs)
        berth_oom();
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (es->basic) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, es->ep.username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, es->ep.password);
    } else {
        curl_easy_setopt(h, CURLOPT_USERNAME, NULL);
        curl_easy_setopt(h, CURLOPT_PASSWORD, NULL);
    }
    if (r->to_fd && *r->have > 0) {
        snprintf(range, sizeof(range), "%lld-", (long long)*r->have);
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    } else {
        curl_easy_setopt(h, CURLOPT_RANGE, NULL);
    }
    cc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    return cc;
}

static void pause_for(int64_t ns)
{
    struct timespec ts = { .tv_sec = ns / BERTH_NSEC_PER_SEC, .tv_nsec = ns % BERTH_NSEC_PER_SEC };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static bool transient_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_AGAIN:
        return true;
    default:
        return false;
    }
}

static bool transient_status(long st)
{
    return st == 408 || st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

static int curl_error(berth_registry_client *c, endpoint_state *es, CURLcode cc, berth_error **err)
{
    const char *why = c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc);
    int code = EIO;

    if (cc == CURLE_COULDNT_CONNECT)
        code = ECONNREFUSED;
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        code = ETIMEDOUT;
    else if (cc == CURLE_PEER_FAILED_VERIFICATION)
        return berth_error_set(err, EACCES,
                               "%s: TLS: the registry's certificate is not trusted "
                               "(a ca_file in registries.yaml?): %s",
                               es->ep.name, why);
    return berth_error_set(err, code, "%s: %s", es->ep.name, why);
}

static int http_error(endpoint_state *es, const char *kind, response *r, berth_error **err)
{
    _cleanup_free_ char *text = berth_registry_error_text(r->ebuf, r->elen);
    const char *sep = text ? ": " : "";

    if (r->status == 401)
        return berth_error_set(err, EACCES, "%s: 401 unauthorized%s%s", es->ep.name, sep,
                               text ? text : "");
    if (r->status == 403)
        return berth_error_set(err, EACCES, "%s: 403 denied%s%s", es->ep.name, sep,
                               text ? text : "");
    if (r->status == 404) {
        if (text)
            return berth_error_set(err, ENOENT, "%s: %s", es->ep.name, text);
        return berth_error_set(err, ENOENT, "%s: %s unknown (404)", es->ep.name, kind);
    }
    if (r->status == 429)
        return berth_error_set(err, EAGAIN, "%s: 429 too many requests%s%s", es->ep.name, sep,
                               text ? text : "");
    return berth_error_set(err, EIO, "%s: HTTP %ld%s%s", es->ep.name, r->status, sep,
                           text ? text : "");
}

/* ---- auth ---- */

static int fetch_token(berth_registry_client *c, endpoint_state *es,
                       const berth_registry_challenge *ch, berth_error **err)
{
    CURL *h = curl_easy_init();
    response r = { .max = BERTH_TOKEN_BODY_MAX, .range_start = -1 };
    _cleanup_free_ char *url = NULL, *scope = NULL;
    char *svc = NULL, *esc_scope = NULL, *token = NULL;
    bool https = strncmp(ch->realm, "https://", 8) == 0;
    CURLcode cc;
    int ret = -1;

    if (!h)
        berth_oom();
    if (!https && strncmp(ch->realm, "http://", 7) != 0) {
        berth_error_set(err, EACCES, "%s: token realm '%.200s' is not an http(s) URL", es->ep.name,
                        ch->realm);
        goto out;
    }
    if (!https && !es->http) {
        berth_error_set(err, EACCES,
                        "%s: token realm %.200s is plain HTTP for a registry reached over TLS",
                        es->ep.name, ch->realm);
        goto out;
    }
    scope = berth_xasprintf("repository:%s:pull", c->path);
    esc_scope = curl_easy_escape(h, scope, 0);
    svc = ch->service ? curl_easy_escape(h, ch->service, 0) : NULL;
    if (!esc_scope || (ch->service && !svc))
        berth_oom();
    url = berth_xasprintf("%s%sscope=%s%s%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?",
                          esc_scope, svc ? "&service=" : "", svc ? svc : "");
    set_common(c, h, &r);
    set_tls(h, &es->ep);
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (es->ep.username) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, es->ep.username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, es->ep.password);
    }
    for (int attempt = 1;; attempt++) {
        int64_t delay = c->o.backoff_ns << (attempt - 1);

        response_reset(&r);
        cc = curl_easy_perform(h);
        if (cc == CURLE_OK && !transient_status(r.status))
            break;
        if (attempt >= c->o.attempts || (cc != CURLE_OK && !transient_curl(cc))) {
            if (cc != CURLE_OK) {
                berth_error_set(err, EIO, "%s: token from %.200s: %s", es->ep.name, ch->realm,
                                c->curl_err[0] ? c->curl_err : curl_easy_strerror(cc));
                goto out;
            }
            break;
        }
        pause_for(delay < c->o.backoff_max_ns ? delay : c->o.backoff_max_ns);
    }
    if (r.overflow) {
        berth_error_set(err, EMSGSIZE, "%s: token from %.200s: an answer over %d bytes",
                        es->ep.name, ch->realm, BERTH_TOKEN_BODY_MAX);
        goto out;
    }
    if (r.status == 401 || r.status == 403) {
        _cleanup_free_ char *text = berth_registry_error_text(r.ebuf, r.elen);

        berth_error_set(err, EACCES, "%s: %ld unauthorized: the token server %.200s refused %s%s%s",
                        es->ep.name, r.status, ch->realm,
                        es->ep.username ? "the credentials" : "an anonymous pull", text ? ": " : "",
                        text ? text : "");
        goto out;
    }
    if (r.status != 200) {
        berth_error_set(err, EIO, "%s: token from %.200s: HTTP %ld", es->ep.name, ch->realm,
                        r.status);
        goto out;
    }
    if (berth_registry_token_parse(r.buf, r.len, &token, err) < 0) {
        berth_error_prefix(err, "%s: token from %.200s", es->ep.name, ch->realm);
        goto out;
    }
    if (es->bearer)
        explicit_bzero(es->bearer, strlen(es->bearer));
    free(es->bearer);
    es->bearer = berth_xasprintf("Authorization: Bearer %s", token);
    explicit_bzero(token, strlen(token));
    ret = 0;
out:
    free(token);
    curl_free(svc);
    curl_free(esc_scope);
    if (r.buf)
        explicit_bzero(r.buf, r.len);
    response_clear(&r);
    curl_easy_cleanup(h);
    return ret;
}

/* A 401's challenge answered: a token, or Basic credentials. */
static int authenticate(berth_registry_client *c, endpoint_state *es, response *r,
                        berth_error **err)
{
    berth_registry_challenge ch;
    int ret;

    if (es->ep.token && !r->www_auth)
        return http_error(es, "", r, err);
    if (!r->www_auth || berth_registry_challenge_parse(r->www_auth, &ch, NULL) < 0)
        return http_error(es, "", r, err);
    if (ch.scheme == BERTH_AUTH_BASIC) {
        berth_registry_challenge_clear(&ch);
        if (es->basic) /* the credentials were refused */
            return http_error(es, "", r, err);
        if (!es->ep.username)
            return berth_error_set(err, EACCES,
                                   "%s: 401 unauthorized: the registry asks for a username and "
                                   "password; registries.yaml has none for it",
                                   es->ep.name);
        es->basic = true;
        return 0;
    }
    ret = fetch_token(c, es, &ch, err);
    berth_registry_challenge_clear(&ch);
    return ret;
}

/* ---- requests ---- */

/* GET /v2/PATH/KIND/REF from es until a 2xx answer (retrying what may
 * pass, answering a challenge once): 0, or -1 with the error. */
static int request(berth_registry_client *c, endpoint_state *es, const char *kind,
                   const char *reference, const char *accept, response *r, berth_error **err)
{
    int64_t delay = c->o.backoff_ns;
    bool challenged = false;
    int attempt = 1;

    for (;;) {
        _cleanup_free_ char *url =
            berth_xasprintf("%s://%s/v2/%s/%ss/%s", es->http ? "http" : "https", es->ep.host,
                            c->path, kind, reference);
        CURLcode cc;

        response_reset(r);
        cc = exchange(c, es, url, accept, r);
        if (cc == CURLE_OK) {
            es->scheme_known = true;
            if (r->status >= 200 && r->status < 300)
                return 0;
            if (r->status == 401 && !challenged) {
                challenged = true;
                if (authenticate(c, es, r, err) < 0)
                    return -1;
                continue;
            }
            if (r->status == 416 && r->to_fd && *r->have > 0 && !r->restarted) {
                /* what we hold is not a prefix the server can continue */
                r->restarted = true;
                if (ftruncate(r->fd, 0) < 0)
                    return berth_error_errno(err, "truncate a partial download");
                *r->have = 0;
                berth_sha256_init(r->hash);
                continue;
            }
            if (!transient_status(r->status) || attempt >= c->o.attempts)
                return http_error(es, kind, r, err);
        } else if (cc == CURLE_SSL_CONNECT_ERROR && es->ep.http_fallback && !es->scheme_known) {
            /* an insecure or loopback registry that does not speak TLS */
            es->http = es->scheme_known = true;
            continue;
        } else if (cc == CURLE_WRITE_ERROR && r->overflow) {
            return berth_error_set(err, EMSGSIZE, "%s: %s %s: more bytes than %s", es->ep.name,
                                   kind, reference,
                                   r->to_fd ? "its descriptor's size" : "a manifest may have");
        } else if (cc == CURLE_WRITE_ERROR && r->werrno) {
            return berth_error_set(err, r->werrno, "%s %s: write: %s", kind, reference,
                                   strerror(r->werrno));
        } else if (cc == CURLE_WRITE_ERROR && r->bad_range) {
            return berth_error_set(err, EIO, "%s: %s %s: the server resumed at the wrong offset",
                                   es->ep.name, kind, reference);
        } else if (!transient_curl(cc) || attempt >= c->o.attempts) {
            return curl_error(c, es, cc, err);
        }
        attempt++;
        pause_for(delay);
        delay = delay * 2 < c->o.backoff_max_ns ? delay * 2 : c->o.backoff_max_ns;
    }
}

/* Endpoints in the order to try them: the last good one first. */
static size_t endpoint_order(const berth_registry_client *c, size_t *order)
{
    size_t n = 0;

    order[n++] = c->current;
    for (size_t i = 0; i < c->n_eps; i++)
        if (i != c->current)
            order[n++] = i;
    return n;
}

/* Combine the errors of several endpoints: "m1: ...; registry: ...". */
static void collect(berth_error **all, berth_error **one)
{
    if (!*all) {
        *all = *one;
        *one = NULL;
        return;
    }
    berth_error_set(all, (*one)->code, "%s; %s", (*all)->msg, (*one)->msg);
    berth_error_free(one);
}

int berth_registry_get_manifest(berth_registry_client *c, const char *reference, char **ret_body,
                                size_t *ret_len, char **ret_type, berth_error **err)
{
    size_t order[BERTH_REGISTRY_ENDPOINTS_MAX], n = endpoint_order(c, order);
    berth_error *all = NULL;

    for (size_t k = 0; k < n; k++) {
        endpoint_state *es = &c->eps[order[k]];
        response r = { .max = BERTH_OCI_MANIFEST_MAX, .range_start = -1 };
        berth_error *one = NULL;

        if (request(c, es, "manifest", reference, BERTH_OCI_ACCEPT, &r, &one) == 0) {
            berth_error_free(&all);
            c->current = order[k];
            *ret_body = r.buf ? r.buf : berth_xstrdup("");
            *ret_len = r.len;
            *ret_type = berth_xstrdup(r.type ? r.type : "");
            r.buf = NULL;
            response_clear(&r);
            return 0;
        }
        response_clear(&r);
        collect(&all, &one);
    }
    if (err)
        *err = all;
    else
        berth_error_free(&all);
    return -1;
}

int berth_registry_get_blob(berth_registry_client *c, const char *digest, int64_t size, int fd,
                            int64_t *have, berth_sha256 *hash, berth_registry_bytes_fn on_bytes,
                            void *data, berth_error **err)
{
    size_t order[BERTH_REGISTRY_ENDPOINTS_MAX], n = endpoint_order(c, order);
    berth_error *all = NULL;
    char got[BERTH_DIGEST_LEN + 1];

    if (*have > size) {
        if (ftruncate(fd, 0) < 0)
            return berth_error_errno(err, "truncate a partial download");
        *have = 0;
        berth_sha256_init(hash);
    }
    for (size_t k = 0; k < n && *have < size; k++) {
        endpoint_state *es = &c->eps[order[k]];
        response r = { .to_fd = true,
                       .fd = fd,
                       .have = have,
                       .size = size,
                       .hash = hash,
                       .on_bytes = on_bytes,
                       .data = data,
                       .range_start = -1 };
        berth_error *one = NULL;
        int rc = request(c, es, "blob", digest, NULL, &r, &one);

        response_clear(&r);
        if (rc == 0 && *have < size) {
            /* the registry finished its answer short: it has no more */
            berth_error_free(&all);
            return berth_error_set(err, EBADMSG,
                                   "%s: blob %s: size mismatch: the registry has %lld of its "
                                   "%lld bytes (truncated)",
                                   es->ep.name, digest, (long long)*have, (long long)size);
        }
        if (rc == 0) {
            c->current = order[k];
            break;
        }
        collect(&all, &one);
    }
    if (*have < size) {
        if (err)
            *err = all;
        else
            berth_error_free(&all);
        return -1;
    }
    berth_error_free(&all);
    if (on_bytes)
        on_bytes(*have, data);
    berth_sha256_final(hash, got);
    if (strcmp(got, digest) != 0)
        return berth_error_set(err, EBADMSG, "%s: blob %s: digest mismatch (got %s)",
                               berth_registry_client_endpoint(c), digest, got);
    return 0;
}
