"""Plain-language words for outcomes and reasons, shared by the command line and the UI."""

from __future__ import annotations

from fieldscreen.engine.referral import Reason as DecisionReason
from fieldscreen.engine.referral import ReferralDecision, Rule
from fieldscreen.forms.schema import Outcome
from fieldscreen.i18n import N_, _

_OUTCOME_TITLES = {
    Outcome.URGENT: N_("Urgent referral (today)"),
    Outcome.REFERRAL: N_("Referral (within days)"),
    Outcome.MONITOR: N_("Monitor (follow-up visit)"),
    Outcome.INFORMATION: N_("Information only"),
}

_RULE_TEXTS = {
    Rule.RED_FLAG: N_("A sign of immediate danger was confirmed."),
    Rule.NET_SCORE_REFER: N_("Risk score {net:g} reaches the referral threshold {threshold:g}."),
    Rule.ELEVATED_LEVELS: N_("Concerns show in {count} areas of the child's life."),
    Rule.NET_SCORE_MONITOR: N_(
        "Risk score {net:g} reaches the monitoring threshold {threshold:g}."),
    Rule.LOWERED_THRESHOLDS: N_(
        "Lower thresholds apply (a younger or unaccompanied child)."),
    Rule.INFORMATION_GAPS: N_(
        "{count} questions are still open; plan a follow-up visit. An open question is "
        "never counted as low risk."),
}


def outcome_title(outcome: Outcome) -> str:
    """The outcome's name as a person reads it."""
    return _(_OUTCOME_TITLES[outcome])


def reason_text(reason: DecisionReason, decision: ReferralDecision) -> str:
    """One sentence saying why `reason` fired, with the figures behind it."""
    template = _(_RULE_TEXTS[reason.rule])
    threshold = (
        decision.thresholds.refer
        if reason.rule is Rule.NET_SCORE_REFER
        else decision.thresholds.monitor
    )
    count = (
        sum(1 for score in decision.level_scores.values() if score.elevated)
        if reason.rule is Rule.ELEVATED_LEVELS
        else len(reason.items)
    )
    return template.format(net=round(decision.net, 2), threshold=threshold, count=count)
