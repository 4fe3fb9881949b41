/* ContainerSpec validation, defaults and the small parsers it needs. Pure:
 * names are checked against tables here, not against the running kernel
 * (the runtime does that when it applies them). */
#include "spec.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/cleanup.h"
#include "base/quantity.h"
#include "base/xalloc.h"
#include "cdi/cdi.h"
#include "image/ref.h"
#include "pb/pb.h"
#include "workload.h"

#define F(...) berth_error_set(err, EINVAL, __VA_ARGS__)

bool berth_spec_id_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > BERTH_SPEC_ID_MAX ||
        !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool label_chars_ok(const char *s, bool key)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.' || (key && c == '/')))
            return false;
    }
    return true;
}

bool berth_label_key_valid(const char *key)
{
    return *key && strlen(key) <= BERTH_LABEL_LEN_MAX && label_chars_ok(key, true) &&
           isalnum((unsigned char)key[0]) && strchr(key, '/') == strrchr(key, '/');
}

bool berth_config_key_valid(const char *key)
{
    size_t n = strlen(key);

    /* "..": kubelet's own names in a volume (..data, ..<time>) */
    if (n == 0 || n > 253 || strcmp(key, ".") == 0 || strncmp(key, "..", 2) == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)key[i]) && key[i] != '-' && key[i] != '_' && key[i] != '.')
            return false;
    return true;
}

bool berth_config_path_valid(const char *p)
{
    const char *part = p;

    if (!*p || *p == '/' || strlen(p) > 253)
        return false;
    for (const char *c = p;; c++) {
        if (*c == '/' || !*c) {
            size_t len = (size_t)(c - part);

            /* no empty, "." or ".." element, none starting with ".." */
            if (len == 0 || (len == 1 && part[0] == '.') ||
                (len >= 2 && part[0] == '.' && part[1] == '.'))
                return false;
            if (!*c)
                return true;
            part = c + 1;
        }
    }
}

bool berth_label_value_valid(const char *value)
{
    return strlen(value) <= BERTH_LABEL_LEN_MAX && label_chars_ok(value, false);
}

bool berth_spec_dns_label_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

bool berth_spec_member_id(const char *pod, const char *name, char *ret_id, size_t size)
{
    int n = snprintf(ret_id, size, "%s_%s", pod, name);

    return n > 0 && (size_t)n < size && berth_spec_id_valid(ret_id);
}

static int validate_pod_member(const berth_spec *s, berth_error **err)
{
    const PodMember *m = s->pod;
    char id[BERTH_SPEC_ID_MAX + 1];

    if (!m)
        return 0;
    if (!berth_spec_id_valid(m->pod))
        return F("spec.pod.pod: '%s' is not a valid pod id", m->pod);
    if (!berth_spec_dns_label_valid(m->name))
        return F("spec.pod.name: '%s' is not a valid container name (1-63 of a-z 0-9 -, "
                 "starting and ending with a letter or digit)",
                 m->name);
    if (!berth_spec_member_id(m->pod, m->name, id, sizeof(id)) || strcmp(id, s->id) != 0)
        return F("spec.id: '%s' is not the id of container %s of pod %s (%s_%s)", s->id, m->name,
                 m->pod, m->pod, m->name);
    if (m->role != POD_ROLE_APP && m->role != POD_ROLE_INIT && m->role != POD_ROLE_SIDECAR)
        return F("spec.pod.role: unknown role %d", (int)m->role);
    if (m->role == POD_ROLE_SIDECAR && s->restart_policy != RESTART_ALWAYS)
        return F("spec.pod.role: a sidecar restarts Always");
    if (m->role == POD_ROLE_INIT && s->restart_policy == RESTART_ALWAYS)
        return F("spec.pod.role: an init container runs to completion (restart policy Always "
                 "makes it a sidecar)");
    if (m->init_index > 1000)
        return F("spec.pod.init_index: %u is out of range", m->init_index);
    /* A user namespace cannot join the pod's namespaces, which the host's
     * user namespace owns. */
    if (s->user_namespace && s->user_namespace->enabled)
        return F("spec.user_namespace: not supported in a pod of several containers");
    return 0;
}

bool berth_spec_image_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > 128 || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* Absolute, normalised (no empty, "." or ".." components, no trailing
 * slash except "/"), bounded. */
static bool path_clean(const char *p)
{
    size_t n = strlen(p);

    if (n == 0 || n > BERTH_SPEC_PATH_MAX || p[0] != '/')
        return false;
    if (n == 1)
        return true;
    if (p[n - 1] == '/')
        return false;
    for (const char *c = p; c;) {
        const char *next = strchr(c + 1, '/');
        size_t len = next ? (size_t)(next - c - 1) : strlen(c + 1);

        if (len == 0 || (len == 1 && c[1] == '.') || (len == 2 && c[1] == '.' && c[2] == '.'))
            return false;
        c = next;
    }
    return true;
}

static bool path_under(const char *p, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static int validate_hostname(const char *h, berth_error **err)
{
    size_t n = strlen(h);

    if (n > 63)
        return F("spec.hostname: '%s' is longer than 63 characters", h);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!(isalnum(c) || c == '-' || c == '.') || (c == '-' && (i == 0 || i == n - 1)))
            return F("spec.hostname: '%s' is not a valid host name (letters, digits, '-', '.')", h);
    }
    return 0;
}

/* A DNS subdomain (RFC 1123, as Kubernetes checks one): dot-separated
 * labels of [a-z0-9-], each starting and ending with a letter or digit,
 * 1-max characters in all. */
