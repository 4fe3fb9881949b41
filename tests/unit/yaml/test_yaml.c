/* lib/yaml: what a scalar is, where an error is and what it says, the
 * field tables (suggestions, duplicates), the typed getters, the bounds
 * on hostile input, the order and the cap of the report, and the file
 * reader. Every assertion is on the text an operator would read. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/io.h"
#include "base/timeutil.h"
#include "check_main.h"
#include "yaml/yaml.h"

static const berth_yaml_limits test_limits = {
    .what = "a test file",
    .bytes = 4096,
    .documents = 3,
    .depth = 4,
    .events = 200,
};

/* Open text as "t.yaml" and give the first document's root. */
static berth_yaml *open_text(const char *text, const berth_yaml_node **ret_root)
{
    berth_yaml *y = NULL;
    berth_error *err = NULL;

    ck_assert_msg(berth_yaml_open(text, strlen(text), "t.yaml", &test_limits, &y, &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_int_eq(berth_yaml_next(y, ret_root), 1);
    return y;
}

/* The report of a reader that must have errors. */
static char *report(berth_yaml *y)
{
    berth_error *err = NULL;

    ck_assert_int_lt(berth_yaml_finish(y, &err), 0);
    ck_assert_int_eq(err->code, EINVAL);
    return berth_error_steal_msg(&err);
}

static void assert_clean(berth_yaml *y)
{
    berth_error *err = NULL;

    ck_assert_msg(berth_yaml_finish(y, &err) == 0, "%s", err ? err->msg : "");
}

/* The error berth_yaml_open gives for text (NULL when it opens). */
static char *open_error(const char *text, size_t len, int code)
{
    berth_yaml *y = (berth_yaml *)0x1;
    berth_error *err = NULL;

    ck_assert_int_lt(berth_yaml_open(text, len, "t.yaml", &test_limits, &y, &err), 0);
    ck_assert_ptr_eq(y, (berth_yaml *)0x1); /* nothing made */
    ck_assert_int_eq(err->code, code);
    return berth_error_steal_msg(&err);
}

/* ---- scalars ---- */

START_TEST(scalars_are_typed_as_yaml_1_1)
{
    static const struct {
        const char *yaml;
        berth_yaml_type type;
    } cases[] = {
        { "v: hello", BERTH_YAML_STRING }, { "v: 'hello'", BERTH_YAML_STRING },
        { "v: 123", BERTH_YAML_INT },      { "v: -7", BERTH_YAML_INT },
        { "v: '123'", BERTH_YAML_STRING }, { "v: \"123\"", BERTH_YAML_STRING },
        { "v: 1.5", BERTH_YAML_FLOAT },    { "v: 1e3", BERTH_YAML_FLOAT },
        { "v: .inf", BERTH_YAML_FLOAT },   { "v: .NaN", BERTH_YAML_FLOAT },
        { "v: true", BERTH_YAML_BOOL },    { "v: yes", BERTH_YAML_BOOL },
        { "v: Off", BERTH_YAML_BOOL },     { "v: 'no'", BERTH_YAML_STRING },
        { "v: tRUE", BERTH_YAML_STRING },  { "v: null", BERTH_YAML_NULL },
        { "v: ~", BERTH_YAML_NULL },       { "v:", BERTH_YAML_NULL },
        { "v: ''", BERTH_YAML_STRING },    { "v: 10.0.0.1", BERTH_YAML_STRING },
        { "v: 500m", BERTH_YAML_STRING },  { "v: 1e", BERTH_YAML_STRING },
        { "v: [a]", BERTH_YAML_LIST },     { "v: {a: b}", BERTH_YAML_MAPPING },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const berth_yaml_node *root, *k, *v;
        berth_yaml *y = open_text(cases[i].yaml, &root);

        berth_yaml_entry(y, root, 0, &k, &v);
        ck_assert_msg(berth_yaml_type_of(v) == cases[i].type, "%s: type %d, want %d", cases[i].yaml,
                      berth_yaml_type_of(v), cases[i].type);
        berth_yaml_close(y);
    }
}
END_TEST

/* Each getter takes its own type only, and says what it got. */
START_TEST(getters_refuse_other_types)
{
    const berth_yaml_node *root;
    berth_yaml *y = open_text("s: 123\n"
                              "i: many\n"
                              "b: 'true'\n"
                              "n: 1001\n"
                              "e: Sometimes\n"
                              "q: [1]\n"
                              "d: 5x\n"
                              "z: {a: b}\n"
                              "t: ~\n",
                              &root);
    berth_yaml_field f[] = { BERTH_YAML_FIELD("s"), BERTH_YAML_FIELD("i"), BERTH_YAML_FIELD("b"),
                             BERTH_YAML_FIELD("n"), BERTH_YAML_FIELD("e"), BERTH_YAML_FIELD("q"),
                             BERTH_YAML_FIELD("d"), BERTH_YAML_FIELD("z"), BERTH_YAML_FIELD("t"),
                             BERTH_YAML_END };
    static const char *const words[] = { "Always", "OnFailure", "", NULL };
    const char *s = "unset";
    int64_t i = -5;
    bool b = false;
    int e = -5;
    char *msg;

    ck_assert(berth_yaml_fields(y, root, f));
    ck_assert(!berth_yaml_opt_string(y, f, "s", &s));
    ck_assert(!berth_yaml_opt_int(y, f, "i", 0, 10, &i));
    ck_assert(!berth_yaml_opt_bool(y, f, "b", &b));
    ck_assert(!berth_yaml_opt_int(y, f, "n", 0, 1000, &i));
    ck_assert(!berth_yaml_opt_enum(y, f, "e", words, &e));
    ck_assert(!berth_yaml_opt_bytes(y, f, "q", &i));
    ck_assert(!berth_yaml_opt_duration(y, f, "d", 0, INT64_MAX, &i));
    ck_assert(!berth_yaml_opt_string(y, f, "z", &s));
    /* null is absent: nothing to say */
    ck_assert(!berth_yaml_opt_string(y, f, "t", &s));
    /* nothing written on failure */
    ck_assert_str_eq(s, "unset");
    ck_assert_int_eq(i, -5);
    ck_assert_int_eq(e, -5);
    msg = report(y);
    ck_assert_str_eq(msg,
                     "t.yaml:1:4: s: expected a string, got the number 123 (quote it: \"123\")\n"
                     "t.yaml:2:4: i: expected an integer, got the string \"many\"\n"
                     "t.yaml:3:4: b: expected true or false, got the string \"true\"\n"
                     "t.yaml:4:4: n: 1001 is out of range (0..1000)\n"
                     "t.yaml:5:4: e: 'Sometimes' is not one of Always, OnFailure, \"\"\n"
                     "t.yaml:6:4: q: expected a quantity, got a list\n"
                     "t.yaml:7:4: d: duration '5x' needs a unit (ns, us, ms, s, m, h) at 'x'\n"
                     "t.yaml:8:4: z: expected a string, got a mapping");
    free(msg);
    berth_yaml_close(y);
}
END_TEST

START_TEST(getters_take_their_values)
{
    const berth_yaml_node *root;
    berth_yaml *y = open_text("s: 'quoted: yes'\n"
                              "i: -3\n"
                              "b: on\n"
                              "e: OnFailure\n"
                              "cpu: 0.5\n"
                              "cpu2: 2\n"
                              "mem: 64Mi\n"
                              "mem2: 1024\n"
                              "d: 1h30m\n"
                              "d0: 0\n",
                              &root);
    berth_yaml_field f[] = { BERTH_YAML_FIELD("s"),    BERTH_YAML_FIELD("i"),
                             BERTH_YAML_FIELD("b"),    BERTH_YAML_FIELD("e"),
                             BERTH_YAML_FIELD("cpu"),  BERTH_YAML_FIELD("cpu2"),
                             BERTH_YAML_FIELD("mem"),  BERTH_YAML_FIELD("mem2"),
                             BERTH_YAML_FIELD("d"),    BERTH_YAML_FIELD("d0"),
                             BERTH_YAML_FIELD("gone"), BERTH_YAML_END };
    static const char *const words[] = { "Always", "OnFailure", NULL };
    const char *s = NULL;
    int64_t i = 0, cpu = 0, cpu2 = 0, mem = 0, mem2 = 0, d = 0, d0 = -1, gone = 7;
    bool b = false;
    int e = -1;

    ck_assert(berth_yaml_fields(y, root, f));
    ck_assert(berth_yaml_opt_string(y, f, "s", &s));
    ck_assert_str_eq(s, "quoted: yes");
    ck_assert(berth_yaml_opt_int(y, f, "i", -5, 5, &i));
    ck_assert_int_eq(i, -3);
    ck_assert(berth_yaml_opt_bool(y, f, "b", &b));
    ck_assert(b);
    ck_assert(berth_yaml_opt_enum(y, f, "e", words, &e));
    ck_assert_int_eq(e, 1);
    ck_assert(berth_yaml_opt_millicpu(y, f, "cpu", &cpu));
    ck_assert_int_eq(cpu, 500);
    ck_assert(berth_yaml_opt_millicpu(y, f, "cpu2", &cpu2));
    ck_assert_int_eq(cpu2, 2000);
    ck_assert(berth_yaml_opt_bytes(y, f, "mem", &mem));
    ck_assert_int_eq(mem, 64 << 20);
    ck_assert(berth_yaml_opt_bytes(y, f, "mem2", &mem2));
    ck_assert_int_eq(mem2, 1024);
    ck_assert(berth_yaml_opt_duration(y, f, "d", 0, INT64_MAX, &d));
    ck_assert_int_eq(d, 5400 * BERTH_NSEC_PER_SEC);
    ck_assert(berth_yaml_opt_duration(y, f, "d0", 0, INT64_MAX, &d0));
    ck_assert_int_eq(d0, 0);
    ck_assert(!berth_yaml_opt_int(y, f, "gone", 0, 10, &gone));
    ck_assert_int_eq(gone, 7);
    assert_clean(y);
    berth_yaml_close(y);
}
END_TEST

START_TEST(durations_in_range)
{
    const berth_yaml_node *root;
    berth_yaml *y = open_text("a: 1ms\nb: 2h\nc: 50ms\nd: 10\nf: 1.5\n", &root);
    berth_yaml_field f[] = { BERTH_YAML_FIELD("a"), BERTH_YAML_FIELD("b"), BERTH_YAML_FIELD("c"),
                             BERTH_YAML_FIELD("d"), BERTH_YAML_FIELD("f"), BERTH_YAML_END };
    int64_t v;
    char *msg;

    ck_assert(berth_yaml_fields(y, root, f));
    ck_assert(!berth_yaml_opt_duration(y, f, "a", 10 * BERTH_NSEC_PER_MSEC,
                                       3600 * BERTH_NSEC_PER_SEC, &v));
    ck_assert(!berth_yaml_opt_duration(y, f, "b", 10 * BERTH_NSEC_PER_MSEC,
                                       3600 * BERTH_NSEC_PER_SEC, &v));
    ck_assert(!berth_yaml_opt_duration(y, f, "c", 100 * BERTH_NSEC_PER_MSEC, INT64_MAX, &v));
    ck_assert(!berth_yaml_opt_duration(y, f, "d", 0, INT64_MAX, &v));
    ck_assert(!berth_yaml_opt_duration(y, f, "f", 0, INT64_MAX, &v));
    msg = report(y);
    ck_assert_str_eq(msg, "t.yaml:1:4: a: 1ms is out of range (10ms..1h)\n"
                          "t.yaml:2:4: b: 2h is out of range (10ms..1h)\n"
                          "t.yaml:3:4: c: 50ms is below the minimum of 100ms\n"
                          "t.yaml:4:4: d: duration '10' needs a unit (ns, us, ms, s, m, h) at ''\n"
                          "t.yaml:5:4: f: duration '1.5' needs a unit (ns, us, ms, s, m, h) at ''");
    free(msg);
    berth_yaml_close(y);
}
END_TEST

/* ---- field tables ---- */

START_TEST(unknown_fields_get_suggestions)
{
    const berth_yaml_node *root;
    berth_yaml *y = open_text("replica: 3\n"
                              "Template: {}\n"
                              "zzzzzz: 1\n"
                              "selector:\n"
                              "  matchLabel: {}\n"
                              "7: x\n",
                              &root);
    berth_yaml_field f[] = { BERTH_YAML_FIELD("replicas"), BERTH_YAML_FIELD("template"),
                             BERTH_YAML_FIELD("selector"), BERTH_YAML_END };
    berth_yaml_field sel[] = { BERTH_YAML_FIELD("matchLabels"), BERTH_YAML_END };
    size_t mark;
    char *msg;

    ck_assert(berth_yaml_fields(y, root, f));
    mark = berth_yaml_push_field(y, "selector");
    ck_assert(berth_yaml_fields(y, berth_yaml_value(f, "selector"), sel));
    berth_yaml_pop(y, mark);
    ck_assert_ptr_null(berth_yaml_value(f, "replicas"));
    msg = report(y);
    ck_assert_str_eq(msg, "t.yaml:1:1: replica: unknown field (did you mean replicas?)\n"
                          "t.yaml:2:1: Template: unknown field (did you mean template?)\n"
                          "t.yaml:3:1: zzzzzz: unknown field\n"
                          "t.yaml:5:3: selector.matchLabel: unknown field (did you mean "
                          "matchLabels?)\n"
                          "t.yaml:6:1: field names must be strings");
    free(msg);
    berth_yaml_close(y);
}
END_TEST

typedef struct seen {
    char text[256];
} seen;

static void note_entry(berth_yaml *y, const berth_yaml_node *key, const char *name,
                       const berth_yaml_node *value, const char *text, void *data)
{
    seen *s = data;

    (void)y;
    (void)key;
    (void)value;
    snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text), "%s=%s;", name, text);
}

