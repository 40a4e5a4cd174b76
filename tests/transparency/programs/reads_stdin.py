"""Reading stdin (the runner pipes four lines): ``input()``, ``sys.stdin.readline()``,
iteration and ``sys.stdin.read()``; ``sys.stdin``'s type, identity and encoding; EOF from
``input()``."""
import io
import sys

print("first", repr(input()))
print("second", repr(sys.stdin.readline()))
for line in sys.stdin:
    print("iterated", repr(line))
    break
print("rest", repr(sys.stdin.read()))
print("stdin", isinstance(sys.stdin, io.TextIOWrapper), sys.stdin.encoding,
      sys.stdin is sys.__stdin__, sys.stdin.name, sys.stdin.mode)
print("exact type", type(sys.stdin) is io.TextIOWrapper)
try:
    input("prompt> ")
except EOFError:
    print("EOFError at the end")
