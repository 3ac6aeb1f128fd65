"""Never break the job, never lose a record: spool, background drain, sync, faults.

Real processes and real servers: tracking runs in worker subprocesses
(tests/workers.py), the store is a SQLite file behind ``lineage serve`` or a
PostgreSQL instance the test makes for itself.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Dict

import pytest
from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage
from lineage import DataSet, Metrics, track
from lineage.store import _backend, _spool, connect, parse_store_url
from lineage.store._writer import PendingWrite
from tests import backends
from tests.pg_instance import TempPostgres

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded(sqlite_url: str) -> metadata_store.MetadataStore:
    config = pb.ConnectionConfig()
    config.sqlite.filename_uri = sqlite_url[len("sqlite:///"):]
    config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def worker_env(home: Path, store: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(
        LINEAGE_HOME=str(home),
        LINEAGE_STORE=store,
        LINEAGE_RETRY_UNAVAILABLE_SECONDS="0.3",
        LINEAGE_SPOOL_RETRY_SECONDS="0.2",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def start_worker(env: dict, n: int, prefix: str = "job", sleep: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.workers", "track", "--n", str(n), "--prefix", prefix, "--sleep", str(sleep)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> int:
    """Wait for the process and close its pipes."""
    process.communicate(timeout=timeout)
    return process.returncode


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.strip() == text:
            return
    raise AssertionError(f"worker never printed {text!r}")


class BlackHole:
    """A TCP server that accepts connections and never answers: a frozen
    database, or a firewall or proxy that swallows traffic."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list = []
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.closing:
                return

    def close(self) -> None:
        # Unblock accept() with a last connection, then close everything it took.
        self.closing = True
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass
        self.thread.join(10)
        self.sock.close()
        for conn in self.held:
            conn.close()


def sync_twice(home: Path, into: str) -> Any:
    """Sync the one spool file under *home* into *into*, then again from a
    copy of it taken before (as after a sync killed before its acks)."""
    [path] = _spool.spool_files(str(home))
    copy = home / "copy.spool.bak"
    shutil.copy(path, copy)
    first = _spool.sync(into=into, home=str(home))
    shutil.copy(copy, path)
    return first, _spool.sync(into=into, home=str(home))


