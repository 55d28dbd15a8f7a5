"""Wizard navigation without Qt: problems block, skipping leaves gaps, drafts resume."""

from __future__ import annotations

import json

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.workflows.navigation import Move, WizardNavigation
from tests.store_helpers import ANSWERS, START


def _session(form) -> ScreeningSession:
    return ScreeningSession(form, clock=lambda: START)


def test_walking_forward_to_the_end_finishes(shipped_form):
    navigation = WizardNavigation()
    navigation.start(_session(shipped_form))
    # Without consent only the opening steps are shown; skipping consent ends there.
    assert navigation.index == 0 and navigation.total >= 1
    moves = [navigation.skip()[1] for _ in range(200)]
    assert Move.FINISHED in moves
    assert moves.index(Move.FINISHED) == len(navigation.steps) - 1


def test_back_stops_at_the_first_step(shipped_form):
    navigation = WizardNavigation()
    navigation.start(_session(shipped_form))
    assert navigation.go_back() is False
    navigation.skip()
    assert navigation.index == 1
    assert navigation.go_back() is True and navigation.index == 0


def test_skipping_clears_an_optional_answer_instead_of_recording_no(shipped_form):
    session = _session(shipped_form)
    navigation = WizardNavigation()
    navigation.start(session)
    step = navigation.current_step()
    optional = [item for item in step.items if item.type.takes_answer and not item.required]
    for item in optional:
        choices = item.choice_list.choices if item.choice_list else ()
        if choices:
            session.answer(item.name, choices[0].name)
    changed, move = navigation.skip()
    assert changed and move is Move.MOVED
    assert all(item.name not in session.answers for item in optional)


def test_an_answer_problem_blocks_the_next_step(mini_form):
    session = _session(mini_form)
    navigation = WizardNavigation()
    navigation.start(session)
    # Walk until a step whose item has a constraint or is required, then leave it wrong.
    for _ in range(50):
        step = navigation.current_step()
        if any(session.problem_with(item.name) for item in step.items):
            assert navigation.go_next() is Move.BLOCKED
            assert navigation.problem
            return
        if navigation.skip()[1] is Move.FINISHED:
            break
    raise AssertionError("the test form has no step with a problem to block on")


def test_a_resumed_draft_opens_after_its_last_answered_step(shipped_form):
    session = _session(shipped_form)
    session.answer_all(json.loads((ANSWERS / "referral.json").read_text(encoding="utf-8")))
    navigation = WizardNavigation()
    navigation.start(session)
    answered = [i for i, step in enumerate(navigation.steps)
                if any(item.name in session.answers for item in step.items)]
    assert navigation.index == min(answered[-1] + 1, len(navigation.steps) - 1)


def test_progress_counts_the_whole_screening_from_the_first_step(shipped_form):
    session = _session(shipped_form)
    navigation = WizardNavigation()
    navigation.start(session)
    # Before consent only the opening steps are shown, but the total is the screening's.
    before = navigation.total
    assert len(navigation.steps) < 10 < before
    session.answer("child_assent", "yes")
    navigation.refresh()
    assert len(navigation.steps) <= navigation.total == before


def test_next_refuses_a_step_with_nothing_answered_and_skip_leaves_it_open(shipped_form):
    session = _session(shipped_form)
    navigation = WizardNavigation()
    navigation.start(session)
    first = navigation.current_step()
    assert any(item.type.takes_answer for item in first.items)
    for _ in range(20):  # Next pressed again and again
        assert navigation.go_next() is Move.BLOCKED
    assert navigation.index == 0 and "Skip" in (navigation.problem or "")
    assert navigation.skip()[1] is Move.MOVED and navigation.index == 1
