"""Record without touching code: ``RECORDER_TRACE=DIR`` records every Python process of a run.

A CI job or a user with a flaky program sets one variable; every Python process that starts
with it set (the program, the Python subprocesses it runs, its multiprocessing workers, its
forked children) writes its own complete trace directory ``DIR/<program>-<pid>/``, linked to
the process that started it. docs/autostart.md is the user's guide; this module is the
mechanism:

* **The startup hook.** The wheel installs ``recorder_autostart.pth`` into site-packages. Its
  one line looks at ``os.environ`` and imports nothing of ours unless ``RECORDER_TRACE`` is
  set and not empty, so an interpreter that does not record pays a dictionary lookup
  (benchmarks/startup.py measures it): an eager ``import`` in a ``.pth`` would tax every
  Python start on the machine (research: peers.md item 10). Where ``.pth`` files are not
  processed (or once PEP 829 retires their ``import`` lines), :data:`SITECUSTOMIZE` is the
  same guard for a ``sitecustomize.py``. Running both, or either twice, starts once.
* **One session implementation.** :func:`start` builds a
  :class:`~recorder.formats.codetracer.CodeTracerWriter` and a
  :class:`~recorder.session.Session` from :class:`~recorder.config.Config` exactly as the
  CLI does; only the directory naming, the parent link and the process-end hooks are ours.
* **Children.** Subprocesses inherit ``RECORDER_TRACE`` (made absolute) and
  ``RECORDER_PARENT`` (this process's pid and trace directory) through ``os.environ``, from
  :meth:`Config.to_env`. After ``os.fork()`` the session drops the parent's recording in the
  child (it never writes the parent's files) and calls :func:`_on_fork`, which starts the
  child's own trace, linked to the parent's.
* **However the process ends** the trace is finished: atexit (normal end, ``sys.exit``, an
  uncaught exception, KeyboardInterrupt), ``os._exit`` and ``os.exec*`` (patched to close
  the trace first), SIGTERM and SIGHUP (a handler standing in for the default action,
  unseen by the program (recorder/signals.py), that closes the trace and then dies by the
  signal as before). Frames still open are closed with a ``<detached>`` return value. A SIGKILL leaves the streamed prefix, which
  :func:`recorder.formats.reader.read_trace_dir` reads and ``repair_trace`` can close.

Nothing here may stop the program: every failure is one ``recorder: warning:`` line on
stderr and the program runs unrecorded.
"""
from __future__ import annotations

import atexit
import functools
import os
import re
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Tuple

from recorder import own_threads, signals
from recorder.config import Config
from recorder.errors import RecorderError, warn

__all__ = ["start", "trace_dir", "PTH_NAME", "PTH_SOURCE", "SITECUSTOMIZE", "program_name"]

_HERE = os.path.dirname(os.path.abspath(__file__))

#: The startup hook's file name in site-packages. ``.pth`` files run in alphabetical order:
#: this one comes after ``__editable__*`` finders, so an editable install is importable.
PTH_NAME = "recorder_autostart.pth"
#: The hook as shipped (the wheel build copies this file to the top of site-packages).
PTH_SOURCE = os.path.join(_HERE, PTH_NAME)

#: The ``sitecustomize.py`` route, for interpreters that skip ``.pth`` files: the same guard.
SITECUSTOMIZE = '''\
# recorder auto-start (docs/autostart.md): with RECORDER_TRACE unset this costs one lookup.
import os
if os.environ.get("RECORDER_TRACE", "").strip():
    try:
        import recorder.autostart
        recorder.autostart.start("sitecustomize")
    except Exception as exc:
        import sys
        sys.stderr.write("recorder: warning: not recording, the auto-start failed: %s: %s\\n"
                         % (type(exc).__name__, exc))
'''

#: Exit status written for a process ended by a signal: the shell's 128 + signal number
#: (the CLI writes 130 for KeyboardInterrupt the same way).
_SIGNAL_BASE = 128

#: How long the SIGTERM helper waits for the main thread to leave the recorder before it
#: closes the trace anyway (see _on_signal).
_MAX_DEFER_SECONDS = 2.0


