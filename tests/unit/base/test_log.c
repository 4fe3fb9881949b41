/* Logging: levels, text and JSON records, escaping, one write per record. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "check_main.h"

static int pipefd[2];

static void setup(void)
{
    ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
}

static void teardown(void)
{
    close(pipefd[0]);
    close(pipefd[1]);
}

/* Everything logged so far, as one string. */
static const char *drain(void)
{
    static char buf[65536];
    ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

START_TEST(levels)
{
    berth_log_setup("t", BERTH_LOG_WARN, BERTH_LOG_TEXT, pipefd[1]);
    berth_info("hidden");
    berth_debug("hidden");
    ck_assert_str_eq(drain(), "");
    ck_assert(!berth_log_enabled(BERTH_LOG_INFO));
    berth_warn("shown %d", 42);
    ck_assert_ptr_nonnull(strstr(drain(), " t warn: shown 42\n"));
}
END_TEST

START_TEST(text_record)
{
    const char *out;

    berth_log_setup("berthd", BERTH_LOG_DEBUG, BERTH_LOG_TEXT, pipefd[1]);
    berth_info("container %s started", "web-1");
    out = drain();
    /* "2026-11-29T04:22:26.123Z berthd info: container web-1 started\n" */
    ck_assert_uint_eq(strlen(out), 24 + strlen(" berthd info: container web-1 started\n"));
    ck_assert_int_eq(out[4], '-');
    ck_assert_int_eq(out[10], 'T');
    ck_assert_int_eq(out[23], 'Z');
    ck_assert_str_eq(out + 24, " berthd info: container web-1 started\n");

    /* Control characters from untrusted text never reach the terminal. */
    berth_info("evil \x1b[31mred\nnext");
    out = drain();
    ck_assert_str_eq(out + 24, " berthd info: evil ?[31mred?next\n");
}
END_TEST

/* JOURNAL_STREAM naming the fd: syslog priorities, no time or program;
 * naming another inode (stderr redirected by a shell): plain records. */
START_TEST(journal_priorities)
{
    struct stat st;
    char v[64];
    const char *out;

    ck_assert_int_eq(fstat(pipefd[1], &st), 0);
    snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", v, 1);
    berth_log_setup("berthd", BERTH_LOG_DEBUG, BERTH_LOG_TEXT, pipefd[1]);
    berth_err("disk %s", "full");
    berth_warn("slow");
    berth_info("up");
    berth_debug("detail \x1b");
    ck_assert_str_eq(drain(),
                     "<3>error: disk full\n<4>warn: slow\n<6>info: up\n<7>debug: detail ?\n");

    berth_log_setup("berthd", BERTH_LOG_DEBUG, BERTH_LOG_JSON, pipefd[1]);
    berth_err("x");
    out = drain();
    ck_assert_msg(strncmp(out, "<3>{\"time\":", 11) == 0, "%s", out);

    snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    setenv("JOURNAL_STREAM", v, 1);
    berth_log_setup("berthd", BERTH_LOG_DEBUG, BERTH_LOG_TEXT, pipefd[1]);
    berth_err("plain");
    ck_assert_ptr_nonnull(strstr(drain(), " berthd error: plain\n"));
    setenv("JOURNAL_STREAM", "garbage", 1);
    berth_log_setup("berthd", BERTH_LOG_DEBUG, BERTH_LOG_TEXT, pipefd[1]);
    berth_err("plain");
    ck_assert_int_ne(drain()[0], '<');
    unsetenv("JOURNAL_STREAM");
}
END_TEST

START_TEST(json_record)
{
    const char *out;

    berth_log_setup("berthd", BERTH_LOG_DEBUG, BERTH_LOG_JSON, pipefd[1]);
    berth_err("quote \" backslash \\ nl \n tab \t ctl \x01 bad \xff utf8 \xc3\xa9");
    out = drain();
    ck_assert_int_eq(strncmp(out, "{\"time\":\"", 9), 0);
    ck_assert_int_eq(strncmp(out + strlen("{\"time\":\"2026-11-29T04:22:26.123456789Z\""),
                             ",\"level\":\"error\",\"prog\":\"berthd\",\"pid\":", 38),
                     0);
    ck_assert_ptr_nonnull(strstr(out, ",\"msg\":\"quote \\\" backslash \\\\ nl \\n tab \\t ctl "
                                      "\\u0001 bad \\ufffd utf8 \xc3\xa9\"}\n"));
    ck_assert_int_eq(strchr(out, '\n')[1], '\0'); /* exactly one line */
}
END_TEST

START_TEST(log_error_and_errno)
{
    berth_error *err = NULL;

    berth_log_setup("x", BERTH_LOG_INFO, BERTH_LOG_TEXT, pipefd[1]);
    berth_error_make(&err, ENOENT, "open /y");
    errno = EBUSY;
    berth_log_error(BERTH_LOG_ERROR, err, "start %s", "c1");
    ck_assert_int_eq(errno, EBUSY); /* logging never clobbers errno */
    ck_assert_ptr_nonnull(
        strstr(drain(), " x error: start c1: open /y: No such file or directory\n"));
    berth_error_free(&err);
}
END_TEST

START_TEST(long_message_truncated)
{
    static char big[20000];
    const char *out;

    memset(big, 'q', sizeof(big) - 1);
    berth_log_setup("x", BERTH_LOG_INFO, BERTH_LOG_JSON, pipefd[1]);
    berth_info("%s", big);
    out = drain();
    ck_assert_ptr_nonnull(strstr(out, "qqq\"}\n"));
    ck_assert_uint_lt(strlen(out), 4096 + 200);
}
END_TEST

START_TEST(parse_names)
{
    berth_error *err = NULL;
    berth_log_level l;
    berth_log_format f;

    ck_assert_int_eq(berth_log_level_parse("DEBUG", &l, &err), 0);
    ck_assert_int_eq(l, BERTH_LOG_DEBUG);
    ck_assert_int_eq(berth_log_level_parse("warning", &l, &err), 0);
    ck_assert_int_eq(l, BERTH_LOG_WARN);
    ck_assert_berth_error(berth_log_level_parse("loud", &l, &err), err,
                          "log level 'loud': expected debug, info, warn or error");
    ck_assert_int_eq(berth_log_format_parse("json", &f, &err), 0);
    ck_assert_int_eq(f, BERTH_LOG_JSON);
    ck_assert_berth_error(berth_log_format_parse("xml", &f, &err), err,
                          "log format 'xml': expected text or json");
}
END_TEST

START_TEST(json_escape_bounds)
{
    char out[8];

    /* Never split an escape at the end of the buffer. */
    ck_assert_uint_eq(berth_json_escape(out, 7, "abcde\""), 5);
    ck_assert_str_eq(out, "abcde");
    ck_assert_uint_eq(berth_json_escape(out, sizeof(out), "\x01"), 6);
    ck_assert_str_eq(out, "\\u0001");
    ck_assert_uint_eq(berth_json_escape(out, 1, "abc"), 0);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("base/log");
    TCase *tc = tcase_create("log");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, levels);
    tcase_add_test(tc, text_record);
    tcase_add_test(tc, json_record);
    tcase_add_test(tc, journal_priorities);
    tcase_add_test(tc, log_error_and_errno);
    tcase_add_test(tc, long_message_truncated);
    tcase_add_test(tc, parse_names);
    tcase_add_test(tc, json_escape_bounds);
    suite_add_tcase(s, tc);
    return s;
}
