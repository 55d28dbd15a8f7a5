"""The "TRAINING — not real data" banner shown on every screen in demo mode."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from fieldscreen.i18n import _


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
