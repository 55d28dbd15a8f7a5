"""Getting in: the first-run screen that creates a profile, and the unlock screen.

Both only collect what a person types and hand it to the window, which does the slow work
(Argon2id) on the worker thread.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.i18n import N_, _
from fieldscreen.store.passphrase_policy import MIN_PASSPHRASE_LENGTH


def passphrase_strength(passphrase: str) -> int:
    """A rough 0-4 score for feedback while typing; the store enforces the minimum."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        return 0
    score = 1
    words = len(passphrase.split())
    kinds = sum(bool(test) for test in (
        any(c.islower() for c in passphrase), any(c.isupper() for c in passphrase),
        any(c.isdigit() for c in passphrase), any(not c.isalnum() for c in passphrase)))
    if len(passphrase) >= 14 or words >= 3:
        score += 1
    if len(passphrase) >= 20 or words >= 4:
        score += 1
    if kinds >= 3:
        score += 1
    return min(score, 4)


_STRENGTH_WORDS = [N_("Too short"), N_("Weak"), N_("Fair"), N_("Good"), N_("Strong")]


class FirstRunScreen(QWidget):
    """Creates the profile on a new laptop, from the coordinator's pack or standalone.

    Signals:
        create_requested(str, object): passphrase, and the pack's path (or None).
    """

    create_requested = Signal(str, object)

    def __init__(self, parent: QWidget | None = None, *, coordinator: bool = False) -> None:
        super().__init__(parent)
        self.pack_path: Path | None = None
        layout = QVBoxLayout(self)
        title = QLabel(_("Set up the coordinator's profile on this computer.") if coordinator
                       else _("Welcome. Let's set up FieldScreen on this laptop."), self)
        title.setStyleSheet("font-size: 18pt; font-weight: bold;")
        title.setAccessibleName(title.text())
        title.setWordWrap(True)
        layout.addWidget(title)
        explain = QLabel(_(
            "Everything you record is locked with a passphrase that only you know. If you "
            "set up from your coordinator's deployment pack, your coordinator can also "
            "unlock your records if you forget the passphrase (that is what \"recovery\" "
            "means) — nobody else can, not even someone who steals the laptop.") if not
            coordinator else _(
            "This profile holds the keys that open the field laptops' batches and that sign "
            "your deployment packs. It is locked with a passphrase that only you know; "
            "export its identity for safe keeping (fieldscreen coordinator identity) so "
            "that losing this computer does not lose the data."), self)
        explain.setWordWrap(True)
        explain.setAccessibleName(_("What the passphrase and recovery mean"))
        layout.addWidget(explain)

        pack_row = QHBoxLayout()
        self.pack_label = QLabel(_("No deployment pack chosen (standalone: no recovery)."),
                                 self)
        self.pack_label.setWordWrap(True)
        self.pack_label.setAccessibleName(_("Chosen deployment pack"))
        self.pack_button = QPushButton(_("Choose the deployment pack…"), self)
        self.pack_button.setAccessibleName(_("Choose the deployment pack file"))
        self.pack_button.clicked.connect(self._choose_pack)
        pack_row.addWidget(self.pack_label, 1)
        pack_row.addWidget(self.pack_button)
        layout.addLayout(pack_row)
        # A coordinator writes packs; it never installs one.
        self.pack_label.setVisible(not coordinator)
        self.pack_button.setVisible(not coordinator)

        form = QFormLayout()
        self.passphrase = QLineEdit(self)
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName(_("New passphrase"))
        self.repeat = QLineEdit(self)
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setAccessibleName(_("Repeat the passphrase"))
        form.addRow(_("Passphrase:"), self.passphrase)
        form.addRow(_("Repeat it:"), self.repeat)
        self.strength = QProgressBar(self)
        self.strength.setRange(0, 4)
        self.strength.setAccessibleName(_("Passphrase strength"))
        form.addRow(_("Strength:"), self.strength)
        layout.addLayout(form)
        tip = QLabel(_("Tip: four or more unrelated words are easy to remember and hard to "
                       "guess."), self)
        tip.setWordWrap(True)
        tip.setAccessibleName(tip.text())
        layout.addWidget(tip)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAccessibleName(_("Message"))
        self.message.setStyleSheet("color: #a4161a; font-weight: bold;")
        layout.addWidget(self.message)
        self.create_button = QPushButton(_("Create my profile"), self)
        self.create_button.setAccessibleName(_("Create my profile"))
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self._create)
        layout.addWidget(self.create_button)
        layout.addStretch(1)
        self.passphrase.textChanged.connect(self._update_strength)
        self.repeat.returnPressed.connect(self._create)

    def _update_strength(self, text: str) -> None:
        score = passphrase_strength(text)
        self.strength.setValue(score)
        self.strength.setFormat(_(_STRENGTH_WORDS[score]))

    def _choose_pack(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _filter = QFileDialog.getOpenFileName(
            self, _("Choose the deployment pack"), str(Path.home()),
            _("Deployment packs (*.json *.fspack);;All files (*)"))
        if path:
            self.pack_path = Path(path)
            self.pack_label.setText(_("Deployment pack: {name}").format(name=self.pack_path.name))

    def _create(self) -> None:
        if self.passphrase.text() != self.repeat.text():
            self.message.setText(_("The two passphrases differ."))
            return
        self.message.setText(_("Creating the profile…"))
        self.create_button.setEnabled(False)
        self.create_requested.emit(self.passphrase.text(), self.pack_path)

    def failed(self, message: str) -> None:
        self.message.setText(message)
        self.create_button.setEnabled(True)

    def showEvent(self, event: QShowEvent) -> None:
        # Typing starts in the passphrase field: whatever had focus before (Quick exit,
        # the first button of the window) must never take the keys, and a space typed
        # there must not press a button.
        super().showEvent(event)
        self.passphrase.setFocus()

    def clear(self) -> None:
        self.passphrase.clear()
        self.repeat.clear()
        self.message.clear()
        self.create_button.setEnabled(True)


class UnlockScreen(QWidget):
    """Asks for the passphrase.

    Signals:
        unlock_requested(str): the passphrase typed.
    """

    unlock_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        title = QLabel(_("FieldScreen is locked"), self)
        title.setStyleSheet("font-size: 18pt; font-weight: bold;")
        title.setAccessibleName(title.text())
        layout.addWidget(title)
        self.label = QLabel(_("Passphrase:"), self)
        layout.addWidget(self.label)
        self.passphrase = QLineEdit(self)
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setAccessibleName(_("Passphrase"))
        self.label.setBuddy(self.passphrase)
        self.passphrase.returnPressed.connect(self._unlock)
        layout.addWidget(self.passphrase)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAccessibleName(_("Message"))
        self.message.setStyleSheet("color: #a4161a; font-weight: bold;")
        layout.addWidget(self.message)
        self.unlock_button = QPushButton(_("Unlock"), self)
        self.unlock_button.setAccessibleName(_("Unlock"))
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self._unlock)
        layout.addWidget(self.unlock_button)
        layout.addStretch(2)

    def _unlock(self) -> None:
        passphrase = self.passphrase.text()
        self.passphrase.clear()
        self.message.setText(_("Unlocking…"))
        self.unlock_button.setEnabled(False)
        self.unlock_requested.emit(passphrase)

    def failed(self, message: str) -> None:
        self.message.setText(message)
        self.unlock_button.setEnabled(True)
        self.passphrase.setFocus()

    def reset(self) -> None:
        self.passphrase.clear()
        self.message.clear()
        self.unlock_button.setEnabled(True)
        self.passphrase.setFocus()

    def showEvent(self, event: QShowEvent) -> None:
        # As on the first-run screen: the keys go to the passphrase field from the start.
        super().showEvent(event)
        self.passphrase.setFocus()
