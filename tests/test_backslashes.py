"""Backslashes (Windows paths) through lineage serve: escaped only when the
database behind it is PostgreSQL, so direct and served access agree."""

from __future__ import annotations

import lineage
from lineage import DataSet, Execution, Workspace
from tests import backends

WINDOWS = "C:\\data\\train.csv"
WS = "team\\ws"


def log_through(url: str) -> int:
    store = lineage.Store(url=url)
    data = Execution(name="e", workspace=Workspace(store=store, name=WS)).log_input(DataSet(uri=WINDOWS, name="train"))
    return data.id


class TestServedBackslashes:
    def test_served_sqlite_stores_backslashes_as_they_are(self, tmp_path):
        """Through serve over SQLite the bytes stored are the user's; direct access finds the same workspace and uri."""
        direct_url = backends.make_url("sqlite", tmp_path)
        server = backends.ServerProcess(direct_url)
        try:
            artifact_id = log_through(server.url)
            served = lineage.Store(url=server.url)
            assert served._connection.backend.mangles_backslashes() is False
        finally:
            server.stop()
        direct = lineage.Store(url=direct_url)
        [stored] = direct.store.get_artifacts_by_id([artifact_id])
        assert stored.uri == WINDOWS  # no escape marker in the database
        assert [a.id for a in direct._connection.reader.artifacts_by_uri(WINDOWS)] == [artifact_id]
        contexts = [c.name for c in direct.store.get_contexts_by_type("kubeflow.org/alpha/workspace")]
        assert contexts == [WS]
        assert Workspace(store=direct, name=WS).context_id == direct.store.get_contexts_by_type("kubeflow.org/alpha/workspace")[0].id

    def test_served_postgresql_escapes_and_reads_back_exactly(self, tmp_path):
        """Through serve over PostgreSQL backslashes are escaped (MLMD's driver breaks on them) and read back exact."""
        direct_url = backends.make_url("postgresql", tmp_path)
        server = backends.ServerProcess(direct_url)
        try:
            artifact_id = log_through(server.url)
            served = lineage.Store(url=server.url)
            assert served._connection.backend.mangles_backslashes() is True
            assert served.get_artifact(artifact_id).uri == WINDOWS
        finally:
            server.stop()
        direct = lineage.Store(url=direct_url)
        assert direct.get_artifact(artifact_id).uri == WINDOWS
        assert direct._connection.reader.workspace(WS) is not None
