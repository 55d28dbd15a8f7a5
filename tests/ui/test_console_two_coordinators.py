"""Two coordinators on one profile, one of them in the console: the case history names who
made each change, and a change decided on a case the other changed since is refused with
"Someone else changed this case", nothing saved."""

from __future__ import annotations

from fieldscreen.store.follow_up import FollowUpStatus
from fieldscreen.store.profile import ProfileStore
from tests.exchange_helpers import PROFILE
from tests.ui.test_console_window import delivered, import_from, open_console  # noqa: F401

SECOND = "amina's own long passphrase"


def test_the_console_names_each_coordinator_and_refuses_a_stale_change(qtbot, delivered):  # noqa: F811
    delivered.coordinator.add_coordinator("Amina", SECOND)
    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    queue = window.referral_panel
    qtbot.waitUntil(lambda: queue.table.rowCount() > 0, timeout=10_000)
    queue.table.selectRow(0)
    record_id = queue.chosen

    # Amina, at her own console, moves the case while this one still shows it as new.
    amina = ProfileStore(delivered.root / "coord" / "data", clock=delivered.clock).open(
        PROFILE).unlock(SECOND)
    try:
        amina.referrals.change_status(record_id, FollowUpStatus.CONTACTED)
    finally:
        amina.lock()

    queue.status.setCurrentIndex(queue.status.findData(FollowUpStatus.REFERRED.value))
    queue.note.setPlainText("Referred to the shelter.")
    queue.save_button.click()
    window.tasks.wait_idle()
    qtbot.waitUntil(lambda: "Someone else changed this case" in queue.message.text(),
                    timeout=10_000)
    assert window.profile.referrals.case(record_id).status is FollowUpStatus.CONTACTED
    assert window.profile.referrals.notes(record_id) == []

    # Reloaded, the change goes through; the history says who made each one.
    queue.refresh()
    window.tasks.wait_idle()
    qtbot.waitUntil(lambda: any(case.record_id == record_id
                                and case.status is FollowUpStatus.CONTACTED
                                for case in queue.cases), timeout=10_000)
    queue.table.selectRow(next(row for row, case in enumerate(queue.cases)
                               if case.record_id == record_id))
    qtbot.waitUntil(lambda: queue.chosen == record_id and queue.changes.count() == 1,
                    timeout=10_000)
    queue.status.setCurrentIndex(queue.status.findData(FollowUpStatus.REFERRED.value))
    queue.save_button.click()
    window.tasks.wait_idle()
    qtbot.waitUntil(lambda: queue.message.text() == "Saved.", timeout=10_000)
    qtbot.waitUntil(lambda: queue.changes.count() == 2, timeout=10_000)
    changes = [queue.changes.item(i).text() for i in range(queue.changes.count())]
    assert changes[0].endswith("by Amina") and changes[1].endswith(f"by {PROFILE}")
    assert "names the coordinator who made it" in queue.changes_note.text()
