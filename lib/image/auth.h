/* lib/image: what registries say besides content, parsed: the
 * WWW-Authenticate challenge of a 401 (RFC 7235: `Bearer realm="...",
 * service="...",scope="..."` or `Basic realm="..."`), a token server's
 * answer ({"token": ...} or {"access_token": ...}), and the error body of
 * the distribution API ({"errors": [{"code": "MANIFEST_UNKNOWN", "message":
 * ...}]}) turned into words for an operator.
 *
 * Pure and bounded: the fuzz target calls them on raw bytes. Allocation
 * aborts on OOM. */
#ifndef BERTH_IMAGE_AUTH_H
#define BERTH_IMAGE_AUTH_H

#include <stddef.h>

#include "base/error.h"

#define BERTH_CHALLENGE_MAX  4096      /* a WWW-Authenticate value */
#define BERTH_TOKEN_BODY_MAX (1 << 20) /* a token server's answer */
#define BERTH_TOKEN_MAX      (64 << 10)

typedef enum berth_auth_scheme {
    BERTH_AUTH_BASIC,
    BERTH_AUTH_BEARER,
} berth_auth_scheme;

typedef struct berth_registry_challenge {
    berth_auth_scheme scheme;
    char *realm;   /* required for Bearer */
    char *service; /* NULL when not given */
    char *scope;   /* NULL when not given */
} berth_registry_challenge;

/* Parse the first challenge of a WWW-Authenticate value. EINVAL when it
 * is not Basic or Bearer, malformed, or Bearer without a realm. */
int berth_registry_challenge_parse(const char *value, berth_registry_challenge *ret,
                                   berth_error **err);
void berth_registry_challenge_clear(berth_registry_challenge *c);

/* The token of a token server's JSON answer (token, else access_token).
 * EINVAL when there is none, or it is longer than BERTH_TOKEN_MAX or not
 * printable. */
int berth_registry_token_parse(const void *body, size_t len, char **ret_token, berth_error **err);

/* A distribution API error body in words: "manifest unknown: manifest
 * unknown to registry" (the first error's code, lower case, and its
 * message when it says more). NULL when the body is not such a document.
 * New string. */
char *berth_registry_error_text(const void *body, size_t len);

#endif
