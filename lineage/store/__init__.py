"""The store layer: the only package of lineage that imports ``ml_metadata``.

:func:`connect` gives a :class:`Connection` for a store URL: its backend
(connection, retries, type cache), a writer, a reader, and ``mlmd``, a
thread-safe, retried proxy of MLMD's own ``MetadataStore`` methods.
One backend is shared per URL per process, so types are registered once.
"""

from __future__ import annotations

import os

# MLMD's C++ core logs every database connection to stderr through glog;
# lineage reports what matters itself. Must be set before ml_metadata loads.
os.environ.setdefault("GLOG_minloglevel", "3")
import threading
from typing import Any, Callable, Dict, Optional, Tuple

import attrs

from lineage._fork import renew_after_fork
from lineage.store._backend import Backend, RetryPolicy
from lineage.store._reader import Reader
from lineage.store._url import StoreURL, default_home, parse_store_url, tls_url
from lineage.store._writer import INPUT, OUTPUT, ContextRef, ContextSpec, ExecutionHandle, PendingContexts, PendingWrite, Writer

__all__ = [
    "INPUT",
    "OUTPUT",
    "Backend",
    "Connection",
    "ContextRef",
    "ContextSpec",
    "ExecutionHandle",
    "MLMDClient",
    "PendingContexts",
    "PendingWrite",
    "Reader",
    "RetryPolicy",
    "StoreURL",
    "Writer",
    "connect",
    "default_home",
    "parse_store_url",
    "tls_url",
]


class MLMDClient:
    """MLMD's ``MetadataStore`` methods, locked and retried.

    The Kubeflow SDK exposed the raw store as ``Workspace.store``; old code
    calls ``ws.store.get_events_by_artifact_ids(...)`` on it.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        from ml_metadata.metadata_store import metadata_store

        if not callable(getattr(metadata_store.MetadataStore, name, None)):
            raise AttributeError(f"MLMD's MetadataStore has no method {name!r}")

        def method(*args: Any, **kwargs: Any) -> Any:
            return self._backend.call(name, *args, **kwargs)

        method.__name__ = name
        return method

    def __repr__(self) -> str:
        return f"MLMDClient({self._backend.url.redacted()})"


class Connection:
    """Everything lineage needs to talk to one store."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.url = backend.url
        self.writer = Writer(backend)
        self.reader = Reader(backend)
        self.mlmd = MLMDClient(backend)

    def __repr__(self) -> str:
        return f"Connection({self.url.redacted()})"


_connections: Dict[Any, Connection] = {}
_connections_lock = threading.Lock()
renew_after_fork(globals(), "_connections_lock")



def _shared_key(parsed: StoreURL) -> Tuple[StoreURL, Tuple[Any, ...]]:
    """*parsed* (a SQLite path made absolute) and the key its shared connection has."""
    if parsed.scheme == "sqlite":
        parsed = attrs.evolve(parsed, path=os.path.abspath(parsed.path or ""))
    key = (
        parsed.scheme, parsed.path, parsed.host, parsed.port, parsed.user, parsed.password,
        parsed.database, tuple(sorted(parsed.tls.items())), tuple(sorted(parsed.options.items())),
    )
    return parsed, key


def connect(url: StoreURL | str | None, retry: Optional[RetryPolicy] = None) -> Connection:
    """The shared connection for *url* (``memory://`` is never shared)."""
    parsed = url if isinstance(url, StoreURL) else parse_store_url(url)
    if parsed.scheme == "memory" or retry is not None:
        return Connection(Backend(parsed, retry))
    parsed, key = _shared_key(parsed)
    with _connections_lock:
        conn = _connections.get(key)
        if conn is None:
            conn = _connections[key] = Connection(Backend(parsed))
        return conn


def forget_connection(url: StoreURL | str) -> None:
    """Stop sharing the connection for *url* (a temporary store's, at the
    end of a test), unless writes for it wait in its spool. Objects that
    hold it keep it, and its database handle closes when the last goes."""
    _, key = _shared_key(url if isinstance(url, StoreURL) else parse_store_url(url))
    with _connections_lock:
        conn = _connections.get(key)
        # Not through writer.spool: it would make a spool, which refers back
        # to the writer, and the handles would wait for a garbage collection.
        spool = conn.writer._spool if conn is not None else None
        if conn is None or (spool is not None and spool.pending()):
            return
        del _connections[key]


def reset_connections() -> None:
    """Forget shared connections and stop background replays (tests)."""
    from lineage.store import _spool

    _spool.abandon_all()
    with _connections_lock:
        _connections.clear()
