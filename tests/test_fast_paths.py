"""Fast paths of the tracked call's hot path, each compared with the general
path it stands in for: the same answer for every input, so the same stored
bytes (a speed-up that changes no behaviour)."""

from __future__ import annotations

import datetime
import enum
import hashlib
import json
from typing import Any, Optional

import attrs
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lineage import Artifact, DataSet, Model
from lineage import records as records_module
from lineage.records import schema_of
from lineage.store import _codec, _digest
from tests import strategies

# Cheap examples, but the first ones build the strategies: no deadline on a loaded machine.
quick = settings(deadline=None)


# --------------------------------------------------------------------------- _digest._local_path

#: Schemes and near-schemes: file: in any case, a drive letter, the Kelvin
#: sign and the long s (letters only under re.I), a digit first, a NUL.
_HEADS = st.sampled_from(
    [
        "s3:",
        "S3:",
        "gs:",
        "http:",
        "a+b.c-d:",
        "file:",
        "FILE:",
        "File:",
        "fIlE:",
        "files:",
        "fil:",
        "c:",
        "C:",
        "\u212a8s:",
        "\u017f3:",
        "1s:",
        "+s:",
        "s3\x00:",
        "\x00s3:",
        "é3:",
        "",
        "/",
        "./",
        "../",
        "~",
    ]
)
_TAILS = st.sampled_from(["", "//bucket/key", "///tmp/x", "/", "\\x", "//localhost/tmp", "x\x00y", "//h/%E9"])
_uris = st.one_of(
    st.builds("".join, st.lists(st.one_of(_HEADS, _TAILS, strategies.texts), max_size=4)),
    st.from_regex(r"\A[A-Za-z\u212a\u017f0-9+.\-]{0,6}:[/\\a-z\x00]{0,4}\Z"),
    strategies.texts,
)


@quick
@given(uri=_uris)
@example(uri="s3://bench/lineage/0/train.csv")
@example(uri="FILE:///tmp/x")
@example(uri="C:\\data\\x.csv")
@example(uri="c:/data")
@example(uri="\u212a8s://cluster/x")
@example(uri="\u017f3://bucket/x")
@example(uri="files://host/x")
@example(uri="s3:")
def test_local_path_answers_for_a_uri_with_a_scheme_as_the_test_of_each_kind_does(uri):
    """_local_path tells a remote uri (s3://) at once: its answer is
    _uri_path's, which tests each kind of uri in turn, for every uri."""
    assert _digest._uri_path(uri) == _digest._local_path(uri)


def test_a_remote_uri_carries_no_digest_and_a_file_uri_does(tmp_path):
    """The fast answer leaves file: (any case) to the general path."""
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\n")

    assert (
        _digest.of_record(DataSet(uri="s3://bucket/x.csv", name="x")),
        _digest.of_record(DataSet(uri=f"FILE://{path}", name="x")).scope,
        _digest.of_record(DataSet(uri=f"file://{path}", name="x")).scope,
    ) == (
        _digest.NONE,
        "full",
        "full",
    )


# --------------------------------------------------------------------------- _codec.dedup_key


class Stage(enum.Enum):
    DEV = "dev"


@attrs.define
class Versioned(Artifact):
    """A custom type whose own ``version`` field is not a str."""

    ARTIFACT_TYPE_NAME = "acme.org/test/fast_paths_versioned"

    version: Any = None


def _reference_key(record: Artifact, workspace: Optional[str], digest: Optional[str]) -> str:
    """dedup_key as the straightforward JSON of the identity list."""
    identity = [schema_of(type(record)).type_name, record.uri, record.name, getattr(record, "version", None), workspace]
    if digest:
        identity.append(digest)
    text = json.dumps(identity, ensure_ascii=False, separators=(",", ":"), default=records_module.stored_form)
    return "lineage:artifact:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


