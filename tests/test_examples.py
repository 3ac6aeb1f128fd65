"""The examples run on a fresh embedded store and record what they say."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import lineage
from tests import mlmd_reads as mr

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["LINEAGE_HOME"] = str(home)
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


class TestExamples:
    def test_quickstart_pipeline(self, tmp_path):
        """The demo pipeline records prepare -> train -> evaluate -> register and prints the graph."""
        out = run_example("quickstart.py", tmp_path)
        store = lineage.Store(url=f"sqlite:///{tmp_path / 'lineage.db'}")
        names = [e.properties["name"].string_value for e in mr.executions(store)]
        assert names == ["prepare", "train", "evaluate", "register"]
        assert all(mr.state(e) == "COMPLETE" for e in mr.executions(store))
        assert "register #4 COMPLETE" in out and "prepare #1 COMPLETE" in out
        [train] = mr.executions(store, "train")
        assert [k for k, _, _ in mr.events(store, train.id)] == ["INPUT", "OUTPUT"]

    def test_kubeflow_style(self, tmp_path):
        """The imperative (Kubeflow SDK) example records two executions and three artifacts."""
        out = run_example("kubeflow_style.py", tmp_path)
        assert "models in workspace: 1, data sets: 1, metrics: 1" in out


def test_the_readmes_store_table_lists_every_url_form_lineage_takes():
    """The table left out file:///abs/path.db, which every URL error lists as supported."""
    from lineage.store._url import SUPPORTED, parse_store_url

    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    rows = [row for row in readme.split("## Stores", 1)[1].splitlines() if row.startswith("| `")]
    urls = [url for row in rows for url in re.findall(r"`([a-z]+://[^`]*)`", row.split(" | ")[0])]
    forms = [form.strip() for form in SUPPORTED.removeprefix("Supported: ").split(",")]
    assert [form for form in forms if form.split("://")[0] not in {url.split("://")[0] for url in urls}] == []
    for url in urls:
        if "root_certificates" not in url:  # the certificate files do not exist here
            parse_store_url(url.replace(":port", ":1"))
