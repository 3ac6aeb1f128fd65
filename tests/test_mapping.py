"""lineage._mapping: which names are secrets, and how a call's arguments bind."""

from __future__ import annotations

import datetime
import decimal
import enum
import inspect
import json
import logging
import os
import sys
import typing
import warnings
from pathlib import Path
from typing import Annotated, Dict, List, Optional, Sequence, Tuple, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubeflow.metadata import metadata

import lineage
from lineage import DataSet, Metrics, Model, _mapping, track
from lineage._mapping import REDACTED, Binder
from lineage._secrets import _is_secret, _secret_names
from tests import backends
from tests import mlmd_reads as mr


@pytest.fixture
def tracked_sqlite(tmp_path) -> lineage.Store:
    """lineage.init() on a fresh SQLite file; writes are synchronous."""
    url = backends.make_url("sqlite", tmp_path)
    lineage.init(store=url, workspace="ws", run="r1", strict=True, start_delay=0)
    return lineage.Store(url=url)


def params_of(props):
    """The call's parameters among an execution's custom properties."""
    return {k: v for k, v in props.items() if not k.startswith(("lineage.", "__"))}


# --------------------------------------------------------------------------- secrets

SECRET_NAMES = [
    "password",
    "secretkey",
    "authtoken",
    "githubaccesstoken",
    "db_password",
    "dbPassword",
    "DB_PASSWORD",
    "dbpassword",
    "passwd",
    "db_pass",
    "hf_token",
    "auth_token",
    "access_token",
    "githubToken",
    "HFToken",
    "api_key",
    "api-key",
    "apiKey",
    "APIKey",
    "openai_api_key",
    "apikey",
    "private_key",
    "secret",
    "client_secret",
    "aws_secret_access_key",
    "credentials",
    "db_credentials",
    "auth",
    "basic_auth",
    "authorization",
    "cookie",
    "session_key",
    "bearer",
    "token2",
]

NOT_SECRET_NAMES = [
    "max_tokens",
    "tokenizer",
    "num_passes",
    "author",
    "passage_len",
    "pad_token",
    "eos_token",
    "padToken",
    "max_token",
    "lr",
    "epochs",
    "batch_size",
    "keyboard",
    "passes",
    "compass",
    "tokens",
    "authority",
    "host",
    "kw.a",
]


class TestIsSecret:
    @pytest.mark.parametrize("name", SECRET_NAMES)
    def test_secret_names_are_redacted(self, name):
        assert _is_secret(name) is True

    @pytest.mark.parametrize("name", NOT_SECRET_NAMES)
    def test_ordinary_names_are_not_redacted(self, name):
        assert _is_secret(name) is False

    def test_the_answer_is_cached(self):
        """The per-name answer is kept in the small cache, and the cache gives the same answer."""
        _secret_names.clear()
        assert _is_secret("my_api_key") is True and _is_secret("max_tokens") is False
        assert _secret_names == {"my_api_key": True, "max_tokens": False}
        assert _is_secret("my_api_key") is True and _is_secret("max_tokens") is False

    def test_hyperparameters_are_kept_and_secrets_redacted(self, tracked_sqlite):
        """max_tokens and tokenizer are stored as given; api_key is ***, read back from MLMD."""

        @track
        def generate(prompt, max_tokens, tokenizer, api_key, pad_token="[PAD]"):
            return None

        generate("hi", max_tokens=512, tokenizer="bert", api_key="sk-123")
        props = mr.custom(mr.one_execution(tracked_sqlite, "generate"))
        assert params_of(props) == {
            "prompt": "hi",
            "max_tokens": 512,
            "tokenizer": "bert",
            "api_key": REDACTED,
            "pad_token": "[PAD]",
        }
        assert "sk-123" not in json.dumps(props)


# --------------------------------------------------------------------------- binding


# Each returns its arguments as Python bound them: the truth Binder must match.


def pos_only_and_kwargs(a, /, data: DataSet, **kw):
    return locals()


def everything(a, b=2, /, c=3, *rest, d, e=5, **kw):
    return locals()


def keyword_only(a, *, b, c=1):
    return locals()


def only_varargs(*args, **kwargs):
    return locals()


def pos_only_defaults(a, b=1, /):
    return locals()


def varargs_no_kwargs(x, y=2, *rest):
    return locals()


SIGNATURES = [pos_only_and_kwargs, everything, keyword_only, only_varargs, pos_only_defaults, varargs_no_kwargs]
KEYS = ["a", "b", "c", "d", "e", "x", "y", "z", "data", "rest", "kw", "args", "kwargs", "kw.a"]


def check_binding(func, args, kwargs):
    """Binder.bind agrees with the call itself and with inspect.signature(func).bind.

    CPython 3.11's Signature.bind wrongly rejects a keyword named like a
    positional-only parameter that has a default (``everything(1, b=6, d=4)``,
    CPython gh-87106), so the call itself decides what is valid.
    """
    sig = inspect.signature(func)
    binder = Binder(func)
    try:
        bound = func(*args, **kwargs)
    except TypeError as exc:
        with pytest.raises(TypeError):
            sig.bind(*args, **kwargs)
        if "missing" not in str(exc):  # a missing argument is left to the function to report
            with pytest.raises(TypeError):
                binder.bind(args, kwargs, bound_method=False)
        return
    try:
        by_inspect = sig.bind(*args, **kwargs)
    except TypeError:
        assert sys.version_info < (3, 12)
    else:
        by_inspect.apply_defaults()
        assert dict(by_inspect.arguments) == bound
    got = binder.bind(args, dict(kwargs), bound_method=False)
    named, extra = {}, {}
    for name, value in bound.items():
        kind = sig.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            extra = value
        elif kind is not inspect.Parameter.VAR_POSITIONAL or value:  # an empty *args is left out
            named[name] = value
    # Every named parameter has its own value, under its own name.
    for name, value in named.items():
        assert got[name] == value, (name, got)
    # Every **kwargs item is there too: under its own name, or "kw.<name>"
    # when a parameter already holds that name.
    rest = {k: v for k, v in got.items() if k not in named}
    assert len(rest) == len(extra), (got, bound)
    for key, value in extra.items():
        if key in named:  # e.g. "kw.a" ("kw.kw.a" if the call also passed "kw.a")
            renamed = [k for k in rest if k.startswith(binder.var_keyword + ".") and k.endswith("." + key) and k not in extra]
            assert value in [rest[k] for k in renamed], (key, got)
        else:
            assert rest[key] == value, (key, got)


class TestBinder:
    def test_positional_only_name_in_kwargs(self):
        binder = Binder(pos_only_and_kwargs)
        d = DataSet(uri="s3://10/d", name="d")
        assert binder.bind((1, d), {"a": 6}, bound_method=False) == {"a": 1, "data": d, "kw.a": 6}
        # no collision: the flat name, as for any other **kwargs item
        assert binder.bind((1, d), {"b": 6}, bound_method=False) == {"a": 1, "data": d, "b": 6}

    def test_positional_only_default_and_varargs_names_in_kwargs(self):
        got = Binder(everything).bind((1, 9, 8, 7), {"b": 6, "rest": 7, "d": 4}, bound_method=False)
        assert got == {"a": 1, "b": 9, "c": 8, "rest": (7,), "d": 4, "e": 5, "kw.b": 6, "kw.rest": 7}
        # *rest got nothing: a "rest" keyword hides no value and keeps its name
        got = Binder(everything).bind((1,), {"rest": 7, "d": 4}, bound_method=False)
        assert got == {"a": 1, "d": 4, "b": 2, "c": 3, "e": 5, "rest": 7}
        got = Binder(everything).bind((1,), {"a": 6, "d": 4}, bound_method=False)
        assert got == {"a": 1, "d": 4, "b": 2, "c": 3, "e": 5, "kw.a": 6}

    def test_method_call_keeps_a_kwarg_named_like_self(self):
        """Through an instance the first parameter is bound already: a "self" keyword goes to **kwargs."""

        def fit(self, a, /, **kw):
            return None

        got = Binder(fit).bind((1,), {"a": 2, "self": 3, "b": 4}, bound_method=True)
        assert got == {"a": 1, "kw.a": 2, "kw.self": 3, "b": 4}

    def test_positional_only_as_keyword_without_kwargs_is_a_type_error(self):
        with pytest.raises(TypeError):
            Binder(pos_only_defaults).bind((1,), {"b": 2}, bound_method=False)
        with pytest.raises(TypeError):
            Binder(pos_only_defaults).bind((), {"a": 2}, bound_method=False)
        with pytest.raises(TypeError):
            Binder(varargs_no_kwargs).bind((1, 2, 3), {"rest": 2}, bound_method=False)

    @pytest.mark.parametrize(
        "func, args, kwargs",
        [
            (pos_only_and_kwargs, (1, "d"), {"a": 6}),
            (pos_only_and_kwargs, (1,), {"data": "d", "a": 6, "kw": 7}),
            (pos_only_and_kwargs, (1, "d", 3), {}),
            (everything, (1, 2, 3, 4, 5), {"d": 6, "a": 7, "b": 8, "rest": 9}),
            (everything, (1,), {"c": 6, "d": 7}),
            (everything, (0,), {"a": 0, "b": 0, "c": 0, "d": 0}),  # inspect.bind on 3.11 rejects it; Python does not
            (everything, (1,), {"c": 6}),
            (everything, (1, 2, 3), {"c": 6, "d": 7}),
            (keyword_only, (1,), {"b": 2}),
            (keyword_only, (1, 2), {"b": 2}),
            (keyword_only, (), {"a": 1, "b": 2, "c": 3}),
            (keyword_only, (1,), {"b": 2, "z": 3}),
            (only_varargs, (1, 2), {"args": 3, "kwargs": 4}),
            (only_varargs, (), {}),
            (pos_only_defaults, (1,), {}),
            (pos_only_defaults, (1, 2), {}),
            (pos_only_defaults, (1, 2, 3), {}),
            (varargs_no_kwargs, (1, 2, 3), {}),
            (varargs_no_kwargs, (1,), {"y": 3}),
            (varargs_no_kwargs, (1,), {"x": 3}),
        ],
    )
    def test_agrees_with_python_and_inspect(self, func, args, kwargs):
        check_binding(func, args, kwargs)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        func=st.sampled_from(SIGNATURES),
        args=st.lists(st.integers(), max_size=6),
        kwargs=st.dictionaries(st.sampled_from(KEYS), st.integers(), max_size=5),
    )
    def test_agrees_with_python_and_inspect_on_any_call(self, func, args, kwargs):
        check_binding(func, tuple(args), kwargs)

    def test_tracked_call_with_positional_only_name_in_kwargs(self, tracked_sqlite):
        """f(1, data, a=6) for def f(a, /, data, **kw) records a=1, kw.a=6 and data as an input."""

        @track
        def f(a, /, data: DataSet, **kw):
            return kw

        assert f(1, DataSet(uri="s3://10/d", name="d"), a=6) == {"a": 6}
        e = mr.one_execution(tracked_sqlite, "f")
        assert mr.state(e) == "COMPLETE"
        assert params_of(mr.custom(e)) == {"a": 1, "kw.a": 6}
        assert mr.paths(tracked_sqlite, e.id) == [("INPUT", ("data",), "s3://10/d")]

    def test_record_in_a_colliding_kwarg_is_an_input(self, tracked_sqlite):
        """A record passed in **kwargs under a positional-only parameter's name is still an input."""

        @track
        def f(a: str, /, **kw):
            return None

        f("plain", a=DataSet(uri="s3://10/k", name="k"), b=2)
        e = mr.one_execution(tracked_sqlite, "f")
        assert params_of(mr.custom(e)) == {"a": "plain", "b": 2}
        assert mr.paths(tracked_sqlite, e.id) == [("INPUT", ("kw.a",), "s3://10/k")]

    def test_exclude_inputs_and_annotation_of_kwargs_cover_its_items(self, tracked_sqlite, tmp_path):
        """exclude=["kw"], inputs=["kw"] and ``**kw: DataSet`` apply to every item
        of **kw (before, they named nothing and were silently ignored)."""
        path = tmp_path / "train.csv"
        path.write_text("x\n")

        @track(exclude=["kw"])
        def dropped(lr, **kw):
            return None

        @track(inputs=["kw"])
        def only_kw(d: DataSet, **kw):
            return None

        @track
        def annotated(**files: DataSet):
            return None

        dropped(0.1, secret_path="x", n=3)
        only_kw(DataSet(uri="s3://k/d", name="d"), extra=DataSet(uri="s3://k/e", name="e"), n=3)
        annotated(train=str(path))
        e = mr.one_execution(tracked_sqlite, "dropped")
        assert params_of(mr.custom(e)) == {"lr": 0.1}
        e = mr.one_execution(tracked_sqlite, "only_kw")
        assert mr.paths(tracked_sqlite, e.id) == [("INPUT", ("extra",), "s3://k/e")]
        assert "n" in params_of(mr.custom(e)) and "d" in params_of(mr.custom(e))
        e = mr.one_execution(tracked_sqlite, "annotated")
        [(kind, step, uri)] = mr.paths(tracked_sqlite, e.id)
        assert (kind, step) == ("INPUT", ("train",)) and uri.endswith("train.csv")


# --------------------------------------------------------------------------- collections of a record class


