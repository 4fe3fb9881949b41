/* The state-directory contract: records, liveness, start and stop. */
#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "pb/pb.h"

/* --- records -------------------------------------------------------------- */

static int write_record(int dirfd, const char *name, const ProtobufCMessage *msg, berth_error **err)
{
    size_t len;
    _cleanup_free_ uint8_t *buf = berth_pb_pack(msg, &len);

    return berth_write_file_atomic_at(dirfd, name, buf, len, 0600, err);
}

static int read_record(int dirfd, const char *name, const ProtobufCMessageDescriptor *desc,
                       ProtobufCMessage **ret, berth_error **err)
{
    _cleanup_free_ char *data = NULL;
    ProtobufCMessage *msg;
    size_t len;

    if (berth_read_file_at(dirfd, name, BERTH_STATEDIR_RECORD_MAX, &data, &len, err) < 0)
        return -1;
    msg = berth_pb_unpack(desc, (const uint8_t *)data, len);
    if (!msg)
        return berth_error_set(err, EBADMSG, "read %s: not a valid %s record", name, desc->name);
    *ret = msg;
    return 0;
}

int berth_statedir_write_plan(int dirfd, const ContainerPlan *plan, berth_error **err)
{
    return write_record(dirfd, BERTH_STATEDIR_PLAN, &plan->base, err);
}

int berth_statedir_write_state(int dirfd, const MonitorState *st, berth_error **err)
{
    return write_record(dirfd, BERTH_STATEDIR_STATE, &st->base, err);
}

int berth_statedir_write_exit(int dirfd, const ExitRecord *rec, berth_error **err)
{
    return write_record(dirfd, BERTH_STATEDIR_EXIT, &rec->base, err);
}

int berth_statedir_read_plan(int dirfd, ContainerPlan **ret_plan, berth_error **err)
{
    return read_record(dirfd, BERTH_STATEDIR_PLAN, &container_plan_descriptor,
                       (ProtobufCMessage **)ret_plan, err);
}

int berth_statedir_read_state(int dirfd, MonitorState **ret_state, berth_error **err)
{
    return read_record(dirfd, BERTH_STATEDIR_STATE, &monitor_state_descriptor,
                       (ProtobufCMessage **)ret_state, err);
}

int berth_statedir_read_exit(int dirfd, ExitRecord **ret_exit, berth_error **err)
{
    return read_record(dirfd, BERTH_STATEDIR_EXIT, &exit_record_descriptor,
                       (ProtobufCMessage **)ret_exit, err);
}

/* --- liveness ------------------------------------------------------------- */

/* How long a starting monitor waits for probers to let go of its lock. */
#define LOCK_WAIT_MS 100

/* Wait up to timeout_ms for fd's file to be closed by someone (a prober
 * letting go), then return: whether the lock is free now is for the
 * caller to try. */
static int wait_for_a_close(int fd, int timeout_ms, berth_error **err)
{
    _cleanup_close_ int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    char path[64], buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct pollfd pfd = { .events = POLLIN };

    if (in < 0)
        return berth_error_errno(err, "inotify_init1");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (inotify_add_watch(in, path, IN_CLOSE_NOWRITE | IN_CLOSE_WRITE) < 0)
        return berth_error_errno(err, "watch %s", BERTH_STATEDIR_LOCK);
    /* A close between the caller's try and the watch: try once more. */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
        return 0;
    }
    pfd.fd = in;
    if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
        return berth_error_errno(err, "wait for %s", BERTH_STATEDIR_LOCK);
    while (read(in, buf, sizeof(buf)) > 0)
        ;
    return 0;
}

int berth_monitor_lock(int dirfd, int *ret_fd, berth_error **err)
{
    _cleanup_close_ int fd =
        openat(dirfd, BERTH_STATEDIR_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    int64_t deadline = berth_now_mono_ns() + LOCK_WAIT_MS * BERTH_NSEC_PER_MSEC;

    if (fd < 0)
        return berth_error_errno(err, "open %s", BERTH_STATEDIR_LOCK);
    /* A prober holds a shared lock for an instant (open, lock, unlock,
     * close): wait for it to close the file, a little, before deciding
     * that another monitor lives. */
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int64_t left = (deadline - berth_now_mono_ns()) / BERTH_NSEC_PER_MSEC;

        if (errno != EWOULDBLOCK)
            return berth_error_errno(err, "lock %s", BERTH_STATEDIR_LOCK);
        if (left <= 0)
            return berth_error_set(err, EWOULDBLOCK,
                                   "another monitor holds %s: it supervises this container",
                                   BERTH_STATEDIR_LOCK);
        if (wait_for_a_close(fd, (int)left, err) < 0)
            return -1;
    }
    *ret_fd = TAKE_FD(fd);
    return 0;
}

