/* lib/cdi: spec files (JSON and YAML, the rules of each cdiVersion), the
 * registry's precedence and problems, resolving into DeviceEdits (stat of
 * host nodes, merging, =all), host devices and --device values. Each test
 * writes its spec files into directories of its own; every assertion is
 * on a value or a text a user would see. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "base/xalloc.h"
#include "cdi/cdi.h"
#include "check_main.h"
#include "pb/pb.h"

/* ---- helpers ---- */

/* A new directory under /tmp (removed by rm_dir). */
static char *make_dir(void)
{
    char tmpl[] = "/tmp/berth-cdi-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return berth_xstrdup(tmpl);
}

static void rm_dir(char *dir)
{
    ck_assert_int_eq(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
    free(dir);
}

/* dir/name with text; returns the path (free it). */
static char *write_spec(const char *dir, const char *name, const char *text)
{
    char *path = berth_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    return path;
}

static berth_cdi *load(const char *const *dirs, size_t n)
{
    berth_cdi *c = NULL;
    berth_error *err = NULL;

    ck_assert_msg(berth_cdi_load(dirs, n, &c, &err) == 0, "%s", err ? err->msg : "");
    return c;
}

static berth_cdi *load1(const char *dir)
{
    return load(&dir, 1);
}

static size_t problems(const berth_cdi *c, const char *const **lines)
{
    return berth_cdi_problems(c, lines);
}

/* The one problem of c must be want. */
static void expect_problem(const berth_cdi *c, const char *want)
{
    const char *const *lines;

    ck_assert_uint_eq(problems(c, &lines), 1);
    ck_assert_str_eq(lines[0], want);
}

/* Load dir with one file name holding text: its one problem must be
 * "DIR/NAME" followed by want_after_path. */
static void expect_refused(const char *name, const char *text, const char *want_after_path)
{
    char *dir = make_dir();
    char *path = write_spec(dir, name, text);
    char *want = berth_xasprintf("%s%s", path, want_after_path);
    berth_cdi *c = load1(dir);
    const char *const *kinds;

    expect_problem(c, want);
    ck_assert_uint_eq(berth_cdi_kinds(c, &kinds), 0);
    berth_cdi_free(c);
    free(want);
    free(path);
    rm_dir(dir);
}

/* Resolve names into out, which must succeed. */
static void resolve(const berth_cdi *c, char *const *names, size_t n, DeviceEdits *out)
{
    berth_error *err = NULL;

    ck_assert_msg(berth_cdi_resolve(c, names, n, out, &err) == 0, "%s", err ? err->msg : "");
}

/* The node of out at container path, or NULL. */
static const DeviceNode *node_at(const DeviceEdits *out, const char *path)
{
    for (size_t i = 0; i < out->n_nodes; i++)
        if (strcmp(out->nodes[i]->path, path) == 0)
            return out->nodes[i];
    return NULL;
}

/* Append a malloc'd copy of s to out's env, as resolve would. */
#define CDI_TEST_APPEND_ENV(out, s)                                                                \
    do {                                                                                           \
        (out).env = berth_xreallocarray((out).env, (out).n_env + 1, sizeof(char *));               \
        (out).env[(out).n_env++] = berth_xstrdup(s);                                               \
    } while (0)

static const char gpu_json[] = "{\n"
                               "  \"cdiVersion\": \"0.6.0\",\n"
                               "  \"kind\": \"vendor.com/gpu\",\n"
                               "  \"containerEdits\": {\n"
                               "    \"env\": [\"GPU_DRIVER=1\"],\n"
                               "    \"mounts\": [{\"hostPath\": \"/usr/lib/libgpu.so\",\n"
                               "                \"containerPath\": \"/usr/lib/libgpu.so\",\n"
                               "                \"options\": [\"ro\", \"bind\"]}],\n"
                               "    \"hooks\": [{\"hookName\": \"createContainer\",\n"
                               "               \"path\": \"/usr/bin/gpu-hook\",\n"
                               "               \"args\": [\"gpu-hook\", \"update\"]}]\n"
                               "  },\n"
                               "  \"devices\": [\n"
                               "    {\"name\": \"gpu1\", \"containerEdits\": {\n"
                               "      \"env\": [\"GPU=1\"],\n"
                               "      \"deviceNodes\": [{\"path\": \"/dev/gpu1\",\n"
                               "                        \"hostPath\": \"/dev/null\"}]}},\n"
                               "    {\"name\": \"gpu0\", \"containerEdits\": {\n"
                               "      \"env\": [\"GPU=0\"],\n"
                               "      \"deviceNodes\": [{\"path\": \"/dev/gpu0\",\n"
                               "                        \"hostPath\": \"/dev/null\",\n"
                               "                        \"permissions\": \"rw\",\n"
                               "                        \"fileMode\": 438,\n"
                               "                        \"uid\": 1000, \"gid\": 44}]}}\n"
                               "  ]\n"
                               "}\n";

static const char fpga_yaml[] = "cdiVersion: 0.5.0\n"
                                "kind: example.org/fpga\n"
                                "devices:\n"
                                "  - name: f1\n"
                                "    containerEdits:\n"
                                "      env: [FPGA=f1]\n"
                                "      deviceNodes:\n"
                                "        - path: /dev/fpga1\n"
                                "          hostPath: /dev/zero\n"
                                "          fileMode: 0640\n"
                                "  - name: f0\n"
                                "    containerEdits:\n"
                                "      mounts:\n"
                                "        - hostPath: /opt/fpga\n"
                                "          containerPath: /opt/fpga\n"
                                "          type: none\n";

/* ---- loading ---- */

START_TEST(json_and_yaml_load)
{
    char *dir = make_dir();
    char *a = write_spec(dir, "a.json", gpu_json);
    char *b = write_spec(dir, "b.yaml", fpga_yaml);
    char *readme = write_spec(dir, "README.md", "not a spec {");
    char *backup = write_spec(dir, "old.json~", "not a spec {");
    berth_cdi *c = load1(dir);
    const char *const *kinds, *const *names, *const *lines;

    ck_assert_uint_eq(problems(c, &lines), 0);
    ck_assert_uint_eq(berth_cdi_kinds(c, &kinds), 2);
    ck_assert_str_eq(kinds[0], "example.org/fpga");
    ck_assert_str_eq(kinds[1], "vendor.com/gpu");
    ck_assert_uint_eq(berth_cdi_devices(c, "vendor.com/gpu", &names), 2);
    ck_assert_str_eq(names[0], "vendor.com/gpu=gpu0");
    ck_assert_str_eq(names[1], "vendor.com/gpu=gpu1");
    ck_assert_uint_eq(berth_cdi_devices(c, "example.org/fpga", &names), 2);
    ck_assert_str_eq(names[0], "example.org/fpga=f0");
    ck_assert_str_eq(names[1], "example.org/fpga=f1");
    ck_assert_uint_eq(berth_cdi_devices(c, "nope.com/x", &names), 0);
    ck_assert_str_eq(berth_cdi_device_file(c, "vendor.com/gpu=gpu1"), a);
    ck_assert_str_eq(berth_cdi_device_file(c, "example.org/fpga=f0"), b);
    ck_assert_ptr_null(berth_cdi_device_file(c, "vendor.com/gpu=gpu7"));
    berth_cdi_free(c);
    free(a), free(b), free(readme), free(backup);
    rm_dir(dir);
}
END_TEST

START_TEST(tab_indented_json)
{
    char *dir = make_dir();
    char *a = write_spec(dir, "tabs.json",
                         "{\n"
                         "\t\"cdiVersion\": \"0.3.0\",\n"
                         "\t\"kind\": \"vendor.com/net\",\n"
                         "\t\"devices\": [\n"
                         "\t\t{\n"
                         "\t\t\t\"name\": \"nic0\",\n"
                         "\t\t\t\"containerEdits\": {\n"
                         "\t\t\t\t\"env\": [\"NIC=0\"]\n"
                         "\t\t\t}\n"
                         "\t\t}\n"
                         "\t]\n"
                         "}\n");
    berth_cdi *c = load1(dir);
    const char *const *lines, *const *names;

    ck_assert_uint_eq(problems(c, &lines), 0);
    ck_assert_uint_eq(berth_cdi_devices(c, "vendor.com/net", &names), 1);
    ck_assert_str_eq(names[0], "vendor.com/net=nic0");
    berth_cdi_free(c);
    free(a);
    rm_dir(dir);
}
END_TEST

START_TEST(missing_and_bad_dirs)
{
    const char *dirs[] = { "/nonexistent/berth-cdi", "/nonexistent/too" };
    berth_cdi *c = load(dirs, 2);
    const char *const *lines, *const *kinds;
    berth_error *err = NULL;
    const char *file = "/etc/passwd";

    ck_assert_uint_eq(problems(c, &lines), 0);
    ck_assert_uint_eq(berth_cdi_kinds(c, &kinds), 0);
    berth_cdi_free(c);
    c = NULL;
    ck_assert_int_lt(berth_cdi_load(&file, 1, &c, &err), 0);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(err->code, ENOTDIR);
    ck_assert_str_eq(err->msg, "open CDI spec directory /etc/passwd: Not a directory");
    berth_error_free(&err);
    ck_assert_str_eq(berth_cdi_default_dirs[0], "/etc/cdi");
    ck_assert_str_eq(berth_cdi_default_dirs[1], "/var/run/cdi");
    ck_assert_uint_eq(berth_cdi_default_dirs_len, 2);
}
END_TEST

START_TEST(syntax_error_ignored)
{
    char *dir = make_dir();
    char *good = write_spec(dir, "good.yaml", fpga_yaml);
    char *bad = write_spec(dir, "bad.json",
                           "{\n"
                           "  \"cdiVersion\": \"0.6.0\",\n"
                           "  \"kind\": \"vendor.com/gpu\"\n"
                           "  \"devices\": []\n"
                           "}\n");
    char *want = berth_xasprintf("%s:4:3: YAML: did not find expected ',' or '}' while parsing a "
                                 "flow mapping",
                                 bad);
    berth_cdi *c = load1(dir);
    const char *const *kinds;

    expect_problem(c, want);
    ck_assert_uint_eq(berth_cdi_kinds(c, &kinds), 1);
    ck_assert_str_eq(kinds[0], "example.org/fpga");
    berth_cdi_free(c);
    free(want), free(good), free(bad);
    rm_dir(dir);
}
END_TEST

START_TEST(versions)
{
    static const char tmpl[] = "cdiVersion: %s\n"
                               "kind: vendor.com/x\n"
                               "devices:\n"
                               "  - name: d\n"
                               "    containerEdits:\n"
                               "      env: [A=1]\n";
    static const char *const ok[] = {
        "0.1.0", "0.2.0", "0.3.0", "0.4.0", "0.5.0", "0.6.0", "v0.6.0"
    };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(ok); i++) {
        char *dir = make_dir();
        char *text = berth_xasprintf(tmpl, ok[i]);
        char *path = write_spec(dir, "x.yaml", text);
        berth_cdi *c = load1(dir);
        const char *const *lines;

        ck_assert_msg(problems(c, &lines) == 0, "%s: %s", ok[i], lines[0]);
        ck_assert_str_eq(berth_cdi_device_file(c, "vendor.com/x=d"), path);
        berth_cdi_free(c);
        free(text), free(path);
        rm_dir(dir);
    }
    expect_refused("x.json",
                   "{\"cdiVersion\": \"0.7.0\", \"kind\": \"vendor.com/x\",\n"
                   " \"devices\": [{\"name\": \"d\", \"containerEdits\": {\"env\": [\"A=1\"],\n"
                   "   \"additionalGids\": [44]}}]}\n",
                   ":1:16: cdiVersion: unknown CDI version 0.7.0 (berth reads up to 0.6.0)");
    expect_refused("x.yaml", "cdiVersion: 1.0.0\nkind: vendor.com/x\ndevices: []\n",
                   ":1:13: cdiVersion: unknown CDI version 1.0.0 (berth reads up to 0.6.0)");
    expect_refused("x.yaml", "cdiVersion: 0.5.1\nkind: vendor.com/x\ndevices: []\n",
                   ":1:13: cdiVersion: '0.5.1' is not a CDI version (berth reads 0.1.0 to 0.6.0)");
    expect_refused("x.yaml", "cdiVersion: \"06\"\nkind: vendor.com/x\ndevices: []\n",
                   ":1:13: cdiVersion: '06' is not a CDI version (berth reads 0.1.0 to 0.6.0)");
    expect_refused("x.yaml", "kind: vendor.com/x\ndevices: []\n", ":1:1: cdiVersion: required");
}
END_TEST

