"""Store.lineage / describe_lineage: the graph upstream of an artifact, read back from MLMD."""

from __future__ import annotations

import json
import sys

import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage
from lineage import DataSet, Model, track
from lineage.testing import recording


@pytest.fixture
def store(sqlite_url) -> lineage.Store:
    lineage.init(store=sqlite_url, workspace="graph", strict=True, start_delay=0)
    return lineage.Store(url=sqlite_url)


@track
def step(x: DataSet, i: int) -> DataSet:
    return DataSet(uri=f"s3://chain/{i}", name=f"c{i}")


class TestWalk:
    def test_a_long_chain_is_walked_to_its_source(self, store):
        """Every step upstream is in the graph and the tree, past the old
        50-level cut (which showed step 10 as a source) and past Python's
        recursion limit; max_depth cuts it on purpose, and says so."""
        steps = sys.getrecursionlimit() // 2 + 200
        x = DataSet(uri="s3://chain/0", name="c0")
        for i in range(1, steps + 1):
            x = step(x, i)
        graph = store.lineage(x)
        assert (len(graph.executions), len(graph.artifacts), graph.truncated) == (steps, steps + 1, False)
        lines = graph.to_text().splitlines()
        assert len(lines) == 2 * steps + 1
        assert lines[-1].strip().startswith("└─ DataSet 'c0'")
        cut = store.lineage(x, max_depth=10)
        assert (len(cut.executions), cut.truncated) == (10, True)
        assert "more upstream" in cut.to_text().splitlines()[-1]
        with pytest.raises(lineage.InvalidValueError, match=r"max_depth"):
            store.lineage(x, max_depth=-1)

    def test_truncated_only_when_something_is_left_upstream(self, store):
        """A walk whose max_depth is the length of the chain, or that starts
        at a source, is whole: it said "truncated" (and "more upstream")
        whenever it reached max_depth."""
        raw = DataSet(uri="s3://cut/raw", name="raw")
        x = step(step(raw, 1), 2)
        assert [store.lineage(x, max_depth=d).truncated for d in (0, 1, 2, 3)] == [True, True, False, False]
        assert store.lineage(raw, max_depth=0).truncated is False
        assert "more upstream" not in store.lineage(x, max_depth=2).to_text()

    def test_exports_are_the_same_from_one_process_to_the_next(self, store, sqlite_url):
        """The JSON of a graph and of `lineage ls --json` are byte for byte the
        same in every process: the properties came out in the order of
        protobuf's maps, which changes between processes."""
        import subprocess

        @track
        def train(d: DataSet, lr=0.1, epochs=3, batch=32, seed=7, opt="sgd") -> Model:
            return Model(uri="s3://same/m", name="m", version="1", description="x", owner="o")

        model = train(DataSet(uri="s3://same/d", name="d", version="2", query="q", owner="o"))
        script = (
            "import sys, lineage; from lineage.cli import main; "
            f"print(lineage.Store(url={sqlite_url!r}).lineage({model.id}).to_json()); "
            f"main(['ls', '--store', {sqlite_url!r}, '-w', 'graph', '--json'])"
        )
        outputs = {
            subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True).stdout
            for _ in range(6)
        }
        assert len(outputs) == 1
        [summary] = store.lineage(model).to_dict()["executions"]
        assert list(summary["properties"]) == sorted(summary["properties"])

    def test_params_are_shown_as_they_were_given(self, store):
        """The tree and the summaries show params from lineage.params (exact),
        not MLMD's typed copies (6 decimals, doubles, structs of floats)."""

        @track
        def train(d: DataSet, lr=0.1234567, steps=2**40, layers=(64, 32), opt=None) -> Model:
            return Model(uri="s3://m/exact", name="m", version="1")

        model = train(DataSet(uri="s3://d/exact", name="d"), layers=[64, 32])
        graph = store.lineage(model)
        [summary] = graph.executions.values()
        props = summary["properties"]
        assert (props["lr"], props["steps"], props["layers"], props["opt"]) == (0.1234567, 2**40, [64, 32], None)
        assert "lr=0.1234567 opt=None steps=1099511627776" in graph.to_text()
        assert "layers=[64, 32]" in graph.to_text()

    def test_sibling_outputs_are_in_the_graph_with_their_edges(self, store):
        """Every edge's artifact is in the graph (edges to a producer's other
        outputs pointed at artifacts the graph did not hold)."""

        @track
        def split(d: DataSet):
            return DataSet(uri="s3://split/a", name="a"), DataSet(uri="s3://split/b", name="b")

        a, b = split(DataSet(uri="s3://split/raw", name="raw"))
        data = store.lineage(a).to_dict()
        ids = {artifact["id"] for artifact in data["artifacts"]}
        assert {edge["artifact"] for edge in data["edges"]} <= ids
        assert b.id in ids
        json.loads(store.lineage(a).to_json())  # valid JSON

    def test_unknown_artifact_is_an_error(self, store, tmp_path):
        """An id this store does not hold raises, naming the store (an empty
        graph hid a record logged to another store)."""
        model = step(DataSet(uri="s3://here/0", name="d"), 0)
        with pytest.raises(lineage.UnknownArtifactError, match=r"holds no artifact with id 424242"):
            store.lineage(424242)
        other = lineage.Store(url=f"sqlite:///{tmp_path / 'other.db'}")
        with pytest.raises(lineage.UnknownArtifactError, match=r"logged to another store"):
            other.describe_lineage(model)


