"""Layout compatibility with the Kubeflow Metadata SDK (kubeflow-metadata 0.3.1), both ways.

The old SDK only talks gRPC (``metadata.Store(grpc_host, ...)``); here its
objects get an ``ml_metadata`` store on the same database as lineage's. It
never registered artifact or execution types (the Kubeflow metadata server
did), so lineage registers them first, as it does on any store.
"""

from __future__ import annotations

import json
import pathlib
import uuid

import pytest
from kubeflow.metadata import metadata
from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlpb

import lineage
from lineage import DataSet, Execution, Metrics, Model, Run, Workspace, records
from lineage.records import schema_of
from lineage.store import _codec as codec
from tests import backends
from tests import mlmd_reads as mr

pytestmark = pytest.mark.backend

MODEL_FIELDS = {
    "uri": "gcs://my-bucket/mnist",
    "name": "MNIST",
    "description": "model to recognize handwritten digits",
    "owner": "someone@kubeflow.org",
    "version": "v0.0.1",
    "model_type": "neural network",
    "training_framework": {"name": "tensorflow", "version": "v1.0"},
    "hyperparameters": {"learning_rate": 0.5, "layers": [10, 3, 1], "early_stop": True},
    "labels": {"mylabel": "l1"},
}
DATA_SET_FIELDS = {
    "uri": "file://path/to/dataset",
    "name": "mytable-dump",
    "description": "an example data",
    "owner": "owner@my-company.org",
    "version": "v1.0.0",
    "query": "SELECT * FROM mytable",
    "labels": {"label1": "val1"},
}
METRICS_FIELDS = {
    "uri": "gcs://my-bucket/mnist-eval.csv",
    "name": "MNIST-evaluation",
    "description": "validating the MNIST model",
    "owner": "someone@kubeflow.org",
    "data_set_id": "123",
    "model_id": "12345",
    "metrics_type": "validation",
    "values": {"accuracy": 0.95},
    "labels": {"mylabel": "l1"},
}
EXTRA = {"team": "vision", "epochs": 3}


@pytest.fixture
def lineage_store(any_url) -> lineage.Store:
    return lineage.Store(url=any_url)


@pytest.fixture
def old_store(lineage_store) -> metadata.Store:
    """The old SDK's Store over the same database as lineage_store."""
    store = metadata.Store.__new__(metadata.Store)
    store.store = metadata_store.MetadataStore(lineage_store.url.connection_config())
    return store


def register_kubeflow_types(store: lineage.Store) -> None:
    """Register the artifact and execution types as lineage does before any write."""
    backend = store._connection.backend
    for cls in (DataSet, Model, Metrics):
        backend.type_id("artifact", codec.artifact_type(schema_of(cls)))
    backend.type_id("execution", codec.execution_type())


#: The backends the old SDK can log a non-ASCII field on: its __ALL_META__
#: (json.dumps) writes any non-ASCII character as a \u escape, and MLMD's SQL
#: for a backslash fails on PostgreSQL (see test_the_old_sdk_cannot_log_non_ascii_on_postgresql).
#: Tests of such values the old SDK wrote run on the others, not skipped on it.
NON_ASCII_BACKENDS = tuple(b for b in backends.ALL_BACKENDS if b != "postgresql")


def test_the_old_sdk_cannot_log_non_ascii_on_postgresql(tmp_path):
    """Why the tests of non-ASCII values the old SDK wrote leave PostgreSQL out."""
    ours = lineage.Store(url=backends.make_url("postgresql", tmp_path))
    register_kubeflow_types(ours)
    store = metadata.Store.__new__(metadata.Store)
    store.store = metadata_store.MetadataStore(ours.url.connection_config())
    ws = metadata.Workspace(store=store, name="ws")
    exe = metadata.Execution(name="train", workspace=ws, run=metadata.Run(workspace=ws, name="run"))

    with pytest.raises(mlmd_errors.InternalError, match="syntax error"):
        exe.log_input(metadata.DataSet(uri="s3://b/d.csv", name="données"))
    exe.log_input(metadata.DataSet(uri="s3://b/d.csv", name="data"))  # ASCII: stored


class OnTheBackendsTheOldSDKLogsNonASCIIOn:
    """Tests of non-ASCII values the old SDK wrote: on NON_ASCII_BACKENDS."""

    @pytest.fixture(params=NON_ASCII_BACKENDS)
    def any_url(self, request, tmp_path) -> str:
        return backends.make_url(request.param, tmp_path)


def subset(flat: dict, keys) -> dict:
    return {key: flat.get(key, "<missing>") for key in keys}


class TestOldSDKWritesLineageReads:
    @pytest.fixture
    def written(self, lineage_store, old_store):
        """A workspace, run, execution and three artifacts written by the old SDK."""
        register_kubeflow_types(lineage_store)
        ws = metadata.Workspace(store=old_store, name="old-ws", description="written by 0.3.1", labels={"n1": "v1"})
        run = metadata.Run(workspace=ws, name="first run", description="run")
        exe = metadata.Execution(name="trainer", workspace=ws, run=run, description="an execution")
        data_set = exe.log_input(metadata.DataSet(**DATA_SET_FIELDS, **EXTRA))
        model = exe.log_output(metadata.Model(**MODEL_FIELDS, **EXTRA))
        metrics = exe.log_output(metadata.Metrics(**METRICS_FIELDS))
        return {"ws": ws, "execution": exe, "data_set": data_set, "model": model, "metrics": metrics}

    def test_lineage_reuses_the_old_workspace(self, lineage_store, written):
        """lineage's Workspace of the same name is the old SDK's context."""
        assert written["ws"].context_id == Workspace(store=lineage_store, name="old-ws").context_id

    def test_lineage_cannot_recreate_the_old_workspace(self, lineage_store, written):
        """reuse_workspace_if_exists=False sees the old SDK's workspace."""
        with pytest.raises(ValueError, match="exists with id"):
            Workspace(store=lineage_store, name="old-ws", reuse_workspace_if_exists=False)

    @pytest.mark.parametrize(
        ("cls", "key", "fields"),
        [(Model, "model", MODEL_FIELDS), (DataSet, "data_set", DATA_SET_FIELDS), (Metrics, "metrics", METRICS_FIELDS)],
    )
    def test_workspace_list_reads_nested_fields(self, lineage_store, written, cls, key, fields):
        """Workspace.list() gives the old artifacts as flat dicts, nested fields included."""
        ws = Workspace(store=lineage_store, name="old-ws")

        [flat] = ws.list(cls.ARTIFACT_TYPE_NAME)

        expected = {"id": written[key].id, "workspace": "old-ws", "run": "first run", **fields}
        assert expected == subset(flat, expected)

    @pytest.mark.parametrize(
        ("cls", "key", "fields", "extra"),
        [
            (Model, "model", MODEL_FIELDS, EXTRA),
            (DataSet, "data_set", DATA_SET_FIELDS, EXTRA),
            (Metrics, "metrics", METRICS_FIELDS, {}),
        ],
    )
    def test_reader_rebuilds_records(self, lineage_store, written, cls, key, fields, extra):
        """The reader rebuilds the old artifacts as equal lineage records, with id and create_time."""
        old = written[key]

        read = lineage_store._connection.reader.artifact(old.id)

        assert (cls(**fields, **extra), old.id, old.create_time) == (read, read.id, read.create_time)

    def test_lineage_sees_the_old_execution_and_links(self, lineage_store, written):
        """The old execution, its events and context associations are readable by lineage."""
        reader = lineage_store._connection.reader
        exe = written["execution"]

        [summary] = reader.executions_of_context(written["ws"].context_id)
        events = sorted((e["artifact_id"], e["type"]) for e in reader.events_of_executions([exe.id]))

        assert (
            ("trainer", "an execution", "old-ws", "first run"),
            sorted(
                [
                    (written["data_set"].id, "INPUT"),
                    (written["model"].id, "OUTPUT"),
                    (written["metrics"].id, "OUTPUT"),
                ]
            ),
        ) == ((summary["name"], summary["description"], summary["workspace"], summary["run"]), events)

    def test_lineage_logs_into_the_old_workspace(self, lineage_store, written):
        """lineage logs a read-back old artifact as input of a new execution, by id."""
        ws = Workspace(store=lineage_store, name="old-ws")
        model = lineage_store._connection.reader.artifact(written["model"].id)
        e = Execution(name="serve", workspace=ws)
        e.log_input(model)

        assert [(written["model"].id, e.id)] == [
            (ev.artifact_id, ev.execution_id) for ev in lineage_store.store.get_events_by_execution_ids([e.id])
        ]

    def test_lineage_deduplicates_against_old_artifacts(self, lineage_store, written):
        """A Model equal (type, uri, name, version, workspace) to one the old SDK wrote is that artifact."""
        ws = Workspace(store=lineage_store, name="old-ws")

        model = Execution(name="serve", workspace=ws).log_input(
            Model(uri=MODEL_FIELDS["uri"], name=MODEL_FIELDS["name"], version=MODEL_FIELDS["version"])
        )

        assert written["model"].id == model.id


