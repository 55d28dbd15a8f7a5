"""The audit chain: any edit to the log made outside FieldScreen is found, at the right entry.

The log is the record of who did what to children's records; someone with the database file
must not be able to alter, drop or reorder entries without `verify_audit()` (and the CLI's
`audit verify`) naming the first entry that no longer holds.
"""

from __future__ import annotations

import pytest

from fieldscreen.cli import main
from tests.store_helpers import (
    PASSPHRASE,
    PROFILE,
    create_profile,
    database_path,
    raw_connection,
)

SAVES = 5  # entries: 1 created + 5 saves, then 1 per unlock


@pytest.fixture
def logged(tmp_path):
    """(store, database path, record ids) of a closed profile with six audit entries."""
    data_dir = tmp_path / "data"
    store, profile = create_profile(data_dir)
    ids = [profile.records.save_final("f", "1", {"n": n}, {"final_decision": "urgent"}).id
           for n in range(SAVES)]
    profile.lock()
    return store, database_path(data_dir), ids


def _verify(store):
    profile = store.open(PROFILE).unlock(PASSPHRASE)
    try:
        return profile.verify_audit()
    finally:
        profile.lock()


def _swap_seq(connection, first: int, second: int) -> None:
    connection.execute("UPDATE audit_log SET seq = -1 WHERE seq = ?", [first])
    connection.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", [first, second])
    connection.execute("UPDATE audit_log SET seq = ? WHERE seq = -1", [second])


def _flip_details(connection, seq: int) -> None:
    details = bytearray(connection.execute("SELECT details FROM audit_log WHERE seq = ?",
                                           [seq]).fetchone()[0])
    details[-3] ^= 0x40
    connection.execute("UPDATE audit_log SET details = ? WHERE seq = ?", [bytes(details), seq])


def _insert_copy(connection, after: int) -> None:
    """Renumber the tail and put a copy of entry `after` right behind it."""
    top = connection.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
    for seq in range(top, after, -1):
        connection.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", [seq + 1, seq])
    connection.execute(
        "INSERT INTO audit_log (seq, at, action, record_id, actor, details, prev, mac) "
        "SELECT ?, at, action, record_id, actor, details, prev, mac FROM audit_log "
        "WHERE seq = ?", [after + 1, after])


# Each edit, and the first entry that must be reported broken.
TAMPERING = {
    "action changed": (lambda c, ids: c.execute(
        "UPDATE audit_log SET action = 'record.deleted' WHERE seq = 3"), 3),
    "details flipped": (lambda c, ids: _flip_details(c, 3), 3),
    "details of another entry": (lambda c, ids: c.execute(
        "UPDATE audit_log SET details = (SELECT details FROM audit_log WHERE seq = 4) "
        "WHERE seq = 3"), 3),
    "record id changed": (lambda c, ids: c.execute(
        "UPDATE audit_log SET record_id = ? WHERE seq = 3", [ids[4]]), 3),
    "time changed": (lambda c, ids: c.execute(
        "UPDATE audit_log SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 3"), 3),
    "actor changed": (lambda c, ids: c.execute(
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 3"), 3),
    "mac changed": (lambda c, ids: c.execute(
        "UPDATE audit_log SET mac = (SELECT mac FROM audit_log WHERE seq = 4) WHERE seq = 3"),
        3),
    "middle entry deleted": (lambda c, ids: c.execute("DELETE FROM audit_log WHERE seq = 3"), 3),
    "first entry deleted": (lambda c, ids: c.execute("DELETE FROM audit_log WHERE seq = 1"), 1),
    "entries reordered": (lambda c, ids: _swap_seq(c, 3, 4), 3),
    "entry duplicated in the middle": (lambda c, ids: _insert_copy(c, 3), 4),
}


@pytest.mark.parametrize("tamper", TAMPERING, ids=list(TAMPERING))
def test_tampering_reports_the_first_broken_entry(logged, tamper):
    store, path, ids = logged
    edit, first_broken = TAMPERING[tamper]
    with raw_connection(path) as connection:
        edit(connection, ids)
    result = _verify(store)
    assert not result.holds
    assert result.first_broken == first_broken
    assert result.reason


def test_untouched_chain_holds(logged):
    store, _path, _ids = logged
    result = _verify(store)
    assert result.holds
    assert result.entries == 1 + SAVES + 1  # created, the saves, this unlock


def test_entries_decrypt_and_name_their_records(logged):
    store, _path, ids = logged
    profile = store.open(PROFILE).unlock(PASSPHRASE)
    try:
        entries = profile.audit_entries()
    finally:
        profile.lock()
    assert [entry.action for entry in entries] == (
        ["profile.created"] + ["record.final_saved"] * SAVES + ["profile.unlocked"])
    assert [entry.record_id for entry in entries[1:-1]] == ids
    assert entries[1].details == {"version": 1}


# -- the command line ----------------------------------------------------------------------------


def test_cli_audit_verify(basedir, tmp_path, capsys):
    """Exit 0 and a count on an untouched profile; exit 1 naming the entry once altered."""
    _store, profile = create_profile(basedir / "data")
    profile.records.save_final("f", "1", {"n": 1}, {"final_decision": "urgent"})
    profile.lock()
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    argv = ["--basedir", str(basedir), "--profile", PROFILE, "audit", "verify",
            "--passphrase-file", str(secret)]

    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "The audit chain holds (3 entries)." in out, (out, err)

    with raw_connection(database_path(basedir / "data")) as connection:
        connection.execute("UPDATE audit_log SET action = 'record.deleted' WHERE seq = 2")
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "The audit chain is broken at entry 2: entry altered." in out, (out, err)
    assert "Traceback" not in err
