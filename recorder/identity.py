"""Module identity: which module a code object belongs to, and how module-level code is named.

A trace full of ``<module>`` calls cannot tell which package was imported or what it cost, so
module-level code (``co_name == "<module>"``) is labelled ``<pkg.mod>``. The tracer, the filter
engine and the summaries must all give the *same* answer, so there is exactly one
:class:`ModuleResolver` per session and every consumer asks it (docs/architecture.md).

Resolution order for a code object (first answer wins; docs/naming.md has the user's version):

1. **frame globals**, when the code's file is the module's file (``__file__`` or
   ``__spec__.origin``): ``__name__``, except ``"__main__"``, where ``__spec__.name`` is used if
   there is a spec (``python -m pkg.mod`` → ``<pkg.mod>``). The file check is what keeps
   ``exec(src, globals())`` code from being named after its caller. When the file matches, the
   globals are authoritative: an invalid name there (``runpy.run_path`` gives ``<run_path>``,
   ``spec_from_file_location("weird-name", ...)``) means ``<module>``, not a guess.
2. **the import hook's bindings** (:meth:`ModuleResolver.bind`: spec name ↔ origin path, and
   the source name a ``.pyc`` origin stands for; or a code object).
3. **a reverse index of** ``sys.modules`` by real path of ``__file__``/origin (``.py``, and for
   a ``.pyc`` also its source name), refreshed only when ``len(sys.modules)`` has changed since
   the last refresh, and incrementally (only new entries cost a ``realpath``).
4. **the longest** ``sys.path`` **root** containing the file, whose directories all carry package
   markers (``__init__.py``/``.pyc``); zip archives on ``sys.path`` need none.

Only a valid dotted identifier is accepted. Synthetic file names (``<string>``, ``<stdin>``,
``<frozen os>``, ``<doctest ...>``) stop the search at once: their code is never named after
anything else. Frozen code keeps the ``<module>`` label but reports its module (``os`` for
``<frozen os>``) so filters can still tell stdlib frames apart.

Cost: each code object is resolved once (cached by ``id(code)``; the entry goes when the code
object dies, see :mod:`recorder.lifetimes`); real paths are cached per file name string.
"""
from __future__ import annotations

import itertools
import os
import sys
import threading
from types import CodeType
from typing import Any, Dict, List, Optional, Tuple

from recorder.lifetimes import CodeLifetimes

__all__ = ["ModuleResolver", "is_dotted_name", "MODULE_LABEL"]

#: The label of module-level code whose module is unknown.
MODULE_LABEL = "<module>"

_MISSING = object()
_SOURCE_SUFFIXES = (".py", ".pyw")
_BYTECODE_SUFFIX = ".pyc"


def is_dotted_name(name: Any) -> bool:
    """True for ``pkg.sub.mod``-like strings: every dot-separated part an identifier.

    The one test applied to every candidate name, whatever step produced it, so no label is
    ever ``<weird-name>`` or ``<<run_path>>``."""
    if not isinstance(name, str) or not name:
        return False
    for part in name.split("."):
        if not part.isidentifier():
            return False
    return True


def _frozen_name(filename: str) -> Optional[str]:
    """``"<frozen importlib._bootstrap>"`` → ``"importlib._bootstrap"``; None otherwise."""
    if filename.startswith("<frozen ") and filename.endswith(">"):
        name = filename[8:-1]
        if is_dotted_name(name):
            return name
    return None


def _source_of_bytecode(path: str) -> Optional[str]:
    """The source path a ``.pyc`` stands for: ``__pycache__/m.cpython-38.pyc`` → ``m.py``,
    legacy ``m.pyc`` → ``m.py``. A sourceless module's code usually carries that name."""
    if not path.endswith(_BYTECODE_SUFFIX):
        return None
    head, tail = os.path.split(path)
    if os.path.basename(head) == "__pycache__":
        stem = tail.split(".", 1)[0]
        return os.path.join(os.path.dirname(head), stem + ".py")
    return path[:-1]


def _stem(path: str) -> str:
    """File name without directory and without every suffix (``m.cpython-38.pyc`` → ``m``)."""
    return os.path.basename(path).split(".", 1)[0]


def _debug_from_env() -> bool:
    """``RECORDER_LOG=debug``, parsed by the one config module (a bad value: not debug; the
    session reports it)."""
    from recorder.config import ENV_VARIABLES
    from recorder.errors import ConfigError

    raw = os.environ.get("RECORDER_LOG")
    if raw is None:
        return False
    try:
        return ENV_VARIABLES["RECORDER_LOG"][1]("RECORDER_LOG", raw) == "debug"
    except ConfigError:
        return False


