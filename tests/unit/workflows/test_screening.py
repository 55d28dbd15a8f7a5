"""The screening workflow without Qt: start, autosave with coalescing, resume, final save."""

from __future__ import annotations

import json

import pytest

from fieldscreen.store.records import RecordStatus
from fieldscreen.workflows.screening import ScreeningWorkflow, load_checklist
from tests.conftest import SHIPPED_FORM
from tests.store_helpers import ANSWERS, FakeClock, create_profile


@pytest.fixture
def workflow(tmp_path, shipped_form):
    clock = FakeClock()
    _store, profile = create_profile(tmp_path / "data", clock=clock)
    flow = ScreeningWorkflow(clock)
    flow.form, flow.services, _audio = load_checklist(profile, (shipped_form, None))
    flow.opened(profile)
    yield flow
    if flow.profile is not None:
        flow.closed().lock()


def _answers() -> dict:
    return json.loads((ANSWERS / "referral.json").read_text(encoding="utf-8"))


def test_without_a_pack_the_shipped_checklist_is_used(workflow, shipped_form):
    assert workflow.form is shipped_form
    assert SHIPPED_FORM.is_file()


def test_nothing_starts_while_locked(shipped_form):
    flow = ScreeningWorkflow()
    flow.form = shipped_form
    assert flow.start_new() is None
    assert flow.draft_job() is None


def test_answers_given_during_a_draft_save_are_saved_next(workflow):
    session = workflow.start_new()
    record_id = workflow.record_id
    first_name, first_value = next(iter(_answers().items()))
    session.answer(first_name, first_value)
    save = workflow.draft_job()
    assert save is not None
    # A second answer while the save runs: no second job now, one more afterwards.
    session.answer_all(_answers())
    assert workflow.draft_job() is None
    summary = save()
    assert summary.id == record_id and summary.status is RecordStatus.DRAFT
    assert workflow.draft_saved() is True
    again = workflow.draft_job()
    assert again is not None
    again()
    assert workflow.draft_saved() is False
    stored = workflow.profile.records.get(record_id)
    assert stored.answers == session.answers_json()


def test_a_draft_resumes_at_its_answers_and_saves_final_on_the_same_record(workflow,
                                                                          shipped_form):
    session = workflow.start_new()
    session.answer_all(_answers())
    record_id = workflow.record_id
    workflow.draft_job()()
    workflow.draft_saved()
    workflow.stop()
    assert workflow.session is None

    load = workflow.resume_job(record_id, shipped_form)
    record, form = load()
    resumed = workflow.resumed(record, form)
    assert workflow.record_id == record_id
    assert resumed.answers_json() == session.answers_json()

    save = workflow.final_job(resumed.outcome())
    # Once the final save started, no draft may overwrite it.
    assert workflow.draft_job() is None
    summary = save()
    workflow.final_saved()
    assert summary.id == record_id and summary.status is RecordStatus.FINAL
    assert workflow.session is None and workflow.record_id is None
    assert [s.id for s in workflow.profile.records.list()] == [record_id]


def test_a_failed_final_save_keeps_the_screening_open(workflow):
    session = workflow.start_new()
    session.answer_all(_answers())
    workflow.final_job(session.outcome())
    workflow.final_failed()
    assert workflow.session is session
    assert workflow.draft_job() is not None  # drafts resume after the failure


def test_locking_forgets_the_open_screening(workflow):
    workflow.start_new()
    profile = workflow.closed()
    assert profile is not None
    assert (workflow.profile, workflow.session, workflow.record_id) == (None, None, None)
    profile.lock()
