/* Key pairs, key files and join tokens. */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/xalloc.h"

#define SECRET_TAG  "berth-ed25519-secret-v1"
#define PUBLIC_TAG  "berth-ed25519-v1"
#define KEYFILE_MAX 4096

int berth_keypair_generate(berth_keypair *ret_kp, berth_error **err)
{
    uint8_t seed[32];

    if (sodium_init() < 0)
        return berth_error_set(err, EIO, "generate key pair: libsodium failed to initialise");
    randombytes_buf(seed, sizeof(seed));
    berth_keypair_from_seed(seed, ret_kp);
    sodium_memzero(seed, sizeof(seed));
    return 0;
}

void berth_keypair_from_seed(const uint8_t seed[32], berth_keypair *ret_kp)
{
    crypto_sign_seed_keypair(ret_kp->pk, ret_kp->sk, seed);
    berth_key_id(ret_kp->pk, ret_kp->id);
}

void berth_keypair_wipe(berth_keypair *kp)
{
    sodium_memzero(kp->sk, sizeof(kp->sk));
}

void berth_key_id(const uint8_t pk[BERTH_PUBKEY_LEN], uint8_t ret_id[BERTH_KEYID_LEN])
{
    uint8_t h[32];

    crypto_generichash(h, sizeof(h), pk, BERTH_PUBKEY_LEN, NULL, 0);
    memcpy(ret_id, h, BERTH_KEYID_LEN);
}

char *berth_key_fingerprint(const uint8_t pk[BERTH_PUBKEY_LEN], char buf[BERTH_FINGERPRINT_LEN])
{
    return sodium_bin2base64(buf, BERTH_FINGERPRINT_LEN, pk, BERTH_PUBKEY_LEN,
                             sodium_base64_VARIANT_ORIGINAL);
}

char *berth_key_sha256_fingerprint(const uint8_t pk[BERTH_PUBKEY_LEN],
                                   char buf[BERTH_SHA256_FINGERPRINT_LEN])
{
    uint8_t h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, pk, BERTH_PUBKEY_LEN);
    memcpy(buf, "SHA256:", 7);
    sodium_bin2base64(buf + 7, BERTH_SHA256_FINGERPRINT_LEN - 7, h, sizeof(h),
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    return buf;
}

static int decode_key32(const char *text, size_t len, uint8_t out[32])
{
    size_t bin_len = 0;
    const char *end = NULL;

    if (sodium_base642bin(out, 32, text, len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len != 32 || end != text + len)
        return -1;
    return 0;
}

int berth_key_parse_fingerprint(const char *text, uint8_t ret_pk[BERTH_PUBKEY_LEN],
                                berth_error **err)
{
    uint8_t pk[32];

    if (decode_key32(text, strlen(text), pk) < 0)
        return berth_error_set(err, EINVAL,
                               "key fingerprint '%.60s': not a base64 Ed25519 public key", text);
    memcpy(ret_pk, pk, sizeof(pk));
    return 0;
}

int berth_keypair_save(int dirfd, const char *path, const berth_keypair *kp, berth_error **err)
{
    char b64[BERTH_FINGERPRINT_LEN], line[128];
    int n;

    /* The seed is the first half of libsodium's secret key. */
    sodium_bin2base64(b64, sizeof(b64), kp->sk, 32, sodium_base64_VARIANT_ORIGINAL);
    n = snprintf(line, sizeof(line), "%s %s\n", SECRET_TAG, b64);
    sodium_memzero(b64, sizeof(b64));
    if (berth_write_file_atomic_at(dirfd, path, line, (size_t)n, 0600, err) < 0) {
        sodium_memzero(line, sizeof(line));
        return berth_error_prefix(err, "save key");
    }
    sodium_memzero(line, sizeof(line));
    return 0;
}

/* Point *ret at the next non-comment, non-empty line of text and return its
 * length (without the newline); advance *pos. -1 at the end. */
static ssize_t next_line(const char *text, size_t *pos, const char **ret)
{
    while (text[*pos]) {
        const char *s = text + *pos, *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);

        *pos += len + (nl ? 1 : 0);
        while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len == 0 || s[0] == '#')
            continue;
        *ret = s;
        return (ssize_t)len;
    }
    return -1;
}

