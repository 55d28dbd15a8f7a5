"""Training scenarios: a story, a child's answers and the outcome the referral rules must give.

A scenario file (`fieldscreen-scenario/1`, see forms/scenarios/README.md) lets trainers show
how the rules behave on a worked example, and lets the project prove, whenever the form or the
rules change, that every worked example still comes out as the trainers' notes say.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fieldscreen.engine.answers import AnswerError, normalise_answer
from fieldscreen.engine.explain import reason_text
from fieldscreen.engine.referral import Reason, ReferralDecision, Rule
from fieldscreen.engine.session import Clock, ScreeningOutcome, ScreeningSession, utc_now
from fieldscreen.errors import SourceProblem, SourceProblems, UserError
from fieldscreen.forms.expressions import Value
from fieldscreen.forms.schema import Form, LocalizedText, Outcome
from fieldscreen.forms.yamlsource import (
    LocatedList,
    LocatedMap,
    Quoted,
    parse_yaml,
    read_source_text,
)
from fieldscreen.i18n import _
from fieldscreen.paths import shipped_dir

SCENARIO_FORMAT = "fieldscreen-scenario/1"
SCENARIO_SUFFIX = ".yaml"

_SCENARIO_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*$")
_TOP_KEYS = frozenset(
    {"format", "id", "title", "form", "story", "child", "answers", "worker_actions",
     "expected", "explanation"}
)
_REQUIRED_KEYS = ("format", "id", "title", "form", "story", "child", "answers", "expected",
                  "explanation")
_CHILD_KEYS = frozenset({"name", "age"})
_ACTION_KEYS = frozenset({"escalate", "de_escalate", "no_consent_reason"})
_OVERRIDE_KEYS = frozenset({"to", "reason"})
_EXPECTED_KEYS = frozenset(
    {"decision", "follow_up", "final_decision", "rules", "consent_reason_needed", "risk",
     "protection", "net"}
)
_SCORE_KEYS = ("risk", "protection", "net")
# Scores are sums of weights times 0.5 or 1; anything closer than this is the same score.
_SCORE_TOLERANCE = 1e-9


def shipped_scenarios_dir() -> Path:
    """The folder of scenarios shipped with FieldScreen (`forms/scenarios`)."""
    return shipped_dir("forms") / "scenarios"


# -- the data -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScenarioChild:
    """The fictional child of a scenario, for display: a made-up name and an age."""

    name: str
    age: int


@dataclass(frozen=True, slots=True)
class Override:
    """The worker's escalation or de-escalation in a scenario."""

    to: Outcome
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WorkerActions:
    """What the worker does after the questions: raise or lower the outcome, record consent."""

    escalate: Override | None = None
    de_escalate: Override | None = None
    no_consent_reason: str | None = None

    def __bool__(self) -> bool:
        return bool(self.escalate or self.de_escalate or self.no_consent_reason)


@dataclass(frozen=True, slots=True)
class Expected:
    """The outcome a scenario promises; `lines` locates each key in the file.

    Attributes:
        decision: the computed decision.
        follow_up: whether a follow-up visit is scheduled for information gaps.
        final_decision: the decision after the worker's actions; None when not stated.
        rules: rules that must fire (others may fire too).
        consent_reason_needed: whether storing the outcome needs a written reason for
            referring without consent; None when not stated.
        risk, protection, net: the scores, when stated.
    """

    decision: Outcome
    follow_up: bool
    final_decision: Outcome | None = None
    rules: tuple[Rule, ...] = ()
    consent_reason_needed: bool | None = None
    risk: float | None = None
    protection: float | None = None
    net: float | None = None
    lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def line_of(self, key: str, default: int) -> int:
        return self.lines.get(key, default)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One worked example from a scenario file.

    Attributes:
        answers: item name to answer, as `ScreeningSession.answer_all` takes them.
        answer_lines: where each answer is in the file.
        line: where `expected:` is in the file; mismatches without a key of their own
            point there.
    """

    id: str
    path: Path
    title: LocalizedText
    form_id: str
    story: LocalizedText
    child: ScenarioChild
    answers: Mapping[str, Any]
    worker_actions: WorkerActions
    expected: Expected
    explanation: LocalizedText
    answer_lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    line: int = 1


# -- loading --------------------------------------------------------------------------------


def load_scenarios(folder: Path, form: Form) -> list[Scenario]:
    """Load and validate every `*.yaml` scenario in `folder`, in file-name order.

    Args:
        folder: the folder holding scenario files; other files (e.g. README.md) are ignored.
        form: the form the scenarios' answers are checked against.

    Returns:
        The scenarios; an empty list when the folder holds no scenario file.

    Raises:
        SourceProblems: every problem in every file, each with file and line (unknown keys,
            unknown items, answers outside an item's choices, unknown rules, ...).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceProblems(
            [SourceProblem(str(folder), 0, _("no such folder of scenarios; check the path"))]
        )
    problems: list[SourceProblem] = []
    scenarios: list[Scenario] = []
    seen_ids: dict[str, str] = {}
    for path in sorted(folder.glob(f"*{SCENARIO_SUFFIX}")):
        try:
            scenario = load_scenario(path, form)
        except SourceProblems as error:
            problems.extend(error.problems)
            continue
        if scenario.id in seen_ids:
            problems.append(SourceProblem(
                str(path), 1,
                _("the id '{id}' is already used by {other}").format(
                    id=scenario.id, other=seen_ids[scenario.id])))
            continue
        seen_ids[scenario.id] = str(path)
        scenarios.append(scenario)
    if problems:
        raise SourceProblems(problems)
    return scenarios


