"""XLSForm import and export: round trips, every mapped feature, every refusal, hostile files."""

from __future__ import annotations

import datetime
import datetime as dt
import re
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError

from fieldscreen.errors import SourceProblem, SourceProblems, UserError
from fieldscreen.forms import xlsform
from fieldscreen.forms.loader import load_form, load_form_text
from fieldscreen.forms.schema import Audience, Form, ItemType, LocalizedText
from fieldscreen.forms.xlsform import export_xlsform, import_xlsform
from tests.conftest import DATA, ROOT, SHIPPED_FORM

MINI = DATA / "forms" / "mini.yaml"

# A complete fs_rules sheet, so that feature tests see no "default rules" warnings.
RULES = [
    ["key", "value"],
    ["version", "t-r1"],
    ["thresholds.refer", 8],
    ["thresholds.monitor", 4],
    ["lowered_thresholds.refer", 5],
    ["lowered_thresholds.monitor", 2],
    ["elevated_level_score", 2],
    ["elevated_levels_for_referral", 3],
    ["resilience_cap", 0.5],
    ["gaps_for_follow_up", 4],
]
SETTINGS = [["form_id", "version", "form_title", "default_language"],
            ["t", "1", "Test", "English (en)"]]
YES_NO = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]]

_KEEP = object()


