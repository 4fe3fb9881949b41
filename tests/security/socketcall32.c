/* socketcall32: an i386 program asking for sockets through socketcall(2),
 * the 32-bit path whose arguments sit in memory where a seccomp filter
 * cannot look (M2). Freestanding: no libc, int 0x80. Exits 0 when every
 * family was refused before it reached the kernel's socket code (ENOSYS:
 * the filter; the direct socket calls are filtered), 1 when one got
 * through (a socket, or an answer from the family itself). */
#define SYS_exit       1
#define SYS_socketcall 102
#define SOCKOP_socket  1

static long sys2(long n, long a, long b)
{
    long r;

    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b) : "memory");
    return r;
}

void _start(void)
{
    /* AF_ALG, AF_VSOCK, AF_DECnet, AF_CAIF, and AF_UNIX as a witness that
     * the path itself is closed, not just these families */
    static const unsigned long families[] = { 38, 40, 12, 37, 1 };
    int escaped = 0;

    for (unsigned i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        unsigned long args[3] = { families[i], 1 /* SOCK_STREAM */, 0 };
        long r = sys2(SYS_socketcall, SOCKOP_socket, (long)args);

        if (r != -38 /* ENOSYS */)
            escaped = 1;
    }
    sys2(SYS_exit, escaped, 0);
    for (;;)
        ;
}
