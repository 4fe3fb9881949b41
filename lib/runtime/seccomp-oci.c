/* A node's own seccomp profile (Kubernetes' seccompProfile Localhost), in
 * the format OCI runtime specs use for linux.seccomp (and Docker and
 * Kubernetes profiles are written in): defaultAction, defaultErrnoRet,
 * architectures, syscalls [{names, action, errnoRet, args [{index, value,
 * valueTwo, op}]}]. Syscall names this machine's libseccomp does not know
 * are skipped, as runc skips them, so one profile serves several
 * kernels. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/xalloc.h"
#include "runtime-internal.h"

#define PROFILE_BYTES_MAX (1 << 20)

static int action_of(const char *name, json_t *errno_ret, uint32_t *ret, berth_error **err)
{
    int e = EPERM;

    if (errno_ret) {
        if (!json_is_integer(errno_ret) || json_integer_value(errno_ret) < 0 ||
            json_integer_value(errno_ret) > 4095)
            return berth_error_set(err, EINVAL, "errnoRet: not an errno (0-4095)");
        e = (int)json_integer_value(errno_ret);
    }

    if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
        *ret = SCMP_ACT_ALLOW;
    else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
        *ret = SCMP_ACT_ERRNO((uint16_t)e);
    else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
        *ret = SCMP_ACT_KILL;
    else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
        *ret = SCMP_ACT_KILL_PROCESS;
    else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
        *ret = SCMP_ACT_TRAP;
    else if (strcmp(name, "SCMP_ACT_LOG") == 0)
        *ret = SCMP_ACT_LOG;
    else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
        *ret = SCMP_ACT_TRACE((uint16_t)e);
    else
        return berth_error_set(err, EINVAL, "unknown action '%.40s'", name);
    return 0;
}

static int op_of(const char *name, enum scmp_compare *ret, berth_error **err)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE },
        { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE },
        { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE },
        { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
    };

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(ops); i++)
        if (strcmp(name, ops[i].name) == 0) {
            *ret = ops[i].op;
            return 0;
        }
    return berth_error_set(err, EINVAL, "unknown operator '%.40s'", name);
}

static int add_arch(scmp_filter_ctx ctx, const char *name, berth_error **err)
{
    char lower[32];
    uint32_t arch;
    int r;

    if (strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name + 10) >= sizeof(lower))
        return berth_error_set(err, EINVAL, "unknown architecture '%.40s'", name);
    for (size_t i = 0;; i++) {
        lower[i] = (char)tolower((unsigned char)name[10 + i]);
        if (!lower[i])
            break;
    }
    /* one this libseccomp does not know cannot run here anyway */
    if (!(arch = seccomp_arch_resolve_name(lower)))
        return 0;
    if ((r = seccomp_arch_add(ctx, arch)) < 0 && r != -EEXIST)
        return berth_error_make(err, -r, "architecture %s", name);
    return 0;
}

