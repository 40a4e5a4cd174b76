"""Value encoding (recorder.values): typed records, bounds, cycles, hostile objects."""
from __future__ import annotations

import array
import collections
import enum
import json
import sys
from typing import Any, List, Tuple

import pytest

from recorder.values import (TypeKind, TypeRegistry, ValueEncoder, ValueOptions, encode_value,
                             json_string, type_name)


def strict_loads(text: str) -> Any:
    """json.loads that refuses NaN/Infinity, like serde_json."""
    def bad(token: str) -> Any:
        raise ValueError("non-standard JSON constant %s" % token)
    return json.loads(text, parse_constant=bad)


class Recorder:
    """An encoder whose Type records are kept, as a stream would write them."""

    def __init__(self, **opts: Any) -> None:
        self.written: List[str] = []
        options = ValueOptions(**opts)
        self.types = TypeRegistry(self.written.append, options.max_types)
        self.enc = ValueEncoder(self.types, options)

    def __call__(self, obj: Any) -> Any:
        text = self.enc.encode(obj)
        assert isinstance(text, str) and text.isascii()
        return strict_loads(text)

    def type_of(self, record: Any) -> Tuple[int, str]:
        t = strict_loads(self.written[record["type_id"]])["Type"]
        return t["kind"], t["lang_type"]


def count_records(rec: Any) -> int:
    return 1 + sum(count_records(e) for e in rec.get("elements", ()))


# -- scalars -------------------------------------------------------------------------------

def test_none_is_type_zero() -> None:
    r = Recorder()
    assert r(None) == {"kind": "None", "type_id": 0}
    assert strict_loads(r.written[0]) == {"Type": {"kind": 30, "lang_type": "None",
                                                   "specific_info": {"kind": "None"}}}


@pytest.mark.parametrize("value", [0, 1, -1, 2**63 - 1, -2**63, 12345])
def test_int_in_i64(value: int) -> None:
    r = Recorder()
    rec = r(value)
    assert rec["kind"] == "Int" and rec["i"] == value
    assert r.type_of(rec) == (TypeKind.INT, "int")
    assert r(value) == rec  # memoised path gives the same record


@pytest.mark.parametrize("value", [2**63, -2**63 - 1, 10**30])
def test_big_int_is_raw_decimal(value: int) -> None:
    r = Recorder()
    rec = r(value)
    assert rec == {"kind": "Raw", "r": str(value), "type_id": rec["type_id"]}
    assert r.type_of(rec) == (TypeKind.RAW, "int")


def test_huge_int_is_summarised_without_str() -> None:
    r = Recorder()
    rec = r(1 << 100000)
    assert rec["kind"] == "Raw" and rec["r"].startswith("<int of ~") and len(rec["r"]) < 40


def test_bool_float_str() -> None:
    r = Recorder()
    assert r(True)["b"] is True and r(False)["b"] is False
    assert r.type_of(r(True)) == (TypeKind.BOOL, "bool")
    f = r(2.5)
    assert f["kind"] == "Float" and f["f"] == 2.5 and r.type_of(f) == (TypeKind.FLOAT, "float")
    assert r(2.5) == f
    assert r(-0.0)["f"] == 0.0 and str(r(-0.0)["f"]) == "-0.0"
    assert r(0.0)["f"] == 0.0 and str(r(0.0)["f"]) == "0.0"
    for special in (float("nan"), float("inf"), float("-inf")):
        rec = r(special)
        assert rec["kind"] == "Raw" and rec["r"] in ("nan", "inf", "-inf")
    s = r("héllo\n\"x\"")
    assert s == {"kind": "String", "text": "héllo\n\"x\"", "type_id": s["type_id"]}
    assert r.type_of(s) == (TypeKind.STRING, "str")


def test_long_string_is_cut() -> None:
    r = Recorder(max_string=10)
    rec = r("x" * 1000)
    assert rec["text"] == "x" * 10 + "...(+990 chars)"


def test_lone_surrogate_gives_valid_strict_json() -> None:
    text = json_string("a\ud800b")
    assert "\\ud800" not in text.lower() or "\\\\ud800" in text.lower()
    assert strict_loads(text) == "a\\ud800b"
    assert json_string("😀") == '"\\ud83d\\ude00"'  # a proper pair is kept


# -- containers ----------------------------------------------------------------------------

def test_list_tuple_set_dict() -> None:
    r = Recorder()
    lst = r([1, "a", None])
    assert lst["kind"] == "Sequence" and lst["is_slice"] is False
    assert [e["kind"] for e in lst["elements"]] == ["Int", "String", "None"]
    assert r.type_of(lst) == (TypeKind.SEQ, "list")
    tup = r((1, 2))
    assert tup["kind"] == "Tuple" and r.type_of(tup) == (TypeKind.TUPLE, "tuple")
    st = r({3})
    assert st["kind"] == "Sequence" and r.type_of(st) == (TypeKind.SEQ, "set")
    assert r.type_of(r(frozenset([1]))) == (TypeKind.SEQ, "frozenset")
    d = r({"k": [1], 2: "v"})
    assert d["kind"] == "Sequence" and r.type_of(d) == (TypeKind.SEQ, "dict")
    pairs = d["elements"]
    assert all(p["kind"] == "Tuple" and len(p["elements"]) == 2 for p in pairs)
    assert pairs[0]["elements"][0]["text"] == "k"
    assert pairs[0]["elements"][1]["elements"][0]["i"] == 1
    assert pairs[1]["elements"][0]["i"] == 2 and pairs[1]["elements"][1]["text"] == "v"