class TestCollectionAnnotations:
    """Paths in a collection annotated with a record class become records,
    as a single ``path: DataSet`` does (they were stored as a parameter)."""

    def test_arguments(self, tracked_sqlite, tmp_path):
        files = []
        for name in ("a.csv", "b.csv"):
            (tmp_path / name).write_text(name)
            files.append(str(tmp_path / name))
        a, b = files

        @track
        def lst(ps: List[DataSet]):
            return None

        @track
        def seq(ps: Optional[Sequence[DataSet]], n: int = 1):
            return None

        @track
        def tup(ps: Tuple[DataSet, ...]):
            return None

        @track
        def dct(ps: Dict[str, DataSet]):
            return None

        @track
        def star(*ps: DataSet):
            return None

        @track
        def builtin(ps: list[DataSet]):
            return None

        lst([a, b])
        seq([a, Path(b)])
        tup((a,))
        dct({"train": a, "test": b})
        star(a, b)
        builtin([a])
        expected = {
            "lst": [("INPUT", ("ps", 0), "file://" + a), ("INPUT", ("ps", 1), "file://" + b)],
            "seq": [("INPUT", ("ps", 0), "file://" + a), ("INPUT", ("ps", 1), "file://" + b)],
            "tup": [("INPUT", ("ps", 0), "file://" + a)],
            "dct": [("INPUT", ("ps", "test"), "file://" + b), ("INPUT", ("ps", "train"), "file://" + a)],
            "star": [("INPUT", ("ps", 0), "file://" + a), ("INPUT", ("ps", 1), "file://" + b)],
            "builtin": [("INPUT", ("ps", 0), "file://" + a)],
        }
        for name, events in expected.items():
            e = mr.one_execution(tracked_sqlite, name)
            assert sorted(mr.paths(tracked_sqlite, e.id)) == events, name
            assert "ps" not in params_of(mr.custom(e)), name

    def test_return_value(self, tracked_sqlite, tmp_path):
        @track
        def produce() -> list[Model]:
            return [str(tmp_path / "m1.pt"), "s3://bucket/m2.pt"]

        @track
        def by_name() -> Dict[str, Model]:
            return {"best": "s3://bucket/best.pt"}

        produce()
        by_name()
        e = mr.one_execution(tracked_sqlite, "produce")
        assert mr.paths(tracked_sqlite, e.id) == [
            ("OUTPUT", ("return", 0), "file://" + str(tmp_path / "m1.pt")),
            ("OUTPUT", ("return", 1), "s3://bucket/m2.pt"),
        ]
        e = mr.one_execution(tracked_sqlite, "by_name")
        assert mr.paths(tracked_sqlite, e.id) == [("OUTPUT", ("return", "best"), "s3://bucket/best.pt")]

    def test_a_returned_value_its_annotation_calls_a_record_but_is_none_is_said(self, tracked_sqlite):
        """-> Metrics returning a dict of scores, -> Model a fitted estimator:
        nothing was recorded, without a word. Said once per record class and
        type of value; None (Optional[Model]) and records are not said."""
        import warnings

        class Estimator:
            pass

        @track
        def evaluate() -> Metrics:
            return {"accuracy": 0.9}

        @track
        def fit() -> Tuple[Model, Metrics]:
            return Estimator(), Metrics(uri="s3://w/m", name="m")

        @track
        def maybe() -> Optional[Model]:
            return None

        with pytest.warns(lineage.LineageWarning) as caught:
            evaluate()
            evaluate()
            fit()
        said = [str(w.message) for w in caught]
        assert len(said) == 2
        assert said[0] == (
            "the value returned (return) is annotated Metrics but is {'accuracy': 0.9} (dict), which is no Metrics "
            "(nor a path or URI, as a str or Path, to make one of): it is not recorded as an output (return a Metrics)"
        )
        assert said[1].startswith("the value returned (return/0) is annotated Model but is <")
        assert said[1].endswith("(Estimator), which is no Model (nor a path or URI, as a str or Path, to make one of): "
                                "it is not recorded as an output (return a Model, or map "
                                f"{Estimator.__qualname__} with lineage.register_converter)")
        assert all(w.filename == __file__ for w in caught)  # at the call, in the user's code
        with warnings.catch_warnings(record=True) as again:
            warnings.simplefilter("always")
            maybe()
        assert [str(w.message) for w in again] == []
        assert [p for _, p, _ in mr.paths(tracked_sqlite, mr.one_execution(tracked_sqlite, "fit").id)] == [("return", 1)]

    def test_where_warnings_are_errors_the_records_beside_a_value_not_mapped_are_outputs(self, tracked_sqlite, caplog):
        """Under -W error the not-mapped warning was raised inside the
        mapping of the return value: _fail_open took it ("lineage could not
        map the return value") and the Model beside it was no output."""
        lineage.init(strict=False)

        @track
        def fit() -> Tuple[Model, Metrics]:
            return Model(uri="s3://w/fitted", name="fitted"), {"accuracy": 0.9}  # type: ignore[return-value]

        with caplog.at_level(logging.WARNING, logger="lineage"), warnings.catch_warnings():
            warnings.simplefilter("error")
            model, _ = fit()
        assert model.id is not None
        assert [p for _, p, _ in mr.paths(tracked_sqlite, mr.one_execution(tracked_sqlite, "fit").id)] == [("return", 0)]
        said = [r.getMessage() for r in caplog.records]
        assert len(said) == 1
        assert said[0].startswith("the value returned (return/1) is annotated Metrics but is {'accuracy': 0.9}")

    def test_a_path_with_uri_syntax_in_it_is_the_uri_of_that_file(self, tracked_sqlite, tmp_path):
        """"x #1.csv" became file:///.../x #1.csv, which names "x " (the rest
        is a fragment): a missing file, so no digest, and changed bytes were
        the same artifact. "%", "?" and "#" are escaped; other characters
        (spaces, non-ASCII) are left as they were."""
        import hashlib

        folder = tmp_path / "my data ü"
        folder.mkdir()
        files = [folder / name for name in ("x #1.csv", "50%41 of it?.csv")]
        for path in files:
            path.write_text(path.name)

        @track
        def use(d: DataSet, e: DataSet) -> None:
            return None

        use(str(files[0]), files[1])
        events = mr.events(tracked_sqlite, mr.one_execution(tracked_sqlite, "use").id)
        assert [artifact.uri for _, _, artifact in events] == [
            f"file://{folder}/x %231.csv", f"file://{folder}/50%2541 of it%3F.csv"
        ]
        for (_, _, artifact), path in zip(events, files):
            props = mr.custom(artifact)
            assert props["lineage.digest"] == "sha256:" + hashlib.sha256(path.name.encode()).hexdigest(), props

    def test_a_path_without_uri_syntax_pays_no_escaping(self, monkeypatch):
        """A path argument annotated as a record is mapped on every call:
        its URI was translated character by character (about 2 us, a sixth
        of the mapping of the path) even when it held no "%", "?" or "#"."""
        looked_up = []

        class Counting(dict):
            def __getitem__(self, key):
                looked_up.append(key)
                return super().__getitem__(key)

        monkeypatch.setattr(_mapping, "_URI_SYNTAX", Counting(_mapping._URI_SYNTAX))
        assert _mapping.path_to_record("/data/mnist/train.csv", DataSet).uri == "file:///data/mnist/train.csv"
        assert looked_up == []
        record = _mapping.path_to_record("/data/x #1.csv", DataSet)
        assert (record.uri, record.name) == ("file:///data/x %231.csv", "x #1.csv")
        assert looked_up  # escaped through the table, as before

    def test_other_collections_of_strings_stay_parameters(self, tracked_sqlite):
        @track
        def f(names: List[str]):
            return None

        f(["a.csv"])
        e = mr.one_execution(tracked_sqlite, "f")
        assert params_of(mr.custom(e))["names"] == {"items": ["a.csv"]}  # a list is kept as its JSON
        assert mr.paths(tracked_sqlite, e.id) == []


# --------------------------------------------------------------------------- numbers named like secrets


class TestNumbersAreNeverSecrets:
    """A bool or None is no credential, nor is a number whose name only
    mentions a secret: ``token_limit=4096`` is kept (before, every value of a
    secret-looking name was ``***``); ``password=123456`` is not."""

    @pytest.mark.parametrize(
        "name, value", [("password", 123456), ("db_password", 31415), ("api_key", 1234), ("githubToken", 98), ("secret", 3.14)]
    )
    def test_a_number_named_as_the_secret_is_redacted(self, name, value):
        import lineage._mapping as _m

        assert _m.param_value(name, value) == REDACTED

    @pytest.mark.parametrize(
        "name, value",
        [
            ("token_limit", 4096),
            ("token_dropout", 0.1),
            ("pass_at_k", 10),
            ("second_pass", True),
            ("password_min_len", 8),
            ("auth_retries", None),
            ("secret_seed", 2**70),  # kept as its repr, like any int past 64 bits
        ],
    )
    def test_numbers_are_kept(self, name, value):
        import lineage._mapping as _m

        assert _is_secret(name)
        assert _m.param_value(name, value) == (repr(value) if value == 2**70 else value)

    @pytest.mark.parametrize("value", ["4096", b"sk-123", ["sk-1"], (1, 2), {"k": "v"}, object()])
    def test_other_values_of_secret_names_are_redacted(self, value):
        """Any other value of a name about a secret (token_dropout) or
        holding it (api_key); of a setting's name (token_limit) any but its
        text, which is kept unless it looks like a token, and a list or
        tuple of such values, judged item by item (TestSettingsOfASecret)."""
        import lineage._mapping as _m

        assert _m.param_value("token_dropout", value) == REDACTED
        assert _m.param_value("api_key", value) == REDACTED
        kept = value if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else REDACTED
        assert _m.param_value("token_limit", value) == kept

    def test_tracked_call_keeps_numeric_hyperparameters(self, tracked_sqlite):
        """The repro of the bug, read back from MLMD, lineage.params included."""

        @track
        def finetune(token_limit=4096, token_dropout=0.1, pass_at_k=10, second_pass=True, password_min_len=8, api_key="sk-123"):
            return None

        finetune()
        props = mr.custom(mr.one_execution(tracked_sqlite, "finetune"))
        params = params_of(props)
        assert params["token_limit"] == 4096 and params["pass_at_k"] == 10 and params["password_min_len"] == 8
        assert params["token_dropout"] == pytest.approx(0.1)
        assert params["second_pass"] in (True, 1, "true", "True")
        assert params["api_key"] == REDACTED
        assert "sk-123" not in json.dumps(props)
        if "lineage.params" in props:
            recorded = json.loads(props["lineage.params"])
            assert recorded["token_limit"] == 4096 and recorded["api_key"] == REDACTED