class _State:
    """This process image's auto-start (a forked child inherits a copy and renews it)."""

    def __init__(self) -> None:
        self.tried = False
        self.hooks = False
        self.config: Optional[Config] = None
        self.program: Optional["_Program"] = None
        self.session: Any = None
        self.trace_dir: Optional[str] = None
        self.pid = 0
        self.parent: Optional[Tuple[int, str]] = None
        #: set by a hook that knows how the process ends (os._exit, a signal, exec)
        self.status: Any = None
        self.last_exception_at_start: Any = None
        #: the helper thread closing the trace after a SIGTERM (see _on_signal)
        self.terminating: Optional[threading.Thread] = None
        self.terminating_signal = getattr(signal, "SIGTERM", 15)  # the signal it handles
        self.terminated = False
        #: a trace is being closed; a SIGTERM meanwhile waits in pending_signal
        self.closing = False
        self.pending_signal = 0
        self.real_exit: Callable[[int], Any] = os._exit
        #: the CLI's frame that runs the program (guard_endings): it and the frames below
        #: it are not "inside the recorder" for the SIGTERM handler
        self.host: Optional[FrameType] = None
        #: the session is the CLI's (guard_endings), not auto-started
        self.by_cli = False
        #: prints the end-of-run line once the trace is closed (RECORDER_REPORT=1, or the
        #: CLI's line), else None
        self.report: Optional[Callable[[], Any]] = None


_state = _State()


def start(via: str = "pth") -> Optional[str]:
    """Start recording this process if ``RECORDER_TRACE`` says so; return its trace directory.

    Called by the ``.pth`` hook (``via="pth"``) or a ``sitecustomize`` (``"sitecustomize"``).
    Idempotent: only the first call in a process does anything. Never raises: a bad
    variable, an unusable directory or a backend that cannot run here is one warning line
    and the program runs unrecorded.
    """
    if _state.tried:
        return _state.trace_dir
    _state.tried = True
    try:
        return _start(via)
    except Exception as exc:
        warn("not recording, the auto-start failed: %s: %s" % (type(exc).__name__, exc))
        return None


def trace_dir() -> Optional[str]:
    """The trace directory this process is recording into, if the auto-start is recording."""
    session = _state.session
    return _state.trace_dir if session is not None and session.active else None


def _start(via: str) -> Optional[str]:
    try:
        config = Config.from_env()
    except RecorderError as exc:
        warn("not recording: %s" % exc)
        return None
    if config.trace_root is None:
        return None
    program = _Program.of_this_process()
    if program.is_recorder_cli:
        return None  # python -m recorder records into its own -o directory
    from recorder.session import active_session
    if active_session() is not None:
        return None
    _state.config = config
    _state.program = program
    if via == "pth" and _defer_until_site_is_done():
        return None
    return _go(via)


def _go(via: str) -> Optional[str]:
    from recorder.session import active_session
    if active_session() is not None:
        return None
    _state.last_exception_at_start = _last_exception()
    path = _begin(_state.config.parent_link(), via)  # type: ignore[union-attr]
    if path is not None:
        _install_hooks()
    return path


def guard_endings(session: Any, trace_dir: str, target: Any = None,
                  report: Optional[Callable[[], Any]] = None) -> None:
    """Give a session the CLI started the same end-of-process hooks as the auto-start's:
    ``os._exit``, ``os.exec*`` and SIGTERM close its trace first (docs/cli.md), then call
    ``report`` (the end-of-run line). The CLI finishes a normal end itself through
    :func:`close_cli_session`.

    Its children: with ``RECORDER_TRACE`` set (``session.config.trace_root``), the program's
    forked children and Python subprocesses are recorded by the auto-start as everywhere
    else, each into its own ``<trace root>/<program>-<pid>/``, linked to the CLI's trace
    directory; ``target`` is what the CLI runs (a :class:`recorder.program.Target`), which
    names a forked child. Otherwise a forked child goes on unrecorded (the session stops
    recording there; the ``-o`` directory is the parent's).
    """
    _state.session = session
    _state.trace_dir = trace_dir
    _state.pid = os.getpid()
    _state.status = None
    _state.report = report
    _state.host = sys._getframe(1)
    _state.by_cli = True
    session.on_fork = _release_in_child
    config = getattr(session, "config", None)
    if target is not None and config is not None and config.trace_root is not None:
        _record_children(session, config, trace_dir, target)
    _install_hooks()


