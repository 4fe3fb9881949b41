/* Duplex calls (duplex.h): numbered chunks, credit in bytes, long polls. */
#include "duplex.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cleanup.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

#define DEFAULT_MAX_STREAMS 64
/* An ended stream is kept this long after its caller's last exchange, for
 * an answer that was lost on its way. */
#define LINGER_NS ((int64_t)5 * BERTH_NSEC_PER_SEC)
#define SWEEP_NS  ((int64_t)1 * BERTH_NSEC_PER_SEC)
/* An ended stream whose caller made no exchange this long is done with. */
#define IDLE_ENDED_NS ((int64_t)1500 * BERTH_NSEC_PER_MSEC)
/* Most chunk bytes in one exchange: a caller's (under the Agent service's
 * request bound, 160 KiB) and a server's answer (well under a frame). */
#define PUSH_MAX   ((size_t)96 << 10)
#define ANSWER_MAX ((size_t)1 << 20)
/* An exchange's rpc deadline beyond its hold. */
#define EXCHANGE_TIMEOUT_MS 5000u
#define RETRY_NS            ((int64_t)200 * BERTH_NSEC_PER_MSEC)
/* The answer to a held exchange leaves this long before its deadline. */
#define HOLD_MARGIN_NS ((int64_t)200 * BERTH_NSEC_PER_MSEC)
/* Most chunks one exchange carries either way. */
#define CHUNKS_MAX 256

typedef struct dchunk {
    struct dchunk *next;
    uint64_t seq;
    uint32_t channel;
    bool eof;
    size_t len;
    uint8_t data[];
} dchunk;

typedef struct queue {
    dchunk *head, *tail;
    size_t bytes;
} queue;

/* A caller's exchange on the wire: it outlives a stream cancelled under
 * it, so its answer finds d NULL and is dropped. */
typedef struct ticket {
    berth_duplex *d;
    bool poll;
} ticket;

typedef struct held {
    berth_rpc_call *call;
    ProtobufCClosure closure;
    uint64_t ack;
    uint32_t room;
} held;

typedef struct splice splice;

struct berth_duplex {
    bool server_end;
    berth_duplex_ops ops;
    void *data;
    berth_loop *loop;
    size_t capacity;
    berth_loop_timer kick;

    queue out;         /* written, not yet acknowledged: seqs peer_ack+1 ... */
    uint64_t out_next; /* the next chunk's number */
    uint64_t peer_ack;
    bool want_writable;

    queue in;         /* taken, not yet read */
    uint64_t in_have; /* every chunk up to this taken */
    dchunk *reading;  /* handed out by the last read */
    bool paused, readable_due;

    /* The end: the server's (berth_duplex_end: ending), the caller's
     * (an ended answer: end_known), or a failure (failed). */
    bool ending, end_known, failed;
    int end_code;
    char *end_msg;
    uint64_t end_seq;
    berth_duplex_stats stats;
    splice *splice;

    /* server's end */
    berth_duplex_server *srv;
    berth_duplex *prev, *next;
    uint64_t id;
    berth_principal peer;
    int64_t last_seen;
    held hold;
    berth_loop_timer hold_timer;
    size_t room_told;

    /* caller's end */
    berth_rpc_client *client;
    const ProtobufCServiceDescriptor *svc;
    uint64_t server_room;
    ticket *poll, *push;
    size_t poll_room; /* the room the poll on the wire told */
    int64_t last_ok;
    int64_t retry_at;
};

struct berth_duplex_server {
    berth_loop *loop;
    size_t max_streams, max_per_peer, n_streams, capacity;
    uint64_t opened;
    int64_t idle_ns;
    berth_duplex *streams;
    berth_loop_timer sweep;
};

struct splice {
    berth_duplex *a, *b;
    berth_duplex_watch_fn watch;
    berth_duplex_spliced_fn done;
    void *data;
};

static void kick_soon(berth_duplex *d)
{
    if (!berth_loop_timer_armed(&d->kick) || d->kick.deadline > 0)
        berth_loop_timer_arm(d->loop, &d->kick, 0);
}

/* ---- queues ---------------------------------------------------------------------------- */

static void queue_push(queue *q, dchunk *c)
{
    c->next = NULL;
    if (q->tail)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->bytes += c->len;
}

