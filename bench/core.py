"""Measures timings and holds the result and target types that every benchmark suite returns.

A suite is a module with `run(quick: bool) -> list[Result]` (see bench/README.md). This
module gives it `measure()` to time a callable with warm-up runs and a time budget, and
`Result`/`Target` to describe what was measured and what it should reach.
"""

from __future__ import annotations

import gc
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Metric = Literal["median", "p95", "ratio"]

# At least this many samples per case, whatever the time budget says: a median of fewer
# is noise.
MIN_RUNS = 3


@dataclass(frozen=True, slots=True)
class Target:
    """What a case should reach; reported as PASS/FAIL, never enforced.

    Attributes:
        metric: "median" or "p95" (milliseconds), or "ratio" (this case's median divided
            by its baseline's median, both measured in the same run).
        limit: the bound, in milliseconds for times, unitless for ratios.
        strict: whether the value must be strictly below `limit` (e.g. "faster than").
    """

    metric: Metric
    limit: float
    strict: bool = False

    def describe(self) -> str:
        """The target as shown in the table, e.g. 'median <= 2 ms' or 'ratio < 1'."""
        op = "<" if self.strict else "<="
        unit = "" if self.metric == "ratio" else " ms"
        return f"{self.metric} {op} {self.limit:g}{unit}"

    def met_by(self, value: float) -> bool:
        """Whether `value` (ms for times, unitless for ratios) meets the target."""
        return value < self.limit if self.strict else value <= self.limit


@dataclass(slots=True)
class Result:
    """The timings of one benchmark case, and how to judge them.

    Attributes:
        suite: the suite's name (its module name).
        case: a short description of what was timed, unique within the suite.
        samples_ns: one duration per measured run, in nanoseconds; empty when skipped.
        baseline: the `case` of another result in the same suite to compare against;
            the runner computes the ratio of the medians.
        target: the goal for this case, if it has one.
        note: extra context printed under the table (sizes, what the case includes).
        skipped: why the case was not measured; None when it was.
    """

    suite: str
    case: str
    samples_ns: list[int] = field(default_factory=list)
    baseline: str | None = None
    target: Target | None = None
    note: str = ""
    skipped: str | None = None
    # Filled in by the runner once every result of the run is known.
    ratio: float | None = None
    met: bool | None = None

    @property
    def runs(self) -> int:
        return len(self.samples_ns)

    @property
    def median_ns(self) -> float:
        return float(statistics.median(self.samples_ns))

    @property
    def p95_ns(self) -> float:
        return float(percentile(self.samples_ns, 95))

    @property
    def min_ns(self) -> float:
        return float(min(self.samples_ns))

    @property
    def max_ns(self) -> float:
        return float(max(self.samples_ns))

    def to_json(self) -> dict[str, Any]:
        """The result as plain JSON data (times in nanoseconds)."""
        measured = bool(self.samples_ns)
        return {
            "suite": self.suite,
            "case": self.case,
            "runs": self.runs,
            "median_ns": self.median_ns if measured else None,
            "p95_ns": self.p95_ns if measured else None,
            "min_ns": self.min_ns if measured else None,
            "max_ns": self.max_ns if measured else None,
            "mean_ns": statistics.fmean(self.samples_ns) if measured else None,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": None if self.target is None else {
                "metric": self.target.metric,
                "limit": self.target.limit,
                "strict": self.target.strict,
                "text": self.target.describe(),
            },
            "met": self.met,
            "note": self.note,
            "skipped": self.skipped,
        }


def percentile(samples: list[int], pct: float) -> int:
    """The nearest-rank percentile of `samples` (no interpolation: always a real sample)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def measure(
    fn: Callable[[], object],
    *,
    runs: int,
    warmup: int,
    budget_s: float,
    setup: Callable[[], object] | None = None,
) -> list[int]:
    """Time `fn()` repeatedly and return one duration per run, in nanoseconds.

    Warm-up runs fill caches (imports, regex compilation, the allocator) and are not
    recorded. Measuring stops after `runs` samples or once `budget_s` seconds have been
    spent measuring, whichever comes first, but never before `MIN_RUNS` samples.

    Args:
        fn: the operation to time; its result is discarded.
        runs: the number of samples wanted.
        warmup: runs made before measuring.
        budget_s: the measuring time after which no new run is started.
        setup: called before each run, outside the timed region.

    Returns:
        The durations of the measured runs.
    """
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    # Start from a clean heap so garbage from earlier cases is not collected on our clock.
    gc.collect()
    samples: list[int] = []
    clock = time.perf_counter_ns
    deadline = clock() + int(budget_s * 1e9)
    while len(samples) < runs and (len(samples) < MIN_RUNS or clock() < deadline):
        if setup is not None:
            setup()
        start = clock()
        fn()
        samples.append(clock() - start)
    return samples


def measure_alternating(
    first: Callable[[], object],
    second: Callable[[], object],
    *,
    runs: int,
    warmup: int,
    budget_s: float,
) -> tuple[list[int], list[int]]:
    """Time two operations in turns (first, second, first, ...) for a fair ratio.

    Alternating spreads any drift of the machine (frequency scaling, a neighbour's load)
    over both operations instead of charging it to whichever ran second.

    Args:
        first: one operation; its result is discarded.
        second: the other operation.
        runs: the number of samples wanted for each.
        warmup: runs of each made before measuring.
        budget_s: the measuring time (both operations together) after which no new pair
            is started.

    Returns:
        The durations of `first`'s runs and of `second`'s runs, in nanoseconds.
    """
    for _ in range(warmup):
        first()
        second()
    gc.collect()
    samples: tuple[list[int], list[int]] = ([], [])
    clock = time.perf_counter_ns
    deadline = clock() + int(budget_s * 1e9)
    while len(samples[0]) < runs and (len(samples[0]) < MIN_RUNS or clock() < deadline):
        for fn, out in ((first, samples[0]), (second, samples[1])):
            start = clock()
            fn()
            out.append(clock() - start)
    return samples


def progress(message: str) -> None:
    """Tell the person waiting what is being measured (stderr, so stdout stays the table)."""
    print(message, file=sys.stderr, flush=True)


def format_ns(ns: float) -> str:
    """A duration with a unit that keeps 3-4 significant digits: '812 us', '12.4 ms', '1.23 s'."""
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f} us"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.3f} s"
