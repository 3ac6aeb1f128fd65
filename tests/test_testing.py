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

    def test_a_store_url_and_a_single_upstream_record_are_taken(self, tmp_path):
        """store= a URL (it was an AttributeError) and upstream= one record (a TypeError)."""
        url = f"sqlite:///{tmp_path / 'x.db'}"
        with recording(store=url):
            raw = DataSet(uri="s3://one", name="one")
            model = train(raw)
        assert_lineage(model, upstream=raw, store=url)
        with pytest.raises(AssertionError, match="lacks upstream"):
            assert_lineage(model, upstream=DataSet(uri="s3://two", name="two"), store=url)

    @pytest.mark.parametrize(
        "kwargs, error, message",
        [
            ({"upstream": None}, lineage.InvalidTypeError, r"\(upstream\) must be a record or a list of records, got None"),
            ({"upstream": "s3://one"}, lineage.InvalidTypeError, r"assert_lineage\(upstream\) .*'s3://one'"),
            ({"upstream": [None]}, lineage.InvalidTypeError, r"\(upstream\)\[0\] must be a lineage record, got None"),
            ({"produced_by": 3}, lineage.InvalidTypeError, r"assert_lineage\(produced_by\) must be an execution name.*3"),
            ({"store": 3}, lineage.InvalidTypeError, r"assert_lineage\(store\) must be a lineage.Store or a store URL, got 3"),
            ({"store": "nope://x"}, lineage.InvalidStoreURLError, "nope://x"),
        ],
    )
    def test_bad_arguments_are_named(self, tmp_path, kwargs, error, message):
        """Bad arguments raise lineage's errors naming them, not AttributeError/TypeError from inside."""
        with recording(store=f"sqlite:///{tmp_path / 'x.db'}") as store:
            model = train(DataSet(uri="s3://one", name="one"))
        kwargs.setdefault("store", store)
        with pytest.raises(error, match=message):
            assert_lineage(model, **kwargs)

    def test_an_id_mlmd_cannot_hold_is_named(self, tmp_path):
        with recording(store=f"sqlite:///{tmp_path / 'x.db'}") as store:
            model = train(DataSet(uri="s3://one", name="one"))
        object.__setattr__(model, "id", 2**70)
        with pytest.raises(lineage.InvalidValueError, match=r"\(artifact\).id must be an MLMD id.*1180591620717411303424"):
            assert_lineage(model, store=store)

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


def ipv6_loopback() -> bool:
    import socket

    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def self_signed(folder, name: str, *hosts: str) -> tuple:
    """A self-signed certificate (its own CA) for *hosts*, and its key."""
    import subprocess

    cert, key = str(folder / f"{name}.pem"), str(folder / f"{name}.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={name}",
         "-addext", "subjectAltName=" + ",".join(hosts or ("DNS:localhost",))],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def write_through(server, path) -> list:
    """Log one output through server.url; return the uris in the store file behind it."""
    with lineage.execution("served", store=lineage.Store(url=server.url), workspace="w", start_delay=0) as ex:
        ex.log_output(lineage.Model(uri="s3://served/m", name="m"))
    return [a.uri for a in lineage.Store(url=f"sqlite:///{path}").store.get_artifacts()]


class TestServeProcessURL:
    """ServeProcess.url was grpc://127.0.0.1:<port> whatever the server
    listened on: wrong for --host ::1 and for a TLS server."""

    @pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
    @pytest.mark.parametrize("host", ["::1", "[::1]"])
    def test_a_server_on_ipv6_loopback(self, tmp_path, host):
        """--host ::1 (or [::1], as a URL writes it): the url is grpc://[::1]:<port>, and it is served there."""
        from lineage.testing import ServeProcess

        path = tmp_path / "shared.db"
        server = ServeProcess(f"sqlite:///{path}", ["--host", host])
        try:
            assert server.url == f"grpc://[::1]:{server.port}"
            assert write_through(server, path) == ["s3://served/m"]
        finally:
            assert server.stop() == 0

    def test_a_tls_server(self, tmp_path):
        """--tls-cert: a grpcs:// url whose root certificate is the
        (self-signed) server certificate, its path escaped in the URL."""
        from lineage.testing import ServeProcess

        folder = tmp_path / "my certs+1"
        folder.mkdir()
        cert, key = self_signed(folder, "server", "IP:127.0.0.1")
        path = tmp_path / "shared.db"
        server = ServeProcess(f"sqlite:///{path}", ["--tls-cert", cert, "--tls-key", key])
        try:
            assert server.url.startswith(f"grpcs://127.0.0.1:{server.port}?root_certificates=")
            with open(cert, "rb") as handle:
                assert lineage.store.parse_store_url(server.url).tls == {"root_certificates": handle.read()}
            assert write_through(server, path) == ["s3://served/m"]
        finally:
            assert server.stop() == 0

    def test_a_server_that_requires_client_certificates(self, tmp_path):
        """--tls-client-ca: the url carries the client's key and
        certificate given to ServeProcess; without them, url says what to give."""
        from lineage.testing import ServeProcess

        cert, key = self_signed(tmp_path, "server", "IP:127.0.0.1")
        client_cert, client_key = self_signed(tmp_path, "client")
        path = tmp_path / "shared.db"
        args = ["--tls-cert", cert, "--tls-key", key, "--tls-client-ca", client_cert]
        server = ServeProcess(f"sqlite:///{path}", args, private_key=client_key, certificate_chain=client_cert)
        anonymous = ServeProcess(f"sqlite:///{tmp_path / 'other.db'}", args)
        try:
            assert write_through(server, path) == ["s3://served/m"]
            with pytest.raises(lineage.InvalidValueError, match=r"requires client certificates \(--tls-client-ca\)"):
                anonymous.url  # noqa: B018 - the property raises
        finally:
            assert (server.stop(), anonymous.stop()) == (0, 0)

    @pytest.mark.parametrize(
        "args, options, error, message",
        [
            ([], {"root_certificates": "ca.pem"}, "InvalidValueError",
             r"ServeProcess\(root_certificates\) is for a TLS server: args has no --tls-cert"),
            (["--tls-cert", "c.pem", "--tls-key", "k.pem"], {"private_key": "k.pem"}, "InvalidValueError",
             r"ServeProcess\(private_key\) and ServeProcess\(certificate_chain\) go together"),
            ([], {"root_certificates": b"-----BEGIN"}, "InvalidTypeError",
             r"ServeProcess\(root_certificates\) must be a file path, got b'-----BEGIN' \(bytes\)"),
        ],
    )
    def test_certificate_options_that_cannot_work_are_refused_at_once(self, args, options, error, message):
        """Before any process starts, naming the option."""
        from lineage.testing import ServeProcess

        with pytest.raises(getattr(lineage, error), match=message):
            ServeProcess("memory://", args, wait=False, **options)


