"""multiprocessing with the ``spawn`` start method: the child re-imports this file as
``__mp_main__``, calls a function defined here with a ``__main__`` class instance, and
returns results through a queue; the parent prints them and the child's exit code."""
import multiprocessing
import os
import sys


class Task:
    def __init__(self, numbers):
        self.numbers = numbers


def work(task, queue):
    main = sys.modules["__main__"]
    queue.put((sum(task.numbers), __name__, main.__name__, os.path.basename(main.__file__)))
    print("child prints", __name__, flush=True)


if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=work, args=(Task([1, 2, 3]), queue))
    child.start()
    print("from child", queue.get(timeout=60))
    child.join()
    print("child exit code", child.exitcode, "start method", context.get_start_method())
