"""The field window end to end on the offscreen platform: keyboard, mouse, names, locking."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QRadioButton,
    QWidget,
)

from fieldscreen.forms.loader import load_form
from fieldscreen.forms.services import load_services
from fieldscreen.store.crypto import KdfParameters, b64
from fieldscreen.store.records import RecordStatus
from fieldscreen.ui.field.window import FieldWindow
from tests.conftest import SHIPPED_FORM, SHIPPED_SERVICES

PASSPHRASE = "correct horse battery"
CONTROLS = (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QListWidget,
            QPlainTextEdit, QProgressBar)


def fast_kdf() -> KdfParameters:
    return KdfParameters(b64(os.urandom(16)), 1, 1, 8 * 1024)


def checklist():
    return load_form(SHIPPED_FORM), load_services(SHIPPED_SERVICES)


@pytest.fixture
def window(qtbot, tmp_path):
    created = FieldWindow(data_dir=tmp_path, profile_name="worker", checklist=checklist,
                          demo=True, demo_passphrase=PASSPHRASE, kdf=fast_kdf())
    qtbot.addWidget(created)
    created.show()
    qtbot.waitExposed(created)
    qtbot.waitUntil(lambda: created.profile is not None and created.shortcuts_ready,
                    timeout=20_000)
    yield created
    if created.isVisible():
        created.close()


def settle(window: FieldWindow, qtbot) -> None:
    window.tasks.wait_idle()
    qtbot.wait(20)


def visible_controls(root: QWidget) -> list[QWidget]:
    # A spin box's or combo box's inner line edit is part of it; the outer control is named.
    return [w for w in root.findChildren(QWidget)
            if isinstance(w, CONTROLS) and w.isVisible()
            and not isinstance(w.parentWidget(), QAbstractSpinBox | QComboBox)]


def assert_all_named(root: QWidget) -> None:
    unnamed = [f"{type(w).__name__}:{getattr(w, 'text', lambda: '')()}"
               for w in visible_controls(root) if not w.accessibleName()]
    assert not unnamed, f"controls without an accessible name: {unnamed}"


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None
    return widget


def move_on(wizard) -> None:
    """Next, or Skip when nothing on the step is answered (Next then refuses to move)."""
    step = wizard.current_step()
    wizard.go_next()
    if wizard.current_step() is step and wizard.navigation.problem:
        wizard.skip()


def test_repeated_ctrl_return_never_walks_past_unanswered_questions(window, qtbot):
    # The whole screening by keys alone is tests/ui/test_keyboard_walk.py; this is the
    # key held down (or pressed again and again) from the first step.
    window.activateWindow()
    qtbot.keyClick(focused(), Qt.Key.Key_Return)  # "New screening" has focus
    wizard = window.wizard
    assert window.stack.currentWidget() is wizard
    for _ in range(60):
        qtbot.keyClick(focused(), Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentWidget() is wizard and wizard.index == 0
    assert "Skip" in wizard.message.text()
    window.tasks.wait_idle()
    assert not window.profile.records.list()


def test_full_screening_by_mouse_reaches_urgent(window, qtbot):
    qtbot.mouseClick(window.home.new_button, Qt.MouseButton.LeftButton)
    wizard = window.wizard
    steps = 0
    while window.stack.currentWidget() is wizard:
        steps += 1
        assert steps < 200
        assert_all_named(window)
        item = wizard.current_step().items[0]
        cards = wizard._cards
        if item.name == "child_assent":
            qtbot.mouseClick(cards[0], Qt.MouseButton.LeftButton)
        elif item.name == "a_papers_kept":
            qtbot.mouseClick(cards[0], Qt.MouseButton.LeftButton)  # a red flag: "Yes"
        elif "referral_consent" in [step_item.name for step_item in wizard.current_step().items]:
            # The worker records the child's answer (radio buttons, not the child's cards:
            # "Not asked" is a worker option).
            consent = window.session.form.item("referral_consent").label.get("en")
            [yes] = [button for button in wizard.question_area.findChildren(QRadioButton)
                     if button.accessibleName() == f"{consent}: Yes"]
            qtbot.mouseClick(yes, Qt.MouseButton.LeftButton)
        answered = any(wizard.session.value(i.name) is not None
                       for i in wizard.current_step().items)
        qtbot.mouseClick(wizard.next_button if answered else wizard.skip_button,
                         Qt.MouseButton.LeftButton)
    result = window.result
    assert "Urgent" in result.decision.text()
    assert any("passport" in result.reasons.item(i).text().lower() or "papers" in
               result.reasons.item(i).text().lower() for i in range(result.reasons.count()))
    assert result.service_list.count() > 0
    assert "not identification or proof" in result.disclaimer.text()
    assert not result.save_button.isEnabled()  # saving needs the box ticked first
    result.confirm.click()
    qtbot.mouseClick(result.save_button, Qt.MouseButton.LeftButton)
    settle(window, qtbot)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.home, timeout=10_000)
    [record] = window.profile.records.list()
    assert record.decision == "urgent" and record.follow_up


def test_de_escalating_needs_a_reason(window, qtbot):
    window.new_screening()
    session = window.session
    session.answer_all({"child_assent": "yes", "a_papers_kept": "yes",
                        "referral_consent": "yes"})
    window._show_result()
    result = window.result
    result.final.setCurrentIndex(result.final.findData("monitor"))
    result.confirm.setChecked(True)
    qtbot.mouseClick(result.save_button, Qt.MouseButton.LeftButton)
    assert "reason" in result.message.text().lower()
    assert window.stack.currentWidget() is result
    result.reason.setPlainText("Already with a social worker today.")
    qtbot.mouseClick(result.save_button, Qt.MouseButton.LeftButton)
    settle(window, qtbot)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.home, timeout=10_000)
    [record] = window.profile.records.list()
    stored = window.profile.records.get(record.id).outcome
    assert stored["computed_decision"] == "urgent" and stored["final_decision"] == "monitor"


def test_every_screen_names_its_controls(window, qtbot):
    assert_all_named(window)  # home
    window.new_screening()
    wizard = window.wizard
    seen_worker_page = False
    while window.stack.currentWidget() is wizard:
        assert_all_named(window)
        seen_worker_page |= wizard.current_step().for_worker
        if wizard.current_step().items[0].name == "child_assent":
            wizard.session.answer("child_assent", "yes")
        move_on(wizard)
    assert seen_worker_page
    assert_all_named(window)  # result
    window.lock()
    assert_all_named(window)  # unlock


def test_autosave_keeps_a_draft_that_resumes(window, qtbot):
    window.new_screening()
    wizard = window.wizard
    wizard.session.answer("child_assent", "yes")
    wizard.answered.emit()
    settle(window, qtbot)
    [draft] = window.profile.records.list()
    assert draft.status is RecordStatus.DRAFT
    qtbot.mouseClick(wizard.stop_button, Qt.MouseButton.LeftButton)
    settle(window, qtbot)
    assert window.home.drafts.item(0).data(Qt.ItemDataRole.UserRole) == draft.id
    window._resume_draft(draft.id)
    settle(window, qtbot)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is wizard, timeout=5_000)
    assert wizard.session.answers["child_assent"] == "yes"


def test_auto_lock_clears_every_screen(window, qtbot):
    window.new_screening()
    wizard = window.wizard
    wizard.session.answer("child_assent", "yes")
    question = wizard.current_step().items[0].label.get("en")
    window.idle_timer.setInterval(50)
    window.idle_timer.start()
    with qtbot.waitSignal(window.locked, timeout=5_000):
        pass
    settle(window, qtbot)
    assert window.profile is None and window.session is None
    assert window.stack.currentWidget() is window.unlock_screen
    texts = [w.text() for w in window.findChildren(QLabel)]
    assert not any(question in text for text in texts)
    assert wizard.question_area.widget() is None
    assert window.result.reasons.count() == 0 and window.home.drafts.count() == 0


def test_quick_exit_locks_closes_and_clears_the_clipboard(window, qtbot):
    QGuiApplication.clipboard().setText("Amina Example, 12")
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F12)
    settle(window, qtbot)
    assert window.profile is None
    assert not window.isVisible()
    assert QGuiApplication.clipboard().text() == ""


def test_wrong_passphrase_is_a_clear_message(window, qtbot):
    window.lock()
    settle(window, qtbot)
    screen = window.unlock_screen
    qtbot.keyClicks(screen.passphrase, "not the passphrase")
    qtbot.keyClick(screen.passphrase, Qt.Key.Key_Return)
    settle(window, qtbot)
    qtbot.waitUntil(lambda: screen.unlock_button.isEnabled(), timeout=10_000)
    assert "does not open" in screen.message.text()
    assert window.profile is None


def test_child_language_switches_alone_and_arabic_is_mirrored(qtbot):
    from fieldscreen.engine.session import ScreeningSession
    from fieldscreen.forms.loader import load_form_text
    from fieldscreen.ui.field.wizard import WizardScreen
    from tests.conftest import DATA

    text = (DATA / "forms" / "mini.yaml").read_text(encoding="utf-8")
    text = text.replace("languages: [en, fr]", "languages: [en, fr, ar]").replace(
        'label: {en: "Is it all right to talk with you for a while?"}',
        'label: {en: "Is it all right to talk with you for a while?", '
        'ar: "هل يمكننا أن نتحدث قليلاً؟"}')
    form = load_form_text(text, "mini-ar.yaml")
    wizard = WizardScreen()
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.start(ScreeningSession(form), "en")
    page = wizard.question_area.widget()
    assert page.layoutDirection() == Qt.LayoutDirection.LeftToRight
    wizard.language.setCurrentIndex(wizard.language.findData("ar"))
    page = wizard.question_area.widget()
    assert page.layoutDirection() == Qt.LayoutDirection.RightToLeft
    labels = [label.text() for label in page.findChildren(QLabel)]
    assert "هل يمكننا أن نتحدث قليلاً؟" in labels
    # The worker's own interface stays as it was: only the child's content changes.
    assert wizard.next_button.text() == "Next →"
    assert wizard.layoutDirection() == Qt.LayoutDirection.LeftToRight


def test_trainer_replays_a_scenario_and_practice_starts_a_screening(window, qtbot):
    assert window.home.trainer_button.isVisible()
    qtbot.mouseClick(window.home.trainer_button, Qt.MouseButton.LeftButton)
    settle(window, qtbot)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.trainer, timeout=10_000)
    trainer = window.trainer
    assert trainer.scenario_list.count() >= 12
    assert_all_named(window)
    red_flag = next(i for i, s in enumerate(trainer.scenarios) if "red-flag" in s.id)
    trainer.scenario_list.setCurrentRow(red_flag)
    assert "Urgent" in trainer.story.toPlainText()
    texts = []
    while trainer.next_button.isEnabled():
        qtbot.mouseClick(trainer.next_button, Qt.MouseButton.LeftButton)
        texts.append(trainer.step_label.text())
    assert any("immediate danger" in text for text in texts)
    qtbot.mouseClick(trainer.practise_button, Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.wizard
    assert "synthetic" in window.title.text()


def test_interface_language_switches_in_the_window_and_arabic_mirrors(window, qtbot):
    from fieldscreen import i18n

    try:
        window.new_screening()
        window.wizard.session.answer("child_assent", "yes")
        window.wizard.go_next()
        position = window.wizard.index
        combo = window.ui_language
        combo.setCurrentIndex(combo.findData("ar"))
        assert window.layoutDirection() == Qt.LayoutDirection.RightToLeft
        assert window.lock_button.text() == i18n._("Lock") != "Lock"
        # The open screening survives the switch, at the same question.
        assert window.stack.currentWidget() is window.wizard
        assert window.wizard.index == position
        assert window.wizard.session.answers["child_assent"] == "yes"
        assert_all_named(window)
        combo.setCurrentIndex(combo.findData("fr"))
        assert window.layoutDirection() == Qt.LayoutDirection.LeftToRight
        assert window.wizard.next_button.text() != "Next →"
    finally:
        i18n.set_language("en")
        QApplication.instance().setLayoutDirection(Qt.LayoutDirection.LeftToRight)


def test_one_damaged_record_does_not_blank_the_home_list(window, qtbot):
    profile = window.profile
    saved = [profile.records.save_final("child-screening", "2026.12.0", {"worker_note": "x"},
                                        {"decision": "information"}).id for _ in range(3)]
    with profile._database.write() as db:
        sealed = bytearray(db.execute("SELECT summary FROM records WHERE id = ?",
                                      [saved[0]]).fetchone()[0])
        sealed[-5] ^= 0xFF  # one flipped byte in the ciphertext
        db.execute("UPDATE records SET summary = ? WHERE id = ?", [bytes(sealed), saved[0]])
    window.refresh_home()
    window.tasks.wait_idle()
    qtbot.waitUntil(lambda: "cannot be opened" in window.home.sync_status.text(),
                    timeout=10_000)
    shown = window.home.today.count() + window.home.drafts.count()
    assert shown >= 2 and "1 record cannot be opened" in window.home.sync_status.text()
