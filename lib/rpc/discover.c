/* Key discovery over a nanomsg REQ socket (discover.h). */
#include "discover.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>
#include <string.h>

#include "auth.h"
#include "base/timeutil.h"
#include "nn-dl.h"

int berth_rpc_discover(const char *address, int timeout_ms, berth_principal *ret_principal,
                       uint8_t ret_pk[BERTH_PUBKEY_LEN], berth_error **err)
{
    uint8_t frame[BERTH_DISCOVER_LEN], challenge[BERTH_DISCOVER_CHALLENGE_LEN];
    int64_t end = berth_now_mono_ns() + (int64_t)timeout_ms * BERTH_NSEC_PER_MSEC;
    berth_error *last = NULL;
    int s, r = -1;

    if (rpc_nn_load(err) < 0)
        return -1;
    s = nn_socket(AF_SP, NN_REQ);
    if (s < 0)
        return berth_error_set(err, nn_errno(), "nanomsg socket: %s", nn_strerror(nn_errno()));
    if (nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof(timeout_ms)) < 0 ||
        nn_connect(s, address) < 0) {
        berth_error_set(err, nn_errno(), "%s: %s", address, nn_strerror(nn_errno()));
        nn_close(s);
        return -1;
    }
    berth_discover_request(frame, challenge);
    if (nn_send(s, frame, sizeof(frame), 0) < 0) {
        berth_error_set(err, ETIMEDOUT, "%s: nothing takes our question (%s)", address,
                        nn_strerror(nn_errno()));
        nn_close(s);
        return -1;
    }
    /* one answer decides (a REQ socket takes one per question); a
     * signal only makes it wait again */
    for (;;) {
        int left = (int)((end - berth_now_mono_ns()) / BERTH_NSEC_PER_MSEC);
        void *msg = NULL;
        int n;

        if (left <= 0)
            break;
        nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &left, sizeof(left));
        n = nn_recv(s, &msg, NN_MSG, 0);
        if (n < 0) {
            if (nn_errno() == EINTR)
                continue;
            break;
        }
        berth_error_free(&last);
        r = berth_discover_answer(msg, (size_t)n, challenge, ret_principal, ret_pk, &last);
        nn_freemsg(msg);
        break;
    }
    nn_close(s);
    if (r == 0)
        return 0;
    if (last) {
        berth_error_prefix(&last, "%s", address);
        if (err)
            *err = last;
        else
            berth_error_free(&last);
        return -1;
    }
    return berth_error_set(err, ETIMEDOUT, "%s: no answer in %d ms (is a berth controller there?)",
                           address, timeout_ms);
}