def _record_children(session: Any, config: Config, trace_dir: str, target: Any) -> None:
    """The CLI's process tells its children what an auto-started one would: the recording
    options it was given (not ``-o``, which is its own) and its trace directory as their
    parent."""
    _state.config = config.updated(out_dir=Config.from_env().out_dir)
    # the CLI's target kinds are ours, but for "path" (a script, a directory, a zip file)
    _state.program = _Program("script" if target.kind == "path" else target.kind,
                              target.value)
    _state.parent = None
    session.on_fork = _on_fork
    for name, value in _exports(_state.config, trace_dir).items():
        os.environ[name] = value


def close_cli_session(session: Any, exit_status: Any, after: Callable[[], Any]) -> None:
    """The CLI closes ``session`` itself at the program's end (the hooks leave it alone from
    now on), then calls ``after`` (restore the streams, print the end-of-run line). As in
    :func:`_finish`, a SIGTERM arriving meanwhile (the program's own, or the helper thread
    of :func:`_on_signal` that found the trace taken over) waits until both are done, then
    ends the process."""
    _state.closing = True
    try:
        if _state.session is session:
            _state.session = None
            _state.host = None
            _state.report = None
        try:
            session.stop(exit_status=exit_status)
        finally:
            after()
    finally:
        _state.closing = False
    if _state.pending_signal:
        _die(_state.pending_signal)


def _release_in_child(session: Any) -> None:
    _state.session = None
    _state.report = None
    _state.terminating = None
    _state.terminated = False


def _defer_until_site_is_done() -> bool:
    """Start once ``site.main()`` has run the last customize hook, not from inside the
    ``.pth`` line: site may process the same ``.pth`` twice (it does in a venv), and each
    run is freshly compiled code that would otherwise be recorded as the program's. False
    when site is not running us (a program's own ``site.addsitedir()``): start now."""
    site = sys.modules.get("site")
    frame: Optional[FrameType] = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "main" and frame.f_globals.get("__name__") == "site":
            break
        frame = frame.f_back
    if frame is None or site is None:
        return False

    originals: Dict[str, Any] = {}

    def after(name: str) -> None:
        real = originals[name] = getattr(site, name, None)
        if real is None:
            return

        @functools.wraps(real)
        def customize(*args: Any, **kwargs: Any) -> Any:
            try:
                return real(*args, **kwargs)
            finally:
                if name == "execusercustomize" or not getattr(site, "ENABLE_USER_SITE", None):
                    for original, function in originals.items():
                        if function is not None:
                            setattr(site, original, function)
                    try:
                        _go("pth")
                    except Exception as exc:
                        warn("not recording, the auto-start failed: %s: %s"
                             % (type(exc).__name__, exc))
        setattr(site, name, customize)

    after("execsitecustomize")  # the last hook, unless user site is enabled:
    after("execusercustomize")  # then this one
    return True


