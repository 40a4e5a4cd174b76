"""Qualified names of code objects, the same on every interpreter.

Events name code by its qualified name (``Outer.method.<locals>.helper``). CPython 3.11+ keeps
it on the code object (``co_qualname``); 3.8-3.10 keep it only on *function* objects, which a
tracer never sees. Without this module, two methods ``A.run`` and ``B.run`` would both be
``run`` below 3.11, and a trace would change shape with the interpreter.

Below 3.11 we rebuild exactly what 3.11's ``co_qualname`` would be. The key fact: the compiler hands the qualname to ``MAKE_FUNCTION``
as a constant (``LOAD_CONST <code>; LOAD_CONST '<qualname>'; MAKE_FUNCTION``), and a class body
opens with ``LOAD_CONST '<qualname>'; STORE_NAME __qualname__``. So once the code that
*defines* a code object is known, its bytecode gives the compiler's own answer, with the
``global`` and ``.<locals>`` rules already applied. That is why every code object we name has
its own children named at once from its bytecode: under a tracer, a module body, class body or
function is met before anything it defines, so most code is named exactly, for free, before it
first runs. For the rest (code whose parent ran before recording began), in order, cheapest
first:

1. a class body reads its own ``__qualname__`` store;
2. an enclosing frame whose code holds ours in ``co_consts`` (comprehensions, generator
   expressions and lambdas mostly run where they are defined) gives the pairing;
3. ``globals[co_name]`` when it is the very function running this code;
4. the whole MRO of the first argument (``self``/``cls``), matched by code identity, because
   under ``super()`` the first method found by name is the wrong one;
5. a per-module index of the functions reachable from the module globals, refreshed only when
   ``len(globals)`` changes; it descends through ``co_consts`` with the pairing, which names
   closures, ``functools.wraps`` wrappers and classes inside functions;
6. the heap: young GC generations, then ``gc.get_referrers(code)`` (milliseconds on a large
   heap, so last);
7. otherwise ``co_name``.

A function's ``__qualname__`` is believed only when its last part is ``co_name``:
``functools.wraps`` copies the wrapped function's qualname onto the wrapper.

Everything is cached per code object, keyed by ``id(code)``; the entry goes when the code
object dies (:mod:`recorder.lifetimes`), before its id can be reused, so code made at run
time does not accumulate. A second call costs one dict lookup. The resolver never raises (an internal
error gives ``co_name``) and never runs user code: attributes are read through the C-level
descriptors of the builtin types and objects are tested with ``type()``, so user
``__getattribute__``, ``__getattr__``, ``__class__``, ``__eq__``, ``__hash__``, ``__repr__``,
properties and metaclass attributes are never triggered.
"""
from __future__ import annotations

import opcode as _opcode
import functools
import gc
import sys
import weakref
from types import (AsyncGeneratorType, CodeType, CoroutineType, FrameType, FunctionType,
                   GeneratorType, GetSetDescriptorType, MemberDescriptorType, MethodType,
                   ModuleType)
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from recorder.env import HAS_CO_QUALNAME
from recorder.lifetimes import CodeLifetimes

__all__ = ["qualname_of"]

_UNKNOWN = "<unknown>"


def _fallback(code: Any) -> str:
    """``co_name``, read only from a real code object (never a user attribute)."""
    if type(code) is CodeType:
        return code.co_name
    return _UNKNOWN


if HAS_CO_QUALNAME:

    def qualname_of(code: CodeType, frame: Optional[FrameType]) -> str:
        """The qualified name of ``code``; 3.11+ stores it on the code object."""
        if type(code) is CodeType:  # never read a user ``co_qualname`` property
            return code.co_qualname
        return _UNKNOWN

    def _explain(code: CodeType, frame: Optional[FrameType]) -> Tuple[str, str]:
        return qualname_of(code, frame), "co_qualname"

