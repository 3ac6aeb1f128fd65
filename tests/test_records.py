"""Tests for lineage.records: the artifact records and their validation."""

from __future__ import annotations

import math
import os
import re
import types
import warnings
from typing import Optional

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage
from lineage import DataSet, Metrics, Model
from lineage.errors import (
    InvalidTypeError,
    InvalidValueError,
    LineageError,
    LineageWarning,
    ReservedPropertyError,
)
from lineage.records import Artifact, schema_of


@attrs.define
class Checkpoint(Artifact):
    """A custom artifact type with one field of every kind."""

    ARTIFACT_TYPE_NAME = "acme.org/test/checkpoint"

    step: int = 0
    loss: float = 0.0
    tag: str = "none"
    best: bool = False
    config: dict = attrs.Factory(dict)
    layers: list = attrs.Factory(list)
    parent: Optional[int] = None


#: (field of Checkpoint, a value it cannot hold, the error's text).
WRONG_FIELD_VALUES = [
    ("step", "3", r"Checkpoint\.step must be an int, got '3' \(str\)"),
    ("step", True, r"Checkpoint\.step must be an int, got True \(bool\)"),
    ("step", 1.0, r"Checkpoint\.step must be an int, got 1\.0 \(float\)"),
    ("loss", "x", r"Checkpoint\.loss must be a float, got 'x' \(str\)"),
    ("loss", math.nan, r"Checkpoint\.loss must be a finite number, got nan"),
    ("tag", 3, r"Checkpoint\.tag must be a str, got 3 \(int\)"),
    ("best", 1, r"Checkpoint\.best must be a bool, got 1 \(int\)"),
    ("config", object(), r"Checkpoint\.config must be JSON-able data"),
    ("parent", "p", r"Checkpoint\.parent must be an int, got 'p' \(str\)"),
]


def log_output(store: lineage.Store, record: Artifact) -> Artifact:
    ws = lineage.Workspace(store=store, name="records")
    return lineage.Execution(name="write", workspace=ws).log_output(record)


class TestConstructors:
    def test_dataset_takes_the_old_sdk_keywords(self):
        """DataSet accepts every keyword of the Kubeflow SDK's DataSet."""
        d = DataSet(
            uri="file://path/to/dataset",
            name="mytable-dump",
            workspace="ws1",
            description="an example data",
            owner="owner@my-company.org",
            version="v1.0.0",
            query="SELECT * FROM mytable",
            labels={"label1": "val1"},
        )

        assert (d.uri, d.name, d.workspace, d.description, d.owner, d.version, d.query, d.labels) == (
            "file://path/to/dataset",
            "mytable-dump",
            "ws1",
            "an example data",
            "owner@my-company.org",
            "v1.0.0",
            "SELECT * FROM mytable",
            {"label1": "val1"},
        )

    def test_model_takes_the_old_sdk_keywords(self):
        """Model accepts every keyword of the Kubeflow SDK's Model."""
        m = Model(
            uri="gcs://my-bucket/mnist",
            name="MNIST",
            workspace="ws1",
            description="model to recognize handwritten digits",
            owner="someone@kubeflow.org",
            version="v0.0.1",
            model_type="neural network",
            training_framework={"name": "tensorflow", "version": "v1.0"},
            hyperparameters={"learning_rate": 0.5, "layers": [10, 3, 1], "early_stop": True},
            labels={"mylabel": "l1"},
        )

        assert (m.version, m.model_type, m.training_framework, m.hyperparameters, m.labels) == (
            "v0.0.1",
            "neural network",
            {"name": "tensorflow", "version": "v1.0"},
            {"learning_rate": 0.5, "layers": [10, 3, 1], "early_stop": True},
            {"mylabel": "l1"},
        )

    def test_metrics_takes_the_old_sdk_keywords(self):
        """Metrics accepts every keyword of the Kubeflow SDK's Metrics."""
        m = Metrics(
            uri="gcs://my-bucket/mnist-eval.csv",
            name="MNIST-evaluation",
            workspace="ws1",
            description="validating the MNIST model",
            owner="someone@kubeflow.org",
            data_set_id="123",
            model_id="12345",
            metrics_type=Metrics.VALIDATION,
            values={"accuracy": 0.95},
            labels={"mylabel": "l1"},
        )

        assert (
            m.data_set_id,
            m.model_id,
            m.metrics_type,
            m.values,
        ) == ("123", "12345", "validation", {"accuracy": 0.95})

    def test_positional_arguments_follow_the_old_sdk_order(self):
        """Positional arguments land where the Kubeflow SDK put them."""
        d = DataSet("s3://b/d.csv", "d", "ws", "desc", "me", "v2", "SELECT 1")

        assert (
            d.uri,
            d.name,
            d.workspace,
            d.description,
            d.owner,
            d.version,
            d.query,
        ) == ("s3://b/d.csv", "d", "ws", "desc", "me", "v2", "SELECT 1")

    def test_integer_ids_of_metrics_become_strings(self):
        """data_set_id and model_id accept artifact ids (ints) as the SDK's strings."""
        m = Metrics(uri="u", name="n", data_set_id=3, model_id=4)

        assert (m.data_set_id, m.model_id) == ("3", "4")

    @pytest.mark.parametrize("cls", [DataSet, Model, Metrics, Artifact])
    def test_extra_keyword_arguments_are_kept(self, cls):
        """Unknown keyword arguments are kept in .extra, not dropped."""
        record = cls(uri="u", name="n", epochs=3, source={"team": "a"}, tags=["x", "y"])

        assert record.extra == {"epochs": 3, "source": {"team": "a"}, "tags": ["x", "y"]}
        assert record.kwargs is record.extra  # the Kubeflow SDK's name for them

    @pytest.mark.parametrize("cls", [DataSet, Model, Metrics])
    def test_id_is_none_until_logged(self, cls, store):
        """A new record has no id; logging it sets one."""
        record = cls(uri="file:///x", name="x")
        before = record.id

        log_output(store, record)

        assert (None, int) == (before, type(record.id))

    def test_metrics_type_constants(self):
        """Metrics keeps the SDK's four evaluation type constants."""
        assert (
            Metrics.TRAINING,
            Metrics.VALIDATION,
            Metrics.TESTING,
            Metrics.PRODUCTION,
        ) == ("training", "validation", "testing", "production")

    def test_artifact_type_names_are_the_kubeflow_ones(self):
        """ARTIFACT_TYPE_NAME is the Kubeflow layout's type name on each class."""
        assert (DataSet.ARTIFACT_TYPE_NAME, Model.ARTIFACT_TYPE_NAME, Metrics.ARTIFACT_TYPE_NAME) == (
            "kubeflow.org/alpha/data_set",
            "kubeflow.org/alpha/model",
            "kubeflow.org/alpha/metrics",
        )

    def test_create_time_is_rfc3339_utc(self):
        """create_time is set at construction, in the SDK's RFC 3339 'Z' format."""
        d = DataSet(uri="u", name="n")

        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", d.create_time) is not None

    def test_records_with_the_same_fields_are_equal(self):
        """Equality ignores id and create_time."""
        a = DataSet(uri="u", name="n", version="1")
        b = DataSet(uri="u", name="n", version="1")
        b.id = 7

        assert a == b