def _begin(parent: Optional[Tuple[int, str]], started_by: str,
           previous: Optional[str] = None) -> Optional[str]:
    """Create this process's trace directory, writer and session, and tell children."""
    from recorder.backends import select
    from recorder.filter_chain import load_chain
    from recorder.formats.codetracer import CodeTracerWriter
    from recorder.session import Session

    config, program = _state.config, _state.program
    assert config is not None and program is not None and config.trace_root is not None
    root = os.path.abspath(config.trace_root)
    try:
        backend = select(config.backend)
        path = _claim_dir(root, program.name)
    except (RecorderError, OSError) as exc:
        warn("not recording: %s" % (exc,))
        return None
    process = {"pid": os.getpid(), "ppid": os.getppid(), "started_by": started_by,
               "trace_root": root}
    if previous is not None:
        process["continues"] = previous
    link = None if parent is None else {"pid": parent[0], "trace_dir": parent[1]}
    writer = None
    # Computed before recording starts: Config's dataclass __init__ is exec'd code that the
    # scope rule would take for the program's.
    exports = _exports(config, path)
    try:
        writer = CodeTracerWriter(path, program=program.display, args=list(sys.argv),
                                  values=config.values, reprs=config.reprs,
                                  backend=backend.name,
                                  timing=config.timing,
                                  metadata={"process": process, "parent": link})
        target = _target_package(program)
        chain = load_chain(config, target_package=target) if target is not None else None
        session = Session(writer, config, filters=chain, selection=backend)
        session.on_fork = _on_fork
        session.stop_at_exit = False  # _at_exit stops it, knowing the exit status
        if started_by in ("pth", "sitecustomize"):
            # What runs us now is site's exec of the .pth line or a sitecustomize: not the
            # program, never recorded (a forked child's stack is the program's: attached).
            frame: Optional[FrameType] = sys._getframe(1)
            while frame is not None:
                session.catalog.skip(frame.f_code)
                frame = frame.f_back
        session.start()
    except Exception as exc:
        warn("not recording: %s: %s" % (type(exc).__name__, exc))
        if writer is not None:
            try:
                writer.close("<not started>")
            except Exception:
                pass
        import shutil  # only here: a start that failed
        shutil.rmtree(path, ignore_errors=True)
        return None
    _state.session = session
    _state.trace_dir = path
    _state.pid = os.getpid()
    _state.parent = parent
    _state.status = None
    _state.report = None
    with session.at_work:  # os.environ's code is the standard library's, recording now
        if config.report:  # the auto-start prints only when asked (RECORDER_REPORT=1)
            from recorder.report import EndOfRun
            _state.report = EndOfRun(writer, session.filters, config).print
        for name, value in exports.items():
            os.environ[name] = value
    return path


def _target_package(program: "_Program") -> Optional[Tuple[str, str]]:
    """``python -m pkg.mod``: pkg is recorded even when installed (docs/filters.md)."""
    if program.kind != "module" or not program.value:
        return None
    from recorder.filter_chain import target_package
    return target_package(program.value)


def _claim_dir(root: str, name: str) -> str:
    """``root/<name>-<pid>``, made by this process alone (``-1``, ``-2``... when an earlier
    process with the same pid, or this one before an exec, already has it)."""
    os.makedirs(root, exist_ok=True)
    base = os.path.join(root, "%s-%d" % (name, os.getpid()))
    path = base
    for n in range(1, 10000):
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            path = "%s-%d" % (base, n)
    raise RecorderError("no free trace directory name under %s" % root)


def _exports(config: Config, path: str) -> Dict[str, str]:
    """What a child needs in ``os.environ`` (inherited by subprocess, multiprocessing
    spawn/forkserver and os.exec*): this config through :meth:`Config.to_env`, with
    ``RECORDER_TRACE`` absolute and ``RECORDER_PARENT`` naming this trace. A variable left
    at its default stays unset, so the program's environment changes as little as possible."""
    child = config.updated(trace_root=os.path.abspath(config.trace_root or "."),
                           parent="%d:%s" % (os.getpid(), path))
    defaults = Config().to_env()
    changes: Dict[str, str] = {}
    for name, value in child.to_env().items():
        current = os.environ.get(name)
        if current == value or (current is None and defaults.get(name) == value):
            continue
        changes[name] = value
    return changes


# -- how the process ends ------------------------------------------------------------------

def _at_work() -> Any:
    """This process's recording's ``at_work`` (recorder.normalise.AtWork), or a no-op."""
    session = _state.session
    if session is not None:
        return session.at_work
    from recorder.normalise import NO_RECORDING
    return NO_RECORDING


def _quietly(hook: Callable[..., Any]) -> Callable[..., Any]:
    """Run a hook of ours inside the recording's ``at_work``: Python runs atexit, signal and
    wrapped-function hooks on a program thread as ordinary code, still recorded, and nothing
    they do (the standard library code they call, closing the trace) may reach the trace."""
    def quietly(*args: Any) -> Any:
        with _at_work():
            return hook(*args)
    quietly.__name__ = quietly.__qualname__ = hook.__name__
    quietly.__doc__ = hook.__doc__
    return quietly


