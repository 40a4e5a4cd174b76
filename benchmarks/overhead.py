"""Recording overhead as ratios to the bare interpreter, measured in one run.

    python benchmarks/overhead.py [--pythons 3.12,3.13] [--repeat 5] [--workload objects] [--cpu]

Modes, each a fresh process running a function of benchmarks/workloads.py (``--workload``:
``main``, the default, or ``objects``, program objects with their own ``__repr__`` at every
Step):
  bare          no tracing
  floor         a pure-Python no-op callback for every event (the cheapest any pure-Python
                tracer can be: sys.monitoring on 3.12+, settrace below)
  null-sink     recorder with a sink that does nothing (the cost of the backends and the
                normaliser)
  events        recorder with a ``sink=callable`` receiving Event objects
  trace         full recording: the CodeTracer trace writer with ``values="full"`` (the
                CLI's default), streaming to a temporary directory
  trace-none    the same with ``values="none"``
  trace-steps-off  ``values="full"`` with ``steps="off"``: calls, returns, exceptions and I/O,
                no line events asked of the interpreter (not in the default --modes)
  trace-notime  ``trace`` without the call/return time stamps (``timing=False``), to
                price them (docs/trace-format.md, "Time")
Reported: the median of --repeat runs of the workload's wall time (start-up excluded; its
CPU time with --cpu), as a ratio to bare. Timing goals live here, never in tests.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
from typing import Dict, List, Tuple

from pythons import python_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PROGRAM = r"""
import sys, time
sys.path[:0] = [%(here)r, %(root)r]
import workloads
mode = %(mode)r
if mode == "floor":
    if hasattr(sys, "monitoring"):
        m = sys.monitoring; E = m.events
        def cb(*a): return None
        m.use_tool_id(4, "floor")
        for ev in (E.PY_START, E.PY_RETURN, E.LINE, E.PY_YIELD, E.PY_RESUME, E.RAISE, E.PY_UNWIND):
            m.register_callback(4, ev, cb)
        m.set_events(4, E.PY_START | E.PY_RETURN | E.LINE | E.PY_YIELD | E.PY_RESUME | E.RAISE | E.PY_UNWIND)
    else:
        def tr(frame, event, arg): return tr
        sys.settrace(tr)
elif mode in ("null-sink", "events", "null-sink-settrace"):
    import recorder
    class Null:
        wants_frames = False
        def emit(self, *args): pass
        def close(self): pass
    backend = "settrace" if mode.endswith("settrace") else None
    recorder.install(Null() if mode.startswith("null") else (lambda e: None), backend=backend)
elif mode in ("trace", "trace-none", "trace-steps-off", "trace-notime"):
    import recorder, tempfile
    from recorder.formats import CodeTracerWriter
    out = tempfile.mkdtemp()
    values = "none" if mode == "trace-none" else "full"
    steps = "off" if mode == "trace-steps-off" else "on"
    recorder.install(CodeTracerWriter(out, program="workloads", values=values, steps=steps,
                                      timing=mode != "trace-notime"), values=values)
clock = getattr(time, %(clock)r)
t0 = clock()
getattr(workloads, %(workload)r)()
t1 = clock()
if mode == "floor":
    if hasattr(sys, "monitoring"):
        sys.monitoring.set_events(4, 0); sys.monitoring.free_tool_id(4)
    else:
        sys.settrace(None)
elif mode != "bare":
    recorder.uninstall()
size = records = 0
if mode.startswith("trace"):
    import os
    path = os.path.join(out, "trace.json")
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        records = sum(1 for _ in fh) - 2  # one record per line between "[" and "]"
    import shutil
    shutil.rmtree(out)  # tens of MB per run: left behind, repeated runs fill the disk
print(t1 - t0, size, records)
"""


def run(python: str, mode: str, workload: str = "main",
        clock: str = "perf_counter") -> Tuple[float, int, int]:
    """(seconds, trace.json bytes, records) of one run; the sizes are 0 without a trace."""
    code = PROGRAM % {"here": HERE, "root": ROOT, "mode": mode, "workload": workload,
                      "clock": clock}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    seconds, size, records = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), int(size), int(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.8,3.9,3.10,3.11,3.12,3.13")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--modes", default="bare,floor,null-sink,events,trace,trace-none")
    parser.add_argument("--workload", default="main", choices=("main", "objects"))
    parser.add_argument("--cpu", action="store_true",
                        help="time the workload by the process's CPU time (time.process_time) "
                             "instead of wall time: less sensitive to other load on a shared "
                             "machine (the writer's file writes still count, as system time)")
    args = parser.parse_args()
    modes = args.modes.split(",")
    sized = [m for m in modes if m.startswith("trace")]
    print("| python | " + " | ".join(m for m in modes if m != "bare") + " | bare s | "
          + "".join("%s bytes/record | " % m for m in sized))
    print("|---" * (len(modes) + len(sized)) + "|---|")
    for version in args.pythons.split(","):
        python = python_for(version)
        runs: Dict[str, List[Tuple[float, int, int]]] = {m: [] for m in modes}
        for _ in range(args.repeat):  # interleave modes so drift hits them alike
            for mode in modes:
                runs[mode].append(run(python, mode, args.workload,
                                      "process_time" if args.cpu else "perf_counter"))
        bare = statistics.median(r[0] for r in runs["bare"])
        ratios = ["%.2f" % (statistics.median(r[0] for r in runs[m]) / bare)
                  for m in modes if m != "bare"]
        sizes = ["%.0f" % (runs[m][0][1] / max(runs[m][0][2], 1)) for m in sized]
        print("| %s | %s | %.3f | %s" % (version, " | ".join(ratios), bare,
                                         "".join(s + " | " for s in sizes)))


if __name__ == "__main__":
    main()
