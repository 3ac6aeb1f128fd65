"""Paired, interleaved timing on a noisy machine.

Every round times each variant once, in an order shuffled from round to
round, so that a burst of noise (another process, a disk flush) hits all of
them alike, and no variant always runs after the same one (a rotated order
keeps neighbours: the variant after a heavy one would always start with
cold caches). Figures are medians; a ratio is the median of the per-round
ratios (paired), not the ratio of two medians.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from typing import Callable, Dict, List, Mapping, Sequence

Timings = Dict[str, List[float]]


def interleaved(variants: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 5, seed: int = 0) -> Timings:
    """Time every variant *rounds* times, interleaved; seconds per call."""
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    # Objects made so far (MLflow's and SQLAlchemy's modules, the stores)
    # are left out of garbage collection: a collection then costs what the
    # calls' own garbage costs, not what the other subjects' heaps do.
    gc.collect()
    gc.freeze()
    out: Timings = {name: [] for name in names}
    clock = time.perf_counter
    order = random.Random(seed)
    for _ in range(rounds):
        order.shuffle(names)
        for name in names:
            fn = variants[name]
            start = clock()
            fn()
            out[name].append(clock() - start)
    gc.unfreeze()
    return out


def median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1e3


def quartiles_ms(samples: Sequence[float]) -> List[float]:
    q = statistics.quantiles(samples, n=4)
    return [q[0] * 1e3, q[2] * 1e3]


def paired_ratio(timings: Timings, a: str, b: str) -> float:
    """Median over rounds of time(a) / time(b)."""
    return statistics.median(x / y for x, y in zip(timings[a], timings[b]))


def summary(timings: Timings) -> Dict[str, Dict[str, float]]:
    return {
        name: {"median_ms": median_ms(s), "p25_ms": quartiles_ms(s)[0], "p75_ms": quartiles_ms(s)[1], "n": len(s)}
        for name, s in timings.items()
    }
