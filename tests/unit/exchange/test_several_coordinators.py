"""Several coordinators in one deployment: the pack lists them all, batches are sealed to
each, packs and receipts from any listed coordinator are accepted, from a removed one not;
and hostile lists are refused with a clear message, nothing installed half-way."""

from __future__ import annotations

import json

import pytest

from fieldscreen.exchange.batch import (
    PREVIOUS_BATCH_FORMAT,
    RefusalCode,
    seal_batch,
)
from fieldscreen.exchange.pack import (
    MAX_COORDINATORS,
    PACK_FORMAT,
    PackCoordinator,
    PackRefused,
    build_pack,
    deployment_coordinators,
    install_pack,
    read_pack,
)
from fieldscreen.exchange.pack import SIGNATURE_DOMAIN as PACK_DOMAIN
from fieldscreen.exchange.receipt import (
    PREVIOUS_RECEIPT_FORMAT,
    RECEIPT_FORMAT,
    ReceiptInvalid,
    read_receipt,
    seal_receipt,
    write_receipt,
)
from fieldscreen.exchange.receipt import SIGNATURE_DOMAIN as RECEIPT_DOMAIN
from fieldscreen.exchange.sync import seal_pending, sync
from fieldscreen.store.audit import GENESIS
from fieldscreen.store.crypto import AgeIdentity, SigningKey, b64, canonical_json, unb64
from fieldscreen.store.keyslots import RecoverySlot
from fieldscreen.store.profile import ProfileStore
from tests.exchange_helpers import (
    PROFILE,
    SHIPPED_FORM,
    SHIPPED_SERVICES,
    SyncSettings,
    manifest_of,
    record_dict,
    rewrite,
    weak_kdf,
)

SECOND = "amina's own long passphrase"


@pytest.fixture
def amina(world):
    """A second coordinator of the same profile, unlocked with her own passphrase."""
    world.coordinator.add_coordinator("Amina", SECOND)
    profile = ProfileStore(world.coordinator_base / "data", clock=world.clock,
                           kdf=weak_kdf()).open(PROFILE).unlock(SECOND)
    yield profile
    if profile.records is not None:
        profile.lock()


def _pack(world, signer, *, sequence: int) -> bytes:
    """A pack written by `signer` (a coordinator profile), listing every coordinator."""
    return build_pack(
        signing_key=signer.coordinator_signing_key(),
        recipient=signer.coordinator_identity().recipient,
        coordinator_name=signer.acting_coordinator().name,
        coordinators=deployment_coordinators(signer), form_paths=[SHIPPED_FORM],
        services_path=SHIPPED_SERVICES, sync=SyncSettings(str(world.relay)),
        retention_days=30, demo=False, now=world.clock(), sequence=sequence)


def _resigned(raw: bytes, key: SigningKey, change) -> bytes:
    outer = json.loads(raw)
    content = json.loads(unb64(outer["content"]))
    change(content)
    signed = canonical_json(content)
    return json.dumps({**outer, "content": b64(signed),
                       "signature": b64(key.sign(PACK_DOMAIN, signed))}).encode()


def _installed(world) -> bytes | None:
    return world.field.installed_pack()


def test_the_pack_lists_every_coordinator_and_the_laptop_seals_to_each(world, amina):
    raw = _pack(world, world.coordinator, sequence=2)
    assert json.loads(raw)["format"] == PACK_FORMAT
    installed = install_pack(world.field, raw).pack
    assert installed.recipients == (world.recipient, amina.coordinator_identity().recipient)

    world.save(2)
    seal_pending(world.field, installed, now=world.clock)  # as sync does
    (batch,) = [pending.file for pending in world.field.outbox.undelivered()]
    # Both identities open it: either coordinator can import it.
    manifest = manifest_of(batch, amina.coordinator_identity())
    assert manifest["format"] == "fieldscreen-batch/2"
    assert manifest["recipients"] == list(installed.recipients)
    assert manifest_of(batch, world.identity) == manifest
    # The field profile's recovery slot opens with either identity too.
    with world.field._database.read() as connection:
        slot = RecoverySlot.from_json(connection.execute(
            "SELECT data FROM key_slots WHERE slot = 'recovery'").fetchone()[0])
    assert slot.recipients == installed.recipients
    for identity in (world.identity, amina.coordinator_identity()):
        assert slot.open(identity, world.field.profile_id)


def test_a_second_coordinator_imports_and_the_laptop_accepts_her_receipt(world, amina):
    install_pack(world.field, _pack(world, world.coordinator, sequence=2))
    world.save(3)
    report = sync(world.field, now=world.clock)
    assert report.delivered_batches == 1

    from fieldscreen.exchange.importer import BatchImporter

    imported = BatchImporter(amina, world.quarantine_dir, world.clock).run(
        [str(world.relay)], lambda url: None)
    assert [outcome.status for outcome in imported.batches] == ["imported"]
    receipt = world.receipts()[0].read_bytes()
    opened = json.loads(world.device_key.open_sealed(receipt))
    assert opened["format"] == RECEIPT_FORMAT
    content = json.loads(unb64(opened["content"]))
    assert unb64(content["coordinator"]) == amina.coordinator_signing_key().public.raw

    report = sync(world.field, now=world.clock)
    assert report.receipts == 1 and report.received_records == 3, report
    # The first coordinator sees what Amina imported.
    assert len(world.coordinator.inbox.records()) == 3


