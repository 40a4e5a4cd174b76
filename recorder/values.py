"""Value encoding: Python objects -> CodeTracer ``ValueRecord`` JSON text, bounded and safe.

The CodeTracer ``runtime_tracing`` dialect describes a value as an internally tagged object,
``{"kind": "Int", "i": 5, "type_id": 3}``, whose ``type_id`` points at a ``Type`` record that
was written earlier in the same stream. :class:`TypeRegistry` hands out those ids (position of
first appearance, keyed by ``(TypeKind, lang_type)``) and writes each ``Type`` record through a
callback the moment it is first needed, so a ``Type`` always precedes its first use.
:class:`ValueEncoder` turns one object into the JSON text of one ``ValueRecord``.

What each object becomes (``lang_type`` is the Python type name: ``int``, ``str``, or
``module.QualName`` for types outside ``builtins``):

============================  =========================================================
``None``                      ``None`` (always type 0, ``lang_type`` ``"None"``)
``bool``                      ``Bool {b}``
``int`` in [-2**63, 2**63)    ``Int {i}``; larger ints: ``Raw {r: decimal text}``, or
                              ``Raw "<int of N digits>"`` past ``max_repr`` digits
finite ``float``              ``Float {f}``; ``nan``/``inf``/``-inf``: ``Raw``
``str``                       ``String {text}``, cut at ``max_string`` characters
``list``, ``set``,            ``Sequence {elements, is_slice: false}``
``frozenset``, ``deque``,
dict views
``tuple``                     ``Tuple {elements}``
namedtuples                   ``Struct`` with the ``_fields``
``dict`` (and subclasses)     ``Sequence`` (``lang_type`` ``dict``) of 2-element ``Tuple``
                              (``lang_type`` ``tuple``) records ``(key, value)``, as 0.3.0
``enum.Enum`` members         ``Raw "Color.RED"``
``bytes``, ``bytearray``      ``Raw`` repr of the first ``max_repr`` bytes
classes, modules              ``Raw "<class 'mod.Name'>"``, ``Raw "<module 'json' ...>"``
exceptions                    ``Raw "ValueError('boom')"`` from ``args``
instances of Python classes   ``Struct {field_values}``: slots, then ``__dict__``
(and of C types whose repr
shows what they hold)
anything else                 ``Raw {r: repr(obj)}`` (a repr implemented in C) cut at
                              ``max_repr`` characters
============================  =========================================================

Subclasses of int/float/str/list/tuple/dict/set are encoded like their base, typed by their
own class, and read through the base type's C slots (``list.__iter__(obj)``), so an
overridden ``__iter__``/``__len__``/``__getitem__`` is never called.

Structs. An object whose class has its own ``__repr__`` in Python, or the default one
(``object.__repr__``: an address, no state), is recorded from its state: its slots and C
members (``member_descriptor.__get__``), then its ``__dict__`` (read through the C
``__dict__`` descriptor), so that no property, ``__getattr__``, ``__getattribute__`` or
``__repr__`` runs. Its ``Type`` has kind Struct (6) and ``specific_info {"kind": "Struct",
"fields": [{"name", "type_id"}]}``, one per class and set of field names (the ``type_id`` of
a field is that of its value in the first such instance; every value carries its own), at
most ``_MAX_LAYOUTS`` per class. So do C types whose repr shows the reprs of what they hold
(a bound method, ``functools.partial``, ``types.SimpleNamespace``, ...): that repr could run
the program's. An object with no readable state and no C repr is ``Raw "<mod.Name object>"``.
``reprs="program"`` (:data:`REPRS_MODES`) brings back ``repr(obj)`` for all of those.

Bounds (:class:`ValueOptions`, all configurable): containers and structs nested deeper than
``max_depth`` become ``Raw "<list len=N>"`` / ``Raw "<mod.Name object>"``; at most
``max_items`` elements per container and fields per struct (then one ``Raw "...(+N
more)"`` element typed ``<truncated>``, a field named ``...`` in a struct); at most
``max_nodes`` records per value in total; strings cut at ``max_string`` and reprs at
``max_repr`` characters (with a ``...(+N chars)`` suffix). A container or object already
being encoded higher up (a cycle) becomes ``Raw "<cycle>"``. Large C-implemented containers
of unknown types (``array.array``, ``numpy.ndarray``, ...) are summarised as ``Raw "<type
len=N>"`` without calling their ``repr``.

Safety. No program code runs: types are classified by their MRO and class dicts (by
identity, never ``isinstance`` against an ABC or a metaclass ``__eq__``), cached by ``id``
with a strong reference, and named through ``type``'s own descriptors; memo tables are
keyed by exact ints and strs, cycles by ``id``. The reprs that run are implemented in C;
exception messages are built from ``args`` as ``BaseException.__str__`` does (another C
``__str__`` runs only on plain values, see :meth:`ValueEncoder.exception_text`). With
``reprs="program"`` the program's ``__repr__``/``__str__`` run: their output is cut, but their
running time cannot be bounded. Any exception they raise (``BaseException``, including
``SystemExit`` and ``GeneratorExit``: the unrecorded program would never have called this
``repr``) gives an ``Error {msg: "<repr failed: ExcType>"}`` record. ``KeyboardInterrupt``
is the exception: it is asynchronous (Ctrl-C arriving while we happen to run), so swallowing
it would lose the user's interrupt. The encoder records an ``Error "<interrupted>"``
record, keeps the exception in :attr:`ValueEncoder.interrupt`, and the caller re-raises it
once the current event is completely written (see ``recorder.formats.codetracer``).
"""
from __future__ import annotations

import collections
import enum
import functools
import itertools
import json.encoder
import operator
import sys
import types
import _weakref
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from recorder.config import REPRS_MODES
from recorder.redaction import DROP, DROPPED, REDACT, REDACTED, scrub_text

__all__ = [
    "ValueOptions", "TypeRegistry", "ValueEncoder", "json_string", "type_name",
    "TypeKind", "encode_value", "REPRS_MODES", "check_reprs",
]

_quote: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


class TypeKind:
    """``runtime_tracing`` TypeKind numbers used by this encoder."""

    SEQ = 0
    SET = 1
    STRUCT = 6
    INT = 7
    FLOAT = 8
    STRING = 9
    BOOL = 12
    RAW = 16
    ERROR = 24
    TUPLE = 27
    NONE = 30


def json_string(s: str) -> str:
    """``s`` as a JSON string literal that any strict reader accepts: pure ASCII, ``\\u``
    escapes, and no lone surrogates (serde_json rejects those; they are backslash-escaped)."""
    if s.isascii():
        return _quote(s)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    return _quote(s)


_type_qualname = type.__dict__["__qualname__"].__get__
_type_name = type.__dict__["__name__"].__get__
_type_module = type.__dict__["__module__"].__get__
_type_mro = type.__dict__["__mro__"].__get__  # noqa: E305
_type_dict = type.__dict__["__dict__"].__get__
_type_flags = type.__dict__["__flags__"].__get__
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement (or type())
_Member = types.MemberDescriptorType
_GetSet = types.GetSetDescriptorType
#: the types of callables implemented in C: a ``__repr__`` of one of these runs no Python code
#: of its own (it may still repr what the object holds: see _recursing_reprs)
_C_CALLABLES = (types.WrapperDescriptorType, types.MethodDescriptorType,
                types.BuiltinFunctionType, types.ClassMethodDescriptorType,
                types.MethodWrapperType)
_object_repr = object.__dict__["__repr__"]
_exc_args = BaseException.__dict__["args"].__get__
_module_dict = types.ModuleType.__dict__["__dict__"].__get__
_MISSING = object()
#: member descriptors that are not fields: layout bookkeeping, and ``__dict__`` (read whole)
_NOT_STATE = ("__weaklistoffset__", "__dictoffset__", "__vectorcalloffset__", "__dict__")


