"""An exception in a thread printed by python's default ``threading.excepthook``
("Exception in thread ..." and the thread's traceback), the program going on; thread names,
``active_count()``, ``current_thread()`` and ``main_thread()`` as seen without recording."""
import threading


def fail():
    raise ValueError("in a thread")


print("before", threading.active_count(), [t.name for t in threading.enumerate()])
thread = threading.Thread(target=fail, name="worker")
thread.start()
thread.join()
print("after", threading.active_count(), threading.current_thread() is threading.main_thread())
print("excepthook", threading.excepthook.__module__, threading.excepthook.__name__)
