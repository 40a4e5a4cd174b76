"""A handler that stands in for a signal's default action, unseen by the program.

SIGTERM and SIGHUP end a process by their default action without ``atexit``, so the
recorder catches them to finish the trace first (recorder/autostart.py). The program must
not see that handler: code such as ::

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, my_handler)

has to behave as unrecorded. So, for the signals given to :func:`stand_in`:

* ``signal.getsignal`` answers ``SIG_DFL`` where the stand-in is installed;
* ``signal.signal(signum, SIG_DFL)`` installs the stand-in again (and the default action
  stays caught), and the handler it returns as the previous one is ``SIG_DFL`` where the
  stand-in was;
* any other handler (the program's own, ``SIG_IGN``) is installed as it is, for real: it
  runs as the program's, an ignored signal stays ignored by the kernel (and in what the
  process executes), and the stand-in is back as soon as the program asks for the default.

Both are replaced in ``_signal``, the C module, where ``signal.signal``/``signal.getsignal``
(which convert to and from the ``Handlers`` enum) look them up at every call: the program's
view is the same through either module, whatever it imported when. ``signal.siginterrupt``,
``set_wakeup_fd`` and asyncio's ``loop.add_signal_handler`` (which installs a handler through
``signal.signal`` and restores ``SIG_DFL`` the same way) need nothing more. A child made by
``os.fork()`` inherits all of it; a program started by ``exec`` gets the default action back
(the kernel resets caught signals), as it would unrecorded.

One more difference had to go: CPython drops the signals that reach a forked child before
its ``os.fork()`` returns there (``PyOS_AfterFork_Child`` clears them), which is harmless
for a default action (the kernel acts at once) but loses a caught one: a parent that
terminates its child at once (``os.kill(pid, SIGTERM)`` right after the fork) would leave
it running. So the forking thread blocks these signals around ``fork()`` (two
``pthread_sigmask`` calls, nothing per event): a signal sent meanwhile waits in the kernel,
and is delivered in the child once its Python state is ready.
"""
from __future__ import annotations

import _signal
import _thread
import functools
import os
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

__all__ = ["stand_in", "real_signal", "real_getsignal", "DEFAULT"]

#: The handlers as the C module has them (what the recorder itself uses).
real_signal: Callable[[int, Any], Any] = _signal.signal
real_getsignal: Callable[[int], Any] = _signal.getsignal
#: ``SIG_DFL`` as the C module takes it (the int 0; it refuses the ``Handlers`` enum).
DEFAULT = _signal.SIG_DFL

_stand_in: Optional[Callable[[int, Any], Any]] = None
_signals: Tuple[int, ...] = ()


def stand_in(handler: Callable[[int, Any], Any], signals: Iterable[int]) -> None:
    """Install ``handler`` for each of ``signals`` whose action is the default, and make it
    look like ``SIG_DFL`` from now on (see the module docstring). Once per process; raises
    what ``signal.signal`` raises (``ValueError`` outside the main thread)."""
    global _stand_in, _signals
    if _stand_in is not None:
        return
    signals = tuple(signals)
    for signum in signals:
        if real_getsignal(signum) == DEFAULT:
            real_signal(signum, handler)
    _stand_in, _signals = handler, signals
    _signal.signal = _wrap_signal(real_signal)
    _signal.getsignal = _wrap_getsignal(real_getsignal)
    if hasattr(os, "register_at_fork") and hasattr(_signal, "pthread_sigmask"):
        os.register_at_fork(before=_block_for_fork, after_in_parent=_unblock_after_fork,
                            after_in_child=_unblock_after_fork)


def _shown(handler: Any) -> Any:
    """What the program is told: the stand-in is the default action."""
    return DEFAULT if handler is _stand_in else handler


def _wrap_signal(real: Callable[[int, Any], Any]) -> Callable[[int, Any], Any]:
    @functools.wraps(real)
    def signal(signalnum: int, handler: Any) -> Any:
        # only the int itself: the C function refuses other objects equal to it
        if type(handler) is int and handler == DEFAULT and signalnum in _signals:
            handler = _stand_in
        return _shown(real(signalnum, handler))
    return signal


def _wrap_getsignal(real: Callable[[int], Any]) -> Callable[[int], Any]:
    @functools.wraps(real)
    def getsignal(signalnum: int) -> Any:
        return _shown(real(signalnum))
    return getsignal


#: Each forking thread's own signal mask while ``fork()`` runs (see the module docstring).
#: The child's thread has the forking thread's ident.
_masks: Dict[int, Any] = {}


def _block_for_fork() -> None:
    try:
        _masks[_thread.get_ident()] = _signal.pthread_sigmask(_signal.SIG_BLOCK, _signals)
    except Exception:
        pass  # the fork goes on as it would unrecorded


def _unblock_after_fork() -> None:
    """In the parent and in the child: the program's own mask again (a signal that came
    meanwhile is delivered now)."""
    mask = _masks.pop(_thread.get_ident(), None)
    if mask is not None:
        try:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
        except Exception:
            pass