def check_reprs(reprs: Any) -> str:
    """``reprs`` if it is one of :data:`REPRS_MODES`, else a ValueError naming them."""
    if reprs not in REPRS_MODES:
        raise ValueError("reprs must be one of %s, not %r" % (", ".join(REPRS_MODES), reprs))
    return reprs


def _is_c(impl: Any) -> bool:
    """Is ``impl`` (a class-dict entry) a callable implemented in C? Compared by identity:
    ``type(impl)`` may be a program class whose metaclass defines ``__eq__``/``__hash__``."""
    ti = type(impl)
    for c_type in _C_CALLABLES:
        if ti is c_type:
            return True
    return False


def _inherits(mro: Iterable[type], base: Any) -> bool:
    """``base in mro`` by identity (``in`` would call a metaclass ``__eq__``)."""
    for klass in mro:
        if klass is base:
            return True
    return False


def _lookup(mro: Iterable[type], name: str) -> Any:
    """What ``name`` resolves to on a class with this MRO, read from the class dicts (never
    through ``__getattribute__`` or a metaclass); ``_MISSING`` when no class has it."""
    for klass in mro:
        d = _type_dict(klass)
        if name in d:
            return d[name]
    return _MISSING


def _recursing_reprs() -> Tuple[Any, ...]:
    """C types whose repr runs the repr (or attribute lookups) of what they hold, which may
    be program objects: their instances are recorded from their state like Python classes.
    Asyncio's futures and tasks only when ``_asyncio`` is loaded (never imported here)."""
    found: List[Any] = [types.SimpleNamespace, types.MethodType, functools.partial, slice,
                        staticmethod, classmethod, types.MappingProxyType, itertools.repeat,
                        itertools.count, operator.itemgetter, operator.attrgetter,
                        operator.methodcaller]
    found.append(_weakref.ReferenceType)
    generic_alias = getattr(types, "GenericAlias", None)  # 3.9+
    if generic_alias is not None:
        found.append(generic_alias)
    asyncio_c = sys.modules.get("_asyncio")
    if asyncio_c is not None:
        found.extend(getattr(asyncio_c, name) for name in ("Future", "Task")
                     if hasattr(asyncio_c, name))
    return tuple(found)


def _state_readers(mro: Tuple[type, ...]) -> Tuple[List[Tuple[str, Any]], Any]:
    """How to read an instance's state without running program code: the getters of its
    slots and C members (``member_descriptor.__get__``), base classes first and each class's
    slots in the order of its ``__slots__`` (a name redefined lower down is read through its
    own descriptor), and the getter of its ``__dict__`` when that is the C descriptor (a
    class may define ``__dict__`` as a property: then None)."""
    members: Dict[str, Any] = {}
    for klass in reversed(mro):
        if klass is object:
            continue
        d = _type_dict(klass)
        for name in _slot_order(klass, d):  # exact strs: looking them up runs no code
            entry = d.get(name)
            if type(entry) is _Member and name not in _NOT_STATE:
                members[name] = entry.__get__
        for name, entry in d.items():  # C members, and slots the order above missed
            if type(entry) is _Member and type(name) is str and name not in _NOT_STATE:
                members[name] = entry.__get__
    entry = _lookup(mro, "__dict__")
    getdict = entry.__get__ if type(entry) is _GetSet or type(entry) is _Member else None
    return list(members.items()), getdict


def _slot_order(klass: type, d: Any) -> List[str]:
    """The class's ``__slots__`` names as written (the class dict has them sorted), private
    names mangled as the class statement stored them."""
    slots = d.get("__slots__")
    ts = type(slots)
    if ts is str:
        slots = (slots,)
    elif ts is dict:
        slots = list(slots)
    elif ts is not tuple and ts is not list:
        return []
    prefix = "_" + _type_name(klass).lstrip("_")
    return [prefix + n if n[:2] == "__" and n[-2:] != "__" else n
            for n in slots if type(n) is str]


def type_name(t: type) -> str:
    """Qualified name of a type without running user code (no metaclass properties)."""
    try:
        qual = _type_qualname(t)
        mod = _type_module(t)
    except Exception:
        return "object"
    if type(qual) is not str:
        qual = "?"
    if type(mod) is not str or mod == "builtins":
        return qual
    return mod + "." + qual


class ValueOptions:
    """Bounds on one captured value. The defaults keep a value record under ~10 KB.

    Immutable. A plain class, not a dataclass, to keep ``dataclasses`` (and ``inspect``) out
    of the recorder's start-up."""

    __slots__ = ("max_depth", "max_items", "max_string", "max_repr", "max_nodes", "max_types")

    def __init__(self, max_depth: int = 3, max_items: int = 16, max_string: int = 256,
                 max_repr: int = 256, max_nodes: int = 100, max_types: int = 1024) -> None:
        setattr_ = object.__setattr__
        #: Container nesting shown in full; a container at this depth is summarised.
        setattr_(self, "max_depth", max_depth)
        #: Elements shown per container (list, tuple, set, dict items).
        setattr_(self, "max_items", max_items)
        #: Characters kept of a string value.
        setattr_(self, "max_string", max_string)
        #: Characters kept of a repr (Raw) and of an exception message.
        setattr_(self, "max_repr", max_repr)
        #: Records per top-level value, all levels together.
        setattr_(self, "max_nodes", max_nodes)
        #: Distinct types registered per stream; later new types share one ``<other>`` type.
        setattr_(self, "max_types", max_types)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ValueOptions is immutable (cannot set %r)" % name)

    def _values(self) -> Tuple[int, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "ValueOptions(%s)" % ", ".join(
            "%s=%r" % (name, getattr(self, name)) for name in self.__slots__)


class TypeRegistry:
    """Type ids of one stream: position of first appearance, keyed by (TypeKind, lang_type).

    ``write`` receives the complete JSON text of each new ``{"Type": ...}`` event.
    """

    def __init__(self, write: Callable[[str], Any], max_types: int = 1024) -> None:
        self._write = write
        #: (kind, lang_type) -> id; Struct types: (6, lang_type, field names) -> id
        self._ids: Dict[Tuple[Any, ...], int] = {}
        self._max = max(max_types, 8)

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, kind: int, lang_type: str) -> int:
        key = (kind, lang_type)
        tid = self._ids.get(key)
        if tid is not None:
            return tid
        if len(self._ids) >= self._max:
            key = (kind, "<other>")
            tid = self._ids.get(key)
            if tid is not None:
                return tid
            lang_type = "<other>"
        tid = len(self._ids)
        # the record first: if there is no room to write it (RecursionError at the
        # program's recursion limit), the id is not taken either and the event is retried
        self._write('{"Type":{"kind":%d,"lang_type":%s,"specific_info":{"kind":"None"}}}'
                    % (kind, json_string(lang_type)))
        self._ids[key] = tid
        return tid

    def struct(self, lang_type: str, names: Tuple[str, ...], field_types: List[int]) -> int:
        """The id of the Struct type ``lang_type`` with these field names (a ``Type`` of
        kind 6 whose ``specific_info`` lists ``{"name", "type_id"}`` per field, the way
        CodeTracer labels a Struct value's ``field_values``), registered on first use with
        ``field_types`` (the types of the first instance's fields). -1 when ``max_types``
        types exist already: a Struct needs its own field list, so there is no shared
        ``<other>`` Struct; the caller records something else."""
        key = (TypeKind.STRUCT, lang_type, names)
        tid = self._ids.get(key)
        if tid is not None:
            return tid
        if len(self._ids) >= self._max:
            return -1
        tid = len(self._ids)
        self._ids[key] = tid
        fields = ",".join('{"name":%s,"type_id":%d}' % (json_string(name), ft)
                          for name, ft in zip(names, field_types))
        self._write('{"Type":{"kind":%d,"lang_type":%s,"specific_info":{"kind":"Struct",'
                    '"fields":[%s]}}}' % (TypeKind.STRUCT, json_string(lang_type), fields))
        return tid


