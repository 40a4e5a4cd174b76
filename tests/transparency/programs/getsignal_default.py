"""What ``signal.getsignal`` reports at start: SIGTERM and SIGHUP are SIG_DFL, SIGINT is
``default_int_handler``, SIGPIPE is SIG_IGN; and after the program sets and restores one."""
import signal

names = ["SIGTERM", "SIGHUP", "SIGINT", "SIGUSR1", "SIGUSR2", "SIGPIPE", "SIGCHLD"]
for name in names:
    handler = signal.getsignal(getattr(signal, name))
    print(name, handler, handler is signal.SIG_DFL, handler == signal.SIG_DFL,
          handler is signal.default_int_handler)
previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("previous", previous, previous == signal.SIG_DFL)
print("now", signal.getsignal(signal.SIGTERM))
print("restored previous", signal.signal(signal.SIGTERM, previous))
print("after", signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
