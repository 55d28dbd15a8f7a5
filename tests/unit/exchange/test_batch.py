"""Sealed batches at the coordinator: every way a batch can be wrong ends in quarantine.

The promise under test (docs/batch-format.md, "Verifying and importing"): importing is one
transaction: size limits before parsing, decrypt, strict parse, device enrolled and not
revoked, signature valid, recipient is this coordinator, hashes and counts match, then
upsert. Anything that fails goes to quarantine with a reason; nothing is half-imported. For
every refusal these tests check the same four things, because each is what a coordinator
relies on:

- the stable reason code (what the console and `import --json` show);
- the refused file is kept byte-for-byte in the quarantine folder, listed with its reason
  in `inbox.quarantined()` (evidence, and a way to import it once the cause is fixed);
- nothing was imported: the imported records and the ledger are unchanged;
- no receipt was written (nor an existing one replaced), so the device keeps the records
  and sends them again.

Batches are built through the real field path (`save_final` then `seal_pending`) and
crafted by hand only where an attacker or a broken device would have to (tests/
exchange_helpers.py). The kill -9 test uses tests/exchange_child.py.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fieldscreen.exchange.batch as batch_module
from fieldscreen.cli import main
from fieldscreen.exchange.batch import AGE_MAGIC, MAX_BATCH_BYTES, RefusalCode, batch_file_name
from fieldscreen.exchange.importer import BatchImporter
from fieldscreen.exchange.pack import read_pack
from fieldscreen.exchange.receipt import read_receipt, receipt_file_name, write_receipt
from fieldscreen.exchange.sync import seal_pending, sync
from fieldscreen.exchange.transports import FolderTransport
from fieldscreen.store.crypto import (
    AgeIdentity,
    CryptoError,
    SigningKey,
    age_encrypt,
    b64,
    canonical_json,
    sha256,
)
from fieldscreen.store.profile import ProfileRole, ProfileStore
from fieldscreen.store.records import RecordStatus
from tests.exchange_helpers import (
    MEMBERS,
    PASSPHRASE,
    PROFILE,
    ROOT,
    World,
    age_regions,
    file_sha256,
    flip,
    make_field,
    make_pack,
    make_profile,
    make_world,
    manifest_of,
    open_batch,
    record_dict,
    rewrite,
    save_finals,
    screenings,
    tar_bytes,
    untar,
)


@pytest.fixture
def batch(world) -> bytes:
    """A valid batch of three records, sealed through the field profile's outbox."""
    return world.sealed_batch(3).file


def snapshot(world: World):
    """What an import may change: the imported records, the ledger and the receipts."""
    inbox = world.coordinator.inbox
    receipts = {path.name: _opened_receipt(world, path.read_bytes())
                for path in world.receipts()}
    return inbox.records(), inbox.last_sequences(), receipts


def _opened_receipt(world: World, raw: bytes) -> bytes:
    """A receipt's signed content: sealing with age makes each file's bytes differ."""
    try:
        return world.device_key.open_sealed(raw)
    except CryptoError:
        return raw


def assert_quarantined(world: World, outcome, data: bytes, code: RefusalCode, before):
    """The four promises of a refusal (see the module docstring); returns the entry."""
    assert outcome.status == "quarantined", outcome
    assert outcome.code == code.value, outcome
    entries = [entry for entry in world.coordinator.inbox.quarantined()
               if entry.file_sha256 == file_sha256(data)]
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry.reason_code == code.value
    assert entry.reason and entry.reason == outcome.reason
    stored = Path(entry.stored_as)
    assert stored.parent == world.quarantine_dir
    assert stored.read_bytes() == data
    # Unchanged records, ledger and receipts: in particular no receipt for this batch (a
    # conflicting copy must not overwrite the genuine batch's receipt either).
    assert snapshot(world) == before
    return entry


def import_and_check(world: World, data: bytes, code: RefusalCode):
    before = snapshot(world)
    return assert_quarantined(world, world.import_bytes(data), data, code, before)


# -- the age envelope ---------------------------------------------------------------------


