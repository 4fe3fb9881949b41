/* The cgroup v2 device allow-list: a BPF_PROG_TYPE_CGROUP_DEVICE program,
 * generated from cgroup_default_devices and attached to the container's
 * cgroup (v2 has no devices.allow file). The program returns 1 (allow) when
 * the access matches a rule and 0 otherwise. Hand-assembled: berth does not
 * link libbpf. */
#include "cgroup-internal.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/xalloc.h"

/* the prologue, at most 8 per rule, the epilogue */
#define MAX_INSNS (8 + 8 * (32 + BERTH_CGROUP_DEVICES_MAX))

/* Registers: r1 = ctx; r2 = type; r3 = access; r4 = major; r5 = minor;
 * r6 = scratch. */
#define INSN(c, d, s, o, i)                                                                        \
    ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
#define LDX_W(d, s, o)   INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define MOV_REG(d, s)    INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i)    INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define AND_IMM(d, i)    INSN(BPF_ALU64 | BPF_AND | BPF_K, d, 0, 0, i)
#define RSH_IMM(d, i)    INSN(BPF_ALU64 | BPF_RSH | BPF_K, d, 0, 0, i)
#define JNE_IMM(d, i, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define EXIT()           INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static int access_bits(const char *access)
{
    int bits = 0;

    for (const char *p = access; *p; p++)
        bits |= *p == 'm'   ? BPF_DEVCG_ACC_MKNOD
                : *p == 'r' ? BPF_DEVCG_ACC_READ
                            : BPF_DEVCG_ACC_WRITE;
    return bits;
}

/* One rule: match, allow; any mismatch jumps to what follows it. */
static size_t build_rule(struct bpf_insn *p, size_t n, char type, int64_t major, int64_t minor,
                         const char *access)
{
    size_t jumps[8], nj = 0;
    int allowed = access_bits(access);

    if (type != 'a') {
        jumps[nj++] = n;
        p[n++] = JNE_IMM(BPF_REG_2, type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0);
    }
    if (allowed != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)) {
        /* The requested access must be a subset of the allowed one. */
        p[n++] = MOV_REG(BPF_REG_6, BPF_REG_3);
        p[n++] = AND_IMM(BPF_REG_6, ~allowed);
        jumps[nj++] = n;
        p[n++] = JNE_IMM(BPF_REG_6, 0, 0);
    }
    if (major >= 0) {
        jumps[nj++] = n;
        p[n++] = JNE_IMM(BPF_REG_4, (int32_t)major, 0);
    }
    if (minor >= 0) {
        jumps[nj++] = n;
        p[n++] = JNE_IMM(BPF_REG_5, (int32_t)minor, 0);
    }
    p[n++] = MOV_IMM(BPF_REG_0, 1);
    p[n++] = EXIT();
    /* Every mismatch jumps to the next rule's first instruction. */
    for (size_t j = 0; j < nj; j++)
        p[jumps[j]].off = (int16_t)(n - jumps[j] - 1);
    return n;
}

static size_t build_program(struct bpf_insn *p, const berth_cgroup_device *devs, size_t n_devs)
{
    size_t n = 0;

    p[n++] = LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
    p[n++] = MOV_REG(BPF_REG_3, BPF_REG_2);
    p[n++] = AND_IMM(BPF_REG_2, 0xffff); /* type */
    p[n++] = RSH_IMM(BPF_REG_3, 16);     /* access */
    p[n++] = LDX_W(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
    p[n++] = LDX_W(BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));
    for (size_t i = 0; i < cgroup_default_devices_len; i++) {
        const struct cgroup_device_rule *r = &cgroup_default_devices[i];

        n = build_rule(p, n, r->type, r->major, r->minor, r->access);
    }
    for (size_t i = 0; i < n_devs; i++)
        n = build_rule(p, n, devs[i].type, devs[i].major, devs[i].minor, devs[i].access);
    p[n++] = MOV_IMM(BPF_REG_0, 0);
    p[n++] = EXIT();
    return n;
}

int cgroup_v2_attach_device_filter(int cgroup_dirfd, const char *path,
                                   const berth_cgroup_device *devs, size_t n_devs,
                                   berth_error **err)
{
    _cleanup_free_ struct bpf_insn *prog = NULL;
    char log[4096] = "";
    union bpf_attr attr;
    _cleanup_close_ int pfd = -1;
    size_t n;

    if (n_devs > BERTH_CGROUP_DEVICES_MAX || cgroup_default_devices_len > 32)
        return berth_error_set(err, E2BIG, "device filter for %s: %zu devices, at most %d", path,
                               n_devs, BERTH_CGROUP_DEVICES_MAX);
    prog = berth_xcalloc(MAX_INSNS, sizeof(*prog));
    n = build_program(prog, devs, n_devs);

    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)prog;
    attr.insn_cnt = (uint32_t)n;
    attr.license = (uint64_t)(uintptr_t) "GPL";
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = sizeof(log);
    attr.log_level = 1;
    pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    if (pfd < 0 && errno == ENOSPC) {
        /* The verifier log did not fit; retry without it for the errno. */
        attr.log_buf = 0;
        attr.log_size = 0;
        attr.log_level = 0;
        pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
    }
    if (pfd < 0)
        return berth_error_errno(err, "load device filter for %s%s%s", path, *log ? ": " : "", log);

    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgroup_dirfd;
    attr.attach_bpf_fd = (uint32_t)pfd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)) < 0)
        return berth_error_errno(err, "attach device filter to %s", path);
    /* The attachment holds the program; our fd is closed on return. */
    return 0;
}
