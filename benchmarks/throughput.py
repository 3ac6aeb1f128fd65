"""Tracked-call throughput with 1-8 writer processes, and latency via ``lineage serve``.

Usage::

    .venv/bin/python benchmarks/throughput.py [--backends sqlite,postgresql,mysql,grpc]
        [--writers 1,2,4,8] [--calls 100] [--latency-calls 300]

Throughput: N spawned processes each make ``--calls`` tracked calls (one
shared DataSet in, one new Model out) into one fresh store, all released together by a barrier; the figure is all
calls over the wall time from release to the last process done. Next to it,
raw MLMD: the same processes each make one ``put_execution`` per call
(execution + input + output artifact), the least MLMD work that records the
same lineage (with its workspace and run contexts), measured in the same
run; the ratio is lineage / raw.

Latency: one process, calls one after another, median and 95th percentile of
one tracked call on the embedded SQLite store and on the same kind of store
through ``lineage serve``; the ratio is served / embedded.

Backends: ``sqlite`` (a file), ``postgresql`` and ``mysql`` (the local
servers, a fresh database each time, dropped at the end), ``grpc`` (``lineage
serve`` over a SQLite file, started here).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any, Callable, List, Optional, Sequence, Tuple

os.environ.setdefault("GLOG_minloglevel", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PG = "postgresql://postgres@127.0.0.1:5432/"
MYSQL = "mysql://root@127.0.0.1:3306/"


# --------------------------------------------------------------------------- stores


class Stores:
    """Makes fresh stores and cleans them up."""

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="lineage-bench-")
        self.databases: List[Tuple[str, str]] = []
        self.servers: List[Any] = []  # lineage.testing.ServeProcess

    def make(self, backend: str) -> str:
        name = "lineage_bench_" + uuid.uuid4().hex[:10]
        if backend == "sqlite":
            return f"sqlite:///{self.folder}/{name}.db"
        if backend == "postgresql":
            self.databases.append(("postgresql", name))
            return PG + name
        if backend == "mysql":
            self.databases.append(("mysql", name))
            return MYSQL + name
        if backend == "grpc":
            return self.serve(self.make("sqlite"))
        raise ValueError(f"unknown backend {backend!r}")

    def serve(self, store_url: str) -> str:
        from lineage.testing import ServeProcess

        server = ServeProcess(store_url)
        self.servers.append(server)
        return server.url

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        for kind, name in self.databases:
            if kind == "postgresql":
                sql = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql]
            else:
                sql = f"DROP DATABASE IF EXISTS `{name}`"
                command = ["mariadb", "--protocol=tcp", "-h", "127.0.0.1", "-u", "root", "-e", sql]
            subprocess.run(command, capture_output=True, check=False)


# --------------------------------------------------------------------------- workers (spawned)


def _tracked_step() -> Callable[..., Any]:
    import lineage

    @lineage.track(name="step")
    def step(data: lineage.DataSet, worker: int, i: int) -> lineage.Model:
        return lineage.Model(uri=f"s3://models/{worker}/{i}", name=f"model-{worker}-{i}", version="1")

    return step


def lineage_worker(url: str, worker: int, calls: int, barrier: Any) -> Tuple[float, float]:
    """Tracked calls; returns (start, end) wall-clock times."""
    import lineage

    lineage.init(store=url, workspace="bench", strict=True)
    step = _tracked_step()
    data = lineage.DataSet(uri="s3://bucket/shared.csv", name="shared", version="1")
    step(data, worker, -1)  # connect, register types, create contexts: not timed
    barrier.wait()
    start = time.time()
    for i in range(calls):
        step(data, worker, i)
    return start, time.time()


def _raw_setup(url: str, run: str = "setup") -> Tuple[Any, int, int, int, List[Any]]:
    """MLMD store, its bench types, and a workspace and a run context (with ids)."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    from lineage.store import parse_store_url

    config = parse_store_url(url).connection_config()
    for attempt in range(50):
        try:
            store = metadata_store.MetadataStore(config)
            ids = [
                store.put_artifact_type(pb.ArtifactType(name="bench/data")),
                store.put_artifact_type(pb.ArtifactType(name="bench/model")),
                store.put_execution_type(pb.ExecutionType(name="bench/step")),
                store.put_context_type(pb.ContextType(name="bench/context")),
            ]
            contexts = []
            for name in ("bench workspace", run):
                try:
                    [context_id] = store.put_contexts([pb.Context(type_id=ids[3], name=name)])
                except Exception:  # made by another writer
                    context_id = store.get_context_by_type_and_name("bench/context", name).id
                contexts.append(pb.Context(id=context_id, type_id=ids[3], name=name))
            return store, ids[0], ids[1], ids[2], contexts
        except Exception:  # another process creating the schema or a type: try again
            time.sleep(0.05 * attempt)
    raise RuntimeError(f"cannot set up raw MLMD on {url}")


