"""``-m pkg.stack``: a module that walks the whole stack (``inspect.stack()``).

It prints its own frames (identical recorded) and how many frames lie below its first one:
2 under ``python -m`` (runpy's), 5 under ``python -m recorder -m`` (docs/cli.md,
"Programs that walk the stack").
"""
import inspect
import os


def below_and_own():
    stack = inspect.stack()
    own = [f for f in stack if os.path.abspath(f.filename) == os.path.abspath(__file__)]
    below = len(stack) - stack.index(own[-1]) - 1
    return [(f.function, f.lineno) for f in own], below


def outer():
    return below_and_own()


own, below = outer()
print("own frames", own)
print("frames below the program:", below)
