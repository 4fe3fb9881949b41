#!/usr/bin/env python3
"""The phases of `berthctl run` starts, from `perf script -F comm,pid,time,event`
of tests/bench/profile.sh's uprobes (probe_berthctl:F, F__return) and syscall
and scheduler tracepoints: one table of medians over the runs.

A run is one berthctl process, from its exec to its exit; its container's
init is the process whose child_run probe fires during the run (the same pid
then execs the stub, the stub the command, and exits).
"""
import re
import statistics
import sys

LINE = re.compile(r"^\s*(.+?)\s+(\d+)\s+(?:\[\d+\]\s+)?(\d+\.\d+):\s+([\w:]+?):?\s*$")

# (label, process, start event, end event): the phase runs from the first
# start event to the first end event after it, both in that process
# ("P" the berthctl process, "C" the container's init).
PHASES = [
    ("berthctl starts (exec, loader, arguments)", "P", "exec", "probe_berthctl:berth_runtime_new"),
    ("runtime: cgroup driver, exec stub memfd", "P", "probe_berthctl:berth_runtime_new", "probe_berthctl:berth_runtime_new__return"),
    ("spec, signals, up to the start", "P", "probe_berthctl:berth_runtime_new__return", "probe_berthctl:berth_container_create"),
    ("cgroup made (limits, device rules)", "P", "probe_berthctl:berth_cgroup_create", "probe_berthctl:berth_cgroup_create__return"),
    ("plan, sync socket, up to the clone", "P", "probe_berthctl:berth_cgroup_create__return", "syscalls:sys_enter_clone3"),
    ("clone3 (new pid namespace)", "P", "syscalls:sys_enter_clone3", "syscalls:sys_exit_clone3"),
    ("the init first runs", "X", "syscalls:sys_exit_clone3", "probe_berthctl:child_run"),
    ("unshare mount, uts, ipc, net namespaces", "C", "syscalls:sys_enter_unshare", "syscalls:sys_exit_unshare"),
    ("mounts: root, /proc, /sys, /dev, masks, read-only paths", "C", "probe_berthctl:mount_prepare", "probe_berthctl:mount_prepare__return"),
    ("parent moves the init into its cgroup", "P", "probe_berthctl:berth_cgroup_enter", "probe_berthctl:berth_cgroup_enter__return"),
    ("cgroup filesystem, pivot_root", "C", "probe_berthctl:mount_finish", "probe_berthctl:mount_finish__return"),
    ("capabilities and user", "C", "probe_berthctl:caps_apply_and_switch_user", "probe_berthctl:caps_apply_and_switch_user__return"),
    ("seccomp filter loaded", "C", "probe_berthctl:seccomp_install", "probe_berthctl:seccomp_install__return"),
    ("exec stub: its exec, then the command's", "C", "syscalls:sys_enter_execveat", "syscalls:sys_enter_execve"),
    ("the command runs and exits (/bin/true)", "C", "syscalls:sys_enter_execve", "exit"),
    ("berthctl sees the exit", "Y", "exit", "probe_berthctl:berth_container_destroy"),
    ("container removed (cgroup)", "P", "probe_berthctl:berth_container_destroy", "probe_berthctl:berth_container_destroy__return"),
    ("berthctl exits", "P", "probe_berthctl:berth_container_destroy__return", "exit"),
    ("total: exec of berthctl to its exit", "P", "exec", "exit"),
    ("init setup: child_run to the stub's exec", "C", "probe_berthctl:child_run", "syscalls:sys_enter_execveat"),
]


def main():
    events = []
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        comm, pid, t, ev = m.group(1), int(m.group(2)), float(m.group(3)), m.group(4)
        if ev == "sched:sched_process_exec":
            ev = "exec"
        elif ev == "sched:sched_process_exit":
            ev = "exit"
        events.append((t, pid, comm, ev))
    events.sort()
    runs, current = [], None
    for t, pid, comm, ev in events:
        if ev == "exec" and comm == "berthctl":
            current = {"P": pid, "C": None, "ev": []}
            runs.append(current)
        if current is None:
            continue
        if ev == "probe_berthctl:child_run" and pid != current["P"] and current["C"] is None:
            current["C"] = pid
        current["ev"].append((t, pid, ev))
    table = {label: [] for label, *_ in PHASES}
    for run in runs:
        if run["C"] is None:
            continue
        for label, who, start, end in PHASES:
            pids = {"P": {run["P"]}, "C": {run["C"]}, "X": {run["P"], run["C"]},
                    "Y": {run["P"], run["C"]}}[who]
            t0 = next((t for t, pid, ev in run["ev"] if pid in pids and ev == start
                       and (who != "Y" or pid == run["C"])), None)
            if t0 is None:
                continue
            want = run["P"] if who == "Y" else None
            t1 = next((t for t, pid, ev in run["ev"] if t >= t0 and ev == end and pid in pids
                       and (want is None or pid == want)), None)
            if t1 is not None:
                table[label].append((t1 - t0) * 1e3)
    n = sum(1 for r in runs if r["C"] is not None)
    print("phases of `berthctl run --rootfs R -- /bin/true`, median over %d starts "
          "(uprobes add a microsecond or two per probe)" % n)
    print("  %-58s %8s %8s" % ("", "median", "p90"))
    for label, *_ in PHASES:
        v = sorted(table[label])
        if not v:
            print("  %-58s %8s" % (label, "-"))
            continue
        print("  %-58s %8.3f %8.3f ms" % (label, statistics.median(v), v[int(len(v) * 0.9)]))
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
