"""Many writers at once: real processes (spawned), threads, every backend.

Each writer process tracks calls into one shared store; afterwards the store
must hold exactly what was tracked: every execution COMPLETE with its input
and output events, one deduplicated DataSet, no duplicate types, one
workspace, one run per process. Workers run with ``strict=True``, so any
failure of lineage would surface as an error in the worker.
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import threading
import traceback
from typing import Any, Callable, Dict, List, Sequence

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage
from lineage.store import parse_store_url
from tests import backends

BACKENDS = ["sqlite", "postgresql", "mysql", "grpc"]
WORKSPACE = "shared"
SHARED_DATA = {"uri": "s3://bucket/shared.csv", "name": "shared", "version": "1"}


@lineage.track
def step(data: lineage.DataSet, worker: int, i: int) -> lineage.Model:
    """One tracked call: a shared input, a unique output (one put_execution)."""
    return lineage.Model(uri=f"s3://models/{worker}/{i}", name=f"model-{worker}-{i}", version="1")


@lineage.track(name="step")
def wide_step(data: lineage.DataSet, worker: int, i: int) -> List[lineage.Model]:
    """A shared input and two unique outputs: three artifacts, one put_lineage_subgraph."""
    return [lineage.Model(uri=f"s3://models/{worker}/{i}/{n}", name=f"model-{worker}-{i}", version="1") for n in range(2)]


# --------------------------------------------------------------------------- process helpers


def _run_in_child(target: Callable[..., Any], args: Sequence[Any], results: Any) -> None:
    try:
        results.put(("ok", os.getpid(), target(*args)))
    except BaseException:
        results.put(("error", os.getpid(), traceback.format_exc()))


def run_processes(target: Callable[..., Any], args_list: List[Sequence[Any]], timeout: float = 600) -> List[Any]:
    """Run ``target(*args)`` in one spawned process per args; return their results.

    Raises:
        AssertionError: a process failed (its traceback is in the message) or hung.
    """
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    processes = [ctx.Process(target=_run_in_child, args=(target, args, results)) for args in args_list]
    for process in processes:
        process.start()
    outcomes = []
    try:
        for _ in processes:
            outcomes.append(results.get(timeout=timeout))
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join()
        results.close()
        results.join_thread()
    errors = [text for status, _, text in outcomes if status == "error"]
    assert not errors, "a writer process failed:\n" + "\n".join(errors)
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return [value for _, _, value in outcomes]


def track_worker(url: str, worker: int, calls: int, barrier: Any, outputs: int = 1) -> int:
    """A writer process: *calls* tracked calls, all started together."""
    lineage.init(store=url, workspace=WORKSPACE, strict=True)
    data = lineage.DataSet(**SHARED_DATA)
    barrier.wait()
    for i in range(calls):
        models = [step(data, worker, i)] if outputs == 1 else wide_step(data, worker, i)
        assert len(models) == outputs and all(model.id is not None for model in models)
    return calls


def opposite_order_worker(url: str, reverse: bool, calls: int, barrier: Any) -> int:
    """*calls* writes of the same three new DataSets as the other worker, in
    the opposite order: each takes its row locks the other way round."""
    store = lineage.Store(url=url)
    ws = lineage.Workspace(store=store, name=WORKSPACE)
    barrier.wait()
    for i in range(calls):
        shared = [lineage.DataSet(uri=f"s3://shared/{i}/{k}", name="shared") for k in range(3)]
        ex = lineage.Execution(name="read", workspace=ws, _defer=True)
        ex._write(inputs=shared[::-1] if reverse else shared, spool=False)
        assert all(data.id is not None for data in shared)
    return calls


def create_same_worker(url: str, barrier: Any) -> Dict[str, int]:
    """Create the same workspace, run and types as every other process, at once."""
    store = lineage.Store(url=url)
    barrier.wait()
    ws = lineage.Workspace(store=store, name="same workspace")
    run = lineage.Run(workspace=ws, name="same run")
    ex = lineage.Execution(name="same", workspace=ws, run=run)
    data = ex.log_input(lineage.DataSet(**SHARED_DATA))
    return {"workspace": ws.context_id, "run": run.context_id, "data": data.id}


# --------------------------------------------------------------------------- store checks


def open_store(url: str) -> metadata_store.MetadataStore:
    """MLMD's own client for the URL (stock gRPC client for grpc://)."""
    return metadata_store.MetadataStore(parse_store_url(url).connection_config())


