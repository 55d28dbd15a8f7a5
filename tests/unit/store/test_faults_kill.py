"""kill -9 at random points during sync (field) and during a pipelined import (coordinator).

tests/unit/store/test_durability.py kills saves and passphrase changes; test_exchange_batches
kills `import_one`. These kill the two flows as a person runs them: `sync` (save, seal,
deliver to a folder relay, read receipts, purge) and `BatchImporter.run` over a folder (the
import with its second checking process, receipts, quarantine and the referral queue).

After every kill: each database passes `PRAGMA integrity_check`; nothing the child
acknowledged is lost; nothing is marked delivered that is not on the relay byte for byte;
each batch is imported whole or not at all; and running the same flow again completes.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import time
import uuid
from pathlib import Path

import pytest

from fieldscreen.exchange.batch import batch_file_name, seal_batch
from fieldscreen.exchange.importer import BatchImporter
from fieldscreen.exchange.pack import build_pack
from fieldscreen.exchange.receipt import receipt_file_name
from fieldscreen.exchange.sync import sync
from fieldscreen.exchange.transports import FolderTransport
from fieldscreen.store.audit import GENESIS
from fieldscreen.store.profile import ProfileStore, UnlockedProfile
from fieldscreen.store.records import RecordStatus
from tests.exchange_helpers import (
    PASSPHRASE,
    PROFILE,
    SHIPPED_FORM,
    SHIPPED_SERVICES,
    make_world,
    record_dict,
    screenings,
)
from tests.fault_helpers import (
    integrity,
    kill_and_drain,
    leftovers,
    read_line,
    rows,
    start_child,
)

SEED = int(os.environ.get("FIELDSCREEN_TEST_SEED", str(random.SystemRandom().randrange(2**32))))
OK = [("ok",)]


def _real_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- sync -------------------------------------------------------------------------------------


def _check_field_on_disk(path: Path, relay: Path) -> None:
    """What must hold in the field database however the kill landed."""
    assert integrity(path) == OK
    outbox = {batch_id: (file, delivered) for batch_id, file, delivered in rows(
        path, "SELECT batch_id, file, delivered_at FROM outbox")}
    for batch_id, (file, delivered) in outbox.items():
        if delivered is not None:
            # Marked delivered only if the relay holds exactly those bytes.
            on_relay = relay / batch_file_name(batch_id)
            assert on_relay.is_file(), f"batch {batch_id} marked delivered, not on the relay"
            assert on_relay.read_bytes() == file
    # Every file under a real batch name on the relay is a whole batch the outbox sealed.
    sealed_files = {file for file, _delivered in outbox.values()}
    for on_relay in relay.glob("fieldscreen-batch-*.age"):
        assert on_relay.read_bytes() in sealed_files, f"{on_relay.name} is partial or foreign"
    # Sealed records belong to a batch of the outbox at the version sealed, and back.
    members = set(rows(path, "SELECT batch_id, record_id, version FROM outbox_records"))
    for record_id, version, status, batch_id in rows(
            path, "SELECT id, version, status, batch_id FROM records"):
        if status in ("sealed", "received"):
            assert (batch_id, record_id, version) in members, record_id
        else:
            assert status == "final" and batch_id is None, (record_id, status)
    present = {record_id: status for record_id, status in rows(
        path, "SELECT id, status FROM records")}
    for _batch_id, record_id, _version in members:
        assert present.get(record_id, "received") in ("sealed", "received"), record_id


@pytest.mark.slow
def test_kill_9_during_sync_loses_nothing_and_sync_completes(tmp_path):
    """25 kills of a field laptop that saves and syncs to a folder relay in a loop."""
    rng = random.Random(SEED)
    world = make_world(tmp_path)
    # Retention 0 days: records are purged at the first sync after their receipt, so the
    # kills also land in receipt handling and purging.
    pack_raw = build_pack(
        signing_key=world.coordinator.coordinator_signing_key(), recipient=world.recipient,
        coordinator_name="Test coordinator", form_paths=[SHIPPED_FORM],
        services_path=SHIPPED_SERVICES, sync=world.pack.sync, retention_days=0, demo=False,
        now=world.clock())
    world.field.install_pack(pack_raw, world.recipient)
    field_dir = world.root / "field" / "data"
    field_path = world.field.database_path
    world.field.lock()
    coordinator = world.coordinator
    importer = world.importer()
    relay = FolderTransport(world.relay)
    answered: set[str] = set()  # batch files the coordinator imported
    config = {"mode": "sync", "data_dir": str(field_dir), "profile": PROFILE,
              "passphrase": PASSPHRASE, "screenings": [list(pair) for pair in screenings()]}
    acknowledged: set[str] = set()  # ids whose save returned
    delivered: set[str] = set()  # batches the child saw marked delivered
    seen: set[str] = set()  # every record id the field database ever held
    sync_seconds = 0.3
    inside_sync = 0
    try:
        # 25 kills, and more (up to 60) while fewer than 8 landed inside `sync` itself: on
        # a busy machine the timing estimate drifts and a kill can arrive just after it.
        kills = 0
        for kill in range(60):
            if kill >= 25 and inside_sync >= 8:
                break
            kills += 1
            process = start_child({**config, "seed": rng.randrange(2**32)})
            assert read_line(process) == "ready"
            lines: list[str] = []
            in_sync = False
            if rng.random() < 0.25:
                time.sleep(rng.uniform(0, 0.8))  # anywhere: saving, sealing, delivering
            else:
                rounds = rng.randrange(3)
                while True:
                    line = read_line(process)
                    lines.append(line)
                    if line.startswith("synced"):
                        sync_seconds = 0.7 * sync_seconds + 0.3 * float(line.split()[1])
                        rounds -= 1
                    elif line == "syncing" and rounds < 0:
                        in_sync = True
                        break
                time.sleep(rng.uniform(0, 1.2 * sync_seconds))
            rest, errors = kill_and_drain(process)
            assert process.returncode == -signal.SIGKILL, f"seed {SEED}: child died: {errors}"
            lines += rest
            if in_sync and not any(line.startswith("synced") for line in rest):
                inside_sync += 1
            for line in lines:
                kind, *values = line.split()
                if kind == "saved":
                    acknowledged.add(values[0])
                elif kind == "synced":
                    delivered.update(values[1:])

            context = f"seed {SEED}, kill {kill}"
            _check_field_on_disk(field_path, world.relay)
            field = ProfileStore(field_dir).open(PROFILE).unlock(PASSPHRASE)
            try:
                assert field.verify_audit().holds, context
                held = {summary.id for summary in field.records.list()}
                at_coordinator = {record.id for record in coordinator.inbox.records()}
                missing = acknowledged - held - at_coordinator
                assert not missing, f"{context}: acknowledged saves lost: {missing}"
                # Only the one save in flight may exist without its acknowledgement.
                assert len((held - seen) - acknowledged) <= 1, context
                seen |= held
                outbox = {batch.batch_id: batch for batch in field.outbox.all()}
                assert delivered <= set(outbox), context
                assert all(outbox[batch_id].delivered_at for batch_id in delivered), context

                # Running sync again completes whatever the kill interrupted.
                report = sync(field, now=_real_now)
                assert report.error is None, f"{context}: {report.error}"
                assert report.pending_batches == 0
                assert field.records.count(RecordStatus.FINAL) == 0, context
                assert leftovers(world.relay) == [], context
            finally:
                field.lock()
            _check_field_on_disk(field_path, world.relay)
            # The coordinator imports what arrived and answers with receipts.
            for batch_file in sorted(world.relay.glob("fieldscreen-batch-*.age")):
                if batch_file.name not in answered:
                    outcome = importer.import_one(batch_file.read_bytes(), batch_file.name,
                                                  relay)
                    assert outcome.status == "imported", outcome
                    answered.add(batch_file.name)
        # Everything acknowledged reached the coordinator exactly once.
        field = ProfileStore(field_dir).open(PROFILE).unlock(PASSPHRASE)
        try:
            sync(field, now=_real_now)
        finally:
            field.lock()
        imported = [record.id for record in coordinator.inbox.records()]
        assert len(imported) == len(set(imported))
        assert acknowledged <= set(imported), f"seed {SEED}"
        assert integrity(coordinator.database_path) == OK
        assert coordinator.verify_audit().holds
    finally:
        coordinator.lock()
    print(f"seed {SEED}: {inside_sync} of {kills} kills inside sync, "
          f"{len(acknowledged)} acknowledged saves, {len(delivered)} acknowledged deliveries")
    assert len(acknowledged) >= 50, "too few saves to mean anything"
    # The test means something only if many kills landed inside `sync` itself.
    assert inside_sync >= 8, f"seed {SEED}: only {inside_sync} kills inside sync"


# -- import -----------------------------------------------------------------------------------


class _Device:
    """Seals hand-made batches as one enrolled device would, with a proper chain."""

    def __init__(self, world, rng: random.Random) -> None:
        self.key, self.recipient, self.rng = world.device_key, world.recipient, rng
        self.sequence, self.previous = 1, GENESIS
        self.decisions: dict[tuple[str, int], str] = {}  # (record id, version) -> decision
        self.records: dict[str, set[tuple[str, int]]] = {}  # batch id -> its records
        self.names: dict[str, str] = {}  # file name -> batch id
        self.sent: list[str] = []  # record ids at version 1, to re-send some later

    def batch(self, folder: Path, count: int = 150) -> str:
        urgent_answers, urgent_outcome = screenings()[0]
        lines = [record_dict(self.rng.randrange(4)) for _n in range(count)]
        # A later version of a few earlier screenings, made more urgent.
        for record_id in self.rng.sample(self.sent, min(len(self.sent), 10)):
            if (record_id, 2) not in self.decisions:
                lines.append(record_dict(record_id=record_id, answers=urgent_answers,
                                         outcome=urgent_outcome) | {"version": 2})
        sealed = seal_batch(lines, device_key=self.key,
                            recipient=self.recipient, sequence=self.sequence,
                            previous_manifest_sha256=self.previous, audit_head=(0, GENESIS),
                            demo=False, now=_real_now())
        self.sequence += 1
        self.previous = sealed.manifest_sha256
        for line in lines:
            self.decisions[(line["id"], line["version"])] = line["outcome"].get(
                "final_decision", line["outcome"].get("decision"))
            if line["version"] == 1:
                self.sent.append(line["id"])
        self.records[sealed.batch_id] = {(line["id"], line["version"]) for line in lines}
        name = batch_file_name(sealed.batch_id)
        (folder / name).write_bytes(sealed.data)
        self.names[name] = sealed.batch_id
        return name


def _check_coordinator_on_disk(path: Path, device: _Device) -> set[str]:
    """Integrity and all-or-nothing per batch; returns the batch ids in the ledger."""
    assert integrity(path) == OK
    ledger = {row[0] for row in rows(path, "SELECT batch_id FROM batch_ledger")}
    held = dict(rows(path, "SELECT id, version FROM imported_records"))
    from_batch = {row[0] for row in rows(path, "SELECT DISTINCT batch_id FROM imported_records")}
    assert from_batch <= ledger, "records stored without their batch's ledger entry"
    for batch_id in ledger:
        for record_id, version in device.records[batch_id]:
            assert held.get(record_id, 0) >= version, "a batch in the ledger lacks records"
    # A refused file is quarantined once, however often it was tried.
    counts = rows(path, "SELECT file_sha256, COUNT(*) FROM quarantine WHERE resolved_at IS NULL "
                        "GROUP BY file_sha256")
    assert all(count == 1 for _sha, count in counts)
    return ledger


def _check_queue(coordinator: UnlockedProfile, device: _Device, ledger: set[str]) -> None:
    """One case per referred or urgent child imported, never two."""
    imported = {key for batch_id in ledger for key in device.records[batch_id]}
    expected = {record_id for record_id, version in imported
                if device.decisions[(record_id, version)] in ("urgent", "referral")}
    cases = [case.record_id for case in coordinator.referrals.cases(include_closed=True)]
    assert len(cases) == len(set(cases)), "a child has two follow-up cases"
    assert set(cases) == expected


@pytest.mark.slow
def test_kill_9_during_pipelined_import_is_all_or_nothing_and_completes(tmp_path):
    """20 kills of `BatchImporter.run` over a folder of new, repeated and broken batches."""
    rng = random.Random(SEED)
    world = make_world(tmp_path)
    device = _Device(world, rng)
    folder = tmp_path / "stick"
    done = tmp_path / "archive"
    folder.mkdir()
    done.mkdir()
    data_dir = world.coordinator_base / "data"
    path = world.coordinator.database_path
    world.close()
    config = {"mode": "import", "data_dir": str(data_dir), "profile": PROFILE,
              "passphrase": PASSPHRASE, "quarantine_dir": str(world.quarantine_dir),
              "folder": str(folder)}
    broken: set[str] = set()
    per_batch = 0.15
    inside_import = 0
    # 20 kills, and more (up to 50) while fewer than 8 landed inside an import: on a busy
    # machine the timing estimate drifts and a kill can arrive after the import ended.
    kills = 0
    for kill in range(50):
        if kill >= 20 and inside_import >= 8:
            break
        kills += 1
        for _new in range(3):
            device.batch(folder)
        if rng.random() < 0.3:
            name = batch_file_name(str(uuid.uuid4()))
            (folder / name).write_bytes(os.urandom(rng.randrange(100, 5000)))
            broken.add(name)
        files = sorted(entry.name for entry in folder.glob("fieldscreen-batch-*.age"))
        process = start_child(config)
        started = time.perf_counter()
        assert read_line(process) == "ready"
        lines: list[str] = []
        if rng.random() < 0.25:
            time.sleep(rng.uniform(0, 0.5 + per_batch * len(files)))
        else:
            settled = rng.randrange(len(files))
            while settled > 0:
                line = read_line(process)
                lines.append(line)
                if line.startswith("done"):
                    break
                settled -= 1
            if settled == 0:
                inside_import += 1
            time.sleep(rng.uniform(0, 1.5 * per_batch))
        # kill_and_drain also fails if the checking process outlives the importer.
        rest, errors = kill_and_drain(process)
        assert process.returncode == -signal.SIGKILL, f"seed {SEED}: child died: {errors}"
        lines += rest
        done_lines = [line for line in lines if line.startswith("done")]
        if done_lines:
            per_batch = 0.7 * per_batch + 0.3 * float(done_lines[0].split()[1]) / len(files)
        context = f"seed {SEED}, kill {kill}, {time.perf_counter() - started:.2f} s"

        ledger = _check_coordinator_on_disk(path, device)
        acknowledged = [line.split() for line in lines if line.startswith("outcome")]
        for _kind, status, name in acknowledged:
            if status in ("imported", "duplicate"):
                assert device.names[name] in ledger, f"{context}: acknowledged import lost"
            else:
                assert status == "quarantined" and name in broken, (context, name)

        coordinator = ProfileStore(data_dir).open(PROFILE).unlock(PASSPHRASE)
        try:
            assert coordinator.verify_audit().holds, context
            _check_queue(coordinator, device, ledger)
            # Importing again completes every batch, and answers each with a receipt.
            importer = BatchImporter(coordinator, world.quarantine_dir, _real_now)
            relay = FolderTransport(folder)
            for name in files:
                outcome = importer.import_one((folder / name).read_bytes(), name, relay)
                expected = ("quarantined",) if name in broken else ("imported", "duplicate")
                assert outcome.status in expected, (context, name, outcome)
            ledger = _check_coordinator_on_disk(path, device)
            assert ledger == set(device.records), context
            _check_queue(coordinator, device, ledger)
            for batch_id in ledger:
                receipt = folder / receipt_file_name(batch_id)
                if receipt.exists():
                    receipt.rename(done / receipt.name)
                else:
                    assert (done / receipt.name).exists(), f"{context}: no receipt"
            assert len(coordinator.inbox.quarantined()) == len(broken)
        finally:
            coordinator.lock()
        # Keep the folder to this round's files plus a few already imported ones (their
        # import is then a duplicate that is answered again).
        for name in files:
            if name not in broken and rng.random() < 0.8:
                (folder / name).rename(done / name)
        assert leftovers(folder) == [] and leftovers(world.quarantine_dir) == []
    coordinator = ProfileStore(data_dir).open(PROFILE).unlock(PASSPHRASE)
    try:
        held = {(record.id, record.version) for record in coordinator.inbox.records()}
        latest: dict[str, int] = {}
        for record_id, version in device.decisions:
            latest[record_id] = max(latest.get(record_id, 0), version)
        assert held == set(latest.items())
    finally:
        coordinator.lock()
    print(f"seed {SEED}: {inside_import} of {kills} kills inside an import, "
          f"{len(device.records)} batches, {len(broken)} broken files")
    assert inside_import >= 8, f"seed {SEED}: only {inside_import} kills inside an import"
