"""Bad input: every public call either works and reads back exactly, or raises a
lineage error naming the argument — never a crash, never an MLMD internal
error, never a changed row elsewhere. Hypothesis drives it on SQLite and
PostgreSQL; injection strings find nothing extra.
"""

from __future__ import annotations

import json
import os
import pathlib
import uuid
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lineage
from lineage import DataSet, Execution, Metrics, Model, Run, Store, Workspace
from lineage.errors import LineageError
from tests import backends
from tests.strategies import NASTY, texts

LONG = "x" * 70_000  # past MySQL's TEXT and the uri limit

#: Anything a caller might pass by mistake.
anything = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),  # NaN and infinities included
        texts,
        st.sampled_from(NASTY + ("", "   ", LONG, "\ud800")),
        st.binary(max_size=6),
        st.builds(object),
        st.sets(st.integers(), max_size=2),
    ),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.one_of(texts, st.integers(), st.sampled_from(["__kf_run__", "__kf_workspace__", "lineage.x"])), children, max_size=3),
    max_leaves=6,
)

#: Mostly-valid strings with the odd wrong value.
maybe_text = st.one_of(texts.filter(lambda s: bool(s.strip())), anything)

_stores: Dict[str, Store] = {}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_store(request, tmp_path_factory) -> Store:
    """One store per backend for the whole module (Hypothesis runs many examples)."""
    if request.param not in _stores:
        url = backends.make_url(request.param, tmp_path_factory.mktemp(request.param))
        _stores[request.param] = Store(url=url)
    return _stores[request.param]


def snapshot(store: Store) -> List[bytes]:
    """Every row MLMD holds, serialized: to prove a rejected call changed nothing."""
    mlmd = store.store
    rows: List[bytes] = []
    for getter in ("get_artifacts", "get_executions", "get_contexts"):
        rows.extend(sorted(x.SerializeToString(deterministic=True) for x in getattr(mlmd, getter)()))
    executions = [e.id for e in mlmd.get_executions()]
    if executions:
        rows.extend(sorted(e.SerializeToString(deterministic=True) for e in mlmd.get_events_by_execution_ids(executions)))
    for getter in ("get_artifact_types", "get_execution_types", "get_context_types"):
        rows.extend(sorted(x.SerializeToString(deterministic=True) for x in getattr(mlmd, getter)()))
    return rows


def attempt(fn, *args, **kwargs) -> Any:
    """Run a public call: it works, or raises a lineage error with a message."""
    try:
        return fn(*args, **kwargs)
    except LineageError as exc:
        assert str(exc), "a lineage error must say what was wrong"
        return exc


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


class TestRecordsOnTheStore:
    @SETTINGS
    @given(
        uri=maybe_text,
        name=maybe_text,
        version=st.one_of(st.none(), maybe_text),
        description=st.one_of(st.none(), maybe_text),
        labels=st.one_of(st.none(), anything),
        extra=st.dictionaries(st.one_of(texts, st.sampled_from(["__kf_run__", "lineage.digest", "k" * 300])), anything, max_size=2),
        cls=st.sampled_from([DataSet, Model]),
    )
    def test_record_then_log(self, backend_store, uri, name, version, description, labels, extra, cls):
        """Constructing and logging any record either round-trips exactly or raises a lineage error, changing nothing."""
        record = attempt(cls, uri=uri, name=name, version=version, description=description, labels=labels, **extra)
        if isinstance(record, LineageError):
            return
        # A workspace per example: DataSet/Model deduplicate within a workspace
        # (first logged wins), which is not what this test is about.
        ws = Workspace(store=backend_store, name=f"bad-input-{uuid.uuid4().hex}")
        before = snapshot(backend_store)
        execution = Execution(name="log", workspace=ws)
        after_execution = snapshot(backend_store)
        outcome = attempt(execution.log_input, record)
        if isinstance(outcome, LineageError):
            assert snapshot(backend_store) == after_execution
            return
        assert before != after_execution
        assert backend_store.get_artifact(record.id) == record

    @SETTINGS
    @given(values=anything, metrics_type=anything, data_set_id=anything)
    def test_metrics_fields(self, backend_store, values, metrics_type, data_set_id):
        """Metrics with any values/metrics_type/data_set_id round-trips or is refused up front."""
        record = attempt(Metrics, uri="file:///m", name="m", values=values, metrics_type=metrics_type, data_set_id=data_set_id)
        if isinstance(record, LineageError):
            return
        ws = Workspace(store=backend_store, name="bad-input")
        Execution(name="log", workspace=ws).log_output(record)
        assert backend_store.get_artifact(record.id) == record


