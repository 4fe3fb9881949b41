/* berthctl controller ls: the fleet's controllers, which one leads, and the
 * health of the store they share. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/quantity.h"
#include "berthctl.h"

static void controller_usage(FILE *out)
{
    fprintf(out,
            "Usage: berthctl controller ls\n"
            "\n"
            "The fleet's controllers: each member campaigning on its etcd (the leader first,\n"
            "the one that answered marked *), and each etcd member's health. With SQLite,\n"
            "the one controller.\n"
            "\n"
            "Options:\n"
            "  -h, --help   this help\n"
            "\n%s",
            berthctl_connection_help);
}

int berthctl_cmd_controller(berthctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const char *const mh[] = { "NAME", "ADDRESS", "ROLE" };
    static const char *const sh[] = {
        "ENDPOINT", "VERSION", "STATUS", "RAFT", "REVISION", "DB SIZE"
    };
    ListControllersRequest req = LIST_CONTROLLERS_REQUEST_INIT;
    ListControllersResponse *resp = NULL;
    berthctl_table *t;
    int o;

    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (o == 'h') {
            controller_usage(stdout);
            return 0;
        }
        controller_usage(stderr);
        return BERTHCTL_EXIT_USAGE;
    }
    if (optind >= argc || (strcmp(argv[optind], "ls") != 0 && strcmp(argv[optind], "list") != 0)) {
        berthctl_errorf("controller %s? ls", optind < argc ? argv[optind] : "");
        controller_usage(stderr);
        return BERTHCTL_EXIT_USAGE;
    }
    if (berthctl_connect_or_exit(ctx) != 0)
        return 1;
    if (berthctl_call(ctx, "ListControllers", &req.base, (ProtobufCMessage **)&resp) != 0)
        return 1;
    t = berthctl_table_new(3, mh);
    for (size_t i = 0; i < resp->n_members; i++) {
        const ControllerMember *m = resp->members[i];
        char name[96];
        const char *cells[3];

        snprintf(name, sizeof(name), "%s%s", m->name, m->self ? "*" : "");
        cells[0] = name;
        cells[1] = *m->rpc ? m->rpc : "-";
        cells[2] = m->leader ? "leader" : "follower";
        berthctl_table_add(t, cells, NULL);
    }
    berthctl_table_print(t, stdout);
    berthctl_table_free(t);
    printf("\nSTORE: %s\n", resp->store);
    if (resp->n_store_members) {
        t = berthctl_table_new(6, sh);
        for (size_t i = 0; i < resp->n_store_members; i++) {
            const StoreMember *m = resp->store_members[i];
            char rev[24], size[32];
            const char *cells[6];
            bool up = !*m->error;

            snprintf(rev, sizeof(rev), "%" PRId64, m->revision);
            cells[0] = m->endpoint;
            cells[1] = up ? m->version : "-";
            cells[2] = up ? "healthy" : "unreachable";
            cells[3] = !up ? "-" : m->raft_leader ? "leader" : "follower";
            cells[4] = up ? rev : "-";
            cells[5] = up ? berth_format_bytes_approx(m->db_size_bytes, size, sizeof(size)) : "-";
            berthctl_table_add(t, cells, NULL);
        }
        berthctl_table_print(t, stdout);
        berthctl_table_free(t);
        for (size_t i = 0; i < resp->n_store_members; i++)
            if (*resp->store_members[i]->error)
                printf("%s: %s\n", resp->store_members[i]->endpoint, resp->store_members[i]->error);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}
