"""Loads and validates checklist form files into `Form` objects, reporting every problem by line.

Validation collects all problems in a file rather than stopping at the first, so an author
can fix a form in one pass. See docs/form-format.md for the format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fieldscreen.errors import SourceProblems
from fieldscreen.forms import pictograms
from fieldscreen.forms.expressions import Expression, ExpressionError, parse_expression
from fieldscreen.forms.loader.checks import WholeFormChecks
from fieldscreen.forms.loader.vocabulary import (
    _CHOICE_KEYS,
    _ITEM_KEYS,
    _MEDIA_KEYS,
    _ROLE_TYPES,
    _TOP_KEYS,
    FORM_FORMAT,
    XLSFORM_TYPES,
)
from fieldscreen.forms.media import name_problem
from fieldscreen.forms.names import CHOICE_NAME, FORM_ID, ITEM_NAME, LANGUAGE_CODE
from fieldscreen.forms.schema import (
    NO_MEDIA,
    SCALE_FOR_AUDIENCE,
    TIME_OF_DAY,
    Audience,
    Choice,
    ChoiceList,
    Form,
    Indicator,
    IndicatorKind,
    Item,
    ItemType,
    Level,
    MediaRefs,
    Role,
)
from fieldscreen.forms.yamlsource import (
    LocatedList,
    LocatedMap,
    Quoted,
    parse_yaml,
    read_source_text,
)
from fieldscreen.i18n import _


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


class FormReader(WholeFormChecks):
    """Turns parsed YAML data into a `Form`, collecting located problems."""

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
            seen: dict[str, Choice] = {}
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
                label = self._text(entry, "label", entry_line)
                if not label:
                    self.problem(entry_line, _("choice '{name}' needs a label").format(name=name))
                image = entry.get("image")
                if image is not None and not isinstance(image, str):
                    self.problem(entry.line_of("image"), _("image must be an icon name"))
                    image = None
                columns = self._choice_columns(entry)
                choice = Choice(name=name, label=label, image=image, columns=columns,
                                media=self._media(entry))
                first = seen.get(name)
                if first is not None and replace(choice, columns=first.columns) != first:
                    # A record holds the name: two choices sharing it must say the same words
                    # (a cascade's "King" county in two states), or it could not be read back.
                    self.problem(
                        entry_line,
                        _("choice '{name}' appears twice in list '{list}' with different words; "
                          "choices may share a name only when their labels and images are the "
                          "same, since answers are recorded by name").format(
                            name=name, list=Quoted(list_name)),
                    )
                    continue
                seen.setdefault(name, choice)
                choices.append(choice)
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
        raw_type: Any = entry.get("type")  # any YAML value; ItemType refuses non-types
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
        required_when = None
        if isinstance(entry.get("required"), str) and (
                entry["required"].strip().lower() not in ("yes", "no")):
            # A condition, as XLSForm allows: required only while it holds.
            required_when = self._expression(entry, "required", name)
            required = False
        else:
            required = self._bool(entry, "required")
        if (required or required_when is not None) and (
                not item_type.takes_answer):
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

        choice_filter = self._read_choice_filter(entry, name, choice_list)
        read_only = self._bool(entry, "read_only")
        if read_only and (not item_type.takes_answer or item_type is ItemType.ACKNOWLEDGE):
            self.problem(where("read_only"), _(
                "item '{name}': a {type} cannot be read-only; only a question shows a "
                "value").format(name=name, type=item_type.value))
            read_only = False
        if read_only and (required or required_when is not None):
            self.problem(where("required"), _(
                "item '{name}': a read-only question cannot be required; no one can answer "
                "it").format(name=name))
        default = self._read_default(entry, name, item_type, audience, choice_list,
                                     read_only=read_only)
        pictogram = self._read_pictogram(entry, name, item_type)
        xlsform_type = self._read_xlsform_type(entry, name, item_type)
        relevant = self._expression(entry, "relevant", name)
        constraint = self._expression(entry, "constraint", name)
        calculation = self._expression(entry, "calculation", name)
        if item_type is ItemType.CALCULATE and calculation is None and "calculation" not in entry:
            self.problem(line, _("item '{name}': a calculate needs a calculation").format(
                name=name))
        if not item_type.takes_answer and item_type is not ItemType.CALCULATE and (
                "calculation" in entry):
            self.problem(where("calculation"), _(
                "item '{name}': a {type} cannot have a calculation").format(
                name=name, type=item_type.value))
        if xlsform_type == "hidden" and (calculation is None or not re.fullmatch(
                r"'[^']*'|\"[^\"]*\"", calculation.source.strip())):
            self.problem(where("calculation"), _(
                "item '{name}': a hidden value's calculation is its fixed value, quoted "
                "('text'); a computed one is an ordinary calculate").format(name=name))
        if calculation is not None and item_type.takes_answer and (
                required or required_when is not None):
            self.problem(where("required"), _(
                "item '{name}': a computed answer cannot be required; the person cannot "
                "give it").format(name=name))
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
                required_when=required_when,
                calculation=calculation,
                choice_filter=choice_filter,
                default=default,
                children=children,
                pictogram=pictogram,
                media=self._media(entry),
                xlsform_type=xlsform_type,
                read_only=read_only,
            ),
        )
        return name

    def _read_xlsform_type(self, entry: LocatedMap, name: str, item_type: ItemType
                           ) -> str | None:
        value = entry.get("xlsform_type")
        if value is None:
            return None
        if not isinstance(value, str) or XLSFORM_TYPES.get(value) is not item_type:
            self.problem(entry.line_of("xlsform_type"), _(
                "item '{name}': xlsform_type {value!r} does not go with a {type}; it may be "
                "{allowed}").format(
                name=name, value=Quoted(value), type=item_type.value,
                allowed=" / ".join(f"{xls} (on a {native.value})"
                                   for xls, native in XLSFORM_TYPES.items())))
            return None
        return value

    def _read_pictogram(self, entry: LocatedMap, name: str, item_type: ItemType) -> str | None:
        """The item's picture: a name from fieldscreen/forms/pictograms.py, never a file."""
        value = entry.get("pictogram")
        if value is None:
            return None
        line = entry.line_of("pictogram")
        if item_type in (ItemType.GROUP, ItemType.CALCULATE):
            self.problem(line, _("item '{name}': a {type} is not shown, so it takes no "
                                 "pictogram").format(name=name, type=item_type.value))
            return None
        if pictograms.is_pictogram(value):
            return str(value)
        near = pictograms.closest(value) if isinstance(value, str) and len(value) <= 40 else ()
        self.problem(line, _(
            "item '{name}': there is no pictogram called {pictogram!r}{near}; the names are "
            "listed in docs/form-format.md (\"Pictograms\")").format(
            name=name, pictogram=Quoted(value),
            near=_(" (did you mean {names}?)").format(names=", ".join(near)) if near else ""))
        return None

    def _media(self, entry: LocatedMap) -> MediaRefs:
        """An item's or a choice's `media:`: audio per language and one image, by file name."""
        data = entry.get("media")
        if data is None:
            return NO_MEDIA
        if not isinstance(data, LocatedMap):
            self.problem(entry.line_of("media"), _(
                "media must be a mapping with audio and image"))
            return NO_MEDIA
        self._unknown_keys(data, _MEDIA_KEYS, "media")
        audio: dict[str, str] = {}
        recordings = data.get("audio")
        if isinstance(recordings, str):
            recordings_by_language: Any = {self.default_language: recordings}
        elif recordings is None or isinstance(recordings, LocatedMap):
            recordings_by_language = recordings or {}
        else:
            self.problem(data.line_of("audio"), _(
                "audio must be a file name or a mapping of language code to file name"))
            recordings_by_language = {}
        for language, name in recordings_by_language.items():
            if language not in self.languages:
                self.problem(data.line_of("audio"), _(
                    "language '{language}' is not listed in the form's languages").format(
                    language=Quoted(language)))
                continue
            problem = name_problem(name, "audio")
            if problem is not None:
                self.problem(data.line_of("audio"), problem)
                continue
            audio[language] = name
        image = data.get("image")
        if image is not None:
            problem = name_problem(image, "image")
            if problem is not None:
                self.problem(data.line_of("image"), problem)
                image = None
        return MediaRefs(MappingProxyType(audio), image)

    def _choice_columns(self, entry: LocatedMap) -> Mapping[str, str]:
        columns = entry.get("columns")
        if columns is None:
            return MappingProxyType({})
        if not isinstance(columns, LocatedMap) or not all(
                isinstance(key, str) and ITEM_NAME.match(key) and key != "name"
                and isinstance(value, str | int | float) and not isinstance(value, bool)
                for key, value in columns.items()):
            self.problem(entry.line_of("columns"), _(
                "columns must map column names (letters, digits, '_'; not 'name') to text or "
                "numbers"))
            return MappingProxyType({})
        return MappingProxyType({key: _column_text(value) for key, value in columns.items()})

    def _read_choice_filter(self, entry: LocatedMap, name: str,
                            choice_list: ChoiceList | None) -> Expression | None:
        if "choice_filter" not in entry:
            return None
        line = entry.line_of("choice_filter")
        source = entry["choice_filter"]
        if choice_list is None:
            if "choices" not in entry:
                self.problem(line, _("item '{name}': only select items take a choice_filter"
                                     ).format(name=name))
            return None
        if not isinstance(source, str):
            self.problem(line, _("item '{name}': choice_filter must be an expression in quotes"
                                 ).format(name=name))
            return None
        try:
            expression = parse_expression(source, choice_columns=True)
        except ExpressionError as error:
            self.problem(line, _(
                "item '{name}': choice_filter: {message} (at character {position} of the "
                "expression)").format(name=name, message=error.message,
                                      position=error.position + 1))
            return None
        present = {"name"}.union(*(choice.columns for choice in choice_list.choices))
        for column in sorted(expression.columns - present):
            # ODK would read an empty value; a misspelt column would hide every choice.
            self.problem(line, _(
                "item '{name}': choice_filter names the column '{column}', which no choice "
                "of the list '{list}' has").format(name=name, column=column,
                                                   list=choice_list.name))
        return expression

    def _read_default(self, entry: LocatedMap, name: str, item_type: ItemType,
                      audience: Audience | None, choice_list: ChoiceList | None, *,
                      read_only: bool = False) -> str | int | float | None:
        if "default" not in entry:
            return None
        line = entry.line_of("default")
        value = entry["default"]
        if not item_type.takes_answer or item_type is ItemType.ACKNOWLEDGE or (
                "calculation" in entry):
            self.problem(line, _("item '{name}': a {type} takes no default answer").format(
                name=name, type=item_type.value if "calculation" not in entry
                else _("computed answer")))
            return None
        # Child safety: an answer the child did not give must not be put in the child's
        # mouth (a page without an audience is put to the child), nor counted in the score.
        # A read-only question's default is the form's own value, shown as such and never
        # taken for anyone's answer; still never scored (docs/decisions.md, 73).
        if (audience is not Audience.WORKER and not read_only) or {"level", "kind"} & set(
                entry):
            self.problem(line, _(
                "item '{name}': only the worker's own questions (audience: worker) that are "
                "not indicators can have a default answer").format(name=name))
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(line, _("item '{name}': default must be a single value").format(
                name=name))
            return None
        fits: bool
        if item_type is ItemType.INTEGER:
            fits = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
            value = int(value) if fits else value
        elif item_type is ItemType.DECIMAL:
            fits = isinstance(value, int | float)
        elif item_type is ItemType.DATE:
            fits = isinstance(value, str) and _is_iso_date(value)
        elif item_type is ItemType.TIME:
            fits = isinstance(value, str) and TIME_OF_DAY.fullmatch(value) is not None
        elif choice_list is not None:
            chosen = str(value).split()
            fits = bool(chosen) and all(choice in choice_list for choice in chosen) and (
                item_type is ItemType.SELECT_MULTIPLE or len(chosen) == 1)
            value = " ".join(chosen)
        else:
            fits = isinstance(value, str)
        if not fits:
            self.problem(line, _(
                "item '{name}': the default is not an answer this {type} accepts").format(
                name=name, type=item_type.value))
            return None
        return value

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
        elif choice_list is not None and (
                choice_list.names != SCALE_FOR_AUDIENCE[audience]
                or choice_list.has_shared_names):
            # A shared name (a cascade's) never on a scale: each answer is offered once.
            self.problem(entry.line_of("choices"), _(
                "item '{name}': an indicator for the {audience} must use the canonical scale "
                "{scale}, in that order (list '{list}' has {found})").format(
                name=name, audience=audience.value,
                scale=", ".join(SCALE_FOR_AUDIENCE[audience]), list=choice_list.name,
                found=", ".join(choice.name for choice in choice_list.choices)))
            ok = False
        if ok and red_flag and kind is IndicatorKind.RESILIENCE:
            self.problem(entry.line_of("red_flag"), _(
                "item '{name}': only risk items can be red flags").format(name=name))
            ok = False
        if not ok or weight is None:
            return None
        return Indicator(level=level, kind=kind, weight=weight, red_flag=red_flag)


def _column_text(value: str | int | float) -> str:
    # Numbers as a spreadsheet shows them: 1, not 1.0.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10
