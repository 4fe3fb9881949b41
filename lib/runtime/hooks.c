/* OCI hooks of a container's devices (CDI's hooks): each run as
 * runtime-spec says, with the container's state (JSON) on its stdin, its
 * args as execv's argv, its env, and its timeout. */
#include "runtime-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

bool runtime_hooks_have(const DeviceEdits *e, const char *which)
{
    for (size_t i = 0; e && i < e->n_hooks; i++)
        if (strcmp(e->hooks[i]->hook_name, which) == 0)
            return true;
    return false;
}

/* s as a JSON string's content (quotes and backslashes escaped, control
 * characters as \u00XX) into buf. */
static void json_escape(const char *s, char *buf, size_t size)
{
    size_t n = 0;

    for (; *s && n + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            n += (size_t)snprintf(buf + n, size - n, "\\%c", c);
        else if (c < 0x20)
            n += (size_t)snprintf(buf + n, size - n, "\\u%04x", c);
        else
            buf[n++] = (char)c;
    }
    buf[n] = '\0';
}

/* The hook's child: stdin the state (a memfd at its start), stdout
 * /dev/null, stderr the caller's pipe, default signals and none blocked
 * (not the caller's), in the container's namespaces but its PID and user
 * ones (those of ns_pidfd's process) when that is set; then its exec.
 * Never returns. */
