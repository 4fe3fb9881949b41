/* lib/image: content digests. Everything an image is made of is named by
 * the SHA-256 of its bytes ("sha256:" and 64 lowercase hex digits, the only
 * algorithm berth takes); a streaming hasher checks blobs as they arrive.
 *
 * Pure; no allocation. */
#ifndef BERTH_IMAGE_DIGEST_H
#define BERTH_IMAGE_DIGEST_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

#define BERTH_DIGEST_PREFIX "sha256:"
#define BERTH_DIGEST_HEX    64
/* "sha256:" + 64 hex digits */
#define BERTH_DIGEST_LEN 71

/* Whether s is "sha256:" followed by exactly 64 lowercase hex digits. */
bool berth_digest_valid(const char *s);

/* The same as an error: EINVAL "what 'x' is not a sha256 digest", or
 * "... digest algorithm sha512 is not supported" for another algorithm
 * of the OCI grammar. */
int berth_digest_check(const char *s, const char *what, berth_error **err);

/* The 64 hex digits of a valid digest (a pointer into it). */
static inline const char *berth_digest_hex(const char *digest)
{
    return digest + sizeof(BERTH_DIGEST_PREFIX) - 1;
}

/* "sha256:0123456789ab" (19 characters) for messages: the digest's first 12
 * digits, as Docker shortens image ids. buf holds 20 bytes. */
const char *berth_digest_short(const char *digest, char buf[20]);

typedef struct berth_sha256 {
    crypto_hash_sha256_state st;
} berth_sha256;

void berth_sha256_init(berth_sha256 *h);
void berth_sha256_update(berth_sha256 *h, const void *data, size_t len);
/* The digest of everything given, as text; h must be initialised again to
 * be reused. */
void berth_sha256_final(berth_sha256 *h, char out[BERTH_DIGEST_LEN + 1]);
/* The digest of one buffer. */
void berth_sha256_of(const void *data, size_t len, char out[BERTH_DIGEST_LEN + 1]);

#endif