else:

    def qualname_of(code: CodeType, frame: Optional[FrameType]) -> str:
        """The qualified name of ``code``, as 3.11's ``co_qualname`` would give it."""
        name = _names.get(id(code))
        if name is not None:
            return name
        return _resolve_and_cache(code, frame)

    def _explain(code: CodeType, frame: Optional[FrameType]) -> Tuple[str, str]:
        """``(qualname, strategy)`` for tests: the answer is not cached (what the steps learn
        on the way, such as a parent's children, is)."""
        try:
            return _resolve(code, frame)
        except Exception:
            return _fallback(code), "error"


# --- state (used below 3.11 only) -------------------------------------------------------------

#: Watches every code object the two tables below have an entry for.
_lifetimes = CodeLifetimes()
#: id(code) -> qualname: the answer cache read by ``qualname_of``.
_names: Dict[int, str] = {}
#: id(parent code) -> True, for parents whose MAKE_FUNCTION pairings were read.
_scanned: Dict[int, bool] = {}
_lifetimes.register(_names)
_lifetimes.register(_scanned)
# The two per-class caches hold their class only weakly (see _cache_weakly): keeping a class
# alive would show in ``Base.__subclasses__()`` and delay its finalisation.
#: id(class) -> (weakref to class, _ClassCodes of the functions defined on it).
_classes: Dict[int, Tuple[Any, "_ClassCodes"]] = {}
#: id(type) -> (weakref to type, (__slots__ as (MRO position, name), ...), __dict__ is safe).
_layouts: Dict[int, Tuple[Any, Tuple[Tuple[Tuple[int, str], ...], bool]]] = {}
#: id(globals) -> _Index of that module's functions (see _Index).
_indexes: Dict[int, "_Index"] = {}
#: co_filename -> module globals, to find a module when no frame is given.
_files: Dict[str, dict] = {}
_files_size = [-1]  # len(sys.modules) when ``_files`` was built

_MAX_INDEXES = 64        # indexes hold their globals alive; exec() can make many
_MAX_ANCESTORS = 16      # enclosing frames searched for the defining code
_MAX_CONTAINER = 2000    # items read from one registry-like dict/list in globals
_MAX_UNWRAP = 6          # decorator layers followed (__wrapped__, closure cells)

_CO_NEWLOCALS = 0x0002
_CO_VARARGS = 0x0004

# Opcode numbers differ per version, so take them from opcode (dis costs start-up).
_LOAD_CONST = _opcode.opmap.get("LOAD_CONST", -1)
_MAKE_FUNCTION = _opcode.opmap.get("MAKE_FUNCTION", -1)
_STORE_NAME = _opcode.opmap.get("STORE_NAME", -1)
_EXTENDED_ARG = _opcode.opmap.get("EXTENDED_ARG", -1)
_MAKE_FUNCTION_BYTE = bytes([_MAKE_FUNCTION & 0xFF])

# C-level accessors: reading through them cannot reach user overrides in a subclass or
# metaclass (a ``__mro__`` property on a metaclass, a ``__dict__`` property, ...).
_type_mro = type.__dict__["__mro__"].__get__
_type_dict = type.__dict__["__dict__"].__get__
_type_flags = type.__dict__["__flags__"].__get__
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement, not static C
_func_dict = FunctionType.__dict__["__dict__"].__get__
_module_dict = ModuleType.__dict__["__dict__"].__get__
_sm_func = staticmethod.__dict__["__func__"].__get__
_cm_func = classmethod.__dict__["__func__"].__get__
_prop_accessors = tuple(property.__dict__[n].__get__ for n in ("fget", "fset", "fdel"))
_partial_func = functools.partial.__dict__["func"].__get__
_object_getattribute = object.__getattribute__
_LRU_TYPE = type(functools.lru_cache()(lambda: None))
#: Types that never hold a function: skipped without looking at their attributes.
_ATOMIC = frozenset({type(None), bool, int, float, complex, str, bytes, bytearray, tuple, list,
                     dict, set, frozenset, range, slice, CodeType, FrameType, ModuleType})


def _reset() -> None:
    """Forget everything (tests). Nothing is cached on 3.11+."""
    _lifetimes.clear()  # and _names, _scanned
    _classes.clear()
    _layouts.clear()
    _indexes.clear()
    _files.clear()
    _files_size[0] = -1


