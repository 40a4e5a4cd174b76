"""Value encoding (recorder.values): typed records, bounds, cycles, hostile objects."""
from __future__ import annotations

import abc
import array
import collections
import dataclasses
import datetime
import decimal
import enum
import functools
import json
import sys
import types
import weakref
from typing import Any, Dict, List, Optional, Tuple

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

    def __init__(self, reprs: str = "builtin", **opts: Any) -> None:
        self.written: List[str] = []
        options = ValueOptions(**opts)
        self.types = TypeRegistry(self.written.append, options.max_types)
        self.enc = ValueEncoder(self.types, options, reprs)

    def __call__(self, obj: Any) -> Any:
        text = self.enc.encode(obj)
        assert isinstance(text, str) and text.isascii()
        return strict_loads(text)

    def type_of(self, record: Any) -> Tuple[int, str]:
        t = strict_loads(self.written[record["type_id"]])["Type"]
        return t["kind"], t["lang_type"]

    def fields(self, record: Any) -> Dict[str, Any]:
        """A Struct record as {field name: value record}, names from its Type record."""
        assert record["kind"] == "Struct", record
        t = strict_loads(self.written[record["type_id"]])["Type"]
        assert t["kind"] == TypeKind.STRUCT and t["specific_info"]["kind"] == "Struct", t
        names = [f["name"] for f in t["specific_info"]["fields"]]
        assert len(names) == len(record["field_values"]), (names, record)
        return dict(zip(names, record["field_values"]))


def count_records(rec: Any) -> int:
    return 1 + sum(count_records(e) for e in rec.get("elements", rec.get("field_values", ())))


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
    assert r.type_of(rec) == (TypeKind.STRUCT, type_name(P))
    assert {k: v["i"] for k, v in r.fields(rec).items()} == {"x": 1, "y": 2}
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

    for reprs in ("builtin", "program"):
        r = Recorder(reprs)
        obj = Odd()
        del calls[:]
        rec = r(obj)
        if reprs == "program":
            assert rec["kind"] == "Raw" and rec["r"] == "Odd!"
        else:
            assert r.fields(rec) == {}  # no state, no repr
        assert r.type_of(rec)[1].endswith("Odd")
        assert r(Odd)["r"] == "<class '%s'>" % type_name(Odd)  # not Meta's repr
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


class Bad:
    def __repr__(self) -> str:
        raise ValueError("no")


class Exits:
    def __repr__(self) -> str:
        raise SystemExit(3)


class NotStr:
    def __repr__(self) -> Any:
        return 42


class Interrupts:
    def __repr__(self) -> str:
        raise KeyboardInterrupt


def test_program_reprs_that_fail_are_never_called_by_default() -> None:
    r = Recorder()
    for cls in (Bad, Exits, NotStr, Interrupts):
        rec = r(cls())
        assert r.fields(rec) == {} and r.type_of(rec) == (TypeKind.STRUCT, type_name(cls))
    assert r.enc.interrupt is None


def test_repr_raising_gives_error_record_with_program_reprs() -> None:
    r = Recorder("program")
    rec = r(Bad())
    assert rec["kind"] == "Error" and rec["msg"] == "<repr failed: ValueError>"
    assert r.type_of(rec) == (TypeKind.RAW, type_name(Bad))  # not TypeKind.ERROR
    assert r(Exits())["msg"] == "<repr failed: SystemExit>"
    assert r(NotStr())["msg"] == "<repr failed: TypeError>"
    # inside a container too
    assert r([Bad()])["elements"][0]["kind"] == "Error"


def test_keyboard_interrupt_in_repr_is_deferred_with_program_reprs() -> None:
    r = Recorder("program")
    rec = r([1, Interrupts()])
    assert rec["elements"][1] == {"kind": "Error", "msg": "<interrupted>",
                                  "type_id": rec["elements"][1]["type_id"]}
    assert isinstance(r.enc.interrupt, KeyboardInterrupt)


