"""``os.fork()``: the child prints and ends with ``os._exit(7)``, the parent waits and prints
the child's status; buffered output is flushed before the fork so it appears once."""
import os
import sys

print("before fork")
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    print("in the child")
    sys.stdout.flush()
    os._exit(7)
_, status = os.waitpid(pid, 0)
print("child status", os.WEXITSTATUS(status))
