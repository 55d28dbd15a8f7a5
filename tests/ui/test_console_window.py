"""The coordinator console on the offscreen platform: import, queue, dashboard, devices."""

from __future__ import annotations

import contextlib

import pytest
from PySide6.QtCharts import QBarCategoryAxis
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from fieldscreen.exchange.batch import batch_file_name
from fieldscreen.exchange.enrolment import enrolment_code
from fieldscreen.exchange.pack import open_linkage_key, read_pack
from fieldscreen.exchange.sync import sync
from fieldscreen.exchange.transports import WebDavTransport
from fieldscreen.forms.loader import load_form
from fieldscreen.reporting.dashboard import Dimension, disaggregate
from fieldscreen.reporting.facts import build_facts
from fieldscreen.reporting.suppression import HIDDEN, audit_view, publish
from fieldscreen.store.follow_up import FollowUpStatus
from fieldscreen.store.profile import ProfileRole, ProfileStore
from fieldscreen.ui.console.window import ConsoleWindow
from tests.conftest import SHIPPED_FORM
from tests.exchange_helpers import PASSPHRASE, PROFILE, make_world
from tests.ui.test_field_window import assert_all_named, fast_kdf
from tests.webdav_server import webdav_server  # noqa: F401 - a fixture


def open_console(qtbot, world, **options) -> ConsoleWindow:
    """The console on the world's coordinator profile, unlocked by typing the passphrase."""
    if world.coordinator.records is not None:
        world.coordinator.lock()
    window = ConsoleWindow(data_dir=world.root / "coord" / "data", profile_name=PROFILE,
                           form_loader=lambda: load_form(SHIPPED_FORM), clock=world.clock,
                           **options)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.unlock_screen.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(window.facts_ready, timeout=30_000):
        window.unlock_screen.unlock_button.click()
    return window


def import_from(qtbot, window: ConsoleWindow, source: str):
    panel = window.import_panel
    panel.source.setText(source)
    with qtbot.waitSignal(window.imported, timeout=60_000) as report:
        panel.import_button.click()
    qtbot.waitUntil(lambda: window.facts is not None and not window.tasks.busy,
                    timeout=30_000)
    return report.args[0]


@pytest.fixture
def delivered(tmp_path):
    """A world whose field laptop synced 12 screenings into the folder relay."""
    world = make_world(tmp_path)
    world.save(12)
    report = sync(world.field, target=str(world.relay), now=world.clock)
    assert report.delivered_batches == 1
    return world


def test_import_then_work_a_referral_to_closed(qtbot, delivered):
    window = open_console(qtbot, delivered)
    assert window.dashboard_panel.total.text().endswith(": 0")
    report = import_from(qtbot, window, str(delivered.relay))
    assert report.to_json()["records"]["imported"] == 12
    results = window.import_panel.results
    assert results.rowCount() == 1
    assert results.item(0, 1).text() == "Imported"
    assert results.item(0, 2).text() == "12"
    assert "1 imported" in window.import_panel.status.text()
    assert list(delivered.relay.glob("*.receipt"))  # the receipt went back to the relay

    queue = window.referral_panel
    qtbot.waitUntil(lambda: queue.table.rowCount() > 0, timeout=10_000)
    assert queue.table.item(0, 0).text() == "Urgent"
    queue.table.selectRow(0)
    record_id = queue.chosen
    assert record_id is not None
    qtbot.waitUntil(lambda: queue.history.count() == 1, timeout=10_000)
    assert queue.reasons.text().startswith("Why:")

    def choose_and_save(status: FollowUpStatus, note: str = "") -> None:
        queue.status.setCurrentIndex(queue.status.findData(status.value))
        queue.note.setPlainText(note)
        queue.save_button.click()
        window.tasks.wait_idle()
        qtbot.wait(50)

    choose_and_save(FollowUpStatus.CONTACTED, "Met the child with the outreach team.")
    qtbot.waitUntil(lambda: queue.message.text() == "Saved.", timeout=10_000)
    choose_and_save(FollowUpStatus.CLOSED)  # early close without a note: refused
    qtbot.waitUntil(lambda: "Write why" in queue.message.text(), timeout=10_000)
    for status in (FollowUpStatus.REFERRED, FollowUpStatus.ACCEPTED,
                   FollowUpStatus.DELIVERED, FollowUpStatus.CLOSED):
        queue.select_case(record_id)
        choose_and_save(status, f"Moved to {status.value}.")
    qtbot.waitUntil(lambda: record_id not in [c.record_id for c in queue.cases],
                    timeout=10_000)
    queue.show_closed.setChecked(True)
    qtbot.waitUntil(lambda: record_id in [c.record_id for c in queue.cases], timeout=10_000)
    profile = window.profile
    assert profile is not None
    case = profile.referrals.case(record_id)
    assert case.status is FollowUpStatus.CLOSED
    assert len(profile.referrals.notes(record_id)) == 5
    audited = [e for e in profile.audit_entries() if e.record_id == record_id
               and e.action == "follow_up.status_changed"]
    assert len(audited) == 5


