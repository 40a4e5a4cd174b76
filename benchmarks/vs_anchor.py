"""Whole-process wall time and peak RSS: bare Python, our recorder, and the anchor.

    python3 benchmarks/vs_anchor.py [--pythons 3.12,3.13] [--repeat 3] [--workloads ...]

For each interpreter and CPU-bound workload (a standalone script, written to a temporary
directory) it runs, interleaved, ``--repeat`` times each:

  bare         python script.py
  ours         python -m recorder -o DIR script.py               (default: --values full)
  ours-none    python -m recorder --values none -o DIR script.py
  anchor       python -m codetracer_python_recorder --format json --trace-dir DIR script.py
               (codetracer-python-recorder 0.3.0 in a venv of the same interpreter, made
               under /tmp when missing: /tmp/recorder-anchor-py3.12, ...)

Reported: the median wall time of the whole process (start-up, recording and writing the
trace included) as a ratio to bare measured in the same run, the peak RSS of that process
(``os.wait4`` rusage, so it is the child's own), the trace size, and ours as a fraction
of the anchor's time (target: ours default <= 0.25x the anchor). The ``long`` workload
writes over 2 million records to show that our peak RSS does not grow with the trace
(target <= 50 MB). Not a test: timing goals live here, never in tests.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

from pythons import python_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ANCHOR = "codetracer-python-recorder==0.3.0"

#: name -> (script, what it does)
WORKLOADS: Dict[str, Tuple[str, str]] = {
    "fib": ("""
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

print(fib(22))
""", "fib(22): 57k calls"),
    "loops": ("""
def loop(n):
    total = 0
    for i in range(n):
        if i % 3:
            total += i
        else:
            total -= 1
    return total

print(loop(100000))
""", "100k iterations, 4 locals"),
    "generators": ("""
def numbers(n):
    for i in range(n):
        yield i * 2

def pipeline(n):
    return sum(x for x in numbers(n) if x % 3)

print(pipeline(50000))
""", "50k yields through a genexpr"),
    "exceptions": ("""
class Odd(Exception):
    pass

def check(i):
    if i % 2:
        raise Odd(i)
    return i

def catches(n):
    caught = 0
    for i in range(n):
        try:
            check(i)
        except Odd:
            caught += 1
    return caught

print(catches(20000))
""", "20k calls, 10k raised and caught"),
    "objects": ("""
class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def moved(self, dx, dy):
        return Point(self.x + dx, self.y + dy)

    def __repr__(self):
        return "Point(%r, %r)" % (self.x, self.y)

def walk(n):
    p = Point(0, 0)
    recent = {}
    count = 0
    for i in range(n):
        p = p.moved(1, i % 3)
        recent[i % 8] = p
        count += 1
    return count, len(recent), p

print(walk(5000))
""", "5k objects made by a method, a dict of the last 8 as a local (each object a "
        "Struct per Step; the anchor runs its __repr__)"),
    "long": ("""