def load_scenario(path: Path, form: Form) -> Scenario:
    """Load and validate one scenario file.

    Raises:
        SourceProblems: every problem found, each with file and line.
    """
    path = Path(path)
    data = parse_yaml(read_source_text(path), str(path))
    return _ScenarioReader(path, form).read(data)


class _ScenarioReader:
    """Turns parsed YAML into a `Scenario`, collecting located problems."""

    def __init__(self, path: Path, form: Form) -> None:
        self.path = path
        self.form = form
        self.problems: list[SourceProblem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(SourceProblem(str(self.path), line, message))

    def read(self, data: Any) -> Scenario:
        if not isinstance(data, LocatedMap):
            self.problem(getattr(data, "line", 1), _(
                "a scenario file must be a mapping with format, id, form, answers and "
                "expected"))
            raise SourceProblems(self.problems)
        self._unknown_keys(data, _TOP_KEYS, _("a scenario"))
        for key in _REQUIRED_KEYS:
            if key not in data:
                self.problem(data.line, _("'{key}' is missing").format(key=key))
        if "format" in data and data["format"] != SCENARIO_FORMAT:
            self.problem(data.line_of("format"), _(
                "format must be '{expected}' (found {found!r})").format(
                expected=SCENARIO_FORMAT, found=Quoted(data["format"])))
        scenario_id = data.get("id")
        if "id" in data and (not isinstance(scenario_id, str)
                             or not _SCENARIO_ID.match(scenario_id)):
            self.problem(data.line_of("id"), _(
                "id {id!r} must be lower-case letters, digits or '-'").format(
                id=Quoted(scenario_id)))
        form_id = data.get("form")
        if "form" in data and form_id != self.form.id:
            self.problem(data.line_of("form"), _(
                "this scenario is for the form {found!r}, but it is checked against "
                "'{form}'").format(found=Quoted(form_id), form=self.form.id))
        title = self._text(data, "title")
        story = self._text(data, "story")
        explanation = self._text(data, "explanation")
        child = self._child(data)
        answers, answer_lines = self._answers(data)
        actions = self._worker_actions(data)
        expected = self._expected(data)
        if (child is not None and answers.get("age_years") is not None
                and answers["age_years"] != child.age):
            self.problem(data["child"].line_of("age"), _(
                "the child's age {age} differs from the answer to 'age_years' ({answer})"
            ).format(age=child.age, answer=answers["age_years"]))
        if self.problems:
            raise SourceProblems(self.problems)
        assert child is not None and expected is not None
        # Both were checked above (required, and of the right kind) or a problem was raised.
        assert isinstance(scenario_id, str) and isinstance(form_id, str)
        return Scenario(
            id=scenario_id,
            path=self.path,
            title=title,
            form_id=form_id,
            story=story,
            child=child,
            answers=MappingProxyType(answers),
            worker_actions=actions,
            expected=expected,
            explanation=explanation,
            answer_lines=MappingProxyType(answer_lines),
            line=data.line_of("expected"),
        )

    # -- small readers ----------------------------------------------------------------------

    def _unknown_keys(self, data: LocatedMap, allowed: frozenset[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                self.problem(data.line_of(key), _(
                    "unknown key '{key}' in {where}; allowed keys are: {allowed}").format(
                    key=Quoted(key), where=where, allowed=", ".join(sorted(allowed))))

    def _text(self, data: LocatedMap, key: str) -> LocalizedText:
        value = data.get(key)
        if value is None:
            return LocalizedText()
        line = data.line_of(key)
        default = self.form.default_language
        if isinstance(value, str) and value.strip():
            return LocalizedText(MappingProxyType({default: value.strip()}))
        if not isinstance(value, LocatedMap) or not value:
            self.problem(line, _(
                "'{key}' must be text or a mapping of language code to text, such as "
                "{{en: ...}}").format(key=key))
            return LocalizedText()
        texts: dict[str, str] = {}
        for language, text in value.items():
            if not _LANGUAGE.match(language):
                self.problem(value.line_of(language), _(
                    "'{code}' is not a language code such as en, fr or ar").format(
                    code=Quoted(language)))
            elif not isinstance(text, str) or not text.strip():
                self.problem(value.line_of(language), _(
                    "'{key}' in '{language}' must be non-empty text").format(
                    key=key, language=language))
            else:
                texts[language] = text.strip()
        if default not in value:
            self.problem(line, _(
                "'{key}' has no text in the form's default language '{language}'").format(
                key=key, language=default))
        return LocalizedText(MappingProxyType(texts))

    def _outcome(self, value: Any, line: int, key: str) -> Outcome | None:
        try:
            return Outcome(value)
        except ValueError:
            self.problem(line, _("'{key}' must be one of: {outcomes} (found {found!r})").format(
                key=key, outcomes=", ".join(o.value for o in Outcome), found=Quoted(value)))
            return None

    def _reason(self, value: Any, line: int, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.problem(line, _("'{key}' must be non-empty text").format(key=key))
            return ""
        return value.strip()

    # -- sections ---------------------------------------------------------------------------

    def _child(self, data: LocatedMap) -> ScenarioChild | None:
        child = data.get("child")
        if child is None:
            return None
        if not isinstance(child, LocatedMap):
            self.problem(data.line_of("child"), _(
                "'child' must be a mapping with the child's name and age"))
            return None
        self._unknown_keys(child, _CHILD_KEYS, _("'child'"))
        name = child.get("name")
        if not isinstance(name, str) or not name.strip():
            self.problem(child.line_of("name"), _(
                "'child' needs a 'name': a made-up name, clearly fictional"))
            name = ""
        age = child.get("age")
        if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 17:
            self.problem(child.line_of("age"), _(
                "'child' needs an 'age': a whole number from 0 to 17"))
            age = 0
        return ScenarioChild(name=name.strip(), age=age)

    def _answers(self, data: LocatedMap) -> tuple[dict[str, Any], dict[str, int]]:
        answers: dict[str, Any] = {}
        lines: dict[str, int] = {}
        raw = data.get("answers")
        if raw is None:
            return answers, lines
        if not isinstance(raw, LocatedMap):
            self.problem(data.line_of("answers"), _(
                "'answers' must map item names to answers"))
            return answers, lines
        for name, value in raw.items():
            line = raw.line_of(name)
            if name not in self.form:
                close = difflib.get_close_matches(name, [i.name for i in self.form.items], n=1)
                hint = _(" (did you mean '{name}'?)").format(name=close[0]) if close else ""
                self.problem(line, _("'{name}' is not an item of the form '{form}'{hint}").format(
                    name=Quoted(name), form=self.form.id, hint=hint))
                continue
            plain = tuple(value) if isinstance(value, LocatedList) else value
            if isinstance(plain, LocatedMap):
                self.problem(line, _("the answer to '{name}' must be a value, not a mapping"
                                     ).format(name=name))
                continue
            try:
                normalise_answer(self.form.item(name), plain)
            except AnswerError as error:
                self.problem(line, error.message)
                continue
            answers[name] = plain
            lines[name] = line
        return answers, lines

    def _worker_actions(self, data: LocatedMap) -> WorkerActions:
        raw = data.get("worker_actions")
        if raw is None:
            return WorkerActions()
        if not isinstance(raw, LocatedMap):
            self.problem(data.line_of("worker_actions"), _(
                "'worker_actions' must be a mapping with escalate, de_escalate or "
                "no_consent_reason"))
            return WorkerActions()
        self._unknown_keys(raw, _ACTION_KEYS, _("'worker_actions'"))
        escalate = self._override(raw, "escalate", reason_required=False)
        de_escalate = self._override(raw, "de_escalate", reason_required=True)
        if escalate is not None and de_escalate is not None:
            self.problem(raw.line_of("de_escalate"), _(
                "a scenario can escalate or de-escalate, not both"))
        no_consent_reason = None
        if "no_consent_reason" in raw:
            no_consent_reason = self._reason(
                raw["no_consent_reason"], raw.line_of("no_consent_reason"), "no_consent_reason")
        return WorkerActions(escalate, de_escalate, no_consent_reason or None)

    def _override(self, raw: LocatedMap, key: str, *, reason_required: bool) -> Override | None:
        if key not in raw:
            return None
        value = raw[key]
        line = raw.line_of(key)
        if isinstance(value, str) and not reason_required:
            # `escalate: referral` is enough: escalating needs no reason.
            outcome = self._outcome(value, line, key)
            return Override(outcome) if outcome else None
        if not isinstance(value, LocatedMap):
            self.problem(line, _("'{key}' must be a mapping such as {{to: monitor, reason: ...}}"
                                 ).format(key=key))
            return None
        self._unknown_keys(value, _OVERRIDE_KEYS, f"'{key}'")
        outcome = self._outcome(value.get("to"), value.line_of("to"), f"{key}: to")
        reason = ""
        if "reason" in value or reason_required:
            reason = self._reason(value.get("reason"), value.line_of("reason"), f"{key}: reason")
        return Override(outcome, reason) if outcome else None

    def _expected(self, data: LocatedMap) -> Expected | None:
        raw = data.get("expected")
        if raw is None:
            return None
        if not isinstance(raw, LocatedMap):
            self.problem(data.line_of("expected"), _(
                "'expected' must be a mapping with decision and follow_up"))
            return None
        self._unknown_keys(raw, _EXPECTED_KEYS, _("'expected'"))
        decision = None
        if "decision" not in raw:
            self.problem(raw.line, _("'{key}' is missing").format(key="expected: decision"))
        else:
            decision = self._outcome(raw["decision"], raw.line_of("decision"), "decision")
        follow_up = raw.get("follow_up")
        if not isinstance(follow_up, bool):
            self.problem(raw.line_of("follow_up"), _(
                "'follow_up' must be true or false"))
        final = None
        if "final_decision" in raw:
            final = self._outcome(raw["final_decision"], raw.line_of("final_decision"),
                                  "final_decision")
        rules = self._rules(raw)
        consent = raw.get("consent_reason_needed")
        if consent is not None and not isinstance(consent, bool):
            self.problem(raw.line_of("consent_reason_needed"), _(
                "'consent_reason_needed' must be true or false"))
            consent = None
        scores: dict[str, float | None] = {}
        for key in _SCORE_KEYS:
            value = raw.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not math.isfinite(value) or value < 0):
                self.problem(raw.line_of(key), _(
                    "'{key}' must be a number of 0 or more").format(key=key))
                value = None
            scores[key] = None if value is None else float(value)
        if decision is None or not isinstance(follow_up, bool):
            return None
        return Expected(
            decision=decision,
            follow_up=follow_up,
            final_decision=final,
            rules=rules,
            consent_reason_needed=consent,
            lines=MappingProxyType(dict(raw.key_lines)),
            **scores,
        )

    def _rules(self, raw: LocatedMap) -> tuple[Rule, ...]:
        value = raw.get("rules")
        if value is None:
            return ()
        if not isinstance(value, LocatedList):
            self.problem(raw.line_of("rules"), _(
                "'rules' must be a list such as [red_flag]"))
            return ()
        rules: list[Rule] = []
        for line, name in zip(value.item_lines, value, strict=True):
            try:
                rule = Rule(name)
            except ValueError:
                self.problem(line, _("unknown rule {rule!r}; use one of: {rules}").format(
                    rule=Quoted(name), rules=", ".join(r.value for r in Rule)))
                continue
            if rule not in rules:
                rules.append(rule)
        return tuple(rules)


# -- checking -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScenarioCheck:
    """What the engine made of a scenario, and every way that differs from its expectation.

    Attributes:
        decision: the computed decision; None when the answers could not be applied.
        outcome: the outcome as it would be stored; None when it cannot be stored
            (e.g. a referral without consent and without a reason).
        final_decision: the decision after the worker's actions.
        mismatches: each difference as a located problem (file, line, words).
    """

    scenario: Scenario
    decision: ReferralDecision | None
    outcome: ScreeningOutcome | None
    final_decision: Outcome | None
    mismatches: tuple[SourceProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def lines(self) -> list[str]:
        """Printable lines: one saying it matches, or one `file:line: ...` per mismatch."""
        if self.ok:
            return [_("{path}: scenario '{id}' gives the expected outcome").format(
                path=self.scenario.path, id=self.scenario.id)]
        return [str(problem) for problem in self.mismatches]


def check_scenario(scenario: Scenario, form: Form, clock: Clock = utc_now) -> ScenarioCheck:
    """Run the engine on a scenario's answers and worker actions and compare the outcome.

    Args:
        scenario: a loaded scenario.
        form: the form it was loaded against.
        clock: the session's clock (for `today()` in expressions).
    """
    path = str(scenario.path)
    expected = scenario.expected
    mismatches: list[SourceProblem] = []

    def mismatch(key: str | None, message: str) -> None:
        line = expected.line_of(key, scenario.line) if key else scenario.line
        mismatches.append(SourceProblem(path, line, _("scenario '{id}': {message}").format(
            id=scenario.id, message=message)))

    session = ScreeningSession(form, clock=clock)
    try:
        session.answer_all(scenario.answers)
    except AnswerError as error:
        line = scenario.answer_lines.get(error.item, scenario.line)
        mismatches.append(SourceProblem(path, line, _("scenario '{id}': {message}").format(
            id=scenario.id, message=error.message)))
        return ScenarioCheck(scenario, None, None, None, tuple(mismatches))
    for problem in session.problems():
        line = scenario.answer_lines.get(problem.item, scenario.line)
        mismatches.append(SourceProblem(path, line, _(
            "scenario '{id}': the answer to '{item}' is not accepted: {message}").format(
            id=scenario.id, item=problem.item, message=problem.message)))

    decision = session.decision()
    if decision.outcome is not expected.decision:
        mismatch("decision", _(
            "expected the decision '{expected}', but the rules give '{actual}'").format(
            expected=expected.decision.value, actual=decision.outcome.value))
    if decision.follow_up != expected.follow_up:
        mismatch("follow_up", _(
            "expected follow_up {expected}, but it is {actual} ({gaps} information gaps, "
            "{needed} needed)").format(
            expected=_yaml_bool(expected.follow_up), actual=_yaml_bool(decision.follow_up),
            gaps=len(decision.gaps), needed=form.rules.gaps_for_follow_up))
    fired = [reason.rule for reason in decision.reasons]
    for rule in expected.rules:
        if rule not in fired:
            mismatch("rules", _(
                "expected the rule '{rule}' to fire, but it did not (fired: {fired})").format(
                rule=rule.value, fired=", ".join(r.value for r in fired) or _("none")))
    for key in _SCORE_KEYS:
        wanted = getattr(expected, key)
        actual = getattr(decision, key)
        if wanted is not None and not math.isclose(wanted, actual, abs_tol=_SCORE_TOLERANCE):
            mismatch(key, _("expected {score} {expected:g}, but it is {actual:g}").format(
                score=key, expected=wanted, actual=actual))

    _apply_worker_actions(session, scenario, mismatch)
    final = session.final_outcome
    if expected.final_decision is not None and final is not expected.final_decision:
        mismatch("final_decision", _(
            "expected the final decision '{expected}', but it is '{actual}'").format(
            expected=expected.final_decision.value, actual=final.value))
    needs_reason = final in (Outcome.REFERRAL, Outcome.URGENT) and session.consent_given() is False
    reason_expected = expected.consent_reason_needed
    if reason_expected is not None and needs_reason != reason_expected:
        if needs_reason:
            message = _("expected no written reason to be needed for referring without "
                        "consent, but one is needed")
        else:
            message = _("expected a written reason to be needed for referring without "
                        "consent, but none is needed")
        mismatch("consent_reason_needed", message)
    outcome = None
    try:
        outcome = session.outcome()
    except UserError as error:
        mismatch(None, _("the outcome cannot be stored: {problem}").format(
            problem=error.message))
    return ScenarioCheck(scenario, decision, outcome, final, tuple(mismatches))


def _apply_worker_actions(session: ScreeningSession, scenario: Scenario,
                          mismatch: Callable[[str | None, str], None]) -> None:
    actions = scenario.worker_actions
    try:
        if actions.escalate is not None:
            session.escalate(actions.escalate.to, actions.escalate.reason)
        if actions.de_escalate is not None:
            session.de_escalate(actions.de_escalate.to, actions.de_escalate.reason)
    except UserError as error:
        mismatch(None, _("the worker's action cannot be taken: {problem}").format(
            problem=error.message))
    if actions.no_consent_reason:
        session.record_no_consent_reason(actions.no_consent_reason)


def _yaml_bool(value: bool) -> str:
    # Shown as the scenario file spells it.
    return "true" if value else "false"


def check_all(folder: Path, form: Form, clock: Clock = utc_now) -> list[ScenarioCheck]:
    """Load every scenario in `folder` and check each against the engine.

    Raises:
        SourceProblems: a scenario file is invalid (nothing is checked then).
    """
    return [check_scenario(scenario, form, clock) for scenario in load_scenarios(folder, form)]


# -- replaying ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayStep:
    """The screening just after one answer of a scenario, for a step-by-step replay.

    `decision` is what the rules conclude if the screening stopped here: questions not yet
    reached are unanswered, so they count as information gaps until they are answered.

    Attributes:
        number: 1 for the first answer.
        item: the item answered.
        answer: the answer, as stored.
        counts: whether the item is an indicator shown now, so its answer scores (or is a
            gap); an answer to a hidden item or a background question does not score.
        decision: the decision after this answer.
        previous: the decision before it.
        new_rules: rules that fire now and did not before this answer.
        cleared_rules: rules that fired before this answer and no longer do.
        cited_by: rules whose reasons name this item now (e.g. `red_flag` for a "yes" to a
            red-flag question), whether or not they fired newly.
    """

    number: int
    item: str
    answer: Value
    counts: bool
    decision: ReferralDecision
    previous: ReferralDecision
    new_rules: tuple[Rule, ...]
    cleared_rules: tuple[Rule, ...]
    cited_by: tuple[Rule, ...]

    @property
    def outcome_changed(self) -> bool:
        return self.decision.outcome is not self.previous.outcome

    @property
    def new_reasons(self) -> tuple[Reason, ...]:
        """The reasons of the rules that fired newly, with the items behind them."""
        return tuple(r for r in self.decision.reasons if r.rule in self.new_rules)

    def why(self) -> list[str]:
        """One translated sentence per newly fired rule, with its figures."""
        return [reason_text(reason, self.decision) for reason in self.new_reasons]


def replay_steps(scenario: Scenario, form: Form, clock: Clock = utc_now) -> list[ReplayStep]:
    """Replay a scenario answer by answer, in form order.

    Worker actions are not part of the replay; `check_scenario` applies them.

    Raises:
        AnswerError: an answer does not fit the form (not raised for a loaded scenario
            replayed against the form it was loaded with).
    """
    session = ScreeningSession(form, clock=clock)
    previous = session.decision()
    steps: list[ReplayStep] = []
    for item in form.questions():
        if item.name not in scenario.answers:
            continue
        session.answer(item.name, scenario.answers[item.name])
        decision = session.decision()
        before = {reason.rule for reason in previous.reasons}
        now = [reason.rule for reason in decision.reasons]
        steps.append(ReplayStep(
            number=len(steps) + 1,
            item=item.name,
            answer=session.answers.get(item.name),
            counts=item.indicator is not None and session.is_shown(item.name),
            decision=decision,
            previous=previous,
            new_rules=tuple(rule for rule in now if rule not in before),
            cleared_rules=tuple(r.rule for r in previous.reasons if r.rule not in now),
            cited_by=tuple(r.rule for r in decision.reasons if item.name in r.items),
        ))
        previous = decision
    return steps
