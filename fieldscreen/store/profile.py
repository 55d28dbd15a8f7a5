"""Profiles: create, unlock (passphrase or the coordinator's recovery identity), change, lock.

A profile is one SQLite database under `<data>/profiles/<name>/`. Everything that could
describe a child, and every private key, is encrypted with the profile's random data key
(DEK); the DEK itself exists on disk only inside key slots.

A coordinator profile may hold several coordinators (`add_coordinator`): each unlocks with
their own passphrase (their own key slot), acts with their own age identity and signing
key, and is named in the audit log as the actor of what they do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldscreen.engine.session import utc_now
from fieldscreen.errors import UserError
from fieldscreen.files import fsync_directory
from fieldscreen.i18n import _, ngettext
from fieldscreen.store.audit import AuditAction, AuditLog, AuditVerification
from fieldscreen.store.crypto import (
    AgeIdentity,
    CryptoError,
    FieldCipher,
    KdfParameters,
    SigningKey,
    calibrate_kdf,
    check_age_recipient,
    derive_subkey,
    random_key,
)
from fieldscreen.store.database import (
    ProfileDatabase,
    StorageDamaged,
    StorageUnavailable,
    storage_error,
    unwritable,
)
from fieldscreen.store.follow_up import ReferralQueue, share_case, unshare_case
from fieldscreen.store.inbox import DeviceRegistry, Inbox
from fieldscreen.store.keyslots import (
    COORDINATOR_SLOT_PREFIX,
    PASSPHRASE_SLOT,
    RECOVERY_SLOT,
    CoordinatorKeys,
    CoordinatorSlot,
    PassphraseSlot,
    RecoverySlot,
)
from fieldscreen.store.layout import DATABASE_FILE, profile_names, profiles_root
from fieldscreen.store.outbox import Outbox
from fieldscreen.store.partners import PartnerInbox, PartnerRegistry, ReferralLedger
from fieldscreen.store.passphrase_policy import MIN_PASSPHRASE_LENGTH
from fieldscreen.store.queue_index import append_entries
from fieldscreen.store.records import RecordRepository
from fieldscreen.store.schema import MIGRATIONS
from fieldscreen.store.timestamps import precise_utc_stamp

if TYPE_CHECKING:
    from fieldscreen.store.postgres import PostgresDatabase

Clock = Callable[[], dt.datetime]
MAX_UNLOCK_DELAY = 300.0
SECRETS_SCHEMA_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# Names of the secrets a profile may hold (each encrypted with the DEK).
DEVICE_SIGNING_KEY = "device_signing_key"
COORDINATOR_AGE_IDENTITY = "coordinator_age_identity"
COORDINATOR_SIGNING_KEY = "coordinator_signing_key"
DEPLOYMENT_PACK = "deployment_pack"
PARTNER_SIGNING_KEY = "partner_signing_key"
# Which imported screenings the coordinator decided are one child (workflows.linkage).
SCREENING_LINKS = "screening_links"
# The deployment's linkage key (HMAC key of the child codes, docs/security.md): made by the
# coordinator, and on a field laptop the copy its installed pack brought sealed to it.
LINKAGE_KEY = "linkage_key"
# The number of the last deployment pack this coordinator wrote (next_pack_sequence).
PACK_SEQUENCE = "pack-sequence"
# Packs replaced while drafts existed, kept so each draft resumes with the form version it
# was started with: "<prefix>000001", "<prefix>000002" ... (higher is newer).
EARLIER_PACK_PREFIX = "deployment_pack.earlier."
# Coordinators of one profile, the first included: as many as a deployment pack may list
# (exchange.pack.MAX_COORDINATORS); unlocking tries each one's slot in turn.
MAX_COORDINATORS = 16
MAX_COORDINATOR_NAME = 200



class ProfileRole(StrEnum):
    FIELD = "field"
    COORDINATOR = "coordinator"
    PARTNER = "partner"  # a partner service receiving referrals (docs/referrals.md)


class ProfileNotFound(UserError):
    pass


class ProfileExists(UserError):
    pass


class WeakPassphrase(UserError):
    pass


class WrongPassphrase(UserError):
    """The passphrase did not open the profile. `delay` is the wait before the next try."""

    def __init__(self, message: str, *, hint: str | None = None, delay: float = 0.0) -> None:
        super().__init__(message, hint=hint)
        self.delay = delay


class UnlockDelayed(UserError):
    """Too many wrong passphrases: the next try must wait `delay` seconds."""

    def __init__(self, delay: float) -> None:
        seconds = max(1, int(delay + 0.999))
        super().__init__(
            ngettext("Too many wrong passphrases. Wait {seconds} second before trying again.",
                     "Too many wrong passphrases. Wait {seconds} seconds before trying again.",
                     seconds).format(seconds=seconds),
            hint=_("If you forgot the passphrase, your coordinator can recover the profile."),
        )
        self.delay = delay


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    """What is known about a profile without unlocking it (technical metadata only)."""

    profile_id: str
    name: str
    role: ProfileRole
    created_at: str
    demo: bool
    has_recovery: bool


@dataclass(frozen=True, slots=True)
class CoordinatorEntry:
    """One coordinator of a coordinator profile: public keys only.

    The first coordinator (`first`) is the profile's own: its id is the profile id, its
    name the profile's name.
    """

    coordinator_id: str
    name: str
    age_recipient: str
    signing_key: bytes  # the Ed25519 public key, 32 raw bytes
    added_at: str
    first: bool = False


class CoordinatorChangeRefused(UserError):
    """A coordinator that cannot be added or removed; nothing was changed."""


def unlock_delay(failures: int) -> float:
    """Seconds to wait after `failures` wrong passphrases in a row: 0, 1, 2, 4 ... up to 5 min."""
    if failures <= 0:
        return 0.0
    return min(2.0 ** (failures - 1), MAX_UNLOCK_DELAY)


def normalise_passphrase(passphrase: str) -> str:
    """The passphrase as every new key slot stores it: Unicode NFC.

    The same words arrive composed ("é" as one code point) from one keyboard or input
    method and decomposed ("e" + accent) from another; normalising makes both open.
    """
    return unicodedata.normalize("NFC", passphrase)


def passphrase_candidates(passphrase: str) -> list[str]:
    """The forms to try at unlock: NFC first, then exactly as typed, then NFD.

    Slots written before normalisation hold whatever the keyboard produced then, so those
    profiles keep opening; each extra form costs one more key derivation, only for input
    that is not already in NFC.
    """
    forms = [normalise_passphrase(passphrase), passphrase,
             unicodedata.normalize("NFD", passphrase)]
    return list(dict.fromkeys(forms))


def check_passphrase_strength(passphrase: str) -> None:
    """Refuse passphrases too short to resist guessing (the UI adds strength feedback)."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise WeakPassphrase(
            _("The passphrase is too short."),
            hint=_("Use at least {count} characters; a few unrelated words are easy to "
                   "remember and hard to guess.").format(count=MIN_PASSPHRASE_LENGTH),
        )