int berth_monitor_probe(int dirfd, berth_monitor_liveness *ret, berth_error **err)
{
    _cleanup_close_ int fd = openat(dirfd, BERTH_STATEDIR_LOCK, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    MonitorState *st = NULL;
    _cleanup_error_ berth_error *serr = NULL;

    if (fd < 0) {
        if (errno != ENOENT)
            return berth_error_errno(err, "open %s", BERTH_STATEDIR_LOCK);
        *ret = BERTH_MONITOR_NONE;
        return 0;
    }
    /* A shared lock conflicts with the monitor's exclusive one. */
    if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK) {
            *ret = BERTH_MONITOR_ALIVE;
            return 0;
        }
        return berth_error_errno(err, "probe %s", BERTH_STATEDIR_LOCK);
    }
    flock(fd, LOCK_UN);
    /* Dead. Did it finish its work (a final state), or was it killed? */
    if (berth_statedir_read_state(dirfd, &st, &serr) < 0) {
        if (serr->code != ENOENT && serr->code != EBADMSG) {
            if (err)
                *err = TAKE_PTR(serr);
            return -1;
        }
        *ret = BERTH_MONITOR_LOST;
        return 0;
    }
    *ret = st->phase == PHASE_EXITED || st->phase == PHASE_FAILED ? BERTH_MONITOR_EXITED
                                                                  : BERTH_MONITOR_LOST;
    BERTH_PB_FREE(st);
    return 0;
}

/* --- start and stop ------------------------------------------------------- */

/* The control fifo's one command. */
#define CONTROL_STOP "stop"

/* Interpret a complete answer: "running PID" or "error TEXT". */
static int parse_answer(char *buf, size_t len, pid_t *ret_pid, berth_error **err)
{
    buf[len] = '\0';
    if (len && buf[len - 1] == '\n')
        buf[--len] = '\0';
    if (strncmp(buf, BERTH_MONITOR_ANSWER_RUNNING, strlen(BERTH_MONITOR_ANSWER_RUNNING)) == 0) {
        long pid = strtol(buf + strlen(BERTH_MONITOR_ANSWER_RUNNING), NULL, 10);

        if (pid <= 0)
            return berth_error_set(err, EPROTO, "monitor answered '%s'", buf);
        *ret_pid = (pid_t)pid;
        return 1;
    }
    if (strncmp(buf, BERTH_MONITOR_ANSWER_ERROR, strlen(BERTH_MONITOR_ANSWER_ERROR)) == 0)
        return berth_error_set(err, EIO, "%s", buf + strlen(BERTH_MONITOR_ANSWER_ERROR));
    return berth_error_set(err, EPROTO, "the monitor exited without an answer%s%s", len ? ": " : "",
                           buf);
}

int berth_monitor_answer_read(int fd, berth_monitor_answer *a, pid_t *ret_container_pid,
                              berth_error **err)
{
    for (;;) {
        ssize_t n = read(fd, a->buf + a->len, sizeof(a->buf) - 1 - a->len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 0;
            return berth_error_errno(err, "read the monitor's answer");
        }
        a->len += (size_t)n;
        if (n == 0 || memchr(a->buf, '\n', a->len) || a->len == sizeof(a->buf) - 1)
            return parse_answer(a->buf, a->len, ret_container_pid, err);
    }
}

int berth_monitor_spawn(const char *monitor_path, const char *state_dir, int *ret_answer_fd,
                        berth_error **err)
{
    return berth_monitor_spawn_placed(monitor_path, state_dir, NULL, ret_answer_fd, err);
}

/* Without a place to go first: posix_spawn (a vfork: nothing of the
 * caller's memory is copied, where a fork copies every page table of a
 * daemon with hundreds of containers) of the monitor with --detach, in a
 * session of its own and with default signals; it forks once, at once,
 * and its first process exits, which is what is waited for here. The
 * answer pipe's write end becomes its fd 3 (or 4). */
