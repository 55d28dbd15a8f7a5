"""The profile database's recorded migrations, oldest first. Never edit one that has shipped."""

from __future__ import annotations

import sqlite_utils

from fieldscreen.store import audit, queue_index, records, statistics_snapshot
from fieldscreen.store.database import Migration


def _initial(db: sqlite_utils.Database) -> None:
    # Technical metadata only; see docs/security.md for exactly what stays in clear.
    db.execute("CREATE TABLE profile (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE key_slots (slot TEXT PRIMARY KEY, data TEXT NOT NULL, "
        "updated_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE unlock_attempts (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "failures INTEGER NOT NULL, last_failure TEXT)"
    )
    # Private keys and other secrets, each encrypted with the profile's DEK.
    db.execute("CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
    records.create_table(db)
    audit.create_table(db)


def _exchange(db: sqlite_utils.Database) -> None:
    # Field side: sealed batches waiting to be delivered and acknowledged. The file is an
    # age ciphertext for the coordinator, kept so a re-upload sends the very same bytes.
    db.execute(
        "CREATE TABLE outbox (batch_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL UNIQUE, "
        "created_at TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, record_count INTEGER "
        "NOT NULL, file BLOB NOT NULL, delivered_at TEXT, receipt_at TEXT)"
    )
    db.execute(
        "CREATE TABLE outbox_records (batch_id TEXT NOT NULL REFERENCES outbox(batch_id), "
        "record_id TEXT NOT NULL, version INTEGER NOT NULL, "
        "PRIMARY KEY (batch_id, record_id))"
    )
    # Coordinator side: enrolled devices, the import ledger, quarantine, imported records.
    db.execute(
        "CREATE TABLE devices (device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL UNIQUE, "
        "name TEXT NOT NULL, enrolled_at TEXT NOT NULL, revoked_at TEXT)"
    )
    db.execute(
        "CREATE TABLE batch_ledger (device_id TEXT NOT NULL, batch_id TEXT NOT NULL, "
        "sequence INTEGER NOT NULL, manifest_sha256 TEXT NOT NULL, file_sha256 TEXT NOT NULL, "
        "record_count INTEGER NOT NULL, imported_at TEXT NOT NULL, "
        "PRIMARY KEY (device_id, batch_id), UNIQUE (device_id, sequence))"
    )
    db.execute("CREATE INDEX batch_ledger_file ON batch_ledger (file_sha256)")
    db.execute(
        "CREATE TABLE quarantine (id INTEGER PRIMARY KEY, file_sha256 TEXT NOT NULL, "
        "source TEXT NOT NULL, stored_as TEXT NOT NULL, reason_code TEXT NOT NULL, "
        "reason TEXT NOT NULL, at TEXT NOT NULL, device_id TEXT, batch_id TEXT, "
        "resolved_at TEXT)"
    )
    db.execute(
        "CREATE TABLE imported_records (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
        "device_id TEXT NOT NULL, batch_id TEXT NOT NULL, form_id TEXT NOT NULL, "
        "form_version TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
        "imported_at TEXT NOT NULL, demo INTEGER NOT NULL, summary BLOB NOT NULL, "
        "payload BLOB NOT NULL)"
    )


def _listing_index(db: sqlite_utils.Database) -> None:
    # A covering index in listing order: listing reads only this index (about 200 bytes a
    # record) instead of every table page, where each summary sits beside its ~3 KB payload.
    db.execute(
        "CREATE INDEX records_listing ON records (updated_at DESC, id, version, status, "
        "form_id, form_version, created_at, demo, batch_id, schema_version, summary)"
    )


def _follow_up(db: sqlite_utils.Database) -> None:
    # The referral queue. Only the record id and the time of the last change are in clear;
    # the case's priority, status and history, and every note, are encrypted.
    db.execute(
        "CREATE TABLE follow_ups (record_id TEXT PRIMARY KEY REFERENCES "
        "imported_records(id), changed_at TEXT NOT NULL, state BLOB NOT NULL)"
    )
    db.execute(
        "CREATE TABLE follow_up_notes (id INTEGER PRIMARY KEY, record_id TEXT NOT NULL "
        "REFERENCES follow_ups(record_id), at TEXT NOT NULL, note BLOB NOT NULL)"
    )
    db.execute("CREATE INDEX follow_up_notes_case ON follow_up_notes (record_id, id)")


def _statistics_snapshot(db: sqlite_utils.Database) -> None:
    statistics_snapshot.create_table(db)


def _referrals(db: sqlite_utils.Database) -> None:
    # Referrals to partner services (docs/referrals.md). Coordinator side: enrolled
    # partners (keys in clear, as for devices), the referrals sent, whose case, partner,
    # service and state are encrypted (the file does not tell which child went where),
    # and the ledger of partner updates imported (ids and hashes only), against replays.
    db.execute(
        "CREATE TABLE partners (partner_id TEXT PRIMARY KEY, public_key TEXT NOT NULL "
        "UNIQUE, name TEXT NOT NULL, enrolled_at TEXT NOT NULL, revoked_at TEXT)"
    )
    db.execute(
        "CREATE TABLE referrals (referral_id TEXT PRIMARY KEY, sent_at TEXT NOT NULL, "
        "state BLOB NOT NULL)"
    )
    db.execute(
        "CREATE TABLE referral_messages (message_id TEXT PRIMARY KEY, referral_id TEXT NOT "
        "NULL, file_sha256 TEXT NOT NULL, at TEXT NOT NULL)"
    )
    # Partner side: the referrals received (the package's Bundle and the state, encrypted)
    # and the packages already opened, so a replayed package changes nothing.
    db.execute(
        "CREATE TABLE partner_referrals (referral_id TEXT PRIMARY KEY, received_at TEXT "
        "NOT NULL, state BLOB NOT NULL)"
    )
    db.execute(
        "CREATE TABLE partner_messages (message_id TEXT PRIMARY KEY, file_sha256 TEXT NOT "
        "NULL, at TEXT NOT NULL)"
    )


def _queue_index(db: sqlite_utils.Database) -> None:
    queue_index.create_table(db)


def _coordinators(db: sqlite_utils.Database) -> None:
    # The coordinators added to a coordinator profile after its first one: public keys in
    # clear, as for devices (their private keys are in each one's own key slot). The first
    # coordinator is the profile's own passphrase slot and secrets, as before.
    db.execute(
        "CREATE TABLE coordinators (coordinator_id TEXT PRIMARY KEY, name TEXT NOT NULL, "
        "age_recipient TEXT NOT NULL UNIQUE, signing_key TEXT NOT NULL UNIQUE, "
        "added_at TEXT NOT NULL, removed_at TEXT)"
    )
    # Optimistic versioning of follow-up cases: a change names the version it was made
    # on, and `UPDATE ... WHERE version = ?` refuses it when another console changed the
    # case since (store/follow_up.py).
    db.execute("ALTER TABLE follow_ups ADD COLUMN version INTEGER NOT NULL DEFAULT 1")


def _row_scopes(db: sqlite_utils.Database) -> None:
    # What PostgreSQL's row-level security decides by (issue 27): the area a record was
    # screened in, and the record and partner organisation of a referral, in clear. The
    # same columns on both engines keep one set of SQL (docs/decisions.md 75).
    db.execute("ALTER TABLE imported_records ADD COLUMN area TEXT")
    db.execute("ALTER TABLE referrals ADD COLUMN record_id TEXT")
    db.execute("ALTER TABLE referrals ADD COLUMN partner_id TEXT")
    db.execute("ALTER TABLE referrals ADD COLUMN area TEXT")


MIGRATIONS = [
    Migration(1, "initial schema", _initial),
    Migration(2, "outbox, device registry, import ledger, quarantine", _exchange),
    Migration(3, "covering index for listing records", _listing_index),
    Migration(4, "referral queue: follow-up cases and notes", _follow_up),
    Migration(5, "sealed statistics snapshot", _statistics_snapshot),
    Migration(6, "referrals to partner services", _referrals),
    Migration(7, "sealed referral queue index", _queue_index),
    Migration(8, "several coordinators; follow-up case versions", _coordinators),
    Migration(9, "area of a record, record and partner of a referral", _row_scopes),
]
