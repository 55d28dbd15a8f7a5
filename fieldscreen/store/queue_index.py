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

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import orjson
import sqlite_utils

from fieldscreen.store.audit import AuditAction
from fieldscreen.store.column_blob import decode_columns, encode_columns
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


_UNKNOWN_TIME = np.iinfo(np.int64).min
_INDEX_FORMAT = 1


def _seconds(stamp: str) -> int:
    """Seconds since 1970 of a stored stamp, or _UNKNOWN_TIME when it is not a time."""
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return int(_UNKNOWN_TIME)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


class _Vocabulary:
    def __init__(self, names: Iterable[str] = ()) -> None:
        self.names: list[str] = []
        self.codes: dict[str, int] = {}
        for name in names:
            self.code(name)

    def code(self, name: str) -> int:
        found = self.codes.get(name)
        if found is None:
            found = self.codes[name] = len(self.names)
            self.names.append(name)
        return found


class QueueOrder(NamedTuple):
    rows: np.ndarray  # row indices in working order
    overdue: int  # how many cases are overdue


@dataclass(frozen=True, slots=True)
class QueueEntries:
    """Every case's order keys as columns: ordering 150,000 cases is a few numpy passes."""

    ids: np.ndarray  # S36, the record ids
    priority: np.ndarray  # int16 codes into priorities
    status: np.ndarray  # int16 codes into statuses
    screened: np.ndarray  # int64 seconds since 1970 (_UNKNOWN_TIME when not a time)
    opened: np.ndarray  # int64 seconds since 1970
    priorities: tuple[str, ...]
    statuses: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_entries(cls, entries: dict[str, Entry],
                     base: QueueEntries | None = None) -> QueueEntries:
        """Columns of `entries` (codes continuing `base`'s vocabularies, when given)."""
        priorities = _Vocabulary(base.priorities if base is not None else ())
        statuses = _Vocabulary(base.statuses if base is not None else ())
        count = len(entries)
        priority = np.empty(count, dtype=np.int16)
        status = np.empty(count, dtype=np.int16)
        screened = np.empty(count, dtype=np.int64)
        opened = np.empty(count, dtype=np.int64)
        for index, (name, state, screened_at, opened_at) in enumerate(entries.values()):
            priority[index] = priorities.code(name)
            status[index] = statuses.code(state)
            screened[index] = _seconds(screened_at)
            opened[index] = _seconds(opened_at)
        ids = (np.array(list(entries), dtype="S36") if count
               else np.empty(0, dtype="S36"))
        return cls(ids, priority, status, screened, opened, tuple(priorities.names),
                   tuple(statuses.names))

    def with_changes(self, changes: dict[str, Entry]) -> QueueEntries:
        """These entries with `changes` replacing (or adding) the entries of their cases."""
        if not changes:
            return self
        added = QueueEntries.from_entries(changes, base=self)
        keep = ~np.isin(self.ids, added.ids)
        return QueueEntries(
            np.concatenate([self.ids[keep], added.ids]),
            np.concatenate([self.priority[keep], added.priority]),
            np.concatenate([self.status[keep], added.status]),
            np.concatenate([self.screened[keep], added.screened]),
            np.concatenate([self.opened[keep], added.opened]),
            added.priorities, added.statuses)

    def entry(self, index: int) -> tuple[str, str]:
        """(priority, status) of the case at `index`."""
        return self.priorities[self.priority[index]], self.statuses[self.status[index]]

    def order(self, *, ranks: dict[str, int], closed: str, new: str,
              limit_of: Callable[[str], dt.timedelta], now: dt.datetime,
              clock_back_tolerance: dt.timedelta, include_closed: bool) -> QueueOrder:
        """Row indices in working order: open before closed, by priority rank, overdue
        first, then by screening time and record id (as `ReferralQueue.cases()` sorts).

        Overdue, as `ReferralQueue` counts it: still new, and the screening (never later
        than the import) is older than its deadline, or this computer's clock is more than
        the tolerance behind the case's import.
        """
        now_s = int(now.timestamp())
        rank = np.array([ranks.get(name, 0) for name in self.priorities] or [0],
                        dtype=np.int16)[self.priority]
        limits = np.array([int(limit_of(name).total_seconds()) for name in self.priorities]
                          or [0], dtype=np.int64)[self.priority]
        status_names = np.array(self.statuses or ["?"], dtype=object)
        is_closed = (status_names == closed)[self.status]
        is_new = (status_names == new)[self.status]
        unknown_opened = self.opened == _UNKNOWN_TIME
        screened = np.where(self.screened == _UNKNOWN_TIME,
                            np.where(unknown_opened, now_s, self.opened), self.screened)
        screened = np.where(unknown_opened, screened, np.minimum(screened, self.opened))
        clock_went_back = ~unknown_opened & (
            now_s < self.opened - int(clock_back_tolerance.total_seconds()))
        overdue = is_new & ((now_s >= screened + limits) | clock_went_back)
        rows = np.arange(len(self.ids)) if include_closed else np.flatnonzero(~is_closed)
        id_high, id_low = _id_keys(self.ids[rows])
        keys = (id_low, id_high, self.screened[rows], ~overdue[rows], rank[rows],
                is_closed[rows])
        return QueueOrder(rows[np.lexsort(keys)], int(np.count_nonzero(overdue)))

    def encode(self) -> bytes:
        return encode_columns(
            _INDEX_FORMAT, len(self.ids),
            {name: getattr(self, name)
             for name in ("ids", "priority", "status", "screened", "opened")},
            {"priorities": self.priorities, "statuses": self.statuses})

    @classmethod
    def decode(cls, data: bytes) -> QueueEntries | None:
        blob = decode_columns(data, _INDEX_FORMAT)
        if blob is None:
            return None
        try:
            columns = blob.columns
            priorities = tuple(str(name) for name in blob.names["priorities"])
            statuses = tuple(str(name) for name in blob.names["statuses"])
            entries = cls(columns["ids"], columns["priority"], columns["status"],
                          columns["screened"], columns["opened"], priorities, statuses)
        except (KeyError, TypeError):
            return None
        # Codes outside the name lists would index past them when a page is shown.
        if len(entries) and (int(entries.priority.max()) >= len(priorities)
                             or int(entries.status.max()) >= len(statuses)
                             or int(min(entries.priority.min(), entries.status.min())) < 0):
            return None
        return entries


