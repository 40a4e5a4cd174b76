"""``sys.stdout.reconfigure(...)`` (encoding, errors, line buffering) and unencodable text:
the program changes its own stream and sees the change."""
import sys

print("before", sys.stdout.encoding, sys.stdout.errors)
sys.stdout.reconfigure(encoding="ascii", errors="backslashreplace")
print("after", sys.stdout.encoding, sys.stdout.errors, "caf\u00e9 \u2603")
try:
    sys.stdout.reconfigure(errors="strict")
    print("strict \u2603")
except UnicodeEncodeError as exc:
    sys.stdout.reconfigure(errors="replace")
    print("caught", type(exc).__name__, exc.reason, "caf\u00e9")
sys.stdout.reconfigure(line_buffering=True)
print("line buffered", sys.stdout.line_buffering)
