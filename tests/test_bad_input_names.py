"""Bad input that used to leak a bare Python error, now refused at the call
that made the mistake with a lineage error naming the field and the value:
a Workspace's text MLMD cannot store, an artifact id outside MLMD's ids, and
store URLs no file or server can use.
"""

from __future__ import annotations

import os
import re
from typing import List

import pytest

import lineage
from lineage.errors import InvalidStoreURLError, InvalidTypeError, InvalidValueError
from lineage.store import StoreURL, parse_store_url

INT64_MAX = 2**63 - 1


def stored_rows(store: lineage.Store) -> List[bytes]:
    """Every context, artifact, execution and type MLMD holds, serialized."""
    mlmd = store.store
    rows: List[bytes] = []
    for getter in (
        "get_contexts",
        "get_artifacts",
        "get_executions",
        "get_context_types",
        "get_artifact_types",
        "get_execution_types",
    ):
        rows.extend(sorted(x.SerializeToString(deterministic=True) for x in getattr(mlmd, getter)()))
    return rows


def logged_model(store: lineage.Store) -> lineage.Model:
    ws = lineage.Workspace(store=store, name="ws")
    exe = lineage.Execution(name="train", workspace=ws)
    exe.log_input(lineage.DataSet(uri="s3://b/data.csv", name="data"))
    return exe.log_output(lineage.Model(uri="s3://b/model", name="model"))


class TestWorkspaceText:
    @pytest.mark.parametrize(
        ("kwargs", "field", "shown"),
        [
            ({"name": "w\ud800"}, "Workspace 'name'", r"'w\ud800'"),
            ({"name": "\udfff"}, "Workspace 'name'", r"'\udfff'"),
            ({"name": "w", "description": "d\ud800"}, "Workspace 'description'", r"'d\ud800'"),
            ({"name": "w", "labels": {"k": "v\ud800"}}, "Workspace 'labels'['k']", r"'v\ud800'"),
            ({"name": "w", "labels": {"k\ud800": "v"}}, "Workspace 'labels' key", r"'k\ud800'"),
            ({"name": "w", "labels": {"k": ["ok", {"deep": "\udc80"}]}}, "Workspace 'labels'['k'][1]['deep']", r"'\udc80'"),
        ],
    )
    def test_a_lone_surrogate_is_refused_naming_the_field_and_nothing_is_stored(self, store, kwargs, field, shown):
        """A name, description or label MLMD cannot store (not UTF-8) raises
        InvalidValueError naming the field and showing the value; before, the
        name and description raised a bare UnicodeEncodeError."""
        before = stored_rows(store)

        with pytest.raises(InvalidValueError) as info:
            lineage.Workspace(store=store, **kwargs)
        message = str(info.value)

        assert (
            type(info.value) is InvalidValueError,
            message.startswith(field + " "),
            shown in message,
            [c.name for c in store.store.get_contexts()],
        ) == (True, True, True, [])
        assert before == stored_rows(store)

    def test_a_refused_workspace_leaves_an_existing_one_untouched(self, store):
        """A refused description for an existing workspace's name changes nothing stored."""
        lineage.Workspace(store=store, name="w", description="first", labels={"a": "b"})
        before = stored_rows(store)

        with pytest.raises(InvalidValueError, match=r"Workspace 'description'"):
            lineage.Workspace(store=store, name="w", description="second \ud800")

        assert before == stored_rows(store)

    def test_valid_non_ascii_text_is_still_stored(self, store):
        """Text that is valid Unicode, even outside the BMP, is still accepted."""
        ws = lineage.Workspace(store=store, name="wé🙂", description="d🙂", labels={"k🙂": "v🙂"})

        [context] = store.store.get_contexts_by_id([ws.context_id])
        assert context.name == "wé🙂"


