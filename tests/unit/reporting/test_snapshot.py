"""The sealed statistics snapshot equals a rebuild from the summaries, and repairs itself.

Unlock reads the snapshot (a base table and one delta per import) instead of opening every
summary. Whatever happens to it (imports, a record sent again in a newer version, a
damaged blob, a deleted delta, an import by a version that kept no snapshot) the table
the console gets must be the one `build_facts(inbox.summaries())` gives.
"""

from __future__ import annotations

import numpy as np
import pytest

from fieldscreen.reporting import snapshot
from fieldscreen.reporting.facts import ScreeningFacts, build_facts
from fieldscreen.reporting.snapshot import load_facts
from tests.exchange_helpers import make_world, record_dict


def _rows(facts: ScreeningFacts) -> list[tuple]:
    """The table as a sorted list of rows in names, so two row orders compare equal."""
    rows = []
    for index in range(len(facts)):
        forms = frozenset(name for bit, name in enumerate(facts.form_names)
                          if int(facts.forms[index]) >> bit & 1)
        rows.append((int(facts.day[index]), int(facts.age[index]),
                     facts.sexes[facts.sex[index]] or "",
                     facts.nationalities[facts.nationality[index]] or "",
                     facts.areas[facts.area[index]] or "", int(facts.decision[index]),
                     tuple(sorted(forms))))
    return sorted(rows)


def _rebuilt(world) -> list[tuple]:
    return _rows(build_facts(world.coordinator.inbox.summaries()))


@pytest.fixture
def world(tmp_path):
    world = make_world(tmp_path)
    yield world
    world.close()


def _import(world, records, sequence):
    outcome = world.import_bytes(world.seal_by_hand(records, sequence=sequence).data)
    assert outcome.status == "imported", outcome


def _blobs(world) -> list[tuple[int, str, int]]:
    with world.coordinator._database.read() as connection:
        return connection.execute(
            "SELECT id, kind, ledger_rows FROM statistics_snapshot ORDER BY id").fetchall()


def test_the_snapshot_follows_every_import_and_equals_a_rebuild(world):
    inbox = world.coordinator.inbox
    assert len(load_facts(inbox)) == 0
    assert _blobs(world) == [(1, "base", 0)]  # the first load wrote an (empty) base
    records = [record_dict(n) for n in range(6)]
    _import(world, records[:4], 1)
    _import(world, records[4:], 2)
    # Each import added its delta in its own transaction.
    assert [kind for _id, kind, _rows in _blobs(world)] == ["base", "delta", "delta"]
    facts = load_facts(inbox)
    assert len(facts) == 6 and _rows(facts) == _rebuilt(world)


def test_a_record_sent_again_in_a_newer_version_replaces_its_row(world):
    inbox = world.coordinator.inbox
    load_facts(inbox)
    first = record_dict(0)
    _import(world, [first, record_dict(1)], 1)
    before = _rows(load_facts(inbox))
    newer = dict(first, version=2, outcome=record_dict(2)["outcome"],
                 answers=record_dict(2)["answers"])
    _import(world, [newer], 2)
    after = load_facts(inbox)
    assert len(after) == 2
    assert _rows(after) == _rebuilt(world) and _rows(after) != before


def test_many_deltas_are_compacted_into_one_base(world, monkeypatch):
    monkeypatch.setattr(snapshot, "COMPACT_AFTER_DELTAS", 3)
    inbox = world.coordinator.inbox
    load_facts(inbox)
    for sequence in range(1, 4):
        _import(world, [record_dict(sequence)], sequence)
    assert len(_blobs(world)) == 4
    facts = load_facts(inbox)
    assert _blobs(world) == [(1, "base", 3)]
    assert _rows(facts) == _rebuilt(world) == _rows(load_facts(inbox))


@pytest.mark.parametrize("harm", ["flipped byte", "deleted delta", "moved blob",
                                  "older base replayed", "import without snapshot"])
def test_a_damaged_or_stale_snapshot_is_detected_and_rebuilt(world, harm):
    inbox = world.coordinator.inbox
    load_facts(inbox)
    _import(world, [record_dict(1), record_dict(2)], 1)
    old_base = None
    if harm == "older base replayed":
        load_facts(inbox)
        with world.coordinator._database.read() as connection:
            old_base = connection.execute(
                "SELECT sealed FROM statistics_snapshot WHERE kind = 'base'").fetchone()[0]
    _import(world, [record_dict(3)], 2)
    with world.coordinator._database.write() as db:
        if harm == "flipped byte":
            sealed = bytearray(db.execute("SELECT sealed FROM statistics_snapshot "
                                          "WHERE kind = 'delta'").fetchone()[0])
            sealed[-5] ^= 0x01
            db.execute("UPDATE statistics_snapshot SET sealed = ? WHERE kind = 'delta'",
                       [bytes(sealed)])
        elif harm == "deleted delta":
            db.execute("DELETE FROM statistics_snapshot WHERE id = (SELECT MIN(id) FROM "
                       "statistics_snapshot WHERE kind = 'delta')")
        elif harm == "moved blob":
            db.execute("UPDATE statistics_snapshot SET id = id + 10 WHERE kind = 'delta'")
        elif harm == "older base replayed":
            # Put the earlier base back and claim it counts the whole ledger.
            db.execute("DELETE FROM statistics_snapshot")
            db.execute("INSERT INTO statistics_snapshot (id, kind, ledger_rows, sealed) "
                       "VALUES (1, 'base', 2, ?)", [old_base])
        else:
            # A version without snapshots imported a batch: the ledger moved on alone.
            db.execute("DELETE FROM statistics_snapshot WHERE kind = 'delta'")
    facts = load_facts(inbox)
    assert _rows(facts) == _rebuilt(world) and len(facts) == 3
    # The rebuild left a fresh base that counts the whole ledger.
    assert _blobs(world) == [(1, "base", 2)]


def test_the_snapshot_holds_no_child_data_in_clear(world):
    inbox = world.coordinator.inbox
    load_facts(inbox)
    _import(world, [record_dict(n) for n in range(3)], 1)
    load_facts(inbox)
    with world.coordinator._database.read() as connection:
        blobs = [row[0] for row in connection.execute("SELECT sealed FROM statistics_snapshot")]
    words = [b"decision", b"nationality", b"urgent", b"referral", b"2026-03-01"]
    assert blobs and not any(word in blob for blob in blobs for word in words)


def test_encoding_round_trips_and_refuses_garbage():
    facts = build_facts([("a", "2026-03-01T09:00:00Z", False,
                          {"age": 9, "sex": "girl", "decision": "urgent", "forms": ["labour"]})])
    ids = np.array([bytes(16)], dtype="S16")
    decoded = snapshot._decode(snapshot._encode(facts, ids))
    assert decoded is not None and _rows(decoded[0]) == _rows(facts)
    assert snapshot._decode(b"\x00\x00\x00\x05{bad}") is None
    assert snapshot._decode(b"") is None