static dchunk *queue_pop(queue *q)
{
    dchunk *c = q->head;

    if (!c)
        return NULL;
    q->head = c->next;
    if (!q->head)
        q->tail = NULL;
    q->bytes -= c->len;
    return c;
}

static void queue_clear(queue *q)
{
    dchunk *c;

    while ((c = queue_pop(q)))
        free(c);
}

static dchunk *chunk_new(uint32_t channel, const void *data, size_t len, bool eof)
{
    dchunk *c = berth_xmalloc(sizeof(*c) + len);

    c->next = NULL;
    c->seq = 0;
    c->channel = channel;
    c->eof = eof;
    c->len = len;
    if (len)
        memcpy(c->data, data, len);
    return c;
}

/* The other end has everything up to ack: drop it from out. */
static void release_out(berth_duplex *d, uint64_t ack)
{
    if (ack >= d->out_next)
        ack = d->out_next - 1; /* never what was not written */
    while (d->out.head && d->out.head->seq <= ack) {
        dchunk *c = queue_pop(&d->out);

        d->stats.chunks_out++;
        d->stats.bytes_out += c->len;
        free(c);
    }
    if (ack > d->peer_ack)
        d->peer_ack = ack;
}

/* Take chunks numbered seq, seq+1 ... from the other end as far as they
 * are next and fit (dropped when nobody reads any more). Whether any was
 * new. */
static bool take_chunks(berth_duplex *d, uint64_t seq, DuplexChunk **chunks, size_t n, bool discard)
{
    bool got = false;

    for (size_t i = 0; i < n; i++, seq++) {
        const DuplexChunk *in = chunks[i];

        if (seq <= d->in_have)
            continue;
        if (seq != d->in_have + 1)
            break;
        if (!discard && d->in.bytes && d->in.bytes + in->data.len > d->capacity)
            break; /* no room: not acknowledged, the sender keeps it */
        d->in_have = seq;
        d->stats.chunks_in++;
        d->stats.bytes_in += in->data.len;
        got = true;
        if (!discard) {
            queue_push(&d->in, chunk_new(in->channel, in->data.data, in->data.len, in->eof));
            d->readable_due = true;
            if (d->in.bytes > d->stats.in_queued_max)
                d->stats.in_queued_max = d->in.bytes;
        }
    }
    return got;
}

static size_t room_in(const berth_duplex *d)
{
    return d->in.bytes >= d->capacity ? 0 : d->capacity - d->in.bytes;
}

/* Whether the room to tell grew enough since told to be worth telling. */
static bool room_news(size_t told, size_t now, size_t capacity)
{
    return now > told && ((told < BERTH_DUPLEX_CHUNK_MAX && now >= BERTH_DUPLEX_CHUNK_MAX) ||
                          now - told >= capacity / 2);
}

/* Fill chunk pointers from out: the chunks after ack that fit in room
 * (at most max_bytes, CHUNKS_MAX); returns how many, with *ret_seq the
 * first one's number. */
static size_t gather(const berth_duplex *d, uint64_t ack, size_t room, size_t max_bytes,
                     DuplexChunk *storage, DuplexChunk **ptrs, uint64_t *ret_seq)
{
    size_t n = 0, bytes = 0;

    *ret_seq = 0;
    if (room > max_bytes)
        room = max_bytes;
    for (const dchunk *c = d->out.head; c && n < CHUNKS_MAX; c = c->next) {
        if (c->seq <= ack)
            continue;
        if (bytes + c->len > room && !(c->len == 0 && bytes <= room))
            break;
        if (!n)
            *ret_seq = c->seq;
        duplex_chunk_init(&storage[n]);
        storage[n].channel = c->channel;
        storage[n].data.data = (uint8_t *)c->data;
        storage[n].data.len = c->len;
        storage[n].eof = c->eof;
        ptrs[n] = &storage[n];
        bytes += c->len;
        n++;
    }
    return n;
}

/* ---- either end -------------------------------------------------------------------------- */

static size_t room_out(const berth_duplex *d)
{
    if (d->ending || d->failed || d->end_known)
        return 0;
    return d->out.bytes >= d->capacity ? 0 : d->capacity - d->out.bytes;
}

size_t berth_duplex_room(berth_duplex *d)
{
    size_t room = room_out(d);

    if (!room)
        d->want_writable = true;
    return room;
}

