"""The coordinator's console on a profile kept on PostgreSQL (`console --database URL`).

It imports and shows the queue as on SQLite; a connection cut mid-import shows the message
with what to do next in the import panel, nothing of the batch is kept, and importing
again completes; a server that cannot be reached is told on the unlock screen. A
supervisor's and a partner organisation's logins see their rows only, and are told what
is for coordinators.
"""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtWidgets import QLabel

from fieldscreen.cli import main
from fieldscreen.exchange.sync import sync
from fieldscreen.forms.loader import load_form
from fieldscreen.store.profile import ProfileStore
from fieldscreen.ui.console.referrals import short_id
from fieldscreen.ui.console.window import ConsoleWindow
from tests import postgres_server as pg
from tests.conftest import SHIPPED_FORM
from tests.exchange_helpers import PASSPHRASE, PROFILE, make_world, weak_kdf
from tests.ui.test_console_window import import_from
from tests.unit.postgres.test_faults import _inside_the_import
from tests.unit.postgres.test_row_security import (
    NORTH,
    PARTNER,
    SCREENINGS,
    SOUTH,
    Logins,
    _rows,
    _screen,
)


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


@pytest.fixture
def logins(postgres_server, postgres_url):
    made = Logins(postgres_server, postgres_url.rsplit("/", 1)[1])
    yield made
    made.drop()


def _open(qtbot, data_dir, database: str, clock) -> ConsoleWindow:
    window = _console(qtbot, data_dir, database, clock)
    window.unlock_screen.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(window.facts_ready, timeout=30_000):
        window.unlock_screen.unlock_button.click()
    qtbot.waitUntil(lambda: not window.tasks.busy, timeout=30_000)
    return window


def _texts(widget) -> str:
    return "\n".join(label.text() for label in widget.findChildren(QLabel))


def _queue(window: ConsoleWindow) -> list[tuple[str, str]]:
    """(area, record) of each row of the referral queue, as shown."""
    table = window.referral_panel.table
    headers = [table.horizontalHeaderItem(n).text() for n in range(table.columnCount())]
    area, record = headers.index("Area"), headers.index("Record")
    return [(table.item(row, area).text(), table.item(row, record).text())
            for row in range(table.rowCount())]


