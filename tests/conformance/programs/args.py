"""Reads its command-line arguments."""
import sys


def parse(argv):
    options = {}
    numbers = []
    for arg in argv:
        if arg.startswith("--"):
            key, _, value = arg[2:].partition("=")
            options[key] = value
        else:
            numbers.append(int(arg))
    return options, numbers


options, numbers = parse(sys.argv[1:])
print(sys.argv[0].endswith("args.py"), options, sum(numbers))