int berth_duplex_write(berth_duplex *d, uint32_t channel, const void *data, size_t len, bool eof,
                       berth_error **err)
{
    const uint8_t *p = data;

    if (d->ending || d->failed || d->end_known)
        return berth_error_set(err, EPIPE, "duplex stream: ending, nothing more can be written");
    if (!berth_duplex_room(d)) {
        return berth_error_set(err, EAGAIN, "duplex stream: %zu bytes queued already",
                               d->out.bytes);
    }
    do {
        size_t n = len > BERTH_DUPLEX_CHUNK_MAX ? BERTH_DUPLEX_CHUNK_MAX : len;
        dchunk *c = chunk_new(channel, p, n, eof && n == len);

        c->seq = d->out_next++;
        queue_push(&d->out, c);
        p += n;
        len -= n;
    } while (len);
    if (d->out.bytes > d->stats.out_queued_max)
        d->stats.out_queued_max = d->out.bytes;
    kick_soon(d);
    return 0;
}

int berth_duplex_read(berth_duplex *d, berth_duplex_chunk *ret)
{
    size_t before = room_in(d);

    free(d->reading);
    d->reading = queue_pop(&d->in);
    if (room_news(before, room_in(d), d->capacity) || !d->in.head)
        kick_soon(d); /* the other end may be waiting for room */
    if (!d->reading)
        return 0;
    ret->channel = d->reading->channel;
    ret->data = d->reading->data;
    ret->len = d->reading->len;
    ret->eof = d->reading->eof;
    return 1;
}

void berth_duplex_pause(berth_duplex *d, bool paused)
{
    d->paused = paused;
    if (!paused) {
        d->readable_due = true;
        kick_soon(d);
    }
}

const berth_duplex_stats *berth_duplex_stats_of(const berth_duplex *d)
{
    return &d->stats;
}

uint64_t berth_duplex_id(const berth_duplex *d)
{
    return d->id;
}

bool berth_duplex_server_side(const berth_duplex *d)
{
    return d->server_end;
}

void berth_duplex_set_ops(berth_duplex *d, const berth_duplex_ops *ops, void *data)
{
    d->ops = *ops;
    d->data = data;
    d->readable_due = true;
    kick_soon(d);
}

static void duplex_free(berth_duplex *d)
{
    berth_loop_timer_cancel(d->loop, &d->kick);
    berth_loop_timer_cancel(d->loop, &d->hold_timer);
    queue_clear(&d->out);
    queue_clear(&d->in);
    free(d->reading);
    free(d->end_msg);
    if (d->poll)
        d->poll->d = NULL;
    if (d->push)
        d->push->d = NULL;
    free(d);
}

static void set_end(berth_duplex *d, int code, const char *msg)
{
    d->end_code = code;
    free(d->end_msg);
    d->end_msg = berth_xstrdup(msg ? msg : "");
}

static void server_drop(berth_duplex *d);
static void say_done(berth_duplex *d);

/* The callbacks due, one a kick (each may free d): readable, writable,
 * then the end once everything was read. Returns true when d is gone or a
 * callback was made (the kick is re-armed first). */
static bool deliver(berth_duplex *d)
{
    bool end = d->failed || (d->end_known && d->in_have >= d->end_seq && !d->in.head);

    if (d->in.head && !d->paused && d->readable_due && d->ops.on_readable) {
        d->readable_due = false;
        kick_soon(d);
        d->ops.on_readable(d, d->data);
        return true;
    }
    if (d->want_writable && room_out(d) && !end) {
        d->want_writable = false;
        kick_soon(d);
        if (d->ops.on_writable)
            d->ops.on_writable(d, d->data);
        return true;
    }
    if (end) {
        if (!d->server_end && d->end_known && !d->failed)
            say_done(d);
        if (d->ops.on_end)
            d->ops.on_end(d, d->end_code, d->end_msg, d->data);
        if (d->server_end)
            server_drop(d); /* only a failure ends it here: its caller is gone */
        else
            duplex_free(d);
        return true;
    }
    return false;
}

/* ---- the server's end ------------------------------------------------------------------- */

/* Answer an exchange: with chunks after ack that fit in room when it is
 * a poll, with acknowledgement and room only when not. */
