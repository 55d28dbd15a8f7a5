"""XLSForm's `readonly`: a question that shows the form's value and that no one can change
(docs/decisions.md, 73), from the workbook through the loader, the engine and the wizard."""

from __future__ import annotations

import openpyxl
import pytest
from PySide6.QtWidgets import QLabel, QLineEdit, QRadioButton

from fieldscreen.engine.answers import AnswerError
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import load_form_text
from fieldscreen.forms.xlsform import export_xlsform
from tests.unit.engine.test_computed_and_conditions import HEAD
from tests.unit.forms.test_xlsform import BASE, OUT_OF_SCOPE, book, imported, located, refused

FORM = HEAD + """\
  - {name: site, type: select_one, choices: yes_no, label: Site open?, read_only: true,
     default: "yes"}
  - {name: code, type: integer, label: Code, read_only: true, default: 42}
  - {name: review, type: text, label: Review your answers, read_only: true}
  - {name: age, type: integer, label: Age}
"""


def test_a_read_only_question_holds_its_default_and_cannot_be_answered():
    session = ScreeningSession(load_form_text(FORM, "probe.yaml"))
    assert (session.value("site"), session.value("code"), session.value("review")) == (
        "yes", 42, None)
    for name, value in (("site", "no"), ("code", 1), ("review", "typed")):
        with pytest.raises(AnswerError):
            session.answer(name, value)
    assert not session.offer_default("site")
    # Recorded as the form's value while shown, as ODK submits it; nothing for no value.
    assert session.answers_json() == {"site": "yes", "code": 42}


@pytest.mark.parametrize("extra, words", [
    ("required: true", "cannot be required"),
    ("level: B, kind: risk, audience: child", "not indicators"),
], ids=["required", "indicator"])
def test_a_read_only_question_cannot_be_required_or_scored(extra, words):
    text = FORM.replace("read_only: true, default: 42", f"read_only: true, default: 42, {extra}")
    with pytest.raises(SourceProblems) as raised:
        load_form_text(text, "probe.yaml")
    assert words in str(raised.value)


def test_the_wizard_shows_a_read_only_value_and_no_control(qtbot):
    from fieldscreen.ui.field.wizard import WizardScreen

    wizard = WizardScreen()
    qtbot.addWidget(wizard)
    session = ScreeningSession(load_form_text(FORM, "probe.yaml"))
    wizard.start(session)
    seen: dict[str, tuple[list[str], int]] = {}
    for _step in range(3):
        page = wizard.question_area.widget()
        name = wizard.navigation.current_step().items[0].name
        seen[name] = ([label.text() for label in page.findChildren(QLabel)],
                      len(page.findChildren(QRadioButton)) + len(page.findChildren(QLineEdit)))
        wizard.navigation.go_next()
        wizard._render()
    assert "Worked out by the form: Yes" in seen["site"][0] and seen["site"][1] == 0
    assert "Worked out by the form: 42" in seen["code"][0] and seen["code"][1] == 0
    assert any("Review your answers" in text for text in seen["review"][0])
    assert not any("Worked out" in text for text in seen["review"][0])
    assert seen["review"][1] == 0
    assert session.answers_json() == {"site": "yes", "code": 42}


def test_readonly_is_imported_with_its_default_and_round_trips(tmp_path):
    path = book(tmp_path, [[*BASE, "readonly", "default"],
                           ["select_one yn", "site", "Site open?", "true()", "yes"],
                           ["text", "review", "Review", "yes", None],
                           ["integer", "age", "Age", None, None]])
    form, warnings = imported(path)
    assert [(form.item(n).read_only, form.item(n).default) for n in ("site", "review", "age")
            ] == [(True, "yes"), (True, None), (False, None)]
    # The form's value, not an answer pre-filled for anyone: no audience is assumed.
    assert form.item("site").audience is None and not warnings
    target = tmp_path / "again.xlsx"
    export_xlsform(form, None, target)
    header = next(openpyxl.load_workbook(target)["survey"].iter_rows(values_only=True))
    assert "readonly" in header
    again, _warnings = imported(target)
    assert [(again.item(n).read_only, again.item(n).default)
            for n in ("site", "review", "age")] == [(True, "yes"), (True, None), (False, None)]


def test_readonly_under_a_condition_is_out_of_scope(tmp_path):
    path = book(tmp_path, [[*BASE, "readonly"], ["text", "q", "Q", None],
                           ["text", "r", "R", "${q} = 'x'"]])
    assert any(line == 3 and "read-only under a condition" in message
               and OUT_OF_SCOPE in message
               for line, message in located(refused(path), path, "survey"))
