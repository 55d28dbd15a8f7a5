"""A small API-level world for the exchange tests: a coordinator, an enrolled field laptop, a relay.

`make_world` builds both profiles the way the product does (the field profile from a real
deployment pack built with `build_pack` and installed with `install_pack`), with the weakest
Argon2id parameters the store accepts so a world costs tens of milliseconds. The coordinator
profile lives where the CLI looks for it (`<root>/coord/data/profiles/default`), so a test
can also drive `fieldscreen --basedir <root>/coord ...` against it without the CLI having to
calibrate a real key derivation (the parameters are read from the profile's key slot).

The rest are tools to take sealed batches apart and put them back together: open a batch
with the coordinator's identity, edit its manifest or records, re-sign or not, re-tar and
re-encrypt. They deliberately reimplement the format from docs/batch-format.md rather than
calling private helpers of `fieldscreen.exchange.batch`, so the tests check the format and
not just the code against itself.

This module imports neither pytest nor `tests.conftest`: the kill -9 child process
(`tests/exchange_child.py`) uses it too and must start quickly.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import os
import tarfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldscreen.exchange.batch import SIGNATURE_DOMAIN, SealedBatch, seal_batch
from fieldscreen.exchange.importer import BatchImporter, BatchOutcome
from fieldscreen.exchange.pack import DeploymentPack, SyncSettings, build_pack, read_pack
from fieldscreen.exchange.sync import seal_pending
from fieldscreen.exchange.transports import FolderTransport
from fieldscreen.forms.loader import load_form
from fieldscreen.forms.schema import Form
from fieldscreen.store.audit import GENESIS
from fieldscreen.store.crypto import (
    AgeIdentity,
    KdfParameters,
    SigningKey,
    age_encrypt,
    b64,
    canonical_json,
    sha256,
)
from fieldscreen.store.incoming import Device
from fieldscreen.store.outbox import OutboxBatch
from fieldscreen.store.profile import ProfileRole, ProfileStore, UnlockedProfile

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
ANSWERS = DATA / "answers"
SHIPPED_FORM = ROOT / "forms" / "child-screening.yaml"
SHIPPED_SERVICES = ROOT / "forms" / "services.yaml"
# Answer files for the shipped form that are complete and valid (one per decision).
ANSWER_FILES = ("urgent.json", "referral.json", "follow-up.json", "information.json")

PASSPHRASE = "correct horse battery staple"
# The CLI's default profile name: the coordinator lives there so `--basedir` finds it.
PROFILE = "default"
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
MEMBERS = ("manifest.json", "manifest.sig", "records.jsonl")


def weak_kdf() -> KdfParameters:
    """The cheapest Argon2id parameters the store accepts (about 10 ms per unlock)."""
    return KdfParameters(b64(os.urandom(16)), 1, 1, 8 * 1024)


class FakeClock:
    """An aware clock that moves only when told to."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


# -- screenings -----------------------------------------------------------------------------


@functools.cache
def shipped_form() -> Form:
    return load_form(SHIPPED_FORM)


@functools.cache
def screenings() -> tuple[tuple[dict[str, Any], dict[str, Any]], ...]:
    """(answers, outcome) JSON for each answer file, computed once by a real session."""
    from fieldscreen.engine.session import ScreeningSession

    found = []
    for name in ANSWER_FILES:
        session = ScreeningSession(shipped_form(), clock=lambda: START)
        session.answer_all(json.loads((ANSWERS / name).read_text(encoding="utf-8")))
        assert not session.problems(), (name, session.problems())
        found.append((session.answers_json(), session.outcome().to_json()))
    return tuple(found)


def save_finals(profile: UnlockedProfile, count: int) -> list[str]:
    """Save `count` final records (cycling through the answer files); returns their ids."""
    form = shipped_form()
    ids = []
    for n in range(count):
        answers, outcome = screenings()[n % len(ANSWER_FILES)]
        ids.append(profile.records.save_final(form.id, form.version, answers, outcome).id)
    return ids


def record_dict(n: int = 0, *, demo: bool = False, record_id: str | None = None,
                answers: dict[str, Any] | None = None,
                outcome: dict[str, Any] | None = None) -> dict[str, Any]:
    """One record as a batch carries it (the keys of a records.jsonl line), built by hand."""
    if answers is None or outcome is None:
        answers, outcome = screenings()[n % len(ANSWER_FILES)]
    stamp = "2026-03-01T09:00:00.000000Z"
    return {"id": record_id or str(uuid.uuid4()), "version": 1, "form_id": "child-screening",
            "form_version": "2026.11.0", "created_at": stamp, "updated_at": stamp,
            "demo": demo, "answers": answers, "outcome": outcome}


