"""Other tools present while recording: cProfile enabled (on 3.12+ it holds
sys.monitoring tool id 2) and a coverage-like tool on id 1; both keep their events."""
import cProfile
import pstats
import sys


def work(n):
    return sum(range(n))


def profiled():
    return work(10) + work(20)


def main():
    seen = []
    mon = getattr(sys, "monitoring", None)
    if mon is not None:
        mon.use_tool_id(1, "coverage-like")
        mon.register_callback(1, mon.events.PY_START,
                              lambda code, offset: seen.append(code.co_name))
        mon.set_events(1, mon.events.PY_START)
    prof = cProfile.Profile()
    try:
        prof.enable()
        total = profiled()
        prof.disable()
    finally:
        if mon is not None:
            mon.set_events(1, 0)
            mon.register_callback(1, mon.events.PY_START, None)
            mon.free_tool_id(1)
    calls = {f[2]: s[1] for f, s in pstats.Stats(prof).stats.items()}  # type: ignore
    coverage_ok = mon is None or seen.count("work") == 2
    return total, calls.get("work"), coverage_ok