def write_book(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """Write `sheets` (name -> rows, the first row being the column names) to `path`."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def book(tmp_path: Path, survey: list[list[Any]], *, choices: Any = _KEEP,
         settings_rows: Any = _KEEP, rules: Any = _KEEP, name: str = "form.xlsx",
         **extra: list[list[Any]]) -> Path:
    """A workbook with a survey sheet and, unless told otherwise, the usual other sheets."""
    sheets = {"survey": survey}
    for sheet, rows, default in (("choices", choices, YES_NO), ("settings", settings_rows,
                                                                SETTINGS),
                                 ("fs_rules", rules, RULES)):
        rows = default if rows is _KEEP else rows
        if rows is not None:
            sheets[sheet] = rows
    sheets.update(extra)
    return write_book(tmp_path / name, sheets)


def imported(path: Path) -> tuple[Form, list[SourceProblem]]:
    result = import_xlsform(path)
    return load_form_text(result.yaml_text, "imported.yaml"), result.warnings


def refused(path: Path) -> list[SourceProblem]:
    with pytest.raises(SourceProblems) as raised:
        import_xlsform(path)
    return raised.value.problems


def located(problems: list[SourceProblem], path: Path, sheet: str) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in problems if p.path == f"{path}#{sheet}"]


def texts(text: LocalizedText) -> dict[str, str]:
    return dict(text.by_language)


def describe(form: Form) -> dict[str, Any]:
    """Everything a form means, as plain data, for comparing two forms."""
    rules = form.rules
    return {
        "id": form.id, "version": form.version, "title": texts(form.title),
        "default_language": form.default_language, "languages": form.languages,
        "choice_lists": {name: [(c.name, texts(c.label), c.image) for c in lst.choices]
                         for name, lst in form.choice_lists.items()},
        "items": [{
            "name": i.name, "type": i.type, "parent": i.parent, "children": i.children,
            "label": texts(i.label), "hint": texts(i.hint),
            "constraint_message": texts(i.constraint_message), "required": i.required,
            "required_when": i.required_when and i.required_when.source,
            "choice_filter": i.choice_filter and i.choice_filter.source,
            "default": i.default,
            "relevant": i.relevant and i.relevant.source,
            "constraint": i.constraint and i.constraint.source,
            "calculation": i.calculation and i.calculation.source,
            "audience": i.audience, "role": i.role, "indicator": i.indicator,
            "choices": i.choice_list and i.choice_list.name,
            "pictogram": i.pictogram, "xlsform_type": i.xlsform_type,
        } for i in form.items],
        "rules": (rules.version, rules.thresholds, rules.lowered_thresholds,
                  rules.lowered_when and rules.lowered_when.source, rules.elevated_level_score,
                  rules.elevated_levels_for_referral, rules.resilience_cap,
                  rules.gaps_for_follow_up, dict(rules.answer_scores)),
    }


def round_trip(tmp_path: Path, source: Path) -> tuple[Form, Form, xlsform.ImportResult]:
    form = load_form(source)
    target = tmp_path / "exported.xlsx"
    export_xlsform(form, source.read_text(encoding="utf-8"), target)
    result = import_xlsform(target)
    return form, load_form_text(result.yaml_text, "imported.yaml"), result


# -- round trips --------------------------------------------------------------------------


def test_shipped_checklist_round_trips(tmp_path):
    original, again, result = round_trip(tmp_path, SHIPPED_FORM)
    assert result.warnings == []
    assert describe(again) == describe(original)
    # Spot checks that the comparison is not vacuous.
    assert len(again.items) > 80 and len(list(again.indicators())) > 40
    assert again.item("a_papers_kept").indicator.red_flag
    assert again.rules.lowered_when.source == "${age_years} < 12 or ${unaccompanied} = 'yes'"
    assert again.item("a_papers_kept").parent == "level_a_child"


def test_translated_form_round_trips(tmp_path):
    original, again, result = round_trip(tmp_path, MINI)
    assert result.warnings == []
    assert describe(again) == describe(original)
    assert again.languages == ("en", "fr")
    assert again.title.get("fr") == "Mini dépistage"


def test_round_trip_is_stable(tmp_path):
    _original, again, first = round_trip(tmp_path, SHIPPED_FORM)
    second_path = tmp_path / "second.xlsx"
    export_xlsform(again, first.yaml_text, second_path)
    second = import_xlsform(second_path)
    # Only the "Converted from <file>" line differs.
    assert first.yaml_text.replace("exported.xlsx", "second.xlsx") == second.yaml_text


def test_opening_comments_survive_a_round_trip(tmp_path):
    _original, _again, result = round_trip(tmp_path, SHIPPED_FORM)
    assert result.yaml_text.startswith("# Converted from exported.xlsx")
    assert "# All wording is the FieldScreen project's own." in result.yaml_text
    assert "\n#\n# This is a screening for referral" in result.yaml_text


def test_exported_workbook_has_xlsform_columns(tmp_path):
    form = load_form(MINI)
    target = tmp_path / "mini.xlsx"
    export_xlsform(form, None, target)
    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["survey", "choices", "settings", "fs_rules"]
    header = [cell.value for cell in wb["survey"][1]]
    assert header[:4] == ["type", "name", "label::English (en)", "label::French (fr)"]
    assert {"fs_level", "fs_kind", "fs_weight", "fs_red_flag", "fs_audience",
            "fs_role"} <= set(header)
    rows = {row[1]: dict(zip(header, row, strict=True))
            for row in wb["survey"].iter_rows(min_row=2, values_only=True)}
    assert rows["a_cannot_leave"]["type"] == "select_one child_scale"
    assert rows["a_cannot_leave"]["fs_weight"] == 3
    assert rows["a_cannot_leave"]["fs_red_flag"] == "yes"
    assert rows["main"]["type"] == "begin_group"
    assert [row[0] for row in wb["survey"].iter_rows(values_only=True)].count("end_group") == 1
    settings_rows = list(wb["settings"].iter_rows(values_only=True))
    assert dict(zip(*settings_rows, strict=True)) == {
        "form_id": "mini", "version": "1.0", "form_title": "Mini screening",
        "fs_title::French (fr)": "Mini dépistage", "default_language": "English (en)"}
    keys = [row[0] for row in wb["fs_rules"].iter_rows(min_row=2, values_only=True)]
    assert keys[:3] == ["version", "thresholds.refer", "thresholds.monitor"]
    assert "lowered_when" in keys


def test_exported_workbook_converts_with_pyxform(tmp_path):
    xls2xform = pytest.importorskip("pyxform.xls2xform")
    target = tmp_path / "child-screening.xlsx"
    export_xlsform(load_form(SHIPPED_FORM), None, target)
    result = xls2xform.convert(xlsform=str(target))
    assert "<h:title>Child wellbeing and safety check</h:title>" in result.xform


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    text = (ROOT / "tests" / "data" / "forms" / "mini.yaml").read_text(encoding="utf-8")
    text = text.replace("label: {en: Sex}", "label: {en: \"=1+1 is not a formula\"}")
    form = load_form_text(text)
    target = tmp_path / "f.xlsx"
    export_xlsform(form, text, target)
    again, _warnings = imported(target)
    assert again.item("sex").label.get("en") == "=1+1 is not a formula"


def test_export_replaces_the_file_in_one_step(tmp_path):
    target = tmp_path / "form.xlsx"
    target.write_bytes(b"old")
    export_xlsform(load_form(MINI), None, target)
    assert zipfile.is_zipfile(target)
    assert [p.name for p in tmp_path.iterdir()] == ["form.xlsx"]
    with pytest.raises(UserError, match="cannot write"):
        export_xlsform(load_form(MINI), None, tmp_path / "missing" / "form.xlsx")


# -- supported features -------------------------------------------------------------------


def test_groups_nest_and_both_spellings_work(tmp_path):
    path = book(tmp_path, [
        ["type", "name", "label", "relevant"],
        ["begin_group", "outer", "Outer", ""],
        ["text", "a", "A", ""],
        ["begin group", "inner", "Inner", "${a} != ''"],
        ["integer", "b", "B", ""],
        ["end group", "", "", ""],
        ["end_group", "", "", ""],
        ["note", "after", "After", ""],
    ])
    form, warnings = imported(path)
    assert warnings == []
    assert [(i.name, i.type.value, i.parent) for i in form.items] == [
        ("outer", "group", None), ("a", "text", "outer"), ("inner", "group", "outer"),
        ("b", "integer", "inner"), ("after", "note", None)]
    assert form.item("outer").children == ("a", "inner")
    assert form.item("inner").relevant.source == "${a} != ''"


def test_relevant_constraint_message_and_calculation(tmp_path):
    path = book(tmp_path, [
        ["type", "name", "label", "relevant", "constraint", "constraint_message",
         "calculation"],
        ["select_one yn", "ok", "OK?", None, None, None, None],
        ["integer", "age", "Age", "${ok} = 'yes'", ". >= 0 and . <= 17", "0 to 17", None],
        ["calculate", "older", None, None, None, None, "${age} + 1"],
    ])
    form, warnings = imported(path)
    assert warnings == []
    age = form.item("age")
    assert age.relevant.source == "${ok} = 'yes'"
    assert age.constraint.source == ". >= 0 and . <= 17"
    assert age.constraint_message.get("en") == "0 to 17"
    assert form.item("older").calculation.source == "${age} + 1"


def test_pyxform_alias_headers_keep_the_logic(tmp_path):
    # `relevance` and `bind::...` are pyxform's other names: dropping them would show a
    # follow-up question to every child.
    path = book(tmp_path, [
        ["type", "name", "caption", "relevance", "bind::constraint", "bind::required",
         "bind::calculate"],
        ["select_one yn", "ok", "OK?", None, None, None, None],
        ["integer", "age", "Age", "${ok} = 'yes'", ". >= 0", "yes", None],
        ["calculate", "older", None, None, None, None, "${age} + 1"],
    ])
    form, warnings = imported(path)
    assert warnings == []
    age = form.item("age")
    assert form.item("ok").label.get("en") == "OK?"
    assert age.relevant.source == "${ok} = 'yes'"
    assert age.constraint.source == ". >= 0"
    assert age.required
    assert form.item("older").calculation.source == "${age} + 1"


@pytest.mark.parametrize("value, expected", [
    ("yes", True), ("true", True), ("TRUE", True), (1, True), ("1", True), (True, True),
    ("no", False), ("false", False), (0, False), (False, False), (None, False),
])
def test_required_values(tmp_path, value, expected):
    path = book(tmp_path, [["type", "name", "label", "required"], ["text", "q", "Q", value]])
    form, warnings = imported(path)
    assert warnings == []
    assert form.item("q").required is expected


def test_languages_and_hints_feed_the_translations(tmp_path):
    path = book(tmp_path, [
        ["type", "name", "label::English (en)", "label::Français (fr)", "hint::English (en)",
         "hint::Français (fr)"],
        ["select_one yn", "safe", "Do you feel safe?", "Te sens-tu en sécurité ?",
         "Ask gently", "Demande doucement"],
    ], choices=[["list_name", "name", "label::English (en)", "label::Français (fr)"],
                ["yn", "yes", "Yes", "Oui"], ["yn", "no", "No", "Non"]])
    form, warnings = imported(path)
    assert warnings == []
    assert form.languages == ("en", "fr")
    safe = form.item("safe")
    assert safe.label.get("fr") == "Te sens-tu en sécurité ?"
    assert safe.hint.get("fr") == "Demande doucement"
    assert safe.hint.get("en") == "Ask gently"
    assert safe.choice_list.choices[0].label.get("fr") == "Oui"


def test_settings_are_read(tmp_path):
    path = book(tmp_path, [["type", "name", "label::Français (fr)", "label::English (en)"],
                           ["text", "q", "Q fr", "Q en"]],
                settings_rows=[["form_id", "version", "form_title", "fs_title::English (en)",
                                "default_language"],
                               ["my_form", 2024010101, "Formulaire", "Form", "Français (fr)"]])
    form, warnings = imported(path)
    assert warnings == []
    assert (form.id, form.version, form.default_language) == ("my_form", "2024010101", "fr")
    assert form.languages == ("fr", "en")
    assert texts(form.title) == {"fr": "Formulaire", "en": "Form"}


def test_default_language_may_be_a_bare_code_or_a_language_name(tmp_path):
    for value in ("fr", "French", "Français (fr)"):
        path = book(tmp_path, [["type", "name", "label", "label::English (en)"],
                               ["text", "q", "Q fr", "Q en"]],
                    settings_rows=[["form_id", "version", "default_language"],
                                   ["t", "1", value]])
        form, _warnings = imported(path)
        assert form.default_language == "fr" and form.item("q").label.get("fr") == "Q fr"


def test_selects_and_indicator_metadata(tmp_path):
    child_scale = [["child", n, n.title()] for n in ("yes", "not_sure", "no", "rather_not_say")]
    path = book(tmp_path, [
        ["type", "name", "label", "fs_audience", "fs_level", "fs_kind", "fs_weight",
         "fs_red_flag", "fs_role"],
        ["select_one child", "a_locked", "Locked in?", "child", "a", "Risk", "3", "yes", None],
        ["select one child", "b_adult", "Trusted adult?", "Child", "B", "resilience", 2, None,
         None],
        ["select all that apply forms", "forms_seen", "Forms", "worker", None, None, None,
         None, "exploitation_form"],
        ["select_multiple forms", "more", "More", None, None, None, None, None, None],
        ["integer", "age", "Age", None, None, None, None, None, "age"],
    ], choices=[["list_name", "name", "label", "fs_image"], *child_scale,
                ["forms", "labour", "Labour", "labour-icon"], ["forms", 1, "One", None]])
    form, warnings = imported(path)
    assert warnings == []
    locked = form.item("a_locked").indicator
    assert (locked.level.value, locked.kind.value, locked.weight, locked.red_flag) == (
        "A", "risk", 3.0, True)
    assert form.item("b_adult").indicator.weight == 2.0
    assert form.item("forms_seen").type.value == "select_multiple"
    assert form.item("forms_seen").role.value == "exploitation_form"
    assert form.item("age").role.value == "age"
    assert form.choice_lists["forms"].names == ("labour", "1")
    assert form.choice_lists["forms"].choices[0].image == "labour-icon"


def test_rules_sheet_is_read(tmp_path):
    rules = [*RULES, ["lowered_when", "${age} < 12"], ["answer_scores.not_sure", 0.25],
             ["answer_scores.some", "gap"], ["note", "this column is ignored"]]
    rules[0] = ["key", "value", "note"]
    rules[2] = ["thresholds.refer", "9", "typed as text"]
    path = book(tmp_path, [["type", "name", "label"], ["integer", "age", "Age"]],
                rules=rules[:-1])
    form, warnings = imported(path)
    assert warnings == []
    assert form.rules.version == "t-r1"
    assert form.rules.thresholds.refer == 9
    assert form.rules.lowered_when.source == "${age} < 12"
    assert form.rules.answer_scores["not_sure"] == 0.25
    assert form.rules.answer_scores["some"] is None


def test_without_a_rules_sheet_the_documented_defaults_are_used(tmp_path):
    path = book(tmp_path, [["type", "name", "label"], ["text", "q", "Q"]], rules=None)
    form, warnings = imported(path)
    assert [(w.path, w.line) for w in warnings] == [(f"{path}#fs_rules", 0)]
    assert "default referral rules" in warnings[0].message
    assert (form.rules.thresholds.refer, form.rules.thresholds.monitor) == (8, 4)
    assert form.rules.version == "1-default"


def test_missing_rule_rows_are_defaulted_with_a_warning(tmp_path):
    path = book(tmp_path, [["type", "name", "label"], ["text", "q", "Q"]],
                rules=[row for row in RULES if row[0] != "resilience_cap"])
    form, warnings = imported(path)
    assert [(w.line, w.message) for w in warnings] == [
        (1, "there is no 'resilience_cap' row; using 0.5")]
    assert form.rules.resilience_cap == 0.5


def test_missing_settings_are_defaulted_with_warnings(tmp_path):
    path = book(tmp_path, [["type", "name", "label"], ["text", "q", "Q"]],
                settings_rows=None, name="My Form.xlsx")
    form, warnings = imported(path)
    assert (form.id, form.version, form.default_language) == ("my-form", "1", "en")
    assert all(w.path == f"{path}#settings" and w.line == 0 for w in warnings)
    assert len(warnings) == 3  # default language, form_id, version


# -- features FieldScreen cannot carry: refused at the exact row (docs/xlsform.md) -------

OUT_OF_SCOPE = 'docs/xlsform.md, "Out of scope"'

BASE = ["type", "name", "label"]

# (what, survey rows after the header, expected row, words in the message)
UNSUPPORTED = [
    ("repeat", [["text", "q", "Q"], ["begin_repeat", "kids", "Kids"], ["text", "kid", "Kid"],
                ["begin_group", "g", "G"], ["text", "x", "X"], ["end_group", "", ""],
                ["end_repeat", "", ""]], 3, "repeats are not supported"),
    ("loop", [["text", "q", "Q"], ["begin loop over yn", "each", "Each"], ["text", "v", "V"],
              ["end loop", "", ""]], 3, "repeats are not supported"),
    ("geopoint", [["text", "q", "Q"], ["geopoint", "where", "Where?"]], 3, "locations"),
    ("gps alias", [["text", "q", "Q"], ["gps", "where", "Where?"]], 3, "locations"),
    ("get phone number alias", [["text", "q", "Q"], ["get phone number", "p", None]], 3,
     "metadata"),
    ("imei alias", [["text", "q", "Q"], ["imei", "d", None]], 3, "metadata"),
    ("uri:deviceid", [["text", "q", "Q"], ["uri:deviceid", "d", None]], 3, "metadata"),
    ("osm with tags", [["text", "q", "Q"], ["osm yn", "m", "Map"]], 3, "locations"),
    ("background-geopoint", [["text", "q", "Q"], ["background-geopoint", "b", None]], 3,
     "locations"),
    ("geotrace", [["text", "q", "Q"], ["geotrace", "path", "Path"]], 3, "geotrace"),
    ("geoshape", [["text", "q", "Q"], ["geoshape", "area", "Area"]], 3, "geoshape"),
    ("barcode", [["text", "q", "Q"], ["barcode", "code", "Code"]], 3, "barcode"),
    ("image type", [["image", "photo", "Photo"], ["text", "q", "Q"]], 2, "photos"),
    ("audio type", [["text", "q", "Q"], ["audio", "voice", "Voice"]], 3, "recordings"),
    ("file type", [["text", "q", "Q"], ["file", "doc", "Doc"]], 3, "files"),
    ("range", [["text", "q", "Q"], ["range", "r", "R"]], 3, "range"),
    ("rank", [["text", "q", "Q"], ["rank yn", "r", "R"]], 3, "ranking"),
    ("dateTime", [["text", "q", "Q"], ["dateTime", "t", "T"]], 3, "date with a time"),
    ("date time alias", [["text", "q", "Q"], ["date time", "t", "T"]], 3, "date with a time"),
    ("from file", [["text", "q", "Q"], ["select_one_from_file c.csv", "f", "F"]], 3,
     "from a file"),
    ("dynamic choices", [["text", "q", "Q"], ["select_one ${q}", "s", "S"]], 3,
     "other answers"),
]


@pytest.mark.parametrize("what, rows, row, words", UNSUPPORTED,
                         ids=[case[0] for case in UNSUPPORTED])
def test_types_that_cannot_be_carried_refuse_the_form_at_their_row(tmp_path, what, rows, row,
                                                                   words):
    # Leaving a question out would change what is asked or recorded, so nothing is written.
    path = book(tmp_path, [BASE, *rows])
    problems = refused(path)
    assert any(line == row and words in message and OUT_OF_SCOPE in message
               for line, message in located(problems, path, "survey")), problems


@pytest.mark.parametrize("type_text", ["start", "end", "today", "get start time"])
def test_timing_metadata_is_left_out_with_a_warning(tmp_path, type_text):
    # Every FieldScreen record carries its own times (docs/xlsform.md, "Cosmetic").
    path = book(tmp_path, [BASE, [type_text, "when", None], ["text", "q", "Q"]])
    form, warnings = imported(path)
    assert [w.line for w in warnings] == [2] and "metadata" in warnings[0].message
    assert "q" in form and "when" not in form


@pytest.mark.parametrize("type_text, expected", [
    ("select one from yn", "select_one"), ("select all that apply from yn", "select_multiple"),
    ("select multiple from yn", "select_multiple"), ("select1 yn", "select_one"),
    ("add select one prompt using yn", "select_one"), ("q int", "integer"),
    ("add text prompt", "text"), ("q note", "note"), ("Select One   yn", "select_one"),
])
def test_pyxform_type_aliases_are_read_as_what_they_name(tmp_path, type_text, expected):
    path = book(tmp_path, [BASE, [type_text, "q", "Q"]])
    form, _warnings = imported(path)
    assert form.item("q").type.value == expected


def test_phone_number_and_percentage_carry_pyxforms_built_in_check(tmp_path):
    # pyxform's `phone number` is a typed number (not the device's `phonenumber`) with a
    # digits-only constraint and a hint; `percentage` an integer from 0 to 100. A row's own
    # constraint or hint replaces the built-in one, as in pyxform.
    path = book(tmp_path, [[*BASE, "hint", "constraint"],
                           ["phone number", "p", "Phone", None, None],
                           ["phone number", "p2", "Phone", "Mobile", "string-length(.) = 10"],
                           ["percentage", "c", "Share", None, None]])
    form, _warnings = imported(path)
    assert form.item("p").type is ItemType.TEXT
    assert form.item("p").constraint.source == r"regex(., '^\d*$')"
    assert form.item("p").hint.get("en") == "Enter numbers only."
    assert (form.item("p2").constraint.source, form.item("p2").hint.get("en")) == (
        "string-length(.) = 10", "Mobile")
    assert form.item("c").type is ItemType.INTEGER
    assert form.item("c").constraint.source == "0 <= . and . <= 100"


def test_an_unused_list_with_a_choice_without_a_label_is_left_out_with_a_warning(tmp_path):
    choices = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"],
               ["spare", "a", None]]
    path = book(tmp_path, [BASE, ["select_one yn", "s", "S"]], choices=choices)
    form, warnings = imported(path)
    assert set(form.choice_lists) == {"yn"}
    assert [(w.path.endswith("#choices"), w.line) for w in warnings] == [(True, 4)], warnings
    used = book(tmp_path, [BASE, ["select_one spare", "s", "S"]], choices=choices,
                name="used.xlsx")
    assert any("needs a label" in p.message for p in refused(used))


# (column, value, words in the message); the column's value is on row 3.
REFUSED_COLUMNS = [
    ("read_only", "${q} = 'x'", "read-only under a condition"),
    ("trigger", "${q}", "triggered"),
]


@pytest.mark.parametrize("column, value, words", REFUSED_COLUMNS,
                         ids=[case[0] for case in REFUSED_COLUMNS])
def test_columns_that_change_what_is_asked_refuse_the_form(tmp_path, column, value, words):
    path = book(tmp_path, [[*BASE, column], ["text", "q", "Q", None],
                           ["select_one yn", "s", "S", value]])
    problems = refused(path)
    assert any(line == 3 and words in message and OUT_OF_SCOPE in message
               for line, message in located(problems, path, "survey")), problems


# Cosmetic columns (docs/xlsform.md): warned about, the form is still converted.
IGNORED_COLUMNS = [
    ("appearance", "minimal", "appearance"),
    ("parameters", "start=1", "parameters"),
    # media::audio and media::image are read (tests/unit/media); video and big images not.
    ("media::video", "clip.mp4", "videos"),
    ("big-image", "picture.png", "large pictures"),
    ("video::English (en)", "a.mp4", "videos"),
    ("guidance_hint", "More", "guidance"),
    ("required_message", "Please", "required"),
    ("bind::odk:length", "10", "not one FieldScreen reads"),
    ("colour", "red", "not one FieldScreen reads"),
    ("fs_colour", "red", "not one FieldScreen reads"),
]


@pytest.mark.parametrize("column, value, words", IGNORED_COLUMNS,
                         ids=[case[0] for case in IGNORED_COLUMNS])
def test_unsupported_columns_are_warned_at_their_row(tmp_path, column, value, words):
    path = book(tmp_path, [[*BASE, column], ["text", "q", "Q", None],
                           ["select_one yn", "s", "S", value]])
    form, warnings = imported(path)
    assert [(w.path, w.line) for w in warnings] == [(f"{path}#survey", 3)], warnings
    assert words in warnings[0].message
    assert "s" in form


CASCADE = [["list_name", "name", "label", "region"],
           ["regions", "north", "North", None], ["regions", "south", "South", None],
           ["towns", "a", "A", "north"], ["towns", "b", "B", "south"],
           ["towns", "c", "C", 3]]


def test_a_choice_filter_and_the_columns_it_tests_are_carried(tmp_path):
    path = book(tmp_path, [[*BASE, "choice_filter"], ["select_one regions", "r", "R", None],
                           ["select_one towns", "t", "T", "region = ${r} or name = 'c'"]],
                choices=CASCADE)
    form, warnings = imported(path)
    assert form.item("t").choice_filter.source == "region = ${r} or name = 'c'"
    towns = form.choice_lists["towns"].choices
    assert [dict(c.columns) for c in towns] == [{"region": "north"}, {"region": "south"},
                                                 {"region": "3"}]
    assert not any("region" in w.message for w in warnings), warnings
    # Export and import again: the same filter and columns, and pyxform reads the export.
    target = tmp_path / "again.xlsx"
    export_xlsform(form, None, target)
    again, _warnings = imported(target)
    assert again.item("t").choice_filter.source == form.item("t").choice_filter.source
    assert [dict(c.columns) for c in again.choice_lists["towns"].choices] == [
        dict(c.columns) for c in towns]
    xls2xform = pytest.importorskip("pyxform.xls2xform")
    assert "region = " in xls2xform.convert(xlsform=str(target)).xform


def test_a_choice_filter_that_cannot_be_evaluated_refuses_the_form(tmp_path):
    path = book(tmp_path, [[*BASE, "choice_filter"],
                           ["select_one towns", "t", "T", "pulldata('a', 'b', 'c', 'd')"]],
                choices=CASCADE)
    problems = refused(path)
    assert any(line == 2 and "cannot be represented" in message and OUT_OF_SCOPE in message
               for line, message in located(problems, path, "survey")), problems


FORM_MISTAKES = 'docs/xlsform.md, "Form mistakes"'


@pytest.mark.parametrize("column, source, words", [
    ("choice_filter", "label::English != ''", "label in a language"),
    ("choice_filter", "region = north", "put it in quotes (= 'north')"),
    ("choice_filter", "zone = 1", "'zone', which no choice"),
    ("calculation", "because it doesn't work", "quote (') is not closed"),
    ("relevant", "${q} = \u2018yes\u2019", "typographic quotes (\u2018 \u2019)"),
    ("constraint", "${q} = \u201cyes\u201d", "straight quotes"),
], ids=["label column", "unquoted value", "missing column", "prose", "curly single",
        "curly double"])
def test_a_forms_own_mistake_is_refused_as_one_with_the_fix(tmp_path, column, source, words):
    # Mistakes that would not work in ODK either: the message says so and what to fix.
    choices = [*CASCADE, ["towns", "x", "X", "north"]]
    path = book(tmp_path, [[*BASE, column], ["select_one towns", "q", "Q", None],
                           ["select_one towns", "t", "T", source]], choices=choices)
    problems = located(refused(path), path, "survey")
    assert [line for line, _message in problems] == [3], problems
    message = problems[0][1]
    assert "a mistake in the form" in message and FORM_MISTAKES in message, message
    assert OUT_OF_SCOPE not in message and words in message, message


def test_a_cascades_shared_choice_names_are_carried_and_round_trip(tmp_path):
    # pyxform's allow_choice_duplicates, as cascades use it: the same words, told apart by
    # the filter column. Without the setting pyxform refuses the workbook, and so do we.
    choices = [["list_name", "name", "label", "cf"], ["st", "tx", "Texas", None],
               ["st", "wa", "Washington", None], ["co", "king", "King", "wa"],
               ["co", "king", "King", "tx"]]
    survey = [[*BASE, "choice_filter"], ["select_one st", "s", "S", None],
              ["select_one co", "c", "C", "${s} = cf"]]
    settings = [["form_id", "version", "allow_choice_duplicates"], ["f", "1", "yes"]]
    path = book(tmp_path, survey, choices=choices, settings_rows=settings)
    form, warnings = imported(path)
    assert [c.columns["cf"] for c in form.choice_lists["co"].choices] == ["wa", "tx"]
    assert not any("allow_choice_duplicates" in w.message for w in warnings)
    target = tmp_path / "again.xlsx"
    export_xlsform(form, None, target)
    again, _warnings = imported(target)
    assert again.choice_lists["co"] == form.choice_lists["co"]
    plain = book(tmp_path, survey, choices=choices, name="plain.xlsx")
    assert any(line == 5 and "appears twice" in message and OUT_OF_SCOPE not in message
               for line, message in located(refused(plain), plain, "choices"))


def test_duplicate_choices_allowed_by_pyxform_are_out_of_scope(tmp_path):
    choices = [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "yes", "Yes!"]]
    settings = [["form_id", "version", "allow_choice_duplicates"], ["f", "1", "yes"]]
    path = book(tmp_path, [BASE, ["select_one yn", "s", "S"]], choices=choices,
                settings_rows=settings)
    problems = refused(path)
    assert any(line == 3 and "allow_choice_duplicates" in message and OUT_OF_SCOPE in message
               for line, message in located(problems, path, "choices")), problems


def test_a_time_of_day_and_its_default_are_carried_and_round_trip(tmp_path):
    path = book(tmp_path, [[*BASE, "default"], ["time", "t", "Arrived", dt.time(9, 30)],
                           ["time", "u", "Left", "17:05"], ["time", "v", "Other", None]])
    form, _warnings = imported(path)
    assert [form.item(n).type for n in "tuv"] == [ItemType.TIME] * 3
    assert (form.item("t").default, form.item("u").default) == ("09:30:00", "17:05")
    target = tmp_path / "again.xlsx"
    export_xlsform(form, None, target)
    again, _warnings = imported(target)
    assert [(again.item(n).type, again.item(n).default) for n in "tuv"] == [
        (ItemType.TIME, "09:30:00"), (ItemType.TIME, "17:05"), (ItemType.TIME, None)]


def test_a_date_with_a_time_is_refused_for_its_reason(tmp_path):
    path = book(tmp_path, [BASE, ["dateTime", "when", "When"]])
    assert any(line == 2 and "a date with a time is not supported" in message
               and OUT_OF_SCOPE in message
               for line, message in located(refused(path), path, "survey"))


def test_a_default_on_a_worker_question_is_carried_and_round_trips(tmp_path):
    path = book(tmp_path, [[*BASE, "fs_audience", "default"],
                           ["select_one yn", "s", "S", "worker", "yes"],
                           ["integer", "n", "N", "worker", 3],
                           ["date", "d", "D", "worker", dt.datetime(2024, 5, 1)]])
    form, _warnings = imported(path)
    assert (form.item("s").default, form.item("n").default, form.item("d").default) == (
        "yes", 3, "2024-05-01")
    target = tmp_path / "again.xlsx"
    export_xlsform(form, None, target)
    again, _warnings = imported(target)
    assert [again.item(n).default for n in "snd"] == ["yes", 3, "2024-05-01"]


def test_a_default_without_an_audience_makes_the_question_the_workers(tmp_path):
    # In ODK the person holding the device sees the pre-filled answer: the worker. The
    # question is never put to the child with an answer in it, and the author is told.
    path = book(tmp_path, [[*BASE, "default"], ["integer", "x", "X", None],
                           ["select_one yn", "s", "S", "yes"]])
    form, warnings = imported(path)
    assert form.item("s").audience is Audience.WORKER and form.item("s").default == "yes"
    assert form.item("x").audience is None
    assert [(w.line, "worker's question" in w.message) for w in warnings] == [(3, True)]


@pytest.mark.parametrize("row, words", [
    (["select_one yn", "s", "S", "child", "yes"], "never on a question put to the child"),
    (["text", "s", "S", "worker", "${x}"], "dynamic defaults are not supported"),
    (["date", "s", "S", "worker", "today()"], "dynamic defaults are not supported"),
], ids=["child", "reference", "function"])
def test_defaults_that_cannot_be_carried_refuse_the_form(tmp_path, row, words):
    path = book(tmp_path, [[*BASE, "fs_audience", "default"], ["integer", "x", "X", None, None],
                           row])
    problems = refused(path)
    assert any(line == 3 and words in message and OUT_OF_SCOPE in message
               for line, message in located(problems, path, "survey")), problems


def test_conditional_required_is_carried(tmp_path):
    path = book(tmp_path, [[*BASE, "required"], ["integer", "x", "X", None],
                           ["text", "q", "Q", "${x} = 1"]])
    form, _warnings = imported(path)
    assert form.item("q").required_when.source == "${x} = 1"
    assert not form.item("q").required


def test_conditional_required_that_cannot_be_evaluated_refuses_the_form(tmp_path):
    path = book(tmp_path, [[*BASE, "required"], ["integer", "x", "X", None],
                           ["text", "q", "Q", "pulldata('a', 'b', 'c', 'd')"]])
    problems = refused(path)
    assert any(line == 3 and "required of 'q' cannot be represented" in message
               and OUT_OF_SCOPE in message
               for line, message in located(problems, path, "survey")), problems


@pytest.mark.parametrize("rows, row, words", [
    ([["text", "q", "Q", None], ["note", "n", "N", "yes"]], 3, "cannot be required"),
], ids=["on a note"])
def test_required_that_cannot_be_kept_is_warned(tmp_path, rows, row, words):
    path = book(tmp_path, [[*BASE, "required"], ["integer", "x", "X", None], *rows])
    form, warnings = imported(path)
    assert [w.line for w in warnings] == [row + 1] and words in warnings[0].message
    assert not any(item.required for item in form.items)


@pytest.mark.parametrize("rows, words", [
    ([[None, "orphan", "A row without a type", None, None]], "has no type"),
    ([["text", "q2", "Q2", None, "stray"]], "no name in row 1"),
    ([["text", "q2", "Q2", "Too big", None]], "constraint_message without a constraint"),
    ([["note", "n", "N", None, None]], None),
], ids=["no type", "unnamed column", "message without constraint", "control"])
def test_other_row_problems_are_warned_at_their_row(tmp_path, rows, words):
    header = [*BASE, "constraint_message"]
    path = book(tmp_path, [header, ["text", "q", "Q", None], *rows])
    _form, warnings = imported(path)
    assert [(w.line, words in w.message) for w in warnings] == ([(3, True)] if words else [])


def test_calculation_on_a_question_is_a_computed_answer(tmp_path):
    path = book(tmp_path, [[*BASE, "calculation"], ["integer", "x", "X", None],
                           ["integer", "y", "Y", "${x} * 2"]])
    form, _warnings = imported(path)
    assert form.item("y").is_computed and form.item("y").calculation.source == "${x} * 2"


def test_label_with_answer_placeholders_is_warned(tmp_path):
    path = book(tmp_path, [BASE, ["text", "name_q", "Name?"], ["note", "hi", "Hello ${name_q}"]])
    _form, warnings = imported(path)
    assert [w.line for w in warnings] == [3] and "as written" in warnings[0].message


def test_other_sheets_are_warned(tmp_path):
    path = book(tmp_path, [BASE, ["text", "q", "Q"]],
                external_choices=[["list_name", "name"], ["x", "y"]],
                Notes=[["anything"], ["here"]])
    _form, warnings = imported(path)
    assert {(w.path, w.line) for w in warnings} == {
        (f"{path}#external_choices", 0), (f"{path}#Notes", 0)}
    assert "no select_one_external" in next(
        w.message for w in warnings if w.path.endswith("#external_choices"))


def test_unknown_settings_and_extra_settings_rows_are_warned(tmp_path):
    path = book(tmp_path, [BASE, ["text", "q", "Q"]], settings_rows=[
        [*SETTINGS[0], "instance_name", "public_key"],
        [*SETTINGS[1], "concat(${q})", "abc"], ["t2", "2", None, None, None, None]])
    _form, warnings = imported(path)
    assert [(w.line, w.message.split(":")[0]) for w in warnings] == [
        (2, "column 'instance_name' is ignored here"),
        (2, "column 'public_key' is ignored here"),
        (3, "only the first row under the column names is read; this row is ignored")]


def test_unsupported_expression_on_left_out_metadata_is_only_a_warning(tmp_path):
    path = book(tmp_path, [[*BASE, "relevant"], ["text", "q", "Q", None],
                           ["start", "when", None, "pulldata('a', 'b')"]])
    form, warnings = imported(path)
    assert [w.line for w in warnings] == [3, 3]
    assert "pulldata" in warnings[1].message
    assert "when" not in form


def test_a_group_left_empty_is_left_out_with_a_warning(tmp_path):
    path = book(tmp_path, [BASE, ["text", "q", "Q"], ["begin_group", "g", "G"],
                           ["start", "when", None], ["end_group", None, None]])
    form, warnings = imported(path)
    assert [w.line for w in warnings] == [3, 4]
    assert "group 'g' is left out" in warnings[0].message
    assert "g" not in form


def test_warnings_are_bounded(tmp_path):
    rows = [["text", f"q{i}", "Q", "minimal"] for i in range(xlsform.MAX_REPORTED + 20)]
    path = book(tmp_path, [[*BASE, "appearance"], *rows])
    _form, warnings = imported(path)
    assert len(warnings) == xlsform.MAX_REPORTED + 1
    assert warnings[-1].message == "... and 20 more"


# -- not representable: errors at the exact row -------------------------------------------

# (what, survey rows after the header, sheet, expected row, words in the message)
NOT_REPRESENTABLE = [
    ("unsupported function in relevant", [["text", "q", "Q", "pulldata('a', 'b') = 1"]],
     "survey", 2, "Unknown function 'pulldata'"),
    ("XPath path in relevant", [["text", "q", "Q", None], ["text", "r", "R", "/data/q = 1"]],
     "survey", 3, "relevant of 'r' cannot be represented"),
    ("reference into a repeat", [["begin_repeat", "kids", "Kids", None],
                                 ["text", "kid", "Kid", None], ["end_repeat", None, None, None],
                                 ["text", "q", "Q", "${kid} != ''"]],
     "survey", 5, "refers to ${kid}, which is left out (row 3"),
    ("reference to left-out metadata", [["start", "when", None, None],
                                        ["text", "q", "Q", "${when} != ''"]],
     "survey", 3, "refers to ${when}"),
    ("duplicate name", [["text", "q", "Q", None], ["integer", "q", "Q2", None]],
     "survey", 3, "already used on row 2"),
    ("duplicate name inside a repeat", [["text", "q", "Q", None], ["begin_repeat", "r", "R",
                                                                   None],
                                        ["text", "q", "Q", None], ["end_repeat", "", "", None]],
     "survey", 4, "already used on row 2"),
    ("unknown type", [["txt", "q", "Q", None]], "survey", 2, "unknown type 'txt'"),
    ("select without list", [["select_one", "q", "Q", None]], "survey", 2, "name of its"),
    ("missing list", [["select_one colours", "q", "Q", None]], "survey", 2,
     "'colours', which is not on the choices sheet"),
    ("end_group alone", [["text", "q", "Q", None], ["end_group", None, None, None]],
     "survey", 3, "no matching begin_group"),
    ("unclosed group", [["begin_group", "g", "G", None], ["text", "q", "Q", None]],
     "survey", 2, "begin_group 'g' has no matching end_group"),
    ("crossed ends", [["begin_group", "g", "G", None], ["text", "q", "Q", None],
                      ["end_repeat", None, None, None]], "survey", 4, "closes the begin_group"),
    ("bad name", [["text", "my-q", "Q", None]], "survey", 2, "name 'my-q'"),
    ("no name", [["text", None, "Q", None]], "survey", 2, "has no name"),
    ("calculate without calculation", [["calculate", "c", None, None]], "survey", 2,
     "has no calculation"),
    ("dot in relevant", [["text", "q", "Q", ". = 1"]], "survey", 2, "only in a constraint"),
    ("unknown reference", [["text", "q", "Q", "${nope} = 1"]], "survey", 2,
     "${nope}, which is not an item"),
    ("label only in another language", [["text", "q", None, None]], "survey", 2,
     "no text in the default language"),
    ("nothing kept", [["start", "when", None, None]], "survey", 1, "nothing"),
]


@pytest.mark.parametrize("what, rows, sheet, row, words", NOT_REPRESENTABLE,
                         ids=[case[0] for case in NOT_REPRESENTABLE])
def test_forms_that_cannot_be_represented_are_refused(tmp_path, what, rows, sheet, row, words):
    header = [*BASE, "relevant"]
    if what == "label only in another language":
        header, rows = [*BASE, "label::French (fr)", "relevant"], [["text", "q", None, "Q fr",
                                                                    None]]
    path = book(tmp_path, [header, *rows])
    problems = refused(path)
    assert (row, words) in [(line, words) for line, message in located(problems, path, sheet)
                            if words in message], problems
    for problem in problems:
        assert re.match(rf"{re.escape(str(path))}#\w+:\d+: ", str(problem))


@pytest.mark.parametrize("choices, row, words", [
    ([["list_name", "name", "label"], ["yn", "Yes", "Yes"]], 2, "choice name 'Yes'"),
    ([["list_name", "name", "label"], ["yn", "yes", "Y"], ["yn", "yes", "Y"]], 3,
     "appears twice in list 'yn' (first on row 2)"),
    ([["list_name", "name", "label"], ["yn", "yes", None]], 2, "needs a label"),
    ([["list_name", "name", "label"], ["yn", 1.5, "x"]], 2, "choice name '1.5'"),
    ([["list_name", "name", "label"], [None, "yes", "Yes"]], 2, "no list_name"),
    ([["list_name", "label"], ["yn", "Yes"]], 1, "needs a 'name' column"),
], ids=["capitals", "duplicate", "no label", "decimal", "no list", "no name column"])
def test_bad_choices_are_refused_at_their_row(tmp_path, choices, row, words):
    path = book(tmp_path, [BASE, ["select_one yn", "q", "Q"]], choices=choices)
    problems = refused(path)
    assert any(line == row and words in message
               for line, message in located(problems, path, "choices")), problems


@pytest.mark.parametrize("rows, row, words", [
    ([["select_one yn", "q", "Q", "worker", "A", "risk"]], 2, "canonical scale"),
    ([["select_one yn", "q", "Q", "child", "F", "risk"]], 2, "level must be"),
    ([["text", "q", "Q", "someone", None, None]], 2, "audience must be"),
], ids=["non-canonical scale", "bad level", "bad audience"])
def test_indicator_problems_are_reported_at_the_survey_row(tmp_path, rows, row, words):
    path = book(tmp_path, [[*BASE, "fs_audience", "fs_level", "fs_kind"],
                           ["note", "intro", "Hello", None, None, None], *rows])
    problems = refused(path)
    assert any(line == row + 1 and words in message
               for line, message in located(problems, path, "survey")), problems


def test_a_role_given_twice_is_reported_at_the_second_row(tmp_path):
    path = book(tmp_path, [[*BASE, "fs_role"], ["integer", "a", "A", "age"],
                           ["integer", "b", "B", "age"]])
    problems = refused(path)
    assert [(p.line, "already given to 'a'" in p.message) for p in problems] == [(3, True)]


@pytest.mark.parametrize("key, value, words", [
    ("lowered_when", "once(today())", "Unknown function 'once'"),
    ("thresholds.refer", "high", "must be a number"),
    ("resilience_cap", 7, "between"),
    ("gaps_for_follow_up", 2.5, "whole number"),
    ("answer_scores.yes", 0.5, "must score 1"),
    ("version", "t-r2", "already given on row 2"),
])
def test_bad_rules_are_reported_at_their_row(tmp_path, key, value, words):
    rules = [row for row in RULES if row[0] != key or key == "version"]
    path = book(tmp_path, [BASE, ["text", "q", "Q"]], rules=[*rules, [key, value]])
    problems = refused(path)
    assert any(line == len(rules) + 1 and words in message
               for line, message in located(problems, path, "fs_rules")), problems


def test_a_workbook_without_a_survey_sheet_is_refused(tmp_path):
    # One sheet alone would be read as the survey (pyxform's rule); two, neither named so, not.
    path = write_book(tmp_path / "f.xlsx", {"Sheet": [["type", "name"]], "Other": [["x"]]})
    problems = refused(path)
    assert [(p.path, p.line) for p in problems] == [(f"{path}#survey", 0)]
    assert "no 'survey' sheet" in problems[0].message


def test_unreadable_language_columns_are_refused(tmp_path):
    path = book(tmp_path, [["type", "name", "label", "label::Klingonese"], ["text", "q", "Q",
                                                                            "Q?"]])
    problems = refused(path)
    assert [(p.line, "write the code in brackets" in p.message) for p in problems] == [(1, True)]


def test_duplicate_columns_are_refused(tmp_path):
    path = book(tmp_path, [["type", "name", "label", "label::English (en)"],
                           ["text", "q", "Q", "Q"]])
    problems = refused(path)
    assert [(p.line, "both hold 'label::en'" in p.message) for p in problems] == [(1, True)]


# -- hostile workbooks --------------------------------------------------------------------


def test_too_many_survey_rows_are_refused_quickly(tmp_path):
    wb = openpyxl.Workbook(write_only=True)
    sheet = wb.create_sheet("survey")
    sheet.append(BASE)
    for number in range(xlsform.MAX_SURVEY_ROWS + 1):
        sheet.append(["text", f"q{number}", "Q"])
    path = tmp_path / "big.xlsx"
    wb.save(path)
    started = time.perf_counter()
    problems = refused(path)
    assert time.perf_counter() - started < 10
    assert [(p.line, "more than 5000 rows" in p.message) for p in problems] == [
        (xlsform.MAX_SURVEY_ROWS + 2, True)]


@pytest.mark.slow
def test_the_largest_allowed_survey_is_read(tmp_path):
    wb = openpyxl.Workbook(write_only=True)
    sheet = wb.create_sheet("survey")
    sheet.append(BASE)
    for number in range(xlsform.MAX_SURVEY_ROWS):
        sheet.append(["text", f"q{number}", "Q"])
    path = tmp_path / "large.xlsx"
    wb.save(path)
    form, _warnings = imported(path)
    assert len(form.items) == xlsform.MAX_SURVEY_ROWS


def test_a_cell_far_down_the_sheet_is_left_out_quickly(tmp_path):
    # pyxform ends the sheet at the run of empty rows before it, so ODK never sees it.
    path = tmp_path / "far.xlsx"
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.title = "survey"
    sheet.append(BASE)
    sheet.append(["text", "q", "Q"])
    sheet.cell(row=1_048_576, column=1, value="text")
    wb.save(path)
    started = time.perf_counter()
    form, warnings = imported(path)
    assert time.perf_counter() - started < 10
    assert [item.name for item in form.items] == ["q"]
    assert any(w.line == 1_048_576 and "not read" in w.message for w in warnings)


def test_too_many_columns_are_refused(tmp_path):
    header = [*BASE, *[f"extra{i}" for i in range(xlsform.MAX_COLUMNS)]]
    path = book(tmp_path, [header, ["text", "q", "Q"]])
    problems = refused(path)
    assert [(p.line, "at most 256 columns" in p.message) for p in problems] == [(1, True)]


def test_a_huge_cell_is_refused(tmp_path):
    path = book(tmp_path, [BASE, ["text", "q", "x" * (xlsform.MAX_CELL_CHARACTERS + 1)]])
    problems = refused(path)
    assert [(p.line, "C2" in p.message) for p in problems] == [(2, True)]


def _with_cached_value(path: Path, cell: str, cached: str | None) -> None:
    """Give formula `cell` a saved result, as Excel would (openpyxl cannot write one)."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    pattern = rf'<c r="{cell}"><f>(.*?)</f><v\s*/>'
    replacement = (rf'<c r="{cell}" t="str"><f>\1</f><v>{cached}</v>' if cached is not None
                   else rf'<c r="{cell}"><f>\1</f><v />')
    assert re.search(pattern, sheet)
    parts["xl/worksheets/sheet1.xml"] = re.sub(pattern, replacement, sheet).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_formulas_are_read_as_their_saved_result(tmp_path):
    path = book(tmp_path, [BASE, ["text", "q", '=CONCAT("Your ", "name")']])
    _with_cached_value(path, "C2", "Your name")
    form, warnings = imported(path)
    assert form.item("q").label.get("en") == "Your name"
    assert [(w.line, "C2 holds a formula" in w.message) for w in warnings] == [(2, True)]


def test_formulas_without_a_saved_result_are_refused(tmp_path):
    path = book(tmp_path, [BASE, ["text", "q", '=CONCAT("Your ", "name")']])
    problems = refused(path)
    assert [(p.line, "no saved result" in p.message) for p in problems] == [(2, True)]


def test_excel_error_values_are_refused(tmp_path):
    path = book(tmp_path, [BASE, ["text", "q", "#N/A"]])
    problems = refused(path)
    assert [(p.line, "Excel error #N/A" in p.message) for p in problems] == [(2, True)]


@pytest.mark.parametrize("value, words", [
    (123, "name '123'"),
    (1.5, "name '1.5'"),
    (datetime.date(2020, 1, 2), "'2020-01-02', which is not a name"),
    (True, "'true', which is not a name"),
])
def test_non_text_names_are_refused_at_their_row(tmp_path, value, words):
    path = book(tmp_path, [BASE, ["text", "ok", "OK"], ["text", value, "Q"]])
    problems = refused(path)
    assert [(p.line, words in p.message) for p in problems] == [(3, True)], problems


def test_numbers_and_dates_in_text_columns_become_text(tmp_path):
    path = book(tmp_path, [[*BASE, "hint"], ["text", "q", 42, datetime.date(2020, 1, 2)]],
                settings_rows=[["form_id", "version"], ["t", 3.0]])
    form, _warnings = imported(path)
    assert (form.item("q").label.get("en"), form.item("q").hint.get("en")) == ("42",
                                                                               "2020-01-02")
    assert form.version == "3"


@pytest.mark.parametrize("content", [b"", b"type,name,label\ntext,q,Q\n", b"PK\x03\x04junk"],
                         ids=["empty", "csv", "broken zip"])
def test_files_that_are_not_workbooks_are_refused(tmp_path, content):
    path = tmp_path / "form.xlsx"
    path.write_bytes(content)
    problems = refused(path)
    assert [(p.path, p.line) for p in problems] == [(str(path), 0)]
    assert ".xlsx" in problems[0].message


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path):
    path = tmp_path / "form.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hello")
    problems = refused(path)
    assert "cannot be read" in problems[0].message