class TestSettingsOfASecret:
    """A parameter naming a setting, a name, a place or a count of a secret
    (token_pooling="cls", auth_method="oauth", secret_name="db",
    password_file="/run/pw") was recorded as ***, though the command line
    keeps --token-pooling cls: the user lost the settings they ran with.
    Parameters and flags are now judged by one rule (lineage._secrets), so a
    setting's text is kept unless it looks like a token, and a name holding
    the secret (password_value=123456, kept as a number before) hides it."""

    KEPT = [
        ("token_pooling", "cls"),
        ("auth_method", "oauth"),
        ("secret_name", "db"),
        ("token_type", "bearer"),
        ("auth_provider", "google"),
        ("password_file", "/run/pw"),
        ("token_limit", "512"),
        ("token_limit", 512),
        ("secretName", "prod-db"),
        ("secret_names", "a,b"),
        ("auth_scheme", "Basic"),
        ("use_auth_token", True),
    ]
    HIDDEN = [
        *[(name, "hunter2") for name in ("password", "api_key", "token", "client_secret", "hf_token", "db_password")],
        *[(name, 123456) for name in ("password", "api_key", "db_password", "password_value", "token_data")],
        ("secret_name", "AbCdEf0123456789xyzXYZ99"),  # looks like a token: under any name about a secret
        ("token_pooling", "hf_AbCdEf0123456789xyz"),
        ("auth_method", "0123456789abcdef0123456789abcdef"),
        ("password_value", "x"),
        ("secret_id", "s"),  # Vault's secret_id is a credential: "id" is no setting
        ("auth_header", "Bearer abc/def"),
        ("token_dropout", "0.1"),
        ("use_auth_token", "hunter2"),  # transformers' use_auth_token=<token>: in Python, the value is the flag's
        ("secret_name", b"db"),
        ("auth_method", ["oauth", "hf_AbCdEf0123456789xyz"]),  # a list is judged item by item
        ("auth_scopes", [["read"]]),  # a list in it: not judged
        ("auth_scopes", ["read", {"k": "v"}]),
        ("auth_scopes", ["read"] * 65),  # too many items to judge on every call
        ("token_type", {"k": "v"}),
    ]

    @pytest.mark.parametrize("name, value", KEPT)
    def test_a_setting_of_a_secret_is_kept(self, name, value):
        assert _mapping.param_value(name, value) == value

    @pytest.mark.parametrize(
        "name",
        [
            *("api_keys", "apiKeys", "passwords", "db_passwords", "access_keys"),
            *("private_keys", "access_tokens", "apitokens", "hf_secrets"),
        ],
    )
    def test_a_plural_secret_name_hides_its_values(self, name):
        """api_keys=["sk-..."] holds several secrets: it was kept in clear (only the singular was a secret's name)."""
        assert _mapping.param_value(name, ["sk-AbCdEf0123456789xyzXYZ", "hunter2"]) == REDACTED

    @pytest.mark.parametrize(
        "name",
        [
            *("session_tokens", "refresh_tokens", "id_tokens", "oauth_tokens", "jwt_tokens", "csrf_tokens"),
            *("github_tokens", "refreshTokens", "sessionTokens", "refreshtokens", "refreshtoken", "bearertoken"),
        ],
    )
    def test_the_plural_of_a_kind_of_token_hides_its_values(self, name):
        """session_tokens=[...], refresh_tokens=[...], id_tokens were kept in
        clear (a plural "tokens" is NLP's, max_tokens), where access_tokens
        was hidden: "tokens" after a word naming a kind of credential is a
        secret's name too, as a parameter and as a flag."""
        from lineage._provenance import _redacted

        assert _mapping.param_value(name, ["hunter2", "s3cret"]) == REDACTED
        assert _mapping.param_value("cfg", {name: ["hunter2"], "lr": 0.1}) == {name: REDACTED, "lr": 0.1}
        argv = ["train.py", "--" + name, "hunter2", f"--{name}=x"]
        assert _redacted(argv) == ["train.py", "--" + name, REDACTED, f"--{name}=***"]

    @pytest.mark.parametrize("name", ["max_session_tokens", "num_id_tokens", "min_refresh_tokens", "n_session_tokens"])
    def test_a_count_of_a_kind_of_token_keeps_its_number(self, name):
        """max_session_tokens=4096 (an LLM session's budget) was kept until
        "tokens" after session, id, refresh... named secrets: it was then
        hidden, every value, as session_tokens' are. A count of them keeps a
        number, as token_limit does; text under it is still hidden."""
        from lineage._provenance import _redacted

        assert _mapping.param_value(name, 4096) == 4096
        assert _mapping.param_value(name, "hunter2") == REDACTED
        assert _redacted(["chat.py", "--" + name.replace("_", "-"), "4096"]) == ["chat.py", "--" + name.replace("_", "-"), "4096"]

    @pytest.mark.parametrize("value", ["hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "ghp_AbCdEf0123456789AbCdEf0123456789abcd"])
    def test_a_known_service_s_token_is_hidden_under_any_name(self, value):
        """model="hf_...", {"hub": "ghp_..."}: a token the command line hid
        under any flag was kept as a parameter, under a name with no secret word."""
        assert _mapping.param_value("model", value) == REDACTED
        assert _mapping.param_value("cfg", {"hub": value, "lr": 0.1}) == {"hub": REDACTED, "lr": 0.1}

    @pytest.mark.parametrize("value", ["hf_checkpoint_epoch10.bin", "sk-learn", "hf-internal-testing/tiny-bert", "bert-base"])
    def test_a_word_or_file_with_a_token_s_prefix_is_kept(self, value):
        assert _mapping.param_value("model", value) == value

    @pytest.mark.parametrize(
        "name",
        [
            *("max_tokens", "special_tokens", "prompt_tokens", "num_tokens", "keys", "passes"),
            *("tokens", "user_tokens", "hf_tokens", "input_tokens", "new_tokens", "validtokens", "stop_tokens"),
        ],
    )
    def test_a_plural_that_is_no_secret_is_kept(self, name):
        assert _mapping.param_value(name, ["<pad>", "a"]) == ["<pad>", "a"]

    @pytest.mark.parametrize("name, value", HIDDEN)
    def test_a_secret_is_still_hidden(self, name, value):
        assert _mapping.param_value(name, value) == REDACTED

    def test_an_enum_member_given_a_setting_is_judged_by_its_text(self):
        """auth_method=AuthMethod.OAUTH was ***, where auth_method="oauth"
        is kept: a plain Enum member is now judged by the text it is stored
        as (AuthMethod.OAUTH), in a dict and a config too; one whose text
        looks like a token is still hidden, and under a name holding the
        secret any member is."""
        import dataclasses

        class AuthMethod(enum.Enum):
            OAUTH = "oauth"
            BASIC = 2

        class Opaque(enum.Enum):
            AbCdEf0123456789xyzXYZ99 = 1

        @dataclasses.dataclass
        class Cfg:
            auth_method: AuthMethod

        assert _mapping.param_value("auth_method", AuthMethod.OAUTH) == "AuthMethod.OAUTH"
        assert _mapping.param_value("token_type", AuthMethod.BASIC) == "AuthMethod.BASIC"
        assert _mapping.param_value("cfg", {"auth_method": AuthMethod.OAUTH}) == {"auth_method": "AuthMethod.OAUTH"}
        assert _mapping.param_value("cfg", Cfg(AuthMethod.OAUTH)).endswith("Cfg(auth_method='AuthMethod.OAUTH')")
        assert _mapping.param_value("auth_method", Opaque.AbCdEf0123456789xyzXYZ99) == REDACTED
        assert _mapping.param_value("password", AuthMethod.OAUTH) == REDACTED
        assert _mapping.param_value("auth_header", AuthMethod.OAUTH) == REDACTED

    def test_a_list_of_words_given_a_setting_is_judged_item_by_item(self):
        """auth_scopes=["read", "write"] was ***, where auth_scope="read" is
        kept: a list, tuple or set of simple items (words, numbers, paths,
        Enum members) is now judged item by item, by the rule of a str; one
        item that looks like a token hides it whole, in a dict too."""
        assert _mapping.param_value("auth_scopes", ["read", "write"]) == ["read", "write"]
        assert _mapping.param_value("auth_method", ("oauth", 2, None, Path("/run/pw"))) == ["oauth", 2, None, "/run/pw"]
        assert _mapping.param_value("token_types", {"id", "access"}) == ["access", "id"]
        assert _mapping.param_value("cfg", {"auth_scopes": ["read"]}) == {"auth_scopes": ["read"]}
        assert _mapping.param_value("auth_scopes", ["read", "sk-AbCdEf0123456789"]) == REDACTED
        assert _mapping.param_value("cfg", {"auth_scopes": ["read", "sk-AbCdEf0123456789"]}) == {"auth_scopes": REDACTED}
        assert _mapping.param_value("secrets", ["read", "write"]) == REDACTED  # a name holding secrets hides any

    def test_a_path_given_a_file_setting_is_kept(self):
        assert _mapping.param_value("password_file", Path("/run/pw")) == "/run/pw"
        assert _mapping.param_value("token_path", Path("hf_AbCdEf0123456789xyz")) == REDACTED

    @pytest.mark.parametrize("name", list(dict.fromkeys(name for name, _ in KEPT + HIDDEN)))
    @pytest.mark.parametrize("value", ["cls", "hunter2", "x", "Bearer abc", "AbCdEf0123456789xyzXYZ99", "hf_AbCdEf0123456789xyz"])
    def test_a_parameter_is_hidden_as_the_same_flag_on_the_command_line(self, name, value):
        """The same text, given a parameter or a flag of that name, is hidden
        alike (a switch's flag, --use-auth-token, is left out: its next word
        may not be its value, which a parameter's always is)."""
        from lineage._provenance import _given_hidden

        if name.startswith("use_"):
            return
        assert _mapping._hides(name, value) == _given_hidden("--" + name.replace("_", "-"), value)

    JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

    @pytest.mark.parametrize(
        "name, value",
        [
            ("auth_url", "postgres://admin:hunter2@db.example.com/prod"),
            ("token_endpoint", "https://ghp_AbCdEf0123456789xyz@github.com/o/r.git"),
            ("token_url", "https://h.example.com/x?access_token=hunter2"),
            ("secret_source", "host=db password=hunter2"),
            ("auth_type", "Bearer " + JWT),
            ("secret_store", {"url": "postgres://admin:hunter2@db/prod"}),
        ],
    )
    def test_a_setting_s_text_holding_a_secret_is_hidden(self, name, value):
        """A URL's password, a query's or a connection string's secret, or a
        token among words, under a setting's name: hidden whole (a parameter
        cannot be shown in part, as the command line is), as before the
        settings were kept (they were shown, the password with them)."""
        assert _mapping.param_value(name, value) == REDACTED
        assert _mapping.param_value("cfg", {name: value}) == {name: REDACTED}

    @pytest.mark.parametrize(
        "name, value",
        [("token_url", "https://oauth2.googleapis.com/token"), ("auth_user", "admin@example.com"), ("token_type", "Bearer")],
    )
    def test_a_setting_s_url_or_user_without_a_secret_is_kept(self, name, value):
        assert _mapping.param_value(name, value) == value

    @pytest.mark.parametrize("name", ["password_for_user", "api_key_for_provider", "secret_of_host", "tokenForServer"])
    def test_a_secret_named_for_what_it_is_for_is_hidden(self, name):
        """password_for_user ends with a setting's word (user), but is the
        password: it was recorded in clear once settings were kept (*** before).
        A name is judged by its words before "for" or "of", on the command
        line too; token_limit_of_user is still a setting."""
        from lineage._provenance import _redacted

        assert _mapping.param_value(name, "hunter2") == REDACTED
        assert _mapping.param_value(name, 1234) == REDACTED
        assert _redacted(["train.py", "--" + name, "hunter2"]) == ["train.py", "--" + name, REDACTED]
        assert _mapping.param_value("token_limit_of_user", "512") == "512"

    def test_tracked_call_keeps_settings_and_hides_secrets(self, tracked_sqlite):
        """Read back from MLMD: arguments, a dict's keys, a NamedTuple's, a
        dataclass config's and a partial's."""
        import dataclasses
        import functools

        class Auth(typing.NamedTuple):
            auth_method: str
            password: str

        @dataclasses.dataclass
        class Cfg:
            token_pooling: object
            client_secret: object

        def connect(secret_name, api_key):
            return None

        @track
        def embed(token_pooling, auth_method, secret_name, token_limit, hf_token, db, login, cfg, conn, password_value=123456):
            return None

        embed(
            "cls",
            "oauth",
            "db",
            512,
            "hf_SECRETabcdef0123456789",
            {"auth_method": "oauth", "password": "hunter2-SECRET", "token_limit": "4096"},
            Auth("oauth", "hunter2-SECRET"),
            Cfg("cls", "SECRET"),
            functools.partial(connect, secret_name="db", api_key="sk-SECRET"),
        )
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "embed")))
        assert {key: params[key] for key in ("token_pooling", "auth_method", "secret_name", "token_limit")} == {
            "token_pooling": "cls",
            "auth_method": "oauth",
            "secret_name": "db",
            "token_limit": 512,
        }
        assert params["hf_token"] == REDACTED and params["password_value"] == REDACTED
        assert params["db"] == {"auth_method": "oauth", "password": REDACTED, "token_limit": "4096"}
        assert params["login"] == {"items": ["oauth", REDACTED]}  # a NamedTuple: the list of its values
        assert params["cfg"].endswith("Cfg(token_pooling='cls', client_secret='***')")
        assert "secret_name='db'" in params["conn"] and "api_key='***'" in params["conn"]
        assert "SECRET" not in json.dumps(params) and "123456" not in json.dumps(params)


# --------------------------------------------------------------------------- inputs= naming an un-annotated argument


class TestInputsNamingAPlainArgument:
    """``@track(inputs=["src"])`` on a parameter without a record annotation
    (before, a path or URI there was recorded neither as input nor parameter)."""

    def test_uri_string_becomes_a_dataset_input(self, tracked_sqlite):
        @track(inputs=["src"])
        def train(src, lr=0.1):
            return None

        train("s3://bucket/train.csv", lr=0.5)
        e = mr.one_execution(tracked_sqlite, "train")
        [(kind, step, artifact)] = mr.events(tracked_sqlite, e.id)
        assert (kind, step, artifact.uri) == ("INPUT", ("src",), "s3://bucket/train.csv")
        [artifact_type] = tracked_sqlite.store.get_artifact_types_by_id([artifact.type_id])
        assert artifact_type.name == DataSet.ARTIFACT_TYPE_NAME
        assert mr.value(artifact.properties["name"]) == "train.csv"
        assert params_of(mr.custom(e)) == {"lr": 0.5}

    def test_path_becomes_a_file_dataset_input(self, tracked_sqlite, tmp_path):
        path = tmp_path / "data.csv"
        path.write_text("x\n")

        @track(inputs=["src"])
        def load(src):
            return None

        load(path)
        e = mr.one_execution(tracked_sqlite, "load")
        assert mr.paths(tracked_sqlite, e.id) == [("INPUT", ("src",), "file://" + str(path))]
        assert params_of(mr.custom(e)) == {}

    def test_a_value_that_is_no_record_is_a_parameter(self, tracked_sqlite):
        """Named in inputs= but holding a number, an empty string or a list of
        numbers: recorded as a parameter rather than dropped."""

        @track(inputs=["a", "b", "c", "d"])
        def f(a, b, c, d: DataSet):
            return None

        f(3, "", [1, 2], 7)
        e = mr.one_execution(tracked_sqlite, "f")
        assert mr.paths(tracked_sqlite, e.id) == []
        params = params_of(mr.custom(e))
        assert params["a"] == 3 and params["b"] == "" and params["d"] == 7
        assert "c" in params or json.loads(mr.custom(e)["lineage.params"])["c"] == [1, 2]

    def test_map_arguments_directly(self):
        import lineage._mapping as _m

        def g(src, n, recs, *, model_path):
            return None

        binder = Binder(g)
        d = DataSet(uri="s3://b/d", name="d")
        values = binder.bind(("gs://b/dir/", 5, [d]), {"model_path": "s3://m/x.pt"}, bound_method=False)
        mapped = _m.map_arguments(binder, values, inputs={"src": None, "n": None, "recs": None, "model_path": lineage.Model})
        found = {path: (type(record).__name__, record.uri, record.name) for record, path in mapped.inputs}
        assert found == {
            ("src",): ("DataSet", "gs://b/dir/", "dir"),
            ("recs", 0): ("DataSet", "s3://b/d", "d"),
            ("model_path",): ("Model", "s3://m/x.pt", "x.pt"),
        }
        assert mapped.params == {"n": 5}


# --------------------------------------------------------------------------- large arguments cost a bounded time


class _CountingList(list):
    """A list that counts the elements taken through __iter__ / __getitem__."""

    def __init__(self, *args):
        super().__init__(*args)
        self.taken = 0

    def __iter__(self):
        for item in super().__iter__():
            self.taken += 1
            yield item

    def __getitem__(self, index):
        self.taken += 1
        return super().__getitem__(index)


class _CountingDict(dict):
    """A dict that counts how often its items() is asked for: json.dumps asks
    once per such dict it serialises."""

    asked = 0

    def items(self):
        type(self).asked += 1
        return super().items()


