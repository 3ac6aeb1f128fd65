"""``lineage serve``: real server processes, MLMD's stock client, lineage's client."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import warnings
from typing import Any, Iterator

import grpc
import pytest
from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.metadata_store.pywrap.metadata_store_extension import metadata_store as mlmd_extension
from ml_metadata.proto import metadata_store_pb2 as pb
from ml_metadata.proto import metadata_store_service_pb2 as svc
from ml_metadata.proto import metadata_store_service_pb2_grpc as svc_grpc

import lineage
from lineage.store import parse_store_url
from tests import backends
from tests.backends import ServerProcess

KUBEFLOW_ARTIFACT_TYPES = {
    "kubeflow.org/alpha/data_set": pb.ArtifactType.DATASET,
    "kubeflow.org/alpha/model": pb.ArtifactType.MODEL,
    "kubeflow.org/alpha/metrics": pb.ArtifactType.METRICS,
}
MLMD_SERVICE = "ml_metadata.MetadataStoreService"


def mlmd_client(port: int, **ssl: bytes) -> metadata_store.MetadataStore:
    """MLMD's stock gRPC client, as its documentation builds it."""
    config = pb.MetadataStoreClientConfig(host="127.0.0.1", port=port)
    if ssl:
        config.ssl_config.custom_ca = ssl["root_certificates"].decode()
        if "private_key" in ssl:
            config.ssl_config.client_key = ssl["private_key"].decode()
            config.ssl_config.server_cert = ssl["certificate_chain"].decode()
    config.client_timeout_sec = 30
    return metadata_store.MetadataStore(config)


def embedded(url: str) -> metadata_store.MetadataStore:
    """The same store opened directly, to check what the server wrote."""
    return metadata_store.MetadataStore(parse_store_url(url).connection_config())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw_call(port: int, method: str, request: bytes = b"") -> bytes:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return channel.unary_unary(method)(request, timeout=30)


def log_one_of_each(store: lineage.Store, workspace: str = "ws") -> tuple:
    ws = lineage.Workspace(store=store, name=workspace, description="shared", labels={"team": "a"})
    run = lineage.Run(workspace=ws, name="first run")
    ex = lineage.Execution(name="train", workspace=ws, run=run)
    data = ex.log_input(lineage.DataSet(uri="s3://bucket/data.csv", name="data", version="1"))
    model = ex.log_output(lineage.Model(uri="s3://bucket/model", name="mnist", version="3"))
    metrics = ex.log_output(lineage.Metrics(uri="file:///eval.json", name="eval", values={"accuracy": 0.97}))
    return ws, ex, data, model, metrics


def log_a_data_set_with_a_long_query_twice(url: str, served: str) -> None:
    """A DataSet with a long query logged to *url*, then, by a tracked call
    in strict mode, through the server at *served*: found stored, the call's
    Model written."""
    query = "SELECT * FROM events WHERE " + " OR ".join(f"id = {i}" for i in range(1500))

    def run(store: lineage.Store, tag: str) -> tuple:
        @lineage.track(store=store, workspace="ws")
        def step(data: lineage.DataSet) -> lineage.Model:
            return lineage.Model(uri=f"s3://m/{tag}", name="m")

        data = lineage.DataSet(uri="s3://d", name="d", query=query)
        return data, step(data)

    elsewhere, _ = run(lineage.Store(url=url), "embedded")
    lineage.init(strict=True)
    data, model = run(lineage.Store(url=served), "served")
    assert model.id is not None and data.id == elsewhere.id


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def served(request, tmp_path):
    """A store URL on each database backend and a ``lineage serve`` in front of it."""
    url = backends.make_url(request.param, tmp_path)
    server = ServerProcess(url)
    yield url, server
    server.stop()


@pytest.fixture
def sqlite_server(sqlite_url):
    server = ServerProcess(sqlite_url)
    yield sqlite_url, server
    server.stop()


class TestStockClient:
    """MLMD's own Python client talks to lineage serve as to metadata-grpc-service."""

    def test_registers_the_kubeflow_types_at_start(self, served):
        """The Kubeflow alpha types exist before any client wrote anything."""
        _, server = served
        client = mlmd_client(server.port)
        types = {t.name: t for t in client.get_artifact_types()}
        for name, base_type in KUBEFLOW_ARTIFACT_TYPES.items():
            assert types[name].base_type == base_type
            assert "__ALL_META__" in types[name].properties
        assert set(client.get_execution_type("kubeflow.org/alpha/execution").properties) >= {"name", "create_time"}
        assert set(client.get_context_type("kubeflow.org/alpha/workspace").properties) == {"description", "labels"}

    def test_round_trip_of_types_nodes_events_contexts(self, served):
        """What the stock client writes through the server is in the store and reads back."""
        url, server = served
        client = mlmd_client(server.port)
        a_type = client.put_artifact_type(pb.ArtifactType(name="acme/blob", properties={"size": pb.INT}))
        e_type = client.put_execution_type(pb.ExecutionType(name="acme/step"))
        c_type = client.put_context_type(pb.ContextType(name="acme/project"))
        artifact = pb.Artifact(type_id=a_type, uri="s3://b/1", name="one")
        artifact.properties["size"].int_value = 7
        execution = pb.Execution(type_id=e_type, last_known_state=pb.Execution.COMPLETE)
        context = pb.Context(type_id=c_type, name="p1")
        event = pb.Event(type=pb.Event.OUTPUT)
        event.path.steps.add(key="return")
        execution_id, [artifact_id], [context_id] = client.put_execution(execution, [(artifact, event)], [context])

        [stored] = client.get_artifacts_by_id([artifact_id])
        assert (stored.uri, stored.name, stored.properties["size"].int_value) == ("s3://b/1", "one", 7)
        [stored_event] = client.get_events_by_execution_ids([execution_id])
        assert (stored_event.artifact_id, stored_event.type) == (artifact_id, pb.Event.OUTPUT)
        assert [e.id for e in client.get_executions_by_context(context_id)] == [execution_id]
        assert [c.name for c in client.get_contexts_by_artifact(artifact_id)] == ["p1"]

        direct = embedded(url)
        assert [a.uri for a in direct.get_artifacts_by_id([artifact_id])] == ["s3://b/1"]

    def test_errors_keep_their_status(self, served):
        """AlreadyExists, NotFound and InvalidArgument reach the client as such."""
        _, server = served
        client = mlmd_client(server.port)
        a_type = client.put_artifact_type(pb.ArtifactType(name="acme/unique"))
        client.put_artifacts([pb.Artifact(type_id=a_type, uri="u", name="same")])
        with pytest.raises(mlmd_errors.AlreadyExistsError):
            client.put_artifacts([pb.Artifact(type_id=a_type, uri="u", name="same")])
        with pytest.raises(mlmd_errors.NotFoundError):
            client.get_artifact_type("acme/no-such-type")
        with pytest.raises(mlmd_errors.InvalidArgumentError):
            client.put_artifacts([pb.Artifact(uri="no type id")])

    def test_an_error_quoting_a_large_node_keeps_its_status(self, served):
        """MLMD quotes the whole node it could not write before the reason: a
        message longer than a gRPC client takes (16 KiB, percent-encoded) came
        as RESOURCE_EXHAUSTED ("Stream removed"), not ALREADY_EXISTS or NOT_FOUND."""
        _, server = served
        client = mlmd_client(server.port)
        a_type = client.put_artifact_type(pb.ArtifactType(name="acme/big", properties={"query": pb.STRING}))
        artifact = pb.Artifact(type_id=a_type, uri="s3://big", external_id="big")
        # 5 kB (PostgreSQL indexes the value: 8 kB at most), quoted as 20 kB (é as \303\251)
        artifact.properties["query"].string_value = "SELECT * FROM t WHERE name = '" + "é" * 2500 + "'"
        client.put_artifacts([artifact])
        with pytest.raises(mlmd_errors.AlreadyExistsError) as caught:
            client.put_artifacts([artifact])
        message = str(caught.value)
        assert message.startswith("Given node already exists") and len(message) < 5000
        assert any(reason in message for reason in ("UNIQUE constraint failed", "duplicate key", "Duplicate entry"))
        with pytest.raises(mlmd_errors.NotFoundError, match="No type found for query, name: `ééé"):
            client.get_artifact_type("é" * 3000)  # quoted as it is: 6 bytes a character once percent-encoded

    def test_status_codes_on_the_wire(self, sqlite_server):
        """The gRPC status itself is MLMD's code, with MLMD's message."""
        _, server = sqlite_server
        request = svc.GetArtifactTypeRequest(type_name="acme/none").SerializeToString()
        with pytest.raises(grpc.RpcError) as caught:
            raw_call(server.port, f"/{MLMD_SERVICE}/GetArtifactType", request)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
        assert "acme/none" in caught.value.details()

    def test_response_bytes_equal_the_embedded_store(self, sqlite_server):
        """The server adds nothing: its response is the embedded store's, to the byte count.

        (Map fields may serialize in another order, so the messages are compared.)
        """
        url, server = sqlite_server
        request = svc.GetArtifactTypesRequest().SerializeToString()
        via_server = raw_call(server.port, f"/{MLMD_SERVICE}/GetArtifactTypes", request)
        response, _, code = mlmd_extension.GetArtifactTypes(embedded(url)._metadata_store, request)
        assert code == 0
        assert len(via_server) == len(response)
        parsed = svc.GetArtifactTypesResponse.FromString(via_server)
        assert parsed == svc.GetArtifactTypesResponse.FromString(response)
        assert len(parsed.artifact_types) >= 3

    @pytest.mark.parametrize(
        "method",
        [
            f"/{MLMD_SERVICE}/NoSuchMethod",
            "/acme.Unknown/Method",
            # In the service descriptor but not exported by the ml-metadata wheel.
            f"/{MLMD_SERVICE}/GetLineageGraph",
        ],
    )
    def test_unknown_methods_are_unimplemented(self, sqlite_server, method):
        """A method the embedded store cannot answer is UNIMPLEMENTED."""
        _, server = sqlite_server
        with pytest.raises(grpc.RpcError) as caught:
            raw_call(server.port, method, b"")
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


