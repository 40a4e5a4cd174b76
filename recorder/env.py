"""Behaviour flags for the running interpreter: the only module that compares versions.

Every other module asks a flag named for a behaviour ("does sys.monitoring exist?",
"does settrace report a start with f_lasti == -1?") instead of a version number, so that
when CPython changes a behaviour there is exactly one place to edit. Each flag says why.
"""
from __future__ import annotations

import sys

PYVERSION = sys.version_info[:2]

#: PEP 669 sys.monitoring exists (3.12+).
HAS_MONITORING: bool = hasattr(sys, "monitoring")

#: ``code.co_qualname`` exists (3.11+); before that we rebuild it (recorder/qualname.py).
HAS_CO_QUALNAME: bool = PYVERSION >= (3, 11)

#: ``threading.settrace_all_threads`` exists (3.12+): new calls in already running threads
#: can be reached from the installing thread.
HAS_SETTRACE_ALL_THREADS: bool = PYVERSION >= (3, 12)

#: 3.8-3.10: a generator's first 'call' has ``f_lasti == -1``; 3.11+ uses a RESUME opcode
#: whose oparg says start (0) or resume (1, 2, 3; 3.13 adds bit 2 for except depth).
START_BY_LASTI: bool = PYVERSION < (3, 11)

#: 3.8-3.10: a ``yield from``/``await`` suspension leaves f_lasti on the instruction *before*
#: YIELD_FROM (there is no YIELD_VALUE at f_lasti).
HAS_YIELD_FROM_OPCODE: bool = PYVERSION < (3, 11)

#: 3.13: after a yield, f_lasti points at the following RESUME, not at YIELD_VALUE
#: (gh-113728), so a suspension is recognised by RESUME with a non-zero oparg.
YIELD_LEAVES_LASTI_AT_RESUME: bool = PYVERSION >= (3, 13)

#: 3.8: a RecursionError leaves the thread "overflowed" (no further recursion checks until
#: the depth falls well below the limit), so a RecursionError that is caught and swallowed
#: near the limit lets the program recurse on to a fatal "Cannot recover from stack
#: overflow" (gh-86666 / bpo-42500, fixed in 3.9). The normaliser must then let a
#: RecursionError met in the sink reach the program instead of swallowing it.
RECURSION_OVERFLOW_STICKY: bool = PYVERSION < (3, 9)

#: 3.12+ inlines list/set/dict comprehensions (PEP 709): no frame, no CALL.
INLINED_COMPREHENSIONS: bool = PYVERSION >= (3, 12)

#: 3.12.x: reading ``frame.f_locals`` from a *settrace* callback can corrupt variables of an
#: inlined comprehension (cpython gh-124118). Decided per code object in
#: recorder/codes.py (``CodeInfo.locals_readable``), which the trace writer obeys.
SETTRACE_F_LOCALS_UNSAFE: bool = PYVERSION == (3, 12)

#: 3.8-3.10: the settrace trampoline copies the fast locals into the frame's ``f_locals``
#: dict before *every* trace callback and writes that dict back after it (bpo-30744),
#: whether the callback read it or not. For a cell or free variable the write-back goes into
#: the cell, which other threads share, so a value another thread stored while the callback
#: ran is overwritten with the stale copy (a lost update).
SETTRACE_SYNCS_LOCALS: bool = PYVERSION < (3, 11)

#: 3.8-3.9: the eval loop may switch threads after almost any instruction (an attribute
#: read included), so a switch can still fall between the settrace backend's refresh of the
#: ``f_locals`` snapshot (recorder.codes.SYNC_ALL) and CPython's write-back: the refresh
#: narrows the window to a few instructions but cannot close it. Measured with 4 threads
#: adding to a closure variable under a lock (switch interval 10 us, 20 runs): 3.8 and
#: 3.9 still lost updates in 3 to 17 runs, 3.10 in none. Frames with cell variables are
#: therefore not line-traced there while several threads run: far fewer callbacks, and
#: none lost updates in the same measurement.
SETTRACE_REFRESH_RACES_WRITE_BACK: bool = PYVERSION < (3, 10)

