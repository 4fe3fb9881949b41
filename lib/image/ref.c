/* Image references: distribution/reference's grammar and Docker's
 * normalization (docker.io, library/, latest). */
#include "image/ref.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "base/xalloc.h"
#include "image/digest.h"

#define TAG_MAX 128

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* over [p, p+n). */
static bool path_component_valid(const char *p, size_t n)
{
    size_t i = 0;

    if (n == 0 || !is_lower_alnum(p[0]))
        return false;
    while (i < n) {
        while (i < n && is_lower_alnum(p[i]))
            i++;
        if (i == n)
            return true;
        if (p[i] == '.')
            i++;
        else if (p[i] == '_')
            i += (i + 1 < n && p[i + 1] == '_') ? 2 : 1;
        else if (p[i] == '-')
            while (i < n && p[i] == '-')
                i++;
        else
            return false;
        if (i == n || !is_lower_alnum(p[i]))
            return false;
    }
    return true;
}

/* domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9] */
static bool domain_component_valid(const char *p, size_t n)
{
    if (n == 0 || !isalnum((unsigned char)p[0]) || !isalnum((unsigned char)p[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)p[i]) && p[i] != '-')
            return false;
    return true;
}

/* host [':' port], host a domain name, an IPv4 address or [IPv6]. */
static bool domain_valid(const char *d)
{
    const char *colon, *end;
    size_t n = strlen(d);

    if (d[0] == '[') {
        end = strchr(d, ']');
        if (!end || end == d + 1)
            return false;
        for (const char *p = d + 1; p < end; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return false;
        colon = end[1] ? end + 1 : NULL;
        if (colon && *colon != ':')
            return false;
        n = (size_t)(end + 1 - d);
    } else {
        colon = strchr(d, ':');
        if (colon)
            n = (size_t)(colon - d);
        for (size_t i = 0, start = 0; i <= n; i++) {
            if (i < n && d[i] != '.')
                continue;
            if (!domain_component_valid(d + start, i - start))
                return false;
            start = i + 1;
        }
    }
    if (colon) {
        if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
            strlen(colon + 1) > 5)
            return false;
    }
    return true;
}

static bool tag_valid(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > TAG_MAX || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
            return false;
    return true;
}

static bool is_hex64(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

void berth_image_ref_free(berth_image_ref *r)
{
    if (!r)
        return;
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    free(r);
}

#define BAD(...) berth_error_set(err, EINVAL, "image reference '%s': " __VA_ARGS__)

int berth_image_ref_parse(const char *s, berth_image_ref **ret_ref, berth_error **err)
{
    _cleanup_(berth_image_ref_freep) berth_image_ref *r = NULL;
    _cleanup_free_ char *name = NULL;
    const char *at, *slash, *remainder;
    char *colon, *last_slash;
    size_t n = s ? strlen(s) : 0;
    bool has_domain;

    if (n == 0)
        return berth_error_set(err, EINVAL, "image reference: empty");
    if (n > BERTH_IMAGE_REF_MAX)
        return berth_error_set(err, EINVAL, "image reference: %zu characters, at most %d", n,
                               BERTH_IMAGE_REF_MAX);
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i]))
            return berth_error_set(err, EINVAL,
                                   "image reference: a space or control character at position %zu",
                                   i + 1);
    if (is_hex64(s))
        return BAD("a 64-hex-digit name is an image id, not a repository", s);
    r = berth_xcalloc(1, sizeof(*r));
    at = strchr(s, '@');
    if (at) {
        if (berth_digest_check(at + 1, "digest", err) < 0)
            return berth_error_prefix(err, "image reference '%s'", s);
        r->digest = berth_xstrdup(at + 1);
        name = berth_xstrndup(s, (size_t)(at - s));
    } else {
        name = berth_xstrdup(s);
    }
    last_slash = strrchr(name, '/');
    colon = strrchr(last_slash ? last_slash : name, ':');
    if (colon) {
        *colon = '\0';
        if (!tag_valid(colon + 1))
            return BAD("tag '%s' is not valid (1-128 of A-Z a-z 0-9 _ . -, not starting with . "
                       "or -)",
                       s, colon + 1);
        r->tag = berth_xstrdup(colon + 1);
    }
    if (!*name)
        return BAD("no repository name", s);
    slash = strchr(name, '/');
    has_domain = false;
    if (slash) {
        size_t fn = (size_t)(slash - name);
        bool upper = false;

        for (size_t i = 0; i < fn; i++)
            upper |= isupper((unsigned char)name[i]) != 0;
        has_domain = memchr(name, '.', fn) || memchr(name, ':', fn) ||
                     (fn == 9 && strncmp(name, "localhost", 9) == 0) || upper;
    }
    if (has_domain) {
        r->domain = berth_xstrndup(name, (size_t)(slash - name));
        remainder = slash + 1;
        if (!domain_valid(r->domain))
            return BAD("registry host '%s' is not valid", s, r->domain);
        if (strcmp(r->domain, "index.docker.io") == 0) {
            free(r->domain);
            r->domain = berth_xstrdup(BERTH_IMAGE_DEFAULT_DOMAIN);
        }
    } else {
        r->domain = berth_xstrdup(BERTH_IMAGE_DEFAULT_DOMAIN);
        remainder = name;
    }
    for (const char *p = remainder; *p; p++)
        if (isupper((unsigned char)*p))
            return BAD("repository name must be lowercase", s);
    for (const char *p = remainder;;) {
        const char *e = strchr(p, '/');
        size_t cn = e ? (size_t)(e - p) : strlen(p);

        if (!path_component_valid(p, cn))
            return BAD("'%.*s' is not a valid name component (a-z 0-9, separated by . _ __ or -)",
                       s, (int)cn, p);
        if (!e)
            break;
        p = e + 1;
    }
    if (strcmp(r->domain, BERTH_IMAGE_DEFAULT_DOMAIN) == 0 && !strchr(remainder, '/'))
        r->path = berth_xasprintf("library/%s", remainder);
    else
        r->path = berth_xstrdup(remainder);
    if (strlen(r->domain) + 1 + strlen(r->path) > BERTH_IMAGE_NAME_MAX)
        return BAD("the name is longer than %d characters", s, BERTH_IMAGE_NAME_MAX);
    if (!r->tag && !r->digest)
        r->tag = berth_xstrdup("latest");
    *ret_ref = TAKE_PTR(r);
    return 0;
}

