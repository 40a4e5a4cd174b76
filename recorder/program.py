"""The program ``python -m recorder`` runs, prepared and run the way ``python`` runs it.

``python`` knows six kinds of target (``pymain_run_python`` in CPython's Modules/main.c) and
sets ``sys.argv``, ``sys.path[0]`` and the ``__main__`` namespace differently for each:

==================  ============================================  ==================  =========
target              runs as                                       ``sys.path[0]``     argv[0]
==================  ============================================  ==================  =========
``app.py``          its source compiled, run in ``__main__``      the script's real   as given
                                                                  directory
``app.pyc``         its code unmarshalled, run in ``__main__``    (the same)          as given
``dir``, ``a.pyz``  ``runpy._run_module_as_main("__main__",       the path            as given
                    False)``: any path a ``sys.path_hooks`` entry
                    accepts (a directory, a zip file)
``-m pkg.mod``      ``runpy._run_module_as_main("pkg.mod")``      the working dir     ``-m``, then
                                                                                      the file
``-c CODE``         ``CODE + "\\n"`` compiled as ``<string>``     ``''``              ``-c``
``-``               stdin compiled as ``<stdin>``                 ``''``              ``-``
==================  ============================================  ==================  =========

:func:`prepare` runs before recording starts and raises :class:`UsageError` for bad input,
when nothing of the program has run. Everything ``python`` does *as part of the program*
happens in :attr:`Program.run`, while recording: runpy finds a ``-m`` module there, so the
``__init__`` of its parent packages is recorded, and runpy's errors ("No module named ...")
are the program's, printed as python prints them.

:attr:`Program.run` is a ``functools.partial`` of ``exec``, of runpy's own function or of
CPython's file runner, so no Python frame of this module sits between the CLI and the
program (docs/cli.md lists the frames a stack-walking program still sees).
"""
from __future__ import annotations

import builtins
import functools
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import types
import warnings
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

from recorder import env
from recorder.errors import UsageError
from recorder.filter_chain import package_location

#: ``Py_file_input``: the start symbol of a module (Include/compile.h; the same in 3.8-3.13).
_PY_FILE_INPUT = 257


class Target(NamedTuple):
    """What the command line names: ``kind`` is "path" (a script, a directory or a zip
    file), "module" (``-m``), "command" (``-c``) or "stdin" (``-``); ``value`` is the path,
    the module name, the code, or "-"."""

    kind: str
    value: str


class Program:
    """A prepared program: install it (``sys.modules["__main__"]``, ``sys.argv``,
    ``sys.path``), then call :attr:`run` while recording."""

    def __init__(self, run: Callable[[], Any], main_module: types.ModuleType,
                 argv: List[str], path0: str, display: str, project_dir: str,
                 toplevel_path: str = "<toplevel>", path0_always: bool = False,
                 main_code: Optional[types.CodeType] = None,
                 drops_file_at_end: bool = False,
                 target_package: Optional[Tuple[str, str]] = None) -> None:
        #: Runs the program in :attr:`main_module`; raises what the program raises.
        self.run = run
        self.main_module = main_module
        #: ``sys.argv`` as the program starts (runpy replaces ``-m`` by the module's file).
        self.argv = argv
        #: ``sys.path[0]`` as python sets it; ``path0_always``: also under ``-P``/``-I``
        #: (python puts a directory or zip file there even then).
        self.path0 = path0
        self.path0_always = path0_always
        #: The metadata's ``program``: the absolute path of a script, directory or zip
        #: file, ``-m pkg.mod``, ``-c`` or ``-`` (as the auto-start writes it).
        self.display = display
        #: ``-m pkg.mod``: (``pkg``, its file or directory), recorded even when installed
        #: (docs/filters.md, "The default scope").
        self.target_package = target_package
        #: Where the project's ``pyproject.toml`` filters are looked for (upwards).
        self.project_dir = project_dir
        #: The ``<toplevel>`` function's path: the script, else ``<toplevel>``.
        self.toplevel_path = toplevel_path
        #: The code of a program that has no file (``-c``, stdin): named ``<__main__>``.
        self.main_code = main_code
        #: python removes ``__file__`` and ``__cached__`` from ``__main__`` when a script
        #: or stdin program ends, unless it ends by SystemExit (``_PyRun_SimpleFileObject``),
        #: so ``atexit`` handlers see them gone.
        self.drops_file_at_end = drops_file_at_end

    def install(self) -> None:
        sys.modules["__main__"] = self.main_module
        sys.argv[:] = self.argv
        sys.path[:] = program_sys_path(self.path0, self.path0_always)

    def ended(self, by_system_exit: bool) -> None:
        """The program has ended (and its uncaught exception, if any, is printed)."""
        if self.drops_file_at_end and not by_system_exit:
            namespace = self.main_module.__dict__
            namespace.pop("__file__", None)
            namespace.pop("__cached__", None)


