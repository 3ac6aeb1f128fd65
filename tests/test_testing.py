"""lineage.testing: a temporary store and lineage assertions for users' own tests."""

from __future__ import annotations

import pytest

import lineage
from lineage import DataSet, Metrics, Model, track
from lineage.testing import assert_lineage, lineage_store, recording  # noqa: F401

# How a user gets the fixture: import it (or list "lineage.testing" in pytest_plugins of a root conftest).


@track
def prepare(raw: DataSet) -> DataSet:
    return DataSet(uri=raw.uri + ".clean", name="clean")


@track
def train(data: DataSet) -> Model:
    return Model(uri="file:///m.pt", name="m")


class TestRecording:
    def test_records_into_a_temporary_store_and_restores_settings(self):
        """recording() points tracked calls at a fresh store, strict and synchronous, then restores settings."""
        lineage.init(workspace="before", strict=False)
        with recording() as store:
            model = train(prepare(DataSet(uri="s3://raw", name="raw")))
            assert model.id is not None
            assert lineage._config.settings().strict is True
            executions = store.store.get_executions()
            assert sorted(e.properties["name"].string_value for e in executions) == ["prepare", "train"]
        assert lineage._config.settings().workspace == "before"
        assert lineage._config.settings().strict is False

    def test_fixture(self, lineage_store):
        """The lineage_store fixture records tracked calls into a temporary store."""
        model = train(DataSet(uri="s3://d", name="d"))
        assert lineage_store.get_artifact(model.id) == model


class TestAssertLineage:
    def test_direct_and_transitive_upstream(self):
        """assert_lineage passes for direct and transitive upstream artifacts and the producing execution."""
        raw = DataSet(uri="s3://raw", name="raw")
        with recording() as store:
            model = train(prepare(raw))
            assert_lineage(model, upstream=[DataSet(uri="s3://raw.clean", name="clean")], produced_by="train", store=store)
            assert_lineage(model, upstream=[raw], store=store)  # two steps up, matched by id

    def test_missing_upstream_fails_with_what_was_found(self):
        """A missing upstream artifact fails with the recorded upstream listed."""
        with recording() as store:
            model = train(DataSet(uri="s3://a", name="a"))
            with pytest.raises(AssertionError, match=r"lacks upstream.*s3://other(.|\n)*s3://a"):
                assert_lineage(model, upstream=[DataSet(uri="s3://other", name="a")], store=store)
            with pytest.raises(AssertionError, match="produced by \\['train'\\], not 'prepare'"):
                assert_lineage(model, produced_by="prepare", store=store)

    def test_a_sibling_output_is_not_upstream(self):
        """train returning (model, metrics): metrics passed for upstream of
        model (the graph holds the producing step's other outputs)."""

        @lineage.track
        def fit(d: DataSet):
            return Model(uri="s3://fit/m", name="m"), Metrics(uri="s3://fit/metrics", name="metrics")

        with recording() as store:
            model, metrics = fit(DataSet(uri="s3://fit/d", name="d"))
            assert_lineage(model, upstream=[DataSet(uri="s3://fit/d", name="d")], store=store)
            with pytest.raises(AssertionError, match="lacks upstream"):
                assert_lineage(model, upstream=[metrics], store=store)

    def test_unlogged_artifact_fails(self):
        """An artifact that was never logged fails the assertion."""
        with recording() as store:
            with pytest.raises(AssertionError, match="never logged"):
                assert_lineage(Metrics(uri="file:///x", name="x"), store=store)


def test_serve_process_serves_a_store_and_stops_gracefully(tmp_path):
    """lineage.testing.ServeProcess: what a tracked call sends to its url lands in the file behind it."""
    from lineage.testing import ServeProcess

    path = tmp_path / "shared.db"
    server = ServeProcess(f"sqlite:///{path}")
    try:
        assert server.url == f"grpc://127.0.0.1:{server.port}"
        with lineage.execution("served", store=lineage.Store(url=server.url), workspace="w", start_delay=0) as ex:
            ex.log_output(lineage.Model(uri="s3://served/m", name="m"))
    finally:
        code = server.stop()
    direct = lineage.Store(url=f"sqlite:///{path}")
    assert (code, [a.uri for a in direct.store.get_artifacts()]) == (0, ["s3://served/m"])


def test_recording_blocks_do_not_keep_files_open():
    """Every recording() block kept its temporary store's Store and
    connection (about 3 open files): a few hundred blocks in a test suite
    ran out of file descriptors."""
    import os

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    with recording():
        track(lambda d: None)(DataSet(uri="s3://fd/warm", name="d"))
    before = open_files()
    for i in range(20):
        with recording():
            track(lambda d: None)(DataSet(uri=f"s3://fd/{i}", name="d"))
    assert open_files() - before < 5  # freed when the block's Store goes, with no garbage collection


def test_recording_records_when_tracking_was_off_and_restores_hashing():
    """recording() after init(enabled=False) recorded nothing (assert_lineage
    then said "never logged"); init(hash_files=False) inside a block stayed."""
    from lineage.store import _digest

    hashing = _digest._enabled
    lineage.init(enabled=False)
    try:
        with recording() as store:
            lineage.init(hash_files=not hashing)
            out = track(lambda d: DataSet(uri="s3://rec/out", name="out"))(DataSet(uri="s3://rec/in", name="in"))
            assert_lineage(out, upstream=[DataSet(uri="s3://rec/in", name="in")], store=store)
        assert _digest._enabled is hashing and lineage._config.settings().enabled is False
    finally:
        lineage.init(enabled=True)


def test_the_store_of_a_recording_block_is_read_after_it():
    """The README's use: assert_lineage(..., store=store) after the block.
    The block's end dropped the temporary store's connection, and reading
    it made a new, empty database (upstream: nothing)."""
    with recording() as store:
        model = track(lambda d: Model(uri="s3://after/m", name="m"))(DataSet(uri="s3://after/d", name="d"))
    assert_lineage(model, upstream=[DataSet(uri="s3://after/d", name="d")], store=store)