def test_a_pack_signed_by_the_second_coordinator_is_accepted(world, amina):
    install_pack(world.field, _pack(world, world.coordinator, sequence=2))
    installed = install_pack(world.field, _pack(world, amina, sequence=3)).pack
    assert installed.coordinator_name == "Amina"
    assert installed.signing_key.raw == amina.coordinator_signing_key().public.raw


def test_a_removed_coordinator_can_no_longer_sign_packs_or_receipts(world, amina):
    install_pack(world.field, _pack(world, world.coordinator, sequence=2))
    batch = world.sealed_batch(2)
    amina_key = amina.coordinator_signing_key()
    from_amina = _pack(world, amina, sequence=4)
    world.coordinator.remove_coordinator("Amina")
    without = _pack(world, world.coordinator, sequence=3)
    assert len(read_pack(without).coordinators) == 1
    install_pack(world.field, without)

    # Her pack, written before she was removed, is refused now.
    before = _installed(world)
    with pytest.raises(PackRefused) as refused:
        install_pack(world.field, from_amina)
    assert "different coordinator" in refused.value.message
    assert _installed(world) == before

    # And so is a receipt she signs.
    receipt = seal_receipt(write_receipt(
        amina_key, batch_id=batch.batch_id, device_public_key=world.device_key.public.raw,
        records=list(batch.records), now=world.clock()), world.device_key.public.raw)
    pack = read_pack(_installed(world))
    with pytest.raises(ReceiptInvalid, match="does not list"):
        read_receipt(receipt, coordinator=pack.signing_keys, batch_id=batch.batch_id,
                     device_public_key=world.device_key.public.raw,
                     device_key=world.device_key)
    world.relay.joinpath(f"fieldscreen-batch-{batch.batch_id}.receipt").write_bytes(receipt)
    report = sync(world.field, now=world.clock)
    assert report.received_records == 0
    assert any("not valid" in warning for warning in report.warnings)


def test_a_receipt_of_the_previous_format_is_checked_against_each_coordinator(world, amina):
    install_pack(world.field, _pack(world, world.coordinator, sequence=2))
    pack = read_pack(_installed(world))
    content = canonical_json({"batch_id": "b", "device_public_key": b64(b"d" * 32),
                              "imported_at": "2026-03-01T09:00:00Z", "records": []})
    key = amina.coordinator_signing_key()
    old = canonical_json({"format": PREVIOUS_RECEIPT_FORMAT, "content": b64(content),
                          "signature": b64(key.sign(RECEIPT_DOMAIN, content))})
    assert read_receipt(old, coordinator=pack.signing_keys, batch_id="b",
                        device_public_key=b"d" * 32).batch_id == "b"
    stranger = SigningKey.generate()
    forged = canonical_json({"format": PREVIOUS_RECEIPT_FORMAT, "content": b64(content),
                             "signature": b64(stranger.sign(RECEIPT_DOMAIN, content))})
    with pytest.raises(ReceiptInvalid):
        read_receipt(forged, coordinator=pack.signing_keys, batch_id="b",
                     device_public_key=b"d" * 32)


def test_a_receipt_naming_a_listed_coordinator_but_signed_by_another_is_refused(world, amina):
    install_pack(world.field, _pack(world, world.coordinator, sequence=2))
    pack = read_pack(_installed(world))
    content = canonical_json({
        "batch_id": "b", "coordinator": b64(amina.coordinator_signing_key().public.raw),
        "device_public_key": b64(b"d" * 32), "imported_at": "2026-03-01T09:00:00Z",
        "records": []})
    stranger = SigningKey.generate()
    forged = canonical_json({"format": RECEIPT_FORMAT, "content": b64(content),
                             "signature": b64(stranger.sign(RECEIPT_DOMAIN, content))})
    with pytest.raises(ReceiptInvalid):
        read_receipt(forged, coordinator=pack.signing_keys, batch_id="b",
                     device_public_key=b"d" * 32)


# -- hostile packs ------------------------------------------------------------------------


