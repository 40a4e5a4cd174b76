"""Skipped code runs at near-native speed: an import- and stdlib-heavy program, recorded with
the default filters, against the bare interpreter, as ratios measured in one run.

    python benchmarks/skipped_code.py [--pythons 3.8,3.9,3.10,3.11,3.12,3.13]
                                      [--repeat 7] [--backend auto|monitoring|settrace]

The workload (PROGRAM below, written to a temporary directory) imports ~35 standard library
modules in a fresh process and spends its time inside them (json, textwrap, difflib, ast,
tokenize, statistics, pprint, argparse, email, logging, ElementTree, decimal, fractions, ...);
its own code is a few dozen lines, each run once. Recorded means ``python -m recorder -o DIR
prog.py`` with no filter file: the standard library is skipped (sys.monitoring DISABLE on
3.12+, no local trace function on settrace), the program's own lines are recorded with full
values into a CodeTracer trace directory.

Two ratios per interpreter, medians of ``--repeat`` alternating runs after one warm-up run of
each mode (bytecode caches on, in a temporary PYTHONPYCACHEPREFIX):
  program   the program's own time, from its first line (before its imports) to its last,
            as the program itself measures it: the cost of recording it (target on 3.12
            and 3.13: <= 1.3x)
  process   whole-process wall time, which also counts the recorder's start-up (importing
            the recorder, preparing the trace directory) and writing the trace at exit
Timing goals live here, never in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

from pythons import python_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PROGRAM = r'''
import time
_T0, _C0 = time.perf_counter(), time.process_time()
import argparse, ast, base64, bisect, collections, configparser, csv, dataclasses, datetime
import decimal, difflib, email.message, email.utils, enum, fnmatch, fractions, hashlib, heapq
import inspect, io, itertools, json, logging, operator, pathlib, pprint, random, re, shlex
import statistics, string, textwrap, tokenize, typing, urllib.parse, uuid
import xml.etree.ElementTree as ET

IDS = range(2000)


def json_roundtrip():
    record = dict(zip(map("key{}".format, IDS), zip(IDS, map(str, IDS))))
    text = json.dumps(record, indent=1, sort_keys=True)
    return len(json.loads(text)), hashlib.sha256(text.encode()).hexdigest()[:8]


def wrap_and_diff():
    para = " ".join(map("word{}".format, range(4000)))
    wrapped = textwrap.fill(para, width=70).splitlines()
    changed = list(map(operator.methodcaller("replace", "word1", "WORD1"), wrapped))
    diff = list(difflib.unified_diff(wrapped, changed, lineterm=""))
    ratio = difflib.SequenceMatcher(None, wrapped[:200], changed[:200]).ratio()
    return len(diff), round(ratio, 3), len(re.sub(r"word(\d+)", r"<\1>", para))


def parse_source():
    source = inspect.getsource(textwrap)
    nodes = sum(1 for _ in ast.walk(ast.parse(source)))
    return nodes, len(list(tokenize.generate_tokens(io.StringIO(source).readline)))


def numbers():
    floats = list(map(float, range(20000)))
    harmonic = sum(map(fractions.Fraction, itertools.repeat(1), range(1, 400)))
    money = sum(map(decimal.Decimal, map(str, floats[:3000])))
    return statistics.mean(floats), statistics.pstdev(floats), float(harmonic), str(money)


def documents():
    shown = pprint.pformat(list(zip(IDS, map(str, IDS)))[:400], width=60)
    root = ET.fromstring("<r>%s</r>" % "".join(map('<row id="{0}">{0}</row>'.format, IDS)))
    message = email.message.EmailMessage()
    message["Subject"] = "report"
    message["To"] = email.utils.formataddr(("Ann", "ann@example.com"))
    message.set_content("line\n" * 200)
    return len(shown), len(ET.tostring(root)), len(message.as_string())


def command_line():
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("files", nargs="*")
    args = parser.parse_args(["--count", "5", "a.txt", "b.txt"])
    words = shlex.split(" ".join(map("'arg {}'".format, range(300))))
    config = configparser.ConfigParser()
    config.read_string("".join(map("[s{0}]\nk = {0}\n".format, range(200))))
    return args.count, len(words), len(config.sections())


def services():
    log = logging.getLogger("bench")
    log.addHandler(logging.NullHandler())
    log.setLevel(logging.INFO)
    list(map(log.info, itertools.repeat("event %s", 500), IDS))
    urls = map("https://example.com/p/{}?q=a+b&n=3".format, IDS)
    parts = map(urllib.parse.urlsplit, urls)
    return len(list(map(urllib.parse.parse_qs, map(operator.attrgetter("query"), parts))))


def main():
    return (json_roundtrip(), wrap_and_diff(), parse_source(), numbers(), documents(),
            command_line(), services())


result = main()
_T1, _C1 = time.perf_counter(), time.process_time()
print("RESULT", result)
print("PROGRAM_SECONDS", _T1 - _T0, _C1 - _C0)
'''


MODES = ("bare", "recorded", "values-none")


def run_once(python: str, mode: str, work: str, backend: str,
             env: Dict[str, str]) -> Tuple[Tuple[float, float, float], Dict[str, object]]:
    """((program wall s, program CPU s, process wall s), metadata counters) of one run."""
    out_dir = os.path.join(work, "trace-out")
    cmd = [python]
    if mode != "bare":
        cmd += ["-m", "recorder", "-o", out_dir, "--backend", backend]
        if mode == "values-none":
            cmd += ["--values", "none"]
    cmd.append("prog.py")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit("%s %s failed:\n%s" % (python, mode, proc.stderr))
    fields = proc.stdout.strip().splitlines()[-1].split()
    counts: Dict[str, object] = {}
    if mode == "recorded":
        with open(os.path.join(out_dir, "trace_metadata.json")) as fh:
            meta = json.load(fh)
        stats = meta["trace_filter"]["stats"]
        counts = {"skipped": stats["scopes_skipped"], "traced": stats["scopes_traced"],
                  "backend": meta.get("backend"),
                  "bytes": sum(os.path.getsize(os.path.join(d, f))
                               for d, _, files in os.walk(out_dir) for f in files)}
    return (float(fields[1]), float(fields[2]), wall), counts


def measure(python: str, repeat: int, backend: str) -> Dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="recorder-bench-") as work:
        with open(os.path.join(work, "prog.py"), "w") as fh:
            fh.write(PROGRAM)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("RECORDER_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = ROOT
        env["PYTHONPYCACHEPREFIX"] = os.path.join(work, "pycache")
        runs: Dict[str, List[Tuple[float, float, float]]] = {m: [] for m in MODES}
        counts: Dict[str, object] = {}
        for mode in MODES:  # warm-up: bytecode caches, file system
            run_once(python, mode, work, backend, env)
        for _ in range(repeat):
            for mode in MODES:
                times, c = run_once(python, mode, work, backend, env)
                runs[mode].append(times)
                counts = c or counts
    med = {mode: tuple(statistics.median(t[i] for t in r) for i in range(3))
           for mode, r in runs.items()}
    bare, rec, none = med["bare"], med["recorded"], med["values-none"]
    result: Dict[str, object] = dict(counts)
    result.update({"bare": bare, "recorded": rec, "values-none": none,
                   "wall_ratio": rec[0] / bare[0], "cpu_ratio": rec[1] / bare[1],
                   "none_cpu_ratio": none[1] / bare[1], "process_ratio": rec[2] / bare[2]})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.8,3.9,3.10,3.11,3.12,3.13")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--backend", default="auto",
                        choices=("auto", "monitoring", "settrace"))
    args = parser.parse_args()
    print("program: the program's own time (wall and CPU), bare -> recorded with the default "
          "filters;\nvalues none: the same with --values none (skipping alone); process: "
          "whole-process wall time.")
    header = ("python", "backend", "bare cpu", "rec cpu", "cpu x", "bare wall", "rec wall",
              "wall x", "none x", "process x", "skipped", "traced", "trace KB")
    print("%-6s %-10s %8s %8s %6s %9s %8s %6s %6s %9s %7s %6s %8s" % header)
    for version in args.pythons.split(","):
        python = python_for(version.strip())
        r = measure(python, args.repeat, args.backend)
        bare, rec = r["bare"], r["recorded"]
        print("%-6s %-10s %8.3f %8.3f %5.2fx %9.3f %8.3f %5.2fx %5.2fx %8.2fx %7s %6s %8d" % (
            version, r["backend"], bare[1], rec[1], r["cpu_ratio"], bare[0], rec[0],  # type: ignore
            r["wall_ratio"], r["none_cpu_ratio"], r["process_ratio"], r["skipped"],
            r["traced"], int(r["bytes"]) // 1024))  # type: ignore[call-overload]
        sys.stdout.flush()


if __name__ == "__main__":
    main()