def test_missing_files_and_folders_are_refused(tmp_path):
    assert "no such file" in refused(tmp_path / "nothing.xlsx")[0].message
    assert "not a file" in refused(tmp_path)[0].message


def test_workbooks_that_unpack_too_large_are_refused(tmp_path, monkeypatch):
    path = book(tmp_path, [BASE, ["text", "q", "Q"]])
    monkeypatch.setattr(xlsform.workbook, "MAX_UNPACKED_BYTES", 1000)
    assert "unpacks to more than" in refused(path)[0].message


def test_workbooks_larger_than_the_limit_are_refused(tmp_path, monkeypatch):
    path = book(tmp_path, [BASE, ["text", "q", "Q"]])
    monkeypatch.setattr(xlsform.workbook, "MAX_WORKBOOK_BYTES", 100)
    assert "larger than" in refused(path)[0].message


CELLS = st.one_of(
    st.none(), st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.dates(min_value=datetime.date(1900, 3, 1)),
    st.sampled_from(["text", "integer", "select_one yn", "begin_group", "end_group",
                     "begin_repeat", "end_repeat", "calculate", "note", "geopoint", "yes", "no",
                     "q", "g", "yn", "${q} = 1", ". > 1", "pulldata()", "=1+1", "#N/A", "A",
                     "risk", "child", "select_one", "", " ", "English (en)", "fr", "gap",
                     "thresholds.refer", "version", "lowered_when"]),
    st.text(max_size=12),
)
ROWS = st.lists(st.lists(CELLS, min_size=1, max_size=6), max_size=6)
COLUMNS = st.sampled_from(["type", "name", "label", "label::Français (fr)", "label::fr",
                           "label::Nowhere", "relevant", "required", "constraint",
                           "calculation", "fs_level", "fs_kind", "fs_audience", "fs_weight",
                           "list_name", "form_id", "version", "default_language", "key",
                           "value", "appearance", "media::image", None])