static bool dns_subdomain_valid(const char *s, size_t len, size_t max)
{
    size_t label = 0;

    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if (islower(c) || isdigit(c) || (c == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return label > 0 && s[len - 1] != '-';
}

const char *berth_extended_resource_name_problem(const char *name)
{
    const char *slash = strchr(name, '/'), *part;
    size_t domain, n;

    if (!slash || strchr(slash + 1, '/'))
        return "doesn't follow extended resource name standard (a domain and a name: "
               "example.com/device)";
    domain = (size_t)(slash - name);
    /* "requests." + DOMAIN is Kubernetes' quota name of the resource: a
     * subdomain of 253 at most too */
    if (!dns_subdomain_valid(name, domain, 253 - strlen("requests.")))
        return "doesn't follow extended resource name standard (its domain must be a lower case "
               "DNS subdomain, at most 244 characters)";
    part = slash + 1;
    n = strlen(part);
    if (n == 0 || n > 63 || !isalnum((unsigned char)part[0]) ||
        !isalnum((unsigned char)part[n - 1]))
        return "doesn't follow extended resource name standard (its name must be 1-63 "
               "characters, a letter or digit at both ends)";
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)part[i]) && !strchr("-_.", part[i]))
            return "doesn't follow extended resource name standard (its name must be letters, "
                   "digits, '-', '_' and '.')";
    /* Kubernetes' own: native resources, not extended ones */
    if (domain >= strlen("kubernetes.io") &&
        strncmp(slash - strlen("kubernetes.io"), "kubernetes.io", strlen("kubernetes.io")) == 0)
        return "doesn't follow extended resource name standard (the kubernetes.io domain is "
               "Kubernetes' own)";
    if (strncmp(name, "requests.", strlen("requests.")) == 0)
        return "doesn't follow extended resource name standard (\"requests.\" starts a quota's "
               "name)";
    return NULL;
}

static int validate_extended(const Resources *r, berth_error **err)
{
    if (r->n_extended > BERTH_SPEC_EXTENDED_MAX)
        return F("spec.resources.extended: %zu resources, at most %d", r->n_extended,
                 BERTH_SPEC_EXTENDED_MAX);
    for (size_t i = 0; i < r->n_extended; i++) {
        const Resources_ExtendedEntry *e = r->extended[i];
        const char *why = berth_extended_resource_name_problem(e->key);

        if (why)
            return F("spec.resources.extended: '%.80s' %s", e->key, why);
        /* Kubernetes allows 0: nothing is asked for */
        if (e->value < 0 || e->value > BERTH_SPEC_EXTENDED_COUNT_MAX)
            return F("spec.resources.extended[%s]: %" PRId64 " is out of range (0..%d)", e->key,
                     e->value, BERTH_SPEC_EXTENDED_COUNT_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->extended[j]->key, e->key) == 0)
                return F("spec.resources.extended: %s is given twice", e->key);
    }
    return 0;
}

static int validate_resources(const Resources *r, berth_error **err)
{
    char buf[32];

    if (!r)
        return 0;
    if (r->cpu_millis < 0 || r->cpu_millis > 1000000)
        return F("spec.resources.cpu_millis: %" PRId64 " is out of range (0..1000000)",
                 r->cpu_millis);
    if (r->cpu_period_us != 0 && (r->cpu_period_us < 1000 || r->cpu_period_us > 1000000))
        return F("spec.resources.cpu_period_us: %" PRId64 " is out of range (1000..1000000)",
                 r->cpu_period_us);
    if (r->cpu_quota_us != 0 && (r->cpu_quota_us < 1000 || r->cpu_quota_us > INT64_C(1) << 40))
        return F("spec.resources.cpu_quota_us: %" PRId64 " is out of range (>= 1000)",
                 r->cpu_quota_us);
    if (r->cpu_weight > 10000)
        return F("spec.resources.cpu_weight: %" PRIu32 " is out of range (1..10000)",
                 r->cpu_weight);
    if (r->memory_bytes < 0)
        return F("spec.resources.memory_bytes: %" PRId64 " must not be negative", r->memory_bytes);
    if (r->memory_bytes > 0 && r->memory_bytes < BERTH_SPEC_MEMORY_MIN)
        return F("spec.resources.memory_bytes: %s is below the minimum of 4Mi",
                 berth_format_bytes(r->memory_bytes, buf, sizeof(buf)));
    if (r->pids_limit < 0)
        return F("spec.resources.pids_limit: %" PRId64 " must not be negative", r->pids_limit);
    if (r->cpu_request_millis < 0 || r->memory_request_bytes < 0)
        return F("spec.resources: requests must not be negative");
    if (*r->cpuset_cpus &&
        berth_cpuset_validate(r->cpuset_cpus, "spec.resources.cpuset_cpus", err) < 0)
        return -1;
    if (*r->cpuset_mems &&
        berth_cpuset_validate(r->cpuset_mems, "spec.resources.cpuset_mems", err) < 0)
        return -1;
    return validate_extended(r, err);
}

/* Whether p is a non-empty subset of "rwm", each letter once (Docker's
 * rule for a device's cgroup permissions). */
static bool device_permissions_valid(const char *p)
{
    if (!*p || strlen(p) > 3)
        return false;
    for (size_t i = 0; p[i]; i++)
        if (!strchr("rwm", p[i]) || strchr(p + i + 1, p[i]))
            return false;
    return true;
}

int berth_device_request_validate(const DeviceRequest *d, berth_error **err)
{
    if (d->name[0] == '/') {
        if (!path_clean(d->name))
            return F("'%.80s' must be an absolute, normalised path", d->name);
        if (*d->container_path && !path_clean(d->container_path))
            return F("container path '%.80s' must be an absolute, normalised path",
                     d->container_path);
        if (*d->permissions && !device_permissions_valid(d->permissions))
            return F("permissions '%.10s' are not a subset of rwm", d->permissions);
        return 0;
    }
    if (!berth_cdi_name_parse(d->name, NULL, 0))
        return F("'%.80s' is neither the absolute path of a host device nor a CDI device name "
                 "(vendor.com/class=name)",
                 d->name);
    if (*d->container_path || *d->permissions)
        return F("%s is a CDI device: no container path or permissions (its CDI spec says them)",
                 d->name);
    return 0;
}

/* spec.devices: host device nodes by path, CDI devices by their fully
 * qualified name. */
static int validate_devices(const berth_spec *s, berth_error **err)
{
    if (s->n_devices > BERTH_SPEC_DEVICES_MAX)
        return F("spec.devices: %zu devices, at most %d", s->n_devices, BERTH_SPEC_DEVICES_MAX);
    for (size_t i = 0; i < s->n_devices; i++)
        if (berth_device_request_validate(s->devices[i], err) < 0)
            return berth_error_prefix(err, "spec.devices[%zu]", i);
    return 0;
}

