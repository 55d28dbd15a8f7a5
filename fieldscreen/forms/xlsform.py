"""Converts checklist forms between XLSForm workbooks (.xlsx) and the native YAML form format."""

from __future__ import annotations

import bisect
import datetime
import io
import math
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
import yaml
from babel import Locale, UnknownLocaleError
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from fieldscreen.errors import SourceProblem, SourceProblems, UserError
from fieldscreen.files import read_regular_file
from fieldscreen.forms.expressions import ExpressionError, parse_expression
from fieldscreen.forms.loader import DEFAULT_ANSWER_SCORES, FORM_FORMAT, load_form_text
from fieldscreen.forms.names import CHOICE_NAME, FORM_ID, ITEM_NAME, LANGUAGE_CODE
from fieldscreen.forms.schema import Form, Item, ItemType, LocalizedText
from fieldscreen.forms.yamlsource import MAX_SOURCE_BYTES, LocatedList, LocatedMap, parse_yaml
from fieldscreen.i18n import N_, _, ngettext

__all__ = [
    "MAX_CELL_CHARACTERS",
    "MAX_CHOICE_ROWS",
    "MAX_COLUMNS",
    "MAX_SURVEY_ROWS",
    "MAX_WORKBOOK_BYTES",
    "ImportResult",
    "export_xlsform",
    "import_xlsform",
]

# Limits against hostile or accidental giant workbooks (docs/xlsform.md, "Limits").
MAX_WORKBOOK_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_ZIP_MEMBERS = 10_000
MAX_SURVEY_ROWS = 5_000
MAX_CHOICE_ROWS = 20_000
MAX_OTHER_ROWS = 500
# Rows are scanned up to here even when empty; a sheet formatted down to row 1,048,576
# would otherwise make the reader produce a million empty rows.
MAX_SCANNED_ROWS = 50_000
MAX_COLUMNS = 200
MAX_CELL_CHARACTERS = 10_000
# Beyond this, further warnings or errors are summarised in one line.
MAX_REPORTED = 500

_CODE_IN_PARENTHESES = re.compile(r"\(([^()]+)\)\s*$")

SURVEY, CHOICES, SETTINGS, RULES, NOTES = "survey", "choices", "settings", "fs_rules", "fs_notes"
_SHEET_ORDER = (SURVEY, CHOICES, SETTINGS, RULES, NOTES)
_ROW_LIMITS = {SURVEY: MAX_SURVEY_ROWS, CHOICES: MAX_CHOICE_ROWS}

# Columns read on each sheet; the translatable ones take `::Language (code)`.
_FIELDS = {
    SURVEY: frozenset({"type", "name", "relevant", "constraint", "required", "calculation",
                       "fs_level", "fs_kind", "fs_weight", "fs_red_flag", "fs_audience",
                       "fs_role"}),
    CHOICES: frozenset({"list_name", "name", "fs_image"}),
    SETTINGS: frozenset({"form_id", "version", "default_language"}),
    RULES: frozenset({"key", "value", "note"}),
    NOTES: frozenset({"note"}),
}
_TRANSLATABLE = {
    SURVEY: ("label", "hint", "constraint_message"),
    CHOICES: ("label",),
    SETTINGS: ("form_title", "fs_title"),
    RULES: (),
    NOTES: (),
}
_COLUMN_ALIASES = {
    "jr:constraintmsg": "constraint_message",
    "jr:requiredmsg": "required_message",
    "calculate": "calculation",
    "readonly": "read_only",
    "relevance": "relevant",
    "caption": "label",
}
_MEDIA_COLUMNS = frozenset({"image", "audio", "video", "big_image"})
# XLSForm columns FieldScreen knows but does not use: why each value is ignored.
_IGNORED_COLUMNS = {
    "appearance": N_("appearance is not used; FieldScreen lays out every question its own way"),
    "choice_filter": N_("choice filters are not supported; every choice of the list is offered"),
    "default": N_("default answers are not supported; the question starts unanswered"),
    "read_only": N_("read-only questions are not supported"),
    "parameters": N_("question parameters are not supported"),
    "trigger": N_("triggered calculations are not supported"),
    "repeat_count": N_("repeats are not supported"),
    "guidance_hint": N_("guidance hints are not shown"),
    "required_message": N_("custom 'required' messages are not shown"),
    "media": N_("images, audio and video are not shown"),
    "instance_name": N_("FieldScreen names records itself"),
    "submission_url": N_("records are sent through FieldScreen's sealed exchange"),
    "public_key": N_("FieldScreen encrypts records with its own keys"),
    "style": N_("form styles are not used"),
}

# (what the type is, why it is left out)
_UNSUPPORTED_TYPES = {
    **dict.fromkeys(("geopoint", "geotrace", "geoshape", "start-geopoint"),
                    N_("locations are not collected")),
    **dict.fromkeys(("image", "audio", "video", "file", "background-audio"),
                    N_("photos, recordings and files are not collected")),
    "barcode": N_("barcode scanning is not supported"),
    "range": N_("range questions are not supported"),
    "rank": N_("ranking questions are not supported"),
    **dict.fromkeys(("time", "datetime"), N_("times are not supported, only dates")),
    "hidden": N_("hidden values are not supported"),
    **dict.fromkeys(("xml-external", "csv-external"), N_("external data is not supported")),
    **dict.fromkeys(("start", "end", "today", "deviceid", "phonenumber", "username", "email",
                     "simserial", "subscriberid", "audit"),
                    N_("device metadata is not collected")),
    **dict.fromkeys(("select_one_from_file", "select_multiple_from_file",
                     "select_one_external"),
                    N_("choices from a file are not supported")),
}
_SIMPLE_TYPES = {
    "integer": ItemType.INTEGER, "int": ItemType.INTEGER, "decimal": ItemType.DECIMAL,
    "text": ItemType.TEXT, "string": ItemType.TEXT, "date": ItemType.DATE,
    "note": ItemType.NOTE, "calculate": ItemType.CALCULATE,
    "acknowledge": ItemType.ACKNOWLEDGE, "trigger": ItemType.ACKNOWLEDGE,
}
_SELECT_PREFIXES = (
    (("select_one",), ItemType.SELECT_ONE),
    (("select", "one"), ItemType.SELECT_ONE),
    (("select_multiple",), ItemType.SELECT_MULTIPLE),
    (("select", "multiple"), ItemType.SELECT_MULTIPLE),
    (("select", "all", "that", "apply"), ItemType.SELECT_MULTIPLE),
)
_OR_OTHER = (("or_other",), ("or", "specify", "other"))
_CONTAINERS = {
    "begin_group": ("begin", "group"), "begin group": ("begin", "group"),
    "end_group": ("end", "group"), "end group": ("end", "group"),
    "begin_repeat": ("begin", "repeat"), "begin repeat": ("begin", "repeat"),
    "end_repeat": ("end", "repeat"), "end repeat": ("end", "repeat"),
}
_TRUE = frozenset({"yes", "true", "1", "true()"})
_FALSE = frozenset({"no", "false", "0", "false()"})

