"""KeyboardInterrupt in a traced loop: raised by a Python SIGINT handler run from
signal.raise_signal, and by the default handler after os.kill (delivered at the next check,
possibly inside a tracer callback)."""
import os
import signal


def handler(signum, frame):
    raise KeyboardInterrupt("handler")


def loop(send):
    total = 0
    for i in range(5):
        total += i
        if i == 2:
            send()
    return total


def main():
    old = signal.signal(signal.SIGINT, handler)
    try:
        loop(lambda: signal.raise_signal(signal.SIGINT))
    except KeyboardInterrupt as exc:
        first = repr(exc)
    finally:
        signal.signal(signal.SIGINT, old)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        loop(lambda: os.kill(os.getpid(), signal.SIGINT))
    except KeyboardInterrupt as exc:
        second = repr(exc)
    finally:
        signal.signal(signal.SIGINT, old)
    return first, second, after()


def after():
    return "still recording"