def assert_no_duplicate_types(mlmd: metadata_store.MetadataStore) -> None:
    for kind in ("artifact", "execution", "context"):
        names = [t.name for t in getattr(mlmd, f"get_{kind}_types")()]
        duplicates = [name for name, count in collections.Counter(names).items() if count > 1]
        assert duplicates == [], f"duplicate {kind} types"


def assert_tracked(url: str, processes: int, calls: int, outputs: int = 1) -> None:
    """The store holds exactly processes x calls complete executions of ``step``."""
    mlmd = open_store(url)
    total = processes * calls
    executions = [
        e for e in mlmd.get_executions_by_type("kubeflow.org/alpha/execution")
        if e.properties["name"].string_value == "step"
    ]
    assert len(executions) == total
    assert collections.Counter(pb.Execution.State.Name(e.last_known_state) for e in executions) == {"COMPLETE": total}
    assert len({e.external_id for e in executions}) == total

    events = mlmd.get_events_by_execution_ids([e.id for e in executions])
    per_execution = collections.Counter((e.execution_id, pb.Event.Type.Name(e.type)) for e in events)
    assert len(events) == (1 + outputs) * total
    assert collections.Counter(per_execution.values()) == ({1: total, outputs: total} if outputs > 1 else {1: 2 * total})
    assert {kind for _, kind in per_execution} == {"INPUT", "OUTPUT"}

    datasets = mlmd.get_artifacts_by_type("kubeflow.org/alpha/data_set")
    assert [a.uri for a in datasets] == [SHARED_DATA["uri"]]
    inputs = {e.artifact_id for e in events if e.type == pb.Event.INPUT}
    assert inputs == {datasets[0].id}
    models = mlmd.get_artifacts_by_type("kubeflow.org/alpha/model")
    assert len(models) == outputs * total
    assert len({a.uri for a in models}) == outputs * total
    assert {e.artifact_id for e in events if e.type == pb.Event.OUTPUT} == {a.id for a in models}

    workspaces = mlmd.get_contexts_by_type("kubeflow.org/alpha/workspace")
    assert [c.name for c in workspaces] == [WORKSPACE]
    assert len(mlmd.get_contexts_by_type("lineage/run")) == processes
    assert_no_duplicate_types(mlmd)


def tracked_in_processes(url: str, processes: int, calls: int, outputs: int = 1) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    done = run_processes(track_worker, [(url, worker, calls, barrier, outputs) for worker in range(processes)])
    assert done == [calls] * processes
    assert_tracked(url, processes, calls, outputs)


# --------------------------------------------------------------------------- tests


@pytest.mark.backend
@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_same_new_artifacts_in_opposite_orders(backend, tmp_path):
    """Two processes store the same new DataSets in opposite orders. The database
    aborts one of two writes that wait on each other (a deadlock); it is retried,
    not refused: every write lands, each DataSet is stored once."""
    url = backends.make_url(backend, tmp_path)
    lineage.Workspace(store=lineage.Store(url=url), name=WORKSPACE)  # schema and types made once
    calls = 60
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    assert run_processes(opposite_order_worker, [(url, reverse, calls, barrier) for reverse in (False, True)]) == [calls] * 2
    mlmd = open_store(url)
    datasets = mlmd.get_artifacts_by_type("kubeflow.org/alpha/data_set")
    assert len(datasets) == len({a.uri for a in datasets}) == 3 * calls
    executions = mlmd.get_executions_by_type("kubeflow.org/alpha/execution")
    assert len(executions) == 2 * calls
    events = mlmd.get_events_by_execution_ids([e.id for e in executions])
    assert collections.Counter(e.execution_id for e in events) == {e.id: 3 for e in executions}


@pytest.mark.backend
@pytest.mark.parametrize("backend", BACKENDS)
class TestManyWriterProcesses:
    """N processes tracking into one store lose nothing and duplicate nothing."""

    def test_four_processes_track_25_calls_each(self, backend, tmp_path):
        """4 x 25 tracked calls: 100 complete executions, 200 events, one DataSet."""
        tracked_in_processes(backends.make_url(backend, tmp_path), processes=4, calls=25)

    def test_four_processes_track_25_calls_of_three_artifacts_each(self, backend, tmp_path):
        """The same with two outputs per call: writes of three artifacts (put_lineage_subgraph),
        all racing to store the shared input first."""
        tracked_in_processes(backends.make_url(backend, tmp_path), processes=4, calls=25, outputs=2)

    @pytest.mark.slow
    def test_eight_processes_track_250_calls_each(self, backend, tmp_path):
        """Issue 4's figure: 8 x 250 tracked calls, 2,000 complete executions."""
        tracked_in_processes(backends.make_url(backend, tmp_path), processes=8, calls=250)

    def test_same_workspace_run_and_types_at_the_same_moment(self, backend, tmp_path):
        """Processes creating one workspace, run and types at once end with one of each."""
        url = backends.make_url(backend, tmp_path)
        ctx = multiprocessing.get_context("spawn")
        processes = 4
        barrier = ctx.Barrier(processes)
        seen = run_processes(create_same_worker, [(url, barrier)] * processes)
        assert len({ids["workspace"] for ids in seen}) == 1
        assert len({ids["run"] for ids in seen}) == 1
        assert len({ids["data"] for ids in seen}) == 1

        mlmd = open_store(url)
        assert [c.name for c in mlmd.get_contexts_by_type("kubeflow.org/alpha/workspace")] == ["same workspace"]
        assert len(mlmd.get_contexts_by_type("lineage/run")) == 1
        assert len(mlmd.get_artifacts_by_type("kubeflow.org/alpha/data_set")) == 1
        assert len(mlmd.get_executions()) == processes
        assert_no_duplicate_types(mlmd)


