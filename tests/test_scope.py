"""@track and with execution(): what a tracked call records, read back from MLMD."""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator, Generator, Iterator, NamedTuple

import pytest

import lineage
from lineage import DataSet, Metrics, Model, current_execution, execution, track
from tests import backends
from tests import mlmd_reads as mr


@pytest.fixture(params=["sqlite", "postgresql"])
def tracked(request, tmp_path) -> lineage.Store:
    """lineage.init() on a fresh store (SQLite file, then PostgreSQL); writes are synchronous."""
    url = backends.make_url(request.param, tmp_path)
    lineage.init(store=url, workspace="ws", run="r1", strict=True, start_delay=0)
    return lineage.Store(url=url)


@pytest.fixture
def tracked_sqlite(tmp_path) -> lineage.Store:
    url = backends.make_url("sqlite", tmp_path)
    lineage.init(store=url, workspace="ws", run="r1", strict=True, start_delay=0)
    return lineage.Store(url=url)


def data(name="mnist", uri=None) -> DataSet:
    return DataSet(uri=uri or f"s3://bucket/{name}.csv", name=name)


def submitting_to(pool, run_coroutines=False):
    """A wraps decorator that submits each call to *pool* and returns its
    future (a coroutine function's call run there by asyncio.run)."""

    def decorate(f):
        @functools.wraps(f)
        def w(*a, **k):
            if run_coroutines:
                return pool.submit(lambda: asyncio.run(f(*a, **k)))
            return pool.submit(f, *a, **k)

        return w

    return decorate


#: A plain decorator of the user's (functools.wraps), as a script's source:
#: a tracked function under it returns what the call returns (a future).
TIMED_SOURCE = "def timed(f):\n    @functools.wraps(f)\n    def w(*a, **k):\n        return f(*a, **k)\n    return w\n"


def a_file_slow_to_hash(tmp_path):
    """A local file of 96 MiB: about 0.2 s to hash, so an output naming it
    is still being written when a test's exit handler runs."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.write(os.urandom(1 << 20) * 96)
    return big


def run_script(tmp_path, script: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run *script* in a fresh Python process, with no LINEAGE_ variable of
    this one's and its own LINEAGE_HOME; its output captured."""
    path = tmp_path / "script.py"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["LINEAGE_HOME"] = str(tmp_path / "home")
    return subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=timeout)


def consume_in_a_forked_child(made) -> None:
    """Iterate the generator *made* to its end in a forked child; wait for it."""
    pid = os.fork()
    if pid == 0:
        try:
            list(made)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


class TestWhatACallRecords:
    def test_one_execution_per_call_named_after_the_function(self, tracked):
        """Each call is one execution named after the function, COMPLETE, in the workspace and run."""

        @track
        def train(d: DataSet, epochs: int = 3) -> Model:
            return Model(uri="file:///m.pt", name="m", version="1")

        train(data())
        train(data())
        found = mr.executions(tracked, "train")
        assert [mr.state(e) for e in found] == ["COMPLETE", "COMPLETE"]
        ctx = mr.contexts(tracked, found[0].id)
        assert ctx["kubeflow.org/alpha/workspace"] == "ws"
        assert ctx["lineage/run"] == "ws/r1"
        props = mr.custom(found[0])
        assert props["__kf_workspace__"] == "ws" and props["__kf_run__"] == "r1"
        assert found[0].properties["create_time"].string_value <= props["lineage.end_time"]
        assert "lineage.start_time" not in props  # the start time is create_time

    def test_name_option(self, tracked):
        """track(name=...) names the execution."""

        @track(name="fit-model")
        def train():
            return None

        train()
        assert len(mr.executions(tracked, "fit-model")) == 1
        assert mr.executions(tracked, "train") == []

    def test_running_while_the_call_runs(self, tracked):
        """With no start delay the execution is RUNNING in the store while the body runs."""
        seen = {}

        @track
        def train(d: DataSet):
            [e] = mr.executions(tracked, "train")
            seen["state"] = mr.state(e)
            seen["inputs"] = mr.paths(tracked, e.id)

        train(data())
        assert seen["state"] == "RUNNING"
        assert seen["inputs"] == [("INPUT", ("d",), "s3://bucket/mnist.csv")]
        assert mr.state(mr.one_execution(tracked, "train")) == "COMPLETE"

    def test_failure_marks_failed_and_reraises_unchanged(self, tracked):
        """The user's exception propagates unchanged (same object, same traceback); the execution is FAILED."""
        original = ValueError("bad data")

        @track
        def train(d: DataSet):
            raise original

        with pytest.raises(ValueError) as info:
            train(data())
        assert info.value is original
        assert info.traceback[-1].name == "train"
        e = mr.one_execution(tracked, "train")
        assert mr.state(e) == "FAILED"
        props = mr.custom(e)
        assert props["lineage.error_type"] == "ValueError"
        assert props["lineage.error_message"] == "bad data"
        assert mr.paths(tracked, e.id) == [("INPUT", ("d",), "s3://bucket/mnist.csv")]

    def test_keyboard_interrupt_marks_canceled(self, tracked):
        """KeyboardInterrupt marks the execution CANCELED and propagates."""

        @track
        def train():
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            train()
        assert mr.state(mr.one_execution(tracked, "train")) == "CANCELED"


class TestInputs:
    def test_artifact_arguments_and_containers(self, tracked):
        """Artifacts, lists/tuples/dicts of artifacts become inputs with the parameter name plus index or key."""

        @track
        def combine(a: DataSet, many, mapping, *rest, **named):
            return None

        combine(
            data("a"),
            [data("l0"), data("l1")],
            {"x": data("dx")},
            data("r0"),
            extra=data("kw"),
        )
        e = mr.one_execution(tracked, "combine")
        assert mr.paths(tracked, e.id) == [
            ("INPUT", ("a",), "s3://bucket/a.csv"),
            ("INPUT", ("extra",), "s3://bucket/kw.csv"),
            ("INPUT", ("many", 0), "s3://bucket/l0.csv"),
            ("INPUT", ("many", 1), "s3://bucket/l1.csv"),
            ("INPUT", ("mapping", "x"), "s3://bucket/dx.csv"),
            ("INPUT", ("rest", 0), "s3://bucket/r0.csv"),
        ]

    def test_self_and_cls_are_never_inputs_or_params(self, tracked):
        """Methods, classmethods and staticmethods record their arguments but never self/cls."""

        class Trainer:
            @track
            def fit(self, d: DataSet, lr: float = 0.1):
                return self

            @track
            @classmethod
            def build(cls, d: DataSet):
                return cls

            @track
            @staticmethod
            def check(d: DataSet):
                return True

        t = Trainer()
        assert t.fit(data("f")) is t
        assert Trainer.build(data("b")) is Trainer
        assert Trainer.check(data("s")) is True
        for name, uri in (("fit", "f"), ("build", "b"), ("check", "s")):
            e = mr.one_execution(tracked, name)
            assert mr.paths(tracked, e.id) == [("INPUT", ("d",), f"s3://bucket/{uri}.csv")]
            props = mr.custom(e)
            assert "self" not in props and "cls" not in props
        assert mr.custom(mr.one_execution(tracked, "fit"))["lr"] == 0.1

    def test_path_annotated_as_artifact_becomes_that_artifact(self, tracked, tmp_path):
        """A str/PathLike argument annotated DataSet becomes a DataSet with an absolute file:// uri."""
        from pathlib import Path

        @track
        def prepare(raw: DataSet, other: Model, url: DataSet):
            return None

        target = tmp_path / "raw.csv"
        prepare(str(target), Path(tmp_path / "m.pt"), "s3://bucket/x.parquet")
        e = mr.one_execution(tracked, "prepare")
        found = mr.events(tracked, e.id)
        by_path = {path: artifact for _, path, artifact in found}
        assert by_path[("raw",)].uri == f"file://{target}"
        assert by_path[("raw",)].properties["name"].string_value == "raw.csv"
        assert by_path[("other",)].uri == f"file://{tmp_path / 'm.pt'}"
        assert by_path[("url",)].uri == "s3://bucket/x.parquet"
        types = {a.type for _, _, a in found}
        assert types == {"kubeflow.org/alpha/data_set", "kubeflow.org/alpha/model"}

    def test_converter_registry(self, tracked):
        """register_converter maps other objects to artifacts without lineage importing their library."""

        class Frame:
            def __init__(self, source):
                self.source = source

        lineage.register_converter(Frame, lambda f: DataSet(uri=f.source, name="frame"))
        try:

            @track
            def fit(frame):
                return None

            fit(Frame("s3://bucket/frame.parquet"))
        finally:
            lineage.unregister_converter(Frame)
        e = mr.one_execution(tracked, "fit")
        assert mr.paths(tracked, e.id) == [("INPUT", ("frame",), "s3://bucket/frame.parquet")]

    def test_a_converter_returning_no_record_is_reported_not_swallowed(self, tracked_sqlite):
        """Its InvalidTypeError was taken for a wrong call (a TypeError) and dropped
        in silence: now a LineageWarning says what failed, and the call still runs and is recorded."""

        class Frame:
            pass

        lineage.init(strict=False)
        lineage.register_converter(Frame, lambda f: "s3://bucket/frame.csv")  # a str, not a record
        try:

            @track
            def fit(frame: Frame, lr: float = 0.1) -> int:
                return 7

            with pytest.warns(lineage.LineageWarning) as caught:
                assert fit(Frame()) == 7
        finally:
            lineage.unregister_converter(Frame)
        [warning] = [w for w in caught if issubclass(w.category, lineage.LineageWarning)]
        assert warning.filename == __file__  # the user's call, not lineage's code
        assert "could not map the argument 'frame' (InvalidTypeError: the converter registered for" in str(warning.message)
        assert "returned 's3://bucket/frame.csv' (str), not a lineage record" in str(warning.message)
        fitted = mr.one_execution(tracked_sqlite, "fit")
        assert fitted.last_known_state == 3  # COMPLETE
        assert mr.custom(fitted)["lr"] == 0.1  # the other arguments are still recorded

    def test_an_input_file_is_digested_as_the_call_found_it(self, tracked_sqlite, tmp_path):
        """A short call writes once, at its end: an input the call rewrote was
        recorded with its new bytes. The digest is taken when the input is
        logged (the call's start, or ex.log_input)."""
        import hashlib

        lineage.init(start_delay=1.0)  # one write, at the end
        path = tmp_path / "data.csv"

        @track
        def clean_in_place(data: DataSet) -> None:
            path.write_text("cleaned\n")

        digests = []
        for how in ("track", "execution"):
            path.write_text(f"raw for {how}\n")
            before = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
            raw = DataSet(uri=str(path), name="raw")
            if how == "track":
                clean_in_place(raw)
            else:
                with execution("clean") as ex:
                    ex.log_input(raw)
                    path.write_text("cleaned\n")
            [stored] = tracked_sqlite.store.get_artifacts_by_id([raw.id])
            digests.append((stored.custom_properties["lineage.digest"].string_value, before))
        assert digests[0][0] == digests[0][1] and digests[1][0] == digests[1][1]

    def test_explicit_inputs_and_outputs(self, tracked):
        """track(inputs=..., outputs=...) declares the mapping; other arguments are parameters."""

        @track(inputs={"src": DataSet}, outputs=Model)
        def build(src: str, also: DataSet, n: int):
            return "s3://bucket/model.bin"

        build("s3://bucket/src.csv", data("ignored"), 2)
        e = mr.one_execution(tracked, "build")
        assert mr.paths(tracked, e.id) == [
            ("INPUT", ("src",), "s3://bucket/src.csv"),
            ("OUTPUT", ("return",), "s3://bucket/model.bin"),
        ]
        assert mr.custom(e)["n"] == 2
        assert "also" in mr.custom(e)  # not an input: recorded as a parameter


class TestOutputs:
    def test_return_shapes(self, tracked_sqlite):
        """Artifacts in tuples, dicts, NamedTuples, attrs and dataclasses are outputs with their paths."""
        import dataclasses

        import attrs

        class Pair(NamedTuple):
            model: Model
            metrics: Metrics

        @attrs.define
        class AttrsResult:
            model: Model

        @dataclasses.dataclass
        class DataResult:
            metrics: Metrics

        m = lambda n: Model(uri=f"file:///{n}", name=n)  # noqa: E731
        x = lambda n: Metrics(uri=f"file:///{n}", name=n)  # noqa: E731

        @track
        def as_tuple():
            return m("t0"), x("t1")

        @track
        def as_dict():
            return {"best": m("d0")}

        @track
        def as_named():
            return Pair(m("n0"), x("n1"))

        @track
        def as_attrs():
            return AttrsResult(m("a0"))

        @track
        def as_dataclass():
            return DataResult(x("c0"))

        for fn in (as_tuple, as_dict, as_named, as_attrs, as_dataclass):
            fn()
        s = tracked_sqlite
        assert mr.paths(s, mr.one_execution(s, "as_tuple").id) == [
            ("OUTPUT", ("return", 0), "file:///t0"),
            ("OUTPUT", ("return", 1), "file:///t1"),
        ]
        assert mr.paths(s, mr.one_execution(s, "as_dict").id) == [("OUTPUT", ("return", "best"), "file:///d0")]
        assert mr.paths(s, mr.one_execution(s, "as_named").id) == [
            ("OUTPUT", ("return", "metrics"), "file:///n1"),
            ("OUTPUT", ("return", "model"), "file:///n0"),
        ]
        assert mr.paths(s, mr.one_execution(s, "as_attrs").id) == [("OUTPUT", ("return", "model"), "file:///a0")]
        assert mr.paths(s, mr.one_execution(s, "as_dataclass").id) == [("OUTPUT", ("return", "metrics"), "file:///c0")]

    def test_annotated_path_return(self, tracked_sqlite, tmp_path):
        """-> Annotated[Path, Model] turns a returned path into a Model output."""
        from pathlib import Path
        from typing import Annotated, Tuple

        @track
        def save() -> Annotated[Path, Model]:
            return tmp_path / "model.pt"

        @track
        def save_two() -> Tuple[Model, Metrics]:
            return str(tmp_path / "a.pt"), str(tmp_path / "b.json")

        save()
        save_two()
        s = tracked_sqlite
        assert mr.paths(s, mr.one_execution(s, "save").id) == [("OUTPUT", ("return",), f"file://{tmp_path}/model.pt")]
        found = mr.events(s, mr.one_execution(s, "save_two").id)
        assert [(p, a.uri, a.type) for _, p, a in found] == [
            (("return", 0), f"file://{tmp_path}/a.pt", "kubeflow.org/alpha/model"),
            (("return", 1), f"file://{tmp_path}/b.json", "kubeflow.org/alpha/metrics"),
        ]

    def test_log_output_inside_the_body_counts(self, tracked_sqlite):
        """Artifacts logged with current_execution().log_output() are outputs of the call."""

        @track
        def train():
            current_execution().log_output(Metrics(uri="file:///loss.json", name="loss"), path="loss")
            return Model(uri="file:///m", name="m")

        train()
        s = tracked_sqlite
        assert mr.paths(s, mr.one_execution(s, "train").id) == [
            ("OUTPUT", ("loss",), "file:///loss.json"),
            ("OUTPUT", ("return",), "file:///m"),
        ]


class TestParams:
    def test_typed_params_and_exact_copy(self, tracked):
        """Non-artifact arguments are typed properties; lineage.params keeps exact values."""
        import json

        class Opaque:
            def __repr__(self):
                return "Opaque(" + "x" * 1000 + ")"

        @track
        def train(epochs: int, lr: float, opt: str, shuffle: bool, layers, cfg, thing, nothing=None):
            return None

        train(3, 0.000123456789, "adam", True, [64, 32], {"a": {"b": 1}}, Opaque())
        props = mr.custom(mr.one_execution(tracked, "train"))
        assert props["epochs"] == 3 and props["opt"] == "adam" and props["shuffle"] is True
        assert props["lr"] == pytest.approx(0.000123, abs=1e-6)  # MLMD keeps 6 decimals
        assert props["layers"] == {"items": [64, 32]}
        assert props["cfg"] == {"a": {"b": 1}}
        assert props["thing"].startswith("Opaque(xxx") and len(props["thing"]) <= 256
        exact = json.loads(props["lineage.params"])
        assert exact["lr"] == 0.000123456789
        assert exact["nothing"] is None

    @pytest.mark.parametrize(
        "value, exact",
        [
            (3, True),
            (0.1, True),
            (1e20, True),
            ("adam", True),
            (False, True),
            (1e-7, False),  # MLMD writes doubles with 6 decimals: stored as 0.0
            (0.000123456789, False),
            (2**31, False),  # a 32-bit column on PostgreSQL and MySQL
            (None, False),  # no property at all
            ([64, 32], False),  # a struct: its numbers come back as floats
            (1712345678.123456, False),  # SQLite keeps 15 significant digits
            (2.0**60, False),
            (1e300, False),  # MySQL caps doubles at 1e65
            (-0.0, False),  # no backend keeps the sign
            (123456.5, True),
        ],
    )
    def test_lineage_params_only_when_a_property_is_not_exact(self, tracked_sqlite, value, exact):
        """lineage.params is written only when a typed property cannot give a value back as it was."""
        import json

        @track
        def train(epochs: int, x):
            return None

        train(5, value)
        props = mr.custom(mr.one_execution(tracked_sqlite, "train"))
        assert props["epochs"] == 5
        if exact:
            assert "lineage.params" not in props
            assert props["x"] == value and type(props["x"]) is type(value)
        else:
            assert json.loads(props["lineage.params"]) == {"epochs": 5, "x": value}

    @pytest.mark.parametrize("backend", backends.ALL_BACKENDS)
    def test_floats_taken_as_exact_come_back_exactly_on_every_backend(self, backend, tmp_path):
        """What exact_as_property accepts (no lineage.params copy) is given back
        as it was by every backend; what it refuses has the exact JSON copy."""
        import json

        from lineage.store._codec import exact_as_property

        url = backends.make_url(backend, tmp_path)
        lineage.init(store=url, strict=True, start_delay=0)
        values = [0.1, 123456.5, 1e20, 1e64, -2.5e-3, 0.0, 1712345678.123456, 2.0**60, 1e300, -1e66, -0.0, 1.7976931348623157e308]

        @track
        def fit(**params):
            return None

        fit(**{f"v{i}": v for i, v in enumerate(values)})
        props = mr.custom(mr.one_execution(lineage.Store(url=url), "fit"))
        exact = json.loads(props["lineage.params"])
        for i, v in enumerate(values):
            assert exact[f"v{i}"] == v
            if exact_as_property(v):
                assert props[f"v{i}"] == v, (backend, v, props[f"v{i}"])
        assert [exact_as_property(v) for v in values] == [True] * 6 + [False] * 6

    def test_lineage_params_keeps_arguments_whose_names_cannot_be_properties(self, tracked_sqlite):
        """A parameter whose name MLMD cannot take is skipped as a property and kept in lineage.params."""
        import json

        @track
        def train(**kwargs):
            return None

        train(**{"__kf_x": 1, "ok": 2})
        props = mr.custom(mr.one_execution(tracked_sqlite, "train"))
        assert (props["ok"], "__kf_x" in props) == (2, False)
        assert json.loads(props["lineage.params"]) == {"__kf_x": 1, "ok": 2}

    def test_secrets_are_redacted_and_exclude_drops(self, tracked_sqlite):
        """Arguments named like secrets are ***; exclude= drops arguments."""

        @track(exclude=["debug_blob"])
        def connect(host, password, api_key, auth_token, db_credentials, debug_blob):
            return None

        connect("h", "hunter2", "k-123", "t-456", {"u": "p"}, b"...")
        props = mr.custom(mr.one_execution(tracked_sqlite, "connect"))
        assert props["host"] == "h"
        for name in ("password", "api_key", "auth_token", "db_credentials"):
            assert props[name] == "***"
        assert "debug_blob" not in props
        assert "hunter2" not in str(props)

    def test_provenance(self, tracked_sqlite):
        """Module, qualified name, source hash, git commit, host, user, Python and lineage versions are recorded."""
        import platform
        import socket

        @track
        def train():
            return None

        train()
        props = mr.custom(mr.one_execution(tracked_sqlite, "train"))
        import json

        provenance = json.loads(props["lineage.provenance"])
        code, process = provenance["code"], provenance["process"]
        assert code["module"] == __name__
        assert code["function"].endswith("test_provenance.<locals>.train")
        assert len(code["source_sha256"]) == 64
        assert process["host"] == socket.gethostname()
        assert process["python"] == platform.python_version()
        assert process["lineage_version"] == lineage.__version__
        assert process["pid"] == os.getpid()
        assert "pytest" in process["command"]
        import subprocess

        here = os.path.dirname(__file__)
        done = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True)
        if done.returncode == 0:
            # The commit checked out when this process first looked (cached
            # per process): HEAD itself, or an ancestor if a commit landed since.
            recorded = props["lineage.git_commit"]
            ancestor = subprocess.run(["git", "-C", here, "merge-base", "--is-ancestor", recorded, "HEAD"])
            assert len(recorded) == 40 and ancestor.returncode == 0
            assert isinstance(code["git_dirty"], bool)