class TestNormalization:
    def test_mappings_and_tuples_become_what_json_gives_back(self):
        """Nested mappings become dicts and tuples lists, so a read-back record is equal."""
        m = Model(
            uri="u",
            name="n",
            labels=types.MappingProxyType({"k": ("a", "b")}),
            hyperparameters={"layers": (10, 3)},
            training_framework=("torch", {"v": (2, 3)}),
            extra_field=types.MappingProxyType({"x": (1,)}),
        )

        assert (
            m.labels,
            m.hyperparameters,
            m.training_framework,
            m.extra,
        ) == ({"k": ["a", "b"]}, {"layers": [10, 3]}, ["torch", {"v": [2, 3]}], {"extra_field": {"x": [1]}})

    def test_the_record_holds_a_copy(self):
        """Changing the dict passed in does not change the record."""
        values = {"accuracy": 0.9}
        m = Metrics(uri="u", name="n", values=values)
        values["accuracy"] = float("nan")

        assert m.values == {"accuracy": 0.9}

    def test_custom_json_fields_are_normalized(self):
        """A custom type's dict/list fields are normalized the same way."""
        c = Checkpoint(uri="u", name="n", config=types.MappingProxyType({"a": (1, 2)}), layers=(1, 2))

        assert (c.config, c.layers) == ({"a": [1, 2]}, [1, 2])

    def test_assignment_is_normalized(self):
        """Assigning a mapping field later converts it too."""
        d = DataSet(uri="u", name="n")
        d.labels = types.MappingProxyType({"k": (1,)})

        assert d.labels == {"k": [1]}

    def test_any_mapping_is_logged(self, store):
        """A record built from non-dict mappings is written and read back equal."""
        d = log_output(store, DataSet(uri="u", name="n", labels=types.MappingProxyType({"k": "v"}), x=(1, 2)))

        assert d == store._connection.reader.artifact(d.id)


class TestRepr:
    def test_repr_shows_set_fields_only(self):
        """repr names the class and the fields that are set."""
        d = DataSet(uri="s3://b/d.csv", name="d", version="1", rows=10)

        assert repr(d) == "DataSet(uri='s3://b/d.csv', name='d', extra={'rows': 10}, version='1')"

    def test_repr_shows_the_id_once_logged(self, store):
        """After logging, repr includes the id."""
        m = log_output(store, Model(uri="file:///m", name="m"))

        assert f"Model(uri='file:///m', name='m', id={m.id})" == repr(m)

    def test_a_custom_class_made_with_attrs_define_shows_set_fields_too(self):
        """attrs.define (as the docs make a custom type) wrote a repr of every
        field over the records' own: workspace=None, extra={}, create_time=...
        in every message that shows the record. A class's own __repr__ stays."""

        @attrs.define
        class Shard(Artifact):
            ARTIFACT_TYPE_NAME = "test.org/repr-shard"
            rows: int = 0
            note: Optional[str] = None

        @attrs.frozen
        class Frozen(Artifact):
            ARTIFACT_TYPE_NAME = "test.org/repr-frozen"
            rows: int = 0

        @attrs.define
        class Own(Artifact):
            ARTIFACT_TYPE_NAME = "test.org/repr-own"

            def __repr__(self) -> str:
                return "mine"

        assert repr(Shard(uri="s3://s", name="s", rows=3)) == "Shard(uri='s3://s', name='s', rows=3)"
        assert repr(Frozen(uri="s3://f", name="f")) == "Frozen(uri='s3://f', name='f', rows=0)"
        assert repr(Own(uri="s3://o", name="o")) == "mine"

    def test_a_custom_class_made_with_slots_false_shows_set_fields_too(self):
        """attrs writes the repr of a class made with slots=False into the
        class after its definition was seen: it showed workspace=None,
        extra={}, id=None, create_time=..."""

        @attrs.define(slots=False)
        class Loose(DataSet):
            ARTIFACT_TYPE_NAME = "test.org/repr-loose"
            rows: int = 0

        @attrs.define(slots=False)
        class LooseOwn(Artifact):
            ARTIFACT_TYPE_NAME = "test.org/repr-loose-own"

            def __repr__(self) -> str:
                return "mine"

        assert repr(Loose(uri="s3://l", name="l", rows=3)) == "Loose(uri='s3://l', name='l', rows=3)"
        assert repr(LooseOwn(uri="s3://o", name="o")) == "mine"