@pytest.mark.backend
@pytest.mark.parametrize("backend", BACKENDS)
class TestThreadsShareOneStore:
    """Threads of one process sharing a Store are safe."""

    def test_threads_track_into_one_store(self, backend, tmp_path):
        """8 threads x 20 tracked calls through one Store: all recorded once."""
        url = backends.make_url(backend, tmp_path)
        lineage.init(store=url, workspace=WORKSPACE, strict=True)
        data = lineage.DataSet(**SHARED_DATA)
        errors: List[BaseException] = []
        start = threading.Barrier(8)

        def worker(n: int) -> None:
            try:
                start.wait()
                for i in range(20):
                    step(data, n, i)
            except BaseException as exc:  # re-raised by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert errors == []
        # One process: one run context, like one writer process.
        assert_tracked(url, processes=1, calls=160)

    def test_threads_share_imperative_objects(self, backend, tmp_path):
        """Threads logging through one Workspace and Run with the Kubeflow-style API."""
        store = lineage.Store(url=backends.make_url(backend, tmp_path))
        ws = lineage.Workspace(store=store, name=WORKSPACE)
        run = lineage.Run(workspace=ws, name="threads")
        errors: List[BaseException] = []
        ids: Dict[int, List[int]] = collections.defaultdict(list)

        def worker(n: int) -> None:
            try:
                for i in range(10):
                    ex = lineage.Execution(name="imperative", workspace=ws, run=run)
                    ex.log_input(lineage.DataSet(**SHARED_DATA))
                    model = ex.log_output(lineage.Model(uri=f"s3://m/{n}/{i}", name="m", version=str(i)))
                    ids[n].append(model.id)
            except BaseException as exc:  # re-raised by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert errors == []
        mlmd = store.store
        assert len(mlmd.get_executions()) == 60
        assert len(mlmd.get_artifacts_by_type("kubeflow.org/alpha/data_set")) == 1
        assert len({i for values in ids.values() for i in values}) == 60
        assert len(mlmd.get_events_by_execution_ids([e.id for e in mlmd.get_executions()])) == 120


# --------------------------------------------------------------------------- fork