def _remember(code: CodeType, name: str) -> None:
    """Cache an answer; the first one wins, so a code's label never changes mid-trace."""
    key = id(code)
    if key not in _names:
        _lifetimes.watch(code)  # before the name: the entry goes when the code dies
        _names[key] = name


def _resolve_and_cache(code: CodeType, frame: Optional[FrameType]) -> str:
    if type(code) is not CodeType:
        return _UNKNOWN
    try:
        name, _how = _resolve(code, frame)
    except (RecursionError, MemoryError):
        return code.co_name  # transient: not cached, a later call may do better
    except Exception:
        name = code.co_name
    _remember(code, name)
    try:
        # This code is about to define its children (functions, classes, lambdas,
        # comprehensions), and they theirs: name the whole tree now from the bytecode,
        # exactly. A cache hit must stay one lookup, so pre-named children cannot wait to
        # name their own children when they first run.
        _name_tree(code)
    except Exception:
        pass
    return _names.get(id(code), name)


def _resolve(code: CodeType, frame: Optional[FrameType]) -> Tuple[str, str]:
    """``(qualname, strategy)``; the pipeline described in the module docstring."""
    if type(code) is not CodeType:
        return _UNKNOWN, "not-code"
    known = _names.get(id(code))
    if known is not None:  # named earlier, as the child of code we met
        return known, "parent-code"
    co_name = code.co_name
    if co_name == "<module>":
        return co_name, "module"
    if type(frame) is not FrameType or frame.f_code is not code:
        frame = None  # a frame running other code would mislead every step below

    if not code.co_flags & _CO_NEWLOCALS:  # a class body: no fast locals of its own
        name = _class_body_qualname(code)
        if name is not None:
            return name, "class-body"

    if frame is not None:
        name = _from_enclosing_frames(code, frame)
        if name is not None:
            return name, "parent-frame"
        globals_: Optional[dict] = frame.f_globals
        if not issubclass(type(globals_), dict):
            globals_ = None
    else:
        globals_ = _globals_for_file(code.co_filename)

    # Globals may be a dict subclass (exec accepts one): only dict's own methods are called.
    if globals_ is not None:
        func = dict.get(globals_, co_name)
        if type(func) is FunctionType and func.__code__ is code and _believable(func, code):
            return func.__qualname__, "globals-name"

    # Set when a function running this code was found with a copied (wraps) __qualname__:
    # every other holder of the code got the same copy, so the heap cannot do better.
    copied = False
    if frame is not None:
        name, copied = _from_first_argument(code, frame)
        if name is not None:
            return name, "first-argument-mro"

    if globals_ is not None:
        name, copied_here = _from_index(code, globals_)
        copied = copied or copied_here
        if name is not None:
            return name, "globals-index"

    if not copied:
        name = _from_gc(code, globals_ is None)
        if name is not None:
            return name, "gc-referrers"
    return co_name, "co_name"


# --- bytecode reading ---------------------------------------------------------------------------

def _instructions(code: CodeType) -> Iterable[Tuple[int, int]]:
    """``(opcode, argument)`` pairs with EXTENDED_ARG folded in (2-byte wordcode, 3.6-3.10)."""
    raw = code.co_code
    ext = 0
    for i in range(0, len(raw) - 1, 2):
        op = raw[i]
        arg = raw[i + 1] | ext
        if op == _EXTENDED_ARG:
            ext = arg << 8
            continue
        ext = 0
        yield op, arg


def _class_body_qualname(code: CodeType) -> Optional[str]:
    """A class body starts ``__module__ = __name__; __qualname__ = '<qualname>'``."""
    consts = code.co_consts
    names = code.co_names
    previous: Optional[Tuple[int, int]] = None
    for count, (op, arg) in enumerate(_instructions(code)):
        if count > 8:  # the compiler's store comes first; a later one is the user's
            return None
        if (op == _STORE_NAME and previous is not None and previous[0] == _LOAD_CONST
                and names[arg] == "__qualname__"):
            value = consts[previous[1]]
            return value if type(value) is str else None
        previous = (op, arg)
    return None


