"""Single-choice questions on the worker's pages: a vertical column of choices, or a
searchable list once there are more than a handful.

A row of radio buttons ran off the side of the window for long lists (18 countries in one
row; "Unknown" and "Stateless" out of sight, arrow keys moving focus to buttons nobody could
see). A column never grows sideways, and past `SEARCH_FROM` choices a list that filters as
the worker types keeps everything reachable by keyboard inside a bounded height.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.i18n import _

# More choices than this become a searchable list: a column of 7 radio buttons still fits
# a 600 px high screen at 100 % text; 17 countries do not.
SEARCH_FROM = 7
# Rows the searchable list shows at once; it scrolls inside this height, never sideways.
VISIBLE_ROWS = 6


class ChoiceColumn(QWidget):
    """A few exclusive choices, one under the other; digit N chooses the Nth.

    Signals:
        chosen(str): the name of the choice just chosen.
    """

    chosen = Signal(str)

    def __init__(self, choices: Sequence[tuple[str, str]], current: object, question: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.group = QButtonGroup(self)
        self.buttons: list[QRadioButton] = []
        for number, (name, text) in enumerate(choices, start=1):
            radio = QRadioButton(f"{number}. {text}", self)
            radio.setAccessibleName(f"{question}: {text}")
            radio.setProperty("choice", name)
            radio.setChecked(name == current)
            radio.toggled.connect(lambda on, choice=name: self.chosen.emit(choice) if on
                                  else None)
            self.group.addButton(radio)
            layout.addWidget(radio)
            self.buttons.append(radio)

    def first_control(self) -> QWidget:
        checked = self.group.checkedButton()
        return checked if checked is not None else self.buttons[0]

    def choose_number(self, number: int) -> bool:
        """Choose the `number`th choice (1-based); False when there is none."""
        if not 0 < number <= len(self.buttons):
            return False
        self.buttons[number - 1].setChecked(True)
        self.buttons[number - 1].setFocus()
        return True

    def has_answer(self) -> bool:
        return self.group.checkedButton() is not None


class SearchableChoices(QWidget):
    """A long list of exclusive choices: type to narrow it, arrows to move, the highlighted
    row is the answer.

    Signals:
        chosen(str): the name of the choice just chosen.
    """

    chosen = Signal(str)

    def __init__(self, choices: Sequence[tuple[str, str]], current: object, question: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText(_("Type to search, then ↑ ↓ to choose"))
        self.search.setAccessibleName(_("Search the answers to: {question}").format(
            question=question))
        layout.addWidget(self.search)
        self.list = QListWidget(self)
        self.list.setAccessibleName(question)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        for name, text in choices:
            row = QListWidgetItem(text, self.list)
            row.setData(Qt.ItemDataRole.UserRole, name)
            if name == current:
                self.list.setCurrentItem(row)
        self.list.setFixedHeight(self.list.sizeHintForRow(0) * VISIBLE_ROWS
                                 + 2 * self.list.frameWidth() + 4)
        layout.addWidget(self.list)
        self.none_found = QLabel(_("No answer matches; clear the search to see them all."),
                                 self)
        self.none_found.setWordWrap(True)
        self.none_found.hide()
        layout.addWidget(self.none_found)
        self.search.textChanged.connect(self._filter)
        self.search.installEventFilter(self)
        self.list.currentItemChanged.connect(self._current_changed)

    def first_control(self) -> QWidget:
        return self.search

    def has_answer(self) -> bool:
        return self.list.currentItem() is not None

    def choose_number(self, number: int) -> bool:
        return False  # digits are typed into the search box

    def visible_rows(self) -> list[QListWidgetItem]:
        rows = (self.list.item(i) for i in range(self.list.count()))
        return [row for row in rows if row is not None and not row.isHidden()]

    def _filter(self, text: str) -> None:
        wanted = text.strip().casefold()
        for index in range(self.list.count()):
            row = self.list.item(index)
            row.setHidden(bool(wanted) and wanted not in row.text().casefold())
        shown = self.visible_rows()
        self.none_found.setVisible(not shown)
        current = self.list.currentItem()
        if shown and wanted and (current is None or current.isHidden()):
            self.list.setCurrentItem(shown[0])
        if current is not None and not current.isHidden():
            self.list.scrollToItem(current)

    def _current_changed(self, current: QListWidgetItem | None,
                         _previous: QListWidgetItem | None) -> None:
        if current is not None:
            self.chosen.emit(current.data(Qt.ItemDataRole.UserRole))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Up and Down in the search box move through the (filtered) list without leaving it.
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                shown = self.visible_rows()
                if shown:
                    current = self.list.currentItem()
                    position = shown.index(current) if current in shown else -1
                    step = 1 if key == Qt.Key.Key_Down else -1
                    position = max(0, min(len(shown) - 1, position + step))
                    self.list.setCurrentItem(shown[position])
                return True
        return super().eventFilter(watched, event)