def _held(lock_of: Callable[[], Any]):
    """A thread that holds a lock until told to stop, as lineage's start writer
    or spool drainer holds one in the middle of a write."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock_of():
            taken.set()
            release.wait(30)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(5)
    return thread, release


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
@pytest.mark.parametrize(
    "holder", ["backend", "writer", "spool", "scheduler", "ids", "connections", "settings", "warnings", "made classes"]
)
def test_forked_child_does_not_wait_on_a_lock_a_parent_thread_held(tmp_path, holder):
    """A lock one of the parent's threads held at fork() stays held forever in
    the child, where that thread does not exist: the child's first tracked
    call hung on it (seen with the start writer mid-write). Now every lock
    is fresh in the child, and its calls are recorded."""
    import signal

    from lineage import _config, _scope
    from lineage.store import _codec, connect

    url = backends.make_url("sqlite", tmp_path)
    lineage.init(store=url, workspace="fork", strict=True, start_delay=0)
    step(lineage.DataSet(uri="s3://bucket/before-fork", name="d"), 0, 0)  # connected, types known
    conn = connect(url)
    lock_of = {
        "backend": lambda: conn.backend._lock,
        "writer": lambda: conn.writer._lock,
        "spool": lambda: conn.writer.spool._lock,
        "scheduler": lambda: _scope._scheduler._lock,
        "ids": lambda: _codec._id_lock,
        "connections": lambda: __import__("lineage.store", fromlist=["_connections_lock"])._connections_lock,
        "settings": lambda: _config._lock,
        "warnings": lambda: _config._warned_lock,
        "made classes": lambda: lineage.records._making,
    }[holder]
    thread, release = _held(lock_of)
    try:
        pid = os.fork()
        if pid == 0:  # the child: a hang is killed by the alarm
            signal.alarm(20)
            code = 1
            try:
                with lineage.execution("in-child", start_delay=0.01) as ex:
                    ex.log_input(lineage.DataSet(uri=f"s3://bucket/child-{holder}", name="c"))
                    import time

                    time.sleep(0.05)  # the child's own start writer runs
                # What takes the locks a tracked call may not: a warning, a class made for another tool's type.
                lineage._config.first_warning(("child", holder))
                lineage.records.class_for_stored_type(f"acme.org/fork/{holder}", {"step": "int"})
                code = 0 if ex.id is not None else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        thread.join(5)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status} (killed: it hung)"
    store = lineage.Store(url=url)
    [child] = [e for e in store.store.get_executions() if e.properties["name"].string_value == "in-child"]
    assert child.last_known_state == pb.Execution.COMPLETE
    # The parent goes on writing with the same (inherited) connection.
    step(lineage.DataSet(uri="s3://bucket/after-fork", name="d"), 0, 1)
    assert len(store.store.get_executions()) == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_child_forked_without_pythons_hooks_still_writes_running_states(tmp_path):
    """A C extension calling fork() skips Python's at-fork hooks: only the
    start scheduler's own pid check sees the new process. It kept the
    parent's condition (whose waiter list names the parent's thread) and
    the parent's count of worker threads, so the child's long calls were
    never RUNNING."""
    import ctypes
    import signal
    import time

    from ml_metadata import errors as mlmd_errors

    url = backends.make_url("sqlite", tmp_path)
    lineage.init(store=url, workspace="rawfork", strict=True, start_delay=0.05)

    @lineage.track
    def slow(d: lineage.DataSet, seconds: float) -> Any:
        time.sleep(seconds)
        external_id = lineage.current_execution().external_id
        try:
            [stored] = lineage.Store(url=url).store.get_executions_by_external_ids([external_id])
        except mlmd_errors.NotFoundError:
            return None
        return stored.last_known_state

    assert slow(lineage.DataSet(uri="s3://bucket/parent", name="d"), 0.3) == pb.Execution.RUNNING  # a worker wrote it
    time.sleep(0.3)  # the scheduler thread sleeps, waiting on its condition
    pid = ctypes.CDLL(None).fork()
    if pid == 0:  # the child: a hang is killed by the alarm
        signal.alarm(20)
        code = 1
        try:
            state = slow(lineage.DataSet(uri="s3://bucket/child", name="d"), 0.8)
            code = 0 if state == pb.Execution.RUNNING else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status} (3: not RUNNING)"


# --------------------------------------------------------------------------- start writes, current execution


def test_a_slow_start_write_does_not_hold_up_the_others(tmp_path, monkeypatch):
    """RUNNING states are written by a few worker threads: a call whose start
    write hangs (its store takes the connection and never answers) does not
    keep another call, on another store, from showing RUNNING (all start
    writes went one after another through one thread)."""
    import socket
    import time

    monkeypatch.setenv("LINEAGE_CONNECT_TIMEOUT_SECONDS", "4")
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)  # accepts (in the kernel), never answers
    stuck_url = f"postgresql://postgres@127.0.0.1:{hole.getsockname()[1]}/db"
    url = backends.make_url("sqlite", tmp_path)
    lineage.init(workspace="slow-start", strict=False)
    release = threading.Event()

    @lineage.track(store=stuck_url, start_delay=0.05)
    def stuck() -> None:
        release.wait(10)

    @lineage.track(store=url, start_delay=0.2)
    def quick() -> None:
        release.wait(10)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = threading.Thread(target=stuck)
        first.start()
        time.sleep(0.15)  # its start write is now waiting on the silent server
        second = threading.Thread(target=quick)
        second.start()
        try:
            mlmd = metadata_store.MetadataStore(parse_store_url(url).connection_config())
            seen = False
            deadline = time.monotonic() + 3.0  # the stuck write holds its worker for 4 s
            while not seen and time.monotonic() < deadline:
                time.sleep(0.05)
                try:
                    seen = any(e.last_known_state == pb.Execution.RUNNING for e in mlmd.get_executions())
                except Exception:  # the file is being made
                    pass
        finally:
            release.set()
            first.join(30)
            second.join(30)
            hole.close()
    assert seen, "quick() never showed RUNNING while stuck()'s start write hung"


def test_an_ended_block_is_no_ones_current_execution():
    """A with-block in a generator ends in another context, which cannot
    reset the consumer's current execution: it stayed current, and later
    calls recorded the ended block as their parent."""
    lineage.init(store="memory://", workspace="ctx", strict=True, start_delay=0)

    def stream():
        with lineage.execution("stream_block"):
            yield 1
            yield 2

    gen = stream()
    next(gen)  # the block is entered in this context
    assert lineage.current_execution().name == "stream_block"

    @lineage.track
    def after() -> Any:
        return lineage.current_execution().parent

    gen.close()  # the block ends (exiting inside the generator's frame)
    assert lineage.current_execution() is None
    assert after() is None

    ex = lineage.execution("left elsewhere")
    ex.__enter__()
    worker = threading.Thread(target=ex.__exit__, args=(None, None, None))
    worker.start()
    worker.join()
    assert lineage.current_execution() is None and after() is None


def test_one_block_entered_by_many_threads_at_once_is_entered_once(tmp_path):
    """One ``execution(...)`` object entered by 8 threads at once (a block
    made once, at module level, for a worker function): more than one got
    past the "entered once" check while the first still logged its inputs.
    Each made an execution of its own on the one scope: the first was left
    RUNNING for good, and the thread whose block was ended by another's exit
    was told "has ended" in the middle of its block. Now one thread enters
    it, the others are told at their with statement, and one execution is
    stored, COMPLETE."""
    import sys

    url = backends.make_url("sqlite", tmp_path)
    lineage.init(store=url, workspace="once", strict=True, start_delay=0)
    parts = [lineage.DataSet(uri=f"s3://bucket/part-{i}", name="part") for i in range(50)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for trial in range(5):
            block = lineage.execution(f"shared-{trial}", inputs=parts)
            barrier = threading.Barrier(8)
            said: List[str] = []

            def worker(n: int, block: Any = block, barrier: Any = barrier, said: List[str] = said) -> None:
                barrier.wait()
                try:
                    with block:
                        block.log_output(lineage.Model(uri=f"s3://models/{n}", name="m"))
                    said.append("entered")
                except lineage.LineageError as exc:
                    said.append(str(exc))

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert said.count("entered") == 1, (trial, said)
            assert all("can be entered once" in s for s in said if s != "entered"), (trial, said)
    finally:
        sys.setswitchinterval(interval)
    mlmd = metadata_store.MetadataStore(parse_store_url(url).connection_config())
    executions = mlmd.get_executions()
    assert sorted(e.properties["name"].string_value for e in executions) == [f"shared-{t}" for t in range(5)]
    assert {pb.Execution.State.Name(e.last_known_state) for e in executions} == {"COMPLETE"}


def test_one_new_record_written_by_many_threads_is_one_artifact(tmp_path):
    """A Metrics object (no deduplication key) returned by 16 threads at once
    is one artifact: its key was looked up and made outside the lock, so two
    threads could give it two."""
    import sys

    url = backends.make_url("sqlite", tmp_path)
    lineage.init(store=url, workspace="race", strict=True)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for trial in range(15):
            metrics = lineage.Metrics(uri=f"file:///race/{trial}.json", name="eval", values={"acc": 0.9})
            barrier = threading.Barrier(16)

            @lineage.track
            def report(i: int) -> lineage.Metrics:
                barrier.wait()
                return metrics

            threads = [threading.Thread(target=report, args=(i,)) for i in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            mlmd = metadata_store.MetadataStore(parse_store_url(url).connection_config())
            assert len(mlmd.get_artifacts_by_uri(metrics.uri)) == 1, trial
    finally:
        sys.setswitchinterval(interval)


def test_another_tools_new_type_read_by_many_threads_is_one_class(tmp_path):
    """Artifacts of a type no class here describes (another tool's) read by
    8 threads at once: each thread made a class of its own for the type, so
    the records were of up to 8 classes, all but one not the class records of
    that type are read as from then on. Now one class is made."""
    import sys

    from lineage import records

    url = backends.make_url("sqlite", tmp_path)
    store = lineage.Store(url=url)
    mlmd = metadata_store.MetadataStore(parse_store_url(url).connection_config())
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for trial in range(10):
            artifact_type = pb.ArtifactType(name=f"acme.org/race/checkpoint_{trial}")
            artifact_type.properties["step"] = pb.INT
            artifact_type.properties["note"] = pb.STRING
            type_id = mlmd.put_artifact_type(artifact_type)
            [artifact_id] = mlmd.put_artifacts([pb.Artifact(type_id=type_id, uri=f"s3://race/{trial}")])
            barrier = threading.Barrier(8)
            read: List[Any] = []

            def reader(barrier: Any = barrier, read: List[Any] = read, artifact_id: int = artifact_id) -> None:
                barrier.wait()
                read.append(store.get_artifact(artifact_id))

            threads = [threading.Thread(target=reader) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert [type(r) for r in read] == [records.record_class_for(artifact_type.name)] * 8, trial
            assert [r.uri for r in read] == [f"s3://race/{trial}"] * 8
    finally:
        sys.setswitchinterval(interval)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_started_workers_record_where_init_said(tmp_path, method):
    """Workers a spawn or forkserver pool starts (torch.multiprocessing.spawn,
    Python 3.14's default) did not have what the parent's init() set: their
    calls went to the default store and workspace, where no one looked."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    url = backends.make_url("sqlite", tmp_path)
    lineage.init(store=url, workspace="spawned", run="ddp")
    if method == "forkserver":
        from multiprocessing import forkserver

        forkserver._forkserver._stop()  # a fork server started earlier has the environment of then
    data = [lineage.DataSet(uri=f"s3://bucket/part-{i}", name="part") for i in range(2)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
        models = list(pool.map(step, data, [0, 1], [0, 1]))
    assert [m.uri for m in models] == ["s3://models/0/0", "s3://models/1/1"]
    mlmd = metadata_store.MetadataStore(parse_store_url(url).connection_config())
    [run] = [c for c in mlmd.get_contexts() if c.name == "spawned/ddp"]
    assert sorted(e.properties["name"].string_value for e in mlmd.get_executions_by_context(run.id)) == ["step", "step"]
    assert not (tmp_path / "home" / "lineage.db").exists()  # nothing in the default store


def _settings_in_a_started_process(env: Dict[str, str], code: str = "") -> Any:
    import json
    import subprocess
    import sys

    script = (
        "import json, lineage\n"
        f"{code}\n"
        "from lineage import _config\n"
        "print(json.dumps([_config.store_url(), _config.workspace_name(), _config.settings().start_delay]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def test_a_started_process_starts_from_init_and_decides_with_its_own(tmp_path, monkeypatch):
    """A script a driver runs starts from what the driver's init() set; its
    own init(), and a LINEAGE_* variable set anew for it, decide over that."""
    first, second = backends.make_url("sqlite", tmp_path / "a"), backends.make_url("sqlite", tmp_path / "b")
    monkeypatch.setenv("LINEAGE_WORKSPACE", "from-the-shell")
    lineage.init(store=first, workspace="driver", start_delay=5)
    env = dict(os.environ)
    assert _settings_in_a_started_process(env)[0] == [first, "driver", 5.0]
    assert _settings_in_a_started_process({**env, "LINEAGE_STORE": second})[0] == [second, "driver", 5.0]
    assert _settings_in_a_started_process({**env, "LINEAGE_WORKSPACE": "step"})[0] == [first, "step", 5.0]
    assert _settings_in_a_started_process(env, "lineage.init(workspace='mine')")[0] == [first, "mine", 5.0]
    settings, said = _settings_in_a_started_process({**env, "LINEAGE_INIT": '{"store": "postgresql://u:s3cret@h/db'})
    assert settings == [None, "from-the-shell", None]
    assert "LINEAGE_INIT is not what lineage.init() writes in a parent process" in said and "s3cret" not in said
    crafted = {"workspace": "w", "start_delay": -1, "environment": {"LINEAGE_WORKSPACE": "from-the-shell"}}
    settings, said = _settings_in_a_started_process({**env, "LINEAGE_INIT": json.dumps(crafted)})
    assert settings == [None, "w", None]
    assert "LINEAGE_INIT from the parent process: start_delay=-1 is ignored" in said


def test_a_deeply_nested_lineage_init_does_not_stop_the_import():
    """json.loads raises RecursionError, not ValueError, for arrays nested
    past its depth: `import lineage` failed with it."""
    settings, said = _settings_in_a_started_process({**os.environ, "LINEAGE_INIT": "[" * 100_000})
    assert settings[0] is None
    assert "LINEAGE_INIT is not what lineage.init() writes in a parent process" in said


def test_what_children_start_from_follows_init_recording_and_reset(tmp_path):
    from lineage.testing import recording

    url = backends.make_url("sqlite", tmp_path)
    assert "LINEAGE_INIT" not in os.environ
    lineage.init(workspace="outer", hash_files=False)
    outer = json.loads(os.environ["LINEAGE_INIT"])
    assert {k: v for k, v in outer.items() if k != "environment"} == {"workspace": "outer", "hash_files": False}
    with recording(store=url, workspace="inner"):
        inner = json.loads(os.environ["LINEAGE_INIT"])
        assert (inner["store"], inner["workspace"], inner["strict"]) == (url, "inner", True)
    assert json.loads(os.environ["LINEAGE_INIT"]) == outer
    lineage.reset_defaults()
    assert "LINEAGE_INIT" not in os.environ


def test_ended_calls_do_not_pile_up_in_the_start_schedule(tmp_path):
    """With a long start_delay, the schedule keeps only what is still running
    (entries of ended calls waited for their deadline: one per call)."""
    from lineage import _scope

    lineage.init(store="memory://", workspace="heap", strict=True, start_delay=3600)

    @lineage.track
    def short(i: int) -> None:
        return None

    for i in range(8000):
        short(i)
    assert len(_scope._scheduler._heap) <= 1024 + 1  # it held thousands


@lineage.track
def _pool_task(i: int) -> int:
    return i


def test_a_forked_child_neither_inherits_nor_ends_its_parents_execution(sqlite_url):
    """A fork Pool made in one block and used in the next recorded the first
    (ended) block as the parent, in its workspace; a child leaving a
    with-block wrote its parent's execution as ended."""
    lineage.init(store=sqlite_url, start_delay=0)
    ctx = multiprocessing.get_context("fork")
    with lineage.execution("phase1", workspace="ws1"):
        pool = ctx.Pool(1)
        pool.map(_pool_task, [1])
    with lineage.execution("phase2", workspace="ws2"):
        pool.map(_pool_task, [2])
    pool.close()
    pool.join()
    outer = lineage.execution("outer", start_delay=0)
    outer.__enter__()
    pid = os.fork()
    if pid == 0:  # the child leaves the block (as sys.exit() in it would)
        try:
            outer.__exit__(None, None, None)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    mlmd = metadata_store.MetadataStore(parse_store_url(sqlite_url).connection_config())
    [stored] = [e for e in mlmd.get_executions() if e.properties["name"].string_value == "outer"]
    assert stored.last_known_state == pb.Execution.RUNNING  # the child did not end it
    outer.__exit__(None, None, None)
    names = {e.external_id: e.properties["name"].string_value for e in mlmd.get_executions()}
    for e in mlmd.get_executions():
        if e.properties["name"].string_value == "_pool_task" and e.custom_properties["i"].int_value == 2:
            parent = e.custom_properties.get("lineage.parent_external_id")
            assert parent is None or names[parent.string_value] != "phase1"


def test_a_forked_child_flushing_its_parents_block_does_not_reopen_it(sqlite_url):
    """ex.flush() in a child forked in the block, after the parent ended it,
    wrote the execution RUNNING again (its end time dropped)."""
    lineage.init(store=sqlite_url, start_delay=0)
    read, write = os.pipe()
    with lineage.execution("blk") as ex:
        pid = os.fork()
        if pid == 0:
            try:
                os.read(read, 1)  # the parent has ended the block
                ex.log_param("lr", 0.5)
                ex.flush()
            finally:
                os._exit(0)
    os.write(write, b"x")
    os.waitpid(pid, 0)
    mlmd = metadata_store.MetadataStore(parse_store_url(sqlite_url).connection_config())
    [stored] = mlmd.get_executions()
    assert stored.last_known_state == pb.Execution.COMPLETE and "lineage.end_time" in stored.custom_properties


def test_a_forked_child_logging_to_its_parents_block_is_told_not_dropped(sqlite_url):
    """In a child forked in a block, ex.log_input() was taken and never
    written (flush does nothing there), while ex.id still wrote the start,
    with what the child logged, into the parent's ended execution."""
    lineage.init(store=sqlite_url)  # default start delay: the block ends in one write
    read, write = os.pipe()
    result = os.pipe()
    with lineage.execution("blk") as ex:
        pid = os.fork()
        if pid == 0:
            code = b"n"
            try:
                os.read(read, 1)  # the parent has ended the block
                try:
                    ex.log_input(lineage.DataSet(uri="file:///child", name="c"))
                except lineage.LineageError:
                    code = b"r"
                # It wrote the child's records into the parent's execution;
                # then it was None (the child does not write it): it is read.
                code += str(ex.id).encode()
            finally:
                os.write(result[1], code)
                os._exit(0)
    os.write(write, b"x")
    os.waitpid(pid, 0)
    told = os.read(result[0], 64)
    mlmd = metadata_store.MetadataStore(parse_store_url(sqlite_url).connection_config())
    [stored] = mlmd.get_executions()
    assert told == b"r" + str(stored.id).encode()
    assert mlmd.get_events_by_execution_ids([stored.id]) == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_forked_child_leaving_a_block_another_thread_was_writing_does_not_wait(sqlite_url):
    """A block's lock, held at fork() by another thread of the parent (one
    of the threads that log to the block and flush it, mid-write), stays
    held forever in the child: the child leaving the block (as sys.exit()
    in it does), logging a parameter to it or flushing it hung on that lock
    before it was told the block is the parent's. Now the child is told at
    once (log_param raises "belongs to process"; flush and the exit do
    nothing there), and the parent ends the block."""
    import signal

    lineage.init(store=sqlite_url, start_delay=0)
    result = os.pipe()
    with lineage.execution("blk") as ex:
        thread, release = _held(lambda: ex._lock)
        try:
            pid = os.fork()
            if pid == 0:  # the child: a hang is killed by the alarm
                signal.alarm(10)
                code = b"n"
                try:
                    try:
                        ex.log_param("lr", 0.5)
                    except lineage.LineageError as exc:
                        code = b"r" if "belongs to process" in str(exc) else b"?"
                    ex.flush()
                    ex.__exit__(None, None, None)
                    code += b"x"
                finally:
                    os.write(result[1], code)
                    os._exit(0)
            _, status = os.waitpid(pid, 0)
        finally:
            release.set()
            thread.join(5)
    assert os.WIFEXITED(status), f"child status {status} (killed: it hung)"
    assert os.read(result[0], 8) == b"rx"
    mlmd = metadata_store.MetadataStore(parse_store_url(sqlite_url).connection_config())
    [stored] = mlmd.get_executions()
    assert stored.last_known_state == pb.Execution.COMPLETE and "lr" not in stored.custom_properties


def test_a_forked_child_reading_ex_id_while_the_store_is_down_does_not_wait(monkeypatch):
    """ex.id in a forked child reads the store (the child does not write the
    parent's execution): with the store down it waited the whole retry
    budget on every read."""
    import time
    import warnings

    monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "3")
    lineage.init(store="postgresql://postgres@127.0.0.1:1/down", workspace="w")  # default start delay
    result = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lineage.execution("blk") as ex:
            pid = os.fork()
            if pid == 0:
                try:
                    began = time.monotonic()
                    ids = (ex.id, ex.id)
                    os.write(result[1], f"{ids[0]} {ids[1]} {time.monotonic() - began:.2f}".encode())
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
    first, second, took = os.read(result[0], 64).decode().split()
    assert (first, second) == ("None", "None") and float(took) < 1.0


@pytest.mark.parametrize("kind", ["plain", "SimpleNamespace", "argparse.Namespace"])
def test_a_plain_object_another_thread_adds_attributes_to_keeps_its_parameter(tmp_path, kind):
    """A plain object (a namespace too) passed to tracked calls while another
    thread adds and removes attributes of it (a trainer whose progress
    thread sets new ones) is written Trainer(...) on every call. Its repr
    was made walking its __dict__ as it changed: 'dictionary changed size
    during iteration' (a namespace's: an attribute gone when read), caught
    as a broken repr's is, and the parameter was '<Trainer object>' on
    about one call in ten, with no warning."""
    import argparse
    import sys
    import types

    class Trainer:
        pass

    class TrainerNamespace(types.SimpleNamespace):
        pass

    class TrainerArgs(argparse.Namespace):
        pass

    url = backends.make_url("sqlite", tmp_path)
    lineage.init(store=url, workspace="race", strict=True)
    trainer = {"plain": Trainer, "SimpleNamespace": TrainerNamespace, "argparse.Namespace": TrainerArgs}[kind]()
    for k in range(20):
        setattr(trainer, f"a{k}", k)

    @lineage.track
    def fit(model: Any, i: int) -> int:
        return i

    stop = threading.Event()

    def progress() -> None:
        n = 0
        while not stop.is_set():
            setattr(trainer, f"step{n % 20}", n)
            if n % 20 == 19:
                for k in range(20):
                    delattr(trainer, f"step{k}")
            n += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    thread = threading.Thread(target=progress, daemon=True)
    thread.start()
    try:
        for i in range(300):
            fit(trainer, i)
    finally:
        stop.set()
        thread.join(10)
        sys.setswitchinterval(interval)
    mlmd = open_store(url)
    written = collections.Counter(e.custom_properties["model"].string_value.split("(")[0] for e in mlmd.get_executions())
    assert written == {type(trainer).__name__: 300}
