"""Fast paths of the tracked call's hot path, each compared with the general
path it stands in for: the same answer for every input, so the same stored
bytes (a speed-up that changes no behaviour)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from lineage import DataSet
from lineage.store import _digest
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