class TestBothWriteOneStore:
    """A team moving over: the old SDK and lineage writing the same store."""

    def test_lineage_deduplicates_against_what_the_old_sdk_wrote_after_it(self, lineage_store, old_store, monkeypatch):
        """lineage wrote first (the store then held no old-SDK artifact); the old SDK
        logs a DataSet; lineage logging the same one later finds it. It decided
        once per process from the type's first artifact, and made a second."""
        from lineage.store import _writer

        ws = Workspace(store=lineage_store, name="mixed")
        Execution(name="new", workspace=ws).log_input(DataSet(uri="s3://b/raw.csv", name="raw"))
        old_ws = metadata.Workspace(store=old_store, name="mixed")
        old = metadata.Execution(name="old", workspace=old_ws).log_output(metadata.DataSet(uri="s3://b/clean.csv", name="clean"))
        monkeypatch.setattr(_writer, "LEGACY_RECHECK_SECONDS", 0.0)  # the re-check is due

        again = Execution(name="new", workspace=ws).log_input(DataSet(uri="s3://b/clean.csv", name="clean"))

        assert (again.id, 1) == (old.id, len(lineage_store.store.get_artifacts_by_uri("s3://b/clean.csv")))

    def test_an_empty_version_is_no_version_as_the_old_sdk_stores_it(self, lineage_store, old_store):
        """The old SDK drops version="" (and 0, 0.0): lineage's version="" matches it."""
        register_kubeflow_types(lineage_store)
        old_ws = metadata.Workspace(store=old_store, name="mixed")
        old = metadata.Execution(name="old", workspace=old_ws).log_output(
            metadata.Model(uri="s3://m/model.pt", name="m", version="", model_type="", training_framework={})
        )
        ws = Workspace(store=lineage_store, name="mixed")

        again = Execution(name="new", workspace=ws).log_input(Model(uri="s3://m/model.pt", name="m", version=""))

        assert (again.id, 1) == (old.id, len(lineage_store.store.get_artifacts_by_uri("s3://m/model.pt")))


class TestExecutionState:
    def test_the_state_is_left_unset_as_the_old_sdk_left_it(self, lineage_store, old_store):
        """The old SDK's executions have no state and no end; lineage's showed
        RUNNING for ever. Both are UNKNOWN, also after logging."""
        register_kubeflow_types(lineage_store)
        old = metadata.Execution(name="old", workspace=metadata.Workspace(store=old_store, name="st"))
        new = Execution(name="new", workspace=Workspace(store=lineage_store, name="st"))
        new.log_input(DataSet(uri="s3://st/d", name="d"))

        states = {e.id: e.last_known_state for e in lineage_store.store.get_executions_by_id([old.id, new.id])}
        assert states == {old.id: 0, new.id: 0}  # UNKNOWN


class TestLineageWritesOldSDKReads:
    @pytest.fixture
    def written(self, lineage_store):
        """A workspace, run, execution and three artifacts written by lineage."""
        ws = Workspace(store=lineage_store, name="new-ws", description="written by lineage", labels={"n1": "v1"})
        run = Run(workspace=ws, name="first run")
        exe = Execution(name="trainer", workspace=ws, run=run, description="an execution")
        data_set = exe.log_input(DataSet(**DATA_SET_FIELDS, **EXTRA))
        model = exe.log_output(Model(**MODEL_FIELDS, **EXTRA))
        metrics = exe.log_output(Metrics(**METRICS_FIELDS))
        return {"ws": ws, "execution": exe, "data_set": data_set, "model": model, "metrics": metrics}

    def test_old_sdk_reuses_the_lineage_workspace(self, old_store, written):
        """The old SDK's Workspace of the same name is lineage's context."""
        assert written["ws"].context_id == metadata.Workspace(store=old_store, name="new-ws").context_id

    def test_old_sdk_creates_a_workspace_beside_lineage_types(self, old_store, written):
        """The old SDK's put_context_type accepts the workspace type lineage registered."""
        ws = metadata.Workspace(store=old_store, name="another", description="d", labels={"a": "b"})

        assert ["another"] == [c.name for c in old_store.store.get_contexts_by_id([ws.context_id])]

    @pytest.mark.parametrize(
        ("cls", "key", "fields", "extra"),
        [
            (metadata.Model, "model", MODEL_FIELDS, EXTRA),
            (metadata.DataSet, "data_set", DATA_SET_FIELDS, EXTRA),
            (metadata.Metrics, "metrics", METRICS_FIELDS, {}),
        ],
    )
    def test_old_sdk_list_reads_nested_fields(self, old_store, written, cls, key, fields, extra):
        """The old SDK's Workspace.list() reads lineage's artifacts, nested fields and kwargs included."""
        ws = metadata.Workspace(store=old_store, name="new-ws")

        [flat] = ws.list(cls.ARTIFACT_TYPE_NAME)

        expected = {
            "id": written[key].id,
            "workspace": "new-ws",
            "run": "first run",
            "create_time": written[key].create_time,
            "kwargs": extra,
            **fields,
        }
        assert expected == subset(flat, expected)

    def test_old_sdk_lists_the_same_as_lineage(self, lineage_store, old_store, written):
        """For every type, the old SDK's list() and lineage's list() give the same dicts."""
        old_ws = metadata.Workspace(store=old_store, name="new-ws")
        types = (Model.ARTIFACT_TYPE_NAME, DataSet.ARTIFACT_TYPE_NAME, Metrics.ARTIFACT_TYPE_NAME)

        assert [old_ws.list(t) for t in types] == [written["ws"].list(t) for t in types]

    def test_an_input_from_another_workspace_is_listed_where_it_was_made(self, lineage_store, old_store, written):
        """Used as an input in a second workspace, an artifact is listed by
        both SDKs in its own workspace only (lineage listed it in both)."""
        other = Workspace(store=lineage_store, name="second-ws")
        Execution(name="evaluate", workspace=other).log_input(written["model"])
        for t in (Model.ARTIFACT_TYPE_NAME, DataSet.ARTIFACT_TYPE_NAME):
            old = metadata.Workspace(store=old_store, name="second-ws").list(t)
            assert (old, other.list(t)) == ([], [])
        assert [row["id"] for row in written["ws"].list(Model.ARTIFACT_TYPE_NAME)] == [written["model"].id]
        assert metadata.Workspace(store=old_store, name="new-ws").list(Model.ARTIFACT_TYPE_NAME) == written["ws"].list(
            Model.ARTIFACT_TYPE_NAME
        )

    def test_old_sdk_logs_a_lineage_artifact_by_id(self, old_store, written):
        """The old SDK's Execution logs an artifact lineage wrote, by id."""
        ws = metadata.Workspace(store=old_store, name="new-ws")
        exe = metadata.Execution(name="serve", workspace=ws)
        model = metadata.Model(uri=MODEL_FIELDS["uri"], name=MODEL_FIELDS["name"])
        model.id = written["model"].id
        exe.log_input(model)

        assert [written["model"].id] == [e.artifact_id for e in old_store.store.get_events_by_execution_ids([exe.id])]

    def test_old_sdk_deduplicates_against_lineage_artifacts(self, old_store, written):
        """The old SDK's dedup rule finds the Model lineage wrote."""
        ws = metadata.Workspace(store=old_store, name="new-ws")
        exe = metadata.Execution(name="serve", workspace=ws)

        model = exe.log_input(
            metadata.Model(uri=MODEL_FIELDS["uri"], name=MODEL_FIELDS["name"], version=MODEL_FIELDS["version"])
        )

        assert written["model"].id == model.id

    def test_old_sdk_sees_lineage_executions(self, old_store, written):
        """The old SDK's context queries see lineage's execution and artifacts in the workspace."""
        ws = metadata.Workspace(store=old_store, name="new-ws")
        ctx = ws._get_existing_context()

        assert (
            [written["execution"].id],
            sorted(written[k].id for k in ("data_set", "model", "metrics")),
        ) == (
            [e.id for e in old_store.store.get_executions_by_context(ctx.id)],
            sorted(a.id for a in old_store.store.get_artifacts_by_context(ctx.id)),
        )


UNUSUAL = [
    ("DataSet", {"uri": "s3://ü/données.csv", "name": "données ñ 模型 🚀", "description": "", "version": "",
                 "query": "SELECT 'é'", "labels": {"ключ": "значение", "empty": ""}}),
    ("DataSet", {"uri": "s3://kw", "name": "kw", "owner": None, "n": 3, "x": 0.5, "flag": True, "nothing": None,
                 "nested": {"a": [1, 2, {"b": None}]}, "blank": "", "rocket": "🚀"}),
    ("Model", {"uri": "s3://m", "name": "m", "version": "1", "model_type": "", "training_framework": "pytorch",
               "hyperparameters": {"lr": 0.1, "layers": [1, 2], "big": 2**53, "neg": -3, "zero": 0, "off": False,
                                   "notes": "ab" * 400}}),
    ("Model", {"uri": "s3://m2", "name": "m2", "training_framework": {"name": "tf", "version": 2}, "labels": {}}),
    ("Metrics", {"uri": "s3://me", "name": "me", "metrics_type": "validation", "data_set_id": "", "model_id": None,
                 "values": {"acc": 0.95, "n": 10, "neg": -1.5, "zero": 0, "big": 10**15, "nested": {"a": 1.0},
                            "curve": [0.1, 0.2]}}),
    ("Metrics", {"uri": "s3://me2", "name": "me2", "values": {}}),
]


class TestUnusualValuesBothWays(OnTheBackendsTheOldSDKLogsNonASCIIOn):
    """The same records, with unusual values (unicode, empty strings, None,
    extra keyword arguments, numbers, nested values), written by the old SDK
    in one workspace and by lineage in another: each SDK lists and reads
    both alike. Runs of one name in two workspaces, an artifact logged by
    two executions."""

    @pytest.fixture
    def both(self, lineage_store, old_store):
        register_kubeflow_types(lineage_store)
        written = {}
        for ws_name, sdk in (("by-old", metadata), ("by-lineage", lineage)):
            ws = (metadata.Workspace(store=old_store, name=ws_name) if sdk is metadata
                  else Workspace(store=lineage_store, name=ws_name))
            ids = []
            for _ in range(2):  # the same run name, the same artifacts, two executions
                exe = sdk.Execution(name="train", workspace=ws, run=sdk.Run(workspace=ws, name="run"))
                ids.append([exe.log_output(getattr(sdk, cls)(**fields)).id for cls, fields in UNUSUAL])
            written[ws_name] = ids
        return written

    @staticmethod
    def rows(flats):
        return [{k: v for k, v in row.items() if k not in ("id", "workspace", "create_time")} for row in flats]

    @pytest.mark.parametrize("cls", [DataSet, Model, Metrics])
    def test_each_sdk_lists_both_alike(self, lineage_store, old_store, both, cls):
        type_name = cls.ARTIFACT_TYPE_NAME
        old = [metadata.Workspace(store=old_store, name=w).list(type_name) for w in ("by-old", "by-lineage")]
        new = [Workspace(store=lineage_store, name=w).list(type_name) for w in ("by-old", "by-lineage")]

        assert self.rows(old[0]) == self.rows(old[1]) == self.rows(new[0]) == self.rows(new[1]) != []
        # Metrics were never deduplicated by the old SDK: one per execution; the others once
        count = sum(name == cls.__name__ for name, _ in UNUSUAL) * (2 if cls is Metrics else 1)
        assert [len(rows) for rows in old + new] == [count] * 4

    def test_lineage_reads_both_as_the_records(self, lineage_store, both):
        expected = [getattr(lineage, cls)(**fields) for cls, fields in UNUSUAL]

        for ws_name in ("by-old", "by-lineage"):
            for ids in both[ws_name]:
                assert [lineage_store.get_artifact(i) for i in ids] == expected

    def test_the_runs_and_executions_read_alike(self, lineage_store, both):
        reader = lineage_store._connection.reader

        seen = []
        for ws_name in ("by-old", "by-lineage"):
            summaries = reader.executions_of_context(Workspace(store=lineage_store, name=ws_name).context_id)
            seen.append([(s["name"], s["workspace"], s["run"]) for s in summaries])
        assert seen == [[("train", "by-old", "run")] * 2, [("train", "by-lineage", "run")] * 2]