class TestArtifactIds:
    @pytest.mark.parametrize("method", ["get_artifact", "lineage", "describe_lineage"])
    @pytest.mark.parametrize("artifact_id", [2**63, 2**64, 2**70, 0, -1, -(2**63), -(2**64)])
    def test_an_id_outside_mlmd_ids_is_refused_naming_artifact_id(self, store, method, artifact_id):
        """An int that cannot be an MLMD id (int64, numbered from 1) raises
        InvalidValueError naming the method, artifact_id and the value; before,
        protobuf's bare 'ValueError: Value out of range' leaked."""
        logged_model(store)
        before = stored_rows(store)

        with pytest.raises(InvalidValueError) as info:
            getattr(store, method)(artifact_id)
        message = str(info.value)

        assert (
            type(info.value) is InvalidValueError,
            message.startswith(f"{method}("),
            "artifact_id" in message,
            f"got {artifact_id} (int)" in message,
        ) == (True, True, True, True)
        assert before == stored_rows(store)

    @pytest.mark.parametrize("method", ["lineage", "describe_lineage"])
    def test_a_record_whose_id_is_out_of_range_is_refused(self, store, method):
        """A record carrying an id past int64 is refused the same way."""
        model = lineage.Model(uri="s3://b/m", name="m")
        model.id = 2**64

        with pytest.raises(InvalidValueError, match=rf"^{method}\(artifact\): artifact_id .*got {2**64} \(int\)"):
            getattr(store, method)(model)

    @pytest.mark.parametrize("bad", [True, False, 1.0, "1", None, b"1"])
    def test_get_artifact_refuses_a_non_int(self, store, bad):
        """A bool or anything but an int raises InvalidTypeError showing the value."""
        with pytest.raises(InvalidTypeError) as info:
            store.get_artifact(bad)

        assert ("get_artifact(artifact_id) must be an int" in str(info.value), repr(bad) in str(info.value)) == (True, True)

    @pytest.mark.parametrize("method", ["lineage", "describe_lineage"])
    @pytest.mark.parametrize("bad", [True, 1.5, "1", None])
    def test_lineage_refuses_a_non_int(self, store, method, bad):
        """lineage()/describe_lineage() refuse a bool or non-int, naming the call."""
        with pytest.raises(
            InvalidTypeError,
            match=rf"^{method}\(artifact\) must be a logged record or an artifact id, got {re.escape(repr(bad))}",
        ):
            getattr(store, method)(bad)

    def test_ids_in_range_still_work(self, store):
        """A logged record, its id, and the largest int64 id are still accepted."""
        model = logged_model(store)

        assert (model, None, "model") == (
            store.get_artifact(model.id),
            store.get_artifact(INT64_MAX),
            store.lineage(model.id).artifacts[model.id].name,
        )
        # In range but not in this store: said so, not a range error.
        with pytest.raises(lineage.UnknownArtifactError, match="holds no artifact with id 9223372036854775807"):
            store.describe_lineage(INT64_MAX)
        assert store.describe_lineage(model) == store.describe_lineage(model.id)


