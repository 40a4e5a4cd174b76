"""The cost of LINE events in long code objects on 3.12/3.13, and a way around it.

    python3 benchmarks/line_table_cost.py [--pythons 3.11,3.12,3.13] [--sizes 1500,3000,6000]

CPython 3.12 and 3.13 keep, per instruction of an instrumented code object, the line as one
signed byte: ``line - co_firstlineno - (offset >> 4)``. Where that does not fit (about 127
lines past the start of a code object whose lines outrun its instructions: a module body
that is one big dict literal, a long function with long docstrings or comments), the line
is marked "computed" and every LINE event there calls ``PyCode_Addr2Line``, which decodes
the location table from the first instruction: each event costs O(its offset), a module
body of N such lines O(N²). 3.12 looks up both the new line and the previous instruction's;
3.13 skips the lookup for sys.settrace (it sets ``f_lineno`` lazily) but not for
sys.monitoring callbacks. Returning ``DISABLE`` does not help: the line is computed before
the callback runs, and a module body runs each line once.

This runs a module that is one N-entry dict literal (``--sizes``) and a long function
executed once (and ``--module 'pip --version'``, a real program whose vendored chardet
language models are such modules), under:
  bare          no tracing
  settrace      a no-op sys.settrace callback
  line          LINE (+PY_START) events, as local events on every code object started
  line-disable  the same, the LINE callback returning DISABLE
  substitute    LINE for ordinary code objects; for a code object whose line table is slow
                (a cost estimate from ``co_lines()``, once per code object), INSTRUCTION
                events instead, mapped to lines by our own offset table; every instruction
                that cannot start a line returns DISABLE at once
and checks that ``substitute`` reports the same (code, line) sequence as ``line``.
Reported: seconds for running the module (compile excluded), per mode, and the number of
LINE events (PYTHONHASHSEED=0, so that both modes see the same program). Every code object
gets its events, the standard library's too: this probes the interpreter, not a filter.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from pythons import python_for

PROBE = r'''
import dis, sys, time
mode, path = sys.argv[1], sys.argv[2]
seen = []
if mode == "settrace":
    def tr(frame, event, arg):
        return tr
    sys.settrace(tr)
elif mode != "bare":
    m = sys.monitoring
    E = m.events
    TOOL = 4
    m.use_tool_id(TOOL, "probe")
    SHIFT, LOW = 4, (-127 if sys.version_info < (3, 13) else -126)

    def slow_cost(code):
        """Code units decoded by PyCode_Addr2Line over all of this code object's line
        starts whose one-byte delta does not fit (each such LINE event rescans up to it)."""
        cost, previous = 0, None
        for start, _end, line in code.co_lines():
            if line is None or line == previous:
                continue
            previous = line
            unit = start // 2
            delta = line - code.co_firstlineno - (unit >> SHIFT)
            if not LOW < delta <= 127:
                cost += unit
        return cost

    # keyed by id(code): hashing a code object hashes its constants, O(its size) per lookup
    lines_of = {}   # id(code) -> (offset -> line, set of offsets that may start a line)
    last = {}       # id(code) -> last line reported (one frame per code here: a probe)

    def table(code):
        where, starts, previous = {}, set(), None
        for start, end, line in code.co_lines():
            for off in range(start, end, 2):
                where[off] = line
            if line is not None and line != previous:
                starts.add(start)
            previous = line if line is not None else previous
        starts.update(dis.findlabels(code.co_code))  # jump targets can start a line
        for entry in dis.Bytecode(code).exception_entries:
            starts.add(entry.target)
        return where, starts

    def py_start(code, offset):
        key = id(code)
        if key in lines_of:
            last[key] = None  # a new frame of it: its first line is reported again
        elif (mode == "substitute" and code.co_name == "<module>"
                and slow_cost(code) > 100_000):
            # module bodies only: they run once, so "the last line" needs no per-frame
            # state; the table holds the code, so its id is never reused
            lines_of[key] = table(code) + (code,)
            m.set_local_events(TOOL, code, E.INSTRUCTION)
        else:
            m.set_local_events(TOOL, code, E.LINE)

    def line(code, number):
        seen.append((code.co_name, number))
        if mode == "line-disable":
            return m.DISABLE

    def instruction(code, offset):
        where, starts, _ = lines_of[id(code)]
        if offset not in starts:
            return m.DISABLE
        number = where[offset]
        if number is not None and number != last.get(id(code)):
            last[id(code)] = number
            seen.append((code.co_name, number))

    m.register_callback(TOOL, E.PY_START, py_start)
    m.register_callback(TOOL, E.LINE, line)
    m.register_callback(TOOL, E.INSTRUCTION, instruction)
    m.set_events(TOOL, E.PY_START)
if path == "-m":  # a real program: python -m MODULE ARGS...
    import runpy
    sys.argv = sys.argv[3:]
    t0 = time.perf_counter()
    try:
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
else:
    source = open(path).read()
    code = compile(source, path, "exec")
    t0 = time.perf_counter()
    exec(code, {"__name__": "probe"})
t1 = time.perf_counter()
sys.settrace(None)
import zlib
print("%.4f %d %d" % (t1 - t0, len(seen), zlib.crc32(repr(seen).encode())))
'''

MODES = ("bare", "settrace", "line", "line-disable", "substitute")


def module(n: int) -> str:
    """A data module: one n-entry dict literal, then a long function called once."""
    body = "".join("    %d: %d,\n" % (i, i * 7 % 256) for i in range(n))
    func = "def long_function():\n    total = 0\n" + "".join(
        "    # a comment line\n    total += %d\n" % i for i in range(n // 4)) + \
        "    return total\n\nlong_function()\n"
    return "DATA = {\n" + body + "}\n\n" + func


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pythons", default="3.11,3.12,3.13")
    parser.add_argument("--sizes", default="1500,3000,6000")
    parser.add_argument("--module", metavar="'MODULE ARGS'",
                        help="also run python -m MODULE ARGS in every mode, e.g. "
                             "'pip --version' (with --python-of 3.12=/tmp/venv/bin/python "
                             "for an interpreter that has it)")
    parser.add_argument("--python-of", action="append", default=[], metavar="X.Y=PYTHON")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="recorder-line-table-")
    probe = os.path.join(work, "probe.py")
    with open(probe, "w") as fh:
        fh.write(PROBE)
    print("| python | entries | " + " | ".join(MODES) + " | same lines |")
    print("|---" * (len(MODES) + 3) + "|")
    given = dict(item.split("=", 1) for item in args.python_of)
    env = dict(os.environ, PYTHONHASHSEED="0")  # the same line sequence in every mode
    for version in args.pythons.split(","):
        python = given.get(version) or python_for(version)
        has_monitoring = subprocess.run([python, "-c", "import sys; sys.monitoring"],
                                        capture_output=True).returncode == 0
        cases = [(n, [os.path.join(work, "data%s.py" % n)]) for n in args.sizes.split(",")]
        if args.module:
            cases.append(("-m " + args.module, ["-m"] + args.module.split()))
        for n, target in cases:
            if target[0] != "-m":
                with open(target[0], "w") as fh:
                    fh.write(module(int(n)))
            cells, sums = [], {}
            for mode in MODES:
                if mode not in ("bare", "settrace") and not has_monitoring:
                    cells.append("—")
                    continue
                out = subprocess.run([python, probe, mode] + target, capture_output=True,
                                     text=True, check=True, env=env).stdout.split()[-3:]
                cells.append("%.3fs" % float(out[0]))
                sums[mode] = (out[1], out[2])
            same = "—" if "line" not in sums else \
                ("yes (%s lines)" % sums["line"][0]) if sums["line"] == sums["substitute"] \
                else "NO: %s vs %s" % (sums["line"], sums["substitute"])
            print("| %s | %s | %s | %s |" % (version, n, " | ".join(cells), same))


if __name__ == "__main__":
    main()
