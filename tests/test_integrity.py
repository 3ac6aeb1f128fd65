"""Content digests: a changed file is a new artifact, never linked to the old bytes."""

from __future__ import annotations

import os
import time

import pytest

import lineage
from lineage import DataSet, Model, track
from lineage.store import _digest
from tests import backends
from tests import mlmd_reads as mr


@pytest.fixture
def tracked(tmp_path) -> lineage.Store:
    url = backends.make_url("sqlite", tmp_path)
    lineage.init(store=url, workspace="ws", strict=True, start_delay=0)
    return lineage.Store(url=url)


def stored_artifact(store: lineage.Store, artifact_id: int):
    [artifact] = store.store.get_artifacts_by_id([artifact_id])
    return artifact


class TestDigests:
    def test_file_digest_and_size_are_recorded(self, tracked, tmp_path):
        """A file:// artifact gets sha256 of its bytes, its size and scope 'full'."""
        import hashlib

        path = tmp_path / "data.csv"
        path.write_bytes(b"a,b\n1,2\n")

        @track
        def use(d: DataSet):
            return None

        data = DataSet(uri=path.as_uri(), name="data")
        use(data)
        props = mr.custom(stored_artifact(tracked, data.id))
        assert props["lineage.digest"] == "sha256:" + hashlib.sha256(b"a,b\n1,2\n").hexdigest()
        assert props["lineage.size"] == 8
        assert props["lineage.digest_scope"] == "full"

    def test_directory_digest_is_stable_and_content_based(self, tmp_path):
        """A folder's digest depends on its files' names and bytes, not on creation order."""
        one, two = tmp_path / "one", tmp_path / "two"
        for folder, order in ((one, ["b", "a", "sub/c"]), (two, ["sub/c", "a", "b"])):
            for name in order:
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(f"content of {name}")
        first, second = _digest.of_path(str(one)), _digest.of_path(str(two))
        assert first.scope == "full" and first.digest == second.digest
        assert first.size == sum(len(f"content of {n}") for n in ("a", "b", "sub/c"))
        (two / "sub" / "c").write_text("changed")
        assert _digest.of_path(str(two)).digest != first.digest

    def test_changed_bytes_make_a_new_artifact(self, tracked, tmp_path):
        """Same uri, name and version but new bytes: a new artifact; the model trained on it links to the new one."""
        path = tmp_path / "train.csv"
        path.write_text("x\n1\n")

        @track
        def train(d: DataSet) -> Model:
            return Model(uri=f"file:///m/{d.id}", name="m")

        first = DataSet(uri=path.as_uri(), name="train", version="1")
        train(first)
        again = DataSet(uri=path.as_uri(), name="train", version="1")
        train(again)
        assert again.id == first.id  # unchanged bytes: the same artifact
        path.write_text("x\n2\n")
        changed = DataSet(uri=path.as_uri(), name="train", version="1")
        model = train(changed)
        assert changed.id != first.id
        [execution] = [e for e in mr.executions(tracked, "train") if mr.paths(tracked, e.id)[-1][2] == model.uri]
        inputs = [a.id for kind, _, a in mr.events(tracked, execution.id) if kind == "INPUT"]
        assert inputs == [changed.id]

    def test_a_reused_record_of_rewritten_bytes_is_a_new_artifact(self, tracked, tmp_path):
        """One DataSet object passed to every call while its file is refreshed:
        each call links to the bytes it read, not to the artifact the
        record's old id names."""
        path = tmp_path / "train.csv"

        @track
        def train(d: DataSet) -> None:
            return None

        data = DataSet(uri=path.as_uri(), name="train", version="latest")
        ids = []
        for content in ("v1\n", "v2 longer\n", "v2 longer\n"):
            path.write_text(content)
            train(data)
            ids.append(data.id)
        assert ids[0] != ids[1] and ids[1] == ids[2]
        fresh = DataSet(uri=path.as_uri(), name="train", version="latest")
        train(fresh)
        assert fresh.id == ids[1]
        inputs = [[a.id for kind, _, a in mr.events(tracked, e.id) if kind == "INPUT"] for e in mr.executions(tracked, "train")]
        assert inputs == [[ids[0]], [ids[1]], [ids[1]], [ids[1]]]

    def test_a_record_first_logged_before_its_file_existed_follows_its_bytes(self, tmp_path, sqlite_url):
        """Logged while the file was missing (not digested), then with bytes A,
        then B: one artifact for all three."""
        lineage.init(store=sqlite_url, workspace="w")
        path = tmp_path / "m.bin"
        model = Model(uri=str(path), name="m", version="1")
        ids = []
        for content in (None, b"A" * 10, b"B" * 10):
            if content is not None:
                path.write_bytes(content)
            with lineage.execution("train") as ex:
                ex.log_output(model)
            ids.append(model.id)
        assert len(set(ids)) == 3

    def test_rewritten_bytes_are_seen_through_another_spelling_of_the_store(self, tmp_path):
        """The digest a record was written with was kept per writer: through
        a symbolic link to the store's folder (another writer, one store) the
        record's old id was taken for its new bytes."""
        folder = tmp_path / "stores"
        folder.mkdir()
        (tmp_path / "link").symlink_to(folder)
        path = tmp_path / "m.bin"
        path.write_bytes(b"A" * 10)
        model = Model(uri=str(path), name="m", version="1")
        lineage.init(store=f"sqlite:///{folder / 'x.db'}", workspace="w")
        with lineage.execution("a") as ex:
            ex.log_output(model)
        first = model.id
        path.write_bytes(b"B" * 10)
        lineage.init(store=f"sqlite:///{tmp_path / 'link' / 'x.db'}")
        with lineage.execution("b") as ex:
            ex.log_output(model)
        assert model.id != first

    def test_unchanged_files_are_not_rehashed(self, tmp_path, monkeypatch):
        """The cache is keyed by (path, size, mtime, inode, ctime): an unchanged file is not read again."""
        path = tmp_path / "big.bin"
        path.write_bytes(b"A" * 1000)
        before = _digest.of_path(str(path))
        opened = []
        real_open = os.open
        monkeypatch.setattr(_digest.os, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
        assert _digest.of_path(str(path)).digest == before.digest
        assert opened == []

    def test_new_bytes_with_the_same_size_and_mtime_are_a_new_digest(self, tmp_path):
        """cp -p, rsync -t and tar keep modification times: a file replaced by
        another of the same size and mtime is read again, not served from the cache."""
        import shutil

        path, other = tmp_path / "train.csv", tmp_path / "v2.csv"
        path.write_bytes(b"A" * 1000)
        other.write_bytes(b"B" * 1000)
        stat = os.stat(path)
        os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        before = _digest.of_path(str(path))
        shutil.copy2(other, path)  # new bytes, same size, same mtime
        assert os.stat(path).st_mtime_ns == stat.st_mtime_ns
        assert _digest.of_path(str(path)).digest != before.digest
        path.write_bytes(b"C" * 1000)  # in place, mtime set back
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert _digest.of_path(str(path)).digest == "sha256:" + __import__("hashlib").sha256(b"C" * 1000).hexdigest()

    def test_fifos_and_devices_are_not_read(self, tmp_path):
        """A FIFO or a device as uri, or in a folder, must not block the call forever."""
        import threading

        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        folder = tmp_path / "model"
        folder.mkdir()
        (folder / "w.bin").write_bytes(b"w")
        os.mkfifo(folder / "ctl")
        results = {}

        def digest_all():
            results["fifo"] = _digest.of_path(str(fifo))
            results["dev"] = _digest.of_path("/dev/zero")
            results["folder"] = _digest.of_path(str(folder))

        worker = threading.Thread(target=digest_all, daemon=True)
        worker.start()
        worker.join(10)
        if worker.is_alive():  # unblock a reader blocked in open(), so the test run can end
            for pipe in (fifo, folder / "ctl"):
                try:
                    os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass
            pytest.fail("digesting a FIFO or a device blocked")
        assert (results["fifo"].scope, results["fifo"].reason) == ("skipped", "not a regular file")
        assert (results["dev"].scope, results["dev"].reason) == ("skipped", "not a regular file")
        assert (results["folder"].scope, results["folder"].size) == ("full", 1)

    def test_a_linked_folder_inside_a_folder_is_digested(self, tmp_path):
        """A model folder whose weights/ is a symbolic link to a folder: new
        weights are a new digest; a link back up (a loop) ends the walk."""
        for version in ("v1", "v2"):
            (tmp_path / version).mkdir()
            (tmp_path / version / "w.bin").write_text(f"weights {version}")
        model = tmp_path / "model"
        model.mkdir()
        (model / "config.json").write_text("{}")
        (model / "weights").symlink_to(tmp_path / "v1")
        (model / "loop").symlink_to(model)
        first = _digest.of_path(str(model))
        (model / "weights").unlink()
        (model / "weights").symlink_to(tmp_path / "v2")
        second = _digest.of_path(str(model))
        assert first.scope == second.scope == "full"
        assert first.digest != second.digest
        assert first.size >= len("{}") + len("weights v1")

    def test_skipped_scope_is_recorded_honestly(self, tracked, tmp_path):
        """A missing file, or hashing turned off, is recorded as scope 'skipped' with the reason."""

        @track
        def use(d: DataSet):
            return None

        missing = DataSet(uri=(tmp_path / "nope.csv").as_uri(), name="nope")
        use(missing)
        props = mr.custom(stored_artifact(tracked, missing.id))
        assert (props["lineage.digest_scope"], props["lineage.digest_reason"]) == ("skipped", "missing")
        assert "lineage.digest" not in props
        present = tmp_path / "here.csv"
        present.write_text("1")
        lineage.init(hash_files=False)
        try:
            off = DataSet(uri=present.as_uri(), name="here")
            use(off)
        finally:
            lineage.init(hash_files=True)
        props = mr.custom(stored_artifact(tracked, off.id))
        assert (props["lineage.digest_scope"], props["lineage.digest_reason"]) == ("skipped", "hashing turned off")

    def test_a_relative_path_without_dot_slash_is_hashed(self, tracked, tmp_path, monkeypatch):
        """data/train.csv names a file like ./data/train.csv does: new bytes are
        a new artifact (it was taken for a name, and the change merged)."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "train.csv").write_text("v1")

        @track
        def use(d: DataSet):
            return None

        ids = []
        for content in ("v1", "v2"):
            (tmp_path / "data" / "train.csv").write_text(content)
            data = DataSet(uri="data/train.csv", name="train")
            use(data)
            ids.append(data.id)
        props = mr.custom(stored_artifact(tracked, ids[1]))
        assert (ids[0] != ids[1], props["lineage.digest_scope"]) == (True, "full")
        assert _digest.local_path("warehouse.table") is None  # no such file: a name

    def test_a_file_uri_is_local_in_any_case_of_its_scheme_and_host(self, tmp_path):
        """URI schemes and hosts are read in any case: FILE:///x had no digest
        (rewritten bytes under it were one artifact)."""
        path = tmp_path / "train.csv"
        path.write_text("v1")
        for uri in (f"FILE://{path}", f"File://LocalHost{path}", f"file://{path}"):
            assert _digest.local_path(uri) == str(path)
            assert _digest.of_path(_digest.local_path(uri)).scope == "full"
        assert _digest.local_path(f"file://otherhost{path}") is None

    def test_a_file_uri_with_a_percent_encoded_byte_that_is_not_utf8_names_that_file(self, tmp_path):
        """file:///data/caf%E9.csv (a Latin-1 name) was decoded to caf\\ufffd.csv: the
        file was recorded as missing, or another file, named with U+FFFD, was digested."""
        os.makedirs(tmp_path / "data")
        with open(os.path.join(os.fsencode(tmp_path), b"data", b"caf\xe9.csv"), "wb") as handle:
            handle.write(b"latin")
        (tmp_path / "data" / "caf\ufffd.csv").write_bytes(b"other")

        digest = _digest.of_record(DataSet(uri=f"file://{tmp_path}/data/caf%E9.csv", name="train"))

        assert (digest.scope, digest.digest) == ("full", "sha256:" + __import__("hashlib").sha256(b"latin").hexdigest())

    def test_content_over_the_limit_gets_a_quick_digest(self, tmp_path, monkeypatch):
        """Past LINEAGE_HASH_MAX_BYTES a file or folder is not read: scope 'stat',
        from names, sizes and modification times, which a rewrite changes."""
        monkeypatch.setenv("LINEAGE_HASH_MAX_BYTES", "10")
        big = tmp_path / "big.bin"
        big.write_bytes(b"x" * 11)
        first = _digest.of_path(str(big))
        os.utime(big, ns=(1, 1))
        folder = tmp_path / "folder"
        folder.mkdir()
        (folder / "a").write_bytes(b"y" * 20)

        assert (first.scope, first.size, first.reason) == (
            "stat",
            11,
            "over 10 bytes (LINEAGE_HASH_MAX_BYTES): names, sizes and modification times",
        )
        assert _digest.of_path(str(big)).digest != first.digest
        assert _digest.of_path(str(folder)).scope == "stat"
        monkeypatch.delenv("LINEAGE_HASH_MAX_BYTES")
        assert _digest.of_path(str(big)).scope == "full"

    def test_a_folder_of_too_many_files_is_skipped_and_a_dangling_or_looping_link_is_no_failure(self, tmp_path, monkeypatch):
        """Walking a huge folder on every call is not done; a broken symbolic link
        inside a folder made the whole digest 'unreadable'."""
        folder = tmp_path / "folder"
        folder.mkdir()
        (folder / "a").write_text("a")
        os.symlink(str(tmp_path / "gone"), str(folder / "link"))
        os.symlink(str(folder / "loop"), str(folder / "loop"))  # ELOOP, not ENOENT
        with_link = _digest.of_path(str(folder))
        (folder / "b").write_text("b")
        monkeypatch.setattr(_digest, "MAX_FILES", 2)

        assert with_link.scope == "full"
        assert (_digest.of_path(str(folder)).scope, _digest.of_path(str(folder)).reason) == ("skipped", "more than 2 files")

    def test_a_folder_or_subfolder_that_cannot_be_listed_is_skipped_not_digested_as_empty(self, tmp_path, monkeypatch):
        """os.walk passed over a folder it could not list (no read permission, for
        a user not root): a model folder recorded with scope full, of no files."""
        folder = tmp_path / "model"
        (folder / "shards").mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "shards" / "0.bin").write_bytes(b"0")
        listing, denied = os.scandir, [str(folder / "shards")]

        def scandir(path="."):
            if os.fspath(path) in denied:
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return listing(path)

        monkeypatch.setattr(os, "scandir", scandir)
        sub = _digest.of_path(str(folder))
        denied = [str(folder)]
        top = _digest.of_path(str(folder))

        assert (sub.scope, sub.reason, sub.digest) == ("skipped", "unreadable: Permission denied", None)
        assert (top.scope, top.reason, top.digest) == ("skipped", "unreadable: Permission denied", None)

    def test_a_file_written_while_it_is_read_is_not_given_a_torn_digest(self, tmp_path, monkeypatch):
        """A checkpoint still being written (an async save) was read to its end as
        it grew: the record said scope full, with the size from before and the
        digest of bytes from before and after, and the read chased the writer."""
        import hashlib
        import types

        path = tmp_path / "ckpt.bin"
        path.write_bytes(b"a" * 3000)
        monkeypatch.setattr(_digest, "_CHUNK", 1000)

        class Writing:
            def __init__(self):
                self.real, self.chunks = hashlib.sha256(), 0

            def update(self, chunk):
                self.chunks += 1
                if self.chunks == 1:
                    with open(path, "ab") as handle:
                        handle.write(b"b" * 1000)
                self.real.update(chunk)

            def hexdigest(self):
                return self.real.hexdigest()

        monkeypatch.setattr(_digest, "hashlib", types.SimpleNamespace(sha256=Writing))
        grown = _digest.of_path(str(path))
        monkeypatch.undo()

        assert (grown.scope, grown.reason, grown.digest) == ("skipped", "changed while read", None)
        assert _digest.of_path(str(path)) == _digest.Digest(
            digest="sha256:" + hashlib.sha256(b"a" * 3000 + b"b" * 1000).hexdigest(), size=4000, scope="full"
        )

    def test_remote_uris_are_not_hashed(self, tracked):
        """s3://, gs:// and plain names carry no digest properties."""

        @track
        def use(d: DataSet):
            return None

        data = DataSet(uri="s3://bucket/key.csv", name="remote")
        use(data)
        assert not any(k.startswith("lineage.digest") for k in mr.custom(stored_artifact(tracked, data.id)))

    @pytest.mark.parametrize("uri", ["~\x00", "~user\x00/x.csv", "/tmp/a\x00b.csv", "file:///tmp/a%00b.csv"])
    def test_a_path_with_nul_is_logged_without_digest(self, tracked, uri):
        """A path no file can have (NUL; '~\\x00' made expanduser raise) is
        logged as a name, without a digest, instead of failing the write."""
        ex = lineage.Execution(name="write", workspace=lineage.Workspace(store=tracked, name="nul"))
        data = ex.log_output(DataSet(uri=uri, name="nul"))

        stored = stored_artifact(tracked, data.id)
        assert (uri, False) == (
            tracked._connection.reader.artifact(data.id).uri,
            any(k.startswith("lineage.digest") for k in mr.custom(stored)),
        )


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _stored_digests(store: lineage.Store, execution_name: str) -> dict:
    """version -> the content digest of each output of the one execution *execution_name*."""
    execution = mr.one_execution(store, execution_name)
    return {
        mr.value(artifact.properties["version"]): mr.custom(artifact).get("lineage.digest")
        for kind, _, artifact in mr.events(store, execution.id)
        if kind == "OUTPUT"
    }


# File modification times come from a coarse clock (a few ms behind
# time.time()): a file written in the first milliseconds of an execution
# may look older than it. The tests wait that out before writing.
_CLOCK_STEP = 0.05


class TestOutputDigests:
    """An output's digest is of the bytes it had when logged, when this
    execution wrote them; of its bytes at the end otherwise."""

    def test_each_version_of_a_checkpoint_rewritten_every_epoch_has_its_own_bytes(self, tracked, tmp_path):
        """The digest was taken at the end for every output: each version
        logged claimed the last epoch's bytes."""
        path = tmp_path / "ckpt.pt"
        with lineage.execution("train") as ex:
            time.sleep(_CLOCK_STEP)
            for epoch in (1, 2, 3):
                path.write_bytes(f"weights of epoch {epoch}".encode())
                ex.log_output(Model(uri=str(path), name="m", version=str(epoch)))
        assert _stored_digests(tracked, "train") == {str(e): _sha(f"weights of epoch {e}".encode()) for e in (1, 2, 3)}

    def test_each_version_a_tracked_generator_yields_has_its_own_bytes(self, tracked, tmp_path):
        """What a generator yields is logged when yielded, as log_output's."""
        path = tmp_path / "ckpt.pt"

        @track
        def train():
            time.sleep(_CLOCK_STEP)
            for epoch in (1, 2):
                path.write_bytes(f"weights of epoch {epoch}".encode())
                yield Model(uri=path.as_uri(), name="m", version=str(epoch))

        assert [m.version for m in train()] == ["1", "2"]
        assert _stored_digests(tracked, "train") == {str(e): _sha(f"weights of epoch {e}".encode()) for e in (1, 2)}

    def test_an_output_logged_before_it_was_written_has_the_bytes_it_ends_with(self, tracked, tmp_path, monkeypatch):
        """Logged first and written after: a file missing then, a relative
        path not there yet, or an earlier run's file this one replaces (had
        it been digested then, the new model was the earlier run's
        artifact), as one execution(outputs=...) names: the bytes at the end."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / "models").mkdir()
        earlier = tmp_path / "earlier.pt"
        earlier.write_bytes(b"an earlier run's weights")
        os.utime(earlier, ns=(time.time_ns() - 60 * 10**9,) * 2)
        declared = tmp_path / "declared.pt"
        declared.write_bytes(b"an earlier run's declared weights")
        model = Model(uri=str(declared), name="m", version="declared")
        with lineage.execution("train", outputs=[model]) as ex:
            time.sleep(_CLOCK_STEP)
            ex.log_output(Model(uri=str(tmp_path / "missing.pt"), name="m", version="missing"))
            ex.log_output(Model(uri="models/relative.pt", name="m", version="relative"))
            ex.log_output(Model(uri=earlier.as_uri(), name="m", version="earlier"))
            for name in ("missing.pt", "models/relative.pt", "earlier.pt", "declared.pt"):
                (tmp_path / name).write_bytes(f"new {name}".encode())
        assert _stored_digests(tracked, "train") == {
            "missing": _sha(b"new missing.pt"),
            "relative": _sha(b"new models/relative.pt"),
            "earlier": _sha(b"new earlier.pt"),
            "declared": _sha(b"new declared.pt"),
        }

    def test_an_output_written_after_it_was_logged_has_the_bytes_it_ends_with(self, tracked, tmp_path):
        """A folder made, logged and then filled, a file opened (made empty),
        logged and then written: modified since the execution began, they
        were digested when logged, empty (an empty folder's digest is the
        same in every run: all their outputs one artifact). The last
        logging of a path written since has the bytes it ends with, as
        before; an earlier version keeps its own (see the checkpoint test)."""
        folder, log = tmp_path / "prepared", tmp_path / "train.log"
        with lineage.execution("prep") as ex:
            time.sleep(_CLOCK_STEP)
            folder.mkdir()
            ex.log_output(DataSet(uri=str(folder), name="prepared", version="folder"))
            with open(log, "wb") as handle:
                ex.log_output(DataSet(uri=str(log), name="log", version="file"))
                handle.write(b"epoch 1: loss 0.5\n")
            (folder / "part-0.csv").write_bytes(b"a,b\n1,2\n")
        digests = _stored_digests(tracked, "prep")
        assert digests == {"folder": _digest.of_path(str(folder)).digest, "file": _sha(b"epoch 1: loss 0.5\n")}

    def test_one_record_logged_again_after_its_file_was_rewritten_is_two_artifacts(self, tracked, tmp_path):
        """Each logging is of the bytes then: two artifacts; the record is the
        second, and logged again with those bytes it is that one."""
        path = tmp_path / "model.pt"
        model = Model(uri=str(path), name="m", version="1")
        with lineage.execution("train") as ex:
            time.sleep(_CLOCK_STEP)
            for content in (b"first", b"second"):
                path.write_bytes(content)
                ex.log_output(model)
        execution = mr.one_execution(tracked, "train")
        outputs = {mr.custom(a)["lineage.digest"]: a.id for kind, _, a in mr.events(tracked, execution.id) if kind == "OUTPUT"}
        assert set(outputs) == {_sha(b"first"), _sha(b"second")} and model.id == outputs[_sha(b"second")]

        with lineage.execution("evaluate") as ex:
            ex.log_input(model)
        [(kind, _, used)] = mr.events(tracked, mr.one_execution(tracked, "evaluate").id)
        assert (kind, used.id) == ("INPUT", outputs[_sha(b"second")])

    def test_a_rewritten_folder_is_digested_when_logged(self, tracked, tmp_path):
        """A folder rewritten in place (its files, not its own modification
        time, are new) is this execution's too."""
        folder = tmp_path / "model"
        folder.mkdir()
        (folder / "weights.bin").write_bytes(b"before")
        os.utime(folder, ns=(time.time_ns() - 60 * 10**9,) * 2)
        with lineage.execution("train") as ex:
            time.sleep(_CLOCK_STEP)
            for epoch in (1, 2):
                (folder / "weights.bin").write_bytes(f"epoch {epoch}".encode())
                ex.log_output(Model(uri=str(folder), name="m", version=str(epoch)))
        digests = _stored_digests(tracked, "train")
        assert digests["1"] != digests["2"] and digests["1"] is not None

    def test_an_output_file_is_read_once(self, tracked, tmp_path, monkeypatch):
        """Digested when logged, it is not read again at the end; an earlier
        run's file logged before it is rewritten is not read until the end."""
        fresh, earlier = tmp_path / "fresh.pt", tmp_path / "earlier.pt"
        earlier.write_bytes(b"an earlier run's weights")
        os.utime(earlier, ns=(time.time_ns() - 60 * 10**9,) * 2)
        opened = []
        real_open = os.open
        monkeypatch.setattr(_digest.os, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
        with lineage.execution("train") as ex:
            time.sleep(_CLOCK_STEP)
            fresh.write_bytes(b"fresh weights")
            ex.log_output(Model(uri=str(fresh), name="m", version="fresh"))
            ex.log_output(Model(uri=str(earlier), name="m", version="earlier"))
            logged = [path for path in opened if path in (str(fresh), str(earlier))]
            earlier.write_bytes(b"new weights")
        read = [path for path in opened if path in (str(fresh), str(earlier))]
        assert (logged, read) == ([str(fresh)], [str(fresh), str(earlier)])
        assert _stored_digests(tracked, "train") == {"fresh": _sha(b"fresh weights"), "earlier": _sha(b"new weights")}

    def test_a_kubeflow_style_execution_digests_an_output_when_it_is_logged(self, tracked, tmp_path):
        """Execution.log_output writes at once: its bytes then."""
        path = tmp_path / "ckpt.pt"
        ex = lineage.Execution(name="train", workspace=lineage.Workspace(store=tracked, name="kubeflow"))
        for epoch in (1, 2):
            path.write_bytes(f"weights of epoch {epoch}".encode())
            ex.log_output(Model(uri=str(path), name="m", version=str(epoch)))
        assert _stored_digests(tracked, "train") == {str(e): _sha(f"weights of epoch {e}".encode()) for e in (1, 2)}
