"""The program calls sys.settrace itself: installs its own tracer around a call (as a
debugger or doctest would), restores the previous one, then sys.settrace(None)."""
import sys


def traced_by_program():
    return "traced"


def later():
    return "later"


def main():
    seen = []

    def tracer(frame, event, arg):
        seen.append(event)
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    value = traced_by_program()
    sys.settrace(previous)
    after = later()
    sys.settrace(None)
    final = later()
    return value, after, final, "call" in seen