START_TEST(duplicates_name_the_first)
{
    const berth_yaml_node *root;
    berth_yaml *y = open_text("a: 1\nlabels: {x: '1', y: '2', x: '3'}\na: 2\n", &root);
    berth_yaml_field f[] = { BERTH_YAML_FIELD("a"), BERTH_YAML_FIELD("labels"), BERTH_YAML_END };
    berth_yaml_field g[] = { BERTH_YAML_FIELD("labels"), BERTH_YAML_END };
    seen map = { "" };
    char *msg;

    ck_assert(berth_yaml_fields(y, root, f));
    /* the first one counts */
    ck_assert_int_eq(berth_yaml_pos_of(berth_yaml_value(f, "a")).line, 1);
    msg = report(y);
    ck_assert_str_eq(msg, "t.yaml:3:1: a: duplicate field (first at line 1)");
    free(msg);
    berth_yaml_close(y);

    y = open_text("labels: {x: '1', y: '2',\n  x: '3'}\n", &root);
    ck_assert(berth_yaml_fields(y, root, g));
    ck_assert(
        berth_yaml_get_string_map(y, berth_yaml_value(g, "labels"), 8, "labels", note_entry, &map));
    ck_assert_str_eq(map.text, "x=1;y=2;"); /* the first one counts */
    msg = report(y);
    ck_assert_str_eq(msg, "t.yaml:2:3: x: duplicate key (first at line 1)");
    free(msg);
    berth_yaml_close(y);
}
END_TEST

