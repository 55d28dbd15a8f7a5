"""The importer's state and what every sheet reader shares: located problems, the header
row's columns and languages, and typed access to one row's cells.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

from fieldscreen.errors import SourceProblem, SourceProblems
from fieldscreen.forms.names import LANGUAGE_CODE
from fieldscreen.forms.xlsform.cells import (
    _as_text,
    _bounded,
    _english_language_names,
    _out_of_scope,
    _shorten,
)
from fieldscreen.forms.xlsform.model import _Column, _Refused, _Row, _Sheet
from fieldscreen.forms.xlsform.tables import (
    _CODE_IN_PARENTHESES,
    _COLUMN_ALIASES,
    _FIELDS,
    _IGNORED_COLUMNS,
    _MEDIA_COLUMNS,
    _REFUSED_COLUMNS,
    _SHEET_ORDER,
    _TRANSLATABLE,
    CHOICES,
    EXTERNAL_CHOICES,
    SETTINGS,
    SURVEY,
)
from fieldscreen.i18n import N_, _


class _SheetAccess:
    """The state of one import and the access every sheet reader shares."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.shown = str(path)
        self.titles: dict[str, str] = {kind: kind for kind in _SHEET_ORDER}
        self.warnings: list[SourceProblem] = []
        self.errors: list[SourceProblem] = []
        self.sheets: dict[str, _Sheet] = {}
        self.default_language = "en"
        self.languages: list[str] = []
        # (sheet, column index) -> the language code of a translated column.
        self._codes: dict[tuple[str, int], str] = {}
        # name -> (row, why it was left out); for references from kept items.
        self.dropped: dict[str, tuple[int, str]] = {}
        self.names: dict[str, int] = {}
        self.choice_rows: dict[str, list[int]] = {}
        # Lists with a refused row: the error is on the choices sheet, not at each select.
        self.refused_lists: set[str] = set()
        # The lists read from the external_choices sheet (select_one_external's).
        self.external_lists: set[str] = set()
        # The sheet a list was read from, when not the choices sheet.
        self.list_sheets: dict[str, str] = {}
        self.rule_rows: dict[str, int] = {}
        self.settings_row = 0

    # -- reporting ---------------------------------------------------------------------

    def where(self, kind: str) -> str:
        return f"{self.shown}#{self.titles[kind]}"

    def warn(self, kind: str, row: int, message: str) -> None:
        self.warnings.append(SourceProblem(self.where(kind), row, message))

    def error(self, kind: str, row: int, message: str) -> None:
        self.errors.append(SourceProblem(self.where(kind), row, message))

    def refuse(self, kind: str, row: int, message: str) -> _Refused:
        return _Refused([SourceProblem(self.where(kind), row, message)])

    def _sorted(self, problems: list[SourceProblem]) -> list[SourceProblem]:
        order = {self.where(kind): index for index, kind in enumerate(_SHEET_ORDER)}
        return sorted(problems, key=lambda p: (order.get(p.path, len(order)), p.line))

    def _raise_errors(self) -> None:
        if self.errors:
            raise SourceProblems(_bounded(self._sorted(self.errors)))

    # -- columns and languages ---------------------------------------------------------

    def _header(self, sheet: _Sheet) -> None:
        if not sheet.rows:
            return
        first = sheet.rows[0]
        if first.number != 1:
            self.error(sheet.kind, first.number, _(
                "row 1 must hold the column names (type, name, label...); it is empty"))
            sheet.rows = []
            return
        sheet.rows = sheet.rows[1:]
        # pyxform's rule (parsing/sheet_headers.py): a sheet with no `::` header splits its
        # headers on one colon (the older `label:English`), keeping `jr:` names whole.
        double = any("::" in _as_text(value) for value in first.cells.values())
        for index, value in sorted(first.cells.items()):
            header = _as_text(value)
            parts = header.split("::") if double else _single_colon_parts(header)
            base = re.sub(r"[\s-]+", "_", parts[0].strip().lower())
            rest = [part.strip() for part in parts[1:]]
            if base == "media" and rest:
                base = f"media::{rest[0].lower()}"
                rest = rest[1:]
            elif base == "bind" and rest:
                # pyxform reads `bind::relevant` as `relevant`: dropping it would lose logic.
                base = re.sub(r"[\s-]+", "_", rest[0].lower())
                rest = rest[1:]
            base = _COLUMN_ALIASES.get(base, base)
            sheet.columns.append(_Column(index, header, base, "::".join(rest) or None))

    def _is_translatable(self, sheet: _Sheet, column: _Column) -> bool:
        return column.base in _TRANSLATABLE[sheet.kind]

    def _resolve_languages(self) -> None:
        # Names written with a code ("Français (fr)") let a bare "Français" column resolve.
        known: dict[str, str] = {}
        coded: list[tuple[str, _Column]] = []
        plain = False
        for kind in _SHEET_ORDER:
            sheet = self.sheets.get(kind)
            for column in sheet.columns if sheet else ():
                if sheet is None or not self._is_translatable(sheet, column):
                    continue
                if column.language is None:
                    # A plain form_title follows the default language, whatever it is.
                    plain = plain or kind in (SURVEY, CHOICES, EXTERNAL_CHOICES)
                    continue
                coded.append((kind, column))
                match = _CODE_IN_PARENTHESES.search(column.language)
                if match:
                    name = column.language[: match.start()].strip().lower()
                    if name:
                        known.setdefault(name, match.group(1).strip())
        setting = self._setting_text("default_language")
        if setting is not None:
            code = self._language_code(setting, known)
            if code is None:
                self.error(SETTINGS, self.settings_row, _(
                    "default_language '{value}' is not a language; write it like "
                    "'English (en)' or 'en'").format(value=_shorten(setting)))
            else:
                self.default_language = code
        elif plain:
            self.warn(SETTINGS, self.settings_row, _(
                "there is no default_language setting; columns without a language (such as "
                "'label') are read as English (en)"))
        elif coded:
            first = self._language_code(coded[0][1].language or "", known)
            if first is not None:
                self.default_language = first
                self.warn(SETTINGS, self.settings_row, _(
                    "there is no default_language setting; using '{code}', the language of "
                    "the first label column").format(code=first))
        for kind, column in coded:
            code = self._language_code(column.language or "", known)
            if code is None:
                self.error(kind, 1, _(
                    "column '{header}': '{language}' is not a language; write the code in "
                    "brackets, like 'label::Français (fr)'").format(
                    header=column.header, language=column.language))
                continue
            match = _CODE_IN_PARENTHESES.search(column.language or "")
            if match is None and not _CODE_ANY_CASE.match(column.language or ""):
                self.warn(kind, 1, _(
                    "column '{header}' has no language code; it is read as '{code}'").format(
                    header=column.header, code=code))
            self._codes[(kind, column.index)] = code
        # Languages keep the workbook's column order; plain columns come first.
        ordered = [self._codes[(kind, column.index)] for kind, column in coded
                   if (kind, column.index) in self._codes]
        if plain:
            ordered.insert(0, self.default_language)
        self.languages = list(dict.fromkeys([*ordered, self.default_language]))

    def _language_code(self, text: str, known: dict[str, str]) -> str | None:
        text = text.strip()
        match = _CODE_IN_PARENTHESES.search(text)
        if match:
            candidate = match.group(1).strip()
        elif _CODE_ANY_CASE.match(text):
            candidate = text
        else:
            candidate = known.get(text.lower()) or _english_language_names().get(text.lower())
            if candidate is None:
                return None
        # "EN" is "en"; the rest ("es_419", "zh-Hant") stays as written, so codes round-trip.
        head = re.match(r"[A-Za-z]*", candidate)
        assert head is not None
        candidate = head.group(0).lower() + candidate[head.end():]
        return candidate if LANGUAGE_CODE.match(candidate) else None

    def _assign_fields(self, sheet: _Sheet) -> None:
        for column in sheet.columns:
            if self._is_translatable(sheet, column):
                if column.language is None:
                    key = f"{column.base}::{self.default_language}"
                elif (sheet.kind, column.index) in self._codes:
                    key = f"{column.base}::{self._codes[(sheet.kind, column.index)]}"
                else:
                    continue  # an unreadable language, already reported
            elif column.base in _FIELDS[sheet.kind] and column.language is None:
                key = column.base
            else:
                sheet.ignored[column.index] = column
                continue
            if key in sheet.fields:
                other = get_column_letter(sheet.fields[key])
                self.error(sheet.kind, 1, _(
                    "columns {first} and {second} both hold '{field}'; keep one").format(
                    first=other, second=column.letter, field=key))
                continue
            sheet.fields[key] = column.index
        if sheet.kind in (SURVEY, CHOICES, EXTERNAL_CHOICES) and sheet.rows:
            for required in ("type", "name") if sheet.kind == SURVEY else ("list_name", "name"):
                if required not in sheet.fields:
                    self.error(sheet.kind, 1, _(
                        "the {sheet} sheet needs a '{column}' column").format(
                        sheet=sheet.title, column=required))

    # -- cell access -------------------------------------------------------------------

    def _cell(self, sheet: _Sheet, row: _Row, key: str) -> Any:
        index = sheet.fields.get(key)
        return None if index is None else row.cells.get(index)

    def _text(self, sheet: _Sheet, row: _Row, key: str) -> str | None:
        value = self._cell(sheet, row, key)
        return None if value is None else (_as_text(value) or None)

    def _localized(self, sheet: _Sheet, row: _Row, base: str) -> dict[str, str]:
        texts = {}
        for language in self.languages:
            text = self._text(sheet, row, f"{base}::{language}")
            if text is not None:
                texts[language] = text
        return texts

    def _identifier(self, sheet: _Sheet, row: _Row, key: str) -> str | None:
        """A name-like cell as text; dates, times and true/false are refused."""
        value = self._cell(sheet, row, key)
        if value is None:
            return None
        if isinstance(value, bool | datetime.date | datetime.time | datetime.timedelta):
            self.error(sheet.kind, row.number, _(
                "the {column} cell holds {value!r}, which is not a name; format the cell as "
                "text").format(column=key, value=_as_text(value)))
            return None
        return _as_text(value) or None

    def _warn_ignored(self, sheet: _Sheet, row: _Row) -> None:
        for index, value in sorted(row.cells.items()):
            column = sheet.ignored.get(index)
            if column is not None and column.base.split("::")[0] in _REFUSED_COLUMNS:
                self.error(sheet.kind, row.number, _out_of_scope(
                    self._ignored_message(sheet, column, value)))
            elif column is not None:
                self.warn(sheet.kind, row.number, self._ignored_message(sheet, column, value))
            elif not any(c.index == index for c in sheet.columns):
                self.warn(sheet.kind, row.number, _(
                    "the value in column {letter} is ignored: the column has no name in "
                    "row 1").format(letter=get_column_letter(index)))

    def _ignored_message(self, sheet: _Sheet, column: _Column, value: Any) -> str:
        base = column.base.split("::")[0]
        if base in _MEDIA_COLUMNS:
            base = "media"
        reason = _IGNORED_COLUMNS.get(base)
        if reason is None and base in _TRANSLATABLE[sheet.kind]:
            reason = N_("the language of this column could not be read")
        if reason is None and base in _FIELDS[sheet.kind]:
            reason = N_("this column takes no language")
        if reason is None:
            return _("column '{header}' is not one FieldScreen reads (see docs/xlsform.md); "
                     "its value '{value}' is ignored").format(
                header=column.header, value=_shorten(_as_text(value)))
        return _("column '{header}' is ignored here: {reason}").format(
            header=column.header, reason=_(reason))

    # -- settings read early ------------------------------------------------------------

    def _settings_data_row(self) -> _Row | None:
        sheet = self.sheets.get(SETTINGS)
        if sheet is None or not sheet.rows:
            return None
        return sheet.rows[0]

    def _setting_text(self, key: str) -> str | None:
        # Read before the sheet's fields are assigned (the default language decides them).
        sheet = self.sheets.get(SETTINGS)
        row = self._settings_data_row()
        if sheet is None or row is None:
            return None
        self.settings_row = row.number
        for column in sheet.columns:
            if column.base == key and column.language is None and column.index in row.cells:
                return _as_text(row.cells[column.index]) or None
        return None


# A language code as pyxform accepts it, in any case (`EN`, `Fr`); read in lower case.
_CODE_ANY_CASE = re.compile(LANGUAGE_CODE.pattern, re.IGNORECASE)


def _single_colon_parts(header: str) -> list[str]:
    parts = header.split(":")
    while "jr" in (part.strip().lower() for part in parts[:-1]):
        at = next(i for i, part in enumerate(parts) if part.strip().lower() == "jr")
        parts[at:at + 2] = [f"jr:{parts[at + 1].strip()}"]
    return parts
