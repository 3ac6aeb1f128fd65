"""Real store backends for the tests: SQLite files, PostgreSQL, MariaDB.

Each server-backed store gets a fresh database named ``lineage_test_<hex>``
(MLMD creates it on first connection); :func:`drop_created` drops them.
When a server does not answer the test is skipped, unless
``LINEAGE_REQUIRE_BACKENDS=1`` (set by ``.ci/run``): then it fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from typing import Callable, Dict, List

import pytest

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
MYSQL = {"host": "127.0.0.1", "port": 3306, "user": "root"}

SERVER_BACKENDS = ("postgresql", "mysql")
ALL_BACKENDS = ("sqlite",) + SERVER_BACKENDS

_created: List[tuple] = []


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    if _answers(host, port):
        return
    message = f"{name} does not answer on {host}:{port}"
    if os.environ.get("LINEAGE_REQUIRE_BACKENDS") == "1":
        pytest.fail(message + " (LINEAGE_REQUIRE_BACKENDS=1)")
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
    raise ValueError(backend)


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
    while _created:
        kind, name = _created.pop()
        subprocess.run(_DROPPERS[kind](name), capture_output=True, check=False)