/* A field a table does not have is a bug in the caller: abort. */
START_TEST(a_name_not_in_the_table_aborts)
{
    berth_yaml_field f[] = { BERTH_YAML_FIELD("a"), BERTH_YAML_END };

    berth_yaml_value(f, "b");
}
END_TEST

START_TEST(required_and_field_errors)
{
    const berth_yaml_node *root;
    berth_yaml *y = open_text("spec:\n  name: x\n  path: rel\n", &root);
    berth_yaml_field f[] = { BERTH_YAML_FIELD("spec"), BERTH_YAML_END };
    berth_yaml_field g[] = { BERTH_YAML_FIELD("name"), BERTH_YAML_FIELD("image"),
                             BERTH_YAML_FIELD("path"), BERTH_YAML_END };
    const char *v;
    size_t mark;
    char *msg;

    ck_assert(berth_yaml_fields(y, root, f));
    mark = berth_yaml_push_field(y, "spec");
    ck_assert(berth_yaml_fields(y, berth_yaml_value(f, "spec"), g));
    ck_assert(!berth_yaml_req_string(y, berth_yaml_value(f, "spec"), g, "image", &v));
    ck_assert(berth_yaml_req_string(y, berth_yaml_value(f, "spec"), g, "path", &v));
    berth_yaml_field_error(y, g, "path", "'%s' is not an absolute path", v);
    berth_yaml_pop(y, mark);
    msg = report(y);
    ck_assert_str_eq(msg, "t.yaml:2:3: spec.image: required\n"
                          "t.yaml:3:9: spec.path: 'rel' is not an absolute path");
    free(msg);
    berth_yaml_close(y);
}
END_TEST

