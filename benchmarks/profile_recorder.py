"""Where the recorder's time goes: a sampling profile of one recorded workload.

    python3 benchmarks/profile_recorder.py --py-spy /tmp/prof/bin/py-spy
            [--python 3.12] [--workload loops] [--values full] [--top 15]

cProfile cannot see the recorder: CPython suspends profiling while a trace or monitoring
callback runs, which is all of the recorder's work. This samples the whole process with
py-spy (``pip install py-spy`` into any throwaway venv; it is not a dependency) while
``python -m recorder`` records one of benchmarks/peers.py's workloads, and prints the
functions with the largest share of samples: *self* (the sampled frame itself) and
*inclusive* (anywhere on the stack), the recorder's own frames named by module.
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile

from peers import WORKLOADS, data_files
from pythons import python_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def frame_name(frame: str) -> str:
    """``fn (path/to/recorder/x.py:12)`` -> ``recorder/x.py:fn``; other files by basename."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    if path.startswith("recorder" + os.sep) or os.sep + "recorder" + os.sep in path:
        path = "recorder/" + ("/" + path).split(os.sep + "recorder" + os.sep, 1)[1]
    else:
        path = os.path.basename(path)
    return "%s:%s" % (path, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), required=False)
    parser.add_argument("--python", default="3.12",
                        help="a version (X.Y) or an interpreter's path")
    parser.add_argument("--workload", default="loops", choices=sorted(WORKLOADS))
    parser.add_argument("--values", default="full", choices=("none", "args", "full"))
    parser.add_argument("--rate", type=int, default=500, help="samples per second")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    if not args.py_spy:
        parser.exit(2, "profile_recorder.py: py-spy not found: pip install py-spy into a "
                       "venv and pass --py-spy PATH\n")
    python = args.python if os.sep in args.python else python_for(args.python)
    work = tempfile.mkdtemp(prefix="recorder-profile-")
    try:
        shutil.copy(os.path.join(HERE, "workloads.py"), work)
        data_files(work)
        with open(os.path.join(work, "wl.py"), "w") as fh:
            fh.write(WORKLOADS[args.workload][0])
        raw = os.path.join(work, "stacks.txt")
        env = dict(os.environ, PYTHONPATH=ROOT)
        subprocess.run([args.py_spy, "record", "--format", "raw", "--rate", str(args.rate),
                        "--output", raw, "--", python, "-m", "recorder", "--quiet",
                        "--values", args.values, "-o", os.path.join(work, "out"), "wl.py"],
                       cwd=work, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        own: collections.Counter = collections.Counter()
        lines: collections.Counter = collections.Counter()
        anywhere: collections.Counter = collections.Counter()
        total = 0
        with open(raw) as fh:
            for row in fh:
                stack, _, count = row.rstrip("\n").rpartition(" ")
                n = int(count)
                frames = [frame_name(f) for f in stack.split(";") if f]
                total += n
                if frames:
                    own[frames[-1]] += n
                    leaf = stack.split(";")[-1]
                    lines[frame_name(leaf) + ":" + leaf.rsplit(":", 1)[-1].rstrip(")")] += n
                for f in set(frames):
                    anywhere[f] += n
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%s, workload %s, --values %s: %d samples at %d/s" % (
        python, args.workload, args.values, total, args.rate))
    print()
    print("| self % | function | | inclusive % | function |")
    print("|---:|---|---|---:|---|")
    mine = [(f, n) for f, n in anywhere.most_common() if f.startswith("recorder/")]
    for (f1, n1), (f2, n2) in zip(own.most_common(args.top), mine[:args.top]):
        print("| %.1f | %s | | %.1f | %s |" % (100 * n1 / total, f1, 100 * n2 / total, f2))
    print()
    print("Hottest lines (self): " + ", ".join(
        "%s %.1f%%" % (where, 100 * n / total) for where, n in lines.most_common(8)))


if __name__ == "__main__":
    main()