class TestOnEveryBackend:
    @pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
    def test_a_graph_lists_its_nodes_in_the_same_order_on_every_backend(self, backend, tmp_path):
        """Executions of a level (and artifacts) in id order: PostgreSQL
        answered get_executions_by_id in another order than SQLite, and the
        JSON, DOT, Mermaid and OpenLineage exports of one graph differed."""
        from tests import backends

        url = backends.make_url(backend, tmp_path)
        lineage.init(store=url, workspace="order", strict=True, start_delay=0)
        a = DataSet(uri="s3://order/a", name="a")
        with lineage.execution("split") as ex:
            ex.log_input(a)
            parts = [ex.log_output(DataSet(uri=f"s3://order/p{i}", name=f"p{i}")) for i in range(5)]
        with lineage.execution("left") as ex:
            for part in reversed(parts):
                ex.log_input(part)
            left = ex.log_output(DataSet(uri="s3://order/left", name="left"))
        with lineage.execution("right") as ex:
            ex.log_input(a)
            ex.log_input(parts[2])
            right = ex.log_output(DataSet(uri="s3://order/right", name="right"))
        with lineage.execution("join") as ex:
            ex.log_input(right)
            ex.log_input(left)
            model = ex.log_output(Model(uri="s3://order/m", name="m"))
        data = lineage.Store(url=url).lineage(model).to_dict()
        names = {e["id"]: e["name"] for e in data["executions"]}
        assert [names[e["id"]] for e in data["executions"]] == ["join", "left", "right", "split"]
        assert [a["id"] for a in data["artifacts"]] == sorted(a["id"] for a in data["artifacts"])

    @pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
    def test_a_graph_lists_its_edges_in_the_same_order_on_every_backend(self, backend, tmp_path):
        """Edges by execution id, then as written: PostgreSQL and MariaDB
        answered get_events_by_execution_ids in the order the events were
        written, SQLite by execution, and to_json and to_dot of one graph
        of two executions that ran at once differed from one backend to another."""
        from tests import backends

        url = backends.make_url(backend, tmp_path)
        lineage.init(store=url, workspace="order", strict=True, start_delay=0)
        one = lineage.execution("one", inputs=[DataSet(uri="s3://edges/a", name="a")])
        two = lineage.execution("two", inputs=[DataSet(uri="s3://edges/b", name="b")])
        first, second = one.__enter__(), two.__enter__()
        o2 = second.log_output(DataSet(uri="s3://edges/o2", name="o2"))
        two.__exit__(None, None, None)  # ends first: its events are written before one's output
        o1 = first.log_output(DataSet(uri="s3://edges/o1", name="o1"))
        one.__exit__(None, None, None)
        with lineage.execution("join") as ex:
            ex.log_input(o1)
            ex.log_input(o2)
            model = ex.log_output(Model(uri="s3://edges/m", name="m"))
        data = lineage.Store(url=url).lineage(model).to_dict()
        names = {e["id"]: e["name"] for e in data["executions"]}
        artifacts = {a["id"]: a["name"] for a in data["artifacts"]}
        assert [(artifacts[e["artifact"]], names[e["execution"]], e["type"]) for e in data["edges"]] == [
            ("o1", "join", "INPUT"), ("o2", "join", "INPUT"), ("m", "join", "OUTPUT"),
            ("a", "one", "INPUT"), ("o1", "one", "OUTPUT"), ("b", "two", "INPUT"), ("o2", "two", "OUTPUT"),
        ]


