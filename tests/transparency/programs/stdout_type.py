"""The type and attributes of ``sys.stdout`` and ``sys.stderr``: ``isinstance(sys.stdout,
io.TextIOWrapper)``, ``type(...)``, encoding, errors, line buffering, ``isatty()``,
``fileno()``, ``write``'s return value, ``mode`` and ``name``."""
import io
import sys

for name in ("stdout", "stderr"):
    stream = getattr(sys, name)
    print(name, isinstance(stream, io.TextIOWrapper), type(stream).__name__,
          type(stream).__module__, isinstance(stream, io.TextIOBase))
    print(name, stream.encoding, stream.errors, stream.line_buffering, stream.isatty(),
          stream.fileno(), stream.mode, stream.name, stream.write_through)
    print(name, "write returns", stream.write(""), stream.writable(), stream.readable())
print("write returns", sys.stdout.write("héllo\n"))