_NoneType = type(None)
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_BIG_INT_BITS = 1 << 14  # beyond ~4900 digits: never call int.__str__ (3.11+ limits it too)
#: Exact ints in this range and exact strs up to this length are memoised per encoder.
_MEMO_INT = 1 << 20
_MEMO_STR = 48
_MEMO_MAX = 1024
#: Struct layouts (sets of field names) per class, each a Type record
_MAX_LAYOUTS = 32

# Containers: base class -> (its C __len__, its C iterator factory, record kind)
_SEQ, _TUP, _DICT = 0, 1, 2
_dict_items = dict.items


def _iter_dict(d: Any) -> Any:
    return iter(_dict_items(d))


_CONTAINERS: List[Tuple[type, Callable[[Any], int], Callable[[Any], Any], int]] = [
    (dict, dict.__len__, _iter_dict, _DICT),
    (list, list.__len__, list.__iter__, _SEQ),
    (tuple, tuple.__len__, tuple.__iter__, _TUP),
    (frozenset, frozenset.__len__, frozenset.__iter__, _SEQ),
    (set, set.__len__, set.__iter__, _SEQ),
    (collections.deque, collections.deque.__len__, collections.deque.__iter__, _SEQ),
]
for _view in (type({}.keys()), type({}.values()), type({}.items())):
    _CONTAINERS.append((_view, len, iter, _SEQ))


def _native_sized(t: type) -> bool:
    """True when ``t``'s ``__repr__`` and ``__len__`` are both implemented in C (not Python
    functions): such a repr is typically proportional to the length (array.array,
    numpy.ndarray, C containers), and ``len()`` is safe to call."""
    if t is range:
        return False
    repr_impl = len_impl = None
    try:
        for klass in _type_mro(t):
            d = _type_dict(klass)
            if repr_impl is None and "__repr__" in d:
                repr_impl = d["__repr__"]
            if len_impl is None and "__len__" in d:
                len_impl = d["__len__"]
    except Exception:
        return False
    return len_impl is not None and _is_c(len_impl) and (repr_impl is None or _is_c(repr_impl))


def _namedtuple_fields(t: type) -> Optional[Tuple[str, ...]]:
    """A tuple subclass's ``_fields`` (namedtuple, typing.NamedTuple), read from the class
    dicts without running user code; None when it has none."""
    try:
        for klass in _type_mro(t):
            fields = _type_dict(klass).get("_fields")
            if fields is not None:
                if type(fields) is tuple and all(type(f) is str for f in fields):
                    return fields
                return None
    except Exception:
        pass
    return None


def _repr_attributes(t: type) -> Optional[Tuple[str, ...]]:
    """For a type whose ``__repr__`` is a Python function (dataclasses, attrs, hand-written
    reprs may show attributes): its ``__slots__`` names (the instance ``__dict__`` is read
    per object). None when the repr cannot show attributes (``object.__repr__`` or C)."""
    try:
        impl = None
        slots: List[str] = []
        for klass in _type_mro(t):
            d = _type_dict(klass)
            if impl is None and "__repr__" in d:
                impl = d["__repr__"]
            s = d.get("__slots__")
            if type(s) is str:
                s = (s,)
            if type(s) is tuple or type(s) is list:
                slots.extend(x for x in s if type(x) is str
                             and x not in ("__dict__", "__weakref__"))
        if impl is None or _is_c(impl):
            return None
        return tuple(slots)
    except Exception:
        return None


#: C ``__str__`` implementations that format ``args`` alone, as ``ValueEncoder._message`` does
_ARGS_STR = (BaseException.__dict__["__str__"],)


def _exception_str_fields(mro: Tuple[type, ...]) -> Optional[List[Any]]:
    """For an exception type: None when its message is built from ``args`` (its
    ``__str__`` is BaseException's, or a Python one that is never called); else the
    getters of the C fields (member descriptors of its C base classes, e.g. OSError's
    ``filename``) that its C ``__str__`` formats, which may be called when they and the
    args all hold plain values."""
    impl = _lookup(mro, "__str__")
    if not _is_c(impl):
        return None
    for args_str in _ARGS_STR:
        if impl is args_str:
            return None
    fields: List[Any] = []
    for klass in mro:
        if _type_flags(klass) & _HEAPTYPE:
            continue
        for name, entry in _type_dict(klass).items():
            if type(entry) is _Member and name != "__suppress_context__":
                fields.append(entry.__get__)
    return fields


def _plain(x: Any, level: int = 0) -> bool:
    """A value whose str and repr are the interpreter's own: an exact scalar type, or an
    exact tuple of such (SyntaxError's details)."""
    tx = type(x)
    if tx is tuple and level < 2 and len(x) <= 16:
        for item in x:
            if not _plain(item, level + 1):
                return False
        return True
    return (tx is str or tx is int or tx is float or tx is bool or x is None
            or tx is bytes)


def _safe_repr(obj: Any) -> str:
    """repr(obj), letting any exception through to the caller."""
    r = repr(obj)
    if type(r) is not str:  # a str subclass: take the plain text without its methods
        r = str.__str__(r)
    return r


class _Class:
    """What the encoder knows about one type (cached by id, holding the type alive)."""

    __slots__ = ("handler", "t", "name", "sized", "length", "iterate", "shape", "tid",
                 "scrub", "fields", "allowed", "raw_tail", "members", "getdict", "layouts",
                 "opaque", "str_fields")

    def __init__(self, handler: Callable[[Any, int, "_Class"], str], t: type, name: str) -> None:
        self.handler = handler
        self.t = t
        self.name = name
        self.sized = False
        self.length: Callable[[Any], int] = len
        self.iterate: Callable[[Any], Any] = iter
        self.shape = _SEQ
        self.tid = -1
        #: attribute names to look at before trusting the repr (a Python-level __repr__)
        self.scrub: Optional[Tuple[str, ...]] = None
        #: a namedtuple's field names
        self.fields: Optional[Tuple[str, ...]] = None
        #: instance attribute names the filters allow (learnt by _scrub): an instance whose
        #: ``__dict__`` holds only these has nothing to hide, and its repr is kept as is
        self.allowed: frozenset = frozenset()
        #: ',"type_id":N}' ending this type's Raw records ('' until the first one)
        self.raw_tail = ""
        #: state readers (see _state_readers): slot/member getters and the __dict__ getter
        self.members: List[Tuple[str, Any]] = []
        self.getdict: Any = None
        #: field names -> the end of its Struct records, '],"type_id":N}' ('': no type left,
        #: see TypeRegistry.struct)
        self.layouts: Dict[Tuple[str, ...], str] = {}
        #: the Raw record standing for an instance too deep to show ('' until needed)
        self.opaque = ""
        #: an exception type whose C ``__str__`` may be called: the getters of the C fields
        #: it formats (each must hold a plain value); None: the message is built from args
        self.str_fields: Optional[List[Any]] = None