static void server_answer(berth_duplex *d, berth_rpc_call *call, ProtobufCClosure closure,
                          bool poll, uint64_t ack, uint32_t room)
{
    _cleanup_free_ DuplexChunk *storage = berth_xcalloc(CHUNKS_MAX, sizeof(*storage));
    _cleanup_free_ DuplexChunk **ptrs = berth_xcalloc(CHUNKS_MAX, sizeof(*ptrs));
    DuplexExchanged resp = DUPLEX_EXCHANGED_INIT;
    Status st = STATUS_INIT;

    if (poll)
        resp.n_chunks = gather(d, ack, room, ANSWER_MAX, storage, ptrs, &resp.seq);
    resp.chunks = ptrs;
    resp.ack = d->in_have;
    resp.room = (uint32_t)(d->ending ? d->capacity : room_in(d));
    d->room_told = resp.room;
    if (d->ending) {
        resp.ended = true;
        resp.end_seq = d->end_seq;
        st.code = (Code)d->end_code;
        st.message = d->end_msg ? d->end_msg : (char *)"";
        resp.status = &st;
    }
    d->stats.exchanges++;
    closure(&resp.base, call);
}

static void answer_held(berth_duplex *d)
{
    held h = d->hold;

    if (!h.call)
        return;
    memset(&d->hold, 0, sizeof(d->hold));
    berth_loop_timer_cancel(d->loop, &d->hold_timer);
    server_answer(d, h.call, h.closure, true, h.ack, h.room);
}

/* Whether a held exchange has something to take back now. */
static bool server_news(const berth_duplex *d, uint64_t ack, uint32_t room)
{
    const dchunk *next = d->out.head;

    while (next && next->seq <= ack)
        next = next->next;
    /* a chunk that fits; nothing left but the end, which is news itself
     * (a caller with no room for what is left waits like any other) */
    if (next && next->len <= room)
        return true;
    if (!next && d->ending)
        return true;
    return !d->ending && room_news(d->room_told, room_in(d), d->capacity);
}

static void on_hold_timer(berth_loop_timer *t)
{
    answer_held(berth_container_of(t, berth_duplex, hold_timer));
}

static void server_unlink(berth_duplex *d)
{
    berth_duplex_server *srv = d->srv;

    if (!srv)
        return;
    if (d->prev)
        d->prev->next = d->next;
    else
        srv->streams = d->next;
    if (d->next)
        d->next->prev = d->prev;
    srv->n_streams--;
    d->srv = NULL;
}

/* Forget a server's stream: its held exchange is answered first. */
static void server_drop(berth_duplex *d)
{
    if (d->hold.call) {
        berth_rpc_call *call = d->hold.call;

        memset(&d->hold, 0, sizeof(d->hold));
        berth_rpc_call_fail(call, CODE_NOT_FOUND, "duplex stream: gone");
    }
    server_unlink(d);
    duplex_free(d);
}

static void server_kick(berth_loop_timer *t)
{
    berth_duplex *d = berth_container_of(t, berth_duplex, kick);

    if (d->hold.call && server_news(d, d->hold.ack, d->hold.room))
        answer_held(d);
    if (!d->ending)
        (void)deliver(d);
}

static void on_sweep(berth_loop_timer *t)
{
    berth_duplex_server *srv = berth_container_of(t, berth_duplex_server, sweep);
    int64_t now = berth_now_mono_ns();
    berth_duplex *next;

    for (berth_duplex *d = srv->streams; d; d = next) {
        next = d->next;
        if (d->ending) {
            if (!d->hold.call && now - d->last_seen > LINGER_NS)
                server_drop(d);
        } else if (!d->failed && !d->hold.call && now - d->last_seen > srv->idle_ns) {
            char msg[96];

            snprintf(msg, sizeof(msg), "the caller went away (no exchange for %" PRId64 " ms)",
                     (now - d->last_seen) / BERTH_NSEC_PER_MSEC);
            set_end(d, CODE_CANCELLED, msg);
            d->failed = true;
            kick_soon(d);
        }
    }
    berth_loop_timer_arm(srv->loop, &srv->sweep, now + SWEEP_NS);
}

