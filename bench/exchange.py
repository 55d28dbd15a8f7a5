"""The `exchange` suite: sealing final records into signed age batches, and importing them.

Cases (see bench/README.md for how to read them):

- `seal_pending()` of a field profile holding 10,000 final records: read and decrypt each
  record, build the canonical lines, sign, age-encrypt, commit the outbox (informational,
  records/s); and `seal_batch()` alone on the same number of in-memory records, in batches
  of 500 as the app makes them (the pure format cost);
- importing 100,000 records (200 batches of 500 from an enrolled device) into a fresh
  coordinator profile with `BatchImporter.import_many()`: decrypt, verify, dedupe, insert
  encrypted; target >= 10,000 records/s; measured in turns with
- the raw limit: the same age files opened with `pyrage.decrypt`, the tar parsed and the same
  rows inserted in clear with sqlite-utils `insert_all` (one transaction per batch, the
  profile database's durability settings); target: ours >= 0.5x its records/s;
- ODK's encrypted-submission scheme (RSA-2048-OAEP key wrap per submission, AES-256-CFB
  content) reimplemented here with `cryptography`, decrypting the same 100,000 records;
  target: our whole import >= 10x faster than its decryption alone;
- a cProfile of the import on 20 batches, summarised in the notes;
- writing the shipped checklist's deployment pack with espeak-ng readings of every child
  question and answer in its five languages (issue 21; informational: seconds per pack,
  with the number of readings and the pack's size in the note).

Every database lives in one temporary folder on a real disk (as in the store suite): fsync on
tmpfs costs nothing and would flatter a durable import. `--quick` imports 10,000 records and
seals 2,000; the targets are for the full sizes and are then informational.
"""

from __future__ import annotations

import base64
import contextlib
import cProfile
import datetime as dt
import gc
import hashlib
import io
import json
import os
import pstats
import shutil
import sqlite3
import statistics
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pyrage
import sqlite_utils
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.padding import PKCS7

from bench.core import Result, Target, measure, progress

# The store suite's helpers: the same scratch-folder rule (a real disk, never tmpfs), the same
# realistic records (the test answer sets plus a 200-character note, with their outcomes),
# and the same fast filling of a profile with `save_final` itself.
from bench.store import (
    DURABILITY_PRAGMAS,
    PASSPHRASE,
    SHIPPED_FORM,
    _fill,
    _fixed_clock,
    _fsync_cost,
    _sample_records,
    _scratch_parent,
    _SetClock,
)
from fieldscreen.exchange.batch import RECORDS_PER_BATCH, genesis_hash, record_line, seal_batch
from fieldscreen.exchange.importer import BatchImporter
from fieldscreen.exchange.pack import DeploymentPack, build_pack, read_pack
from fieldscreen.exchange.sync import seal_pending
from fieldscreen.forms.loader import load_form
from fieldscreen.store.crypto import SALT_BYTES, KdfParameters, SigningKey, b64
from fieldscreen.store.incoming import device_id_for
from fieldscreen.store.profile import ProfileRole, ProfileStore, UnlockedProfile
from fieldscreen.store.record_ids import new_record_id

try:  # newer cryptography keeps CFB (ODK's mode, not a modern one) under hazmat.decrepit
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # older cryptography: only under primitives
    from cryptography.hazmat.primitives.ciphers.modes import CFB

SUITE = "exchange"
REPO = Path(__file__).resolve().parent.parent
SERVICES = REPO / "forms" / "services.yaml"

FULL_IMPORT_BATCHES = 200  # x 500 = 100,000 records
QUICK_IMPORT_BATCHES = 20  # x 500 = 10,000
FULL_SEAL_RECORDS = 10_000
QUICK_SEAL_RECORDS = 2_000
PROFILE_BATCHES = 20  # batches imported under cProfile (5 with --quick)
QUICK_PROFILE_BATCHES = 5
# Rounds of (ours, raw limit, a slice of the ODK pass); fewer if the measuring budget runs
# out: a slow machine cuts repeats, never the number of records.
IMPORT_ROUNDS = 3
IMPORT_BUDGET_S = 185.0
SEAL_RUNS = 3
# Free space needed per imported record: the coordinator's rows (~3.7 KB), the WAL, slack.
SPACE_PER_RECORD = 10 * 1024

# The goals: an import of 100k records at >= 10,000 records/s; at least half the rate of
# the cheapest possible import (decrypt, parse, insert in clear); at least 10x faster than
# merely decrypting the same records under ODK's scheme.
IMPORT_RATE_TARGET = 10_000  # records/s
RAW_TARGET = Target("ratio", 2.0)  # our time / raw time <= 2  <=>  our rate >= 0.5x raw
ODK_TARGET = Target("ratio", 0.1)  # our time / ODK time <= 0.1  <=>  >= 10x faster

# ODK's scheme (getodk/collect EncryptionUtils; ODK XForms spec, "Encrypted forms"):
# RSA/NONE/OAEPWithSHA256AndMGF1Padding for the per-submission key (ODK Central's decrypter
# unpads OAEP with SHA-256 and MGF1-SHA-256, which is what this is) and AES/CFB/PKCS5Padding
# (CFB with 128-bit segments over PKCS#7-padded content) for each file.
ODK_RSA_BITS = 2048
ODK_OAEP = asymmetric_padding.OAEP(mgf=asymmetric_padding.MGF1(hashes.SHA256()),
                                   algorithm=hashes.SHA256(), label=None)
