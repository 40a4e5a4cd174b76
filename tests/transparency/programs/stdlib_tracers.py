"""Tools of the standard library that install their own hooks while the program runs:
``trace.Trace`` (``sys.settrace``) counting lines, and ``profile``/``cProfile`` (the
profile hook, or sys.monitoring on 3.12+) counting calls; their results (no timings) are
the same as unrecorded."""
import cProfile
import pstats
import profile
import trace


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def calls_by_function(stats):
    return sorted((func[2], primitive, total)
                  for func, (primitive, total, _, _, _) in stats.stats.items()
                  if func[0] == __file__)


tracer = trace.Trace(count=1, trace=0)
print("traced", tracer.runfunc(fib, 6))
counts = tracer.results().counts
print("lines", sorted((line, n) for (path, line), n in counts.items() if path == __file__))

for module in (cProfile, profile):
    profiler = module.Profile()
    print(module.__name__, profiler.runcall(fib, 7))
    print("calls", calls_by_function(pstats.Stats(profiler)))
