"""Timing that survives a noisy machine: cases run in turn (A B A B ...), medians, and a paired interval.

On a shared machine the load changes while a benchmark runs. Timing the baseline's repeats and
then the candidate's would hand one of them the quiet minutes; running them in turn exposes both
to the same load, round by round. Round i's baseline and round i's candidate form a pair, and the
interval of the speedup is a bootstrap over whole pairs, so a slowdown that hits both halves of a
pair moves the medians but barely the interval, while a spike in one half of some pairs widens it.
A wide interval marks the case ``noisy``: a reading to repeat on a quiet machine, not a finding.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

NOISY_WIDTH = 0.25  # an interval whose high end is more than 1.25x its low end says more about the load
LEVEL = 0.95  # the interval's coverage
RESAMPLES = 2000  # bootstrap resamples (cheap: the samples are a handful of numbers)


def alternate(
    cases: Mapping[str, Callable[[], object]],
    rounds: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds per call of each case, the cases called in turn ``rounds`` times after ``warmup`` untimed rounds."""
    for _ in range(warmup):
        for run in cases.values():
            run()
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, run in cases.items():
            start = clock()
            run()
            seconds[name].append(clock() - start)
    return seconds


def spread(samples: Sequence[float]) -> float:
    """Half the samples' range relative to their median: 0.05 reads as ±5%."""
    middle = statistics.median(samples)
    return (max(samples) - min(samples)) / 2 / middle if middle else float("nan")


def speedup(baseline: Sequence[float], candidate: Sequence[float], higher_is_better: bool) -> float:
    """How much better the candidate's median is than the baseline's (> 1: the candidate wins)."""
    base, cand = statistics.median(baseline), statistics.median(candidate)
    if higher_is_better:
        return cand / base if base else float("nan")
    return base / cand if cand else float("nan")


def interval(
    baseline: Sequence[float],
    candidate: Sequence[float],
    higher_is_better: bool,
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``speedup``, resampling pairs (round i's baseline with its candidate)."""
    if len(baseline) != len(candidate):
        raise ValueError(f"{len(baseline)} baseline samples but {len(candidate)} candidate samples: not paired")
    n = len(baseline)
    if n < 2:
        point = speedup(baseline, candidate, higher_is_better)
        return point, point
    rng = random.Random(seed)  # fixed: the same samples always give the same interval
    stats = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        stats.append(speedup([baseline[i] for i in picks], [candidate[i] for i in picks], higher_is_better))
    stats.sort()
    tail = (1 - level) / 2
    return stats[round(tail * (resamples - 1))], stats[round((1 - tail) * (resamples - 1))]


@dataclass(frozen=True)
class Comparison:
    """A baseline and a candidate measured in alternation: medians, spreads, speedup and its interval."""

    baseline: float  # median of the baseline's samples
    candidate: float
    baseline_spread: float  # half the range relative to the median
    candidate_spread: float
    speedup: float  # > 1: the candidate is better
    low: float  # the speedup's interval
    high: float
    pairs: int
    noisy: bool  # too wide an interval (or a single pair) to count as a finding


def compare(baseline: Sequence[float], candidate: Sequence[float], higher_is_better: bool, seed: int = 0) -> Comparison:
    """The comparison of paired samples (values in the entry's unit: seconds, or a rate)."""
    low, high = interval(baseline, candidate, higher_is_better, seed=seed)
    # One pair cannot show how much the machine moved, so it never counts as a finding.
    noisy = len(baseline) < 2 or not low > 0 or high / low > 1 + NOISY_WIDTH
    return Comparison(
        baseline=statistics.median(baseline),
        candidate=statistics.median(candidate),
        baseline_spread=spread(baseline),
        candidate_spread=spread(candidate),
        speedup=speedup(baseline, candidate, higher_is_better),
        low=low,
        high=high,
        pairs=len(baseline),
        noisy=noisy,
    )


def rates(work: float, seconds: Sequence[float]) -> list[float]:
    """Per-sample rates (work per second) from per-sample seconds."""
    return [work / s for s in seconds]