class TestBadInput:
    @pytest.mark.parametrize("cls", [DataSet, Model, Metrics, Artifact])
    @pytest.mark.parametrize("missing", ["uri", "name"])
    def test_uri_and_name_are_required(self, cls, missing):
        """Leaving out uri or name raises InvalidValueError naming the field."""
        kwargs = {"uri": "u", "name": "n"}
        del kwargs[missing]

        with pytest.raises(InvalidValueError) as info:
            cls(**kwargs)

        assert f"{cls.__name__}.{missing} is required: got None" == str(info.value)

    @pytest.mark.parametrize("field", ["uri", "name"])
    @pytest.mark.parametrize("value", [3, b"bytes", ["u"], 1.5])
    def test_uri_and_name_must_be_strings(self, field, value):
        """A non-string uri or name raises InvalidTypeError naming field and value."""
        kwargs = {"uri": "u", "name": "n", field: value}

        with pytest.raises(InvalidTypeError) as info:
            DataSet(**kwargs)

        assert f"DataSet.{field} must be a str, got {value!r} ({type(value).__name__})" == str(info.value)

    @pytest.mark.parametrize("value", ["", "   ", "\t\n"])
    def test_empty_uri_is_rejected(self, value):
        """An empty or blank uri raises InvalidValueError showing the value."""
        with pytest.raises(InvalidValueError) as info:
            Model(uri=value, name="n")

        assert f"Model.uri must be a non-empty string, got {value!r}" == str(info.value)

    @pytest.mark.parametrize(
        "field",
        ["workspace", "description", "owner", "version", "query"],
    )
    def test_optional_string_fields_must_be_strings(self, field):
        """Optional string fields reject other types, naming the field."""
        with pytest.raises(InvalidTypeError, match=rf"^DataSet\.{field} must be a str, got 42 \(int\)$"):
            DataSet(uri="u", name="n", **{field: 42})

    def test_errors_are_builtin_errors_too(self):
        """lineage's errors also subclass TypeError/ValueError and LineageError."""
        assert (
            issubclass(InvalidTypeError, TypeError),
            issubclass(InvalidValueError, ValueError),
            issubclass(InvalidTypeError, LineageError),
            issubclass(InvalidValueError, LineageError),
        ) == (True, True, True, True)

    @pytest.mark.parametrize("odd", [math.nan, math.inf, -math.inf])
    def test_a_metric_may_be_nan_or_infinite(self, odd):
        """A run that diverged has loss NaN: Metrics takes it (it raised in the
        user's job; MLflow and the Kubeflow SDK take it), also nested (a loss
        curve; the Kubeflow SDK took that too, and lineage refused it)."""
        metrics = Metrics(uri="u", name="n", values={"loss": odd, "accuracy": 0.5, "curve": {"x": [0.1, odd]}})

        assert repr(metrics.values["loss"]) == repr(odd) and metrics.values["accuracy"] == 0.5
        assert repr(metrics.values["curve"]["x"][1]) == repr(odd)

    @pytest.mark.parametrize("bad", [math.nan, math.inf])
    def test_non_finite_hyperparameters_are_taken_and_extras_rejected(self, bad):
        """A hyperparameter may be NaN or infinite, nested too, as a metric
        may (the Kubeflow SDK took them); an extra property may not (it is
        also a typed MLMD property, which cannot hold them everywhere)."""
        model = Model(uri="u", name="n", hyperparameters={"lr": [0.1, bad]})
        assert repr(model.hyperparameters["lr"][1]) == repr(bad)
        with pytest.raises(InvalidValueError, match=r"DataSet\.extra\['score'\]"):
            DataSet(uri="u", name="n", score=bad)

    @pytest.mark.parametrize("reserved", ["__kf_workspace__", "__kf_run__", "__ALL_META__", "__kf_other"])
    def test_reserved_extra_names_are_rejected(self, reserved):
        """Extra properties may not use names lineage writes itself."""
        with pytest.raises(ReservedPropertyError) as info:
            DataSet(uri="u", name="n", **{reserved: "x"})

        assert (isinstance(info.value, ValueError), repr(reserved) in str(info.value)) == (True, True)

    def test_mapping_fields_must_be_mappings(self):
        """values/hyperparameters/labels reject non-mappings with InvalidTypeError."""
        with pytest.raises(InvalidTypeError, match=r"^Metrics\.values must be a mapping, got \[0\.9\] \(list\)$"):
            Metrics(uri="u", name="n", values=[0.9])

    def test_mapping_keys_must_be_strings(self):
        """A non-string key in a nested mapping names the key."""
        with pytest.raises(InvalidTypeError, match=r"keys must be str, got key 1 \(int\)"):
            Model(uri="u", name="n", hyperparameters={1: 0.5})

    def test_unstorable_values_are_rejected(self):
        """An object that is not JSON-able data is rejected at construction."""
        with pytest.raises(InvalidTypeError, match=r"DataSet\.extra\['blob'\] must be JSON-able data"):
            DataSet(uri="u", name="n", blob=object())

    def test_extra_integers_must_fit_in_64_bits(self):
        """Top-level extra ints become MLMD INT properties, so must fit int64."""
        with pytest.raises(InvalidValueError, match="signed 64-bit"):
            DataSet(uri="u", name="n", count=2**63)

    def test_lone_surrogates_are_rejected(self):
        """A string MLMD cannot encode as UTF-8 is rejected at construction, not at write."""
        with pytest.raises(InvalidValueError, match=r"DataSet\.description must be valid Unicode text"):
            DataSet(uri="u", name="n", description="bad \udc80 name")
        with pytest.raises(InvalidValueError, match=r"DataSet\.extra\['k'\]\['v'\]"):
            DataSet(uri="u", name="n", k={"v": "\ud800"})

    def test_huge_nested_integers_are_rejected(self):
        """Nested ints beyond a double's range are rejected (MLMD structs hold doubles)."""
        with pytest.raises(InvalidValueError, match=r"too large to store as a number"):
            DataSet(uri="u", name="n", k={"v": 10**400})

    def test_nesting_deeper_than_a_struct_holds_is_rejected(self):
        """Values nested deeper than protobuf allows are rejected at construction."""
        deep: object = "leaf"
        for _ in range(33):
            deep = {"k": deep}

        with pytest.raises(InvalidValueError, match="nested more than 32 levels deep"):
            DataSet(uri="u", name="n", deep=deep)

    def test_assignment_is_validated(self):
        """Assigning a wrong type to a field after construction raises too."""
        d = DataSet(uri="u", name="n")

        with pytest.raises(InvalidTypeError, match=r"DataSet\.uri must be a str"):
            d.uri = 3  # type: ignore[assignment]


