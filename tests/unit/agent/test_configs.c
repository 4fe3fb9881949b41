/* Secrets and ConfigMaps on the node (agent/berthd/configs.c), on a tmpfs
 * of the test's (/dev/shm): a container's env file (envFrom, key refs,
 * precedence, binaryData left out), its volumes in kubelet's layout
 * (..data, key links, items with modes), an update swapped in with the
 * old files gone, kubelet's words for what is missing, and removal. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/io.h"
#include "check_main.h"
#include "configs.h"
#include "pb/pb.h"

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/dev/shm/berth-configs-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    berth_rm_rf_at(AT_FDCWD, dir, NULL);
}

static ConfigObject *object(ConfigKind kind, const char *name, uint64_t gen, const char *k1,
                            const char *v1, const char *k2, const char *v2, bool k2_binary)
{
    ConfigObject o = CONFIG_OBJECT_INIT;
    ConfigObject_DataEntry e[2] = { CONFIG_OBJECT_DATA_ENTRY_INIT, CONFIG_OBJECT_DATA_ENTRY_INIT };
    ConfigObject_DataEntry *ep[] = { &e[0], &e[1] };
    char *bin[] = { (char *)k2 };

    o.kind = kind;
    o.name = (char *)name;
    o.namespace_ = "default";
    o.generation = gen;
    e[0].key = (char *)k1;
    e[0].value.data = (uint8_t *)v1;
    e[0].value.len = strlen(v1);
    e[1].key = (char *)(k2 ? k2 : "");
    e[1].value.data = (uint8_t *)v2;
    e[1].value.len = v2 ? strlen(v2) : 0;
    o.data = ep;
    o.n_data = k2 ? 2 : 1;
    if (k2_binary) {
        o.binary_keys = bin;
        o.n_binary_keys = 1;
    }
    return BERTH_PB_COPY(ConfigObject, &o);
}

static void set(configs *c, ConfigObject *a, ConfigObject *b)
{
    ConfigObject **v = calloc(2, sizeof(*v));

    v[0] = a;
    v[1] = b;
    configs_set(c, v, b ? 2 : 1);
}

static char *file(const char *path)
{
    char *data = NULL;
    size_t len = 0;

    ck_assert_msg(berth_read_file_at(AT_FDCWD, path, 1 << 20, &data, &len, NULL) == 0, "%s", path);
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\0')
            data[i] = '|';
    return data;
}

/* A container web-0: PW from Secret db's password, envFrom ConfigMap cfg
 * with prefix C_, a secret volume of one item (mode 0400) and a configMap
 * volume of every key. */
static ContainerSpec *spec(const char *secret_name)
{
    ContainerSpec s = CONTAINER_SPEC_INIT;
    EnvKeyRef r = ENV_KEY_REF_INIT, *rp[] = { &r };
    EnvFromSource e = ENV_FROM_SOURCE_INIT, *epp[] = { &e };
    KeyToPath item = KEY_TO_PATH_INIT, *ip[] = { &item };
    ConfigVolume sv = CONFIG_VOLUME_INIT, cv = CONFIG_VOLUME_INIT;
    Mount ms = MOUNT_INIT, mc = MOUNT_INIT, *mp[] = { &ms, &mc };
    char *env[] = { "C_plain=mine" };

    s.id = "web-0";
    s.env = env;
    s.n_env = 1;
    r.name = "PW";
    r.kind = CONFIG_SECRET;
    r.object = (char *)secret_name;
    r.key = "password";
    s.env_key_refs = rp;
    s.n_env_key_refs = 1;
    e.kind = CONFIG_MAP;
    e.object = "cfg";
    e.prefix = "C_";
    s.env_from = epp;
    s.n_env_from = 1;
    item.key = "password";
    item.path = "x/pw";
    item.mode = 0400;
    sv.kind = CONFIG_SECRET;
    sv.object = (char *)secret_name;
    sv.items = ip;
    sv.n_items = 1;
    sv.default_mode = 0644;
    cv.kind = CONFIG_MAP;
    cv.object = "cfg";
    cv.default_mode = 0644;
    ms.type = mc.type = MOUNT_CONFIG;
    ms.source = "s";
    mc.source = "c";
    ms.destination = "/s";
    mc.destination = "/c";
    ms.config = &sv;
    mc.config = &cv;
    s.mounts = mp;
    s.n_mounts = 2;
    return BERTH_PB_COPY(ContainerSpec, &s);
}

