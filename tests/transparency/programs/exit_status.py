"""``sys.exit`` with the code given as the first argument: a number (that status), a text
(printed to stderr, status 1), ``none`` (status 0); from inside a function and a ``finally``."""
import sys


def leave(code):
    try:
        sys.exit(code)
    finally:
        print("finally runs on the way out")


arg = sys.argv[1]
print("leaving with", arg)
leave(None if arg == "none" else int(arg) if arg.isdigit() else arg)
