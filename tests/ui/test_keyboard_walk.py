"""A whole screening by keyboard alone, in English and in Arabic.

Every key goes to whichever widget has focus (QApplication.focusWidget()), as a person's
key presses do; nothing calls a widget's methods. At every step the focused control must
lie inside the window, be visible, and show the focus ring (its border drawn in the focus
colour), so a worker never has to guess where the keyboard is.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QWidget,
)

from fieldscreen import i18n
from fieldscreen.store.records import RecordStatus
from fieldscreen.ui.app import shipped_checklist
from fieldscreen.ui.field.answer_cards import AnswerCard
from fieldscreen.ui.field.choices import SearchableChoices
from fieldscreen.ui.field.style import FOCUS_COLOUR
from fieldscreen.ui.field.window import FieldWindow
from tests.ui.test_field_window import PASSPHRASE, fast_kdf

MAX_KEYS = 2_000


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has keyboard focus"
    return widget


def focus_ring_shown(widget: QWidget) -> bool:
    """Whether the widget's edges are drawn in the focus colour (checked on its pixels)."""
    image = widget.grab().toImage()
    width, height = image.width(), image.height()
    wanted = QColor(FOCUS_COLOUR)
    points = [(width // 2, 1), (width // 2, height - 2), (1, height // 2),
              (width - 2, height // 2)]

    def close(x: int, y: int) -> bool:
        colour = image.pixelColor(x, y)
        return (abs(colour.red() - wanted.red()) + abs(colour.green() - wanted.green())
                + abs(colour.blue() - wanted.blue())) < 40

    return sum(close(x, y) for x, y in points) >= 3


def assert_focus_visible(window: FieldWindow) -> QWidget:
    widget = focused()
    assert widget.isVisible(), f"{type(widget).__name__} has focus but is hidden"
    top_left = widget.mapTo(window, QPoint(0, 0))
    inside = window.rect().contains(top_left) and window.rect().contains(
        top_left + QPoint(widget.width() - 1, widget.height() - 1))
    assert inside, f"{type(widget).__name__} {widget.accessibleName()!r} lies outside"
    assert not widget.visibleRegion().isEmpty(), "focused control scrolled out of sight"
    assert focus_ring_shown(widget), (
        f"no focus ring on {type(widget).__name__} {widget.accessibleName()!r}")
    return widget


def key(qtbot, which: Qt.Key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(focused(), which, modifier)


def type_text(qtbot, text: str) -> None:
    if text.isascii():
        qtbot.keyClicks(focused(), text)
        return
    # QTest types Latin-1 only; Arabic letters go as the key events a keyboard layout sends.
    for letter in text:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(focused(), QKeyEvent(kind, 0, Qt.KeyboardModifier.NoModifier,
                                                        letter))


@pytest.fixture(params=["en", "ar"])
def language(request):
    i18n.set_language(request.param)
    app = QApplication.instance()
    app.setLayoutDirection(Qt.LayoutDirection.RightToLeft if request.param == "ar"
                           else Qt.LayoutDirection.LeftToRight)
    yield request.param
    i18n.set_language("en")
    app.setLayoutDirection(Qt.LayoutDirection.LeftToRight)


def test_a_whole_screening_by_keys_sent_to_the_focused_widget(qtbot, tmp_path, language):
    window = FieldWindow(data_dir=tmp_path, profile_name="worker", checklist=shipped_checklist,
                         demo=True, demo_passphrase=PASSPHRASE, kdf=fast_kdf())
    qtbot.addWidget(window)
    window.resize(1024, 600)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.profile is not None and window.shortcuts_ready,
                    timeout=20_000)
    assert focused() is window.home.new_button
    assert_focus_visible(window)
    key(qtbot, Qt.Key.Key_Return)
    wizard = window.wizard
    assert window.stack.currentWidget() is wizard
    # The child's language follows the worker's unless chosen otherwise.
    assert wizard.child_language == language
    presses = 0
    seen_search = seen_notes = False
    while window.stack.currentWidget() is wizard:
        presses += 1
        assert presses < MAX_KEYS
        widget = assert_focus_visible(window)
        name = wizard.current_step().items[0].name
        if isinstance(widget, AnswerCard):
            if not any(card.isChecked() for card in wizard._cards):
                # Enter alone answers nothing: the question stays, with a message.
                step = wizard.index
                key(qtbot, Qt.Key.Key_Return)
                assert wizard.index == step and wizard.message.text()
                assert not any(card.isChecked() for card in wizard._cards)
                # "Yes" to talking and to a referral; "No" (always 2) to everything else.
                key(qtbot, Qt.Key.Key_1 if name in ("child_assent", "referral_consent")
                    else Qt.Key.Key_2)
                assert_focus_visible(window)
            key(qtbot, Qt.Key.Key_Return)
        elif isinstance(widget, QAbstractSpinBox):
            type_text(qtbot, "14")
            key(qtbot, Qt.Key.Key_Return)
        elif isinstance(widget, QLineEdit) and isinstance(widget.parentWidget(),
                                                          SearchableChoices):
            seen_search = True
            type_text(qtbot, "سوري" if language == "ar" else "syr")
            key(qtbot, Qt.Key.Key_Down)
            key(qtbot, Qt.Key.Key_Return)
        elif isinstance(widget, QRadioButton):
            if not widget.isChecked():
                key(qtbot, Qt.Key.Key_3)
                assert focused().isChecked()
            key(qtbot, Qt.Key.Key_Return)
        elif isinstance(widget, QPlainTextEdit):
            seen_notes = True
            type_text(qtbot, "Met near the market.")
            key(qtbot, Qt.Key.Key_Return)
            type_text(qtbot, "Second line.")
            # Tab leaves the notes box (it does not trap Tab) and goes straight to Next.
            key(qtbot, Qt.Key.Key_Tab)
            assert focused() is wizard.next_button
            assert_focus_visible(window)
            key(qtbot, Qt.Key.Key_Return)
        elif isinstance(widget, QCheckBox) and widget.property("acknowledge"):
            # Enter never ticks a box: Space does, then Enter moves on.
            key(qtbot, Qt.Key.Key_Return)
            assert not widget.isChecked() and wizard.message.text()
            key(qtbot, Qt.Key.Key_Space)
            key(qtbot, Qt.Key.Key_Return)
        else:
            # A note, or a "choose all that apply" list left empty: Enter moves on.
            key(qtbot, Qt.Key.Key_Return)
        assert not wizard.message.text() or isinstance(focused(), QWidget)
    assert seen_search and seen_notes
    result = window.result
    assert window.stack.currentWidget() is result
    assert_focus_visible(window)
    # Enter and Ctrl+Return pressed again and again do not save: the box must be ticked.
    for _ in range(3):
        key(qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        key(qtbot, Qt.Key.Key_Return)
    window.tasks.wait_idle()
    assert window.stack.currentWidget() is result
    assert not [r for r in window.profile.records.list() if r.status is RecordStatus.FINAL]
    assert isinstance(focused(), QCheckBox)
    key(qtbot, Qt.Key.Key_Space)
    for _ in range(10):
        if focused() is result.save_button:
            break
        key(qtbot, Qt.Key.Key_Tab)
        assert_focus_visible(window)
    assert isinstance(focused(), QPushButton) and focused() is result.save_button
    key(qtbot, Qt.Key.Key_Return)
    window.tasks.wait_idle()
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.home, timeout=10_000)
    [record] = window.profile.records.list()
    assert record.status is RecordStatus.FINAL
    answers = window.profile.records.get(record.id).answers
    assert answers["child_assent"] == "yes" and answers["age_years"] == 14
    assert answers["nationality"] == "sy"
    assert answers["a_papers_kept"] == "no"
    assert answers["worker_note"] == "Met near the market.\nSecond line."
    # Enter on a "choose all that apply" list moved on without ticking anything.
    assert "exploitation_forms" not in answers
    window.close()
