"""The coordinator's side of the exchange: enrolled devices, the import ledger, quarantine, records.

An import is one transaction: the ledger entry, every record and the audit entry commit
together or not at all, so a crash mid-import leaves nothing half-imported and a re-import
completes it.

Two consoles importing the same folder at once import each batch exactly once: the ledger
row is the transaction's first write, and the ledger's unique keys (device and batch id;
device and sequence) refuse the second copy, whose whole transaction then rolls back
(`BatchAlreadyInLedger`). No lock held by the application decides it, so a database
server with concurrent writers keeps the promise too.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from fieldscreen.errors import UserError
from fieldscreen.i18n import _
from fieldscreen.store.audit import AuditAction, AuditLog
from fieldscreen.store.crypto import CryptoError, FieldCipher
from fieldscreen.store.database import ProfileDatabase, queue_for_writers
from fieldscreen.store.follow_up import open_cases
from fieldscreen.store.incoming import (
    IMPORTED_SCHEMA_VERSION,
    IMPORTED_TABLE,
    Device,
    IncomingRecord,
    Sealed,
    device_id_for,
    seal_incoming,
)
from fieldscreen.store.statistics_snapshot import StatisticsSnapshotStore
from fieldscreen.store.timestamps import utc_stamp

Clock = Callable[[], dt.datetime]
_IDS_PER_QUERY = 500


class DeviceRegistry:
    """The devices a coordinator accepts batches from."""

    def __init__(self, database: ProfileDatabase, audit: AuditLog, clock: Clock) -> None:
        self._database = database
        self._audit = audit
        self._clock = clock

    def enroll(self, public_key: bytes, name: str) -> Device:
        """Accept batches signed by `public_key`; enrolling again changes nothing."""
        existing = self.by_public_key(public_key)
        if existing is not None:
            if existing.revoked:
                raise UserError(_("Device {id} was revoked and cannot be enrolled again.").format(
                    id=existing.device_id),
                    hint=_("Have the worker create a new profile on that laptop; it gets a "
                           "new key."))
            return existing
        device = Device(device_id_for(public_key), public_key, name.strip()[:80] or "device",
                        utc_stamp(self._clock()), None)
        with self._database.write() as db:
            db.execute("INSERT INTO devices (device_id, public_key, name, enrolled_at) "
                       "VALUES (?, ?, ?, ?)",
                       [device.device_id, public_key.hex(), device.name, device.enrolled_at])
            self._audit.append(db, AuditAction.DEVICE_ENROLLED, at=self._clock(),
                               details={"device": device.device_id})
        return device

    def revoke(self, device: str) -> Device:
        """Refuse further batches from a device (by id or name)."""
        found = self.find(device)
        if found.revoked:
            return found
        with self._database.write() as db:
            db.execute("UPDATE devices SET revoked_at = ? WHERE device_id = ?",
                       [utc_stamp(self._clock()), found.device_id])
            self._audit.append(db, AuditAction.DEVICE_REVOKED, at=self._clock(),
                               details={"device": found.device_id})
        return self.find(found.device_id)

    def _rows(self, where: str, parameters: list[str]) -> list[Device]:
        with self._database.read() as connection:
            # `where` is one of this class's constant conditions; values are parameters.
            query = ("SELECT device_id, public_key, name, enrolled_at, revoked_at "  # noqa: S608
                     f"FROM devices WHERE {where} ORDER BY enrolled_at, device_id")
            rows = connection.execute(query, parameters).fetchall()
        return [Device(r[0], bytes.fromhex(r[1]), r[2], r[3], r[4]) for r in rows]

    def find(self, device: str) -> Device:
        matches = self._rows("device_id = ? OR name = ?", [device, device])
        if len(matches) != 1:
            raise UserError(
                _("No single enrolled device is called '{device}'.").format(device=device[:80]),
                hint=_("List them with: fieldscreen coordinator devices"))
        return matches[0]

    def by_public_key(self, public_key: bytes) -> Device | None:
        found = self._rows("public_key = ?", [public_key.hex()])
        return found[0] if found else None

    def list(self) -> list[Device]:
        return self._rows("1 = 1", [])


class LedgerVerdict(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"  # the same batch again: a no-op
    CONFLICT = "conflict"  # the same batch id (or sequence) with other content: an alert


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    verdict: LedgerVerdict
    last_sequence: int  # the device's highest imported sequence before this batch


@dataclass(frozen=True, slots=True)
class ImportCounts:
    imported: int
    duplicate: int
    # Of `imported`, how many replaced an older version of a record already held.
    updated: int = 0


class BatchAlreadyInLedger(Exception):
    """The ledger's unique keys refused a batch: another console stored it (or another
    batch with its sequence) since it was checked. Nothing of it was written; `check`
    says now whether it is a duplicate or a conflict."""


class _WrittenMeanwhile(Exception):
    """Another console stored a version of a record of this batch while this import wrote
    it (before joining the writers' queue); the transaction rolled back whole."""


class RecordOwnershipConflict(Exception):
    """A batch carries records that another device first sent; nothing of it was stored.

    A record belongs to the device that first sent it: only that device may send newer
    versions. An enrolled device that sends another device's record ids (easy to learn)
    would otherwise overwrite their screenings.
    """

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    id: int
    file_sha256: str
    source: str
    stored_as: str
    reason_code: str
    reason: str
    at: str
    device_id: str | None
    batch_id: str | None


@dataclass(frozen=True, slots=True)
class ImportedRecordSummary:
    id: str
    version: int
    device_id: str
    batch_id: str
    form_id: str
    form_version: str
    created_at: str
    imported_at: str
    demo: bool
    decision: str | None
    follow_up: bool


def _is_unique_violation(error: BaseException) -> bool:
    """Whether the engine refused a row for a unique key: SQLite's IntegrityError, or
    PostgreSQL's SQLSTATE 23505 (read from the driver's error, so psycopg is not imported
    here on SQLite)."""
    return isinstance(error, sqlite3.IntegrityError) or getattr(
        error, "sqlstate", None) == "23505"


def _upsert_records(connection: Any, rows: list[tuple[Any, ...]]) -> None:
    """Store imported records; a record is written over only by a newer version from the
    device that first sent it, so another console importing the same records at once can
    neither roll one back nor take it over."""
    connection.executemany(
        "INSERT INTO imported_records (id, version, device_id, batch_id, "
        "form_id, form_version, created_at, updated_at, imported_at, demo, "
        "summary, payload, area) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET version = excluded.version, "
        "batch_id = excluded.batch_id, form_id = excluded.form_id, "
        "form_version = excluded.form_version, created_at = excluded.created_at, "
        "updated_at = excluded.updated_at, imported_at = excluded.imported_at, "
        "demo = excluded.demo, summary = excluded.summary, "
        "payload = excluded.payload, area = excluded.area "
        "WHERE imported_records.version < excluded.version "
        "AND imported_records.device_id = excluded.device_id", rows)


def _area(summary: dict[str, Any]) -> str | None:
    """The area code a record was screened in (the form's area answer), for row-level
    security on a server: kept in clear beside the record (docs/security.md)."""
    area = summary.get("area")
    return str(area)[:64] if isinstance(area, str) and area else None


class Inbox:
    """The import ledger, quarantine and imported records of one coordinator profile."""

    def __init__(self, database: ProfileDatabase, cipher: FieldCipher, audit: AuditLog,
                 clock: Clock) -> None:
        self._database = database
        self._cipher = cipher
        self._audit = audit
        self._clock = clock
        self.statistics = StatisticsSnapshotStore(database, cipher)

    @property
    def sees_every_row(self) -> bool:
        """False for a login that row-level security limits to some records (a supervisor
        on PostgreSQL): the sealed statistics snapshot is not theirs to read or write."""
        return self._database.sees_every_row

    def _context(self, column: str, record_id: str) -> bytes:
        return FieldCipher.context(IMPORTED_TABLE, column, record_id, IMPORTED_SCHEMA_VERSION)

    def known_file(self, file_sha256: str) -> bool:
        """Whether a batch file with exactly these bytes was already imported."""
        with self._database.read() as connection:
            return connection.execute("SELECT 1 FROM batch_ledger WHERE file_sha256 = ?",
                                      [file_sha256]).fetchone() is not None

    def check(self, device_id: str, batch_id: str, sequence: int,
              manifest_sha256: str) -> LedgerCheck:
        with self._database.read() as connection:
            return self._check(connection, device_id, batch_id, sequence, manifest_sha256)

    @staticmethod
    def _check(connection: Any, device_id: str, batch_id: str, sequence: int,
               manifest_sha256: str) -> LedgerCheck:
        last = connection.execute("SELECT MAX(sequence) FROM batch_ledger WHERE device_id = ?",
                                  [device_id]).fetchone()[0] or 0
        same_id = connection.execute(
            "SELECT manifest_sha256 FROM batch_ledger WHERE device_id = ? AND batch_id = ?",
            [device_id, batch_id]).fetchone()
        if same_id is not None:
            verdict = (LedgerVerdict.DUPLICATE if same_id[0] == manifest_sha256
                       else LedgerVerdict.CONFLICT)
            return LedgerCheck(verdict, last)
        same_sequence = connection.execute(
            "SELECT 1 FROM batch_ledger WHERE device_id = ? AND sequence = ?",
            [device_id, sequence]).fetchone()
        if same_sequence is not None:
            return LedgerCheck(LedgerVerdict.CONFLICT, last)
        return LedgerCheck(LedgerVerdict.NEW, last)

    def import_batch(self, device_id: str, batch_id: str, sequence: int,
                     manifest_sha256: str, file_sha256: str,
                     records: list[IncomingRecord],
                     sealed: Sealed | None = None) -> ImportCounts:
        """Store a verified batch's records and its ledger entry in one transaction.

        Records are upserted by (id, version): an older or equal version changes nothing.

        Raises:
            BatchAlreadyInLedger: the ledger holds this batch (or its sequence) already;
                nothing was written.
        `sealed` holds each record's (summary, payload) as `seal_incoming` gives them with
        this profile's key, when the checking process sealed them already.
        """
        # Sealed before the transaction: it needs no database, so two consoles seal at the
        # same time.
        if sealed is None:
            sealed = seal_incoming(self._cipher, records)
        try:
            return self._import(device_id, batch_id, sequence, manifest_sha256,
                                file_sha256, records, sealed, queue_later=True)
        except _WrittenMeanwhile:
            # Another console stored a version of one of these records while this one
            # wrote: all of this rolled back; done again in the writers' queue from the
            # start, the versions (and owners) read are the ones written over.
            return self._import(device_id, batch_id, sequence, manifest_sha256,
                                file_sha256, records, sealed, queue_later=False)

    def _import(self, device_id: str, batch_id: str, sequence: int, manifest_sha256: str,
                file_sha256: str, records: list[IncomingRecord], sealed: Sealed, *,
                queue_later: bool) -> ImportCounts:
        """`import_batch`'s one transaction. With `queue_later`, the ledger row and the
        records are written before it joins the writers' queue (docs/decisions.md 77)."""
        now = utc_stamp(self._clock())
        imported = duplicate = 0
        with self._database.write(queue_later=queue_later) as db:
            # The ledger row first: its unique keys, not a lock, decide which of two
            # consoles importing this batch at once stores it; the other's whole
            # transaction rolls back here.
            try:
                db.execute(
                    "INSERT INTO batch_ledger (device_id, batch_id, sequence, "
                    "manifest_sha256, file_sha256, record_count, imported_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [device_id, batch_id, sequence, manifest_sha256, file_sha256,
                     len(records), now])
            except Exception as error:
                if _is_unique_violation(error):
                    raise BatchAlreadyInLedger(batch_id) from None
                raise
            # One query for the versions already held and one executemany for the rows:
            # per-record statements were the largest cost of importing 100k records.
            connection = db.conn
            held: dict[str, int] = {}
            foreign = 0
            ids = [record.id for record in records]
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start:start + _IDS_PER_QUERY]
                marks = ", ".join("?" * len(chunk))
                for record_id, version, owner in connection.execute(
                        f"SELECT id, version, device_id FROM imported_records "  # noqa: S608
                        f"WHERE id IN ({marks})", chunk):
                    held[record_id] = version
                    # The owner is the device of the stored row: only the first sender's
                    # versions were ever stored under an id it sent first.
                    foreign += owner != device_id
            if foreign:
                raise RecordOwnershipConflict(foreign)
            fresh = []
            rows = []
            updates: list[tuple[str, int, int]] = []
            for record, (summary, payload) in zip(records, sealed, strict=True):
                if held.get(record.id, 0) >= record.version:
                    duplicate += 1
                    continue
                if record.id in held:
                    updates.append((record.id, held[record.id], record.version))
                held[record.id] = record.version
                fresh.append(record)
                rows.append((record.id, record.version, device_id, batch_id, record.form_id,
                             record.form_version, record.created_at, record.updated_at, now,
                             int(record.demo), summary, payload,
                             _area(record.summary)))
            cases = [(record.id, record.summary.get("decision"), record.updated_at)
                     for record in fresh]
            # Written over only by a newer version from the same device: another console
            # importing the same records at once can neither roll one back nor take it
            # over (the check below then finds what it wrote and starts again).
            try:
                _upsert_records(connection, rows)
            except Exception as error:
                # Two consoles writing the same records in different orders: the server
                # breaks the deadlock by failing one, which starts again in the queue.
                if getattr(error, "sqlstate", None) == "40P01":
                    raise _WrittenMeanwhile from None
                raise
            imported = len(rows)
            # From here on, single file: the audit chain, the snapshots' delta numbers and
            # the cases' versions. Waiting for that turn, other consoles may have stored
            # versions of these records since they were read: then all of this is undone.
            if queue_later and queue_for_writers(db) and self._held(
                    connection, ids) != {record_id: (version, device_id)
                                         for record_id, version in held.items()}:
                raise _WrittenMeanwhile
            # Children who need a referral join the queue in the same transaction.
            open_cases(db, self._cipher, self._audit, self._clock(), cases)
            # The statistics snapshot learns of these records in the same transaction, so
            # it can never disagree with what was committed.
            self.statistics.append_delta(
                db, [(record.id, record.created_at, record.summary) for record in fresh])
            # A file imported after all (e.g. once its device was enrolled) leaves
            # quarantine in the same transaction.
            db.execute("UPDATE quarantine SET resolved_at = ? WHERE file_sha256 = ? "
                       "AND resolved_at IS NULL", [now, file_sha256])
            self._audit.append(db, AuditAction.BATCH_IMPORTED, at=self._clock(),
                               details={"device": device_id, "batch": batch_id,
                                        "records": len(records)})
            for record_id, before, after in updates:
                self._audit.append(db, AuditAction.RECORD_UPDATED, at=self._clock(),
                                   record_id=record_id,
                                   details={"device": device_id, "batch": batch_id,
                                            "from_version": before, "to_version": after})
        return ImportCounts(imported, duplicate, len({update[0] for update in updates}))

    @staticmethod
    def _held(connection: Any, ids: list[str]) -> dict[str, tuple[int, str]]:
        """(version, device) of each of these records the database holds now."""
        found: dict[str, tuple[int, str]] = {}
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start:start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            for record_id, version, owner in connection.execute(
                    f"SELECT id, version, device_id FROM imported_records "  # noqa: S608
                    f"WHERE id IN ({marks})", chunk):
                found[record_id] = (version, owner)
        return found

    def quarantine(self, *, file_sha256: str, source: str, stored_as: str, reason_code: str,
                   reason: str, device_id: str | None = None,
                   batch_id: str | None = None) -> int:
        """Record a refused batch with its reason; the file was kept at `stored_as`."""
        with self._database.write() as db:
            existing = db.execute(
                "SELECT id FROM quarantine WHERE file_sha256 = ? AND reason_code = ? "
                "AND resolved_at IS NULL", [file_sha256, reason_code]).fetchone()
            if existing is not None:
                return existing[0]
            # RETURNING, not the cursor's lastrowid: the same SQL on SQLite and PostgreSQL.
            row = db.execute(
                "INSERT INTO quarantine (file_sha256, source, stored_as, reason_code, reason, "
                "at, device_id, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [file_sha256, source, stored_as, reason_code, reason, utc_stamp(self._clock()),
                 device_id, batch_id]).fetchone()
            self._audit.append(db, AuditAction.BATCH_QUARANTINED, at=self._clock(),
                               details={"reason": reason_code, "file": file_sha256})
            return int(row[0])

    def missing_sequences(self, device_id: str, below: int) -> list[int]:
        """The sequences from 1 to `below` - 1 that no imported batch of the device has."""
        with self._database.read() as connection:
            (count,) = connection.execute(
                "SELECT COUNT(*) FROM batch_ledger WHERE device_id = ? AND sequence < ?",
                [device_id, below]).fetchone()
            if count >= below - 1:
                return []
            stored = {row[0] for row in connection.execute(
                "SELECT sequence FROM batch_ledger WHERE device_id = ? AND sequence < ?",
                [device_id, below])}
        return [sequence for sequence in range(1, below) if sequence not in stored]

    def manifest_hash(self, device_id: str, sequence: int) -> str | None:
        """The manifest SHA-256 of a device's imported batch with that sequence, if any."""
        with self._database.read() as connection:
            row = connection.execute(
                "SELECT manifest_sha256 FROM batch_ledger WHERE device_id = ? AND sequence = ?",
                [device_id, sequence]).fetchone()
        return row[0] if row else None

    def quarantined(self, include_resolved: bool = False) -> list[QuarantineEntry]:
        where = "" if include_resolved else " WHERE resolved_at IS NULL"
        with self._database.read() as connection:
            query = ("SELECT id, file_sha256, source, stored_as, reason_code, reason, at, "  # noqa: S608
                     f"device_id, batch_id FROM quarantine{where} ORDER BY id")
            rows = connection.execute(query).fetchall()
        return [QuarantineEntry(*row) for row in rows]

    def records(self) -> list[ImportedRecordSummary]:
        with self._database.read() as connection:
            rows = connection.execute(
                "SELECT id, version, device_id, batch_id, form_id, form_version, created_at, "
                "imported_at, demo, summary FROM imported_records ORDER BY created_at, id"
            ).fetchall()
        found = []
        for row in rows:
            try:
                summary = orjson.loads(self._cipher.open(row[9], self._context("summary",
                                                                             row[0])))
            except CryptoError:
                raise UserError(_("An imported record cannot be opened: the database was "
                                  "altered or damaged.")) from None
            found.append(ImportedRecordSummary(*row[:8], bool(row[8]),
                                               summary.get("decision"),
                                               bool(summary.get("follow_up"))))
        return found

    def summaries(self) -> Iterator[tuple[str, str, bool, dict[str, Any]]]:
        """(id, created_at, demo, summary) of every imported record, decrypted in bulk.

        Statistics read this once at unlock; it opens summaries a page at a time so a
        million records never sit in memory twice.
        """
        context = FieldCipher.row_context(IMPORTED_TABLE, "summary", IMPORTED_SCHEMA_VERSION)
        with self._database.read() as connection:
            cursor = connection.execute(
                "SELECT id, created_at, demo, summary FROM imported_records")
            while page := cursor.fetchmany(20_000):
                try:
                    opened = self._cipher.open_many(
                        [(row[3], context(row[0])) for row in page])
                except CryptoError:
                    raise UserError(_("An imported record cannot be opened: the database "
                                      "was altered or damaged.")) from None
                for row, plain in zip(page, opened, strict=True):
                    yield row[0], row[1], bool(row[2]), orjson.loads(plain)

    def fill_areas(self, batch_size: int = 500) -> int:
        """Write the clear area column of records stored before it was kept (SQLite
        version 9, PostgreSQL version 3), from their sealed summaries; returns how many.

        Only this side can do it: the server cannot open a summary. Each batch is its own
        transaction, so a run stopped half-way keeps what it did and the next run goes on
        (rows that have an area are never read again). A record whose form asks no area
        keeps none, and stays a coordinator's only (docs/decisions.md 75, 78).
        """
        context = FieldCipher.row_context(IMPORTED_TABLE, "summary", IMPORTED_SCHEMA_VERSION)
        filled, after = 0, ""
        while True:
            with self._database.write() as db:
                page = db.execute(
                    "SELECT id, summary FROM imported_records WHERE area IS NULL AND id > ? "
                    "ORDER BY id LIMIT ?", [after, batch_size]).fetchall()
                if not page:
                    return filled
                after = page[-1][0]
                try:
                    opened = self._cipher.open_many([(row[1], context(row[0])) for row in page])
                except CryptoError:
                    raise UserError(_("An imported record cannot be opened: the database "
                                      "was altered or damaged.")) from None
                areas = [(area, row[0]) for row, plain in zip(page, opened, strict=True)
                         if (area := _area(orjson.loads(plain))) is not None]
                if areas:
                    db.conn.executemany(
                        "UPDATE imported_records SET area = ? WHERE id = ? AND area IS NULL",
                        areas)
                filled += len(areas)

    def audit_scopes_filled(self, records: int, referrals: int) -> None:
        """One audit entry for a run of `coordinator fill-scopes`: counts, never a row."""
        with self._database.write() as db:
            self._audit.append(db, AuditAction.SCOPES_FILLED, at=self._clock(),
                               details={"records": records, "referrals": referrals})

    def record_payload(self, record_id: str) -> dict[str, Any]:
        with self._database.read() as connection:
            row = connection.execute("SELECT payload FROM imported_records WHERE id = ?",
                                     [record_id]).fetchone()
        if row is None:
            raise KeyError(record_id)
        record = orjson.loads(self._cipher.open(row[0], self._context("payload", record_id)))
        return {"answers": record["answers"], "outcome": record["outcome"]}

    def last_sequences(self) -> dict[str, int]:
        with self._database.read() as connection:
            return dict(connection.execute(
                "SELECT device_id, MAX(sequence) FROM batch_ledger GROUP BY device_id"
            ).fetchall())