class TestLargeArgumentsAreBounded:
    """A 5M-element list argument used to add seconds to every call:
    find_artifacts walked all of it and param_value serialised (and repr-ed)
    all of it before cutting the result to 256 characters."""

    SIZE = 5_000_000
    MAX_ITEMS = 10_000  # lineage._mapping._MAX_ITEMS

    def test_param_value_never_serialises_the_whole_list(self):
        import lineage._mapping as _m

        _CountingDict.asked = 0
        value = _CountingList([_CountingDict(a=1)] * self.SIZE)
        got = _m.param_value("rows", value)
        assert isinstance(got, str) and len(got) <= 256
        # its repr cut to 256 characters, as for any list whose JSON is too long
        assert got == repr([{"a": 1}] * 100)[:253] + "..."
        assert _CountingDict.asked <= 512, "json.dumps (or a repr) went through the elements"
        assert value.taken <= 512  # the repr is made from at most 2 x 256 items

    def test_param_value_of_a_nested_large_list_is_bounded(self):
        import lineage._mapping as _m

        _CountingDict.asked = 0
        inner = _CountingList([_CountingDict(a=1)] * self.SIZE)
        got = _m.param_value("batches", {"train": inner, "n": 3})
        assert got == repr({"train": [{"a": 1}] * 100})[:253] + "..."
        assert _CountingDict.asked <= 512 and inner.taken <= 512

    def test_a_large_dict_or_list_subclass_is_bounded_too(self):
        """OrderedDict, defaultdict, list subclasses: their own repr was made in full
        (a second for a million items); they are cut as a plain dict or list."""
        import collections

        import lineage._mapping as _m

        class Counting(collections.OrderedDict):
            taken = 0

            def items(self):
                for item in super().items():
                    type(self).taken += 1
                    yield item

        big = Counting((i, i) for i in range(200_000))
        got = _m.param_value("table", big)
        assert got == repr({i: i for i in range(200)})[:253] + "..."
        assert Counting.taken <= 513  # 2 x 256 items, and the one that ends the walk
        listed = _m.param_value("xs", collections.UserList(range(10)))  # not a list: its repr
        assert listed == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"

    def test_large_bytes_and_sets_are_cut_before_their_repr(self):
        """A 100 MB bytes argument (an image) was repr-ed whole: 400 MB of text for 256 characters."""
        import lineage._mapping as _m

        class Blob(bytes):
            pass

        blob = b"\x00\xff" * 50_000_000
        assert _m.param_value("image", blob) == repr(blob[:600])[:253] + "..."
        big_set = set(range(100_000))
        got = _m.param_value("ids", big_set)
        assert len(got) == 256 and got.startswith("{") and got.endswith("...")
        assert _m.param_value("small", {2, 1}) == [1, 2]  # small enough for JSON: a sorted list
        assert _m.param_value("sub", Blob(b"ab")) == "b'ab'"  # a subclass keeps its own repr

    def test_items_past_the_first_10000_are_kept_as_the_parameter(self, tracked_sqlite):
        """A list of 10,050 shard paths (annotated) or records: the first 10,000
        are inputs, and the other 50 are kept as a parameter (they were
        recorded nowhere), by their index as a list's other items are."""

        @track
        def shards(ps: List[DataSet]):
            return None

        @track
        def records(ds):
            return None

        shards([f"s3://s/{i}" for i in range(self.MAX_ITEMS + 50)])  # short: the 50 kept are one indexed struct
        records([DataSet(uri=f"s3://recs/{i}", name="r") for i in range(self.MAX_ITEMS + 50)])
        for name in ("shards", "records"):
            e = mr.one_execution(tracked_sqlite, name)
            assert len(mr.paths(tracked_sqlite, e.id)) == self.MAX_ITEMS, name
        kept = params_of(mr.custom(mr.one_execution(tracked_sqlite, "shards")))["ps"]
        assert kept == {str(i): f"s3://s/{i}" for i in range(self.MAX_ITEMS, self.MAX_ITEMS + 50)}
        kept = params_of(mr.custom(mr.one_execution(tracked_sqlite, "records")))["ds"]  # records: no JSON, a bounded repr
        assert isinstance(kept, str) and kept.startswith("{'10000': DataSet(uri='s3://recs/10000'") and kept.endswith("...")
        shards([f"s3://few/{i}" for i in range(3)])  # all looked into: no parameter
        e = [e for e in tracked_sqlite.store.get_executions() if e.properties["name"].string_value == "shards"][-1]
        assert "ps" not in params_of(mr.custom(e))

    def test_small_values_are_unchanged(self):
        import lineage._mapping as _m

        assert _m.param_value("layers", (64, 32)) == [64, 32]
        assert _m.param_value("cfg", {"a": [1, {"b": None}], "c": "x"}) == {"a": [1, {"b": None}], "c": "x"}
        assert _m.param_value("xs", list(range(500))) == list(range(500))  # JSON under 4,096 characters
        long = list(range(2000))  # JSON over 4,096 characters: the repr, cut
        assert _m.param_value("xs", long) == repr(long)[:253] + "..."
        assert _m.param_value("xs", [object()] * 3) == "[<object object>, <object object>, <object object>]"  # no address
        loop = [1]
        loop.append(loop)
        assert _m.param_value("loop", loop) == "[1, [...]]"

    def test_find_artifacts_looks_at_a_bounded_number_of_items(self):
        import lineage._mapping as _m

        value = _CountingList([0.5] * self.SIZE)
        assert _m.find_artifacts(value, ("X",)) is None
        assert value.taken <= self.MAX_ITEMS + 1
        mixed = _CountingList([0.5, "a", None] * (self.SIZE // 3))
        mixed[7] = DataSet(uri="s3://b/early", name="early")  # within the first 10,000 items: found
        mixed[2 * self.MAX_ITEMS] = DataSet(uri="s3://b/late", name="late")  # past them: not looked for
        mixed.taken = 0
        found = _m.find_artifacts(mixed, ("X",))
        assert [(record.uri, path) for record, path in found] == [("s3://b/early", ("X", 7))]
        # a quick check of the first items for anything but numbers and
        # strings, then the walk itself: each looks at no more than 10,000
        assert mixed.taken <= 2 * self.MAX_ITEMS + 1

    def test_find_artifacts_budget_covers_nested_items(self):
        """10,000 items in all, not per container (a list of plain numbers counts
        one item per hundred): of 2,000 lists of 2,000 floats (4M items) at most
        about a million are looked at, at C speed."""
        import lineage._mapping as _m

        rows = [_CountingList([0.5] * 2000) for _ in range(2000)]
        table = [_CountingList([rows[i]] + [0.5] * 3) for i in range(2000)]
        assert _m.find_artifacts(table, ("t",)) is None
        assert sum(r.taken for r in rows) + sum(t.taken for t in table) <= 100 * self.MAX_ITEMS + 2000

    def test_tracked_call_with_a_large_list(self, tracked_sqlite):
        @track
        def fit(X, data: DataSet):
            return len(X)

        X = [float(i) for i in range(200_000)]
        assert fit(X, DataSet(uri="s3://b/d", name="d")) == 200_000
        e = mr.one_execution(tracked_sqlite, "fit")
        assert mr.paths(tracked_sqlite, e.id) == [("INPUT", ("data",), "s3://b/d")]
        assert params_of(mr.custom(e))["X"] == repr(X[:100])[:253] + "..."


class TestRecordsBesideLongLists:
    def test_a_record_beside_a_long_list_of_numbers_is_found(self):
        """{"features": [0.5] * 10_000, "train": DataSet(...)}: the list of numbers
        used the whole item budget and the record was taken for a parameter."""
        import lineage._mapping as _m

        train = DataSet(uri="s3://batch/train", name="train")
        found = _m.find_artifacts({"features": [0.5] * 10_000, "more": list(range(50_000)), "train": train}, ("batch",))

        assert found == [(train, ("batch", "train"))]


class TestMixedDictArguments:
    def test_the_values_of_a_dict_argument_beside_its_records_are_a_parameter(self, tracked_sqlite):
        """cfg={"data": DataSet(...), "lr": 0.1}: the record is an input and lr was
        recorded nowhere; the rest of the dict is the parameter cfg."""
        from tests import mlmd_reads as mr

        @lineage.track
        def train(cfg: dict, parts: list) -> None:
            return None

        data = lineage.DataSet(uri="s3://mixed/d", name="d")
        train({"data": data, "lr": 0.1, "layers": [64, 32]}, [lineage.DataSet(uri="s3://mixed/p", name="p")])

        execution = mr.one_execution(tracked_sqlite, "train")
        assert params_of(mr.custom(execution)) == {"cfg": {"lr": 0.1, "layers": [64, 32]}}
        assert sorted(p for _, p, _ in mr.paths(tracked_sqlite, execution.id)) == [("cfg", "data"), ("parts", 0)]


class TestNothingBesideRecordsIsLost:
    """Values a call passed that were recorded nowhere (found in a review)."""

    def test_a_dict_of_record_lists_keeps_its_other_values(self, tracked_sqlite):
        """{"data": [a, b], "lr": 0.1}: two records in one key made the
        count of records equal the count of keys, and lr was dropped."""
        from tests import mlmd_reads as mr

        @lineage.track
        def train(cfg: dict) -> None:
            return None

        train({"data": [lineage.DataSet(uri="s3://m/a", name="a"), lineage.DataSet(uri="s3://m/b", name="b")], "lr": 0.1})
        execution = mr.one_execution(tracked_sqlite, "train")
        assert params_of(mr.custom(execution)) == {"cfg": {"lr": 0.1}}
        assert sorted(p for _, p, _ in mr.paths(tracked_sqlite, execution.id)) == [("cfg", "data", 0), ("cfg", "data", 1)]

    def test_a_dataclass_config_keeps_its_other_fields(self, tracked_sqlite):
        """A dataclass holding a record kept only the record; its other
        fields are the parameter."""
        import dataclasses

        from tests import mlmd_reads as mr

        @dataclasses.dataclass
        class Config:
            data: lineage.DataSet
            lr: float = 0.3
            epochs: int = 5

        @lineage.track
        def train(config: Config) -> None:
            return None

        train(Config(data=lineage.DataSet(uri="s3://m/c", name="c")))
        execution = mr.one_execution(tracked_sqlite, "train")
        assert params_of(mr.custom(execution)) == {"config": {"lr": 0.3, "epochs": 5}}
        assert [p for _, p, _ in mr.paths(tracked_sqlite, execution.id)] == [("config", "data")]

    def test_a_nested_config_keeps_its_other_values(self, tracked_sqlite):
        """{"data": {"train": DataSet(...), "batch_size": 32}}: the inner dict
        held a record, so all of it was left out of the parameter, and
        batch_size (and a nested dataclass's other fields) was recorded nowhere."""
        import dataclasses

        from tests import mlmd_reads as mr

        @dataclasses.dataclass
        class DataConfig:
            train: lineage.DataSet
            batch_size: int = 32
            api_key: str = "k-123"

        @dataclasses.dataclass
        class Config:
            data: DataConfig
            lr: float = 0.3

        @lineage.track
        def train(cfg: dict, config: Config) -> None:
            return None

        train(
            {"data": {"train": lineage.DataSet(uri="s3://n/t", name="t"), "batch_size": 64,
                      "parts": [lineage.DataSet(uri="s3://n/p", name="p")]}, "lr": 0.1},
            Config(data=DataConfig(train=lineage.DataSet(uri="s3://n/c", name="c"))),
        )
        execution = mr.one_execution(tracked_sqlite, "train")
        assert params_of(mr.custom(execution)) == {
            "cfg": {"data": {"batch_size": 64}, "lr": 0.1},
            "config": {"data": {"batch_size": 32, "api_key": "***"}, "lr": 0.3},
        }
        assert sorted(p for _, p, _ in mr.paths(tracked_sqlite, execution.id)) == [
            ("cfg", "data", "parts", 0), ("cfg", "data", "train"), ("config", "data", "train"),
        ]

    def test_the_other_items_of_a_list_or_tuple_of_records_are_a_parameter(self, tracked_sqlite):
        """[DataSet(...), 3], (DataSet(...), 0.5) for Tuple[DataSet, int], and
        List[DataSet] given [path, 3]: the record was an input and the other
        items were recorded nowhere, as a dict's were before. They are the
        parameter, keyed by their index as text (the event path's step), at
        any depth, secrets ***; a list of only records is no parameter."""
        import collections

        from tests import mlmd_reads as mr

        Pair = collections.namedtuple("Pair", "data api_key seed")

        @lineage.track
        def train(mixed: list, pair: Tuple[DataSet, int], files: List[DataSet], nested: list, named, only: list) -> None:
            return None

        train(
            [lineage.DataSet(uri="s3://l/m", name="m"), 3],
            (lineage.DataSet(uri="s3://l/p", name="p"), 5),
            ["/data/f.csv", 3],
            [{"a": [lineage.DataSet(uri="s3://l/n", name="n"), 0.5], "db_password": "hunter2", "lr": 0.1}, "x"],
            Pair(lineage.DataSet(uri="s3://l/t", name="t"), "sk-SECRET", 7),
            [lineage.DataSet(uri="s3://l/o1", name="o1"), lineage.DataSet(uri="s3://l/o2", name="o2")],
        )
        execution = mr.one_execution(tracked_sqlite, "train")
        assert params_of(mr.custom(execution)) == {
            "mixed": {"1": 3},
            "pair": {"1": 5},
            "files": {"1": 3},
            "nested": {"0": {"a": {"1": 0.5}, "db_password": "***", "lr": 0.1}, "1": "x"},
            "named": {"api_key": "***", "seed": 7},
        }
        assert sorted(p for _, p, _ in mr.paths(tracked_sqlite, execution.id)) == [
            ("files", 0), ("mixed", 0), ("named", "data"), ("nested", 0, "a", 0), ("only", 0), ("only", 1), ("pair", 0),
        ]

    def test_a_dict_list_or_tuple_subclass_keeps_its_other_items(self, tracked_sqlite):
        """An OrderedDict, a defaultdict, a read-only mapping, a list or
        tuple subclass holding a record: find_artifacts looked into them,
        but only an exact dict, list or tuple kept its other items, so the
        lr, the 3 and the nested 4 were recorded nowhere. Kept as a plain
        one's are, secrets ***."""
        import collections
        import types

        from tests import mlmd_reads as mr

        class Files(list):
            pass

        class Pair(tuple):
            pass

        def data(name):
            return lineage.DataSet(uri=f"s3://sub/{name}", name=name)

        @lineage.track
        def train(ordered: dict, default: dict, proxy: dict, files: list, pair: tuple, nested: dict) -> None:
            return None

        train(
            collections.OrderedDict(data=data("o"), lr=0.1, db_password="hunter2"),
            collections.defaultdict(list, {"data": data("d"), "api_key": "sk-SECRET", "epochs": 3}),
            types.MappingProxyType({"data": data("p"), "seed": 7}),
            Files([data("f"), 3]),
            Pair((data("t"), 0.5)),
            {"inner": collections.OrderedDict(train=data("n"), batch_size=32), "parts": [Files([data("l"), 4]), 5]},
        )
        execution = mr.one_execution(tracked_sqlite, "train")
        assert params_of(mr.custom(execution)) == {
            "ordered": {"lr": 0.1, "db_password": "***"},
            "default": {"api_key": "***", "epochs": 3},
            "proxy": {"seed": 7},
            "files": {"1": 3},
            "pair": {"1": 0.5},
            "nested": {"inner": {"batch_size": 32}, "parts": {"0": {"1": 4}, "1": 5}},
        }
        assert sorted(p for _, p, _ in mr.paths(tracked_sqlite, execution.id)) == [
            ("default", "data"), ("files", 0), ("nested", "inner", "train"), ("nested", "parts", 0, 0),
            ("ordered", "data"), ("pair", 0), ("proxy", "data"),
        ]

    def test_parameters_named_self_or_cls_are_kept(self, tracked_sqlite):
        """Only a method's first parameter is left out: `cls` of a plain
        function, and a **kwargs item named self, were dropped."""
        from tests import mlmd_reads as mr

        @lineage.track
        def select(data: lineage.DataSet, cls: int = 3) -> None:
            return None

        @lineage.track
        def join(x: int, **kw: lineage.DataSet) -> None:
            return None

        class Trainer:
            @lineage.track
            def fit(self, d: lineage.DataSet) -> None:
                return None

        select(lineage.DataSet(uri="s3://m/s", name="s"), cls=7)
        join(1, self=lineage.DataSet(uri="s3://m/j", name="j"))
        Trainer().fit(lineage.DataSet(uri="s3://m/f", name="f"))
        assert params_of(mr.custom(mr.one_execution(tracked_sqlite, "select")))["cls"] == 7
        joined = mr.one_execution(tracked_sqlite, "join")
        assert [p for _, p, _ in mr.paths(tracked_sqlite, joined.id)] == [("self",)]
        fitted = mr.one_execution(tracked_sqlite, "fit")
        assert "self" not in params_of(mr.custom(fitted))
        assert [p for _, p, _ in mr.paths(tracked_sqlite, fitted.id)] == [("d",)]

    def test_records_under_any_dict_key_are_inputs_and_outputs(self, tracked_sqlite):
        """A record under a Path (or None, or a tuple) key was neither an
        input nor an output: its key is its path step, as text."""
        import pathlib

        from tests import mlmd_reads as mr

        @lineage.track
        def g(files: dict) -> dict:
            return {pathlib.Path("out.csv"): lineage.DataSet(uri="s3://m/out", name="out")}

        g({pathlib.Path("a.csv"): lineage.DataSet(uri="s3://m/a.csv", name="a"), None: lineage.Model(uri="s3://m/n", name="n")})
        execution = mr.one_execution(tracked_sqlite, "g")
        assert sorted(mr.paths(tracked_sqlite, execution.id)) == [
            ("INPUT", ("files", "None"), "s3://m/n"),
            ("INPUT", ("files", "a.csv"), "s3://m/a.csv"),
            ("OUTPUT", ("return", "out.csv"), "s3://m/out"),
        ]

    def test_one_argument_that_cannot_be_mapped_leaves_the_others_recorded(self, tracked_sqlite):
        """A path too long for a uri made the whole call's inputs and
        parameters be dropped; now only that argument is kept as its repr
        (and said in a warning)."""
        from tests import mlmd_reads as mr

        lineage.init(strict=False)

        @lineage.track
        def train(data: lineage.DataSet, other: lineage.DataSet, lr: float = 0.1) -> None:
            return None

        too_long = "s3://b/" + "k" * 9000
        with pytest.warns(lineage.LineageWarning, match="map the argument 'other'"):
            train("s3://b/ok.csv", too_long, lr=0.5)
        execution = mr.one_execution(tracked_sqlite, "train")
        params = params_of(mr.custom(execution))
        assert params["lr"] == 0.5 and params["other"].startswith("'s3://b/kkk")
        assert [(p, u) for _, p, u in mr.paths(tracked_sqlite, execution.id)] == [(("data",), "s3://b/ok.csv")]

    def test_records_past_the_first_ten_thousand_of_a_return_value_are_said(self, tracked_sqlite):
        """An argument keeps what was not looked into as a parameter; a
        returned list of 10,050 records silently gave 10,000 outputs."""

        @lineage.track(start_delay=60)
        def many() -> list:
            return [lineage.DataSet(uri=f"s3://many/{i}", name="p") for i in range(10_050)]

        with pytest.warns(lineage.LineageWarning, match=r"first 10,000 items .* found 10,000"):
            assert len(many()) == 10_050

    def test_a_huge_deque_argument_costs_its_head_only(self, tracked_sqlite):
        """The parameter of a deque, an array or a dict view is the repr of
        its head: the whole repr was made and then cut (a second a call
        for a few million items)."""
        import array
        import collections
        import tracemalloc

        from tests import mlmd_reads as mr

        @lineage.track
        def f(window, weights) -> None:
            return None

        window, weights = collections.deque(range(2_000_000)), array.array("d", range(2_000_000))
        tracemalloc.start()
        try:
            f(window, weights)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4_000_000  # the whole reprs take over 30 MB
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "f")))
        assert params["window"].startswith("deque([0, 1, 2,") and len(params["window"]) <= 4096
        assert params["weights"].startswith("array([0.0, 1.0,")


