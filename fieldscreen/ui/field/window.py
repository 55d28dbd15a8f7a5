"""The field-mode main window: screens, auto-lock, quick exit, drafts, saving and sync.

Slow or disk-bound work (unlock, saves, sync) runs on the TaskRunner's worker thread; the
window only moves between screens and shows results. Locking drops the profile's keys and
clears every screen's widgets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, QSize, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.i18n import (
    _,
    active_language,
    available_languages,
    is_right_to_left,
    language_name,
    ngettext,
    set_language,
)
from fieldscreen.store.layout import profile_names
from fieldscreen.ui.about import add_about, translate_about_button
from fieldscreen.ui.field.home import HomeScreen
from fieldscreen.ui.field.style import FOCUS_STYLE
from fieldscreen.ui.profile_window import ProfileWindow, person_message, unlock_failure
from fieldscreen.ui.tasks import TaskRunner
from fieldscreen.ui.unlock import FirstRunScreen, UnlockScreen
from fieldscreen.ui.widgets import TrainingBanner
from fieldscreen.workflows.screening import ScreeningWorkflow, load_checklist

# PySide builds the whole `Qt` namespace of enums on first access (about 25 ms); modules on
# the path to the unlock screen reach for it only once the window is up.

if TYPE_CHECKING:
    from fieldscreen.engine.session import ScreeningOutcome, ScreeningSession
    from fieldscreen.forms.media import QuestionAudio
    from fieldscreen.forms.schema import Form
    from fieldscreen.forms.services import ServicesDirectory
    from fieldscreen.store.crypto import KdfParameters
    from fieldscreen.store.profile import ProfileStore, UnlockedProfile
    from fieldscreen.ui.field.result import ResultScreen
    from fieldscreen.ui.field.sync_watcher import SyncWatcher
    from fieldscreen.ui.field.wizard import WizardScreen
    from fieldscreen.ui.training.trainer import TrainerScreen

Clock = Callable[[], dt.datetime]
Checklist = Callable[[], "tuple[Form, ServicesDirectory | None]"]
QUICK_EXIT_KEYS = ("F12", "Ctrl+Shift+X")
WARM_UP_DELAY_MS = 150
AFTER_FIRST_PAINT_MS = 100
# The size the window opens at when the screen has room for it.
PREFERRED_SIZE = QSize(900, 700)


def fitted_geometry(available: QRect, preferred: QSize = PREFERRED_SIZE) -> QRect:
    """The window's geometry on a screen whose free area is `available`: the preferred size
    or less, centred, never larger than the screen (1024x600 netbooks exist in the field)."""
    width = min(preferred.width(), available.width())
    height = min(preferred.height(), available.height())
    left = available.x() + (available.width() - width) // 2
    top = available.y() + (available.height() - height) // 2
    return QRect(left, top, width, height)


class FieldWindow(ProfileWindow):
    """The outreach worker's window.

    The store, the crypto libraries and the checklist are loaded on the worker thread after
    the window is shown, so the unlock screen appears as fast as a bare Qt window would.

    Args:
        data_dir: the data folder profiles live in.
        profile_name: the profile this window opens.
        checklist: loads the shipped form and services directory (used without a pack).
        kdf: Argon2id parameters for a new profile (None: calibrate on this laptop).
        demo: training mode (banner; the profile is created and opened without a passphrase).
        idle_minutes: auto-lock after this much inactivity.
        probe_seconds: how often the sync target is probed while it answers (the backoff
            after failures starts there too).
        clock: the current aware time.

    Signals:
        locked(): the profile was locked and every screen cleared.
        saved(str): a final record was saved (its id).
        sync_finished(object): a sync ran (its SyncReport).
    """

    locked = Signal()
    saved = Signal(str)
    sync_finished = Signal(object)

    def __init__(self, *, data_dir: Path, profile_name: str, checklist: Checklist,
                 demo: bool = False, idle_minutes: float = 5.0, clock: Clock | None = None,
                 demo_passphrase: str | None = None, probe_seconds: float = 30.0,
                 kdf: KdfParameters | None = None) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.profile_name = profile_name
        self._checklist_loader = checklist
        self._shipped: tuple[Form, ServicesDirectory | None] | None = None
        self._kdf = kdf
        self._store: ProfileStore | None = None
        self.demo = demo
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
        # The screening workflow holds the profile, checklist and open screening; the
        # window renders it (fieldscreen/workflows/screening.py).
        self.screenings = ScreeningWorkflow(self.clock)
        self._demo_passphrase = demo_passphrase
        self.last_sync: str | None = None
        self.online: bool | None = None
        self._syncing = False
        self.tasks = TaskRunner(self)
        self.watcher: SyncWatcher | None = None
        self._probe_seconds = probe_seconds

        central = QWidget(self)
        outer = QVBoxLayout(central)
        outer.setContentsMargins(0, 0, 0, 0)
        self.banner = TrainingBanner(central) if demo else None
        if self.banner is not None:
            outer.addWidget(self.banner)
        header = QHBoxLayout()
        header.setContentsMargins(8, 4, 8, 0)
        self.title = QLabel(central)
        self.title.setStyleSheet("font-weight: bold;")
        header.addWidget(self.title, 1)
        # The worker's interface language; the child's is chosen on the checklist screen.
        # Filled after the first paint: the languages' own names come from Babel's data.
        self.ui_language = QComboBox(central)
        self.ui_language.hide()
        header.addWidget(self.ui_language)
        # The optional child code (fieldscreen/ui/field/child_code.py): shown during a
        # screening when this laptop's pack brought the linkage key.
        self.child_code_button = QPushButton(central)
        self.child_code_button.clicked.connect(self.ask_child_code)
        self.child_code_button.hide()
        self.child_code_dialog: Any = None
        header.addWidget(self.child_code_button)
        # About: the licences and credits (the pictograms' attribution); F1 opens it too.
        self.about_button = add_about(self, header, central)
        self.lock_button = QPushButton(central)
        self.lock_button.clicked.connect(self.lock)
        header.addWidget(self.lock_button)
        self.quick_exit_button = QPushButton(central)
        self.quick_exit_button.setStyleSheet("background:#334155; color:white; "
                                             "font-weight:bold; padding:4px 10px;")
        self.quick_exit_button.clicked.connect(self.quick_exit)
        header.addWidget(self.quick_exit_button)
        outer.addLayout(header)

        self.stack = QStackedWidget(central)
        self.stack.currentChanged.connect(self._show_child_code_button)
        self._build_screens()
        outer.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._translate_header()
        self._practice_number = 0
        # Shortcuts and the idle watch are set up just after the first paint (nobody can
        # reach for F12 within a tenth of a second): they are not needed to show the unlock
        # screen, and Qt's enums cost tens of milliseconds to build on first use.
        self.shortcuts_ready = False
        QTimer.singleShot(AFTER_FIRST_PAINT_MS, self._after_first_paint)

        self.idle_timer = QTimer(self)
        self.idle_timer.setSingleShot(True)
        self.idle_timer.setInterval(int(idle_minutes * 60_000))
        self.idle_timer.timeout.connect(self.lock)
        self.resize(PREFERRED_SIZE)
        # The child's language of the last screening: the next one starts in it.
        self.child_language: str | None = None
        self._start()

    # What tests and the screens read: the workflow's state, under the names they know.
    @property
    def profile(self) -> UnlockedProfile | None:
        return self.screenings.profile

    @property
    def form(self) -> Form | None:
        return self.screenings.form

    @property
    def services(self) -> ServicesDirectory | None:
        return self.screenings.services

    @property
    def session(self) -> ScreeningSession | None:
        return self.screenings.session

    @property
    def record_id(self) -> str | None:
        return self.screenings.record_id

    def _build_screens(self) -> None:
        """Create the first screens in the active UI language (again after a switch)."""
        self.first_run = FirstRunScreen(self.stack)
        self.unlock_screen = UnlockScreen(self.stack)
        self.home = HomeScreen(self.stack)
        # The wizard, result and trainer screens (and the engine they import) are built on
        # first use: the unlock screen must appear as fast as a bare window.
        self._wizard: WizardScreen | None = None
        self._question_audio: QuestionAudio | None = None  # the installed pack's recordings
        self._result: ResultScreen | None = None
        self._trainer: TrainerScreen | None = None
        for screen in (self.first_run, self.unlock_screen, self.home):
            self.stack.addWidget(screen)
            # Enter presses the focused button, as Space does (outside dialogs Qt does not).
            for button in screen.findChildren(QPushButton):
                button.setAutoDefault(True)
        self.first_run.create_requested.connect(self._create_profile)
        self.unlock_screen.unlock_requested.connect(self._unlock)
        self.home.new_screening.connect(self.new_screening)
        self.home.resume_draft.connect(self._resume_draft)
        self.home.sync_requested.connect(lambda: self.sync_now(None))
        self.home.export_requested.connect(self._export_to_folder)
        self.home.trainer_requested.connect(self.show_trainer)
        self.home.trainer_button.setVisible(self.demo)

    def _translate_header(self) -> None:
        self.setWindowTitle(_("FieldScreen — training") if self.demo else _("FieldScreen"))
        self.title.setText(_("FieldScreen"))
        self.title.setAccessibleName(_("FieldScreen"))
        self.ui_language.setAccessibleName(_("Interface language"))
        translate_about_button(self.about_button)
        self.lock_button.setText(_("Lock"))
        self.lock_button.setAccessibleName(_("Lock FieldScreen now"))
        self._label_child_code_button()
        self.quick_exit_button.setText(_("Quick exit (F12)"))
        self.quick_exit_button.setAccessibleName(_("Quick exit: lock and close at once"))
        if self.banner is not None:
            self.banner.setText(_("TRAINING — not real data"))
            self.banner.setAccessibleName(_("Training mode: nothing here is real data"))

    def _ui_language_chosen(self, _index: int) -> None:
        code = self.ui_language.currentData()
        if code:
            self.set_interface_language(code)

    def set_interface_language(self, language: str) -> None:
        """Switch the worker's interface language now, mirroring it if it reads right to left.

        The screens are built again in the new language; an open screening keeps its
        answers (the checklist screen comes back at the same question).
        """
        from PySide6.QtCore import Qt

        set_language(language)
        app = QApplication.instance()
        direction = (Qt.LayoutDirection.RightToLeft if is_right_to_left(language)
                     else Qt.LayoutDirection.LeftToRight)
        if isinstance(app, QApplication):
            app.setLayoutDirection(direction)
        self.setLayoutDirection(direction)
        current = self.stack.currentWidget()
        screens: dict[QWidget | None, str] = {
            self.first_run: "first_run", self.unlock_screen: "unlock", self.home: "home",
            self._wizard: "wizard", self._result: "result", self._trainer: "trainer"}
        showing = screens.get(current, "unlock")
        old = [self.first_run, self.unlock_screen, self.home, self._wizard, self._result,
               self._trainer]
        position = self._wizard.index if self._wizard is not None else 0
        # The child keeps their language when the worker switches theirs.
        child = self._wizard.child_language if self._wizard is not None else None
        self._build_screens()
        for screen in old:
            if screen is not None:
                self.stack.removeWidget(screen)
                screen.deleteLater()
        self._translate_header()
        if self.profile is None:
            self.stack.setCurrentWidget(self.first_run if showing == "first_run"
                                        else self.unlock_screen)
            self.lock_button.hide()
        elif showing in ("wizard", "result") and self.session is not None:
            self.wizard.start(self.session, child or self.child_language)
            self.wizard.index = position
            self.wizard._render()
            if showing == "result":
                self._show_result()
            else:
                self.stack.setCurrentWidget(self.wizard)
        elif showing == "trainer":
            self.show_trainer()
        else:
            self.show_home()

    def fit_to_screen(self, available: QRect | None = None) -> None:
        """Fit the window to the screen it is on (or to `available`, its free area)."""
        if available is None:
            screen = self.screen()
            if screen is None:
                return
            available = screen.availableGeometry()
        # The frame (title bar, borders) comes out of the screen's free area too.
        frame = self.frameGeometry().size() - self.geometry().size()
        room = QRect(available.x(), available.y(),
                     available.width() - max(frame.width(), 0),
                     available.height() - max(frame.height(), 0))
        self.setGeometry(fitted_geometry(room, PREFERRED_SIZE))

    # -- start, unlock, lock ---------------------------------------------------------------------

    def _after_first_paint(self) -> None:
        from PySide6.QtCore import Qt  # see the note on Qt's enums at the top

        # The focus ring on every control (fieldscreen/ui/field/style.py), a tenth of a
        # second after the first paint: a style sheet costs a third of a bare window's
        # start-up, and nobody reaches for a key within that tenth of a second.
        self.setStyleSheet(FOCUS_STYLE)

        for code in available_languages():
            self.ui_language.addItem(language_name(code), code)
        self.ui_language.setCurrentIndex(max(0, self.ui_language.findData(active_language())))
        self.ui_language.currentIndexChanged.connect(self._ui_language_chosen)
        self.ui_language.show()

        for keys in QUICK_EXIT_KEYS:
            QShortcut(QKeySequence(keys), self, self.quick_exit,
                      context=Qt.ShortcutContext.ApplicationShortcut)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.shortcuts_ready = True

    @property
    def wizard(self) -> WizardScreen:
        if self._wizard is None:
            from fieldscreen.ui.field.wizard import WizardScreen

            self._wizard = WizardScreen(self.stack)
            self.stack.addWidget(self._wizard)
            self._wizard.answered.connect(self._autosave)
            self._wizard.finished.connect(self._show_result)
            self._wizard.stopped.connect(self._stop_screening)
            self._wizard.child_language_chosen.connect(self._remember_child_language)
            self._wizard.set_question_audio(self._question_audio)
        return self._wizard

    @property
    def result(self) -> ResultScreen:
        if self._result is None:
            from fieldscreen.ui.field.result import ResultScreen

            self._result = ResultScreen(self.stack)
            self.stack.addWidget(self._result)
            self._result.back_requested.connect(
                lambda: self.stack.setCurrentWidget(self.wizard))
            self._result.save_requested.connect(self._save_final)
        return self._result

    @property
    def trainer(self) -> TrainerScreen:
        if self._trainer is None:
            from fieldscreen.ui.training.trainer import TrainerScreen

            self._trainer = TrainerScreen(self.stack)
            self.stack.addWidget(self._trainer)
            self._trainer.back_requested.connect(self.show_home)
            self._trainer.practise_requested.connect(self.practise)
        return self._trainer

    @property
    def store(self) -> ProfileStore:
        """The profile store, created on first use (on the worker thread)."""
        if self._store is None:
            from fieldscreen.store.profile import ProfileStore

            self._store = ProfileStore(self.data_dir, clock=self.clock, kdf=self._kdf)
        return self._store

    def _shipped_checklist(self) -> tuple[Form, ServicesDirectory | None]:
        if self._shipped is None:
            self._shipped = self._checklist_loader()
        return self._shipped

    def _warm_up(self) -> None:
        # Import the store and load the checklist while the person types the passphrase.
        self.tasks.run(lambda: (self.store, self._shipped_checklist()), lambda _r: None,
                       lambda _e: None)

    def _start(self) -> None:
        self.lock_button.hide()  # nothing to lock until a profile is open
        # After the first paint, not before: importing competes with building the window.
        QTimer.singleShot(WARM_UP_DELAY_MS, self._warm_up)
        if self.profile_name in profile_names(self.data_dir):
            self.stack.setCurrentWidget(self.unlock_screen)
            self.unlock_screen.reset()
            if self.demo and self._demo_passphrase:
                self._unlock(self._demo_passphrase)
        elif self.demo and self._demo_passphrase:
            # Training opens straight onto its home screen: never the real set-up screen.
            self.stack.setCurrentWidget(self.home)
            self.home.setEnabled(False)
            self._create_profile(self._demo_passphrase, None)
        else:
            self.stack.setCurrentWidget(self.first_run)

    def _create_profile(self, passphrase: str, pack_path: Path | None) -> None:
        def work() -> UnlockedProfile:
            from fieldscreen.store.profile import ProfileRole
            from fieldscreen.workflows.profiles import create_profile

            raw = pack_path.read_bytes() if pack_path is not None else None
            profile, _pack = create_profile(self.store, self.profile_name, ProfileRole.FIELD,
                                            passphrase, pack_raw=raw, demo=self.demo)
            self._load_checklist(profile)
            return profile

        self.tasks.run(work, self._opened, lambda error: self.first_run.failed(
            person_message(error)))

    def _unlock(self, passphrase: str) -> None:
        def work() -> UnlockedProfile:
            from fieldscreen.workflows.profiles import unlock_profile

            profile = unlock_profile(self.store, self.profile_name, passphrase)
            self._load_checklist(profile)
            return profile

        def failed(error: BaseException) -> None:
            self.unlock_screen.failed(unlock_failure(error, self._has_recovery()))

        self.tasks.run(work, self._opened, failed)

    def _has_recovery(self) -> bool | None:
        """Whether the coordinator can recover this profile (None: not known)."""
        try:
            locked = self.store.open(self.profile_name)
        except Exception:  # the unlock's own message says what went wrong
            return None
        try:
            return locked.info.has_recovery
        finally:
            locked.close()

    def _opened(self, profile: UnlockedProfile) -> None:
        self.screenings.opened(profile)
        if self._wizard is not None:  # built before a lock: this unlock's pack may differ
            self._wizard.set_question_audio(self._question_audio)
        self.first_run.clear()
        self.unlock_screen.reset()
        self.lock_button.show()
        self.idle_timer.start()
        self.home.setEnabled(True)
        self.show_home()
        self._watch_connectivity(profile)

    def _watch_connectivity(self, profile: UnlockedProfile) -> None:
        from fieldscreen.exchange.sync import target_reachable
        from fieldscreen.ui.field.sync_watcher import SyncWatcher

        if profile.installed_pack() is None:
            return  # nowhere to sync to
        self.watcher = SyncWatcher(self.tasks, lambda: target_reachable(profile),
                                   base_seconds=self._probe_seconds,
                                   max_seconds=max(self._probe_seconds, 1800.0), parent=self)
        self.watcher.reachability_changed.connect(self._reachability_changed)
        self.watcher.sync_due.connect(self.auto_sync)
        self.watcher.start()

    def _reachability_changed(self, online: bool) -> None:
        self.online = online
        if self.stack.currentWidget() is self.home:
            self.refresh_home()

    def auto_sync(self) -> None:
        """Sync because the target became reachable, unless a screening is open."""
        if self.stack.currentWidget() is not self.home or self._syncing:
            return  # never compete with an open screening; the next probe retries
        self.sync_now(None, only_if_pending=True)

    def _load_checklist(self, profile: UnlockedProfile) -> None:
        """The pack's form, services and recordings, or the shipped ones (runs on the
        worker; the recordings reach the wizard on the GUI thread)."""
        self.screenings.form, self.screenings.services, self._question_audio = load_checklist(
            profile, self._shipped_checklist())

    def lock(self) -> None:
        """Drop the keys and clear every screen; the unlock screen remains."""
        self.idle_timer.stop()
        if self.child_code_dialog is not None:
            self.child_code_dialog.reject()
            self.child_code_dialog = None
        if self.watcher is not None:
            # Stopped, not deleted: a probe still running reports back to it.
            self.watcher.stop()
            self.watcher = None
        for screen in (self._wizard, self._result, self._trainer):
            if screen is not None:
                screen.clear()
        self.home.clear()
        profile = self.screenings.closed()
        if profile is not None:
            # Queued behind any save still running, so nothing acknowledged is lost.
            self.tasks.run(profile.lock, lambda _r: None, lambda _e: None)
        self.stack.setCurrentWidget(self.unlock_screen)
        self.unlock_screen.reset()
        self.lock_button.hide()
        self.locked.emit()

    def closeEvent(self, event: Any) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        if self.profile is not None:
            self.lock()
        self.tasks.wait_idle()
        self.tasks.stop()
        super().closeEvent(event)

    # -- home ------------------------------------------------------------------------------------

    def show_home(self) -> None:
        self.title.setText(_("FieldScreen"))
        self.stack.setCurrentWidget(self.home)
        self.home.new_button.setFocus()
        self.refresh_home()

    def refresh_home(self) -> None:
        profile = self.profile
        if profile is None:
            return
        today = self.clock().astimezone(dt.UTC).strftime("%Y-%m-%d")

        def work() -> tuple[list[Any], list[str], int]:
            # One damaged record must not blank the worker's list: it is left out and
            # counted, as sync does (docs/decisions.md, 35).
            summaries, damaged = profile.records.list_readable()
            return summaries, damaged, profile.outbox.counts()["undelivered"]

        def done(result: tuple[list[Any], list[str], int]) -> None:
            if self.profile is profile:
                summaries, damaged, pending = result
                self.home.show_records(summaries, today)
                detail = ngettext(
                    "{count} record cannot be opened (its encrypted data is damaged) and is "
                    "not listed. Keep this laptop's profile as it is and tell your "
                    "coordinator.",
                    "{count} records cannot be opened (their encrypted data is damaged) and "
                    "are not listed. Keep this laptop's profile as it is and tell your "
                    "coordinator.", len(damaged)).format(count=len(damaged)) if damaged else ""
                self.home.show_sync(pending, self.last_sync, self.online, detail)

        self.tasks.run(work, done, lambda error: self.home.show_sync(0, None, None,
                                                                       person_message(error)))

    # -- screening -------------------------------------------------------------------------------

    def new_screening(self) -> None:
        session = self.screenings.start_new()
        if session is None:
            return
        self.wizard.start(session, self.child_language)
        self.stack.setCurrentWidget(self.wizard)
        self.wizard.focus_first()

    def _label_child_code_button(self) -> None:
        self.child_code_button.setText(
            _("Child code: made") if self.screenings.child_code is not None
            else _("Child code…"))
        self.child_code_button.setAccessibleName(
            _("Add a child code (optional) to link screenings of the same child"))

    def _show_child_code_button(self, _index: int = 0) -> None:
        current = self.stack.currentWidget()
        screening = self.session is not None and current is not None and current in (
            getattr(self, "_wizard", None), getattr(self, "_result", None))
        self.child_code_button.setVisible(
            screening and self.screenings.child_code_available())
        self._label_child_code_button()

    def ask_child_code(self) -> None:
        """Open the child code dialog for the screening in progress."""
        if self.session is None:
            return
        from fieldscreen.ui.field.child_code import ChildCodeDialog

        self.child_code_dialog = ChildCodeDialog(self.screenings, self)
        self.child_code_dialog.finished.connect(lambda _r: self._label_child_code_button())
        self.child_code_dialog.open()

    def _remember_child_language(self, language: str) -> None:
        self.child_language = language

    def _resume_draft(self, record_id: str | None) -> None:
        load = self.screenings.resume_job(record_id or "", self._shipped_checklist()[0])
        if load is None:
            return

        def opened(found: tuple[Any, Form]) -> None:
            record, form = found
            self.wizard.start(self.screenings.resumed(record, form), self.child_language)
            self.stack.setCurrentWidget(self.wizard)
            self.wizard.focus_first()

        self.tasks.run(load, opened,
                       lambda error: self.home.show_sync(0, None, None, person_message(error)))

    def _autosave(self) -> None:
        """Save the open screening as a draft; coalesces answers given while a save runs."""
        save = self.screenings.draft_job()
        if save is None:
            return

        def done(_summary: Any) -> None:
            if self.screenings.draft_saved():
                self._autosave()

        def failed(error: BaseException) -> None:
            self.screenings.draft_failed()
            # The answers stay on screen; say the draft could not be kept.
            self.wizard.message.setText(person_message(error))

        self.tasks.run(save, done, failed)

    def _stop_screening(self) -> None:
        self.tasks.wait_idle()
        self.screenings.stop()
        self.wizard.clear()
        self.show_home()

    def _show_result(self) -> None:
        if self.session is None:
            return
        self.result.show_session(self.session, self.services)
        self.stack.setCurrentWidget(self.result)
        self.result.focus_first()

    def _save_final(self, outcome: ScreeningOutcome) -> None:
        save = self.screenings.final_job(outcome)
        if save is None:
            return

        def done(summary: Any) -> None:
            self.screenings.final_saved()
            self.wizard.clear()
            self.result.clear()
            self.saved.emit(summary.id)
            self.show_home()

        def failed(error: BaseException) -> None:
            # Nothing is lost: the screening stays open on the result screen.
            self.screenings.final_failed()
            self.result.message.setText(person_message(error))

        self.result.message.setText(_("Saving…"))
        self.tasks.run(save, done, failed)

    # -- training --------------------------------------------------------------------------------

    def show_trainer(self) -> None:
        """List the training scenarios (loaded and checked on the worker)."""
        form = self.form
        if not self.demo or form is None:
            return
        from fieldscreen.demo.scenarios import load_scenarios, shipped_scenarios_dir

        def shown(scenarios: Any) -> None:
            self.trainer.show_scenarios(form, scenarios)
            self.stack.setCurrentWidget(self.trainer)

        self.tasks.run(lambda: load_scenarios(shipped_scenarios_dir(), form), shown,
                       lambda error: self.home.show_sync(0, None, None, person_message(error)))

    def practise(self) -> None:
        """Start a screening of the next synthetic child; the trainer plays the child."""
        if not self.demo or self.form is None:
            return
        from fieldscreen.demo.children import synthetic_children

        number = self._practice_number
        self._practice_number += 1
        child = synthetic_children(seed=1, count=number + 1, language="en",
                                   form=self.form)[number]
        self.new_screening()
        self.title.setText(_("Practising with {name}, {age} (synthetic)").format(
            name=child.name, age=child.age))

    # -- sync ------------------------------------------------------------------------------------

    def sync_now(self, target: str | None, *, only_if_pending: bool = False) -> None:
        profile = self.profile
        if profile is None or self._syncing:
            return
        from fieldscreen.exchange.sync import pending_work, sync

        self._syncing = True
        self.home.set_syncing(True)
        self.home.sync_status.setText(_("Syncing…"))

        def work() -> Any:
            if only_if_pending and not pending_work(profile):
                return None
            return sync(profile, target=target, now=self.clock)

        def done(report: Any) -> None:
            self._syncing = False
            self.home.set_syncing(False)
            if report is not None:
                if report.error is None:
                    self.last_sync = self.clock().astimezone().strftime("%H:%M")
                self.online = report.error is None
                self.home.show_sync(report.pending_batches, self.last_sync, self.online,
                                    report.error or " ".join(report.warnings))
                self.sync_finished.emit(report)
            self.refresh_home()

        def failed(error: BaseException) -> None:
            self._syncing = False
            self.home.set_syncing(False)
            self.home.show_sync(0, self.last_sync, None, person_message(error))

        self.tasks.run(work, done, failed)

    def _export_to_folder(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, _("Choose the USB folder"))
        if folder:
            self.sync_now(folder)