class ProfileStore:
    """The profiles kept in one data folder.

    Args:
        data_dir: the app's data folder (profiles live in `profiles/` below it).
        clock: the current aware time.
        kdf: Argon2id parameters for new passphrase slots; None calibrates to ~0.5 s here.
    """

    def __init__(self, data_dir: Path, *, clock: Clock = utc_now,
                 kdf: KdfParameters | None = None, database: str | None = None) -> None:
        self.data_dir = data_dir
        self.root = profiles_root(data_dir)
        self._clock = clock
        self._kdf = kdf
        # A coordinator profile on a PostgreSQL server (docs/postgresql.md) instead of the
        # SQLite file; the local folder keeps only what stays on this computer.
        self._server = database

    def path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise UserError(
                _("'{name}' is not a usable profile name.").format(name=name[:64]),
                hint=_("Use letters, digits, '.', '_' or '-' (up to 64)."),
            )
        return self.root / name

    def names(self) -> list[str]:
        return profile_names(self.data_dir)

    def create(self, name: str, role: ProfileRole, passphrase: str, *,
               recovery_recipient: str | None = None, demo: bool = False) -> UnlockedProfile:
        """Create a profile with its keys and slots, and return it unlocked."""
        passphrase = normalise_passphrase(passphrase)
        check_passphrase_strength(passphrase)
        if recovery_recipient is not None:
            try:
                recovery_recipient = check_age_recipient(recovery_recipient)
            except CryptoError:
                raise UserError(_("The recovery key is not an age recipient (age1...)."),
                                hint=_("Copy it again from the coordinator's deployment pack.")
                                ) from None
        folder = self.path(name)
        if self._server is not None and role is not ProfileRole.COORDINATOR:
            raise UserError(_("Only a coordinator profile can be kept on a database server."),
                            hint=_("Create field and partner profiles without --database."))
        if (folder / DATABASE_FILE).exists() and self._server is None:
            raise ProfileExists(_("A profile called '{name}' already exists.").format(name=name),
                                hint=_("Choose another name, or unlock the existing profile."))
        kdf = self._kdf
        calibrated = None
        if kdf is None:
            kdf, calibrated = calibrate_kdf()
        # Built under a temporary name and renamed when complete: a creation cut short
        # (power cut, kill) leaves no half-made profile that would block the name.
        building = folder / (DATABASE_FILE + ".creating")
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            _remove_database_files(building)
        except OSError as error:
            # A read-only drive or folder, or a full disk: say so, not a traceback.
            raise storage_error(error) or StorageUnavailable(
                _("Cannot open the profile database: {reason}").format(
                    reason=error.strerror or error)) from None
        database = (self._server_database(folder, empty=True) if self._server is not None
                    else ProfileDatabase(building, MIGRATIONS))
        try:
            profile_id = str(uuid.uuid4())
            dek = random_key()
            slot = PassphraseSlot.create(dek, passphrase, kdf, profile_id)
            now = self._clock()
            info = ProfileInfo(profile_id, name, role, precise_utc_stamp(now), demo,
                               recovery_recipient is not None)
            unlocked = UnlockedProfile(database, dek, info, self._clock)
            with database.write() as db:
                metadata = {"profile_id": profile_id, "name": name, "role": role.value,
                            "created_at": info.created_at, "demo": "1" if demo else "0"}
                if calibrated is not None:
                    metadata["kdf_calibrated_seconds"] = f"{calibrated:.3f}"
                for key, value in metadata.items():
                    db.execute("INSERT INTO profile (key, value) VALUES (?, ?)", [key, value])
                db.execute("INSERT INTO key_slots (slot, data, updated_at) VALUES (?, ?, ?)",
                           [PASSPHRASE_SLOT, slot.to_json(), precise_utc_stamp(now)])
                db.execute("INSERT INTO unlock_attempts (id, failures) VALUES (1, 0)")
                if recovery_recipient is not None:
                    recovery = RecoverySlot.create(dek, recovery_recipient, profile_id)
                    db.execute(
                        "INSERT INTO key_slots (slot, data, updated_at) VALUES (?, ?, ?)",
                        [RECOVERY_SLOT, recovery.to_json(), precise_utc_stamp(now)])
                if role is ProfileRole.FIELD:
                    unlocked._put_secret(db, DEVICE_SIGNING_KEY,
                                         SigningKey.generate().to_bytes())
                elif role is ProfileRole.PARTNER:
                    unlocked._put_secret(db, PARTNER_SIGNING_KEY,
                                         SigningKey.generate().to_bytes())
                else:
                    unlocked._put_secret(db, COORDINATOR_AGE_IDENTITY,
                                         AgeIdentity.generate().secret.encode("ascii"))
                    unlocked._put_secret(db, COORDINATOR_SIGNING_KEY,
                                         SigningKey.generate().to_bytes())
                unlocked._audit.append(db, AuditAction.PROFILE_CREATED, at=now,
                                       details={"role": role.value})
            if self._server is not None:  # one server transaction made it whole
                return UnlockedProfile(database, dek, info, self._clock)
            database.close()  # checkpoints the write-ahead log into the one file
            final = folder / DATABASE_FILE
            os.replace(building, final)
            fsync_directory(folder)
            database = ProfileDatabase(final, MIGRATIONS)
            return UnlockedProfile(database, dek, info, self._clock)
        except BaseException as error:
            database.close()
            _remove_database_files(building)
            if isinstance(error, OSError) and (mapped := storage_error(error)) is not None:
                raise mapped from None
            raise

    def _server_database(self, folder: Path, *, empty: bool) -> PostgresDatabase:
        """The server's database for a profile whose local files go in `folder`."""
        from fieldscreen.store.postgres import PostgresDatabase

        assert self._server is not None
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise storage_error(error) or StorageUnavailable(
                _("Cannot open the profile database: {reason}").format(
                    reason=error.strerror or error)) from None
        database = PostgresDatabase(self._server, folder)
        if empty and database.holds_profile():
            database.close()
            raise ProfileExists(_("The database already holds a coordinator profile."),
                                hint=_("Unlock it with --profile and its passphrase, or use "
                                       "another database."))
        return database

    def open(self, name: str) -> LockedProfile:
        """The profile called `name`, still locked."""
        if self._server is not None:
            database = self._server_database(self.path(name), empty=False)
            if not database.holds_profile():
                database.close()
                raise ProfileNotFound(
                    _("The database holds no FieldScreen profile yet."),
                    hint=_("Create the coordinator's profile there first: fieldscreen "
                           "profile create --role coordinator --database URL"))
            return LockedProfile(database, self._clock)
        path = self.path(name) / DATABASE_FILE
        if not path.is_file():
            known = self.names()
            raise ProfileNotFound(
                _("There is no profile called '{name}'.").format(name=name),
                hint=(_("Profiles here: {names}.").format(names=", ".join(known)) if known
                      else _("Create one first: fieldscreen profile create --role field")),
            )
        # A profile on a read-only folder still opens for reading (docs/security.md).
        return LockedProfile(ProfileDatabase(path, MIGRATIONS, read_only=unwritable(path)),
                             self._clock)


