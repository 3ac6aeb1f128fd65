"""The ways of recording one call's lineage that the benchmark compares.

Every subject records the same graph for each call: an execution with its
parameters, ``n_in`` input data sets and ``n_out`` output models (fresh URIs
every call, so nothing deduplicates), in a workspace (and a run).

* :class:`Tracked` - a ``@track``-decorated function (lineage).
* :class:`RawMLMD` - MLMD's own client writing the same protos (same
  properties, same sizes, taken from what lineage stored) with
  ``put_execution``, and with ``put_lineage_subgraph`` (the call lineage
  makes for a write of 3 artifacts or more): the floor for the backend.
* :class:`KubeflowSDK` - the old Kubeflow Metadata SDK (0.3.1) logging the
  same graph its way: one call per node, edge and attribution.
* :class:`MLflowRun` - an MLflow run with two logged input datasets, two
  params and the output recorded as a logged model.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import os
import uuid
from typing import Any, List, Optional, Sequence, Tuple

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage
from lineage import DataSet, Model, track

WORKSPACE = "bench"
RUN = "bench-run"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class _URIs:
    """Fresh artifact URIs, unique across subjects and processes."""

    def __init__(self, prefix: str) -> None:
        self.prefix = f"{prefix}/{uuid.uuid4().hex[:8]}"
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}/{next(self.counter)}"


# --------------------------------------------------------------------------- lineage


class Tracked:
    """A tracked function with ``n_in`` inputs, ``n_out`` outputs and 2 params.

    ``start_delay=None`` is lineage's default (1 s): a call shorter than that
    costs one write. ``start_delay=0`` writes the RUNNING state at once: two
    writes.
    """

    def __init__(self, store: lineage.Store, n_in: int = 2, n_out: int = 1, start_delay: Optional[float] = None) -> None:
        self.n_in, self.n_out = n_in, n_out
        self.uris = _URIs("s3://bench/lineage")
        options: dict = {"store": store, "workspace": WORKSPACE, "run": RUN, "name": "train"}
        if start_delay is not None:
            options["start_delay"] = start_delay
        uris = self.uris
        if n_in == 2 and n_out == 1:

            @track(**options)
            def train(train_data: DataSet, test_data: DataSet, epochs: int = 3, lr: float = 0.1) -> Model:
                return Model(uri=uris.next() + "/model.pt", name="mnist", version="1")

            self.fn = train
        else:

            @track(**options)
            def train_many(data: List[DataSet], epochs: int = 3, lr: float = 0.1) -> List[Model]:
                return [Model(uri=uris.next() + "/model.pt", name=f"m{i}", version="1") for i in range(n_out)]

            self.fn = train_many

    def __call__(self) -> Any:
        if self.n_in == 2 and self.n_out == 1:
            base = self.uris.next()
            return self.fn(
                DataSet(uri=base + "/train.csv", name="train"), DataSet(uri=base + "/test.csv", name="test"), epochs=3, lr=0.1
            )
        base = self.uris.next()
        return self.fn([DataSet(uri=f"{base}/part-{i}.csv", name=f"part-{i}") for i in range(self.n_in)], epochs=3, lr=0.1)


def capture_contexts(call: Any) -> Tuple[Any, Optional[List[pb.Context]]]:
    """Run *call* once and return its result and the contexts lineage's
    write sent (None if they could not be seen)."""
    from lineage.store import _backend

    seen: List[Any] = []
    real = _backend.Backend.call

    def spy(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        if method in ("put_lineage_subgraph", "put_execution") and len(args) >= 3:  # contexts third in both
            seen.append(args[2])
        return real(self, method, *args, **kwargs)

    _backend.Backend.call = spy  # type: ignore[method-assign]
    try:
        result = call()
    finally:
        _backend.Backend.call = real  # type: ignore[method-assign]
    if not seen:
        return result, None
    contexts = []
    for context in seen[-1]:
        copy = pb.Context()
        copy.CopyFrom(context)
        contexts.append(copy)
    return result, contexts


def last_execution_of(mlmd: metadata_store.MetadataStore, artifact_id: int) -> int:
    events = mlmd.get_events_by_artifact_ids([artifact_id])
    return max(e.execution_id for e in events if e.type == pb.Event.OUTPUT)


# --------------------------------------------------------------------------- raw MLMD


class RawMLMD:
    """``put_execution`` with hand-made protos, shaped like a stored lineage call.

    *template_execution_id* is an execution lineage wrote (one short call);
    its execution, artifacts, events and contexts give the properties to
    write. Per call only ids, URIs and times change, as a hand-written
    client would do it.

    Artifact external ids have the shape of lineage's deduplication keys
    (a prefix and 64 hex digits of SHA-256): the same index entries, so the
    same writes. A content-addressed key lands anywhere in the unique index
    on ``external_id``, which costs SQLite more pages per insert (and per
    WAL checkpoint) than ids that grow in order; ``sequential_ids=True``
    gives that cheaper floor, which no deduplicating client can have, for
    reference.
    """

    def __init__(
        self,
        mlmd: metadata_store.MetadataStore,
        template_execution_id: int,
        contexts: Optional[Sequence[pb.Context]] = None,
        sequential_ids: bool = False,
    ) -> None:
        self.mlmd = mlmd
        self.sequential_ids = sequential_ids
        [execution] = mlmd.get_executions_by_id([template_execution_id])
        self.execution = self._clean_execution(execution)
        # The contexts as lineage sends them (see capture_contexts), else as stored.
        self.contexts = list(contexts) if contexts else list(mlmd.get_contexts_by_execution(template_execution_id))
        events = sorted(mlmd.get_events_by_execution_ids([template_execution_id]), key=lambda e: (e.type, e.artifact_id))
        artifacts = {a.id: a for a in mlmd.get_artifacts_by_id([e.artifact_id for e in events])}
        self.inputs: List[Tuple[pb.Artifact, pb.Event]] = []
        self.outputs: List[Tuple[pb.Artifact, pb.Event]] = []
        for event in events:
            pair = (self._clean_artifact(artifacts[event.artifact_id]), self._clean_event(event))
            (self.inputs if event.type == pb.Event.INPUT else self.outputs).append(pair)
        self.start_execution = pb.Execution()
        self.start_execution.CopyFrom(self.execution)
        self.start_execution.last_known_state = pb.Execution.RUNNING
        for key in ("lineage.end_time",):
            if key in self.start_execution.custom_properties:
                del self.start_execution.custom_properties[key]
        self.ids = itertools.count()
        self.token = uuid.uuid4().hex[:12]
        self.uris = _URIs("s3://bench/raw")

    @staticmethod
    def _clean_execution(stored: pb.Execution) -> pb.Execution:
        proto = pb.Execution(type_id=stored.type_id, last_known_state=stored.last_known_state)
        proto.properties.MergeFrom(stored.properties)
        proto.custom_properties.MergeFrom(stored.custom_properties)
        return proto

    @staticmethod
    def _clean_artifact(stored: pb.Artifact) -> pb.Artifact:
        proto = pb.Artifact(type_id=stored.type_id, uri=stored.uri)
        proto.properties.MergeFrom(stored.properties)
        proto.custom_properties.MergeFrom(stored.custom_properties)
        return proto

    @staticmethod
    def _clean_event(stored: pb.Event) -> pb.Event:
        event = pb.Event(type=stored.type)
        event.path.CopyFrom(stored.path)
        return event

    def _pairs(self, templates: Sequence[Tuple[pb.Artifact, pb.Event]], n: int, now: str, kind: str) -> list:
        out = []
        base = self.uris.next()
        for index, (template, event_template) in enumerate(templates):
            artifact = pb.Artifact()
            artifact.CopyFrom(template)
            artifact.uri = f"{base}/{kind}-{index}"
            identity = f"bench:artifact:{self.token}:{n}:{kind}{index}"
            if self.sequential_ids:
                artifact.external_id = identity
            else:
                artifact.external_id = "lineage:artifact:" + hashlib.sha256(identity.encode()).hexdigest()
            if "create_time" in artifact.properties:
                artifact.properties["create_time"].string_value = now
            event = pb.Event()
            event.CopyFrom(event_template)
            out.append((artifact, event))
        return out

    def _execution(self, template: pb.Execution, n: int, now: str) -> pb.Execution:
        execution = pb.Execution()
        execution.CopyFrom(template)
        execution.external_id = f"bench:execution:{self.token}:{n}"
        execution.properties["create_time"].string_value = now
        return execution

    def _put(self, execution: pb.Execution, pairs: list) -> Tuple[int, List[int]]:
        execution_id, artifact_ids, _ = self.mlmd.put_execution(
            execution,
            pairs,
            self.contexts,
            reuse_context_if_already_exist=True,
            # The artifacts are new: the floor skips MLMD's per-artifact
            # lookup, as lineage's writer does for artifacts it expects new.
            reuse_artifact_if_already_exist_by_external_id=False,
        )
        return execution_id, artifact_ids

    def _put_subgraph(self, execution: pb.Execution, pairs: list) -> Tuple[int, List[int]]:
        """The same write as :meth:`_put`, as one ``put_lineage_subgraph``
        (MLMD checks all artifacts' types at once)."""
        [execution_id], artifact_ids, _ = self.mlmd.put_lineage_subgraph(
            [execution],
            [artifact for artifact, _ in pairs],
            self.contexts,
            [(0, index, event) for index, (_, event) in enumerate(pairs)],
            reuse_context_if_already_exist=True,
            reuse_artifact_if_already_exist_by_external_id=False,
        )
        return execution_id, artifact_ids

    def as_kubeflow_record(self) -> RawMLMD:
        """The Kubeflow SDK's own record of the same graph instead of
        lineage's: the workspace context only (no run context), no event
        paths, and on the execution only the SDK's properties (no
        parameters, provenance or end time). Returns self."""
        self.contexts = self.contexts[:1]
        for proto in (self.execution, self.start_execution):
            for key in list(proto.custom_properties):
                if not key.startswith("__kf_"):
                    del proto.custom_properties[key]
        for _, event in self.inputs + self.outputs:
            event.ClearField("path")
        return self

    def one_write(self, put: Optional[Any] = None) -> None:
        """The whole call in one ``put_execution`` (final state, all artifacts)."""
        n, now = next(self.ids), _now()
        execution = self._execution(self.execution, n, now)
        (put or self._put)(execution, self._pairs(self.inputs, n, now, "in") + self._pairs(self.outputs, n, now, "out"))

    def two_writes(self, put: Optional[Any] = None) -> None:
        """RUNNING with the inputs, then COMPLETE with the outputs."""
        put = put or self._put
        n, now = next(self.ids), _now()
        execution = self._execution(self.start_execution, n, now)
        execution.id, _ = put(execution, self._pairs(self.inputs, n, now, "in"))
        final = pb.Execution()
        final.CopyFrom(self.execution)
        final.id = execution.id
        final.external_id = execution.external_id
        final.properties["create_time"].string_value = now
        put(final, self._pairs(self.outputs, n, now, "out"))

    def one_subgraph(self) -> None:
        """:meth:`one_write` as one ``put_lineage_subgraph`` (lineage's write of 3 artifacts or more)."""
        self.one_write(self._put_subgraph)

    def two_subgraphs(self) -> None:
        """:meth:`two_writes` as two ``put_lineage_subgraph``."""
        self.two_writes(self._put_subgraph)


# --------------------------------------------------------------------------- Kubeflow SDK


class KubeflowSDK:
    """The old Kubeflow Metadata SDK (kubeflow-metadata 0.3.1) on the same store.

    It speaks only gRPC (``metadata.Store(grpc_host, port)``); for an
    embedded store its ``Store`` is built empty and given an MLMD store of
    the same kind. Its types must exist (Kubeflow's server registered them;
    here lineage has, by logging once).
    """

    def __init__(
        self,
        mlmd: Optional[metadata_store.MetadataStore] = None,
        grpc: Optional[Tuple[str, int]] = None,
        n_in: int = 2,
        n_out: int = 1,
    ) -> None:
        from kubeflow.metadata import metadata

        self.metadata = metadata
        if grpc is not None:
            store = metadata.Store(grpc_host=grpc[0], grpc_port=grpc[1])
        else:
            store = metadata.Store.__new__(metadata.Store)
            store.store = mlmd
        self.workspace = metadata.Workspace(store=store, name=WORKSPACE)
        self.run = metadata.Run(workspace=self.workspace, name=RUN)
        self.n_in, self.n_out = n_in, n_out
        self.uris = _URIs("s3://bench/kubeflow")

    def __call__(self) -> None:
        md = self.metadata
        base = self.uris.next()
        exe = md.Execution(name="train", workspace=self.workspace, run=self.run)
        for i in range(self.n_in):
            exe.log_input(md.DataSet(uri=f"{base}/in-{i}.csv", name=f"in-{i}"))
        for i in range(self.n_out):
            exe.log_output(md.Model(uri=f"{base}/model-{i}.pt", name="mnist", version="1"))


def kubeflow_available() -> Optional[str]:
    """None if the Kubeflow SDK imports, else why not."""
    try:
        from kubeflow.metadata import metadata  # noqa: F401
    except Exception as exc:  # not installed, or its own dependencies missing
        return f"{type(exc).__name__}: {exc}"
    return None


# --------------------------------------------------------------------------- MLflow


class MLflowRun:
    """MLflow's nearest equivalent on a SQLite tracking store.

    One run: two params, two input datasets (``log_inputs``, one call), the
    output recorded as a logged model linked to the run (MLflow 3), or as a
    tag with its URI on older MLflow.
    """

    def __init__(self, folder: str) -> None:
        import logging

        import mlflow
        from mlflow.data.http_dataset_source import HTTPDatasetSource
        from mlflow.data.meta_dataset import MetaDataset

        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        self.mlflow = mlflow
        self.MetaDataset, self.Source = MetaDataset, HTTPDatasetSource
        self.client = mlflow.MlflowClient(
            tracking_uri=f"sqlite:///{os.path.join(folder, 'mlflow.db')}",
            registry_uri=f"sqlite:///{os.path.join(folder, 'mlflow.db')}",
        )
        self.experiment_id = self.client.create_experiment(
            "bench", artifact_location="file://" + os.path.join(folder, "mlflow-artifacts")
        )
        self.uris = _URIs("s3://bench/mlflow")
        self.has_logged_models = hasattr(self.client, "create_logged_model")
        self.version = mlflow.__version__

    def __call__(self) -> None:
        from mlflow.entities import DatasetInput, InputTag, Param

        client = self.client
        base = self.uris.next()
        run = client.create_run(self.experiment_id, run_name="train")
        run_id = run.info.run_id
        client.log_batch(run_id, params=[Param("epochs", "3"), Param("lr", "0.1")])
        inputs = []
        for name, context in (("train", "training"), ("test", "testing")):
            dataset = self.MetaDataset(source=self.Source(f"{base}/{name}.csv"), name=name)
            inputs.append(DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", context)]))
        client.log_inputs(run_id, datasets=inputs)
        if self.has_logged_models:
            from mlflow.entities import LoggedModelOutput

            model = client.create_logged_model(
                self.experiment_id, name="mnist", source_run_id=run_id, tags={"uri": f"{base}/model.pt"}
            )
            client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        else:
            client.set_tag(run_id, "output.model_uri", f"{base}/model.pt")
        client.set_terminated(run_id, "FINISHED")


def mlflow_available() -> Optional[str]:
    try:
        import mlflow  # noqa: F401
        from mlflow.data.meta_dataset import MetaDataset  # noqa: F401
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