ODK_NS = "http://www.opendatakit.org/xforms/encrypted"
OPENROSA_NS = "http://openrosa.org/xforms"
ODK_KEY_TAG = f"{{{ODK_NS}}}base64EncryptedKey"
ODK_INSTANCE_TAG = f"{{{OPENROSA_NS}}}meta/{{{OPENROSA_NS}}}instanceID"
ODK_FILE_TAG = f"{{{ODK_NS}}}encryptedXmlFile"


def _fast_kdf() -> KdfParameters:
    """Tiny but valid Argon2id parameters: profiles are made and unlocked many times here,
    and the KDF is not what this suite measures (the store suite times a calibrated one)."""
    return KdfParameters(b64(os.urandom(SALT_BYTES)), iterations=1, lanes=1, memory_kib=8192)


def run(quick: bool) -> list[Result]:
    """Run every case of the suite.

    Args:
        quick: 10,000 import records and 2,000 sealed records instead of 100,000 and
            10,000; the targets are then informational.

    Returns:
        One result per case, in the order they are printed.
    """
    form = load_form(SHIPPED_FORM)
    samples = list(_sample_records(form).values())
    parent, filesystem = _scratch_parent()
    progress(f"exchange: profiles and databases in {parent} ({filesystem})")
    with tempfile.TemporaryDirectory(prefix="fieldscreen-bench-exchange-", dir=parent) as scratch:
        world = _World.create(Path(scratch), form, samples, FULL_SEAL_RECORDS if not quick
                              else QUICK_SEAL_RECORDS)
        where = (f"files on {filesystem}; a bare 4 KiB write+fsync there takes "
                 f"{_fsync_cost(world.folder) * 1e3:.2f} ms (median)")
        results = _seal_cases(world, quick)
        results += _import_cases(world, quick, where)
    results.append(_readings_case(quick))
    return results


def _readings_case(quick: bool) -> Result:
    from fieldscreen.exchange.speech import find_speech_engine, readings
    from fieldscreen.forms.translations import with_catalog_languages
    from fieldscreen.store.crypto import AgeIdentity

    case = "pack with espeak-ng readings, shipped checklist"
    engine = find_speech_engine()
    if engine is None:
        return Result(SUITE, case, skipped="espeak-ng is not installed (apt-get install "
                                           "espeak-ng)")
    key, recipient = SigningKey.generate(), AgeIdentity.generate().recipient
    sizes: list[int] = []

    def write() -> None:
        sizes.append(len(build_pack(
            signing_key=key, recipient=recipient, coordinator_name="Bench coordinator",
            form_paths=[SHIPPED_FORM], services_path=SERVICES, sync=None, retention_days=30,
            demo=False, now=dt.datetime.now(dt.UTC), speech=engine)))

    form = with_catalog_languages(load_form(SHIPPED_FORM))
    count = sum(1 for _reading in readings(form, ()))
    progress(f"exchange: a pack with {count} espeak-ng readings")
    samples = measure(write, runs=1 if quick else 3, warmup=0, budget_s=120)
    return Result(SUITE, case, samples, note=(
        f"{count} readings in {len(form.languages)} languages "
        f"({', '.join(form.languages)}); pack {sizes[-1] / 2**20:.1f} MiB"))


# -- the world: a coordinator (kept as an empty template) and an enrolled field laptop -------