berth_duplex_server *berth_duplex_server_new(const berth_duplex_server_config *cfg)
{
    berth_duplex_server *srv = berth_xcalloc(1, sizeof(*srv));

    srv->loop = cfg->loop;
    srv->max_streams = cfg->max_streams ? cfg->max_streams : DEFAULT_MAX_STREAMS;
    srv->max_per_peer = cfg->max_per_peer && cfg->max_per_peer < srv->max_streams
                            ? cfg->max_per_peer
                            : srv->max_streams;
    srv->capacity = cfg->capacity ? cfg->capacity : BERTH_DUPLEX_CAPACITY;
    /* a whole chunk must always fit */
    if (srv->capacity < 2 * BERTH_DUPLEX_CHUNK_MAX)
        srv->capacity = 2 * BERTH_DUPLEX_CHUNK_MAX;
    srv->idle_ns =
        (int64_t)(cfg->idle_ms ? cfg->idle_ms : BERTH_DUPLEX_IDLE_MS) * BERTH_NSEC_PER_MSEC;
    berth_loop_timer_init(&srv->sweep, on_sweep);
    return srv;
}

void berth_duplex_server_free(berth_duplex_server *srv)
{
    if (!srv)
        return;
    while (srv->streams) {
        berth_duplex *d = srv->streams;

        if (!d->ending && d->ops.on_end)
            d->ops.on_end(d, CODE_CANCELLED, "the server is shutting down", d->data);
        server_drop(d);
    }
    berth_loop_timer_cancel(srv->loop, &srv->sweep);
    free(srv);
}

size_t berth_duplex_server_count(const berth_duplex_server *srv)
{
    return srv->n_streams;
}

void berth_duplex_server_write_metrics(berth_prom *w, const berth_duplex_server *srv)
{
    size_t ending = 0;
    berth_prom_label l = { "state", "open" };

    for (const berth_duplex *d = srv->streams; d; d = d->next)
        if (d->ending)
            ending++;
    berth_prom_family(w, "berth_streams_open", BERTH_PROM_GAUGE,
                      "Streams (exec, attach, port-forward connections) open now, by state: "
                      "open, or ended and kept for a caller's last answer.");
    berth_prom_sample_u64(w, &l, 1, srv->n_streams - ending);
    l.value = "ended";
    berth_prom_sample_u64(w, &l, 1, ending);
    berth_prom_single(w, "berth_streams_opened_total", BERTH_PROM_COUNTER,
                      "Streams (exec, attach, port-forward connections) opened.",
                      (double)srv->opened);
}

int berth_duplex_server_open(berth_duplex_server *srv, const berth_principal *peer,
                             const berth_duplex_ops *ops, void *data, berth_duplex **ret_d,
                             DuplexOpened *ret_opened, berth_error **err)
{
    berth_duplex *d;

    if (srv->n_streams >= srv->max_streams) {
        /* an ended stream kept for a lost answer's retry, whose caller has
         * stopped asking (one still reading polls every second), is the
         * first to go: the one silent longest */
        int64_t now = berth_now_mono_ns();
        berth_duplex *oldest = NULL;

        for (berth_duplex *o = srv->streams; o; o = o->next)
            if (o->ending && !o->hold.call && now - o->last_seen > IDLE_ENDED_NS &&
                (!oldest || o->last_seen < oldest->last_seen))
                oldest = o;
        if (oldest)
            server_drop(oldest);
    }
    if (srv->n_streams >= srv->max_streams)
        return berth_error_set(err, ENOSPC, "%zu streams open already", srv->n_streams);
    {
        size_t mine = 0;

        for (berth_duplex *o = srv->streams; o; o = o->next)
            if (!o->ending && berth_id_eq(o->peer.id, peer->id))
                mine++;
        if (mine >= srv->max_per_peer)
            return berth_error_set(err, ENOSPC, "%s %s has %zu streams open already",
                                   berth_role_name(peer->role), peer->name, mine);
    }
    d = berth_xcalloc(1, sizeof(*d));
    d->server_end = true;
    d->ops = *ops;
    d->data = data;
    d->loop = srv->loop;
    d->capacity = srv->capacity;
    d->out_next = 1;
    d->srv = srv;
    d->peer = *peer;
    d->last_seen = berth_now_mono_ns();
    d->room_told = srv->capacity;
    do
        randombytes_buf(&d->id, sizeof(d->id));
    while (!d->id);
    berth_loop_timer_init(&d->kick, server_kick);
    berth_loop_timer_init(&d->hold_timer, on_hold_timer);
    d->next = srv->streams;
    if (srv->streams)
        srv->streams->prev = d;
    srv->streams = d;
    srv->n_streams++;
    srv->opened++;
    if (!berth_loop_timer_armed(&srv->sweep))
        berth_loop_timer_arm(srv->loop, &srv->sweep, berth_now_mono_ns() + SWEEP_NS);
    duplex_opened_init(ret_opened);
    ret_opened->stream = d->id;
    ret_opened->room = (uint32_t)srv->capacity;
    *ret_d = d;
    return 0;
}

