"""Worker threads calling functions; the main thread waits for each one.

Each thread is started and joined on one line, so the main thread runs no Python line while
a worker runs: codetracer-python-recorder 0.3.0 deadlocks now and then when two threads run
traced code at the same time (see ANCHOR_DIFFERENCES in test_anchor.py).
"""
import threading

results = {}


def work(name, n):
    total = 0
    for i in range(n):
        total += square(i)
    results[name] = total


def square(x):
    return x * x


for name in ("a", "b"):
    worker = threading.Thread(target=work, args=(name, 5))
    worker.start(); worker.join()  # noqa: E702
print(sorted(results.items()))