HEADERS = st.lists(COLUMNS, min_size=1, max_size=6)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(survey=ROWS, choices=st.tuples(HEADERS, ROWS), settings_sheet=st.tuples(HEADERS, ROWS),
       rules=st.tuples(HEADERS, ROWS))
def test_arbitrary_workbooks_never_crash(tmp_path, survey, choices, settings_sheet, rules):
    header = ["type", "name", "label", "relevant", "required", "fs_level"]
    try:
        path = book(tmp_path, [header, *survey], choices=[choices[0], *choices[1]],
                    settings_rows=[settings_sheet[0], *settings_sheet[1]],
                    rules=[rules[0], *rules[1]], name="fuzz.xlsx")
    except (ValueError, TypeError, IllegalCharacterError):  # openpyxl refuses to write these
        return
    try:
        result = import_xlsform(path)
    except SourceProblems as problems:
        assert problems.problems
        assert all(re.match(r".+#\w+:\d+: ", str(p)) or p.line == 0 for p in problems.problems)
        return
    load_form_text(result.yaml_text)


def test_formatting_down_to_the_last_row_is_not_data(tmp_path):
    # Excel often formats whole columns: the rows exist in the file but hold nothing.
    path = tmp_path / "formatted.xlsx"
    workbook = openpyxl.Workbook()
    survey = workbook.active
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["text", "q", "Q"])
    survey.cell(row=xlsform.MAX_SCANNED_ROWS + 10, column=1).number_format = "@"
    workbook.create_sheet("settings").append(["form_id", "version"])
    workbook["settings"].append(["formatted", "1"])
    workbook.save(path)
    assert load_form_text(import_xlsform(path).yaml_text).item("q").label.get("en") == "Q"


