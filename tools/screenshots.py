"""Writes a PNG of every field-mode and console screen, per UI language, into docs/screenshots/.

Usage: python tools/screenshots.py [--out DIR] [--language CODE ...] [--text-scale 1 2]
                                  [--field-only]

At a text scale other than 1 the application font is that many times its point size and
the files are named LANG-SCALEx-SCREEN.png (en-2x-home.png); the window is 1366x768 then,
the smallest screen 200 % text has to work on.

Runs on Qt's offscreen platform in a throw-away training profile; nothing real is touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from fieldscreen import i18n
from fieldscreen.store.crypto import KdfParameters, b64
from fieldscreen.ui.app import DEMO_PASSPHRASE, application, shipped_checklist
from fieldscreen.ui.field.window import FieldWindow

SIZE = (1000, 720)
LARGE_TEXT_SIZE = (1366, 768)


def settle(app: QApplication, window: FieldWindow) -> None:
    window.tasks.wait_idle()
    # The focus-ring style arrives just after the first paint: wait for it.
    deadline = time.monotonic() + 5
    while not getattr(window, "shortcuts_ready", True) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    for _ in range(10):
        app.processEvents()


def move_on(window: FieldWindow) -> None:
    """Next, or Skip where nothing is answered (Next refuses to walk past questions)."""
    wizard = window.wizard
    step = wizard.current_step()
    wizard.go_next()
    if wizard.current_step() is step and wizard.navigation.problem:
        wizard.skip()


class _ShownRecordings:
    """A recording of every question in every language, for the pictures only."""

    def clips(self, item_name: str, language: str) -> tuple[bytes, ...]:
        return (b"OggS",)


def shoot(language: str, out: Path, scale: float = 1.0, *, field_only: bool = False
          ) -> list[Path]:
    i18n.set_language(language)
    app = application()
    original_font = app.font()
    if scale != 1.0:
        bigger = app.font()
        bigger.setPointSizeF(original_font.pointSizeF() * scale)
        app.setFont(bigger)
    size = SIZE if scale == 1.0 else LARGE_TEXT_SIZE
    prefix = language if scale == 1.0 else f"{language}-{scale:g}x"
    app.setLayoutDirection(Qt.LayoutDirection.RightToLeft if i18n.is_right_to_left(language)
                           else Qt.LayoutDirection.LeftToRight)
    form, services = shipped_checklist()
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as base:
        # Fast key derivation: a picture of the screens needs no real protection.
        kdf = KdfParameters(b64(os.urandom(16)), 1, 1, 8192)
        first = FieldWindow(data_dir=Path(base), profile_name="worker", kdf=kdf,
                            checklist=lambda: (form, services))
        first.resize(*size)
        first.show()
        settle(app, first)

        def save(window: FieldWindow, name: str) -> None:
            settle(app, window)
            path = out / f"{prefix}-{name}.png"
            window.grab().save(str(path))
            written.append(path)

        save(first, "first-run")
        first.close()
        window = FieldWindow(data_dir=Path(base), profile_name="training", kdf=kdf,
                             checklist=lambda: (form, services), demo=True,
                             demo_passphrase=DEMO_PASSPHRASE)
        window.resize(*size)
        window.show()
        settle(app, window)
        save(window, "home")
        window.new_screening()
        wizard = window.wizard
        session = wizard.session
        assert session is not None
        session.answer_all({"knows_referral_options": "OK", "child_assent": "yes",
                            "age_years": 13, "sex_gender": "girl"})
        child_language = language if language in form.languages else form.default_language
        # The Listen button shows only when the deployment has recordings; a picture of the
        # screen needs them to exist, never to play.
        wizard.set_question_audio(_ShownRecordings())
        wizard.start(session, child_language)
        while not any(item.name == "nationality" for item in wizard.current_step().items):
            move_on(window)
        save(window, "background-worker")
        while wizard.current_step() and (wizard.current_step().for_worker
                                        or not wizard.current_step().items[0].indicator):
            move_on(window)
        save(window, "question-child")
        wizard._press_card(2)
        save(window, "question-child-chosen")
        while wizard.current_step() and not wizard.current_step().for_worker:
            move_on(window)
        save(window, "observations-worker")
        session.answer_all({"a_papers_kept": "yes", "c_hurt_at_home": "not_sure",
                            "referral_consent": "yes", "area": "north_district"})
        window._show_result()
        save(window, "result")
        # Everything skipped after consent: "incomplete", never a green "information only".
        window.new_screening()
        window.wizard.session.answer("child_assent", "yes")
        while window.stack.currentWidget() is window.wizard:
            window.wizard.skip()
        save(window, "result-incomplete")
        window.show_home()
        window.show_trainer()
        settle(app, window)
        for _step in range(5):
            window.trainer.show_step(window.trainer.position + 1)
        save(window, "trainer")
        window.lock()
        save(window, "unlock")
        window.close()
        if not field_only:
            written += shoot_console(app, Path(base) / "console", language, out, kdf,
                                     prefix=prefix, size=None if scale == 1.0 else size)
    app.setFont(original_font)
    return written


def shoot_console(app: QApplication, base: Path, language: str, out: Path,
                  kdf: KdfParameters, *, prefix: str | None = None,
                  size: tuple[int, int] | None = None) -> list[Path]:
    """The console's tabs after importing the training deployment's batches, and the
    chosen case's services and changes (files PREFIX-console-NAME.png)."""
    from fieldscreen.demo.loop import RELAY_FOLDER, TRAINING_COORDINATOR, seed_training_deployment
    from fieldscreen.ui.app import shipped_form
    from fieldscreen.ui.console.window import ConsoleWindow

    relay = base / RELAY_FOLDER
    seed_training_deployment(base, relay, DEMO_PASSPHRASE, kdf=kdf)
    window = ConsoleWindow(data_dir=base, profile_name=TRAINING_COORDINATOR, demo=True,
                           demo_passphrase=DEMO_PASSPHRASE, form_loader=shipped_form,
                           import_source=str(relay))
    window.resize(*(size or (1100, 760)))
    window.show()
    while window.facts is None:
        settle(app, window)
    imported: list[object] = []
    window.imported.connect(imported.append)
    window.import_panel.import_sources([str(relay)])
    while not imported or window.tasks.busy:
        settle(app, window)
    settle(app, window)
    queue = window.referral_panel
    queue.table.selectRow(0)
    settle(app, window)
    # One change on the first case, so its Changes tab shows an audit entry.
    from fieldscreen.store.follow_up import FollowUpStatus

    queue.status.setCurrentIndex(queue.status.findData(FollowUpStatus.CONTACTED.value))
    queue.save_button.click()
    settle(app, window)
    settle(app, window)
    window.linkage_panel.find_pairs()
    settle(app, window)
    written = []

    def case_tab(index: int) -> None:
        window.tabs.setCurrentWidget(queue)
        queue.case_tabs.setCurrentIndex(index)

    for name, show in (
            ("import", lambda: window.tabs.setCurrentWidget(window.import_panel)),
            ("queue", lambda: case_tab(0)), ("queue-services", lambda: case_tab(1)),
            ("queue-changes", lambda: case_tab(2)),
            ("same-child", lambda: window.tabs.setCurrentWidget(window.linkage_panel)),
            ("dashboard", lambda: window.tabs.setCurrentWidget(window.dashboard_panel)),
            ("devices", lambda: window.tabs.setCurrentWidget(window.devices_panel))):
        show()
        settle(app, window)
        path = out / f"{prefix or language}-console-{name}.png"
        window.grab().save(str(path))
        written.append(path)
    window.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--language", nargs="+", default=["en"])
    parser.add_argument("--text-scale", nargs="+", type=float, default=[1.0])
    parser.add_argument("--field-only", action="store_true",
                        help="the field window's screens only, not the console's")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for scale in args.text_scale:
        for language in args.language:
            for path in shoot(language, args.out, scale, field_only=args.field_only):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
