"""The coordinator's statistics snapshot: sealed blobs, so unlock need not open every summary.

Rebuilding the statistics table at unlock opened one AES-GCM summary per imported record:
7.6 s for a million. The snapshot keeps what that rebuild produces, sealed:

- one `base` blob: the whole table as `reporting/snapshot.py` serialises it, written when
  the snapshot is (re)built or compacted;
- one `delta` blob per import transaction, written inside that transaction: the
  (record id, created_at, summary) rows of the records it stored, so the snapshot can never
  miss an import that committed, nor contain one that rolled back.

Each blob is AES-256-GCM with the imported-records key, its associated data naming the
table, its row id, its kind and how many ledger entries existed when it was written, so a
blob moved to another row, swapped for another kind or replayed from an older snapshot does
not open or does not fit. Every import adds exactly one ledger entry and one delta, so the
blobs must count on from the base one by one up to the ledger as it is now: a gap (a
deleted delta, an import by a version without snapshots) makes the snapshot stale, and it
is rebuilt from the summaries. What this module stores is only
ciphertext; nothing about the statistics is written in clear (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlite_utils

from fieldscreen.store.crypto import CryptoError, FieldCipher
from fieldscreen.store.database import ProfileDatabase

SNAPSHOT_TABLE = "statistics_snapshot"
SNAPSHOT_SCHEMA_VERSION = 1
BASE = "base"
DELTA = "delta"


def create_table(db: sqlite_utils.Database) -> None:
    db.execute(
        f"CREATE TABLE {SNAPSHOT_TABLE} (id INTEGER PRIMARY KEY, kind TEXT NOT NULL "
        "CHECK (kind IN ('base', 'delta')), ledger_rows INTEGER NOT NULL, "
        "sealed BLOB NOT NULL)")


class SnapshotUnreadable(Exception):
    """A blob does not open (damaged, moved, or sealed with another key): rebuild."""


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """The base blob's plaintext (None when there is none) and every delta's rows, in order."""

    base: bytes | None
    deltas: list[list[tuple[str, str, dict[str, Any]]]]
    chained: bool  # the blobs count on one ledger entry at a time from the base
    ledger_rows: int  # as recorded by the newest blob
    current_ledger_rows: int  # the ledger now

    @property
    def stale(self) -> bool:
        return (self.base is None or not self.chained
                or self.ledger_rows != self.current_ledger_rows)


class StatisticsSnapshotStore:
    """Reads and writes the sealed blobs; `reporting/snapshot.py` gives them meaning."""

    def __init__(self, database: ProfileDatabase, cipher: FieldCipher) -> None:
        self._database = database
        self._cipher = cipher

    @staticmethod
    def _context(kind: str, row_id: int, ledger_rows: int) -> bytes:
        return FieldCipher.context(SNAPSHOT_TABLE, kind, f"{row_id}:{ledger_rows}",
                                   SNAPSHOT_SCHEMA_VERSION)

    def append_delta(self, db: sqlite_utils.Database,
                     rows: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Inside an import's transaction: the rows it stored, as one sealed delta.

        Written only when a base exists: without one the next load rebuilds everything
        anyway, and deltas would pile up unread.
        """
        connection = db.conn
        if connection.execute(f"SELECT 1 FROM {SNAPSHOT_TABLE} WHERE kind = 'base'"  # noqa: S608
                              ).fetchone() is None:
            return
        plain = orjson.dumps([list(row) for row in rows])
        row_id = (connection.execute(f"SELECT MAX(id) FROM {SNAPSHOT_TABLE}"  # noqa: S608
                                     ).fetchone()[0] or 0) + 1
        ledger_rows = connection.execute("SELECT COUNT(*) FROM batch_ledger").fetchone()[0]
        connection.execute(
            f"INSERT INTO {SNAPSHOT_TABLE} (id, kind, ledger_rows, sealed) "  # noqa: S608
            "VALUES (?, 'delta', ?, ?)",
            [row_id, ledger_rows,
             self._cipher.seal(plain, self._context(DELTA, row_id, ledger_rows))])

    def read(self) -> StoredSnapshot:
        """Every blob, opened. Raises SnapshotUnreadable when any does not open."""
        base: bytes | None = None
        deltas: list[list[tuple[str, str, dict[str, Any]]]] = []
        newest = -1
        chained = True
        with self._database.read() as connection:
            current = connection.execute("SELECT COUNT(*) FROM batch_ledger").fetchone()[0]
            rows = connection.execute(
                f"SELECT id, kind, ledger_rows, sealed FROM {SNAPSHOT_TABLE} "  # noqa: S608
                "ORDER BY id").fetchall()
        for row_id, kind, ledger_rows, sealed in rows:
            try:
                plain = self._cipher.open(sealed, self._context(kind, row_id, ledger_rows))
            except CryptoError:
                raise SnapshotUnreadable(kind) from None
            if kind == BASE:
                # A base after deltas replaces them (compaction deletes them in the same
                # transaction; this only guards against a damaged order).
                base, deltas, chained = plain, [], True
            else:
                chained = chained and base is not None and ledger_rows == newest + 1
                try:
                    decoded = orjson.loads(plain)
                    deltas.append([(str(r[0]), str(r[1]), dict(r[2])) for r in decoded])
                except (orjson.JSONDecodeError, TypeError, IndexError, ValueError):
                    raise SnapshotUnreadable(kind) from None
            newest = ledger_rows
        return StoredSnapshot(base, deltas, chained, newest, current)

    def write_base(self, plain: bytes, ledger_rows: int) -> bool:
        """Replace every blob with one base, if the ledger still has `ledger_rows` entries.

        False (nothing written) when an import committed since the caller read the
        ledger: the base would miss it; the next load rebuilds again.
        """
        with self._database.write() as db:
            connection = db.conn
            if connection.execute("SELECT COUNT(*) FROM batch_ledger").fetchone()[0] != (
                    ledger_rows):
                return False
            connection.execute(f"DELETE FROM {SNAPSHOT_TABLE}")  # noqa: S608
            connection.execute(
                f"INSERT INTO {SNAPSHOT_TABLE} (id, kind, ledger_rows, sealed) "  # noqa: S608
                "VALUES (1, 'base', ?, ?)",
                [ledger_rows, self._cipher.seal(plain, self._context(BASE, 1, ledger_rows))])
        return True

    def ledger_rows(self) -> int:
        with self._database.read() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM batch_ledger").fetchone()[0])

    def blob_count(self) -> int:
        with self._database.read() as connection:
            return int(connection.execute(
                f"SELECT COUNT(*) FROM {SNAPSHOT_TABLE}").fetchone()[0])  # noqa: S608
