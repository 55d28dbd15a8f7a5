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
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from fieldscreen.reporting.facts import FactsBuilder, ScreeningFacts
from fieldscreen.store.statistics_snapshot import SnapshotUnreadable

if TYPE_CHECKING:
    from fieldscreen.store.inbox import Inbox

SNAPSHOT_FORMAT = 1
# Deltas are cheap to apply (an import's rows each); past this many, the next load writes
# them into a new base so unlock keeps reading a handful of blobs.
COMPACT_AFTER_DELTAS = 32
_ID_DTYPE = "S16"
_HEADER_LENGTH_BYTES = 4


def load_facts(inbox: Inbox) -> ScreeningFacts:
    """The statistics table of every imported record, from the snapshot where it holds."""
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
    """The table as bytes: a JSON header (names, columns, offsets), then the raw columns."""
    columns: list[list[Any]] = []
    names: dict[str, list[Any]] = {}
    chunks: list[bytes] = []
    offset = 0
    for name, value in [*((f.name, getattr(facts, f.name))
                          for f in dataclasses.fields(ScreeningFacts)), ("ids", ids)]:
        if isinstance(value, np.ndarray):
            data = np.ascontiguousarray(value).tobytes()
            columns.append([name, value.dtype.str, offset, len(data)])
            chunks.append(data)
            offset += len(data)
        else:
            names[name] = list(value)
    header = orjson.dumps({"format": SNAPSHOT_FORMAT, "rows": len(ids), "columns": columns,
                           "names": names})
    return len(header).to_bytes(_HEADER_LENGTH_BYTES, "big") + header + b"".join(chunks)


def _decode(data: bytes) -> tuple[ScreeningFacts, np.ndarray] | None:
    """The table `_encode` wrote, or None when the bytes do not describe one (rebuild)."""
    try:
        length = int.from_bytes(data[:_HEADER_LENGTH_BYTES], "big")
        header = orjson.loads(data[_HEADER_LENGTH_BYTES:_HEADER_LENGTH_BYTES + length])
        if header.get("format") != SNAPSHOT_FORMAT:
            return None
        body = memoryview(data)[_HEADER_LENGTH_BYTES + length:]
        rows = int(header["rows"])
        arrays: dict[str, np.ndarray] = {}
        for name, dtype, offset, size in header["columns"]:
            array = np.frombuffer(body[offset:offset + size], dtype=np.dtype(dtype))
            if len(array) != rows:
                return None
            arrays[name] = array
        values: dict[str, Any] = {}
        for field in dataclasses.fields(ScreeningFacts):
            if field.name in arrays:
                values[field.name] = arrays[field.name]
            else:
                values[field.name] = tuple(header["names"][field.name])
        return ScreeningFacts(**values), arrays["ids"]
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        return None