/* ---- lists and maps ---- */

static void item_name(berth_yaml *y, const berth_yaml_node *item, size_t i, void *data)
{
    berth_yaml_field f[] = { BERTH_YAML_FIELD("name"), BERTH_YAML_END };
    seen *s = data;
    const char *name;

    (void)i;
    if (berth_yaml_fields(y, item, f) && berth_yaml_req_string(y, item, f, "name", &name))
        snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text), "%s;", name);
}

START_TEST(lists_and_maps)
{
    const berth_yaml_node *root;
    berth_yaml *y = open_text("args: [a, 'b c']\n"
                              "labels: {zone: a, disk: ssd}\n"
                              "items: [{name: one}, {name: two}]\n",
                              &root);
    berth_yaml_field f[] = { BERTH_YAML_FIELD("args"), BERTH_YAML_FIELD("labels"),
                             BERTH_YAML_FIELD("items"), BERTH_YAML_END };
    seen map = { "" }, items = { "" };
    char **args = NULL;
    size_t n = 0;

    ck_assert(berth_yaml_fields(y, root, f));
    ck_assert(berth_yaml_get_string_list(y, berth_yaml_value(f, "args"), 4, &args, &n));
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(args[1], "b c");
    berth_yaml_strv_free(args, n);
    ck_assert(
        berth_yaml_get_string_map(y, berth_yaml_value(f, "labels"), 4, "labels", note_entry, &map));
    ck_assert_str_eq(map.text, "zone=a;disk=ssd;");
    ck_assert(berth_yaml_each_item(y, berth_yaml_value(f, "items"), 4, "a list of items", item_name,
                                   &items));
    ck_assert_str_eq(items.text, "one;two;");
    assert_clean(y);
    berth_yaml_close(y);
}
END_TEST

