"""A thread started before install, blocked in recorded code, reached on
3.12+ (sys.monitoring / threading.settrace_all_threads); invisible before 3.12."""
import threading

SELF_INSTALL = True


def work():
    return "worked"


def early(started, go, out):
    started.set()
    go.wait()
    out.append(work())


def main():
    started, go, out = threading.Event(), threading.Event(), []
    t = threading.Thread(target=early, args=(started, go, out), name="early")
    t.start()
    started.wait()
    RECORDER.start()  # noqa: F821 (set by the runner)
    go.set()
    t.join()
    RECORDER.stop()  # noqa: F821
    return out
