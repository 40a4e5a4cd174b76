"""Recorded twice into the same ``-o``: first with ``first`` (imports ``first_only``, starts a
thread), then without (neither). The second trace directory must not keep the first run's
thread files, ``imports.jsonl`` lines or ``files/`` copies (the runner checks the trace)."""
import sys
import threading

if sys.argv[1:] == ["first"]:
    import first_only

    thread = threading.Thread(target=first_only.work)
    thread.start()
    thread.join()
print("run", sys.argv[1:])