static int validate_mounts(const berth_spec *s, berth_error **err)
{
    static const char *const reserved[] = { "/proc", "/sys", "/dev" };

    if (s->n_mounts > BERTH_SPEC_MOUNTS_MAX)
        return F("spec.mounts: %zu mounts, at most %d", s->n_mounts, BERTH_SPEC_MOUNTS_MAX);
    for (size_t i = 0; i < s->n_mounts; i++) {
        const Mount *m = s->mounts[i];

        if (!path_clean(m->destination) || strcmp(m->destination, "/") == 0)
            return F("spec.mounts[%zu].destination: '%s' must be an absolute, normalised path "
                     "other than /",
                     i, m->destination);
        for (size_t r = 0; r < BERTH_ARRAY_SIZE(reserved); r++)
            if (path_under(m->destination, reserved[r]) && strcmp(m->destination, "/dev/shm") != 0)
                return F("spec.mounts[%zu].destination: '%s' is managed by the runtime", i,
                         m->destination);
        switch (m->type) {
        case MOUNT_BIND:
            if (!path_clean(m->source))
                return F("spec.mounts[%zu].source: '%s' must be an absolute, normalised host path",
                         i, m->source);
            if (m->tmpfs_size_bytes != 0)
                return F("spec.mounts[%zu].tmpfs_size_bytes: only for tmpfs mounts", i);
            if (m->memory)
                return F("spec.mounts[%zu].memory: only for emptyDir volumes", i);
            break;
        case MOUNT_EMPTY_DIR:
            if (!berth_spec_id_valid(m->source))
                return F("spec.mounts[%zu].source: '%s' is not a volume name", i, m->source);
            if (m->tmpfs_size_bytes < 0)
                return F("spec.mounts[%zu].tmpfs_size_bytes: must not be negative", i);
            break;
        case MOUNT_CONFIG: {
            const ConfigVolume *c = m->config;

            if (!c || (c->kind != CONFIG_SECRET && c->kind != CONFIG_MAP) ||
                !berth_workload_name_valid(c->object))
                return F("spec.mounts[%zu].config: a Secret or ConfigMap by name", i);
            if (!berth_spec_id_valid(m->source))
                return F("spec.mounts[%zu].source: '%s' is not a volume name", i, m->source);
            if (c->default_mode > 0777 || c->n_items > 256)
                return F("spec.mounts[%zu].config: a mode is 0 to 0777, at most 256 items", i);
            for (size_t k = 0; k < c->n_items; k++)
                if (!berth_config_key_valid(c->items[k]->key) ||
                    !berth_config_path_valid(c->items[k]->path) || c->items[k]->mode > 0777)
                    return F("spec.mounts[%zu].config.items[%zu]: a key, a relative path "
                             "without '..', a mode 0 to 0777",
                             i, k);
            break;
        }
        case MOUNT_TMPFS:
            if (m->memory)
                return F("spec.mounts[%zu].memory: only for emptyDir volumes", i);
            if (*m->source)
                return F("spec.mounts[%zu].source: a tmpfs mount has no source", i);
            if (m->tmpfs_size_bytes < 0)
                return F("spec.mounts[%zu].tmpfs_size_bytes: must not be negative", i);
            break;
        default:
            return F("spec.mounts[%zu].type: unknown mount type %d", i, (int)m->type);
        }
    }
    return 0;
}

/* ports[].hostPort: real ports, TCP or UDP, each once; with the host's
 * network the container's own port (Kubernetes' rule). */
static int validate_host_ports(const berth_spec *s, berth_error **err)
{
    if (s->n_host_ports > 64)
        return F("spec.host_ports: at most 64");
    for (size_t i = 0; i < s->n_host_ports; i++) {
        const HostPort *p = s->host_ports[i];
        struct in_addr a;

        if (p->host_port < 1 || p->host_port > 65535 || p->container_port < 1 ||
            p->container_port > 65535)
            return F("spec.host_ports[%zu]: ports are 1-65535", i);
        if (*p->protocol && strcmp(p->protocol, "TCP") != 0 && strcmp(p->protocol, "UDP") != 0)
            return F("spec.host_ports[%zu].protocol: '%.20s': TCP or UDP", i, p->protocol);
        if (*p->host_ip && inet_pton(AF_INET, p->host_ip, &a) != 1)
            return F("spec.host_ports[%zu].host_ip: '%.40s' is not an IPv4 address", i, p->host_ip);
        if (s->network == NETWORK_HOST && p->host_port != p->container_port)
            return F("spec.host_ports[%zu]: with the host's network, hostPort must be the "
                     "containerPort (%u)",
                     i, p->container_port);
        for (size_t j = 0; j < i; j++)
            if (s->host_ports[j]->host_port == p->host_port &&
                strcmp(s->host_ports[j]->protocol, p->protocol) == 0)
                return F("spec.host_ports[%zu]: host port %u/%s is published twice", i,
                         p->host_port, *p->protocol ? p->protocol : "TCP");
    }
    return 0;
}

/* dnsPolicy and dnsConfig, as Kubernetes bounds them. */
static int validate_dns(const PodDNS *d, berth_error **err)
{
    static const char *const policies[] = { "", "ClusterFirst", "Default", "None",
                                            "ClusterFirstWithHostNet" };
    bool known = false;

    if (!d)
        return 0;
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
        known |= strcmp(d->policy, policies[i]) == 0;
    if (!known)
        return F("spec.dns.policy: '%.40s' is not a dnsPolicy", d->policy);
    if (d->n_nameservers > 3)
        return F("spec.dns.nameservers: at most 3");
    if (d->n_searches > 32)
        return F("spec.dns.searches: at most 32");
    if (d->n_options > 32)
        return F("spec.dns.options: at most 32");
    for (size_t i = 0; i < d->n_nameservers; i++) {
        unsigned char a[16];

        if (inet_pton(AF_INET, d->nameservers[i], a) != 1 &&
            inet_pton(AF_INET6, d->nameservers[i], a) != 1)
            return F("spec.dns.nameservers[%zu]: '%.60s' is not an IP address", i,
                     d->nameservers[i]);
    }
    for (size_t i = 0; i < d->n_searches; i++)
        if (!*d->searches[i] || strlen(d->searches[i]) > 253 || strpbrk(d->searches[i], " \t\n"))
            return F("spec.dns.searches[%zu]: not a domain", i);
    for (size_t i = 0; i < d->n_options; i++)
        if (!*d->options[i]->name || strpbrk(d->options[i]->name, " \t\n:") ||
            strpbrk(d->options[i]->value, " \t\n"))
            return F("spec.dns.options[%zu]: not a resolver option", i);
    return 0;
}

