"""Several coordinators in one coordinator profile: each their own key slot, passphrase and
keys; the same data for all; every action audited under the coordinator who did it."""

from __future__ import annotations

import json

import pytest

from fieldscreen.errors import UserError
from fieldscreen.store.audit import AuditAction
from fieldscreen.store.crypto import CryptoError
from fieldscreen.store.keyslots import COORDINATOR_SLOT_PREFIX, CoordinatorSlot
from fieldscreen.store.profile import (
    MAX_COORDINATORS,
    CoordinatorChangeRefused,
    ProfileRole,
    ProfileStore,
    WeakPassphrase,
    WrongPassphrase,
)
from tests.exchange_helpers import PASSPHRASE, PROFILE, FakeClock, make_profile, weak_kdf

SECOND = "amina's own long passphrase"
THIRD = "bogdan's own long passphrase"


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def first(tmp_path, clock):
    profile = make_profile(tmp_path / "data", ProfileRole.COORDINATOR, clock=clock)
    yield profile
    if profile.records is not None:
        profile.lock()


def _open(tmp_path, clock, passphrase):
    return ProfileStore(tmp_path / "data", clock=clock, kdf=weak_kdf()).open(
        PROFILE).unlock(passphrase)


def _slots(profile) -> list[str]:
    with profile._database.read() as connection:
        return [row[0] for row in connection.execute("SELECT slot FROM key_slots")]


def test_a_second_coordinator_unlocks_with_their_own_passphrase_and_sees_the_same_data(
        tmp_path, clock, first):
    device = first.devices.enroll(b"\x01" * 32, "laptop one")
    added = first.add_coordinator("Amina", SECOND)

    second = _open(tmp_path, clock, SECOND)
    try:
        assert second.acting_coordinator().coordinator_id == added.coordinator_id
        assert [d.device_id for d in second.devices.list()] == [device.device_id]
        # Their own keys, not the first coordinator's.
        assert second.coordinator_identity().recipient == added.age_recipient
        assert second.coordinator_identity().recipient != first.coordinator_identity().recipient
        assert (second.coordinator_signing_key().public.raw == added.signing_key
                != first.coordinator_signing_key().public.raw)
        assert [entry.name for entry in second.coordinators()] == [PROFILE, "Amina"]
    finally:
        second.lock()
    # The first passphrase still opens as the first coordinator.
    again = _open(tmp_path, clock, PASSPHRASE)
    try:
        assert again.acting_coordinator().first
    finally:
        again.lock()


def test_another_coordinators_keys_are_in_their_slot_only(tmp_path, clock, first):
    added = first.add_coordinator("Amina", SECOND)
    with first._database.read() as connection:
        secrets = [row[0] for row in connection.execute("SELECT name FROM secrets")]
        stored = connection.execute("SELECT data FROM key_slots WHERE slot = ?",
                                    [COORDINATOR_SLOT_PREFIX + added.coordinator_id]
                                    ).fetchone()[0]
    # Nothing of Amina's under the organisation key: the first coordinator cannot sign
    # as her.
    assert not any(added.coordinator_id in name for name in secrets)
    slot = CoordinatorSlot.from_json(stored)
    with pytest.raises(CryptoError):
        slot.open(PASSPHRASE, first.profile_id)
    assert "AGE-SECRET-KEY" not in stored


def test_the_audit_log_names_the_acting_coordinator_and_no_child_data(tmp_path, clock, first):
    added = first.add_coordinator("Amina", SECOND)
    second = _open(tmp_path, clock, SECOND)
    try:
        second.devices.enroll(b"\x02" * 32, "laptop two")
        entries = second.audit_entries()
        assert second.verify_audit().holds
    finally:
        second.lock()
    by_action = {(entry.action, entry.actor) for entry in entries}
    assert (AuditAction.COORDINATOR_ADDED.value, first.profile_id) in by_action
    assert (AuditAction.UNLOCKED.value, added.coordinator_id) in by_action
    assert (AuditAction.DEVICE_ENROLLED.value, added.coordinator_id) in by_action
    added_entry = next(e for e in entries if e.action == AuditAction.COORDINATOR_ADDED.value)
    assert added_entry.details == {"coordinator": added.coordinator_id, "name": "Amina"}