def test_dashboard_shows_the_counts_with_small_cells_and_filters(qtbot, delivered):
    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    panel = window.dashboard_panel
    expected = disaggregate(build_facts(window.profile.inbox.summaries()))
    assert panel.current is not None and panel.current.total == expected.total == 12
    shown = {(panel.table.item(row, 0).text(), panel.table.item(row, 1).text()):
             panel.table.item(row, 2).text() for row in range(panel.table.rowCount())}
    published = publish(expected, 5)
    for dimension in Dimension:
        for category, _count in expected.counts[dimension]:
            assert panel.cell(dimension, category) == published.count_text(dimension, category)
    assert HIDDEN in shown.values()  # 12 screenings of six kinds make small cells
    # What the console shows is protected: no hidden number can be narrowed.
    assert all(i.width >= 5 for i in audit_view(panel.published))
    assert str(len(published.hidden)) in panel.hidden_note.text()
    axis = next(a for a in panel.charts[Dimension.DECISION].chart().axes()
            if isinstance(a, QBarCategoryAxis))
    assert any("(x)" in name for name in axis.categories())

    # The console cannot go below the deployment's minimum.
    panel.small_cell.setValue(1)
    assert panel.small_cell.value() == 5
    area = panel.area.findData("north_district")
    assert area > 0
    panel.area.setCurrentIndex(area)
    assert 0 < panel.current.total < 12
    panel.area.setCurrentIndex(0)
    assert panel.current.total == 12


def test_a_batch_from_an_unknown_laptop_is_retried_after_enrolling_it(qtbot, tmp_path):
    world = make_world(tmp_path, enrol=False)
    world.save(3)
    sync(world.field, target=str(world.relay), now=world.clock)
    code = enrolment_code(world.field.device_key().public)
    window = open_console(qtbot, world)
    import_from(qtbot, window, str(world.relay))
    panel = window.import_panel
    assert panel.results.item(0, 1).text() == "Quarantined"
    qtbot.waitUntil(lambda: panel.quarantine.rowCount() == 1, timeout=10_000)
    assert "not enrolled" in panel.quarantine.item(0, 2).text()

    devices = window.devices_panel
    typo = code[:10] + ("A" if code[10] != "A" else "C") + code[11:]
    devices.code.setText(typo)
    devices.check_button.click()
    assert "typing mistake" in devices.message.text()
    assert not devices.enrol_button.isEnabled()
    devices.code.setText(code)
    devices.check_button.click()
    assert devices.fingerprint.text() == world.field.device_key().public.fingerprint()
    assert not devices.enrol_button.isEnabled()  # not before the fingerprints are compared
    devices.matches.setChecked(True)
    devices.device_name.setText("North team laptop")
    devices.enrol_button.click()
    qtbot.waitUntil(lambda: devices.table.rowCount() == 1, timeout=10_000)
    assert devices.table.item(0, 0).text() == "North team laptop"

    panel.quarantine.selectRow(0)
    with qtbot.waitSignal(window.imported, timeout=60_000):
        panel.retry_button.click()
    qtbot.waitUntil(lambda: panel.quarantine.rowCount() == 0, timeout=10_000)
    assert panel.results.item(0, 1).text() == "Imported"
    assert len(window.profile.inbox.records()) == 3


def test_revoking_a_device_refuses_its_next_batch(qtbot, delivered):
    window = open_console(qtbot, delivered)
    devices = window.devices_panel
    qtbot.waitUntil(lambda: devices.table.rowCount() == 1, timeout=10_000)
    devices.table.selectRow(0)
    devices.revoke_button.click()
    assert "Tick the box" in devices.message.text()
    devices.revoke_confirm.setChecked(True)
    devices.revoke_button.click()
    qtbot.waitUntil(lambda: devices.table.item(0, 4).text() == "revoked", timeout=10_000)
    import_from(qtbot, window, str(delivered.relay))
    assert window.import_panel.results.item(0, 1).text() == "Quarantined"