def test_secrets_on_the_command_line_are_not_recorded(tmp_path):
    """The command line was recorded as typed: a --password=..., an
    --api-key given as the next argument, a Hydra override db.password=...
    and a store URL's password were in every execution's provenance."""
    script = tmp_path / "train.py"
    script.write_text(f"import lineage\nlineage.init(store='sqlite:///{tmp_path / 'c.db'}')\n"
                      "@lineage.track\ndef train(): pass\ntrain()\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["LINEAGE_HOME"] = str(tmp_path / "home")
    args = ["--password=hunter2", "--api-key", "k-123", "db.password=s3cret", "--store", "postgresql://u:pw-9@h/db",
            "--lr", "0.1", "--pad-token=[PAD]"]
    subprocess.run([sys.executable, str(script), *args], cwd=tmp_path, env=env, check=True, timeout=120)
    props = mr.custom(mr.one_execution(lineage.Store(url=f"sqlite:///{tmp_path / 'c.db'}"), "train"))
    command = json.loads(props["lineage.provenance"])["process"]["command"]
    assert command == (f"{script} --password=*** --api-key *** db.password=*** --store postgresql://u:***@h/db "
                       "--lr 0.1 --pad-token=[PAD]")


def test_a_call_in_a_deleted_working_folder_is_recorded(tracked_sqlite, tmp_path, monkeypatch):
    """Provenance looked up the working folder (for code in no file, and in
    every with block's key): deleted, os.getcwd raised and the execution
    was not recorded at all (a warning said it could not start)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    scope = {}
    exec(compile("def made(a):\n    return a\n", "<made>", "exec"), scope)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert track(scope["made"])(2) == 2
        with execution("block"):
            pass
    for name in ("made", "block"):
        code = json.loads(mr.custom(mr.one_execution(tracked_sqlite, name))["lineage.provenance"])["code"]
        assert "error" not in code, code


def _git_repo_with_a_function(tmp_path, *config):
    """A git work tree in tmp_path committing mod.py (def step(): ...), and step itself."""
    import importlib.util

    def git(*args):
        return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path, check=True,
                              capture_output=True, text=True).stdout.strip()

    tmp_path.mkdir(exist_ok=True)
    git("init", "-q")
    for name, value in config:
        git("config", name, value)
    (tmp_path / "mod.py").write_text("def step():\n    return 1\n")
    (tmp_path / ".gitignore").write_text("*.db*\n__pycache__/\nlineage-home/\n")
    spec = importlib.util.spec_from_file_location(f"mod_{abs(hash(str(tmp_path)))}", tmp_path / "mod.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return git, module.step


def _code_of(store, name):
    props = mr.custom(mr.one_execution(store, name))
    return props.get("lineage.git_commit"), json.loads(props["lineage.provenance"])["code"]


def test_a_changed_file_git_names_in_bytes_not_utf8(tracked_sqlite, tmp_path):
    """With core.quotePath off (usual where names are not in English), git
    status prints names as their bytes: one not UTF-8 failed to decode and
    the git state was not recorded (the execution was, before, lost)."""
    git, step = _git_repo_with_a_function(tmp_path, ("core.quotePath", "false"))
    odd = os.path.join(os.fsencode(str(tmp_path)), b"caf\xe9.txt")
    with open(odd, "wb") as f:
        f.write(b"1")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    with open(odd, "wb") as f:
        f.write(b"2")
    track(step)()
    commit, code = _code_of(tracked_sqlite, "step")
    assert commit == git("rev-parse", "HEAD") and code["git_dirty"] is True and "error" not in code, code


def test_a_failed_git_status_is_not_recorded_as_clean(tracked_sqlite, tmp_path):
    """git status failed (here: a submodule whose git folder is gone; or it
    took over 5 s) and the work tree was recorded clean, git_dirty false.
    It is now null, and git_error says why."""
    git, step = _git_repo_with_a_function(tmp_path / "repo")
    sub = tmp_path / "sub"
    sub.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=sub, check=True)
    (sub / "x").write_text("x")
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "x", "--allow-empty"], cwd=sub,
                   check=True)
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "sub")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    shutil.rmtree(tmp_path / "repo" / ".git" / "modules" / "sub")
    track(step)()
    commit, code = _code_of(tracked_sqlite, "step")
    assert commit == git("rev-parse", "HEAD")
    assert code["git_dirty"] is None and "not a git repository" in code["git_error"], code


def test_git_dir_set_in_the_environment_is_not_the_code_s_repository(tracked_sqlite, tmp_path, monkeypatch):
    """With GIT_DIR set (git sets it for its hooks and rebase --exec), git
    used that repository whatever the code's folder: another repository's
    commit was recorded (and the code called untracked there)."""
    git, step = _git_repo_with_a_function(tmp_path / "repo")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    other, _ = _git_repo_with_a_function(tmp_path / "other")
    other("commit", "-q", "-m", "other", "--allow-empty")
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "other" / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(tmp_path / "other"))
    track(step)()
    commit, code = _code_of(tracked_sqlite, "step")
    assert commit == git("--git-dir", str(tmp_path / "repo" / ".git"), "rev-parse", "HEAD")
    assert code["git_dirty"] is False and "source_untracked" not in code, code


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another user needs root")
def test_a_repository_git_refuses_as_another_user_s_says_why(tracked_sqlite, tmp_path, monkeypatch):
    """A work tree owned by another user (a shared checkout, a mounted
    volume): git refuses it ("detected dubious ownership", safe.directory)
    and no commit was recorded, nor why, as if the code were in no repository."""
    git, step = _git_repo_with_a_function(tmp_path / "repo")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    monkeypatch.setenv("HOME", str(tmp_path))  # no safe.directory in the user's own git config
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    subprocess.run(["chown", "-R", "65534", str(tmp_path / "repo")], check=True)
    track(step)()
    commit, code = _code_of(tracked_sqlite, "step")
    assert commit is None and code["git_dirty"] is None and "dubious ownership" in code["git_error"], code


def test_code_in_no_repository_has_no_git_state(tracked_sqlite, tmp_path, monkeypatch):
    """Code in no repository is no git failure: no commit, dirty flag nor
    git_error (git's messages read in any language the user's locale sets)."""
    monkeypatch.setenv("LANGUAGE", "fr")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "mod.py").write_text("def step():\n    return 1\n")
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"mod_{abs(hash(str(tmp_path)))}", tmp_path / "plain" / "mod.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    track(module.step)()
    commit, code = _code_of(tracked_sqlite, "step")
    assert commit is None and not {"git_dirty", "git_error"} & set(code), code


def test_code_in_no_repository_has_no_git_error_when_git_warns_first(tracked_sqlite, tmp_path, monkeypatch):
    """git may print a warning before its "fatal: not a git repository" (here:
    a global git config it cannot read, a folder): only its first line was
    read, so every execution of code in no repository had git_error (the
    warning) and git_dirty null; nothing was recorded before 77b2662. The
    reason git gives is its fatal line, not a warning before it."""
    import importlib.util

    (tmp_path / "config-folder").mkdir()
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "config-folder"))
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "mod.py").write_text("def step():\n    return 1\n")
    spec = importlib.util.spec_from_file_location(f"mod_{abs(hash(str(tmp_path)))}", tmp_path / "plain" / "mod.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    warned = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path / "plain", capture_output=True, text=True,
                            env={**os.environ, "LC_ALL": "C"}).stderr
    assert warned.startswith("warning:") and "not a git repository" in warned  # what git does here
    track(module.step)()
    commit, code = _code_of(tracked_sqlite, "step")
    assert commit is None and not {"git_dirty", "git_error"} & set(code), code


def test_a_work_tree_of_an_exported_git_dir_has_its_commit(tracked_sqlite, tmp_path, monkeypatch):
    """Code in a work tree whose repository is elsewhere, exported as GIT_DIR
    and GIT_WORK_TREE (a dotfiles-style or bare repository checkout): git
    was run without them, found no .git, and no commit was recorded. Code
    outside that work tree, in no repository, still has none."""
    import importlib.util

    work = tmp_path / "code"
    work.mkdir()
    (work / "mod.py").write_text("def step():\n    return 1\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "other.py").write_text("def other():\n    return 1\n")
    steps = {}
    for name, path in (("step", work / "mod.py"), ("other", tmp_path / "elsewhere" / "other.py")):
        spec = importlib.util.spec_from_file_location(f"{name}_{abs(hash(str(tmp_path)))}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        steps[name] = getattr(module, name)

    def git(*args):
        return subprocess.run(["git", "--git-dir", str(tmp_path / "repo.git"), "--work-tree", str(work), "-c", "user.email=t@t",
                               "-c", "user.name=t", *args], check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("add", "mod.py")
    git("commit", "-q", "-m", "init")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_DIR", "repo.git")  # relative: to the working folder, not to the code's
    monkeypatch.setenv("GIT_WORK_TREE", str(work))
    track(steps["step"])()
    track(steps["other"])()
    commit, code = _code_of(tracked_sqlite, "step")
    assert commit == git("rev-parse", "HEAD") and code["git_dirty"] is False and "source_untracked" not in code, code
    commit, code = _code_of(tracked_sqlite, "other")
    assert commit is None and "git_dirty" not in code, code


def test_lineage_does_not_write_the_git_index(tracked_sqlite, tmp_path):
    """git status refreshed a stale index (files touched since it was
    written, after a copy or a build), taking .git/index.lock: the user's
    git add or commit at that moment failed with "index.lock: File exists"."""
    git, step = _git_repo_with_a_function(tmp_path)
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    index = tmp_path / ".git" / "index"
    before = index.read_bytes()
    later = time.time() + 10
    os.utime(tmp_path / "mod.py", (later, later))
    track(step)()
    assert _code_of(tracked_sqlite, "step")[1]["git_dirty"] is False
    assert index.read_bytes() == before


def test_git_status_runs_once_per_work_tree(tracked_sqlite, tmp_path, monkeypatch):
    """git status ran once per folder of code: a package of 40 folders in a
    work tree of 20,000 files took 40 of them, seconds of the calls' time."""
    import importlib.util

    git, _ = _git_repo_with_a_function(tmp_path)
    steps = []
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.py").write_text(f"def step_{folder}():\n    return 1\n")
        spec = importlib.util.spec_from_file_location(f"m_{folder}_{abs(hash(str(tmp_path)))}", tmp_path / folder / "m.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        steps.append(getattr(module, f"step_{folder}"))
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE2", str(trace))
    for step in steps:
        track(step)()
    assert trace.read_text().count("cmd_name status") == 1
    head = git("rev-parse", "HEAD")
    for folder in ("a", "b", "c"):
        commit, code = _code_of(tracked_sqlite, f"step_{folder}")
        assert commit == head and code["git_dirty"] is False, code


def test_a_callable_object_has_the_provenance_of_its_class(tracked_sqlite, tmp_path, monkeypatch):
    """track(Scorer()): no function name, no source hash, and the git state
    of the working folder (another repository, or none) instead of the one
    of the file holding the class."""
    import importlib.util

    git, _ = _git_repo_with_a_function(tmp_path / "repo")
    (tmp_path / "repo" / "scoring.py").write_text("class Scorer:\n    def __call__(self, x):\n        return x\n")
    git("add", "-A")
    git("commit", "-q", "-m", "init")
    spec = importlib.util.spec_from_file_location("scoring_for_provenance", tmp_path / "repo" / "scoring.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # imported
    spec.loader.exec_module(module)
    assert track(module.Scorer())(1) == 1
    commit, code = _code_of(tracked_sqlite, "Scorer")
    assert commit == git("rev-parse", "HEAD") and code["git_dirty"] is False, code
    assert code["function"] == "Scorer" and code["module"] == "scoring_for_provenance" and len(code["source_sha256"]) == 64


def test_numbers_on_the_command_line_named_about_a_secret_are_kept():
    """--token-limit 4096 and --max_token_len=512 were recorded as ***, though
    the parameters token_limit=4096 are kept (names judged as parameters'
    are); --password 123456 and --db-password=1234 stay hidden."""
    from lineage._provenance import _redacted

    argv = ["train.py", "--token-limit", "4096", "--max_token_len=512", "model.token_budget=1e6",
            "--password", "123456", "--db-password=1234", "--api-key", "42", "--token", "abc"]
    assert _redacted(argv) == ["train.py", "--token-limit", "4096", "--max_token_len=512", "model.token_budget=1e6",
                               "--password", "***", "--db-password=***", "--api-key", "***", "--token", "***"]


def test_the_argument_after_a_flag_only_about_a_secret_is_kept():
    """The argument after any flag with a secret word in its name was hidden:
    --use-token data.csv lost the data file, --password-file the file's
    path. Only a flag naming the secret itself (ending with it) hides it,
    and one about it only a value that looks like a token; a password
    starting with "-" (taken for the next flag) was kept in clear."""
    from lineage._provenance import _redacted

    argv = ["train.py", "--use-token", "data.csv", "--password-file", "/run/pw", "--tokenizer", "bert", "--no-password", "x",
            "--use_auth_token", "hf_AbCdEf0123456789xyzXYZ", "--github-token", "abc", "--dbPassword", "pw",
            "--private-key", "k", "--access_key", "a", "--credentials", "c", "--pwd", "p", "--secret", "s",
            "--password", "-s3cr!", "--api-key", "--lr", "0.1", "--token", "-v", "x",
            "--password-value", "hunter2", "--token-value", "t", "--token-limit", "512", "--secret-file", "pw.txt",
            "--token-classification", "true", "--password-prompt", "off"]
    assert _redacted(argv) == [
        "train.py", "--use-token", "data.csv", "--password-file", "/run/pw", "--tokenizer", "bert", "--no-password", "x",
        "--use_auth_token", "***", "--github-token", "***", "--dbPassword", "***",
        "--private-key", "***", "--access_key", "***", "--credentials", "***", "--pwd", "***", "--secret", "***",
        "--password", "***", "--api-key", "--lr", "0.1", "--token", "-v", "x",
        "--password-value", "***", "--token-value", "***", "--token-limit", "512", "--secret-file", "pw.txt",
        "--token-classification", "true", "--password-prompt", "off"]


def test_a_setting_or_name_after_a_flag_about_a_secret_is_kept_in_both_forms():
    """--token-pooling cls, --auth-method oauth, --secret-name db: a setting or
    the name of a secret, not one, was recorded as ***; and --flag=value was
    judged by another rule than --flag value (--password-file=/run/pw and
    --use-token=data.csv were hidden). Both forms are judged alike now; a
    flag holding the secret (--password-value) hides even a number or a
    value with a "/" (base64), which the path and number rules had shown."""
    from lineage._provenance import _redacted

    kept = ["--token-pooling", "cls", "--auth-method", "oauth", "--secret-name", "db", "--token-type", "bearer",
            "--password-file", "/run/pw", "--use-token", "data.csv", "--token-limit", "512", "--auth-provider", "google"]
    hidden = ["--password", "x", "--api-key", "x", "--token", "x", "--password-value", "x", "--secret", "x",
              "--client-secret", "x", "--auth-token", "x", "--secret-id", "s", "--auth-header", "Bearer",
              "--password-value", "123456", "--token-value", "Ab3/x+Yz==", "--secret-name", "AbCdEf0123456789xyzXYZ99"]
    spaced = kept + hidden
    joined = [f"{flag}={value}" for flag, value in zip(spaced[::2], spaced[1::2])]
    hydra = ["model.token_pooling=cls", "db.password_file=/run/pw", "db.password_value=123456", "db.password=x"]
    url = "https://h/x?token_type=bearer&auth_method=oauth&password_value=1234&secret=s"
    expected = kept + [value if index % 2 == 0 else "***" for index, value in enumerate(hidden)]
    assert _redacted(["train.py", *spaced, *joined, *hydra, url]) == [
        "train.py", *expected, *[f"{flag}={value}" for flag, value in zip(expected[::2], expected[1::2])],
        "model.token_pooling=cls", "db.password_file=/run/pw", "db.password_value=***", "db.password=***",
        "https://h/x?token_type=bearer&auth_method=oauth&password_value=***&secret=***"]


def test_a_value_kept_after_a_flag_about_a_secret_still_has_its_own_secrets_hidden():
    """A flag's value kept as a setting or a path (--auth-url, --token-url,
    --password-file) was added as it was, past every other rule: the URL's
    password and its query's token were shown, where --db-url hid them. Now
    it goes through them as any argument does; the next word is still a
    flag's, not this value's (--secret-name -x --tokenizer y)."""
    from lineage._provenance import _redacted

    argv = ["train.py", "--auth-url", "postgres://admin:hunter2@db/prod", "--token-url", "https://h/x?access_token=abc123&x=1",
            "--password-file", "/run/pw", "--use-token", "https://u:pw@h/data.csv", "--secret-name", "-db",
            "--tokenizer", "bert"]
    assert _redacted(argv) == ["train.py", "--auth-url", "postgres://admin:***@db/prod", "--token-url",
                               "https://h/x?access_token=***&x=1", "--password-file", "/run/pw", "--use-token",
                               "https://u:***@h/data.csv", "--secret-name", "-db", "--tokenizer", "bert"]


def test_a_flag_holding_a_secret_hides_even_a_switch_s_value():
    """--password-value true and --secret-data off were kept (a switch's value
    was looked at before the name holding the secret); the command line and
    the parameters share one rule now (lineage._secrets), under which a name
    holding the secret hides whatever it is given, as password_value="true" is."""
    from lineage._provenance import _redacted

    argv = ["train.py", "--password-value", "true", "--secret-data=off", "--token-value", "none",
            "--token-classification", "true"]
    assert _redacted(argv) == ["train.py", "--password-value", "***", "--secret-data=***", "--token-value", "***",
                               "--token-classification", "true"]


def test_a_command_line_the_rules_fail_on_is_recorded_as_its_first_word(monkeypatch):
    """A failure of the redaction (an argument its rules were not written
    for) cost every execution of the process its provenance: the command
    is then its first word, and no argument is shown."""
    from lineage import _provenance

    def broken(argv):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(_provenance, "_redacted", broken)
    monkeypatch.setattr(_provenance.sys, "argv", ["train.py", "--password", "hunter2"])
    assert _provenance._command() == "train.py (arguments not recorded: RecursionError)"


def test_a_password_in_a_connection_string_on_the_command_line_is_hidden():
    """A libpq DSN or an ODBC/ADO.NET connection string, one argument of
    key=value pairs, was judged by its first key only (host=..., Driver=...):
    the password in it was recorded in clear. Its secret pairs are hidden
    now, the other pairs kept."""
    from lineage._provenance import _redacted

    argv = ["train.py", "host=db user=me password=secret dbname=x", "--conn",
            "Driver={ODBC Driver 18};Server=s;Uid=me;Pwd={a;b};Database=d", "--dsn=host=db password='a b' port=5432",
            "Server=x;Password=secret;", "--conn=Password=x;Server=y", "host=db  password = s3 sslmode=require",
            "password=s dbname=x", "host=db port=5432 max_tokens=100", "Server=x;Password=1234"]
    assert _redacted(argv) == [
        "train.py", "host=db user=me password=*** dbname=x", "--conn",
        "Driver={ODBC Driver 18};Server=s;Uid=me;Pwd=***;Database=d", "--dsn=host=db password=*** port=5432",
        "Server=x;Password=***;", "--conn=Password=***;Server=y", "host=db  password = *** sslmode=require",
        "password=***", "host=db port=5432 max_tokens=100", "Server=x;Password=***"]


def test_an_argument_of_many_chained_pairs_is_redacted_in_bounded_time():
    """An argument of key=value pairs chained without a separator (a=a=...=a,
    2,000 deep) made the connection-string redaction recurse once a pair:
    RecursionError, and every execution of the process was lost ("could not
    start"), where the command line had been recorded. Deep in such a chain
    the rest is hidden; a short chain is looked into as before."""
    from lineage._provenance import _redacted

    chained = "a=" * 2000 + "password=x"
    got = _redacted(["train.py", "--define", chained, f"--set={chained}", "--conn=opt=Password=x;Server=y"])
    assert got[:2] == ["train.py", "--define"] and got[-1] == "--conn=opt=Password=***;Server=y"
    assert all(arg.startswith(("a=a=a=", "--set=a=a=")) and arg.endswith("***") and "password=x" not in arg for arg in got[2:4])


def test_a_url_password_with_an_at_sign_on_the_command_line_is_hidden_whole():
    """postgresql://u:p@ss@h/db (a password with an '@' not percent-encoded,
    which store URLs hide up to the last '@'): the command line kept 'ss'."""
    from lineage._provenance import _redacted

    assert _redacted(["train.py", "--db", "postgresql://u:p@ss@h:5432/db", "https://tok@h/x"]) == [
        "train.py", "--db", "postgresql://u:***@h:5432/db", "https://tok@h/x"]


def test_a_token_as_a_url_s_user_on_the_command_line_is_hidden():
    """A token given as a URL's user, with no password (git's
    https://<token>@github.com/...), was recorded in clear: only a password
    was hidden. A user that looks like a token is now; a user name is kept."""
    from lineage._provenance import _redacted

    argv = ["train.py", "https://ghp_abc123@github.com/org/repo", "--repo=https://x0AbCdEfGhIjKlMnOpQrStUv12@github.com/r",
            "https://hf_AbCdEf%2D0123456789@huggingface.co/m", "https://oauth2:glpat-abcdef@gitlab.com/r",
            "postgresql://postgres@localhost/db", "ssh://git@github.com/org/repo", "https://tok@h/x"]
    assert _redacted(argv) == [
        "train.py", "https://***@github.com/org/repo", "--repo=https://***@github.com/r", "https://***@huggingface.co/m",
        "https://oauth2:***@gitlab.com/r", "postgresql://postgres@localhost/db", "ssh://git@github.com/org/repo",
        "https://tok@h/x"]


def test_credentials_with_a_slash_after_a_flag_about_a_secret_are_hidden():
    """--auth-header with base64 credentials holding a "/" (one in four
    characters of base64 may be one), or a scheme and its credentials
    ("Bearer abc/def"), was kept as a path, where the parameter
    auth_header=... is hidden. Such a value is not taken for a path after a
    flag only about a secret now; a folder's path still is, and a setting's
    (--password-file, --token-path) whatever it looks like."""
    from lineage._mapping import param_value
    from lineage._provenance import _redacted

    hidden = ["YWxhZGRpbjpvcGVuc2VzYW1l/abc+==", "YWxhZGRpbjpv/cGVuc2VzYW1l", "Bearer abc/def", "Basic dXNl/cjpw"]
    for value in hidden:
        assert _redacted(["train.py", "--auth-header", value, f"--auth-header={value}", "--secret-id", value]) == [
            "train.py", "--auth-header", "***", "--auth-header=***", "--secret-id", "***"]
        assert param_value("auth_header", value) == "***"
    kept = ["--auth-header", "/etc/lineage/header.txt", "--token-embeddings", "embeddings/glove300d/vectors",
            "--token-embeddings", "data/Glove6B/vectors", "--password-file", "/run/pw", "--token-path", "ab/AbCdEfGh12345678"]
    assert _redacted(["train.py", *kept]) == ["train.py", *kept]


def test_a_password_given_a_user_flag_on_the_command_line_is_hidden():
    """curl's -u user:password (--user, --user=, -uuser:password, --proxy-user)
    was recorded in clear. Its password is hidden now and its user kept, as a
    URL's are (postgres://u:***@h/db), a user that looks like a token hidden
    too (Stripe's -u sk_test_...:); a user alone, a URL and a docker uid:gid
    are kept, and a flag after -u is not its value."""
    from lineage._provenance import _redacted

    argv = ["train.py", "-u", "alice:s3cret", "--user", "bob@example.com:p:w", "--user=carol:pw", "-uroot:pw",
            "--proxy-user", "proxy:pw", "-U", "p2:pw", "-u", "sk_test_4eC39HqLyjWDarjtT1zdp7dc:", "-u", "dave",
            "--user", "1000:1000", "-u", "https://h:8080/x", "-u", "--lr", "0.1", "postgres://u:pw@h/db"]
    assert _redacted(argv) == [
        "train.py", "-u", "alice:***", "--user", "bob@example.com:***", "--user=carol:***", "-uroot:***",
        "--proxy-user", "proxy:***", "-U", "p2:***", "-u", "***:", "-u", "dave",
        "--user", "1000:1000", "-u", "https://h:8080/x", "-u", "--lr", "0.1", "postgres://u:***@h/db"]


def test_a_host_and_port_given_a_user_flag_on_the_command_line_is_kept():
    """-u localhost:8080 (--user 10.0.0.5:5432, --user=db.example.com:5432) was
    recorded as localhost:***, the port taken for a password. A port after a
    host (localhost, an IPv4 address, a name of three dotted labels) is kept;
    a numeric password after a user name (admin, first.last, an e-mail
    address) is still hidden, as is a number that is no port."""
    from lineage._provenance import _redacted

    kept = ["locust.py", "-u", "localhost:8080", "--user", "10.0.0.5:5432", "--user=db.example.com:5432", "-ulocalhost:3306"]
    assert _redacted(kept) == kept
    argv = ["db.py", "-u", "admin:1234", "-u", "john.smith:1234", "--user", "bob@example.com:1234", "-u", "localhost:99999",
            "-u", "localhost:0080", "-u", "example.com:8080"]
    assert _redacted(argv) == ["db.py", "-u", "admin:***", "-u", "john.smith:***", "--user", "bob@example.com:***",
                               "-u", "localhost:***", "-u", "localhost:***", "-u", "example.com:***"]


def test_p_is_a_password_only_beside_a_user_flag():
    """-p is a port (or a path, a profile) for most tools and is kept; beside
    a user flag it is the password (docker login -u me -p pw, mongo, mycli,
    mysql -uroot -ppw), which was recorded in clear. It is hidden then,
    unless a number (a port: serve -u admin -p 8080)."""
    from lineage._provenance import _redacted

    assert _redacted(["deploy.py", "login", "-u", "me", "-p", "hunter2"]) == ["deploy.py", "login", "-u", "me", "-p", "***"]
    assert _redacted(["db.py", "-uroot", "-phunter2", "x"]) == ["db.py", "-uroot", "-p***", "x"]
    assert _redacted(["db.py", "-p", "hunter2", "--user=me"]) == ["db.py", "-p", "***", "--user=me"]
    assert _redacted(["serve.py", "-u", "admin", "-p", "8080", "-p8081"]) == ["serve.py", "-u", "admin", "-p", "8080", "-p8081"]
    assert _redacted(["serve.py", "-u", "admin", "-p", "-v"]) == ["serve.py", "-u", "admin", "-p", "-v"]
    kept = ["serve.py", "-p", "8080", "-p", "secret", "-pdata", "--port", "8080", "/data/x.csv"]
    assert _redacted(kept) == kept


def test_p_beside_username_on_the_command_line_is_a_password():
    """docker login --username me -p pw (--username=me, helm registry login,
    oc login, az login: -u's long form) recorded -p's password in clear:
    only -u, -U, --user and --proxy-user made -p a password's."""
    from lineage._provenance import _redacted

    assert _redacted(["login.py", "--username", "me", "-p", "pw"]) == ["login.py", "--username", "me", "-p", "***"]
    assert _redacted(["login.py", "--username=me", "-ppw"]) == ["login.py", "--username=me", "-p***"]
    assert _redacted(["login.py", "-p", "pw", "--username", "me:x"]) == ["login.py", "-p", "***", "--username", "me:***"]
    assert _redacted(["psql.py", "--username=postgres", "-p", "5433"]) == ["psql.py", "--username=postgres", "-p", "5433"]


def test_a_path_or_port_mapping_as_p_beside_a_user_flag_on_the_command_line_is_kept():
    """Beside a user flag, -p configs/base.yaml (a path) and docker run -u 1000
    -p 8080:80 (a port mapping) were hidden as passwords. A port mapping and
    a path of plain names are kept; a password with a "/", base64 or a token
    with one, and a file-like name without a known extension still hidden."""
    from lineage._provenance import _redacted

    kept = ["run.py", "-u", "1000", "-p", "8080:80", "-p", "127.0.0.1:8080:80/tcp", "-p8000-8010:8000-8010",
            "-p", "configs/base.yaml", "-p", "base.yaml", "-p", "./data/train", "-p", "~/runs/1"]
    assert _redacted(kept) == kept
    argv = ["login.py", "-u", "me", "-p", "P@ss/w0rd", "-p", "AbCdEfGh12345678/x+yz==", "-p", "hunter2.pw", "-p", "s3cr:et",
            "-p", "abc:80"]
    assert _redacted(argv) == ["login.py", "-u", "me", "-p", "***", "-p", "***", "-p", "***", "-p", "***", "-p", "***"]


def test_a_password_with_a_slash_as_p_beside_a_user_flag_is_hidden():
    """Beside a user flag, -p pass/word (secret/1, hunter2/, -ppass/word) was
    recorded in clear: any word characters with a "/" were taken for a path
    (6a220ee). A path is kept when it reads as one: from "/", "./", "../" or
    "~/", or ending with a config's or data's extension."""
    from lineage._provenance import _redacted

    argv = ["login.py", "-u", "me", "-p", "pass/word", "-p", "secret/1", "-p", "hunter2/", "-ppass/word"]
    assert _redacted(argv) == ["login.py", "-u", "me", "-p", "***", "-p", "***", "-p", "***", "-p***"]
    kept = ["run.py", "-u", "1000", "-p", "/etc/app/x", "-p", "../runs/2", "-p", "configs/exp/base.yaml"]
    assert _redacted(kept) == kept


def test_a_one_dash_long_option_is_no_user_flag():
    """A long option written with one dash that begins with u (-use_gpu,
    -unk_token) was taken for -u glued to a user (mysql's -uroot): -p's
    value was then hidden as a password (-p data/train as -p ***), and a
    -pretrained_model flag written -p***. A glued user with a password
    (-uuser_x:pw) is still one."""
    from lineage._provenance import _redacted

    kept = ["train.py", "-use_gpu", "-p", "data/train", "-unk_token", "<unk>", "-pretrained_model", "bert", "-update-freq", "2"]
    assert _redacted(kept) == kept
    assert _redacted(["db.py", "-uuser_x:pw", "-p", "hunter2"]) == ["db.py", "-uuser_x:***", "-p", "***"]


def test_secrets_in_a_url_s_query_on_the_command_line_are_hidden():
    """A URL's query string kept its secrets in clear (?access_token=, ?api_key=,
    a presigned S3 or GCS URL's X-Amz-Signature and X-Amz-Credential, an Azure
    SAS's sig): only a first parameter named like a secret was hidden, with
    every parameter after it. The value of each secret-named (or signature)
    parameter is hidden now, the others kept."""
    from lineage._provenance import _redacted

    argv = ["train.py", "https://host/x?access_token=abc&x=1", "--url=https://h/y?x=1&api_key=k-123&page=2",
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAX%2F2024&X-Amz-Date=2024"
            "&X-Amz-Expires=3600&X-Amz-Signature=ab12cd&X-Amz-Security-Token=FQo",
            "https://a.blob.core.windows.net/c/f?sv=2022&se=2024&sp=r&sig=abc%3D",
            "postgresql://h/db?sslmode=require&password=pw", "https://h/cb#state=s&id_token=eyJ",
            "https://h/x?max_tokens=100&token_limit=4096&password=123456&q=", "data.csv"]
    assert _redacted(argv) == [
        "train.py", "https://host/x?access_token=***&x=1", "--url=https://h/y?x=1&api_key=***&page=2",
        "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=***&X-Amz-Date=2024"
        "&X-Amz-Expires=3600&X-Amz-Signature=***&X-Amz-Security-Token=***",
        "https://a.blob.core.windows.net/c/f?sv=2022&se=2024&sp=r&sig=***",
        "postgresql://h/db?sslmode=require&password=***", "https://h/cb#state=s&id_token=***",
        "https://h/x?max_tokens=100&token_limit=4096&password=***&q=", "data.csv"]


def test_api_keys_and_session_ids_in_a_url_s_query_on_the_command_line_are_hidden():
    """A Google API key (?key=AIza...), a session's id (?sessionid=, ?sid=,
    Java's /app;jsessionid=) and a known service's token under a plain name (?q=hf_...)
    were recorded in clear: their names hold no secret word. They are hidden
    now; a word with a token's prefix ("sk-learn"), a commit's hash and a
    file's id are kept."""
    from lineage._provenance import _redacted

    key = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
    argv = ["train.py", f"https://maps.googleapis.com/api/geocode/json?address=x&key={key}",
            "--url=https://h/app?sessionid=abc123&page=2&session_id=s1&PHPSESSID=p&sid=z",
            "https://h/app;jsessionid=A1B2?Key=train&x=1", f"https://h/s?q=hf_AbCdEfGhIjKlMnOpQrStUv&model=sk-learn&user={key}",
            "https://h/x?ref=0123456789abcdef0123456789abcdef01234567&id=1AbCdEfGhIjKlMnOpQrStUvWxYz012345"]
    assert _redacted(argv) == [
        "train.py", "https://maps.googleapis.com/api/geocode/json?address=x&key=***",
        "--url=https://h/app?sessionid=***&page=2&session_id=***&PHPSESSID=***&sid=***",
        "https://h/app;jsessionid=***?Key=***&x=1", "https://h/s?q=***&model=sk-learn&user=***",
        "https://h/x?ref=0123456789abcdef0123456789abcdef01234567&id=1AbCdEfGhIjKlMnOpQrStUvWxYz012345"]


def test_a_secret_query_value_holding_a_question_mark_on_the_command_line_is_hidden_whole():
    """A "?" is data in a URL's query (a password "ab?cd"): a query value was
    cut there, to end a path's ;jsessionid=... before the query, and the rest
    of the secret was recorded in clear (?password=***?cd). It is hidden
    whole; a "?" before a pair (;jsessionid=x?q=1, ?next=/a?token=x) still
    ends the value."""
    from lineage._provenance import _redacted

    argv = ["train.py", "https://h/x?password=ab?cd&x=1", "https://h/x?token=a?b?c", "https://h/x?sig=s?t#f",
            "https://h/app;jsessionid=A1?q=1", "https://h/cb?next=/a?token=t&page=2"]
    assert _redacted(argv) == ["train.py", "https://h/x?password=***&x=1", "https://h/x?token=***", "https://h/x?sig=***#f",
                               "https://h/app;jsessionid=***?q=1", "https://h/cb?next=/a?token=***&page=2"]


def test_a_known_service_s_token_on_the_command_line_is_hidden_whatever_its_flag():
    """A Hugging Face, GitHub or Google token given positionally, after a
    flag not named like a secret (--key AIza..., --hf hf_...) or as a value
    of one (--hf=..., cfg.hub=..., a connection string's pair) was recorded
    in clear. It is hidden now; a short word with such a prefix is kept."""
    from lineage._provenance import _redacted

    hf, key = "hf_AbCdEfGhIjKlMnOpQrStUv", "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
    argv = ["train.py", hf, "--key", key, f"--hf={hf}", f"cfg.hub={hf}", f"host=db key={key} port=1",
            "ghp_0123456789abcdefABCDEF0123456789abcd", "sk-learn", "--model", "sk-small", "xoxo"]
    assert _redacted(argv) == ["train.py", "***", "--key", "***", "--hf=***", "cfg.hub=***", "host=db key=*** port=1", "***",
                               "sk-learn", "--model", "sk-small", "xoxo"]


def test_a_file_named_with_a_token_s_prefix_on_the_command_line_is_kept():
    """A file whose name starts as a known service's token does
    (hf_checkpoint_epoch10.bin, sk-model-random-forest.pkl), given
    positionally, after a flag or as a pair's value, was recorded as *** since
    such tokens are hidden wherever they are: it is kept, as before (no such
    token ends with a file's extension); the token itself is still hidden."""
    from lineage._provenance import _redacted

    argv = ["train.py", "hf_checkpoint_epoch10_final.bin", "--out", "sk-model-random-forest.pkl",
            "cfg.model=hf_bert_base_uncased_v2.yaml", "hf_AbCdEfGhIjKlMnOpQrStUv"]
    assert _redacted(argv) == ["train.py", "hf_checkpoint_epoch10_final.bin", "--out", "sk-model-random-forest.pkl",
                               "cfg.model=hf_bert_base_uncased_v2.yaml", "***"]


def test_a_credential_in_an_http_header_on_the_command_line_is_hidden():
    """A header given as an argument (-H "Authorization: Bearer x", curl's and
    httpie's form, --header=X-Api-Key:x) was recorded in clear: only name=value
    pairs were judged. A secret header's value is hidden now, others kept."""
    from lineage._provenance import _redacted

    argv = ["call.py", "-H", "Authorization: Bearer abc", "--header=X-Api-Key:k1", "Cookie:sid=abc", "X-Auth-Token: t",
            "-H", "Accept: application/json", "--at", "12:30", "token_limit:512", "https://u:p@h/x"]
    assert _redacted(argv) == ["call.py", "-H", "Authorization: ***", "--header=X-Api-Key:***", "Cookie:***",
                               "X-Auth-Token: ***", "-H", "Accept: application/json", "--at", "12:30", "token_limit:512",
                               "https://u:***@h/x"]


def test_a_script_git_does_not_track_is_dirty(tmp_path):
    """An untracked script in a git work tree: the commit does not hold the
    code that ran. git status without untracked files had called it clean."""
    import json
    import subprocess
    import sys

    def git(*args):
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    script = "import lineage\nlineage.init(store='sqlite:///{db}')\n@lineage.track\ndef {name}(): pass\n{name}()\n"
    git("init", "-q")
    (tmp_path / "committed.py").write_text(script.format(db="c.db", name="committed"))
    (tmp_path / "stepA.py").write_text("")
    git("add", "committed.py", "stepA.py")
    git("commit", "-q", "-m", "init")
    # a name git would take as a pattern matching the committed stepA.py
    (tmp_path / "step[A].py").write_text(script.format(db="u.db", name="untracked"))
    (tmp_path / ".gitignore").write_text("*.db*\nhome/\n.gitignore\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["LINEAGE_HOME"] = str(tmp_path / "home")
    for name in ("committed.py", "step[A].py"):
        subprocess.run([sys.executable, name], cwd=tmp_path, env=env, check=True, timeout=120)
    codes = {}
    for name, db in (("committed", "c.db"), ("untracked", "u.db")):
        store = lineage.Store(url=f"sqlite:///{tmp_path / db}")
        props = mr.custom(mr.one_execution(store, name))
        codes[name] = json.loads(props["lineage.provenance"])["code"]
        assert len(props["lineage.git_commit"]) == 40
    assert codes["committed"]["git_dirty"] is False and "source_untracked" not in codes["committed"]
    assert codes["untracked"]["git_dirty"] is True and codes["untracked"]["source_untracked"] is True


def test_a_with_block_has_the_git_state_of_its_file(tmp_path):
    """A with block's provenance was the working folder's git state: run
    from outside the script's work tree it had no commit (or another
    repository's), and in an untracked script it was called clean."""
    import json
    import subprocess
    import sys

    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir()
    elsewhere.mkdir()

    def git(*args):
        done = subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                              capture_output=True, text=True)
        return done.stdout.strip()

    script = (
        "import contextlib, asyncio, lineage\nlineage.init(store='sqlite:///{db}')\n"
        "with lineage.execution('block'):\n    pass\n"
        "with contextlib.ExitStack() as stack:\n    stack.enter_context(lineage.execution('stacked'))\n"
        "async def main():\n    async with lineage.execution('awaited'):\n        pass\n"
        "asyncio.run(main())\n"
    )
    git("init", "-q")
    (repo / "committed.py").write_text(script.format(db=tmp_path / "c.db"))
    git("add", "committed.py")
    git("commit", "-q", "-m", "init")
    head = git("rev-parse", "HEAD")
    (repo / "untracked.py").write_text(script.format(db=tmp_path / "u.db"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["LINEAGE_HOME"] = str(tmp_path / "home")
    for name in ("committed.py", "untracked.py"):
        subprocess.run([sys.executable, str(repo / name)], cwd=elsewhere, env=env, check=True, timeout=120)
    for db, dirty in (("c.db", False), ("u.db", True)):
        store = lineage.Store(url=f"sqlite:///{tmp_path / db}")
        for name in ("block", "stacked", "awaited"):
            props = mr.custom(mr.one_execution(store, name))
            assert props.get("lineage.git_commit") == head, (db, name)
            code = json.loads(props["lineage.provenance"])["code"]
            assert code["git_dirty"] is dirty and code.get("source_untracked", False) is dirty, (db, name, code)


class TestFunctionKinds:
    def test_decorator_forms_and_metadata(self, tracked_sqlite):
        """@track, @track() and @track(...) keep __name__, __doc__, __wrapped__ and the signature."""

        def f(a: int, b: str = "x") -> int:
            """Doc."""
            return a

        for decorated in (track(f), track()(f), track(name="g", exclude=["b"])(f)):
            assert decorated.__name__ == "f"
            assert decorated.__doc__ == "Doc."
            assert decorated.__wrapped__ is f
            assert inspect.signature(decorated) == inspect.signature(f)
            assert decorated(5) == 5
        assert len(mr.executions(tracked_sqlite, "f")) == 2
        assert len(mr.executions(tracked_sqlite, "g")) == 1

    def test_a_class_is_refused_at_the_decorator(self):
        """@track on a class recorded only its constructor: refused, naming the class."""
        with pytest.raises(TypeError) as caught:

            @track
            class Trainer:
                def fit(self) -> None: ...

        assert "track() decorates functions and methods, not classes: got class 'Trainer'" in str(caught.value)

    def test_tracked_functions_and_methods_pickle_like_the_functions_they_wrap(self, tracked_sqlite):
        """By reference: a function is itself after a round trip, a bound method
        is bound to the unpickled instance; copies are the function itself
        (wrapt's proxies refused to be pickled, which broke multiprocessing)."""
        import copy
        import pickle

        from tests import workers

        bound = pickle.loads(pickle.dumps(workers.Trainer(7).fit))
        model = bound(data())

        assert pickle.loads(pickle.dumps(workers.step)) is workers.step
        assert (copy.copy(workers.step), copy.deepcopy(workers.step)) == (workers.step, workers.step)
        assert (bound.__self__.k, model.uri) == (7, "s3://bucket/mnist.csv/model-7")
        assert pickle.loads(pickle.dumps(workers.Trainer.make))(3).k == 3
        assert pickle.loads(pickle.dumps(workers.Trainer.helper))(1) == 2
        assert len(mr.executions(tracked_sqlite, "fit")) == 1

    @pytest.mark.parametrize("method", ["fork", "spawn"])
    def test_a_process_pool_runs_tracked_functions(self, tracked_sqlite, monkeypatch, method):
        """ProcessPoolExecutor.map(tracked, ...) works with both start methods, and each call is recorded."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from tests import workers

        monkeypatch.setenv("LINEAGE_STORE", f"sqlite:///{tracked_sqlite.url.path}")
        items = [data(f"p{i}") for i in range(3)]
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
            models = list(pool.map(workers.step, items, range(3)))

        assert [m.name for m in models] == ["model-0", "model-1", "model-2"]
        assert len(mr.executions(tracked_sqlite, "step")) == 3

    def test_async_function_ends_after_the_await(self, tracked_sqlite):
        """An async function's execution ends after its await, not when the coroutine is created."""

        @track
        async def train(d: DataSet) -> Model:
            await asyncio.sleep(0.2)
            return Model(uri="file:///async", name="m")

        assert inspect.iscoroutinefunction(train)
        asyncio.run(train(data()))
        e = mr.one_execution(tracked_sqlite, "train")
        assert mr.state(e) == "COMPLETE"
        import datetime

        start, end = (
            datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            for text in (e.properties["create_time"].string_value, mr.custom(e)["lineage.end_time"])
        )
        assert (end - start).total_seconds() >= 0.2
        assert mr.paths(tracked_sqlite, e.id)[-1] == ("OUTPUT", ("return",), "file:///async")

    def test_generator_ends_when_exhausted_and_yields_are_outputs(self, tracked_sqlite):
        """A generator's execution stays RUNNING while it yields and ends when exhausted."""
        states = []

        @track
        def checkpoints(n: int):
            for i in range(n):
                yield Model(uri=f"file:///ckpt{i}", name=f"ckpt{i}")

        for _ in checkpoints(2):
            states.append(mr.state(mr.one_execution(tracked_sqlite, "checkpoints")))
        e = mr.one_execution(tracked_sqlite, "checkpoints")
        assert states == ["RUNNING", "RUNNING"]
        assert mr.state(e) == "COMPLETE"
        assert mr.paths(tracked_sqlite, e.id) == [
            ("OUTPUT", ("yield", 0), "file:///ckpt0"),
            ("OUTPUT", ("yield", 1), "file:///ckpt1"),
        ]

    def test_paths_a_generator_annotated_as_yielding_records_yields_are_those_records(self, tracked_sqlite, tmp_path):
        """-> Iterator[Model]: the str and Path items it yields were recorded as
        nothing, where -> list[Model] makes records of them."""

        @track
        def checkpoints(n: int) -> Iterator[Model]:
            for i in range(n):
                yield f"s3://ckpt/{i}"

        @track
        def files() -> Generator[DataSet, None, None]:
            yield tmp_path / "part0.csv"

        @track
        async def produce() -> AsyncIterator[Metrics]:
            yield "s3://scores/a.json"

        async def consume():
            return [m async for m in produce()]

        assert list(checkpoints(2)) == ["s3://ckpt/0", "s3://ckpt/1"]
        assert list(files()) == [tmp_path / "part0.csv"]
        assert asyncio.run(consume()) == ["s3://scores/a.json"]
        paths = {name: mr.paths(tracked_sqlite, mr.one_execution(tracked_sqlite, name).id)
                 for name in ("checkpoints", "files", "produce")}
        assert paths == {
            "checkpoints": [("OUTPUT", ("yield", 0), "s3://ckpt/0"), ("OUTPUT", ("yield", 1), "s3://ckpt/1")],
            "files": [("OUTPUT", ("yield", 0), (tmp_path / "part0.csv").as_uri())],
            "produce": [("OUTPUT", ("yield", 0), "s3://scores/a.json")],
        }
        types = {a.uri: type(a).__name__ for a in tracked_sqlite._connection.reader.artifacts(list(range(1, 5)))}
        assert types == {"s3://ckpt/0": "Model", "s3://ckpt/1": "Model", (tmp_path / "part0.csv").as_uri(): "DataSet",
                         "s3://scores/a.json": "Metrics"}

    def test_a_yielded_value_its_annotation_calls_a_record_but_is_none_is_said_as_yielded(self, tracked_sqlite):
        """-> Iterator[Model] yielding a float: the warning said "the value
        returned" and "return a Model", of a generator that returned nothing."""

        @track
        def losses() -> Iterator[Model]:
            yield 0.5

        with pytest.warns(lineage.LineageWarning) as caught:
            assert list(losses()) == [0.5]
        [said] = [str(w.message) for w in caught]
        assert said == (
            "the value yielded (yield/0) is annotated Model but is 0.5 (float), which is no Model "
            "(nor a path or URI, as a str or Path, to make one of): it is not recorded as an output (yield a Model)"
        )

    @pytest.mark.parametrize("kind", ["generator", "async generator"])
    def test_a_generator_suspended_when_the_process_exits_is_recorded(self, tmp_path, kind):
        """A script that took the first batch of a tracked generator and
        ended: the generator was closed as the interpreter tore down, its end
        could not be written (ImportError: sys.meta_path is None, in a
        warning), and the execution, its input and its yield were lost."""

        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import asyncio, lineage\nlineage.init(store=" + repr(url) + ")\n"
            "@lineage.track\ndef batches(d: lineage.DataSet):\n"
            "    for i in range(5):\n        yield lineage.Model(uri=f'file:///b{i}', name='b')\n"
            "@lineage.track\nasync def abatches(d: lineage.DataSet):\n"
            "    for i in range(5):\n        yield lineage.Model(uri=f'file:///b{i}', name='b')\n"
        )
        if kind == "generator":
            script += "kept = batches(lineage.DataSet(uri='s3://exit/d', name='d'))\nnext(kept)\n"
        else:
            script += (
                "kept = abatches(lineage.DataSet(uri='s3://exit/d', name='d'))\n"
                "asyncio.new_event_loop().run_until_complete(kept.__anext__())\n"
            )
        done = run_script(tmp_path, script)
        assert done.returncode == 0 and "LineageWarning" not in done.stderr, done.stderr
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "batches" if kind == "generator" else "abatches")
        assert mr.state(e) == "COMPLETE"
        assert [uri for _, _, uri in mr.paths(store, e.id)] == ["s3://exit/d", "file:///b0"]

    def test_generator_closed_early_and_failing(self, tracked_sqlite):
        """Closing a generator early completes it; an error inside marks it FAILED."""

        @track
        def stream():
            yield 1
            yield 2

        @track
        def broken():
            yield 1
            raise RuntimeError("mid-stream")

        gen = stream()
        next(gen)
        gen.close()
        with pytest.raises(RuntimeError):
            list(broken())
        assert mr.state(mr.one_execution(tracked_sqlite, "stream")) == "COMPLETE"
        assert mr.state(mr.one_execution(tracked_sqlite, "broken")) == "FAILED"

    def test_async_generator(self, tracked_sqlite):
        """An async generator's yields are outputs and it ends when exhausted."""

        @track
        async def produce():
            for i in range(2):
                await asyncio.sleep(0)
                yield Metrics(uri=f"file:///a{i}", name=f"a{i}")

        async def consume():
            return [m async for m in produce()]

        assert len(asyncio.run(consume())) == 2
        e = mr.one_execution(tracked_sqlite, "produce")
        assert mr.state(e) == "COMPLETE"
        assert [p for _, p, _ in mr.paths(tracked_sqlite, e.id)] == [("yield", 0), ("yield", 1)]

    def test_generator_called_with_wrong_arguments_raises_at_the_call(self, tracked_sqlite):
        """As without @track: a generator function's TypeError comes from the
        call, not from the first next() (nothing is recorded)."""

        def gen(a):
            yield a

        async def agen(a):
            yield a

        for fn in (gen, agen):
            with pytest.raises(TypeError) as plain:
                fn(1, 2)
            with pytest.raises(TypeError) as tracked:
                track(fn)(1, 2)
            assert str(tracked.value) == str(plain.value)
        assert mr.executions(tracked_sqlite) == []
        assert list(track(gen)(5)) == [5]

    def test_async_generator_passes_athrow_on(self, tracked_sqlite):
        """athrow() reaches the tracked async generator, as it reaches the plain
        one: it may recover and yield again (before, the wrapper raised)."""

        async def plain():
            try:
                yield 1
            except ValueError:
                yield "recovered"

        async def drive(gen):
            first = await gen.__anext__()
            second = await gen.athrow(ValueError("stop"))
            return first, second

        assert asyncio.run(drive(plain())) == (1, "recovered")
        assert asyncio.run(drive(track(plain)())) == (1, "recovered")
        # asyncio.run closes the unfinished generator at the end: COMPLETE
        assert mr.state(mr.one_execution(tracked_sqlite, "plain")) == "COMPLETE"

    def test_exception_whose_str_fails_propagates_unchanged(self, tracked_sqlite):
        """The user's exception reaches the caller even when its __str__ raises
        (before, lineage's RuntimeError from str() replaced it)."""

        class Weird(Exception):
            def __str__(self):
                raise RuntimeError("no str for you")

        @track
        def f():
            raise Weird()

        with pytest.raises(Weird):
            f()
        e = mr.one_execution(tracked_sqlite, "f")
        assert mr.state(e) == "FAILED"
        assert mr.custom(e)["lineage.error_message"] == "<Weird: str() failed>"
        assert mr.custom(e)["lineage.error_type"].endswith("Weird")


class TestFunctionKindsFromReview:
    def test_an_async_function_called_wrongly_raises_at_the_call(self, tracked_sqlite):
        """As without @track: a tracked coroutine function's TypeError for
        wrong arguments came only when the coroutine was awaited. Its
        coroutine is named after the function."""

        @track
        async def plain(a, d: DataSet):
            return a

        with pytest.raises(TypeError, match="positional argument"):
            plain(1, data(), 3)
        coroutine = plain(1, data())
        assert coroutine.__qualname__.endswith("plain")
        assert asyncio.run(coroutine) == 1
        assert [mr.state(e) for e in mr.executions(tracked_sqlite, "plain")] == ["COMPLETE"]

    def test_a_partial_is_named_and_described_after_its_function(self, tracked_sqlite):
        """track(functools.partial(train, lr=0.5)) was called "execution",
        described by partial's own docstring, from module functools."""
        import functools

        def train(d: DataSet, lr: float = 0.1):
            """Train the model."""
            return None

        track(functools.partial(train, lr=0.5))(data())
        [e] = mr.executions(tracked_sqlite, "train")
        provenance = json.loads(mr.custom(e)["lineage.provenance"])
        assert e.properties["description"].string_value == "Train the model."
        assert provenance["code"]["function"].endswith(".train") and provenance["code"]["module"] == __name__
        assert mr.custom(e)["lr"] == 0.5

    def test_an_int_enum_exit_code_of_zero_is_a_success(self, tracked_sqlite):
        """sys.exit(ExitCode.OK) (sys.exit(pytest.main()), say) exits with 0:
        COMPLETE, as sys.exit(0) is."""
        import enum
        import sys

        class ExitCode(enum.IntEnum):
            OK = 0

        @track
        def main(d: DataSet):
            sys.exit(ExitCode.OK)

        with pytest.raises(SystemExit):
            main(data())
        assert [mr.state(e) for e in mr.executions(tracked_sqlite, "main")] == ["COMPLETE"]

    def test_a_tracked_coroutine_cancelled_before_it_ran_warns_of_nothing(self, tracked_sqlite):
        """The coroutine made at the call to check the arguments was never
        awaited when its task was cancelled before it started: Python warned
        of it, where an untracked coroutine gives no warning."""
        import gc
        import warnings

        @track
        async def f(x):
            await asyncio.sleep(0)
            return x

        async def boom():
            raise ValueError("boom")

        async def run():
            with pytest.raises(ValueError):
                await asyncio.gather(boom(), f(5))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(f(6), timeout=0)
            return await f(7)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert asyncio.run(run()) == 7
            gc.collect()
        assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []

    def test_two_modules_with_the_same_function_each_have_their_provenance(self, tracked_sqlite, tmp_path, monkeypatch):
        """Provenance was cached by code object, and equal code objects of two
        modules are equal: both were recorded as the first module's."""
        import importlib

        for module in ("prov_moda", "prov_modb"):
            (tmp_path / f"{module}.py").write_text("def f(d):\n    return None\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        for module in ("prov_moda", "prov_modb"):
            track(importlib.import_module(module).f)(data(module))
        modules = [json.loads(mr.custom(e)["lineage.provenance"])["code"]["module"] for e in mr.executions(tracked_sqlite, "f")]
        assert sorted(modules) == ["prov_moda", "prov_modb"]

    def test_functions_under_one_decorator_each_have_their_provenance(self, tracked_sqlite):
        """A functools.wraps decorator's wrapper is one code object for every
        function it wraps: the second function was recorded as the first."""
        logged = TestUnderOtherDecorators.passthrough

        @track
        @logged
        def prepare(d: DataSet):
            return None

        @track
        @logged
        def train(d: DataSet):
            return "different body"

        prepare(data("p"))
        train(data("t"))
        for name in ("prepare", "train"):
            [e] = mr.executions(tracked_sqlite, name)
            assert json.loads(mr.custom(e)["lineage.provenance"])["code"]["function"].endswith(name)

    def test_a_callable_object_under_a_decorator_is_tracked(self, tracked_sqlite):
        """functools.wraps over an unhashable callable object (a dataclass
        with __call__): the provenance key could not be made, and nothing was
        recorded (strict: TypeError)."""
        import dataclasses
        import functools

        @dataclasses.dataclass
        class Scorer:
            weight: float = 1.0

            def __call__(self, d: DataSet):
                return self.weight

        scorer = Scorer()

        @functools.wraps(scorer)
        def wrapper(d: DataSet):
            return scorer(d)

        assert track(wrapper)(data()) == 1.0
        assert len(mr.executions(tracked_sqlite)) == 1
        # Keyed by its id, it is kept alive with its cache entry: another object
        # given the same id later (a reloaded module's) would get its provenance.
        from lineage import _provenance

        assert any(pinned is scorer for pinned in _provenance._pinned.values())

    def test_an_unhashable_callable_object_tracked_itself_is_recorded(self, tracked_sqlite):
        """track(Scorer()) of a dataclass with __call__ (unhashable): its
        provenance key could not be made, and the execution was lost
        ("unhashable type: 'Scorer'"; strict: TypeError)."""
        import dataclasses

        @dataclasses.dataclass
        class Scorer:
            weight: float = 1.0

            def __call__(self, d: DataSet):
                return self.weight

        assert track(Scorer())(data()) == 1.0
        [e] = mr.executions(tracked_sqlite)
        assert json.loads(mr.custom(e)["lineage.provenance"])["code"]["function"].endswith("Scorer")

    def test_what_track_cannot_read_is_named(self):
        """track(min) raised ValueError('no signature found'); track(inputs=3)
        a bare "'int' object is not iterable"."""
        with pytest.raises(lineage.InvalidTypeError, match=r"track\(\) needs a function .*built-in function min"):
            track(min)
        with pytest.raises(lineage.InvalidTypeError, match=r"track\(inputs\) must be .*got 3 \(int\)"):
            track(inputs=3)(lambda a: a)

    def test_a_system_exit_whose_code_cannot_be_compared_is_the_users(self, tracked_sqlite):
        """SystemExit(code) with a code whose == raises: lineage's ValueError
        replaced the user's SystemExit, and nothing was recorded."""

        class Code:
            def __eq__(self, other):
                raise ValueError("ambiguous")

            __hash__ = None

        @track
        def leave(d: DataSet):
            raise SystemExit(Code())

        with pytest.raises(SystemExit):
            leave(data())
        assert [mr.state(e) for e in mr.executions(tracked_sqlite, "leave")] == ["FAILED"]


class TestExecutionBlock:
    def test_logging_after_the_end_is_refused(self, tracked_sqlite):
        """log_input/log_output/log_param after the block ended raise (it would
        never be written; before, it was dropped without a word), and what was
        stored is unchanged."""
        with execution("train") as ex:
            ex.log_param("lr", 0.1)
        for call in (
            lambda: ex.log_output(data("late")),
            lambda: ex.log_input(data("late")),
            lambda: ex.log_param("epochs", 3),
        ):
            with pytest.raises(lineage.LineageError, match=r"execution 'train' has ended"):
                call()
        ex.flush()
        e = mr.one_execution(tracked_sqlite, "train")
        assert mr.state(e) == "COMPLETE" and mr.events(tracked_sqlite, e.id) == []
        assert mr.custom(e)["lr"] == 0.1 and "epochs" not in mr.custom(e)

    @pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mysql"])
    def test_explicit_path_index_must_fit_32_bits(self, tmp_path, kind):
        """An event path index that PostgreSQL and MySQL cannot hold (a 32-bit
        column; SQLite took 64 bits) is refused at log time on every backend,
        naming it, and the block is recorded."""
        store = lineage.Store(url=backends.make_url(kind, tmp_path))
        with execution("paths", store=store) as ex:
            for bad in (2**31, -(2**31) - 1, 2**71):
                with pytest.raises(lineage.InvalidValueError, match=rf"path index must fit in 32 bits.* {bad}$"):
                    ex.log_output(data("a"), path=bad)
            ex.log_output(data("b"), path=("k", 2**31 - 1))
            ex.log_output(data("c"), path=-(2**31))
        e = mr.one_execution(store, "paths")
        assert mr.state(e) == "COMPLETE"
        assert sorted(map(str, (p for _, p, _ in mr.paths(store, e.id)))) == sorted(map(str, [(-(2**31),), ("k", 2**31 - 1)]))

    @pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mysql"])
    def test_a_dict_key_past_32_bits_is_a_path_key(self, tmp_path, kind):
        """A captured dict key too large for an index (a timestamp in ms) is
        kept as a key: the call is recorded on every backend."""
        store = lineage.Store(url=backends.make_url(kind, tmp_path))

        @track(store=store)
        def f(parts: dict):
            return None

        f({1_700_000_000_000: data("big"), 2**70: data("huge"), 7: data("small")})
        e = mr.one_execution(store, "f")
        assert mr.state(e) == "COMPLETE"
        assert sorted(map(str, (p for _, p, _ in mr.paths(store, e.id)))) == sorted(
            map(str, [("parts", "1700000000000"), ("parts", str(2**70)), ("parts", 7)])
        )

    def test_with_block_records_logged_artifacts_and_params(self, tracked):
        """with execution(...) records inputs, outputs and params logged in the block."""
        model = Model(uri="file:///m.pt", name="m", version="1")
        with execution("evaluate") as ex:
            ex.log_input(model)
            ex.log_param("threshold", 0.5)
            ex.log_output(Metrics(uri="file:///eval.json", name="eval", values={"acc": 0.9}))
        e = mr.one_execution(tracked, "evaluate")
        assert ex.id == e.id
        assert mr.state(e) == "COMPLETE"
        assert mr.custom(e)["threshold"] == 0.5
        assert mr.paths(tracked, e.id) == [("INPUT", (), "file:///m.pt"), ("OUTPUT", (), "file:///eval.json")]

    def test_params_logged_after_the_start_write_land_with_the_end(self, tracked_sqlite):
        """A param logged once the RUNNING state is stored is in the final record, beside the earlier ones."""
        with execution("tune", start_delay=0) as ex:
            ex.log_param("lr", 0.1)
            ex.flush()
            assert mr.custom(mr.one_execution(tracked_sqlite, "tune"))["lr"] == 0.1
            ex.log_param("best_epoch", 7)
            ex.log_param("lr", 0.25)
        props = mr.custom(mr.one_execution(tracked_sqlite, "tune"))
        assert (props["lr"], props["best_epoch"]) == (0.25, 7)

    def test_lineage_params_follows_params_changed_after_the_start_write(self, tracked_sqlite):
        """lineage.params written for a value a property cannot hold goes away once every param is exact again."""
        import json

        with execution("tune", start_delay=0) as ex:
            ex.log_param("x", None)
            ex.flush()
            assert json.loads(mr.custom(mr.one_execution(tracked_sqlite, "tune"))["lineage.params"]) == {"x": None}
            ex.log_param("x", 5)
        props = mr.custom(mr.one_execution(tracked_sqlite, "tune"))
        assert (props["x"], "lineage.params" in props) == (5, False)

    def test_async_with_block(self, tracked_sqlite):
        """async with execution(...) works the same."""

        async def main():
            async with execution("score") as ex:
                ex.log_output(Metrics(uri="file:///s", name="s"))
                await asyncio.sleep(0)

        asyncio.run(main())
        assert mr.state(mr.one_execution(tracked_sqlite, "score")) == "COMPLETE"

    def test_execution_as_decorator(self, tracked_sqlite):
        """execution("name") also decorates a function."""

        @execution("scored")
        def score(d: DataSet):
            return 1

        score(data())
        score(data())
        assert len(mr.executions(tracked_sqlite, "scored")) == 2

    def test_bad_arguments_raise_at_the_call(self, tracked_sqlite):
        """Misuse is the caller's bug: it raises at once, naming the argument and value."""
        with pytest.raises(lineage.InvalidTypeError, match=r"execution\(name\).*42"):
            execution(42)
        with pytest.raises(lineage.InvalidStoreURLError, match="nope"):
            execution("x", store="nope://x")
        with pytest.raises(lineage.InvalidTypeError, match="unexpected option"):
            track(names="x")
        with pytest.raises(lineage.InvalidValueError, match="'missing'"):

            @track(exclude=["missing"])
            def f(a):
                return a

        with execution("x") as ex:
            with pytest.raises(lineage.InvalidTypeError, match=r"log_input\(artifact\).*'a string'"):
                ex.log_input("a string")
            with pytest.raises(lineage.ReservedPropertyError):
                ex.log_param("__kf_run__", 1)


    def test_with_block_takes_records_as_inputs_and_outputs(self, tracked):
        """execution(inputs=..., outputs=...) in a with block logs those records
        (a dict's keys are their event paths); they were ignored without a word."""
        raw, model = data("raw"), Model(uri="file:///prep.pt", name="prep", version="1")
        with execution("prep", inputs={"raw": raw}, outputs=[model]) as ex:
            ex.log_output(data("clean"), path="clean")
        e = mr.one_execution(tracked, "prep")
        assert mr.paths(tracked, e.id) == [
            ("INPUT", ("raw",), "s3://bucket/raw.csv"),
            ("OUTPUT", (), "file:///prep.pt"),
            ("OUTPUT", ("clean",), "s3://bucket/clean.csv"),
        ]
        assert raw.id is not None and model.id is not None
        with execution("one", inputs=model):
            pass
        assert mr.paths(tracked, mr.one_execution(tracked, "one").id) == [("INPUT", (), "file:///prep.pt")]
        with execution("keyed", inputs={0: raw}, outputs=(m for m in [data("made")])):
            pass
        assert mr.paths(tracked, mr.one_execution(tracked, "keyed").id) == [
            ("INPUT", (0,), "s3://bucket/raw.csv"),
            ("OUTPUT", (), "s3://bucket/made.csv"),
        ]

    def test_records_given_to_a_block_are_in_its_first_write(self, tracked_sqlite):
        """The RUNNING state is stored with the given inputs (a process that
        dies in the block leaves them recorded); the outputs come at the end."""
        with execution("long", inputs=[data("in")], outputs=[data("out")]) as ex:
            running = mr.one_execution(tracked_sqlite, "long")
            assert mr.state(running) == "RUNNING"
            assert mr.paths(tracked_sqlite, running.id) == [("INPUT", (), "s3://bucket/in.csv")]
        assert mr.paths(tracked_sqlite, ex.id) == [("INPUT", (), "s3://bucket/in.csv"), ("OUTPUT", (), "s3://bucket/out.csv")]

    @pytest.mark.parametrize("empty", [[], (), {}])
    def test_an_empty_collection_of_records_is_none(self, tracked_sqlite, empty):
        """A list of records that came out empty is no records (it was refused as parameter names)."""
        with execution("nothing", inputs=empty, outputs=empty):
            pass
        e = mr.one_execution(tracked_sqlite, "nothing")
        assert (mr.state(e), mr.events(tracked_sqlite, e.id)) == ("COMPLETE", [])

    @pytest.mark.parametrize(
        "options, message",
        [
            ({"inputs": ["d"]}, r"execution\(inputs\) in a with block takes records.*\['d'\]"),
            ({"outputs": Model}, r"execution\(outputs\) in a with block takes records.*Model"),
            ({"exclude": ["secret"]}, r"execution\(exclude\) names parameters of a decorated function.*'secret'"),
        ],
    )
    def test_with_block_refuses_the_decorator_forms(self, tracked_sqlite, options, message):
        """Parameter names, record classes and exclude mean nothing in a with
        block: refused at the with statement, before anything is written."""
        with pytest.raises(lineage.InvalidTypeError, match=message), execution("block", **options):
            pytest.fail("the block ran")
        assert mr.executions(tracked_sqlite, "block") == []

    @pytest.mark.parametrize(
        "options, message",
        [
            ({"inputs": {"raw": "s3://bucket/raw.csv"}}, r"execution\(inputs\)\['raw'\] must be a record class.*'s3://bucket/raw.csv'"),
            ({"outputs": ["s3://bucket/made.csv"]}, r"execution\(outputs\) must name record classes.*'s3://bucket/made.csv'"),
            ({"inputs": "s3://bucket/raw.csv"}, r"execution\(inputs\) must be a list of parameter names.*'s3://bucket/raw.csv'"),
        ],
    )
    def test_a_block_given_no_records_is_told_a_block_takes_records(self, tracked_sqlite, options, message):
        """execution() is a with block or a decorator: a uri where a record
        goes was answered "must be a record class", right for a decorator
        only, and a with block's user was sent to record classes."""
        with pytest.raises(lineage.InvalidTypeError, match=message) as caught, execution("block", **options):
            pytest.fail("the block ran")
        field = next(iter(options))
        example = "inputs={'raw': DataSet(...)}" if field == "inputs" else "outputs=[Model(...)]"
        assert str(caught.value).endswith(f"; in a with block, records: execution({example})")
        assert mr.executions(tracked_sqlite, "block") == []

    def test_records_given_are_checked(self, tracked_sqlite):
        """A record among other things, or a dict key that is not text, names where it is."""
        with pytest.raises(lineage.InvalidTypeError, match=r"execution\(inputs\)\[1\] must be a record like the others.*'x'"):
            execution("b", inputs=[data(), "x"])
        with pytest.raises(lineage.InvalidTypeError, match=r"execution\(outputs\) keys .* a str or an int, got 3.5"):
            execution("b", outputs={3.5: data()})
        too_big = {2**40: data()}
        with pytest.raises(lineage.InvalidValueError, match=r"path index must fit in 32 bits"), execution("b", inputs=too_big):
            pytest.fail("the block ran")
        with pytest.raises(lineage.InvalidTypeError, match=r"track\(inputs\) of a decorated function names its parameters"):

            @track(inputs=[data()])
            def f(a):
                return a

        with pytest.raises(lineage.InvalidTypeError, match=r"track\(outputs\).*the record classes it returns"):
            execution("g", outputs=data())(lambda: None)

    def test_a_callable_instance_is_named_after_its_class(self, tracked_sqlite):
        """track(obj) of a callable object records its class name (it was "execution")."""

        class Trainer:
            def __call__(self, d: DataSet) -> None:
                return None

        track(Trainer())(data())
        assert len(mr.executions(tracked_sqlite, "Trainer")) == 1


class TestNesting:
    def test_nested_calls_record_their_parent(self, tracked):
        """A tracked call inside another records the outer execution as its parent."""

        @track
        def inner():
            return current_execution()

        @track
        def outer():
            return inner()

        outer()
        o, i = mr.one_execution(tracked, "outer"), mr.one_execution(tracked, "inner")
        props = mr.custom(i)
        assert props["lineage.parent_external_id"] == o.external_id
        assert props["lineage.parent_execution_id"] == o.id
        assert "lineage.parent_external_id" not in mr.custom(o)

    def test_asyncio_tasks_inherit_the_current_execution(self, tracked_sqlite):
        """Tasks created inside a tracked coroutine see it as their parent."""

        @track
        async def child(i: int):
            await asyncio.sleep(0.01)
            return i

        @track
        async def parent():
            return await asyncio.gather(*(asyncio.create_task(child(i)) for i in range(5)))

        assert asyncio.run(parent()) == [0, 1, 2, 3, 4]
        p = mr.one_execution(tracked_sqlite, "parent")
        children = mr.executions(tracked_sqlite, "child")
        assert len(children) == 5
        assert {mr.custom(c)["lineage.parent_external_id"] for c in children} == {p.external_id}

    def test_a_task_that_begins_after_the_execution_that_made_it_ended_records_it_as_parent(self, tracked_sqlite):
        """A task made in an execution and not awaited there (fire and forget)
        begins once the creator yields to the loop: after it ended when it
        returned (or its with block exited) first. The ended creator was
        skipped as an ended with block is: the task recorded no parent, and
        was written in the default workspace and run, or the creator's,
        depending on which ran first. So was a tracked async generator
        such a task iterates."""

        @track
        async def log_metrics(i: int) -> Metrics:
            await asyncio.sleep(0.01)
            return Metrics(uri=f"file:///m{i}.json", name="m")

        @track
        async def batches(n: int) -> AsyncIterator[Model]:
            for i in range(n):
                yield Model(uri=f"file:///b{i}", name="b")

        async def consume(stream):
            return [b async for b in stream]

        pending = []

        @track(workspace="other", run="r2")
        async def epoch():
            pending.append(asyncio.create_task(log_metrics(1)))
            pending.append(asyncio.create_task(consume(batches(2))))
            return None

        async def main():
            await epoch()
            with execution("block", workspace="other", run="r3") as block:
                pending.append(asyncio.create_task(log_metrics(2)))
            await asyncio.gather(*pending)
            # Made here, awaited in a live execution of its own: that one is its parent, as before.
            job = log_metrics(3)
            with execution("awaited_in") as awaited_in:
                await job
            return block, awaited_in

        block, awaited_in = asyncio.run(main())
        made_by = {
            "epoch": mr.one_execution(tracked_sqlite, "epoch").external_id,
            "block": block.external_id,
            "awaited_in": awaited_in.external_id,
        }
        found = []
        for name in ("log_metrics", "batches"):
            for e in mr.executions(tracked_sqlite, name):
                ctx = mr.contexts(tracked_sqlite, e.id)
                parent = mr.custom(e).get("lineage.parent_external_id")
                by = [k for k, v in made_by.items() if v == parent]
                found.append((name, by, ctx["kubeflow.org/alpha/workspace"], ctx["lineage/run"]))
        assert sorted(found) == [
            ("batches", ["epoch"], "other", "other/r2"),
            ("log_metrics", ["awaited_in"], "ws", "ws/r1"),
            ("log_metrics", ["block"], "other", "other/r3"),
            ("log_metrics", ["epoch"], "other", "other/r2"),
        ]

    @pytest.mark.parametrize("consumer", ["thread", "ThreadPool.imap", "async in a thread"])
    def test_a_generator_iterated_in_another_thread_records_the_execution_it_was_called_in(self, tracked_sqlite, consumer):
        """A tracked generator is entered at its first step: one called in a
        with block and iterated by another thread (a pool's, whose context is
        its own) recorded no parent, and was written in the default
        workspace and run, not the block's. Its parent is the execution it
        was called in, as for a call (and a wraps decorator's generator)."""
        import threading
        from multiprocessing.pool import ThreadPool

        @track
        def batches(n: int) -> Iterator[Model]:
            for i in range(n):
                yield Model(uri=f"file:///b{i}", name="b")

        @track
        async def abatches(n: int) -> AsyncIterator[Model]:
            for i in range(n):
                yield Model(uri=f"file:///a{i}", name="a")

        async def consume(agen):
            return [m async for m in agen]

        with execution("epoch", workspace="other", run="r2") as epoch:
            if consumer == "thread":
                with ThreadPoolExecutor(1) as pool:
                    got = pool.submit(list, batches(2)).result()
            elif consumer == "ThreadPool.imap":
                with ThreadPool(2) as pool:
                    got = list(pool.imap(lambda m: m, batches(2)))
            else:
                found = []
                made = abatches(2)
                worker = threading.Thread(target=lambda: found.extend(asyncio.run(consume(made))))
                worker.start()
                worker.join()
                got = found
        assert len(got) == 2
        [e] = mr.executions(tracked_sqlite, "abatches" if consumer.startswith("async") else "batches")
        assert mr.state(e) == "COMPLETE"
        assert mr.custom(e)["lineage.parent_external_id"] == epoch.external_id
        assert mr.custom(e)["lineage.parent_execution_id"] == epoch.id
        ctx = mr.contexts(tracked_sqlite, e.id)
        assert (ctx["kubeflow.org/alpha/workspace"], ctx["lineage/run"]) == ("other", "other/r2")

    def test_a_generator_called_outside_any_execution_has_the_one_it_is_iterated_in_as_parent(self, tracked_sqlite):
        """Made at the top of a script and consumed in a with block: the
        block is its parent (it has no caller's to take)."""

        @track
        def batches(n: int) -> Iterator[Model]:
            for i in range(n):
                yield Model(uri=f"file:///s{i}", name="s")

        stream = batches(2)
        with execution("epoch", workspace="other", run="r3") as epoch:
            assert len(list(stream)) == 2
        [e] = mr.executions(tracked_sqlite, "batches")
        assert mr.custom(e)["lineage.parent_external_id"] == epoch.external_id
        ctx = mr.contexts(tracked_sqlite, e.id)
        assert (ctx["kubeflow.org/alpha/workspace"], ctx["lineage/run"]) == ("other", "other/r3")

    def test_a_generator_whose_caller_has_ended_has_the_one_it_is_iterated_in_as_parent(self, tracked_sqlite):
        """Made by a tracked factory (or in a block) that has ended since, and
        consumed in a with block: the block is its parent, as before it took
        its caller's (the ended factory's parent, here none: the default
        workspace and run)."""

        @track
        def batches(n: int) -> Iterator[Model]:
            for i in range(n):
                yield Model(uri=f"file:///f{i}", name="f")

        @track
        def make_stream(n: int):
            return batches(n)

        stream = make_stream(2)
        with execution("epoch", workspace="other", run="r4") as epoch:
            assert len(list(stream)) == 2
        [e] = mr.executions(tracked_sqlite, "batches")
        assert mr.custom(e)["lineage.parent_external_id"] == epoch.external_id
        ctx = mr.contexts(tracked_sqlite, e.id)
        assert (ctx["kubeflow.org/alpha/workspace"], ctx["lineage/run"]) == ("other", "other/r4")

    def test_current_execution_outside_is_none(self):
        """current_execution() is None outside any execution."""
        assert current_execution() is None
        with execution("x", enabled=False) as ex:
            assert current_execution() is ex
        assert current_execution() is None


class TestConcurrency:
    def test_threads_never_share_a_call(self, tracked_sqlite):
        """Concurrent calls of one decorated function in threads keep their own inputs, outputs and params."""

        @track
        def work(d: DataSet, i: int) -> Model:
            time.sleep(0.001)
            return Model(uri=f"file:///out/{i}", name=f"m{i}")

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: work(data(f"in{i}"), i), range(40)))
        found = mr.executions(tracked_sqlite, "work")
        assert len(found) == 40
        for e in found:
            i = mr.custom(e)["i"]
            assert mr.paths(tracked_sqlite, e.id) == [
                ("INPUT", ("d",), f"s3://bucket/in{i}.csv"),
                ("OUTPUT", ("return",), f"file:///out/{i}"),
            ]

    def test_asyncio_tasks_never_share_a_call(self, tracked_sqlite):
        """Concurrent asyncio tasks of one decorated coroutine keep their own events."""

        @track
        async def work(d: DataSet, i: int) -> Model:
            await asyncio.sleep(0.001 * (i % 3))
            return Model(uri=f"file:///a/{i}", name=f"m{i}")

        async def main():
            await asyncio.gather(*(work(data(f"t{i}"), i) for i in range(20)))

        asyncio.run(main())
        for e in mr.executions(tracked_sqlite, "work"):
            i = mr.custom(e)["i"]
            assert [u for _, _, u in mr.paths(tracked_sqlite, e.id)] == [f"s3://bucket/t{i}.csv", f"file:///a/{i}"]


class TestWrites:
    def test_at_most_two_writes_whatever_the_number_of_artifacts(self, tracked_sqlite, record_store_calls):
        """A tracked call with many artifacts costs two writes (one when it is short), and nothing else writes."""
        @track
        def big(inputs):
            return [Model(uri=f"file:///o{i}", name=f"o{i}") for i in range(20)]

        big([data(f"i{i}") for i in range(2)])  # warm: types and contexts registered
        calls = record_store_calls()
        big([data(f"x{i}") for i in range(20)])
        # 20 new inputs: a subgraph; the outputs (the warm call's uris) are
        # referenced by id, which only put_execution attributes to the contexts.
        assert [c for c in calls if c.startswith("put_")] == ["put_lineage_subgraph", "put_execution"]
        e = mr.executions(tracked_sqlite, "big")[-1]
        assert len(mr.events(tracked_sqlite, e.id)) == 40

        lineage.init(start_delay=5)
        calls.clear()
        big([data(f"y{i}") for i in range(20)])
        assert [c for c in calls if c.startswith("put_")] == ["put_execution"]

    def test_long_call_shows_running_within_the_start_delay(self, tracked_sqlite):
        """With a start delay, a call still running after it is RUNNING in the store soon after the delay."""
        lineage.init(start_delay=0.2)
        seen = []

        @track
        def slow(d: DataSet):
            seen.append(mr.executions(tracked_sqlite, "slow"))
            time.sleep(1.0)
            seen.append([mr.state(e) for e in mr.executions(tracked_sqlite, "slow")])

        slow(data())
        assert seen[0] == []  # not written before the delay
        assert seen[1] == ["RUNNING"]
        e = mr.one_execution(tracked_sqlite, "slow")
        assert mr.state(e) == "COMPLETE"
        assert mr.paths(tracked_sqlite, e.id) == [("INPUT", ("d",), "s3://bucket/mnist.csv")]

    def test_a_shorter_delay_is_honoured_while_a_longer_one_waits(self, tracked_sqlite):
        """A call with a short start delay, begun while another call waits out
        a long one, is RUNNING in the store after its own delay."""
        seen = []

        @track(start_delay=0.2)
        def inner():
            time.sleep(1.0)
            seen.append([mr.state(e) for e in mr.executions(tracked_sqlite, "inner")])

        with execution("outer", start_delay=60):
            inner()
        assert seen == [["RUNNING"]]
        assert [mr.state(e) for e in mr.executions(tracked_sqlite, "outer")] == ["COMPLETE"]

    def test_a_finished_call_is_not_kept_alive(self, tracked_sqlite):
        """A call that ended before its start delay leaves nothing behind: its
        scope (and the records it holds) is freed when the call returns."""
        import weakref

        with execution("short", start_delay=60) as ex:
            ex.log_output(Model(uri="s3://bucket/m.pt", name="m"))
        ref = weakref.ref(ex)
        del ex

        assert (ref(), [mr.state(e) for e in mr.executions(tracked_sqlite, "short")]) == (None, ["COMPLETE"])

    def test_short_calls_do_not_wake_the_start_writer_each(self, tracked_sqlite, monkeypatch):
        """A loop of short calls leaves the start writer thread asleep: it
        wakes about once per start delay, not for calls that end before
        theirs. It was woken about once per 7 calls, each time taking the
        GIL from the calls (measured with strace: 19 futex calls per call)."""
        from lineage import _scope

        lineage.init(start_delay=1.0)

        @track
        def short(d: DataSet) -> None:
            return None

        short(data())  # the thread runs
        # One call with a short delay must not make the thread wake at that
        # pace from then on (it kept the shortest delay ever seen).
        track(start_delay=0.01)(lambda d: None)(data("once"))
        scheduler = _scope._scheduler
        waits: list = []
        real_wait = scheduler._cond.wait

        def wait(timeout=None):
            waits.append(timeout)
            return real_wait(timeout)

        monkeypatch.setattr(scheduler._cond, "wait", wait)
        began = time.monotonic()
        for i in range(600):
            short(data(f"short{i}"))
        elapsed = time.monotonic() - began
        assert len(waits) <= 4 + 2 * elapsed, (len(waits), elapsed)
        assert [mr.state(e) for e in mr.executions(tracked_sqlite, "short")] == ["COMPLETE"] * 601

    def test_a_never_start_delay_does_not_stop_later_start_writes(self, tracked_sqlite):
        """A start delay meant as "never" (1e10 s) overflowed the start
        writer thread's wait: it died, and no later call in the process
        was ever RUNNING."""
        lineage.init(start_delay=1e10)

        @track
        def never(d: DataSet) -> None:
            time.sleep(0.2)

        never(data())
        lineage.init(start_delay=0.2)
        seen = []

        @track
        def slow(d: DataSet) -> None:
            time.sleep(1.0)
            seen.append([mr.state(e) for e in mr.executions(tracked_sqlite, "slow")])

        slow(data())
        assert seen == [["RUNNING"]]

    def test_same_artifact_twice_is_one_event(self, tracked_sqlite):
        """An artifact passed twice (or logged again) gives one event per direction."""
        d = data()

        @track
        def twice(a: DataSet, b: DataSet):
            current_execution().log_input(a)
            return a

        twice(d, d)
        e = mr.one_execution(tracked_sqlite, "twice")
        kinds = [k for k, _, _ in mr.events(tracked_sqlite, e.id)]
        assert kinds == ["INPUT", "OUTPUT"]


class TestProcessExit:
    SCRIPT = """
import sys, time, lineage
from lineage import track
lineage.init(store=sys.argv[1], workspace="w", start_delay=float(sys.argv[2]))

@track
def train():
    time.sleep(0.3)
    return 0.97

@track
def batches():
    yield 1
    yield 2

out = open(sys.argv[3], "w")
out.write(f"accuracy,{train()}\\n")  # never closed: Python flushes it at exit
it = batches()
next(it)  # never finished: Python closes it at exit
"""

    @pytest.mark.parametrize("delay", [0.05, 5.0], ids=["start-written", "short"])
    def test_a_script_ends_as_it_would_without_lineage(self, tmp_path, delay):
        """A call that ran past its start delay kept the script's globals
        alive at exit (through the start writer): an unclosed file lost
        what was written to it, and a generator left open was never closed
        (nor its execution written)."""
        import subprocess
        import sys

        url = backends.make_url("sqlite", tmp_path)
        script, results = tmp_path / "job.py", tmp_path / "results.csv"
        script.write_text(self.SCRIPT)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        done = subprocess.run(
            [sys.executable, str(script), url, str(delay), str(results)],
            capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": root},
        )
        assert done.returncode == 0, done.stderr
        assert results.read_text() == "accuracy,0.97\n"
        store = lineage.Store(url=url)
        assert [mr.state(e) for e in mr.executions(store, "batches")] == ["COMPLETE"]


def _init_a_store(down: bool, tmp_path, monkeypatch) -> None:
    """init() a store that does not answer (a closed port, spooled after
    0.2 s), or a SQLite file ok.db in *tmp_path*; RUNNING written first."""
    monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
    if down:
        lineage.init(store="postgresql://postgres@127.0.0.1:1/nothing", start_delay=0)
    else:
        lineage.init(store=f"sqlite:///{tmp_path / 'ok.db'}", start_delay=0)


class TestFailOpen:
    def test_unreachable_store_never_breaks_the_function(self, monkeypatch, caplog, tmp_path):
        """With the store down the function returns its result, one warning names the spool, writes are journaled."""
        from lineage.store import _spool

        monkeypatch.setenv("LINEAGE_RETRY_UNAVAILABLE_SECONDS", "0.2")
        lineage.init(store="postgresql://postgres@127.0.0.1:1/nothing", start_delay=0)

        @track
        def train(d: DataSet) -> Model:
            return Model(uri="file:///m", name="m")

        with caplog.at_level(logging.WARNING, logger="lineage"):
            with pytest.warns(lineage.LineageWarning, match="unreachable.*spool") as caught:
                first = train(data())
            # at the user's line, not in lineage's code
            assert [w.filename for w in caught if issubclass(w.category, lineage.LineageWarning)] == [__file__]
            with warnings.catch_warnings(record=True) as again:
                warnings.simplefilter("always")
                second = train(data())
            assert [str(w.message) for w in again] == []  # said once
        assert first.uri == second.uri == "file:///m"
        assert first.id is None  # not stored yet
        assert sum("unreachable" in r.getMessage() for r in caplog.records) == 1
        [path] = _spool.spool_files(str(tmp_path / "home"))
        journal = _spool.read_journal(path)
        assert len(journal.todo) == 4  # start and end of two calls, in order
        assert [e["seq"] for e in journal.todo] == [1, 2, 3, 4]

    @pytest.mark.parametrize("how", ["store down", "bad LINEAGE_STRICT", "return value not mapped"])
    def test_where_warnings_are_errors_lineages_own_are_logged_not_raised(self, how, monkeypatch, caplog, tmp_path):
        """Under python -W error (pytest's filterwarnings = error), the
        warning of lineage's own failure was raised into the call, after its
        body ran: its result was lost to a LineageWarning saying "your code
        goes on". It is logged at ERROR instead, and the call returns."""
        from lineage.store import _spool

        _init_a_store(how == "store down", tmp_path, monkeypatch)
        said = "is unreachable"
        if how == "bad LINEAGE_STRICT":
            monkeypatch.setenv("LINEAGE_STRICT", "maybe")
            said = "LINEAGE_STRICT='maybe' is not one of"
        ran = []

        @track
        def train(d: DataSet) -> Model:
            ran.append(d)
            return {"accuracy": 0.9} if how == "return value not mapped" else Model(uri="file:///m", name="m")  # type: ignore[return-value]

        if how == "return value not mapped":
            said = "is annotated Model but is {'accuracy': 0.9} (dict)"
        with caplog.at_level(logging.ERROR, logger="lineage"), warnings.catch_warnings():
            warnings.simplefilter("error")
            result = train(data())
        assert len(ran) == 1
        assert result == ({"accuracy": 0.9} if how == "return value not mapped" else Model(uri="file:///m", name="m"))
        assert [r.levelname for r in caplog.records if said in r.getMessage()] == ["ERROR"]
        if how == "store down":
            [path] = _spool.spool_files(str(tmp_path / "home"))
            assert len(_spool.read_journal(path).todo) == 2  # start and end, kept for lineage sync
        else:
            [stored] = mr.executions(lineage.Store(url=f"sqlite:///{tmp_path / 'ok.db'}"), "train")
            assert mr.state(stored) == "COMPLETE"

    @pytest.mark.parametrize("how", ["store down", "converter fails", "converter fails, at DEBUG"])
    def test_where_warnings_are_errors_with_logging_set_up_it_is_logged_once(self, how, monkeypatch, caplog, tmp_path):
        """With logging set up (pytest's own handlers are), the spool and
        _fail_open logged it at WARNING and warn_never_raised again at
        ERROR: twice in the log of a filterwarnings = error suite. At DEBUG,
        the traceback a WARNING record would have carried is logged too."""

        class Frame:
            pass

        def broken(frame):
            raise RuntimeError("converter broke")

        converter = how.startswith("converter")
        _init_a_store(not converter, tmp_path, monkeypatch)
        said = "lineage could not map the argument" if converter else "writes are kept in the spool"
        if converter:
            lineage.register_converter(Frame, broken)

        @track
        def train(d) -> Model:
            return Model(uri="file:///m", name="m")

        level = logging.DEBUG if how.endswith("DEBUG") else logging.WARNING
        try:
            with caplog.at_level(level, logger="lineage"), warnings.catch_warnings():
                warnings.simplefilter("error")
                train(Frame() if converter else data())
        finally:
            if converter:
                lineage.unregister_converter(Frame)
        assert [r.levelname for r in caplog.records if said in r.getMessage() and not r.exc_info] == ["ERROR"]
        traced = [r.exc_info[1].args for r in caplog.records if r.exc_info and said in r.getMessage()]
        assert traced == ([("converter broke",)] if level == logging.DEBUG else [])

    def test_strict_raises_lineage_failures(self, monkeypatch):
        """lineage.init(strict=True) makes lineage's own failures raise."""
        monkeypatch.setenv("LINEAGE_RETRY_SECONDS", "0.2")
        lineage.init(store="postgresql://postgres@127.0.0.1:1/nothing", strict=True, start_delay=0)

        @track
        def train():
            return 1

        with pytest.raises(lineage.StoreUnavailableError):
            train()

    def test_unmappable_value_never_breaks_the_function(self, tracked_sqlite):
        """A converter that fails is reported, and the call still runs and is recorded."""
        lineage.init(strict=False)

        class Weird:
            pass

        def boom(value):
            raise RuntimeError("converter bug")

        lineage.register_converter(Weird, boom)
        try:

            @track
            def fit(w):
                return "ok"

            with pytest.warns(lineage.LineageWarning, match="converter bug"):
                assert fit(Weird()) == "ok"
        finally:
            lineage.unregister_converter(Weird)
        assert mr.state(mr.one_execution(tracked_sqlite, "fit")) == "COMPLETE"

    def test_disabled(self, tracked_sqlite):
        """enabled=False (option or init) records nothing."""

        @track(enabled=False)
        def a():
            return 1

        @track
        def b():
            return 2

        a()
        lineage.init(enabled=False)
        b()
        assert mr.executions(tracked_sqlite) == []

    def test_disabled_or_ended_logging_reads_no_file(self, tracked_sqlite, tmp_path, monkeypatch):
        """A disabled execution's log_input does not digest its file (it read up
        to 1 GiB for nothing), nor does a log_input after the end, which raises."""
        from lineage.store import _digest

        digested = []
        real = _digest.of_record
        monkeypatch.setattr(_digest, "of_record", lambda record: digested.append(record.uri) or real(record))
        paths = {}
        for name in ("off", "late", "on"):
            paths[name] = tmp_path / f"{name}.csv"
            paths[name].write_text("1,2\n")

        with execution("off", enabled=False) as ex:
            ex.log_input(DataSet(uri=str(paths["off"]), name="off"))
        with pytest.raises(lineage.LineageError, match="has ended"):
            ex.log_input(DataSet(uri=str(paths["late"]), name="late"))
        with execution("on") as ex:
            ex.log_input(DataSet(uri=str(paths["on"]), name="on"))

        assert digested == [str(paths["on"])]
        assert mr.executions(tracked_sqlite, "off") == [] and len(mr.executions(tracked_sqlite, "on")) == 1


class TestDefaults:
    def test_resolution_order(self, tmp_path, monkeypatch):
        """explicit > enclosing execution > init() > LINEAGE_* env > defaults."""
        env_url = backends.make_url("sqlite", tmp_path)
        init_url = backends.make_url("sqlite", tmp_path)
        explicit_url = backends.make_url("sqlite", tmp_path)
        monkeypatch.setenv("LINEAGE_STORE", env_url)
        monkeypatch.setenv("LINEAGE_WORKSPACE", "env-ws")
        lineage.init(strict=True, start_delay=0)

        @track
        def f():
            return None

        @track(store=explicit_url, workspace="explicit-ws")
        def g():
            return f()  # inherits store and workspace from the enclosing execution

        f()
        env_store = lineage.Store(url=env_url)
        assert mr.contexts(env_store, mr.one_execution(env_store, "f").id)["kubeflow.org/alpha/workspace"] == "env-ws"

        lineage.init(store=init_url, workspace="init-ws")
        f()
        init_store = lineage.Store(url=init_url)
        assert mr.contexts(init_store, mr.one_execution(init_store, "f").id)["kubeflow.org/alpha/workspace"] == "init-ws"

        g()
        explicit = lineage.Store(url=explicit_url)
        for name in ("f", "g"):
            assert mr.contexts(explicit, mr.one_execution(explicit, name).id)["kubeflow.org/alpha/workspace"] == "explicit-ws"

    def test_embedded_default(self, tmp_path):
        """With nothing set, calls go to $LINEAGE_HOME/lineage.db, workspace 'default', one run per process."""
        lineage.init(start_delay=0, strict=True)

        @track
        def f():
            return None

        f()
        f()
        home_store = lineage.Store(url=f"sqlite:///{tmp_path / 'home' / 'lineage.db'}")
        found = mr.executions(home_store, "f")
        assert len(found) == 2
        runs = {mr.contexts(home_store, e.id)["lineage/run"] for e in found}
        assert len(runs) == 1 and next(iter(runs)).startswith("default/")



class TestRecordsAsLogged:
    """Writes are deferred (to the start delay, or the end): a record is
    written as it was when logged, not as what it holds by then."""

    def test_an_input_the_function_changes_is_recorded_as_it_came_in(self, tracked_sqlite):
        @track(start_delay=60)
        def bump(d: DataSet) -> DataSet:
            d.uri, d.version = "s3://b/changed", "2"
            return d

        bump(DataSet(uri="s3://b/orig", name="d", version="1"))
        [e] = mr.executions(tracked_sqlite, "bump")
        assert mr.paths(tracked_sqlite, e.id) == [("INPUT", ("d",), "s3://b/orig"), ("OUTPUT", ("return",), "s3://b/changed")]

    def test_one_record_logged_in_a_loop_over_parts_is_each_part(self, tracked_sqlite):
        with execution("loop") as ex:
            part = DataSet(uri="s3://b/p", name="part")
            for i in range(3):
                part.uri = f"s3://b/part{i}"
                ex.log_input(part, i)
            out = Model(uri="file:///m0", name="m")
            ex.log_output(out, "first")
            out.uri = "file:///m1"
            ex.log_output(out, "second")
        [e] = mr.executions(tracked_sqlite, "loop")
        assert mr.paths(tracked_sqlite, e.id) == [
            ("INPUT", (0,), "s3://b/part0"),
            ("INPUT", (1,), "s3://b/part1"),
            ("INPUT", (2,), "s3://b/part2"),
            ("OUTPUT", ("first",), "file:///m0"),
            ("OUTPUT", ("second",), "file:///m1"),
        ]
        assert part.id is not None and out.id is not None  # the records themselves: their last parts

    def test_a_logged_input_changed_by_the_function_is_still_the_artifact_its_id_names(self, tracked_sqlite):
        """An input that already has an id, changed by the function, is the
        stored artifact it was (referenced by its id, not written again),
        and what it became is a new one."""

        @track(start_delay=60)
        def rename(d: Metrics) -> Metrics:
            d.uri = "file:///b.json"
            return d

        with execution("make") as ex:
            first = ex.log_output(Metrics(uri="file:///a.json", name="m", values={"acc": 0.5}))
        made = first.id
        rename(first)
        [e] = mr.executions(tracked_sqlite, "rename")
        [(_, _, came), (_, _, went)] = mr.events(tracked_sqlite, e.id)
        assert (came.id, came.uri, went.uri) == (made, "file:///a.json", "file:///b.json")
        assert first.id == went.id != made
        assert len(tracked_sqlite.store.get_artifacts()) == 2

    def test_a_record_changed_in_place_after_log_output_loses_only_itself(self, tracked_sqlite):
        """The whole execution (its input, params and state) was lost."""
        from decimal import Decimal

        lineage.init(strict=False)

        @track(start_delay=60)
        def train(d: DataSet, epochs: int = 3) -> None:
            m = current_execution().log_output(Model(uri="file:///m", name="m", hyperparameters={"lr": 0.1}))
            m.hyperparameters["lr"] = Decimal("0.1")

        with pytest.warns(lineage.errors.LineageWarning, match=r"log_output record at log_output.*hyperparameters\['lr'\]"):
            train(data())
        [e] = mr.executions(tracked_sqlite, "train")
        assert mr.state(e) == "COMPLETE" and [k for k, _, _ in mr.paths(tracked_sqlite, e.id)] == ["INPUT"]
        assert mr.custom(e)["epochs"] == 3

    def test_inputs_named_keep_the_other_items_of_a_config_as_a_parameter(self, tracked_sqlite):
        """The other items were dropped when the parameter was named in inputs=."""

        @track(inputs=["cfg"])
        def fit(cfg):
            return None

        fit({"train": data(), "lr": 0.1})
        [e] = mr.executions(tracked_sqlite, "fit")
        assert mr.custom(e)["cfg"] == {"lr": 0.1}
        assert [p for _, p, _ in mr.paths(tracked_sqlite, e.id)] == [("cfg", "train")]


class TestUnderOtherDecorators:
    @staticmethod
    def passthrough(f):
        @functools.wraps(f)
        def w(*a, **k):
            return f(*a, **k)

        return w

    @staticmethod
    def as_task(f):
        @functools.wraps(f)
        def w(*a, **k):
            return asyncio.ensure_future(f(*a, **k))

        return w

    def test_an_async_function_or_generator_under_a_wraps_decorator(self, tracked_sqlite):
        """@track above a functools.wraps decorator: the execution ended
        COMPLETE when the coroutine or generator was made, before its body ran."""

        @track
        @self.passthrough
        async def fetch(d: DataSet):
            assert current_execution() is not None
            await asyncio.sleep(0)
            raise ValueError("boom")

        @track
        @self.passthrough
        def parts(d: DataSet):
            yield Model(uri="file:///y", name="y")
            raise ValueError("boom")

        @track
        @self.passthrough
        async def fine(d: DataSet) -> Model:
            return Model(uri="file:///f", name="f")

        with pytest.raises(ValueError):
            asyncio.run(fetch(data()))
        with pytest.raises(ValueError):
            list(parts(data()))
        assert asyncio.run(fine(data())).uri == "file:///f"
        found = {e.properties["name"].string_value: e for e in mr.executions(tracked_sqlite)}
        assert {n: mr.state(e) for n, e in found.items()} == {"fetch": "FAILED", "parts": "FAILED", "fine": "COMPLETE"}
        assert [k for k, _, _ in mr.paths(tracked_sqlite, found["parts"].id)] == ["INPUT", "OUTPUT"]
        assert mr.paths(tracked_sqlite, found["fine"].id)[-1] == ("OUTPUT", ("return",), "file:///f")

    def test_a_coroutine_never_awaited_writes_nothing(self, tmp_path):
        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", strict=True)  # the default start delay

        @track
        @self.passthrough
        async def never(d: DataSet):
            return None

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "was never awaited", as without @track
            never(data())
        import gc

        gc.collect()
        time.sleep(1.3)  # past the start delay: no RUNNING start write either
        assert mr.executions(lineage.Store(url=url)) == []


class TestPartials:
    def test_a_record_a_partial_binds_by_position_is_an_input(self, tracked_sqlite):
        """track(partial(f, record)) lost the record: a partial's signature
        leaves out what it binds by position."""

        def f(data: DataSet, path: DataSet, lr: float = 0.1):
            return None

        g = track(functools.partial(functools.partial(f, DataSet(uri="s3://b/pre", name="pre")), lr=0.5))
        g("/tmp/x.csv")
        [e] = mr.executions(tracked_sqlite, "f")
        assert mr.paths(tracked_sqlite, e.id) == [("INPUT", ("data",), "s3://b/pre"), ("INPUT", ("path",), "file:///tmp/x.csv")]
        assert mr.custom(e)["lr"] == 0.5


class TestRecordsAsLoggedWhole:
    def test_every_field_of_a_record_is_as_it_was_when_logged(self, tracked_sqlite):
        """Only uri, name and version were as logged: part0 had part2's description."""
        with execution("loop") as ex:
            part = DataSet(uri="s3://b/p", name="part")
            for i in range(3):
                part.uri, part.description = f"s3://b/part{i}", f"part {i}"
                ex.log_input(part, i)
        got = {a.uri: a.properties["description"].string_value for a in tracked_sqlite.store.get_artifacts()}
        assert got == {f"s3://b/part{i}": f"part {i}" for i in range(3)}

    def test_a_record_class_whose_version_is_a_property(self, tracked_sqlite):
        """Setting version on the copy failed: the whole execution was lost."""
        import attrs

        @attrs.define
        class Step(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test/step_versioned"
            step: int = 0

            @property
            def version(self):
                return str(self.step)

        with execution("steps") as ex:
            s = ex.log_output(Step(uri="file:///s0", name="s"), "first")
            s.uri, s.step = "file:///s1", 1
            ex.log_input(data())
        [e] = mr.executions(tracked_sqlite, "steps")
        assert [(k, u) for k, _, u in mr.paths(tracked_sqlite, e.id)] == [("INPUT", "s3://bucket/mnist.csv"), ("OUTPUT", "file:///s0")]

    def test_an_id_given_since_it_was_logged_for_what_it_was_then(self, tracked_sqlite):
        """Logged without an id, written by an inner execution, then changed:
        the outer one's output was a second artifact, not the inner's input."""
        with execution("outer") as ex:
            m = ex.log_output(Metrics(uri="file:///m1", name="m"))
            with execution("inner") as inner:
                inner.log_input(m)
            m.uri = "file:///m2"
        [(_, _, used)] = mr.events(tracked_sqlite, mr.one_execution(tracked_sqlite, "inner").id)
        [(_, _, made)] = mr.events(tracked_sqlite, mr.one_execution(tracked_sqlite, "outer").id)
        assert made.id == used.id and len(tracked_sqlite.store.get_artifacts()) == 1

    def test_strict_an_argument_that_cannot_be_written_raises_before_the_function_runs(self, tmp_path):
        from decimal import Decimal

        lineage.init(store=backends.make_url("sqlite", tmp_path), strict=True)  # the default start delay
        ran = []

        @track
        def train(m: Model):
            ran.append(m)

        m = Model(uri="file:///m", name="m", hyperparameters={"lr": 0.1})
        m.hyperparameters["lr"] = Decimal("0.1")
        with pytest.raises(lineage.errors.InvalidTypeError, match=r"hyperparameters\['lr'\]"):
            train(m)
        assert ran == []


class TestUnderOtherDecoratorsTasksAndGenerators:
    def test_a_task_a_decorator_returns_is_returned_as_it_is(self, tracked_sqlite):
        @track
        @TestUnderOtherDecorators.as_task
        async def fetch(d: DataSet) -> Model:
            await asyncio.sleep(0.01)
            return Model(uri="file:///f", name="f")

        @track
        @TestUnderOtherDecorators.as_task
        async def notify(d: DataSet) -> Model:
            await asyncio.sleep(0.01)
            return Model(uri="file:///n", name="n")

        async def main():
            task = fetch(data())
            assert isinstance(task, asyncio.Future)
            await asyncio.wait([task])
            notify(data())  # not awaited: it runs anyway
            await asyncio.sleep(0.1)

        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            asyncio.run(main())
        for name, uri in (("fetch", "file:///f"), ("notify", "file:///n")):
            e = mr.one_execution(tracked_sqlite, name)
            assert mr.state(e) == "COMPLETE" and mr.paths(tracked_sqlite, e.id)[-1] == ("OUTPUT", ("return",), uri)

    def test_a_generator_never_started_writes_nothing(self, tmp_path):
        import gc

        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", strict=True)  # the default start delay

        @track
        @TestUnderOtherDecorators.passthrough
        def parts(d: DataSet):
            yield Model(uri="file:///y", name="y")

        parts(data())
        gc.collect()
        time.sleep(1.3)  # past the start delay: no RUNNING start write either
        assert mr.executions(lineage.Store(url=url)) == []

    def test_a_generator_dropped_after_it_began_ends_as_one_of_its_own_does(self, tracked_sqlite):
        """The finalizer that drops a never-started generator's execution
        runs before the generator's own close: it must leave one that began
        to end as a generator function's does (it was left unwritten)."""
        import gc

        def two(d: DataSet):
            yield Model(uri="file:///a", name="a")
            yield Model(uri="file:///b", name="b")

        own = track(two)
        under = track(TestUnderOtherDecorators.passthrough(two))
        for made in (own, under):
            g = made(data())
            next(g)
            del g
            gc.collect()
        ends = [(mr.state(e), mr.paths(tracked_sqlite, e.id)) for e in mr.executions(tracked_sqlite, "two")]
        assert len(ends) == 2 and ends[0] == ends[1]
        assert ends[0][1][-1] == ("OUTPUT", ("yield", 0), "file:///a")


class TestRecordsAsLoggedOneArtifactEach:
    def test_every_copy_of_what_a_record_was_is_one_artifact(self, tracked_sqlite):
        """Copies sent for a record changed after it was logged each got a new
        key: logged as input and output, or read by a nested execution in a
        loop over parts, what it was then was two artifacts."""
        m = Metrics(uri="file:///part0", name="m")
        with execution("produce") as p:
            for i in range(3):
                m.uri = f"file:///part{i}"
                p.log_output(m, i)
                with execution(f"consume{i}") as c:
                    c.log_input(m)
        with execution("both") as ex:
            b = Metrics(uri="file:///b0", name="b")
            ex.log_input(b)
            ex.log_output(b)
            b.uri = "file:///b1"
        made = {a.uri: a.id for _, _, a in mr.events(tracked_sqlite, mr.one_execution(tracked_sqlite, "produce").id)}
        for i in range(3):
            [(_, _, used)] = mr.events(tracked_sqlite, mr.one_execution(tracked_sqlite, f"consume{i}").id)
            assert made[used.uri] == used.id
        [(_, _, came), (_, _, went)] = mr.events(tracked_sqlite, mr.one_execution(tracked_sqlite, "both").id)
        assert came.id == went.id
        assert len(tracked_sqlite.store.get_artifacts()) == 4


class TestUnderOtherDecoratorsMore:
    def test_an_async_generator_and_a_concurrent_future_under_a_decorator(self, tracked_sqlite):
        """Both ended COMPLETE at the call, before the body ran."""
        import concurrent.futures

        pool = concurrent.futures.ThreadPoolExecutor(1)

        in_pool = submitting_to(pool, run_coroutines=True)

        @track
        @in_pool
        async def fetch(d: DataSet):
            raise ValueError("boom")

        @track
        @TestUnderOtherDecorators.passthrough
        async def parts(d: DataSet):
            yield Model(uri="file:///y", name="y")
            raise ValueError("boom")

        async def consume():
            async for _ in parts(data()):
                pass

        with pytest.raises(ValueError):
            fetch(data()).result()
        pool.shutdown()
        with pytest.raises(ValueError):
            asyncio.run(consume())
        found = {e.properties["name"].string_value: e for e in mr.executions(tracked_sqlite)}
        assert {n: mr.state(e) for n, e in found.items()} == {"fetch": "FAILED", "parts": "FAILED"}
        assert mr.paths(tracked_sqlite, found["parts"].id)[-1] == ("OUTPUT", ("yield", 0), "file:///y")

    @pytest.mark.parametrize("delay", [0.2, 0])
    def test_a_task_cancelled_before_it_began_writes_nothing(self, tmp_path, delay):
        """Its start was written at the delay, or at the call with no delay
        (it began at the call), and it stayed RUNNING; a tracked async
        function of its own writes nothing."""
        import gc

        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", start_delay=delay)

        @track
        @TestUnderOtherDecorators.passthrough
        async def fetch(d: DataSet):
            await asyncio.sleep(0)

        async def main():
            task = asyncio.create_task(fetch(data()))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await asyncio.sleep(0.5)  # past the start delay, the task still held
            return task

        asyncio.run(main())
        gc.collect()
        assert mr.executions(lineage.Store(url=url)) == []


class TestUnderOtherDecoratorsStartDelays:
    def test_a_body_that_begins_shows_running_at_once_with_no_start_delay(self, tmp_path):
        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", start_delay=0)

        @track
        @TestUnderOtherDecorators.passthrough
        async def done(d: DataSet):
            assert [mr.state(e) for e in mr.executions(lineage.Store(url=url))] == ["RUNNING"]  # at once, as asked
            return None

        asyncio.run(done(data()))
        assert [mr.state(e) for e in mr.executions(lineage.Store(url=url))] == ["COMPLETE"]

    def test_a_generator_made_before_a_fork_and_run_by_the_child_is_ended(self, tmp_path):
        """A generator a wraps decorator made, run by a forked child: the
        child wrote its start (RUNNING) and, not having entered the scope,
        never its end; the parent's copy never began."""
        import gc

        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", start_delay=0.1)

        @track
        @TestUnderOtherDecorators.passthrough
        def parts(n: int):
            for i in range(n):
                time.sleep(0.1)
                yield i

        made = parts(3)
        consume_in_a_forked_child(made)
        del made
        gc.collect()
        assert [mr.state(e) for e in mr.executions(lineage.Store(url=url))] == ["COMPLETE"]

    def test_a_slow_decorator_whose_coroutine_is_never_awaited_writes_nothing(self, tmp_path):
        """start_delay=0, a wraps decorator that takes 0.1 s before it returns
        the coroutine: a start written on a timer while the call had not yet
        said that its body runs later stayed RUNNING for good when the
        coroutine was never awaited."""
        import gc

        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", start_delay=0)

        def slow_setup(f):
            @functools.wraps(f)
            def w(*a, **k):
                time.sleep(0.1)
                return f(*a, **k)

            return w

        @track
        @slow_setup
        async def later(d: DataSet):
            return None

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "was never awaited", as without @track
            made = later(data())
            del made
            gc.collect()
        time.sleep(0.2)
        assert mr.executions(lineage.Store(url=url)) == []

    def test_a_generator_made_before_a_fork_and_run_by_both_is_two_executions(self, tmp_path):
        """Run by the child (which adopts the call) and by the parent: both
        wrote under one external id, one execution with both runs' outputs
        at the same event paths."""
        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", start_delay=0)

        @track
        @TestUnderOtherDecorators.passthrough
        def parts(n: int):
            for i in range(n):
                yield Model(uri=f"file:///{os.getpid()}/{i}", name="m")

        made = parts(2)
        pid = os.fork()
        if pid == 0:
            try:
                list(made)
            finally:
                os._exit(0)
        list(made)
        os.waitpid(pid, 0)
        store = lineage.Store(url=url)
        assert [len(mr.events(store, e.id)) for e in mr.executions(store)] == [2, 2]


class TestUnderOtherDecoratorsFutureResults:
    def test_a_concurrent_future_result_is_written_as_it_was_when_the_future_completed(self, tracked_sqlite):
        """A concurrent.futures.Future wakes result() before it calls its done
        callbacks: a record the caller changed at once was written changed
        (here the return value's converter takes 0.2 s, which widens the window)."""
        import concurrent.futures

        class Packed:
            def __init__(self, model):
                self.model = model

        def unpack(packed):
            time.sleep(0.2)
            return packed.model

        pool = concurrent.futures.ThreadPoolExecutor(1)

        in_pool = submitting_to(pool, run_coroutines=True)

        @track
        @in_pool
        async def fetch(d: DataSet) -> Packed:
            await asyncio.sleep(0.05)  # the future is not done when @track adds its callback
            return Packed(Model(uri="file:///as-returned", name="m"))

        lineage.register_converter(Packed, unpack)
        try:
            packed = fetch(data()).result()
            packed.model.uri = "file:///changed-by-the-caller"
            pool.shutdown()
        finally:
            lineage.unregister_converter(Packed)
        e = mr.one_execution(tracked_sqlite, "fetch")
        assert mr.state(e) == "COMPLETE"
        assert mr.paths(tracked_sqlite, e.id)[-1] == ("OUTPUT", ("return",), "file:///as-returned")
        with execution("use") as ex:  # the caller's record, as it is now, is another artifact
            ex.log_input(packed.model)
        [(_, _, used)] = mr.events(tracked_sqlite, mr.one_execution(tracked_sqlite, "use").id)
        assert used.uri == "file:///changed-by-the-caller" and len(tracked_sqlite.store.get_artifacts()) == 3

    def test_a_failure_mapping_a_concurrent_future_result_leaves_the_future_alone(self, tracked_sqlite):
        """The result is mapped inside the future's set_result: a converter that
        fails (strict mode raises it) must not keep the future from completing."""
        import concurrent.futures

        class Packed:
            pass

        def unpack(packed):
            raise RuntimeError("no record here")

        pool = concurrent.futures.ThreadPoolExecutor(1)

        in_pool = submitting_to(pool, run_coroutines=True)

        @track
        @in_pool
        async def fetch(d: DataSet) -> Packed:
            await asyncio.sleep(0.05)
            return Packed()

        lineage.register_converter(Packed, unpack)
        try:
            assert isinstance(fetch(data()).result(timeout=5), Packed)
            pool.shutdown()
        finally:
            lineage.unregister_converter(Packed)
        e = mr.one_execution(tracked_sqlite, "fetch")
        assert mr.state(e) == "FAILED" and "no record here" in mr.custom(e)["lineage.error_message"]


    def test_a_write_under_way_does_not_hold_up_the_future(self, tracked_sqlite):
        """The result was added to the execution's outputs inside set_result,
        under the future's lock: a write of the execution under way then (its
        start, written at the start delay, holds the execution's lock while
        the store answers, or retries) kept every result() and done() of the
        future waiting for the store. Here the lock is held as such a write holds it."""
        import concurrent.futures
        import threading

        pool = concurrent.futures.ThreadPoolExecutor(1)
        scopes = []
        returned = threading.Event()

        def in_pool(f):
            @functools.wraps(f)
            def w(*a, **k):
                scopes.append(current_execution())  # the call's execution, current while the decorator runs
                return pool.submit(f, *a, **k)

            return w

        @track
        @in_pool
        def train(d: DataSet) -> Model:
            returned.wait(5)
            return Model(uri="file:///t", name="t")

        future = train(data())
        writing = threading.Event()

        def slow_write():
            with scopes[0]._lock:
                writing.set()
                time.sleep(1.5)

        writer = threading.Thread(target=slow_write)
        writer.start()
        writing.wait(5)
        returned.set()
        began = time.monotonic()
        assert future.result(timeout=5).uri == "file:///t"
        waited = time.monotonic() - began
        writer.join()
        pool.shutdown()
        assert waited < 1.0, waited
        e = mr.one_execution(tracked_sqlite, "train")
        assert mr.state(e) == "COMPLETE" and mr.paths(tracked_sqlite, e.id)[-1] == ("OUTPUT", ("return",), "file:///t")


class TestUnderOtherDecoratorsNeverBegun:
    @staticmethod
    def slow_setup(f):
        @functools.wraps(f)
        def w(*a, **k):
            time.sleep(0.2)
            return f(*a, **k)

        return w

    def test_a_start_written_before_a_body_that_never_runs_is_ended(self, tmp_path):
        """A start delay shorter than the decorator's setup wrote RUNNING
        before the call returned its coroutine or generator; dropped before
        its body began, the execution stayed RUNNING for good."""
        import gc

        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", start_delay=0.05)

        @track
        @self.slow_setup
        async def later(d: DataSet):
            return None

        @track
        @self.slow_setup
        def parts(d: DataSet):
            yield Model(uri="file:///y", name="y")

        @track
        @self.slow_setup
        async def awaited(d: DataSet) -> Model:
            return Model(uri="file:///a", name="a")

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "was never awaited", as without @track
            made = later(data())
            del made
            made = parts(data())
            del made
            gc.collect()
        assert asyncio.run(awaited(data())).uri == "file:///a"
        store = lineage.Store(url=url)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "RUNNING" in [mr.state(e) for e in mr.executions(store)]:
            time.sleep(0.05)
        found = {e.properties["name"].string_value: e for e in mr.executions(store)}
        assert {n: mr.state(e) for n, e in found.items()} == {"later": "CANCELED", "parts": "CANCELED", "awaited": "COMPLETE"}
        for name in ("later", "parts"):
            assert mr.paths(store, found[name].id) == [("INPUT", ("d",), "s3://bucket/mnist.csv")]
            assert "lineage.end_time" in mr.custom(found[name])

    def test_one_held_at_exit_is_ended(self, tmp_path):
        """The workers that end it stop with the interpreter: at exit it is ended by the exiting thread."""
        import subprocess
        import sys

        script = """
import functools, sys, time, lineage
from lineage import track
lineage.init(store=sys.argv[1], workspace="w", start_delay=0.05)

def slow_setup(f):
    @functools.wraps(f)
    def w(*a, **k):
        time.sleep(0.2)
        return f(*a, **k)
    return w

@track
@slow_setup
def parts():
    yield 1

held = parts()  # never iterated, held until exit
"""
        url = backends.make_url("sqlite", tmp_path)
        path = tmp_path / "job.py"
        path.write_text(script)
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        done = subprocess.run(
            [sys.executable, str(path), url], capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": root}
        )
        assert done.returncode == 0, done.stderr
        assert [mr.state(e) for e in mr.executions(lineage.Store(url=url))] == ["CANCELED"]

    def test_one_a_forked_child_ran_and_ended_is_left_as_it_ended(self, tmp_path):
        """The parent's copy never begins: dropped after the child ended the
        call, it must not write CANCELED over the child's COMPLETE."""
        import gc

        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", start_delay=0.05)

        @track
        @self.slow_setup
        def parts(n: int):
            yield from range(n)

        made = parts(2)
        consume_in_a_forked_child(made)
        del made
        gc.collect()
        time.sleep(0.3)  # a worker would have written it
        assert [mr.state(e) for e in mr.executions(lineage.Store(url=url))] == ["COMPLETE"]


class TestGeneratorsClosedEarly:
    def test_a_generator_closed_early_runs_its_finally_in_its_own_execution(self, tracked_sqlite):
        """Its finally block ran with the caller's execution current: what it
        logged there went to the caller's execution."""

        @track
        def parts(d: DataSet):
            try:
                yield 1
                yield 2
            finally:
                current_execution().log_output(Metrics(uri="file:///summary", name="s"))

        @track
        async def aparts(d: DataSet):
            try:
                yield 1
                yield 2
            finally:
                current_execution().log_output(Metrics(uri="file:///asummary", name="s"))

        async def consume():
            async with execution("aouter"):
                made = aparts(data())
                await made.__anext__()
                await made.aclose()

        with execution("outer"):
            made = parts(data())
            next(made)
            made.close()
        asyncio.run(consume())
        for name, outer, uri in (("parts", "outer", "file:///summary"), ("aparts", "aouter", "file:///asummary")):
            e = mr.one_execution(tracked_sqlite, name)
            assert mr.state(e) == "COMPLETE" and mr.paths(tracked_sqlite, e.id)[-1] == ("OUTPUT", (), uri)
            assert mr.paths(tracked_sqlite, mr.one_execution(tracked_sqlite, outer).id) == []


    @pytest.mark.parametrize("under", [False, True], ids=["generator", "under a decorator"])
    def test_a_generator_held_until_exit_runs_its_finally_in_its_own_execution(self, tmp_path, under):
        """One still suspended at exit was ended there (COMPLETE) without its
        finally block, which ran later, as the interpreter tore down, with no
        execution current: what it logged there was lost (an AttributeError
        of current_execution() being None, "Exception ignored")."""

        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import functools, lineage\nfrom lineage import current_execution, Metrics, Model\n"
            "lineage.init(store=" + repr(url) + ")\n"
            + TIMED_SOURCE +
            "@lineage.track\n" + ("@timed\n" if under else "") + "def batches(d: lineage.DataSet):\n"
            "    try:\n        for i in range(5):\n            yield Model(uri=f'file:///b{i}', name='b')\n"
            "    finally:\n        current_execution().log_output(Metrics(uri='file:///summary', name='s'))\n"
            "kept = batches(lineage.DataSet(uri='s3://exit/d', name='d'))\nnext(kept)\n"
        )
        done = run_script(tmp_path, script)
        assert done.returncode == 0 and "Exception ignored" not in done.stderr, done.stderr
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "batches")
        assert mr.state(e) == "COMPLETE"
        assert sorted(uri for _, _, uri in mr.paths(store, e.id)) == ["file:///b0", "file:///summary", "s3://exit/d"]

    def test_a_generator_another_thread_iterates_at_exit_is_not_closed_from_under_it(self, tmp_path):
        """The exit handler closed every suspended tracked generator (bc2b6ea),
        also one a daemon thread was iterating: its for loop there ended as
        if the data were exhausted, and the code after it ran while the exit
        handlers went on (without @track the thread is only stopped)."""

        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import atexit, threading, time, sys\n"
            "atexit.register(time.sleep, 1)  # an exit handler run after lineage's: the daemon thread goes on\n"
            "import lineage\nfrom lineage import Model\n"
            "lineage.init(store=" + repr(url) + ")\n"
            "@lineage.track\ndef batches(d: lineage.DataSet):\n"
            "    for i in range(1000):\n        yield Model(uri=f'file:///b{i}', name='b')\n"
            "started = threading.Event()\n"
            "def consume():\n    for b in batches(lineage.DataSet(uri='s3://exit/d', name='d')):\n"
            "        started.set()\n        time.sleep(0.3)\n"
            "    print('loop ended as if exhausted', file=sys.stderr, flush=True)\n"
            "threading.Thread(target=consume, daemon=True).start()\nstarted.wait()\n"
        )
        done = run_script(tmp_path, script)
        assert done.returncode == 0 and "exhausted" not in done.stderr, done.stderr
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "batches")
        # Ended, not closed; CANCELED: it did not finish (it was COMPLETE, as if exhausted), as a call still running in
        # a daemon thread is.
        assert mr.state(e) == "CANCELED", mr.state(e)
        assert mr.custom(e)["lineage.error_message"] == "the execution was still running when the process exited"
        assert ("OUTPUT", ("yield", 0), "file:///b0") in mr.paths(store, e.id)

    def test_a_forked_child_does_not_close_its_parents_generator_at_its_exit(self, tmp_path):
        """The exit handler of a child forked while a tracked generator was
        suspended closed the parent's copy: its finally block ran in the
        child, in an execution only the parent writes (what it logged raised
        "belongs to process"). The child here leaves as soon as its exit
        handlers have run (os._exit: Python's own teardown is not tested)."""

        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import atexit, os, sys\nparent = os.getpid()\n"
            "atexit.register(lambda: os.getpid() != parent and os._exit(0))  # run after lineage's (registered first)\n"
            "import lineage\nfrom lineage import current_execution, Metrics\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            "@lineage.track\ndef batches(d: lineage.DataSet):\n"
            "    try:\n        yield 1\n        yield 2\n"
            "    finally:\n"
            "        print('finally in', 'parent' if os.getpid() == parent else 'child', file=sys.stderr, flush=True)\n"
            "        current_execution().log_output(Metrics(uri='file:///summary', name='s'))\n"
            "kept = batches(lineage.DataSet(uri='s3://exit/d', name='d'))\nnext(kept)\n"
            "child = os.fork()\nif child:\n    os.waitpid(child, 0)\n"
        )
        done = run_script(tmp_path, script)
        assert done.returncode == 0 and "finally in child" not in done.stderr, done.stderr
        assert "finally in parent" in done.stderr and "Exception ignored" not in done.stderr, done.stderr
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "batches")
        assert mr.state(e) == "COMPLETE" and ("OUTPUT", (), "file:///summary") in mr.paths(store, e.id)

    @pytest.mark.parametrize("raised", ["SystemExit(3)", "KeyboardInterrupt()"])
    def test_a_finally_block_raising_a_base_exception_at_exit_does_not_stop_the_others_ending(self, tmp_path, raised):
        """The exit handler caught Exception only from a generator's close():
        a finally block raising SystemExit or KeyboardInterrupt (Ctrl-C into
        one that hung) stopped it, and the other suspended generators and the
        future not done were left RUNNING. After a KeyboardInterrupt the other
        generators are still closed in their executions: left open (to keep
        their code from running), they were closed anyway as the interpreter
        tore down, after their executions ended, and what they logged was lost."""

        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import concurrent.futures, functools, sys, lineage\nfrom lineage import current_execution, Metrics, Model\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            + TIMED_SOURCE +
            "@lineage.track\ndef stops(d: lineage.DataSet):\n"
            "    try:\n        yield 1\n    finally:\n        raise " + raised + "\n"
            "@lineage.track\ndef batches(d: lineage.DataSet):\n"
            "    try:\n        yield Model(uri='file:///b0', name='b')\n"
            "    finally:\n        if current_execution() is not None and not current_execution()._done:\n"
            "            current_execution().log_output(Metrics(uri='file:///summary', name='s'))\n"
            "        else:\n            print('finally with no execution', file=sys.stderr)\n"
            "@lineage.track\n@timed\ndef later(d: lineage.DataSet):\n    return concurrent.futures.Future()\n"
            "d = lineage.DataSet(uri='s3://exit/d', name='d')\n"
            "first = stops(d)\nnext(first)\nkept = batches(d)\nnext(kept)\nfuture = later(d)\n"
        )
        done = run_script(tmp_path, script)
        assert done.returncode == 0 and raised.split("(")[0] in done.stderr, done.stderr
        assert "finally with no execution" not in done.stderr, done.stderr
        store = lineage.Store(url=url)
        assert mr.state(mr.one_execution(store, "stops")) in ("FAILED", "CANCELED")  # as Python tells the exception
        e = mr.one_execution(store, "batches")
        assert mr.state(e) == "COMPLETE"
        assert ("OUTPUT", (), "file:///summary") in mr.paths(store, e.id)
        e = mr.one_execution(store, "later")
        assert mr.state(e) == "CANCELED" and "not done when the process exited" in mr.custom(e)["lineage.error_message"]


