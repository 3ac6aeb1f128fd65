"""The lineage command: --version, --help, ls, status."""

from __future__ import annotations

import subprocess
import sys

import lineage
from lineage import DataSet, Execution, Model, Workspace
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

    def test_bad_store_url_is_a_clear_error(self, capsys):
        """A bad --store URL exits 2 with the reason."""
        assert main(["ls", "--store", "nope://x"]) == 2
        assert "unknown scheme 'nope'" in capsys.readouterr().err

    def test_status_with_an_empty_spool(self, sqlite_url, capsys):
        """lineage status says the store answers and the spool is empty."""
        assert main(["status", "--store", sqlite_url]) == 0
        out = capsys.readouterr().out
        assert "answers" in out and "spooled writes: 0" in out
