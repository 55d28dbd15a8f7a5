"""One field profile's screenings: start, answer, autosave a draft, resume, finish and save.

The state the field window used to keep in its widgets lives here: the open session, the
record id every save lands on, and whether a draft save is running, wanted again, or
overtaken by the final save. The window asks for a job, runs it on its worker thread and
reports back; this class decides what happens next. Nothing here touches Qt or runs a job
itself, so every rule can be tested in a plain test.

The optional child code (decision 54) is computed here from the letters the child says,
as soon as the worker gives them (`set_child_code`): only the keyed hashes are kept, in
memory, until the final save puts them in the outcome as `child_code`. The letters are
never stored, never in a draft, never logged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fieldscreen.errors import UserError
from fieldscreen.i18n import _
from fieldscreen.store.record_ids import new_record_id

if TYPE_CHECKING:
    from fieldscreen.engine.session import ScreeningOutcome, ScreeningSession
    from fieldscreen.forms.media import QuestionAudio
    from fieldscreen.forms.schema import Form
    from fieldscreen.forms.services import ServicesDirectory
    from fieldscreen.reporting.linkage import ChildCode
    from fieldscreen.store.profile import UnlockedProfile
    from fieldscreen.store.records import Record, RecordSummary

Clock = Callable[[], dt.datetime]
Job = Callable[[], Any]
# The sexes a child code knows, the same on every laptop (a code made with another value,
# or none, only agrees with codes made the same way).
CODE_SEXES = ("female", "male")
EARLIEST_BIRTH_YEAR = 1900


def load_checklist(profile: UnlockedProfile, shipped: tuple[Form, ServicesDirectory | None]
                   ) -> tuple[Form, ServicesDirectory | None, QuestionAudio | None]:
    """The installed pack's form, services and recordings (None: no Listen), or the shipped
    form and services without a pack. Slow: it verifies the pack once, media included; run
    it on a worker."""
    from fieldscreen.exchange.pack import read_pack

    shipped_form, shipped_services = shipped
    raw = profile.installed_pack()
    if raw is None:
        return shipped_form, shipped_services, None
    from fieldscreen.forms.translations import with_catalog_languages

    pack = read_pack(raw)
    return (with_catalog_languages(pack.form()), pack.services or shipped_services,
            pack.listen_audio())


class ScreeningWorkflow:
    """The screenings of one open profile.

    Attributes:
        profile: the open profile, or None while locked.
        form, services: the checklist screenings use (the pack's, or the shipped one).
        session: the screening in progress, or None.
        record_id: the id every autosave and the final save of `session` land on.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.profile: UnlockedProfile | None = None
        self.form: Form | None = None
        self.services: ServicesDirectory | None = None
        self.session: ScreeningSession | None = None
        self.record_id: str | None = None
        self._saving_draft = False
        self._draft_dirty = False
        self._finalizing = False
        self.child_code: ChildCode | None = None

    # -- the profile ----------------------------------------------------------------------

    def opened(self, profile: UnlockedProfile) -> None:
        """A profile was unlocked; `form` and `services` are already loaded."""
        self.profile = profile

    def closed(self) -> UnlockedProfile | None:
        """Forget the profile and any open screening (locking); returns the profile to lock."""
        profile, self.profile = self.profile, None
        self.session = None
        self.record_id = None
        self.child_code = None
        self._saving_draft = self._draft_dirty = self._finalizing = False
        return profile

    # -- a screening ----------------------------------------------------------------------

    def start_new(self) -> ScreeningSession | None:
        """Open a new screening on the checklist; None while locked or without a form."""
        if self.profile is None or self.form is None:
            return None

        from fieldscreen.engine.session import ScreeningSession

        self.session = ScreeningSession(self.form, clock=self.clock)
        # Chosen now, so every autosave and the final save land on the same record.
        self.record_id = new_record_id(self.clock())
        self.child_code = None
        self._draft_dirty = self._finalizing = False
        return self.session

    def resume_job(self, record_id: str, shipped_form: Form | None
                   ) -> Callable[[], tuple[Record, Form]] | None:
        """The job that loads a draft with the form version it was started with."""
        profile = self.profile
        if profile is None or not record_id:
            return None
        current = self.form

        def load() -> tuple[Record, Form]:
            # A newer pack may have renamed questions or changed what an answer means.
            from fieldscreen.exchange.sync import form_for_draft
            from fieldscreen.forms.translations import with_catalog_languages

            record = profile.records.get(record_id)
            summary = record.summary
            if current is not None and (current.id, current.version) == (
                    summary.form_id, summary.form_version):
                return record, current
            also = [shipped_form] if shipped_form is not None else []
            form = form_for_draft(profile, summary.form_id, summary.form_version, also=also)
            return record, with_catalog_languages(form)

        return load

    def resumed(self, record: Record, form: Form) -> ScreeningSession:
        """Open the loaded draft at its answers."""
        from fieldscreen.engine.session import ScreeningSession

        self.session = ScreeningSession(form, clock=self.clock)
        self.session.answer_all(record.answers)
        self.record_id = record.id
        # A code is never in a draft: a resumed screening asks for the letters again.
        self.child_code = None
        self._draft_dirty = self._finalizing = False
        return self.session

    def stop(self) -> None:
        """The worker stopped the screening; its last autosaved draft stays."""
        self.session = None
        self.record_id = None
        self.child_code = None

    # -- the child code -------------------------------------------------------------------

    def child_code_available(self) -> bool:
        """Whether this laptop's pack brought the linkage key (so a code can be made)."""
        return self.profile is not None and self.profile.linkage_key() is not None

    def set_child_code(self, *, given: str, family: str, birth_year: int | None,
                       sex: str | None) -> bool:
        """Compute the open screening's child code from what the child says; True when
        there was enough to make one (at least a letter of each name and the birth year).

        The letters are used here and dropped: only the keyed hashes are kept, and only in
        memory until the final save. Replaces a code given before for this screening.

        Raises:
            UserError: no screening is open, this laptop has no linkage key, or the year
                is not a birth year.
        """
        if self.profile is None or self.session is None:
            raise UserError(_("Start or resume a screening before adding a child code."))
        key = self.profile.linkage_key()
        if key is None:
            raise UserError(_("This laptop has no linkage key, so it cannot make child "
                              "codes."),
                            hint=_("Ask your coordinator for a deployment pack made after "
                                   "this laptop was enrolled."))
        if birth_year is not None and not (
                EARLIEST_BIRTH_YEAR <= birth_year <= self.clock().year):
            raise UserError(_("The birth year must be between {first} and {last}.").format(
                first=EARLIEST_BIRTH_YEAR, last=self.clock().year),
                hint=_("Correct the year, or leave the child code out."))
        from fieldscreen.reporting.linkage import child_code

        self.child_code = child_code(key, given=given, family=family,
                                     birth_year=birth_year,
                                     sex=sex if sex in CODE_SEXES else None)
        return self.child_code is not None

    def clear_child_code(self) -> None:
        """Leave the open screening without a child code."""
        self.child_code = None

    # -- saving ---------------------------------------------------------------------------

    def draft_job(self) -> Job | None:
        """The job that saves the open screening as a draft, or None when none is due.

        Answers given while a draft save runs are coalesced: the save is asked again once
        the running one ends (`draft_saved` says so). Once the final save started, drafts
        stop.
        """
        if self.session is None or self.profile is None or self._finalizing:
            return None
        if self._saving_draft:
            self._draft_dirty = True
            return None
        profile, session, record_id = self.profile, self.session, self.record_id
        answers = session.answers_json()
        self._saving_draft = True
        self._draft_dirty = False

        def save() -> RecordSummary:
            return profile.records.save_draft(session.form.id, session.form.version, answers,
                                              record_id=record_id, create_if_missing=True)

        return save

    def draft_saved(self) -> bool:
        """A draft save ended; True when answers came in meanwhile and another is due."""
        self._saving_draft = False
        return self.session is not None and self._draft_dirty

    def draft_failed(self) -> None:
        """A draft save failed; the answers stay open and the next answer tries again."""
        self._saving_draft = False

    def final_job(self, outcome: ScreeningOutcome) -> Job | None:
        """The job that saves the screening as final with its outcome, or None."""
        profile, session, record_id = self.profile, self.session, self.record_id
        if profile is None or session is None:
            return None
        answers = session.answers_json()
        saved_outcome = outcome.to_json()
        if self.child_code is not None:
            code = self.child_code
            saved_outcome["child_code"] = {"full": code.full, "given": code.given,
                                           "family": code.family}
        self._finalizing = True
        self._draft_dirty = False

        def save() -> RecordSummary:
            return profile.records.save_final(session.form.id, session.form.version, answers,
                                              saved_outcome, record_id=record_id,
                                              create_if_missing=True)

        return save

    def final_saved(self) -> None:
        """The final save committed: the screening is closed."""
        self._finalizing = False
        self.session = None
        self.record_id = None
        self.child_code = None

    def final_failed(self) -> None:
        """The final save failed: the screening stays open, nothing is lost."""
        self._finalizing = False
