/* The controller's checks of requests (validate.h). */
#include "validate.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rpc/keys.h"
#include "rpc/sock.h"
#include "spec/spec.h"

#define INFO_TEXT_MAX      256
#define NODE_LABELS_MAX    64
#define NODE_LABEL_MAX     63
#define STATUS_MESSAGE_MAX 4096
#define STATUS_IMAGE_MAX   640 /* a reference (512) and a digest */
/* A node's extended resources (its CDI kinds), and the most of one. */
#define NODE_EXTENDED_MAX       64
#define NODE_EXTENDED_COUNT_MAX (INT64_C(1) << 20)
/* The devices a container holds: CDI names and host paths, in all. */
#define STATUS_DEVICES_MAX       1024
#define STATUS_DEVICES_BYTES_MAX 65536

/* At most max characters, none a control character. */
static bool printable(const char *s, size_t max)
{
    if (strlen(s) > max)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static bool text_ok(const char *s)
{
    return printable(s, INFO_TEXT_MAX);
}

static bool label_ok(const char *s, bool key)
{
    size_t n = strlen(s);

    if (n > NODE_LABEL_MAX || (key && n == 0))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '-' || *s == '_' || *s == '.' ||
              (key && *s == '/')))
            return false;
    return true;
}

/* The extended resources a node has (its agent's count of each CDI
 * kind): Kubernetes' names, each once. */
static int capacity_extended_validate(const NodeCapacity *cap, berth_error **err)
{
    if (cap->n_extended > NODE_EXTENDED_MAX)
        return berth_error_set(err, EINVAL, "node.capacity.extended: %zu resources, at most %d",
                               cap->n_extended, NODE_EXTENDED_MAX);
    for (size_t i = 0; i < cap->n_extended; i++) {
        const NodeCapacity_ExtendedEntry *e = cap->extended[i];
        const char *why = berth_extended_resource_name_problem(e->key);

        if (why)
            return berth_error_set(err, EINVAL, "node.capacity.extended: '%.80s' %s", e->key, why);
        if (e->value < 0 || e->value > NODE_EXTENDED_COUNT_MAX)
            return berth_error_set(err, EINVAL,
                                   "node.capacity.extended[%s]: %" PRId64
                                   " is out of range (0..%" PRId64 ")",
                                   e->key, e->value, NODE_EXTENDED_COUNT_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(cap->extended[j]->key, e->key) == 0)
                return berth_error_set(err, EINVAL, "node.capacity.extended: %s is given twice",
                                       e->key);
    }
    return 0;
}

int ctl_node_info_validate(const NodeInfo *info, berth_error **err)
{
    const NodeCapacity *cap = info->capacity;
    struct in_addr a;

    if (info->n_labels > NODE_LABELS_MAX)
        return berth_error_set(err, EINVAL, "node.labels: %zu labels, at most %d", info->n_labels,
                               NODE_LABELS_MAX);
    for (size_t i = 0; i < info->n_labels; i++)
        if (!label_ok(info->labels[i]->key, true) || !label_ok(info->labels[i]->value, false))
            return berth_error_set(err, EINVAL,
                                   "node.labels: '%.63s' is not a label (up to 63 of letters, "
                                   "digits, '-', '_', '.')",
                                   info->labels[i]->key);
    if (cap && (cap->cpu_millis < 0 || cap->memory_bytes < 0 ||
                cap->cpu_millis > (INT64_C(1) << 40) || cap->memory_bytes > (INT64_C(1) << 60)))
        return berth_error_set(err, EINVAL, "node.capacity: out of range");
    if (cap && capacity_extended_validate(cap, err) < 0)
        return -1;
    if (!text_ok(info->kernel_version) || !text_ok(info->agent_version) || !text_ok(info->arch) ||
        !text_ok(info->os))
        return berth_error_set(err, EINVAL,
                               "node: kernel_version, agent_version, arch and os are up to %d "
                               "printable characters",
                               INFO_TEXT_MAX);
    if (*info->agent_address && berth_address_validate(info->agent_address, err) < 0)
        return berth_error_prefix(err, "node.agent_address");
    if (*info->internal_ip && inet_pton(AF_INET, info->internal_ip, &a) != 1)
        return berth_error_set(err, EINVAL, "node.internal_ip: '%.40s' is not an IPv4 address",
                               info->internal_ip);
    return 0;
}

