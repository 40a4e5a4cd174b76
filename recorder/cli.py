"""``python -m recorder [options] script.py [args...]`` and ``... -m module [args...]``.

The program must behave exactly as under ``python script.py`` / ``python -m module``: the
same ``sys.argv``, ``sys.path[0]``, ``__main__`` globals (``__file__``, ``__spec__``,
``__loader__``, ``__package__``), output, exit status and tracebacks (the recorder's own
frames are cut off before ``sys.excepthook`` prints them). Options go before the target;
everything after it belongs to the program. Bad input (a missing script, an unknown module,
an unusable output directory, a bad option) is one ``recorder: error:`` line and exit
status 2, before the program starts. docs/cli.md documents it.
"""
from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import os
import signal
import sys
import types
from typing import Any, List, NoReturn, Optional, Sequence, Tuple

from recorder import env
from recorder.config import Config
from recorder.errors import RecorderError
from recorder.inspect import SUBCOMMANDS, command_help

#: Exit status for bad recorder input (as Python's own for a bad command line).
EXIT_USAGE = 2
_HERE = os.path.dirname(os.path.abspath(__file__))
#: Options that take a value (for splitting the command line at the target).
_VALUE_OPTIONS = {"-o", "--out-dir", "--backend", "--values", "--filter", "--repair"}


class UsageError(RecorderError):
    """Bad command-line input: printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    from recorder import __version__
    from recorder.backends import CHOICES
    from recorder.formats.codetracer import DEFAULT_VALUES, VALUES_MODES

    parser = argparse.ArgumentParser(
        prog="recorder",
        usage="python -m recorder [options] (script.py | -m module) [args...]",
        description="Record a Python program's execution into a CodeTracer trace directory. "
                    "Options go before the program; everything after it is the program's.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(["commands that look at a trace (python -m recorder COMMAND DIR; "
                          "docs/inspect.md):"] + command_help()))
    parser.add_argument("-o", "--out-dir", default=None, metavar="DIR",
                        help="trace directory to write (default: ./trace-out, or "
                             "RECORDER_OUT_DIR)")
    parser.add_argument("--backend", choices=CHOICES, default=None,
                        help="interpreter mechanism (default: auto, or RECORDER_BACKEND)")
    parser.add_argument("--values", choices=VALUES_MODES, default=None,
                        help="which values to record (default: %s, or RECORDER_VALUES)"
                             % DEFAULT_VALUES)
    parser.add_argument("--filter", action="append", default=[], metavar="FILE",
                        dest="filters",
                        help="a TOML filter file, applied after RECORDER_FILTER's and the "
                             "project's [tool.recorder] (repeatable; docs/filters.md)")
    parser.add_argument("--repair", default=None, metavar="DIR",
                        help="finish the trace directory DIR left by a killed process "
                             "(SIGKILL, a crash): close its files and open calls; runs no "
                             "program")
    parser.add_argument("--version", action="version",
                        version="recorder %s (Python %d.%d.%d)" % ((__version__,)
                                                                   + sys.version_info[:3]))
    return parser


def split_command_line(argv: Sequence[str]) -> Tuple[List[str], Optional[str], Optional[str],
                                                      List[str]]:
    """Split into (recorder options, script, module, program args) at the target."""
    options: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-m":
            if i + 1 >= len(argv):
                raise UsageError("-m needs a module name")
            return options, None, argv[i + 1], list(argv[i + 2:])
        if arg == "--":
            rest = list(argv[i + 1:])
            if not rest:
                break
            return options, rest[0], None, rest[1:]
        if arg.startswith("-") and arg != "-":
            options.append(arg)
            if arg in _VALUE_OPTIONS and i + 1 < len(argv):
                options.append(argv[i + 1])
                i += 1
            i += 1
            continue
        return options, arg, None, list(argv[i + 1:])
    return options, None, None, []


def parse(argv: Sequence[str]) -> Tuple[argparse.Namespace, Optional[str], Optional[str],
                                        List[str]]:
    """Parse the recorder's options; argparse prints --help/--version itself."""
    options, script, module, program_args = split_command_line(argv)
    parser = _parser()

    def error(message: str) -> NoReturn:
        raise UsageError(message)

    parser.error = error  # type: ignore[assignment]  # one line, our format, exit 2
    namespace = parser.parse_args(options)
    if namespace.repair is not None:
        if script is not None or module is not None:
            raise UsageError("--repair DIR runs no program: give it alone")
        return namespace, None, None, []
    if script is None and module is None:
        raise UsageError("no program given: python -m recorder [options] script.py [args...] "
                         "or -m module [args...]")
    return namespace, script, module, program_args