/* Kubernetes' safe sysctls (1.29): namespaced, and harmless to the node. */
static const char *const safe_sysctls[] = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
};

bool berth_spec_sysctl_safe(const char *name)
{
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(safe_sysctls); i++)
        if (strcmp(name, safe_sysctls[i]) == 0)
            return true;
    return false;
}

bool berth_env_field_path_valid(const char *p)
{
    static const char *const paths[] = { "metadata.name", "metadata.namespace", "metadata.uid",
                                         "spec.nodeName", "status.podIP",       "status.podIPs",
                                         "status.hostIP", "status.hostIPs" };
    size_t n = strlen(p);

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(paths); i++)
        if (strcmp(p, paths[i]) == 0)
            return true;
    /* metadata.labels['KEY'] */
    if (strncmp(p, "metadata.labels['", 17) == 0 && n > 19 && strcmp(p + n - 2, "']") == 0) {
        char key[128];

        snprintf(key, sizeof(key), "%.*s", (int)(n - 19), p + 17);
        return n - 19 < sizeof(key) && berth_label_key_valid(key);
    }
    return false;
}

static const char *spec_label(const berth_spec *s, const char *key)
{
    for (size_t i = 0; i < s->n_labels; i++)
        if (strcmp(s->labels[i]->key, key) == 0)
            return s->labels[i]->value;
    return NULL;
}

int berth_env_ref_value(const EnvFieldRef *ref, const berth_env_facts *f, const ContainerSpec *self,
                        ContainerSpec *const *pod, size_t n, char *buf, size_t size,
                        berth_error **err)
{
    const char *p = ref->field_path, *v = "";

    if (*p) {
        if (strcmp(p, "metadata.name") == 0)
            v = f->pod;
        else if (strcmp(p, "metadata.namespace") == 0)
            v = f->namespace_;
        else if (strcmp(p, "metadata.uid") == 0)
            v = f->uid;
        else if (strcmp(p, "spec.nodeName") == 0)
            v = f->node;
        else if (strncmp(p, "status.podIP", 12) == 0)
            v = f->pod_ip;
        else if (strncmp(p, "status.hostIP", 13) == 0)
            v = f->host_ip;
        else if (strncmp(p, "metadata.labels['", 17) == 0) {
            char key[128];

            snprintf(key, sizeof(key), "%.*s", (int)(strlen(p) - 19), p + 17);
            v = spec_label(self, key);
        }
        snprintf(buf, size, "%s", v ? v : "");
        return 0;
    }
    {
        const ContainerSpec *c = self;
        const Resources *r;
        bool cpu = strstr(ref->resource, "cpu") != NULL;
        bool limit = strncmp(ref->resource, "limits.", 7) == 0;
        int64_t value, div = ref->divisor > 0 ? ref->divisor : cpu ? 1000 : 1;

        if (*ref->container_name) {
            const char *own = self->pod ? self->pod->name : spec_label(self, "berth.container");

            c = own && strcmp(own, ref->container_name) == 0 ? self : NULL;
            for (size_t i = 0; i < n && !c; i++)
                if (pod[i]->pod && strcmp(pod[i]->pod->name, ref->container_name) == 0)
                    c = pod[i];
            if (!c)
                return F("env %s: resourceFieldRef: no container %s in the pod", ref->name,
                         ref->container_name);
        }
        r = c->resources;
        if (cpu)
            value = limit ? (r && r->cpu_millis ? r->cpu_millis : f->node_cpu_millis)
                          : (r ? r->cpu_request_millis : 0);
        else
            value = limit ? (r && r->memory_bytes ? r->memory_bytes : f->node_memory_bytes)
                          : (r ? r->memory_request_bytes : 0);
        /* Kubernetes rounds up to the divisor */
        snprintf(buf, size, "%lld", (long long)((value + div - 1) / div));
    }
    return 0;
}

void berth_spec_env_put(berth_spec *s, char *const *env, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(env[i], '=');
        size_t len = eq ? (size_t)(eq - env[i]) : strlen(env[i]);
        bool done = false;

        for (size_t k = 0; k < s->n_env && !done; k++)
            if (strncmp(s->env[k], env[i], len) == 0 && s->env[k][len] == '=') {
                /* a value may be a Secret's */
                explicit_bzero(s->env[k], strlen(s->env[k]));
                free(s->env[k]);
                s->env[k] = berth_xstrdup(env[i]);
                done = true;
            }
        if (!done) {
            s->env = berth_xreallocarray(s->env, s->n_env + 1, sizeof(*s->env));
            s->env[s->n_env++] = berth_xstrdup(env[i]);
        }
    }
}