def test_data_past_the_scanned_rows_is_refused(tmp_path):
    # Without a run of empty rows (a choices sheet may be this long), the scan limit holds.
    path = tmp_path / "far.xlsx"
    workbook = openpyxl.Workbook()
    survey = workbook.active
    survey.title = "survey"
    survey.append(["type", "name", "label"])
    survey.append(["select_one yn", "q", "Q"])
    choices = workbook.create_sheet("choices")
    choices.append(["list_name", "name", "label"])
    for number in range(2, xlsform.MAX_SCANNED_ROWS + 10, 50):
        choices.cell(row=number, column=1, value="yn")
    workbook.save(path)
    with pytest.raises(SourceProblems, match=f"past row {xlsform.MAX_SCANNED_ROWS}"):
        import_xlsform(path)


def test_xls_workbooks_are_read(tmp_path):
    # pyxform's own example, an Excel 97-2003 file (tests/data/xlsform/real/README.md).
    path = ROOT / "tests" / "data" / "xlsform" / "real" / "example_xls" / "yes_or_no_question.xls"
    result = import_xlsform(path)
    assert load_form_text(result.yaml_text).item("good_day").type.value == "select_one"


def test_openpyxl_warnings_never_reach_the_terminal():
    # pyxform's example carries a workbook extension openpyxl warns about while reading rows.
    path = ROOT / "tests" / "data" / "xlsform" / "real" / "bug_example_xls" / "bad_calc.xlsx"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(SourceProblems, match="calculation of 'badcalc'"):
            import_xlsform(path)
    assert not caught, [str(w.message) for w in caught]


