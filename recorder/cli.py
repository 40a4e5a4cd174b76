"""``python -m recorder [options] (script.py | dir | app.pyz | -m module | -c code | -) [args...]``.

The program must behave exactly as under ``python ...`` with the same target: the same
``sys.argv``, ``sys.path[0]``, ``__main__`` globals (``__file__``, ``__spec__``,
``__loader__``, ``__package__``, ``__cached__``), output, exit status and tracebacks (the
recorder's own frames are cut off before ``sys.excepthook`` prints them). recorder/program.py
prepares and runs each kind of target as python does. Options go before the target;
everything after it belongs to the program. Bad input (a missing script, an unknown
top-level module, an unusable output directory, a bad option) is one ``recorder: error:``
line and exit status 2, before the program starts. docs/cli.md documents it.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import types
from typing import Any, Callable, Generator, List, NoReturn, Optional, Sequence, Tuple

from recorder import env, recursion
from recorder.config import Config
from recorder.errors import RecorderError, UsageError
from recorder.inspect import SUBCOMMANDS, command_help
from recorder.program import Target, prepare

#: Exit status for bad recorder input (as Python's own for a bad command line).
EXIT_USAGE = 2
_HERE = os.path.dirname(os.path.abspath(__file__))
#: Options that take a value (for splitting the command line at the target).
_VALUE_OPTIONS = {"-o", "--out-dir", "--backend", "--values", "--reprs", "--filter",
                  "--include", "--exclude", "--repair", "--steps", "--max-size",
                  "--max-records", "--file-mode"}
#: The target options, which end the recorder's options as in python: -m MODULE, -c CODE.
_TARGET_OPTIONS = {"-m": "module", "-c": "command"}
_USAGE = ("python -m recorder [options] (script.py | dir | app.pyz | -m module | -c code | -) "
          "[args...]")


def _parser() -> argparse.ArgumentParser:
    from recorder import __version__
    from recorder.backends import CHOICES
    from recorder.config import REPRS_MODES, STEPS_MODES
    from recorder.formats.codetracer import DEFAULT_VALUES, VALUES_MODES

    parser = argparse.ArgumentParser(
        prog="recorder",
        usage=_USAGE,
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
    parser.add_argument("--reprs", choices=REPRS_MODES, default=None,
                        help="whose reprs may run while values are recorded: builtin (the "
                             "default: only the interpreter's and C extensions'; program "
                             "objects are recorded from their state) or program (their own "
                             "__repr__ too), or RECORDER_REPRS")
    parser.add_argument("--filter", action="append", default=[], metavar="FILE",
                        dest="filters",
                        help="a TOML filter file, applied after RECORDER_FILTER's and the "
                             "project's [tool.recorder] (repeatable; docs/filters.md)")
    parser.add_argument("--steps", choices=STEPS_MODES, default=None,
                        help="on (the default: a Step for every line run) or off (calls, "
                             "returns, exceptions and I/O only, for long runs), or "
                             "RECORDER_STEPS")
    parser.add_argument("--max-size", type=_size_argument, default=None, metavar="SIZE",
                        help="stop recording (the program runs on) once the trace holds SIZE "
                             "bytes: 1024, 500K, 500M, 2G, 1.5GB (K, M, G are powers of 1024; "
                             "none: no limit), or RECORDER_MAX_SIZE")
    parser.add_argument("--max-records", type=_count_argument, default=None, metavar="N",
                        help="stop recording (the program runs on) once the trace holds N "
                             "records, or RECORDER_MAX_RECORDS")
    parser.add_argument("--file-mode", type=_file_mode_argument, default=None,
                        metavar="MODE",
                        help="who may read the trace: private (the default: files 0600, "
                             "directories 0700), umask (as the umask allows), or an octal "
                             "mode such as 0640; or RECORDER_FILE_MODE")
    scope = parser.add_argument_group(
        "scope", "what is recorded (default: the program's own code; the standard library "
                 "and installed third-party packages are skipped). These apply after every "
                 "filter file; an --exclude wins over an --include (docs/filters.md)")
    scope.add_argument("--include", action="append", default=[], metavar="WHAT",
                       help="record WHAT too: third-party, stdlib, a package name or glob "
                            "(requests, myapp.*), a path, or a selector (repeatable; also "
                            "RECORDER_INCLUDE)")
    scope.add_argument("--exclude", action="append", default=[], metavar="WHAT",
                       help="skip WHAT: a package name or glob, a path, a group or a "
                            "selector (repeatable; also RECORDER_EXCLUDE)")
    scope.add_argument("--all", action="store_true", default=None, dest="record_all",
                       help="record everything but the recorder itself (also RECORDER_ALL=1)")
    report = parser.add_mutually_exclusive_group()
    report.add_argument("--report", action="store_true", default=None,
                        help="print the end-of-run line (where the trace is, its size, what "
                             "was skipped) even when stderr is not a terminal")
    report.add_argument("--quiet", action="store_false", dest="report", default=None,
                        help="never print the end-of-run line")
    parser.add_argument("--repair", default=None, metavar="DIR",
                        help="finish the trace directory DIR left by a killed process "
                             "(SIGKILL, a crash): close its files and open calls; runs no "
                             "program")
    parser.add_argument("--version", action="version",
                        version="recorder %s (Python %d.%d.%d)" % ((__version__,)
                                                                   + sys.version_info[:3]))
    return parser


def _typed_argument(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type``: ``parse``'s ValueError becomes argparse's one-line error
    (``argument --max-size: invalid size '12XB' (...)``). ``None`` (the word ``none``) is
    kept apart from "not given" so that it overrides the variable."""
    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return _NO_LIMIT if value is None else value
    return convert


