/* Long-term identity keys (Ed25519, libsodium), their files, and join
 * tokens.
 *
 * A key pair is generated locally and never leaves its machine. The secret
 * key file holds the 32-byte seed ("berth-ed25519-secret-v1 <base64>"),
 * mode 0600, written atomically; loading refuses a file that others could
 * read. A public key file holds one or two public keys, one per line
 * ("berth-ed25519-v1 <base64> [comment]"; '#' lines are comments): two while
 * a key is being rotated. A key's fingerprint is its base64 text. */
#ifndef BERTH_RPC_KEYS_H
#define BERTH_RPC_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BERTH_PUBKEY_LEN      32
#define BERTH_SECKEY_LEN      64
#define BERTH_KEYID_LEN       8
#define BERTH_FINGERPRINT_LEN 45 /* 44 base64 characters + NUL */
#define BERTH_PUBKEYS_MAX     2

typedef struct berth_keypair {
    uint8_t pk[BERTH_PUBKEY_LEN];
    uint8_t sk[BERTH_SECKEY_LEN];
    uint8_t id[BERTH_KEYID_LEN];
} berth_keypair;

/* A fresh key pair from the system's CSPRNG. */
int berth_keypair_generate(berth_keypair *ret_kp, berth_error **err);
/* Derive the key pair of a 32-byte seed (tests, key files). */
void berth_keypair_from_seed(const uint8_t seed[32], berth_keypair *ret_kp);
/* Overwrite the secret with zeros. */
void berth_keypair_wipe(berth_keypair *kp);

/* The key id frames carry: the first 8 bytes of BLAKE2b-256(pk). */
void berth_key_id(const uint8_t pk[BERTH_PUBKEY_LEN], uint8_t ret_id[BERTH_KEYID_LEN]);
/* The fingerprint (the key in base64) into buf; returns buf. */
char *berth_key_fingerprint(const uint8_t pk[BERTH_PUBKEY_LEN], char buf[BERTH_FINGERPRINT_LEN]);
/* "SHA256:" and the unpadded base64 of SHA-256(pk), as ssh-keygen -l
 * prints fingerprints: what berthd join checks a controller's key by. */
#define BERTH_SHA256_FINGERPRINT_LEN (7 + 43 + 1)
char *berth_key_sha256_fingerprint(const uint8_t pk[BERTH_PUBKEY_LEN],
                                   char buf[BERTH_SHA256_FINGERPRINT_LEN]);
/* Parse a fingerprint back into the key. */
int berth_key_parse_fingerprint(const char *text, uint8_t ret_pk[BERTH_PUBKEY_LEN],
                                berth_error **err);

/* Secret key files (relative to dirfd, AT_FDCWD for cwd). save writes
 * atomically with mode 0600. load fails on a file that is not a regular
 * file owned by the caller with no group/other permissions, or that is
 * malformed; the error names the path. */
int berth_keypair_save(int dirfd, const char *path, const berth_keypair *kp, berth_error **err);
int berth_keypair_load(int dirfd, const char *path, berth_keypair *ret_kp, berth_error **err);
/* Load path, or generate and save a new key pair when it does not exist.
 * *ret_created (may be NULL) says which happened. */
int berth_keypair_load_or_generate(int dirfd, const char *path, berth_keypair *ret_kp,
                                   bool *ret_created, berth_error **err);

/* Public key files: 1..BERTH_PUBKEYS_MAX keys, written atomically, mode
 * 0644. load writes the keys in file order and their count. */
int berth_pubkeys_save(int dirfd, const char *path, const uint8_t (*pks)[BERTH_PUBKEY_LEN],
                       size_t n, berth_error **err);
int berth_pubkeys_load(int dirfd, const char *path,
                       uint8_t ret_pks[BERTH_PUBKEYS_MAX][BERTH_PUBKEY_LEN], size_t *ret_n,
                       berth_error **err);

/* Join tokens: "<id>.<secret>", 12 + 32 lowercase hex digits. The id is
 * public (it names the token on the wire); the secret never travels: a node
 * proves it knows it with a keyed hash bound to its key (auth.c). */
#define BERTH_TOKEN_ID_LEN     6
#define BERTH_TOKEN_SECRET_LEN 16
#define BERTH_TOKEN_TEXT_LEN   (2 * BERTH_TOKEN_ID_LEN + 1 + 2 * BERTH_TOKEN_SECRET_LEN + 1)

typedef struct berth_join_token {
    uint8_t id[BERTH_TOKEN_ID_LEN];
    uint8_t secret[BERTH_TOKEN_SECRET_LEN];
} berth_join_token;

void berth_join_token_generate(berth_join_token *ret_token);
/* Text form into buf; returns buf. */
char *berth_join_token_format(const berth_join_token *token, char buf[BERTH_TOKEN_TEXT_LEN]);
int berth_join_token_parse(const char *text, berth_join_token *ret_token, berth_error **err);

#endif