def _load_const_before(raw: bytes, end: int) -> Tuple[int, int]:
    """``(const index, start offset)`` of a LOAD_CONST ending at ``end``, or ``(-1, -1)``.

    Wordcode is 2-byte aligned, so reading backwards is unambiguous: an EXTENDED_ARG just
    before an instruction is its prefix.
    """
    start = end - 2
    if start < 0 or raw[start] != _LOAD_CONST:
        return -1, -1
    arg = raw[start + 1]
    shift = 8
    while start >= 2 and raw[start - 2] == _EXTENDED_ARG:
        start -= 2
        arg |= raw[start + 1] << shift
        shift += 8
    return arg, start


def _scan(parent: CodeType) -> List[CodeType]:
    """Cache the compiler's qualname of every code object ``parent`` defines; return them.

    The bytecode ``LOAD_CONST <code>; LOAD_CONST '<qualname>'; MAKE_FUNCTION`` is the
    compiler's own answer. For a class body that constant is the bare class name, so a class
    body's qualname is read from its own ``__qualname__`` store instead.
    """
    consts = parent.co_consts
    children = [c for c in consts if type(c) is CodeType]
    if not children or id(parent) in _scanned:
        return children
    _lifetimes.watch(parent)
    _scanned[id(parent)] = True
    raw = parent.co_code
    at = raw.find(_MAKE_FUNCTION_BYTE)
    while at >= 0:
        if at % 2 == 0:  # an opcode, not an argument byte that happens to match
            name_index, name_start = _load_const_before(raw, at)
            code_index, _ = _load_const_before(raw, name_start) if name_start > 0 else (-1, -1)
            if 0 <= code_index < len(consts) and 0 <= name_index < len(consts):
                child = consts[code_index]
                name = consts[name_index]
                if type(child) is CodeType and type(name) is str:
                    if child.co_flags & _CO_NEWLOCALS:
                        _remember(child, name)
                    else:
                        body_name = _class_body_qualname(child)
                        if body_name is not None:
                            _remember(child, body_name)
        at = raw.find(_MAKE_FUNCTION_BYTE, at + 1)
    return children


def _name_tree(root: CodeType) -> None:
    """Name every code object ``root`` defines, and what those define, from the bytecode."""
    pending = [root]
    while pending:
        parent = pending.pop()
        if id(parent) not in _scanned:
            pending.extend(_scan(parent))


def _from_enclosing_frames(code: CodeType, frame: FrameType) -> Optional[str]:
    """The defining code is often the caller or a near ancestor (comprehensions, lambdas)."""
    parent = frame.f_back
    for _ in range(_MAX_ANCESTORS):
        if parent is None:
            return None
        # ``in`` tests identity first; equality only matters for a look-alike code object,
        # and then the pairing below (by id) simply does not contain ours.
        if code in parent.f_code.co_consts:
            _name_tree(parent.f_code)
            name = _names.get(id(code))
            if name is not None:
                return name
        parent = parent.f_back
    return None


# --- functions reachable from objects -----------------------------------------------------------

def _believable(func: FunctionType, code: CodeType) -> bool:
    """``__qualname__`` is the compiler's unless someone copied one over (``functools.wraps``)."""
    qualname = func.__qualname__
    return type(qualname) is str and qualname.rpartition(".")[2] == code.co_name


def _cache_weakly(cache: Dict[int, Tuple[Any, Any]], cls: type, value: Any) -> None:
    """``cache[id(cls)] = (weakref(cls), value)``, dropped when the class dies (before its id
    can be reused)."""
    key = id(cls)
    try:
        ref = weakref.ref(cls, lambda _ref, key=key, pop=cache.pop: pop(key, None))
    except TypeError:
        return  # not weakly referenceable: recomputed next time
    cache[key] = (ref, value)


def _cached(cache: Dict[int, Tuple[Any, Any]], cls: type) -> Any:
    entry = cache.get(id(cls))
    if entry is not None and entry[0]() is cls:
        return entry[1]
    return None


