"""The wizard draws computed answers read-only and offers only the choices a filter keeps."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QLabel, QRadioButton

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.forms.loader import load_form_text
from fieldscreen.ui.field.wizard import WizardScreen
from tests.unit.engine.test_computed_and_conditions import HEAD

FORM = HEAD + """\
  - {name: age, type: integer, label: Age}
  - {name: age_next_year, type: integer, label: Age next year, calculation: "${age} + 1"}
  - {name: likes_warm, type: select_one, choices: yes_no, label: Warm colours?,
     audience: worker}
  - {name: colour, type: select_one, choices: colours, label: Colour, audience: worker,
     choice_filter: "(${likes_warm} = 'yes' and warm = 1) or (${likes_warm} = 'no' and warm != 1)"}
"""


def _page(wizard: WizardScreen) -> tuple[list[str], list[str]]:
    page = wizard.question_area.widget()
    return ([label.text() for label in page.findChildren(QLabel)],
            [button.text() for button in page.findChildren(QRadioButton)])


def _wizard(qtbot) -> WizardScreen:
    wizard = WizardScreen()
    qtbot.addWidget(wizard)
    wizard.start(ScreeningSession(load_form_text(FORM, "probe.yaml")))
    return wizard


def test_a_computed_answer_is_shown_and_cannot_be_edited(qtbot):
    wizard = _wizard(qtbot)
    wizard.session.answer("age", 11)
    wizard.navigation.go_next()
    wizard._render()
    labels, buttons = _page(wizard)
    assert "Worked out by the form: 12" in labels
    assert buttons == []


def test_only_the_offered_choices_are_drawn_and_follow_the_answer_on_the_page(qtbot):
    wizard = _wizard(qtbot)
    wizard.navigation.index = 2
    wizard._render()
    assert [i.name for i in wizard.navigation.current_step().items] == ["likes_warm",
                                                                         "colour"]
    labels, buttons = _page(wizard)
    assert buttons == ["1. Yes", "2. No"]
    assert "No choice applies here with the answers given so far." in labels
    yes = next(b for b in wizard.question_area.widget().findChildren(QRadioButton)
               if b.text() == "1. Yes")
    yes.click()
    qtbot.waitUntil(lambda: "1. Red" in _page(wizard)[1])
    assert _page(wizard)[1] == ["1. Yes", "2. No", "1. Red"]
    assert wizard.session.value("likes_warm") == "yes"
    QApplication.processEvents()


def test_a_default_is_drawn_pre_selected_and_becomes_an_answer_when_shown(qtbot):
    from tests.unit.engine.test_computed_and_conditions import DEFAULTS

    wizard = WizardScreen()
    qtbot.addWidget(wizard)
    session = ScreeningSession(load_form_text(DEFAULTS, "probe.yaml"))
    saved: list[dict] = []
    wizard.answered.connect(lambda: saved.append(session.answers_json()))
    assert session.value("place") is None
    wizard.start(session)
    checked = [b.text() for b in wizard.question_area.widget().findChildren(QRadioButton)
               if b.isChecked()]
    assert checked == ["1. Yes"]
    assert session.value("place") == "yes" and session.value("count") == 2
    assert saved and saved[-1]["place"] == "yes"
