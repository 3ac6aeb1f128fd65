"""Real store backends for the tests: SQLite files, PostgreSQL, MariaDB, gRPC.

Each server-backed store gets a fresh database named ``lineage_test_<hex>``
(MLMD creates it on first connection); :func:`drop_created` drops them.
When a server does not answer the test is skipped, unless in CI (``CI``
set, or ``LINEAGE_REQUIRE_BACKENDS=1`` from ``.ci/run``): then it fails.

The ``grpc`` backend is a ``lineage serve`` process of its own over a fresh
SQLite file (it starts in a fraction of a second); :func:`stop_servers`
stops the ones a test started.
:class:`ServerProcess` runs one for tests of the server itself.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import uuid
from typing import Callable, Dict, List

import pytest

from lineage.testing import ServeProcess

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root"}

SERVER_BACKENDS = ("postgresql", "mysql")
ALL_BACKENDS = ("sqlite",) + SERVER_BACKENDS + ("grpc",)

_created: List[tuple] = []
_servers: List["ServerProcess"] = []  # every live server, killed at session end
_per_test: List["ServerProcess"] = []  # servers of make_url("grpc"), stopped after each test


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    if _answers(host, port):
        return
    unavailable(f"{name} does not answer on {host}:{port}")


def backends_required() -> bool:
    """In CI (``CI`` set, or ``LINEAGE_REQUIRE_BACKENDS=1`` from ``.ci/run``)
    a missing server is a failure, never a skip."""
    ci = os.environ.get("CI", "").strip().lower()
    return os.environ.get("LINEAGE_REQUIRE_BACKENDS") == "1" or ci not in ("", "0", "false", "no")


def unavailable(message: str) -> None:
    """Fail (in CI) or skip (elsewhere) a test whose backend is missing."""
    if backends_required():
        pytest.fail(message + " (CI: backends are required)")
    pytest.skip(message)


def new_database_name() -> str:
    return "lineage_test_" + uuid.uuid4().hex[:12]


def postgresql_url(database: str) -> str:
    return f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{database}"


def mysql_url(database: str) -> str:
    return f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/{database}"


def make_url(backend: str, tmp_path) -> str:
    """A fresh, empty store of the given backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / ('store-' + uuid.uuid4().hex[:8] + '.db')}"
    if backend == "postgresql":
        require_server("PostgreSQL", PG["host"], PG["port"])
        name = new_database_name()
        _created.append(("postgresql", name))
        return postgresql_url(name)
    if backend == "mysql":
        require_server("MariaDB", MYSQL["host"], MYSQL["port"])
        name = new_database_name()
        _created.append(("mysql", name))
        return mysql_url(name)
    if backend == "grpc":
        server = ServerProcess(make_url("sqlite", tmp_path))
        _per_test.append(server)
        return server.url
    raise ValueError(backend)


class ServerProcess(ServeProcess):
    """:class:`lineage.testing.ServeProcess`, registered so that the servers
    a test leaves running are stopped (see :func:`stop_servers`)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        wait = kwargs.pop("wait", True)
        timeout = kwargs.get("timeout", 60.0)
        super().__init__(*args, wait=False, **kwargs)
        _servers.append(self)
        if wait:
            self.wait_started(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        code = super().stop(sig, timeout)
        for registry in (_servers, _per_test):
            if self in registry:
                registry.remove(self)
        return code


def stop_test_servers() -> None:
    """Stop the servers that ``make_url("grpc", ...)`` started for a test."""
    while _per_test:
        _per_test[-1].stop()


def stop_servers() -> None:
    """Kill every ``lineage serve`` the tests started and did not stop."""
    while _servers:
        _servers[-1].stop(signal.SIGKILL)


_DROPPERS: Dict[str, Callable[[str], List[str]]] = {
    "postgresql": lambda db: [
        "psql", "-h", PG["host"], "-p", str(PG["port"]), "-U", PG["user"], "-qc",
        f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)',
    ],
    "mysql": lambda db: [
        "mariadb", "--protocol=tcp", "-h", MYSQL["host"], "-P", str(MYSQL["port"]), "-u", MYSQL["user"],
        "-e", f"DROP DATABASE IF EXISTS `{db}`",
    ],
}


def drop_created() -> None:
    """Drop every database the tests created (best effort)."""
    stop_servers()
    while _created:
        kind, name = _created.pop()
        subprocess.run(_DROPPERS[kind](name), capture_output=True, check=False)
