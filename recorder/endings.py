"""How a recorded process ends, whoever started the recording (the auto-start or the CLI).

atexit (normal end, ``sys.exit``, an uncaught exception, KeyboardInterrupt), ``os._exit`` and
``os.exec*`` (patched to close the trace first), SIGTERM and SIGHUP (a handler standing in for
the default action, unseen by the program (recorder/signals.py), that closes the trace and
then dies by the signal as before) all finish the trace with the program's exit status.
:func:`guard_endings` and :func:`close_cli_session` are the CLI's entry points; the state of
this process image's recording is :data:`_state`.
"""

from __future__ import annotations

import atexit
import functools
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any, Callable, Optional, Tuple

from recorder import own_threads, signals
from recorder.config import Config
from recorder.errors import warn


#: Exit status written for a process ended by a signal: the shell's 128 + signal number
#: (the CLI writes 130 for KeyboardInterrupt the same way).
_SIGNAL_BASE = 128

#: How long the SIGTERM helper waits for the main thread to leave the recorder before it
#: closes the trace anyway (see _on_signal).
_MAX_DEFER_SECONDS = 2.0


_HERE = os.path.dirname(os.path.abspath(__file__))


class _State:
    """This process image's auto-start (a forked child inherits a copy and renews it)."""

    def __init__(self) -> None:
        self.tried = False
        self.hooks = False
        self.config: Optional[Config] = None
        self.program: Any = None  # recorder.program_name._Program
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

def guard_endings(session: Any, trace_dir: str, target: Any = None,
                  report: Optional[Callable[[], Any]] = None,
                  host: Optional[FrameType] = None) -> None:
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
    # the frame that calls the program (default: the caller): it and the frames below it
    # are not "inside the recorder" for the SIGTERM handler
    _state.host = host if host is not None else sys._getframe(1)
    _state.by_cli = True
    session.on_fork = _release_in_child
    config = getattr(session, "config", None)
    if target is not None and config is not None and config.trace_root is not None:
        from recorder.autostart import _record_children
        _record_children(session, config, trace_dir, target)
    _install_hooks()



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
                from recorder.autostart import _begin
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
    prefix = _HERE + os.sep  # the recorder package
    while frame is not None and frame is not _state.host:
        if frame.f_code.co_filename.startswith(prefix):
            return True
        frame = frame.f_back
    return False
