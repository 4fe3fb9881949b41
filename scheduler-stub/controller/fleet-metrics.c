/* The fleet's figures for /metrics (see fleet.h): read from memory, as
 * placement last left it. */
#include <stdio.h>

#include "fleet-internal.h"
#include "spec/workload.h"

void fleet_write_metrics(fleet *f, berth_prom *w)
{
    static const NodePhase phases[] = { NODE_READY, NODE_UNKNOWN, NODE_DOWN,
                                        NODE_PENDING_APPROVAL };
    const ProtobufCEnumDescriptor *kinds = &workload_kind_descriptor;
    uint64_t desired = 0, pending = 0;

    berth_prom_family(w, "berth_controller_nodes", BERTH_PROM_GAUGE,
                      "Nodes the controller knows, by phase.");
    for (size_t p = 0; p < BERTH_ARRAY_SIZE(phases); p++) {
        berth_prom_label l = { "phase", fleet_phase_name(phases[p]) };
        size_t n = 0;

        for (size_t i = 0; i < f->n_nodes; i++)
            n += f->nodes[i]->rec.phase == phases[p];
        berth_prom_sample_u64(w, &l, 1, n);
    }
    berth_prom_family(w, "berth_controller_workloads", BERTH_PROM_GAUGE,
                      "Workloads in the fleet, by kind.");
    for (unsigned k = 0; k < kinds->n_values; k++) {
        WorkloadKind kind = (WorkloadKind)kinds->values[k].value;
        berth_prom_label l = { "kind", berth_workload_kind_name(kind) };
        size_t n = 0;

        if (kind == WORKLOAD_KIND_UNSPECIFIED)
            continue;
        for (size_t i = 0; i < f->n_workloads; i++)
            n += f->workloads[i].w->kind == kind;
        berth_prom_sample_u64(w, &l, 1, n);
    }
    for (size_t i = 0; i < f->n_workloads; i++) {
        desired += f->workloads[i].place.desired;
        pending += f->workloads[i].place.unschedulable;
    }
    berth_prom_single(w, "berth_controller_replicas_desired", BERTH_PROM_GAUGE,
                      "Replicas the workloads want, as the last placement counted them.",
                      (double)desired);
    berth_prom_single(w, "berth_controller_replicas_pending", BERTH_PROM_GAUGE,
                      "Replicas wanted that no node could take at the last placement "
                      "(unschedulable).",
                      (double)pending);
    berth_prom_histogram_family(w, "berth_controller_placement_duration_seconds",
                                "How long each placement took (computed, committed, nodes "
                                "woken), in seconds.",
                                &f->place_seconds);
}
