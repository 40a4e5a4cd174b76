"""Every write path of the trace writer, when the write fails: the writer stops recording
(:class:`RecordingStopped`, the session's one warning), names the file, keeps every file
readable and says so in the metadata. Real OS errors (something in the way of a file the
writer creates), never a mock; a full disk and the file-size limit: test_cli_limits.py."""
from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from recorder.errors import RecordingStopped
from recorder.events import ImportInfo, Kind
from recorder.formats import CodeTracerWriter, check_balance, read_trace_dir
from recorder.formats.imports import ImportLog
from test_codetracer_writer import HERE, Driver, code, main_thread


@pytest.fixture
def out(tmp_path: Any) -> str:
    return str(tmp_path / "trace-out")


def an_import(name: str) -> ImportInfo:
    now = time.perf_counter()
    return ImportInfo(name, "/src/%s.py" % name, 0, now, now + 0.01, True, None, None)


def metadata(out: str) -> Any:
    with open(os.path.join(out, "trace_metadata.json")) as fh:
        return json.load(fh)


def test_import_lines_that_cannot_be_written_stop_recording(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    t = main_thread()
    os.mkdir(os.path.join(out, "imports.jsonl"))  # in the way of its first write
    w.emit(Kind.IMPORT_END, t, None, None, an_import("first"), 0, None)
    with pytest.raises(RecordingStopped) as info:
        w.flush()
    assert str(info.value).startswith("cannot write imports.jsonl: ")
    w.close(0)
    stopped = metadata(out)["stopped"]
    assert (stopped["reason"], stopped["file"]) == ("write-error", "imports.jsonl")
    trace = read_trace_dir(out)
    assert trace.main.complete and check_balance(trace.main.events).ok


def test_an_import_log_cut_by_a_failed_write_keeps_its_whole_lines(tmp_path: Any) -> None:
    log = ImportLog(str(tmp_path))
    log.ended(an_import("a"), 1, None)
    log.flush()
    path = tmp_path / "imports.jsonl"
    os.chmod(str(path), 0o400)
    fd = os.open(str(path), os.O_RDONLY)  # the log's own descriptor can no longer write
    os.dup2(fd, log._fd)  # type: ignore[arg-type]
    os.close(fd)
    log.ended(an_import("b"), 1, None)
    with pytest.raises(OSError) as info:
        log.flush()
    assert info.value.filename == str(path)
    log.ended(an_import("c"), 1, None)  # dropped: the file stays whole
    log.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["module"] for line in lines] == ["a"] and log.count == 1


def test_a_path_table_that_cannot_be_written_stops_recording(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    d = Driver(w)
    os.mkdir(os.path.join(out, "trace_paths.json.tmp"))  # the atomic write's temporary file
    f = code("/src/other.py", 3, "f")
    d.call(f)
    with pytest.raises(RecordingStopped) as info:
        w.flush()
    assert str(info.value).startswith("cannot write trace_paths.json.tmp: ")
    d.ret(f, 1)
    w.close(0)
    meta = metadata(out)
    assert meta["stopped"]["file"] == "trace_paths.json.tmp" and meta["complete"] is True
    trace = read_trace_dir(out)  # the Path records are complete: the reader takes them
    assert trace.paths == [HERE, "/src/other.py"]
    assert trace.main.complete and check_balance(trace.main.events).ok


def test_a_thread_whose_file_cannot_be_made_stops_recording(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE)
    Driver(w)
    with open(os.path.join(out, "threads"), "w"):  # a file where the directory goes
        pass
    other = main_thread(serial=2)
    other.ident = 12345  # type: ignore[misc]
    other.name = "Thread-1"  # type: ignore[misc]
    with pytest.raises(RecordingStopped) as info:
        w.emit(Kind.THREAD_START, other, None, None, other, 0, None)
    assert str(info.value).startswith("cannot write threads")
    w.close(0)
    assert metadata(out)["stopped"]["reason"] == "write-error"
    trace = read_trace_dir(out)
    assert trace.main.complete and check_balance(trace.main.events).ok


def test_a_limit_stops_at_the_flush_that_reaches_it_and_only_once(out: str) -> None:
    w = CodeTracerWriter(out, program=HERE, max_records=20)
    d = Driver(w)
    f = code(HERE, 10, "f")
    d.call(f)
    for line in range(11, 40):
        d.line(f, line)
    with pytest.raises(RecordingStopped) as info:
        w.flush()
    assert str(info.value).startswith("the trace reached its max-records limit (20 records): ")
    d.line(f, 40)
    w.flush()  # told once
    w.close(0)
    events = read_trace_dir(out).main.events
    assert check_balance(events).ok
    stopped = metadata(out)["stopped"]
    # the 4 records of the start, Function f, its Step and Call, 29 Steps; after them Step 40
    # (recorded before the stop took effect) and the closing records
    assert (stopped["reason"], stopped["limit"], stopped["at_records"]) == ("max-records",
                                                                           20, 36)
    assert events[36] == {"Step": {"path_id": 0, "line": 40}}


def _make_read_only(path: str, fd: int) -> None:
    """The writer's own descriptor ``fd`` of ``path`` can no longer write (a real EBADF)."""
    ro = os.open(path, os.O_RDONLY)
    os.dup2(ro, fd)
    os.close(ro)


def test_a_cut_back_trace_keeps_no_more_stamps_than_records(out: str) -> None:
    from recorder.formats.timing import count_times

    w = CodeTracerWriter(out, program=HERE, flush_records=10 ** 6)
    d = Driver(w)
    f = code(HERE, 10, "f")
    for _ in range(5):
        d.call(f)
        d.ret(f, 1)
    w.flush()
    trace_json = os.path.join(out, "trace.json")
    _make_read_only(trace_json, w._main.fd)
    for _ in range(5):  # never reach the file: their stamps must not reach the side file
        d.call(f)
        d.ret(f, 1)
    with pytest.raises(RecordingStopped) as info:
        w.flush()
    assert str(info.value).startswith("cannot write trace.json: ")
    w.close(0)
    events = read_trace_dir(out).main.events  # the readable prefix (the end is cut too)
    stamped = sum(1 for e in events if "Call" in e or "Return" in e)
    assert stamped == 1 + 5 * 2  # <toplevel>'s Call, five calls and returns
    assert count_times(os.path.join(out, "trace_times.bin")) == stamped
    assert w.records_written == len(events)
    meta = metadata(out)
    assert meta["stopped"]["at_records"] == len(events) and meta["complete"] is False


def test_stamps_that_cannot_be_written_stop_recording_and_the_trace_closes(out: str) -> None:
    from recorder.formats.timing import count_times

    w = CodeTracerWriter(out, program=HERE)
    d = Driver(w)
    f = code(HERE, 10, "f")
    d.call(f)
    d.ret(f, 1)
    times = os.path.join(out, "trace_times.bin")
    _make_read_only(times, w._main.times_out.fd)  # type: ignore[union-attr]
    with pytest.raises(RecordingStopped) as info:
        w.close(0)  # the stamps are written at the end (in batches before)
    assert str(info.value).startswith("cannot write trace_times.bin: ")
    assert metadata(out)["stopped"]["file"] == "trace_times.bin"
    trace = read_trace_dir(out)
    assert trace.main.complete and check_balance(trace.main.events).ok
    assert count_times(times) == 0
