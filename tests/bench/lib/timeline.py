#!/usr/bin/env python3
"""berthctl run against the kernel floors, mark by mark, from `perf script -F
comm,pid,time,event,trace` of tests/bench/profile.sh's timeline recording
(scheduler and syscall tracepoints only: no uprobes, so each program runs
as it does unobserved).

A run starts at the exec of berthctl or bench-start-floor; the recording
runs the three programs in turn (the labels on the command line, in that
order), so every third run is the same program. A run has these marks, each timed from the one
before: the parent's clone3 (entry and return), the child's pivot_root, the
command's execve, the command's exit, the parent's exit. Prints the medians
per program and argument set (the first word after the program tells the
floor's --full from the plain one).
"""
import re
import statistics
import sys

LINE = re.compile(r"^\s*(.+?)\s+(\d+)\s+(?:\[\d+\]\s+)?(\d+\.\d+):\s+([\w:]+):\s*(.*)$")
MARKS = [
    ("clone3", "from the exec to the clone"),
    ("clone3_ret", "the clone"),
    ("pivot_root", "the child: namespaces, mounts, up to pivot_root"),
    ("exec_cmd", "pivot_root to the command's exec"),
    ("cmd_exit", "the command runs and exits"),
    ("parent_exit", "the parent sees it, cleans up, exits"),
]


def main():
    labels = sys.argv[1:]  # one label per run, in the order the runs happen
    runs, cur = [], None
    for line in sys.stdin:
        m = LINE.match(line)
        if not m:
            continue
        comm, pid, t, ev, rest = m.group(1), int(m.group(2)), float(m.group(3)), m.group(4), m.group(5)
        if ev == "sched:sched_process_exec" and re.search(r"filename=\S*(berthctl|bench-start-floor)\b", rest):
            cur = {"P": pid, "t0": t, "got": {}, "child": None}
            runs.append(cur)
            continue
        if cur is None:
            continue
        got, P = cur["got"], cur["P"]
        if ev == "syscalls:sys_enter_clone3" and pid == P:
            got.setdefault("clone3", t)
        elif ev == "syscalls:sys_exit_clone3" and pid == P:
            got.setdefault("clone3_ret", t)
        elif ev == "syscalls:sys_exit_clone3" and pid != P and cur["child"] is None:
            cur["child"] = pid
        elif ev == "syscalls:sys_enter_pivot_root" and pid == cur["child"]:
            got.setdefault("pivot_root", t)
        elif ev == "syscalls:sys_enter_execve" and pid == cur["child"] and "pivot_root" in got:
            got.setdefault("exec_cmd", t)
        elif ev == "sched:sched_process_exit" and pid == cur["child"]:
            got.setdefault("cmd_exit", t)
        elif ev == "sched:sched_process_exit" and pid == P:
            got.setdefault("parent_exit", t)
    if len(labels) != 3:
        print("timeline.py LABEL... (one per program, in the order they ran)", file=sys.stderr)
        return 2
    # the recording runs the three in turn, RUNS times
    per = len(runs) // 3
    groups = [runs[i:3 * per:3] for i in range(3)]
    table = []
    for label, group in zip(labels, groups):
        col = []
        for key, _ in MARKS:
            v = []
            for r in group:
                prev = r["t0"]
                ok = True
                for k, _ in MARKS:
                    if k not in r["got"]:
                        ok = False
                        break
                    if k == key:
                        v.append((r["got"][k] - prev) * 1e3)
                        break
                    prev = r["got"][k]
                if not ok:
                    continue
            col.append(statistics.median(v) if v else float("nan"))
        col.append(sum(col))
        tot = [r["got"]["parent_exit"] - r["t0"] for r in group if len(r["got"]) == len(MARKS)]
        col.append(statistics.median(tot) * 1e3 if tot else float("nan"))
        table.append((label, col, len(group)))
    print("start, mark by mark (medians of %d runs each, ms; perf tracepoints)" % per)
    print("  %-50s" % "" + "".join("%14s" % l[:13] for l, _, _ in table))
    rows = MARKS + [("sum", "sum of the medians above"),
                    ("total", "exec to exit, median of the runs' own")]
    for i, (_, what) in enumerate(rows):
        print("  %-50s" % what + "".join("%14.3f" % c[i] for _, c, _ in table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
