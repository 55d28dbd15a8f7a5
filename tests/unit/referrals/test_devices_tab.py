"""The console's Devices tab lists enrolled partner services beside the laptops."""

from __future__ import annotations

from fieldscreen.store.crypto import SigningKey
from tests.exchange_helpers import make_world
from tests.ui.test_console_window import open_console


def test_partners_are_listed_with_their_fingerprints(qtbot, tmp_path):
    world = make_world(tmp_path)
    key = SigningKey.generate().public
    world.coordinator.partners.enroll(key.raw, "Example shelter")
    window = open_console(qtbot, world)
    table = window.devices_panel.partners_table
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=10_000)
    assert table.item(0, 0).text() == "Example shelter"
    assert table.item(0, 2).text() == key.fingerprint()
    assert table.item(0, 4).text() == "active"
    window.lock()
    assert table.rowCount() == 0
