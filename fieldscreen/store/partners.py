"""Referrals to partner services, as each side stores them (docs/referrals.md).

Coordinator side: the partners enrolled (by code and fingerprint, like devices), the
referrals sent, and the ledger of partner updates imported. A referral's case, partner,
service and state are encrypted: the file does not tell which child was referred where.
Importing a partner's update is one transaction: the referral's state, the ledger entry,
the case's move in the queue with the partner's note, and the audit entries commit
together or not at all.

Partner side: the referrals received (the package's FHIR Bundle, encrypted), the coordinator
key pinned by the first package, and the packages already opened.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from fieldscreen.errors import UserError
from fieldscreen.i18n import _
from fieldscreen.store.audit import AuditAction, AuditLog
from fieldscreen.store.crypto import CryptoError, FieldCipher, sha256
from fieldscreen.store.database import ProfileDatabase
from fieldscreen.store.follow_up import Deadlines, FollowUpStatus, move_case_for_partner
from fieldscreen.store.timestamps import utc_stamp

Clock = Callable[[], dt.datetime]
REFERRALS_SCHEMA_VERSION = 1
_PIN_KEY = "partner.coordinator_signing_key"
REQUESTED = "requested"
WITHDRAWN = "withdrawn"
# What a partner's answer does to the case in the queue; a decline sends it back.
CASE_STATUS_FOR_ANSWER = {
    "accepted": FollowUpStatus.ACCEPTED,
    "in-progress": FollowUpStatus.ACCEPTED,
    "completed": FollowUpStatus.DELIVERED,
    "rejected": FollowUpStatus.CONTACTED,
}


def partner_id_for(public_key: bytes) -> str:
    return sha256(b"fieldscreen partner id\x00" + public_key).hex()[:16]


def _context(table: str, key: str) -> bytes:
    return FieldCipher.context(table, "state", key, REFERRALS_SCHEMA_VERSION)


def _seal_state(cipher: FieldCipher, table: str, referral_id: str,
                state: dict[str, Any]) -> bytes:
    """A referral's state sealed to its row (coordinator and partner side alike)."""
    return cipher.seal(orjson.dumps(state), _context(table, referral_id))


def _open_state(cipher: FieldCipher, table: str, referral_id: str,
                sealed: bytes) -> dict[str, Any]:
    try:
        state: dict[str, Any] = orjson.loads(cipher.open(sealed, _context(table, referral_id)))
    except CryptoError:
        raise UserError(_("A referral cannot be opened: the database was altered or "
                          "damaged.")) from None
    return state


class UpdateReplayed(Exception):
    """An update whose sequence is not above the last one applied for its referral."""


class ReferralWithdrawn(Exception):
    """The referral was withdrawn: nothing more is applied to it."""


class ReferralUnknown(Exception):
    """No referral with this id (or not one sent to this partner)."""


@dataclass(frozen=True, slots=True)
class Partner:
    partner_id: str
    public_key: bytes
    name: str
    enrolled_at: str
    revoked_at: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class PartnerRegistry:
    """The partner services a coordinator refers to and accepts updates from."""

    def __init__(self, database: ProfileDatabase, audit: AuditLog, clock: Clock) -> None:
        self._database = database
        self._audit = audit
        self._clock = clock

    def enroll(self, public_key: bytes, name: str) -> Partner:
        """Enrol a partner by its key; enrolling again changes nothing."""
        existing = self.by_public_key(public_key)
        if existing is not None:
            if existing.revoked:
                raise UserError(_("Partner {id} was revoked and cannot be enrolled again."
                                  ).format(id=existing.partner_id),
                                hint=_("The partner creates a new profile; it gets a new key."))
            return existing
        partner = Partner(partner_id_for(public_key), public_key,
                          name.strip()[:80] or "partner", utc_stamp(self._clock()), None)
        with self._database.write() as db:
            db.execute("INSERT INTO partners (partner_id, public_key, name, enrolled_at) "
                       "VALUES (?, ?, ?, ?)", [partner.partner_id, public_key.hex(),
                                               partner.name, partner.enrolled_at])
            self._audit.append(db, AuditAction.PARTNER_ENROLLED, at=self._clock(),
                               details={"partner": partner.partner_id})
        return partner

    def revoke(self, partner: str) -> Partner:
        found = self.find(partner)
        if not found.revoked:
            with self._database.write() as db:
                db.execute("UPDATE partners SET revoked_at = ? WHERE partner_id = ?",
                           [utc_stamp(self._clock()), found.partner_id])
                self._audit.append(db, AuditAction.PARTNER_REVOKED, at=self._clock(),
                                   details={"partner": found.partner_id})
        return self.find(found.partner_id)

    def _rows(self, where: str, parameters: list[str]) -> list[Partner]:
        with self._database.read() as connection:
            # `where` is one of this class's constant conditions; values are parameters.
            rows = connection.execute(
                "SELECT partner_id, public_key, name, enrolled_at, revoked_at "  # noqa: S608
                f"FROM partners WHERE {where} ORDER BY enrolled_at, partner_id",
                parameters).fetchall()
        return [Partner(r[0], bytes.fromhex(r[1]), r[2], r[3], r[4]) for r in rows]

    def find(self, partner: str) -> Partner:
        matches = self._rows("partner_id = ? OR name = ?", [partner, partner])
        if len(matches) != 1:
            raise UserError(
                _("No single enrolled partner is called '{partner}'.").format(
                    partner=partner[:80]),
                hint=_("List them with: fieldscreen referral partners"))
        return matches[0]

    def by_public_key(self, public_key: bytes) -> Partner | None:
        found = self._rows("public_key = ?", [public_key.hex()])
        return found[0] if found else None

    def state_of(self, public_key: bytes) -> str | None:
        """"active", "revoked", or None for a key that is not an enrolled partner."""
        found = self.by_public_key(public_key)
        if found is None:
            return None
        return "revoked" if found.revoked else "active"

    def list(self) -> list[Partner]:
        return self._rows("1 = 1", [])