def test_namedtuple_deque_views_typed_by_class() -> None:
    r = Recorder()
    P = collections.namedtuple("P", "x y")
    rec = r(P(1, 2))
    assert rec["kind"] == "Tuple" and r.type_of(rec)[1].endswith("P")
    assert r(collections.deque([1, 2]))["kind"] == "Sequence"
    assert [e["i"] for e in r({"a": 1}.values())["elements"]] == [1]
    od = r(collections.OrderedDict(a=1))
    assert od["kind"] == "Sequence" and r.type_of(od) == (TypeKind.SEQ, "collections.OrderedDict")


def test_subclass_overrides_are_not_called() -> None:
    calls: List[str] = []

    class L(list):
        def __iter__(self):  # type: ignore[override]
            calls.append("iter")
            raise RuntimeError

        def __len__(self) -> int:
            calls.append("len")
            raise RuntimeError

    class D(dict):
        def items(self):  # type: ignore[override]
            calls.append("items")
            raise RuntimeError

        def __iter__(self):  # type: ignore[override]
            calls.append("diter")
            raise RuntimeError

    class S(str):
        def __str__(self) -> str:
            calls.append("str")
            return "nope"

    r = Recorder()
    assert [e["i"] for e in r(L([1, 2]))["elements"]] == [1, 2]
    assert len(r(D(a=1))["elements"]) == 1
    assert r(S("yes") * 300)["text"].startswith("yes")
    assert calls == []


def test_metaclass_and_class_property_are_not_called() -> None:
    calls: List[str] = []

    class Meta(type):
        def __eq__(cls, other: Any) -> bool:
            calls.append("eq")
            raise RuntimeError

        def __hash__(cls) -> int:
            calls.append("hash")
            raise RuntimeError

        def __getattribute__(cls, name: str) -> Any:
            calls.append("getattr " + name)
            return type.__getattribute__(cls, name)

    class Odd(metaclass=Meta):
        @property
        def __class__(self) -> Any:  # type: ignore[override]
            calls.append("class")
            raise RuntimeError

        def __repr__(self) -> str:
            return "Odd!"

    r = Recorder()
    obj = Odd()
    del calls[:]
    rec = r(obj)
    assert rec["kind"] == "Raw" and rec["r"] == "Odd!"
    assert r.type_of(rec)[1].endswith("Odd")
    assert calls == []


# -- hostile values ------------------------------------------------------------------------

def test_self_referencing_list_and_dict() -> None:
    r = Recorder()
    lst: List[Any] = [1]
    lst.append(lst)
    rec = r(lst)
    cycle = rec["elements"][1]
    assert cycle == {"kind": "Raw", "r": "<cycle>", "type_id": cycle["type_id"]}
    d: dict = {}
    d["me"] = d
    rec = r(d)
    assert rec["elements"][0]["elements"][1]["r"] == "<cycle>"
    a: List[Any] = []
    b: List[Any] = [a]
    a.append(b)
    assert "<cycle>" in json.dumps(r(a))


def test_shared_but_not_cyclic_is_not_a_cycle() -> None:
    r = Recorder()
    x = [1]
    rec = r([x, x])
    assert [e["kind"] for e in rec["elements"]] == ["Sequence", "Sequence"]


def test_million_element_list_is_small() -> None:
    r = Recorder()
    rec = r(list(range(10**6)))
    assert len(json.dumps(rec)) < 2000
    assert rec["elements"][-1]["r"] == "...(+999984 more)"
    assert len(rec["elements"]) == 17


def test_deep_nesting_is_small() -> None:
    r = Recorder()
    x: List[Any] = []
    for _ in range(1000):
        x = [x]
    rec = r(x)
    text = json.dumps(rec)
    assert len(text) < 1000
    assert "<list len=1>" in text
    d: dict = {}
    for _ in range(1000):
        d = {"k": d}
    assert len(json.dumps(r(d))) < 2000


def test_node_budget_bounds_wide_and_deep() -> None:
    r = Recorder(max_nodes=50)
    rec = r([[list(range(100))] * 100] * 100)
    assert count_records(rec) <= 50 + 20
    assert len(json.dumps(rec)) < 8000


