"""A child process for the real-key read-aloud test: the wizard in a real window (xcb).

Run as `python -m tests.read_aloud_child` from the repository root, with DISPLAY and
PULSE_SERVER set. It opens the shipped checklist in Arabic on its first question to the
child, with espeak-ng recordings, and prints one line per event the test waits for:
"ready <step>", "step <index>" after each move, "playing True|False" when reading aloud
starts or stops. It exits when its window is closed or after a minute.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.forms.translations import load_translated_form
from fieldscreen.ui.field.wizard import WizardScreen
from tests.conftest import SHIPPED_FORM
from tests.ui.test_read_aloud import _first_child_question, _spoken


def say(line: str) -> None:
    print(line, flush=True)


def main() -> int:
    app = QApplication(sys.argv[:1])
    form = load_translated_form(SHIPPED_FORM)
    wizard = WizardScreen()
    wizard.setWindowTitle("FieldScreen listen")
    wizard.resize(1000, 700)
    wizard.set_question_audio(_spoken(form))
    wizard.start(ScreeningSession(form), "ar")
    _first_child_question(wizard)
    player = wizard.player
    assert player is not None
    player.playing_changed.connect(lambda playing: say(f"playing {playing}"))
    original = wizard._render

    def render() -> None:
        original()
        say(f"step {wizard.index}")

    wizard._render = render  # type: ignore[method-assign]
    wizard.show()
    QTimer.singleShot(500, lambda: say(f"ready {wizard.index}"))
    QTimer.singleShot(60_000, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
