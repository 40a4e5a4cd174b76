"""Real test suites, bare and recorded: the same counts, and every trace whole.

``python tests/realsuites.py [--work DIR] [--only NAME ...]`` downloads the pinned sdists of
:data:`SUITES` (``pip download --no-deps --no-binary :all:``, checked against their
sha256), unpacks each, and runs its test suite twice in the unpacked directory:

- bare: ``python -m pytest -q -p no:cacheprovider``;
- recorded: ``python -m recorder -o DIR --values full --filter
  tests/transparency/skip_third_party.toml -m pytest -q -p no:cacheprovider``: the
  project and its tests are recorded, pytest and the other installed packages are not
  (recording pytest itself would multiply the time by about 10).

The passed/failed/skipped/xfailed/xpassed/error/warning counts of pytest's last line must
be equal, and the trace must be finished: ``trace_metadata.json`` complete with pytest's
exit status, ``trace.json`` and every ``threads/trace-N.json`` read to the end and
balanced. Prints one line per suite and exits 1 if any differs. tox runs it as
``realsuites-py38`` and ``realsuites-py313`` (tox.ini).

The suites are small, pure Python, need nothing but pytest, and are none of pytest's own
dependencies (those would be imported from site-packages before the project's copy).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from recorder.formats.reader import EventReader, check_balance  # noqa: E402

FILTER = HERE / "transparency" / "skip_third_party.toml"
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider"]


class Suite(NamedTuple):
    name: str
    version: str
    sha256: str
    #: what pytest is given, in the unpacked directory
    args: Sequence[str] = ()


SUITES = [
    # one module and one test file, ~200 tests
    Suite("six", "1.17.0", "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81",
          ["test_six.py"]),
    # a package with its tests and doctests inside it, ~180 tests
    Suite("toolz", "1.0.0", "2c86e3d9a04798ac556793bced838816296a2f085017664e4995cb40a1047a02"),
    # one module, a tests/ directory, ~100 tests
    Suite("parse", "1.20.2", "b41d604d16503c79d81af5165155c0b20f6c8d6c559efa66b4b695c3e5a0a0ce",
          ["tests"]),
]

#: pytest's last line: "3 failed, 190 passed, 2 skipped, 1 warning in 1.23s"
COUNT = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|warnings?|"
                   r"deselected|subtests passed)")


def counts(output: str) -> Dict[str, int]:
    """The counts of pytest's summary line (the last line naming any)."""
    for line in reversed(output.splitlines()):
        found = COUNT.findall(line)
        if found and re.search(r" in \d+\.\d+s", line):
            return {kind.rstrip("s") if kind.startswith(("error", "warning")) else kind:
                    int(n) for n, kind in found}
    return {}


def sdist(suite: Suite, downloads: Path) -> Path:
    """The suite's sdist, downloaded once into ``downloads`` and checked."""
    prefix = "%s-%s" % (suite.name, suite.version)
    found = [p for p in downloads.glob("*.tar.gz") if p.name.lower().replace("_", "-")
             == prefix.lower() + ".tar.gz"] if downloads.exists() else []
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--no-binary", ":all:", "-d", str(downloads),
                        "%s==%s" % (suite.name, suite.version)], check=True)
        found = [p for p in downloads.glob("*.tar.gz")
                 if p.name.lower().replace("_", "-") == prefix.lower() + ".tar.gz"]
    path = found[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != suite.sha256:
        raise SystemExit("realsuites: %s has sha256 %s, expected %s" % (path, digest,
                                                                      suite.sha256))
    return path


def unpack(archive: Path, into: Path) -> Path:
    if into.exists():
        shutil.rmtree(str(into))
    with tarfile.open(str(archive)) as tar:
        if hasattr(tarfile, "data_filter"):  # safe extraction where Python offers it
            tar.extractall(str(into), filter="data")
        else:
            tar.extractall(str(into))
    return next(p for p in into.iterdir() if p.is_dir())


def _env() -> Dict[str, str]:
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), environ.get("PYTHONPATH")) if p)
    environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only pytest's own plugins, both runs
    environ["PYTHONHASHSEED"] = "0"
    environ.pop("RECORDER_TRACE", None)
    return environ


def run(command: List[str], cwd: Path) -> Tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=str(cwd), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, env=_env())
    return done, time.perf_counter() - start


def trace_problems(out: Path, status: int) -> List[str]:
    """Streams each file (a recorded suite writes millions of records) and checks it."""
    problems = []
    try:
        metadata = json.loads((out / "trace_metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return ["trace_metadata.json: %s" % exc]
    if not metadata.get("complete"):
        problems.append("trace_metadata.json: not complete")
    if (metadata.get("process_exit_status") or {}).get("code") != status:
        problems.append("process_exit_status %r, pytest ended with %d" % (
            metadata.get("process_exit_status"), status))
    records = 0
    for stream in [out / "trace.json"] + sorted((out / "threads").glob("trace-*.json")):
        reader = EventReader(str(stream))
        balance = check_balance(reader)  # type: ignore[arg-type]  # any iterable
        records += reader.count
        if not reader.complete:
            problems.append("%s: not read to its end (%s)" % (stream.name, reader.error))
        if not balance.ok:
            problems.append("%s: not balanced: %s" % (stream.name, balance.problems[:3]))
    if not problems and records == 0:
        problems.append("trace.json: no records")
    return problems


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def check_suite(suite: Suite, downloads: Path, work: Path) -> bool:
    project = unpack(sdist(suite, downloads), work / suite.name)
    bare, bare_time = run([sys.executable] + PYTEST + list(suite.args), project)
    out = work / (suite.name + "-trace")
    if out.exists():
        shutil.rmtree(str(out))
    recorded, recorded_time = run(
        [sys.executable, "-m", "recorder", "-o", str(out), "--values", "full",
         "--filter", str(FILTER)] + PYTEST + list(suite.args), project)
    problems = []
    bare_counts, recorded_counts = counts(bare.stdout), counts(recorded.stdout)
    if not bare_counts:
        problems.append("no pytest summary in the bare run:\n" + bare.stdout[-2000:])
    if recorded_counts != bare_counts or recorded.returncode != bare.returncode:
        problems.append("bare %s (status %d), recorded %s (status %d):\n%s" % (
            bare_counts, bare.returncode, recorded_counts, recorded.returncode,
            recorded.stdout[-2000:]))
    problems += trace_problems(out, recorded.returncode)
    print("realsuites: %-6s %-8s %s bare %.1fs, recorded %.1fs (%.0fx), trace %.0f MB: %s" % (
        suite.name, suite.version, bare_counts, bare_time, recorded_time,
        recorded_time / max(bare_time, 1e-9), size_of(out) / 1e6,
        "identical" if not problems else "DIFFERENT"), flush=True)
    for problem in problems:
        print("  " + problem.replace("\n", "\n  "))
    return not problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=None,
                        help="where to unpack and record (default: a temporary directory)")
    parser.add_argument("--downloads", type=Path, default=None,
                        help="where the sdists are kept (default: WORK/downloads)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    args = parser.parse_args(argv)
    chosen = [s for s in SUITES if not args.only or s.name in args.only]
    with tempfile.TemporaryDirectory(prefix="realsuites-") as scratch:
        work = args.work or Path(scratch)
        downloads = args.downloads or work / "downloads"
        results = [check_suite(suite, downloads, work) for suite in chosen]
    print("realsuites: %d of %d suites identical bare and recorded"
          % (sum(results), len(results)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