def _layout(tp: type) -> Tuple[Tuple[Tuple[int, str], ...], bool]:
    """How to read instances of ``tp`` safely: where its ``__slots__`` are, and whether its
    instance ``__dict__`` comes from the C-level descriptor (not a Python-level attribute)."""
    layout = _cached(_layouts, tp)
    if layout is not None:
        return layout
    slots: List[Tuple[int, str]] = []
    dict_ok: Optional[bool] = None
    for position, klass in enumerate(_type_mro(tp)):
        for attr, value in list(_type_dict(klass).items()):
            kind = type(value)
            if kind is MemberDescriptorType:
                slots.append((position, attr))
            elif attr == "__dict__" and dict_ok is None:
                dict_ok = kind is GetSetDescriptorType
    layout = (tuple(slots), bool(dict_ok))
    _cache_weakly(_layouts, tp, layout)
    return layout


def _instance_attributes(value: Any) -> List[Any]:
    """The values of ``value``'s own attributes (``__dict__`` and ``__slots__``)."""
    tp = type(value)
    slots, dict_ok = _layout(tp)
    found: List[Any] = []
    if slots:
        mro = _type_mro(tp)
        for position, attr in slots:
            descriptor = _type_dict(mro[position]).get(attr)
            if type(descriptor) is MemberDescriptorType:  # still the C-level slot
                try:
                    found.append(descriptor.__get__(value, mro[position]))
                except AttributeError:  # slot never assigned
                    pass
    if dict_ok:
        instance_dict = _object_getattribute(value, "__dict__")  # the C getset checked above
        if type(instance_dict) is dict:
            found.extend(list(instance_dict.values())[:_MAX_CONTAINER])
    return found


def _functions_in(value: Any, seen: Set[int], depth: int = 0) -> Iterable[FunctionType]:
    """Functions held by ``value``: itself, decorator layers (``__wrapped__``, closure cells),
    descriptors (staticmethod, classmethod, property, partial, lru_cache), and at the top
    level the attributes of other Python objects (``os.environ.encodekey``, a pytest fixture
    definition). Everything is read without running user code."""
    if depth > _MAX_UNWRAP or id(value) in seen:
        return
    seen.add(id(value))
    tp = type(value)
    inner: Iterable[Any] = ()
    if tp is FunctionType:
        yield value
        extra = _func_dict(value).get("__wrapped__")
        inner = [extra] if extra is not None else []
        for cell in value.__closure__ or ():
            try:
                inner.append(cell.cell_contents)
            except ValueError:  # an empty cell
                pass
    elif tp in _ATOMIC or issubclass(tp, type):
        return  # nothing to unwrap; classes are walked on their own
    elif issubclass(tp, staticmethod):
        inner = (_sm_func(value),)
    elif issubclass(tp, classmethod):
        inner = (_cm_func(value),)
    elif issubclass(tp, property):
        inner = [get(value) for get in _prop_accessors]
    elif tp is MethodType:
        inner = (value.__func__,)
    elif issubclass(tp, functools.partial):
        inner = (_partial_func(value),)
    elif tp is _LRU_TYPE or (depth == 0 and _type_flags(tp) & _HEAPTYPE):
        inner = _instance_attributes(value)  # a Python-level class (or lru_cache's wrapper)
    for item in inner:
        if item is not None:
            yield from _functions_in(item, seen, depth + 1)


class _ClassCodes:
    """The functions defined on one class (not its bases), by code; refreshed when the
    class ``__dict__`` changes size. Shared by the MRO scan and every module's index."""

    __slots__ = ("size", "codes", "nested")

    def __init__(self, namespace: Any) -> None:
        self.size = len(namespace)
        #: id(code) -> (code, believable __qualname__ or None, id of the function's globals)
        self.codes: Dict[int, Tuple[CodeType, Optional[str], int]] = {}
        #: weak references to the classes in the namespace (a class may hold itself)
        self.nested: List[Any] = []
        seen: Set[int] = set()
        for value in list(namespace.values()):
            if issubclass(type(value), type):
                try:
                    self.nested.append(weakref.ref(value))
                except TypeError:
                    pass
                continue
            for func in _functions_in(value, seen):
                code = func.__code__
                name = func.__qualname__ if _believable(func, code) else None
                known = self.codes.get(id(code))
                if known is None or (known[1] is None and name is not None):
                    self.codes[id(code)] = (code, name, id(func.__globals__))


