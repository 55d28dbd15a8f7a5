"""Bad referral files get the batch treatment: refused before or while parsing, with a
reason that quotes nothing, quarantined on the coordinator, and nothing half-applied."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

from fieldscreen.exchange.referral_files import (
    PACKAGE_DOMAIN,
    PACKAGE_FORMAT,
    UPDATE_DOMAIN,
    UPDATE_FORMAT,
    write_package,
    write_update,
)
from fieldscreen.exchange.referral_package import task_update, withdrawal_bundle
from fieldscreen.store.crypto import (
    AgeIdentity,
    SigningKey,
    VerifyKey,
    age_encrypt,
    b64,
    canonical_json,
)
from fieldscreen.store.follow_up import FollowUpStatus
from fieldscreen.store.profile import ProfileRole
from fieldscreen.workflows.referrals import (
    PackageRefused,
    WrittenFile,
    answer_referral,
    import_update,
    open_package,
)
from tests.exchange_helpers import flip, make_profile
from tests.unit.referrals.conftest import Loop

CHILD_NAME = "Oksana Zhyvotovska"


@pytest.fixture
def referred(loop: Loop) -> tuple[Loop, WrittenFile]:
    package = loop.refer(loop.cases()[0])
    open_package(loop.partner, package.data)
    return loop, package


def _state(loop: Loop) -> tuple:
    """Everything an update could change on the coordinator's side."""
    record_id = loop.cases()[0]
    with loop.coordinator._database.read() as connection:
        messages = connection.execute("SELECT COUNT(*) FROM referral_messages").fetchone()
    return (loop.coordinator.referral_ledger.list(), loop.coordinator.referrals.case(record_id),
            loop.coordinator.referrals.notes(record_id), messages)


def _answer(loop: Loop, referral_id: str, status: str, **options: str) -> bytes:
    return answer_referral(loop.partner, referral_id, status, now=loop.world.clock(),
                           deliver=lambda _written: None, **options).data


def _import(loop: Loop, data: bytes):
    return import_update(loop.coordinator, data, source="update.age",
                         quarantine_dir=loop.world.quarantine_dir)


def _forged_update(key: SigningKey, *, referral_id: str, recipient: str, seal_to: str,
                   task: dict, sequence: int = 1, claimed_key: bytes | None = None,
                   signer: SigningKey | None = None) -> bytes:
    """An update built by hand: any content, signed by any key, sealed to anyone."""
    content = canonical_json({
        "message_id": str(uuid.uuid4()), "referral_id": referral_id, "sequence": sequence,
        "created_at": "2026-03-02T09:00:00Z",
        "partner_public_key": b64(claimed_key or key.public.raw), "recipient": recipient,
        "task": task})
    envelope = canonical_json({"format": UPDATE_FORMAT, "content": b64(content),
                               "signature": b64((signer or key).sign(UPDATE_DOMAIN, content))})
    return age_encrypt(envelope, seal_to)


def _assert_quarantined(loop: Loop, data: bytes, code: str, before: tuple) -> None:
    outcome = _import(loop, data)
    assert (outcome.status, outcome.code) == ("quarantined", code), outcome
    assert _state(loop) == before, "a refused update changed something"
    entry = next(e for e in loop.coordinator.inbox.quarantined() if e.reason_code == code)
    assert os.path.exists(entry.stored_as) and CHILD_NAME not in entry.reason