START_TEST(fields_of_newer_versions)
{
    /* annotations came with 0.6.0 */
    expect_refused("x.yaml",
                   "cdiVersion: 0.5.0\n"
                   "kind: vendor.com/x\n"
                   "annotations: {owner: me}\n"
                   "devices:\n"
                   "  - name: d\n"
                   "    containerEdits: {env: [A=1]}\n",
                   ":3:14: annotations: needs cdiVersion 0.6.0 or later (the spec says 0.5.0)");
    expect_refused("x.yaml",
                   "cdiVersion: 0.5.0\n"
                   "kind: vendor.com/x\n"
                   "devices:\n"
                   "  - name: d\n"
                   "    annotations: {owner: me}\n"
                   "    containerEdits: {env: [A=1]}\n",
                   ":5:18: devices[0].annotations: needs cdiVersion 0.6.0 or later (the spec says "
                   "0.5.0)");
    /* hostPath came with 0.5.0 */
    expect_refused("x.json",
                   "{\"cdiVersion\": \"0.4.0\", \"kind\": \"vendor.com/x\",\n"
                   " \"devices\": [{\"name\": \"d\", \"containerEdits\": {\"deviceNodes\": [\n"
                   "   {\"path\": \"/dev/x\", \"hostPath\": \"/dev/null\"}]}}]}\n",
                   ":3:35: devices[0].containerEdits.deviceNodes[0].hostPath: needs cdiVersion "
                   "0.5.0 or later (the spec says 0.4.0)");
    /* a name starting with a digit too */
    expect_refused("x.yaml",
                   "cdiVersion: 0.4.0\n"
                   "kind: vendor.com/x\n"
                   "devices:\n"
                   "  - name: 0\n"
                   "    containerEdits: {env: [A=1]}\n",
                   ":4:11: devices[0].name: expected a string, got the number 0 (quote it: \"0\")");
    expect_refused("x.yaml",
                   "cdiVersion: 0.4.0\n"
                   "kind: vendor.com/x\n"
                   "devices:\n"
                   "  - name: \"0a\"\n"
                   "    containerEdits: {env: [A=1]}\n",
                   ":4:11: devices[0].name: a name that starts with a digit needs cdiVersion "
                   "0.5.0 or later (the spec says 0.4.0)");
    /* a mount's type came with 0.4.0 */
    expect_refused("x.yaml",
                   "cdiVersion: 0.3.0\n"
                   "kind: vendor.com/x\n"
                   "devices:\n"
                   "  - name: d\n"
                   "    containerEdits:\n"
                   "      mounts: [{hostPath: /a, containerPath: /b, type: bind}]\n",
                   ":6:56: devices[0].containerEdits.mounts[0].type: needs cdiVersion 0.4.0 or "
                   "later (the spec says 0.3.0)");
    /* 0.7.0's fields are no field of ours */
    expect_refused("x.yaml",
                   "cdiVersion: 0.6.0\n"
                   "kind: vendor.com/x\n"
                   "devices:\n"
                   "  - name: d\n"
                   "    containerEdits:\n"
                   "      env: [A=1]\n"
                   "      intelRdt: {closID: x}\n",
                   ":7:7: devices[0].containerEdits.intelRdt: unknown field");
}
END_TEST

