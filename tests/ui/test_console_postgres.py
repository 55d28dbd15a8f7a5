"""The coordinator's console on a profile kept on PostgreSQL (`console --database URL`).

It imports and shows the queue as on SQLite; a connection cut mid-import shows the message
with what to do next in the import panel, nothing of the batch is kept, and importing
again completes; a server that cannot be reached is told on the unlock screen.
"""

from __future__ import annotations

from fieldscreen.exchange.sync import sync
from fieldscreen.forms.loader import load_form
from fieldscreen.ui.console.window import ConsoleWindow
from tests import postgres_server as pg
from tests.conftest import SHIPPED_FORM
from tests.exchange_helpers import PASSPHRASE, PROFILE, make_world
from tests.ui.test_console_window import import_from
from tests.unit.postgres.test_faults import _inside_the_import


def _console(qtbot, data_dir, database: str, clock=None) -> ConsoleWindow:
    window = ConsoleWindow(data_dir=data_dir, profile_name=PROFILE, database=database,
                           form_loader=lambda: load_form(SHIPPED_FORM), clock=clock)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_import_on_postgres_and_a_cut_connection_in_the_import_panel(
        qtbot, tmp_path, postgres_server, postgres_url, monkeypatch):
    world = make_world(tmp_path, database=postgres_url)
    world.save(12)
    assert sync(world.field, target=str(world.relay), now=world.clock).delivered_batches == 1
    world.close()
    window = _console(qtbot, world.root / "coord" / "data", postgres_url, world.clock)
    assert window.stack.currentWidget() is window.unlock_screen
    window.unlock_screen.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(window.facts_ready, timeout=30_000):
        window.unlock_screen.unlock_button.click()

    database = postgres_url.rsplit("/", 1)[1]

    def cut() -> None:
        with postgres_server.admin() as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND application_name = 'fieldscreen'", [database])

    with _inside_the_import(monkeypatch, cut):
        report = import_from(qtbot, window, str(world.relay))
    assert report.to_json()["records"]["imported"] == 0
    status = window.import_panel.status.text()
    assert "was lost" in status and "Nothing of it was kept" in status
    assert pg.ADMIN_PASSWORD not in status

    report = import_from(qtbot, window, str(world.relay))
    assert report.to_json()["records"]["imported"] == 12
    qtbot.waitUntil(lambda: window.referral_panel.table.rowCount() > 0, timeout=10_000)
    window.lock()


def test_a_server_out_of_reach_is_told_on_the_unlock_screen(qtbot, tmp_path, postgres_server):
    down = f"postgresql://{pg.ADMIN}:pw-out-of-reach@127.0.0.1:{pg._free_port()}/nothing"
    window = _console(qtbot, tmp_path, down)
    window.unlock_screen.passphrase.setText(PASSPHRASE)
    window.unlock_screen.unlock_button.click()
    message = window.unlock_screen.message
    qtbot.waitUntil(lambda: "Cannot reach the database server" in message.text(),
                    timeout=30_000)
    assert "Check that the server is running" in message.text()
    assert "pw-out-of-reach" not in message.text()
