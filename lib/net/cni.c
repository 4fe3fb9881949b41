/* CNI plugins exec'd as the spec says (cni.h). */
#include "cni.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

#define CONF_MAX   (1 << 20)
#define OUTPUT_MAX (1 << 20)

struct berth_cni {
    char *conf_dir, *bin_dir, *cache_dir;
    char *file;   /* the configuration's, for messages */
    json_t *conf; /* {cniVersion, name, plugins: [...]} */
};

void berth_cni_close(berth_cni *c)
{
    if (!c)
        return;
    json_decref(c->conf);
    free(c->conf_dir);
    free(c->bin_dir);
    free(c->cache_dir);
    free(c->file);
    free(c);
}

const char *berth_cni_name(const berth_cni *c)
{
    return c->conf ? json_string_value(json_object_get(c->conf, "name")) : "";
}

const char *berth_cni_file(const berth_cni *c)
{
    return c->file;
}

const char *berth_cni_conf_dir(const berth_cni *c)
{
    return c->conf_dir ? c->conf_dir : "";
}

const char *berth_cni_bin_dir(const berth_cni *c)
{
    return c->bin_dir;
}

const char *berth_cni_cache_dir(const berth_cni *c)
{
    return c->cache_dir;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lexically first *.conflist, *.conf or *.json of dir (a new path). */
static char *first_conf(const char *dir, berth_error **err)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    char *names[256], *found = NULL;
    size_t n = 0;
    struct dirent *e;

    if (!d) {
        berth_error_errno(err, "CNI configuration directory %s", dir);
        return NULL;
    }
    while ((e = readdir(d)) && n < 256) {
        const char *dot = strrchr(e->d_name, '.');

        if (e->d_name[0] != '.' && dot &&
            (strcmp(dot, ".conflist") == 0 || strcmp(dot, ".conf") == 0 ||
             strcmp(dot, ".json") == 0))
            names[n++] = berth_xstrdup(e->d_name);
    }
    qsort(names, n, sizeof(*names), name_cmp);
    if (n)
        found = berth_xasprintf("%s/%s", dir, names[0]);
    else
        berth_error_set(err, ENOENT, "no CNI configuration (*.conflist, *.conf) in %s", dir);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    return found;
}

/* Check a network configuration (a .conf's single plugin becomes a list);
 * the error says what, prefixed by the caller with the file. */
static json_t *conf_check(const berth_cni *c, json_t *j, berth_error **err)
{
    json_t *plugins, *p, *list;
    size_t i;

    if (!json_is_object(j))
        return berth_error_set(err, EINVAL, "not a JSON object"), NULL;
    if (!json_is_string(json_object_get(j, "cniVersion")) ||
        !json_is_string(json_object_get(j, "name")))
        return berth_error_set(err, EINVAL, "cniVersion and name are required strings"), NULL;
    plugins = json_object_get(j, "plugins");
    if (!plugins) { /* a .conf: the object is the plugin */
        list = json_pack("{s:O,s:O,s:[O]}", "cniVersion", json_object_get(j, "cniVersion"), "name",
                         json_object_get(j, "name"), "plugins", j);
    } else {
        list = json_incref(j);
    }
    plugins = json_object_get(list, "plugins");
    if (!json_is_array(plugins) || json_array_size(plugins) == 0) {
        json_decref(list);
        return berth_error_set(err, EINVAL, "plugins: a list of at least one plugin"), NULL;
    }
    json_array_foreach(plugins, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        char path[4096];

        if (!json_is_object(p) || !type || !*type || strchr(type, '/') || type[0] == '.') {
            json_decref(list);
            return berth_error_set(err, EINVAL, "plugins[%zu]: type is a plugin's name", i), NULL;
        }
        snprintf(path, sizeof(path), "%s/%s", c->bin_dir, type);
        if (access(path, X_OK) < 0) {
            json_decref(list);
            return berth_error_set(err, ENOENT, "plugins[%zu]: plugin '%s' is not in %s", i, type,
                                   c->bin_dir),
                   NULL;
        }
    }
    return list;
}