static int add_rule(scmp_filter_ctx ctx, size_t i, json_t *rule, uint32_t def, berth_error **err)
{
    json_t *names = json_object_get(rule, "names"), *args = json_object_get(rule, "args"), *v;
    const char *action = json_string_value(json_object_get(rule, "action"));
    struct scmp_arg_cmp cmp[6];
    unsigned n_cmp = 0;
    uint32_t act;
    size_t k;

    if (!json_is_array(names) || !action)
        return berth_error_set(err, EINVAL, "syscalls[%zu]: names (a list) and action required", i);
    if (action_of(action, json_object_get(rule, "errnoRet"), &act, err) < 0)
        return berth_error_prefix(err, "syscalls[%zu]", i);
    if (json_is_array(args)) {
        json_array_foreach(args, k, v)
        {
            const char *op = json_string_value(json_object_get(v, "op"));
            json_t *index = json_object_get(v, "index");
            enum scmp_compare c = SCMP_CMP_EQ;

            json_t *value = json_object_get(v, "value"), *two = json_object_get(v, "valueTwo");

            /* a value past INT64_MAX is a real to jansson: refused, not 0 */
            if ((value && !json_is_integer(value)) || (two && !json_is_integer(two)))
                return berth_error_set(err, EINVAL,
                                       "syscalls[%zu].args[%zu]: value and valueTwo are integers "
                                       "up to 9223372036854775807",
                                       i, k);
            if (n_cmp == 6 || !op || !json_is_integer(index) || json_integer_value(index) < 0 ||
                json_integer_value(index) > 5)
                return berth_error_set(err, EINVAL,
                                       "syscalls[%zu].args[%zu]: index 0-5 and op required "
                                       "(at most 6)",
                                       i, k);
            if (op_of(op, &c, err) < 0)
                return berth_error_prefix(err, "syscalls[%zu].args[%zu]", i, k);
            cmp[n_cmp++] = (struct scmp_arg_cmp){
                .arg = (unsigned)json_integer_value(index),
                .op = c,
                .datum_a = (scmp_datum_t)json_integer_value(json_object_get(v, "value")),
                .datum_b = (scmp_datum_t)json_integer_value(json_object_get(v, "valueTwo")),
            };
        }
    }
    if (act == def)
        return 0; /* what the default does anyway */
    json_array_foreach(names, k, v)
    {
        const char *name = json_string_value(v);
        int nr, r;

        if (!name)
            return berth_error_set(err, EINVAL, "syscalls[%zu].names[%zu]: not a string", i, k);
        if ((nr = seccomp_syscall_resolve_name(name)) == __NR_SCMP_ERROR)
            continue;
        r = seccomp_rule_add_array(ctx, act, nr, n_cmp, cmp);
        if (r < 0)
            return berth_error_make(err, -r, "syscalls[%zu]: %s", i, name);
    }
    return 0;
}

int seccomp_compile_oci(const char *path, struct sock_fprog *ret, berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    json_t *root = NULL, *arches, *rules, *v;
    scmp_filter_ctx ctx = NULL;
    json_error_t jerr;
    const char *def_name;
    uint32_t def;
    size_t len, i;

    if (berth_read_file_at(AT_FDCWD, path, PROFILE_BYTES_MAX, &text, &len, err) < 0)
        return berth_error_prefix(err, "seccomp profile");
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return berth_error_set(err, EINVAL, "seccomp profile %s:%d:%d: %s", path, jerr.line,
                               jerr.column, jerr.text);
    if (!json_is_object(root) ||
        !(def_name = json_string_value(json_object_get(root, "defaultAction")))) {
        berth_error_set(err, EINVAL, "defaultAction required");
        goto fail;
    }
    if (action_of(def_name, json_object_get(root, "defaultErrnoRet"), &def, err) < 0)
        goto fail;
    if (!(ctx = seccomp_init(def)))
        berth_oom();
    /* no_new_privs is the spec's business (child.c) */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    arches = json_object_get(root, "architectures");
    for (i = 0; json_is_array(arches) && i < json_array_size(arches); i++) {
        v = json_array_get(arches, i);
        if (!json_is_string(v)) {
            berth_error_set(err, EINVAL, "architectures[%zu]: not a string", i);
            goto fail;
        }
        if (add_arch(ctx, json_string_value(v), err) < 0)
            goto fail;
    }
    rules = json_object_get(root, "syscalls");
    if (rules && !json_is_array(rules)) {
        berth_error_set(err, EINVAL, "syscalls: not a list");
        goto fail;
    }
    json_array_foreach(rules, i, v) if (add_rule(ctx, i, v, def, err) < 0) goto fail;
    json_decref(root);
    if (seccomp_export(ctx, ret, err) < 0)
        return berth_error_prefix(err, "seccomp profile %s", path);
    return 0;
fail:
    if (ctx)
        seccomp_release(ctx);
    json_decref(root);
    return berth_error_prefix(err, "seccomp profile %s", path);
}