class TestCustomTypes:
    def test_fields_mysql_takes_as_one_property_are_refused_when_a_record_is_made(self):
        """A custom type's fields are properties of its MLMD type, whose names
        MySQL compares ignoring case and trailing spaces: "lr" beside "LR",
        or "Description" beside DataSet's "description", could not be
        registered there ("Duplicate entry"), and every write of the type
        failed. Refused on every backend, so that a store can move."""

        @attrs.define
        class TwoRates(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/two_rates"
            lr: float = 0.0
            LR: float = 0.0

        @attrs.define
        class Described(DataSet):
            ARTIFACT_TYPE_NAME = "acme.org/test/described"
            Description: str = ""

        with pytest.raises(InvalidValueError, match=r"TwoRates fields 'lr' and 'LR' differ only in case.*MySQL"):
            TwoRates(uri="s3://r", name="r", lr=0.1, LR=0.2)
        with pytest.raises(InvalidValueError, match=r"Described fields 'description' and 'Description' differ only"):
            Described(uri="s3://d", name="d")

    def test_a_class_defined_again_with_a_new_field_is_logged(self, any_store):
        """A notebook cell defining a record class, run again with a field more:
        the type was registered once per process, and MLMD refused the new
        property (the write was lost)."""
        ws = lineage.Workspace(store=any_store, name="redefined")

        @attrs.define
        class Run1(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/redefined"
            step: int = 0

        lineage.Execution(name="first", workspace=ws).log_output(Run1(uri="s3://r/1", name="r", step=1))
        first = Run1

        @attrs.define
        class Run1(Artifact):  # type: ignore[no-redef]  # the cell run again: the same class name
            ARTIFACT_TYPE_NAME = "acme.org/test/redefined"
            step: int = 0
            loss: float = 0.0

        assert Run1 is not first
        logged = lineage.Execution(name="second", workspace=ws).log_output(Run1(uri="s3://r/2", name="r", step=2, loss=0.5))
        [stored] = any_store.store.get_artifacts_by_id([logged.id])
        assert stored.properties["loss"].double_value == 0.5
        assert any_store.store.get_artifact_type("acme.org/test/redefined").properties["loss"] == pb.DOUBLE

        @lineage.track(store=any_store, workspace="redefined")
        def train() -> Run1:
            return Run1(uri="s3://r/3", name="r", step=3, loss=0.25)

        assert train().id is not None  # the short-call path too

    def test_fields_are_typed_mlmd_properties(self, store):
        """str/int/float/bool/dict/list fields become STRING/INT/DOUBLE/BOOLEAN/STRUCT properties."""
        log_output(store, Checkpoint(uri="file:///ckpt", name="ckpt", step=3))

        stored = store.store.get_artifact_type(Checkpoint.ARTIFACT_TYPE_NAME)
        props = dict(stored.properties)

        assert props == {
            "step": pb.INT,
            "loss": pb.DOUBLE,
            "tag": pb.STRING,
            "best": pb.BOOLEAN,
            "config": pb.STRUCT,
            "layers": pb.STRUCT,
            "parent": pb.INT,
            "name": pb.STRING,
            "create_time": pb.STRING,
            "description": pb.STRING,
            "owner": pb.STRING,
            "__ALL_META__": pb.STRING,
        }

    def test_field_values_are_stored_typed(self, store):
        """Each field's value is stored in its MLMD type, readable without JSON."""
        c = log_output(
            store,
            Checkpoint(uri="file:///ckpt", name="ckpt", step=3, loss=0.25, tag="t", best=True, config={"a": 1}),
        )

        [stored] = store.store.get_artifacts_by_id([c.id])
        p = stored.properties

        assert (
            p["step"].int_value,
            p["loss"].double_value,
            p["tag"].string_value,
            p["best"].bool_value,
            p["config"].struct_value["a"],
        ) == (3, 0.25, "t", True, 1.0)

    def test_custom_type_reads_back_as_its_class(self, store):
        """A custom record is read back as an equal instance of its class."""
        c = log_output(store, Checkpoint(uri="file:///c", name="c", step=2, layers=[1, "a"], parent=1))

        read = store._connection.reader.artifact(c.id)

        assert (Checkpoint, c) == (type(read), read)

    def test_a_field_whose_default_takes_the_record_reads_back(self, store):
        """A field whose default is attrs.Factory(..., takes_self=True): every
        read of the type's artifacts (Reader, LineageGraph) raised TypeError,
        the factory called without the record. Stored, the field reads back as
        stored; added to the class since, it gets its default made from the
        record as read."""

        @attrs.define
        class Labelled(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/labelled"
            step: int = 0

        old = log_output(store, Labelled(uri="s3://l/old", name="old", step=1))

        @attrs.define
        class Labelled(Artifact):  # type: ignore[no-redef]  # the cell run again, a field added
            ARTIFACT_TYPE_NAME = "acme.org/test/labelled"
            step: int = 0
            label: str = attrs.field(default=attrs.Factory(lambda self: self.name + "-label", takes_self=True))

        new = log_output(store, Labelled(uri="s3://l/new", name="new", step=2, label="mine"))
        reader = store._connection.reader

        assert [(type(r), r.label, r.step) for r in reader.artifacts([old.id, new.id])] == [
            (Labelled, "old-label", 1),
            (Labelled, "mine", 2),
        ]
        assert store.lineage(new).artifacts[new.id].label == "mine"

    @pytest.mark.parametrize(("field", "value", "message"), WRONG_FIELD_VALUES)
    def test_wrong_field_types_are_rejected_at_construction(self, field, value, message):
        """A custom field with a value of the wrong type raises at once, naming it."""
        with pytest.raises((InvalidTypeError, InvalidValueError), match=message):
            Checkpoint(uri="u", name="n", **{field: value})

    @pytest.mark.parametrize(("field", "value", "message"), WRONG_FIELD_VALUES)
    def test_wrong_field_types_are_rejected_at_assignment(self, field, value, message):
        """A custom field assigned a value of the wrong type raises there, naming
        the class, the field and the value (it failed only when logged, with a
        TypeError naming none of them); the field keeps its value."""
        c = Checkpoint(uri="u", name="n")
        before = getattr(c, field)

        with pytest.raises((InvalidTypeError, InvalidValueError), match=message):
            setattr(c, field, value)
        assert before == getattr(c, field)

    def test_assignment_to_a_custom_field_is_normalized(self):
        """A custom dict/list field assigned later holds what JSON gives back, as when made."""
        c = Checkpoint(uri="u", name="n")
        c.config = types.MappingProxyType({"a": (1, 2)})  # type: ignore[assignment]
        c.layers = (1, 2)  # type: ignore[assignment]
        c.step = 7

        assert (c.config, c.layers, c.step) == ({"a": [1, 2]}, [1, 2], 7)

    def test_assignment_to_a_field_of_a_dict_class_is_validated(self):
        """A class made with slots=False checks assignments too."""

        @attrs.define(slots=False)
        class Loose(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/loose"
            n: int = 0

        b = Loose(uri="u", name="n")
        with pytest.raises(InvalidTypeError, match=r"Loose\.n must be an int, got 'seven' \(str\)"):
            b.n = "seven"  # type: ignore[assignment]
        assert b.n == 0

    def test_a_value_changed_in_place_is_named_when_logged(self, store):
        """A field changed in place (no assignment to check) is refused when
        logged, naming the field and the value, not with a bare TypeError."""
        c = Checkpoint(uri="u", name="n")
        c.layers.append(object())

        with pytest.raises(InvalidTypeError, match=r"Checkpoint\.layers\[0\] must be JSON-able data .*\(object\)"):
            log_output(store, c)

    def test_a_field_named_kwargs_is_refused_at_definition(self):
        """The Kubeflow layout keeps the extra properties under "kwargs" in
        __ALL_META__: a field of that name was written as a second "kwargs"
        key and read back as the extra properties (the field's value
        replaced them; the old SDK read it so too). Refused, naming the class
        and the field."""
        with pytest.raises(ReservedPropertyError, match=r"Calls\.kwargs: a record field may not be named 'kwargs'"):

            @attrs.define
            class Calls(Artifact):
                ARTIFACT_TYPE_NAME = "acme.org/test/calls"
                kwargs: dict = attrs.Factory(dict)

    @pytest.mark.parametrize("slots", [True, False])
    def test_a_field_named_kwargs_without_a_default_is_refused_at_definition(self, slots):
        """Annotated only, in a class made with or without slots (whose
        instances could not even be made: Artifact.kwargs has no setter)."""
        with pytest.raises(ReservedPropertyError, match=r"Loose\.kwargs: a record field may not be named 'kwargs'"):

            @attrs.define(slots=slots)
            class Loose(Artifact):
                ARTIFACT_TYPE_NAME = "acme.org/test/loose-calls"
                kwargs: dict

    def test_a_type_name_taken_by_another_class_is_refused_when_used(self):
        """Two classes with one ARTIFACT_TYPE_NAME and other fields: artifacts
        of both were read back as the one used last, without the other's
        fields. The second is refused when it is first used, naming both
        classes and the type name (not where it is defined: a module
        imported twice defines its classes twice)."""

        @attrs.define
        class First(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/taken"
            step: int = 0

        assert First(uri="u", name="n", step=1).step == 1

        @attrs.define
        class Second(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/taken"
            loss: float = 0.0

        expected = (
            r"\.<locals>\.Second has the ARTIFACT_TYPE_NAME 'acme\.org/test/taken' of tests\.test_records\..*\.<locals>\.First: "
        )
        with pytest.raises(InvalidValueError, match=expected):
            Second(uri="u", name="n")
        assert First(uri="u", name="n", step=1).step == 1  # the first class is unharmed

    def test_a_class_defined_again_is_read_back_as_defined_last(self, any_store):
        """A notebook cell defining a record class, run again (the same module
        and class name): allowed, and what the reader rebuilds is the class as
        defined last, even before it is used, also for what the first wrote."""
        cell = (
            "@attrs.define\n"
            "class Sample(lineage.Artifact):\n"
            "    ARTIFACT_TYPE_NAME = 'acme.org/test/notebook-cell'\n"
            "    step: int = 0\n"
        )
        notebook = {"__name__": "__main__", "attrs": attrs, "lineage": lineage}
        exec(cell, notebook)
        first = log_output(any_store, notebook["Sample"](uri="s3://s/1", name="s", step=1))

        exec(cell.replace("step: int = 0", "step: int = 0\n    loss: float = 0.5"), notebook)
        read = any_store._connection.reader.artifact(first.id)

        assert (notebook["Sample"], 1, 0.5) == (type(read), read.step, getattr(read, "loss", None))

    def test_int_is_accepted_for_a_float_field(self):
        """An int is a valid value of a float field."""
        assert Checkpoint(uri="u", name="n", loss=2).loss == 2

    def test_a_builtin_type_name_cannot_be_reused(self):
        """A custom type that claims a lineage type name is refused."""

        @attrs.define
        class Fake(DataSet):
            ARTIFACT_TYPE_NAME = DataSet.ARTIFACT_TYPE_NAME

        with pytest.raises(InvalidValueError, match="give the custom type its own name"):
            schema_of(Fake)

    def test_custom_type_must_be_an_attrs_class(self):
        """A plain subclass without @attrs.define is refused with a hint."""

        class Plain(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/plain"

        with pytest.raises(InvalidTypeError, match="decorate it with @attrs.define"):
            schema_of(Plain)
        with pytest.raises(InvalidTypeError, match="decorate it with @attrs.define"):
            Plain(uri="u", name="n")


_anything = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(),
        st.binary(),
        st.complex_numbers(),
        st.builds(object),
        st.sets(st.integers(), max_size=2),
        st.just(math.nan),
    ),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.one_of(st.text(), st.integers(), st.none()), children, max_size=3)
    ),
    max_leaves=10,
)


class TestBadInputProperties:
    @given(value=st.one_of(st.integers(), st.floats(), st.binary(), st.lists(st.text()), st.booleans()))
    def test_a_non_string_uri_is_a_type_error_naming_it(self, value):
        """Any non-string uri raises InvalidTypeError naming DataSet.uri, the value and its type."""
        with pytest.raises(InvalidTypeError) as info:
            DataSet(uri=value, name="n")
        message = str(info.value)

        assert ("DataSet.uri must be a str, got ", f"({type(value).__name__})") == (
            message[: len("DataSet.uri must be a str, got ")],
            message[message.rindex("(") :],
        )

    @given(labels=_anything, values=_anything, extra=_anything)
    def test_any_input_is_accepted_or_refused_as_the_callers_mistake(self, labels, values, extra):
        """Whatever is passed, construction succeeds or raises InvalidTypeError/InvalidValueError."""
        try:
            m = Metrics(uri="u", name="n", labels=labels, values=values, extra_value=extra)
        except LineageError as exc:
            outcome = (isinstance(exc, (InvalidTypeError, InvalidValueError)), None)
        else:
            outcome = (True, (type(m.labels), type(m.values)))

        assert (outcome[0], outcome[1] is None or set(outcome[1]) <= {dict, type(None)}) == (True, True)


class TestMisspeltKeywords:
    """Records keep any extra keyword, as the Kubeflow SDK did; one that looks
    like a misspelt field is said, at the user's line."""

    @pytest.mark.parametrize(
        "make, key, field",
        [
            (lambda: Model(uri="s3://m", name="m", verison="3"), "verison", "Model.version"),
            (lambda: DataSet(uri="s3://d", name="d", descripton="x"), "descripton", "DataSet.description"),
            (lambda: Metrics(uri="s3://x", name="x", value={"a": 1.0}), "value", "Metrics.values"),
            (lambda: DataSet(uri="s3://d", name="d", ownr="me"), "ownr", "DataSet.owner"),
        ],
    )
    def test_near_miss_is_kept_and_warned(self, make, key, field):
        with pytest.warns(LineageWarning) as caught:
            record = make()
        [warning] = caught
        assert f"({key}=...) is kept as an extra property, and {field} is unset: a misspelling of" in str(warning.message)
        assert warning.filename == __file__
        assert key in record.extra and getattr(record, field.split(".")[1]) is None

    def test_other_extras_are_taken_in_silence(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = Model(uri="s3://m", name="m", version="3", framework="torch", accuracy=0.9, names=["a"])
            # names built on a field's are names of their own, not slips
            data = DataSet(uri="s3://d", name="d", version_id="v7", owner_id=3, query_id="q", workspace_id=1)
            metrics = Metrics(uri="s3://x", name="x", model="m", data_set="d")
        assert model.extra == {"framework": "torch", "accuracy": 0.9, "names": ["a"]}
        assert set(data.extra) == {"version_id", "owner_id", "query_id", "workspace_id"}
        assert set(metrics.extra) == {"model", "data_set"}

    def test_a_missing_required_field_names_the_misspelt_keyword(self):
        with pytest.raises(InvalidValueError) as caught:
            DataSet(uri="s3://d", nmae="a")
        assert str(caught.value) == "DataSet.name is required: got None (and an extra property 'nmae': a misspelling of 'name'?)"


class TestCustomTypeRequiredFields:
    def test_missing_uri_on_a_custom_type_is_a_lineage_error(self):
        """A custom attrs subclass built without uri/name raises lineage's ValueError naming the field."""
        import attrs as _attrs

        import lineage as _lineage

        @_attrs.define
        class Checkpoint(_lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.test/checkpoint-required"
            step: int = 0

        with pytest.raises(_lineage.InvalidValueError, match=r"Checkpoint\.uri is required"):
            Checkpoint(name="c")
        with pytest.raises(_lineage.InvalidValueError, match=r"Checkpoint\.name is required"):
            Checkpoint(uri="file:///c")


class TestConstructionShortcut:
    """DataSet and Model set plain string fields without running each validator;
    the result must be what the validated construction gives, field for field."""

    texts = st.one_of(st.none(), st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=12), st.text(max_size=3))

    @staticmethod
    def validated(cls, **fields):
        record = cls.__new__(cls)
        record.__attrs_init__(extra={}, **fields)
        return record

    @staticmethod
    def state(record):
        return {f.name: getattr(record, f.name) for f in attrs.fields(type(record)) if f.name != "create_time"}

    @given(uri=texts, name=texts, workspace=texts, description=texts, owner=texts, version=texts, other=texts)
    def test_same_record_or_same_error(self, uri, name, workspace, description, owner, version, other):
        for cls, field in ((DataSet, "query"), (Model, "model_type")):
            fields = dict(uri=uri, name=name, workspace=workspace, description=description, owner=owner, version=version)
            fields[field] = other
            try:
                expected = self.state(self.validated(cls, **fields))
            except LineageError as exc:
                with pytest.raises(type(exc), match=re.escape(str(exc))):
                    cls(**fields)
                continue
            made = cls(**fields)
            assert self.state(made) == expected
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", made.create_time)
            assert made.extra is not cls(**fields).extra  # a fresh dict each time


def test_attrs_evolve_keeps_the_extra_properties_as_they_were():
    """attrs.evolve passes a record's extra as extra=: the built-in records
    took it for one more extra property, nesting it one level deeper."""
    import attrs

    for record in (
        DataSet(uri="s3://e/d", name="d", team="vision"),
        Model(uri="s3://e/m", name="m", team="vision"),
        Metrics(uri="s3://e/x", name="x", team="vision"),
        lineage.Artifact(uri="s3://e/a", name="a", team="vision"),
    ):
        evolved = attrs.evolve(attrs.evolve(record, name="renamed"), description="twice")
        assert (evolved.extra, evolved.name, evolved.description) == ({"team": "vision"}, "renamed", "twice")


class TestFromAReviewOfTheClassChecks:
    """What checking custom classes at definition and assignment broke (a review), kept working."""

    def test_a_module_imported_twice_defines_its_class_twice(self, tmp_path):
        """Run as __main__ and imported by name: one class, twice; it failed at the import."""
        import subprocess
        import sys

        package = tmp_path / "pkg"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "train.py").write_text(
            "import attrs, lineage\n"
            "@attrs.define\n"
            "class Checkpoint(lineage.Artifact):\n"
            "    ARTIFACT_TYPE_NAME = 'acme.org/test/imported_twice'\n"
            "    step: int = 0\n"
            "if __name__ == '__main__':\n"
            "    import pkg.train\n"
            f"    store = lineage.Store(url={('sqlite:///' + str(tmp_path / 'x.db'))!r})\n"
            "    ws = lineage.Workspace(store=store, name='w')\n"
            "    a = lineage.Execution(name='a', workspace=ws).log_output(Checkpoint(uri='s3://a', name='a', step=1))\n"
            "    b = lineage.Execution(name='b', workspace=ws).log_output(pkg.train.Checkpoint(uri='s3://b', name='b', step=2))\n"
            "    print(store.get_artifact(a.id).step, store.get_artifact(b.id).step)\n"
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()])}
        command = [sys.executable, "-m", "pkg.train"]
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout.split()) == (0, ["1", "2"]), done.stderr

    def test_a_make_class_factory_runs_twice(self):
        def make():
            return attrs.make_class(
                "Made", {"n": attrs.field(type=int, default=0)}, bases=(Artifact,),
                class_body={"ARTIFACT_TYPE_NAME": "acme.org/test/made_twice"},
            )

        make()
        assert make()(uri="u", name="n", n=2).n == 2

    def test_an_assignment_goes_through_the_fields_converter(self):
        @attrs.define
        class Converted(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/converted"
            n: int = attrs.field(default=0, converter=int)

        c = Converted(uri="u", name="n")
        c.n = "8"  # type: ignore[assignment]
        assert c.n == 8
        with pytest.raises(ValueError):
            c.n = "eight"  # type: ignore[assignment]

    def test_a_frozen_class_refuses_assignments_as_attrs_does(self):
        @attrs.frozen
        class Frozen(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/frozen"
            n: int = 0

        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            Frozen(uri="u", name="n").n = "bad"  # type: ignore[misc]

    def test_a_kwargs_property_is_no_field(self):
        @attrs.define
        class OwnKwargs(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/own_kwargs"
            n: int = 0

            @property
            def kwargs(self):  # type: ignore[override]
                return dict(self.extra)

        record = OwnKwargs(uri="u", name="n")
        record.extra["team"] = "a"
        assert record.kwargs == {"team": "a"}

    def test_a_property_another_client_set_in_another_case_is_kept_and_named_if_logged(self, store):
        """Team beside team, set by another client: kept on read (nothing stored
        is lost); logging such a record again names the two keys."""
        logged = log_output(store, DataSet(uri="s3://d", name="d", team="v"))
        [stored] = store.store.get_artifacts_by_id([logged.id])
        stored.custom_properties["Team"].string_value = "Vision"
        stored.custom_properties["state"].string_value = "LIVE"
        store.store.put_artifacts([stored])
        read = store.get_artifact(logged.id)
        assert read.extra == {"team": "v", "Team": "Vision", "state": "LIVE"}
        with pytest.raises(InvalidValueError, match=r"names 'team' and 'Team' differ only in case"):
            attrs.evolve(read, uri="s3://e")

    def test_an_assignment_runs_the_converter_once(self):
        @attrs.define
        class Prefixed(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/prefixed"
            path: str = attrs.field(default="", converter=lambda p: "runs/" + p)

        record = Prefixed(uri="u", name="n", path="a")
        record.path = "b"
        assert (record.path, Prefixed(uri="u", name="n", path="a").path) == ("runs/b", "runs/a")

    def test_a_value_that_cannot_be_stored_leaves_the_field_as_it_was(self):
        @attrs.define
        class Loose(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/loose_assign"
            loss: float = 0.5

        record = Loose(uri="u", name="n")
        with pytest.raises(InvalidValueError, match=r"Loose\.loss must be a finite number, got nan"):
            record.loss = math.nan
        assert record.loss == 0.5

    def test_a_type_name_of_classes_with_other_fields_is_refused_whatever_their_names(self):
        """Ckpt(step, loss) and another Ckpt(epoch), or step: int and step: str,
        under one type name: refused when the second is used (the class name
        alone let them through, and an artifact read back as the other class)."""
        made = {}
        for module, body in (("moda", "step: int = 0\n    loss: float = 0.0"), ("modc", "epoch: int = 0"),
                             ("modd", "step: str = ''\n    loss: float = 0.0")):
            namespace = {"attrs": attrs, "Artifact": Artifact, "__name__": module}
            source = f"@attrs.define\nclass Ckpt(Artifact):\n    ARTIFACT_TYPE_NAME = 'acme.org/test/two_modules'\n    {body}\n"
            exec(source, namespace)  # noqa: S102 - a class of another module
            made[module] = namespace["Ckpt"]
        made["moda"](uri="u", name="n")
        for module in ("modc", "modd"):
            expected = rf"{module}\.Ckpt has the ARTIFACT_TYPE_NAME 'acme\.org/test/two_modules' of moda\.Ckpt"
            with pytest.raises(InvalidValueError, match=expected):
                made[module](uri="u", name="n")

    def test_an_attr_s_class_converts_on_assignment(self):
        """@attr.s has no setter of its own: lineage's check ran no converter and refused '8'."""
        import attr

        @attr.s
        class OldStyle(Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/attr_s"
            step = attr.ib(default=0, converter=int, type=int)

        record = OldStyle(uri="u", name="n")
        record.step = "8"
        assert record.step == 8

    def test_classes_whose_fields_are_stored_alike_are_no_clash(self):
        """step: int and step: Optional[int] are one MLMD type: no clash."""
        made = []
        for module, annotation in (("mode", "int = 0"), ("modf", "Optional[int] = None")):
            namespace = {"attrs": attrs, "Artifact": Artifact, "Optional": Optional, "__name__": module}
            type_name = "acme.org/test/stored_alike"
            source = f"@attrs.define\nclass Ckpt(Artifact):\n    ARTIFACT_TYPE_NAME = {type_name!r}\n    step: {annotation}\n"
            exec(source, namespace)  # noqa: S102 - a class of another module
            made.append(namespace["Ckpt"](uri="u", name="n", step=3))
        assert [m.step for m in made] == [3, 3]


def test_field_kinds_survive_one_unresolvable_annotation():
    """With postponed annotations, a field typed by a name only the defining
    function knows must not turn the class's other fields into untyped JSON
    (``int | None`` kept no int check, and was stored as a struct)."""
    from lineage.records import schema_of

    def define():
        class Local:
            pass

        @attrs.define
        class Probe(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "test/unresolvable-annotation"
            a: float | None = None
            b: Optional[int] = 0
            c: Local = None

        return Probe

    Probe = define()
    kinds = {p.name: p.kind for p in schema_of(Probe).properties}
    assert (kinds["a"], kinds["b"], kinds["c"]) == ("float", "int", "json")  # a was "json"
    with pytest.raises(lineage.InvalidTypeError):
        Probe(uri="s3://x", name="n", a="not a float")


class TestCustomClassesWrittenLikeTheBuiltIns:
    """A custom record class written as lineage's own are, ``@attrs.define(init=False)``,
    inherits the built-in __init__: its fields are set by their keywords, as
    a built-in record's are (they went into ``extra``, the field left at its
    default, without a word); the other keywords are extra properties."""

    @pytest.mark.parametrize("base", [Artifact, DataSet, Model, Metrics])
    def test_its_fields_are_set_by_their_keywords(self, base):
        @attrs.define(init=False, repr=False)
        class Ckpt(base):
            ARTIFACT_TYPE_NAME = f"acme.org/test/init_false_{base.__name__.lower()}"
            step: int = 0
            _tag: str = "none"

        record = Ckpt(uri="s3://c", name="c", step=3, tag="best", team="vision")
        assert (record.step, record._tag, record.extra) == (3, "best", {"team": "vision"})
        assert attrs.evolve(record, step=4).step == 4
        with pytest.raises(InvalidTypeError, match=r"Ckpt\.step must be an int, got 'three'"):
            Ckpt(uri="s3://c", name="c", step="three")

    @pytest.mark.parametrize("base", [Artifact, DataSet, Model, Metrics])
    def test_no_look_up_without_extra_keywords(self, base, monkeypatch):
        # The hot path: a record made with no extra keywords has no custom
        # field to set. Looked up always, and passed as **own, Metrics and
        # Artifact were made some 15% slower.
        import lineage.records as records

        def looked_up(*args):
            raise AssertionError("a custom class's fields looked up")

        monkeypatch.setattr(records, "_declared_keywords", looked_up)
        record = base(uri="s3://c", name="c", labels={"team": "vision"})
        assert (record.uri, record.labels, record.extra) == ("s3://c", {"team": "vision"}, {})


class TestACustomClassRedefiningABuiltInField:
    """A custom class's field named as a built-in one (``uri: int``, ``name:
    str = "ckpt"``) replaced lineage's field and its checks: ``uri=5`` and
    ``name=""`` were made, and the write of the execution failed or stored
    them; a plain class attribute (``description = "..."``) was dropped.
    Refused when the class is defined, naming the class and the field."""

    @pytest.mark.parametrize(
        "base, body, field",
        [
            (Artifact, "uri: int = 0", "uri"),
            (Artifact, "name: str = 'ckpt'", "name"),
            (Artifact, "id: int = 0", "id"),
            (Artifact, "description = 'all checkpoints'", "description"),
            (DataSet, "step: int = 0\n    version: int = 1", "version"),
            (Metrics, "values: dict = attrs.Factory(dict)", "values"),
        ],
    )
    @pytest.mark.parametrize("decorator", ["attrs.define", "attrs.define(slots=False)", "attrs.frozen"])
    def test_refused_at_its_definition(self, base, body, field, decorator):
        namespace = {"attrs": attrs, "Base": base, "__name__": "acme_models"}
        source = f"@{decorator}\nclass Ckpt(Base):\n    ARTIFACT_TYPE_NAME = 'acme.org/test/redefines'\n    {body}\n"
        expected = rf"Ckpt\.{field}: a record field may not redefine lineage's field {field!r} of {base.__name__}"
        with pytest.raises(ReservedPropertyError, match=expected):
            exec(source, namespace)  # noqa: S102 - a class of another module

    def test_refused_for_a_class_made_without_a_body(self):
        with pytest.raises(ReservedPropertyError, match=r"Made\.uri: a record field may not redefine"):
            Made = attrs.make_class(
                "Made", {"uri": attrs.field(type=int, default=0, kw_only=True)}, bases=(Artifact,),
                class_body={"ARTIFACT_TYPE_NAME": "acme.org/test/made_redefines"},
            )
            Made(uri=5, name="n")


def test_a_dataclass_record_class_is_refused_when_a_record_is_made():
    """@dataclasses.dataclass on an Artifact subclass writes an __init__ that
    sets none of lineage's fields: C(step=3) was made, without uri or name,
    and logging it failed with AttributeError (for a tracked call, a warning
    and the record not logged)."""
    import dataclasses

    @dataclasses.dataclass
    class Ckpt(Artifact):
        ARTIFACT_TYPE_NAME = "acme.org/test/dataclass"
        step: int = 0

    with pytest.raises(InvalidTypeError, match=r"Ckpt is a dataclass: .*decorate it with @attrs\.define"):
        Ckpt(step=3)


@pytest.mark.parametrize("decorator", ["attrs.define", "attrs.define(slots=False)"])
@pytest.mark.parametrize("setting", ["ARTIFACT_TYPE_NAME: str = 'acme.org/test/annotated'", "DEDUPLICATE: bool = True"])
def test_a_class_setting_annotated_as_a_field_is_refused_naming_it(decorator, setting):
    """``ARTIFACT_TYPE_NAME: str = "..."`` (no ClassVar) is an attrs field,
    not the class's type name: it was refused as "must be a non-empty
    string, got <member ...>", and a subclass's records stored it as a
    property under a type named after the subclass."""
    name = setting.split(":")[0]
    namespace = {"attrs": attrs, "Artifact": Artifact, "__name__": "acme_settings"}
    source = f"@{decorator}\nclass Ckpt(Artifact):\n    {setting}\n    step: int = 0\n"
    with pytest.raises(InvalidTypeError, match=rf"Ckpt\.{name} is annotated as a field: .*ClassVar"):
        exec(source, namespace)  # noqa: S102 - a class of another module
        namespace["Ckpt"](uri="u", name="n")


@attrs.define(slots=False)
class LooseParts(DataSet):
    """A custom DataSet whose fields are kept in its __dict__."""

    ARTIFACT_TYPE_NAME = "acme.org/test/loose_parts"
    rows: int = 0


@attrs.define(slots=False)
class LooseCheckpoint(Checkpoint):
    """A slots=False subclass of a slotted custom class."""

    ARTIFACT_TYPE_NAME = "acme.org/test/loose_checkpoint"
    epoch: int = 0


class TestCopiesOfADictClassRecord:
    """A class made with @attrs.define(slots=False) inherited the
    __getstate__ attrs writes for a slotted base class, which holds that
    base's fields only: its records pickled and copied without their own
    fields (``d.rows`` then raised AttributeError), and one returned from a
    multiprocessing worker reached the parent so."""

    @staticmethod
    def records():
        return [
            LooseParts(uri="s3://b/parts", name="parts", version="2", rows=5, extra={"source": "web"}),
            LooseCheckpoint(uri="file:///ckpt", name="ckpt", step=3, config={"a": [1]}, epoch=7),
        ]

    @pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
    def test_keep_every_field(self, how):
        import copy
        import pickle

        copied = {"pickle": lambda r: pickle.loads(pickle.dumps(r)), "copy": copy.copy, "deepcopy": copy.deepcopy}[how]
        for record in self.records():
            record.note = "kept too"  # an attribute of the instance's __dict__, not a field
            again = copied(record)
            assert type(again) is type(record)
            assert attrs.asdict(again) == attrs.asdict(record)
            assert again.note == "kept too"

    def test_one_logged_and_pickled_is_the_same_artifact_when_logged_again(self, store):
        import pickle

        record = log_output(store, self.records()[0])
        again = pickle.loads(pickle.dumps(record))
        assert (again.id, again.rows, again.extra) == (record.id, 5, {"source": "web"})
        assert log_output(store, again).id == record.id
        assert len(store.store.get_artifacts()) == 1
        assert (store.get_artifact(record.id).rows, store.get_artifact(record.id).extra) == (5, {"source": "web"})

    def test_a_getstate_of_the_users_own_mixin_is_kept(self):
        """Only attrs' inherited __getstate__ is replaced: a mixin's own
        pickling (a user's choice) goes on being used."""
        import copy

        class Compact:
            def __getstate__(self):
                return {"uri": self.uri, "name": self.name, "rows": -1}

            def __setstate__(self, state):
                for key, value in state.items():
                    object.__setattr__(self, key, value)

        @attrs.define(slots=False)
        class Mixed(Compact, DataSet):
            ARTIFACT_TYPE_NAME = "acme.org/test/mixed_pickling"
            rows: int = 0

        again = copy.copy(Mixed(uri="s3://m", name="m", rows=5))
        assert (again.uri, again.rows) == ("s3://m", -1)

        class Restoring:  # only __setstate__: attrs' state, restored the user's way
            def __setstate__(self, state):
                for key, value in state.items():
                    object.__setattr__(self, key, -1 if key == "rows" else value)

        @attrs.define(slots=False)
        class Restored(Restoring, DataSet):
            ARTIFACT_TYPE_NAME = "acme.org/test/restored_pickling"
            rows: int = 0

        assert copy.copy(Restored(uri="s3://r", name="r", rows=5)).rows == -1


class TestCopiesOfALoggedRecord:
    """A copy of a logged record (copy.copy, deepcopy, a pickle: a pool
    worker's argument) whose uri was then set anew was recorded as the
    artifact its stale id names: the process knew what the record held when
    logged only for the original. attrs.evolve was right (a new instance)."""

    @staticmethod
    def logged(store):
        from lineage import execution

        record = DataSet(uri="s3://parts/0", name="parts", version="1")
        with execution("read", store=store) as ex:
            ex.log_input(record)
        assert record.id is not None
        return record

    @pytest.mark.parametrize("how", ["copy", "deepcopy", "pickle"])
    def test_a_copy_set_to_another_file_is_a_new_artifact(self, store, how):
        import copy
        import pickle

        from lineage import execution

        copied = {"pickle": lambda r: pickle.loads(pickle.dumps(r)), "copy": copy.copy, "deepcopy": copy.deepcopy}[how]
        record = self.logged(store)
        same, moved = copied(record), copied(record)
        moved.uri = "s3://parts/1"
        with execution("use", store=store) as ex:
            ex.log_input(same)
            ex.log_input(moved)
        assert same.id == record.id  # unchanged: the same artifact, referenced
        assert moved.id not in (None, record.id)
        assert store.get_artifact(moved.id).uri == "s3://parts/1"
        assert store.get_artifact(record.id).uri == "s3://parts/0"
        assert sorted(a.uri for a in store.store.get_artifacts()) == ["s3://parts/0", "s3://parts/1"]

    def test_a_copy_logged_to_another_store_is_written_there(self, store, tmp_path):
        """Its id is of the first store: in the second it named nothing
        (UnknownArtifactError) or an unrelated artifact."""
        import copy

        from lineage import execution

        record = self.logged(store)
        other = lineage.Store(url=f"sqlite:///{tmp_path / 'other.db'}")
        unrelated = DataSet(uri="s3://unrelated", name="u")
        with execution("fill", store=other) as ex:
            ex.log_input(unrelated)
        again = copy.copy(record)
        with execution("use", store=other) as ex:
            ex.log_input(again)
        assert other.get_artifact(again.id).uri == "s3://parts/0"
        assert sorted(a.uri for a in other.store.get_artifacts()) == ["s3://parts/0", "s3://unrelated"]

    def test_a_pool_worker_that_sets_its_argument_to_another_file_records_that_file(self, sqlite_url, monkeypatch):
        import multiprocessing

        from tests import workers

        monkeypatch.setenv("LINEAGE_STORE", sqlite_url)
        store = lineage.Store(url=sqlite_url)
        record = self.logged(store)
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            [moved_id] = pool.starmap(workers.step_on, [(record, "s3://parts/7")])
        assert moved_id != record.id
        assert store.get_artifact(moved_id).uri == "s3://parts/7"
        assert store.get_artifact(record.id).uri == "s3://parts/0"

    @pytest.mark.parametrize("how", ["self", "copy", "pickle"])
    def test_a_copy_of_a_local_file_rewritten_since_is_a_new_artifact(self, store, tmp_path, how):
        """The file's bytes changed since the record was logged: the record
        itself is then a new artifact (README: changed bytes under the same
        name), but its copy was recorded as the one its stale id names."""
        import copy
        import pickle

        from lineage import execution

        path = tmp_path / "model.bin"
        path.write_bytes(b"first")
        record = Model(uri=path.as_uri(), name="m")
        with execution("train", store=store) as ex:
            ex.log_output(record)
        first = record.id
        assert first is not None
        copied = {"pickle": lambda r: pickle.loads(pickle.dumps(r)), "copy": copy.copy, "self": lambda r: r}[how]
        same = copied(record)
        with execution("check", store=store) as ex:
            ex.log_input(same)
        assert same.id == first  # the same bytes: the same artifact
        path.write_bytes(b"second, retrained")
        again = copied(record)
        with execution("use", store=store) as ex:
            ex.log_input(again)
        assert again.id not in (None, first)
        assert len(store.store.get_artifacts()) == 2
