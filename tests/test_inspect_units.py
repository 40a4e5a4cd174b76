"""The pieces of the trace views on hand-made traces: value rendering, the walker's telling of
arguments from locals, other layouts of the array (0.3.0's one line), import cost."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Tuple

import pytest

from recorder.inspect.errors import InspectError
from recorder.inspect.history import changes
from recorder.inspect.imports_cost import NOT_INSTALLED, STDLIB, ImportCosts, canonical_name
from recorder.inspect.render import render
from recorder.inspect.source import TraceDir
from recorder.inspect.walk import CALL, RAISE, RETURN, Walker

# -- rendering -----------------------------------------------------------------------------------

TYPES = [(30, "None", None), (7, "int", None), (9, "str", None), (0, "list", None),
         (27, "tuple", None), (0, "dict", None), (0, "set", None), (16, "<truncated>", None),
         (6, "shop.Item", {"kind": "Struct", "fields": [{"name": "name", "type_id": 2},
                                                        {"name": "qty", "type_id": 1}]}),
         (24, "ValueError", None), (16, "<redacted>", None), (27, "Point", None),
         (0, "collections.deque", None), (24, "<detached>", None), (8, "float", None),
         (12, "bool", None), (16, "int", None), (0, "List", None), (0, "Dict", None)]


def type_of(value: Any) -> Tuple[int, str, Any]:
    return TYPES[value["type_id"]]


def i(n: int) -> Dict[str, Any]:
    return {"kind": "Int", "i": n, "type_id": 1}


def s(text: str) -> Dict[str, Any]:
    return {"kind": "String", "text": text, "type_id": 2}


@pytest.mark.parametrize("value,shown", [
    (i(5), "5"),
    ({"kind": "Float", "f": 2.5, "type_id": 14}, "2.5"),
    ({"kind": "Bool", "b": True, "type_id": 15}, "True"),
    (s("a'b"), '"a\'b"'),
    ({"kind": "None", "type_id": 0}, "None"),
    ({"kind": "Sequence", "elements": [i(1), s("x")], "is_slice": False, "type_id": 3},
     "[1, 'x']"),
    ({"kind": "Sequence", "elements": [], "is_slice": False, "type_id": 6}, "set()"),
    ({"kind": "Sequence", "elements": [i(1), {"kind": "Raw", "r": "...(+98 more)",
                                             "type_id": 7}], "is_slice": False,
      "type_id": 3}, "[1, ...(+98 more)]"),
    ({"kind": "Tuple", "elements": [i(1)], "type_id": 4}, "(1,)"),
    ({"kind": "Tuple", "elements": [i(1), i(2)], "type_id": 11}, "Point(1, 2)"),
    ({"kind": "Sequence", "elements": [{"kind": "Tuple", "elements": [s("k"), i(3)],
                                        "type_id": 4}], "is_slice": False, "type_id": 5},
     "{'k': 3}"),
    ({"kind": "Sequence", "elements": [i(1)], "is_slice": False, "type_id": 12},
     "collections.deque([1])"),
    ({"kind": "Struct", "field_values": [s("pen"), i(2)], "type_id": 8},
     "shop.Item(name='pen', qty=2)"),
    ({"kind": "Raw", "r": "<Box at 0x1>", "type_id": 7}, "<Box at 0x1>"),
    ({"kind": "Raw", "r": "123456789012345678901234567890", "type_id": 16},
     "123456789012345678901234567890"),
    ({"kind": "Error", "msg": "ValueError: boom", "type_id": 9}, "!ValueError: boom"),
    ({"kind": "Error", "msg": "<redacted>", "type_id": 10}, "<redacted>"),
    ({"kind": "Error", "msg": "<detached>", "type_id": 13}, "<detached>"),
    ({"kind": "Variant", "discriminator": "Some", "contents": i(1), "type_id": 1},
     "Some(1)"),
    ({"kind": "Reference", "dereferenced": i(4), "address": 1, "mutable": False,
      "type_id": 1}, "&4"),
    ({"kind": "BigInt", "b": "AQA=", "negative": True, "type_id": 1}, "-256"),
    ({"kind": "Cell", "place": 3}, "<cell 3>"),
    ({"kind": "SomethingNew", "type_id": 1}, "<SomethingNew>"),
    # 0.3.0's names of the builtin containers
    ({"kind": "Sequence", "elements": [i(1)], "is_slice": False, "type_id": 17}, "[1]"),
    ({"kind": "Sequence", "elements": [], "is_slice": False, "type_id": 18}, "{}"),
])
def test_every_value_record_is_rendered_from_the_record_and_its_type(value, shown):
    if value.get("kind") == "String":
        shown = repr(value["text"])
    assert render(value, type_of) == shown


def test_rendering_is_cut_at_the_limit():
    big = {"kind": "Sequence", "elements": [s("x" * 50)] * 50, "is_slice": False,
           "type_id": 3}
    text = render(big, type_of, limit=40)
    assert len(text) == 40 and text.endswith("...") and text.startswith("['xxxx")


# -- the walker -----------------------------------------------------------------------------------

def _v(vid: int, value: Any) -> Dict[str, Any]:
    return {"Value": {"variable_id": vid, "value": value}}


#: outer() at line 3 has a local x; it calls inner(n=5, x=7) (an argument named like the
#: caller's local, written right after it, with nothing between), then x becomes 2
RECORDS: List[Dict[str, Any]] = [
    {"Path": "/p/a.py"},
    {"Function": {"path_id": 0, "line": 1, "name": "<toplevel>"}},
    {"Call": {"function_id": 0, "args": []}},
    {"Type": {"kind": 30, "lang_type": "None", "specific_info": {"kind": "None"}}},
    {"Type": {"kind": 7, "lang_type": "int", "specific_info": {"kind": "None"}}},
    {"Function": {"path_id": 0, "line": 3, "name": "outer"}},
    {"Step": {"path_id": 0, "line": 3}},
    {"Call": {"function_id": 1, "args": []}},
    {"Step": {"path_id": 0, "line": 4}},
    {"VariableName": "x"},
    _v(0, i(1)),
    {"Function": {"path_id": 0, "line": 9, "name": "inner"}},
    {"VariableName": "n"},
    _v(1, i(5)),
    _v(0, i(7)),
    {"Step": {"path_id": 0, "line": 9}},
    {"Call": {"function_id": 2, "args": [{"variable_id": 1, "value": i(5)},
                                         {"variable_id": 0, "value": i(7)}]}},
    {"Step": {"path_id": 0, "line": 10}},
    _v(1, i(5)),
    _v(0, i(7)),
    {"Event": {"kind": 11, "metadata": json.dumps({"event": "raise", "exception": "KeyError",
                                                   "path_id": 0, "line": 10}),
               "content": "KeyError: 'k'"}},
    {"Type": {"kind": 24, "lang_type": "KeyError", "specific_info": {"kind": "None"}}},
    {"Return": {"return_value": {"kind": "Error", "msg": "KeyError: 'k'", "type_id": 2}}},
    {"Step": {"path_id": 0, "line": 5}},
    _v(0, i(2)),
    {"Step": {"path_id": 0, "line": 6}},
    _v(0, i(2)),
    {"Return": {"return_value": {"kind": "None", "type_id": 0}}},
    {"Return": {"return_value": i(0)}},
]


def write_trace(folder: Any, records: List[Any], one_line: bool = False) -> TraceDir:
    os.makedirs(str(folder))
    with open(os.path.join(str(folder), "trace.json"), "w") as fh:
        if one_line:  # as 0.3.0 writes it
            fh.write(json.dumps(records))
        else:  # as ours
            fh.write("[\n" + ",\n".join(json.dumps(r, separators=(",", ":"))
                                       for r in records) + "\n]\n")
    return TraceDir(str(folder))


@pytest.mark.parametrize("one_line", [False, True], ids=["ours", "one-line"])
def test_arguments_are_told_from_the_callers_locals(tmp_path, one_line):
    trace = write_trace(tmp_path / "t", RECORDS, one_line)
    walker = Walker(trace.files[0], names={"x", "n"})
    got = [(c.frame.function.name, c.name, c.line, c.value_text, c.argument)
           for c in changes(walker, None, None)]
    assert got == [
        ("outer", "x", 3, '{"kind":"Int","i":1,"type_id":1}', False),
        ("inner", "n", 9, '{"kind":"Int","i":5,"type_id":1}', True),
        ("inner", "x", 9, '{"kind":"Int","i":7,"type_id":1}', True),
        # set by line 4 (the caller's Step at inner's first line belongs to the call)
        ("outer", "x", 4, '{"kind":"Int","i":2,"type_id":1}', False),
    ]
    only = Walker(trace.files[0], names={"n"})
    assert [c.name for c in changes(only, None, None)] == ["n"]


@pytest.mark.parametrize("one_line", [False, True], ids=["ours", "one-line"])
def test_calls_returns_and_exceptions_are_nested(tmp_path, one_line):
    trace = write_trace(tmp_path / "t", RECORDS, one_line)
    walker = Walker(trace.files[0])
    seen = []
    for event in walker.events():
        if event[0] == CALL:
            seen.append(("call", event[1].function.name, event[1].depth,
                         [(n, v["i"]) for n, v in event[1].args()]))
        elif event[0] == RETURN:
            seen.append(("return", event[1].function.name, event[3]))
        elif event[0] == RAISE:
            seen.append(("raise", event[1].function.name, event[2]["exception"],
                         event[2]["line"]))
    assert seen == [("call", "<toplevel>", 0, []), ("call", "outer", 1, []),
                    ("call", "inner", 2, [("n", 5), ("x", 7)]),
                    ("raise", "inner", "KeyError", 10),
                    ("return", "inner", ("KeyError", "KeyError: 'k'")),
                    ("return", "outer", None), ("return", "<toplevel>", None)]
    assert (walker.calls, walker.steps, walker.values, walker.max_depth) == (3, 6, 7, 3)
    assert walker.records.count == len(RECORDS)


def test_a_call_before_its_function_is_bad_input(tmp_path):
    records = [{"Path": "/p/a.py"}, {"Call": {"function_id": 3, "args": []}}]
    trace = write_trace(tmp_path / "t", records)
    with pytest.raises(InspectError, match="a Call names function 3 before its Function"):
        list(Walker(trace.files[0]).events())


# -- import cost ----------------------------------------------------------------------------------

def test_import_cost_per_package_counts_nested_imports_once(tmp_path):
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    (site / "Fancy_Lib-1.2.dist-info").mkdir(parents=True)
    (site / "Fancy_Lib-1.2.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: Fancy_Lib\nVersion: 1.2\n")
    (site / "Fancy_Lib-1.2.dist-info" / "top_level.txt").write_text("fancy\n")
    fancy = str(site / "fancy" / "__init__.py")
    lines = [  # finish order: nested imports first
        {"module": "fancy.core", "origin": str(site / "fancy" / "core.py"), "thread": 1,
         "depth": 2, "start": 0.2, "duration": 0.1, "ok": True, "error": None},
        {"module": "json", "origin": "/usr/lib/python3.12/json/__init__.py", "thread": 1,
         "depth": 2, "start": 0.35, "duration": 0.05, "ok": True, "error": None},
        {"module": "fancy.sub", "origin": str(site / "fancy" / "sub.py"), "thread": 1,
         "depth": 1, "start": 0.15, "duration": 0.3, "ok": True, "error": None},
        {"module": "fancy", "origin": fancy, "thread": 1, "depth": 0, "start": 0.1,
         "duration": 0.5, "ok": True, "error": None},
        {"module": "app_helpers", "origin": "/src/app_helpers.py", "thread": 1, "depth": 0,
         "start": 0.7, "duration": 0.01, "ok": False, "error": "ValueError: no"},
    ]
    path = tmp_path / "imports.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"module": "cut')
    costs = ImportCosts(str(path))
    assert costs.count == 5 and costs.total == pytest.approx(0.51)
    fancy_cost = costs.packages["fancy"]
    assert fancy_cost.modules == 3
    assert fancy_cost.cumulative == pytest.approx(0.5)  # fancy.* nested in fancy: once
    assert fancy_cost.self_time == pytest.approx(0.2 + 0.15 + 0.1)
    assert costs.packages["json"].cumulative == pytest.approx(0.05)
    dist = costs.distributions["fancy-lib"]
    assert (dist.version, dist.modules, dist.cumulative) == ("1.2", 3, pytest.approx(0.5))
    assert costs.distributions[STDLIB].modules == 1
    assert costs.distributions[NOT_INSTALLED].failed == 1
    assert costs.failed == [{"module": "app_helpers", "error": "ValueError: no"}]


def test_canonical_names_are_pep_503():
    assert canonical_name("Fancy_Lib.Extra") == "fancy-lib-extra"
