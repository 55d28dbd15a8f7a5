"""The `linkage` suite: candidate pairs of one child screened twice, on 100,000 screenings.

The demo generator (`fieldscreen.demo.duplicates`) plants 5 % second screenings of a
child, with a letter heard differently, an age a year off (half of them with the birth
year too) and another area, at known positions. The suite times `candidate_pairs` (blocking,
comparison and scoring with recordlinkage) with and without the pseudonymous child code,
after one warm-up run (recordlinkage, pandas and scikit-learn are imported once per
console session), and reports precision and recall of the listed pairs against the planted
ones. Targets (issue 22): precision >= 0.95 at recall >= 0.90, scoring 100k under 10 s.
"""

from __future__ import annotations

import sys
import time

from bench.core import Result, Target

SUITE = "linkage"
SCREENINGS = 100_000


def _quality(listed: set[tuple[int, int]], planted: set[tuple[int, int]]) -> tuple[float, float]:
    true = len(listed & planted)
    return true / max(1, len(listed)), true / max(1, len(planted))


def run(quick: bool) -> list[Result]:
    from fieldscreen.demo.duplicates import planted_duplicates
    from fieldscreen.reporting.facts import build_facts
    from fieldscreen.reporting.linkage import candidate_pairs

    size = 20_000 if quick else SCREENINGS
    print(f"linkage: generating {size} screenings", file=sys.stderr)
    demo = planted_duplicates(size)
    facts = build_facts(demo.rows)
    candidate_pairs(facts, demo.codes)  # warm-up: imports and first-call costs
    results = []
    for label, codes in (("with the child code", demo.codes), ("quasi-identifiers only", None)):
        samples, found = [], None
        for _run in range(1 if quick else 3):
            started = time.perf_counter_ns()
            found = candidate_pairs(facts, codes)
            samples.append(time.perf_counter_ns() - started)
        assert found is not None
        listed = {(min(a, b), max(a, b))
                  for a, b in zip(found.left.tolist(), found.right.tolist(), strict=True)}
        precision, recall = _quality(listed, demo.pairs)
        met = precision >= 0.95 and recall >= 0.90
        results.append(Result(
            SUITE, f"score {size} screenings, {label}", samples,
            target=Target("median", 10_000.0),
            note=(f"{len(demo.pairs)} planted pairs, {len(listed)} listed: precision "
                  f"{precision:.3f}, recall {recall:.3f} (target P >= 0.95 at R >= 0.90: "
                  f"{'met' if met else 'not met'})")))
    return results
