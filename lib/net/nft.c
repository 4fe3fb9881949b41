/* berth's nftables table (nft.h), written as nft's own language and
 * handed to libnftables in one buffer: one transaction. */
#include "nft.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "netlink.h"

/* Run cmd as one nft transaction. */
static int run(const char *cmd, const char *what, berth_error **err)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    int r;

    if (!ctx)
        return berth_error_set(err, ENOMEM, "%s: no nftables context", what);
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    r = nft_run_cmd_from_buffer(ctx, cmd);
    if (r != 0) {
        const char *e = nft_ctx_get_error_buffer(ctx);
        size_t n = e ? strlen(e) : 0;

        while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
            n--;
        berth_error_set(err, EIO, "%s: nftables: %.*s", what, (int)(n > 400 ? 400 : n),
                        n ? e : "failed");
    }
    nft_ctx_free(ctx);
    return r != 0 ? -1 : 0;
}

/* A table or chain name nft takes as it is. */
static bool name_ok(const char *s)
{
    if (!*s || strlen(s) > 32)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
            return false;
    return true;
}

/* One rule a host port: to the node's own addresses (fib: any of them,
 * but loopback, whose traffic cannot leave for a pod), or host_ip's. */
static char *dnat_rules(const berth_nft_rules *r)
{
    char *text = berth_xstrdup(""), *next;

    for (size_t i = 0; i < r->n_dnat; i++) {
        const berth_nft_dnat *d = &r->dnat[i];
        char host[16], pod[16], match[64];

        if (d->host_ip)
            snprintf(match, sizeof(match), "ip daddr %s", berth_ipv4_str(d->host_ip, host));
        else
            snprintf(match, sizeof(match), "fib daddr type local ip daddr != 127.0.0.0/8");
        next = berth_xasprintf("%s    %s %s dport %u dnat to %s:%u\n", text, match,
                               d->udp ? "udp" : "tcp", d->host_port, berth_ipv4_str(d->pod_ip, pod),
                               d->pod_port);
        free(text);
        text = next;
    }
    return text;
}

int berth_nft_apply(const berth_nft_rules *r, berth_error **err)
{
    uint32_t a;
    int p;
    char *cmd, *dnat;
    int rc;

    if (!name_ok(r->table))
        return berth_error_set(err, EINVAL, "nftables table '%s': a-z 0-9 _ -, at most 32",
                               r->table);
    if (berth_cidr_parse(r->pod_cidr, false, &a, &p, err) < 0 ||
        berth_cidr_parse(r->cluster_cidr, false, &a, &p, err) < 0)
        return -1;
    /* add then delete: the table goes whether it was there or not, and the
     * new one replaces it in the same transaction */
    dnat = dnat_rules(r);
    cmd = berth_xasprintf("add table ip %1$s\n"
                          "delete table ip %1$s\n"
                          "table ip %1$s {\n"
                          "  chain postrouting {\n"
                          "    type nat hook postrouting priority srcnat; policy accept;\n"
                          "    ip saddr %2$s ip daddr != %3$s masquerade\n"
                          "  }\n"
                          "  chain prerouting {\n"
                          "    type nat hook prerouting priority dstnat; policy accept;\n"
                          "%4$s"
                          "  }\n"
                          "  chain output {\n"
                          "    type nat hook output priority -100; policy accept;\n"
                          "%4$s"
                          "  }\n"
                          "}\n",
                          r->table, r->pod_cidr, r->cluster_cidr, dnat);
    rc = run(cmd, "apply the pod network's rules", err);
    free(dnat);
    free(cmd);
    return rc;
}

int berth_nft_delete(const char *table, berth_error **err)
{
    char *cmd;
    int rc;

    if (!name_ok(table))
        return berth_error_set(err, EINVAL, "nftables table '%s': a-z 0-9 _ -, at most 32", table);
    cmd = berth_xasprintf("add table ip %1$s\ndelete table ip %1$s\n", table);
    rc = run(cmd, "delete the pod network's rules", err);
    free(cmd);
    return rc;
}
