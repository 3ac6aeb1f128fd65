"""Never break the job, never lose a record: spool, background drain, sync, faults.

Real processes and real servers: tracking runs in worker subprocesses
(tests/workers.py), the store is a SQLite file behind ``lineage serve`` or a
PostgreSQL instance the test makes for itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage
from lineage import Metrics, track
from lineage.store import _spool
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
        first = run_cli(home, "sync", "--store", sqlite_url)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "written: 40" in first.stdout
        check_complete_runs(embedded(sqlite_url), 20)
        assert _spool.spool_files(str(home)) == []  # fully replayed files are removed
        second = run_cli(home, "sync", "--store", sqlite_url)
        assert "written: 0" in second.stdout
        check_complete_runs(embedded(sqlite_url), 20)

    def test_replaying_again_after_a_killed_sync_duplicates_nothing(self, tmp_path, sqlite_url):
        """A journal replayed twice (as after a sync killed before its acks) reports the second time as present."""
        home = tmp_path / "home"
        worker = start_worker(worker_env(home, f"grpc://127.0.0.1:{free_port()}", LINEAGE_EXIT_DRAIN_SECONDS="0"), n=10)
        assert finish(worker) == 0
        [path] = _spool.spool_files(str(home))
        copy = tmp_path / "copy.spool"
        shutil.copy(path, copy)
        report = _spool.sync(store=sqlite_url, home=str(home))
        assert (report.written, report.present, report.failed) == (20, 0, [])
        shutil.copy(copy, path)  # as if the first sync died before writing its acks
        report = _spool.sync(store=sqlite_url, home=str(home))
        assert (report.written, report.present) == (0, 20)
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
            handle.write(json.dumps({"seq": 99, "time": "t", "store": journal.entries[0]["store"], "write": bad.to_json()}) + "\n")
        done = run_cli(home, "sync", "--store", sqlite_url)
        assert done.returncode == 1
        assert "written: 4" in done.stdout and "failed: 1" in done.stdout
        assert "entry 99" in done.stdout and "invalid artifact id 987654" in done.stdout
        [left] = _spool.spool_files(str(home))
        assert [e["seq"] for e in _spool.read_journal(left).todo] == [99]
        check_complete_runs(embedded(sqlite_url), 2)

    def test_spool_drains_by_itself_when_the_store_comes_back(self, tmp_path, sqlite_url, monkeypatch):
        """While the process runs, spooled writes reach the store once it answers again; ids get set."""
        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
        monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "0.1")
        port = free_port()
        lineage.init(store=f"grpc://127.0.0.1:{port}", workspace="drain", start_delay=0)

        @track
        def produce(i: int) -> Metrics:
            return Metrics(uri=f"file:///metrics/{i}", name=f"m{i}")

        @track
        def consume(m: Metrics) -> None:
            return None

        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            produced = [produce(i) for i in range(3)]
        consume(produced[0])  # depends on a spooled write: queued behind it
        assert all(m.id is None for m in produced)
        assert len(_spool.spool_files(str(tmp_path / "home"))) == 1
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


class TestFaults:
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
            check_complete_runs(metadata_store.MetadataStore(config), 120)
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
        report = _spool.sync(store=sqlite_url, home=str(home))
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
