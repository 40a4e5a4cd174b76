"""How each thread's stream ends, through real processes (the CLI and the auto-start, the
real writer, values full): a thread that ended says so (``<toplevel>`` returns None,
``"ended": true``); one still running when the trace is closed (a daemon thread at exit)
is closed by the recorder (``<toplevel>`` returns ``"<detached>"``, ``"ended": false``);
MainThread says ``"ended": true`` once the program has finished, ``false`` when the trace
was closed under it (docs/trace-format.md, "Threads")."""
from __future__ import annotations

from typing import Any, Dict

import pytest

from recorder.formats.reader import TraceDir
from test_autostart import assert_balanced, py  # noqa: F401
from test_signals import ENTRIES, run, the_trace

THREADS = """
    import sys, threading, time

    def done():
        return 1

    def spin(started):
        started.set()
        while True:
            time.sleep(0.01)

    finished = threading.Thread(target=done, name="finished")
    finished.start()
    finished.join()
    started = threading.Event()
    threading.Thread(target=spin, args=(started,), name="spinning", daemon=True).start()
    started.wait()
    print("main done")
    {ending}
"""


def endings(trace: TraceDir) -> Dict[str, Any]:
    """Thread name -> (its metadata's "ended", its <toplevel> return value)."""
    files = {"trace.json": trace.main}
    files.update({"threads/trace-%d.json" % serial: read
                  for serial, read in trace.threads.items()})
    found = {}
    for thread in trace.metadata["threads"]:  # type: ignore[index]
        returns = [e["Return"]["return_value"] for e in files[thread["trace"]].events
                   if "Return" in e]
        top = returns[-1]
        found[thread["name"]] = (thread["ended"], top.get("text", top["kind"]))
    return found


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("ending, main_ended", [("pass", True), ("sys.exit(4)", True),
                                                ("import os; os._exit(5)", False)])
def test_ended_threads_and_threads_still_running(py, tmp_path, entry, backend, ending,
                                                 main_ended):
    source = THREADS.format(ending=ending)
    plain = run(py, tmp_path, source, None)
    done = run(py, tmp_path, source, entry, backend)
    assert (done.returncode, done.stdout, done.stderr) == (
        plain.returncode, plain.stdout, plain.stderr)
    trace = the_trace(tmp_path, entry)
    assert_balanced(trace)
    found = endings(trace)
    assert found.pop("MainThread")[0] is main_ended
    assert found == {"finished": (True, "None"), "spinning": (False, "<detached>")}
