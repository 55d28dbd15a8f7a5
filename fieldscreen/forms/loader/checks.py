"""The checks that need the whole form: references, value sizes, cycles, roles."""

from __future__ import annotations

from fieldscreen.forms.dependencies import DependencyCycle, build_graph
from fieldscreen.forms.expressions import (
    MAX_VALUE_LENGTH,
    Expression,
)
from fieldscreen.forms.loader.rules import RulesReader
from fieldscreen.forms.schema import (
    MAX_TEXT_ANSWER_LENGTH,
    Item,
    ItemType,
    ReferralRules,
    Role,
)
from fieldscreen.i18n import _


class WholeFormChecks(RulesReader):
    """Checks across items, once every item has been read."""


    def _check_expressions(self, items: list[Item], rules: ReferralRules | None) -> None:
        known = {item.name for item in items}
        answerable = {item.name for item in items if item.type is not ItemType.GROUP}

        def check(expression: Expression | None, owner: str, key: str, line: int) -> None:
            if expression is None:
                return
            for reference in sorted(expression.references - known):
                self.problem(line, _(
                    "{owner}: {key} refers to ${{{reference}}}, which is not an item of this "
                    "form").format(owner=owner, key=key, reference=reference))
            for reference in sorted((expression.references & known) - answerable):
                self.problem(line, _(
                    "{owner}: {key} refers to group ${{{reference}}}, which has no value"
                ).format(owner=owner, key=key, reference=reference))

        for item in items:
            owner = _("item '{name}'").format(name=item.name)
            check(item.relevant, owner, "relevant", item.line)
            check(item.constraint, owner, "constraint", item.line)
            check(item.calculation, owner, "calculation", item.line)
            check(item.required_when, owner, "required", item.line)
            check(item.choice_filter, owner, "choice_filter", item.line)
            if any(expression is not None and expression.uses_current for expression in (
                    item.relevant, item.required_when, item.choice_filter, item.calculation)):
                self.problem(item.line, _(
                    "item '{name}': '.' (this item's value) can be used only in a constraint"
                ).format(name=item.name))
        if rules is not None and rules.lowered_when is not None:
            check(rules.lowered_when, _("rules"), "lowered_when", self._rules_line)
        self._check_time_order(items)
        if self._check_cycles(items):
            self._check_value_sizes(items)

    def _check_time_order(self, items: list[Item]) -> None:
        # A time answer is text (docs/decisions.md, 61): `<` and `>` compare text as numbers,
        # so ordering a time would always be false, a condition that silently never holds.
        times = {item.name for item in items if item.type is ItemType.TIME}
        if not times:
            return
        for item in items:
            for key, expression in (("relevant", item.relevant),
                                    ("constraint", item.constraint),
                                    ("calculation", item.calculation),
                                    ("required", item.required_when),
                                    ("choice_filter", item.choice_filter)):
                if expression is None:
                    continue
                names = expression.ordered_operands()
                ordered = names & times
                if "." in names and item.type is ItemType.TIME:
                    ordered |= {item.name}
                for name in sorted(ordered):
                    self.problem(item.line, _(
                        "item '{owner}': {key} compares the time ${{{name}}} with <, <=, > "
                        "or >=, which is always false (a time is text); compare it with = "
                        "or !=").format(owner=item.name, key=key, name=name))

    def _check_value_sizes(self, items: list[Item]) -> None:
        """Refuse calculations that can grow past the size of a value (concat doubling).

        At run time such a value is left empty; but a form that can produce one is a form
        mistake, or an attack on every laptop it reaches, so it never goes into a pack.
        """
        by_name = {item.name: item for item in items}
        bounds: dict[str, int] = {}

        def bound_of(name: str) -> int:
            if name in bounds:
                return bounds[name]
            item = by_name.get(name)
            if item is None or item.type is ItemType.GROUP:
                result = 0
            elif item.calculation is not None:
                bounds[name] = 0  # no cycles here: checked first
                result = item.calculation.length_bound(bound_of)
            elif item.type is ItemType.TEXT:
                result = MAX_TEXT_ANSWER_LENGTH
            elif item.choice_list is not None:
                names = [choice.name for choice in item.choice_list.choices]
                result = (sum(len(n) + 1 for n in names) if item.type is
                          ItemType.SELECT_MULTIPLE else max(map(len, names), default=0))
            else:
                result = 32  # numbers, dates, acknowledgements
            bounds[name] = result
            return result

        for item in items:
            if item.calculation is not None:
                length = bound_of(item.name)
                if length > MAX_VALUE_LENGTH:
                    self.problem(item.line, _(
                        "item '{name}': its calculation can grow past {limit} characters "
                        "(concat() of values that grow at every step); no value may be that "
                        "long").format(name=item.name, limit=MAX_VALUE_LENGTH))

    def _check_cycles(self, items: list[Item]) -> bool:
        """Refuse calculations and relevance that depend on each other in a circle."""
        try:
            build_graph(items)
            return True
        except DependencyCycle as cycle:
            first = next(item for item in items if item.name == cycle.cycle[0])
            self.problem(first.line, _(
                "item '{name}': relevance or calculations depend on each other in a circle: "
                "{cycle}").format(name=first.name, cycle=" -> ".join(cycle.cycle)))
            return False

    def _check_roles(self, items: list[Item]) -> None:
        seen: dict[Role, str] = {}
        for item in items:
            if item.role is None:
                continue
            if item.role in seen:
                self.problem(item.line, _(
                    "item '{name}': role '{role}' is already given to '{other}'").format(
                    name=item.name, role=item.role.value, other=seen[item.role]))
            seen[item.role] = item.name
            if (item.role is Role.REFERRAL_CONSENT and item.choice_list is not None
                    and "yes" not in item.choice_list):
                self.problem(item.line, _(
                    "item '{name}': the referral_consent item needs a 'yes' choice").format(
                    name=item.name))