START_TEST(lists_and_maps_say_what_is_wrong)
{
    const berth_yaml_node *root;
    berth_yaml *y = open_text("args: [a, 2, b]\n"
                              "few: [a, b, c]\n"
                              "labels: {zone: 1, 2: y, ok: b}\n"
                              "big: {a: b, c: d, e: f}\n"
                              "items: [{name: one}, {nam: two}]\n"
                              "notlist: x\n",
                              &root);
    berth_yaml_field f[] = { BERTH_YAML_FIELD("args"),
                             BERTH_YAML_FIELD("few"),
                             BERTH_YAML_FIELD("labels"),
                             BERTH_YAML_FIELD("big"),
                             BERTH_YAML_FIELD("items"),
                             BERTH_YAML_FIELD("notlist"),
                             BERTH_YAML_END };
    seen map = { "" }, items = { "" };
    char **args = (char **)0x1;
    size_t n = 99, mark;
    char *msg;

    ck_assert(berth_yaml_fields(y, root, f));
    mark = berth_yaml_push_field(y, "args");
    ck_assert(!berth_yaml_get_string_list(y, berth_yaml_value(f, "args"), 4, &args, &n));
    berth_yaml_pop(y, mark);
    mark = berth_yaml_push_field(y, "few");
    ck_assert(!berth_yaml_get_string_list(y, berth_yaml_value(f, "few"), 2, &args, &n));
    berth_yaml_pop(y, mark);
    ck_assert_ptr_eq(args, (char **)0x1);
    ck_assert_uint_eq(n, 99);
    mark = berth_yaml_push_field(y, "labels");
    ck_assert(
        berth_yaml_get_string_map(y, berth_yaml_value(f, "labels"), 4, "labels", note_entry, &map));
    berth_yaml_pop(y, mark);
    ck_assert_str_eq(map.text, "ok=b;");
    mark = berth_yaml_push_field(y, "big");
    ck_assert(
        !berth_yaml_get_string_map(y, berth_yaml_value(f, "big"), 2, "labels", note_entry, &map));
    berth_yaml_pop(y, mark);
    mark = berth_yaml_push_field(y, "items");
    ck_assert(berth_yaml_each_item(y, berth_yaml_value(f, "items"), 4, "a list of items", item_name,
                                   &items));
    berth_yaml_pop(y, mark);
    mark = berth_yaml_push_field(y, "notlist");
    ck_assert(!berth_yaml_each_item(y, berth_yaml_value(f, "notlist"), 4, "a list of items",
                                    item_name, &items));
    berth_yaml_pop(y, mark);
    msg = report(y);
    ck_assert_str_eq(msg, "t.yaml:1:11: args[1]: expected a string, got the number 2 (quote it: "
                          "\"2\")\n"
                          "t.yaml:2:6: few: 3 items, at most 2\n"
                          "t.yaml:3:16: labels.zone: expected a string, got the number 1 (quote "
                          "it: \"1\")\n"
                          "t.yaml:3:19: labels: keys must be strings\n"
                          "t.yaml:4:6: big: 3 labels, at most 2\n"
                          "t.yaml:5:22: items[1].name: required\n"
                          "t.yaml:5:23: items[1].nam: unknown field (did you mean name?)\n"
                          "t.yaml:6:10: notlist: expected a list of items, got the string \"x\"");
    free(msg);
    berth_yaml_close(y);
}
END_TEST

