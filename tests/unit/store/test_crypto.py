"""Tampering with the encrypted store: every altered byte or moved value is refused.

An attacker (or a careless tool) with the database file in hand may copy ciphertexts between
rows, swap columns, flip bytes, weaken a key slot's parameters or plant another profile's
recovery slot. Each must fail loudly with the right error and never decrypt into the wrong
place, and refusing must stay cheap (no Argon2id run for absurd parameters).
"""

from __future__ import annotations

import json
import os
import time

import pytest

from fieldscreen.errors import UserError
from fieldscreen.store import keyslots
from fieldscreen.store.crypto import (
    AgeIdentity,
    CryptoError,
    FieldCipher,
    KdfParameters,
    SigningKey,
    b64,
    derive_key,
    random_key,
)
from fieldscreen.store.database import StorageDamaged
from fieldscreen.store.keyslots import RecoverySlot
from fieldscreen.store.profile import (
    UnlockDelayed,
    WrongPassphrase,
    unlock_delay,
)
from fieldscreen.store.records import RecordUnreadable
from tests.store_helpers import (
    OTHER_PASSPHRASE,
    PASSPHRASE,
    PROFILE,
    FakeClock,
    create_profile,
    database_path,
    new_store,
    raw_connection,
)

# -- records: ciphertexts bound to their row and column ------------------------------------------


@pytest.fixture
def two_records(tmp_path):
    """A locked profile with two final records; (store, path, id_a, id_b)."""
    data_dir = tmp_path / "data"
    store, profile = create_profile(data_dir)
    first = profile.records.save_final("child-screening", "1", {"worker_note": "first"},
                                       {"final_decision": "urgent"}).id
    second = profile.records.save_final("child-screening", "1", {"worker_note": "second"},
                                        {"final_decision": "information"}).id
    profile.lock()
    return store, database_path(data_dir), first, second


def _unlocked(store):
    return store.open(PROFILE).unlock(PASSPHRASE)


def _column(path, column, record_id) -> bytes:
    with raw_connection(path) as connection:
        return connection.execute(f"SELECT {column} FROM records WHERE id = ?",
                                  [record_id]).fetchone()[0]


def _set_column(path, column, record_id, value) -> None:
    with raw_connection(path) as connection:
        connection.execute(f"UPDATE records SET {column} = ? WHERE id = ?", [value, record_id])


def test_untouched_records_open(two_records):
    """The control: without tampering both records read back."""
    store, _path, first, second = two_records
    profile = _unlocked(store)
    try:
        assert profile.records.get(first).answers == {"worker_note": "first"}
        assert profile.records.get(second).summary.decision == "information"
    finally:
        profile.lock()


@pytest.mark.parametrize("column", ["payload", "summary"])
def test_ciphertext_copied_into_another_row_does_not_open(two_records, column):
    store, path, first, second = two_records
    _set_column(path, column, second, _column(path, column, first))
    profile = _unlocked(store)
    try:
        with pytest.raises(RecordUnreadable):
            profile.records.get(second)
        if column == "summary":
            with pytest.raises(RecordUnreadable):
                profile.records.list()
        # The row the ciphertext came from is still fine.
        assert profile.records.get(first).answers == {"worker_note": "first"}
    finally:
        profile.lock()


def test_whole_row_moved_under_another_id_does_not_open(two_records):
    store, path, first, _second = two_records
    with raw_connection(path) as connection:
        connection.execute("UPDATE records SET id = ? WHERE id = ?",
                           ["00000000-0000-4000-8000-000000000000", first])
    profile = _unlocked(store)
    try:
        with pytest.raises(RecordUnreadable):
            profile.records.get("00000000-0000-4000-8000-000000000000")
    finally:
        profile.lock()


def test_swapped_columns_do_not_open(two_records):
    store, path, first, _second = two_records
    payload, summary = _column(path, "payload", first), _column(path, "summary", first)
    _set_column(path, "payload", first, summary)
    _set_column(path, "summary", first, payload)
    profile = _unlocked(store)
    try:
        with pytest.raises(RecordUnreadable):
            profile.records.get(first)
        with pytest.raises(RecordUnreadable):
            profile.records.list()
    finally:
        profile.lock()


