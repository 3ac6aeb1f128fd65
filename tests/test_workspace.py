"""Tests for lineage.workspace: the Kubeflow Metadata SDK's imperative API.

The first classes port the SDK's own integration tests
(kubeflow-metadata 0.3.1, tests/test_metadata.py) to lineage; they run on
every backend (SQLite file, PostgreSQL, MariaDB).
"""

from __future__ import annotations

import uuid
import warnings
from typing import Optional

import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage
from lineage import DataSet, Execution, Metrics, Model, Run, Workspace
from lineage.errors import (
    InvalidTypeError,
    InvalidValueError,
    ReservedPropertyError,
    UnknownArtifactError,
    WorkspaceExistsError,
)

pytestmark = pytest.mark.backend


def events_of(store: lineage.Store, execution: Execution) -> list:
    """(artifact id, event type) of every event of an execution, sorted."""
    return sorted((e.artifact_id, e.type) for e in store.store.get_events_by_execution_ids([execution.id]))


def artifact_count(store: lineage.Store) -> int:
    return len(store.store.get_artifacts())


class TestLogMetadata:
    def test_log_metadata_successfully(self, any_store):
        """Full information: ids set, listed, events and context links as the SDK made them."""
        ws1 = Workspace(
            store=any_store,
            name="test_log_metadata_successfully_ws_" + str(uuid.uuid4()),
            description="a workspace for testing",
            labels={"n1": "v1"},
        )
        r = Run(workspace=ws1, name="first run", description="first run in ws_1")
        trainer = Execution(name="test execution", workspace=ws1, run=r, description="an execution")
        assert trainer.id is not None

        data_set = trainer.log_input(
            DataSet(
                description="an example data",
                name="mytable-dump",
                owner="owner@my-company.org",
                uri="file://path/to/dataset",
                version=str(uuid.uuid4()),
                query="SELECT * FROM mytable",
            )
        )
        metrics = trainer.log_output(
            Metrics(
                name="MNIST-evaluation",
                description="validating the MNIST model to recognize handwritten digits",
                owner="someone@kubeflow.org",
                uri="gcs://my-bucket/mnist-eval.csv",
                data_set_id="123",
                model_id="12345",
                metrics_type=Metrics.VALIDATION,
                values={"accuracy": 0.95},
                labels={"mylabel": "l1"},
            )
        )
        model_version = str(uuid.uuid4())
        model = trainer.log_output(
            Model(
                name="MNIST",
                description="model to recognize handwritten digits",
                owner="someone@kubeflow.org",
                uri="gcs://my-bucket/mnist",
                model_type="neural network",
                training_framework={"name": "tensorflow", "version": "v1.0"},
                hyperparameters={"learning_rate": 0.5, "layers": [10, 3, 1], "early_stop": True},
                version=model_version,
                labels={"mylabel": "l1"},
            )
        )
        serving_application = Execution(
            name="serving model",
            workspace=ws1,
            description="an execution to represent model serving component",
        )
        # Use model name, version, uri to uniquely identify existing model.
        served_model = Model(name="MNIST", uri="gcs://my-bucket/mnist", version=model_version)
        serving_application.log_input(served_model)

        model_events = ws1.store.get_events_by_artifact_ids([model.id])
        trainer_events = ws1.store.get_events_by_execution_ids([trainer.id])
        ctx = ws1._get_existing_context()
        assert {
            "ids set": True,
            "reprs": True,
            "served model is the model": model.id,
            "listed": (1, 1, 1, 1),
            "model events": 2,
            "model executions": {serving_application.id, trainer.id},
            "trainer artifacts": {model.id, metrics.id, data_set.id},
            "context artifacts": {model.id, metrics.id, data_set.id},
            "context executions": {serving_application.id, trainer.id},
        } == {
            "ids set": None not in (data_set.id, metrics.id, model.id, serving_application.id),
            "reprs": all(repr(a) for a in (data_set, metrics, model)),
            "served model is the model": served_model.id,
            "listed": (
                len(ws1.list()),
                len(ws1.list(Model.ARTIFACT_TYPE_NAME)),
                len(ws1.list(Metrics.ARTIFACT_TYPE_NAME)),
                len(ws1.list(DataSet.ARTIFACT_TYPE_NAME)),
            ),
            "model events": len(model_events),
            "model executions": {e.execution_id for e in model_events},
            "trainer artifacts": {e.artifact_id for e in trainer_events},
            "context artifacts": {a.id for a in ws1.store.get_artifacts_by_context(ctx.id)},
            "context executions": {e.id for e in ws1.store.get_executions_by_context(ctx.id)},
        }

    def test_log_metadata_successfully_with_minimum_information(self, any_store):
        """Minimum information: only the required arguments; logging twice keeps the id."""
        ws1 = Workspace(store=any_store, name="ws_1")
        r = Run(workspace=ws1, name="first run")
        e = Execution(name="test execution", workspace=ws1, run=r)

        data_set = e.log_input(DataSet(name="mytable-dump", uri="file://path/to/dataset"))
        data_set_id = data_set.id
        e.log_input(data_set)
        metrics = e.log_output(Metrics(name="MNIST-evaluation", uri="gcs://my-bucket/mnist-eval.csv"))
        metrics_id = metrics.id
        e.log_output(metrics)
        model = e.log_output(Model(name="MNIST", uri="gcs://my-bucket/mnist"))
        model_id = model.id
        e.log_output(model)

        assert (data_set_id, metrics_id, model_id, 3) == (
            data_set.id,
            metrics.id,
            model.id,
            len(set((data_set_id, metrics_id, model_id))),
        )

    def test_log_returns_the_same_object(self, any_store):
        """log_input and log_output return the artifact they were given."""
        ws = Workspace(store=any_store, name="ws")
        e = Execution(name="e", workspace=ws)
        d = DataSet(uri="u", name="n")

        assert (True, True) == (e.log_input(d) is d, e.log_output(Model(uri="m", name="m")).id is not None)


