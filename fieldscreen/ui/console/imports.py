"""The console's import panel: batches from a folder, files, a WebDAV target or a drop.

Shows each batch as it is settled (imported, already imported, quarantined and why) and
the quarantine, where a refused batch can be tried again once its device is enrolled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.i18n import N_, _
from fieldscreen.ui.widgets import read_only_table

if TYPE_CHECKING:
    from fieldscreen.exchange.importer import BatchOutcome, ImportReport
    from fieldscreen.store.inbox import QuarantineEntry
    from fieldscreen.ui.console.shell import ConsoleShell

_STATUS_WORDS = {"imported": N_("Imported"), "duplicate": N_("Already imported"),
                 "quarantined": N_("Quarantined")}


def _table(parent: QWidget, headers: list[str], name: str) -> QTableWidget:
    table = read_only_table(parent, headers, name)
    table.horizontalHeader().setStretchLastSection(True)  # the reasons need the room
    return table


def _item(text: Any) -> QTableWidgetItem:
    return QTableWidgetItem(str(text))


class ImportPanel(QWidget):
    """Import controls, per-batch results and the quarantine.

    Signals:
        batch_started(int, str): (internal) the worker began reading a batch.
        batch_settled(object): (internal) the worker settled a batch (a BatchOutcome).
    """

    batch_started = Signal(int, str)
    batch_settled = Signal(object)

    def __init__(self, window: ConsoleShell, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ = window
        self.quarantine_entries: list[QuarantineEntry] = []
        self.running = False
        self.setAcceptDrops(True)
        layout = QVBoxLayout(self)

        intro = QLabel(_("Import the batches the field laptops sent: choose their folder (a "
                         "USB stick or a synced folder), batch files, or the WebDAV address "
                         "from your deployment pack. You can also drop batch files here."),
                       self)
        intro.setWordWrap(True)
        intro.setAccessibleName(_("How to import"))
        layout.addWidget(intro)

        form = QFormLayout()
        source_row = QHBoxLayout()
        self.source = QLineEdit(self)
        self.source.setPlaceholderText(_("A folder, a batch file or an https:// address"))
        self.source.setAccessibleName(_("Where to import from"))
        source_row.addWidget(self.source, 1)
        self.folder_button = QPushButton(_("Choose folder…"), self)
        self.folder_button.setAccessibleName(_("Choose the folder holding the batches"))
        self.folder_button.clicked.connect(self._choose_folder)
        source_row.addWidget(self.folder_button)
        self.files_button = QPushButton(_("Choose files…"), self)
        self.files_button.setAccessibleName(_("Choose batch files"))
        self.files_button.clicked.connect(self._choose_files)
        source_row.addWidget(self.files_button)
        form.addRow(_("Import from:"), source_row)
        self.webdav_user = QLineEdit(self)
        self.webdav_user.setAccessibleName(_("WebDAV user name"))
        form.addRow(_("WebDAV user (if any):"), self.webdav_user)
        self.webdav_password = QLineEdit(self)
        self.webdav_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.webdav_password.setAccessibleName(_("WebDAV password"))
        form.addRow(_("WebDAV password:"), self.webdav_password)
        layout.addLayout(form)

        action_row = QHBoxLayout()
        self.import_button = QPushButton(_("Import"), self)
        self.import_button.setAccessibleName(_("Import the batches now"))
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self._import_clicked)
        action_row.addWidget(self.import_button)
        self.progress = QProgressBar(self)
        self.progress.setAccessibleName(_("Import progress"))
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        action_row.addWidget(self.progress, 1)
        layout.addLayout(action_row)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setAccessibleName(_("Import status"))
        layout.addWidget(self.status)

        layout.addWidget(QLabel(_("Results of this import:"), self))
        self.results = _table(self, [_("Batch"), _("Result"), _("Records"), _("Duplicates"),
                                     _("Why / note")], _("Import results"))
        layout.addWidget(self.results, 1)

        layout.addWidget(QLabel(_("Quarantine (batches that were refused):"), self))
        self.quarantine = _table(self, [_("When"), _("Batch"), _("Why"), _("Device")],
                                 _("Quarantined batches"))
        layout.addWidget(self.quarantine, 1)
        retry_row = QHBoxLayout()
        hint = QLabel(_("A batch from a device that was not enrolled yet can be tried again "
                        "once you have enrolled it (Devices and packs)."), self)
        hint.setWordWrap(True)
        hint.setAccessibleName(_("About trying again"))
        retry_row.addWidget(hint, 1)
        self.retry_button = QPushButton(_("Try again"), self)
        self.retry_button.setAccessibleName(_("Import the chosen quarantined batch again"))
        self.retry_button.clicked.connect(self._retry_clicked)
        retry_row.addWidget(self.retry_button)
        layout.addLayout(retry_row)

        self.batch_started.connect(self._show_started)
        self.batch_settled.connect(self._add_result)

    # -- choosing sources ------------------------------------------------------------------

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, _("Choose the folder holding the "
                                                          "batches"))
        if folder:
            self.source.setText(folder)

    def _choose_files(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(
            self, _("Choose batch files"), "", _("FieldScreen batches (*.age);;All files (*)"))
        if files:
            self.import_sources(files)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.import_sources(paths)

    def _import_clicked(self) -> None:
        text = self.source.text().strip()
        if not text:
            self.status.setText(_("Choose a folder or batch files first, or type a WebDAV "
                                  "address."))
            return
        self.import_sources([text])

    # -- importing -------------------------------------------------------------------------

    def import_sources(self, sources: list[str]) -> None:
        """Import every batch in `sources` (files, folders, WebDAV URLs) on the worker."""
        window = self.window_
        profile = window.profile
        if profile is None or self.running:
            return
        from fieldscreen.exchange.importer import BatchImporter

        user = self.webdav_user.text().strip() or None
        password = self.webdav_password.text() or None
        self.running = True
        self.import_button.setEnabled(False)
        self.retry_button.setEnabled(False)
        self.results.setRowCount(0)
        self.progress.setRange(0, 0)  # busy: the number of batches is not known up front
        self.status.setText(_("Looking for batches…"))
        quarantine_dir = window.quarantine_dir

        def work() -> ImportReport:
            importer = BatchImporter(profile, quarantine_dir, window.clock)
            return importer.run(
                sources, lambda url: window.transport_for(url, user, password),
                progress=self.batch_started.emit, on_outcome=self.batch_settled.emit)

        window.run_task(work, self._finished, self._failed)

    def _show_started(self, index: int, source: str) -> None:
        self.status.setText(_("Checking batch {number}: {source}").format(
            number=index + 1, source=Path(source).name or source))

    def _add_result(self, outcome: BatchOutcome) -> None:
        row = self.results.rowCount()
        self.results.insertRow(row)
        note = outcome.reason or outcome.warning or ""
        for column, value in enumerate((Path(outcome.source).name or outcome.source,
                                        _(_STATUS_WORDS.get(outcome.status, outcome.status)),
                                        outcome.records, outcome.duplicates, note)):
            self.results.setItem(row, column, _item(value))
        if outcome.status == "quarantined":
            for column in range(self.results.columnCount()):
                cell = self.results.item(row, column)
                if cell is not None:
                    cell.setForeground(Qt.GlobalColor.darkRed)

    def _done_running(self) -> None:
        self.running = False
        self.import_button.setEnabled(True)
        self.retry_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)

    def _finished(self, report: ImportReport) -> None:
        self._done_running()
        summary = report.to_json()
        text = _("Batches: {imported} imported, {duplicate} already imported, {quarantined} "
                 "quarantined. Records: {records_imported} imported, {records_duplicate} "
                 "duplicates.").format(
            imported=summary["batches"]["imported"], duplicate=summary["batches"]["duplicate"],
            quarantined=summary["batches"]["quarantined"],
            records_imported=summary["records"]["imported"],
            records_duplicate=summary["records"]["duplicate"])
        if not report.batches and not report.errors:
            text = _("No batches were found there.")
        if report.errors:
            text += "\n" + "\n".join(report.errors)
        self.status.setText(text)
        self.window_.after_import(report)

    def _failed(self, message: str) -> None:
        self._done_running()
        self.status.setText(message)

    # -- quarantine ------------------------------------------------------------------------

    def refresh_quarantine(self) -> None:
        profile = self.window_.profile
        if profile is None:
            return
        self.window_.run_task(profile.inbox.quarantined, self._show_quarantine,
                              self.status.setText)

    def _show_quarantine(self, entries: list[QuarantineEntry]) -> None:
        self.quarantine_entries = entries
        self.quarantine.setRowCount(0)
        for row, entry in enumerate(entries):
            self.quarantine.insertRow(row)
            for column, value in enumerate((entry.at, Path(entry.source).name or entry.source,
                                            entry.reason, entry.device_id or "—")):
                self.quarantine.setItem(row, column, _item(value))

    def _retry_clicked(self) -> None:
        row = self.quarantine.currentRow()
        if row < 0 or row >= len(self.quarantine_entries):
            self.status.setText(_("Choose a quarantined batch first."))
            return
        self.retry(self.quarantine_entries[row])

    def retry(self, entry: QuarantineEntry) -> None:
        """Import a quarantined batch again from its kept copy."""
        window = self.window_
        profile = window.profile
        if profile is None or self.running:
            return
        from fieldscreen.exchange.importer import BatchImporter, ImportReport

        self.running = True
        self.import_button.setEnabled(False)
        self.retry_button.setEnabled(False)
        self.results.setRowCount(0)
        quarantine_dir = window.quarantine_dir

        def work() -> ImportReport:
            outcome = BatchImporter(profile, quarantine_dir, window.clock).retry(entry)
            self.batch_settled.emit(outcome)
            return ImportReport(batches=[outcome])

        window.run_task(work, self._finished, self._failed)

    def clear(self) -> None:
        self.results.setRowCount(0)
        self.quarantine.setRowCount(0)
        self.quarantine_entries = []
        self.status.clear()
        self.webdav_password.clear()
        self.running = False
        self.import_button.setEnabled(True)
        self.retry_button.setEnabled(True)
