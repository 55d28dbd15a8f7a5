"""Reading a form's referral rules: thresholds, lowering and elevation, answer scores."""

from __future__ import annotations

from types import MappingProxyType

from fieldscreen.forms.loader.fields import FieldReader
from fieldscreen.forms.loader.vocabulary import _GAP, _RULE_KEYS, DEFAULT_ANSWER_SCORES
from fieldscreen.forms.schema import (
    OBSERVATION_SCALE,
    Level,
    ReferralRules,
    Thresholds,
)
from fieldscreen.forms.yamlsource import (
    LocatedMap,
    Quoted,
)
from fieldscreen.i18n import _


class RulesReader(FieldReader):
    """Reads the `rules` mapping of a form file."""


    _rules_line = 1

    def _read_rules(self, data: LocatedMap) -> ReferralRules | None:
        rules = data.get("rules")
        if not isinstance(rules, LocatedMap):
            self.problem(data.line_of("rules"), _(
                "rules must be a mapping (see docs/form-format.md, 'Rules')"))
            return None
        self._rules_line = rules.line
        self._unknown_keys(rules, _RULE_KEYS, _("rules"))
        version = self._string(rules, "version", required=True)
        thresholds = self._thresholds(rules, "thresholds")
        lowered = self._thresholds(rules, "lowered_thresholds")
        if thresholds and lowered and (
            lowered.refer > thresholds.refer or lowered.monitor > thresholds.monitor
        ):
            self.problem(rules.line_of("lowered_thresholds"), _(
                "lowered_thresholds must not be higher than thresholds"))
        lowered_when = None
        if "lowered_when" in rules:
            lowered_when = self._expression(rules, "lowered_when", _("rules"))
        elevated_score = self._number(rules, "elevated_level_score", None, minimum=0.1,
                                      maximum=1000)
        elevated_count = self._number(rules, "elevated_levels_for_referral", None, minimum=1,
                                      maximum=len(Level), whole=True)
        cap = self._number(rules, "resilience_cap", None, minimum=0, maximum=1)
        gaps = self._number(rules, "gaps_for_follow_up", None, minimum=1, maximum=10_000,
                            whole=True)
        scores = self._answer_scores(rules)
        if None in (version, thresholds, lowered, elevated_score, elevated_count, cap, gaps,
                    scores):
            return None
        assert thresholds and lowered and scores is not None
        return ReferralRules(
            version=version or "",
            thresholds=thresholds,
            lowered_thresholds=lowered,
            lowered_when=lowered_when,
            elevated_level_score=float(elevated_score or 0),
            elevated_levels_for_referral=int(elevated_count or 0),
            resilience_cap=float(cap or 0),
            gaps_for_follow_up=int(gaps or 0),
            answer_scores=MappingProxyType(scores),
        )

    def _thresholds(self, rules: LocatedMap, key: str) -> Thresholds | None:
        value = rules.get(key)
        if not isinstance(value, LocatedMap):
            self.problem(rules.line_of(key), _(
                "{key} must be a mapping with refer and monitor").format(key=key))
            return None
        self._unknown_keys(value, frozenset({"refer", "monitor"}), key)
        refer = self._number(value, "refer", None, minimum=0, maximum=10_000)
        monitor = self._number(value, "monitor", None, minimum=0, maximum=10_000)
        if refer is None or monitor is None:
            return None
        if monitor > refer:
            self.problem(value.line, _("{key}: monitor must not be higher than refer").format(
                key=key))
            return None
        return Thresholds(refer=refer, monitor=monitor)

    def _answer_scores(self, rules: LocatedMap) -> dict[str, float | None] | None:
        scores = dict(DEFAULT_ANSWER_SCORES)
        given = rules.get("answer_scores")
        if given is None:
            return scores
        if not isinstance(given, LocatedMap):
            self.problem(rules.line_of("answer_scores"), _(
                "answer_scores must map canonical answers to a score or 'gap'"))
            return None
        ok = True
        for answer, score in given.items():
            line = given.line_of(answer)
            if answer not in DEFAULT_ANSWER_SCORES:
                self.problem(line, _("answer_scores: {answer!r} is not a canonical answer ({known})"
                                     ).format(answer=Quoted(answer),
                                              known=", ".join(DEFAULT_ANSWER_SCORES)))
                ok = False
            elif score == _GAP:
                scores[answer] = None
            elif isinstance(score, bool) or not isinstance(score, int | float) or not (
                0 <= score <= 1
            ):
                self.problem(line, _("answer_scores: {answer} must be a number from 0 to 1 or "
                                     "'gap'").format(answer=answer))
                ok = False
            else:
                scores[answer] = float(score)
        # Full strength must stay reachable: rule 1 fires on an answer scored 1.
        for full in ("yes", OBSERVATION_SCALE[0]):
            if scores.get(full) != 1.0:
                self.problem(given.line, _(
                    "answer_scores: '{answer}' must score 1 (full strength)").format(answer=full))
                ok = False
        return scores if ok else None