class TestUnderOtherDecoratorsPlainFunctionsInAPool:
    def test_a_plain_function_a_decorator_submits_to_a_pool_ends_with_its_future(self, tracked_sqlite):
        """Only async and generator functions were looked at for a future: a
        plain one a decorator ran in a pool ended COMPLETE at the call, with
        no outputs, also when it then failed."""
        import concurrent.futures

        pool = concurrent.futures.ThreadPoolExecutor(1)

        in_pool = submitting_to(pool)

        @track
        @in_pool
        def train(d: DataSet, fail: bool = False) -> Model:
            time.sleep(0.05)  # not done when @track looks at the future
            if fail:
                raise ValueError("boom")
            return Model(uri="file:///t", name="t")

        @track
        @TestUnderOtherDecorators.passthrough
        def plain(d: DataSet) -> Model:
            return Model(uri="file:///p", name="p")

        assert train(data()).result().uri == "file:///t"
        with pytest.raises(ValueError):
            train(data(), fail=True).result()
        pool.shutdown()
        assert plain(data()).uri == "file:///p"
        done, failed = mr.executions(tracked_sqlite, "train")
        assert mr.state(done) == "COMPLETE" and mr.paths(tracked_sqlite, done.id)[-1] == ("OUTPUT", ("return",), "file:///t")
        assert mr.state(failed) == "FAILED" and mr.custom(failed)["lineage.error_message"] == "boom"
        e = mr.one_execution(tracked_sqlite, "plain")
        assert mr.state(e) == "COMPLETE" and mr.paths(tracked_sqlite, e.id)[-1] == ("OUTPUT", ("return",), "file:///p")


    def test_a_future_not_done_at_exit_is_ended_then(self, tmp_path):
        """A plain function under a decorator that returns a future (here one
        it makes itself and never completes) keeps its execution open until the
        future is done: one never done stayed RUNNING for good, even after the
        process exited (before 0368744 it ended COMPLETE at the call)."""

        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import concurrent.futures, functools, time, lineage\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0.05)\n"
            + TIMED_SOURCE +
            "@lineage.track\n@timed\ndef later(d: lineage.DataSet):\n    return concurrent.futures.Future()\n"
            "kept = later(lineage.DataSet(uri='s3://exit/d', name='d'))\ntime.sleep(0.3)\n"
        )
        done = run_script(tmp_path, script)
        assert done.returncode == 0, done.stderr
        e = mr.one_execution(lineage.Store(url=url), "later")
        assert mr.state(e) == "CANCELED" and "not done when the process exited" in mr.custom(e)["lineage.error_message"]

    def test_a_future_done_at_exit_is_complete_and_one_dropped_undone_is_canceled(self, tmp_path):
        """The exit handler (597a759) ended CANCELED, "not done when the process
        exited", an execution whose future was done, its set_result (in a
        daemon thread) still mapping the result: it lost its outputs. And it
        held the executions weakly: one whose never-done future everyone had
        dropped stayed RUNNING for good."""

        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import concurrent.futures, functools, gc, threading, time, lineage\nfrom lineage import Model\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            "class Slow:\n    pass\n"
            "def to_model(value):\n    time.sleep(0.5)\n    return Model(uri='file:///slow', name='slow')\n"
            "lineage.register_converter(Slow, to_model)\n"
            + TIMED_SOURCE +
            "@lineage.track\n@timed\ndef racing(d: lineage.DataSet) -> Model:\n"
            "    future = concurrent.futures.Future()\n"
            "    threading.Thread(target=lambda: (time.sleep(0.1), future.set_result(Slow())), daemon=True).start()\n"
            "    return future\n"
            "@lineage.track\n@timed\ndef dropped(d: lineage.DataSet):\n    return concurrent.futures.Future()\n"
            "d = lineage.DataSet(uri='s3://exit/d', name='d')\n"
            "kept = racing(d)\ndropped(d)\ngc.collect()\ntime.sleep(0.3)\n"
            "assert kept._state == 'FINISHED'  # done (not read with done(): it waits for set_result)\n"
        )
        done = run_script(tmp_path, script)
        assert done.returncode == 0, done.stderr
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "racing")
        assert mr.state(e) == "COMPLETE" and mr.paths(store, e.id)[-1] == ("OUTPUT", ("return",), "file:///slow")
        e = mr.one_execution(store, "dropped")
        assert mr.state(e) == "CANCELED" and "not done when the process exited" in mr.custom(e)["lineage.error_message"]


    @pytest.mark.parametrize("drain", ["", "1e10"])
    def test_a_future_whose_done_callback_is_writing_at_exit_is_waited_for(self, tmp_path, drain):
        """The future is done when the process exits, and the done callback,
        in the daemon thread that completed it, is ending the execution (its
        output, a local file, being hashed): the exit handler found it taken
        and went on, the interpreter stopped that thread mid-write, and the
        execution stayed RUNNING for good, its output lost. (With
        LINEAGE_EXIT_DRAIN_SECONDS=1e10, as long as it takes, the wait
        raised OverflowError in the exit handler, and was not made.)"""
        url = f"sqlite:///{tmp_path / 'exit.db'}"
        big = a_file_slow_to_hash(tmp_path)
        script = (
            "import concurrent.futures, functools, os, threading, time, lineage\nfrom lineage import Model\n"
            "os.environ['LINEAGE_EXIT_DRAIN_SECONDS'] = " + repr(drain) + "\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            + TIMED_SOURCE +
            "@lineage.track\n@timed\ndef racing(d: lineage.DataSet) -> Model:\n"
            "    future = concurrent.futures.Future()\n"
            "    model = Model(uri=" + repr(big.as_uri()) + ", name='big')\n"
            "    threading.Thread(target=lambda: (time.sleep(0.1), future.set_result(model)), daemon=True).start()\n"
            "    return future\n"
            "kept = racing(lineage.DataSet(uri='s3://exit/d', name='d'))\n"
            "while kept._state != 'FINISHED':\n    time.sleep(0.001)\n"
        )
        done = run_script(tmp_path, script)
        assert done.returncode == 0 and "Error" not in done.stderr, done.stderr
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "racing")
        assert mr.state(e) == "COMPLETE" and mr.paths(store, e.id)[-1] == ("OUTPUT", ("return",), big.as_uri())