_versions = st.one_of(
    st.none(),
    strategies.texts,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.just(datetime.datetime(2024, 3, 1, 12, 30, 5, 123456)),
    st.just(Stage.DEV),
    strategies.json_values,
)


@quick
@given(
    record=strategies.records,
    workspace=strategies.optional_texts,
    digest=st.none() | st.just("") | st.builds("sha256:{}".format, strategies.texts),
)
def test_dedup_key_is_the_sha256_of_the_identitys_json(record, workspace, digest):
    assert _reference_key(record, workspace, digest) == _codec.dedup_key(schema_of(type(record)), record, workspace, digest)


@quick
@given(version=_versions, uri=strategies.names, workspace=strategies.optional_texts, digest=st.none() | strategies.texts)
def test_dedup_key_of_a_custom_version_field_of_any_kind_is_the_sha256_of_the_identitys_json(version, uri, workspace, digest):
    record = Versioned(uri=uri, name="v")
    object.__setattr__(record, "version", version)  # any JSON-able value (or a held one), as a converter may leave

    assert _reference_key(record, workspace, digest) == _codec.dedup_key(schema_of(Versioned), record, workspace, digest)


def test_dedup_keys_are_those_stores_already_hold():
    """The keys of artifacts already stored: a changed key would make each
    logged again a new artifact."""
    assert (
        _codec.dedup_key(schema_of(Model), Model(uri="s3://b/m.pt", name="mnist", version="1"), "bench", None),
        _codec.dedup_key(schema_of(DataSet), DataSet(uri='/data/é "q" \\ x', name="train"), None, "sha256:ab"),
    ) == (
        "lineage:artifact:2e1dd7aaf9903dfdd2ca8499ec1647a76fccf574318342824aa28c6ed450b7c3",
        "lineage:artifact:9fd3398e37cd299efa4a866af9bc9ab7f9b35dac77a2f04bd097f614e7e3c6b8",
    )


# --------------------------------------------------------------------------- records._init_plain


_plain_strings = st.one_of(
    st.none(),
    strategies.texts,
    st.text(st.characters(max_codepoint=127), max_size=8),
    st.sampled_from(["a", " ", "x" * records_module.MAX_TEXT_BYTES, "x" * (records_module.MAX_TEXT_BYTES + 1), "\ue000"]),
)


def _fields(record: Artifact) -> dict:
    return {name: getattr(record, name) for name in records_module.field_names(type(record)) if name != "create_time"}


@quick
@given(cls=st.sampled_from([DataSet, Model]), values=st.lists(_plain_strings, min_size=7, max_size=7))
@example(cls=DataSet, values=["s3://b/k", "train", None, None, None, None, None])
@example(cls=Model, values=["s3://b/m.pt", "mnist", "ws", "d", "o", "1", "cnn"])
def test_a_plain_record_is_made_as_the_attrs_init_makes_it(cls, values):
    """_init_plain sets the slots directly; the record is the one the
    validating attrs __init__ makes of the same strings, or, for strings it
    does not take at once, left to that __init__ with nothing set."""
    keys = ["uri", "name", "workspace", "description", "owner", "version", "query" if cls is DataSet else "model_type"]
    strings = dict(zip(keys, values))
    fast = cls.__new__(cls)
    taken = records_module._init_plain(fast, strings)
    if not taken:
        assert [name for name in records_module.field_names(cls) if hasattr(fast, name)] == []
        return
    general = cls.__new__(cls)
    general.__attrs_init__(labels=None, extra={}, **strings)

    assert (_fields(general), dict, str) == (_fields(fast), type(fast.extra), type(fast.create_time))
    assert records_module._now()[:4] == fast.create_time[:4] and fast.create_time.endswith("Z")


def test_plain_records_do_not_share_their_extra_properties():
    first, second = DataSet(uri="s3://b/1", name="a"), DataSet(uri="s3://b/2", name="b")
    first.extra["k"] = 1

    assert (first.extra, second.extra) == ({"k": 1}, {})
