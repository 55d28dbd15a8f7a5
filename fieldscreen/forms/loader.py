"""Loads and validates checklist form files into `Form` objects, reporting every problem by line.

Validation collects all problems in a file rather than stopping at the first, so an author
can fix a form in one pass. See docs/form-format.md for the format.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fieldscreen.errors import SourceProblem, SourceProblems
from fieldscreen.forms.dependencies import DependencyCycle, build_graph
from fieldscreen.forms.expressions import (
    MAX_VALUE_LENGTH,
    Expression,
    ExpressionError,
    parse_expression,
)
from fieldscreen.forms.names import CHOICE_NAME, FORM_ID, ITEM_NAME, LANGUAGE_CODE
from fieldscreen.forms.schema import (
    MAX_TEXT_ANSWER_LENGTH,
    OBSERVATION_SCALE,
    SCALE_FOR_AUDIENCE,
    Audience,
    Choice,
    ChoiceList,
    Form,
    Indicator,
    IndicatorKind,
    Item,
    ItemType,
    Level,
    LocalizedText,
    ReferralRules,
    Role,
    Thresholds,
)
from fieldscreen.forms.yamlsource import (
    LocatedList,
    LocatedMap,
    Quoted,
    parse_yaml,
    read_source_text,
)
from fieldscreen.i18n import _

FORM_FORMAT = "fieldscreen-form/1"


_TOP_KEYS = frozenset(
    {"format", "id", "version", "title", "default_language", "languages", "choice_lists",
     "rules", "items"}
)
_ITEM_KEYS = frozenset(
    {"name", "type", "label", "hint", "relevant", "required", "constraint",
     "constraint_message", "calculation", "choices", "items", "audience", "role", "level",
     "kind", "weight", "red_flag"}
)
_CHOICE_KEYS = frozenset({"name", "label", "image"})
_RULE_KEYS = frozenset(
    {"version", "thresholds", "lowered_thresholds", "lowered_when", "elevated_level_score",
     "elevated_levels_for_referral", "resilience_cap", "gaps_for_follow_up", "answer_scores"}
)
_GAP = "gap"
DEFAULT_ANSWER_SCORES: dict[str, float | None] = {
    "yes": 1.0, "not_sure": 0.5, "no": 0.0, "rather_not_say": None,
    "clear": 1.0, "some": 0.5, "not_observed": 0.0, "cannot_assess": None,
}
_ROLE_TYPES = {
    Role.AGE: (ItemType.INTEGER, ItemType.CALCULATE, ItemType.DECIMAL),
    Role.SEX: (ItemType.SELECT_ONE,),
    Role.NATIONALITY: (ItemType.SELECT_ONE, ItemType.TEXT),
    Role.EXPLOITATION_FORM: (ItemType.SELECT_MULTIPLE, ItemType.SELECT_ONE),
    Role.AREA: (ItemType.SELECT_ONE, ItemType.TEXT),
    Role.REFERRAL_CONSENT: (ItemType.SELECT_ONE,),
}


def load_form(path: str | Path) -> Form:
    """Load and validate the form at `path`.

    Raises:
        SourceProblems: every problem found, each with file and line.
    """
    path = Path(path)
    data = parse_yaml(read_source_text(path), str(path))
    return FormReader(str(path), source=path).read(data)


def load_form_text(text: str, shown_path: str = "<form>") -> Form:
    """Load a form from text (tests, forms delivered inside a deployment pack)."""
    return FormReader(shown_path).read(parse_yaml(text, shown_path))


class FormReader:
    """Turns parsed YAML data into a `Form`, collecting located problems."""

    def __init__(self, shown_path: str, source: Path | None = None) -> None:
        self.shown_path = shown_path
        self.source = source
        self.problems: list[SourceProblem] = []
        self.languages: tuple[str, ...] = ()
        self.default_language = "en"

    # -- problem reporting -------------------------------------------------------------

    def problem(self, line: int, message: str) -> None:
        self.problems.append(SourceProblem(self.shown_path, line, message))

    # -- entry point -------------------------------------------------------------------

    def read(self, data: Any) -> Form:
        if not isinstance(data, LocatedMap):
            self.problem(
                getattr(data, "line", 1),
                _("a form file must be a mapping with format, id, version and items"),
            )
            raise SourceProblems(self.problems)
        self._unknown_keys(data, _TOP_KEYS, _("form"))
        fmt = data.get("format")
        if fmt != FORM_FORMAT:
            self.problem(
                data.line_of("format"),
                _("format must be '{expected}' (found {found!r})").format(
                    expected=FORM_FORMAT, found=Quoted(fmt)
                ),
            )
        form_id = self._string(data, "id", required=True)
        if form_id and not FORM_ID.match(form_id):
            self.problem(
                data.line_of("id"),
                _("id '{id}' must be lower-case letters, digits, '-' or '_'").format(
                    id=Quoted(form_id)),
            )
        version = self._string(data, "version", required=True)
        self._read_languages(data)
        title = self._text(data, "title", data.line)
        choice_lists = self._read_choice_lists(data)
        items_data = data.get("items")
        items: list[Item] = []
        if not isinstance(items_data, LocatedList) or not items_data:
            self.problem(data.line_of("items"), _("items must be a non-empty list"))
        else:
            self._read_items(items_data, None, choice_lists, items, set())
        rules = self._read_rules(data)
        self._check_expressions(items, rules)
        self._check_roles(items)
        if self.problems:
            raise SourceProblems(self.problems)
        assert rules is not None
        return Form(
            id=form_id or "",
            version=version or "",
            title=title,
            default_language=self.default_language,
            languages=self.languages,
            items=tuple(items),
            choice_lists=MappingProxyType(choice_lists),
            rules=rules,
            source=self.source,
        )

    # -- small readers -----------------------------------------------------------------

    def _unknown_keys(self, data: LocatedMap, allowed: frozenset[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                self.problem(
                    data.line_of(key),
                    _("unknown key '{key}' in {where}; allowed keys are: {allowed}").format(
                        key=Quoted(key), where=where, allowed=", ".join(sorted(allowed))
                    ),
                )

    def _string(self, data: LocatedMap, key: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.problem(data.line, _("'{key}' is missing").format(key=key))
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(data.line_of(key), _("'{key}' must be text").format(key=key))
            return None
        return str(value)

    def _number(
        self, data: LocatedMap, key: str, default: float | None, *, minimum: float = 0.0,
        maximum: float = math.inf, whole: bool = False,
    ) -> float | None:
        value = data.get(key, default)
        if value is None:
            self.problem(data.line, _("'{key}' is missing").format(key=key))
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value
        ):
            self.problem(data.line_of(key), _("'{key}' must be a number").format(key=key))
            return None
        if whole and value != int(value):
            self.problem(data.line_of(key), _("'{key}' must be a whole number").format(key=key))
            return None
        if not minimum <= value <= maximum:
            self.problem(
                data.line_of(key),
                _("'{key}' must be between {low} and {high}").format(
                    key=key, low=minimum, high=maximum
                ),
            )
            return None
        return float(value)

    def _bool(self, data: LocatedMap, key: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            self.problem(
                data.line_of(key),
                _("'{key}' must be true or false (found {found!r})").format(
                    key=key, found=Quoted(value)),
            )
            return False
        return value

    def _text(self, data: LocatedMap, key: str, line: int) -> LocalizedText:
        value = data.get(key)
        if value is None:
            return LocalizedText()
        line = data.line_of(key)
        if isinstance(value, str):
            return LocalizedText(MappingProxyType({self.default_language: value}))
        if not isinstance(value, LocatedMap):
            self.problem(
                line,
                _("'{key}' must be text or a mapping of language code to text").format(key=key),
            )
            return LocalizedText()
        texts: dict[str, str] = {}
        for language, text in value.items():
            if language not in self.languages:
                self.problem(
                    value.line_of(language),
                    _("language '{language}' is not listed in the form's languages").format(
                        language=Quoted(language)
                    ),
                )
                continue
            if not isinstance(text, str) or not text.strip():
                self.problem(
                    value.line_of(language),
                    _("'{key}' in '{language}' must be non-empty text").format(
                        key=key, language=language
                    ),
                )
                continue
            texts[language] = text
        if texts and self.default_language not in texts:
            self.problem(
                line,
                _("'{key}' has no text in the default language '{language}'").format(
                    key=key, language=self.default_language
                ),
            )
        return LocalizedText(MappingProxyType(texts))

    def _read_languages(self, data: LocatedMap) -> None:
        languages = data.get("languages")
        found: list[str] = []
        if not isinstance(languages, LocatedList) or not languages:
            self.problem(data.line_of("languages"), _("languages must be a non-empty list"))
        else:
            for line, language in zip(languages.item_lines, languages, strict=True):
                if not isinstance(language, str) or not LANGUAGE_CODE.match(language):
                    self.problem(
                        line, _("'{code}' is not a language code such as en, fr or ar").format(
                            code=Quoted(language))
                    )
                elif language in found:
                    self.problem(line, _("language '{code}' is listed twice").format(
                        code=language))
                else:
                    found.append(language)
        self.languages = tuple(found)
        default = self._string(data, "default_language", required=True)
        if default is not None:
            if found and default not in found:
                self.problem(
                    data.line_of("default_language"),
                    _("default_language '{code}' must be one of the languages").format(
                        code=Quoted(default)),
                )
            self.default_language = default

    # -- choice lists ------------------------------------------------------------------

    def _read_choice_lists(self, data: LocatedMap) -> dict[str, ChoiceList]:
        lists = data.get("choice_lists")
        result: dict[str, ChoiceList] = {}
        if lists is None:
            return result
        if not isinstance(lists, LocatedMap):
            self.problem(
                data.line_of("choice_lists"), _("choice_lists must map list names to choices")
            )
            return result
        for list_name, entries in lists.items():
            line = lists.line_of(list_name)
            if not ITEM_NAME.match(list_name):
                self.problem(line, _("'{name}' is not a valid list name").format(
                    name=Quoted(list_name)))
            if not isinstance(entries, LocatedList) or not entries:
                self.problem(
                    line, _("choice list '{name}' must be a non-empty list").format(
                        name=Quoted(list_name))
                )
                continue
            choices: list[Choice] = []
            seen: set[str] = set()
            for entry_line, entry in zip(entries.item_lines, entries, strict=True):
                if not isinstance(entry, LocatedMap):
                    self.problem(entry_line, _("a choice must be a mapping with name and label"))
                    continue
                self._unknown_keys(entry, _CHOICE_KEYS, _("a choice"))
                name = entry.get("name")
                if not isinstance(name, str) or not CHOICE_NAME.match(name):
                    self.problem(
                        entry_line,
                        _("choice name {name!r} must be lower-case letters, digits or '_'"
                          " (quote numbers)").format(name=Quoted(name)),
                    )
                    continue
                if name in seen:
                    self.problem(
                        entry_line,
                        _("choice '{name}' appears twice in list '{list}'").format(
                            name=name, list=Quoted(list_name)),
                    )
                    continue
                seen.add(name)
                label = self._text(entry, "label", entry_line)
                if not label:
                    self.problem(entry_line, _("choice '{name}' needs a label").format(name=name))
                image = entry.get("image")
                if image is not None and not isinstance(image, str):
                    self.problem(entry.line_of("image"), _("image must be an icon name"))
                    image = None
                choices.append(Choice(name=name, label=label, image=image))
            result[list_name] = ChoiceList(name=list_name, choices=tuple(choices))
        return result

    # -- items -------------------------------------------------------------------------

    def _read_items(
        self,
        entries: LocatedList,
        parent: str | None,
        choice_lists: dict[str, ChoiceList],
        out: list[Item],
        names: set[str],
    ) -> tuple[str, ...]:
        children: list[str] = []
        for line, entry in zip(entries.item_lines, entries, strict=True):
            if not isinstance(entry, LocatedMap):
                self.problem(line, _("an item must be a mapping with at least name and type"))
                continue
            item = self._read_item(entry, parent, choice_lists, out, names)
            if item is not None:
                children.append(item)
        return tuple(children)

    def _read_item(
        self,
        entry: LocatedMap,
        parent: str | None,
        choice_lists: dict[str, ChoiceList],
        out: list[Item],
        names: set[str],
    ) -> str | None:
        line = entry.line
        self._unknown_keys(entry, _ITEM_KEYS, _("an item"))
        name = entry.get("name")
        if not isinstance(name, str) or not ITEM_NAME.match(name):
            self.problem(
                entry.line_of("name"),
                _("item name {name!r} must start with a letter and use letters, digits or '_'"
                  ).format(name=Quoted(name)),
            )
            return None
        if name in names:
            self.problem(entry.line_of("name"), _("item name '{name}' is used twice").format(
                name=name))
            return None
        names.add(name)
        raw_type = entry.get("type")
        try:
            item_type = ItemType(raw_type)
        except ValueError:
            self.problem(
                entry.line_of("type"),
                _("item '{name}': unknown type {type!r}; use one of: {types}").format(
                    name=name, type=Quoted(raw_type), types=", ".join(t.value for t in ItemType)
                ),
            )
            return None

        def where(key: str) -> int:
            return entry.line_of(key)

        label = self._text(entry, "label", line)
        hint = self._text(entry, "hint", line)
        constraint_message = self._text(entry, "constraint_message", line)
        if item_type in (ItemType.NOTE, ItemType.ACKNOWLEDGE) and not label:
            self.problem(line, _("item '{name}': a {type} needs a label").format(
                name=name, type=item_type.value))
        required = self._bool(entry, "required")
        if required and not item_type.takes_answer:
            self.problem(where("required"), _("item '{name}': a {type} cannot be required").format(
                name=name, type=item_type.value))

        choice_list = None
        if item_type.has_choices:
            list_name = entry.get("choices")
            if list_name is None:
                self.problem(line, _("item '{name}': a {type} needs 'choices: LIST'").format(
                    name=name, type=item_type.value))
            elif not isinstance(list_name, str) or list_name not in choice_lists:
                self.problem(
                    where("choices"),
                    _("item '{name}': no choice list called {list!r}").format(
                        name=name, list=Quoted(list_name)),
                )
            else:
                choice_list = choice_lists[list_name]
        elif "choices" in entry:
            self.problem(where("choices"), _("item '{name}': only select items take choices"
                                              ).format(name=name))

        audience = None
        if "audience" in entry:
            try:
                audience = Audience(entry["audience"])
            except ValueError:
                self.problem(where("audience"), _(
                    "item '{name}': audience must be 'child' or 'worker'").format(name=name))

        role = None
        if "role" in entry:
            try:
                role = Role(entry["role"])
            except ValueError:
                self.problem(where("role"), _("item '{name}': unknown role {role!r}; use one of: "
                                              "{roles}").format(
                    name=name, role=Quoted(entry["role"]), roles=", ".join(r.value for r in Role)))
            else:
                if item_type not in _ROLE_TYPES[role]:
                    self.problem(where("role"), _(
                        "item '{name}': the {role} role needs a {types} item").format(
                        name=name, role=role.value,
                        types=" / ".join(t.value for t in _ROLE_TYPES[role])))

        indicator = self._read_indicator(entry, name, item_type, audience, choice_list)

        relevant = self._expression(entry, "relevant", name)
        constraint = self._expression(entry, "constraint", name)
        calculation = self._expression(entry, "calculation", name)
        if item_type is ItemType.CALCULATE and calculation is None and "calculation" not in entry:
            self.problem(line, _("item '{name}': a calculate needs a calculation").format(
                name=name))
        if item_type is not ItemType.CALCULATE and "calculation" in entry:
            self.problem(where("calculation"), _(
                "item '{name}': only a calculate takes a calculation").format(name=name))
        if "constraint" in entry and not item_type.takes_answer:
            self.problem(where("constraint"), _(
                "item '{name}': a {type} cannot have a constraint").format(
                name=name, type=item_type.value))

        # Record the group before its children so `items` stays in document order.
        position = len(out)
        children: tuple[str, ...] = ()
        if item_type is ItemType.GROUP:
            nested = entry.get("items")
            if not isinstance(nested, LocatedList) or not nested:
                self.problem(line, _("group '{name}' needs a non-empty 'items' list").format(
                    name=name))
            else:
                children = self._read_items(nested, name, choice_lists, out, names)
        elif "items" in entry:
            self.problem(where("items"), _("item '{name}': only a group contains items").format(
                name=name))

        out.insert(
            position,
            Item(
                name=name,
                type=item_type,
                line=line,
                label=label,
                hint=hint,
                parent=parent,
                audience=audience,
                indicator=indicator,
                role=role,
                choice_list=choice_list,
                relevant=relevant,
                constraint=constraint,
                constraint_message=constraint_message,
                required=required,
                calculation=calculation,
                children=children,
            ),
        )
        return name

    def _read_indicator(
        self,
        entry: LocatedMap,
        name: str,
        item_type: ItemType,
        audience: Audience | None,
        choice_list: ChoiceList | None,
    ) -> Indicator | None:
        keys = [key for key in ("level", "kind", "weight", "red_flag") if key in entry]
        if not keys:
            return None
        if "level" not in entry or "kind" not in entry:
            self.problem(entry.line_of(keys[0]), _(
                "item '{name}': an indicator needs both 'level' and 'kind'").format(name=name))
            return None
        ok = True
        try:
            level = Level(str(entry["level"]))
        except ValueError:
            self.problem(entry.line_of("level"), _(
                "item '{name}': level must be one of A, B, C, D, E").format(name=name))
            ok = False
        try:
            kind = IndicatorKind(entry["kind"])
        except ValueError:
            self.problem(entry.line_of("kind"), _(
                "item '{name}': kind must be 'risk' or 'resilience'").format(name=name))
            ok = False
        weight = self._number(entry, "weight", 1, minimum=0.1, maximum=100)
        red_flag = self._bool(entry, "red_flag")
        if item_type is not ItemType.SELECT_ONE:
            self.problem(entry.line_of("type"), _(
                "item '{name}': an indicator must be a select_one on a canonical scale").format(
                name=name))
            ok = False
        if audience is None:
            self.problem(entry.line, _(
                "item '{name}': an indicator needs 'audience: child' or 'audience: worker'"
            ).format(name=name))
            ok = False
        elif choice_list is not None and choice_list.names != SCALE_FOR_AUDIENCE[audience]:
            self.problem(entry.line_of("choices"), _(
                "item '{name}': an indicator for the {audience} must use the canonical scale "
                "{scale}, in that order (list '{list}' has {found})").format(
                name=name, audience=audience.value,
                scale=", ".join(SCALE_FOR_AUDIENCE[audience]), list=choice_list.name,
                found=", ".join(choice_list.names)))
            ok = False
        if ok and red_flag and kind is IndicatorKind.RESILIENCE:
            self.problem(entry.line_of("red_flag"), _(
                "item '{name}': only risk items can be red flags").format(name=name))
            ok = False
        if not ok or weight is None:
            return None
        return Indicator(level=level, kind=kind, weight=weight, red_flag=red_flag)

    def _expression(self, entry: LocatedMap, key: str, name: str) -> Expression | None:
        source = entry.get(key)
        if source is None:
            return None
        line = entry.line_of(key)
        if isinstance(source, bool):
            source = "true()" if source else "false()"
        if not isinstance(source, str | int | float):
            self.problem(line, _("item '{name}': {key} must be an expression in quotes").format(
                name=name, key=key))
            return None
        try:
            return parse_expression(str(source))
        except ExpressionError as error:
            self.problem(line, _(
                "item '{name}': {key}: {message} (at character {position} of the expression)"
            ).format(name=name, key=key, message=error.message, position=error.position + 1))
            return None

    # -- whole-form checks -------------------------------------------------------------

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
            if item.relevant is not None and item.relevant.uses_current:
                self.problem(item.line, _(
                    "item '{name}': '.' (this item's value) can be used only in a constraint"
                ).format(name=item.name))
        if rules is not None and rules.lowered_when is not None:
            check(rules.lowered_when, _("rules"), "lowered_when", self._rules_line)
        if self._check_cycles(items):
            self._check_value_sizes(items)

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
            elif item.type is ItemType.CALCULATE and item.calculation is not None:
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
            if item.type is ItemType.CALCULATE and item.calculation is not None:
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

    # -- rules -------------------------------------------------------------------------

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


def check_paths(paths: Iterable[str | Path]) -> list[SourceProblem]:
    """Validate every form and services file under `paths` (files or folders).

    Returns:
        All problems found, in file order; empty when everything is valid.
    """
    from fieldscreen.forms.services import read_services  # the sibling reader

    problems: list[SourceProblem] = []
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                problems.append(SourceProblem(str(path), 0, _(
                    "no .yaml form files in this folder")))
            files.extend(found)
        else:
            files.append(path)
    for path in files:
        try:
            # Parsed once; the format line says which reader validates it.
            data = parse_yaml(read_source_text(path), str(path))
            kind = data.get("format") if isinstance(data, dict) else None
            if isinstance(kind, str) and kind.startswith("fieldscreen-services/"):
                read_services(data, str(path))
            else:
                FormReader(str(path), source=path).read(data)
        except SourceProblems as error:
            problems.extend(error.problems)
    return problems