def _finish(status: Any) -> None:
    """Stop and close this process's trace with ``status`` as the ``<toplevel>`` return."""
    session = _state.session
    if session is None:
        return
    _state.session = None
    _state.closing = True
    try:
        session.stop(exit_status=status)
    except Exception as exc:
        warn("closing the trace failed: %s: %s" % (type(exc).__name__, exc))
    finally:
        _state.closing = False
    report, _state.report = _state.report, None
    if report is not None:
        report()  # the end-of-run line (recorder/report.py): never raises
    if _state.pending_signal:
        _die(_state.pending_signal)  # a SIGTERM came while closing: now it takes effect


def _last_exception() -> Any:
    return getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)


def _exit_status() -> Any:
    """The exit status, as atexit can know it. Python does not tell atexit handlers how the
    program ended, so it is read from how ``__main__``'s module frame ended
    (:meth:`Session.main_module_end`): by an exception (``SystemExit``: its code;
    KeyboardInterrupt: 130, as the CLI writes it; any other: 1) or normally (0). An
    uncaught exception the session did not see is still told by ``sys.last_value``;
    otherwise ``"<exit>"`` (unknown)."""
    if _state.status is not None:
        return _state.status
    session = _state.session
    end = session.main_module_end() if session is not None else None
    if end is not None and end.exception is not None:
        return _status_of(end.exception)
    exc = _last_exception()
    if exc is not None and exc is not _state.last_exception_at_start:
        return _status_of(exc)
    if end is not None and end.returned:
        return 0
    return "<exit>"


def _status_of(exc: Any) -> Any:
    """The process exit status for ``__main__`` ending with ``exc`` (None: a return)."""
    if exc is None:
        return 0
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int) and not isinstance(code, bool):
            return code & 0xFF  # what the process status will be
        return 1  # Python prints a non-integer code and exits with 1
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


@_quietly
def _at_exit() -> None:
    _await_termination()
    _finish(_exit_status())


@_quietly
def _install_hooks() -> None:
    """Once per process image (a forked child inherits them): atexit, os._exit, os.exec*,
    SIGTERM. Each looks up the current session when it runs, so a child's renewed session
    is the one it finishes."""
    if _state.hooks:
        return
    _state.hooks = True
    atexit.register(_at_exit)
    _state.real_exit = os._exit
    os._exit = _wrap_exit(os._exit)  # type: ignore[assignment]
    for name in ("execv", "execve", "_execvpe"):
        real = getattr(os, name, None)
        if real is not None:
            setattr(os, name, _wrap_exec(real))
    _install_sigterm()


def _wrap_exit(real: Callable[[int], Any]) -> Callable[[int], Any]:
    @functools.wraps(real)
    @_quietly
    def _exit(status: int) -> Any:
        # os._exit skips atexit: close the trace first (multiprocessing's fork workers end so)
        _await_termination()
        _finish(status if isinstance(status, int) and not isinstance(status, bool)
                else "<exit>")
        return real(status)
    return _exit


def _wrap_exec(real: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(real)
    def exec_(*args: Any, **kwargs: Any) -> Any:
        # The new program replaces this one without atexit: flush and close first.
        recording = _state.session is not None
        if recording:
            _state.status = "<exec>"
            _finish("<exec>")
        try:
            return real(*args, **kwargs)
        except BaseException:
            # The exec failed and the program goes on: so does an auto-started recording
            # (the CLI's trace stays closed with "<exec>").
            if recording and _state.config is not None and not _state.by_cli:
                previous = _state.trace_dir
                _state.status = None
                _begin(_state.parent, "exec-failed", previous)
            raise
    return exec_


#: Signals whose default action ends the process without atexit and that ask it to end
#: (SIGTERM: kill, service managers; SIGHUP: the terminal went away). SIGINT is Python's
#: KeyboardInterrupt; SIGKILL cannot be caught; SIGQUIT and the crash signals dump core.
_TERMINATING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                             if hasattr(signal, name))