def _entry(recipient: str | None = None, key: SigningKey | None = None,
           name: str = "someone") -> dict:
    return {"name": name, "age_recipient": recipient or AgeIdentity.generate().recipient,
            "signing_key": b64((key or SigningKey.generate()).public.raw)}


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c["coordinators"].extend(
        [_entry(f"age1{n:058d}") for n in range(10_000)]), "lists 10001 coordinators"),
    (lambda c: c["coordinators"].append(
        _entry(c["coordinators"][0]["age_recipient"])), "same coordinator key twice"),
    (lambda c: c["coordinators"].append(
        {**_entry(), "signing_key": c["coordinators"][0]["signing_key"]}),
     "same coordinator key twice"),
    (lambda c: c["coordinators"].append(_entry("age1notakey")), "not an age key"),
    (lambda c: c["coordinators"].append(_entry("ssh-ed25519 AAAA")), "not an age key"),
    (lambda c: c["coordinators"].append({**_entry(), "signing_key": b64(b"short")}),
     "not an Ed25519 key"),
    (lambda c: c.update(coordinators=[]), "lists no coordinator"),
    (lambda c: c.update(coordinators=None), "lists no coordinator"),
    (lambda c: c["coordinators"].append({**_entry(), "extra": 1}), "malformed"),
    (lambda c: c["coordinators"].__setitem__(0, _entry()), "not among the coordinators"),
])
def test_a_hostile_list_of_coordinators_is_refused_and_nothing_installed(world, change,
                                                                           expected):
    key = world.coordinator.coordinator_signing_key()
    raw = _resigned(_pack(world, world.coordinator, sequence=2), key, change)
    before = _installed(world)
    with pytest.raises(PackRefused) as refused:
        install_pack(world.field, raw)
    assert expected in refused.value.message
    assert "Traceback" not in refused.value.message
    assert _installed(world) == before


def test_a_pack_writer_refuses_too_many_or_duplicate_coordinators(world):
    from fieldscreen.errors import UserError

    me = deployment_coordinators(world.coordinator)[0]
    others = [PackCoordinator(f"c{n}", AgeIdentity.generate().recipient,
                              SigningKey.generate().public) for n in range(MAX_COORDINATORS)]
    for listed, expected in (((me, *others), "at most"), ((me, me), "twice")):
        with pytest.raises(UserError, match=expected):
            build_pack(signing_key=world.coordinator.coordinator_signing_key(),
                       recipient=me.recipient, coordinator_name=me.name, coordinators=listed,
                       form_paths=[SHIPPED_FORM], services_path=None, sync=None,
                       retention_days=30, demo=False, now=world.clock())


# -- batches sealed to nobody of this deployment, and the previous manifest ----------------


def _ledger(world) -> int:
    with world.coordinator._database.read() as connection:
        return connection.execute("SELECT COUNT(*) FROM batch_ledger").fetchone()[0]


def test_a_batch_sealed_to_nobody_of_this_deployment_is_refused(world):
    stranger = AgeIdentity.generate()
    sealed = world.seal_by_hand([record_dict(0)], sequence=1, recipient=stranger.recipient)
    outcome = world.import_bytes(sealed.data)
    assert outcome.code == RefusalCode.UNDECRYPTABLE.value
    assert "sealed for another coordinator" in outcome.reason
    assert _ledger(world) == 0 and world.coordinator.inbox.records() == []


def test_a_laptop_refuses_to_seal_a_batch_to_nobody(world):
    from fieldscreen.store.crypto import CryptoError

    with pytest.raises(CryptoError):
        seal_batch([record_dict(0)], device_key=world.device_key, recipient=[], sequence=1,
                   previous_manifest_sha256=GENESIS, audit_head=(0, GENESIS), demo=False,
                   now=world.clock())


@pytest.mark.parametrize("recipients", [
    [], "one string", ["age1x"] * 2, [f"age1{n}" for n in range(17)], [7]])
def test_a_manifest_with_a_hostile_list_of_recipients_is_refused(world, recipients):
    sealed = world.seal_by_hand([record_dict(0)], sequence=1)

    def alter(manifest):
        manifest["recipients"] = recipients

    # The device itself signed it: only the list is wrong.
    data = rewrite(sealed.data, world.identity, world.recipient, manifest=alter,
                   sign_with=world.device_key)
    outcome = world.import_bytes(data)
    assert outcome.code == RefusalCode.BAD_MANIFEST.value
    assert _ledger(world) == 0


def test_a_manifest_not_naming_this_coordinator_is_wrong_recipient(world, amina):
    sealed = world.seal_by_hand([record_dict(0)], sequence=1)

    def alter(manifest):
        manifest["recipients"] = [amina.coordinator_identity().recipient]

    data = rewrite(sealed.data, world.identity, world.recipient, manifest=alter,
                   sign_with=world.device_key)
    assert world.import_bytes(data).code == RefusalCode.WRONG_RECIPIENT.value


def test_a_batch_of_the_previous_format_is_still_imported(world):
    sealed = seal_batch([record_dict(0)], device_key=world.device_key,
                        recipient=world.recipient, sequence=1,
                        previous_manifest_sha256=GENESIS, audit_head=(0, GENESIS),
                        demo=False, now=world.clock(), manifest_format=PREVIOUS_BATCH_FORMAT)
    manifest = manifest_of(sealed.data, world.identity)
    assert manifest["format"] == PREVIOUS_BATCH_FORMAT and "recipient" in manifest
    assert world.import_bytes(sealed.data).status == "imported"
