"""The records of one event file (``trace.json`` or a thread's), streamed as JSON texts.

Our writer puts one record per line (docs/trace-format.md), so a 4-million-record file is read
line by line in bounded memory, and a consumer parses only the records it needs: most lines of
a trace are ``Step`` and ``Value`` records, recognised by their first characters alone.
Any other layout of the array (0.3.0 writes it on one line) is read with the tolerant
:class:`recorder.formats.reader.EventReader` and each record re-serialised to the same compact
text, so consumers see one form.

:func:`check_end` looks at the end of the file before anything is printed: a closing ``]``
(complete), a whole last record (the writer was killed: a readable prefix), or a record cut in
the middle by a kill during a write, which is left out. Whether a file that is not closed is
a killed recording or a damaged file is for :mod:`recorder.inspect.source` to say: it knows
what the metadata claims.
"""
from __future__ import annotations

import json
import os
from typing import Iterator, Optional, Tuple

from recorder.inspect.errors import InspectError

#: how far from the end :func:`check_end` looks for the last line (a record is at most a
#: 64 KiB output chunk, escaped)
_TAIL = 1 << 20


class FileEnd:
    """What the end of an event file says."""

    def __init__(self, complete: bool, one_per_line: bool, cut: bool = False) -> None:
        #: the array is closed
        self.complete = complete
        #: our layout: ``[`` alone on the first line, one record per line
        self.one_per_line = one_per_line
        #: the last line is part of a record: the writer was killed while writing it (or
        #: the file was damaged); it is left out
        self.cut = cut


def check_end(path: str, label: str) -> FileEnd:
    """How ``path`` ends; :class:`InspectError` when it is not an event file at all.
    ``label`` names the file in messages."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(max(0, size - _TAIL))
            tail = fh.read()
    except OSError as exc:
        raise InspectError("cannot read %s: %s" % (label, exc.strerror or exc))
    if not head.strip():
        raise InspectError("%s is empty: not a trace" % label)
    if not head.startswith(b"["):
        raise InspectError("%s is not a trace (not a JSON array)" % label)
    one_per_line = head == b"[\n" or head == b"[\r"
    if not one_per_line:
        # another layout (0.3.0 writes one line): the reader finds a cut record itself
        return FileEnd(tail.rstrip().endswith(b"]"), False)
    last = tail.rstrip(b"\r\n").rsplit(b"\n", 1)[-1].rstrip(b"\r")
    if last == b"]":
        return FileEnd(True, True)
    if last.endswith(b","):
        last = last[:-1]
    # a killed writer leaves whole records (no newline after the last), or a record cut
    # by a kill in the middle of a write
    return FileEnd(False, True, cut=last != b"[" and not _is_record(last))


def _is_record(line: bytes) -> bool:
    try:
        obj = json.loads(line.decode("utf-8", "replace"))
    except ValueError:
        return False
    return isinstance(obj, dict) and len(obj) == 1


class Records:
    """Iterates ``(kind, text)`` for each record of an event file: ``kind`` is the record's
    key cut to four characters (``Step``, ``Valu``, ``Call``, ``Retu``, ``Func``, ``Path``,
    ``Vari``, ``Type``, ``Even``), ``text`` the record's compact JSON text. After iteration
    ``count`` is the number of records and ``bytes`` the file's size."""

    def __init__(self, path: str, label: str, end: Optional[FileEnd] = None) -> None:
        self.path = path
        self.label = label
        self.end = end or check_end(path, label)
        self.count = 0
        self.bytes = os.path.getsize(path)

    def __iter__(self) -> Iterator[Tuple[str, str]]:
        if self.end.one_per_line:
            return self._lines()
        return self._any_layout()

    def _lines(self) -> Iterator[Tuple[str, str]]:
        cut = self.end.cut
        with open(self.path, "r", encoding="utf-8", errors="replace", newline="\n") as fh:
            fh.readline()  # "["
            number = 1
            for line in fh:
                number += 1
                if cut and line[-1:] != "\n":
                    return  # the record a kill cut short (check_end): left out
                if line[-2:] == ",\n":
                    text = line[:-2]
                elif line[-1:] == "\n":
                    text = line[:-1]
                else:
                    text = line
                if text[:2] != '{"':
                    if text.strip() in ("]", ""):
                        continue
                    raise InspectError("%s: line %d is not a trace record" % (self.label, number))
                self.count += 1
                yield text[2:6], text

    def _any_layout(self) -> Iterator[Tuple[str, str]]:
        from recorder.formats.reader import EventReader

        reader = EventReader(self.path)
        dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode
        for obj in reader:
            if not isinstance(obj, dict) or len(obj) != 1:
                raise InspectError("%s: record %d is not a trace record"
                                   % (self.label, reader.count))
            self.count += 1
            text = dumps(obj)
            yield text[2:6], text
        if reader.error is not None and reader.count == 0 and not reader.complete:
            raise InspectError("%s: %s" % (self.label, reader.error))