# -- preparing the program -------------------------------------------------------------------

class Program:
    """What to run and the ``__main__`` it runs in, prepared before recording starts."""

    def __init__(self, code: types.CodeType, argv: List[str], path0: str,
                 main_globals: dict, display: str) -> None:
        self.code = code
        self.argv = argv
        self.path0 = path0
        self.main_globals = main_globals
        #: "app.py" or "-m pkg.mod": for metadata
        self.display = display


def prepare_script(script: str, args: List[str]) -> Program:
    path = os.path.abspath(script)
    if os.path.isdir(path):
        main = os.path.join(path, "__main__.py")
        if not os.path.isfile(main):
            raise UsageError("can't find '__main__' module in %r" % script)
        raise UsageError("running a directory (%r) is not supported; run its __main__.py or "
                         "use -m" % script)
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError as exc:
        raise UsageError("can't open file %r: %s" % (script, exc.strerror or exc))
    # Python names a script's code (and __file__) after the path as given on 3.8, the
    # absolute path on 3.9+.
    filename = path if env.SCRIPT_PATH_ABSOLUTE else script
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        # Let the program's own excepthook show it, as python does; status 1.
        raise _CompileFailed(exc)
    loader = importlib.machinery.SourceFileLoader("__main__", filename)
    main_globals = {"__name__": "__main__", "__doc__": None, "__package__": None,
                    "__loader__": loader, "__spec__": None, "__annotations__": {},
                    "__builtins__": __builtins__, "__file__": filename, "__cached__": None}
    return Program(code, [script] + args, os.path.dirname(os.path.realpath(path)),
                   main_globals, script)


class _CompileFailed(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def prepare_module(module: str, args: List[str]) -> Program:
    sys.path.insert(0, os.getcwd())  # python -m puts the cwd first; find_spec needs it now
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError, AttributeError) as exc:
        raise UsageError("error while finding module specification for %r (%s: %s)"
                         % (module, type(exc).__name__, exc))
    finally:
        del sys.path[0]
    if spec is None:
        raise UsageError("no module named %r" % module)
    if spec.submodule_search_locations is not None:  # a package: run pkg.__main__
        main_name = module + ".__main__"
        try:
            sys.path.insert(0, os.getcwd())
            spec = importlib.util.find_spec(main_name)
        except ImportError as exc:
            raise UsageError("%s; %r is a package and cannot be directly executed"
                             % (exc, module))
        finally:
            del sys.path[0]
        if spec is None:
            raise UsageError("no module named %r; %r is a package and cannot be directly "
                             "executed" % (main_name, module))
    loader = spec.loader
    try:
        code = loader.get_code(spec.name)  # type: ignore[union-attr]
    except SyntaxError as exc:
        raise _CompileFailed(exc)
    except Exception as exc:
        raise UsageError("cannot load module %r: %s" % (spec.name, exc))
    if code is None:
        raise UsageError("no code object available for %r" % spec.name)
    origin = spec.origin or spec.name
    main_globals = {"__name__": "__main__", "__doc__": None,
                    "__package__": spec.parent, "__loader__": loader, "__spec__": spec,
                    "__annotations__": {}, "__builtins__": __builtins__,
                    "__file__": origin, "__cached__": spec.cached}
    return Program(code, [origin] + args, os.getcwd(), main_globals, "-m " + module)


# -- running it ------------------------------------------------------------------------------

def _strip_own_frames(tb: Optional[types.TracebackType]) -> Optional[types.TracebackType]:
    """Drop the leading traceback entries that are the recorder's (and runpy's) frames."""
    while tb is not None and (tb.tb_frame.f_code.co_filename.startswith(_HERE)
                              or tb.tb_frame.f_globals.get("__name__") == "runpy"):
        tb = tb.tb_next
    return tb


