"""``os._exit(4)`` with output still in ``sys.stdout``'s buffer (stdout is a pipe): python
loses that output, and the exit status is 4; what was flushed before is kept."""
import os
import sys

print("flushed before")
sys.stdout.flush()
print("still in the buffer: lost")
sys.stderr.write("stderr is unbuffered text: kept\n")
os._exit(4)