class TestWhatIsShown:
    def test_a_long_param_is_cut_in_the_tree_and_whole_in_the_export(self, store):
        """A list of training rows passed as an argument (kept up to 4,096
        characters) made one line of the tree thousands of characters long:
        the tree shows the start of such a value and its length; to_dict()
        keeps all of it, and short values are shown whole."""

        @track
        def fit(d: DataSet, rows: list, lr: float = 0.1) -> Model:
            return Model(uri="s3://long/m", name="m")

        rows = [[i * 0.5, -i * 0.25, i % 2] for i in range(150)]
        model = fit(DataSet(uri="s3://long/d", name="d"), rows)
        graph = store.lineage(model)
        [line] = [line for line in graph.to_text().splitlines() if "fit #" in line]
        assert len(line) < 200, line
        whole = json.dumps(rows)
        assert f"rows={whole[:40]}" in line and f"({len(whole):,} chars)" in line and "lr=0.1" in line
        [summary] = graph.to_dict()["executions"]
        assert summary["properties"]["rows"] == rows

    def test_content_digests_tell_two_files_of_one_name_apart(self, store, tmp_path):
        """A model trained twice on iris.csv, its bytes changed between the
        runs: two DataSet artifacts, by their digests, which neither the
        export nor the tree showed (two identical lines). to_dict() has each
        digest and size under the store's names; the tree and the drawings
        show the digest's start on those two only."""
        import hashlib

        @track
        def fit(d: DataSet, labels: DataSet) -> Model:
            return Model(uri="s3://digests/m", name="m")

        iris = tmp_path / "iris.csv"
        contents = [b"a,b\n1,2\n", b"a,b\n1,2\n3,4\n"]
        for content in contents:
            iris.write_bytes(content)
            model = fit(DataSet(uri=str(iris), name="iris"), DataSet(uri="s3://digests/labels", name="labels"))
        graph = store.lineage(model)
        hexes = [hashlib.sha256(content).hexdigest() for content in contents]
        exported = {a["id"]: a for a in json.loads(graph.to_json())["artifacts"]}
        iris_ids = sorted(i for i, a in exported.items() if a["name"] == "iris")
        assert [(exported[i]["lineage.digest"], exported[i]["lineage.size"]) for i in iris_ids] == [
            ("sha256:" + hexes[0], 8), ("sha256:" + hexes[1], 12)
        ]
        assert [k for a in exported.values() if a["name"] != "iris" for k in a if k.startswith("lineage.")] == []
        tree = graph.to_text()
        assert tree == store.describe_lineage(model)
        for artifact_id, hexdigest in zip(iris_ids, hexes):
            [line] = [line for line in tree.splitlines() if f"'iris' #{artifact_id} " in line]
            assert line.endswith(f"#{artifact_id}  {iris}  sha256:{hexdigest[:12]}"), line
        assert "sha256" not in "".join(line for line in tree.splitlines() if "'iris'" not in line), tree
        for short in (hexes[0][:12], hexes[1][:12]):
            assert f"\\nsha256:{short}\"" in graph.to_dot() and f"<br/>sha256:{short}\"]" in graph.to_mermaid()

    def test_params_named_as_lineages_own_properties_do_not_cover_them(self, store):
        """A parameter __kf_run__ or a **kwargs item "lineage.end_time" is kept
        in lineage.params only (the name is lineage's), and reading that JSON
        back laid them over the execution's own properties: its end time
        became "never" (the OpenLineage eventTime too)."""

        @track
        def train(d: DataSet, __kf_run__: str = "evil", **kw: object) -> Model:
            return Model(uri="s3://reserved/m", name="m")

        model = train(DataSet(uri="s3://reserved/d", name="d"), **{"lineage.end_time": "never", "__kf_workspace__": "x"})
        graph = store.lineage(model)
        [summary] = graph.to_dict()["executions"]
        props = summary["properties"]
        assert props["lineage.end_time"].endswith("Z") and props["lineage.end_time"][:2] == "20"
        assert "__kf_run__" not in props and "__kf_workspace__" not in props
        assert json.loads(props["lineage.params"]) == {"__kf_run__": "evil", "lineage.end_time": "never", "__kf_workspace__": "x"}
        [event] = graph.to_openlineage()
        assert event["eventTime"] == props["lineage.end_time"]
        assert (summary["workspace"], summary["run"]) == ("graph", lineage._config.run_name())

    def test_types_and_names_other_tools_wrote(self, store):
        """Artifacts of a type with no record class here keep their MLMD type
        name, and executions written by plain MLMD their own name and type."""
        mlmd = store.store
        examples = mlmd.put_artifact_type(pb.ArtifactType(name="Examples"))
        model_type = mlmd.put_artifact_type(pb.ArtifactType(name="acme.Model"))
        trainer = mlmd.put_execution_type(pb.ExecutionType(name="Trainer"))
        [source, output] = mlmd.put_artifacts(
            [pb.Artifact(type_id=examples, uri="gs://ex"), pb.Artifact(type_id=model_type, uri="gs://model")]
        )
        mlmd.put_execution(
            pb.Execution(type_id=trainer, name="trainer-run-1", last_known_state=pb.Execution.COMPLETE),
            [
                (pb.Artifact(id=source, type_id=examples, uri="gs://ex"), pb.Event(type=pb.Event.INPUT)),
                (pb.Artifact(id=output, type_id=model_type, uri="gs://model"), pb.Event(type=pb.Event.OUTPUT)),
            ],
            [],
        )
        graph = store.lineage(output)
        assert {a["type"] for a in graph.to_dict()["artifacts"]} == {"Examples", "acme.Model"}
        text = graph.to_text()
        assert text.splitlines()[1].startswith("└─ trainer-run-1 #")
        assert "Examples" in text.splitlines()[2]
        [summary] = graph.to_dict()["executions"]
        assert (summary["name"], summary["type"]) == ("trainer-run-1", "Trainer")
        [event] = graph.to_openlineage()  # no lineage times: MLMD's own, as RFC 3339
        assert event["eventTime"].endswith("Z") and event["eventTime"][:2] == "20"
        assert event["inputs"] == [{"namespace": "gs://ex", "name": "/"}]

    def test_a_struct_another_tool_stored_with_nan_or_infinity_is_read(self, store):
        """json_format refuses NaN and infinities in a Struct: reading another
        tool's artifact holding one raised a bare ValueError (lineage() and
        get_artifact() failed)."""
        import math

        from google.protobuf import struct_pb2

        mlmd = store.store
        stats_type = mlmd.put_artifact_type(pb.ArtifactType(name="Stats"))
        trainer = mlmd.put_execution_type(pb.ExecutionType(name="Trainer"))
        stats = pb.Artifact(type_id=stats_type, uri="gs://stats")
        summary = struct_pb2.Struct()
        summary.update({"loss": float("nan"), "bounds": [float("-inf"), 1, None], "nested": {"ok": True, "max": float("inf")}})
        stats.custom_properties["summary"].struct_value.CopyFrom(summary)
        [stats_id] = mlmd.put_artifacts([stats])
        stats.id = stats_id  # sent whole: an update without a property deletes it
        mlmd.put_execution(
            pb.Execution(type_id=trainer, name="t", last_known_state=pb.Execution.COMPLETE),
            [(stats, pb.Event(type=pb.Event.OUTPUT))],
            [],
        )
        record = store.get_artifact(stats_id)
        value = record.extra["summary"]
        assert math.isnan(value["loss"]) and value["bounds"] == [float("-inf"), 1.0, None]
        assert value["nested"] == {"ok": True, "max": float("inf")}
        graph = store.lineage(stats_id)
        assert [a["uri"] for a in graph.to_dict()["artifacts"]] == ["gs://stats"]
        assert "gs://stats" in graph.to_text()

    def test_openlineage_run_ids_of_executions_without_external_id_differ_across_stores(self, tmp_path):
        """Two stores' plain-MLMD execution 1 are two runs (their id alone made one run id);
        each keeps its run id from export to export."""
        import time

        run_ids = []
        for name in ("a", "b"):
            store = lineage.Store(url=f"sqlite:///{tmp_path / name}.db")
            mlmd = store.store
            kind = mlmd.put_artifact_type(pb.ArtifactType(name="Examples"))
            trainer = mlmd.put_execution_type(pb.ExecutionType(name="Trainer"))
            execution_id, [output], _ = mlmd.put_execution(
                pb.Execution(type_id=trainer, last_known_state=pb.Execution.COMPLETE),
                [(pb.Artifact(type_id=kind, uri="gs://ex"), pb.Event(type=pb.Event.OUTPUT))],
                [],
            )
            [event] = store.lineage(output).to_openlineage()
            assert (execution_id, event["run"]) == (1, store.lineage(output).to_openlineage()[0]["run"])
            run_ids.append(event["run"]["runId"])
            time.sleep(0.005)  # MLMD's creation times are in milliseconds
        assert run_ids[0] != run_ids[1]

    def test_control_characters_do_not_break_the_tree(self, store):
        """A newline in a name, a uri or a param value stays on its line."""

        @track(name="two\nlines")
        def odd(d: DataSet, note: str = "a\nb") -> Model:
            return Model(uri="s3://odd/\nmodel", name="m\n", version="v\n1")

        model = odd(DataSet(uri="s3://odd/in\n", name="d\r"))
        lines = lineage.Store(url=store.url.redacted()).describe_lineage(model).splitlines()
        assert len(lines) == 3
        assert "two\\nlines" in lines[1] and "note=a\\nb" in lines[1]

    def test_a_line_with_a_control_character_keeps_its_other_characters_readable(self, store):
        """A newline or tab in a name or a param value escaped every non-ASCII
        character of it too: a prompt "提示\\n第二行" was shown as
        "\\u63d0\\u793a\\n\\u7b2c...", "modèle" as "mod\\xe8le"."""

        @track(name="entraîner\nmodèle")
        def fit(d: DataSet, prompt: str = "", path: str = "") -> Model:
            return Model(uri="s3://odd/modèle\t🚀", name="m")

        model = fit(DataSet(uri="s3://odd/in", name="d"), prompt="提示\n第二行", path="C:\\new\tdir")
        lines = store.describe_lineage(model).splitlines()
        assert lines[0].endswith("s3://odd/modèle\\t🚀")
        assert lines[1].startswith("└─ entraîner\\nmodèle #")
        assert "prompt=提示\\n第二行" in lines[1]
        assert "path=C:\\\\new\\tdir" in lines[1]  # a backslash of the text is told from an escape

    def test_failed_executions_carry_their_error_in_the_json(self, store):
        """to_dict keeps each execution's properties (the error of a FAILED
        one, its params): they were left out."""
        partial = Model(uri="s3://f/partial", name="partial")
        with pytest.raises(RuntimeError):
            with lineage.execution("flaky") as ex:
                ex.log_param("epochs", 3)
                ex.log_output(partial)
                raise RuntimeError("disk full")
        [summary] = json.loads(store.lineage(partial).to_json())["executions"]
        assert summary["state"] == "FAILED" and summary["name"] == "flaky"
        assert summary["properties"]["lineage.error_message"] == "disk full"
        assert summary["properties"]["epochs"] == 3


    def test_the_tree_says_why_an_execution_failed(self, store):
        """A FAILED step showed in the tree as "prep #1 FAILED" only: its
        error type and message are lineage's properties, which the tree
        leaves out. They follow the state, on one line, cut as a long
        parameter is; a step that did not fail shows none."""
        partial = DataSet(uri="s3://why/partial", name="partial")
        with pytest.raises(RuntimeError), lineage.execution("prep") as ex:
            ex.log_output(partial)
            raise RuntimeError("disk full:\nwrote 10 of 20 shards" + " and more" * 20)
        model = step(partial, 1)
        [fit, prep] = store.describe_lineage(model).splitlines()[1::2]
        assert prep.startswith("      └─ prep #"), prep
        assert " FAILED (RuntimeError: disk full:\\nwrote 10 of 20 shards and more" in prep, prep
        assert prep.endswith(" chars))") and len(prep) < 150, prep
        assert fit.startswith("└─ step #") and "COMPLETE  i=1" in fit and "(" not in fit, fit