def loop(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total

print(loop(500000))
""", "500k iterations: > 2M trace records (peak RSS vs trace length)"),
}
DEFAULT_WORKLOADS = "fib,loops,generators,exceptions,objects,long"
MODES = ("bare", "ours", "ours-none", "anchor")


def anchor_python(version: str, base: str, given: Optional[str]) -> str:
    """The anchor's interpreter for ``version``: given, or a venv under /tmp (made once)."""
    if given:
        return given
    venv = os.path.join(tempfile.gettempdir(), "recorder-anchor-py" + version)
    python = os.path.join(venv, "bin", "python")
    probe = [python, "-c", "import codetracer_python_recorder"]
    if os.path.exists(python) and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print("creating %s with %s ..." % (venv, ANCHOR), file=sys.stderr)
    subprocess.run([base, "-m", "venv", "--clear", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", ANCHOR], check=True)
    return python


class Run:
    def __init__(self, wall: float, rss_kb: int, status: int, trace_bytes: int,
                 records: Optional[int]) -> None:
        self.wall = wall
        self.rss_kb = rss_kb
        self.status = status
        self.trace_bytes = trace_bytes
        self.records = records


def _dir_bytes(path: str) -> int:
    total = 0
    for base, _dirs, files in os.walk(path):
        if os.path.basename(base) == "files" or os.sep + "files" + os.sep in base + os.sep:
            continue  # copies of the sources
        total += sum(os.path.getsize(os.path.join(base, f)) for f in files)
    return total


def _our_records(out: str) -> int:
    # ours writes one record per line between "[" and "]"
    with open(os.path.join(out, "trace.json"), "rb") as fh:
        return sum(1 for _ in fh) - 2


def measure(cmd: List[str], cwd: str, env: Dict[str, str], out: Optional[str],
            count_records: bool) -> Run:
    if out:
        shutil.rmtree(out, ignore_errors=True)
    with open(os.devnull, "wb") as null, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=null, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit("failed (%d): %s\n%s" % (proc.returncode, " ".join(cmd),
                                              err.read().decode(errors="replace")[-2000:]))
    trace_bytes = _dir_bytes(out) if out else 0
    records = _our_records(out) if out and count_records else None
    if out:
        shutil.rmtree(out, ignore_errors=True)
    return Run(wall, usage.ru_maxrss, proc.returncode, trace_bytes, records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.12,3.13")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workloads", default=DEFAULT_WORKLOADS)
    parser.add_argument("--anchor", action="append", default=[], metavar="VERSION=PYTHON",
                        help="the anchor's interpreter for VERSION (default: a venv under "
                             "/tmp, created when missing)")
    args = parser.parse_args()
    given = dict(item.split("=", 1) for item in args.anchor)
    workloads = args.workloads.split(",")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    for key in list(env):
        if key.startswith(("RECORDER_", "CODETRACER_")):
            del env[key]

    rows = []
    work = tempfile.mkdtemp(prefix="recorder-vs-anchor-")
    try:
        for name in workloads:
            with open(os.path.join(work, name + ".py"), "w") as fh:
                fh.write(WORKLOADS[name][0])
        for version in args.pythons.split(","):
            base = python_for(version)
            anchor = anchor_python(version, base, given.get(version))
            for name in workloads:
                script = name + ".py"
                out = os.path.join(work, "trace-" + name)
                commands = {
                    "bare": ([base, script], None),
                    "ours": ([base, "-m", "recorder", "-o", out, script], out),
                    "ours-none": ([base, "-m", "recorder", "--values", "none", "-o", out,
                                   script], out),
                    "anchor": ([anchor, "-m", "codetracer_python_recorder", "--format", "json",
                                "--trace-dir", out, script], out),
                }
                runs: Dict[str, List[Run]] = {m: [] for m in MODES}
                for _ in range(args.repeat):  # interleaved, so drift hits every mode alike
                    for mode in MODES:
                        cmd, trace = commands[mode]
                        runs[mode].append(measure(cmd, work, env, trace,
                                                  count_records=mode == "ours"))
                rows.append((version, name, runs))
                print("done %s %s" % (version, name), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def wall(rs: List[Run]) -> float:
        return statistics.median(r.wall for r in rs)

    def rss(rs: List[Run]) -> float:
        return statistics.median(r.rss_kb for r in rs) / 1024

    print()
    print("Whole-process wall time as a ratio to bare (median of %d), peak RSS in MB, trace "
          "size in MB (trace files, without files/)." % args.repeat)
    print()
    print("| python | workload | bare s | bare MB | ours x | ours MB | ours trace MB | "
          "ours records | ours --values none x | none MB | anchor x | anchor MB | "
          "anchor trace MB | ours / anchor time | none / anchor time |")
    print("|---" * 15 + "|")
    for version, name, runs in rows:
        bare = wall(runs["bare"])
        ours, none, anch = wall(runs["ours"]), wall(runs["ours-none"]), wall(runs["anchor"])
        print("| %s | %s | %.3f | %.0f | %.1f | %.0f | %.1f | %s | %.1f | %.0f | %.1f | %.0f "
              "| %.1f | %.2f | %.2f |" % (
                  version, name, bare, rss(runs["bare"]), ours / bare, rss(runs["ours"]),
                  runs["ours"][0].trace_bytes / 1e6,
                  "{:,}".format(runs["ours"][0].records or 0), none / bare,
                  rss(runs["ours-none"]), anch / bare, rss(runs["anchor"]),
                  runs["anchor"][0].trace_bytes / 1e6, ours / anch, none / anch))
    print()
    print("Workloads: " + "; ".join("%s = %s" % (n, WORKLOADS[n][1]) for n in workloads))
    worst = max(wall(r["ours"]) / wall(r["anchor"]) for _, _, r in rows)
    peak = max(rss(r["ours"]) for _, _, r in rows)
    print("Targets: ours default <= 0.25x the anchor's time: worst %.2fx (%s); ours peak RSS "
          "<= 50 MB: max %.0f MB (%s)." % (worst, "met" if worst <= 0.25 else "NOT met", peak,
                                           "met" if peak <= 50 else "NOT met"))


if __name__ == "__main__":
    main()
