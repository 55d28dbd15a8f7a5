"""One screening in progress: answers, what is shown, constraint checks and the referral outcome.

`ScreeningSession` is pure (the clock is injected) and fast: answering an item re-evaluates
only the items whose relevance or calculation depends on it, in dependency order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fieldscreen.engine.answers import AnswerError, answer_to_json, normalise_answer
from fieldscreen.engine.referral import ReferralDecision, decide
from fieldscreen.errors import UserError
from fieldscreen.forms.dependencies import EvaluationGraph, build_graph
from fieldscreen.forms.expressions import COLUMN_PREFIX, Value, is_truthy
from fieldscreen.forms.schema import (
    Choice,
    Form,
    Item,
    ItemType,
    Outcome,
    Role,
    first_of_each_name,
)
from fieldscreen.i18n import _

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The default clock: aware UTC time."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class AnswerProblem:
    """Why an answer cannot be accepted as it stands: a required item unanswered or a constraint."""

    item: str
    message: str


@dataclass(frozen=True, slots=True)
class OutcomeOverride:
    """The worker's own judgement over the computed outcome (escalation or de-escalation)."""

    outcome: Outcome
    reason: str


@dataclass(frozen=True, slots=True)
class ScreeningOutcome:
    """What a finished screening concluded: computed and final outcome, with their reasons."""

    decision: ReferralDecision
    final: Outcome
    override_reason: str | None
    consent_given: bool | None
    no_consent_reason: str | None
    # The answers of the items with a statistics role (age, sex, nationality, area, forms
    # of exploitation), keyed by role: the coordinator counts them without knowing the form.
    disaggregation: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = self.decision.to_json()
        data.update(
            computed_decision=self.decision.outcome.value,
            final_decision=self.final.value,
            override_reason=self.override_reason,
            consent_given=self.consent_given,
            no_consent_reason=self.no_consent_reason,
            disaggregation=dict(self.disaggregation),
        )
        return data


# The roles counted by the coordinator's statistics (DOMAIN.md: disaggregate by these).
DISAGGREGATION_ROLES = (Role.AGE, Role.SEX, Role.NATIONALITY, Role.AREA,
                        Role.EXPLOITATION_FORM)


_graph_cache: dict[int, tuple[Form, EvaluationGraph]] = {}


def _graph_for(form: Form) -> EvaluationGraph:
    # Forms are immutable and loaded once, so their graph can be shared between sessions.
    cached = _graph_cache.get(id(form))
    if cached is None or cached[0] is not form:
        cached = (form, build_graph(form.items))
        _graph_cache[id(form)] = cached
    return cached[1]


