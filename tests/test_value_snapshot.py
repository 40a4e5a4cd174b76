"""ValueEncoder.snapshot/same: a container's record is written again only when encoding it
afresh would give the very same text."""
from __future__ import annotations

from typing import Any

from recorder.values import TypeRegistry, ValueEncoder, ValueOptions


def encoder(**options: Any) -> ValueEncoder:
    return ValueEncoder(TypeRegistry(lambda text: None), ValueOptions(**options))


def kept(enc: ValueEncoder, value: Any) -> Any:
    record, snap = enc.encode_kept(value)
    assert record == enc.encode(value)
    assert snap is not None and enc.same(value, snap)
    return snap


def test_an_unchanged_container_is_the_same() -> None:
    enc = encoder()
    for value in ([1, "a", None, 2.5, True], {"k": 1, 2: "v"}, (1, (2, 3)), {1, 2},
                  [[1, 2], {"x": [3]}], []):
        kept(enc, value)


def test_a_mutated_container_is_encoded_again() -> None:
    enc = encoder()
    items = [1, 2, 3]
    snap = kept(enc, items)
    items.append(4)
    assert not enc.same(items, snap)
    d = {"a": 1}
    snap = kept(enc, d)
    d["a"] = 2
    assert not enc.same(d, snap)
    d["a"] = 1
    assert enc.same(d, snap)  # the same objects shown again: the same record


def test_a_change_in_place_with_the_same_length_and_first_elements() -> None:
    enc = encoder(max_items=4)
    items = list(range(10))
    snap = kept(enc, items)
    items[3] = 300  # inside the shown part, length and items[0] unchanged
    assert not enc.same(items, snap)
    items[3] = 3
    assert enc.same(items, snap)
    items[7] = 700  # past max_items: not shown, the record stays right
    assert enc.same(items, snap)
    assert enc.encode_kept(items)[0] == enc.encode(list(range(10)))


def test_a_nested_change_is_seen() -> None:
    enc = encoder()
    inner = [1, 2]
    outer = {"a": inner}
    snap = kept(enc, outer)
    inner.append(3)
    assert not enc.same(outer, snap)
    rows = [[0], [1]]
    snap = kept(enc, rows)
    rows[1][0] = 5
    assert not enc.same(rows, snap)


def test_the_same_value_of_another_type_is_not_the_same() -> None:
    enc = encoder()
    items = [1, 2]
    snap = kept(enc, items)
    items[0] = True  # == 1, but a Bool record
    assert not enc.same(items, snap)
    assert not enc.same((1, 2), snap)  # a tuple of the same objects


def test_containers_too_deep_are_checked_by_length() -> None:
    enc = encoder(max_depth=1)
    inner = [1]
    outer = [inner]
    snap = kept(enc, outer)
    inner.append(2)  # shown as <list len=2> now
    assert not enc.same(outer, snap)


def test_what_is_not_snapshotted() -> None:
    enc = encoder()

    class Point:
        def __init__(self) -> None:
            self.x = 1

    assert enc.encode_kept([Point()])[1] is None  # program objects: checked by encoding
    cycle: list = []
    cycle.append(cycle)
    assert enc.encode_kept(cycle)[1] is None
    assert enc.encode_kept(["x" * 5000])[1] is None  # held elements stay small


def test_a_reprs_change_forgets_snapshots() -> None:
    enc = encoder()
    items = [1]
    snap = kept(enc, items)
    enc.use_reprs("program")
    assert not enc.same(items, snap)


def test_a_subclass_overriding_iteration_is_never_called() -> None:
    enc = encoder()

    class Sneaky(dict):
        def __iter__(self):  # type: ignore[override]
            raise AssertionError("program code ran")

        def keys(self):  # type: ignore[override]
            raise AssertionError("program code ran")

    d = Sneaky(a=1)
    snap = kept(enc, d)
    d["a"] = 2
    assert not enc.same(d, snap)