# The fs_rules sheet: key -> path in the native `rules:` mapping.
_RULE_NUMBERS = (
    "thresholds.refer", "thresholds.monitor", "lowered_thresholds.refer",
    "lowered_thresholds.monitor", "elevated_level_score", "elevated_levels_for_referral",
    "resilience_cap", "gaps_for_follow_up",
)
# Used when the workbook does not say (the shipped checklist's values; docs/xlsform.md).
DEFAULT_RULES: dict[str, float] = {
    "thresholds.refer": 8, "thresholds.monitor": 4,
    "lowered_thresholds.refer": 5, "lowered_thresholds.monitor": 2,
    "elevated_level_score": 2, "elevated_levels_for_referral": 3,
    "resilience_cap": 0.5, "gaps_for_follow_up": 4,
}
_RULE_NOTES = {
    "version": N_("the rule set's own version, kept with every decision"),
    "thresholds.refer": N_("net risk at which a referral is advised"),
    "thresholds.monitor": N_("net risk at which monitoring is advised"),
    "lowered_thresholds.refer": N_("referral threshold when lowered_when holds"),
    "lowered_thresholds.monitor": N_("monitoring threshold when lowered_when holds"),
    "lowered_when": N_("expression: when the lowered thresholds apply"),
    "elevated_level_score": N_("weighted risk at which a level counts as elevated"),
    "elevated_levels_for_referral": N_("this many elevated levels advise a referral"),
    "resilience_cap": N_("resilience offsets at most this fraction of risk"),
    "gaps_for_follow_up": N_("this many information gaps schedule a follow-up"),
    "answer_scores": N_("score of this answer from 0 to 1, or 'gap'"),
}
_GAP = "gap"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What `import_xlsform` gives back.

    Attributes:
        yaml_text: A native form file (docs/form-format.md) that `load_form_text` accepts.
        warnings: What was left out or assumed. Each names the sheet in its path
            (``file.xlsx#survey``) and the spreadsheet row as its line; line 0 means the
            sheet as a whole.
    """

    yaml_text: str
    warnings: list[SourceProblem]


# ---------------------------------------------------------------------------------------
# Import


def import_xlsform(path: Path) -> ImportResult:
    """Convert an XLSForm workbook into a native form file.

    Args:
        path: The .xlsx workbook (survey, choices and settings sheets, optionally the
            fs_rules and fs_notes sheets; see docs/xlsform.md).

    Returns:
        The YAML text, valid for `load_form_text`, and the warnings about what was left out.

    Raises:
        SourceProblems: The workbook cannot be read or cannot be represented; each problem
            names the sheet and row (``file.xlsx#survey:12: message``).
    """
    return _Importer(Path(path)).run()


class _Refused(SourceProblems):
    """Stops the import at once (unreadable file, limits exceeded)."""


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    header: str
    base: str  # the normalised name before '::', e.g. "label" or "media::image"
    language: str | None  # the text after '::' as written, e.g. "English (en)"

    @property
    def letter(self) -> str:
        return get_column_letter(self.index)


@dataclass(slots=True)
class _Row:
    number: int
    cells: dict[int, Any]  # column index -> value; empty cells are absent


@dataclass(slots=True)
class _Sheet:
    kind: str
    title: str
    columns: list[_Column] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)
    # Filled once languages are known: field name (e.g. "label::fr") -> column index.
    fields: dict[str, int] = field(default_factory=dict)
    ignored: dict[int, _Column] = field(default_factory=dict)


@dataclass(slots=True)
class _Node:
    """A kept survey row on its way to becoming a YAML item."""

    row: int
    name: str
    entry: dict[str, Any]
    children: list[_Node] | None = None
    # (column, names referred to) for the check against left-out items.
    references: list[tuple[str, frozenset[str]]] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        data = dict(self.entry)
        if self.children is not None:
            data["items"] = [child.to_data() for child in self.children]
        return data

    def walk(self) -> Iterable[_Node]:
        yield self
        for child in self.children or ():
            yield from child.walk()


@dataclass(slots=True)
class _Frame:
    """An open begin_group or begin_repeat."""

    kind: str  # "group" or "repeat"
    row: int
    name: str
    dropped: bool
    node: _Node | None = None
    container: list[_Node] | None = None
    inside: int = 0  # rows inside a left-out repeat


class _Importer:
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

    # -- entry point -------------------------------------------------------------------

    def run(self) -> ImportResult:
        _WorkbookReader(self).read()
        if SURVEY not in self.sheets:
            raise self.refuse(SURVEY, 0, _(
                "the workbook has no 'survey' sheet; an XLSForm needs survey, choices and "
                "settings sheets"))
        for sheet in self.sheets.values():
            self._header(sheet)
        self._resolve_languages()
        for sheet in self.sheets.values():
            self._assign_fields(sheet)
        self._raise_errors()
        settings = self._read_settings()
        choice_lists = self._read_choices()
        items = self._read_survey(choice_lists)
        rules = self._read_rules(settings["version"])
        notes = self._read_notes()
        self._check_references(items, rules)
        self._raise_errors()
        data: dict[str, Any] = {"format": FORM_FORMAT, **settings,
                                "choice_lists": {name: [entry for _row, entry in entries]
                                                 for name, entries in choice_lists.items()},
                                "rules": rules,
                                "items": [node.to_data() for node in items]}
        text = self._yaml_text(data, notes)
        self._validate(text, items)
        return ImportResult(yaml_text=text, warnings=_bounded(self._sorted(self.warnings)))

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
        for index, value in sorted(first.cells.items()):
            header = _as_text(value)
            parts = header.split("::")
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
                if not self._is_translatable(sheet, column):
                    continue
                if column.language is None:
                    # A plain form_title follows the default language, whatever it is.
                    plain = plain or kind in (SURVEY, CHOICES)
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
            if match is None and not LANGUAGE_CODE.match(column.language or ""):
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
        elif LANGUAGE_CODE.match(text):
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
        if sheet.kind in (SURVEY, CHOICES) and sheet.rows:
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
            if column is not None:
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

    # -- settings ----------------------------------------------------------------------

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

    def _read_choices(self) -> dict[str, list[tuple[int, dict[str, Any]]]]:
        lists: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        sheet = self.sheets.get(CHOICES)
        if sheet is None:
            return lists
        seen: dict[tuple[str, str], int] = {}
        for row in sheet.rows:
            list_name = self._identifier(sheet, row, "list_name")
            name = self._identifier(sheet, row, "name")
            if list_name is None or name is None:
                if list_name is None and name is None and not self._localized(
                        sheet, row, "label"):
                    self.warn(CHOICES, row.number, _(
                        "this row has no list_name, name or label; it is ignored"))
                elif list_name is None:
                    self.error(CHOICES, row.number, _("this choice has no list_name"))
                else:
                    self.error(CHOICES, row.number, _("this choice has no name"))
                continue
            if not ITEM_NAME.match(list_name):
                self.error(CHOICES, row.number, _(
                    "list_name '{name}' must start with a letter and use only letters, digits "
                    "or '_'").format(name=_shorten(list_name)))
                continue
            if not CHOICE_NAME.match(name):
                self.error(CHOICES, row.number, _(
                    "choice name '{name}' must use only lower-case letters, digits or '_' "
                    "(FieldScreen compares answers by these names)").format(
                    name=_shorten(name)))
                continue
            if (list_name, name) in seen:
                self.error(CHOICES, row.number, _(
                    "choice '{name}' appears twice in list '{list}' (first on row {row})"
                ).format(name=name, list=list_name, row=seen[(list_name, name)]))
                continue
            seen[(list_name, name)] = row.number
            entry: dict[str, Any] = {"name": name}
            label = self._localized(sheet, row, "label")
            if label:
                entry["label"] = label
            image = self._text(sheet, row, "fs_image")
            if image:
                entry["image"] = image
            lists.setdefault(list_name, []).append((row.number, entry))
            self._warn_ignored(sheet, row)
        self.choice_rows = {name: [row for row, _entry in entries]
                            for name, entries in lists.items()}
        return lists

    # -- survey ------------------------------------------------------------------------

    def _read_survey(self, choice_lists: dict[str, Any]) -> list[_Node]:
        sheet = self.sheets[SURVEY]
        top: list[_Node] = []
        stack: list[_Frame] = []
        for row in sheet.rows:
            raw_type = self._cell(sheet, row, "type")
            type_text = " ".join(_as_text(raw_type).split()) if raw_type is not None else ""
            if not type_text:
                self.warn(SURVEY, row.number, _("this row has no type; it is ignored"))
                continue
            parsed = _parse_type(type_text)
            if parsed.container == "end":
                self._close(stack, parsed.structure, row)
                continue
            name = self._identifier(sheet, row, "name")
            if name is not None:
                self._claim(name, row)
            elif parsed.kind != "unknown" and self._cell(sheet, row, "name") is None:
                self.error(SURVEY, row.number, _("this '{type}' row has no name").format(
                    type=type_text))
            if any(frame.dropped for frame in stack):
                self._inside_dropped(stack, parsed, row, name)
                continue
            if parsed.kind == "unknown":
                self.error(SURVEY, row.number, _(
                    "unknown type '{type}' ({reason}); see docs/xlsform.md for the types "
                    "FieldScreen reads").format(
                    type=_shorten(type_text),
                    reason=_(parsed.reason or N_("not an XLSForm type FieldScreen knows"))))
                continue
            if parsed.kind == "repeat":
                stack.append(_Frame("repeat", row.number, name or "", dropped=True))
                if name:
                    self.dropped[name] = (row.number, _("repeats are not supported"))
                continue
            if parsed.kind == "unsupported":
                self._drop_row(sheet, row, name, type_text, _(parsed.reason))
                continue
            if name is None:
                if parsed.item_type is ItemType.GROUP:
                    # Keeps its end_group matched; the missing name is already an error.
                    stack.append(_Frame("group", row.number, "", dropped=True))
                continue
            container = stack[-1].node.children if stack and stack[-1].node else top
            assert parsed.item_type is not None and container is not None
            node = self._item(sheet, row, name, parsed, choice_lists)
            container.append(node)
            if parsed.item_type is ItemType.GROUP:
                stack.append(_Frame("group", row.number, name, dropped=False, node=node,
                                    container=container))
        for frame in reversed(stack):
            self.error(SURVEY, frame.row, _(
                "begin_{kind} '{name}' has no matching end_{kind}").format(
                kind=frame.kind, name=frame.name))
        if not self.errors and not top:
            self.error(SURVEY, 1, _("nothing on the survey sheet can be used by FieldScreen"))
        return top

    def _claim(self, name: str, row: _Row) -> None:
        if not ITEM_NAME.match(name):
            self.error(SURVEY, row.number, _(
                "name '{name}' must start with a letter and use only letters, digits or '_' "
                "(at most 64)").format(name=_shorten(name)))
        elif name in self.names:
            self.error(SURVEY, row.number, _(
                "name '{name}' is already used on row {row}; every name must be unique"
            ).format(name=name, row=self.names[name]))
        else:
            self.names[name] = row.number

    def _close(self, stack: list[_Frame], structure: str, row: _Row) -> None:
        if not stack:
            self.error(SURVEY, row.number, _("end_{kind} has no matching begin_{kind}").format(
                kind=structure))
            return
        frame = stack.pop()
        if frame.kind != structure:
            self.error(SURVEY, row.number, _(
                "end_{kind} closes the begin_{other} '{name}' of row {row}").format(
                kind=structure, other=frame.kind, name=frame.name, row=frame.row))
        if stack and stack[-1].dropped:
            stack[-1].inside += frame.inside + 1
            return
        if frame.kind == "repeat":
            self.warn(SURVEY, frame.row, ngettext(
                "repeats are not supported: the repeat '{name}' (rows {first} to {last}) and "
                "the {count} item inside it are left out",
                "repeats are not supported: the repeat '{name}' (rows {first} to {last}) and "
                "the {count} items inside it are left out", frame.inside).format(
                name=frame.name, first=frame.row, last=row.number, count=frame.inside))
        elif frame.node is not None and not frame.node.children and frame.container is not None:
            frame.container.remove(frame.node)
            self.dropped[frame.name] = (frame.row, _("nothing inside the group is kept"))
            self.warn(SURVEY, frame.row, _(
                "group '{name}' is left out: nothing inside it is kept").format(
                name=frame.name))

    def _inside_dropped(self, stack: list[_Frame], parsed: _Type, row: _Row,
                        name: str | None) -> None:
        outer = next(frame for frame in stack if frame.dropped)
        if name:
            self.dropped[name] = (row.number, _("it is inside the repeat '{name}'").format(
                name=outer.name))
        if parsed.kind in ("repeat", "group"):
            stack.append(_Frame(parsed.structure, row.number, name or "", dropped=True))
        else:
            stack[-1].inside += 1

    def _drop_row(self, sheet: _Sheet, row: _Row, name: str | None, type_text: str,
                  reason: str) -> None:
        if name:
            self.dropped[name] = (row.number, reason)
        self.warn(SURVEY, row.number, _(
            "type '{type}' is not supported ({reason}); the item '{name}' is left out").format(
            type=_shorten(type_text), reason=reason, name=name or ""))
        # Its expressions go with it; say so when they could not have been kept anyway.
        for column in ("relevant", "constraint", "calculation"):
            source = self._expression_text(sheet, row, column)
            if source is None:
                continue
            try:
                parse_expression(source)
            except ExpressionError as problem:
                self.warn(SURVEY, row.number, _(
                    "the {column} of the left-out item '{name}' is not supported either: "
                    "{message}").format(column=column, name=name or "",
                                        message=problem.message))

    def _expression_text(self, sheet: _Sheet, row: _Row, column: str) -> str | None:
        value = self._cell(sheet, row, column)
        if isinstance(value, bool):
            return "true()" if value else "false()"
        return None if value is None else (_as_text(value) or None)

    def _item(self, sheet: _Sheet, row: _Row, name: str, parsed: _Type,
              choice_lists: dict[str, Any]) -> _Node:
        item_type = parsed.item_type
        assert item_type is not None
        node = _Node(row.number, name, {"name": name, "type": item_type.value},
                     children=[] if item_type is ItemType.GROUP else None)
        entry = node.entry
        number = row.number
        if parsed.list_name is not None:
            entry["choices"] = parsed.list_name
            if parsed.list_name not in choice_lists:
                self.error(SURVEY, number, _(
                    "'{name}' uses the choice list '{list}', which is not on the choices "
                    "sheet").format(name=name, list=parsed.list_name))
        if parsed.or_other:
            self.warn(SURVEY, number, _(
                "'or_other' is not supported; '{name}' offers only the choices of its list"
            ).format(name=name))
        for column, key in (("fs_audience", "audience"), ("fs_role", "role"),
                            ("fs_kind", "kind")):
            text = self._text(sheet, row, column)
            if text is not None:
                entry[key] = text.lower()
        level = self._text(sheet, row, "fs_level")
        if level is not None:
            entry["level"] = level.upper()
        weight = self._cell(sheet, row, "fs_weight")
        if weight is not None:
            entry["weight"] = _number_or_text(weight)
        red_flag = self._cell(sheet, row, "fs_red_flag")
        if red_flag is not None:
            entry["red_flag"] = _flag(red_flag)
        self._required(sheet, row, node, item_type)
        for key in ("label", "hint"):
            texts = self._localized(sheet, row, key)
            if texts:
                entry[key] = texts
                if any("${" in text for text in texts.values()):
                    self.warn(SURVEY, number, _(
                        "the {column} of '{name}' contains ${{...}}; FieldScreen shows it as "
                        "written, without putting answers in").format(column=key, name=name))
        self._expressions(sheet, row, node, item_type)
        self._warn_ignored(sheet, row)
        return node

    def _required(self, sheet: _Sheet, row: _Row, node: _Node, item_type: ItemType) -> None:
        value = self._cell(sheet, row, "required")
        if value is None:
            return
        flag = _flag(value)
        if not isinstance(flag, bool):
            self.warn(SURVEY, row.number, _(
                "required '{value}' is not yes or no (conditions are not supported); "
                "'{name}' is not required").format(value=_shorten(str(flag)), name=node.name))
        elif flag and not item_type.takes_answer:
            self.warn(SURVEY, row.number, _(
                "a {type} cannot be required; 'required' is ignored").format(
                type=item_type.value))
        elif flag:
            node.entry["required"] = True

    def _expressions(self, sheet: _Sheet, row: _Row, node: _Node, item_type: ItemType) -> None:
        failed = False
        for column in ("relevant", "constraint", "calculation"):
            source = self._expression_text(sheet, row, column)
            if source is None:
                continue
            if column == "constraint" and not item_type.takes_answer:
                self.warn(SURVEY, row.number, _(
                    "a {type} has no answer to check; its constraint is ignored").format(
                    type=item_type.value))
                continue
            if column == "calculation" and item_type is not ItemType.CALCULATE:
                self.warn(SURVEY, row.number, _(
                    "only a calculate takes a calculation (dynamic defaults are not "
                    "supported); the calculation of '{name}' is ignored").format(
                    name=node.name))
                continue
            try:
                expression = parse_expression(source)
            except ExpressionError as problem:
                failed = True
                self.error(SURVEY, row.number, _(
                    "the {column} of '{name}' cannot be represented: {message} (at character "
                    "{position} of \"{source}\"); FieldScreen supports the expressions listed "
                    "in docs/form-format.md").format(
                    column=column, name=node.name, message=problem.message,
                    position=problem.position + 1, source=_shorten(source, 80)))
                continue
            node.entry[column] = source
            node.references.append((column, expression.references))
            if column == "constraint":
                message = self._localized(sheet, row, "constraint_message")
                if message:
                    node.entry["constraint_message"] = message
        if item_type is ItemType.CALCULATE and "calculation" not in node.entry and not failed:
            self.error(SURVEY, row.number, _("calculate '{name}' has no calculation").format(
                name=node.name))
        if "constraint" not in node.entry and self._localized(sheet, row, "constraint_message"):
            self.warn(SURVEY, row.number, _(
                "constraint_message without a constraint is ignored"))

    def _check_references(self, items: list[_Node], rules: dict[str, Any]) -> None:
        checks = [(SURVEY, node.row, node.name, column, names)
                  for top in items for node in top.walk() for column, names in node.references]
        if "lowered_when" in rules:
            names = parse_expression(rules["lowered_when"]).references
            checks.append((RULES, self.rule_rows.get("lowered_when", 0), "fs_rules",
                           "lowered_when", names))
        for kind, row, owner, column, names in checks:
            for name in sorted(names & set(self.dropped)):
                where, why = self.dropped[name]
                self.error(kind, row, _(
                    "the {column} of '{owner}' refers to ${{{name}}}, which is left out "
                    "(row {row}: {why}); remove the reference or the form cannot be "
                    "represented").format(column=column, owner=owner, name=name, row=where,
                                          why=why))

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

    # -- YAML out ----------------------------------------------------------------------

    def _yaml_text(self, data: dict[str, Any], notes: list[str]) -> str:
        # Not translated: the file's text must not depend on the UI language.
        header = [f"Converted from {self.path.name} by `fieldscreen forms import-xlsform`."]
        if notes:
            header.extend(["", *notes])
        comment = "".join(f"# {line}".rstrip() + "\n" for line in header)
        body = yaml.dump(data, Dumper=_FormDumper, sort_keys=False, allow_unicode=True,
                         width=96, default_flow_style=False)
        text = f"{comment}\n{body}"
        if len(text.encode("utf-8")) > MAX_SOURCE_BYTES:
            raise self.refuse(SURVEY, 0, _(
                "the converted form would be larger than {limit} MiB, the limit for form "
                "files; shorten or split it").format(limit=MAX_SOURCE_BYTES // (1024 * 1024)))
        return text

    def _validate(self, text: str, items: list[_Node]) -> None:
        """Run the form loader and report its problems at the sheet rows they came from."""
        shown = "<xlsform>"
        try:
            load_form_text(text, shown)
        except SourceProblems as problems:
            origins = self._origins(parse_yaml(text, shown), items)
            lines = [line for line, _kind, _row in origins]
            for problem in problems.problems:
                index = bisect.bisect_right(lines, problem.line) - 1
                _line, kind, row = origins[index] if index >= 0 else (0, SETTINGS, 0)
                self.error(kind, row, problem.message)
            self._raise_errors()

    def _origins(self, data: LocatedMap, items: list[_Node]) -> list[tuple[int, str, int]]:
        """(YAML line, sheet, row) for every line that starts something, sorted by line."""
        found: list[tuple[int, str, int]] = [(0, SETTINGS, self.settings_row)]

        def mark(located: Any, kind: str, row: int) -> None:
            if isinstance(located, LocatedMap):
                found.append((located.line, kind, row))
                found.extend((line, kind, row) for line in located.key_lines.values())

        mark(data, SETTINGS, self.settings_row)
        found.append((data.line_of("items"), SURVEY, 0))
        lists = data.get("choice_lists")
        if isinstance(lists, LocatedMap):
            for list_name, entries in lists.items():
                rows = self.choice_rows.get(list_name, [0])
                found.append((lists.line_of(list_name), CHOICES, rows[0]))
                for line, row in zip(entries.item_lines, rows, strict=False):
                    found.append((line, CHOICES, row))
        found.append((data.line_of("choice_lists"), CHOICES, 0))
        found.append((data.line_of("rules"), RULES, 0))
        rules = data.get("rules")
        if isinstance(rules, LocatedMap):
            for key, value in rules.items():
                if isinstance(value, LocatedMap):
                    rows = [self.rule_rows.get(f"{key}.{sub}", 0) for sub in value]
                    found.append((rules.line_of(key), RULES, min(rows, default=0)))
                    found.extend((value.line_of(sub), RULES, row)
                                 for sub, row in zip(value, rows, strict=True))
                else:
                    found.append((rules.line_of(key), RULES, self.rule_rows.get(key, 0)))
        nodes = [node for top in items for node in top.walk()]
        located_items: list[LocatedMap] = []

        def collect(entries: Any) -> None:
            if isinstance(entries, LocatedList):
                for entry in entries:
                    if isinstance(entry, LocatedMap):
                        located_items.append(entry)
                        collect(entry.get("items"))

        collect(data.get("items"))
        for located, node in zip(located_items, nodes, strict=False):
            mark(located, SURVEY, node.row)
        found.sort(key=lambda origin: origin[0])
        return found


@dataclass(frozen=True, slots=True)
class _Type:
    kind: str  # "item", "group", "repeat", "end", "unsupported", "unknown"
    item_type: ItemType | None = None
    list_name: str | None = None
    or_other: bool = False
    reason: str = ""
    container: str = ""  # "begin" or "end" for groups and repeats
    structure: str = ""  # "group" or "repeat"


def _parse_type(text: str) -> _Type:
    lowered = text.lower()
    words = lowered.split()
    if lowered in _CONTAINERS:
        container, structure = _CONTAINERS[lowered]
        if container == "end":
            return _Type("end", container=container, structure=structure)
        if structure == "group":
            return _Type("group", ItemType.GROUP, container=container, structure=structure)
        return _Type("repeat", container=container, structure=structure)
    if lowered in _SIMPLE_TYPES:
        return _Type("item", _SIMPLE_TYPES[lowered])
    if words and words[0] in _UNSUPPORTED_TYPES:
        return _Type("unsupported", reason=_UNSUPPORTED_TYPES[words[0]])
    for prefix, item_type in _SELECT_PREFIXES:
        if tuple(words[: len(prefix)]) != prefix:
            continue
        original = text.split()[len(prefix):]
        rest = tuple(words[len(prefix):])
        if not original:
            return _Type("unknown", reason=N_("a select needs the name of its choice list"))
        if original[0].startswith("${"):
            return _Type("unsupported", reason=N_("choices taken from other answers are not "
                                                  "supported"))
        if len(rest) == 1:
            return _Type("item", item_type, list_name=original[0])
        if rest[1:] in _OR_OTHER:
            return _Type("item", item_type, list_name=original[0], or_other=True)
        return _Type("unknown")
    return _Type("unknown")


# ---------------------------------------------------------------------------------------
# Reading cells


class _WorkbookReader:
    """Reads the sheets the importer needs, cell values only, within the limits."""

    def __init__(self, importer: _Importer) -> None:
        self.importer = importer
        self.path = importer.path
        self.data = b""

    def read(self) -> None:
        self._check_container()
        formulas: dict[str, set[tuple[int, int]]] = {}
        raw: dict[str, list[tuple[int, dict[int, tuple[Any, str]]]]] = {}
        book = self._open(data_only=False)
        try:
            for title in book.sheetnames:
                kind = title.strip().lower()
                if kind not in _SHEET_ORDER or kind in raw:
                    self._unread_sheet(title, kind)
                    continue
                self.importer.titles[kind] = title
                raw[kind] = self._scan(book[title], kind)
        except _Refused:
            raise
        except Exception as error:  # openpyxl raises many kinds on a damaged workbook
            raise self._unreadable(error) from None
        finally:
            book.close()
        for kind, rows in raw.items():
            formulas[kind] = {(number, index) for number, cells in rows
                              for index, (_value, data_type) in cells.items()
                              if data_type == "f"}
        cached = self._cached_values({kind: cells for kind, cells in formulas.items() if cells})
        for kind, rows in raw.items():
            sheet = _Sheet(kind, self.importer.titles[kind])
            for number, cells in rows:
                values = {}
                for index, (value, data_type) in cells.items():
                    value = self._value(kind, number, index, value, data_type,
                                        cached.get((kind, number, index)))
                    if value is not None:
                        values[index] = value
                if values:
                    sheet.rows.append(_Row(number, values))
            self.importer.sheets[kind] = sheet

    def _check_container(self) -> None:
        shown = self.importer.shown
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise SourceProblems([SourceProblem(shown, 0, _("no such file; check the path"))]
                                 ) from None
        except OSError as error:
            raise SourceProblems([SourceProblem(shown, 0, _(
                "cannot read the file: {reason}").format(reason=error.strerror or error))]
            ) from None
        if not self.path.is_file():
            raise SourceProblems([SourceProblem(shown, 0, _(
                "this is not a file; give the path of an .xlsx workbook"))])
        if size > MAX_WORKBOOK_BYTES:
            raise SourceProblems([SourceProblem(shown, 0, _(
                "the workbook is larger than {limit} MiB; remove pictures or unused sheets"
            ).format(limit=MAX_WORKBOOK_BYTES // (1024 * 1024)))])
        try:
            # Read once, into memory (the size is checked above): openpyxl leaves its file
            # open when a damaged workbook makes it fail half-way.
            self.data = read_regular_file(self.path)
        except OSError as error:
            raise SourceProblems([SourceProblem(shown, 0, _(
                "cannot read the file: {reason}").format(reason=error.strerror or error))]
            ) from None
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
                members = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise SourceProblems([SourceProblem(shown, 0, _(
                "this is not an .xlsx workbook; save it in Excel or LibreOffice as 'Excel "
                "Workbook (.xlsx)' (old .xls files and CSV are not read)"))]) from None
        unpacked = sum(member.file_size for member in members)
        if len(members) > MAX_ZIP_MEMBERS or unpacked > MAX_UNPACKED_BYTES:
            raise SourceProblems([SourceProblem(shown, 0, _(
                "the workbook unpacks to more than {limit} MiB; it is not a form FieldScreen "
                "can read").format(limit=MAX_UNPACKED_BYTES // (1024 * 1024)))])

    def _open(self, *, data_only: bool) -> Any:
        try:
            # openpyxl warns about Excel features it drops (data validation, styles); those
            # are no concern of a form, and the test suite turns warnings into errors.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return openpyxl.load_workbook(io.BytesIO(self.data), read_only=True,
                                              data_only=data_only, keep_links=False)
        except Exception as error:  # openpyxl raises many kinds on a damaged workbook
            raise self._unreadable(error) from None

    def _unreadable(self, error: Exception) -> SourceProblems:
        return SourceProblems([SourceProblem(self.importer.shown, 0, _(
            "the workbook cannot be read ({reason}); open it in Excel or LibreOffice and save "
            "it again as .xlsx").format(reason=_shorten(str(error) or type(error).__name__)))])

    def _unread_sheet(self, title: str, kind: str) -> None:
        problem = SourceProblem(f"{self.importer.shown}#{title}", 0, _(
            "external choices are not supported; the sheet is not read")
            if kind == "external_choices" else _(
            "FieldScreen does not read a sheet called '{title}'; it is ignored").format(
            title=title))
        self.importer.warnings.append(problem)

    def _scan(self, worksheet: Any, kind: str) -> list[tuple[int, dict[int, tuple[Any, str]]]]:
        limit = _ROW_LIMITS.get(kind, MAX_OTHER_ROWS)
        rows: list[tuple[int, dict[int, tuple[Any, str]]]] = []
        # The stored dimensions may claim a million rows or columns; without them each row
        # is as wide as its last cell and the gaps between rows are empty tuples.
        worksheet.reset_dimensions()
        for number, cells in enumerate(worksheet.iter_rows(), start=1):
            if number > MAX_SCANNED_ROWS:
                raise self.importer.refuse(kind, number, _(
                    "the sheet goes on past row {limit}; FieldScreen reads at most {rows} rows "
                    "(delete the empty rows at the end of the sheet)").format(
                    limit=MAX_SCANNED_ROWS, rows=limit))
            found = {index: (cell.value, cell.data_type)
                     for index, cell in enumerate(cells, start=1)
                     if cell.value is not None and not (isinstance(cell.value, str)
                                                        and not cell.value.strip())}
            if not found:
                continue
            if max(found) > MAX_COLUMNS:
                raise self.importer.refuse(kind, number, _(
                    "this row goes past column {letter}; FieldScreen reads at most {limit} "
                    "columns").format(letter=get_column_letter(MAX_COLUMNS), limit=MAX_COLUMNS))
            rows.append((number, found))
            if len(rows) > limit + 1:  # the column names do not count
                raise self.importer.refuse(kind, number, _(
                    "the {sheet} sheet has more than {limit} rows; FieldScreen refuses forms "
                    "this large").format(sheet=worksheet.title, limit=limit))
        return rows

    def _cached_values(self, wanted: dict[str, set[tuple[int, int]]]
                       ) -> dict[tuple[str, int, int], Any]:
        found: dict[tuple[str, int, int], Any] = {}
        if not wanted:
            return found
        book = self._open(data_only=True)
        try:
            for kind, positions in wanted.items():
                last = max(number for number, _index in positions)
                worksheet = book[self.importer.titles[kind]]
                worksheet.reset_dimensions()
                for number, cells in enumerate(worksheet.iter_rows(
                        max_row=last, max_col=MAX_COLUMNS), start=1):
                    for index, cell in enumerate(cells, start=1):
                        if (number, index) in positions:
                            found[(kind, number, index)] = cell.value
        except Exception as error:  # openpyxl raises many kinds on a damaged workbook
            raise self._unreadable(error) from None
        finally:
            book.close()
        return found

    def _value(self, kind: str, number: int, index: int, value: Any, data_type: str,
               cached: Any) -> Any:
        reference = f"{get_column_letter(index)}{number}"
        if data_type == "e":
            self.importer.error(kind, number, _(
                "cell {cell} holds the Excel error {value}; correct it").format(
                cell=reference, value=value))
            return None
        if data_type == "f":
            if cached is None or cached == "":
                self.importer.error(kind, number, _(
                    "cell {cell} holds a formula with no saved result; type the value instead "
                    "(or open the workbook in Excel or LibreOffice and save it)").format(
                    cell=reference))
                return None
            self.importer.warn(kind, number, _(
                "cell {cell} holds a formula; its saved result '{value}' is used").format(
                cell=reference, value=_shorten(_as_text(cached))))
            value = cached
        if isinstance(value, float) and not math.isfinite(value):
            self.importer.error(kind, number, _("cell {cell} is not a finite number").format(
                cell=reference))
            return None
        if isinstance(value, str):
            if len(value) > MAX_CELL_CHARACTERS:
                self.importer.error(kind, number, _(
                    "cell {cell} holds more than {limit} characters").format(
                    cell=reference, limit=MAX_CELL_CHARACTERS))
                return None
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        return value


# ---------------------------------------------------------------------------------------
# Export


def export_xlsform(form: Form, source_text: str | None, path: Path) -> None:
    """Write `form` as an XLSForm workbook that `import_xlsform` reads back.

    Args:
        form: The loaded form.
        source_text: The form file's text, when known; its opening comment block is kept
            on an fs_notes sheet so that it survives a round trip.
        path: The .xlsx file to write; it is replaced in one step.

    Raises:
        UserError: The workbook cannot be written, or a text holds a character that a
            workbook cannot store.
    """
    workbook = openpyxl.Workbook()
    survey = workbook.active
    survey.title = SURVEY
    names = {code: _language_name(code) for code in form.languages}

    def columns(base: str) -> list[str]:
        return [f"{base}::{names[code]} ({code})" for code in form.languages]

    has_hint = any(item.hint for item in form.items)
    has_message = any(item.constraint_message for item in form.items)
    header = ["type", "name", *columns("label"), *(columns("hint") if has_hint else []),
              "required", "relevant", "constraint",
              *(columns("constraint_message") if has_message else []), "calculation",
              "fs_audience", "fs_role", "fs_level", "fs_kind", "fs_weight", "fs_red_flag"]
    rows: list[dict[str, Any]] = []
    open_groups: list[str] = []
    for item in form.items:
        while open_groups and open_groups[-1] != item.parent:
            open_groups.pop()
            rows.append({"type": "end_group"})
        rows.append(_survey_row(item, names))
        if item.type is ItemType.GROUP:
            open_groups.append(item.name)
    rows.extend({"type": "end_group"} for _group in open_groups)
    _fill(survey, header, rows)

    choices = workbook.create_sheet(CHOICES)
    header = ["list_name", "name", *columns("label"), "fs_image"]
    rows = []
    for choice_list in form.choice_lists.values():
        for choice in choice_list.choices:
            row: dict[str, Any] = {"list_name": choice_list.name, "name": choice.name,
                                   "fs_image": choice.image}
            row.update(_localized_cells("label", choice.label, names))
            rows.append(row)
    _fill(choices, header, rows)

    settings = workbook.create_sheet(SETTINGS)
    others = [code for code in form.languages if code != form.default_language]
    default_name = f"{names[form.default_language]} ({form.default_language})"
    # pyxform takes only one form_title; other languages go in fs_title columns.
    header = ["form_id", "version", "form_title",
              *[f"fs_title::{names[code]} ({code})" for code in others], "default_language"]
    row = {"form_id": form.id, "version": form.version,
           "form_title": form.title.by_language.get(form.default_language),
           "default_language": default_name}
    row.update({f"fs_title::{names[code]} ({code})": form.title.by_language.get(code)
                for code in others})
    _fill(settings, header, [row])

    rules = workbook.create_sheet(RULES)
    _fill(rules, ["key", "value", "note"], _rule_rows(form))

    notes = _leading_comments(source_text)
    if notes:
        _fill(workbook.create_sheet(NOTES), ["note"], [{"note": line} for line in notes])
    _save(workbook, Path(path))


def _survey_row(item: Item, names: dict[str, str]) -> dict[str, Any]:
    item_type = "begin_group" if item.type is ItemType.GROUP else item.type.value
    if item.choice_list is not None:
        item_type = f"{item_type} {item.choice_list.name}"
    row: dict[str, Any] = {
        "type": item_type, "name": item.name,
        "required": "yes" if item.required else None,
        "relevant": item.relevant.source if item.relevant else None,
        "constraint": item.constraint.source if item.constraint else None,
        "calculation": item.calculation.source if item.calculation else None,
        "fs_audience": item.audience.value if item.audience else None,
        "fs_role": item.role.value if item.role else None,
    }
    if item.indicator is not None:
        row.update({"fs_level": item.indicator.level.value,
                    "fs_kind": item.indicator.kind.value,
                    "fs_weight": _plain_number(item.indicator.weight),
                    "fs_red_flag": "yes" if item.indicator.red_flag else None})
    row.update(_localized_cells("label", item.label, names))
    row.update(_localized_cells("hint", item.hint, names))
    row.update(_localized_cells("constraint_message", item.constraint_message, names))
    return row


def _rule_rows(form: Form) -> list[dict[str, Any]]:
    rules = form.rules
    values: list[tuple[str, Any]] = [
        ("version", rules.version),
        ("thresholds.refer", rules.thresholds.refer),
        ("thresholds.monitor", rules.thresholds.monitor),
        ("lowered_thresholds.refer", rules.lowered_thresholds.refer),
        ("lowered_thresholds.monitor", rules.lowered_thresholds.monitor),
    ]
    if rules.lowered_when is not None:
        values.append(("lowered_when", rules.lowered_when.source))
    values.extend([
        ("elevated_level_score", rules.elevated_level_score),
        ("elevated_levels_for_referral", rules.elevated_levels_for_referral),
        ("resilience_cap", rules.resilience_cap),
        ("gaps_for_follow_up", rules.gaps_for_follow_up),
    ])
    # Only scores that differ from the documented defaults, as in a hand-written form.
    values.extend((f"answer_scores.{answer}", _GAP if score is None else score)
                  for answer, score in rules.answer_scores.items()
                  if DEFAULT_ANSWER_SCORES.get(answer, -1) != score)
    return [{"key": key, "value": _plain_number(value) if isinstance(value, float) else value,
             "note": _(_RULE_NOTES[key.partition(".")[0] if key.startswith("answer_scores")
                                   else key])}
            for key, value in values]


def _localized_cells(base: str, text: LocalizedText, names: dict[str, str]) -> dict[str, str]:
    return {f"{base}::{names[code]} ({code})": value
            for code, value in text.by_language.items() if code in names}


def _fill(sheet: Any, header: list[str], rows: list[dict[str, Any]]) -> None:
    """Write the column names in bold and the rows under them; `rows` map names to values."""
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for number, row in enumerate(rows, start=2):
        for index, key in enumerate(header, start=1):
            value = row.get(key)
            if value is None or value == "":
                continue
            cell = sheet.cell(row=number, column=index)
            if isinstance(value, str):
                if ILLEGAL_CHARACTERS_RE.search(value):
                    raise UserError(_(
                        "'{text}' holds a control character that a workbook cannot store"
                    ).format(text=_shorten(ILLEGAL_CHARACTERS_RE.sub("?", value))),
                        hint=_("Remove the character from the form file and export again."))
                cell.value = value
                # Text that starts with '=' is text, not a formula.
                cell.data_type = "s"
            else:
                cell.value = value
    sheet.freeze_panes = "A2"
    for index, key in enumerate(header, start=1):
        wide = key.split("::")[0] in ("label", "hint", "constraint_message", "note")
        sheet.column_dimensions[get_column_letter(index)].width = 60 if wide else 18


def _save(workbook: Any, path: Path) -> None:
    # Written under a temporary name and moved into place, so a failure never leaves half
    # a workbook where the author expects theirs.
    temporary: str | None = None
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                             dir=path.parent)
        os.close(handle)
        workbook.save(temporary)
        os.replace(temporary, path)
    except OSError as error:
        raise UserError(_("cannot write {path}: {reason}").format(
            path=path, reason=error.strerror or error)) from None
    finally:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)


def _leading_comments(source_text: str | None) -> list[str]:
    """The comment block that opens a form file, without the '#' marks."""
    lines: list[str] = []
    for line in (source_text or "").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break
        if stripped.startswith("#"):
            text = stripped[1:]
            lines.append(text[1:] if text.startswith(" ") else text)
        else:
            lines.append("")
    if lines and lines[0].startswith("Converted from "):
        # Our own import line: a new one is written on the next import.
        lines = lines[2:] if len(lines) > 1 and not lines[1] else lines[1:]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


# ---------------------------------------------------------------------------------------
# Small helpers


# libyaml's emitter when present: the pure-Python one takes seconds on a large form.
_BaseDumper: Any = yaml.CSafeDumper if yaml.__with_libyaml__ else yaml.SafeDumper


class _FormDumper(_BaseDumper):
    """Block style, literal blocks for multi-line text, never anchors or aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: Any, data: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data,
                                   style="|" if "\n" in data else None)


_FormDumper.add_representer(str, _represent_text)


def _as_text(value: Any) -> str:
    """A cell value as the text a person sees in it."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(
            value) < 2**53:
        return str(int(value))
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return "" if value is None else str(value)


def _number_or_text(value: Any) -> Any:
    """A number cell (or numeric text) as int or float; anything else as text."""
    if isinstance(value, bool):
        return _as_text(value)
    if isinstance(value, int | float):
        return _plain_number(float(value))
    text = _as_text(value)
    try:
        number = float(text)
    except ValueError:
        return text
    return _plain_number(number) if math.isfinite(number) else text


def _plain_number(number: float) -> int | float:
    return int(number) if number == int(number) and abs(number) < 2**53 else number


def _flag(value: Any) -> bool | str:
    """yes/true/TRUE/1 and no/false/0 as a bool; anything else as its text."""
    if isinstance(value, bool):
        return value
    text = _as_text(value)
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    return text


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(problems: list[SourceProblem]) -> list[SourceProblem]:
    if len(problems) <= MAX_REPORTED:
        return problems
    last = problems[MAX_REPORTED - 1]
    return [*problems[:MAX_REPORTED], SourceProblem(last.path, last.line, _(
        "... and {count} more").format(count=len(problems) - MAX_REPORTED))]


def _language_name(code: str) -> str:
    """The English name of a language for column headers, e.g. 'French' for 'fr'."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name("en")
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return name or code


_NAMES: dict[str, str] = {}


def _english_language_names() -> dict[str, str]:
    """Lower-case English language names to codes ('french' -> 'fr'), built once."""
    if not _NAMES:
        for code, name in Locale("en").languages.items():
            _NAMES.setdefault(name.lower(), code)
    return _NAMES