class ValueEncoder:
    """Encodes objects as ``ValueRecord`` JSON text for one stream (not thread-safe: one
    encoder per stream, used by the stream's own thread)."""

    def __init__(self, types: TypeRegistry, options: Optional[ValueOptions] = None,
                 reprs: str = "builtin") -> None:
        self.options = options = options or ValueOptions()
        self.types = types
        #: "builtin" or "program" (:data:`REPRS_MODES`); set through :meth:`use_reprs`
        self.reprs = "builtin"
        self._program_reprs = False
        #: A KeyboardInterrupt caught inside a repr, for the caller to re-raise.
        self.interrupt: Optional[BaseException] = None
        self._max_depth = options.max_depth
        self._max_items = options.max_items
        self._max_string = options.max_string
        self._max_repr = options.max_repr
        self._max_nodes = options.max_nodes
        self._classes: Dict[int, _Class] = {}
        self._class_cap = max(options.max_types, 8) * 4
        self._budget = 0
        self._path: List[int] = []
        self._memo: Dict[Any, str] = {}  # exact int / exact str -> record
        self._fmemo: Dict[float, str] = {}  # exact finite non-zero float -> record
        self._flat_tids: Dict[type, int] = {}  # list/tuple -> type id, for _flat_top
        self._none = '{"kind":"None","type_id":%d}' % types.get(TypeKind.NONE, "None")
        # lazily filled: registering a type writes its Type record
        self._int_tail = ""
        self._str_tail = ""
        self._float_tail = ""
        self._pair_tail = ""  # '],"type_id":N}' ending a dict item's Tuple record
        self._true = ""
        self._false = ""
        #: Filters (recorder/filters.py): ``name -> 0 allow | 1 redact | 2 drop`` for
        #: attribute names and string mapping keys; None records everything.
        self.attr_action: Optional[Callable[[str], int]] = None
        self._attr_memo: Dict[str, int] = {}
        #: How many attribute/key values were redacted and dropped.
        self.attr_redactions = 0
        self.attr_drops = 0
        self._hidden = ""
        #: Texts hidden by name, hidden wherever they appear again (see :meth:`remember`):
        #: text -> the redacted record, also planted in ``_memo`` so that every fast path
        #: hides them at no cost; ``secrets_seen`` counts the shared texts merged in.
        self._secrets: Dict[str, str] = {}
        self.secrets_seen = 0
        #: the writer's list of hidden texts, shared by its streams' encoders
        self.shared_secrets: Optional[List[str]] = None
        #: bumped when what an encoding depends on changes (reprs mode): see :meth:`snapshot`
        self._gen = 0
        #: set when :meth:`encode` gave the record of a failure (no snapshot of it)
        self._failed = False
        self._snap_left = 0
        self.use_reprs(reprs)

    def use_reprs(self, reprs: str) -> None:
        """Switch between :data:`REPRS_MODES` (forgets what was learnt per type)."""
        self.reprs = check_reprs(reprs)
        self._program_reprs = reprs == "program"
        self._classes.clear()
        self._gen += 1

    # -- entry points ---------------------------------------------------------------------
    def encode(self, obj: Any) -> str:
        """JSON text of the ValueRecord for ``obj``. Never raises (see module docstring)."""
        t = type(obj)
        if t is int or t is str:
            r = self._memo.get(obj)
            if r is not None:
                return r
            r = self._scalar(obj, t)
            if r is not None:
                return r
        elif obj is None:
            return self._none
        elif t is bool:
            return self._bool(obj)
        elif t is float:
            r = self._fmemo.get(obj)
            if r is not None:
                return r
            if obj - obj == 0.0:  # finite
                tail = self._float_tail
                if not tail:
                    tail = self._float_tail = (',"type_id":%d}'
                                               % self.types.get(TypeKind.FLOAT, "float"))
                r = '{"kind":"Float","f":' + float.__repr__(obj) + tail
                if obj:  # not 0.0/-0.0, which compare equal
                    if len(self._fmemo) >= _MEMO_MAX:
                        self._fmemo.clear()
                    self._fmemo[obj] = r
                return r
        elif t is list or t is tuple:
            r = self._flat_top(obj, t)
            if r is not None:
                return r
        self._budget = self._max_nodes
        del self._path[:]
        try:
            return self._enc(obj, 0)
        except KeyboardInterrupt as e:  # raised outside a repr (e.g. in a C iterator)
            self.interrupt = e
            self._failed = True
            return self._error("<interrupted>", TypeKind.ERROR, "<interrupted>")
        except BaseException as e:
            self._failed = True
            return self._error("<encode failed: %s>" % type_name(type(e)), TypeKind.ERROR,
                               "<error>")

    def _scalar(self, obj: Any, t: type) -> Optional[str]:
        """Record of an exact int (i64) or exact str (short enough), memoised when small;
        None to take the general path."""
        memo = self._memo
        if t is int:
            if not _I64_MIN <= obj <= _I64_MAX:
                return None
            tail = self._int_tail
            if not tail:
                tail = self._int_tail = ',"type_id":%d}' % self.types.get(TypeKind.INT, "int")
            r = '{"kind":"Int","i":' + int.__repr__(obj) + tail
            if -_MEMO_INT < obj < _MEMO_INT:
                if len(memo) >= _MEMO_MAX:
                    self._memo_reset()
                memo[obj] = r
            return r
        if len(obj) > self._max_string:
            return None
        tail = self._str_tail
        if not tail:
            tail = self._str_tail = ',"type_id":%d}' % self.types.get(TypeKind.STRING, "str")
        r = '{"kind":"String","text":' + json_string(obj) + tail
        if len(obj) <= _MEMO_STR:
            if len(memo) >= _MEMO_MAX:
                self._memo_reset()
            memo[obj] = r
        return r

    def _flat_top(self, obj: Any, t: type) -> Optional[str]:
        """Fast path: a top-level exact list/tuple whose elements are all exact ints/strs
        already memoised; None sends it down the general path."""
        size = len(obj)
        limit = self._max_items
        if size > limit:
            obj = obj[:limit]
        elif size == 0 or self._max_depth <= 0:
            return None
        get = self._memo.get
        rs = []
        for x in obj:
            tx = type(x)
            if tx is int or tx is str:
                r = get(x)
                if r is None:
                    return None
                rs.append(r)
            else:
                return None
        tids = self._flat_tids
        tid = tids.get(t)
        if tid is None:
            tid = tids[t] = self.types.get(TypeKind.SEQ if t is list else TypeKind.TUPLE,
                                           "list" if t is list else "tuple")
        if size > limit:
            rs.append(self._raw("...(+%d more)" % (size - limit), TypeKind.RAW, "<truncated>"))
        if t is list:
            return ('{"kind":"Sequence","elements":[' + ",".join(rs)
                    + '],"is_slice":false,"type_id":' + str(tid) + "}")
        return '{"kind":"Tuple","elements":[' + ",".join(rs) + '],"type_id":' + str(tid) + "}"

    # -- unchanged values ----------------------------------------------------------------------
    def encode_kept(self, obj: Any) -> Tuple[str, Any]:
        """``(record, snapshot)``: :meth:`encode`'s record, and what it depends on
        (:meth:`snapshot`), or None for the snapshot when that cannot be told cheaply or the
        record must not be written again (the encoding hid a value, failed or was
        interrupted)."""
        hidden = self.attr_redactions + self.attr_drops
        self._failed = False
        r = self.encode(obj)
        if (self._failed or self.interrupt is not None
                or hidden != self.attr_redactions + self.attr_drops):
            return r, None
        return r, self.snapshot(obj)

    def snapshot(self, obj: Any) -> Any:
        """What the top-level record of a container depends on, for :meth:`same`: per
        container shown, its exact type, its length and the ids of the elements shown (keys
        and values of a dict). The plain immutable elements shown (small exact ints and strs,
        floats, bools, None) are held, so their ids cannot be reused by other objects; the
        containers are not (holding them would keep what they hold alive, which ``__del__``
        and weak references could tell): an element at the same address is checked the same
        way, as the container it now is. None for anything else (program objects, other
        types, cycles, more than ``max_nodes`` containers): checking a program object's
        fields costs about as much as encoding them."""
        self._snap_left = self._max_nodes
        try:
            node = self._snap(obj, 0, [])
        except Exception:
            return None
        if node is None:
            return None
        return (self._gen, self.attr_action, node)

    def same(self, obj: Any, snap: Any) -> bool:
        """Would :meth:`encode` give ``obj`` the record whose :meth:`snapshot` is ``snap``?
        C calls on the base types only (lengths, iterators, ``id``): no program code runs."""
        if snap[0] != self._gen or snap[1] is not self.attr_action:
            return False
        try:
            return _same(obj, snap[2])
        except Exception:  # e.g. a dict resized by another thread while we read it
            return False

    def _snap(self, obj: Any, depth: int, path: List[int]) -> Any:
        self._snap_left -= 1
        if self._snap_left < 0:
            return None
        t = type(obj)
        c = self._classes.get(id(t)) or self._class(t)
        oid = id(obj)
        if oid in path:
            return None  # a cycle: "<cycle>" stands for it, encoded afresh
        f = getattr(c.handler, "__func__", None)
        if f is _H_CONTAINER:
            n = c.length(obj)
            if depth >= self._max_depth:
                return (_N_LEN, t, c.length, n)
            limit = self._max_items if n > self._max_items else n
            if c.shape == _DICT:
                elems = (tuple(itertools.islice(dict.keys(obj), limit))
                         + tuple(itertools.islice(dict.values(obj), limit)))
                kind = _N_DICT
            else:
                elems = tuple(itertools.islice(c.iterate(obj), limit))
                kind = _N_SEQ
            ex: Any = c.iterate
            length: Any = c.length
        else:
            return None
        keep: List[Any] = []
        subs: List[Tuple[int, Any]] = []
        path.append(oid)
        try:
            for i, x in enumerate(elems):
                tx = type(x)
                if tx is int:
                    if not -_KEEP_INT < x < _KEEP_INT:
                        return None
                elif tx is str:
                    if len(x) > _KEEP_LEN:
                        return None
                elif not (tx is float or tx is bool or x is None):
                    sub = self._snap(x, depth + 1, path)
                    if sub is None:
                        return None
                    subs.append((i, sub))
                    continue
                keep.append(x)
        finally:
            path.pop()
        ids = tuple(map(id, elems))
        # a dict's key ids and value ids apart, for the check without nested containers
        split = (ids[:limit], ids[limit:]) if kind == _N_DICT else None
        return (kind, t, length, ex, n, limit, ids, tuple(keep), tuple(subs), split)

    def _bool(self, obj: bool) -> str:
        if not self._true:
            tid = self.types.get(TypeKind.BOOL, "bool")
            self._true = '{"kind":"Bool","b":true,"type_id":%d}' % tid
            self._false = '{"kind":"Bool","b":false,"type_id":%d}' % tid
        return self._true if obj else self._false

    # -- records ----------------------------------------------------------------------------
    def _raw(self, text: str, kind: int, lang_type: str) -> str:
        return '{"kind":"Raw","r":%s,"type_id":%d}' % (json_string(text),
                                                         self.types.get(kind, lang_type))

    def _error(self, msg: str, kind: int, lang_type: str) -> str:
        return '{"kind":"Error","msg":%s,"type_id":%d}' % (json_string(msg),
                                                           self.types.get(kind, lang_type))

    def _cut(self, text: str, limit: int) -> str:
        if len(text) > limit:
            return text[:limit] + "...(+%d chars)" % (len(text) - limit)
        return text

    def _class(self, t: type) -> _Class:
        c = self._classes.get(id(t))
        if c is not None:
            return c
        c = self._new_class(t)
        if len(self._classes) < self._class_cap:
            self._classes[id(t)] = c
        return c

    def _new_class(self, t: type) -> _Class:
        """How instances of ``t`` are recorded, decided once per type from its MRO and class
        dicts (never through ``isinstance`` against an ABC, ``__getattribute__`` or a
        metaclass)."""
        name = type_name(t)
        if t is bool:
            return _Class(self._h_bool, t, name)
        if t is _NoneType:
            return _Class(self._h_none, t, name)
        try:
            mro = _type_mro(t)
            if _inherits(mro, enum.Enum):
                c = _Class(self._h_enum, t, name)
                c.getdict = _state_readers(mro)[1]
                return c
            if issubclass(t, int):
                return _Class(self._h_int, t, name)
            if issubclass(t, float):
                return _Class(self._h_float, t, name)
            if issubclass(t, str):
                return _Class(self._h_str, t, name)
            if issubclass(t, (bytes, bytearray)):
                return _Class(self._h_bytes, t, name)
            for base, length, iterate, shape in _CONTAINERS:
                if issubclass(t, base):
                    c = _Class(self._h_container, t, name)
                    c.length, c.iterate, c.shape = length, iterate, shape
                    if shape == _TUP and t is not tuple:
                        c.fields = _namedtuple_fields(t)
                        if c.fields is not None:
                            c.handler = self._h_namedtuple
                    return c
            return self._object_class(t, name, mro)
        except Exception:
            return _Class(self._h_opaque, t, name)

    def _object_class(self, t: type, name: str, mro: Tuple[type, ...]) -> _Class:
        """Everything that is not a scalar or a container (see the module docstring)."""
        impl = _lookup(mro, "__repr__")
        program_repr = not _is_c(impl)  # a Python function, or anything else callable
        recursing = False
        for base in _recursing_reprs():
            if _inherits(mro, base):
                recursing = True
                break
        if self._program_reprs and (program_repr or recursing
                                    or issubclass(t, BaseException)):
            c = _Class(self._h_other, t, name)  # what the user asked for: its repr runs
            c.scrub = _repr_attributes(t)
            return c
        if issubclass(t, type):
            return _Class(self._h_type, t, name)
        if issubclass(t, types.ModuleType):
            return _Class(self._h_module, t, name)
        if issubclass(t, BaseException):
            c = _Class(self._h_exception, t, name)
            c.str_fields = _exception_str_fields(mro)
            return c
        if program_repr or recursing or impl is _object_repr:  # no repr that shows state
            members, getdict = _state_readers(mro)
            if not members and getdict is None:
                return _Class(self._h_opaque, t, name)
            c = _Class(self._h_struct, t, name)
            c.members, c.getdict = members, getdict
            return c
        c = _Class(self._h_other, t, name)  # a repr implemented in C
        c.sized = _native_sized(t)
        return c

    # -- general path -----------------------------------------------------------------------
    def _enc(self, obj: Any, depth: int) -> str:
        self._budget -= 1
        t = type(obj)
        if t is int or t is str:
            r = self._memo.get(obj)
            if r is not None:
                return r
            r = self._scalar(obj, t)
            if r is not None:
                return r
        c = self._classes.get(id(t))
        if c is None:
            c = self._class(t)
        return c.handler(obj, depth, c)

    def _h_none(self, obj: Any, depth: int, c: _Class) -> str:
        return self._none

    def _h_bool(self, obj: Any, depth: int, c: _Class) -> str:
        return self._bool(obj)

    def _h_int(self, obj: Any, depth: int, c: _Class) -> str:
        v = int.__index__(obj)
        if _I64_MIN <= v <= _I64_MAX:
            return '{"kind":"Int","i":%s,"type_id":%d}' % (
                int.__repr__(v), self.types.get(TypeKind.INT, c.name))
        bits = v.bit_length()
        digits = int(bits * 0.30103) + 1
        if bits > _BIG_INT_BITS or digits > self._max_repr:
            text = "<int of ~%d digits>" % digits
        else:
            text = int.__repr__(v)
        return self._raw(text, TypeKind.RAW, c.name)

    def _h_float(self, obj: Any, depth: int, c: _Class) -> str:
        f = float.__float__(obj)
        if f - f == 0.0:
            return '{"kind":"Float","f":%s,"type_id":%d}' % (
                float.__repr__(f), self.types.get(TypeKind.FLOAT, c.name))
        return self._raw(float.__repr__(f), TypeKind.RAW, c.name)

    def _h_str(self, obj: Any, depth: int, c: _Class) -> str:
        text = str.__str__(obj)
        if text in self._secrets:
            return self._secrets[text]
        return '{"kind":"String","text":%s,"type_id":%d}' % (
            json_string(self._cut(text, self._max_string)),
            self.types.get(TypeKind.STRING, c.name))

    def _h_bytes(self, obj: Any, depth: int, c: _Class) -> str:
        cut = slice(0, self._max_repr)
        if issubclass(c.t, bytes):
            data = bytes.__getitem__(obj, cut)
            size = bytes.__len__(obj)
        else:
            data = bytes(bytearray.__getitem__(obj, cut))
            size = bytearray.__len__(obj)
        text = repr(data)
        if size > self._max_repr:
            text += "...(+%d bytes)" % (size - self._max_repr)
        return self._raw(text, TypeKind.RAW, c.name)

    def _h_enum(self, obj: Any, depth: int, c: _Class) -> str:
        """``Color.RED``, from the member's ``_name_`` in its ``__dict__`` (Enum's
        ``__repr__`` and its ``name`` property are Python code); a member without a name
        (a combination of flags) is ``Color(5)``."""
        member = value = None
        try:
            d = c.getdict(obj) if c.getdict is not None else None
            if issubclass(type(d), dict):
                member = d.get("_name_")
                value = d.get("_value_")
        except Exception:
            pass
        if type(member) is str:
            text = _type_name(c.t) + "." + member
        else:
            text = "%s(%s)" % (_type_name(c.t), self._brief(value))
        return self._raw(self._cut(text, self._max_repr), TypeKind.RAW, c.name)

    def _h_struct(self, obj: Any, depth: int, c: _Class) -> str:
        """An instance recorded from its state: slots and C members, then ``__dict__``."""
        if not c.members:  # the common case: a __dict__ alone
            d = c.getdict(obj)
            if type(d) is dict:
                return self._struct(obj, depth, c, _dict_items(d), len(d))
            pairs: List[Tuple[Any, Any]] = []
        else:
            pairs = []
            for field, get in c.members:
                try:
                    pairs.append((field, get(obj)))
                except AttributeError:  # an empty slot
                    pass
            d = c.getdict(obj) if c.getdict is not None else None
        if issubclass(type(d), dict):  # not isinstance: it would ask d.__class__
            pairs.extend(_dict_items(d))
        return self._struct(obj, depth, c, pairs, len(pairs))

    def _h_namedtuple(self, obj: Any, depth: int, c: _Class) -> str:
        return self._struct(obj, depth, c, zip(c.fields, tuple.__iter__(obj)),  # type: ignore
                            min(len(c.fields), tuple.__len__(obj)))  # type: ignore[arg-type]

    def _struct(self, obj: Any, depth: int, c: _Class, pairs: Iterable[Tuple[Any, Any]],
                size: int) -> str:
        """A ``Struct`` record of ``size`` ``(name, value)`` pairs, bounded like a container;
        its type is one per (class, field names), written the first time that layout is
        met."""
        oid = id(obj)
        path = self._path
        if oid in path:
            return self._raw("<cycle>", TypeKind.RAW, "<cycle>")
        if depth >= self._max_depth or self._budget <= 0:
            return self._h_opaque(obj, depth, c)
        limit = self._max_items
        attr_memo = self._attr_memo if self.attr_action is not None else None
        memo_get = self._memo.get
        enc = self._enc
        names: List[str] = []
        parts: List[str] = []
        n = 0
        depth += 1
        path.append(oid)
        try:
            for field, v in pairs:
                if type(field) is not str:
                    # a non-str key planted in __dict__ (not isinstance: it would ask the
                    # key's __class__)
                    if not issubclass(type(field), str):
                        size -= 1
                        continue
                    field = str.__str__(field)
                if n >= limit:
                    break
                if attr_memo is not None:
                    hide = attr_memo.get(field)
                    if hide is None:
                        hide = self._attr(field)
                    if hide:
                        if hide == DROP:  # the field is left out
                            self.attr_drops += 1
                            size -= 1
                            continue
                        self.attr_redactions += 1
                        self.remember(v, self.shared_secrets)
                        self._budget -= 1
                        names.append(field)
                        parts.append(self.hidden(REDACT))
                        n += 1
                        continue
                tv = type(v)
                r = memo_get(v) if tv is int or tv is str else None
                if r is None:
                    if self._budget <= 0:
                        break
                    r = enc(v, depth)
                else:
                    self._budget -= 1
                names.append(field)
                parts.append(r)
                n += 1
        finally:
            path.pop()
        if n < size:
            names.append("...")
            parts.append(self._raw("...(+%d more)" % (size - n), TypeKind.RAW, "<truncated>"))
        key = tuple(names)
        tail = c.layouts.get(key)
        if tail is None:
            tail = self._layout(c, key, parts)
        if not tail:
            return self._h_opaque(obj, depth, c)
        return '{"kind":"Struct","field_values":[' + ",".join(parts) + tail

    def _layout(self, c: _Class, names: Tuple[str, ...], parts: List[str]) -> str:
        """The end (``],"type_id":N}``) of the records of ``c``'s Struct type with these
        fields, typed by this instance's values (each record ends with ``"type_id":N}``);
        '' when there is no type for it. At most ``_MAX_LAYOUTS`` per class: a class whose
        instances keep changing their attribute names is recorded as Raw after that."""
        if len(c.layouts) >= _MAX_LAYOUTS:
            return ""
        field_types = [int(p[p.rindex(":") + 1:-1]) for p in parts]
        tid = self.types.struct(c.name, names, field_types)
        tail = c.layouts[names] = '],"type_id":%d}' % tid if tid >= 0 else ""
        return tail

    def _h_opaque(self, obj: Any, depth: int, c: _Class) -> str:
        """``Raw "<mod.Class object>"``: an object whose state is not shown (too deep, or not
        reachable without running its code); no address, so equal runs give equal traces."""
        r = c.opaque
        if not r:
            r = c.opaque = self._raw(self._cut("<%s object>" % c.name, self._max_repr),
                                     TypeKind.RAW, c.name)
        return r

    def _h_type(self, obj: Any, depth: int, c: _Class) -> str:
        """A class: ``<class 'mod.Name'>`` as ``type.__repr__`` writes it, built here so that
        a metaclass ``__repr__`` never runs."""
        return self._raw(self._cut("<class '%s'>" % type_name(obj), self._max_repr),
                         TypeKind.RAW, c.name)

    def _h_module(self, obj: Any, depth: int, c: _Class) -> str:
        """``<module 'name' from 'file'>`` from the module's dict (a module's repr asks its
        loader and spec, which may be program objects)."""
        mod_name = mod_file = None
        try:
            d = _module_dict(obj)
            if type(d) is dict:
                mod_name = d.get("__name__")
                mod_file = d.get("__file__")
        except Exception:
            pass
        text = "<module %s" % (str.__repr__(mod_name) if type(mod_name) is str else "?")
        if type(mod_file) is str:
            text += " from " + str.__repr__(mod_file)
        return self._raw(self._cut(text + ">", self._max_repr), TypeKind.RAW, c.name)

    def _h_exception(self, obj: Any, depth: int, c: _Class) -> str:
        """``ValueError('boom')``, as ``BaseException.__repr__`` writes it, from ``args``
        (a program ``__repr__`` never runs; an argument that is not a plain value is shown
        as ``<mod.Class object>``)."""
        try:
            args = _exc_args(obj)
        except Exception:
            args = ()
        text = _type_name(c.t) + "(" + ", ".join(self._brief(a) for a in args) + ")"
        if self._secrets:
            text = self.scrub_text(text)
        return self._raw(self._cut(text, self._max_repr), TypeKind.RAW, c.name)

    def _brief(self, x: Any, level: int = 0) -> str:
        """``repr(x)`` for plain values, tuples and lists of them (two levels); bounded; any
        other object as ``<mod.Class object>``. Runs no program code."""
        tx = type(x)
        if tx is str:
            if len(x) > self._max_repr:
                return str.__repr__(x[:self._max_repr]) + "..."
            return str.__repr__(x)
        if tx is int:
            if x.bit_length() > _BIG_INT_BITS:
                return "<int of ~%d digits>" % (int(x.bit_length() * 0.30103) + 1)
            return int.__repr__(x)
        if tx is bytes:
            return bytes.__repr__(x[:self._max_repr])
        if tx is float or tx is bool or x is None:
            return repr(x)
        if level < 2 and issubclass(tx, BaseException):
            try:
                args = _exc_args(x)
            except Exception:
                args = ()
            return (_type_name(tx) + "(" + ", ".join(self._brief(a, level + 1) for a in args)
                    + ")")
        if (tx is tuple or tx is list) and level < 2:
            items = [self._brief(e, level + 1) for e in x[:self._max_items]]
            if len(x) > self._max_items:
                items.append("...")
            if tx is list:
                return "[" + ", ".join(items) + "]"
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "<%s object>" % type_name(tx)

    def _h_other(self, obj: Any, depth: int, c: _Class) -> str:
        try:
            if c.sized:
                # C-implemented container (array.array, numpy.ndarray, ...): its repr is
                # proportional to its size, so summarise big ones without calling it.
                try:
                    size = len(obj)
                except Exception:
                    size = -1
                if size > self._max_items:
                    return self._raw("<%s len=%d>" % (c.name, size), TypeKind.RAW, c.name)
            text = _safe_repr(obj)
            if c.scrub is not None and self.attr_action is not None:
                text = self._scrub(obj, text, c)
            if self._secrets:
                text = self.scrub_text(text)
        except KeyboardInterrupt as e:
            self.interrupt = e
            return self._error("<interrupted>", TypeKind.RAW, c.name)
        except BaseException as e:
            return self._error("<repr failed: %s>" % type_name(type(e)), TypeKind.RAW, c.name)
        if len(text) > self._max_repr:
            text = self._cut(text, self._max_repr)
        tail = c.raw_tail
        if not tail:
            tail = c.raw_tail = ',"type_id":%d}' % self.types.get(TypeKind.RAW, c.name)
        return '{"kind":"Raw","r":' + json_string(text) + tail

    # -- filters (docs/filters.md) -------------------------------------------------------------
    def _attr(self, name: str) -> int:
        """The filters' action for an attribute name / mapping key, memoised."""
        memo = self._attr_memo
        a = memo.get(name)
        if a is None:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            a = memo[name] = self.attr_action(name)  # type: ignore[misc]
        return a

    def hidden(self, action: int) -> str:
        """The record of a value the filters hid: ``Error "<redacted>"`` (REDACT) or
        ``Error "<dropped>"`` (DROP, where a value must stand), typed ``<redacted>`` /
        ``<dropped>`` with TypeKind Raw."""
        if action == REDACT:
            r = self._hidden
            if not r:
                r = self._hidden = self._error(REDACTED, TypeKind.RAW, REDACTED)
            return r
        return self._error(DROPPED, TypeKind.RAW, DROPPED)

    def remember(self, value: Any, shared: Optional[List[str]] = None) -> None:
        """A value hidden by name: if it is a text of 4 characters or more, hide that text
        from now on wherever it appears (a String value, an element, a repr, an exception
        message). ``shared`` (the writer's list) passes it on to the other streams."""
        if type(value) is not str or len(value) < 4 or value in self._secrets:
            return
        if len(self._secrets) >= _MEMO_MAX // 4:
            return  # bounded; name-based hiding still applies
        self._secrets[value] = self._memo[value] = self.hidden(REDACT)
        if shared is not None:
            shared.append(value)
            self.secrets_seen += 1

    def learn(self, shared: List[str]) -> None:
        """Merge the texts other streams hid (``shared[secrets_seen:]``)."""
        new = shared[self.secrets_seen:]
        self.secrets_seen += len(new)
        for text in new:
            self.remember(text)

    def scrub_text(self, text: str) -> str:
        """``text`` with every remembered secret text replaced by ``<redacted>``."""
        return scrub_text(text, self._secrets)

    def _memo_reset(self) -> None:
        self._memo.clear()
        self._memo.update(self._secrets)

    def _scrub(self, obj: Any, text: str, c: _Class) -> str:
        """``text`` (``obj``'s repr) without the values of its hidden attributes: each is
        replaced by ``<redacted>``; a hidden attribute holding anything but a str, bytes,
        int or float hides the whole repr."""
        pairs: List[Tuple[Any, Any]] = []
        try:
            d = object.__getattribute__(obj, "__dict__")
        except Exception:
            d = None
        if type(d) is dict:
            if not c.scrub and d.keys() <= c.allowed:  # no slots, every name allowed
                return text
            pairs.extend(_dict_items(d))
        for name in c.scrub:  # type: ignore[union-attr]
            try:
                pairs.append((name, object.__getattribute__(obj, name)))
            except Exception:
                pass
        found = []
        for name, v in pairs:
            if type(name) is not str or not self._attr(name):
                continue
            tv = type(v)
            if v is None or tv is bool:
                continue
            if tv is str or tv is bytes or tv is int or tv is float:
                found.append(v)
                self.remember(v, self.shared_secrets)
            else:
                self.attr_redactions += 1
                return "<%s with hidden attributes>" % c.name
        if not found and not c.scrub and type(d) is dict and len(c.allowed) < 256:
            names = [n for n, _ in pairs if type(n) is str and not self._attr(n)]
            if len(names) == len(pairs):  # every attribute allowed: remember the names
                c.allowed = c.allowed.union(names)
        for v in found:
            self.attr_redactions += 1
            form = repr(v)
            if form in text:
                text = text.replace(form, REDACTED)
            elif type(v) is str and v:
                text = text.replace(v, REDACTED)
            else:
                text = text.replace(str(v), REDACTED)
        return text

    def _h_container(self, obj: Any, depth: int, c: _Class) -> str:
        size = c.length(obj)
        oid = id(obj)
        path = self._path
        if oid in path:
            return self._raw("<cycle>", TypeKind.RAW, "<cycle>")
        if depth >= self._max_depth or self._budget <= 0:
            return self._raw("<%s len=%d>" % (c.name, size), TypeKind.RAW, c.name)
        limit = self._max_items
        if limit > size:
            limit = size
        depth += 1
        path.append(oid)
        parts: List[str] = []
        n = 0
        enc = self._enc
        memo = self._memo
        try:
            if c.shape == _DICT:
                pair = self._pair_tail
                if not pair:
                    pair = self._pair_tail = (
                        '],"type_id":%d}' % self.types.get(TypeKind.TUPLE, "tuple"))
                filtered = self.attr_action is not None
                attr_memo = self._attr_memo
                for k, v in c.iterate(obj):
                    if n >= limit or self._budget <= 0:
                        break
                    self._budget -= 1
                    tk = type(k)
                    if filtered and tk is str:
                        hide = attr_memo.get(k)
                        if hide is None:
                            hide = self._attr(k)
                    else:
                        hide = 0
                    if hide == DROP:  # the entry is left out
                        self.attr_drops += 1
                        size -= 1
                        continue
                    kr = memo.get(k) if tk is int or tk is str else None
                    if kr is None:
                        kr = enc(k, depth)
                    else:
                        self._budget -= 1
                    tv = type(v)
                    vr = memo.get(v) if tv is int or tv is str else None
                    if hide:
                        self.attr_redactions += 1
                        self.remember(v, self.shared_secrets)
                        vr = self.hidden(REDACT)
                    elif vr is None:
                        vr = enc(v, depth)
                    else:
                        self._budget -= 1
                    parts.append('{"kind":"Tuple","elements":[' + kr + "," + vr + pair)
                    n += 1
            elif c.fields is not None and self.attr_action is not None:
                fields = c.fields
                for item in c.iterate(obj):
                    if n >= limit or self._budget <= 0:
                        break
                    hide = self._attr(fields[n]) if n < len(fields) else 0
                    if hide:
                        if hide == DROP:
                            self.attr_drops += 1
                        else:
                            self.attr_redactions += 1
                        self.remember(item, self.shared_secrets)
                        parts.append(self.hidden(hide))
                        self._budget -= 1
                    else:
                        parts.append(enc(item, depth))
                    n += 1
            else:
                for item in c.iterate(obj):
                    if n >= limit:
                        break
                    ti = type(item)
                    if ti is int or ti is str:  # memoised scalars: no call, one budget unit
                        r = memo.get(item)
                        if r is not None:
                            parts.append(r)
                            n += 1
                            self._budget -= 1
                            continue
                    if self._budget <= 0:
                        break
                    parts.append(enc(item, depth))
                    n += 1
        finally:
            path.pop()
        return self._finish(c, parts, size)

    def _finish(self, c: _Class, parts: List[str], size: int) -> str:
        n = len(parts)
        if n < size:
            parts.append(self._raw("...(+%d more)" % (size - n), TypeKind.RAW, "<truncated>"))
        tid = c.tid
        if tid < 0:
            tid = c.tid = self.types.get(TypeKind.TUPLE if c.shape == _TUP else TypeKind.SEQ,
                                         c.name)
        if c.shape == _TUP:
            return '{"kind":"Tuple","elements":[' + ",".join(parts) + '],"type_id":%d}' % tid
        return ('{"kind":"Sequence","elements":[' + ",".join(parts)
                + '],"is_slice":false,"type_id":%d}' % tid)

    # -- exceptions -------------------------------------------------------------------------
    def exception_text(self, exc: Any, with_message: bool = True) -> str:
        """``"ValueError: boom"``, ``"pkg.mod.MyError: boom"`` (a traceback's last line),
        bounded. The message is what ``str(exc)`` gives, computed without running program
        code (:meth:`_message`); with ``reprs="program"`` ``str(exc)`` itself runs, and a
        failure there gives ``"ValueError: <str failed>"``."""
        t = type(exc)
        label = type_name(t)
        if label.startswith("__main__."):  # as a traceback prints it
            label = label[9:]
        if not with_message:
            return label
        try:
            if self._program_reprs:
                msg = str(exc)
                if type(msg) is not str:
                    msg = str.__str__(msg)
            else:
                msg = self._message(exc, t)
        except KeyboardInterrupt as e:
            self.interrupt = e
            msg = "<interrupted>"
        except BaseException:
            msg = "<str failed>"
        if not msg:
            return label
        if self._secrets:
            msg = self.scrub_text(msg)
        return self._cut(label + ": " + msg, self._max_repr)

    def _message(self, exc: Any, t: type) -> str:
        """``str(exc)`` without running program code. BaseException's ``__str__`` (and a
        Python ``__str__``, which is never called) give the message from ``args`` as
        BaseException does: nothing, the one argument's str, or the tuple's repr. Another C
        ``__str__`` (KeyError, OSError, SyntaxError, ...) is called when the args and the C
        fields it formats hold plain values only (then it cannot reach program code)."""
        c = self._classes.get(id(t)) or self._class(t)
        args = _exc_args(exc)
        fields = c.str_fields
        if fields is not None:
            plain = True
            for a in args:
                if not _plain(a):
                    plain = False
                    break
            if plain:
                for get in fields:
                    try:
                        if not _plain(get(exc)):
                            plain = False
                            break
                    except AttributeError:
                        pass
            if plain:
                msg = str(exc)
                return msg if type(msg) is str else str.__str__(msg)
        if not args:
            return ""
        if len(args) == 1:
            arg = args[0]
            if type(arg) is str:
                return arg if len(arg) <= self._max_repr else arg[:self._max_repr]
            return self._brief(arg)
        return self._brief(tuple(args))

    def encode_exception(self, exc: Any, text: Optional[str] = None) -> str:
        """An ``Error`` record for an exception leaving a frame: ``msg`` is ``text`` (or
        :meth:`exception_text`), the type is the exception's class with TypeKind Error (24).
        Repr failures inside ordinary values are ``Error`` records too, but their type has
        TypeKind Raw (16): TypeKind 24 marks an exception exit."""
        if text is None:
            text = self.exception_text(exc)
        return self._error(text, TypeKind.ERROR, type_name(type(exc)))

    def marker(self, msg: str, lang_type: str) -> str:
        """An ``Error`` record typed ``(Error, lang_type)``, for recorder markers such as
        ``<detached>``."""
        return self._error(msg, TypeKind.ERROR, lang_type)

    def string(self, text: str) -> str:
        """A ``String`` record for ``text`` (not cut), typed ``str``."""
        tid = self.types.get(TypeKind.STRING, "str")
        return '{"kind":"String","text":%s,"type_id":%d}' % (json_string(text), tid)

    def none(self) -> str:
        return self._none