class TestHealth:
    """The standard grpc.health.v1 check."""

    CHECK = "/grpc.health.v1.Health/Check"
    SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}

    @staticmethod
    def request(service: str) -> bytes:
        data = service.encode()
        return (b"\x0a" + bytes([len(data)]) + data) if data else b""

    def test_serving_for_the_server_and_the_mlmd_service(self, sqlite_server):
        """Check("") and Check("ml_metadata.MetadataStoreService") answer SERVING."""
        _, server = sqlite_server
        assert raw_call(server.port, self.CHECK, self.request("")) == self.SERVING
        assert raw_call(server.port, self.CHECK, self.request(MLMD_SERVICE)) == self.SERVING

    def test_unknown_service_is_not_found(self, sqlite_server):
        """Check of a service the server does not run is NOT_FOUND, per the protocol."""
        _, server = sqlite_server
        with pytest.raises(grpc.RpcError) as caught:
            raw_call(server.port, self.CHECK, self.request("acme.Other"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    def test_answered_while_calls_wait_for_the_store(self, sqlite_url):
        """A flood of calls (more than the server's worker threads) waiting
        for a slow store queued the health checks behind them, without
        limit: a probe (kubelet's) timed out, and the server was restarted
        for being busy. Health checks have threads of their own."""
        from lineage.store import _server

        server = _server.MetadataServer(parse_store_url(sqlite_url), port=0, max_workers=4)
        server.start()
        method = f"/{MLMD_SERVICE}/GetArtifactTypes"
        try:
            with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                with server.store._lock:  # the store busy with one long call
                    waiting = [channel.unary_unary(method).future(b"", timeout=60) for _ in range(20)]
                    time.sleep(0.5)  # the calls reach the server and take its workers
                    answer = channel.unary_unary(self.CHECK)(self.request(""), timeout=3)
                assert answer == self.SERVING
                assert all(call.exception() is None for call in waiting)  # then answered, in turn
        finally:
            server.stop(0)

    def test_watch_is_unimplemented(self, sqlite_server):
        """Watch, which would hold a worker thread per stream, is UNIMPLEMENTED (allowed by the protocol)."""
        _, server = sqlite_server
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stream = channel.unary_stream("/grpc.health.v1.Health/Watch")(b"", timeout=30)
            with pytest.raises(grpc.RpcError) as caught:
                next(stream)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


class TestLineageClient:
    """lineage's own grpc:// client against lineage serve."""

    def test_imperative_api_through_the_server(self, served):
        """Workspace/Run/Execution/log_* via grpc:// land in the served store."""
        url, server = served
        remote = lineage.Store(url=server.url)
        ws, ex, data, model, metrics = log_one_of_each(remote)

        local = lineage.Store(url=url)
        local_ws = lineage.Workspace(store=local, name="ws")
        assert local_ws.context_id == ws.context_id
        assert [row["id"] for row in local_ws.list(lineage.Model.ARTIFACT_TYPE_NAME)] == [model.id]
        events = local.store.get_events_by_execution_ids([ex._handle.id])
        assert sorted((e.artifact_id, e.type) for e in events) == sorted(
            [(data.id, pb.Event.INPUT), (model.id, pb.Event.OUTPUT), (metrics.id, pb.Event.OUTPUT)]
        )

    def test_deduplicates_through_the_server(self, sqlite_server):
        """The same DataSet logged by two executions is one artifact."""
        _, server = sqlite_server
        remote = lineage.Store(url=server.url)
        ws = lineage.Workspace(store=remote, name="ws")
        first = lineage.Execution(name="a", workspace=ws).log_input(lineage.DataSet(uri="s3://d", name="d"))
        second = lineage.Execution(name="b", workspace=ws).log_input(lineage.DataSet(uri="s3://d", name="d"))
        assert first.id == second.id
        assert len(ws.list(lineage.DataSet.ARTIFACT_TYPE_NAME)) == 1

    def test_deduplicates_a_data_set_with_a_long_query_logged_by_another_process(self, sqlite_server):
        """Logged by another process first, a DataSet is found stored by the
        ALREADY_EXISTS of the write: with a long query MLMD's message was too
        long for gRPC, and the call's end (its Model) was lost with a warning."""
        url, server = sqlite_server
        log_a_data_set_with_a_long_query_twice(url, server.url)

    def test_a_long_error_message_of_mlmds_own_service_keeps_its_status(self, sqlite_url, monkeypatch):
        """MLMD's metadata-grpc-service sends its messages whole: lineage's
        client takes one of 8 KiB and more (it came as RESOURCE_EXHAUSTED,
        and the write that met an ALREADY_EXISTS was lost)."""
        from lineage.store import _server
        from lineage.store._server import MetadataServer

        monkeypatch.setattr(_server, "_MAX_DETAILS_BYTES", 2**40)  # sent whole, as MLMD's service does
        server = MetadataServer(parse_store_url(sqlite_url), port=0)
        server.start()
        try:
            log_a_data_set_with_a_long_query_twice(sqlite_url, f"grpc://127.0.0.1:{server.port}")
        finally:
            server.stop(0)

    def test_restart_on_the_same_store_registers_no_second_type(self, sqlite_server):
        """Starting twice over one store keeps one type of each name."""
        url, server = sqlite_server
        server.stop()
        again = ServerProcess(url)
        try:
            names = [t.name for t in mlmd_client(again.port).get_artifact_types()]
        finally:
            again.stop()
        assert sorted(set(names)) == sorted(names)
        assert set(KUBEFLOW_ARTIFACT_TYPES) <= set(names)


class TestReconnect:
    """grpc:// clients in lineage survive a server restart."""

    def test_writes_after_the_server_restarts(self, sqlite_url):
        """The same Store object writes again once a new server is up on the port."""
        port = free_port()
        server = ServerProcess(sqlite_url, port=port)
        remote = lineage.Store(url=server.url)
        ws = lineage.Workspace(store=remote, name="ws")
        lineage.Execution(name="before", workspace=ws).log_input(lineage.DataSet(uri="s3://a", name="a"))
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL

        again = ServerProcess(sqlite_url, port=port)
        try:
            ex = lineage.Execution(name="after", workspace=ws)
            model = ex.log_output(lineage.Model(uri="s3://m", name="m"))
        finally:
            again.stop()
        direct = embedded(sqlite_url)
        assert [a.uri for a in direct.get_artifacts_by_id([model.id])] == ["s3://m"]
        names = sorted(e.properties["name"].string_value for e in direct.get_executions())
        assert names == ["after", "before"]

    def test_a_write_while_the_server_is_down_waits_for_it(self, sqlite_url, monkeypatch):
        """A write sent while no server answers succeeds when one comes back in the retry budget."""
        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "10")  # default 2 s, then the write is spooled
        port = free_port()
        server = ServerProcess(sqlite_url, port=port)
        remote = lineage.Store(url=server.url)
        ws = lineage.Workspace(store=remote, name="ws")
        server.stop()
        restarted = []
        timer = threading.Timer(1.5, lambda: restarted.append(ServerProcess(sqlite_url, port=port)))
        timer.start()
        try:
            ex = lineage.Execution(name="during", workspace=ws)
            data = ex.log_input(lineage.DataSet(uri="s3://during", name="during"))
        finally:
            timer.join()
            for process in restarted:
                process.stop()
        assert data.id is not None
        assert [a.uri for a in embedded(sqlite_url).get_artifacts_by_id([data.id])] == ["s3://during"]

    def test_a_server_back_on_the_port_is_reached_beside_a_client_in_backoff(self, sqlite_url, tmp_path, monkeypatch):
        """Another client of the process (MLMD's own) kept a channel to the port while
        no server answered: gRPC's reconnect backoff. A lineage store opened when a new
        server listens there reaches it at once; its channels shared that client's
        connection and were refused until the backoff ran out."""
        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "1")
        port = free_port()
        first = ServerProcess(sqlite_url, port=port)
        other = mlmd_client(port)
        other.get_artifact_types()
        first.stop()
        for _ in range(5):  # refused each time: its backoff grows (1 s, 1.6 s, 2.6 s, ...)
            with pytest.raises(mlmd_errors.UnavailableError):
                other.get_artifact_types()
            time.sleep(0.5)
        again = ServerProcess(backends.make_url("sqlite", tmp_path), port=port)
        try:
            lineage.init(strict=True)
            ws = lineage.Workspace(store=lineage.Store(url=f"grpc://127.0.0.1:{port}"), name="ws")
            data = lineage.Execution(name="after", workspace=ws).log_input(lineage.DataSet(uri="s3://a", name="a"))
        finally:
            again.stop()
        assert data.id is not None

    def test_unreachable_server_is_a_store_unavailable_error(self):
        """With nothing listening, lineage gives up with StoreUnavailableError, not a gRPC error."""
        url = f"grpc://127.0.0.1:{free_port()}"
        from lineage.store import RetryPolicy, connect

        connection = connect(url, retry=RetryPolicy(max_delay=1.0))
        with pytest.raises(lineage.StoreUnavailableError, match="did not answer"):
            connection.mlmd.get_artifact_types()


