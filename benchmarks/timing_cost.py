"""The cost of the call/return time stamps, in instructions (docs/trace-format.md, "Time").

    python3 benchmarks/timing_cost.py [--pythons 3.8,3.11,3.12,3.13] [--values full,none]

Wall time on a shared machine moves by more than the few percent to measure (overhead.py's
``trace`` and ``trace-notime`` modes show it), so this counts the instructions a process
executes, with valgrind's callgrind (``apt-get install valgrind``): the same run gives the
same count whatever else the machine does. The writer's time-based flush is off
(``flush_seconds=1e9``), so nothing in the run depends on the clock.

For each interpreter and values mode, a recorded ``fib(n)`` for two n gives the instructions
of one recorded call (the difference, per call) and of one stamp (the difference between
``timing=True`` and ``timing=False``, per call and return): code made of tiny calls is the
worst case, every event is a call or a return. A loop (one call, many lines) shows the
other end. Not a test: timing goals live here, never in tests.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

from pythons import python_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PROGRAM = r"""
import sys, tempfile, shutil
sys.path[:0] = [%(here)r, %(root)r]
import workloads, recorder
from recorder.formats import CodeTracerWriter
out = tempfile.mkdtemp()
recorder.install(CodeTracerWriter(out, program="workloads", values=%(values)r,
                                  timing=%(timing)r, flush_seconds=1e9), values=%(values)r)
workloads.%(work)s
recorder.uninstall()
shutil.rmtree(out)
"""


def instructions(python: str, values: str, timing: bool, work: str) -> int:
    code = PROGRAM % {"here": HERE, "root": ROOT, "values": values, "timing": timing,
                      "work": work}
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           python, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONHASHSEED="0"))
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit("valgrind failed: %s" % done.stderr[-2000:])
    return int(found.group(1))


def calls(n: int) -> int:
    return 1 if n < 2 else 1 + calls(n - 1) + calls(n - 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.8,3.11,3.12,3.13")
    parser.add_argument("--values", default="full,none")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed (apt-get install valgrind)")
    print("| python | values | instructions per recorded call | per stamp | stamps on tiny "
          "calls | stamps on a loop |")
    print("|---|---|---|---|---|---|")
    small, big = 14, 19
    for version in args.pythons.split(","):
        python = python_for(version)
        for values in args.values.split(","):
            count = {(n, t): instructions(python, values, t, "fib(%d)" % n)
                     for n in (small, big) for t in (False, True)}
            n_calls = calls(big) - calls(small)
            per_call = (count[big, False] - count[small, False]) / n_calls
            per_stamp = ((count[big, True] - count[small, True])
                         - (count[big, False] - count[small, False])) / (2 * n_calls)
            loop = {t: instructions(python, values, t, "loop(20000)")
                    - instructions(python, values, t, "loop(2000)") for t in (False, True)}
            print("| %s | %s | %.0f | %.0f | +%.1f %% | %+.2f %% |" % (
                version, values, per_call, per_stamp, 200.0 * per_stamp / per_call,
                100.0 * (loop[True] - loop[False]) / loop[False]), flush=True)


if __name__ == "__main__":
    main()
