"""A program that installs its SIGTERM and SIGHUP handlers only where the default action is
in place (``if signal.getsignal(sig) == signal.SIG_DFL``), as servers and test runners do,
then receives SIGTERM: its handler runs, and it exits with status 3."""
import os
import signal
import sys

received = []


def on_signal(signum, frame):
    received.append(signal.Signals(signum).name)
    if signum == signal.SIGTERM:
        print("handled", received)
        sys.exit(3)


for sig in (signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(sig) == signal.SIG_DFL:
        signal.signal(sig, on_signal)
        print("installed over the default for", sig.name)
    else:
        print("left alone", sig.name, signal.getsignal(sig))
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGHUP)
os.kill(os.getpid(), signal.SIGTERM)
print("not reached")