@dataclass(frozen=True, slots=True)
class SentReferral:
    """A referral as the coordinator's queue shows it."""

    referral_id: str
    record_id: str
    partner_id: str
    service_id: str
    service_name: str
    priority: str
    status: str  # requested, accepted, rejected, in-progress, completed, withdrawn
    sent_at: str
    answered_at: str | None
    due_at: str
    overdue: bool  # no answer from the partner by the deadline
    last_sequence: int
    history: tuple[tuple[str, str], ...]


class ReferralLedger:
    """The referrals a coordinator sent and the partner updates it imported.

    Args:
        cipher: seals the referrals' state (a key of its own, derived from the profile's).
        case_cipher: the referral queue's cipher, for moving cases in the same transaction.
    """

    def __init__(self, database: ProfileDatabase, cipher: FieldCipher,
                 case_cipher: FieldCipher, audit: AuditLog, clock: Clock) -> None:
        self._database = database
        self._cipher = cipher
        self._case_cipher = case_cipher
        self._audit = audit
        self._clock = clock

    def _seal(self, referral_id: str, state: dict[str, Any]) -> bytes:
        return _seal_state(self._cipher, "referrals", referral_id, state)

    def _open(self, referral_id: str, sealed: bytes) -> dict[str, Any]:
        return _open_state(self._cipher, "referrals", referral_id, sealed)

    def add(self, *, referral_id: str, record_id: str, partner_id: str, service_id: str,
            service_name: str, priority: str) -> None:
        """Record a referral sent; the case moves to "referred" in the same transaction."""
        now = self._clock()
        stamp = utc_stamp(now)
        state = {"record_id": record_id, "partner_id": partner_id, "service_id": service_id,
                 "service_name": service_name, "priority": priority, "status": REQUESTED,
                 "answered_at": None, "last_sequence": 0, "history": [[REQUESTED, stamp]]}
        with self._database.write() as db:
            # The record, partner and area in clear too: PostgreSQL's row-level security
            # shows a referral to its partner organisation and its area's supervisors.
            db.execute("INSERT INTO referrals (referral_id, sent_at, state, record_id, "
                       "partner_id, area) VALUES (?, ?, ?, ?, ?, (SELECT area FROM "
                       "imported_records WHERE id = ?))",
                       [referral_id, stamp, self._seal(referral_id, state), record_id,
                        partner_id, record_id])
            move_case_for_partner(db, self._case_cipher, self._audit, now, record_id,
                                  FollowUpStatus.REFERRED, "",
                                  details={"referral": referral_id, "partner": partner_id})
            self._audit.append(db, AuditAction.REFERRAL_SENT, at=now, record_id=record_id,
                               details={"referral": referral_id, "partner": partner_id})

    def fill_scopes(self, batch_size: int = 500) -> int:
        """Write the clear record, partner and area of referrals stored before they were
        kept, from their sealed state and their record's area; returns how many changed.

        Run after `Inbox.fill_areas`, so a referral takes its record's area. Batches are
        transactions of their own, as there; a referral whose record has no area keeps
        none (its partner organisation still sees it).
        """
        filled, after = 0, ""
        while True:
            with self._database.write() as db:
                page = db.execute(
                    "SELECT referral_id, state, record_id, partner_id, area FROM referrals "
                    "WHERE (record_id IS NULL OR partner_id IS NULL OR area IS NULL) AND "
                    "referral_id > ? ORDER BY referral_id LIMIT ?",
                    [after, batch_size]).fetchall()
                if not page:
                    return filled
                after = page[-1][0]
                for referral_id, sealed, record_id, partner_id, area in page:
                    known = (record_id, partner_id, area)
                    if record_id is None or partner_id is None:
                        state = self._open(referral_id, sealed)
                        record_id = record_id or state["record_id"]
                        partner_id = partner_id or state["partner_id"]
                    if area is None:
                        found = db.execute("SELECT area FROM imported_records WHERE id = ?",
                                           [record_id]).fetchone()
                        area = found[0] if found is not None else None
                    if (record_id, partner_id, area) != known:
                        db.execute("UPDATE referrals SET record_id = ?, partner_id = ?, "
                                   "area = ? WHERE referral_id = ?",
                                   [record_id, partner_id, area, referral_id])
                        filled += 1

    def withdraw(self, referral_id: str, note: str) -> SentReferral:
        """Mark a referral withdrawn (the child withdrew consent); the note says so on the
        case. Further updates from the partner are refused."""
        now = self._clock()
        with self._database.write() as db:
            row = db.execute("SELECT state FROM referrals WHERE referral_id = ?",
                             [referral_id]).fetchone()
            if row is None:
                raise ReferralUnknown(referral_id)
            state = self._open(referral_id, row[0])
            if state["status"] != WITHDRAWN:
                state["status"] = WITHDRAWN
                state["history"].append([WITHDRAWN, utc_stamp(now)])
                db.execute("UPDATE referrals SET state = ? WHERE referral_id = ?",
                           [self._seal(referral_id, state), referral_id])
                move_case_for_partner(db, self._case_cipher, self._audit, now,
                                      state["record_id"], None, note,
                                      details={"referral": referral_id,
                                               "partner": state["partner_id"]})
                self._audit.append(db, AuditAction.REFERRAL_WITHDRAWN, at=now,
                                   record_id=state["record_id"],
                                   details={"referral": referral_id,
                                            "partner": state["partner_id"]})
        return self.get(referral_id)

    def _referral(self, referral_id: str, sent_at: str, state: dict[str, Any],
                  deadlines: Deadlines, now: dt.datetime) -> SentReferral:
        sent = dt.datetime.fromisoformat(sent_at.replace("Z", "+00:00"))
        due = sent + deadlines.limit(state["priority"])
        return SentReferral(
            referral_id, state["record_id"], state["partner_id"], state["service_id"],
            state["service_name"], state["priority"], state["status"], sent_at,
            state["answered_at"], utc_stamp(due),
            # Nobody answered in time. A clock set back before the sending cannot tell how
            # long it waited: it counts as overdue (as cases do, docs/referrals.md).
            state["status"] == REQUESTED and (now >= due or now < sent - dt.timedelta(days=1)),
            state["last_sequence"], tuple((entry[0], entry[1]) for entry in state["history"]))

    def list(self, deadlines: Deadlines | None = None) -> list[SentReferral]:
        """Every referral sent, overdue first, then oldest first."""
        with self._database.read() as connection:
            rows = connection.execute(
                "SELECT referral_id, sent_at, state FROM referrals").fetchall()
        deadlines = deadlines or Deadlines()
        now = self._clock()
        found = [self._referral(row[0], row[1], self._open(row[0], row[2]), deadlines, now)
                 for row in rows]
        found.sort(key=lambda referral: (not referral.overdue, referral.sent_at,
                                         referral.referral_id))
        return found

    def get(self, referral_id: str, deadlines: Deadlines | None = None) -> SentReferral:
        with self._database.read() as connection:
            row = connection.execute("SELECT sent_at, state FROM referrals WHERE "
                                     "referral_id = ?", [referral_id]).fetchone()
        if row is None:
            raise ReferralUnknown(referral_id)
        return self._referral(referral_id, row[0], self._open(referral_id, row[1]),
                              deadlines or Deadlines(), self._clock())

    def message_hash(self, message_id: str) -> str | None:
        """The file hash of an update already imported under this message id, if any."""
        with self._database.read() as connection:
            row = connection.execute("SELECT file_sha256 FROM referral_messages WHERE "
                                     "message_id = ?", [message_id]).fetchone()
        return row[0] if row else None

    def apply_update(self, *, referral_id: str, partner_id: str, message_id: str,
                     sequence: int, file_sha256: str, status: str, reason: str | None,
                     note: str | None, partner_name: str) -> str | None:
        """Apply a verified partner update in one transaction; returns the status the case
        moved to (None when it stayed).

        Raises:
            ReferralUnknown: no such referral, or one sent to another partner.
            ReferralWithdrawn: the referral was withdrawn.
            UpdateReplayed: the sequence is not above the last one applied.
        """
        now = self._clock()
        stamp = utc_stamp(now)
        with self._database.write() as db:
            row = db.execute("SELECT state FROM referrals WHERE referral_id = ?",
                             [referral_id]).fetchone()
            if row is None:
                raise ReferralUnknown(referral_id)
            state = self._open(referral_id, row[0])
            if state["partner_id"] != partner_id:
                raise ReferralUnknown(referral_id)
            if state["status"] == WITHDRAWN:
                raise ReferralWithdrawn(referral_id)
            if sequence <= state["last_sequence"] or db.execute(
                    "SELECT 1 FROM referral_messages WHERE message_id = ?",
                    [message_id]).fetchone() is not None:
                raise UpdateReplayed(referral_id)
            state["status"] = status
            state["last_sequence"] = sequence
            state["answered_at"] = state["answered_at"] or stamp
            state["history"].append([status, stamp])
            db.execute("UPDATE referrals SET state = ? WHERE referral_id = ?",
                       [self._seal(referral_id, state), referral_id])
            db.execute("INSERT INTO referral_messages (message_id, referral_id, file_sha256, "
                       "at) VALUES (?, ?, ?, ?)", [message_id, referral_id, file_sha256, stamp])
            words = " — ".join(part for part in (reason, note) if part)
            moved = move_case_for_partner(
                db, self._case_cipher, self._audit, now, state["record_id"],
                CASE_STATUS_FOR_ANSWER[status],
                _("{partner} ({service}): {status}. {words}").format(
                    partner=partner_name, service=state["service_name"], status=status,
                    words=words).strip(),
                details={"referral": referral_id, "partner": partner_id,
                         "partner_status": status},
                back=status == "rejected")
            self._audit.append(db, AuditAction.REFERRAL_UPDATE_IMPORTED, at=now,
                               record_id=state["record_id"],
                               details={"referral": referral_id, "partner": partner_id,
                                        "sequence": sequence, "status": status})
        return moved


