/* The runtime's own pure parts: the build-time seccomp program is the
 * compact form of what libseccomp compiles now and decides as it does (in
 * an interpreter, and in the kernel), and cgroup v2 weights map to v1
 * shares. */
#include <check.h>
#include <errno.h>
#include <linux/audit.h>
#include <sched.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "runtime/runtime-internal.h"
#include "runtime/seccomp-compact.h"

/* The program compiled at build time is the compact form of the one
 * libseccomp makes now. */
START_TEST(seccomp_build_time_program_is_current)
{
    berth_error *err = NULL;
    struct sock_fprog fresh, compact;
    char why[512];

    ck_assert_uint_eq(seccomp_default_caps, berth_caps_default());
    ck_assert_int_eq(seccomp_compile_default(berth_caps_default(), &fresh, &err), 0);
    ck_assert_msg(seccomp_compact(&fresh, &compact, why, sizeof(why)) == 0, "%s", why);
    ck_assert_uint_eq(compact.len, seccomp_default_prog.len);
    ck_assert_int_eq(memcmp(compact.filter, seccomp_default_prog.filter,
                            compact.len * sizeof(struct sock_filter)),
                     0);
    /* about half: the point of it */
    ck_assert_uint_lt(compact.len, fresh.len * 2 / 3);
    free(compact.filter);
    free(fresh.filter);
    /* Adding CAP_SYS_ADMIN allows more (mount, unshare ...): a different,
     * longer program. */
    ck_assert_int_eq(seccomp_compile_default(berth_caps_default() | (1ULL << 21), &fresh, &err), 0);
    ck_assert_uint_ne(fresh.len, seccomp_default_prog.len);
    free(fresh.filter);
}
END_TEST

static uint32_t eval(const struct sock_fprog *p, uint32_t arch, uint32_t nr, uint64_t a0,
                     uint64_t a1)
{
    struct seccomp_data d = { .nr = (int)nr, .arch = arch, .args = { a0, a1 } };

    return seccomp_bpf_eval(p, &d);
}

/* Every number of the three ABIs and of none, the arguments the profile
 * looks at (socket families, personalities, clone flags) and random ones:
 * the same decision from both programs. */
START_TEST(seccomp_compact_decides_as_libseccomp)
{
    static const uint32_t archs[] = { AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, 0 };
    const struct sock_fprog *c = &seccomp_default_prog;
    berth_error *err = NULL;
    struct sock_fprog ref;
    uint64_t seed = 42;

    ck_assert_int_eq(seccomp_compile_default(berth_caps_default(), &ref, &err), 0);
    for (size_t a = 0; a < sizeof(archs) / sizeof(archs[0]); a++)
        for (uint32_t k = 0; k < 2 * 1024; k++) {
            uint32_t nr = k < 1024 ? k : 0x40000000u + k - 1024;

            /* (UINT32_MAX: the interpreter met an instruction it does
             * not know, in either) */
            ck_assert_uint_ne(eval(&ref, archs[a], nr, 0, 0), UINT32_MAX);
            ck_assert_uint_eq(eval(c, archs[a], nr, 0, 0), eval(&ref, archs[a], nr, 0, 0));
            for (uint64_t v = 0; v < 64; v++) {
                ck_assert_uint_eq(eval(c, archs[a], nr, v, 0), eval(&ref, archs[a], nr, v, 0));
                ck_assert_uint_eq(eval(c, archs[a], nr, 1ULL << v, 0),
                                  eval(&ref, archs[a], nr, 1ULL << v, 0));
            }
            for (int r = 0; r < 8; r++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                ck_assert_uint_eq(eval(c, archs[a], nr, seed, seed >> 7),
                                  eval(&ref, archs[a], nr, seed, seed >> 7));
            }
        }
    /* known answers, one per architecture's block: getpid allowed on
     * x86-64 (39), i386 (20) and x32 (0x40000027), unshare refused on
     * x86-64 (272), an unknown architecture killed */
    ck_assert_uint_eq(eval(c, AUDIT_ARCH_X86_64, 39, 0, 0), SECCOMP_RET_ALLOW);
    ck_assert_uint_eq(eval(c, AUDIT_ARCH_I386, 20, 0, 0), SECCOMP_RET_ALLOW);
    ck_assert_uint_eq(eval(c, AUDIT_ARCH_X86_64, 0x40000027, 0, 0), SECCOMP_RET_ALLOW);
    ck_assert_uint_eq(eval(c, AUDIT_ARCH_X86_64, 272, 0, 0), SECCOMP_RET_ERRNO | EPERM);
    ck_assert_uint_eq(eval(c, AUDIT_ARCH_AARCH64, 39, 0, 0) & SECCOMP_RET_ACTION_FULL,
                      eval(&ref, AUDIT_ARCH_AARCH64, 39, 0, 0) & SECCOMP_RET_ACTION_FULL);
    ck_assert_uint_ne(eval(c, AUDIT_ARCH_AARCH64, 39, 0, 0) & SECCOMP_RET_ACTION_FULL,
                      SECCOMP_RET_ALLOW);
    /* personality: the five values allowed, and their neighbours */
    for (uint64_t v = 0; v < 0x20010; v += 0x10)
        ck_assert_uint_eq(eval(c, AUDIT_ARCH_X86_64, SYS_personality, v, 0),
                          eval(&ref, AUDIT_ARCH_X86_64, SYS_personality, v, 0));
    ck_assert_uint_eq(eval(c, AUDIT_ARCH_X86_64, SYS_personality, 0xffffffffULL, 0),
                      SECCOMP_RET_ALLOW);
    ck_assert_uint_eq(eval(c, AUDIT_ARCH_X86_64, SYS_personality, 0x1ffffffffULL, 0),
                      eval(&ref, AUDIT_ARCH_X86_64, SYS_personality, 0x1ffffffffULL, 0));
    free(ref.filter);
}
END_TEST