class TestImperativeApi:
    @SETTINGS
    @given(name=maybe_text, description=st.one_of(st.none(), anything), labels=st.one_of(st.none(), anything))
    def test_workspace(self, backend_store, name, description, labels):
        """Workspace(...) with any arguments works and reads back, or raises a lineage error and writes nothing."""
        before = snapshot(backend_store)
        ws = attempt(Workspace, store=backend_store, name=name, description=description, labels=labels)
        if isinstance(ws, LineageError):
            assert snapshot(backend_store) == before
            return
        stored = backend_store._connection.reader.workspace(name)
        assert stored is not None and stored["id"] == ws.context_id

    @SETTINGS
    @given(run_name=maybe_text, execution_name=maybe_text, description=st.one_of(st.none(), anything))
    def test_run_and_execution(self, backend_store, run_name, execution_name, description):
        """Run(...) and Execution(...) with any names work or raise a lineage error, touching nothing else."""
        ws = Workspace(store=backend_store, name="bad-input-runs")
        before = snapshot(backend_store)
        run = attempt(Run, workspace=ws, name=run_name, description=description)
        if isinstance(run, LineageError):
            assert snapshot(backend_store) == before
            return
        before = snapshot(backend_store)
        execution = attempt(Execution, name=execution_name, workspace=ws, run=run, description=description)
        if isinstance(execution, LineageError):
            assert snapshot(backend_store) == before
            return
        [summary] = backend_store._connection.reader.executions([execution.id])
        assert summary["name"] == execution_name and summary["run"] == run_name

    @SETTINGS
    @given(value=anything)
    def test_log_anything(self, backend_store, value):
        """log_input/log_output of a non-record raises a lineage TypeError and writes nothing."""
        ws = Workspace(store=backend_store, name="bad-input")
        execution = Execution(name="log", workspace=ws)
        before = snapshot(backend_store)
        for log in (execution.log_input, execution.log_output):
            with pytest.raises((lineage.InvalidTypeError, lineage.InvalidValueError)):
                log(value)
        assert snapshot(backend_store) == before