_H_CONTAINER = ValueEncoder._h_container
#: plain immutable elements held by a snapshot (ValueEncoder.snapshot): bounded like the
#: writer's own cache of unchanged values
_KEEP_INT = 1 << 64
_KEEP_LEN = 1024
_N_SEQ, _N_DICT, _N_LEN = 0, 1, 2
_islice = itertools.islice
_dict_keys = dict.keys
_dict_values = dict.values
_dict_len = dict.__len__


def _same(o: Any, node: Any) -> bool:
    """Does ``o`` match a snapshot node (see ValueEncoder.snapshot)? Lengths and iterators
    are read through the C slots the encoder used."""
    if type(o) is not node[1]:
        return False
    kind = node[0]
    if kind == _N_LEN:
        return node[2](o) == node[3]
    _, _, length, ex, n, limit, ids, _, subs, _ = node
    if length(o) != n:
        return False
    if kind == _N_DICT:
        # through dict's own views: a subclass may override __iter__
        # (values first: what changes most often)
        if not subs:
            kids, vids = node[9]
            if n == limit:
                return (tuple(map(id, _dict_values(o))) == vids
                        and tuple(map(id, _dict_keys(o))) == kids)
            return (tuple(map(id, _islice(_dict_values(o), limit))) == vids
                    and tuple(map(id, _islice(_dict_keys(o), limit))) == kids)
        elems = tuple(_islice(_dict_keys(o), limit)) + tuple(_islice(_dict_values(o), limit))
    elif not subs:
        if n == limit:
            return tuple(map(id, ex(o))) == ids
        return tuple(map(id, _islice(ex(o), limit))) == ids
    else:
        elems = tuple(_islice(ex(o), limit))
    if tuple(map(id, elems)) != ids:
        return False
    for i, sub in subs:
        if not _same(elems[i], sub):
            return False
    return True


def encode_value(obj: Any, options: Optional[ValueOptions] = None,
                 reprs: str = "builtin") -> Tuple[Any, List[Any]]:
    """Convenience for tools and tests: ``(record, types)`` as Python objects, where
    ``types`` is the list of ``Type`` payloads the record's ``type_id``s index."""
    import json

    written: List[str] = []
    enc = ValueEncoder(TypeRegistry(written.append,
                                    (options or ValueOptions()).max_types), options, reprs)
    text = enc.encode(obj)
    return json.loads(text), [json.loads(w)["Type"] for w in written]
