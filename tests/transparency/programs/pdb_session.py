"""pdb driven by a script of commands (``Pdb(stdin=..., stdout=...)``): it stops in a
function, steps, prints variables, sets a breakpoint, continues; the debugger's own
``sys.settrace`` tracer must see the same lines and print the same session."""
import io
import pdb
import sys


def compute(n):
    total = 0
    for i in range(n):
        total += i * i
    result = total + 1
    return result


commands = io.StringIO("next\nnext\np total, n\nbreak 14\ncontinue\np total\ncontinue\n")
debugger = pdb.Pdb(stdin=commands, stdout=sys.stdout, nosigint=True, readrc=False)
debugger.use_rawinput = False
print("result", debugger.runcall(compute, 4))
print("trace after the session", sys.gettrace() is None or type(sys.gettrace()).__name__)