@pytest.mark.parametrize("region", ["header", "body", "tag"])
def test_one_flipped_byte_in_the_age_file_is_undecryptable(world, batch, region):
    # age authenticates its header with an HMAC and every payload chunk with Poly1305:
    # one changed byte anywhere after the magic line makes the file not open at all.
    start, end = age_regions(batch)[region]
    if region == "header":
        start = len(AGE_MAGIC)  # past the magic line, inside the recipient stanzas
    import_and_check(world, flip(batch, (start + end) // 2), RefusalCode.UNDECRYPTABLE)


@pytest.mark.parametrize("keep", ["half", "all_but_one_byte", "header_only"])
def test_truncated_file_is_undecryptable(world, batch, keep):
    # A USB stick pulled out mid-copy leaves a prefix of the file.
    length = {"half": len(batch) // 2, "all_but_one_byte": len(batch) - 1,
              "header_only": age_regions(batch)["header"][1]}[keep]
    import_and_check(world, batch[:length], RefusalCode.UNDECRYPTABLE)


def test_zero_length_file_is_empty(world):
    import_and_check(world, b"", RefusalCode.EMPTY)


@pytest.mark.parametrize("content", [
    pytest.param(random.Random(7).randbytes(4096), id="random-bytes"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), id="png-header"),
    pytest.param(b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", id="armored-age"),
])
def test_wrong_magic_is_not_age(world, content):
    import_and_check(world, content, RefusalCode.NOT_AGE)


def _no_decrypt(self, data):
    pytest.fail("the batch was decrypted before its size was checked")


def test_file_over_the_real_size_limit_is_refused_before_decryption(world, monkeypatch):
    # One byte over 64 MiB, starting like an age file so only the size can refuse it.
    monkeypatch.setattr(AgeIdentity, "decrypt", _no_decrypt)
    data = AGE_MAGIC + bytes(MAX_BATCH_BYTES + 1 - len(AGE_MAGIC))
    import_and_check(world, data, RefusalCode.TOO_LARGE)


def test_valid_batch_over_a_lowered_limit_is_refused_before_decryption(world, batch,
                                                                       monkeypatch):
    # Even a perfectly valid batch is refused unopened when it is over the limit, and the
    # limit is inclusive: a batch of exactly the limit is accepted.
    monkeypatch.setattr(batch_module, "MAX_BATCH_BYTES", len(batch) - 1)
    with monkeypatch.context() as patched:
        patched.setattr(AgeIdentity, "decrypt", _no_decrypt)
        import_and_check(world, batch, RefusalCode.TOO_LARGE)
    monkeypatch.setattr(batch_module, "MAX_BATCH_BYTES", len(batch))
    assert world.import_bytes(batch).status == "imported"


# -- who sent it, and for whom ------------------------------------------------------------


def test_batch_from_an_unknown_device_is_refused(tmp_path):
    world = make_world(tmp_path, enrol=False)
    try:
        data = world.sealed_batch(2).file
        entry = import_and_check(world, data, RefusalCode.UNKNOWN_DEVICE)
        # The fingerprint in the reason lets the coordinator find the laptop to enrol.
        assert world.device_key.public.fingerprint() in entry.reason
        assert entry.batch_id == manifest_of(data, world.identity)["batch_id"]
    finally:
        world.close()


def test_batch_from_a_revoked_device_is_refused(world, batch):
    world.coordinator.devices.revoke(world.device.device_id)
    entry = import_and_check(world, batch, RefusalCode.REVOKED_DEVICE)
    assert entry.device_id == world.device.device_id


def test_batch_sealed_for_another_coordinator_is_undecryptable(world):
    other = AgeIdentity.generate()
    sealed = world.seal_by_hand([record_dict(0)], sequence=1, recipient=other.recipient)
    import_and_check(world, sealed.data, RefusalCode.UNDECRYPTABLE)


def test_batch_signed_for_another_coordinator_and_reencrypted_is_wrong_recipient(world):
    # Sign-then-encrypt: the other coordinator (or whoever holds its identity) opens the
    # batch and re-encrypts the untouched archive to us. Only the signed recipient in the
    # manifest tells us it was never meant for this coordinator.
    other = AgeIdentity.generate()
    sealed = world.seal_by_hand([record_dict(0), record_dict(1)], sequence=1,
                                recipient=other.recipient)
    forwarded = age_encrypt(other.decrypt(sealed.data), world.recipient)
    entry = import_and_check(world, forwarded, RefusalCode.WRONG_RECIPIENT)
    assert entry.device_id == world.device.device_id


# -- what is inside -----------------------------------------------------------------------


@pytest.mark.parametrize("edit", ["created_at", "drop_a_record", "demo", "recipient"])
def test_manifest_altered_after_signing_is_bad_signature(world, batch, edit):
    def alter(manifest):
        if edit == "created_at":
            manifest["created_at"] = "2020-01-01T00:00:00Z"
        elif edit == "drop_a_record":  # hide a record from the coordinator
            manifest["records"].pop()
            manifest["record_count"] -= 1
        elif edit == "demo":  # make real records look like training data, or back
            manifest["demo"] = not manifest["demo"]
        else:
            manifest["recipients"] = [AgeIdentity.generate().recipient]

    lines = (lambda found: found[:-1]) if edit == "drop_a_record" else None
    altered = rewrite(batch, world.identity, world.recipient, manifest=alter, lines=lines)
    import_and_check(world, altered, RefusalCode.BAD_SIGNATURE)


def test_altered_record_line_is_bad_records(world, batch):
    # The manifest and its signature are intact; one record's decision was changed.
    def alter(lines):
        lines[1] = lines[1].replace(b'"final_decision":"', b'"final_decision":"x', 1)
        return lines

    altered = rewrite(batch, world.identity, world.recipient, lines=alter)
    assert altered != batch
    entry = import_and_check(world, altered, RefusalCode.BAD_RECORDS)
    assert entry.device_id == world.device.device_id


@pytest.mark.parametrize("change", ["extra_line", "missing_line"])
def test_records_with_an_extra_or_missing_line_are_bad_records(world, batch, change):
    def alter(lines):
        if change == "missing_line":
            return lines[:-1]
        return [*lines, canonical_json(record_dict(0))]

    import_and_check(world, rewrite(batch, world.identity, world.recipient, lines=alter),
                     RefusalCode.BAD_RECORDS)


@pytest.mark.parametrize("shape", ["extra_member", "extra_symlink", "records_is_symlink",
                                   "members_reordered", "member_missing"])
def test_archive_with_unexpected_entries_is_bad_archive(world, batch, shape):
    members = open_batch(batch, world.identity)
    items = list(members.items())
    symlinks = {}
    if shape == "extra_member":
        items.append(("notes.txt", b"hello"))
    elif shape == "extra_symlink":
        symlinks["link"] = "/etc/passwd"
    elif shape == "records_is_symlink":
        items = items[:2]
        symlinks["records.jsonl"] = "/etc/passwd"
    elif shape == "members_reordered":
        items = [items[2], items[0], items[1]]
    else:
        items = items[:2]
    archive = tar_bytes(items, symlinks=symlinks)
    import_and_check(world, age_encrypt(archive, world.recipient), RefusalCode.BAD_ARCHIVE)


@pytest.mark.parametrize("shape", ["hardlink_to_manifest", "directory"])
def test_archive_with_a_link_or_directory_member_is_bad_archive(world, batch, shape):
    # A hard link named records.jsonl would make tarfile hand back the manifest's bytes.
    members = open_batch(batch, world.identity)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name in MEMBERS[:2]:
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            archive.addfile(info, io.BytesIO(members[name]))
        info = tarfile.TarInfo("records.jsonl")
        if shape == "hardlink_to_manifest":
            info.type, info.linkname = tarfile.LNKTYPE, "manifest.json"
        else:
            info.type = tarfile.DIRTYPE
        archive.addfile(info)
    import_and_check(world, age_encrypt(buffer.getvalue(), world.recipient),
                     RefusalCode.BAD_ARCHIVE)


# -- signed by the device, yet not storable ---------------------------------------------------
#
# A buggy or compromised device can sign anything. Whatever it signs must still end in
# quarantine, not in an exception: `BatchImporter.run` does not catch it, so one such file
# on a relay stops the coordinator from importing every batch after it, and the CLI prints
# "FieldScreen hit a bug". docs/batch-format.md: "Anything that fails goes to quarantine".


def _resigned(world: World, data: bytes, *, manifest=None, line=None) -> bytes:
    """The batch with its manifest (and first record line) edited, signed by the device
    itself, under a fresh batch id so that the ledger sees a new batch."""
    def edit(parsed):
        parsed["batch_id"] = str(uuid.uuid4())
        if line is not None:
            parsed["records"][0]["sha256"] = sha256(line).hex()
        if manifest is not None:
            manifest(parsed)

    lines = (lambda found: [line, *found[1:]]) if line is not None else None
    return rewrite(data, world.identity, world.recipient, manifest=edit, lines=lines,
                   sign_with=world.device_key)


def test_device_sequence_beyond_what_sqlite_stores_is_bad_manifest(world, batch):
    # 2**63 passes the manifest check "integer >= 1" but overflows SQLite's INTEGER, so the
    # ledger lookup raises OverflowError out of import_one instead of refusing the batch.
    def huge(parsed):
        parsed["device_sequence"] = 2**63

    import_and_check(world, _resigned(world, batch, manifest=huge), RefusalCode.BAD_MANIFEST)


def test_record_version_beyond_what_sqlite_stores_is_bad_manifest(world, batch):
    line = json.loads(open_batch(batch, world.identity)["records.jsonl"].splitlines()[0])
    line["version"] = 2**64
    line = canonical_json(line)

    def huge(parsed):
        parsed["records"][0]["version"] = 2**64

    import_and_check(world, _resigned(world, batch, manifest=huge, line=line),
                     RefusalCode.BAD_MANIFEST)


def test_record_with_a_lone_surrogate_is_bad_records(world, batch):
    # "\ud800" is valid JSON but no Unicode text: the line is not the UTF-8 text the format
    # promises, and storing it raises UnicodeEncodeError in the middle of the import.
    first = open_batch(batch, world.identity)["records.jsonl"].splitlines()[0]
    line = first.replace(b'"answers":{', b'"answers":{"worker_note":"\\ud800",', 1)
    assert json.loads(line)["answers"]["worker_note"] == "\ud800"
    import_and_check(world, _resigned(world, batch, line=line), RefusalCode.BAD_RECORDS)


# -- the ledger: replays, conflicts, gaps ---------------------------------------------------


def test_importing_the_same_batch_twice_is_a_duplicate_with_a_fresh_receipt(world, batch):
    first = world.import_bytes(batch)
    assert (first.status, first.records) == ("imported", 3)
    before = snapshot(world)
    [receipt] = world.receipts()
    receipt.unlink()  # the first receipt was lost on the relay

    second = world.import_bytes(batch)

    assert (second.status, second.records, second.duplicates) == ("duplicate", 0, 3)
    assert snapshot(world) == before
    assert world.coordinator.inbox.quarantined() == []
    # The receipt is written again, so the device can still close the batch.
    [again] = world.receipts()
    manifest = manifest_of(batch, world.identity)
    parsed = read_receipt(again.read_bytes(), coordinator=world.pack.signing_key,
                          batch_id=manifest["batch_id"],
                          device_public_key=world.device_key.public.raw,
                          device_key=world.device_key)
    assert sorted(parsed.records) == sorted((r["id"], r["version"])
                                            for r in manifest["records"])


@pytest.mark.parametrize("sequence", [1, 2], ids=["same-sequence", "next-sequence"])
def test_same_batch_id_with_other_content_is_a_conflict_alert(world, batch, monkeypatch,
                                                               sequence):
    assert world.import_bytes(batch).status == "imported"
    before = snapshot(world)
    batch_id = manifest_of(batch, world.identity)["batch_id"]
    # The same device signs a second, different batch under the same id (a compromised
    # device, or someone holding its key): `seal_batch` draws the id from uuid.uuid4.
    with monkeypatch.context() as patched:
        patched.setattr(batch_module.uuid, "uuid4", lambda: uuid.UUID(batch_id))
        other = world.seal_by_hand([record_dict(0)], sequence=sequence)
    assert other.batch_id == batch_id

    entry = assert_quarantined(world, world.import_bytes(other.data), other.data,
                               RefusalCode.CONFLICT, before)

    assert "ALERT" in entry.reason
    assert (entry.batch_id, entry.device_id) == (batch_id, world.device.device_id)


def test_sequence_reused_with_another_batch_id_is_a_conflict(world, batch):
    assert world.import_bytes(batch).status == "imported"
    assert manifest_of(batch, world.identity)["device_sequence"] == 1
    other = world.seal_by_hand([record_dict(2)], sequence=1)
    entry = import_and_check(world, other.data, RefusalCode.CONFLICT)
    assert "ALERT" in entry.reason


def test_sequence_gap_is_imported_with_a_warning_and_filled_later(world):
    # Three syncs' worth of sealing: one batch each, sequences 1, 2, 3.
    sealed = [world.sealed_batch(1) for _n in range(3)]
    assert [b.sequence for b in sealed] == [1, 2, 3]

    first = world.import_bytes(sealed[0].file)
    third = world.import_bytes(sealed[2].file)

    assert (first.status, first.warning) == ("imported", None)
    assert third.status == "imported"
    assert third.warning is not None and "laptop" in third.warning
    assert "2 to 2" in third.warning  # the missing sequence, named
    second = world.import_bytes(sealed[1].file)
    assert (second.status, second.records, second.warning) == ("imported", 1, None)
    assert world.coordinator.inbox.last_sequences() == {world.device.device_id: 3}
    assert len(world.coordinator.inbox.records()) == 3


# -- training and real data never mix ------------------------------------------------------


def test_training_batch_into_a_real_coordinator_is_demo_mismatch(world):
    # A trainer's demo profile, enrolled by mistake with the real coordinator.
    trainee = make_field(world.root / "demo-field" / "data", world.pack_raw,
                         clock=world.clock, pack=world.pack, demo=True)
    try:
        world.coordinator.devices.enroll(trainee.device_key().public.raw, "training laptop")
        save_finals(trainee, 2)
        seal_pending(trainee, world.pack, now=world.clock)
        [sealed] = trainee.outbox.undelivered()
        assert manifest_of(sealed.file, world.identity)["demo"] is True
        import_and_check(world, sealed.file, RefusalCode.DEMO_MISMATCH)
    finally:
        trainee.lock()


def test_real_batch_into_a_training_coordinator_is_refused(world):
    # A real laptop given the training coordinator's pack by mistake.
    trainer = make_profile(world.root / "trainer" / "data", ProfileRole.COORDINATOR,
                           clock=world.clock, demo=True)
    try:
        trainer.devices.enroll(world.device_key.public.raw, "laptop")
        training_pack = read_pack(make_pack(trainer, relay=None, clock=world.clock))
        world.save(2)
        seal_pending(world.field, training_pack, now=world.clock)
        [sealed] = world.field.outbox.undelivered()
        quarantine = world.root / "trainer-quarantine"
        before = trainer.inbox.records()
        outcome = BatchImporter(trainer, quarantine, world.clock).import_one(
            sealed.file, "real.age", FolderTransport(world.relay))
        assert (outcome.status, outcome.code) == ("quarantined", "demo_mismatch")
        [entry] = trainer.inbox.quarantined()
        assert entry.reason_code == "demo_mismatch" and entry.reason == outcome.reason
        assert Path(entry.stored_as).read_bytes() == sealed.file
        assert trainer.inbox.records() == before == []
        assert world.receipts() == []
    finally:
        trainer.lock()


# -- quarantine is not a dead end ------------------------------------------------------------


def test_quarantined_batch_imports_after_its_device_is_enrolled(tmp_path):
    world = make_world(tmp_path, enrol=False)
    try:
        data = world.sealed_batch(2).file
        import_and_check(world, data, RefusalCode.UNKNOWN_DEVICE)
        world.coordinator.devices.enroll(world.device_key.public.raw, "laptop")

        outcome = world.import_bytes(data)

        assert (outcome.status, outcome.records) == ("imported", 2)
        assert len(world.coordinator.inbox.records()) == 2
        assert world.coordinator.inbox.quarantined() == []  # resolved, not deleted:
        [entry] = world.coordinator.inbox.quarantined(include_resolved=True)
        assert entry.reason_code == "unknown_device"
        assert len(world.receipts()) == 1
    finally:
        world.close()


# -- crashes --------------------------------------------------------------------------------


def _on_disk(path: Path) -> tuple[dict[str, int], set[str]]:
    """(ledger: batch id -> sequence, ids of the imported records), read straight from the
    database file after checking its integrity. Plain SQL: decrypting thousands of
    summaries after every kill would only slow the test down."""
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        ledger = dict(connection.execute("SELECT batch_id, sequence FROM batch_ledger"))
        ids = {row[0] for row in connection.execute("SELECT id FROM imported_records")}
    return ledger, ids


@pytest.mark.slow
def test_kill_9_during_import_leaves_each_batch_all_or_nothing(tmp_path):
    """SIGKILL a child importing 300-record batches, 15 times; after each kill every batch
    is wholly imported with its ledger entry or not at all, and importing again completes
    it."""
    world = make_world(tmp_path)
    folder = tmp_path / "batches"
    folder.mkdir()
    answers, outcome = screenings()[0]
    data_dir = world.coordinator_base / "data"
    identity, device_id = world.identity, world.device.device_id
    config = {"data_dir": str(data_dir), "profile": PROFILE, "passphrase": PASSPHRASE,
              "quarantine_dir": str(world.quarantine_dir), "folder": str(folder),
              "device_key": world.device_key.to_bytes().hex(), "recipient": world.recipient,
              "records": 300, "answers": answers, "outcome": outcome}
    world.close()  # while the child runs it is the only writer
    rng = random.Random(20260301)
    import_seconds = 0.15  # refined from what the child reports
    sequence = 1
    interrupted = 0  # kills that landed while an import was running and rolled it back
    manifests: dict[str, dict] = {}  # batch file name -> its manifest
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _round in range(15):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.exchange_child"], cwd=ROOT, env=environment,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # A hung child must not hang the test run.
        watchdog = threading.Timer(60, child.kill)
        watchdog.start()
        try:
            child.stdin.write(json.dumps({**config, "sequence": sequence}) + "\n")
            child.stdin.close()
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
            in_flight = None
            if rng.random() < 0.25:
                # Anywhere: while sealing, writing the file, importing or answering.
                time.sleep(rng.uniform(0, 0.6))
            else:
                # Mostly inside an import: let 0-2 batches finish, then strike during the
                # next import, at a random point of its expected duration.
                let_finish = rng.randrange(3)
                while True:
                    line = child.stdout.readline()
                    assert line, child.stderr.read()
                    kind, batch_id, *rest = line.split()
                    if kind == "imported":
                        import_seconds = 0.7 * import_seconds + 0.3 * float(rest[1])
                        let_finish -= 1
                    elif kind == "importing" and let_finish < 0:
                        in_flight = batch_id
                        break
                time.sleep(rng.uniform(0, 1.2 * import_seconds))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            watchdog.cancel()
            child.stdout.close()
            child.stderr.close()

        # Reopen as the coordinator would after the crash.
        profile = ProfileStore(data_dir).open(PROFILE).unlock(PASSPHRASE)
        try:
            ledger, present = _on_disk(profile.database_path)
            assert profile.verify_audit().holds
            importer = BatchImporter(profile, Path(config["quarantine_dir"]),
                                     world.clock)
            for path in sorted(folder.glob("fieldscreen-batch-*.age")):
                if path.name not in manifests:  # batch files never change once written
                    manifests[path.name] = json.loads(
                        open_batch(path.read_bytes(), identity)["manifest.json"])
                manifest = manifests[path.name]
                ids = {entry["id"] for entry in manifest["records"]}
                sequence = max(sequence, manifest["device_sequence"] + 1)
                if manifest["batch_id"] in ledger:
                    assert ids <= present, "a batch in the ledger lacks records"
                    continue
                assert not ids & present, "records imported without their ledger entry"
                if manifest["batch_id"] == in_flight:
                    interrupted += 1
                redo = importer.import_one(path.read_bytes(), path.name,
                                           FolderTransport(folder))
                assert (redo.status, redo.records) == ("imported", len(ids))
            every_id = {entry["id"] for manifest in manifests.values()
                        for entry in manifest["records"]}
            assert _on_disk(profile.database_path)[1] == every_id
            assert profile.inbox.quarantined() == []
            assert set(profile.inbox.last_sequences()) <= {device_id}
        finally:
            profile.lock()
    # Every record survived the crashes readable (it decrypts), once each.
    profile = ProfileStore(data_dir).open(PROFILE).unlock(PASSPHRASE)
    try:
        assert len(profile.inbox.records()) == 300 * len(manifests)
    finally:
        profile.lock()
    # The test only means something if some kills did interrupt an import.
    assert interrupted >= 1


# -- interoperability -----------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("age") is None, reason="the stock age tool is not installed")
def test_stock_age_tool_opens_a_batch_with_the_exported_identity(world, batch, tmp_path):
    identity_file = tmp_path / "identity.txt"
    identity_file.write_text(f"# public key: {world.recipient}\n{world.identity.secret}\n",
                             encoding="ascii")
    identity_file.chmod(0o600)
    batch_file = tmp_path / "batch.age"
    batch_file.write_bytes(batch)

    opened = subprocess.run(["age", "-d", "-i", str(identity_file), str(batch_file)],
                            capture_output=True, check=True, timeout=30).stdout

    members = untar(opened)
    assert [m.name for m in members] == list(MEMBERS)
    assert all(m.isreg() for m in members)
    with tarfile.open(fileobj=io.BytesIO(opened)) as tar:
        records = tar.extractfile("records.jsonl").read().splitlines()
    assert len(records) == 3
    assert opened == world.identity.decrypt(batch)


# -- receipts, as the field laptop sees them --------------------------------------------------


def _deliver_and_import(world: World):
    """Sync the field laptop to the folder relay; the coordinator imports from it."""
    ids = world.save(2)
    report = sync(world.field, target=str(world.relay), now=world.clock)
    assert (report.delivered_batches, report.receipts) == (1, 0)
    [batch] = world.field.outbox.awaiting_receipt()
    result = world.importer().run([str(world.relay)],
                                  lambda url: pytest.fail(f"no WebDAV here: {url}"))
    assert result.count("imported") == 1
    return ids, batch, world.relay / receipt_file_name(batch.batch_id)


def _statuses(world: World) -> set[RecordStatus]:
    return {summary.status for summary in world.field.records.list()}


def _bad_receipt(kind: str, world: World, batch, genuine: bytes) -> bytes:
    device = world.device_key.public.raw
    if kind == "sealed_to_another_device":  # genuine content, but this device cannot open it
        return SigningKey.generate().public.seal(world.device_key.open_sealed(genuine))
    if kind == "forged":  # signed by a key that is not the pack's coordinator
        return write_receipt(SigningKey.generate(), batch_id=batch.batch_id,
                             device_public_key=device, records=list(batch.records),
                             now=world.clock())
    if kind == "other_batch":  # genuine signature, but it closes another batch
        return write_receipt(world.coordinator.coordinator_signing_key(),
                             batch_id=str(uuid.uuid4()), device_public_key=device,
                             records=list(batch.records), now=world.clock())
    if kind == "other_device":  # genuine, for this batch id but another device
        return write_receipt(world.coordinator.coordinator_signing_key(),
                             batch_id=batch.batch_id,
                             device_public_key=SigningKey.generate().public.raw,
                             records=list(batch.records), now=world.clock())
    # "altered": the content changed, the signature kept, sealed to the device again.
    outer = json.loads(world.device_key.open_sealed(genuine))
    content = json.loads(base64.b64decode(outer["content"]))
    content["imported_at"] = "2030-01-01T00:00:00Z"
    outer["content"] = b64(canonical_json(content))
    return world.device_key.public.seal(canonical_json(outer))


@pytest.mark.parametrize("kind", ["forged", "other_batch", "other_device", "altered",
                                  "sealed_to_another_device"])
def test_untrustworthy_receipt_is_ignored_by_sync(world, kind):
    _ids, batch, receipt = _deliver_and_import(world)
    receipt.write_bytes(_bad_receipt(kind, world, batch, receipt.read_bytes()))

    report = sync(world.field, target=str(world.relay), now=world.clock)

    assert (report.receipts, report.received_records) == (0, 0)
    assert any(batch.batch_id in warning for warning in report.warnings)
    assert _statuses(world) == {RecordStatus.SEALED}
    assert [b.batch_id for b in world.field.outbox.awaiting_receipt()] == [batch.batch_id]


def test_genuine_receipt_marks_the_records_received(world):
    ids, _batch, _receipt = _deliver_and_import(world)

    report = sync(world.field, target=str(world.relay), now=world.clock)

    assert (report.receipts, report.received_records, report.warnings) == (1, 2, [])
    assert {s.id: s.status for s in world.field.records.list()} == {
        record_id: RecordStatus.RECEIVED for record_id in ids}
    assert world.field.outbox.awaiting_receipt() == []


# -- the command line -----------------------------------------------------------------------


def test_cli_import_json_counts_a_good_and_a_bad_batch_and_exits_1(world, tmp_path, capsys):
    # The coordinator profile was made through the API with weak key derivation where
    # `--basedir` looks, so the CLI unlocks it quickly.
    good = world.sealed_batch(3)
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / batch_file_name(good.batch_id)).write_bytes(good.file)
    bad_name = batch_file_name(str(uuid.uuid4()))
    (stick / bad_name).write_bytes(os.urandom(3000))
    passphrase = tmp_path / "pass.txt"
    passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")

    code = main(["--basedir", str(world.coordinator_base), "import", str(stick), "--json",
                 "--passphrase-file", str(passphrase)])

    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["batches"] == {"imported": 1, "duplicate": 0, "quarantined": 1}
    assert out["records"]["imported"] == 3
    assert {Path(d["source"]).name: (d["status"], d["code"]) for d in out["details"]} == {
        batch_file_name(good.batch_id): ("imported", None),
        bad_name: ("quarantined", "not_age")}
    assert len(world.coordinator.inbox.records()) == 3
    assert (stick / receipt_file_name(good.batch_id)).is_file()


# -- fuzzing --------------------------------------------------------------------------------


def test_any_single_byte_flip_of_the_file_is_quarantined(world, batch):
    """A flipped byte anywhere in the age file never imports and never raises: it is
    quarantined, kept byte for byte, as not age (the magic line) or undecryptable."""

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(position=st.integers(0, len(batch) - 1), mask=st.integers(1, 255))
    def check(position, mask):
        data = flip(batch, position, mask)
        before = snapshot(world)
        outcome = world.import_bytes(data)
        assert outcome.code in {"not_age", "undecryptable"}, (position, mask, outcome)
        assert_quarantined(world, outcome, data, RefusalCode(outcome.code), before)

    check()


def test_any_single_byte_flip_inside_the_archive_never_imports_altered_content(world, batch):
    """Flip a byte of the decrypted archive and re-encrypt it to this coordinator (anyone
    can: the recipient is public). It is refused, or, when the byte was padding the
    signature and hashes do not cover, the very records the device signed are imported."""
    archive = world.identity.decrypt(batch)
    signed = {json.loads(line)["id"]: json.loads(line)
              for line in open_batch(batch, world.identity)["records.jsonl"].splitlines()}
    refused = {"bad_archive", "bad_manifest", "bad_signature", "bad_records",
               "unknown_device", "too_large"}

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(position=st.integers(0, len(archive) - 1), mask=st.integers(1, 255))
    def check(position, mask):
        data = age_encrypt(flip(archive, position, mask), world.recipient)
        before = snapshot(world)
        outcome = world.import_bytes(data)
        if outcome.status == "quarantined":
            assert outcome.code in refused, (position, mask, outcome)
            assert_quarantined(world, outcome, data, RefusalCode(outcome.code), before)
        else:
            assert outcome.status in {"imported", "duplicate"}, outcome
        for record in world.coordinator.inbox.records():
            original = signed[record.id]
            assert (record.version, record.form_id, record.form_version, record.created_at) \
                == (original["version"], original["form_id"], original["form_version"],
                    original["created_at"])
            assert world.coordinator.inbox.record_payload(record.id) == {
                "answers": original["answers"], "outcome": original["outcome"]}

    check()
