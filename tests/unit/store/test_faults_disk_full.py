"""A full disk during sync, import and export, on real small file systems (tmpfs).

A full disk during a save is tested in tests/unit/store/test_durability.py. Here the other
flows: each failure is a UserError that says what to do, nothing is half-written (no
partial file, no batch half-imported, no record marked sent), the database still passes
`PRAGMA integrity_check`, and the same work succeeds once space is freed.

Each test empties the write-ahead log (`wal_checkpoint(TRUNCATE)`) before filling the
disk: a WAL that grew earlier keeps its size and would take the next small write without
needing the disk, which would hide the failure being tested.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldscreen.errors import UserError
from fieldscreen.exchange.batch import batch_file_name
from fieldscreen.exchange.sync import sync
from fieldscreen.exchange.transports import transport_for
from fieldscreen.reporting.dashboard import DashboardFilter
from fieldscreen.reporting.exports import export_profile
from fieldscreen.reporting.labels import form_labels
from fieldscreen.store.database import StorageFull
from fieldscreen.store.profile import UnlockedProfile
from fieldscreen.store.records import RecordStatus
from tests.exchange_helpers import World, make_world, screenings, shipped_form
from tests.fault_helpers import fill, integrity, leftovers, rows, tiny_tmpfs

OK = [("ok",)]


def _save_large(profile: UnlockedProfile, count: int, size: int = 2000) -> list[str]:
    """Final records with a long note each, so their batch is tens of KiB."""
    form = shipped_form()
    ids = []
    for n in range(count):
        answers, outcome = screenings()[n % 4]
        answers = {**answers, "worker_note": f"note {n} " + "x" * size}
        ids.append(profile.records.save_final(form.id, form.version, answers, outcome).id)
    return ids


def _empty_wal(profile: UnlockedProfile) -> None:
    profile._database.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _assert_says_what_to_do(error: UserError, *words: str) -> None:
    text = str(error)
    assert error.hint, text
    for word in words:
        assert word in text, text


def _exported_entries(profile: UnlockedProfile) -> int:
    return sum(1 for entry in profile.audit_entries() if entry.action == "data.exported")


# -- sync -------------------------------------------------------------------------------------


def test_sync_to_a_full_stick_marks_nothing_sent_and_delivers_after_space_is_freed(tmp_path):
    world = make_world(tmp_path)
    try:
        with tiny_tmpfs("1m") as stick:
            _save_large(world.field, 30)
            filler = stick / "filler"
            fill(filler, leave=4096)

            report = sync(world.field, target=str(stick), now=world.clock,
                          sleep=lambda _s: None)

            assert report.error is not None and "is full" in report.error
            assert report.delivered_batches == 0 and report.pending_batches == 1
            assert [entry.name for entry in stick.iterdir()] == ["filler"], "half a batch"
            assert integrity(world.field.database_path) == OK
            # Sealed on the laptop (nothing lost), not marked delivered.
            assert world.field.records.count(RecordStatus.SEALED) == 30
            [batch] = world.field.outbox.undelivered()

            filler.unlink()
            report = sync(world.field, target=str(stick), now=world.clock)

            assert report.error is None and report.delivered_batches == 1
            assert (stick / batch_file_name(batch.batch_id)).read_bytes() == batch.file
            assert world.field.outbox.undelivered() == [] and leftovers(stick) == []
    finally:
        world.close()


def test_sync_with_the_laptop_disk_full_seals_nothing_and_completes_later():
    with tiny_tmpfs("8m") as disk:
        world = make_world(disk)
        try:
            ids = _save_large(world.field, 40)
            _empty_wal(world.field)
            filler = disk / "filler"
            fill(filler, leave=8 * 1024)
            before = len(world.field.audit_entries())

            with pytest.raises(StorageFull) as caught:
                sync(world.field, now=world.clock)

            _assert_says_what_to_do(caught.value, "disk is full", "sync", "Free some space",
                                    "Nothing was lost")
            assert integrity(world.field.database_path) == OK
            # The batch and the records' new status commit together or not at all.
            assert world.field.outbox.all() == []
            assert world.field.records.count(RecordStatus.FINAL) == len(ids)
            assert len(world.field.audit_entries()) == before
            assert world.field.verify_audit().holds
            assert list(world.relay.iterdir()) == []

            filler.unlink()
            report = sync(world.field, now=world.clock)

            assert report.error is None and report.sealed_records == len(ids)
            assert report.delivered_batches == 1 and report.pending_batches == 0
        finally:
            world.close()


# -- import -----------------------------------------------------------------------------------


def _coordinator_tables(world: World) -> dict[str, int]:
    path = world.coordinator.database_path
    return {table: rows(path, f"SELECT COUNT(*) FROM {table}")[0][0]
            for table in ("batch_ledger", "imported_records", "follow_ups", "quarantine")}


def test_import_with_the_coordinator_disk_full_keeps_nothing_and_completes_later():
    with tiny_tmpfs("8m") as disk:
        world = make_world(disk)
        try:
            _save_large(world.field, 60)
            report = sync(world.field, now=world.clock)
            assert report.delivered_batches == 1
            empty = _coordinator_tables(world)
            _empty_wal(world.coordinator)
            filler = disk / "filler"
            fill(filler, leave=8 * 1024)

            report = world.importer().run([str(world.relay)], transport_for)

            assert report.batches == [] and len(report.errors) == 1, report.to_json()
            assert "disk is full" in report.errors[0] and "was not imported" in (
                report.errors[0]) and "Free some space" in report.errors[0]
            # Neither imported nor quarantined: the batch is fine, the disk is not.
            assert _coordinator_tables(world) == empty
            assert integrity(world.coordinator.database_path) == OK
            assert world.coordinator.verify_audit().holds
            assert world.receipts() == []

            filler.unlink()
            report = world.importer().run([str(world.relay)], transport_for)

            assert [(b.status, b.records) for b in report.batches] == [("imported", 60)]
            assert report.errors == []
            assert len(world.receipts()) == 1
            assert len(world.coordinator.referrals.cases()) == 30  # urgent + referral
        finally:
            world.close()


def test_a_refused_batch_on_a_full_disk_is_not_half_quarantined():
    with tiny_tmpfs("4m") as disk:
        world = make_world(disk)
        try:
            broken = b"age-encryption.org/v1\n" + b"\x00" * 50_000
            _empty_wal(world.coordinator)
            filler = disk / "filler"
            fill(filler, leave=4096)

            with pytest.raises(StorageFull) as caught:
                world.import_bytes(broken, "broken.age")

            _assert_says_what_to_do(caught.value, "disk is full", "broken.age",
                                    "import again")
            assert world.coordinator.inbox.quarantined() == []
            assert not world.quarantine_dir.exists() or leftovers(world.quarantine_dir) == []
            assert integrity(world.coordinator.database_path) == OK

            filler.unlink()
            outcome = world.import_bytes(broken, "broken.age")

            assert outcome.status == "quarantined"
            [entry] = world.coordinator.inbox.quarantined()
            assert Path(entry.stored_as).read_bytes() == broken
        finally:
            world.close()


# -- export -----------------------------------------------------------------------------------


def _export(world: World, path, *, records: bool = True):
    return export_profile(world.coordinator, path, fmt="xlsx", hxl=True, records=records,
                          query=DashboardFilter(), labels=form_labels(shipped_form(), "en"),
                          now=world.clock)


@pytest.fixture
def imported(tmp_path):
    world = make_world(tmp_path)
    world.import_bytes(world.sealed_batch(12).file)
    yield world
    world.close()


def test_export_to_a_full_disk_writes_nothing_and_works_after_space_is_freed(imported):
    with tiny_tmpfs("1m") as out:
        filler = out / "filler"
        fill(filler, leave=1024)

        with pytest.raises(UserError) as caught:
            _export(imported, out / "records.xlsx")

        _assert_says_what_to_do(caught.value, "No space left", "Nothing was written",
                                "free space")
        assert sorted(entry.name for entry in out.iterdir()) == ["filler"]
        assert _exported_entries(imported.coordinator) == 0

        filler.unlink()
        result = _export(imported, out / "records.xlsx")

        assert result.rows == 12 and (out / "records.xlsx").is_file()
        assert _exported_entries(imported.coordinator) == 1


def test_export_with_the_coordinator_disk_full_leaves_no_unlogged_file(tmp_path):
    with tiny_tmpfs("8m") as disk:
        world = make_world(disk)
        try:
            world.import_bytes(world.sealed_batch(12).file)
            _empty_wal(world.coordinator)
            filler = disk / "filler"
            fill(filler, leave=0)
            target = tmp_path / "counts.csv"

            with pytest.raises(StorageFull) as caught:
                _export(world, target, records=False)

            _assert_says_what_to_do(caught.value, "disk is full", "export",
                                    "Free some space")
            assert not target.exists() and leftovers(tmp_path) == []
            assert integrity(world.coordinator.database_path) == OK

            filler.unlink()
            _export(world, target, records=False)

            assert target.is_file() and _exported_entries(world.coordinator) == 1
        finally:
            world.close()