def program_sys_path(path0: str, always: bool) -> List[str]:
    """``sys.path`` as the program must see it. The interpreter put one entry first for the
    recorder (its working directory for ``-m recorder``, the console script's directory),
    except under ``-P``/``-I``: that entry becomes the program's."""
    path = list(sys.path)
    if not env.NO_PATH0:
        path[0:1] = [path0]
    elif always:
        path.insert(0, path0)
    return path


def prepare(target: Target, args: List[str]) -> Program:
    """The program ``target`` names, ready to run; :class:`UsageError` for bad input."""
    if target.kind == "module":
        return _prepare_module(target.value, args)
    if target.kind == "command":
        return _prepare_command(target.value, args)
    if target.kind == "stdin":
        return _prepare_stdin(args)
    return _prepare_path(target.value, args)


# -- the kinds of target ---------------------------------------------------------------------

def _new_main(**names: Any) -> types.ModuleType:
    """A fresh ``__main__`` as the interpreter makes it at start-up (``__name__``,
    ``__doc__``, ``__package__``, ``__loader__`` the BuiltinImporter, ``__spec__``,
    ``__annotations__``, ``__builtins__`` the builtins *module*), then ``names`` in order."""
    module = types.ModuleType("__main__")
    namespace = module.__dict__
    namespace["__loader__"] = importlib.machinery.BuiltinImporter
    namespace["__annotations__"] = {}
    namespace["__builtins__"] = builtins
    namespace.update(names)
    return module


def _prepare_module(name: str, args: List[str]) -> Program:
    cwd = os.getcwd()
    spec = _check_top_level_package(name, program_sys_path(cwd, False))
    import runpy

    main_file = _module_file(name, spec)
    return Program(functools.partial(runpy._run_module_as_main, name, True),  # type: ignore
                   _new_main(), ["-m"] + args, cwd, "-m " + name, cwd,
                   toplevel_path=main_file or "<toplevel>",
                   target_package=package_location(name.partition(".")[0], spec))


def _check_top_level_package(name: str, path: List[str]) -> Any:
    """``-m nosuch`` is bad input: finding a top-level module runs no program code (its
    submodules need their parents imported, which is the program's work, left to runpy).
    Returns the top-level module's spec (None when it cannot be told)."""
    top = name.partition(".")[0]
    if not top:
        return None
    if top in sys.modules:
        return getattr(sys.modules[top], "__spec__", None)
    saved = sys.path[:]
    sys.path[:] = path
    try:
        spec = importlib.util.find_spec(top)
    except Exception:
        return None  # runpy reports it as python does
    finally:
        sys.path[:] = saved
    if spec is None:
        raise UsageError("no module named %r" % top if top == name else
                         "no module named %r (the top-level package of %r)" % (top, name))
    return spec


def _module_file(name: str, top_spec: Any) -> Optional[str]:
    """The file ``-m name`` will run (a package's ``__main__.py``), looked up in the
    parents' directories without importing them (no program code runs here), for the
    ``<toplevel>`` function's path. None when it cannot be told so (runpy then decides)."""
    if top_spec is None:
        return None
    spec = top_spec
    parts = name.split(".")[1:]
    try:
        for part in parts + ["__main__"]:
            locations = spec.submodule_search_locations
            if locations is None:
                if part != "__main__":
                    return None  # a module with submodules: runpy says what is wrong
                break  # a module: it is the file
            spec = importlib.machinery.PathFinder.find_spec(part, list(locations))
            if spec is None:
                return None
    except Exception:
        return None
    origin = spec.origin
    return origin if isinstance(origin, str) and os.path.isfile(origin) else None