def home_that_cannot_be_made(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """LINEAGE_HOME under a file, so no folder (and no spool file) can be
    made there: the spool keeps its writes in memory only. Returns that
    file (made a folder, the home can be written again)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("LINEAGE_HOME", str(blocker / "home"))
    return blocker


def init_on_a_down_grpc_store(monkeypatch: pytest.MonkeyPatch, workspace: str) -> int:
    """lineage.init on a gRPC port nothing listens on yet (short retries); the port."""
    monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
    monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "0.1")
    port = free_port()
    lineage.init(store=f"grpc://127.0.0.1:{port}", workspace=workspace, start_delay=0)
    return port


def journal_on_a_full_disk(spool) -> None:
    """Make every later write to *spool*'s journal fail, as on a full disk:
    /dev/full in its file's place. (Closing its descriptor instead freed the
    number for the next file opened, a server's stderr pipe, which the spool
    then closed: a test failed now and then on that.)"""
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, spool._file.fileno())
    finally:
        os.close(full)


def replay_on_a_served_store(sqlite_url: str, port: int, produced: list) -> None:
    """Serve *sqlite_url* on *port* until every record in *produced* has its id
    (the spooled writes were replayed)."""
    server = backends.ServerProcess(sqlite_url, port=port)
    try:
        deadline = time.monotonic() + 30
        while any(m.id is None for m in produced) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    assert all(m.id is not None for m in produced)


@track
def produce(folder: str, i: int) -> Metrics:
    return Metrics(uri=f"file:///{folder}/{i}", name=f"m{i}")


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["LINEAGE_HOME"] = str(home)
    env["LINEAGE_RETRY_UNAVAILABLE_SECONDS"] = "0.5"
    return subprocess.run([sys.executable, "-m", "lineage.cli", *args], env=env, capture_output=True, text=True, timeout=300)


def check_complete_runs(store: metadata_store.MetadataStore, n: int, prefix: str = "job") -> None:
    """Exactly n COMPLETE executions of step, each with its input and output, no duplicate artifact."""
    executions = [e for e in store.get_executions() if e.properties["name"].string_value == "step"]
    assert len(executions) == n
    assert len({e.external_id for e in executions}) == n
    assert {pb.Execution.State.Name(e.last_known_state) for e in executions} == {"COMPLETE"}
    events = store.get_events_by_execution_ids([e.id for e in executions])
    artifacts = {a.id: a for a in store.get_artifacts_by_id(list({ev.artifact_id for ev in events}))}
    by_execution: dict = {}
    for event in events:
        by_execution.setdefault(event.execution_id, []).append(
            (pb.Event.Type.Name(event.type), artifacts[event.artifact_id].uri)
        )
    for execution in executions:
        i = execution.custom_properties["i"].int_value
        assert sorted(by_execution[execution.id]) == [
            ("INPUT", f"s3://in/{prefix}/{i}"),
            ("OUTPUT", f"file:///out/{prefix}/{i}"),
        ]
    uris = [a.uri for a in store.get_artifacts() if a.uri.startswith(("s3://in/", "file:///out/"))]
    assert len(uris) == len(set(uris)) == 2 * n


class TestSpool:
    def test_writes_spooled_while_down_are_replayed_exactly_once_by_sync(self, tmp_path, sqlite_url):
        """A job run against a dead store exits 0; `lineage sync` writes every call once, a second sync writes nothing."""
        home = tmp_path / "home"
        dead = f"grpc://127.0.0.1:{free_port()}"
        worker = start_worker(worker_env(home, dead, LINEAGE_EXIT_DRAIN_SECONDS="0"), n=20)
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert out.count("done") == 20
        assert "unreachable" in err and "spool" in err  # one warning names the spool
        [path] = _spool.spool_files(str(home))
        assert len(_spool.read_journal(path).todo) == 40  # start + end of 20 calls
        status = run_cli(home, "status", "--store", dead)
        assert status.returncode == 1 and "does NOT answer" in status.stdout and "spooled writes: 40" in status.stdout
        assert f"40 write(s) for {dead}" in status.stdout
        embedded(sqlite_url)  # the store exists
        # Checking another store says which stores the writes wait for
        # (it said "answers" and exited 0, as if nothing were pending).
        other = run_cli(home, "status", "--store", sqlite_url)
        assert other.returncode == 0 and f"writes wait for other stores, not checked here: {dead}" in other.stdout
        first = run_cli(home, "sync", "--into", sqlite_url)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "written: 40" in first.stdout
        check_complete_runs(embedded(sqlite_url), 20)
        assert _spool.spool_files(str(home)) == []  # fully replayed files are removed
        second = run_cli(home, "sync", "--into", sqlite_url)
        assert "written: 0" in second.stdout
        check_complete_runs(embedded(sqlite_url), 20)

    def test_replaying_again_after_a_killed_sync_duplicates_nothing(self, tmp_path, sqlite_url):
        """A journal replayed twice (as after a sync killed before its acks) reports the second time as present."""
        home = tmp_path / "home"
        worker = start_worker(worker_env(home, f"grpc://127.0.0.1:{free_port()}", LINEAGE_EXIT_DRAIN_SECONDS="0"), n=10)
        assert finish(worker) == 0
        first, again = sync_twice(home, sqlite_url)
        assert (first.written, first.present, first.failed) == (20, 0, [])
        assert (again.written, again.present) == (0, 20)
        check_complete_runs(embedded(sqlite_url), 10)

    def test_refused_entries_stay_in_the_spool_with_the_reason(self, tmp_path, sqlite_url):
        """An entry the store refuses is reported with why and kept; the others are replayed."""
        home = tmp_path / "home"
        worker = start_worker(worker_env(home, f"grpc://127.0.0.1:{free_port()}", LINEAGE_EXIT_DRAIN_SECONDS="0"), n=2)
        assert finish(worker) == 0
        [path] = _spool.spool_files(str(home))
        journal = _spool.read_journal(path)
        bad = PendingWrite.from_json(journal.entries[0]["write"])
        bad.execution.external_id = "lineage:execution:bad"
        bad.pairs[0].artifact = None
        bad.pairs[0].event.artifact_id = 987654  # no such artifact
        with open(path, "a") as handle:
            entry = {"seq": 99, "time": "t", "store": journal.entries[0]["store"], "write": bad.to_json()}
            handle.write(json.dumps(entry) + "\n")
        done = run_cli(home, "sync", "--into", sqlite_url)
        assert done.returncode == 1
        assert "written: 4" in done.stdout and "failed: 1" in done.stdout
        assert "entry 99" in done.stdout and "invalid artifact id 987654" in done.stdout
        [left] = _spool.spool_files(str(home))
        assert [e["seq"] for e in _spool.read_journal(left).todo] == [99]
        check_complete_runs(embedded(sqlite_url), 2)

    def test_sync_never_merges_two_stores_writes_into_one(self, tmp_path, sqlite_url):
        """Writes spooled for two stores: --into alone is refused (nothing written);
        --store A --into X moves A's writes only; B's stay in the spool."""
        home = tmp_path / "home"
        dead_a, dead_b = f"grpc://127.0.0.1:{free_port()}", f"grpc://127.0.0.1:{free_port()}"
        for dead, prefix, n in ((dead_a, "a", 2), (dead_b, "b", 3)):
            worker = start_worker(worker_env(home, dead, LINEAGE_EXIT_DRAIN_SECONDS="0"), n=n, prefix=prefix)
            assert finish(worker) == 0
        assert sum(len(_spool.read_journal(p).todo) for p in _spool.spool_files(str(home))) == 10

        refused = run_cli(home, "sync", "--into", sqlite_url)
        assert refused.returncode == 2
        assert "writes wait for 2 stores" in refused.stderr and dead_a in refused.stderr and dead_b in refused.stderr
        # named as typed: it said into='...' (the Python argument)
        assert refused.stderr.startswith(f"lineage sync: --into {sqlite_url!r}: "), refused.stderr
        assert sum(len(_spool.read_journal(p).todo) for p in _spool.spool_files(str(home))) == 10

        moved = run_cli(home, "sync", "--store", dead_a, "--into", sqlite_url)
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert "written: 4" in moved.stdout and "6 write(s) for other stores left in the spool" in moved.stdout
        check_complete_runs(embedded(sqlite_url), 2, prefix="a")
        [left] = [p for p in _spool.spool_files(str(home)) if _spool.read_journal(p).todo]
        assert len(_spool.read_journal(left).todo) == 6
        status = run_cli(home, "status", "--store", dead_a)
        assert f"writes wait for other stores, not checked here: {dead_b}" in status.stdout

    def test_writes_for_a_store_that_cannot_be_read_back_are_rescued_with_into(self, tmp_path, sqlite_url):
        """A spooled store this version cannot parse (a field it does not know):
        reported as unreadable, and replayed where --into says."""
        home = tmp_path / "home"
        worker = start_worker(worker_env(home, f"grpc://127.0.0.1:{free_port()}", LINEAGE_EXIT_DRAIN_SECONDS="0"), n=2)
        assert finish(worker) == 0
        [path] = _spool.spool_files(str(home))
        with open(path) as handle:
            lines = [json.loads(line) for line in handle]
        with open(path, "w") as handle:
            for line in lines:
                if "store" in line:
                    line["store"]["ssl_mode"] = "require"
                handle.write(json.dumps(line) + "\n")
        plain = run_cli(home, "sync")
        assert plain.returncode == 1 and "unreadable: 4" in plain.stdout and "ssl_mode" in plain.stdout
        rescued = run_cli(home, "sync", "--into", sqlite_url)
        assert rescued.returncode == 0, rescued.stdout + rescued.stderr
        assert "written: 4" in rescued.stdout
        check_complete_runs(embedded(sqlite_url), 2)
        assert _spool.spool_files(str(home)) == []

    def test_sync_never_makes_anew_a_store_that_is_gone(self, tmp_path, sqlite_url, good_spools):
        """Writes spooled for a SQLite file since moved away: sync made a new,
        empty file there, wrote them into it and deleted the spool. They
        are kept and reported, with how to send them elsewhere (--into)."""
        home = tmp_path / "home"
        gone = tmp_path / "gone" / "store.db"
        from lineage.store._spool import url_to_json

        entries = [json.loads(line) for line in good_spools["a"][1]]
        for entry in entries:
            if "store" in entry:
                entry["store"] = url_to_json(parse_store_url(f"sqlite:///{gone}"))
        path = write_spool(home, "gone.spool", [json.dumps(entry).encode() for entry in entries])
        done = run_cli(home, "sync")
        assert done.returncode == 1 and "written: 0" in done.stdout
        assert "the file does not exist" in done.stdout and "--into" in done.stdout
        assert not gone.exists() and path.exists()
        into = sqlite_url[len("sqlite:///"):]
        assert not os.path.exists(into)
        moved = run_cli(home, "sync", "--store", f"sqlite:///{gone}", "--into", sqlite_url)
        assert moved.returncode == 0 and "written: 10" in moved.stdout, moved.stdout + moved.stderr
        # A mistyped --into made a new store without a word.
        assert f"lineage sync: made a new store {into!r} (--into named no existing one)" in moved.stderr
        path = write_spool(home, "gone.spool", [json.dumps(entry).encode() for entry in entries])
        again = run_cli(home, "sync", "--store", f"sqlite:///{gone}", "--into", sqlite_url)
        assert again.returncode == 0 and "made a new store" not in again.stderr, again.stdout + again.stderr

    @pytest.mark.parametrize("kind", ["sqlite-file-not-yet-a-store", "postgresql-database-not-yet-made"])
    def test_sync_makes_the_store_a_spooled_write_was_the_first_of(self, tmp_path, good_spools, kind):
        """A store the spooled writes were the first for (a SQLite file made
        but locked then, a database not made yet) is made by sync, as the
        writes would have made it (refused for a while: 'no store')."""
        from lineage.store._spool import url_to_json
        from tests import backends

        home = tmp_path / "home"
        if kind.startswith("sqlite"):
            target = tmp_path / "first.db"
            target.write_bytes(b"")  # made by the first attempt, which found it locked
            url = f"sqlite:///{target}"
        else:
            url = backends.make_url("postgresql", tmp_path)
        entries = [json.loads(line) for line in good_spools["a"][1]]
        for entry in entries:
            if "store" in entry:
                entry["store"] = url_to_json(parse_store_url(url))
        write_spool(home, "first.spool", [json.dumps(entry).encode() for entry in entries])
        done = run_cli(home, "sync")
        assert done.returncode == 0 and "written: 10" in done.stdout, done.stdout + done.stderr

    def test_sync_store_matches_the_store_however_spelled(self, tmp_path, sqlite_url):
        """A write spooled for a SQLite file is selected by a relative URL of that file."""
        home = tmp_path / "home"
        worker = start_worker(worker_env(home, f"grpc://127.0.0.1:{free_port()}", LINEAGE_EXIT_DRAIN_SECONDS="0"), n=2)
        assert finish(worker) == 0
        [path] = _spool.spool_files(str(home))
        embedded(sqlite_url)  # the store exists
        absolute = parse_store_url(sqlite_url)
        with open(path) as handle:  # as if spooled for the SQLite store (it is never unreachable)
            lines = [json.loads(line) for line in handle]
        with open(path, "w") as handle:
            for line in lines:
                if "store" in line:
                    line["store"] = _spool.url_to_json(absolute)
                handle.write(json.dumps(line) + "\n")
        relative = "sqlite:///" + os.path.relpath(absolute.path, ROOT)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
        env.update(LINEAGE_HOME=str(home))
        status = subprocess.run([sys.executable, "-m", "lineage.cli", "status", "--store", relative],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert "answers" in status.stdout and "other stores" not in status.stdout
        done = subprocess.run([sys.executable, "-m", "lineage.cli", "sync", "--store", relative],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert "written: 4" in done.stdout, done.stdout + done.stderr
        check_complete_runs(embedded(sqlite_url), 2)
        assert _spool.spool_files(str(home)) == []

    def test_spool_drains_by_itself_when_the_store_comes_back(self, tmp_path, sqlite_url, monkeypatch):
        """While the process runs, spooled writes reach the store once it answers again; ids get set."""
        port = init_on_a_down_grpc_store(monkeypatch, "drain")

        @track
        def consume(m: Metrics) -> None:
            return None

        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            produced = [produce("metrics", i) for i in range(3)]
        consume(produced[0])  # depends on a spooled write: queued behind it
        assert all(m.id is None for m in produced)
        assert len(_spool.spool_files(str(tmp_path / "home"))) == 1
        looked_up = []
        real_call = _backend.Backend.call

        def call(self, method, *args, **kwargs):
            lookup = method == "get_executions_by_external_ids"
            try:
                result = real_call(self, method, *args, **kwargs)
            except lineage.StoreUnavailableError:
                raise  # not answered: the service is still starting
            except Exception:
                if lookup:  # answered "NotFound": no match
                    looked_up.append(args[0])
                raise
            if lookup:
                looked_up.append(args[0])
            return result

        monkeypatch.setattr(_backend.Backend, "call", call)
        server = backends.ServerProcess(sqlite_url, port=port)
        try:
            deadline = time.monotonic() + 30
            while _spool.spool_files(str(tmp_path / "home")) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _spool.spool_files(str(tmp_path / "home")) == []
        finally:
            server.stop()
        assert all(m.id is not None for m in produced)
        store = embedded(sqlite_url)
        executions = {e.properties["name"].string_value: e for e in store.get_executions()}
        assert len(store.get_executions()) == 4
        [consume_event] = store.get_events_by_execution_ids([executions["consume"].id])
        assert consume_event.artifact_id == produced[0].id  # the graph is whole
        assert len([a for a in store.get_artifacts() if a.uri == "file:///metrics/0"]) == 1
        # Only the write that was sent when the store went down may have
        # landed: it is looked up first; the writes queued behind it never
        # left the process and are sent as they are (replay was 2-4 reads
        # each, and a drainer that busy could not catch up with new writes).
        # consume's write is looked up after the store refuses it: it sends
        # produced[0]'s artifact, which the first write stored (the usual
        # conflict path). Before, all four were looked up.
        assert len(looked_up) == 2, looked_up


    def test_an_outage_after_the_spool_drained_is_warned_about_again(self, sqlite_url, monkeypatch):
        """The spool warned once per process: a notebook or a long job whose
        store went down a second time, after the first outage's writes had
        all landed, was told nothing while its records waited in the spool
        again. Each outage is warned about once."""
        monkeypatch.setattr(_spool, "WARNING_INTERVAL", 0.0, raising=False)
        port = init_on_a_down_grpc_store(monkeypatch, "again")
        spool = connect(f"grpc://127.0.0.1:{port}").writer.spool
        with pytest.warns(lineage.LineageWarning, match="unreachable") as told:
            first = [produce("again", i) for i in range(2)]
        assert len(told) == 1  # once for the outage, not once per write
        replay_on_a_served_store(sqlite_url, port, first)
        assert spool.drain(10)
        with pytest.warns(lineage.LineageWarning, match="unreachable.*spool") as told:
            second = [produce("again", i) for i in range(2, 4)]
        assert len(told) == 1
        replay_on_a_served_store(sqlite_url, port, second)

    def test_a_store_that_goes_down_again_at_once_is_not_warned_about_again_at_once(self, sqlite_url, monkeypatch):
        """A store flapping every few seconds does not warn every few seconds:
        an outage within WARNING_INTERVAL of the last warning is kept quiet,
        and warned about at a write of it made after the interval."""
        port = init_on_a_down_grpc_store(monkeypatch, "flap")
        spool = connect(f"grpc://127.0.0.1:{port}").writer.spool
        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            first = [produce("flap", 0)]
        replay_on_a_served_store(sqlite_url, port, first)
        assert spool.drain(10)
        with warnings.catch_warnings(record=True) as told:
            warnings.simplefilter("always")
            second = [produce("flap", 1)]  # down again well within a minute: quiet
        # (Recorded, not turned into errors: an error is caught by lineage and logged instead.)
        assert [str(w.message) for w in told if issubclass(w.category, lineage.LineageWarning)] == []
        assert spool.pending()
        monkeypatch.setattr(_spool, "WARNING_INTERVAL", 0.0, raising=False)  # as if it had lasted past the interval
        with pytest.warns(lineage.LineageWarning, match=r"unreachable \(StoreUnavailableError: .*did not answer"):
            second.append(produce("flap", 2))  # queued behind: said with what the outage's first write met
        replay_on_a_served_store(sqlite_url, port, second)


def serve_then_log_input(sqlite_url: str, port: int, home: Path, record: Any, name: str = "e3") -> Dict[str, str]:
    """Serve *sqlite_url* on *port* until the spool under *home* is drained,
    log *record* as the input of execution *name*, and wait until it landed.

    Returns:
        The uri of each execution's one artifact, by execution name.
    """
    server = backends.ServerProcess(sqlite_url, port=port)
    try:
        deadline = time.monotonic() + 30
        while _spool.spool_files(str(home)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _spool.spool_files(str(home)) == []
        with lineage.execution(name) as ex:
            ex.log_input(record)

        def landed() -> bool:  # its end, with the input (its start may be stored first)
            stored = embedded(sqlite_url)
            return any(e.properties["name"].string_value == name and e.last_known_state == pb.Execution.COMPLETE
                       for e in stored.get_executions())

        while not landed() and time.monotonic() < deadline:
            time.sleep(0.1)  # a write made while the writer still thought the store down is drained
    finally:
        server.stop()
    store = embedded(sqlite_url)
    uris = {}
    for execution in store.get_executions():
        [event] = store.get_events_by_execution_ids([execution.id])
        [artifact] = store.get_artifacts_by_id([event.artifact_id])
        uris[execution.properties["name"].string_value] = artifact.uri
    return uris


class TestRecordsChangedWhileSpooled:
    @pytest.mark.parametrize("make", [Metrics, DataSet], ids=["not deduplicated", "deduplicated"])
    def test_a_record_changed_between_spooled_writes_is_each_artifact_it_was(self, tmp_path, sqlite_url, monkeypatch, make):
        """One record logged, its uri set anew, logged again, all while the store
        was down, then changed once more after the replay: each execution has the
        artifact the record named when it was logged (the second and third had
        the first's, by its external id kept for the spool or by the id the
        replay gave)."""
        init_on_a_down_grpc_store(monkeypatch, "changed")
        port = int(lineage._config.store_url().rsplit(":", 1)[1])
        record = make(uri="s3://changed/A", name="r")
        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            with lineage.execution("e1") as ex:
                ex.log_output(record)
            record.uri = "s3://changed/B"
            with lineage.execution("e2") as ex:
                ex.log_input(record)
        record.uri = "s3://changed/C"
        uris = serve_then_log_input(sqlite_url, port, tmp_path / "home", record)
        assert uris == {"e1": "s3://changed/A", "e2": "s3://changed/B", "e3": "s3://changed/C"}

    def test_a_record_logged_twice_while_spooled_then_changed_is_a_new_artifact(self, tmp_path, sqlite_url, monkeypatch):
        """Logged twice unchanged while the store was down, then its uri set
        anew after the replay: the third execution has the new artifact (the
        second replay stamped the record with what it held by then)."""
        init_on_a_down_grpc_store(monkeypatch, "twice")
        port = int(lineage._config.store_url().rsplit(":", 1)[1])
        record = Metrics(uri="s3://twice/A", name="r")
        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            for name in ("e1", "e2"):
                with lineage.execution(name) as ex:
                    (ex.log_output if name == "e1" else ex.log_input)(record)
        record.uri = "s3://twice/B"
        uris = serve_then_log_input(sqlite_url, port, tmp_path / "home", record)
        assert uris == {"e1": "s3://twice/A", "e2": "s3://twice/A", "e3": "s3://twice/B"}


    def test_an_equal_record_in_a_spooled_write_changed_before_the_replay_is_a_new_artifact(
        self, tmp_path, sqlite_url, monkeypatch
    ):
        """Two equal records in one spooled write (the second sent as the
        first), the second changed before the replay: it was stamped with its
        new uri when the write landed, and a later call took the old id."""
        init_on_a_down_grpc_store(monkeypatch, "alias")
        port = int(lineage._config.store_url().rsplit(":", 1)[1])
        one, same = DataSet(uri="s3://alias/A", name="r"), DataSet(uri="s3://alias/A", name="r")
        with pytest.warns(lineage.LineageWarning, match="unreachable"), lineage.execution("e1") as ex:
            ex.log_output(one)
            ex.log_output(same)
        same.uri = "s3://alias/B"
        uris = serve_then_log_input(sqlite_url, port, tmp_path / "home", same, name="e2")
        assert uris == {"e1": "s3://alias/A", "e2": "s3://alias/B"}


class TestFaults:
    @staticmethod
    def lose_the_first_answer(monkeypatch) -> list:
        """The first write lands, then its answer is lost (the connection
        drops): it is spooled and replayed."""
        real = _backend.Backend.call
        lost: list = []

        def call(self, method, *args, **kwargs):
            result = real(self, method, *args, **kwargs)
            if method in ("put_execution", "put_lineage_subgraph") and not lost:
                lost.append(method)
                raise lineage.StoreUnavailableError("the answer was lost")
            return result

        monkeypatch.setattr(_backend.Backend, "call", call)
        return lost

    @pytest.mark.parametrize("landed", [False, True], ids=["before-it-was-sent", "after-it-landed"])
    def test_ctrl_c_in_the_end_write_of_an_execution_spools_the_end(self, sqlite_url, monkeypatch, landed):
        """A KeyboardInterrupt that lands while lineage writes an execution's
        end (a store slow to answer) went through (lineage catches Exception
        there), and the end was lost: the execution stayed RUNNING for good,
        its outputs never written. The interrupt still reaches the caller."""
        lineage.init(store=sqlite_url, workspace="w", start_delay=0)
        real_call = _backend.Backend.call
        interrupt = threading.Event()

        def call(self, method, *args, **kwargs):
            if method in ("put_execution", "put_lineage_subgraph") and interrupt.is_set():
                interrupt.clear()
                if landed:
                    real_call(self, method, *args, **kwargs)
                raise KeyboardInterrupt
            return real_call(self, method, *args, **kwargs)

        monkeypatch.setattr(_backend.Backend, "call", call)
        with pytest.raises(KeyboardInterrupt), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with lineage.execution("train") as ex:
                ex.log_output(Metrics(uri="s3://ctrl-c/m", name="m"))
                [stored] = embedded(sqlite_url).get_executions()
                assert stored.last_known_state == pb.Execution.RUNNING  # the start landed
                interrupt.set()
        assert not interrupt.is_set()  # interrupted in the end write
        assert any("interrupted (KeyboardInterrupt); writes are kept in the spool" in str(w.message) for w in caught)
        assert connect(sqlite_url).writer.spool.drain(30)
        [stored] = embedded(sqlite_url).get_executions()
        assert stored.last_known_state == pb.Execution.COMPLETE
        [event] = embedded(sqlite_url).get_events_by_execution_ids([stored.id])
        assert event.type == pb.Event.OUTPUT and ex.id == stored.id

    @pytest.mark.parametrize("kind", ["with-block", "track", "generator"])
    def test_ctrl_c_in_the_start_write_of_an_execution_ends_it_canceled(self, sqlite_url, monkeypatch, kind):
        """A KeyboardInterrupt that lands in an execution's start write (its
        RUNNING, start_delay=0) was spooled and replayed, but nothing ended
        the execution: its body never ran, and it stayed RUNNING for good."""
        lineage.init(store=sqlite_url, workspace="w", start_delay=0)
        real_call = _backend.Backend.call
        interrupted: list = []

        def call(self, method, *args, **kwargs):
            if method in ("put_execution", "put_lineage_subgraph") and not interrupted:
                interrupted.append(method)
                real_call(self, method, *args, **kwargs)  # it landed: its answer is what the interrupt took
                raise KeyboardInterrupt
            return real_call(self, method, *args, **kwargs)

        monkeypatch.setattr(_backend.Backend, "call", call)
        ran: list = []

        @track(name="train")
        def train():
            ran.append(1)

        @track(name="train")
        def steps():
            ran.append(1)
            yield 1

        with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "with-block":
                with lineage.execution("train"):
                    ran.append(1)
            elif kind == "track":
                train()
            else:
                next(steps())
        assert interrupted and not ran  # interrupted in the start write: the body never ran
        assert connect(sqlite_url).writer.spool.drain(30)
        [stored] = embedded(sqlite_url).get_executions()
        assert pb.Execution.State.Name(stored.last_known_state) == "CANCELED"
        assert stored.custom_properties["lineage.error_type"].string_value == "KeyboardInterrupt"

    @pytest.mark.parametrize("referenced", [False, True], ids=["nothing-referenced", "an-input-referenced-by-id"])
    def test_a_replayed_write_found_stored_gives_every_record_its_id(self, sqlite_url, monkeypatch, referenced):
        """A write whose answer was lost is found in the store on replay: every
        record it logged gets its id, also one read and written by it and one
        beside it (they were left without ids)."""
        from lineage import DataSet, Execution, Model, Workspace

        store = lineage.Store(url=sqlite_url)
        ex = Execution(name="e", workspace=Workspace(store=store, name="w"), _defer=True)
        loaded = DataSet(uri="s3://loaded", name="loaded")
        ex._write(outputs=[loaded])
        model = Model(uri="s3://m", name="m")
        read, written = DataSet(uri="s3://io", name="io"), DataSet(uri="s3://io", name="io")
        lost = self.lose_the_first_answer(monkeypatch)
        with pytest.warns(lineage.LineageWarning, match="the answer was lost"):
            landed = ex._write(inputs=[read, model], outputs=[written] + ([loaded] if referenced else []))
        assert lost and landed is False
        assert store._connection.writer.spool.drain(30)
        stored = {a.uri: a.id for a in store.store.get_artifacts()}
        assert (model.id, read.id, written.id) == (stored["s3://m"], stored["s3://io"], stored["s3://io"])
        events = {(e.artifact_id, e.type) for e in store.store.get_events_by_execution_ids([ex.id])}
        assert events == {
            (loaded.id, pb.Event.OUTPUT),  # the first write's (logged again: one event)
            (read.id, pb.Event.INPUT),
            (model.id, pb.Event.INPUT),
            (read.id, pb.Event.OUTPUT),
        }

    @pytest.mark.parametrize("scheme", ["postgresql", "mysql", "grpc"])
    def test_a_server_that_never_answers_does_not_hold_the_job(self, tmp_path, scheme):
        """A server that takes the connection and never answers held the
        first tracked call forever (MLMD's clients have no timeout and keep
        the GIL while they wait). Now the connection gets a deadline, the
        writes go to the spool, and the job runs to its end."""
        hole = BlackHole()
        try:
            url = {
                "postgresql": f"postgresql://postgres@127.0.0.1:{hole.port}/db",
                "mysql": f"mysql://root@127.0.0.1:{hole.port}/db",
                "grpc": f"grpc://127.0.0.1:{hole.port}?timeout=1",  # the default deadline is 10 s
            }[scheme]
            env = worker_env(tmp_path / "home", url, LINEAGE_CONNECT_TIMEOUT_SECONDS="1", LINEAGE_EXIT_DRAIN_SECONDS="0")
            worker = start_worker(env, 4)
            out, err = worker.communicate(timeout=120)  # hung for good before
        finally:
            hole.close()
        assert worker.returncode == 0, err
        assert out.split() == [w for i in range(4) for w in ("done", str(i))]
        assert "unreachable" in err and "did not answer" in err
        # Told once: not also as a log record through the handler absl (MLMD's
        # logging) puts on the root logger.
        assert err.count("is unreachable") == 1, err
        [journal] = _spool.spool_files(str(tmp_path / "home"))
        entries = [json.loads(line) for line in Path(journal).read_text().splitlines()]
        assert len([e for e in entries if "seq" in e]) == 8  # each call: RUNNING, then COMPLETE

    def test_a_service_that_never_answers_is_not_asked_again_while_writes_wait(self, monkeypatch):
        """While writes wait in the spool, calls do not ask a gRPC service that
        never answers anything (whether it escapes backslashes): that probe,
        on the caller's thread, cost a deadline again every 10 s."""
        from lineage.store import _backend, connect

        on_caller: list = []
        real_run = _backend.Backend.run

        def run(self, fn, what="call"):  # the real method, counted on the caller's thread
            if threading.current_thread() is threading.main_thread():
                on_caller.append(what)
            return real_run(self, fn, what)

        monkeypatch.setattr(_backend.Backend, "run", run)
        monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "0.1")
        hole = BlackHole()
        try:
            url = f"grpc://127.0.0.1:{hole.port}?timeout=0.5"
            lineage.init(store=url, workspace="hole", start_delay=0)
            with pytest.warns(lineage.LineageWarning, match="unreachable"):
                produce("hole", 0)
            assert on_caller  # the first call asked, and waited
            backend = connect(url).backend
            for i in range(1, 4):
                on_caller.clear()
                backend._probe_after = 0.0  # a probe would be due now
                produce("hole", i)
                assert on_caller == []
            assert len(connect(url).writer.spool) >= 6  # every write waits in the spool
        finally:
            lineage.reset_defaults()
            from lineage.store import reset_connections

            reset_connections()
            hole.close()

    def test_replay_goes_on_when_acks_cannot_be_written(self, tmp_path, sqlite_url, monkeypatch):
        """A spool file that can no longer be written (a full disk) does not
        stop the replay: the replay thread died on its first ack and the
        writes still waiting were lost though the store was back."""
        from lineage.store import connect

        port = init_on_a_down_grpc_store(monkeypatch, "acks")
        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            produced = [produce("acks", i) for i in range(4)]
        spool = connect(f"grpc://127.0.0.1:{port}").writer.spool
        journal_on_a_full_disk(spool)
        replay_on_a_served_store(sqlite_url, port, produced)
        assert len([e for e in embedded(sqlite_url).get_executions() if e.properties["name"].string_value == "produce"]) == 4

    def test_unwritable_home_keeps_writes_in_memory_until_the_store_answers(self, tmp_path, sqlite_url, monkeypatch):
        """With the store down and no spool file possible (a read-only
        LINEAGE_HOME), writes were dropped and every call waited out the retry
        budget again. Now they wait in memory, later calls queue behind them
        at once, and they land when the store answers."""
        home_that_cannot_be_made(tmp_path, monkeypatch)
        port = init_on_a_down_grpc_store(monkeypatch, "memory")
        with pytest.warns(lineage.LineageWarning, match="spool cannot be written.*kept in memory"):
            produced = [produce("memory", i) for i in range(5)]
        assert all(m.id is None for m in produced)
        replay_on_a_served_store(sqlite_url, port, produced)
        store = embedded(sqlite_url)
        assert sorted(e.properties["name"].string_value for e in store.get_executions()) == ["produce"] * 5
        assert {pb.Execution.State.Name(e.last_known_state) for e in store.get_executions()} == {"COMPLETE"}

    def test_a_second_outage_in_memory_is_warned_about_under_pythons_default_filter(self, tmp_path, sqlite_url, monkeypatch):
        """The spool warns once per outage; with no spool file (a read-only
        LINEAGE_HOME) the second outage's warning is word for word the
        first's (no file name in it), and Python's default filter shows a
        warning once per text and line: a job calling its step from one line
        was not told of the second outage, whose writes are lost if it ends
        before the store answers."""
        home_that_cannot_be_made(tmp_path, monkeypatch)
        monkeypatch.setattr(_spool, "WARNING_INTERVAL", 0.0)
        port = init_on_a_down_grpc_store(monkeypatch, "memory")

        def step(i: int) -> Metrics:
            return produce("memory", i)  # the line every warning is shown at

        with warnings.catch_warnings(record=True) as told:
            warnings.simplefilter("default")  # Python's own, for a LineageWarning (a UserWarning)
            first = [step(0)]
            replay_on_a_served_store(sqlite_url, port, first)
            assert connect(f"grpc://127.0.0.1:{port}").writer.spool.drain(10)
            second = [step(1)]
        replay_on_a_served_store(sqlite_url, port, second)
        said = [str(w.message) for w in told if issubclass(w.category, lineage.LineageWarning)]
        assert len(said) == 2 and all("kept in memory" in m for m in said), said

    @staticmethod
    def during_the_first_replayed_write(monkeypatch, action) -> list:
        """Run *action* in the replay thread once its first write has landed,
        before the replay takes that write off its queue; returns a list that
        gets True when it ran."""
        real = _backend.Backend.call
        ran: list = []

        def call(self, method, *args, **kwargs):
            result = real(self, method, *args, **kwargs)
            replaying = threading.current_thread().name == "lineage-spool-drainer"
            if method in ("put_execution", "put_lineage_subgraph") and replaying and not ran:
                ran.append(True)
                action()
            return result

        monkeypatch.setattr(_backend.Backend, "call", call)
        return ran

    def test_a_write_dropped_from_memory_while_replayed_does_not_take_the_next_with_it(self, tmp_path, sqlite_url, monkeypatch):
        """With no spool file, writes past MEMORY_LIMIT drop the oldest from
        the queue. When that oldest was the one being replayed, the replay
        then took the next write off the queue as done: a write never sent,
        lost without a word."""
        home_that_cannot_be_made(tmp_path, monkeypatch)
        monkeypatch.setattr(_spool, "MEMORY_LIMIT", 2)
        port = init_on_a_down_grpc_store(monkeypatch, "dropped")
        lineage.init(store=f"grpc://127.0.0.1:{port}", workspace="dropped", start_delay=1.0)  # one write per call
        with pytest.warns(lineage.LineageWarning, match="kept in memory"):
            produced = [produce("dropped", i) for i in range(2)]
        late: list = []
        ran = self.during_the_first_replayed_write(monkeypatch, lambda: late.append(produce("dropped", 2)))
        replay_on_a_served_store(sqlite_url, port, produced[1:])
        server = backends.ServerProcess(sqlite_url, port=port)
        try:  # the late write lands too
            deadline = time.monotonic() + 30
            while not (late and late[0].id) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            server.stop()
        assert ran and late[0].id is not None
        uris = sorted(a.uri for a in embedded(sqlite_url).get_artifacts())
        assert uris == ["file:///dropped/0", "file:///dropped/1", "file:///dropped/2"]

    def test_a_journal_writable_again_ends_the_memory_only_state(self, tmp_path, sqlite_url, monkeypatch, caplog):
        """Once a write could not be journaled (a read-only LINEAGE_HOME), the
        spool stayed "memory only" for good: writes journaled again later were
        still dropped from memory past MEMORY_LIMIT (with the one that was only
        in memory: lost), and the exit message said every write left "lost",
        though all but one were in the spool file. The state follows the
        journal now, and the message counts only the writes in memory alone."""
        from lineage.store import connect

        blocker = home_that_cannot_be_made(tmp_path, monkeypatch)
        monkeypatch.setattr(_spool, "MEMORY_LIMIT", 2)
        monkeypatch.setenv("LINEAGE_EXIT_DRAIN_SECONDS", "0")
        port = init_on_a_down_grpc_store(monkeypatch, "again")
        lineage.init(start_delay=1.0)  # one write per call
        with pytest.warns(lineage.LineageWarning, match="kept in memory"):
            produced = [produce("again", 0)]
        blocker.unlink()
        blocker.mkdir()  # the home can be written again
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lineage.LineageWarning)
            produced += [produce("again", i) for i in range(1, 4)]
        spool = connect(f"grpc://127.0.0.1:{port}").writer.spool
        assert spool.path is not None and len(spool) == 4  # none dropped: three are journaled
        with caplog.at_level(logging.WARNING, logger="lineage.spool"):
            _spool._at_exit()
        said = [r.getMessage() for r in caplog.records if r.name == "lineage.spool"]
        assert any(m.startswith("1 lineage write(s) are lost") for m in said), said
        assert any(m.startswith(f"3 lineage write(s) are left in the spool {spool.path}") for m in said), said
        replay_on_a_served_store(sqlite_url, port, produced)
        uris = sorted(a.uri for a in embedded(sqlite_url).get_artifacts())
        assert uris == [f"file:///again/{i}" for i in range(4)]

    def test_journaled_writes_dropped_from_memory_stay_in_the_spool_file(self, tmp_path, sqlite_url, monkeypatch):
        """Writes journaled before the journal failed (a full disk), then
        dropped from memory past MEMORY_LIMIT, were deleted with the spool
        file once the writes still in memory were replayed: lost, though
        `lineage sync` could have replayed them from it."""
        from lineage.store import connect

        monkeypatch.setattr(_spool, "MEMORY_LIMIT", 2)
        port = init_on_a_down_grpc_store(monkeypatch, "kept")
        lineage.init(start_delay=1.0)  # one write per call
        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            journaled = [produce("kept", i) for i in range(2)]
        spool = connect(f"grpc://127.0.0.1:{port}").writer.spool
        path = spool.path
        journal_on_a_full_disk(spool)
        with pytest.warns(lineage.LineageWarning, match="kept in memory"):
            in_memory = [produce("kept", i) for i in range(2, 5)]  # the oldest three are dropped
        replay_on_a_served_store(sqlite_url, port, in_memory[1:])
        assert os.path.exists(path)
        report = _spool.sync(into=sqlite_url, home=str(tmp_path / "home"))
        # kept/0 may have landed from memory: the replay was sending it
        # (the store down) when it was dropped, and its send went on.
        assert report.failed == [] and report.written + report.present == 2 and report.written >= 1
        uris = sorted(a.uri for a in embedded(sqlite_url).get_artifacts())
        # kept/2 was neither journaled nor kept in memory: the one write lost (and said so at exit)
        assert uris == ["file:///kept/0", "file:///kept/1", "file:///kept/3", "file:///kept/4"]
        assert journaled[1].id is None  # dropped before it was sent: sync wrote it

    def test_abandoning_a_spool_mid_replay_ends_the_replay_quietly(self, tmp_path, sqlite_url, monkeypatch):
        """abandon() empties the queue while a write is being replayed: the
        replay thread died with IndexError (pop from an empty deque)."""
        from lineage.store import connect

        port = init_on_a_down_grpc_store(monkeypatch, "abandoned")
        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            produce("abandoned", 0)
        spool = connect(f"grpc://127.0.0.1:{port}").writer.spool
        errors: list = []
        monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
        ran = self.during_the_first_replayed_write(monkeypatch, spool.abandon)
        drainer = spool._drainer
        server = backends.ServerProcess(sqlite_url, port=port)
        try:
            drainer.join(30)
        finally:
            server.stop()
        assert ran and not drainer.is_alive()
        assert errors == []
        assert len(spool) == 0 and spool._file is None

    def test_kill_lineage_serve_mid_run(self, tmp_path, sqlite_url):
        """Kill the server during 200 tracked calls, restart it, sync: 200 executions exactly once with all events."""
        home = tmp_path / "home"
        port = free_port()
        server = backends.ServerProcess(sqlite_url, port=port)
        worker = start_worker(worker_env(home, f"grpc://127.0.0.1:{port}", LINEAGE_EXIT_DRAIN_SECONDS="0"), n=200, sleep=0.005)
        wait_for_line(worker, "done 60")
        server.stop(signal.SIGKILL)
        wait_for_line(worker, "done 120")
        server = backends.ServerProcess(sqlite_url, port=port)
        try:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
            assert "unreachable" in err  # the outage was seen and spooled, not waited out
            done = run_cli(home, "sync")
            assert done.returncode == 0, done.stdout + done.stderr
        finally:
            server.stop()
        check_complete_runs(embedded(sqlite_url), 200)

    def test_stop_postgresql_under_a_running_job(self, tmp_path):
        """Stop the job's PostgreSQL mid-run and start it again: every call is stored exactly once."""
        home = tmp_path / "home"
        pg = TempPostgres()
        pg.start()
        try:
            worker = start_worker(worker_env(home, pg.url), n=120, sleep=0.01)
            wait_for_line(worker, "done 30")
            pg.stop("fast")
            wait_for_line(worker, "done 70")
            pg.start()
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err
            assert "unreachable" in err
            done = run_cli(home, "sync")
            assert done.returncode == 0, done.stdout + done.stderr
            config = pb.ConnectionConfig()
            config.postgresql.host, config.postgresql.port = "127.0.0.1", str(pg.port)
            config.postgresql.user, config.postgresql.dbname = "postgres", "lineage"
            # The check reads with a fresh client: once (of many runs, on a
            # loaded machine) its first read met "server closed the
            # connection" just after the restart; read again then.
            for attempt in range(3):
                try:
                    check_complete_runs(metadata_store.MetadataStore(config), 120)
                    break
                except mlmd_errors.InternalError as exc:
                    if "closed the connection" not in str(exc) or attempt == 2:
                        raise
                    time.sleep(1)
        finally:
            pg.close()

    def test_kill_9_the_tracking_process(self, tmp_path, sqlite_url):
        """kill -9 mid-run: the spool stays readable and sync replays every complete entry."""
        home = tmp_path / "home"
        worker = start_worker(worker_env(home, f"grpc://127.0.0.1:{free_port()}"), n=100000)
        wait_for_line(worker, "done 50")
        os.kill(worker.pid, signal.SIGKILL)
        finish(worker)
        [path] = _spool.spool_files(str(home))
        journal = _spool.read_journal(path)
        assert len(journal.entries) >= 100
        expected = {PendingWrite.from_json(e["write"]).external_id for e in journal.entries}
        report = _spool.sync(into=sqlite_url, home=str(home))
        assert report.failed == [] and report.written == len(journal.entries)
        store = embedded(sqlite_url)
        stored = {e.external_id for e in store.get_executions()}
        assert stored == expected  # nothing before the kill is lost
        ended = {
            PendingWrite.from_json(e["write"]).external_id
            for e in journal.entries
            if PendingWrite.from_json(e["write"]).execution.last_known_state == pb.Execution.COMPLETE
        }
        states = {e.external_id: e.last_known_state for e in store.get_executions()}
        assert all(states[x] == pb.Execution.COMPLETE for x in ended)


