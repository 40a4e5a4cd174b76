"""A raw _thread thread started after install (no threading hook reaches it)."""
import _thread


def work(n):
    return sum(range(n))


def raw_worker(results, done):
    results.append(work(3))
    done.release()


def main():
    results = []
    done = _thread.allocate_lock()
    done.acquire()
    _thread.start_new_thread(raw_worker, (results, done))
    done.acquire()
    # until the raw thread has returned (it still runs after release): a thread still
    # running when recording stops is another scenario
    while _thread._count():
        pass
    return results
