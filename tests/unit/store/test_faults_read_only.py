"""A read-only base directory, profile folder or sync stick.

Tests run as root in CI, and root ignores permission bits, so each case is made real in a
way root cannot ignore: a read-only bind mount, a tmpfs remounted read-only, or a child
process that runs without the capabilities that let root write anywhere (for chmod 0555).
Every case must end in a clear message (StorageUnavailable, or a sync error that says the
folder is read-only), never a traceback and never "damaged"; nothing is lost, and the
profile works again once the folder is writable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fieldscreen.exchange.sync import sync
from fieldscreen.store.database import StorageUnavailable
from fieldscreen.store.profile import ProfileRole
from tests.exchange_helpers import make_world
from tests.fault_helpers import (
    ROOT,
    integrity,
    leftovers,
    read_only,
    tiny_tmpfs,
    without_root_file_powers,
)
from tests.store_helpers import PASSPHRASE, PROFILE, create_profile, database_path, new_store

OK = [("ok",)]
WRITABLE_HINT = "not read-only"


def _profile_with_records(data_dir: Path, count: int = 5) -> set[str]:
    _store, profile = create_profile(data_dir)
    ids = {profile.records.save_final("child-screening", "2026.11.0", {"n": n},
                                      {"final_decision": "urgent"}).id for n in range(count)}
    profile.lock()
    return ids


def _assert_unavailable(error: StorageUnavailable) -> None:
    assert "cannot write to its data folder" in error.message, error.message
    assert error.hint and WRITABLE_HINT in error.hint


def _reads_but_refuses_writes(store, ids: set[str]) -> None:
    profile = store.open(PROFILE).unlock(PASSPHRASE)
    try:
        assert {summary.id for summary in profile.records.list()} == ids
        with pytest.raises(StorageUnavailable) as saving:
            profile.records.save_final("child-screening", "2026.11.0", {"n": 99}, {})
        _assert_unavailable(saving.value)
    finally:
        profile.lock()


def _records_intact(data_dir: Path, ids: set[str]) -> None:
    profile = new_store(data_dir).open(PROFILE).unlock(PASSPHRASE)
    try:
        assert {summary.id for summary in profile.records.list()} == ids
        assert profile._database.integrity_check() and profile.verify_audit().holds
    finally:
        profile.lock()


def test_read_only_bind_mount_refuses_open_and_create_clearly(tmp_path):
    data_dir = tmp_path / "data"
    ids = _profile_with_records(data_dir)
    with read_only(data_dir):
        store = new_store(data_dir)
        assert store.names() == [PROFILE]  # listing still works
        # Reading works on a read-only folder; every write says why it cannot be done.
        _reads_but_refuses_writes(store, ids)
        with pytest.raises(StorageUnavailable) as creating:
            store.create("second", ProfileRole.FIELD, PASSPHRASE)
        _assert_unavailable(creating.value)
    assert integrity(database_path(data_dir)) == OK
    _records_intact(data_dir, ids)
    assert new_store(data_dir).names() == [PROFILE]


def test_base_directory_on_a_drive_remounted_read_only(tmp_path):
    with tiny_tmpfs("4m") as drive:
        data_dir = drive / "data"
        ids = _profile_with_records(data_dir)
        assert subprocess.run(["mount", "-o", "remount,ro", str(drive)],
                              check=False).returncode == 0
        try:
            store = new_store(data_dir)
            _reads_but_refuses_writes(store, ids)
            # A first profile on a read-only drive: the folder cannot even be made.
            with pytest.raises(StorageUnavailable) as creating:
                new_store(drive / "fresh").create(PROFILE, ProfileRole.FIELD, PASSPHRASE)
            _assert_unavailable(creating.value)
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(drive)], check=True)
        _records_intact(data_dir, ids)


_PROBE = """
import json, sys
from pathlib import Path
from fieldscreen.errors import UserError
from fieldscreen.store.profile import ProfileRole
from tests.store_helpers import PASSPHRASE, PROFILE, new_store

