"""The trainer's screen (demo mode): pick a scenario and replay it answer by answer.

Everything shown comes from `fieldscreen.demo` (the scenario library, the replay, the
synthetic children); this screen lays it out so a trainer can show, step by step, which
rule fires and why, and so trainees can practise on a synthetic child.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.engine.explain import outcome_title
from fieldscreen.i18n import _

if TYPE_CHECKING:
    from fieldscreen.demo.scenarios import ReplayStep, Scenario
    from fieldscreen.forms.schema import Form


class TrainerScreen(QWidget):
    """Lists the training scenarios and replays the chosen one.

    Signals:
        practise_requested(): start a screening of a synthetic child.
        back_requested(): back to the home screen.
    """

    practise_requested = Signal()
    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form: Form | None = None
        self.scenarios: list[Scenario] = []
        self.steps: list[ReplayStep] = []
        self.position = 0
        layout = QVBoxLayout(self)
        title = QLabel(_("Training scenarios"), self)
        title.setAccessibleName(title.text())
        title.setStyleSheet("font-size: 16pt; font-weight: bold;")
        layout.addWidget(title)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.scenario_list = QListWidget(splitter)
        self.scenario_list.setAccessibleName(_("Scenarios"))
        self.scenario_list.setWordWrap(True)
        self.scenario_list.currentRowChanged.connect(self._choose)
        right = QWidget(splitter)
        detail = QVBoxLayout(right)
        self.story = QPlainTextEdit(right)
        self.story.setReadOnly(True)
        self.story.setAccessibleName(_("The scenario's story and expected outcome"))
        detail.addWidget(self.story, 2)
        self.step_label = QLabel(right)
        self.step_label.setWordWrap(True)
        self.step_label.setAccessibleName(_("Replay step"))
        self.step_label.setStyleSheet("font-size: 13pt;")
        detail.addWidget(self.step_label, 1)
        buttons = QHBoxLayout()
        self.previous_button = QPushButton(_("← Previous answer"), right)
        self.previous_button.setAccessibleName(_("Previous answer of the replay"))
        self.next_button = QPushButton(_("Next answer →"), right)
        self.next_button.setAccessibleName(_("Next answer of the replay"))
        self.previous_button.clicked.connect(lambda: self.show_step(self.position - 1))
        self.next_button.clicked.connect(lambda: self.show_step(self.position + 1))
        buttons.addWidget(self.previous_button)
        buttons.addWidget(self.next_button)
        detail.addLayout(buttons)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([340, 660])
        layout.addWidget(splitter, 1)
        bottom = QHBoxLayout()
        back = QPushButton(_("← Home"), self)
        back.setAccessibleName(_("Back to the home screen"))
        back.clicked.connect(self.back_requested.emit)
        self.practise_button = QPushButton(_("Practise with a synthetic child"), self)
        self.practise_button.setAccessibleName(_("Practise a screening with a synthetic child"))
        self.practise_button.clicked.connect(self.practise_requested.emit)
        bottom.addWidget(back)
        bottom.addStretch(1)
        bottom.addWidget(self.practise_button)
        layout.addLayout(bottom)

    def show_scenarios(self, form: Form, scenarios: list[Scenario]) -> None:
        self.form = form
        self.scenarios = scenarios
        self.scenario_list.clear()
        for scenario in scenarios:
            item = QListWidgetItem(scenario.title.get("en", form.default_language))
            self.scenario_list.addItem(item)
        if scenarios:
            self.scenario_list.setCurrentRow(0)

    def _choose(self, row: int) -> None:
        if self.form is None or not 0 <= row < len(self.scenarios):
            return
        from fieldscreen.demo.scenarios import check_scenario, replay_steps

        scenario = self.scenarios[row]
        language = self.form.default_language
        check = check_scenario(scenario, self.form)
        expected = scenario.expected
        lines = [
            scenario.title.get(language),
            _("Child: {name}, {age}").format(name=scenario.child.name, age=scenario.child.age),
            "",
            scenario.story.get(language),
            "",
            _("Expected: {decision}{follow_up}").format(
                decision=outcome_title(expected.decision),
                follow_up=_(", with a follow-up visit") if expected.follow_up else ""),
            _("The rules give it: {verdict}").format(
                verdict=_("yes") if check.ok else _("NO — see the check")),
            "",
            scenario.explanation.get(language),
        ]
        self.story.setPlainText("\n".join(lines))
        self.steps = replay_steps(scenario, self.form)
        self.show_step(0)

    def show_step(self, position: int) -> None:
        if self.form is None or not self.steps:
            self.step_label.setText(_("Choose a scenario."))
            return
        position = max(0, min(position, len(self.steps) - 1))
        self.position = position
        step = self.steps[position]
        item = self.form.item(step.item)
        answer: Any = step.answer
        if item.choice_list is not None and isinstance(answer, str) and answer in (
                item.choice_list):
            choice = next(c for c in item.choice_list.choices if c.name == answer)
            answer = choice.label.get(self.form.default_language)
        parts = [
            _("Answer {number} of {total}").format(number=step.number, total=len(self.steps)),
            f"{item.label.get(self.form.default_language)} — {answer}",
            _("Decision so far: {decision}").format(
                decision=outcome_title(step.decision.outcome)),
        ]
        why = step.why()
        if why:
            parts.append(_("Why it changed:"))
            parts.extend(f"• {sentence}" for sentence in why)
        elif not step.counts:
            parts.append(_("This answer does not score: it is background information."))
        self.step_label.setText("\n".join(parts))
        self.previous_button.setEnabled(position > 0)
        self.next_button.setEnabled(position < len(self.steps) - 1)

    def clear(self) -> None:
        self.steps = []
        self.story.clear()
        self.step_label.clear()