# Version byte, nonce, ciphertext body, last byte of the tag.
@pytest.mark.parametrize("position", [0, 5, 30, -1])
@pytest.mark.parametrize("column", ["payload", "summary"])
def test_one_flipped_byte_does_not_open(two_records, column, position):
    store, path, first, _second = two_records
    sealed = bytearray(_column(path, column, first))
    sealed[position] ^= 0x01
    _set_column(path, column, first, bytes(sealed))
    profile = _unlocked(store)
    try:
        with pytest.raises(RecordUnreadable) as caught:
            profile.records.get(first)
        assert "altered or damaged" in caught.value.message
    finally:
        profile.lock()


def test_truncated_ciphertext_does_not_open(two_records):
    store, path, first, _second = two_records
    _set_column(path, "payload", first, _column(path, "payload", first)[:10])
    profile = _unlocked(store)
    try:
        with pytest.raises(RecordUnreadable):
            profile.records.get(first)
    finally:
        profile.lock()


# -- the passphrase slot ---------------------------------------------------------------------


def _slot(path, name="passphrase") -> dict:
    with raw_connection(path) as connection:
        return json.loads(connection.execute("SELECT data FROM key_slots WHERE slot = ?",
                                             [name]).fetchone()[0])


def _set_slot(path, data: dict, name="passphrase") -> None:
    with raw_connection(path) as connection:
        connection.execute("UPDATE key_slots SET data = ? WHERE slot = ?",
                           [json.dumps(data), name])


@pytest.fixture
def locked_profile(tmp_path):
    """(store, database path) of a closed profile with one record."""
    data_dir = tmp_path / "data"
    store, profile = create_profile(data_dir)
    profile.records.save_final("child-screening", "1", {"worker_note": "x"}, {})
    profile.lock()
    return store, database_path(data_dir)


@pytest.mark.parametrize("change", [
    {"iterations": 2},
    {"memory_kib": 16 * 1024},
    {"lanes": 2},
    {"salt": b64(b"\x07" * 16)},
])
def test_slot_with_changed_parameters_is_refused_with_the_right_passphrase(locked_profile,
                                                                          change):
    store, path = locked_profile
    slot = _slot(path)
    slot["kdf"].update(change)
    _set_slot(path, slot)
    locked = store.open(PROFILE)
    try:
        with pytest.raises((WrongPassphrase, StorageDamaged)):
            locked.unlock(PASSPHRASE)
    finally:
        locked.close()


def test_untouched_slot_opens(locked_profile):
    """The control for the slot tests: rewriting the same JSON changes nothing."""
    store, path = locked_profile
    _set_slot(path, _slot(path))
    store.open(PROFILE).unlock(PASSPHRASE).lock()


@pytest.mark.parametrize("change", [
    {"memory_kib": 1024**3},  # 1 TiB
    {"iterations": 10**6},
    {"lanes": 100_000},
    {"memory_kib": 1},
    {"iterations": 0},
    {"salt": b64(b"short")},
    {"salt": "not base64!"},
    {"algorithm": "pbkdf2"},
    {"iterations": "many"},
])
def test_absurd_slot_parameters_are_refused_without_deriving(locked_profile, monkeypatch,
                                                            change):
    store, path = locked_profile
    slot = _slot(path)
    slot["kdf"].update(change)
    _set_slot(path, slot)

    def must_not_run(*_args, **_kwargs):
        raise AssertionError("Argon2id ran on parameters that should have been refused")

    # The slot derives through this name; replacing it proves the KDF is never started.
    monkeypatch.setattr(keyslots, "derive_key", must_not_run)
    locked = store.open(PROFILE)
    try:
        started = time.monotonic()
        with pytest.raises(StorageDamaged) as caught:
            locked.unlock(PASSPHRASE)
        assert time.monotonic() - started < 5
        assert caught.value.hint and "recover" in caught.value.hint
    finally:
        locked.close()