def _raw_call(store: Any, data: Any, model: Any, step_type: int, contexts: List[Any]) -> None:
    """One call's lineage in raw MLMD: execution, input, output, two contexts, one put_execution."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    execution = pb.Execution(type_id=step_type, last_known_state=pb.Execution.COMPLETE)
    pairs = [(data, pb.Event(type=pb.Event.INPUT)), (model, pb.Event(type=pb.Event.OUTPUT))]
    store.put_execution(execution, pairs, contexts, reuse_context_if_already_exist=True,
                        reuse_artifact_if_already_exist_by_external_id=True)


def raw_worker(url: str, worker: int, calls: int, barrier: Any) -> Tuple[float, float]:
    """Raw MLMD: one put_execution (execution, input, output, contexts) per call."""
    from ml_metadata import errors
    from ml_metadata.proto import metadata_store_pb2 as pb

    store, data_type, model_type, step_type, contexts = _raw_setup(url, f"run {worker} {os.getpid()}")
    data = pb.Artifact(type_id=data_type, uri="s3://bucket/shared.csv", external_id="shared")
    barrier.wait()
    start = time.time()
    for i in range(calls):
        model = pb.Artifact(type_id=model_type, uri=f"s3://models/{worker}/{i}")
        for attempt in range(100):
            try:
                _raw_call(store, data, model, step_type, contexts)
                break
            except (errors.AbortedError, errors.AlreadyExistsError, errors.InternalError):
                time.sleep(0.001 * attempt)  # lock, or the shared input made by another writer
        else:
            raise RuntimeError("raw put_execution kept failing")
    return start, time.time()


def _child(target: Callable[..., Any], args: Sequence[Any], results: Any) -> None:
    import traceback

    try:
        results.put(target(*args))
    except BaseException:
        args[3].abort()  # release the other writers from the barrier
        results.put(traceback.format_exc())


def throughput(target: Callable[..., Any], url: str, writers: int, calls: int) -> float:
    """Calls per second of *writers* processes running *target* together."""
    if target is raw_worker:
        # Raw MLMD cannot create its schema from two processes at once on
        # PostgreSQL (duplicate pg_type); lineage retries that, raw MLMD not.
        _raw_setup(url)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(writers), ctx.Queue()
    processes = [ctx.Process(target=_child, args=(target, (url, w, calls, barrier), results)) for w in range(writers)]
    for process in processes:
        process.start()
    spans = [results.get(timeout=1800) for _ in processes]
    for process in processes:
        process.join()
    failed = [span for span in spans if isinstance(span, str)]
    if failed:
        raise RuntimeError(f"a writer failed:\n{failed[0]}")
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return writers * calls / wall


# --------------------------------------------------------------------------- latency


def latency(url: str, calls: int) -> Tuple[float, float]:
    """Median and p95 seconds of one tracked call, this process, one after another."""
    import lineage

    store = lineage.Store(url=url)
    step = _tracked_step()
    data = lineage.DataSet(uri="s3://bucket/shared.csv", name="shared", version="1")
    times = []
    with lineage.execution("warm-up", store=store, workspace="latency"):
        pass
    lineage.init(store=url, workspace="latency", strict=True)
    for i in range(calls + 10):
        begin = time.perf_counter()
        step(data, 0, i)
        times.append(time.perf_counter() - begin)
    lineage.reset_defaults()
    times = sorted(times[10:])
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def raw_latency(url: str, calls: int) -> Tuple[float, float]:
    """Median and p95 seconds of one raw put_execution (see :func:`_raw_call`)."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    store, data_type, model_type, step_type, contexts = _raw_setup(url, "latency run")
    data = pb.Artifact(type_id=data_type, uri="s3://bucket/shared.csv", external_id="shared-latency")
    times = []
    for i in range(calls + 10):
        model = pb.Artifact(type_id=model_type, uri=f"s3://models/{i}")
        begin = time.perf_counter()
        _raw_call(store, data, model, step_type, contexts)
        times.append(time.perf_counter() - begin)
    times = sorted(times[10:])
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


# --------------------------------------------------------------------------- main


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql,grpc")
    parser.add_argument("--writers", default="1,2,4,8")
    parser.add_argument("--calls", type=int, default=100, help="tracked calls per writer process")
    parser.add_argument("--latency-calls", type=int, default=300)
    parser.add_argument("--no-raw", action="store_true", help="skip the raw MLMD baseline")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    writers = [int(w) for w in args.writers.split(",") if w]

    stores = Stores()
    try:
        print(f"# tracked-call throughput, calls/s ({args.calls} calls per writer; "
              f"raw = one MLMD put_execution per call with the same contexts and events; {os.cpu_count()} CPUs)")
        header = f"{'backend':<11}" + "".join(f"{f'{w} writer' + ('s' if w > 1 else ''):>24}" for w in writers)
        print(header)
        for backend in backends:
            cells = []
            for count in writers:
                tracked = throughput(lineage_worker, stores.make(backend), count, args.calls)
                if args.no_raw:
                    cells.append(f"{tracked:>24.0f}")
                else:
                    raw = throughput(raw_worker, stores.make(backend), count, args.calls)
                    cells.append(f"{f'{tracked:.0f} (raw {raw:.0f}, {tracked / raw:.2f}x)':>24}")
            print(f"{backend:<11}" + "".join(cells), flush=True)

        print()
        print(f"# latency of one tracked call, {args.latency_calls} calls in one process (median / p95, ms)")
        rows = []
        for label, url in (("embedded sqlite", stores.make("sqlite")), ("lineage serve", None)):
            if url is None:
                url = stores.serve(stores.make("sqlite"))
            tracked = latency(url, args.latency_calls)
            raw = raw_latency(url, args.latency_calls)
            rows.append((label, tracked, raw))
            print(f"{label:<16} tracked {tracked[0] * 1e3:7.2f} / {tracked[1] * 1e3:7.2f}"
                  f"   raw put_execution {raw[0] * 1e3:7.2f} / {raw[1] * 1e3:7.2f}"
                  f"   tracked/raw {tracked[0] / raw[0]:.2f}x", flush=True)
        (_, embedded, embedded_raw), (_, served, served_raw) = rows
        print(f"lineage serve / embedded, median: tracked {served[0] / embedded[0]:.2f}x, "
              f"raw {served_raw[0] / embedded_raw[0]:.2f}x")
    finally:
        stores.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
