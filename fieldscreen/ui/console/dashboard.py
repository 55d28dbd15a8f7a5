"""The console's dashboard: children screened by age band, sex, nationality, form of
exploitation, area and decision, with charts (QtCharts) and the same numbers as tables.

Counts come from `fieldscreen.reporting.dashboard.disaggregate` over the in-memory table
built at unlock; a refresh is a few vectorised passes, so it runs on the GUI thread. Counts
below the threshold, and the further cells that would let them be worked out from the
totals (`reporting.suppression`), read "x" in the tables and on the charts, whose bars for
such cells are not drawn: a bar's length would give the number away. The threshold cannot
go below the deployment's minimum.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QHorizontalBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QDate, QMargins, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.i18n import _, active_language, format_number
from fieldscreen.reporting.charts import chart_rows
from fieldscreen.reporting.dashboard import (
    NOT_KNOWN,
    AgeBands,
    DashboardFilter,
    Dimension,
    Disaggregation,
    disaggregate,
)
from fieldscreen.reporting.suppression import SMALL_CELL_MINIMUM, PublishedView, publish

if TYPE_CHECKING:
    from fieldscreen.reporting.facts import ScreeningFacts
    from fieldscreen.ui.console.shell import ConsoleShell

_ALL_AREAS = "__all__"
# What the tables and charts show for a category of a dimension (reporting.labels).
CategoryLabel = Callable[[Dimension, str], str]


def _qdate(date: dt.date) -> QDate:
    return QDate(date.year, date.month, date.day)


def _date(value: QDate) -> dt.date:
    return dt.date(value.year(), value.month(), value.day())


class DashboardPanel(QWidget):
    """Filters, totals, one chart per dimension, the tables, and exports."""

    def __init__(self, window: ConsoleShell, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ = window
        self.facts: ScreeningFacts | None = None
        self.current: Disaggregation | None = None
        self.published: PublishedView | None = None
        self._filling = False
        layout = QVBoxLayout(self)

        filters = QHBoxLayout()
        filters.addWidget(QLabel(_("Screened from:"), self))
        self.start = self._date_edit(_("First screening date counted"))
        filters.addWidget(self.start)
        filters.addWidget(QLabel(_("to:"), self))
        self.end = self._date_edit(_("Last screening date counted"))
        filters.addWidget(self.end)
        filters.addWidget(QLabel(_("Area:"), self))
        self.area = QComboBox(self)
        self.area.setAccessibleName(_("Area counted"))
        filters.addWidget(self.area)
        filters.addWidget(QLabel(_("Age bands:"), self))
        self.bands = QComboBox(self)
        self.bands.setAccessibleName(_("Age bands"))
        self.bands.addItem(_("0–5, 6–11, 12–17"), AgeBands.STANDARD.value)
        self.bands.addItem(_("0–4, 5–11, 12–17 (UNHCR)"), AgeBands.UNHCR.value)
        filters.addWidget(self.bands)
        filters.addWidget(QLabel(_("Hide counts below:"), self))
        self.small_cell = QSpinBox(self)
        # The deployment's minimum is the lowest value (set_facts reads the profile's).
        self.small_cell.setRange(SMALL_CELL_MINIMUM, 50)
        self.small_cell.setValue(SMALL_CELL_MINIMUM)
        self.small_cell.setAccessibleName(_("Small-cell threshold: counts below it are "
                                            "hidden"))
        filters.addWidget(self.small_cell)
        filters.addStretch(1)
        layout.addLayout(filters)
        for widget in (self.start, self.end):
            widget.dateChanged.connect(lambda _date: self.refresh())
        for combo in (self.area, self.bands):
            combo.currentIndexChanged.connect(lambda _index: self.refresh())
        self.small_cell.valueChanged.connect(lambda _value: self.refresh())

        self.total = QLabel(self)
        self.total.setStyleSheet("font-size: 14pt; font-weight: bold;")
        self.total.setAccessibleName(_("Children screened"))
        layout.addWidget(self.total)
        self.hidden_note = QLabel(self)
        self.hidden_note.setWordWrap(True)
        self.hidden_note.setAccessibleName(_("Hidden numbers"))
        layout.addWidget(self.hidden_note)

        self.views = QTabWidget(self)
        self.views.setAccessibleName(_("Charts or tables"))
        charts_page = QScrollArea(self.views)
        charts_page.setWidgetResizable(True)
        charts_holder = QWidget(charts_page)
        grid = QGridLayout(charts_holder)
        self.charts: dict[Dimension, QChartView] = {}
        for index, dimension in enumerate(Dimension):
            view = QChartView(charts_holder)
            view.setRenderHint(QPainter.RenderHint.Antialiasing)
            view.setMinimumSize(320, 280)
            view.setAccessibleName(_("Chart: {dimension}").format(dimension=dimension.title))
            grid.addWidget(view, index // 2, index % 2)
            self.charts[dimension] = view
        charts_page.setWidget(charts_holder)
        self.views.addTab(charts_page, _("Charts"))

        tables_page = QWidget(self.views)
        tables_layout = QHBoxLayout(tables_page)
        self.table = QTableWidget(0, 3, tables_page)
        self.table.setHorizontalHeaderLabels([_("Dimension"), _("Category"), _("Children")])
        self.table.setAccessibleName(_("Counts by dimension"))
        self.cross = QTableWidget(0, 0, tables_page)
        self.cross.setAccessibleName(_("Age band by sex"))
        for table in (self.table, self.cross):
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.verticalHeader().setVisible(table is self.cross)
            table.horizontalHeader().setSectionResizeMode(
                QHeaderView.ResizeMode.ResizeToContents)
        tables_layout.addWidget(self.table, 3)
        tables_layout.addWidget(self.cross, 2)
        self.views.addTab(tables_page, _("Tables"))
        layout.addWidget(self.views, 1)

        exports = QHBoxLayout()
        self.export_format = QComboBox(self)
        self.export_format.setAccessibleName(_("Export format"))
        self.export_format.addItem(_("Spreadsheet (XLSX)"), "xlsx")
        self.export_format.addItem(_("Comma-separated (CSV)"), "csv")
        exports.addWidget(self.export_format)
        self.export_hxl = QCheckBox(_("Add HXL hashtags"), self)
        self.export_hxl.setAccessibleName(_("Add a row of HXL hashtags for humanitarian "
                                            "tools"))
        exports.addWidget(self.export_hxl)
        self.export_records = QCheckBox(_("One row per screening (sensitive)"), self)
        self.export_records.setAccessibleName(_("Export one row per screening instead of "
                                                "counts"))
        exports.addWidget(self.export_records)
        self.export_button = QPushButton(_("Export…"), self)
        self.export_button.setAccessibleName(_("Export these numbers to a file"))
        self.export_button.clicked.connect(self._export_clicked)
        exports.addWidget(self.export_button)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAccessibleName(_("Message"))
        exports.addWidget(self.message, 1)
        layout.addLayout(exports)
        self.show_loading()

    def _date_edit(self, name: str) -> QDateEdit:
        edit = QDateEdit(self)
        edit.setCalendarPopup(True)
        edit.setAccessibleName(name)
        edit.setDisplayFormat("yyyy-MM-dd")
        return edit

    # -- data ------------------------------------------------------------------------------

    def show_loading(self) -> None:
        self.total.setText(_("Counting the imported records…"))

    def show_error(self, message: str) -> None:
        self.total.setText(message)

    def set_facts(self, facts: ScreeningFacts) -> None:
        """Take a freshly built statistics table; the filters reset to everything in it."""
        self.facts = facts
        self._filling = True
        try:
            self._apply_minimum()
            first = facts.first_day or dt.date.today()
            last = facts.last_day or dt.date.today()
            for edit in (self.start, self.end):
                edit.setDateRange(_qdate(first), _qdate(last))
            self.start.setDate(_qdate(first))
            self.end.setDate(_qdate(last))
            chosen = self.area.currentData()
            self.area.clear()
            self.area.addItem(_("All areas"), _ALL_AREAS)
            label = self._labels()
            for name in sorted(NOT_KNOWN if name is None else name for name in facts.areas):
                self.area.addItem(label(Dimension.AREA, name), name)
            self.area.setCurrentIndex(max(0, self.area.findData(chosen)))
        finally:
            self._filling = False
        self.refresh()

    def _apply_minimum(self) -> None:
        from fieldscreen.reporting.suppression import deployment_minimum

        profile = self.window_.profile
        minimum = deployment_minimum(profile) if profile is not None else SMALL_CELL_MINIMUM
        self.small_cell.setMinimum(minimum)
        self.small_cell.setMaximum(max(50, minimum))

    def query(self) -> DashboardFilter:
        area = self.area.currentData()
        return DashboardFilter(
            start=_date(self.start.date()), end=_date(self.end.date()),
            areas=None if area in (None, _ALL_AREAS) else frozenset({area}),
            age_bands=AgeBands(self.bands.currentData() or AgeBands.STANDARD.value))

    def _labels(self) -> CategoryLabel:
        from fieldscreen.reporting.labels import form_labels

        return form_labels(self.window_.form, active_language())

    def refresh(self) -> None:
        """Count again with the current filters and redraw the charts and tables."""
        if self._filling or self.facts is None:
            return
        self.current = disaggregate(self.facts, self.query())
        published = self.published = publish(self.current, self.small_cell.value())
        self.total.setText(_("Children screened: {count}").format(
            count=published.total_text() if published.is_hidden(("total",))
            else format_number(self.current.total)))
        self.hidden_note.setText(published.summary())
        label = self._labels()
        self.table.setRowCount(0)
        for dimension in Dimension:
            for category, count in self.current.counts[dimension]:
                if count == 0 and category == NOT_KNOWN:
                    continue
                row = self.table.rowCount()
                self.table.insertRow(row)
                for column, text in enumerate((dimension.title, label(dimension, category),
                                               published.count_text(dimension,
                                                                    category))):
                    item = QTableWidgetItem(text)
                    if column == 2:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(row, column, item)
            self._draw(dimension, label)
        self._fill_cross(label)

    def cell(self, dimension: Dimension, category: str) -> str:
        """What the tables show for one category (tests compare exports with it)."""
        assert self.published is not None
        return self.published.count_text(dimension, category)

    def _fill_cross(self, label: CategoryLabel) -> None:
        published = self.published
        assert published is not None
        current = published.view
        sexes = current.sexes
        self.cross.clear()
        self.cross.setRowCount(len(current.age_by_sex))
        self.cross.setColumnCount(len(sexes))
        self.cross.setHorizontalHeaderLabels([label(Dimension.SEX, sex) for sex in sexes])
        self.cross.setVerticalHeaderLabels([label(Dimension.AGE_BAND, band)
                                            for band, _row in current.age_by_sex])
        for row, (band, counts) in enumerate(current.age_by_sex):
            for column, count in enumerate(counts):
                self.cross.setItem(row, column, QTableWidgetItem(
                    published.cross_text(band, sexes[column], count)))

    def _draw(self, dimension: Dimension, label: CategoryLabel) -> None:
        assert self.published is not None
        rows = chart_rows(self.published, dimension, label)
        bars = QBarSet(dimension.title)
        for bar in rows.bars:
            bars.append(bar.height)
        horizontal = dimension in (Dimension.NATIONALITY, Dimension.EXPLOITATION_FORM,
                                   Dimension.AREA)
        series = QHorizontalBarSeries() if horizontal else QBarSeries()
        series.append(bars)
        chart = QChart()
        chart.setTitle(dimension.title)
        chart.addSeries(series)
        chart.legend().hide()
        chart.setMargins(QMargins(4, 4, 4, 4))
        categories = QBarCategoryAxis()
        categories.append([bar.label for bar in rows.bars])
        values = QValueAxis()
        values.setLabelFormat("%d")
        values.setMin(0)
        values.setMax(rows.axis_max)
        chart.addAxis(categories, Qt.AlignmentFlag.AlignLeft if horizontal
                      else Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(values, Qt.AlignmentFlag.AlignBottom if horizontal
                      else Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(categories)
        series.attachAxis(values)
        old = self.charts[dimension].chart()
        self.charts[dimension].setChart(chart)
        if old is not None:
            old.deleteLater()

    # -- export ----------------------------------------------------------------------------

    def _export_clicked(self) -> None:
        fmt = self.export_format.currentData()
        path, _filter = QFileDialog.getSaveFileName(
            self, _("Export to"), f"fieldscreen-export.{fmt}",
            _("Spreadsheet (*.xlsx)") if fmt == "xlsx" else _("CSV (*.csv)"))
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> None:
        """Write what the dashboard shows (or one row per screening) to `path` on the worker.

        Counts come from the table already in memory; the export is noted in the audit log.
        """
        from pathlib import Path

        from fieldscreen.reporting.exports import ExportResult, export_profile

        window = self.window_
        profile, facts = window.profile, self.facts
        if profile is None or facts is None:
            return
        options = {"fmt": self.export_format.currentData(), "hxl": self.export_hxl.isChecked(),
                   "records": self.export_records.isChecked(), "query": self.query(),
                   "labels": self._labels(), "small_cell": self.small_cell.value(),
                   "now": window.clock, "facts": facts}

        def done(result: ExportResult) -> None:
            self.message.setText(_("Exported {rows} rows to {path}.").format(
                rows=format_number(result.rows), path=result.path))

        self.message.setText(_("Exporting…"))
        window.run_task(lambda: export_profile(profile, Path(path), **options), done,
                        self.message.setText)

    def clear(self) -> None:
        self.facts = None
        self.current = None
        self.published = None
        self.hidden_note.clear()
        self.table.setRowCount(0)
        self.cross.clear()
        self.cross.setRowCount(0)
        self.cross.setColumnCount(0)
        for view in self.charts.values():
            old = view.chart()
            view.setChart(QChart())
            if old is not None:
                old.deleteLater()
        self.message.clear()
        self.area.clear()
        self.show_loading()
