"""Recording never runs the program's own code to show its values (``--reprs builtin``, the
default), through the real command line, the real trace writer and ``--values full``.

The program's objects count every call of the methods a value encoder could be tempted to
use: ``__repr__``, ``__str__`` (also of an exception), ``__eq__``/``__hash__``, properties,
``__getattr__``, an ABC's ``__instancecheck__``. Some would hurt if called: a ``__repr__``
that raises, one that takes a lock the program holds (a deadlock: here a 5 s timeout that
counts), one that is slow. The recorded run must print the same counts as the plain run, all
zero, and the trace must show the objects as Struct records with their fields.
``--reprs program`` (or ``RECORDER_REPRS=program``) brings the program's reprs back.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any, Dict, List, Optional

import pytest

from conftest import BACKENDS, RECORDER_DIR
from test_cli import run_plain


def run_recorded(cwd: Any, args: List[str], options: Any = (),
                 env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "RECORDER_REPRS"}
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.path.dirname(RECORDER_DIR), environ.get("PYTHONPATH")) if p)
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "recorder", *options] + args, cwd=str(cwd),
                          capture_output=True, text=True, env=environ, timeout=120)

HAZARDS = textwrap.dedent("""
    import abc, dataclasses, threading, time

    COUNTS = dict.fromkeys(["repr", "str", "eq", "hash", "property", "getattr", "lock",
                            "slow", "raising", "exc_str", "instancecheck"], 0)
    LOCK = threading.Lock()

    class Counting(abc.ABCMeta):
        def __instancecheck__(cls, obj):
            COUNTS["instancecheck"] += 1
            return False

    class Point(metaclass=Counting):
        def __init__(self, x, y):
            self.x = x
            self.y = y
        def __repr__(self):
            COUNTS["repr"] += 1
            return "Point(%r, %r)" % (self.x, self.y)
        def __str__(self):
            COUNTS["str"] += 1
            return "p"
        def __eq__(self, other):
            COUNTS["eq"] += 1
            return self is other
        def __hash__(self):
            COUNTS["hash"] += 1
            return 1
        @property
        def norm(self):
            COUNTS["property"] += 1
            return abs(self.x) + abs(self.y)
        def __getattr__(self, name):
            COUNTS["getattr"] += 1
            raise AttributeError(name)

    class Locked:
        def __repr__(self):  # the program holds LOCK while it runs: a deadlock if called
            if not LOCK.acquire(timeout=5):
                COUNTS["lock"] += 1
                return "timed out"
            LOCK.release()
            return "Locked"

    class Slow:
        def __repr__(self):
            COUNTS["slow"] += 1
            time.sleep(1)
            return "Slow"

    class Raising:
        def __repr__(self):
            COUNTS["raising"] += 1
            raise RuntimeError("no repr")

    class Refused(Exception):
        def __str__(self):
            COUNTS["exc_str"] += 1
            return "refused"

    @dataclasses.dataclass
    class Order:
        item: str
        where: Point

    def work(p, order):
        seen = {p: 1}  # a program object as a key (the program hashes it here)
        COUNTS["hash"] = 0
        hazards = [Locked(), Slow(), Raising()]
        try:
            raise Refused(p)
        except Refused as exc:
            caught = exc
        return order

    with LOCK:
        p = Point(1, 2)
        order = work(p, Order("tea", p))
    print(" ".join("%s=%d" % item for item in COUNTS.items()))
""")

ZERO = ("repr=0 str=0 eq=0 hash=0 property=0 getattr=0 lock=0 slow=0 raising=0 exc_str=0 "
        "instancecheck=0\n")


def struct_values(out: Any, lang_type: str) -> List[Dict[str, Any]]:
    """Every Struct record of ``lang_type`` in trace.json, as {field name: value record}."""
    with open(os.path.join(str(out), "trace.json"), encoding="utf-8") as fh:
        events = json.load(fh)
    types = [e["Type"] for e in events if "Type" in e]
    found: List[Dict[str, Any]] = []

    def walk(value: Dict[str, Any]) -> None:
        for sub in value.get("elements", []) + value.get("field_values", []):
            walk(sub)
        if value["kind"] == "Struct" and types[value["type_id"]]["lang_type"] == lang_type:
            fields = types[value["type_id"]]["specific_info"]["fields"]
            found.append({f["name"]: v for f, v in zip(fields, value["field_values"])})

    for event in events:
        (kind, body), = event.items()
        if kind == "Value":
            walk(body["value"])
        elif kind == "Return":
            walk(body["return_value"])
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_recording_runs_no_program_code(tmp_path, backend):
    (tmp_path / "hazards.py").write_text(HAZARDS)
    plain = run_plain(tmp_path, ["hazards.py"])
    assert (plain.stdout, plain.returncode) == (ZERO, 0), plain.stderr
    recorded = run_recorded(tmp_path, ["hazards.py"],
                            options=("--backend", backend, "--values", "full"))
    assert (recorded.stdout, recorded.stderr, recorded.returncode) == \
        (plain.stdout, plain.stderr, plain.returncode)
    out = tmp_path / "trace-out"
    orders = struct_values(out, "__main__.Order")
    assert orders, "no Order struct in the trace"
    assert orders[-1]["item"]["text"] == "tea"
    where = orders[-1]["where"]
    assert where["kind"] == "Struct" and [v["i"] for v in where["field_values"]] == [1, 2]
    assert struct_values(out, "__main__.Point")
    with open(os.path.join(str(out), "trace.json"), encoding="utf-8") as fh:
        text = fh.read()
    assert "Refused: <__main__.Point object>" in text  # the raise Event, from args
    meta = json.loads((out / "trace_metadata.json").read_text())
    assert meta["values"]["reprs"] == "builtin"


COUNTING = textwrap.dedent("""
    calls = 0

    class Point:
        def __init__(self, x, y):
            self.x = x
            self.y = y
        def __repr__(self):
            global calls
            calls += 1
            return "Point(%r, %r)" % (self.x, self.y)

    def main():
        points = [Point(i, i) for i in range(3)]
        p = points[0]
        for q in points:
            p = q
        return p

    main()
    print("repr calls", calls)
""")


@pytest.mark.parametrize("how", ["default", "option", "env"])
def test_program_reprs_only_when_asked(tmp_path, how):
    (tmp_path / "counting.py").write_text(COUNTING)
    options = ("--values", "full") + (("--reprs", "program") if how == "option" else ())
    env = {"RECORDER_REPRS": "program"} if how == "env" else None
    recorded = run_recorded(tmp_path, ["counting.py"], options=options, env=env)
    assert recorded.returncode == 0, recorded.stderr
    out = tmp_path / "trace-out"
    with open(os.path.join(str(out), "trace.json"), encoding="utf-8") as fh:
        text = fh.read()
    if how == "default":
        assert recorded.stdout == "repr calls 0\n"
        assert "Point(" not in text and struct_values(out, "__main__.Point")
    else:
        assert recorded.stdout != "repr calls 0\n"
        assert '"Point(2, 2)"' in text and not struct_values(out, "__main__.Point")