void berth_duplex_server_exchange(berth_duplex_server *srv, berth_rpc_call *call,
                                  const DuplexExchange *req, ProtobufCClosure closure)
{
    const berth_principal *peer = berth_rpc_call_peer(call);
    int64_t now = berth_now_mono_ns(), due;
    berth_duplex *d;
    uint32_t wait_ms;

    for (d = srv->streams; d; d = d->next)
        if (d->id == req->stream && berth_id_eq(d->peer.id, peer->id))
            break;
    if (!d) {
        berth_rpc_call_fail(call, CODE_NOT_FOUND, "duplex stream %016" PRIx64 ": not open",
                            req->stream);
        return;
    }
    d->last_seen = now;
    if (req->cancel) {
        DuplexExchanged resp = DUPLEX_EXCHANGED_INIT;

        if (d->ending) {
            /* the caller has the end: nothing lingers for it */
            closure(&resp.base, call);
            server_drop(d);
            return;
        }
        if (!d->failed) {
            set_end(d, CODE_CANCELLED, "the caller cancelled");
            d->failed = true;
            kick_soon(d);
        }
        answer_held(d);
        closure(&resp.base, call);
        return;
    }
    if (req->n_chunks > CHUNKS_MAX || req->room > (1u << 30)) {
        berth_rpc_call_fail(call, CODE_INVALID_ARGUMENT, "an exchange carries at most %d chunks",
                            CHUNKS_MAX);
        return;
    }
    release_out(d, req->ack);
    if (d->want_writable && room_out(d))
        kick_soon(d);
    if (take_chunks(d, req->seq, req->chunks, req->n_chunks, d->ending || d->failed))
        kick_soon(d);
    if (!req->wait_ms) {
        /* chunks or news of room while a poll waits: the poll learns them */
        if (d->hold.call) {
            if (req->ack > d->hold.ack)
                d->hold.ack = req->ack;
            d->hold.room = req->room;
            if (server_news(d, d->hold.ack, d->hold.room))
                kick_soon(d);
        }
        server_answer(d, call, closure, false, req->ack, req->room);
        return;
    }
    /* a newer poll supersedes the one held */
    answer_held(d);
    wait_ms = req->wait_ms > BERTH_DUPLEX_HOLD_MS ? BERTH_DUPLEX_HOLD_MS : req->wait_ms;
    due = now + (int64_t)wait_ms * BERTH_NSEC_PER_MSEC;
    if (berth_rpc_call_deadline(call) - HOLD_MARGIN_NS < due)
        due = berth_rpc_call_deadline(call) - HOLD_MARGIN_NS;
    if (due <= now || server_news(d, req->ack, req->room)) {
        server_answer(d, call, closure, true, req->ack, req->room);
        return;
    }
    d->hold.call = call;
    d->hold.closure = closure;
    d->hold.ack = req->ack;
    d->hold.room = req->room;
    berth_loop_timer_arm(d->loop, &d->hold_timer, due);
}

void berth_duplex_end(berth_duplex *d, int code, const char *fmt, ...)
{
    _cleanup_free_ char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        berth_oom();
    va_end(ap);
    if (!d->server_end || d->ending)
        return;
    set_end(d, code, msg);
    d->ending = true;
    d->failed = false;
    d->end_seq = d->out_next - 1;
    memset(&d->ops, 0, sizeof(d->ops));
    queue_clear(&d->in);
    free(d->reading);
    d->reading = NULL;
    kick_soon(d);
}

/* ---- the caller's end ------------------------------------------------------------------- */

static void client_exchange(berth_duplex *d, bool poll);

static bool retryable(int code)
{
    return code == CODE_DEADLINE_EXCEEDED || code == CODE_UNAVAILABLE || code == CODE_ABORTED ||
           code == CODE_RESOURCE_EXHAUSTED;
}

static void client_fail(berth_duplex *d, int code, const char *msg)
{
    if (d->failed)
        return;
    set_end(d, code, msg);
    d->failed = true;
    kick_soon(d);
}

