"""Screening records through their life: draft, final, sealed into a batch, received, purged.

The repository is the only way above the store to read or write records; it encrypts every
field that could describe a child and writes the audit entry in the same transaction as
the change it records.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import sqlite_utils

from fieldscreen.errors import UserError
from fieldscreen.i18n import _
from fieldscreen.store.audit import AuditAction, AuditLog
from fieldscreen.store.crypto import CryptoError, FieldCipher
from fieldscreen.store.database import ProfileDatabase
from fieldscreen.store.record_ids import new_record_id
from fieldscreen.store.timestamps import utc_stamp

TABLE = "records"
# The layout of the encrypted `summary` and `payload`. Stored on every row and bound into
# the ciphertext, so an old row can be read after a change and cannot pose as a new one.
RECORD_SCHEMA_VERSION = 1
Clock = Callable[[], dt.datetime]


class RecordStatus(StrEnum):
    DRAFT = "draft"
    FINAL = "final"
    SEALED = "sealed"
    RECEIVED = "received"


_STATUSES = {status.value: status for status in RecordStatus}
# FieldCipher.context(TABLE, column, id, version) split at the id, built once: opening
# runs once per row when 100,000 records are listed.
_CONTEXT_PREFIX = {
    column: FieldCipher.context(TABLE, column, "", 0)[: -len(b"\x000")]
    for column in ("summary", "payload")
}


def _encode_summary(decision: str | None, follow_up: bool) -> bytes:
    # "decision NUL flag" rather than JSON: listing decodes one per record, and json.loads
    # was the largest cost of listing 100,000 records.
    return (decision or "").encode("utf-8") + (b"\x001" if follow_up else b"\x000")


def _decode_summary(plain: bytes) -> tuple[str | None, bool]:
    decision, _sep, flag = plain.rpartition(b"\x00")
    return decision.decode("utf-8") or None, flag == b"1"


def _unreadable() -> UserError:
    return RecordUnreadable(
        _("A record cannot be opened: its encrypted data was altered or damaged."),
        hint=_("Do not edit the profile's files. Ask your coordinator for help."),
    )


class RecordNotFound(UserError):
    """No record with that id in this profile."""


class RecordLocked(UserError):
    """The record can no longer change in this way (e.g. it was already sent)."""


class RecordUnreadable(UserError):
    """A record's encrypted fields do not open: the database was altered or damaged."""


class RecordSummary(NamedTuple):
    """What a list of records shows: technical metadata and the decision, no answers.

    A named tuple rather than a dataclass: listing builds 100,000 of them after unlock,
    and a frozen dataclass costs several times more to construct.
    """

    id: str
    version: int
    status: RecordStatus
    form_id: str
    form_version: str
    created_at: str
    updated_at: str
    demo: bool
    batch_id: str | None
    decision: str | None
    follow_up: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "version": self.version, "status": self.status.value,
            "form_id": self.form_id, "form_version": self.form_version,
            "created_at": self.created_at, "updated_at": self.updated_at, "demo": self.demo,
            "batch_id": self.batch_id, "decision": self.decision, "follow_up": self.follow_up,
        }


@dataclass(frozen=True, slots=True)
class Record:
    """A whole record, decrypted."""

    summary: RecordSummary
    answers: dict[str, Any]
    outcome: dict[str, Any] | None

    @property
    def id(self) -> str:
        return self.summary.id


