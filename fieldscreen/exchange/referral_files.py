"""The files of a referral: packages (coordinator → partner), updates (partner → coordinator)
and partner enrolment codes. docs/referrals.md specifies them.

Both files are signed, then sealed with age, like batches: a package is signed by the
coordinator (domain `referral-package`) and sealed to the partner's Ed25519 key as an age
`ssh-ed25519` recipient; an update is signed by the partner (domain `referral-update`) and
sealed to the coordinator's X25519 recipient. The signed content names its recipient, so a
file opened by its recipient cannot be re-sealed to another without the reader noticing.

Every reader checks size before anything else, parses with `loads_strict`, and refuses
with a `ReferralRefused` that carries a stable code and a readable reason that never
quotes the file.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fieldscreen.errors import UserError
from fieldscreen.exchange.referral_package import (
    CANCELLED,
    REQUESTED,
    ReferralContentInvalid,
    bundle_resources,
    resource_ids,
)
from fieldscreen.exchange.strict_json import loads_strict
from fieldscreen.i18n import _
from fieldscreen.store.crypto import (
    AgeIdentity,
    CryptoError,
    SigningKey,
    VerifyKey,
    age_encrypt,
    b64,
    canonical_json,
    check_age_recipient,
    sha256,
    unb64,
)

PACKAGE_FORMAT = "fieldscreen-referral/1"
UPDATE_FORMAT = "fieldscreen-referral-update/1"
PACKAGE_DOMAIN = "referral-package"
UPDATE_DOMAIN = "referral-update"
MAX_PACKAGE_BYTES = 1024 * 1024
MAX_UPDATE_BYTES = 256 * 1024
MAX_SEQUENCE = 2**31
_AGE_MAGIC = b"age-encryption.org/v1\n"
_UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_KINDS = ("referral", "withdrawal")
_PACKAGE_KEYS = {"kind", "message_id", "referral_id", "created_at", "coordinator",
                 "partner_public_key", "bundle"}
_COORDINATOR_KEYS = {"name", "signing_key", "age_recipient"}
_UPDATE_KEYS = {"message_id", "referral_id", "sequence", "created_at", "partner_public_key",
                "recipient", "task"}
_ENVELOPE_KEYS = {"format", "content", "signature"}


class RefusalCode(StrEnum):
    """Why a referral file was refused: what the quarantine records (stable names)."""

    TOO_LARGE = "too_large"
    EMPTY = "empty"
    NOT_AGE = "not_age"
    UNDECRYPTABLE = "undecryptable"
    BAD_PACKAGE = "bad_package"
    BAD_UPDATE = "bad_update"
    UNKNOWN_COORDINATOR = "unknown_coordinator"
    UNKNOWN_PARTNER = "unknown_partner"
    REVOKED_PARTNER = "revoked_partner"
    BAD_SIGNATURE = "bad_signature"
    WRONG_RECIPIENT = "wrong_recipient"
    UNKNOWN_REFERRAL = "unknown_referral"
    REPLAYED = "replayed"
    WITHDRAWN = "withdrawn"
    CHECK_FAILED = "check_failed"


class ReferralRefused(Exception):
    """A referral file that is not accepted: `code` for records, `reason` for people."""

    def __init__(self, code: RefusalCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _valid_stamp(value: Any) -> bool:
    if not isinstance(value, str) or not _STAMP.match(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "2000" <= value < "2100"


def _seal_check(data: bytes, limit: int) -> None:
    if not data:
        raise ReferralRefused(RefusalCode.EMPTY, _("The file is empty."))
    if len(data) > limit:
        raise ReferralRefused(RefusalCode.TOO_LARGE, _(
            "The file is larger than a referral file can be ({limit} KiB).").format(
                limit=limit // 1024))
    if not data.startswith(_AGE_MAGIC):
        raise ReferralRefused(RefusalCode.NOT_AGE, _(
            "This is not a sealed FieldScreen referral file (no age header)."))


def _envelope(signed_format: str, plain: bytes, limit: int,
              bad: RefusalCode) -> tuple[bytes, bytes]:
    """(content, signature) of a decrypted envelope, or ReferralRefused(bad)."""
    if len(plain) > limit:
        raise ReferralRefused(RefusalCode.TOO_LARGE, _(
            "The file is larger than a referral file can be ({limit} KiB).").format(
                limit=limit // 1024))
    try:
        outer = loads_strict(plain.decode("utf-8"))
        if not isinstance(outer, dict) or set(outer) != _ENVELOPE_KEYS \
                or outer["format"] != signed_format:
            raise ValueError("envelope")
        if not isinstance(outer["content"], str) or not isinstance(outer["signature"], str):
            raise ValueError("envelope")
        return unb64(outer["content"]), unb64(outer["signature"])
    except (ValueError, UnicodeDecodeError, RecursionError, CryptoError):
        raise ReferralRefused(bad, _("The file opened but its content is not a "
                                     "FieldScreen referral file of a known version.")) from None


def _parse_content(content: bytes, keys: set[str], bad: RefusalCode) -> dict[str, Any]:
    try:
        data = loads_strict(content.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        data = None
    if not isinstance(data, dict) or set(data) != keys:
        raise ReferralRefused(bad, _("The file's signed content does not have the fields "
                                     "a referral file has."))
    return data


def _key(value: Any, bad: RefusalCode) -> bytes:
    try:
        raw = unb64(value) if isinstance(value, str) else b""
    except CryptoError:
        raw = b""
    if len(raw) != 32:
        raise ReferralRefused(bad, _("A key in the file is not an Ed25519 public key."))
    return raw


# -- packages (coordinator → partner) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Package:
    kind: str  # "referral" or "withdrawal"
    message_id: str
    referral_id: str
    created_at: str
    coordinator_name: str
    coordinator_key: bytes
    coordinator_recipient: str
    bundle: dict[str, Any]
    sha256: str


def package_file_name(referral_id: str, kind: str) -> str:
    return f"fieldscreen-{kind}-{referral_id}.age"


def write_package(signing_key: SigningKey, *, kind: str, referral_id: str,
                  coordinator_name: str, coordinator_recipient: str, partner_key: bytes,
                  bundle: dict[str, Any], now: dt.datetime) -> bytes:
    """A signed package sealed to the partner: the bytes of the `.age` file."""
    if kind not in _KINDS:
        raise ValueError("a package is a referral or a withdrawal")
    content = canonical_json({
        "kind": kind, "message_id": str(uuid.uuid4()), "referral_id": referral_id,
        "created_at": stamp(now),
        "coordinator": {"name": coordinator_name, "signing_key": b64(signing_key.public.raw),
                        "age_recipient": coordinator_recipient},
        "partner_public_key": b64(partner_key), "bundle": bundle,
    })
    envelope = canonical_json({"format": PACKAGE_FORMAT, "content": b64(content),
                               "signature": b64(signing_key.sign(PACKAGE_DOMAIN, content))})
    return VerifyKey(partner_key).seal(envelope)


def read_package(data: bytes, *, partner_key: SigningKey,
                 pinned: bytes | None) -> Package:
    """Open and check a package addressed to this partner.

    `pinned` is the coordinator key this partner trusts (None: the first package pins it).

    Raises:
        ReferralRefused: anything wrong, in the order docs/referrals.md gives.
    """
    bad = RefusalCode.BAD_PACKAGE
    _seal_check(data, MAX_PACKAGE_BYTES)
    try:
        plain = partner_key.open_sealed(data)
    except CryptoError:
        raise ReferralRefused(RefusalCode.UNDECRYPTABLE, _(
            "The file does not open with this partner's key: it was sealed for someone "
            "else, or it was damaged on the way.")) from None
    content, signature = _envelope(PACKAGE_FORMAT, plain, MAX_PACKAGE_BYTES, bad)
    body = _parse_content(content, _PACKAGE_KEYS, bad)
    coordinator = body["coordinator"]
    if not isinstance(coordinator, dict) or set(coordinator) != _COORDINATOR_KEYS \
            or not isinstance(coordinator["name"], str) \
            or not isinstance(coordinator["age_recipient"], str):
        raise ReferralRefused(bad, _("The file's signed content does not have the fields "
                                     "a referral file has."))
    coordinator_key = _key(coordinator["signing_key"], bad)
    if pinned is not None and coordinator_key != pinned:
        raise ReferralRefused(RefusalCode.UNKNOWN_COORDINATOR, _(
            "The package comes from a coordinator this partner does not know (its key "
            "differs from the one first trusted)."))
    try:
        VerifyKey(coordinator_key).verify(PACKAGE_DOMAIN, content, signature)
    except CryptoError:
        raise ReferralRefused(RefusalCode.BAD_SIGNATURE, _(
            "The package's signature does not verify: it was altered or forged.")) from None
    if _key(body["partner_public_key"], bad) != partner_key.public.raw:
        raise ReferralRefused(RefusalCode.WRONG_RECIPIENT, _(
            "The package is addressed to another partner."))
    if body["kind"] not in _KINDS or not isinstance(body["message_id"], str) \
            or not _UUID4.match(body["message_id"]) \
            or not isinstance(body["referral_id"], str) \
            or not _UUID4.match(body["referral_id"]) or not _valid_stamp(body["created_at"]):
        raise ReferralRefused(bad, _("The file's signed content does not have the fields "
                                     "a referral file has."))
    try:
        check_age_recipient(coordinator["age_recipient"])  # where updates will go
        resources = bundle_resources(body["bundle"])
        _check_bundle(body["kind"], body["referral_id"], resources)
    except (CryptoError, ReferralContentInvalid):
        raise ReferralRefused(bad, _("The package's FHIR Bundle is not a valid referral "
                                     "(FHIR R4B).")) from None
    return Package(body["kind"], body["message_id"], body["referral_id"], body["created_at"],
                   coordinator["name"][:200], coordinator_key,
                   coordinator["age_recipient"], body["bundle"], sha256(data).hex())


def _check_bundle(kind: str, referral_id: str, resources: dict[str, dict[str, Any]]) -> None:
    request_id, task_id, patient_id = resource_ids(referral_id)
    if resources["ServiceRequest"].get("id") != request_id \
            or resources["Task"].get("id") != task_id:
        raise ReferralContentInvalid("resources of another referral")
    if kind == "referral":
        if set(resources) != {"ServiceRequest", "Task", "Patient"} \
                or resources["Patient"].get("id") != patient_id \
                or resources["Task"].get("status") != REQUESTED:
            raise ReferralContentInvalid("not a referral")
    elif set(resources) != {"ServiceRequest", "Task"} \
            or resources["Task"].get("status") != CANCELLED \
            or resources["ServiceRequest"].get("status") != "revoked":
        raise ReferralContentInvalid("not a withdrawal")


# -- updates (partner → coordinator) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Update:
    message_id: str
    referral_id: str
    sequence: int
    created_at: str
    partner_key: bytes
    task: dict[str, Any]
    sha256: str


def update_file_name(referral_id: str, sequence: int) -> str:
    return f"fieldscreen-referral-update-{referral_id}-{sequence}.age"


def write_update(partner_key: SigningKey, *, referral_id: str, sequence: int,
                 recipient: str, task: dict[str, Any], now: dt.datetime) -> bytes:
    """A partner's signed Task update sealed to the coordinator: the `.age` file's bytes."""
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise ValueError("an update sequence is 1 to 2^31")
    content = canonical_json({
        "message_id": str(uuid.uuid4()), "referral_id": referral_id, "sequence": sequence,
        "created_at": stamp(now), "partner_public_key": b64(partner_key.public.raw),
        "recipient": recipient, "task": task,
    })
    envelope = canonical_json({"format": UPDATE_FORMAT, "content": b64(content),
                               "signature": b64(partner_key.sign(UPDATE_DOMAIN, content))})
    return age_encrypt(envelope, recipient)


def read_update(data: bytes, *, identity: AgeIdentity,
                partner_state: Callable[[bytes], str | None]) -> Update:
    """Open and check a partner's update (its Task is checked against the referral later).

    `partner_state(public_key)` says whether the key is an enrolled partner: "active",
    "revoked", or None.

    Raises:
        ReferralRefused: anything wrong, in the order docs/referrals.md gives.
    """
    bad = RefusalCode.BAD_UPDATE
    _seal_check(data, MAX_UPDATE_BYTES)
    try:
        plain = identity.decrypt(data)
    except CryptoError:
        raise ReferralRefused(RefusalCode.UNDECRYPTABLE, _(
            "The file does not open with this coordinator's identity: it was sealed for "
            "someone else, or it was damaged on the way.")) from None
    content, signature = _envelope(UPDATE_FORMAT, plain, MAX_UPDATE_BYTES, bad)
    body = _parse_content(content, _UPDATE_KEYS, bad)
    partner = _key(body["partner_public_key"], bad)
    state = partner_state(partner)
    if state is None:
        raise ReferralRefused(RefusalCode.UNKNOWN_PARTNER, _(
            "The update comes from a partner that is not enrolled (fingerprint {fingerprint})."
        ).format(fingerprint=VerifyKey(partner).fingerprint()))
    if state == "revoked":
        raise ReferralRefused(RefusalCode.REVOKED_PARTNER, _(
            "The update comes from a partner whose enrolment was revoked."))
    try:
        VerifyKey(partner).verify(UPDATE_DOMAIN, content, signature)
    except CryptoError:
        raise ReferralRefused(RefusalCode.BAD_SIGNATURE, _(
            "The update's signature does not verify: it was altered or forged.")) from None
    if body["recipient"] != identity.recipient:
        raise ReferralRefused(RefusalCode.WRONG_RECIPIENT, _(
            "The update is addressed to another coordinator."))
    sequence = body["sequence"]
    if not isinstance(body["message_id"], str) or not _UUID4.match(body["message_id"]) \
            or not isinstance(body["referral_id"], str) \
            or not _UUID4.match(body["referral_id"]) or type(sequence) is not int \
            or not 1 <= sequence <= MAX_SEQUENCE or not _valid_stamp(body["created_at"]) \
            or not isinstance(body["task"], dict):
        raise ReferralRefused(bad, _("The file's signed content does not have the fields "
                                     "a referral file has."))
    return Update(body["message_id"], body["referral_id"], sequence, body["created_at"],
                  partner, body["task"], sha256(data).hex())


# -- partner enrolment codes ----------------------------------------------------------------

PARTNER_CODE_PREFIX = "FSP1"
_GROUP = 6
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_BODY_LENGTH = 58  # 36 bytes in base32 without padding
MAX_CODE_CHARS = 200


def _checksum(raw: bytes) -> bytes:
    # Another domain than device codes: a device code never enrols a partner, or back.
    return sha256(b"fieldscreen partner enrolment\x00" + raw)[:4]


def partner_code(key: VerifyKey) -> str:
    """The code a partner gives the coordinator to be enrolled (its Ed25519 key)."""
    body = base64.b32encode(key.raw + _checksum(key.raw)).decode("ascii").rstrip("=")
    return "-".join([PARTNER_CODE_PREFIX,
                     *(body[i:i + _GROUP] for i in range(0, len(body), _GROUP))])


def read_partner_code(code: str) -> VerifyKey:
    """The partner key in `code`.

    Raises:
        UserError: not a partner code, or mistyped (the checksum does not match).
    """
    if len(code) > MAX_CODE_CHARS:
        raise UserError(_("This is not a FieldScreen partner code (it is far too long)."))
    cleaned = "".join(code.split()).replace("-", "").upper()
    if not cleaned.startswith(PARTNER_CODE_PREFIX):
        raise UserError(_("This is not a FieldScreen partner code (it starts with {prefix})."
                          ).format(prefix=PARTNER_CODE_PREFIX),
                        hint=_("The partner prints it with: fieldscreen partner code"))
    body = cleaned[len(PARTNER_CODE_PREFIX):]
    if len(body) != _BODY_LENGTH or any(ch not in _ALPHABET for ch in body):
        raise UserError(_("The partner code has a typing mistake; copy it again."))
    raw = base64.b32decode(body + "=" * (-len(body) % 8))
    key, checksum = raw[:32], raw[32:]
    # The last letter carries two unused bits: a typo there must not pass unnoticed.
    canonical = base64.b32encode(raw).decode("ascii").rstrip("=")
    if _checksum(key) != checksum or canonical != body:
        raise UserError(_("The partner code has a typing mistake; copy it again."))
    return VerifyKey(key)