def _class_codes(cls: type) -> _ClassCodes:
    namespace = _type_dict(cls)
    entry = _cached(_classes, cls)
    if entry is None or entry.size != len(namespace):
        entry = _ClassCodes(namespace)
        _cache_weakly(_classes, cls, entry)
    return entry


def _first_argument(code: CodeType, frame: FrameType) -> Any:
    if code.co_argcount > 0:
        index = 0
    elif code.co_flags & _CO_VARARGS:
        index = code.co_kwonlyargcount  # ``def m(*args)``: the tuple follows kw-only names
    else:
        return None
    varnames = code.co_varnames
    if index >= len(varnames):
        return None
    local_vars = frame.f_locals  # a plain dict for function frames
    if type(local_vars) is not dict:
        return None
    value = local_vars.get(varnames[index])
    if index and type(value) is tuple:
        value = value[0] if value else None
    return value


def _from_first_argument(code: CodeType, frame: FrameType) -> Tuple[Optional[str], bool]:
    """Scan every class of the first argument's MRO (and its metaclass's) by code identity.

    Returns ``(qualname or None, found with a copied __qualname__)``.
    """
    if not code.co_flags & _CO_NEWLOCALS:
        return None, False
    arg = _first_argument(code, frame)
    if arg is None:
        return None, False
    classes: List[type] = []
    if issubclass(type(arg), type):  # not isinstance(): that may read a user ``__class__``
        classes.extend(_type_mro(arg))  # classmethod, __new__, __init_subclass__
    classes.extend(_type_mro(type(arg)))  # method, or metaclass method when arg is a class
    for cls in classes:
        found = _class_codes(cls).codes.get(id(code))
        if found is not None and found[0] is code:
            return found[1], found[1] is None
    return None, False


# --- per-module index ---------------------------------------------------------------------------

class _Index:
    """The functions of one module, for code whose defining frame is gone.

    ``roots`` maps the code of every function reachable from the module globals (functions,
    classes and their nested classes, one level into registry-like dicts and lists and into
    plain objects' attributes, decorator layers) to its ``__qualname__`` (None when copied by
    ``wraps``). On a miss, the module's own functions are descended through ``co_consts``,
    which names everything defined inside them from the bytecode.

    Refreshed only when ``len(globals)`` changes, and incrementally: a module being imported
    calls code while its globals grow, so only entries not walked before are walked. Classes
    are walked whatever their ``__module__`` (importlib renames its frozen modules after
    their classes were made); a believable ``__qualname__`` is right wherever it is found.
    """

    __slots__ = ("globals", "size", "roots", "own", "walked", "descended")

    def __init__(self, globals_: dict) -> None:
        self.globals = globals_  # kept alive so id(globals) stays unique
        self.size = -1
        self.roots: Dict[int, Tuple[CodeType, Optional[str]]] = {}
        #: codes of the functions whose __globals__ is this module (kept alive: ids below)
        self.own: List[CodeType] = []
        #: (name, id(value)) of the globals entries already walked
        self.walked: Set[Tuple[Any, int]] = set()
        #: ids of the codes in ``own`` already descended
        self.descended: Set[int] = set()

    def refresh(self) -> None:
        globals_ = self.globals
        size = dict.__len__(globals_)
        if self.size == size:
            return
        self.size = size
        seen: Set[int] = set()
        classes_seen: Set[int] = set()
        for key, value in list(dict.items(globals_)):
            mark = (key, id(value))
            if mark in self.walked:
                continue
            self.walked.add(mark)
            tp = type(value)
            if issubclass(tp, dict):
                items: Iterable[Any] = list(dict.values(value))[:_MAX_CONTAINER]
            elif tp in (list, tuple, set, frozenset):
                items = list(value)[:_MAX_CONTAINER]
            else:
                items = (value,)
            for item in items:
                if issubclass(type(item), type):
                    self._add_class(item, classes_seen)
                else:
                    for func in _functions_in(item, seen):
                        code = func.__code__
                        name = func.__qualname__ if _believable(func, code) else None
                        self._add(code, name, id(func.__globals__))

    def _add(self, code: CodeType, name: Optional[str], globals_id: int) -> None:
        known = self.roots.get(id(code))
        if known is None or (known[1] is None and name is not None):
            self.roots[id(code)] = (code, name)
        if globals_id == id(self.globals):  # ids compare safely: self.globals is alive
            self.own.append(code)

    def _add_class(self, cls: type, classes_seen: Set[int]) -> None:
        pending = [cls]
        while pending:
            klass = pending.pop()
            if id(klass) in classes_seen:
                continue
            classes_seen.add(id(klass))
            entry = _class_codes(klass)
            for code, name, globals_id in list(entry.codes.values()):
                self._add(code, name, globals_id)
            for ref in entry.nested:
                nested = ref()
                if nested is not None:
                    pending.append(nested)

    def lookup(self, code: CodeType) -> Tuple[Optional[str], bool]:
        found = self.roots.get(id(code))
        if found is not None and found[0] is code and found[1] is not None:
            return found[1], False
        for own in self.own:
            if id(own) not in self.descended:
                self.descended.add(id(own))
                _name_tree(own)
        name = _names.get(id(code))
        return name, name is None and found is not None and found[0] is code


