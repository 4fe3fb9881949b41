/* Fuzz target: manifests (lib/manifest/manifest.h), the YAML an operator
 * applies. The input is the file's text. Besides not crashing or leaking,
 * the parser must keep its contract:
 *
 * - on success, every workload has a valid name, a kind berth knows, a
 *   replica count its kind allows, a template, and the source; names are
 *   unique in the file; and each replica the controller would make of it
 *   (berth_replica_id, berth_replica_spec, as for an assignment) has a
 *   valid container id and a spec that passes berth_spec_validate: what
 *   the parser accepts, a node must be able to run;
 * - on failure, nothing is returned, and the error is one line per error,
 *   each "SOURCE:LINE:COL: ...", at most BERTH_YAML_ERRORS_MAX of them
 *   and a last "SOURCE: and N more errors" line; errors about the whole
 *   file (too big, a NUL byte) are the one line "SOURCE: ...". */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"
#include "yaml/yaml.h"
#include "spec/workload.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SOURCE   "fuzz.yaml"
#define NOT_TEXT SOURCE ": not a text file"

static void __attribute__((noreturn)) fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_manifest: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    abort();
}

/* A number from 1, then ':'; returns what follows, or NULL. */
static const char *number_colon(const char *s)
{
    if (*s < '1' || *s > '9')
        return NULL;
    while (*s >= '0' && *s <= '9')
        s++;
    return *s == ':' ? s + 1 : NULL;
}

/* One line of the report: "SOURCE:LINE:COL: text" (LINE and COL from 1). */
static bool line_placed(const char *line, size_t len)
{
    const char *s = line + strlen(SOURCE ":"), *end = line + len;

    if (len < strlen(SOURCE ":") || memcmp(line, SOURCE ":", strlen(SOURCE ":")) != 0)
        return false;
    if (!(s = number_colon(s)) || s >= end || !(s = number_colon(s)) || s >= end)
        return false;
    return s + 1 < end && *s == ' ';
}

static void check_error(int r, const berth_error *err, const berth_manifest *m)
{
    const char *msg, *line, *nl;
    size_t lines = 0;

    if (r >= 0)
        fail("a negative result expected", NULL);
    if (m != (const berth_manifest *)0x1)
        fail("a failed parse wrote its result", NULL);
    if (!err || !err->msg || !*err->msg)
        fail("a failed parse without an error text", NULL);
    msg = err->msg;
    if (err->code == EFBIG || err->code == ENOMEM ||
        (err->code == EINVAL && strncmp(msg, NOT_TEXT, strlen(NOT_TEXT)) == 0)) {
        /* about the whole file: one line, naming it */
        if (strncmp(msg, SOURCE ": ", strlen(SOURCE ": ")) != 0 || strchr(msg, '\n'))
            fail("a whole-file error not as \"" SOURCE ": ...\"", msg);
        return;
    }
    if (err->code != EINVAL)
        fail("an error code other than EINVAL", msg);
    for (line = msg;; line = nl + 1) {
        nl = strchr(line, '\n');
        if (!line_placed(line, nl ? (size_t)(nl - line) : strlen(line))) {
            /* only the last line may count the errors left out */
            if (nl || lines != BERTH_YAML_ERRORS_MAX ||
                strncmp(line, SOURCE ": and ", strlen(SOURCE ": and ")) != 0)
                fail("an error line not as \"" SOURCE ":LINE:COL: ...\"", msg);
        }
        lines++;
        if (!nl)
            break;
    }
    if (lines > BERTH_YAML_ERRORS_MAX + 1)
        fail("more lines than BERTH_YAML_ERRORS_MAX and a count", msg);
}

/* What the controller makes of w's replica (index, or node for a
 * DaemonSet), as an assignment: the id must be valid, the spec too. */
static void check_replica(const Workload *w, uint32_t index, const char *node)
{
    ContainerSpec *spec = NULL;
    berth_error *err = NULL;
    char id[BERTH_ID_BUF], replica[BERTH_ID_BUF];

    berth_replica_id(w->namespace_, w->name, w->kind, index, node, id);
    if (!berth_spec_id_valid(id))
        fail("an invalid replica id", id);
    if (w->kind == WORKLOAD_DAEMONSET)
        snprintf(replica, sizeof(replica), "%s", node);
    else
        snprintf(replica, sizeof(replica), "%u", index);
    if (berth_replica_spec(w, id, replica, &spec, &err) < 0)
        fail("no replica spec", err->msg);
    if (berth_spec_validate(spec, &err) < 0)
        fail("an accepted manifest makes an invalid replica spec", err->msg);
    container_spec_free_unpacked(spec, NULL);
}

static void check_workload(const Workload *w)
{
    /* A node name as long as names go (63): its DaemonSet replica ids
     * fall back to the hash. */
    static const char long_node[] =
        "n23456789-123456789-123456789-123456789-123456789-123456789-123";
    WorkloadKind k = w->kind;

    if (!w->name || !berth_workload_name_valid(w->name))
        fail("an invalid workload name", w->name);
    if (berth_workload_kind_parse(berth_workload_kind_name(k)) != k ||
        k == WORKLOAD_KIND_UNSPECIFIED)
        fail("a workload of no kind", w->name);
    if ((k == WORKLOAD_POD && w->replicas != 1) || (k == WORKLOAD_DAEMONSET && w->replicas != 0) ||
        w->replicas > BERTH_REPLICAS_MAX)
        fail("a replica count its kind does not allow", w->name);
    if (!w->template_)
        fail("a workload without a template", w->name);
    if (!w->source || strcmp(w->source, SOURCE) != 0)
        fail("a workload without its source", w->source);
    if (w->generation || w->created_unix_ns || w->updated_unix_ns || w->status)
        fail("a workload with what only the controller sets", w->name);
    if (k == WORKLOAD_DAEMONSET) {
        check_replica(w, 0, "node-1");
        check_replica(w, 0, long_node);
    } else {
        check_replica(w, 0, "node-1");
        if (w->replicas > 1)
            check_replica(w, w->replicas - 1, "node-1");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    berth_manifest *m = (berth_manifest *)0x1;
    berth_error *err = NULL;
    int r = berth_manifest_parse((const char *)data, size, SOURCE, &m, &err);

    if (r < 0) {
        check_error(r, err, m);
        berth_error_free(&err);
        return 0;
    }
    if (err || !m || m == (berth_manifest *)0x1)
        fail("a successful parse without its manifest, or with an error", NULL);
    if (m->n_workloads > BERTH_MANIFEST_DOCUMENTS_MAX)
        fail("more workloads than documents allowed", NULL);
    for (size_t i = 0; i < m->n_workloads; i++) {
        check_workload(m->workloads[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->workloads[i]->name, m->workloads[j]->name) == 0)
                fail("two workloads of the same name", m->workloads[i]->name);
    }
    berth_manifest_free(m);
    return 0;
}
