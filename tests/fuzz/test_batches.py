"""Fuzzing sealed batches: manifests and records rewritten and signed by the device itself.

The bit flips in tests/unit/exchange/test_batch.py show that damage in transit is caught
by age and the signature. These targets play a device (or a stolen device key) that signs
whatever it likes: altered manifests, altered record lines with matching hashes, strange
archives, all sealed properly for the coordinator. `verify_batch` must give a
`VerifiedBatch` of well-formed records or raise `BatchRefused` with a stable code and a
reason for a person, never anything else.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldscreen.exchange.batch import (
    AGE_MAGIC,
    MAX_LINE_BYTES,
    MAX_RECORDS,
    SIGNATURE_DOMAIN,
    BatchRefused,
    RefusalCode,
    VerifiedBatch,
    seal_batch,
    verify_batch,
)
from fieldscreen.store.audit import GENESIS
from fieldscreen.store.crypto import age_encrypt, sha256
from tests.exchange_helpers import make_world, open_batch, record_dict, reseal, tar_bytes
from tests.fuzz.conftest import bounded_memory, check_message, fuzz_settings, parse_or_refuse
from tests.fuzz.strategies import dump_json, mutate_bytes, mutate_tree, odd_text

MIB = 1024 * 1024


class Coordinator:
    """What verify_batch needs, taken once from a real world (a coordinator and a laptop)."""

    def __init__(self, root) -> None:
        world = make_world(root)
        try:
            self.identity = world.identity
            self.recipient = world.recipient
            self.device_key = world.device_key
            self.devices = {device.public_key: device
                            for device in world.coordinator.devices.list()}
            self.batch = world.sealed_batch(3).file
            self.members = open_batch(self.batch, self.identity)
            self.now = world.clock()
        finally:
            world.close()

    def verify(self, data: bytes, demo: bool = False) -> VerifiedBatch | Exception:
        """The property: a VerifiedBatch of well-formed records, or a clean BatchRefused."""
        result = parse_or_refuse(lambda: verify_batch(
            data, identity=self.identity, find_device=self.devices.get, demo=demo),
            BatchRefused)
        if isinstance(result, BatchRefused):
            assert isinstance(result.code, RefusalCode)
            check_message(result.reason)
            return result
        for record in result.records:
            assert isinstance(record.id, str) and isinstance(record.version, int)
            assert set(record.summary) >= {"decision", "age", "forms"}
        return result

    def seal(self, records: list[dict]) -> bytes:
        """Records sealed by the enrolled device as sync seals them."""
        return seal_batch(records, device_key=self.device_key, recipient=self.recipient,
                          sequence=1, previous_manifest_sha256=GENESIS,
                          audit_head=(0, GENESIS), demo=False, now=self.now).data

    def sealed(self, manifest: bytes, records: bytes, *, sign: bool = True) -> bytes:
        signature = (self.device_key.sign(SIGNATURE_DOMAIN, manifest) if sign
                     else self.members["manifest.sig"])
        return reseal([("manifest.json", manifest), ("manifest.sig", signature),
                       ("records.jsonl", records)], self.recipient)


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory) -> Coordinator:
    return Coordinator(tmp_path_factory.mktemp("batch-world"))


def _text(value: object, ascii_only: bool = True) -> bytes:
    return dump_json(value, ascii_only=ascii_only).encode("utf-8", "surrogatepass")


@fuzz_settings(60)
@given(data=st.data(), ascii_only=st.booleans())
def test_manifests_rewritten_and_signed_by_the_device(coordinator, data, ascii_only):
    manifest = mutate_tree(data, json.loads(coordinator.members["manifest.json"]))
    coordinator.verify(coordinator.sealed(_text(manifest, ascii_only),
                                          coordinator.members["records.jsonl"]))


def _valid_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64


def _valid_version(value: object) -> bool:
    return type(value) is int and 1 <= value <= 2**63 - 1


@fuzz_settings(80)
@given(data=st.data(), ascii_only=st.booleans(), follow=st.booleans())
def test_records_rewritten_with_matching_hashes(coordinator, data, ascii_only, follow):
    # The manifest lists each new line's hash (and, when it can, its id and version), so the
    # records reach every check after the signature's.
    manifest = json.loads(coordinator.members["manifest.json"])
    lines = coordinator.members["records.jsonl"].split(b"\n")[:-1]
    index = data.draw(st.integers(0, len(lines) - 1), label="record")
    record = mutate_tree(data, json.loads(lines[index]), max_mutations=4)
    lines[index] = _text(record, ascii_only)
    entry = manifest["records"][index]
    entry["sha256"] = sha256(lines[index]).hex()
    if follow and isinstance(record, dict):
        if _valid_id(record.get("id")):
            entry["id"] = record["id"]
        if _valid_version(record.get("version")):
            entry["version"] = record["version"]
    body = b"".join(line + b"\n" for line in lines)
    coordinator.verify(coordinator.sealed(_text(manifest), body))


# Text a device can seal (a lone surrogate cannot be written as UTF-8).
TEXT = odd_text(utf8=True)
ANY_FACT = (st.none() | st.integers() | TEXT | st.lists(TEXT | st.integers())
            | st.lists(st.lists(st.text())) | st.dictionaries(st.text(), st.text()))
# What a decision can be until store/inbox.py checks its type before looking it up in a
# set (see test_an_outcome_whose_decision_is_a_list_is_counted_as_not_known).
HASHABLE = st.none() | st.booleans() | st.integers() | TEXT


@fuzz_settings(40)
@given(answers=st.dictionaries(st.text(max_size=12), st.none() | st.text(), max_size=3),
       outcome=st.fixed_dictionaries({}, optional={
           "decision": HASHABLE, "final_decision": HASHABLE,
           "follow_up": st.booleans() | st.lists(st.none()) | TEXT,
           "disaggregation": st.dictionaries(st.sampled_from(
               ["age", "sex", "nationality", "area", "exploitation_form"]), ANY_FACT)
           | ANY_FACT}))
def test_outcomes_no_form_can_produce(coordinator, answers, outcome):
    # A batch sealed properly by an enrolled device, whose outcome holds values of every
    # type: the summary the coordinator keeps must come out of it, or the batch refused.
    coordinator.verify(coordinator.seal([record_dict(answers=answers, outcome=outcome)]))


@pytest.mark.parametrize("decision", [[], {}, ["urgent"]], ids=["list", "mapping", "nested"])
def test_an_outcome_whose_decision_is_a_list_is_counted_as_not_known(coordinator, decision):
    for key in ("decision", "final_decision"):
        result = coordinator.verify(coordinator.seal([record_dict(
            answers={}, outcome={key: decision})]))
        assert isinstance(result, VerifiedBatch)
        assert result.records[0].summary["decision"] is None


ENTRY_NAMES = st.sampled_from(["manifest.json", "manifest.sig", "records.jsonl", "", ".",
                               "../manifest.json", "/etc/passwd", "manifest.json/",
                               "records.jsonl\x00x", "é"])


@fuzz_settings(40)
@given(data=st.data(), links=st.dictionaries(ENTRY_NAMES, ENTRY_NAMES, max_size=2))
def test_archives_of_any_shape(coordinator, data, links):
    real = list(coordinator.members.items())
    members = data.draw(st.lists(st.one_of(
        st.sampled_from(real),
        st.tuples(ENTRY_NAMES, st.binary(max_size=64)),
        st.tuples(ENTRY_NAMES, st.sampled_from([value for _name, value in real]))),
        max_size=5), label="members")
    try:
        archive = tar_bytes(members, symlinks=links)
    except (ValueError, UnicodeError):  # names tarfile itself will not write
        return
    if data.draw(st.booleans(), label="damage the tar"):
        archive = mutate_bytes(data, archive)
    coordinator.verify(age_encrypt(archive, coordinator.recipient))


@fuzz_settings(40)
@given(data=st.data())
def test_batch_files_changed_byte_by_byte(coordinator, data):
    coordinator.verify(mutate_bytes(data, coordinator.batch, max_mutations=2))


@fuzz_settings(30)
@given(raw=st.binary(max_size=300), magic=st.booleans())
def test_random_bytes_as_a_batch(coordinator, raw, magic):
    coordinator.verify(AGE_MAGIC + raw if magic else raw)


def _giants(coordinator: Coordinator) -> dict[str, bytes]:
    manifest = json.loads(coordinator.members["manifest.json"])
    records = coordinator.members["records.jsonl"]
    deep = b"[" * (3 * MIB)
    too_many = dict(manifest, record_count=MAX_RECORDS + 1,
                    records=[manifest["records"][0]] * (MAX_RECORDS + 1))
    long_line = b'{"id":"' + b"x" * (MAX_LINE_BYTES + 1) + b'"}\n'
    long_manifest = dict(manifest, records=[dict(manifest["records"][0],
                                                 sha256=sha256(long_line[:-1]).hex())],
                         record_count=1)
    return {
        "deeply nested manifest": coordinator.sealed(deep, records),
        "too many records": coordinator.sealed(_text(too_many), records),
        "a record line over the limit": coordinator.sealed(_text(long_manifest), long_line),
        "an archive of 60 MiB": age_encrypt(tar_bytes(
            [*coordinator.members.items(), ("padding", b"\x00" * (60 * MIB))]),
            coordinator.recipient),
    }


@pytest.mark.parametrize("name", ["deeply nested manifest", "too many records",
                                  "a record line over the limit", "an archive of 60 MiB"])
def test_hostile_giant_batches_are_refused_in_bounded_memory_and_time(coordinator, name):
    data = _giants(coordinator)[name]
    with bounded_memory(96 * MIB + 3 * len(data)):
        result = coordinator.verify(data)
    assert isinstance(result, BatchRefused)


def test_the_fixture_batch_verifies(coordinator):
    assert isinstance(coordinator.verify(coordinator.batch), VerifiedBatch)


# -- regressions --------------------------------------------------------------------------------


def test_every_part_of_a_refusal_reason_is_translated(coordinator, monkeypatch):
    # The reasons' details ("unexpected keys", "the counts differ"...) were English in
    # every language: they now go through the catalog like the sentence around them.
    import fieldscreen.exchange.batch as batch_module

    monkeypatch.setattr(batch_module, "_", lambda text: f"<{text}>")
    manifest = json.loads(coordinator.members["manifest.json"])
    records = coordinator.members["records.jsonl"]
    cases = {
        "unexpected keys": (dict(manifest, extra=1), records),
        "the counts differ": (manifest, records + records),
        "a record's hash differs": (manifest, records.replace(b'"version":1', b'"version":2')),
    }
    for why, (edited, body) in cases.items():
        result = coordinator.verify(coordinator.sealed(_text(edited), body))
        assert isinstance(result, BatchRefused)
        assert result.reason.endswith(f"<{why}>>"), result.reason