def test_a_refused_choice_list_is_reported_once(tmp_path):
    # The select that uses it is not told the list is missing: it is there, but refused.
    path = book(tmp_path, [BASE, ["select_one yn", "q", "Q"]],
                choices=[["list_name", "name", "label"], ["yn", "Yes", "Yes"]])
    problems = refused(path)
    assert [(p.path.rsplit("#", 1)[1], p.line) for p in problems] == [("choices", 2)], problems


@pytest.mark.parametrize("type_text", ["select_one yn or_other",
                                       "select one from yn or specify other"])
def test_or_other_adds_the_other_choice_and_its_question(tmp_path, type_text):
    # As pyxform does: an "Other" choice on the list and a text question shown when chosen.
    path = book(tmp_path, [BASE, [type_text, "s", "S"], ["select_one yn", "t", "T"]])
    form, _warnings = imported(path)
    assert form.item("s").choice_list.names[-1] == "other"
    assert form.item("t").choice_list.names[-1] == "other"
    other = form.item("s_other")
    assert other.type.value == "text" and other.label.get("en") == "Specify other."
    assert other.relevant is not None and other.relevant.source == "selected(${s}, 'other')"


def test_or_other_question_name_already_used_is_refused(tmp_path):
    path = book(tmp_path, [BASE, ["select_one yn or_other", "s", "S"], ["text", "s_other", "X"]])
    problems = refused(path)
    assert any(line == 3 and "already used on row 2" in message
               for line, message in located(problems, path, "survey")), problems


