"""The writer reuses the record of an unchanged immutable local or argument (``_Code.last``):
what is written must be exactly what encoding every value afresh would write.

Each program runs through ``python -m recorder`` on every backend the interpreter has; the
trace is read back as (line, {variable: value}) per Step.
"""
from __future__ import annotations

import json
import os
import textwrap
from typing import Any, Dict, List, Tuple

import pytest

from recorder import env
from test_cli import run_plain, run_recorded


def steps_with_values(trace_dir: str) -> Tuple[List[Tuple[int, Dict[str, Any]]],
                                                 List[Dict[str, Any]]]:
    """The Steps of ``trace.json`` with the values written after each, and the Calls'
    arguments (name -> value) in order. A value is its record without the type id."""
    with open(os.path.join(trace_dir, "trace.json"), encoding="utf-8") as fh:
        records = json.load(fh)
    names: List[str] = []
    steps: List[Tuple[int, Dict[str, Any]]] = []
    calls: List[Dict[str, Any]] = []

    def plain(value: Dict[str, Any]) -> Any:
        kind = value["kind"]
        if kind == "Int":
            return value["i"]
        if kind == "String":
            return value["text"]
        if kind in ("Sequence", "Tuple"):
            return [plain(v) for v in value["elements"]]
        if kind == "None":
            return None
        return (kind, value.get("r", value.get("msg")))

    for rec in records:
        (key, body), = rec.items()
        if key == "VariableName":
            names.append(body)
        elif key == "Step":
            steps.append((body["line"], {}))
        elif key == "Value" and steps:
            steps[-1][1][names[body["variable_id"]]] = plain(body["value"])
        elif key == "Call":
            calls.append({names[a["variable_id"]]: plain(a["value"]) for a in body["args"]})
    return steps, calls


def record(tmp_path: Any, source: str, backend: str) -> Tuple[list, list, str]:
    (tmp_path / "prog.py").write_text(textwrap.dedent(source))
    plain = run_plain(tmp_path, ["prog.py"])
    done = run_recorded(tmp_path, ["prog.py"], options=("--backend", backend))
    assert (done.returncode, done.stdout, done.stderr) == (plain.returncode, plain.stdout,
                                                          plain.stderr)
    out = str(tmp_path / "trace-out")
    with open(os.path.join(out, "trace.json"), encoding="utf-8") as fh:
        text = fh.read()
    steps, calls = steps_with_values(out)
    return steps, calls, text


def test_unchanged_and_changed_locals_show_their_current_value(tmp_path: Any,
                                                               backend: str) -> None:
    steps, _, _ = record(tmp_path, """
        def work():
            label = "same text"
            big = 10 ** 12
            xs = [1]
            xs.append(2)
            big = big + 1
            xs.append(3)
            label = "other"
            return label

        work()
    """, backend)
    inside = [values for line, values in steps if 3 <= line <= 10 and values]
    # the Step of line 3 has no locals yet (filtered out); lines 4 to 10 follow
    assert [v.get("label") for v in inside] == [
        "same text", "same text", "same text", "same text", "same text", "same text", "other"]
    assert [v.get("big") for v in inside] == [
        None, 10 ** 12, 10 ** 12, 10 ** 12, 10 ** 12 + 1, 10 ** 12 + 1, 10 ** 12 + 1]
    # a list mutated in place between two Steps shows its new content (never reused)
    assert [v.get("xs") for v in inside] == [None, None, [1], [1, 2], [1, 2], [1, 2, 3],
                                             [1, 2, 3]]


def test_repeated_arguments_are_written_in_every_call(tmp_path: Any, backend: str) -> None:
    steps, calls, _ = record(tmp_path, """
        def f(n, name):
            return n

        for i in range(3):
            f(1000, "x")
            f(1000 + i, "x")
    """, backend)
    args = [c for c in calls if c]
    assert args == [{"n": 1000, "name": "x"}, {"n": 1000, "name": "x"},
                    {"n": 1000, "name": "x"}, {"n": 1001, "name": "x"},
                    {"n": 1000, "name": "x"}, {"n": 1002, "name": "x"}]
    # the Step of f's body shows the arguments as locals, each time
    body = [values for line, values in steps if line == 3]
    assert [v["n"] for v in body] == [1000, 1000, 1000, 1001, 1000, 1002]


def test_a_text_hidden_later_never_comes_back_from_a_reused_record(tmp_path: Any,
                                                                   backend: str) -> None:
    _, _, text = record(tmp_path, """
        def work():
            note = "hunter2-the-secret"
            x = 1
            x = 2
            password = note
            x = 3
            x = 4
            return x

        work()
    """, backend)
    assert "hunter2-the-secret" not in text
    assert "<redacted>" in text


def test_an_argument_hidden_later_never_comes_back_from_a_reused_record(tmp_path: Any,
                                                                        backend: str) -> None:
    # The first call hides the text (``password``) and steps on; the second call passes the
    # same string object again: its cached argument record must not be reused.
    _, calls, text = record(tmp_path, """
        def f(note):
            password = note
            x = 1
            return x

        s = "-".join(["hunter2", "the", "secret"])
        f(s)
        f(s)
    """, backend)
    assert "hunter2-the-secret" not in text
    # the first call's String was scrubbed when the text was hidden; the second is hidden
    assert [c["note"] for c in calls if "note" in c] == ["<redacted>", ("Error", "<redacted>")]


@pytest.mark.skipif(not env.F_LOCALS_IS_PROXY, reason="before 3.13 reading f_locals itself "
                    "keeps a dict of the locals on the frame (PEP 667)")
def test_a_big_string_is_not_held_by_the_cache(tmp_path: Any, backend: str) -> None:
    # The recorder may hold small immutable values between Steps, never a big one: the
    # program sees the same reference count as unrecorded (``record`` compares the output).
    # The count is taken on the line that makes the string, before any Step has seen it.
    steps, _, _ = record(tmp_path, """
        import sys

        def work():
            big = "y" * (1 << 20); before = sys.getrefcount(big)
            a = 1
            a = 2
            print("held", sys.getrefcount(big) - before)

        work()
    """, backend)
    assert len(steps) >= 4


def test_containers_changed_in_place_show_their_new_content(tmp_path: Any,
                                                            backend: str) -> None:
    # The writer writes a container's record again while a snapshot says that what it
    # shows is unchanged: a change inside the shown part (same length, same first element),
    # inside a nested container, or of an element's type must be seen at the next Step.
    steps, _, _ = record(tmp_path, """
        def work():
            xs = list(range(20))
            rows = [[0], [1]]
            d = {"a": 1}
            xs[5] = 500
            rows[1][0] = 7
            d["a"] = True
            xs[5] = 5
            return xs

        work()
    """, backend)
    inside = [values for line, values in steps if 6 <= line <= 10 and values]
    assert [v["xs"][5] for v in inside] == [5, 500, 500, 500, 5]
    assert [v["rows"] for v in inside] == [[[0], [1]], [[0], [1]], [[0], [7]], [[0], [7]],
                                           [[0], [7]]]
    one, true = [["a", 1]], [["a", ("Bool", None)]]  # True == 1, but a Bool record
    assert [v["d"] for v in inside] == [one, one, one, true, true]
