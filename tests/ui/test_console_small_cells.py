"""The console's dashboard keeps to the deployment's minimum threshold and says what it hid."""

from __future__ import annotations

from fieldscreen.reporting.suppression import HIDDEN, audit_view, raise_deployment_minimum
from tests.ui.test_console_window import delivered, import_from, open_console  # noqa: F401


def test_the_console_cannot_go_below_a_raised_minimum(qtbot, delivered):  # noqa: F811
    raise_deployment_minimum(delivered.coordinator, 8)
    window = open_console(qtbot, delivered)
    import_from(qtbot, window, str(delivered.relay))
    panel = window.dashboard_panel
    assert panel.small_cell.minimum() == 8
    panel.small_cell.setValue(5)
    assert panel.small_cell.value() == 8
    assert panel.published is not None and panel.published.threshold == 8
    assert all(interval.width >= 8 for interval in audit_view(panel.published))
    cells = [panel.table.item(row, 2).text() for row in range(panel.table.rowCount())]
    assert HIDDEN in cells
    assert "fewer than 8 children" in panel.hidden_note.text()


def test_the_same_child_tab_links_and_unlinks_a_planted_pair_and_clears_on_lock(
        qtbot, delivered):  # noqa: F811
    from fieldscreen.demo.duplicates import planted_duplicates
    from fieldscreen.workflows.linkage import LinkageWorkflow
    from tests.unit.workflows.test_linkage import rows_with_codes

    window = open_console(qtbot, delivered)
    panel = window.linkage_panel
    assert window.tabs.indexOf(panel) >= 0
    assert window.tabs.tabText(window.tabs.indexOf(panel)) == "Same child?"
    # "Find pairs" scores the imported screenings on the worker thread.
    import_from(qtbot, window, str(delivered.relay))
    panel.find_button.click()
    qtbot.waitUntil(lambda: panel.workflow is not None, timeout=30_000)
    assert "pair" in panel.message.text() or "No screenings" in panel.message.text()

    demo = planted_duplicates(500, seed=2)
    rows = rows_with_codes(demo)
    panel.show_workflow(LinkageWorkflow(window.profile, rows))
    assert panel.table.rowCount() > 0
    ids = [row[0] for row in rows]
    planted = {(ids[a], ids[b]) for a, b in demo.pairs}
    row = next(n for n, pair in enumerate(panel.shown)
               if tuple(sorted((pair.first, pair.second))) in planted)
    assert "nationality" in panel.table.item(row, 4).text()
    panel.table.clearSelection()
    panel.table.setCurrentCell(-1, -1)
    panel.link_button.click()
    assert "Choose a pair" in panel.message.text()
    panel.table.selectRow(row)
    panel.link_button.click()
    qtbot.waitUntil(lambda: panel.table.item(row, 1).text() == "Yes", timeout=10_000)
    assert panel.message.text().startswith("Linked")
    assert panel.workflow.links() == {tuple(sorted((panel.shown[row].first,
                                                    panel.shown[row].second)))}
    panel.unlink_button.click()
    qtbot.waitUntil(lambda: panel.table.item(row, 1).text() == "No", timeout=10_000)
    actions = [e.action for e in window.profile.audit_entries()
               if e.action.startswith("linkage.")]
    assert actions == ["linkage.linked", "linkage.unlinked"]

    with qtbot.waitSignal(window.locked):
        window.lock()
    assert panel.table.rowCount() == 0 and panel.shown == [] and panel.workflow is None
    assert panel.message.text() == ""
