"""Helpers for your own tests: a temporary store and lineage assertions.

::

    from lineage.testing import recording, assert_lineage

    def test_train_records_lineage():
        with recording() as store:
            model = train(DataSet(uri="file:///data.csv", name="data"))
        assert_lineage(model, upstream=[DataSet(uri="file:///data.csv", name="data")], store=store)

With pytest, the ``lineage_store`` fixture does the ``recording()`` part
for you: import it into your test module or conftest.py
(``from lineage.testing import lineage_store``), or list
``"lineage.testing"`` in ``pytest_plugins`` of your root conftest.py.
:class:`ServeProcess`
runs ``lineage serve`` in a subprocess, to test code against a shared store.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence

import attrs

from lineage import _config
from lineage.errors import InvalidTypeError, describe
from lineage.records import Artifact

__all__ = ["ServeProcess", "assert_lineage", "lineage_store", "recording"]


@contextlib.contextmanager
def recording(store: Optional[str] = None, workspace: str = "test", run: str = "test run") -> Iterator[Any]:
    """Record into a temporary store for the duration of the block.

    Tracked calls inside the block write synchronously (no start delay) and
    lineage's own failures raise (strict), so a broken setup fails the test.
    Settings from before the block are restored after it.

    Args:
        store: Store URL (default: a SQLite file in a temporary folder).
        workspace: Workspace name for tracked calls.
        run: Run name for tracked calls.

    Yields:
        The :class:`lineage.Store` being recorded into.
    """
    from lineage.store import _digest
    from lineage.workspace import Store

    saved = attrs.evolve(_config.settings())
    saved_hashing = _digest._enabled
    with contextlib.ExitStack() as stack:
        temporary = store is None
        if store is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="lineage-test-"))
            store = f"sqlite:///{os.path.join(folder, 'lineage.db')}"
        from lineage.store import forget_connection, parse_store_url

        fresh = parse_store_url(store).scheme == "memory"  # else every block would share one database
        if fresh:
            _config.forget_store(store)
        # On: a test's recording must record, whatever init(enabled=False) said before.
        _config.init(store=store, workspace=workspace, run=run, strict=True, start_delay=0, enabled=True)
        try:
            yield _config.cached_store(store) if store else Store()
        finally:
            if fresh or temporary:
                # A temporary store is gone with its folder: its Store and
                # connection too (each block kept about 3 open files: a test
                # suite of a few hundred blocks ran out of them).
                _config.forget_store(store)
            if temporary:
                forget_connection(store)
            current = _config.settings()
            for field in attrs.fields(type(saved)):
                setattr(current, field.name, getattr(saved, field.name))
            _digest.set_enabled(saved_hashing)  # init(hash_files=...) inside the block


def _matches(record: Artifact, wanted: Artifact) -> bool:
    if wanted.id is not None:
        return record.id == wanted.id
    return (
        type(record).ARTIFACT_TYPE_NAME == type(wanted).ARTIFACT_TYPE_NAME
        and record.uri == wanted.uri
        and record.name == wanted.name
        and (getattr(wanted, "version", None) is None or getattr(record, "version", None) == wanted.version)
    )


def assert_lineage(
    artifact: Artifact,
    upstream: Sequence[Artifact] = (),
    *,
    produced_by: Optional[str] = None,
    store: Any = None,
) -> None:
    """Assert that *artifact* was recorded with the given upstream artifacts.

    Args:
        artifact: A logged record (its ``id`` set by lineage).
        upstream: Records that must appear upstream of *artifact*, directly
            or through intermediate executions. Matched by id when set, else
            by type, uri, name (and version when given).
        produced_by: Name of an execution that must have produced it.
        store: The :class:`lineage.Store` (default: the one tracked calls use).

    Raises:
        AssertionError: with what was found instead.
    """
    if not isinstance(artifact, Artifact):
        raise InvalidTypeError(f"assert_lineage(artifact) must be a lineage record, got {describe(artifact)}")
    if artifact.id is None:
        raise AssertionError(f"{artifact!r} was never logged: its id is None")
    if store is None:
        store = _config.cached_store(_config.store_url())
    graph = store._connection.reader.upstream(artifact.id)
    # Upstream: what an execution on the way took as input. The graph also
    # holds those executions' other outputs (a Metrics beside the Model),
    # which are not upstream of the artifact.
    inputs = {aid for (aid, _, kind) in graph["edges"] if kind.endswith("INPUT")}
    found = [a for aid, a in graph["artifacts"].items() if aid != artifact.id and aid in inputs]
    missing = [w for w in upstream if not any(_matches(r, w) for r in found)]
    if missing:
        shown = "\n  ".join(repr(r) for r in found) or "(nothing)"
        raise AssertionError(
            f"{artifact!r} lacks upstream {missing!r}.\nRecorded upstream:\n  {shown}"
        )
    if produced_by is not None:
        producers = {
            e["id"]: e for e in graph["executions"].values()
        }
        direct = {ex for (aid, ex, kind) in graph["edges"] if aid == artifact.id and kind.endswith("OUTPUT")}
        names = sorted({producers[e].get("name") for e in direct if e in producers})
        if produced_by not in names:
            raise AssertionError(f"{artifact!r} was produced by {names or 'no execution'}, not {produced_by!r}")


try:  # the pytest fixture, when pytest is there
    import pytest

    @pytest.fixture
    def lineage_store(tmp_path: Any) -> Iterator[Any]:
        """A temporary SQLite store that tracked calls record into."""
        with recording(store=f"sqlite:///{tmp_path / 'lineage.db'}") as store:
            yield store

except ImportError:  # pragma: no cover
    pass


class ServeProcess:
    """``lineage serve`` over a store, in a subprocess of the current Python.

    ::

        server = ServeProcess("sqlite:////tmp/shared.db")
        try:
            lineage.init(store=server.url)  # grpc://127.0.0.1:<port>
            ...
        finally:
            server.stop()

    Args:
        store_url: The store it serves.
        args: More command-line arguments (``--tls-cert``, ...).
        port: The port; 0 lets the server pick a free one (read from its
            start line).
        wait: Wait until it listens (raise RuntimeError if it exits first).
        timeout: How long to wait, in seconds.
        env: The environment of the process (default: this one's).
    """

    START = re.compile(r"listening on (?P<host>\S+):(?P<port>\d+) ")

    def __init__(
        self,
        store_url: str,
        args: Sequence[str] = (),
        port: int = 0,
        wait: bool = True,
        timeout: float = 60.0,
        env: Optional[Dict[str, str]] = None,
    ) -> None:
        self.store_url = store_url
        self.command = [sys.executable, "-m", "lineage.cli", "serve", "--store", store_url, "--port", str(port), *args]
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: List[str] = []
        self.port: Optional[int] = None
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
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
        """Wait until the server listens; RuntimeError (with its output) if it exits first."""
        if not self._started.wait(timeout) or self.port is None:
            self.stop(signal.SIGKILL)
            raise RuntimeError(f"lineage serve did not start: {self.command}\n{self.output}")

    @property
    def url(self) -> str:
        """The store URL of the server, ``grpc://127.0.0.1:<port>``."""
        return f"grpc://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        """What the server wrote to stderr so far."""
        return "\n".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send *sig* (a graceful SIGTERM by default) and return the exit code."""
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
        return code