int berth_keypair_load(int dirfd, const char *path, berth_keypair *ret_kp, berth_error **err)
{
    _cleanup_close_ int fd = -1;
    _cleanup_free_ char *text = NULL;
    const char *line = NULL, *b64;
    size_t pos = 0, len = 0;
    ssize_t n, line_len;
    struct stat st;
    uint8_t seed[32];
    int r;

    fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
    if (fd < 0)
        return berth_error_errno(err, "open key file %s", path);
    if (fstat(fd, &st) < 0)
        return berth_error_errno(err, "stat key file %s", path);
    if (!S_ISREG(st.st_mode))
        return berth_error_set(err, EINVAL, "key file %s: not a regular file", path);
    if (st.st_uid != geteuid())
        return berth_error_set(err, EPERM, "key file %s: owned by uid %u, not by us (uid %u)", path,
                               (unsigned)st.st_uid, (unsigned)geteuid());
    if (st.st_mode & 077)
        return berth_error_set(err, EPERM,
                               "key file %s: mode %04o lets others read the secret key; "
                               "chmod 600 it",
                               path, (unsigned)(st.st_mode & 07777));
    /* Read through the checked fd, not by path again. */
    text = berth_xmalloc(KEYFILE_MAX + 1);
    n = berth_read_all(fd, text, KEYFILE_MAX);
    if (n < 0)
        return berth_error_errno(err, "read key file %s", path);
    text[n] = '\0';
    line_len = next_line(text, &pos, &line);
    if (line_len < 0)
        return berth_error_set(err, EINVAL, "key file %s: empty", path);
    len = (size_t)line_len;
    if (len <= sizeof(SECRET_TAG) || strncmp(line, SECRET_TAG " ", sizeof(SECRET_TAG)) != 0) {
        sodium_memzero(text, (size_t)n);
        return berth_error_set(err, EINVAL, "key file %s: not a berth secret key (expected '%s')",
                               path, SECRET_TAG);
    }
    b64 = line + sizeof(SECRET_TAG);
    r = decode_key32(b64, len - sizeof(SECRET_TAG), seed);
    sodium_memzero(text, (size_t)n);
    if (r < 0)
        return berth_error_set(err, EINVAL, "key file %s: malformed key", path);
    berth_keypair_from_seed(seed, ret_kp);
    sodium_memzero(seed, sizeof(seed));
    return 0;
}

int berth_keypair_load_or_generate(int dirfd, const char *path, berth_keypair *ret_kp,
                                   bool *ret_created, berth_error **err)
{
    berth_error *load_err = NULL;
    berth_keypair kp;

    if (berth_keypair_load(dirfd, path, &kp, &load_err) == 0) {
        *ret_kp = kp;
        berth_keypair_wipe(&kp);
        if (ret_created)
            *ret_created = false;
        return 0;
    }
    /* Only a missing file means "make one": a bad one is reported. */
    if (load_err->code != ENOENT) {
        if (err) {
            berth_error_free(err);
            *err = load_err;
        } else {
            berth_error_free(&load_err);
        }
        return -1;
    }
    berth_error_free(&load_err);
    if (berth_keypair_generate(&kp, err) < 0)
        return -1;
    if (berth_keypair_save(dirfd, path, &kp, err) < 0) {
        berth_keypair_wipe(&kp);
        return -1;
    }
    *ret_kp = kp;
    berth_keypair_wipe(&kp);
    if (ret_created)
        *ret_created = true;
    return 0;
}

