"""Two consoles on one coordinator database at once: each batch imported exactly once (the
ledger's unique keys decide, not a lock of the application), and no change to a follow-up
case lost (optimistic versioning), proved with two real processes and with two
connections stopped at the worst moment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fieldscreen.cli import main
from fieldscreen.exchange.pack import build_pack, deployment_coordinators, install_pack
from fieldscreen.exchange.sync import sync
from fieldscreen.store.audit import AuditAction
from fieldscreen.store.follow_up import CaseChangedElsewhere, FollowUpStatus
from fieldscreen.store.profile import ProfileStore
from tests.exchange_helpers import (
    PASSPHRASE,
    PROFILE,
    ROOT,
    SHIPPED_FORM,
    SHIPPED_SERVICES,
    SyncSettings,
    make_world,
    record_dict,
    weak_kdf,
)

SECOND = "amina's own long passphrase"


@pytest.fixture
def world(tmp_path):
    """A deployment of two coordinators (the profile's first one and Amina, added), whose
    laptop installed the pack listing both: its batches open for either."""
    built = make_world(tmp_path)
    built.coordinator.add_coordinator("Amina", SECOND)
    raw = build_pack(
        signing_key=built.coordinator.coordinator_signing_key(),
        recipient=built.recipient, coordinator_name=PROFILE,
        coordinators=deployment_coordinators(built.coordinator), form_paths=[SHIPPED_FORM],
        services_path=SHIPPED_SERVICES, sync=SyncSettings(str(built.relay)),
        retention_days=30, demo=False, now=built.clock(), sequence=2)
    built.pack = install_pack(built.field, raw).pack
    yield built
    built.close()


def _second_console(world):
    """The same database opened again, as a second coordinator's console opens it."""
    return ProfileStore(world.coordinator_base / "data", clock=world.clock,
                        kdf=weak_kdf()).open(PROFILE).unlock(SECOND)


def _counts(profile) -> dict[str, int]:
    with profile._database.read() as connection:
        one = connection.execute
        return {
            "ledger": one("SELECT COUNT(*) FROM batch_ledger").fetchone()[0],
            "records": one("SELECT COUNT(*) FROM imported_records").fetchone()[0],
            "cases": one("SELECT COUNT(*) FROM follow_ups").fetchone()[0],
            "imports": one("SELECT COUNT(*) FROM audit_log WHERE action = ?",
                           [AuditAction.BATCH_IMPORTED.value]).fetchone()[0],
        }


def _delivered_batches(world, count: int) -> None:
    """`count` batches of one record each, delivered to the folder relay."""
    for _batch in range(count):
        world.save(1)
        world.seal()
    report = sync(world.field, now=world.clock)
    assert report.delivered_batches == count, report


# -- exactly once --------------------------------------------------------------------------


@pytest.mark.slow
def test_two_processes_importing_one_folder_import_each_batch_once(world, tmp_path):
    batches = 24
    _delivered_batches(world, batches)
    world.close()  # the two processes are the only writers
    files = []
    for name, passphrase in (("first", PASSPHRASE), ("second", SECOND)):
        path = tmp_path / f"{name}.pass"
        path.write_text(passphrase + "\n", encoding="utf-8")
        files.append(path)
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [subprocess.Popen(
        [sys.executable, "-m", "fieldscreen", "--basedir", str(world.coordinator_base),
         "import", str(world.relay), "--json", "--passphrase-file", str(path)],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for path in files]
    results = [process.communicate(timeout=300) for process in processes]
    for process, (_out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in err
    reports = [json.loads(out) for out, _err in results]
    imported = [report["batches"]["imported"] for report in reports]
    # Every batch was imported by exactly one of the two; the other found it imported.
    assert sum(imported) == batches, imported
    assert [report["batches"]["quarantined"] for report in reports] == [0, 0]
    assert sum(report["batches"]["duplicate"] for report in reports) == batches
    coordinator = ProfileStore(world.coordinator_base / "data", clock=world.clock,
                               kdf=weak_kdf()).open(PROFILE).unlock(PASSPHRASE)
    try:
        counts = _counts(coordinator)
        assert counts["ledger"] == counts["records"] == counts["imports"] == batches
        assert coordinator.verify_audit().holds
    finally:
        coordinator.lock()


def test_the_ledger_refuses_the_second_copy_and_it_rolls_back_whole(world):
    """The second console checked the batch (new) before the first stored it: only the
    ledger's unique key stops it, and nothing of its transaction stays."""
    batch = world.sealed_batch(4).file
    second = _second_console(world)
    try:
        checked = second.inbox.check

        def check_then_the_other_console_imports(*args):
            verdict = checked(*args)
            if not hasattr(check_then_the_other_console_imports, "done"):
                check_then_the_other_console_imports.done = True
                assert world.import_bytes(batch).status == "imported"
            return verdict

        second.inbox.check = check_then_the_other_console_imports
        before = _counts(world.coordinator)
        from fieldscreen.exchange.importer import BatchImporter

        outcome = BatchImporter(second, world.quarantine_dir, world.clock).import_one(
            batch, "test.age", None)
        assert outcome.status == "duplicate", outcome  # "already imported"
        after = _counts(world.coordinator)
        # One import: the first console's, with its records and cases; none of the second.
        assert after["ledger"] == after["imports"] == 1
        assert after["records"] == 4 and before["records"] == 0
        assert second.verify_audit().holds
    finally:
        second.lock()


def test_a_sequence_taken_meanwhile_by_another_batch_is_a_conflict(world):
    first = world.seal_by_hand([record_dict(0)], sequence=1, recipient=world.pack.recipients)
    rival = world.seal_by_hand([record_dict(1)], sequence=1, recipient=world.pack.recipients)
    second = _second_console(world)
    try:
        checked = second.inbox.check

        def check_then_the_rival_is_imported(*args):
            verdict = checked(*args)
            if not hasattr(check_then_the_rival_is_imported, "done"):
                check_then_the_rival_is_imported.done = True
                assert world.import_bytes(rival.data).status == "imported"
            return verdict

        second.inbox.check = check_then_the_rival_is_imported
        from fieldscreen.exchange.importer import BatchImporter

        outcome = BatchImporter(second, world.quarantine_dir, world.clock).import_one(
            first.data, "test.age", None)
        assert outcome.code == "conflict", outcome
        assert _counts(world.coordinator)["ledger"] == 1
    finally:
        second.lock()


# -- no change to a case lost --------------------------------------------------------------


def _a_case(world) -> str:
    world.sealed_batch(1)  # the first answer file: an urgent case
    assert world.import_bytes(world.field.outbox.undelivered()[0].file).status == "imported"
    (case,) = world.coordinator.referrals.cases()
    return case.record_id


def test_a_change_decided_on_an_older_version_is_refused(world):
    record_id = _a_case(world)
    second = _second_console(world)
    try:
        seen_here = world.coordinator.referrals.case(record_id)
        seen_there = second.referrals.case(record_id)
        assert seen_here.version == seen_there.version
        changed = second.referrals.change_status(record_id, FollowUpStatus.CONTACTED,
                                                 expected_version=seen_there.version)
        assert changed.version == seen_there.version + 1
        with pytest.raises(CaseChangedElsewhere) as refused:
            world.coordinator.referrals.change_status(
                record_id, FollowUpStatus.REFERRED, "my note",
                expected_version=seen_here.version)
        assert "Someone else changed this case" in refused.value.message
        assert "Reload" in refused.value.hint
        # The first change stands, and nothing of the refused one was kept.
        case = world.coordinator.referrals.case(record_id)
        assert case.status is FollowUpStatus.CONTACTED
        assert [status for status, _at in case.history] == ["new", "contacted"]
        assert world.coordinator.referrals.notes(record_id) == []
        # Decided again on what is there now, it goes through.
        world.coordinator.referrals.change_status(record_id, FollowUpStatus.REFERRED,
                                                  expected_version=case.version)
    finally:
        second.lock()


def test_the_database_refuses_a_change_made_between_reading_and_writing(world):
    """Without a version given, the one read is used: another console's change between
    the read and the UPDATE leaves the UPDATE with no row, and it is refused."""
    record_id = _a_case(world)
    second = _second_console(world)
    try:
        queue = world.coordinator.referrals
        read = queue.case

        def read_then_the_other_console_changes(wanted):
            case = read(wanted)
            second.referrals.change_status(wanted, FollowUpStatus.CONTACTED)
            return case

        queue.case = read_then_the_other_console_changes
        with pytest.raises(CaseChangedElsewhere):
            queue.change_status(record_id, FollowUpStatus.REFERRED)
        del queue.case
        assert queue.case(record_id).status is FollowUpStatus.CONTACTED
    finally:
        second.lock()


def test_every_change_of_a_case_counts_a_version(world):
    record_id = _a_case(world)
    queue = world.coordinator.referrals
    start = queue.case(record_id).version
    queue.change_status(record_id, FollowUpStatus.CONTACTED)
    queue.add_note(record_id, "a note is added, never overwritten")
    assert queue.case(record_id).version == start + 1
    assert len(queue.notes(record_id)) == 1


def test_the_cli_says_someone_else_changed_the_case(world, tmp_path, capsys):
    record_id = _a_case(world)
    stale = world.coordinator.referrals.case(record_id).version
    world.coordinator.referrals.change_status(record_id, FollowUpStatus.CONTACTED)
    passphrase = tmp_path / "pass.txt"
    passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")
    base = ["--basedir", str(world.coordinator_base), "referral"]
    code = main([*base, "case-status", record_id, "referred", "--version", str(stale),
                 "--passphrase-file", str(passphrase)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Someone else changed this case" in err and "Traceback" not in err
    assert world.coordinator.referrals.case(record_id).status is FollowUpStatus.CONTACTED
    assert main([*base, "cases", "--json", "--passphrase-file", str(passphrase)]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["version"] == stale + 1
    assert main([*base, "case-status", record_id, "referred", "--version",
                 str(listed["version"]), "--passphrase-file", str(passphrase)]) == 0
    assert world.coordinator.referrals.case(record_id).status is FollowUpStatus.REFERRED


@pytest.mark.slow
def test_two_processes_changing_one_case_on_one_version_keep_exactly_one(world, tmp_path):
    record_id = _a_case(world)
    version = world.coordinator.referrals.case(record_id).version
    world.close()
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = []
    for name, passphrase, status in (("first", PASSPHRASE, "contacted"),
                                     ("second", SECOND, "referred")):
        path = tmp_path / f"{name}.pass"
        path.write_text(passphrase + "\n", encoding="utf-8")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "fieldscreen", "--basedir", str(world.coordinator_base),
             "referral", "case-status", record_id, status, "--version", str(version),
             "--passphrase-file", str(path)],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    answers = [process.communicate(timeout=120) for process in processes]
    results = [(process.returncode, out, err)
               for process, (out, err) in zip(processes, answers, strict=True)]
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, 1], results
    (refused,) = [err for code, _out, err in results if code == 1]
    assert "Someone else changed this case" in refused and "Traceback" not in refused
    coordinator = ProfileStore(world.coordinator_base / "data", clock=world.clock,
                               kdf=weak_kdf()).open(PROFILE).unlock(PASSPHRASE)
    try:
        case = coordinator.referrals.case(record_id)
        assert case.version == version + 1
        assert len(case.history) == 2
    finally:
        coordinator.lock()