class TestDoubleLogging:
    @pytest.mark.parametrize("cls", [DataSet, Model, Metrics])
    def test_logging_twice_sends_one_event(self, any_store, cls):
        """Logging an artifact twice to one execution keeps one event and raises nothing."""
        ws = Workspace(store=any_store, name="ws")
        e = Execution(name="e", workspace=ws)
        a = e.log_input(cls(uri="file:///a", name="a"))
        first = a.id

        e.log_input(a)
        e.log_input(a)

        assert (first, [(first, pb.Event.INPUT)]) == (a.id, events_of(any_store, e))

    def test_an_equal_new_record_is_the_same_artifact(self, any_store):
        """A fresh DataSet equal to one already logged to the execution adds no event."""
        ws = Workspace(store=any_store, name="ws")
        e = Execution(name="e", workspace=ws)
        a = e.log_input(DataSet(uri="file:///a", name="a", version="1"))
        b = e.log_input(DataSet(uri="file:///a", name="a", version="1"))

        assert (a.id, [(a.id, pb.Event.INPUT)]) == (b.id, events_of(any_store, e))

    def test_input_and_output_of_one_execution(self, any_store):
        """An artifact may be both input and output of an execution: two events."""
        ws = Workspace(store=any_store, name="ws")
        e = Execution(name="e", workspace=ws)
        a = e.log_input(DataSet(uri="file:///a", name="a"))
        e.log_output(a)

        assert [(a.id, pb.Event.INPUT), (a.id, pb.Event.OUTPUT)] == events_of(any_store, e)

    def test_logging_twice_from_a_new_execution_object(self, any_store):
        """A logged artifact logged by another execution gets one event there."""
        ws = Workspace(store=any_store, name="ws")
        a = Execution(name="e1", workspace=ws).log_output(Model(uri="file:///m", name="m"))
        e2 = Execution(name="e2", workspace=ws)
        e2.log_input(a)
        e2.log_input(a)

        assert [(a.id, pb.Event.INPUT)] == events_of(any_store, e2)


class TestDeduplication:
    def test_artifact_deduplication(self, any_store):
        """The same model logged by two executions of a workspace is one artifact (SDK test)."""
        ws1 = Workspace(store=any_store, name="workspace_one")
        ws2 = Workspace(store=any_store, name="workspace_two")
        r = Run(workspace=ws1, name="first run")
        e = Execution(name="test execution", workspace=ws1, run=r)
        e2 = Execution(name="execution 2", workspace=ws1)
        e3 = Execution(name="execution 3", workspace=ws2)

        model = Model(name="MNIST", uri="gcs://my-bucket/mnist", model_type="neural network", version="v0.0.1")
        model2 = Model(name="MNIST", uri="gcs://my-bucket/mnist", model_type="neural network", version="v0.0.1")
        model3 = Model(name="MNIST", uri="gcs://my-bucket/mnist", model_type="neural network", version="v0.0.1")
        e.log_output(model)
        e2.log_output(model2)
        e3.log_output(model3)

        assert (model.id, True) == (model2.id, model3.id != model.id)

    @pytest.mark.parametrize("cls", [DataSet, Model])
    def test_dedup_across_executions(self, any_store, cls):
        """DataSet and Model with the same type, uri, name, version, workspace are one artifact."""
        ws = Workspace(store=any_store, name="ws")
        a = Execution(name="a", workspace=ws).log_output(cls(uri="s3://b/x", name="x", version="1"))
        b = Execution(name="b", workspace=ws).log_input(cls(uri="s3://b/x", name="x", version="1", description="other"))

        assert (a.id, 1) == (b.id, artifact_count(any_store))

    @pytest.mark.parametrize(
        "change",
        [{"uri": "s3://b/y"}, {"name": "y"}, {"version": "2"}, {"version": None}],
        ids=["uri", "name", "version", "no-version"],
    )
    def test_a_different_identity_is_a_different_artifact(self, any_store, change):
        """Changing uri, name or version makes a new artifact."""
        ws = Workspace(store=any_store, name="ws")
        fields = {"uri": "s3://b/x", "name": "x", "version": "1"}
        a = Execution(name="a", workspace=ws).log_output(DataSet(**fields))
        b = Execution(name="b", workspace=ws).log_output(DataSet(**{**fields, **change}))

        assert (True, 2) == (a.id != b.id, artifact_count(any_store))

    def test_the_type_is_part_of_the_identity(self, any_store):
        """A DataSet and a Model with the same uri, name, version are two artifacts."""
        ws = Workspace(store=any_store, name="ws")
        e = Execution(name="e", workspace=ws)
        d = e.log_input(DataSet(uri="s3://b/x", name="x", version="1"))
        m = e.log_output(Model(uri="s3://b/x", name="x", version="1"))

        assert (True, 2) == (d.id != m.id, artifact_count(any_store))

    @pytest.mark.parametrize("cls", [DataSet, Model])
    def test_no_dedup_across_workspaces(self, any_store, cls):
        """The same artifact in two workspaces is two artifacts."""
        ws1 = Workspace(store=any_store, name="one")
        ws2 = Workspace(store=any_store, name="two")
        a = Execution(name="e", workspace=ws1).log_output(cls(uri="s3://b/x", name="x", version="1"))
        b = Execution(name="e", workspace=ws2).log_output(cls(uri="s3://b/x", name="x", version="1"))

        assert (True, ["one"], ["two"]) == (
            a.id != b.id,
            [d["workspace"] for d in ws1.list(cls.ARTIFACT_TYPE_NAME)],
            [d["workspace"] for d in ws2.list(cls.ARTIFACT_TYPE_NAME)],
        )

    def test_metrics_never_deduplicate(self, any_store):
        """Equal Metrics logged twice are two artifacts."""
        ws = Workspace(store=any_store, name="ws")
        a = Execution(name="a", workspace=ws).log_output(Metrics(uri="s3://b/m", name="m", values={"acc": 0.5}))
        b = Execution(name="b", workspace=ws).log_output(Metrics(uri="s3://b/m", name="m", values={"acc": 0.5}))

        assert (True, 2) == (a.id != b.id, artifact_count(any_store))

    def test_a_dedup_artifact_keeps_its_first_content(self, any_store):
        """Deduplication references the stored artifact; it never overwrites it."""
        ws = Workspace(store=any_store, name="ws")
        Execution(name="a", workspace=ws).log_output(Model(uri="m", name="m", description="first"))
        b = Execution(name="b", workspace=ws).log_input(Model(uri="m", name="m", description="second"))

        [stored] = any_store.store.get_artifacts_by_id([b.id])

        assert "first" == stored.properties["description"].string_value


