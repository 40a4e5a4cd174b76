"""A program that installs its own ``sys.settrace`` tracer after it started (a coverage-like
line counter): the tracer stays installed (``sys.gettrace() is tracer``), is called for the
program's functions, and sees their lines; ``threading.settrace`` for a new thread too."""
import sys
import threading

seen = []


def tracer(frame, event, arg):
    if frame.f_code.co_filename == __file__:
        seen.append((event, frame.f_code.co_name, frame.f_lineno - first_line))
    return tracer


def square(n):
    result = n * n
    return result


first_line = square.__code__.co_firstlineno
sys.settrace(tracer)
installed = sys.gettrace() is tracer
square(3)
square(4)
sys.settrace(None)
print("installed", installed, "still None after", sys.gettrace())
print("events", seen)

seen.clear()
threading.settrace(tracer)
thread = threading.Thread(target=square, args=(5,))
thread.start()
thread.join()
threading.settrace(None)
print("thread events", [event for event in seen if event[1] == "square"])
