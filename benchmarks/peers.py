"""The recorder against its peers: whole-process wall time, peak RSS and output size.

    python3 benchmarks/peers.py [--pythons 3.8,3.11,3.12,3.13] [--rounds 3] [--timeout 10]
                                [--workloads recursion,loops,...] [--contenders ...]
                                [--cpu 1] [--setup] [--venvs /tmp]

Every contender runs every workload as a fresh process, interleaved (bare, A, bare, B, ...,
bare, A, bare, B, ...) for ``--rounds`` rounds within one (Python, workload) cell, so that
the drift of a shared machine hits them alike. A figure is the median wall time of the
whole process (start-up, recording and writing included, timed from outside with
``os.wait4``) as a ratio to bare's median in the same cell (bare, being cheap, runs before
every contender's run); the geometric mean over the workloads is the summary.
A run past ``--timeout`` is killed and shown as a lower bound (``>43×``); a contender whose
runs in a cell add up to ``--cell-budget`` seconds stops repeating there (slow tools are
timed once or twice).

Contenders (``--contenders``, comma-separated; those an interpreter lacks show ``—``):
  rec-full   python -m recorder (the default: --values full)
  rec-args   python -m recorder --values args
  rec-none   python -m recorder --values none
  viztracer  viztracer -o trace.json (a C extension; calls only, C calls too)
  hunter     hunter.trace(stdlib=False, <frozen ...> excluded, CallPrinter to a file)
  anchor     codetracer-python-recorder==0.3.0 --format json (3.12 and 3.13 only)
  floor-settrace  a no-op sys.settrace callback (every event, all code)
  floor-sysmon    a no-op sys.monitoring callback for PY_START, PY_RESUME, PY_RETURN,
                  PY_YIELD, LINE, RAISE, PY_UNWIND (3.12+; all code, never DISABLE)

Peers never touch the interpreters or the repository: each runs from a throwaway venv
under ``--venvs`` (default /tmp): ``peers-venv-X.Y`` (docutils; bare, the recorder from this
checkout via PYTHONPATH, the floors), ``peers-venv-X.Y-viztracer``, ``-hunter``,
``-anchor``; one per tool because hunter's ``.pth`` imports hunter in every process of
its venv. A missing venv is created on first use (a line on stderr says so; pip needs the
network); ``--setup`` only creates them.

Workloads (``--workloads``) are small scripts written to a temporary directory beside a
copy of benchmarks/workloads.py, whose functions they call:
  recursion   fib(22)
  loops       containers(): 127×127 iterations with a growing list and dict in scope
  objects     objects(): 20k Points made by a method, a dict of the last 8
  gen_async   sum(gen(20k)), then asyncio.gather of 50 coroutines
  exceptions  catches(20k): 10k raised and caught
  imports     30 standard-library modules not loaded at start-up
  json_tool   json.tool's main() pretty-prints a generated 24 KB JSON file
  docutils    docutils renders a generated reST page to HTML
The recorder's default scope skips the standard library and site-packages (json.tool and
docutils themselves); ``--recorder-flags "--include third-party"`` widens it.
Not a test: timing goals live here, never in tests.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

from pythons import python_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DOCUTILS = "docutils==0.20.1"  # the last release that installs on 3.8
ANCHOR = "codetracer-python-recorder==0.3.0"

#: name -> (script, what it does); every script runs beside a copy of workloads.py
WORKLOADS: Dict[str, Tuple[str, str]] = {
    "recursion": ("import workloads\nprint(workloads.fib(22))\n", "fib(22): 57k calls"),
    "loops": ("import workloads\nprint(workloads.containers(127))\n",
              "16k iterations, a growing list and dict in scope"),
    "objects": ("import workloads\nprint(workloads.objects())\n",
                "20k objects made by a method, a dict of the last 8"),
    "gen_async": ("import workloads\nprint(sum(workloads.gen(20000)))\n"
                  "print(workloads.gathered(50))\n",
                  "20k yields, then asyncio.gather of 50 coroutines"),
    "exceptions": ("import workloads\nprint(workloads.catches(20000))\n",
                   "10k raised and caught"),
    "imports": ("import importlib\nfor name in %r:\n    importlib.import_module(name)\n"
                "print('ok')\n" % ([
                    "json", "decimal", "email.parser", "email.message", "http.client",
                    "http.cookies", "xml.dom.minidom", "xml.etree.ElementTree", "sqlite3",
                    "tarfile", "zipfile", "argparse", "unittest", "configparser", "csv",
                    "calendar", "gettext", "uuid", "logging.handlers", "urllib.request",
                    "difflib", "pprint", "fractions", "statistics", "textwrap", "shlex",
                    "html.parser", "ipaddress", "pathlib", "dataclasses"],),
                "30 standard-library modules"),
    "json_tool": ("import sys, json.tool\nsys.argv = ['json.tool', 'data.json', "
                  "'data.out.json']\njson.tool.main()\n",
                  "json.tool pretty-prints a 24 KB file"),
    "docutils": ("from docutils.core import publish_file\n"
                 "publish_file(source_path='page.rst', destination_path='page.html', "
                 "writer_name='html', settings_overrides={'report_level': 5})\n",
                 "docutils renders a reST page to HTML"),
}

FLOOR = r"""
import runpy, sys
kind, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
if kind == "sysmon":
    m = sys.monitoring; E = m.events
    def cb(*args): return None
    m.use_tool_id(4, "floor")
    wanted = (E.PY_START, E.PY_RESUME, E.PY_RETURN, E.PY_YIELD, E.LINE, E.RAISE, E.PY_UNWIND)
    for ev in wanted:
        m.register_callback(4, ev, cb)
    m.set_events(4, sum(wanted))
