"""Memory of a process making many tracked calls (run by run.py in a subprocess).

Prints one JSON object: samples of the Python heap (tracemalloc, current
and peak) and of the resident set, every ``calls / samples`` calls.

    python benchmarks/memory_probe.py STORE_URL CALLS SAMPLES
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _subjects import Tracked  # noqa: E402

import lineage  # noqa: E402


def status_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in KiB. (ru_maxrss is
    no use here: after exec it still counts the parent's pages.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main() -> None:
    url, calls, samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    lineage.init(strict=True)
    call = Tracked(lineage.Store(url=url))
    for _ in range(50):  # imports, type registration, caches
        call()
    gc.collect()
    tracemalloc.start()
    every = max(1, calls // samples)
    out = []
    for index in range(1, calls + 1):
        call()
        if index % every == 0:
            current, peak = tracemalloc.get_traced_memory()
            out.append(
                {
                    "calls": index,
                    "heap_kib": current // 1024,
                    "heap_peak_kib": peak // 1024,
                    "rss_kib": status_kib("VmRSS"),
                    "peak_rss_kib": status_kib("VmHWM"),
                }
            )
    json.dump({"samples": out}, sys.stdout)


if __name__ == "__main__":
    main()