class TestAPrivateUseMarkTheOldSDKWrote(OnTheBackendsTheOldSDKLogsNonASCIIOn):
    """lineage escapes strings with U+E000 (NUL on every backend, a backslash
    on PostgreSQL), and read every string as escaped: names the old SDK
    wrote with a U+E000 in them were misread ("data\ue000m" as
    "data\ue000"), its workspace was not found (lineage made a second), and
    logging its artifact again made a new one. Another client's artifacts
    and executions have no external id, so their strings are read as stored."""

    WORKSPACE = "vision \ue000 team"  # lineage never stores "\ue000 " (an escape is \ue000 and m, 0, b or u)
    DATA_SET = {"uri": "s3://b/\ue000m.csv", "name": "data\ue000m", "version": "v\ue000b", "description": "\ue000u0041"}

    @pytest.fixture
    def written(self, lineage_store, old_store):
        register_kubeflow_types(lineage_store)
        ws = metadata.Workspace(store=old_store, name=self.WORKSPACE, description="d\ue0000")
        run = metadata.Run(workspace=ws, name="run\ue000m")
        exe = metadata.Execution(name="train\ue000m", workspace=ws, run=run, description="\ue000u0041")
        data_set = exe.log_input(metadata.DataSet(**self.DATA_SET, note="k\ue000m"))
        model = exe.log_output(metadata.Model(uri="s3://m/\ue000m", name="m\ue000m", version="v\ue000m"))
        return {"ws": ws, "execution": exe, "data_set": data_set, "model": model}

    def test_lineage_reads_the_names_as_written(self, lineage_store, written):
        reader = lineage_store._connection.reader

        read = lineage_store.get_artifact(written["data_set"].id)
        [summary] = reader.executions([written["execution"].id])

        assert read == DataSet(**self.DATA_SET, note="k\ue000m")
        assert (summary["name"], summary["description"], summary["workspace"], summary["run"]) == (
            "train\ue000m", "\ue000u0041", self.WORKSPACE, "run\ue000m"
        )
        assert [(w["name"], w["description"]) for w in reader.workspaces()] == [(self.WORKSPACE, "d\ue0000")]
        assert reader.workspace(self.WORKSPACE)["id"] == written["ws"].context_id
        assert [a.id for a in reader.artifacts_by_uri(self.DATA_SET["uri"])] == [written["data_set"].id]

    def test_lineage_takes_the_workspace_and_lists_it_as_the_old_sdk(self, lineage_store, written):
        ws = Workspace(store=lineage_store, name=self.WORKSPACE)

        assert ws.context_id == written["ws"].context_id
        for cls in (DataSet, Model):
            assert ws.list(cls.ARTIFACT_TYPE_NAME) == written["ws"].list(cls.ARTIFACT_TYPE_NAME) != []

    def test_lineage_logs_the_same_model_as_the_old_artifact(self, lineage_store, written):
        ws = Workspace(store=lineage_store, name=self.WORKSPACE)

        again = Execution(name="serve", workspace=ws).log_input(Model(uri="s3://m/\ue000m", name="m\ue000m", version="v\ue000m"))

        assert again.id == written["model"].id
        assert [row["id"] for row in ws.list()] == [written["model"].id]

    def test_a_workspace_name_in_lineages_escaped_form_is_not_taken_for_another(self, lineage_store):
        """A context has no external id: a name that may be lineage's escaped
        form of another workspace's ("a\ue000m" of "a\ue000") is not taken
        for the old SDK's."""
        mine = Workspace(store=lineage_store, name="a\ue000")

        assert Workspace(store=lineage_store, name="a\ue000m").context_id != mine.context_id


class TestLongRecords:
    def test_old_sdk_lists_a_record_too_long_for_all_meta(self, lineage_store, old_store):
        """A record whose JSON is too long to index is listed by the old SDK from its typed properties."""
        long = "ab" * 1500 + "".join(f"{i:04x}" for i in range(1000))
        ws = Workspace(store=lineage_store, name="ws")
        m = Execution(name="e", workspace=ws).log_output(
            Model(uri="s3://m", name="m", version="1", hyperparameters={"notes": long})
        )

        [flat] = metadata.Workspace(store=old_store, name="ws").list()

        assert {"id": m.id, "workspace": "ws", "name": "m", "version": "1"} == subset(
            flat, ("id", "workspace", "name", "version")
        )


# --------------------------------------------------------------------------- custom artifact classes of the old SDK


class OldStyleCheckpoint(metadata.Artifact):
    """A custom artifact written for the Kubeflow SDK: its ABC, not attrs."""

    ARTIFACT_TYPE_NAME = "acme.org/test/old_style_checkpoint"

    def __init__(self, uri, name, step, loss=None):
        self.uri, self.name, self.step, self.loss, self.id = uri, name, step, loss, None

    def serialization(self):
        properties = {
            "name": mlpb.Value(string_value=self.name),
            "step": mlpb.Value(int_value=self.step),
            "__ALL_META__": mlpb.Value(string_value=json.dumps({"name": self.name, "step": self.step})),
        }
        if self.loss is not None:
            properties["loss"] = mlpb.Value(double_value=self.loss)
        return mlpb.Artifact(
            uri=self.uri, properties=properties, custom_properties={"framework": mlpb.Value(string_value="torch")}
        )


class PlainCheckpoint:
    """The same, derived from nothing."""

    ARTIFACT_TYPE_NAME = "acme.org/test/plain_checkpoint"

    def __init__(self, uri):
        self.uri, self.id = uri, None

    def serialization(self):
        return mlpb.Artifact(uri=self.uri, properties={"epoch": mlpb.Value(int_value=3)})