/* ---- positions ---- */

START_TEST(positions_and_paths)
{
    const berth_yaml_node *root, *k, *v, *item;
    berth_yaml *y = open_text("# comment\n"
                              "top:\n"
                              "  list:\n"
                              "  - a\n"
                              "  -   b\n",
                              &root);
    size_t mark, mark2;
    char *msg;

    berth_yaml_entry(y, root, 0, &k, &v);
    ck_assert_int_eq(berth_yaml_pos_of(k).line, 2);
    ck_assert_int_eq(berth_yaml_pos_of(k).column, 1);
    mark = berth_yaml_push_field(y, "top");
    berth_yaml_entry(y, v, 0, &k, &v);
    mark2 = berth_yaml_push_field(y, "list");
    ck_assert_uint_eq(berth_yaml_len(v), 2);
    item = berth_yaml_item(y, v, 1);
    ck_assert_int_eq(berth_yaml_pos_of(item).line, 5);
    ck_assert_int_eq(berth_yaml_pos_of(item).column, 7);
    berth_yaml_push(y, "[%d]", 1);
    berth_yaml_error(y, item, "bad %s", berth_yaml_text(item));
    berth_yaml_pop(y, mark2);
    berth_yaml_error(y, v, "at the list");
    berth_yaml_pop(y, mark);
    berth_yaml_error(y, root, "at the top");
    berth_yaml_error_pos(y, (berth_yaml_pos){ 9, 9 }, "kept from before");
    ck_assert_uint_eq(berth_yaml_error_count(y), 4);
    msg = report(y);
    ck_assert_str_eq(msg, "t.yaml:2:1: at the top\n"
                          "t.yaml:4:3: top: at the list\n"
                          "t.yaml:5:7: top.list[1]: bad b\n"
                          "t.yaml:9:9: kept from before");
    free(msg);
    berth_yaml_close(y);
}
END_TEST

/* What the input quotes stays one line of text in the report. */
START_TEST(control_characters_stay_out_of_the_report)
{
    const berth_yaml_node *root;
    berth_yaml *y = open_text("\"a\\nb\\e[2J\": 1\nv: \"x\\ty\\u007f\"\n", &root);
    berth_yaml_field f[] = { BERTH_YAML_FIELD("v"), BERTH_YAML_END };
    char *msg;

    ck_assert(berth_yaml_fields(y, root, f));
    berth_yaml_field_error(y, f, "v", "'%s' is bad", berth_yaml_text(berth_yaml_value(f, "v")));
    msg = report(y);
    ck_assert_str_eq(msg, "t.yaml:1:1: a?b?[2J: unknown field\n"
                          "t.yaml:2:4: v: 'x?y?' is bad");
    free(msg);
    berth_yaml_close(y);
}
END_TEST

/* ---- documents ---- */

START_TEST(documents_one_at_a_time)
{
    berth_yaml *y = NULL;
    berth_error *err = NULL;
    const berth_yaml_node *root;
    berth_yaml_pos pos;
    static const char text[] = "a: 1\n---\n---\nb: [x]\n";

    ck_assert_int_eq(berth_yaml_open(text, strlen(text), NULL, &test_limits, &y, &err), 0);
    ck_assert_int_eq(berth_yaml_next(y, &root), 1);
    ck_assert_int_eq(berth_yaml_type_of(root), BERTH_YAML_MAPPING);
    ck_assert_int_eq(berth_yaml_next(y, &root), 1);
    ck_assert(berth_yaml_is_null(root)); /* an empty document */
    ck_assert_int_eq(berth_yaml_next(y, &root), 1);
    pos = berth_yaml_pos_of(root);
    ck_assert_int_eq(pos.line, 4);
    ck_assert_int_eq(berth_yaml_next(y, &root), 0);
    ck_assert_int_eq(berth_yaml_next(y, &root), 0);
    /* a position outlives its document */
    berth_yaml_error_pos(y, pos, "x");
    ck_assert_berth_error(berth_yaml_finish(y, &err), err, "-:4:1: x"); /* no source: "-" */
    berth_yaml_close(y);

    /* an empty input has no documents at all */
    ck_assert_int_eq(berth_yaml_open("", 0, "e.yaml", &test_limits, &y, &err), 0);
    ck_assert_int_eq(berth_yaml_next(y, &root), 0);
    ck_assert_int_eq(berth_yaml_finish(y, &err), 0);
    berth_yaml_close(y);
    berth_yaml_close(NULL);
}
END_TEST

