"""Notebooks: the %%track cell magic and the graph's display, in a real
IPython shell and in a real Jupyter kernel (nbclient)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lineage
from lineage import DataSet, Model, track
from tests import mlmd_reads as mr


@pytest.fixture
def shell(sqlite_url):
    """A real IPython shell with the extension loaded, recording into a fresh store."""
    from IPython.core.interactiveshell import InteractiveShell

    lineage.init(store=sqlite_url, workspace="nb", strict=True, start_delay=0)
    InteractiveShell.clear_instance()
    ipython = InteractiveShell.instance()  # a fresh shell: no variables of another test
    ipython.run_line_magic("load_ext", "lineage")
    ipython.user_ns.update({"DataSet": DataSet, "Model": Model, "lineage": lineage})
    yield ipython
    InteractiveShell.clear_instance()


def run(shell, cell: str):
    result = shell.run_cell(cell)
    return result


class TestTrackMagic:
    def test_a_cell_is_an_execution_with_its_inputs_and_outputs(self, shell, sqlite_url):
        """Records the cell reads are inputs, records it assigns are outputs
        (path: the variable, and the index in a list); params via current_execution()."""
        assert run(shell, 'raw = DataSet(uri="s3://nb/raw.csv", name="raw")\nunused = DataSet(uri="s3://nb/u", name="u")').success
        result = run(
            shell,
            "%%track clean --workspace nb\n"
            "lineage.current_execution().log_param('rows', 100)\n"
            "cleaned = DataSet(uri=raw.uri.replace('raw', 'clean'), name='clean')\n"
            "parts = [DataSet(uri=f's3://nb/part-{i}', name=f'p{i}') for i in range(2)]\n"
            "n = 3\n",
        )
        assert result.success, result.error_in_exec
        store = lineage.Store(url=sqlite_url)
        e = mr.one_execution(store, "clean")
        assert mr.state(e) == "COMPLETE" and mr.custom(e)["rows"] == 100
        assert sorted(mr.paths(store, e.id)) == [
            ("INPUT", ("raw",), "s3://nb/raw.csv"),
            ("OUTPUT", ("cleaned",), "s3://nb/clean.csv"),
            ("OUTPUT", ("parts", 0), "s3://nb/part-0"),
            ("OUTPUT", ("parts", 1), "s3://nb/part-1"),
        ]
        assert shell.user_ns["cleaned"].id is not None and shell.user_ns["n"] == 3

    def test_the_kubeflow_sdks_objects_are_a_cells_inputs_and_outputs(self, shell, sqlite_url):
        """As records are, as for a tracked call; they were left out (one
        written the SDK's way, here with no name attribute, too)."""
        from kubeflow.metadata import metadata

        from tests.test_compat_kubeflow import PlainCheckpoint

        shell.user_ns.update({"metadata": metadata, "PlainCheckpoint": PlainCheckpoint})
        assert run(shell, 'raw = metadata.DataSet(uri="s3://nb/raw.csv", name="raw")').success
        result = run(shell, "%%track clean --workspace nb\nckpt = PlainCheckpoint('s3://nb/ckpt')\nn = len(raw.name)\n")
        assert result.success, result.error_in_exec
        store = lineage.Store(url=sqlite_url)
        e = mr.one_execution(store, "clean")
        assert sorted(mr.paths(store, e.id)) == [("INPUT", ("raw",), "s3://nb/raw.csv"), ("OUTPUT", ("ckpt",), "s3://nb/ckpt")]
        assert shell.user_ns["ckpt"].id is not None

    def test_a_kubeflow_style_object_whose_create_time_is_no_text_is_an_input(self, shell, sqlite_url):
        """A class written the SDK's way may keep create_time as None (or a
        datetime): the cell's look at when its inputs were made compared it
        with a str (TypeError), and the cell did not run."""
        from tests.test_compat_kubeflow import PlainCheckpoint

        class Stamped(PlainCheckpoint):
            def __init__(self, uri):
                super().__init__(uri)
                self.create_time = None

        shell.user_ns["ckpt"] = Stamped("s3://nb/stamped")
        result = run(shell, "%%track evaluate --workspace nb\nseen = ckpt.uri\n")
        assert result.success, result.error_in_exec
        assert shell.user_ns["seen"] == "s3://nb/stamped"
        store = lineage.Store(url=sqlite_url)
        assert mr.paths(store, mr.one_execution(store, "evaluate").id) == [("INPUT", ("ckpt",), "s3://nb/stamped")]

    def test_a_kubeflow_sdk_object_that_cannot_be_serialized_does_not_stop_the_cell(self, shell, sqlite_url):
        """The SDK's DataSet.serialization() is json.dumps of its attributes: a
        date among its labels raises TypeError, which went into the cell (not
        run) where lineage's failures are said, as a record's are."""
        import datetime
        import warnings

        from kubeflow.metadata import metadata

        lineage.init(strict=False)
        shell.user_ns["raw"] = metadata.DataSet(uri="s3://nb/dated", name="raw", labels={"day": datetime.date(2024, 1, 2)})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run(shell, "%%track clean --workspace nb\nn = len(raw.name)\nout = DataSet(uri='s3://nb/out', name='out')\n")
        assert result.success, result.error_in_exec
        assert shell.user_ns["n"] == 3
        assert any("not JSON serializable" in str(w.message) for w in caught)
        store = lineage.Store(url=sqlite_url)
        assert mr.paths(store, mr.one_execution(store, "clean").id) == [("OUTPUT", ("out",), "s3://nb/out")]

    def test_tracked_calls_in_a_cell_record_it_as_parent_and_errors_fail_it(self, shell, sqlite_url):
        """A tracked function called in the cell is a child of the cell's
        execution; an exception in the cell marks it FAILED and is shown."""

        @track
        def fit(d: DataSet) -> Model:
            return Model(uri="s3://nb/model", name="m", version="1")

        shell.user_ns.update(fit=fit, data=DataSet(uri="s3://nb/data", name="d"))
        assert run(shell, "%%track training\nmodel = fit(data)").success
        store = lineage.Store(url=sqlite_url)
        cell, child = mr.one_execution(store, "training"), mr.one_execution(store, "fit")
        assert mr.custom(child)["lineage.parent_external_id"] == cell.external_id
        failed = run(shell, "%%track broken\nmodel2 = fit(data)\n1 / 0")
        assert isinstance(failed.error_in_exec, ZeroDivisionError)
        assert mr.state(mr.one_execution(store, "broken")) == "FAILED"

    def test_bad_magic_line_and_bad_cell_record_nothing(self, shell, sqlite_url):
        """A line the magic cannot read, or a cell that is not Python, raise and record nothing."""
        bad_line = run(shell, "%%track a --nope\nx = 1")
        assert isinstance(bad_line.error_in_exec, lineage.InvalidValueError)
        assert "unknown argument(s) ['--nope']" in str(bad_line.error_in_exec)
        bad_cell = run(shell, "%%track b\nx = (")
        assert bad_cell.error_in_exec is not None
        assert mr.executions(lineage.Store(url=sqlite_url)) == []

    def test_the_magic_has_help(self, shell, sqlite_url, capsys):
        """%%track? showed "Docstring: <no docstring>", and %%track --help was
        "unknown argument(s) ['--help']": a user had no way to its options in
        the notebook. Both show the usage and what each option does; the
        cell is not run."""
        doc = shell.find_cell_magic("track").__doc__ or ""
        assert doc.startswith("%%track [NAME] [--workspace WORKSPACE] [--run RUN] [--store URL]\n"), doc
        for option in ("--workspace WORKSPACE  workspace", "--run RUN  ", "--store URL  "):
            assert option in doc
        for flag in ("-h", "--help", "clean --help"):
            result = run(shell, f"%%track {flag}\nx = 1")
            assert isinstance(result.error_in_exec, lineage.InvalidValueError)
            shown = capsys.readouterr()
            assert (shown.out + shown.err).strip() == f"UsageError: {doc}"
            assert "x" not in shell.user_ns and mr.executions(lineage.Store(url=sqlite_url)) == []

    @pytest.mark.parametrize(
        ("line", "says"),
        [
            ("c --workspace ''", "%%track --workspace must be a non-empty string, got '' (in \"c --workspace ''\")"),
            ("c --run ' '", "%%track --run must be a non-empty string, got ' ' (in \"c --run ' '\")"),
            ("' '", "%%track NAME must be a non-empty string, got ' ' (in \"' '\")"),
        ],
    )
    def test_a_name_on_the_magic_line_mlmd_cannot_store_is_named_as_written(self, shell, sqlite_url, line, says):
        """%%track --workspace '' was refused as execution(workspace): an
        argument the notebook's code never wrote."""
        result = run(shell, f"%%track {line}\nx = 1")
        assert isinstance(result.error_in_exec, lineage.InvalidValueError)
        assert str(result.error_in_exec) == says
        assert "x" not in shell.user_ns and mr.executions(lineage.Store(url=sqlite_url)) == []

    @pytest.mark.parametrize(
        ("line", "says"),
        [
            ("a --nope", "unknown argument(s) ['--nope'] in 'a --nope'"),
            # a name of several words: said how to write it (it read as an unknown argument only)
            (
                "clean data --run r1",
                "unknown argument(s) ['data'] in 'clean data --run r1' (a NAME of several words is quoted: %%track 'clean data')",
            ),
            (
                "a sqlite:///x.db",
                "unknown argument(s) ['sqlite:///x.db'] in 'a sqlite:///x.db' (a store URL is given as --store URL)",
            ),
            # an option's value of two words: that value is quoted, not NAME ("%%track 'clean ws'" was said)
            ("clean --workspace my ws", "in 'clean --workspace my ws' (a value of several words is quoted: --workspace 'my ws')"),
            ("clean --run=my run", "in 'clean --run=my run' (a value of several words is quoted: --run 'my run')"),
            ("c --workspace ''", "%%track --workspace must be a non-empty string"),
            # NAME after an option's value: run 'my' and NAME 'run' were recorded for --run my run
            (
                "--run my run",
                "'run' after --run my in '--run my run' reads as NAME or as the rest of --run's value: "
                "NAME goes first (%%track run --run my), a value of several words is quoted (--run 'my run')",
            ),
            (
                "--workspace=my ws --run r",
                "'ws' after --workspace my in '--workspace=my ws --run r' reads as NAME or as the rest of --workspace's value: "
                "NAME goes first (%%track ws --workspace my), a value of several words is quoted (--workspace 'my ws')",
            ),
            ("'a", "No closing quotation"),
            ("a --store nope://x", "%%track --store: invalid store URL 'nope://x': unknown scheme 'nope'"),
        ],
    )
    def test_a_bad_magic_line_is_shown_in_one_line_as_ipython_shows_usage_errors(self, shell, sqlite_url, capsys, line, says):
        """IPython shortens only errors of its own UsageError type: a bad
        %%track line printed a whole traceback into lineage's argument parsing
        (a bad --store, at execution(), without naming --store)."""
        result = run(shell, f"%%track {line}\nx = 1")
        assert isinstance(result.error_in_exec, lineage.InvalidValueError)  # what code catches, as documented
        shown = capsys.readouterr()
        lines = (shown.out + shown.err).strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("UsageError: ") and says in lines[0], lines
        assert "x" not in shell.user_ns and mr.executions(lineage.Store(url=sqlite_url)) == []

    def test_a_name_after_an_option_is_refused_as_it_reads_two_ways(self, shell, sqlite_url, capsys):
        """%%track --run my run recorded the cell as 'run' in run 'my' (argparse
        takes the word after an option's value as NAME), with no error: the
        line is refused, saying both ways to write it. NAME first, or after
        --, is read as before; a --store password in the message is hidden."""
        result = run(shell, "%%track --store postgresql://u:s3cret@127.0.0.1:1/db a\nx = 1")
        assert isinstance(result.error_in_exec, lineage.InvalidValueError)
        said = str(result.error_in_exec)
        assert "s3cret" not in said and "NAME goes first (%%track a --store postgresql://u:***@127.0.0.1:1/db)" in said
        assert "x" not in shell.user_ns and mr.executions(lineage.Store(url=sqlite_url)) == []
        assert run(shell, "%%track first --run my\nx = 1").success
        assert run(shell, "%%track --run my -- second\ny = 2").success
        store = lineage.Store(url=sqlite_url)
        assert mr.one_execution(store, "first") is not None and mr.one_execution(store, "second") is not None

    def test_a_name_after_an_option_is_refused_naming_the_option_as_written(self, shell, sqlite_url):
        """The option a late NAME follows was found by a '=' in the word before
        NAME: a value holding one (--store sqlite:///x.db?mode=ro) was told as
        option 'sqlite:///x.db?mode', value 'ro', and the line to write given
        as %%track clean sqlite:///x.db?mode ro. And a NAME argparse reads as
        one though it begins with '-' (-1), written first, was refused as if
        after an option (read as before 25b909f: it is first)."""
        for line, says in [
            ("--store sqlite:///x.db?mode=ro clean", "NAME goes first (%%track clean --store 'sqlite:///x.db?mode=ro'), "),
            (
                "--workspace a=b clean",
                "'clean' after --workspace a=b in '--workspace a=b clean' reads as NAME or as the rest of "
                "--workspace's value: NAME goes first (%%track clean --workspace a=b), a value of several words is quoted "
                "(--workspace 'a=b clean')",
            ),
            ("--run=r --workspace=a=b clean", "NAME goes first (%%track clean --workspace a=b), "),
        ]:
            result = run(shell, f"%%track {line}\nx = 1")
            assert isinstance(result.error_in_exec, lineage.InvalidValueError), line
            assert says in str(result.error_in_exec), str(result.error_in_exec)
        assert "x" not in shell.user_ns and mr.executions(lineage.Store(url=sqlite_url)) == []
        assert run(shell, "%%track -1 --run my\nx = 1").success
        assert mr.one_execution(lineage.Store(url=sqlite_url), "-1") is not None

    @pytest.mark.parametrize(
        "line, hidden",
        [
            ("' ' --store postgresql://u:s3cret@127.0.0.1:1/db", "u:***@127.0.0.1"),
            ("a --store postgresql://u:s3cret@127.0.0.1:1/db?bad=1", "u:***@127.0.0.1"),
            ("a --db postgresql://u:s3cret@127.0.0.1:1/db", "u:***@127.0.0.1"),
            ("'a --store postgresql://u:s3cret@127.0.0.1:1/db", "u:***@127.0.0.1"),
            # quoted: a password with a space or a quote in it (the pattern stopped there)
            ("' ' --store 'postgresql://u:s3cret and more@127.0.0.1:1/db'", "u:***@127.0.0.1"),
            ("""' ' --store "postgresql://u:s3cret'quoted@127.0.0.1:1/db\"""", "u:***@127.0.0.1"),
            ("' ' --store 'postgresql://u:s3cret and more@127.0.0.1:1/db", "u:***@127.0.0.1"),
            # a password given as an option: refused, the error quoted it
            ("a --store postgresql://u@127.0.0.1:1/db?password=s3cret", "password=***"),
            ("a --store 'mysql://u@127.0.0.1:1/db?passwd=s3cret and more'", "passwd=***"),
            ("a --store postgresql://u@127.0.0.1:1/db?password=s3cret#more", "password=***"),
            ("a --db 'postgresql://u@127.0.0.1:1/db?password=s3cret", "password=***"),
        ],
    )
    def test_a_bad_magic_line_never_shows_the_store_password(self, shell, capsys, line, hidden):
        """The error quotes the line: the password of a --store URL in it is hidden."""
        result = run(shell, f"%%track {line}\nx = 1")
        assert isinstance(result.error_in_exec, lineage.InvalidValueError)
        shown = capsys.readouterr()
        said = str(result.error_in_exec) + shown.out + shown.err
        assert "s3cret" not in said and "more" not in said and "quoted" not in said, said
        assert hidden in str(result.error_in_exec)

    def test_a_bad_magic_line_never_shows_a_password_option_holding_an_at_sign(self, shell, capsys):
        """host:port and no user: the authority's pattern ran to the '@' in the
        option's password, and the line was quoted with its end ('***@more')."""
        result = run(shell, "%%track a --store postgresql://127.0.0.1:1/db?password=s3cret@more\nx = 1")
        assert isinstance(result.error_in_exec, lineage.InvalidValueError)
        shown = capsys.readouterr()
        said = str(result.error_in_exec) + shown.out + shown.err
        assert "s3cret" not in said and "more" not in said and "postgresql://127.0.0.1:***" in said, said

    @pytest.mark.parametrize("line", ["a --store bogus://", "a --store postgresql://u:s3cret@127.0.0.1:1/db?bad=1"])
    def test_a_bad_store_url_on_the_magic_line_lists_the_url_forms_as_written(self, shell, line):
        """The password pattern ran over the whole message: lineage's own
        list of URL forms read "postgresql://user:***@host:port/db"."""
        result = run(shell, f"%%track {line}\nx = 1")
        said = str(result.error_in_exec)
        assert "postgresql://user:pass@host:port/db, mysql://user:pass@host:port/db" in said, said
        assert "s3cret" not in said


def test_init_as_a_cells_last_line_shows_what_it_set_and_no_password(shell, sqlite_url, capsys):
    """lineage.init(...) returns the settings: the last line of a cell echoed
    every field (run=None, strict=False, ...) and the store URL's password."""
    secret = "postgresql://u:s3cret@127.0.0.1:1/db"
    capsys.readouterr()
    try:
        assert run(shell, f"lineage.init(store={secret!r}, workspace='mnist')").success
        shown = capsys.readouterr().out
        # only what was set (the fixture's strict and start_delay too)
        expected = "Settings(store='postgresql://u:***@127.0.0.1:1/db', workspace='mnist', strict=True, start_delay=0.0)"
        assert shown.strip().endswith(expected), shown
        inline_key = "grpcs://h:1?root_certificates=ca.pem&certificate_chain=c.pem&private_key=-----BEGIN%20KEY-----abc"
        from lineage._config import Settings

        assert "abc" not in repr(Settings(store=inline_key)) and "private_key=***" in repr(Settings(store=inline_key))
        as_option = "postgresql://u@127.0.0.1:1/db?password=s3cret"
        assert "s3cret" not in repr(Settings(store=as_option)) and "password=***" in repr(Settings(store=as_option))
    finally:
        lineage.init(store=sqlite_url, workspace="nb")


class TestDisplay:
    def test_ipython_shows_the_tree(self, shell, sqlite_url):
        """IPython's display formatter gets the tree as text and HTML."""
        run(shell, 'd = DataSet(uri="s3://nb/d", name="d")')
        run(shell, "%%track make\nm = Model(uri='s3://nb/m', name='m')")
        graph = lineage.Store(url=sqlite_url).lineage(shell.user_ns["m"])
        data, _ = shell.display_formatter.format(graph)
        assert data["text/plain"] == graph.to_text()
        assert "make #" in data["text/html"] and data["text/html"].startswith("<pre>")


def test_the_graph_of_a_record_not_written_yet_says_why_it_has_no_id(shell):
    """The graph of an output logged in a with block still running (written
    at its end) said it "was never logged", which it was: it says that its
    write has not reached the store yet, and the graph is there once it has."""
    result = run(
        shell,
        "with lineage.execution('fit') as ex:\n"
        "    m = ex.log_output(Model(uri='s3://nb/m', name='m'))\n"
        "    lineage.Store().lineage(m)\n",
    )
    assert isinstance(result.error_in_exec, lineage.InvalidValueError)
    said = str(result.error_in_exec)
    assert "was never logged (its id is None)" not in said and "its write has not reached the store yet" in said, said
    assert "fit #" in str(run(shell, "lineage.Store().lineage(m)").result)


def test_import_lineage_never_imports_ipython():
    """IPython is optional: importing lineage (and using it) does not import it."""
    code = (
        "import sys; sys.modules['IPython'] = None\n"  # any import of IPython now fails
        "import lineage, lineage.graph\n"
        "lineage.init(store='memory://', strict=True, start_delay=0)\n"
        "m = lineage.track(lambda d: lineage.Model(uri='s3://m', name='m'))\n"
        "print('IPython' in sys.modules and sys.modules['IPython'] is not None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_real_kernel_runs_the_magic_and_shows_the_graph(tmp_path):
    """A notebook run by a real Jupyter kernel: %load_ext, %%track, and the
    graph displayed as HTML."""
    import nbformat
    from nbclient import NotebookClient

    url = f"sqlite:///{tmp_path / 'nb.db'}"
    cells = [
        f"import lineage\nfrom lineage import DataSet, Model\nlineage.init(store={url!r}, workspace='kernel', strict=True, start_delay=0)",
        "%load_ext lineage",
        "raw = DataSet(uri='s3://k/raw', name='raw')",
        "%%track train\nmodel = Model(uri='s3://k/model', name='m', version='1')\nsize = len(raw.uri)",
        "lineage.Store().lineage(model)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    [shown] = notebook.cells[-1].outputs
    assert "train #" in shown["data"]["text/html"] and "raw" in shown["data"]["text/plain"]
    store = lineage.Store(url=url)
    e = mr.one_execution(store, "train")
    assert sorted(mr.paths(store, e.id)) == [("INPUT", ("raw",), "s3://k/raw"), ("OUTPUT", ("model",), "s3://k/model")]


def test_the_cell_value_is_shown_as_without_the_magic(shell):
    """The cell's last expression is its value, shown by IPython (the magic swallowed it)."""
    result = run(shell, "%%track show\nx = DataSet(uri='s3://nb/x', name='x')\nx.uri")
    assert result.success and result.result == "s3://nb/x"
    assert run(shell, "%%track quiet\ny = 1").result is None


class TestWhatACellReadsAndMakes:
    """What is an input and what an output, cell code by cell code."""

    def paths(self, shell, sqlite_url, name):
        store = lineage.Store(url=sqlite_url)
        return sorted((kind, path, uri) for kind, path, uri in mr.paths(store, mr.one_execution(store, name).id))

    def test_an_existing_record_picked_or_looped_over_is_no_output(self, shell, sqlite_url):
        """best = max(models) and a loop variable are not outputs (the cell
        was recorded as a second producer of an input: a cycle)."""
        run(shell, "models = [Model(uri=f's3://nb/m{i}', name='m', version=str(i)) for i in range(2)]")
        assert run(shell, "%%track select\nbest = max(models, key=lambda m: m.version)\nfor x in models:\n    x.uri").success
        assert self.paths(shell, sqlite_url, "select") == [
            ("INPUT", ("models", 0), "s3://nb/m0"),
            ("INPUT", ("models", 1), "s3://nb/m1"),
        ]

    def test_outputs_made_in_place_or_after_the_old_value_is_freed(self, shell, sqlite_url):
        """ds += [...], d[k] = ..., parts.append(...), and a name re-bound after
        its old record was freed (its id reused) all give outputs."""
        run(shell, "ds = [DataSet(uri='s3://nb/d0', name='d')]\nd = {}\nparts = []\nm = Model(uri='s3://nb/old', name='m')")
        cell = (
            "%%track grow\n"
            "ds += [DataSet(uri='s3://nb/d1', name='d')]\n"
            "d['k'] = DataSet(uri='s3://nb/dk', name='d')\n"
            "parts.append(DataSet(uri='s3://nb/p0', name='p'))\n"
            "m = None\n"
            "m = Model(uri='s3://nb/new', name='m')\n"
        )
        assert run(shell, cell).success
        assert self.paths(shell, sqlite_url, "grow") == [
            ("INPUT", ("ds", 0), "s3://nb/d0"),
            ("OUTPUT", ("d", "k"), "s3://nb/dk"),
            ("OUTPUT", ("ds", 1), "s3://nb/d1"),
            ("OUTPUT", ("m",), "s3://nb/new"),
            ("OUTPUT", ("parts", 0), "s3://nb/p0"),
        ]

    def test_a_name_assigned_before_it_is_read_is_no_input(self, shell, sqlite_url):
        """Re-running a cell that makes `out` then reads it: the previous
        `out` is not an input; nor are comprehension variables or names in
        a function the cell only defines."""
        run(shell, "x = DataSet(uri='s3://nb/x', name='x')\nraw = DataSet(uri='s3://nb/raw', name='raw')\nnums = [1, 2]")
        cell = (
            "%%track again\n"
            "out = DataSet(uri=f's3://nb/out{len(nums)}', name='out')\n"
            "print(out.uri)\n"
            "ys = [x * 2 for x in nums]\n"
            "def later():\n"
            "    return raw.uri\n"
        )
        assert run(shell, cell).success
        run(shell, "nums.append(3)")
        assert run(shell, cell.replace("again", "again2")).success
        assert self.paths(shell, sqlite_url, "again2") == [("OUTPUT", ("out",), "s3://nb/out3")]

    def test_top_level_await_and_syntax_errors_record_nothing(self, shell, sqlite_url):
        """A cell the magic cannot compile (top-level await included) raises
        SyntaxError before anything is recorded."""
        result = run(shell, "%%track waits\nimport asyncio\nv = await asyncio.sleep(0)")
        assert isinstance(result.error_in_exec, SyntaxError)
        import traceback

        # The line it points at is quoted (it was an empty line under the caret)
        assert "    v = await asyncio.sleep(0)\n" in traceback.format_exception_only(result.error_in_exec)
        assert mr.executions(lineage.Store(url=sqlite_url)) == []

    def test_semicolon_hides_the_value_and_tracebacks_show_the_line(self, shell):
        """A trailing ';' hides the value; a traceback quotes the cell's line."""
        assert run(shell, "%%track semi\nz = DataSet(uri='s3://nb/z', name='z')\nz.uri;").result is None
        import traceback

        failed = run(shell, "%%track oops\nfirst = 1\nraise KeyError('from the cell')")
        text = "".join(traceback.format_exception(failed.error_in_exec))
        assert "raise KeyError('from the cell')" in text


def test_an_error_of_the_cell_is_shown_without_lineages_frames(shell, capsys):
    """Every error in a %%track cell was shown through two frames of
    lineage/notebook.py (the magic's lambda, and exec), as if lineage had
    failed; IPython hides its own magics' frames (%%time)."""
    capsys.readouterr()
    result = run(shell, "%%track hidden\nfirst = 1\nraise KeyError('from the cell')")
    assert isinstance(result.error_in_exec, KeyError)
    shown = capsys.readouterr()
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", shown.out + shown.err)  # IPython's colours
    assert "raise KeyError('from the cell')" in text and "KeyError" in text
    assert "notebook.py" not in text and "track_cell" not in text, text


class TestFromAReviewOfTheMagic:
    def test_a_cell_runs_when_a_variable_it_reads_cannot_be_looked_into(self, shell, sqlite_url):
        """A dataclass whose field is unset (reading it raises): the cell was
        not run at all, and nothing recorded; now it runs, with a warning."""
        lineage.init(strict=False)
        cell = "import dataclasses\n@dataclasses.dataclass\nclass Cfg:\n    x: int\n    y: int = dataclasses.field(init=False)\n"
        assert run(shell, cell + "c = Cfg(1)").success
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run(shell, "%%track a\nran = c.x\n")
        assert result.success, result.error_in_exec
        assert shell.user_ns["ran"] == 1
        assert any("look for records in the variable 'c'" in str(w.message) for w in caught)
        assert mr.state(mr.one_execution(lineage.Store(url=sqlite_url), "a")) == "COMPLETE"

    def test_annotations_in_a_cell_are_not_strings(self, shell, sqlite_url):
        """The cell was compiled with the magic's own `from __future__ import
        annotations`: a function defined in it had string annotations, and
        `path: DataSet` inside a nested scope was a parameter, not an input."""
        result = run(shell, "%%track defs\ndef f(x: int) -> None:\n    pass\nhints = f.__annotations__\n")
        assert result.success, result.error_in_exec
        assert shell.user_ns["hints"] == {"x": int, "return": None}

    def test_two_runs_of_a_name_keep_each_cells_source(self, shell):
        """Every run of `%%track prep` had one file name: the source of a
        function from an earlier prep cell was the later cell's."""
        import inspect

        assert run(shell, "%%track prep\ndef g():\n    return 1\n").success
        assert run(shell, "%%track prep\ny = 2\n").success
        assert "return 1" in inspect.getsource(shell.user_ns["g"])

    def test_an_object_a_converter_made_an_input_is_not_also_an_output(self, shell, sqlite_url):
        """An object the cell only reads, that a converter turns into a record,
        was recorded as the cell's input and output (a new record each time)."""

        class Frame:
            def __init__(self, path):
                self.path = path

        lineage.register_converter(Frame, lambda f: DataSet(uri=f.path, name="frame"))
        try:
            shell.user_ns["df"] = Frame("s3://nb/frame.csv")
            assert run(shell, "%%track count\nn = len(df.path)\n").success
        finally:
            lineage.unregister_converter(Frame)
        store = lineage.Store(url=sqlite_url)
        e = mr.one_execution(store, "count")
        assert mr.paths(store, e.id) == [("INPUT", ("df",), "s3://nb/frame.csv")]


class TestSecondReviewOfTheMagic:
    def test_a_converted_object_the_cell_changes_is_an_output(self, shell, sqlite_url):
        """The fix for converted inputs dropped real outputs: an object whose
        path the cell changed, a new object in the variable; and a list of
        converted objects the cell only read was still a self-loop."""

        class Frame:
            def __init__(self, path):
                self.path = path

        lineage.register_converter(Frame, lambda f: DataSet(uri=f.path, name="frame"))
        try:
            shell.user_ns.update(df=Frame("s3://nb2/a.csv"), frames=[Frame("s3://nb2/l.csv")])
            assert run(shell, "%%track change\ndf.path = 's3://nb2/b.csv'\n").success
            assert run(shell, "%%track read-list\nn = len(frames)\n").success
        finally:
            lineage.unregister_converter(Frame)
        store = lineage.Store(url=sqlite_url)
        changed = mr.one_execution(store, "change")
        assert sorted(mr.paths(store, changed.id)) == [("INPUT", ("df",), "s3://nb2/a.csv"), ("OUTPUT", ("df",), "s3://nb2/b.csv")]
        read = mr.one_execution(store, "read-list")
        assert mr.paths(store, read.id) == [("INPUT", ("frames", 0), "s3://nb2/l.csv")]

    def test_the_notebooks_own_future_imports_apply_in_a_tracked_cell(self, shell):
        """dont_inherit dropped the notebook's `from __future__ import
        annotations`: a cell with a not-yet-defined annotation failed."""
        assert run(shell, "from __future__ import annotations").success
        result = run(shell, "%%track t\ndef later(x: NotDefinedYet) -> int:\n    return 1\nhints = later.__annotations__\n")
        assert result.success, result.error_in_exec
        assert shell.user_ns["hints"]["x"] == "NotDefinedYet"


    def test_a_variable_the_cell_fixes_is_an_output(self, shell, sqlite_url):
        """A variable that could not be looked into before the cell was also
        skipped after it: a record the cell put there was lost."""

        class Broken:
            path = "s3://nb3/broken"

        def refuse(obj):
            raise RuntimeError("cannot convert")

        lineage.init(strict=False)
        lineage.register_converter(Broken, refuse)
        import warnings

        try:
            shell.user_ns["bad"] = Broken()
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                result = run(shell, "%%track fix\nbad = DataSet(uri=bad.path, name='fixed')\n")
        finally:
            lineage.unregister_converter(Broken)
        assert result.success, result.error_in_exec
        store = lineage.Store(url=sqlite_url)
        assert mr.paths(store, mr.one_execution(store, "fix").id) == [("OUTPUT", ("bad",), "s3://nb3/broken")]

    @pytest.mark.parametrize(
        "body",
        [
            "%time model = DataSet(uri=raw.uri + '.pt', name='m')\n",
            "%%time\nmodel = DataSet(uri=raw.uri + '.pt', name='m')\n",
            "%%capture\nmodel = DataSet(uri=raw.uri + '.pt', name='m')\n",
            "%%capture out --no-stderr\n!true\nmodel = DataSet(uri=raw.uri + '.pt', name='m')\n",
            "%%time\n%config Application.log_level = 'WARN'\nmodel = DataSet(uri=raw.uri + '.pt', name='m')\n",
            "%time %time model = DataSet(uri=raw.uri + '.pt', name='m')\n",
            "%prun -q model = DataSet(uri=raw.uri + '.pt', name='m')\n",
            "%%prun -q -s cumulative\nmodel = DataSet(uri=raw.uri + '.pt', name='m')\n",
        ],
    )
    def test_code_a_time_magic_runs_is_the_cells(self, shell, sqlite_url, body):
        """%time model = fit(raw): the line is a string to Python once IPython
        has read it, and the cell had no input and no output."""
        assert run(shell, 'raw = DataSet(uri="s3://nb4/raw.csv", name="raw")').success
        result = run(shell, "%%track fit\n" + body)
        assert result.success, result.error_in_exec
        store = lineage.Store(url=sqlite_url)
        assert sorted(mr.paths(store, mr.one_execution(store, "fit").id)) == [
            ("INPUT", ("raw",), "s3://nb4/raw.csv"),
            ("OUTPUT", ("model",), "s3://nb4/raw.csv.pt"),
        ]


@pytest.mark.parametrize(
    "last, shown",
    [
        ("z.uri  # fit; then save", True),
        ("z.uri  # fit;", True),
        ("z.uri + ';'", True),
        ("(z.uri,\n ';')", True),
        ("z.uri;  # quiet", False),
        ("z.uri;\n# the end", False),
        ("z.uri ;  ", False),
    ],
)
def test_a_semicolon_in_a_comment_or_a_string_does_not_hide_the_value(shell, last, shown):
    """IPython hides a cell's value when its last token is a ';': the magic
    looked at the last character, so a comment ending in ';' hid the value
    and a ';' before a comment did not."""
    # In the history, as a notebook runs cells: IPython reads a cell's ';' there.
    result = shell.run_cell(f"%%track semi\nz = DataSet(uri='s3://nb/z', name='z')\n{last}", store_history=True)
    assert result.success, result.error_in_exec
    plain = shell.run_cell(f"z = DataSet(uri='s3://nb/z', name='z')\n{last}", store_history=True)
    assert (result.result is not None, plain.result is not None) == (shown, shown)


@pytest.mark.parametrize(
    "kind, call",
    [
        ("def", "fit(DataSet(uri='s3://nb/d', name='d'))"),
        ("generator", "list(fit(DataSet(uri='s3://nb/d', name='d')))"),
        ("async def", "await fit(DataSet(uri='s3://nb/d', name='d'))"),
        ("async generator", "[x async for x in fit(DataSet(uri='s3://nb/d', name='d'))]"),
    ],
)
def test_a_tracked_functions_error_shows_no_frame_of_lineage(shell, capsys, kind, call):
    """An exception raised in a @track function (a generator, a coroutine),
    shown by IPython, points at the cell and the function only: lineage's
    wrapper frames between them are hidden (``__tracebackhide__``), as
    pytest hides its own."""
    head = "async def" if kind.startswith("async") else "def"
    body = "    yield 1\n" if kind.endswith("generator") else ""
    assert run(shell, f"@lineage.track\n{head} fit(d):\n{body}    raise ValueError('bad column')\n").success
    capsys.readouterr()
    result = run(shell, call)
    assert isinstance(result.error_in_exec, ValueError)
    shown = capsys.readouterr().out
    assert "bad column" in shown and "fit" in shown
    assert "_scope.py" not in shown, shown
