"""Reading stdin (the runner pipes three lines): ``input()``, ``sys.stdin.readline()`` and
``sys.stdin.read()``; ``sys.stdin``'s type and encoding; EOF from ``input()``."""
import sys

print("first", repr(input()))
print("second", repr(sys.stdin.readline()))
print("rest", repr(sys.stdin.read()))
print("stdin", type(sys.stdin).__name__, sys.stdin.encoding, sys.stdin is sys.__stdin__)
try:
    input("prompt> ")
except EOFError:
    print("EOFError at the end")