static int validate_security(const berth_spec *s, berth_error **err)
{
    if (s->n_sysctls > 32)
        return F("spec.sysctls: %zu, at most 32", s->n_sysctls);
    for (size_t i = 0; i < s->n_sysctls; i++) {
        const Sysctl *c = s->sysctls[i];
        size_t n = strlen(c->value);

        if (!berth_spec_sysctl_safe(c->name))
            return F("spec.sysctls[%zu]: '%.80s' is not one of the safe sysctls berth sets", i,
                     c->name);
        if (n == 0 || n > 256 || strchr(c->value, '\n'))
            return F("spec.sysctls[%zu].value: must be 1-256 characters on one line", i);
        if (s->network == NETWORK_HOST && strncmp(c->name, "net.", 4) == 0)
            return F("spec.sysctls[%zu]: %s would change the host's network", i, c->name);
    }
    if (s->n_env_refs > 256)
        return F("spec.env_refs: %zu, at most 256", s->n_env_refs);
    for (size_t i = 0; i < s->n_env_refs; i++) {
        const EnvFieldRef *r = s->env_refs[i];

        if (!*r->name || strchr(r->name, '='))
            return F("spec.env_refs[%zu].name: '%.60s' is not a variable name", i, r->name);
        if (*r->field_path ? !berth_env_field_path_valid(r->field_path)
                           : strcmp(r->resource, "limits.cpu") != 0 &&
                                 strcmp(r->resource, "limits.memory") != 0 &&
                                 strcmp(r->resource, "requests.cpu") != 0 &&
                                 strcmp(r->resource, "requests.memory") != 0)
            return F("spec.env_refs[%zu]: '%.60s%.60s' is no field or resource berth fills in", i,
                     r->field_path, r->resource);
        if (r->divisor < 0)
            return F("spec.env_refs[%zu].divisor: must not be negative", i);
    }
    if (s->n_env_key_refs > 256 || s->n_env_from > 32 || s->n_image_pull_secrets > 16)
        return F("spec: at most 256 env_key_refs, 32 env_from, 16 image_pull_secrets");
    for (size_t i = 0; i < s->n_env_key_refs; i++) {
        const EnvKeyRef *r = s->env_key_refs[i];

        if (!*r->name || strchr(r->name, '='))
            return F("spec.env_key_refs[%zu].name: '%.60s' is not a variable name", i, r->name);
        if ((r->kind != CONFIG_SECRET && r->kind != CONFIG_MAP) ||
            !berth_workload_name_valid(r->object) || !berth_config_key_valid(r->key))
            return F("spec.env_key_refs[%zu]: a Secret's or ConfigMap's key by name", i);
    }
    for (size_t i = 0; i < s->n_env_from; i++) {
        const EnvFromSource *e = s->env_from[i];

        if ((e->kind != CONFIG_SECRET && e->kind != CONFIG_MAP) ||
            !berth_workload_name_valid(e->object) || strchr(e->prefix, '='))
            return F("spec.env_from[%zu]: a Secret or ConfigMap by name, a prefix without '='", i);
    }
    for (size_t i = 0; i < s->n_image_pull_secrets; i++)
        if (!berth_workload_name_valid(s->image_pull_secrets[i]))
            return F("spec.image_pull_secrets[%zu]: '%.70s' is not a Secret's name", i,
                     s->image_pull_secrets[i]);
    if (*s->termination_message_path &&
        (!path_clean(s->termination_message_path) || strcmp(s->termination_message_path, "/") == 0))
        return F("spec.termination_message_path: '%.80s' must be an absolute, normalised path",
                 s->termination_message_path);
    if (s->privileged && s->user_namespace && s->user_namespace->enabled)
        return F("spec.privileged: not in a user namespace");
    if (s->seccomp == SECCOMP_LOCALHOST) {
        char abs[BERTH_SPEC_PATH_MAX + 2];

        snprintf(abs, sizeof(abs), "/%s", s->seccomp_profile);
        if (!*s->seccomp_profile || s->seccomp_profile[0] == '/' || !path_clean(abs))
            return F("spec.seccomp_profile: '%.80s' is not a relative, normalised path",
                     s->seccomp_profile);
    } else if (*s->seccomp_profile) {
        return F("spec.seccomp_profile: only with seccomp Localhost");
    }
    return 0;
}

static int validate_userns(const UserNamespace *u, berth_error **err)
{
    if (!u || !u->enabled) {
        if (u && (u->n_uid_maps || u->n_gid_maps))
            return F("spec.user_namespace: maps given but enabled is false");
        return 0;
    }
    if (u->n_uid_maps == 0 || u->n_gid_maps == 0)
        return F("spec.user_namespace: enabled needs at least one uid map and one gid map");
    /* The kernel takes a map in one write of less than a page. */
    if (u->n_uid_maps > 64 || u->n_gid_maps > 64)
        return F("spec.user_namespace: at most 64 maps each");
    for (int k = 0; k < 2; k++) {
        IdMap **maps = k ? u->gid_maps : u->uid_maps;
        size_t n = k ? u->n_gid_maps : u->n_uid_maps;

        for (size_t i = 0; i < n; i++)
            if (maps[i]->size == 0 ||
                (uint64_t)maps[i]->container_id + maps[i]->size > UINT32_MAX ||
                (uint64_t)maps[i]->host_id + maps[i]->size > UINT32_MAX)
                return F("spec.user_namespace.%s[%zu]: size must be > 0 and the range within 32 "
                         "bits",
                         k ? "gid_maps" : "uid_maps", i);
    }
    return 0;
}

