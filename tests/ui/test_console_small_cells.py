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