def test_repr_raising_gives_error_record() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise ValueError("no")

    class Exits:
        def __repr__(self) -> str:
            raise SystemExit(3)

    class NotStr:
        def __repr__(self) -> Any:
            return 42

    r = Recorder()
    rec = r(Bad())
    assert rec["kind"] == "Error" and rec["msg"] == "<repr failed: ValueError>"
    assert r.type_of(rec) == (TypeKind.RAW, type_name(Bad))  # not TypeKind.ERROR
    assert r(Exits())["msg"] == "<repr failed: SystemExit>"
    assert r(NotStr())["msg"] == "<repr failed: TypeError>"
    # inside a container too
    assert r([Bad()])["elements"][0]["kind"] == "Error"


def test_keyboard_interrupt_in_repr_is_deferred() -> None:
    class Interrupts:
        def __repr__(self) -> str:
            raise KeyboardInterrupt

    r = Recorder()
    rec = r([1, Interrupts()])
    assert rec["elements"][1] == {"kind": "Error", "msg": "<interrupted>",
                                  "type_id": rec["elements"][1]["type_id"]}
    assert isinstance(r.enc.interrupt, KeyboardInterrupt)


def test_long_repr_is_cut_and_repr_called_once() -> None:
    calls = []

    class Long:
        def __repr__(self) -> str:
            calls.append(1)
            return "y" * 10000

    r = Recorder(max_repr=20)
    assert r(Long())["r"] == "y" * 20 + "...(+9980 chars)"
    assert calls == [1]


def test_native_containers_are_summarised_without_repr() -> None:
    r = Recorder()
    big = array.array("i", range(1000))
    assert r(big)["r"] == "<array.array len=1000>"
    assert r(array.array("i", [1, 2]))["r"] == "array('i', [1, 2])"
    assert r(range(10**12))["r"] == "range(0, 1000000000000)"


def test_bytes() -> None:
    r = Recorder(max_repr=4)
    assert r(b"abcdefgh")["r"] == "b'abcd'...(+4 bytes)"
    assert r(bytearray(b"ab"))["r"] == "b'ab'"


def test_enum_members() -> None:
    class Color(enum.Enum):
        RED = 1

    class Num(enum.IntEnum):
        ONE = 1

    r = Recorder()
    assert r(Color.RED)["r"] == "Color.RED"
    assert r(Num.ONE)["r"] == "Num.ONE"


def test_int_and_float_subclasses_typed_by_class() -> None:
    class MyInt(int):
        def __index__(self) -> int:
            raise RuntimeError

        def __repr__(self) -> str:
            raise RuntimeError

    r = Recorder()
    rec = r(MyInt(7))
    assert rec["kind"] == "Int" and rec["i"] == 7 and r.type_of(rec)[1].endswith("MyInt")


# -- types and options ---------------------------------------------------------------------

def test_type_ids_by_first_appearance_and_written_before_use() -> None:
    r = Recorder()
    r([1, "a"])
    kinds = [strict_loads(w)["Type"]["lang_type"] for w in r.written]
    assert kinds == ["None", "int", "str", "list"]
    r([2, "b"])
    assert len(r.written) == 4


def test_type_cap() -> None:
    r = Recorder(max_types=8)
    classes = [type("C%d" % i, (), {}) for i in range(20)]
    for c in classes:
        r(c())
    names = [strict_loads(w)["Type"]["lang_type"] for w in r.written]
    assert len(names) <= 9 and "<other>" in names


def test_options_are_configurable() -> None:
    r = Recorder(max_items=2, max_depth=1)
    rec = r([[1], 2, 3])
    assert rec["elements"][0]["r"] == "<list len=1>"
    assert rec["elements"][2]["r"] == "...(+1 more)"


def test_exception_text_and_record() -> None:
    r = Recorder()
    assert r.enc.exception_text(ValueError("boom")) == "ValueError: boom"
    assert r.enc.exception_text(KeyError("k")) == "KeyError: 'k'"
    assert r.enc.exception_text(ValueError()) == "ValueError"
    assert r.enc.exception_text(ValueError("x"), with_message=False) == "ValueError"

    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError

    assert r.enc.exception_text(Weird()).endswith(".<locals>.Weird: <str failed>")
    rec = strict_loads(r.enc.encode_exception(ValueError("boom")))
    assert rec["kind"] == "Error" and rec["msg"] == "ValueError: boom"
    assert r.type_of(rec) == (TypeKind.ERROR, "ValueError")


def test_encode_value_helper() -> None:
    rec, types = encode_value({"a": (1, 2.5)})
    assert rec["kind"] == "Sequence"
    assert [t["lang_type"] for t in types][0] == "None"


def test_never_raises_on_strange_objects() -> None:
    class NoRepr:
        __repr__ = None  # type: ignore[assignment]

    class GetattrBomb:
        def __getattribute__(self, name: str) -> Any:
            raise RuntimeError(name)

    r = Recorder()
    for obj in (NoRepr(), GetattrBomb(), sys, print, type, object(), 1j, Ellipsis,
                NotImplemented, memoryview(b"x" * 100), iter([1]), (i for i in [])):
        rec = r(obj)
        assert rec["kind"] in ("Raw", "Error")
