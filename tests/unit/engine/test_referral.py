"""One test per referral rule of DOMAIN.md; each fails if its rule is removed."""

from __future__ import annotations

import datetime as dt

import pytest

from fieldscreen.engine.answers import AnswerError
from fieldscreen.engine.referral import Rule
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.errors import UserError
from fieldscreen.forms.schema import Level, Outcome

TODAY = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


def screen(form, **answers):
    """A session where every indicator not named is answered "no" / "not observed"."""
    zero = {"child": "no", "worker": "not_observed"}
    defaults = {item.name: zero[item.audience.value] for item in form.indicators()}
    session = ScreeningSession(form, clock=lambda: TODAY)
    session.answer_all({"assent": "yes", "age": 14, **defaults, **answers})
    return session


# -- rule 1: red flags -------------------------------------------------------------------


def test_red_flag_said_yes_is_urgent(mini_form):
    decision = screen(mini_form, a_cannot_leave="yes").decision()
    assert decision.outcome is Outcome.URGENT
    assert decision.fired(Rule.RED_FLAG)
    assert decision.reason_items == ("a_cannot_leave",)


def test_red_flag_observed_clearly_is_urgent(mini_form):
    decision = screen(mini_form, a_watched="clear").decision()
    assert decision.outcome is Outcome.URGENT
    assert decision.reasons[0].items == ("a_watched",)


def test_red_flag_at_partial_strength_is_not_urgent(mini_form):
    decision = screen(mini_form, a_cannot_leave="not_sure", a_watched="some").decision()
    assert decision.outcome is not Outcome.URGENT
    assert not decision.fired(Rule.RED_FLAG)
    # Partial red flags still count as risk: 3*0.5 + 3*0.5 = 3 reaches monitor.
    assert decision.risk == pytest.approx(3.0)
    assert decision.outcome is Outcome.MONITOR


# -- rule 2: net = R - min(P, R/2) -------------------------------------------------------


def test_resilience_offsets_risk(mini_form):
    # R = 6 over levels C and D only; P = 2 -> net 4 -> monitor rather than referral.
    session = screen(mini_form, c_hurt_at_home="yes", d_long_hours="yes", d_online="yes",
                     b_trusted_adult="yes")
    decision = session.decision()
    assert decision.risk == pytest.approx(6)
    assert decision.protection == pytest.approx(2)
    assert decision.net == pytest.approx(4)
    assert decision.outcome is Outcome.MONITOR
    assert decision.protective_items == ("b_trusted_adult",)


def test_resilience_can_halve_risk_but_never_cancel_it(mini_form):
    # P = 10 would cancel R = 6; the cap keeps net at R/2 = 3 -> still monitor.
    decision = screen(mini_form, c_hurt_at_home="yes", d_long_hours="yes", d_online="yes",
                      c_family_support="yes").decision()
    assert decision.protection == pytest.approx(10)
    assert decision.net == pytest.approx(3)
    assert decision.outcome is Outcome.MONITOR


# -- rule 3: referral by net score, by elevated levels; monitor ---------------------------


def test_net_at_refer_threshold_is_referral(mini_form):
    decision = screen(mini_form, c_hurt_at_home="yes", d_long_hours="yes",
                      d_online="yes").decision()
    assert decision.net == pytest.approx(6)
    assert decision.outcome is Outcome.REFERRAL
    assert decision.fired(Rule.NET_SCORE_REFER)
    assert not decision.fired(Rule.ELEVATED_LEVELS)
    assert set(decision.reason_items) == {"c_hurt_at_home", "d_long_hours", "d_online"}


def test_three_elevated_levels_is_referral_below_threshold(mini_form):
    # Each "not sure" scores 2 * 0.5 = 1 = elevated_level_score, on B, C and E: net 3 < 6.
    decision = screen(mini_form, b_afraid="not_sure", c_hurt_at_home="not_sure",
                      e_no_papers="not_sure").decision()
    assert decision.net == pytest.approx(3)
    assert decision.outcome is Outcome.REFERRAL
    assert decision.fired(Rule.ELEVATED_LEVELS)
    assert not decision.fired(Rule.NET_SCORE_REFER)
    elevated = {level for level, score in decision.level_scores.items() if score.elevated}
    assert elevated == {Level.B, Level.C, Level.E}


def test_two_elevated_levels_are_not_enough(mini_form):
    decision = screen(mini_form, b_afraid="not_sure", c_hurt_at_home="not_sure").decision()
    assert decision.outcome is Outcome.INFORMATION
    assert decision.reasons == ()


def test_net_at_monitor_threshold_is_monitor(mini_form):
    decision = screen(mini_form, c_hurt_at_home="yes", d_online="not_sure").decision()
    assert decision.net == pytest.approx(3)
    assert decision.outcome is Outcome.MONITOR
    assert decision.fired(Rule.NET_SCORE_MONITOR)


def test_below_monitor_is_information(mini_form):
    decision = screen(mini_form, c_hurt_at_home="yes", d_online="no").decision()
    assert decision.outcome is Outcome.INFORMATION


# -- rule 4: lower thresholds for under-12s and unaccompanied children ---------------------


def test_under_twelve_lowers_thresholds(mini_form):
    older = screen(mini_form, c_hurt_at_home="yes", d_online="yes").decision()
    younger = screen(mini_form, age=10, c_hurt_at_home="yes", d_online="yes").decision()
    assert older.outcome is Outcome.MONITOR
    assert younger.outcome is Outcome.REFERRAL
    assert younger.lowered_thresholds
    assert younger.fired(Rule.LOWERED_THRESHOLDS)
    assert younger.thresholds.refer == 4


