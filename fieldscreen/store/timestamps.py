"""How times are written in a profile database: UTC, ISO 8601, with a trailing Z."""

from __future__ import annotations

import datetime as dt


def utc_stamp(moment: dt.datetime) -> str:
    """`moment` to the second, e.g. 2026-11-23T05:04:16Z (records, ledger, outbox)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def precise_utc_stamp(moment: dt.datetime) -> str:
    """`moment` to the microsecond, where order within a second matters (audit, unlocks)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
