"""Tables keyed by ``id(code)`` that forget a code object when it dies.

The recorder decides once per code object and caches the answer (and a few other things: a
bytecode map, a module name, a qualified name) in dicts keyed by ``id(code)``, read on the hot
path without touching the code object (a code object's hash is computed from its contents on
every lookup). An id is unique only while its object lives. Keeping every code object alive
for the whole recording made that safe, and made a program that creates code as it runs
(``eval``, ``exec``, templates, ``namedtuple``, ``dataclasses``) grow without bound.

:class:`CodeLifetimes` holds one weak reference per code object instead, and when the code
object dies it removes that id from every registered table and tells the listeners. CPython
calls a weak reference's callback while the object is being deallocated, before its memory
(and so its id) can be reused, so a reader never finds a dead code object's entry under an
id that now belongs to another one. Code objects accept weak references on 3.8-3.13.
"""
from __future__ import annotations

import weakref
from types import CodeType
from typing import Any, Callable, Dict, List, MutableMapping

__all__ = ["CodeLifetimes"]


class _CodeRef(weakref.ref):
    """A weak reference that knows the id its code object had (the callback needs it after
    the object is gone)."""

    __slots__ = ("key",)


class CodeLifetimes:
    """Watch code objects; when one dies, drop its id from the registered tables and call
    the listeners with that id.

    Thread-safe in the way the tables are: each step is one dict operation. The callbacks
    run on whatever thread drops the last reference (or runs the garbage collector), at any
    point of its execution, so they only pop dict entries and never raise.
    """

    def __init__(self) -> None:
        self._refs: Dict[int, _CodeRef] = {}
        self._tables: List[MutableMapping[int, Any]] = []
        self._listeners: List[Callable[[int], Any]] = []
        self._callback = self._died  # one bound method shared by every reference

    def register(self, table: MutableMapping[int, Any]) -> MutableMapping[int, Any]:
        """Drop the entry of each dying watched code object from ``table`` (returned)."""
        self._tables.append(table)
        return table

    def on_death(self, listener: Callable[[int], Any]) -> None:
        """Call ``listener(id)`` when a watched code object dies, after the tables forgot
        it. A listener that raises is ignored."""
        self._listeners.append(listener)

    def watch(self, code: CodeType) -> None:
        """Start watching ``code`` (idempotent; call it before storing ``id(code)``)."""
        key = id(code)
        if key not in self._refs:
            ref = _CodeRef(code, self._callback)
            ref.key = key
            self._refs[key] = ref

    def alive(self) -> List[CodeType]:
        """The watched code objects still alive."""
        codes = []
        for ref in list(self._refs.values()):
            code = ref()
            if code is not None:
                codes.append(code)
        return codes

    def __len__(self) -> int:
        return len(self._refs)

    def clear(self) -> None:
        """Forget everything (the tables too): no callback comes for what was watched."""
        refs = list(self._refs.values())
        self._refs.clear()
        for ref in refs:
            ref.key = None  # a callback already queued finds nothing to drop
        for table in self._tables:
            table.clear()

    def _died(self, ref: _CodeRef) -> None:
        key = ref.key
        if key is None or self._refs.get(key) is not ref:
            return
        self._refs.pop(key, None)
        for table in self._tables:
            table.pop(key, None)
        for listener in self._listeners:
            try:
                listener(key)
            except Exception:
                pass
