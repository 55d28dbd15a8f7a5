"""One field profile's screenings: start, answer, autosave a draft, resume, finish and save.

The state the field window used to keep in its widgets lives here: the open session, the
record id every save lands on, and whether a draft save is running, wanted again, or
overtaken by the final save. The window asks for a job, runs it on its worker thread and
reports back; this class decides what happens next. Nothing here touches Qt or runs a job
itself, so every rule can be tested in a plain test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fieldscreen.store.record_ids import new_record_id

if TYPE_CHECKING:
    from fieldscreen.engine.session import ScreeningOutcome, ScreeningSession
    from fieldscreen.forms.schema import Form
    from fieldscreen.forms.services import ServicesDirectory
    from fieldscreen.store.profile import UnlockedProfile
    from fieldscreen.store.records import Record, RecordSummary

Clock = Callable[[], dt.datetime]
Job = Callable[[], Any]


def load_checklist(profile: UnlockedProfile, shipped: tuple[Form, ServicesDirectory | None]
                   ) -> tuple[Form, ServicesDirectory | None]:
    """The installed pack's form and services, or the shipped ones without a pack (slow:
    run it on a worker)."""
    from fieldscreen.exchange.pack import read_pack

    shipped_form, shipped_services = shipped
    raw = profile.installed_pack()
    if raw is None:
        return shipped_form, shipped_services
    from fieldscreen.forms.translations import with_catalog_languages

    pack = read_pack(raw)
    return with_catalog_languages(pack.form()), pack.services or shipped_services


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

    # -- the profile ----------------------------------------------------------------------

    def opened(self, profile: UnlockedProfile) -> None:
        """A profile was unlocked; `form` and `services` are already loaded."""
        self.profile = profile

    def closed(self) -> UnlockedProfile | None:
        """Forget the profile and any open screening (locking); returns the profile to lock."""
        profile, self.profile = self.profile, None
        self.session = None
        self.record_id = None
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
        self._draft_dirty = self._finalizing = False
        return self.session

    def stop(self) -> None:
        """The worker stopped the screening; its last autosaved draft stays."""
        self.session = None
        self.record_id = None

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
        self._finalizing = True
        self._draft_dirty = False

        def save() -> RecordSummary:
            return profile.records.save_final(session.form.id, session.form.version, answers,
                                              outcome.to_json(), record_id=record_id,
                                              create_if_missing=True)

        return save

    def final_saved(self) -> None:
        """The final save committed: the screening is closed."""
        self._finalizing = False
        self.session = None
        self.record_id = None

    def final_failed(self) -> None:
        """The final save failed: the screening stays open, nothing is lost."""
        self._finalizing = False