def create_table(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE records ("
        "id TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL, "
        "form_id TEXT NOT NULL, form_version TEXT NOT NULL, created_at TEXT NOT NULL, "
        "updated_at TEXT NOT NULL, demo INTEGER NOT NULL DEFAULT 0, batch_id TEXT, "
        "schema_version INTEGER NOT NULL, summary BLOB NOT NULL, payload BLOB NOT NULL)"
    )
    db.execute("CREATE INDEX records_status ON records (status, updated_at)")



# Named outside the class: inside it, `list` is the method below.
SummaryList = list[RecordSummary]
IdList = list[str]


class RecordRepository:
    """Reads and writes one profile's records.

    Args:
        database: the profile database (its single writer connection).
        cipher: field cipher keyed with the profile's DEK.
        audit: the profile's audit log.
        clock: returns the current aware datetime.
        demo: whether this profile is a training sandbox (every record carries the flag).
    """

    def __init__(self, database: ProfileDatabase, cipher: FieldCipher, audit: AuditLog,
                 clock: Clock, demo: bool = False) -> None:
        self._database = database
        self._cipher = cipher
        self._audit = audit
        self._clock = clock
        self._demo = demo

    # -- encryption ------------------------------------------------------------------------

    def _seal(self, column: str, record_id: str, value: Any) -> bytes:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self._cipher.seal(
            data, FieldCipher.context(TABLE, column, record_id, RECORD_SCHEMA_VERSION))

    def _open(self, column: str, record_id: str, sealed: bytes, schema_version: int) -> Any:
        try:
            data = self._cipher.open(
                sealed, _CONTEXT_PREFIX[column] + record_id.encode() + b"\x00"
                + str(schema_version).encode())
        except CryptoError:
            raise _unreadable() from None
        return json.loads(data)

    # -- writing -----------------------------------------------------------------------------

    def save_draft(self, form_id: str, form_version: str, answers: Mapping[str, Any],
                   record_id: str | None = None, *,
                   create_if_missing: bool = False) -> RecordSummary:
        """Create or update a draft; returns once it is durable (after COMMIT).

        With `create_if_missing`, a `record_id` chosen by the caller (the UI picks one when
        a screening starts, so every autosave lands on the same record) may be new.
        """
        return self._save(RecordStatus.DRAFT, form_id, form_version, answers, None, record_id,
                          create_if_missing)

    def save_final(self, form_id: str, form_version: str, answers: Mapping[str, Any],
                   outcome: Mapping[str, Any], record_id: str | None = None, *,
                   create_if_missing: bool = False) -> RecordSummary:
        """Save a finished screening (a new record, or a draft or unsent final made final)."""
        return self._save(RecordStatus.FINAL, form_id, form_version, answers, dict(outcome),
                          record_id, create_if_missing)

    def _save(self, status: RecordStatus, form_id: str, form_version: str,
              answers: Mapping[str, Any], outcome: dict[str, Any] | None,
              record_id: str | None, create_if_missing: bool) -> RecordSummary:
        now = utc_stamp(self._clock())
        decision = (outcome.get("final_decision", outcome.get("decision")) if outcome
                    else None)
        follow_up = bool(outcome.get("follow_up")) if outcome else False
        summary = _encode_summary(decision, follow_up)
        with self._database.write() as db:
            row = None if record_id is None else db.execute(
                "SELECT version, status, created_at FROM records WHERE id = ?",
                [record_id]).fetchone()
            if record_id is None or (row is None and create_if_missing):
                record_id = record_id or new_record_id(self._clock())
                version, created = 1, now
            else:
                if row is None:
                    raise RecordNotFound(_("No record {id} in this profile.").format(
                        id=record_id))
                if row[1] not in (RecordStatus.DRAFT, RecordStatus.FINAL):
                    raise RecordLocked(_("Record {id} was already sent and cannot change."
                                         ).format(id=record_id))
                if status is RecordStatus.DRAFT and row[1] == RecordStatus.FINAL:
                    raise RecordLocked(_("Record {id} is final; it cannot become a draft again."
                                         ).format(id=record_id))
                version, created = row[0] + 1, row[2]
            payload = {"answers": dict(answers), "outcome": outcome}
            db.execute(
                "INSERT OR REPLACE INTO records (id, version, status, form_id, form_version, "
                "created_at, updated_at, demo, batch_id, schema_version, summary, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                [record_id, version, status.value, form_id, form_version, created, now,
                 int(self._demo), RECORD_SCHEMA_VERSION,
                 self._cipher.seal(summary, FieldCipher.context(
                     TABLE, "summary", record_id, RECORD_SCHEMA_VERSION)),
                 self._seal("payload", record_id, payload)],
            )
            action = (AuditAction.FINAL_SAVED if status is RecordStatus.FINAL
                      else AuditAction.DRAFT_SAVED)
            self._audit.append(db, action, at=self._clock(), record_id=record_id,
                               details={"version": version})
        return RecordSummary(record_id, version, status, form_id, form_version, created, now,
                             self._demo, None, decision, follow_up)

    def delete(self, record_id: str) -> None:
        """Delete a record that has not been sent (a draft abandoned, a final made in error)."""
        with self._database.write() as db:
            row = db.execute("SELECT status FROM records WHERE id = ?", [record_id]).fetchone()
            if row is None:
                raise RecordNotFound(_("No record {id} in this profile.").format(id=record_id))
            if row[0] not in (RecordStatus.DRAFT, RecordStatus.FINAL):
                raise RecordLocked(_("Record {id} was already sent; it is purged under the "
                                     "retention policy instead.").format(id=record_id))
            db.execute("DELETE FROM records WHERE id = ?", [record_id])
            self._audit.append(db, AuditAction.DELETED, at=self._clock(), record_id=record_id)

    def mark_sealed(self, record_ids: Iterable[str], batch_id: str) -> None:
        """Final records were sealed into batch `batch_id`."""
        self._set_status(record_ids, RecordStatus.FINAL, RecordStatus.SEALED,
                         AuditAction.SEALED, batch_id)

    def mark_received(self, record_ids: Iterable[str]) -> None:
        """The coordinator's receipt confirms these records arrived."""
        self._set_status(record_ids, RecordStatus.SEALED, RecordStatus.RECEIVED,
                         AuditAction.RECEIVED, None)

    def _set_status(self, record_ids: Iterable[str], expected: RecordStatus,
                    new: RecordStatus, action: AuditAction, batch_id: str | None) -> None:
        ids = list(record_ids)
        with self._database.write() as db:
            for record_id in ids:
                row = db.execute("SELECT status FROM records WHERE id = ?",
                                 [record_id]).fetchone()
                if row is None or row[0] != expected:
                    continue
                if batch_id is not None:
                    db.execute("UPDATE records SET status = ?, batch_id = ? WHERE id = ?",
                               [new.value, batch_id, record_id])
                else:
                    db.execute("UPDATE records SET status = ? WHERE id = ?",
                               [new.value, record_id])
                self._audit.append(db, action, at=self._clock(), record_id=record_id,
                                   details={"batch": batch_id} if batch_id else None)

    def purge_received(self, older_than: dt.timedelta) -> int:
        """Delete received records last changed more than `older_than` ago; returns how many.

        Only received records (the coordinator's signed receipt holds them) are ever
        purged, whatever the clock says. A record received while the clock was ahead
        carries a time that has not come yet: its retention counts from now instead, or it
        would stay on the laptop for as long as the clock was wrong.
        """
        now = self._clock()
        cutoff = utc_stamp(now - older_than)
        with self._database.write() as db:
            db.execute("UPDATE records SET updated_at = ? WHERE status = ? AND updated_at > ?",
                       [utc_stamp(now), RecordStatus.RECEIVED.value, utc_stamp(now)])
            ids = [row[0] for row in db.execute(
                "SELECT id FROM records WHERE status = ? AND updated_at < ?",
                [RecordStatus.RECEIVED.value, cutoff])]
            for record_id in ids:
                db.execute("DELETE FROM records WHERE id = ?", [record_id])
                self._audit.append(db, AuditAction.PURGED, at=self._clock(),
                                   record_id=record_id)
        return len(ids)

    # -- reading -----------------------------------------------------------------------------

    _COLUMNS = ("id, version, status, form_id, form_version, created_at, updated_at, demo, "
                "batch_id, schema_version, summary")

    def _summaries(self, rows: list[tuple[Any, ...]]) -> list[RecordSummary]:
        prefix = _CONTEXT_PREFIX["summary"]
        try:
            opened = self._cipher.open_many([
                (row[10], b"%s%s\x00%d" % (prefix, row[0].encode(), row[9])) for row in rows])
        except CryptoError:
            raise _unreadable() from None
        statuses = _STATUSES
        # Only a handful of distinct summaries exist (decision x follow-up): decode each once.
        decoded: dict[bytes, tuple[str | None, bool]] = {}
        summaries = []
        for row, plain in zip(rows, opened, strict=True):
            summary = decoded.get(plain)
            if summary is None:
                summary = decoded[plain] = _decode_summary(plain)
            summaries.append(RecordSummary(row[0], row[1], statuses[row[2]], row[3], row[4],
                                           row[5], row[6], bool(row[7]), row[8], *summary))
        return summaries

    def list(self, statuses: Iterable[RecordStatus] | None = None) -> list[RecordSummary]:
        """Summaries, newest first, optionally only in some statuses."""
        # Only constants and placeholders are formatted into the SQL.
        query = f"SELECT {self._COLUMNS} FROM records"  # noqa: S608
        parameters: list[str] = []
        if statuses is not None:
            wanted = [status.value for status in statuses]
            query += f" WHERE status IN ({', '.join('?' * len(wanted))})"
            parameters = wanted
        query += " ORDER BY updated_at DESC, id"
        with self._database.read() as connection:
            rows = connection.execute(query, parameters).fetchall()
        return self._summaries(rows)

    def list_readable(self, statuses: Iterable[RecordStatus] | None = None
                      ) -> tuple[SummaryList, IdList]:
        """Like `list`, but a record whose summary does not open is left out and named.

        For work that must go on past one damaged record (sync): the ids of the damaged
        ones come back so they can be reported; nothing is changed or deleted.
        """
        try:
            return self.list(statuses), []
        except RecordUnreadable:
            pass
        wanted = list(statuses) if statuses is not None else list(RecordStatus)
        with self._database.read() as connection:
            ids = [row[0] for row in connection.execute(
                f"SELECT id FROM records WHERE status IN "  # noqa: S608 - placeholders only
                f"({', '.join('?' * len(wanted))}) ORDER BY updated_at DESC, id",
                [status.value for status in wanted])]
        readable, damaged = [], []
        for record_id in ids:
            try:
                readable.append(self.get(record_id).summary)
            except RecordUnreadable:
                damaged.append(record_id)
        return readable, damaged

    def get(self, record_id: str) -> Record:
        with self._database.read() as connection:
            row = connection.execute(
                f"SELECT {self._COLUMNS}, payload FROM records WHERE id = ?",  # noqa: S608
                [record_id]).fetchone()
        if row is None:
            raise RecordNotFound(_("No record {id} in this profile.").format(id=record_id))
        payload = self._open("payload", row[0], row[11], row[9])
        return Record(self._summaries([row[:11]])[0], payload.get("answers", {}),
                      payload.get("outcome"))

    def count(self, status: RecordStatus | None = None) -> int:
        with self._database.read() as connection:
            if status is None:
                return connection.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            return connection.execute("SELECT COUNT(*) FROM records WHERE status = ?",
                                      [status.value]).fetchone()[0]
