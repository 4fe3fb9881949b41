/* The monitor's exec socket (execsock.h). */
#include "execsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"
#include "pb/pb.h"

/* dirfd's exec.sock as a path short enough for sun_path, whatever the
 * directory's own length: through our fd of it. */
static void sock_addr(int dirfd, struct sockaddr_un *sa)
{
    *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
    snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/" BERTH_STATEDIR_EXEC, dirfd);
}

int berth_execsock_listen(int dirfd, int *ret_fd, berth_error **err)
{
    struct sockaddr_un sa;
    int fd;

    sock_addr(dirfd, &sa);
    if (unlinkat(dirfd, BERTH_STATEDIR_EXEC, 0) < 0 && errno != ENOENT)
        return berth_error_errno(err, "remove the old %s", BERTH_STATEDIR_EXEC);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return berth_error_errno(err, "socket");
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        fchmodat(dirfd, BERTH_STATEDIR_EXEC, 0600, 0) < 0 || listen(fd, 16) < 0) {
        berth_error_errno(err, "listen on %s", BERTH_STATEDIR_EXEC);
        close(fd);
        return -1;
    }
    *ret_fd = fd;
    return 0;
}

int berth_execsock_connect(int dirfd, const ExecRequest *req, int *ret_sock, berth_error **err)
{
    struct sockaddr_un sa;
    int fd;

    sock_addr(dirfd, &sa);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return berth_error_errno(err, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;

        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return berth_error_set(err, ESRCH, "no monitor takes execs here (%s)", strerror(e));
        errno = e;
        return berth_error_errno(err, "connect to the monitor's %s", BERTH_STATEDIR_EXEC);
    }
    if (berth_execsock_send(fd, &req->base, NULL, 0, err) < 0) {
        close(fd);
        return -1;
    }
    *ret_sock = fd;
    return 0;
}

int berth_execsock_send(int sock, const ProtobufCMessage *msg, const int *fds, size_t n_fds,
                        berth_error **err)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * BERTH_EXECSOCK_FDS_MAX)];
        struct cmsghdr align;
    } ctl;
    _cleanup_free_ uint8_t *data = NULL;
    struct iovec iov;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    size_t len;

    if (n_fds > BERTH_EXECSOCK_FDS_MAX)
        return berth_error_set(err, EINVAL, "send: %zu fds, at most %d", n_fds,
                               BERTH_EXECSOCK_FDS_MAX);
    data = berth_pb_pack(msg, &len);
    if (len > BERTH_EXECSOCK_MSG_MAX)
        return berth_error_set(err, EMSGSIZE, "send: a message of %zu bytes (at most %d)", len,
                               BERTH_EXECSOCK_MSG_MAX);
    /* a packet of no byte reads as the end: every message here says
     * something (a command, started, an error, exited) */
    if (len == 0)
        return berth_error_set(err, EINVAL, "send: an empty message");
    iov = (struct iovec){ .iov_base = data, .iov_len = len };
    if (n_fds) {
        struct cmsghdr *c;

        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
    }
    if (sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
        return berth_error_errno(err, "send on the exec socket");
    return 0;
}

int berth_execsock_recv(int sock, const ProtobufCMessageDescriptor *d, ProtobufCMessage **ret_msg,
                        int fds[BERTH_EXECSOCK_FDS_MAX], size_t *ret_nfds, berth_error **err)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * BERTH_EXECSOCK_FDS_MAX)];
        struct cmsghdr align;
    } ctl;
    _cleanup_free_ uint8_t *data = berth_xmalloc(BERTH_EXECSOCK_MSG_MAX);
    struct iovec iov = { .iov_base = data, .iov_len = BERTH_EXECSOCK_MSG_MAX };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)
    };
    size_t nfds = 0;
    ProtobufCMessage *msg;
    ssize_t n;

    n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n < 0)
        return berth_error_errno(err, "receive on the exec socket");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

            for (size_t i = 0; i < k; i++) {
                int fd;

                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (nfds < BERTH_EXECSOCK_FDS_MAX)
                    fds[nfds++] = fd;
                else
                    close(fd);
            }
        }
    if (n == 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        if (n == 0)
            return berth_error_set(err, EPIPE, "the exec socket's peer closed it");
        return berth_error_set(err, EBADMSG, "a message too large on the exec socket");
    }
    msg = berth_pb_unpack(d, data, (size_t)n);
    if (!msg) {
        for (size_t i = 0; i < nfds; i++)
            close(fds[i]);
        return berth_error_set(err, EBADMSG, "a message on the exec socket that is no %s",
                               d->short_name);
    }
    *ret_msg = msg;
    *ret_nfds = nfds;
    return 1;
}
