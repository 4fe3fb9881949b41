/* lib/image: a client of the OCI distribution API (v2) for one repository,
 * on libcurl. It reads manifests and blobs; it never pushes.
 *
 * - Endpoints: the repository's mirrors from registries.yaml, in order,
 *   then its registry; a request that fails on one goes to the next. The
 *   endpoint that served the manifest is asked first for the blobs.
 * - Transport: TLS verified against the system CAs plus the endpoint's
 *   ca_file; plain HTTP for http:// mirrors, and for insecure or loopback
 *   registries when they do not speak TLS (as Docker does). Redirects
 *   (blob storage) are followed, credentials never sent on to another host.
 * - Auth: anonymous first; a 401's WWW-Authenticate decides: Bearer gets a
 *   token from its realm for repository:PATH:pull (with the configured
 *   username and password, when any), Basic sends them; a configured token
 *   is sent as Bearer from the start.
 * - Failures that may pass (no connection, a reset, a timeout, 429, 5xx)
 *   are retried with exponential backoff; a blob download resumes where it
 *   broke with a Range request (or starts over when the server ignores
 *   it). What the registry answers is turned into words: "401
 *   unauthorized: ...", "manifest unknown", "blob unknown".
 * - Bounds: a manifest at most BERTH_OCI_MANIFEST_MAX bytes, a blob
 *   exactly its descriptor's size (a byte more aborts the transfer), error
 *   bodies and token answers capped.
 *
 * Blocks (network, backoff sleeps): for processes that may block, never an
 * event loop. One client per pull and thread. */
#ifndef BERTH_IMAGE_CLIENT_H
#define BERTH_IMAGE_CLIENT_H

#include <stdint.h>

#include "base/cleanup.h"
#include "base/error.h"
#include "image/digest.h"
#include "image/ref.h"
#include "image/registries.h"

typedef struct berth_registry_opts {
    const berth_registries *registries; /* NULL: none */
    int attempts;                       /* per request and endpoint, 0: 6 */
    int64_t backoff_ns;                 /* the first wait, doubling; 0: 250 ms */
    int64_t backoff_max_ns;             /* 0: 8 s */
    int64_t connect_timeout_ms;         /* 0: 10 s */
    int64_t stall_timeout_s; /* abort a transfer slower than 1 KiB/s for this long; 0: 30 */
} berth_registry_opts;

typedef struct berth_registry_client berth_registry_client;

/* A client for ref's repository. Nothing is sent yet. */
int berth_registry_client_new(const berth_image_ref *ref, const berth_registry_opts *opts,
                              berth_registry_client **ret, berth_error **err);
void berth_registry_client_free(berth_registry_client *c);
BERTH_DEFINE_CLEANUP(berth_registry_client, berth_registry_client_free)

/* The host the last successful request went to ("mirror.internal:5000"). */
const char *berth_registry_client_endpoint(const berth_registry_client *c);

/* GET the manifest (or index) named reference (a tag or a digest). *ret_body
 * (NUL-terminated, *ret_len bytes) and *ret_type (its Content-Type, "" when
 * none) are new strings. ENOENT "manifest unknown", EACCES for 401/403. */
int berth_registry_get_manifest(berth_registry_client *c, const char *reference, char **ret_body,
                                size_t *ret_len, char **ret_type, berth_error **err);

/* Called as blob bytes arrive: have is the bytes of the blob held so far. */
typedef void (*berth_registry_bytes_fn)(int64_t have, void *data);

/* GET blob digest, size bytes, into fd, which already holds *have bytes of
 * it (a partial download to resume; 0 for none) and hash, the hash of
 * those bytes. On return fd holds the whole blob and *have == size, or an
 * error: EBADMSG "digest mismatch" or "size mismatch" (the caller must
 * discard the file), ENOENT "blob unknown", others. hash is left final
 * (do not reuse it). */
int berth_registry_get_blob(berth_registry_client *c, const char *digest, int64_t size, int fd,
                            int64_t *have, berth_sha256 *hash, berth_registry_bytes_fn on_bytes,
                            void *data, berth_error **err);

#endif