data_dir = Path(sys.argv[1])
results = {}

def attempt(label, step):
    try:
        step()
        results[label] = "ok"
    except UserError as error:
        results[label] = [type(error).__name__, error.message, error.hint]
    except Exception as error:
        results[label] = ["BUG", type(error).__name__, str(error)]

def save():
    profile = new_store(data_dir).open(PROFILE).unlock(PASSPHRASE)
    try:
        profile.records.save_final("child-screening", "2026.11.0", {"n": 99}, {})
    finally:
        profile.lock()

attempt("create", lambda: new_store(data_dir).create("second", ProfileRole.FIELD,
                                                     PASSPHRASE).lock())
attempt("open", lambda: new_store(data_dir).open(PROFILE).close())
attempt("save", save)
print(json.dumps(results))
"""


def _as_an_ordinary_user(data_dir: Path) -> dict:
    """Run the probe in a child that obeys permission bits (no root file powers)."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE, str(data_dir)], cwd=ROOT, capture_output=True,
            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120,
            preexec_fn=without_root_file_powers if os.geteuid() == 0 else None, check=False)
    except subprocess.SubprocessError as error:
        pytest.skip(f"cannot drop root's file powers here: {error}")
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


# What each step gives with one folder at chmod 0555: the error's class, or "ok".
CHMOD_CASES = {
    # No profile yet, and the base cannot take one.
    "base": {"create": "StorageUnavailable", "open": "ProfileNotFound",
             "save": "ProfileNotFound"},
    # No new profile can be made; the existing one works (its own folder is writable).
    "profiles": {"create": "StorageUnavailable", "open": "ok", "save": "ok"},
    # SQLite cannot make the -wal and -shm files: it opens for reading, and a save is
    # refused as read-only, not "damaged".
    "profile folder": {"create": "ok", "open": "ok", "save": "StorageUnavailable"},
}


@pytest.mark.parametrize("where", list(CHMOD_CASES))
def test_chmod_0555_gives_clear_messages_and_loses_nothing(tmp_path, where):
    data_dir = tmp_path / "data"
    if where == "base":
        data_dir.mkdir()
        ids: set[str] = set()
    else:
        ids = _profile_with_records(data_dir)
    folder = {"base": data_dir, "profiles": data_dir / "profiles",
              "profile folder": data_dir / "profiles" / PROFILE}[where]
    folder.chmod(0o555)
    try:
        results = _as_an_ordinary_user(data_dir)
    finally:
        folder.chmod(0o700)
    assert {step: value if value == "ok" else value[0]
            for step, value in results.items()} == CHMOD_CASES[where], results
    for value in results.values():
        if value != "ok" and value[0] == "StorageUnavailable":
            assert WRITABLE_HINT in value[2], results
    if ids:
        profile = new_store(data_dir).open(PROFILE).unlock(PASSPHRASE)
        try:
            held = {summary.id for summary in profile.records.list()}
            assert ids <= held and len(held - ids) == (results["save"] == "ok")
            assert profile._database.integrity_check() and profile.verify_audit().holds
        finally:
            profile.lock()


def test_sync_to_a_write_protected_stick_is_not_retried_and_marks_nothing_sent(tmp_path):
    world = make_world(tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    waits: list[float] = []
    try:
        world.save(3)
        with read_only(stick):
            report = sync(world.field, target=str(stick), now=world.clock, sleep=waits.append)

        assert report.error is not None and "read-only" in report.error
        assert waits == [], "a write-protected stick does not become writable by waiting"
        assert report.delivered_batches == 0 and report.pending_batches == 1
        assert list(stick.iterdir()) == []

        report = sync(world.field, target=str(stick), now=world.clock, sleep=waits.append)

        assert report.error is None and report.delivered_batches == 1
        assert leftovers(stick) == []
    finally:
        world.close()