def test_long_repr_is_cut_and_repr_called_once_with_program_reprs() -> None:
    calls = []

    class Long:
        def __repr__(self) -> str:
            calls.append(1)
            return "y" * 10000

    r = Recorder("program", max_repr=20)
    assert r(Long())["r"] == "y" * 20 + "...(+9980 chars)"
    assert calls == [1]
    assert Recorder(max_repr=20)(Long())["kind"] == "Struct" and calls == [1]


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

    # its __str__ never runs: the message comes from args, as BaseException's __str__ does
    assert r.enc.exception_text(Weird()).endswith(".<locals>.Weird")
    assert r.enc.exception_text(Weird("a", 1)).endswith(".<locals>.Weird: ('a', 1)")
    program = Recorder("program")
    assert program.enc.exception_text(Weird()).endswith(".<locals>.Weird: <str failed>")
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
        assert rec["kind"] in ("Raw", "Error", "Struct")


# -- program code never runs (reprs="builtin", the default) ----------------------------------

CALLS: List[str] = []


class Spy(type):
    """A metaclass whose every hook counts: the encoder must not touch any of them."""

    def __repr__(cls) -> str:
        CALLS.append("metaclass __repr__")
        return "Spy!"

    def __eq__(cls, other: Any) -> bool:
        CALLS.append("metaclass __eq__")
        return False

    def __hash__(cls) -> int:
        CALLS.append("metaclass __hash__")
        return 1

    def __instancecheck__(cls, obj: Any) -> bool:
        CALLS.append("__instancecheck__")
        return False

    def __subclasscheck__(cls, sub: Any) -> bool:
        CALLS.append("__subclasscheck__")
        return False

    def __getattribute__(cls, name: str) -> Any:
        CALLS.append("metaclass __getattribute__ " + name)
        return type.__getattribute__(cls, name)


class Watched(metaclass=Spy):
    """Every method the encoder could be tempted to call counts its calls."""

    def __init__(self, x: Any, y: Any) -> None:
        self.x = x
        self.y = y

    def __repr__(self) -> str:
        CALLS.append("__repr__")
        return "W"

    def __str__(self) -> str:
        CALLS.append("__str__")
        return "w"

    def __eq__(self, other: Any) -> bool:
        CALLS.append("__eq__")
        return False

    def __hash__(self) -> int:
        CALLS.append("__hash__")
        return 1

    def __len__(self) -> int:
        CALLS.append("__len__")
        return 1

    def __iter__(self) -> Any:
        CALLS.append("__iter__")
        return iter(())

    def __format__(self, spec: str) -> str:
        CALLS.append("__format__")
        return ""

    def __sizeof__(self) -> int:
        CALLS.append("__sizeof__")
        return 1

    @property
    def area(self) -> int:
        CALLS.append("property")
        return 1

    def __getattr__(self, name: str) -> Any:
        CALLS.append("__getattr__ " + name)
        raise AttributeError(name)

    def __getattribute__(self, name: str) -> Any:
        if name not in ("x", "y"):
            CALLS.append("__getattribute__ " + name)
        return object.__getattribute__(self, name)


class WatchedError(Exception):
    def __str__(self) -> str:
        CALLS.append("exception __str__")
        return "!"

    def __repr__(self) -> str:
        CALLS.append("exception __repr__")
        return "!"


class Lying:
    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        CALLS.append("__class__ property")
        return int

    @property
    def __dict__(self) -> Any:  # type: ignore[override]
        CALLS.append("__dict__ property")
        return {}


class Shape(abc.ABC):
    @classmethod
    def __subclasshook__(cls, other: Any) -> Any:
        CALLS.append("__subclasshook__")
        return NotImplemented


class Square(Shape):
    def __init__(self) -> None:
        self.side = 2


class Tone(enum.Enum):
    LOW = 1

    def __repr__(self) -> str:
        CALLS.append("enum __repr__")
        return "!"


def hostile_objects() -> List[Any]:
    w = Watched(1, "a")
    planted = Watched(2, "b")
    object.__getattribute__(planted, "__dict__")[Lying()] = "a key that is not a str"
    return [w, planted, Watched, [w, {"k": w, w: 1}], (w,), {w}, Lying(), Square(), Tone.LOW,
            WatchedError("m"), WatchedError(w), KeyError(w), OSError(2, "gone", w),
            w.__init__, functools.partial(print, w), types.SimpleNamespace(w=w),
            slice(w, 2), staticmethod(w), weakref.ref(Watched), Watched.__dict__,
            collections.namedtuple("Pair", "a b")(w, w), sys.modules[__name__]]


