"""A program killed by SIGTERM with the default action (it sends it to itself after flushing
its output): the process dies by the signal (status -15 to the parent)."""
import os
import signal
import sys

print("about to be terminated")
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGTERM)
print("not reached")
