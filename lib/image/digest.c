/* Content digests: "sha256:<hex>", checked and computed with libsodium. */
#include "image/digest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool berth_digest_valid(const char *s)
{
    size_t p = sizeof(BERTH_DIGEST_PREFIX) - 1;

    if (!s || strncmp(s, BERTH_DIGEST_PREFIX, p) != 0 || strlen(s) != BERTH_DIGEST_LEN)
        return false;
    for (s += p; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

int berth_digest_check(const char *s, const char *what, berth_error **err)
{
    const char *colon = s ? strchr(s, ':') : NULL;

    if (berth_digest_valid(s))
        return 0;
    if (colon && colon != s && strncmp(s, "sha256:", 7) != 0 &&
        strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789+._-") == (size_t)(colon - s) &&
        colon - s < 32)
        return berth_error_set(err, EINVAL,
                               "%s: digest algorithm %.*s is not supported (only sha256)", what,
                               (int)(colon - s), s);
    return berth_error_set(err, EINVAL, "%s: '%.80s' is not a sha256 digest", what, s ? s : "");
}

const char *berth_digest_short(const char *digest, char buf[20])
{
    snprintf(buf, 20, "%.19s", digest ? digest : "");
    return buf;
}

void berth_sha256_init(berth_sha256 *h)
{
    crypto_hash_sha256_init(&h->st);
}

void berth_sha256_update(berth_sha256 *h, const void *data, size_t len)
{
    crypto_hash_sha256_update(&h->st, data, len);
}

void berth_sha256_final(berth_sha256 *h, char out[BERTH_DIGEST_LEN + 1])
{
    unsigned char sum[crypto_hash_sha256_BYTES];

    crypto_hash_sha256_final(&h->st, sum);
    memcpy(out, BERTH_DIGEST_PREFIX, sizeof(BERTH_DIGEST_PREFIX) - 1);
    sodium_bin2hex(out + sizeof(BERTH_DIGEST_PREFIX) - 1, BERTH_DIGEST_HEX + 1, sum, sizeof(sum));
}

void berth_sha256_of(const void *data, size_t len, char out[BERTH_DIGEST_LEN + 1])
{
    berth_sha256 h;

    berth_sha256_init(&h);
    berth_sha256_update(&h, data, len);
    berth_sha256_final(&h, out);
}