class TestStoreURLCharacters:
    @pytest.mark.parametrize(
        ("url", "why"),
        [
            ("sqlite:////tmp/x/n\x00ul.db", "the URL contains a NUL character"),
            ("sqlite:////tmp/x/\ud800.db", "the URL contains a lone surrogate"),
            ("sqlite:////tmp/x/n%00ul.db", "the file path contains a NUL character"),
            ("file:///tmp/x/n\x00ul.db", "the URL contains a NUL character"),
            ("file:///tmp/x/n%00ul.db", "the file path contains a NUL character"),
            ("memory://\x00", "the URL contains a NUL character"),
            ("postgresql://h:5432/d\x00b", "the URL contains a NUL character"),
            ("postgresql://h:5432/d%00b", "the database name contains a NUL character"),
            ("mysql://u%00x@h:3306/db", "the user contains a NUL character"),
            ("mysql://h:3306/db?socket=/tmp/s%00", "the option 'socket' contains a NUL character"),
            ("grpc://h\udfff:8080", "the URL contains a lone surrogate"),
            ("grpcs://h:443?root_certificates=/tmp/ca%00.pem", "the option 'root_certificates' contains a NUL character"),
        ],
    )
    def test_nul_or_lone_surrogate_is_refused_when_parsed(self, tmp_path, url, why):
        """A NUL or lone surrogate, raw or percent-encoded, is refused by
        parse_store_url and Store() with the URL and the reason; before, the
        store was made and failed at first use (bare ValueError or
        UnicodeEncodeError)."""
        for parse in (parse_store_url, lineage.Store):
            with pytest.raises(InvalidStoreURLError) as info:
                parse(url)
            message = str(info.value)

            assert (repr(url) in message, why in message) == (True, True)

    @pytest.mark.parametrize(
        ("url", "shown", "why"),
        [
            ("postgresql://u:s3cret@h:5432/d\x00b", "postgresql://u:***@h:5432/d\x00b", "the URL contains a NUL character"),
            ("mysql://u:s3@cret@h:3306/d\x00b", "mysql://u:***@h:3306/d\x00b", "the URL contains a NUL character"),
            ("postgresql://u:s3cret\x00@h:5432/db", "postgresql://u:***@h:5432/db", "the password (hidden here) contains a NUL"),
            ("postgresql://u:s3cret%00@h:5432/db", "postgresql://u:***@h:5432/db", "the password contains a NUL character"),
            (
                "postgresql://u:s3cret\ud800@h:5432/db",
                "postgresql://u:***@h:5432/db",
                "the password (hidden here) contains a lone",
            ),
        ],
    )
    def test_the_password_is_redacted(self, url, shown, why):
        """The refusal shows the URL without its password, and says when the
        bad character is in the hidden password."""
        with pytest.raises(InvalidStoreURLError) as info:
            parse_store_url(url)
        message = str(info.value)

        assert ("s3" in message, "cret" in message, repr(shown) in message, why in message) == (False, False, True, True)

    @pytest.mark.parametrize(
        ("suffix", "why"),
        [
            ("q.db?mode=ro", "a sqlite URL takes no query string ('?'...)"),
            ("q.db?", "a sqlite URL takes no query string ('?'...)"),
            ("q.db#frag", "a sqlite URL takes no fragment ('#'...)"),
        ],
    )
    @pytest.mark.parametrize("prefix", ["sqlite:///", "file://"])
    def test_sqlite_query_or_fragment_is_refused_and_no_file_is_made(self, tmp_path, prefix, suffix, why):
        """A sqlite URL with '?' or '#' is refused (no option is supported);
        before, Store() made a file literally named 'q.db?mode=ro'."""
        url = f"{prefix}{tmp_path}/{suffix}"

        with pytest.raises(InvalidStoreURLError) as info:
            lineage.Store(url)
        message = str(info.value)

        assert (repr(url) in message, why in message, "%3F" in message or "%23" in message, os.listdir(tmp_path)) == (
            True,
            True,
            True,
            [],
        )

    def test_escaped_question_mark_names_the_file(self, tmp_path):
        """A '?' in a file name is still possible, written %3F."""
        store = lineage.Store(f"sqlite:///{tmp_path}/q%3Fx.db")
        logged_model(store)

        assert (StoreURL(scheme="sqlite", path=f"{tmp_path}/q?x.db"), True) == (store.url, "q?x.db" in os.listdir(tmp_path))


class TestStoreArgumentsNamed:
    @pytest.mark.parametrize("bad", [3, b"sqlite:///x.db", ["memory://"]])
    def test_a_store_url_that_is_not_a_str_names_the_argument(self, bad):
        """init(store=3), Store(url=3) and recording(store=3) said only "store
        URL must be a str": not which call's argument it was."""
        from lineage.testing import recording

        before = lineage._config.settings().store
        for call, named in (
            (lambda: lineage.init(store=bad), "init(store)"),
            (lambda: lineage.Store(url=bad), "Store(url)"),
            (lambda: recording(store=bad).__enter__(), "recording(store)"),
        ):
            with pytest.raises(InvalidTypeError, match=re.escape(f"{named} must be a store URL (a str), got {bad!r}")):
                call()
        assert lineage._config.settings().store == before
