"""What a dashboard chart draws for one dimension: its bars, their labels, the axis' top.

The rules that keep small cells hidden in a chart live here, not in the widget that draws
it, so they are tested without Qt and any other renderer (an export's chart, a web page)
draws the same: a hidden count (`suppression.publish` decides which) is a bar of height 0
labelled "x"; past CHART_CATEGORIES the largest categories stay and the rest fold into "All
others", itself hidden when it holds a hidden count (its sum minus the shown ones would give
the hidden ones away); hidden cells sort by name, because their order by count would tell
them apart; and the axis never ends at a hidden count.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from fieldscreen.i18n import _
from fieldscreen.reporting.dashboard import NOT_KNOWN, CategoryLabel, Dimension
from fieldscreen.reporting.suppression import HIDDEN, PublishedView, count_key

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


def chart_rows(published: PublishedView, dimension: Dimension,
               label: CategoryLabel) -> ChartRows:
    """The bars to draw for `dimension` of a published view, its hidden cells hidden."""
    rows = [(label(dimension, category), count,
             published.is_hidden(count_key(dimension, category)))
            for category, count in published.view.counts[dimension]
            if count or category != NOT_KNOWN]
    if len(rows) > CHART_CATEGORIES:
        rows.sort(key=lambda row: (row[2], 0 if row[2] else -row[1], row[0]))
        folded = rows[CHART_CATEGORIES - 1:]
        rest = sum(count for _name, count, _hidden in folded)
        rows = [*rows[:CHART_CATEGORIES - 1],
                (_("All others"), rest, any(hidden for _n, _c, hidden in folded))]
    # Axis labels are rich text: any mark must be escaped or it may read as a tag.
    bars = tuple(ChartBar(html.escape(f"{name} ({HIDDEN if hidden else count})"),
                          0 if hidden else count)
                 for name, count, hidden in rows)
    shown = [count for _name, count, hidden in rows if not hidden]
    return ChartRows(bars, max([*shown, published.threshold]))
