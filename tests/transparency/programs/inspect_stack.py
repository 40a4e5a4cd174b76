"""A script that walks the whole stack with ``inspect.stack()``: it prints its own frames
(function, line, code context), which must be identical recorded, and how many frames lie
below its first one: none under ``python``, 3 under ``python -m recorder`` (docs/cli.md,
"Programs that walk the stack"), so the runner compares that number with the documented
one. ``traceback.extract_stack`` and ``sys._getframe`` agree."""
import inspect
import os
import sys
import traceback

HERE = os.path.abspath(__file__)


def own_frames():
    stack = inspect.stack()
    own = [f for f in stack if os.path.abspath(f.filename) == HERE]
    below = len(stack) - stack.index(own[-1]) - 1
    extracted = [s for s in traceback.extract_stack() if os.path.abspath(s.filename) == HERE]
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return [(f.function, f.lineno, f.code_context) for f in own], below, \
        [(s.name, s.lineno) for s in extracted], depth - len(own)


def caller():
    return own_frames()


own, below, extracted, by_getframe = caller()
print("own frames", own)
print("extracted", extracted)
print("frames below the program:", below)
print("frames below by sys._getframe:", by_getframe)