int berth_cni_open(const char *conf_dir, const char *bin_dir, const char *cache_dir,
                   berth_cni **ret, berth_error **err)
{
    berth_cni *c = berth_xcalloc(1, sizeof(*c));
    _cleanup_free_ char *text = NULL;
    json_error_t je;
    json_t *j;

    c->conf_dir = conf_dir ? berth_xstrdup(conf_dir) : NULL;
    c->bin_dir = berth_xstrdup(bin_dir);
    c->cache_dir = berth_xstrdup(cache_dir);
    if (!conf_dir) { /* DEL, CHECK and gc: what ADD cached is all they need */
        *ret = c;
        return 0;
    }
    if (!(c->file = first_conf(conf_dir, err)) ||
        berth_read_file_at(AT_FDCWD, c->file, CONF_MAX, &text, NULL, err) < 0)
        goto fail;
    if (!(j = json_loads(text, 0, &je))) {
        berth_error_set(err, EINVAL, "%s:%d:%d: %s", c->file, je.line, je.column, je.text);
        goto fail;
    }
    c->conf = conf_check(c, j, err);
    json_decref(j);
    if (!c->conf) {
        berth_error_prefix(err, "%s", c->file);
        goto fail;
    }
    if (berth_mkdir_p(cache_dir, 0700, err) < 0)
        goto fail;
    *ret = c;
    return 0;
fail:
    berth_cni_close(c);
    return -1;
}

/* Exec plugin type with command and the rest of the spec's environment,
 * config on stdin; its stdout parsed (ret_out: NULL for DEL's empty
 * output). A failure is its error's msg (and details). */
