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


def test_the_pairs_panel_links_and_unlinks_a_planted_pair(qtbot, delivered):  # noqa: F811
    from fieldscreen.demo.duplicates import planted_duplicates
    from fieldscreen.ui.console.linkage import LinkagePanel
    from fieldscreen.workflows.linkage import LinkageWorkflow
    from tests.unit.workflows.test_linkage import rows_with_codes

    window = open_console(qtbot, delivered)
    panel = LinkagePanel(window)
    qtbot.addWidget(panel)
    demo = planted_duplicates(500, seed=2)
    rows = rows_with_codes(demo)
    panel.show_workflow(LinkageWorkflow(window.profile, rows))
    assert panel.table.rowCount() > 0
    ids = [row[0] for row in rows]
    planted = {(ids[a], ids[b]) for a, b in demo.pairs}
    row = next(n for n, pair in enumerate(panel.shown)
               if tuple(sorted((pair.first, pair.second))) in planted)
    assert "nationality" in panel.table.item(row, 3).text()
    panel.link_button.click()
    assert "Choose a pair" in panel.message.text()
    panel.table.selectRow(row)
    panel.link_button.click()
    assert panel.table.item(row, 4).text() == "Yes"
    assert panel.workflow.links() == {tuple(sorted((panel.shown[row].first,
                                                    panel.shown[row].second)))}
    panel.unlink_button.click()
    assert panel.table.item(row, 4).text() == "No"
    actions = [e.action for e in window.profile.audit_entries()
               if e.action.startswith("linkage.")]
    assert actions == ["linkage.linked", "linkage.unlinked"]