class TestInMemory:
    def test_store_means_the_memory_store_tracked_calls_write_to(self):
        """After init(store="memory://"), Store() reads what tracked calls wrote
        (each memory:// connection used to be a database of its own)."""
        lineage.init(store="memory://", strict=True, start_delay=0)
        model = step(DataSet(uri="s3://mem/0", name="d"), 1)
        assert "step #" in lineage.Store().describe_lineage(model)

    def test_each_recording_block_on_memory_is_a_fresh_store(self):
        """recording("memory://") gives an empty store every time (blocks
        shared one database, so a test could pass on another's records)."""
        with recording("memory://") as first:
            step(DataSet(uri="s3://mem/a", name="d"), 1)
            assert len(first.store.get_executions()) == 1
        with recording("memory://") as second:
            assert (second.store.get_artifacts(), second.store.get_executions()) == ([], [])
            step(DataSet(uri="s3://mem/b", name="d"), 2)
            assert len(second.store.get_executions()) == 1


def _odd_graph(store: lineage.Store) -> lineage.graph.LineageGraph:
    """train(d) -> m, with names that are syntax in DOT and Mermaid."""

    @track(name='fit "v2" <#1>')
    def fit(d: DataSet, lr: float = 0.1) -> Model:
        return Model(uri="s3://bucket/models/m.pt", name='m"\\', version="1")

    with pytest.raises(ZeroDivisionError):
        with lineage.execution("broken") as ex:
            ex.log_output(DataSet(uri="file:///tmp/partial.csv", name="partial"))
            raise ZeroDivisionError("partial")
    model = fit(DataSet(uri="s3://bucket/data/train.csv", name="d<a>#1\nx"))
    return store.lineage(model)