class TestCoroutinesClosedUnfinished:
    def test_a_coroutine_closed_before_it_finished_is_canceled(self, tracked_sqlite):
        """close() of a begun coroutine (what the garbage collector does to a
        destroyed pending task's) ended its execution COMPLETE, as for a
        generator whose consumer stopped early: its body never finished."""

        class Pending:
            def __await__(self):
                yield None

        async def work(d: DataSet) -> Model:
            await Pending()
            return Model(uri="file:///w", name="w")

        for made in (track(work), track(TestUnderOtherDecorators.passthrough(work))):
            coroutine = made(data())
            coroutine.send(None)  # begun, waiting
            coroutine.close()
        ends = [(mr.state(e), mr.custom(e).get("lineage.error_type")) for e in mr.executions(tracked_sqlite, "work")]
        assert ends == [("CANCELED", "GeneratorExit")] * 2

    def test_a_with_block_in_a_coroutine_closed_before_it_finished_is_canceled(self, tracked_sqlite):
        """A with (or async with) block spanning an await, its coroutine closed
        there (a destroyed pending task's): the block never finished, as a
        tracked coroutine's body did not (CANCELED), but it ended COMPLETE,
        GeneratorExit taken as a generator's consumer stopping early. A
        block in a generator closed early still ends COMPLETE."""

        class Pending:
            def __await__(self):
                yield None

        async def in_with():
            with execution("block"):
                await Pending()

        async def in_async_with():
            async with execution("block"):
                await Pending()

        def in_generator():
            with execution("block"):
                yield 1

        for work in (in_with, in_async_with):
            coroutine = work()
            coroutine.send(None)  # begun, waiting in the block
            coroutine.close()
        gen = in_generator()
        next(gen)
        gen.close()
        ends = [(mr.state(e), mr.custom(e).get("lineage.error_type")) for e in mr.executions(tracked_sqlite, "block")]
        assert ends == [("CANCELED", "GeneratorExit")] * 2 + [("COMPLETE", None)]

    def test_a_pending_tracked_task_destroyed_with_its_loop_is_freed_and_ends_canceled(self, tracked_sqlite):
        """A task still pending when its loop is closed (a background task
        left behind) is freed by the garbage collector, which closes its
        coroutine. A tracked one was kept alive until the process exited,
        with all its frame held (a model, a batch), and its execution stayed
        RUNNING until then: the finalizer that closes the function's own
        coroutine if the call is never awaited held that coroutine, whose
        frame waits on a future whose callback holds the task."""
        import gc
        import weakref

        async def wait_forever(d: DataSet) -> Model:
            await asyncio.sleep(3600)
            return Model(uri="file:///w", name="w")

        for made in (track(wait_forever), track(TestUnderOtherDecorators.passthrough(wait_forever))):
            loop = asyncio.new_event_loop()
            task = loop.create_task(made(data()))
            loop.run_until_complete(asyncio.sleep(0.01))
            loop.close()
            freed = weakref.ref(task)
            del task
            gc.collect()
            assert freed() is None
        ends = [(mr.state(e), mr.custom(e).get("lineage.error_type")) for e in mr.executions(tracked_sqlite, "wait_forever")]
        assert ends == [("CANCELED", "GeneratorExit")] * 2


