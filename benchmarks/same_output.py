"""Does a change keep the trace the same? Record one corpus with two trees and compare.

    python3 benchmarks/same_output.py [--base REV] [--pythons 3.8,3.11,3.12,3.13]
                                      [--values full] [--keep DIR]

A refactoring or a speed-up must not change what is written. This records every program of
the corpus with the recorder of ``--base`` (default ``HEAD``, from ``git archive``) and with
the working tree, through the real CLI (``python -m recorder --values full``) and the real
writer, on each interpreter, and compares the trace directories file by file:
``trace.json``, ``trace_paths.json``, ``threads/*``, ``imports.jsonl`` and
``trace_metadata.json``. What may differ between two runs of the same code is normalised
away first: times and durations (of ``trace_times.bin`` only the number of stamps), pids,
memory addresses in reprs, the recorder's version.
The base is recorded twice; a program whose two base runs differ (thread scheduling) is
reported as ``unstable`` rather than compared.

The corpus: tests/conformance/programs (standalone scripts) and tests/scenarios (each run
through a two-line driver that imports it and calls ``main()``; the scenarios that install
the recorder themselves are left out). Exit status 1 when any stable program differs.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

from pythons import python_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
#: thread idents and other long numbers that change between runs; tempfile's random names
_LONG_NUMBER = re.compile(r"\b\d{12,}\b")
_TEMP_NAME = re.compile(r"\btmp[a-z0-9_]{8}\b")
#: metadata keys that differ between any two runs
_VOLATILE_METADATA = ("start_time", "end_time", "process", "python", "recorder", "workdir")


def export_tree(rev: str, dest: str) -> str:
    """The recorder package of ``rev`` under ``dest`` (from git archive)."""
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "recorder"],
                             check=True, stdout=subprocess.PIPE).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


def build_corpus(dest: str) -> List[str]:
    """Copy the corpus programs to ``dest``; return the script names to run."""
    os.makedirs(dest)
    scripts: List[str] = []
    programs = os.path.join(ROOT, "tests", "conformance", "programs")
    for name in sorted(os.listdir(programs)):
        src = os.path.join(programs, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dest, name))
        elif name.endswith(".py"):
            shutil.copy(src, dest)
            if not name.startswith("conf_"):
                scripts.append(name)
    scenarios = os.path.join(ROOT, "tests", "scenarios")
    for name in sorted(os.listdir(scenarios)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(scenarios, name), encoding="utf-8") as fh:
            source = fh.read()
        if "SELF_INSTALL" in source:
            continue
        shutil.copy(os.path.join(scenarios, name), dest)
        driver = "run_" + name
        with open(os.path.join(dest, driver), "w", encoding="utf-8") as fh:
            fh.write("import %s\n%s.main()\n" % (name[:-3], name[:-3]))
        scripts.append(driver)
    return scripts


def record(python: str, tree: str, corpus: str, script: str, out: str, values: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDER_")}
    env["PYTHONPATH"] = tree
    env["PYTHONHASHSEED"] = "0"
    subprocess.run([python, "-m", "recorder", "-o", out, "--values", values, script],
                   cwd=corpus, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=300)


def normalised(out: str, tree: str) -> Dict[str, str]:
    """relative path -> comparable text, for every file of a trace directory but files/
    (``tree``: where the recorder that wrote it lives; a frame's repr may name it)."""
    found: Dict[str, str] = {}
    for top, dirs, files in os.walk(out):
        rel_top = os.path.relpath(top, out)
        if rel_top.split(os.sep)[0] == "files":
            continue
        for name in files:
            rel = os.path.normpath(os.path.join(rel_top, name))
            if name.startswith("trace_times"):  # clock readings: only how many
                found[rel] = "%d stamps" % (os.path.getsize(os.path.join(top, name)) // 8)
                continue
            with open(os.path.join(top, name), encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            if name.startswith("trace_metadata"):
                text = _metadata(text)
            elif name == "imports.jsonl":
                text = _imports(text)
            text = text.replace(tree, "<recorder tree>")
            text = _TEMP_NAME.sub("tmp?", _LONG_NUMBER.sub("<n>", text))
            found[rel] = _ADDRESS.sub("0x?", text)
    return found


def _metadata(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text
    for key in _VOLATILE_METADATA:
        data.pop(key, None)
    if isinstance(data.get("timing"), dict):
        data["timing"].pop("origin", None)  # a clock reading
    for thread in data.get("threads", []) or []:
        thread.pop("ident", None)
    if isinstance(data.get("thread"), dict):
        data["thread"].pop("ident", None)
    return json.dumps(data, indent=1, sort_keys=True)


def _imports(text: str) -> str:
    lines = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        for key in ("start", "duration"):
            rec.pop(key, None)
        lines.append(json.dumps(rec, sort_keys=True))
    return "\n".join(lines)


def first_difference(a: Dict[str, str], b: Dict[str, str]) -> Optional[str]:
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            return "%s only in %s" % (name, "base" if name in a else "head")
        if a[name] != b[name]:
            la, lb = a[name].splitlines(), b[name].splitlines()
            for i, (x, y) in enumerate(zip(la, lb)):
                if x != y:
                    return "%s line %d: %s | %s" % (name, i + 1, x[:80], y[:80])
            return "%s: %d vs %d lines" % (name, len(la), len(lb))
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--pythons", default="3.8,3.11,3.12,3.13")
    parser.add_argument("--values", default="full")
    parser.add_argument("--keep", default=None, help="keep the traces under this directory")
    args = parser.parse_args()
    tmp = args.keep or tempfile.mkdtemp(prefix="recorder-same-")
    base = export_tree(args.base, os.path.join(tmp, "base"))
    corpus_dir = os.path.join(tmp, "corpus")
    scripts = build_corpus(corpus_dir)
    rows: List[Tuple[str, str, str]] = []
    for version in args.pythons.split(","):
        python = python_for(version)
        for script in scripts:
            outs = {}
            for label, tree in (("base", base), ("base2", base), ("head", ROOT)):
                out = os.path.join(tmp, "out", version, script, label)
                record(python, tree, corpus_dir, script, out, args.values)
                outs[label] = normalised(out, tree)
            if first_difference(outs["base"], outs["base2"]) is not None:
                rows.append((version, script, "unstable"))
                continue
            diff = first_difference(outs["base"], outs["head"])
            rows.append((version, script, "same" if diff is None else "DIFF " + diff))
    width = max(len(s) for _, s, _ in rows)
    for version, script, verdict in rows:
        print("%-5s %-*s %s" % (version, width, script, verdict))
    same = sum(1 for r in rows if r[2] == "same")
    unstable = sum(1 for r in rows if r[2] == "unstable")
    print("\n%d same, %d unstable, %d different (base %s, %s)"
          % (same, unstable, len(rows) - same - unstable, args.base, tmp))
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if same + unstable == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