def _remove_database_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _read_info(database: ProfileDatabase) -> ProfileInfo:
    with database.read() as connection:
        values = dict(connection.execute("SELECT key, value FROM profile").fetchall())
        has_recovery = connection.execute(
            "SELECT 1 FROM key_slots WHERE slot = ?", [RECOVERY_SLOT]).fetchone() is not None
    try:
        return ProfileInfo(values["profile_id"], values["name"], ProfileRole(values["role"]),
                           values["created_at"], values.get("demo") == "1", has_recovery)
    except (KeyError, ValueError):
        raise StorageDamaged(_("This folder does not hold a complete FieldScreen profile."),
                             hint=_("Check the --basedir and profile name.")) from None


class LockedProfile:
    """A profile whose keys are not available; unlock it to read or write records."""

    def __init__(self, database: ProfileDatabase, clock: Clock) -> None:
        self._database = database
        self._clock = clock
        self.info = _read_info(database)

    def remaining_delay(self) -> float:
        """Seconds before another passphrase may be tried (survives restarts)."""
        with self._database.read() as connection:
            failures, last = connection.execute(
                "SELECT failures, last_failure FROM unlock_attempts WHERE id = 1").fetchone()
        if not failures or not last:
            return 0.0
        elapsed = (self._clock() - dt.datetime.fromisoformat(last.replace("Z", "+00:00"))
                   ).total_seconds()
        # A clock set back must not lock a worker out for long: cap at the full delay.
        return max(0.0, min(unlock_delay(failures), unlock_delay(failures) - elapsed))

    def unlock(self, passphrase: str) -> UnlockedProfile:
        """Open the profile with its passphrase.

        Raises:
            UnlockDelayed: too soon after wrong passphrases.
            WrongPassphrase: the passphrase (or an altered key slot) did not open it.
        """
        delay = self.remaining_delay()
        if delay > 0:
            raise UnlockDelayed(delay)
        slot = self._passphrase_slot()
        others = self._coordinator_slots()
        dek = None
        acting: tuple[str, CoordinatorKeys] | None = None
        for candidate in passphrase_candidates(passphrase):
            with contextlib.suppress(CryptoError):
                dek = slot.open(candidate, self.info.profile_id)
                break
            # The coordinators added later, each with their own slot (and passphrase).
            for other in others:
                with contextlib.suppress(CryptoError):
                    keys = other.open(candidate, self.info.profile_id)
                    dek, acting = keys.dek, (other.coordinator_id, keys)
                    break
            if dek is not None:
                break
        if dek is None:
            failures = self._record_failure()
            raise WrongPassphrase(
                _("That passphrase does not open this profile."),
                hint=_("Check Caps Lock and the keyboard language. If you forgot it, your "
                       "coordinator can recover the profile."),
                delay=unlock_delay(failures),
            )
        return self._opened(dek, AuditAction.UNLOCKED, acting)

    def _coordinator_slots(self) -> list[CoordinatorSlot]:
        """The slots of the coordinators added to this profile and not removed (at most
        MAX_COORDINATORS: each costs a key derivation at every unlock)."""
        with self._database.read() as connection:
            rows = connection.execute(
                "SELECT k.data FROM key_slots k JOIN coordinators c "
                "ON k.slot = ? || c.coordinator_id WHERE c.removed_at IS NULL "
                "ORDER BY c.added_at, c.coordinator_id LIMIT ?",
                [COORDINATOR_SLOT_PREFIX, MAX_COORDINATORS]).fetchall()
        found = []
        for (data,) in rows:
            # A damaged slot opens for nobody; the others still do.
            with contextlib.suppress(CryptoError):
                found.append(CoordinatorSlot.from_json(data))
        return found

    def recover(self, identity: AgeIdentity, new_passphrase: str) -> UnlockedProfile:
        """Open the profile with the coordinator's age identity and set a new passphrase."""
        new_passphrase = normalise_passphrase(new_passphrase)
        check_passphrase_strength(new_passphrase)
        with self._database.read() as connection:
            row = connection.execute("SELECT data FROM key_slots WHERE slot = ?",
                                     [RECOVERY_SLOT]).fetchone()
        if row is None:
            raise UserError(_("This profile has no recovery slot."),
                            hint=_("It was created without a coordinator's recovery key."))
        try:
            dek = RecoverySlot.from_json(row[0]).open(identity, self.info.profile_id)
        except CryptoError:
            raise UserError(_("This identity does not open the profile's recovery slot."),
                            hint=_("Use the identity of the coordinator whose deployment pack "
                                   "this profile was created from.")) from None
        unlocked = self._opened(dek, AuditAction.RECOVERED)
        unlocked.change_passphrase(new_passphrase)
        return unlocked

    def _passphrase_slot(self) -> PassphraseSlot:
        with self._database.read() as connection:
            row = connection.execute("SELECT data FROM key_slots WHERE slot = ?",
                                     [PASSPHRASE_SLOT]).fetchone()
        try:
            if row is None:
                raise CryptoError("no passphrase slot")
            return PassphraseSlot.from_json(row[0])
        except CryptoError:
            raise StorageDamaged(
                _("The profile's passphrase slot is damaged or was altered, so it is refused."),
                hint=_("Your coordinator can still recover the profile with the recovery "
                       "slot."),
            ) from None

    def _record_failure(self) -> int:
        if self._database.read_only:
            return 1
        with self._database.write() as db:
            db.execute("UPDATE unlock_attempts SET failures = failures + 1, last_failure = ? "
                       "WHERE id = 1", [precise_utc_stamp(self._clock())])
            return db.execute("SELECT failures FROM unlock_attempts WHERE id = 1").fetchone()[0]

    def _check_key(self, dek: bytes) -> None:
        """Refuse a key that does not open this profile's secrets.

        A slot that opens is not proof enough: someone who can write the file could seal a
        key of their own into a recovery slot (its profile id is in clear). Writing with
        such a key (an audit entry, a new passphrase slot) would lock the real key out.
        """
        cipher = FieldCipher(derive_subkey(dek, "secrets"))
        with self._database.read() as connection:
            rows = connection.execute("SELECT name, value FROM secrets").fetchall()
        try:
            if not rows:
                raise CryptoError("no secrets to check the key against")
            for name, value in rows:
                cipher.open(value, FieldCipher.context("secrets", "value", name,
                                                       SECRETS_SCHEMA_VERSION))
        except CryptoError:
            raise UserError(
                _("This key does not open the profile: the key slot was altered."),
                hint=_("Nothing was changed. Ask your coordinator for help."),
            ) from None

    def _opened(self, dek: bytes, action: AuditAction,
                acting: tuple[str, CoordinatorKeys] | None = None) -> UnlockedProfile:
        self._check_key(dek)
        unlocked = UnlockedProfile(self._database, dek, self.info, self._clock, acting)
        if self._database.read_only:
            # Nothing can be written: this unlock is not audited, and no failed attempt
            # was counted either (docs/security.md, "Limits").
            return unlocked
        with self._database.write() as db:
            db.execute("UPDATE unlock_attempts SET failures = 0, last_failure = NULL "
                       "WHERE id = 1")
            unlocked._audit.append(db, action, at=self._clock())
        return unlocked

    def close(self) -> None:
        self._database.close()