class TestCallableInstancesAsyncAndGenerators:
    def test_an_instance_with_an_async_or_generator_call_is_tracked_as_one(self, tracked_sqlite):
        """inspect reads only functions: an instance whose __call__ is async
        or a generator was tracked as a plain function, its execution ended
        COMPLETE at the call, before its body ran (or failed), with no outputs."""

        class Fit:
            async def __call__(self, d: DataSet) -> Model:
                await asyncio.sleep(0)
                raise ValueError("boom")

        class Parts:
            def __call__(self, d: DataSet):
                yield Model(uri="file:///y", name="y")

        with pytest.raises(ValueError):
            asyncio.run(track(Fit())(data()))
        assert [m.uri for m in track(Parts())(data())] == ["file:///y"]
        fit, parts = mr.one_execution(tracked_sqlite, "Fit"), mr.one_execution(tracked_sqlite, "Parts")
        assert mr.state(fit) == "FAILED" and mr.custom(fit)["lineage.error_message"] == "boom"
        assert mr.state(parts) == "COMPLETE" and mr.paths(tracked_sqlite, parts.id)[-1] == ("OUTPUT", ("yield", 0), "file:///y")

    def test_an_instance_whose_async_call_is_under_a_decorator_of_its_own_is_tracked_as_one(self, tracked_sqlite):
        """The class's __call__ was read, not what it wraps: an async one under
        a wraps decorator (a retry) was a plain function to inspect, and the
        execution ended COMPLETE at the call, before its body ran or failed
        (with a warning that the coroutine returned is no Model)."""

        class Fit:
            @TestUnderOtherDecorators.passthrough
            async def __call__(self, d: DataSet) -> Model:
                await asyncio.sleep(0)
                raise ValueError("boom")

        with pytest.raises(ValueError):
            asyncio.run(track(Fit())(data()))
        fit = mr.one_execution(tracked_sqlite, "Fit")
        assert mr.state(fit) == "FAILED" and mr.custom(fit)["lineage.error_message"] == "boom"

    def test_an_async_generator_left_open_runs_its_finally_in_its_execution_at_loop_shutdown(self, tracked_sqlite):
        """asyncio.run closes the async generators left open: the tracked one
        and the function's own one inside it were both known to the loop and
        closed apart, the inner one first, with no execution current."""
        left_open = []

        @track
        async def parts(d: DataSet):
            try:
                yield 1
                yield 2
            finally:
                current_execution().log_output(Metrics(uri="file:///summary", name="s"))

        async def main():
            made = parts(data())
            await made.__anext__()
            left_open.append(made)  # still open when asyncio.run ends

        asyncio.run(main())
        e = mr.one_execution(tracked_sqlite, "parts")
        assert mr.state(e) == "COMPLETE" and mr.paths(tracked_sqlite, e.id)[-1] == ("OUTPUT", (), "file:///summary")

    def test_another_awaitable_a_slow_decorator_returns_never_awaited_is_ended(self, tmp_path):
        """Not a coroutine (an object with __await__): whether it ran was
        taken as not known, and its execution stayed RUNNING for good."""
        import gc

        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", start_delay=0.05)

        class Later:
            def __init__(self, coroutine):
                self.coroutine = coroutine

            def __await__(self):
                return self.coroutine.__await__()

        def slow_later(f):
            @functools.wraps(f)
            def w(*a, **k):
                time.sleep(0.2)
                return Later(f(*a, **k))

            return w

        @track
        @slow_later
        async def later(d: DataSet) -> Model:
            return Model(uri="file:///l", name="l")

        assert asyncio.run(later(data())).uri == "file:///l"  # awaited: as before
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "was never awaited", as without @track
            made = later(data())
            del made
            gc.collect()
        store = lineage.Store(url=url)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "RUNNING" in [mr.state(e) for e in mr.executions(store)]:
            time.sleep(0.05)
        assert [mr.state(e) for e in mr.executions(store)] == ["COMPLETE", "CANCELED"]