# -- the world ------------------------------------------------------------------------------


@dataclass
class World:
    """A coordinator and one enrolled field laptop sharing a folder relay."""

    root: Path
    clock: FakeClock
    coordinator: UnlockedProfile
    field: UnlockedProfile
    pack_raw: bytes
    pack: DeploymentPack
    device: Device | None
    relay: Path
    quarantine_dir: Path

    @property
    def coordinator_base(self) -> Path:
        """The `--basedir` under which the CLI finds the coordinator profile."""
        return self.root / "coord"

    @property
    def identity(self) -> AgeIdentity:
        return self.coordinator.coordinator_identity()

    @property
    def recipient(self) -> str:
        return self.identity.recipient

    @property
    def device_key(self) -> SigningKey:
        return self.field.device_key()

    def importer(self) -> BatchImporter:
        return BatchImporter(self.coordinator, self.quarantine_dir, self.clock)

    def import_bytes(self, data: bytes, source: str = "test.age") -> BatchOutcome:
        """Import one batch file's bytes; its receipt (if any) goes to the folder relay."""
        return self.importer().import_one(data, source, FolderTransport(self.relay))

    def save(self, count: int) -> list[str]:
        return save_finals(self.field, count)

    def seal(self) -> list[OutboxBatch]:
        """Seal every final record (as sync does) and return the new undelivered batches."""
        before = {batch.batch_id for batch in self.field.outbox.undelivered()}
        seal_pending(self.field, self.pack, now=self.clock)
        return [b for b in self.field.outbox.undelivered() if b.batch_id not in before]

    def sealed_batch(self, count: int = 3) -> OutboxBatch:
        """Save `count` records and seal them into exactly one batch."""
        self.save(count)
        batches = self.seal()
        assert len(batches) == 1
        return batches[0]

    def seal_by_hand(self, records: list[dict[str, Any]], *, sequence: int,
                     recipient: str | None = None, demo: bool = False,
                     key: SigningKey | None = None) -> SealedBatch:
        """A batch sealed with `seal_batch` directly (not through the outbox)."""
        return seal_batch(records, device_key=key or self.device_key,
                          recipient=recipient or self.recipient, sequence=sequence,
                          previous_manifest_sha256=GENESIS, audit_head=(0, GENESIS),
                          demo=demo, now=self.clock())

    def receipts(self) -> list[Path]:
        return sorted(self.relay.glob("*.receipt"))

    def close(self) -> None:
        for profile in (self.coordinator, self.field):
            if profile.records is not None:
                profile.lock()


def make_profile(data_dir: Path, role: ProfileRole, *, clock: FakeClock, name: str = PROFILE,
                 demo: bool = False, recovery: str | None = None,
                 database: str | None = None) -> UnlockedProfile:
    store = ProfileStore(data_dir, clock=clock, kdf=weak_kdf(), database=database)
    return store.create(name, role, PASSPHRASE, recovery_recipient=recovery, demo=demo)


def make_pack(coordinator: UnlockedProfile, *, relay: Path | None, clock: FakeClock,
              form_paths: list[Path] | None = None) -> bytes:
    """A real signed deployment pack of this coordinator (shipped form and services)."""
    return build_pack(
        signing_key=coordinator.coordinator_signing_key(),
        recipient=coordinator.coordinator_identity().recipient,
        coordinator_name="Test coordinator", form_paths=form_paths or [SHIPPED_FORM],
        services_path=SHIPPED_SERVICES,
        sync=SyncSettings(str(relay)) if relay is not None else None,
        retention_days=30, demo=coordinator.info.demo, now=clock())


def make_field(data_dir: Path, pack_raw: bytes, *, clock: FakeClock,
               pack: DeploymentPack | None = None, demo: bool | None = None
               ) -> UnlockedProfile:
    """A field profile created from a pack, as `profile create --pack` does."""
    pack = pack or read_pack(pack_raw)  # parsing the form dominates a world's cost
    field = make_profile(data_dir, ProfileRole.FIELD, clock=clock, recovery=pack.recipient,
                         demo=pack.demo if demo is None else demo)
    field.install_pack(pack_raw, pack.recipient)
    return field


