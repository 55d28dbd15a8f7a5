"""`export_xlsform`: a form (and its source's comments) to an XLSForm workbook."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from fieldscreen.errors import UserError
from fieldscreen.forms.loader import DEFAULT_ANSWER_SCORES
from fieldscreen.forms.schema import ChoiceList, Form, Item, ItemType, LocalizedText
from fieldscreen.forms.xlsform.cells import _language_name, _plain_number, _shorten
from fieldscreen.forms.xlsform.media import media_cells, media_headers
from fieldscreen.forms.xlsform.tables import (
    _GAP,
    _RULE_NOTES,
    CHOICES,
    EXTERNAL_CHOICES,
    NOTES,
    RULES,
    SETTINGS,
    SURVEY,
)
from fieldscreen.i18n import _


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
              *(["choice_filter"] if any(item.choice_filter for item in form.items) else []),
              *(["readonly"] if any(item.read_only for item in form.items) else []),
              *(["default"] if any(item.default is not None or item.xlsform_type == "hidden"
                                   for item in form.items) else []),
              *media_headers([item.media for item in form.items], form, names),
              "fs_audience", "fs_role", "fs_level", "fs_kind", "fs_weight", "fs_red_flag",
              *(["fs_pictogram"] if any(item.pictogram for item in form.items) else [])]
    rows: list[dict[str, Any]] = []
    open_groups: list[str] = []
    for item in form.items:
        while open_groups and open_groups[-1] != item.parent:
            open_groups.pop()
            rows.append({"type": "end_group"})
        rows.append({**_survey_row(item, names), **media_cells(item.media, form, names)})
        if item.type is ItemType.GROUP:
            open_groups.append(item.name)
    rows.extend({"type": "end_group"} for _group in open_groups)
    _fill(survey, header, rows)

    # A list only select_one_external questions use goes back on the external_choices
    # sheet, where pyxform (and ODK Collect, through itemsets.csv) reads it.
    external = {item.choice_list.name for item in form.items
                if item.choice_list is not None and item.xlsform_type is not None}
    internal = {item.choice_list.name for item in form.items
                if item.choice_list is not None and item.xlsform_type is None}
    lists = list(form.choice_lists.values())
    _choices_sheet(workbook.create_sheet(CHOICES), form, names, columns,
                   [c for c in lists if c.name not in external or c.name in internal])
    if external:
        _choices_sheet(workbook.create_sheet(EXTERNAL_CHOICES), form, names, columns,
                       [c for c in lists if c.name in external])

    settings = workbook.create_sheet(SETTINGS)
    others = [code for code in form.languages if code != form.default_language]
    default_name = f"{names[form.default_language]} ({form.default_language})"
    # pyxform takes only one form_title; other languages go in fs_title columns.
    # Choices sharing a name (a cascade's) need pyxform's allow_choice_duplicates.
    shared = any(choice_list.has_shared_names for choice_list in form.choice_lists.values())
    header = ["form_id", "version", "form_title",
              *[f"fs_title::{names[code]} ({code})" for code in others], "default_language",
              *(["allow_choice_duplicates"] if shared else [])]
    row = {"form_id": form.id, "version": form.version,
           "form_title": form.title.by_language.get(form.default_language),
           "default_language": default_name,
           "allow_choice_duplicates": "yes" if shared else None}
    row.update({f"fs_title::{names[code]} ({code})": form.title.by_language.get(code)
                for code in others})
    _fill(settings, header, [row])

    rules = workbook.create_sheet(RULES)
    _fill(rules, ["key", "value", "note"], _rule_rows(form))

    notes = _leading_comments(source_text)
    if notes:
        _fill(workbook.create_sheet(NOTES), ["note"], [{"note": line} for line in notes])
    _save(workbook, Path(path))


def _choices_sheet(sheet: Any, form: Form, names: dict[str, str], columns: Any,
                   lists: list[ChoiceList]) -> None:
    # The extra columns choice filters test, in the order they first appear.
    extra = list(dict.fromkeys(column for choice_list in lists
                               for choice in choice_list.choices for column in choice.columns))
    header = ["list_name", "name", *columns("label"), "fs_image", *extra,
              *media_headers([choice.media for choice_list in lists
                              for choice in choice_list.choices], form, names)]
    rows = []
    for choice_list in lists:
        for choice in choice_list.choices:
            row: dict[str, Any] = {"list_name": choice_list.name, "name": choice.name,
                                   "fs_image": choice.image, **choice.columns,
                                   **media_cells(choice.media, form, names)}
            row.update(_localized_cells("label", choice.label, names))
            rows.append(row)
    _fill(sheet, header, rows)


def _survey_row(item: Item, names: dict[str, str]) -> dict[str, Any]:
    item_type = "begin_group" if item.type is ItemType.GROUP else (
        item.xlsform_type or item.type.value)
    if item.choice_list is not None:
        item_type = f"{item_type} {item.choice_list.name}"
    row: dict[str, Any] = {
        "type": item_type, "name": item.name,
        "required": "yes" if item.required else (
            item.required_when.source if item.required_when is not None else None),
        "relevant": item.relevant.source if item.relevant else None,
        "constraint": item.constraint.source if item.constraint else None,
        "calculation": item.calculation.source if item.calculation else None,
        "choice_filter": item.choice_filter.source if item.choice_filter else None,
        "default": _default_cell(item),
        **(_hidden_cells(item) if item.xlsform_type == "hidden" else {}),
        "fs_audience": item.audience.value if item.audience else None,
        "fs_role": item.role.value if item.role else None,
        "fs_pictogram": item.pictogram,
        "readonly": "yes" if item.read_only else None,
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


def _hidden_cells(item: Item) -> dict[str, Any]:
    # A `hidden` was imported as a calculate whose calculation is its default, quoted
    # (xlsform/survey.py): written back as that default, with no calculation.
    source = item.calculation.source.strip() if item.calculation is not None else "''"
    return {"calculation": None, "default": source[1:-1] or None}


def _default_cell(item: Item) -> Any:
    # A date default is written as a date cell, as authors type one in Excel (pyxform reads
    # a cell the same way whichever of the two the workbook it came from had).
    if item.type is ItemType.DATE and isinstance(item.default, str):
        return dt.date.fromisoformat(item.default)
    return item.default


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