int ctl_heartbeat_validate(const HeartbeatRequest *in, berth_error **err)
{
    if (in->applied_generation > UINT64_MAX / 2)
        return berth_error_set(err, EINVAL, "applied_generation %" PRIu64 " is out of range",
                               in->applied_generation);
    return 0;
}

int ctl_status_validate(const ContainerStatus *s, berth_error **err)
{
    struct in_addr a;

    if (!berth_spec_id_valid(s->id))
        return berth_error_set(err, EINVAL, "status: '%.63s' is not a container id", s->id);
    if (s->state < CONTAINER_PENDING || s->state > CONTAINER_FAILED)
        return berth_error_set(err, EINVAL, "status of %s: unknown state %d", s->id, (int)s->state);
    if (!text_ok(s->reason) || strlen(s->message) > STATUS_MESSAGE_MAX)
        return berth_error_set(err, EINVAL, "status of %s: reason or message too long", s->id);
    if (strlen(s->image) > STATUS_IMAGE_MAX || strlen(s->image_id) > STATUS_IMAGE_MAX)
        return berth_error_set(err, EINVAL, "status of %s: image or image_id too long", s->id);
    if (*s->pod_ip && inet_pton(AF_INET, s->pod_ip, &a) != 1)
        return berth_error_set(err, EINVAL, "status of %s: pod_ip '%.40s' is not an address", s->id,
                               s->pod_ip);
    if (s->n_devices > STATUS_DEVICES_MAX)
        return berth_error_set(err, EINVAL, "status of %s: %zu devices, at most %d", s->id,
                               s->n_devices, STATUS_DEVICES_MAX);
    for (size_t i = 0, bytes = 0; i < s->n_devices; i++) {
        bytes += strlen(s->devices[i]);
        if (!*s->devices[i] || !printable(s->devices[i], BERTH_SPEC_PATH_MAX) ||
            bytes > STATUS_DEVICES_BYTES_MAX)
            return berth_error_set(err, EINVAL,
                                   "status of %s: devices[%zu] is not a device's name or path "
                                   "(printable, at most %d characters, %d in all)",
                                   s->id, i, BERTH_SPEC_PATH_MAX, STATUS_DEVICES_BYTES_MAX);
    }
    return 0;
}

int ctl_report_status_validate(const ReportStatusRequest *in, berth_error **err)
{
    if (in->n_containers > CTL_STATUSES_MAX)
        return berth_error_set(err, EINVAL, "%zu statuses, at most %d", in->n_containers,
                               CTL_STATUSES_MAX);
    for (size_t i = 0; i < in->n_containers; i++) {
        if (ctl_status_validate(in->containers[i], err) < 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(in->containers[i]->id, in->containers[j]->id) == 0)
                return berth_error_set(err, EINVAL, "status of %s listed twice",
                                       in->containers[i]->id);
    }
    return 0;
}

int ctl_approve_node_validate(const ApproveNodeRequest *in, berth_error **err)
{
    if (strlen(in->key_fingerprint) >= BERTH_FINGERPRINT_LEN)
        return berth_error_set(err, EINVAL, "not a key fingerprint");
    return 0;
}

int ctl_join_token_request_validate(const CreateJoinTokenRequest *in, berth_error **err)
{
    for (const char *p = in->description; *p; p++)
        if ((unsigned char)*p < 0x20)
            return berth_error_set(err, EINVAL, "description: control characters are not allowed");
    return 0;
}

void ctl_source_name(const char *in, char *out, size_t size)
{
    size_t n = 0;

    for (; *in && n + 1 < size && n < CTL_SOURCE_MAX; in++)
        out[n++] = isprint((unsigned char)*in) ? *in : '?';
    out[n] = '\0';
    if (!n)
        snprintf(out, size, "manifest");
}