# --------------------------------------------------------------------------- damaged journals


@pytest.fixture(scope="module")
def good_spools(tmp_path_factory) -> dict:
    """The lines of two intact 10-entry spools (5 calls each, prefixes a and b) made against a dead store."""
    base = tmp_path_factory.mktemp("good_spools")
    dead = f"grpc://127.0.0.1:{free_port()}"
    workers = {p: start_worker(worker_env(base / p, dead, LINEAGE_EXIT_DRAIN_SECONDS="0"), n=5, prefix=p) for p in "ab"}
    spools = {}
    for prefix, worker in workers.items():
        assert finish(worker) == 0
        [path] = _spool.spool_files(str(base / prefix))
        data = Path(path).read_bytes()
        assert data.endswith(b"\n")
        spools[prefix] = (Path(path).name, data.split(b"\n")[:-1])
        assert len(spools[prefix][1]) == 10
    return spools


def write_spool(home: Path, name: str, lines: list, newline: bool = True) -> Path:
    folder = home / "spool"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"\n".join(lines) + (b"\n" if newline else b""))
    return path


def external_ids(lines: list) -> set:
    return {PendingWrite.from_json(json.loads(line)["write"]).external_id for line in lines}


def stored_step_ids(sqlite_url: str) -> list:
    """External ids of the stored step executions, each of which must be there once."""
    ids = [e.external_id for e in embedded(sqlite_url).get_executions() if e.properties["name"].string_value == "step"]
    assert len(ids) == len(set(ids))
    return sorted(ids)