def _install_sigterm() -> None:
    """:func:`_on_signal` stands in for the default action of ``_TERMINATING_SIGNALS``
    (where the program has no handler, and whenever it asks for the default again; an
    ignored signal, e.g. under ``nohup``, stays ignored), unseen by the program
    (recorder/signals.py). Only from the main thread, where Python allows it."""
    try:
        if threading.current_thread() is not threading.main_thread():
            return
        signals.stand_in(_on_signal, _TERMINATING_SIGNALS)
    except (ValueError, OSError, AttributeError):
        pass


@_quietly
def _on_signal(signum: int, frame: Optional[FrameType]) -> None:
    """SIGTERM (or SIGHUP): close the trace, then die by the signal exactly as without us.

    Python runs this between two bytecodes of the main thread, often half way through the
    recorder writing an event (a stream's lock held, a Call written but not yet counted):
    closing the trace there could deadlock or leave it unbalanced. Then a helper thread
    stops the backend (no new event starts), waits until the main thread has left the
    recorder, closes the trace and sends the signal again, which lands here once more, now
    with nothing left to do but die (only the main thread may restore the default action).
    """
    if _state.terminating is not None:
        if _state.terminated:
            if _state.closing:  # the CLI is closing the trace itself: then it dies
                _state.pending_signal = signum
                return
            _die(signum)  # the helper has closed the trace
        return  # the helper is still at work; it sends the signal again when done
    try:
        if _state.closing:
            # It interrupted our own closing of the trace (atexit, os._exit): let that
            # finish (_finish dies by the signal right after).
            _state.pending_signal = signum
            return
        if _state.session is not None and _inside_recorder(frame):
            # our own thread: never recorded (recorder/own_threads.py)
            helper = own_threads.new_thread(_terminate, "recorder-sigterm", (signum,))
            _state.terminating = helper
            _state.terminating_signal = signum
            try:
                helper.start()
                return
            except Exception:
                _state.terminating = None  # no thread can start (shutdown): close here
        _state.status = _SIGNAL_BASE + signum
        _finish(_SIGNAL_BASE + signum)
    except Exception:
        pass
    _die(signum)


def _terminate(signum: int) -> None:
    """The helper thread of :func:`_on_signal`."""
    session = _state.session
    try:
        if session is not None:
            session.backend.stop()  # the main thread starts no new event
            deadline = time.monotonic() + _MAX_DEFER_SECONDS
            ident = threading.main_thread().ident
            while time.monotonic() < deadline:
                frame = sys._current_frames().get(ident)  # type: ignore[arg-type]
                if not _inside_recorder(frame) or _waiting_for_helper(frame):
                    break
                time.sleep(0.0005)
        _state.status = _SIGNAL_BASE + signum
        _finish(_SIGNAL_BASE + signum)
    except Exception:
        pass
    finally:
        _state.session = None
        _state.terminated = True
        try:
            os.kill(os.getpid(), signum)
        except OSError:
            pass


def _waiting_for_helper(frame: Optional[FrameType]) -> bool:
    """The main thread waits for the helper (at exit): it is writing no event."""
    while frame is not None:
        if frame.f_code is _await_termination.__code__:
            return True
        frame = frame.f_back
    return False


def _await_termination() -> None:
    """The program reached its end (atexit, os._exit) while the SIGTERM helper works: wait
    for it, then die by the signal as the program would have."""
    helper = _state.terminating
    if helper is None:
        return
    helper.join(_MAX_DEFER_SECONDS + 1.0)
    _die(_state.terminating_signal)