START_TEST(invalid_contents)
{
    /* every error of a file, on one line */
    char *dir = make_dir();
    char *path = write_spec(dir, "bad.yaml",
                            "cdiVersion: 0.6.0\n"
                            "kind: vendor.com/-b\n"
                            "devices:\n"
                            "  - name: -x\n"
                            "    containerEdits:\n"
                            "      env: [NOVALUE, =1]\n"
                            "      deviceNodes:\n"
                            "        - {path: dev/x, type: z, permissions: rwx}\n"
                            "        - {hostPath: /dev/null}\n"
                            "      hooks:\n"
                            "        - {hookName: prestop, path: hook}\n"
                            "      mounts:\n"
                            "        - {hostPath: /a}\n"
                            "  - name: empty\n"
                            "    containerEdits: {}\n"
                            "  - name: none\n");
    char *want = berth_xasprintf(
        "%s:2:7: kind: 'vendor.com/-b' is not a valid kind (vendor.com/class: letters, digits "
        "and _ . - in the vendor and the class, a letter or digit at each end); "
        "4:11: devices[0].name: '-x' is not a valid device name (letters, digits and _ . : - "
        "between a letter or digit at each end, at most 255); "
        "6:13: devices[0].containerEdits.env[0]: 'NOVALUE' is not NAME=value; "
        "6:22: devices[0].containerEdits.env[1]: '=1' is not NAME=value; "
        "8:18: devices[0].containerEdits.deviceNodes[0].path: 'dev/x' is not an absolute path; "
        "8:31: devices[0].containerEdits.deviceNodes[0].type: 'z' is not one of c, b, u, p; "
        "8:47: devices[0].containerEdits.deviceNodes[0].permissions: 'rwx' is not a subset of "
        "rwm; "
        "9:11: devices[0].containerEdits.deviceNodes[1].path: required; "
        "11:22: devices[0].containerEdits.hooks[0].hookName: 'prestop' is not one of prestart, "
        "createRuntime, createContainer, startContainer, poststart, poststop; "
        "11:37: devices[0].containerEdits.hooks[0].path: 'hook' is not an absolute path; "
        "13:11: devices[0].containerEdits.mounts[0].containerPath: required; "
        "15:21: devices[1].containerEdits: a device needs at least one edit (env, deviceNodes, "
        "mounts or hooks); "
        "16:5: devices[2].containerEdits: required",
        path);
    berth_cdi *c = load1(dir);
    const char *const *lines;

    expect_problem(c, want);
    ck_assert_uint_eq(berth_cdi_kinds(c, &lines), 0);
    berth_cdi_free(c);
    free(want), free(path);
    rm_dir(dir);

    expect_refused("x.yaml", "cdiVersion: 0.6.0\nkind: vendor.com/x\ndevices: []\n",
                   ":3:10: devices: a spec needs at least one device");
    expect_refused("x.yaml", "", ": empty (a CDI spec has cdiVersion, kind and devices)");
    expect_refused("x.yaml",
                   "cdiVersion: 0.6.0\n"
                   "kind: vendor.com/x\n"
                   "devices:\n"
                   "  - {name: d, containerEdits: {env: [A=1]}}\n"
                   "  - {name: e, containerEdits: {env: [A=1]}}\n"
                   "  - {name: d, containerEdits: {env: [A=2]}}\n",
                   ":6:12: devices[2].name: device d is defined twice (first at line 4)");
    expect_refused("x.yaml",
                   "cdiVersion: 0.6.0\n"
                   "kind: vendor.com/x\n"
                   "devices:\n"
                   "  - name: d\n"
                   "    containerEdits:\n"
                   "      deviceNodes: [{path: /dev/x, fileMode: 0669, major: 4096}]\n"
                   "      hooks: [{hookName: poststop, path: /bin/h, timeout: 0}]\n",
                   ":6:46: devices[0].containerEdits.deviceNodes[0].fileMode: 0669 is not "
                   "permission bits (0 to 07777, octal); "
                   "6:59: devices[0].containerEdits.deviceNodes[0].major: 4096 is out of range "
                   "(0..4095); "
                   "7:59: devices[0].containerEdits.hooks[0].timeout: 0 is out of range "
                   "(1..2147483647)");
}
END_TEST

