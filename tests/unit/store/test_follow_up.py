"""The coordinator's referral queue: cases open on import, move through statuses, go overdue."""

from __future__ import annotations

import sqlite3

import pytest

from fieldscreen.errors import UserError
from fieldscreen.store.follow_up import Deadlines, FollowUpStatus
from tests.exchange_helpers import make_world, record_dict, screenings


@pytest.fixture
def world(tmp_path):
    created = make_world(tmp_path)
    created.import_bytes(created.sealed_batch(12).file)
    return created


def test_urgent_and_referral_decisions_open_cases_urgent_first(world):
    summaries = [summary for *_rest, summary in world.coordinator.inbox.summaries()]
    expected = sum(1 for s in summaries if s["decision"] in ("urgent", "referral"))
    cases = world.coordinator.referrals.cases()
    assert len(cases) == expected > 0
    priorities = [case.priority for case in cases]
    assert priorities == sorted(priorities, key=("urgent", "referral").index)
    assert {case.status for case in cases} == {FollowUpStatus.NEW}
    [opened] = [entry for entry in world.coordinator.audit_entries()
                if entry.action == "follow_up.opened"]
    assert sorted(opened.details["opened"]) == sorted(case.record_id for case in cases)


def test_reimporting_the_same_batch_opens_no_second_case(world):
    before = world.coordinator.referrals.cases()
    batch = world.field.outbox.undelivered()[0]
    assert world.import_bytes(batch.file).status == "duplicate"
    assert world.coordinator.referrals.cases() == before


def test_overdue_after_the_default_deadlines_and_actioned_cases_are_not(world):
    queue = world.coordinator.referrals
    assert not queue.overdue()
    world.clock.advance(25 * 3600)
    urgent = [case for case in queue.cases() if case.priority == "urgent"]
    assert urgent and all(case.overdue for case in urgent)
    assert not any(case.overdue for case in queue.cases() if case.priority == "referral")
    queue.change_status(urgent[0].record_id, FollowUpStatus.CONTACTED)
    assert not queue.case(urgent[0].record_id).overdue
    world.clock.advance(7 * 86400)
    assert all(case.overdue for case in queue.cases() if case.status is FollowUpStatus.NEW)


def test_deadlines_are_configurable_and_checked(world):
    queue = world.coordinator.referrals
    queue.set_deadlines(Deadlines(urgent_hours=2, referral_days=1))
    world.clock.advance(3 * 3600)
    assert any(case.overdue for case in queue.cases())
    assert queue.deadlines() == Deadlines(2, 1)
    with pytest.raises(UserError, match="between"):
        queue.set_deadlines(Deadlines(urgent_hours=0, referral_days=1))
    assert queue.deadlines() == Deadlines(2, 1)


def test_a_case_moves_to_closed_with_notes_and_every_change_is_audited(world):
    queue = world.coordinator.referrals
    record_id = queue.cases()[0].record_id
    for status in list(FollowUpStatus)[1:]:
        world.clock.advance(60)
        queue.change_status(record_id, status, note=f"step {status.value}")
    case = queue.case(record_id)
    assert case.status is FollowUpStatus.CLOSED
    assert [status for status, _at in case.history] == [s.value for s in FollowUpStatus]
    assert [note.text for note in queue.notes(record_id)][-1] == "step closed"
    assert record_id not in [c.record_id for c in queue.cases()]
    assert record_id in [c.record_id for c in queue.cases(include_closed=True)]
    changes = [e for e in world.coordinator.audit_entries()
               if e.action == "follow_up.status_changed" and e.record_id == record_id]
    assert [e.details["to"] for e in changes] == [s.value for s in list(FollowUpStatus)[1:]]
    assert world.coordinator.verify_audit().holds


