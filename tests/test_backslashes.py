"""Backslashes (Windows paths) through lineage serve: escaped only when the
database behind it is PostgreSQL, so direct and served access agree."""

from __future__ import annotations

from typing import Tuple

import lineage
from lineage import DataSet, Execution, Workspace
from tests import backends

WINDOWS = "C:\\data\\train.csv"
WS = "team\\ws"


def log_served(direct_url: str) -> Tuple[int, bool, str]:
    """Log a DataSet with a Windows uri through ``lineage serve`` over
    *direct_url*: its id, whether the client escapes backslashes for that
    service, and the uri the client reads back through it."""
    server = backends.ServerProcess(direct_url)
    try:
        served = lineage.Store(url=server.url)
        data = Execution(name="e", workspace=Workspace(store=served, name=WS)).log_input(DataSet(uri=WINDOWS, name="train"))
        return data.id, served._connection.backend.mangles_backslashes(), served.get_artifact(data.id).uri
    finally:
        server.stop()


class TestServedBackslashes:
    def test_served_sqlite_stores_backslashes_as_they_are(self, tmp_path):
        """Through serve over SQLite the bytes stored are the user's; direct access finds the same workspace and uri."""
        direct_url = backends.make_url("sqlite", tmp_path)
        artifact_id, mangles, _ = log_served(direct_url)
        assert mangles is False
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
        artifact_id, mangles, served_uri = log_served(direct_url)
        assert (mangles, served_uri) == (True, WINDOWS)
        direct = lineage.Store(url=direct_url)
        assert direct.get_artifact(artifact_id).uri == WINDOWS
        assert direct._connection.reader.workspace(WS) is not None