class TestWorkspace:
    def test_creating_workspace_with_existing_name(self, any_store):
        """A second Workspace of a name reuses it; reuse_workspace_if_exists=False raises (SDK test)."""
        ws_name = "non_unique_ws_" + str(uuid.uuid4())
        ws1 = Workspace(store=any_store, name=ws_name, description="a workspace for testing", labels={"n1": "v1"})
        ws2 = Workspace(any_store, ws_name)

        with pytest.raises(ValueError, match=r".*exists with id.*") as info:
            Workspace(any_store, ws_name, reuse_workspace_if_exists=False)

        assert (ws1.context_id, WorkspaceExistsError, f"exists with id {ws1.context_id}.") == (
            ws2.context_id,
            type(info.value),
            str(info.value).split(" already ")[1][: len(f"exists with id {ws1.context_id}.")],
        )

    def test_a_new_workspace_with_reuse_false(self, any_store):
        """reuse_workspace_if_exists=False creates a workspace that does not exist yet."""
        ws = Workspace(store=any_store, name="fresh", reuse_workspace_if_exists=False)

        assert ["fresh"] == [c.name for c in any_store.store.get_contexts_by_id([ws.context_id])]

    def test_description_and_labels_are_stored_on_the_context(self, any_store):
        """The workspace context carries description and JSON labels, as the SDK wrote them."""
        ws = Workspace(store=any_store, name="ws", description="desc", labels={"n1": "v1"})

        ctx = ws._get_existing_context()

        assert ("kubeflow.org/alpha/workspace", "ws", "desc", '{"n1": "v1"}') == (
            ctx.type,
            ctx.name,
            ctx.properties["description"].string_value,
            ctx.properties["labels"].string_value,
        )

    def test_list_defaults_to_models_of_this_workspace(self, any_store):
        """list() lists this workspace's models; other types and workspaces are left out."""
        ws = Workspace(store=any_store, name="ws")
        other = Workspace(store=any_store, name="other")
        e = Execution(name="e", workspace=ws)
        m = e.log_output(Model(uri="m", name="m"))
        e.log_input(DataSet(uri="d", name="d"))
        Execution(name="e", workspace=other).log_output(Model(uri="m2", name="m2"))

        assert [m.id] == [d["id"] for d in ws.list()]

    def test_list_gives_flat_dicts_with_nested_fields(self, any_store):
        """list() gives the SDK's flat dicts: properties, workspace, run and nested fields."""
        ws = Workspace(store=any_store, name="ws")
        run = Run(workspace=ws, name="r")
        m = Execution(name="e", workspace=ws, run=run).log_output(
            Model(
                uri="gs://m",
                name="m",
                version="v1",
                model_type="nn",
                training_framework={"name": "tf", "version": "2"},
                hyperparameters={"lr": 0.5, "layers": [1, 2]},
                labels={"k": "v"},
                extra_field="x",
            )
        )

        [flat] = ws.list()

        assert {
            "id": m.id,
            "workspace": "ws",
            "run": "r",
            "uri": "gs://m",
            "name": "m",
            "version": "v1",
            "model_type": "nn",
            "training_framework": {"name": "tf", "version": "2"},
            "hyperparameters": {"lr": 0.5, "layers": [1, 2]},
            "labels": {"k": "v"},
            "kwargs": {"extra_field": "x"},
        } == {
            key: flat[key]
            for key in (
                "id",
                "workspace",
                "run",
                "uri",
                "name",
                "version",
                "model_type",
                "training_framework",
                "hyperparameters",
                "labels",
                "kwargs",
            )
        }

    def test_list_of_an_unknown_type_is_empty(self, any_store):
        """list() of a type nobody registered is an empty list."""
        ws = Workspace(store=any_store, name="ws")

        assert [] == ws.list("acme.org/never-registered")


class TestInvalidArguments:
    def test_invalid_workspace_should_fail(self, store):
        """A Workspace without a store, or with a string as store, raises ValueError (SDK test)."""
        with pytest.raises(ValueError):
            Workspace(name="ws_1", description="a workspace for testing", labels={"n1": "v1"})
        with pytest.raises(ValueError, match="'store' must be set"):
            Workspace(store="127.1.0.1:8080", name="ws_1", description="a workspace for testing", labels={"n1": "v1"})

    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            ({"name": None}, InvalidValueError, "'name' must be set and in string type"),
            ({"name": 3}, InvalidValueError, "'name' must be set and in string type, got 3"),
            ({"name": ""}, InvalidValueError, "must be a non-empty string"),
            ({"description": 3}, InvalidTypeError, "'description' must be a str"),
            ({"labels": ["a"]}, InvalidTypeError, "'labels' must be a mapping"),
            ({"labels": {"a": float("nan")}}, InvalidValueError, "must be a finite number"),
            ({"backend_url_prefix": "http://x"}, InvalidValueError, "'backend_url_prefix' is deprecated"),
        ],
    )
    def test_bad_workspace_arguments(self, store, kwargs, error, message):
        """Bad Workspace arguments raise lineage errors that name the argument."""
        with pytest.raises(error, match=message):
            Workspace(**{"store": store, "name": "ws", **kwargs})

    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            ({"workspace": None}, InvalidValueError, "'workspace' must be set"),
            ({"workspace": "ws"}, InvalidTypeError, "'workspace' must be a Workspace"),
            ({"name": None}, InvalidValueError, "'name' must be set and in string type"),
            ({"name": b"r"}, InvalidValueError, "'name' must be set and in string type"),
            ({"name": " "}, InvalidValueError, "must be a non-empty string"),
            ({"description": 1}, InvalidTypeError, "'description' must be a str"),
        ],
    )
    def test_bad_run_arguments(self, store, kwargs, error, message):
        """Bad Run arguments raise lineage errors that name the argument."""
        ws = Workspace(store=store, name="ws")

        with pytest.raises(error, match=message):
            Run(**{"workspace": ws, "name": "r", **kwargs})

    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            ({"workspace": None}, InvalidValueError, "'workspace' must be set"),
            ({"workspace": object()}, InvalidTypeError, "'workspace' must be a Workspace"),
            ({"name": None}, InvalidValueError, "'name' must be set and in string type"),
            ({"name": ""}, InvalidValueError, "must be a non-empty string"),
            ({"run": "r"}, InvalidTypeError, "'run' must be a Run"),
            ({"description": 1}, InvalidTypeError, "'description' must be a str"),
        ],
    )
    def test_bad_execution_arguments(self, store, kwargs, error, message):
        """Bad Execution arguments raise lineage errors that name the argument."""
        ws = Workspace(store=store, name="ws")

        with pytest.raises(error, match=message):
            Execution(**{"workspace": ws, "name": "e", **kwargs})

    @pytest.mark.parametrize("artifact", [None, "s3://x", {"uri": "u", "name": "n"}])
    def test_logging_a_non_artifact(self, store, artifact):
        """log_input/log_output of something that is not a record raises ValueError/TypeError."""
        e = Execution(name="e", workspace=Workspace(store=store, name="ws"))

        with pytest.raises((InvalidValueError, InvalidTypeError), match="'artifact' must be"):
            e.log_input(artifact)


