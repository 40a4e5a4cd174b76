"""What recording a test suite costs: ``pytest --record`` (the plugin, one trace per test) and
``python -m recorder -m pytest`` (one trace of the whole run), as a ratio to a bare run, and the
bytes written, for the default scope (the project's own code) and for everything (--all).

    python benchmarks/pytest_cost.py [--runs 3] [--limit 120] [--python PATH] [TEST_FILES...]

The suite is a subset of this repository's tests/ that never starts a recording of its own (a
test that calls recorder.install() cannot run inside a recorded test) unless test files are
given. Each mode runs ``--runs`` times as a fresh process from the repository's root with the
checkout on PYTHONPATH; the median wall time is reported. The plugin is loaded with
``-p recorder.pytest_plugin`` (the same module the pytest11 entry point names), so the
checkout need not be installed (when it is, the entry point loads it). Also measured: ``pytest --version`` start-up with the plugin
and without it. Targets (docs/pytest.md): the default scope at most 2x bare and at most 2 MB
per 100 tests. Timing goals live here, never in tests.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUITE = ["tests/test_values.py", "tests/test_config.py", "tests/test_qualname.py"]
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]
PLUGIN = ["-p", "recorder.pytest_plugin"]
_REGISTERED = ("import importlib.metadata as m, sys; e = m.entry_points(); sys.exit(0 if any("
               "p.name == 'recorder' for p in (e.select(group='pytest11') if hasattr(e, 'select')"
               " else e.get('pytest11', []))) else 1)")


def modes(out: str) -> List[Tuple[str, List[str]]]:
    """(label, interpreter arguments before the test files) per mode."""
    return [
        ("bare", PYTEST + ["-p", "no:recorder"]),
        ("pytest --record", PYTEST + PLUGIN + ["--record=" + out]),
        ("pytest --record --record-all", PYTEST + PLUGIN + ["--record=" + out,
                                                            "--record-all"]),
        ("python -m recorder -m pytest", ["-m", "recorder", "--quiet", "-o", out]
         + PYTEST + ["-p", "no:recorder"]),
        ("python -m recorder --all -m pytest", ["-m", "recorder", "--quiet", "--all", "-o",
                                                out] + PYTEST + ["-p", "no:recorder"]),
    ]


def tree_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def run(python: str, args: List[str], env: Dict[str, str],
        limit: Optional[float] = None) -> Tuple[float, str]:
    """(wall time, stdout); (inf, "") when the run took longer than ``limit`` seconds."""
    start = time.perf_counter()
    try:
        done = subprocess.run([python] + args, cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return float("inf"), ""
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit("failed (%d): %s\n%s%s" % (done.returncode, " ".join(args), done.stdout,
                                          done.stderr))
    return elapsed, done.stdout


def tests_run(stdout: str) -> int:
    found = re.findall(r"(\d+) (passed|failed|error|errors|xfailed|xpassed)", stdout)
    return sum(int(n) for n, _ in found)


def startup(python: str, env: Dict[str, str], runs: int) -> Tuple[float, float]:
    """Median ``pytest --version`` wall time without the plugin and with it (ms)."""
    without, with_ = [], []
    for _ in range(runs):
        for args, times in ((["-m", "pytest", "-p", "no:recorder", "--version"], without),
                            (["-m", "pytest"] + PLUGIN + ["--version"], with_)):
            times.append(run(python, args, env)[0] * 1000)
    return statistics.median(without), statistics.median(with_)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--limit", type=float, default=120.0,
                        help="stop a run after this many seconds and report it as such, with "
                             "the bytes written until then (recording all of pytest and the "
                             "standard library writes gigabytes)")
    parser.add_argument("files", nargs="*", default=SUITE)
    options = parser.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=ROOT)
    for name in [n for n in env if n.startswith("RECORDER_")]:
        del env[name]
    if subprocess.run([options.python, "-c", _REGISTERED], cwd=ROOT, env=env).returncode == 0:
        del PLUGIN[:]  # installed: the entry point loads it (-p would load it twice)
    version = subprocess.run([options.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    print("Python %s, suite: %s, %d runs each (median)" % (version, " ".join(options.files),
                                                           options.runs))
    scratch = tempfile.mkdtemp(prefix="recorder-pytest-cost-")
    try:
        out = os.path.join(scratch, "traces")
        rows = []
        bare = None
        for label, args in modes(out):
            times, size, count = [], 0, 0
            for _ in range(options.runs):
                shutil.rmtree(out, ignore_errors=True)
                elapsed, stdout = run(options.python, args + options.files, env,
                                      options.limit)
                times.append(elapsed)
                count = tests_run(stdout) or count
                size = tree_size(out) if os.path.exists(out) else 0
                if elapsed == float("inf"):
                    break  # one run over the limit says enough
            median = statistics.median(times)
            bare = median if bare is None else bare
            rows.append((label, median, median / bare, size, count))
        print("%-36s %8s %7s %10s %14s" % ("mode", "time s", "ratio", "bytes", "MB/100 tests"))
        for label, median, ratio, size, count in rows:
            count = count or rows[0][4]
            per100 = size / 1e6 * 100 / count if count else 0.0
            if median == float("inf"):
                print("%-36s %8s %7s %10d %14s  (stopped after %d s)" % (
                    label, "> %d" % options.limit, "-", size, "-", options.limit))
                continue
            print("%-36s %8.2f %6.2fx %10d %14.2f" % (label, median, ratio, size, per100))
        print("tests per run: %d" % rows[0][4])
        off, on = startup(options.python, env, max(5, options.runs * 3))
        print("pytest --version: %.0f ms without the plugin, %.0f ms with it (%+.0f ms)"
              % (off, on, on - off))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