class TestSecondReviewOfTheMapping:
    """What a review of the changes above found."""

    def test_secrets_stay_redacted_in_an_unmapped_argument_and_in_a_config(self, tracked_sqlite):
        """An argument kept as its repr because it could not be mapped, and a
        config's other fields, are redacted by name like any parameter."""
        import dataclasses

        from tests import mlmd_reads as mr

        class Vault:
            def __repr__(self):
                return "Vault(pw='hunter2')"

        def refuse(vault):
            raise RuntimeError("locked")

        @dataclasses.dataclass
        class Cfg:
            data: lineage.DataSet
            api_key: str = "sk-SECRET"
            lr: float = 0.1

        @lineage.track
        def load(data: lineage.DataSet, db_password, cfg) -> None:
            return None

        lineage.init(strict=False)
        lineage.register_converter(Vault, refuse)
        try:
            with pytest.warns(lineage.LineageWarning, match="map the argument 'db_password'"):
                load(lineage.DataSet(uri="s3://v/d", name="d"), Vault(), Cfg(data=lineage.DataSet(uri="s3://v/c", name="c")))
        finally:
            lineage.unregister_converter(Vault)
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "load")))
        assert params["db_password"] == "***"
        assert params["cfg"] == {"api_key": "***", "lr": 0.1}
        assert "hunter2" not in str(params) and "sk-SECRET" not in str(params)

    def test_a_converted_object_is_not_also_a_parameter(self, tracked_sqlite):
        """An attrs object a converter turns into a record was also stored as
        a parameter of all its fields."""
        import attrs

        from tests import mlmd_reads as mr

        @attrs.define
        class Frame:
            source: str
            rows: int

        @lineage.track
        def fit(frame) -> None:
            return None

        lineage.register_converter(Frame, lambda f: lineage.DataSet(uri=f.source, name="frame"))
        try:
            fit(Frame(source="s3://v/frame.csv", rows=3))
        finally:
            lineage.unregister_converter(Frame)
        execution = mr.one_execution(tracked_sqlite, "fit")
        assert "frame" not in params_of(mr.custom(execution))
        assert [p for _, p, _ in mr.paths(tracked_sqlite, execution.id)] == [("frame",)]

    def test_exactly_ten_thousand_returned_records_are_all_recorded_without_a_warning(self, tracked_sqlite):
        """The warning about records past the first 10,000 came also when
        there were exactly 10,000 (all of them recorded)."""
        import warnings

        @lineage.track(start_delay=60)
        def many() -> list:
            return [lineage.DataSet(uri=f"s3://exact/{i}", name="p") for i in range(10_000)]

        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            out = many()
        assert [str(w.message) for w in said] == []
        assert all(record.id is not None for record in out)

    def test_a_value_beside_a_path_key_of_the_same_text_is_kept(self, tracked_sqlite):
        """{Path("a"): record, "a": 0.5}: both keys are the path step "a";
        the 0.5 was taken for the record's holder and dropped."""
        import pathlib

        from tests import mlmd_reads as mr

        @lineage.track
        def g(files: dict) -> None:
            return None

        g({pathlib.Path("a"): lineage.DataSet(uri="s3://v/a", name="a"), "a": 0.5})
        execution = mr.one_execution(tracked_sqlite, "g")
        assert params_of(mr.custom(execution)) == {"files": {"a": 0.5}}
        assert [p for _, p, _ in mr.paths(tracked_sqlite, execution.id)] == [("files", "a")]


class TestFromTheREADMECheck:
    def test_records_only_past_the_first_ten_thousand_returned_items_are_said(self, tracked_sqlite):
        """The warning came only when records were also found among the first
        10,000 items: [0] * 10_000 + [Model(...)] recorded nothing, silently."""

        @lineage.track(start_delay=60)
        def late() -> list:
            return [{"x": 1}] * 10_001 + [lineage.Model(uri="s3://late/m", name="m")]

        with pytest.warns(lineage.LineageWarning, match=r"first 10,000 items .* found 0"):
            late()

    @pytest.mark.parametrize("name", ["password2", "secret_key", "token_1"])
    def test_numbered_and_secret_key_names_redact_numbers(self, name):
        """password=123456 was redacted and password2=123456 kept; secret_key=123 was kept."""
        from lineage._mapping import param_value

        assert param_value(name, 123456) == "***"
        assert param_value("token_limit", 4096) == 4096  # names something about a token: kept


class TestThirdReviewOfTheMapping:
    def test_pass_at_k_metrics_are_not_secrets(self):
        """Stripping the digits of password2 made pass_1 and pass_10 (HumanEval's pass@k) secrets."""
        from lineage._mapping import param_value

        assert [param_value(name, 0.42) for name in ("pass_1", "pass_10", "pass1")] == [0.42, 0.42, 0.42]

    def test_records_beside_a_long_list_in_a_return_value_are_said(self, tracked_sqlite):
        """A model beside 20,000 predictions in a dict, tuple or dataclass, or
        at the end of the long list: the quieter rule of the previous fix
        dropped them without a word. Any return cut at 10,000 items warns."""
        import dataclasses

        @dataclasses.dataclass
        class Out:
            predictions: list
            model: object

        preds = [{"p": 0.5}] * 20_000
        model = lineage.Model(uri="s3://long/m", name="m")

        @lineage.track(start_delay=60)
        def evaluate(kind: str):
            return {
                "dict": {"predictions": preds, "model": model, "acc": 0.9, "loss": 0.1, "f1": 0.8},
                "tuple": (preds, model, 0.9, 0.1, 0.8),
                "dataclass": Out(predictions=preds, model=model),
                "nested": (preds + [model], {"acc": 0.9}),
            }[kind]

        for kind in ("dict", "tuple", "dataclass", "nested"):
            with pytest.warns(lineage.LineageWarning, match="first 10,000 items"):
                evaluate(kind)

    @pytest.mark.parametrize("name", ["db_pass_2", "smtp_pass1"])
    def test_numbered_passwords_stay_secret(self, name):
        """The pass@k exemption of the previous fix showed db_pass_2=1234."""
        from lineage._mapping import param_value

        assert param_value(name, 1234) == "***"


class _Int64:
    """Stands for numpy's integer scalars: registered as numbers.Integral, no int."""

    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value

    def __repr__(self):
        return f"np.int64({self.value})"


class _Float32:
    """Stands for numpy's float32: registered as numbers.Real, no float."""

    def __init__(self, value):
        self.value = value

    def __float__(self):
        return self.value

    def __repr__(self):
        return f"np.float32({self.value})"


_numbers_abc = __import__("numbers")
_numbers_abc.Integral.register(_Int64)
_numbers_abc.Real.register(_Float32)
# numpy.bool_ (named numpy.bool since numpy 2) is no number at all
_NumpyBool = type("bool", (), {"__module__": "numpy", "__bool__": lambda self: True, "__repr__": lambda self: "np.True_"})


class TestNumpyNumbersAndPaths:
    def test_numpy_numbers_are_kept_as_numbers(self, tracked_sqlite):
        """n_estimators from np.arange, a flag from a numpy comparison, a grid
        search's best_params: kept as the text 'np.int64(7)' (a dict holding
        one, or a Path, as its whole repr), so params could not be compared
        or queried as numbers."""
        from fractions import Fraction

        @track
        def fit(epochs, lr, shuffle, ratio, grid):
            return None

        fit(_Int64(7), _Float32(0.5), _NumpyBool(), Fraction(1, 3), {"n": _Int64(3), "files": [Path("/data/a.csv")]})
        props = mr.custom(mr.one_execution(tracked_sqlite, "fit"))
        params = params_of(props)
        assert (params["epochs"], type(params["epochs"])) == (7, int)
        assert (params["lr"], params["shuffle"]) == (0.5, True)
        assert params["ratio"] == "Fraction(1, 3)"  # no float says it exactly: its repr as before
        assert params["grid"] == {"n": 3, "files": ["/data/a.csv"]}
        assert json.loads(props["lineage.params"])["grid"] == {"n": 3, "files": ["/data/a.csv"]}
        assert _mapping.param_value("big", _Int64(2**70)) == str(2**70)
        assert _mapping.param_value("nan", type("f64", (float,), {"__repr__": lambda s: "np.float64(nan)"})("nan")) == "nan"

    def test_a_path_given_as_bytes_is_its_text(self, tracked_sqlite):
        """An os.PathLike whose __fspath__ gives bytes was kept as those bytes,
        which no store takes: the execution's every write failed (lost)."""

        class BytesPath(os.PathLike):
            def __fspath__(self):
                return b"/data/cafe.csv"

        @track
        def load(src):
            return None

        lineage.init(strict=False)
        load(BytesPath())
        assert params_of(mr.custom(mr.one_execution(tracked_sqlite, "load"))) == {"src": "/data/cafe.csv"}


class TestDeeplyNestedParameters:
    def test_a_deeply_nested_parameter_is_its_bounded_repr(self, tracked_sqlite):
        """A list nested ~50 levels (a dict ~33) made MLMD refuse the whole
        execution (DecodeError: protobuf parses at most 100 levels): the call
        failed in strict mode, its lineage was lost otherwise. One nested past
        Python's recursion limit made log_param raise RecursionError (and
        @track keep '<list object>', with a warning). Past 20 levels a
        parameter is now its bounded repr, on both paths, and the call goes on."""
        def nested(depth, wrap):
            value = []
            for _ in range(depth):
                value = wrap(value)
            return value

        @track
        def train(shallow, lists, dicts, deep) -> None:
            return None

        shallow = nested(19, lambda v: {"a": v})  # and the innermost []: 20 levels
        lists, dicts, deep = nested(60, lambda v: [v]), nested(40, lambda v: {"a": v}), nested(1200, lambda v: [v])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            train(shallow, lists, dicts, deep)
            with lineage.execution("log") as ex:
                ex.log_param("lists", lists)
                ex.log_param("deep", deep)
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "train")))
        assert params["shallow"] == shallow  # kept as it is
        assert params["lists"] == "[" * 61 + "]" * 61  # 60 around the innermost []
        assert params["dicts"].startswith("{'a': {'a': ") and len(params["dicts"]) <= 256
        assert params["deep"] == "[" * 253 + "..."
        logged = params_of(mr.custom(mr.one_execution(tracked_sqlite, "log")))
        assert logged == {"lists": params["lists"], "deep": params["deep"]}


class TestLongItemsOfAContainerAreCut:
    def test_a_long_str_bytes_or_set_in_a_list_or_dict_is_not_repr_ed_whole(self):
        """{"image": <200 MB bytes>, "label": 3} (or a long text, a large set,
        in a dict or tuple) was repr-ed whole to keep 256 characters: a second
        and 800 MB per call. An int repr() refuses made the whole '<list object>'."""
        import tracemalloc

        blob = b"\x00\xff" * 10_000_000
        text = "x" * 20_000_000
        ids = set(range(200_000))
        expected = {
            "batch": repr({"image": blob[:600], "label": 3})[:253] + "...",
            "pair": repr((blob[:600], 1))[:253] + "...",
            "doc": repr({"text": text[:600], "n": 1})[:253] + "...",
        }
        tracemalloc.start()
        try:
            got = {
                "batch": _mapping.param_value("batch", {"image": blob, "label": 3}),
                "pair": _mapping.param_value("pair", (blob, 1)),
                "doc": _mapping.param_value("doc", {"text": text, "n": 1}),
            }
            groups = _mapping.param_value("groups", {"ids": ids, "n": 1})
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert got == expected
        assert groups.startswith("{'ids': {0, 1, 2, 3") and groups.endswith("...") and len(groups) == 256
        assert peak < 5_000_000, f"{peak:,} bytes allocated: an item was repr-ed whole"
        assert _mapping.param_value("sizes", [10**100_000, 1]) == "[<an int of 332193 bits>, 1]"


