"""Receipts: the coordinator's signed word that a batch's records arrived.

A receipt is written next to the batch on the relay. The field device checks it with the
coordinator key pinned from its deployment pack, so a relay cannot forge one and make a
device forget records that never arrived.

Receipt files of version 2 are sealed with age to the device's own Ed25519 key (as an
`ssh-ed25519` recipient, so the key already enrolled serves and no device re-enrols): the
relay sees only an age file, never the device key or the record ids a receipt lists.
Version 1 files (the signed JSON in clear, from coordinators not yet updated) are still
read. docs/batch-format.md, "Receipts".

A deployment has several coordinators, and any of them may import a batch and sign its
receipt. The signed object of version 2 names the signer's key inside what is signed; the
device accepts it only when that key is one its installed pack lists, so a coordinator
removed from the pack can no longer close a device's batches. Version 1 objects (no signer
named) are checked against each listed key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from fieldscreen.exchange.strict_json import loads_strict
from fieldscreen.store.crypto import (
    CryptoError,
    SigningKey,
    VerifyKey,
    b64,
    canonical_json,
    unb64,
)

# The signed object, inside either file version. Version 2 names its signer.
RECEIPT_FORMAT = "fieldscreen-receipt/2"
PREVIOUS_RECEIPT_FORMAT = "fieldscreen-receipt/1"  # still read: checked against each key
RECEIPT_FILE_VERSION = 2  # 1: the signed object in clear; 2: it, sealed to the device
_AGE_MAGIC = b"age-encryption.org/v1\n"
SIGNATURE_DOMAIN = "batch-receipt"
MAX_RECEIPT_BYTES = 4 * 1024 * 1024


class ReceiptInvalid(Exception):
    """Not a receipt this device can trust (altered, forged, or for another batch)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    batch_id: str
    device_public_key: bytes
    records: tuple[tuple[str, int], ...]
    imported_at: str


def receipt_file_name(batch_id: str) -> str:
    return f"fieldscreen-batch-{batch_id}.receipt"


def write_receipt(signing_key: SigningKey, *, batch_id: str, device_public_key: bytes,
                  records: list[tuple[str, int]], now: dt.datetime) -> bytes:
    content = canonical_json({
        "batch_id": batch_id,
        "coordinator": b64(signing_key.public.raw),
        "device_public_key": b64(device_public_key),
        "records": [[record_id, version] for record_id, version in sorted(records)],
        "imported_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    })
    return canonical_json({
        "format": RECEIPT_FORMAT,
        "content": b64(content),
        "signature": b64(signing_key.sign(SIGNATURE_DOMAIN, content)),
    })


def seal_receipt(signed: bytes, device_public_key: bytes) -> bytes:
    """A receipt file of version 2: the signed receipt sealed to the device it answers."""
    return VerifyKey(device_public_key).seal(signed)


def _record(entry: object) -> tuple[str, int]:
    # As write_receipt writes them; int() would turn 1.5 into 1, and 1e999 (infinity)
    # into an OverflowError.
    if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
            and type(entry[1]) is int):
        raise ValueError("a record is not [id, version]")
    return entry[0], entry[1]


def _verified(outer: dict[str, object], trusted: Sequence[VerifyKey]) -> bytes:
    """The signed content, once its signature verifies with a trusted coordinator key."""
    content = unb64(str(outer["content"]))
    signature = unb64(str(outer["signature"]))
    if outer["format"] == PREVIOUS_RECEIPT_FORMAT:
        for key in trusted:
            try:
                key.verify(SIGNATURE_DOMAIN, content, signature)
            except CryptoError:
                continue
            return content
        raise CryptoError("signed by no coordinator of this deployment")
    data = loads_strict(content.decode("utf-8"))
    signer = unb64(str(data["coordinator"]))
    signer_key = next((key for key in trusted if key.raw == signer), None)
    if signer_key is None:
        # A coordinator removed from the deployment (or never in it).
        raise CryptoError("signed by a coordinator this deployment does not list")
    signer_key.verify(SIGNATURE_DOMAIN, content, signature)
    return content


def read_receipt(raw: bytes, *, coordinator: VerifyKey | Sequence[VerifyKey], batch_id: str,
                 device_public_key: bytes, device_key: SigningKey | None = None) -> Receipt:
    """Verify a receipt for this device's batch `batch_id`.

    Args:
        coordinator: the coordinator keys the installed pack lists (`signing_keys`).

    Raises:
        ReceiptInvalid: anything wrong with it, a signer the pack does not list included.
    """
    trusted = [coordinator] if isinstance(coordinator, VerifyKey) else list(coordinator)
    if len(raw) > MAX_RECEIPT_BYTES:
        raise ReceiptInvalid("too large")
    if raw.startswith(_AGE_MAGIC):
        if device_key is None:
            raise ReceiptInvalid("sealed, and no device key to open it")
        try:
            raw = device_key.open_sealed(raw)
        except CryptoError:
            raise ReceiptInvalid("sealed to another device") from None
        if len(raw) > MAX_RECEIPT_BYTES:
            raise ReceiptInvalid("too large")
    try:
        outer = loads_strict(raw.decode("utf-8"))
        if outer.get("format") not in (RECEIPT_FORMAT, PREVIOUS_RECEIPT_FORMAT):
            raise ValueError("format")
        content = _verified(outer, trusted)
        data = loads_strict(content.decode("utf-8"))
        records = tuple(_record(entry) for entry in data["records"])
        receipt = Receipt(str(data["batch_id"]), unb64(str(data["device_public_key"])),
                          records, str(data["imported_at"]))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, UnicodeDecodeError,
            CryptoError, RecursionError) as error:
        raise ReceiptInvalid(str(error)) from None
    if receipt.batch_id != batch_id or receipt.device_public_key != device_public_key:
        raise ReceiptInvalid("for another batch or device")
    return receipt