static int exec_plugin(const berth_cni *c, const char *type, const char *command, const char *pod,
                       const char *netns, const char *args, json_t *config, json_t **ret_out,
                       berth_error **err)
{
    _cleanup_free_ char *in = json_dumps(config, JSON_COMPACT), *out = NULL;
    char path[4096];
    int inp[2], outp[2], status;
    size_t len = 0, cap = 4096;
    int64_t deadline = berth_now_mono_ns() + (int64_t)BERTH_CNI_TIMEOUT_MS * 1000000;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/%s", c->bin_dir, type);
    if (pipe2(inp, O_CLOEXEC) < 0)
        return berth_error_errno(err, "CNI plugin %s", type);
    if (pipe2(outp, O_CLOEXEC) < 0) {
        close(inp[0]);
        close(inp[1]);
        return berth_error_errno(err, "CNI plugin %s", type);
    }
    pid = fork();
    if (pid < 0) {
        close(inp[0]), close(inp[1]), close(outp[0]), close(outp[1]);
        return berth_error_errno(err, "CNI plugin %s", type);
    }
    if (pid == 0) {
        sigset_t none;
        char *envp[] = { berth_xasprintf("CNI_COMMAND=%s", command),
                         berth_xasprintf("CNI_CONTAINERID=%s", pod),
                         berth_xasprintf("CNI_NETNS=%s", netns ? netns : ""),
                         "CNI_IFNAME=eth0",
                         berth_xasprintf("CNI_ARGS=%s", args),
                         berth_xasprintf("CNI_PATH=%s", c->bin_dir),
                         "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                         NULL };

        /* berthd's signal state is not the plugin's; it dies with berthd */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
            signal(sig, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* (dup2 onto itself would keep close-on-exec: the pipes are never
         * fds 0 and 1, which berthd keeps open) */
        dup2(inp[0], 0);
        dup2(outp[1], 1);
        execve(path, (char *[]){ path, NULL }, envp);
        _exit(127);
    }
    close(inp[0]);
    close(outp[1]);
    /* the config is small: the pipe holds it */
    if (berth_write_all(inp[1], in, strlen(in)) < 0) {
        /* the plugin exited without reading: its status says why */
    }
    close(inp[1]);
    out = berth_xcalloc(1, cap);
    for (;;) {
        struct pollfd pfd = { outp[0], POLLIN, 0 };
        int64_t left = (deadline - berth_now_mono_ns()) / 1000000;
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        if (len + 1 >= cap) {
            if (cap >= OUTPUT_MAX)
                break;
            cap *= 2;
            out = berth_xreallocarray(out, cap, 1);
        }
        n = read(outp[0], out + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(outp[0]);
    /* its output closed, it still has until the deadline to exit: its
     * pidfd polled (no sleep), then killed */
    {
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int64_t left = (deadline - berth_now_mono_ns()) / 1000000;

        if (pfd >= 0) {
            struct pollfd p = { pfd, POLLIN, 0 };

            if (left <= 0 || poll(&p, 1, (int)left) <= 0)
                kill(pid, SIGKILL);
            close(pfd);
        } else {
            kill(pid, SIGKILL); /* no pidfd: no waiting on a plugin that lingers */
        }
        if (berth_waitpid(pid, &status, 0) != pid)
            status = 0x7f00; /* unknown: a failure below */
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        json_t *e = json_loads(out, 0, NULL);
        const char *msg = json_string_value(json_object_get(e, "msg"));
        const char *details = json_string_value(json_object_get(e, "details"));

        if (WIFSIGNALED(status))
            berth_error_set(err, ETIMEDOUT, "CNI plugin %s %s: killed after %d ms", type, command,
                            BERTH_CNI_TIMEOUT_MS);
        else
            berth_error_set(err, EIO, "CNI plugin %s %s: %s%s%s", type, command,
                            msg ? msg : "failed with no message", details ? ": " : "",
                            details ? details : "");
        json_decref(e);
        return -1;
    }
    if (ret_out) {
        json_error_t je;

        if (!(*ret_out = json_loads(out, 0, &je)))
            return berth_error_set(err, EPROTO, "CNI plugin %s %s: its result: %s", type, command,
                                   je.text);
    }
    return 0;
}

/* Plugin i's stdin: its object, with the network's cniVersion and name,
 * the previous result, and runtimeConfig for the capabilities it has. */
static json_t *plugin_config(json_t *conf, size_t i, json_t *prev, json_t *port_mappings)
{
    json_t *p = json_deep_copy(json_array_get(json_object_get(conf, "plugins"), i));
    json_t *caps = json_object_get(p, "capabilities");

    json_object_set(p, "cniVersion", json_object_get(conf, "cniVersion"));
    json_object_set(p, "name", json_object_get(conf, "name"));
    if (prev)
        json_object_set(p, "prevResult", prev);
    if (port_mappings && json_is_true(json_object_get(caps, "portMappings")))
        json_object_set_new(p, "runtimeConfig", json_pack("{s:O}", "portMappings", port_mappings));
    return p;
}

static char *cache_path(const berth_cni *c, const char *pod)
{
    return berth_xasprintf("%s/%s.json", c->cache_dir, pod);
}

/* DEL the plugins of conf in reverse order with result as prevResult;
 * every one is tried, the first failure reported. */
static int del_with(berth_cni *c, json_t *conf, json_t *result, const char *pod, const char *netns,
                    const char *args, berth_error **err)
{
    size_t n = json_array_size(json_object_get(conf, "plugins"));
    int r = 0;

    for (size_t i = n; i-- > 0;) {
        json_t *p = plugin_config(conf, i, result, NULL);
        berth_error *e = NULL;

        if (exec_plugin(c, json_string_value(json_object_get(p, "type")), "DEL", pod, netns, args,
                        p, NULL, &e) < 0) {
            if (r == 0 && err)
                *err = e;
            else
                berth_error_free(&e);
            r = -1;
        }
        json_decref(p);
    }
    return r;
}

/* pod's cache at path: {config, result (absent while ADD runs), netns,
 * args[, portMappings]}. */
static int cache_write(const char *path, json_t *conf, json_t *result, const char *netns,
                       const char *args, json_t *mappings, berth_error **err)
{
    json_t *cache = json_pack("{s:O,s:s,s:s}", "config", conf, "netns", netns, "args", args);
    _cleanup_free_ char *text = NULL;

    if (result)
        json_object_set(cache, "result", result);
    if (mappings)
        json_object_set(cache, "portMappings", mappings);
    text = json_dumps(cache, JSON_COMPACT);
    json_decref(cache);
    return berth_replace_file_at(AT_FDCWD, path, text, strlen(text), 0600, err);
}

int berth_cni_add(berth_cni *c, const char *pod, const char *ns, const char *name,
                  const char *netns_path, const berth_cni_port *ports, size_t n_ports,
                  uint32_t *ret_addr, berth_error **err)
{
    size_t n = json_array_size(json_object_get(c->conf, "plugins"));
    _cleanup_free_ char *args = NULL, *path = cache_path(c, pod);
    json_t *prev = NULL, *mappings = NULL, *ips, *ip;
    uint32_t addr = 0;
    size_t k;

    if (!c->conf)
        return berth_error_set(err, EINVAL, "no CNI configuration loaded to ADD with");

    args = berth_xasprintf("IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
                           "K8S_POD_INFRA_CONTAINER_ID=%s",
                           ns, name, pod);
    if (n_ports) {
        mappings = json_array();
        for (size_t i = 0; i < n_ports; i++)
            json_array_append_new(mappings,
                                  json_pack("{s:i,s:i,s:s,s:s}", "hostPort", ports[i].host_port,
                                            "containerPort", ports[i].container_port, "protocol",
                                            ports[i].udp ? "udp" : "tcp", "hostIP",
                                            ports[i].host_ip ? ports[i].host_ip : ""));
    }
    /* Cached before the first plugin runs, without a result: an ADD cut
     * short (berthd and its berth-cni killed) is still DEL'd with the
     * configuration it was made with, as the spec has a runtime DEL a
     * container whose ADD did not finish. */
    if (cache_write(path, c->conf, NULL, netns_path, args, mappings, err) < 0) {
        json_decref(mappings);
        return berth_error_prefix(err, "cache the CNI ADD of pod %s", pod);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *p = plugin_config(c->conf, i, prev, mappings), *out = NULL;
        int r = exec_plugin(c, json_string_value(json_object_get(p, "type")), "ADD", pod,
                            netns_path, args, p, &out, err);

        json_decref(p);
        if (r < 0) {
            /* what any plugin made, the failing one too, goes (the spec's
             * cleanup: DEL after a failed ADD) */
            del_with(c, c->conf, prev, pod, netns_path, args, NULL);
            unlink(path);
            json_decref(prev);
            json_decref(mappings);
            return berth_error_prefix(err, "network %s", berth_cni_name(c));
        }
        json_decref(prev);
        prev = out;
    }
    ips = json_object_get(prev, "ips");
    json_array_foreach(ips, k, ip)
    {
        const char *a = json_string_value(json_object_get(ip, "address"));
        struct in_addr in;
        char buf[64], *slash;

        if (!a || strlen(a) >= sizeof(buf))
            continue;
        snprintf(buf, sizeof(buf), "%s", a);
        if ((slash = strchr(buf, '/')))
            *slash = '\0';
        if (inet_pton(AF_INET, buf, &in) == 1) {
            addr = in.s_addr;
            break;
        }
    }
    if (cache_write(path, c->conf, prev, netns_path, args, mappings, err) < 0) {
        /* the pending cache stays: a DEL undoes it, without the result */
        json_decref(mappings);
        json_decref(prev);
        return berth_error_prefix(err, "cache the CNI result of pod %s", pod);
    }
    json_decref(mappings);
    json_decref(prev);
    if (!addr)
        return berth_error_set(err, EPROTO, "network %s gave pod %s no IPv4 address",
                               berth_cni_name(c), pod);
    *ret_addr = addr;
    return 0;
}

/* pod's cache ({config, result, netns, args[, portMappings]}): ENOENT
 * when there is none. */
static int cache_read(berth_cni *c, const char *pod, json_t **ret, berth_error **err)
{
    _cleanup_free_ char *path = cache_path(c, pod), *text = NULL;
    json_error_t je;
    json_t *j;

    if (berth_read_file_at(AT_FDCWD, path, OUTPUT_MAX, &text, NULL, err) < 0)
        return -1;
    if (!(j = json_loads(text, 0, &je)) || !json_is_object(json_object_get(j, "config"))) {
        json_decref(j);
        return berth_error_set(err, EINVAL, "%s: not a CNI result berth cached", path);
    }
    *ret = j;
    return 0;
}

/* The spec's version a..b.c as one number (0.4.0: 400), for comparing. */
static long version_num(const char *v)
{
    unsigned a = 0, b = 0, c = 0;

    if (!v || sscanf(v, "%u.%u.%u", &a, &b, &c) < 2)
        return 0;
    return (long)a * 10000 + (long)b * 100 + c;
}

int berth_cni_check(berth_cni *c, const char *pod, berth_error **err)
{
    json_t *cache = NULL, *conf, *result;
    size_t n;
    int r = 0;

    if (cache_read(c, pod, &cache, err) < 0)
        return -1;
    conf = json_object_get(cache, "config");
    result = json_object_get(cache, "result");
    n = json_array_size(json_object_get(conf, "plugins"));
    if (!result) {
        json_decref(cache);
        return berth_error_set(err, EPROTO, "pod %s: its CNI ADD never finished", pod);
    }
    /* CHECK came with 0.4.0; a network may turn it off */
    if (version_num(json_string_value(json_object_get(conf, "cniVersion"))) < 400 ||
        json_is_true(json_object_get(conf, "disableCheck"))) {
        json_decref(cache);
        return 0;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        json_t *pm = json_object_get(cache, "portMappings");
        json_t *p = plugin_config(conf, i, result, json_is_array(pm) ? pm : NULL);

        r = exec_plugin(c, json_string_value(json_object_get(p, "type")), "CHECK", pod,
                        json_string_value(json_object_get(cache, "netns")),
                        json_string_value(json_object_get(cache, "args")), p, NULL, err);
        json_decref(p);
    }
    if (r < 0)
        berth_error_prefix(err, "network %s",
                           json_string_value(json_object_get(conf, "name")) ?: "?");
    json_decref(cache);
    return r;
}

int berth_cni_del(berth_cni *c, const char *pod, berth_error **err)
{
    _cleanup_free_ char *path = cache_path(c, pod);
    berth_error *e = NULL;
    json_t *cache;
    int r;

    if (cache_read(c, pod, &cache, &e) < 0) {
        int code = e->code;

        if (code == ENOENT || code == EINVAL) {
            /* nothing cached, or nothing a DEL could use: nothing to DEL */
            if (code == EINVAL)
                unlink(path);
            berth_error_free(&e);
            return 0;
        }
        if (err)
            *err = e;
        else
            berth_error_free(&e);
        return berth_error_prefix(err, "pod %s", pod);
    }
    r = del_with(c, json_object_get(cache, "config"), json_object_get(cache, "result"), pod,
                 json_string_value(json_object_get(cache, "netns")),
                 json_string_value(json_object_get(cache, "args")), err);
    json_decref(cache);
    /* a DEL that failed is tried again (the next removal step, the next
     * garbage collection): the cache stays */
    if (r < 0)
        return berth_error_prefix(err, "pod %s", pod);
    unlink(path);
    return 0;
}

int berth_cni_gc(berth_cni *c, bool (*keep)(const char *pod, void *data), void *data,
                 berth_error **err)
{
    _cleanup_closedir_ DIR *d = opendir(c->cache_dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        return berth_error_errno(err, "%s", c->cache_dir);
    while ((e = readdir(d))) {
        char pod[256];
        size_t len = strlen(e->d_name);

        if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0 || len - 5 >= sizeof(pod))
            continue;
        snprintf(pod, sizeof(pod), "%.*s", (int)(len - 5), e->d_name);
        if (keep && keep(pod, data))
            continue;
        /* the pod's namespace may be gone: plugins DEL what is left */
        berth_cni_del(c, pod, NULL);
        n++;
    }
    return n;
}
