"""Writes through ``sys.stdout.buffer`` (bytes) mixed with ``print``, with and without
flushing in between: the bytes and their order on the pipe; ``os.write(1, ...)`` too."""
import os
import sys

print("text 1")
sys.stdout.flush()
sys.stdout.buffer.write(b"bytes 1\n")
print("text 2 (not flushed before the next bytes)")
sys.stdout.buffer.write(b"bytes 2 \xff\xfe raw\n")
sys.stdout.flush()
sys.stdout.buffer.flush()
os.write(1, b"os.write\n")
sys.stderr.buffer.write(b"stderr bytes\n")
sys.stderr.flush()
print("raw", sys.stdout.buffer.raw.name, type(sys.stdout.buffer).__name__)
sys.stdout.buffer.write("é\n".encode("utf-8"))
