"""Every cryptographic primitive FieldScreen uses, behind small recipes that are hard to misuse.

This is the only module that imports `cryptography` primitives or `pyrage`. Every failure to
open something (wrong key, altered bytes, wrong associated data) raises `CryptoError`; no
function signals failure by returning False.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
# Version byte in front of every field ciphertext, so the format can change later.
FIELD_FORMAT = b"\x01"


class CryptoError(Exception):
    """Something could not be decrypted or verified: wrong key, altered data, wrong context."""


def random_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as error:
        raise CryptoError("not valid base64") from error


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes for hashing, signing and associated data."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def keyed_hash(key: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256 over length-prefixed parts (so part boundaries cannot shift)."""
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(len(part).to_bytes(8, "big"))
        mac.update(part)
    return mac.digest()


def derive_subkey(key: bytes, purpose: str) -> bytes:
    """An independent key for one purpose, derived from `key` (HMAC-based, one block)."""
    return hmac.new(key, b"fieldscreen subkey/" + purpose.encode("utf-8"),
                    hashlib.sha256).digest()


# -- field encryption ------------------------------------------------------------------------


class FieldCipher:
    """AES-256-GCM for one value at a time, bound to where it is stored.

    The associated data names the table, column, row id and schema version, so a ciphertext
    copied into another row, column or table does not open.
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("a field key is 32 bytes")
        self._aead = AESGCM(key)

    @staticmethod
    def context(table: str, column: str, row_id: str, schema_version: int) -> bytes:
        return "\x00".join(
            ("fieldscreen/field/v1", table, column, row_id, str(schema_version))).encode()

    @staticmethod
    def row_context(table: str, column: str, schema_version: int) -> Callable[[str], bytes]:
        """`context(table, column, row_id, schema_version)` as a function of the row id,
        with the fixed parts built once: bulk reads open one field per row."""
        head = "\x00".join(("fieldscreen/field/v1", table, column, "")).encode()
        tail = f"\x00{schema_version}".encode()
        return lambda row_id: head + row_id.encode() + tail

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FIELD_FORMAT + nonce + self._aead.encrypt(nonce, plaintext, context)

    def seal_many(self, items: list[tuple[bytes, bytes]]) -> list[bytes]:
        """`seal` for many (plaintext, context) pairs: an import seals two fields per
        record, and one call for all the nonces and one loop save a third of its cost."""
        encrypt = self._aead.encrypt
        nonces = os.urandom(NONCE_BYTES * len(items))
        sealed = []
        for index, (plaintext, context) in enumerate(items):
            nonce = nonces[index * NONCE_BYTES:(index + 1) * NONCE_BYTES]
            sealed.append(FIELD_FORMAT + nonce + encrypt(nonce, plaintext, context))
        return sealed

    def open_many(self, items: list[tuple[bytes, bytes]]) -> list[bytes]:
        """Open many (sealed, context) pairs; CryptoError at the first that does not open.

        The same checks as `open`, in one loop: listing opens one summary per record.
        """
        decrypt = self._aead.decrypt
        header = 1 + NONCE_BYTES
        opened = []
        try:
            for sealed, context in items:
                if len(sealed) < header + 16 or sealed[:1] != FIELD_FORMAT:
                    raise CryptoError("not a FieldScreen field ciphertext")
                opened.append(decrypt(sealed[1:header], sealed[header:], context))
        except InvalidTag:
            raise CryptoError("a field does not open with this key in this place") from None
        return opened

    def open(self, sealed: bytes, context: bytes) -> bytes:
        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != FIELD_FORMAT:
            raise CryptoError("not a FieldScreen field ciphertext")
        nonce = sealed[1 : 1 + NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[1 + NONCE_BYTES :], context)
        except InvalidTag:
            raise CryptoError("the field does not open with this key in this place") from None


# -- passphrase key derivation ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KdfParameters:
    """Argon2id parameters, stored beside the salt and authenticated with the slot."""

    salt: str  # base64
    iterations: int
    lanes: int
    memory_kib: int
    algorithm: str = "argon2id"

    # Bounds checked before deriving: parameters from a file must not make unlocking hang
    # or exhaust memory (a tampered slot could ask for terabytes).
    MAX_MEMORY_KIB = 2 * 1024 * 1024
    MAX_ITERATIONS = 64
    MAX_LANES = 16

    def check(self) -> None:
        if self.algorithm != "argon2id":
            raise CryptoError("unknown key derivation")
        if not (8 * self.lanes <= self.memory_kib <= self.MAX_MEMORY_KIB):
            raise CryptoError("key derivation memory out of bounds")
        if not (1 <= self.iterations <= self.MAX_ITERATIONS):
            raise CryptoError("key derivation iterations out of bounds")
        if not (1 <= self.lanes <= self.MAX_LANES):
            raise CryptoError("key derivation lanes out of bounds")
        if len(unb64(self.salt)) != SALT_BYTES:
            raise CryptoError("key derivation salt has the wrong size")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> KdfParameters:
        try:
            parameters = cls(
                salt=str(data["salt"]),
                iterations=int(data["iterations"]),
                lanes=int(data["lanes"]),
                memory_kib=int(data["memory_kib"]),
                algorithm=str(data["algorithm"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CryptoError("key derivation parameters are damaged") from error
        parameters.check()
        return parameters

    def with_new_salt(self) -> KdfParameters:
        return KdfParameters(b64(os.urandom(SALT_BYTES)), self.iterations, self.lanes,
                             self.memory_kib)


def derive_key(passphrase: str, parameters: KdfParameters) -> bytes:
    """Stretch a passphrase into a 256-bit key with Argon2id."""
    parameters.check()
    return Argon2id(
        salt=unb64(parameters.salt),
        length=KEY_BYTES,
        iterations=parameters.iterations,
        lanes=parameters.lanes,
        memory_cost=parameters.memory_kib,
    ).derive(passphrase.encode("utf-8"))


def calibrate_kdf(target_seconds: float = 0.5, memory_kib: int = 128 * 1024,
                  lanes: int = 4) -> tuple[KdfParameters, float]:
    """Parameters that take about `target_seconds` on this machine, and the time measured.

    Memory is fixed (it is what makes guessing on graphics cards expensive); iterations grow
    until the target is reached.
    """
    iterations = 1
    while True:
        parameters = KdfParameters(b64(os.urandom(SALT_BYTES)), iterations, lanes, memory_kib)
        started = time.perf_counter()
        derive_key("calibration", parameters)
        elapsed = time.perf_counter() - started
        if elapsed >= target_seconds * 0.9 or iterations >= KdfParameters.MAX_ITERATIONS:
            return parameters.with_new_salt(), elapsed
        # Time grows linearly with iterations; aim for the target in one step, then walk.
        iterations = max(iterations + 1, int(iterations * target_seconds / max(elapsed, 1e-3)))
        iterations = min(iterations, KdfParameters.MAX_ITERATIONS)


def wrap_key(kek: bytes, key: bytes, context: bytes) -> tuple[bytes, bytes]:
    """Encrypt `key` under `kek`; returns (nonce, wrapped). `context` is authenticated."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce, AESGCM(kek).encrypt(nonce, key, context)


