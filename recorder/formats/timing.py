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
call and return) and this module turns them into bytes when the event file is written: only
the stamps of the records written, so a killed process leaves no more stamps than Calls and
Returns, and whole ones.
"""
from __future__ import annotations

import array
import os
import sys
from typing import IO, Iterator, List, Optional

#: bytes per stamp
STAMP_SIZE = 8
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
    """Appends stamps to a side file (the writer's stream calls it under its lock)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fh: IO[bytes] = open(path, "wb")

    def write(self, stamps: List[float], keep: int = 0) -> None:
        """Write and remove the stamps in ``stamps`` now but the last ``keep`` (those of the
        records the writer holds back); ones appended meanwhile stay."""
        n = len(stamps) - keep
        if n <= 0:
            return
        data = array.array("d", stamps[:n])
        del stamps[:n]
        if _SWAP:
            data.byteswap()
        self.fh.write(data.tobytes())
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


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
