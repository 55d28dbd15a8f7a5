"""The open-time check of a large profile is cheap, and damage is still reported.

Past FULL_CHECK_AT_OPEN_BYTES (a coordinator's gigabytes) `open()` reads only the file's
header, the WAL's header and the schema; the full check runs on demand. Each test forces
that path on a small profile by lowering the limit to 0.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from fieldscreen.store import database
from fieldscreen.store.database import StorageDamaged
from fieldscreen.store.profile import ProfileStore
from tests.store_helpers import PASSPHRASE, PROFILE, create_profile, database_path


@pytest.fixture
def cheap_open(monkeypatch):
    monkeypatch.setattr(database, "FULL_CHECK_AT_OPEN_BYTES", 0)


def _profile_with_pages(tmp_path: Path) -> tuple[ProfileStore, Path]:
    data_dir = tmp_path / "data"
    store, profile = create_profile(data_dir)
    for n in range(60):
        profile.records.save_final("child-screening", "2026.11.0",
                                   {"worker_note": f"note {n} " + "z" * 400}, {"d": "urgent"})
    profile.lock()
    return store, database_path(data_dir)


def _damage(path: Path, damage: str) -> None:
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    middle = (len(data) // page_size // 2) * page_size
    noise = random.Random(7)
    if damage == "whole page":
        data[middle : middle + page_size] = noise.randbytes(page_size)
    elif damage == "file header":
        data[0:16] = b"not SQLite at all"[:16]
    elif damage == "page size":
        data[16:18] = (3000).to_bytes(2, "big")
    elif damage == "truncated":
        del data[middle:]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["file header", "page size", "truncated"])
def test_header_damage_and_truncation_are_refused_at_a_cheap_open(tmp_path, cheap_open,
                                                                  damage):
    store, path = _profile_with_pages(tmp_path)
    _damage(path, damage)
    with pytest.raises(StorageDamaged) as caught:
        store.open(PROFILE)
    assert "damaged" in caught.value.message
    assert "Do not delete it" in caught.value.hint


def test_a_foreign_wal_is_refused_at_a_cheap_open(tmp_path, cheap_open):
    store, path = _profile_with_pages(tmp_path)
    Path(str(path) + "-wal").write_bytes(b"\x00" * 4096)
    with pytest.raises(StorageDamaged):
        store.open(PROFILE)


def test_a_torn_wal_left_by_a_crash_still_opens(tmp_path, cheap_open):
    store, path = _profile_with_pages(tmp_path)
    Path(str(path) + "-wal").write_bytes(b"\x37\x7f")  # shorter than a WAL header
    profile = store.open(PROFILE).unlock(PASSPHRASE)
    try:
        assert profile.records.count() == 60
    finally:
        profile.lock()


def test_a_damaged_page_inside_is_found_by_the_full_check(tmp_path, cheap_open):
    store, path = _profile_with_pages(tmp_path)
    _damage(path, "whole page")
    locked = store.open(PROFILE)  # the middle page holds records, not the schema
    profile = locked.unlock(PASSPHRASE)
    try:
        assert profile.integrity_check() is False
    finally:
        profile.lock()


def test_an_undamaged_large_profile_opens_and_passes_the_full_check(tmp_path, cheap_open):
    store, _path = _profile_with_pages(tmp_path)
    profile = store.open(PROFILE).unlock(PASSPHRASE)
    try:
        assert profile.records.count() == 60
        calls: list[int] = []
        assert profile.integrity_check(progress=lambda: calls.append(1)) is True
        assert calls, "a long check shows that it is working"
    finally:
        profile.lock()


def test_small_profiles_still_get_the_full_check_at_open(tmp_path):
    store, path = _profile_with_pages(tmp_path)
    _damage(path, "whole page")
    with pytest.raises(StorageDamaged):
        store.open(PROFILE)