def test_import_from_the_webdav_target(qtbot, tmp_path, webdav_server):  # noqa: F811
    world = make_world(tmp_path)
    [batch] = world.seal() if world.save(4) else []
    relay = WebDavTransport(webdav_server.url, username=webdav_server.user,
                            password=webdav_server.password)
    with contextlib.closing(relay):
        relay.put(batch_file_name(batch.batch_id), batch.file)
    window = open_console(qtbot, world)
    window.import_panel.webdav_user.setText(webdav_server.user)
    window.import_panel.webdav_password.setText(webdav_server.password)
    result = import_from(qtbot, window, webdav_server.url)
    assert result.to_json()["records"]["imported"] == 4
    assert any(name.endswith(".receipt") for name in webdav_server.files())


def test_the_console_writes_a_signed_pack(qtbot, delivered, tmp_path):
    window = open_console(qtbot, delivered)
    devices = window.devices_panel
    devices.pack_target.setText(str(tmp_path / "shared"))
    output = tmp_path / "out" / "north.fspack"
    output.parent.mkdir()
    devices.write_pack(output)
    qtbot.waitUntil(lambda: "Wrote the deployment pack" in devices.message.text(),
                    timeout=20_000)
    pack = read_pack(output.read_bytes())
    assert pack.sync is not None and pack.sync.target == str(tmp_path / "shared")
    assert pack.recipient == window.profile.coordinator_identity().recipient
    assert open_linkage_key(pack, delivered.field.device_key()) is None  # not asked for
    devices.write_pack(tmp_path / "missing-folder" / "x.fspack")
    qtbot.waitUntil(lambda: "Cannot write" in devices.message.text(), timeout=20_000)
    # With child codes, the enrolled laptop (and only it) can open the linkage key.
    devices.child_codes.setChecked(True)
    with_codes = tmp_path / "out" / "codes.fspack"
    devices.write_pack(with_codes)
    qtbot.waitUntil(lambda: str(with_codes) in devices.message.text(), timeout=20_000)
    coded = read_pack(with_codes.read_bytes())
    key = open_linkage_key(coded, delivered.field.device_key())
    assert key == window.profile.coordinator_linkage_key()
    assert key not in with_codes.read_bytes()


def test_lock_clears_every_panel_and_quick_exit_clears_the_clipboard(qtbot, delivered):
    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    qtbot.waitUntil(lambda: window.referral_panel.table.rowCount() > 0, timeout=10_000)
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        assert_all_named(window.tabs.currentWidget())
    with qtbot.waitSignal(window.locked):
        window.lock()
    assert window.profile is None and window.facts is None
    assert window.referral_panel.table.rowCount() == 0
    assert window.import_panel.results.rowCount() == 0
    assert window.dashboard_panel.table.rowCount() == 0
    assert window.stack.currentWidget() is window.unlock_screen
    window.unlock_screen.passphrase.setText(PASSPHRASE)
    with qtbot.waitSignal(window.facts_ready, timeout=30_000):
        window.unlock_screen.unlock_button.click()
    assert window.dashboard_panel.current.total == 12
    QGuiApplication.clipboard().setText("copied from a case note")
    window.quick_exit()
    assert QGuiApplication.clipboard().text() == ""
    assert window.profile is None and not window.isVisible()


def test_a_field_profile_is_not_opened_and_a_new_coordinator_is_created(qtbot, tmp_path):
    store = ProfileStore(tmp_path, kdf=fast_kdf())
    store.create("laptop", ProfileRole.FIELD, PASSPHRASE).lock()
    window = ConsoleWindow(data_dir=tmp_path, profile_name="laptop", kdf=fast_kdf())
    qtbot.addWidget(window)
    window.unlock_screen.passphrase.setText(PASSPHRASE)
    window.unlock_screen.unlock_button.click()
    qtbot.waitUntil(lambda: "field profile" in window.unlock_screen.message.text(),
                    timeout=20_000)
    assert window.profile is None

    created = ConsoleWindow(data_dir=tmp_path, profile_name="office", kdf=fast_kdf())
    qtbot.addWidget(created)
    assert created.stack.currentWidget() is created.first_run
    assert not created.first_run.pack_button.isVisible()
    created.first_run.passphrase.setText(PASSPHRASE)
    created.first_run.repeat.setText(PASSPHRASE)
    with qtbot.waitSignal(created.opened, timeout=30_000):
        created.first_run.create_button.click()
    assert created.profile is not None
    assert created.profile.info.role is ProfileRole.COORDINATOR
    assert isinstance(created.tabs.currentWidget(), QWidget)


