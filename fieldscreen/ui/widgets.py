"""Small widgets shared by screens: the training banner and read-only tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QWidget

from fieldscreen.i18n import _

if TYPE_CHECKING:
    from PySide6.QtWidgets import QTableWidget


class TrainingBanner(QLabel):
    """The "TRAINING — not real data" strip shown on every screen in demo mode."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_("TRAINING — not real data"), parent)
        from PySide6.QtCore import Qt  # only in demo mode; Qt's enums are not free to build

        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setObjectName("trainingBanner")
        self.setAccessibleName(_("Training mode: nothing here is real data"))
        self.setStyleSheet("#trainingBanner { background: #7a1212; color: white; "
                           "font-weight: bold; padding: 6px; }")


def read_only_table(parent: QWidget, headers: list[str], name: str) -> QTableWidget:
    """A table of whole-row selections that nobody edits, columns sized to their contents."""
    from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget

    table = QTableWidget(0, len(headers), parent)
    table.setHorizontalHeaderLabels(headers)
    table.setAccessibleName(name)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return table
