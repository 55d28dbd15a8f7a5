"""Sealed batches: the field-to-coordinator file format, written and checked strictly.

A batch is a standard age file encrypted to every coordinator recipient of the deployment,
so any of them can import it. Inside is a tar of `manifest.json`, `manifest.sig` (the
device's Ed25519 signature over the manifest, which names the recipients:
sign-then-encrypt) and `records.jsonl`. docs/batch-format.md specifies
every byte; this module is its reference implementation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import re
import tarfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from fieldscreen.exchange.strict_json import loads_strict
from fieldscreen.i18n import _
from fieldscreen.store.audit import GENESIS
from fieldscreen.store.crypto import (
    AgeIdentity,
    CryptoError,
    SigningKey,
    VerifyKey,
    age_encrypt,
    b64,
    canonical_json,
    sha256,
    unb64,
)
from fieldscreen.store.incoming import Device, IncomingRecord, summary_from_outcome

# Version 2 names every coordinator recipient (`recipients`) where version 1 named one.
BATCH_FORMAT = "fieldscreen-batch/2"
PREVIOUS_BATCH_FORMAT = "fieldscreen-batch/1"  # still read: one `recipient`
# As many as a deployment pack may list (exchange.pack.MAX_COORDINATORS).
MAX_RECIPIENTS = 16
SIGNATURE_DOMAIN = "batch-manifest"
AGE_MAGIC = b"age-encryption.org/v1\n"
MEMBERS = ("manifest.json", "manifest.sig", "records.jsonl")

# Limits checked before (and while) parsing, so a hostile file cannot exhaust memory.
MAX_BATCH_BYTES = 64 * 1024 * 1024
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_RECORDS = 10_000
MAX_LINE_BYTES = 1024 * 1024
# What a field device puts in one batch.
RECORDS_PER_BATCH = 500
BYTES_PER_BATCH = 16 * 1024 * 1024

# Integers are stored in SQLite, whose integers are signed 64-bit.
MAX_INTEGER = 2**63 - 1
# A record's version: one more for every save on its device, so 2^31 is never reached by a
# real laptop; a higher one is refused, so nobody can send a version that no later save of
# the owner could ever exceed.
MAX_RECORD_VERSION = 2**31

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
# Record ids: a random UUID (version 4) or a time-ordered one (version 7), lower-case.
RECORD_ID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# RFC 3339 times as records carry them: seconds, an optional fraction, Z or an offset.
_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
# A time outside these years is a broken clock or a forgery, not a screening.
EARLIEST_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST_TIME = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def valid_time(text: object, pattern: re.Pattern[str] = _TIME) -> bool:
    """Whether `text` is an RFC 3339 time of a real day and hour, from 2000 to 2099."""
    if type(text) is not str or not pattern.match(text):
        return False
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # 2026-13-45T99:99:99Z matches the pattern but is no time
        return False
    return EARLIEST_TIME <= moment < LATEST_TIME



_MANIFEST_KEYS = {
    "format", "batch_id", "created_at", "demo", "device_public_key", "device_sequence",
    "previous_manifest_sha256", "recipients", "audit_head_seq", "audit_head_mac",
    "record_count", "records",
}
_PREVIOUS_MANIFEST_KEYS = _MANIFEST_KEYS - {"recipients"} | {"recipient"}
_RECORD_KEYS = {"id", "version", "form_id", "form_version", "created_at", "updated_at",
                "demo", "answers", "outcome"}


class RefusalCode(StrEnum):
    """Why a batch was not imported (kept with it in quarantine)."""

    TOO_LARGE = "too_large"
    EMPTY = "empty"
    NOT_AGE = "not_age"
    UNDECRYPTABLE = "undecryptable"
    BAD_ARCHIVE = "bad_archive"
    BAD_MANIFEST = "bad_manifest"
    UNKNOWN_DEVICE = "unknown_device"
    REVOKED_DEVICE = "revoked_device"
    BAD_SIGNATURE = "bad_signature"
    WRONG_RECIPIENT = "wrong_recipient"
    DEMO_MISMATCH = "demo_mismatch"
    BAD_RECORDS = "bad_records"
    CONFLICT = "conflict"
    CHECK_FAILED = "check_failed"


class BatchRefused(Exception):
    """A batch that must not be imported; `reason` is translated, `code` is stable."""

    def __init__(self, code: RefusalCode, reason: str, *, device_id: str | None = None,
                 batch_id: str | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.device_id = device_id
        self.batch_id = batch_id


@dataclass(frozen=True, slots=True)
class SealedBatch:
    batch_id: str
    data: bytes
    manifest_sha256: str
    records: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class VerifiedBatch:
    """A batch that passed every check, ready for the ledger."""

    batch_id: str
    device: Device
    sequence: int
    previous_manifest_sha256: str
    manifest_sha256: str
    created_at: str
    demo: bool
    audit_head: tuple[int, str]
    records: tuple[IncomingRecord, ...]


def record_line(record: dict[str, Any]) -> bytes:
    """The canonical bytes of one record in records.jsonl (without the newline)."""
    return canonical_json(record)


def batch_file_name(batch_id: str) -> str:
    """The name a batch has on a relay (folder or WebDAV); it reveals nothing else."""
    return f"fieldscreen-batch-{batch_id}.age"


def _tar(members: list[tuple[str, bytes]], mtime: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o600
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def seal_batch(records: list[dict[str, Any]], *, device_key: SigningKey,
               recipient: str | Sequence[str], sequence: int, previous_manifest_sha256: str,
               audit_head: tuple[int, str], demo: bool, now: dt.datetime,
               manifest_format: str = BATCH_FORMAT) -> SealedBatch:
    """Sign and encrypt `records` (dicts with exactly the record keys) into a batch.

    `recipient` is every coordinator recipient of the deployment (the pack's
    `recipients`), or one. `manifest_format` writes the previous format, for tests of
    coordinators that still read it.

    Raises:
        CryptoError: no recipient, or one that is not an age recipient.
    """
    recipients = [recipient] if isinstance(recipient, str) else list(recipient)
    if not recipients:
        raise CryptoError("a batch must be sealed to at least one coordinator")
    lines = [record_line(record) for record in records]
    created = now.astimezone(dt.UTC).replace(microsecond=0)
    named: dict[str, Any] = ({"recipients": recipients} if manifest_format == BATCH_FORMAT
                             else {"recipient": recipients[0]})
    manifest = {
        "format": manifest_format,
        "batch_id": str(uuid.uuid4()),
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "demo": demo,
        "device_public_key": b64(device_key.public.raw),
        "device_sequence": sequence,
        "previous_manifest_sha256": previous_manifest_sha256,
        **named,
        "audit_head_seq": audit_head[0],
        "audit_head_mac": audit_head[1],
        "record_count": len(records),
        "records": [
            {"id": record["id"], "version": record["version"], "sha256": sha256(line).hex()}
            for record, line in zip(records, lines, strict=True)
        ],
    }
    manifest_bytes = canonical_json(manifest)
    signature = device_key.sign(SIGNATURE_DOMAIN, manifest_bytes)
    body = b"".join(line + b"\n" for line in lines)
    archive = _tar([("manifest.json", manifest_bytes), ("manifest.sig", signature),
                    ("records.jsonl", body)], int(created.timestamp()))
    return SealedBatch(
        batch_id=manifest["batch_id"],
        data=age_encrypt(archive, recipients),
        manifest_sha256=sha256(manifest_bytes).hex(),
        records=tuple((r["id"], r["version"]) for r in records),
    )


# -- reading ----------------------------------------------------------------------------------


def _unpack(archive: bytes) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            for index, info in enumerate(tar):
                # Plain ustar regular files only: a GNU sparse member (which isreg() accepts)
                # or a pax size would expand far past the file before any check, and no
                # member can hold more bytes than the whole archive.
                if (index >= len(MEMBERS) or info.name != MEMBERS[index]
                        or info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE)
                        or info.sparse is not None or info.pax_headers
                        or info.size > len(archive)):
                    raise BatchRefused(RefusalCode.BAD_ARCHIVE, _(
                        "the archive inside the batch holds unexpected entries"))
                if info.size > MAX_ARCHIVE_BYTES:
                    raise BatchRefused(RefusalCode.TOO_LARGE, _("an entry is too large"))
                handle = tar.extractfile(info)
                if handle is None:
                    raise BatchRefused(RefusalCode.BAD_ARCHIVE, _("an entry cannot be read"))
                members[info.name] = handle.read()
    except (tarfile.TarError, EOFError, OSError, ValueError):
        raise BatchRefused(RefusalCode.BAD_ARCHIVE, _(
            "the archive inside the batch is damaged")) from None
    if tuple(members) != MEMBERS:
        raise BatchRefused(RefusalCode.BAD_ARCHIVE, _(
            "the archive inside the batch is incomplete"))
    return members


def _written_back(record: dict[str, Any]) -> bytes | None:
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # nesting deeper than orjson writes
        return None


def _has_duplicate_keys(line: bytes) -> bool:
    """The exact check, run only when the line is not canonical JSON.

    orjson keeps the last of two equal keys silently. Writers emit canonical JSON, and
    orjson writes the parsed record back to the very same bytes when nothing was dropped
    (a C-speed test); a line that differs (another writer's spacing or number style, or a
    key given twice) is parsed again, strictly, by this slower path.
    """
    try:
        loads_strict(line)
    except (ValueError, RecursionError):  # a key twice, or too deep to check: refused
        return True
    return False


def _manifest(raw: bytes) -> dict[str, Any]:
    def bad(why: str) -> BatchRefused:
        return BatchRefused(RefusalCode.BAD_MANIFEST, _("the manifest is not valid: {why}"
                                                        ).format(why=why))

    if len(raw) > MAX_MANIFEST_BYTES:
        raise BatchRefused(RefusalCode.TOO_LARGE, _("the manifest is too large"))
    try:
        manifest = loads_strict(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError also covers a key given twice and an integer of thousands of digits.
        raise bad(_("not JSON, or a key appears twice")) from None
    if not isinstance(manifest, dict):
        raise bad(_("unexpected keys"))
    if manifest.get("format") == PREVIOUS_BATCH_FORMAT:
        if set(manifest) != _PREVIOUS_MANIFEST_KEYS:
            raise bad(_("unexpected keys"))
        # Read as a version-2 manifest naming one recipient.
        manifest["recipients"] = [manifest.pop("recipient")]
    elif set(manifest) != _MANIFEST_KEYS:
        raise bad(_("unexpected keys"))
    elif manifest["format"] != BATCH_FORMAT:
        raise bad(_("unknown format"))
    checks = [
        isinstance(manifest["batch_id"], str) and _UUID.match(manifest["batch_id"]),
        valid_time(manifest["created_at"], _STAMP),
        isinstance(manifest["demo"], bool),
        isinstance(manifest["device_public_key"], str),
        type(manifest["device_sequence"]) is int
        and 1 <= manifest["device_sequence"] <= MAX_INTEGER,
        isinstance(manifest["previous_manifest_sha256"], str)
        and _HEX64.match(manifest["previous_manifest_sha256"]),
        _valid_recipients(manifest["recipients"]),
        type(manifest["audit_head_seq"]) is int
        and 0 <= manifest["audit_head_seq"] <= MAX_INTEGER,
        isinstance(manifest["audit_head_mac"], str)
        and _HEX64.match(manifest["audit_head_mac"]),
        type(manifest["record_count"]) is int and 0 <= manifest["record_count"] <= MAX_RECORDS,
        isinstance(manifest["records"], list),
    ]
    if not all(checks):
        raise bad(_("a field has the wrong type"))
    for entry in manifest["records"]:
        if not (isinstance(entry, dict) and set(entry) == {"id", "version", "sha256"}
                and isinstance(entry["id"], str) and RECORD_ID.match(entry["id"])
                and type(entry["version"]) is int
                and 1 <= entry["version"] <= MAX_RECORD_VERSION
                and isinstance(entry["sha256"], str) and _HEX64.match(entry["sha256"])):
            raise bad(_("a record entry is malformed"))
    return manifest


def _valid_recipients(recipients: object) -> bool:
    """1 to MAX_RECIPIENTS strings, none twice (the age header holds one stanza each)."""
    return (type(recipients) is list and 1 <= len(recipients) <= MAX_RECIPIENTS
            and all(type(each) is str and len(each) <= 100 for each in recipients)
            and len(set(recipients)) == len(recipients))


def _records(body: bytes, manifest: dict[str, Any]) -> tuple[IncomingRecord, ...]:
    def bad(why: str) -> BatchRefused:
        return BatchRefused(RefusalCode.BAD_RECORDS, _("the records do not match the "
                                                       "manifest: {why}").format(why=why),
                            batch_id=manifest["batch_id"])

    if body and not body.endswith(b"\n"):
        raise bad(_("the last line is cut off"))
    lines = body.split(b"\n")[:-1] if body else []
    entries = manifest["records"]
    if len(lines) != manifest["record_count"] or len(entries) != len(lines):
        raise bad(_("the counts differ"))
    seen: set[str] = set()
    found = []
    demo = manifest["demo"]
    # This loop runs for every record of every import, so it is written for speed: dict
    # views compared with sets, one type() per field, the summaries' choice names cached.
    for line, entry in zip(lines, entries, strict=True):
        if len(line) > MAX_LINE_BYTES:
            raise BatchRefused(RefusalCode.TOO_LARGE, _("a record is too large"))
        if not hmac.compare_digest(hashlib.sha256(line).hexdigest(), entry["sha256"]):
            raise bad(_("a record's hash differs"))
        try:
            # orjson, unlike json, refuses what no UTF-8 text can hold (a lone surrogate
            # escaped as "\ud800"), NaN and infinities; and it is several times faster on
            # the import's hottest line.
            record = orjson.loads(line)
        except (orjson.JSONDecodeError, RecursionError):
            raise bad(_("a record is not JSON, or holds text that is not valid Unicode")
                      ) from None
        if type(record) is not dict or record.keys() != _RECORD_KEYS:
            raise bad(_("a record has unexpected keys"))
        record_id = record["id"]
        if record_id != entry["id"] or record["version"] != entry["version"]:
            raise bad(_("a record's id or version differs"))
        if record_id in seen:
            raise bad(_("a record appears twice"))
        seen.add(record_id)
        if record["demo"] is not demo:
            raise bad(_("a record's training flag differs from the batch's"))
        outcome = record["outcome"]
        if not (type(record["answers"]) is dict and type(outcome) is dict
                and type(record["form_id"]) is str and type(record["form_version"]) is str
                and valid_time(record["created_at"]) and valid_time(record["updated_at"])):
            raise bad(_("a record field has the wrong type or an impossible time"))
        if _written_back(record) != line and _has_duplicate_keys(line):
            raise bad(_("a key appears twice in a record"))
        found.append(IncomingRecord(
            record_id, record["version"], record["form_id"], record["form_version"],
            record["created_at"], record["updated_at"], demo,
            summary_from_outcome(outcome), line))
    return tuple(found)


def verify_batch(data: bytes, *, identity: AgeIdentity, find_device: Callable[
                 [bytes], Device | None], demo: bool) -> VerifiedBatch:
    """Check a batch file completely, in the order docs/batch-format.md gives.

    Args:
        data: the age file's bytes.
        identity: this coordinator's age identity; its recipient must be the one signed.
        find_device: looks up an enrolled device by public key.
        demo: whether this is a training coordinator (it accepts only training batches;
            a real coordinator accepts only real ones).

    Raises:
        BatchRefused: the first check that failed, with a stable code and a reason.
    """
    if not data:
        raise BatchRefused(RefusalCode.EMPTY, _("the file is empty"))
    if len(data) > MAX_BATCH_BYTES:
        raise BatchRefused(RefusalCode.TOO_LARGE, _("the file is larger than {size} MiB").format(
            size=MAX_BATCH_BYTES >> 20))
    if not data.startswith(AGE_MAGIC):
        raise BatchRefused(RefusalCode.NOT_AGE, _("the file is not a sealed batch (age)"))
    try:
        archive = identity.decrypt(data)
    except CryptoError:
        raise BatchRefused(RefusalCode.UNDECRYPTABLE, _(
            "the batch does not open with this coordinator's key: it was sealed for another "
            "coordinator, or damaged")) from None
    if len(archive) > MAX_ARCHIVE_BYTES:
        raise BatchRefused(RefusalCode.TOO_LARGE, _("the batch's contents are too large"))
    members = _unpack(archive)
    manifest_bytes = members["manifest.json"]
    manifest = _manifest(manifest_bytes)
    batch_id = manifest["batch_id"]
    try:
        public_key = VerifyKey(unb64(manifest["device_public_key"]))
    except CryptoError:
        raise BatchRefused(RefusalCode.BAD_MANIFEST, _("the device key is malformed"),
                           batch_id=batch_id) from None
    device = find_device(public_key.raw)
    if device is None:
        raise BatchRefused(RefusalCode.UNKNOWN_DEVICE, _(
            "the device that sealed it is not enrolled (fingerprint {fingerprint}); enrol it, "
            "then import again").format(fingerprint=public_key.fingerprint()),
            batch_id=batch_id)
    if device.revoked:
        raise BatchRefused(RefusalCode.REVOKED_DEVICE, _(
            "the device that sealed it ({name}) was revoked").format(name=device.name),
            device_id=device.device_id, batch_id=batch_id)
    try:
        public_key.verify(SIGNATURE_DOMAIN, manifest_bytes, members["manifest.sig"])
    except CryptoError:
        raise BatchRefused(RefusalCode.BAD_SIGNATURE, _(
            "the device's signature does not match: the batch was altered or forged"),
            device_id=device.device_id, batch_id=batch_id) from None
    if identity.recipient not in manifest["recipients"]:
        raise BatchRefused(RefusalCode.WRONG_RECIPIENT, _(
            "it was signed for another coordinator and re-encrypted"),
            device_id=device.device_id, batch_id=batch_id)
    if manifest["demo"] is not demo:
        reason = (_("it is a training batch and this is a real coordinator") if manifest["demo"]
                  else _("it holds real records and this is a training coordinator"))
        raise BatchRefused(RefusalCode.DEMO_MISMATCH, reason, device_id=device.device_id,
                           batch_id=batch_id)
    try:
        records = _records(members["records.jsonl"], manifest)
    except BatchRefused as refusal:
        refusal.device_id = device.device_id
        raise
    return VerifiedBatch(
        batch_id=batch_id, device=device, sequence=manifest["device_sequence"],
        previous_manifest_sha256=manifest["previous_manifest_sha256"],
        manifest_sha256=sha256(manifest_bytes).hex(), created_at=manifest["created_at"],
        demo=manifest["demo"], audit_head=(manifest["audit_head_seq"],
                                           manifest["audit_head_mac"]),
        records=records,
    )


def genesis_hash() -> str:
    """The `previous_manifest_sha256` of a device's first batch."""
    return GENESIS
