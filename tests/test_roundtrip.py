"""Property tests: record -> MLMD -> record round trips, on every backend.

Records are rebuilt from ``__ALL_META__`` JSON, so every value comes back
exactly (MLMD keeps only ~15 significant digits of a typed double); strings
with a backslash, NUL or the codec's escape marker U+E000 come back too,
although MLMD's PostgreSQL driver cannot store a backslash and every backend
stops a string at NUL.
"""

from __future__ import annotations

import json
import os
import uuid

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lineage
from lineage import Execution, Run, Workspace
from lineage.store import _codec as codec
from tests import strategies

pytestmark = pytest.mark.backend

# One store per backend per test function; every example gets its own
# workspace so deduplication never joins two examples.
roundtrip_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fresh_workspace(store: lineage.Store) -> Workspace:
    return Workspace(store=store, name="roundtrip-" + uuid.uuid4().hex)


class TestCodec:
    @given(text=strategies.texts, mangle=st.booleans())
    def test_decode_undoes_encode(self, text, mangle):
        """decode(encode(s)) == s for every string, with or without backslash escaping."""
        assert text == codec.decode(codec.encode(text, mangle))

    @given(text=strategies.texts)
    def test_encoded_strings_hold_no_nul(self, text):
        """Encoded strings hold no NUL, and no backslash when the backend mangles them."""
        encoded = codec.encode(text, True)

        assert (False, False) == ("\x00" in encoded, "\\" in encoded)

    @given(text=strategies.texts.filter(lambda s: "\ue000" not in s and "\x00" not in s))
    def test_plain_strings_are_stored_unchanged(self, text):
        """Strings without NUL or U+E000 are stored as they are where backslashes are safe."""
        assert text == codec.encode(text, False)

    @given(record=strategies.records)
    def test_all_meta_is_the_kubeflow_sdks_json_of_every_field(self, record):
        """__ALL_META__ is json.dumps of every field (extra named kwargs), as the
        Kubeflow SDK writes its __dict__: the text built field by field is the same."""
        fields = attrs.fields(type(record))
        meta = {("kwargs" if f.name == "extra" else f.name): getattr(record, f.name) for f in fields}
        meta["kwargs"] = dict(meta["kwargs"])

        assert json.dumps(meta, ensure_ascii=False) == codec._meta_text(record)


class TestRecordRoundTrip:
    @roundtrip_settings
    @given(record=strategies.records)
    def test_record_to_mlmd_to_record(self, any_store, record):
        """A logged record is read back equal, of its class, with its create_time and id."""
        e = Execution(name="write", workspace=fresh_workspace(any_store))
        e.log_output(record)

        read = any_store._connection.reader.artifact(record.id)

        assert (type(record), record, record.create_time, record.id) == (
            type(read),
            read,
            read.create_time,
            read.id,
        )

    @roundtrip_settings
    @given(record=st.one_of(strategies.data_sets, strategies.models, strategies.metrics))
    def test_workspace_list_gives_every_field(self, any_store, record):
        """Workspace.list() gives back uri, name and every set field exactly."""
        ws = fresh_workspace(any_store)
        Execution(name="write", workspace=ws).log_output(record)

        [flat] = ws.list(record.ARTIFACT_TYPE_NAME)

        expected = {
            "id": record.id,
            "workspace": ws.name,
            "uri": record.uri,
            "name": record.name,
            "kwargs": record.extra,
        }
        for field in (
            "description",
            "owner",
            "labels",
            "version",
            "query",
            "model_type",
            "training_framework",
            "hyperparameters",
            "data_set_id",
            "model_id",
            "metrics_type",
            "values",
        ):
            if getattr(record, field, None) is not None:
                expected[field] = getattr(record, field)
        assert expected == {key: flat.get(key) for key in expected}

    @roundtrip_settings
    @given(record=strategies.records)
    def test_lookup_by_uri(self, any_store, record):
        """The reader finds an artifact by its exact uri, whatever characters it holds."""
        Execution(name="write", workspace=fresh_workspace(any_store)).log_output(record)

        found = any_store._connection.reader.artifacts_by_uri(record.uri)

        assert record.id in [r.id for r in found]


class TestNamesRoundTrip:
    @roundtrip_settings
    @given(
        workspace=strategies.names,
        run=strategies.names,
        execution=strategies.names,
        description=strategies.optional_texts,
    )
    def test_workspace_run_and_execution_names(self, any_store, workspace, run, execution, description):
        """Workspace, run and execution names and descriptions come back exactly."""
        ws = Workspace(store=any_store, name=uuid.uuid4().hex[:8] + workspace, description=description)
        r = Run(workspace=ws, name=run, description=description)
        e = Execution(name=execution, workspace=ws, run=r, description=description)
        reader = any_store._connection.reader

        stored_ws = reader.workspace(ws.name)
        [summary] = reader.executions([e.id])
        parents = reader.parent_contexts(r.context_id)

        assert (ws.name, description, execution, description, ws.name, run, [ws.name]) == (
            stored_ws["name"],
            stored_ws.get("description"),
            summary["name"],
            summary.get("description"),
            summary["workspace"],
            summary["run"],
            [p["name"] for p in parents],
        )

    @roundtrip_settings
    @given(workspace=strategies.names)
    def test_a_workspace_is_found_again(self, any_store, workspace):
        """Opening a workspace of the same name twice gives the same context."""
        name = uuid.uuid4().hex[:8] + workspace

        assert Workspace(store=any_store, name=name).context_id == Workspace(store=any_store, name=name).context_id


