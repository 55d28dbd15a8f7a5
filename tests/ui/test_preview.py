"""The first window `fieldscreen demo` opens: marked as training, every control named."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtWidgets import QWidget

from fieldscreen.ui.preview import PreviewWindow


def test_preview_shows_training_banner_and_form_summary(qtbot, shipped_form):
    window = PreviewWindow(shipped_form)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.banner.isVisible()
    assert "TRAINING" in window.banner.text()
    assert shipped_form.version in window.summary.text()
    for widget in window.findChildren(QWidget):
        if widget.isVisible() and widget.metaObject().className() == "QLabel":
            assert widget.accessibleName(), widget.objectName()


def test_demo_command_opens_and_leaves_nothing_behind(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "fieldscreen", "demo", "--quit-after", "300"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []
