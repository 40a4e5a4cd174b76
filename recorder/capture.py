"""The program's standard streams under ``python -m recorder``: what it writes to stdout and
stderr and what it reads from stdin through them is recorded as trace ``Event`` records (Write,
WriteOther, Read), and the streams stay what they are (docs/cli.md, docs/trace-format.md).

**stdout and stderr are the interpreter's own objects, hooked in place.** Instances of
``io.TextIOWrapper`` (and of ``BufferedWriter``/``FileIO`` under them) have a ``__dict__``,
and an instance attribute hides a method of the class: setting ``stream.write`` to a function
makes ``print``, ``stream.write`` and ``writelines`` call it, while ``type(sys.stdout) is
io.TextIOWrapper``, ``sys.stdout is sys.__stdout__``, ``isatty()``, ``fileno()``,
``encoding``, ``line_buffering``, ``buffer``, the buffering and the order of the bytes on fd
1 and 2 stay exactly those of the unrecorded run. ``write`` records the text where the
program wrote it (not when the buffer is flushed). Writes through ``stream.buffer`` are
recorded by a ``write`` hook on the buffer, decoded with the stream's encoding. The bytes the
text layer hands to its buffer (text already recorded) are not recorded twice: they are
passed on only inside the text layer's ``write``, ``flush`` and ``tell`` (``close``,
``seek``, ``detach`` and ``reconfigure`` flush through ``flush``), all hooked, and the
buffer's hook records nothing when its caller is one of those hooks.

**stdin is replaced by a subclass.** ``for line in sys.stdin`` on an exact ``TextIOWrapper``
reads its lines in C without calling anything a hook could see, so ``sys.stdin`` and
``sys.__stdin__`` become one new ``TextIOWrapper`` subclass built as CPython builds stdin
(same fd, buffer size, encoding, errors, newline, name and mode, ``closefd=False``), whose
``read``/``readline`` (iteration, ``readlines`` and a non-terminal ``input()`` call
``readline`` on a subclass) record what the program received, and whose buffer records what
the program reads through ``sys.stdin.buffer``. It reads ahead exactly as much as Python's.

Every hook calls the real method and lets its exceptions through untouched; from 3.11 its own
frame is also kept out of their tracebacks (``env.RERAISE_USES_TRACEBACK_ATTRIBUTE``).

The hooks run on the program's thread as ordinary code, not inside a trace callback, so the
recording of what they saw (decoding, the writer's ``record_output`` and a flush it makes,
writing ``trace_paths.json`` with ``json``) runs inside the session's ``at_work``
(:class:`recorder.normalise.AtWork`): never recorded, whatever the filters say. The
program's own I/O (the real method) runs outside it.

Not seen at this level (docs/trace-format.md says why): ``os.write(1, ...)``, writes to
``sys.stdout.buffer.raw``, C code and child processes writing to the file descriptors, and
``input()`` on a terminal (CPython reads it with readline in C).
"""
from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any, Callable, List, Optional, Set, Tuple

from recorder import env
from recorder.normalise import NO_RECORDING

__all__ = ["StreamCapture", "capture_output", "hold_closed_standard_fds",
           "RecordingTextIOWrapper", "RecordingBufferedReader"]

#: The recorder's own messages (``errors.warn``, debug lines) start so; written from the
#: recorder's code they are not the program's output.
_OWN_MESSAGE = "recorder: "
_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_MISSING = object()
#: ``id()`` of the code of the stand-ins (a code object's own hash reads all of it). A
#: buffer's stand-in called from one of them is the text layer above moving its own, already
#: recorded, text: C code adds no frame in between, and a program's own call has the
#: program's frame there. The code objects live as long as this module.
_STAND_IN_CODES: Set[int] = set()
#: What a stand-in does after the real call returned: ``after(args, result)``; never raises.
After = Callable[[Tuple[Any, ...], Any], None]


def _stand_in(method: Callable[..., Any], after: Optional[After] = None) -> Callable[..., Any]:
    """A function standing in for ``method``: same arguments, same result, same exceptions;
    then ``after(args, result)``."""
    drop_own_entry = env.RERAISE_USES_TRACEBACK_ATTRIBUTE

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        try:
            result = method(*args, **kwargs)
        except BaseException as exc:
            if drop_own_entry and exc.__traceback__ is not None:
                exc.__traceback__ = exc.__traceback__.tb_next  # this frame's entry
            raise
        if after is not None:
            after(args, result)
        return result

    return _named_like(stand_in, method)