def test_training_console_shows_the_banner(qtbot, tmp_path):
    window = ConsoleWindow(data_dir=tmp_path, profile_name="training", demo=True,
                           demo_passphrase=PASSPHRASE, kdf=fast_kdf())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.profile is not None, timeout=30_000)
    assert window.banner is not None and window.banner.isVisible()
    assert window.profile.info.demo
    assert "training" in window.windowTitle()


def test_the_dashboard_exports_what_it_shows(qtbot, delivered, tmp_path):
    import openpyxl

    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    panel = window.dashboard_panel
    panel.area.setCurrentIndex(panel.area.findData("north_district"))
    output = tmp_path / "north.xlsx"
    panel.export_format.setCurrentIndex(panel.export_format.findData("xlsx"))
    panel.export_to(str(output))
    qtbot.waitUntil(lambda: "Exported" in panel.message.text(), timeout=20_000)
    workbook = openpyxl.load_workbook(output)
    rows = list(workbook["Counts"].iter_rows(values_only=True))
    workbook.close()
    assert rows[0][1] == "Dimension code"
    for _title, dimension, _label, category, children, training in rows[1:]:
        assert str(children) == panel.cell(Dimension(dimension), category)
        assert training == 0
    assert sum(children for _t, d, _l, _c, children, _training in rows[1:]
               if d == "area" and isinstance(children, int)) <= panel.current.total

    panel.export_format.setCurrentIndex(panel.export_format.findData("csv"))
    panel.export_hxl.setChecked(True)
    panel.export_records.setChecked(True)
    records = tmp_path / "records.csv"
    panel.export_to(str(records))
    qtbot.waitUntil(lambda: str(records) in panel.message.text(), timeout=20_000)
    lines = records.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1].startswith("#meta+id")
    assert len(lines) == 2 + panel.current.total
    actions = [entry.action for entry in window.profile.audit_entries()]
    assert actions.count("data.exported") == 2
    panel.export_to(str(tmp_path / "no-such-folder" / "x.csv"))
    qtbot.waitUntil(lambda: "nothing was written" in panel.message.text().lower()
                    or "cannot" in panel.message.text().lower(), timeout=20_000)


def test_a_long_queue_shows_the_most_urgent_cases_first(qtbot, delivered, monkeypatch):
    from fieldscreen.ui.console import referrals as console_referrals

    monkeypatch.setattr(console_referrals, "SHOWN_CASES", 2)
    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    queue = window.referral_panel
    qtbot.waitUntil(lambda: queue.table.rowCount() == 2, timeout=10_000)
    total = len(window.profile.referrals.cases())
    assert total > 2
    assert queue.more.text() == f"Showing the first 2 of {total} cases, most urgent first."
    assert [queue.table.item(row, 0).text() for row in range(2)] == ["Urgent", "Urgent"]


def test_the_data_file_check_runs_from_the_console_and_says_what_it_found(qtbot, delivered):
    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    assert window.check_button.isVisible()
    window.check_button.click()
    qtbot.waitUntil(lambda: window.check_button.isEnabled(), timeout=30_000)
    assert "Checked 12 imported records." in window.check_status.text()
    assert "passed its integrity check" in window.check_status.text()
    assert not window.check_progress.isVisible()

    # A stored time that no reader can parse: the check names it and says what to do.
    profile = window.profile
    assert profile is not None
    with profile._database.write() as db:
        db.execute("UPDATE imported_records SET created_at = 'yesterday-ish' "
                   "WHERE rowid = (SELECT MIN(rowid) FROM imported_records)")
    window.check_button.click()
    qtbot.waitUntil(lambda: window.check_button.isEnabled(), timeout=30_000)
    status = window.check_status.text()
    assert "1 stored value cannot be read." in status
    assert "make a copy of its folder" in status and "yesterday-ish" not in status

    window.lock()
    assert not window.check_button.isVisible() and window.check_status.text() == ""


def test_a_case_shows_each_note_once_with_consent_and_the_workers_notes(qtbot, delivered):
    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    queue = window.referral_panel
    qtbot.waitUntil(lambda: queue.table.rowCount() > 0, timeout=10_000)
    queue.table.selectRow(0)
    record_id = queue.chosen
    queue.status.setCurrentIndex(queue.status.findData(FollowUpStatus.CONTACTED.value))
    queue.note.setPlainText("Met the child with the outreach team.")
    queue.save_button.click()
    window.tasks.wait_idle()
    qtbot.waitUntil(lambda: queue.message.text() == "Saved.", timeout=10_000)
    # A refresh re-selects the case while its first lookup is still on its way.
    case = next(c for c in queue.cases if c.record_id == record_id)
    queue._show_case(case)
    queue._show_case(case)
    window.tasks.wait_idle()
    qtbot.wait(50)
    entries = [queue.history.item(i).text() for i in range(queue.history.count())]
    assert len(entries) == len(set(entries)) == 3  # new, contacted, the note
    assert sum("Met the child" in entry for entry in entries) == 1
    assert "Consent to a referral:" in queue.case_facts.text()