else:
    import threading
    def tr(frame, event, arg): return tr
    threading.settrace(tr)
    sys.settrace(tr)
runpy.run_path(script, run_name="__main__")
"""

HUNTER = r"""
import runpy, sys
import hunter
out, script = sys.argv[1], sys.argv[2]
sys.argv = sys.argv[2:]
stream = open(out, "w")
hunter.trace(hunter.Q(stdlib=False) & ~hunter.Q(filename_startswith="<frozen"),
             action=hunter.CallPrinter(stream=stream, force_colors=False))
try:
    runpy.run_path(script, run_name="__main__")
finally:
    hunter.stop()
    stream.close()
"""

#: contender -> what it records (the summary table's last column)
RECORDS = {
    "rec-full": "calls, lines, values; the program's own code",
    "rec-args": "calls, lines, arguments and returns; the program's own code",
    "rec-none": "calls, lines; the program's own code",
    "viztracer": "calls (C calls too), no lines, no values; all code",
    "hunter": "calls, lines, args/returns as text; code outside the stdlib",
    "anchor": "calls, lines, values",
    "floor-settrace": "nothing (no-op settrace, all code)",
    "floor-sysmon": "nothing (no-op sys.monitoring, all code)",
}
CONTENDERS = tuple(RECORDS)


def data_files(work: str) -> None:
    """The inputs of json_tool and docutils, the same bytes on every run."""
    rows = [{"id": i, "name": "item %d" % i, "tags": ["t%d" % (i % 7), "x"],
             "price": i * 1.25, "ok": i % 3 == 0, "child": {"depth": i % 5, "n": None}}
            for i in range(180)]
    with open(os.path.join(work, "data.json"), "w") as fh:
        json.dump({"rows": rows, "count": len(rows)}, fh)
    parts = ["=========\nThe title\n=========\n\n.. contents::\n"]
    for i in range(40):
        parts.append("Section %d\n==========\n\nSome *emphasis*, ``code`` and a link_%d.\n\n"
                     "- item one\n- item two with **strong** text\n\n"
                     ".. _link_%d: https://example.org/%d\n\n"
                     "::\n\n    literal block %d\n\n"
                     "=====  =====\nA      B\n=====  =====\n%d      x\n=====  =====\n"
                     % (i, i, i, i, i, i))
    with open(os.path.join(work, "page.rst"), "w") as fh:
        fh.write("\n".join(parts))


class Setup:
    """The throwaway venvs of one interpreter version, created on first use."""

    def __init__(self, venvs: str, version: str) -> None:
        self.venvs = venvs
        self.version = version
        self.base = python_for(version)
        info = subprocess.run([self.base, "-c", "import sys; print(sys.version_info[:2])"],
                              capture_output=True, text=True, check=True).stdout
        self.minor = tuple(int(x) for x in info.strip("()\n ").split(","))

    def venv(self, tool: str) -> Optional[str]:
        """The python of the venv for ``tool`` ("" is the baseline), made when missing;
        None where the tool does not exist for this interpreter."""
        if tool == "anchor" and self.minor < (3, 12):
            return None  # the anchor ships wheels for 3.12 and 3.13 only
        name = "peers-venv-%s%s" % (self.version, "-" + tool if tool else "")
        path = os.path.join(self.venvs, name)
        python = os.path.join(path, "bin", "python")
        module = {"": "docutils", "viztracer": "viztracer", "hunter": "hunter",
                  "anchor": "codetracer_python_recorder"}[tool]
        if not tool and self.minor < (3, 11):
            module += ", tomli"  # the recorder's one dependency below 3.11
        probe = [python, "-c", "import docutils, %s" % module]
        if os.path.exists(python) and subprocess.run(probe, capture_output=True).returncode == 0:
            return python
        packages = [DOCUTILS] + {"": [], "viztracer": ["viztracer"], "hunter": ["hunter"],
                                 "anchor": [ANCHOR]}[tool]
        if not tool and self.minor < (3, 11):
            packages.append("tomli>=1.1")
        print("peers: creating %s (pip install %s) ..." % (path, " ".join(packages)),
              file=sys.stderr)
        subprocess.run([self.base, "-m", "venv", "--clear", path], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
                       + packages, check=True)
        return python


class Run:
    def __init__(self, wall: float, rss_kb: int, out_bytes: int, timed_out: bool,
                 failed: bool) -> None:
        self.wall = wall
        self.rss_kb = rss_kb
        self.out_bytes = out_bytes
        self.timed_out = timed_out
        self.failed = failed


def _bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for base, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d != "files"]  # the recorder's copies of the sources
        total += sum(os.path.getsize(os.path.join(base, f)) for f in files)
    return total


def measure(cmd: List[str], work: str, env: Dict[str, str], out: Optional[str],
            timeout: float, cpu: Optional[int]) -> Run:
    if out:
        shutil.rmtree(out, ignore_errors=True)
        if os.path.exists(out):
            os.unlink(out)
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    with open(os.devnull, "wb") as null, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=null, stderr=err,
                                start_new_session=True, preexec_fn=pin)
        killed: List[bool] = []

        def kill() -> None:
            killed.append(True)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        timer.cancel()
        code = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") \
            else status
        failed = code != 0 and not killed
        if failed:
            err.seek(0)
            print("peers: failed (%s): %s\n%s" % (code, " ".join(cmd),
                  err.read().decode(errors="replace")[-1500:]), file=sys.stderr)
    size = _bytes(out) if out and os.path.exists(out) else 0
    if out:
        shutil.rmtree(out, ignore_errors=True)
        if os.path.exists(out):
            os.unlink(out)
    return Run(wall, usage.ru_maxrss, size, bool(killed), failed)


def commands(setup: Setup, name: str, work: str, flags: List[str], names: List[str]
             ) -> Dict[str, Tuple[Optional[List[str]], Optional[str]]]:
    """contender -> (command or None where it does not apply, its output path)."""
    base = setup.venv("")
    assert base
    script = "wl_%s.py" % name
    out = os.path.join(work, "out")
    rec = [base, "-m", "recorder", "--quiet", "-o", out] + flags
    vz, hu, an = (setup.venv(t) if t in names else None
                  for t in ("viztracer", "hunter", "anchor"))
    sysmon = setup.minor >= (3, 12)
    return {
        "bare": ([base, script], None),
        "rec-full": (rec + [script], out),
        "rec-args": (rec + ["--values", "args", script], out),
        "rec-none": (rec + ["--values", "none", script], out),
        "viztracer": ([vz, "-m", "viztracer", "--quiet", "-o", out + ".json", script]
                      if vz else None, out + ".json"),
        "hunter": ([hu, "hunter_run.py", out + ".txt", script] if hu else None, out + ".txt"),
        "anchor": ([an, "-m", "codetracer_python_recorder", "--format", "json",
                    "--trace-dir", out, script] if an else None, out),
        "floor-settrace": ([base, "floor.py", "settrace", script], None),
        "floor-sysmon": ([base, "floor.py", "sysmon", script] if sysmon else None, None),
    }


Cell = Dict[str, List[Run]]


def run_cell(cmds: Dict[str, Tuple[Optional[List[str]], Optional[str]]], names: List[str],
             work: str, env: Dict[str, str], args: argparse.Namespace) -> Cell:
    runs: Cell = {n: [] for n in names}
    bare_cmd, _ = cmds["bare"]
    for _ in range(args.rounds):  # interleaved, so drift hits every contender alike
        for n in names[1:]:
            cmd, out = cmds[n]
            done = runs[n]
            if cmd is None or any(r.timed_out or r.failed for r in done):
                continue
            if done and sum(r.wall for r in done) >= args.cell_budget:
                continue
            # bare runs next to every contender: it is cheap, and a load spike on a shared
            # machine then moves one of many bare samples instead of the cell's denominator
            runs["bare"].append(measure(bare_cmd, work, env, None, args.timeout, args.cpu))
            done.append(measure(cmd, work, env, out, args.timeout, args.cpu))
    return runs


def wall(rs: List[Run]) -> Tuple[Optional[float], bool]:
    """(median seconds, is a lower bound); a time-out makes the figure a lower bound."""
    if not rs or any(r.failed for r in rs):
        return None, False
    if any(r.timed_out for r in rs):
        return max(r.wall for r in rs), True
    return statistics.median(r.wall for r in rs), False


def ratio_text(value: float, lower: bool) -> str:
    text = ("%.0f" if value >= 100 else "%.1f" if value >= 10 else "%.2f") % value
    return (">" if lower else "") + text + "×"


def size_text(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return "%.3g%s" % (n / scale, unit)
    return "%dB" % n


def report(results: Dict[str, Dict[str, Cell]], names: List[str], workloads: List[str],
           args: argparse.Namespace) -> None:
    versions = list(results)
    print()
    print("Geometric mean over %d workloads (%s) of the whole-process wall time as a ratio "
          "to bare, median of up to %d interleaved rounds; `>`: a run hit the %g s time-out, "
          "so a lower bound%s." % (len(workloads), ", ".join(workloads), args.rounds,
                                   args.timeout,
                                   "; every process pinned to CPU %d" % args.cpu
                                   if args.cpu is not None else ""))
    print()
    print("| contender | " + " | ".join(versions) + " | records |")
    print("|---" * (len(versions) + 2) + "|")
    for n in names:
        if n == "bare":
            continue
        row = []
        for v in versions:
            logs, lower = [], False
            for w in workloads:
                cell = results[v][w]
                mine, low = wall(cell[n])
                bare, _ = wall(cell["bare"])
                if mine is None or not bare:
                    logs = []
                    break
                logs.append(math.log(mine / bare))
                lower = lower or low
            row.append(ratio_text(math.exp(sum(logs) / len(logs)), lower) if logs else "—")
        print("| %s | %s | %s |" % (n, " | ".join(row), RECORDS[n]))
    for v in versions:
        print()
        print("Python %s: ratio to bare · peak RSS · output size (bare: median seconds · "
              "peak RSS)" % v)
        print()
        print("| contender | " + " | ".join(workloads) + " |")
        print("|---" * (len(workloads) + 1) + "|")
        for n in names:
            row = []
            for w in workloads:
                cell = results[v][w]
                rs = cell[n]
                mine, low = wall(rs)
                bare, _ = wall(cell["bare"])
                if not rs:
                    row.append("—")
                elif mine is None:
                    row.append("failed")
                else:
                    rss = "%s%.0fM" % ("≥" if low else "", max(r.rss_kb for r in rs) / 1024)
                    first = rs[0].out_bytes
                    if n == "bare":
                        row.append("%.3fs · %s" % (mine, rss))
                    else:
                        row.append("%s · %s · %s" % (ratio_text(mine / bare, low), rss,
                                                     "-" if low else size_text(first)))
            print("| %s | %s |" % (n, " | ".join(row)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.8,3.11,3.12,3.13")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds before a run is killed (default 10)")
    parser.add_argument("--cell-budget", type=float, default=3.0,
                        help="a contender stops repeating in a cell once its runs add up "
                             "to this many seconds (default 3)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--recorder-flags", default="",
                        help="more options for the recorder contenders, e.g. "
                             "'--include third-party'")
    parser.add_argument("--cpu", type=int, default=None,
                        help="pin every process to this CPU (a loaded, shared machine)")
    parser.add_argument("--venvs", default=os.environ.get("PEERS_VENVS",
                                                          tempfile.gettempdir()),
                        help="where the throwaway venvs live (default /tmp)")
    parser.add_argument("--setup", action="store_true",
                        help="create the missing venvs and exit")
    parser.add_argument("--json", metavar="FILE", help="also write the raw runs here")
    args = parser.parse_args()
    versions = args.pythons.split(",")
    workloads = args.workloads.split(",")
    names = ["bare"] + [n for n in args.contenders.split(",") if n != "bare"]
    for item, known in [(w, WORKLOADS) for w in workloads] + [(n, RECORDS) for n in names[1:]]:
        if item not in known:
            parser.exit(2, "peers.py: unknown workload or contender %r\n" % item)
    setups = {v: Setup(args.venvs, v) for v in versions}
    for s in setups.values():
        for tool in ("", "viztracer", "hunter", "anchor"):
            if not tool or tool in names:
                s.venv(tool)
    if args.setup:
        return
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT  # the recorder from this checkout; nothing else of ours
    for key in list(env):
        if key.startswith(("RECORDER_", "CODETRACER_", "VIRTUAL_ENV", "PYTHON")) \
                and key != "PYTHONPATH":
            del env[key]
    results: Dict[str, Dict[str, Cell]] = {}
    work = tempfile.mkdtemp(prefix="recorder-peers-")
    try:
        shutil.copy(os.path.join(HERE, "workloads.py"), work)
        data_files(work)
        with open(os.path.join(work, "floor.py"), "w") as fh:
            fh.write(FLOOR)
        with open(os.path.join(work, "hunter_run.py"), "w") as fh:
            fh.write(HUNTER)
        for name in workloads:
            with open(os.path.join(work, "wl_%s.py" % name), "w") as fh:
                fh.write(WORKLOADS[name][0])
        flags = args.recorder_flags.split()
        for v in versions:
            results[v] = {}
            for name in workloads:
                cmds = commands(setups[v], name, work, flags, names)
                results[v][name] = run_cell(cmds, names, work, env, args)
                print("peers: done %s %s" % (v, name), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({v: {w: {n: [r.__dict__ for r in rs] for n, rs in cell.items()}
                           for w, cell in per.items()} for v, per in results.items()}, fh)
    report(results, names, workloads, args)
    print()
    print("Workloads: " + "; ".join("%s = %s" % (w, WORKLOADS[w][1]) for w in workloads)
          + ".")


if __name__ == "__main__":
    main()