class TestSecretsInsideAParameter:
    def test_secret_keys_of_a_dict_parameter_are_redacted_at_any_depth(self, tracked_sqlite):
        """db={"host": ..., "password": ...} kept the password: keys were
        judged only beside records ({"data": DataSet(...), "password": ...}),
        one level deep, and not in a dict kept as its repr."""

        @track
        def load(db, cfg, since, rows):
            return None

        load(
            {"host": "db", "password": "hunter2", "pool": {"size": 4}},
            {"data": lineage.DataSet(uri="s3://sec/d", name="d"), "aws": {"secret_access_key": "AKIA-SECRET"}},
            {"z": 1j, "api_key": "sk-SECRET"},  # not JSON: its repr
            {"token": "tok-SECRET", "ids": list(range(5_000)), "token_limit": 4096},  # too long: its repr
        )
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "load")))
        assert params["db"] == {"host": "db", "password": "***", "pool": {"size": 4.0}}
        assert params["cfg"] == {"aws": {"secret_access_key": "***"}}
        assert params["since"] == "{'z': 1j, 'api_key': '***'}"
        assert params["rows"].startswith("{'token': '***', 'ids': [0, 1, 2")
        assert "SECRET" not in str(params)
        assert _mapping.param_value("hp", {"token_limit": 4096, "auth": None, "runs": [{"pwd": "x"}]}) == {
            "token_limit": 4096,
            "auth": None,
            "runs": [{"pwd": "***"}],
        }

    def test_secret_fields_of_a_namedtuple_parameter_are_redacted(self, tracked_sqlite):
        """A NamedTuple kept its own full repr when JSON could not write it
        (Creds(user='me', password='hunter2'), repr-ed whole), and was a list of
        its values when JSON could (['me', 'hunter2']): its secret fields were
        in clear where a dict's secret keys are ***. Its repr is now made
        field by field as a config's is (secrets ***, bounded), and its list
        has *** in a secret field's place, alone or inside another parameter."""
        import collections

        Creds = collections.namedtuple("Creds", "user password")

        class Db(typing.NamedTuple):
            host: str
            api_key: str
            conn: object = None
            pool: int = 4

        class Opaque:
            def __repr__(self):
                return "<opaque>"

        @track
        def load(creds, db, both, big):
            return None

        load(
            Creds("me", "hunter2-SECRET"),
            Db("h", "sk-SECRET", Opaque()),
            {"creds": Creds("me", "hunter2-SECRET"), "db": [Db("h", "sk-SECRET", Opaque())]},
            Db("h", "sk-SECRET", list(range(1_000_000))),
        )
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "load")))
        assert params["creds"] == {"items": ["me", "***"]}  # a list parameter is stored as {"items": [...]}
        assert params["db"] == "Db(host='h', api_key='***', conn=<opaque>, pool=4)"
        assert params["both"] == (
            "{'creds': Creds(user='me', password='***'), 'db': [Db(host='h', api_key='***', conn=<opaque>, pool=4)]}"
        )
        assert params["big"].startswith("Db(host='h', api_key='***', conn=[0, 1, 2,") and len(params["big"]) == 256
        assert _mapping.param_value("hp", {"db": Db("h", "sk-SECRET"), "lr": 0.1}) == {"db": ["h", "***", None, 4], "lr": 0.1}
        assert "SECRET" not in str(params)

    def test_a_dict_subclass_that_is_no_json_has_its_secrets_redacted_and_is_bounded(self, tracked_sqlite):
        """An OrderedDict or defaultdict (or a list subclass) holding an item
        JSON cannot write was kept as its class's whole repr: password='hunter2'
        in clear, and every item repr-ed. It is now kept as a plain dict's (or
        list's) is: its secret keys ***, its repr made from its head."""
        import collections

        class Opaque:
            def __repr__(self):
                return "<opaque>"

        class Rows(list):
            pass

        @track
        def load(db, hp, runs):
            return None

        load(
            collections.OrderedDict(host="db", password="hunter2-SECRET", conn=Opaque()),
            collections.defaultdict(list, {"api_key": "sk-SECRET", "opt": Opaque()}),
            Rows([{"token": "tok-SECRET", "opt": Opaque()}]),
        )
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "load")))
        assert params == {
            "db": "{'host': 'db', 'password': '***', 'conn': <opaque>}",
            "hp": "{'api_key': '***', 'opt': <opaque>}",
            "runs": "[{'token': '***', 'opt': <opaque>}]",
        }
        big = collections.OrderedDict((f"k{i}", Opaque()) for i in range(100_000))
        got = _mapping.param_value("table", big)
        assert got == repr({f"k{i}": Opaque() for i in range(100)})[:253] + "..."


class _Color(enum.Enum):
    RED = 1
    BLUE = 2


class _Level(enum.IntEnum):
    HIGH = 2


class _Mode(str, enum.Enum):  # enum.StrEnum from Python 3.11
    TRAIN = "train"


class _Perm(enum.IntFlag):
    R = 4
    W = 2


class _Access(enum.Flag):
    R = 4
    W = 2


class _Rate(float, enum.Enum):
    LOW = 0.5
    OFF = float("nan")


class _Opaque:
    def __repr__(self):
        return "<opaque>"


class _NoRepr:
    def __repr__(self):
        raise RuntimeError("no repr")


class TestValuesKeptAsTheTextAReaderExpects:
    def test_dates_decimals_enums_and_sets_are_text_and_lists(self, tracked_sqlite):
        """A datetime, date or time was kept as its repr ('datetime.datetime(2024,
        1, 1, 12, 30)'), a Decimal as "Decimal('0.10')", an Enum member as
        '<Color.RED: 1>', a set as '{'b', 'a'}'. They are ISO 8601 text, the
        Decimal's exact text, 'Class.MEMBER', and a sorted list, in a dict or
        list too. An IntEnum, IntFlag or StrEnum member stays its int or str,
        as it was (a number a query compares)."""

        @track
        def fit(start, day, at, utc, rate, color, level, mode, perms, tags, colors, mixed, cfg):
            return None

        fit(
            datetime.datetime(2024, 1, 1, 12, 30),
            datetime.date(2024, 1, 2),
            datetime.time(6, 0, 30),
            datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
            decimal.Decimal("0.10"),
            _Color.RED,
            _Level.HIGH,
            _Mode.TRAIN,
            _Perm.R | _Perm.W,
            {"b", "c", "a"},
            frozenset({_Color.RED, _Color.BLUE}),
            {1, "a"},
            {"since": datetime.date(2024, 1, 2), "level": _Level.HIGH, "ids": {3, 1, 2}, _Color.RED: [decimal.Decimal("1.5")]},
        )
        props = mr.custom(mr.one_execution(tracked_sqlite, "fit"))
        params = params_of(props)
        mixed = params.pop("mixed")
        cfg = {"since": "2024-01-02", "level": 2, "ids": [1, 2, 3], "_Color.RED": ["1.5"]}
        assert params == {
            "start": "2024-01-01T12:30:00",
            "day": "2024-01-02",
            "at": "06:00:30",
            "utc": "2024-01-01T00:00:00+00:00",
            "rate": "0.10",
            "color": "_Color.RED",
            "level": 2,
            "mode": "train",
            "perms": 6,
            "tags": {"items": ["a", "b", "c"]},  # a list is kept as its JSON, so wrapped
            "colors": {"items": ["_Color.BLUE", "_Color.RED"]},
            "cfg": cfg,
        }
        assert sorted(mixed["items"], key=str) == [1, "a"]  # no order between them: as the set gives them
        assert json.loads(props["lineage.params"])["cfg"] == cfg

    def test_in_a_repr_too(self):
        """In a dict kept as its repr (an item JSON cannot write) or a
        config's repr, a date was 'datetime.date(2024, 1, 2)' and a set '{2, 1}'."""
        import dataclasses

        @dataclasses.dataclass
        class Cfg:
            start: datetime.date
            level: _Level
            tags: set

        got = _mapping.param_value("cfg", {"day": datetime.date(2024, 1, 2), _Color.RED: {2, 1}, "obj": _Opaque()})
        assert got == "{'day': '2024-01-02', '_Color.RED': [1, 2], 'obj': <opaque>}"
        got = _mapping.param_value("cfg", Cfg(datetime.date(2024, 1, 2), _Level.HIGH, {"b", "a"}))
        assert got == f"{Cfg.__qualname__}(start='2024-01-02', level=2, tags=['a', 'b'])"
        assert _mapping.param_value("perms", _Perm(0)) == 0
        assert _mapping.param_value("access", _Access(0)) == "_Access(0)"  # a plain Flag with no name: its value
        assert _mapping.param_value("access", _Access.R | _Access.W) == "_Access.R|W"
        got = _mapping.param_value("mode", {"m": _Mode.TRAIN, _Level.HIGH: 1, "o": _Opaque()})
        assert got == "{'m': 'train', 2: 1, 'o': <opaque>}"

    def test_a_key_written_as_another_key_s_text_keeps_both_values(self, tracked_sqlite):
        """{date(2024, 1, 1): 1, "2024-01-01": 2}: the date key is its ISO
        text in JSON, which the str key already is, so one of the two values
        was lost (as was {1: "a", "1": "b"}'s int key's, JSON writing 1 as
        "1"), in a repr too. The str key keeps its text; the other is its
        repr, or with its type when that is taken too."""

        @track
        def fit(days, ids, flags, nested):
            return None

        fit(
            {datetime.date(2024, 1, 1): 1, "2024-01-01": 2},
            {"1": "b", 1: "a", 2: "c"},
            {True: 1, "true": 2, None: 3},
            [{_Color.RED: 0.5, "_Color.RED": 0.7}],
        )
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "fit")))
        assert params == {
            "days": {"datetime.date(2024, 1, 1)": 1, "2024-01-01": 2},
            "ids": {"1": "b", "int(1)": "a", "2": "c"},
            "flags": {"True": 1, "true": 2, "null": 3},
            "nested": {"items": [{"<_Color.RED: 1>": 0.5, "_Color.RED": 0.7}]},
        }
        got = _mapping.param_value("days", {datetime.date(2024, 1, 1): "y" * 5000, "2024-01-01": 2})
        assert got.startswith("{datetime.date(2024, 1, 1): 'yyy") and len(got) == 256  # kept as its repr: both, cut
        got = _mapping.param_value("days", {"2024-01-01": 2, datetime.date(2024, 1, 1): _Opaque(), datetime.date(2024, 1, 2): 3})
        assert got == "{'2024-01-01': 2, datetime.date(2024, 1, 1): <opaque>, '2024-01-02': 3}"

    def test_a_number_subclass_key_is_written_as_json_writes_it(self):
        """A numpy float64 (a float subclass whose repr is 'np.float64(0.5)')
        as a key of a dict that also has a str key, or a date among its
        values: JSON writes it 0.5, as it was kept, but _json_keys wrote its
        repr, so the same thresholds became another parameter. It is written
        as JSON writes a float or an int; its repr only when that text is
        another key's."""

        class Float64(float):
            def __repr__(self):
                return f"np.float64({float(self)})"

        class Rank(int):
            def __repr__(self):
                return f"Rank({int(self)})"

        assert _mapping.param_value("t", {Float64(0.5): 1, "a": 2}) == {"0.5": 1, "a": 2}
        assert _mapping.param_value("t", {Float64(0.5): datetime.date(2024, 1, 1)}) == {"0.5": "2024-01-01"}
        assert _mapping.param_value("t", {Rank(3): 1, "a": 2}) == {"3": 1, "a": 2}
        assert _mapping.param_value("t", {Rank(3): 1, "3": 2}) == {"Rank(3)": 1, "3": 2}

    def test_a_dict_subclass_iterated_in_another_order_keeps_each_value_at_its_key(self):
        """A dict subclass whose __iter__ gives its keys in another order than
        its items() (reversed, sorted): with a date among its values, its
        keys were taken from __iter__ and its values from values(), so each
        value was recorded under another key. Both come from items(), as
        JSON takes them."""

        class Reversed(dict):
            def __iter__(self):
                return reversed(list(dict.__iter__(self)))

        day = datetime.date(2024, 1, 1)
        assert _mapping.param_value("cfg", Reversed({"a": day, "b": 2})) == {"a": "2024-01-01", "b": 2}
        assert _mapping.param_value("cfg", Reversed({"a": day, 1: 2})) == {"a": "2024-01-01", "1": 2}

    def test_long_text_and_large_sets_stay_bounded(self):
        """A Decimal of 10,000 digits is cut as a long string is; a set too large
        for JSON is its bounded repr, not sorted whole."""
        long = decimal.Decimal("1." + "1" * 10_000)
        assert _mapping.param_value("x", long) == str(long)[:4096] + "..."
        big = {"k": set(range(200_000)), "n": 1}
        got = _mapping.param_value("groups", big)
        assert got.startswith("{'k': {0, 1, 2") and len(got) == 256

    def test_a_set_too_long_for_json_is_its_repr_in_order(self, tracked_sqlite):
        """A set whose JSON is over 4,096 characters (400 column names, 4,096
        numbers) was its repr in the order its hashes give, which for
        strings changes from run to run: the same call recorded another
        parameter each time. Up to 4,096 items it is sorted, written as a
        list as a shorter one is; a larger one is not sorted on each call."""
        names = {f"column_{i:03}" for i in range(400)}
        head = "[" + ", ".join(repr(name) for name in sorted(names))
        assert _mapping.param_value("cols", names) == head[:253] + "..."
        assert _mapping.param_value("cols", frozenset(names)) == head[:253] + "..."
        numbers = {-i for i in range(4096)}
        assert _mapping.param_value("ids", numbers).startswith("[-4095, -4094, -4093, ")
        # in a dict kept as its repr, and in a list of many such sets (sorted once: its repr is cut)
        got = _mapping.param_value("cfg", {"cols": names, "o": _Opaque()})
        assert got == ("{'cols': " + head)[:253] + "..."
        assert _mapping.param_value("groups", [names] * 1000) == ("[" + head)[:253] + "..."

        @track
        def fit(cols):
            return None

        fit(names)
        assert params_of(mr.custom(mr.one_execution(tracked_sqlite, "fit"))) == {"cols": head[:253] + "..."}

    def test_a_float_enum_member_stays_a_number(self, tracked_sqlite):
        """A ``float, Enum`` member was stored as its float, as JSON writes it
        (0.5, a number a query compares), as an IntEnum's int is; dates and
        Enum members as text made it '_Rate.LOW'."""

        @track
        def fit(rate, rates):
            return None

        fit(_Rate.LOW, {"lr": [_Rate.LOW], _Rate.LOW: 1})
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "fit")))
        assert params == {"rate": 0.5, "rates": {"lr": [0.5], "0.5": 1}}
        assert type(_mapping.param_value("rate", _Rate.LOW)) is float
        assert _mapping.param_value("rate", _Rate.OFF) == "nan"
        assert _mapping.param_value("rates", {"r": _Rate.LOW, "o": _Opaque()}) == "{'r': 0.5, 'o': <opaque>}"

    def test_a_secret_stays_secret(self):
        """The name is judged on the value as given: an Enum or a date named a secret is ***."""
        assert _mapping.param_value("api_key", _Color.RED) == REDACTED
        assert _mapping.param_value("password", datetime.date(2024, 1, 2)) == REDACTED
        assert _mapping.param_value("hp", {"token": decimal.Decimal("1234"), "day": datetime.date(2024, 1, 2)}) == {
            "token": REDACTED,
            "day": "2024-01-02",
        }