class UnlockedProfile:
    """A profile with its DEK in memory: records, secrets, audit log, passphrase change.

    `lock()` drops the key and closes the database; the object is unusable afterwards.
    """

    def __init__(self, database: ProfileDatabase, dek: bytes, info: ProfileInfo,
                 clock: Clock, acting: tuple[str, CoordinatorKeys] | None = None) -> None:
        self._database = database
        self._dek = dek
        self._clock = clock
        self.info = info
        self.profile_id = info.profile_id
        # A coordinator added to this profile, when they unlocked it: (id, their keys).
        # The audit log names them as the actor; otherwise the profile id is the actor.
        self._acting = acting
        self._audit = AuditLog(dek, acting[0] if acting else info.profile_id)
        self._secrets = FieldCipher(derive_subkey(dek, "secrets"))
        self.records = RecordRepository(
            database, FieldCipher(derive_subkey(dek, "records")), self._audit, clock,
            demo=self.info.demo)
        self.outbox = Outbox(database, self._audit, clock)
        self.devices = DeviceRegistry(database, self._audit, clock)
        imported = FieldCipher(self.imported_records_key())
        self.inbox = Inbox(database, imported, self._audit, clock)
        self.referrals = ReferralQueue(database, imported, self._audit, clock)
        # Referrals to partner services have a key of their own (docs/referrals.md).
        referrals_cipher = FieldCipher(derive_subkey(dek, "partner-referrals"))
        self.partners = PartnerRegistry(database, self._audit, clock)
        self.referral_ledger = ReferralLedger(database, referrals_cipher, imported,
                                              self._audit, clock)
        self.partner_inbox = PartnerInbox(database, referrals_cipher, self._audit, clock)

    @property
    def database_path(self) -> Path:
        return self._database.path

    # -- secrets ---------------------------------------------------------------------------

    def _secret_context(self, name: str) -> bytes:
        return FieldCipher.context("secrets", "value", name, SECRETS_SCHEMA_VERSION)

    def _put_secret(self, db: object, name: str, value: bytes) -> None:
        db.execute(  # type: ignore[attr-defined]
            "INSERT OR REPLACE INTO secrets (name, value) VALUES (?, ?)",
            [name, self._secrets.seal(value, self._secret_context(name))])

    def secret(self, name: str) -> bytes:
        with self._database.read() as connection:
            row = connection.execute("SELECT value FROM secrets WHERE name = ?",
                                     [name]).fetchone()
        if row is None:
            raise KeyError(name)
        try:
            return self._secrets.open(row[0], self._secret_context(name))
        except CryptoError:
            raise StorageDamaged(_("A key stored in this profile is damaged or was altered."),
                                 hint=_("Ask your coordinator for help.")) from None

    def put_secret(self, name: str, value: bytes, *, audit: AuditAction | None = None,
                   details: dict[str, Any] | None = None) -> None:
        """Store an encrypted setting; with `audit`, its audit entry commits with it."""
        with self._database.write() as db:
            self._put_secret(db, name, value)
            if audit is not None:
                self._audit.append(db, audit, at=self._clock(), details=details)

    def _role_secret(self, role: ProfileRole, name: str) -> bytes:
        self._role_secret_check(role)
        return self.secret(name)

    def _role_secret_check(self, role: ProfileRole) -> None:
        if self.info.role is not role:
            raise UserError(
                _("This is a {actual} profile; this needs a {wanted} profile.").format(
                    actual=self.info.role.value, wanted=role.value),
                hint=_("Choose the right profile with --profile NAME."))

    def device_key(self) -> SigningKey:
        """The field device's Ed25519 key, which signs its batches."""
        return SigningKey.from_bytes(self._role_secret(ProfileRole.FIELD, DEVICE_SIGNING_KEY))

    def partner_key(self) -> SigningKey:
        """The partner's Ed25519 key: it signs updates, and packages are sealed to it."""
        return SigningKey.from_bytes(self._role_secret(ProfileRole.PARTNER,
                                                       PARTNER_SIGNING_KEY))

    def coordinator_identity(self) -> AgeIdentity:
        """The acting coordinator's age identity, which opens batches and recovery slots."""
        if self._acting is not None:
            return AgeIdentity(self._acting[1].age_identity)
        return AgeIdentity(self._role_secret(ProfileRole.COORDINATOR,
                                             COORDINATOR_AGE_IDENTITY).decode("ascii"))

    def imported_records_key(self) -> bytes:
        """The key imported records are sealed with. The import's checking process gets
        it, with the identity, to seal each batch's records while this process stores the
        batch before."""
        if not self._dek:
            raise RuntimeError("the profile is locked")
        return derive_subkey(self._dek, "imported-records")

    def coordinator_signing_key(self) -> SigningKey:
        """The acting coordinator's Ed25519 key, which signs deployment packs and receipts."""
        if self._acting is not None:
            return SigningKey.from_bytes(self._acting[1].signing_key)
        return SigningKey.from_bytes(self._role_secret(ProfileRole.COORDINATOR,
                                                       COORDINATOR_SIGNING_KEY))

    # -- several coordinators -----------------------------------------------------------------

    def coordinators(self) -> list[CoordinatorEntry]:
        """Every coordinator of this profile, the first one first, removed ones left out."""
        self._role_secret_check(ProfileRole.COORDINATOR)
        first_identity = AgeIdentity(self.secret(COORDINATOR_AGE_IDENTITY).decode("ascii"))
        first_key = SigningKey.from_bytes(self.secret(COORDINATOR_SIGNING_KEY)).public
        found = [CoordinatorEntry(self.profile_id, self.info.name, first_identity.recipient,
                                  first_key.raw, self.info.created_at, first=True)]
        with self._database.read() as connection:
            rows = connection.execute(
                "SELECT coordinator_id, name, age_recipient, signing_key, added_at "
                "FROM coordinators WHERE removed_at IS NULL "
                "ORDER BY added_at, coordinator_id").fetchall()
        found += [CoordinatorEntry(row[0], row[1], row[2], bytes.fromhex(row[3]), row[4])
                  for row in rows]
        return found

    def coordinator_names(self) -> dict[str, str]:
        """Who each audit `actor` of this profile is: the profile id names the first
        coordinator; every coordinator ever added (removed ones too) by their id."""
        names = {self.profile_id: self.info.name}
        if self.info.role is ProfileRole.COORDINATOR:
            with self._database.read() as connection:
                names.update(connection.execute(
                    "SELECT coordinator_id, name FROM coordinators").fetchall())
        return names

    def acting_coordinator(self) -> CoordinatorEntry:
        """The coordinator who unlocked this profile."""
        wanted = self._acting[0] if self._acting is not None else self.profile_id
        for entry in self.coordinators():
            if entry.coordinator_id == wanted:
                return entry
        raise CoordinatorChangeRefused(_("You were removed from this profile's coordinators."),
                                       hint=_("Lock the profile."))

    def add_coordinator(self, name: str, passphrase: str) -> CoordinatorEntry:
        """Add a coordinator who unlocks this profile with their own passphrase and acts
        with their own new age identity and signing key (the next pack lists them).

        Raises:
            CoordinatorChangeRefused: an empty or taken name, too many coordinators, or a
                passphrase that already opens this profile; nothing was changed.
            WeakPassphrase: the passphrase is too short.
        """
        existing = self.coordinators()
        name = name.strip()
        if not name or len(name) > MAX_COORDINATOR_NAME or any(
                entry.name == name for entry in existing):
            raise CoordinatorChangeRefused(
                _("'{name}' cannot be a coordinator's name here: it is empty, too long or "
                  "taken.").format(name=name[:80]),
                hint=_("List the coordinators with: fieldscreen coordinator coordinators"))
        if len(existing) >= MAX_COORDINATORS:
            raise CoordinatorChangeRefused(
                _("A deployment has at most {count} coordinators.").format(
                    count=MAX_COORDINATORS),
                hint=_("Remove a coordinator, then try again."))
        passphrase = normalise_passphrase(passphrase)
        check_passphrase_strength(passphrase)
        with self._database.read() as connection:
            first = PassphraseSlot.from_json(connection.execute(
                "SELECT data FROM key_slots WHERE slot = ?", [PASSPHRASE_SLOT]).fetchone()[0])
        locked = LockedProfile(self._database, self._clock)
        # Each passphrase must open one slot only: the slot that opens names the actor.
        slots: list[PassphraseSlot | CoordinatorSlot] = [first, *locked._coordinator_slots()]
        for taken in slots:
            with contextlib.suppress(CryptoError):
                taken.open(passphrase, self.profile_id)
                raise CoordinatorChangeRefused(
                    _("That passphrase already opens this profile for a coordinator."),
                    hint=_("Each coordinator chooses their own passphrase."))
        coordinator_id = str(uuid.uuid4())
        identity, signing = AgeIdentity.generate(), SigningKey.generate()
        keys = CoordinatorKeys(self._dek, identity.secret, signing.to_bytes())
        # Slow part (Argon2id) before the transaction, so the write lock is held briefly.
        slot = CoordinatorSlot.create(keys, passphrase, first.kdf, self.profile_id,
                                      coordinator_id)
        now = self._clock()
        entry = CoordinatorEntry(coordinator_id, name, identity.recipient,
                                 signing.public.raw, precise_utc_stamp(now))
        with self._database.write() as db:
            db.execute("INSERT INTO key_slots (slot, data, updated_at) VALUES (?, ?, ?)",
                       [slot.name, slot.to_json(), entry.added_at])
            db.execute("INSERT INTO coordinators (coordinator_id, name, age_recipient, "
                       "signing_key, added_at) VALUES (?, ?, ?, ?, ?)",
                       [coordinator_id, name, entry.age_recipient, entry.signing_key.hex(),
                        entry.added_at])
            self._audit.append(db, AuditAction.COORDINATOR_ADDED, at=now,
                               details={"coordinator": coordinator_id, "name": name})
        return entry

    def remove_coordinator(self, name: str) -> CoordinatorEntry:
        """Close a coordinator's slot: their passphrase no longer opens this profile, and
        the next pack no longer lists them (laptops then refuse their packs and receipts).

        Raises:
            CoordinatorChangeRefused: no such coordinator, the first one, or oneself.
        """
        entries = self.coordinators()
        found = next((entry for entry in entries
                      if name in (entry.name, entry.coordinator_id)), None)
        if found is None:
            raise CoordinatorChangeRefused(
                _("There is no coordinator '{name}' in this profile.").format(name=name[:80]),
                hint=_("List the coordinators with: fieldscreen coordinator coordinators"))
        acting = self._acting[0] if self._acting is not None else self.profile_id
        if found.first or found.coordinator_id == acting:
            raise CoordinatorChangeRefused(
                _("The profile's first coordinator, and the coordinator who unlocked it, "
                  "cannot be removed."),
                hint=_("Another coordinator removes a coordinator; nothing was changed."))
        now = self._clock()
        with self._database.write() as db:
            db.execute("DELETE FROM key_slots WHERE slot = ?",
                       [COORDINATOR_SLOT_PREFIX + found.coordinator_id])
            db.execute("UPDATE coordinators SET removed_at = ? WHERE coordinator_id = ?",
                       [precise_utc_stamp(now), found.coordinator_id])
            self._audit.append(db, AuditAction.COORDINATOR_REMOVED, at=now,
                               details={"coordinator": found.coordinator_id,
                                        "name": found.name})
        return found

    def install_pack(self, raw: bytes, recipient: str | Sequence[str], *,
                     linkage_key: bytes | None = None) -> None:
        """Keep a verified deployment pack and (re)seal the recovery slot to its
        coordinators (`recipient`: the pack's `recipients`, any of whom can recover).

        `linkage_key` is the key the pack brought sealed to this laptop (opened by
        `exchange.pack.install_pack`); it is kept with the pack in the same transaction. A
        pack without one removes the key kept before: the installed pack says whether this
        laptop makes child codes (decision 54).

        The pack it replaces is kept while drafts exist, because a draft must be resumed
        with the form version it was started with (a newer form may have renamed or
        dropped questions it answers). Once no draft is left, earlier packs are dropped at
        the next install.
        """
        recipients = [recipient] if isinstance(recipient, str) else list(recipient)
        slot = RecoverySlot.create(self._dek, [check_age_recipient(each) for each in recipients],
                                   self.profile_id)
        with self._database.write() as db:
            current = self.installed_pack()
            drafts = db.execute("SELECT 1 FROM records WHERE status = 'draft' LIMIT 1"
                                ).fetchone()
            earlier = [row[0] for row in db.execute(
                "SELECT name FROM secrets WHERE name GLOB ? ORDER BY name",
                [EARLIER_PACK_PREFIX + "*"])]
            if drafts is None:
                for name in earlier:
                    db.execute("DELETE FROM secrets WHERE name = ?", [name])
            elif current is not None and current != raw:
                number = int(earlier[-1].removeprefix(EARLIER_PACK_PREFIX)) + 1 if earlier else 1
                # Sealed again under its new name: a ciphertext is bound to its secret's name.
                self._put_secret(db, f"{EARLIER_PACK_PREFIX}{number:06d}", current)
            self._put_secret(db, DEPLOYMENT_PACK, raw)
            if linkage_key is not None:
                self._put_secret(db, LINKAGE_KEY, linkage_key)
            else:
                db.execute("DELETE FROM secrets WHERE name = ?", [LINKAGE_KEY])
            db.execute("INSERT OR REPLACE INTO key_slots (slot, data, updated_at) "
                       "VALUES (?, ?, ?)", [RECOVERY_SLOT, slot.to_json(),
                                            precise_utc_stamp(self._clock())])
            self._audit.append(db, AuditAction.PACK_INSTALLED, at=self._clock())

    def integrity_check(self, progress: Callable[[], None] | None = None) -> bool:
        """SQLite's full integrity check of the profile's database file (reads all of it)."""
        return self._database.integrity_check(progress)

    def next_pack_sequence(self) -> int:
        """The coordinator's next deployment-pack number (1, 2, 3 …), counted in the profile.

        Laptops order packs by it, so a wrong clock on the coordinator can never make a
        new pack look older than one it wrote before.
        """
        with self._database.write() as db:
            row = db.execute("SELECT value FROM secrets WHERE name = ?",
                             [PACK_SEQUENCE]).fetchone()
            current = int(self._secrets.open(row[0], self._secret_context(PACK_SEQUENCE))
                          ) if row else 0
            self._put_secret(db, PACK_SEQUENCE, str(current + 1).encode("ascii"))
        return current + 1

    def linkage_key(self) -> bytes | None:
        """The linkage key this field laptop's pack brought, or None (no child codes)."""
        try:
            return self._role_secret(ProfileRole.FIELD, LINKAGE_KEY)
        except KeyError:
            return None

    def coordinator_linkage_key(self) -> bytes:
        """The deployment's linkage key, made (32 random bytes) on first use and kept in
        this coordinator's encrypted profile; packs carry it only sealed to each device."""
        self._role_secret_check(ProfileRole.COORDINATOR)
        with self._database.write() as db:
            row = db.execute("SELECT value FROM secrets WHERE name = ?",
                             [LINKAGE_KEY]).fetchone()
            if row is not None:
                try:
                    return self._secrets.open(row[0], self._secret_context(LINKAGE_KEY))
                except CryptoError:
                    raise StorageDamaged(
                        _("A key stored in this profile is damaged or was altered."),
                        hint=_("Ask your coordinator for help.")) from None
            key = random_key()
            self._put_secret(db, LINKAGE_KEY, key)
            self._audit.append(db, AuditAction.LINKAGE_KEY_CREATED, at=self._clock())
        return key

    def installed_pack(self) -> bytes | None:
        try:
            return self.secret(DEPLOYMENT_PACK)
        except KeyError:
            return None

    def deployment_packs(self) -> list[bytes]:
        """The installed pack, then the earlier ones kept for drafts, newest first."""
        with self._database.read() as connection:
            names = [row[0] for row in connection.execute(
                "SELECT name FROM secrets WHERE name GLOB ? ORDER BY name DESC",
                [EARLIER_PACK_PREFIX + "*"])]
        installed = self.installed_pack()
        return ([installed] if installed is not None else []) + [
            self.secret(name) for name in names]

    # -- slots -------------------------------------------------------------------------------

    def change_passphrase(self, new_passphrase: str) -> None:
        """Rewrite the passphrase slot (one row, one transaction: the old or the new opens)."""
        new_passphrase = normalise_passphrase(new_passphrase)
        check_passphrase_strength(new_passphrase)
        if self._acting is not None:
            self._change_coordinator_passphrase(new_passphrase, *self._acting)
            return
        with self._database.read() as connection:
            current = PassphraseSlot.from_json(connection.execute(
                "SELECT data FROM key_slots WHERE slot = ?", [PASSPHRASE_SLOT]).fetchone()[0])
        # Slow part (Argon2id) before the transaction, so the write lock is held briefly.
        slot = PassphraseSlot.create(self._dek, new_passphrase, current.kdf, self.profile_id)
        with self._database.write() as db:
            db.execute("UPDATE key_slots SET data = ?, updated_at = ? WHERE slot = ?",
                       [slot.to_json(), precise_utc_stamp(self._clock()), PASSPHRASE_SLOT])
            self._audit.append(db, AuditAction.PASSPHRASE_CHANGED, at=self._clock())

    def _change_coordinator_passphrase(self, new_passphrase: str, coordinator_id: str,
                                       keys: CoordinatorKeys) -> None:
        """Rewrite the acting coordinator's own slot, with the same keys."""
        name = COORDINATOR_SLOT_PREFIX + coordinator_id
        with self._database.read() as connection:
            current = CoordinatorSlot.from_json(connection.execute(
                "SELECT data FROM key_slots WHERE slot = ?", [name]).fetchone()[0])
        slot = CoordinatorSlot.create(keys, new_passphrase, current.kdf, self.profile_id,
                                      coordinator_id)
        with self._database.write() as db:
            db.execute("UPDATE key_slots SET data = ?, updated_at = ? WHERE slot = ?",
                       [slot.to_json(), precise_utc_stamp(self._clock()), name])
            self._audit.append(db, AuditAction.PASSPHRASE_CHANGED, at=self._clock())

    def set_recovery_recipient(self, recipient: str) -> None:
        """Seal the DEK to a coordinator's age recipient (replacing any earlier one)."""
        try:
            recipient = check_age_recipient(recipient)
        except CryptoError:
            raise UserError(_("The recovery key is not an age recipient (age1...).")) from None
        slot = RecoverySlot.create(self._dek, recipient, self.profile_id)
        with self._database.write() as db:
            db.execute("INSERT OR REPLACE INTO key_slots (slot, data, updated_at) "
                       "VALUES (?, ?, ?)", [RECOVERY_SLOT, slot.to_json(),
                                            precise_utc_stamp(self._clock())])
            self._audit.append(db, AuditAction.RECOVERY_SET, at=self._clock())

    # -- audit -------------------------------------------------------------------------------

    def verify_audit(self) -> AuditVerification:
        with self._database.read() as connection:
            return self._audit.verify(connection)

    def audit_entries(self, record_id: str | None = None) -> list:
        """The audit log, oldest first; with `record_id`, that record's entries only."""
        with self._database.read() as connection:
            return self._audit.entries(connection, record_id)

    def audit_head(self) -> tuple[int, str]:
        with self._database.read() as connection:
            return AuditLog.head(connection)

    def record_export(self, *, fmt: str, records: bool, rows: int) -> None:
        """Note in the audit log that data left the profile as a file: its format, whether
        it was record-level, and how many rows; never what it held or where it went."""
        with self._database.write() as db:
            self._audit.append(db, AuditAction.EXPORTED, at=self._clock(),
                               details={"format": fmt, "records": records, "rows": rows})

    def change_links(self, links: bytes, *, linked: bool, first: str, second: str,
                     details: dict[str, Any]) -> None:
        """Store the coordinator's links between screenings (sealed, as a secret), make the
        linked screenings share one follow-up case (or give it back), and note the change
        in the audit log, in one transaction: no link without its entry and its case."""
        action = AuditAction.SCREENINGS_LINKED if linked else AuditAction.SCREENINGS_UNLINKED
        cipher = FieldCipher(self.imported_records_key())
        now = self._clock()
        with self._database.write() as db:
            self._put_secret(db, SCREENING_LINKS, links)
            # Linked screenings share one case in the referral queue (decision 55).
            changed, sharing = (share_case if linked else unshare_case)(
                db, cipher, now, first, second)
            self._audit.append(db, action, at=now, record_id=first,
                               details={"other": second, **details, **sharing})
            if changed:
                append_entries(db, cipher, changed)

    # -- locking -----------------------------------------------------------------------------

    def lock(self) -> None:
        """Drop the keys and close the database.

        Python cannot wipe memory reliably; dropping every reference lets the key's bytes be
        freed (see docs/security.md, "Limits").
        """
        self._dek = b""
        self._acting = None
        self.records = None  # type: ignore[assignment]
        self.outbox = None  # type: ignore[assignment]
        self.devices = None  # type: ignore[assignment]
        self.inbox = None  # type: ignore[assignment]
        self.referrals = None  # type: ignore[assignment]
        self.partners = None  # type: ignore[assignment]
        self.referral_ledger = None  # type: ignore[assignment]
        self.partner_inbox = None  # type: ignore[assignment]
        self._audit = None  # type: ignore[assignment]
        self._secrets = None  # type: ignore[assignment]
        self._database.close()