def test_settings_title_and_id_string_are_form_title_and_form_id(tmp_path):
    path = book(tmp_path, [BASE, ["text", "q", "Q"]],
                settings_rows=[["id_string", "version", "title"], ["named", "3", "Named form"]])
    form, _warnings = imported(path)
    assert (form.id, form.title.get("en")) == ("named", "Named form")


def test_single_colon_headers_and_upper_case_codes_keep_every_label(tmp_path):
    # pyxform's older `label:English` (on a sheet with no `::` header) and `LABEL::FR`.
    path = book(tmp_path, [["type", "name", "label:English", "jr:constraintMsg", "constraint"],
                           ["integer", "q", "Age?", "Too old", ". < 18"]],
                settings_rows=[["form_id", "version"], ["colons", "1"]])
    form, _warnings = imported(path)
    assert form.item("q").label.get("en") == "Age?"
    assert form.item("q").constraint_message.get("en") == "Too old"
    path = book(tmp_path, [["TYPE", "NAME", "LABEL::EN", "LABEL::FR"], ["text", "q", "Q", "Q fr"]],
                choices=[["list_name", "name", "label::EN"], ["yn", "yes", "Yes"]],
                settings_rows=[["form_id", "version", "default_language"], ["caps", "1", "EN"]],
                name="caps.xlsx")
    form, _warnings = imported(path)
    assert form.languages == ("en", "fr") and form.item("q").label.get("fr") == "Q fr"


