/* Node facts from the kernel. */
#include "node.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "base/cleanup.h"
#include "base/io.h"
#include "base/timeutil.h"
#include "base/version.h"
#include "net/netlink.h"
#include "net/podnet.h"

static void os_release(char *buf, size_t size)
{
    _cleanup_free_ char *text = NULL;
    char *p;

    snprintf(buf, size, "Linux");
    if (berth_read_file_at(AT_FDCWD, "/etc/os-release", 64 * 1024, &text, NULL, NULL) < 0)
        return;
    p = strstr(text, "PRETTY_NAME=");
    if (!p)
        return;
    p += 12;
    if (*p == '"')
        p++;
    snprintf(buf, size, "%.*s", (int)strcspn(p, "\"\n"), p);
}

void node_facts_internal_ip(node_facts *f, const char *configured, const char *bridge)
{
    berth_error *err = NULL;
    berth_nl *nl = NULL;
    uint32_t a;

    f->internal_ip[0] = '\0';
    if (configured) {
        snprintf(f->internal_ip, sizeof(f->internal_ip), "%s", configured);
        return;
    }
    if (berth_nl_open(-1, &nl, &err) < 0 ||
        berth_nl_node_addr(nl, (const char *const[]){ bridge, BERTH_VXLAN_DEV, NULL }, &a, &err) <
            0) {
        berth_log_error(BERTH_LOG_WARN, err,
                        "pod network: this node's address (set pod_network.node_ip): other "
                        "nodes' pods will not reach its pods");
        berth_error_free(&err);
    } else {
        berth_ipv4_str(a, f->internal_ip);
    }
    berth_nl_close(nl);
}

int node_facts_read(node_facts *ret, berth_error **err)
{
    struct utsname u;
    cpu_set_t set;
    _cleanup_free_ char *meminfo = NULL;
    struct timespec now_rt, now_boot;
    long long kb = 0;
    char *p;

    memset(ret, 0, sizeof(*ret));
    if (uname(&u) < 0)
        return berth_error_errno(err, "uname");
    snprintf(ret->kernel, sizeof(ret->kernel), "%.*s", (int)sizeof(ret->kernel) - 1, u.release);
    snprintf(ret->arch, sizeof(ret->arch), "%.*s", (int)sizeof(ret->arch) - 1, u.machine);
    os_release(ret->os, sizeof(ret->os));
    if (sched_getaffinity(0, sizeof(set), &set) < 0)
        return berth_error_errno(err, "sched_getaffinity");
    ret->cpu_millis = (int64_t)CPU_COUNT(&set) * 1000;
    if (berth_read_file_at(AT_FDCWD, "/proc/meminfo", 1 << 20, &meminfo, NULL, err) < 0)
        return -1;
    p = strstr(meminfo, "MemTotal:");
    if (!p || sscanf(p + 9, "%lld", &kb) != 1)
        return berth_error_set(err, EINVAL, "/proc/meminfo: no MemTotal");
    ret->memory_bytes = kb * 1024;
    clock_gettime(CLOCK_REALTIME, &now_rt);
    clock_gettime(CLOCK_BOOTTIME, &now_boot);
    ret->boot_time_ns = (now_rt.tv_sec - now_boot.tv_sec) * BERTH_NSEC_PER_SEC +
                        (now_rt.tv_nsec - now_boot.tv_nsec);
    /* Round to the second: the same boot must read the same every time. */
    ret->boot_time_ns -= ret->boot_time_ns % BERTH_NSEC_PER_SEC;
    return 0;
}

void node_info_fill(NodeInfo *info, NodeCapacity *cap, NodeInfo_LabelsEntry *label_storage,
                    NodeInfo_LabelsEntry **label_ptrs, const agent_config *cfg,
                    const node_facts *facts, int cgroup_version, int64_t agent_start_ns)
{
    node_info_init(info);
    node_capacity_init(cap);
    info->name = cfg->node_name;
    for (size_t i = 0; i < cfg->n_labels; i++) {
        node_info_labels_entry_init(&label_storage[i]);
        label_storage[i].key = cfg->label_keys[i];
        label_storage[i].value = cfg->label_values[i];
        label_ptrs[i] = &label_storage[i];
    }
    info->labels = label_ptrs;
    info->n_labels = cfg->n_labels;
    cap->cpu_millis = facts->cpu_millis - cfg->reserved_cpu_millis;
    if (cap->cpu_millis < 0)
        cap->cpu_millis = 0;
    cap->memory_bytes = facts->memory_bytes - cfg->reserved_memory_bytes;
    if (cap->memory_bytes < 0)
        cap->memory_bytes = 0;
    info->capacity = cap;
    info->kernel_version = (char *)facts->kernel;
    info->cgroup_version = (uint32_t)cgroup_version;
    info->agent_version = (char *)berth_version();
    info->arch = (char *)facts->arch;
    info->os = (char *)facts->os;
    info->boot_time_unix_ns = facts->boot_time_ns;
    info->agent_start_unix_ns = agent_start_ns;
    info->agent_address = cfg->advertise ? cfg->advertise : "";
    info->internal_ip = (char *)facts->internal_ip;
}