def test_unaccompanied_lowers_thresholds(mini_form):
    decision = screen(mini_form, alone="yes", c_hurt_at_home="yes", d_online="yes").decision()
    assert decision.outcome is Outcome.REFERRAL
    assert "alone" in dict((r.rule, r.items) for r in decision.reasons)[Rule.LOWERED_THRESHOLDS]


# -- rule 5: information gaps --------------------------------------------------------------


def test_rather_not_say_is_a_gap_not_a_no(mini_form):
    decision = screen(mini_form, b_afraid="rather_not_say").decision()
    assert "b_afraid" in decision.gaps
    assert decision.risk == 0


def test_many_gaps_schedule_follow_up(mini_form):
    answered = {name: "no" for name in ("a_cannot_leave", "b_afraid", "b_trusted_adult",
                                       "c_hurt_at_home", "c_family_support", "d_long_hours")}
    answered["a_watched"] = "not_observed"
    session = ScreeningSession(mini_form, clock=lambda: TODAY)
    session.answer_all({"assent": "yes", **answered})
    two_gaps = session.decision()
    assert set(two_gaps.gaps) == {"d_online", "e_no_papers"}
    assert not two_gaps.follow_up
    session.answer("b_afraid", "rather_not_say")
    three_gaps = session.decision()
    assert three_gaps.follow_up
    assert three_gaps.fired(Rule.INFORMATION_GAPS)
    # A gap is never low risk: follow-up is set even when the outcome is information only.
    assert three_gaps.outcome is Outcome.INFORMATION


def test_hidden_items_are_neither_gaps_nor_scored(mini_form):
    session = ScreeningSession(mini_form, clock=lambda: TODAY)
    session.answer("c_hurt_at_home", "yes")
    session.answer("assent", "no")
    decision = session.decision()
    assert decision.gaps == ()
    assert decision.risk == 0
    assert not session.is_shown("c_hurt_at_home")


# -- rule 6: escalation and de-escalation --------------------------------------------------


def test_worker_can_escalate_without_reason_and_both_outcomes_are_kept(mini_form):
    session = screen(mini_form, c_hurt_at_home="yes", referral_ok="yes")
    session.escalate(Outcome.REFERRAL)
    outcome = session.outcome()
    assert outcome.decision.outcome is Outcome.INFORMATION
    assert outcome.final is Outcome.REFERRAL
    stored = outcome.to_json()
    assert stored["computed_decision"] == "information"
    assert stored["final_decision"] == "referral"


def test_de_escalation_needs_a_written_reason(mini_form):
    session = screen(mini_form, a_cannot_leave="yes", referral_ok="yes")
    with pytest.raises(UserError):
        session.de_escalate(Outcome.REFERRAL, "   ")
    assert session.final_outcome is Outcome.URGENT
    session.de_escalate(Outcome.REFERRAL, "Child is with a social worker already today.")
    outcome = session.outcome()
    assert outcome.final is Outcome.REFERRAL
    assert outcome.decision.outcome is Outcome.URGENT
    assert outcome.override_reason == "Child is with a social worker already today."


def test_escalation_must_raise_the_outcome(mini_form):
    session = screen(mini_form, a_cannot_leave="yes")
    with pytest.raises(UserError):
        session.escalate(Outcome.REFERRAL)


# -- rule 7: consent ---------------------------------------------------------------------


def test_referral_without_consent_needs_a_reason(mini_form):
    session = screen(mini_form, a_cannot_leave="yes", referral_ok="no")
    with pytest.raises(UserError) as raised:
        session.outcome()
    assert "agreed" in raised.value.message
    session.record_no_consent_reason("Immediate danger: the child cannot go home.")
    outcome = session.outcome()
    assert outcome.consent_given is False
    assert outcome.no_consent_reason


def test_unanswered_consent_is_not_consent(mini_form):
    with pytest.raises(UserError):
        screen(mini_form, a_cannot_leave="yes").outcome()


def test_referral_with_consent_needs_no_reason(mini_form):
    outcome = screen(mini_form, a_cannot_leave="yes", referral_ok="yes").outcome()
    assert outcome.consent_given is True
    assert outcome.no_consent_reason is None


# -- answers ---------------------------------------------------------------------------


def test_unknown_item_and_value_outside_choices_are_errors(mini_form):
    session = ScreeningSession(mini_form, clock=lambda: TODAY)
    with pytest.raises(AnswerError) as raised:
        session.answer("no_such_item", "yes")
    assert "no_such_item" in raised.value.message
    with pytest.raises(AnswerError) as raised:
        session.answer("b_afraid", "maybe")
    # The item and its choices, never the value typed (it may be a child's data).
    assert "b_afraid" in raised.value.message and "rather_not_say" in raised.value.message
    assert "maybe" not in raised.value.message
    with pytest.raises(AnswerError):
        session.answer_all({"b_afraid": "yes", "age": "twelve"})
    # answer_all is all-or-nothing.
    assert session.answers == {}


def test_relevance_and_calculation_follow_answers(mini_form):
    session = screen(mini_form)
    assert not session.is_shown("b_afraid_more")
    session.answer("b_afraid", "yes")
    assert session.is_shown("b_afraid_more")
    session.answer("exploitation", ["begging", "labour"])
    assert session.value("exploitation") == ("labour", "begging")
    assert session.value("risk_total") == 2
    session.answer("assent", "no")
    assert not session.is_shown("b_afraid_more")
    assert session.value("risk_total") is None


def test_constraints_and_required(mini_form):
    session = ScreeningSession(mini_form, clock=lambda: TODAY)
    assert [p.item for p in session.problems()] == ["assent"]
    session.answer_all({"assent": "yes", "age": 21})
    problems = session.problems()
    assert [p.item for p in problems] == ["age"]
    assert problems[0].message == "Age must be between 0 and 17."
    session.answer("age", 9)
    assert session.problems() == []