def test_a_workbook_s_only_sheet_is_its_survey(tmp_path):
    # pyxform's rule: one sheet, whatever its name, is the survey.
    path = tmp_path / "one.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Sheet1"
    workbook.active.append(["type", "name", "label"])
    workbook.active.append(["text", "state", "The State"])
    workbook.save(path)
    form, _warnings = imported(path)
    assert form.item("state").label.get("en") == "The State"


@pytest.mark.parametrize("gap, read", [(60, True), (61, False)])
def test_a_sheet_ends_where_pyxform_ends_it(tmp_path, gap, read):
    path = book(tmp_path, [BASE, ["text", "q", "Q"], *([[]] * gap), ["text", "far", "Far"]])
    form, warnings = imported(path)
    assert ("far" in form) is read
    assert [w.line for w in warnings if "more than 60 empty rows" in w.message] == (
        [] if read else [3 + gap])


# -- select_one_external and hidden (docs/decisions.md, 68 and 69) ------------------------

EXTERNAL = [["list_name", "name", "label", "zone"], ["kind", "a", "Type A", "north"],
            ["kind", "b", "Type B", "south"]]
ZONES = [["list_name", "name", "label"], ["zone", "north", "North"], ["zone", "south", "South"]]


def test_select_one_external_reads_its_list_from_external_choices_and_round_trips(tmp_path):
    path = book(tmp_path, [[*BASE, "choice_filter"], ["select_one zone", "z", "Zone", None],
                           ["select_one_external kind", "k", "Kind", "zone = ${z}"]],
                choices=ZONES, external_choices=EXTERNAL)
    form, warnings = imported(path)
    item = form.item("k")
    assert (item.type, item.choice_list.name, item.xlsform_type) == (
        ItemType.SELECT_ONE, "kind", "select_one_external")
    assert [c.columns["zone"] for c in item.choice_list.choices] == ["north", "south"]
    assert item.choice_filter.source == "zone = ${z}"
    assert not warnings
    target = tmp_path / "again.xlsx"
    export_xlsform(form, None, target)
    book_again = openpyxl.load_workbook(target)
    assert [r[0] for r in book_again["external_choices"].iter_rows(min_row=2, values_only=True)
            ] == ["kind", "kind"]
    assert "kind" not in [r[0] for r in book_again["choices"].iter_rows(min_row=2,
                                                                         values_only=True)]
    assert [r[0] for r in book_again["survey"].iter_rows(min_row=2, values_only=True)][1] == (
        "select_one_external kind")
    again, _warnings = imported(target)
    assert describe(again) == describe(form)
    assert again.item("k").xlsform_type == "select_one_external"


def test_select_one_external_needs_its_list_on_external_choices(tmp_path):
    path = book(tmp_path, [BASE, ["select_one_external zone", "k", "Kind"]], choices=ZONES,
                external_choices=EXTERNAL)
    assert any(line == 2 and "not on the external_choices sheet" in message
               for line, message in located(refused(path), path, "survey"))


def test_one_list_name_with_other_choices_on_both_sheets_is_refused(tmp_path):
    path = book(tmp_path, [BASE, ["select_one zone", "z", "Zone"],
                           ["select_one_external zone", "k", "Kind"]],
                choices=ZONES, external_choices=[["list_name", "name", "label"],
                                                 ["zone", "east", "East"]])
    problems = refused(path)
    assert any(line == 2 and "also on the choices sheet (row 2)" in message
               for line, message in located(problems, path, "external_choices")), problems
    assert not located(problems, path, "survey")


@pytest.mark.parametrize("default, value", [(None, ""), ("abc", "abc"), (5, "5"),
                                            ("it's", "it's")])
def test_hidden_is_a_calculate_of_its_default_and_round_trips(tmp_path, default, value):
    path = book(tmp_path, [[*BASE, "default"], ["text", "q", "Q", None],
                           ["hidden", "h", None, default]])
    form, warnings = imported(path)
    item = form.item("h")
    assert (item.type, item.xlsform_type, item.label) == (
        ItemType.CALCULATE, "hidden", LocalizedText())
    assert item.calculation.evaluate(lambda _name: None) == value
    assert not warnings
    target = tmp_path / "again.xlsx"
    export_xlsform(form, None, target)
    rows = list(openpyxl.load_workbook(target)["survey"].iter_rows(values_only=True))
    header = rows[0]
    hidden = dict(zip(header, rows[2], strict=True))
    assert (hidden["type"], hidden["calculation"], hidden["default"]) == (
        "hidden", None, value or None)
    again, _warnings = imported(target)
    assert describe(again) == describe(form) and again.item("h").xlsform_type == "hidden"


def test_a_hidden_with_a_dynamic_default_is_refused(tmp_path):
    path = book(tmp_path, [[*BASE, "default"], ["text", "q", "Q", None],
                           ["hidden", "h", None, "${q}"]])
    assert any(line == 3 and "dynamic defaults" in message and OUT_OF_SCOPE in message
               for line, message in located(refused(path), path, "survey"))


def test_xlsform_type_must_go_with_the_native_type(tmp_path):
    # The loader refuses a mismatch at its line: export would write a type that lies.
    source = MINI.read_text(encoding="utf-8")
    assert "xlsform_type" not in source
    for native, marker in (("        type: text\n", "hidden"),
                           ("        type: text\n", "select_one_external")):
        with pytest.raises(SourceProblems) as raised:
            load_form_text(source.replace(
                native, f"{native}        xlsform_type: {marker}\n", 1), "m")
        assert [p.line for p in raised.value.problems] == [101]
        assert f"xlsform_type '{marker}' does not go with a text" in (
            raised.value.problems[0].message)


# -- fs_pictogram ---------------------------------------------------------------------------


def test_fs_pictogram_names_the_questions_picture_and_round_trips(tmp_path):
    path = book(tmp_path, [[*BASE, "fs_pictogram"], ["select_one yn", "home", "Home?", "house"],
                           ["text", "q", "Q", None]])
    form, warnings = imported(path)
    assert (form.item("home").pictogram, form.item("q").pictogram) == ("house", None)
    assert not warnings
    target = tmp_path / "again.xlsx"
    export_xlsform(form, None, target)
    header = next(openpyxl.load_workbook(target)["survey"].iter_rows(values_only=True))
    assert "fs_pictogram" in header
    again, _warnings = imported(target)
    assert describe(again) == describe(form)


def test_an_unknown_pictogram_is_refused_at_its_row_with_a_suggestion(tmp_path):
    path = book(tmp_path, [[*BASE, "fs_pictogram"], ["text", "q", "Q", None],
                           ["select_one yn", "home", "Home?", "houze"]])
    problems = located(refused(path), path, "survey")
    assert [line for line, _message in problems] == [3], problems
    assert "no pictogram called 'houze'" in problems[0][1]
    assert "did you mean house" in problems[0][1]
    assert str(path) + "#survey:3:" in str(refused(path)[0])


def test_a_name_with_a_hyphen_or_a_dot_is_refused_with_the_name_to_use(tmp_path):
    # ODK allows them; FieldScreen's names travel into the pack's file names
    # (docs/decisions.md, 70), so the author is told what to rename it to.
    path = book(tmp_path, [BASE, ["text", "label-test", "L"], ["text", "a.b", "A"]])
    problems = located(refused(path), path, "survey")
    assert [line for line, _message in problems] == [2, 3]
    assert "'label_test'" in problems[0][1] and "'a_b'" in problems[1][1]


def test_choices_with_only_a_picture_are_out_of_scope(tmp_path):
    choices = [["list_name", "name", "label", "image"], ["hs", "happy", None, "happy.jpg"],
               ["hs", "sad", "Sad", "sad.jpg"]]
    path = book(tmp_path, [BASE, ["select_one hs", "mood", "Mood"]], choices=choices)
    problems = located(refused(path), path, "choices")
    assert [line for line, _message in problems] == [2], problems
    assert "only a picture (happy.jpg)" in problems[0][1] and OUT_OF_SCOPE in problems[0][1]