static void on_exchanged(berth_rpc_result *r, void *data)
{
    ticket *t = data;
    berth_duplex *d = t->d;
    const DuplexExchanged *resp = (const DuplexExchanged *)r->response;
    int64_t now = berth_now_mono_ns();

    if (d) {
        if (t->poll)
            d->poll = NULL;
        else
            d->push = NULL;
    }
    free(t);
    if (!d || d->failed)
        return;
    if (r->code != CODE_OK) {
        if (!retryable(r->code) ||
            now - d->last_ok > (int64_t)BERTH_DUPLEX_IDLE_MS * BERTH_NSEC_PER_MSEC) {
            char msg[512];

            snprintf(msg, sizeof(msg), "duplex stream: %s", r->message ? r->message : "failed");
            client_fail(d, r->code, msg);
            return;
        }
        d->stats.retries++;
        d->retry_at = now + RETRY_NS;
        berth_loop_timer_arm(d->loop, &d->kick, d->retry_at);
        return;
    }
    d->last_ok = now;
    if (resp->ack >= d->peer_ack) {
        release_out(d, resp->ack);
        d->server_room = resp->room;
    }
    take_chunks(d, resp->seq, resp->chunks, resp->n_chunks, false);
    if (resp->ended && !d->end_known) {
        d->end_known = true;
        d->end_seq = resp->end_seq;
        set_end(d, resp->status ? (int)resp->status->code : CODE_UNKNOWN,
                resp->status ? resp->status->message : "");
    }
    kick_soon(d);
}

/* Whether the first chunk of out fits in the server's room. */
static bool pushable(const berth_duplex *d)
{
    return d->out.head && d->out.head->len <= d->server_room;
}

static void client_exchange(berth_duplex *d, bool poll)
{
    _cleanup_free_ DuplexChunk *storage = NULL;
    _cleanup_free_ DuplexChunk **ptrs = NULL;
    DuplexExchange req = DUPLEX_EXCHANGE_INIT;
    ticket *t = berth_xcalloc(1, sizeof(*t));
    berth_error *err = NULL;

    req.stream = d->id;
    req.ack = d->in_have;
    req.room = (uint32_t)room_in(d);
    if (poll) {
        req.wait_ms = BERTH_DUPLEX_HOLD_MS;
        d->poll_room = req.room;
    } else {
        storage = berth_xcalloc(CHUNKS_MAX, sizeof(*storage));
        ptrs = berth_xcalloc(CHUNKS_MAX, sizeof(*ptrs));
        if (!d->end_known)
            req.n_chunks =
                gather(d, d->peer_ack, d->server_room, PUSH_MAX, storage, ptrs, &req.seq);
        req.chunks = ptrs;
        d->poll_room = req.room; /* the waiting poll learns it */
    }
    t->d = d;
    t->poll = poll;
    if (berth_rpc_client_call(d->client, d->svc, "Exchange", &req.base,
                              (poll ? BERTH_DUPLEX_HOLD_MS : 0) + EXCHANGE_TIMEOUT_MS, on_exchanged,
                              t, &err) < 0) {
        free(t);
        client_fail(d, CODE_INTERNAL, err->msg);
        berth_error_free(&err);
        return;
    }
    d->stats.exchanges++;
    if (poll)
        d->poll = t;
    else
        d->push = t;
}

static void client_kick(berth_loop_timer *t)
{
    berth_duplex *d = berth_container_of(t, berth_duplex, kick);
    int64_t now = berth_now_mono_ns();

    if (!d->failed && now >= d->retry_at) {
        bool more_in = !d->end_known || d->in_have < d->end_seq;

        /* chunks to send (none once the end came), or news of room for
         * the poll that waits (the end's tail too) */
        if (!d->push && ((!d->end_known && pushable(d)) ||
                         (d->poll && more_in && room_news(d->poll_room, room_in(d), d->capacity))))
            client_exchange(d, false);
        if (!d->poll && more_in && !d->failed)
            client_exchange(d, true);
    } else if (!d->failed) {
        berth_loop_timer_arm(d->loop, &d->kick, d->retry_at);
    }
    (void)deliver(d);
}