def make_world(root: Path, *, enrol: bool = True, coordinator_demo: bool = False,
               database: str | None = None) -> World:
    """`database`: the coordinator's profile on this PostgreSQL URL instead of SQLite."""
    clock = FakeClock()
    relay = root / "relay"
    relay.mkdir(parents=True)
    coordinator = make_profile(root / "coord" / "data", ProfileRole.COORDINATOR, clock=clock,
                               demo=coordinator_demo, database=database)
    pack_raw = make_pack(coordinator, relay=relay, clock=clock)
    pack = read_pack(pack_raw)
    field = make_field(root / "field" / "data", pack_raw, clock=clock, pack=pack)
    device = (coordinator.devices.enroll(field.device_key().public.raw, "laptop")
              if enrol else None)
    return World(root=root, clock=clock, coordinator=coordinator, field=field,
                 pack_raw=pack_raw, pack=pack, device=device, relay=relay,
                 quarantine_dir=coordinator.database_path.parent / "quarantine")


# -- taking batches apart -------------------------------------------------------------------


def untar(archive: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        return tar.getmembers()


def open_batch(data: bytes, identity: AgeIdentity) -> dict[str, bytes]:
    """The three members of a batch, decrypted with `identity`, in archive order."""
    archive = identity.decrypt(data)
    members = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for info in tar:
            handle = tar.extractfile(info)
            assert handle is not None
            members[info.name] = handle.read()
    assert tuple(members) == MEMBERS
    return members


def tar_bytes(members: list[tuple[str, bytes]], *, symlinks: dict[str, str] | None = None,
              mtime: int = 1_772_355_600) -> bytes:
    """A USTAR archive of regular files, plus `symlinks` (name -> target) after them."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o600
            archive.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, mtime
            archive.addfile(info)
    return buffer.getvalue()


def reseal(members: dict[str, bytes] | list[tuple[str, bytes]], recipient: str) -> bytes:
    """Tar `members` and encrypt them to `recipient` (anyone can: the recipient is public)."""
    items = list(members.items()) if isinstance(members, dict) else members
    return age_encrypt(tar_bytes(items), recipient)


def rewrite(data: bytes, identity: AgeIdentity, recipient: str, *,
            manifest: Callable[[dict[str, Any]], None] | None = None,
            lines: Callable[[list[bytes]], list[bytes]] | None = None,
            sign_with: SigningKey | None = None) -> bytes:
    """Open a batch, edit its manifest and/or record lines, and seal it again to `recipient`.

    The old signature is kept unless `sign_with` is given, in which case the (edited)
    manifest is signed again: the device itself made the edit.
    """
    members = open_batch(data, identity)
    manifest_bytes = members["manifest.json"]
    if manifest is not None:
        parsed = json.loads(manifest_bytes)
        manifest(parsed)
        manifest_bytes = canonical_json(parsed)
    body = members["records.jsonl"]
    if lines is not None:
        body = b"".join(line + b"\n" for line in lines(body.split(b"\n")[:-1]))
    signature = members["manifest.sig"]
    if sign_with is not None:
        signature = sign_with.sign(SIGNATURE_DOMAIN, manifest_bytes)
    return reseal([("manifest.json", manifest_bytes), ("manifest.sig", signature),
                   ("records.jsonl", body)], recipient)


def manifest_of(data: bytes, identity: AgeIdentity) -> dict[str, Any]:
    return json.loads(open_batch(data, identity)["manifest.json"])


def file_sha256(data: bytes) -> str:
    return sha256(data).hex()


# -- the age envelope -----------------------------------------------------------------------


def age_regions(data: bytes) -> dict[str, tuple[int, int]]:
    """[start, end) of the header (text up to and including the MAC line), the payload
    nonce, the ciphertext body and the final 16-byte Poly1305 tag of an age file."""
    mac_line = data.index(b"\n--- ") + 1
    header_end = data.index(b"\n", mac_line) + 1
    return {"header": (0, header_end), "nonce": (header_end, header_end + 16),
            "body": (header_end + 16, len(data) - 16), "tag": (len(data) - 16, len(data))}


def flip(data: bytes, position: int, mask: int = 0x01) -> bytes:
    assert 0 <= position < len(data) and 0 < mask < 256
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1:]