#: 3.11-3.12: the settrace trampoline writes the ``f_locals`` snapshot back after a callback
#: that read ``frame.f_locals`` (``PyFrame_LocalsToFast`` in call_trampoline), cells
#: included: the same lost update as above, for the callbacks that read the locals.
#: sys.monitoring callbacks have no write-back; 3.13 (PEP 667) has no snapshot.
SETTRACE_WRITES_BACK_READ_LOCALS: bool = (3, 11) <= PYVERSION < (3, 13)

#: 3.13: while any sys.monitoring tool has events set, settrace's 'opcode' events are not
#: delivered, so pdb's ``breakpoint()`` (which stops at the next instruction through them)
#: stops at the next line instead. Not the recorder's doing: any tool causes it.
MONITORING_HIDES_SETTRACE_OPCODES: bool = PYVERSION >= (3, 13)

#: 3.9+: the file named on the command line is made absolute (``config->run_filename``): a
#: script run as ``python app.py`` gets an absolute ``__file__``/``co_filename``, and
#: ``python dir`` / ``python app.pyz`` an absolute ``sys.path[0]``; 3.8 keeps the path as given.
SCRIPT_PATH_ABSOLUTE: bool = PYVERSION >= (3, 9)

#: The interpreter puts no script directory or working directory first on ``sys.path``:
#: ``-P``/PYTHONSAFEPATH (3.11+, ``sys.flags.safe_path``, also implied by ``-I``), or ``-I``
#: on 3.8-3.10, which had no ``safe_path``.
NO_PATH0: bool = bool(getattr(sys.flags, "safe_path", False)) or (
    PYVERSION < (3, 11) and bool(sys.flags.isolated))

#: 3.8-3.9: ``python -c CODE`` compiles the code's UTF-8 bytes, so a coding cookie in it
#: applies; 3.10+ compiles it as text (PyCF_IGNORE_COOKIE), like ``compile(str)``.
COMMAND_HONOURS_CODING_COOKIE: bool = PYVERSION < (3, 10)

#: 3.13+: ``python -c CODE`` puts CODE in ``linecache`` under ``<string>`` before running it
#: (pythonrun.c ``run_mod`` calls ``linecache._register_code``), so tracebacks show its lines.
COMMAND_SOURCE_IN_LINECACHE: bool = PYVERSION >= (3, 13)

#: 3.12+: an uncaught exception is also kept as ``sys.last_exc`` (besides ``sys.last_type``,
#: ``sys.last_value``, ``sys.last_traceback``), for atexit handlers and post-mortems.
HAS_SYS_LAST_EXC: bool = PYVERSION >= (3, 12)

#: sys.monitoring tool ids we may take, in order of preference. 0 debugger, 1 coverage,
#: 2 profiler (cProfile on 3.12+), 5 optimizer are conventionally owned by others.
MONITORING_TOOL_IDS = (4, 3)

#: 3.11+: ``tomllib`` is in the standard library; below, filter files need ``tomli``.
HAS_TOMLLIB: bool = PYVERSION >= (3, 11)

#: 3.13+ (PEP 667): ``frame.f_locals`` is a write-through proxy; before, reading it fills a
#: dict kept on the frame that holds a reference to every local until the frame ends (what
#: any tracer reading locals does to reference counts there).
F_LOCALS_IS_PROXY: bool = PYVERSION >= (3, 13)

#: 3.11+: a bare ``raise`` re-raises the handled exception with its ``__traceback__`` as it is
#: at that moment; 3.8-3.10 re-raise the traceback the handler started with. So only from 3.11
#: can a function standing in for another (the stream hooks of recorder/capture.py) keep its
#: own frame out of the traceback of an exception it passes on.
RERAISE_USES_TRACEBACK_ATTRIBUTE: bool = PYVERSION >= (3, 11)

#: 3.9-3.11: a call of a C function through vectorcall (``next()``, a builtin) takes one
#: level of the recursion limit, as a Python frame does; 3.8 did not count it, and 3.12+
#: counts C recursion apart from the Python limit.
C_CALLS_TAKE_RECURSION_DEPTH: bool = (3, 9) <= PYVERSION < (3, 12)