def _die(signum: int) -> None:
    """End the process by ``signum`` with its default action, as it would have unrecorded."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    try:
        signals.real_signal(signum, signals.DEFAULT)
        os.kill(os.getpid(), signum)
    finally:
        _state.real_exit(_SIGNAL_BASE + signum)  # only if the signal is blocked


def _inside_recorder(frame: Optional[FrameType]) -> bool:
    prefix = _HERE + os.sep
    while frame is not None and frame is not _state.host:
        if frame.f_code.co_filename.startswith(prefix):
            return True
        frame = frame.f_back
    return False


# -- fork ------------------------------------------------------------------------------------

def _on_fork(parent_session: Any) -> None:
    """``Session.on_fork``: in the child of ``os.fork()`` (the parent's recording is already
    dropped), start the child's own trace, linked to the parent's."""
    parent = (_state.pid, _state.trace_dir or "")
    _state.by_cli = False  # the child's recording is auto-started, even under the CLI
    _state.terminating = None  # a SIGTERM helper thread does not survive the fork
    _state.terminated = False
    _state.session = None
    _state.trace_dir = None
    _state.status = None
    if _forking_to_exec():
        return  # subprocess's fork+exec child (preexec_fn): the program it runs records itself
    _begin(parent, "fork")


#: Standard library functions that fork only to exec at once (their child runs a few lines
#: of Python first): subprocess with preexec_fn, os.spawn*.
_FORK_TO_EXEC = {("subprocess", "_execute_child"), ("os", "_spawnvef")}


def _forking_to_exec() -> bool:
    frame: Optional[FrameType] = sys._getframe(1)
    while frame is not None:
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) in _FORK_TO_EXEC:
            return True
        frame = frame.f_back
    return False


# -- naming the program ----------------------------------------------------------------------

class _Program:
    """What this process runs: ``name`` for its directory, ``display`` for the metadata."""

    def __init__(self, kind: str, value: str) -> None:
        #: "script", "module", "command" (-c) or "stdin" (also the interactive prompt)
        self.kind = kind
        self.value = value
        self.name = program_name(kind, value)
        self.display = {"script": os.path.abspath(value) if value else value,
                        "module": "-m " + value, "command": "-c", "stdin": "-"}[kind]
        self.is_recorder_cli = (
            (kind == "module" and value in ("recorder", "recorder.__main__", "recorder.cli"))
            or (kind == "script" and os.path.basename(value) in ("recorder",
                                                                 "recorder-script.py")))

    @classmethod
    def of_this_process(cls) -> "_Program":
        argv = _original_argv()
        if argv:
            return cls(*_parse_command_line(argv))
        first = sys.argv[0] if sys.argv else ""
        if first == "-c":
            return cls("command", "")
        if first == "-m":
            return cls("module", "")
        if first in ("", "-"):
            return cls("stdin", "")
        return cls("script", first)


def program_name(kind: str, value: str) -> str:
    """The ``<program>`` of ``DIR/<program>-<pid>``: a script's name without ``.py``, a
    module's dotted name, ``python-c`` for ``-c`` (``multiprocessing-spawn`` and the like
    for multiprocessing's helpers), ``python`` for stdin and the prompt."""
    if kind == "script":
        name = os.path.basename(value.rstrip("/\\"))
        for ext in (".py", ".pyw", ".pyz"):
            if name.endswith(ext) and len(name) > len(ext):
                name = name[:-len(ext)]
                break
    elif kind == "module":
        name = value or "python-m"
    elif kind == "command":
        found = re.search(r"from multiprocessing\.(\w+) import", value)
        name = "multiprocessing-" + found.group(1) if found else "python-c"
    else:
        name = "python"
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64].lstrip(".")
    return name or "python"


def _original_argv() -> Optional[List[str]]:
    """The interpreter's own command line: ``sys.orig_argv`` (3.10+), else /proc (Linux):
    at startup ``sys.argv`` says only ``-m``, not which module."""
    argv = getattr(sys, "orig_argv", None)
    if argv:
        return list(argv)
    try:
        with open("/proc/self/cmdline", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    parts = data.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [os.fsdecode(p) for p in parts] or None


def _parse_command_line(argv: List[str]) -> Tuple[str, str]:
    """(kind, value) from ``python [options] (script | -m mod | -c cmd | -) [args]``."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return ("script", argv[i + 1]) if i + 1 < len(argv) else ("stdin", "")
        if arg == "-":
            return "stdin", ""
        if arg.startswith("--"):
            i += 2 if arg == "--check-hash-based-pycs" else 1
            continue
        if arg.startswith("-"):
            for j in range(1, len(arg)):
                option = arg[j]
                if option in "cm":
                    rest = arg[j + 1:]
                    value = rest if rest else (argv[i + 1] if i + 1 < len(argv) else "")
                    return ("command" if option == "c" else "module"), value
                if option in "WX":
                    if j + 1 == len(arg):
                        i += 1  # the value is the next argument
                    break
            i += 1
            continue
        return "script", arg
    return "stdin", ""