def _prepare_command(code_text: str, args: List[str]) -> Program:
    main = _new_main()
    source: Any = code_text + "\n"  # python's -c adds the newline
    if env.COMMAND_HONOURS_CODING_COOKIE:
        source = source.encode("utf-8", "surrogateescape")
    try:
        code: Optional[types.CodeType] = compile(source, "<string>", "exec",
                                                 dont_inherit=True)
        run: Callable[[], Any] = functools.partial(exec, code, main.__dict__)
    except (SyntaxError, ValueError) as exc:
        code, run = None, functools.partial(_raise, exc)
    else:
        if env.COMMAND_SOURCE_IN_LINECACHE:
            import linecache

            linecache._register_code("<string>", code_text + "\n", "<string>")  # type: ignore
    return Program(run, main, ["-c"] + args, "", "-c", os.getcwd(), main_code=code)


def _prepare_stdin(args: List[str]) -> Program:
    if os.isatty(0):
        raise UsageError("'-' reads the program from stdin, which is a terminal here: python "
                         "would start its interactive prompt, which cannot be recorded")
    try:
        source = _read_all(0)
    except OSError as exc:
        raise UsageError("cannot read the program from stdin: %s" % (exc.strerror or exc))
    main = _new_main(__file__="<stdin>", __cached__=None)
    run, code = _source_runner(source, "<stdin>", main.__dict__)
    return Program(run, main, ["-"] + args, "", "-", os.getcwd(), main_code=code,
                   drops_file_at_end=True)


