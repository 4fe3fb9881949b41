/* An image's User made into ids (see user.h). */
#include "image/user.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"

/* What is read of /etc/passwd or /etc/group, at most. */
#define ACCOUNTS_FILE_MAX ((size_t)4 << 20)

static int open_beneath(int dfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };

    return (int)syscall(SYS_openat2, dfd, path, &how, sizeof(how));
}

/* Whether the directory (an O_PATH fd) is opaque: overlayfs' marker that
 * hides the layers below it. */
static bool opaque(int fd)
{
    char path[64], v[2];

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return getxattr(path, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

/* The text of etc/<name> as the image's layers stack it (the topmost
 * layer that has it; a whiteout or an opaque etc/ above hides the rest).
 * 0 with *ret NULL when the image has none. */
static int read_accounts(char *const *layers, size_t n, const char *name, char **ret,
                         berth_error **err)
{
    char path[64];

    *ret = NULL;
    snprintf(path, sizeof(path), "etc/%s", name);
    for (size_t i = n; i-- > 0;) {
        _cleanup_close_ int root = open(layers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int etc = -1, fd = -1;
        struct stat st;
        char proc[64];

        if (root < 0)
            return berth_error_errno(err, "open layer %s", layers[i]);
        etc = open_beneath(root, "etc", O_PATH);
        if (etc < 0)
            continue;
        if (fstat(etc, &st) < 0)
            return berth_error_errno(err, "stat %s/etc", layers[i]);
        if (!S_ISDIR(st.st_mode))
            return 0; /* a whiteout, or no directory: nothing below counts */
        fd = open_beneath(root, path, O_PATH);
        if (fd < 0) {
            if (opaque(etc))
                return 0;
            continue;
        }
        if (fstat(fd, &st) < 0)
            return berth_error_errno(err, "stat %s/%s", layers[i], path);
        if (!S_ISREG(st.st_mode))
            return 0; /* a whiteout (0:0 character device) or something odd */
        /* the file found, through its fd: nothing of the image resolves it */
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
        if (berth_read_file_at(AT_FDCWD, proc, ACCOUNTS_FILE_MAX, ret, NULL, err) < 0)
            return berth_error_prefix(err, "read the image's /%s", path);
        return 0;
    }
    return 0;
}

static bool parse_id(const char *s, uint32_t *ret)
{
    char *end;
    unsigned long v;

    if (!*s || !isdigit((unsigned char)*s))
        return false;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > 0xfffffffeUL)
        return false;
    *ret = (uint32_t)v;
    return true;
}

/* Field i (0-based) of a ':'-separated line, copied into buf. */
static const char *field(const char *line, int i, char *buf, size_t size)
{
    const char *p = line;
    size_t len;

    for (; i > 0; i--) {
        p = strchr(p, ':');
        if (!p)
            return NULL;
        p++;
    }
    len = strcspn(p, ":\n");
    if (len >= size)
        return NULL;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return buf;
}

/* Find the line whose field key_field is key (by name, or by number
 * when by_id): the line's start, or NULL. */
static const char *find_line(const char *text, int key_field, const char *key)
{
    char buf[256];

    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        const char *f = field(line, key_field, buf, sizeof(buf));

        if (*line != '#' && f && strcmp(f, key) == 0)
            return line;
    }
    return NULL;
}

/* Whether user is in the comma-separated member list of a group line. */
static bool is_member(const char *line, const char *user)
{
    char buf[4096];
    const char *m = field(line, 3, buf, sizeof(buf));
    size_t ulen = strlen(user);

    for (const char *p = m; p && *p;) {
        size_t len = strcspn(p, ",");

        if (len == ulen && strncmp(p, user, len) == 0)
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

int berth_image_user_resolve(char *const *layers, size_t n_layers, const char *user,
                             berth_image_user *ret, berth_error **err)
{
    _cleanup_free_ char *passwd = NULL, *group = NULL;
    char u[256], name[256] = "", buf[256];
    const char *g, *line;

    memset(ret, 0, sizeof(*ret));
    g = strchr(user, ':');
    if (!*user || (size_t)(g ? g - user : (ptrdiff_t)strlen(user)) >= sizeof(u) ||
        (g && (!g[1] || strlen(g + 1) >= sizeof(u))))
        return berth_error_set(err, EINVAL, "user '%s': not USER[:GROUP]", user);
    snprintf(u, sizeof(u), "%.*s", (int)(g ? g - user : (ptrdiff_t)strlen(user)), user);
    if (g)
        g++;
    if (read_accounts(layers, n_layers, "passwd", &passwd, err) < 0 ||
        read_accounts(layers, n_layers, "group", &group, err) < 0)
        return -1;

    if (parse_id(u, &ret->uid)) {
        /* a number needs no entry; one gives its group and name */
        line = passwd ? find_line(passwd, 2, u) : NULL;
        if (line && field(line, 3, buf, sizeof(buf)))
            parse_id(buf, &ret->gid);
        if (line)
            field(line, 0, name, sizeof(name));
    } else {
        line = passwd ? find_line(passwd, 0, u) : NULL;
        if (!line)
            return berth_error_set(err, ENOENT, "no user %s in the image's /etc/passwd%s", u,
                                   passwd ? "" : " (it has none)");
        if (!field(line, 2, buf, sizeof(buf)) || !parse_id(buf, &ret->uid) ||
            !field(line, 3, buf, sizeof(buf)) || !parse_id(buf, &ret->gid))
            return berth_error_set(err, EINVAL, "user %s: a malformed line in /etc/passwd", u);
        snprintf(name, sizeof(name), "%s", u);
    }
    if (g && !parse_id(g, &ret->gid)) {
        line = group ? find_line(group, 0, g) : NULL;
        if (!line)
            return berth_error_set(err, ENOENT, "no group %s in the image's /etc/group%s", g,
                                   group ? "" : " (it has none)");
        if (!field(line, 2, buf, sizeof(buf)) || !parse_id(buf, &ret->gid))
            return berth_error_set(err, EINVAL, "group %s: a malformed line in /etc/group", g);
    }
    /* the groups that list the user as a member */
    for (line = group; *name && line && *line && ret->n_gids < BERTH_IMAGE_USER_GIDS_MAX;) {
        uint32_t gid;

        if (*line != '#' && is_member(line, name) && field(line, 2, buf, sizeof(buf)) &&
            parse_id(buf, &gid) && gid != ret->gid)
            ret->gids[ret->n_gids++] = gid;
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return 0;
}

int berth_image_signal_parse(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } table[] = {
        { "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
        { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "WINCH", SIGWINCH },
        { "PWR", SIGPWR },   { "STOP", SIGSTOP }, { "CONT", SIGCONT }, { "ALRM", SIGALRM },
        { "ABRT", SIGABRT }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "TRAP", SIGTRAP },
        { "SYS", SIGSYS },   { "URG", SIGURG },   { "IO", SIGIO },     { "PIPE", SIGPIPE },
    };
    uint32_t n;

    if (!s || !*s)
        return -1;
    if (parse_id(s, &n))
        return n >= 1 && n <= 64 ? (int)n : -1;
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    if (strncasecmp(s, "RTMIN+", 6) == 0 && parse_id(s + 6, &n) &&
        n <= (uint32_t)(SIGRTMAX - SIGRTMIN))
        return SIGRTMIN + (int)n;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcasecmp(s, table[i].name) == 0)
            return table[i].sig;
    return -1;
}