/* ---- bounds and syntax ---- */

START_TEST(bounded_before_anything_is_built)
{
    char text[8192], *msg;

    memset(text, ' ', sizeof(text));
    msg = open_error(text, 4097, EFBIG);
    ck_assert_str_eq(msg, "t.yaml: 4097 bytes, a test file may have at most 4096");
    free(msg);
    msg = open_error("a: b\0c", 6, EINVAL);
    ck_assert_str_eq(msg, "t.yaml: not a text file (it has a NUL byte)");
    free(msg);
    msg = open_error("a: [[[[1]]]]\n", 13, EINVAL);
    ck_assert_str_eq(msg, "t.yaml:1:7: nested deeper than 4 levels");
    free(msg);
    msg = open_error("---\n---\n---\n---\n", 16, EINVAL);
    ck_assert_str_eq(msg, "t.yaml:4:1: more than 3 documents");
    free(msg);
    strcpy(text, "[");
    for (int i = 0; i < 200; i++)
        strcat(text, "1,");
    strcat(text, "]");
    msg = open_error(text, strlen(text), EINVAL);
    ck_assert_str_eq(msg, "t.yaml:1:396: more than 200 YAML nodes");
    free(msg);
    msg = open_error("a: &x 1\nb: *x\n", 14, EINVAL);
    ck_assert_str_eq(msg, "t.yaml:1:4: YAML anchors and aliases are not supported");
    free(msg);
    msg = open_error("a: *x\n", 6, EINVAL);
    ck_assert_str_eq(msg, "t.yaml:1:4: YAML anchors and aliases are not supported");
    free(msg);
    msg = open_error("a: b: c\n", 8, EINVAL);
    ck_assert_str_eq(msg, "t.yaml:1:5: YAML: mapping values are not allowed in this context");
    free(msg);
    msg = open_error("a: [\n", 5, EINVAL);
    ck_assert_str_eq(msg, "t.yaml:2:1: YAML: did not find expected node content while parsing a "
                          "flow node");
    free(msg);
    msg = open_error("a: \xff\n", 5, EINVAL);
    ck_assert_str_eq(msg, "t.yaml:1:1: YAML: invalid leading UTF-8 octet (at byte 3)");
    free(msg);
    /* one document is "document", not "documents" */
    {
        berth_yaml *y = NULL;
        berth_error *err = NULL;

        ck_assert_int_lt(berth_yaml_open("a: 1\n---\nb: 2\n", 14, "s.yaml",
                                         &berth_yaml_settings_limits, &y, &err),
                         0);
        ck_assert_str_eq(err->msg, "s.yaml:2:1: more than 1 document");
        berth_error_free(&err);
    }
}
END_TEST

/* ---- the report: every error, in file order, capped ---- */

START_TEST(errors_sorted_and_capped)
{
    berth_yaml_limits many = test_limits;
    berth_yaml *y = NULL;
    berth_error *err = NULL;
    const berth_yaml_node *root;
    char text[4096] = "", *msg, want[4096] = "";

    /* 30 lines of "kN: 1"; errors found from the last line up */
    for (int i = 0; i < 30; i++)
        sprintf(text + strlen(text), "k%d: 1\n", i);
    many.events = 1000;
    ck_assert_int_eq(berth_yaml_open(text, strlen(text), "t.yaml", &many, &y, &err), 0);
    ck_assert_int_eq(berth_yaml_next(y, &root), 1);
    for (size_t i = berth_yaml_len(root); i-- > 0;) {
        const berth_yaml_node *k, *v;

        berth_yaml_entry(y, root, i, &k, &v);
        berth_yaml_error(y, k, "error %zu", i);
    }
    ck_assert_uint_eq(berth_yaml_error_count(y), 30);
    for (int i = 0; i < BERTH_YAML_ERRORS_MAX; i++)
        sprintf(want + strlen(want), "t.yaml:%d:1: error %d\n", i + 1, i);
    strcat(want, "t.yaml: and 10 more errors");
    msg = report(y);
    ck_assert_str_eq(msg, want);
    free(msg);
    /* finish may be asked again: the same report */
    msg = report(y);
    ck_assert_str_eq(msg, want);
    free(msg);
    berth_yaml_close(y);

    /* one more than the cap: "error", not "errors" */
    ck_assert_int_eq(berth_yaml_open(text, strlen(text), "t.yaml", &many, &y, &err), 0);
    ck_assert_int_eq(berth_yaml_next(y, &root), 1);
    for (int i = 0; i <= BERTH_YAML_ERRORS_MAX; i++)
        berth_yaml_error(y, root, "same place %d", i);
    msg = report(y);
    ck_assert_ptr_nonnull(strstr(msg, "t.yaml:1:1: same place 0\nt.yaml:1:1: same place 1\n"));
    ck_assert_ptr_nonnull(strstr(msg, "same place 19\nt.yaml: and 1 more error"));
    ck_assert_ptr_null(strstr(msg, "same place 20"));
    free(msg);
    berth_yaml_close(y);
}
END_TEST

