"""The recording behind the pytest plugin (recorder/pytest_plugin.py): one recording
:class:`~recorder.session.Session` and one CodeTracer trace directory per test, from the
start of its set-up to the end of its tear-down (docs/pytest.md).

What is decided once per run: the configuration (``RECORDER_*``, the scope flags), the
filter chain (the project's ``[tool.recorder]`` from pytest's rootdir) and the backend; a
mistake in any of them, or a trace directory that cannot be used, is a usage error before
the first test runs. A recording that cannot start or fails later is one warning line, and
the tests run on unrecorded: recording never changes a test's outcome.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from typing import Any, Dict, List, Optional

import pytest

from recorder.config import Config
from recorder.errors import RecorderError, warn
from recorder.pytest_plugin import MARK

_MARK_TEXT = "Trace directories written by pytest --record (recorder); see docs/pytest.md.\n"
#: Failed outcomes: the traces ``--record-failed`` keeps.
FAILED = ("failed", "error")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: What a node id holds that a name keeps without loss (beyond "::", written "--").
_PLAIN = re.compile(r"[A-Za-z0-9._/-]*\Z")
_MAX_NAME = 120


def trace_name(nodeid: str) -> str:
    """The directory name of a test's trace: the node id with ``::`` written ``--``, ``/``
    and every other character unsafe in a file name (or in a shell) as ``_``, plus ``-`` and
    10 hex digits of its SHA-1 when something else was replaced (parameters) or the name was
    cut to 120 characters. ``tests/test_a.py::TestX::test_y`` ->
    ``tests_test_a.py--TestX--test_y``; ``test_a.py::test_p[1-a/b]`` ->
    ``test_a.py--test_p_1-a_b-<hash>``."""
    parts = nodeid.split("::")
    name = "--".join(_UNSAFE.sub("_", part).strip("_") or "_" for part in parts)
    lossy = not all(_PLAIN.match(part) for part in parts) or len(name) > _MAX_NAME
    if lossy:
        digest = hashlib.sha1(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        name = name[:_MAX_NAME].rstrip("-_") + "-" + digest
    if name in (".", ".."):
        name = "_" + name
    return name


def outcome_of(reports: List[Any]) -> str:
    """passed, failed (the test), error (its set-up or tear-down), skipped, xfailed, xpassed."""
    for report in reports:
        if report.failed:
            return "failed" if report.when == "call" else "error"
    for report in reports:
        if report.skipped:
            return "xfailed" if hasattr(report, "wasxfail") else "skipped"
    for report in reports:
        if report.when == "call" and hasattr(report, "wasxfail"):
            return "xpassed"
    return "passed"


def recorded_elsewhere() -> bool:
    """Is this process already being recorded (``python -m recorder``, the auto-start)?"""
    module = sys.modules.get("recorder.session")
    return module is not None and module.active_session() is not None


class _Test:
    """One test being recorded."""

    __slots__ = ("item", "path", "writer", "session", "reports")

    def __init__(self, item: Any, path: str, writer: Any, session: Any) -> None:
        self.item = item
        self.path = path
        self.writer = writer
        self.session = session
        self.reports: List[Any] = []


class TestRecorder:
    """Registered as a pytest plugin once something is to be recorded."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, config: Any, out_dir: str) -> None:
        self.config = config
        self.out_dir = out_dir
        #: Record every test (``--record``, ``--record-failed``, the ini), not only marked ones.
        self.every = False
        self.failed_only = False
        #: Why nothing more is recorded (one warning said so), or None.
        self.off: Optional[str] = None
        self.ready = False
        self.worker = getattr(config, "workerinput", None) is not None
        #: The xdist controller: its workers run (and record) the tests.
        self.controller = not self.worker and getattr(config.option, "dist", "no") != "no" \
            and bool(getattr(config.option, "numprocesses", None) or getattr(
                config.option, "tx", None))
        self.current: Optional[_Test] = None
        self.names: Dict[str, str] = {}
        self.recorded = 0
        self.resolver: Any = None

    # -- set-up, before any test runs -------------------------------------------------------

    def setup(self, flag: bool) -> None:
        """Check everything a recording needs; raise :class:`pytest.UsageError` (one line
        naming the option and the problem) on bad input. ``flag``: --record or
        --record-failed was given (else the ini or a marker asks)."""
        config = self.config
        option = config.option
        self.every = flag or bool(config.getini("record") or config.getini("record_failed"))
        self.failed_only = bool(option.recorder_failed or config.getini("record_failed"))
        what = "--record" if flag else "the recorder marker or ini option"
        if recorded_elsewhere():
            why = ("this pytest is already being recorded (python -m recorder or "
                   "RECORDER_TRACE): its tests are in that trace; use one or the other")
            if flag:
                raise pytest.UsageError("--record: " + why)
            self._stop_recording(why)
            return
        from recorder.backends import select
        from recorder.filters import load_chain, scope_flag_selector

        try:
            for name, values in (("--record-include", option.recorder_include),
                                 ("--record-exclude", option.recorder_exclude)):
                for value in values:
                    scope_flag_selector(name, value)
            changes: Dict[str, Any] = {}
            if option.recorder_all:
                changes["record_all"] = True
            rc = Config.from_env().updated(**changes).with_options(
                include=option.recorder_include or None,
                exclude=option.recorder_exclude or None).validate()
            self.selection = select(rc.backend)
            self.chain = load_chain(rc, project_dir=str(config.rootpath))
        except RecorderError as exc:
            raise pytest.UsageError("%s: %s" % (what, exc))
        self.recorder_config = rc
        self._prepare_dir(what)
        if self.selection.name == "settrace" and sys.gettrace() is not None \
                and not self.controller:
            raise pytest.UsageError(
                "%s: another trace function is installed (%r: pytest-cov, a debugger?); the "
                "settrace backend does not run beside it: record without it%s" % (
                    what, sys.gettrace(), "" if sys.version_info < (3, 12) else
                    ", or with RECORDER_BACKEND=monitoring"))
        self.ready = True

    def _prepare_dir(self, what: str) -> None:
        """Create the directory, or take over one an earlier run wrote (its traces are
        removed, by the xdist controller or the single process, never by a worker)."""
        out = self.out_dir
        if os.path.lexists(out) and not os.path.isdir(out):
            raise pytest.UsageError("%s: %s exists and is not a directory" % (what, out))
        try:
            os.makedirs(out, exist_ok=True)
            entries = os.listdir(out)
        except OSError as exc:
            raise pytest.UsageError("%s: cannot create the trace directory %s: %s"
                                    % (what, out, exc.strerror or exc))
        if entries and MARK not in entries:
            raise pytest.UsageError(
                "%s: %s is not empty and holds no earlier pytest --record traces (%s); give "
                "a new or empty directory (--record=DIR)" % (what, out, ", ".join(
                    sorted(entries)[:3]) + (", ..." if len(entries) > 3 else "")))
        try:
            if not self.worker:
                for entry in entries:
                    path = os.path.join(out, entry)
                    if os.path.isdir(path) and not os.path.islink(path) and \
                            os.path.isfile(os.path.join(path, "trace_metadata.json")):
                        shutil.rmtree(path)
            with open(os.path.join(out, MARK), "w", encoding="utf-8") as fh:
                fh.write(_MARK_TEXT)
        except OSError as exc:
            raise pytest.UsageError("%s: cannot write the trace directory %s: %s"
                                    % (what, out, exc.strerror or exc))

    def _stop_recording(self, why: str) -> None:
        if self.off is None:
            self.off = why
            warn("tests are not recorded: %s" % why)

    # -- each test --------------------------------------------------------------------------

    def wants(self, item: Any) -> bool:
        if not self.ready or self.off is not None or self.controller:
            return False
        return self.every or item.get_closest_marker("recorder") is not None

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        """Set-up, call and tear-down (fixtures included) in one recording."""
        test = self._start(item) if self.wants(item) else None
        try:
            yield
        finally:
            if test is not None:
                self._finish(test)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
        outcome = yield
        test = self.current
        if test is not None and test.item is item:
            try:
                test.reports.append(outcome.get_result())
            except BaseException:
                pass  # the report's maker failed: pytest says so

    def _name(self, nodeid: str) -> str:
        name = trace_name(nodeid)
        owner = self.names.setdefault(name, nodeid)
        if owner != nodeid:  # two ids, one name (a_b.py and a/b.py): make it unique
            digest = hashlib.sha1(nodeid.encode("utf-8", "surrogatepass")).hexdigest()[:10]
            name = "%s-%s" % (name, digest)
            self.names[name] = nodeid
        return name

    def _start(self, item: Any) -> Optional[_Test]:
        from recorder.formats.codetracer import CodeTracerWriter
        from recorder.session import Session

        if recorded_elsewhere():  # a test before this one left a recording running
            return None
        rc = self.recorder_config
        path = os.path.join(self.out_dir, self._name(item.nodeid))
        writer = None
        try:
            writer = CodeTracerWriter(
                path, program=str(getattr(item, "path", None) or item.fspath),
                args=[item.nodeid], values=rc.values, reprs=rc.reprs,
                backend=self.selection.name,
                metadata={"process": {"pid": os.getpid(), "ppid": os.getppid(),
                                      "started_by": "pytest", "trace_root": None},
                          "parent": None})
            session = Session(writer, rc, filters=self.chain, selection=self.selection,
                              resolver=self.resolver)
            self.resolver = session.resolver  # shared by the next tests' sessions
            session.start()
        except (RecorderError, OSError) as exc:
            if writer is not None:
                try:
                    writer.close("<not started>")
                except Exception:
                    pass
                shutil.rmtree(path, ignore_errors=True)
            self._stop_recording("%s: %s" % (type(exc).__name__, exc))
            return None
        self.current = test = _Test(item, path, writer, session)
        return test

    def _finish(self, test: _Test) -> None:
        self.current = None
        outcome = outcome_of(test.reports)
        worker = (self.config.workerinput or {}).get("workerid") if self.worker else None
        test.writer.extra_metadata["pytest"] = {
            "nodeid": test.item.nodeid,
            "outcome": outcome,
            "duration": round(sum(getattr(r, "duration", 0.0) for r in test.reports), 6),
            "phases": {r.when: r.outcome for r in test.reports},
            "worker": worker,
        }
        try:
            test.session.stop(exit_status=outcome)
        except Exception as exc:
            self._stop_recording("closing the trace failed: %s: %s" % (type(exc).__name__, exc))
        if self.failed_only and outcome not in FAILED:
            shutil.rmtree(test.path, ignore_errors=True)
        else:
            self.recorded += 1

    # -- the end ----------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """One line: where the traces are, how many, their size (not from xdist workers)."""
        if not self.ready or self.worker:
            return
        from recorder.report import _DOT, _count, _display_dir, _size, trace_size

        try:
            traces = [e for e in os.listdir(self.out_dir)
                      if os.path.isfile(os.path.join(self.out_dir, e, "trace_metadata.json"))]
        except OSError:
            return
        kind = " of failed tests" if self.failed_only else ""
        terminalreporter.write_line("recorder: " + _DOT.join([
            _display_dir(self.out_dir), "%s trace%s%s" % (
                _count(len(traces)), "" if len(traces) == 1 else "s", kind),
            _size(trace_size(self.out_dir))]))
