"""Chart rows without Qt: hidden small cells, folding into "All others", escaped labels."""

from __future__ import annotations

from fieldscreen.reporting.charts import CHART_CATEGORIES, chart_rows
from fieldscreen.reporting.dashboard import NOT_KNOWN, Dimension, Disaggregation


def _counts(pairs: list[tuple[str, int]]) -> Disaggregation:
    return Disaggregation(total=sum(count for _name, count in pairs),
                          counts={Dimension.NATIONALITY: tuple(pairs)}, age_by_sex=(),
                          sexes=())


def _label(_dimension: Dimension, category: str) -> str:
    return category


def test_a_small_cell_is_a_bar_of_height_zero_labelled_as_a_range():
    rows = chart_rows(_counts([("A", 12), ("B", 3)]), Dimension.NATIONALITY, _label, 5)
    assert [(bar.label, bar.height) for bar in rows.bars] == [("A (12)", 12), ("B (&lt;5)", 0)]
    assert rows.axis_max == 12


def test_the_axis_never_ends_at_a_hidden_count():
    rows = chart_rows(_counts([("A", 3), ("B", 2)]), Dimension.NATIONALITY, _label, 5)
    assert all(bar.height == 0 for bar in rows.bars)
    assert rows.axis_max == 5


def test_many_categories_fold_and_small_cells_sort_by_name_not_count():
    pairs = [("Z", 40), ("Y", 30), ("X", 20), ("W", 10), ("b", 4), ("a", 1), ("c", 2),
             (NOT_KNOWN, 0)]
    rows = chart_rows(_counts(pairs), Dimension.NATIONALITY, _label, 5)
    labels = [bar.label for bar in rows.bars]
    assert len(rows.bars) == CHART_CATEGORIES
    assert labels[:4] == ["Z (40)", "Y (30)", "X (20)", "W (10)"]
    # "a" (1) comes before "b" (4): by name, so the order says nothing about the counts.
    assert labels[4] == "a (&lt;5)"
    assert labels[5] == "All others (6)"
    assert NOT_KNOWN not in " ".join(labels)
