"""Shared helpers: record a function in-process and keep the events of chosen files."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import pytest

import recorder
from recorder import env
from recorder.events import CLOSING, OPENING, Event, Kind

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDER_DIR = os.path.dirname(os.path.abspath(recorder.__file__))

#: The backends this interpreter can run, for tests that must prove both.
BACKENDS = ["monitoring", "settrace"] if env.HAS_MONITORING else ["settrace"]


def record(fn: Callable[[], Any], backend: Optional[str] = None,
           files: Optional[Iterable[str]] = None, **options: Any) -> List[Event]:
    """Run ``fn`` under a fresh recording; return the events of ``files`` (default: the
    caller's file) plus every thread event. The function's exceptions propagate."""
    if files is None:
        files = [sys._getframe(1).f_code.co_filename]
    keep = {os.path.abspath(f) for f in files}
    events: List[Event] = []

    def sink(event: Event) -> None:
        if event.code is None or os.path.abspath(event.code.filename) in keep:
            events.append(event)

    with recorder.recording(sink, backend=backend, **options):
        fn()
    return events


def assert_balanced(events: List[Event]) -> None:
    """Every thread's stream opens with THREAD_START, closes with THREAD_END, and each
    activation opened (CALL/RESUME/ATTACH) is closed (RETURN/YIELD/UNWIND/DETACH)."""
    by_thread: dict = {}
    for event in events:
        by_thread.setdefault(event.thread, []).append(event)
    for thread, stream in by_thread.items():
        assert stream[0].kind == Kind.THREAD_START, (thread, stream[0])
        assert stream[-1].kind == Kind.THREAD_END, (thread, stream[-1])
        opened: list = []
        for event in stream:
            if event.kind in OPENING:
                opened.append(event)
            elif event.kind in CLOSING:
                assert opened, "thread %s closes what it never opened: %r" % (thread, event)
                start = opened.pop()
                assert (start.code, start.depth) == (event.code, event.depth), (start, event)
        assert not opened, "thread %s left open: %r" % (thread, opened)


def write_tree(root: "Path", files: Dict[str, str]) -> "Path":
    """Create ``files`` ({relative path: source, dedented}) under ``root``; new modules are
    importable at once."""
    import importlib
    import textwrap

    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    importlib.invalidate_caches()
    return root


def read_terminal(master: int, proc: Any, answer: Optional[Tuple[bytes, bytes]] = None,
                  timeout: float = 60.0) -> bytes:
    """Everything a pseudo-terminal's ``master`` end shows until ``proc`` has closed its
    side (then closes ``master``). ``answer``: (prompt, line): type ``line`` once ``prompt``
    has appeared."""
    import errno
    import select
    import time

    shown = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError as exc:  # Linux: EIO once the last writer has gone
                    if exc.errno != errno.EIO:
                        raise
                    break
                if not chunk:
                    break
                shown += chunk
                if answer is not None and answer[0] in shown:
                    os.write(master, answer[1])
                    answer = None
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
    return shown


def kinds_and_labels(events: List[Event]) -> List[tuple]:
    return [(e.kind.name, e.code.label if e.code else None) for e in events]


@pytest.fixture(params=BACKENDS)
def backend(request: Any) -> str:
    return request.param


@pytest.fixture
def resolvers_created(monkeypatch: Any) -> List[Any]:
    """Every ``ModuleResolver`` made while the test runs, in order."""
    from recorder.identity import ModuleResolver

    created: List[Any] = []
    original_init = ModuleResolver.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        created.append(self)
        original_init(self, *args, **kwargs)
    monkeypatch.setattr(ModuleResolver, "__init__", counting_init)
    return created
