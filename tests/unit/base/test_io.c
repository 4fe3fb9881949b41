/* I/O wrappers, capped reads, mkdir -p, and the atomic write: after a
 * failure or a kill at any point the file holds the old or the new content,
 * never a mix. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "check_main.h"

static char dir[] = "/tmp/berth-test-io-XXXXXX";

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *path_in(const char *name)
{
    static char p[256];

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

static int count_temp_files(void)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp"))
            n++;
    return n;
}

/* The file is exactly len copies of c. */
static int file_is(const char *path, char c, size_t len)
{
    _cleanup_free_ char *data = NULL;
    size_t n;

    if (berth_read_file_at(AT_FDCWD, path, 64 << 20, &data, &n, NULL) < 0)
        return 0;
    if (n != len)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (data[i] != c)
            return 0;
    return 1;
}

START_TEST(atomic_write_basic)
{
    berth_error *err = NULL;
    _cleanup_free_ char *data = NULL;
    struct stat st;
    size_t len;
    mode_t old = umask(077);

    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path_in("state"), "v1", 2, 0644, &err),
                     0);
    umask(old);
    ck_assert_int_eq(stat(path_in("state"), &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0644); /* the umask does not decide */
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path_in("state"), "v2!", 3, 0600, &err),
                     0);
    ck_assert_int_eq(berth_read_file_at(AT_FDCWD, path_in("state"), 100, &data, &len, &err), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert_str_eq(data, "v2!");
    ck_assert_int_eq(count_temp_files(), 0);

    /* Relative to a directory fd, with a bare name. */
    {
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_eq(berth_write_file_atomic_at(dfd, "rel", "x", 1, 0600, &err), 0);
        ck_assert(file_is(path_in("rel"), 'x', 1));
    }
}
END_TEST

START_TEST(atomic_write_errors)
{
    berth_error *err = NULL;
    char path[300];

    snprintf(path, sizeof(path), "%s/missing/state", dir);
    ck_assert_int_lt(berth_write_file_atomic_at(AT_FDCWD, path, "x", 1, 0600, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    ck_assert(strstr(err->msg, "open directory ") == err->msg);
    ck_assert(strstr(err->msg, "/missing: No such file or directory"));
    berth_error_free(&err);

    snprintf(path, sizeof(path), "%s/", dir);
    ck_assert_berth_error(
        berth_write_file_atomic_at(AT_FDCWD, path, "x", 1, 0600, &err), err,
        (snprintf(path + 200, 100, "write %s/: not a file name", dir), path + 200));
}
END_TEST

/* The write fails midway (RLIMIT_FSIZE makes write(2) return EFBIG after
 * part of the data went out): the old content stays, no temp file is left. */
START_TEST(atomic_write_fails_midway)
{
    const size_t old_len = 1000, new_len = 4 << 20;
    _cleanup_free_ char *old = malloc(old_len), *new = malloc(new_len);
    berth_error *err = NULL;
    pid_t pid;
    int status;

    memset(old, 'o', old_len);
    memset(new, 'n', new_len);
    ck_assert_int_eq(
        berth_write_file_atomic_at(AT_FDCWD, path_in("state"), old, old_len, 0600, &err), 0);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit rl = { .rlim_cur = 1 << 20, .rlim_max = 1 << 20 };
        int r;

        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        r = berth_write_file_atomic_at(AT_FDCWD, path_in("state"), new, new_len, 0600, &err);
        /* 3: failed with EFBIG and a message naming the file, as expected */
        _exit(r < 0 && err->code == EFBIG && strstr(err->msg, "write ") &&
                      strstr(err->msg, "/state: File too large")
                  ? 3
                  : 1);
    }
    ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 3);
    ck_assert(file_is(path_in("state"), 'o', old_len));
    ck_assert_int_eq(count_temp_files(), 0);
}
END_TEST

/* SIGKILL a writer at random points while it replaces the file with
 * alternating contents: every observed state is one whole version. A killed
 * writer may leave a temp file (nothing can clean up after SIGKILL); it is
 * hidden and never mistaken for the file. */
START_TEST(atomic_write_killed_anywhere)
{
    const size_t len = 2 << 20;
    struct timespec ts;

    ck_assert(berth_write_file_atomic_at(AT_FDCWD, path_in("state"), "", 0, 0600, NULL) == 0);
    srand((unsigned)time(NULL));
    for (int round = 0; round < 30; round++) {
        pid_t pid = fork();
        int status;

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            char *a = malloc(len), *b = malloc(len);

            memset(a, 'a', len);
            memset(b, 'b', len);
            for (int i = 0;; i++)
                berth_write_file_atomic_at(AT_FDCWD, path_in("state"), i % 2 ? b : a, len, 0600,
                                           NULL);
        }
        ts.tv_sec = 0;
        ts.tv_nsec = (rand() % 20000) * 1000L;
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
        ck_assert_msg(file_is(path_in("state"), 'a', len) || file_is(path_in("state"), 'b', len) ||
                          file_is(path_in("state"), 'x', 0),
                      "round %d: partial file", round);
    }
}
END_TEST

