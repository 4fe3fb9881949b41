/* berthctl: dispatch to the subcommand. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "berthctl.h"

static const berthctl_command commands[] = {
    { "run", "run one container in the foreground, with no daemon", berthctl_cmd_run },
    { "image", "import, list and remove the node's images", berthctl_cmd_image },
};

void berthctl_errorf(const char *fmt, ...)
{
    va_list ap;

    fputs("berthctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: berthctl COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'berthctl COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return BERTHCTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        return commands[i].run(argc - 1, argv + 1);
    }
    berthctl_errorf("unknown command '%s' (see berthctl --help)", argv[1]);
    return BERTHCTL_EXIT_USAGE;
}
