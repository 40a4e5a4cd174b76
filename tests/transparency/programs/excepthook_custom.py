"""The program's own ``sys.excepthook`` handles its uncaught exception (it prints its own
summary to stdout), and ``threading.excepthook`` one in a thread; exit status 1."""
import sys
import threading


def hook(kind, value, tb):
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    print("excepthook", kind.__name__, value, frames)


def thread_hook(args):
    print("thread hook", args.exc_type.__name__, args.exc_value, args.thread.name)


def fail():
    raise OSError("from the program")


def fail_in_thread():
    raise ValueError("from a thread")


sys.excepthook = hook
threading.excepthook = thread_hook
thread = threading.Thread(target=fail_in_thread, name="failing")
thread.start()
thread.join()
fail()
