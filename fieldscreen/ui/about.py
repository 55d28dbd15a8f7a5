"""The About window: what FieldScreen is, its licence, and the credits the licences ask for.

Reachable from both windows by F1 and by an "About" button in their header. The pictograms'
licence (CC BY-SA 4.0) asks for OpenMoji's attribution wherever they are shown; it is given
here in OpenMoji's own words, which are not translated.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QBoxLayout,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldscreen import __version__
from fieldscreen.forms import pictograms
from fieldscreen.i18n import _

ABOUT_KEY = "F1"


def about_text() -> str:
    """The About window's words, as plain text (also what a screen reader reads)."""
    return "\n\n".join([
        _("FieldScreen {version}").format(version=__version__),
        _("Offline screening of children for vulnerability to trafficking and exploitation. "
          "Free software under the GNU General Public License, version 3 or later."),
        _("Pictures of the questions to the child:") + "\n" + pictograms.ATTRIBUTION + "\n"
        + pictograms.SOURCE_URL + " · " + pictograms.LICENCE_URL,
        _("Spoken questions: the deployment's recorded voices, or speech made with "
          "espeak-ng (GNU General Public License, version 3 or later)."),
        _("Built with Qt and PySide6 (GNU Lesser General Public License, version 3)."),
    ])


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("About FieldScreen"))
        layout = QVBoxLayout(self)
        self.text = QLabel(about_text(), self)
        self.text.setObjectName("aboutText")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.text.setAccessibleName(self.text.text())
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)


def translate_about_button(button: QPushButton) -> None:
    """The button's words in the interface language (again after a switch)."""
    button.setText(_("About ({key})").format(key=ABOUT_KEY))
    button.setAccessibleName(_("About FieldScreen and its credits"))


def add_about(window: QWidget, header: QBoxLayout, parent: QWidget) -> QPushButton:
    """Put an About button in `header` and bind F1 in `window`; both open AboutDialog."""

    def show() -> None:
        dialog = AboutDialog(window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    button = QPushButton(parent)
    button.setObjectName("aboutButton")
    translate_about_button(button)
    button.clicked.connect(show)
    header.addWidget(button)
    QShortcut(QKeySequence(ABOUT_KEY), window, show)
    return button