def summary(result: subprocess.CompletedProcess) -> str:
    return result.stdout.splitlines()[0]


def resync_writes_nothing(home: Path, sqlite_url: str, unreadable: int) -> None:
    """A second sync writes nothing (the first acknowledged what it replayed)."""
    again = run_cli(home, "sync", "--into", sqlite_url)
    assert again.returncode == (1 if unreadable else 0)
    assert summary(again) == f"written: 0  already present (skipped): 0  failed: 0  unreadable: {unreadable}"


def keeps_one_unreadable(home: Path, sqlite_url: str, path: Path, where: str, reason: str, written: int) -> None:
    """status and sync report one unreadable line (*where*: "line N") and
    keep its file; sync writes the *written* others and exits 1."""
    embedded(sqlite_url)  # the store exists: status reads it, never makes one
    status = run_cli(home, "status", "--store", sqlite_url)
    assert status.returncode == 0 and f"{where} unreadable: {reason}" in status.stdout
    done = run_cli(home, "sync", "--into", sqlite_url)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert summary(done) == f"written: {written}  already present (skipped): 0  failed: 0  unreadable: 1"
    assert f"{where} of {path} unreadable: {reason}; left in the spool" in done.stdout
    assert _spool.spool_files(str(home)) == [str(path)]


class TestDamagedSpool:
    def test_undecodable_write_is_kept_and_everything_else_replayed(self, tmp_path, sqlite_url, good_spools):
        """An entry whose protobuf does not decode is reported and kept; the rest and the other file are replayed."""
        home = tmp_path / "home"
        (name_a, lines_a), (name_b, lines_b) = good_spools["a"], good_spools["b"]
        entry = json.loads(lines_a[4])
        assert entry["seq"] == 5
        entry["write"]["execution"] = base64.b64encode(b"\xff\xff\xff\xff").decode()
        bad_line = json.dumps(entry).encode()
        damaged = write_spool(home, name_a, lines_a[:4] + [bad_line] + lines_a[5:])
        intact = write_spool(home, name_b, lines_b)
        assert sorted(_spool.spool_files(str(home))) == sorted([str(damaged), str(intact)])

        embedded(sqlite_url)  # the store exists: status reads it, never makes one
        status = run_cli(home, "status", "--store", sqlite_url)
        assert status.returncode == 0, status.stderr
        assert "Traceback" not in status.stderr
        assert "spooled writes: 19 in 2 file(s)" in status.stdout
        assert "entry 5 (line 5) unreadable: the write does not decode (DecodeError" in status.stdout

        done = run_cli(home, "sync", "--into", sqlite_url)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == 1
        assert summary(done) == "written: 19  already present (skipped): 0  failed: 0  unreadable: 1"
        assert f"entry 5 (line 5) of {damaged} unreadable: the write does not decode (DecodeError" in done.stdout
        assert "left in the spool" in done.stdout
        assert _spool.spool_files(str(home)) == [str(damaged)]  # the intact file is done, the damaged one kept
        assert bad_line in damaged.read_bytes().split(b"\n")  # the unreadable entry is kept as it was
        journal = _spool.read_journal(str(damaged))
        assert journal.todo == [] and [(line, seq) for line, seq, _ in journal.unreadable] == [(5, 5)]
        assert stored_step_ids(sqlite_url) == sorted(external_ids(lines_a) | external_ids(lines_b))

        resync_writes_nothing(home, sqlite_url, unreadable=1)  # replayed entries were acknowledged
        assert len(stored_step_ids(sqlite_url)) == 10

    def test_entry_with_a_non_numeric_seq_is_kept_and_the_rest_replayed(self, tmp_path, sqlite_url, good_spools):
        """seq "x" makes its line unreadable, not the whole sync."""
        home = tmp_path / "home"
        name, lines = good_spools["a"]
        entry = json.loads(lines[4])
        entry["seq"] = "x"
        path = write_spool(home, name, lines[:4] + [json.dumps(entry).encode()] + lines[5:])
        keeps_one_unreadable(home, sqlite_url, path, "line 5", "seq is not a sequence number: 'x'", written=9)
        # entry 5 starts call 2, entry 6 (replayed) ends it: every call is stored, once
        assert stored_step_ids(sqlite_url) == sorted(external_ids(lines))
        resync_writes_nothing(home, sqlite_url, unreadable=1)

    def test_unreadable_ack_is_reported_and_every_entry_replayed(self, tmp_path, sqlite_url, good_spools):
        """{"ack": "abc"} is an unreadable line: the 10 entries are replayed, the file is kept."""
        home = tmp_path / "home"
        name, lines = good_spools["a"]
        path = write_spool(home, name, lines + [b'{"ack": "abc"}'])
        keeps_one_unreadable(home, sqlite_url, path, "line 11", "ack is not a sequence number: 'abc'", written=10)
        assert b'{"ack": "abc"}' in path.read_bytes().split(b"\n")
        assert stored_step_ids(sqlite_url) == sorted(external_ids(lines))
        resync_writes_nothing(home, sqlite_url, unreadable=1)

    def test_truncated_last_line_one_sync_replays_all_and_removes_the_file(self, tmp_path, sqlite_url, good_spools):
        """A write cut short by a crash (no final newline) is ignored; the acks are not glued to it."""
        home = tmp_path / "home"
        name, lines = good_spools["a"]
        path = write_spool(home, name, lines[:-1] + [lines[-1][:1000]], newline=False)
        done = run_cli(home, "sync", "--into", sqlite_url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert summary(done) == "written: 9  already present (skipped): 0  failed: 0  unreadable: 0"
        assert "1 incomplete line(s) ignored (a write cut short by a crash)" in done.stdout
        assert not path.exists() and _spool.spool_files(str(home)) == []
        assert stored_step_ids(sqlite_url) == sorted(external_ids(lines[:-1]))
        resync_writes_nothing(home, sqlite_url, unreadable=0)
        assert len(stored_step_ids(sqlite_url)) == 5

    def test_cut_last_line_of_a_kept_file_is_ended_before_the_acks(self, tmp_path, sqlite_url, good_spools):
        """When the file stays (here for a garbage line), its cut line is ended and marked: acks stay readable."""
        home = tmp_path / "home"
        name, lines = good_spools["a"]
        path = write_spool(home, name, lines[:3] + [b"garbage{{{"] + lines[3:-1] + [lines[-1][:1000]], newline=False)
        first = run_cli(home, "sync", "--into", sqlite_url)
        assert first.returncode == 1
        assert summary(first) == "written: 9  already present (skipped): 0  failed: 0  unreadable: 1"
        assert path.read_bytes().split(b"\n")[10] == lines[-1][:1000]  # the cut line itself is kept, now ended
        journal = _spool.read_journal(str(path))
        assert not journal.partial and journal.cut == 1 and journal.todo == []
        assert [line for line, _, _ in journal.unreadable] == [4]  # the garbage line, not the cut one
        again = run_cli(home, "sync", "--into", sqlite_url)  # every ack was read back: nothing replayed twice
        assert summary(again) == "written: 0  already present (skipped): 0  failed: 0  unreadable: 1"
        assert "1 incomplete line(s) ignored" in again.stdout
        assert stored_step_ids(sqlite_url) == sorted(external_ids(lines[:-1]))

    def test_garbage_line_in_the_middle_is_unreadable_not_a_cut_write(self, tmp_path, sqlite_url, good_spools):
        """A bad line that is not the last is reported as unreadable and the file kept with it."""
        home = tmp_path / "home"
        name, lines = good_spools["a"]
        garbage = b"\x00\x01garbage{{{"
        path = write_spool(home, name, lines[:3] + [garbage] + lines[3:])
        done = run_cli(home, "sync", "--into", sqlite_url)
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode == 1
        assert summary(done) == "written: 10  already present (skipped): 0  failed: 0  unreadable: 1"
        assert f"line 4 of {path} unreadable: not a JSON line" in done.stdout and "left in the spool" in done.stdout
        assert "incomplete line" not in done.stdout and "cut short" not in done.stdout
        assert _spool.spool_files(str(home)) == [str(path)]
        assert path.read_bytes().split(b"\n")[3] == garbage
        assert stored_step_ids(sqlite_url) == sorted(external_ids(lines))
        resync_writes_nothing(home, sqlite_url, unreadable=1)
        assert len(stored_step_ids(sqlite_url)) == 5


def test_lineage_leaves_the_users_logging_alone(tmp_path):
    """MLMD logs through absl, which calls logging.basicConfig() when the root
    logger has no handler: after the first store connection the user's own
    basicConfig(...) did nothing, and lineage's warnings printed twice."""
    code = (
        "import logging, lineage\n"
        f"lineage.init(store='sqlite:///{tmp_path / 'log.db'}', start_delay=0)\n"
        "lineage.track(lambda: lineage.Model(uri='s3://log/m', name='m'))()\n"
        "from lineage.store import _backend, parse_store_url\n"
        "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()\n"
        "try:\n"
        "    _backend.Backend(parse_store_url(f'grpc://127.0.0.1:{port}?timeout=0.5')).call('get_context_types')\n"
        "except lineage.StoreUnavailableError:\n"
        "    pass\n"
        "print(len(logging.root.handlers))\n"
        "logging.basicConfig(level=logging.INFO, format='MINE %(message)s')\n"
        "logging.getLogger('app').info('configured')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(LINEAGE_HOME=str(tmp_path / "home"), LINEAGE_RETRY_UNAVAILABLE_SECONDS="0.3")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
    assert "MINE configured" in done.stderr


def test_a_call_cancelled_by_a_stopping_service_is_retried_then_spooled(sqlite_url, monkeypatch):
    """A gRPC service that stops cancels the calls it had queued (CANCELLED):
    such a call is retried like an unreachable store's, and so ends in the
    spool if the service stays away (it was an error: the write was lost)."""
    from ml_metadata import errors as mlmd_errors

    from lineage.store import RetryPolicy, _backend, parse_store_url

    backend = _backend.Backend(parse_store_url(sqlite_url), RetryPolicy(unavailable_delay=0.3))
    attempts = []

    def cancelled_once(store):
        attempts.append(1)
        if len(attempts) == 1:
            raise mlmd_errors.CancelledError("Cancelling all calls")
        return store.get_context_types()

    assert backend.run(cancelled_once, what="get_context_types") == [] and len(attempts) == 2

    def always_cancelled(store):
        raise mlmd_errors.CancelledError("Cancelling all calls")

    with pytest.raises(lineage.StoreUnavailableError, match="CancelledError"):
        backend.run(always_cancelled, what="put_execution")


def test_the_backslash_probe_of_a_postgresql_backed_service_is_silent(tmp_path):
    """Through lineage serve with PostgreSQL behind it the probe fails by design:
    MLMD printed that failure ("mlmd client InternalError ... syntax error") in
    every process, and absl's basicConfig stayed installed, so the user's own
    logging.basicConfig(...) did nothing."""
    backends.require_server("PostgreSQL", backends.PG["host"], backends.PG["port"])
    database = backends.new_database_name()
    backends._created.append(("postgresql", database))
    server = backends.ServerProcess(backends.postgresql_url(database))
    code = (
        "import logging, lineage\n"
        f"lineage.init(store='{server.url}', start_delay=0, strict=True)\n"
        "lineage.track(lambda d: lineage.Model(uri='s3://probe/m', name='m'))(lineage.DataSet(uri='s3://probe\\\\d', name='d'))\n"
        "print(len(logging.root.handlers))\n"
        "logging.basicConfig(level=logging.INFO, format='MINE %(message)s')\n"
        "logging.getLogger('app').info('configured')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(LINEAGE_HOME=str(tmp_path / "home"))
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert (done.stdout.strip(), "mlmd client" in done.stderr, "MINE configured" in done.stderr) == ("0", False, True)


def test_a_mysql_schema_another_process_is_still_making_is_waited_for(tmp_path, monkeypatch):
    """MariaDB answers "MLMDEnv table exists but no schema_version ... Please retry
    connection" while another process makes MLMD's schema. That is a conflict,
    retried within LINEAGE_RETRY_SECONDS; it was taken for an unreachable store
    (2 s budget): a warning, and the writes went to the spool."""
    backends.require_server("MariaDB", backends.MYSQL["host"], backends.MYSQL["port"])
    database = backends.new_database_name()
    backends._created.append(("mysql", database))
    mysql = ["mysql", "-u", backends.MYSQL["user"], "-h", backends.MYSQL["host"], "-P", str(backends.MYSQL["port"])]
    subprocess.run(
        [*mysql, "-e", f"CREATE DATABASE {database}; CREATE TABLE {database}.MLMDEnv (schema_version INTEGER PRIMARY KEY);"],
        check=True,
        timeout=60,
    )
    # The other process finishes after 3 s (it leaves MLMD to make the schema).
    finisher = threading.Timer(3.0, lambda: subprocess.run([*mysql, "-e", f"DROP TABLE {database}.MLMDEnv"], timeout=60))
    monkeypatch.setenv("LINEAGE_HOME", str(tmp_path / "home"))
    lineage.init(store=backends.mysql_url(database), workspace="race", start_delay=0)

    @lineage.track
    def step(d: lineage.DataSet) -> lineage.Model:
        return lineage.Model(uri="s3://race/m", name="m")

    finisher.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = step(lineage.DataSet(uri="s3://race/d", name="d"))
    finally:
        finisher.join()
    assert [str(w.message) for w in caught if issubclass(w.category, lineage.LineageWarning)] == []
    assert model.id is not None and _spool.spool_files(str(tmp_path / "home")) == []


def test_a_spooled_output_then_an_input_changed_is_one_artifact(tmp_path, sqlite_url, monkeypatch):
    """A record logged as e1's output (spooled: the store is down), then as
    e2's input and changed before e2's write, is one artifact when both are
    replayed: the copy sent for what it was had its own key."""
    init_on_a_down_grpc_store(monkeypatch, "copy")
    port = int(lineage._config.store_url().rsplit(":", 1)[1])
    record = Metrics(uri="s3://copy/A", name="r")
    with pytest.warns(lineage.LineageWarning, match="unreachable"):
        with lineage.execution("e1") as ex:
            ex.log_output(record)
        with lineage.execution("e2") as ex:
            ex.log_input(record)
            record.uri = "s3://copy/B"
    server = backends.ServerProcess(sqlite_url, port=port)
    try:
        deadline = time.monotonic() + 30
        while _spool.spool_files(str(tmp_path / "home")) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
    store = embedded(sqlite_url)
    got = {}
    for execution in store.get_executions():
        events = store.get_events_by_execution_ids([execution.id])
        got[execution.properties["name"].string_value] = [(e.type, e.artifact_id) for e in events]
    assert got["e1"][0][1] == got["e2"][0][1]  # what e2 read is what e1 made
    assert sorted(a.uri for a in store.get_artifacts()) == ["s3://copy/A"]


def test_params_flushed_while_the_store_is_down_are_stored_by_the_replay(sqlite_url, monkeypatch):
    """The replay of a write that adds no event but changes the execution
    (log_param + flush while the store was down) was taken as "already
    present": the params never reached the store before the end write."""
    monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "0.05")
    lineage.init(store=sqlite_url, workspace="w")
    down = threading.Event()
    real_call = _backend.Backend.call

    def call(self, method, *args, **kwargs):
        if down.is_set():
            raise lineage.StoreUnavailableError("down (test)")
        return real_call(self, method, *args, **kwargs)

    monkeypatch.setattr(_backend.Backend, "call", call)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lineage.execution("train", start_delay=0) as ex:
            down.set()
            ex.log_param("lr", 0.5)
            ex.flush()  # spooled
            spool = connect(sqlite_url).writer.spool
            assert spool.pending()
            down.clear()
            assert spool.drain(10)
            [stored] = embedded(sqlite_url).get_executions()
            assert stored.last_known_state == pb.Execution.RUNNING
            assert stored.custom_properties["lr"].double_value == 0.5


def test_a_sync_while_a_process_opens_its_spool_never_takes_the_file(tmp_path, monkeypatch):
    """A sync that met a spool file between its creation and its lock deleted
    it as empty: every write journaled there was lost."""
    monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.1")
    monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "30")
    real_flock = fcntl.flock
    synced = []

    def slow_flock(fd, op):
        if op == fcntl.LOCK_EX | fcntl.LOCK_NB and threading.current_thread() is threading.main_thread():
            worker = threading.Thread(target=lambda: synced.append(_spool.sync()))
            worker.start()
            worker.join()  # a sync runs between open() and flock()
        return real_flock(fd, op)

    monkeypatch.setattr(_spool.fcntl, "flock", slow_flock)
    dead = "postgresql://postgres@127.0.0.1:1/h2_dead"
    lineage.init(store=dead, workspace="w", start_delay=0)

    @lineage.track
    def step(i: int) -> int:
        return i

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(3):
            step(i)
    assert synced and synced[0].files_done == 0
    spool = connect(dead).writer.spool
    assert spool._memory_only is None
    [path] = _spool.spool_files()
    assert os.path.exists(path) and len(_spool.read_journal(path).todo) == 6


def test_a_replayed_write_with_a_double_the_store_rounds_is_present(tmp_path, sqlite_url, monkeypatch):
    """MLMD keeps 6 decimals of a double: a write replayed again (a sync
    killed before its acks) whose params hold 0.12345678 was never found
    present, and was written again."""
    home = tmp_path / "home"
    dead = "postgresql://postgres@127.0.0.1:1/h8_dead"
    monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.1")
    lineage.init(store=dead, workspace="w", start_delay=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lineage.execution("train") as ex:
            ex.log_param("lr", 0.12345678)
    _spool.abandon_all()
    first, again = sync_twice(home, sqlite_url)
    assert (first.written, first.present, first.failed) == (2, 0, [])
    assert (again.written, again.present, again.failed) == (0, 2, [])


DISK_FILLS_UP = """
import os, resource, signal, sys, time
import lineage
from lineage import Metrics, track

db = sys.argv[1]
lineage.init(store=f"sqlite:///{db}", workspace="w", start_delay=0)

@track
def produce(i: int) -> Metrics:
    return Metrics(uri=f"file:///m/{i}", name=f"m{i}")

@track
def consume(m: Metrics) -> None:
    return None

first = produce(0)
# The disk fills up: the store's files can grow no more (the spool's, small, can).
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(db + "-wal") // 2, resource.RLIM_INFINITY))
second = produce(1)
consume(second)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
third = produce(2)
consume(third)
"""


def test_a_disk_that_fills_up_under_a_sqlite_store_loses_no_record(tmp_path):
    """A SQLite store whose disk filled up ("disk I/O error" on COMMIT) left
    MLMD's connection in its transaction: that write and every later one of
    the process were refused ("Transaction already open.") and lost, even
    once the disk had room again. The connection is opened anew, the writes
    spooled meanwhile and replayed: every call is stored, once, with its edge."""
    home = tmp_path / "home"
    db = tmp_path / "store.db"
    env = worker_env(home, f"sqlite:///{db}", LINEAGE_RETRY_SECONDS="1")
    done = subprocess.run([sys.executable, "-c", DISK_FILLS_UP, str(db)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Transaction already open" not in done.stderr
    store = embedded(f"sqlite:///{db}")
    executions = store.get_executions()
    names = sorted(e.properties["name"].string_value for e in executions)
    assert names == ["consume", "consume", "produce", "produce", "produce"]
    assert {e.last_known_state for e in executions} == {pb.Execution.COMPLETE}
    by_id = {a.id: a.uri for a in store.get_artifacts()}
    assert sorted(by_id.values()) == ["file:///m/0", "file:///m/1", "file:///m/2"]
    names = {e.id: e.properties["name"].string_value for e in executions}
    edges = sorted((names[ev.execution_id], pb.Event.Type.Name(ev.type), by_id[ev.artifact_id])
                   for ev in store.get_events_by_execution_ids(list(names)))
    assert edges == [
        ("consume", "INPUT", "file:///m/1"), ("consume", "INPUT", "file:///m/2"),
        ("produce", "OUTPUT", "file:///m/0"), ("produce", "OUTPUT", "file:///m/1"), ("produce", "OUTPUT", "file:///m/2"),
    ]
    assert _spool.spool_files(str(home)) == []


READ_ONLY_FOR_A_WHILE = """
import sys
import lineage
from lineage import Metrics, track

lineage.init(store=sys.argv[1], workspace="w", start_delay=0)

@track
def produce(i: int) -> Metrics:
    return Metrics(uri=f"file:///m/{i}", name=f"m{i}")

for i in range(int(sys.argv[2]), int(sys.argv[3])):
    produce(i)
"""


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_writes_to_a_sqlite_store_on_a_read_only_folder_are_spooled_not_lost(tmp_path, journal):
    """A store that cannot be written now (its folder mounted read-only: a
    WAL file cannot be opened, "unable to open database file"; a Kubeflow-era
    file is opened and refuses each write, "attempt to write a readonly
    database"; on PostgreSQL a standby during a failover) refused each
    write, and the records were lost with a warning. They are spooled, and
    replayed once it can be written."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs privileges this process lacks: {made.stderr.strip()}")
    try:
        home, url = tmp_path / "home", f"sqlite:///{mount / 'store.db'}"
        env = worker_env(home, url)
        run = [sys.executable, "-c", READ_ONLY_FOR_A_WHILE, url]
        first = subprocess.run(run + ["0", "1"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        conn = sqlite3.connect(mount / "store.db")
        try:
            assert conn.execute(f"PRAGMA journal_mode={journal}").fetchone()[0] == journal
        finally:
            conn.close()  # the folder is remounted only with no file open
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        try:
            # LINEAGE_EXIT_DRAIN_SECONDS=0: the spool is left for `lineage sync`.
            ro = subprocess.run(run + ["1", "4"], env={**env, "LINEAGE_EXIT_DRAIN_SECONDS": "0"}, cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(mount)], check=True)
        assert ro.returncode == 0, ro.stderr
        assert "writes are kept in the spool" in ro.stderr, ro.stderr
        assert ("readonly database" if journal == "delete" else "unable to open database file") in ro.stderr
        assert len(_spool.spool_files(str(home))) == 1
        report = _spool.sync(home=str(home))
        assert (report.written, report.failed) == (6, [])  # 3 calls, each RUNNING then COMPLETE
        store = embedded(url)
        assert sorted(a.uri for a in store.get_artifacts()) == [f"file:///m/{i}" for i in range(4)]
        assert {e.last_known_state for e in store.get_executions()} == {pb.Execution.COMPLETE}
        del store
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


SPOOLS_BEHIND_A_LOCK = """
import logging, subprocess, sys, time, warnings
import lineage
from lineage import Metrics, track

db = sys.argv[1]
lineage.init(store=f"sqlite:///{db}", workspace="w", start_delay=0)

@track
def produce(i: int) -> Metrics:
    return Metrics(uri=f"file:///m/{i}", name=f"m{i}")

produce(0)
locker = subprocess.Popen(
    [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
     "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)", db],
    stdout=subprocess.PIPE, text=True,
)
locker.stdout.readline()
told = warnings.showwarning

def showwarning(*args, **kwargs):
    # The replay, started with the write, meets the lock before the warning
    # is told (MLMD logs its retries through absl, which puts a handler on
    # the root logger while it retries).
    deadline = time.monotonic() + 10
    while not logging.root.handlers and time.monotonic() < deadline:
        time.sleep(0.001)
    told(*args, **kwargs)

warnings.showwarning = showwarning
produce(1)
locker.kill()
locker.wait()
"""


def test_the_spool_warning_is_told_once_when_the_replay_meets_the_store_first(tmp_path):
    """The replay thread starts with the first spooled write, and MLMD's
    logging of its failures (absl) puts a handler on the root logger while
    it retries: the warning saying where the spool is, told just after, was
    then also logged, as if the user had set up logging: twice on stderr."""
    db = tmp_path / "store.db"
    env = worker_env(tmp_path / "home", f"sqlite:///{db}", LINEAGE_RETRY_SECONDS="2", LINEAGE_EXIT_DRAIN_SECONDS="5")
    done = subprocess.run([sys.executable, "-c", SPOOLS_BEHIND_A_LOCK, str(db)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("is unreachable") == 1, done.stderr
    assert "writes are kept in the spool" in done.stderr
    assert len(embedded(f"sqlite:///{db}").get_executions()) == 2  # replayed once the lock is gone


def test_the_spool_warning_gives_the_reason_not_mlmds_dump_of_the_write(sqlite_url, monkeypatch, tmp_path):
    """A SQLite store another process holds locked: the warning quoted MLMD's
    message whole, every property of the execution (its provenance, the
    command line) before the reason, a line of over a thousand characters."""
    monkeypatch.setenv("LINEAGE_RETRY_SECONDS", "0.5")
    monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.3")
    lineage.init(store=sqlite_url, workspace="w", start_delay=0)
    produce("lock", 0)
    db = sqlite_url[len("sqlite:///"):]
    locker = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)", db],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline() == "locked\n"
        with pytest.warns(lineage.LineageWarning, match="unreachable") as told:
            produce("lock", 1)
    finally:
        locker.kill()
        locker.wait()
        locker.stdout.close()
    [message] = [str(w.message) for w in told]
    assert "AbortedError: Concurrent writes aborted after max number of retries" in message
    assert "Cannot create node" not in message and "provenance" not in message
    assert message.endswith("and retried in the background (`lineage sync` replays what is left)")
    assert len(message) < 400 + len(sqlite_url) * 2 + len(str(tmp_path)), message
    assert connect(sqlite_url).writer.spool.drain(30)
