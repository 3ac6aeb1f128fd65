"""Locks a forked child gets fresh.

A lock that one of lineage's threads (the start writers, the spool drainer)
held at ``fork()`` stays held forever in the child, where that thread does
not exist: the child's first call would wait on it. Every lock lineage
shares between threads is registered here, and replaced in the child.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable, Dict, List, Tuple

__all__ = ["renew_after_fork"]

Factory = Callable[[], Any]

# Objects (Backend, Writer, Spool: gone with their owner) and module
# globals() dicts (kept for good), with the names of their locks.
_objects: weakref.WeakKeyDictionary[Any, Dict[str, Factory]] = weakref.WeakKeyDictionary()
_globals: List[Tuple[Dict[str, Any], str, Factory]] = []


def renew_after_fork(holder: Any, name: str, factory: Factory = threading.Lock) -> None:
    """In a forked child, set ``holder.name`` (``holder[name]`` when *holder*
    is a module's ``globals()``) to a fresh ``factory()``."""
    if isinstance(holder, dict):
        _globals.append((holder, name, factory))
    else:
        _objects.setdefault(holder, {})[name] = factory


def _after_fork_in_child() -> None:
    for namespace, name, factory in _globals:
        namespace[name] = factory()
    for holder, names in list(_objects.items()):
        for name, factory in names.items():
            setattr(holder, name, factory())


os.register_at_fork(after_in_child=_after_fork_in_child)