def test_a_case_shows_its_local_services_and_who_changed_what_when(qtbot, delivered):
    from fieldscreen.forms.schema import Outcome
    from fieldscreen.ui.console.window import shipped_services

    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    queue = window.referral_panel
    qtbot.waitUntil(lambda: queue.table.rowCount() > 0, timeout=10_000)
    queue.table.selectRow(0)
    record_id = queue.chosen
    case = next(c for c in queue.cases if c.record_id == record_id)
    qtbot.waitUntil(lambda: queue.changes.count() == 1, timeout=10_000)
    assert queue.changes.item(0).text().startswith("No change yet")
    queue.status.setCurrentIndex(queue.status.findData(FollowUpStatus.CONTACTED.value))
    queue.note.setPlainText("Called the shelter.")
    queue.save_button.click()
    window.tasks.wait_idle()
    qtbot.waitUntil(lambda: queue.message.text() == "Saved.", timeout=10_000)
    # The list is cleared and refilled when the saved case comes back: wait for a full one.
    qtbot.waitUntil(lambda: queue.changes.count() > 0
                    and not queue.changes.item(0).text().startswith("No change"),
                    timeout=10_000)

    # The services are the shipped directory's matches for this decision and area.
    directory = shipped_services()
    assert window.services is not None and directory is not None
    expected = directory.matching(Outcome(case.priority), case.facts.get("area"))
    shown = [queue.services.item(i).text() for i in range(queue.services.count())]
    assert expected and len(shown) == len(expected)
    for service, line in zip(expected, shown, strict=True):
        assert service.phone.replace(" ", "\u00a0") in line
        assert service.name.get("en", "en") in line

    # Who changed what when: this case's audit entries, oldest first, by this profile.
    changes = [queue.changes.item(i).text() for i in range(queue.changes.count())]
    audited = window.profile.audit_entries(record_id)
    assert len(changes) == len(audited) and all(e.record_id == record_id for e in audited)
    assert changes[-1].split(" — ")[1] == "Status changed from New to Contacted, with a note"
    assert all(line.endswith(f"by {PROFILE}") for line in changes)
    assert f"\u201c{PROFILE}\u201d" in queue.changes_note.text()
    # Cases saved in the same moment are told apart by the end of their ids.
    shown_ids = [queue.table.item(row, 7).text() for row in range(queue.table.rowCount())]
    assert len(set(shown_ids)) == len(shown_ids) == len(queue.cases)
    assert record_id.endswith(shown_ids[0]) and shown_ids[0] in queue.case_title.text()
    assert "Called the shelter" not in "".join(changes)  # notes stay in their own list

    with qtbot.waitSignal(window.locked):
        window.lock()
    assert queue.services.count() == queue.changes.count() == 0
    assert queue.changes_note.text() == queue.services_note.text() == ""


def test_a_services_directory_that_cannot_be_read_does_not_stop_the_console(qtbot, delivered):
    window = open_console(qtbot, delivered, services_loader=lambda: None)
    import_from(qtbot, window, str(delivered.relay))
    queue = window.referral_panel
    qtbot.waitUntil(lambda: queue.table.rowCount() > 0, timeout=10_000)
    queue.table.selectRow(0)
    assert queue.services_note.text() == "No services directory is installed."
    assert queue.services.count() == 0


def test_a_case_carrying_a_linked_screening_shows_both_screenings_reasons(qtbot, delivered):
    from fieldscreen.workflows.linkage import LinkageWorkflow

    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    queue = window.referral_panel
    qtbot.waitUntil(lambda: queue.table.rowCount() > 1, timeout=10_000)
    first, second = queue.cases[0].record_id, queue.cases[1].record_id
    LinkageWorkflow(window.profile).link(first, second)
    queue.refresh()
    window.tasks.wait_idle()
    qtbot.waitUntil(lambda: any(case.linked for case in queue.cases), timeout=10_000)
    carrier = next(case for case in queue.cases if case.linked)
    queue.select_case(carrier.record_id)
    qtbot.waitUntil(lambda: "Also screened as the same child" in queue.reasons.text(),
                    timeout=10_000)
    assert queue.reasons.text().count("Why:") == 2