int berth_pubkeys_save(int dirfd, const char *path, const uint8_t (*pks)[BERTH_PUBKEY_LEN],
                       size_t n, berth_error **err)
{
    char text[BERTH_PUBKEYS_MAX * 80];
    size_t len = 0;

    if (n == 0 || n > BERTH_PUBKEYS_MAX)
        return berth_error_set(err, EINVAL, "save public keys %s: %zu keys (1 or 2 allowed)", path,
                               n);
    for (size_t i = 0; i < n; i++) {
        char fp[BERTH_FINGERPRINT_LEN];

        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s %s\n", PUBLIC_TAG,
                                berth_key_fingerprint(pks[i], fp));
    }
    if (berth_write_file_atomic_at(dirfd, path, text, len, 0644, err) < 0)
        return berth_error_prefix(err, "save public keys");
    return 0;
}

int berth_pubkeys_load(int dirfd, const char *path,
                       uint8_t ret_pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN], size_t *ret_n,
                       berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    uint8_t pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN];
    size_t pos = 0, n = 0, lineno = 0;
    const char *line;
    ssize_t len;

    if (berth_read_file_at(dirfd, path, KEYFILE_MAX, &text, NULL, err) < 0)
        return berth_error_prefix(err, "load public keys");
    while ((len = next_line(text, &pos, &line)) >= 0) {
        size_t klen;

        lineno++;
        if ((size_t)len <= sizeof(PUBLIC_TAG) ||
            strncmp(line, PUBLIC_TAG " ", sizeof(PUBLIC_TAG)) != 0)
            return berth_error_set(err, EINVAL,
                                   "public key file %s: key %zu: expected '%s <base64 key>'", path,
                                   lineno, PUBLIC_TAG);
        if (n == BERTH_PUBKEYS_MAX)
            return berth_error_set(err, EINVAL,
                                   "public key file %s: more than %d keys (one, or two while "
                                   "rotating)",
                                   path, BERTH_PUBKEYS_MAX);
        line += sizeof(PUBLIC_TAG);
        klen = strcspn(line, " \t\r\n"); /* a comment may follow the key */
        if (decode_key32(line, klen, pks[n]) < 0)
            return berth_error_set(err, EINVAL, "public key file %s: key %zu: malformed", path,
                                   lineno);
        n++;
    }
    if (n == 0)
        return berth_error_set(err, EINVAL, "public key file %s: no key", path);
    memcpy(ret_pks, pks, sizeof(pks));
    *ret_n = n;
    return 0;
}

void berth_join_token_generate(berth_join_token *ret_token)
{
    randombytes_buf(ret_token->id, sizeof(ret_token->id));
    randombytes_buf(ret_token->secret, sizeof(ret_token->secret));
}

char *berth_join_token_format(const berth_join_token *token, char buf[BERTH_TOKEN_TEXT_LEN])
{
    sodium_bin2hex(buf, 2 * BERTH_TOKEN_ID_LEN + 1, token->id, sizeof(token->id));
    buf[2 * BERTH_TOKEN_ID_LEN] = '.';
    sodium_bin2hex(buf + 2 * BERTH_TOKEN_ID_LEN + 1, 2 * BERTH_TOKEN_SECRET_LEN + 1, token->secret,
                   sizeof(token->secret));
    return buf;
}

static bool all_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int berth_join_token_parse(const char *text, berth_join_token *ret_token, berth_error **err)
{
    berth_join_token t;
    size_t idl = 2 * BERTH_TOKEN_ID_LEN, sl = 2 * BERTH_TOKEN_SECRET_LEN;

    /* The secret is never quoted back in the error. */
    if (strlen(text) != idl + 1 + sl || text[idl] != '.' || !all_lower_hex(text, idl) ||
        !all_lower_hex(text + idl + 1, sl))
        return berth_error_set(err, EINVAL,
                               "join token: expected <id>.<secret> (12 and 32 lowercase hex "
                               "digits)");
    sodium_hex2bin(t.id, sizeof(t.id), text, idl, NULL, NULL, NULL);
    sodium_hex2bin(t.secret, sizeof(t.secret), text + idl + 1, sl, NULL, NULL, NULL);
    *ret_token = t;
    sodium_memzero(&t, sizeof(t));
    return 0;
}
