/* What the lib/net integration tests share: each test in a network and
 * mount namespace of its own (check forks each test), a directory under
 * /tmp, pods' network namespaces bound at files there, and a shell. */
#ifndef BERTH_TEST_NETTEST_H
#define BERTH_TEST_NETTEST_H

#include <stddef.h>

/* The test's directory (nettest_setup makes it). */
extern char nettest_dir[64];

/* Enter new network and mount namespaces; make nettest_dir. */
void nettest_setup(void);
/* Unbind the pods' namespaces ("pod-a", "pod-b") and remove the directory. */
void nettest_teardown(void);
/* A pod's network namespace, bound at <dir>/<name>; its path in ret. */
void nettest_pod_netns(const char *name, char *ret, size_t size);
/* Run cmd (in the test's namespaces); its output in buf. */
void nettest_sh(const char *cmd, char *buf, size_t size);

#endif