def test_a_supervisor_and_a_partner_see_their_rows_and_are_told_what_is_not_theirs(
        qtbot, tmp_path, postgres_url, logins, capsys):
    """Each opens the console as their own login (row-level security, docs/postgresql.md):
    the queue, the case and the dashboard hold their rows only, nothing fails on the
    coordinators' sealed tables, and what they may not do is disabled with the reason."""
    world = make_world(tmp_path, database=postgres_url)
    _screen(world.field, NORTH, 2)
    _screen(world.field, SOUTH, 2)
    assert sync(world.field, target=str(world.relay), now=world.clock).delivered_batches == 1
    world.close()
    coordinator = logins.make("coord", "coordinator")
    supervisor = logins.make("sup_north", "supervisor", (NORTH,))
    partner = logins.make("shelter", "partner", (PARTNER,))
    children = 2 * len(SCREENINGS)  # per area
    cases = 2 * sum(case for _name, case in SCREENINGS)

    window = _open(qtbot, tmp_path / "coordinator", coordinator, world.clock)
    assert window.every_row and window.scope_note.isHidden()
    report = import_from(qtbot, window, str(world.relay))
    assert report.to_json()["records"]["imported"] == 2 * children
    qtbot.waitUntil(lambda: window.referral_panel.table.rowCount() == 2 * cases,
                    timeout=10_000)
    assert window.dashboard_panel.total.text().endswith(f": {2 * children}")
    areas = {area for area, _record in _queue(window)}
    assert len(areas) == 2
    window.lock()
    console = ProfileStore(tmp_path / "referring", kdf=weak_kdf(), database=coordinator).open(
        PROFILE).unlock(PASSPHRASE)
    try:
        north_cases = [case.record_id for case in console.referrals.cases()
                       if _rows(coordinator, "SELECT area FROM imported_records WHERE id = "
                                f"'{case.record_id}'") == [(NORTH,)]]
        referred = north_cases[0]
        console.referral_ledger.add(referral_id=str(uuid.uuid4()), record_id=referred,
                                    partner_id=PARTNER, service_id="shelter",
                                    service_name="Shelter", priority="high")
    finally:
        console.lock()
    sealed_before = _rows(coordinator, "SELECT count(*), sum(length(sealed)) FROM "
                          "statistics_snapshot")

    window = _open(qtbot, tmp_path / "supervisor", supervisor, world.clock)
    assert not window.every_row
    assert window.scope_note.isVisible()
    assert "reads only the screenings of its areas" in window.scope_note.text()
    for panel in (window.import_panel, window.linkage_panel, window.devices_panel):
        index = window.tabs.indexOf(panel)
        assert not window.tabs.isTabEnabled(index)
        assert "For coordinators only" in window.tabs.tabToolTip(index)
    assert window.tabs.currentWidget() is window.referral_panel
    panel = window.referral_panel
    qtbot.waitUntil(lambda: panel.table.rowCount() == cases, timeout=10_000)
    shown = _queue(window)
    assert len({area for area, _record in shown}) == 1  # one area of the two
    assert {short_id(record_id) for record_id in north_cases} == {
        record for _area, record in shown}
    # The dashboard's statistics: computed from this login's rows (its total, below the
    # small-count limit, is shown as hidden).
    assert window.facts is not None and len(window.facts) == children
    assert not panel.deadlines_button.isEnabled()
    # The case view opens the record (reasons, history) but offers no change.
    panel.table.selectRow(0)
    qtbot.waitUntil(lambda: panel.reasons.text() != "", timeout=10_000)
    assert panel.chosen is not None
    assert not panel.save_button.isEnabled() and not panel.status.isEnabled()
    assert "For coordinators only" in panel.save_button.toolTip()
    # The dashboard's export, one row per screening: this area's children only.
    dashboard = window.dashboard_panel
    dashboard.export_format.setCurrentIndex(dashboard.export_format.findData("csv"))
    dashboard.export_records.setChecked(True)
    exported = tmp_path / "supervisor.csv"
    dashboard.export_to(str(exported))
    qtbot.waitUntil(lambda: "Exported" in dashboard.message.text(), timeout=30_000)
    body = exported.read_text(encoding="utf-8")
    assert len(body.strip().splitlines()) == 1 + children
    assert SOUTH not in body and "South District" not in body
    assert NORTH in body or "North District" in body
    # Nothing anywhere failed on a table this login may not read.
    qtbot.waitUntil(lambda: not window.tasks.busy, timeout=10_000)
    assert "does not have the rights" not in _texts(window)
    # The check of the data file checks what this login may read, and passes.
    window.check_button.click()
    qtbot.waitUntil(lambda: window.check_button.isEnabled(), timeout=30_000)
    assert f"Checked {children} imported records." in window.check_status.text()
    assert "passed its integrity check" in window.check_status.text()
    assert "the check covered those" in window.check_status.text()
    window.lock()
    # The coordinators' sealed statistics were neither read into nor written by it.
    assert _rows(coordinator, "SELECT count(*), sum(length(sealed)) FROM "
                 "statistics_snapshot") == sealed_before

    window = _open(qtbot, tmp_path / "partner", partner, world.clock)
    assert not window.every_row and window.scope_note.isVisible()
    qtbot.waitUntil(lambda: window.referral_panel.table.rowCount() == 1, timeout=10_000)
    assert [record for _area, record in _queue(window)] == [short_id(referred)]
    assert not window.tabs.isTabEnabled(window.tabs.indexOf(window.import_panel))
    assert "does not have the rights" not in _texts(window)
    window.lock()
    # The coordinator's console after them: everything enabled again.
    window = _open(qtbot, tmp_path / "coordinator", coordinator, world.clock)
    assert window.every_row and window.scope_note.isHidden()
    assert window.tabs.isTabEnabled(window.tabs.indexOf(window.import_panel))
    window.lock()

    # `coordinator check` as the supervisor: what it could check, not a false failure.
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    code = main(["--basedir", str(tmp_path / "supervisor-cli"), "coordinator", "check",
                 "--database", supervisor, "--passphrase-file", str(secret)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"Checked {children} imported records." in captured.out
    assert "reads only the records of its areas" in captured.out
    assert "passed its integrity check" in captured.out