START_TEST(projected_as_kubelet_projects_them)
{
    configs *c = NULL;
    ContainerSpec *s = spec("db");
    char env_file[512], config_dir[512], path[1200], link[256], *data;
    berth_error *err = NULL;
    struct stat st;
    ssize_t n;

    ck_assert_int_eq(configs_open(dir, &c, NULL), 0);
    set(c, object(CONFIG_SECRET, "db", 1, "password", "pw1", NULL, NULL, false),
        object(CONFIG_MAP, "cfg", 1, "mode", "prod", "blob", "\x01", true));
    ck_assert(configs_used_by(s));
    ck_assert(configs_changed_for(c, s));
    ck_assert_msg(configs_project(c, s, env_file, sizeof(env_file), config_dir, sizeof(config_dir),
                                  &err) == 0,
                  "%s", err ? err->msg : "");
    /* envFrom first, the key refs after; binaryData is no variable */
    data = file(env_file);
    ck_assert_str_eq(data, "C_mode=prod|PW=pw1|");
    free(data);
    ck_assert_int_eq(stat(env_file, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    /* the secret volume: one item, at its path, with its mode, through
     * ..data */
    snprintf(path, sizeof(path), "%s/s/x/pw", config_dir);
    data = file(path);
    ck_assert_str_eq(data, "pw1");
    free(data);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0400);
    snprintf(path, sizeof(path), "%s/s/x", config_dir);
    n = readlink(path, link, sizeof(link) - 1);
    ck_assert_int_gt(n, 0);
    link[n] = '\0';
    ck_assert_str_eq(link, "..data/x");
    snprintf(path, sizeof(path), "%s/s/password", config_dir);
    ck_assert_int_lt(access(path, F_OK), 0);
    /* the configMap volume: every key, binaryData too */
    snprintf(path, sizeof(path), "%s/c/blob", config_dir);
    ck_assert_int_eq(access(path, F_OK), 0);

    /* an update: new files swapped in, the old directory gone */
    set(c, object(CONFIG_SECRET, "db", 2, "password", "pw2", NULL, NULL, false),
        object(CONFIG_MAP, "cfg", 1, "mode", "prod", "blob", "\x01", true));
    ck_assert(configs_changed_for(c, s));
    ck_assert_int_eq(
        configs_project(c, s, env_file, sizeof(env_file), config_dir, sizeof(config_dir), NULL), 0);
    snprintf(path, sizeof(path), "%s/s/x/pw", config_dir);
    data = file(path);
    ck_assert_str_eq(data, "pw2");
    free(data);
    {
        char cmd[1300];

        snprintf(cmd, sizeof(cmd),
                 "test $(ls -a %s/s | grep -c '^\\.\\.2') -eq 0 && "
                 "test $(ls -a %s/s | grep -c '^\\.\\.[0-9]') -eq 1",
                 config_dir, config_dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    /* the same generations again: nothing changed for it */
    set(c, object(CONFIG_SECRET, "db", 2, "password", "pw2", NULL, NULL, false),
        object(CONFIG_MAP, "cfg", 1, "mode", "prod", "blob", "\x01", true));
    ck_assert(!configs_changed_for(c, s));

    configs_remove(c, "web-0");
    snprintf(path, sizeof(path), "%s/web-0", dir);
    ck_assert_int_lt(access(path, F_OK), 0);
    container_spec_free_unpacked(s, NULL);
    configs_close(c);
}
END_TEST

START_TEST(missing_in_kubelets_words)
{
    configs *c = NULL;
    ContainerSpec *s = spec("nope");
    char env_file[512], config_dir[512], path[600];
    berth_error *err = NULL;

    ck_assert_int_eq(configs_open(dir, &c, NULL), 0);
    set(c, object(CONFIG_SECRET, "db", 1, "user", "u", NULL, NULL, false),
        object(CONFIG_MAP, "cfg", 1, "mode", "prod", NULL, NULL, false));
    ck_assert_int_lt(
        configs_project(c, s, env_file, sizeof(env_file), config_dir, sizeof(config_dir), &err), 0);
    ck_assert_int_eq(err->code, ENOENT);
    ck_assert_str_eq(err->msg, "secret \"nope\" not found");
    berth_error_free(&err);
    container_spec_free_unpacked(s, NULL);
    /* the Secret is there, its key is not */
    s = spec("db");
    ck_assert_int_lt(
        configs_project(c, s, env_file, sizeof(env_file), config_dir, sizeof(config_dir), &err), 0);
    ck_assert_str_eq(err->msg, "couldn't find key password in Secret default/db");
    berth_error_free(&err);
    /* nothing was written */
    snprintf(path, sizeof(path), "%s/web-0", dir);
    ck_assert_int_lt(access(path, F_OK), 0);
    container_spec_free_unpacked(s, NULL);
    configs_close(c);
}
END_TEST

/* fsGroup: the pod's group owns the projected files and may read them,
 * whatever their mode (kubelet's). Needs root to chown (unit tests run as
 * root in CI; skipped otherwise). */
START_TEST(fs_group_owns_the_files)
{
    configs *c = NULL;
    ContainerSpec *s = spec("db");
    FsGroup g = FS_GROUP_INIT;
    char env_file[512], config_dir[512], path[1200];
    struct stat st;

    if (geteuid() != 0)
        return;
    g.gid = 4242;
    s->fs_group = BERTH_PB_COPY(FsGroup, &g);
    ck_assert_int_eq(configs_open(dir, &c, NULL), 0);
    set(c, object(CONFIG_SECRET, "db", 1, "password", "pw1", NULL, NULL, false),
        object(CONFIG_MAP, "cfg", 1, "mode", "prod", NULL, NULL, false));
    ck_assert_int_eq(
        configs_project(c, s, env_file, sizeof(env_file), config_dir, sizeof(config_dir), NULL), 0);
    snprintf(path, sizeof(path), "%s/s/x/pw", config_dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_gid, 4242);
    ck_assert_int_eq(st.st_mode & 0777, 0440); /* 0400 and the group's read */
    snprintf(path, sizeof(path), "%s/c/mode", config_dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_gid, 4242);
    container_spec_free_unpacked(s, NULL);
    configs_close(c);
}
END_TEST

static bool keep_web0(const char *id, void *data)
{
    (void)data;
    return strcmp(id, "web-0") == 0;
}

/* What a berthd that was away left: pull credentials (no pull outlives
 * it) and the files of a container removed meanwhile go at start; the
 * adopted container's stay. A container whose Secret is gone loses its
 * variables, its volume files stay (kubelet's). */
START_TEST(swept_at_start_and_forgotten)
{
    configs *c = NULL;
    ContainerSpec *s = spec("db");
    char env_file[512], config_dir[512], path[600];

    ck_assert_int_eq(configs_open(dir, &c, NULL), 0);
    set(c, object(CONFIG_SECRET, "db", 1, "password", "pw1", NULL, NULL, false),
        object(CONFIG_MAP, "cfg", 1, "mode", "prod", NULL, NULL, false));
    ck_assert_int_eq(
        configs_project(c, s, env_file, sizeof(env_file), config_dir, sizeof(config_dir), NULL), 0);
    free(s->id);
    s->id = strdup("web-1");
    ck_assert_int_eq(
        configs_project(c, s, env_file, sizeof(env_file), config_dir, sizeof(config_dir), NULL), 0);
    snprintf(path, sizeof(path), "%s/pulls", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/pulls/web-1.7", dir);
    ck_assert_int_eq(berth_write_file_atomic_at(AT_FDCWD, path, "{}", 2, 0600, NULL), 0);
    configs_close(c);

    /* berthd starts again: web-0 was adopted, web-1 is gone */
    ck_assert_int_eq(configs_open(dir, &c, NULL), 0);
    configs_sweep(c, keep_web0, NULL);
    snprintf(path, sizeof(path), "%s/pulls", dir);
    ck_assert_int_lt(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/web-1", dir);
    ck_assert_int_lt(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/web-0/env", dir);
    ck_assert_int_eq(access(path, F_OK), 0);

    /* its Secret deleted: no variables for another start, files kept */
    configs_forget_env(c, "web-0");
    ck_assert_int_lt(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/web-0/volumes/s/x/pw", dir);
    ck_assert_int_eq(access(path, F_OK), 0);
    configs_forget_env(c, "../web-0"); /* never outside the directory */
    container_spec_free_unpacked(s, NULL);
    configs_close(c);
    /* a node that never made the directory: nothing to sweep */
    ck_assert_int_eq(configs_open("/nonexistent/berth-secrets", &c, NULL), 0);
    configs_sweep(c, keep_web0, NULL);
    configs_close(c);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("agent-configs");
    TCase *tc = tcase_create("configs");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, projected_as_kubelet_projects_them);
    tcase_add_test(tc, missing_in_kubelets_words);
    tcase_add_test(tc, fs_group_owns_the_files);
    tcase_add_test(tc, swept_at_start_and_forgotten);
    suite_add_tcase(s, tc);
    return s;
}
