"""A clock set years back or ahead, on the field laptop or on the coordinator's computer.

Field laptops lose their time (a flat CMOS battery resets it to years ago) or get it set
wrong by hand. Whatever the clocks say: saving, sealing, importing and receipts work; the
audit chains still verify though their times jump; retention only ever purges records the
coordinator's receipt holds, and purges them once the clock is right again; the referral
queue neither hides an overdue child nor shows a deadline years away.
"""

from __future__ import annotations

import datetime as dt

import pytest

from fieldscreen.exchange.sync import sync
from fieldscreen.exchange.transports import transport_for
from fieldscreen.store.profile import LockedProfile, ProfileStore, WrongPassphrase
from fieldscreen.store.records import RecordStatus
from tests.exchange_helpers import START, World, make_world, shipped_form
from tests.fault_helpers import integrity

OK = [("ok",)]
YEAR = dt.timedelta(days=365)


def _import_all(world: World) -> None:
    report = world.importer().run([str(world.relay)], transport_for)
    assert report.errors == [] and report.quarantined == 0, report.to_json()


def _statuses(world: World) -> dict[str, int]:
    return {status.value: world.field.records.count(status) for status in RecordStatus}


def _assert_sound(world: World) -> None:
    for profile in (world.field, world.coordinator):
        assert integrity(profile.database_path) == OK
        assert profile.verify_audit().holds


@pytest.mark.parametrize("years", [-20, 15])
def test_a_field_clock_years_off_still_saves_seals_imports_and_closes(tmp_path, years):
    world = make_world(tmp_path)
    form = shipped_form()
    field_now = START + years * YEAR
    try:
        world.clock.now = field_now
        draft = world.field.records.save_draft(form.id, form.version, {"child_assent": "yes"})
        ids = world.save(4)  # urgent, referral, follow-up, information
        assert world.field.records.get(draft.id).summary.created_at.startswith(
            str(field_now.year))
        report = sync(world.field, now=world.clock)
        assert (report.sealed_records, report.delivered_batches) == (4, 1)

        world.clock.now = START  # the coordinator's clock is right
        _import_all(world)
        assert {record.id for record in world.coordinator.inbox.records()} == set(ids)
        cases = world.coordinator.referrals.cases()
        assert sorted(case.priority for case in cases) == ["referral", "urgent"]
        if years < 0:
            # Screened "20 years ago": overdue at once, which draws attention, not hides.
            assert all(case.overdue for case in cases)
        else:
            # Screened "in 15 years": the deadlines count from the import instead.
            assert not any(case.overdue for case in cases)
            assert all(case.due_at < f"{START.year + 1}" for case in cases)
            world.clock.advance(25 * 3600)
            assert [case.priority for case in world.coordinator.referrals.overdue()] == [
                "urgent"]
            world.clock.advance(7 * 24 * 3600)
            assert len(world.coordinator.referrals.overdue()) == 2

        world.clock.now = field_now + dt.timedelta(hours=1)  # still wrong on the laptop
        report = sync(world.field, now=world.clock)
        assert report.received_records == 4 and report.error is None
        assert _statuses(world)["received"] == 4 and report.purged_records == 0
        _assert_sound(world)

        # The laptop's clock is put right. Records received "20 years ago" are past any
        # retention; those received "in 15 years" are kept 30 days from now, not 15 years.
        world.clock.now = START + dt.timedelta(days=1)
        report = sync(world.field, now=world.clock)
        assert report.purged_records == (4 if years < 0 else 0)
        world.clock.now = START + dt.timedelta(days=32)
        report = sync(world.field, now=world.clock)
        assert _statuses(world)["received"] == 0
        # The draft is never purged, whatever the clock.
        assert _statuses(world) == {"draft": 1, "final": 0, "sealed": 0, "received": 0}
        _assert_sound(world)
    finally:
        world.close()


def test_a_clock_jumping_years_ahead_purges_only_received_records(tmp_path):
    world = make_world(tmp_path)
    nowhere = str(tmp_path / "unplugged-stick")
    form = shipped_form()
    try:
        world.save(2)
        sync(world.field, now=world.clock)
        _import_all(world)  # their receipts are on the relay
        world.save(3)
        sync(world.field, now=world.clock)  # 2 received, 3 delivered awaiting a receipt
        world.save(2)
        sync(world.field, target=nowhere, now=world.clock, sleep=lambda _s: None)
        world.save(1)  # final, not sealed yet
        world.field.records.save_draft(form.id, form.version, {"child_assent": "yes"})
        assert _statuses(world) == {"draft": 1, "final": 1, "sealed": 5, "received": 2}

        world.clock.advance(10 * 365 * 24 * 3600)
        report = sync(world.field, target=nowhere, now=world.clock, sleep=lambda _s: None)

        assert report.error is not None and report.purged_records == 2
        assert _statuses(world) == {"draft": 1, "final": 0, "sealed": 6, "received": 0}
        # Everything unsent still reaches the coordinator.
        world.clock.now = START + dt.timedelta(days=1)
        sync(world.field, now=world.clock)
        _import_all(world)
        sync(world.field, now=world.clock)
        assert len(world.coordinator.inbox.records()) == 8
        assert _statuses(world) == {"draft": 1, "final": 0, "sealed": 0, "received": 6}
        _assert_sound(world)
    finally:
        world.close()


def test_a_coordinator_clock_set_back_after_import_shows_new_cases_as_overdue(tmp_path):
    world = make_world(tmp_path)
    try:
        world.save(2)  # urgent, referral
        sync(world.field, now=world.clock)
        _import_all(world)
        assert world.coordinator.referrals.overdue() == []
        # A flat battery: the clock now reads years before the import. How long the
        # children have waited cannot be told, so their cases ask for attention.
        world.clock.now = START - 6 * YEAR
        assert len(world.coordinator.referrals.overdue()) == 2
        # A correction of a few hours does not.
        world.clock.now = START - dt.timedelta(hours=3)
        assert world.coordinator.referrals.overdue() == []
        _assert_sound(world)
    finally:
        world.close()


@pytest.mark.parametrize("jump", [-30 * YEAR, 30 * YEAR])
def test_unlock_delay_stays_bounded_when_the_clock_jumps(tmp_path, jump):
    world = make_world(tmp_path)
    data_dir = world.root / "field" / "data"
    world.close()
    locked: LockedProfile = ProfileStore(data_dir, clock=world.clock).open("default")
    try:
        for _attempt in range(3):
            world.clock.advance(locked.remaining_delay())
            with pytest.raises(WrongPassphrase):
                locked.unlock("not the passphrase at all")
        world.clock.now += jump
        # Never negative, never more than the full delay for three failures (4 s).
        assert 0 <= locked.remaining_delay() <= 4
    finally:
        locked.close()