class _World:
    """A coordinator that made a deployment pack, and a field profile created from it.

    Both are locked after set-up and copied (the whole profile folder) for each measured
    run, so every run starts from the same fresh profile without paying for its creation.
    """

    def __init__(self, folder: Path, form: Any, samples: list[tuple[dict[str, Any],
                 dict[str, Any]]], clock: _SetClock, pack: DeploymentPack,
                 identity_secret: str, device_id: str, device_key: SigningKey,
                 seal_records: int, fill_s: float) -> None:
        self.folder = folder
        self.form = form
        self.samples = samples
        self.clock = clock
        self.pack = pack
        self.identity_secret = identity_secret
        self.device_id = device_id
        self.device_key = device_key
        self.seal_records = seal_records
        self.fill_s = fill_s
        self._copies = 0

    @classmethod
    def create(cls, folder: Path, form: Any,
               samples: list[tuple[dict[str, Any], dict[str, Any]]],
               seal_records: int) -> _World:
        clock = _SetClock(_fixed_clock())
        coordinator = ProfileStore(folder / "coordinator", clock=clock, kdf=_fast_kdf()).create(
            "coord", ProfileRole.COORDINATOR, PASSPHRASE)
        identity = coordinator.coordinator_identity()
        pack_raw = build_pack(
            signing_key=coordinator.coordinator_signing_key(), recipient=identity.recipient,
            coordinator_name="Bench coordinator", form_paths=[SHIPPED_FORM],
            services_path=SERVICES, sync=None, retention_days=30, demo=False, now=clock())
        pack = read_pack(pack_raw)
        # The field profile as `profile create --pack` makes it.
        field = ProfileStore(folder / "field", clock=clock, kdf=_fast_kdf()).create(
            "field", ProfileRole.FIELD, PASSPHRASE, recovery_recipient=pack.recipient)
        field.install_pack(pack_raw, pack.recipient)
        device = coordinator.devices.enroll(field.device_key().public.raw, "bench laptop")
        progress(f"exchange: writing {seal_records:,} final records to the field profile "
                 "(set-up, not measured)")
        started = time.perf_counter()
        _fill(field, clock, form.id, form.version, samples, seal_records)
        fill_s = time.perf_counter() - started
        world = cls(folder, form, samples, clock, pack, identity.secret, device.device_id,
                    field.device_key(), seal_records, fill_s)
        coordinator.lock()
        field.lock()
        return world

    def _copy(self, template: str, name: str) -> tuple[Path, UnlockedProfile]:
        """A fresh copy of the locked template profile, unlocked (fast KDF: ~10 ms)."""
        self._copies += 1
        data_dir = self.folder / f"run-{self._copies}"
        shutil.copytree(self.folder / template, data_dir)
        profile = ProfileStore(data_dir, clock=self.clock).open(name).unlock(PASSPHRASE)
        return data_dir, profile

    def fresh_coordinator(self) -> tuple[Path, UnlockedProfile]:
        return self._copy("coordinator", "coord")

    def fresh_field(self) -> tuple[Path, UnlockedProfile]:
        return self._copy("field", "field")

    def record(self, index: int, stamp: str, random_ids: bool = False) -> dict[str, Any]:
        """One record as a batch carries it (the keys of a records.jsonl line).

        Its id is what laptops write for a new record (time-ordered, from its creation time),
        or with `random_ids` a version 4 UUID, as records made before version 7 ids carry.
        """
        answers, outcome = self.samples[index % len(self.samples)]
        record_id = (str(uuid.uuid4()) if random_ids else
                     new_record_id(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))))
        return {"id": record_id, "version": 1, "form_id": self.form.id,
                "form_version": self.form.version, "created_at": stamp, "updated_at": stamp,
                "demo": False, "answers": answers, "outcome": outcome}


def _discard(data_dir: Path, profile: UnlockedProfile | None = None) -> None:
    if profile is not None:
        profile.lock()
    shutil.rmtree(data_dir)


def _rate(count: int, samples_ns: list[int]) -> str:
    return f"{count / (statistics.median(samples_ns) / 1e9):,.0f} records/s"


def _label(count: int) -> str:
    return f"{count // 1000}k"


# -- sealing ---------------------------------------------------------------------------------


