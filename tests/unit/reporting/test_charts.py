"""Chart rows without Qt: hidden cells, folding into "All others", escaped labels."""

from __future__ import annotations

from fieldscreen.reporting.charts import CHART_CATEGORIES, chart_rows
from fieldscreen.reporting.dashboard import NOT_KNOWN, Dimension, Disaggregation
from fieldscreen.reporting.suppression import PublishedView, count_key


def _published(pairs: list[tuple[str, int]], hidden: set[str], threshold: int = 5
               ) -> PublishedView:
    view = Disaggregation(total=sum(count for _name, count in pairs),
                          counts={Dimension.NATIONALITY: tuple(pairs)}, age_by_sex=(),
                          sexes=())
    keys = frozenset(count_key(Dimension.NATIONALITY, name) for name in hidden)
    return PublishedView(view, threshold, keys, len(keys), 0)


def _label(_dimension: Dimension, category: str) -> str:
    return category


def test_a_hidden_cell_is_a_bar_of_height_zero_marked_hidden():
    rows = chart_rows(_published([("A", 12), ("B", 3), ("C", 9)], {"B", "C"}),
                      Dimension.NATIONALITY, _label)
    assert [(bar.label, bar.height) for bar in rows.bars] == [
        ("A (12)", 12), ("B (x)", 0), ("C (x)", 0)]
    assert rows.axis_max == 12


def test_the_axis_never_ends_at_a_hidden_count():
    rows = chart_rows(_published([("A", 3), ("B", 2)], {"A", "B"}), Dimension.NATIONALITY,
                      _label)
    assert all(bar.height == 0 for bar in rows.bars)
    assert rows.axis_max == 5


def test_many_categories_fold_and_hidden_cells_sort_by_name_not_count():
    pairs = [("Z", 40), ("Y", 30), ("X", 20), ("W", 10), ("b", 4), ("a", 1), ("c", 2),
             (NOT_KNOWN, 0)]
    rows = chart_rows(_published(pairs, {"a", "b", "c"}), Dimension.NATIONALITY, _label)
    labels = [bar.label for bar in rows.bars]
    assert len(rows.bars) == CHART_CATEGORIES
    assert labels[:4] == ["Z (40)", "Y (30)", "X (20)", "W (10)"]
    # "a" (1) comes before "b" (4): by name, so the order says nothing about the counts.
    assert labels[4] == "a (x)"
    # The fold holds hidden cells, so its sum would give them away: hidden too.
    assert labels[5] == "All others (x)"
    assert rows.bars[5].height == 0
    assert NOT_KNOWN not in " ".join(labels)


def test_a_fold_of_shown_cells_shows_its_sum():
    pairs = [(name, 10 + n) for n, name in enumerate("ABCDEFGH")]
    rows = chart_rows(_published(pairs, set()), Dimension.NATIONALITY, _label)
    assert rows.bars[-1].label == f"All others ({10 + 11 + 12})"