class TestExports:
    def test_dot_is_valid_and_draws_the_flow(self, store):
        """to_dot is DOT that parses (every label one quoted string, quotes and
        backslashes escaped) with data flowing input -> execution -> output."""
        import re

        graph = _odd_graph(store)
        [data_id] = [a for a in graph.artifacts if a != graph.root]
        [fit_id] = graph.executions
        dot = graph.to_dot()
        body = dot.splitlines()
        assert body[0] == "digraph lineage {" and body[-1] == "}"
        nodes = [line for line in body if re.match(r"  [ae]\d+ \[", line)]
        assert len(nodes) == 3
        for line in nodes:  # one well-formed quoted label per node line
            match = re.search(r'label="((?:[^"\\]|\\.)*)"', line)
            assert match is not None, line
            assert line.endswith("];")
        assert r'Model m\"1\\' not in dot and r'Model m\"\\ v1' in dot
        assert [line.strip() for line in body if "->" in line] == [f"a{data_id} -> e{fit_id};", f"e{fit_id} -> a{graph.root};"]

    def test_mermaid_labels_carry_no_syntax(self, store):
        """to_mermaid escapes quotes, #, < and > as entity codes; newlines are <br/>."""
        graph = _odd_graph(store)
        [data_id] = [a for a in graph.artifacts if a != graph.root]
        [fit_id] = graph.executions
        mermaid = graph.to_mermaid()
        lines = mermaid.splitlines()
        assert lines[0] == "flowchart LR"
        for line in lines[1:]:
            if "[" in line:
                inner = line.split('"', 1)[1].rsplit('"', 1)[0]
                assert '"' not in inner and "<a>" not in inner and "#1" not in inner
        assert "d#lt;a#gt;#35;1<br/>x" in mermaid
        assert {line.strip() for line in lines if "-->" in line} == {f"a{data_id} --> e{fit_id}", f"e{fit_id} --> a{graph.root}"}

    def test_openlineage_run_events(self, store):
        """One RunEvent per execution: state, job in the workspace namespace,
        a stable UUID run id, datasets named from their URIs."""
        import uuid

        graph = _odd_graph(store)
        [event] = graph.to_openlineage()
        assert event["eventType"] == "COMPLETE"
        assert event["job"] == {"namespace": "graph", "name": 'fit "v2" <#1>'}
        assert uuid.UUID(event["run"]["runId"]).version == 5
        assert event["run"] == store.lineage(graph.root).to_openlineage()[0]["run"]  # stable
        assert event["inputs"] == [{"namespace": "s3://bucket", "name": "data/train.csv"}]
        versioned = DataSet(uri="s3://bucket/k?versionId=3#part", name="v")
        graph.artifacts[versioned_id := 10**6] = versioned
        assert graph._dataset(versioned_id) == {"namespace": "s3://bucket", "name": "k?versionId=3#part"}
        assert event["outputs"] == [{"namespace": "s3://bucket", "name": "models/m.pt"}]
        assert event["schemaURL"].endswith("#/$defs/RunEvent") and event["eventTime"].endswith("Z")
        json.dumps(event)
        failed = [e for e in store.store.get_executions() if e.properties["name"].string_value == "broken"]
        [output] = store.store.get_events_by_execution_ids([failed[0].id])
        [broken] = store.lineage(output.artifact_id).to_openlineage()
        assert broken["eventType"] == "FAIL" and broken["outputs"] == [{"namespace": "file", "name": "/tmp/partial.csv"}]

    def test_repr_is_short_and_the_notebook_bundle_holds_the_tree(self, store):
        """repr() names the graph (it dumped every field); the mime bundle
        Jupyter shows has the tree as text and as HTML."""
        graph = _odd_graph(store)
        assert repr(graph) == f"<LineageGraph of artifact #{graph.root}: 2 artifacts, 1 executions>"
        bundle = graph._repr_mimebundle_()
        assert bundle["text/plain"] == graph.to_text()
        assert bundle["text/html"].startswith("<pre>") and "d&lt;a&gt;#1\\nx" in bundle["text/html"]


