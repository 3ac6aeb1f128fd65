"""A PostgreSQL server of the test's own (initdb into a temporary folder, its
own port), so a test can stop and start it without touching the shared one."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from typing import List

from tests import backends


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        backends.unavailable(f"PostgreSQL's {name} is not installed")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres:
    """initdb + pg_ctl; as root the server runs as the postgres user."""

    def __init__(self) -> None:
        # Not under pytest's tmp_path: its parents are private to root, and
        # the server runs as the postgres user.
        import tempfile

        folder = tempfile.mkdtemp(prefix="lineage-pg-")
        self.folder = folder
        self.data = os.path.join(folder, "data")
        self.sockets = os.path.join(folder, "sock")
        self.port = _free_port()
        os.makedirs(self.sockets, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
        self._run([_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync"])

    def _run(self, command: List[str]) -> None:
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--"] + command
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed: {done.stdout}\n{done.stderr}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/lineage"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run([_bin("pg_ctl"), "-D", self.data, "-o", options, "-l", os.path.join(self.folder, "log"), "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._run([_bin("pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"])

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def close(self) -> None:
        try:
            if self.answers():
                self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
