"""``Session.main_module_end()``: how the program's ``__main__`` module frame ended, learnt
without a cost per event (docs/events.md), in a real process."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from test_autostart import CHECKOUT, clean_env

PROGRAM = """
    import atexit, sys
    import recorder

    def report():  # runs before the session's own atexit stop (atexit is last in, first out)
        print("at exit:", session.main_module_end(), flush=True)

    def work():
        return 1

    session = recorder.install(lambda event: None)
    atexit.register(report)
    print("running:", session.main_module_end())
    work()
    {ending}
"""


@pytest.mark.parametrize("ending, expected", [
    ("pass", "ModuleEnd(returned=True, exception=None)"),
    ("sys.exit(3)", "ModuleEnd(returned=False, exception=SystemExit(3))"),
    ("raise KeyError('k')", "ModuleEnd(returned=False, exception=KeyError('k'))"),
])
def test_how_the_main_module_ended(tmp_path: Any, backend: str, ending: str,
                                   expected: str) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(PROGRAM.format(ending=ending)))
    done = subprocess.run([sys.executable, "app.py"], cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=60,
                          env=clean_env(PYTHONPATH=CHECKOUT, RECORDER_BACKEND=backend))
    assert done.stdout == "running: None\nat exit: %s\n" % expected, done.stderr
