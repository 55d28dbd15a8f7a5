"""Text scaled to 200% is never clipped: every label and button still fits its text."""

from __future__ import annotations

import os

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLabel,
    QPushButton,
    QScrollArea,
    QWidget,
)

from fieldscreen.forms.loader import load_form
from fieldscreen.forms.services import load_services
from fieldscreen.store.crypto import KdfParameters, b64
from fieldscreen.ui.field.window import FieldWindow
from tests.conftest import SHIPPED_FORM, SHIPPED_SERVICES
from tests.ui.test_field_window import move_on


@pytest.fixture
def doubled_font():
    app = QApplication.instance()
    original = app.font()
    bigger = app.font()
    bigger.setPointSizeF(original.pointSizeF() * 2)
    app.setFont(bigger)
    yield
    app.setFont(original)


def clipped(root: QWidget) -> list[str]:
    found = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisible() or widget.width() == 0:
            continue
        inside_scroll = any(isinstance(a, QScrollArea) for a in _ancestors(widget))
        if isinstance(widget, QLabel) and widget.text():
            if widget.wordWrap():
                needed = widget.heightForWidth(widget.width())
                if needed > widget.height() + 2 and not inside_scroll:
                    found.append(f"label {widget.text()[:40]!r}: {needed} > {widget.height()}")
            elif widget.sizeHint().width() > widget.width() + 2:
                found.append(f"label {widget.text()[:40]!r}: "
                             f"{widget.sizeHint().width()} > {widget.width()}")
        elif isinstance(widget, QAbstractButton) and widget.text():
            if widget.minimumSizeHint().width() > widget.width() + 2:
                found.append(f"button {widget.text()[:40]!r}: "
                             f"{widget.minimumSizeHint().width()} > {widget.width()}")
    return found


def _ancestors(widget: QWidget):
    parent = widget.parentWidget()
    while parent is not None:
        yield parent
        parent = parent.parentWidget()


def test_every_screen_fits_text_at_200_percent(qtbot, tmp_path, doubled_font):
    window = FieldWindow(
        data_dir=tmp_path, profile_name="w", demo=True,
        checklist=lambda: (load_form(SHIPPED_FORM), load_services(SHIPPED_SERVICES)),
        demo_passphrase="correct horse battery",
        kdf=KdfParameters(b64(os.urandom(16)), 1, 1, 8 * 1024))
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    qtbot.waitUntil(lambda: window.profile is not None, timeout=20_000)
    qtbot.wait(50)
    problems = clipped(window)
    window.new_screening()
    wizard = window.wizard
    while window.stack.currentWidget() is wizard:
        qtbot.wait(1)
        problems += clipped(window)
        if wizard.current_step().items[0].name == "child_assent":
            wizard.session.answer("child_assent", "yes")
        move_on(wizard)
    qtbot.wait(10)
    problems += clipped(window)
    window.lock()
    qtbot.wait(10)
    problems += clipped(window)
    assert not problems, "\n".join(sorted(set(problems)))
    window.close()


def test_the_check_notices_clipped_text(qtbot):
    # The check above must be able to fail: a fixed-width label that cannot fit its text.
    root = QWidget()
    qtbot.addWidget(root)
    label = QLabel("A sentence far too long for a forty pixel wide label", root)
    label.setFixedWidth(40)
    button = QPushButton("A button with a long caption", root)
    button.setFixedWidth(40)
    button.move(0, 40)
    root.show()
    qtbot.waitExposed(root)
    assert len(clipped(root)) == 2
