"""The referral queue's order, kept sealed, so the first screen decrypts only what it shows.

Listing the queue opened every case and every summary (7.5-8.3 s with 150,000 open cases)
only to show the first screen. The order needs four things per case: its priority, its
status, when the child was screened and when the case was opened (deadlines and "overdue"
follow from them and the clock). Those are what the queue must not reveal on disk (which
children were referred, and how urgently), so they are not clear sort keys: they are kept
as sealed blobs, the way the statistics snapshot is (`store/statistics_snapshot.py`):

- one `base` blob with the entry of every case;
- one `delta` blob per write that changes cases (an import opening cases, a status change,
  a partner's update), written inside that write's transaction.

Each blob is AES-256-GCM with the imported-records key, bound to its row id, kind and the
audit sequence number at which it was written. Blob ids count on one by one from the base,
and every case change appends an audit entry in the same transaction, so the index is stale
(and rebuilt by opening every case once) when a delta is missing in the middle (ids skip)
or at the end (a case change was audited after the newest blob), or when any blob does not
open. The rows a screen shows are opened from the cases table itself and compared with
their entries, so a wrong entry can never show wrong data, only trigger a rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import sqlite_utils

from fieldscreen.store.audit import AuditAction
from fieldscreen.store.crypto import CryptoError, FieldCipher
from fieldscreen.store.database import ProfileDatabase

QUEUE_INDEX_TABLE = "queue_index"
QUEUE_INDEX_SCHEMA_VERSION = 1
# Past this many deltas, the next read writes them into a new base.
COMPACT_AFTER_DELTAS = 64
# (priority, status, screened_at, opened_at) of one case.
Entry = tuple[str, str, str, str]
_CASE_ACTIONS = (AuditAction.FOLLOW_UP_OPENED.value, AuditAction.FOLLOW_UP_STATUS.value)


def create_table(db: sqlite_utils.Database) -> None:
    db.execute(
        f"CREATE TABLE {QUEUE_INDEX_TABLE} (id INTEGER PRIMARY KEY, kind TEXT NOT NULL "
        "CHECK (kind IN ('base', 'delta')), audit_seq INTEGER NOT NULL, sealed BLOB NOT NULL)")


def entry_of(state: dict[str, Any]) -> Entry:
    return (str(state["priority"]), str(state["status"]), str(state["screened_at"]),
            str(state["opened_at"]))


def _context(kind: str, row_id: int, audit_seq: int) -> bytes:
    return FieldCipher.context(QUEUE_INDEX_TABLE, kind, f"{row_id}:{audit_seq}",
                               QUEUE_INDEX_SCHEMA_VERSION)


def _audit_seq(connection: Any) -> int:
    return int(connection.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetchone()[0])


def append_entries(db: Any, cipher: FieldCipher,
                   entries: Iterable[tuple[str, dict[str, Any]]]) -> None:
    """Inside a case-changing transaction, after its audit entry: the changed cases' entries.

    Nothing is written before a base exists: the first read builds the whole index anyway.
    """
    connection = db.conn if hasattr(db, "conn") else db
    if connection.execute(f"SELECT 1 FROM {QUEUE_INDEX_TABLE} WHERE kind = 'base'"  # noqa: S608
                          ).fetchone() is None:
        return
    plain = orjson.dumps({record_id: entry_of(state) for record_id, state in entries})
    row_id = connection.execute(f"SELECT MAX(id) FROM {QUEUE_INDEX_TABLE}"  # noqa: S608
                                ).fetchone()[0] + 1
    audit_seq = _audit_seq(connection)
    connection.execute(
        f"INSERT INTO {QUEUE_INDEX_TABLE} (id, kind, audit_seq, sealed) "  # noqa: S608
        "VALUES (?, 'delta', ?, ?)",
        [row_id, audit_seq, cipher.seal(plain, _context("delta", row_id, audit_seq))])


class QueueIndex:
    """Reads the sealed order entries; `ReferralQueue` rebuilds them when stale."""

    def __init__(self, database: ProfileDatabase, cipher: FieldCipher) -> None:
        self._database = database
        self._cipher = cipher

    def read(self) -> tuple[dict[str, Entry], int] | None:
        """(entries by record id, number of deltas), or None when missing, damaged or stale."""
        with self._database.read() as connection:
            rows = connection.execute(
                f"SELECT id, kind, audit_seq, sealed FROM {QUEUE_INDEX_TABLE} "  # noqa: S608
                "ORDER BY id").fetchall()
            marks = ", ".join("?" * len(_CASE_ACTIONS))
            last_change = int(connection.execute(
                f"SELECT COALESCE(MAX(seq), 0) FROM audit_log "  # noqa: S608
                f"WHERE action IN ({marks})", _CASE_ACTIONS).fetchone()[0])
            cases = int(connection.execute("SELECT COUNT(*) FROM follow_ups").fetchone()[0])
        if not rows or rows[0][1] != "base":
            return None
        entries: dict[str, Entry] = {}
        previous_id = None
        for row_id, kind, audit_seq, sealed in rows:
            if previous_id is not None and (row_id != previous_id + 1 or kind != "delta"):
                return None
            previous_id = row_id
            try:
                decoded = orjson.loads(self._cipher.open(sealed, _context(kind, row_id,
                                                                          audit_seq)))
            except (CryptoError, orjson.JSONDecodeError):
                return None
            if not isinstance(decoded, dict):
                return None
            for record_id, entry in decoded.items():
                if not (isinstance(entry, list) and len(entry) == 4
                        and all(isinstance(part, str) for part in entry)):
                    return None
                entries[record_id] = (entry[0], entry[1], entry[2], entry[3])
        if rows[-1][2] < last_change or len(entries) != cases:
            return None  # a case changed after the newest blob (its delta is missing),
            # or the index does not hold every case
        return entries, len(rows) - 1

    def write_base(self, entries: dict[str, Entry], expected_audit_seq: int | None = None
                   ) -> bool:
        """Replace every blob with one base holding `entries`.

        With `expected_audit_seq`, nothing is written (False) when the audit log moved on
        since the caller read the cases: the base could miss that change.
        """
        with self._database.write() as db:
            connection = db.conn
            audit_seq = _audit_seq(connection)
            if expected_audit_seq is not None and audit_seq != expected_audit_seq:
                return False
            row_id = (connection.execute(
                f"SELECT MAX(id) FROM {QUEUE_INDEX_TABLE}").fetchone()[0] or 0) + 1  # noqa: S608
            connection.execute(f"DELETE FROM {QUEUE_INDEX_TABLE}")  # noqa: S608
            connection.execute(
                f"INSERT INTO {QUEUE_INDEX_TABLE} (id, kind, audit_seq, sealed) "  # noqa: S608
                "VALUES (?, 'base', ?, ?)",
                [row_id, audit_seq,
                 self._cipher.seal(orjson.dumps(entries), _context("base", row_id, audit_seq))])
        return True

    def audit_seq(self) -> int:
        with self._database.read() as connection:
            return _audit_seq(connection)
