/* ptydrive: run a command on a pseudo-terminal of its own and hold a
 * scripted conversation with it, as a person at a terminal would (a small
 * expect(1)). For the exec tests: a prompt, typed lines, Ctrl-C, the
 * window resized, the exit code.
 *
 *   ptydrive ROWS COLS -- COMMAND [ARGS...] < SCRIPT
 *
 * The terminal starts ROWS x COLS. SCRIPT has one step a line:
 *
 *   expect TEXT     wait (up to 15 s) until the output since the last match
 *                   holds TEXT
 *   send TEXT       type TEXT
 *   resize ROWS COLS  change the window size (the command gets SIGWINCH)
 *   sleep MS
 *   exit CODE       wait (up to 15 s) for the command to exit with CODE
 *
 * TEXT may hold \r, \n, \t, \\ and \xHH (\x03 is Ctrl-C). What the command
 * printed goes to stderr, with each step. Exit 0 when every step passed,
 * 1 at the first that did not (saying which), 2 for a usage error. */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STEP_MS 15000
#define OUT_MAX (1 << 20)

static char out[OUT_MAX + 1];
static size_t out_len, out_mark;
static int master = -1;
static pid_t child;
static int child_status = -1;

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Decode the escapes of TEXT in place; its length. */
static size_t unescape(char *s)
{
    char *w = s;

    for (char *r = s; *r; r++) {
        if (*r != '\\' || !r[1]) {
            *w++ = *r;
            continue;
        }
        r++;
        switch (*r) {
        case 'r':
            *w++ = '\r';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'x': {
            char hex[3] = { r[1], r[1] ? r[2] : 0, 0 };

            *w++ = (char)strtol(hex, NULL, 16);
            r += 2;
            break;
        }
        default:
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* Read what the command printed for up to ms (0: what is there). */
static void pump(int ms)
{
    struct pollfd p = { .fd = master, .events = POLLIN };

    if (master < 0)
        return;
    if (poll(&p, 1, ms) <= 0)
        return;
    if (out_len < OUT_MAX) {
        ssize_t n = read(master, out + out_len, OUT_MAX - out_len);

        if (n > 0) {
            fwrite(out + out_len, 1, (size_t)n, stderr);
            out_len += (size_t)n;
            out[out_len] = '\0';
        } else {
            /* EIO: the last of the terminal's users went */
            close(master);
            master = -1;
        }
    }
}

static bool reaped(void)
{
    int st;

    if (child_status >= 0)
        return true;
    if (waitpid(child, &st, WNOHANG) == child) {
        child_status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return true;
    }
    return false;
}

static int step(char *line)
{
    char *arg = strchr(line, ' ');
    long long due = now_ms() + STEP_MS;

    if (arg)
        *arg++ = '\0';
    else
        arg = line + strlen(line);
    fprintf(stderr, "\n[ptydrive: %s %s]\n", line, arg);
    if (strcmp(line, "expect") == 0) {
        unescape(arg);
        while (!strstr(out + out_mark, arg)) {
            if (now_ms() > due || (master < 0 && reaped())) {
                fprintf(stderr, "\n[ptydrive: expected \"%s\", not seen]\n", arg);
                return -1;
            }
            pump(100);
        }
        out_mark = (size_t)(strstr(out + out_mark, arg) - out) + strlen(arg);
        return 0;
    }
    if (strcmp(line, "send") == 0) {
        size_t n = unescape(arg);

        if (master < 0 || write(master, arg, n) != (ssize_t)n) {
            fprintf(stderr, "\n[ptydrive: could not type]\n");
            return -1;
        }
        return 0;
    }
    if (strcmp(line, "resize") == 0) {
        struct winsize ws = { 0 };
        unsigned rows, cols;

        if (sscanf(arg, "%u %u", &rows, &cols) != 2)
            return -1;
        ws.ws_row = (unsigned short)rows;
        ws.ws_col = (unsigned short)cols;
        /* the kernel sends SIGWINCH to the terminal's foreground group */
        return master >= 0 && ioctl(master, TIOCSWINSZ, &ws) == 0 ? 0 : -1;
    }
    if (strcmp(line, "sleep") == 0) {
        long long until = now_ms() + atoll(arg);

        while (now_ms() < until)
            pump((int)(until - now_ms()));
        return 0;
    }
    if (strcmp(line, "exit") == 0) {
        int want = atoi(arg);

        while (!reaped()) {
            if (now_ms() > due) {
                fprintf(stderr, "\n[ptydrive: still running]\n");
                return -1;
            }
            pump(100);
        }
        pump(0);
        if (child_status != want) {
            fprintf(stderr, "\n[ptydrive: exit code %d, expected %d]\n", child_status, want);
            return -1;
        }
        return 0;
    }
    fprintf(stderr, "ptydrive: unknown step %s\n", line);
    return -1;
}

int main(int argc, char **argv)
{
    struct winsize ws = { 0 };
    char line[4096];
    int n = 0;

    if (argc < 5 || strcmp(argv[3], "--") != 0) {
        fprintf(stderr, "usage: ptydrive ROWS COLS -- COMMAND [ARGS...] < SCRIPT\n");
        return 2;
    }
    ws.ws_row = (unsigned short)atoi(argv[1]);
    ws.ws_col = (unsigned short)atoi(argv[2]);
    child = forkpty(&master, NULL, NULL, &ws);
    if (child < 0) {
        perror("ptydrive: forkpty");
        return 1;
    }
    if (child == 0) {
        execvp(argv[4], argv + 4);
        perror("ptydrive: exec");
        _exit(127);
    }
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = '\0';
        if (!*line || *line == '#')
            continue;
        n++;
        if (step(line) < 0) {
            fprintf(stderr, "ptydrive: step %d failed: %s\n", n, line);
            if (!reaped())
                kill(child, SIGKILL);
            return 1;
        }
    }
    return 0;
}
