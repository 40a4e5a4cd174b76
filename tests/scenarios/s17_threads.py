"""Threads started after install and joined (threading.Thread), and a daemon thread
still blocked in recorded code when recording stops (closed by DETACH)."""
import threading


def work(n):
    return sum(range(n))


def worker(results, n):
    results.append(work(n))
    print("worker", n)


def daemon(started, gate):
    started.set() or gate.wait()


def main():
    results = []
    for i in range(2):
        t = threading.Thread(target=worker, args=(results, i + 2), name="worker-%d" % i)
        t.start()
        t.join()
    global GATE
    GATE, started = threading.Event(), threading.Event()
    threading.Thread(target=daemon, args=(started, GATE), name="daemon", daemon=True).start()
    started.wait()
    return results
