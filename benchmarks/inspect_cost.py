"""Time and peak RSS of the trace views on big traces (docs/inspect.md, "Cost").

    python3 benchmarks/inspect_cost.py [--python 3.12] [--records 4000000] [--keep DIR]

Records a program (calls, a loop with locals, exceptions raised and caught, a second thread,
imports) with ``python -m recorder`` (``--values full``, the default) scaled to about
``--records`` records, then runs each view on it in a fresh process and reports its wall
time, CPU time and peak RSS (``os.wait4``'s rusage: the child's own). ``calls`` and
``values`` are also timed to their first line of output (their whole output is read and
dropped). With ``--browser``, the page of ``view`` is opened in headless Chromium
(tests/chromium.py) and the time until it has drawn is reported. Not a test: timing goals
live here, never in tests.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Tuple

from pythons import python_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PROGRAM = r'''
import json, threading, sys
import email.mime.text  # imports.jsonl: a few standard library modules
import shapes  # and one of the program's own


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def loop(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total


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


def worker(n):
    return loop(n)


def main(scale):
    t = threading.Thread(target=worker, args=(5000 * scale,))
    t.start()
    out = []
    for _ in range(scale):
        out.append((fib(15), loop(10000), catches(1000)))
    t.join()
    print(json.dumps(out[-1]), shapes.area(2, 3))


main(int(sys.argv[1]))
'''
#: records one unit of ``scale`` makes (measured), to aim at --records
RECORDS_PER_SCALE = 150000
SHAPES = "def area(w, h):\n    return w * h\n"


def measure(argv: List[str], stdout: Optional[int] = subprocess.DEVNULL,
            first_line: bool = False) -> Tuple[float, float, float, Optional[float]]:
    """(wall seconds, CPU seconds, peak RSS MB, seconds to the first line of output) of one
    command. CPU time (user + system) moves much less than wall time with other load."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE if first_line else stdout,
                            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=ROOT))
    first = None
    if first_line:
        assert proc.stdout is not None
        proc.stdout.readline()
        first = time.perf_counter() - start
        while proc.stdout.read(1 << 20):
            pass
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    if status != 0:
        sys.exit("failed (%s): %s\n%s" % (status, " ".join(argv), err))
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, first


def record(python: str, out_dir: str, records: int, work: str) -> int:
    script = os.path.join(work, "workload.py")
    with open(script, "w") as fh:
        fh.write(PROGRAM)
    with open(os.path.join(work, "shapes.py"), "w") as fh:
        fh.write(SHAPES)
    scale = max(1, -(-records // RECORDS_PER_SCALE))
    subprocess.run([python, "-m", "recorder", "-o", out_dir, script, str(scale)], check=True,
                   env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL)
    return scale


def count_records(out_dir: str) -> int:
    total = 0
    for folder, _, files in os.walk(out_dir):
        for name in files:
            if name.startswith("trace") and name.endswith(".json") and "_" not in name:
                with open(os.path.join(folder, name), "rb") as fh:
                    total += sum(1 for line in fh if line.startswith(b"{"))
    return total


def browser_open_time(html: str, work: str) -> Tuple[float, float]:
    """(seconds from asking for the page to its drawing, as the test driver sees it; the
    page's own time from navigation start to drawn)."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from chromium import Chromium

    with Chromium(os.path.join(work, "chromium-profile")) as browser:
        start = time.monotonic()
        page = browser.open("file://" + html)
        page.wait_for("window.recorderViewReady === true", timeout=120)
        waited = time.monotonic() - start
        return waited, page.evaluate("window.recorderViewReadyAt") / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.12")
    parser.add_argument("--records", type=int, default=4000000)
    parser.add_argument("--keep", metavar="DIR", help="record into DIR and keep it (reused "
                                                      "when it already holds a trace)")
    parser.add_argument("--browser", action="store_true",
                        help="also time opening the view's page in headless Chromium")
    parser.add_argument("--commands", default="summary,calls,values,export,view")
    args = parser.parse_args()
    python = python_for(args.python)
    work = tempfile.mkdtemp(prefix="recorder-inspect-")
    try:
        trace = args.keep or os.path.join(work, "trace")
        if not os.path.isfile(os.path.join(trace, "trace.json")):
            record(python, trace, args.records, work)
        records = count_records(trace)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(trace)
                   for f in fs)
        print("trace: %s records, %.0f MB (%s)" % (format(records, ","), size / 1e6, trace))
        print("| command | wall s | CPU s | peak RSS MB | first line s |")
        print("|---|---|---|---|---|")
        rec = [python, "-m", "recorder"]
        runs = {
            "summary": rec + ["summary", trace],
            "calls": rec + ["calls", trace],
            "values": rec + ["values", trace, "total"],
            "export": rec + ["export", trace, "--format", "chrome", "-o",
                             os.path.join(work, "out.json")],
            "view": rec + ["view", trace, "-o", os.path.join(work, "view.html")],
        }
        for name in args.commands.split(","):
            wall, cpu, rss, first = measure(runs[name], first_line=name in ("calls", "values"))
            print("| %s | %.1f | %.1f | %.0f | %s |" % (
                name, wall, cpu, rss, "%.2f" % first if first is not None else "-"))
        html = os.path.join(work, "view.html")
        if os.path.isfile(html):
            print("view.html: %.0f kB" % (os.path.getsize(html) / 1024))
            if args.browser:
                print("view.html opened and drawn in headless Chromium in %.2f s (the page's "
                      "own time from navigation start: %.2f s)" % browser_open_time(html, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