class TestDeclarativeApi:
    @SETTINGS
    @given(
        name=st.one_of(st.none(), maybe_text),
        workspace=st.one_of(st.none(), maybe_text),
        exclude=st.one_of(st.just(()), anything),
        start_delay=st.one_of(st.none(), anything),
    )
    def test_track_options(self, name, workspace, exclude, start_delay):
        """track(...) with any options decorates or raises a lineage error at decoration time."""
        decorator = attempt(lineage.track, name=name, workspace=workspace, exclude=exclude, start_delay=start_delay)
        if isinstance(decorator, LineageError):
            return

        def f(a=None):
            return a

        attempt(decorator, f)

    @pytest.mark.parametrize("field", ["name", "description"])
    @pytest.mark.parametrize("value", ["bad \ud800 name", "\udfff"])
    def test_a_name_mlmd_cannot_store_is_refused_when_declared(self, field, value):
        """track(...) and execution(...) refuse a name or description MLMD cannot
        store (a lone surrogate: not UTF-8) at once, naming it, not at each call."""
        for declare in (lineage.track, lineage.execution):
            with pytest.raises(lineage.InvalidValueError, match=rf"{declare.__name__}\({field}\)"):
                declare(**{field: value})

    @pytest.mark.parametrize(
        "field, value, says",
        [
            ("workspace", "ws \ud800", "no lone surrogates"),
            ("run", "\udfff", "no lone surrogates"),
            # a workspace is an MLMD context whose name is VARCHAR(255)
            ("workspace", "w" * 256, "256 bytes of UTF-8; MLMD stores at most 255"),
            ("workspace", "é" * 128, "256 bytes of UTF-8; MLMD stores at most 255"),
        ],
    )
    def test_a_workspace_or_run_mlmd_cannot_store_is_refused_when_declared(self, tmp_path, field, value, says):
        """track(...), execution(...) and init(...) refuse a workspace or run
        name MLMD cannot store, naming it; before, it was accepted and every
        call then failed to record (a warning, lineage lost)."""
        store = f"sqlite:///{tmp_path / 'names.db'}"
        for declare in (lineage.track, lineage.execution, lineage.init):
            with pytest.raises(lineage.InvalidValueError, match=rf"{declare.__name__}\({field}\).*{says}"):
                declare(**{"store": store, field: value})
        # The longest workspace name that fits is taken, and recorded.
        lineage.init(store=None, strict=True, start_delay=0)
        fits = "é" * 127 + "w"

        @lineage.track(store=store, workspace=fits, run="r" * 300)
        def f(data: lineage.DataSet) -> int:
            return 1

        data = lineage.DataSet(uri="s3://b/names", name="d")
        assert f(data) == 1
        reader = lineage.Store(url=store)._connection.reader
        [execution] = [e["id"] for e in reader.executions_of_context(reader.workspace(fits)["id"])]
        names = {c["name"] for c in reader.contexts_of_execution(execution)}
        assert names == {fits, "r" * 300}

    @SETTINGS
    @given(args=st.lists(anything, max_size=3), kwargs=st.dictionaries(st.sampled_from(["a", "password", "b"]), anything, max_size=2))
    def test_tracked_call_with_anything_returns_the_result(self, backend_store, args, kwargs):
        """A tracked function called with any values returns its result; lineage never raises into it."""
        lineage.init(store=None, strict=False, start_delay=0)
        marker = object()

        @lineage.track(store=backend_store, workspace="bad-input-calls")
        def f(*a, **k):
            return marker

        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lineage.LineageWarning)
            assert f(*args, **kwargs) is marker

    @SETTINGS
    @given(store=anything, workspace=anything, strict=anything, start_delay=anything, enabled=anything)
    def test_init(self, store, workspace, strict, start_delay, enabled):
        """init(...) with any values sets them or raises a lineage error naming the argument."""
        outcome = attempt(lineage.init, store=store, workspace=workspace, strict=strict, start_delay=start_delay, enabled=enabled)
        if isinstance(outcome, LineageError):
            assert "init(" in str(outcome) or "store URL" in str(outcome)

    @SETTINGS
    @given(url=st.one_of(anything, st.sampled_from([
        "sqlite://", "sqlite:///", "postgresql://host/", "postgresql://:5432/db", "mysql://h:99999/db",
        "grpc://host", "grpcs://h:1", "grpc://h:1?root_certificates=/nope", "s3://bucket", "memory://x", "://",
    ])))
    def test_store_urls(self, url):
        """Store(url=...) with a bad URL raises InvalidStoreURLError (or TypeError) naming the URL."""
        outcome = attempt(Store, url=url)
        if isinstance(outcome, LineageError) and isinstance(url, str) and url:
            assert repr(url)[:20] in str(outcome) or "URL" in str(outcome)


INJECTIONS = [
    "x' OR uri != 'z",
    "\") OR (\"1\"=\"1",
    "a' OR 1=1 --",
    "`uri` = 'victim' OR `name` != '",
    "victim%",
    "vict_m",
    "\\' OR 1=1 --",
    "name) OR (1=1",
]


