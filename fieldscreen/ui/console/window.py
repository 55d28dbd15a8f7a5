"""The coordinator's console: unlock, then import, referral queue, screenings of one child,
dashboard and devices.

Like the field window, every database, crypto and network call runs on the TaskRunner's
worker thread and comes back to the GUI thread through its signal. At unlock the imported
records' summaries are decrypted once into the in-memory statistics table; the dashboard
counts over it without touching the disk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.i18n import _, ngettext
from fieldscreen.store.layout import profile_names
from fieldscreen.ui.about import add_about
from fieldscreen.ui.console.dashboard import DashboardPanel
from fieldscreen.ui.console.devices import DevicesPanel
from fieldscreen.ui.console.imports import ImportPanel
from fieldscreen.ui.console.linkage import LinkagePanel
from fieldscreen.ui.console.referrals import ReferralPanel
from fieldscreen.ui.profile_window import ProfileWindow, person_message, unlock_failure
from fieldscreen.ui.tasks import TaskRunner
from fieldscreen.ui.unlock import FirstRunScreen, UnlockScreen
from fieldscreen.ui.widgets import TrainingBanner

if TYPE_CHECKING:
    from fieldscreen.exchange.transports import Transport
    from fieldscreen.forms.schema import Form
    from fieldscreen.forms.services import ServicesDirectory
    from fieldscreen.reporting.facts import ScreeningFacts
    from fieldscreen.store.crypto import KdfParameters
    from fieldscreen.store.profile import ProfileStore, UnlockedProfile

Clock = Callable[[], dt.datetime]
QUICK_EXIT_KEYS = ("F12", "Ctrl+Shift+X")


def coordinators_only() -> str:
    """Why a tab or a button is disabled for a supervisor's or partner organisation's
    login (a function: the language is chosen after import)."""
    return _("For coordinators only: this database login may read, not change.")


def shipped_services() -> ServicesDirectory | None:
    """The services directory shipped with FieldScreen, the one the field window uses
    without a pack; None when it is missing or cannot be read (the case detail then says
    no directory is installed rather than the console refusing to open)."""
    from fieldscreen.errors import SourceProblems
    from fieldscreen.forms.services import load_services
    from fieldscreen.paths import shipped_dir

    path = shipped_dir("forms") / "services.yaml"
    try:
        return load_services(path) if path.is_file() else None
    except (OSError, SourceProblems):
        return None


class ConsoleWindow(ProfileWindow):
    """The coordinator's window.

    Args:
        data_dir: the data folder profiles live in.
        profile_name: the coordinator profile this window opens (created on first run).
        form_loader: loads the form whose choice labels name the statistics categories.
        services_loader: loads the local services directory the case detail matches
            (default: the shipped one).
        demo: training mode (banner; opened without a passphrase).
        demo_passphrase: the fixed passphrase of a training profile.
        idle_minutes: auto-lock after this much inactivity.
        kdf: Argon2id parameters for a new profile (None: calibrate on this laptop).
        clock: the current aware time.
        make_transport: opens a WebDAV URL (tests pass one for their loopback server).
        import_source: a folder or URL to offer on the import panel (training: the relay).

    Signals:
        locked(): the profile was locked and every panel cleared.
        opened(): a profile was unlocked and its panels filled.
        facts_ready(): the statistics table was (re)built.
        imported(object): an import finished (its ImportReport).
    """

    locked = Signal()
    opened = Signal()
    facts_ready = Signal()
    imported = Signal(object)

    def __init__(self, *, data_dir: Path, profile_name: str,
                 form_loader: Callable[[], Form | None] | None = None,
                 services_loader: Callable[[], ServicesDirectory | None] = shipped_services,
                 demo: bool = False,
                 demo_passphrase: str | None = None, idle_minutes: float = 15.0,
                 kdf: KdfParameters | None = None, clock: Clock | None = None,
                 make_transport: Callable[[str, str | None, str | None], Transport]
                 | None = None, import_source: str | None = None,
                 database: str | None = None) -> None:
        super().__init__()
        self.data_dir = data_dir
        # The profile on a PostgreSQL server instead of the local SQLite file, if given.
        self.database = database
        self.profile_name = profile_name
        self.demo = demo
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.profile: UnlockedProfile | None = None
        self.facts: ScreeningFacts | None = None
        self.form: Form | None = None
        self._form_loader = form_loader
        self.services: ServicesDirectory | None = None
        self._services_loader = services_loader
        self._services_loaded = False
        self._demo_passphrase = demo_passphrase
        self._kdf = kdf
        self._store: ProfileStore | None = None
        self._make_transport = make_transport
        # False for a supervisor's or partner organisation's database login: it reads only
        # its rows and writes nothing of the data (docs/decisions.md 76, 78).
        self.every_row = True
        self.tasks = TaskRunner(self)

        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        self.banner = TrainingBanner(central) if demo else None
        if self.banner is not None:
            outer.addWidget(self.banner)
        header = QHBoxLayout()
        header.setContentsMargins(8, 4, 8, 0)
        self.title = QLabel(_("FieldScreen — coordinator"), central)
        self.title.setStyleSheet("font-weight: bold;")
        self.title.setAccessibleName(self.title.text())
        header.addWidget(self.title, 1)
        # The full check of the data file: past 64 MiB the open-time check is the cheap one
        # (docs/decisions.md, 36), so a coordinator runs this now and then.
        self.check_status = QLabel(central)
        self.check_status.setWordWrap(True)
        header.addWidget(self.check_status, 2)
        self.check_progress = QProgressBar(central)
        self.check_progress.setRange(0, 0)  # SQLite cannot say in advance how long it takes
        self.check_progress.setMaximumWidth(120)
        self.check_progress.setAccessibleName(_("Checking the whole data file"))
        self.check_progress.hide()
        header.addWidget(self.check_progress)
        self.check_button = QPushButton(_("Check the data file"), central)
        self.check_button.setAccessibleName(_("Check the whole data file for damage"))
        self.check_button.clicked.connect(self.check_data_file)
        header.addWidget(self.check_button)
        # About: the licences and credits (the pictograms' attribution); F1 opens it too.
        self.about_button = add_about(self, header, central)
        self.lock_button = QPushButton(_("Lock"), central)
        self.lock_button.setAccessibleName(_("Lock FieldScreen now"))
        self.lock_button.clicked.connect(self.lock)
        header.addWidget(self.lock_button)
        self.quick_exit_button = QPushButton(_("Quick exit (F12)"), central)
        self.quick_exit_button.setAccessibleName(_("Quick exit: lock and close at once"))
        self.quick_exit_button.setStyleSheet("background:#334155; color:white; "
                                             "font-weight:bold; padding:4px 10px;")
        self.quick_exit_button.clicked.connect(self.quick_exit)
        header.addWidget(self.quick_exit_button)
        outer.addLayout(header)
        # Said once, above the tabs, to a login that reads only some rows: why the counts
        # are smaller and why the coordinators' tabs and buttons are disabled.
        self.scope_note = QLabel(central)
        self.scope_note.setWordWrap(True)
        self.scope_note.setContentsMargins(8, 0, 8, 0)
        self.scope_note.setAccessibleName(_("What this login may see and do"))
        self.scope_note.hide()
        outer.addWidget(self.scope_note)

        self.stack = QStackedWidget(central)
        self.first_run = FirstRunScreen(self.stack, coordinator=True)
        self.unlock_screen = UnlockScreen(self.stack)
        self.tabs = QTabWidget(self.stack)
        self.tabs.setAccessibleName(_("Coordinator console"))
        self.import_panel = ImportPanel(self, self)
        self.referral_panel = ReferralPanel(self, self)
        self.linkage_panel = LinkagePanel(self, self)
        self.dashboard_panel = DashboardPanel(self, self)
        self.devices_panel = DevicesPanel(self, self)
        if import_source:
            self.import_panel.source.setText(import_source)
        self.tabs.addTab(self.import_panel, _("Import"))
        self.tabs.addTab(self.referral_panel, _("Referral queue"))
        self.tabs.addTab(self.linkage_panel, _("Same child?"))
        self.tabs.addTab(self.dashboard_panel, _("Dashboard"))
        self.tabs.addTab(self.devices_panel, _("Devices and packs"))
        for screen in (self.first_run, self.unlock_screen, self.tabs):
            self.stack.addWidget(screen)
        outer.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.setWindowTitle(_("FieldScreen coordinator — training") if demo
                            else _("FieldScreen coordinator"))
        self.first_run.create_requested.connect(self._create_profile)
        self.unlock_screen.unlock_requested.connect(self._unlock)

        for keys in QUICK_EXIT_KEYS:
            QShortcut(QKeySequence(keys), self, self.quick_exit,
                      context=Qt.ShortcutContext.ApplicationShortcut)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.setInterval(int(idle_minutes * 60_000))
        self.idle_timer.timeout.connect(self.lock)
        self.resize(1100, 760)
        self._start()

    # -- work ------------------------------------------------------------------------------

    def run_task(self, work: Callable[[], Any], done: Callable[[Any], None],
                 failed: Callable[[str], None]) -> None:
        """Run `work` on the worker thread; `done(result)` or `failed(message)` on this one.

        A result that arrives after the profile was locked is dropped: the panels were
        cleared and must stay clear.
        """
        profile = self.profile

        def delivered(result: Any) -> None:
            if self.profile is profile:
                done(result)

        def refused(error: BaseException) -> None:
            if self.profile is profile:
                failed(person_message(error))

        self.tasks.run(work, delivered, refused)

    def transport_for(self, url: str, user: str | None, password: str | None) -> Transport:
        if self._make_transport is not None:
            return self._make_transport(url, user, password)
        from fieldscreen.exchange.transports import transport_for

        return transport_for(url, username=user, password=password)

    @property
    def store(self) -> ProfileStore:
        if self._store is None:
            from fieldscreen.store.profile import ProfileStore

            self._store = ProfileStore(self.data_dir, clock=self.clock, kdf=self._kdf,
                                       database=self.database)
        return self._store

    @property
    def quarantine_dir(self) -> Path:
        assert self.profile is not None
        return self.profile.database_path.parent / "quarantine"

    # -- start, unlock, lock ---------------------------------------------------------------

    def _start(self) -> None:
        self.lock_button.hide()
        self._hide_check()
        # On a server the profile is asked for at unlock: no connection before then.
        if self.database is not None or self.profile_name in profile_names(self.data_dir):
            self.stack.setCurrentWidget(self.unlock_screen)
            self.unlock_screen.reset()
            if self.demo and self._demo_passphrase:
                self._unlock(self._demo_passphrase)
        elif self.demo and self._demo_passphrase:
            self._create_profile(self._demo_passphrase, None)
        else:
            self.stack.setCurrentWidget(self.first_run)

    def _load_form(self) -> None:
        # On the worker: YAML loading is not free.
        if self.form is None and self._form_loader is not None:
            self.form = self._form_loader()
        if not self._services_loaded:
            self.services = self._services_loader()
            self._services_loaded = True

    def _create_profile(self, passphrase: str, _pack: Path | None) -> None:
        def work() -> UnlockedProfile:
            from fieldscreen.store.profile import ProfileRole
            from fieldscreen.workflows.profiles import create_profile

            profile, _pack = create_profile(self.store, self.profile_name,
                                            ProfileRole.COORDINATOR, passphrase, demo=self.demo)
            self._load_form()
            return profile

        self.tasks.run(work, self._opened,
                       lambda error: self.first_run.failed(person_message(error)))

    def _unlock(self, passphrase: str) -> None:
        def work() -> UnlockedProfile:
            from fieldscreen.workflows.profiles import unlock_profile

            profile = unlock_profile(self.store, self.profile_name, passphrase,
                                     require_coordinator=True)
            self._load_form()
            return profile

        self.tasks.run(work, self._opened,
                       lambda error: self.unlock_screen.failed(unlock_failure(error)))

    def _opened(self, profile: UnlockedProfile) -> None:
        self.profile = profile
        self.first_run.clear()
        self.unlock_screen.reset()
        self.lock_button.show()
        self.check_button.show()
        self.idle_timer.start()
        self.stack.setCurrentWidget(self.tabs)
        self._apply_rights(profile.inbox.sees_every_row)
        self.refresh_all()
        self.opened.emit()

    def _apply_rights(self, every_row: bool) -> None:
        """A login that reads only its areas' or partner's rows (on a shared server) may
        read the queue, the cases and the dashboard; importing, linking screenings, devices
        and packs, and changing cases are a coordinator's, so they are disabled with the
        reason, rather than failing when used."""
        self.every_row = every_row
        reason = "" if every_row else coordinators_only()
        for panel in (self.import_panel, self.linkage_panel, self.devices_panel):
            index = self.tabs.indexOf(panel)
            self.tabs.setTabEnabled(index, every_row)
            self.tabs.setTabToolTip(index, reason)
        self.referral_panel.set_may_change(every_row, reason)
        if every_row:
            self.scope_note.clear()
            self.scope_note.hide()
        else:
            self.scope_note.setText(_(
                "This database login reads only the screenings of its areas or of its "
                "partner organisation, as the database administrator set it: the queue and "
                "the dashboard show those. Importing, changing cases, linking screenings and "
                "writing packs are for coordinators."))
            self.scope_note.show()
            self.tabs.setCurrentWidget(self.referral_panel)

    def refresh_all(self) -> None:
        """Fill every panel from the profile, and rebuild the statistics table."""
        if self.every_row:  # the quarantine and the devices are the coordinators' tables
            self.import_panel.refresh_quarantine()
            self.devices_panel.refresh()
        self.referral_panel.refresh()
        self.rebuild_facts()

    def rebuild_facts(self) -> None:
        profile = self.profile
        if profile is None:
            return
        from fieldscreen.reporting.snapshot import load_facts

        self.dashboard_panel.show_loading()

        def done(facts: ScreeningFacts) -> None:
            self.facts = facts
            self.dashboard_panel.set_facts(facts)
            self.facts_ready.emit()

        self.run_task(lambda: load_facts(profile.inbox), done,
                      self.dashboard_panel.show_error)

    def check_data_file(self) -> None:
        """Run the full check of the data file (and of every stored value) in the background."""
        profile = self.profile
        if profile is None:
            return
        from fieldscreen.workflows.store_check import StoreCheck, check_coordinator_store

        self.check_button.setEnabled(False)
        self.check_progress.show()
        self.check_status.setText(_("Checking the whole data file; on a large profile this "
                                    "takes minutes. You can go on working."))

        def done(result: StoreCheck) -> None:
            self._check_finished()
            lines = [ngettext("Checked {count} imported record.",
                              "Checked {count} imported records.",
                              result.records).format(count=result.records)]
            if not self.every_row:
                lines.append(_("This database login reads only the records of its areas or "
                               "partner organisation: the check covered those, and the "
                               "tables it may read."))
            lines += [_("The database file passed its integrity check.") if result.integrity_ok
                      else _("The database file FAILED its integrity check.")]
            if result.unreadable:
                lines.append(ngettext(
                    "{count} stored value cannot be read.",
                    "{count} stored values cannot be read.",
                    len(result.unreadable)).format(count=len(result.unreadable)))
            if not result.ok:
                lines.append(_("Keep the profile as it is and make a copy of its folder "
                               "before anything else; 'fieldscreen coordinator check' lists "
                               "what cannot be read."))
            self.check_status.setText(" ".join(lines))

        def failed(message: str) -> None:
            self._check_finished()
            self.check_status.setText(message)

        self.run_task(lambda: check_coordinator_store(profile), done, failed)

    def _check_finished(self) -> None:
        self.check_progress.hide()
        self.check_button.setEnabled(True)

    def _hide_check(self) -> None:
        self.check_button.hide()
        self.check_button.setEnabled(True)
        self.check_progress.hide()
        self.check_status.clear()

    def after_import(self, report: Any) -> None:
        self.refresh_all()
        self.imported.emit(report)

    def lock(self) -> None:
        """Drop the keys, the statistics table and every panel's contents."""
        self.idle_timer.stop()
        for panel in (self.import_panel, self.referral_panel, self.linkage_panel,
                      self.dashboard_panel, self.devices_panel):
            panel.clear()
        self.facts = None
        profile, self.profile = self.profile, None
        if profile is not None:
            # Queued behind any import still running, so nothing acknowledged is lost.
            self.tasks.run(profile.lock, lambda _r: None, lambda _e: None)
        self.stack.setCurrentWidget(self.unlock_screen)
        self.unlock_screen.reset()
        self.lock_button.hide()
        self._hide_check()
        self.scope_note.clear()
        self.scope_note.hide()
        self.locked.emit()

    def closeEvent(self, event: Any) -> None:
        if self.profile is not None:
            self.lock()
        self.tasks.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        super().closeEvent(event)
