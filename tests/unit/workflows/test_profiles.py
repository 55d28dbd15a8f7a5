"""Opening profiles without Qt: the same rules for both windows and the command line."""

from __future__ import annotations

import pytest

from fieldscreen.errors import UserError
from fieldscreen.store.profile import ProfileRole
from fieldscreen.workflows.profiles import create_profile, unlock_profile
from tests.store_helpers import OTHER_PASSPHRASE, PASSPHRASE, FakeClock, new_store


def test_a_wrong_passphrase_leaves_nothing_open(tmp_path):
    clock = FakeClock()
    store = new_store(tmp_path, clock)
    profile, pack = create_profile(store, "worker", ProfileRole.FIELD, PASSPHRASE)
    assert pack is None
    profile.lock()
    with pytest.raises(UserError):
        unlock_profile(store, "worker", OTHER_PASSPHRASE)
    clock.advance(60)  # past the wait after a wrong passphrase
    # Closed again: the right passphrase opens it at once.
    unlock_profile(store, "worker", PASSPHRASE).lock()


def test_the_console_refuses_a_field_profile_and_locks_it_again(tmp_path):
    store = new_store(tmp_path)
    create_profile(store, "worker", ProfileRole.FIELD, PASSPHRASE)[0].lock()
    with pytest.raises(UserError, match="field profile"):
        unlock_profile(store, "worker", PASSPHRASE, require_coordinator=True)
    unlock_profile(store, "worker", PASSPHRASE).lock()


def test_a_pack_goes_on_field_profiles_only_and_nothing_is_created_otherwise(tmp_path):
    store = new_store(tmp_path, FakeClock())
    with pytest.raises(UserError, match="field profiles"):
        create_profile(store, "coord", ProfileRole.COORDINATOR, PASSPHRASE,
                       pack_raw=b"not read")
    assert store.names() == []


def test_a_damaged_pack_creates_no_profile(tmp_path):
    store = new_store(tmp_path)
    with pytest.raises(UserError):
        create_profile(store, "worker", ProfileRole.FIELD, PASSPHRASE, pack_raw=b"\x00junk")
    assert store.names() == []


def _asked(passphrase: str, log: list[str]):
    def ask() -> str:
        log.append("asked")
        return passphrase
    return ask


def test_a_passphrase_function_is_asked_only_for_a_profile_that_exists(tmp_path):
    store = new_store(tmp_path, FakeClock())
    asked: list[str] = []
    with pytest.raises(UserError, match="no profile called 'nobody'"):
        unlock_profile(store, "nobody", _asked(PASSPHRASE, asked))
    assert asked == []
    create_profile(store, "worker", ProfileRole.FIELD, _asked(PASSPHRASE, asked))[0].lock()
    unlock_profile(store, "worker", _asked(PASSPHRASE, asked)).lock()
    assert asked == ["asked", "asked"]


@pytest.mark.parametrize(("name", "pack_raw", "message"), [
    ("../worker", None, "not a usable profile name"),
    ("worker", b"\x00junk", "not a FieldScreen deployment pack"),
])
def test_a_bad_name_or_pack_is_refused_before_the_passphrase_is_asked(tmp_path, name,
                                                                      pack_raw, message):
    store = new_store(tmp_path, FakeClock())
    asked: list[str] = []
    with pytest.raises(UserError, match=message):
        create_profile(store, name, ProfileRole.FIELD, _asked(PASSPHRASE, asked),
                       pack_raw=pack_raw)
    assert asked == []
    assert store.names() == []