class TestOldStyleCustomArtifacts:
    """A custom artifact class of the old SDK (ARTIFACT_TYPE_NAME and
    serialization()) is logged from what it serializes (it was refused)."""

    def test_logged_read_back_and_read_by_the_old_sdk(self, lineage_store, old_store):
        # As old SDK users did: the type registered by hand before logging.
        old_store.store.put_artifact_type(
            mlpb.ArtifactType(
                name=OldStyleCheckpoint.ARTIFACT_TYPE_NAME,
                properties={"name": mlpb.STRING, "step": mlpb.INT, "loss": mlpb.DOUBLE, "__ALL_META__": mlpb.STRING},
            )
        )
        ws = Workspace(store=lineage_store, name="old-style")
        exe = Execution(name="train", workspace=ws)
        checkpoint = OldStyleCheckpoint("s3://ckpt/1", "ckpt", step=5, loss=0.25)

        assert exe.log_output(checkpoint) is checkpoint  # the SDK's contract: the same object, id set
        [stored] = lineage_store.store.get_artifacts_by_id([checkpoint.id])
        assert stored.type == OldStyleCheckpoint.ARTIFACT_TYPE_NAME and stored.uri == "s3://ckpt/1"
        assert (stored.properties["step"].int_value, stored.properties["loss"].double_value) == (5, 0.25)
        assert stored.custom_properties["framework"].string_value == "torch"
        assert stored.custom_properties["__kf_workspace__"].string_value == "old-style"
        [event] = lineage_store.store.get_events_by_artifact_ids([checkpoint.id])
        assert (event.execution_id, event.type) == (exe.id, mlpb.Event.OUTPUT)

        record = lineage_store.get_artifact(checkpoint.id)
        assert (record.name, record.step, record.loss, record.extra) == ("ckpt", 5, 0.25, {"framework": "torch"})

        # The old SDK logs its class into the type lineage added to, and lists
        # what lineage wrote as what it wrote itself (its reader takes every
        # typed property's string_value: '' for step and loss, either way).
        old_ws = metadata.Workspace(store=old_store, name="old-style")
        again = metadata.Execution(name="old", workspace=old_ws).log_output(OldStyleCheckpoint("s3://ckpt/2", "ckpt", 5, 0.25))
        assert lineage_store.get_artifact(again.id).step == 5
        by_lineage, by_sdk = sorted(old_ws.list(OldStyleCheckpoint.ARTIFACT_TYPE_NAME), key=lambda flat: flat["id"])
        keys = ["name", "step", "loss", "workspace"]
        assert subset(by_lineage, keys) == subset(by_sdk, keys)
        assert (by_lineage["id"], by_sdk["id"]) == (checkpoint.id, again.id)
        # The class's own __ALL_META__ (name and step), as the SDK stored it:
        # lineage's layout added uri, kwargs and keys the class never had.
        assert "uri" not in by_lineage and "kwargs" not in by_lineage
        assert {k: v for k, v in by_lineage.items() if k not in ("id", "create_time")} == {
            k: v for k, v in by_sdk.items() if k != "id"
        }

    @pytest.mark.parametrize(
        ("old_cls", "new_cls", "fields", "extra"),
        [
            (metadata.Model, Model, MODEL_FIELDS, EXTRA),
            (metadata.DataSet, DataSet, DATA_SET_FIELDS, EXTRA),
            (metadata.Metrics, Metrics, METRICS_FIELDS, {}),
        ],
    )
    def test_the_old_sdks_own_records_keep_every_field(self, lineage_store, old_cls, new_cls, fields, extra):
        """An old SDK DataSet/Model/Metrics object given to lineage's Execution:
        nested fields and keyword arguments, kept only in its __ALL_META__, too."""
        exe = Execution(name="train", workspace=Workspace(store=lineage_store, name="objects"))
        old_record = exe.log_output(old_cls(**fields, **extra))

        read = lineage_store.get_artifact(old_record.id)
        expected = new_cls(**fields, **extra)
        assert type(read) is new_cls
        compared = [name for name in records.field_names(new_cls) if name not in ("id", "create_time")]
        assert {name: getattr(read, name) for name in compared} == {name: getattr(expected, name) for name in compared}

    def test_a_class_derived_from_nothing(self, lineage_store):
        exe = Execution(name="train", workspace=Workspace(store=lineage_store, name="plain"))
        checkpoint = exe.log_input(PlainCheckpoint("s3://plain/1"))

        record = lineage_store.get_artifact(checkpoint.id)
        assert (type(record).ARTIFACT_TYPE_NAME, record.uri, record.name, record.epoch) == (
            PlainCheckpoint.ARTIFACT_TYPE_NAME, "s3://plain/1", "1", 3,
        )

    def test_a_custom_property_named_like_a_field_sets_it(self, lineage_store):
        class Versioned(PlainCheckpoint):
            ARTIFACT_TYPE_NAME = DataSet.ARTIFACT_TYPE_NAME

            def serialization(self):
                custom = {"version": mlpb.Value(string_value="9"), "uri": mlpb.Value(string_value="s3://other")}
                return mlpb.Artifact(uri=self.uri, properties={"name": mlpb.Value(string_value="v")}, custom_properties=custom)

        exe = Execution(name="train", workspace=Workspace(store=lineage_store, name="versioned"))
        read = lineage_store.get_artifact(exe.log_input(Versioned("s3://v/1")).id)
        assert (type(read), read.uri, read.name, read.version, read.extra) == (DataSet, "s3://v/1", "v", "9", {})

    def test_the_made_class_takes_what_python_names_cannot_and_grows(self, lineage_store):
        """Property names that are no Python names (train-loss, class) are extra
        properties; a class name that is none is made one; a property the first
        object did not set is added to the type when a later one does."""

        def checkpoint_class(class_name):
            def serialization(self):
                properties = {"step": mlpb.Value(int_value=1), "train-loss": mlpb.Value(double_value=0.5),
                              "class": mlpb.Value(string_value="a")}
                if self.loss is not None:
                    properties["loss"] = mlpb.Value(double_value=self.loss)
                return mlpb.Artifact(uri=self.uri, properties=properties)

            def init(self, uri, loss=None):
                self.uri, self.loss, self.id = uri, loss, None

            return type(class_name, (), {"ARTIFACT_TYPE_NAME": "acme.org/test/grows", "__init__": init,
                                         "serialization": serialization})

        exe = Execution(name="train", workspace=Workspace(store=lineage_store, name="grows"))
        first = exe.log_output(checkpoint_class("my-ckpt v2")("s3://g/1"))
        later = exe.log_output(checkpoint_class("my-ckpt v2")("s3://g/2", loss=0.25))

        read = lineage_store.get_artifact(later.id)
        assert type(read).__name__ == "my_ckpt_v2"
        assert (read.step, read.loss, read.extra) == (1, 0.25, {"train-loss": 0.5, "class": "a"})
        assert lineage_store.get_artifact(first.id).loss is None
        [stored] = lineage_store.store.get_artifacts_by_id([later.id])
        assert stored.properties["loss"].double_value == 0.25  # a property of the type, as step
        assert stored.custom_properties["train-loss"].double_value == 0.5

    def test_a_property_named_kwargs_is_an_extra_property(self, lineage_store):
        """A property "kwargs" made a field of that name in the class made for
        the type, written as a second "kwargs" of __ALL_META__ (the key of the
        extra properties) and read back as them: the others were lost. It is
        an extra property, as a name Python cannot take is."""

        class WithKwargs(PlainCheckpoint):
            ARTIFACT_TYPE_NAME = "acme.org/test/with_kwargs"

            def serialization(self):
                properties = {"epoch": mlpb.Value(int_value=3), "kwargs": mlpb.Value(string_value="lr=0.1")}
                return mlpb.Artifact(
                    uri=self.uri, properties=properties, custom_properties={"framework": mlpb.Value(string_value="torch")}
                )

        exe = Execution(name="train", workspace=Workspace(store=lineage_store, name="with-kwargs"))
        read = lineage_store.get_artifact(exe.log_output(WithKwargs("s3://k/1")).id)

        assert (read.epoch, read.extra) == (3, {"kwargs": "lr=0.1", "framework": "torch"})

    def test_records_of_a_made_class_copy_and_pickle_to_another_process(self, lineage_store, tmp_path):
        import copy
        import pickle
        import subprocess
        import sys

        exe = Execution(name="train", workspace=Workspace(store=lineage_store, name="pickled"))
        record = lineage_store.get_artifact(exe.log_output(PlainCheckpoint("s3://plain/7")).id)
        assert copy.deepcopy(record) == record and copy.copy(record).epoch == 3
        (tmp_path / "record.pickle").write_bytes(pickle.dumps(record))
        done = subprocess.run(
            [sys.executable, "-c", "import pickle, sys; r = pickle.load(open(sys.argv[1], 'rb')); "
             "print(type(r).__name__, type(r).ARTIFACT_TYPE_NAME, r.uri, r.epoch, r.id)", str(tmp_path / "record.pickle")],
            capture_output=True, text=True, timeout=120, check=True,
        )
        assert done.stdout.split() == ["PlainCheckpoint", PlainCheckpoint.ARTIFACT_TYPE_NAME, "s3://plain/7", "3", str(record.id)]

    def test_records_of_a_made_class_read_in_a_new_process_have_its_fields(self, any_url, lineage_store):
        """The class made for a Kubeflow SDK-style artifact exists only in the
        process that logged it: read in another, its record was a plain
        Artifact of type lineage/artifact, its properties in extra. It is read
        as a class made from the stored type, as in the logging process."""
        import subprocess
        import sys

        exe = Execution(name="train", workspace=Workspace(store=lineage_store, name="made"))
        logged = exe.log_output(OldStyleCheckpoint("s3://ckpt/new-process", "ckpt", step=5, loss=0.25))
        here = lineage_store.get_artifact(logged.id)
        script = (
            "import json, sys, lineage\n"
            "r = lineage.Store(url=sys.argv[1]).get_artifact(int(sys.argv[2]))\n"
            "print(json.dumps([type(r).ARTIFACT_TYPE_NAME, r.uri, r.name, r.step, r.loss, r.extra]))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, any_url, str(logged.id)], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [
            type(here).ARTIFACT_TYPE_NAME, here.uri, here.name, here.step, here.loss, here.extra,
        ]
        assert json.loads(done.stdout)[0] == OldStyleCheckpoint.ARTIFACT_TYPE_NAME

    def test_properties_no_field_of_a_made_class_can_hold_are_extra_properties(self, lineage_store):
        """Properties "self" and "_step" beside "step" made an __init__ that
        did not compile (SyntaxError at log_output), "__note" a slot no value
        could be set in, "DEDUPLICATE" a slot taken for the class's setting;
        those no field can be are extra properties, "_step" a field."""

        class Odd(PlainCheckpoint):
            ARTIFACT_TYPE_NAME = "acme.org/test/odd_names"

            def serialization(self):
                properties = {
                    name: mlpb.Value(int_value=value)
                    for name, value in (("self", 1), ("_step", 2), ("step", 3), ("__note", 4), ("DEDUPLICATE", 5))
                }
                return mlpb.Artifact(uri=self.uri, properties=properties)

        exe = Execution(name="train", workspace=Workspace(store=lineage_store, name="odd"))
        read = lineage_store.get_artifact(exe.log_output(Odd("s3://odd/1")).id)
        assert (read._step, read.step, read.extra) == (2, 3, {"self": 1, "__note": 4, "DEDUPLICATE": 5})
        assert type(read).DEDUPLICATE is False

    def test_serialization_must_give_an_artifact(self, lineage_store):
        class Broken(PlainCheckpoint):
            def serialization(self):
                return {"uri": self.uri}

        exe = Execution(name="train", workspace=Workspace(store=lineage_store, name="broken"))
        with pytest.raises(lineage.InvalidTypeError) as caught:
            exe.log_output(Broken("s3://b/1"))
        assert str(caught.value) == (
            "Broken.serialization() must return an MLMD Artifact (metadata_store_pb2.Artifact), got {'uri': 's3://b/1'} (dict)"
        )
        assert lineage_store.store.get_artifacts() == []  # nothing written


