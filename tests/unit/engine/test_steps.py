"""Pacing: one step per question to the child, the worker's observations grouped."""

from __future__ import annotations

import json

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.engine.steps import wizard_steps
from fieldscreen.forms.schema import Audience, ItemType
from tests.store_helpers import ANSWERS, START


def _steps(form, answers_file=None):
    session = ScreeningSession(form, clock=lambda: START)
    if answers_file is not None:
        session.answer_all(json.loads((ANSWERS / answers_file).read_text(encoding="utf-8")))
    return session, wizard_steps(session)


def test_steps_cover_every_shown_item_once_in_form_order(shipped_form):
    session, steps = _steps(shipped_form, "referral.json")
    shown = [item.name for item in session.shown_items()
             if item.type not in (ItemType.GROUP, ItemType.CALCULATE)]
    assert [item.name for step in steps for item in step.items] == shown
    assert all(step.key == step.items[0].name for step in steps)


def test_only_worker_questions_of_one_group_share_a_step(shipped_form):
    _session, steps = _steps(shipped_form, "referral.json")
    shared = [step for step in steps if len(step.items) > 1]
    assert shared, "the shipped form groups the worker's observations"
    for step in shared:
        assert step.for_worker and step.audience is Audience.WORKER
        assert {item.parent for item in step.items} == {step.group}
        assert all(item.audience is Audience.WORKER for item in step.items)
        # A note may open a step; it never joins one.
        assert all(item.type is not ItemType.NOTE for item in step.items[1:])
    for step in steps:
        if not step.for_worker:
            assert len(step.items) == 1


def test_calculations_and_groups_never_get_a_step(mini_form):
    session, steps = _steps(mini_form)
    session.answer("assent", "yes")
    steps = wizard_steps(session)
    kinds = {item.type for step in steps for item in step.items}
    assert ItemType.CALCULATE not in kinds and ItemType.GROUP not in kinds
    assert any(item.type is ItemType.CALCULATE for item in session.shown_items())


def test_without_assent_nothing_inside_the_screening_is_paced(mini_form):
    _session, steps = _steps(mini_form)
    assert steps[0].key == "assent"
    assert all(item.parent != "main" for step in steps for item in step.items)
