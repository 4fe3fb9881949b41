/* Preloaded into berthd by test_agent.c: once the file named by
 * BERTH_TEST_EPOLL_FAIL exists, the next EPOLL_CTL_ADD of a pipe fails
 * (ENOSPC, as when max_user_watches is reached) and the file is removed.
 * In berthd the only pipe that joins the loop is the answer fd of a
 * monitor it has just started. Inert in any other program (the monitors
 * berthd starts inherit the environment). */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    static int (*real)(int, int, int, struct epoll_event *);
    const char *trigger = getenv("BERTH_TEST_EPOLL_FAIL");
    struct stat st;

    if (!real)
        real = (int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
    if (op == EPOLL_CTL_ADD && trigger && strcmp(program_invocation_short_name, "berthd") == 0 &&
        fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && unlink(trigger) == 0) {
        errno = ENOSPC;
        return -1;
    }
    return real(epfd, op, fd, ev);
}
