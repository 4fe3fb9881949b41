/* How long an agent may stay silent while it cannot reach its controller:
 * berthd retries with exponential backoff, BERTH_AGENT_BACKOFF_MIN_MS
 * doubling to BERTH_AGENT_BACKOFF_MAX_MS, each wait +-20 % (jitter, so a
 * fleet does not call in step). The controller counts on the bound: when it
 * starts, a node it has not heard from yet may be in the middle of such a
 * wait, so its first lease lasts that long on top of the usual one. Shared
 * so that both sides agree. */
#ifndef BERTH_PROTOCOL_RETRY_H
#define BERTH_PROTOCOL_RETRY_H

#define BERTH_AGENT_BACKOFF_MIN_MS 1000
#define BERTH_AGENT_BACKOFF_MAX_MS 30000
/* The longest wait between two attempts, jitter included. */
#define BERTH_AGENT_RETRY_GAP_MAX_MS (BERTH_AGENT_BACKOFF_MAX_MS * 12 / 10)

#endif
