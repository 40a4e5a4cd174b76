"""Another tool holds sys.monitoring ids 4 and 3: backend='auto' falls back to
settrace with one warning, and records."""
import sys

SELF_INSTALL = True


def work():
    return "worked"


def main():
    mon = getattr(sys, "monitoring", None)
    if mon is not None:
        mon.use_tool_id(4, "other-4")
        mon.use_tool_id(3, "other-3")
    try:
        session = RECORDER.start(backend="auto")  # noqa: F821 (set by the runner)
        if session is not None and session.backend_name != "settrace":
            raise AssertionError("expected settrace, got %s" % session.backend_name)
        result = work()
        RECORDER.stop()  # noqa: F821
    finally:
        if mon is not None:
            mon.free_tool_id(4)
            mon.free_tool_id(3)
    return result