class TestOlderService:
    """A metadata-grpc-service from before MLMD had PutLineageSubgraph."""

    @staticmethod
    @contextlib.contextmanager
    def older_service(sqlite_url: str) -> Iterator[lineage.Store]:
        """A lineage serve of *sqlite_url* served as an older MLMD build
        serves it, without PutLineageSubgraph: a Store of it."""
        from lineage.store._server import SERVICE_NAME, MetadataServer

        server = MetadataServer(parse_store_url(sqlite_url), port=0)
        del server.handler._handlers[f"/{SERVICE_NAME}/PutLineageSubgraph"]
        server.start()
        try:
            yield lineage.Store(url=f"grpc://127.0.0.1:{server.port}")
        finally:
            server.stop(0)

    @staticmethod
    def check_written_whole(sqlite_url: str, model: lineage.Model, n: int) -> None:
        """The execution that output *model* has its inputs s3://d/<n> and
        s3://t/<n> (paths data and test) and its workspace and run."""
        direct = embedded(sqlite_url)
        [out] = [e for e in direct.get_events_by_artifact_ids([model.id]) if e.type == pb.Event.OUTPUT]
        events = [e for e in direct.get_events_by_execution_ids([out.execution_id]) if e.type == pb.Event.INPUT]
        uris = {a.id: a.uri for a in direct.get_artifacts_by_id([e.artifact_id for e in events])}
        assert sorted((e.path.steps[0].key, uris[e.artifact_id]) for e in events) == [("data", f"s3://d/{n}"), ("test", f"s3://t/{n}")]
        assert len(direct.get_contexts_by_execution(out.execution_id)) == 2  # workspace and run

    def test_writes_fall_back_to_put_execution_once(self, sqlite_url, record_store_calls, caplog):
        """Its UNIMPLEMENTED answer is met once; that write and the next go through put_execution, whole."""
        calls = record_store_calls()
        with self.older_service(sqlite_url) as remote:
            # Three artifacts: a write lineage sends as put_lineage_subgraph.
            @lineage.track(store=remote, workspace="ws")
            def train(data: lineage.DataSet, test: lineage.DataSet, epochs: int = 1) -> lineage.Model:
                return lineage.Model(uri=f"s3://m/{epochs}", name="m")

            with caplog.at_level("INFO", logger="lineage.store"):
                first = train(lineage.DataSet(uri="s3://d/1", name="d"), lineage.DataSet(uri="s3://t/1", name="t"), epochs=1)
                second = train(lineage.DataSet(uri="s3://d/2", name="d"), lineage.DataSet(uri="s3://t/2", name="t"), epochs=2)
        writes = [c for c in calls if c in ("put_lineage_subgraph", "put_execution")]
        assert writes == ["put_lineage_subgraph", "put_execution", "put_execution"]
        assert sum("has no put_lineage_subgraph" in r.getMessage() for r in caplog.records) == 1
        self.check_written_whole(sqlite_url, first, 1)
        self.check_written_whole(sqlite_url, second, 2)

    def test_a_short_call_written_directly_falls_back_to_put_execution(self, sqlite_url, record_store_calls, caplog):
        """A short call's one write, made on the direct path (its contexts
        known from an earlier write), meets UNIMPLEMENTED from its
        put_lineage_subgraph and is sent whole through put_execution."""
        calls = record_store_calls()
        with self.older_service(sqlite_url) as remote:

            @lineage.track(store=remote, workspace="ws")
            def prep(data: lineage.DataSet) -> lineage.Model:
                return lineage.Model(uri="s3://m/prep", name="m")

            @lineage.track(store=remote, workspace="ws")
            def train(data: lineage.DataSet, test: lineage.DataSet) -> lineage.Model:
                return lineage.Model(uri="s3://m/direct", name="m")

            # Two artifacts, sent with put_execution: the contexts and both types are known after it.
            prep(lineage.DataSet(uri="s3://d/0", name="d"))
            with caplog.at_level("INFO", logger="lineage.store"):
                model = train(lineage.DataSet(uri="s3://d/1", name="d"), lineage.DataSet(uri="s3://t/1", name="t"))
        writes = [c for c in calls if c in ("put_lineage_subgraph", "put_execution")]
        assert writes == ["put_execution", "put_lineage_subgraph", "put_execution"]
        assert sum("has no put_lineage_subgraph" in r.getMessage() for r in caplog.records) == 1
        self.check_written_whole(sqlite_url, model, 1)