def test_moving_back_or_closing_early_needs_a_note_and_changes_nothing_without(world):
    queue = world.coordinator.referrals
    record_id = queue.cases()[0].record_id
    queue.change_status(record_id, FollowUpStatus.REFERRED)
    with pytest.raises(UserError, match="Write why"):
        queue.change_status(record_id, FollowUpStatus.CONTACTED)
    with pytest.raises(UserError, match="Write why"):
        queue.change_status(record_id, FollowUpStatus.CLOSED, note="   ")
    assert queue.case(record_id).status is FollowUpStatus.REFERRED
    queue.change_status(record_id, FollowUpStatus.CLOSED, note="The family moved away.")
    assert queue.case(record_id).status is FollowUpStatus.CLOSED


def test_notes_are_checked_and_encrypted_at_rest(world):
    queue = world.coordinator.referrals
    record_id = queue.cases()[0].record_id
    with pytest.raises(UserError, match="empty"):
        queue.add_note(record_id, "  ")
    with pytest.raises(UserError, match="at most"):
        queue.add_note(record_id, "x" * 4001)
    queue.add_note(record_id, "Called Amadou Diallo's aunt")
    assert [n.text for n in queue.notes(record_id)] == ["Called Amadou Diallo's aunt"]
    path = world.coordinator.database_path
    world.coordinator.lock()
    for candidate in path.parent.iterdir():
        if candidate.is_file():
            data = candidate.read_bytes()
            assert b"Amadou" not in data and "Amadou".encode("utf-16-le") not in data
    with sqlite3.connect(path) as connection:
        states = connection.execute("SELECT state FROM follow_ups").fetchall()
    assert states and all(b"urgent" not in row[0] and b"new" not in row[0] for row in states)


def test_an_unknown_case_is_a_clear_error(world):
    with pytest.raises(UserError, match="no follow-up case"):
        world.coordinator.referrals.change_status("nope", FollowUpStatus.CONTACTED)


def test_a_newer_more_urgent_version_raises_the_priority_and_keeps_the_status(world):
    queue = world.coordinator.referrals
    referral = next(case for case in queue.cases() if case.priority == "referral")
    queue.change_status(referral.record_id, FollowUpStatus.CONTACTED)
    urgent_outcome = {**referral_outcome(), "final_decision": "urgent"}
    record = record_dict(record_id=referral.record_id, outcome=urgent_outcome)
    record["version"] = 2
    batch = world.seal_by_hand([record], sequence=2)
    assert world.import_bytes(batch.data).status == "imported"
    case = queue.case(referral.record_id)
    assert case.priority == "urgent"
    assert case.status is FollowUpStatus.CONTACTED
    opened = [e for e in world.coordinator.audit_entries() if e.action == "follow_up.opened"]
    assert opened[-1].details == {"opened": [], "raised": [referral.record_id]}


def referral_outcome():
    return next(outcome for _answers, outcome in screenings()
                if outcome["final_decision"] == "referral")


def test_screening_times_from_a_batch_are_normalised_and_impossible_ones_refused(world):
    fine = record_dict(outcome=referral_outcome())
    fine["updated_at"] = "2026-03-01T09:00:00.500998Z"
    # In the store's own form already (as field records are).
    kept = record_dict(outcome=referral_outcome())
    kept["updated_at"] = "2026-02-28T23:59:59Z"
    batch = world.seal_by_hand([fine, kept], sequence=2)
    assert world.import_bytes(batch.data).status == "imported"
    queue = world.coordinator.referrals
    assert queue.case(fine["id"]).screened_at == "2026-03-01T09:00:00Z"
    assert queue.case(kept["id"]).screened_at == "2026-02-28T23:59:59Z"
    world.clock.advance(8 * 86400)
    assert {fine["id"]} <= {case.record_id for case in queue.overdue()}
    # Times that are no real time never reach the queue: the batch is refused at import
    # (docs/batch-format.md, conventions), so no deadline is counted from them.
    for odd_time in ("last tuesday", "2026-13-45T09:00:00Z", "٢٠٢٦-03-01T09:00:00Z"):
        odd = dict(record_dict(outcome=referral_outcome()), updated_at=odd_time)
        outcome = world.import_bytes(world.seal_by_hand([odd], sequence=3).data)
        assert (outcome.status, outcome.code) == ("quarantined", "bad_records")