class TestExportDetails:
    """Labels and names the exports make, on a graph built by hand."""

    @staticmethod
    def graph(**artifact: object) -> "lineage.graph.LineageGraph":
        from lineage.graph import LineageGraph

        record = DataSet(**{"uri": "s3://b/k", "name": "d", **artifact})  # type: ignore[arg-type]
        execution = {"id": 2, "name": "step", "state": "COMPLETE", "external_id": "x", "properties": {}, "workspace": "w"}
        return LineageGraph(root=1, artifacts={1: record}, executions={2: execution}, edges=[(1, 2, "INPUT")])

    def test_openlineage_namespaces_carry_no_credentials(self):
        """https://user:pw@host/x gave the namespace "https://user:pw@host":
        a password in events sent to other systems."""
        [event] = self.graph(uri="https://user:pw@data.example.com:8443/x?y=1").to_openlineage()
        assert event["inputs"] == [{"namespace": "https://data.example.com:8443", "name": "x?y=1"}]

    def test_versions_are_not_doubled_and_a_backquote_stays_text_in_mermaid(self):
        """version "v1" was labelled "vv1"; a name starting with a backquote
        opened a Markdown string in Mermaid."""
        assert "d v1" in self.graph(version="v1").to_dot() and "vv1" not in self.graph(version="v1").to_dot()
        assert "d v3" in self.graph(version="3").to_mermaid()
        mermaid = self.graph(name="`code`").to_mermaid()
        assert "`" not in mermaid and "#96;code#96;" in mermaid

    def test_an_entity_in_a_name_is_text_in_mermaid(self):
        """Mermaid draws labels as HTML: "R&amp;D" was drawn "R&D" (and "&lt;b&gt;" as "<b>")."""
        mermaid = self.graph(name="R&amp;D &lt;b&gt;", uri="s3://b/a&b").to_mermaid()
        assert "&" not in mermaid
        assert "R#38;amp;D #38;lt;b#38;gt;<br/>s3://b/a#38;b" in mermaid

    def test_dot_labels_graphviz_reads_whatever_the_names(self):
        """A NUL in a name ended the DOT (a syntax error); other control
        characters made an SVG that is not XML; a label past 16,384 bytes
        was one quoted string longer than Graphviz reads. Now: control
        characters are shown as escapes, and long labels are pieces joined
        by DOT's "+"."""
        import re
        import shutil
        import subprocess

        piece = r'"((?:[^"\\]|\\.)*)"'
        for name in ("a\x00b\x1b\x0c", "é🚀&\\\"" * 4000, "x" * 20000):
            dot = self.graph(name=name).to_dot()
            label = re.search(r"a1 \[.*label=(" + piece + r"(?: \+ " + piece + r")*)", dot)
            assert label is not None and not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", dot)
            pieces = re.findall(piece, label.group(1))
            assert all(len(p.encode()) < 16384 for p in pieces)
            shown = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), "".join(pieces))
            assert shown.replace("&amp;", "&") == "DataSet " + name.replace("\x00", "\\x00").replace("\x1b", "\\x1b").replace(
                "\x0c", "\\x0c"
            ) + "\ns3://b/k"
            if shutil.which("dot"):  # Graphviz's own parser and SVG, where it is installed
                import xml.dom.minidom

                drawn = subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True, check=True, timeout=60)
                xml.dom.minidom.parseString(drawn.stdout)

    def test_walking_a_long_chain_with_producers_and_inputs_takes_linear_time(self):
        """producers() and inputs() built the index of every edge on each call:
        a walk up a chain of 3,000 steps took over a minute (4,000: two).
        The index follows the edges: one added is seen."""
        import time

        from lineage.graph import LineageGraph

        steps = 3000
        artifacts = {i: DataSet(uri=f"s3://c/{i}", name=f"c{i}") for i in range(1, steps + 2)}
        executions = {i: {"id": i, "name": "step", "state": "COMPLETE", "properties": {}} for i in range(1, steps + 1)}
        edges = [edge for i in range(1, steps + 1) for edge in ((i, i, "INPUT"), (i + 1, i, "OUTPUT"))]
        graph = LineageGraph(root=steps + 1, artifacts=artifacts, executions=executions, edges=edges)
        started, node, walked = time.monotonic(), graph.root, 0
        while graph.producers(node):
            node, walked = graph.inputs(graph.producers(node)[0])[0], walked + 1
        assert (node, walked) == (1, steps)
        assert time.monotonic() - started < 10
        graph.producers(1).append(99)  # a caller's list, not the index
        assert graph.producers(1) == []
        graph.edges.append((1, 7, "OUTPUT"))
        assert graph.producers(1) == [7]