class TestInjection:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
    def test_strings_built_to_inject_change_nothing_and_find_nothing_extra(self, backend, tmp_path):
        """Lookups by uri, by workspace and by name with injection strings find exactly what was stored under them."""
        store = Store(url=backends.make_url(backend, tmp_path))
        victim_ws = Workspace(store=store, name="victim")
        Execution(name="victim", workspace=victim_ws).log_output(DataSet(uri="victim", name="victim"))
        before = snapshot(store)
        for text in INJECTIONS:
            assert store._connection.reader.artifacts_by_uri(text) == []
            assert store._connection.reader.workspace(text) is None
        assert snapshot(store) == before  # reads changed nothing
        for text in INJECTIONS:
            ws = Workspace(store=store, name=text)
            data = Execution(name=text, workspace=ws).log_input(DataSet(uri=text, name=text, version=text))
            assert [a.id for a in store._connection.reader.artifacts_by_uri(text)] == [data.id]
            assert [row["id"] for row in ws.list(DataSet.ARTIFACT_TYPE_NAME)] == [data.id]
            assert store.get_artifact(data.id) == DataSet(uri=text, name=text, version=text)
        assert [row["uri"] for row in victim_ws.list(DataSet.ARTIFACT_TYPE_NAME)] == ["victim"]
        assert [a.uri for a in store._connection.reader.artifacts_by_uri("victim")] == ["victim"]

    def test_no_filter_query_is_ever_built(self):
        """No module of lineage builds a filter_query: the one it sends is a
        constant with no user text in it (is there any Kubeflow SDK artifact)."""
        package = pathlib.Path(lineage.__file__).parent
        uses = [
            (p.relative_to(package).as_posix(), line.strip())
            for p in sorted(package.rglob("*.py"))
            for line in p.read_text().splitlines()
            if any(needle in line for needle in ("filter_query=", "filter_query =", ".filter_query"))
        ]
        from lineage.store import _writer

        assert uses == [("store/_writer.py", "options = metadata_store.ListOptions(limit=1, filter_query=NO_EXTERNAL_ID)")]
        assert _writer.NO_EXTERNAL_ID == "external_id IS NULL"


class TestCapturedTextMLMDCannotCarry:
    """What lineage captures (not what a caller declares) is recorded even when
    it holds a lone surrogate, which is not UTF-8: a file name from
    ``os.fsdecode`` of bad bytes, an error message, an event path. Before,
    the whole write failed: the execution was lost, or left RUNNING."""

    def test_arguments_params_paths_and_errors_round_trip(self, any_url):
        lineage.init(store=any_url, strict=True, start_delay=0)
        bad_name = os.fsdecode(b"data-\xff.csv")  # '\udcff' in it
        assert "\udcff" in bad_name
        reader = lineage.Store(url=any_url)._connection.reader

        @lineage.track
        def prepare(path: str, tag: str = "a\ud800b\\c\x00d") -> int:
            prepare.id = lineage.current_execution().id
            return 1

        assert prepare(bad_name) == 1
        [stored] = reader.executions([prepare.id])
        assert stored["state"] == "COMPLETE"
        assert stored["properties"]["path"] == bad_name
        assert stored["properties"]["tag"] == "a\ud800b\\c\x00d"

        with lineage.execution("explicit") as ex:
            ex.log_param("note", "\udfff")
            ex.log_output(lineage.DataSet(uri="s3://b/surrogate", name="d"), path=("out\udc80", 1))
        [stored] = reader.executions([ex.id])
        assert stored["state"] == "COMPLETE" and stored["properties"]["note"] == "\udfff"
        [event] = reader.events_of_executions([ex.id])
        assert event["type"] == "OUTPUT" and event["path"] == "out\udc80.1"

        @lineage.track
        def fails() -> None:
            fails.id = lineage.current_execution().id
            raise ValueError("bad \ud800 value")

        with pytest.raises(ValueError, match="bad \ud800 value"):
            fails()
        [stored] = reader.executions([fails.id])
        assert stored["state"] == "FAILED"
        assert "bad \ud800 value" in json.dumps(stored["properties"], ensure_ascii=False)


