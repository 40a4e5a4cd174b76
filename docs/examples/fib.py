"""A small program to record: python -m recorder docs/examples/fib.py 10"""
import sys


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 8
    values = [fib(i) for i in range(n)]
    print("fib:", values)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
