"""Scores the indicator answers and decides the referral, with the items behind every reason.

This is the default scheme of DOMAIN.md, parameterised by the form's `rules`. It is a pure
function of the form, the shown items' values and whether lowered thresholds apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from fieldscreen.forms.schema import Form, IndicatorKind, Level, Outcome, Thresholds

if TYPE_CHECKING:
    from fieldscreen.forms.expressions import Value


class Rule(StrEnum):
    """Which part of the scheme produced a reason (DOMAIN.md numbering)."""

    RED_FLAG = "red_flag"  # 1
    NET_SCORE_REFER = "net_score_refer"  # 3
    ELEVATED_LEVELS = "elevated_levels"  # 3
    NET_SCORE_MONITOR = "net_score_monitor"  # 3
    LOWERED_THRESHOLDS = "lowered_thresholds"  # 4
    INFORMATION_GAPS = "information_gaps"  # 5


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that fired and the items that made it fire."""

    rule: Rule
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LevelScore:
    level: Level
    risk: float
    protection: float
    elevated: bool


@dataclass(frozen=True, slots=True)
class ReferralDecision:
    """The computed outcome of a screening and everything that explains it."""

    outcome: Outcome
    follow_up: bool
    reasons: tuple[Reason, ...]
    level_scores: Mapping[Level, LevelScore]
    risk: float
    protection: float
    net: float
    thresholds: Thresholds
    lowered_thresholds: bool
    gaps: tuple[str, ...]
    rules_version: str
    form_id: str
    form_version: str
    # Resilience items that offset risk; shown with the reasons, never a reason themselves.
    protective_items: tuple[str, ...] = ()

    def fired(self, rule: Rule) -> bool:
        return any(reason.rule is rule for reason in self.reasons)

    @property
    def reason_items(self) -> tuple[str, ...]:
        """Every item behind a reason, once, in the order the reasons list them."""
        seen: dict[str, None] = {}
        for reason in self.reasons:
            for name in reason.items:
                seen.setdefault(name)
        return tuple(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.outcome.value,
            "follow_up": self.follow_up,
            "reasons": list(self.reason_items),
            "rules": [
                {"rule": reason.rule.value, "items": list(reason.items)}
                for reason in self.reasons
            ],
            "scores": {
                level.value: {
                    "risk": score.risk,
                    "protection": score.protection,
                    "elevated": score.elevated,
                }
                for level, score in self.level_scores.items()
            },
            "risk": self.risk,
            "protection": self.protection,
            "net": self.net,
            "thresholds": {
                "refer": self.thresholds.refer,
                "monitor": self.thresholds.monitor,
                "lowered": self.lowered_thresholds,
            },
            "gaps": list(self.gaps),
            "protective_items": list(self.protective_items),
            "rules_version": self.rules_version,
            "form": {"id": self.form_id, "version": self.form_version},
        }


def decide(
    form: Form,
    value_of: Callable[[str], Value],
    is_shown: Callable[[str], bool],
    lowered: bool,
) -> ReferralDecision:
    """Apply the referral scheme to the current answers.

    Args:
        form: the form, whose `rules` parameterise the scheme.
        value_of: the value of a shown item (None when unanswered).
        is_shown: whether an item is currently relevant; hidden items neither score nor
            count as gaps.
        lowered: whether the form's `lowered_when` condition holds.
    """
    rules = form.rules
    scores = rules.answer_scores
    risk_by_level = dict.fromkeys(Level, 0.0)
    protection_by_level = dict.fromkeys(Level, 0.0)
    risk_items_by_level: dict[Level, list[str]] = {level: [] for level in Level}
    red_flags: list[str] = []
    protective: list[str] = []
    gaps: list[str] = []

    for item in form.indicators():
        if not is_shown(item.name):
            continue
        indicator = item.indicator
        assert indicator is not None
        answer = value_of(item.name)
        # A skipped item, "I'd rather not say" and "couldn't assess" are gaps, never "no".
        score = scores.get(answer) if isinstance(answer, str) else None
        if score is None:
            gaps.append(item.name)
            continue
        if score <= 0:
            continue
        weighted = indicator.weight * score
        if indicator.kind is IndicatorKind.RISK:
            risk_by_level[indicator.level] += weighted
            risk_items_by_level[indicator.level].append(item.name)
            if indicator.red_flag and score >= 1.0:
                red_flags.append(item.name)
        else:
            protection_by_level[indicator.level] += weighted
            protective.append(item.name)

    risk = sum(risk_by_level.values())
    protection = sum(protection_by_level.values())
    # Resilience can offset part of the risk (by default halve it), never cancel it.
    net = risk - min(protection, rules.resilience_cap * risk)
    thresholds = rules.lowered_thresholds if lowered else rules.thresholds
    level_scores = {
        level: LevelScore(
            level=level,
            risk=risk_by_level[level],
            protection=protection_by_level[level],
            elevated=risk_by_level[level] >= rules.elevated_level_score,
        )
        for level in Level
    }
    elevated_levels = [level for level in Level if level_scores[level].elevated]
    all_risk_items = tuple(name for level in Level for name in risk_items_by_level[level])

    reasons: list[Reason] = []
    if red_flags:
        outcome = Outcome.URGENT
        reasons.append(Reason(Rule.RED_FLAG, tuple(red_flags)))
    else:
        outcome = Outcome.INFORMATION
        if net >= thresholds.refer:
            outcome = Outcome.REFERRAL
            reasons.append(Reason(Rule.NET_SCORE_REFER, all_risk_items))
        if len(elevated_levels) >= rules.elevated_levels_for_referral:
            outcome = Outcome.REFERRAL
            reasons.append(
                Reason(
                    Rule.ELEVATED_LEVELS,
                    tuple(n for level in elevated_levels for n in risk_items_by_level[level]),
                )
            )
        if outcome is Outcome.INFORMATION and net >= thresholds.monitor:
            outcome = Outcome.MONITOR
            reasons.append(Reason(Rule.NET_SCORE_MONITOR, all_risk_items))
        if lowered and outcome is not Outcome.INFORMATION:
            lowered_inputs = form.rules.lowered_when.references if form.rules.lowered_when else ()
            reasons.append(Reason(Rule.LOWERED_THRESHOLDS, tuple(sorted(lowered_inputs))))

    follow_up = len(gaps) >= rules.gaps_for_follow_up
    if follow_up:
        reasons.append(Reason(Rule.INFORMATION_GAPS, tuple(gaps)))

    return ReferralDecision(
        outcome=outcome,
        follow_up=follow_up,
        reasons=tuple(reasons),
        level_scores=MappingProxyType(level_scores),
        risk=risk,
        protection=protection,
        net=net,
        thresholds=thresholds,
        lowered_thresholds=lowered,
        gaps=tuple(gaps),
        rules_version=rules.version,
        form_id=form.id,
        form_version=form.version,
        protective_items=tuple(protective),
    )