/* Several files, in name order: the first to define a device keeps it. */
START_TEST(duplicate_in_one_dir)
{
    char *dir = make_dir();
    char *a = write_spec(dir, "a.yaml",
                         "cdiVersion: 0.6.0\nkind: vendor.com/x\n"
                         "devices: [{name: d, containerEdits: {env: [FROM=a]}}]\n");
    char *b = write_spec(dir, "b.json",
                         "{\"cdiVersion\": \"0.6.0\", \"kind\": \"vendor.com/x\", \"devices\": [\n"
                         "  {\"name\": \"e\", \"containerEdits\": {\"env\": [\"FROM=b\"]}},\n"
                         "  {\"name\": \"d\", \"containerEdits\": {\"env\": [\"FROM=b\"]}}]}\n");
    char *want = berth_xasprintf("%s: device vendor.com/x=d is already defined by %s", b, a);
    berth_cdi *c = load1(dir);
    const char *const *names;
    char *d[] = { "vendor.com/x=d" };
    DeviceEdits out = DEVICE_EDITS_INIT;

    expect_problem(c, want);
    /* b is ignored whole: e is not there either */
    ck_assert_uint_eq(berth_cdi_devices(c, "vendor.com/x", &names), 1);
    ck_assert_str_eq(names[0], "vendor.com/x=d");
    ck_assert_str_eq(berth_cdi_device_file(c, "vendor.com/x=d"), a);
    resolve(c, d, 1, &out);
    ck_assert_uint_eq(out.n_env, 1);
    ck_assert_str_eq(out.env[0], "FROM=a");
    berth_cdi_edits_clear(&out);
    berth_cdi_free(c);
    free(want), free(a), free(b);
    rm_dir(dir);
}
END_TEST

/* A later directory overrides an earlier one's device of the same name. */
START_TEST(override_across_dirs)
{
    char *etc = make_dir(), *run = make_dir();
    char *a = write_spec(etc, "vendor.yaml",
                         "cdiVersion: 0.6.0\nkind: vendor.com/x\n"
                         "containerEdits: {env: [SPEC=etc]}\n"
                         "devices:\n"
                         "  - {name: d, containerEdits: {env: [FROM=etc]}}\n"
                         "  - {name: e, containerEdits: {env: [FROM=etc]}}\n");
    char *b = write_spec(run, "generated.json",
                         "{\"cdiVersion\": \"0.5.0\", \"kind\": \"vendor.com/x\",\n"
                         " \"devices\": [{\"name\": \"d\",\n"
                         "   \"containerEdits\": {\"env\": [\"FROM=run\"]}}]}\n");
    const char *dirs[] = { etc, run };
    berth_cdi *c = load(dirs, 2);
    const char *const *lines, *const *names;
    char *d[] = { "vendor.com/x=d" }, *e[] = { "vendor.com/x=e" };
    DeviceEdits out = DEVICE_EDITS_INIT;

    ck_assert_uint_eq(problems(c, &lines), 0);
    ck_assert_uint_eq(berth_cdi_devices(c, "vendor.com/x", &names), 2);
    ck_assert_str_eq(berth_cdi_device_file(c, "vendor.com/x=d"), b);
    ck_assert_str_eq(berth_cdi_device_file(c, "vendor.com/x=e"), a);
    /* the overriding file has no spec-level edits */
    resolve(c, d, 1, &out);
    ck_assert_uint_eq(out.n_env, 1);
    ck_assert_str_eq(out.env[0], "FROM=run");
    berth_cdi_edits_clear(&out);
    resolve(c, e, 1, &out);
    ck_assert_uint_eq(out.n_env, 2);
    ck_assert_str_eq(out.env[0], "SPEC=etc");
    ck_assert_str_eq(out.env[1], "FROM=etc");
    berth_cdi_edits_clear(&out);
    berth_cdi_free(c);
    /* the other way round, etc's d counts */
    dirs[0] = run, dirs[1] = etc;
    c = load(dirs, 2);
    ck_assert_str_eq(berth_cdi_device_file(c, "vendor.com/x=d"), a);
    berth_cdi_free(c);
    free(a), free(b);
    rm_dir(etc), rm_dir(run);
}
END_TEST