class TestFromAReviewAgainstTheOldSDK:
    """Differences from the old SDK that a review found (each ran on the old SDK first)."""

    def test_a_custom_artifact_logged_again_is_the_same_artifact(self, lineage_store):
        """A custom (Kubeflow-style) artifact object that got its id when one
        execution logged it was written as a new artifact when another
        logged it: the evaluation's input was not the training's output.
        The old SDK references it by its id. Store.lineage takes it too."""
        ws = Workspace(store=lineage_store, name="ws")
        checkpoint = Execution(name="train", workspace=ws).log_output(PlainCheckpoint("s3://again/1"))
        evaluate = Execution(name="evaluate", workspace=ws)
        evaluate.log_input(checkpoint)
        assert len([a for a in lineage_store.store.get_artifacts() if a.uri == "s3://again/1"]) == 1
        [event] = lineage_store.store.get_events_by_execution_ids([evaluate.id])
        assert event.artifact_id == checkpoint.id
        assert lineage_store.lineage(checkpoint).root == checkpoint.id

    def test_a_custom_artifacts_own_is_duplicated_is_asked(self, lineage_store, old_store):
        """A custom class's is_duplicated() (the SDK's hook: its DataSet and
        Model compare uri, name, version and workspace) said that a new object
        for the checkpoint training wrote is that artifact: lineage ignored
        it, and the evaluation's input was a new artifact no step produced."""

        class Checkpoint(PlainCheckpoint):
            ARTIFACT_TYPE_NAME = "acme.org/test/deduplicated_checkpoint"

            @staticmethod
            def is_duplicated(a, b):
                workspace = "__kf_workspace__"
                return (a.type_id, a.uri, a.custom_properties[workspace]) == (b.type_id, b.uri, b.custom_properties[workspace])

        def train_then_evaluate(module, store):
            ws = module.Workspace(store=store, name="ws-" + module.__name__)
            trained = module.Execution(name="train", workspace=ws).log_output(Checkpoint("s3://dedup/1"))
            evaluated = module.Execution(name="evaluate", workspace=ws).log_input(Checkpoint("s3://dedup/1"))
            elsewhere = Execution(name="e", workspace=Workspace(store=lineage_store, name="other-" + module.__name__))
            return trained.id == evaluated.id, elsewhere.log_input(Checkpoint("s3://dedup/1")).id != trained.id

        register_kubeflow_types(lineage_store)
        old_store.store.put_artifact_type(mlpb.ArtifactType(name=Checkpoint.ARTIFACT_TYPE_NAME, properties={"epoch": mlpb.INT}))
        assert train_then_evaluate(metadata, old_store) == (True, True)  # the old SDK's answer
        assert train_then_evaluate(lineage, lineage_store) == (True, True)
        unique = Execution(name="e", workspace=Workspace(store=lineage_store, name="plain"))
        assert unique.log_input(PlainCheckpoint("s3://p")).id != unique.log_output(PlainCheckpoint("s3://p")).id

    def test_own_is_duplicated_compares_the_values_as_they_were_logged(self, lineage_store):
        """A custom class's is_duplicated() was given the stored artifact in
        lineage's escaped form and ours half escaped (workspace and run, not
        its uri or name): a Windows path on PostgreSQL (backslashes), or a
        U+E000 in a uri on any backend, was never the same artifact again."""

        class Checkpoint(PlainCheckpoint):
            ARTIFACT_TYPE_NAME = "acme.org/test/deduplicated_escaped"

            @staticmethod
            def is_duplicated(a, b):
                workspace = "__kf_workspace__"
                return (a.uri, a.custom_properties[workspace]) == (b.uri, b.custom_properties[workspace])

        ws = Workspace(store=lineage_store, name="ws\\\ue000")
        for uri in ("C:\\ckpt\\1", "s3://b/\ue000/1"):
            trained = Execution(name="train", workspace=ws).log_output(Checkpoint(uri))
            assert Execution(name="evaluate", workspace=ws).log_input(Checkpoint(uri)).id == trained.id, uri

    def test_a_store_that_is_not_lineages_is_named(self, sqlite_url):
        """Workspace(store=...) with the Kubeflow SDK's own Store (code
        ported in part) or a store URL said "'store' must be set as
        metadata.Store": what the caller had passed. It names lineage.Store."""
        with pytest.raises(ValueError, match=r"must be set as a lineage\.Store, got <kubeflow.* Kubeflow SDK's metadata\.Store"):
            Workspace(store=metadata.Store.__new__(metadata.Store), name="ws")
        with pytest.raises(ValueError, match=r"must be set as a lineage\.Store, .* write store=lineage\.Store\('sqlite:"):
            Workspace(store=sqlite_url, name="ws")
        with pytest.raises(ValueError, match=r"lineage\.Store\('postgresql://u:\*\*\*@h/db'\)$"):  # not its password
            Workspace(store="postgresql://u:secret@h/db", name="ws")

    def test_the_serving_step_finds_the_model_when_its_file_is_not_here(self, lineage_store, any_url, tmp_path):
        """The SDK demo's serving step logs Model(uri, name, version) again,
        where the model file is not (another host) or not hashed: it got a new
        artifact, since the trained one's key holds the file's digest. It is
        now found by its uri, name, version and workspace, as the SDK did."""
        from lineage.store import reset_connections

        model_file = tmp_path / "m.pt"
        model_file.write_text("weights")
        uri = model_file.as_uri()
        ws = Workspace(store=lineage_store, name="ws")
        trained = Execution(name="train", workspace=ws).log_output(Model(uri=uri, name="MNIST", version="v1"))
        model_file.unlink()
        reset_connections()  # another process: nothing cached
        store = lineage.Store(url=any_url)
        served = Execution(name="serve", workspace=Workspace(store=store, name="ws")).log_input(
            Model(uri=uri, name="MNIST", version="v1")
        )
        assert served.id == trained.id
        other = Execution(name="serve", workspace=Workspace(store=store, name="ws")).log_input(
            Model(uri=uri, name="MNIST", version="v2")  # another version: another artifact
        )
        assert other.id != trained.id

    def test_the_serving_step_finds_the_model_by_a_relative_path_that_is_not_here(
        self, lineage_store, any_url, tmp_path, monkeypatch
    ):
        """models/m.pt, trained in the project folder, served from another
        folder (or host) where it is not: a relative path not on disk was
        taken for a name and looked for by its key only, which lacks the
        digest the trained one's holds: it was a new artifact, cut off from
        its training. An absolute path was found by its uri."""
        from lineage.store import reset_connections

        (tmp_path / "project" / "models").mkdir(parents=True)
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "project")
        (tmp_path / "project" / "models" / "m.pt").write_text("weights")
        ws = Workspace(store=lineage_store, name="ws")
        trained = Execution(name="train", workspace=ws).log_output(Model(uri="models/m.pt", name="MNIST", version="v1"))
        monkeypatch.chdir(tmp_path / "elsewhere")
        reset_connections()  # another process: nothing cached
        store = lineage.Store(url=any_url)
        served = Execution(name="serve", workspace=Workspace(store=store, name="ws")).log_input(
            Model(uri="models/m.pt", name="MNIST", version="v1")
        )
        assert served.id == trained.id
        other = Execution(name="serve", workspace=Workspace(store=store, name="ws")).log_input(
            Model(uri="models/m.pt", name="MNIST", version="v2")  # another version: another artifact
        )
        assert other.id != trained.id

    def test_an_output_whose_file_is_not_here_is_not_an_earlier_artifact(self, lineage_store, any_url, tmp_path):
        """Only an input is looked for by uri: a file a call says it made,
        and that is not there, is not the artifact an earlier call made."""
        from lineage.store import reset_connections

        model_file = tmp_path / "m.pt"
        model_file.write_text("weights")
        ws = Workspace(store=lineage_store, name="ws")
        trained = Execution(name="train", workspace=ws).log_output(Model(uri=model_file.as_uri(), name="M", version="v1"))
        model_file.unlink()
        reset_connections()
        store = lineage.Store(url=any_url)
        claimed = Execution(name="retrain", workspace=Workspace(store=store, name="ws")).log_output(
            Model(uri=model_file.as_uri(), name="M", version="v1")
        )
        assert claimed.id != trained.id

    def test_metrics_and_hyperparameters_may_be_nan_at_any_depth(self, lineage_store):
        """The old SDK stored a loss curve ending in NaN, an infinite
        per-class value and a NaN hyperparameter; only a top-level metric
        could be."""
        ex = Execution(name="e", workspace=Workspace(store=lineage_store, name="ws"))
        values = {"loss_curve": [0.9, 0.5, float("nan")], "per_class": {"cat": float("inf")}, "ok": 0.5}
        metrics = ex.log_output(Metrics(uri="s3://nan/m", name="m", values=values))
        model = ex.log_output(Model(uri="s3://nan/model", name="mo", hyperparameters={"dropout": float("nan"), "lr": 0.1}))
        back = lineage_store.get_artifact(metrics.id).values
        assert back["loss_curve"][:2] == [0.9, 0.5] and back["loss_curve"][2] != back["loss_curve"][2]  # NaN
        assert back["per_class"] == {"cat": float("inf")} and back["ok"] == 0.5
        hyper = lineage_store.get_artifact(model.id).hyperparameters
        assert hyper["lr"] == 0.1 and hyper["dropout"] != hyper["dropout"]
        with pytest.raises(lineage.InvalidValueError, match="finite"):
            DataSet(uri="s3://nan/d", name="d", labels={"x": float("nan")})  # elsewhere still refused

    @pytest.mark.parametrize("cls", ["DataSet", "Model", "Metrics"])
    @pytest.mark.parametrize(
        "arguments",
        [{"uri": pathlib.Path("/data/x.csv"), "name": "x"}, {"uri": "s3://x", "name": 3}],
        ids=["uri-path", "name-int"],
    )
    def test_a_uri_or_name_that_is_no_str_is_a_value_error_as_in_the_old_sdk(self, cls, arguments):
        """The old SDK raised ValueError for DataSet(uri=a Path) and name=3;
        lineage raised a TypeError only, which `except ValueError` did not catch."""
        with pytest.raises(ValueError, match="must be set and in string type"):
            getattr(metadata, cls)(**arguments)
        with pytest.raises(ValueError) as caught:
            getattr(lineage, cls)(**arguments)
        field = "uri" if "name" not in arguments or isinstance(arguments["name"], str) else "name"
        assert isinstance(caught.value, lineage.InvalidTypeError)
        assert str(caught.value).startswith(f"{cls}.{field} must be a str, got ")

    def test_a_run_of_another_workspace_is_refused(self, lineage_store):
        """Execution(workspace=b, run=a run of workspace a) was attributed to
        a's run while its properties named b."""
        a, b = Workspace(store=lineage_store, name="a"), Workspace(store=lineage_store, name="b")
        with pytest.raises(lineage.InvalidValueError, match="run 'r1' is in workspace 'a', not in the execution's workspace 'b'"):
            Execution(name="e", workspace=b, run=Run(workspace=a, name="r1"))

    def test_an_input_not_here_is_the_newest_artifact_of_its_identity(self, lineage_store, any_url, tmp_path):
        """Looked for by uri, an input whose file is not here is the newest
        stored artifact of its type, uri, name, version and workspace: an
        undigested one stored earlier under its own key won for good, and in
        one process the first match was cached."""
        from lineage.store import reset_connections

        model_file = tmp_path / "m.pt"
        uri = model_file.as_uri()

        def log(kind: str) -> int:
            ex = Execution(name=kind, workspace=Workspace(store=lineage.Store(url=any_url), name="ws"))
            record = Model(uri=uri, name="M", version="v1")
            (ex.log_input if kind == "serve" else ex.log_output)(record)
            return record.id

        placeholder = log("announce")  # the file is not there yet: undigested
        model_file.write_text("X")
        first = log("train")
        model_file.unlink()
        reset_connections()
        assert log("serve") == first != placeholder  # across processes
        model_file.write_text("Y")
        second = log("train")
        model_file.unlink()
        assert log("serve") == second != first  # in one process

    def test_a_run_and_an_execution_of_two_store_objects_on_one_store_are_taken(self, any_url):
        """Two Store objects for one URL are one store (a Store per workspace,
        as Kubeflow code often made): their workspaces of one name are one."""
        w1 = Workspace(store=lineage.Store(url=any_url), name="ws")
        w2 = Workspace(store=lineage.Store(url=any_url), name="ws")
        assert Execution(name="e", workspace=w2, run=Run(workspace=w1, name="r")).id is not None