@pytest.mark.parametrize("parameters", [
    {"memory_kib": 1024**3, "iterations": 1},
    {"memory_kib": 8192, "iterations": 10**6},
])
def test_derive_key_itself_refuses_absurd_parameters_quickly(parameters):
    kdf = KdfParameters(b64(os.urandom(16)), lanes=1, **parameters)
    started = time.monotonic()
    with pytest.raises(CryptoError):
        derive_key(PASSPHRASE, kdf)
    assert time.monotonic() - started < 1


def test_damaged_slot_json_is_refused(locked_profile):
    store, path = locked_profile
    with raw_connection(path) as connection:
        connection.execute("UPDATE key_slots SET data = '{not json' WHERE slot = 'passphrase'")
    locked = store.open(PROFILE)
    try:
        with pytest.raises(StorageDamaged):
            locked.unlock(PASSPHRASE)
    finally:
        locked.close()


# -- wrong passphrases: a growing delay that survives a restart --------------------------------


def test_wrong_passphrase_delay_doubles_and_survives_reopening(tmp_path):
    clock = FakeClock()
    data_dir = tmp_path / "data"
    _store, profile = create_profile(data_dir, clock=clock)
    profile.lock()
    locked = new_store(data_dir, clock).open(PROFILE)
    assert locked.remaining_delay() == 0
    for failures, expected in enumerate([1.0, 2.0, 4.0, 8.0], start=1):
        with pytest.raises(WrongPassphrase) as caught:
            locked.unlock(OTHER_PASSPHRASE)
        assert caught.value.delay == expected == unlock_delay(failures)
        assert locked.remaining_delay() == expected
        # Even the right passphrase must wait now, and waiting records no new failure.
        with pytest.raises(UnlockDelayed) as delayed:
            locked.unlock(PASSPHRASE)
        assert delayed.value.delay == expected
        assert f"{int(expected)} second" in delayed.value.message
        # Closing and opening again (a restarted app) does not reset the count.
        locked.close()
        clock.advance(expected / 2)
        locked = new_store(data_dir, clock).open(PROFILE)
        assert locked.remaining_delay() == pytest.approx(expected / 2)
        with pytest.raises(UnlockDelayed):
            locked.unlock(OTHER_PASSPHRASE)
        clock.advance(expected / 2)
        assert locked.remaining_delay() == 0
    # The right passphrase resets the count.
    locked.unlock(PASSPHRASE).lock()
    locked = new_store(data_dir, clock).open(PROFILE)
    with pytest.raises(WrongPassphrase) as caught:
        locked.unlock(OTHER_PASSPHRASE)
    assert caught.value.delay == 1.0
    locked.close()


def test_unlock_delay_is_capped():
    assert unlock_delay(0) == 0
    assert unlock_delay(9) == 256
    assert unlock_delay(10) == unlock_delay(50) == 300


def test_clock_set_back_does_not_lengthen_the_delay(tmp_path):
    clock = FakeClock()
    _store, profile = create_profile(tmp_path / "data", clock=clock)
    profile.lock()
    locked = new_store(tmp_path / "data", clock).open(PROFILE)
    try:
        with pytest.raises(WrongPassphrase):
            locked.unlock(OTHER_PASSPHRASE)
        clock.advance(-10_000)
        assert locked.remaining_delay() == 1.0
    finally:
        locked.close()


# -- recovery slots ----------------------------------------------------------------------------


@pytest.fixture
def coordinator():
    return AgeIdentity.generate()


def test_recovery_opens_and_sets_a_new_passphrase(tmp_path, coordinator):
    """The control for the recovery tests."""
    data_dir = tmp_path / "data"
    store, profile = create_profile(data_dir, recovery_recipient=coordinator.recipient)
    record_id = profile.records.save_final("f", "1", {"worker_note": "kept"}, {}).id
    profile.lock()
    recovered = store.open(PROFILE).recover(coordinator, OTHER_PASSPHRASE)
    recovered.lock()
    profile = store.open(PROFILE).unlock(OTHER_PASSPHRASE)
    try:
        assert profile.records.get(record_id).answers == {"worker_note": "kept"}
        assert profile.verify_audit().holds
    finally:
        profile.lock()


