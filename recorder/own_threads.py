"""The recorder's own threads: their work is the recorder's, never the program's.

The trace shows the program's threads only. A thread the recorder starts (the SIGTERM
helper that closes the trace, recorder/autostart.py) is made by :func:`new_thread`, and
a backend that adopts every new thread (settrace's ``threading.settrace`` hook) asks
:func:`is_own` once per new thread and leaves these alone: no thread state, no stream, no
file. The check costs nothing per event.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any, Callable, Tuple

__all__ = ["new_thread", "is_own"]

#: The threads made by :func:`new_thread` (weak: a finished helper leaves no trace here).
_own: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()


def new_thread(target: Callable[..., Any], name: str,
               args: Tuple[Any, ...] = ()) -> threading.Thread:
    """A daemon thread that will run ``target(*args)``, known as the recorder's own before
    it starts (the caller starts it)."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    _own.add(thread)
    return thread


def is_own() -> bool:
    """Is the calling thread one of the recorder's own (made by :func:`new_thread`)?"""
    if not _own:
        return False
    # threading._active, not current_thread(): that would make a _DummyThread for a thread
    # started with _thread, changing what the program sees in threading.enumerate().
    thread = threading._active.get(threading.get_ident())  # type: ignore[attr-defined]
    return thread is not None and thread in _own
