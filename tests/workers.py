"""Worker processes for the fault and concurrency tests.

    python -m tests.workers track --n 200 --prefix job [--sleep 0.01]

makes ``n`` tracked calls ``step(DataSet s3://in/<prefix>/<i>) -> Model
file:///out/<prefix>/<i>`` into the store named by LINEAGE_STORE, printing
"done <i>" after each, and exits 0 (lineage never raises into the calls).
"""

from __future__ import annotations

import argparse
import sys
import time

import lineage
from lineage import DataSet, Model, track


@track
def step(data: DataSet, i: int) -> Model:
    return Model(uri=data.uri.replace("s3://in/", "file:///out/"), name=f"model-{i}", version="1")


def step_on(data: DataSet, uri: str) -> int:
    """In a pool worker: a DataSet the parent logged, set to another file and
    used by a tracked call; the id it is then recorded as."""
    data.uri = uri
    step(data, 0)
    assert data.id is not None
    return data.id


class Trainer:
    """Tracked methods of every kind, for the pickling tests."""

    def __init__(self, k: int) -> None:
        self.k = k

    @track
    def fit(self, data: DataSet) -> Model:
        return Model(uri=f"{data.uri}/model-{self.k}", name="model")

    @track
    @classmethod
    def make(cls, k: int) -> "Trainer":
        return cls(k)

    @track
    @staticmethod
    def helper(x: int) -> int:
        return x + 1


def track_main(args: argparse.Namespace) -> int:
    lineage.init(workspace=args.workspace, start_delay=args.start_delay)
    for i in range(args.n):
        step(DataSet(uri=f"s3://in/{args.prefix}/{i}", name=f"data-{i}"), i)
        print(f"done {i}", flush=True)
        if args.sleep:
            time.sleep(args.sleep)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("track")
    t.add_argument("--n", type=int, default=10)
    t.add_argument("--prefix", default="job")
    t.add_argument("--workspace", default="faults")
    t.add_argument("--sleep", type=float, default=0.0)
    t.add_argument("--start-delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    return track_main(args)


if __name__ == "__main__":
    sys.exit(main())
