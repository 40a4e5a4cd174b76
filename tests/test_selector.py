"""Backend selection: auto picks by interpreter, requests are validated, ids never stolen."""
from __future__ import annotations

import sys

import pytest

import recorder
from recorder import env
from recorder.backends import select
from recorder.errors import BackendError, ConfigError
from conftest import record

needs_monitoring = pytest.mark.skipif(not env.HAS_MONITORING, reason="sys.monitoring is 3.12+")
without_monitoring = pytest.mark.skipif(env.HAS_MONITORING, reason="only below 3.12")


def test_auto_picks_the_interpreters_default(monkeypatch):
    monkeypatch.delenv("RECORDER_BACKEND", raising=False)
    choice = select("auto")
    assert choice.name == ("monitoring" if env.HAS_MONITORING else "settrace")
    assert choice.reason  # the selector always says why


def test_environment_variable_forces_a_backend(monkeypatch):
    monkeypatch.setenv("RECORDER_BACKEND", "settrace")
    with recorder.recording(lambda e: None) as session:
        assert session.backend_name == "settrace"
        assert session.backend_reason == "settrace requested"
    # An explicit argument wins over the variable.
    if env.HAS_MONITORING:
        with recorder.recording(lambda e: None, backend="monitoring") as session:
            assert session.backend_name == "monitoring"


def test_unknown_backend_is_one_clear_error(monkeypatch):
    with pytest.raises(ConfigError, match=r"backend='fast' is not one of auto, monitoring, settrace"):
        select("fast")
    monkeypatch.setenv("RECORDER_BACKEND", "bogus")
    with pytest.raises(ConfigError, match=r"RECORDER_BACKEND='bogus' is not one of"):
        recorder.install(lambda e: None)


@without_monitoring
def test_monitoring_below_312_is_refused():
    with pytest.raises(BackendError, match=r"needs sys.monitoring \(Python 3.12\+\)"):
        select("monitoring")


@needs_monitoring
def test_taken_tool_ids_fall_back_to_settrace_with_one_warning(capfd, monkeypatch):
    monkeypatch.delenv("RECORDER_BACKEND", raising=False)
    mon = sys.monitoring
    taken = [t for t in env.MONITORING_TOOL_IDS if mon.get_tool(t) is None]
    for tool in taken:
        mon.use_tool_id(tool, "someone else")
    try:
        choice = select("auto")
        assert choice.name == "settrace"
        warning = [l for l in capfd.readouterr().err.splitlines() if l.startswith("recorder:")]
        assert len(warning) == 1 and "in use" in warning[0]
        with pytest.raises(BackendError, match="all in use"):
            select("monitoring")
        # Recording still works, and the other tool keeps its ids.
        events = record(lambda: sum([1, 2]), backend="auto")
        assert events
        assert [mon.get_tool(t) for t in taken] == ["someone else"] * len(taken)
    finally:
        for tool in taken:
            mon.free_tool_id(tool)


@needs_monitoring
def test_monitoring_coexists_with_cprofile():
    import cProfile

    profile = cProfile.Profile()
    profile.enable()  # on 3.12+ cProfile holds sys.monitoring tool id 2
    try:
        events = record(lambda: sum([1, 2]), backend="monitoring")
    finally:
        profile.disable()
    assert events and sys.monitoring.get_tool(2) is None


@needs_monitoring
def test_monitoring_releases_its_tool_id():
    with recorder.recording(lambda e: None, backend="monitoring") as session:
        tool = session.backend.tool_id
        assert sys.monitoring.get_tool(tool) == "recorder"
    assert sys.monitoring.get_tool(tool) is None


#: A sitecustomize that takes both of our monitoring tool ids before the recorder starts
#: (site runs it before the auto-start begins, and before the CLI's code).
HOLD_TOOL_IDS = """
import sys
for tool in (4, 3):
    sys.monitoring.use_tool_id(tool, "someone else")
"""


@needs_monitoring
@pytest.mark.parametrize("entry", ["cli", "autostart"])
def test_the_fallback_warning_is_printed_once(tmp_path, entry):
    """The CLI and the auto-start choose the backend once (the writer names it, the session
    records with it): the fallback to settrace is one warning line, and the run is the
    plain run otherwise."""
    import subprocess
    import textwrap

    from test_autostart import clean_env, make_venv, read_trace_dir

    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text(textwrap.dedent(HOLD_TOOL_IDS))
    (tmp_path / "app.py").write_text("print('hi')\n")
    python = make_venv(str(tmp_path / "venv"))
    env = clean_env(PYTHONPATH=str(custom))
    env.pop("RECORDER_BACKEND", None)
    plain = subprocess.run([python, "app.py"], cwd=str(tmp_path), capture_output=True,
                           text=True, env=env, timeout=60)
    if entry == "cli":
        command = [python, "-m", "recorder", "-o", "traces/cli", "app.py"]
    else:
        command = [python, "app.py"]
        env["RECORDER_TRACE"] = str(tmp_path / "traces")
    done = subprocess.run(command, cwd=str(tmp_path), capture_output=True, text=True,
                          env=env, timeout=60)
    assert (done.returncode, done.stdout) == (plain.returncode, plain.stdout) == (0, "hi\n")
    assert plain.stderr == ""
    assert done.stderr == ("recorder: warning: sys.monitoring tool ids 4, 3 are all in use by "
                           "other tools; recording with settrace instead\n")
    (trace_dir,) = (tmp_path / "traces").iterdir()
    assert read_trace_dir(str(trace_dir)).metadata["backend"] == "settrace"