class TestGeneratorsWithBlocksAcrossYields:
    def test_a_with_block_open_across_a_yield_stays_current(self, tracked_sqlite):
        """After a yield, a tracked generator's code ran in the generator's
        execution again, though the with block it was in had not ended:
        what it logged there went to the generator's execution."""

        @track
        def parts():
            with execution("block"):
                yield 1
                current_execution().log_output(Metrics(uri="file:///in-block", name="s"))
                yield 2

        @track
        async def aparts():
            async with execution("ablock"):
                yield 1
                current_execution().log_output(Metrics(uri="file:///in-ablock", name="s"))
                yield 2

        async def consume():
            return [x async for x in aparts()]

        assert list(parts()) == [1, 2]
        assert asyncio.run(consume()) == [1, 2]
        for gen, block, uri in (("parts", "block", "file:///in-block"), ("aparts", "ablock", "file:///in-ablock")):
            outputs = [u for _, _, u in mr.paths(tracked_sqlite, mr.one_execution(tracked_sqlite, gen).id)]
            assert uri not in outputs
            assert mr.paths(tracked_sqlite, mr.one_execution(tracked_sqlite, block).id) == [("OUTPUT", (), uri)]


class TestContextManagerFunctions:
    def test_a_contextmanager_function_is_tracked_over_its_generator(self, tmp_path):
        """@track over @contextlib.contextmanager (or asynccontextmanager):
        the execution ended COMPLETE at the call, before the generator ran,
        with what it yielded unrecorded and a failure of the with block too."""
        import contextlib
        import gc

        url = backends.make_url("sqlite", tmp_path)
        lineage.init(store=url, workspace="ws", run="r1", strict=True, start_delay=0.05)

        @track
        @contextlib.contextmanager
        def session(d: DataSet):
            assert current_execution().name == "session"
            yield Model(uri="file:///s", name="s")

        @track
        @contextlib.asynccontextmanager
        async def asession(d: DataSet):
            assert current_execution().name == "asession"
            yield Model(uri="file:///a", name="a")

        async def use():
            async with asession(data()) as m:
                assert m.uri == "file:///a"

        with session(data()) as m:
            assert m.uri == "file:///s"
        with pytest.raises(ValueError), session(data()):
            raise ValueError("boom")
        asyncio.run(use())
        never = session(data())  # never entered: nothing written
        del never
        gc.collect()
        time.sleep(0.2)  # past the start delay
        store = lineage.Store(url=url)
        done, failed = mr.executions(store, "session")
        assert mr.state(done) == "COMPLETE" and mr.paths(store, done.id)[-1] == ("OUTPUT", ("yield", 0), "file:///s")
        assert mr.state(failed) == "FAILED" and mr.custom(failed)["lineage.error_message"] == "boom"
        e = mr.one_execution(store, "asession")
        assert mr.state(e) == "COMPLETE" and mr.paths(store, e.id)[-1] == ("OUTPUT", ("yield", 0), "file:///a")

    def test_one_used_as_a_decorator_is_tracked_at_each_call(self, tracked_sqlite):
        """A contextmanager's context manager is a decorator too
        (ContextDecorator): each call of the function it decorates runs in a
        context manager made anew from the generator function, which was not
        the tracked one: no execution at all was written."""
        import contextlib

        @track
        @contextlib.contextmanager
        def timed(label: str):
            yield

        @track
        @contextlib.asynccontextmanager
        async def atimed(label: str):
            yield

        @timed("x")
        def step(n):
            return n

        @atimed("y")
        async def astep(n):
            return n

        assert [step(1), step(2)] == [1, 2]
        assert asyncio.run(astep(3)) == 3
        assert [mr.state(e) for e in mr.executions(tracked_sqlite, "timed")] == ["COMPLETE", "COMPLETE"]
        assert [mr.state(e) for e in mr.executions(tracked_sqlite, "atimed")] == ["COMPLETE"]
        assert mr.custom(mr.one_execution(tracked_sqlite, "atimed"))["label"] == "y"


