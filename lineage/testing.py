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

import argparse
import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

import attrs

from lineage import _config
from lineage.errors import InvalidTypeError, InvalidValueError, describe
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

    if store is not None and not isinstance(store, str):
        raise InvalidTypeError(f"recording(store) must be a store URL (a str), got {describe(store)}")
    # Named here: init(), which takes them, named itself ("init(workspace) must be a str").
    _config.check_workspace_name("recording(workspace)", workspace)
    _config.check_optional_name("recording(run)", run)
    saved = attrs.evolve(_config.settings())
    saved_hashing, saved_hash_files = _digest._enabled, _config._hash_files
    with contextlib.ExitStack() as stack:
        temporary = store is None
        if store is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="lineage-test-"))
            store = f"sqlite:///{os.path.join(folder, 'lineage.db')}"
        from lineage.store import parse_store_url

        fresh = parse_store_url(store).scheme == "memory"  # else every block would share one database
        if fresh:
            _config.forget_store(store)
        # On: a test's recording must record, whatever init(enabled=False) said before.
        _config.init(store=store, workspace=workspace, run=run, strict=True, start_delay=0, enabled=True)
        try:
            yield _config.cached_store(store) if store else Store()
        finally:
            if temporary:
                _forget(store)  # gone with its folder
            elif fresh:
                _config.forget_store(store)
            current = _config.settings()
            for field in attrs.fields(type(saved)):
                setattr(current, field.name, getattr(saved, field.name))
            _digest.set_enabled(saved_hashing)  # init(hash_files=...) inside the block
            _config._hash_files = saved_hash_files
            _config.export_to_children()  # what a process started after the block inherits


def _forget(url: str) -> None:
    """Drop a temporary store's Store and connection (each kept about 3 open
    files: a test suite of a few hundred blocks ran out of them)."""
    from lineage.store import forget_connection

    _config.forget_store(url)
    forget_connection(url)


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
    upstream: Union[Artifact, Sequence[Artifact]] = (),
    *,
    produced_by: Optional[str] = None,
    store: Any = None,
) -> None:
    """Assert that *artifact* was recorded with the given upstream artifacts.

    Args:
        artifact: A logged record (its ``id`` set by lineage).
        upstream: A record, or records, that must appear upstream of
            *artifact*, directly or through intermediate executions. Matched
            by id when set, else by type, uri, name (and version when given).
        produced_by: Name of an execution that must have produced it.
        store: The :class:`lineage.Store` or its URL (default: the one
            tracked calls use).

    Raises:
        AssertionError: with what was found instead.
        InvalidTypeError, InvalidValueError: an argument is not what it
            must be (named, with its value).
    """
    from lineage.workspace import Store, _check_artifact_id, check_names_stored

    if not isinstance(artifact, Artifact):
        raise InvalidTypeError(f"assert_lineage(artifact) must be a lineage record, got {describe(artifact)}")
    if isinstance(upstream, Artifact):
        upstream = [upstream]
    elif isinstance(upstream, (str, bytes, Mapping)) or not isinstance(upstream, Iterable):
        raise InvalidTypeError(f"assert_lineage(upstream) must be a record or a list of records, got {describe(upstream)}")
    upstream = list(upstream)
    for index, wanted in enumerate(upstream):
        if not isinstance(wanted, Artifact):
            raise InvalidTypeError(f"assert_lineage(upstream)[{index}] must be a lineage record, got {describe(wanted)}")
    if produced_by is not None and not isinstance(produced_by, str):
        raise InvalidTypeError(f"assert_lineage(produced_by) must be an execution name (str), got {describe(produced_by)}")
    if artifact.id is None:
        raise AssertionError(f"{artifact!r} was never logged: its id is None")
    if isinstance(artifact.id, bool) or not isinstance(artifact.id, int):
        raise InvalidTypeError(f"assert_lineage(artifact).id must be an int, got {describe(artifact.id)}")
    _check_artifact_id("assert_lineage(artifact).id", artifact.id)
    if store is None:
        store = _config.cached_store(_config.store_url())
    elif isinstance(store, str):
        store = _config.cached_store(_config.store_url(store))
    elif not isinstance(store, Store):
        raise InvalidTypeError(f"assert_lineage(store) must be a lineage.Store or a store URL, got {describe(store)}")
    graph = store._connection.reader.upstream(artifact.id)
    stored = graph["artifacts"].get(artifact.id)
    if stored is None:
        raise AssertionError(
            f"store {store.url.redacted()} holds no artifact #{artifact.id} ({artifact!r} was logged to another store?)"
        )
    try:
        check_names_stored("assert_lineage", artifact, stored, store.url)
    except InvalidValueError as exc:
        raise AssertionError(str(exc)) from None
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
        # As the graph shows them: an execution another tool wrote may have no name, only a type
        names = sorted(
            {str(producers[e].get("name") or producers[e].get("type") or "execution") for e in direct if e in producers}
        )
        if produced_by not in names:
            raise AssertionError(f"{artifact!r} was produced by {names or 'no execution'}, not {produced_by!r}")


