"""The pytest plugin (``pytest11`` entry point ``recorder``): ``pytest --record[=DIR]`` records
each test into its own trace directory ``DIR/<sanitised node id>/`` (docs/pytest.md).

pytest imports this module in every run of every project where the recorder is installed, so
it imports nothing of the recorder at import time: the options, the ini keys and the marker
are declared here, and recorder/pytest_record.py (the recording itself) is imported only when
a test is to be recorded. ``pytest -p no:recorder`` disables the plugin.
"""
from __future__ import annotations

import os
from typing import Any, Optional


#: Where traces go when ``--record`` is given without a directory (relative to the directory
#: pytest was started in).
DEFAULT_DIR = "trace-tests"
#: The file that marks a directory written by ``pytest --record`` (recorder/pytest_record.py).
MARK = ".recorder-tests"
#: The name the recording plugin object is registered under, once something is recorded.
_NAME = "recorder-tests"
_MARKER = ("recorder: record this test into its own trace directory even without --record "
           "(docs/pytest.md)")


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("recorder", "recording tests into trace directories (recorder)")
    group.addoption("--record", action="store", nargs="?", const="", default=None,
                    metavar="DIR", dest="recorder_record",
                    help="record every test into DIR/<test id>/ (default DIR: %s, or the "
                         "record_dir ini value); write --record=DIR" % DEFAULT_DIR)
    group.addoption("--record-failed", action="store_true", default=False,
                    dest="recorder_failed",
                    help="record every test but keep only the traces of tests that failed "
                         "or errored (implies --record)")
    group.addoption("--record-all", action="store_true", default=None,
                    dest="recorder_all",
                    help="record everything but the recorder (pytest, plugins, the standard "
                         "library too); default: the project's own code")
    group.addoption("--record-include", action="append", default=[], metavar="WHAT",
                    dest="recorder_include",
                    help="record WHAT too: third-party, stdlib, a package name or glob, a "
                         "path or a selector (repeatable; as python -m recorder --include)")
    group.addoption("--record-exclude", action="append", default=[], metavar="WHAT",
                    dest="recorder_exclude",
                    help="skip WHAT (repeatable; as python -m recorder --exclude)")
    parser.addini("record", type="bool", default=False,
                  help="record every test, as --record (recorder)")
    parser.addini("record_failed", type="bool", default=False,
                  help="keep only the traces of failed tests, as --record-failed (recorder)")
    parser.addini("record_dir", default=DEFAULT_DIR,
                  help="the directory --record writes into (recorder; default %s)"
                       % DEFAULT_DIR)


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", _MARKER)
    option = config.option
    wanted = option.recorder_record is not None or option.recorder_failed
    if not wanted and not (config.getini("record") or config.getini("record_failed")):
        return  # the marker alone: nothing is loaded until a marked test is collected
    _plugin(config).setup(flag=wanted)


def pytest_collection_modifyitems(session: Any, config: Any, items: Any) -> None:
    if config.pluginmanager.get_plugin(_NAME) is None and \
            any(item.get_closest_marker("recorder") is not None for item in items):
        _plugin(config).setup(flag=False)


def pytest_ignore_collect(collection_path: Any, config: Any) -> Optional[bool]:
    """Never collect a trace directory: its ``files/`` holds copies of the test files. One
    ``stat`` per directory pytest walks into."""
    if os.path.isfile(os.path.join(str(collection_path), MARK)):
        return True
    return None


def _plugin(config: Any) -> Any:
    """The recording plugin object of this run, registered once (recorder/pytest_record.py)."""
    found = config.pluginmanager.get_plugin(_NAME)
    if found is None:
        from recorder.pytest_record import TestRecorder

        found = TestRecorder(config, directory(config))
        config.pluginmanager.register(found, _NAME)
    return found


def directory(config: Any) -> str:
    """The absolute trace directory: ``--record=DIR``, else the ini ``record_dir``, else
    trace-tests, relative to the directory pytest was started in."""
    given: Optional[str] = config.option.recorder_record or None
    where = str(config.invocation_params.dir)
    if given is None:
        given = config.getini("record_dir") or DEFAULT_DIR
        if config.inipath is not None:  # an ini value is relative to its file
            where = os.path.dirname(str(config.inipath))
    return os.path.abspath(os.path.join(where, os.path.expanduser(given)))