def _from_index(code: CodeType, globals_: dict) -> Tuple[Optional[str], bool]:
    """``(qualname or None, found only with a copied __qualname__)``."""
    index = _indexes.get(id(globals_))
    if index is None or index.globals is not globals_:
        if len(_indexes) >= _MAX_INDEXES:
            del _indexes[next(iter(_indexes))]  # the oldest
        index = _indexes[id(globals_)] = _Index(globals_)
    index.refresh()
    return index.lookup(code)


def _globals_for_file(filename: str) -> Optional[dict]:
    """The globals of the loaded module whose ``__file__`` is ``filename`` (no frame given)."""
    modules = sys.modules
    if type(modules) is not dict:
        return None
    if _files_size[0] != len(modules):
        _files.clear()
        for module in list(modules.values()):
            if issubclass(type(module), ModuleType):
                namespace = _module_dict(module)
                if issubclass(type(namespace), dict):
                    path = dict.get(namespace, "__file__")
                    if type(path) is str:
                        _files.setdefault(path, namespace)
        _files_size[0] = len(modules)
    return _files.get(filename)


# --- last resort --------------------------------------------------------------------------------

def _from_gc(code: CodeType, want_globals: bool) -> Optional[str]:
    """Functions, generators and coroutines referring to ``code`` know its qualname.

    Code met here was usually made moments ago (exec'd helpers such as dataclasses'
    ``__create_fn__``), so its function is still in a young GC generation: those short lists
    are scanned first, and the whole heap (``gc.get_referrers``) only if they fail.
    """
    other_globals: List[dict] = []
    for generation in (0, 1):
        objects = gc.get_objects(generation)
        try:
            name = _name_from_holders(code, objects, other_globals)
        finally:
            del objects  # do not keep a heap snapshot alive through a traceback
        if name is not None:
            return name
    if not other_globals:  # else found with a copied __qualname__: older ones have the same
        referrers = gc.get_referrers(code)
        try:
            name = _name_from_holders(code, referrers, other_globals)
        finally:
            del referrers
        if name is not None:
            return name
    if want_globals:
        for globals_ in other_globals:  # e.g. a wraps() wrapper: its module's index names it
            if not issubclass(type(globals_), dict):
                continue
            name, _copied = _from_index(code, globals_)
            if name is not None:
                return name
    return None


def _name_from_holders(code: CodeType, objects: List[Any],
                       other_globals: List[dict]) -> Optional[str]:
    for ref in objects:
        tp = type(ref)
        if tp is FunctionType:
            if ref.__code__ is code:
                if _believable(ref, code):
                    return ref.__qualname__
                other_globals.append(ref.__globals__)
        elif ((tp is GeneratorType and ref.gi_code is code)
              or (tp is CoroutineType and ref.cr_code is code)
              or (tp is AsyncGeneratorType and ref.ag_code is code)):
            qualname = ref.__qualname__
            if type(qualname) is str and qualname.rpartition(".")[2] == code.co_name:
                return qualname
    return None
