/* Challenges, token answers and error bodies of registries. */
#include "image/auth.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"

void berth_registry_challenge_clear(berth_registry_challenge *c)
{
    if (!c)
        return;
    free(c->realm);
    free(c->service);
    free(c->scope);
    memset(c, 0, sizeof(*c));
}

static bool is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int berth_registry_challenge_parse(const char *value, berth_registry_challenge *ret,
                                   berth_error **err)
{
    berth_registry_challenge c = { 0 };
    const char *p = value, *s;
    size_t n;

    if (!value || strlen(value) > BERTH_CHALLENGE_MAX)
        return berth_error_set(err, EINVAL, "WWW-Authenticate: missing or too long");
    p = skip_ws(p);
    for (s = p; is_tchar(*p); p++)
        ;
    n = (size_t)(p - s);
    if (n == 6 && strncasecmp(s, "bearer", 6) == 0)
        c.scheme = BERTH_AUTH_BEARER;
    else if (n == 5 && strncasecmp(s, "basic", 5) == 0)
        c.scheme = BERTH_AUTH_BASIC;
    else
        return berth_error_set(err, EINVAL,
                               "WWW-Authenticate: scheme '%.*s' is not Basic or Bearer",
                               (int)(n > 32 ? 32 : n), s);
    for (;;) {
        const char *name;
        size_t nn;
        char *val;

        p = skip_ws(p);
        while (*p == ',')
            p = skip_ws(p + 1);
        if (!*p)
            break;
        for (name = p; is_tchar(*p); p++)
            ;
        nn = (size_t)(p - name);
        p = skip_ws(p);
        if (nn == 0 || *p != '=')
            break; /* the next challenge, or junk: this one is complete */
        p = skip_ws(p + 1);
        val = berth_xmalloc(strlen(p) + 1);
        n = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                val[n++] = *p;
            }
            if (*p != '"') {
                free(val);
                berth_registry_challenge_clear(&c);
                return berth_error_set(err, EINVAL, "WWW-Authenticate: an unterminated quote");
            }
            p++;
        } else {
            while (is_tchar(*p) || *p == '/' || *p == ':')
                val[n++] = *p++;
        }
        val[n] = '\0';
        if (nn == 5 && strncasecmp(name, "realm", 5) == 0 && !c.realm)
            c.realm = val;
        else if (nn == 7 && strncasecmp(name, "service", 7) == 0 && !c.service)
            c.service = val;
        else if (nn == 5 && strncasecmp(name, "scope", 5) == 0 && !c.scope)
            c.scope = val;
        else
            free(val);
    }
    if (c.scheme == BERTH_AUTH_BEARER && (!c.realm || !*c.realm)) {
        berth_registry_challenge_clear(&c);
        return berth_error_set(err, EINVAL, "WWW-Authenticate: Bearer without a realm");
    }
    *ret = c;
    return 0;
}

int berth_registry_token_parse(const void *body, size_t len, char **ret_token, berth_error **err)
{
    json_t *j;
    const char *t;
    int r = 0;

    if (len > BERTH_TOKEN_BODY_MAX)
        return berth_error_set(err, EMSGSIZE, "token answer: %zu bytes, at most %d", len,
                               BERTH_TOKEN_BODY_MAX);
    j = json_loadb(body, len, 0, NULL);
    t = json_string_value(json_object_get(j, "token"));
    if (!t || !*t)
        t = json_string_value(json_object_get(j, "access_token"));
    if (!t || !*t)
        r = berth_error_set(err, EINVAL, "token answer: no token in it");
    else if (strlen(t) > BERTH_TOKEN_MAX)
        r = berth_error_set(err, EINVAL, "token answer: a token longer than %d", BERTH_TOKEN_MAX);
    else
        for (const char *p = t; *p && r == 0; p++)
            if (!isgraph((unsigned char)*p))
                r = berth_error_set(err, EINVAL,
                                    "token answer: a token with a space or control "
                                    "character");
    if (r == 0)
        *ret_token = berth_xstrdup(t);
    json_decref(j);
    return r;
}

char *berth_registry_error_text(const void *body, size_t len)
{
    json_t *j, *first;
    const char *code, *msg;
    char words[64];
    size_t n = 0;
    char *out = NULL;

    if (!body || len == 0 || len > (1 << 20))
        return NULL;
    j = json_loadb(body, len, 0, NULL);
    first = json_array_get(json_object_get(j, "errors"), 0);
    code = json_string_value(json_object_get(first, "code"));
    msg = json_string_value(json_object_get(first, "message"));
    if (code && *code) {
        for (; *code && n < sizeof(words) - 1; code++)
            words[n++] = *code == '_' ? ' ' : (char)tolower((unsigned char)*code);
        words[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (!isprint((unsigned char)words[i]))
                words[i] = '?';
        if (msg && *msg && strcasecmp(msg, words) != 0)
            out = berth_xasprintf("%s: %.300s", words, msg);
        else
            out = berth_xstrdup(words);
    } else if (msg && *msg) {
        out = berth_xasprintf("%.300s", msg);
    }
    json_decref(j);
    if (out)
        for (char *p = out; *p; p++)
            if (!isprint((unsigned char)*p))
                *p = '?';
    return out;
}