@pytest.mark.parametrize("index", range(len(hostile_objects())))
def test_no_program_code_runs(index: int) -> None:
    obj = hostile_objects()[index]
    del CALLS[:]
    r = Recorder()
    r(obj)
    r(obj)  # the cached path too
    if issubclass(type(obj), BaseException):  # isinstance would ask obj.__class__
        r.enc.exception_text(obj)
        strict_loads(r.enc.encode_exception(obj))
    assert CALLS == []


def test_program_reprs_run_again_when_asked() -> None:
    w = Watched(1, 2)
    del CALLS[:]
    r = Recorder("program")
    assert r(w)["r"] == "W" and r(Tone.LOW)["r"] == "Tone.LOW"
    assert r.enc.exception_text(WatchedError("m")).endswith("WatchedError: !")
    assert CALLS == ["__repr__", "exception __str__"]


def test_a_lying_object_is_typed_by_its_real_class() -> None:
    r = Recorder()
    rec = r(Lying())
    assert rec == {"kind": "Raw", "r": "<%s object>" % type_name(Lying),
                   "type_id": rec["type_id"]}  # its state is behind a property: not shown


# -- structs ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Login:
    user: str
    tries: int
    home: "Optional[Login]" = None


class Slotted:
    __slots__ = ("name", "__secret", "unset")

    def __init__(self, name: str) -> None:
        self.name = name
        self.__secret = 7


class SlottedChild(Slotted):
    __slots__ = ("extra",)

    def __init__(self) -> None:
        super().__init__("child")
        self.extra = [1]


def test_dataclass_is_a_struct_with_typed_fields() -> None:
    r = Recorder()
    rec = r(Login("ann", 3))
    assert r.type_of(rec) == (TypeKind.STRUCT, type_name(Login))
    fields = r.fields(rec)
    assert fields["user"]["text"] == "ann" and fields["tries"]["i"] == 3
    assert fields["home"]["kind"] == "None"
    t = strict_loads(r.written[rec["type_id"]])["Type"]
    assert [r.type_of({"type_id": f["type_id"]}) for f in t["specific_info"]["fields"]] == [
        (TypeKind.STRING, "str"), (TypeKind.INT, "int"), (TypeKind.NONE, "None")]
    before = len(r.written)
    r(Login("bob", 4, Login("ann", 3)))
    nested_layout = len(r.written) - before
    r(Login("cy", 5))
    r(Login("dee", 6, Login("eve", 7)))
    assert len(r.written) == before + nested_layout  # one Type per class and field names


def test_slots_base_first_private_names_and_unset_slots() -> None:
    r = Recorder()
    fields = r.fields(r(SlottedChild()))
    assert list(fields) == ["name", "_Slotted__secret", "extra"]  # "unset" is left out
    assert fields["_Slotted__secret"]["i"] == 7
    assert [e["i"] for e in fields["extra"]["elements"]] == [1]


@pytest.mark.skipif(sys.version_info < (3, 10), reason="dataclass(slots=True) is 3.10+")
def test_slots_dataclass() -> None:
    Point = dataclasses.make_dataclass("Point", ["x", "y"], slots=True)
    r = Recorder()
    assert {k: v["i"] for k, v in r.fields(r(Point(1, 2))).items()} == {"x": 1, "y": 2}


def test_nested_objects_are_bounded_and_cycle_safe() -> None:
    r = Recorder(max_depth=2, max_items=3)
    w = Watched(1, 2)
    w.me = w  # type: ignore[attr-defined]
    w.wide = Watched(list(range(10)), Watched(1, 2))  # type: ignore[attr-defined]
    w.more = 4  # type: ignore[attr-defined]
    fields = r.fields(r(w))
    assert list(fields) == ["x", "y", "me", "..."]
    assert fields["me"]["r"] == "<cycle>" and fields["..."]["r"] == "...(+2 more)"
    r = Recorder(max_depth=2)
    inner = r.fields(r.fields(r(w))["wide"])
    assert inner["x"]["r"] == "<list len=10>"
    assert inner["y"]["r"] == "<%s object>" % type_name(Watched)  # too deep
    big = Recorder(max_nodes=30)
    chain: Any = None
    for i in range(1000):
        chain = Login("x", i, chain)
    assert count_records(big(chain)) <= 30 + 10


