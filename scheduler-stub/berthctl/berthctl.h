/* berthctl: the operator's command line. One file per subcommand; each
 * only parses its flags, calls lib/, and prints. */
#ifndef BERTHCTL_H
#define BERTHCTL_H

/* Exit codes shared by the subcommands (docker's conventions for run). */
#define BERTHCTL_EXIT_USAGE    2
#define BERTHCTL_EXIT_RUNTIME  125 /* berth itself failed */
#define BERTHCTL_EXIT_NOEXEC   126 /* the command cannot be executed */
#define BERTHCTL_EXIT_NOTFOUND 127 /* the command was not found */

typedef struct berthctl_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} berthctl_command;

int berthctl_cmd_run(int argc, char **argv);
int berthctl_cmd_image(int argc, char **argv);

/* Print "berthctl: <msg>" to stderr. */
void berthctl_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