def test_assert_lineage_fails_for_an_artifact_the_store_does_not_hold_or_holds_as_another(tmp_path):
    """It passed for an id no store holds, and judged a record logged to store A
    by store B's artifact of the same id; producers without a name (another
    tool's) made it raise TypeError."""
    import pytest
    from ml_metadata.proto import metadata_store_pb2 as pb

    import lineage
    from lineage import Model
    from lineage.testing import assert_lineage

    a = lineage.Store(url=f"sqlite:///{tmp_path / 'a.db'}")
    b = lineage.Store(url=f"sqlite:///{tmp_path / 'b.db'}")
    with lineage.execution("make_cats", store=f"sqlite:///{tmp_path / 'b.db'}") as ex:
        ex.log_output(Model(uri="s3://b/cats.pt", name="cats"))
    with lineage.execution("train", store=f"sqlite:///{tmp_path / 'a.db'}") as ex:
        dog = ex.log_output(Model(uri="s3://b/dogs.pt", name="dogs"))
    ghost = Model(uri="x", name="ghost")
    ghost.id = 999
    with pytest.raises(AssertionError, match="holds no artifact #999"):
        assert_lineage(ghost, store=a)
    with pytest.raises(AssertionError, match="is not artifact #1"):
        assert_lineage(dog, produced_by="train", store=b)
    assert_lineage(dog, produced_by="train", store=a)

    mlmd = a.store
    trainer = mlmd.put_execution_type(pb.ExecutionType(name="Trainer"))
    [unnamed] = mlmd.put_executions([pb.Execution(type_id=trainer)])
    mlmd.put_events([pb.Event(artifact_id=dog.id, execution_id=unnamed, type=pb.Event.OUTPUT)])
    with pytest.raises(AssertionError, match=r"produced by \['Trainer', 'train'\], not 'fit'"):
        assert_lineage(dog, produced_by="fit", store=a)


def test_the_fixture_does_not_keep_files_open(tmp_path):
    """Every test using the lineage_store fixture kept its store's Store and
    connection (about 3 open files): a suite of a few hundred such tests ran
    out of file descriptors (recording()'s own temporary store did not)."""
    import subprocess
    import sys

    (tmp_path / "test_user.py").write_text(
        "import os\n"
        "import pytest\n"
        "from lineage import DataSet, track\n"
        "from lineage.testing import lineage_store\n"
        "@track\n"
        "def step(d: DataSet) -> None:\n"
        "    pass\n"
        "@pytest.mark.parametrize('i', range(41))\n"
        "def test_step(lineage_store, i):\n"
        "    global before\n"
        "    if i == 1:\n"
        "        before = len(os.listdir('/proc/self/fd'))\n"
        "    step(DataSet(uri=f's3://fx/{i}', name='d'))\n"
        "    if i == 40:\n"
        "        assert len(os.listdir('/proc/self/fd')) - before < 5\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_user.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"workspace": 3}, lineage.InvalidTypeError, r"recording\(workspace\) must be a str, got 3 \(int\)"),
        ({"workspace": " "}, lineage.InvalidValueError, r"recording\(workspace\) must be a non-empty string, got ' '"),
        ({"run": ""}, lineage.InvalidValueError, r"recording\(run\) must be a non-empty string, got ''"),
    ],
)
def test_bad_recording_arguments_are_named_as_recordings(kwargs, error, message):
    """They were named as init()'s ("init(workspace) must be a str"), a call the test never made."""
    with pytest.raises(error, match=message), recording(**kwargs):
        pass