_HEX_VALUES = np.full(256, 0, dtype=np.uint64)
_HEX_VALUES[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint64)
_HEX_VALUES[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16, dtype=np.uint64)
_UUID_HEX_COLUMNS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_NIBBLE_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)


def _id_keys(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two uint64 sort keys per record id that order as the id text does.

    Sorting 1.5M 36-byte strings was most of the queue's ordering time; a record id is a
    lower-case UUID, whose text order is the order of its 128-bit value, so the two
    halves of that value sort the same way as numbers.
    """
    if not len(ids):
        empty = np.empty(0, dtype=np.uint64)
        return empty, empty
    text = np.frombuffer(np.ascontiguousarray(ids, dtype="S36").tobytes(),
                         dtype=np.uint8).reshape(-1, 36)
    nibbles = _HEX_VALUES[text[:, _UUID_HEX_COLUMNS]]
    high = (nibbles[:, :16] << _NIBBLE_SHIFTS).sum(axis=1, dtype=np.uint64)
    low = (nibbles[:, 16:] << _NIBBLE_SHIFTS).sum(axis=1, dtype=np.uint64)
    return high, low


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

    def read(self) -> tuple[QueueEntries, int] | None:
        """(every case's entry, number of deltas), or None when missing, damaged or stale."""
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
        base: QueueEntries | None = None
        changes: dict[str, Entry] = {}
        previous_id = None
        for row_id, kind, audit_seq, sealed in rows:
            if previous_id is not None and (row_id != previous_id + 1 or kind != "delta"):
                return None
            previous_id = row_id
            try:
                plain = self._cipher.open(sealed, _context(kind, row_id, audit_seq))
            except CryptoError:
                return None
            if kind == "base":
                base = QueueEntries.decode(plain)
                if base is None:
                    return None
                continue
            try:
                decoded = orjson.loads(plain)
            except orjson.JSONDecodeError:
                return None
            if not isinstance(decoded, dict):
                return None
            for record_id, entry in decoded.items():
                if not (isinstance(entry, list) and len(entry) == 4
                        and all(isinstance(part, str) for part in entry)):
                    return None
                changes[record_id] = (entry[0], entry[1], entry[2], entry[3])
        assert base is not None
        entries = base.with_changes(changes)
        if rows[-1][2] < last_change or len(entries) != cases:
            return None  # a case changed after the newest blob (its delta is missing),
            # or the index does not hold every case
        return entries, len(rows) - 1

    def write_base(self, entries: QueueEntries, expected_audit_seq: int | None = None
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
                 self._cipher.seal(entries.encode(), _context("base", row_id, audit_seq))])
        return True

    def audit_seq(self) -> int:
        with self._database.read() as connection:
            return _audit_seq(connection)
