"""The wizard's time box: a time of day becomes an answer, HH:MM:SS, when the worker sets it."""

from __future__ import annotations

from PySide6.QtCore import QTime
from PySide6.QtWidgets import QTimeEdit

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.forms.loader import load_form_text
from fieldscreen.ui.field.wizard import WizardScreen
from tests.unit.engine.test_computed_and_conditions import HEAD

FORM = HEAD + """\
  - {name: arrived, type: time, label: Arrived at, audience: worker}
  - {name: left, type: time, label: Left at, audience: worker, default: "17:05"}
"""


def test_a_time_is_an_answer_only_once_set_and_a_default_is_shown(qtbot):
    wizard = WizardScreen()
    qtbot.addWidget(wizard)
    session = ScreeningSession(load_form_text(FORM, "probe.yaml"))
    wizard.start(session)
    boxes = {box.accessibleName(): box
             for box in wizard.question_area.widget().findChildren(QTimeEdit)}
    assert set(boxes) == {"Arrived at", "Left at"}
    assert session.value("arrived") is None
    assert boxes["Left at"].time() == QTime(17, 5) and session.value("left") == "17:05:00"
    boxes["Arrived at"].setTime(QTime(8, 45))
    assert session.value("arrived") == "08:45:00"
