"""Four threads each add 1 to a ``nonlocal`` counter 5000 times under a lock: the total is
20000, no update lost."""
import threading


def run_threads(n_threads=4, n_adds=5000):
    count = 0
    lock = threading.Lock()

    def add():
        nonlocal count
        for _ in range(n_adds):
            with lock:
                count += 1

    threads = [threading.Thread(target=add) for _ in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count


print("nonlocal total", run_threads())