def _recording_write(method: Callable[..., Any], capture: "StreamCapture", name: str,
                     text_stream: Any = None) -> Callable[..., Any]:
    """A :func:`_stand_in` for the ``write`` of a text stream (``text_stream`` None: it
    records its text argument where the program wrote it) or of the buffer under
    ``text_stream`` (it records the bytes written, decoded with that stream's encoding,
    unless its caller is the text layer above passing on its own, already recorded, text).

    This is the hot path (``print`` writes each argument, separator and end on its own, and
    under -u or on a terminal each also reaches the buffer), kept to the fewest
    instructions and calls: under settrace every call is a trace event and every line run, in
    any frame, a line-table check. A call with other arguments than one positional is passed
    on as it is, so a wrong one fails with the real method's own error."""
    drop_own_entry = env.RERAISE_USES_TRACEBACK_ATTRIBUTE
    record = capture._record
    at_work = capture.at_work
    get_frame = sys._getframe
    stand_ins = _STAND_IN_CODES
    missing = _MISSING

    def stand_in(data: Any = missing, /, *more: Any, **keywords: Any) -> Any:
        try:
            if more or keywords or data is missing:
                return method(*(() if data is missing else (data,)), *more, **keywords)
            result = method(data)
        except BaseException as exc:
            if drop_own_entry and exc.__traceback__ is not None:
                exc.__traceback__ = exc.__traceback__.tb_next  # this frame's entry
            raise
        if not capture.recording:
            return result
        if text_stream is None:
            if isinstance(data, str) and data and (
                    not data.startswith(_OWN_MESSAGE)
                    or not get_frame(1).f_code.co_filename.startswith(_OWN_DIR)):
                try:
                    with at_work:
                        record(name, data)
                except Exception as failure:
                    capture.failed(failure)
        elif isinstance(result, int) and result > 0 and \
                id(get_frame(1).f_code) not in stand_ins:  # (data may be any buffer)
            capture.record_bytes(name, data, result, text_stream)
        return result

    return _named_like(stand_in, method)


def _named_like(stand_in: Callable[..., Any], method: Callable[..., Any]) -> Callable[..., Any]:
    stand_in.__name__ = getattr(method, "__name__", stand_in.__name__)
    stand_in.__doc__ = getattr(method, "__doc__", None)
    _STAND_IN_CODES.add(id(stand_in.__code__))
    return stand_in


def _from_text_layer() -> bool:
    """Called by a buffer stand-in's ``after``: is the buffer's caller one of our text
    stand-ins? (frame 0: this function, 1: ``after``, 2: the buffer's stand-in, 3: its
    caller)."""
    return id(sys._getframe(3).f_code) in _STAND_IN_CODES


