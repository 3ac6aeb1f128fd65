"""Numbers in environment variables: a bad value is named, and lineage goes on
with the default (a negative timeout had lost the record it was writing)."""

from __future__ import annotations

import warnings

import pytest
from ml_metadata.metadata_store import metadata_store

import lineage
from lineage import _env
from lineage.store import _digest, parse_store_url
from tests import backends


@pytest.mark.parametrize(
    "name, text, kwargs",
    [
        ("LINEAGE_CONNECT_TIMEOUT_SECONDS", "-5", {"above": True}),
        ("LINEAGE_CONNECT_TIMEOUT_SECONDS", "0", {"above": True}),
        ("LINEAGE_RETRY_SECONDS", "abc", {}),
        ("LINEAGE_RETRY_SECONDS", "nan", {}),
        ("LINEAGE_HASH_MAX_BYTES", "1GB", {"integer": True}),
        ("LINEAGE_HASH_MAX_BYTES", "-1", {"integer": True}),
        ("LINEAGE_EXIT_DRAIN_SECONDS", "inf", {}),
    ],
)
def test_a_bad_value_is_named_once_and_the_default_used(monkeypatch, name, text, kwargs):
    monkeypatch.setenv(name, text)
    monkeypatch.setattr(_env, "_warned", set())
    with pytest.warns(lineage.LineageWarning) as caught:
        assert _env.number(name, 7.0, **kwargs) == 7.0
    [warning] = caught
    assert f"{name}={text!r}" in str(warning.message) and "uses 7 instead" in str(warning.message)
    assert warning.filename == __file__  # at the caller's line, not inside lineage
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        assert _env.number(name, 7.0, **kwargs) == 7.0  # the same value: said once
    assert [str(w.message) for w in again] == []


def test_the_default_byte_limit_is_said_in_full(monkeypatch):
    """``1GB`` was answered with "lineage uses 1.07374e+09 instead", not the limit used."""
    monkeypatch.setenv("LINEAGE_HASH_MAX_BYTES", "1GB")
    monkeypatch.setattr(_env, "_warned", set())
    with pytest.warns(lineage.LineageWarning, match="lineage uses 1073741824 instead"):
        assert _digest._max_bytes() == 1 << 30


@pytest.mark.parametrize(
    "text, kwargs, value",
    [("", {}, 7.0), ("0", {}, 0.0), ("2.5", {}, 2.5), (" 1e3 ", {}, 1000.0), ("10", {"integer": True}, 10),
     ("9" * 400, {"integer": True}, int("9" * 400)),  # past 1e308: no OverflowError
     ("1e300", {}, 1e9)],  # seconds no wait takes: the most one does
)
def test_good_values_are_taken_in_silence(monkeypatch, text, kwargs, value):
    monkeypatch.setenv("LINEAGE_TEST_NUMBER", text)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert _env.number("LINEAGE_TEST_NUMBER", 7.0, **kwargs) == value
    assert [str(w.message) for w in said] == []


def test_a_negative_connect_timeout_loses_no_record(monkeypatch, tmp_path):
    """It made the socket raise ValueError: the call was neither written nor spooled."""
    url = backends.make_url("postgresql", tmp_path)
    monkeypatch.setenv("LINEAGE_CONNECT_TIMEOUT_SECONDS", "-5")
    monkeypatch.setenv("LINEAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(_env, "_warned", set())

    @lineage.track(store=lineage.Store(url=url), workspace="env")
    def step(data: lineage.DataSet) -> lineage.Model:
        return lineage.Model(uri="s3://m/1", name="m")

    with pytest.warns(lineage.LineageWarning, match="LINEAGE_CONNECT_TIMEOUT_SECONDS='-5'"):
        model = step(lineage.DataSet(uri="s3://d/1", name="d"))
    assert model.id is not None
    stored = metadata_store.MetadataStore(parse_store_url(url).connection_config())
    assert [a.uri for a in stored.get_artifacts()] == ["s3://d/1", "s3://m/1"]


def test_a_huge_connect_timeout_loses_no_record(monkeypatch, tmp_path):
    """1e300 (no end to the wait) made the socket raise OverflowError: the call
    was neither written nor spooled, and the warning named no variable."""
    url = backends.make_url("postgresql", tmp_path)
    monkeypatch.setenv("LINEAGE_CONNECT_TIMEOUT_SECONDS", "1e300")
    monkeypatch.setenv("LINEAGE_HOME", str(tmp_path / "home"))

    @lineage.track(store=lineage.Store(url=url), workspace="env")
    def step(data: lineage.DataSet) -> lineage.Model:
        return lineage.Model(uri="s3://m/1", name="m")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = step(lineage.DataSet(uri="s3://d/1", name="d"))
    assert model.id is not None
    stored = metadata_store.MetadataStore(parse_store_url(url).connection_config())
    assert [a.uri for a in stored.get_artifacts()] == ["s3://d/1", "s3://m/1"]


def test_a_negative_hash_limit_does_not_turn_every_digest_into_a_quick_one(monkeypatch, tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    monkeypatch.setenv("LINEAGE_HASH_MAX_BYTES", "-1")
    monkeypatch.setattr(_env, "_warned", set())
    with pytest.warns(lineage.LineageWarning, match="LINEAGE_HASH_MAX_BYTES='-1'"):
        digest = _digest.of_path(str(path))
    assert digest.scope == "full" and digest.size == 8


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("LINEAGE_WORKSPACE", "w" * 300, "is 300 bytes of UTF-8; MLMD stores at most 255"),
        ("LINEAGE_WORKSPACE", " ", "must be a non-empty string, got ' '"),
        ("LINEAGE_WORKSPACE", "bad\udcff", "must be valid Unicode text"),
        ("LINEAGE_RUN", "  ", "must be a non-empty string, got '  '"),
    ],
)
def test_a_name_mlmd_cannot_store_is_named_with_its_variable(monkeypatch, tmp_path, name, text, message):
    """A bad LINEAGE_WORKSPACE/LINEAGE_RUN: the tracked call's warning (and
    `lineage ls`) named a field ("Workspace 'name'") or showed a bare
    UnicodeEncodeError, never the variable; ' ' was taken as a workspace."""
    monkeypatch.setenv(name, text)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    lineage.init(store=url, workspace=None, run=None)

    @lineage.track
    def f(d: lineage.DataSet) -> int:
        return 1

    with pytest.warns(lineage.LineageWarning, match=rf"the {name} environment variable {message}"):
        assert f(lineage.DataSet(uri="s3://a", name="a")) == 1
    assert lineage.Store(url=url).store.get_executions() == []  # not recorded under another name
    monkeypatch.setenv(name, "fine")
    assert f(lineage.DataSet(uri="s3://b", name="b")) == 1
    assert len(lineage.Store(url=url).store.get_executions()) == 1


