/* Fuzz target: berthd's configuration file (agent/berthd/agent-config.c, compiled
 * into the target: it is not a library). The input is agent.yaml's text;
 * it goes through what berthd does at start: defaults, the file over them,
 * then the checks of the whole. A failed parse must leave the defaults
 * intact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    agent_config cfg;
    berth_error *err = NULL;

    if (agent_config_defaults(&cfg, &err) < 0) {
        fprintf(stderr, "fuzz_agent_config: %s\n", err->msg);
        abort();
    }
    if (agent_config_parse(&cfg, "agent.yaml", (const char *)data, size, &err) < 0) {
        /* "Nothing of cfg changes when the file has an error." */
        if (!err || strcmp(cfg.state_dir, "/var/lib/berth/agent") != 0 || cfg.n_labels ||
            cfg.n_operators || cfg.controller_address)
            abort();
        berth_error_free(&err);
    } else {
        agent_config_finish(&cfg, &err);
        berth_error_free(&err);
    }
    agent_config_free(&cfg);
    return 0;
}
