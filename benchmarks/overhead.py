"""Recording overhead as ratios to the bare interpreter, measured in one run.

    python benchmarks/overhead.py [--pythons 3.12,3.13] [--repeat 5]

Modes, each a fresh process running benchmarks/workloads.py ``main()``:
  bare          no tracing
  floor         a pure-Python no-op callback for every event (the cheapest any pure-Python
                tracer can be: sys.monitoring on 3.12+, settrace below)
  null-sink     recorder with a sink that does nothing (the cost of the backends and the
                normaliser)
  events        recorder with a ``sink=callable`` receiving Event objects
  trace         full recording: the CodeTracer trace writer with ``values="full"`` (the
                CLI's default), streaming to a temporary directory
  trace-none    the same with ``values="none"``
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
elif mode in ("trace", "trace-none", "trace-notime"):
    import recorder, tempfile
    from recorder.formats import CodeTracerWriter
    out = tempfile.mkdtemp()
    values = "none" if mode == "trace-none" else "full"
    recorder.install(CodeTracerWriter(out, program="workloads", values=values,
                                      timing=mode != "trace-notime"), values=values)
clock = getattr(time, %(clock)r)
t0 = clock()
workloads.main()
t1 = clock()
if mode == "floor":
    if hasattr(sys, "monitoring"):
        sys.monitoring.set_events(4, 0); sys.monitoring.free_tool_id(4)
    else:
        sys.settrace(None)
elif mode != "bare":
    recorder.uninstall()
    if mode.startswith("trace"):  # a full recording is tens of MB: never leave it behind
        import shutil
        shutil.rmtree(out, ignore_errors=True)
print(t1 - t0)
"""


def run(python: str, mode: str, clock: str = "perf_counter") -> float:
    code = PROGRAM % {"here": HERE, "root": ROOT, "mode": mode, "clock": clock}
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.8,3.9,3.10,3.11,3.12,3.13")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--modes", default="bare,floor,null-sink,events,trace,trace-none")
    parser.add_argument("--cpu", action="store_true",
                        help="time the workload by the process's CPU time (time.process_time) "
                             "instead of wall time: less sensitive to other load on a shared "
                             "machine (the writer's file writes still count, as system time)")
    args = parser.parse_args()
    modes = args.modes.split(",")
    print("| python | " + " | ".join(m for m in modes if m != "bare") + " | bare s |")
    print("|---" * len(modes) + "|---|")
    for version in args.pythons.split(","):
        python = python_for(version)
        times = {m: [] for m in modes}
        for _ in range(args.repeat):  # interleave modes so drift hits them alike
            for mode in modes:
                times[mode].append(run(python, mode,
                                       "process_time" if args.cpu else "perf_counter"))
        bare = statistics.median(times["bare"])
        ratios = ["%.2f" % (statistics.median(times[m]) / bare) for m in modes if m != "bare"]
        print("| %s | %s | %.3f |" % (version, " | ".join(ratios), bare))


if __name__ == "__main__":
    main()