def _seal_cases(world: _World, quick: bool) -> list[Result]:
    count = world.seal_records
    label = _label(count)
    expected_batches = -(-count // RECORDS_PER_BATCH)

    progress(f"exchange: seal_pending of {count:,} records, {SEAL_RUNS} runs on fresh copies")
    seal_samples: list[int] = []
    outbox_bytes = 0
    for _ in range(SEAL_RUNS):
        data_dir, field = world.fresh_field()
        gc.collect()
        start = time.perf_counter_ns()
        sealed = seal_pending(field, world.pack, now=world.clock)
        elapsed = time.perf_counter_ns() - start
        assert sealed == (expected_batches, count), sealed
        outbox_bytes = sum(len(batch.file) for batch in field.outbox.undelivered())
        _discard(data_dir, field)
        seal_samples.append(elapsed)

    progress(f"exchange: seal_batch of {count:,} in-memory records, in batches of "
             f"{RECORDS_PER_BATCH}")
    stamp = world.clock().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    records = [world.record(index, stamp) for index in range(count)]
    chunks = [records[i:i + RECORDS_PER_BATCH] for i in range(0, count, RECORDS_PER_BATCH)]

    def seal_all() -> None:
        previous = genesis_hash()
        for sequence, chunk in enumerate(chunks, start=1):
            sealed = seal_batch(chunk, device_key=world.device_key,
                                recipient=world.pack.recipient, sequence=sequence,
                                previous_manifest_sha256=previous, audit_head=(0, genesis_hash()),
                                demo=False, now=world.clock())
            previous = sealed.manifest_sha256

    format_samples = measure(seal_all, runs=3, warmup=1, budget_s=20)
    line_bytes = statistics.mean(len(record_line(record)) for record in records[:100])
    quick_note = f"; --quick: {count:,} records instead of 10,000" if quick else ""
    return [
        Result(SUITE, f"seal_pending {label} records", seal_samples,
               note=f"informational: {_rate(count, seal_samples)}; one sample = "
                    f"seal_pending(field, pack, now=...) on a fresh copy of a field profile "
                    f"holding {count:,} final records: list, get() each (SELECT + AES-GCM + "
                    f"JSON), canonical lines, Ed25519 signature, age encryption, and per batch "
                    f"one outbox transaction (UPDATE + INSERT + audit entry per record) with "
                    f"its fsync; {expected_batches} batches, {outbox_bytes / 2**20:.1f} MiB of "
                    f"age files; set-up (not measured): the records written by save_final in "
                    f"{world.fill_s:.1f} s; no warm-up run (a run is seconds long){quick_note}"),
        Result(SUITE, f"seal_batch {label} records, in memory", format_samples,
               note=f"informational: {_rate(count, format_samples)}; the format alone: "
                    f"seal_batch() of {len(chunks)} x {RECORDS_PER_BATCH} record dicts "
                    f"(canonical JSON lines of ~{line_bytes:,.0f} bytes, SHA-256 each, "
                    "manifest, Ed25519 signature, tar, age encryption), chained sequences; "
                    f"no database{quick_note}"),
    ]


# -- importing: ours, the raw limit, ODK -----------------------------------------------------


def _make_batches(world: _World, batches: int, random_ids: bool = False
                  ) -> tuple[list[bytes], list[bytes]]:
    """`batches` age files of 500 records sealed by the enrolled device (chained sequences),
    and every record's canonical line in the same order (what the ODK case encrypts)."""
    start = world.clock() - dt.timedelta(minutes=10 * batches * RECORDS_PER_BATCH)
    files: list[bytes] = []
    lines: list[bytes] = []
    previous = genesis_hash()
    for sequence in range(1, batches + 1):
        chunk = []
        for offset in range(RECORDS_PER_BATCH):
            index = (sequence - 1) * RECORDS_PER_BATCH + offset
            stamp = (start + dt.timedelta(minutes=10 * index)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            chunk.append(world.record(index, stamp, random_ids))
        sealed = seal_batch(chunk, device_key=world.device_key, recipient=world.pack.recipient,
                            sequence=sequence, previous_manifest_sha256=previous,
                            audit_head=(0, genesis_hash()), demo=False, now=world.clock())
        previous = sealed.manifest_sha256
        files.append(sealed.data)
        lines.extend(record_line(record) for record in chunk)
    return files, lines


def _cpu_with_children() -> int:
    """CPU time (ns) of this process and of its children that have ended."""
    times = os.times()
    return int((times.user + times.system + times.children_user + times.children_system)
               * 1e9)


def _import_ours(world: _World, files: list[bytes]) -> tuple[int, int, int]:
    """One measured import into a fresh coordinator: (wall ns, CPU ns, records imported)."""
    data_dir, coordinator = world.fresh_coordinator()
    importer = BatchImporter(coordinator, data_dir / "quarantine", world.clock)
    gc.collect()
    start, cpu = time.perf_counter_ns(), _cpu_with_children()
    # import_many, as `fieldscreen import` does: the next batch is checked (and its records
    # sealed) in a second process while the current one is written (the process start is
    # measured too, and so is its CPU time: it has ended when import_many returns).
    outcomes = list(importer.import_many(
        (data, f"batch-{index}.age", None) for index, data in enumerate(files)))
    elapsed, cpu = time.perf_counter_ns() - start, _cpu_with_children() - cpu
    # Imported, and without a warning: the sequences and manifest hashes chain correctly.
    assert all(outcome.status == "imported" and outcome.warning is None
               for outcome in outcomes), [o for o in outcomes if o.warning][:1] or outcomes[:1]
    imported = sum(outcome.records for outcome in outcomes)
    assert coordinator.inbox.last_sequences() == {world.device_id: len(files)}
    _discard(data_dir, coordinator)
    return elapsed, cpu, imported


def _raw_schema(world: _World) -> str:
    """The coordinator's `imported_records` DDL, read back from the profile file, so the
    raw database has exactly the app's table (primary key included) as the schema changes."""
    path = world.folder / "coordinator" / "profiles" / "coord" / "profile.db"
    with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as reader:
        row = reader.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND "
                             "name = 'imported_records'").fetchone()
    assert row is not None, "no imported_records table in a coordinator profile"
    return row[0]


def _import_raw(world: _World, files: list[bytes], schema: str) -> tuple[int, int, int]:
    """The raw limit into a fresh plain database: (wall ns, CPU ns, rows inserted).

    Per batch: `pyrage.decrypt`, parse the tar and the manifest (for the batch id and the
    device), `json.loads` each line and build the same row the app stores, with summary and
    payload as the same JSON text in clear, then `insert_all` in one durable transaction.
    No signature, hash, schema or ledger check, no dedupe, no encryption, no audit entry.
    """
    identity = pyrage.x25519.Identity.from_str(world.identity_secret)
    data_dir = world.folder / f"raw-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir()
    connection = sqlite3.connect(data_dir / "raw.db", isolation_level=None)
    for pragma in DURABILITY_PRAGMAS:
        connection.execute(pragma)
    connection.execute(schema)
    table = sqlite_utils.Database(connection).table("imported_records")
    imported_at = world.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
    gc.collect()
    start, cpu = time.perf_counter_ns(), time.process_time_ns()
    for data in files:
        archive = pyrage.decrypt(data, [identity])
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            members = {info.name: tar.extractfile(info).read()  # type: ignore[union-attr]
                       for info in tar}
        manifest = json.loads(members["manifest.json"])
        device_id = device_id_for(base64.b64decode(manifest["device_public_key"]))
        batch_id = manifest["batch_id"]
        rows = []
        for line in members["records.jsonl"].split(b"\n")[:-1]:
            record = json.loads(line)
            outcome = record["outcome"]
            summary = {"decision": outcome.get("final_decision", outcome.get("decision")),
                       "follow_up": bool(outcome.get("follow_up"))}
            rows.append({
                "id": record["id"], "version": record["version"], "device_id": device_id,
                "batch_id": batch_id, "form_id": record["form_id"],
                "form_version": record["form_version"], "created_at": record["created_at"],
                "updated_at": record["updated_at"], "imported_at": imported_at,
                "demo": int(record["demo"]), "summary": json.dumps(summary),
                "payload": json.dumps({"answers": record["answers"], "outcome": outcome},
                                      ensure_ascii=False),
            })
        connection.execute("BEGIN IMMEDIATE")
        # Inside our transaction sqlite-utils uses a SAVEPOINT: our COMMIT is the only one,
        # so each batch is exactly one durable transaction, as in the app.
        table.insert_all(rows)
        connection.execute("COMMIT")
    elapsed, cpu = time.perf_counter_ns() - start, time.process_time_ns() - cpu
    assert not connection.in_transaction
    inserted = connection.execute("SELECT COUNT(*) FROM imported_records").fetchone()[0]
    connection.close()
    shutil.rmtree(data_dir)
    return elapsed, cpu, inserted


def _odk_iv(instance_id: str, key: bytes, file_index: int) -> bytes:
    """ODK's IV for the file at `file_index` of a submission (media first, submission.xml
    last): MD5(instanceID UTF-8 || key) as the seed, then byte (i mod 16) incremented for
    each file i up to this one (EncryptedFormInformation.getCipher, cumulative)."""
    seed = bytearray(hashlib.md5(instance_id.encode("utf-8") + key).digest())
    for index in range(file_index + 1):
        seed[index % 16] = (seed[index % 16] + 1) & 0xFF
    return bytes(seed)


def _odk_encrypt(line: bytes, form: Any, public_key: rsa.RSAPublicKey) -> tuple[bytes, bytes]:
    """One submission as ODK Collect finalises an encrypted form: (submission.xml manifest,
    submission.xml.enc). The content is our record line instead of the instance XML, so both
    sides parse the same bytes (see the notes)."""
    instance_id = f"uuid:{uuid.uuid4()}"
    key = os.urandom(32)  # a fresh AES-256 key per submission
    encrypted_key = b64(public_key.encrypt(key, ODK_OAEP))
    padder = PKCS7(128).padder()
    padded = padder.update(line) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), CFB(_odk_iv(instance_id, key, 0))).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    # The element signature: MD5 over formId, version, the wrapped key, instanceID and
    # "file::md5(plain file)" lines, RSA-OAEP-encrypted with the same public key.
    source = (f"{form.id}\n{form.version}\n{encrypted_key}\n{instance_id}\n"
              f"submission.xml::{hashlib.md5(line).hexdigest()}\n")
    signature = b64(public_key.encrypt(hashlib.md5(source.encode()).digest(),
                                       ODK_OAEP))
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<data xmlns="{ODK_NS}" encrypted="yes" id="{form.id}" version="{form.version}">'
        f"<base64EncryptedKey>{encrypted_key}</base64EncryptedKey>"
        f'<meta xmlns="{OPENROSA_NS}"><instanceID>{instance_id}</instanceID></meta>'
        "<encryptedXmlFile>submission.xml.enc</encryptedXmlFile>"
        f"<base64EncryptedElementSignature>{signature}</base64EncryptedElementSignature>"
        "</data>"
    ).encode()
    return manifest, ciphertext


