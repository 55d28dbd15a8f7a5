"""Key slots: the profile's data key wrapped by a passphrase, and sealed to the coordinator.

The LUKS / Bitwarden pattern: one random data-encryption key (DEK) encrypts everything; each
slot holds a copy of it that one secret can open. Changing the passphrase rewrites one slot
and never the records; the recovery slot lets the coordinator's age identity open a profile
whose passphrase was forgotten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fieldscreen.store.crypto import (
    AgeIdentity,
    CryptoError,
    KdfParameters,
    age_encrypt,
    b64,
    canonical_json,
    derive_key,
    unb64,
    unwrap_key,
    wrap_key,
)

SLOT_FORMAT = 1
PASSPHRASE_SLOT = "passphrase"  # noqa: S105 - a slot name, not a secret
RECOVERY_SLOT = "recovery"


@dataclass(frozen=True, slots=True)
class PassphraseSlot:
    """The DEK wrapped with a key stretched from the passphrase by Argon2id.

    The KDF parameters and the profile id are the associated data of the wrap, so a slot
    whose parameters were changed (say, to weaken them) does not open even with the right
    passphrase.
    """

    kdf: KdfParameters
    nonce: bytes
    wrapped: bytes

    @staticmethod
    def _context(profile_id: str, kdf: KdfParameters) -> bytes:
        return canonical_json({"slot": PASSPHRASE_SLOT, "format": SLOT_FORMAT,
                               "profile": profile_id, "kdf": kdf.to_json()})

    @classmethod
    def create(cls, dek: bytes, passphrase: str, kdf: KdfParameters,
               profile_id: str) -> PassphraseSlot:
        kdf = kdf.with_new_salt()
        nonce, wrapped = wrap_key(derive_key(passphrase, kdf), dek,
                                  cls._context(profile_id, kdf))
        return cls(kdf, nonce, wrapped)

    def open(self, passphrase: str, profile_id: str) -> bytes:
        """The DEK; CryptoError for a wrong passphrase or an altered slot."""
        kek = derive_key(passphrase, self.kdf)
        return unwrap_key(kek, self.nonce, self.wrapped, self._context(profile_id, self.kdf))

    def to_json(self) -> str:
        return json.dumps({"format": SLOT_FORMAT, "kdf": self.kdf.to_json(),
                           "nonce": b64(self.nonce), "wrapped": b64(self.wrapped)})

    @classmethod
    def from_json(cls, text: str) -> PassphraseSlot:
        data = _parse(text)
        return cls(KdfParameters.from_json(data.get("kdf")), unb64(str(data.get("nonce"))),
                   unb64(str(data.get("wrapped"))))


@dataclass(frozen=True, slots=True)
class RecoverySlot:
    """The DEK sealed (age) to the coordinator's recipient, bound to this profile's id."""

    recipient: str
    sealed: bytes

    @classmethod
    def create(cls, dek: bytes, recipient: str, profile_id: str) -> RecoverySlot:
        inner = canonical_json({"slot": RECOVERY_SLOT, "format": SLOT_FORMAT,
                                "profile": profile_id, "dek": b64(dek)})
        return cls(recipient, age_encrypt(inner, recipient))

    def open(self, identity: AgeIdentity, profile_id: str) -> bytes:
        inner = _parse(identity.decrypt(self.sealed).decode("utf-8", errors="replace"))
        if inner.get("slot") != RECOVERY_SLOT or inner.get("profile") != profile_id:
            raise CryptoError("this recovery slot belongs to another profile")
        return unb64(str(inner.get("dek")))

    def to_json(self) -> str:
        return json.dumps({"format": SLOT_FORMAT, "recipient": self.recipient,
                           "sealed": b64(self.sealed)})

    @classmethod
    def from_json(cls, text: str) -> RecoverySlot:
        data = _parse(text)
        return cls(str(data.get("recipient")), unb64(str(data.get("sealed"))))


def _parse(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise CryptoError("the key slot is damaged") from error
    if not isinstance(data, dict) or data.get("format", SLOT_FORMAT) != SLOT_FORMAT:
        raise CryptoError("the key slot is damaged or of an unknown format")
    return data