class TestConfigsKeptAsTheirRepr:
    def test_a_config_s_secret_fields_are_redacted_and_its_repr_bounded(self, tracked_sqlite):
        """A dataclass or attrs config holding no record is kept as its repr:
        that kept password='hunter2' (redacted only beside a record), and was
        made whole, a 2M-element list field and all (0.3 s and 16 MB a call)."""
        import dataclasses
        import tracemalloc

        import attrs

        @dataclasses.dataclass
        class DB:
            host: str = "db"
            password: str = "hunter2-SECRET"
            port: int = 5432
            pool: int = dataclasses.field(default=4, repr=False)

        @attrs.define
        class Train:
            db: DB = attrs.Factory(DB)
            api_key: str = "sk-SECRET"
            lr: float = 0.1
            shown: int = attrs.field(default=2, repr=lambda v: f"<{v}>")

        @dataclasses.dataclass
        class Features:
            ids: list

        @track
        def fit(db, train, features):
            return None

        features = Features(list(range(2_000_000)))
        fit(DB(), Train(), Features([1, 2]))
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "fit")))
        db = f"{DB.__qualname__}(host='db', password='***', port=5432)"
        assert params["db"] == db
        assert params["train"] == f"Train(db={db}, api_key='***', lr=0.1, shown=<2>)"  # attrs names it so
        assert params["features"] == f"{Features.__qualname__}(ids=[1, 2])"
        tracemalloc.start()
        try:
            got = _mapping.param_value("features", features)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert got == repr(Features(list(range(200))))[:253] + "..."
        assert peak < 2_000_000, f"{peak:,} bytes allocated: the list was repr-ed whole"

        @dataclasses.dataclass
        class Own:
            password: str = "x"

            def __repr__(self):
                return "Own(hidden)"

        assert _mapping.param_value("cfg", Own()) == "Own(hidden)"  # its own repr, as before

    def test_a_config_in_a_list_or_dict_has_its_secret_fields_redacted(self):
        """A config among a list's or dict's items, or in a field's list
        (configs=[DB(...)], {'db': DB(...)}), was repr-ed whole, its
        password='hunter2' in clear, while the same config alone was ***."""
        import dataclasses

        @dataclasses.dataclass
        class DB:
            host: str = "db"
            password: str = "hunter2"

        @dataclasses.dataclass
        class Cluster:
            dbs: list

        db = f"{DB.__qualname__}(host='db', password='***')"
        assert _mapping.param_value("dbs", [DB()]) == f"[{db}]"
        assert _mapping.param_value("cfg", {"db": DB(), "n": 1}) == f"{{'db': {db}, 'n': 1}}"
        assert _mapping.param_value("cluster", Cluster([DB()])) == f"{Cluster.__qualname__}(dbs=[{db}])"


# --------------------------------------------------------------------------- annotation shapes


def typed_paths(store, execution_id):
    """(INPUT/OUTPUT, path, record class name, uri) for one execution."""
    found = mr.events(store, execution_id)
    types = {t.id: t.name for t in store.store.get_artifact_types_by_id(list({a.type_id for _, _, a in found}))}
    names = {cls.ARTIFACT_TYPE_NAME: cls.__name__ for cls in (DataSet, Model, Metrics)}
    return [(kind, path, names.get(types[a.type_id], types[a.type_id]), a.uri) for kind, path, a in found]


class TestFunctionsPartialsAndNamespaces:
    def test_a_function_is_its_name_and_a_partial_or_namespace_hides_its_secrets(self, tracked_sqlite):
        """A function (loss_fn=cross_entropy, activation=relu) was its repr,
        '<function relu at 0x7f...>': its address made the same call another
        parameter on every run. A functools.partial kept its secret-named
        keywords in clear (partial(connect, password='hunter2')), and a
        SimpleNamespace its attributes (namespace(api_key='sk-...')), where a
        dataclass config's are '***'."""
        import functools
        import types

        def relu(x, slope=0.0):
            return x

        @track
        def fit(activation, loss, connect, opts, layers):
            return None

        layers = [relu, lambda x: x]
        fit(
            relu,
            functools.partial(relu, 3, slope=0.1),
            functools.partial(relu, password="hunter2-SECRET", retries=3),
            types.SimpleNamespace(lr=0.1, api_key="sk-SECRET", act=relu),
            layers,
        )
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "fit")))
        name = f"<function {__name__}.{relu.__qualname__}>"
        lam = f"<function {__name__}.{layers[1].__qualname__}>"
        assert params == {
            "activation": name,
            "loss": f"functools.partial({name}, 3, slope=0.1)",
            "connect": f"functools.partial({name}, password='***', retries=3)",
            "opts": f"namespace(lr=0.1, api_key='***', act={name})",
            "layers": f"[{name}, {lam}]"[:253] + "...",  # their qualified names are long: cut at 256
        }
        assert _mapping.param_value("act", max) == "<built-in function max>"  # as before: no address in it

    def test_a_bound_method_or_a_tracked_function_is_its_name(self, tracked_sqlite):
        """A bound method was '<bound method Net.forward of <Net object at
        0x7f...>>', a @track-ed function '<_TrackedFunction at 0x7f... for
        function at 0x7f...>', a built-in method ([].append, torch.relu)
        '<built-in method append of list object at 0x7f...>': their
        addresses made the same argument another parameter on every run,
        as a plain function's did before it was written as its name."""
        import functools

        class Net:
            def forward(self, x):
                return x

            @track
            def step(self, x):
                return x

        @track
        def relu(x):
            return x

        @track
        def fit(hook, step, act, append, hooks, partial):
            return None

        for net in (Net(), Net()):
            fit(net.forward, net.step, relu, [].append, {"a": net.forward}, functools.partial(net.step, 1))
        calls = [params_of(mr.custom(e)) for e in mr.executions(tracked_sqlite, "fit")]
        qualname = f"{__name__}.{Net.__qualname__}"
        assert calls[0] == calls[1]
        assert calls[0] == {
            "hook": f"<bound method {qualname}.forward>",
            "step": f"<bound method {qualname}.step>",
            "act": f"<function {__name__}.{relu.__qualname__}>",
            "append": "<built-in method list.append>",
            "hooks": f"{{'a': <bound method {qualname}.forward>}}",
            "partial": f"functools.partial(<bound method {qualname}.step>, 1)",
        }
        assert _mapping.param_value("step", Net.step) == f"<function {qualname}.step>"

    def test_a_classmethod_is_named_with_the_class_it_is_bound_to(self):
        """Python writes a classmethod as '<bound method Base.create of
        <class 'mod.A'>>', no address in it: since a82c90f A.create and
        B.create, one function of their base class (AutoModelForCausalLM
        and AutoModelForSeq2SeqLM's from_pretrained), were one parameter,
        '<bound method mod.Base.create>'."""

        class Base:
            @classmethod
            def create(cls):
                return cls()

        class A(Base):
            pass

        class B(Base):
            pass

        for cls in (Base, A, B):  # as at a module's top level: a text under the parameter's cut
            cls.__qualname__ = cls.__name__
        Base.create.__func__.__qualname__ = "Base.create"
        base = f"{__name__}.{Base.__qualname__}.create"
        assert [_mapping.param_value("factory", cls.create) for cls in (A, B)] == [
            f"<bound method {base} of <class '{__name__}.{A.__qualname__}'>>",
            f"<bound method {base} of <class '{__name__}.{B.__qualname__}'>>",
        ]

    def test_an_argparse_namespace_hides_its_secrets_and_its_records_are_inputs(self, tracked_sqlite):
        """train(args), args an argparse.Namespace, recorded its repr with
        args.api_key and args.hf_token in clear (only a SimpleNamespace of
        the exact type hid them), and args.data = DataSet(...) was no input:
        a namespace is now a config as a dataclass is, its repr with its
        secrets '***' (a subclass's too), looked into for records, its other
        attributes the parameter beside them."""
        import argparse
        import types

        class Opts(types.SimpleNamespace):
            pass

        class Args(argparse.Namespace):
            pass

        @track
        def train(args, opts, more):
            return None

        @track
        def fit(args):
            return None

        args = argparse.ArgumentParser().parse_args([])
        secrets = {"api_key": "sk-SECRET", "hf_token": "hf_SECRETabc", "my-password": "SECRET"}
        args.__dict__.update({"lr": 0.1, **secrets, "epochs": 3})
        train(args, Opts(password="SECRET", seed=1), [Args(token="SECRET")])
        params = params_of(mr.custom(mr.one_execution(tracked_sqlite, "train")))
        assert params == {
            "args": "Namespace(lr=0.1, api_key='***', hf_token='***', epochs=3, **{'my-password': '***'})",
            "opts": "Opts(password='***', seed=1)",
            "more": "[Args(token='***')]",
        }
        data = DataSet(uri="s3://b/train.csv", name="train")
        fit(argparse.Namespace(data=data, lr=0.1, password="SECRET"))
        execution = mr.one_execution(tracked_sqlite, "fit")
        assert params_of(mr.custom(execution)) == {"args": {"lr": 0.1, "password": REDACTED}}
        assert mr.paths(tracked_sqlite, execution.id) == [("INPUT", ("args", "data"), "s3://b/train.csv")]

    def test_a_plain_object_is_its_attributes_with_its_secrets_hidden(self, tracked_sqlite):
        """A plain object (cfg = Config(); cfg.api_key = ...; train(cfg)) was
        its repr, '<__main__.Config object at 0x7f...>': its address made
        the same argument another parameter on every run, and a record it
        held was no input. It is a bag of attributes, as a namespace is:
        written with its attributes, a secret's '***', and looked into for
        records, its other attributes the parameter beside them."""

        class Config:
            pass

        class Named:
            def __repr__(self):
                return "Named!"

        @track
        def train(cfg, named):
            return None

        @track
        def fit(cfg):
            return None

        for lr in (0.1, 0.1):
            cfg = Config()
            cfg.lr, cfg.api_key, cfg.layers, cfg.db = lr, "sk-SECRET", [64, 32], {"host": "h", "password": "SECRET"}
            train(cfg, Named())
        calls = [params_of(mr.custom(e)) for e in mr.executions(tracked_sqlite, "train")]
        assert calls[0] == calls[1] == {
            "cfg": "Config(lr=0.1, api_key='***', layers=[64, 32], db={'host': 'h', 'password': '***'})",
            "named": "Named!",  # a class writing its own repr keeps it
        }
        cfg = Config()
        cfg.data, cfg.lr, cfg.password = DataSet(uri="s3://b/train.csv", name="train"), 0.1, "SECRET"
        fit(cfg)
        execution = mr.one_execution(tracked_sqlite, "fit")
        assert params_of(mr.custom(execution)) == {"cfg": {"lr": 0.1, "password": REDACTED}}
        assert mr.paths(tracked_sqlite, execution.id) == [("INPUT", ("cfg", "data"), "s3://b/train.csv")]

    def test_a_plain_object_returned_is_not_looked_into_for_outputs(self, tracked_sqlite):
        """A method returning its instance (fit returning self, as
        scikit-learn's do) made every record the instance held an output
        of the call once plain objects were looked into: its input data
        too, and a model an earlier call made. A plain object is looked
        into as an argument only."""

        class Trainer:
            @track
            def fit(self, data: DataSet):
                self.data = data
                return self

        trainer = Trainer()
        trainer.previous = Model(uri="s3://m/earlier", name="earlier")
        trainer.fit(DataSet(uri="s3://b/train.csv", name="train"))
        execution = mr.one_execution(tracked_sqlite, "fit")
        assert mr.paths(tracked_sqlite, execution.id) == [("INPUT", ("data",), "s3://b/train.csv")]

    def test_a_plain_object_is_written_from_its_dict_bounded(self):
        """Only the object's __dict__ is read (no property is run), a cycle
        is '...', a chain of objects or an object of 100,000 attributes is
        cut at the repr's length, and an object of no __dict__ (__slots__)
        is its class without its address."""

        class Node:
            def __init__(self, after):
                self.after = after

        class Lazy:
            @property
            def weights(self):
                raise AssertionError("a property was run")

        class Slotted:
            __slots__ = ("a",)

        lazy = Lazy()
        lazy.__dict__.update(weights="w.bin", epochs=3)
        assert _mapping.param_value("m", lazy) == "Lazy(weights='w.bin', epochs=3)"
        loop = Node(None)
        loop.after = loop
        assert _mapping.param_value("n", loop) == "Node(after=...)"
        chain = None
        for _ in range(5000):
            chain = Node(chain)
        assert _mapping.param_value("n", chain) == ("Node(after=" * 24)[:253] + "..."
        made = []

        class Counted:
            def __repr__(self):
                made.append(1)
                return "c"

        big = Node(None)
        big.__dict__.update((f"a{i}", Counted()) for i in range(100_000))
        shown = _mapping.param_value("big", big)
        assert shown.startswith("Node(after=None, a0=c, a1=c") and len(shown) == 256 and len(made) < 100
        assert _mapping.param_value("s", Slotted()) == f"<{__name__}.{Slotted.__qualname__} object>"

    def test_a_namespace_of_many_attributes_no_keyword_names_is_cut_not_made_whole(self):
        """0491997 wrote the attributes no keyword can name (**{'a-b': ..})
        all, each's repr made, and cut the text afterwards: a namespace of
        100,000 of them took half a second a call (a tenth of that before).
        They are made up to the cut, as the other attributes are."""
        import argparse

        made = []

        class Counted:
            def __repr__(self):
                made.append(1)
                return "C"

        args = argparse.Namespace(lr=0.1, **{f"opt-{i}": Counted() for i in range(5_000)})
        text = _mapping.param_value("args", args)
        assert text.startswith("Namespace(lr=0.1, **{'opt-0': C, 'opt-1': C")
        assert len(text) <= 256 and len(made) < 100


