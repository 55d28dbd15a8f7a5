"""The details a field worker meets on each screen (#19): languages, answer cards, long
lists, the result's incomplete state, progress, the demo start, the unlock message."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QRadioButton

from fieldscreen import i18n
from fieldscreen.store.profile import WrongPassphrase
from fieldscreen.ui.app import shipped_checklist
from fieldscreen.ui.field.answer_cards import CHOSEN_MARK, card_numbers
from fieldscreen.ui.field.choices import SearchableChoices
from fieldscreen.ui.field.result import FSI, INCOMPLETE_COLOUR, PDI
from fieldscreen.ui.field.window import FieldWindow
from fieldscreen.ui.profile_window import unlock_failure
from tests.ui.test_field_window import PASSPHRASE, fast_kdf, move_on


@pytest.fixture
def window(qtbot, tmp_path):
    created = FieldWindow(data_dir=tmp_path, profile_name="worker",
                          checklist=shipped_checklist, demo=True,
                          demo_passphrase=PASSPHRASE, kdf=fast_kdf())
    qtbot.addWidget(created)
    # Training opens on its home screen at once, never on the real set-up screen.
    assert created.stack.currentWidget() is created.home
    created.show()
    qtbot.waitUntil(lambda: created.profile is not None, timeout=20_000)
    yield created
    created.close()


@pytest.fixture
def french_worker():
    i18n.set_language("fr")
    yield
    i18n.set_language("en")
    QApplication.instance().setLayoutDirection(Qt.LayoutDirection.LeftToRight)


def go_to(wizard, name: str) -> None:
    for _ in range(200):
        if any(item.name == name for item in wizard.current_step().items):
            return
        if wizard.current_step().items[0].name == "child_assent":
            wizard.session.answer("child_assent", "yes")
        move_on(wizard)
    raise AssertionError(f"{name} never shown")


def page_texts(wizard) -> list[str]:
    return [label.text() for label in wizard.question_area.widget().findChildren(QLabel)]


def test_worker_items_follow_the_worker_and_child_items_the_child(window, french_worker):
    form = window.form
    window.new_screening()
    wizard = window.wizard
    assert wizard.child_language == "fr"  # the worker's language by default
    wizard.language.setCurrentIndex(wizard.language.findData("en"))
    go_to(wizard, "nationality")
    texts = page_texts(wizard)
    assert form.item("nationality").label.get("fr") in texts
    radios = [r.text() for r in wizard.question_area.widget().findChildren(QRadioButton)]
    assert any(form.item("area").choice_list.choices[0].label.get("fr") in r
               for r in radios)
    go_to(wizard, "a_papers_kept")
    texts = page_texts(wizard)
    assert form.item("a_papers_kept").label.get("en") in texts  # the child's language
    hint = form.item("a_papers_kept").hint.get("fr")
    if hint:  # a hint is the worker's, in French, marked as the worker's
        assert any(hint in text and text != hint for text in texts)
        assert form.item("a_papers_kept").hint.get("en") not in " ".join(texts)


def test_the_childs_language_is_remembered_for_the_next_screening(window, qtbot):
    window.new_screening()
    wizard = window.wizard
    wizard.language.setCurrentIndex(wizard.language.findData("uk"))
    qtbot.mouseClick(wizard.stop_button, Qt.MouseButton.LeftButton)
    window.tasks.wait_idle()
    window.new_screening()
    assert wizard.child_language == "uk"


def test_every_answer_keeps_its_number_and_place():
    assert card_numbers(["yes", "not_sure", "no", "rather_not_say"]) == [1, 3, 2, 4]
    assert card_numbers(["yes", "no"]) == [1, 2]
    assert card_numbers(["girl", "boy", "another_identity", "rather_not_say"]) == [1, 2, 3, 4]


def test_no_is_two_on_consent_and_on_risk_questions_and_the_choice_is_marked(window, qtbot):
    window.new_screening()
    wizard = window.wizard
    go_to(wizard, "child_assent")
    assert [c.answer_text for c in wizard._cards][1] == "No"
    go_to(wizard, "a_papers_kept")
    cards = wizard._cards
    assert cards[1].answer_text == "No" and cards[1].number == 2
    no_place = cards[1].geometry().topLeft()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_2)
    assert cards[1].isChecked() and cards[1].text().startswith(CHOSEN_MARK)
    assert not cards[0].text().startswith(CHOSEN_MARK)
    assert wizard.session.answers["a_papers_kept"] == "no"
    # Chosen and focused look different from chosen alone (the border colour changes).
    chosen_focused = cards[1].grab().toImage()
    cards[0].setFocus()
    chosen_only = cards[1].grab().toImage()
    assert chosen_focused != chosen_only
    while wizard.current_step().items[0].name != "child_assent":
        wizard.go_back()
    assert wizard._cards[1].geometry().topLeft() == no_place


def test_nationality_is_a_searchable_list_that_reaches_every_choice(window, qtbot):
    window.new_screening()
    wizard = window.wizard
    go_to(wizard, "nationality")
    [search] = wizard.question_area.widget().findChildren(SearchableChoices)
    assert search.list.count() == 17
    search.search.setFocus()
    for wanted, typed in (("stateless", "statel"), ("unknown", "unkn")):
        search.search.clear()
        qtbot.keyClicks(search.search, typed)
        choices = window.form.item("nationality").choice_list.choices
        label = next(c for c in choices if c.name == wanted).label.get("en")
        assert [r.text() for r in search.visible_rows()] == [label]
        assert wizard.session.answers["nationality"] == wanted
    # Cleared, every choice is back; Up moves through them from the search box.
    search.search.clear()
    assert len(search.visible_rows()) == 17
    qtbot.keyClick(search.search, Qt.Key.Key_Up)
    assert wizard.session.answers["nationality"] == "other"
    # Nothing lies to the side: the list is never wider than the question area.
    assert search.list.width() <= wizard.question_area.viewport().width()
    assert not search.list.horizontalScrollBar().isVisible()


def test_a_screening_with_everything_skipped_is_incomplete_not_green(window):
    window.new_screening()
    wizard = window.wizard
    first_total = wizard.navigation.total
    wizard.session.answer("child_assent", "yes")
    steps = 0
    while window.stack.currentWidget() is wizard:
        steps += 1
        # Progress counts the whole screening from the first step on.
        assert wizard.navigation.total == first_total
        wizard.skip()
    result = window.result
    assert "Incomplete" in result.decision.text()
    assert INCOMPLETE_COLOUR in result.decision.styleSheet()
    assert "#166534" not in result.decision.styleSheet()
    assert steps <= first_total


def test_services_isolate_their_directions(window):
    window.new_screening()
    window.session.answer_all({"child_assent": "yes", "a_papers_kept": "yes",
                               "area": "north_district"})
    window._show_result()
    texts = [window.result.service_list.item(i).text()
             for i in range(window.result.service_list.count())]
    assert texts and all(text.count(FSI) == 3 and text.count(PDI) == 4 for text in texts)
    # The phone number is left to right whatever the line's direction, and on one line:
    # a first-strong isolate showed "+00 000 000 001" as "001 000 000 00+" in Arabic.
    for text in texts:
        phone = text.split(" — ")[1]
        assert phone.startswith("\u2066+") and phone.endswith("\u2069") and " " not in phone


def test_the_shortcuts_are_on_screen(window):
    window.new_screening()
    hint = window.wizard.keys_hint
    assert hint.isVisible() and "Enter" in hint.text() and "F12" in hint.text()


def test_a_wrong_passphrase_says_what_is_true_for_this_profile():
    error = WrongPassphrase("That passphrase does not open this profile.", hint="x", delay=0)
    standalone = unlock_failure(error, has_recovery=False)
    assert "coordinator" not in standalone and "no recovery" in standalone
    assert "coordinator can recover" in unlock_failure(error, has_recovery=True)


def test_a_standalone_profile_does_not_promise_recovery(window, qtbot):
    window.lock()
    window.tasks.wait_idle()
    screen = window.unlock_screen
    qtbot.keyClicks(screen.passphrase, "not the passphrase")
    qtbot.keyClick(screen.passphrase, Qt.Key.Key_Return)
    window.tasks.wait_idle()
    qtbot.waitUntil(lambda: "does not open" in screen.message.text(), timeout=10_000)
    assert "coordinator" not in screen.message.text()


def test_switching_the_workers_language_keeps_the_childs(window):
    window.new_screening()
    assert window.wizard.child_language == "en"
    try:
        window.set_interface_language("uk")
        assert window.wizard.child_language == "en"
        labels = page_texts(window.wizard)
        # The worker's first page (a worker note) is now in Ukrainian.
        note = window.form.item("consent_worker_prepare").label.get("uk")
        assert note in labels
    finally:
        window.set_interface_language("en")


def test_enter_never_answers_and_never_moves_from_the_language_menu(window, qtbot):
    window.new_screening()
    wizard = window.wizard
    go_to(wizard, "a_papers_kept")
    start = wizard.index
    wizard.language.setFocus()
    qtbot.keyClick(wizard.language, Qt.Key.Key_Return)
    assert wizard.index == start
    wizard._cards[0].setFocus()
    qtbot.keyClick(wizard._cards[0], Qt.Key.Key_Return)  # answers nothing: stays
    assert "a_papers_kept" not in wizard.session.answers and wizard.index == start
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_2)  # "No"
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)  # moves on
    assert wizard.index == start + 1
