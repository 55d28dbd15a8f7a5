"""The home screen: one large "New screening", drafts to resume, today's screenings, sync status."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.i18n import N_, _, format_date, format_time, ngettext

# PySide builds the whole `Qt` namespace of enums on first access (about 25 ms); modules on
# the path to the unlock screen reach for it only once the window is up.

if TYPE_CHECKING:
    from fieldscreen.store.records import RecordSummary


_STATUS_WORDS = {
    "draft": N_("draft"),
    "final": N_("saved, not yet sent"),
    "sealed": N_("sealed for sending"),
    "received": N_("received by the coordinator"),
}


def _parse_stamp(stamp: str) -> dt.datetime:
    """A stored UTC time ("...Z") as local time, for display."""
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone()


class HomeScreen(QWidget):
    """What the worker sees between screenings.

    Signals:
        new_screening(): start a screening.
        resume_draft(str): resume the draft with this record id.
        sync_requested(): sync now.
        export_requested(): copy sealed batches to a folder (USB stick).
        trainer_requested(): open the training scenarios (demo mode only).
    """

    new_screening = Signal()
    resume_draft = Signal(str)
    sync_requested = Signal()
    export_requested = Signal()
    trainer_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.new_button = QPushButton(_("New screening"), self)
        self.new_button.setAccessibleName(_("Start a new screening"))
        self.new_button.setMinimumHeight(80)
        self.new_button.setStyleSheet("font-size: 20pt; font-weight: bold;")
        self.new_button.clicked.connect(self.new_screening.emit)
        layout.addWidget(self.new_button)
        self.trainer_button = QPushButton(_("Training scenarios"), self)
        self.trainer_button.setAccessibleName(_("Open the training scenarios"))
        self.trainer_button.clicked.connect(self.trainer_requested.emit)
        self.trainer_button.hide()
        layout.addWidget(self.trainer_button)

        drafts_label = QLabel(_("Drafts to resume:"), self)
        layout.addWidget(drafts_label)
        self.drafts = QListWidget(self)
        self.drafts.setAccessibleName(_("Drafts to resume (press Enter to resume)"))
        drafts_label.setBuddy(self.drafts)
        self.drafts.itemActivated.connect(self._activated)
        layout.addWidget(self.drafts)

        today_label = QLabel(_("Today's screenings:"), self)
        layout.addWidget(today_label)
        self.today = QListWidget(self)
        self.today.setAccessibleName(_("Today's screenings"))
        today_label.setBuddy(self.today)
        layout.addWidget(self.today)

        self.sync_progress = QProgressBar(self)
        self.sync_progress.setAccessibleName(_("Sync in progress"))
        self.sync_progress.setRange(0, 0)
        self.sync_progress.hide()
        layout.addWidget(self.sync_progress)
        sync_row = QHBoxLayout()
        self.sync_status = QLabel(self)
        self.sync_status.setWordWrap(True)
        self.sync_status.setAccessibleName(_("Sync status"))
        sync_row.addWidget(self.sync_status, 1)
        self.sync_button = QPushButton(_("Sync now"), self)
        self.sync_button.setAccessibleName(_("Sync now"))
        self.sync_button.clicked.connect(self.sync_requested.emit)
        sync_row.addWidget(self.sync_button)
        self.export_button = QPushButton(_("Export to USB folder…"), self)
        self.export_button.setAccessibleName(_("Export sealed batches to a USB folder"))
        self.export_button.clicked.connect(self.export_requested.emit)
        sync_row.addWidget(self.export_button)
        layout.addLayout(sync_row)

    def _activated(self, item: QListWidgetItem) -> None:
        from PySide6.QtCore import Qt

        self.resume_draft.emit(item.data(Qt.ItemDataRole.UserRole))

    def show_records(self, summaries: list[RecordSummary], today: str) -> None:
        """Fill the lists; `today` is the UTC date prefix (YYYY-MM-DD)."""
        from PySide6.QtCore import Qt  # not at import: see the note at the top

        from fieldscreen.engine.explain import outcome_title
        from fieldscreen.forms.schema import Outcome

        self.drafts.clear()
        self.today.clear()
        for summary in summaries:
            when = format_time(_parse_stamp(summary.updated_at))
            if summary.status.value == "draft":
                started = _parse_stamp(summary.created_at)
                item = QListWidgetItem(_("Draft started {date} {time}").format(
                    date=format_date(started.date()), time=format_time(started)))
                item.setData(Qt.ItemDataRole.UserRole, summary.id)
                self.drafts.addItem(item)
            elif summary.created_at.startswith(today):
                decision = (outcome_title(Outcome(summary.decision)) if summary.decision
                            else "-")
                status = _(_STATUS_WORDS.get(summary.status.value, summary.status.value))
                self.today.addItem(f"{when}  {decision}  ({status})")
        if self.drafts.count() == 0:
            self.drafts.addItem(_("No drafts."))
        if self.today.count() == 0:
            self.today.addItem(_("No screenings yet today."))

    def set_syncing(self, syncing: bool) -> None:
        self.sync_progress.setVisible(syncing)
        self.sync_button.setEnabled(not syncing)
        self.export_button.setEnabled(not syncing)

    def show_sync(self, pending: int, last_sync: str | None, online: bool | None,
                  detail: str = "") -> None:
        parts = [ngettext("{count} batch waiting to be sent", "{count} batches waiting to be "
                          "sent", pending).format(count=pending)]
        parts.append(_("last sync: {when}").format(when=last_sync) if last_sync
                     else _("not synced yet"))
        if online is not None:
            parts.append(_("online") if online else _("offline"))
        if detail:
            parts.append(detail)
        self.sync_status.setText(" · ".join(parts))

    def clear(self) -> None:
        self.drafts.clear()
        self.today.clear()
        self.sync_status.clear()