/* A header name: an HTTP token; a value: printable, no line breaks. */
static bool header_ok(const HttpHeader *h)
{
    size_t n = strlen(h->name);

    if (n == 0 || n > 256 || strlen(h->value) > 4096)
        return false;
    for (const char *c = h->name; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("!#$%&'*+-.^_`|~", *c))
            return false;
    for (const char *c = h->value; *c; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t')
            return false;
    return true;
}

static int validate_probe(const Probe *p, const char *field, berth_error **err)
{
    if (!p)
        return 0;
    switch (p->action_case) {
    case PROBE_ACTION_EXEC:
        if (p->exec->n_command == 0 || !*p->exec->command[0])
            return F("spec.%s.exec.command: must not be empty", field);
        if (p->exec->n_command > BERTH_SPEC_ARGS_MAX)
            return F("spec.%s.exec.command: too many arguments", field);
        break;
    case PROBE_ACTION_TCP:
        if (p->tcp->port == 0 || p->tcp->port > 65535)
            return F("spec.%s.tcp.port: %" PRIu32 " is not a port (1..65535)", field, p->tcp->port);
        break;
    case PROBE_ACTION_HTTP_GET: {
        struct in_addr a;
        const HttpGetAction *h = p->http_get;

        if (h->port == 0 || h->port > 65535)
            return F("spec.%s.http_get.port: %" PRIu32 " is not a port (1..65535)", field, h->port);
        if (*h->path && (h->path[0] != '/' || strlen(h->path) > 2048 || strpbrk(h->path, " \r\n")))
            return F("spec.%s.http_get.path: must start with '/', without spaces, at most 2048",
                     field);
        if (*h->host && inet_pton(AF_INET, h->host, &a) != 1)
            return F("spec.%s.http_get.host: '%.64s' is not an IPv4 address", field, h->host);
        if (h->n_headers > 64)
            return F("spec.%s.http_get.headers: at most 64", field);
        for (size_t i = 0; i < h->n_headers; i++)
            if (!header_ok(h->headers[i]))
                return F("spec.%s.http_get.headers[%zu]: not a valid header", field, i);
        break;
    }
    case PROBE_ACTION_SLEEP:
        /* a hook's, never a probe's */
        if (strncmp(field, "lifecycle.", 10) != 0)
            return F("spec.%s: sleep is for lifecycle hooks only", field);
        if (p->sleep->seconds < 0 || p->sleep->seconds > 3600)
            return F("spec.%s.sleep.seconds: %" PRId64 " is out of range (0..3600)", field,
                     p->sleep->seconds);
        break;
    default:
        return F("spec.%s: needs exec, tcp or http_get", field);
    }
    if (p->initial_delay_ms < 0 || p->period_ms < 0 || p->timeout_ms < 0 ||
        p->failure_threshold < 0 || p->success_threshold < 0)
        return F("spec.%s: delays, periods and thresholds must not be negative", field);
    return 0;
}

int berth_spec_validate(const berth_spec *s, berth_error **err)
{
    size_t argv_bytes = 0;

    if (!berth_spec_id_valid(s->id))
        return F("spec.id: '%s' is not a valid id (1-255 of a-z 0-9 _ . -, starting with a letter "
                 "or digit)",
                 s->id);
    if (*s->rootfs && *s->image)
        return F("spec: rootfs and image are exclusive");
    if (!*s->rootfs && !*s->image)
        return F("spec: one of rootfs and image is required");
    if (*s->rootfs && !path_clean(s->rootfs))
        return F("spec.rootfs: '%s' must be an absolute, normalised path", s->rootfs);
    if (*s->image && !berth_spec_image_name_valid(s->image)) {
        _cleanup_(berth_image_ref_freep) berth_image_ref *ref = NULL;

        if (berth_image_ref_parse(s->image, &ref, err) < 0)
            return berth_error_prefix(err, "spec.image");
    }
    if ((unsigned)s->image_pull_policy > PULL_NEVER)
        return F("spec.image_pull_policy: %d is not a policy", (int)s->image_pull_policy);
    /* With an image, its config may give the command (berth_spec_effective). */
    if ((*s->rootfs || s->n_command > 0) && (s->n_command == 0 || !*s->command[0]))
        return F("spec.command: must not be empty");
    if (s->n_command + s->n_args > BERTH_SPEC_ARGS_MAX)
        return F("spec.args: %zu arguments, at most %d", s->n_command + s->n_args,
                 BERTH_SPEC_ARGS_MAX);
    for (size_t i = 0; i < s->n_command; i++)
        argv_bytes += strlen(s->command[i]) + 1;
    for (size_t i = 0; i < s->n_args; i++)
        argv_bytes += strlen(s->args[i]) + 1;
    if (s->n_env > BERTH_SPEC_ENV_MAX)
        return F("spec.env: %zu variables, at most %d", s->n_env, BERTH_SPEC_ENV_MAX);
    for (size_t i = 0; i < s->n_env; i++) {
        const char *eq = strchr(s->env[i], '=');

        if (!eq || eq == s->env[i])
            return F("spec.env[%zu]: '%s' is not NAME=value", i, s->env[i]);
        argv_bytes += strlen(s->env[i]) + 1;
    }
    if (argv_bytes > BERTH_SPEC_ARGV_BYTES)
        return F("spec: command, args and env take %zu bytes, at most %d", argv_bytes,
                 BERTH_SPEC_ARGV_BYTES);
    if (*s->working_dir && !path_clean(s->working_dir))
        return F("spec.working_dir: '%s' must be an absolute, normalised path", s->working_dir);
    if (*s->hostname && validate_hostname(s->hostname, err) < 0)
        return -1;
    if (validate_resources(s->resources, err) < 0 || validate_mounts(s, err) < 0 ||
        validate_devices(s, err) < 0)
        return -1;
    if (s->network != NETWORK_NONE && s->network != NETWORK_HOST)
        return F("spec.network: unknown network mode %d", (int)s->network);
    if (s->seccomp != SECCOMP_DEFAULT && s->seccomp != SECCOMP_UNCONFINED &&
        s->seccomp != SECCOMP_LOCALHOST)
        return F("spec.seccomp: unknown seccomp mode %d", (int)s->seccomp);
    if (validate_security(s, err) < 0)
        return -1;
    {
        uint64_t caps;
        if (berth_spec_caps(s, &caps, err) < 0)
            return -1;
    }
    if (s->n_rlimits > 16)
        return F("spec.rlimits: at most 16");
    for (size_t i = 0; i < s->n_rlimits; i++) {
        int res;

        if (berth_rlimit_parse(s->rlimits[i]->type, &res, err) < 0)
            return berth_error_prefix(err, "spec.rlimits[%zu].type", i);
        if (s->rlimits[i]->soft > s->rlimits[i]->hard)
            return F("spec.rlimits[%zu]: soft limit %" PRIu64 " is above the hard limit %" PRIu64,
                     i, s->rlimits[i]->soft, s->rlimits[i]->hard);
    }
    if (s->user && s->user->n_additional_gids > 64)
        return F("spec.user.additional_gids: at most 64");
    if (validate_userns(s->user_namespace, err) < 0)
        return -1;
    if (s->restart_policy != RESTART_NEVER && s->restart_policy != RESTART_ON_FAILURE &&
        s->restart_policy != RESTART_ALWAYS)
        return F("spec.restart_policy: unknown policy %d", (int)s->restart_policy);
    if (s->restart_backoff) {
        const Backoff *b = s->restart_backoff;
        const int64_t day = 24 * 3600 * 1000LL;
        int64_t max = b->max_ms ? b->max_ms : 300000;

        /* Bounded, so that no delay arithmetic in nanoseconds overflows. */
        if (b->initial_ms < 0 || b->max_ms < 0 || b->reset_after_ms < 0 || b->initial_ms > day ||
            b->max_ms > day || b->reset_after_ms > day)
            return F("spec.restart_backoff: delays must be between 0 and 24h");
        if (b->initial_ms > max)
            return F("spec.restart_backoff.initial_ms: %" PRId64 " is above max_ms %" PRId64,
                     b->initial_ms, max);
    }
    if (s->stop_signal < 0 || s->stop_signal > 64)
        return F("spec.stop_signal: %d is not a signal number", s->stop_signal);
    if (s->stop_grace_ms < 0 || s->stop_grace_ms > 3600 * 1000)
        return F("spec.stop_grace_ms: %" PRId64 " is out of range (0..3600000)", s->stop_grace_ms);
    if (s->log_max_bytes != 0 && (s->log_max_bytes < 4096 || s->log_max_bytes > (INT64_C(1) << 40)))
        return F("spec.log_max_bytes: %" PRId64 " is out of range (4096..1Ti)", s->log_max_bytes);
    if (s->log_max_files < 0 || s->log_max_files > 100)
        return F("spec.log_max_files: %d is out of range (1..100)", s->log_max_files);
    if (validate_pod_member(s, err) < 0 || validate_host_ports(s, err) < 0 ||
        validate_dns(s->dns, err) < 0)
        return -1;
    if (s->lifecycle &&
        (validate_probe(s->lifecycle->post_start, "lifecycle.post_start", err) < 0 ||
         validate_probe(s->lifecycle->pre_stop, "lifecycle.pre_stop", err) < 0))
        return -1;
    if (validate_probe(s->liveness_probe, "liveness_probe", err) < 0 ||
        validate_probe(s->readiness_probe, "readiness_probe", err) < 0 ||
        validate_probe(s->startup_probe, "startup_probe", err) < 0)
        return -1;
    if (s->n_labels > 64)
        return F("spec.labels: at most 64");
    return 0;
}

int64_t berth_spec_stop_grace_ms(const berth_spec *s)
{
    return s->stop_grace_ms > 0 ? s->stop_grace_ms : 10000;
}

int berth_spec_stop_signal(const berth_spec *s)
{
    return s->stop_signal > 0 ? s->stop_signal : SIGTERM;
}

int64_t berth_spec_log_max_bytes(const berth_spec *s)
{
    return s->log_max_bytes > 0 ? s->log_max_bytes : 10LL << 20;
}

int berth_spec_log_max_files(const berth_spec *s)
{
    return s->log_max_files > 0 ? s->log_max_files : 5;
}

int berth_cpuset_validate(const char *list, const char *field, berth_error **err)
{
    const char *p = list;

    if (!*p)
        return F("%s: empty cpu list", field);
    while (*p) {
        unsigned long a, b;
        char *end;

        if (*p < '0' || *p > '9')
            goto bad;
        a = strtoul(p, &end, 10);
        p = end;
        b = a;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9')
                goto bad;
            b = strtoul(p, &end, 10);
            p = end;
        }
        if (b < a || b > 8191)
            goto bad;
        if (*p == ',' && p[1] != '\0')
            p++;
        else if (*p != '\0')
            goto bad;
    }
    return 0;
bad:
    return F("%s: '%s' is not a list like 0-3,6", field, list);
}

