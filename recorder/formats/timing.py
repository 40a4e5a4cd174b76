"""The times of a trace file's calls and returns: a side file the CodeTracer format ignores.

CodeTracer's 0.3.0 records carry no time, and a field added to them could trip a strict
reader, so each event file gets a binary companion (docs/trace-format.md, "Time")::

    trace.json                   ->  trace_times.bin
    threads/trace-<serial>.json  ->  threads/trace_times-<serial>.bin

It holds one little-endian IEEE-754 double per ``Call`` and per ``Return`` record of its
event file, in file order: ``time.perf_counter()`` seconds read when the writer appended that
record. ``trace_metadata.json`` ``"timing"`` gives the clock's origin (the same origin as
``imports.jsonl``'s ``start``), so ``t - origin`` is seconds since recording started.

The writer appends floats to a list in the hot path (one clock read and one list append per
call and return) and this module turns them into bytes when the event file is written, in
batches of :data:`BATCH` stamps (and all at the end): only the stamps of records already
written, so a killed process leaves whole stamps and never more stamps than Calls and
Returns; its last few thousand may have none.
"""
from __future__ import annotations

import array
import os
import sys
from typing import Iterator, List, Optional

from recorder.formats.storage import FileModes, append_whole

#: bytes per stamp
STAMP_SIZE = 8
#: stamps written at once: a write of its own at every flush of the trace's records cost up
#: to half a microsecond per stamp on a machine busy with I/O (the file system's locks)
BATCH = 4096
_SWAP = sys.byteorder != "little"


def times_path(trace_path: str) -> str:
    """The side file of an event file: ``trace.json`` -> ``trace_times.bin``,
    ``trace-3.json`` -> ``trace_times-3.bin``."""
    folder, name = os.path.split(trace_path)
    stem = name[:-5] if name.endswith(".json") else name
    if stem == "trace":
        return os.path.join(folder, "trace_times.bin")
    if stem.startswith("trace-"):
        return os.path.join(folder, "trace_times-" + stem[len("trace-"):] + ".bin")
    return os.path.join(folder, stem + "_times.bin")


class TimesWriter:
    """Appends stamps to a side file (the writer's stream calls it under its lock), created
    with the trace's file mode (``modes``: a :class:`recorder.formats.storage.FileModes`;
    default private). Writes go straight to the descriptor, like the event file's; one that
    fails cuts the file back to its last whole stamp, and it takes no more stamps (so it
    never holds more stamps than its event file has Calls and Returns)."""

    def __init__(self, path: str, modes: Optional[FileModes] = None) -> None:
        self.path = path
        self.fd = (modes or FileModes()).create(path)
        self.size = 0  # bytes written, always whole stamps
        self.torn = False  # a write stopped part way without an OSError (recursion limit)
        self.dead = False  # a write failed

    def write(self, stamps: List[float], held: List[str], final: bool = False) -> None:
        """Once there are :data:`BATCH` of them, or when ``final``: write and remove the
        stamps in ``stamps`` but those of ``held``, the records the writer holds back
        (unwritten); stamps appended meanwhile stay. They leave the list only once
        written (a RecursionError leaves them for the next write). ``OSError`` when the
        write fails."""
        if len(stamps) < BATCH and not final:
            return
        n = len(stamps) - (held_back(held) if held else 0)
        if n <= 0:
            return
        if self.dead:
            del stamps[:n]
            return
        data = array.array("d", stamps[:n])
        if _SWAP:
            data.byteswap()
        raw = data.tobytes()
        try:
            append_whole(self, raw)
        except OSError as exc:
            self.dead = True
            del stamps[:n]
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                pass
            if exc.filename is None:
                exc.filename = self.path
            raise
        del stamps[:n]

    def close(self) -> None:
        if self.torn:  # a write stopped part way: whole stamps only
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                pass
        os.close(self.fd)


def held_back(records: List[str]) -> int:
    """How many of ``records`` (JSON texts a flush leaves in memory) take a stamp."""
    return sum(1 for r in records if r.startswith(_STAMPED))


_STAMPED = ('{"Call"', '{"Return"')


def read_times(path: str, chunk: int = 1 << 16) -> Iterator[float]:
    """Every whole stamp of ``path``, streamed ``chunk`` stamps at a time; nothing when the
    file is missing. A cut last stamp (a kill during the write) is dropped."""
    try:
        fh = open(path, "rb")
    except OSError:
        return
    with fh:
        while True:
            data = fh.read(chunk * STAMP_SIZE)
            if not data:
                return
            whole = len(data) - len(data) % STAMP_SIZE
            values = array.array("d")
            values.frombytes(data[:whole])
            if _SWAP:
                values.byteswap()
            for value in values:
                yield value
            if whole != len(data):
                return


def count_times(path: str) -> Optional[int]:
    """How many whole stamps ``path`` holds (None when it is missing)."""
    try:
        return os.path.getsize(path) // STAMP_SIZE
    except OSError:
        return None
