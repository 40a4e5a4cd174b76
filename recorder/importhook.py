"""The import hook: see every import (name, origin, cost, nesting, outcome) without changing it.

A finder sits at ``sys.meta_path[0]``. It does not find anything itself: it asks the finders
after it, in order, exactly as importlib would (under a thread-local re-entrancy guard, so a
finder that imports something while searching is not observed twice), and returns their spec
untouched. What it adds:

* it teaches the :class:`~recorder.identity.ModuleResolver` that the spec's files (origin, cached
  ``.pyc`` and the source a ``.pyc`` stands for) are module ``spec.name``;
* it wraps the **loader instance**'s ``create_module``/``exec_module`` (``load_module`` for
  legacy loaders such as zipimport on 3.8/3.9) with *instance attributes*, so
  ``module.__loader__``/``__spec__.loader`` stay the very same object of the same type. The
  wrappers emit ``IMPORT_START``/``IMPORT_END`` through ``on_import(kind, ImportInfo)`` and are
  removed again once the load is over, leaving the loader's ``__dict__`` as it was
  (``FileLoader.__eq__`` compares ``__dict__``). Loaders that are classes (``BuiltinImporter``,
  ``FrozenImporter``) are never touched: patching them would patch every import.

Invisibility: the finder and wrapper functions are compiled with the file name
``<frozen importlib._bootstrap>``. CPython treats frames of that file as importlib's own: it
trims them from import tracebacks (``remove_importlib_frames`` in import.c) and ``warnings``
skips them when applying ``stacklevel`` (``_is_internal_frame``). With an ordinary file name,
``warnings.warn(..., stacklevel=2)`` at module level would be attributed to this file instead
of the importing line (and a DeprecationWarning shown for ``__main__`` would be hidden), and a
failing import would show four extra traceback lines. The tracer must skip these code objects
(:data:`HOOK_CODES`): they are the recorder's frames, whatever their file name says.

Never recording itself: the hook's work runs on the importing thread as ordinary code (not
inside a trace callback), so all of it (learning a spec, the ``on_import`` callback: a user's
sink, the trace writer's ``imports.jsonl`` line) runs inside the session's ``at_work``
(:class:`recorder.normalise.AtWork`), where nothing is recorded; the program's own loading
(the other finders, ``exec_module``) runs outside it. An import made by the recorder's own
work (a sink importing something, an exit hook's lazy import) is not observed: it is not the
program's.

Never breaking an import: every piece of the hook's own work is in ``try/except Exception``;
an error there disables the hook (one warning on stderr) and the import goes on exactly as
without it. Exceptions raised by the program's finders and loaders pass through unchanged.
"""
from __future__ import annotations

import sys
import threading
import time
from types import CodeType, FunctionType
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple

from recorder.errors import warn
from recorder.events import ImportInfo, Kind
from recorder.identity import ModuleResolver
from recorder.normalise import NO_RECORDING

__all__ = ["ImportHook", "HOOK_CODES", "HOOK_CODE_IDS", "OnImport"]

#: ``on_import(kind, info)``: kind is ``Kind.IMPORT_START`` or ``Kind.IMPORT_END``.
OnImport = Callable[[Kind, ImportInfo], Any]

#: The file name that makes CPython treat our frames as importlib's (see module docstring).
_DISGUISE = "<frozen importlib._bootstrap>"