static __attribute__((noreturn)) void hook_exec(const DeviceHook *h, int in, int errfd,
                                                int ns_pidfd)
{
    size_t n = h->n_args ? h->n_args : 1;
    char **argv = berth_xcalloc(n + 1, sizeof(*argv)), **envp;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    runtime_reset_signals();
    if (ns_pidfd >= 0 &&
        setns(ns_pidfd, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0) {
        dprintf(errfd, "join the container's namespaces: %s", strerror(errno));
        _exit(126);
    }
    if (dup2(in, 0) < 0 || dup2(null >= 0 ? null : errfd, 1) < 0 || dup2(errfd, 2) < 0)
        _exit(126);
    for (size_t i = 0; i < h->n_args; i++)
        argv[i] = h->args[i];
    if (!h->n_args)
        argv[0] = h->path;
    envp = berth_xcalloc(h->n_env + 1, sizeof(*envp));
    for (size_t i = 0; i < h->n_env; i++)
        envp[i] = h->env[i];
    execve(h->path, argv, envp);
    dprintf(2, "exec %s: %s", h->path, strerror(errno));
    _exit(127);
}

/* Run one hook and wait for it (its stderr gathered, at most a line's
 * worth kept for the error), at most timeout_ms (0: no limit). */
static int hook_run(const DeviceHook *h, const char *state, int ns_pidfd, int timeout_ms,
                    berth_error **err)
{
    _cleanup_close_ int pidfd = -1, in = -1;
    int errp[2], status = 0;
    char msg[512] = "";
    size_t got = 0;
    int64_t deadline = timeout_ms > 0 ? berth_now_mono_ns() + timeout_ms * BERTH_NSEC_PER_MSEC : 0;
    bool timed_out = false;
    pid_t pid;

    /* the state in a file of its own, not a pipe: a hook that does not
     * read it cannot make the writer wait, or SIGPIPE it */
    in = memfd_create("berth-hook-state", MFD_CLOEXEC);
    if (in < 0 || berth_write_all(in, state, strlen(state)) < 0 || lseek(in, 0, SEEK_SET) < 0)
        return berth_error_errno(err, "hook %s: its state", h->path);
    if (pipe2(errp, O_CLOEXEC | O_NONBLOCK) < 0)
        return berth_error_errno(err, "hook %s: pipe", h->path);
    pid = fork();
    if (pid == 0) {
        close(errp[0]);
        hook_exec(h, in, errp[1], ns_pidfd);
    }
    close(errp[1]);
    if (pid < 0) {
        close(errp[0]);
        return berth_error_errno(err, "hook %s: fork", h->path);
    }
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct pollfd pfd[2] = { { .fd = errp[0], .events = POLLIN },
                             { .fd = pidfd, .events = POLLIN } };

    for (;;) {
        int wait_ms = -1, r;

        if (deadline) {
            int64_t left = deadline - berth_now_mono_ns();

            if (left <= 0) {
                timed_out = true;
                kill(pid, SIGKILL);
                break;
            }
            wait_ms = (int)((left + BERTH_NSEC_PER_MSEC - 1) / BERTH_NSEC_PER_MSEC);
        }
        r = poll(pfd, pidfd >= 0 ? 2 : 1, wait_ms);
        if (r < 0 && errno != EINTR)
            break;
        if (r > 0 && (pfd[0].revents & (POLLIN | POLLHUP))) {
            char buf[512];
            ssize_t n = read(errp[0], buf, sizeof(buf));

            if (n > 0 && got < sizeof(msg) - 1) {
                size_t take = (size_t)n < sizeof(msg) - 1 - got ? (size_t)n : sizeof(msg) - 1 - got;

                memcpy(msg + got, buf, take);
                got += take;
                msg[got] = '\0';
            }
            if (n == 0 && pidfd < 0)
                break; /* no pidfd (old kernel): its stderr's end is its end */
            if (n == 0)
                pfd[0].fd = -1; /* closed: only its exit is waited for now */
        }
        if (r > 0 && pidfd >= 0 && (pfd[1].revents & POLLIN))
            break;
    }
    close(errp[0]);
    berth_waitpid(pid, &status, 0);
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    if (timed_out)
        return berth_error_set(err, ETIMEDOUT, "hook %s: still running after its timeout of %d s",
                               h->path, timeout_ms / 1000);
    if (WIFSIGNALED(status))
        return berth_error_set(err, ECANCELED, "hook %s: killed by signal %d%s%s", h->path,
                               WTERMSIG(status), *msg ? ": " : "", msg);
    if (WEXITSTATUS(status) != 0)
        return berth_error_set(err, ECANCELED, "hook %s: exit status %d%s%s", h->path,
                               WEXITSTATUS(status), *msg ? ": " : "", msg);
    return 0;
}

int runtime_hooks_bundle(const char *dir, const child_plan *p, char **ret_path, berth_error **err)
{
    _cleanup_free_ char *path = berth_xasprintf("%s/config.json", dir), *text = NULL;
    json_t *root = json_object(), *process = json_object(), *args = json_array(),
           *env = json_array();
    const char *bad = NULL;

    for (char **a = p->argv; a && *a && !bad; a++)
        if (json_array_append_new(args, json_string(*a)) < 0)
            bad = *a;
    for (char **e = p->envp; e && *e && !bad; e++)
        if (json_array_append_new(env, json_string(*e)) < 0)
            bad = *e;
    if (!bad) {
        json_t *r = json_string(p->rootfs_dir);

        if (!r)
            bad = p->rootfs_dir;
        json_decref(r);
    }
    if (bad) {
        json_decref(root);
        json_decref(process);
        json_decref(args);
        json_decref(env);
        return berth_error_set(err, EINVAL,
                               "the hooks' bundle: '%s' is no valid UTF-8 (a hook reads it as "
                               "JSON)",
                               bad);
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        json_decref(root);
        json_decref(process);
        json_decref(args);
        json_decref(env);
        return berth_error_errno(err, "the hooks' bundle: mkdir %s", dir);
    }
    json_object_set_new(process, "args", args);
    json_object_set_new(process, "env", env);
    json_object_set_new(process, "cwd", json_string(p->workdir ? p->workdir : "/"));
    json_object_set_new(root, "ociVersion", json_string("1.0.2"));
    json_object_set_new(root, "process", process);
    json_object_set_new(
        root, "root",
        json_pack("{s:s, s:b}", "path", p->rootfs_dir, "readonly", (int)p->spec->readonly_rootfs));
    json_object_set_new(root, "hostname", json_string(p->hostname ? p->hostname : ""));
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return berth_error_set(err, EINVAL, "%s: the container's strings are no valid UTF-8", path);
    if (berth_write_file_atomic_at(AT_FDCWD, path, text, strlen(text), 0600, err) < 0)
        return berth_error_prefix(err, "the hooks' bundle");
    *ret_path = TAKE_PTR(path);
    return 0;
}

int runtime_hooks_run(const DeviceEdits *e, const char *which, const runtime_hook_state *st,
                      int ns_pidfd, int default_timeout_ms, berth_error **err)
{
    char id[BERTH_SPEC_ID_MAX * 6 + 1], bundle[PATH_MAX * 2],
        state[sizeof(id) + sizeof(bundle) + 200];

    if (!runtime_hooks_have(e, which))
        return 0;
    json_escape(st->id, id, sizeof(id));
    json_escape(st->bundle ? st->bundle : "/", bundle, sizeof(bundle));
    snprintf(state, sizeof(state),
             "{\"ociVersion\":\"1.0.2\",\"id\":\"%s\",\"status\":\"%s\",\"pid\":%d,"
             "\"bundle\":\"%s\",\"annotations\":{}}",
             id, st->status, (int)st->pid, bundle);
    for (size_t i = 0; i < e->n_hooks; i++) {
        const DeviceHook *h = e->hooks[i];
        int timeout_ms = h->timeout_s > 0
                             ? (int)(h->timeout_s > 86400 ? 86400 : h->timeout_s) * 1000
                             : default_timeout_ms;

        if (strcmp(h->hook_name, which) == 0 && hook_run(h, state, ns_pidfd, timeout_ms, err) < 0)
            return berth_error_prefix(err, "%s", which);
    }
    return 0;
}
