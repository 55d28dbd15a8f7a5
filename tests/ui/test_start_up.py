"""The unlock window appears before the heavy parts load: a guard for the start-up benchmark."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from fieldscreen.store.crypto import KdfParameters, b64
from fieldscreen.store.profile import ProfileRole, ProfileStore
from tests.conftest import ROOT


def test_unlock_window_shows_without_store_crypto_yaml_or_babel(tmp_path):
    data = tmp_path / "data"
    store = ProfileStore(data, kdf=KdfParameters(b64(os.urandom(16)), 1, 1, 8 * 1024))
    store.create("worker", ProfileRole.FIELD, "correct horse battery").lock()
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from PySide6.QtCore import QTimer
        from fieldscreen.ui.app import application, shipped_checklist
        from fieldscreen.ui.field.window import FieldWindow
        app = application()
        window = FieldWindow(data_dir=Path({str(data)!r}), profile_name="worker",
                             checklist=shipped_checklist)
        window.show()
        def ready():
            assert window.stack.currentWidget() is window.unlock_screen
            heavy = [name for name in ("fieldscreen.store.profile", "cryptography", "yaml",
                                       "babel", "sqlite_utils", "fieldscreen.engine.session")
                     if name in sys.modules]
            print(heavy, flush=True)
            os._exit(0)
        QTimer.singleShot(0, ready)
        app.exec()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, check=False,
                            env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
