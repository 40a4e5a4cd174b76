"""A daemon thread still running when the program ends (blocked on an event that is never
set): the main thread waits until the daemon has started, prints, and exits with status 0;
the daemon's last words are never printed."""
import threading

started = threading.Event()
never = threading.Event()


def serve():
    started.set()
    never.wait()
    print("never printed")


threading.Thread(target=serve, name="server", daemon=True).start()
started.wait()
print("threads", sorted(t.name for t in threading.enumerate()))
print("main thread done")
