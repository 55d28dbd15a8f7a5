"""The `ui` suite: cold start to an interactive unlock window, against a bare PySide6 window.

Both are started the same way, as a fresh `python` process on Qt's offscreen platform; the
child reports when its window has been shown and the event loop has run once (the moment
a person could start typing), measured from just before the parent started the process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench.core import Result, Target

_BARE = textwrap.dedent("""
    import sys, time
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.resize(900, 700)
    window.show()
    def ready():
        print(time.time(), flush=True)
        app.quit()
    QTimer.singleShot(0, ready)
    app.exec()
""")

# The app's own start-up path: the same imports and window as `fieldscreen field`.
_OURS = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from PySide6.QtCore import QTimer
    from fieldscreen.ui.app import application, shipped_checklist
    from fieldscreen.ui.field.window import FieldWindow
    app = application()
    window = FieldWindow(data_dir=Path(sys.argv[1]), profile_name="worker",
                         checklist=shipped_checklist)
    window.show()
    def ready():
        assert window.stack.currentWidget() is window.unlock_screen
        print(time.time(), flush=True)
        os._exit(0)  # measured: start-up only, not shutdown
    QTimer.singleShot(0, ready)
    app.exec()
""")


def _start_once(script: str, *args: str) -> float:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.time()
    result = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                            text=True, env=env, timeout=120, check=True)
    return float(result.stdout.strip().splitlines()[-1]) - started


def _profile_folder(base: Path) -> Path:
    """A data folder holding a field profile, so the window opens on the unlock screen."""
    from fieldscreen.store.crypto import KdfParameters, b64
    from fieldscreen.store.profile import ProfileRole, ProfileStore

    data = base / "data"
    store = ProfileStore(data, kdf=KdfParameters(b64(os.urandom(16)), 1, 1, 8 * 1024))
    store.create("worker", ProfileRole.FIELD, "correct horse battery").lock()
    return data


def run(quick: bool) -> list[Result]:
    rounds = 5 if quick else 15
    with tempfile.TemporaryDirectory() as temporary:
        data = _profile_folder(Path(temporary))
        ours: list[int] = []
        bare: list[int] = []
        _start_once(_BARE)  # warm the file cache for both
        _start_once(_OURS, str(data))
        for _ in range(rounds):
            # Alternate, so a busy machine slows both alike.
            bare.append(int(_start_once(_BARE) * 1e9))
            ours.append(int(_start_once(_OURS, str(data)) * 1e9))
    bare_case = "bare PySide6 window, cold start"
    return [
        Result("ui", "unlock window, cold start", ours, baseline=bare_case,
               target=Target("ratio", 1.5),
               note="python -c: the imports and FieldWindow of `fieldscreen field` on a "
                    "profile, until the unlock screen is shown and the event loop ran once"),
        Result("ui", bare_case, bare,
               note="python -c: QApplication + QMainWindow.show(), until the event loop ran "
                    "once"),
    ]