START_TEST(read_file_cap)
{
    berth_error *err = NULL;
    _cleanup_free_ char *data = NULL;
    size_t len;
    char expect[300];

    ck_assert_int_eq(
        berth_write_file_atomic_at(AT_FDCWD, path_in("f"), "0123456789", 10, 0600, &err), 0);
    ck_assert_int_eq(berth_read_file_at(AT_FDCWD, path_in("f"), 10, &data, &len, &err), 0);
    ck_assert_str_eq(data, "0123456789");
    snprintf(expect, sizeof(expect), "read %s: larger than 9 bytes", path_in("f"));
    ck_assert_berth_error(berth_read_file_at(AT_FDCWD, path_in("f"), 9, &data, &len, &err), err,
                          expect);
    snprintf(expect, sizeof(expect), "open %s: No such file or directory", path_in("nope"));
    ck_assert_berth_error(berth_read_file_at(AT_FDCWD, path_in("nope"), 9, &data, &len, &err), err,
                          expect);
    /* An unbounded pseudo-file is cut off at the cap, not read forever. */
    ck_assert_berth_error(berth_read_file_at(AT_FDCWD, "/dev/zero", 100000, &data, &len, &err), err,
                          "read /dev/zero: larger than 100000 bytes");
}
END_TEST

START_TEST(read_write_pipes)
{
    int p[2];
    char buf[70000];
    static char big[70000];
    pid_t pid;

    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    memset(big, 'z', sizeof(big));
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        /* More than a pipe holds: write_all must loop on short writes. */
        _exit(berth_write_all(p[1], big, sizeof(big)) == 0 ? 0 : 1);
    }
    close(p[1]);
    ck_assert_int_eq(berth_read_all(p[0], buf, sizeof(buf)), (ssize_t)sizeof(buf));
    ck_assert_int_eq(memcmp(buf, big, sizeof(buf)), 0);
    ck_assert_int_eq(berth_read_all(p[0], buf, 10), 0); /* EOF */
    close(p[0]);
    {
        int status;
        ck_assert_int_eq(berth_waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(status, 0);
    }
    /* Writing to a closed pipe fails with EPIPE (SIGPIPE ignored). */
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    ck_assert_int_eq(berth_write_all(p[1], "x", 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    close(p[1]);
}
END_TEST

START_TEST(mkdir_p)
{
    berth_error *err = NULL;
    struct stat st;
    char expect[300];

    ck_assert_int_eq(berth_mkdir_p(path_in("a/b//c/"), 0700, &err), 0);
    ck_assert_int_eq(stat(path_in("a/b/c"), &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(berth_mkdir_p(path_in("a/b/c"), 0700, &err), 0); /* idempotent */
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path_in("file"), "", 0, 0600, &err), 0);
    snprintf(expect, sizeof(expect), "mkdir %s: not a directory", path_in("file"));
    ck_assert_berth_error(berth_mkdir_p(path_in("file/sub"), 0700, &err), err, expect);
    ck_assert_berth_error(berth_mkdir_p("", 0700, &err), err, "mkdir: empty path");
}
END_TEST

START_TEST(write_string)
{
    berth_error *err = NULL;
    char expect[300];

    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path_in("ctl"), "", 0, 0600, &err), 0);
    ck_assert_int_eq(berth_write_file_string_at(AT_FDCWD, path_in("ctl"), "max", &err), 0);
    {
        _cleanup_free_ char *data = NULL;
        ck_assert_int_eq(berth_read_file_at(AT_FDCWD, path_in("ctl"), 100, &data, NULL, &err), 0);
        ck_assert_str_eq(data, "max");
    }
    snprintf(expect, sizeof(expect), "open %s: No such file or directory", path_in("none"));
    ck_assert_berth_error(berth_write_file_string_at(AT_FDCWD, path_in("none"), "1", &err), err,
                          expect);
    ck_assert_berth_error(berth_write_file_string_at(AT_FDCWD, "/dev/full", "1", &err), err,
                          "write '1' to /dev/full: No space left on device");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("base/io");
    TCase *tc = tcase_create("io");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, atomic_write_basic);
    tcase_add_test(tc, atomic_write_errors);
    tcase_add_test(tc, atomic_write_fails_midway);
    tcase_add_test(tc, atomic_write_killed_anywhere);
    tcase_add_test(tc, read_file_cap);
    tcase_add_test(tc, read_write_pipes);
    tcase_add_test(tc, mkdir_p);
    tcase_add_test(tc, write_string);
    suite_add_tcase(s, tc);
    return s;
}