@dataclass(frozen=True, slots=True)
class ReceivedReferral:
    """A referral as the partner holds it."""

    referral_id: str
    received_at: str
    status: str  # requested, accepted, rejected, in-progress, completed, withdrawn
    coordinator_name: str
    coordinator_recipient: str
    bundle: dict[str, Any] | None  # None once withdrawn: the child's details are erased
    next_sequence: int
    history: tuple[tuple[str, str], ...]


class PartnerInbox:
    """The referrals a partner received and answered."""

    def __init__(self, database: ProfileDatabase, cipher: FieldCipher, audit: AuditLog,
                 clock: Clock) -> None:
        self._database = database
        self._cipher = cipher
        self._audit = audit
        self._clock = clock

    def _pin_context(self) -> bytes:
        return FieldCipher.context("profile", "value", _PIN_KEY, REFERRALS_SCHEMA_VERSION)

    def pinned_coordinator(self) -> bytes | None:
        """The coordinator key the first package pinned (sealed: it cannot be swapped)."""
        with self._database.read() as connection:
            row = connection.execute("SELECT value FROM profile WHERE key = ?",
                                     [_PIN_KEY]).fetchone()
        if row is None:
            return None
        try:
            return self._cipher.open(base64.b64decode(row[0]), self._pin_context())
        except (CryptoError, ValueError):
            raise UserError(_("The trusted coordinator key in this profile was altered."),
                            hint=_("Ask the coordinator for help.")) from None

    def _open(self, referral_id: str, sealed: bytes) -> dict[str, Any]:
        return _open_state(self._cipher, "partner_referrals", referral_id, sealed)

    def _seal(self, referral_id: str, state: dict[str, Any]) -> bytes:
        return _seal_state(self._cipher, "partner_referrals", referral_id, state)

    def seen(self, message_id: str) -> str | None:
        with self._database.read() as connection:
            row = connection.execute("SELECT file_sha256 FROM partner_messages WHERE "
                                     "message_id = ?", [message_id]).fetchone()
        return row[0] if row else None

    def receive(self, *, kind: str, message_id: str, referral_id: str, file_sha256: str,
                coordinator_key: bytes, coordinator_name: str, coordinator_recipient: str,
                bundle: dict[str, Any]) -> bool:
        """Keep a verified package; False when this very package was opened before.

        The first package pins its coordinator's key in the same transaction. A withdrawal
        erases the referral's Bundle (the child's details) and keeps only its state.

        Raises:
            ReferralUnknown: a withdrawal of a referral this partner never received.
        """
        now = self._clock()
        stamp = utc_stamp(now)
        with self._database.write() as db:
            if db.execute("SELECT 1 FROM partner_messages WHERE message_id = ?",
                          [message_id]).fetchone() is not None:
                return False
            if db.execute("SELECT 1 FROM profile WHERE key = ?", [_PIN_KEY]).fetchone() is None:
                db.execute("INSERT INTO profile (key, value) VALUES (?, ?)", [
                    _PIN_KEY, base64.b64encode(self._cipher.seal(
                        coordinator_key, self._pin_context())).decode("ascii")])
            row = db.execute("SELECT state FROM partner_referrals WHERE referral_id = ?",
                             [referral_id]).fetchone()
            if kind == "withdrawal":
                if row is None:
                    raise ReferralUnknown(referral_id)
                state = self._open(referral_id, row[0])
                state.update(status=WITHDRAWN, bundle=None)
                state["history"].append([WITHDRAWN, stamp])
                db.execute("UPDATE partner_referrals SET state = ? WHERE referral_id = ?",
                           [self._seal(referral_id, state), referral_id])
            elif row is None:
                state = {"status": REQUESTED, "coordinator_name": coordinator_name,
                         "coordinator_recipient": coordinator_recipient, "bundle": bundle,
                         "next_sequence": 1, "history": [[REQUESTED, stamp]]}
                db.execute("INSERT INTO partner_referrals (referral_id, received_at, state) "
                           "VALUES (?, ?, ?)",
                           [referral_id, stamp, self._seal(referral_id, state)])
            db.execute("INSERT INTO partner_messages (message_id, file_sha256, at) "
                       "VALUES (?, ?, ?)", [message_id, file_sha256, stamp])
            self._audit.append(db, AuditAction.REFERRAL_RECEIVED, at=now,
                               details={"referral": referral_id, "kind": kind})
        return True

    def get(self, referral_id: str) -> ReceivedReferral:
        with self._database.read() as connection:
            row = connection.execute("SELECT received_at, state FROM partner_referrals "
                                     "WHERE referral_id = ?", [referral_id]).fetchone()
        if row is None:
            raise ReferralUnknown(referral_id)
        return self._received(referral_id, row[0], self._open(referral_id, row[1]))

    @staticmethod
    def _received(referral_id: str, received_at: str,
                  state: dict[str, Any]) -> ReceivedReferral:
        return ReceivedReferral(referral_id, received_at, state["status"],
                                state["coordinator_name"], state["coordinator_recipient"],
                                state["bundle"], state["next_sequence"],
                                tuple((entry[0], entry[1]) for entry in state["history"]))

    def list(self) -> list[ReceivedReferral]:
        with self._database.read() as connection:
            rows = connection.execute("SELECT referral_id, received_at, state FROM "
                                      "partner_referrals ORDER BY received_at, referral_id"
                                      ).fetchall()
        return [self._received(row[0], row[1], self._open(row[0], row[2])) for row in rows]

    def answered(self, referral_id: str, sequence: int, status: str) -> None:
        """Record that update `sequence` (the referral's next) was written with `status`.

        Raises:
            ReferralWithdrawn: the child withdrew consent; nothing more is sent.
            UpdateReplayed: `sequence` is not the next one (another answer came first).
        """
        now = self._clock()
        with self._database.write() as db:
            row = db.execute("SELECT state FROM partner_referrals WHERE referral_id = ?",
                             [referral_id]).fetchone()
            if row is None:
                raise ReferralUnknown(referral_id)
            state = self._open(referral_id, row[0])
            if state["status"] == WITHDRAWN:
                raise ReferralWithdrawn(referral_id)
            if sequence != state["next_sequence"]:
                raise UpdateReplayed(referral_id)
            state["status"] = status
            state["next_sequence"] = sequence + 1
            state["history"].append([status, utc_stamp(now)])
            db.execute("UPDATE partner_referrals SET state = ? WHERE referral_id = ?",
                       [self._seal(referral_id, state), referral_id])
            self._audit.append(db, AuditAction.REFERRAL_ANSWERED, at=now,
                               details={"referral": referral_id, "status": status,
                                        "sequence": sequence})