#: ``--max-size none``: no limit, whatever RECORDER_MAX_SIZE says
_NO_LIMIT = "none"


def _size_argument(text: str) -> Any:
    from recorder.config import parse_size
    return _typed_argument(parse_size)(text)


def _count_argument(text: str) -> Any:
    from recorder.config import parse_count
    return _typed_argument(parse_count)(text)


def _file_mode_argument(text: str) -> Any:
    from recorder.config import parse_file_mode
    return _typed_argument(parse_file_mode)(text)


def split_command_line(argv: Sequence[str]) -> Tuple[List[str], Optional[Target], List[str]]:
    """Split into (recorder options, target, program args) at the target, as python reads
    its own command line: ``-m MODULE`` and ``-c CODE`` (also ``-mMODULE``, ``-cCODE``) end
    the options, ``-`` is the program on stdin, the first other argument is a path."""
    options: List[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        kind = _TARGET_OPTIONS.get(arg[:2])
        if kind is not None:
            if len(arg) > 2:
                return options, Target(kind, arg[2:]), list(argv[i + 1:])
            if i + 1 >= len(argv):
                raise UsageError("%s needs %s" % (arg, "a module name" if kind == "module"
                                                  else "the code to run"))
            return options, Target(kind, argv[i + 1]), list(argv[i + 2:])
        if arg == "--":
            rest = list(argv[i + 1:])
            if not rest:
                break
            return options, _path_or_stdin(rest[0]), rest[1:]
        if arg.startswith("-") and arg != "-":
            options.append(arg)
            if arg in _VALUE_OPTIONS and i + 1 < len(argv):
                options.append(argv[i + 1])
                i += 1
            i += 1
            continue
        return options, _path_or_stdin(arg), list(argv[i + 1:])
    return options, None, []


def _path_or_stdin(arg: str) -> Target:
    return Target("stdin", "-") if arg == "-" else Target("path", arg)


def parse(argv: Sequence[str]) -> Tuple[argparse.Namespace, Optional[Target], List[str]]:
    """Parse the recorder's options; argparse prints --help/--version itself."""
    options, target, program_args = split_command_line(argv)
    parser = _parser()

    def error(message: str) -> NoReturn:
        raise UsageError(message)

    parser.error = error  # type: ignore[assignment]  # one line, our format, exit 2
    namespace = parser.parse_args(options)
    if namespace.repair is not None:
        if target is not None:
            raise UsageError("--repair DIR runs no program: give it alone")
        return namespace, None, []
    if target is None:
        raise UsageError("no program given: " + _USAGE)
    return namespace, target, program_args


# -- running it ------------------------------------------------------------------------------

def _strip_own_frames(tb: Optional[types.TracebackType]) -> Optional[types.TracebackType]:
    """Drop the leading traceback entries that are the recorder's frames. runpy's frames
    that follow are the program's: python shows them for ``-m``, a directory, a zip file."""
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_HERE):
        tb = tb.tb_next
    return tb