def unwrap_key(kek: bytes, nonce: bytes, wrapped: bytes, context: bytes) -> bytes:
    try:
        return AESGCM(kek).decrypt(nonce, wrapped, context)
    except (InvalidTag, ValueError):
        raise CryptoError("the key does not unwrap: wrong passphrase or altered slot") from None


# -- signatures --------------------------------------------------------------------------------


class SigningKey:
    """An Ed25519 private key that signs domain-separated messages."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, raw: bytes) -> SigningKey:
        try:
            return cls(Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError as error:
            raise CryptoError("not an Ed25519 private key") from error

    def to_bytes(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    @property
    def public(self) -> VerifyKey:
        return VerifyKey(self._private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    def sign(self, domain: str, message: bytes) -> bytes:
        return self._private.sign(_signing_input(domain, message))

    def openssh_private_key(self) -> bytes:
        """This key as an unencrypted OpenSSH private key file: the identity the stock
        `age -d -i FILE` opens files sealed to `VerifyKey.ssh_recipient` with."""
        return self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption())

    def open_sealed(self, data: bytes) -> bytes:
        """Decrypt an age file sealed to this key's `ssh-ed25519` recipient
        (`VerifyKey.ssh_recipient`): receipts come to a field device this way."""
        import pyrage

        openssh = self._private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption())
        try:
            identity = pyrage.ssh.Identity.from_buffer(openssh)
            return pyrage.decrypt(data, [identity])
        except Exception as error:  # pyrage.DecryptError and friends
            raise CryptoError("the age file does not open with this key") from error


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """An Ed25519 public key (32 raw bytes)."""

    raw: bytes

    def verify(self, domain: str, message: bytes, signature: bytes) -> None:
        """Raises CryptoError unless `signature` is this key's over (`domain`, `message`)."""
        try:
            key = Ed25519PublicKey.from_public_bytes(self.raw)
            key.verify(signature, _signing_input(domain, message))
        except (InvalidSignature, ValueError):
            raise CryptoError("the signature does not verify") from None

    def ssh_recipient(self) -> str:
        """This key as an age `ssh-ed25519` recipient: age seals to it directly, so the
        device key already enrolled serves for encryption too."""
        blob = b"".join(len(part).to_bytes(4, "big") + part
                        for part in (b"ssh-ed25519", self.raw))
        return "ssh-ed25519 " + base64.b64encode(blob).decode("ascii")

    def seal(self, data: bytes) -> bytes:
        """Encrypt `data` with age to this key's `ssh-ed25519` recipient."""
        import pyrage

        try:
            recipient = pyrage.ssh.Recipient.from_str(self.ssh_recipient())
        except Exception as error:
            raise CryptoError("not an Ed25519 public key") from error
        return pyrage.encrypt(data, [recipient])

    def fingerprint(self) -> str:
        """A short hex fingerprint people can compare by eye, in groups of four."""
        digest = sha256(b"fieldscreen key fingerprint\x00" + self.raw).hex()[:24]
        return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def _signing_input(domain: str, message: bytes) -> bytes:
    # Domain separation: a signature made for one purpose never verifies for another.
    tag = f"FieldScreen signature v1\x00{domain}\x00".encode()
    return tag + len(message).to_bytes(8, "big") + message


