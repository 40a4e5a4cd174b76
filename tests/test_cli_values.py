"""Hostile values through the command line: the program is unaffected and the trace small.

A self-referencing list and dict, an object whose ``__repr__`` raises, a 10^6-element list,
1000-deep nesting (and a few friends: a huge string, a repr that recurses forever, a
container subclass whose methods raise) are passed as arguments, returned, held in locals
and globals while lines run. The recorded run must print the same, exit with the same status,
and write a trace that ``json.load`` reads, that is balanced, and whose size stays bounded
(docs/trace-format.md, "Bounds").
"""
from __future__ import annotations

import glob
import json
import os
import textwrap

import pytest

from conftest import BACKENDS
from recorder.formats.reader import check_balance
from test_cli import run_plain, run_recorded

PROGRAM = textwrap.dedent("""
    import json
    import sys

    sys.setrecursionlimit(10000)  # json builds and measures the deep nesting in C

    class BadRepr:
        def __repr__(self):
            raise RuntimeError("no repr for you")
        __str__ = __repr__

    class Forever:
        def __repr__(self):
            return repr(self)  # RecursionError

    class Trap(list):
        def __iter__(self):
            raise AssertionError("the recorder must not iterate me")
        def __len__(self):
            raise AssertionError("the recorder must not ask my length")

    def keep(value, *more, **named):
        held = value
        return held

    def nest(depth):
        # built in C: a traced loop would make the trace long, whatever the values
        return json.loads("[" * depth + "]" * depth)

    def main():
        cycle = [1, 2]
        cycle.append(cycle)
        mapping = {"k": 1}
        mapping["self"] = mapping
        bad = BadRepr()
        forever = Forever()
        trap = Trap([1, 2, 3])
        big = list(range(10 ** 6))
        deep = nest(1000)
        text = "x" * 10 ** 6
        for value in (cycle, mapping, bad, forever, trap, big, deep, text):
            keep(value, value, name=value)
        total = sum(big)
        depth = json.dumps(deep).count("[")
        print(len(cycle), sorted(k for k in mapping), total, depth, len(text))
        return cycle

    GLOBAL_CYCLE = main()
    GLOBAL_BIG = list(range(10 ** 6))
    GLOBAL_DEEP = nest(1000)
    print("done", len(GLOBAL_BIG), file=sys.stderr)
    sys.exit(5)
""")

#: The trace files stay under this (90 Steps and 19 Calls: the full run writes ~110 KB).
#: Without the bounds a single Step's Values would be megabytes (a 10^6-element list, a
#: 10^6-character string) or never end (the cycles).
MAX_TRACE_BYTES = 200_000


@pytest.mark.parametrize("values, reprs", [("full", "builtin"), ("full", "program"),
                                           ("args", "builtin"), ("none", "builtin")])
@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_values_leave_the_program_alone_and_the_trace_small(tmp_path, backend, values,
                                                                    reprs):
    (tmp_path / "hostile.py").write_text(PROGRAM)
    plain = run_plain(tmp_path, ["hostile.py"])
    assert plain.returncode == 5, plain.stderr
    assert plain.stdout == "3 ['k', 'self'] 499999500000 1000 1000000\n"
    recorded = run_recorded(tmp_path, ["hostile.py"],
                            options=("--backend", backend, "--values", values,
                                     "--reprs", reprs))
    assert (recorded.stdout, recorded.stderr, recorded.returncode) == \
        (plain.stdout, plain.stderr, plain.returncode)

    out = tmp_path / "trace-out"
    traces = [str(out / "trace.json")] + glob.glob(str(out / "threads" / "trace-*.json"))
    size = 0
    for path in traces:
        with open(path, encoding="utf-8") as fh:
            events = json.load(fh)
        balance = check_balance(events)
        assert balance.ok, (path, balance.problems)
        size += os.path.getsize(path)
    assert size < MAX_TRACE_BYTES, size

    with open(out / "trace.json", encoding="utf-8") as fh:
        events = json.load(fh)
    calls = [e["Call"] for e in events if "Call" in e]
    assert len(calls) >= 1 + 1 + 8 + 3  # <toplevel>, the module, keep x8, main, nest x2
    assert events[-1] == {"Return": {"return_value": {"kind": "Int", "i": 5,
                                                      "type_id": events[-1]["Return"][
                                                          "return_value"]["type_id"]}}}
    if values == "none":
        assert not any("Value" in e for e in events)
        return
    text = json.dumps(events)
    assert "<cycle>" in text  # the self-referencing list and dict
    if reprs == "program":  # their reprs ran, and failed
        assert "repr failed: RuntimeError" in text  # BadRepr
        assert "repr failed: RecursionError" in text  # Forever
    else:  # never called: recorded from their (empty) state
        assert "repr failed" not in text
        structs = [e["Type"]["lang_type"] for e in events
                   if "Type" in e and e["Type"]["kind"] == 6]
        assert {"__main__.BadRepr", "__main__.Forever"} <= set(structs)
    assert "more)" in text  # the 10^6-element list, cut after max_items
    assert "the recorder must not" not in text  # Trap's methods never ran
    if values == "full":
        # module-level Steps show the user's globals, bounded too
        names = [e["VariableName"] for e in events if "VariableName" in e]
        assert {"GLOBAL_CYCLE", "GLOBAL_BIG", "cycle", "big", "deep"} <= set(names)
        assert "__builtins__" not in names