class TestReservedKeys:
    @pytest.mark.parametrize("reserved", ["__kf_workspace__", "__kf_run__"])
    def test_log_invalid_artifacts_should_fail(self, store, reserved):
        """An artifact carrying a reserved custom property is rejected with ValueError (SDK test)."""
        with pytest.raises(ValueError, match=reserved):
            DataSet(uri="gs://uri", name="n", **{reserved: "ws1"})

    @pytest.mark.parametrize("reserved", ["__kf_workspace__", "__kf_run__"])
    def test_reserved_keys_smuggled_in_after_construction(self, any_store, reserved):
        """A reserved key added to .extra later is rejected at logging, and nothing is written."""
        e = Execution(name="e", workspace=Workspace(store=any_store, name="ws"))
        d = DataSet(uri="gs://uri", name="n")
        d.extra[reserved] = "ws1"

        with pytest.raises(ReservedPropertyError):
            e.log_output(d)

        assert (None, 0, []) == (d.id, artifact_count(any_store), events_of(any_store, e))


class TestUnknownArtifactId:
    def test_a_bogus_id_is_rejected(self, any_store):
        """An artifact with an id the store does not hold raises UnknownArtifactError; nothing is written."""
        e = Execution(name="e", workspace=Workspace(store=any_store, name="ws"))
        d = DataSet(uri="u", name="n")
        d.id = 987654

        with pytest.raises(UnknownArtifactError, match="987654") as info:
            e.log_input(d)

        assert (True, 0, []) == (isinstance(info.value, ValueError), artifact_count(any_store), events_of(any_store, e))

    def test_an_id_from_the_store_is_accepted(self, any_store):
        """A record carrying the id of a stored artifact is linked without a new artifact."""
        ws = Workspace(store=any_store, name="ws")
        first = Execution(name="a", workspace=ws).log_output(Metrics(uri="m", name="m"))
        other = Metrics(uri="elsewhere", name="other")
        other.id = first.id
        e = Execution(name="b", workspace=ws)
        e.log_input(other)

        assert (1, [(first.id, pb.Event.INPUT)]) == (artifact_count(any_store), events_of(any_store, e))


class TestContexts:
    def test_run_context_is_a_child_of_the_workspace_context(self, any_store):
        """A run is an MLMD context whose parent is its workspace's context."""
        ws = Workspace(store=any_store, name="ws")
        run = Run(workspace=ws, name="first run", description="d")

        parents = any_store.store.get_parent_contexts_by_context(run.context_id)
        [ctx] = any_store.store.get_contexts_by_id([run.context_id])

        assert ([ws.context_id], "first run", "d") == (
            [p.id for p in parents],
            ctx.properties["name"].string_value,
            ctx.properties["description"].string_value,
        )

    def test_a_run_name_is_reused_within_a_workspace(self, any_store):
        """Two Runs of one name in one workspace are one context."""
        ws = Workspace(store=any_store, name="ws")

        assert Run(workspace=ws, name="r").context_id == Run(workspace=ws, name="r").context_id

    def test_runs_of_one_name_in_two_workspaces_are_two_contexts(self, any_store):
        """A run name is qualified by its workspace."""
        r1 = Run(workspace=Workspace(store=any_store, name="a/b"), name="c")
        r2 = Run(workspace=Workspace(store=any_store, name="a"), name="b/c")

        assert True is (r1.context_id != r2.context_id)

    def test_long_run_names(self, any_store):
        """Runs with names past MLMD's 255-character context names work, stay distinct, are found again."""
        ws = Workspace(store=any_store, name="w" * 200)
        long_name = "r" * 150 + "é" * 150
        first = Run(workspace=ws, name=long_name + "1")
        second = Run(workspace=ws, name=long_name + "2")
        again = Run(workspace=ws, name=long_name + "1")
        [ctx] = any_store.store.get_contexts_by_id([first.context_id])

        assert (True, first.context_id, long_name + "1", [ws.context_id]) == (
            first.context_id != second.context_id,
            again.context_id,
            ctx.properties["name"].string_value,
            [p.id for p in any_store.store.get_parent_contexts_by_context(first.context_id)],
        )

    @pytest.mark.parametrize("name", ["w" * 256, "é" * 128], ids=["ascii", "two-byte"])
    def test_workspace_names_past_255_bytes_are_refused(self, any_store, name):
        """A workspace name longer than MLMD's limit raises InvalidValueError on every backend."""
        with pytest.raises(InvalidValueError, match="at most 255 bytes of UTF-8"):
            Workspace(store=any_store, name=name)

    def test_workspace_names_up_to_255_bytes_work(self, any_store):
        """A 255-byte workspace name (two-byte characters included) is accepted everywhere."""
        name = "é" * 127 + "w"
        ws = Workspace(store=any_store, name=name)

        assert (name, ws.context_id) == (
            ws._get_existing_context().name,
            Workspace(store=any_store, name=name).context_id,
        )

    def test_executions_are_associated_with_workspace_and_run(self, any_store):
        """An execution is associated with its workspace and run contexts."""
        ws = Workspace(store=any_store, name="ws")
        run = Run(workspace=ws, name="r")
        e = Execution(name="e", workspace=ws, run=run)

        assert {ws.context_id, run.context_id} == {c.id for c in any_store.store.get_contexts_by_execution(e.id)}

    def test_artifacts_are_attributed_to_workspace_and_run(self, any_store):
        """A logged artifact is attributed to the workspace and run contexts."""
        ws = Workspace(store=any_store, name="ws")
        run = Run(workspace=ws, name="r")
        d = Execution(name="e", workspace=ws, run=run).log_input(DataSet(uri="u", name="n"))

        assert {ws.context_id, run.context_id} == {c.id for c in any_store.store.get_contexts_by_artifact(d.id)}

    def test_an_execution_without_run_is_in_the_workspace_only(self, any_store):
        """Without a run, the execution belongs to its workspace alone."""
        ws = Workspace(store=any_store, name="ws")
        e = Execution(name="e", workspace=ws)

        assert [ws.context_id] == [c.id for c in any_store.store.get_contexts_by_execution(e.id)]

    def test_execution_in_the_kubeflow_layout(self, any_store):
        """The execution has the SDK's type, properties and custom properties."""
        ws = Workspace(store=any_store, name="ws")
        run = Run(workspace=ws, name="r")
        e = Execution(name="train", workspace=ws, run=run, description="desc")

        [stored] = any_store.store.get_executions_by_id([e.id])

        assert ("kubeflow.org/alpha/execution", "train", "desc", e.create_time, "ws", "r") == (
            stored.type,
            stored.properties["name"].string_value,
            stored.properties["description"].string_value,
            stored.properties["create_time"].string_value,
            stored.custom_properties["__kf_workspace__"].string_value,
            stored.custom_properties["__kf_run__"].string_value,
        )

    def test_artifact_in_the_kubeflow_layout(self, any_store):
        """Artifacts carry __kf_workspace__, __kf_run__ and STRING properties."""
        ws = Workspace(store=any_store, name="ws")
        run = Run(workspace=ws, name="r")
        d = Execution(name="e", workspace=ws, run=run).log_input(DataSet(uri="u", name="n", version="1", query="q"))

        [stored] = any_store.store.get_artifacts_by_id([d.id])

        assert ("kubeflow.org/alpha/data_set", "u", "n", "1", "q", "ws", "r") == (
            stored.type,
            stored.uri,
            stored.properties["name"].string_value,
            stored.properties["version"].string_value,
            stored.properties["query"].string_value,
            stored.custom_properties["__kf_workspace__"].string_value,
            stored.custom_properties["__kf_run__"].string_value,
        )

    def test_artifact_types_carry_mlmd_base_types(self, any_store):
        """DataSet, Model and Metrics types have MLMD base types DATASET, MODEL, METRICS."""
        e = Execution(name="e", workspace=Workspace(store=any_store, name="ws"))
        for record in (DataSet(uri="d", name="d"), Model(uri="m", name="m"), Metrics(uri="x", name="x")):
            e.log_output(record)
        base = pb.ArtifactType.SystemDefinedBaseType

        assert [base.DATASET, base.MODEL, base.METRICS] == [
            any_store.store.get_artifact_type(cls.ARTIFACT_TYPE_NAME).base_type for cls in (DataSet, Model, Metrics)
        ]


