"""The program's recursion limit while it is recorded (docs/backends.md, "Recursion limit").

Recording costs recursion depth, and the program must not notice:

* a trace or monitoring callback is a Python function that CPython runs *on the program's
  stack*: one frame deeper than the frame it reports on, and whatever it calls goes deeper;
* the command line runs the program below its own frames (``runpy``, ``main``, ``exec``),
  which ``python script.py`` does not have.

So while recording, the interpreter's real limit is the program's limit plus ``offset``: the
depth the entry point takes that an unrecorded run would not (``entry_cost``) plus one for
the callback itself. The program keeps seeing its own limit: ``sys.getrecursionlimit`` and
``sys.setrecursionlimit`` are replaced by functions that show and take the program's number
(the builtins are back when recording stops). Every frame of the program then starts at
exactly the depth it would reach unrecorded, and the first frame that an unrecorded run could
not start is stopped by CPython itself, because *its* callback cannot start: the
RecursionError is the interpreter's, with its own message, where the program expects it.

Callbacks for the deepest frames run with no room at all (on 3.8-3.10 not even for a
comparison or a builtin call): what they cannot do waits in the thread's backlog
(recorder/normalise.py). 3.8 has one more trap, handled by :func:`recover` and
:func:`settle`: a RecursionError leaves the thread "overflowed", with no recursion check at
all until the depth falls 50 below the limit, so one swallowed in a callback would let the
program recurse on to CPython's fatal "Cannot recover from stack overflow".
"""
from __future__ import annotations

import opcode
import sys
import threading
from types import TracebackType
from typing import Any, Callable, List, Optional

from recorder import env

#: The interpreter's own functions (the program sees ours while recording).
real_getrecursionlimit = sys.getrecursionlimit
real_setrecursionlimit = sys.setrecursionlimit

#: How much deeper than the limit a 3.8 callback may go when it needs room next to it. More
#: than 50, so that a frame's exit clears the overflow state (which clears 50 below the limit).
HEADROOM = 200

_INT_MAX = 2 ** 31 - 1  # the limit is a C int
_lock = threading.Lock()


class _State:
    #: what recording adds to the program's limit (0: not recording)
    offset = 0
    #: the limit the program set and sees (None: not recording)
    visible: Optional[int] = None


def getrecursionlimit() -> int:
    visible = _State.visible
    return real_getrecursionlimit() if visible is None else visible


def setrecursionlimit(limit: Any, /) -> None:
    if _State.visible is None:
        return real_setrecursionlimit(limit)
    try:
        wanted = limit.__index__()
    except (AttributeError, TypeError):
        return real_setrecursionlimit(limit)  # the interpreter's own TypeError
    if wanted < 1 or wanted > _INT_MAX:
        return real_setrecursionlimit(wanted)  # its own ValueError or OverflowError
    refused = None
    with _lock:
        real = min(wanted + _State.offset, _INT_MAX)
        try:
            real_setrecursionlimit(real)
        except RecursionError as exc:
            refused = str(exc)
        else:
            _State.visible = wanted
    if refused is not None:
        # The interpreter compared the real numbers: say the program's. This frame counts in
        # the real depth as the builtin call itself counts in the program's.
        raise RecursionError(_program_numbers(refused, real - wanted))


def _program_numbers(message: str, offset: int) -> str:
    """'cannot set the recursion limit to R at the recursion depth D: ...' minus ``offset``."""
    words = message.split(" ")
    for i, word in enumerate(words):
        number = word.rstrip(":")
        if number.isdigit() and i > 0 and words[i - 1] in ("to", "depth"):
            words[i] = str(int(number) - offset) + word[len(number):]
    return " ".join(words)


for _ours, _theirs in ((getrecursionlimit, real_getrecursionlimit),
                       (setrecursionlimit, real_setrecursionlimit)):
    _ours.__doc__ = _theirs.__doc__
    _ours.__module__ = "sys"


def install(entry_cost: int = 0) -> None:
    """Start hiding ``entry_cost`` frames below the program, plus the callbacks' own frame."""
    if env.RECURSION_OVERFLOW_STICKY:
        _c_set_limit()  # ctypes now: imported inside a callback, it would be the program's import
    with _lock:
        if _State.visible is not None:
            return
        visible = real_getrecursionlimit()
        offset = max(entry_cost, 0) + 1
        real_setrecursionlimit(min(visible + offset, _INT_MAX))  # raising is always allowed
        _State.offset, _State.visible = offset, visible
    sys.getrecursionlimit = getrecursionlimit
    sys.setrecursionlimit = setrecursionlimit