/* What the compactor cannot prove the same, it refuses. */
START_TEST(seccomp_compact_refuses_what_it_does_not_know)
{
    struct sock_filter imm[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_IMM, 5),
        BPF_STMT(BPF_RET | BPF_A, 0),
    };
    struct sock_filter low_bit[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_filter and_nr[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xff),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    /* A is the arch on one path and the number on the other when they
     * meet: the arch compared where it may be either */
    struct sock_filter arch_merge[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 0x12345678, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    };
    struct sock_filter simple[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 39, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 100, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_fprog p = { .len = 5, .filter = imm }, out;
    char why[256];

    ck_assert_int_eq(seccomp_compact(&p, &out, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "an instruction libseccomp does not emit");
    p = (struct sock_fprog){ .len = 7, .filter = low_bit };
    ck_assert_int_eq(seccomp_compact(&p, &out, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "a bit test on a low mask");
    p = (struct sock_fprog){ .len = 6, .filter = arch_merge };
    ck_assert_int_eq(seccomp_compact(&p, &out, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "an order or bit comparison of the architecture");
    /* ranges of numbers hold only for numbers compared as they are */
    p = (struct sock_fprog){ .len = 8, .filter = and_nr };
    ck_assert_int_eq(seccomp_compact(&p, &out, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "an AND on the system call number");
    /* and what it knows, it keeps: 39 and everything above 100 allowed */
    p = (struct sock_fprog){ .len = 9, .filter = simple };
    ck_assert_msg(seccomp_compact(&p, &out, why, sizeof(why)) == 0, "%s", why);
    ck_assert_uint_eq(eval(&out, AUDIT_ARCH_X86_64, 39, 0, 0), SECCOMP_RET_ALLOW);
    ck_assert_uint_eq(eval(&out, AUDIT_ARCH_X86_64, 40, 0, 0), SECCOMP_RET_ERRNO | EPERM);
    ck_assert_uint_eq(eval(&out, AUDIT_ARCH_X86_64, 101, 0, 0), SECCOMP_RET_ALLOW);
    ck_assert_uint_eq(eval(&out, AUDIT_ARCH_I386, 39, 0, 0), SECCOMP_RET_KILL_PROCESS);
    free(out.filter);
}
END_TEST

/* In a child under prog: what a set of probes answer, as one number per
 * probe (the result, or -errno), written to fd. Probes that change
 * nothing if allowed: namespaces refused either way, sockets closed at
 * once, personality queried, and the i386 entry (int 0x80). */
static void probe_under(const struct sock_fprog *prog, int fd, bool ia32)
{
    long res[9];
    int n = 0;

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
        _exit(2);
#define PROBE(call)                                                                                \
    do {                                                                                           \
        long r_ = (call);                                                                          \
        res[n++] = r_ < 0 ? -errno : 0;                                                            \
        if (r_ > 2)                                                                                \
            close((int)r_);                                                                        \
    } while (0)
    PROBE(syscall(SYS_getppid));
    PROBE(unshare(CLONE_NEWUTS));
    PROBE(socket(AF_UNIX, SOCK_STREAM, 0));
    PROBE(socket(AF_VSOCK, SOCK_STREAM, 0));
    PROBE(socket(AF_ALG, SOCK_SEQPACKET, 0));
    PROBE(syscall(SYS_personality, 0xffffffffUL));
    PROBE(syscall(SYS_personality, ADDR_NO_RANDOMIZE | 0x1000000UL));
    PROBE(syscall(SYS_clone3, NULL, 0));
#if defined(__x86_64__)
    if (ia32) {
        long r;

        /* i386 personality(ADDR_NO_RANDOMIZE): the kernel would take it
         * from anyone; the profile refuses it */
        __asm__ volatile("int $0x80"
                         : "=a"(r)
                         : "a"(136L), "b"((long)ADDR_NO_RANDOMIZE)
                         : "memory");
        res[n++] = r;
    } else {
        res[n++] = -EPERM;
    }
#else
    res[n++] = -EPERM;
#endif
#undef PROBE
    if (write(fd, res, sizeof(res)) != sizeof(res))
        _exit(3);
    _exit(0);
}

/* Whether this kernel takes i386 system calls (int 0x80): not with
 * ia32_emulation=0, where the probe's child dies of SIGSEGV. */
static bool have_ia32(void)
{
#if defined(__x86_64__)
    int status;
    pid_t pid = fork();

    if (pid == 0) {
        long r;

        __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) /* getpid */ : "memory");
        _exit(r > 0 ? 0 : 1);
    }
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
#else
    return false;
#endif
}

static void probe(const struct sock_fprog *prog, long res[9], bool ia32)
{
    int fds[2], status;
    pid_t pid;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        probe_under(prog, fds[1], ia32);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], res, 9 * sizeof(long)), 9 * sizeof(long));
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The kernel's word: the same answers under both programs, and the ones
 * the profile promises. */
START_TEST(seccomp_compact_in_the_kernel)
{
    berth_error *err = NULL;
    struct sock_fprog ref;
    long a[9], b[9];

    bool ia32 = have_ia32();

    ck_assert_int_eq(seccomp_compile_default(berth_caps_default(), &ref, &err), 0);
    probe(&ref, a, ia32);
    probe(&seccomp_default_prog, b, ia32);
    for (int i = 0; i < 9; i++)
        ck_assert_msg(a[i] == b[i], "probe %d: %ld under libseccomp's, %ld under ours", i, a[i],
                      b[i]);
    ck_assert_int_eq(b[0], 0);
    /* unshare is refused by the filter only when this runs as root (as
     * in CI); personality and clone3 are refused by it for anyone */
    if (geteuid() == 0)
        ck_assert_int_eq(b[1], -EPERM);
    ck_assert_int_eq(b[2], 0);
    ck_assert_int_eq(b[3], -EPERM);
    ck_assert_int_eq(b[6], -EPERM);
    ck_assert_int_eq(b[7], -ENOSYS);
    ck_assert_int_eq(b[8], -EPERM);
    free(ref.filter);
}
END_TEST

START_TEST(weights_to_shares)
{
    ck_assert_uint_eq(berth_cgroup_weight_to_shares(1), 2);
    ck_assert_uint_eq(berth_cgroup_weight_to_shares(10000), 262144);
    ck_assert_uint_eq(berth_cgroup_weight_to_shares(0), 1024);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("pure");

    tcase_add_test(tc, seccomp_build_time_program_is_current);
    tcase_add_test(tc, seccomp_compact_decides_as_libseccomp);
    tcase_add_test(tc, seccomp_compact_refuses_what_it_does_not_know);
    tcase_add_test(tc, seccomp_compact_in_the_kernel);
    tcase_add_test(tc, weights_to_shares);
    suite_add_tcase(s, tc);
    return s;
}