def _drop_unstarted_frame(tb: Optional[types.TracebackType]) -> Optional[types.TracebackType]:
    """A RecursionError under settrace: CPython adds to the traceback the frame whose trace
    call had no room, which the program never entered (docs/backends.md)."""
    if tb is None:
        return None
    if tb.tb_next is None:
        return None if recursion.never_started(tb) else tb
    last = tb
    while last.tb_next is not None and last.tb_next.tb_next is not None:
        last = last.tb_next
    if last.tb_next is not None and recursion.never_started(last.tb_next):
        last.tb_next = None
    return tb


def _exit_status(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF  # what the process status will be
    return 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point: the exit status (0, 1 after an uncaught exception, 2 for bad
    input, as python). A program ending by SystemExit or KeyboardInterrupt ends the process
    the way it would have unrecorded."""
    run = Run(argv)
    with run as program:
        program()
    return run.status


class Run:
    """One run of the CLI, as a context manager whose ``with`` body calls the program::

        run = Run(argv)
        with run as program:
            program()
        sys.exit(run.status)

    The program is called from the caller's own frame (``recorder/__main__.py``'s module
    frame under ``python -m recorder``), and the recording's set-up and tear-down
    (:func:`_main`, a generator that yields the program and then receives how it ended) are
    off the stack meanwhile: a program that walks the stack down to the bottom finds one
    frame of ours below its own (docs/cli.md)."""

    def __init__(self, argv: Optional[Sequence[str]] = None) -> None:
        self._steps = _main(list(sys.argv[1:] if argv is None else argv))
        self._running = False
        #: The exit status for the caller to return: 2 for bad input, 0 after ``--repair``,
        #: else the program's (a SystemExit, a KeyboardInterrupt, propagate instead).
        self.status = 0

    def __enter__(self) -> Callable[[], Any]:
        try:
            program = next(self._steps)
        except StopIteration as done:  # --repair: nothing to run
            self.status = done.value
            return _nothing
        except UsageError as exc:
            sys.stderr.write("recorder: error: %s\n" % exc)
            self.status = EXIT_USAGE
            return _nothing
        self._running = True
        return program

    def __exit__(self, kind: Any, exc: Optional[BaseException], tb: Any) -> bool:
        if not self._running:
            return False
        self._running = False
        try:
            if exc is None:
                next(self._steps)
            else:
                self._steps.throw(exc)
        except StopIteration as done:
            self.status = done.value
        return True  # _main has shown the program's exception (or raised SystemExit)


def _nothing() -> None:
    """The program of a run that has none (``--repair``, bad input)."""


def _main(argv: List[str]) -> Generator[Callable[[], Any], None, int]:
    """Parse, prepare the program, start recording, then yield the program to run; receive
    its exception (``throw``), show it as python would, finish the trace, and return the
    exit status (or raise the program's SystemExit, or die by SIGINT)."""
    import recorder
    from recorder.filter_chain import load_chain, scope_flag_selector
    from recorder.formats.codetracer import CodeTracerWriter, TraceDirError, writer_options
    from recorder.session import Session

    if argv and argv[0] in SUBCOMMANDS:  # summary, calls, ...: a program is ./summary
        from recorder.inspect import run
        return run(argv)
    namespace, target, program_args = parse(argv)
    if namespace.repair is not None:
        return repair(namespace.repair)
    for flag, values in (("--include", namespace.include), ("--exclude", namespace.exclude)):
        for value in values:  # one line naming the flag and the value, before anything
            try:
                scope_flag_selector(flag, value)
            except RecorderError as exc:
                raise UsageError(str(exc))
    program = prepare(target, program_args)  # type: ignore[arg-type]
    try:
        config = Config.from_env().updated(**{
            name: value for name, value in (("backend", namespace.backend),
                                            ("values", namespace.values),
                                            ("reprs", namespace.reprs),
                                            ("out_dir", namespace.out_dir),
                                            ("record_all", namespace.record_all),
                                            ("report", namespace.report),
                                            ("steps", namespace.steps),
                                            ("max_size", namespace.max_size),
                                            ("max_records", namespace.max_records),
                                            ("file_mode", namespace.file_mode))
            if value is not None}).with_options(filters=namespace.filters,
                                                include=namespace.include,
                                                exclude=namespace.exclude).validate()
        backend = recorder.backends.select(config.backend)
        # A bad filter file stops here, before the trace directory or the program is touched.
        filter_chain = load_chain(config, project_dir=program.project_dir,
                                  target_package=program.target_package)
    except RecorderError as exc:
        raise UsageError(str(exc))
    from recorder.capture import capture_output, hold_closed_standard_fds

    hold_closed_standard_fds()  # before the trace files take their numbers
    parent = config.parent_link()
    try:
        writer = CodeTracerWriter(config.out_dir, program=program.display,
                                  args=program.argv, values=config.values,
                                  reprs=config.reprs, backend=backend.name,
                                  toplevel_path=program.toplevel_path,
                                  metadata={"process": {"pid": os.getpid(),
                                                        "ppid": os.getppid(),
                                                        "started_by": "cli",
                                                        "trace_root": None},
                                            "parent": None if parent is None else
                                            {"pid": parent[0], "trace_dir": parent[1]}},
                                  **writer_options(config))
    except (TraceDirError, OSError) as exc:
        raise UsageError("%s: %s" % (_out_dir_source(namespace), exc))
    program.install()

    try:
        session = Session(writer, config, filters=filter_chain, selection=backend)
    except RecorderError as exc:
        writer.close("<not started>")
        raise UsageError(str(exc))
    if program.main_code is not None:  # -c, stdin: no file, but the __main__ module
        session.resolver.bind(program.main_code, "__main__")
    from recorder import endings
    from recorder.report import EndOfRun, wanted

    status: Any = 0
    # the frames between here and the program's own, hidden while recording (recursion.py);
    # the program runs from Run's caller, not from here: this generator's frame, the
    # next() that resumes it and Run.__enter__ are off the stack by then
    above = 3 if env.C_CALLS_TAKE_RECURSION_DEPTH else 2
    session.entry_frames = max(recursion.entry_cost() - above, 0)
    restore = capture_output(writer, on_failure=session._failed, at_work=session.at_work)
    report = EndOfRun(writer, session.filters, config)
    # the end-of-run line, when stderr is a terminal (or --report), but never --quiet
    printing = wanted(config.report, os.isatty(2))
    # What runs the CLI (the console script, runpy for python -m recorder, a caller of
    # main()) is the recorder's launcher, not the program: not attached
    session.leave_out(sys._getframe(1))
    session.start()
    # os._exit, os.exec* and SIGTERM finish the trace too (the auto-start's hooks), and
    # print the end-of-run line after it
    with session.at_work:  # its hooks and os.environ's code are not the program's
        # host: Run's caller, whose frame calls the program (this generator runs under
        # Run.__enter__, off the stack while the program runs)
        endings.guard_endings(session, writer.out_dir, target,
                              report.print if printing else None, host=sys._getframe(2))
    report.started = time.monotonic()
    try:
        yield program.run  # Run's caller runs it: no frame of ours in between (docs/cli.md)
    except SystemExit as exc:
        status = exc
    except KeyboardInterrupt as exc:
        _print_exception(exc)
        status = 130
    except BaseException as exc:
        _print_exception(exc, session.backend_name)
        status = 1
    finally:
        with session.at_work:
            report.program_ended()
            program.ended(by_system_exit=isinstance(status, SystemExit))

        def after() -> None:
            restore()
            if printing:
                report.print()  # after the trace is closed; never raises
        endings.close_cli_session(session, _status_code(status), after)
    if isinstance(status, SystemExit):
        raise status  # Python prints a non-int code and exits exactly as unrecorded
    if status == 130:
        _die_by_sigint()
    return status  # Python flushes (or finds closed, or None) the program's stdout at exit


def _out_dir_source(namespace: argparse.Namespace) -> str:
    """Where the trace directory came from, for an error naming it."""
    if namespace.out_dir is not None:
        return "argument -o/--out-dir"
    return "RECORDER_OUT_DIR" if os.environ.get("RECORDER_OUT_DIR") else "the default -o"


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


def _print_exception(exc: BaseException, backend: str = "") -> None:
    """What python does with an uncaught exception (``PyErr_Print``): keep it in
    ``sys.last_*`` for atexit handlers and post-mortems, then ``sys.excepthook``."""
    tb = _strip_own_frames(exc.__traceback__)
    if backend == "settrace" and isinstance(exc, RecursionError):
        tb = _drop_unstarted_frame(tb)
    exc.__traceback__ = tb
    sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, tb
    if env.HAS_SYS_LAST_EXC:
        sys.last_exc = exc  # type: ignore[attr-defined]
    try:
        sys.excepthook(type(exc), exc, tb)
    except Exception:
        pass


def _die_by_sigint() -> None:
    """An uncaught KeyboardInterrupt ends Python by SIGINT (exit status 130 in a shell):
    the auto-start's way of dying by a signal (flush, default action, the signal, else
    os._exit(128 + signum))."""
    from recorder import endings

    endings._die(signal.SIGINT)