static int spawn_detached(const char *monitor_path, const char *state_dir, int p[2],
                          berth_error **err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char fdarg[16];
    int target = p[1] == 3 ? 4 : 3, r, status;
    char *argv[] = {
        (char *)monitor_path, "--detach", "--ready-fd", fdarg, (char *)state_dir, NULL
    };
    pid_t pid;

    snprintf(fdarg, sizeof(fdarg), "%d", target);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
    /* (dup2 onto another fd clears its close-on-exec) */
    posix_spawn_file_actions_adddup2(&fa, p[1], target);
    posix_spawnattr_setflags(&attr,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    r = posix_spawn(&pid, monitor_path, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (r != 0)
        return berth_error_make(err, r, "exec %s", monitor_path);
    /* Its first process forks and exits before anything else. When it
     * could not fork, it wrote why on the answer pipe, and exited 1: the
     * answer (or the pipe's end without one) tells the caller. */
    if (berth_waitpid(pid, &status, 0) != pid)
        return berth_error_errno(err, "start monitor for %s: wait for %s", state_dir, monitor_path);
    return 0;
}

int berth_monitor_spawn_placed(const char *monitor_path, const char *state_dir,
                               const berth_monitor_place *place, int *ret_answer_fd,
                               berth_error **err)
{
    int p[2], status;
    pid_t mid;

    if (pipe2(p, O_CLOEXEC) < 0)
        return berth_error_errno(err, "pipe");
    if (!place) {
        if (spawn_detached(monitor_path, state_dir, p, err) < 0) {
            close(p[0]);
            close(p[1]);
            return -1;
        }
        close(p[1]);
        if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
            close(p[0]);
            return berth_error_errno(err, "start monitor for %s", state_dir);
        }
        *ret_answer_fd = p[0];
        return 0;
    }
    /* A place: the monitor's own process runs the caller's code (place)
     * before its exec, so it is a fork. */
    mid = fork();
    if (mid < 0) {
        close(p[0]);
        close(p[1]);
        return berth_error_errno(err, "fork");
    }
    if (mid == 0) {
        /* Intermediate: a new session, then the monitor as its child, and
         * exit so the monitor is nobody's child but init's. */
        char fdarg[16];
        sigset_t none;

        close(p[0]);
        if (setsid() < 0)
            _exit(1);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_DFL);
        pid_t m = fork();
        if (m != 0)
            _exit(m < 0 ? 1 : 0);
        {
            int fd = fcntl(p[1], F_DUPFD, 3); /* not close-on-exec: it is the answer fd */
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);

            if (fd < 0 || null < 0)
                _exit(1);
            char msg[1024] = "";

            /* Placing may take seconds: nothing of the caller's (its lock,
             * its listening sockets) is held meanwhile. */
            if (dup2(null, 0) < 0 ||
                (fd > 3 && syscall(SYS_close_range, 3u, (unsigned)fd - 1, 0u) < 0) ||
                syscall(SYS_close_range, (unsigned)fd + 1, ~0U, 0u) < 0) {
                dprintf(fd, BERTH_MONITOR_ANSWER_ERROR "close the launcher's fds: %s\n",
                        strerror(errno));
                _exit(1);
            }
            if (place->place(place->data, msg, sizeof(msg)) < 0) {
                dprintf(fd, BERTH_MONITOR_ANSWER_ERROR "%s\n", msg);
                _exit(1);
            }
            snprintf(fdarg, sizeof(fdarg), "%d", fd);
            execl(monitor_path, monitor_path, "--ready-fd", fdarg, state_dir, (char *)NULL);
            dprintf(fd, BERTH_MONITOR_ANSWER_ERROR "exec %s: %s\n", monitor_path, strerror(errno));
            _exit(127);
        }
    }
    close(p[1]);
    /* The intermediate exits at once: reaping it does not block. */
    if (berth_waitpid(mid, &status, 0) != mid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        close(p[0]);
        return berth_error_set(err, ECHILD, "start monitor for %s: the launcher failed", state_dir);
    }
    if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
        close(p[0]);
        return berth_error_errno(err, "start monitor for %s", state_dir);
    }
    *ret_answer_fd = p[0];
    return 0;
}

int berth_monitor_stop(int dirfd, int64_t grace_ms, berth_error **err)
{
    _cleanup_close_ int fd = -1;
    char cmd[64];
    int len;

    /* O_NONBLOCK: ENXIO instead of blocking when no monitor reads. */
    fd = openat(dirfd, BERTH_STATEDIR_CONTROL, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENXIO || errno == ENOENT)
            return berth_error_set(err, ESRCH, "stop: no monitor is running");
        return berth_error_errno(err, "open %s", BERTH_STATEDIR_CONTROL);
    }
    if (grace_ms > BERTH_MONITOR_GRACE_MAX_MS)
        grace_ms = BERTH_MONITOR_GRACE_MAX_MS;
    if (grace_ms >= 0)
        len = snprintf(cmd, sizeof(cmd), "%s %" PRId64 "\n", CONTROL_STOP, grace_ms);
    else
        len = snprintf(cmd, sizeof(cmd), "%s\n", CONTROL_STOP);
    if (write(fd, cmd, (size_t)len) != len)
        return berth_error_errno(err, "write the stop request");
    return 0;
}

int berth_monitor_control_parse(const char *line, int64_t *ret_grace_ms, berth_error **err)
{
    size_t n = strlen(CONTROL_STOP);
    const char *p = line + n;
    long long grace;
    char *end;

    if (strncmp(line, CONTROL_STOP, n) != 0 || (*p && *p != ' '))
        return berth_error_set(err, EINVAL, "control: unknown command '%.64s'", line);
    p += strspn(p, " ");
    if (!*p) {
        *ret_grace_ms = -1;
        return 0;
    }
    errno = 0;
    grace = strtoll(p, &end, 10);
    end += strspn(end, " ");
    if (errno || end == p || *end || grace < 0 || grace > BERTH_MONITOR_GRACE_MAX_MS)
        return berth_error_set(err, EINVAL, "control: bad grace '%.32s' (0..%d ms)", p,
                               BERTH_MONITOR_GRACE_MAX_MS);
    *ret_grace_ms = grace;
    return 0;
}
