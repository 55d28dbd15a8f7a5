"""The coordinator's referral queue: one follow-up case per child who needs a referral.

A case opens, in the import's own transaction, for every imported record whose final
decision is urgent or referral. The coordinator moves it through the follow-up statuses
and writes notes; every change is an audit entry. A case's state and notes are encrypted
like the records they follow: a stolen laptop does not tell which children were referred.

Overdue: a case that is still "new" when its deadline has passed (by default 24 hours
after the screening for an urgent case and 7 days for a referral). Deadlines count from
the screening, not from the import, because the child has waited since then.

Clocks are wrong in the field. The screening time comes from the laptop's clock: one set
years ahead would put the deadline years away, so a deadline counts from the import when
the screening claims to be later than that. This computer's own clock set back before a
case was imported cannot tell how long the case has waited: such a case counts as
overdue, so a wrong clock can only draw attention to a child, never hide one.

Screenings the coordinator linked as one child share one case (decision 55): the case of
the earliest screening carries the others (`linked`, their reasons shown with it, its
priority the most urgent of them), and each other case is closed as "shared" with a note
of where it went and the status it had, so that unlinking gives it back as it was.

Two consoles may change one case at once. Each case has a version, one more at every
change of its state; a status change names the version it was decided on, and the
`UPDATE ... WHERE version = ?` that writes it refuses it when another console changed the
case since (`CaseChangedElsewhere`): the second change is refused with a message, never
silently written over the first. Notes are only ever added, so none is lost either.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from fieldscreen.errors import UserError
from fieldscreen.i18n import N_, _
from fieldscreen.store.audit import AuditAction, AuditLog
from fieldscreen.store.crypto import CryptoError, FieldCipher
from fieldscreen.store.database import ProfileDatabase
from fieldscreen.store.incoming import IMPORTED_SCHEMA_VERSION, IMPORTED_TABLE
from fieldscreen.store.queue_index import (
    COMPACT_AFTER_DELTAS,
    QueueEntries,
    QueueIndex,
    append_entries,
    entry_of,
)
from fieldscreen.store.timestamps import utc_stamp

Clock = Callable[[], dt.datetime]
CASES = "follow_ups"
NOTES = "follow_up_notes"
# The layout of the encrypted state and notes, bound into their ciphertext.
FOLLOW_UP_SCHEMA_VERSION = 1
# utc_stamp's form (to the second, UTC, trailing Z), which field records carry.
_STORE_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")
MAX_NOTE_CHARS = 4000
# Where the deadlines are kept (the profile table: settings, not child data).
_URGENT_HOURS_KEY = "follow_up.urgent_hours"
_REFERRAL_DAYS_KEY = "follow_up.referral_days"
# The decisions that open a case, most urgent first.
CASE_PRIORITIES = ("urgent", "referral")
# How far this computer's clock may be behind a case's import time before the wait cannot
# be told (clock corrections and a wrong time zone setting stay well inside it).
CLOCK_BACK_TOLERANCE = dt.timedelta(days=1)


class CaseChangedElsewhere(UserError):
    """Another console changed the case since it was shown here; nothing was saved."""

    def __init__(self) -> None:
        super().__init__(_("Someone else changed this case since you opened it; your change "
                           "was not saved."),
                         hint=_("Reload the case, check what changed, then make your change "
                                "again."))


class FollowUpStatus(StrEnum):
    """Where a case stands, in the order a case normally moves."""

    NEW = "new"
    CONTACTED = "contacted"
    REFERRED = "referred"
    ACCEPTED = "accepted"  # accepted by the service
    DELIVERED = "delivered"  # services delivered
    CLOSED = "closed"

    @property
    def rank(self) -> int:
        return list(FollowUpStatus).index(self)

    @property
    def label(self) -> str:
        return _(_STATUS_LABELS[self])


_STATUS_LABELS = {
    FollowUpStatus.NEW: N_("New"),
    FollowUpStatus.CONTACTED: N_("Contacted"),
    FollowUpStatus.REFERRED: N_("Referred"),
    FollowUpStatus.ACCEPTED: N_("Accepted by service"),
    FollowUpStatus.DELIVERED: N_("Services delivered"),
    FollowUpStatus.CLOSED: N_("Closed"),
}


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How long a new case may wait before it is overdue."""

    urgent_hours: int = 24
    referral_days: int = 7

    def limit(self, priority: str) -> dt.timedelta:
        if priority == "urgent":
            return dt.timedelta(hours=self.urgent_hours)
        return dt.timedelta(days=self.referral_days)