/* ---- the file reader ---- */

static char dir[] = "/tmp/berth-yaml-XXXXXX";

static void make_dir(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    berth_rm_rf_at(AT_FDCWD, dir, NULL);
    strcpy(dir, "/tmp/berth-yaml-XXXXXX");
}

static void write_file(const char *path, const char *text, size_t len)
{
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path, text, len, 0644, NULL), 0);
}

START_TEST(files_from_disk)
{
    char path[256], want[512], big[5000];
    berth_yaml *y = NULL;
    berth_error *err = NULL;
    const berth_yaml_node *root;

    /* missing: ENOENT, so an optional file can be taken as absent */
    snprintf(path, sizeof(path), "%s/missing.yaml", dir);
    ck_assert_int_lt(berth_yaml_open_file(path, &test_limits, &y, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    snprintf(want, sizeof(want), "open %s: No such file or directory", path);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);
    ck_assert_ptr_null(y);

    /* too big: refused before more than the cap is read */
    snprintf(path, sizeof(path), "%s/big.yaml", dir);
    memset(big, '#', sizeof(big));
    write_file(path, big, sizeof(big));
    ck_assert_int_lt(berth_yaml_open_file(path, &test_limits, &y, &err), 0);
    ck_assert_int_eq(err->code, EFBIG);
    snprintf(want, sizeof(want), "read %s: larger than 4096 bytes", path);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);

    /* a NUL byte */
    snprintf(path, sizeof(path), "%s/nul.yaml", dir);
    write_file(path, "a: 1\n\0", 6);
    ck_assert_int_lt(berth_yaml_open_file(path, &test_limits, &y, &err), 0);
    ck_assert_int_eq(err->code, EINVAL);
    snprintf(want, sizeof(want), "%s: not a text file (it has a NUL byte)", path);
    ck_assert_str_eq(err->msg, want);
    berth_error_free(&err);

    /* a good one: errors are named by its path */
    snprintf(path, sizeof(path), "%s/ok.yaml", dir);
    write_file(path, "a: 1\n", 5);
    ck_assert_int_eq(berth_yaml_open_file(path, &test_limits, &y, &err), 0);
    ck_assert_int_eq(berth_yaml_next(y, &root), 1);
    berth_yaml_error(y, root, "noted");
    snprintf(want, sizeof(want), "%s:1:1: noted", path);
    ck_assert_berth_error(berth_yaml_finish(y, &err), err, want);
    berth_yaml_close(y);

    /* a directory is not a file */
    ck_assert_int_lt(berth_yaml_open_file(dir, &test_limits, &y, &err), 0);
    berth_error_free(&err);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("yaml");
    TCase *tc = tcase_create("reader");

    tcase_add_test(tc, scalars_are_typed_as_yaml_1_1);
    tcase_add_test(tc, getters_refuse_other_types);
    tcase_add_test(tc, getters_take_their_values);
    tcase_add_test(tc, durations_in_range);
    tcase_add_test(tc, unknown_fields_get_suggestions);
    tcase_add_test(tc, duplicates_name_the_first);
    tcase_add_test_raise_signal(tc, a_name_not_in_the_table_aborts, SIGABRT);
    tcase_add_test(tc, required_and_field_errors);
    tcase_add_test(tc, lists_and_maps);
    tcase_add_test(tc, lists_and_maps_say_what_is_wrong);
    tcase_add_test(tc, positions_and_paths);
    tcase_add_test(tc, control_characters_stay_out_of_the_report);
    tcase_add_test(tc, documents_one_at_a_time);
    tcase_add_test(tc, bounded_before_anything_is_built);
    tcase_add_test(tc, errors_sorted_and_capped);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_unchecked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, files_from_disk);
    suite_add_tcase(s, tc);
    return s;
}