class StreamCapture:
    """Records the standard streams into ``record(stream, text)`` (the trace writer's
    ``record_output``: stream "stdout", "stderr" or "stdin") between :meth:`install` and
    :meth:`restore`. A failure of ``record`` stops the capture and is handed to
    ``on_failure`` once (the session's: one warning, recording stops); the program's I/O
    itself has already happened and is never affected. ``at_work``: the session's
    (``session.at_work``), inside which everything is recorded."""

    def __init__(self, record: Callable[[str, str], Any],
                 on_failure: Optional[Callable[[BaseException], Any]] = None,
                 at_work: Any = NO_RECORDING) -> None:
        self._record = record
        self._on_failure = on_failure
        self.at_work = at_work
        #: Read on every hooked call: False after restore or a failure.
        self.recording = False
        #: (object, attribute, our hook, what the instance had before or _MISSING)
        self._hooks: List[Tuple[Any, str, Any, Any]] = []
        self._stdin: Optional[RecordingTextIOWrapper] = None
        #: The interpreter's stdin, kept alive and untouched while ours stands in for it.
        self._original_stdin: Any = None

    # -- lifecycle ---------------------------------------------------------------------------
    def install(self) -> "StreamCapture":
        self.recording = True
        for name in ("stdout", "stderr"):
            streams = [getattr(sys, name), getattr(sys, "__%s__" % name)]
            if streams[1] is streams[0]:
                del streams[1]
            for stream in streams:
                if isinstance(stream, io.TextIOWrapper):
                    self._hook_output(stream, name)
        original = sys.stdin
        if original is not None and original is sys.__stdin__:
            stdin = _mirror_stdin(original, self)
            if stdin is not None:
                self._original_stdin, self._stdin = original, stdin
                sys.stdin = sys.__stdin__ = stdin
        return self

    def restore(self) -> None:
        """Stop recording and take the hooks off the interpreter's stdout and stderr (also
        when the program has put other objects into ``sys.stdout``/``sys.stderr``: the hooks
        are on the objects, and what the program put there is left alone). Our stdin stays
        ``sys.stdin``: it may hold input read ahead that the interpreter's object never saw,
        and an ``atexit`` function of the program may still read it; it records nothing
        more."""
        self.recording = False
        for obj, attr, hook, before in reversed(self._hooks):
            try:
                if obj.__dict__.get(attr) is hook:  # not if the program set its own since
                    if before is _MISSING:
                        del obj.__dict__[attr]
                    else:
                        obj.__dict__[attr] = before
            except Exception:
                pass
        del self._hooks[:]

    # -- recording ---------------------------------------------------------------------------
    def record(self, stream: str, text: str) -> None:
        try:
            with self.at_work:
                self._record(stream, text)
        except Exception as exc:
            self.failed(exc)

    def failed(self, exc: BaseException) -> None:
        """``record`` raised: stop recording, tell ``on_failure`` (once)."""
        if not self.recording:
            return
        self.recording = False
        if self._on_failure is not None:
            try:
                self._on_failure(exc)
            except Exception:
                pass

    def record_bytes(self, stream: str, data: Any, count: Any, text_stream: Any) -> None:
        """``count`` bytes of ``data`` (all when ``count`` is None), decoded with
        ``text_stream``'s encoding; bytes that do not decode are shown as ``\\xNN``."""
        with self.at_work:  # (a Python codec's code is the recorder's work here)
            self._record_bytes(stream, data, count, text_stream)

    def _record_bytes(self, stream: str, data: Any, count: Any, text_stream: Any) -> None:
        try:
            raw = bytes(data) if count is None else bytes(data)[:count]
        except Exception:
            return  # not a bytes-like object, or a count that is no int: nothing to show
        if not raw:
            return
        try:
            text = raw.decode(text_stream.encoding or "utf-8", "backslashreplace")
        except Exception:
            text = raw.decode("utf-8", "backslashreplace")
        self.record(stream, text)

    # -- stdout and stderr -------------------------------------------------------------------
    def _hook_output(self, stream: Any, name: str) -> None:
        self._set_hook(stream, "write", _recording_write(stream.write, self, name))
        for method in ("flush", "tell"):  # they pass the pending text on to the buffer
            self._set_hook(stream, method, _stand_in(getattr(stream, method)))
        buffer = getattr(stream, "buffer", None)
        if buffer is not None and hasattr(buffer, "__dict__"):
            self._set_hook(buffer, "write", _recording_write(buffer.write, self, name, stream))

    def _set_hook(self, obj: Any, attr: str, hook: Any) -> None:
        self._hooks.append((obj, attr, hook, obj.__dict__.get(attr, _MISSING)))
        obj.__dict__[attr] = hook


# -- stdin -----------------------------------------------------------------------------------

def _read_text(args: Tuple[Any, ...], text: Any) -> None:
    capture = args[0]._capture
    if text and capture.recording and isinstance(text, str):
        capture.record("stdin", text)


def _read_bytes(args: Tuple[Any, ...], data: Any) -> None:
    buffer = args[0]
    capture = buffer._capture
    if data and capture.recording and not _from_text_layer():
        capture.record_bytes("stdin", data, None, buffer._text or buffer)


def _read_into(args: Tuple[Any, ...], count: Any) -> None:
    buffer = args[0]
    capture = buffer._capture
    if count and capture.recording and len(args) > 1 and not _from_text_layer():
        capture.record_bytes("stdin", args[1], count, buffer._text or buffer)


class RecordingTextIOWrapper(io.TextIOWrapper):
    """The program's ``sys.stdin`` while recording: records what ``read`` and ``readline``
    return (iteration, ``readlines`` and ``input()`` call ``readline`` on a subclass).
    Its state lives in slots, so ``vars(sys.stdin)`` is the interpreter's ``{'mode': 'r'}``."""

    __slots__ = ("_capture",)

    read = _stand_in(io.TextIOWrapper.read, _read_text)
    readline = _stand_in(io.TextIOWrapper.readline, _read_text)

    def __repr__(self) -> str:
        return _repr_as(self, io.TextIOWrapper)


