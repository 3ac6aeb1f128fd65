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
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from typing import Callable, Dict, List, Optional, Sequence

import pytest

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


class ServerProcess:
    """A ``lineage serve`` subprocess; its port is read from its start line.

    Args:
        store_url: The store it serves.
        args: More command-line arguments (``--tls-cert``, ...).
        port: The port; 0 lets the server pick a free one.
        wait: Wait for the start line (raise if the process exits first).
    """

    START = re.compile(r"listening on (?P<host>\S+):(?P<port>\d+) ")

    def __init__(self, store_url: str, args: Sequence[str] = (), port: int = 0, wait: bool = True,
                 timeout: float = 60.0, env: Optional[Dict[str, str]] = None) -> None:
        self.store_url = store_url
        self.command = [sys.executable, "-m", "lineage.cli", "serve", "--store", store_url, "--port", str(port), *args]
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, env=env,
        )
        self.lines: List[str] = []
        self.port: Optional[int] = None
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _servers.append(self)
        if wait:
            self.wait_started(timeout)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            match = self.START.search(line)
            if match and self.port is None:
                self.port = int(match.group("port"))
                self._started.set()
        self._started.set()

    def wait_started(self, timeout: float = 60.0) -> None:
        if not self._started.wait(timeout) or self.port is None:
            self.stop(signal.SIGKILL)
            raise RuntimeError(f"lineage serve did not start: {self.command}\n" + "\n".join(self.lines))

    @property
    def url(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        """What the server wrote to stderr so far."""
        return "\n".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send *sig* and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._reader.join(timeout)
        if self.process.stderr is not None:
            self.process.stderr.close()
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
