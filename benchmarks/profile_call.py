"""Profile the tracked call that benchmarks/run.py measures.

    .venv/bin/pip install pyinstrument      # not a dependency of lineage
    .venv/bin/python benchmarks/profile_call.py [--calls 1000] [--two-writes] [--store URL] [--no-mlmd | --phases]

With pyinstrument installed it prints its call tree; otherwise cProfile's
top functions by own time. ``--no-mlmd`` replaces MLMD's calls by stubs to
show lineage's own Python cost alone. ``--phases`` profiles nothing: it
times, call by call, the Python before and after the write and the
write itself, for lineage and for raw MLMD writing the same record,
alternating (the figures ``make bench`` compares, taken apart).
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
os.environ.setdefault("GLOG_minloglevel", "3")

import _subjects  # noqa: E402

import lineage  # noqa: E402


def stub_mlmd() -> None:
    """Answer put_execution and lookups without MLMD (ids from a counter)."""
    from lineage.store import _backend

    ids = itertools.count(10_000)
    real = _backend.Backend.call

    def call(self, method, *args, **kwargs):  # type: ignore[no-untyped-def]
        if method == "put_execution":
            return next(ids), [next(ids) for _ in args[1]], [1, 2]
        if method == "put_lineage_subgraph":
            return [next(ids)], [next(ids) for _ in args[1]], [1, 2]
        if method == "get_artifacts_by_external_ids":
            return []
        return real(self, method, *args, **kwargs)

    _backend.Backend.call = call  # type: ignore[method-assign]


def phases(store: lineage.Store, call: _subjects.Tracked, calls: int, two_writes: bool) -> None:
    """Median microseconds of Python before the first write, inside the
    writes (MLMD's Python client included), and after them (with any Python
    between two writes), per call. Raw MLMD writes as lineage does: one
    put_lineage_subgraph for the short call's 3 artifacts, put_execution for
    the two writes of 2 and 1."""
    import _stores
    from ml_metadata.metadata_store import metadata_store

    _, contexts = _subjects.capture_contexts(call)
    mlmd = _stores.mlmd_for(store)
    raw = _subjects.RawMLMD(mlmd, mlmd.get_executions()[-1].id, contexts)
    raw_call = raw.two_writes if two_writes else raw.one_subgraph
    marks: list = []
    clock = time.perf_counter

    def timing(real):  # type: ignore[no-untyped-def]
        def timed(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            marks.append(clock())
            try:
                return real(self, *args, **kwargs)
            finally:
                marks.append(clock())

        return timed

    for method in ("put_execution", "put_lineage_subgraph"):
        setattr(metadata_store.MetadataStore, method, timing(getattr(metadata_store.MetadataStore, method)))
    rows: dict = {"lineage": ([], [], []), "raw MLMD": ([], [], [])}
    for _ in range(calls):
        for name, fn in (("lineage", call), ("raw MLMD", raw_call)):
            marks.clear()
            start = clock()
            fn()
            end = clock()
            before, inside, after = rows[name]
            before.append(marks[0] - start)
            inside.append(sum(marks[i + 1] - marks[i] for i in range(0, len(marks), 2)))
            after.append(end - marks[-1] + sum(marks[i + 1] - marks[i] for i in range(1, len(marks) - 1, 2)))
    print(f"{'':10} {'Python before':>14} {'the write(s)':>14} {'Python after':>13}   (median us per call)")
    for name, (before, inside, after) in rows.items():
        med = [statistics.median(x) * 1e6 for x in (before, inside, after)]
        print(f"{name:10} {med[0]:14.1f} {med[1]:14.1f} {med[2]:13.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--two-writes", action="store_true", help="start_delay=0: the RUNNING state is written first")
    parser.add_argument("--store", default=None, help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--no-mlmd", action="store_true", help="stub MLMD out: lineage's own cost only")
    parser.add_argument("--phases", action="store_true", help="time the Python around the writes, lineage vs raw")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="lineage-profile-")
    os.environ["LINEAGE_HOME"] = folder
    lineage.init(strict=True)
    store = lineage.Store(url=args.store or f"sqlite:///{os.path.join(folder, 'profile.db')}")
    call = _subjects.Tracked(store, start_delay=0 if args.two_writes else None)
    for _ in range(50):
        call()
    if args.phases:
        phases(store, call, args.calls, args.two_writes)
        return
    if args.no_mlmd:
        stub_mlmd()
        for _ in range(50):
            call()
    try:
        from pyinstrument import Profiler
    except ImportError:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.calls):
            call()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(40)
        return
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(args.calls):
        call()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
