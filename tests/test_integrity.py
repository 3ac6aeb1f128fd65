"""Content digests: a changed file is a new artifact, never linked to the old bytes."""

from __future__ import annotations

import os

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

    def test_unchanged_files_are_not_rehashed(self, tmp_path):
        """The cache is keyed by (path, size, mtime): same size and mtime give the cached digest."""
        path = tmp_path / "big.bin"
        path.write_bytes(b"A" * 1000)
        before = _digest.of_path(str(path))
        stat = os.stat(path)
        path.write_bytes(b"B" * 1000)  # same size...
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and same mtime: served from the cache
        assert _digest.of_path(str(path)).digest == before.digest
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
        assert _digest.of_path(str(path)).digest != before.digest

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
