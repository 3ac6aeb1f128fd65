"""The stores the benchmark runs on: SQLite files, PostgreSQL, ``lineage serve``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import uuid
from typing import Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


def mlmd_for(store: lineage.Store) -> metadata_store.MetadataStore:
    """The MLMD client lineage itself writes through on *store*: raw MLMD
    and the Kubeflow SDK write through it too.

    One connection for every subject, as each would have in a process of
    its own where it is the only writer. On SQLite a write that follows
    another connection's write finds its page cache stale and costs about
    0.4 ms more (measured: 2.85 vs 2.47 ms for the same put_execution):
    with a connection per subject, interleaving charged that to whichever
    subject's connection had not written last - lineage's nearly always,
    as the raw variants and the SDK shared one.
    """
    return store._connection.backend.mlmd


def sqlite_url(folder: str, name: str) -> str:
    return f"sqlite:///{os.path.join(folder, name)}"


def count_artifacts(store: lineage.Store) -> Optional[int]:
    if store.url.scheme != "sqlite":
        return None
    with sqlite3.connect(store.url.path) as conn:
        return conn.execute("SELECT COUNT(*) FROM Artifact").fetchone()[0]


def fill(mlmd: metadata_store.MetadataStore, type_id: int, count: int, batch: int = 2000) -> None:
    """Add *count* artifacts shaped like lineage's DataSets, in batches."""
    token = uuid.uuid4().hex[:8]
    meta = '{"uri": "s3://fill/x.csv", "name": "fill", "workspace": null, "description": null}'
    done = 0
    while done < count:
        n = min(batch, count - done)
        protos = []
        for i in range(done, done + n):
            a = pb.Artifact(type_id=type_id, uri=f"s3://fill/{token}/{i}.csv", external_id=f"fill:{token}:{i}")
            a.properties["name"].string_value = f"fill-{i}"
            a.properties["create_time"].string_value = "2024-01-01T00:00:00Z"
            a.properties["__ALL_META__"].string_value = meta
            a.custom_properties["__kf_workspace__"].string_value = "bench"
            protos.append(a)
        mlmd.put_artifacts(protos)
        done += n


# --------------------------------------------------------------------------- PostgreSQL


def postgres_answers() -> bool:
    import socket

    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return True
    except OSError:
        return False


def new_postgres_url() -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/lineage_bench_{uuid.uuid4().hex[:10]}"


def drop_postgres(url: str) -> None:
    database = url.rsplit("/", 1)[1]
    subprocess.run(
        ["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-qc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'],
        capture_output=True,
        check=False,
    )