class SDKPatternCheckpoint(metadata.Artifact):
    """A custom artifact in the SDK's own pattern: scalars as properties,
    every field (nested ones too) in __ALL_META__ (json.dumps(self.__dict__))."""

    ARTIFACT_TYPE_NAME = "acme.org/test/sdk_pattern_checkpoint"

    def __init__(self, uri, name, step, config):
        self.uri, self.name, self.step, self.config, self.id = uri, name, step, config, None

    def serialization(self):
        return mlpb.Artifact(
            uri=self.uri,
            properties={
                "name": mlpb.Value(string_value=self.name),
                "step": mlpb.Value(int_value=self.step),
                "__ALL_META__": mlpb.Value(string_value=json.dumps(self.__dict__)),
            },
        )


class TestKubeflowStyleObjectsKeepWhatTheSDKKept:
    def test_a_field_kept_only_in_all_meta_is_kept(self, lineage_store, old_store):
        """A nested field a custom class keeps only in its __ALL_META__ was
        dropped when lineage logged the object (read back from what the old
        SDK wrote, it is an extra property): both read back the same now."""
        old_store.store.put_artifact_type(
            mlpb.ArtifactType(
                name=SDKPatternCheckpoint.ARTIFACT_TYPE_NAME,
                properties={"name": mlpb.STRING, "step": mlpb.INT, "__ALL_META__": mlpb.STRING},
            )
        )
        register_kubeflow_types(lineage_store)
        config = {"lr": 0.1, "layers": [3, 2]}
        by_sdk = metadata.Execution(name="t", workspace=metadata.Workspace(store=old_store, name="ws")).log_output(
            SDKPatternCheckpoint("s3://c/1", "c", 5, config)
        )
        by_lineage = Execution(name="t", workspace=Workspace(store=lineage_store, name="ws")).log_output(
            SDKPatternCheckpoint("s3://c/2", "c", 5, config)
        )

        read = [lineage_store.get_artifact(a.id) for a in (by_sdk, by_lineage)]
        assert [(r.step, r.extra) for r in read] == [(5, {"config": config})] * 2

    @pytest.mark.parametrize("cls", [metadata.DataSet, metadata.Model, metadata.Metrics])
    def test_the_sdk_objects_workspace_field_is_kept(self, lineage_store, cls):
        """The SDK's DataSet(workspace=...) keeps it in __ALL_META__; logged by lineage it was lost."""
        ex = Execution(name="t", workspace=Workspace(store=lineage_store, name="ws"))
        obj = ex.log_output(cls(uri="s3://w", name="w", workspace="team-a"))

        assert lineage_store.get_artifact(obj.id).workspace == "team-a"

    @pytest.mark.parametrize("reserved", ["__kf_workspace__", "__kf_run__"])
    def test_a_reserved_custom_property_is_refused(self, lineage_store, reserved):
        """The SDK's test_log_invalid_artifacts_should_fail: its ArtifactFixture
        serializing a reserved key raises ValueError; lineage dropped the key
        and logged it."""

        class Fixture(PlainCheckpoint):
            def serialization(self):
                return mlpb.Artifact(uri=self.uri, custom_properties={reserved: mlpb.Value(string_value="ws1")})

        ex = Execution(name="t", workspace=Workspace(store=lineage_store, name="ws"))
        with pytest.raises(ValueError, match=reserved):
            ex.log_input(Fixture("gs://uri"))
        assert lineage_store.store.get_artifacts() == []

    @pytest.mark.parametrize(
        "attributes, kept",
        [
            ({"loss": float("nan")}, []),
            ({"seed": 2**70}, []),
            ({"lr": 0.1, "LR": 0.2}, ["lr"]),
            ({"a": 1, "a ": 2}, ["a"]),
            ({"": 1}, []),
            ({"x" * 300: 1}, []),
            ({"odd": "\udcff"}, []),
        ],
        ids=["nan", "int-past-64-bits", "case", "trailing-space", "empty-name", "long-name", "lone-surrogate"],
    )
    def test_an_attribute_no_store_can_hold_stays_in_the_object(self, tmp_path, attributes, kept):
        """The old SDK logs any attribute in its JSON, and lineage did: one
        it cannot store as an extra property (a custom property) is left out
        of those, not refused."""
        store = lineage.Store(url=f"sqlite:///{tmp_path / 's.db'}")

        class Loose:
            ARTIFACT_TYPE_NAME = "acme.org/test/loose"

            def __init__(self, **kw):
                self.uri, self.name, self.id, self.kept = "s3://loose", "loose", None, {"a": 1}
                self.__dict__.update(kw)

            def serialization(self):
                return mlpb.Artifact(
                    uri=self.uri,
                    properties={
                        "name": mlpb.Value(string_value=self.name),
                        "__ALL_META__": mlpb.Value(string_value=json.dumps(self.__dict__)),
                    },
                )

        obj = Execution(name="t", workspace=Workspace(store=store, name="ws")).log_output(Loose(**attributes))
        [stored] = store.store.get_artifacts_by_id([obj.id])
        assert sorted(k for k in stored.custom_properties if not k.startswith("__")) == sorted(["kept", *kept])
        # Its __ALL_META__ is the object's own JSON, as the SDK stored it: read
        # back, every attribute is there, as for the object the SDK logged.
        extra = store.get_artifact(obj.id).extra
        assert sorted(extra) == sorted(["kept", *attributes]) and extra["kept"] == {"a": 1}

    def test_an_sdk_object_logged_to_another_store_is_not_this_stores_artifact_of_its_id(self, tmp_path):
        a = lineage.Store(url=f"sqlite:///{tmp_path / 'a.db'}")
        b = lineage.Store(url=f"sqlite:///{tmp_path / 'b.db'}")
        obj = Execution(name="t", workspace=Workspace(store=a, name="ws")).log_output(
            metadata.DataSet(uri="s3://a/data", name="a-data")
        )
        other = Execution(name="t", workspace=Workspace(store=b, name="ws")).log_output(DataSet(uri="s3://b/secret", name="b"))
        assert obj.id == other.id
        assert a.lineage(obj).root == obj.id
        with pytest.raises(lineage.UnknownArtifactError, match="is not artifact"):
            b.describe_lineage(obj)


class TestAttributesSetAfterCreation:
    """Ported code that sets a record's attributes between creating and logging it."""

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(lambda m: m.hyperparameters.__setitem__("lr", 0.1), id="hyperparameters-in-place"),
            pytest.param(lambda m: setattr(m, "labels", {"stage": "prod"}), id="labels"),
            pytest.param(lambda m: setattr(m, "kwargs", {"team": "vision", "epochs": 3}), id="kwargs"),
            pytest.param(lambda m: m.kwargs.__setitem__("team", "vision"), id="kwargs-in-place"),
        ],
    )
    def test_written_as_the_old_sdk_wrote_them(self, lineage_store, old_store, change):
        """The old SDK's list() reads the model alike from both SDKs' writes
        (model.kwargs = {...} raised AttributeError: the property had no setter)."""
        register_kubeflow_types(lineage_store)
        listed = []
        for sdk, store in ((metadata, old_store), (lineage, lineage_store)):
            ws = sdk.Workspace(store=store, name=f"set-after-{sdk.__name__}")
            model = sdk.Model(uri="s3://after/model", name="m", hyperparameters={"layers": 2}, labels={"a": "b"})
            change(model)
            sdk.Execution(name="train", workspace=ws).log_output(model)
            [flat] = metadata.Workspace(store=old_store, name=ws.name).list()
            listed.append({k: v for k, v in flat.items() if k not in ("id", "workspace", "create_time")})
        assert listed[0] == listed[1]

    def test_a_kwargs_that_cannot_be_stored_is_named_at_the_assignment(self):
        model = Model(uri="s3://after/model", name="m")
        with pytest.raises(lineage.InvalidTypeError, match=r"Model.extra\['blob'\] must be JSON-able data"):
            model.kwargs = {"blob": object()}
        assert model.kwargs == {}

    @pytest.mark.parametrize("cls", [Model, DataSet, Metrics, records.Artifact])
    def test_an_attribute_that_is_no_field_is_named_with_what_to_write(self, cls):
        """model.accuracy = 0.9 (the old SDK kept any attribute in __ALL_META__)
        raised a bare AttributeError; now one that is also a LineageError says
        where such a value goes. Nothing is set."""
        record = cls(uri="s3://after/x", name="x")
        with pytest.raises(AttributeError) as info:
            record.accuracy = 0.9
        assert isinstance(info.value, lineage.LineageError)
        assert (
            f"{cls.__name__} has no field 'accuracy'" in str(info.value),
            f"{cls.__name__}(..., accuracy=...)" in str(info.value),
            "record.extra['accuracy'] = ..." in str(info.value),
            record.extra,
        ) == (True, True, True, {})


