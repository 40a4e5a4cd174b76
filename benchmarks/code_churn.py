"""Peak memory of a program that makes code as it runs, recorded and not.

    python benchmarks/code_churn.py [--pythons 3.8,3.12,3.13] [--count 100000]

The program compiles, runs and drops ``--count`` code objects (``eval(compile(...))``, the
way templates, ``namedtuple`` or a REPL make code). Recorded through the CLI with
``--values full`` (the default) and the real writer, a dead code object must leave nothing
behind: the recording's peak RSS stays near the bare run's, whatever the count.
Reported: the peak RSS (MB: ``VmHWM`` of ``/proc/self/status``, read by an ``atexit``
handler, so after the recording is closed; Linux only) of the bare and the recorded run,
and their ratio. Memory goals live here, never in tests.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile

from pythons import python_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PROGRAM = """
import atexit, sys

def peak():  # at exit: after python -m recorder has closed the trace
    with open("/proc/self/status") as fh:
        kib = [line.split()[1] for line in fh if line.startswith("VmHWM")][0]
    with open(sys.argv[2], "w") as out:
        out.write(kib)

atexit.register(peak)
count = int(sys.argv[1])
total = 0
for i in range(count):
    total += eval(compile("x + %d" % i, "<churn>", "eval"), {"x": i})
print(total)
"""


def peak_mb(argv: "list[str]", cwd: str) -> float:
    """Run ``argv`` (the program's arguments last); its peak resident size, in MB. (Not
    ``wait4``'s ``ru_maxrss``: Linux carries the forking parent's peak over ``exec``.)"""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    report = os.path.join(cwd, "peak")
    subprocess.run(argv + [report], cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    with open(report) as fh:
        return int(fh.read()) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.8,3.12,3.13")
    parser.add_argument("--count", type=int, default=100000)
    args = parser.parse_args()
    print("| python | bare MB | recorded MB | ratio |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "churn.py")
        with open(script, "w") as fh:
            fh.write(PROGRAM)
        for version in args.pythons.split(","):
            python = python_for(version)
            bare = peak_mb([python, script, str(args.count)], work)
            recorded = peak_mb([python, "-m", "recorder", "-o", os.path.join(work, "out"),
                                "--values", "full", script, str(args.count)], work)
            print("| %s | %.1f | %.1f | %.2f |" % (version, bare, recorded, recorded / bare))


if __name__ == "__main__":
    main()