/* The caps: files in all, devices per file, bytes per file. */
START_TEST(caps)
{
    char *one = make_dir(), *two = make_dir();
    const char *dirs[] = { one, two };
    const char *const *names;
    berth_cdi *c;
    char *want, *text, *big;
    FILE *f;
    size_t len = 0;

    for (size_t i = 0; i < 1030; i++) {
        char name[32];
        char *spec = berth_xasprintf("cdiVersion: 0.6.0\nkind: vendor.com/x\n"
                                     "devices: [{name: d%zu, containerEdits: {env: [A=1]}}]\n",
                                     i);

        /* 1000 in the first directory, 30 in the second */
        snprintf(name, sizeof(name), "s%04zu.yaml", i);
        free(write_spec(i < 1000 ? one : two, name, spec));
        free(spec);
    }
    c = load(dirs, 2);
    want = berth_xasprintf("%s/s1024.yaml: not read, nor the 5 files after it (berth reads at "
                           "most 1024 CDI spec files)",
                           two);
    expect_problem(c, want);
    ck_assert_uint_eq(berth_cdi_devices(c, "vendor.com/x", &names), 1024);
    free(want);
    want = berth_xasprintf("%s/s1023.yaml", two);
    ck_assert_str_eq(berth_cdi_device_file(c, "vendor.com/x=d1023"), want);
    ck_assert_ptr_null(berth_cdi_device_file(c, "vendor.com/x=d1024"));
    berth_cdi_free(c);
    free(want);
    rm_dir(one), rm_dir(two);

    /* 4097 devices */
    f = open_memstream(&text, &len);
    fputs("cdiVersion: 0.6.0\nkind: vendor.com/x\ndevices:\n", f);
    for (size_t i = 0; i < 4097; i++)
        fprintf(f, "  - {name: d%zu, containerEdits: {env: [A=1]}}\n", i);
    ck_assert_int_eq(fclose(f), 0);
    expect_refused("many.yaml", text, ":4:3: devices: 4097 items, at most 4096");
    free(text);

    /* 1 MiB and a byte: a comment to pad it */
    big = berth_xmalloc(((size_t)1 << 20) + 2);
    memset(big, ' ', ((size_t)1 << 20) + 1);
    big[0] = '#';
    big[((size_t)1 << 20) + 1] = '\0';
    expect_refused("big.yaml", big,
                   ": larger than 1048576 bytes, the most a CDI spec file may have");
    free(big);
}
END_TEST

/* What is not a spec file: other names and directories, silently; a FIFO
 * (which would block a read) as a problem. */
START_TEST(not_spec_files)
{
    char *dir = make_dir();
    char *sub = berth_xasprintf("%s/sub.json", dir);
    char *fifo = berth_xasprintf("%s/pipe.yaml", dir);
    char *want = berth_xasprintf("%s: not a regular file", fifo);
    char *notes = write_spec(dir, "notes.txt", "{");
    berth_cdi *c;

    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    c = load1(dir);
    expect_problem(c, want);
    berth_cdi_free(c);
    free(sub), free(fifo), free(want), free(notes);
    rm_dir(dir);
}
END_TEST

/* ---- resolving ---- */

