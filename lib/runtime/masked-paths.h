/* Docker's masked and read-only paths of a container's /proc and /sys
 * (moby's oci/defaults.go): mount.c hides and restricts them, and the start
 * benchmark's floor (tests/bench/start/floor.c --full) does the same from
 * this one list. */
#ifndef BERTH_RUNTIME_MASKED_PATHS_H
#define BERTH_RUNTIME_MASKED_PATHS_H

static const char *const masked_paths[] = {
    "/proc/asound",      "/proc/acpi",          "/proc/interrupts", "/proc/kcore",
    "/proc/keys",        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
    "/proc/sched_debug", "/proc/scsi",          "/sys/firmware",    "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

#endif
