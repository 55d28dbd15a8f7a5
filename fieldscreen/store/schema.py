"""The profile database's recorded migrations, oldest first. Never edit one that has shipped."""

from __future__ import annotations

import sqlite_utils

from fieldscreen.store import audit, records
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


MIGRATIONS = [Migration(1, "initial schema", _initial)]
