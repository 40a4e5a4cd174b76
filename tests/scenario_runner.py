"""Run one scenario under one backend and print its canonical event stream.

    python tests/scenario_runner.py tests/scenarios/s01_gen_close_early.py settrace|monitoring|auto|none

The scenario module is loaded untraced, then the recorder is installed with a sink that turns
each event into its canonical line (``streams.event_line``) the moment it arrives; events of
other files are dropped, THREAD_START/THREAD_END are kept. ``main()`` runs, any
BaseException is caught and written as the outcome, the recorder is uninstalled, and the
output is printed as sections::

    == session S thread T     one block per recording session and thread serial
    == outcome                returned <value> | raised <Type(args)>
    == stdout                 what main() printed (captured)
    == checks                 invariant violations of the *unfiltered* stream (empty = ok)

Backend ``none`` runs the scenario without recording (the reference for output and outcome).

A scenario may set these module attributes:

* ``EXTRA_FILES``: more file names whose events are kept (exec'd strings, modules it
  writes to a temp dir): an exact name, a basename, or a path tail such as ``pkg/__init__.py``;
* ``SELF_INSTALL = True``: the runner does not install; ``main()`` calls
  ``RECORDER.start(**options)`` / ``RECORDER.stop()`` itself (mid-stack installs,
  start/stop/restart, backend fallback), every start opening a new session number.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import streams  # noqa: E402


class Collector:
    """The sink of one session: canonical lines of kept events, plus raw invariant checks."""

    def __init__(self, session: int, keep: "set[str]", recorder_dir: str, store: Dict) -> None:
        self.session = session
        self.keep = keep
        self.recorder_dir = recorder_dir
        self.store = store
        self.indent: Dict[int, streams.Indenter] = {}
        self.raw: Dict[int, List[Tuple[str, Any]]] = {}
        self.problems: List[str] = []
        self._kept_files: Dict[str, bool] = {}

    def _kept(self, filename: str) -> bool:
        kept = self._kept_files.get(filename)
        if kept is None:
            kept = (filename in self.keep or os.path.basename(filename) in self.keep
                    or os.path.abspath(filename) in self.keep
                    or any(filename.replace(os.sep, "/").endswith("/" + entry)
                           for entry in self.keep if "/" in entry))
            self._kept_files[filename] = kept
        return kept

    def __call__(self, event: Any) -> None:
        # At the program's recursion limit any call in here may raise RecursionError, and
        # the recorder then delivers the same event again later: so compute first, and
        # change state only at the end, with no Python-level call in between.
        kind = event.kind.name
        code = event.code
        thread = event.thread
        bad = (code is not None
               and os.path.abspath(code.filename).startswith(self.recorder_dir))
        line = None
        indenter = self.indent.get(thread)
        if indenter is None:
            indenter = streams.Indenter()
        depth = indenter.depth
        if code is None:
            keep = kind in ("THREAD_START", "THREAD_END")
            label, filename = "-", "-"
        else:
            keep = self._kept(code.filename)
            label, filename = code.label, code.filename
        if keep:
            if kind in streams.OPENING:
                place, depth = depth, depth + 1
            elif kind in streams.CLOSING:
                depth = place = max(depth - 1, 0)
            else:
                place = depth
            line = streams.event_line(kind, label, filename, event.line, event.value, place)
        # -- commit --
        self.raw.setdefault(thread, []).append((kind, code))
        if bad:
            self.problems.append("recorder frame: %s %r" % (kind, code))
        if line is not None:
            self.indent[thread] = indenter
            indenter.depth = depth
            self.store.setdefault((self.session, thread), []).append(line)

    def check(self) -> List[str]:
        """Balance of the unfiltered stream, per thread (rule R9 of recorder/normalise.py: every activation closed, every thread ended)."""
        problems = list(self.problems)
        for thread, events in self.raw.items():
            where = "session %d thread %d" % (self.session, thread)
            if events[0][0] != "THREAD_START":
                problems.append("%s: first event is %s" % (where, events[0][0]))
            if events[-1][0] != "THREAD_END":
                problems.append("%s: last event is %s" % (where, events[-1][0]))
            opened: List[Any] = []
            for kind, code in events:
                if kind in streams.OPENING:
                    opened.append(code)
                elif kind in streams.CLOSING:
                    if not opened:
                        problems.append("%s: %s %r closes nothing" % (where, kind, code))
                    elif opened.pop() is not code:
                        problems.append("%s: %s %r closes another activation"
                                        % (where, kind, code))
            if opened:
                problems.append("%s: %d activations never closed: %r"
                                % (where, len(opened), opened))
        return problems


class Controller:
    """What a SELF_INSTALL scenario sees as ``RECORDER``."""

    def __init__(self, backend: str, keep: "set[str]") -> None:
        import recorder

        self.recorder = recorder
        self.backend = backend
        self.keep = keep
        self.recorder_dir = os.path.dirname(os.path.abspath(recorder.__file__)) + os.sep
        self.store: Dict[Tuple[int, int], List[streams.Line]] = {}
        self.collectors: List[Collector] = []
        self.session: Optional[Any] = None

    def start(self, **options: Any) -> Any:
        options.setdefault("backend", self.backend)
        collector = Collector(len(self.collectors) + 1, self.keep, self.recorder_dir,
                              self.store)
        self.collectors.append(collector)
        self.session = self.recorder.install(collector, **options)
        return self.session

    def stop(self) -> None:
        self.recorder.uninstall()
        self.session = None


def load(path: str) -> Any:
    import importlib.util

    name = "scenario_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def run(path: str, backend: str) -> str:
    path = os.path.abspath(path)
    module = load(path)
    keep = {path} | set(getattr(module, "EXTRA_FILES", ()))
    ctl: Optional[Controller] = None
    if backend != "none":
        ctl = Controller(backend, keep)
    module.RECORDER = ctl if ctl is not None else _NoRecorder()
    captured = io.StringIO()
    outcome = ""
    with contextlib.redirect_stdout(captured):
        if ctl is not None and not getattr(module, "SELF_INSTALL", False):
            ctl.start()
        try:
            result = module.main()
            outcome = "returned " + streams.canon_value(result)
        except BaseException as exc:
            outcome = "raised " + streams.canon_value(exc)
        finally:
            if ctl is not None:
                ctl.recorder.uninstall()
    out = []
    checks: List[str] = []
    if ctl is not None:
        for key, lines in sorted(ctl.store.items()):
            out.append("== session %d thread %d" % key)
            out.extend(line.text() for line in lines)
        for collector in ctl.collectors:
            checks.extend(collector.check())
        for (session, thread), lines in sorted(ctl.store.items()):
            checks.extend(streams.balance_problems(
                lines, "kept stream of session %d thread %d" % (session, thread)))
    out.append("== outcome")
    out.append(outcome)
    out.append("== stdout")
    out.extend(captured.getvalue().splitlines())
    out.append("== checks")
    out.extend(checks)
    return "\n".join(out) + "\n"


class _NoRecorder:
    """``RECORDER`` in an unrecorded (``none``) run: starting and stopping do nothing."""

    backend = "none"
    session = None

    def start(self, **options: Any) -> None:
        return None

    def stop(self) -> None:
        return None


def main() -> None:
    path, backend = sys.argv[1], sys.argv[2]
    text = run(path, backend)
    sys.stdout.write(text)
    sys.stdout.flush()
    # Threads the scenario left behind (daemons) must not keep us alive or print late.
    os._exit(0)


if __name__ == "__main__":
    main()
