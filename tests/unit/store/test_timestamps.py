"""Stored times: UTC with a trailing Z, whatever the zone of the moment given."""

from __future__ import annotations

import datetime as dt

from fieldscreen.store.timestamps import precise_utc_stamp, utc_stamp

KABUL = dt.timezone(dt.timedelta(hours=4, minutes=30))


def test_stamps_are_utc_whatever_the_zone():
    moment = dt.datetime(2026, 1, 1, 2, 15, 7, 123456, tzinfo=KABUL)
    assert utc_stamp(moment) == "2025-12-31T21:45:07Z"
    assert precise_utc_stamp(moment) == "2025-12-31T21:45:07.123456Z"


def test_precise_stamps_sort_in_time_order_within_a_second():
    base = dt.datetime(2026, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    stamps = [precise_utc_stamp(base + dt.timedelta(microseconds=n)) for n in (9, 10, 100)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
