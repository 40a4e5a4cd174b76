"""The trace directory around the event files: making it ready (an earlier recording's
files removed, nothing else), the copies of the program's sources in ``files/``, and
``trace_metadata.json``. :class:`_TraceDirectory` is the part of
:class:`recorder.formats.codetracer.CodeTracerWriter` that does this; the writer's events go
through ``emit`` there, and each thread's file through :mod:`recorder.formats.streams`."""
from __future__ import annotations

import datetime
import errno
import os
import sys
from typing import TYPE_CHECKING, Any, Dict, Optional

from recorder.formats.imports import FILE_NAME as IMPORTS_FILE
from recorder.formats.storage import write_all, write_json_atomic
from recorder.formats.streams import _getpid
from recorder.redaction import scrub_bytes

if TYPE_CHECKING:
    from recorder.formats.streams import _Stream

_MAX_SOURCE_BYTES = 64 << 20
#: A copy into files/ failing with one of these means the disk takes no more: stop recording.
_DISK_ERRORS = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EIO",
                                                           "EROFS") if hasattr(errno, name))


#: What a recording writes at the top of the trace directory (also ``files/``, ``threads/``).
_OUR_FILES = ("trace.json", "trace_paths.json", "trace_metadata.json", IMPORTS_FILE,
              "trace_times.bin", "trace.json.tmp", "trace_paths.json.tmp", "trace_metadata.json.tmp")
#: Files that say an earlier recording owns the directory (so its ``files/`` is ours too).
_TRACE_MARKS = ("trace.json", "trace_metadata.json")
#: The prefixes of what it writes in ``threads/``.
_OUR_THREAD_FILES = ("trace-", "trace_paths-", "trace_metadata-", "trace_times-")


def _remove_tree(top: str) -> None:
    """Delete the directory ``top`` and everything in it, without following a symbolic
    link out of it (``shutil.rmtree`` would cost every recording its import)."""
    if os.path.islink(top) or not os.path.isdir(top):
        if os.path.lexists(top):
            os.remove(top)
        return
    for root, dirs, files in os.walk(top, topdown=False):
        for name in files:
            os.remove(os.path.join(root, name))
        for name in dirs:
            path = os.path.join(root, name)
            if os.path.islink(path):
                os.remove(path)
            else:
                os.rmdir(path)
    os.rmdir(top)