class TestTypedProperties:
    def test_metric_values_are_typed(self, any_store):
        """values.<name> custom properties hold the numbers, typed."""
        m = Execution(name="e", workspace=Workspace(store=any_store, name="ws")).log_output(
            Metrics(uri="m", name="m", values={"accuracy": 0.95, "count": 12, "ok": True, "note": "text"})
        )

        [stored] = any_store.store.get_artifacts_by_id([m.id])
        custom = stored.custom_properties

        assert (0.95, 12, True, False) == (
            custom["values.accuracy"].double_value,
            custom["values.count"].int_value,
            custom["values.ok"].bool_value,
            "values.note" in custom,
        )

    def test_hyperparameters_are_typed(self, any_store):
        """hyperparameters.<name> custom properties hold the numbers, typed."""
        m = Execution(name="e", workspace=Workspace(store=any_store, name="ws")).log_output(
            Model(uri="m", name="m", hyperparameters={"learning_rate": 0.5, "epochs": 3, "layers": [1, 2]})
        )

        [stored] = any_store.store.get_artifacts_by_id([m.id])
        custom = stored.custom_properties

        assert (0.5, 3, False) == (
            custom["hyperparameters.learning_rate"].double_value,
            custom["hyperparameters.epochs"].int_value,
            "hyperparameters.layers" in custom,
        )

    def test_extra_keyword_arguments_are_typed(self, any_store):
        """Extra keyword arguments become typed custom properties."""
        d = Execution(name="e", workspace=Workspace(store=any_store, name="ws")).log_output(
            DataSet(uri="d", name="d", rows=1000, ratio=0.25, source="s3", clean=False, schema={"a": "int"}, tags=["x"])
        )

        [stored] = any_store.store.get_artifacts_by_id([d.id])
        c = stored.custom_properties

        assert (1000, 0.25, "s3", False, "int", ["x"]) == (
            c["rows"].int_value,
            c["ratio"].double_value,
            c["source"].string_value,
            c["clean"].bool_value,
            c["schema"].struct_value["a"],
            list(c["tags"].struct_value["items"]),
        )

    @pytest.mark.parametrize("big", [2**31, -(2**31) - 1, 2**62, -(2**63)])
    def test_ints_beyond_32_bits_are_stored(self, any_store, big):
        """Ints MLMD's SQL schemas cannot hold as INT are typed as doubles and read back exactly."""
        ws = Workspace(store=any_store, name="ws")
        m = Execution(name="e", workspace=ws).log_output(Metrics(uri="m", name="m", values={"n": big}, count=big))

        [stored] = any_store.store.get_artifacts_by_id([m.id])
        read = any_store._connection.reader.artifact(m.id)

        # MLMD keeps about 15 significant digits of a double; the record stays exact.
        assert (pytest.approx(float(big)), pytest.approx(float(big)), {"n": big}, {"count": big}) == (
            stored.custom_properties["values.n"].double_value,
            stored.custom_properties["count"].double_value,
            read.values,
            read.extra,
        )


class TestCaseAndPadding:
    @pytest.mark.parametrize(
        ("names", "merged_by_mysql"),
        [(("Exp", "exp"), True), (("exp", "exp "), True), (("e", "é"), False)],
        ids=["case", "trailing-space", "accent"],
    )
    def test_workspace_names_that_differ_are_different_workspaces(self, any_url, request, names, merged_by_mysql):
        """Workspaces whose names differ in case, accents or trailing spaces are never merged."""
        store = lineage.Store(url=any_url)
        first = Workspace(store=store, name=names[0])
        try:
            second_id = Workspace(store=store, name=names[1]).context_id
        except InvalidValueError:
            second_id = None  # refusing the colliding name outright is acceptable too
        stored = {
            c.id: c.name for c in store.store.get_contexts_by_id([first.context_id, second_id or first.context_id])
        }

        assert (names[0], names[1]) == (stored[first.context_id], names[1] if second_id is None else stored[second_id])


