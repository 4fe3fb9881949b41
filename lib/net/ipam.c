/* Pod addresses, one file each (ipam.h). */
#include "ipam.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/xalloc.h"
#include "netlink.h"

#define OWNER_MAX 256

struct berth_ipam {
    char *dir;
    int dirfd;
    uint32_t net; /* host order */
    int prefix;
    char cidr[32];
};

int berth_ipam_open(const char *dir, const char *cidr, berth_ipam **ret, berth_error **err)
{
    uint32_t net;
    int prefix, fd;
    berth_ipam *a;

    if (berth_cidr_parse(cidr, false, &net, &prefix, err) < 0)
        return -1;
    if (prefix < 8 || prefix > 30)
        return berth_error_set(err, EINVAL, "pod range %s: the prefix must be /8 to /30", cidr);
    if (berth_mkdir_p(dir, 0700, err) < 0)
        return -1;
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return berth_error_errno(err, "open %s", dir);
    a = berth_xcalloc(1, sizeof(*a));
    a->dir = berth_xstrdup(dir);
    a->dirfd = fd;
    a->net = ntohl(net);
    a->prefix = prefix;
    snprintf(a->cidr, sizeof(a->cidr), "%s", cidr);
    *ret = a;
    return 0;
}

void berth_ipam_close(berth_ipam *a)
{
    if (!a)
        return;
    close(a->dirfd);
    free(a->dir);
    free(a);
}

void berth_ipam_range(const berth_ipam *a, uint32_t *ret_net, int *ret_prefix,
                      uint32_t *ret_gateway)
{
    *ret_net = htonl(a->net);
    *ret_prefix = a->prefix;
    *ret_gateway = htonl(a->net + 1);
}

static uint32_t size_of(const berth_ipam *a)
{
    return 1u << (32 - a->prefix);
}

/* The owner written in the file of address name; false when unreadable. */
static bool owner_of(const berth_ipam *a, const char *name, char *buf, size_t size)
{
    int fd = openat(a->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n;

    if (fd < 0)
        return false;
    n = read(fd, buf, size - 1);
    close(fd);
    /* empty: cut short by a power loss; an owner no pod has (a sweep
     * gives it back) */
    if (n < 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* Call fn on each address file (name, owner); a non-zero return stops. */
static int each(berth_ipam *a,
                int (*fn)(berth_ipam *a, const char *name, const char *owner, void *data),
                void *data, berth_error **err)
{
    _cleanup_closedir_ DIR *d = NULL;
    struct dirent *de;
    int fd = dup(a->dirfd), r = 0;

    if (fd < 0 || !(d = fdopendir(fd))) {
        if (fd >= 0)
            close(fd);
        return berth_error_errno(err, "read %s", a->dir);
    }
    rewinddir(d);
    while (!r && (de = readdir(d))) {
        struct in_addr in;
        char owner[OWNER_MAX];

        if (inet_pton(AF_INET, de->d_name, &in) != 1 ||
            !owner_of(a, de->d_name, owner, sizeof(owner)))
            continue;
        r = fn(a, de->d_name, owner, data);
    }
    return r;
}

typedef struct find_ctx {
    const char *owner;
    uint32_t addr;
} find_ctx;

static int find_fn(berth_ipam *a, const char *name, const char *owner, void *data)
{
    find_ctx *f = data;
    struct in_addr in;

    (void)a;
    if (strcmp(owner, f->owner) != 0 || inet_pton(AF_INET, name, &in) != 1)
        return 0;
    f->addr = in.s_addr;
    return 1;
}

int berth_ipam_find(berth_ipam *a, const char *owner, uint32_t *ret_addr, berth_error **err)
{
    find_ctx f = { owner, 0 };
    int r = each(a, find_fn, &f, err);

    if (r > 0)
        *ret_addr = f.addr;
    return r;
}

/* Where the last search ended (host order), or the gateway. */
static uint32_t last_given(const berth_ipam *a)
{
    char buf[32];
    struct in_addr in;

    if (owner_of(a, "last", buf, sizeof(buf)) && inet_pton(AF_INET, buf, &in) == 1 &&
        (ntohl(in.s_addr) & ~(size_of(a) - 1)) == a->net)
        return ntohl(in.s_addr);
    return a->net + 1;
}

int berth_ipam_get(berth_ipam *a, const char *owner, uint32_t *ret_addr, berth_error **err)
{
    uint32_t n = size_of(a), start = last_given(a), usable = n - 3;
    char name[16];
    int r;

    if (strlen(owner) >= OWNER_MAX || strchr(owner, '\n'))
        return berth_error_set(err, EINVAL, "'%s' is no owner of an address", owner);
    if ((r = berth_ipam_find(a, owner, ret_addr, err)) != 0)
        return r < 0 ? -1 : 0;
    for (uint32_t i = 1; i <= n; i++) {
        uint32_t host = a->net + ((start - a->net + i) & (n - 1));
        int fd;

        /* not the network, the gateway or the broadcast address */
        if (host == a->net || host == a->net + 1 || host == a->net + n - 1)
            continue;
        berth_ipv4_str(htonl(host), name);
        fd = openat(a->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return berth_error_errno(err, "%s/%s", a->dir, name);
        /* no fsync: after a power loss every pod is gone, and the sweep
         * at the next start gives their addresses back */
        if (berth_write_all(fd, owner, strlen(owner)) < 0) {
            int saved = errno;

            close(fd);
            unlinkat(a->dirfd, name, 0);
            return berth_error_make(err, saved, "%s/%s", a->dir, name);
        }
        close(fd);
        /* where to start next time: best effort (a lost one only reuses
         * sooner) */
        berth_replace_file_at(a->dirfd, "last", name, strlen(name), 0600, NULL);
        *ret_addr = htonl(host);
        return 0;
    }
    return berth_error_set(err, ENOSPC, "pod range %s is full: %u addresses given", a->cidr,
                           usable);
}

static int release_fn(berth_ipam *a, const char *name, const char *owner, void *data)
{
    if (strcmp(owner, (const char *)data) == 0)
        unlinkat(a->dirfd, name, 0);
    return 0;
}

int berth_ipam_release(berth_ipam *a, const char *owner, berth_error **err)
{
    return each(a, release_fn, (void *)owner, err) < 0 ? -1 : 0;
}

typedef struct sweep_ctx {
    bool (*keep)(const char *owner, void *data);
    void *data;
    int freed;
} sweep_ctx;

static int sweep_fn(berth_ipam *a, const char *name, const char *owner, void *data)
{
    sweep_ctx *s = data;

    if (!s->keep(owner, s->data) && unlinkat(a->dirfd, name, 0) == 0)
        s->freed++;
    return 0;
}

int berth_ipam_sweep(berth_ipam *a, bool (*keep)(const char *owner, void *data), void *data,
                     berth_error **err)
{
    sweep_ctx s = { keep, data, 0 };

    if (each(a, sweep_fn, &s, err) < 0)
        return -1;
    return s.freed;
}