def test_removing_a_coordinator_closes_their_slot(tmp_path, clock, first):
    added = first.add_coordinator("Amina", SECOND)
    removed = first.remove_coordinator("Amina")
    assert removed.coordinator_id == added.coordinator_id
    assert COORDINATOR_SLOT_PREFIX + added.coordinator_id not in _slots(first)
    assert [entry.name for entry in first.coordinators()] == [PROFILE]
    first.lock()
    locked = ProfileStore(tmp_path / "data", clock=clock, kdf=weak_kdf()).open(PROFILE)
    try:
        with pytest.raises(WrongPassphrase):
            locked.unlock(SECOND)
    finally:
        locked.close()
    clock.advance(600)  # past the delay the wrong passphrase earned
    again = _open(tmp_path, clock, PASSPHRASE)
    try:
        actions = [entry.action for entry in again.audit_entries()]
        assert AuditAction.COORDINATOR_REMOVED.value in actions
    finally:
        again.lock()


def test_the_first_coordinator_and_oneself_cannot_be_removed(tmp_path, clock, first):
    first.add_coordinator("Amina", SECOND)
    with pytest.raises(CoordinatorChangeRefused):
        first.remove_coordinator(PROFILE)
    second = _open(tmp_path, clock, SECOND)
    try:
        with pytest.raises(CoordinatorChangeRefused):
            second.remove_coordinator("Amina")
        with pytest.raises(CoordinatorChangeRefused):
            second.remove_coordinator("nobody")
    finally:
        second.lock()
    assert [entry.name for entry in first.coordinators()] == [PROFILE, "Amina"]


@pytest.mark.parametrize(("name", "passphrase", "error"), [
    ("Amina", THIRD, CoordinatorChangeRefused),  # the name is taken
    ("", THIRD, CoordinatorChangeRefused),
    ("x" * 201, THIRD, CoordinatorChangeRefused),
    ("Bogdan", SECOND, CoordinatorChangeRefused),  # the passphrase already opens it
    ("Bogdan", PASSPHRASE, CoordinatorChangeRefused),
    ("Bogdan", "short", WeakPassphrase),
])
def test_a_coordinator_that_cannot_be_added_changes_nothing(first, name, passphrase, error):
    first.add_coordinator("Amina", SECOND)
    before = (_slots(first), first.coordinators(), len(first.audit_entries()))
    with pytest.raises(error):
        first.add_coordinator(name, passphrase)
    assert (_slots(first), first.coordinators(), len(first.audit_entries())) == before


def test_at_most_the_coordinators_a_pack_may_list(first):
    for number in range(1, MAX_COORDINATORS):
        first.add_coordinator(f"coordinator {number}", f"passphrase number {number:03d}")
    assert len(first.coordinators()) == MAX_COORDINATORS
    with pytest.raises(CoordinatorChangeRefused) as refused:
        first.add_coordinator("one too many", "passphrase number 999")
    assert str(MAX_COORDINATORS) in refused.value.message


def test_a_coordinator_changes_only_their_own_passphrase(tmp_path, clock, first):
    first.add_coordinator("Amina", SECOND)
    second = _open(tmp_path, clock, SECOND)
    try:
        second.change_passphrase(THIRD)
    finally:
        second.lock()
    for passphrase, first_one in ((THIRD, False), (PASSPHRASE, True)):
        opened = _open(tmp_path, clock, passphrase)
        try:
            assert opened.acting_coordinator().first is first_one
        finally:
            opened.lock()


def test_a_field_profile_has_no_coordinators_to_add(tmp_path, clock):
    field = make_profile(tmp_path / "field", ProfileRole.FIELD, clock=clock)
    try:
        with pytest.raises(UserError) as refused:
            field.add_coordinator("Amina", SECOND)
        assert "coordinator profile" in str(refused.value)
    finally:
        field.lock()


def test_a_damaged_coordinator_slot_opens_for_nobody_and_the_others_still_do(
        tmp_path, clock, first):
    added = first.add_coordinator("Amina", SECOND)
    with first._database.write() as db:
        db.execute("UPDATE key_slots SET data = ? WHERE slot = ?",
                   [json.dumps({"format": 1, "kdf": "damaged"}),
                    COORDINATOR_SLOT_PREFIX + added.coordinator_id])
    first.lock()
    locked = ProfileStore(tmp_path / "data", clock=clock, kdf=weak_kdf()).open(PROFILE)
    try:
        with pytest.raises(WrongPassphrase):
            locked.unlock(SECOND)
    finally:
        locked.close()
    clock.advance(600)
    again = _open(tmp_path, clock, PASSPHRASE)
    again.lock()
