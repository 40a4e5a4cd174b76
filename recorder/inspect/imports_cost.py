"""Import cost from ``imports.jsonl``: per top-level package and per installed distribution.

Each line is one finished import with its ``duration``, which includes the imports nested in
it (docs/trace-format.md). Lines come in the order imports finished, so a module's nested
imports (same thread, ``depth + 1``) come just before it: that gives each import its *self*
time (its duration minus its direct children's), as ``python -X importtime`` shows it.

* ``self``: the sum of the self times of a package's modules: the package's own cost; the
  self times of all packages add up to the whole import time.
* ``cumulative``: the time spent inside the package's imports, counting an import nested in
  another of the same package once (what importing it costs the program).

Distributions are found from each module's ``origin``: a file under a ``site-packages`` (or
``dist-packages``) directory belongs to the distribution that lists that top-level name, read
with :mod:`importlib.metadata` from that very directory, so the answer is the recorded
program's environment even when the trace is read with another interpreter. Files of the
standard library show as ``(standard library)``, others as ``(not installed)``.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

_SITE_DIRS = ("site-packages", "dist-packages")
#: (duration, {package: cumulative}, {distribution: cumulative}) of a finished import
_Pending = Tuple[float, Dict[str, float], Dict[str, float]]
_STDLIB = re.compile(r"[/\\]lib[/\\]python\d+(\.\d+)?[/\\]")
STDLIB = "(standard library)"
NOT_INSTALLED = "(not installed)"


class Cost:
    """What a package or a distribution cost."""

    __slots__ = ("name", "version", "modules", "self_time", "cumulative", "failed")

    def __init__(self, name: str, version: Optional[str] = None) -> None:
        self.name = name
        self.version = version
        self.modules = 0
        self.self_time = 0.0
        self.cumulative = 0.0
        self.failed = 0

    def as_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"name": self.name, "modules": self.modules,
                               "self": round(self.self_time, 6),
                               "cumulative": round(self.cumulative, 6), "failed": self.failed}
        if self.version is not None:
            out["version"] = self.version
        return out


class ImportCosts:
    """Read ``imports.jsonl`` (streaming; a cut last line is skipped)."""

    def __init__(self, path: Optional[str]) -> None:
        self.count = 0
        self.total = 0.0
        self.failed: List[Dict[str, Any]] = []
        self.packages: Dict[str, Cost] = {}
        self.distributions: Dict[str, Cost] = {}
        self._sites: Dict[str, Dict[str, Tuple[str, str]]] = {}
        if path is not None:
            self._read(path)

    def _read(self, path: str) -> None:
        # per thread: depth -> the finished imports waiting for their parent, each as
        # (duration, {package: cumulative}, {distribution: cumulative}) of its subtree
        waiting: Dict[Any, Dict[int, List[_Pending]]] = {}
        for rec in import_lines(path):
            self._one(rec, waiting)
        for levels in waiting.values():  # their parent never finished (a killed process)
            for pending in levels.values():
                for item in pending:
                    self._settle(item)

    def _one(self, rec: Dict[str, Any], waiting: Dict[Any, Dict[int, List["_Pending"]]]
             ) -> None:
        module = str(rec.get("module") or "?")
        package = module.split(".")[0]
        dist_name, version = self.distribution(rec.get("origin"))
        self.count += 1
        pkg = self.packages.get(package)
        if pkg is None:
            pkg = self.packages[package] = Cost(package)
        dist = self.distributions.get(dist_name)
        if dist is None:
            dist = self.distributions[dist_name] = Cost(dist_name, version)
        pkg.modules += 1
        dist.modules += 1
        if rec.get("ok") is False:
            pkg.failed += 1
            dist.failed += 1
            if len(self.failed) < 50:
                self.failed.append({"module": module, "error": rec.get("error")})
        duration = rec.get("duration")
        depth = rec.get("depth") if isinstance(rec.get("depth"), int) else 0
        levels = waiting.setdefault(rec.get("thread"), {})
        children = levels.pop(depth + 1, [])
        if not isinstance(duration, (int, float)):
            for child in children:  # still running at the end: its own cost is unknown
                self._settle(child)
            return
        own = max(0.0, duration - sum(c[0] for c in children))
        pkg.self_time += own
        dist.self_time += own
        # cumulative: an import counts for its package unless an import of the same
        # package encloses it, so the subtree's contributions are merged upwards and this
        # import's duration replaces those of its own package (it contains them)
        by_pkg: Dict[str, float] = {}
        by_dist: Dict[str, float] = {}
        for _, child_pkgs, child_dists in children:
            for name, t in child_pkgs.items():
                by_pkg[name] = by_pkg.get(name, 0.0) + t
            for name, t in child_dists.items():
                by_dist[name] = by_dist.get(name, 0.0) + t
        by_pkg[package] = duration
        by_dist[dist_name] = duration
        item = (duration, by_pkg, by_dist)
        if depth == 0:
            self.total += duration
            self._settle(item)
        else:
            levels.setdefault(depth, []).append(item)

    def _settle(self, item: "_Pending") -> None:
        """An import without a parent import: its subtree's cumulative times count."""
        for name, t in item[1].items():
            self.packages[name].cumulative += t
        for name, t in item[2].items():
            self.distributions[name].cumulative += t

    # -- distributions ------------------------------------------------------------------------
    def distribution(self, origin: Any) -> Tuple[str, Optional[str]]:
        """(distribution name, version) of a module file."""
        if not isinstance(origin, str) or not os.path.isabs(origin):
            return STDLIB, None  # built-in, frozen
        parts = re.split(r"[/\\]", origin)
        for i in range(len(parts) - 1, 0, -1):
            if parts[i] in _SITE_DIRS and i + 1 < len(parts):
                site = os.sep.join(parts[:i + 1]) or os.sep
                top = parts[i + 1]
                top = top[:-3] if top.endswith(".py") else top.split(".")[0]
                found = self._site(site).get(top)
                if found is not None:
                    return found
                return NOT_INSTALLED, None
        if _STDLIB.search(origin):
            return STDLIB, None
        return NOT_INSTALLED, None

    def _site(self, site: str) -> Dict[str, Tuple[str, str]]:
        """top-level name -> (canonical name, version) for the distributions in ``site``."""
        known = self._sites.get(site)
        if known is not None:
            return known
        known = self._sites[site] = {}
        try:
            from importlib import metadata
            dists = list(metadata.distributions(path=[site]))
        except Exception:
            return known
        for dist in dists:
            try:
                name = canonical_name(dist.metadata["Name"] or "")
                version = dist.version or ""
                for top in _top_levels(dist):
                    known.setdefault(top, (name, version))
            except Exception:
                continue
        return known

    def as_dict(self) -> Dict[str, Any]:
        return {"modules": self.count, "total": round(self.total, 6),
                "packages": [c.as_dict() for c in self.top(self.packages, 10 ** 9)],
                "distributions": [c.as_dict() for c in self.top(self.distributions, 10 ** 9)],
                "failed": self.failed}

    @staticmethod
    def top(costs: Dict[str, Cost], n: int) -> List[Cost]:
        return sorted(costs.values(), key=lambda c: (-c.cumulative, c.name))[:n]


def import_lines(path: str) -> Iterator[Dict[str, Any]]:
    """The records of ``imports.jsonl``, streamed; a line cut by a kill is skipped."""
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                yield rec


def canonical_name(name: str) -> str:
    """The normalised distribution name of PEP 503 (``Foo_Bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_levels(dist: Any) -> List[str]:
    text = dist.read_text("top_level.txt")
    if text:
        return [line.strip() for line in text.splitlines() if line.strip()]
    tops = []
    for f in dist.files or ():
        first = str(f).replace("\\", "/").split("/")[0]
        if first.endswith((".dist-info", ".egg-info", ".pth")) or first in ("..", "__pycache__"):
            continue
        name = first[:-3] if first.endswith(".py") else first
        if name.isidentifier() and name not in tops:
            tops.append(name)
    return tops