class TestOpenInAnotherThreadAtExit:
    #: A tracked call and a with block, each in a daemon thread still running when the main thread ends.
    SCRIPT = (
        "import os, sys, threading, time, lineage\nfrom lineage import DataSet, Model\n"
        "lineage.init(store=sys.argv[1], start_delay=float(sys.argv[2]))\n"
        "@lineage.track\ndef train(d: DataSet, epochs: int = 3) -> Model:\n"
        "    time.sleep(60)\n"
        "def block():\n"
        "    with lineage.execution('block') as ex:\n"
        "        ex.log_input(DataSet(uri='s3://exit/b', name='b'))\n        ex.log_param('lr', 0.5)\n"
        "        time.sleep(60)\n"
        "threading.Thread(target=train, args=(DataSet(uri='s3://exit/d', name='d'),), daemon=True).start()\n"
        "threading.Thread(target=block, daemon=True).start()\n"
        "time.sleep(float(sys.argv[3]))\n"
    )
    CANCELED_AT_EXIT = "was still running when the process exited"

    @pytest.mark.parametrize("delay", [0.0, 30.0], ids=["start-written", "nothing-written"])
    def test_a_call_and_a_block_still_running_in_a_daemon_thread_are_ended_at_exit(self, tmp_path, delay):
        """A tracked call or with block still running in a daemon thread when
        the process exited: with its start written it stayed RUNNING for good;
        shorter than its start delay, it was lost whole, inputs and params."""
        url = f"sqlite:///{tmp_path / 'exit.db'}"
        (tmp_path / "job.py").write_text(self.SCRIPT)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
        began = time.monotonic()
        done = subprocess.run([sys.executable, str(tmp_path / "job.py"), url, str(delay), "0.3"], env=env,
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        assert time.monotonic() - began < 15  # the threads' sleep is not waited for
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "train")
        assert mr.state(e) == "CANCELED" and self.CANCELED_AT_EXIT in mr.custom(e)["lineage.error_message"]
        assert mr.custom(e)["epochs"] == 3 and mr.paths(store, e.id) == [("INPUT", ("d",), "s3://exit/d")]
        e = mr.one_execution(store, "block")
        assert mr.state(e) == "CANCELED" and self.CANCELED_AT_EXIT in mr.custom(e)["lineage.error_message"]
        assert mr.custom(e)["lr"] == 0.5 and mr.paths(store, e.id) == [("INPUT", (), "s3://exit/b")]

    def test_one_whose_lock_a_daemon_thread_holds_at_exit_is_told_and_does_not_hold_up_the_exit(self, tmp_path):
        """The exit handler waits for an open execution's lock within the exit's
        budget (LINEAGE_EXIT_DRAIN_SECONDS) only: one held for good is left,
        said in a log line, and the others are ended."""
        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import os, threading, time, lineage\nfrom lineage import DataSet\n"
            "os.environ['LINEAGE_EXIT_DRAIN_SECONDS'] = '0.5'\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            "held = threading.Event()\n"
            "def stuck():\n    with lineage.execution('stuck') as ex:\n"
            "        ex._lock.acquire()  # held for good, as by a write that hangs\n        held.set()\n"
            "        time.sleep(60)\n"
            "def block():\n    with lineage.execution('block'):\n        time.sleep(60)\n"
            "threading.Thread(target=stuck, daemon=True).start()\nheld.wait()\n"
            "threading.Thread(target=block, daemon=True).start()\ntime.sleep(0.2)\n"
        )
        began = time.monotonic()
        done = run_script(tmp_path, script, timeout=30)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert time.monotonic() - began < 10
        assert "'stuck'" in done.stderr and "left RUNNING" in done.stderr, done.stderr
        store = lineage.Store(url=url)
        assert mr.state(mr.one_execution(store, "stuck")) == "RUNNING"
        e = mr.one_execution(store, "block")
        assert mr.state(e) == "CANCELED" and self.CANCELED_AT_EXIT in mr.custom(e)["lineage.error_message"]

    def test_a_generator_whose_lock_a_daemon_thread_holds_at_exit_does_not_hold_up_the_exit(self, tmp_path):
        """A tracked generator a daemon thread iterates is ended at exit, not
        closed (see _generators): its lock was waited for with no bound, and
        one held for good (a write that hangs) hung the exit. It is waited
        for within the exit's budget too, left and told in a log line, and
        the other generators are ended."""
        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import os, threading, time, lineage\nfrom lineage import Model, current_execution\n"
            "os.environ['LINEAGE_EXIT_DRAIN_SECONDS'] = '0.5'\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            "@lineage.track\ndef stuck():\n"
            "    current_execution()._lock.acquire()  # held for good, as by a write that hangs\n"
            "    yield Model(uri='file:///s', name='s')\n"
            "@lineage.track\ndef other():\n    yield Model(uri='file:///o', name='o')\n"
            "def consume(gen, stepped):\n    for _ in gen:\n        stepped.set()\n        time.sleep(60)\n"
            "for gen in (stuck(), other()):\n    stepped = threading.Event()\n"
            "    threading.Thread(target=consume, args=(gen, stepped), daemon=True).start()\n    stepped.wait()\n"
        )
        began = time.monotonic()
        try:
            done = run_script(tmp_path, script, timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("the exit hung on the generator's lock")
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert time.monotonic() - began < 10
        assert "'stuck'" in done.stderr and "left RUNNING" in done.stderr, done.stderr
        store = lineage.Store(url=url)
        assert mr.state(mr.one_execution(store, "stuck")) == "RUNNING"
        assert mr.state(mr.one_execution(store, "other")) == "CANCELED"  # it did not finish

    def test_one_ending_by_itself_at_exit_is_waited_for_and_written_once(self, tmp_path):
        """The daemon thread's call returns as the process exits, and its end
        is being written (its output, a local file, hashed): the exit handler
        waits for it (not ending it CANCELED on top of it, nor leaving the
        thread to be stopped mid-write with the execution RUNNING for good)."""
        url = f"sqlite:///{tmp_path / 'exit.db'}"
        big = a_file_slow_to_hash(tmp_path)
        script = (
            "import threading, time, lineage\nfrom lineage import DataSet, Model\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            "returning = threading.Event()\n"
            "@lineage.track\ndef train(d: DataSet) -> Model:\n"
            "    returning.set()\n    return Model(uri=" + repr(big.as_uri()) + ", name='big')\n"
            "threading.Thread(target=train, args=(DataSet(uri='s3://exit/d', name='d'),), daemon=True).start()\n"
            "returning.wait()\n"
        )
        done = run_script(tmp_path, script, timeout=30)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "train")
        assert mr.state(e) == "COMPLETE" and "lineage.error_message" not in mr.custom(e)
        assert mr.paths(store, e.id)[-1] == ("OUTPUT", ("return",), big.as_uri())

    def test_logging_to_one_ended_at_exit_does_not_raise_in_its_thread(self, tmp_path):
        """Ended at exit while its thread runs on (until the interpreter stops
        it): what that thread logs then is dropped, not raised into its code."""
        url = f"sqlite:///{tmp_path / 'exit.db'}"
        script = (
            "import atexit, threading, time\n"
            "atexit.register(time.sleep, 0.5)  # registered before lineage's, so run after it: the daemon thread goes on\n"
            "import lineage\nfrom lineage import DataSet\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            "def block():\n    with lineage.execution('block') as ex:\n"
            "        while True:\n            time.sleep(0.05)\n"
            "            ex.log_param('step', 1)\n            ex.log_input(DataSet(uri='s3://exit/b', name='b'))\n"
            "threading.Thread(target=block, daemon=True).start()\ntime.sleep(0.2)\n"
        )
        done = run_script(tmp_path, script, timeout=30)
        assert done.returncode == 0 and "LineageError" not in done.stderr, done.stderr
        e = mr.one_execution(lineage.Store(url=url), "block")
        assert mr.state(e) == "CANCELED" and self.CANCELED_AT_EXIT in mr.custom(e)["lineage.error_message"]

    @pytest.mark.parametrize("kind", ["generator", "async generator"])
    def test_logging_to_a_generator_ended_at_exit_does_not_raise_in_its_thread(self, tmp_path, kind):
        """A tracked generator a daemon thread iterates is ended at exit (see
        _suspended) while that thread runs on: what its code logged then
        (log_param, log_input, log_output) raised LineageError "has ended"
        into it, where a with block or a call ended at exit drops it."""
        url = f"sqlite:///{tmp_path / 'exit.db'}"
        body = (
            "    ex = current_execution()\n"
            "    for i in range(1000):\n        await_or_sleep\n"
            "        ex.log_param('step', i)\n        ex.log_input(DataSet(uri='s3://exit/b', name='b'))\n"
            "        ex.log_output(Model(uri=f'file:///o{i}', name='o'))\n"
            "        yield Model(uri=f'file:///b{i}', name='b')\n"
        )
        if kind == "generator":
            tracked = "@lineage.track\ndef batches():\n" + body.replace("await_or_sleep", "time.sleep(0.05)")
            consume = "def consume():\n    for _ in batches():\n        pass\n"
        else:
            tracked = "@lineage.track\nasync def batches():\n" + body.replace("await_or_sleep", "await asyncio.sleep(0.05)")
            consume = "def consume():\n    async def main():\n        async for _ in batches():\n            pass\n" \
                      "    asyncio.run(main())\n"
        script = (
            "import asyncio, atexit, threading, time\n"
            "atexit.register(time.sleep, 0.5)  # registered before lineage's, so run after it: the daemon thread goes on\n"
            "import lineage\nfrom lineage import DataSet, Model, current_execution\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            + tracked + consume +
            "threading.Thread(target=consume, daemon=True).start()\ntime.sleep(0.3)\n"
        )
        done = run_script(tmp_path, script, timeout=30)
        assert done.returncode == 0 and "LineageError" not in done.stderr and "Traceback" not in done.stderr, done.stderr
        e = mr.one_execution(lineage.Store(url=url), "batches")
        assert mr.state(e) == "CANCELED" and mr.custom(e)["step"] >= 1  # ended, still running: it was COMPLETE