class TestPropertyNamesEveryBackendTakes:
    """Property names are VARCHAR(255) on PostgreSQL and MySQL, and MySQL
    compares them ignoring case and trailing spaces: names past the limit or
    equal under that rule broke the whole write there (execution lost or
    left RUNNING)."""

    def test_too_long_or_reserved_in_any_case_is_refused_at_the_call(self, sqlite_url):
        lineage.init(store=sqlite_url, strict=True, start_delay=0)
        with lineage.execution("names") as ex:
            too_long = r"log_param\(name\) names are at most 255 bytes of UTF-8.*got 256"
            with pytest.raises(lineage.InvalidValueError, match=too_long):
                ex.log_param("é" * 128, 1)  # 128 characters, 256 bytes
            with pytest.raises(lineage.ReservedPropertyError, match="LINEAGE.END_TIME"):
                ex.log_param("LINEAGE.END_TIME", 1)
            with pytest.raises(lineage.ReservedPropertyError):
                ex.log_param("__KF_WORKSPACE__ ", 1)
        with pytest.raises(lineage.InvalidValueError, match=r"names are at most 255 bytes"):
            DataSet(uri="s3://b/n", name="n", **{"a\\" * 64: 1})  # a backslash is stored as 4 bytes
        with pytest.raises(lineage.InvalidValueError, match=r"'a' and 'A' differ only in case or trailing spaces"):
            DataSet(uri="s3://b/n", name="n", a=1, A=2)
        with pytest.raises(lineage.InvalidValueError, match=r"'b' and 'b ' differ only in case or trailing spaces"):
            DataSet(uri="s3://b/n", name="n", **{"b": 1, "b ": 2})

    def test_names_mysql_takes_as_one_are_recorded(self, any_url):
        lineage.init(store=any_url, strict=True, start_delay=0)
        longest = "é" * 127 + "x"  # 255 bytes
        metrics = Metrics(uri="s3://b/metrics", name="m", values={"acc": 0.5, "ACC": 0.25, "k" * 250: 1.0, "ok": 2.0})

        @lineage.track
        def fit(lr: float, LR: float, **more) -> Metrics:  # noqa: N803
            fit.id = lineage.current_execution().id
            return metrics

        fit(0.5, 0.25, **{"b": 1, "b ": 2, longest: 3})
        store = lineage.Store(url=any_url)
        reader = store._connection.reader
        [stored] = reader.executions([fit.id])
        assert stored["state"] == "COMPLETE"
        assert {k: stored["properties"][k] for k in ("lr", "LR", "b", "b ", longest)} == {
            "lr": 0.5, "LR": 0.25, "b": 1, "b ": 2, longest: 3  # read back: lineage.params has them all
        }
        [proto] = store.store.get_executions_by_id([fit.id])
        props = {k: v for k, v in proto.custom_properties.items()}
        assert (props["lr"].double_value, props["b"].int_value, props[longest].int_value) == (0.5, 1, 3)
        assert "LR" not in props and "b " not in props  # no typed copy: kept in lineage.params only
        assert json.loads(props["lineage.params"].string_value) == {"lr": 0.5, "LR": 0.25, "b": 1, "b ": 2, longest: 3}
        assert metrics.id is not None
        assert store.get_artifact(metrics.id).values == metrics.values
        custom = store.store.get_artifacts_by_id([metrics.id])[0].custom_properties
        assert custom["values.acc"].double_value == 0.5 and custom["values.ok"].double_value == 2.0
        assert "values.ACC" not in custom and not any(k.startswith("values.kkk") for k in custom)

    def test_names_mysql_takes_as_one_once_its_client_encodes_them_are_recorded(self, any_url):
        """MLMD's MySQL client sends UTF-8 bytes as latin1 characters, and the
        collation compares those without case or accents: "yaş" and "yağ"
        arrive as "yaÅŸ" and "yaÄŸ", one name there ("Given node already
        exists": the whole call was lost on MySQL only)."""
        lineage.init(store=any_url, strict=True, start_delay=0)
        metrics = Metrics(uri="s3://b/metrics", name="m", values={"yaş": 0.5, "yağ": 0.25})

        @lineage.track
        def fit(**more) -> Metrics:
            fit.id = lineage.current_execution().id
            return metrics

        fit(**{"yaş": 1, "yağ": 2, "É": 3, "é": 4})
        store = lineage.Store(url=any_url)
        [stored] = store._connection.reader.executions([fit.id])
        assert stored["state"] == "COMPLETE"
        assert {k: stored["properties"][k] for k in ("yaş", "yağ", "É", "é")} == {"yaş": 1, "yağ": 2, "É": 3, "é": 4}
        assert store.get_artifact(metrics.id).values == {"yaş": 0.5, "yağ": 0.25}
        custom = store.store.get_artifacts_by_id([metrics.id])[0].custom_properties
        assert "values.yağ" not in custom  # kept in __ALL_META__ only
        props = store.store.get_executions_by_id([fit.id])[0].custom_properties
        assert (props["yaş"].int_value, props["É"].int_value, props["é"].int_value) == (1, 3, 4)  # two names there
        assert "yağ" not in props  # kept in lineage.params only

    def test_an_extra_named_as_a_number_copy_in_another_case_is_recorded(self, any_url):
        """values.acc is the typed copy of Metrics.values["acc"]; an extra
        property "VALUES.acc" is one name with it on MySQL ("Given node
        already exists": the artifact and its execution were lost there only).
        The extra is the user's: it is stored, the copy left to __ALL_META__."""
        lineage.init(store=any_url, strict=True, start_delay=0)
        metrics = Metrics(uri="s3://b/m", name="m", values={"acc": 0.5, "loss": 0.25}, **{"VALUES.acc": "high"})
        model = Model(uri="s3://b/model", name="m", hyperparameters={"lr": 0.1}, **{"Hyperparameters.LR ": 2})
        with lineage.execution("fit") as ex:
            ex.log_output(metrics)
            ex.log_output(model)

        store = lineage.Store(url=any_url)
        assert (store.get_artifact(metrics.id), store.get_artifact(model.id)) == (metrics, model)
        [stored] = store.store.get_artifacts_by_id([metrics.id])
        custom = dict(stored.custom_properties)
        assert (custom["VALUES.acc"].string_value, custom["values.loss"].double_value) == ("high", 0.25)
        assert "values.acc" not in custom  # kept in __ALL_META__ only
        [summary] = store._connection.reader.executions([ex.id])
        assert summary["state"] == "COMPLETE"

    def test_extra_names_mysql_takes_as_one_once_encoded_are_refused_at_the_call(self):
        with pytest.raises(lineage.InvalidValueError, match=r"'yaş' and 'yağ' are one name .*MySQL"):
            DataSet(uri="s3://b/n", name="n", **{"yaş": 1, "yağ": 2})
        with pytest.raises(lineage.InvalidValueError, match=r"'Ê' and 'Ú' are one name .*MySQL"):
            DataSet(uri="s3://b/n", name="n", **{"Ê": 1, "Ú": 2})  # "ÃŠ" and "Ãš"
        DataSet(uri="s3://b/n", name="n", **{"é": 1, "É": 2, "e": 3, "è": 4})  # four names there


