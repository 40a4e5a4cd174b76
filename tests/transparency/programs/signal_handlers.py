"""Signal handlers of the program's own: SIGUSR1 by ``os.kill``, SIGUSR2 by
``signal.raise_signal``, SIGALRM ignored, a handler that raises into the code it interrupted,
and ``signal.signal`` returning the previous handler."""
import os
import signal

log = []


def on_usr(signum, frame):
    log.append((signal.Signals(signum).name, frame.f_code.co_name))


class Interrupted(Exception):
    pass


def on_raise(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def work():
    os.kill(os.getpid(), signal.SIGUSR1)
    signal.raise_signal(signal.SIGUSR2)
    return "work done"


print("previous", signal.signal(signal.SIGUSR1, on_usr))
print("previous", signal.signal(signal.SIGUSR2, on_usr))
print("previous", signal.signal(signal.SIGALRM, signal.SIG_IGN))
print(work(), log)
signal.raise_signal(signal.SIGALRM)
signal.signal(signal.SIGUSR1, on_raise)
try:
    work()
except Interrupted as exc:
    print("interrupted by", exc)
print("handlers", signal.getsignal(signal.SIGUSR1) is on_raise,
      signal.getsignal(signal.SIGUSR2) is on_usr, log)
