/* The survey channel (SURVEYOR/RESPONDENT): the controller asks every node
 * the same question (a method call, e.g. berth.v1.Agent/Health) and takes
 * the answers that arrive before a deadline; the result names the nodes
 * that were expected and stayed silent.
 *
 * Questions are signed by the controller's key (broadcast: no session
 * fits them all); answers are sealed under each node's session with the
 * controller. Surveys run one at a time; a survey asked while one runs
 * waits its turn (its deadline counts from when it starts). The
 * respondent side is berth_rpc_respondent_new (server.h): it dispatches
 * questions to ordinary service handlers. */
#ifndef BERTH_RPC_SURVEY_H
#define BERTH_RPC_SURVEY_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "base/error.h"
#include "base/loop.h"

typedef struct berth_surveyor berth_surveyor;

typedef struct berth_survey_answer {
    berth_principal from;
    int code;                   /* a Code */
    char *message;              /* when not OK */
    ProtobufCMessage *response; /* OK: of the method's output type */
    int64_t latency_ns;         /* from the question's sending */
} berth_survey_answer;

typedef struct berth_survey_result {
    berth_survey_answer *answers; /* in arrival order, one per principal */
    size_t n_answers;
    berth_principal *missing; /* expected, did not answer in time */
    size_t n_missing;
} berth_survey_result;

/* Called once per survey from the loop. It may take pieces of the result
 * (setting them NULL); the rest is freed after it returns. */
typedef void (*berth_survey_done_fn)(berth_survey_result *result, void *data);

typedef struct berth_surveyor_stats {
    uint64_t surveys;
    uint64_t answers;
    uint64_t late;       /* answers to an earlier survey */
    uint64_t duplicates; /* a second answer from the same principal */
    uint64_t invalid;
} berth_surveyor_stats;

int berth_surveyor_new(berth_loop *loop, berth_auth *auth, berth_surveyor **ret_surveyor,
                       berth_error **err);
/* Surveys not finished complete now, with whatever answers they have. */
void berth_surveyor_free(berth_surveyor *sv);
int berth_surveyor_bind(berth_surveyor *sv, const char *addr, berth_error **err);

/* Ask svc/method with question (its input type) of every node, wait
 * timeout_ms (1..600000) for answers, then call done. expected (n_expected
 * principals, copied) are the nodes that should answer: the ones that
 * don't are listed as missing. */
int berth_surveyor_ask(berth_surveyor *sv, const ProtobufCServiceDescriptor *svc,
                       const char *method, const ProtobufCMessage *question, uint32_t timeout_ms,
                       const berth_principal *expected, size_t n_expected,
                       berth_survey_done_fn done, void *data, berth_error **err);

const berth_surveyor_stats *berth_surveyor_stats_of(const berth_surveyor *sv);

#endif