def _odk_decrypt(submissions: list[tuple[bytes, bytes]],
                 private_key: rsa.RSAPrivateKey) -> tuple[int, int, list[str]]:
    """Decrypt every submission as a coordinator would: (wall ns, CPU ns, record ids).

    Per submission: parse the manifest XML, RSA-OAEP-unwrap its AES key (one RSA-2048
    private-key operation), derive the IV, AES-256-CFB-decrypt and unpad the content, and
    parse it. The element signature is not checked (that would be a second RSA private-key
    operation per submission), nothing is stored.
    """
    ids: list[str] = []
    unwrap = private_key.decrypt
    gc.collect()
    start, cpu = time.perf_counter_ns(), time.process_time_ns()
    for manifest, ciphertext in submissions:
        root = ElementTree.fromstring(manifest)
        instance_id = root.findtext(ODK_INSTANCE_TAG)
        assert instance_id is not None and root.findtext(ODK_FILE_TAG) == "submission.xml.enc"
        key = unwrap(base64.b64decode(root.findtext(ODK_KEY_TAG) or ""), ODK_OAEP)
        decryptor = Cipher(algorithms.AES(key),
                           CFB(_odk_iv(instance_id, key, 0))).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = PKCS7(128).unpadder()
        record = json.loads(unpadder.update(padded) + unpadder.finalize())
        ids.append(record["id"])
    return time.perf_counter_ns() - start, time.process_time_ns() - cpu, ids