def test_recovery_slot_of_another_profile_does_not_open(tmp_path, coordinator):
    _store_a, profile_a = create_profile(tmp_path / "a", recovery_recipient=coordinator.recipient)
    profile_a.lock()
    store_b, profile_b = create_profile(tmp_path / "b", recovery_recipient=coordinator.recipient)
    profile_b.lock()
    slot_a = _slot(database_path(tmp_path / "a"), "recovery")
    _set_slot(database_path(tmp_path / "b"), slot_a, "recovery")
    locked = store_b.open(PROFILE)
    try:
        with pytest.raises(UserError) as caught:
            locked.recover(coordinator, OTHER_PASSPHRASE)
        assert "does not open" in caught.value.message
    finally:
        locked.close()
    # Nothing changed in B: its own passphrase still opens it.
    store_b.open(PROFILE).unlock(PASSPHRASE).lock()


def test_recovery_with_the_wrong_identity_fails_clearly(tmp_path, coordinator):
    store, profile = create_profile(tmp_path / "data", recovery_recipient=coordinator.recipient)
    profile.lock()
    locked = store.open(PROFILE)
    try:
        with pytest.raises(UserError) as caught:
            locked.recover(AgeIdentity.generate(), OTHER_PASSPHRASE)
        assert caught.value.message == "This identity does not open the profile's recovery slot."
        assert caught.value.hint and "coordinator" in caught.value.hint
    finally:
        locked.close()
    profile = store.open(PROFILE).unlock(PASSPHRASE)
    try:
        # Nothing was written: creation is the only audit entry before this unlock.
        assert [entry.action for entry in profile.audit_entries()] == [
            "profile.created", "profile.unlocked"]
    finally:
        profile.lock()


def test_recovery_without_a_slot_says_so(tmp_path, coordinator):
    store, profile = create_profile(tmp_path / "data")
    profile.lock()
    locked = store.open(PROFILE)
    try:
        with pytest.raises(UserError, match="no recovery slot"):
            locked.recover(coordinator, OTHER_PASSPHRASE)
    finally:
        locked.close()


def test_forged_recovery_slot_does_not_replace_the_passphrase(tmp_path, coordinator):
    """A recovery slot holding some other key must be refused before anything is rewritten.

    The profile id is stored in clear, so anyone who can write the file can seal a random
    key to their own age recipient under this profile's id. Recovery must notice that the
    key is not this profile's (it opens none of its secrets) instead of wrapping it into a
    new passphrase slot, which would make every record unreadable for good.
    """
    data_dir = tmp_path / "data"
    store, profile = create_profile(data_dir, recovery_recipient=coordinator.recipient)
    record_id = profile.records.save_final("f", "1", {"worker_note": "kept"}, {}).id
    profile_id = profile.profile_id
    profile.lock()
    intruder = AgeIdentity.generate()
    forged = RecoverySlot.create(random_key(), intruder.recipient, profile_id)
    with raw_connection(database_path(data_dir)) as connection:
        connection.execute("UPDATE key_slots SET data = ? WHERE slot = 'recovery'",
                           [forged.to_json()])
    locked = store.open(PROFILE)
    try:
        with pytest.raises(UserError):
            locked.recover(intruder, OTHER_PASSPHRASE).lock()
    finally:
        locked.close()
    profile = store.open(PROFILE).unlock(PASSPHRASE)
    try:
        assert profile.records.get(record_id).answers == {"worker_note": "kept"}
    finally:
        profile.lock()


# -- primitives: field contexts and signature domains ----------------------------------------


BASE_CONTEXT = ("records", "payload", "8d1c0c1e-0000-4000-8000-000000000001", 1)


