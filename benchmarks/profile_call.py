"""Profile the tracked call that benchmarks/run.py measures.

    .venv/bin/pip install pyinstrument      # not a dependency of lineage
    .venv/bin/python benchmarks/profile_call.py [--calls 1000] [--two-writes] [--store URL]

With pyinstrument installed it prints its call tree; otherwise cProfile's
top functions by own time. ``--no-mlmd`` replaces MLMD's calls by stubs to
show lineage's own Python cost alone.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import sys
import tempfile

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
        if method == "get_artifacts_by_external_ids":
            return []
        return real(self, method, *args, **kwargs)

    _backend.Backend.call = call  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--two-writes", action="store_true", help="start_delay=0: the RUNNING state is written first")
    parser.add_argument("--store", default=None, help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--no-mlmd", action="store_true", help="stub MLMD out: lineage's own cost only")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="lineage-profile-")
    os.environ["LINEAGE_HOME"] = folder
    lineage.init(strict=True)
    store = lineage.Store(url=args.store or f"sqlite:///{os.path.join(folder, 'profile.db')}")
    call = _subjects.Tracked(store, start_delay=0 if args.two_writes else None)
    for _ in range(50):
        call()
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