def drop_connections(url: str) -> int:
    """Make the database end every connection to *url*'s database, as a
    restart or an idle timeout would; return how many it ended."""
    parsed = parse_store_url(url)
    if parsed.scheme == "postgresql":
        done = subprocess.run(
            ["psql", "-h", backends.PG["host"], "-p", str(backends.PG["port"]), "-U", backends.PG["user"], "-d", "postgres",
             "-tAc", f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{parsed.database}'"],
            capture_output=True, text=True, check=True, timeout=60,
        )
        return int(done.stdout.strip())
    mysql = ["mysql", "-h", backends.MYSQL["host"], "-P", str(backends.MYSQL["port"]), "-u", backends.MYSQL["user"], "-N", "-e"]
    done = subprocess.run(
        [*mysql, f"SELECT id FROM information_schema.processlist WHERE db = '{parsed.database}'"],
        capture_output=True, text=True, check=True, timeout=60,
    )
    ids = done.stdout.split()
    for connection in ids:
        subprocess.run([*mysql, f"KILL {connection}"], capture_output=True, check=False, timeout=60)
    return len(ids)


class TestDatabaseConnectionLost:
    """The database ends the server's connection (a restart, an idle
    timeout): the next call reconnects, and the server says so."""

    @pytest.mark.parametrize("backend", ["postgresql", "mysql"])
    def test_next_call_reconnects_and_is_logged(self, backend, tmp_path):
        url = backends.make_url(backend, tmp_path)
        server = ServerProcess(url)
        try:
            client = mlmd_client(server.port)
            before = client.get_artifact_types()
            assert drop_connections(url) >= 1
            assert [t.name for t in client.get_artifact_types()] == [t.name for t in before]
            [artifact_id] = client.put_artifacts([pb.Artifact(type_id=before[0].id, uri="s3://after/reconnect")])
            assert embedded(url).get_artifacts_by_id([artifact_id])[0].uri == "s3://after/reconnect"
        finally:
            server.stop()
        assert "lost its connection to the database" in server.output
        assert "reconnected" in server.output


class DatabaseProxy:
    """A TCP proxy in front of a database, to take it away from the server
    behind it (``down``: refused, connections cut) and bring it back (``up``)."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.connections: list = []
        self.listener: socket.socket = None  # type: ignore[assignment]
        self.up()

    def up(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(self.target)
            except OSError:
                return
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for end in (a, b):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def down(self) -> None:
        for sock in [self.listener, *self.connections]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.connections = []


class TestDatabaseDown:
    @pytest.mark.parametrize("backend", ["postgresql", "mysql"])
    def test_a_database_down_for_a_while_is_unavailable_then_served_again(self, backend, tmp_path):
        """The database gone for a few calls: the server answers UNAVAILABLE
        (clients retry, then spool), and serves again once it is back. It
        answered INTERNAL for good (a lineage client refused the write: lost),
        and on MySQL crashed on the dead handle when the database came back."""
        url = backends.make_url(backend, tmp_path)
        port = 5432 if backend == "postgresql" else 3306
        proxy = DatabaseProxy(port)
        server = ServerProcess(url.replace(f":{port}/", f":{proxy.port}/"))
        try:
            client = mlmd_client(server.port)
            before = [t.name for t in client.get_artifact_types()]
            proxy.down()
            for _ in range(3):
                with pytest.raises(mlmd_errors.UnavailableError):
                    client.get_artifact_types()
            proxy.up()
            assert [t.name for t in client.get_artifact_types()] == before
            type_id = client.get_artifact_types()[0].id
            [artifact_id] = client.put_artifacts([pb.Artifact(type_id=type_id, uri="s3://after/outage")])
            assert embedded(url).get_artifacts_by_id([artifact_id])[0].uri == "s3://after/outage"
            assert server.process.poll() is None  # still running
        finally:
            server.stop()
            proxy.down()
        assert server.output.count("cannot reconnect") == 1  # said once, not at every call
        assert "failed: UNAVAILABLE" not in server.output  # nor each call while it is down


    def test_a_database_still_starting_is_waited_for(self, tmp_path):
        """lineage serve started beside its database (a compose file, a pod):
        it waits for the database to answer. It gave up after 2 s (a client's
        budget, before it spools), exit status 2, and nothing served."""
        url = backends.make_url("postgresql", tmp_path)
        proxy = DatabaseProxy(5432)
        proxy.down()
        server = ServerProcess(url.replace(":5432/", f":{proxy.port}/"), wait=False)
        try:
            time.sleep(5)
            assert server.process.poll() is None, server.output
            proxy.up()
            server.wait_started(60)
            assert set(KUBEFLOW_ARTIFACT_TYPES) <= {t.name for t in mlmd_client(server.port).get_artifact_types()}
        finally:
            server.stop()
            proxy.down()


class TestAbandonedCalls:
    """Calls whose client gave up (deadline passed, cancelled) are not run on."""

    def test_a_write_retried_past_its_deadline_is_not_stored(self, sqlite_url):
        """A write meeting a locked SQLite file is retried by the server (up to
        2 s); its client gives up after 0.5 s (DEADLINE_EXCEEDED). It was
        still written once the lock went: stored after its client was told
        it failed (a client's retry wrote it twice), and the abandoned call
        held the store for its whole retry budget."""
        server = ServerProcess(sqlite_url)
        try:
            client = mlmd_client(server.port)
            type_id = client.put_artifact_type(pb.ArtifactType(name="acme/blob"))
            other = sqlite3.connect(sqlite_url[len("sqlite:///"):], isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # another process writing: the server's write is ABORTED
            request = svc.PutArtifactsRequest(artifacts=[pb.Artifact(type_id=type_id, uri="s3://abandoned")])
            with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel, pytest.raises(grpc.RpcError) as failed:
                channel.unary_unary(f"/{MLMD_SERVICE}/PutArtifacts")(request.SerializeToString(), timeout=0.5)
            assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            time.sleep(0.5)
            other.execute("COMMIT")
            other.close()
            time.sleep(2.0)  # past the server's retry budget
            [type_id_now] = [t.id for t in client.get_artifact_types() if t.name == "acme/blob"]
            assert type_id_now == type_id  # the server still answers
            assert embedded(sqlite_url).get_artifacts_by_type("acme/blob") == []
        finally:
            server.stop()

class StartingPostgreSQL(DatabaseProxy):
    """A PostgreSQL server still starting, then up: until ``up()`` it answers
    every login as PostgreSQL does then (FATAL 57P03, "the database system is
    starting up"); then it passes connections to the real server."""

    def __init__(self, port: int) -> None:
        self.starting = True
        super().__init__(port)

    def _accept(self, listener: socket.socket) -> None:
        while self.starting:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.starting:
                threading.Thread(target=self._refuse, args=(client,), daemon=True).start()
            else:
                listener.close()
                return
        super()._accept(listener)

    @staticmethod
    def _refuse(client: socket.socket) -> None:
        with client:
            try:
                while True:
                    length, code = struct.unpack("!ii", client.recv(8, socket.MSG_WAITALL))
                    client.recv(length - 8, socket.MSG_WAITALL)
                    if code != 80877103:  # the startup message, after the SSLRequest
                        break
                    client.sendall(b"N")  # no TLS
                fields = b"SFATAL\0C57P03\0Mthe database system is starting up\0\0"
                client.sendall(b"E" + struct.pack("!i", 4 + len(fields)) + fields)
            except (OSError, struct.error):
                pass

    def start(self) -> None:
        """The database is up: new connections reach it."""
        self.starting = False
        self.down()
        self.up()


class TestDatabaseStarting:
    def test_a_postgresql_server_still_starting_is_waited_for(self, tmp_path):
        """A PostgreSQL server that refuses logins while it starts (57P03) is
        waited for, not taken for a refused login."""
        url = backends.make_url("postgresql", tmp_path)
        proxy = StartingPostgreSQL(5432)
        server = ServerProcess(url.replace(":5432/", f":{proxy.port}/"), wait=False)
        try:
            time.sleep(4)
            assert server.process.poll() is None, server.output
            proxy.start()
            server.wait_started(60)
            assert set(KUBEFLOW_ARTIFACT_TYPES) <= {t.name for t in mlmd_client(server.port).get_artifact_types()}
        finally:
            server.stop()
            proxy.down()

class TestServerLog:
    """What the operator sees: failures of the server or its database, with
    the method and the client; not the errors MLMD clients expect."""

    def test_database_failure_is_logged_client_errors_are_not(self, tmp_path):
        url = backends.make_url("postgresql", tmp_path)
        server = ServerProcess(url)
        try:
            client = mlmd_client(server.port)
            with pytest.raises(mlmd_errors.NotFoundError):
                client.get_artifact_type("no such type")
            # lineage's own client probes a PostgreSQL store with a
            # backslash, which fails there by design: not a failure to log.
            store = lineage.Store(url=server.url)
            log_one_of_each(store)
            quiet = server.output
            # MLMD's PostgreSQL driver builds broken SQL for a backslash.
            type_id = client.get_artifact_type("kubeflow.org/alpha/data_set").id
            with pytest.raises(mlmd_errors.InternalError):
                client.put_artifacts([pb.Artifact(type_id=type_id, uri="s3://a\\b")])
        finally:
            server.stop()
        assert "failed" not in quiet
        [line] = [line for line in server.lines if "failed" in line]
        assert line.startswith("lineage serve: PutArtifacts from ipv4:127.0.0.1:")
        assert ": INTERNAL: " in line


class TestProcess:
    """Start, log line, signals, bad arguments."""

    def test_logs_one_start_line_with_the_redacted_store(self, tmp_path):
        """The start line names address and store, never the password."""
        backends.require_server("PostgreSQL", backends.PG["host"], backends.PG["port"])
        database = backends.new_database_name()
        backends._created.append(("postgresql", database))
        # trust authentication: any password is accepted, and must not be logged
        url = f"postgresql://postgres:s3cret-pw@{backends.PG['host']}:{backends.PG['port']}/{database}"
        server = ServerProcess(url)
        assert server.stop() == 0
        start_lines = [line for line in server.lines if "listening on" in line]
        assert start_lines == [
            f"lineage serve: listening on 127.0.0.1:{server.port} (plaintext), "
            f"store postgresql://postgres:***@127.0.0.1:5432/{database}"
        ]
        assert "s3cret-pw" not in server.output

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
    def test_signal_stops_cleanly(self, sqlite_server, sig):
        """SIGTERM and SIGINT end the process with status 0 and a last log line."""
        _, server = sqlite_server
        mlmd_client(server.port).get_artifact_types()
        assert server.stop(sig) == 0
        assert server.lines[-1] == "lineage serve: stopped"
        assert "Traceback" not in server.output

    def test_in_flight_call_finishes_on_sigterm(self, sqlite_server):
        """A call running at SIGTERM completes and is stored; then the process exits 0.

        (The embedded store holds the GIL during a call, so the signal is
        handled when the call returns; stop() then lets queued calls finish.)
        """
        url, server = sqlite_server
        client = mlmd_client(server.port)
        type_id = client.put_artifact_type(pb.ArtifactType(name="acme/many"))
        many = [pb.Artifact(type_id=type_id, uri=f"s3://b/{i}") for i in range(60000)]
        # The request made before it is sent, and sent by gRPC's own thread:
        # MLMD's client built it (60,000 copies) inside the wait below, and
        # on a loaded machine had not sent it yet at SIGTERM (a new call,
        # refused: "Stream removed ... Server shutdown").
        request = svc.PutArtifactsRequest(artifacts=many)
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        call = svc_grpc.MetadataStoreServiceStub(channel).PutArtifacts.future(request, timeout=60)
        time.sleep(0.7)  # the request is on the server, which needs seconds for it
        assert not call.done(), "the call finished before SIGTERM: make it bigger"
        server.process.send_signal(signal.SIGTERM)
        response = call.result()  # raises if the call was cut short
        channel.close()
        assert server.process.wait(60) == 0
        assert len(response.artifact_ids) == len(many)
        assert len(embedded(url).get_artifacts_by_type("acme/many")) == len(many)
        late = mlmd_client(server.port)
        with pytest.raises(mlmd_errors.UnavailableError):
            late.get_artifact_types()

    def test_second_server_on_a_used_port_fails(self, sqlite_server, tmp_path):
        """A port in use is an error, not two servers sharing it."""
        _, server = sqlite_server
        other = ServerProcess(backends.make_url("sqlite", tmp_path), port=server.port, wait=False)
        code = other.process.wait(60)
        other.stop()
        assert code == 2
        assert f"cannot listen on 127.0.0.1:{server.port}" in other.output

    def test_refuses_to_serve_a_grpc_store(self):
        """A grpc:// store cannot be served (no proxying)."""
        done = subprocess.run(
            [sys.executable, "-m", "lineage.cli", "serve", "--store", "grpc://127.0.0.1:1", "--port", "0"],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2
        assert "lineage serve: --store: only a database store can be served" in done.stderr

    @pytest.mark.parametrize(
        "args, message",
        [
            (["--tls-cert", "c.pem"], "--tls-cert and --tls-key go together"),
            (["--tls-client-ca", "ca.pem"], "--tls-client-ca needs --tls-cert"),
            (["--port", "70000"], "--port must be from 0 to 65535"),
            (["--idle-timeout", "-1"], "--idle-timeout must be 0 (never) or a number of seconds, 1 or more, got -1.0"),
            (["--idle-timeout", "nan"], "--idle-timeout must be 0 (never) or a number of seconds, 1 or more, got nan"),
            (["--idle-timeout", "0.01"], "--idle-timeout must be 0 (never) or a number of seconds, 1 or more, got 0.01"),
            (["--keepalive", "-1"], "--keepalive must be a number of seconds, 0 or more, got -1.0"),
            (["--keepalive", "inf"], "--keepalive must be a number of seconds, 0 or more, got inf"),
            (["--grace", "inf"], "--grace must be a number of seconds, 0 or more, got inf"),
            (["--grace", "nan"], "--grace must be a number of seconds, 0 or more, got nan"),
            (["--grace", "-5"], "--grace must be a number of seconds, 0 or more, got -5.0"),
        ],
    )
    def test_bad_arguments(self, args, message):
        """Incomplete TLS options, bad ports and idle times are usage errors."""
        done = subprocess.run(
            [sys.executable, "-m", "lineage.cli", "serve", "--store", "memory://", *args],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2
        assert message in done.stderr

    def test_missing_certificate_file(self, tmp_path):
        """An unreadable certificate file is reported by name."""
        done = subprocess.run(
            [sys.executable, "-m", "lineage.cli", "serve", "--store", "memory://", "--port", "0",
             "--tls-cert", str(tmp_path / "none.pem"), "--tls-key", str(tmp_path / "none.key")],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2
        assert "none.key" in done.stderr

    def test_database_that_refuses_the_login(self):
        """A PostgreSQL store whose role does not exist: the server's reason, not "unreachable",
        said at once. It was said after 15 s, the wait for a database still starting:
        a refusal is an answer, which waiting does not change."""
        backends.require_server("PostgreSQL", backends.PG["host"], backends.PG["port"])
        done = _serve_refused(f"postgresql://lineage_no_such_role@{backends.PG['host']}:{backends.PG['port']}/test")
        assert done.returncode == 2
        assert 'refused it: role "lineage_no_such_role" does not exist' in done.stderr
        assert "did not answer" not in done.stderr and "listening" not in done.stderr

    @pytest.mark.parametrize("user", ["lineage_no_such_user", "root:wrong"])
    def test_mysql_database_that_refuses_the_login(self, user):
        """A MySQL (MariaDB) user that does not exist, or a wrong password: said
        at once, as PostgreSQL's refusal is. MLMD gives no reason ("errno: ,
        error:"), so the server waited 15 s for a database still starting."""
        backends.require_server("MariaDB", backends.MYSQL["host"], backends.MYSQL["port"])
        done = _serve_refused(f"mysql://{user}@{backends.MYSQL['host']}:{backends.MYSQL['port']}/{backends.new_database_name()}")
        assert done.returncode == 2
        assert "check the user, password and database in the URL" in done.stderr, done.stderr
        assert "listening" not in done.stderr and "wrong" not in done.stderr

    def test_a_mysql_localhost_login_is_not_judged_by_a_tcp_login(self):
        """MySQL's client takes host 'localhost' for its Unix socket; the probe
        that tells a refused login (login_refused) logs in over TCP. A user
        known at 'localhost' only (CREATE USER 'u'@'localhost', common) is
        refused over TCP (1698, as 'u'@'127.0.0.1'), and a failure of MLMD's
        socket login (the socket not there yet) was taken for a refusal for
        good: the server stopped waiting for a login MLMD makes. Not judged."""
        from lineage.store._backend import login_refused

        backends.require_server("MariaDB", backends.MYSQL["host"], backends.MYSQL["port"])
        user, database = "lineage_local_only", backends.new_database_name()

        def sql(statement: str) -> str:
            return subprocess.run(
                ["mariadb", "--protocol=tcp", "-h", backends.MYSQL["host"], "-P", str(backends.MYSQL["port"]),
                 "-u", backends.MYSQL["user"], "-N", "-e", statement],
                capture_output=True, text=True, check=True,
            ).stdout.strip()

        sql(f"DROP USER IF EXISTS '{user}'@'localhost'; CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw-local';"
            f"GRANT ALL ON `{database}`.* TO '{user}'@'localhost'")
        try:
            socket_path = sql("SELECT @@socket")
            # Through the server's socket, MLMD's login is taken...
            metadata_store.MetadataStore(
                parse_store_url(f"mysql://{user}:pw-local@localhost/{database}?socket={socket_path}").connection_config()
            )
            # ...and through a socket that is not there (MLMD's compiled-in
            # /tmp/mysql.sock), it fails without a reason.
            url = parse_store_url(f"mysql://{user}:pw-local@localhost:{backends.MYSQL['port']}/{database}")
            try:
                metadata_store.MetadataStore(url.connection_config())
            except Exception as exc:  # noqa: BLE001 (MLMD's RuntimeError)
                failed = exc
            else:
                pytest.skip("MLMD's compiled-in socket is there: its login through it succeeded")
            assert login_refused(url, failed) is None
        finally:
            sql(f"DROP USER IF EXISTS '{user}'@'localhost'; DROP DATABASE IF EXISTS `{database}`")

    @pytest.mark.parametrize("command", ["sync", "status"])
    def test_a_home_that_does_not_exist_is_named(self, tmp_path, command):
        """A mistyped --home said "written: 0" / "spooled writes: 0", as if nothing waited."""
        missing = str(tmp_path / "no-such-home")
        done = subprocess.run(
            [sys.executable, "-m", "lineage.cli", command, "--home", missing, "--store", "memory://"],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2
        assert f"--home {missing!r}: no such folder" in done.stderr
        assert not os.path.exists(missing)

    def test_store_from_the_environment(self, tmp_path):
        """Without --store, LINEAGE_STORE names the store."""
        url = backends.make_url("sqlite", tmp_path)
        server = ServerProcess(url, env={**os.environ, "LINEAGE_STORE": url})
        assert server.stop() == 0
        assert server.store_url in server.lines[0]


# --------------------------------------------------------------------------- idle connections


def connections_to(port: int) -> int:
    """Established TCP connections whose local port is *port*: the server's
    ends of its clients' connections (read from the kernel, IPv4 and IPv6)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                rows = handle.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            count += int(local.rpartition(":")[2], 16) == port and state == "01"  # 01: ESTABLISHED
    return count


def wait_for_connections(port: int, wanted: int, timeout: float) -> float:
    """Seconds until *port* has *wanted* connections (AssertionError after *timeout*)."""
    start = time.monotonic()
    while connections_to(port) != wanted:
        assert time.monotonic() - start < timeout, f"{connections_to(port)} connection(s), not {wanted}, after {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


class FreezingProxy(DatabaseProxy):
    """A TCP proxy that can stop passing bytes on, its sockets left open:
    a client gone without closing (a killed kernel, a host behind a NAT)."""

    def __init__(self, port: int) -> None:
        self.frozen = threading.Event()
        super().__init__(port)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:  # type: ignore[override]
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                if not self.frozen.is_set():
                    b.sendall(data)
        except OSError:
            pass


class TestKeepalive:
    def test_a_client_gone_without_closing_is_closed_and_a_live_idle_one_kept(self, sqlite_url):
        """--keepalive 1: a connection whose client stops answering is closed
        (gRPC kept it until the server ended); a live client that makes no
        call keeps its connection (it answers the pings), and nothing is logged."""
        server = ServerProcess(sqlite_url, ["--keepalive", "1"])
        proxy = FreezingProxy(server.port)
        try:
            live = mlmd_client(server.port)
            live.get_artifact_types()
            gone = mlmd_client(proxy.port)
            gone.get_artifact_types()
            assert connections_to(server.port) == 2
            time.sleep(3.5)  # pinged about three times: both answer
            assert connections_to(server.port) == 2
            proxy.frozen.set()
            waited = wait_for_connections(server.port, 1, timeout=20)
            assert waited > 0.5  # closed for not answering, not at once
            time.sleep(2)
            assert connections_to(server.port) == 1  # the live one stays
            assert live.put_artifact_type(pb.ArtifactType(name="acme/kept")) > 0
        finally:
            proxy.down()
            assert server.stop() == 0
        assert [line for line in server.lines if "listening" not in line and "stopped" not in line] == []

    def test_keepalive_zero_pings_no_one(self, sqlite_url):
        server = ServerProcess(sqlite_url, ["--keepalive", "0"])
        proxy = FreezingProxy(server.port)
        try:
            mlmd_client(proxy.port).get_artifact_types()
            proxy.frozen.set()
            time.sleep(3)
            assert connections_to(server.port) == 1
        finally:
            proxy.down()
            server.stop()


class TestIdleConnections:
    """--idle-timeout closes connections without a call (off by default);
    their clients reconnect at their next call."""

    def test_an_idle_connection_is_closed_and_the_client_reconnects(self, sqlite_url):
        """--idle-timeout 1: MLMD's stock client (no retry of its own) and
        lineage's Store each lose their idle connection, and their next
        call opens a new one and succeeds, with nothing logged."""
        server = ServerProcess(sqlite_url, ["--idle-timeout", "1"])
        try:
            stock = mlmd_client(server.port)
            assert set(KUBEFLOW_ARTIFACT_TYPES) <= {t.name for t in stock.get_artifact_types()}
            assert connections_to(server.port) == 1
            waited = wait_for_connections(server.port, 0, timeout=20)
            assert waited > 0.5  # closed for being idle, not at once
            type_id = stock.put_artifact_type(pb.ArtifactType(name="acme/after_idle"))  # no error, no retry
            assert connections_to(server.port) == 1
            store = lineage.Store(url=server.url)
            ws = lineage.Workspace(store=store, name="idle")
            wait_for_connections(server.port, 0, timeout=20)
            ex = lineage.Execution(name="after idle", workspace=ws)
            data = ex.log_input(lineage.DataSet(uri="s3://idle/data", name="data"))
            assert [a.uri for a in embedded(sqlite_url).get_artifacts_by_id([data.id])] == ["s3://idle/data"]
            assert embedded(sqlite_url).get_artifact_type("acme/after_idle").id == type_id
        finally:
            assert server.stop() == 0
        assert [line for line in server.lines if "listening" not in line and "stopped" not in line] == []

    def test_a_connection_with_a_call_running_is_not_idle(self, sqlite_url):
        """A call longer than the idle time finishes on its connection."""
        server = ServerProcess(sqlite_url, ["--idle-timeout", "1"])
        try:
            client = mlmd_client(server.port)
            type_id = client.put_artifact_type(pb.ArtifactType(name="acme/long"))
            many = [pb.Artifact(type_id=type_id, uri=f"s3://long/{i}") for i in range(120000)]
            started = time.monotonic()
            ids = client.put_artifacts(many)
            assert time.monotonic() - started > 1.5, "the call was shorter than the idle time: make it bigger"
            assert len(ids) == len(many)
        finally:
            server.stop()

    def test_idle_timeout_zero_keeps_connections(self, sqlite_url):
        """--idle-timeout 0 (the default): connections stay open, as gRPC's default does."""
        server = ServerProcess(sqlite_url, ["--idle-timeout", "0", "--keepalive", "1"])
        try:
            client = mlmd_client(server.port)
            client.get_artifact_types()
            time.sleep(1.5)
            assert connections_to(server.port) == 1
        finally:
            server.stop()


# --------------------------------------------------------------------------- TLS


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made here."""
    folder = tmp_path_factory.mktemp("tls")
    path = {name: str(folder / name) for name in (
        "ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key", "ext.cnf", "other-ca.pem",
        "other-ca.key", "rogue.pem", "rogue.key",
    )}
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", path["ca.key"], "-out", path["ca.pem"], "-days", "2",
            "-subj", "/CN=lineage test CA")
    openssl("req", "-x509", *key, "-keyout", path["other-ca.key"], "-out", path["other-ca.pem"], "-days", "2",
            "-subj", "/CN=another CA")
    with open(path["ext.cnf"], "w") as handle:
        handle.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ca, cn in (("server", "ca", "localhost"), ("client", "ca", "lineage client"),
                         ("rogue", "other-ca", "rogue client")):
        csr = str(folder / f"{name}.csr")
        openssl("req", "-new", *key, "-keyout", path[f"{name}.key"], "-out", csr, "-subj", f"/CN={cn}")
        openssl("x509", "-req", "-in", csr, "-CA", path[f"{ca}.pem"], "-CAkey", path[f"{ca}.key"],
                "-CAcreateserial", "-out", path[f"{name}.pem"], "-days", "2", "-extfile", path["ext.cnf"])
    return path


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


@pytest.fixture
def mutual_tls_server(certificates, tmp_path):
    server = ServerProcess(
        backends.make_url("sqlite", tmp_path),
        ["--tls-cert", certificates["server.pem"], "--tls-key", certificates["server.key"],
         "--tls-client-ca", certificates["ca.pem"]],
    )
    yield server
    server.stop()


class TestTLSFileErrors:
    """A certificate, key or CA file that TLS cannot use is named, with what is
    wrong, before anything listens (gRPC only logs it, then fails to bind)."""

    def serve(self, cert: str, key: str, *ca: str):
        args = ["--tls-cert", cert, "--tls-key", key] + (["--tls-client-ca", ca[0]] if ca else [])
        return subprocess.run(
            [sys.executable, "-m", "lineage.cli", "serve", "--store", "memory://", "--port", "0", *args],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )

    @pytest.mark.parametrize(
        "cert, key, ca, message",
        [
            ("garbage", "server.key", None, "--tls-cert: '{garbage}' holds no PEM certificate"),
            ("server.key", "server.key", None, "--tls-cert: '{server.key}' holds no PEM certificate"),
            ("server.pem", "garbage", None, "--tls-key: '{garbage}' holds no PEM private key"),
            ("server.pem", "server.pem", None, "--tls-key: '{server.pem}' holds no PEM private key"),
            ("server.pem", "rogue.key", None,
             "--tls-key: '{rogue.key}' is not the private key of the certificate in '{server.pem}'"),
            ("server.pem", "encrypted.key", None, "--tls-key: '{encrypted.key}' is encrypted"),
            ("server.pem", "server.key", "garbage", "--tls-client-ca: '{garbage}' holds no PEM certificate"),
        ],
    )
    def test_unusable_file_is_named(self, certificates, tmp_path, cert, key, ca, message):
        files = dict(certificates)
        files["garbage"] = str(tmp_path / "garbage.pem")
        with open(files["garbage"], "w") as handle:
            handle.write("not a PEM file\n")
        files["encrypted.key"] = str(tmp_path / "encrypted.key")
        openssl("pkey", "-in", certificates["server.key"], "-aes256", "-passout", "pass:secret",
                "-out", files["encrypted.key"])
        done = self.serve(files[cert], files[key], *([files[ca]] if ca else []))
        assert done.returncode == 2
        for name, path in files.items():
            message = message.replace("{" + name + "}", path)
        assert message in done.stderr
        assert "cannot listen" not in done.stderr and "listening" not in done.stderr

    def test_the_files_that_work_still_serve(self, certificates):
        """The check passes the test's real certificates (TestTLS uses them)."""
        from lineage.store._server import TLSFiles

        TLSFiles(certificates["server.pem"], certificates["server.key"], certificates["ca.pem"]).check()

    def test_a_key_gRPC_takes_is_not_refused_by_the_systems_policy(self, tmp_path):
        """A 1024-bit RSA key: OpenSSL's default security level here refuses
        it (EE_KEY_TOO_SMALL), gRPC serves with it; the check must not stop it."""
        cert, key = str(tmp_path / "c1024.pem"), str(tmp_path / "k1024.key")
        openssl("req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1")
        server = ServerProcess(backends.make_url("sqlite", tmp_path), ["--tls-cert", cert, "--tls-key", key])
        try:
            store = lineage.Store(grpc_host="127.0.0.1", grpc_port=server.port, root_certificates=read(cert))
            lineage.Workspace(store=store, name="tls1024")
            assert [c.name for c in store.store.get_contexts()] == ["tls1024"]
        finally:
            server.stop()


class TestTLS:
    """--tls-cert/--tls-key[/--tls-client-ca] with certificates made by the test."""

    def test_kubeflow_sdk_client_with_the_three_options(self, mutual_tls_server, certificates):
        """The old SDK's Store(root_certificates, private_key, certificate_chain) connects."""
        from kubeflow.metadata import metadata

        store = metadata.Store(
            grpc_host="127.0.0.1", grpc_port=mutual_tls_server.port,
            root_certificates=read(certificates["ca.pem"]),
            private_key=read(certificates["client.key"]),
            certificate_chain=read(certificates["client.pem"]),
        )
        ws = metadata.Workspace(store=store, name="tls workspace")
        ex = metadata.Execution(name="over tls", workspace=ws)
        data = ex.log_input(metadata.DataSet(uri="s3://tls", name="tls data"))
        assert data.id is not None
        assert "(TLS, client certificates required)" in mutual_tls_server.lines[0]

    def test_lineage_client_with_the_three_options(self, mutual_tls_server, certificates):
        """lineage's Store with the SDK's arguments, and a grpcs:// URL, connect."""
        store = lineage.Store(
            grpc_host="127.0.0.1", grpc_port=mutual_tls_server.port,
            root_certificates=read(certificates["ca.pem"]),
            private_key=read(certificates["client.key"]),
            certificate_chain=read(certificates["client.pem"]),
        )
        _, _, data, _, _ = log_one_of_each(store)
        url = (f"grpcs://127.0.0.1:{mutual_tls_server.port}?root_certificates={certificates['ca.pem']}"
               f"&private_key={certificates['client.key']}&certificate_chain={certificates['client.pem']}")
        by_url = lineage.Store(url=url)
        assert [a.uri for a in by_url.store.get_artifacts_by_id([data.id])] == ["s3://bucket/data.csv"]

    @pytest.mark.parametrize(
        "options",
        [
            pytest.param({}, id="plaintext"),
            pytest.param({"root_certificates": "ca.pem"}, id="no-client-certificate"),
            pytest.param({"root_certificates": "ca.pem", "private_key": "rogue.key",
                          "certificate_chain": "rogue.pem"}, id="certificate-of-another-ca"),
        ],
    )
    def test_clients_without_a_valid_certificate_are_refused(self, mutual_tls_server, certificates, options):
        """No TLS, no client certificate, or one the server's CA did not sign: refused."""
        client = mlmd_client(mutual_tls_server.port, **{k: read(certificates[v]) for k, v in options.items()})
        client._grpc_timeout_sec = 10
        with pytest.raises(mlmd_errors.UnavailableError):
            client.get_artifact_types()

    def test_server_certificate_only(self, certificates, tmp_path):
        """Without --tls-client-ca, a client with the CA alone connects; plaintext is refused."""
        server = ServerProcess(
            backends.make_url("sqlite", tmp_path),
            ["--tls-cert", certificates["server.pem"], "--tls-key", certificates["server.key"]],
        )
        try:
            client = mlmd_client(server.port, root_certificates=read(certificates["ca.pem"]))
            assert set(KUBEFLOW_ARTIFACT_TYPES) <= {t.name for t in client.get_artifact_types()}
            plain = mlmd_client(server.port)
            plain._grpc_timeout_sec = 10
            with pytest.raises(mlmd_errors.UnavailableError):
                plain.get_artifact_types()
            untrusted = mlmd_client(server.port, root_certificates=read(certificates["other-ca.pem"]))
            untrusted._grpc_timeout_sec = 10
            with pytest.raises(mlmd_errors.UnavailableError):
                untrusted.get_artifact_types()
        finally:
            server.stop()
        assert "(TLS)" in server.lines[0]


class TestTLSMisconfigured:
    """A client whose TLS settings do not match the server's was told the
    store "is unreachable" (gRPC reports every such refusal as UNAVAILABLE,
    "Socket closed" or "Tls handshake failed"), as if the server were down.
    The writes are still spooled, and the warning says what is wrong."""

    SERVERS = {
        "plain": [],
        "tls": ["--tls-cert", "server.pem", "--tls-key", "server.key"],
        "mutual-tls": ["--tls-cert", "server.pem", "--tls-key", "server.key", "--tls-client-ca", "ca.pem"],
    }

    @pytest.mark.parametrize(
        "server, options, said",
        [
            pytest.param("tls", {}, "speaks TLS: use grpcs://", id="grpc-to-tls"),
            pytest.param("mutual-tls", {}, "speaks TLS: use grpcs://", id="grpc-to-mutual-tls"),
            pytest.param("plain", {"root_certificates": "ca.pem"}, "does not speak TLS: use grpc://", id="grpcs-to-plain"),
            pytest.param("mutual-tls", {"root_certificates": "ca.pem"},
                         "requires a client certificate (private_key= and certificate_chain=)", id="no-client-certificate"),
            pytest.param("mutual-tls", {"root_certificates": "ca.pem", "private_key": "rogue.key",
                                        "certificate_chain": "rogue.pem"},
                         "did not accept the client certificate", id="client-certificate-of-another-ca"),
            pytest.param("tls", {"root_certificates": "other-ca.pem"},
                         "TLS handshake failed: the server's certificate is not trusted", id="server-of-another-ca"),
        ],
    )
    def test_the_warning_says_what_is_wrong_and_the_writes_are_spooled(
        self, certificates, tmp_path, monkeypatch, server, options, said
    ):
        from lineage.store import _spool

        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
        monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "30")  # no replay during the test
        args = [certificates.get(arg, arg) for arg in self.SERVERS[server]]
        process = ServerProcess(backends.make_url("sqlite", tmp_path), args)
        try:
            query = "&".join(f"{k}={certificates[v]}" for k, v in options.items())
            url = f"grpcs://127.0.0.1:{process.port}?{query}" if options else f"grpc://127.0.0.1:{process.port}"

            @lineage.track(store=lineage.Store(url=url), workspace="ws")
            def step() -> lineage.Model:
                return lineage.Model(uri="s3://m", name="m")

            with pytest.warns(lineage.LineageWarning) as told:
                model = step()
        finally:
            process.stop()
        assert model.uri == "s3://m"
        [message] = [str(w.message) for w in told]
        assert said in message, message
        assert f"the server at 127.0.0.1:{process.port}" in message
        assert "unreachable" not in message
        [path] = _spool.spool_files(str(tmp_path / "home"))
        assert len(_spool.read_journal(path).todo) == 1  # the call (a short one: one write), kept for lineage sync

    def test_an_expired_server_certificate_is_not_blamed_on_root_certificates(self, certificates, tmp_path, monkeypatch):
        """A server certificate that has expired (signed by the very CA of
        root_certificates=) was said to be "not trusted: root_certificates=
        must hold the CA that signed" it, where the CA was right: the
        certificate is to be renewed. The reason is said, not the CA hint."""
        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
        monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "30")
        csr, expired = str(tmp_path / "expired.csr"), str(tmp_path / "expired.pem")
        openssl("req", "-new", "-key", certificates["server.key"], "-out", csr, "-subj", "/CN=localhost")
        openssl("x509", "-req", "-in", csr, "-CA", certificates["ca.pem"], "-CAkey", certificates["ca.key"],
                "-CAcreateserial", "-out", expired, "-days", "-1", "-extfile", certificates["ext.cnf"])
        args = ["--tls-cert", expired, "--tls-key", certificates["server.key"]]
        process = ServerProcess(backends.make_url("sqlite", tmp_path), args)
        try:
            message = _warning_of_one_call(f"grpcs://127.0.0.1:{process.port}?root_certificates={certificates['ca.pem']}")
        finally:
            process.stop()
        assert "certificate has expired" in message and f"the server at 127.0.0.1:{process.port}" in message, message
        assert "root_certificates=" not in message and "not trusted" not in message, message

    @pytest.mark.parametrize("scheme", ["grpc", "grpcs"])
    def test_a_server_that_closes_every_connection_is_still_unreachable(self, certificates, monkeypatch, scheme):
        """Something on the port that closes each connection at once (no TLS,
        no gRPC: a proxy with nothing behind it) is not taken for a TLS server."""
        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
        monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "30")
        with _closing_every_connection() as port:
            url = f"{scheme}://127.0.0.1:{port}" + (f"?root_certificates={certificates['ca.pem']}" if scheme == "grpcs" else "")
            message = _warning_of_one_call(url)
        assert "is unreachable" in message and "did not answer" in message and "TLS" not in message, message

    def test_a_tls_proxy_with_nothing_behind_it_is_not_said_to_require_a_client_certificate(self, certificates, monkeypatch):
        """A TLS terminator (stunnel, a load balancer) whose server is down or
        restarting completes the handshake and closes the connection, as a
        server that requires a client certificate does; it never asked for
        one, and was said to "require a client certificate": a wrong, alarming
        message for a server that only has to come back."""
        import ssl

        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
        monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "30")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificates["server.pem"], certificates["server.key"])
        context.set_alpn_protocols(["h2"])
        listener = socket.create_server(("127.0.0.1", 0))
        closing = threading.Event()

        def end(raw: socket.socket) -> None:
            raw.settimeout(1.0)
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    conn.unwrap()  # close_notify: nothing behind it to forward to
            except OSError:
                raw.close()

        def accept_each() -> None:
            while not closing.is_set():
                try:
                    raw = listener.accept()[0]
                except OSError:
                    return
                threading.Thread(target=end, args=(raw,), daemon=True).start()

        threading.Thread(target=accept_each, daemon=True).start()
        port = listener.getsockname()[1]
        url = f"grpcs://127.0.0.1:{port}?root_certificates={certificates['ca.pem']}"
        try:
            message = _warning_of_one_call(url)
        finally:
            closing.set()
            listener.close()
        assert "is unreachable" in message and "client certificate" not in message, message

    def test_the_tls_probe_runs_once_per_failure_streak(self, certificates, tmp_path, monkeypatch):
        """The probe that names a TLS mismatch (a TLS handshake of its own, and
        a private key file for a client certificate) ran at every failed call:
        at each background retry of the spool, every few seconds, for as long
        as the server kept closing the connection. It runs once, until a call
        succeeds; the next failure is probed anew (the server may have changed)."""
        from lineage.store import _backend, _server
        from lineage.store._backend import Backend, RetryPolicy

        probes = []
        real = _backend._tls_answer
        monkeypatch.setattr(_backend, "_tls_answer", lambda url: probes.append(url) or real(url))
        url = parse_store_url(backends.make_url("sqlite", tmp_path))
        tls = _server.TLSFiles(certificates["server.pem"], certificates["server.key"])
        port = free_port()
        backend = Backend(parse_store_url(f"grpc://127.0.0.1:{port}"), RetryPolicy(unavailable_delay=0.2))
        after = []
        for files in (tls, None, tls):  # TLS (grpc:// refused three times), plaintext (a call succeeds), TLS again
            server = _server.MetadataServer(url, port=port, tls=files)
            server.start()
            try:
                if files is None:
                    backend.call("get_artifact_types")
                for _ in range(3 if files else 0):
                    with pytest.raises(lineage.StoreUnavailableError, match="speaks TLS: use grpcs://"):
                        backend.call("get_artifact_types")
            finally:
                server.stop(0)
            after.append(len(probes))
        assert after == [1, 1, 2]

    def test_a_probe_that_met_no_tls_server_is_asked_again_at_the_next_failure(self, certificates, tmp_path):
        """The probe's answer was kept for the whole failure streak, "no answer"
        too: something on the port that closed each connection (a proxy with
        nothing behind it, a server going down), then a TLS server there, and
        grpc:// was said to be unreachable for as long as the process lived
        (no call succeeds while the URL is wrong), never that the server
        speaks TLS. Only a server's answer is kept."""
        from lineage.store import _server
        from lineage.store._backend import Backend, RetryPolicy

        with _closing_every_connection() as port:
            backend = Backend(parse_store_url(f"grpc://127.0.0.1:{port}"), RetryPolicy(unavailable_delay=0.2))
            with pytest.raises(lineage.StoreUnavailableError) as closed:
                backend.call("get_artifact_types")
        tls = _server.TLSFiles(certificates["server.pem"], certificates["server.key"])
        server = _server.MetadataServer(parse_store_url(backends.make_url("sqlite", tmp_path)), port=port, tls=tls)
        server.start()
        try:
            with pytest.raises(lineage.StoreUnavailableError) as refused:
                backend.call("get_artifact_types")
        finally:
            server.stop(0)
        assert "TLS" not in str(closed.value), closed.value
        assert "speaks TLS: use grpcs://" in str(refused.value), refused.value


def _serve_refused(url: str) -> subprocess.CompletedProcess[str]:
    """`lineage serve --store URL`, run to its end, which must come within
    10 s (the wait for a database still starting is 15 s)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lineage.cli", "serve", "--store", url, "--port", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert time.monotonic() - started < 10
    return done


@contextlib.contextmanager
def _closing_every_connection() -> Iterator[int]:
    """A port where something closes each connection at once (no TLS, no
    gRPC: a proxy with nothing behind it); freed after the block."""
    listener = socket.create_server(("127.0.0.1", 0))
    closing = threading.Event()

    def close_each() -> None:
        while not closing.is_set():
            try:
                listener.accept()[0].close()
            except OSError:
                return

    threading.Thread(target=close_each, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        closing.set()
        listener.shutdown(socket.SHUT_RDWR)  # (wakes the accept: a close alone leaves the port bound)
        listener.close()


def _warning_of_one_call(url: str) -> str:
    """The one warning a short tracked call writing to *url* gives."""

    @lineage.track(store=lineage.Store(url=url), workspace="ws")
    def step() -> lineage.Model:
        return lineage.Model(uri="s3://m", name="m")

    with pytest.warns(lineage.LineageWarning) as told:
        step()
    [message] = [str(w.message) for w in told]
    return message


class TestBusyServer:
    @staticmethod
    @contextlib.contextmanager
    def server_of_one_call(sqlite_url: str, monkeypatch: Any) -> Iterator[Any]:
        """A lineage serve of *sqlite_url* that takes one call at a time
        (grpc.server's maximum_concurrent_rpcs=1), stopped after."""
        from lineage.store import _server

        real = grpc.server
        monkeypatch.setattr(_server.grpc, "server", lambda *a, **k: real(*a, **{**k, "maximum_concurrent_rpcs": 1}))
        server = _server.MetadataServer(parse_store_url(sqlite_url), port=0)
        server.start()
        try:
            yield server
        finally:
            server.stop(0)

    @staticmethod
    @contextlib.contextmanager
    def its_only_call_taken(server: Any) -> Iterator[None]:
        """While it lasts, *server*'s one call is taken by a call that waits
        for the store all along; that call then ends without an error."""
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            with server.store._lock:
                held = channel.unary_unary(f"/{MLMD_SERVICE}/GetArtifactTypes").future(b"", timeout=120)
                time.sleep(0.3)
                assert not held.done()
                yield
            assert held.exception() is None

    def test_a_write_refused_by_a_server_at_its_call_limit_is_retried(self, sqlite_url, monkeypatch):
        """A gRPC server at its limit of concurrent calls (grpc.server's
        maximum_concurrent_rpcs, as an MLMD service may be configured)
        answers RESOURCE_EXHAUSTED "Concurrent RPC limit exceeded!": lineage
        took it as a refusal of the write, which was lost with a warning. It
        is an overload that passes: retried, the write lands."""
        method = f"/{MLMD_SERVICE}/GetArtifactTypes"
        with self.server_of_one_call(sqlite_url, monkeypatch) as server:
            store = lineage.Store(url=f"grpc://127.0.0.1:{server.port}")

            @lineage.track(store=store, workspace="ws")
            def step(n: int) -> lineage.Model:
                return lineage.Model(uri=f"s3://busy/{n}", name="m")

            step(0)  # types and contexts made: the next call is one write
            with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                with server.store._lock:  # the one call the server takes waits for the store
                    for _ in range(20):
                        # Sent again when refused itself: gRPC counts a call
                        # finished (step(0)'s last) a moment after its answer.
                        busy = channel.unary_unary(method).future(b"", timeout=30)
                        time.sleep(0.3)
                        if not busy.done():
                            break
                    release = threading.Timer(0.5, server.store._lock.release)
                    release.start()
                    with warnings.catch_warnings():
                        warnings.simplefilter("error", lineage.LineageWarning)
                        model = step(1)  # refused while the lock is held, then retried
                    server.store._lock.acquire()  # given back to the with block
                assert busy.exception() is None
        assert model.id is not None
        assert [a.id for a in embedded(sqlite_url).get_artifacts_by_uri("s3://busy/1")] == [model.id]

    def test_a_server_overloaded_for_long_is_said_overloaded_not_unreachable(self, sqlite_url, monkeypatch):
        """Writes a server at its call limit refused through the retry budget
        are spooled (e9eec05), and the warning, `lineage sync` and `lineage
        status` said it "is unreachable" / "does not answer": the user went
        looking for a server that is down. It answered: they say it is
        overloaded, with its answer."""
        from lineage.store import _spool

        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.3")
        monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "60")  # no replay during the test
        busy_said = "is overloaded (RESOURCE_EXHAUSTED: Concurrent RPC limit exceeded!)"
        with self.server_of_one_call(sqlite_url, monkeypatch) as server, self.its_only_call_taken(server):
            url = f"grpc://127.0.0.1:{server.port}"

            @lineage.track(store=lineage.Store(url=url), workspace="ws")
            def step() -> lineage.Model:
                return lineage.Model(uri="s3://busy/long", name="m")

            with pytest.warns(lineage.LineageWarning) as told:
                model = step()
            _spool.abandon_all()  # the journal, released for `lineage sync`
            cli = [sys.executable, "-m", "lineage.cli"]
            synced = subprocess.run([*cli, "sync"], capture_output=True, text=True, timeout=120)
            status = subprocess.run([*cli, "status", "--store", url], capture_output=True, text=True, timeout=120)
            as_json = subprocess.run([*cli, "status", "--store", url, "--json"], capture_output=True, text=True, timeout=120)
        assert model.id is None  # spooled
        [message] = [str(w.message) for w in told]
        assert f"lineage store {url} {busy_said}; writes are kept in the spool" in message, message
        assert "unreachable" not in message and "did not answer" not in message, message
        assert synced.returncode == 1, synced
        assert f"store {url} {busy_said}; " in synced.stdout, synced.stdout
        assert "does not answer" not in synced.stdout, synced.stdout
        assert status.returncode == 1, status
        assert f"store: {url}  {busy_said}" in status.stdout, status.stdout
        assert "NOT answer" not in status.stdout, status.stdout
        reported = json.loads(as_json.stdout)
        assert (reported["answers"], reported["overloaded"]) == (False, True), reported
        assert reported["reason"] == "RESOURCE_EXHAUSTED: Concurrent RPC limit exceeded!", reported
        assert len(_spool.spool_files()) == 1  # left for a later sync


    def test_in_strict_mode_a_write_behind_writes_spooled_by_an_overload_says_overloaded(self, sqlite_url, monkeypatch):
        """A write in strict mode queued behind writes the spool holds raised
        "is unreachable: earlier writes wait in the spool" though the spool
        knew the server answered, overloaded. It says what the spool knows,
        and carries the server's answer in `overload`."""
        from lineage.store import _spool

        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.3")
        monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "60")  # no replay during the test
        with self.server_of_one_call(sqlite_url, monkeypatch) as server, self.its_only_call_taken(server):
            url = f"grpc://127.0.0.1:{server.port}"

            @lineage.track(store=lineage.Store(url=url), workspace="ws")
            def step(n: int) -> lineage.Model:
                return lineage.Model(uri=f"s3://busy/{n}", name="m")

            with pytest.warns(lineage.LineageWarning, match="is overloaded"):
                step(0)  # spooled
            lineage.init(strict=True)
            try:
                with pytest.raises(lineage.StoreUnavailableError) as raised:
                    step(1)
            finally:
                lineage.init(strict=False)
                _spool.abandon_all()
        message = str(raised.value)
        busy = "RESOURCE_EXHAUSTED: Concurrent RPC limit exceeded!"
        assert f"store {url} is overloaded ({busy}); earlier writes wait in the spool" in message, message
        assert "unreachable" not in message, message
        assert raised.value.overload == busy and raised.value.refusal is None

class TestMessageLimit:
    """A write larger than the server takes in one gRPC message."""

    def test_a_write_over_the_limit_is_kept_in_the_spool_and_said_with_its_size(self, sqlite_url, tmp_path, monkeypatch):
        """It was refused (RESOURCE_EXHAUSTED) and lost, with "the store refused
        the write". It is spooled, for `lineage sync --into` another store, the
        warning names its size and the limit, and the next writes land."""
        from lineage.store import _server, _spool
        from lineage.store._writer import PendingWrite

        monkeypatch.setattr(_server, "_MAX_MESSAGE_BYTES", 64 * 1024)  # 256 MiB in lineage serve
        server = _server.MetadataServer(parse_store_url(sqlite_url), port=0)
        server.start()
        try:
            @lineage.track(store=lineage.Store(url=f"grpc://127.0.0.1:{server.port}"), workspace="ws")
            def step(size: int) -> lineage.Model:
                return lineage.Model(uri=f"s3://m/{size}", name="m", description="x" * size)

            with pytest.warns(lineage.LineageWarning) as told:
                big = step(100_000)
            after = step(10)
            deadline = time.monotonic() + 10
            while after.id is None and time.monotonic() < deadline:  # replayed from the spool, behind the big one
                time.sleep(0.05)
        finally:
            server.stop(0)
        [message] = [str(w.message) for w in told]
        assert "more than the 65,536 bytes" in message and "lineage sync --into" in message, message
        assert "unreachable" not in message
        assert big.id is None and after.id is not None
        [path] = _spool.spool_files(str(tmp_path / "home"))
        [kept] = _spool.read_journal(path).todo
        assert [p.artifact.uri for p in PendingWrite.from_json(kept["write"]).pairs] == ["s3://m/100000"]


    @pytest.mark.parametrize("direct", [True, False], ids=["direct path", "general path"])
    def test_in_strict_mode_a_write_over_the_limit_raises_with_its_size(self, sqlite_url, tmp_path, monkeypatch, direct):
        """Strict (no spool): the call raises a StoreError with the size and
        the limit, "not stored", from the direct path (new records) and from
        the general path (a record logged before, sent by id)."""
        from lineage.store import _server

        monkeypatch.setattr(_server, "_MAX_MESSAGE_BYTES", 64 * 1024)
        server = _server.MetadataServer(parse_store_url(sqlite_url), port=0)
        server.start()
        try:
            lineage.init(store=f"grpc://127.0.0.1:{server.port}", strict=True, start_delay=30)  # one write
            data = lineage.DataSet(uri="s3://d/1", name="d")

            @lineage.track(workspace="ws")
            def step(data: lineage.DataSet, size: int) -> lineage.Model:
                return lineage.Model(uri=f"s3://m/{size}", name="m", description="x" * size)

            step(data, 10)  # the first write finds out what the store holds (the general path), and gives data an id
            with pytest.raises(lineage.StoreError) as raised:
                # one write (a short call): all new records take the direct path, one with an id the general path
                step(lineage.DataSet(uri="s3://d/2", name="d") if direct else data, 100_000)
        finally:
            lineage.init(store=None, strict=False)
            server.stop(0)
        message = str(raised.value)
        assert "more than the 65,536 bytes" in message and "not stored" in message, message
        assert "lineage sync" not in message


class TestSyncToAMisconfiguredStore:
    def test_lineage_sync_says_what_is_wrong_not_that_the_store_does_not_answer(self, certificates, tmp_path, monkeypatch):
        """`lineage sync` of writes spooled for grpc:// while the server speaks
        TLS said "store ... does not answer", as for a server that is down."""
        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
        monkeypatch.setenv("LINEAGE_EXIT_DRAIN_SECONDS", "0")
        server = ServerProcess(backends.make_url("sqlite", tmp_path),
                               ["--tls-cert", certificates["server.pem"], "--tls-key", certificates["server.key"]])
        url = f"grpc://127.0.0.1:{server.port}"
        try:
            code = (f"import lineage\nlineage.init(store={url!r})\n"
                    "@lineage.track\ndef step() -> lineage.Model:\n    return lineage.Model(uri='s3://m', name='m')\nstep()")
            spooled = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
            assert spooled.returncode == 0, spooled.stderr
            done = subprocess.run([sys.executable, "-m", "lineage.cli", "sync"], capture_output=True, text=True, timeout=60)
        finally:
            server.stop()
        assert done.returncode == 1
        said = f"store {url} cannot be used: the server at 127.0.0.1:{server.port} speaks TLS: use grpcs://"
        assert said in done.stdout, done.stdout
        assert "does not answer" not in done.stdout