class ScreeningSession:
    """The state of one screening of one child against one form.

    Args:
        form: the loaded form.
        clock: returns the current aware datetime; used by `today()` in expressions.
        answers: answers to restore (e.g. from a draft); validated like new ones.
    """

    def __init__(
        self,
        form: Form,
        *,
        clock: Clock = utc_now,
        answers: Mapping[str, Any] | None = None,
    ) -> None:
        self.form = form
        self._clock = clock
        self._graph = _graph_for(form)
        self._answers: dict[str, Value] = {}
        self._shown: dict[str, bool] = {}
        self._values: dict[str, Value] = {}
        self._decision: ReferralDecision | None = None
        self._override: OutcomeOverride | None = None
        self._no_consent_reason: str | None = None
        # Items whose default answer has been offered on screen (offered once only: a
        # worker who clears it has answered "no answer").
        self._defaults_offered: set[str] = set()
        for name, raw in self._restorable(answers or {}).items():
            self._answers[name] = self._normalise(name, raw)
        self._evaluate(self._graph.order)

    # -- answering ---------------------------------------------------------------------

    def answer(self, name: str, raw: Any) -> None:
        """Record an answer (None clears it) and update whatever depends on it.

        Raises:
            AnswerError: unknown item, an item that takes no answer, or a value that does
                not fit the item (e.g. not one of its choices).
        """
        if raw is None or raw == "" or raw == [] or raw == ():
            self.clear(name)
            return
        value = self._normalise(name, raw)
        if self._answers.get(name) == value and name in self._answers:
            return
        self._refuse_hidden_choices(name, value)
        self._answers[name] = value
        self._changed(name)

    def answer_all(self, answers: Mapping[str, Any]) -> None:
        """Record several answers; nothing is recorded if any of them is wrong."""
        normalised = {name: self._normalise(name, raw)
                      for name, raw in self._restorable(answers).items()}
        self._answers.update(normalised)
        self._evaluate(self._graph.order)

    def clear(self, name: str) -> None:
        """Forget the answer to `name` (the child skipped it or the worker corrected it)."""
        self._item(name)
        if self._answers.pop(name, None) is not None:
            self._changed(name)

    def _normalise(self, name: str, raw: Any) -> Value:
        item = self._item(name)
        if item.is_computed:
            raise AnswerError(name, _("'{name}' is computed by the form and cannot be "
                                      "answered").format(name=name))
        return normalise_answer(item, raw)

    def offer_default(self, name: str) -> bool:
        """Pre-fill `name` with its default answer as it goes on screen; whether it did.

        Only the wizard calls this, for the items it is drawing: a default is never an
        answer until the worker has seen it (docs/decisions.md). It is offered once, and
        never over an answer or on an item hidden now or whose default choice is not
        offered now.
        """
        item = self.form.item(name)
        if item.default is None or item.is_computed or name in self._defaults_offered:
            return False  # a read-only question's default is its value, not an offer
        self._defaults_offered.add(name)
        if name in self._answers or not self._shown[name]:
            return False
        try:
            self.answer(name, item.default)
        except AnswerError:
            return False  # a filtered choice not offered now: the question starts empty
        return True

    def _refuse_hidden_choices(self, name: str, value: Value) -> None:
        item = self.form.item(name)
        if item.choice_filter is None:
            return
        offered = {choice.name for choice in self.visible_choices(name)}
        chosen = value if isinstance(value, tuple) else (value,)
        if any(choice not in offered for choice in chosen):
            # Never the value itself (it may be a child's data typed in the wrong place).
            raise AnswerError(name, _("an answer to '{name}' is not among the choices it "
                                      "offers now").format(name=name))

    def _restorable(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        # A saved record holds the computed answers too (answers_json); they are computed
        # again from the other answers rather than restored.
        by_name = self.form.item
        return {name: raw for name, raw in answers.items()
                if name not in self.form or not by_name(name).is_computed}

    def _item(self, name: str) -> Item:
        try:
            return self.form.item(name)
        except KeyError:
            raise AnswerError(name, _("'{name}' is not an item of the form '{form}'").format(
                name=name if len(name) <= 64 else name[:61] + "...", form=self.form.id)
            ) from None

    # -- evaluation --------------------------------------------------------------------

    def _changed(self, name: str) -> None:
        self._evaluate(self._graph.affected_by(name))

    def _lookup(self, name: str) -> Value:
        return self._values.get(name)

    def _today(self) -> dt.date:
        return self._clock().date()

    def _evaluate(self, names: Iterable[str]) -> None:
        items = self.form.item
        shown = self._shown
        values = self._values
        lookup = self._lookup
        today = self._today
        for name in names:
            item = items(name)
            visible = item.parent is None or shown[item.parent]
            if visible and item.relevant is not None:
                visible = is_truthy(item.relevant.evaluate(lookup, today=today))
            shown[name] = visible
            if not visible:
                # XLSForm semantics: a hidden item has no value, so it cannot score.
                values[name] = None
            elif item.calculation is not None:
                values[name] = _as_item_value(item, item.calculation.evaluate(
                    lookup, today=today))
            elif item.read_only:
                # Its value is the form's: the default (checked at load), or none.
                values[name] = None if item.default is None else normalise_answer(
                    item, item.default)
            elif item.choice_filter is not None and name in self._answers:
                values[name] = self._keep_offered(item)
            else:
                values[name] = self._answers.get(name)
        self._decision = None

    def _keep_offered(self, item: Item) -> Value:
        # As ODK Collect and Enketo do: when a choice is no longer offered (the answer it
        # was filtered by changed), it is no longer chosen; the answer is cleared rather
        # than kept out of sight, so it is neither scored nor recorded.
        offered = {choice.name for choice in self.visible_choices(item.name)}
        answer = self._answers[item.name]
        if isinstance(answer, tuple):
            kept: Value = tuple(name for name in answer if name in offered) or None
        else:
            kept = answer if answer in offered else None
        if kept is None:
            del self._answers[item.name]
        else:
            self._answers[item.name] = kept
        return kept

    def visible_choices(self, name: str) -> tuple[Choice, ...]:
        """The choices `name` offers now: those its choice_filter keeps, or all of them."""
        item = self.form.item(name)
        if item.choice_list is None:
            return ()
        choices = item.choice_list.choices
        rule = item.choice_filter
        if rule is None:
            return item.choice_list.distinct()
        values = self._values
        today = self._today
        offered = []
        for choice in choices:
            columns = choice.columns

            def lookup(key: str, columns: Mapping[str, str] = columns,
                       choice_name: str = choice.name) -> Value:
                if not key.startswith(COLUMN_PREFIX):
                    return values.get(key)
                column = key[len(COLUMN_PREFIX):]
                # A column a choice leaves empty reads as empty text, as in ODK.
                return choice_name if column == "name" else columns.get(column, "")

            if is_truthy(rule.evaluate(lookup, today=today)):
                offered.append(choice)
        # Choices sharing a name (a cascade's, docs/decisions.md 62) read the same words:
        # the first one offered stands for the name, so no answer is offered twice.
        return first_of_each_name(offered)

    # -- reading the state -------------------------------------------------------------

    def is_shown(self, name: str) -> bool:
        """Whether `name` is relevant now (its own and every enclosing group's `relevant`)."""
        return self._shown[name]

    def value(self, name: str) -> Value:
        """The value of a shown item: its answer or calculation; None when hidden/unanswered."""
        return self._values.get(name)

    @property
    def answers(self) -> dict[str, Value]:
        """Every recorded answer, including answers to items now hidden."""
        return dict(self._answers)

    def answers_json(self) -> dict[str, Any]:
        """The answers to record: every given answer, and each shown computed answer."""
        recorded = {name: answer_to_json(value) for name, value in self._answers.items()}
        for name in self._graph.computed:
            value = self._values.get(name)
            if value is not None:
                recorded[name] = answer_to_json(value)
        return recorded

    def is_required(self, name: str) -> bool:
        """Whether `name` needs an answer now (always, or while its condition holds)."""
        item = self.form.item(name)
        if item.required:
            return True
        return item.required_when is not None and is_truthy(
            item.required_when.evaluate(self._lookup, today=self._today))

    def shown_items(self) -> list[Item]:
        """Relevant items in document order."""
        return [item for item in self.form.items if self._shown[item.name]]

    def problem_with(self, name: str) -> AnswerProblem | None:
        """Why the answer to `name` is not acceptable now (constraint or required), if it is not."""
        item = self.form.item(name)
        if not self._shown[name] or not item.type.takes_answer:
            return None
        value = self._values.get(name)
        if value is None:
            if self.is_required(name):
                return AnswerProblem(name, _("This question needs an answer."))
            return None
        if item.constraint is not None and not is_truthy(
            item.constraint.evaluate(self._lookup, current=value, today=self._today)
        ):
            language = self.form.default_language
            message = item.constraint_message.get(language) or _(
                "This answer is not accepted here.")
            return AnswerProblem(name, message)
        return None

    def problems(self) -> list[AnswerProblem]:
        """Every shown item whose answer is missing (when required) or breaks its constraint."""
        found = []
        for item in self.form.items:
            problem = self.problem_with(item.name)
            if problem is not None:
                found.append(problem)
        return found

    # -- the outcome -------------------------------------------------------------------

    def decision(self) -> ReferralDecision:
        """The computed referral decision for the current answers."""
        if self._decision is None:
            rules = self.form.rules
            lowered = rules.lowered_when is not None and is_truthy(
                rules.lowered_when.evaluate(self._lookup, today=self._today)
            )
            self._decision = decide(self.form, self.value, self.is_shown, lowered)
        return self._decision

    def escalate(self, outcome: Outcome, reason: str = "") -> None:
        """The worker raises the outcome; a reason is welcome but not required.

        Raises:
            UserError: `outcome` is not above the computed outcome.
        """
        computed = self.decision().outcome
        if outcome.rank <= computed.rank:
            raise UserError(_("Escalating means choosing a more urgent outcome than the "
                              "computed one."))
        self._override = OutcomeOverride(outcome, reason.strip())

    def de_escalate(self, outcome: Outcome, reason: str) -> None:
        """The worker lowers the outcome, which needs a written reason.

        Raises:
            UserError: no reason given, or `outcome` is not below the computed outcome.
        """
        computed = self.decision().outcome
        if outcome.rank >= computed.rank:
            raise UserError(_("De-escalating means choosing a less urgent outcome than the "
                              "computed one."))
        if not reason.strip():
            raise UserError(_("Write why you lower the outcome; the reason is kept with the "
                              "record."))
        self._override = OutcomeOverride(outcome, reason.strip())

    def keep_computed_outcome(self) -> None:
        """Withdraw an escalation or de-escalation."""
        self._override = None

    def record_no_consent_reason(self, reason: str) -> None:
        """Why a referral goes ahead without the child's or caregiver's agreement (rule 7)."""
        self._no_consent_reason = reason.strip() or None

    @property
    def final_outcome(self) -> Outcome:
        return self._override.outcome if self._override else self.decision().outcome

    def consent_given(self) -> bool | None:
        """Whether the referral-consent item says yes; None when the form has no such item."""
        item = self.form.item_with_role(Role.REFERRAL_CONSENT)
        if item is None:
            return None
        return self._values.get(item.name) == "yes"

    def outcome(self) -> ScreeningOutcome:
        """The outcome to store with the record.

        Raises:
            UserError: a de-escalation that no longer has a reason, or a referral without
                consent and without a written reason.
        """
        decision = self.decision()
        final = self.final_outcome
        override = self._override
        if override is not None and final.rank < decision.outcome.rank and not override.reason:
            raise UserError(_("Write why you lower the outcome; the reason is kept with the "
                              "record."))
        consent = self.consent_given()
        needs_referral = final in (Outcome.REFERRAL, Outcome.URGENT)
        if needs_referral and consent is False and not self._no_consent_reason:
            raise UserError(
                _("The child has not agreed to a referral."),
                hint=_("Ask again, or write why the referral must go ahead anyway (for "
                       "example, immediate danger)."),
            )
        return ScreeningOutcome(
            decision=decision,
            final=final,
            override_reason=override.reason if override else None,
            consent_given=consent,
            no_consent_reason=self._no_consent_reason if needs_referral else None,
            disaggregation=self.disaggregation(),
        )

    def disaggregation(self) -> dict[str, Any]:
        """The answers that statistics count, by role; an unanswered role is None."""
        found: dict[str, Any] = {}
        for role in DISAGGREGATION_ROLES:
            item = self.form.item_with_role(role)
            value = self._values.get(item.name) if item is not None else None
            found[role.value] = None if value is None else answer_to_json(value)
        return found

    def is_complete_enough(self) -> bool:
        """Whether nothing blocks saving the screening as final (required items, constraints)."""
        return not self.problems()


def _as_item_value(item: Item, value: Value) -> Value:
    # Arithmetic gives floats; a computed whole number (an integer question) is kept and
    # recorded as one, as a typed answer would be.
    if item.type is ItemType.INTEGER and isinstance(value, float) and value.is_integer():
        return int(value)
    return value

