"""Run the scenario programs (tests/scenarios/) through scenario_runner.py, in parallel, once
per pytest process: test_differential and test_golden share the results."""
from __future__ import annotations

import concurrent.futures
import glob
import os
import subprocess
import sys
import threading
from typing import Dict, Iterable, List, Tuple

import streams

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO_DIR = os.path.join(HERE, "scenarios")
RUNNER = os.path.join(HERE, "scenario_runner.py")
ROOT = os.path.dirname(HERE)
#: One subprocess must never hang the suite (a deadlocked scenario fails, with its output).
TIMEOUT = 60


def scenario_names() -> List[str]:
    return sorted(os.path.splitext(os.path.basename(p))[0]
                  for p in glob.glob(os.path.join(SCENARIO_DIR, "s[0-9]*.py")))


def scenario_path(name: str) -> str:
    return os.path.join(SCENARIO_DIR, name + ".py")


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env.pop("RECORDER_BACKEND", None)  # the runner's argument decides
    # The recorder under test, whether it is installed (tox) or only on the path (a checkout).
    import recorder

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(recorder.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    return env


def run_one(name: str, backend: str) -> streams.RunResult:
    try:
        proc = subprocess.run([sys.executable, RUNNER, scenario_path(name), backend],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                              env=_env(), timeout=TIMEOUT, universal_newlines=True)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        err = exc.stderr or ""
        if isinstance(out, bytes):
            out = out.decode("utf-8", "replace")
        if isinstance(err, bytes):
            err = err.decode("utf-8", "replace")
        return streams.parse_output(out, err + "\n[timed out after %ss]" % TIMEOUT, -9)
    return streams.parse_output(proc.stdout, proc.stderr, proc.returncode)


_cache: Dict[Tuple[str, str], streams.RunResult] = {}
_lock = threading.Lock()


def run_all(backends: Iterable[str], names: Iterable[str] = ()) -> Dict[Tuple[str, str],
                                                                         streams.RunResult]:
    """Every (scenario, backend) result, computed in parallel on first request."""
    names = list(names) or scenario_names()
    wanted = [(n, b) for b in backends for n in names]
    with _lock:
        missing = [key for key in wanted if key not in _cache]
        if missing:
            workers = max(2, min(8, (os.cpu_count() or 2) * 2))
            with concurrent.futures.ThreadPoolExecutor(workers) as pool:
                for key, result in zip(missing, pool.map(lambda k: run_one(*k), missing)):
                    _cache[key] = result
        return {key: _cache[key] for key in wanted}


def describe(result: streams.RunResult) -> str:
    """Everything a failure message needs about one run."""
    return "returncode %s\n--- stdout\n%s\n--- outcome %s\n--- checks\n%s\n--- stderr\n%s" % (
        result.returncode, result.stream_text(), result.outcome, "\n".join(result.checks),
        result.stderr[-3000:])