char *berth_image_ref_format(const berth_image_ref *r)
{
    return berth_xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
                           r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

char *berth_image_ref_repository(const berth_image_ref *r)
{
    return berth_xasprintf("%s/%s", r->domain, r->path);
}

char *berth_image_ref_normalize(const char *s)
{
    _cleanup_(berth_image_ref_freep) berth_image_ref *r = NULL;

    if (berth_image_ref_parse(s, &r, NULL) < 0)
        return NULL;
    return berth_image_ref_format(r);
}

bool berth_image_host_valid(const char *host)
{
    return host && *host && strlen(host) <= BERTH_IMAGE_NAME_MAX && domain_valid(host);
}

bool berth_image_host_is_loopback(const char *host)
{
    size_t n;
    const char *colon;

    if (!host)
        return false;
    if (strncmp(host, "[::1]", 5) == 0)
        return host[5] == '\0' || host[5] == ':';
    colon = strchr(host, ':');
    n = colon ? (size_t)(colon - host) : strlen(host);
    if (n == 9 && strncmp(host, "localhost", 9) == 0)
        return true;
    if (n > 4 && strncmp(host, "127.", 4) == 0) {
        int dots = 0;

        for (size_t i = 4; i < n; i++) {
            if (host[i] == '.')
                dots++;
            else if (!isdigit((unsigned char)host[i]))
                return false;
        }
        return dots == 2;
    }
    return false;
}

berth_pull_policy berth_image_ref_default_policy(const berth_image_ref *r)
{
    return r->tag && strcmp(r->tag, "latest") == 0 ? BERTH_PULL_ALWAYS : BERTH_PULL_IF_NOT_PRESENT;
}

static const char *const policy_names[] = {
    [BERTH_PULL_ALWAYS] = "Always",
    [BERTH_PULL_IF_NOT_PRESENT] = "IfNotPresent",
    [BERTH_PULL_NEVER] = "Never",
};

const char *berth_pull_policy_name(berth_pull_policy p)
{
    return (unsigned)p < BERTH_ARRAY_SIZE(policy_names) ? policy_names[p] : "?";
}

int berth_pull_policy_parse(const char *s, berth_pull_policy *ret, berth_error **err)
{
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(policy_names); i++)
        if (strcmp(s, policy_names[i]) == 0) {
            *ret = (berth_pull_policy)i;
            return 0;
        }
    return berth_error_set(err, EINVAL,
                           "pull policy '%s' is not one of Always, IfNotPresent, Never", s);
}

bool berth_image_store_reserved_name(const char *name)
{
    static const char *const reserved[] = { "blobs", "layers", "images",
                                            "tmp",   "locks",  "store.lock" };

    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(name, reserved[i]) == 0)
            return true;
    return false;
}
