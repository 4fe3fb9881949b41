/* What berth ships and documents still loads through the readers that
 * will read it: every configuration file in deploy/ (by its reader), every
 * example manifest in deploy/examples, and every YAML example in README.
 * A shipped file no test knows how to read fails here, so a new one gets
 * a reader before it rots. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-config.h"
#include "base/io.h"
#include "check_main.h"
#include "image/registries.h"
#include "manifest/manifest.h"

static bool is_yaml(const char *name)
{
    size_t len = strlen(name);

    return (len > 5 && strcmp(name + len - 5, ".yaml") == 0) ||
           (len > 4 && strcmp(name + len - 4, ".yml") == 0);
}

/* agent.yaml's text, loaded over the defaults and checked whole. */
static void agent_config_loads(const char *source, const char *text)
{
    agent_config cfg;
    berth_error *err = NULL;

    ck_assert_int_eq(agent_config_defaults(&cfg, NULL), 0);
    ck_assert_msg(agent_config_parse(&cfg, source, text, strlen(text), &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_int_eq(agent_config_set(&cfg.monitor, "/bin/true", NULL), 0);
    ck_assert_int_eq(agent_config_set(&cfg.puller, "/bin/true", NULL), 0);
    ck_assert_msg(agent_config_finish(&cfg, &err) == 0, "%s: %s", source, err ? err->msg : "");
    agent_config_free(&cfg);
}

/* A manifest's text: parsed, with at least one workload. */
static void manifest_loads(const char *source, const char *text)
{
    berth_manifest *m = NULL;
    berth_error *err = NULL;

    ck_assert_msg(berth_manifest_parse(text, strlen(text), source, &m, &err) == 0, "%s",
                  err ? err->msg : "");
    ck_assert_msg(m->n_workloads > 0, "%s: no workload", source);
    berth_manifest_free(m);
}

static char *read_text(const char *path)
{
    char *text = NULL;
    berth_error *err = NULL;

    ck_assert_msg(berth_read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL, &err) == 0, "%s",
                  err ? err->msg : "");
    return text;
}

/* fn on every YAML file of dir; how many there were. */
static int each_yaml(const char *dir, void (*fn)(const char *name, const char *text))
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    ck_assert_msg(d != NULL, "%s", dir);
    while ((e = readdir(d))) {
        char path[1024], *text;

        if (!is_yaml(e->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        text = read_text(path);
        fn(e->d_name, text);
        free(text);
        n++;
    }
    closedir(d);
    return n;
}

static void deploy_file(const char *name, const char *text)
{
    if (strcmp(name, "agent.yaml") == 0)
        agent_config_loads(name, text);
    else
        ck_abort_msg("deploy/%s: no test knows which reader reads it", name);
}

START_TEST(deploy_configs)
{
    ck_assert_int_ge(each_yaml(BERTH_SOURCE_DIR "/deploy", deploy_file), 1);
}
END_TEST

START_TEST(deploy_examples)
{
    ck_assert_int_ge(each_yaml(BERTH_SOURCE_DIR "/deploy/examples", manifest_loads), 4);
}
END_TEST

/* Each ```yaml block of README: a manifest (it has an apiVersion), a
 * registries.yaml (it starts with registries:), a Prometheus scrape
 * configuration (passed over) or berthd's agent.yaml. */
START_TEST(readme_examples)
{
    char *readme = read_text(BERTH_SOURCE_DIR "/README.md"), *p = readme;
    int manifests = 0, agent = 0, registries = 0, blocks = 0;

    while ((p = strstr(p, "\n```yaml\n"))) {
        char *start = p + strlen("\n```yaml\n"), *end = strstr(start, "\n```"), source[64];

        ck_assert_ptr_nonnull(end);
        end[1] = '\0'; /* keep the last line's newline */
        snprintf(source, sizeof(source), "README.md yaml block %d", ++blocks);
        if (strncmp(start, "scrape_configs:\n", 16) == 0) {
            /* a Prometheus scrape configuration ("Metrics"): Prometheus'
             * to read (integration-metrics runs one) */
        } else if (strstr(start, "apiVersion:")) {
            manifest_loads(source, start);
            manifests++;
        } else if (strncmp(start, "registries:\n", 12) == 0) {
            berth_registries *r = NULL;
            berth_error *err = NULL;

            if (berth_registries_parse(source, start, strlen(start), &r, &err) < 0)
                ck_abort_msg("%s", err->msg);
            berth_registries_free(r);
            registries++;
        } else {
            agent_config_loads(source, start);
            agent++;
        }
        p = end + 2;
    }
    ck_assert_int_ge(manifests, 1);
    ck_assert_int_ge(agent, 1);
    ck_assert_int_ge(registries, 1);
    free(readme);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("shipped-configs");
    TCase *tc = tcase_create("shipped");

    tcase_add_test(tc, deploy_configs);
    tcase_add_test(tc, deploy_examples);
    tcase_add_test(tc, readme_examples);
    suite_add_tcase(s, tc);
    return s;
}
