"""Enrolment codes: a field device's public key, typed or pasted into the coordinator console.

The code is the 32-byte Ed25519 public key plus a 4-byte checksum, in base32 (letters and
digits only, no look-alike case issues), grouped for reading aloud. The checksum catches
typing mistakes; the fingerprint, shown on both screens, lets the two people confirm by eye
that the key was not swapped on the way.
"""

from __future__ import annotations

import base64

from fieldscreen.errors import UserError
from fieldscreen.i18n import _
from fieldscreen.store.crypto import VerifyKey, sha256

PREFIX = "FSE1"
_GROUP = 6
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
_BODY_LENGTH = 58  # 36 bytes in base32 without padding


def _checksum(raw: bytes) -> bytes:
    return sha256(b"fieldscreen enrolment\x00" + raw)[:4]


def enrolment_code(key: VerifyKey) -> str:
    """The code a field device shows for enrolment."""
    body = base64.b32encode(key.raw + _checksum(key.raw)).decode("ascii").rstrip("=")
    groups = [body[i : i + _GROUP] for i in range(0, len(body), _GROUP)]
    return "-".join([PREFIX, *groups])


def read_enrolment_code(code: str) -> VerifyKey:
    """The device key in `code`.

    Raises:
        UserError: not an enrolment code, or mistyped (the checksum does not match).
    """
    cleaned = "".join(code.split()).replace("-", "").upper()
    if not cleaned.startswith(PREFIX):
        raise UserError(_("This is not a FieldScreen enrolment code (it starts with {prefix})."
                          ).format(prefix=PREFIX))
    body = cleaned[len(PREFIX):]
    if len(body) != _BODY_LENGTH:
        raise UserError(_("The enrolment code has the wrong length; copy it again."))
    # Codes use A-Z and 2-7 only; 0, 1, 8 and 9 are usually O, I, B and g misread.
    if any(character not in _ALPHABET for character in body):
        raise UserError(_("The enrolment code has a typing mistake; copy it again."))
    raw = base64.b32decode(body + "=" * (-len(body) % 8))
    key, checksum = raw[:32], raw[32:]
    if _checksum(key) != checksum:
        raise UserError(_("The enrolment code has a typing mistake; copy it again."))
    return VerifyKey(key)
