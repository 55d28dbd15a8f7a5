"""The batch checker: the second process gives the verdicts a check here gives, starts light,
and the importer falls back to checking here whenever that process is not there."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import time

from fieldscreen.exchange.batch import VerifiedBatch
from fieldscreen.exchange.checking import BatchChecker, check_batch
from fieldscreen.i18n import active_language
from fieldscreen.store.crypto import canonical_json
from fieldscreen.store.incoming import IncomingRecord
from tests.exchange_helpers import record_dict, rewrite


def _checker(world) -> BatchChecker:
    devices = {device.public_key: device for device in world.coordinator.devices.list()}
    return BatchChecker(world.identity, world.coordinator.imported_records_key(), devices,
                        world.coordinator.info.demo, active_language())


def _batches(world) -> list[bytes]:
    world.save(3)
    good = world.sealed_batch().file
    # A line changed after signing: its hash no longer matches the signed manifest.
    forged = rewrite(good, world.identity, world.recipient,
                     lines=lambda lines: [*lines[:-1], canonical_json(record_dict(7))])
    garbage = b"age-encryption.org/v1\n" + b"\x00" * 200
    return [good, forged, garbage, b""]


def _verdicts(results) -> list[tuple]:
    """What a result says, comparable across processes (the records as plain tuples,
    without their lines: the second process sends those sealed only)."""
    found = []
    for kind, value in results:
        if kind == "ok":
            verified, _sealed = value
            assert isinstance(verified, VerifiedBatch)
            found.append((kind, verified.batch_id, verified.device.device_id,
                          verified.sequence, verified.manifest_sha256,
                          tuple(tuple(r._replace(line=b"")) for r in verified.records)))
        else:
            found.append((kind, value))
    return found


def test_second_process_gives_the_same_verdicts_as_here(world):
    batches = _batches(world)
    here = [check_batch(data, world.identity, world.coordinator.devices.by_public_key,
                        world.coordinator.info.demo) for data in batches]
    assert [kind for kind, _value in here] == ["ok", "refused", "refused", "refused"]
    checker = _checker(world)
    try:
        assert checker.wait_until_started(timeout=120)
        tickets = [checker.submit(data) for data in batches]
        elsewhere = [checker.result(ticket) for ticket in tickets]
        assert checker.checked_elsewhere == len(batches)
    finally:
        checker.close()
    assert _verdicts(elsewhere) == _verdicts(here)
    # The second process also sealed the good batch's records, with this profile's key and
    # bound to each record's row: the coordinator opens them as if it had sealed them.
    verified, sealed = elsewhere[0][1]
    assert here[0][1][1] is None and len(sealed) == len(verified.records) > 0
    assert all(record.line == b"" for record in verified.records)
    lines = {record.id: record.line for record in here[0][1][0].records}
    world.coordinator.inbox.import_batch(
        verified.device.device_id, verified.batch_id, verified.sequence,
        verified.manifest_sha256, "0" * 64, list(verified.records), sealed)
    stored = {record.id: record for record in world.coordinator.inbox.records()}
    for record in verified.records:
        assert stored[record.id].decision == record.summary["decision"]
        assert world.coordinator.inbox.record_payload(record.id) == {
            key: value for key, value in json.loads(lines[record.id]).items()
            if key in ("answers", "outcome")}


def test_checks_here_when_the_second_process_is_gone(world):
    good = _batches(world)[0]
    checker = _checker(world)
    try:
        assert checker.wait_until_started(timeout=120)
        first = checker.submit(good)
        assert checker.result(first)[0] == "ok"
        assert checker.checked_elsewhere == 1
        checker._process.kill()  # as if it crashed
        checker._process.join()
        deadline = time.monotonic() + 60
        while checker.wait_until_started(timeout=0) and time.monotonic() < deadline:
            time.sleep(0.01)  # until the importer's side has seen it go
        assert not checker.wait_until_started(timeout=0)
        assert checker.result(checker.submit(good))[0] == "ok"  # checked here
        assert checker.checked_elsewhere == 1
    finally:
        checker.close()


def test_import_completes_when_the_checking_process_dies(world, monkeypatch):
    from fieldscreen.exchange import checking

    world.save(2)
    first = [batch.file for batch in world.seal()]
    world.save(2)
    second = [batch.file for batch in world.seal()]
    started: list[BatchChecker] = []
    lost: list[int] = []

    class Dying(BatchChecker):
        def __init__(self, *args):
            super().__init__(*args)
            assert self.wait_until_started(timeout=120)
            started.append(self)

        def result(self, ticket):
            self._process.kill()  # dies, at the latest before answering the last batch
            self._process.join()
            try:
                return super().result(ticket)
            except EOFError:
                lost.append(ticket)
                raise

    monkeypatch.setattr(checking, "BatchChecker", Dying)
    monkeypatch.setattr("fieldscreen.exchange.importer.BatchChecker", Dying)
    outcomes = list(world.importer().import_many(
        (data, f"b{n}.age", None) for n, data in enumerate(first + second)))
    assert started and started[0].checked_elsewhere == len(first + second)
    assert lost  # those batches were checked again in this process
    assert [outcome.status for outcome in outcomes] == ["imported"] * len(first + second)
    assert len(world.coordinator.inbox.records()) == 4


def test_records_cross_processes_as_plain_tuples():
    record = IncomingRecord("id-1", 2, "form", "1", "a", "b", False, {"decision": "urgent"},
                            b"{}")
    assert pickle.loads(pickle.dumps(record)) == record
    assert b"IncomingRecord" in pickle.dumps(record)  # its type survives the trip too


def test_checking_process_loads_neither_sqlite_utils_nor_qt_nor_numpy():
    # What the second process imports at its start; a heavy import here delays every
    # import's first batches (the process starts for each import).
    probe = ("import sys, fieldscreen.exchange.checking; "
             "print(sorted(m for m in ('sqlite_utils', 'numpy', 'PySide6') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=120).stdout.strip()
    assert loaded == "[]"
