/* Duplex calls: a bidirectional, ordered, flow-controlled stream of chunks
 * between a caller (berth_rpc_client) and a server (berth_rpc_server),
 * carried by unary calls (proto/duplex.proto), so every byte is sealed
 * under the session like any other frame.
 *
 * A service offers one with two methods: its own opening method, whose
 * handler calls berth_duplex_server_open and answers the DuplexOpened it
 * fills, and Exchange (DuplexExchange -> DuplexExchanged), whose handler is
 * berth_duplex_server_exchange. The caller makes the opening call, then
 * berth_duplex_client_open with its answer.
 *
 * The caller keeps at most two exchanges on the wire: one that waits at the
 * server for something to come back (held up to BERTH_DUPLEX_HOLD_MS, under
 * nanomsg's resend interval, so the long poll is never resent), and one that
 * carries its chunks or news of room it has made. An exchange that fails
 * in transit is simply made again: numbering makes every exchange
 * idempotent, which is also why the rpc server's reply cache keeps no
 * exchange (server.c). The server ends a stream whose caller made no
 * exchange for idle_ms (it was killed, or the network is gone).
 *
 * Memory is bounded at both ends, whatever the other does: each end queues
 * at most its capacity of chunks to send (berth_duplex_write refuses more,
 * EAGAIN, and on_writable says when there is room again), and takes at most
 * its capacity of chunks not yet read; what it cannot take is not
 * acknowledged, and the sender keeps it. A relay (berth_duplex_splice)
 * moves only what the next hop has room for, so a slow reader slows the
 * writer at the far end instead of filling anyone's memory.
 *
 * Everything runs on the loop of the client or server it belongs to. */
#ifndef BERTH_RPC_DUPLEX_H
#define BERTH_RPC_DUPLEX_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/loop.h"
#include "berth/proto/v1.h"
#include "client.h"
#include "metrics/prom.h"
#include "principal.h"
#include "server.h"

/* The largest chunk written (larger writes are cut), and by default the
 * most one end queues each way for a stream. */
#define BERTH_DUPLEX_CHUNK_MAX (32u << 10)
#define BERTH_DUPLEX_CAPACITY  (1u << 20)
/* How long an exchange waits at the server for news. */
#define BERTH_DUPLEX_HOLD_MS 1000u
/* A server forgets a caller silent for this long (default). */
#define BERTH_DUPLEX_IDLE_MS 10000u

typedef struct berth_duplex berth_duplex;
typedef struct berth_duplex_server berth_duplex_server;

typedef struct berth_duplex_ops {
    /* New chunks are there to read (berth_duplex_read), or reading was
     * resumed. A reader that stops before the queue is empty (its own
     * output is full) is called again only when more arrive or after
     * berth_duplex_pause(d, false): it resumes on its own output's news. */
    void (*on_readable)(berth_duplex *d, void *data);
    /* A write refused for want of room can be made now. */
    void (*on_writable)(berth_duplex *d, void *data);
    /* The stream is over: the other end ended it with code (a Code; OK
     * once every chunk it sent has been read) and message, or it failed
     * (the caller went away: CANCELLED; the server forgot the stream:
     * NOT_FOUND ...). d is freed when this returns: never touch it again. */
    void (*on_end)(berth_duplex *d, int code, const char *message, void *data);
} berth_duplex_ops;

/* One chunk read: data stays valid until the next read or the end. */
typedef struct berth_duplex_chunk {
    uint32_t channel;
    const uint8_t *data;
    size_t len;
    bool eof;
} berth_duplex_chunk;

/* ---- the server's end ---- */

typedef struct berth_duplex_server_config {
    berth_loop *loop;
    /* Streams open at once (0 = 64): beyond, opening fails
     * RESOURCE_EXHAUSTED. */
    size_t max_streams;
    /* Of those, open at once for one caller (0 = max_streams): one
     * operator's forwarded connections cannot take everyone's room. */
    size_t max_per_peer;
    /* Bytes queued each way per stream (0 = BERTH_DUPLEX_CAPACITY; at
     * least two chunks). */
    size_t capacity;
    /* A caller silent this long is gone (0 = BERTH_DUPLEX_IDLE_MS). */
    uint32_t idle_ms;
} berth_duplex_server_config;

berth_duplex_server *berth_duplex_server_new(const berth_duplex_server_config *cfg);
/* Streams still open end (on_end CANCELLED, "the server is shutting
 * down"). NULL accepted. */
void berth_duplex_server_free(berth_duplex_server *srv);
size_t berth_duplex_server_count(const berth_duplex_server *srv);
/* /metrics: berth_streams_open (by state: open, or ended and kept for a
 * last answer) and berth_streams_opened_total. */