class TestForkedWhileAnotherThreadHeldTheLock:
    #: Waits for the forked child (os.fork() gave *child*) 5 s at most, then kills it and prints "child hung".
    WAIT_FOR_THE_CHILD = (
        "deadline = time.monotonic() + 5\n"
        "while os.waitpid(child, os.WNOHANG) == (0, 0):\n"
        "    if time.monotonic() > deadline:\n"
        "        os.kill(child, signal.SIGKILL)\n        os.waitpid(child, 0)\n        print('child hung')\n        break\n"
        "    time.sleep(0.05)\n"
    )

    def test_a_call_returning_in_a_child_forked_while_another_thread_held_its_lock_does_not_hang(self, tmp_path):
        """A tracked function that forks while another thread of the process
        holds its execution's lock (logging to it, writing it): the child's
        return took that lock, held there for good (the thread is not
        forked), and hung. The parent writes the execution, as before."""
        url = f"sqlite:///{tmp_path / 'fork.db'}"
        script = (
            "import os, signal, threading, time, lineage\nfrom lineage import current_execution, Model\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            "forked = threading.Event()\n"
            "@lineage.track\ndef work(n: int) -> Model:\n"
            "    global child\n    ex, held = current_execution(), threading.Event()\n"
            "    def hold():\n        with ex._lock:\n            held.set()\n            forked.wait()\n"
            "    threading.Thread(target=hold, daemon=True).start()\n    held.wait()\n"
            "    child = os.fork()\n    if child:\n        forked.set()\n"
            "    return Model(uri='file:///m', name='m')\n"
            "work(1)\n"
            "if child == 0:\n    os._exit(0)\n"
            + self.WAIT_FOR_THE_CHILD
        )
        done = run_script(tmp_path, script, timeout=30)
        assert done.returncode == 0 and "child hung" not in done.stdout, done.stdout + done.stderr
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "work")
        assert mr.state(e) == "COMPLETE" and mr.paths(store, e.id) == [("OUTPUT", ("return",), "file:///m")]

    def test_a_generator_begun_in_a_child_forked_while_another_thread_held_its_lock_does_not_hang(self, tmp_path):
        """A generator a wraps decorator made (its execution entered at the
        call), first iterated in a child forked while another thread held
        that execution's lock: the child, which runs the call and so records
        it, took the lock held there for good, and hung."""
        url = f"sqlite:///{tmp_path / 'fork.db'}"
        script = (
            "import functools, gc, os, signal, threading, time, lineage\nfrom lineage import Model\n"
            "from lineage._scope import ExecutionScope\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            + TIMED_SOURCE +
            "@lineage.track\n@timed\ndef parts(n: int):\n"
            "    for i in range(n):\n        yield Model(uri=f'file:///{os.getpid()}/{i}', name='m')\n"
            "made = parts(2)\n"
            "[scope] = [o for o in gc.get_objects() if isinstance(o, ExecutionScope)]\n"
            "held, forked = threading.Event(), threading.Event()\n"
            "def hold():\n    with scope._lock:\n        held.set()\n        forked.wait()\n"
            "threading.Thread(target=hold, daemon=True).start()\nheld.wait()\n"
            "child = os.fork()\n"
            "if child == 0:\n    list(made)\n    os._exit(0)\n"
            "forked.set()\n"
            + self.WAIT_FOR_THE_CHILD +
            "print('child', child)\n"
        )
        done = run_script(tmp_path, script, timeout=30)
        assert done.returncode == 0 and "child hung" not in done.stdout, done.stdout + done.stderr
        child = done.stdout.split()[-1]
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "parts")
        assert mr.state(e) == "COMPLETE"
        assert [uri for _, _, uri in mr.paths(store, e.id)] == [f"file:///{child}/0", f"file:///{child}/1"]

    def test_a_future_completed_in_a_child_forked_while_another_thread_held_its_lock_does_not_hang(self, tmp_path):
        """A future a wraps decorator's call returned (its execution waits
        for it), completed in a child forked while another thread held that
        execution's lock: its done callback, run there, took the lock to add
        the outputs, held there for good, and hung. The parent writes the
        execution, with the result it completes the future with."""
        url = f"sqlite:///{tmp_path / 'fork.db'}"
        script = (
            "import concurrent.futures, functools, gc, os, signal, threading, time, lineage\nfrom lineage import Model\n"
            "from lineage._scope import ExecutionScope\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            "def later(f):\n    @functools.wraps(f)\n    def w(*a, **k):\n        return concurrent.futures.Future()\n"
            "    return w\n"
            "@lineage.track\n@later\ndef train(n: int) -> Model: ...\n"
            "future = train(1)\n"
            "[scope] = [o for o in gc.get_objects() if isinstance(o, ExecutionScope)]\n"
            "held, forked = threading.Event(), threading.Event()\n"
            "def hold():\n    with scope._lock:\n        held.set()\n        forked.wait()\n"
            "threading.Thread(target=hold, daemon=True).start()\nheld.wait()\n"
            "child = os.fork()\n"
            "if child == 0:\n    future.set_result(Model(uri='file:///child', name='m'))\n    os._exit(0)\n"
            "forked.set()\n"
            + self.WAIT_FOR_THE_CHILD +
            "future.set_result(Model(uri='file:///parent', name='m'))\n"
        )
        done = run_script(tmp_path, script, timeout=30)
        assert done.returncode == 0 and "child hung" not in done.stdout, done.stdout + done.stderr
        store = lineage.Store(url=url)
        e = mr.one_execution(store, "train")
        assert mr.state(e) == "COMPLETE" and mr.paths(store, e.id) == [("OUTPUT", ("return",), "file:///parent")]

    def test_a_dropped_coroutine_at_the_exit_of_a_child_forked_while_another_thread_held_its_lock_does_not_hang(
        self, tmp_path
    ):
        """A coroutine a wraps decorator made, its start written (the
        decorator flushed) and never awaited, still held when a child forked
        while another thread held its execution's lock exits: the child's
        exit handlers end a dropped call's execution (see _never_begun), and
        took that lock, held there for good: the child never exited. The
        parent ends it, CANCELED, its body never ran."""
        url = f"sqlite:///{tmp_path / 'fork.db'}"
        script = (
            "import functools, gc, os, signal, sys, threading, time, lineage\n"
            "from lineage._scope import ExecutionScope\n"
            "lineage.init(store=" + repr(url) + ", start_delay=0)\n"
            "def flushed(f):\n    @functools.wraps(f)\n    def w(*a, **k):\n"
            "        lineage.current_execution().flush()\n        return f(*a, **k)\n    return w\n"
            "@lineage.track\n@flushed\nasync def job(n: int): ...\n"
            "made = job(1)\n"
            "[scope] = [o for o in gc.get_objects() if isinstance(o, ExecutionScope)]\n"
            "held, forked = threading.Event(), threading.Event()\n"
            "def hold():\n    with scope._lock:\n        held.set()\n        forked.wait()\n"
            "threading.Thread(target=hold, daemon=True).start()\nheld.wait()\n"
            "child = os.fork()\n"
            "if child == 0:\n    sys.exit(0)\n"
            "forked.set()\n"
            + self.WAIT_FOR_THE_CHILD
        )
        done = run_script(tmp_path, script, timeout=30)
        assert done.returncode == 0 and "child hung" not in done.stdout, done.stdout + done.stderr
        e = mr.one_execution(lineage.Store(url=url), "job")
        assert mr.state(e) == "CANCELED" and "never ran" in mr.custom(e)["lineage.error_message"]