class TestNonStrKeys:
    def test_an_int_metric_key_is_refused_saying_what_the_old_sdk_stored(self, lineage_store, old_store):
        """Metrics(values={1: 0.9}): the old SDK's json.dumps stored the key as
        "1" (read back as a str, unlike what was logged); lineage refuses it
        at the constructor, naming the field and the key, and says which str
        the old SDK made of it."""
        register_kubeflow_types(lineage_store)
        old = metadata.Execution(name="e", workspace=metadata.Workspace(store=old_store, name="keys")).log_output(
            metadata.Metrics(uri="s3://keys/m", name="m", values={1: 0.9})
        )
        [stored] = metadata.Workspace(store=old_store, name="keys").list(metadata.Metrics.ARTIFACT_TYPE_NAME)
        assert (stored["id"], stored["values"]) == (old.id, {"1": 0.9})

        with pytest.raises(lineage.InvalidTypeError) as info:
            Metrics(uri="s3://keys/m", name="m", values={1: 0.9})
        assert str(info.value) == (
            "Metrics.values keys must be str, got key 1 (int) (the Kubeflow SDK stored it as the str '1': write that)"
        )


def stored_like(type_id=1, uri="gcs://123", workspace="ws1", name="name1", version="v1"):
    """An artifact proto as the old SDK's tests build them (mlpb_artifact there)."""
    properties = {}
    if name:
        properties["name"] = mlpb.Value(string_value=name)
    if version:
        properties["version"] = mlpb.Value(string_value=version)
    custom = {"__kf_workspace__": mlpb.Value(string_value=workspace)} if workspace is not None else {}
    return mlpb.Artifact(uri=uri, type_id=type_id, properties=properties, custom_properties=custom)