# -- age (batches and recovery slots) ------------------------------------------------------


class AgeIdentity:
    """An age X25519 identity (the coordinator's); its recipient ships in deployment packs."""

    def __init__(self, secret: str) -> None:
        import pyrage

        try:
            self._identity = pyrage.x25519.Identity.from_str(secret.strip())
        except Exception as error:  # pyrage raises its own types for malformed keys
            raise CryptoError("not an age identity (AGE-SECRET-KEY-1...)") from error
        self._secret = secret.strip()

    @classmethod
    def generate(cls) -> AgeIdentity:
        import pyrage

        return cls(str(pyrage.x25519.Identity.generate()))

    @property
    def secret(self) -> str:
        return self._secret

    @property
    def recipient(self) -> str:
        return str(self._identity.to_public())

    def decrypt(self, data: bytes) -> bytes:
        import pyrage

        try:
            return pyrage.decrypt(data, [self._identity])
        except Exception as error:  # pyrage.DecryptError and friends
            raise CryptoError("the age file does not open with this identity") from error


def age_encrypt(data: bytes, recipient: str | Sequence[str]) -> bytes:
    """Encrypt `data` to one age X25519 recipient (`age1...`) or to several, binary age
    format: with several (every coordinator of a deployment), any one of their identities
    opens it. CryptoError for no recipient, or one that is not an age recipient."""
    import pyrage

    recipients = [recipient] if isinstance(recipient, str) else list(recipient)
    if not recipients:
        raise CryptoError("no age recipient to encrypt to")
    try:
        parsed = [pyrage.x25519.Recipient.from_str(each.strip()) for each in recipients]
    except Exception as error:
        raise CryptoError("not an age recipient (age1...)") from error
    return pyrage.encrypt(data, parsed)


def check_age_recipient(recipient: str) -> str:
    """The recipient, stripped, or CryptoError if it is not an age X25519 recipient."""
    import pyrage

    try:
        pyrage.x25519.Recipient.from_str(recipient.strip())
    except Exception as error:
        raise CryptoError("not an age recipient (age1...)") from error
    return recipient.strip()
