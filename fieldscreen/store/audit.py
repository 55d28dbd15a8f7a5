"""The tamper-evident audit log: hash-chained entries whose details are encrypted.

Each entry's MAC covers the previous entry's MAC and the entry itself, keyed with a key
derived from the profile's DEK, so an entry cannot be altered, removed from the middle or
inserted without the chain breaking, and the chain cannot be recomputed without the key.
In clear: sequence number, time, action name, record id and the profile id; the details
(anything that could describe a child) are encrypted.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from fieldscreen.store.crypto import CryptoError, FieldCipher, derive_subkey, keyed_hash
from fieldscreen.store.timestamps import precise_utc_stamp

if TYPE_CHECKING:
    # Only named in annotations: the batch checker's process imports this module for
    # GENESIS and should not pay for loading sqlite_utils.
    import sqlite_utils

GENESIS = "0" * 64
TABLE = "audit_log"
# The layout of the encrypted details, bound into their ciphertext.
DETAILS_SCHEMA_VERSION = 1


class AuditAction(StrEnum):
    PROFILE_CREATED = "profile.created"
    UNLOCKED = "profile.unlocked"
    RECOVERED = "profile.recovered"
    PASSPHRASE_CHANGED = "profile.passphrase_changed"  # noqa: S105 - an action name
    RECOVERY_SET = "profile.recovery_set"
    DRAFT_SAVED = "record.draft_saved"
    FINAL_SAVED = "record.final_saved"
    DELETED = "record.deleted"
    SEALED = "record.sealed"
    RECEIVED = "record.received"
    PURGED = "record.purged"
    STATUS_CHANGED = "record.status_changed"
    DEVICE_ENROLLED = "device.enrolled"
    DEVICE_REVOKED = "device.revoked"
    BATCH_IMPORTED = "batch.imported"
    RECORD_UPDATED = "record.updated"
    BATCH_QUARANTINED = "batch.quarantined"
    PACK_INSTALLED = "pack.installed"
    FOLLOW_UP_OPENED = "follow_up.opened"
    FOLLOW_UP_STATUS = "follow_up.status_changed"
    FOLLOW_UP_NOTE = "follow_up.note_added"
    FOLLOW_UP_DEADLINES = "follow_up.deadlines_changed"
    EXPORTED = "data.exported"
    PARTNER_ENROLLED = "partner.enrolled"
    PARTNER_REVOKED = "partner.revoked"
    REFERRAL_SENT = "referral.sent"
    REFERRAL_WITHDRAWN = "referral.withdrawn"
    REFERRAL_UPDATE_IMPORTED = "referral.update_imported"
    REFERRAL_RECEIVED = "referral.received"
    REFERRAL_ANSWERED = "referral.answered"
    SCREENINGS_LINKED = "linkage.linked"
    SCREENINGS_UNLINKED = "linkage.unlinked"
    LINKAGE_KEY_CREATED = "linkage.key_created"
    SMALL_CELL_MINIMUM_RAISED = "statistics.minimum_raised"
    # Several coordinators in one profile (docs/security.md, "Several coordinators").
    COORDINATOR_ADDED = "coordinator.added"
    COORDINATOR_REMOVED = "coordinator.removed"
    # Areas and partners written in clear on rows stored before they were kept (counts).
    SCOPES_FILLED = "records.scopes_filled"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    action: str
    record_id: str | None
    actor: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The result of walking the chain. `first_broken` is None when the chain holds."""

    entries: int
    first_broken: int | None
    reason: str | None
    head: str

    @property
    def holds(self) -> bool:
        return self.first_broken is None


def create_table(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE audit_log ("
        "seq INTEGER PRIMARY KEY, at TEXT NOT NULL, action TEXT NOT NULL, record_id TEXT, "
        "actor TEXT NOT NULL, details BLOB NOT NULL, prev TEXT NOT NULL, mac TEXT NOT NULL)"
    )


class AuditLog:
    """Appends to and verifies one profile's audit chain.

    Args:
        dek: the profile's data key; the MAC key and the details are derived from it.
        actor: the profile id written with each entry.
    """

    def __init__(self, dek: bytes, actor: str) -> None:
        self._mac_key = derive_subkey(dek, "audit-mac")
        self._cipher = FieldCipher(derive_subkey(dek, "audit-details"))
        self._actor = actor

    def _context(self, seq: int) -> bytes:
        return FieldCipher.context(TABLE, "details", str(seq), DETAILS_SCHEMA_VERSION)

    def _mac(self, prev: str, seq: int, at: str, action: str, record_id: str | None,
             actor: str, details: bytes) -> str:
        return keyed_hash(
            self._mac_key, prev.encode(), str(seq).encode(), at.encode(), action.encode(),
            (record_id or "").encode(), actor.encode(), details,
        ).hex()

    def append(self, db: sqlite_utils.Database, action: AuditAction, *,
               at: dt.datetime, record_id: str | None = None,
               details: dict[str, Any] | None = None) -> None:
        """Add an entry inside the caller's write transaction (so it commits with the change)."""
        row = db.execute("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, GENESIS)
        stamp = precise_utc_stamp(at)
        sealed = self._cipher.seal(
            json.dumps(details or {}, sort_keys=True).encode("utf-8"), self._context(seq))
        mac = self._mac(prev, seq, stamp, action.value, record_id, self._actor, sealed)
        db.execute(
            "INSERT INTO audit_log (seq, at, action, record_id, actor, details, prev, mac) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, stamp, action.value, record_id, self._actor, sealed, prev, mac],
        )

    def verify(self, connection: sqlite3.Connection) -> AuditVerification:
        """Walk the whole chain; report the first entry that does not hold."""
        prev = GENESIS
        expected_seq = 1
        count = 0
        for seq, at, action, record_id, actor, details, stored_prev, mac in connection.execute(
            "SELECT seq, at, action, record_id, actor, details, prev, mac FROM audit_log "
            "ORDER BY seq"
        ):
            count += 1
            if seq != expected_seq:
                return AuditVerification(count, expected_seq, "entry missing", prev)
            if stored_prev != prev:
                return AuditVerification(count, seq, "link to the previous entry broken", prev)
            if not isinstance(details, bytes) or self._mac(
                prev, seq, at, action, record_id, actor, details
            ) != mac:
                return AuditVerification(count, seq, "entry altered", prev)
            try:
                self._cipher.open(details, self._context(seq))
            except CryptoError:
                return AuditVerification(count, seq, "details do not decrypt", prev)
            prev = mac
            expected_seq += 1
        return AuditVerification(count, None, None, prev)

    def entries(self, connection: sqlite3.Connection,
                record_id: str | None = None) -> list[AuditEntry]:
        """Every entry with its decrypted details, oldest first; with `record_id`, only
        that record's entries (the others are not decrypted)."""
        found = []
        query = "SELECT seq, at, action, record_id, actor, details FROM audit_log"
        parameters: list[str] = []
        if record_id is not None:
            query += " WHERE record_id = ?"
            parameters.append(record_id)
        for seq, at, action, entry_record, actor, details in connection.execute(
            query + " ORDER BY seq", parameters
        ):
            found.append(AuditEntry(seq, at, action, entry_record, actor, json.loads(
                self._cipher.open(details, self._context(seq)))))
        return found

    @staticmethod
    def head(connection: sqlite3.Connection) -> tuple[int, str]:
        """(sequence number, MAC) of the newest entry: what batches carry as the chain head."""
        row = connection.execute(
            "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return (row[0], row[1]) if row else (0, GENESIS)