try:  # the pytest fixture, when pytest is there
    import pytest

    @pytest.fixture
    def lineage_store(tmp_path: Any) -> Iterator[Any]:
        """A temporary SQLite store that tracked calls record into."""
        url = f"sqlite:///{tmp_path / 'lineage.db'}"
        with recording(store=url) as store:
            yield store
        _forget(url)  # as recording()'s own temporary store

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
        args: More command-line arguments (``--host``, ``--tls-cert``, ...).
        port: The port; 0 lets the server pick a free one (read from its
            start line).
        wait: Wait until it listens (raise RuntimeError if it exits first).
        timeout: How long to wait, in seconds.
        env: The environment of the process (default: this one's).
        root_certificates: For :attr:`url` of a TLS server: the PEM file of
            the CA that signed its certificate (default: the ``--tls-cert``
            file, right for a self-signed certificate).
        private_key: For :attr:`url` of a server with ``--tls-client-ca``:
            the client's private key (PEM file).
        certificate_chain: With *private_key*: the client's certificate.

    Raises:
        InvalidTypeError: a certificate option is not a file path.
        InvalidValueError: a certificate option without ``--tls-cert`` in
            *args*, or *private_key* without *certificate_chain* (or the
            reverse).
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
        *,
        root_certificates: Optional[Union[str, os.PathLike[str]]] = None,
        private_key: Optional[Union[str, os.PathLike[str]]] = None,
        certificate_chain: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> None:
        self.store_url = store_url
        self.command = [sys.executable, "-m", "lineage.cli", "serve", "--store", store_url, "--port", str(port), *args]
        options = _serve_options(self.command[3:])
        # The paths as the server reads them: relative to this working directory.
        self._tls: Dict[str, str] = {}
        for name, path in (("root_certificates", root_certificates), ("private_key", private_key),
                           ("certificate_chain", certificate_chain)):
            if path is not None:
                if not isinstance(path, (str, os.PathLike)):
                    raise InvalidTypeError(f"ServeProcess({name}) must be a file path, got {describe(path)}")
                self._tls[name] = os.path.abspath(os.fspath(path))
        if self._tls and options is not None and not options.tls_cert:
            raise InvalidValueError(
                f"ServeProcess({', '.join(self._tls)}) is for a TLS server: args has no --tls-cert and --tls-key"
            )
        if ("private_key" in self._tls) != ("certificate_chain" in self._tls):
            raise InvalidValueError("ServeProcess(private_key) and ServeProcess(certificate_chain) go together")
        if options is not None and options.tls_cert:
            self._tls.setdefault("root_certificates", os.path.abspath(options.tls_cert))
        self._client_ca = bool(options is not None and options.tls_client_ca)
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: List[str] = []
        self.host: Optional[str] = None
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
                self.host = match.group("host")
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
        """The store URL of the server: ``grpc://127.0.0.1:<port>`` by
        default; ``grpc://[::1]:<port>`` for ``--host ::1``; for a server
        on every address (``0.0.0.0``, ``::``) its loopback address; with
        ``--tls-cert``, ``grpcs://...?root_certificates=FILE`` (and the
        client's certificate files).

        Raises:
            InvalidValueError: the server requires client certificates
                (``--tls-client-ca``) and none were given.
            RuntimeError: the server has not started.
        """
        if self.port is None:
            raise RuntimeError(f"ServeProcess.url: lineage serve does not listen (yet): {self.command}\n{self.output}")
        host = (self.host or "127.0.0.1").strip("[]")
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - a name, not a bind
        address = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        if not self._tls:
            return f"grpc://{address}"
        if self._client_ca and "private_key" not in self._tls:
            raise InvalidValueError(
                "ServeProcess.url: the server requires client certificates (--tls-client-ca): "
                "give ServeProcess(private_key=FILE, certificate_chain=FILE)"
            )
        query = "&".join(f"{name}={urllib.parse.quote(path)}" for name, path in self._tls.items())
        return f"grpcs://{address}?{query}"

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


def _serve_options(argv: Sequence[str]) -> Optional[argparse.Namespace]:
    """``lineage serve``'s arguments, read by its own parser (abbreviations,
    ``--opt=value``, the last of a repeated one); None when it refuses
    them: the server does too, and :meth:`ServeProcess.wait_started` shows why."""
    from lineage.cli import build_parser

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return build_parser().parse_args(list(argv))
    except SystemExit:
        return None