def _prepare_path(given: str, args: List[str]) -> Program:
    # python names the file after the path as given on 3.8, the absolute path on 3.9+
    filename = os.path.abspath(given) if env.SCRIPT_PATH_ABSOLUTE else given
    if _path_importer(filename) is not None:
        return _prepare_main_importer(given, filename, args)
    try:
        with open(filename, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise UsageError("can't open file %r: %s" % (given, exc.strerror or exc))
    path0 = os.path.dirname(os.path.realpath(given))
    project_dir = os.path.dirname(os.path.abspath(given))
    if filename.endswith(".pyc") or data[:2] == importlib.util.MAGIC_NUMBER[:2]:
        loader: Any = importlib.machinery.SourcelessFileLoader("__main__", filename)
        main = _new_main(__file__=filename, __cached__=None, __loader__=loader)
        return Program(_bytecode_runner(data, main.__dict__), main, [given] + args, path0,
                       os.path.abspath(given), project_dir, drops_file_at_end=True)
    loader = importlib.machinery.SourceFileLoader("__main__", filename)
    main = _new_main(__file__=filename, __cached__=None, __loader__=loader)
    run, _ = _source_runner(data, filename, main.__dict__)
    return Program(run, main, [given] + args, path0, os.path.abspath(given), project_dir,
                   toplevel_path=given, drops_file_at_end=True)


def _prepare_main_importer(given: str, filename: str, args: List[str]) -> Program:
    """A directory or zip file: python puts it first on ``sys.path`` and runs the
    ``__main__`` module found there through runpy."""
    if importlib.machinery.PathFinder.find_spec("__main__", [filename]) is None:
        raise UsageError("can't find '__main__' module in %r" % given)
    import runpy

    run = functools.partial(runpy._run_module_as_main, "__main__", False)  # type: ignore
    project_dir = filename if os.path.isdir(filename) else os.path.dirname(
        os.path.abspath(filename))
    main_file = os.path.join(filename, "__main__.py")
    return Program(run, _new_main(), [given] + args, filename, os.path.abspath(given),
                   project_dir, path0_always=True,
                   toplevel_path=main_file if os.path.isfile(main_file) else "<toplevel>")


def _path_importer(path: str) -> Any:
    """The importer python asks for before running a file (``pymain_get_importer``, i.e.
    import.c ``get_path_importer``): ``sys.path_importer_cache``, else the first
    ``sys.path_hooks`` entry that accepts the path. Like python, it caches None for a path
    that no hook accepts."""
    cache = sys.path_importer_cache
    if path in cache:
        return cache[path]
    cache[path] = None
    for hook in sys.path_hooks:
        try:
            importer = hook(path)
        except Exception:  # ImportError: not this hook's; anything else: python goes on too
            continue
        cache[path] = importer
        return importer
    return None


# -- running code ----------------------------------------------------------------------------

def _raise(error: BaseException) -> None:
    """Raise an error found while preparing, as if running the program had raised it."""
    raise error.with_traceback(None)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _bytecode_runner(data: bytes, namespace: dict) -> Callable[[], Any]:
    """A ``.pyc`` as python runs one (pythonrun.c ``run_pyc_file``): magic number, three
    header words, then the code object; its errors are python's own."""
    if data[:4] != importlib.util.MAGIC_NUMBER:
        return functools.partial(_raise, RuntimeError("Bad magic number in .pyc file"))
    try:
        code = marshal.loads(data[16:])
    except Exception:
        code = None
    if not isinstance(code, types.CodeType):
        return functools.partial(_raise, RuntimeError("Bad code object in .pyc file"))
    return functools.partial(exec, code, namespace)


def _source_runner(source: bytes, filename: str, namespace: dict
                   ) -> Tuple[Callable[[], Any], Optional[types.CodeType]]:
    """``(run, code)`` for source that python reads from a file (a script, stdin).

    python parses such source with the tokenizer that reads a C ``FILE``, whose errors are
    not ``compile()``'s: a bad coding cookie is ``encoding problem: x`` (compile: ``unknown
    encoding``, line 0), a non-UTF-8 byte names the file and PEP 263, NUL bytes differ, and
    3.8/3.9 place some end-of-file errors elsewhere. So the source is compiled here, and only
    if that fails is it handed to that same runner, ``PyRun_FileExFlags``, which then raises
    exactly python's error (or runs what the file tokenizer accepts). The compile's warnings
    are shown only when it succeeds: the runner shows its own."""
    with warnings.catch_warnings(record=True) as shown:
        try:
            code = compile(source, filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            failure: Optional[BaseException] = exc
        else:
            failure = None
    if failure is None:
        for w in shown:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
        return functools.partial(exec, code, namespace), code
    runner = _cpython_file_runner(source, filename, namespace)
    return (runner if runner is not None else functools.partial(_raise, failure)), None


def _cpython_file_runner(source: bytes, filename: str, namespace: dict
                         ) -> Optional[Callable[[], Any]]:
    """``PyRun_FileExFlags(fp, filename, Py_file_input, namespace, namespace, closeit=1,
    flags)`` through ctypes, with ``fp`` a C ``FILE`` holding ``source``: what
    ``python FILE`` calls. None where ctypes cannot reach it (not POSIX: the C runtime's
    ``FILE`` may not be the interpreter's)."""
    if os.name != "posix":
        return None
    try:
        import ctypes
        import tempfile

        class CompilerFlags(ctypes.Structure):
            _fields_ = [("cf_flags", ctypes.c_int), ("cf_feature_version", ctypes.c_int)]

        libc = ctypes.CDLL(None)
        fdopen = libc.fdopen
        fdopen.restype = ctypes.c_void_p
        fdopen.argtypes = [ctypes.c_int, ctypes.c_char_p]
        run_file = ctypes.pythonapi.PyRun_FileExFlags
        run_file.restype = ctypes.py_object
        run_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.py_object,
                             ctypes.py_object, ctypes.c_int, ctypes.POINTER(CompilerFlags)]
        with tempfile.TemporaryFile() as copy:
            copy.write(source)
            copy.flush()
            fd = os.dup(copy.fileno())
        os.lseek(fd, 0, os.SEEK_SET)
        fp = fdopen(fd, b"rb")
        if not fp:
            os.close(fd)
            return None
    except Exception:
        return None
    flags = CompilerFlags(0, sys.version_info[1])  # _PyCompilerFlags_INIT
    return functools.partial(run_file, fp, os.fsencode(filename), _PY_FILE_INPUT, namespace,
                             namespace, 1, ctypes.byref(flags))
