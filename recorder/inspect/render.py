"""Value records shown as Python-like text, from the record and its ``Type`` alone.

Every kind of ``runtime_tracing`` value record is rendered generically: ``Int``, ``Float``,
``Bool``, ``String``, ``None``, ``Sequence`` (a list, set, dict, deque... after its
``lang_type``), ``Tuple``, ``Struct`` (``Type(field=value, ...)`` with the field names of its
Type's ``specific_info``), ``Variant``, ``Reference``, ``BigInt``, ``Raw`` (its text, which is
a repr), ``Error`` (``<message>``; an exception exit reads ``!Type: message``) and ``Cell``.
A kind this module does not know is shown as ``<Kind>``, never an error. Text is cut at
``limit`` characters.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Callable, List, Tuple

_KIND_ERROR = 24
#: lang_types whose Sequence is shown as a dict: Tuple records of [key, value]
_MAPPINGS = ("dict", "collections.OrderedDict", "collections.defaultdict",
             "collections.Counter", "mappingproxy")
_BRACKETS = {"list": ("[", "]"), "set": ("{", "}"), "tuple": ("(", ")")}
#: codetracer-python-recorder 0.3.0's names of the builtin containers
_ALIASES = {"List": "list", "Tuple": "tuple", "Dict": "dict", "Set": "set"}

TypeOf = Callable[[Any], Tuple[int, str, Any]]


def render_text(text: str, type_of: TypeOf, limit: int = 200) -> str:
    """Render a value record given as JSON text."""
    try:
        value = json.loads(text)
    except ValueError:
        return _cut(text, limit)
    return render(value, type_of, limit)


def render(value: Any, type_of: TypeOf, limit: int = 200) -> str:
    out: List[str] = []
    _render(value, type_of, out, limit + 1)
    return _cut("".join(out), limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:max(0, limit - 3)] + "..."


def _render(value: Any, type_of: TypeOf, out: List[str], budget: int) -> int:
    """Append the text of ``value`` to ``out``; returns the budget left (stops at 0)."""
    if budget <= 0:
        return 0
    if not isinstance(value, dict):
        return _put(out, repr(value), budget)
    kind = value.get("kind")
    if kind == "Int":
        return _put(out, str(value.get("i")), budget)
    if kind == "Float":
        return _put(out, repr(value.get("f")), budget)
    if kind == "Bool":
        return _put(out, "True" if value.get("b") else "False", budget)
    if kind == "String":
        return _put(out, repr(str(value.get("text", ""))), budget)
    if kind == "None":
        return _put(out, "None", budget)
    if kind == "Raw":
        return _put(out, str(value.get("r", "")), budget)
    if kind == "Error":
        tkind, lang_type, _ = type_of(value)
        msg = str(value.get("msg", ""))
        if tkind == _KIND_ERROR and lang_type != "<detached>":
            return _put(out, "!" + msg, budget)
        return _put(out, msg if msg.startswith("<") else "<%s>" % msg, budget)
    if kind == "Sequence":
        return _sequence(value, type_of, out, budget)
    if kind == "Tuple":
        lang_type = _lang_type(value, type_of)
        elements = value.get("elements") or []
        if lang_type in ("tuple", "?"):
            budget = _elements(elements, type_of, out, budget, "(", ")")
            if len(elements) == 1 and out[-1] == ")":
                out.insert(len(out) - 1, ",")
            return budget
        return _elements(elements, type_of, out, budget, lang_type + "(", ")")
    if kind == "Struct":
        return _struct(value, type_of, out, budget)
    if kind == "Variant":
        budget = _put(out, str(value.get("discriminator", "")), budget)
        return _elements([value.get("contents")], type_of, out, budget, "(", ")")
    if kind == "Reference":
        budget = _put(out, "&", budget)
        return _render(value.get("dereferenced"), type_of, out, budget)
    if kind == "BigInt":
        return _put(out, _big_int(value), budget)
    if kind == "Cell":
        return _put(out, "<cell %s>" % value.get("place"), budget)
    return _put(out, "<%s>" % kind, budget)


def _put(out: List[str], text: str, budget: int) -> int:
    out.append(text)
    return budget - len(text)


def _elements(elements: List[Any], type_of: TypeOf, out: List[str], budget: int,
              opening: str, closing: str) -> int:
    budget = _put(out, opening, budget)
    for i, element in enumerate(elements):
        if budget <= 0:
            return 0
        if i:
            budget = _put(out, ", ", budget)
        budget = _render(element, type_of, out, budget)
    return _put(out, closing, budget)


def _lang_type(value: Any, type_of: TypeOf) -> str:
    lang_type = type_of(value)[1]
    return _ALIASES.get(lang_type, lang_type)


def _sequence(value: Any, type_of: TypeOf, out: List[str], budget: int) -> int:
    lang_type = _lang_type(value, type_of)
    elements = value.get("elements") or []
    if lang_type in _MAPPINGS or lang_type.endswith("Dict"):
        budget = _put(out, "{" if lang_type == "dict" else lang_type + "({", budget)
        for i, pair in enumerate(elements):
            if budget <= 0:
                return 0
            if i:
                budget = _put(out, ", ", budget)
            items = pair.get("elements") if isinstance(pair, dict) else None
            if pair.get("kind") == "Tuple" and isinstance(items, list) and len(items) == 2:
                budget = _render(items[0], type_of, out, budget)
                budget = _put(out, ": ", budget)
                budget = _render(items[1], type_of, out, budget)
            else:  # the "...(+N more)" element
                budget = _render(pair, type_of, out, budget)
        return _put(out, "}" if lang_type == "dict" else "})", budget)
    if lang_type in _BRACKETS:
        opening, closing = _BRACKETS[lang_type]
        if lang_type == "set" and not elements:
            return _put(out, "set()", budget)
        return _elements(elements, type_of, out, budget, opening, closing)
    return _elements(elements, type_of, out, budget, lang_type + "([", "])")


def _struct(value: Any, type_of: TypeOf, out: List[str], budget: int) -> int:
    _, lang_type, info = type_of(value)
    fields = info.get("fields") if isinstance(info, dict) else None
    names = [f.get("name", "?") if isinstance(f, dict) else "?" for f in fields or ()]
    budget = _put(out, lang_type + "(", budget)
    for i, field in enumerate(value.get("field_values") or []):
        if budget <= 0:
            return 0
        if i:
            budget = _put(out, ", ", budget)
        if i < len(names):
            budget = _put(out, str(names[i]) + "=", budget)
        budget = _render(field, type_of, out, budget)
    return _put(out, ")", budget)


def _big_int(value: Any) -> str:
    try:
        raw = base64.b64decode(str(value.get("b", "")))
        number = int.from_bytes(raw, "big")
    except (ValueError, TypeError):
        return "<big int>"
    return ("-" if value.get("negative") else "") + str(number)
