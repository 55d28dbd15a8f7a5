"""New record ids are version 7 UUIDs in creation order that every reader accepts."""

from __future__ import annotations

import datetime as dt
import uuid

from fieldscreen.exchange.batch import RECORD_ID
from fieldscreen.store.record_ids import new_record_id
from tests.store_helpers import create_profile

MOMENT = dt.datetime(2026, 11, 30, 8, 15, 0, 123000, tzinfo=dt.UTC)


def test_an_id_is_a_version_7_uuid_carrying_its_creation_millisecond():
    record_id = new_record_id(MOMENT)
    parsed = uuid.UUID(record_id)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert str(parsed) == record_id and RECORD_ID.match(record_id)
    assert parsed.int >> 80 == int(MOMENT.timestamp() * 1000)


def test_ids_sort_in_creation_order_and_never_repeat():
    moments = [MOMENT + dt.timedelta(milliseconds=n) for n in range(0, 5000, 7)]
    ids = [new_record_id(moment) for moment in moments]
    assert ids == sorted(ids)
    same_millisecond = {new_record_id(MOMENT) for _ in range(2000)}
    assert len(same_millisecond) == 2000


def test_records_saved_on_a_laptop_get_version_7_ids(tmp_path):
    _store, profile = create_profile(tmp_path / "data")
    try:
        summary = profile.records.save_final("child-screening", "2026.11.0",
                                             {"worker_note": "x"}, {"d": "urgent"})
        assert uuid.UUID(summary.id).version == 7
    finally:
        profile.lock()