def _remove_if_empty(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass  # not empty: someone else's files are in it


class TraceDirError(OSError):
    """The output directory cannot be used (one clear sentence naming the problem)."""


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


class _TraceDirectory:
    """The directory, the source copies and the metadata of a :class:`CodeTracerWriter`
    (its attributes are the writer's)."""

    def _prepare_dir(self) -> None:
        """Create ``out_dir``, or empty it of what an earlier recording wrote there (that
        would be mistaken for this one's: an old ``imports.jsonl``, a source copy the new
        run never made). Only our names go, and ``files/`` only beside an earlier trace
        (its ``trace.json`` or ``trace_metadata.json``): anything else stays."""
        out = self.out_dir
        if os.path.exists(out) and not os.path.isdir(out):
            raise TraceDirError("the output path %s exists and is not a directory" % out)
        try:
            self.modes.mkdir(out)  # an existing directory keeps its mode (docs/trace-format.md)
            earlier_trace = False
            for name in _OUR_FILES:
                p = os.path.join(out, name)
                if os.path.isfile(p):
                    earlier_trace = earlier_trace or name in _TRACE_MARKS
                    os.remove(p)
            tdir = os.path.join(out, "threads")
            if os.path.isdir(tdir):
                for name in os.listdir(tdir):
                    if name.startswith(_OUR_THREAD_FILES):
                        os.remove(os.path.join(tdir, name))
                _remove_if_empty(tdir)
            if earlier_trace:
                _remove_tree(os.path.join(out, "files"))
            probe = os.path.join(out, ".recorder-write-test")
            os.close(self.modes.create(probe))
            os.remove(probe)
        except OSError as exc:
            raise TraceDirError("cannot write the trace directory %s: %s"
                                % (out, exc.strerror or exc)) from exc

    def absolute(self, filename: str) -> str:
        """The path written for a code object's ``co_filename`` (absolute unless synthetic)."""
        path = self._abs_cache.get(filename)
        if path is None:
            if filename.startswith("<") or os.path.isabs(filename):
                path = filename
            else:
                path = os.path.normpath(os.path.join(self.workdir, filename))
            self._abs_cache[filename] = path
        return path

    def copy_source(self, path: str) -> None:
        """Copy a traced source file to ``files/<absolute path>`` once. A source that cannot
        be read is not copied; a copy that cannot be written (a full disk) is removed and
        stops recording (:meth:`write_failed`)."""
        if not self.copy_sources_enabled or path in self._copied:
            return
        with self._lock:
            if path in self._copied:
                return
            self._copied.add(path)
        if path.startswith("<") or not os.path.isabs(path):
            return
        try:
            if not os.path.isfile(path) or os.path.getsize(path) > _MAX_SOURCE_BYTES:
                return
            # read whole (the size is bounded); shutil would cost start-up for this alone
            with open(path, "rb") as src:
                data = src.read()
        except OSError:
            return
        dest = self._copy_path(path)
        fd = -1
        try:
            self.modes.mkdir(os.path.dirname(dest))
            fd = self.modes.create(dest)
            write_all(fd, data, 0)
        except OSError as exc:
            if fd >= 0:
                _remove_quietly(dest)  # never a half copy
            if exc.errno not in _DISK_ERRORS:
                return  # this path cannot be a file here (too long, ...): no copy, as before
            if exc.filename is None:
                exc.filename = dest
            raise self.write_failed(exc) from None
        finally:
            if fd >= 0:
                os.close(fd)

    def _copy_path(self, path: str) -> str:
        return os.path.join(self.out_dir, "files", os.path.splitdrive(path)[1].lstrip("/\\"))

    # -- streams -----------------------------------------------------------------------------

    def _scrub_sources(self) -> None:
        """At close: hidden texts out of the copied sources (``files/``) too."""
        if not self.secret_texts:
            return
        for path in list(self._copied):
            if path.startswith("<") or not os.path.isabs(path):
                continue
            dest = self._copy_path(path)
            try:
                with open(dest, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            changed = scrub_bytes(data, self.secret_texts)
            if changed == data:
                continue
            try:  # in place, keeping the file's mode
                fd = os.open(dest, os.O_WRONLY | os.O_TRUNC)
                try:
                    write_all(fd, changed, 0)
                finally:
                    os.close(fd)
            except OSError:
                _remove_quietly(dest)  # a copy cut short, or still holding the secret: none

    # -- metadata ----------------------------------------------------------------------------
    def _exit_record(self) -> Dict[str, Any]:
        status = self._exit_status
        if isinstance(status, int) and not isinstance(status, bool):
            return {"code": status, "label": None}
        return {"code": None, "label": status if isinstance(status, str) else "<exit>"}

    def _values_metadata(self) -> Dict[str, Any]:
        o = self.value_options
        return {"mode": self.values, "reprs": self.reprs or "builtin",
                "max_depth": o.max_depth, "max_items": o.max_items,
                "max_string": o.max_string, "max_repr": o.max_repr, "max_nodes": o.max_nodes,
                "max_types": o.max_types}

    def _timing_metadata(self) -> Optional[Dict[str, Any]]:
        """``"timing"``: where the call/return stamps are and what their clock is."""
        if not self.timing:
            return None
        return {"files": "trace_times.bin, threads/trace_times-<serial>.bin",
                "stamps": "Call and Return records", "format": "float64-le",
                "clock": "perf_counter", "origin": self._imports.t0}

    def _recorder_version(self) -> str:
        mod = sys.modules.get("recorder")
        return str(getattr(mod, "__version__", "unknown"))

    def _thread_metadata(self, st: _Stream) -> Dict[str, Any]:
        return {"workdir": self.workdir, "program": self.program or "", "args": self.args,
                "thread": {"serial": st.serial, "ident": st.ident, "name": st.name},
                "main_trace": "../trace.json"}

    def _write_metadata(self, complete: bool) -> None:
        if _getpid() != self._main.pid:
            return  # a forked child: the metadata is the parent's (as its data files are)
        with self._meta_lock:  # threads noting gaps, and close(), write the same file
            if complete or not self._closed:  # never an interim version after the final
                self._write_metadata_locked(complete)

    def _write_metadata_locked(self, complete: bool) -> None:
        with self._lock:
            others = list(self._ended_threads)
            others += [st.describe() for st in self._streams.values() if not st.main]
            gaps = [dict(g) for g in self._gaps]
        threads = [self._main.describe()] + sorted(others, key=lambda t: t["serial"] or 0)
        impl = sys.implementation
        data: Dict[str, Any] = {
            "workdir": self.workdir,
            "program": self.program or "",
            "args": self.args,
            "recorder": {"name": "recorder", "version": self._recorder_version(),
                         "format": "codetracer-json/0.3.0"},
            "python": {"version": "%d.%d.%d" % sys.version_info[:3],
                       "implementation": impl.name, "executable": sys.executable},
            "backend": self.backend,
            "values": self._values_metadata(),
            "start_time": self.start_time,
            "end_time": self.end_time,
            "process_exit_status": self._exit_record(),
            "complete": complete and not gaps and not any(t.get("cut") for t in threads),
            "gaps": gaps,
            "threads": threads,
            "imports": {"file": IMPORTS_FILE if self._imports.count else None,
                        "count": self._imports.count},
            "timing": self._timing_metadata(),
        }
        data["steps"] = self.steps or "on"
        if self.limits_on:
            data["limits"] = {"max_size": self.max_size, "max_records": self.max_records}
        if self.stopped is not None:
            data["stopped"] = dict(self.stopped)
        if self.filters is not None:
            data["scope"] = self.filters.scope_metadata()
            data["trace_filter"] = self.filters.metadata()
        for key, val in self.extra_metadata.items():
            data.setdefault(key, val)
        write_json_atomic(os.path.join(self.out_dir, "trace_metadata.json"), data, self.modes)
