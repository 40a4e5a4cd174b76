"""Start/stop/restart in one process: the tool id is released, and code skipped
(DISABLE) by the first session is recorded by a later one that includes it."""
import sys
import textwrap

SELF_INSTALL = True
EXTRA_FILES = {"textwrap.py"}


def work(n):
    return textwrap.dedent("  x") * n


def main():
    out = []
    for trace_stdlib in (False, True, False):
        RECORDER.start(trace_stdlib=trace_stdlib)  # noqa: F821 (set by the runner)
        out.append(work(len(out) + 1))
        RECORDER.stop()  # noqa: F821
        mon = getattr(sys, "monitoring", None)
        out.append(mon is None or all(mon.get_tool(t) is None for t in (3, 4)))
    return out
