"""Paired, interleaved timing on a noisy machine.

Every round times each variant once. The variants of a compared pair (a
lineage call and the raw MLMD writes it is measured against) run back to
back, in a random order, so that a burst of noise (another process, a disk
flush) hits both alike and neither always runs with the caches the other
left; the pairs and the other variants run in an order shuffled from round
to round, so that no variant always follows the same one (a heavy MLflow
run leaves every cache cold). Figures are medians; a ratio is the median of
the per-round ratios (paired), not the ratio of two medians.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

Timings = Dict[str, List[float]]


def interleaved(
    variants: Mapping[str, Callable[[], object]],
    rounds: int,
    warmup: int = 5,
    seed: int = 0,
    pairs: Sequence[Tuple[str, str]] = (),
    settle: float = 0.0,
) -> Timings:
    """Time every variant *rounds* times, interleaved; seconds per call.

    Args:
        pairs: Variants to run back to back (in a random order) each round.
        settle: Seconds to wait (untimed) before each timed call.
    """
    names = list(variants)
    blocks: List[List[str]] = [list(pair) for pair in pairs if all(n in variants for n in pair)]
    paired = {name for block in blocks for name in block}
    blocks += [[name] for name in names if name not in paired]
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
        order.shuffle(blocks)
        for block in blocks:
            order.shuffle(block)
        for name in (name for block in blocks for name in block):
            fn = variants[name]
            if settle:
                time.sleep(settle)
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
