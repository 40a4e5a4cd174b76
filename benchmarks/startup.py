"""Interpreter start-up with recorder installed and RECORDER_TRACE unset, as a ratio to a venv
without it: what installing the auto-start hook costs every Python process on the machine.

    python benchmarks/startup.py [--runs 200] [--python PATH] [--from-checkout]

Two venvs of the same interpreter, made in a temporary directory, each with recorder's
dependencies (tomli, where installed: 3.8-3.10):
  without   nothing else
  with      recorder installed from a wheel built from this checkout (``pip wheel``), so its
            site-packages holds ``recorder/`` and ``recorder_autostart.pth`` exactly as
            ``pip install`` leaves them (``--from-checkout`` copies them instead, offline)
Each run is ``python -c pass`` as a fresh process; runs alternate between the venvs, and the
median wall time of each is reported, with the ratio and the difference, and the median CPU
time (steadier than wall time on a busy machine). Also shown: the
``.pth`` line alone, executed in-process (what the hook itself costs), a check that no
``recorder`` module is imported at start-up, and start-up with RECORDER_TRACE set (the
process then records itself). Timing goals live here, never in tests (docs/autostart.md).
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import zipfile
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PTH_NAME = "recorder_autostart.pth"


def base_python(python: str) -> str:
    """The interpreter outside any venv (a venv made from a venv would chain)."""
    out = subprocess.run([python, "-c", "import os, sys; print(sys.base_prefix); "
                          "print('%d.%d' % sys.version_info[:2]); "
                          "print(os.path.realpath(sys.executable))"],
                         capture_output=True, text=True, check=True).stdout.split("\n")
    base_prefix, version, real = out[0], out[1], out[2]
    candidate = os.path.join(base_prefix, "bin", "python" + version)
    return candidate if os.path.exists(candidate) else real


def make_venv(root: str, python: str) -> str:
    """A minimal venv (what ``python -m venv --without-pip`` makes, by hand); returns its
    site-packages."""
    base = base_python(python)
    version = subprocess.run([base, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    os.makedirs(os.path.join(root, "bin"))
    with open(os.path.join(root, "pyvenv.cfg"), "w") as fh:
        fh.write("home = %s\ninclude-system-site-packages = false\nversion = %s\n"
                 % (os.path.dirname(base), version))
    os.symlink(base, os.path.join(root, "bin", "python"))
    site = os.path.join(root, "lib", "python" + version.rsplit(".", 1)[0], "site-packages")
    os.makedirs(site)
    for name in ("tomli",):  # the dependencies (pyproject.toml), where installed
        origin = subprocess.run(
            [python, "-c", "import importlib.util as u; s = u.find_spec(%r); "
                           "print(s.origin if s else '')" % name],
            capture_output=True, text=True, check=True).stdout.strip()
        if not origin:
            continue
        if os.path.basename(origin) == "__init__.py":
            folder = os.path.dirname(origin)
            shutil.copytree(folder, os.path.join(site, os.path.basename(folder)),
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, site)
    return site


def install_recorder(site: str, python: str, from_checkout: bool, tmp: str) -> str:
    """Put recorder into ``site`` as pip does; returns how."""
    if not from_checkout:
        wheels = os.path.join(tmp, "wheels")
        proc = subprocess.run([python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheels,
                               ROOT], capture_output=True, text=True)
        found = glob.glob(os.path.join(wheels, "recorder-*.whl"))
        for leftover in ("build", "recorder.egg-info"):
            shutil.rmtree(os.path.join(ROOT, leftover), ignore_errors=True)
        if proc.returncode == 0 and found:
            with zipfile.ZipFile(found[0]) as wheel:
                wheel.extractall(site)  # a pure-Python wheel installs by unpacking
            return "the wheel " + os.path.basename(found[0])
        sys.stderr.write("pip wheel failed, copying the checkout instead:\n%s\n" % proc.stderr)
    shutil.copytree(os.path.join(ROOT, "recorder"), os.path.join(site, "recorder"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "recorder", PTH_NAME), site)
    return "a copy of the checkout"


def clean_env() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("RECORDER_") and k not in ("PYTHONPATH", "PYTHONSTARTUP")}


def run_once(python: str, env: Dict[str, str], cwd: str) -> Tuple[float, float]:
    """Wall time and CPU time (user + system, from wait4: steadier on a busy machine)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-c", "pass"], env=env, cwd=cwd)
    if hasattr(os, "wait4"):
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = status
        cpu = usage.ru_utime + usage.ru_stime
    else:  # pragma: no cover - not POSIX
        proc.wait()
        cpu = float("nan")
    wall = time.perf_counter() - t0
    assert proc.returncode == 0
    return wall, cpu


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per venv (default 200)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to measure")
    parser.add_argument("--from-checkout", action="store_true",
                        help="copy the package instead of building a wheel")
    options = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="recorder-startup-")
    try:
        without = os.path.join(tmp, "without")
        with_ = os.path.join(tmp, "with")
        make_venv(without, options.python)
        how = install_recorder(make_venv(with_, options.python), options.python,
                               options.from_checkout, tmp)
        py_without = os.path.join(without, "bin", "python")
        py_with = os.path.join(with_, "bin", "python")
        env = clean_env()
        version = subprocess.run([py_with, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, env=env).stdout.strip()

        # nothing of ours is imported at start-up with the variable unset
        imported = subprocess.run(
            [py_with, "-c", "import sys; print(sorted(m for m in sys.modules "
                            "if m.split('.')[0] == 'recorder'))"],
            capture_output=True, text=True, env=env, cwd=tmp).stdout.strip()
        hook = os.path.join(with_, "lib", os.listdir(os.path.join(with_, "lib"))[0],
                            "site-packages", PTH_NAME)
        assert os.path.isfile(hook), "the hook is not installed: %s" % hook

        for _ in range(5):  # warm the file cache
            run_once(py_without, env, tmp)
            run_once(py_with, env, tmp)
        times: Dict[str, List[float]] = {"without": [], "with": []}
        cpu: Dict[str, List[float]] = {"without": [], "with": []}
        for _ in range(options.runs):
            for name, python in (("without", py_without), ("with", py_with)):
                wall, used = run_once(python, env, tmp)
                times[name].append(wall)
                cpu[name].append(used)
        med_without = statistics.median(times["without"])
        med_with = statistics.median(times["with"])
        cpu_without = statistics.median(cpu["without"])
        cpu_with = statistics.median(cpu["with"])

        with open(hook) as fh:
            line = fh.read().strip()
        saved = os.environ.pop("RECORDER_TRACE", None)
        try:
            number = 5000  # as site runs it: exec(line) compiles the line, then runs it
            per_exec = min(timeit.repeat(lambda: exec(line, {}), number=number, repeat=5))
            per_exec /= number
        finally:
            if saved is not None:
                os.environ["RECORDER_TRACE"] = saved

        traces = os.path.join(tmp, "traces")
        recording = [run_once(py_with, dict(env, RECORDER_TRACE=traces), tmp)[0]
                     for _ in range(max(5, options.runs // 20))]

        print("start-up of `python -c pass`, Python %s, %d runs per venv (recorder: %s)"
              % (version, options.runs, how))
        print("  venv without recorder            median %7.2f ms  (fastest %.2f ms)"
              % (med_without * 1e3, min(times["without"]) * 1e3))
        print("  venv with recorder, unset        median %7.2f ms  (fastest %.2f ms)"
              % (med_with * 1e3, min(times["with"]) * 1e3))
        print("  ratio with/without               median %.3f (%+.2f ms), fastest %.3f"
              % (med_with / med_without, (med_with - med_without) * 1e3,
                 min(times["with"]) / min(times["without"])))
        print("  CPU time (user+sys) median       %.2f ms without, %.2f ms with: ratio %.3f"
              % (cpu_without * 1e3, cpu_with * 1e3, cpu_with / cpu_without))
        print("  the .pth line alone (unset)      %7.2f us per start (compile + run, as site)"
              % (per_exec * 1e6))
        print("  recorder modules imported (unset): %s" % imported)
        print("  with RECORDER_TRACE set          median %7.2f ms   (records itself)"
              % (statistics.median(recording) * 1e3))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