class TestReader:
    def test_artifacts_by_uri_are_exact_matches(self, any_store):
        """The reader finds artifacts by exact uri, even where SQL compares case-insensitively."""
        e = Execution(name="e", workspace=Workspace(store=any_store, name="ws"))
        lower = e.log_input(DataSet(uri="s3://b/data", name="a"))
        e.log_input(DataSet(uri="s3://b/DATA", name="b"))
        e.log_input(DataSet(uri="s3://b/data  ", name="c"))

        assert [lower.id] == [r.id for r in any_store._connection.reader.artifacts_by_uri("s3://b/data")]

    def test_workspace_lookup_is_exact(self, any_store):
        """The reader's workspace lookup does not answer for a name differing in case."""
        Workspace(store=any_store, name="Exp", description="d")
        reader = any_store._connection.reader

        assert ("Exp", "d", None) == (
            reader.workspace("Exp")["name"],
            reader.workspace("Exp")["description"],
            reader.workspace("exp"),
        )

    def test_an_unknown_custom_type_keeps_its_fields(self, any_store):
        """An artifact of a type no class describes is read as a record of a
        class made from the type: the properties it declares are fields, the
        rest extra properties (it was an Artifact, all of them in extra)."""
        store = any_store.store
        type_id = store.put_artifact_type(
            pb.ArtifactType(
                name="acme.org/test/elsewhere",
                properties={"name": pb.STRING, "step": pb.INT, "__ALL_META__": pb.STRING},
            )
        )
        meta = '{"uri": "u", "name": "n", "step": 3, "config": {"a": 1}, "kwargs": {"k": "v"}}'
        [artifact_id] = store.put_artifacts(
            [
                pb.Artifact(
                    type_id=type_id,
                    uri="u",
                    properties={
                        "name": pb.Value(string_value="n"),
                        "step": pb.Value(int_value=3),
                        "__ALL_META__": pb.Value(string_value=meta),
                    },
                )
            ]
        )

        read = any_store._connection.reader.artifact(artifact_id)

        assert (type(read).ARTIFACT_TYPE_NAME, type(read).__name__, read.uri, read.name, read.step, read.extra) == (
            "acme.org/test/elsewhere", "Elsewhere", "u", "n", 3, {"k": "v", "config": {"a": 1}},
        )

    def test_a_custom_class_not_defined_in_the_reading_process_is_read_with_its_fields(self, any_url, any_store):
        """A record of a custom class read in a process that does not define
        it (a notebook's class, read by a script) came back as a plain
        Artifact of type lineage/artifact, its fields in extra: it is a record
        of a class made from the stored type, with those fields."""
        import json
        import subprocess
        import sys

        import attrs

        @attrs.define
        class EvalReport(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/eval_report"
            accuracy: Optional[float] = None
            split: Optional[str] = None
            config: Optional[dict] = None

        logged = Execution(name="e", workspace=Workspace(store=any_store, name="ws")).log_output(
            EvalReport(uri="s3://r/1", name="r", accuracy=0.9, split="test", config={"k": [1, 2]}, extra={"seed": 7})
        )
        script = (
            "import json, sys, lineage\n"
            "r = lineage.Store(url=sys.argv[1]).get_artifact(int(sys.argv[2]))\n"
            "print(json.dumps([type(r).ARTIFACT_TYPE_NAME, type(r).__name__, isinstance(r, lineage.Artifact),"
            " r.name, r.accuracy, r.split, r.config, r.extra]))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", script, any_url, str(logged.id)],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [
            "acme.org/test/eval_report", "EvalReport", True, "r", 0.9, "test", {"k": [1, 2]}, {"seed": 7},
        ]

    def test_properties_another_client_stored_are_kept(self, any_store):
        """A custom property another client set on an artifact, and a property
        it added to the type, are read back among the extra properties beside
        the record's own (they were dropped)."""
        logged = Execution(name="e", workspace=Workspace(store=any_store, name="ws")).log_output(
            DataSet(uri="s3://d/1", name="d", rows=3)
        )
        store = any_store.store
        [stored] = store.get_artifacts_by_id([logged.id])
        [stored_type] = store.get_artifact_types_by_id([stored.type_id])
        stored_type.properties["reviewer"] = pb.STRING
        store.put_artifact_type(stored_type, can_add_fields=True)
        stored.properties["reviewer"].string_value = "ann"
        stored.custom_properties["reviewed"].bool_value = True
        store.put_artifacts([stored])

        read = any_store._connection.reader.artifact(logged.id)

        assert (DataSet, "d", {"rows": 3, "reviewer": "ann", "reviewed": True}) == (type(read), read.name, read.extra)

    def test_fields_the_class_does_not_declare_are_kept(self, any_store):
        """An artifact written by another version of its class (fields more) is
        read back with those fields among the extra properties, exactly (they
        were dropped); its own extra properties stay as they were."""
        import attrs

        @attrs.define
        class Versioned(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/versioned"
            step: int = 0

        store = any_store.store
        type_id = store.put_artifact_type(
            pb.ArtifactType(
                name=Versioned.ARTIFACT_TYPE_NAME,
                properties={"name": pb.STRING, "step": pb.INT, "loss": pb.DOUBLE, "__ALL_META__": pb.STRING},
            )
        )
        meta = '{"uri": "u", "name": "n", "step": 7, "loss": 0.1, "layers": [1, 2], "kwargs": {"k": "v"}}'
        properties = {
            "name": pb.Value(string_value="n"),
            "step": pb.Value(int_value=7),
            "loss": pb.Value(double_value=0.1),
            "__ALL_META__": pb.Value(string_value=meta),
        }
        [artifact_id] = store.put_artifacts(
            [pb.Artifact(type_id=type_id, uri="u", properties=properties, custom_properties={"k": pb.Value(string_value="v")})]
        )

        read = any_store._connection.reader.artifact(artifact_id)

        assert (Versioned, 7, {"k": "v", "loss": 0.1, "layers": [1, 2]}) == (type(read), read.step, read.extra)

    def test_a_custom_class_defined_but_unused_is_found(self, any_store):
        """A custom class this process defines but has not used yet is what the reader rebuilds."""
        import attrs

        @attrs.define
        class NotUsedYet(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/not-used-yet-" + uuid.uuid4().hex
            step: int = 0

        store = any_store.store
        type_id = store.put_artifact_type(
            pb.ArtifactType(name=NotUsedYet.ARTIFACT_TYPE_NAME, properties={"__ALL_META__": pb.STRING})
        )
        meta = '{"uri": "u", "name": "n", "step": 7, "kwargs": {}}'
        [artifact_id] = store.put_artifacts(
            [pb.Artifact(type_id=type_id, uri="u", properties={"__ALL_META__": pb.Value(string_value=meta)})]
        )

        assert NotUsedYet(uri="u", name="n", step=7) == any_store._connection.reader.artifact(artifact_id)

    def test_list_gives_exact_nested_values_of_custom_types(self, any_store):
        """Workspace.list() gives a custom type's nested fields exactly (ints stay ints, lists stay lists)."""
        import attrs

        @attrs.define
        class Listed(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/listed"
            config: dict = attrs.Factory(dict)
            layers: list = attrs.Factory(list)

        ws = Workspace(store=any_store, name="ws")
        Execution(name="e", workspace=ws).log_output(Listed(uri="u", name="n", config={"a": 1}, layers=[1, 2]))

        [flat] = ws.list(Listed.ARTIFACT_TYPE_NAME)

        assert ({"a": 1}, [1, 2]) == (flat["config"], flat["layers"])

    def test_list_keeps_a_custom_records_own_run_field(self, any_store):
        """A custom class's field named run was read as the run the artifact
        was logged in when it was None (or too long for a typed property),
        and that run was lost when it was set. The field keeps its name and
        value; the run is under lineage.run, as for no other record."""
        import attrs

        @attrs.define
        class Ranked(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/ranked"
            run: Optional[str] = attrs.field(default=None, kw_only=True)

        ws = Workspace(store=any_store, name="ws")
        ex = Execution(name="e", workspace=ws, run=Run(workspace=ws, name="nightly"))
        for uri, run in (("u1", None), ("u2", "r" * 3000), ("u3", "mine")):
            ex.log_output(Ranked(uri=uri, name="n", run=run))
        ex.log_output(DataSet(uri="d", name="d"))

        rows = ws.list(Ranked.ARTIFACT_TYPE_NAME)

        runs = [(row["run"], row["lineage.run"]) for row in rows]
        assert runs == [(None, "nightly"), ("r" * 3000, "nightly"), ("mine", "nightly")]
        [data] = ws.list(DataSet.ARTIFACT_TYPE_NAME)
        assert (data["run"], "lineage.run" in data) == ("nightly", False)


class TestNonFiniteMetrics:
    def test_nan_and_infinite_metrics_come_back(self, any_store):
        """NaN, inf and -inf metrics are stored and read back on every backend
        (in the record's JSON; the typed values.<name> copy only for finite ones)."""
        import math

        metrics = Execution(name="eval", workspace=Workspace(store=any_store, name="odd")).log_output(
            Metrics(uri="s3://m/diverged", name="m", values={"loss": math.nan, "up": math.inf, "down": -math.inf, "acc": 0.5})
        )

        back = any_store._connection.reader.artifact(metrics.id)
        [stored] = any_store.store.get_artifacts_by_id([metrics.id])
        assert [repr(back.values[k]) for k in ("loss", "up", "down", "acc")] == ["nan", "inf", "-inf", "0.5"]
        assert sorted(k for k in stored.custom_properties if k.startswith("values.")) == ["values.acc"]


class TestPaging:
    def test_listing_a_workspace_misses_nothing_when_ids_and_times_disagree(self, tmp_path):
        """Concurrent writers on MySQL leave ids and creation times in different
        orders; MLMD's default paging (by creation time) then skipped rows at
        page boundaries: 281 of 450. Listings page by id."""
        import random
        import subprocess

        from tests import backends

        url = backends.make_url("mysql", tmp_path)
        store = lineage.Store(url=url)
        ws = Workspace(store=store, name="paged")
        ex = Execution(name="e", workspace=ws, _defer=True)
        ex._write(outputs=[DataSet(uri=f"s3://p/{i}", name=f"d{i}") for i in range(450)])
        executions = [Execution(name=f"x{i}", workspace=ws) for i in range(249)]
        rng = random.Random(1)
        shuffled = ";".join(
            f"UPDATE {table} SET create_time_since_epoch = {1000 + rng.randint(0, 5)} WHERE id = {row}"
            for table, ids in (("Artifact", range(1, 451)), ("Execution", [ex.id] + [e.id for e in executions]))
            for row in ids
        )
        database = url.rsplit("/", 1)[1]
        mysql = ["mysql", "-u", backends.MYSQL["user"], "-h", backends.MYSQL["host"], "-P", str(backends.MYSQL["port"]), database]
        subprocess.run([*mysql, "-e", shuffled], check=True, timeout=60)

        listed = ws.list(DataSet.ARTIFACT_TYPE_NAME)
        summaries = store._connection.reader.executions_of_context(ws.context_id)

        assert (len(listed), len({row["id"] for row in listed})) == (450, 450)
        assert len({s["id"] for s in summaries}) == 250


class TestStoreDown:
    """The Kubeflow SDK's imperative flow on a store that does not answer.

    Decision: a store that is down is lineage's failure, not the caller's
    mistake. Workspace() and Run() defer their context to the first write
    that reaches the store, as Execution() and log_*() spool theirs, so a
    ported training script goes on; what cannot be deferred (the check that
    reuse_workspace_if_exists=False asks for, a read such as list()) raises
    StoreUnavailableError naming the store, never a gRPC or MLMD error.
    """

    @pytest.fixture
    def down(self, monkeypatch) -> tuple:
        """A gRPC port nothing listens on yet, with short retries: (port, Store)."""
        from tests.test_spool import free_port

        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
        monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "0.1")
        port = free_port()
        return port, lineage.Store(grpc_host="127.0.0.1", grpc_port=port)

    def test_the_flow_goes_on_and_lands_when_the_store_answers(self, down, sqlite_url, tmp_path):
        """Workspace, Run, Execution and log_* on a store that is down raise
        nothing (Workspace and Run raised StoreUnavailableError, Execution
        spooled); once it is served, the workspace (with its description and
        labels), the run and the logged artifact are there."""
        from tests import backends
        from tests.test_spool import embedded

        port, store = down
        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            ws = Workspace(store=store, name="ws_down", description="made while down", labels={"n1": "v1"})
            run = Run(workspace=ws, name="run-1", description="a run")
            exe = Execution(name="train", workspace=ws, run=run)
            data = exe.log_input(DataSet(uri="s3://down/data.csv", name="data"))
        assert (repr(ws), data.id) == ("Workspace(name='ws_down')", None)  # no store asked for the repr

        server = backends.ServerProcess(sqlite_url, port=port)
        try:
            deadline = __import__("time").monotonic() + 30
            while data.id is None and __import__("time").monotonic() < deadline:
                __import__("time").sleep(0.1)
        finally:
            server.stop()
        stored = embedded(sqlite_url)
        [context] = stored.get_contexts_by_type("kubeflow.org/alpha/workspace")
        [run_context] = stored.get_contexts_by_type("lineage/run")
        assert (
            context.name,
            context.properties["description"].string_value,
            context.properties["labels"].string_value,
            run_context.properties["description"].string_value,
            [a.uri for a in stored.get_artifacts_by_context(context.id)],
        ) == ("ws_down", "made while down", '{"n1": "v1"}', "a run", ["s3://down/data.csv"])

    def test_a_run_asked_for_its_id_first_makes_its_workspace_with_its_description(self, down, sqlite_url):
        """run.context_id asked first, once the store answers, made the deferred
        workspace from the run's spec, which names it only: its description
        and labels were lost for good (a later write found it made)."""
        from tests import backends
        from tests.test_spool import embedded

        port, store = down
        ws = Workspace(store=store, name="ws_down", description="made while down", labels={"n1": "v1"})
        run = Run(workspace=ws, name="run-1", description="a run")
        server = backends.ServerProcess(sqlite_url, port=port)
        try:
            run_id = run.context_id
        finally:
            server.stop()
        stored = embedded(sqlite_url)
        [context] = stored.get_contexts_by_type("kubeflow.org/alpha/workspace")
        [parent] = stored.get_parent_contexts_by_context(run_id)
        assert (
            context.properties["description"].string_value,
            context.properties["labels"].string_value,
            parent.id,
        ) == ("made while down", '{"n1": "v1"}', context.id)

    def test_the_user_is_told_once_at_the_first_workspace_naming_the_store(self, down, record_store_calls):
        """Workspace() on a down store said nothing (the spool's warning came
        at the first write, so a script that logged nothing was never told),
        and each Workspace() and Run() asked the store again, each waiting out
        the retry budget. Now the first Workspace() shows the one warning,
        naming the store and the spool; the other calls ask no store and add
        no warning."""
        port, store = down
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ws = Workspace(store=store, name="ws_down", description="d")
            told_at_workspace = [str(w.message) for w in caught]
            calls = record_store_calls()
            Workspace(store=store, name="other")
            run = Run(workspace=ws, name="r")
            Execution(name="train", workspace=ws, run=run).log_input(DataSet(uri="s3://down/d", name="d"))
        [message] = told_at_workspace
        assert f"lineage store grpc://127.0.0.1:{port} is unreachable" in message and "kept in the spool" in message
        assert ([str(w.message) for w in caught], calls) == (told_at_workspace, [])

    def test_a_workspace_and_run_with_nothing_logged_are_made_when_the_store_answers(self, down, sqlite_url):
        """Made while the store was down and never written to, a workspace and
        run were never made: their context waited for a first write that never
        came. They are spooled, and made (with their descriptions and labels,
        the run a child of the workspace) when the store answers."""
        from lineage.store import connect
        from tests import backends
        from tests.test_spool import embedded

        port, store = down
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (the warning: test_the_user_is_told_once_...)
            Workspace(store=store, name="ws_empty", description="made while down", labels={"n1": "v1"})
            Run(workspace=Workspace(store=store, name="ws_empty"), name="run-1", description="a run")
        server = backends.ServerProcess(sqlite_url, port=port)
        try:
            drained = connect(f"grpc://127.0.0.1:{port}").writer.spool.drain(30)
        finally:
            server.stop()
        stored = embedded(sqlite_url)
        [context] = stored.get_contexts_by_type("kubeflow.org/alpha/workspace")
        [run_context] = stored.get_contexts_by_type("lineage/run")
        [parent] = stored.get_parent_contexts_by_context(run_context.id)
        assert (
            drained,
            context.properties["description"].string_value,
            context.properties["labels"].string_value,
            run_context.properties["description"].string_value,
            parent.id,
        ) == (True, "made while down", '{"n1": "v1"}', "a run", context.id)

    def test_a_workspace_left_in_the_spool_is_made_by_lineage_sync(self, tmp_path, sqlite_url, monkeypatch):
        """The process ended before the store answered: `lineage sync` makes
        the workspace and run from the spool file, once (a second replay
        finds them present)."""
        from lineage.store import _spool
        from tests.test_spool import embedded, sync_twice

        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.1")
        store = lineage.Store(url="postgresql://postgres@127.0.0.1:1/h5_dead")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ws = Workspace(store=store, name="ws_empty", description="made while down")
            Run(workspace=ws, name="run-1")
        _spool.abandon_all()
        first, again = sync_twice(tmp_path / "home", sqlite_url)
        stored = embedded(sqlite_url)
        [context] = stored.get_contexts_by_type("kubeflow.org/alpha/workspace")
        assert (first.written, first.present, first.failed, first.unreadable) == (2, 0, [], [])
        assert (again.written, again.present, again.failed) == (0, 2, [])
        assert (context.properties["description"].string_value, len(stored.get_contexts_by_type("lineage/run"))) == (
            "made while down",
            1,
        )

    def test_two_workspaces_of_one_name_made_while_down_keep_the_first_as_with_the_store_up(self, down, sqlite_url, tmp_path):
        """With the store up, the first Workspace() of a name makes it and a
        second one of another description reuses it, saying nothing (the
        Kubeflow SDK's reuse_workspace_if_exists=True). While it was down, the
        workspace was made by the first write that reached the store, here
        the second one's: its description won. The first made is kept, as
        when up."""
        from lineage.store import connect
        from tests import backends
        from tests.test_spool import embedded

        def two_workspaces_then_a_write(store: lineage.Store) -> None:
            Workspace(store=store, name="w", description="first")
            second = Workspace(store=store, name="w", description="second")
            Execution(name="e", workspace=second).log_output(DataSet(uri="s3://w/d", name="d"))

        def description_stored(url: str) -> str:
            [context] = embedded(url).get_contexts_by_type("kubeflow.org/alpha/workspace")
            return str(context.properties["description"].string_value)

        up = backends.make_url("sqlite", tmp_path)
        two_workspaces_then_a_write(lineage.Store(url=up))
        port, store = down
        with pytest.warns(lineage.LineageWarning, match="unreachable"):
            two_workspaces_then_a_write(store)
        server = backends.ServerProcess(sqlite_url, port=port)
        try:
            drained = connect(f"grpc://127.0.0.1:{port}").writer.spool.drain(30)
        finally:
            server.stop()
        assert (drained, description_stored(up), description_stored(sqlite_url)) == (True, "first", "first")

    def test_what_cannot_be_deferred_raises_naming_the_store(self, down):
        """reuse_workspace_if_exists=False needs the store to check; list() reads it."""
        port, store = down
        with pytest.raises(lineage.StoreUnavailableError, match=f"127.0.0.1:{port}"):
            Workspace(store=store, name="ws", reuse_workspace_if_exists=False)
        ws = Workspace(store=store, name="ws")
        with pytest.raises(lineage.StoreUnavailableError, match=f"127.0.0.1:{port}"):
            ws.list()

    def test_strict_mode_raises(self, down):
        """lineage.init(strict=True) raises lineage's own failures, here too."""
        lineage.init(strict=True)
        port, store = down
        with pytest.raises(lineage.StoreUnavailableError, match=f"127.0.0.1:{port}"):
            Workspace(store=store, name="ws")
        ws = Workspace._lazy(store, "ws")
        with pytest.raises(lineage.StoreUnavailableError, match=f"127.0.0.1:{port}"):
            Run(workspace=ws, name="r")
        with pytest.raises(lineage.StoreUnavailableError, match=f"127.0.0.1:{port}"):
            Execution(name="e", workspace=ws)  # it was spooled, strict or not
