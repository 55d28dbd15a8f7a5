"""A random walk through a profile's life, checked against a plain dict after every step.

Hypothesis drives saves (drafts, finals, edits, drafts made final), deletes, locking,
unlocking with right and wrong passphrases, passphrase changes and reopening the profile
from disk; the model is {id: (status, answers)} plus the passphrase, the failure count
and the number of audit entries. While unlocked, `list()` and `get()` must agree with the
model and the audit chain must hold with exactly the expected number of entries.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from fieldscreen.store.profile import (
    LockedProfile,
    UnlockDelayed,
    UnlockedProfile,
    WrongPassphrase,
    unlock_delay,
)
from fieldscreen.store.records import RecordLocked, RecordNotFound, RecordStatus
from tests.store_helpers import (
    OTHER_PASSPHRASE,
    PASSPHRASE,
    PROFILE,
    THIRD_PASSPHRASE,
    FakeClock,
    create_profile,
    new_store,
)

FORM = ("child-screening", "2026.11.0")
PASSPHRASES = [PASSPHRASE, OTHER_PASSPHRASE, THIRD_PASSPHRASE]
WRONG = "not the passphrase at all"

# JSON-shaped answers (no floats: NaN would never compare equal to itself).
values = st.one_of(
    st.text(max_size=30), st.integers(-10**12, 10**12), st.booleans(), st.none(),
    st.lists(st.sampled_from(["labour", "sexual", "begging"]), max_size=3, unique=True),
)
answer_sets = st.dictionaries(st.sampled_from(["worker_note", "age_years", "a_papers_kept",
                                               "exploitation_forms", "child_assent"]),
                              values, max_size=4)


class ProfileLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="fieldscreen-stateful-"))
        self.clock = FakeClock()
        _store, profile = create_profile(self.folder, clock=self.clock)
        self.unlocked: UnlockedProfile | None = profile
        self.locked: LockedProfile | None = None
        self.passphrase = PASSPHRASE
        self.model: dict[str, tuple[RecordStatus, dict]] = {}
        self.failures = 0
        self.audit_entries = 1  # profile.created

    def teardown(self) -> None:
        if self.unlocked is not None:
            self.unlocked.lock()
        if self.locked is not None:
            self.locked.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _ids(self, status: RecordStatus) -> list[str]:
        # In creation order, never sorted: ids are random uuids, and a choice by position
        # in a sorted list would pick different records when Hypothesis replays a case.
        return [i for i, (s, _a) in self.model.items() if s is status]

    def _saved(self, summary, status: RecordStatus, answers: dict) -> None:
        assert summary.status is status
        self.model[summary.id] = (status, answers)
        self.audit_entries += 1

    # -- records ---------------------------------------------------------------------------

    @precondition(lambda self: self.unlocked is not None)
    @rule(answers=answer_sets)
    def save_new_draft(self, answers):
        self._saved(self.unlocked.records.save_draft(*FORM, answers), RecordStatus.DRAFT,
                    answers)

    @precondition(lambda self: self.unlocked is not None)
    @rule(answers=answer_sets)
    def save_new_final(self, answers):
        summary = self.unlocked.records.save_final(*FORM, answers, {"final_decision": "urgent"})
        assert summary.decision == "urgent"
        self._saved(summary, RecordStatus.FINAL, answers)

    @precondition(lambda self: self.unlocked is not None and self._ids(RecordStatus.DRAFT))
    @rule(data=st.data(), answers=answer_sets)
    def edit_draft(self, data, answers):
        record_id = data.draw(st.sampled_from(self._ids(RecordStatus.DRAFT)))
        self._saved(self.unlocked.records.save_draft(*FORM, answers, record_id=record_id),
                    RecordStatus.DRAFT, answers)

    @precondition(lambda self: self.unlocked is not None and self.model)
    @rule(data=st.data(), answers=answer_sets)
    def save_final_over_existing(self, data, answers):
        """A draft made final, or a final edited."""
        record_id = data.draw(st.sampled_from(list(self.model)))
        before = self.unlocked.records.get(record_id).summary.version
        summary = self.unlocked.records.save_final(*FORM, answers, {"final_decision": "referral"},
                                                   record_id=record_id)
        assert (summary.id, summary.version) == (record_id, before + 1)
        self._saved(summary, RecordStatus.FINAL, answers)

    @precondition(lambda self: self.unlocked is not None and self._ids(RecordStatus.FINAL))
    @rule(data=st.data(), answers=answer_sets)
    def final_cannot_become_draft(self, data, answers):
        record_id = data.draw(st.sampled_from(self._ids(RecordStatus.FINAL)))
        with pytest.raises(RecordLocked):
            self.unlocked.records.save_draft(*FORM, answers, record_id=record_id)

    @precondition(lambda self: self.unlocked is not None and self.model)
    @rule(data=st.data())
    def delete(self, data):
        record_id = data.draw(st.sampled_from(list(self.model)))
        self.unlocked.records.delete(record_id)
        del self.model[record_id]
        self.audit_entries += 1

    @precondition(lambda self: self.unlocked is not None)
    @rule()
    def unknown_ids_are_not_found(self):
        unknown = "00000000-0000-4000-8000-000000000000"
        with pytest.raises(RecordNotFound):
            self.unlocked.records.get(unknown)
        with pytest.raises(RecordNotFound):
            self.unlocked.records.delete(unknown)
        with pytest.raises(RecordNotFound):
            self.unlocked.records.save_final(*FORM, {}, {}, record_id=unknown)

    # -- locking, unlocking, passphrases ---------------------------------------------------

    @precondition(lambda self: self.unlocked is not None)
    @rule()
    def lock(self):
        self.unlocked.lock()
        self.unlocked = None
        self.locked = new_store(self.folder, self.clock).open(PROFILE)

    @precondition(lambda self: self.locked is not None)
    @rule()
    def unlock(self):
        # Wait out any delay first (the clock is ours), then the right passphrase opens.
        self.clock.advance(self.locked.remaining_delay())
        self.unlocked = self.locked.unlock(self.passphrase)
        self.locked = None
        self.failures = 0
        self.audit_entries += 1

    @precondition(lambda self: self.locked is not None)
    @rule(wait=st.booleans())
    def wrong_passphrase(self, wait):
        delay = self.locked.remaining_delay()
        assert delay == (unlock_delay(self.failures) if self.failures else 0)
        if delay and not wait:
            # Too soon: refused without counting a failure, whatever the passphrase.
            with pytest.raises(UnlockDelayed):
                self.locked.unlock(self.passphrase)
            return
        self.clock.advance(delay)
        with pytest.raises(WrongPassphrase) as caught:
            self.locked.unlock(WRONG)
        self.failures += 1
        assert caught.value.delay == unlock_delay(self.failures)

    @precondition(lambda self: self.unlocked is not None)
    @rule(new=st.sampled_from(PASSPHRASES))
    def change_passphrase(self, new):
        self.unlocked.change_passphrase(new)
        self.passphrase = new
        self.audit_entries += 1

    @rule()
    def reopen(self):
        """Close everything and open the folder again with a new ProfileStore (locked)."""
        if self.unlocked is not None:
            self.unlocked.lock()
            self.unlocked = None
        if self.locked is not None:
            self.locked.close()
        self.locked = new_store(self.folder, self.clock).open(PROFILE)

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def records_match_the_model(self):
        if self.unlocked is None:
            return
        records = self.unlocked.records
        listed = {summary.id: summary.status for summary in records.list()}
        assert listed == {i: status for i, (status, _a) in self.model.items()}
        for record_id, (status, answers) in self.model.items():
            record = records.get(record_id)
            assert (record.summary.status, record.answers) == (status, answers)
        for status in RecordStatus:
            assert records.count(status) == len(self._ids(status))

    @invariant()
    def audit_chain_holds(self):
        if self.unlocked is None:
            return
        result = self.unlocked.verify_audit()
        assert result.holds, result
        assert result.entries == self.audit_entries

    @invariant()
    def delay_survives(self):
        if self.locked is not None:
            assert self.locked.remaining_delay() <= unlock_delay(self.failures)


ProfileLife.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestProfileLife = ProfileLife.TestCase
