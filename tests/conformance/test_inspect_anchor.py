"""The trace views read codetracer-python-recorder 0.3.0's traces too: its ``trace.json`` is
one line (not ours, one record per line), with no time stamps and little metadata. Runs where
test_anchor.py runs (the tox conformance envs), with the same anchor."""
from __future__ import annotations

import json
import os
import shutil
import sys

from test_anchor import PROGRAMS_DIR, _run, anchor_python  # noqa: F401 (a fixture)


def test_every_view_reads_an_anchor_trace(anchor_python, tmp_path):  # noqa: F811
    work = str(tmp_path / "programs")
    shutil.copytree(PROGRAMS_DIR, work, ignore=shutil.ignore_patterns("__pycache__"))
    recorded = _run(anchor_python, ["-m", "codetracer_python_recorder", "--format", "json",
                                    "--trace-dir", "trace-anchor", "functions.py"], work)
    assert recorded.returncode == 0, recorded.stderr
    with open(os.path.join(work, "trace-anchor", "trace.json")) as fh:
        assert fh.read(2) != "[\n"  # the other layout

    def view(*args: str) -> str:
        done = _run(sys.executable, ["-m", "recorder", *args], work)
        assert (done.returncode, done.stderr) == (0, ""), done.stderr
        return done.stdout

    summary = json.loads(view("summary", "trace-anchor", "--json"))
    calls = {f["function"]: f["calls"] for f in summary["functions"]["by_calls"]}
    assert calls["add"] == 2 and calls["scale"] == 2 and calls["collect"] == 2
    assert summary["timed"] is False
    tree = view("calls", "trace-anchor", "--function", "pipeline", "--depth", "2")
    assert "pipeline(x=4)" in tree and "add(a=4, b=1) -> 5" in tree
    assert "collect(first=4, rest=(5, 16), options={'reverse': True}) -> [16, 5, 4]" in tree
    history = view("values", "trace-anchor", "result")
    assert [line.split()[-1] for line in history.splitlines()[1:]] == ["5", "'ab'"]
    view("export", "trace-anchor", "-o", "anchor.json")
    with open(os.path.join(work, "anchor.json")) as fh:
        doc = json.load(fh)
    assert doc["otherData"]["time"].startswith("not recorded")
    assert sum(1 for e in doc["traceEvents"] if e["ph"] == "B") == sum(calls.values())
    view("view", "trace-anchor", "-o", "anchor.html")
