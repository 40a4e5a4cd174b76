"""The standard streams are the interpreter's own objects: ``sys.stdout is sys.__stdout__``
(and stderr, stdin), before and after the program swaps them with
``contextlib.redirect_stdout`` and puts them back."""
import contextlib
import io
import sys

print("stdout", sys.stdout is sys.__stdout__, "stderr", sys.stderr is sys.__stderr__,
      "stdin", sys.stdin is sys.__stdin__)
buffer = io.StringIO()
with contextlib.redirect_stdout(buffer):
    print("captured by the program")
print("captured", repr(buffer.getvalue()))
saved = sys.stdout
sys.stdout = io.StringIO()
print("lost")
sys.stdout = saved
print("restored", sys.stdout is sys.__stdout__, saved is sys.__stdout__)
print("to stderr", file=sys.__stderr__)