def test_layouts_per_class_and_the_type_cap_fall_back_to_raw() -> None:
    r = Recorder()
    for i in range(40):
        obj = Watched(1, 2)
        setattr(obj, "a%d" % i, i)
        rec = r(obj)
    assert rec["r"] == "<%s object>" % type_name(Watched)
    r = Recorder(max_types=8)
    for i in range(20):
        rec = r(type("C%d" % i, (), {"__init__": lambda self: setattr(self, "v", 1)})())
    assert rec["kind"] == "Raw" and rec["r"].endswith("object>")
    assert len(r.written) <= 9


def test_c_types_that_repr_what_they_hold_are_structs() -> None:
    r = Recorder()
    w = Watched(1, 2)
    method = r.fields(r(w.__init__))
    assert method["__func__"]["r"].startswith("<function Watched.__init__")
    assert r.fields(method["__self__"])["x"]["i"] == 1
    part = r.fields(r(functools.partial(print, 5, sep="")))
    assert part["func"]["r"] == "<built-in function print>"
    assert part["args"]["elements"][0]["i"] == 5
    assert r.fields(r(types.SimpleNamespace(a=1)))["a"]["i"] == 1


def test_c_reprs_still_run() -> None:
    r = Recorder()
    assert r(datetime.date(2024, 1, 2))["r"] == "datetime.date(2024, 1, 2)"
    assert r(decimal.Decimal("1.5"))["r"] == "Decimal('1.5')"
    assert r(print)["r"] == "<built-in function print>"
    assert r(1j)["r"] == "1j"
    assert r(json)["r"] == "<module 'json' from %r>" % json.__file__
    assert r(Watched)["r"] == "<class '%s'>" % type_name(Watched)
    assert r(int)["r"] == "<class 'int'>"


def test_enum_members_without_their_repr() -> None:
    class Perm(enum.Flag):
        R = 1
        W = 2

    r = Recorder()
    assert r(Tone.LOW)["r"] == "Tone.LOW"
    combined = r(Perm.R | Perm.W)["r"]
    assert combined in ("Perm.R|W", "Perm(3)")  # a name from 3.11, none before


def test_exception_values_and_messages_without_program_code() -> None:
    r = Recorder()
    w = Watched(1, 2)
    assert r(ValueError("boom", 3))["r"] == "ValueError('boom', 3)"
    assert r(WatchedError(w))["r"] == "WatchedError(<%s object>)" % type_name(Watched)
    # messages: the interpreter's own where only plain values are involved
    for exc in (ValueError("boom"), KeyError("k"), OSError(2, "gone", "f.txt"),
                SyntaxError("bad", ("f.py", 1, 2, "x")), ValueError(1, "a"), ValueError()):
        label = type(exc).__name__
        assert r.enc.exception_text(exc) == (label + ": " + str(exc) if str(exc) else label)
    assert r.enc.exception_text(KeyError(w)) == "KeyError: <%s object>" % type_name(Watched)
    assert r.enc.exception_text(WatchedError("m")).endswith("WatchedError: m")


def test_struct_fields_follow_the_attribute_rules() -> None:
    r = Recorder()
    r.enc.attr_action = lambda name: {"password": 1, "internal": 2}.get(name, 0)
    login = types.SimpleNamespace(user="ann", password="hunter22", internal=1)
    fields = r.fields(r(login))
    assert list(fields) == ["user", "password"]
    assert fields["password"] == {"kind": "Error", "msg": "<redacted>",
                                  "type_id": fields["password"]["type_id"]}
    Pair = collections.namedtuple("Pair", "internal visible")
    assert list(r.fields(r(Pair(1, 2)))) == ["visible"]
    assert r.enc.attr_redactions == 1 and r.enc.attr_drops == 2
    assert r("hunter22")["msg"] == "<redacted>"  # the hidden text stays hidden
