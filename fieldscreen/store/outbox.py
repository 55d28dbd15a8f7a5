"""The field profile's outbox: sealed batches, their delivery, and the receipts that close them.

A batch enters the outbox in the same transaction that marks its records sealed, so a
crash can never leave records marked sealed without the batch that holds them, nor a batch
whose records could be sealed again. The sealed bytes are kept: a retry uploads exactly
the same file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fieldscreen.store.audit import GENESIS, AuditAction, AuditLog
from fieldscreen.store.database import ProfileDatabase
from fieldscreen.store.timestamps import utc_stamp

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class OutboxBatch:
    """A sealed batch (an age file for the coordinator) and where it is in its journey."""

    batch_id: str
    sequence: int
    created_at: str
    manifest_sha256: str
    record_count: int
    file: bytes
    delivered_at: str | None
    receipt_at: str | None
    records: tuple[tuple[str, int], ...]



class Outbox:
    """Reads and writes one field profile's outbox."""

    def __init__(self, database: ProfileDatabase, audit: AuditLog, clock: Clock) -> None:
        self._database = database
        self._audit = audit
        self._clock = clock

    def next_link(self) -> tuple[int, str]:
        """(sequence number, previous manifest's SHA-256) for the next batch of this device."""
        with self._database.read() as connection:
            row = connection.execute(
                "SELECT sequence, manifest_sha256 FROM outbox ORDER BY sequence DESC LIMIT 1"
            ).fetchone()
        return (row[0] + 1, row[1]) if row else (1, GENESIS)

    def add(self, batch_id: str, sequence: int, manifest_sha256: str, file: bytes,
            records: Iterable[tuple[str, int]]) -> None:
        """Store a sealed batch and mark its records sealed, in one transaction.

        Raises:
            ValueError: the sequence is not the next one, or a record is no longer final
                at the version sealed (the batch would be stale); nothing is written.
        """
        keys = list(records)
        with self._database.write() as db:
            row = db.execute("SELECT MAX(sequence) FROM outbox").fetchone()
            if (row[0] or 0) + 1 != sequence:
                raise ValueError("batch sequence is not the next one")
            db.execute(
                "INSERT INTO outbox (batch_id, sequence, created_at, manifest_sha256, "
                "record_count, file) VALUES (?, ?, ?, ?, ?, ?)",
                [batch_id, sequence, utc_stamp(self._clock()), manifest_sha256, len(keys), file],
            )
            for record_id, version in keys:
                changed = db.execute(
                    "UPDATE records SET status = 'sealed', batch_id = ? "
                    "WHERE id = ? AND version = ? AND status = 'final'",
                    [batch_id, record_id, version],
                ).rowcount
                if changed != 1:
                    raise ValueError("a record changed while its batch was being sealed")
                db.execute(
                    "INSERT INTO outbox_records (batch_id, record_id, version) "
                    "VALUES (?, ?, ?)", [batch_id, record_id, version])
                self._audit.append(db, AuditAction.SEALED, at=self._clock(),
                                   record_id=record_id, details={"batch": batch_id})

    def _batches(self, where: str) -> list[OutboxBatch]:
        with self._database.read() as connection:
            # `where` is one of this class's constant conditions.
            query = ("SELECT batch_id, sequence, created_at, manifest_sha256, "  # noqa: S608
                     "record_count, file, delivered_at, receipt_at FROM outbox "
                     f"WHERE {where} ORDER BY sequence")
            rows = connection.execute(query).fetchall()
            found = []
            for row in rows:
                keys = tuple(connection.execute(
                    "SELECT record_id, version FROM outbox_records WHERE batch_id = ? "
                    "ORDER BY record_id", [row[0]]).fetchall())
                found.append(OutboxBatch(*row, records=keys))
        return found

    def undelivered(self) -> list[OutboxBatch]:
        """Sealed batches not yet confirmed stored at the sync target, oldest first."""
        return self._batches("delivered_at IS NULL")

    def awaiting_receipt(self) -> list[OutboxBatch]:
        """Delivered batches the coordinator has not acknowledged yet."""
        return self._batches("delivered_at IS NOT NULL AND receipt_at IS NULL")

    def all(self) -> list[OutboxBatch]:
        return self._batches("1 = 1")

    def mark_delivered(self, batch_id: str) -> None:
        """The target confirmed it holds the batch's exact bytes."""
        with self._database.write() as db:
            db.execute("UPDATE outbox SET delivered_at = ? WHERE batch_id = ? "
                       "AND delivered_at IS NULL", [utc_stamp(self._clock()), batch_id])

    def accept_receipt(self, batch_id: str, acknowledged: Iterable[tuple[str, int]]
                       ) -> tuple[int, int]:
        """Mark the batch's records received; returns (records closed, records reopened).

        Only records the receipt names at the version that was sealed are marked. A record
        of the batch that the receipt leaves out goes back to final, so the next sync seals
        and sends it again: a receipt naming none of a batch's records (damaged, forged or
        from a coordinator that lost them) must never close the batch for good.
        """
        wanted = set(acknowledged)
        closed = reopened = 0
        with self._database.write() as db:
            keys = db.execute("SELECT record_id, version FROM outbox_records WHERE batch_id = ?",
                              [batch_id]).fetchall()
            for record_id, version in keys:
                if (record_id, version) not in wanted:
                    reopened += db.execute(
                        "UPDATE records SET status = 'final' WHERE id = ? AND version = ? "
                        "AND status = 'sealed'", [record_id, version]).rowcount
                    continue
                # updated_at moves to the receipt, so retention counts from arrival.
                closed += db.execute(
                    "UPDATE records SET status = 'received', updated_at = ? WHERE id = ? "
                    "AND version = ? AND status = 'sealed'",
                    [utc_stamp(self._clock()), record_id, version]).rowcount
                self._audit.append(db, AuditAction.RECEIVED, at=self._clock(),
                                   record_id=record_id, details={"batch": batch_id})
            db.execute("UPDATE outbox SET receipt_at = ?, delivered_at = COALESCE("
                       "delivered_at, ?) WHERE batch_id = ?",
                       [utc_stamp(self._clock()), utc_stamp(self._clock()), batch_id])
        return closed, reopened

    def counts(self) -> dict[str, int]:
        """How many batches wait for delivery and for a receipt (for the home screen)."""
        with self._database.read() as connection:
            undelivered = connection.execute(
                "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL").fetchone()[0]
            unreceived = connection.execute(
                "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NOT NULL "
                "AND receipt_at IS NULL").fetchone()[0]
        return {"undelivered": undelivered, "awaiting_receipt": unreceived}