def _debug_line(message: str) -> None:
    """One line on the real stderr (never the program's replaced ``sys.stderr``, which a
    recording may be capturing); never raises."""
    try:
        stream = sys.__stderr__ or sys.stderr
        stream.write("recorder: debug: identity: %s\n" % message)
        stream.flush()
    except Exception:
        pass


class ModuleResolver:
    """The one answer to "which module is this code from, and what is its label?".

    Thread-safe: results are published with single dict stores (two threads resolving the same
    code compute the same answer); the ``sys.modules`` index is refreshed under a lock, so it
    is built at most once per growth of ``sys.modules``.
    """

    #: How many resolvers were ever created in this process: the session must create one, and
    #: a test checks that tracer and filters do not create a second.
    instances_created = 0
    _instance_counter = itertools.count(1)

    def __init__(self, cwd: Optional[str] = None, debug: Optional[bool] = None,
                 lifetimes: Optional[CodeLifetimes] = None) -> None:
        """``lifetimes``: the session's (shared with the code catalog), which forgets a code
        object's entries when it dies; by default the resolver watches its own."""
        ModuleResolver.instances_created = next(ModuleResolver._instance_counter)
        #: Relative ``co_filename``s (scripts on 3.8, ``run_path("x.py")``) are resolved
        #: against the directory the recording started in, not the program's later ``chdir``.
        self.cwd = cwd if cwd is not None else os.getcwd()
        #: ``RECORDER_LOG=debug``: one stderr line per fallback. Read once, here.
        self.debug = _debug_from_env() if debug is None else debug
        self._lifetimes = lifetimes if lifetimes is not None else CodeLifetimes()
        # id(code) -> (label, module), dropped when the code object dies
        self._cache: Dict[int, Tuple[Optional[str], Optional[str]]] = {}
        self._lifetimes.register(self._cache)
        # file name string -> normalised real path; directory -> its real path
        self._norm_cache: Dict[str, str] = {}
        self._dir_cache: Dict[str, str] = {}
        # file name -> (answer, step that gave it, len(sys.modules) when it was made)
        self._file_cache: Dict[str, Tuple[Optional[str], str, int]] = {}
        # bindings taught by the import hook: as given, and by real path (filled lazily)
        self._bound_raw: Dict[str, str] = {}
        self._bound_files: Dict[str, str] = {}
        self._bound_pending: List[Tuple[str, str]] = []
        self._bind_lock = threading.Lock()
        # id(code) -> module name, dropped when the code object dies
        self._bound_codes: Dict[int, str] = {}
        self._lifetimes.register(self._bound_codes)
        # reverse index of sys.modules
        self._index: Dict[str, str] = {}
        self._index_weak: Dict[str, str] = {}   # names from "__main__" entries: lower rank
        self._indexed: Dict[str, int] = {}      # sys.modules key -> id(module) already seen
        self._index_len = -1
        self._index_lock = threading.Lock()
        # sys.path roots
        self._roots_key: Optional[Tuple[Any, ...]] = None
        self._roots: List[Tuple[str, bool]] = []
        self._marker_cache: Dict[str, bool] = {}
        #: Counters for tests and benchmarks.
        self.index_builds = 0
        self.resolutions = 0
        self.steps: Dict[str, int] = {"globals": 0, "hook": 0, "index": 0, "sys.path": 0,
                                      "synthetic": 0, "none": 0}

    # -- public API ---------------------------------------------------------------------------

    def label_for(self, code: CodeType, globals_: Optional[dict] = None
                  ) -> Tuple[Optional[str], Optional[str]]:
        """``(label, module)`` for ``code``, computed once per code object.

        For module-level code the label is ``"<pkg.mod>"`` (``"<module>"`` when unknown). For
        any other code the label is None ("use the qualified name") and ``module`` still says
        which module the function belongs to, for the filters. ``globals_`` is the running
        frame's ``f_globals`` when the caller has it: it is the strongest evidence.
        """
        try:
            return self._cache[id(code)]
        except KeyError:
            pass
        try:
            label, module = self._resolve(code, globals_)
        except Exception as exc:  # never let naming break the recording
            label, module = (MODULE_LABEL if code.co_name == "<module>" else None), None
            if self.debug:
                _debug_line("%s for %r: resolver error %s: %s" % (
                    label, code.co_filename, type(exc).__name__, exc))
        self._lifetimes.watch(code)
        self._cache[id(code)] = (label, module)
        return label, module

    def module_of_file(self, filename: str) -> Optional[str]:
        """The dotted module a file belongs to (import-hook bindings, ``sys.modules``,
        ``sys.path``), or None. Used by the filter engine, which has a file, not a frame.
        Frozen files give their module (``<frozen os>`` → ``os``), other synthetic ones None."""
        frozen = _frozen_name(filename)
        if frozen is not None or _is_synthetic(filename):
            return frozen
        return self._located(filename)[0]

    def bind(self, code_or_filename: Any, name: str) -> None:
        """Teach the resolver that a code object, or a file (``.py``/``.pyc``/zip member), is
        module ``name``. Called by the import hook for each spec it sees; an invalid name is
        ignored (it could only ever give ``<module>``)."""
        if not is_dotted_name(name):
            return
        if isinstance(code_or_filename, CodeType):
            code = code_or_filename
            self._lifetimes.watch(code)
            self._bound_codes[id(code)] = name
            if code.co_name == "<module>":
                self._cache[id(code)] = ("<%s>" % name, name)
            else:
                self._cache.pop(id(code), None)
            return
        if not isinstance(code_or_filename, str) or _is_synthetic(code_or_filename):
            return
        # Cheap on the import path: the string as given (code carries exactly the origin
        # string in the usual case); real paths are computed later, only if ever needed.
        path = code_or_filename
        with self._bind_lock:
            self._bound_raw[path] = name
            self._bound_pending.append((path, name))
            source = _source_of_bytecode(path)
            if source is not None:
                self._bound_raw.setdefault(source, name)
        self._file_cache.pop(path, None)

    def stats(self) -> Dict[str, Any]:
        """Counters: resolutions (cache misses), index builds, which step answered."""
        return {"resolutions": self.resolutions, "index_builds": self.index_builds,
                "cached_codes": len(self._cache), "bound_files": len(self._bound_raw),
                "indexed_paths": len(self._index) + len(self._index_weak),
                "steps": dict(self.steps)}

    # -- resolution ---------------------------------------------------------------------------

    def _resolve(self, code: CodeType, globals_: Optional[dict]
                 ) -> Tuple[Optional[str], Optional[str]]:
        self.resolutions += 1
        filename = code.co_filename
        is_module = code.co_name == "<module>"

        if _is_synthetic(filename):
            # exec/eval/compile("<string>"), <stdin>, doctest, frozen: never the caller's name.
            self.steps["synthetic"] += 1
            frozen = _frozen_name(filename)
            if is_module:
                if self.debug:
                    caller = _globals_name(globals_)
                    _debug_line("<module> for %r (line %d): synthetic file name%s%s" % (
                        filename, code.co_firstlineno,
                        " (frozen module %s)" % frozen if frozen else "",
                        "; not named after the running module %r" % caller
                        if caller and not frozen else ""))
                return MODULE_LABEL, frozen
            return None, frozen

        # 1. frame globals, when they are this file's module.
        verdict = self._from_globals(filename, globals_)
        if verdict is not None:
            name, why = verdict
            if name is not None:
                self.steps["globals"] += 1
                return ("<%s>" % name if is_module else None), name
            # The globals own this file but name it invalidly: authoritative, no guessing.
            self.steps["none"] += 1
            if is_module and self.debug:
                _debug_line("<module> for %r: %s" % (filename, why))
            return (MODULE_LABEL if is_module else None), None

        # 2. what the import hook learnt about this very code object.
        bound = self._bound_codes.get(id(code))
        if bound is not None:
            self.steps["hook"] += 1
            return ("<%s>" % bound if is_module else None), bound

        # 2-4. by location.
        name, step = self._located(filename)
        self.steps[step] += 1
        if is_module:
            if self.debug:
                reason = ("frame globals: %s" % _describe_globals(globals_)) \
                    if globals_ is not None else "no frame globals"
                if name is None:
                    _debug_line("<module> for %r: %s; not bound by the import hook, not in "
                                "sys.modules, under no sys.path root with package markers"
                                % (filename, reason))
                else:
                    _debug_line("<%s> for %r via %s (%s)" % (name, filename, step, reason))
            return ("<%s>" % name if name is not None else MODULE_LABEL), name
        return None, name

    def _from_globals(self, filename: str, globals_: Optional[dict]
                      ) -> Optional[Tuple[Optional[str], str]]:
        """``(name, "")`` when the globals own ``filename`` with a valid name, ``(None, why)``
        when they own it with an invalid one, None when they do not own it."""
        if not isinstance(globals_, dict):
            return None
        get = dict.get  # bypass a dict subclass's overrides: never run program code here
        spec = get(globals_, "__spec__")
        try:
            owned = (self._same_file(filename, get(globals_, "__file__"))
                     or (spec is not None
                         and self._same_file(filename, getattr(spec, "origin", None))))
            if not owned:
                return None
            name = get(globals_, "__name__")
            if name == "__main__" and spec is not None:
                spec_name = getattr(spec, "name", None)
                if spec_name:
                    name = spec_name
        except Exception:
            return None
        if is_dotted_name(name):
            return name, ""
        return None, "the module's own name %r is not a dotted identifier" % (name,)

    def _same_file(self, filename: str, candidate: Any) -> bool:
        """Is ``filename`` (a ``co_filename``) the module file ``candidate``?

        Equal strings first (free, and right for relative script names on 3.8 and for zip
        members); then real paths; then, for a sourceless ``.pyc``, its source name or at
        least the same stem, since that code carries whatever name it was compiled under."""
        if not isinstance(candidate, str) or not candidate:
            return False
        if filename == candidate:
            return True
        norm = self._norm(filename)
        if norm == self._norm(candidate):
            return True
        if candidate.endswith(_BYTECODE_SUFFIX):
            source = _source_of_bytecode(candidate)
            if source is not None and norm == self._norm(source):
                return True
            return _stem(filename) == _stem(candidate) and filename.endswith(_SOURCE_SUFFIXES)
        return False

    def _located(self, filename: str) -> Tuple[Optional[str], str]:
        """:meth:`_from_location`, cached per file name. Positive answers are kept for good; a
        None is retried once ``sys.modules`` has changed size (a later import may explain the
        file), so functions of one file cost one lookup between them."""
        cached = self._file_cache.get(filename)
        if cached is not None and (cached[0] is not None or cached[2] == len(sys.modules)):
            return cached[0], cached[1]
        name, step = self._from_location(filename)
        self._file_cache[filename] = (name, step, len(sys.modules))
        return name, step

    def _from_location(self, filename: str) -> Tuple[Optional[str], str]:
        """Steps 2-4 by file: (name or None, the step that answered or "none")."""
        name = self._bound_raw.get(filename)
        if name is not None:
            return name, "hook"
        if self._bound_pending:
            self._normalise_bindings()
        norm = self._norm(filename)
        name = self._bound_files.get(norm)
        if name is not None:
            return name, "hook"
        name = self._from_index(norm)
        if name is not None:
            return name, "index"
        name = self._from_sys_path(norm)
        if name is not None:
            return name, "sys.path"
        return None, "none"

    def _normalise_bindings(self) -> None:
        """Give the bindings made since the last call their real-path keys."""
        with self._bind_lock:
            pending, self._bound_pending = self._bound_pending, []
        for path, name in pending:
            self._bound_files[self._norm(path)] = name
            source = _source_of_bytecode(path)
            if source is not None:
                self._bound_files.setdefault(self._norm(source), name)

    # -- step 3: reverse index of sys.modules -----------------------------------------------

    def _from_index(self, norm: str) -> Optional[str]:
        if len(sys.modules) != self._index_len:
            self._refresh_index()
        name = self._index.get(norm)
        return name if name is not None else self._index_weak.get(norm)

    def _refresh_index(self) -> None:
        """Index the ``sys.modules`` entries not seen yet. Runs at most once per change of
        ``len(sys.modules)`` (checked again under the lock); each new module costs a few
        ``realpath`` calls once, so growing one module at a time stays linear."""
        with self._index_lock:
            modules = sys.modules.copy()  # one C-level copy: safe against concurrent imports
            if len(modules) == self._index_len:
                return
            self._index_len = len(modules)
            self.index_builds += 1
            indexed = self._indexed
            for key, module in modules.items():
                if indexed.get(key) == id(module):
                    continue
                indexed[key] = id(module)
                self._index_module(module)

    def _index_module(self, module: Any) -> None:
        try:
            # object.__getattribute__: a lazy module (importlib.util.LazyLoader) or a module
            # subclass with __getattr__ must not be loaded or run by looking at it.
            d = object.__getattribute__(module, "__dict__")
        except Exception:
            return
        if not isinstance(d, dict):
            return
        get = dict.get
        name = get(d, "__name__")
        spec = get(d, "__spec__")
        weak = False
        try:
            if name == "__main__":
                weak = True
                spec_name = getattr(spec, "name", None) if spec is not None else None
                if spec_name:
                    name = spec_name
            if not is_dotted_name(name):
                return
            # __file__ and origin (usually the same string). Not spec.cached: code never
            # carries a __pycache__ name, and a sourceless .pyc is its own origin.
            paths = [get(d, "__file__")]
            if spec is not None and getattr(spec, "has_location", False):
                origin = getattr(spec, "origin", None)
                if origin != paths[0]:
                    paths.append(origin)
        except Exception:
            return
        target = self._index_weak if weak else self._index
        for path in paths:
            if not isinstance(path, str) or not path or _is_synthetic(path):
                continue
            target.setdefault(self._norm(path), name)
            source = _source_of_bytecode(path)
            if source is not None:
                target.setdefault(self._norm(source), name)

    # -- step 4: sys.path roots ---------------------------------------------------------------

    def _from_sys_path(self, norm: str) -> Optional[str]:
        for root, is_dir in self._sys_path_roots():
            if not norm.startswith(root):
                continue
            name = self._dotted_from_relative(root, norm[len(root):], is_dir)
            if name is not None:
                return name
        return None

    def _sys_path_roots(self) -> List[Tuple[str, bool]]:
        """Normalised ``sys.path`` entries ending with a separator, longest first; recomputed
        only when ``sys.path`` changed."""
        key = tuple(sys.path)
        if key != self._roots_key:
            roots = {}
            for entry in key:
                if not isinstance(entry, str):
                    continue
                root = self._norm(entry or self.cwd)
                if os.path.isdir(root):
                    roots[root.rstrip(os.sep) + os.sep] = True
                elif os.path.isfile(root):  # a zip archive: members are "archive.zip/pkg/m.py"
                    roots[root + os.sep] = False
            self._roots = sorted(roots.items(), key=lambda item: len(item[0]), reverse=True)
            self._roots_key = key
        return self._roots

    def _dotted_from_relative(self, root: str, relative: str, is_dir: bool) -> Optional[str]:
        parts = relative.split(os.sep)
        last = parts[-1]
        if last.endswith(_SOURCE_SUFFIXES):
            stem = last.rsplit(".", 1)[0]
        elif last.endswith(_BYTECODE_SUFFIX) and "__pycache__" not in parts:
            stem = last[:-len(_BYTECODE_SUFFIX)]
        else:
            return None
        packages = parts[:-1]
        dotted = packages + [stem] if stem != "__init__" else list(packages)
        if not dotted or not all(part.isidentifier() for part in dotted):
            return None
        if is_dir:
            directory = root.rstrip(os.sep)
            for part in packages:
                directory = os.path.join(directory, part)
                if not self._is_package_dir(directory):
                    return None
        return ".".join(dotted)

    def _is_package_dir(self, directory: str) -> bool:
        known = self._marker_cache.get(directory)
        if known is None:
            known = any(os.path.isfile(os.path.join(directory, "__init__" + suffix))
                        for suffix in (".py", ".pyc"))
            self._marker_cache[directory] = known
        return known

    # -- paths ---------------------------------------------------------------------------------

    def _norm(self, path: str) -> str:
        """Absolute, symlink-free, case-normalised path; cached per string.

        ``realpath`` costs one ``lstat`` per path component, so the directory part is resolved
        once per directory and only the last component is checked per file (``islink``)."""
        norm = self._norm_cache.get(path)
        if norm is None:
            try:
                absolute = os.path.normpath(os.path.join(self.cwd, path))
                head, tail = os.path.split(absolute)
                directory = self._dir_cache.get(head)
                if directory is None:
                    directory = self._dir_cache[head] = os.path.realpath(head)
                norm = os.path.join(directory, tail)
                if os.path.islink(norm):
                    norm = os.path.realpath(norm)
                norm = os.path.normcase(norm)
            except (OSError, ValueError):
                norm = path
            self._norm_cache[path] = norm
        return norm


def _is_synthetic(filename: str) -> bool:
    """``<string>``, ``<stdin>``, ``<frozen x>``, ``<doctest ...>``: not a file on disk."""
    return filename.startswith("<") and filename.endswith(">")


def _globals_name(globals_: Optional[dict]) -> Optional[str]:
    if isinstance(globals_, dict):
        name = dict.get(globals_, "__name__")
        return name if isinstance(name, str) else None
    return None


def _describe_globals(globals_: Optional[dict]) -> str:
    if not isinstance(globals_, dict):
        return "none"
    return "__name__=%r, __file__=%r do not own the file" % (
        dict.get(globals_, "__name__"), dict.get(globals_, "__file__"))
