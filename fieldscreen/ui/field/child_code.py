"""The optional child code: a small dialog for the letters the child says.

The worker types the first two letters of the child's given and family names, as the child
says them, the birth year and the sex; the screening workflow turns them into the keyed
child code at once (decision 54) and the fields are emptied. The letters are never stored:
each field takes two letters at most (a full name cannot be typed in), has no context menu
or drag (nothing to copy out), and is cleared whatever the worker chooses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.errors import UserError
from fieldscreen.i18n import _
from fieldscreen.workflows.screening import CODE_SEXES, EARLIEST_BIRTH_YEAR

if TYPE_CHECKING:
    from fieldscreen.workflows.screening import ScreeningWorkflow

LETTERS = 2


def _letters_field(parent: QWidget, name: str) -> QLineEdit:
    field = QLineEdit(parent)
    field.setMaxLength(LETTERS)
    field.setAccessibleName(name)
    field.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
    field.setDragEnabled(False)
    # Not kept by any input method's history or prediction.
    field.setInputMethodHints(Qt.InputMethodHint.ImhSensitiveData
                              | Qt.InputMethodHint.ImhNoPredictiveText)
    return field


class ChildCodeDialog(QDialog):
    """Asks for the letters of the child code and hands them to the workflow once."""

    def __init__(self, workflow: ScreeningWorkflow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._workflow = workflow
        self.setWindowTitle(_("Child code (optional)"))
        layout = QVBoxLayout(self)
        intro = QLabel(_("A child code lets your coordinator see that two screenings are of "
                         "the same child, without a name. Ask the child; type only the "
                         "first two letters of each name, as the child says them. The "
                         "letters are not saved, only a code made from them."), self)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.given = _letters_field(self, _("First two letters of the given name"))
        form.addRow(_("Given name, first two letters:"), self.given)
        self.family = _letters_field(self, _("First two letters of the family name"))
        form.addRow(_("Family name, first two letters:"), self.family)
        self.birth_year = QSpinBox(self)
        self.birth_year.setRange(EARLIEST_BIRTH_YEAR - 1, workflow.clock().year)
        self.birth_year.setSpecialValueText(_("Not known"))
        self.birth_year.setValue(self.birth_year.minimum())
        self.birth_year.setAccessibleName(_("Birth year"))
        form.addRow(_("Birth year:"), self.birth_year)
        self.sex = QComboBox(self)
        self.sex.setAccessibleName(_("Sex, as the child says"))
        self.sex.addItem(_("Not said"), None)
        labels = {"female": _("Female"), "male": _("Male")}
        for value in CODE_SEXES:
            self.sex.addItem(labels[value], value)
        form.addRow(_("Sex:"), self.sex)
        layout.addLayout(form)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(self)
        self.save_button = buttons.addButton(_("Make the code"),
                                             QDialogButtonBox.ButtonRole.AcceptRole)
        self.remove_button = buttons.addButton(_("No code for this child"),
                                               QDialogButtonBox.ButtonRole.DestructiveRole)
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.save_button.clicked.connect(self._make)
        self.remove_button.clicked.connect(self._remove)
        self.cancel_button.clicked.connect(self.reject)
        layout.addWidget(buttons)

    def _make(self) -> None:
        year = self.birth_year.value()
        try:
            made = self._workflow.set_child_code(
                given=self.given.text(), family=self.family.text(),
                birth_year=None if year < EARLIEST_BIRTH_YEAR else year,
                sex=self.sex.currentData())
        except UserError as error:
            self.clear()
            self.message.setText(error.message)
            return
        self.clear()
        if not made:
            self.message.setText(_("No code was made: it needs at least one letter of each "
                                   "name and the birth year. Try again, or choose \"No code "
                                   "for this child\"."))
            return
        self.accept()

    def _remove(self) -> None:
        self._workflow.clear_child_code()
        self.clear()
        self.accept()

    def clear(self) -> None:
        """Empty the letters (and the rest), whatever happens next."""
        self.given.clear()
        self.family.clear()
        self.birth_year.setValue(self.birth_year.minimum())
        self.sex.setCurrentIndex(0)

    def done(self, result: int) -> None:
        self.clear()
        super().done(result)
