#!/usr/bin/env python3
"""Fold `perf script` output into stacks and draw them as a flame graph.

    perf script -i perf.data | flamegraph.py OUT_PREFIX [TITLE]

writes OUT_PREFIX.folded (one "frame;frame;... count" line per distinct
stack, the format Brendan Gregg's FlameGraph tools read) and OUT_PREFIX.svg
(a flame graph: the root at the bottom, each frame as wide as the samples
it was on the stack for; hover for names and shares), without the idle
loop (swapper). Debian packages no flame graph tool; this is the least of
one, for tests/bench/profile.sh.
"""
import collections
import html
import sys
import zlib

MAX_DEPTH = 48


def fold(lines):
    """perf script's records: a header line (comm pid ... event:), then
    one frame per line (address symbol (dso)), innermost first, then a
    blank line."""
    stacks = collections.Counter()
    comm, frames = None, []

    def flush():
        # the idle loop: how idle the machine was is in the report
        if comm is not None and comm != "swapper":
            # a broken unwind can run hundreds deep: the outer frames tell
            stacks[";".join([comm] + frames[::-1][:MAX_DEPTH])] += 1

    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            comm, frames = None, []
            continue
        if not line[0].isspace():
            flush()
            comm, frames = line.split()[0], []
            continue
        parts = line.split(None, 1)
        sym = parts[1] if len(parts) > 1 else parts[0]
        # "sym+0x1a (dso)" -> "sym"; unknown symbols keep their dso
        dso = ""
        if sym.endswith(")") and " (" in sym:
            sym, dso = sym.rsplit(" (", 1)
            dso = dso[:-1].rsplit("/", 1)[-1]
        sym = sym.split("+0x", 1)[0]
        if sym in ("[unknown]", ""):
            sym = "[%s]" % dso if dso else "[unknown]"
        elif dso.startswith("kernel.kallsyms") or dso.startswith("[kernel"):
            sym += "_[k]"
        frames.append(sym.replace(";", ":"))
    flush()
    return stacks


def color(name):
    h = zlib.crc32(name.encode())
    if name.endswith("_[k]"):
        return "rgb(%d,%d,%d)" % (200 + h % 55, 120 + (h >> 8) % 60, 40)
    return "rgb(%d,%d,%d)" % (220 + h % 35, 90 + (h >> 8) % 110, 50 + (h >> 16) % 50)


def draw(stacks, title, width=1600, row=16):
    root = {"n": 0, "kids": {}}
    for stack, count in stacks.items():
        node = root
        node["n"] += count
        for frame in stack.split(";"):
            node = node["kids"].setdefault(frame, {"n": 0, "kids": {}})
            node["n"] += count

    def depth(node):
        return 1 + max((depth(k) for k in node["kids"].values()), default=0)

    total = root["n"] or 1
    rows = depth(root)
    height = (rows + 3) * row
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
        'font-family="monospace" font-size="11">' % (width, height),
        '<rect width="100%%" height="100%%" fill="#f8f8f0"/>',
        '<text x="%d" y="%d" text-anchor="middle" font-size="14">%s</text>'
        % (width // 2, row, html.escape(title)),
    ]
    scale = (width - 20) / total

    def walk(name, node, x, level):
        w = node["n"] * scale
        if w < 1.0:
            return
        y = height - (level + 1) * row - row
        share = 100.0 * node["n"] / total
        label = html.escape(name)
        out.append(
            '<g><title>%s (%d samples, %.2f%%)</title>'
            '<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" rx="1"/>'
            % (label, node["n"], share, x, y, w, row - 1, color(name))
        )
        chars = int(w / 7)
        if chars >= 3:
            text = name if len(name) <= chars else name[: chars - 2] + ".."
            out.append('<text x="%.1f" y="%d">%s</text>' % (x + 2, y + row - 4, html.escape(text)))
        out.append("</g>")
        for kid_name, kid in sorted(node["kids"].items()):
            walk(kid_name, kid, x, level + 1)
            x += kid["n"] * scale

    x = 10.0
    for name, node in sorted(root["kids"].items()):
        walk(name, node, x, 0)
        x += node["n"] * scale
    out.append("</svg>")
    return "\n".join(out)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: perf script | flamegraph.py OUT_PREFIX [TITLE]")
    prefix = sys.argv[1]
    title = sys.argv[2] if len(sys.argv) > 2 else prefix
    stacks = fold(sys.stdin)
    with open(prefix + ".folded", "w") as f:
        for stack, count in sorted(stacks.items()):
            f.write("%s %d\n" % (stack, count))
    with open(prefix + ".svg", "w") as f:
        f.write(draw(stacks, "%s (%d samples)" % (title, sum(stacks.values()))))


if __name__ == "__main__":
    main()
