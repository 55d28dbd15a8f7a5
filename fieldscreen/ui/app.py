"""Starting the desktop app: the QApplication, Qt's own translations, and the field window."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QLibraryInfo, QLocale, QTimer, QTranslator
from PySide6.QtWidgets import QApplication

from fieldscreen.i18n import _, active_language, is_right_to_left
from fieldscreen.paths import AppDirectories, shipped_dir
from fieldscreen.ui.field.window import FieldWindow

# Training needs no passphrase. A training profile holds synthetic children only and can
# never exchange data with a real deployment, so this fixed one protects nothing secret.
DEMO_PASSPHRASE = "training sandbox, not a secret"  # noqa: S105


def report_bug(kind: type[BaseException], error: BaseException | None,
               trace: TracebackType | None) -> None:
    """Report an exception nothing caught (e.g. raised in a slot) as the command line does.

    Python's own report ends with the exception's message, and a message can quote a
    child's answers; this one names the exception's type and where it happened, never
    the message. Qt carries on after a slot fails, so the window stays usable.
    """
    print(_("FieldScreen hit a bug ({kind}). Nothing you saved is affected. Please report this "
            "to your coordinator with the lines below.").format(kind=kind.__name__),
          file=sys.stderr)
    print("".join(traceback.format_tb(trace)), file=sys.stderr, end="")


def _report_thread_bug(args: threading.ExceptHookArgs) -> None:
    if not issubclass(args.exc_type, SystemExit):
        report_bug(args.exc_type, args.exc_value, args.exc_traceback)


def application() -> QApplication:
    """The QApplication, created once, with Qt's standard dialogs in the UI language.

    Creating it also routes uncaught exceptions to `report_bug`.
    """
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    sys.excepthook = report_bug
    threading.excepthook = _report_thread_bug
    app = QApplication(sys.argv[:1])
    app.setApplicationName("FieldScreen")
    if is_right_to_left(active_language()):
        from PySide6.QtCore import Qt

        app.setLayoutDirection(Qt.LayoutDirection.RightToLeft)
    translator = QTranslator(app)
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if translator.load(QLocale(active_language()), "qtbase", "_", folder):
        app.installTranslator(translator)
    return app


def shipped_checklist() -> tuple[Any, Any]:
    """The shipped form and services directory (imported here: YAML loading is not free)."""
    from fieldscreen.forms.services import load_services
    from fieldscreen.forms.translations import load_translated_form

    forms = shipped_dir("forms")
    form = load_translated_form(forms / "child-screening.yaml")
    services_path = forms / "services.yaml"
    services = load_services(services_path) if services_path.is_file() else None
    return form, services


def ending_process(sandbox: Path | None) -> Callable[[], None]:
    """What quick exit calls last: remove the training sandbox, then end the process now.

    Not Qt's orderly shutdown: that waits for the worker thread, and a sync stuck on a slow
    network would keep the process alive. Every acknowledged save is already durable
    (checkpointed before it is acknowledged), so nothing saved is lost by ending here; the
    keys in memory end with the process.
    """

    def end() -> None:
        if sandbox is not None:
            shutil.rmtree(sandbox, ignore_errors=True)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(0)

    return end


def run_field(directories: AppDirectories, profile_name: str, *, demo: bool = False,
              quit_after_ms: int | None = None, idle_minutes: float = 5.0,
              sandbox: Path | None = None) -> int:
    """Open the field window (training mode with `demo`) and run until it closes.

    `sandbox`: the demo's throw-away folder, removed by quick exit too.
    """
    app = application()
    window = FieldWindow(data_dir=directories.ensure().data, profile_name=profile_name,
                         checklist=shipped_checklist, demo=demo, idle_minutes=idle_minutes,
                         demo_passphrase=DEMO_PASSPHRASE if demo else None)
    window.end_process = ending_process(sandbox)
    # The window fits the screen it opens on (a 1024x600 netbook, 200 % text).
    window.fit_to_screen()
    window.show()
    # Keyboard focus from the first moment, so the focus ring shows before any click.
    window.activateWindow()
    if quit_after_ms is not None:
        QTimer.singleShot(quit_after_ms, window.close)
    return app.exec()


def shipped_form() -> Any:
    """The shipped checklist alone: its choice labels name the dashboard's categories."""
    return shipped_checklist()[0]


def run_console(directories: AppDirectories, profile_name: str, *, demo: bool = False,
                quit_after_ms: int | None = None, idle_minutes: float = 15.0,
                import_source: str | None = None, sandbox: Path | None = None,
                database: str | None = None) -> int:
    """Open the coordinator's console (training mode with `demo`) until it closes.

    `database`: a PostgreSQL URL holding the coordinator's profile (docs/postgresql.md).
    """
    from fieldscreen.ui.console.window import ConsoleWindow

    app = application()
    window = ConsoleWindow(data_dir=directories.ensure().data, profile_name=profile_name,
                           form_loader=shipped_form, demo=demo, idle_minutes=idle_minutes,
                           demo_passphrase=DEMO_PASSPHRASE if demo else None,
                           import_source=import_source, database=database)
    window.end_process = ending_process(sandbox)
    window.show()
    if quit_after_ms is not None:
        QTimer.singleShot(quit_after_ms, window.close)
    return app.exec()
