"""About: both windows open it with F1 (and a header button), and it carries OpenMoji's
attribution, which the pictograms' licence (CC BY-SA 4.0) asks for."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from fieldscreen.forms import pictograms
from fieldscreen.ui.about import AboutDialog
from fieldscreen.ui.console.window import ConsoleWindow
from fieldscreen.ui.field.window import FieldWindow
from tests.ui.test_field_window import checklist, fast_kdf


def _open_by_f1(qtbot, window) -> AboutDialog:
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    QTest.keyClick(window, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: window.findChildren(AboutDialog) != [])
    dialog = window.findChildren(AboutDialog)[0]
    qtbot.waitUntil(dialog.isVisible)
    return dialog


@pytest.mark.parametrize("kind", ["field", "console"])
def test_f1_opens_about_with_the_pictograms_attribution_and_escape_closes_it(
        qtbot, tmp_path, kind):
    window = (FieldWindow(data_dir=tmp_path, profile_name="worker", checklist=checklist,
                          kdf=fast_kdf()) if kind == "field"
              else ConsoleWindow(data_dir=tmp_path, profile_name="office", kdf=fast_kdf()))
    qtbot.addWidget(window)
    assert window.about_button.text() == "About (F1)"
    dialog = _open_by_f1(qtbot, window)
    text = dialog.text.text()
    assert pictograms.ATTRIBUTION in text
    assert "CC BY-SA 4.0" in text and "openmoji.org" in text
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