# The code on the import path. Kept minimal: everything that can wait runs in ordinary
# methods of ImportHook, called before or after (never around) the program's code.
#
# The finder always searches, even when it is not observing (stopped, disabled, or re-entered
# from a finder's own import): returning None without searching would be wrong if another
# thread removed it from sys.meta_path while importlib iterates that list, since the list
# shift makes importlib skip the finder that followed ours.
_TRAMPOLINES = '''
def find_spec(self, fullname, path=None, target=None):
    hook = self._recorder_hook
    tls = hook._tls
    observe = hook.active and not getattr(tls, "busy", False) and not hook._at_work.busy()
    if observe:
        started = _perf_counter()
        tls.busy = True
    try:
        finders = list(_sys.meta_path)
        for index, finder in enumerate(finders):
            if finder is self:
                finders = finders[index + 1:]
                break
        else:
            finders = [finder for finder in finders if finder is not self]
        spec = None
        for finder in finders:
            try:
                find = finder.find_spec
            except AttributeError:
                return None
            spec = find(fullname, path, target)
            if spec is not None:
                break
    finally:
        if observe:
            tls.busy = False
    if observe and spec is not None:
        try:
            hook._found(spec, started)
        except Exception as exc:
            hook._fail("learning a spec", exc)
    return spec


def make_create_module(hook, loader, original):
    def create_module(spec, *args, **kwargs):
        entry = None
        if hook.active or hook._open:
            try:
                entry = hook._begin(loader, spec, None, "create")
            except Exception as exc:
                hook._fail("starting an import", exc)
        try:
            module = original(spec, *args, **kwargs)
        except BaseException as exc:
            if entry is not None:
                hook._end(entry, exc)
            raise
        if entry is not None:
            hook._created(entry)
        return module
    return create_module


def make_exec_module(hook, loader, original):
    def exec_module(module, *args, **kwargs):
        entry = None
        if hook.active or hook._open:
            try:
                entry = hook._begin(loader, None, module, "exec")
            except Exception as exc:
                hook._fail("starting an import", exc)
        try:
            result = original(module, *args, **kwargs)
        except BaseException as exc:
            if entry is not None:
                hook._end(entry, exc)
            raise
        if entry is not None:
            hook._end(entry, None)
        return result
    return exec_module


def make_load_module(hook, loader, original):
    def load_module(fullname, *args, **kwargs):
        entry = None
        if hook.active or hook._open:
            try:
                entry = hook._begin(loader, fullname, None, "load")
            except Exception as exc:
                hook._fail("starting an import", exc)
        try:
            result = original(fullname, *args, **kwargs)
        except BaseException as exc:
            if entry is not None:
                hook._end(entry, exc)
            raise
        if entry is not None:
            hook._end(entry, None)
        return result
    return load_module
'''

_namespace: Dict[str, Any] = {"_sys": sys, "_perf_counter": time.perf_counter}
exec(compile(_TRAMPOLINES, _DISGUISE, "exec"), _namespace)
_finder_find_spec: FunctionType = _namespace["find_spec"]
_WRAPPER_FACTORIES: Dict[str, Callable[..., FunctionType]] = {
    "create_module": _namespace["make_create_module"],
    "exec_module": _namespace["make_exec_module"],
    "load_module": _namespace["make_load_module"],
}


def _hook_codes() -> FrozenSet[CodeType]:
    codes = set()
    for value in _namespace.values():
        if isinstance(value, FunctionType) and value.__code__.co_filename == _DISGUISE:
            codes.add(value.__code__)
            for const in value.__code__.co_consts:
                if isinstance(const, CodeType):
                    codes.add(const)
    return frozenset(codes)


#: Code objects of the hook's frames (filed as ``<frozen importlib._bootstrap>``): the tracer
#: must treat them as the recorder's own and never record them.
HOOK_CODES: FrozenSet[CodeType] = _hook_codes()
#: ``id()`` of :data:`HOOK_CODES` (they live as long as this module): a cheap membership test
#: for a scope predicate, without hashing code objects (a code hash is computed from its
#: contents on every lookup).
HOOK_CODE_IDS: FrozenSet[int] = frozenset(id(code) for code in HOOK_CODES)

_MISSING = object()


class _Finder:
    """What sits in ``sys.meta_path``. A separate small object (not the ImportHook) so that
    ``repr(sys.meta_path)`` says what it is and nothing else is reachable from it."""

    find_spec = _finder_find_spec

    def __init__(self, hook: "ImportHook") -> None:
        self._recorder_hook = hook

    def __repr__(self) -> str:
        return "<recorder.importhook finder>"


class _Entry:
    """One import in progress on one thread."""

    __slots__ = ("info", "loader", "spec", "name", "phase", "created_at", "closed")

    def __init__(self, info: ImportInfo, loader: Any, spec: Any, name: str, phase: str) -> None:
        self.info = info
        self.loader = loader
        self.spec = spec
        self.name = name
        self.phase = phase          # "create", "created" (waiting for exec), "exec", "load"
        self.created_at = 0.0
        self.closed = False


class ImportHook:
    """Observe imports through a ``sys.meta_path`` finder; see the module docstring.

    ``resolver`` (the session's one :class:`ModuleResolver`) is taught every spec seen;
    ``on_import(kind, info)`` receives ``Kind.IMPORT_START`` then ``Kind.IMPORT_END`` for each
    module loaded, on the importing thread, balanced, with ``info.depth`` the number of imports
    already in progress on that thread (0 for a top-level import). START and END carry separate
    :class:`ImportInfo` objects; ``info.start`` includes the finders' search.
    """

    def __init__(self, resolver: Optional[ModuleResolver] = None,
                 on_import: Optional[OnImport] = None, at_work: Any = None) -> None:
        """``at_work``: the session's :class:`~recorder.normalise.AtWork` (the hook's work
        is then never recorded, and imports made by the recorder's work are not observed)."""
        self.resolver = resolver
        self.on_import = on_import
        self._at_work = at_work if at_work is not None else NO_RECORDING
        #: True between install() and uninstall(), unless the hook disabled itself.
        self.active = False
        #: Why the hook disabled itself (None while healthy).
        self.failure: Optional[str] = None
        self._finder = _Finder(self)
        self._tls = threading.local()
        self._lock = threading.RLock()
        self._stacks: Dict[int, List[_Entry]] = {}
        # id(loader) -> [loader, {method: previous instance attribute or _MISSING}, pending]
        self._wrapped: Dict[int, List[Any]] = {}
        self._callback_broken = False
        #: Imports started and not yet ended, all threads: while non-zero, the wrappers keep
        #: calling in even after a failure, so what was started still gets its END.
        self._open = 0
        #: Counters for tests.
        self.imports_seen = 0
        self.specs_seen = 0

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def finder(self) -> object:
        """The object placed in ``sys.meta_path``."""
        return self._finder

    def install(self) -> "ImportHook":
        """Put the finder first in ``sys.meta_path`` (the same list object, mutated)."""
        if self._finder not in _identity_list(sys.meta_path):
            sys.meta_path.insert(0, self._finder)
        self.failure = None
        self._callback_broken = False
        self.active = True
        return self

    def uninstall(self) -> None:
        """Remove the finder (only it: finders added since stay where they are), unwrap every
        loader still wrapped, and end the imports still open (``ok=None``: not seen to finish)
        so the event stream stays balanced. Idempotent."""
        with self._at_work:
            self._uninstall()

    def _uninstall(self) -> None:
        self.active = False
        meta_path = sys.meta_path
        for index in range(len(meta_path) - 1, -1, -1):
            if meta_path[index] is self._finder:
                del meta_path[index]
        with self._lock:
            wrapped = list(self._wrapped.values())
            self._wrapped.clear()
            stacks = list(self._stacks.values())
        for record in wrapped:
            self._unwrap(record)
        now = time.perf_counter()
        for stack in stacks:
            while stack:
                entry = stack[-1]
                if entry.closed:  # ended by its own thread meanwhile
                    if stack and stack[-1] is entry:
                        stack.pop()
                    continue
                try:
                    self._close(entry, None, now, ok=None)
                except Exception as exc:  # the callback: stop emitting, keep unwinding
                    self._callback_broken = True
                    self._fail("ending the imports still open", exc)

    # -- called from the finder -------------------------------------------------------------

    def _found(self, spec: Any, started: float) -> None:
        """A finder after us returned ``spec``: learn its name and files, and wrap its loader
        so the load is observed. Remember when the search started (the import's start)."""
        with self._at_work:
            self._learn(spec, started)

    def _learn(self, spec: Any, started: float) -> None:
        try:
            self.specs_seen += 1
            name = spec.name
            self._tls.found = (spec, started)
            if self.resolver is not None:
                for path in _spec_files(spec):
                    self.resolver.bind(path, name)
            loader = spec.loader
            if loader is not None and not isinstance(loader, type):
                self._wrap(loader)
        except Exception as exc:
            self._fail("learning the spec of %r" % getattr(spec, "name", spec), exc)

    def _wrap(self, loader: Any) -> None:
        """Idempotently install the wrappers as instance attributes of ``loader``."""
        try:
            instance_dict = object.__getattribute__(loader, "__dict__")
        except AttributeError:
            return  # __slots__ loader: cannot be observed without changing it
        with self._lock:
            record = self._wrapped.get(id(loader))
            if record is not None and record[0] is loader:
                record[2] += 1
                return
            methods = ("create_module", "exec_module") if hasattr(loader, "exec_module") \
                else ("load_module",)
            previous: Dict[str, Any] = {}
            for method in methods:
                if not hasattr(loader, method):
                    continue
                current = instance_dict.get(method, _MISSING)
                if getattr(current, "_recorder_hook", None) is not None:
                    # A wrapper left by another (stopped) hook: wrap its original instead.
                    original = current._recorder_original
                    before = current._recorder_previous
                else:
                    original = getattr(loader, method)
                    before = current
                wrapper = _WRAPPER_FACTORIES[method](self, loader, original)
                wrapper._recorder_hook = self
                wrapper._recorder_original = original
                wrapper._recorder_previous = before
                previous[method] = before
                instance_dict[method] = wrapper  # not setattr: no __setattr__ of theirs runs
            self._wrapped[id(loader)] = [loader, previous, 1]

    def _unwrap(self, record: List[Any]) -> None:
        loader, previous = record[0], record[1]
        try:
            instance_dict = object.__getattribute__(loader, "__dict__")
            for method, before in previous.items():
                current = instance_dict.get(method, _MISSING)
                if getattr(current, "_recorder_hook", None) is not self:
                    continue  # replaced by someone else since: theirs now
                if before is _MISSING:
                    del instance_dict[method]
                else:
                    instance_dict[method] = before
        except Exception as exc:
            self._fail("restoring a loader", exc)

    def _release(self, loader: Any) -> None:
        """A load through ``loader`` is over: unwrap it once no found spec is waiting for it."""
        with self._lock:
            record = self._wrapped.get(id(loader))
            if record is None or record[0] is not loader:
                return
            record[2] -= 1
            if record[2] > 0:
                return
            del self._wrapped[id(loader)]
        self._unwrap(record)

    # -- called from the wrappers -----------------------------------------------------------

    def _begin(self, loader: Any, spec: Any, module: Any, phase: str) -> Optional[_Entry]:
        """An import starts (or continues: ``exec`` after our own ``create``). Returns the
        entry to close, or None if the hook is not observing (then the wrapper just calls
        through): also for an import made by the recorder's own work."""
        if self._at_work.busy():
            return None
        with self._at_work:
            return self._start(loader, spec, module, phase)

    def _start(self, loader: Any, spec: Any, module: Any, phase: str) -> Optional[_Entry]:
        try:
            stack = self._stack()
            if phase == "exec":
                spec = _module_spec(module)
                name = _module_name(module, spec)
                if stack and stack[-1].phase == "created" and (
                        stack[-1].spec is spec or stack[-1].name == name):
                    entry = stack[-1]
                    entry.phase = "exec"
                    return entry
            elif phase == "load":
                name = spec if isinstance(spec, str) else str(spec)
                found = getattr(self._tls, "found", None)
                spec = found[0] if found is not None and \
                    getattr(found[0], "name", None) == name else None
            else:
                name = spec.name
            self._close_abandoned(stack)
            if not self.active:
                return None
            started = time.perf_counter()
            found = getattr(self._tls, "found", None)
            if found is not None and (found[0] is spec or getattr(found[0], "name", None) == name):
                started = found[1]
                self._tls.found = None
            origin = _origin(spec, module, loader)
            info = ImportInfo(name=name, origin=origin, depth=len(stack), start=started,
                              thread_ident=threading.get_ident())
            entry = _Entry(info, loader, spec, name, phase)
            with self._lock:
                self._open += 1
                self.imports_seen += 1
            stack.append(entry)
            self._emit(Kind.IMPORT_START, info)  # never mutated: END gets its own object
            return entry
        except Exception as exc:
            self._fail("starting the import of %r" % (spec,), exc)
            return None

    def _created(self, entry: _Entry) -> None:
        """``create_module`` returned: the entry waits for ``exec_module``."""
        try:
            if entry.phase == "create":
                entry.phase = "created"
                entry.created_at = time.perf_counter()
        except Exception as exc:
            self._fail("noting a created module", exc)

    def _end(self, entry: _Entry, error: Optional[BaseException]) -> None:
        with self._at_work:
            try:
                self._close(entry, error, time.perf_counter(), ok=error is None)
                self._release(entry.loader)
            except Exception as exc:
                self._fail("ending the import of %r" % entry.name, exc)

    def _close(self, entry: _Entry, error: Optional[BaseException], now: float,
               ok: Optional[bool]) -> None:
        """Emit the END of ``entry`` once, after closing whatever was opened above it and
        abandoned (a ``module_from_spec`` never executed)."""
        with self._lock:
            if entry.closed:
                return
            entry.closed = True
            self._open -= 1
        stack = self._stacks.get(threading.get_ident())
        owner = stack if stack is not None and entry in stack else None
        if owner is None:
            for candidate in list(self._stacks.values()):
                if entry in candidate:
                    owner = candidate
                    break
        if owner is not None:
            while owner and owner[-1] is not entry:
                above = owner[-1]
                if above.closed:
                    owner.pop()
                else:
                    self._close(above, None, above.created_at or now, ok=True)
            if owner and owner[-1] is entry:
                owner.pop()
        start = entry.info
        self._emit(Kind.IMPORT_END,
                   ImportInfo(start.name, start.origin, start.depth, start.start, now, ok, error,
                              start.thread_ident))

    def _close_abandoned(self, stack: List[_Entry]) -> None:
        """A new import starts while the top entry was created but never executed: that
        module was made by ``module_from_spec`` alone, so its import ended at creation."""
        while stack and stack[-1].phase == "created":
            entry = stack[-1]
            self._close(entry, None, entry.created_at, ok=True)
            self._release(entry.loader)

    def _stack(self) -> List[_Entry]:
        stack = getattr(self._tls, "stack", None)
        if stack is None:
            stack = self._tls.stack = []
            with self._lock:
                self._stacks[threading.get_ident()] = stack
        return stack

    # -- output and failure -----------------------------------------------------------------

    def _emit(self, kind: Kind, info: ImportInfo) -> None:
        """Call ``on_import``. After a failure no import is started any more, but the ones
        already started still get their END (balance), unless the callback itself failed."""
        callback = self.on_import
        if callback is None or self._callback_broken:
            return
        if kind is Kind.IMPORT_START and self.failure is not None:
            return
        try:
            callback(kind, info)
        except Exception:
            self._callback_broken = True
            raise

    def _fail(self, what: str, exc: BaseException) -> None:
        """Disable the hook (the finder then returns None at once, so importlib goes on as if
        it were absent) with one warning. ``sys.meta_path`` is not edited here: importlib may
        be iterating it right now."""
        if self.failure is not None:
            return
        self.active = False
        try:
            self.failure = "%s: %s: %s" % (what, type(exc).__name__, exc)
        except Exception:  # an exception whose str() fails
            self.failure = "%s: %s" % (what, type(exc).__name__)
        warn("import hook disabled, imports go on unobserved (internal error while %s)"
             % self.failure)


# -- helpers ----------------------------------------------------------------------------------

class _identity_list(list):  # noqa: N801 - used like a function
    """``x in _identity_list(seq)`` compares by identity (finders may define ``__eq__``)."""

    def __contains__(self, item: object) -> bool:
        return any(element is item for element in self)


def _spec_files(spec: Any) -> Tuple[str, ...]:
    """The file a spec's code comes from: its origin, when that is a location. (Not
    ``spec.cached``: code never carries a ``__pycache__`` name, and the resolver derives the
    source name a sourceless ``.pyc`` origin stands for.)"""
    if getattr(spec, "has_location", False) and isinstance(spec.origin, str):
        return (spec.origin,)
    return ()


def _module_spec(module: Any) -> Any:
    try:
        d = object.__getattribute__(module, "__dict__")
        return d.get("__spec__")
    except Exception:
        return None


def _module_name(module: Any, spec: Any) -> str:
    name = getattr(spec, "name", None)
    if isinstance(name, str):
        return name
    try:
        name = object.__getattribute__(module, "__dict__").get("__name__")
    except Exception:
        name = None
    return name if isinstance(name, str) else repr(module)


def _origin(spec: Any, module: Any, loader: Any) -> Optional[str]:
    """Where the module comes from: the spec's origin, else the module's ``__file__``."""
    origin = getattr(spec, "origin", None) if spec is not None else None
    if origin is None and module is not None:
        try:
            origin = object.__getattribute__(module, "__dict__").get("__file__")
        except Exception:
            origin = None
    return origin if isinstance(origin, str) else None
