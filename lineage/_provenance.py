"""Where a tracked call ran: code, git state, host, interpreter.

Everything is computed once per process (git state once per folder, the
source hash once per function) and cached, so a tracked call pays nothing
for it after the first.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import inspect
import json
import os
import platform
import socket
import subprocess
import sys
from typing import Any, Callable, Dict, Optional, Tuple

from lineage._version import __version__

__all__ = ["block_provenance", "call_provenance", "function_provenance", "process_provenance"]

_PREFIX = "lineage."


@functools.lru_cache(maxsize=1)
def _process() -> Dict[str, Any]:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return {
        "host": socket.gethostname(),
        "user": user,
        "python": platform.python_version(),
        "lineage_version": __version__,
        "command": " ".join(sys.argv)[:2048] if sys.argv else "",
        "pid": os.getpid(),
    }


def process_provenance() -> Dict[str, Any]:
    """Host, user, Python and lineage versions, command line (this process)."""
    return dict(_process_prefixed())


# (pid, prefixed provenance): rebuilt after a fork, since the pid changed.
_process_cache: Tuple[int, Dict[str, Any]] = (0, {})


def _process_prefixed() -> Dict[str, Any]:
    global _process_cache
    pid, cached = _process_cache
    if pid != os.getpid():
        info = dict(_process())
        info["pid"] = os.getpid()
        cached = {_PREFIX + k: v for k, v in info.items()}
        _process_cache = (os.getpid(), cached)
    return cached


@functools.lru_cache(maxsize=256)
def git_state(folder: str) -> Dict[str, Any]:
    """Commit and dirty flag of the git work tree holding *folder*, if any."""
    def git(*args: str) -> Optional[str]:
        try:
            done = subprocess.run(
                ("git", *args), cwd=folder, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status)}


_functions: Dict[Any, Dict[str, Any]] = {}


def function_provenance(func: Callable[..., Any]) -> Dict[str, Any]:
    """Module, qualified name, source hash and git state of a function."""
    key = getattr(func, "__code__", None) or func
    cached = _functions.get(key)
    if cached is not None:
        return cached
    info: Dict[str, Any] = {
        "module": getattr(func, "__module__", None) or "",
        "function": getattr(func, "__qualname__", None) or getattr(func, "__name__", "") or "",
    }
    try:
        source = inspect.getsource(func)
        info["source_sha256"] = hashlib.sha256(source.encode("utf-8")).hexdigest()
    except (OSError, TypeError):
        pass
    try:
        filename = inspect.getsourcefile(func) or ""
    except TypeError:
        filename = ""
    folder = os.path.dirname(os.path.abspath(filename)) if filename and os.path.exists(filename) else os.getcwd()
    info.update(git_state(folder))
    result = {_PREFIX + k: v for k, v in info.items()}
    _functions[key] = result
    return result


def block_provenance() -> Dict[str, Any]:
    """Provenance of a ``with execution()`` block: the caller's git state."""
    return dict(_block_prefixed(os.getcwd()))


@functools.lru_cache(maxsize=256)
def _block_prefixed(folder: str) -> Dict[str, Any]:
    return {_PREFIX + k: v for k, v in git_state(folder).items()}


# (pid, function key or cwd) -> the compact provenance properties.
_merged: Dict[Any, Dict[str, Any]] = {}


def _compact(process: Dict[str, Any], code: Dict[str, Any]) -> Dict[str, Any]:
    """Provenance as three execution properties instead of a dozen.

    Every property is a row MLMD inserts on each write; the git commit stays
    a property of its own (the one people filter on), the rest is JSON.
    """
    out: Dict[str, Any] = {}
    code = {k[len(_PREFIX):] if k.startswith(_PREFIX) else k: v for k, v in code.items()}
    process = {k[len(_PREFIX):] if k.startswith(_PREFIX) else k: v for k, v in process.items()}
    if "git_commit" in code:
        out[_PREFIX + "git_commit"] = code.pop("git_commit")
    out[_PREFIX + "code"] = json.dumps(code, sort_keys=True, ensure_ascii=False)
    out[_PREFIX + "process"] = json.dumps(process, sort_keys=True, ensure_ascii=False)
    return out


def call_provenance(func: Optional[Callable[..., Any]] = None) -> Dict[str, Any]:
    """A fresh dict of provenance properties for one execution.

    ``lineage.git_commit``; ``lineage.code``: JSON of module, function,
    source_sha256, git_dirty (for a ``with`` block: the working folder's git
    state); ``lineage.process``: JSON of host, user, python,
    lineage_version, command, pid. Built once per process and function.
    """
    if func is not None:
        key: Any = (os.getpid(), getattr(func, "__code__", None) or func)
    else:
        key = (os.getpid(), os.getcwd())
    merged = _merged.get(key)
    if merged is None:
        code = function_provenance(func) if func is not None else _block_prefixed(key[1])
        merged = _compact(_process_prefixed(), code)
        if len(_merged) >= 4096:  # functions made on the fly (closures): stay bounded
            _merged.clear()
        _merged[key] = merged
    return dict(merged)
