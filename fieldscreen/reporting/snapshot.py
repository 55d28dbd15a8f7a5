"""The statistics table at unlock from its sealed snapshot, not from every summary.

`load_facts` opens the snapshot's blobs (`store/statistics_snapshot.py`): the base table and
one delta per import since. It applies the deltas (a record stored again replaces its
earlier row), compacts them into a new base once there are many, and rebuilds everything
from the summaries, writing a new base, when the snapshot is missing, damaged or stale.
The result is the table `build_facts(inbox.summaries())` gives, in another row order
(statistics do not depend on order; tests compare them as sets of rows).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fieldscreen.reporting.facts import FactsBuilder, ScreeningFacts, build_facts
from fieldscreen.store.column_blob import decode_columns, encode_columns
from fieldscreen.store.statistics_snapshot import SnapshotUnreadable

if TYPE_CHECKING:
    from fieldscreen.store.inbox import Inbox

SNAPSHOT_FORMAT = 1
# Deltas are cheap to apply (an import's rows each); past this many, the next load writes
# them into a new base so unlock keeps reading a handful of blobs.
COMPACT_AFTER_DELTAS = 32
_ID_DTYPE = "S16"


def load_facts(inbox: Inbox) -> ScreeningFacts:
    """The statistics table of every imported record, from the snapshot where it holds."""
    if not inbox.sees_every_row:
        # A login limited to some rows (a supervisor on PostgreSQL): the sealed snapshot
        # covers every row and is not theirs, so their table is built from their rows.
        return build_facts(inbox.summaries())
    store = inbox.statistics
    try:
        stored = store.read()
    except SnapshotUnreadable:
        stored = None
    if stored is not None and not stored.stale and stored.base is not None:
        decoded = _decode(stored.base)
        if decoded is not None:
            facts, ids = decoded
            if stored.deltas:
                facts, ids = _apply(facts, ids, stored.deltas)
                if len(stored.deltas) >= COMPACT_AFTER_DELTAS:
                    store.write_base(_encode(facts, ids), stored.ledger_rows)
            return facts
    return rebuild_snapshot(inbox)


def rebuild_snapshot(inbox: Inbox) -> ScreeningFacts:
    """Build the table from every summary (the slow way) and keep it as the new base."""
    ledger_rows = inbox.statistics.ledger_rows()
    builder = FactsBuilder()
    ids = []
    for record_id, created_at, _demo, summary in inbox.summaries():
        builder.add(created_at, summary)
        ids.append(_id_bytes(record_id))
    facts = builder.build()
    id_array = np.array(ids, dtype=_ID_DTYPE) if ids else np.empty(0, dtype=_ID_DTYPE)
    # Not written when an import committed meanwhile: the next load rebuilds again.
    inbox.statistics.write_base(_encode(facts, id_array), ledger_rows)
    return facts


def _id_bytes(record_id: str) -> bytes:
    """A record id as 16 bytes: the UUID's own, or (never for a valid batch) a digest."""
    try:
        raw = bytes.fromhex(record_id.replace("-", ""))
    except ValueError:
        raw = b""
    return raw if len(raw) == 16 else hashlib.sha256(record_id.encode()).digest()[:16]


def _apply(facts: ScreeningFacts, ids: np.ndarray,
           deltas: list[list[tuple[str, str, dict[str, Any]]]]
           ) -> tuple[ScreeningFacts, np.ndarray]:
    """The table with every delta's rows, each replacing any earlier row of its record."""
    latest: dict[bytes, tuple[str, dict[str, Any]]] = {}
    for delta in deltas:
        for record_id, created_at, summary in delta:
            latest[_id_bytes(record_id)] = (created_at, summary)
    if not latest:
        return facts, ids
    new_ids = np.array(list(latest), dtype=_ID_DTYPE)
    keep = ~np.isin(ids, new_ids)
    builder = FactsBuilder(seed=facts)
    for created_at, summary in latest.values():
        builder.add(created_at, summary)
    added = builder.build()
    columns: dict[str, Any] = {}
    for field in dataclasses.fields(ScreeningFacts):
        old, new = getattr(facts, field.name), getattr(added, field.name)
        columns[field.name] = (np.concatenate([old[keep], new]) if isinstance(old, np.ndarray)
                               else new)
    return ScreeningFacts(**columns), np.concatenate([ids[keep], new_ids])


def _encode(facts: ScreeningFacts, ids: np.ndarray) -> bytes:
    """The table as bytes (`store/column_blob.py`): its columns, the record ids, the names."""
    columns: dict[str, np.ndarray] = {}
    names: dict[str, Sequence[Any]] = {}
    for field in dataclasses.fields(ScreeningFacts):
        value = getattr(facts, field.name)
        if isinstance(value, np.ndarray):
            columns[field.name] = value
        else:
            names[field.name] = value
    columns["ids"] = ids
    return encode_columns(SNAPSHOT_FORMAT, len(ids), columns, names)


def _decode(data: bytes) -> tuple[ScreeningFacts, np.ndarray] | None:
    """The table `_encode` wrote, or None when the bytes do not describe one (rebuild)."""
    blob = decode_columns(data, SNAPSHOT_FORMAT)
    if blob is None:
        return None
    try:
        values: dict[str, Any] = {
            field.name: (blob.columns[field.name] if field.name in blob.columns
                         else tuple(blob.names[field.name]))
            for field in dataclasses.fields(ScreeningFacts)}
        return ScreeningFacts(**values), blob.columns["ids"]
    except (KeyError, TypeError):
        return None
