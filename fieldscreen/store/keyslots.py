"""Key slots: the profile's data key wrapped by a passphrase, and sealed to the coordinators.

The LUKS / Bitwarden pattern: one random data-encryption key (DEK) encrypts everything; each
slot holds a copy of it that one secret can open. Changing the passphrase rewrites one slot
and never the records; the recovery slot lets any coordinator's age identity open a profile
whose passphrase was forgotten.

A coordinator profile can have several coordinators: the first one's slot is the profile's
passphrase slot; each coordinator added later has a slot of their own
(`CoordinatorSlot`), which holds the DEK and that coordinator's own private keys, so each
unlocks with their own passphrase, and no other coordinator can use their keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
# A coordinator added to a coordinator profile: "coordinator:<coordinator id>".
COORDINATOR_SLOT_PREFIX = "coordinator:"


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
class CoordinatorKeys:
    """What a coordinator's own slot opens to: the profile's DEK and their private keys."""

    dek: bytes
    age_identity: str  # AGE-SECRET-KEY-1...
    signing_key: bytes  # Ed25519 private key, 32 raw bytes

    def to_bytes(self) -> bytes:
        return canonical_json({"dek": b64(self.dek), "age_identity": self.age_identity,
                               "signing_key": b64(self.signing_key)})

    @classmethod
    def from_bytes(cls, raw: bytes) -> CoordinatorKeys:
        data = _parse(raw.decode("utf-8", errors="replace"))
        try:
            return cls(unb64(str(data["dek"])), str(data["age_identity"]),
                       unb64(str(data["signing_key"])))
        except KeyError as error:
            raise CryptoError("the key slot is damaged") from error


@dataclass(frozen=True, slots=True)
class CoordinatorSlot:
    """A coordinator's own slot: `CoordinatorKeys` wrapped with a key stretched from that
    coordinator's passphrase by Argon2id. The profile id, the coordinator id and the KDF
    parameters are the associated data: a slot copied under another coordinator's name, or
    weakened, does not open."""

    coordinator_id: str
    kdf: KdfParameters
    nonce: bytes
    wrapped: bytes

    @property
    def name(self) -> str:
        return COORDINATOR_SLOT_PREFIX + self.coordinator_id

    @staticmethod
    def _context(profile_id: str, coordinator_id: str, kdf: KdfParameters) -> bytes:
        return canonical_json({"slot": "coordinator", "format": SLOT_FORMAT,
                               "profile": profile_id, "coordinator": coordinator_id,
                               "kdf": kdf.to_json()})

    @classmethod
    def create(cls, keys: CoordinatorKeys, passphrase: str, kdf: KdfParameters,
               profile_id: str, coordinator_id: str) -> CoordinatorSlot:
        kdf = kdf.with_new_salt()
        nonce, wrapped = wrap_key(derive_key(passphrase, kdf), keys.to_bytes(),
                                  cls._context(profile_id, coordinator_id, kdf))
        return cls(coordinator_id, kdf, nonce, wrapped)

    def open(self, passphrase: str, profile_id: str) -> CoordinatorKeys:
        """The keys; CryptoError for a wrong passphrase or an altered slot."""
        kek = derive_key(passphrase, self.kdf)
        return CoordinatorKeys.from_bytes(unwrap_key(
            kek, self.nonce, self.wrapped,
            self._context(profile_id, self.coordinator_id, self.kdf)))

    def to_json(self) -> str:
        return json.dumps({"format": SLOT_FORMAT, "coordinator": self.coordinator_id,
                           "kdf": self.kdf.to_json(), "nonce": b64(self.nonce),
                           "wrapped": b64(self.wrapped)})

    @classmethod
    def from_json(cls, text: str) -> CoordinatorSlot:
        data = _parse(text)
        return cls(str(data.get("coordinator")), KdfParameters.from_json(data.get("kdf")),
                   unb64(str(data.get("nonce"))), unb64(str(data.get("wrapped"))))


@dataclass(frozen=True, slots=True)
class RecoverySlot:
    """The DEK sealed (age) to every coordinator's recipient, bound to this profile's id:
    any coordinator of the deployment can recover the profile."""

    recipients: tuple[str, ...]
    sealed: bytes

    @property
    def recipient(self) -> str:
        return self.recipients[0]

    @classmethod
    def create(cls, dek: bytes, recipient: str | Sequence[str],
               profile_id: str) -> RecoverySlot:
        recipients = (recipient,) if isinstance(recipient, str) else tuple(recipient)
        inner = canonical_json({"slot": RECOVERY_SLOT, "format": SLOT_FORMAT,
                                "profile": profile_id, "dek": b64(dek)})
        return cls(recipients, age_encrypt(inner, recipients))

    def open(self, identity: AgeIdentity, profile_id: str) -> bytes:
        inner = _parse(identity.decrypt(self.sealed).decode("utf-8", errors="replace"))
        if inner.get("slot") != RECOVERY_SLOT or inner.get("profile") != profile_id:
            raise CryptoError("this recovery slot belongs to another profile")
        return unb64(str(inner.get("dek")))

    def to_json(self) -> str:
        return json.dumps({"format": SLOT_FORMAT, "recipient": self.recipient,
                           "recipients": list(self.recipients), "sealed": b64(self.sealed)})

    @classmethod
    def from_json(cls, text: str) -> RecoverySlot:
        data = _parse(text)
        recipients = data.get("recipients") or [data.get("recipient")]
        return cls(tuple(str(each) for each in recipients), unb64(str(data.get("sealed"))))


def _parse(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise CryptoError("the key slot is damaged") from error
    if not isinstance(data, dict) or data.get("format", SLOT_FORMAT) != SLOT_FORMAT:
        raise CryptoError("the key slot is damaged or of an unknown format")
    return data