int berth_duplex_client_open(const berth_duplex_client_config *cfg, const DuplexOpened *opened,
                             const berth_duplex_ops *ops, void *data, berth_duplex **ret_d,
                             berth_error **err)
{
    berth_duplex *d;

    if (!opened->stream)
        return berth_error_set(err, EPROTO, "duplex stream: the server opened none");
    d = berth_xcalloc(1, sizeof(*d));
    d->ops = *ops;
    d->data = data;
    d->loop = berth_rpc_client_loop(cfg->client);
    d->client = cfg->client;
    d->svc = cfg->service;
    d->capacity = cfg->capacity ? cfg->capacity : BERTH_DUPLEX_CAPACITY;
    if (d->capacity < 2 * BERTH_DUPLEX_CHUNK_MAX)
        d->capacity = 2 * BERTH_DUPLEX_CHUNK_MAX;
    d->id = opened->stream;
    d->out_next = 1;
    d->server_room = opened->room;
    d->last_ok = berth_now_mono_ns();
    berth_loop_timer_init(&d->kick, client_kick);
    berth_loop_timer_init(&d->hold_timer, NULL);
    kick_soon(d);
    *ret_d = d;
    return 0;
}

static void on_cancelled(berth_rpc_result *r, void *data)
{
    (void)r;
    (void)data;
}

/* The caller has the end and every chunk: the server may forget the
 * stream now rather than keep it for a retry (fire and forget). */
static void say_done(berth_duplex *d)
{
    DuplexExchange req = DUPLEX_EXCHANGE_INIT;

    req.stream = d->id;
    req.ack = d->in_have;
    req.cancel = true;
    (void)berth_rpc_client_call(d->client, d->svc, "Exchange", &req.base, EXCHANGE_TIMEOUT_MS,
                                on_cancelled, NULL, NULL);
}

void berth_duplex_cancel(berth_duplex *d)
{
    DuplexExchange req = DUPLEX_EXCHANGE_INIT;

    if (!d)
        return;
    if (d->server_end) {
        berth_duplex_end(d, CODE_CANCELLED, "cancelled");
        return;
    }
    /* (once the end came, the same word says we have it) */
    req.stream = d->id;
    req.ack = d->in_have;
    req.cancel = true;
    (void)berth_rpc_client_call(d->client, d->svc, "Exchange", &req.base, EXCHANGE_TIMEOUT_MS,
                                on_cancelled, NULL, NULL);
    duplex_free(d);
}

/* ---- splice ------------------------------------------------------------------------------- */

static void splice_pump(splice *s, berth_duplex *from)
{
    berth_duplex *to = from == s->a ? s->b : s->a;
    berth_duplex_chunk c;

    while (berth_duplex_room(to)) {
        if (berth_duplex_read(from, &c) != 1)
            return;
        if (s->watch)
            s->watch(&c, to == s->a, s->data);
        if (berth_duplex_write(to, c.channel, c.data, c.len, c.eof, NULL) < 0)
            return;
    }
    /* to is full: hold from back until to has room */
    berth_duplex_pause(from, true);
    to->want_writable = true;
}

static void splice_readable(berth_duplex *d, void *data)
{
    splice_pump(data, d);
}

static void splice_writable(berth_duplex *d, void *data)
{
    splice *s = data;
    berth_duplex *from = d == s->a ? s->b : s->a;

    berth_duplex_pause(from, false);
    splice_pump(s, from);
}

static void splice_end(berth_duplex *d, int code, const char *msg, void *data)
{
    splice *s = data;
    berth_duplex *other = d == s->a ? s->b : s->a;

    if (other->server_end)
        berth_duplex_end(other, code, "%s", msg);
    else
        berth_duplex_cancel(other);
    if (s->done)
        s->done(code, msg, s->data);
    free(s);
}

void berth_duplex_splice(berth_duplex *a, berth_duplex *b, berth_duplex_watch_fn watch,
                         berth_duplex_spliced_fn done, void *data)
{
    static const berth_duplex_ops ops = { .on_readable = splice_readable,
                                          .on_writable = splice_writable,
                                          .on_end = splice_end };
    splice *s = berth_xcalloc(1, sizeof(*s));

    s->a = a;
    s->b = b;
    s->watch = watch;
    s->done = done;
    s->data = data;
    a->ops = b->ops = ops;
    a->data = b->data = s;
    a->splice = b->splice = s;
    kick_soon(a);
    kick_soon(b);
}