def _import_cases(world: _World, quick: bool, where: str) -> list[Result]:
    batches = QUICK_IMPORT_BATCHES if quick else FULL_IMPORT_BATCHES
    count = batches * RECORDS_PER_BATCH
    label = _label(count)
    ours_case = f"import {label} records ({batches} x {RECORDS_PER_BATCH})"
    raw_vs_case = f"import {label} (vs raw limit)"
    odk_vs_case = f"import {label} (vs ODK decrypt)"
    raw_case = f"raw limit {label}: age+tar+insert_all"
    odk_case = f"ODK scheme decrypt {label}"
    profile_batches = QUICK_PROFILE_BATCHES if quick else PROFILE_BATCHES
    profile_case = f"import {profile_batches} x {RECORDS_PER_BATCH} under cProfile"
    rate_target = None if quick else Target("median", count / IMPORT_RATE_TARGET * 1000)

    free = shutil.disk_usage(world.folder).free
    if free < count * SPACE_PER_RECORD:
        message = (f"{free / 2**30:.1f} GiB free in {world.folder.parent}, about "
                   f"{count * SPACE_PER_RECORD / 2**30:.1f} GiB needed to import {count:,} "
                   "records")
        progress(f"exchange: {message}")
        return [Result(SUITE, name, skipped=message) for name in
                (ours_case, raw_vs_case, odk_vs_case, raw_case, odk_case, profile_case)]

    progress(f"exchange: sealing {batches} batches of {RECORDS_PER_BATCH} (set-up, not "
             "measured)")
    started = time.perf_counter()
    files, lines = _make_batches(world, batches)
    make_s = time.perf_counter() - started
    expected_ids = [json.loads(line)["id"] for line in lines]
    file_mib = sum(len(data) for data in files) / 2**20

    progress(f"exchange: encrypting the same {count:,} records with ODK's scheme (set-up)")
    started = time.perf_counter()
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=ODK_RSA_BITS)
    public_key = private_key.public_key()
    submissions = [_odk_encrypt(line, world.form, public_key) for line in lines]
    odk_make_s = time.perf_counter() - started
    odk_mib = sum(len(manifest) + len(enc) for manifest, enc in submissions) / 2**20
    del lines

    schema = _raw_schema(world)
    # Warm-up (not recorded): a couple of batches each way, so module imports, compiled
    # regular expressions and the first file creations are not charged to round one.
    _import_ours(world, files[:2])
    _import_raw(world, files[:2], schema)
    _odk_decrypt(submissions[:50], private_key)

    # The ODK pass over all the records is long (an RSA-2048 private-key operation each), so
    # it is measured once, in slices: one slice per round, after ours and the raw limit, so
    # a busy neighbour or a slow disk moment falls on all three alike; its sample is the sum.
    slice_size = -(-len(submissions) // IMPORT_ROUNDS)
    slices = [submissions[i:i + slice_size] for i in range(0, len(submissions), slice_size)]
    del submissions
    ours: list[int] = []
    raw: list[int] = []
    # CPU time of this process alongside: on a shared machine it shows the work itself,
    # apart from waiting for other processes (and for the disk, which CPU time leaves out).
    ours_cpu: list[int] = []
    raw_cpu: list[int] = []
    odk_ns = odk_cpu = 0
    odk_ids: list[str] = []
    budget_start = time.perf_counter()
    for round_index in range(IMPORT_ROUNDS):
        progress(f"exchange: round {round_index + 1}/{IMPORT_ROUNDS}: import {count:,} "
                 f"(ours), the raw limit, then ODK decryption of {len(slices[0]):,}")
        elapsed, cpu, imported = _import_ours(world, files)
        assert imported == count, imported
        ours.append(elapsed)
        ours_cpu.append(cpu)
        elapsed, cpu, inserted = _import_raw(world, files, schema)
        assert inserted == count, inserted
        raw.append(elapsed)
        raw_cpu.append(cpu)
        elapsed, cpu, ids = _odk_decrypt(slices.pop(0), private_key)
        odk_ns += elapsed
        odk_cpu += cpu
        odk_ids += ids
        rounds_done = round_index + 1
        if rounds_done < IMPORT_ROUNDS:
            # Another round adds one (ours, raw) pair; the ODK slices left run either way.
            spent = time.perf_counter() - budget_start
            pair = (sum(ours) + sum(raw)) / 1e9 / rounds_done
            odk_left = odk_ns / 1e9 / rounds_done * len(slices)
            if spent + pair + odk_left > IMPORT_BUDGET_S:
                # Cut repeats, never the size.
                progress(f"exchange: {spent:.0f} s spent importing; stopping after "
                         f"{rounds_done} round(s) (fewer repeats, same size)")
                break
    for rest in slices:
        elapsed, cpu, ids = _odk_decrypt(rest, private_key)
        odk_ns += elapsed
        odk_cpu += cpu
        odk_ids += ids
    assert odk_ids == expected_ids, "the ODK decryption did not give back the same records"
    odk = [odk_ns]
    del slices, odk_ids

    progress(f"exchange: cProfile of importing {profile_batches} batches")
    profile_result = _profile_import(world, files[:profile_batches], profile_case)
    wal_result = _wal_case(world, files, batches)

    quick_note = (f"; --quick: {count:,} records, so the targets (for 100k) are not judged"
                  if quick else "")
    rounds = (f"{len(ours)} round(s) in turns (ours, raw limit, an ODK slice), each on a fresh "
              "profile/database")
    cpu_ours, cpu_raw = statistics.median(ours_cpu), statistics.median(raw_cpu)

    def cpu(seconds_ns: float, both: bool = False) -> str:
        whose = "both processes" if both else "this process"
        return f"CPU time of {whose} {seconds_ns / 1e9:.1f} s"
    return [
        Result(SUITE, ours_case, ours, target=rate_target,
               note=f"{_rate(count, ours)} (target >= {IMPORT_RATE_TARGET:,}/s, i.e. median "
                    f"<= {count / IMPORT_RATE_TARGET:g} s); one sample = "
                    f"BatchImporter.import_many() (each next batch checked, and its records "
                    "sealed, in a second process, as `fieldscreen import` does) of "
                    f"{batches} age files "
                    f"({file_mib:.0f} MiB) into a fresh coordinator profile: age decrypt, tar, "
                    "manifest, enrolment, Ed25519 signature, SHA-256 and schema of every line, "
                    "ledger check, then per batch one transaction (SELECT + 2x AES-GCM + "
                    "INSERT per record, ledger entry, audit entry) with its fsync; "
                    f"{cpu(cpu_ours, both=True)} (median); {rounds}, after a warm-up; {where}; "
                    "set-up "
                    "(not measured): the batches sealed by the enrolled device's key in "
                    f"{make_s:.1f} s{quick_note}"),
        Result(SUITE, raw_vs_case, ours, baseline=raw_case,
               target=None if quick else RAW_TARGET,
               note=f"the same samples as '{ours_case}'; ratio <= 2 means at least half the "
                    f"raw limit's records/s; the ratio of CPU times (ours in both processes) is "
                    f"{cpu_ours / cpu_raw:.2f}"),
        Result(SUITE, odk_vs_case, ours, baseline=odk_case,
               target=None if quick else ODK_TARGET,
               note=f"the same samples as '{ours_case}'; ratio <= 0.1 means our whole import "
                    "is at least 10x faster than ODK's decryption alone; the ratio of CPU "
                    f"times (ours in both processes) is {cpu_ours / odk_cpu:.2f}"),
        Result(SUITE, raw_case, raw,
               note=f"{_rate(count, raw)}; the same {batches} files: pyrage.decrypt, tarfile, "
                    "manifest JSON, json.loads per line, the app's row (same columns, summary "
                    "and payload as the same JSON text, in clear), sqlite-utils insert_all "
                    "in one BEGIN IMMEDIATE ... COMMIT per batch; the app's imported_records "
                    "table (read back from a coordinator profile) and pragmas (WAL, "
                    "synchronous=FULL); no verification, dedupe, encryption, ledger or audit; "
                    f"{cpu(cpu_raw)} (median)"),
        Result(SUITE, odk_case, odk,
               note=f"{_rate(count, odk)}; one pass over the {count:,} records (an RSA-2048 "
                    "private-key operation each makes it long), timed in slices, one per round "
                    f"right after ours and the raw limit, summed; {cpu(odk_cpu)}. "
                    "Reimplemented from ODK Collect's EncryptionUtils: per submission a random "
                    "AES-256 key wrapped with "
                    "RSA-2048 OAEP (SHA-256, MGF1-SHA-256, as ODK Central unpads it), content "
                    "AES-256-CFB128 over PKCS#7 padding (Java's AES/CFB/PKCS5Padding), IV = "
                    "MD5(instanceID || key) with byte i mod 16 incremented for file i, a "
                    "submission.xml manifest (wrapped key, instanceID, encryptedXmlFile, "
                    "element signature). One sample = parse each manifest (ElementTree), "
                    "unwrap, AES-CFB decrypt + unpad, json.loads. Approximations: the "
                    "encrypted content is our record line (JSON) instead of the instance XML, "
                    "so parsing costs the same on both sides; no media files; all in memory "
                    "(no files, no database); the element signature is not checked (a second "
                    "RSA private-key operation if a decrypter does, as Briefcase does), so "
                    f"this flatters ODK; {odk_mib:.0f} MiB, encrypted in {odk_make_s:.1f} s "
                    "(set-up, not measured)"),
        profile_result,
        wal_result,
    ]


# -- where the import's time goes ------------------------------------------------------------


def _wal_pages_per_batch(world: _World, files: list[bytes]) -> list[int]:
    """The pages each batch's transaction wrote to the WAL, importing `files` in order.

    Every write is checkpointed when it commits, and the WAL restarts at the next write, so
    right after a batch the WAL holds exactly that batch's frames: a PASSIVE checkpoint
    reports their count without changing anything.
    """
    data_dir, coordinator = world.fresh_coordinator()
    importer = BatchImporter(coordinator, data_dir / "quarantine", world.clock)
    pages: list[int] = []
    try:
        connection = coordinator._database.connection
        for index, data in enumerate(files):
            outcome = importer.import_one(data, f"batch-{index}.age", None)
            assert outcome.status == "imported", outcome
            pages.append(connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        _discard(data_dir, coordinator)
    return pages


def _wal_case(world: _World, files: list[bytes], batches: int) -> Result:
    """WAL pages per batch with time-ordered ids (ours) and with random ids (before)."""
    progress(f"exchange: WAL pages per batch over {batches} batches, version 7 and 4 ids")
    start = time.perf_counter_ns()
    ordered = _wal_pages_per_batch(world, files)
    elapsed = time.perf_counter_ns() - start
    random_files, _lines = _make_batches(world, batches, random_ids=True)
    random = _wal_pages_per_batch(world, random_files)

    def shape(pages: list[int]) -> str:
        tenth = max(1, len(pages) // 10)
        return (f"first {tenth}: {statistics.mean(pages[:tenth]):.0f}, last {tenth}: "
                f"{statistics.mean(pages[-tenth:]):.0f}, mean {statistics.mean(pages):.0f}")
    ratio = statistics.mean(ordered) / statistics.mean(random)
    return Result(SUITE, f"WAL pages per batch ({batches} x {RECORDS_PER_BATCH})",
                  [elapsed], note=("informational (the time is one import_one pass with "
                                   "version 7 ids): time-ordered (version 7) ids "
                                   f"{shape(ordered)}; "
                             f"random (version 4) ids {shape(random)}; ratio of means "
                             f"{ratio:.2f} (pages each batch's transaction wrote, read with "
                             "PRAGMA wal_checkpoint(PASSIVE) right after it)"))


def _profile_import(world: _World, files: list[bytes], case: str) -> Result:
    """Import `files` once under cProfile and summarise it: phases, then top own time."""
    data_dir, coordinator = world.fresh_coordinator()
    importer = BatchImporter(coordinator, data_dir / "quarantine", world.clock)
    profiler = cProfile.Profile()
    gc.collect()
    start = time.perf_counter_ns()
    profiler.enable()
    for index, data in enumerate(files):
        importer.import_one(data, f"batch-{index}.age", None)
    profiler.disable()
    elapsed = time.perf_counter_ns() - start
    _discard(data_dir, coordinator)
    stats = pstats.Stats(profiler)
    count = len(files) * RECORDS_PER_BATCH
    return Result(SUITE, case, [elapsed],
                  note=f"informational ({count:,} records, imported one batch after the "
                       "other in this process with import_one, so that cProfile sees the "
                       "checks and the storing alike; cProfile slows Python calls, so read "
                       f"the shares, not the time): {_summarise(stats)}")


def _short(key: tuple[str, int, str]) -> str:
    """A readable name for a profiled function: `json/decoder.py:raw_decode`, `sqlite3
    execute`..."""
    filename, _line, name = key
    if filename == "~":
        name = name.strip("<>").replace("built-in method ", "")
        return name.replace("method ", "").replace(" objects", "")
    path = Path(filename)
    return f"{path.parent.name}/{path.name}:{name}"


def _summarise(stats: pstats.Stats) -> str:
    """Phases (cumulative time of the import's steps) and the top functions by own time."""
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in table.values())

    def find(file_end: str, name: str) -> tuple[str, int, str] | None:
        for key in table:
            if key[0].replace(os.sep, "/").endswith(file_end) and key[2] == name:
                return key
        return None

    def cumulative(file_end: str, name: str) -> float:
        key = find(file_end, name)
        return table[key][3] if key else 0.0

    def called_from(callee: tuple[str, int, str] | None, caller_end: str,
                    caller_name: str) -> float:
        caller = find(caller_end, caller_name)
        if callee is None or caller is None:
            return 0.0
        entry = table[callee][4].get(caller)
        return entry[3] if entry else 0.0

    def builtin(fragment: str) -> tuple[str, int, str] | None:
        for key in table:
            if key[0] == "~" and fragment in key[2]:
                return key
        return None

    def pct(seconds: float) -> str:
        return f"{100 * seconds / total:.0f}%"

    batch_py = "exchange/batch.py"
    inbox_py = "store/inbox.py"
    loads = builtin("orjson.loads")
    line_hash = builtin("openssl_sha256")
    summaries = find("store/incoming.py", "summary_from_outcome")
    seal = find("store/incoming.py", "seal_incoming")
    cases = find("store/follow_up.py", "open_cases")
    execute = builtin("method 'execute' of 'sqlite3.Connection'")
    execute_many = builtin("method 'executemany' of 'sqlite3.Connection'")
    verify = cumulative(batch_py, "verify_batch")
    import_batch = cumulative(inbox_py, "import_batch")
    statements = sum(table[key][3] for key in (execute, execute_many) if key)
    phases = [
        f"verify_batch {pct(verify)} (age decrypt "
        f"{pct(cumulative('store/crypto.py', 'decrypt'))}, tar "
        f"{pct(cumulative(batch_py, '_unpack'))}, manifest "
        f"{pct(cumulative(batch_py, '_manifest'))}, lines {pct(cumulative(batch_py, '_records'))}"
        f" of which orjson.loads {pct(called_from(loads, batch_py, '_records'))}, SHA-256 "
        f"{pct(called_from(line_hash, batch_py, '_records'))} and summaries "
        f"{pct(called_from(summaries, batch_py, '_records'))})",
        f"Inbox.import_batch {pct(import_batch)} (sealing the records "
        f"{pct(called_from(seal, inbox_py, 'import_batch'))}, which `fieldscreen import` does "
        "in the checking process; follow-up cases "
        f"{pct(called_from(cases, inbox_py, 'import_batch'))})",
        f"SQLite statements of the whole import incl. COMMIT, checkpoint and fsync "
        f"{pct(statements)}",
        f"outside both {pct(total - verify - import_batch)} (file hash, known_file, ledger "
        "lookups; no receipts here)",
    ]
    top = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:8]
    own = ", ".join(f"{_short(key)} {pct(entry[2])} ({entry[1]:,} calls)" for key, entry in top)
    return f"phases: {'; '.join(phases)}. Top own time: {own}"