class TestEventPaths:
    @pytest.mark.parametrize(
        "key", ["plain", "a\\b", "m\ue000b", "nu\x00l", "é😀"], ids=["plain", "backslash", "marker", "nul", "unicode"]
    )
    def test_event_path_keys(self, any_url, key):
        """An event path (argument name, dict key) comes back exactly from the store."""
        store = lineage.Store(url=any_url)
        e = Execution(name="e", workspace=fresh_workspace(store))
        record = lineage.DataSet(uri="u", name="n")
        store._connection.writer.write(e._handle, inputs=[(record, (key, 3))])

        [event] = store._connection.reader.events_of_artifacts([record.id])

        assert f"{key}.3" == event["path"]


def _long_text(size: int = 6000) -> str:
    """Incompressible text: PostgreSQL cannot squeeze it under its index row limit."""
    return os.urandom(size // 2).hex()


class TestLongValues:
    def test_long_strings_in_every_field(self, any_store):
        """Fields, nested values and extras far past PostgreSQL's index row limit round-trip."""
        long = _long_text()
        record = lineage.Model(
            uri="s3://b/m",
            name="m",
            description=long,
            version=long,
            labels={"files": {f"part-{i}": _long_text(64) for i in range(100)}},
            hyperparameters={"notes": long},
            blob=long,
            nested={"text": long},
        )
        ws = fresh_workspace(any_store)
        Execution(name="e", workspace=ws).log_output(record)

        read = any_store._connection.reader.artifact(record.id)
        [flat] = ws.list()

        assert (record, long, {"blob": long, "nested": {"text": long}}) == (read, flat["description"], flat["kwargs"])

    @pytest.mark.parametrize("cls", [lineage.DataSet, strategies.CustomRecord])
    def test_long_declared_properties(self, any_store, cls):
        """A long value of a declared (typed) property is read back from the record's JSON."""
        long = _long_text()
        kwargs = {"query": long} if cls is lineage.DataSet else {"tag": long, "config": {"k": long}}
        record = cls(uri="u", name="n", **kwargs)
        Execution(name="e", workspace=fresh_workspace(any_store)).log_output(record)

        assert record == any_store._connection.reader.artifact(record.id)

    def test_long_descriptions_of_workspace_run_and_execution(self, any_store):
        """Long descriptions and labels of contexts and executions come back from the reader."""
        long = _long_text()
        ws = Workspace(store=any_store, name="ws", description=long, labels={"k": long})
        run = Run(workspace=ws, name="r", description=long)
        e = Execution(name="e", workspace=ws, run=run, description=long)
        reader = any_store._connection.reader

        [summary] = reader.executions([e.id])
        [run_ctx] = [c for c in reader.contexts_of_execution(e.id) if c["id"] == run.context_id]

        assert (long, {"k": long}, long, long, {}) == (
            reader.workspace("ws")["description"],
            reader.workspace("ws")["labels"],
            run_ctx["description"],
            summary["description"],
            summary["properties"],
        )

    def test_long_execution_properties(self, any_store):
        """Long execution properties (a tracked call's parameters) are stored and read back."""
        long = _long_text()
        e = Execution(name="e", workspace=fresh_workspace(any_store))
        any_store._connection.writer.write(e._handle, properties={"prompt": long, "config": {"k": long}})

        [summary] = any_store._connection.reader.executions([e.id])

        assert {"prompt": long, "config": {"k": long}} == summary["properties"]

    def test_a_uri_past_the_index_limit_is_refused(self):
        """A uri longer than PostgreSQL can index is refused at construction, on every backend."""
        with pytest.raises(lineage.InvalidValueError, match="uri is 2001 bytes"):
            lineage.DataSet(uri="u" * 2001, name="n")

    @roundtrip_settings
    @given(
        record=strategies.records,
        long=st.binary(min_size=1500, max_size=3000).map(bytes.hex),
    )
    def test_records_with_long_values(self, any_store, record, long):
        """Any record with long values added to its description and extras round-trips."""
        record.description = long + (record.description or "")
        record.extra["long"] = long
        record.extra["long_nested"] = [long, {"x": long}]
        Execution(name="e", workspace=fresh_workspace(any_store)).log_output(record)

        assert record == any_store._connection.reader.artifact(record.id)
