"""What a dashboard chart draws for one dimension: its bars, their labels, the axis' top.

The rules that keep small cells hidden in a chart live here, not in the widget that draws
it, so they are tested without Qt and any other renderer (an export's chart, a web page)
draws the same: a suppressed count is a bar of height 0 labelled "<N"; past
CHART_CATEGORIES the largest categories stay and the rest fold into "All others"; small
cells sort by name, because their order by count would tell them apart; and the axis never
ends at a hidden count.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from fieldscreen.i18n import _
from fieldscreen.reporting.dashboard import (
    NOT_KNOWN,
    CategoryLabel,
    Dimension,
    Disaggregation,
    cell_text,
    suppressed,
)

# A chart cannot label twenty bars; the tables list every category.
CHART_CATEGORIES = 6


@dataclass(frozen=True, slots=True)
class ChartBar:
    """One bar: its axis label (escaped for Qt's rich-text labels) and drawn height."""

    label: str
    height: int


@dataclass(frozen=True, slots=True)
class ChartRows:
    """The bars of one dimension's chart, and where its value axis ends."""

    bars: tuple[ChartBar, ...]
    axis_max: int


def chart_rows(current: Disaggregation, dimension: Dimension, label: CategoryLabel,
               threshold: int) -> ChartRows:
    """The bars to draw for `dimension` of `current`, small cells hidden below `threshold`."""
    rows = [(label(dimension, category), count)
            for category, count in current.counts[dimension]
            if count or category != NOT_KNOWN]
    if len(rows) > CHART_CATEGORIES:
        rows.sort(key=lambda row: (suppressed(row[1], threshold),
                                   0 if suppressed(row[1], threshold) else -row[1],
                                   row[0]))
        rest = sum(count for _name, count in rows[CHART_CATEGORIES - 1:])
        rows = [*rows[:CHART_CATEGORIES - 1], (_("All others"), rest)]
    # Axis labels are rich text: "<5" must be escaped or it reads as a tag.
    bars = tuple(ChartBar(html.escape(f"{name} ({cell_text(count, threshold)})"),
                          0 if suppressed(count, threshold) else count)
                 for name, count in rows)
    shown = [count for _name, count in rows if not suppressed(count, threshold)]
    return ChartRows(bars, max([*shown, threshold]))
