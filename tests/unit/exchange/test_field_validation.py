"""Every field of a manifest and a record line is checked at import (trust, finding 2).

A record with an impossible time used to import, after which every export and the
dashboard failed for good. Each case here is signed by the enrolled device itself: only
the values are wrong.
"""

from __future__ import annotations

import json

import pytest

from fieldscreen.exchange.batch import SIGNATURE_DOMAIN, RefusalCode
from fieldscreen.store.crypto import canonical_json, sha256
from tests.exchange_helpers import make_world, open_batch, record_dict, reseal, rewrite


@pytest.fixture
def world(tmp_path):
    world = make_world(tmp_path)
    yield world
    world.close()


def _signed(world, records: list[dict]) -> bytes:
    return world.seal_by_hand(records, sequence=1).data


@pytest.mark.parametrize("field", ["created_at", "updated_at"])
@pytest.mark.parametrize("value", ["9999-99-99T99:99:99Z", "", "2026-02-30T10:00:00Z",
                                   "1970-01-01T00:00:00Z", "2150-01-01T00:00:00Z",
                                   "2026-03-01 09:00:00"])
def test_a_record_time_that_is_no_real_time_is_refused(world, field, value):
    outcome = world.import_bytes(_signed(world, [dict(record_dict(0), **{field: value})]))
    assert outcome.status == "quarantined" and outcome.code == RefusalCode.BAD_RECORDS


@pytest.mark.parametrize("record_id", ["not-a-uuid", "r1",
                                       "6f1c2b7e-2d4f-1a3b-8c9d-0e1f2a3b4c5d",  # version 1
                                       "6F1C2B7E-2D4F-4A3B-8C9D-0E1F2A3B4C5D"])  # upper case
def test_a_record_id_must_be_a_uuid_of_version_4_or_7(world, record_id):
    outcome = world.import_bytes(_signed(world, [record_dict(0, record_id=record_id)]))
    assert outcome.status == "quarantined" and outcome.code == RefusalCode.BAD_MANIFEST


def test_a_time_ordered_version_7_id_imports(world):
    record_id = "01890a5d-ac96-774b-bcce-b302099a8057"
    outcome = world.import_bytes(_signed(world, [record_dict(0, record_id=record_id)]))
    assert outcome.status == "imported"


def test_a_manifest_time_that_is_no_real_time_is_a_bad_manifest(world):
    data = rewrite(_signed(world, [record_dict(0)]), world.identity, world.recipient,
                   manifest=lambda m: m.update(created_at="9999-99-99T99:99:99Z"),
                   sign_with=world.device_key)
    outcome = world.import_bytes(data)
    assert outcome.status == "quarantined" and outcome.code == RefusalCode.BAD_MANIFEST


def _replace_in_manifest(world, old: bytes, new: bytes) -> bytes:
    members = open_batch(_signed(world, [record_dict(0)]), world.identity)
    manifest = members["manifest.json"].replace(old, new, 1)
    signature = world.device_key.sign(SIGNATURE_DOMAIN, manifest)
    return reseal([("manifest.json", manifest), ("manifest.sig", signature),
                   ("records.jsonl", members["records.jsonl"])], world.recipient)


def test_a_4300_digit_number_is_a_bad_manifest_not_a_failed_check(world):
    data = _replace_in_manifest(world, b'"audit_head_seq":', b'"audit_head_seq":' +
                                b"9" * 4400 + b',"ignored":')
    outcome = world.import_bytes(data)
    assert outcome.status == "quarantined" and outcome.code == RefusalCode.BAD_MANIFEST


def test_a_key_twice_in_the_manifest_is_refused(world):
    data = _replace_in_manifest(world, b'{"audit_head_mac":',
                                b'{"demo":true,"audit_head_mac":')
    outcome = world.import_bytes(data)
    assert outcome.status == "quarantined" and outcome.code == RefusalCode.BAD_MANIFEST


def test_a_key_twice_in_a_record_line_is_refused(world):
    def twice(lines: list[bytes]) -> list[bytes]:
        return [lines[0].replace(b'{"answers":', b'{"demo":false,"answers":', 1)]

    data = rewrite(_signed(world, [record_dict(0)]), world.identity, world.recipient,
                   lines=twice)
    # The line's hash is in the signed manifest: re-sign with the edited line's hash.
    members = open_batch(data, world.identity)
    manifest = json.loads(members["manifest.json"])
    line = members["records.jsonl"][:-1]
    manifest["records"][0]["sha256"] = sha256(line).hex()
    manifest_bytes = canonical_json(manifest)
    sealed = reseal([("manifest.json", manifest_bytes),
                     ("manifest.sig", world.device_key.sign(SIGNATURE_DOMAIN, manifest_bytes)),
                     ("records.jsonl", members["records.jsonl"])], world.recipient)
    outcome = world.import_bytes(sealed)
    assert outcome.status == "quarantined" and outcome.code == RefusalCode.BAD_RECORDS
    assert "twice" in outcome.reason
