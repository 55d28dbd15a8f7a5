"""The field window on small screens and with large text: it fits, and Back, Skip, Stop and
Next stay inside it on every step, with nothing to scroll sideways.

200 % text is the application font at twice its point size, as tools/screenshots.py does.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QWidget

from fieldscreen import i18n
from fieldscreen.ui.app import shipped_checklist
from fieldscreen.ui.field.window import FieldWindow, fitted_geometry
from tests.ui.test_field_window import PASSPHRASE, fast_kdf, move_on

SCREENS = [
    pytest.param((1366, 768), 2.0, "en", id="1366x768-200%-en"),
    pytest.param((1366, 768), 2.0, "ar", id="1366x768-200%-ar"),
    pytest.param((1024, 600), 1.0, "en", id="1024x600-100%-en"),
]


def inside(widget: QWidget, window: QWidget) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    bottom_right = top_left + QPoint(widget.width() - 1, widget.height() - 1)
    return window.rect().contains(top_left) and window.rect().contains(bottom_right)


def sideways_scrolling(window: QWidget) -> list[str]:
    found = []
    for area in window.findChildren(QAbstractScrollArea):
        if area.isVisible() and area.horizontalScrollBar().isVisible():
            found.append(f"{type(area).__name__} {area.accessibleName()!r}")
    return found


@pytest.fixture
def text_scale(request):
    app = QApplication.instance()
    original = app.font()
    yield lambda factor: app.setFont(_scaled(original, factor))
    app.setFont(original)


def _scaled(font, factor):
    bigger = type(font)(font)
    bigger.setPointSizeF(font.pointSizeF() * factor)
    return bigger


def test_fitted_geometry_never_exceeds_the_screen():
    assert fitted_geometry(QRect(0, 0, 1024, 600), QSize(900, 700)) == QRect(62, 0, 900, 600)
    assert fitted_geometry(QRect(0, 24, 1920, 1056), QSize(900, 700)).size() == QSize(900, 700)
    small = fitted_geometry(QRect(100, 0, 800, 500), QSize(900, 700))
    assert small == QRect(100, 0, 800, 500)


@pytest.mark.parametrize(("screen", "scale", "language"), SCREENS)
def test_navigation_is_inside_the_window_on_every_step(qtbot, tmp_path, text_scale, screen,
                                                      scale, language):
    text_scale(scale)
    i18n.set_language(language)
    app = QApplication.instance()
    app.setLayoutDirection(Qt.LayoutDirection.RightToLeft if language == "ar"
                           else Qt.LayoutDirection.LeftToRight)
    try:
        window = FieldWindow(data_dir=tmp_path, profile_name="w", demo=True,
                             checklist=shipped_checklist, demo_passphrase=PASSPHRASE,
                             kdf=fast_kdf())
        qtbot.addWidget(window)
        window.fit_to_screen(QRect(0, 0, *screen))
        window.show()
        qtbot.waitUntil(lambda: window.profile is not None, timeout=20_000)
        qtbot.wait(20)
        # The window really is no larger than the screen: no minimum size forces it out.
        assert window.width() <= screen[0] and window.height() <= screen[1]
        assert inside(window.home.new_button, window)
        window.new_screening()
        wizard = window.wizard
        problems: list[str] = []
        steps = 0
        while window.stack.currentWidget() is wizard:
            steps += 1
            assert steps < 200
            qtbot.wait(1)
            name = wizard.current_step().items[0].name
            for button in (wizard.back_button, wizard.skip_button, wizard.stop_button,
                           wizard.next_button):
                if not button.isVisible() or not inside(button, window):
                    problems.append(f"{name}: {button.text()} outside the window")
            problems += [f"{name}: {area}" for area in sideways_scrolling(window)]
            page = wizard.question_area.widget()
            if page.width() > wizard.question_area.viewport().width():
                problems.append(f"{name}: the question is wider than the window")
            if name == "child_assent":
                wizard.session.answer("child_assent", "yes")
            move_on(wizard)
        result = window.result
        qtbot.wait(10)
        for widget in (result.confirm, result.save_button, result.back_button):
            if not inside(widget, window):
                problems.append(f"result: {widget.accessibleName()} outside the window")
        problems += [f"result: {area}" for area in sideways_scrolling(window)]
        # The services start inside the window without scrolling.
        top = result.service_list.mapTo(window, QPoint(0, 0)).y()
        if top >= window.height() - 40:
            problems.append("result: the services are below the window")
        assert not problems, "\n".join(problems)
        window.close()
    finally:
        i18n.set_language("en")
        app.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