class TestGraphOfOddStores:
    def test_a_record_logged_to_another_store_is_not_shown_as_this_stores_artifact_of_its_id(self, store, tmp_path):
        """Store B's artifact #1 is not the lineage of a record logged to store A with id 1."""
        other = f"sqlite:///{tmp_path / 'b.db'}"
        with lineage.execution("make_cats", store=other) as ex:
            ex.log_output(Model(uri="s3://b/cats.pt", name="cats"))
        with lineage.execution("train") as ex:
            dog = ex.log_output(Model(uri="s3://b/dogs.pt", name="dogs"))
        assert dog.id == 1
        with pytest.raises(lineage.UnknownArtifactError, match=r"is not artifact #1 of store"):
            lineage.Store(url=other).lineage(dog)
        dog.uri = "s3://b/dogs-v2.pt"  # a new artifact now, not the one its old id names
        with pytest.raises(lineage.UnknownArtifactError, match=r"changed since it was logged"):
            store.describe_lineage(dog)
        assert "dogs" in store.describe_lineage(1)  # by id: as asked

    def test_a_record_the_writer_matched_to_a_stored_artifact_is_that_artifact(self, store, tmp_path):
        """version "" is no version to the writer's match by uri (a local file
        gone since): the record got the stored artifact's id, and lineage()
        refused it as another artifact."""
        path = tmp_path / "data.csv"
        path.write_text("a,b\n")
        made = DataSet(uri=path.as_uri(), name="data")
        with lineage.execution("make") as ex:
            ex.log_output(made)
        path.unlink()
        used = DataSet(uri=path.as_uri(), name="data", version="")
        with lineage.execution("use") as ex:
            ex.log_input(used)
        assert used.id == made.id
        assert store.lineage(used).root == made.id
        from lineage.testing import assert_lineage

        assert_lineage(used, produced_by="make", store=store)

    def test_a_record_read_before_a_class_for_its_type_was_defined_is_still_its_artifact(self, store):
        import attrs

        mlmd = store.store
        type_id = mlmd.put_artifact_type(pb.ArtifactType(name="test.graph/ReadEarly", properties={"span": pb.INT}))
        [artifact_id] = mlmd.put_artifacts([pb.Artifact(type_id=type_id, uri="s3://early")])
        early = store.get_artifact(artifact_id)
        assert type(early).ARTIFACT_TYPE_NAME == "test.graph/ReadEarly"  # a class made from the stored type

        @attrs.define
        class ReadEarly(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "test.graph/ReadEarly"
            span: int = 0

        assert store.lineage(early).root == artifact_id
        with lineage.execution("e") as ex:
            other = ex.log_output(ReadEarly(uri="s3://other", name="o"))
        object.__setattr__(other, "id", artifact_id)  # another artifact's id, by hand
        with pytest.raises(lineage.UnknownArtifactError, match="is not artifact"):
            store.lineage(other)

    def test_the_same_database_under_another_spelling_of_its_url_is_the_same_store(self, tmp_path):
        from tests import backends

        url = backends.make_url("postgresql", tmp_path)
        with lineage.execution("make", store=url) as ex:
            made = ex.log_output(Model(uri="s3://b/m", name="m"))
        spelt = lineage.Store(url=url.replace("@127.0.0.1:", "@localhost:"))
        assert spelt.url.redacted() != lineage.Store(url=url).url.redacted()
        assert spelt.lineage(made).root == made.id

    def test_properties_other_tools_declared_do_not_replace_the_executions_own_fields(self, store):
        """TFX's declared "state" property (and an "id") are properties: the
        graph keeps MLMD's state and id, and its edges."""
        mlmd = store.store
        examples = mlmd.put_artifact_type(pb.ArtifactType(name="Examples"))
        trainer = pb.ExecutionType(name="tfx.Trainer")
        trainer.properties["state"] = pb.STRING
        trainer.properties["id"] = pb.INT
        trainer_id = mlmd.put_execution_type(trainer)
        [source, output] = mlmd.put_artifacts(
            [pb.Artifact(type_id=examples, uri="gs://ex"), pb.Artifact(type_id=examples, uri="gs://model")]
        )
        run = pb.Execution(type_id=trainer_id, last_known_state=pb.Execution.COMPLETE)
        run.properties["state"].string_value = "complete"
        run.properties["id"].int_value = 999
        [execution_id] = mlmd.put_executions([run])
        mlmd.put_events([
            pb.Event(artifact_id=source, execution_id=execution_id, type=pb.Event.INPUT),
            pb.Event(artifact_id=output, execution_id=execution_id, type=pb.Event.OUTPUT),
        ])
        graph = store.lineage(output)
        assert list(graph.executions) == [execution_id]
        summary = graph.executions[execution_id]
        assert (summary["id"], summary["state"]) == (execution_id, "COMPLETE")
        assert summary["properties"]["state"] == "complete" and summary["properties"]["id"] == 999
        assert f"a{source} -> e{execution_id};" in graph.to_dot()
        [event] = graph.to_openlineage()
        assert event["eventType"] == "COMPLETE" and event["inputs"] == [{"namespace": "gs://ex", "name": "/"}]

    def test_an_artifact_a_running_execution_of_another_tool_is_writing_has_that_producer(self, store):
        """TFX registers the outputs of a running execution as PENDING_OUTPUT
        events: the walk followed OUTPUT ones only, and the artifact showed
        no producer (the graph's own edges count PENDING_OUTPUT as an output)."""
        mlmd = store.store
        examples = mlmd.put_artifact_type(pb.ArtifactType(name="Examples"))
        trainer = mlmd.put_execution_type(pb.ExecutionType(name="tfx.Trainer"))
        [source, output] = mlmd.put_artifacts(
            [pb.Artifact(type_id=examples, uri="gs://ex"), pb.Artifact(type_id=examples, uri="gs://model")]
        )
        [execution_id] = mlmd.put_executions([pb.Execution(type_id=trainer, last_known_state=pb.Execution.RUNNING)])
        mlmd.put_events([
            pb.Event(artifact_id=source, execution_id=execution_id, type=pb.Event.INPUT),
            pb.Event(artifact_id=output, execution_id=execution_id, type=pb.Event.PENDING_OUTPUT),
        ])
        graph = store.lineage(output)
        assert (list(graph.executions), graph.producers(output), graph.inputs(execution_id)) == (
            [execution_id], [execution_id], [source]
        )
        assert "tfx.Trainer #" in graph.to_text() and "RUNNING" in graph.to_text()
        [event] = graph.to_openlineage()
        assert event["eventType"] == "RUNNING" and event["outputs"] == [{"namespace": "gs://model", "name": "/"}]

    def test_openlineage_export_takes_any_uri(self, store):
        """A "[" in a uri's host made urlsplit raise (the whole export failed);
        a newline in a uri was dropped (two uris, one dataset)."""
        with lineage.execution("e") as ex:
            ex.log_input(DataSet(uri="smb://host[1]/share/x", name="a"))
            ex.log_input(DataSet(uri="http://[fe80::1/x", name="b"))
            ex.log_input(DataSet(uri="s3://b/a\nb", name="c"))
            model = ex.log_output(Model(uri="s3://b/m", name="m"))
        [event] = store.lineage(model).to_openlineage()
        assert {(d["namespace"], d["name"]) for d in event["inputs"]} == {
            ("smb://host[1]", "share/x"), ("http://[fe80::1", "x"), ("s3://b", "a\nb")
        }

    def test_an_entity_in_a_name_is_text_in_dot(self, store):
        with lineage.execution("e") as ex:
            model = ex.log_output(Model(uri="s3://b/m", name="R&amp;D"))
        assert 'label="Model R&amp;amp;D' in store.lineage(model).to_dot()


class TestIndex:
    """producers(), inputs() and the exports look nodes up in an index of the edges."""

    def test_the_index_is_a_cache_not_part_of_the_graph(self, store):
        """The index was an attrs field: attrs.asdict(graph) showed it, a
        pickled graph carried it (a second copy of the edges), and a graph
        pickled before and after a walk differed. It is now kept out of
        both and built again, on demand, after unpickling."""
        import pickle

        import attrs

        x = DataSet(uri="s3://index/0", name="c0")
        for i in range(1, 30):
            x = step(x, i)
        graph = store.lineage(x)
        before = pickle.dumps(graph)
        walked = graph.producers(x.id)
        assert pickle.dumps(graph) == before
        assert "_index" not in attrs.asdict(graph)
        assert [f.name for f in attrs.fields(type(graph))] == [
            "root", "artifacts", "executions", "edges", "artifact_types", "truncated", "digests"
        ]
        again = pickle.loads(before)
        assert again == graph
        assert (again.producers(x.id), again.to_text()) == (walked, graph.to_text())

    def test_a_graph_pickled_before_digests_loads_whole(self, store):
        """A graph pickled by a lineage older than the digests field (a cached
        graph, a notebook's) loaded without it: print(graph), to_dict(),
        to_dot() and == raised AttributeError 'digests'. A field it does not
        carry takes its default, as a graph built without it does."""
        import copyreg
        import io
        import pickle

        with lineage.execution("old") as ex:
            model = ex.log_output(Model(uri="s3://old/m", name="m"))
        graph = store.lineage(model)
        state = graph.__getstate__()
        del state["digests"]

        class Older(pickle.Pickler):  # pickles the graph as the older lineage did: its fields but digests
            def reducer_override(self, obj):
                return (copyreg.__newobj__, (type(graph),), state) if obj is graph else NotImplemented

        older = io.BytesIO()
        Older(older).dump(graph)
        again = pickle.loads(older.getvalue())
        assert type(again) is type(graph) and again.digests == {}
        assert (again == graph, again.to_text(), again.to_dict(), again.to_dot()) == (
            True, graph.to_text(), graph.to_dict(), graph.to_dot()
        )

    def test_a_walk_up_a_long_chain_does_not_compare_the_edges_at_each_step(self, store):
        """producers() and inputs() compared the whole edge list with the
        one their index was built from on every call, to see whether it was
        current: a walk up 8,000 steps compared 32,000 edges 16,000 times.
        Now each step is a lookup, with the same answers, and a change to
        the edges (anywhere in the list, or a new list) is still seen."""

        class Compared(list):
            count = 0

            def __eq__(self, other):
                Compared.count += 1
                return list.__eq__(self, other)

            __hash__ = None  # type: ignore[assignment]

        steps = 300
        x = DataSet(uri="s3://walk/0", name="c0")
        for i in range(1, steps + 1):
            x = step(x, i)
        graph = store.lineage(x)
        graph.edges = Compared(graph.edges)
        node, walked, path = graph.root, 0, []
        while graph.producers(node):
            [execution_id] = graph.producers(node)
            [node] = graph.inputs(execution_id)
            walked, path = walked + 1, path + [execution_id]
        assert (walked, Compared.count) == (steps, 0)
        by_scan = [e for a, e, kind in graph.edges if kind == "OUTPUT" and a == x.id]
        assert (graph.artifacts[node].uri, [graph.producers(x.id)], path[:1]) == ("s3://walk/0", [by_scan], by_scan)
        first_input = next(i for i, (_, _, kind) in enumerate(graph.edges) if kind == "INPUT")
        artifact_id, execution_id, _ = graph.edges[first_input]
        graph.edges[first_input] = (artifact_id, execution_id, "OUTPUT")  # in the middle of the list
        assert execution_id in graph.producers(artifact_id) and graph.inputs(execution_id) == []
        del graph.edges[first_input]
        assert execution_id not in graph.producers(artifact_id)
        graph.edges += [(artifact_id, 99, "OUTPUT")]
        assert 99 in graph.producers(artifact_id)
        graph.edges = []
        assert graph.producers(x.id) == [] and graph.to_text().count("\n") == 0

    def test_a_lookup_by_something_other_than_an_id_is_an_error(self, store):
        """producers(model), inputs("3") or type_name(None) answered [] or
        "lineage/artifact", as for a source: a user who passed the record
        store.lineage() takes read "nothing produced it". They now raise,
        naming the method's argument and the value; an id the graph does
        not hold still has no producers, and type_name() of it says so."""
        model = step(DataSet(uri="s3://ask/0", name="d"), 1)
        graph = store.lineage(model)
        [execution_id] = graph.producers(model.id)
        assert graph.type_name(model.id) == "kubeflow.org/alpha/data_set"
        for method, argument in (("producers", "artifact_id"), ("inputs", "execution_id"), ("type_name", "artifact_id")):
            for bad in (model, str(model.id), None, True, float(model.id)):
                with pytest.raises(lineage.InvalidTypeError, match=rf"^{method}\({argument}\) must be an id \(an int\), got "):
                    getattr(graph, method)(bad)
        with pytest.raises(lineage.InvalidTypeError, match=rf"\(its \.id is {model.id}\)"):
            graph.producers(model)
        assert (graph.producers(424242), graph.inputs(424242)) == ([], [])

        class Int64:  # an id as numpy or pandas gives it (np.int64 from a DataFrame of ids)
            def __init__(self, value):
                self.value = value

            def __index__(self):
                return self.value

        assert graph.producers(Int64(model.id)) == [execution_id]
        assert graph.inputs(Int64(execution_id)) == graph.inputs(execution_id)
        assert graph.type_name(Int64(model.id)) == "kubeflow.org/alpha/data_set"
        with pytest.raises(lineage.InvalidValueError, match=r"type_name\(artifact_id\): the graph holds no artifact #424242"):
            graph.type_name(424242)