class TestAnnotationShapes:
    """Annotations users write, around the record classes, read as the plain ones are."""

    def test_an_optional_or_annotated_tuple_of_records_returned_gives_each_element_its_class(self, tracked_sqlite):
        """``-> Optional[Tuple[Model, Metrics]]`` (a fit that may return
        nothing) read its paths as nothing: only a bare Tuple[...] gave each
        element its class."""

        @track
        def fit() -> Optional[Tuple[Model, Metrics]]:
            return "s3://w/model.pt", "s3://w/eval.json"  # type: ignore[return-value]

        @track
        def tagged() -> Annotated[tuple[Model, Metrics], "fit"]:
            return "s3://w/m2.pt", "s3://w/e2.json"  # type: ignore[return-value]

        fit()
        tagged()
        assert typed_paths(tracked_sqlite, mr.one_execution(tracked_sqlite, "fit").id) == [
            ("OUTPUT", ("return", 0), "Model", "s3://w/model.pt"),
            ("OUTPUT", ("return", 1), "Metrics", "s3://w/eval.json"),
        ]
        assert typed_paths(tracked_sqlite, mr.one_execution(tracked_sqlite, "tagged").id) == [
            ("OUTPUT", ("return", 0), "Model", "s3://w/m2.pt"),
            ("OUTPUT", ("return", 1), "Metrics", "s3://w/e2.json"),
        ]

    def test_a_fixed_length_tuple_of_records_as_an_argument_gives_each_element_its_class(self, tracked_sqlite, tmp_path):
        """``pair: tuple[DataSet, Model]`` given paths recorded them as a
        parameter, no input, where the same annotation on a return value
        made each element its record: an argument is read as a return value is."""
        (tmp_path / "train.csv").write_text("x\n")
        train = str(tmp_path / "train.csv")

        @track
        def fine_tune(pair: tuple[DataSet, Model], lr: float = 0.1):
            return None

        @track
        def compare(splits: Optional[Tuple[DataSet, DataSet]] = None):
            return None

        @track
        def each(**pairs: Tuple[DataSet, Model]):
            return None

        fine_tune((train, "s3://w/base.pt"))
        compare([Path(train), "s3://w/test.csv"])
        compare()
        each(a=(DataSet(uri="s3://w/d", name="d"), "s3://w/m.pt"))
        e = mr.one_execution(tracked_sqlite, "fine_tune")
        assert typed_paths(tracked_sqlite, e.id) == [
            ("INPUT", ("pair", 0), "DataSet", "file://" + train),
            ("INPUT", ("pair", 1), "Model", "s3://w/base.pt"),
        ]
        assert params_of(mr.custom(e)) == {"lr": 0.1}
        first, second = mr.executions(tracked_sqlite, "compare")
        assert typed_paths(tracked_sqlite, first.id) == [
            ("INPUT", ("splits", 0), "DataSet", "file://" + train),
            ("INPUT", ("splits", 1), "DataSet", "s3://w/test.csv"),
        ]
        assert params_of(mr.custom(first)) == {}
        assert typed_paths(tracked_sqlite, second.id) == []
        assert typed_paths(tracked_sqlite, mr.one_execution(tracked_sqlite, "each").id) == [
            ("INPUT", ("a", 0), "DataSet", "s3://w/d"),
            ("INPUT", ("a", 1), "Model", "s3://w/m.pt"),
        ]

    def test_a_value_given_for_a_record_annotation_that_makes_no_record_is_said(self, tracked_sqlite):
        """``data: DataSet`` given a number, ``model: DataSet | Model`` a path
        (which class is it?): each was recorded as a parameter without a word,
        while the function's author said it is an input. Said once per
        parameter, annotation and type of value, naming all three; still a
        parameter; never raised (strict mode included: the call goes on).
        None, an empty collection and a secret's value are not said."""
        import warnings

        class Frame:
            pass

        @track
        def train(data: DataSet, model: DataSet | Model, pair: tuple[DataSet, Model] = (None, None), epochs: int = 1):
            return None

        @track
        def batch(files: List[DataSet], api_token: DataSet = None, extra: Optional[DataSet] = None):
            return None

        with pytest.warns(lineage.LineageWarning) as caught:
            train(3, "s3://w/which.pt", pair=(DataSet(uri="s3://w/d", name="d"), 0.5))
            train(4, "s3://w/again.pt", pair=(DataSet(uri="s3://w/d", name="d"), 0.7))  # said once
            train(Frame(), Model(uri="s3://w/m", name="m"))
            batch([1, 2], api_token=123456)
            batch(p for p in ["s3://w/a.csv"])  # not looked into (read once: the function's to read)
        said = [str(w.message) for w in caught]
        assert all(w.filename == __file__ for w in caught), [w.filename for w in caught]  # at the call, in the user's code
        assert said[:3] == [
            "the argument 'data' is annotated DataSet but is 3 (int), which is no DataSet (nor a path or URI, "
            "as a str or Path, to make one of): it is recorded as a parameter, not as an input (pass a DataSet)",
            "the argument 'model' is annotated DataSet | Model but is 's3://w/which.pt' (str), a path or URI; the "
            "annotation does not say which of DataSet or Model it is: it is recorded as a parameter, not as an input "
            "(pass a DataSet or a Model)",
            "the argument 'pair' (at pair/1) is annotated Model but is 0.5 (float), which is no Model (nor a path or URI, "
            "as a str or Path, to make one of): it is in the parameter 'pair', not an input (pass a Model)",
        ]
        assert said[3].startswith("the argument 'data' is annotated DataSet but is Frame() ")  # a plain object: no address
        assert said[3].endswith(
            "(Frame), which is no DataSet (nor a path or URI, as a str or Path, to make one of): "
            "it is recorded as a parameter, not as an input (pass a DataSet, or map "
            f"{Frame.__qualname__} with lineage.register_converter)"
        )
        assert said[4] == (
            "the argument 'files' is annotated List[DataSet] but is [1, 2] (list), which holds no DataSet (nor a path "
            "or URI, as a str or Path, to make one of): it is recorded as a parameter, not as an input "
            "(pass a list of DataSets)"
        )
        assert said[5] == (
            "the argument 'api_token' is annotated DataSet but is *** (int), which is no DataSet (nor a path or URI, "
            "as a str or Path, to make one of): it is recorded as a parameter, not as an input (pass a DataSet)"
        )
        assert said[6].startswith("the argument 'files' is annotated List[DataSet] but is <generator object")
        assert said[6].endswith(
            "(generator), which lineage does not look into (only a list, tuple or dict): any DataSet in it is not "
            "recorded: it is recorded as a parameter, not as an input (pass a list of DataSets)"
        )
        assert len(said) == 7
        first = mr.executions(tracked_sqlite, "train")[0]
        assert params_of(mr.custom(first)) == {"data": 3, "model": "s3://w/which.pt", "pair": {"1": 0.5}, "epochs": 1}
        assert typed_paths(tracked_sqlite, first.id) == [("INPUT", ("pair", 0), "DataSet", "s3://w/d")]

        @track
        def loose(data: DataSet | str, n: Union[DataSet, int] = 0):
            return None

        with warnings.catch_warnings(record=True) as quiet:
            warnings.simplefilter("always")
            batch([])  # nothing to say: no file, None for the optional ones
            loose("", 5)  # the annotation allows a str and an int
        assert [str(w.message) for w in quiet] == []

    def test_an_annotation_whose_metadata_has_a_broken_repr_is_still_decorated(self, tracked_sqlite):
        """The text of a record annotation, made when the function is
        decorated to say later that a value made no record, called the repr
        of Annotated's metadata: one that raises made @track raise, where the
        function had been decorated and its inputs mapped."""
        import warnings

        @track
        def train(data: Annotated[DataSet, _NoRepr()], pair: Annotated[Tuple[DataSet, Model], _NoRepr()] = (None, None)):
            return None

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            train("s3://w/d.csv")
            train(3, ("s3://w/d2.csv", 0.5))
        assert [str(w.message)[:50] for w in caught] == [
            "the argument 'data' is annotated DataSet but is 3 ",
            "the argument 'pair' (at pair/1) is annotated Model",
        ]
        assert typed_paths(tracked_sqlite, mr.executions(tracked_sqlite, "train")[0].id) == [
            ("INPUT", ("data",), "DataSet", "s3://w/d.csv")
        ]

    def test_a_large_list_of_none_for_a_record_annotation_is_not_read_whole(self):
        """Whether a value given for ``files: List[DataSet]`` is all None (no
        file given: nothing to say) was judged from all of its items: a
        million of them read on every call, where mapping reads 10,000 at most."""
        read = [0]

        class Rows(list):
            def __iter__(self):
                for item in list.__iter__(self):
                    read[0] += 1
                    yield item

        def batch(files: List[DataSet]):
            return None

        binder = _mapping.Binder(batch)
        mapped = _mapping.map_arguments(binder, {"files": Rows([None] * 1_000_000)})
        assert mapped.failed == [] and mapped.inputs == [] and mapped.params["files"].startswith("[None, None")
        assert read[0] <= 3 * _mapping._MAX_ITEMS, read[0]


def test_an_objects_address_is_left_out_of_a_parameter_wherever_it_is():
    """A repr holding an object's address (a library class's own repr, a
    lock inside a plain config, such objects in a list) made the same
    argument another parameter on every run: the address is left out, the
    rest of the text kept; text that only looks like one is kept."""
    import threading

    class Lib:
        def __repr__(self) -> str:
            return f"<Lib object at {hex(id(self))}>"

    class Cfg:
        pass

    cfg = Cfg()
    cfg.lock, cfg.lr = threading.Lock(), 0.1
    assert _mapping.param_value("model", Lib()) == "<Lib object>"
    assert _mapping.param_value("cfg", cfg) == "Cfg(lock=<unlocked _thread.lock object>, lr=0.1)"
    assert _mapping.param_value("parts", [Lib(), {1, Lib()}]).count("<Lib object>") == 2
    assert "0x" not in _mapping.param_value("parts", [Lib(), {1, Lib()}])
    # Not an object's address: kept as written.
    assert _mapping.param_value("note", "jump at 0x10>") == "jump at 0x10>"
    assert _mapping.param_value("regs", (b"at 0x7f>", 0x7F)) == "(b'at 0x7f>', 127)"


# --------------------------------------------------------------------------- the fast path of map_arguments


def _signatures() -> List[Binder]:
    """Functions whose parameters the fast path of map_arguments sees in
    every way: annotated with record classes (a str makes a record), with a
    str (it makes none), with a union allowing a str, unannotated, items of
    **kwargs and *args, named like secrets."""

    def records(train: DataSet, test: Optional[DataSet] = None, epochs: int = 3, lr: float = 0.1) -> Model:
        return Model(uri="m", name="m")

    def mixed(data: Union[DataSet, str], password, api_key: str = "", *rest, **kw) -> None:  # type: ignore[no-untyped-def]
        return None

    def plain(a, b=1, token=None, /, c: int = 2, *, models: List[Model] = (), **options: DataSet) -> None:  # type: ignore[no-untyped-def]
        return None

    return [Binder(records), Binder(mixed), Binder(plain)]


_BINDERS = _signatures()
_tokens = st.sampled_from(
    ["hf_" + "a1B2" * 8, "ghp_" + "x" * 36, "sk-" + "Z9" * 12, "AKIA" + "Q" * 16, "hf_checkpoint_epoch10.bin"]
)
_argument_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(max_size=5).map(lambda s: "x" * 5000 + s),  # past _TEXT_LIMIT: cut
    _tokens,
    st.sampled_from(["s3://bucket/data.csv", "/tmp/data.csv", "data.csv", "", "file:///a b"]),
    st.builds(lambda uri: DataSet(uri=uri, name="d"), st.sampled_from(["s3://b/x", "/tmp/y"])),
    st.builds(lambda uri: Model(uri=uri, name="m"), st.sampled_from(["s3://b/m"])),
    st.builds(lambda: metadata.DataSet(uri="s3://b/k", name="k")),  # the Kubeflow SDK's: found after the fast checks
    st.lists(st.one_of(st.integers(), st.builds(lambda: DataSet(uri="s3://b/l", name="l"))), max_size=3),
    st.dictionaries(st.sampled_from(["lr", "password", "data"]), st.one_of(st.integers(), _tokens), max_size=2),
)
_argument_names = st.sampled_from(
    [
        "train", "test", "epochs", "lr", "data", "password", "api_key", "a", "b", "token", "c", "models", "secret_key", "x",
        "rest", "kw.note", "options",
    ]
)


def _mapping_seen(binder: Binder, values: Dict[str, object], inputs: object, exclude: Sequence[str], fast: bool, caplog):  # type: ignore[no-untyped-def]
    """What map_arguments gives, in a form two calls can be compared in
    (records made of paths are new objects, their create_time differs), and
    the warnings it logged (each said the first time only: forgotten first)."""
    from lineage import _config

    _config._warned.clear()
    caplog.clear()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        mapped = _mapping.map_arguments(binder, values, inputs=inputs, exclude=exclude, fast=fast)
    found = [(type(record), record.uri, record.name, id(record) if any(record is v for v in values.values()) else None, path)
             for record, path in mapped.inputs]
    params = json.dumps(mapped.params, sort_keys=True, default=repr)
    failed = [(name, type(exc), str(exc)) for name, exc in mapped.failed]
    return found, params, failed, [str(w.message) for w in said], [r.getMessage() for r in caplog.records]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    which=st.integers(min_value=0, max_value=len(_BINDERS) - 1),
    values=st.dictionaries(_argument_names, _argument_values, max_size=6),
    inputs=st.sampled_from([None, None, ["data"], {"data": Model}, ["a", "options"]]),
    exclude=st.sampled_from([(), ("lr",), ("password", "kw")]),
)
def test_map_arguments_fast_path_maps_as_the_general_path(which, values, inputs, exclude, caplog) -> None:
    """The fast path (records, numbers, bools, None and strs that no
    annotation makes records of) gives exactly what the general one does:
    the same inputs, the same parameters with the same secrets hidden (a
    secret's name, a known token's prefix under any name), the same
    failures and the same warnings."""
    binder = _BINDERS[which]
    caplog.set_level(logging.WARNING)
    fast = _mapping_seen(binder, values, inputs, exclude, True, caplog)
    general = _mapping_seen(binder, values, inputs, exclude, False, caplog)
    assert fast == general


def test_map_arguments_fast_path_is_taken_and_hides_secrets() -> None:
    """The common call's arguments go the fast way and hide what the
    general way hides: a secret's name, a token's prefix under any name."""
    token = "hf_" + "a1B2" * 8
    binder = _BINDERS[1]
    values = {"data": "s3://b/x.csv", "password": "hunter2", "api_key": token, "kw.note": token, "n": 3}
    mapped = _mapping.map_arguments(binder, values)
    assert [(type(r), r.uri) for r, _ in mapped.inputs] == [(DataSet, "s3://b/x.csv")]
    assert mapped.params == {"password": REDACTED, "api_key": REDACTED, "kw.note": REDACTED, "n": 3}
    given = DataSet(uri="s3://b/given", name="g")
    mapped = _mapping.map_arguments(_BINDERS[0], {"train": given, "test": None, "epochs": 3, "lr": 0.1})
    assert mapped.inputs == [(given, ("train",))] and mapped.params == {"test": None, "epochs": 3, "lr": 0.1}


def test_an_address_is_left_out_of_every_repr_and_of_no_strs_text():
    """The address was left out only of a '<...>' holding no other '<' or
    '>': a generator's repr (<generator object <genexpr> at 0x7f...>), an
    object of a class made in a function (<f.<locals>.Lib object at 0x7f...>)
    and a weakref's first address (<weakref at 0x7f...; to 'Lib' at 0x7f...>)
    kept theirs, the same argument another parameter on every run; and the
    text of a str among the items was cut as if it were a repr (a log line
    '<conn at 0xdeadbeef> opened' became '<conn> opened'), even across two
    strs ('<a', 'b at 0x1>' became '<a', 'b>')."""
    import weakref

    class Lib:
        def __repr__(self) -> str:
            return f"<Lib <Inner at {hex(id(self) + 1)}> at {hex(id(self))}>"

    lib = Lib()
    for value in ((x for x in ()), [lib], weakref.ref(lib), [weakref.ref(lib)], type("L", (), {"__slots__": ()})()):
        assert " at 0x" not in _mapping.param_value("p", value), value
    assert _mapping.param_value("p", lib) == "<Lib <Inner>>"
    assert _mapping.param_value("p", weakref.ref(lib)) == "<weakref; to 'Lib'>"
    lines = ("<conn at 0xdeadbeef> opened", lib)
    assert _mapping.param_value("lines", lines) == "('<conn at 0xdeadbeef> opened', <Lib <Inner>>)"
    assert _mapping.param_value("parts", ["<a", "b at 0x1>", lib]) == "['<a', 'b at 0x1>', <Lib <Inner>>]"
    assert _mapping.param_value("quoted", ['it\'s "<x at 0x1>"', lib]) == "['it\\'s \"<x at 0x1>\"', <Lib <Inner>>]"
