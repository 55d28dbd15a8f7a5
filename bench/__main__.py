"""Runs the benchmark suites and prints (and optionally saves) their results with their targets.

Usage: python -m bench [SUITE ...] [--quick] [--json FILE]

Targets are reported, never enforced: the exit status is 0 unless a benchmark crashes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.core import Result, format_ns

# The registry: each name is a module bench/<name>.py with `run(quick: bool) ->
# list[Result]`. Add a suite by writing its module and listing it here.
SUITES: tuple[str, ...] = ("engine", "store", "exchange", "ui", "coordinator", "scale", "bundle",
                          "linkage", "suppression", "postgres")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen suites, print the table and the targets line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run FieldScreen's benchmarks. Targets are reported, not enforced.",
    )
    parser.add_argument("suites", nargs="*", metavar="SUITE",
                        help=f"suites to run (default: all): {', '.join(SUITES)}")
    parser.add_argument("--quick", action="store_true",
                        help="fewer samples per case: a smoke run, not a measurement")
    parser.add_argument("--json", metavar="FILE", type=Path,
                        help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(unknown)}; known: {', '.join(SUITES)}")
    chosen = list(dict.fromkeys(args.suites)) or list(SUITES)

    started = time.perf_counter()
    results: list[Result] = []
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        results.extend(module.run(args.quick))
    elapsed = time.perf_counter() - started

    judge(results)
    environment = describe_environment(args.quick, elapsed)
    print(render(results, environment))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(to_json(results, environment), indent=2) + "\n",
                             encoding="utf-8")
        print(f"results written to {args.json}")
    return 0


def judge(results: list[Result]) -> None:
    """Fill in each result's ratio to its baseline and whether it meets its target."""
    by_case = {(result.suite, result.case): result for result in results}
    for result in results:
        if result.baseline is not None and result.samples_ns:
            baseline = by_case.get((result.suite, result.baseline))
            if baseline is not None and baseline.samples_ns:
                result.ratio = result.median_ns / baseline.median_ns
        target = result.target
        if target is None or not result.samples_ns:
            continue
        if target.metric == "ratio":
            if result.ratio is not None:
                result.met = target.met_by(result.ratio)
        else:
            value_ns = result.median_ns if target.metric == "median" else result.p95_ns
            result.met = target.met_by(value_ns / 1e6)


def tally(results: list[Result]) -> tuple[int, int, int]:
    """How many targets were met, missed, and could not be judged (case skipped)."""
    targeted = [result for result in results if result.target is not None]
    met = sum(1 for result in targeted if result.met is True)
    missed = sum(1 for result in targeted if result.met is False)
    return met, missed, len(targeted) - met - missed


def describe_environment(quick: bool, elapsed: float) -> dict[str, Any]:
    """What the numbers depend on, printed above the table and saved with the JSON."""
    try:
        pyxform_version: str | None = metadata.version("pyxform")
    except metadata.PackageNotFoundError:
        pyxform_version = None
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "pyxform": pyxform_version,
        "quick": quick,
        "elapsed_s": round(elapsed, 1),
    }


def render(results: list[Result], environment: dict[str, Any]) -> str:
    """The plain-text report: environment, table, notes and the targets line."""
    header = ("suite", "case", "median", "p95", "min", "max", "runs", "ratio", "target",
              "status")
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    for result in results:
        if result.skipped is not None:
            rows.append((result.suite, result.case, "skipped", "", "", "", "0", "",
                         result.target.describe() if result.target else "",
                         "n/a" if result.target else ""))
            notes.append(f"{result.case}: SKIPPED: {result.skipped}")
            continue
        ratio = "" if result.ratio is None else f"{result.ratio:.2f}x"
        if result.target is None:
            status = ""
        else:
            status = {True: "PASS", False: "FAIL", None: "n/a"}[result.met]
        rows.append((
            result.suite, result.case, format_ns(result.median_ns), format_ns(result.p95_ns),
            format_ns(result.min_ns), format_ns(result.max_ns), str(result.runs), ratio,
            result.target.describe() if result.target else "", status,
        ))
        if result.baseline is not None and result.ratio is not None:
            notes.append(f"{result.case}: ratio = its median / median of '{result.baseline}'"
                         " (same run)")
        elif result.baseline is not None:
            notes.append(f"{result.case}: no ratio: '{result.baseline}' was not measured")
        if result.note:
            notes.append(f"{result.case}: {result.note}")
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    numeric = {2, 3, 4, 5, 6, 7}

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.rjust(width) if index in numeric else cell.ljust(width)
                 for index, (cell, width) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    env = environment
    out = [
        f"FieldScreen benchmarks{' (--quick)' if env['quick'] else ''}: "
        f"Python {env['python']} on {env['platform']}, {env['cpus']} CPUs, "
        f"pyxform {env['pyxform'] or 'not installed'}; {env['elapsed_s']} s",
        "",
        line(header),
        line(tuple("-" * width for width in widths)),
        *(line(row) for row in rows),
        "",
        "notes:",
        *(f"  {note}" for note in notes),
        "",
    ]
    met, missed, unjudged = tally(results)
    summary = f"targets: {met} met, {missed} missed"
    if unjudged:
        summary += f", {unjudged} not measured"
    out.append(summary)
    return "\n".join(out)


def to_json(results: list[Result], environment: dict[str, Any]) -> dict[str, Any]:
    """The run as JSON data: environment, every result (times in ns) and the target tally."""
    met, missed, unjudged = tally(results)
    return {
        "environment": environment,
        "results": [result.to_json() for result in results],
        "targets": {"met": met, "missed": missed, "not_measured": unjudged},
    }


if __name__ == "__main__":
    sys.exit(main())