/* --- capabilities -------------------------------------------------------- */

/* The capabilities of linux/capability.h, by number. */
static const char *const cap_names[] = {
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
};

_Static_assert(BERTH_ARRAY_SIZE(cap_names) == CAP_LAST_CAP + 1, "a capability without a name");

int berth_cap_parse(const char *name, uint64_t *ret_mask, berth_error **err)
{
    const char *n = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;

    if (strcasecmp(name, "ALL") == 0) {
        *ret_mask = (UINT64_C(1) << BERTH_ARRAY_SIZE(cap_names)) - 1;
        return 0;
    }
    for (size_t i = 0; i < BERTH_ARRAY_SIZE(cap_names); i++)
        if (strcasecmp(n, cap_names[i]) == 0) {
            *ret_mask = UINT64_C(1) << i;
            return 0;
        }
    if (strlen(name) > 40)
        return F("capability '%.40s...' is unknown", name);
    return F("capability '%s' is unknown", name);
}

uint64_t berth_caps_default(void)
{
    static const int caps[] = { CAP_CHOWN,   CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER,
                                CAP_MKNOD,   CAP_NET_RAW,      CAP_SETGID,           CAP_SETUID,
                                CAP_SETFCAP, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
                                CAP_KILL,    CAP_AUDIT_WRITE };
    uint64_t m = 0;

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(caps); i++)
        m |= UINT64_C(1) << caps[i];
    return m;
}

int berth_spec_caps(const berth_spec *s, uint64_t *ret_mask, berth_error **err)
{
    uint64_t m = berth_caps_default(), c;

    if (s->privileged) {
        /* every capability there is, as Docker's --privileged */
        return berth_cap_parse("ALL", ret_mask, err);
    }
    if (!s->capabilities) {
        *ret_mask = m;
        return 0;
    }
    if (s->capabilities->n_drop > 64 || s->capabilities->n_add > 64)
        return F("spec.capabilities: at most 64 entries in add and drop");
    for (size_t i = 0; i < s->capabilities->n_drop; i++) {
        if (berth_cap_parse(s->capabilities->drop[i], &c, err) < 0)
            return berth_error_prefix(err, "spec.capabilities.drop[%zu]", i);
        m &= ~c;
    }
    for (size_t i = 0; i < s->capabilities->n_add; i++) {
        if (berth_cap_parse(s->capabilities->add[i], &c, err) < 0)
            return berth_error_prefix(err, "spec.capabilities.add[%zu]", i);
        m |= c;
    }
    *ret_mask = m;
    return 0;
}

/* --- rlimits ------------------------------------------------------------- */

int berth_rlimit_parse(const char *name, int *ret_resource, berth_error **err)
{
    static const struct {
        const char *name;
        int res;
    } table[] = {
        { "as", RLIMIT_AS },
        { "core", RLIMIT_CORE },
        { "cpu", RLIMIT_CPU },
        { "data", RLIMIT_DATA },
        { "fsize", RLIMIT_FSIZE },
        { "locks", RLIMIT_LOCKS },
        { "memlock", RLIMIT_MEMLOCK },
        { "msgqueue", RLIMIT_MSGQUEUE },
        { "nice", RLIMIT_NICE },
        { "nofile", RLIMIT_NOFILE },
        { "nproc", RLIMIT_NPROC },
        { "rss", RLIMIT_RSS },
        { "rtprio", RLIMIT_RTPRIO },
        { "rttime", RLIMIT_RTTIME },
        { "sigpending", RLIMIT_SIGPENDING },
        { "stack", RLIMIT_STACK },
    };
    const char *n = strncasecmp(name, "RLIMIT_", 7) == 0 ? name + 7 : name;

    for (size_t i = 0; i < BERTH_ARRAY_SIZE(table); i++) {
        if (strcasecmp(n, table[i].name) == 0) {
            *ret_resource = table[i].res;
            return 0;
        }
    }
    return F("rlimit '%s' is unknown (e.g. nofile, nproc, core)", name);
}

