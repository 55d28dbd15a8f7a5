"""The settings, choices, fs_rules and fs_notes sheets."""

from __future__ import annotations

import re
from typing import Any

from fieldscreen.forms.expressions import ExpressionError, parse_expression
from fieldscreen.forms.loader import DEFAULT_ANSWER_SCORES
from fieldscreen.forms.names import CHOICE_NAME, FORM_ID, ITEM_NAME
from fieldscreen.forms.xlsform.cells import (
    _as_text,
    _flag,
    _number_or_text,
    _out_of_scope,
    _shorten,
)
from fieldscreen.forms.xlsform.model import _Row, _Sheet
from fieldscreen.forms.xlsform.sheet_access import _SheetAccess
from fieldscreen.forms.xlsform.tables import (
    _GAP,
    _RULE_NUMBERS,
    CHOICES,
    DEFAULT_RULES,
    EXTERNAL_CHOICES,
    NOTES,
    RULES,
    SETTINGS,
    SURVEY,
)
from fieldscreen.i18n import _


class _SheetReaders(_SheetAccess):
    """Reads the sheets around the survey."""

    # -- settings ----------------------------------------------------------------------

    def _read_settings(self) -> dict[str, Any]:
        sheet = self.sheets.get(SETTINGS)
        row = self._settings_data_row()
        if sheet is not None and row is not None:
            self._warn_ignored(sheet, row)
            for extra in sheet.rows[1:]:
                self.warn(SETTINGS, extra.number, _(
                    "only the first row under the column names is read; this row is ignored"))
        form_id = self._text(sheet, row, "form_id") if sheet and row else None
        version = self._text(sheet, row, "version") if sheet and row else None
        title: dict[str, str] = {}
        if sheet and row:
            for language in self.languages:
                text = (self._text(sheet, row, f"form_title::{language}")
                        or self._text(sheet, row, f"fs_title::{language}"))
                if text:
                    title[language] = text
        if form_id is None or not FORM_ID.match(form_id):
            candidate = re.sub(r"[^a-z0-9_-]+", "-", (form_id or self.path.stem).lower())
            candidate = candidate.strip("-_")[:64].strip("-_") or "imported-form"
            if form_id is None:
                self.warn(SETTINGS, self.settings_row, _(
                    "there is no form_id setting; using '{id}'").format(id=candidate))
            else:
                self.warn(SETTINGS, self.settings_row, _(
                    "form_id '{value}' may use only lower-case letters, digits, '-' and '_'; "
                    "using '{id}'").format(value=_shorten(form_id), id=candidate))
            form_id = candidate
        if version is None:
            version = "1"
            self.warn(SETTINGS, self.settings_row, _(
                "there is no version setting; using '1'. Raise the version on every change"))
        settings: dict[str, Any] = {"id": form_id, "version": version}
        if title:
            settings["title"] = title
        settings["default_language"] = self.default_language
        settings["languages"] = list(self.languages)
        return settings

    # -- choices -----------------------------------------------------------------------

    def _read_choices(self, kind: str = CHOICES) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        """The lists of the choices sheet, or of the external_choices sheet (`kind`)."""
        lists: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        sheet = self.sheets.get(kind)
        if sheet is None:
            return lists
        seen: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        carried = self._filter_columns(sheet)
        duplicates_allowed = _flag_text(self._setting_text("allow_choice_duplicates"))
        for row in sheet.rows:
            list_name = self._identifier(sheet, row, "list_name")
            name = self._identifier(sheet, row, "name")
            if list_name is None or name is None:
                if list_name is None and name is None and not self._localized(
                        sheet, row, "label"):
                    self.warn(kind, row.number, _(
                        "this row has no list_name, name or label; it is ignored"))
                elif list_name is None:
                    self.error(kind, row.number, _("this choice has no list_name"))
                else:
                    self.error(kind, row.number, _("this choice has no name"))
                continue
            if not ITEM_NAME.match(list_name) or not CHOICE_NAME.match(name):
                # Reported at this row; a select that uses the list is not blamed again.
                self.refused_lists.add(list_name)
            if not ITEM_NAME.match(list_name):
                self.error(kind, row.number, _(
                    "list_name '{name}' must start with a letter and use only letters, digits "
                    "or '_'").format(name=_shorten(list_name)))
                continue
            if not CHOICE_NAME.match(name):
                self.error(kind, row.number, _(
                    "choice name '{name}' must use only lower-case letters, digits or '_' "
                    "(FieldScreen compares answers by these names)").format(
                    name=_shorten(name)))
                continue
            entry: dict[str, Any] = {"name": name}
            label = self._localized(sheet, row, "label")
            if label:
                entry["label"] = label
            image = self._text(sheet, row, "fs_image")
            if image:
                entry["image"] = image
            columns = {word: _as_text(row.cells[index]) for word, index in carried.items()
                       if row.cells.get(index) is not None and _as_text(row.cells[index])}
            if columns:
                entry["columns"] = columns
            if (list_name, name) in seen and not self._shared_name(
                    seen[(list_name, name)], entry, list_name, row, duplicates_allowed, kind):
                self.refused_lists.add(list_name)  # a select using it is not blamed again
                continue
            seen.setdefault((list_name, name), (row.number, entry))
            lists.setdefault(list_name, []).append((row.number, entry))
            self._warn_ignored(sheet, row)
        self.choice_rows.update({name: [row for row, _entry in entries]
                                 for name, entries in lists.items()})
        return lists

    def _with_external_choices(self, lists: dict[str, list[tuple[int, dict[str, Any]]]]
                               ) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        """The choices sheet's lists and the external_choices sheet's, in one namespace.

        A form holds one list of each name. pyxform lets the two sheets hold different
        lists under one name (an ordinary select reads one, a select_one_external the
        other): refused, since one of them would be offered where the other was meant. The
        same list on both sheets (as pyxform's own examples have) is one list.
        """
        if EXTERNAL_CHOICES not in self.sheets:
            return lists
        if not self._uses_external_choices():
            self.warn(EXTERNAL_CHOICES, 0, _(
                "no select_one_external uses this sheet; it is not read"))
            return lists
        choice_rows = dict(self.choice_rows)
        external = self._read_choices(EXTERNAL_CHOICES)
        self.external_lists = set(external)
        for name, entries in external.items():
            if name not in lists:
                lists[name] = entries
                self.list_sheets[name] = EXTERNAL_CHOICES
                continue
            choice_rows_of_list = choice_rows.get(name, [0])
            self.choice_rows[name] = choice_rows_of_list
            if [entry for _row, entry in entries] != [entry for _row, entry in lists[name]]:
                self.refused_lists.add(name)
                self.error(EXTERNAL_CHOICES, entries[0][0], _(
                    "the list '{name}' is also on the choices sheet (row {row}) with other "
                    "choices; FieldScreen keeps one list of each name: rename one of them "
                    "(and the questions that use it)").format(
                    name=name, row=choice_rows_of_list[0]))
        return lists

    def _uses_external_choices(self) -> bool:
        survey = self.sheets.get(SURVEY)
        if survey is None:
            return False
        return any(_as_text(self._cell(survey, row, "type") or "").strip().lower().startswith(
            "select_one_external") for row in survey.rows)

    def _shared_name(self, first: tuple[int, dict[str, Any]], entry: dict[str, Any],
                     list_name: str, row: _Row, allowed: bool, kind: str) -> bool:
        """Whether a second choice with the same name in a list is carried (else an error).

        pyxform accepts one only under allow_choice_duplicates. It is carried when it reads
        the same words as the first (a cascade's "King" county in two states, told apart by
        the filter columns): the recorded name then reads the same either way.
        """
        first_row, first_entry = first
        message = _("choice '{name}' appears twice in list '{list}' (first on row {row})").format(
            name=entry["name"], list=list_name, row=first_row)
        if not allowed:
            self.error(kind, row.number, message)
            return False
        same = {key: value for key, value in entry.items() if key != "columns"} == {
            key: value for key, value in first_entry.items() if key != "columns"}
        if not same:
            self.error(kind, row.number, _out_of_scope(_(
                "{problem} with other words; choices may share a name (allow_choice_duplicates) "
                "only when their labels and images are the same, since answers are recorded by "
                "name").format(problem=message)))
        return same

    def _filter_columns(self, sheet: _Sheet) -> dict[str, int]:
        """The choices columns that choice filters name, by the word used (read, not ignored)."""
        survey = self.sheets.get(SURVEY)
        words: set[str] = set()
        if survey is not None and "choice_filter" in survey.fields:
            for row in survey.rows:
                source = self._text(survey, row, "choice_filter")
                if source is None:
                    continue
                try:
                    words |= parse_expression(source, choice_columns=True).columns
                except ExpressionError:
                    continue  # reported at the survey row
        carried: dict[str, int] = {}
        for word in sorted(words - {"name"}):
            for index, column in list(sheet.ignored.items()):
                if column.language is None and column.base == word.lower():
                    carried[word] = index
                    del sheet.ignored[index]
                    break
        return carried

    # -- rules and notes ---------------------------------------------------------------

    def _read_rules(self, form_version: str) -> dict[str, Any]:
        sheet = self.sheets.get(RULES)
        given: dict[str, tuple[int, Any]] = {}
        if sheet is None:
            self.warn(RULES, 0, _(
                "there is no fs_rules sheet; the default referral rules are used (see "
                "docs/xlsform.md). Check them before screening"))
        else:
            for row in sheet.rows:
                key = self._text(sheet, row, "key")
                value = self._cell(sheet, row, "value")
                if key is None:
                    if value is not None:
                        self.warn(RULES, row.number, _("this row has no key; it is ignored"))
                    continue
                key = key.lower()
                known = (key in DEFAULT_RULES or key in ("version", "lowered_when") or (
                    key.startswith("answer_scores.")
                    and key.partition(".")[2] in DEFAULT_ANSWER_SCORES))
                if not known:
                    self.warn(RULES, row.number, _(
                        "'{key}' is not a rule FieldScreen knows (see docs/xlsform.md); the "
                        "row is ignored").format(key=_shorten(key)))
                elif key in given:
                    self.error(RULES, row.number, _(
                        "'{key}' is already given on row {row}").format(
                        key=key, row=given[key][0]))
                elif value is None or _as_text(value) == "":
                    self.warn(RULES, row.number, _("'{key}' has no value; the row is ignored"
                                                   ).format(key=key))
                else:
                    given[key] = (row.number, value)
                self._warn_ignored(sheet, row)
        self.rule_rows = {key: row for key, (row, _value) in given.items()}

        def value_of(key: str, default: Any) -> Any:
            if key in given:
                return given[key][1]
            if sheet is not None:
                self.warn(RULES, 1, _("there is no '{key}' row; using {value}").format(
                    key=key, value=default))
            return default

        rules: dict[str, Any] = {"version": _as_text(value_of(
            "version", f"{form_version}-default"))}
        for key in _RULE_NUMBERS:
            value = _number_or_text(value_of(key, DEFAULT_RULES[key]))
            head, _dot, tail = key.partition(".")
            if tail:
                rules.setdefault(head, {})[tail] = value
            else:
                rules[key] = value
            if key == "lowered_thresholds.monitor" and "lowered_when" in given:
                # Next to the thresholds it lowers, as in a hand-written form.
                self._lowered_when(rules, *given["lowered_when"])
        scores = {key.partition(".")[2]: value for key, (_row, value) in given.items()
                  if key.startswith("answer_scores.")}
        if scores:
            rules["answer_scores"] = {
                answer: _GAP if _as_text(score).lower() == _GAP else _number_or_text(score)
                for answer, score in scores.items()}
        return rules

    def _lowered_when(self, rules: dict[str, Any], row: int, value: Any) -> None:
        source = "true()" if value is True else "false()" if value is False else (
            _as_text(value))
        try:
            parse_expression(source)
        except ExpressionError as problem:
            self.error(RULES, row, _(
                "lowered_when cannot be represented: {message} (at character {position})"
            ).format(message=problem.message, position=problem.position + 1))
        else:
            rules["lowered_when"] = source

    def _read_notes(self) -> list[str]:
        sheet = self.sheets.get(NOTES)
        if sheet is None or not sheet.rows:
            return []
        lines: list[str] = []
        last = 1
        for row in sheet.rows:
            lines.extend([""] * (row.number - last - 1))  # blank rows are blank lines
            value = self._cell(sheet, row, "note")
            # Leading spaces are kept: they indent the comment as the author wrote it.
            text = value.rstrip() if isinstance(value, str) else _as_text(value)
            lines.extend(text.splitlines() or [""])
            self._warn_ignored(sheet, row)
            last = row.number
        # A YAML comment may hold only printable characters.
        return ["".join(c if c.isprintable() or c == "\t" else " " for c in line)
                for line in lines]


def _flag_text(value: str | None) -> bool:
    return value is not None and _flag(value) is True