START_TEST(resolve_devices)
{
    char *dir = make_dir();
    char *a = write_spec(dir, "gpu.json", gpu_json);
    char *b = write_spec(dir, "fpga.yaml", fpga_yaml);
    berth_cdi *c = load1(dir);
    char *names[] = { "vendor.com/gpu=gpu1", "example.org/fpga=f1", "vendor.com/gpu=gpu0",
                      "vendor.com/gpu=gpu1" };
    DeviceEdits *out = berth_xmalloc(sizeof(*out));
    const DeviceNode *n;
    struct stat st;

    device_edits_init(out);
    resolve(c, names, BERTH_ARRAY_SIZE(names), out);
    /* gpu's spec-level edits once, each device's, in the order asked */
    ck_assert_uint_eq(out->n_env, 3);
    ck_assert_str_eq(out->env[0], "GPU_DRIVER=1");
    ck_assert_str_eq(out->env[1], "GPU=0"); /* GPU=1 replaced in its place */
    ck_assert_str_eq(out->env[2], "FPGA=f1");
    ck_assert_uint_eq(out->n_cdi_devices, 3);
    ck_assert_str_eq(out->cdi_devices[0], "vendor.com/gpu=gpu1");
    ck_assert_str_eq(out->cdi_devices[1], "example.org/fpga=f1");
    ck_assert_str_eq(out->cdi_devices[2], "vendor.com/gpu=gpu0");
    ck_assert_uint_eq(out->n_host_devices, 0);
    ck_assert_uint_eq(out->n_mounts, 1);
    ck_assert_str_eq(out->mounts[0]->host_path, "/usr/lib/libgpu.so");
    ck_assert_str_eq(out->mounts[0]->container_path, "/usr/lib/libgpu.so");
    ck_assert_str_eq(out->mounts[0]->type, "");
    ck_assert_uint_eq(out->mounts[0]->n_options, 2);
    ck_assert_str_eq(out->mounts[0]->options[1], "bind");
    ck_assert_uint_eq(out->n_hooks, 1);
    ck_assert_str_eq(out->hooks[0]->hook_name, "createContainer");
    ck_assert_str_eq(out->hooks[0]->path, "/usr/bin/gpu-hook");
    ck_assert_uint_eq(out->hooks[0]->n_args, 2);
    ck_assert_int_eq(out->hooks[0]->timeout_s, 0);
    ck_assert_uint_eq(out->n_nodes, 3);
    /* /dev/null is c 1:3 on every Linux host */
    n = node_at(out, "/dev/gpu1");
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n->host_path, "/dev/null");
    ck_assert_str_eq(n->type, "c");
    ck_assert_int_eq(n->major, 1);
    ck_assert_int_eq(n->minor, 3);
    ck_assert_str_eq(n->permissions, "rwm");
    ck_assert_uint_eq(n->file_mode, 0);
    ck_assert_int_eq(n->uid, -1);
    ck_assert_int_eq(n->gid, -1);
    n = node_at(out, "/dev/gpu0");
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n->permissions, "rw");
    ck_assert_uint_eq(n->file_mode, 0666);
    ck_assert_int_eq(n->uid, 1000);
    ck_assert_int_eq(n->gid, 44);
    /* YAML's 0640 is octal; /dev/zero is c 1:5 */
    n = node_at(out, "/dev/fpga1");
    ck_assert_ptr_nonnull(n);
    ck_assert_uint_eq(n->file_mode, 0640);
    ck_assert_int_eq(stat("/dev/zero", &st), 0);
    ck_assert_str_eq(n->type, "c");
    ck_assert_int_eq(n->major, 1);
    ck_assert_int_eq(n->minor, 5);
    /* asked again into the same out: nothing is added twice */
    resolve(c, names, 1, out);
    ck_assert_uint_eq(out->n_hooks, 1);
    ck_assert_uint_eq(out->n_cdi_devices, 3);
    /* a heap DeviceEdits is freed whole (ASan/valgrind would tell) */
    BERTH_PB_FREE(out);
    berth_cdi_free(c);
    free(a), free(b);
    rm_dir(dir);
}
END_TEST

START_TEST(resolve_all)
{
    char *dir = make_dir();
    char *a = write_spec(dir, "gpu.json", gpu_json);
    char *b = write_spec(dir, "nv.yaml",
                         "cdiVersion: 0.6.0\nkind: nvidia.com/gpu\n"
                         "devices:\n"
                         "  - {name: \"0\", containerEdits: {env: [NV=0]}}\n"
                         "  - {name: all, containerEdits: {env: [NV=all]}}\n");
    berth_cdi *c = load1(dir);
    char *names[] = { "vendor.com/gpu=gpu1", "vendor.com/gpu=all" };
    char *nv[] = { "nvidia.com/gpu=all" };
    DeviceEdits out = DEVICE_EDITS_INIT;

    resolve(c, names, 2, &out);
    ck_assert_uint_eq(out.n_cdi_devices, 2);
    ck_assert_str_eq(out.cdi_devices[0], "vendor.com/gpu=gpu1");
    ck_assert_str_eq(out.cdi_devices[1], "vendor.com/gpu=gpu0");
    ck_assert_uint_eq(out.n_nodes, 2);
    berth_cdi_edits_clear(&out);
    ck_assert_uint_eq(out.n_nodes, 0);
    ck_assert_ptr_null(out.nodes);
    resolve(c, names + 1, 1, &out);
    ck_assert_uint_eq(out.n_cdi_devices, 2);
    ck_assert_str_eq(out.cdi_devices[0], "vendor.com/gpu=gpu0");
    ck_assert_str_eq(out.cdi_devices[1], "vendor.com/gpu=gpu1");
    berth_cdi_edits_clear(&out);
    /* a spec's own device named all is that device */
    resolve(c, nv, 1, &out);
    ck_assert_uint_eq(out.n_cdi_devices, 1);
    ck_assert_str_eq(out.cdi_devices[0], "nvidia.com/gpu=all");
    ck_assert_uint_eq(out.n_env, 1);
    ck_assert_str_eq(out.env[0], "NV=all");
    berth_cdi_edits_clear(&out);
    berth_cdi_free(c);
    free(a), free(b);
    rm_dir(dir);
}
END_TEST

/* out holds something: every failure must leave it as it was */
static void expect_out_unchanged(const DeviceEdits *out)
{
    ck_assert_uint_eq(out->n_env, 1);
    ck_assert_str_eq(out->env[0], "KEEP=1");
    ck_assert_uint_eq(out->n_nodes, 0);
    ck_assert_uint_eq(out->n_mounts, 0);
    ck_assert_uint_eq(out->n_hooks, 0);
    ck_assert_uint_eq(out->n_cdi_devices, 0);
    ck_assert_uint_eq(out->n_host_devices, 0);
}