berth_pull_policy berth_spec_pull_policy(const berth_spec *spec)
{
    _cleanup_(berth_image_ref_freep) berth_image_ref *ref = NULL;

    switch (spec->image_pull_policy) {
    case PULL_ALWAYS:
        return BERTH_PULL_ALWAYS;
    case PULL_IF_NOT_PRESENT:
        return BERTH_PULL_IF_NOT_PRESENT;
    case PULL_NEVER:
        return BERTH_PULL_NEVER;
    default:
        if (berth_image_ref_parse(spec->image, &ref, NULL) < 0)
            return BERTH_PULL_ALWAYS;
        return berth_image_ref_default_policy(ref);
    }
}

/* *dst (n of them, malloc'd as protobuf-c frees them) becomes a copy of
 * src. */
static void strv_set(char ***dst, size_t *n, char *const *src, size_t n_src)
{
    for (size_t i = 0; i < *n; i++)
        free((*dst)[i]);
    free(*dst);
    *dst = n_src ? berth_xcalloc(n_src, sizeof(**dst)) : NULL;
    for (size_t i = 0; i < n_src; i++)
        (*dst)[i] = berth_xstrdup(src[i]);
    *n = n_src;
}

/* Whether env (n entries) sets the variable of entry e. */
static bool env_has(char *const *env, size_t n, const char *e)
{
    size_t len = strcspn(e, "=");

    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], e, len) == 0 && env[i][len] == '=')
            return true;
    return false;
}

int berth_spec_effective(const berth_spec *spec, const ImageConfig *img, berth_spec **ret,
                         berth_error **err)
{
    berth_spec *e;

    if (img && img->n_layers == 0)
        return berth_error_set(err, EINVAL, "image %s has no layers: nothing to run",
                               img->reference);
    e = BERTH_PB_COPY(berth_spec, spec);
    if (img) {
        /* Kubernetes: command replaces Entrypoint and drops Cmd; args
         * replace Cmd. */
        if (spec->n_command == 0) {
            strv_set(&e->command, &e->n_command, img->entrypoint, img->n_entrypoint);
            if (spec->n_args == 0)
                strv_set(&e->args, &e->n_args, img->cmd, img->n_cmd);
            if (e->n_command == 0 && e->n_args > 0) {
                /* no Entrypoint: the first argument is the command */
                e->command = berth_xcalloc(1, sizeof(*e->command));
                e->command[0] = e->args[0];
                e->n_command = 1;
                memmove(e->args, e->args + 1, --e->n_args * sizeof(*e->args));
            }
        }
        if (img->n_env > 0) {
            size_t n = 0;
            char **env = berth_xcalloc(img->n_env + spec->n_env, sizeof(*env));

            for (size_t i = 0; i < img->n_env; i++)
                if (!env_has(spec->env, spec->n_env, img->env[i]))
                    env[n++] = berth_xstrdup(img->env[i]);
            for (size_t i = 0; i < spec->n_env; i++)
                env[n++] = berth_xstrdup(spec->env[i]);
            strv_set(&e->env, &e->n_env, env, n);
            for (size_t i = 0; i < n; i++)
                free(env[i]);
            free(env);
        }
        if (!*spec->working_dir && *img->working_dir) {
            /* unset, it is protobuf-c's shared empty string */
            if (e->working_dir != protobuf_c_empty_string)
                free(e->working_dir);
            e->working_dir = berth_xstrdup(img->working_dir);
        }
        if (*img->user && (!spec->user || spec->user->image_uid || spec->user->image_gid)) {
            if (!img->user_resolved) {
                BERTH_PB_FREE(e);
                return berth_error_set(err, EINVAL, "image %s: user %s: %s", img->reference,
                                       img->user, *img->user_error ? img->user_error : "unknown");
            }
            if (!e->user) {
                e->user = berth_xcalloc(1, sizeof(*e->user));
                user_init(e->user);
                e->user->image_uid = e->user->image_gid = true;
            }
            if (e->user->image_uid)
                e->user->uid = img->uid;
            if (e->user->image_gid)
                e->user->gid = e->user->uid == img->uid ? img->gid : 0;
            /* the image user's groups, when the user is the image's */
            if (e->user->uid == img->uid && e->user->n_additional_gids == 0 &&
                img->n_additional_gids > 0) {
                e->user->additional_gids =
                    berth_xcalloc(img->n_additional_gids, sizeof(*e->user->additional_gids));
                memcpy(e->user->additional_gids, img->additional_gids,
                       img->n_additional_gids * sizeof(*img->additional_gids));
                e->user->n_additional_gids = img->n_additional_gids;
            }
        }
        if (e->user)
            e->user->image_uid = e->user->image_gid = false;
        if (spec->stop_signal == 0 && img->stop_signal > 0)
            e->stop_signal = img->stop_signal;
    }
    if (e->n_command == 0) {
        BERTH_PB_FREE(e);
        if (img)
            return berth_error_set(err, EINVAL,
                                   "spec.command: image %s has no Entrypoint or Cmd, and the "
                                   "spec gives no command",
                                   img->reference);
        return berth_error_set(err, EINVAL,
                               "spec.command: must not be empty (image %s is a "
                               "directory image: it has no Entrypoint or Cmd)",
                               spec->image);
    }
    if (berth_spec_validate(e, err) < 0) {
        BERTH_PB_FREE(e);
        return -1;
    }
    *ret = e;
    return 0;
}

bool berth_spec_dir_image(const char *store, const char *image)
{
    char path[PATH_MAX];
    struct stat st;

    if (!berth_spec_image_name_valid(image) || berth_image_store_reserved_name(image))
        return false;
    snprintf(path, sizeof(path), "%s/%s", store, image);
    return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
