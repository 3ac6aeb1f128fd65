"""The writer: one MLMD write per write, first-logged wins, nothing overwritten."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import lineage
from lineage import DataSet, Execution, Model, Run, Workspace
from lineage.records import record_class_for, schema_of
from lineage.store import _codec, _writer, reset_connections
from tests import strategies


def fresh_process_store(url: str) -> lineage.Store:
    """A Store as a new process would see it: no cached ids, types or contexts."""
    reset_connections()
    return lineage.Store(url=url)


class TestDeduplication:
    def test_an_output_logged_again_by_another_process_is_referenced_not_overwritten(self, any_url):
        """The same Model output from a second process gets the first id; the stored description is kept."""
        store = lineage.Store(url=any_url)
        first = Execution(name="train", workspace=Workspace(store=store, name="w")).log_output(
            Model(uri="s3://m", name="m", version="1", description="first")
        )
        store = fresh_process_store(any_url)
        again = Execution(name="train", workspace=Workspace(store=store, name="w")).log_output(
            Model(uri="s3://m", name="m", version="1", description="second")
        )
        assert again.id == first.id
        assert store.get_artifact(first.id).description == "first"
        assert len([a for a in store.store.get_artifacts() if a.uri == "s3://m"]) == 1

    @pytest.mark.parametrize("others", [0, 2], ids=["alone", "with-two-more"])
    def test_new_artifact_as_input_and_output_of_one_write(self, any_url, others):
        """A new artifact both read and written by one execution is stored once with two events,
        as it was first logged (the second, equal by key, overwrites nothing)."""
        store = lineage.Store(url=any_url)
        ex = Execution(name="e", workspace=Workspace(store=store, name="w"), _defer=True)
        data = DataSet(uri="s3://io", name="io", description="read")
        written = DataSet(uri="s3://io", name="io", description="written")
        more = [DataSet(uri=f"s3://other/{i}", name="other") for i in range(others)]
        ex._write(inputs=[data, *more], outputs=[written])
        events = [e for e in store.store.get_events_by_execution_ids([ex.id]) if e.artifact_id not in {m.id for m in more}]
        assert sorted(e.type for e in events) == [events[0].INPUT, events[0].OUTPUT]
        assert {e.artifact_id for e in events} == {data.id} == {written.id}
        assert len([a for a in store.store.get_artifacts() if a.uri == "s3://io"]) == 1
        assert store.get_artifact(data.id).description == "read"

    def test_an_artifact_read_and_written_beside_one_stored_by_another_process(self, any_url):
        """A write with a new artifact in two events, an input referenced by id and a Model
        another process stored first: that Model is referenced, not overwritten."""
        store = lineage.Store(url=any_url)
        first = Execution(name="train", workspace=Workspace(store=store, name="w")).log_output(
            Model(uri="s3://m", name="m", description="first")
        )
        store = fresh_process_store(any_url)
        w = Workspace(store=store, name="w")
        loaded = Execution(name="load", workspace=w).log_output(DataSet(uri="s3://loaded", name="loaded"))
        ex = Execution(name="e", workspace=w, _defer=True)
        again = Model(uri="s3://m", name="m", description="second")
        ex._write(
            inputs=[loaded, DataSet(uri="s3://io", name="io")],
            outputs=[DataSet(uri="s3://io", name="io"), again],
        )
        assert again.id == first.id
        assert store.get_artifact(first.id).description == "first"
        events = store.store.get_events_by_execution_ids([ex.id])
        assert sorted((e.artifact_id, e.type) for e in events if e.artifact_id in (loaded.id, first.id)) == sorted(
            [(loaded.id, events[0].INPUT), (first.id, events[0].OUTPUT)]
        )

    @pytest.mark.parametrize("cached", [True, False], ids=["ids-cached", "new-process"])
    @pytest.mark.parametrize("order", ["logged-first", "new-first"])
    def test_a_logged_record_and_an_equal_new_one_in_one_call(self, sqlite_url, cached, order):
        """fit(train, DataSet(same uri and name)): one input event, and the call
        is recorded (MLMD refused the repeated event and the whole write was lost)."""
        lineage.init(store=sqlite_url, workspace="w", strict=True, start_delay=0)

        @lineage.track
        def fit(a: DataSet, b: DataSet) -> Model:
            return Model(uri="s3://fit/model", name="model")

        store = lineage.Store(url=sqlite_url)
        train = Execution(name="load", workspace=Workspace(store=store, name="w")).log_output(
            DataSet(uri="s3://fit/train", name="train")
        )
        if not cached:
            train = fresh_process_store(sqlite_url).get_artifact(train.id)
        fresh = DataSet(uri="s3://fit/train", name="train")
        args = (train, fresh) if order == "logged-first" else (fresh, train)

        model = fit(*args)

        [execution] = [e for e in store.store.get_executions() if e.properties["name"].string_value == "fit"]
        events = sorted((e.artifact_id, e.type) for e in store.store.get_events_by_execution_ids([execution.id]))
        assert (execution.last_known_state, events, fresh.id) == (
            execution.COMPLETE,
            [(train.id, 3), (model.id, 4)],  # INPUT, OUTPUT
            train.id,
        )

    def test_new_outputs_cost_no_read(self, sqlite_url, record_store_calls):
        """A write with a new output is one put_execution and no lookup (after a process's first write of the type);
        with three new artifacts or more, one put_lineage_subgraph."""
        store = lineage.Store(url=sqlite_url)
        ex = Execution(name="e", workspace=Workspace(store=store, name="w"))
        ex.log_output(Model(uri="s3://warm", name="warm"))  # once per process: type registered, legacy check
        calls = record_store_calls()
        ex.log_output(Model(uri="s3://new", name="new"))
        assert calls == ["put_execution"]
        calls.clear()
        ex._write(outputs=[Model(uri=f"s3://new/{i}", name=f"new{i}") for i in range(3)])
        assert calls == ["put_lineage_subgraph"]


    @pytest.mark.parametrize("start_delay", [0, None], ids=["two-writes", "short-call"])
    def test_equal_records_in_one_call_all_get_the_id(self, sqlite_url, start_delay):
        """Two equal records (not the same object) in one call are one
        artifact, sent once: the second was left with id None."""
        from lineage import track

        lineage.init(store=sqlite_url, workspace="w", strict=True, **({} if start_delay is None else {"start_delay": start_delay}))

        @track
        def f(a: DataSet, b: DataSet) -> dict:
            return {"x": Model(uri="s3://eq/m", name="m"), "y": Model(uri="s3://eq/m", name="m")}

        first, second = DataSet(uri="s3://eq/d", name="d"), DataSet(uri="s3://eq/d", name="d")
        out = f(first, second)
        assert first.id is not None and second.id == first.id
        assert out["x"].id is not None and out["y"].id == out["x"].id


    def test_equal_records_get_the_id_of_one_logged_before(self, sqlite_url):
        """An artifact logged and written, then two equal records of it: the
        second was left without an id."""
        store = lineage.Store(url=sqlite_url)
        ex = Execution(name="e", workspace=Workspace(store=store, name="w"), _defer=True)
        first = DataSet(uri="s3://eq/o", name="o")
        ex._write(inputs=[first])
        again, third = DataSet(uri="s3://eq/o", name="o"), DataSet(uri="s3://eq/o", name="o")
        ex._write(inputs=[again, third])
        assert (again.id, third.id) == (first.id, first.id)

    def test_equal_records_beside_a_record_with_its_id_all_get_it(self, sqlite_url):
        """In a new process, a record with the stored id and two equal new
        ones: the write that found the artifact stored dropped the pair that
        held the third, which kept id None."""
        store = lineage.Store(url=sqlite_url)
        stored = Execution(name="e", workspace=Workspace(store=store, name="w")).log_input(DataSet(uri="s3://eq/s", name="s"))
        store = fresh_process_store(sqlite_url)
        ex = Execution(name="e2", workspace=Workspace(store=store, name="w"), _defer=True)
        with_id = DataSet(uri="s3://eq/s", name="s")
        with_id.id = stored.id
        second, third = DataSet(uri="s3://eq/s", name="s"), DataSet(uri="s3://eq/s", name="s")
        ex._write(inputs=[with_id, second, third])
        assert (second.id, third.id) == (stored.id, stored.id)


class TestAttribution:
    """Every artifact of a write is attributed to its workspace and run, also one
    referenced by id (MLMD's put_lineage_subgraph attributes only the artifacts it is sent)."""

    @pytest.mark.parametrize("outputs", [1, 3], ids=["put_execution", "three-artifact-write"])
    def test_an_input_logged_before_is_attributed_to_this_writes_contexts(self, any_url, outputs):
        store = lineage.Store(url=any_url)
        data = Execution(name="load", workspace=Workspace(store=store, name="w1")).log_output(DataSet(uri="s3://d", name="d"))
        w2 = Workspace(store=store, name="w2")
        run = Run(workspace=w2, name="r")
        ex = Execution(name="train", workspace=w2, run=run, _defer=True)
        models = [Model(uri=f"s3://m/{i}", name=f"m{i}") for i in range(outputs)]
        ex._write(inputs=[data], outputs=models)
        mlmd = store.store
        assert {e.artifact_id for e in mlmd.get_events_by_execution_ids([ex.id])} == {data.id, *(m.id for m in models)}
        for context in (w2.context_id, run.context_id):
            assert {a.id for a in mlmd.get_artifacts_by_context(context)} == {data.id, *(m.id for m in models)}

    def test_an_output_found_stored_is_attributed_to_this_run(self, any_url):
        """A deduplicated Model another process stored first (AlreadyExists, then referenced
        by id and resent) belongs to this run too."""
        store = lineage.Store(url=any_url)
        w = Workspace(store=store, name="w")
        first = Execution(name="train", workspace=w, run=Run(workspace=w, name="r1")).log_output(Model(uri="s3://m", name="m"))
        store = fresh_process_store(any_url)
        w = Workspace(store=store, name="w")
        r2 = Run(workspace=w, name="r2")
        ex = Execution(name="train", workspace=w, run=r2, _defer=True)
        again = Model(uri="s3://m", name="m")
        ex._write(outputs=[again] + [Model(uri=f"s3://n/{i}", name=f"n{i}") for i in range(3)])
        assert again.id == first.id
        assert first.id in {a.id for a in store.store.get_artifacts_by_context(r2.context_id)}


class TestDeduplicationKeys:
    def test_keys_stay_those_earlier_versions_wrote(self, sqlite_url):
        """A deduplicated artifact's external id is the SHA-256 of the compact JSON of
        [type, uri, name, version, workspace(, digest)]: stores written by earlier
        versions keep deduplicating with this one."""
        import hashlib
        import json

        store = lineage.Store(url=sqlite_url)
        ws = Workspace(store=store, name='ws "é" \\ 😀')
        ex = Execution(name="e", workspace=ws)
        data = ex.log_input(DataSet(uri='s3://b/"q"\\é\n\t😀', name="d\u2028", version=None))
        model = ex.log_output(Model(uri="s3://m", name="m", version="v\x01"))
        for record, identity in (
            (data, ["kubeflow.org/alpha/data_set", data.uri, data.name, None, ws.name]),
            (model, ["kubeflow.org/alpha/model", model.uri, model.name, model.version, ws.name]),
        ):
            text = json.dumps(identity, ensure_ascii=False, separators=(",", ":"))
            expected = "lineage:artifact:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
            [stored] = store.store.get_artifacts_by_id([record.id])
            assert stored.external_id == expected


class TestEventPaths:
    def test_equal_but_different_steps_keep_their_own_paths(self, sqlite_url):
        """Paths 1, True and "1" compare or hash alike in Python; each event keeps its own steps."""
        store = lineage.Store(url=sqlite_url)
        with lineage.execution("paths", store=store, workspace="w", start_delay=0) as ex:
            for index, path in enumerate([(1,), (True,), ("1",), (1, "a"), (True, "a")]):
                ex.log_input(DataSet(uri=f"s3://paths/{index}", name=f"p{index}"), path=path)
        by_uri = {a.id: a.uri for a in store.store.get_artifacts()}
        steps = {
            by_uri[e.artifact_id]: [s.key if s.HasField("key") else s.index for s in e.path.steps]
            for e in store.store.get_events_by_execution_ids([ex.id])
        }
        assert steps == {
            "s3://paths/0": [1],
            "s3://paths/1": ["True"],
            "s3://paths/2": ["1"],
            "s3://paths/3": [1, "a"],
            "s3://paths/4": ["True", "a"],
        }


class TestBoundedCaches:
    def test_id_caches_stay_bounded_and_keep_the_newest(self, sqlite_url):
        """The writer's id caches forget their oldest entries past their limit;
        a forgotten artifact is still referenced, not duplicated (one read)."""
        store = lineage.Store(url=sqlite_url)
        writer = store._connection.writer
        writer._known_ids.limit = writer._ids_by_key.limit = 5
        ws = Workspace(store=store, name="w")
        first = Execution(name="e", workspace=ws).log_output(DataSet(uri="s3://bounded/0", name="b0"))
        for batch in range(4):
            ex = Execution(name="e", workspace=ws, _defer=True)
            ex._write(outputs=[DataSet(uri=f"s3://bounded/{batch}-{i}", name="b") for i in range(3)])
        newest = ex._handle.logged

        assert (len(writer._known_ids) <= 5, len(writer._ids_by_key) <= 5) == (True, True)
        assert {artifact_id for artifact_id, _ in newest} <= set(writer._known_ids)
        again = Execution(name="e", workspace=ws).log_input(DataSet(uri="s3://bounded/0", name="b0"))
        assert again.id == first.id


class TestDirectWrite:
    """The writer's direct path (the common write without the general path's
    bookkeeping) must store exactly what the general path stores."""

    @staticmethod
    def _stored(store: lineage.Store, execution_id: int) -> list:
        mlmd = store.store
        out = []
        for event in sorted(mlmd.get_events_by_execution_ids([execution_id]), key=lambda e: e.type):
            [artifact] = mlmd.get_artifacts_by_id([event.artifact_id])
            out.append(
                (
                    event.type,
                    [str(step) for step in event.path.steps],
                    artifact.type,
                    artifact.uri,
                    # types that never deduplicate get a fresh random id each
                    artifact.external_id if schema_of(record_class_for(artifact.type)).deduplicate else "fresh",
                    dict(artifact.properties),
                    dict(artifact.custom_properties),
                )
            )
        [execution] = mlmd.get_executions_by_id([execution_id])
        return [out, execution.last_known_state, dict(execution.custom_properties)]

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(record=strategies.records, data=strategies.data_sets)
    @example(record=DataSet(uri="0", name="0"), data=DataSet(uri="0", name="0"))  # input and output at once
    def test_the_direct_path_stores_what_the_general_path_stores(self, tmp_path_factory, record, data):
        import copy

        stored = []
        for direct in (True, False):
            folder = tmp_path_factory.mktemp("direct" if direct else "general")
            store = lineage.Store(url=f"sqlite:///{folder}/s.db")
            writer = store._connection.writer
            taken = []
            real = writer._direct

            def spy(*args, real=real, direct=direct, taken=taken):
                taken.append(real(*args) if direct else False)
                return taken[-1]

            writer._direct = spy
            by_uri: list = []
            # A first write of each class registers types and contexts (general path).
            warm = Execution(name="warm", workspace=Workspace(store=store, name="w"), _defer=True)
            warm_record, warm_data = copy.copy(record), copy.copy(data)
            for warm_copy, uri in ((warm_record, "s3://warm/r"), (warm_data, "s3://warm/d")):
                object.__setattr__(warm_copy, "uri", uri)
                object.__setattr__(warm_copy, "id", None)
            warm._write(inputs=[warm_data], outputs=[warm_record])
            ex = Execution(name="e", workspace=Workspace(store=store, name="w"), _defer=True)
            real_by_uri = _writer._by_uri

            def seen_by_uri(*args, real_by_uri=real_by_uri, by_uri=by_uri):
                by_uri.append(real_by_uri(*args))
                return by_uri[-1]

            _writer._by_uri = seen_by_uri  # what the write decided, from the digest it took
            try:
                ex._write(
                    inputs=[(copy.copy(data), "data")], outputs=[(copy.copy(record), "return")], state="COMPLETE",
                    properties={"p": 1},
                )
            finally:
                _writer._by_uri = real_by_uri
            # One new artifact as both input and output is the general path's case.
            same = schema_of(type(record)).deduplicate and _codec.dedup_key(
                schema_of(type(record)), record, "w"
            ) == _codec.dedup_key(schema_of(DataSet), data, "w")
            # An input that may be a relative path not here (a/b), or a local
            # path that could not be digested (a file of "/" that vanished
            # while it was read), is looked for by uri first.
            looked_up = any(by_uri) if direct else False
            assert taken[-1] is (direct and not same and not looked_up)
            stored.append(self._stored(store, ex.id))
            reset_connections()
        assert stored[0] == stored[1]


class TestFastPathsAgainstGeneral:
    """The direct write's bookkeeping, and a write given its records already
    typed (an execution scope's), against the general ways of doing it."""

    @staticmethod
    def _writer_state(writer: _writer.Writer, handle: _writer.ExecutionHandle, records: list) -> tuple:
        stamps = [_writer._stamps.get(id(r)) for r in records]
        return (
            sorted(handle.logged),
            dict(writer._known_ids),
            dict(writer._ids_by_key),
            [r.id for r in records],
            [(s[0]() is r, s[1], s[2], s[3] == writer._token) if s is not None else None for s, r in zip(stamps, records)],
        )

    def test_the_direct_writes_remember_keeps_what_remember_keeps(self, tmp_path):
        """_remember_new (the direct write's) against _remember given the same
        landed artifacts: the same handle events, id caches, record ids and stamps."""
        states = []
        for fast in (True, False):
            store = lineage.Store(url=f"sqlite:///{tmp_path}/{fast}.db")
            writer = store._connection.writer
            handle = Execution(name="e", workspace=Workspace(store=store, name="w"), _defer=True)._handle
            records = [DataSet(uri="s3://r/a", name="a"), DataSet(uri="s3://r/b", name="b"), Model(uri="s3://r/m", name="m")]
            bindings = [
                (records[0], _writer.INPUT, "k-a"), (records[1], _writer.INPUT, "k-b"), (records[2], _writer.OUTPUT, "k-m")
            ]
            ids = [7, 8, 9]
            if fast:
                writer._remember_new(bindings, ids, handle)
            else:
                writer._remember(
                    ((event_type, i, (key,), record, None) for (record, event_type, key), i in zip(bindings, ids)), handle
                )
            states.append(self._writer_state(writer, handle, records))
            reset_connections()
        assert states[0] == states[1]
        assert states[0][3] == [7, 8, 9]

    @staticmethod
    def _write_both_ways(tmp_path, inputs: list, outputs: list, name: str) -> list:
        """Write *inputs* and *outputs* as Writer.write(inputs=, outputs=) and
        as Writer.write(logged=) in two stores; what each left: stored rows,
        record ids, the handle's proto, and the error raised if any."""
        import copy

        from tests.test_writer import TestDirectWrite

        results = []
        for typed in (False, True):
            store = lineage.Store(url=f"sqlite:///{tmp_path}/{name}-{typed}.db")
            writer = store._connection.writer
            warm = Execution(name="warm", workspace=Workspace(store=store, name="w"))  # types and contexts registered
            warm.log_input(DataSet(uri="s3://warm/d", name="d"))
            warm.log_output(Model(uri="s3://warm/m", name="m"))
            ex = Execution(name="e", workspace=Workspace(store=store, name="w"), _defer=True)
            ins = [(copy.copy(r), p, *rest) for r, p, *rest in inputs]
            outs = [(copy.copy(r), p, *rest) for r, p, *rest in outputs]
            error = None
            try:
                if typed:
                    logged = [(r, _writer.INPUT, tuple(p), rest[0] if rest else None) for r, p, *rest in ins]
                    logged += [(r, _writer.OUTPUT, tuple(p), rest[0] if rest else None) for r, p, *rest in outs]
                    writer.write(ex._handle, logged=logged, state="COMPLETE", properties={"p": 1})
                else:
                    writer.write(ex._handle, inputs=ins, outputs=outs, state="COMPLETE", properties={"p": 1})
            except Exception as exc:
                error = (type(exc), str(exc))
            proto = ex._handle.proto
            skip = ("external_id", "properties", "custom_properties")
            fields = sorted((f.name, v) for f, v in proto.ListFields() if f.name not in skip)
            rows = TestDirectWrite._stored(store, ex._handle.id) if ex._handle.id is not None else None
            results.append(
                (error, rows, [r.id for r, *_ in ins + outs], fields, dict(proto.custom_properties), sorted(ex._handle.logged))
            )
            reset_connections()
        return results

    def test_a_write_of_records_already_typed_stores_what_one_of_inputs_and_outputs_stores(self, tmp_path):
        from lineage.store import _digest

        data = DataSet(uri=str(tmp_path / "d.csv"), name="d")
        (tmp_path / "d.csv").write_text("x")
        inputs = [(data, ("data",), _digest.of_record(data)), (DataSet(uri="s3://in/b", name="b"), ("b", 1))]
        outputs = [(Model(uri="s3://out/m", name="m", version="1"), ("return",))]
        first, second = self._write_both_ways(tmp_path, inputs, outputs, "ok")
        assert first == second
        assert first[0] is None and len(first[1][0]) == 3

    def test_a_failed_write_of_records_already_typed_leaves_the_handle_as_the_general_one(self, tmp_path):
        """A record with an id the store lacks: refused, with the same error,
        nothing stored, the same ids and the same handle left."""
        unknown = DataSet(uri="s3://in/u", name="u")
        unknown.id = 4242
        first, second = self._write_both_ways(tmp_path, [(unknown, ("u",))], [(Model(uri="s3://o", name="o"), ())], "bad")
        assert first == second
        assert first[0] is not None and first[0][0] is lineage.errors.UnknownArtifactError

    def test_a_write_of_records_already_typed_refuses_what_is_no_record_as_the_general_one(self, tmp_path):
        store = lineage.Store(url=f"sqlite:///{tmp_path}/s.db")
        ex = Execution(name="e", workspace=Workspace(store=store, name="w"), _defer=True)
        with pytest.raises(lineage.errors.InvalidTypeError) as general:
            store._connection.writer.write(ex._handle, inputs=[("not a record", ())])
        with pytest.raises(lineage.errors.InvalidTypeError) as typed:
            store._connection.writer.write(ex._handle, logged=[("not a record", _writer.INPUT, (), None)])
        assert str(typed.value) == str(general.value)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_record_changed_after_it_was_logged_is_a_new_artifact(tmp_path, backend):
    """One record object reused in a loop (its uri set to the next part):
    every call after the first recorded the first part, by its stale id."""
    from tests import backends

    store = lineage.Store(url=backends.make_url(backend, tmp_path))

    @lineage.track(store=store, workspace="loop")
    def process(part: DataSet) -> None:
        return None

    part = DataSet(uri="s3://parts/0", name="part")
    ids = []
    for i in range(3):
        part.uri = f"s3://parts/{i}"
        process(part)
        ids.append(part.id)
    assert len(set(ids)) == 3
    stored = {a.id: a.uri for a in store.store.get_artifacts()}
    assert [stored[i] for i in ids] == ["s3://parts/0", "s3://parts/1", "s3://parts/2"]
    # Unchanged, or changed in what is not its identity: the same artifact.
    part.description = "the last part"
    process(part)
    metrics = lineage.Metrics(uri="s3://m/0", name="m")  # not deduplicated: a key of its own
    ws = Workspace(store=store, name="loop")
    Execution(name="a", workspace=ws).log_output(metrics)
    first = metrics.id
    metrics.name = "renamed"
    Execution(name="b", workspace=ws).log_output(metrics)
    assert (part.id, len({first, metrics.id})) == (ids[-1], 2)


def test_a_record_logged_to_another_store_is_a_new_artifact_there(tmp_path):
    """A module-level record logged in one store (one test's), then given to
    a call on another store: its id there named whatever artifact had it."""
    first = lineage.Store(url=f"sqlite:///{tmp_path / 'a.db'}")
    second = lineage.Store(url=f"sqlite:///{tmp_path / 'b.db'}")
    data = DataSet(uri="s3://shared/data.csv", name="data")
    Execution(name="a", workspace=Workspace(store=first, name="w")).log_input(data)
    assert data.id == 1
    Execution(name="other", workspace=Workspace(store=second, name="w")).log_input(DataSet(uri="s3://other", name="o"))

    @lineage.track(store=second, workspace="w")
    def train(d: DataSet) -> None:
        return None

    train(data)
    [e] = [e for e in second.store.get_executions() if e.properties["name"].string_value == "train"]
    [event] = second.store.get_events_by_execution_ids([e.id])
    assert [a.uri for a in second.store.get_artifacts_by_id([event.artifact_id])] == ["s3://shared/data.csv"]


def test_a_record_referenced_by_a_spooled_write_is_stamped_with_what_it_held(tmp_path, monkeypatch):
    """Logged (id 1), logged again by reference while the store was down,
    then changed before the replay: the replay stamped it with what it holds
    now, and a later call took its old id for the new uri."""
    from tests import backends
    from tests.test_spool import free_port, serve_then_log_input

    monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
    monkeypatch.setenv("LINEAGE_SPOOL_RETRY_SECONDS", "0.1")
    monkeypatch.setenv("LINEAGE_HOME", str(tmp_path / "home"))
    sqlite_url = f"sqlite:///{tmp_path / 'x.db'}"
    port = free_port()
    server = backends.ServerProcess(sqlite_url, port=port)
    lineage.init(store=f"grpc://127.0.0.1:{port}", workspace="w", start_delay=0)
    record = DataSet(uri="s3://b/A", name="r")
    with lineage.execution("e1") as ex:
        ex.log_input(record)
    server.stop()
    with pytest.warns(lineage.LineageWarning, match="unreachable"), lineage.execution("e2") as ex:
        ex.log_input(record)
    record.uri = "s3://b/B"
    uris = serve_then_log_input(sqlite_url, port, tmp_path / "home", record)
    assert uris == {"e1": "s3://b/A", "e2": "s3://b/A", "e3": "s3://b/B"}


def test_a_record_logged_again_after_a_reconnect_is_the_same_artifact(tmp_path, monkeypatch):
    """A new connection to the same store (another spelling of its path, a
    reconnect: a new writer) takes a logged record's id as it is: a stamp
    names the store, not the writer (a Metrics was written twice)."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    metrics = lineage.Metrics(uri="s3://m", name="m")
    Execution(name="a", workspace=Workspace(store=lineage.Store(url=url), name="w")).log_output(metrics)
    first = metrics.id
    reset_connections()
    monkeypatch.chdir(tmp_path)
    again = lineage.Store(url="sqlite:///x.db")
    Execution(name="b", workspace=Workspace(store=again, name="w")).log_input(metrics)
    assert (metrics.id, len(again.store.get_artifacts())) == (first, 1)


def test_an_equal_record_given_an_id_is_stamped_too(tmp_path):
    """An equal record logged after the first gets its id from the cache; it
    had no stamp, so logging it to another store referenced whatever
    artifact had that id there."""
    first = lineage.Store(url=f"sqlite:///{tmp_path / 'a.db'}")
    second = lineage.Store(url=f"sqlite:///{tmp_path / 'b.db'}")
    one, same = DataSet(uri="s3://equal/d", name="d"), DataSet(uri="s3://equal/d", name="d")
    exe = Execution(name="a", workspace=Workspace(store=first, name="w"))
    exe.log_input(one)
    exe.log_input(same)
    assert same.id == one.id == 1
    Execution(name="other", workspace=Workspace(store=second, name="w")).log_input(DataSet(uri="s3://other", name="o"))
    later = Execution(name="b", workspace=Workspace(store=second, name="w"))
    later.log_input(same)
    [event] = [e for e in second.store.get_events_by_execution_ids([later.id])]
    assert [a.uri for a in second.store.get_artifacts_by_id([event.artifact_id])] == ["s3://equal/d"]


def test_a_record_logged_to_another_store_and_back_is_the_same_artifact_in_the_first(tmp_path):
    """Store A, then store B, then A again: B has its own artifact, and A still
    one (its key for the record was dropped when B's id was cleared, so A
    wrote the Metrics a second time)."""
    first = lineage.Store(url=f"sqlite:///{tmp_path / 'a.db'}")
    second = lineage.Store(url=f"sqlite:///{tmp_path / 'b.db'}")
    metrics = lineage.Metrics(uri="s3://m", name="m")
    Execution(name="1", workspace=Workspace(store=first, name="w")).log_output(metrics)
    Execution(name="2", workspace=Workspace(store=second, name="w")).log_input(metrics)
    Execution(name="3", workspace=Workspace(store=first, name="w")).log_input(metrics)
    assert (len(first.store.get_artifacts()), len(second.store.get_artifacts())) == (1, 1)


def test_a_record_class_whose_field_changed_kind_is_stored_with_the_field_in_all_meta(any_url):
    """The store's type declares step as INT (an earlier version of the
    class); a class whose step is now a str made the whole write fail (the
    execution, its params and its other records were lost), then its records
    were left out: every one lost. Stored without the typed property, the
    value in __ALL_META__, the record reads back as logged, here and in a
    new process, and is listed."""
    import attrs
    from ml_metadata.proto import metadata_store_pb2 as pb

    store = lineage.Store(url=any_url)
    store.store.put_artifact_type(pb.ArtifactType(name="test.writer/Ckpt", properties={"step": pb.INT}))

    @attrs.define
    class Ckpt(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/Ckpt"
        step: str = ""
        loss: float = 0.0

    lineage.init(store=any_url, workspace="w")
    kept = r"declares 'step' as INT, and this record class's 'step' is STRING: its records are stored with 'step' in __ALL_META__"
    with pytest.warns(lineage.LineageWarning, match=kept), lineage.execution("train") as ex:
        ex.log_param("lr", 0.1)
        ex.log_input(DataSet(uri="s3://w/data", name="data"))
        ckpt = ex.log_output(Ckpt(uri="s3://w/ckpt", name="ckpt", step="1", loss=0.5))
    [stored] = store.store.get_executions()
    assert stored.custom_properties["lr"].double_value == 0.1
    assert sorted(a.uri for a in store.store.get_artifacts()) == ["s3://w/ckpt", "s3://w/data"]
    assert ckpt.id is not None
    [proto] = store.store.get_artifacts_by_id([ckpt.id])
    assert ("step" in proto.properties, proto.properties["loss"].double_value) == (False, 0.5)
    read = fresh_process_store(any_url).get_artifact(ckpt.id)
    assert (type(read), read) == (Ckpt, ckpt)
    [row] = Workspace(store=store, name="w").list("test.writer/Ckpt")
    assert (row["step"], row["loss"]) == ("1", 0.5)


def test_an_input_found_by_uri_whose_version_changed_kind_is_its_own_version(any_url, tmp_path, monkeypatch):
    """Since c3ed2e6 a record whose version the store's type declares with
    another kind is stored, its version in __ALL_META__ only. An input found
    by its uri (a relative path not on disk here) is the stored artifact of
    the same uri, name and version: compared by the typed properties alone,
    both versions absent, version="2" was bound to version="1"'s artifact
    (read back as version 1). Now compared as stored; the same version is
    still the same artifact."""
    import warnings

    import attrs
    from ml_metadata.proto import metadata_store_pb2 as pb

    monkeypatch.chdir(tmp_path)
    store = lineage.Store(url=any_url)
    store.store.put_artifact_type(pb.ArtifactType(name="test.writer/VersionedData", properties={"version": pb.INT}))

    @attrs.define
    class VersionedData(DataSet):
        ARTIFACT_TYPE_NAME = "test.writer/VersionedData"

    lineage.init(store=any_url, workspace="w")
    logged = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for version in ("1", "2", "1"):
            with lineage.execution("train") as ex:
                logged.append(ex.log_input(VersionedData(uri="data/not-here.csv", name="d", version=version)))
    assert logged[0].id != logged[1].id and logged[2].id == logged[0].id
    read = fresh_process_store(any_url)
    assert [read.get_artifact(record.id).version for record in logged] == ["1", "2", "1"]


class TestTypesOtherToolsDeclared:
    """A type of lineage's name another tool (or an older class) declared
    with a property of another kind: only a record that sets it is left
    out; a property lineage never sets changes nothing (every write of the
    store failed once the kinds were checked for all properties)."""

    def test_an_execution_or_workspace_type_with_a_property_of_another_kind(self, sqlite_url):
        from ml_metadata.proto import metadata_store_pb2 as pb

        store = lineage.Store(url=sqlite_url)
        execution_type = pb.ExecutionType(name="kubeflow.org/alpha/execution")
        for name in ("name", "create_time", "__ALL_META__"):
            execution_type.properties[name] = pb.STRING
        execution_type.properties["description"] = pb.INT
        store.store.put_execution_type(execution_type)
        workspace_type = pb.ContextType(name="kubeflow.org/alpha/workspace")
        workspace_type.properties["labels"] = pb.STRUCT
        workspace_type.properties["description"] = pb.STRING
        store.store.put_context_type(workspace_type)
        lineage.init(store=sqlite_url, workspace="w", strict=True, start_delay=0)

        @lineage.track
        def f(x: DataSet) -> int:
            return 1

        for _ in range(2):
            assert f(DataSet(uri="s3://b/x", name="x")) == 1
        assert len(store.store.get_executions()) == 2

    def test_an_artifact_type_with_a_property_of_another_kind_a_record_does_not_set(self, sqlite_url):
        from typing import Optional

        import attrs
        from ml_metadata.proto import metadata_store_pb2 as pb

        @attrs.define
        class Note(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "test.writer/Note"
            note: Optional[str] = None

        store = lineage.Store(url=sqlite_url)
        stored = pb.ArtifactType()
        stored.CopyFrom(_codec.artifact_type(schema_of(Note)))
        stored.properties["note"] = pb.INT
        store.store.put_artifact_type(stored)
        lineage.init(store=sqlite_url, workspace="w")
        with pytest.warns(lineage.LineageWarning, match=r"declares 'note' as INT"), lineage.execution("train") as ex:
            ex.log_output(Note(uri="s3://w/plain", name="plain"))
            noted = ex.log_output(Note(uri="s3://w/noted", name="noted", note="a str"))
        assert [a.uri for a in store.store.get_artifacts()] == ["s3://w/plain", "s3://w/noted"]
        assert store.get_artifact(noted.id).note == "a str"

    def test_a_field_an_earlier_lineage_stored_as_a_struct_is_stored_so_again(self, any_url):
        """Before 91df11f one unresolvable postponed annotation (a name imported
        under TYPE_CHECKING) made every field of the class JSON: the store's
        type declares ``ratio: float | None`` a STRUCT. The class, unchanged,
        is now typed DOUBLE, and after the upgrade its records were left out
        of every write; a struct holds any value, as the earlier version
        wrote it (``{"value": 0.5}``)."""
        from typing import Optional

        import attrs
        from ml_metadata.proto import metadata_store_pb2 as pb

        @attrs.define
        class Probe(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "test.writer/Probe"
            ratio: Optional[float] = None
            count: Optional[int] = None
            label: Optional[str] = None

        store = lineage.Store(url=any_url)
        earlier = pb.ArtifactType()
        earlier.CopyFrom(_codec.artifact_type(schema_of(Probe)))
        for name in ("ratio", "count", "label"):
            earlier.properties[name] = pb.STRUCT
        store.store.put_artifact_type(earlier)
        lineage.init(store=any_url, workspace="w", strict=True)
        with lineage.execution("probe") as ex:
            probe = ex.log_output(Probe(uri="s3://w/probe", name="p", ratio=0.5, count=3, label="a\\b"))
        assert probe.id is not None
        read = fresh_process_store(any_url).get_artifact(probe.id)
        assert (read.ratio, read.count, read.label) == (0.5, 3, "a\\b")
        [stored] = store.store.get_artifacts_by_id([probe.id])
        assert stored.properties["ratio"].struct_value["value"] == 0.5

    def test_a_spooled_write_with_such_a_record_lands_with_it(self, tmp_path, sqlite_url, monkeypatch):
        """From the spool too: kept whole in the spool the write never landed
        (its execution, params and other records lost), then the record was
        left out; it is stored without the typed property, named."""
        import warnings

        import attrs
        from ml_metadata.proto import metadata_store_pb2 as pb

        from lineage.store import _spool

        @attrs.define
        class Step(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "test.writer/Step"
            step: str = ""

        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.1")
        lineage.init(store="postgresql://postgres@127.0.0.1:1/down", workspace="w", start_delay=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lineage.execution("train") as ex:
                ex.log_param("lr", 0.1)
                ex.log_input(DataSet(uri="s3://w/data", name="data"))
                ex.log_output(Step(uri="s3://w/step", name="step", step="1"))
        _spool.abandon_all()
        stored = pb.ArtifactType(name="test.writer/Step", properties={"step": pb.INT})
        lineage.Store(url=sqlite_url).store.put_artifact_type(stored)
        home = str(tmp_path / "home")
        with pytest.warns(lineage.LineageWarning, match=r"'test.writer/Step' declares 'step' as INT"):
            report = _spool.sync(into=sqlite_url, home=home)
        assert report.failed == [] and not _spool.spool_files(home)
        mlmd = lineage.Store(url=sqlite_url).store
        [stored] = mlmd.get_executions()
        assert stored.last_known_state == pb.Execution.COMPLETE and stored.custom_properties["lr"].double_value == 0.1
        assert [a.uri for a in mlmd.get_artifacts()] == ["s3://w/data", "s3://w/step"]
        assert lineage.Store(url=sqlite_url).get_artifact(mlmd.get_artifacts()[1].id).step == "1"


def test_record_types_whose_names_differ_only_in_case_stay_apart(any_url):
    """MySQL compares type names ignoring case and trailing spaces: asked
    for "test.writer/cased" it answered with the stored "test.writer/Cased",
    and the records of the second class were stored as the first's type
    (read back as the other class, listed under the other type). Each type
    stays its own: on MySQL the records of the second are left out, named,
    and the rest of the write stored."""
    import warnings

    import attrs

    @attrs.define
    class Upper(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/Cased"
        step: int = 0

    @attrs.define
    class Lower(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/cased"
        step: int = 0

    lineage.init(store=any_url, workspace="w")
    with lineage.execution("first") as ex:
        ex.log_output(Upper(uri="s3://w/upper", name="u", step=1))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with lineage.execution("second") as ex:
            ex.log_input(DataSet(uri="s3://w/data", name="data"))
            ex.log_output(Lower(uri="s3://w/lower", name="l", step=2))
    store = lineage.Store(url=any_url)
    mysql = any_url.startswith("mysql")
    named = [str(w.message) for w in seen if "'test.writer/cased'" in str(w.message)]
    assert (bool(named), any("'test.writer/Cased'" in m for m in named)) == (mysql, mysql)
    read = {a.uri: type(store.get_artifact(a.id)) for a in store.store.get_artifacts()}
    assert read == {"s3://w/upper": Upper, "s3://w/data": DataSet, **({} if mysql else {"s3://w/lower": Lower})}
    listed = [row["uri"] for row in Workspace(store=store, name="w").list("test.writer/cased")]
    assert listed == ([] if mysql else ["s3://w/lower"])
    assert len(store.store.get_executions()) == 2


def test_a_class_redefined_in_the_process_with_a_field_of_another_kind_is_stored_not_the_write_lost(sqlite_url):
    """A notebook cell run again with step: int -> str: the type was taken as
    covered by names only, and the store refused the whole write (then the
    record was left out). It is stored, step in __ALL_META__."""
    import warnings

    import attrs

    lineage.init(store=sqlite_url, workspace="w")

    @attrs.define
    class Ckpt(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/Redefined"
        step: int = 0

    with lineage.execution("first") as ex:
        ex.log_output(Ckpt(uri="s3://w/c1", name="c1", step=1))

    @attrs.define
    class Ckpt(lineage.Artifact):  # type: ignore[no-redef]
        ARTIFACT_TYPE_NAME = "test.writer/Redefined"
        step: str = ""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lineage.execution("second") as ex:
            ex.log_input(DataSet(uri="s3://w/data", name="data"))
            c2 = ex.log_output(Ckpt(uri="s3://w/c2", name="c2", step="2"))
    store = lineage.Store(url=sqlite_url)
    assert len(store.store.get_executions()) == 2
    assert sorted(a.uri for a in store.store.get_artifacts()) == ["s3://w/c1", "s3://w/c2", "s3://w/data"]
    assert store.get_artifact(c2.id).step == "2"


def test_a_class_set_back_to_the_stores_kind_after_a_clash_is_stored(sqlite_url):
    """step: int, then str (a clash, noted), then int again (the cell fixed):
    the clash was noted for the type name, not the class, and every record
    of the fixed class was left out, warned as 'declares step as INT, and
    this record class's step is INT'. Each is stored, the fixed class's
    step typed."""
    import warnings

    import attrs

    lineage.init(store=sqlite_url, workspace="w")

    @attrs.define
    class Ckpt(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/SetBack"
        step: int = 0

    with lineage.execution("first") as ex:
        ex.log_output(Ckpt(uri="s3://w/c1", name="c1", step=1))

    @attrs.define
    class Ckpt(lineage.Artifact):  # type: ignore[no-redef]
        ARTIFACT_TYPE_NAME = "test.writer/SetBack"
        step: str = ""

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lineage.execution("second") as ex:
            ex.log_output(Ckpt(uri="s3://w/c2", name="c2", step="2"))

    @attrs.define
    class Ckpt(lineage.Artifact):  # type: ignore[no-redef]
        ARTIFACT_TYPE_NAME = "test.writer/SetBack"
        step: int = 0

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with lineage.execution("third") as ex:
            ex.log_output(Ckpt(uri="s3://w/c3", name="c3", step=3))
    assert [str(w.message) for w in said] == []
    store = lineage.Store(url=sqlite_url)
    stored = {a.uri: a for a in store.store.get_artifacts()}
    assert sorted(stored) == ["s3://w/c1", "s3://w/c2", "s3://w/c3"]
    assert ("step" in stored["s3://w/c2"].properties, stored["s3://w/c3"].properties["step"].int_value) == (False, 3)


def test_a_type_with_a_noted_clash_is_not_registered_again_on_every_write(sqlite_url, monkeypatch):
    """The kinds compared in _covers never matched for a class that clashes:
    each write re-sent put_artifact_type (refused) and get_artifact_type."""
    from typing import Optional

    import attrs
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    @attrs.define
    class Step(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/StepOnce"
        step: Optional[str] = None

    stored = pb.ArtifactType()
    stored.CopyFrom(_codec.artifact_type(schema_of(Step)))
    stored.properties["step"] = pb.INT
    stored.ClearField("external_id")
    lineage.Store(url=sqlite_url).store.put_artifact_type(stored)
    lineage.init(store=sqlite_url, workspace="w")
    calls = []
    put = metadata_store.MetadataStore.put_artifact_type
    spy = lambda s, t, **k: calls.append(t.name) or put(s, t, **k)  # noqa: E731 - the real call, counted
    monkeypatch.setattr(metadata_store.MetadataStore, "put_artifact_type", spy)
    for i in range(5):
        with lineage.execution("e") as ex:
            ex.log_output(Step(uri=f"s3://w/s{i}", name="s"))  # does not set step: stored
    assert calls.count("test.writer/StepOnce") == 1
    assert len(lineage.Store(url=sqlite_url).store.get_artifacts()) == 5


def test_records_left_out_for_a_kind_clash_are_said_once_not_per_call(sqlite_url):
    """A loop of calls each storing such a record without the typed property
    (leaving it out, before) warned each time (the record's uri in the
    text): 10,000 calls, 10,000 warnings."""
    import warnings

    import attrs
    from ml_metadata.proto import metadata_store_pb2 as pb

    @attrs.define
    class Loud(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/Loud"
        step: str = ""

    stored = pb.ArtifactType(name="test.writer/Loud", properties={"step": pb.INT})
    lineage.Store(url=sqlite_url).store.put_artifact_type(stored)
    lineage.init(store=sqlite_url, workspace="w")

    @lineage.track
    def train(i: int) -> Loud:
        return Loud(uri=f"s3://w/loud-{i}", name="loud", step=str(i))

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        for i in range(5):
            train(i)
    assert len([w for w in seen if "declares 'step' as INT" in str(w.message)]) == 1


def test_records_of_a_clashing_class_that_do_not_set_the_property_are_stored_in_another_tools_type(sqlite_url, monkeypatch):
    """Another tool's type declares only 'step' (INT): the class (step: str)
    has properties the stored type lacks, and every record of it was left out,
    those that do not set 'step' too (warned once, then silently), the type
    registered again on every write. The one that sets it is stored too,
    'step' in __ALL_META__ only."""
    import warnings
    from typing import Optional

    import attrs
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    @attrs.define
    class Other(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/OtherTool"
        step: Optional[str] = None

    other_tools = pb.ArtifactType(name="test.writer/OtherTool", properties={"step": pb.INT})
    lineage.Store(url=sqlite_url).store.put_artifact_type(other_tools)
    lineage.init(store=sqlite_url, workspace="w")
    calls = []
    put = metadata_store.MetadataStore.put_artifact_type
    spy = lambda s, t, **k: calls.append(t.name) or put(s, t, **k)  # noqa: E731 - the real call, counted
    monkeypatch.setattr(metadata_store.MetadataStore, "put_artifact_type", spy)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        for i in range(5):
            with lineage.execution("e") as ex:
                ex.log_output(Other(uri=f"s3://w/o{i}", name="o", step="x" if i == 0 else None))
    assert len([w for w in seen if "declares 'step' as INT" in str(w.message)]) == 1
    assert sorted(a.uri for a in lineage.Store(url=sqlite_url).store.get_artifacts()) == [f"s3://w/o{i}" for i in range(5)]
    assert calls.count("test.writer/OtherTool") <= 2


def test_a_clashing_class_the_store_will_not_extend_leaves_out_its_records_not_the_write(sqlite_url):
    """The store's type cannot take the class's other properties (another
    base_type: UnimplementedError): the class's records are left out as
    before the reduced put, the rest of the execution stored."""
    import warnings
    from typing import Optional

    import attrs
    from ml_metadata.proto import metadata_store_pb2 as pb

    raw = lineage.Store(url=sqlite_url).store
    dataset = pb.ArtifactType.DATASET
    raw.put_artifact_type(pb.ArtifactType(name="test.writer/Ext", base_type=dataset, properties={"step": pb.INT}))

    @attrs.define
    class Ext(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/Ext"
        BASE_TYPE = "MODEL"
        step: Optional[str] = None

    @attrs.define
    class Fine(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/Fine"

    lineage.init(store=sqlite_url, workspace="w")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        with lineage.execution("e") as ex:
            ex.log_output(Ext(uri="s3://w/x", name="x"))
            ex.log_output(Fine(uri="s3://w/f", name="f"))
    assert any("declares 'step' as INT" in str(w.message) for w in seen), [str(w.message) for w in seen]
    assert [a.uri for a in lineage.Store(url=sqlite_url).store.get_artifacts()] == ["s3://w/f"]


def test_a_clashing_class_in_a_type_whose_name_another_type_holds_as_external_id_is_stored(sqlite_url):
    """Another tool's type has no external id, and another type holds the
    name as its external id: lineage's put set the type's external id to its
    name, which the store refused (AlreadyExists five times), and every
    record of the class was left out, those that do not set the clashing
    property too. Sent without an external id, the type takes the class's
    other properties (the clashing one is left to __ALL_META__)."""
    import warnings
    from typing import Optional

    import attrs
    from ml_metadata.proto import metadata_store_pb2 as pb

    raw = lineage.Store(url=sqlite_url).store
    raw.put_artifact_type(pb.ArtifactType(name="test.writer/X", external_id="test.writer/Held", properties={"k": pb.INT}))
    raw.put_artifact_type(pb.ArtifactType(name="test.writer/Held", properties={"step": pb.INT}))

    @attrs.define
    class Held(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "test.writer/Held"
        step: Optional[str] = None

    lineage.init(store=sqlite_url, workspace="w")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        with lineage.execution("e") as ex:
            ex.log_output(Held(uri="s3://w/plain", name="plain"))
            ex.log_output(Held(uri="s3://w/stepped", name="stepped", step="1"))
    assert any("declares 'step' as INT" in str(w.message) for w in seen), [str(w.message) for w in seen]
    assert [a.uri for a in raw.get_artifacts()] == ["s3://w/plain", "s3://w/stepped"]
    assert raw.get_artifact_type("test.writer/Held").external_id == ""


class TestAnotherToolsTypeKeepsItsExternalId:
    """A type of lineage's name made first by another tool (raw MLMD, the
    Kubeflow SDK) with another external id, or none: lineage's put of the
    type overwrote it with the type's name."""

    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
    @pytest.mark.parametrize("theirs", ["their-id", ""])
    def test_the_external_id_is_unchanged_and_the_records_read_back(self, backend, theirs, tmp_path):
        from typing import Optional

        import attrs
        from ml_metadata.proto import metadata_store_pb2 as pb

        from tests import backends

        @attrs.define
        class Ckpt(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "test.writer/TheirCkpt"
            step: Optional[int] = None

        url = backends.make_url(backend, tmp_path)
        raw = lineage.Store(url=url).store
        made = {
            "artifact": [
                pb.ArtifactType(name=DataSet.ARTIFACT_TYPE_NAME, properties={"owner": pb.STRING}),
                pb.ArtifactType(name="test.writer/TheirCkpt", properties={"step": pb.INT}),
            ],
            "execution": [pb.ExecutionType(name="kubeflow.org/alpha/execution")],
            "context": [pb.ContextType(name="kubeflow.org/alpha/workspace")],
        }
        ids = {}
        for kind, types in made.items():
            for made_type in types:
                if theirs:
                    made_type.external_id = f"{theirs}/{made_type.name}"
                ids[made_type.name] = getattr(raw, f"put_{kind}_type")(made_type)
        lineage.init(store=url, workspace="w")
        with lineage.execution("train") as ex:
            ex.log_input(DataSet(uri="s3://w/data", name="data", version="1"))
            ex.log_output(Ckpt(uri="s3://w/ckpt", name="ckpt", step=3))
        for kind, types in made.items():
            for made_type in types:
                [stored] = getattr(raw, f"get_{kind}_types_by_id")([ids[made_type.name]])
                assert stored.external_id == made_type.external_id, (kind, made_type.name)
        stored_dataset = raw.get_artifact_type(DataSet.ARTIFACT_TYPE_NAME)
        assert {"owner", "name", "version"} <= set(stored_dataset.properties)  # lineage's properties added
        by_uri = {a.uri: a for a in raw.get_artifacts()}
        assert by_uri["s3://w/data"].type_id == ids[DataSet.ARTIFACT_TYPE_NAME]
        store = lineage.Store(url=url)
        data = store.get_artifact(by_uri["s3://w/data"].id)
        ckpt = store.get_artifact(by_uri["s3://w/ckpt"].id)
        assert (type(data), data.name, data.version) == (DataSet, "data", "1")
        assert (type(ckpt), ckpt.name, ckpt.step) == (Ckpt, "ckpt", 3)


def _exact_as_stored(value: float) -> bool:
    """exact_as_property's rule for a float, worked out each time."""
    import math

    if value == 0.0:
        return math.copysign(1.0, value) > 0
    return -1e65 < value < 1e65 and float(f"{value:.6f}") == value and float(f"{value:.15g}") == value


@settings(max_examples=500, deadline=None)
@given(values=st.lists(st.one_of(st.floats(), st.sampled_from([0.0, -0.0, 0.1, 1e-7, 1e65, -1e66, float("nan")])), max_size=8))
@example(values=[0.0, -0.0, 0.0])
@example(values=[-0.0, 0.0])
def test_exact_as_property_answers_for_a_float_as_its_rule_each_time(values) -> None:
    """The answer kept per float (see _codec._exact_floats) is the rule's,
    the first time and later: -0.0 (a key equal to 0.0) is not taken as
    0.0 is, nor 1.0 as the int 1 is."""
    for value in values + values:
        assert _codec.exact_as_property(value) is _exact_as_stored(value), value
    assert _codec.exact_as_property(2**40) is False and _codec.exact_as_property(float(2**40)) is True


def test_a_nan_parameter_adds_no_entry_to_the_floats_kept() -> None:
    """A NaN is no key that finds itself (NaN != NaN): kept per float, each
    NaN parameter of each call was a new entry, and loss=nan at every call
    emptied the cache of the others every 4,096 calls."""
    _codec.exact_as_property(0.1)
    size = len(_codec._exact_floats)
    for _ in range(100):
        assert _codec.exact_as_property(float("nan")) is False
    assert len(_codec._exact_floats) == size and 0.1 in _codec._exact_floats
