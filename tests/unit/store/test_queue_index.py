"""The queue's first screen comes from the sealed queue index and equals the full listing.

`ReferralQueue.page()` orders cases from the index and opens only the ones it shows. Each
test checks the page against `cases()`, which opens every case, after whatever happened:
imports, status changes, a damaged, missing or wrong index.
"""

from __future__ import annotations

import pytest

from fieldscreen.store.follow_up import FollowUpStatus
from fieldscreen.store.queue_index import QueueEntries, QueueIndex
from tests.exchange_helpers import make_world, record_dict


@pytest.fixture
def world(tmp_path):
    world = make_world(tmp_path)
    outcome = world.import_bytes(world.seal_by_hand(
        [record_dict(n) for n in range(24)], sequence=1).data)
    assert outcome.status == "imported"
    yield world
    world.close()


def _listing(queue, include_closed=False):
    return [(case.record_id, case.status, case.overdue)
            for case in queue.cases(include_closed=include_closed)]


def _paged(queue, size, include_closed=False):
    shown, offset = [], 0
    while True:
        page, total, overdue = queue.page(offset, size, include_closed=include_closed)
        assert overdue == sum(case.overdue for case in queue.cases(include_closed=True))
        shown += [(case.record_id, case.status, case.overdue) for case in page]
        offset += size
        if offset >= total:
            return shown, total


def _blobs(world):
    with world.coordinator._database.read() as connection:
        return connection.execute(
            "SELECT id, kind FROM queue_index ORDER BY id").fetchall()


def test_pages_follow_the_full_listing_in_working_order(world):
    queue = world.coordinator.referrals
    expected = _listing(queue)
    assert len(expected) >= 6
    shown, total = _paged(queue, 4)
    assert shown == expected and total == len(expected)
    first, _total, _overdue = queue.page(0, 3)
    assert [case.record_id for case in first] == [row[0] for row in expected[:3]]


def test_status_changes_reach_the_index_as_deltas_without_a_rebuild(world):
    queue = world.coordinator.referrals
    queue.page(0, 5)
    (base_id, kind), = _blobs(world)
    assert kind == "base"
    record_id = queue.cases()[0].record_id
    queue.change_status(record_id, FollowUpStatus.CONTACTED, "Met the family.")
    queue.change_status(record_id, FollowUpStatus.REFERRED)
    assert [kind for _id, kind in _blobs(world)] == ["base", "delta", "delta"]
    assert _paged(queue, 5)[0] == _listing(queue)
    assert _blobs(world)[0][0] == base_id  # read from the index, not rebuilt
    # Closing takes the case off the queue unless closed cases are asked for.
    for status in (FollowUpStatus.ACCEPTED, FollowUpStatus.DELIVERED, FollowUpStatus.CLOSED):
        queue.change_status(record_id, status, "Done.")
    assert record_id not in [row[0] for row in _paged(queue, 5)[0]]
    assert _paged(queue, 5, include_closed=True)[0] == _listing(queue, include_closed=True)


@pytest.mark.parametrize("harm", ["flipped byte", "last delta deleted", "middle delta deleted",
                                  "wrong entries", "no index"])
def test_a_damaged_stale_or_wrong_index_is_rebuilt(world, harm):
    queue = world.coordinator.referrals
    queue.page(0, 5)
    cases = queue.cases()
    queue.change_status(cases[0].record_id, FollowUpStatus.CONTACTED)
    queue.change_status(cases[1].record_id, FollowUpStatus.CONTACTED)
    database = world.coordinator._database
    with database.write() as db:
        if harm == "flipped byte":
            sealed = bytearray(db.execute("SELECT sealed FROM queue_index WHERE kind = 'base'"
                                          ).fetchone()[0])
            sealed[-3] ^= 0x10
            db.execute("UPDATE queue_index SET sealed = ? WHERE kind = 'base'", [bytes(sealed)])
        elif harm == "last delta deleted":
            db.execute("DELETE FROM queue_index WHERE id = (SELECT MAX(id) FROM queue_index)")
        elif harm == "middle delta deleted":
            db.execute("DELETE FROM queue_index WHERE id = (SELECT MIN(id) FROM queue_index "
                       "WHERE kind = 'delta')")
        elif harm == "no index":
            db.execute("DELETE FROM queue_index")
    if harm == "wrong entries":
        # A well-sealed index (only this profile's key can seal one: a bug, not an attack)
        # that has every case as a new referral: the page opens the cases it shows, sees
        # that they disagree and rebuilds.
        entries = {case.record_id: ("referral", "new", case.screened_at, case.opened_at)
                   for case in cases}
        QueueIndex(database, world.coordinator.referrals._cipher).write_base(
            QueueEntries.from_entries(entries))
    before = max((row[0] for row in _blobs(world)), default=0)
    assert _paged(queue, 4)[0] == _listing(queue)
    (base_id, kind), = _blobs(world)
    assert kind == "base" and base_id > before


def test_an_index_missing_cases_is_rebuilt(world):
    queue = world.coordinator.referrals
    cases = queue.cases()
    entries = {case.record_id: (case.priority, case.status.value, case.screened_at,
                                case.opened_at) for case in cases[1:]}
    QueueIndex(world.coordinator._database, queue._cipher).write_base(
        QueueEntries.from_entries(entries))
    assert _paged(queue, 50)[0] == _listing(queue)


def test_the_index_names_no_priority_or_status_in_clear(world):
    queue = world.coordinator.referrals
    queue.page(0, 5)
    with world.coordinator._database.read() as connection:
        blobs = [row[0] for row in connection.execute("SELECT sealed FROM queue_index")]
    assert blobs and not any(word in blob for blob in blobs
                             for word in (b"urgent", b"referral", b"new", b"2026-"))


@pytest.mark.parametrize("days", [0, 2, 8, 400, -3])
def test_overdue_in_pages_matches_the_full_listing_whatever_the_clock(world, days):
    queue = world.coordinator.referrals
    world.clock.advance(days * 86_400)
    expected = _listing(queue)
    assert _paged(queue, 7)[0] == expected
    if days >= 8 or days < -1:
        assert all(overdue for _id, status, overdue in expected
                   if status is FollowUpStatus.NEW)
