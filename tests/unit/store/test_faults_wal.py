"""The write-ahead log deleted, truncated or damaged while the profile is closed.

A clean lock checkpoints and removes the `-wal` file, so only a crash leaves one behind.
If it is then deleted (a clean-up tool, a copy of the profile made without it) or cut
short, SQLite opens the database silently without the writes it held. Every write is
therefore checkpointed into the main file before it is acknowledged: whatever happens to
the `-wal` and `-shm` files, every acknowledged record is there, the database passes its
integrity check, and nothing crashes.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import store_child
from tests.conftest import ROOT
from tests.fault_helpers import integrity
from tests.store_helpers import PASSPHRASE, PROFILE, create_profile, database_path, new_store

OK = [("ok",)]


def _wal(path: Path) -> Path:
    return Path(f"{path}-wal")


def _shm(path: Path) -> Path:
    return Path(f"{path}-shm")


def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "wal deleted": lambda db: _wal(db).unlink(),
    "wal and shm deleted": lambda db: (_wal(db).unlink(), _shm(db).unlink()),
    "wal emptied": lambda db: os.truncate(_wal(db), 0),
    "wal cut inside its header": lambda db: os.truncate(_wal(db), 20),
    "wal cut in half": lambda db: os.truncate(_wal(db), _wal(db).stat().st_size // 2),
    "wal cut one byte short": lambda db: os.truncate(_wal(db), _wal(db).stat().st_size - 1),
    "wal zeroed": lambda db: _wal(db).write_bytes(bytes(_wal(db).stat().st_size)),
    "wal byte flipped": lambda db: _flip_middle(_wal(db)),
    "wal random": lambda db: _wal(db).write_bytes(random.Random(3).randbytes(
        _wal(db).stat().st_size)),
    "shm deleted": lambda db: _shm(db).unlink(),
    "shm random": lambda db: _shm(db).write_bytes(random.Random(4).randbytes(
        _shm(db).stat().st_size)),
}


@pytest.fixture(scope="module")
def crashed(tmp_path_factory) -> tuple[Path, dict[str, tuple[int, int]]]:
    """A profile whose writer was killed after acknowledging saves: its -wal remains.

    Returns the data folder (to copy, never to change) and the acknowledged saves.
    """
    data_dir = tmp_path_factory.mktemp("crashed") / "data"
    _store, profile = create_profile(data_dir)
    profile.lock()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store_child"], cwd=ROOT, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdin.write(json.dumps({"mode": "saves", "data_dir": str(data_dir),
                                  "profile": PROFILE, "passphrase": PASSPHRASE,
                                  "run": 1}) + "\n")
    child.stdin.close()
    assert child.stdout.readline().strip() == "ready"
    lines = [child.stdout.readline() for _n in range(40)]
    child.send_signal(signal.SIGKILL)
    lines += child.stdout.read().splitlines()
    child.wait()
    child.stdout.close()
    child.stderr.close()
    acknowledged = {}
    for line in lines:
        record_id, run, n = line.split()
        acknowledged[record_id] = (int(run), int(n))
    path = database_path(data_dir)
    assert _wal(path).stat().st_size > 0 and _shm(path).exists(), "no WAL left by the kill"
    return data_dir, acknowledged


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_acknowledged_saves_survive_whatever_happens_to_the_wal(crashed, tmp_path, damage):
    source, acknowledged = crashed
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    path = database_path(data_dir)
    DAMAGE[damage](path)

    profile = new_store(data_dir).open(PROFILE).unlock(PASSPHRASE)
    try:
        assert profile._database.integrity_check()
        held = {summary.id for summary in profile.records.list()}
        assert set(acknowledged) <= held, f"{damage}: acknowledged saves lost"
        assert len(held - set(acknowledged)) <= 1  # the save in flight at the kill
        for record_id, (run, n) in acknowledged.items():
            assert profile.records.get(record_id).answers == store_child.answers(run, n)
        assert profile.verify_audit().holds
    finally:
        profile.lock()
    assert integrity(path) == OK


@pytest.mark.parametrize("stray", ["empty", "random", "header only"])
def test_a_stray_wal_beside_a_cleanly_locked_profile_changes_nothing(tmp_path, stray):
    data_dir = tmp_path / "data"
    _store, profile = create_profile(data_dir)
    ids = [profile.records.save_final("child-screening", "2026.11.0", {"n": n},
                                      {"final_decision": "urgent"}).id for n in range(20)]
    profile.lock()
    path = database_path(data_dir)
    # A clean lock leaves no WAL: everything is in the main file.
    assert not _wal(path).exists()
    if stray == "empty":
        _wal(path).write_bytes(b"")
    elif stray == "random":
        _wal(path).write_bytes(random.Random(5).randbytes(40_000))
    else:  # a valid-looking WAL header (magic, version, page size) with no frames
        _wal(path).write_bytes(bytes.fromhex("377f0682002de218") + (4096).to_bytes(4, "big")
                               + bytes(20))

    profile = new_store(data_dir).open(PROFILE).unlock(PASSPHRASE)
    try:
        assert profile._database.integrity_check()
        assert {summary.id for summary in profile.records.list()} == set(ids)
        assert profile.verify_audit().holds
    finally:
        profile.lock()