class TestFromAFuzzOfThePublicAPI:
    """Bad input that reached Python's own errors (or was taken) before."""

    def test_a_value_whose_repr_fails_is_named_not_raised_through(self):
        class Broken:
            def __repr__(self):
                raise RuntimeError("no repr")

        with pytest.raises(lineage.InvalidTypeError, match=r"labels.*<repr\(\) failed: RuntimeError> \(Broken\)"):
            DataSet(uri="s3://a", name="a", labels={"k": Broken()})

    def test_an_id_past_pythons_digit_limit_is_named(self):
        with pytest.raises(lineage.InvalidTypeError, match=r"Metrics.data_set_id must be a str, got <an int of 16610 bits>"):
            Metrics(uri="s3://m", name="m", data_set_id=10**5000)

    def test_an_int_past_pythons_digit_limit_is_a_parameter_by_its_size(self, tmp_path):
        store = lineage.Store(url=f"sqlite:///{tmp_path / 'x.db'}")
        with lineage.execution("big", store=store) as ex:
            ex.log_param("p", 10**5000)
            ex.log_param("q", 2**100)
        [e] = store.store.get_executions()
        assert e.custom_properties["p"].string_value == f"<an int of {(10**5000).bit_length()} bits>"
        assert e.custom_properties["q"].string_value == str(2**100)

    def test_a_pem_option_naming_a_fifo_is_refused_not_waited_on(self, tmp_path):
        """Reading a FIFO blocked the URL's parse (and lineage serve) for ever."""
        import threading

        from lineage.store import parse_store_url
        from lineage.store._server import TLSFiles, _read

        fifo = tmp_path / "ca.pem"
        os.mkfifo(fifo)
        outcome = {}

        def parse():
            try:
                parse_store_url(f"grpcs://h:1?root_certificates={fifo}")
            except Exception as exc:
                outcome["url"] = exc
            try:
                _read(str(fifo), "--tls-cert")
            except Exception as exc:
                outcome["serve"] = exc

        thread = threading.Thread(target=parse, daemon=True)
        thread.start()
        thread.join(20)
        if thread.is_alive():  # unblock it before failing
            with open(fifo, "wb"):
                pass
            pytest.fail("reading a FIFO blocked")
        assert isinstance(outcome["url"], lineage.InvalidStoreURLError) and "is not a regular file" in str(outcome["url"])
        assert isinstance(outcome["serve"], lineage.InvalidValueError) and "is not a regular file" in str(outcome["serve"])
        assert TLSFiles  # the server reads its files through _read

    def test_kubeflow_style_arguments(self, tmp_path):
        store = lineage.Store(url=f"sqlite:///{tmp_path / 'x.db'}")
        with pytest.raises(lineage.InvalidTypeError, match=r"reuse_workspace_if_exists' must be a bool, got 'no'"):
            lineage.Workspace(store=store, name="w", reuse_workspace_if_exists="no")
        with pytest.raises(lineage.InvalidValueError, match=r"Store\(root_certificates\) must be PEM"):
            lineage.Store("localhost", 1234, root_certificates="\xe9")
        assert store.store.get_contexts() == []

    def test_to_openlineage_producer_must_be_a_uri(self, tmp_path):
        store = lineage.Store(url=f"sqlite:///{tmp_path / 'x.db'}")
        with lineage.execution("e", store=store) as ex:
            out = ex.log_output(DataSet(uri="s3://o", name="o"))
        with pytest.raises(lineage.InvalidTypeError, match=r"to_openlineage\(producer\) must be the producer's URI.*3"):
            store.lineage(out).to_openlineage(producer=3)

    @pytest.mark.parametrize("name, text, default", [("LINEAGE_STRICT", "2", False), ("LINEAGE_HASH", "maybe", True)])
    def test_a_flag_that_is_not_yes_or_no_is_named(self, monkeypatch, name, text, default):
        from lineage import _config, _env
        from lineage.store import _digest

        monkeypatch.setenv(name, text)
        monkeypatch.setattr(_env, "_warned", set())
        read = _config.strict if name == "LINEAGE_STRICT" else _digest.env_default
        with pytest.warns(lineage.LineageWarning, match=rf"{name}='{text}' is not one of 1/true/yes/on or 0/false/no/off"):
            assert read() is default
        for text_given, value in (("TRUE", True), ("off", False)):
            monkeypatch.setenv(name, text_given)
            assert read() is value