def test_a_flag_is_read_alike_whatever_the_callers_default(monkeypatch):
    from lineage import _env

    monkeypatch.setenv("LINEAGE_TEST_FLAG", "1")
    assert (_env.flag("LINEAGE_TEST_FLAG", True), _env.flag("LINEAGE_TEST_FLAG", False)) == (True, True)
    monkeypatch.setenv("LINEAGE_TEST_FLAG", "off")
    assert (_env.flag("LINEAGE_TEST_FLAG", True), _env.flag("LINEAGE_TEST_FLAG", False)) == (False, False)


def test_white_space_around_a_name_or_the_home_folder_is_dropped(monkeypatch, tmp_path):
    """A value read from a file (a Kubernetes secret) ends with a newline, as
    LINEAGE_STORE's did: 'mnist\\n' was a workspace of its own (`lineage ls -w
    mnist` found nothing) and LINEAGE_HOME='/mnt/vol\\n' a folder beside the volume."""
    home = tmp_path / "home"
    monkeypatch.setenv("LINEAGE_HOME", f"{home}\n")
    monkeypatch.setenv("LINEAGE_WORKSPACE", "mnist\n")
    monkeypatch.setenv("LINEAGE_RUN", " first run ")

    @lineage.track
    def f(d: lineage.DataSet) -> int:
        return 1

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f(lineage.DataSet(uri="s3://a", name="a"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    names = [c.name for c in lineage.Store(url=f"sqlite:///{home / 'lineage.db'}").store.get_contexts()]
    assert names == ["mnist", "mnist/first run"]


def test_init_strict_decides_over_the_variable(monkeypatch, tmp_path):
    """init(strict=False) under LINEAGE_STRICT=1 (set for a whole CI job) was
    strict all the same: a test that lineage's failure does not reach the
    user's code got the failure raised."""
    monkeypatch.setenv("LINEAGE_STRICT", "1")
    lineage.init(store=f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.db'}", strict=False)
    (tmp_path / "no").write_text("a file, not a folder: the store cannot be made")

    @lineage.track(start_delay=0)
    def f(d: lineage.DataSet) -> int:
        return 1

    with pytest.warns(lineage.LineageWarning):
        assert f(lineage.DataSet(uri="s3://a", name="a")) == 1
    lineage.init(strict=True)
    monkeypatch.setenv("LINEAGE_STRICT", "0")
    with pytest.raises(OSError):  # and init(strict=True) over LINEAGE_STRICT=0
        f(lineage.DataSet(uri="s3://b", name="b"))


def test_the_unavailable_budget_set_is_the_one_used(monkeypatch):
    """LINEAGE_RETRY_UNAVAILABLE_SECONDS=30 (a store that takes a while to come
    back) was cut to LINEAGE_RETRY_SECONDS' 10 s without a word."""
    from lineage.store._backend import RetryPolicy

    monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "30")
    assert (RetryPolicy().max_delay, RetryPolicy().unavailable_delay) == (10.0, 30.0)
    monkeypatch.delenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS")
    monkeypatch.setenv("LINEAGE_RETRY_SECONDS", "1")
    assert RetryPolicy().unavailable_delay == 1.0  # the default: no longer than the other budget
