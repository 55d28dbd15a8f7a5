"""A record belongs to the device that first sent it (issue: trust under attack, finding 1).

The attack as reproduced: a second enrolled device sends a batch with laptop-1's record ids
at a huge version; the coordinator replaced three urgent referrals with blank records.
"""

from __future__ import annotations

import orjson
import pytest

from fieldscreen.exchange.batch import MAX_RECORD_VERSION, RefusalCode
from fieldscreen.store.audit import AuditAction
from tests.exchange_helpers import make_field, make_world, record_dict


@pytest.fixture
def world(tmp_path):
    world = make_world(tmp_path)
    yield world
    world.close()


def _stored(world) -> dict[str, tuple[int, str]]:
    rows = world.coordinator._database.connection.execute(
        "SELECT id, version, summary FROM imported_records").fetchall()
    return {row[0]: (row[1], row[2]) for row in rows}


def _second_device(world, tmp_path):
    other = make_field(tmp_path / "other", world.pack_raw, clock=world.clock, pack=world.pack)
    world.coordinator.devices.enroll(other.device_key().public.raw, "laptop-2")
    return other


def test_another_device_cannot_overwrite_records_it_did_not_send(world, tmp_path):
    batch = world.sealed_batch(3)
    assert world.import_bytes(batch.file).status == "imported"
    before = _stored(world)
    other = _second_device(world, tmp_path)
    try:
        forged = [dict(record_dict(n, record_id=record_id), version=MAX_RECORD_VERSION)
                  for n, record_id in enumerate(before)]
        sealed = world.seal_by_hand(forged, sequence=1, key=other.device_key())
        outcome = world.import_bytes(sealed.data)
    finally:
        other.lock()
    assert outcome.status == "quarantined"
    assert outcome.code == RefusalCode.CONFLICT
    assert "ALERT" in outcome.reason and "laptop-2" in outcome.reason
    assert _stored(world) == before  # nothing stored changed


def test_a_version_past_two_to_the_31_is_refused_as_a_bad_manifest(world):
    record = dict(record_dict(0), version=2**63 - 1)
    outcome = world.import_bytes(world.seal_by_hand([record], sequence=1).data)
    assert outcome.status == "quarantined" and outcome.code == RefusalCode.BAD_MANIFEST


def test_the_owner_updates_its_record_and_the_update_is_audited(world):
    first = record_dict(0)
    world.import_bytes(world.seal_by_hand([first], sequence=1).data)
    newer = dict(first, version=2)
    report_outcome = world.import_bytes(world.seal_by_hand([newer], sequence=2).data)
    assert report_outcome.status == "imported"
    assert (report_outcome.records, report_outcome.updated) == (1, 1)
    assert _stored(world)[first["id"]][0] == 2
    entries = world.coordinator._audit.entries(world.coordinator._database.connection)
    updates = [entry for entry in entries if entry.action == AuditAction.RECORD_UPDATED]
    assert [entry.record_id for entry in updates] == [first["id"]]
    assert orjson.loads(orjson.dumps(updates[0].details)) == {
        "device": world.device.device_id, "batch": updates[0].details["batch"],
        "from_version": 1, "to_version": 2}


def test_import_json_counts_new_and_updated_records_apart(world):
    from fieldscreen.exchange.importer import ImportReport

    first, second = record_dict(0), record_dict(1)
    one = world.import_bytes(world.seal_by_hand([first], sequence=1).data)
    two = world.import_bytes(world.seal_by_hand([dict(first, version=2), second],
                                                sequence=2).data)
    records = ImportReport(batches=[one, two]).to_json()["records"]
    assert (records["imported"], records["new"], records["updated"]) == (3, 2, 1)