class TestChangedInPlace:
    """A dict of a record changed in place after it was made is seen by no
    assignment's check: it failed at the write without a name (and a tracked
    call lost its whole execution), or was stored wrong (an int key)."""

    @pytest.mark.parametrize(
        "make, change, message",
        [
            (lambda: Model(uri="s3://m", name="m", hyperparameters={"lr": 0.1}),
             lambda r: r.hyperparameters.__setitem__("lr", __import__("decimal").Decimal("0.1")),
             r"Model.hyperparameters\['lr'\] must be JSON-able data .*Decimal"),
            (lambda: DataSet(uri="s3://d", name="d"), lambda r: r.extra.__setitem__("x", float("nan")),
             r"DataSet.extra\['x'\] must be a finite number, got nan"),
            (lambda: DataSet(uri="s3://d", name="d"), lambda r: r.extra.__setitem__("s", "\ud800"),
             r"DataSet.extra\['s'\] must be valid Unicode text"),
            (lambda: Metrics(uri="s3://m", name="m", values={"a": 1}), lambda r: r.values.__setitem__(3, 1),
             r"Metrics.values keys must be str, got key 3"),
        ],
    )
    def test_is_named_when_logged_and_nothing_is_written(self, tmp_path, make, change, message):
        store = Store(url=f"sqlite:///{tmp_path / 'x.db'}")
        record = make()
        change(record)
        ex = Execution(name="e", workspace=Workspace(store=store, name="w"))
        with pytest.raises(LineageError, match=message):
            ex.log_output(record)
        with pytest.raises(LineageError, match=message), lineage.execution("block", store=store) as block:
            block.log_input(record)
        assert store.store.get_artifacts() == []

    def test_a_tracked_call_keeps_the_rest_of_its_record(self, tmp_path):
        """The one record is left out with a warning; the execution and its other artifacts are written."""
        store = Store(url=f"sqlite:///{tmp_path / 'x.db'}")

        @lineage.track(store=store)
        def train(data: DataSet) -> Model:
            model = Model(uri="s3://m", name="m", hyperparameters={"lr": 0.1})
            model.hyperparameters["lr"] = object()
            return model

        with pytest.warns(lineage.LineageWarning, match=r"could not log the return value record .*hyperparameters\['lr'\]"):
            train(DataSet(uri="s3://d", name="d"))
        [e] = store.store.get_executions()
        [event] = store.store.get_events_by_execution_ids([e.id])
        assert (e.last_known_state, event.type) == (e.COMPLETE, event.INPUT)

    def test_what_is_checked_is_left_as_the_user_holds_it(self, tmp_path):
        """Checking changes nothing: the record keeps the dict the user holds
        (a copy put in its place stopped following the user's changes); a
        tuple put in place is stored as JSON gives it back."""
        store = Store(url=f"sqlite:///{tmp_path / 'x.db'}")
        values = {"a": 1}
        metrics = Metrics(uri="s3://m", name="m", values=values)
        held = metrics.values
        held["pair"] = (1, 2)
        with lineage.execution("e", store=store) as ex:
            ex.log_output(metrics)
        assert metrics.values is held and metrics.values == {"a": 1, "pair": (1, 2)}
        assert store.get_artifact(metrics.id).values == {"a": 1, "pair": [1, 2]}

    def test_with_recording_off_nothing_is_checked_nor_changed(self, tmp_path):
        """lineage.init(enabled=False): log_output records nothing, so it refuses nothing either."""
        lineage.init(store=f"sqlite:///{tmp_path / 'x.db'}", enabled=False)
        model = Model(uri="s3://m", name="m", hyperparameters={"lr": 0.1})
        model.hyperparameters["lr"] = __import__("decimal").Decimal("0.1")
        held = model.hyperparameters
        with lineage.execution("off") as ex:
            ex.log_output(model)
        assert model.hyperparameters is held

    def test_a_record_changed_after_it_was_logged_is_checked_as_a_new_one(self, tmp_path):
        """Its uri set anew (a new artifact) and a dict made bad: left out with a
        warning naming the field, the rest of the call written (the write had
        failed whole: no execution, nothing spooled); the Kubeflow API raises."""
        store = Store(url=f"sqlite:///{tmp_path / 'x.db'}")
        model = Model(uri="s3://m/1", name="m", hyperparameters={"lr": 0.1})
        Execution(name="train", workspace=Workspace(store=store, name="w")).log_output(model)
        model.uri = "s3://m/2"
        model.hyperparameters["lr"] = __import__("decimal").Decimal("0.2")

        @lineage.track(store=store, workspace="w")
        def evaluate(model: Model, data: DataSet) -> None:
            return None

        with pytest.warns(lineage.LineageWarning, match=r"Model.hyperparameters\['lr'\] must be JSON-able"):
            evaluate(model, DataSet(uri="s3://d", name="d"))
        [e] = store.store.get_executions_by_type("kubeflow.org/alpha/execution")[1:]
        [event] = store.store.get_events_by_execution_ids([e.id])
        assert [a.uri for a in store.store.get_artifacts_by_id([event.artifact_id])] == ["s3://d"]
        with pytest.raises(lineage.InvalidTypeError, match=r"Model.hyperparameters\['lr'\]"):
            Execution(name="again", workspace=Workspace(store=store, name="w")).log_input(model)