def uninstall(keep: int = 0) -> None:
    """Give the program its limit back as the real one, and the builtins back. ``keep``:
    frames of an entry point still below the running program (recording stopped while the
    command line's program runs on: a size limit, a failure): they stay hidden, with the
    functions that show the program's own number."""
    with _lock:
        visible = _State.visible
        if visible is None:
            return
        try:
            real_setrecursionlimit(visible + max(keep, 0))
        except RecursionError:
            return  # stopped deeper than the program's own limit: keep the offset meanwhile
        if keep > 0:
            _State.offset = keep
            return
        _State.offset, _State.visible = 0, None
    if sys.getrecursionlimit is getrecursionlimit:
        sys.getrecursionlimit = real_getrecursionlimit
    if sys.setrecursionlimit is setrecursionlimit:
        sys.setrecursionlimit = real_setrecursionlimit


def installed() -> bool:
    return _State.visible is not None


# -- what the command line costs -------------------------------------------------------------

_PROBE = compile("""
def _probe(n):
    try:
        return _probe(n + 1)
    except RecursionError:
        return n
free = _probe(0)
""", "<recorder probe>", "exec")

#: Frames a plain ``python script.py`` leaves the probe at module level: the limit minus the
#: script's own module frame and the probe's first frame (the same on 3.8-3.13).
_SCRIPT_USES = 2


def entry_cost() -> int:
    """How much recursion depth the caller's frames take from a program that the caller
    runs with ``exec(code, namespace)``, compared with ``python script.py``. Measured, since
    a C-level call such as ``exec`` counts as well on 3.8-3.11."""
    namespace: dict = {}
    exec(_PROBE, namespace)
    # this function's own frame is not there when the caller runs the program
    return max(real_getrecursionlimit() - _SCRIPT_USES - namespace["free"] - 1, 0)


# -- a frame that never ran ------------------------------------------------------------------

_RESUME = opcode.opmap.get("RESUME", -1)


def never_started(tb: TracebackType) -> bool:
    """Is this traceback entry a frame that never ran an instruction? Under settrace, a
    frame whose 'call' trace event fails (at the recursion limit: the callback itself has
    no room) is added to the traceback by CPython, though the program never entered it."""
    lasti = tb.tb_lasti
    if env.START_BY_LASTI:
        return lasti < 0
    code = tb.tb_frame.f_code.co_code
    return 0 <= lasti < len(code) - 1 and code[lasti] == _RESUME and code[lasti + 1] & 3 == 0


# -- 3.8: room next to the limit -------------------------------------------------------------

_c_setter: List[Callable[[int], Any]] = []


def _c_set_limit() -> Callable[[int], Any]:
    """``Py_SetRecursionLimit`` itself, through ctypes: unlike ``sys.setrecursionlimit`` it
    lowers the limit at any depth (3.8 refuses it within 50 frames of the limit)."""
    if not _c_setter:
        import ctypes

        function = ctypes.pythonapi.Py_SetRecursionLimit
        function.argtypes = (ctypes.c_int,)
        function.restype = None
        _c_setter.append(function)
    return _c_setter[0]


def _noop() -> None:
    pass


def settle(limit: int) -> None:
    """3.8: end a callback that raised the limit by :data:`HEADROOM` above ``limit``: clear
    the thread's overflow state (a RecursionError swallowed meanwhile would leave it), then
    set ``limit`` back. Call it with the limit still raised, so that it has room to run."""
    _noop()  # a frame's exit below the low-water mark clears the overflow state
    _c_set_limit()(limit)


def recover() -> None:
    """3.8, right after a callback met a RecursionError: the thread is overflowed, so this
    call is not even checked; clear that before the program goes on, or it would recurse
    unchecked to the fatal error. A no-op on other versions."""
    if env.RECURSION_OVERFLOW_STICKY:
        limit = real_getrecursionlimit()
        real_setrecursionlimit(limit + HEADROOM)
        settle(limit)
