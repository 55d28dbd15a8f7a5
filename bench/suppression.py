"""The `suppression` suite: publishing one dashboard view with complementary suppression.

Each dashboard refresh and each export now runs `suppression.publish`: primary
suppression, then cells hidden until the linear-programming audit finds every hidden
count's range at least the threshold wide. Its cost depends on how many cells are hidden,
not on how many records there are, so the suite times views of a few dozen to a few
thousand synthetic screenings (many small cells) and one of 100,000 (few). The target is
that of a refresh the eye does not wait for: median under 100 ms, p95 under 500 ms.
"""

from __future__ import annotations

import random
import time

from bench.core import Result, Target

SUITE = "suppression"


def run(quick: bool) -> list[Result]:
    from fieldscreen.demo.duplicates import planted_duplicates
    from fieldscreen.reporting.dashboard import DashboardFilter, disaggregate
    from fieldscreen.reporting.facts import build_facts
    from fieldscreen.reporting.suppression import publish

    rng = random.Random(5)
    sizes = [30, 60, 150, 400, 2000] * (2 if quick else 6)
    samples, hidden = [], []
    for size in sizes:
        demo = planted_duplicates(size, seed=rng.randrange(1000), areas=5)
        view = disaggregate(build_facts(demo.rows), DashboardFilter())
        started = time.perf_counter_ns()
        published = publish(view, 5)
        samples.append(time.perf_counter_ns() - started)
        hidden.append(len(published.hidden))
    large = disaggregate(build_facts(planted_duplicates(100_000).rows))
    large_samples = []
    for _run in range(3):
        started = time.perf_counter_ns()
        large_hidden = len(publish(large, 5).hidden)
        large_samples.append(time.perf_counter_ns() - started)
    return [
        Result(SUITE, "publish a small view (30 to 2,000 screenings)", samples,
               target=Target("p95", 500.0),
               note=f"{len(sizes)} views; hidden cells per view {min(hidden)} to {max(hidden)}"),
        Result(SUITE, "publish a view of 100,000 screenings", large_samples,
               target=Target("median", 100.0), note=f"{large_hidden} hidden cells"),
    ]