def _exit_status(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF  # what the process status will be
    return 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point. Returns only for recorder errors; the program's own exit status
    is produced by exiting the way the program would have."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:  # summary, calls, ...: a program is ./summary
        from recorder.inspect import run
        return run(argv)
    try:
        return _main(argv)
    except UsageError as exc:
        sys.stderr.write("recorder: error: %s\n" % exc)
        return EXIT_USAGE


def _main(argv: List[str]) -> int:
    import recorder
    from recorder.filters import load_chain
    from recorder.formats.codetracer import CodeTracerWriter, TraceDirError
    from recorder.session import Session

    namespace, script, module, program_args = parse(argv)
    if namespace.repair is not None:
        return repair(namespace.repair)
    try:
        program = (prepare_module(module, program_args) if module is not None
                   else prepare_script(script, program_args))  # type: ignore[arg-type]
    except _CompileFailed as failed:
        sys.excepthook(type(failed.error), failed.error, None)
        return 1
    try:
        config = Config.from_env().updated(**{
            name: value for name, value in (("backend", namespace.backend),
                                            ("values", namespace.values),
                                            ("out_dir", namespace.out_dir))
            if value is not None}).with_options(filters=namespace.filters).validate()
        backend = recorder.backends.select(config.backend)
        # A bad filter file stops here, before the trace directory or the program is touched.
        filter_chain = load_chain(config, project_dir=os.path.dirname(
            os.path.abspath(script)) if script is not None else os.getcwd())
    except RecorderError as exc:
        raise UsageError(str(exc))
    try:
        writer = CodeTracerWriter(config.out_dir, program=script or module,
                                  args=program.argv, values=config.values,
                                  backend=backend.name, timing=config.timing)
    except (TraceDirError, OSError) as exc:
        raise UsageError(str(exc))

    main_module = types.ModuleType("__main__")
    main_module.__dict__.update(program.main_globals)
    sys.modules["__main__"] = main_module
    sys.argv[:] = program.argv
    sys.path[0:1] = [program.path0] if sys.path else [program.path0]

    from recorder.capture import capture_output

    try:
        session = Session(writer, config, filters=filter_chain)
    except RecorderError as exc:
        writer.close("<not started>")
        raise UsageError(str(exc))
    from recorder import autostart

    status: Any = 0
    restore = capture_output(writer)
    session.start()
    # os._exit, os.exec* and SIGTERM finish the trace too (the auto-start's hooks)
    autostart.guard_endings(session, writer.out_dir)
    try:
        exec(program.code, main_module.__dict__)
    except SystemExit as exc:
        status = exc
    except KeyboardInterrupt as exc:
        _print_exception(exc)
        status = 130
    except BaseException as exc:
        _print_exception(exc)
        status = 1
    finally:
        autostart.release(session)
        session.stop(exit_status=_status_code(status))
        restore()
    if isinstance(status, SystemExit):
        raise status  # Python prints a non-int code and exits exactly as unrecorded
    if status == 130:
        _die_by_sigint()
    sys.stdout.flush()
    return status


def repair(out_dir: str) -> int:
    """``--repair DIR``: one line per event file, what was done; status 0, or 2 when DIR is
    no trace directory or cannot be written."""
    from recorder.formats.reader import repair_trace_dir

    try:
        done = repair_trace_dir(out_dir)
    except (ValueError, OSError) as exc:
        raise UsageError("--repair: %s" % (exc,))
    for r in done:
        name = os.path.relpath(r.path, out_dir)
        if r.was_complete:
            print("%s: complete, left as it was" % name)
        else:
            print("%s: finished (%d open call%s closed with <detached>), %s" % (
                name, r.closed, "" if r.closed == 1 else "s",
                "balanced" if r.balance.ok else "NOT balanced: %s" % r.balance.problems[:1]))
    return 0


def _status_code(status: Any) -> Any:
    if isinstance(status, SystemExit):
        return _exit_status(status)
    return status


def _print_exception(exc: BaseException) -> None:
    tb = _strip_own_frames(exc.__traceback__)
    exc.__traceback__ = tb
    try:
        sys.excepthook(type(exc), exc, tb)
    except Exception:
        pass


def _die_by_sigint() -> None:
    """An uncaught KeyboardInterrupt ends Python by SIGINT (exit status 130 in a shell):
    the auto-start's way of dying by a signal (flush, default action, the signal, else
    os._exit(128 + signum))."""
    from recorder import autostart

    autostart._die(signal.SIGINT)