def test_flipped_bytes_anywhere_are_quarantined_and_change_nothing(referred):
    loop, package = referred
    good = _answer(loop, package.referral_id, "accepted", note=CHILD_NAME)
    before = _state(loop)
    for position in (0, 5, 30, len(good) // 2, len(good) - 20, len(good) - 1):
        outcome = _import(loop, flip(good, position))
        assert outcome.status == "quarantined", position
        assert outcome.code in ("not_age", "undecryptable"), (position, outcome.code)
        assert _state(loop) == before
    assert _import(loop, good).status == "imported"  # the unaltered file still imports


def test_truncated_empty_oversized_and_foreign_files_are_quarantined(referred):
    loop, package = referred
    good = _answer(loop, package.referral_id, "accepted")
    before = _state(loop)
    for length in (10, 22, 60, len(good) // 2, len(good) - 1):
        assert _import(loop, good[:length]).status == "quarantined", length
    _assert_quarantined(loop, b"", "empty", before)
    _assert_quarantined(loop, b"age-encryption.org/v1\n" + os.urandom(300 * 1024),
                        "too_large", before)
    _assert_quarantined(loop, b'{"format": "fieldscreen-referral-update/1"}', "not_age",
                        before)
    assert _state(loop) == before


def test_an_update_for_another_coordinator_is_refused(referred):
    loop, package = referred
    other = AgeIdentity.generate()
    key = loop.partner.partner_key()
    task = task_update(package.referral_id, "accepted", at="2026-03-02T09:00:00Z",
                       partner_name="x")
    before = _state(loop)
    sealed_elsewhere = write_update(key, referral_id=package.referral_id, sequence=1,
                                    recipient=other.recipient, task=task,
                                    now=loop.world.clock())
    _assert_quarantined(loop, sealed_elsewhere, "undecryptable", before)
    # Opened by the other coordinator and sealed again to this one: the signed content
    # still names the other, so it is not taken for this coordinator's.
    resealed = _forged_update(key, referral_id=package.referral_id,
                              recipient=other.recipient, seal_to=loop.world.recipient,
                              task=task)
    _assert_quarantined(loop, resealed, "wrong_recipient", before)


def test_unknown_revoked_and_forging_senders_are_refused(referred):
    loop, package = referred
    task = task_update(package.referral_id, "completed", at="2026-03-02T09:00:00Z",
                       partner_name="x")
    before = _state(loop)
    stranger = SigningKey.generate()
    unknown = _forged_update(stranger, referral_id=package.referral_id,
                             recipient=loop.world.recipient, seal_to=loop.world.recipient,
                             task=task)
    _assert_quarantined(loop, unknown, "unknown_partner", before)
    # A stranger claiming to be the enrolled partner cannot sign as it.
    forged = _forged_update(stranger, referral_id=package.referral_id,
                            recipient=loop.world.recipient, seal_to=loop.world.recipient,
                            task=task, claimed_key=loop.enrolled.public_key)
    _assert_quarantined(loop, forged, "bad_signature", before)
    genuine = _answer(loop, package.referral_id, "accepted")
    loop.coordinator.partners.revoke(loop.enrolled.partner_id)
    before = _state(loop)
    _assert_quarantined(loop, genuine, "revoked_partner", before)


def test_replays_change_nothing(referred):
    loop, package = referred
    accepted = _answer(loop, package.referral_id, "accepted")
    completed = _answer(loop, package.referral_id, "completed")
    assert _import(loop, completed).status == "imported"
    record_id = loop.cases()[0]
    assert loop.coordinator.referrals.case(record_id).status is FollowUpStatus.DELIVERED
    before = _state(loop)
    assert _import(loop, completed).status == "duplicate"  # the same file again
    assert _state(loop) == before
    # An older update arriving after a newer one would move the case back: refused.
    _assert_quarantined(loop, accepted, "replayed", before)


def test_an_update_about_a_referral_that_does_not_exist_is_refused(referred):
    loop, package = referred
    key = loop.partner.partner_key()
    before = _state(loop)
    missing = str(uuid.uuid4())
    task = task_update(missing, "accepted", at="2026-03-02T09:00:00Z", partner_name="x")
    update = _forged_update(key, referral_id=missing, recipient=loop.world.recipient,
                            seal_to=loop.world.recipient, task=task)
    _assert_quarantined(loop, update, "unknown_referral", before)
    # Another enrolled partner cannot answer a referral sent to the first.
    other = SigningKey.generate()
    loop.coordinator.partners.enroll(other.public.raw, "Other partner")
    before = _state(loop)
    task = task_update(package.referral_id, "completed", at="2026-03-02T09:00:00Z",
                       partner_name="x")
    hijack = _forged_update(other, referral_id=package.referral_id,
                            recipient=loop.world.recipient, seal_to=loop.world.recipient,
                            task=task)
    _assert_quarantined(loop, hijack, "unknown_referral", before)


def test_a_task_that_is_not_valid_fhir_is_refused_without_quoting_it(referred):
    loop, package = referred
    key = loop.partner.partner_key()
    good = task_update(package.referral_id, "accepted", at="2026-03-02T09:00:00Z",
                       partner_name="x")
    before = _state(loop)
    bad_tasks = [
        dict(good, secret=CHILD_NAME),  # not a Task field
        dict(good, status="closed-by-" + CHILD_NAME),  # not a status a partner sends
        dict(good, lastModified=CHILD_NAME),  # not a FHIR dateTime
        dict(good, status="rejected"),  # declined without its reason
        dict(good, focus={"reference": "urn:uuid:" + str(uuid.uuid4())}),  # another request
        {"resourceType": "Patient", "id": "x", "name": [{"text": CHILD_NAME}]},
    ]
    for sequence, task in enumerate(bad_tasks, start=1):
        update = _forged_update(key, referral_id=package.referral_id,
                                recipient=loop.world.recipient,
                                seal_to=loop.world.recipient, task=task, sequence=sequence)
        _assert_quarantined(loop, update, "bad_update", before)


def test_a_failure_inside_the_import_leaves_nothing_half_applied(referred, monkeypatch):
    loop, package = referred
    update = _answer(loop, package.referral_id, "accepted", note="seen today")
    before = _state(loop)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(CHILD_NAME)

    monkeypatch.setattr("fieldscreen.store.partners.move_case_for_partner", broken)
    outcome = _import(loop, update)
    assert (outcome.status, outcome.code) == ("quarantined", "check_failed")
    assert CHILD_NAME not in (outcome.reason or "")
    assert _state(loop) == before
    monkeypatch.undo()
    assert _import(loop, update).case_status == "accepted"


# -- packages, on the partner's side -----------------------------------------------------


def _inbox(loop: Loop) -> list:
    return loop.partner.partner_inbox.list()


def _refused(loop: Loop, data: bytes, code: str) -> None:
    before = (_inbox(loop), loop.partner.partner_inbox.pinned_coordinator())
    with pytest.raises(PackageRefused) as refusal:
        open_package(loop.partner, data)
    assert refusal.value.code == code
    assert CHILD_NAME not in str(refusal.value)
    assert (_inbox(loop), loop.partner.partner_inbox.pinned_coordinator()) == before


def test_damaged_and_misaddressed_packages_are_refused(loop: Loop):
    package = loop.refer(loop.cases()[0], note=CHILD_NAME)
    for position in (0, 40, len(package.data) // 2, len(package.data) - 1):
        with pytest.raises(PackageRefused):
            open_package(loop.partner, flip(package.data, position))
    for length in (0, 10, 60, len(package.data) - 1):
        with pytest.raises(PackageRefused):
            open_package(loop.partner, package.data[:length])
    assert _inbox(loop) == []
    other = make_profile(loop.world.root / "other" / "data", ProfileRole.PARTNER,
                         clock=loop.world.clock, name="other")
    try:
        with pytest.raises(PackageRefused) as refusal:
            open_package(other, package.data)
        assert refusal.value.code == "undecryptable"
    finally:
        other.lock()
    # Sealed to this partner but naming another inside: not for it.
    signing = loop.coordinator.coordinator_signing_key()
    content = canonical_json({
        "kind": "referral", "message_id": str(uuid.uuid4()),
        "referral_id": package.referral_id, "created_at": "2026-03-02T09:00:00Z",
        "coordinator": {"name": "c", "signing_key": b64(signing.public.raw),
                        "age_recipient": loop.world.recipient},
        "partner_public_key": b64(SigningKey.generate().public.raw), "bundle": {}})
    envelope = canonical_json({"format": PACKAGE_FORMAT, "content": b64(content),
                               "signature": b64(signing.sign(PACKAGE_DOMAIN, content))})
    _refused(loop, VerifyKey(loop.enrolled.public_key).seal(envelope), "wrong_recipient")


def test_packages_from_another_coordinator_or_forged_are_refused(loop: Loop):
    package = loop.refer(loop.cases()[0])
    open_package(loop.partner, package.data)  # pins this coordinator
    stranger = SigningKey.generate()
    now = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    bundle = withdrawal_bundle(package.referral_id, at="2026-03-02T09:00:00Z",
                               coordinator_name="someone")
    from_stranger = write_package(stranger, kind="withdrawal", referral_id=package.referral_id,
                                  coordinator_name="someone",
                                  coordinator_recipient=AgeIdentity.generate().recipient,
                                  partner_key=loop.enrolled.public_key, bundle=bundle, now=now)
    _refused(loop, from_stranger, "unknown_coordinator")
    # Claiming the pinned coordinator's key without its private half.
    signing = loop.coordinator.coordinator_signing_key()
    content = canonical_json({
        "kind": "withdrawal", "message_id": str(uuid.uuid4()),
        "referral_id": package.referral_id, "created_at": "2026-03-02T09:00:00Z",
        "coordinator": {"name": "c", "signing_key": b64(signing.public.raw),
                        "age_recipient": loop.world.recipient},
        "partner_public_key": b64(loop.enrolled.public_key), "bundle": bundle})
    envelope = canonical_json({"format": PACKAGE_FORMAT, "content": b64(content),
                               "signature": b64(stranger.sign(PACKAGE_DOMAIN, content))})
    _refused(loop, VerifyKey(loop.enrolled.public_key).seal(envelope), "bad_signature")
    # Signed by the real coordinator, but its Bundle is not a valid referral.
    broken = write_package(signing, kind="referral", referral_id=str(uuid.uuid4()),
                           coordinator_name="c", coordinator_recipient=loop.world.recipient,
                           partner_key=loop.enrolled.public_key,
                           bundle={"resourceType": "Bundle", "type": CHILD_NAME}, now=now)
    _refused(loop, broken, "bad_package")


def test_a_replayed_package_changes_nothing_and_a_stray_withdrawal_is_refused(loop: Loop):
    package = loop.refer(loop.cases()[0])
    open_package(loop.partner, package.data)
    _answer(loop, package.referral_id, "accepted")
    before = _inbox(loop)
    _package, new = open_package(loop.partner, package.data)
    assert not new and _inbox(loop) == before
    assert loop.partner.partner_inbox.get(package.referral_id).status == "accepted"
    signing = loop.coordinator.coordinator_signing_key()
    missing = str(uuid.uuid4())
    stray = write_package(signing, kind="withdrawal", referral_id=missing,
                          coordinator_name="c", coordinator_recipient=loop.world.recipient,
                          partner_key=loop.enrolled.public_key,
                          bundle=withdrawal_bundle(missing, at="2026-03-02T09:00:00Z",
                                                   coordinator_name="c"),
                          now=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    _refused(loop, stray, "unknown_referral")


def test_a_full_disk_while_keeping_a_refused_update_is_a_clear_error(referred, monkeypatch):
    import errno

    from fieldscreen.errors import UserError

    loop, _package = referred
    before = _state(loop)

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("fieldscreen.workflows.referrals.write_atomically", full)
    with pytest.raises(UserError, match="full"):
        _import(loop, b"age-encryption.org/v1\n" + b"x" * 100)
    assert _state(loop) == before and loop.coordinator.inbox.quarantined() == []
