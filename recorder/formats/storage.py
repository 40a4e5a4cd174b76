"""How the recorder puts bytes on disk: who may read them, whole writes, and the limits.

A trace holds argument values, locals and the program's output, so by default every file the
recorder creates is ``0600`` and every directory ``0700``, whatever the umask
(:class:`FileModes`, ``--file-mode``; docs/trace-format.md, "Who can read a trace"). Files are
created with their final mode by ``os.open`` (never widened, then narrowed by a ``chmod``), and
with ``O_EXCL`` after removing what was there, so a leftover file or a link planted in its
place never gives its own mode or target to ours.

Writes go straight to the file descriptor (:func:`write_all`): no Python buffer keeps bytes
that a failed write would try to write again at close. A write that fails (a full disk, an
I/O error, the file-size limit) raises ``OSError``; the caller decides what survives (the
trace writer cuts the file back to its last whole record, see codetracer.py).

``RLIMIT_FSIZE``: a process that writes past its file-size limit gets SIGXFSZ, whose default
action kills it. The program's own files are its business, but the trace's are ours, so while
SIGXFSZ has its default action :func:`write_all` refuses, with ``EFBIG``, a write that would
cross the limit instead of letting the kernel end the program. With SIGXFSZ ignored or handled
the kernel itself answers ``EFBIG`` (or a short write), which is handled the same way.
"""
from __future__ import annotations

import errno
import json
import os
import stat
from typing import IO, Any, Optional, Tuple

from recorder.config import DEFAULT_FILE_MODE, parse_file_mode

__all__ = ["FileModes", "write_all", "write_json_atomic", "open_replacement"]

_O_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


class FileModes:
    """The permissions of what the recorder creates, from a ``--file-mode`` value.

    * ``private`` (default): files ``0600``, directories ``0700``. A umask can only take bits
      away, so these need no ``chmod``.
    * ``umask``: what ordinary programs do: ``0666``/``0777`` less the umask.
    * an octal mode (``0640``): files get exactly it, directories the same plus the search bit
      wherever the read bit is set (``0750``), whatever the umask (a ``fchmod`` right after
      creation restores the bits a umask took; the file is empty until then).
    """

    __slots__ = ("spec", "file", "dir", "exact")

    def __init__(self, spec: str = DEFAULT_FILE_MODE) -> None:
        spec = parse_file_mode(spec)
        self.spec = spec
        if spec == "private":
            self.file, self.dir, self.exact = 0o600, 0o700, False
        elif spec == "umask":
            self.file, self.dir, self.exact = 0o666, 0o777, False
        else:
            self.file = int(spec, 8)
            self.dir = self.file | ((self.file & 0o444) >> 2)
            self.exact = True

    def __repr__(self) -> str:
        return "FileModes(%r)" % self.spec

    def create(self, path: str) -> int:
        """A new, empty file at ``path`` (what was there is removed), open for writing."""
        return _create(path, self.file, self.exact)

    def mkdir(self, path: str) -> None:
        """``path`` and its missing parents, each with the directory mode. An existing
        directory is left as it is (its mode is its owner's choice)."""
        if os.path.isdir(path):
            return
        parent = os.path.dirname(path)
        if parent and parent != path:
            self.mkdir(parent)
        try:
            self.make_dir(path)
        except FileExistsError:
            if not os.path.isdir(path):
                raise

    def make_dir(self, path: str) -> None:
        """The new directory ``path`` (``FileExistsError`` when there is one)."""
        os.mkdir(path, self.dir)
        if self.exact:
            os.chmod(path, self.dir)


def _create(path: str, mode: int, exact: bool) -> int:
    try:
        fd = os.open(path, _O_CREATE, mode)
    except FileExistsError:
        os.unlink(path)  # ours from an earlier run (or in the way): never reuse its mode
        fd = os.open(path, _O_CREATE, mode)
    if exact:
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            else:  # Windows before 3.13: only the read-only bit means anything there
                os.chmod(path, mode)
        except BaseException:
            os.close(fd)
            raise
    return fd


def _fsize_cap() -> Optional[int]:
    """The file-size limit to keep under ourselves: ``RLIMIT_FSIZE``'s soft limit while
    SIGXFSZ would kill the process, else None (no limit, or the kernel answers EFBIG)."""
    try:
        import resource
        import signal
        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if soft == resource.RLIM_INFINITY or soft < 0:
            return None
        if signal.getsignal(signal.SIGXFSZ) != signal.SIG_DFL:
            return None
        return soft
    except (ImportError, AttributeError, OSError, ValueError):
        return None


def write_all(fd: int, data: bytes, at: int) -> None:
    """Write all of ``data`` at the end of the file (``at`` bytes long) or raise ``OSError``.
    Called once per buffer of records, never per record (the limit check is two syscalls)."""
    cap = _fsize_cap()
    if cap is not None and at + len(data) > cap:
        raise OSError(errno.EFBIG, "%s (the file-size limit RLIMIT_FSIZE is %d bytes)"
                      % (os.strerror(errno.EFBIG), cap))
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def append_whole(file: Any, data: bytes) -> None:
    """Append ``data`` to an append-only file of whole records: ``file.fd``, ``file.size``
    (the bytes it holds, always ending on a record boundary) and ``file.torn`` (an earlier
    append stopped part way without an ``OSError``, at the program's recursion limit: its
    part is cut off first). ``OSError`` when the write fails, ``file.size`` unchanged; the
    caller cuts the file back."""
    if file.torn:
        os.ftruncate(file.fd, file.size)
        os.lseek(file.fd, file.size, os.SEEK_SET)
        file.torn = False
    file.torn = True
    write_all(file.fd, data, file.size)
    file.torn = False
    file.size += len(data)


def write_json_atomic(path: str, data: Any, modes: FileModes) -> None:
    """Replace ``path`` by ``data`` as indented ASCII JSON: a temporary file, created with
    the final mode, renamed over it. On failure the temporary file is removed and ``path``
    is left as it was."""
    text = (json.dumps(data, indent=1, ensure_ascii=True) + "\n").encode("ascii")
    tmp = path + ".tmp"
    fd = modes.create(tmp)
    try:
        try:
            write_all(fd, text, 0)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def open_replacement(path: str, like: Optional[str] = None) -> Tuple[str, IO[str]]:
    """``(tmp, text file)`` for rewriting ``path`` through a temporary file that gets
    ``path``'s own mode (``--repair`` keeps the modes of what it rewrites), or ``like``'s when
    ``path`` does not exist; the caller writes, closes and ``os.replace``s."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        if like is None:
            raise
        mode = stat.S_IMODE(os.stat(like).st_mode)
    tmp = path + ".tmp"
    fd = _create(tmp, mode, exact=True)
    return tmp, os.fdopen(fd, "w", encoding="utf-8")