class TestIsDuplicated:
    """The SDK's DataSet/Model/Metrics have is_duplicated(a, b) over two MLMD
    artifacts (its own tests call Model.is_duplicated): lineage's classes had
    none (AttributeError), though kept name for name."""

    OTHERS = [
        {},
        {"version": None},
        {"name": "name2"},
        {"workspace": "ws2"},
        {"workspace": None},
        {"uri": "gcs://1234"},
        {"type_id": 2},
    ]

    @pytest.mark.parametrize("other", OTHERS)
    @pytest.mark.parametrize(
        ("ours", "theirs"), [(DataSet, metadata.DataSet), (Model, metadata.Model), (Metrics, metadata.Metrics)]
    )
    def test_answers_as_the_sdks(self, ours, theirs, other):
        a, b = stored_like(), stored_like(**other)
        assert (ours.is_duplicated(a, b), ours(uri="u", name="n").is_duplicated(a, b)) == (theirs.is_duplicated(a, b),) * 2

    def test_a_record_class_that_deduplicates_answers_by_the_same_rule(self):
        class Deduplicated(records.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/is_duplicated"
            DEDUPLICATE = True

        class Not(records.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/is_not_duplicated"

        a, b = stored_like(), stored_like()
        assert [cls.is_duplicated(a, b) for cls in (Deduplicated, Not, records.Artifact)] == [True, False, False]


def artifact_events(store: lineage.Store, name: str) -> list:
    """(INPUT/OUTPUT, event path, artifact id) of the one execution *name*."""
    execution = mr.one_execution(store, name)
    return [(kind, path, artifact.id) for kind, path, artifact in mr.events(store, execution.id)]


def fields_read(store: lineage.Store, artifact_id: int) -> tuple:
    """The record stored under *artifact_id*: its class and fields (but its id and create_time)."""
    record = store.get_artifact(artifact_id)
    names = [name for name in records.field_names(type(record)) if name not in ("id", "create_time")]
    return type(record).ARTIFACT_TYPE_NAME, {name: getattr(record, name) for name in names}


class TestSDKObjectsInTrackAndWithBlocks:
    """Kubeflow Execution code ported to @track and ``with execution(...)``
    keeps its SDK objects (metadata.DataSet, classes written the SDK's way):
    they are recorded as lineage's Execution.log_input/log_output records
    them. An SDK DataSet argument was a parameter (its repr), a Model
    returned was dropped without a word, and ex.log_input refused them."""

    def test_an_argument_and_a_value_returned_are_the_calls_input_and_output(self, lineage_store):
        ws = Workspace(store=lineage_store, name="ws")
        first = Execution(name="first", workspace=ws)
        first.log_input(metadata.DataSet(**DATA_SET_FIELDS))
        first.log_output(metadata.Model(**MODEL_FIELDS))
        # What lineage's Execution makes of the same objects logged again: the artifacts they are now.
        again = Execution(name="again", workspace=ws)
        data_id = again.log_input(metadata.DataSet(**DATA_SET_FIELDS)).id
        model_id = again.log_output(metadata.Model(**MODEL_FIELDS)).id

        @lineage.track(store=lineage_store, workspace="ws")
        def train(data, lr=0.1):
            return metadata.Model(**MODEL_FIELDS)

        data = metadata.DataSet(**DATA_SET_FIELDS)
        model = train(data)

        assert artifact_events(lineage_store, "train") == [("INPUT", ("data",), data_id), ("OUTPUT", ("return",), model_id)]
        params = mr.custom(mr.one_execution(lineage_store, "train"))
        assert params["lr"] == 0.1 and "data" not in params
        assert (data.id, model.id) == (data_id, model_id)  # given their ids, as log_input gives them
        assert fields_read(lineage_store, model_id)[0] == Model.ARTIFACT_TYPE_NAME

    def test_log_input_and_log_output_in_a_with_block(self, lineage_store, old_store):
        """A custom class's own is_duplicated() and the property kinds its
        type declares in the store are asked, as lineage's Execution asks them."""

        class Checkpoint(PlainCheckpoint):
            ARTIFACT_TYPE_NAME = "acme.org/test/ported_checkpoint"

            @staticmethod
            def is_duplicated(a, b):
                return (a.type_id, a.uri) == (b.type_id, b.uri)

        class Scores(PlainCheckpoint):
            ARTIFACT_TYPE_NAME = f"acme.org/test/ported_scores_{uuid.uuid4().hex}"  # no class made for it yet

        # Declared by hand, as SDK users did: loss, which no object here sets, is a field.
        declared = {"epoch": mlpb.INT, "loss": mlpb.DOUBLE}
        old_store.store.put_artifact_type(mlpb.ArtifactType(name=Scores.ARTIFACT_TYPE_NAME, properties=declared))
        ws = Workspace(store=lineage_store, name="ws")
        trained = Execution(name="train", workspace=ws).log_output(Checkpoint("s3://ported/1"))

        data, checkpoint, scores = metadata.DataSet(**DATA_SET_FIELDS), Checkpoint("s3://ported/1"), Scores("s3://scores")
        metrics = metadata.Metrics(**METRICS_FIELDS)
        with lineage.execution("evaluate", store=lineage_store, workspace="ws") as ex:
            assert ex.log_input(data, path="data") is data
            assert ex.log_input(checkpoint) is checkpoint
            assert ex.log_output(metrics) is metrics
            ex.log_output(scores, path="scores")

        assert checkpoint.id == trained.id  # its own is_duplicated() says it is the one training wrote
        inputs = [("INPUT", ("data",), data.id), ("INPUT", (), trained.id)]
        outputs = [("OUTPUT", (), metrics.id), ("OUTPUT", ("scores",), scores.id)]
        assert sorted(artifact_events(lineage_store, "evaluate")) == sorted(inputs + outputs)
        assert "loss" in records.field_names(type(lineage_store.get_artifact(scores.id)))
        by_execution = Execution(name="kubeflow", workspace=ws)
        assert by_execution.log_input(metadata.DataSet(**DATA_SET_FIELDS)).id == data.id
        other = by_execution.log_output(metadata.Metrics(**METRICS_FIELDS))
        assert fields_read(lineage_store, metrics.id) == fields_read(lineage_store, other.id)

    def test_records_named_by_the_with_block_and_an_object_logged_before(self, lineage_store):
        """execution(inputs=...) takes SDK objects too; one that got its id
        when logged before is that artifact (it does not deduplicate)."""
        ws = Workspace(store=lineage_store, name="ws")
        checkpoint = Execution(name="train", workspace=ws).log_output(PlainCheckpoint("s3://logged/1"))
        data = metadata.DataSet(uri="s3://b/d.csv", name="d")
        with lineage.execution("evaluate", store=lineage_store, workspace="ws", inputs={"data": data}):
            pass

        @lineage.track(store=lineage_store, workspace="ws")
        def serve(ckpt):
            return None

        serve(checkpoint)
        assert artifact_events(lineage_store, "evaluate") == [("INPUT", ("data",), data.id)]
        assert data.id is not None and fields_read(lineage_store, data.id)[1]["uri"] == "s3://b/d.csv"
        assert artifact_events(lineage_store, "serve") == [("INPUT", ("ckpt",), checkpoint.id)]
        assert len([a for a in lineage_store.store.get_artifacts() if a.uri == "s3://logged/1"]) == 1

    def test_one_that_cannot_be_a_record_is_refused_at_log_input_and_said_for_an_argument(self, lineage_store):
        class Reserved(PlainCheckpoint):
            def serialization(self):
                return mlpb.Artifact(uri=self.uri, custom_properties={"__kf_run__": mlpb.Value(string_value="r")})

        # Refused as lineage's Execution.log_input refuses it.
        with lineage.execution("logged", store=lineage_store, workspace="ws") as ex, pytest.raises(ValueError, match="kf_run"):
            ex.log_input(Reserved("s3://bad"))

        @lineage.track(store=lineage_store, workspace="ws")
        def train(bad, good):
            return "ran"

        with pytest.warns(UserWarning, match="__kf_run__"):
            assert train(Reserved("s3://bad"), metadata.DataSet(uri="s3://good", name="good")) == "ran"
        assert [(kind, path) for kind, path, _ in artifact_events(lineage_store, "train")] == [("INPUT", ("good",))]

    def test_what_a_generator_yields_and_a_future_holds(self, lineage_store):
        """The other ways a tracked call gives outputs: yielded, and the result
        of the future it returns (a copy of a record is written; the object's own record here)."""
        import concurrent.futures
        import functools

        @lineage.track(store=lineage_store, workspace="ws")
        def checkpoints():
            yield metadata.Model(uri="s3://gen/1", name="one", version="1")

        with concurrent.futures.ThreadPoolExecutor(1) as pool:

            def submitted(f):
                return functools.wraps(f)(lambda *a, **k: pool.submit(f, *a, **k))

            @lineage.track(store=lineage_store, workspace="ws")
            @submitted
            def train():
                return metadata.Model(uri="s3://future/1", name="two", version="1")

            [yielded] = list(checkpoints())
            returned = train().result()
        assert artifact_events(lineage_store, "checkpoints") == [("OUTPUT", ("yield", 0), yielded.id)]
        assert artifact_events(lineage_store, "train") == [("OUTPUT", ("return",), returned.id)]
        assert returned.id is not None and fields_read(lineage_store, returned.id)[1]["name"] == "two"


class TestSDKObjectsFromAReview:
    """Kubeflow SDK objects in with blocks, beyond the common case."""

    def test_one_logged_once_tracking_is_switched_off_in_the_block_is_written_as_a_record_is(self, lineage_store):
        """A record logged after init(enabled=False) in a block begun with
        tracking on is written at its end. An SDK object was held as it was
        (made a record only at a start that had passed): an object with an
        id (logged before) made the writer refuse the end whole, and the
        execution stayed RUNNING, its inputs and outputs lost."""
        ws = Workspace(store=lineage_store, name="ws")
        logged_before = Execution(name="before", workspace=ws).log_output(metadata.DataSet(uri="s3://off/k", name="k"))
        assert logged_before.id is not None
        try:
            with lineage.execution("switched", store=lineage_store, workspace="ws") as ex:
                ex.log_input(DataSet(uri="s3://off/in", name="in"))
                lineage.init(enabled=False)
                ex.log_output(logged_before)
                ex.log_output(DataSet(uri="s3://off/out", name="out"))
        finally:
            lineage.init(enabled=True)
        execution = mr.one_execution(lineage_store, "switched")
        assert mr.state(execution) == "COMPLETE"
        assert sorted(mr.paths(lineage_store, execution.id)) == [
            ("INPUT", (), "s3://off/in"),
            ("OUTPUT", (), "s3://off/k"),
            ("OUTPUT", (), "s3://off/out"),
        ]

    @pytest.mark.parametrize("strict", [False, True])
    def test_one_that_cannot_take_its_id_leaves_the_writes_as_they_were(self, lineage_store, strict):
        """The object is given its record's id after each write, as the SDK's
        log_input gave it; a frozen dataclass refuses it. That error came out
        of the write that had landed: said as the start and the end not
        written (they were), the start written again at the end, and in strict
        mode raised at the call, which did not run (it had been a parameter)."""
        import dataclasses
        import warnings

        @dataclasses.dataclass(frozen=True)
        class Frozen:
            uri: str
            id: int | None = None
            ARTIFACT_TYPE_NAME = "acme.org/test/frozen_checkpoint"

            def serialization(self):
                return mlpb.Artifact(uri=self.uri)

        lineage.init(strict=strict)
        ran = []

        @lineage.track(store=lineage_store, workspace="ws", start_delay=0)
        def serve(ckpt, lr=0.1):
            ran.append(ckpt)
            return 1

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert serve(Frozen("s3://frozen/1")) == 1
        assert len(ran) == 1
        execution = mr.one_execution(lineage_store, "serve")
        assert mr.state(execution) == "COMPLETE"
        assert mr.paths(lineage_store, execution.id) == [("INPUT", ("ckpt",), "s3://frozen/1")]
        said = [str(w.message) for w in caught]
        assert not any("could not write" in text for text in said), said
        assert [text for text in said if "Frozen" in text and "id" in text], said


class TaggedCheckpoint(metadata.Artifact):
    """A custom class in the SDK's pattern with attributes of its own (tags)
    that only its __ALL_META__ (json.dumps(self.__dict__)) keeps."""

    ARTIFACT_TYPE_NAME = "acme.org/test/tagged_checkpoint"

    def __init__(self, uri, name, step, tags, ensure_ascii=True):
        self.uri, self.name, self.step, self.tags, self.id = uri, name, step, tags, None
        self._ensure_ascii = ensure_ascii

    def serialization(self):
        meta = json.dumps({k: v for k, v in self.__dict__.items() if k != "_ensure_ascii"}, ensure_ascii=self._ensure_ascii)
        return mlpb.Artifact(
            uri=self.uri,
            properties={
                "name": mlpb.Value(string_value=self.name),
                "step": mlpb.Value(int_value=self.step),
                "__ALL_META__": mlpb.Value(string_value=meta),
            },
        )


def _listed_the_same(rows: list) -> list:
    """Workspace.list() rows but what differs between two loggings of one
    object (its id, the workspace and run it was logged in, lineage's create_time)."""
    return [{k: v for k, v in row.items() if k not in ("id", "workspace", "run", "create_time")} for row in rows]


class TestSDKStyleObjectsStoreTheSDKsAllMeta:
    """A custom class written the SDK's way, logged through lineage, stored
    its __ALL_META__ in lineage's layout: its own attributes under "kwargs"
    and keys it never had (description, owner, labels, create_time). The
    SDK's Workspace.list() (and lineage's) then gave flat["kwargs"]["tags"]
    where the same object logged by the SDK gives flat["tags"]."""

    @pytest.fixture(params=["sqlite", "grpc"])
    def stores(self, request, tmp_path):
        lineage_store = lineage.Store(url=backends.make_url(request.param, tmp_path))
        old = metadata.Store.__new__(metadata.Store)
        old.store = metadata_store.MetadataStore(lineage_store.url.connection_config())
        old.store.put_artifact_type(
            mlpb.ArtifactType(
                name=TaggedCheckpoint.ARTIFACT_TYPE_NAME,
                properties={"name": mlpb.STRING, "step": mlpb.INT, "__ALL_META__": mlpb.STRING},
            )
        )
        register_kubeflow_types(lineage_store)
        return lineage_store, old

    def test_list_reads_what_the_sdk_logged_of_the_same_object(self, stores):
        lineage_store, old = stores
        tags = {"stage": "prod", "seeds": [1, 2]}

        def checkpoint():
            return TaggedCheckpoint("s3://tagged/1", "tagged", 5, tags)

        metadata.Execution(name="t", workspace=metadata.Workspace(store=old, name="by-sdk")).log_output(checkpoint())
        Execution(name="t", workspace=Workspace(store=lineage_store, name="by-log")).log_output(checkpoint())

        @lineage.track(store=lineage_store, workspace="by-track")
        def train():
            return checkpoint()

        train()
        with lineage.execution("t", store=lineage_store, workspace="by-with") as ex:
            ex.log_output(checkpoint())

        names = ("by-sdk", "by-log", "by-track", "by-with")
        by_sdk_list = [
            _listed_the_same(metadata.Workspace(store=old, name=n).list(TaggedCheckpoint.ARTIFACT_TYPE_NAME)) for n in names
        ]
        assert by_sdk_list[0] == [{"name": "tagged", "step": "", "uri": "s3://tagged/1", "tags": tags}]
        assert by_sdk_list[1:] == [by_sdk_list[0]] * 3
        by_lineage_list = [
            _listed_the_same(Workspace(store=lineage_store, name=n).list(TaggedCheckpoint.ARTIFACT_TYPE_NAME)) for n in names
        ]
        assert by_lineage_list[0][0]["tags"] == tags
        assert by_lineage_list[1:] == [by_lineage_list[0]] * 3

    def test_read_back_as_a_record_as_what_the_sdk_logged(self, stores):
        lineage_store, old = stores
        tags = {"stage": "prod"}
        by_sdk = metadata.Execution(name="t", workspace=metadata.Workspace(store=old, name="ws")).log_output(
            TaggedCheckpoint("s3://tagged/2", "tagged", 5, tags)
        )
        by_lineage = Execution(name="t", workspace=Workspace(store=lineage_store, name="ws")).log_output(
            TaggedCheckpoint("s3://tagged/2", "tagged", 5, tags)
        )
        read = [lineage_store.get_artifact(a.id) for a in (by_sdk, by_lineage)]
        assert [(r.name, r.step, r.extra) for r in read] == [("tagged", 5, {"tags": tags})] * 2

    def test_the_text_is_escaped_as_any_string(self, stores):
        """A class whose JSON keeps non-ASCII as it is (U+E000, lineage's
        escape mark, a NUL): stored escaped, read back exactly."""
        lineage_store, _ = stores
        tags = {"mark": "a\ue000b", "nul": "c\x00d", "accent": "é"}
        logged = Execution(name="t", workspace=Workspace(store=lineage_store, name="ws")).log_output(
            TaggedCheckpoint("s3://tagged/3", "tagged", 5, tags, ensure_ascii=False)
        )
        assert lineage_store.get_artifact(logged.id).extra == {"tags": tags}
        (row,) = Workspace(store=lineage_store, name="ws").list(TaggedCheckpoint.ARTIFACT_TYPE_NAME)
        assert row["tags"] == tags and "kwargs" not in row
