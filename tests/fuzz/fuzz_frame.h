/* fuzz_frame's input: a route byte, then a frame or a payload. Shared with
 * the seed generator, which writes inputs in this format.
 *
 *   route & ROUTE_AUTHENTIC clear: the rest is a frame exactly as it
 *     arrives, hostile bytes nobody authenticated. Its timestamp field
 *     counts from now (the target adds the clock), so an input means the
 *     same whenever it runs.
 *   route & ROUTE_AUTHENTIC set: the rest is a payload that its legitimate
 *     sender authenticates (seals or signs) first, so the fuzzer gets past
 *     the tag and signature checks to everything behind them: a peer that
 *     authenticated and then turned hostile. HELLO and WELCOME payloads
 *     get the keys, proofs and hash their sender would put in them.
 *   route & ROUTE_ALT, with ROUTE_AUTHENTIC: signed frames go to every
 *     node, not node-1; sealed frames are received twice (the second time
 *     a replay, or for the rpc server a duplicate of a call).
 *   route & ROUTE_MASK (modulo ROUTE_COUNT): sender, receiver and kind.
 *     ROUTE_REPLAY takes no frame: the rest is steps of 3 bytes for a
 *     replay window (how to pick the counter, a 16-bit amount). */
#ifndef BERTH_FUZZ_FRAME_H
#define BERTH_FUZZ_FRAME_H

enum route {
    ROUTE_HELLO,    /* node -> controller, rpc: a handshake */
    ROUTE_REQUEST,  /* node -> controller, rpc: a sealed call */
    ROUTE_STREAM,   /* node -> controller, stream: a sealed item */
    ROUTE_ANSWER,   /* node -> controller, survey: a sealed answer */
    ROUTE_WELCOME,  /* controller -> node, rpc: the handshake's answer */
    ROUTE_RESPONSE, /* controller -> node, rpc: a sealed answer to a call */
    ROUTE_EVENT,    /* controller -> node, events: signed */
    ROUTE_QUESTION, /* controller -> node, survey: signed */
    ROUTE_REPLAY,   /* no frame: counters for a replay window */
    ROUTE_COUNT
};

#define ROUTE_MASK      0x0f
#define ROUTE_ALT       0x40
#define ROUTE_AUTHENTIC 0x80

/* frame.h: where the header keeps the timestamp. */
#define FRAME_TIMESTAMP_AT 44
/* auth.h: the HELLO's extension bits, and where a WELCOME carries the hash
 * of the HELLO it answers. */
#define HELLO_EXT_TOKEN  0x01
#define HELLO_EXT_ROTATE 0x02
#define WELCOME_HASH_AT  44

/* Replay steps: how the counter is picked from the amount v. */
enum replay_pick {
    REPLAY_ABOVE,   /* top + v */
    REPLAY_BELOW,   /* top - v */
    REPLAY_HIGHEST, /* UINT64_MAX - v */
    REPLAY_SMALL,   /* v */
    REPLAY_PICKS
};

#endif
