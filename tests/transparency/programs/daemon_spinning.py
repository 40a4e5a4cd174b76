"""Daemon threads busy in Python code (a loop calling a function) while the program ends,
and one that finished its work before: exit status 0, the finished one's output only."""
import threading

running = threading.Event()


def spin():
    def step(n):
        return n + 1

    count = 0
    running.set()
    while True:
        count = step(count)


def finish(results):
    results.append(sum(range(100)))


results = []
worker = threading.Thread(target=finish, args=(results,), daemon=True)
worker.start()
worker.join()
for _ in range(2):
    running.clear()
    threading.Thread(target=spin, daemon=True).start()
    running.wait()
print("finished worker", results, "daemons", sum(t.daemon for t in threading.enumerate()))