void berth_duplex_server_write_metrics(berth_prom *w, const berth_duplex_server *srv);

/* A new stream for peer (only its exchanges reach it); *ret_opened is the
 * opening method's answer. ENOSPC when max_streams are open. */
int berth_duplex_server_open(berth_duplex_server *srv, const berth_principal *peer,
                             const berth_duplex_ops *ops, void *data, berth_duplex **ret_d,
                             DuplexOpened *ret_opened, berth_error **err);
/* The Exchange method's handler: answers call now or once there is news
 * (the closure is the generated DuplexExchanged_Closure, cast). */
void berth_duplex_server_exchange(berth_duplex_server *srv, berth_rpc_call *call,
                                  const DuplexExchange *req, ProtobufCClosure closure);

/* End the stream from the server's side with code and message: the caller
 * gets them after every chunk written before. Nothing more is read or
 * written; d belongs to the server from now on (on_end is not called). */
void berth_duplex_end(berth_duplex *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- the caller's end ---- */

typedef struct berth_duplex_client_config {
    berth_rpc_client *client;                  /* borrowed: it must outlive the stream */
    const ProtobufCServiceDescriptor *service; /* the one with Exchange */
    /* Bytes queued each way (0 = BERTH_DUPLEX_CAPACITY; at least two
     * chunks). */
    size_t capacity;
} berth_duplex_client_config;

int berth_duplex_client_open(const berth_duplex_client_config *cfg, const DuplexOpened *opened,
                             const berth_duplex_ops *ops, void *data, berth_duplex **ret_d,
                             berth_error **err);
/* Give up: the server is told (CANCELLED) without waiting, d is freed and
 * on_end is not called. */
void berth_duplex_cancel(berth_duplex *d);

/* ---- either end ---- */

/* Queue len bytes of data on channel (eof: the last on it; len may be 0
 * then). 0 when queued (cut into chunks of BERTH_DUPLEX_CHUNK_MAX); -1
 * EAGAIN when the queue is full (nothing was queued: on_writable comes),
 * EPIPE once the stream is ending. */
int berth_duplex_write(berth_duplex *d, uint32_t channel, const void *data, size_t len, bool eof,
                       berth_error **err);
/* Bytes the next write can queue; 0 when full, and then on_writable
 * comes once there is room (as after a refused write). */
size_t berth_duplex_room(berth_duplex *d);
/* Take the next chunk: 1 with *ret, 0 when none is there. */
int berth_duplex_read(berth_duplex *d, berth_duplex_chunk *ret);
/* Stop or resume on_readable calls (a reader whose own output is full
 * pauses, and resumes when it drained): chunks stay queued, and once the
 * queue is full the far end is held back. */
void berth_duplex_pause(berth_duplex *d, bool paused);

/* Relay: move what arrives at a to b and what arrives at b to a, each
 * only as fast as the other side takes it; when one ends, the other is
 * ended (a server's end) or cancelled (a caller's end) with its status.
 * The ops of a and b are taken over: call this right after opening both.
 * watch (may be NULL) sees every chunk as it passes (to_a: towards a), for
 * a relay that must watch (exec's status channel); done (may be NULL) is
 * called once, when the first of them ended, with how. */
typedef void (*berth_duplex_watch_fn)(const berth_duplex_chunk *c, bool to_a, void *data);
typedef void (*berth_duplex_spliced_fn)(int code, const char *message, void *data);
void berth_duplex_splice(berth_duplex *a, berth_duplex *b, berth_duplex_watch_fn watch,
                         berth_duplex_spliced_fn done, void *data);

typedef struct berth_duplex_stats {
    uint64_t chunks_in, bytes_in;   /* taken from the other end */
    uint64_t chunks_out, bytes_out; /* acknowledged by the other end */
    uint64_t exchanges;             /* made (caller) or answered (server) */
    uint64_t retries;               /* exchanges made again (caller) */
    /* The most bytes ever queued to send, and taken but not read: the
     * stream's memory, bounded by its capacity (plus one write's worth). */
    uint64_t out_queued_max, in_queued_max;
} berth_duplex_stats;
const berth_duplex_stats *berth_duplex_stats_of(const berth_duplex *d);
/* The stream's id (DuplexOpened.stream). */
uint64_t berth_duplex_id(const berth_duplex *d);
/* Whether d is a server's end (berth_duplex_server_open). */
bool berth_duplex_server_side(const berth_duplex *d);
/* Hand d to other callbacks (a bridge taking it over). */
void berth_duplex_set_ops(berth_duplex *d, const berth_duplex_ops *ops, void *data);

#endif