START_TEST(resolve_errors)
{
    char *dir = make_dir();
    char *a = write_spec(dir, "gpu.json", gpu_json);
    char *b = write_spec(dir, "odd.yaml",
                         "cdiVersion: 0.6.0\nkind: vendor.com/odd\n"
                         "devices:\n"
                         "  - name: file\n"
                         "    containerEdits:\n"
                         "      deviceNodes: [{path: /dev/x, hostPath: /etc/passwd}]\n"
                         "  - name: gone\n"
                         "    containerEdits:\n"
                         "      deviceNodes: [{path: /dev/x, hostPath: /nonexistent/berth}]\n"
                         "  - name: block\n"
                         "    containerEdits:\n"
                         "      deviceNodes: [{path: /dev/x, hostPath: /dev/null, type: b}]\n"
                         "  - name: given\n"
                         "    containerEdits:\n"
                         "      deviceNodes: [{path: /dev/y, hostPath: /nonexistent/berth,\n"
                         "                     type: u, major: 10, minor: 229}]\n");
    berth_cdi *c = load1(dir);
    DeviceEdits out = DEVICE_EDITS_INIT;
    berth_error *err = NULL;
    char *unknown[] = { "vendor.com/gpu=gpu0", "vendor.com/gpu=gpu9" };
    char *nokind[] = { "nope.com/x=all" };
    char *bad[] = { "gpu0" };
    char *file[] = { "vendor.com/gpu=gpu0", "vendor.com/odd=file" };
    char *gone[] = { "vendor.com/odd=gone" };
    char *block[] = { "vendor.com/odd=block" };
    char *given[] = { "vendor.com/odd=given" };

    CDI_TEST_APPEND_ENV(out, "KEEP=1");
    ck_assert_int_lt(berth_cdi_resolve(c, unknown, 2, &out, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    ck_assert_str_eq(err->msg, "unresolvable CDI device vendor.com/gpu=gpu9");
    berth_error_free(&err);
    expect_out_unchanged(&out);
    ck_assert_int_lt(berth_cdi_resolve(c, nokind, 1, &out, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    ck_assert_str_eq(
        err->msg, "unresolvable CDI device nope.com/x=all (no CDI spec defines kind nope.com/x)");
    berth_error_free(&err);
    ck_assert_int_lt(berth_cdi_resolve(c, bad, 1, &out, &err), 0);
    ck_assert_int_eq(err->code, EINVAL);
    ck_assert_str_eq(err->msg, "'gpu0' is not a CDI device name (vendor.com/class=name)");
    berth_error_free(&err);
    ck_assert_int_lt(berth_cdi_resolve(c, file, 2, &out, &err), 0);
    ck_assert_int_eq(err->code, EINVAL);
    ck_assert_str_eq(err->msg, "unresolvable CDI device vendor.com/odd=file: /etc/passwd is not a "
                               "device");
    berth_error_free(&err);
    expect_out_unchanged(&out);
    ck_assert_int_lt(berth_cdi_resolve(c, gone, 1, &out, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    ck_assert_str_eq(err->msg, "unresolvable CDI device vendor.com/odd=gone: /nonexistent/berth: "
                               "No such file or directory");
    berth_error_free(&err);
    ck_assert_int_lt(berth_cdi_resolve(c, block, 1, &out, &err), 0);
    ck_assert_str_eq(err->msg, "unresolvable CDI device vendor.com/odd=block: /dev/null is of "
                               "type c, the spec says b");
    berth_error_free(&err);
    expect_out_unchanged(&out);
    /* a node that gives its type and major is taken without a stat */
    resolve(c, given, 1, &out);
    ck_assert_uint_eq(out.n_nodes, 1);
    ck_assert_str_eq(out.nodes[0]->type, "c");
    ck_assert_int_eq(out.nodes[0]->major, 10);
    ck_assert_int_eq(out.nodes[0]->minor, 229);
    ck_assert_str_eq(out.nodes[0]->host_path, "/nonexistent/berth");
    berth_cdi_edits_clear(&out);
    berth_cdi_free(c);
    free(a), free(b);
    rm_dir(dir);
}
END_TEST

START_TEST(merge_into_out)
{
    char *dir = make_dir();
    char *a = write_spec(dir, "x.yaml",
                         "cdiVersion: 0.6.0\nkind: vendor.com/x\n"
                         "devices:\n"
                         "  - name: d\n"
                         "    containerEdits:\n"
                         "      env: [A=1, B=2, A=3]\n"
                         "      deviceNodes: [{path: /dev/null, permissions: r}]\n"
                         "      mounts: [{hostPath: /new, containerPath: /opt/x}]\n");
    berth_cdi *c = load1(dir);
    DeviceEdits out = DEVICE_EDITS_INIT;
    berth_error *err = NULL;
    char *d[] = { "vendor.com/x=d" };

    CDI_TEST_APPEND_ENV(out, "A=0");
    CDI_TEST_APPEND_ENV(out, "KEEP=1");
    CDI_TEST_APPEND_ENV(out, "AB=1");
    ck_assert_int_eq(berth_cdi_host_device("/dev/null", NULL, "rwm", &out, &err), 0);
    resolve(c, d, 1, &out);
    ck_assert_uint_eq(out.n_env, 4);
    ck_assert_str_eq(out.env[0], "A=3");
    ck_assert_str_eq(out.env[1], "KEEP=1");
    ck_assert_str_eq(out.env[2], "AB=1");
    ck_assert_str_eq(out.env[3], "B=2");
    /* the CDI node of the same path replaced the host one */
    ck_assert_uint_eq(out.n_nodes, 1);
    ck_assert_str_eq(out.nodes[0]->permissions, "r");
    ck_assert_uint_eq(out.n_host_devices, 1);
    ck_assert_uint_eq(out.n_mounts, 1);
    berth_cdi_edits_clear(&out);
    berth_cdi_free(c);
    free(a);
    rm_dir(dir);
}
END_TEST

/* ---- host devices and --device ---- */

START_TEST(host_devices)
{
    DeviceEdits out = DEVICE_EDITS_INIT;
    berth_error *err = NULL;
    struct stat st;

    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert_int_eq(berth_cdi_host_device("/dev/null", "", NULL, &out, &err), 0);
    ck_assert_int_eq(berth_cdi_host_device("/dev/null", "/dev/mynull", "rw", &out, &err), 0);
    ck_assert_uint_eq(out.n_nodes, 2);
    ck_assert_str_eq(out.nodes[0]->path, "/dev/null");
    ck_assert_str_eq(out.nodes[0]->host_path, "/dev/null");
    ck_assert_str_eq(out.nodes[0]->type, "c");
    ck_assert_int_eq(out.nodes[0]->major, 1);
    ck_assert_int_eq(out.nodes[0]->minor, 3);
    ck_assert_str_eq(out.nodes[0]->permissions, "rwm");
    ck_assert_uint_eq(out.nodes[0]->file_mode, st.st_mode & 07777);
    ck_assert_int_eq(out.nodes[0]->uid, st.st_uid);
    ck_assert_int_eq(out.nodes[0]->gid, st.st_gid);
    ck_assert_str_eq(out.nodes[1]->path, "/dev/mynull");
    ck_assert_str_eq(out.nodes[1]->permissions, "rw");
    ck_assert_uint_eq(out.n_host_devices, 1);
    ck_assert_str_eq(out.host_devices[0], "/dev/null");
    berth_cdi_edits_clear(&out);

    CDI_TEST_APPEND_ENV(out, "KEEP=1");
    ck_assert_int_lt(berth_cdi_host_device("/etc/passwd", NULL, NULL, &out, &err), 0);
    ck_assert_int_eq(err->code, EINVAL);
    ck_assert_str_eq(err->msg, "/etc/passwd is not a device");
    berth_error_free(&err);
    ck_assert_int_lt(berth_cdi_host_device("/dev/nope", NULL, NULL, &out, &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    ck_assert_str_eq(err->msg, "/dev/nope: No such file or directory");
    berth_error_free(&err);
    ck_assert_berth_error(berth_cdi_host_device("/dev/null", NULL, "rwx", &out, &err), err,
                          "/dev/null: permissions rwx are not a subset of rwm");
    ck_assert_berth_error(berth_cdi_host_device("/dev/null", NULL, "rr", &out, &err), err,
                          "/dev/null: permissions rr are not a subset of rwm");
    ck_assert_berth_error(berth_cdi_host_device("dev/null", NULL, NULL, &out, &err), err,
                          "dev/null: the host path must be absolute");
    ck_assert_berth_error(berth_cdi_host_device("/dev/null", "null", NULL, &out, &err), err,
                          "/dev/null: the container path null must be absolute");
    expect_out_unchanged(&out);
    berth_cdi_edits_clear(&out);
}
END_TEST

static void expect_request(const char *arg, const char *name, const char *dest, const char *perms)
{
    DeviceRequest r = DEVICE_REQUEST_INIT;
    berth_error *err = NULL;

    ck_assert_msg(berth_cdi_parse_request(arg, &r, &err) == 0, "%s: %s", arg, err ? err->msg : "");
    ck_assert_str_eq(r.name, name);
    ck_assert_str_eq(r.container_path, dest);
    ck_assert_str_eq(r.permissions, perms);
    berth_cdi_request_clear(&r);
    ck_assert_str_eq(r.name, "");
}

static void expect_request_error(const char *arg, const char *msg)
{
    DeviceRequest r = DEVICE_REQUEST_INIT;
    berth_error *err = NULL;

    ck_assert_berth_error(berth_cdi_parse_request(arg, &r, &err), err, msg);
    ck_assert_str_eq(r.name, "");
}

START_TEST(parse_requests)
{
    expect_request("/dev/fuse", "/dev/fuse", "", "");
    expect_request("/dev/fuse:/dev/f", "/dev/fuse", "/dev/f", "");
    expect_request("/dev/fuse:rw", "/dev/fuse", "", "rw");
    expect_request("/dev/fuse:/dev/f:rwm", "/dev/fuse", "/dev/f", "rwm");
    expect_request("/dev/fuse::m", "/dev/fuse", "", "m");
    expect_request("vendor.com/c=x", "vendor.com/c=x", "", "");
    expect_request("nvidia.com/gpu=GPU-1:0", "nvidia.com/gpu=GPU-1:0", "", "");
    expect_request_error("/dev/fuse:rwx", "--device /dev/fuse:rwx: permissions must be a subset "
                                          "of rwm");
    expect_request_error("/dev/fuse:/dev/f:rr",
                         "--device /dev/fuse:/dev/f:rr: permissions must be a subset of rwm");
    expect_request_error("/dev/fuse:/dev/f:",
                         "--device /dev/fuse:/dev/f:: permissions must be a subset of rwm");
    expect_request_error("dev/fuse", "--device dev/fuse: the host path must be absolute");
    expect_request_error("/dev/fuse:dev/f",
                         "--device /dev/fuse:dev/f: the container path must be absolute");
    expect_request_error("/dev/fuse:dev/f:rw",
                         "--device /dev/fuse:dev/f:rw: the container path must be absolute");
    expect_request_error("/a:/b:rw:x", "--device /a:/b:rw:x: too many ':' "
                                       "(HOST[:CONTAINER][:PERMISSIONS])");
    expect_request_error("vendor.com/c=", "--device vendor.com/c=: not a CDI device name "
                                          "(vendor.com/class=name)");
    expect_request_error("", "--device : the host path must be absolute");
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("cdi");
    TCase *tc = tcase_create("load");

    tcase_add_test(tc, json_and_yaml_load);
    tcase_add_test(tc, tab_indented_json);
    tcase_add_test(tc, missing_and_bad_dirs);
    tcase_add_test(tc, syntax_error_ignored);
    tcase_add_test(tc, versions);
    tcase_add_test(tc, fields_of_newer_versions);
    tcase_add_test(tc, invalid_contents);
    tcase_add_test(tc, duplicate_in_one_dir);
    tcase_add_test(tc, override_across_dirs);
    tcase_add_test(tc, caps);
    tcase_add_test(tc, not_spec_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("resolve");
    tcase_add_test(tc, resolve_devices);
    tcase_add_test(tc, resolve_all);
    tcase_add_test(tc, resolve_errors);
    tcase_add_test(tc, merge_into_out);
    suite_add_tcase(s, tc);
    tc = tcase_create("host");
    tcase_add_test(tc, host_devices);
    tcase_add_test(tc, parse_requests);
    suite_add_tcase(s, tc);
    return s;
}
