"""A Python child started with ``subprocess``: its output (through a pipe and inherited),
exit status, and what it sees of its environment and streams (no variable of the recorder
that the parent did not have)."""
import os
import subprocess
import sys

CHILD = ("import os, sys; print('child', sys.argv[1:], sorted(k for k in os.environ "
         "if k.startswith('RECORDER') or k.startswith('PYTHON')))")
ours = sorted(k for k in os.environ if k.startswith("RECORDER") or k.startswith("PYTHON"))
print("parent sees", ours)
sys.stdout.flush()
result = subprocess.run([sys.executable, "-c", CHILD, "piped"], stdout=subprocess.PIPE,
                        universal_newlines=True)
print("captured", result.stdout.strip(), result.returncode)
sys.stdout.flush()
status = subprocess.call([sys.executable, "-c", CHILD + "; sys.exit(5)", "inherited"])
print("inherited status", status)