@dataclass(frozen=True, slots=True)
class CaseNote:
    at: str
    text: str


@dataclass(frozen=True, slots=True)
class FollowUpCase:
    """One child's follow-up, with what the queue shows about them."""

    record_id: str
    priority: str  # "urgent" or "referral"
    status: FollowUpStatus
    screened_at: str
    opened_at: str
    changed_at: str
    due_at: str
    overdue: bool
    history: tuple[tuple[str, str], ...]  # (status, at), oldest first
    facts: dict[str, Any]  # the record's statistics summary: age, sex, area...
    # The screenings linked to this one whose reasons this case carries: (id, summary).
    linked: tuple[tuple[str, dict[str, Any]], ...] = ()
    # The case that carries this one, when this screening was linked into it.
    shared_with: str | None = None
    # One more at every change of the case's state: a change names the version it was
    # decided on (optimistic versioning; see the module docstring).
    version: int = 1


def _parse_stamp(stamp: Any) -> dt.datetime | None:
    """An aware UTC time from an ISO 8601 stamp (with or without fractions), or None."""
    if not isinstance(stamp, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _screened_at(screened: Any, fallback: str) -> str:
    """The screening time from a batch, kept in the store's own form, or `fallback` (the
    import time) when it is not a time at all, so a deadline can always be counted."""
    if isinstance(screened, str) and _STORE_STAMP.match(screened):
        with contextlib.suppress(ValueError):
            dt.datetime.fromisoformat(screened)  # a real date and time, not just digits
            return screened  # already in the store's form: most records
    parsed = _parse_stamp(screened)
    return utc_stamp(parsed) if parsed is not None else fallback


class QueuePage(NamedTuple):
    """One screen of the queue."""

    cases: list[FollowUpCase]
    total: int  # cases in the queue (closed ones only when asked for)
    overdue: int  # cases overdue in the whole queue


def _context(table: str, column: str, key: str) -> bytes:
    return FieldCipher.context(table, column, key, FOLLOW_UP_SCHEMA_VERSION)


def open_cases(db: Any, cipher: FieldCipher, audit: AuditLog, now: dt.datetime,
               records: Iterable[tuple[str, str | None, str]]) -> int:
    """Open (or raise the priority of) cases for imported records; inside the import's
    transaction. `records` holds (record id, final decision, screened at).

    One query reads the cases already open and one statement writes them, and one audit
    entry lists them: a large import opens thousands of cases.
    """
    wanted = {record_id: (decision, screened) for record_id, decision, screened in records
              if decision in CASE_PRIORITIES}
    if not wanted:
        return 0
    stamp = utc_stamp(now)
    existing: dict[str, bytes] = {}
    ids = list(wanted)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        existing.update(db.execute(
            f"SELECT record_id, state FROM {CASES} WHERE record_id IN ({marks})",  # noqa: S608
            chunk).fetchall())
    states = []
    opened: list[str] = []
    raised: list[str] = []
    state_context = FieldCipher.row_context(CASES, "state", FOLLOW_UP_SCHEMA_VERSION)
    for record_id, (decision, screened) in wanted.items():
        sealed = existing.get(record_id)
        if sealed is not None:
            state = orjson.loads(cipher.open(sealed, state_context(record_id)))
            if CASE_PRIORITIES.index(decision) >= CASE_PRIORITIES.index(state["priority"]):
                continue
            # A newer version of the screening made the case more urgent.
            state["priority"] = decision
            raised.append(record_id)
        else:
            state = {"priority": decision, "status": FollowUpStatus.NEW.value,
                     "screened_at": _screened_at(screened, stamp), "opened_at": stamp,
                     "changed_at": stamp, "history": [[FollowUpStatus.NEW.value, stamp]]}
            opened.append(record_id)
        states.append((record_id, state))
    # A screening whose case is shared (decision 55) made more urgent makes the case that
    # carries it as urgent: a closed shared case must never hide an urgent child.
    carriers: dict[str, dict[str, Any]] = {}
    changing = dict(states)
    more_urgent = set(raised)
    for record_id, state in states:
        if state.get("shared_with") and record_id in more_urgent:
            top = _chain(db, cipher, record_id)[-1]
            carrier = (changing.get(top) or carriers.get(top)
                       or _states(db, cipher, [top]).get(top))
            if carrier is not None and CASE_PRIORITIES.index(state["priority"]) < \
                    CASE_PRIORITIES.index(carrier["priority"]):
                carrier["priority"] = state["priority"]
                if top not in changing:
                    carriers[top] = carrier
    states += list(carriers.items())
    raised += list(carriers)
    # One loop seals every state: an import opens a case for most of its records.
    rows = [(record_id, stamp, sealed) for (record_id, _state), sealed in zip(
        states, cipher.seal_many([(orjson.dumps(state), state_context(record_id))
                                  for record_id, state in states]), strict=True)]
    if rows:
        db.conn.executemany(
            f"INSERT INTO {CASES} (record_id, changed_at, state) "  # noqa: S608
            "VALUES (?, ?, ?) ON CONFLICT (record_id) DO UPDATE SET "
            "changed_at = excluded.changed_at, state = excluded.state, "
            f"version = {CASES}.version + 1", rows)
        audit.append(db, AuditAction.FOLLOW_UP_OPENED, at=now,
                     details={"opened": opened, "raised": raised})
        append_entries(db, cipher, states)
    return len(opened)


class ReferralQueue:
    """The follow-up cases of one coordinator profile.

    Args:
        database: the coordinator's profile database.
        cipher: the imported records' cipher (cases and notes are sealed with it).
        audit: the profile's audit log; every change appends to it.
        clock: returns the current aware datetime (deadlines and stamps).
    """

    def __init__(self, database: ProfileDatabase, cipher: FieldCipher, audit: AuditLog,
                 clock: Clock) -> None:
        self._database = database
        self._cipher = cipher
        self._audit = audit
        self._clock = clock
        self._index = QueueIndex(database, cipher)

    # -- deadlines -------------------------------------------------------------------------

    def deadlines(self) -> Deadlines:
        with self._database.read() as connection:
            values = dict(connection.execute(
                "SELECT key, value FROM profile WHERE key IN (?, ?)",
                [_URGENT_HOURS_KEY, _REFERRAL_DAYS_KEY]).fetchall())
        default = Deadlines()
        return Deadlines(int(values.get(_URGENT_HOURS_KEY, default.urgent_hours)),
                         int(values.get(_REFERRAL_DAYS_KEY, default.referral_days)))

    def set_deadlines(self, deadlines: Deadlines) -> None:
        if not (1 <= deadlines.urgent_hours <= 24 * 14 and 1 <= deadlines.referral_days <= 90):
            raise UserError(_("Deadlines must be between 1 hour and 14 days for urgent cases "
                              "and between 1 and 90 days for referrals."),
                            hint=_("Choose values in those ranges and save again."))
        with self._database.write() as db:
            for key, value in ((_URGENT_HOURS_KEY, deadlines.urgent_hours),
                               (_REFERRAL_DAYS_KEY, deadlines.referral_days)):
                db.execute("INSERT OR REPLACE INTO profile (key, value) VALUES (?, ?)",
                           [key, str(value)])
            self._audit.append(db, AuditAction.FOLLOW_UP_DEADLINES, at=self._clock(),
                               details={"urgent_hours": deadlines.urgent_hours,
                                        "referral_days": deadlines.referral_days})

    # -- reading ---------------------------------------------------------------------------

    def _open_state(self, record_id: str, sealed: bytes) -> dict[str, Any]:
        try:
            return orjson.loads(self._cipher.open(sealed, _context(CASES, "state", record_id)))
        except CryptoError:
            raise UserError(_("A follow-up case cannot be opened: the database was altered "
                              "or damaged.")) from None

    def _case(self, record_id: str, state: dict[str, Any], facts: dict[str, Any],
              deadlines: Deadlines, now: dt.datetime,
              linked: dict[str, dict[str, Any]] | None = None,
              version: int = 1) -> FollowUpCase:
        status = FollowUpStatus(state["status"])
        opened = _parse_stamp(state["opened_at"])
        screened = _parse_stamp(state["screened_at"]) or opened or now
        if opened is not None:
            # A screening cannot have happened after its import (see the module docstring).
            screened = min(screened, opened)
        due = screened + deadlines.limit(state["priority"])
        clock_went_back = opened is not None and now < opened - CLOCK_BACK_TOLERANCE
        return FollowUpCase(
            record_id=record_id, priority=state["priority"], status=status,
            screened_at=state["screened_at"], opened_at=state["opened_at"],
            changed_at=state["changed_at"], due_at=utc_stamp(due),
            overdue=status is FollowUpStatus.NEW and (now >= due or clock_went_back),
            history=tuple((entry[0], entry[1]) for entry in state["history"]),
            facts=facts,
            linked=tuple((other, (linked or {}).get(other, {}))
                         for other in state.get("linked", ())),
            shared_with=state.get("shared_with"), version=version)

    def _cases(self, record_id: str | None, include_closed: bool,
               record_ids: list[str] | None = None) -> list[FollowUpCase]:
        query = (f"SELECT f.record_id, f.state, r.summary, f.version FROM {CASES} f "  # noqa: S608
                 "JOIN imported_records r ON r.id = f.record_id")
        if record_ids is not None:
            marks = ", ".join("?" * len(record_ids))
            arguments: tuple[Any, ...] = (query + f" WHERE f.record_id IN ({marks})",
                                          record_ids)
        elif record_id is not None:
            arguments = (query + " WHERE f.record_id = ?", [record_id])
        else:
            arguments = (query,)
        with self._database.read() as connection:
            rows = connection.execute(*arguments).fetchall()
        deadlines, now = self.deadlines(), self._clock()
        state_context = FieldCipher.row_context(CASES, "state", FOLLOW_UP_SCHEMA_VERSION)
        summary_context = FieldCipher.row_context(IMPORTED_TABLE, "summary",
                                                  IMPORTED_SCHEMA_VERSION)
        # Thousands of small dicts: the cyclic collector would otherwise run many times
        # over objects that cannot form cycles.
        collecting = gc.isenabled()
        gc.disable()
        try:
            try:
                states = self._cipher.open_many(
                    [(row[1], state_context(row[0])) for row in rows])
            except CryptoError:
                raise UserError(_("A follow-up case cannot be opened: the database was "
                                  "altered or damaged.")) from None
            try:
                summaries = self._cipher.open_many(
                    [(row[2], summary_context(row[0])) for row in rows])
            except CryptoError:
                raise UserError(_("An imported record cannot be opened: the database was "
                                  "altered or damaged.")) from None
            found = []
            opened = [(row, orjson.loads(plain_state), plain_summary)
                      for row, plain_state, plain_summary in zip(rows, states, summaries,
                                                                 strict=True)]
            opened = [item for item in opened
                      if include_closed or item[1]["status"] != FollowUpStatus.CLOSED]
            linked = self._linked_summaries(
                {other for _row, state, _summary in opened
                 for other in state.get("linked", ())})
            for row, state, plain_summary in opened:
                found.append(self._case(row[0], state, orjson.loads(plain_summary),
                                        deadlines, now, linked, row[3]))
        finally:
            if collecting:
                gc.enable()
        return found

    def _linked_summaries(self, record_ids: set[str]) -> dict[str, dict[str, Any]]:
        """The summaries of linked screenings a shown case carries (few: only links)."""
        if not record_ids:
            return {}
        ids = sorted(record_ids)
        rows: list[Any] = []
        with self._database.read() as connection:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                rows += connection.execute(
                    f"SELECT id, summary FROM {IMPORTED_TABLE} "  # noqa: S608
                    f"WHERE id IN ({marks})", chunk).fetchall()
        context = FieldCipher.row_context(IMPORTED_TABLE, "summary", IMPORTED_SCHEMA_VERSION)
        try:
            plain = self._cipher.open_many([(row[1], context(row[0])) for row in rows])
        except CryptoError:
            raise UserError(_("An imported record cannot be opened: the database was "
                              "altered or damaged.")) from None
        return {row[0]: orjson.loads(text) for row, text in zip(rows, plain, strict=True)}

    def cases(self, *, include_closed: bool = False) -> list[FollowUpCase]:
        """The queue in working order: urgent first, overdue first, then oldest first."""
        found = self._cases(None, include_closed)
        found.sort(key=lambda case: (case.status is FollowUpStatus.CLOSED,
                                     CASE_PRIORITIES.index(case.priority), not case.overdue,
                                     case.screened_at, case.record_id))
        return found

    def page(self, offset: int = 0, limit: int = 200, *, include_closed: bool = False
             ) -> QueuePage:
        """One screen of the queue in working order, how many cases it holds, how many
        are overdue.

        The order comes from the sealed queue index (`store/queue_index.py`); only the
        cases shown are opened. Each is checked against its index entry: an entry that
        disagrees (or a stale or damaged index) rebuilds the index once from every case.
        """
        for attempt in range(2):
            entries = self._entries(rebuild=attempt > 0)
            deadlines = self.deadlines()
            ordered = entries.order(
                ranks={name: rank for rank, name in enumerate(CASE_PRIORITIES)},
                closed=FollowUpStatus.CLOSED.value, new=FollowUpStatus.NEW.value,
                limit_of=deadlines.limit, now=self._clock(),
                clock_back_tolerance=CLOCK_BACK_TOLERANCE, include_closed=include_closed)
            chosen_rows = ordered.rows[offset:offset + limit]
            chosen = [entries.ids[row].decode("ascii") for row in chosen_rows]
            shown = {case.record_id: case for case in self._cases_of(chosen)}
            if all(record_id in shown and entries.entry(int(row)) == (
                    shown[record_id].priority, shown[record_id].status.value)
                   for record_id, row in zip(chosen, chosen_rows, strict=True)):
                return QueuePage([shown[record_id] for record_id in chosen],
                                 len(ordered.rows), ordered.overdue)
        raise UserError(_("A follow-up case cannot be opened: the database was altered "
                          "or damaged."))

    def _entries(self, *, rebuild: bool) -> QueueEntries:
        # A login limited to some rows (a supervisor on PostgreSQL) neither reads nor
        # writes the sealed index of every case: theirs is built from the cases they see.
        every_row = self._database.sees_every_row
        read = None if rebuild or not every_row else self._index.read()
        if read is not None:
            entries, deltas = read
            if deltas >= COMPACT_AFTER_DELTAS:
                self._index.write_base(entries)
            return entries
        # Every case opened once (states only, not the summaries) to rebuild the index.
        audit_seq = self._index.audit_seq()
        with self._database.read() as connection:
            rows = connection.execute(
                f"SELECT record_id, state FROM {CASES}").fetchall()  # noqa: S608
        state_context = FieldCipher.row_context(CASES, "state", FOLLOW_UP_SCHEMA_VERSION)
        try:
            states = self._cipher.open_many([(row[1], state_context(row[0])) for row in rows])
        except CryptoError:
            raise UserError(_("A follow-up case cannot be opened: the database was altered "
                              "or damaged.")) from None
        entries = QueueEntries.from_entries(
            {row[0]: entry_of(orjson.loads(plain))
             for row, plain in zip(rows, states, strict=True)})
        if every_row:
            self._index.write_base(entries, audit_seq)
        return entries

    def _cases_of(self, record_ids: list[str]) -> list[FollowUpCase]:
        found: list[FollowUpCase] = []
        for start in range(0, len(record_ids), 500):
            found += self._cases(None, True, record_ids[start:start + 500])
        return found

    def case(self, record_id: str) -> FollowUpCase:
        found = self._cases(record_id, True)
        if not found:
            raise UserError(_("There is no follow-up case for record {id}.").format(
                id=record_id[:40]), hint=_("Choose a case from the referral queue."))
        return found[0]

    def overdue(self) -> list[FollowUpCase]:
        return [case for case in self.cases() if case.overdue]

    def notes(self, record_id: str) -> list[CaseNote]:
        with self._database.read() as connection:
            rows = connection.execute(
                f"SELECT id, at, note FROM {NOTES} WHERE record_id = ? "  # noqa: S608
                "ORDER BY id", [record_id]).fetchall()
        found = []
        for note_id, at, sealed in rows:
            try:
                text = self._cipher.open(sealed, _context(NOTES, "note", f"{record_id}/{note_id}"))
            except CryptoError:
                raise UserError(_("A case note cannot be opened: the database was altered "
                                  "or damaged.")) from None
            found.append(CaseNote(at, text.decode("utf-8")))
        return found

    # -- changing --------------------------------------------------------------------------

    @staticmethod
    def _clean_note(note: str | None) -> str:
        text = (note or "").strip()
        if len(text) > MAX_NOTE_CHARS:
            raise UserError(_("A note can hold at most {count} characters.").format(
                count=MAX_NOTE_CHARS), hint=_("Shorten the note and save again."))
        return text

    def change_status(self, record_id: str, status: FollowUpStatus,
                      note: str | None = None, *,
                      expected_version: int | None = None) -> FollowUpCase:
        """Move a case to `status`; going back, or closing before services were delivered,
        needs a note saying why. The change, its note and the audit entry commit together.

        `expected_version` is the version of the case as the person saw it (the console's
        list, `referral cases --json`); without it, the version read here.

        Raises:
            CaseChangedElsewhere: the case changed since that version; nothing was saved.
        """
        text = self._clean_note(note)
        current = self.case(record_id)
        seen = current.version if expected_version is None else expected_version
        if current.version != seen:
            raise CaseChangedElsewhere
        if status is current.status:
            return current
        going_back = status.rank < current.status.rank
        closing_early = (status is FollowUpStatus.CLOSED
                         and current.status is not FollowUpStatus.DELIVERED)
        if (going_back or closing_early) and not text:
            raise UserError(
                _("Write why the case moves back, or why it closes before services were "
                  "delivered."),
                hint=_("The note is kept with the case and the change is logged."))
        now = self._clock()
        stamp = utc_stamp(now)
        with self._database.write() as db:
            row = db.execute(f"SELECT state FROM {CASES} WHERE record_id = ?",  # noqa: S608
                             [record_id]).fetchone()
            state = self._open_state(record_id, row[0])
            previous = state["status"]
            state["status"] = status.value
            state["changed_at"] = stamp
            state["history"].append([status.value, stamp])
            # The version decides, in the database: a console that changed the case since
            # `seen` leaves this UPDATE with no row, and this transaction rolls back.
            written = db.execute(
                f"UPDATE {CASES} SET changed_at = ?, state = ?, "  # noqa: S608
                "version = version + 1 WHERE record_id = ? AND version = ?",
                [stamp, self._cipher.seal(orjson.dumps(state),
                                          _context(CASES, "state", record_id)),
                 record_id, seen])
            if written.rowcount != 1:
                raise CaseChangedElsewhere
            if text:
                self._insert_note(db, record_id, text, now)
            self._audit.append(db, AuditAction.FOLLOW_UP_STATUS, at=now, record_id=record_id,
                               details={"from": previous, "to": status.value,
                                        "with_note": bool(text)})
            append_entries(db, self._cipher, [(record_id, state)])
        return self.case(record_id)

    def add_note(self, record_id: str, note: str) -> CaseNote:
        text = self._clean_note(note)
        if not text:
            raise UserError(_("The note is empty."), hint=_("Write the note, then save it."))
        self.case(record_id)
        now = self._clock()
        with self._database.write() as db:
            self._insert_note(db, record_id, text, now)
            self._audit.append(db, AuditAction.FOLLOW_UP_NOTE, at=now, record_id=record_id)
        return CaseNote(utc_stamp(now), text)

    def _insert_note(self, db: Any, record_id: str, text: str, now: dt.datetime) -> None:
        _insert_note(db, self._cipher, record_id, text, now)


def move_case_for_partner(db: Any, cipher: FieldCipher, audit: AuditLog, now: dt.datetime,
                          record_id: str, status: FollowUpStatus | None, note: str, *,
                          details: dict[str, Any], back: bool = False) -> str | None:
    """Move a case on a partner's word, inside the caller's transaction (the import of the
    partner's update): the partner's note is kept with the case, the change is audited.

    A partner moves a case forward only (`back` allows a declined referral to send it back
    to "contacted", so the coordinator refers the child elsewhere); a closed case stays
    closed. Returns the status the case moved to, or None when it stayed.
    """
    row = db.execute(f"SELECT state FROM {CASES} WHERE record_id = ?",  # noqa: S608
                     [record_id]).fetchone()
    if row is None:
        raise UserError(_("There is no follow-up case for record {id}.").format(
            id=record_id[:40]))
    state = orjson.loads(cipher.open(row[0], _context(CASES, "state", record_id)))
    current = FollowUpStatus(state["status"])
    stamp = utc_stamp(now)
    moved = None
    if status is not None and current is not FollowUpStatus.CLOSED and (
            status.rank > current.rank or (back and status.rank < current.rank)):
        state["status"] = status.value
        state["changed_at"] = stamp
        state["history"].append([status.value, stamp])
        db.execute(f"UPDATE {CASES} SET changed_at = ?, state = ?, "  # noqa: S608
                   "version = version + 1 WHERE record_id = ?",
                   [stamp, cipher.seal(orjson.dumps(state),
                                       _context(CASES, "state", record_id)), record_id])
        moved = status.value
    text = note.strip()[:MAX_NOTE_CHARS]
    if text:
        _insert_note(db, cipher, record_id, text, now)
    audit.append(db, AuditAction.FOLLOW_UP_STATUS, at=now, record_id=record_id,
                 details={"from": current.value, "to": moved or current.value,
                          "with_note": bool(text), **details})
    append_entries(db, cipher, [(record_id, state)])
    return moved


def _insert_note(db: Any, cipher: FieldCipher, record_id: str, text: str,
                 now: dt.datetime) -> None:
    stamp = utc_stamp(now)
    # The engine numbers the note (SQLite's rowid, PostgreSQL's identity), never
    # MAX(id) + 1, which two writers at once could both take; the sealed text names its
    # number, so it is written once the number is known, in the same transaction.
    note_id = db.execute(f"INSERT INTO {NOTES} (record_id, at, note) "  # noqa: S608
                         "VALUES (?, ?, ?) RETURNING id", [record_id, stamp, b""]).fetchone()[0]
    db.execute(f"UPDATE {NOTES} SET note = ? WHERE id = ?",  # noqa: S608
               [cipher.seal(text.encode("utf-8"),
                            _context(NOTES, "note", f"{record_id}/{note_id}")), note_id])


# -- linked screenings share one case ---------------------------------------------------------

# How far a chain of shared cases is followed (links are few; a loop must not hang).
_MAX_SHARE_DEPTH = 64


def _states(db: Any, cipher: FieldCipher, record_ids: Iterable[str]
            ) -> dict[str, dict[str, Any]]:
    found = {}
    for record_id in record_ids:
        row = db.execute(f"SELECT state FROM {CASES} WHERE record_id = ?",  # noqa: S608
                         [record_id]).fetchone()
        if row is not None:
            found[record_id] = orjson.loads(cipher.open(row[0],
                                                        _context(CASES, "state", record_id)))
    return found


def _carrier(db: Any, cipher: FieldCipher, record_id: str) -> str:
    """The case that carries `record_id`'s case (itself unless it was shared)."""
    current = record_id
    for _step in range(_MAX_SHARE_DEPTH):
        state = _states(db, cipher, [current]).get(current)
        if state is None or not state.get("shared_with"):
            return current
        current = state["shared_with"]
    return current


def _write_states(db: Any, cipher: FieldCipher, stamp: str,
                  states: dict[str, dict[str, Any]]) -> None:
    for record_id, state in states.items():
        db.execute(f"UPDATE {CASES} SET changed_at = ?, state = ?, "  # noqa: S608
                   "version = version + 1 WHERE record_id = ?",
                   [stamp, cipher.seal(orjson.dumps(state),
                                       _context(CASES, "state", record_id)), record_id])


def _recount_priority(carrier: dict[str, Any], states: dict[str, dict[str, Any]]) -> None:
    # The carried case is as urgent as the most urgent screening it carries.
    own = carrier.setdefault("own_priority", carrier["priority"])
    wanted = [own] + [states[other]["priority"]
                      for other in carrier.get("linked", ()) if other in states]
    carrier["priority"] = min(wanted, key=CASE_PRIORITIES.index)


def share_case(db: Any, cipher: FieldCipher, now: dt.datetime, first: str, second: str
               ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """Inside the link's transaction: make two linked screenings share one case.

    The case of the earlier screening carries the other; a screening without a case (not
    referred) is listed on the other's case so its reasons show there. Returns the changed
    cases (for the queue index, after the caller's audit entry) and the audit details.
    """
    roots = [_carrier(db, cipher, first), _carrier(db, cipher, second)]
    states = _states(db, cipher, roots)
    if roots[0] == roots[1] or not states:
        return [], {}
    with_case = [root for root in roots if root in states]
    if len(with_case) == 1:
        carrier, absorbed = with_case[0], next(root for root in roots if root not in states)
    else:
        carrier, absorbed = sorted(roots, key=lambda root: (states[root]["screened_at"],
                                                            root))
    carried = states[carrier]
    linked = carried.setdefault("linked", [])
    stamp = utc_stamp(now)
    if absorbed in states:
        other = states[absorbed]
        other["shared_with"] = carrier
        other["status_before"] = other["status"]
        if other["status"] != FollowUpStatus.CLOSED.value:
            other["status"] = FollowUpStatus.CLOSED.value
            other["history"].append([FollowUpStatus.CLOSED.value, stamp])
        other["changed_at"] = stamp
        linked += [absorbed] + [name for name in other.get("linked", ()) if name not in linked]
    elif absorbed not in linked:
        linked.append(absorbed)
    carried["changed_at"] = stamp
    everything = {**states, **_states(db, cipher, [name for name in linked
                                                   if name not in states])}
    _recount_priority(carried, everything)
    _write_states(db, cipher, stamp, states)
    return list(states.items()), {"case": carrier, "shared": absorbed}


def _chain(db: Any, cipher: FieldCipher, record_id: str) -> list[str]:
    """`record_id`, the case carrying it, the case carrying that one … up to the top."""
    chain = [record_id]
    for _step in range(_MAX_SHARE_DEPTH):
        state = _states(db, cipher, [chain[-1]]).get(chain[-1])
        if state is None or not state.get("shared_with") or state["shared_with"] in chain:
            break
        chain.append(state["shared_with"])
    return chain


def unshare_case(db: Any, cipher: FieldCipher, now: dt.datetime, first: str, second: str
                 ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """Inside the unlink's transaction: give a shared case back as it was before.

    The screening given back is the one this link brought in: the case shared directly
    into the other's, else a screening without a case, else the one listed on the case at
    the top of the other's chain.
    """
    stamp = utc_stamp(now)
    pair = _states(db, cipher, [first, second])

    def rank(gone: str, kept: str) -> int:
        if gone in pair and pair[gone].get("shared_with") == kept:
            return 0
        return 1 if gone not in pair else 2

    for gone, kept in sorted(((first, second), (second, first)), key=lambda p: rank(*p)):
        chain = _chain(db, cipher, kept)
        states = _states(db, cipher, [gone, *chain])
        carrier = chain[-1]
        if carrier not in states or gone in chain or gone not in states[carrier].get(
                "linked", ()):
            continue
        own = states.get(gone)
        returned = {gone, *(own.get("linked", ()) if own else ())}
        for holder in chain:
            if holder in states and "linked" in states[holder]:
                states[holder]["linked"] = [name for name in states[holder]["linked"]
                                            if name not in returned]
                states[holder]["changed_at"] = stamp
        if own is not None and own.get("shared_with") in chain:
            before = own.pop("status_before", own["status"])
            own.pop("shared_with")
            if before != own["status"]:
                own["status"] = before
                own["history"].append([before, stamp])
            own["changed_at"] = stamp
        for holder in chain:
            if holder in states and "own_priority" in states[holder]:
                remaining = _states(db, cipher, states[holder]["linked"])
                _recount_priority(states[holder], {**remaining, **states})
        _write_states(db, cipher, stamp, states)
        return list(states.items()), {"case": carrier, "returned": gone}
    return [], {}
