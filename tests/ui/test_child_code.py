"""The field window's optional child code: shown only with the linkage key, letters dropped.

A worker types the child's letters into a small dialog; the window must make the code, show
that it did, save it with the screening, and leave the letters nowhere: the fields take two
letters (a name cannot be typed in full), are emptied whatever the worker chooses, and no
file under the profile folders holds what was typed.
"""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from fieldscreen.exchange.pack import SyncSettings, build_pack, install_pack, linkage_share
from fieldscreen.forms.loader import load_form
from fieldscreen.forms.services import load_services
from fieldscreen.store.profile import ProfileStore
from fieldscreen.ui.field.window import FieldWindow
from tests.conftest import SHIPPED_FORM, SHIPPED_SERVICES
from tests.exchange_helpers import PASSPHRASE, PROFILE, make_world, weak_kdf
from tests.store_helpers import ANSWERS

GIVEN, FAMILY = "Zorblaxine", "Quentworthy"


def _window(qtbot, world) -> FieldWindow:
    window = FieldWindow(data_dir=world.root / "field" / "data", profile_name=PROFILE,
                         checklist=lambda: (load_form(SHIPPED_FORM),
                                            load_services(SHIPPED_SERVICES)))
    qtbot.addWidget(window)
    window.show()
    window.unlock_screen.passphrase.setText(PASSPHRASE)
    window.unlock_screen.unlock_button.click()
    qtbot.waitUntil(lambda: window.profile is not None and window.form is not None,
                    timeout=30_000)
    return window


def _world(tmp_path, *, linkage: bool):
    world = make_world(tmp_path)
    if linkage:
        install_pack(world.field, build_pack(
            signing_key=world.coordinator.coordinator_signing_key(),
            recipient=world.recipient, coordinator_name="Test coordinator",
            form_paths=[SHIPPED_FORM], services_path=SHIPPED_SERVICES,
            sync=SyncSettings(str(world.relay)), retention_days=30, demo=False,
            now=world.clock(), sequence=2, linkage=linkage_share(world.coordinator)))
    world.close()
    return world


def test_without_the_linkage_key_the_window_offers_no_child_code(qtbot, tmp_path):
    window = _window(qtbot, _world(tmp_path, linkage=False))
    window.new_screening()
    assert window.session is not None
    assert not window.child_code_button.isVisible()
    window.close()


def test_the_code_is_made_from_two_letters_saved_and_the_letters_are_nowhere(qtbot,
                                                                             tmp_path):
    world = _world(tmp_path, linkage=True)
    window = _window(qtbot, world)
    assert not window.child_code_button.isVisible()  # no screening open yet
    window.new_screening()
    assert window.child_code_button.isVisible()
    window.child_code_button.click()
    dialog = window.child_code_dialog
    QTest.keyClicks(dialog.given, GIVEN)
    QTest.keyClicks(dialog.family, FAMILY)
    assert (dialog.given.text(), dialog.family.text()) == ("Zo", "Qu")
    assert dialog.given.contextMenuPolicy() == Qt.ContextMenuPolicy.NoContextMenu
    dialog.birth_year.setValue(2012)
    dialog.sex.setCurrentIndex(1)
    dialog.save_button.click()
    assert not dialog.isVisible()
    assert dialog.given.text() == "" and dialog.family.text() == ""
    assert window.screenings.child_code is not None
    assert window.child_code_button.text() == "Child code: made"

    answers = json.loads((ANSWERS / "referral.json").read_text(encoding="utf-8"))
    window.session.answer_all(answers)
    record_id = window.record_id
    saved = []
    window.saved.connect(saved.append)
    window._save_final(window.session.outcome())
    qtbot.waitUntil(lambda: saved == [record_id], timeout=20_000)
    assert not window.child_code_button.isVisible()
    window.lock()
    window.close()

    profile = ProfileStore(world.root / "field" / "data", kdf=weak_kdf()).open(
        PROFILE).unlock(PASSPHRASE)
    try:
        record = profile.records.get(record_id)
        assert set(record.outcome["child_code"]) == {"full", "given", "family"}
        assert "zo" not in json.dumps(record.answers).casefold().split('"')
    finally:
        profile.lock()
    for path in world.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for marker in (GIVEN, FAMILY, "Zorbl", "Quentw"):
                for encoding in ("utf-8", "utf-16-le"):
                    assert marker.encode(encoding) not in data, path


def test_locking_with_the_dialog_open_drops_the_letters_and_the_code(qtbot, tmp_path):
    window = _window(qtbot, _world(tmp_path, linkage=True))
    window.new_screening()
    window.ask_child_code()
    dialog = window.child_code_dialog
    QTest.keyClicks(dialog.given, GIVEN)
    window.screenings.set_child_code(given="ab", family="cd", birth_year=2010, sex=None)
    window.lock()
    assert not dialog.isVisible() and dialog.given.text() == ""
    assert window.child_code_dialog is None
    assert window.screenings.child_code is None
    assert not window.child_code_button.isVisible()
    window.close()