class RecordingBufferedReader(io.BufferedReader):
    """``sys.stdin.buffer`` while recording: records what the program reads through it (not
    what the text layer above reads for itself: that is recorded as text)."""

    __slots__ = ("_capture", "_text")

    read = _stand_in(io.BufferedReader.read, _read_bytes)
    read1 = _stand_in(io.BufferedReader.read1, _read_bytes)
    readline = _stand_in(io.BufferedReader.readline, _read_bytes)
    readinto = _stand_in(io.BufferedReader.readinto, _read_into)
    readinto1 = _stand_in(io.BufferedReader.readinto1, _read_into)

    def __repr__(self) -> str:
        return _repr_as(self, io.BufferedReader)


def _repr_as(obj: Any, base: type) -> str:
    """``base``'s repr of ``obj`` as CPython prints it for an exact ``base`` (3.13 puts the
    type's name in it, earlier versions always ``_io.TextIOWrapper`` for a text wrapper)."""
    text = base.__repr__(obj)
    ours = "<" + type(obj).__name__
    if text.startswith(ours):
        text = "<%s.%s%s" % (base.__module__, base.__qualname__, text[len(ours):])
    return text


def _mirror_stdin(original: Any, capture: StreamCapture) -> Optional[RecordingTextIOWrapper]:
    """A recording twin of the interpreter's stdin, built as CPython's ``create_stdio``
    builds it; None when ``original`` is not the interpreter's kind of stdin (then stdin is
    left alone and not recorded)."""
    try:
        buffer = original.buffer
        if (type(original) is not io.TextIOWrapper or type(buffer) is not io.BufferedReader
                or type(buffer.raw) is not io.FileIO or original.closed):
            return None
        raw = io.FileIO(original.fileno(), "rb", closefd=False)
        raw.name = buffer.raw.name
        size = raw._blksize if raw._blksize > 1 else io.DEFAULT_BUFFER_SIZE  # as io.open
        twin_buffer = RecordingBufferedReader(raw, size)
        twin_buffer._capture = capture
        twin_buffer._text = None
        twin = RecordingTextIOWrapper(
            twin_buffer, encoding=original.encoding, errors=original.errors,
            newline=None if sys.platform == "win32" else "\n",
            line_buffering=original.line_buffering, write_through=original.write_through)
        twin._capture = capture
        twin._CHUNK_SIZE = original._CHUNK_SIZE
        twin.mode = original.mode
        twin_buffer._text = twin
        return twin
    except Exception:
        return None


# -- the command line's entry points ---------------------------------------------------------

def capture_output(writer: Any,
                   on_failure: Optional[Callable[[BaseException], Any]] = None,
                   at_work: Any = NO_RECORDING) -> Callable[[], None]:
    """Record the standard streams into ``writer.record_output``, inside ``at_work`` (the
    session's); returns the function that ends it (:meth:`StreamCapture.restore`)."""
    return StreamCapture(writer.record_output, on_failure, at_work).install().restore


def hold_closed_standard_fds() -> List[int]:
    """Keep a standard file descriptor that the program got closed (``python app.py >&-``)
    unusable for it. Otherwise the recorder's first open file takes its number, and
    ``os.write(1, ...)`` or a child process inheriting fd 1 would write into the trace. Each
    such fd gets a placeholder on which reads and writes fail with EBADF, as on a closed fd
    (an ``O_PATH`` descriptor where the system has them, else one opened for the other
    direction only), and that child processes do not inherit (they see the fd closed). Call
    it before the recorder opens its files; returns the fds held."""
    held = []
    o_path = getattr(os, "O_PATH", None)
    for fd, other_direction in ((0, os.O_WRONLY), (1, os.O_RDONLY), (2, os.O_RDONLY)):
        try:
            os.fstat(fd)
            continue
        except OSError as exc:
            if exc.errno != errno.EBADF:
                continue
        try:
            placeholder = os.open(os.devnull, other_direction if o_path is None else o_path)
            if placeholder != fd:  # not inheritable (PEP 446), and dup2'd as such
                os.dup2(placeholder, fd, inheritable=False)
                os.close(placeholder)
            held.append(fd)
        except OSError:
            pass
    return held
