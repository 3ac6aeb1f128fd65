"""Store URLs, the backends and `lineage serve`: large answers, secrets kept
out of logs and messages, TLS files, query options, server errors."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage
from lineage.errors import InvalidStoreURLError, InvalidValueError
from lineage.store import connect, parse_store_url
from tests import backends
from tests.backends import ServerProcess


@pytest.fixture
def pem(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True,
    )
    der = tmp_path / "cert.der"
    subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER", "-out", str(der)], check=True)
    return {"key": key, "cert": cert, "der": der}


TRAIN_ON_10000_FILES = """
import sys, lineage
lineage.init(store=sys.argv[1], workspace="w")
@lineage.track
def train(files: list[lineage.DataSet]) -> lineage.Model:
    return lineage.Model(uri="file:///m", name="m")
model = train([lineage.DataSet(uri=f"s3://bucket/data/part-{i:05d}.parquet", name=f"part-{i}") for i in range(10000)])
print(model.id)
"""


class TestLargeResponsesThroughServe:
    def test_logging_10000_inputs_again_through_serve(self, sqlite_url):
        """A second process logging the same 10,000 inputs looks them up by
        external id: a response over gRPC's default 4 MiB. The whole call
        was lost (RESOURCE_EXHAUSTED, taken for a refused write)."""
        server = ServerProcess(sqlite_url)
        try:
            for _ in range(2):
                done = subprocess.run([sys.executable, "-c", TRAIN_ON_10000_FILES, server.url],
                                      capture_output=True, text=True, timeout=120)
                assert done.stdout.strip() == "10001", done.stderr
                assert "Warning" not in done.stderr
        finally:
            server.stop()


class TestSecretsNotLogged:
    def test_debug_logging_shows_no_database_password(self, caplog):
        backends.require_server("PostgreSQL", backends.PG["host"], backends.PG["port"])
        url = backends.make_url("postgresql", None).replace("postgresql://postgres@", "postgresql://postgres:S3cretPW@")
        caplog.set_level(logging.DEBUG)
        _ = connect(url).backend.mlmd
        assert "ConnectionConfig" in caplog.text
        assert "S3cretPW" not in caplog.text

    def test_debug_logging_shows_no_client_key(self, pem, caplog):
        caplog.set_level(logging.DEBUG)
        url = f"grpcs://127.0.0.1:1?root_certificates={pem['cert']}&private_key={pem['key']}&certificate_chain={pem['cert']}"
        _ = connect(url).backend.mlmd  # builds the channel: no call made
        assert "ConnectionConfig" in caplog.text
        assert "PRIVATE KEY" not in caplog.text

    def test_password_with_a_newline_is_redacted(self):
        with pytest.raises(InvalidStoreURLError) as caught:
            parse_store_url("postgresql://u:S3cretPW\n@h/db?x=1")
        assert "S3cretPW" not in str(caught.value)

    def test_store_url_with_grpc_port_is_redacted(self):
        with pytest.raises(lineage.errors.InvalidTypeError) as caught:
            lineage.Store("postgresql://u:S3cretPW@127.0.0.1/db", 5432)
        assert "S3cretPW" not in str(caught.value)


class TestTLSFiles:
    def test_der_certificate_is_named_at_parse(self, pem):
        with pytest.raises(InvalidStoreURLError, match="root_certificates file .* is not PEM"):
            parse_store_url(f"grpcs://127.0.0.1:1?root_certificates={pem['der']}")

    def test_der_bytes_in_the_kubeflow_form(self, pem):
        with pytest.raises(InvalidValueError, match="root_certificates"):
            lineage.Store(grpc_host="127.0.0.1", grpc_port=1, root_certificates=pem["der"].read_bytes())


class TestQueryOptions:
    @pytest.mark.parametrize("query", ["timeout=abc&timeout=5", "timeout=5&timeout=6"])
    def test_repeated_option_is_refused(self, query):
        with pytest.raises(InvalidStoreURLError, match="more than once"):
            parse_store_url(f"grpc://h:1?{query}")

    def test_repeated_socket_is_refused(self):
        with pytest.raises(InvalidStoreURLError, match="more than once"):
            parse_store_url("mysql://u@/db?socket=/a&socket=/b")

    def test_timeout_gRPC_cannot_take_is_refused(self):
        with pytest.raises(InvalidStoreURLError, match="timeout"):
            parse_store_url("grpc://h:1?timeout=1e10")


class TestServerErrorsQuotingConnectionWords:
    @pytest.mark.parametrize("store", ["memory://", "sqlite"])
    def test_not_found_stays_not_found(self, store, sqlite_url):
        server = ServerProcess(sqlite_url if store == "sqlite" else store)
        try:
            client = metadata_store.MetadataStore(pb.MetadataStoreClientConfig(host="127.0.0.1", port=server.port))
            with pytest.raises(mlmd_errors.NotFoundError):
                client.get_artifact_type("lost connection")
        finally:
            server.stop()
        assert "lost its connection" not in server.output


def test_mlmd_lines_about_a_lost_connection_lineage_recovers_from_are_dropped(caplog):
    """MLMD logs every INTERNAL error it makes; a lost connection (a PostgreSQL
    restart, a full disk under SQLite) is retried by lineage, then spooled
    with its own warning: MLMD's line was printed on the user's stderr
    besides, even when the retry succeeded. Other errors still show."""
    with caplog.at_level(logging.WARNING, logger="absl"):
        mlmd_errors.make_exception(
            "PostgreSQL metadata source error: FATAL:  terminating connection due to administrator command",
            mlmd_errors.INTERNAL,
        )
        mlmd_errors.make_exception("Error when executing query: disk I/O error query: COMMIT;", mlmd_errors.INTERNAL)
        mlmd_errors.make_exception("Error when executing query: no such table: Foo", mlmd_errors.INTERNAL)
    assert [r.getMessage() for r in caplog.records] == [
        "mlmd client InternalError: Error when executing query: no such table: Foo"
    ]
