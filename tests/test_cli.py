"""The lineage command: --version, --help, ls, status."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Optional

import pytest

import lineage
from lineage import DataSet, Execution, Metrics, Model, Workspace
from lineage.cli import main


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lineage.cli", *args], capture_output=True, text=True, timeout=120)


class TestCommand:
    def test_version(self):
        """lineage --version prints the package version."""
        done = cli("--version")
        assert (done.returncode, done.stdout.strip()) == (0, f"lineage {lineage.__version__}")

    def test_help_lists_the_commands(self):
        """lineage --help names every sub-command."""
        done = cli("--help")
        assert done.returncode == 0
        for name in ("ls", "serve", "sync", "status"):
            assert f"    {name} " in done.stdout

    def test_python_dash_m_lineage_is_the_command(self):
        """As `python -m pip`: where the console script is not on PATH."""
        done = subprocess.run([sys.executable, "-m", "lineage", "--version"], capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout.strip()) == (0, f"lineage {lineage.__version__}")

    def test_console_script_is_installed(self):
        """The `lineage` console script runs."""
        import shutil

        path = shutil.which("lineage") or str((__import__("pathlib").Path(sys.executable).parent / "lineage"))
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
        assert done.stdout.startswith("lineage ")

    def test_ls(self, sqlite_url, capsys):
        """lineage ls lists a workspace's artifacts by type."""
        store = lineage.Store(url=sqlite_url)
        ex = Execution(name="t", workspace=Workspace(store=store, name="w"))
        ex.log_input(DataSet(uri="s3://d", name="d", version="1"))
        ex.log_output(Model(uri="file:///m", name="m"))
        assert main(["ls", "--store", sqlite_url, "-w", "w"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert [line.split()[1:3] for line in out] == [["data_set", "d"], ["model", "m"]]
        assert main(["ls", "--store", sqlite_url, "-w", "nope"]) == 1

    def test_ls_of_a_missing_workspace_names_those_there_are(self, sqlite_url, capsys, monkeypatch):
        """`lineage ls` looks in 'default'; a script's init(workspace="mnist")
        recorded elsewhere, and the error named only the workspace not found."""
        monkeypatch.delenv("LINEAGE_WORKSPACE", raising=False)
        store = lineage.Store(url=sqlite_url)
        for name in ("mnist", "cifar"):
            Execution(name="t", workspace=Workspace(store=store, name=name)).log_input(DataSet(uri="s3://d", name="d"))
        assert main(["ls", "--store", sqlite_url]) == 1
        err = capsys.readouterr().err
        assert err.startswith("lineage ls: no workspace 'default' in ")
        assert "(its workspaces: 'cifar', 'mnist'; choose one with -w NAME)" in err

    def test_ls_takes_record_class_names_and_refuses_unknown_types(self, sqlite_url, capsys):
        """-t Model (or model) lists Models; an unknown type says so and exits 1
        (it printed nothing and exited 0)."""
        store = lineage.Store(url=sqlite_url)
        ex = Execution(name="t", workspace=Workspace(store=store, name="w"))
        ex.log_input(DataSet(uri="s3://d", name="d"))
        ex.log_output(Model(uri="file:///m", name="m"))
        for given in ("Model", "model", Model.ARTIFACT_TYPE_NAME):
            assert main(["ls", "--store", sqlite_url, "-w", "w", "-t", given]) == 0
            assert [line.split()[1:3] for line in capsys.readouterr().out.splitlines()] == [["model", "m"]]
        # In a process of its own, as a user runs it: this one holds the
        # record classes other tests defined.
        done = cli("ls", "--store", sqlite_url, "-w", "w", "-t", "Modle")
        assert done.returncode == 1
        assert "no artifact type 'Modle'" in done.stderr and "(record classes: Artifact, DataSet, Metrics, Model;" in done.stderr

    def test_ls_of_a_record_class_with_no_artifacts_yet_lists_nothing(self, sqlite_url, capsys):
        """-t Metrics on a store that holds no Metrics yet lists nothing, as
        plain ls does: it said "no artifact type 'Metrics'" and exited 1
        while naming Metrics among the classes it takes. An empty -t is
        refused (it listed everything)."""
        store = lineage.Store(url=sqlite_url)
        Execution(name="t", workspace=Workspace(store=store, name="w")).log_input(DataSet(uri="s3://d", name="d"))
        assert main(["ls", "--store", sqlite_url, "-w", "w", "-t", "Metrics"]) == 0
        assert capsys.readouterr().out == ""
        assert main(["ls", "--store", sqlite_url, "-w", "w", "-t", ""]) == 1
        assert capsys.readouterr().err.startswith("lineage ls: no artifact type ''")  # named as the other errors

    def test_ls_of_an_empty_workspace_says_where_it_looked(self, tmp_path, capsys):
        """A workspace with no artifact (made by Workspace(), or -t of a type
        it holds none of) printed nothing and exited 0: no word that it had
        looked, nor where. It says so on stderr, stdout stays empty, and
        --json is still just []."""
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        Workspace(store=lineage.Store(url=url), name="w")
        assert main(["ls", "--store", url, "-w", "w"]) == 0
        out, err = capsys.readouterr()
        assert out == "" and err == f"lineage ls: no artifact in workspace 'w' of {url}\n"
        assert main(["ls", "--store", url, "-w", "w", "-t", "Model"]) == 0
        out, err = capsys.readouterr()
        assert out == "" and err == f"lineage ls: no artifact of type 'Model' in workspace 'w' of {url}\n"
        assert main(["ls", "--store", url, "-w", "w", "--json"]) == 0
        assert capsys.readouterr() == ("[]\n", "")

    def test_ls_shows_one_artifact_per_line(self, sqlite_url, capsys):
        """A newline in a name, version or uri is shown escaped: it split an
        artifact over two lines, and the second could pass for another row.
        A version given as v1.2 is not shown as vv1.2, nor one given as
        release-1 (the quickstart's registered model) as vrelease-1."""
        store = lineage.Store(url=sqlite_url)
        ex = Execution(name="t", workspace=Workspace(store=store, name="w"))
        ex.log_input(DataSet(uri="s3://d/a\nb", name="two\n   7  model  fake", version="v1.2"))
        ex.log_output(Model(uri="file:///m", name="m", version="3"))
        ex.log_output(Model(uri="file:///r", name="r", version="release-1"))
        assert main(["ls", "--store", sqlite_url, "-w", "w"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 3
        assert "two\\n   7  model  fake v1.2  s3://d/a\\nb" in out[0] and "vv1.2" not in out[0]
        assert out[1].split()[2:4] == ["m", "v3"]
        assert out[2].split()[2:4] == ["r", "release-1"]

    def test_ls_escapes_only_the_control_characters_of_a_name(self, sqlite_url, capsys):
        """A tab in a name escaped every other non-ASCII letter of it too:
        "données\t2" was listed as "donn\xe9es\t2"."""
        store = lineage.Store(url=sqlite_url)
        Execution(name="t", workspace=Workspace(store=store, name="w")).log_input(DataSet(uri="s3://d/é", name="données\t2"))
        assert main(["ls", "--store", sqlite_url, "-w", "w"]) == 0
        assert "données\\t2  s3://d/é" in capsys.readouterr().out

    def test_ls_into_a_pipe_closed_early_ends_quietly(self, sqlite_url):
        """`lineage ls | head -1` printed a BrokenPipeError traceback."""
        store = lineage.Store(url=sqlite_url)
        ex = Execution(name="t", workspace=Workspace(store=store, name="w"))
        for i in range(3000):  # more than a pipe holds
            ex.log_input(DataSet(uri=f"s3://bucket/a-rather-long-key-to-fill-the-pipe/{i}", name=f"d{i}"))
        process = subprocess.Popen(
            [sys.executable, "-m", "lineage.cli", "ls", "--store", sqlite_url, "-w", "w"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert process.stdout is not None and process.stdout.readline().split()[2] == "d0"
        process.stdout.close()  # the reader goes, as head does
        _, err = process.communicate(timeout=120)
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
        assert process.returncode == 1

    def test_a_lineage_home_that_is_a_file_is_named(self, tmp_path):
        """LINEAGE_HOME naming a file made status and sync end in a traceback."""
        import os

        afile = tmp_path / "afile"
        afile.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
        env["LINEAGE_HOME"] = str(afile)
        for command in ("status", "sync", "serve", "ls"):
            done = subprocess.run(
                [sys.executable, "-m", "lineage.cli", command], capture_output=True, text=True, timeout=120, env=env
            )
            assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
            assert f"LINEAGE_HOME={str(afile)!r} is not a folder" in done.stderr

    def test_a_spool_folder_that_cannot_be_read_is_named(self, tmp_path):
        """A spool folder that cannot be listed (another user's: it is made mode
        700; here a file named spool) made status and sync end in a traceback."""
        (tmp_path / "spool").write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
        for argv in (["status", "--store", "memory://"], ["sync"]):
            done = subprocess.run(
                [sys.executable, "-m", "lineage.cli", *argv, "--home", str(tmp_path)],
                capture_output=True, text=True, timeout=120, env=env,
            )
            assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
            said = f"lineage {argv[0]}: cannot read the spool folder {str(tmp_path / 'spool')!r}: Not a directory"
            assert done.stderr.strip() == said

    @pytest.mark.parametrize("command", ["ls", "status"])
    def test_ctrl_c_on_a_store_that_does_not_answer_is_no_traceback(self, command):
        """Ctrl-C while a server takes the connection and never answers: a
        traceback into lineage's connection code, as if it had crashed."""
        import signal
        import time

        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(5)  # takes connections, never answers
            url = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/x"
            argv = [sys.executable, "-m", "lineage.cli", command, "--store", url]
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(2)  # started, and waiting for the server
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=120)
        assert "Traceback" not in err, err
        assert (process.returncode, err.strip()) == (130, f"lineage {command}: interrupted")

    def test_ls_takes_a_custom_class_name_for_its_type(self, sqlite_url, capsys):
        """-t Checkpoint finds acme.org/checkpoint: ls cannot import the user's class,
        so the type name's last part is matched; an unknown one lists the store's types."""
        import attrs

        @attrs.define
        class Checkpoint(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/checkpoint"
            step: int = 0

        store = lineage.Store(url=sqlite_url)
        Execution(name="t", workspace=Workspace(store=store, name="w")).log_output(Checkpoint(uri="s3://c", name="c", step=3))

        assert main(["ls", "--store", sqlite_url, "-w", "w", "-t", "Checkpoint"]) == 0
        assert [line.split()[1:3] for line in capsys.readouterr().out.splitlines()] == [["checkpoint", "c"]]
        assert main(["ls", "--store", sqlite_url, "-w", "w", "-t", "Chekpoint"]) == 1
        assert "its artifact types: acme.org/checkpoint" in capsys.readouterr().err
        # the same through python -m lineage.cli (its helpers were defined after the __main__ block)
        done = cli("ls", "--store", sqlite_url, "-w", "w", "-t", "Chekpoint")
        assert (done.returncode, "its artifact types: acme.org/checkpoint" in done.stderr) == (1, True), done.stderr

    def test_ls_of_a_class_name_two_types_end_with_names_both(self, sqlite_url, capsys):
        """-t Checkpoint with acme.org/checkpoint and other.org/checkpoint stored
        said "no artifact type 'Checkpoint'", listing the two among the store's
        types: it names the two it matched and how to choose one."""
        import attrs

        @attrs.define
        class Checkpoint(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/test-ambiguous/checkpoint"

        @attrs.define
        class OtherCheckpoint(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "other.org/test-ambiguous/checkpoint"

        ex = Execution(name="t", workspace=Workspace(store=lineage.Store(url=sqlite_url), name="w"))
        ex.log_output(Checkpoint(uri="s3://a", name="a"))
        ex.log_output(OtherCheckpoint(uri="s3://b", name="b"))
        # In a process of its own, as a user runs it: this one knows the classes
        done = cli("ls", "--store", sqlite_url, "-w", "w", "-t", "checkpoint")
        err = done.stderr
        assert done.returncode == 1 and "no artifact type" not in err and (
            "'checkpoint' names 2 artifact types in " in err
            and err.rstrip().endswith(
                ": acme.org/test-ambiguous/checkpoint, other.org/test-ambiguous/checkpoint; give the one to list in full with -t"
            )
        ), err
        assert main(["ls", "--store", sqlite_url, "-w", "w", "-t", "other.org/test-ambiguous/checkpoint"]) == 0
        assert [line.split()[1:3] for line in capsys.readouterr().out.splitlines()] == [["checkpoint", "b"]]

    def test_ls_lists_every_type_by_default(self, sqlite_url, capsys):
        """Plain ls listed DataSet, Model and Metrics only: a workspace of a
        custom class's records (or another tool's types) printed nothing and
        exited 0, as if it were empty."""
        import attrs

        @attrs.define
        class Shard(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/shard"
            rows: int = 0

        store = lineage.Store(url=sqlite_url)
        ex = Execution(name="t", workspace=Workspace(store=store, name="w"))
        ex.log_input(DataSet(uri="s3://d", name="d"))
        ex.log_output(Shard(uri="s3://s", name="s", rows=3))
        ex.log_output(Model(uri="file:///m", name="m"))
        assert main(["ls", "--store", sqlite_url, "-w", "w"]) == 0
        assert [line.split()[1:3] for line in capsys.readouterr().out.splitlines()] == [
            ["data_set", "d"], ["shard", "s"], ["model", "m"]
        ]
        assert main(["ls", "--store", sqlite_url, "-w", "w", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [(row["type"], row["name"]) for row in rows] == [
            (DataSet.ARTIFACT_TYPE_NAME, "d"), ("acme.org/shard", "s"), (Model.ARTIFACT_TYPE_NAME, "m")
        ]
        assert rows[1]["rows"] == 3

    def test_ls_keeps_a_custom_records_own_type_and_run_fields(self, sqlite_url, capsys):
        """A custom class's field named type was replaced by the type's name in
        --json, and one named run by the run's name when None: the record's
        fields keep their names and values, the type and run are then under
        lineage.type and lineage.run, and the table's type column is the type's."""
        import attrs

        @attrs.define
        class Snapshot(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "acme.org/snapshot"
            type: Optional[str] = attrs.field(default=None, kw_only=True)
            run: Optional[str] = attrs.field(default=None, kw_only=True)

        store = lineage.Store(url=sqlite_url)
        ws = Workspace(store=store, name="w")
        ex = Execution(name="t", workspace=ws, run=lineage.Run(workspace=ws, name="nightly"))
        ex.log_output(Snapshot(uri="s3://full", name="s", type="full"))
        ex.log_output(Model(uri="file:///m", name="m"))
        for kind in ([], ["-t", "Snapshot"]):
            assert main(["ls", "--store", sqlite_url, "-w", "w", "--json", *kind]) == 0
            rows = json.loads(capsys.readouterr().out)
            assert [(row["type"], row.get("lineage.type"), row["run"], row.get("lineage.run")) for row in rows] == [
                ("full", "acme.org/snapshot", None, "nightly"), (Model.ARTIFACT_TYPE_NAME, None, "nightly", None)
            ][: len(rows)]
            assert main(["ls", "--store", sqlite_url, "-w", "w", *kind]) == 0
            assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == ["snapshot", "model"][: len(rows)]

    def test_ls_names_another_tools_artifact_by_its_mlmd_name(self, sqlite_url, capsys):
        """An artifact of another tool's type (TFX's Examples) that has MLMD's
        own name and no name property was listed as "None"."""
        from ml_metadata.proto import metadata_store_pb2 as pb

        store = lineage.Store(url=sqlite_url)
        workspace = Workspace(store=store, name="w")
        type_id = store.store.put_artifact_type(pb.ArtifactType(name="tfx.Examples"))
        [named, unnamed] = store.store.put_artifacts(
            [pb.Artifact(type_id=type_id, uri="/tfx/a", name="examples:1"), pb.Artifact(type_id=type_id, uri="/tfx/b")]
        )
        store.store.put_attributions_and_associations(
            [pb.Attribution(context_id=workspace.context_id, artifact_id=i) for i in (named, unnamed)], []
        )
        for argv in (["ls", "--store", sqlite_url, "-w", "w"], ["ls", "--store", sqlite_url, "-w", "w", "-t", "tfx.Examples"]):
            assert main(argv) == 0
            assert [line.split()[1:3] for line in capsys.readouterr().out.splitlines()] == [
                ["tfx.Examples", "examples:1"], ["tfx.Examples", "None"]
            ]
            assert main(argv + ["--json"]) == 0
            assert [row.get("name") for row in json.loads(capsys.readouterr().out)] == ["examples:1", None]

    def test_ls_of_a_type_in_a_store_with_none_says_so(self, tmp_path, capsys):
        """-t on a store holding no artifact type ended its error with
        "its artifact types: )"."""
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        Workspace(store=lineage.Store(url=url), name="w")
        assert main(["ls", "--store", url, "-w", "w", "-t", "Nothing"]) == 1
        err = capsys.readouterr().err
        assert "its artifact types" not in err and err.rstrip().endswith("it holds no artifact type)"), err

    def test_ls_json_is_json_when_a_metric_is_nan(self, sqlite_url, capsys):
        """A NaN metric (another tool wrote it: the Kubeflow SDK took NaN) was printed
        as a bare NaN, which JSON parsers refuse; it is the string "NaN"."""
        import json

        store = lineage.Store(url=sqlite_url)
        metrics = Execution(name="t", workspace=Workspace(store=store, name="w")).log_output(
            Metrics(uri="s3://m", name="m", values={"loss": 1.0})
        )
        [stored] = store.store.get_artifacts_by_id([metrics.id])
        meta = stored.properties["__ALL_META__"].string_value
        stored.properties["__ALL_META__"].string_value = meta.replace('"loss": 1.0', '"loss": NaN')
        store.store.put_artifacts([stored])

        assert main(["ls", "--store", sqlite_url, "-w", "w", "-t", "Metrics", "--json"]) == 0
        [row] = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"bare {c} in the JSON"))
        assert row["values"]["loss"] == "NaN"

    def test_ls_shows_the_content_digests_that_tell_two_files_apart(self, sqlite_url, tmp_path, capsys):
        """Two DataSets of one iris.csv whose bytes changed between the runs
        are two artifacts, by their digests, and ls showed neither digest:
        two identical rows. --json has each digest and size under the store's
        names; the table ends those two rows with the digest's start, and
        only those (a row with no look-alike is as before)."""
        import hashlib

        store = lineage.Store(url=sqlite_url)
        workspace = Workspace(store=store, name="w")
        iris = tmp_path / "iris.csv"
        contents = [b"a,b\n1,2\n", b"a,b\n1,2\n3,4\n"]
        for content in contents:
            iris.write_bytes(content)
            ex = Execution(name="t", workspace=workspace)
            ex.log_input(DataSet(uri=str(iris), name="iris"))
            ex.log_output(Model(uri="s3://m", name="m"))
        assert main(["ls", "--store", sqlite_url, "-w", "w", "--json"]) == 0
        rows = json.loads(capsys.readouterr().out)
        datasets = [row for row in rows if row["type"] == DataSet.ARTIFACT_TYPE_NAME]
        hexes = [hashlib.sha256(content).hexdigest() for content in contents]
        assert [(row["lineage.digest"], row["lineage.size"], row["lineage.digest_scope"]) for row in datasets] == [
            ("sha256:" + hexes[0], 8, "full"), ("sha256:" + hexes[1], 12, "full")
        ]
        [model] = [row for row in rows if row["type"] == Model.ARTIFACT_TYPE_NAME]
        assert not any(key.startswith("lineage.") for key in model)  # s3://: no digest
        assert main(["ls", "--store", sqlite_url, "-w", "w"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert [line.split()[1:] for line in out] == [
            ["data_set", "iris", str(iris), "sha256:" + hexes[0][:12]],
            ["model", "m", "s3://m"],
            ["data_set", "iris", str(iris), "sha256:" + hexes[1][:12]],
        ]
        # Rows alike of the same content (a Metrics never deduplicates) need no digest to be told apart
        for _ in range(2):
            Execution(name="e", workspace=workspace).log_output(Metrics(uri=str(iris), name="eval"))
        assert main(["ls", "--store", sqlite_url, "-w", "w", "-t", "Metrics", "--json"]) == 0
        assert [row["lineage.digest"] for row in json.loads(capsys.readouterr().out)] == ["sha256:" + hexes[1]] * 2
        assert main(["ls", "--store", sqlite_url, "-w", "w", "-t", "Metrics"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert [line.split()[1:] for line in out] == [["metrics", "eval", str(iris)]] * 2

    def test_ls_without_an_embedded_store_names_the_way_to_the_scripts_own(self, tmp_path, monkeypatch, capsys):
        """The README's first script writes to init(store="sqlite:///lineage.db");
        `lineage ls` after it said only that the embedded store's file does
        not exist, not that the script's store is named with --store. An
        explicit --store that is missing is named as before, with no hint."""
        monkeypatch.delenv("LINEAGE_STORE", raising=False)
        monkeypatch.chdir(tmp_path)
        script = tmp_path / "first.py"
        script.write_text(
            "import lineage\n"
            "from lineage import track, DataSet, Model\n"
            "lineage.init(store='sqlite:///lineage.db', workspace='mnist')\n"
            "@track\n"
            "def train(data: DataSet) -> Model:\n"
            "    return Model(uri='file:///models/mnist.pt', name='mnist', version='3')\n"
            "train(DataSet(uri='s3://bucket/mnist.csv', name='mnist'))\n"
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        subprocess.run([sys.executable, str(script)], check=True, env=env, cwd=tmp_path, timeout=120)
        assert main(["ls", "-w", "mnist"]) == 2
        err = capsys.readouterr().err
        assert "the file does not exist" in err and "--store URL" in err and "lineage.init(store=...)" in err
        assert main(["ls", "--store", "sqlite:///lineage.db", "-w", "mnist"]) == 0
        assert "mnist v3  file:///models/mnist.pt" in capsys.readouterr().out
        assert main(["ls", "--store", f"sqlite:///{tmp_path / 'typo.db'}"]) == 2
        assert "--store URL" not in capsys.readouterr().err

    def test_status_before_anything_is_recorded_says_there_is_no_store_yet(self, tmp_path, capsys):
        """`lineage status` on a new LINEAGE_HOME said the embedded store
        "does NOT answer", as of a server that is down, when no tracked call
        had made its file yet. It says the file is not there, that the first
        tracked call makes it, and where a script's own store is named.
        (Exit 1 as before: there is no store to read.)"""
        url = f"sqlite:///{tmp_path / 'home' / 'lineage.db'}"
        assert main(["status"]) == 1
        out = capsys.readouterr().out
        assert "NOT answer" not in out, out
        assert out.startswith(
            f"store: {url}  is no store: the file does not exist (the embedded store under LINEAGE_HOME: the first "
            "tracked call makes it; a script that named its own store in lineage.init(store=...) wrote there: "
            "name it with --store URL)\n"
        ), out
        assert main(["status", "--json"]) == 1
        assert json.loads(capsys.readouterr().out)["answers"] is False

    def test_a_store_that_cannot_be_read_now_is_not_said_to_be_no_store(self, tmp_path, capsys, monkeypatch):
        """An MLMD file another process holds locked (a pipeline writing to a
        rollback-journal store, as MLMD's own tools make them) was said to be
        "no store: the file is not an MLMD store" by status, and by ls: the
        read-only check took any SQLite error for "not MLMD". It says the file
        cannot be read, and why; a file of another application still is no store."""
        import sqlite3

        from lineage.store import _url, reset_connections

        monkeypatch.setattr(_url, "_WAL_WAIT_SECONDS", 0.2)  # the wait for the lock, shortened
        path = tmp_path / "locked.db"
        url = f"sqlite:///{path}"
        Workspace(store=lineage.Store(url=url), name="w")
        reset_connections()  # the file let go, as a later `lineage` command finds it
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("PRAGMA journal_mode=DELETE")
            holder.execute("BEGIN EXCLUSIVE")
            assert main(["status", "--store", url]) == 1
            out = capsys.readouterr().out
            assert "is no store" not in out and "not an MLMD store" not in out, out
            assert f"store: {url}  does NOT answer: StoreUnavailableError: cannot read {url}: database is locked" in out, out
            assert main(["ls", "--store", url, "-w", "w"]) == 2
            err = capsys.readouterr().err
            assert "not an MLMD store" not in err and "database is locked" in err, err
        finally:
            holder.close()
        assert main(["ls", "--store", url, "-w", "w"]) == 0  # once it is let go, it is read

    def test_reading_commands_never_make_a_store(self, tmp_path, capsys):
        """ls and status on a mistyped path or database name say there is no
        store and make none (they made a SQLite file, or a whole database)."""
        import uuid

        from tests import backends

        missing = tmp_path / "typo" / "lineage.db"
        assert main(["ls", "--store", f"sqlite:///{missing}"]) == 2
        assert "the file does not exist" in capsys.readouterr().err
        assert main(["status", "--store", f"sqlite:///{missing}"]) == 1
        assert f"store: sqlite:///{missing}  is no store: the file does not exist\n" in capsys.readouterr().out
        assert not missing.parent.exists()
        # A file of another application (or an empty one) is not made an MLMD store either.
        import sqlite3

        other = tmp_path / "app.db"
        with sqlite3.connect(other) as conn:
            conn.execute("CREATE TABLE users (id INTEGER)")
        empty = tmp_path / "empty.db"
        empty.write_bytes(b"")
        for path in (other, empty):
            before = path.read_bytes()
            assert main(["ls", "--store", f"sqlite:///{path}"]) == 2
            assert "is not an MLMD store" in capsys.readouterr().err
            assert main(["status", "--store", f"sqlite:///{path}"]) == 1
            assert path.read_bytes() == before
        name = f"lineage_typo_{uuid.uuid4().hex[:8]}"
        url = f"postgresql://postgres@{backends.PG['host']}:{backends.PG['port']}/{name}"
        assert main(["ls", "--store", url]) == 2
        done = subprocess.run(
            ["psql", "-h", backends.PG["host"], "-p", str(backends.PG["port"]), "-U", "postgres", "-tAc",
             f"SELECT count(*) FROM pg_database WHERE datname = '{name}'"],
            capture_output=True, text=True, timeout=60,
        )
        assert done.stdout.strip() == "0"

    def test_ls_on_an_output_that_cannot_encode_a_name_shows_it_escaped(self, tmp_path):
        """A name or uri the output's encoding has no character for (an
        emoji, into a file on a latin-1 or ASCII locale) stopped `lineage ls`
        with a UnicodeEncodeError traceback after the rows before it."""
        import os

        url = f"sqlite:///{tmp_path / 'x.db'}"
        Execution(name="e", workspace=Workspace(store=lineage.Store(url=url), name="w")).log_input(
            DataSet(uri="s3://b/😀.csv", name="dätä")
        )
        done = subprocess.run(
            [sys.executable, "-m", "lineage", "ls", "--store", url, "-w", "w"], capture_output=True, timeout=120,
            env={**os.environ, "PYTHONIOENCODING": "ascii"},
        )
        assert done.returncode == 0, done.stderr.decode()
        assert done.stdout.decode("ascii").split() == ["1", "data_set", "d\\xe4t\\xe4", "s3://b/\\U0001f600.csv"]

    def test_bad_store_url_is_a_clear_error(self, capsys):
        """A bad --store URL exits 2 with the reason."""
        assert main(["ls", "--store", "nope://x"]) == 2
        assert "unknown scheme 'nope'" in capsys.readouterr().err

    def test_a_bad_store_url_names_the_option_or_variable_it_came_from(self, tmp_path, capsys, monkeypatch):
        """`lineage sync --store A --into B` with one of them bad said only
        "invalid store URL 'x'": not which option; from $LINEAGE_STORE, the
        user typed no URL at all. Each command names where it came from."""
        monkeypatch.delenv("LINEAGE_STORE", raising=False)
        good = f"sqlite:///{tmp_path / 'x.db'}"
        cases = [
            (["sync", "--home", str(tmp_path), "--store", good, "--into", "nope://x"], "--into"),
            (["sync", "--home", str(tmp_path), "--store", "nope://x", "--into", good], "--store"),
            (["ls", "--store", "nope://x"], "--store"),
            (["status", "--home", str(tmp_path), "--store", "nope://x"], "--store"),
            (["serve", "--store", "nope://x"], "--store"),
        ]
        for argv, option in cases:
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"lineage {argv[0]}: {option}: invalid store URL 'nope://x': unknown scheme 'nope'"), err
        monkeypatch.setenv("LINEAGE_STORE", "nope://y")
        for command in ("ls", "status", "serve"):
            assert main([command]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"lineage {command}: the LINEAGE_STORE environment variable: invalid store URL 'nope://y'"), err
        assert not (tmp_path / "x.db").exists()

    def test_serve_names_where_a_store_it_cannot_serve_came_from(self, capsys, monkeypatch):
        """A gRPC store is no database to serve: the refusal said "got
        grpc://..." alone, also for a LINEAGE_STORE set for the tracked
        code (the user typed no URL)."""
        monkeypatch.setenv("LINEAGE_STORE", "grpc://metadata-grpc-service.kubeflow:8080")
        assert main(["serve"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            "lineage serve: the LINEAGE_STORE environment variable: only a database store can be served "
            "(sqlite, memory, postgresql, mysql), got 'grpc://metadata-grpc-service.kubeflow:8080'"
        ), err
        assert main(["serve", "--store", "grpc://h:1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("lineage serve: --store: only a database store can be served"), err

    def test_serve_run_by_a_process_that_called_init_names_init(self, tmp_path):
        """`!lineage serve` in a notebook that called init(store='grpc://...')
        takes that store (LINEAGE_INIT): its refusal named the LINEAGE_STORE
        variable, which was not set."""
        env = {k: v for k, v in os.environ.items() if k != "LINEAGE_STORE"}
        env["LINEAGE_INIT"] = json.dumps({"store": "grpc://127.0.0.1:8080"})
        env["LINEAGE_HOME"] = str(tmp_path)
        done = subprocess.run(
            [sys.executable, "-m", "lineage.cli", "serve", "--port", "0"], capture_output=True, text=True, timeout=120, env=env
        )
        assert done.returncode == 2
        assert done.stderr.startswith(
            "lineage serve: the store lineage.init() set (in this process, or in the one that started it: LINEAGE_INIT): "
            "only a database store can be served (sqlite, memory, postgresql, mysql), got 'grpc://127.0.0.1:8080'"
        ), done.stderr

    def test_status_with_an_empty_spool(self, sqlite_url, capsys):
        """lineage status says the store answers and the spool is empty."""
        lineage.Store(url=sqlite_url).store.get_context_types()  # the store exists
        assert main(["status", "--store", sqlite_url]) == 0
        out = capsys.readouterr().out
        assert "answers" in out and "spooled writes: 0" in out


    def test_status_of_a_tls_server_through_grpc_says_what_to_fix(self, tmp_path):
        """`lineage status --store grpc://` on a server that speaks TLS said
        "does NOT answer", as for a server that is down (it called MLMD
        directly, outside the backend's call path), where writes' warnings and
        `lineage sync` say the server speaks TLS: it says so too now."""
        from tests.backends import ServerProcess, make_url

        cert, key = str(tmp_path / "server.pem"), str(tmp_path / "server.key")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True, timeout=60,
        )
        server = ServerProcess(make_url("sqlite", tmp_path), ["--tls-cert", cert, "--tls-key", key])
        url = f"grpc://127.0.0.1:{server.port}"
        try:
            env = {**os.environ, "LINEAGE_HOME": str(tmp_path / "home")}
            done = subprocess.run([sys.executable, "-m", "lineage.cli", "status", "--store", url],
                                  capture_output=True, text=True, timeout=120, env=env)
            as_json = subprocess.run([sys.executable, "-m", "lineage.cli", "status", "--store", url, "--json"],
                                     capture_output=True, text=True, timeout=120, env=env)
        finally:
            server.stop()
        said = f"store: {url}  cannot be used: the server at 127.0.0.1:{server.port} speaks TLS: use grpcs://"
        assert done.returncode == 1 and said in done.stdout, done.stdout + done.stderr
        assert "NOT answer" not in done.stdout, done.stdout
        reported = json.loads(as_json.stdout)
        assert (reported["answers"], reported["refused"], reported["overloaded"]) == (False, True, False), reported
        assert reported["reason"].startswith(f"the server at 127.0.0.1:{server.port} speaks TLS"), reported

class TestRefusedConnection:
    """A database server that answers but refuses MLMD's login: MLMD says
    only "connection pointer is NULL" or "errno: , error:"; lineage says why,
    or what to check."""

    def status(self, url: str, **env: str) -> subprocess.CompletedProcess:
        import os

        return subprocess.run(
            [sys.executable, "-m", "lineage.cli", "status", "--store", url],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
        )

    def test_postgresql_without_a_user_logs_in_as_the_login_name(self):
        """No user in the URL: the login name, as psql would (MLMD aborted the process on an empty user)."""
        from tests import backends

        backends.require_server("PostgreSQL", backends.PG["host"], backends.PG["port"])
        url = f"postgresql://{backends.PG['host']}:{backends.PG['port']}/{backends.new_database_name()}"
        done = self.status(url, LOGNAME="lineage_no_such_role", USER="lineage_no_such_role")

        assert 'the server at 127.0.0.1:5432 refused it: role "lineage_no_such_role" does not exist' in done.stdout
        assert done.returncode == 1  # not SIGABRT

    def test_postgresql_database_that_does_not_exist(self):
        """status never creates a database: the server's own reason is shown."""
        from tests import backends

        backends.require_server("PostgreSQL", backends.PG["host"], backends.PG["port"])
        name = backends.new_database_name()
        done = self.status(backends.postgresql_url(name))

        assert f'refused it: database "{name}" does not exist' in done.stdout
        assert "did not answer" not in done.stdout  # it answered: with a refusal
        assert done.returncode == 1

    def test_mysql_database_that_does_not_exist(self):
        """MySQL says why too ("Unknown database"): it was reported as a server
        that "did not answer", unlike PostgreSQL's refusal."""
        from tests import backends

        backends.require_server("MariaDB", backends.MYSQL["host"], backends.MYSQL["port"])
        name = backends.new_database_name()
        done = self.status(f"mysql://root@{backends.MYSQL['host']}:{backends.MYSQL['port']}/{name}")

        where = f"{backends.MYSQL['host']}:{backends.MYSQL['port']}"
        assert f"cannot be used (get_context_types): the server at {where} refused it: Unknown database '{name}'" in done.stdout
        assert "did not answer" not in done.stdout
        assert done.returncode == 1

    def test_mysql_wrong_password_names_what_to_check(self):
        """MySQL gives its reason only after a login: lineage names what to check."""
        from tests import backends

        backends.require_server("MariaDB", backends.MYSQL["host"], backends.MYSQL["port"])
        url = f"mysql://root:wrong@{backends.MYSQL['host']}:{backends.MYSQL['port']}/{backends.new_database_name()}"
        done = self.status(url)

        assert "the server at 127.0.0.1:3306 answers: check the user, password and database in the URL" in done.stdout
        assert "wrong" not in done.stdout  # the password stays redacted

    def test_a_server_that_is_down_gets_no_login_hint(self):
        """Nothing listening: the connection error alone, no advice about passwords."""
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        done = self.status(f"postgresql://postgres@127.0.0.1:{port}/x")

        assert "Connection refused" in done.stdout and "check the user" not in done.stdout and "refused it" not in done.stdout