@pytest.mark.parametrize("index, other", [
    (0, "audit_log"), (1, "summary"), (2, "8d1c0c1e-0000-4000-8000-000000000002"), (3, 2),
])
def test_field_contexts_do_not_interchange(index, other):
    cipher = FieldCipher(random_key())
    sealed = cipher.seal(b"answers", FieldCipher.context(*BASE_CONTEXT))
    assert cipher.open(sealed, FieldCipher.context(*BASE_CONTEXT)) == b"answers"
    moved = list(BASE_CONTEXT)
    moved[index] = other
    with pytest.raises(CryptoError):
        cipher.open(sealed, FieldCipher.context(*moved))


def test_field_context_parts_cannot_shift():
    """'a' + 'bc' and 'ab' + 'c' are different places."""
    assert FieldCipher.context("records", "payload", "1", 1) != FieldCipher.context(
        "records", "payloa", "d1", 1)
    cipher = FieldCipher(random_key())
    sealed = cipher.seal(b"x", FieldCipher.context("records", "payload", "1", 1))
    with pytest.raises(CryptoError):
        cipher.open(sealed, FieldCipher.context("records", "payloa", "d1", 1))


def test_field_cipher_refuses_another_key_and_odd_input():
    context = FieldCipher.context(*BASE_CONTEXT)
    sealed = FieldCipher(random_key()).seal(b"answers", context)
    with pytest.raises(CryptoError):
        FieldCipher(random_key()).open(sealed, context)
    for odd in (b"", b"\x01", b"\x02" + sealed[1:], sealed[:28]):
        with pytest.raises(CryptoError):
            FieldCipher(random_key()).open(odd, context)
    with pytest.raises(ValueError, match="32 bytes"):
        FieldCipher(b"short")


def test_field_cipher_uses_a_fresh_nonce_each_time():
    cipher = FieldCipher(random_key())
    context = FieldCipher.context(*BASE_CONTEXT)
    assert cipher.seal(b"same", context) != cipher.seal(b"same", context)


def test_signatures_are_domain_separated():
    key = SigningKey.generate()
    signature = key.sign("batch", b"manifest")
    key.public.verify("batch", b"manifest", signature)
    with pytest.raises(CryptoError):
        key.public.verify("receipt", b"manifest", signature)
    with pytest.raises(CryptoError):
        key.public.verify("batch", b"manifest!", signature)
    with pytest.raises(CryptoError):
        SigningKey.generate().public.verify("batch", b"manifest", signature)
    with pytest.raises(CryptoError):
        key.public.verify("batch", b"manifest", signature[:-1])


def test_signature_domain_and_message_cannot_shift():
    """Moving bytes between the domain and the message does not keep a signature valid."""
    key = SigningKey.generate()
    signature = key.sign("batch", b"xmanifest")
    with pytest.raises(CryptoError):
        key.public.verify("batchx", b"manifest", signature)


def test_signing_key_round_trips_and_refuses_junk():
    key = SigningKey.generate()
    again = SigningKey.from_bytes(key.to_bytes())
    assert again.public == key.public
    again.public.verify("d", b"m", key.sign("d", b"m"))
    with pytest.raises(CryptoError):
        SigningKey.from_bytes(b"too short")


def test_row_context_builds_the_same_context_as_context():
    make = FieldCipher.row_context("imported_records", "summary", 3)
    for row_id in ("0d43a67d-1", "", "é/x"):
        assert make(row_id) == FieldCipher.context("imported_records", "summary", row_id, 3)
    assert make("a") != FieldCipher.context("imported_records", "summary", "a", 4)


def test_seal_many_opens_like_seal_with_fresh_nonces():
    cipher = FieldCipher(os.urandom(32))
    items = [(f"value {n}".encode(), FieldCipher.context("t", "c", f"row-{n}", 1))
             for n in range(50)]
    sealed = cipher.seal_many(items)
    assert [cipher.open(value, context) for value, (_plain, context)
            in zip(sealed, items, strict=True)] == [plain for plain, _context in items]
    assert cipher.open_many(list(zip(sealed, [c for _p, c in items], strict=True))) == [
        plain for plain, _context in items]
    assert len({value[1:13] for value in sealed}) == len(sealed)  # no nonce twice
    with pytest.raises(CryptoError):  # still bound to its row
        cipher.open(sealed[0], items[1][1])
    assert cipher.seal_many([]) == []
