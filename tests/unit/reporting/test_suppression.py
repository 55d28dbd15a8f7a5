"""Complementary suppression: no hidden cell of a view can be narrowed from what is published.

The audit computes, by linear programming, the range the published numbers leave for every
hidden cell; these tests fail when any range is narrower than the threshold.
"""

from __future__ import annotations

import random

import pytest

from fieldscreen.errors import UserError
from fieldscreen.reporting.dashboard import AgeBands, DashboardFilter, Dimension, disaggregate
from fieldscreen.reporting.facts import build_facts
from fieldscreen.reporting.suppression import (
    HIDDEN,
    TOTAL,
    audit_view,
    check_threshold,
    count_key,
    publish,
    view_cells,
)


def row(n, *, age, sex, area="north", nationality="ua", decision="referral", forms=(),
        day=1):
    summary = {"decision": decision, "follow_up": False, "age": age, "sex": sex,
               "nationality": nationality, "area": area, "forms": list(forms)}
    return (f"id-{n}", f"2026-03-{day:02d}T10:00:00Z", False, summary)


def outsiders_case():
    """Total 30: 28 children of 12-17 and 2 of 6-11; 16 boys (14 of them 12-17)."""
    rows = [row(n, age=14, sex="boy") for n in range(14)]
    rows += [row(100 + n, age=15, sex="girl") for n in range(14)]
    rows += [row(200, age=8, sex="boy"), row(201, age=9, sex="boy")]
    return build_facts(rows)


def assert_protected(published):
    intervals = audit_view(published)
    narrow = [interval for interval in intervals if interval.width < published.threshold]
    assert not narrow, narrow
    # Every small cell is among the hidden ones, and the audit looked at each hidden one.
    for key, count in view_cells(published.view).items():
        if 0 < count < published.threshold:
            assert key in published.hidden
    assert {interval.cell for interval in intervals} == set(published.hidden)
    return intervals


def test_the_outsiders_subtraction_no_longer_works():
    view = disaggregate(outsiders_case())
    published = publish(view, 5)
    assert published.total_text() == "30"
    band = count_key(Dimension.AGE_BAND, "6-11")
    assert published.is_hidden(band)
    # 30 - 28 gave the 6-11 band away: 12-17 is hidden too, and so on down the sums.
    assert published.count_text(Dimension.AGE_BAND, "12-17") == HIDDEN
    intervals = {i.cell: i for i in assert_protected(published)}
    assert intervals[band].value == 2
    assert intervals[band].width >= 5


def test_the_audit_catches_primary_suppression_alone():
    """The audit is not a test that cannot fail: the old rule (small cells only) fails it."""
    from fieldscreen.reporting.suppression import PublishedView

    view = disaggregate(outsiders_case())
    small_only = frozenset(key for key, count in view_cells(view).items() if 0 < count < 5)
    old = PublishedView(view, 5, small_only, len(small_only), 0)
    band = {i.cell: i for i in audit_view(old)}[count_key(Dimension.AGE_BAND, "6-11")]
    assert band.low == band.high == 2


def test_an_unbroken_view_hides_nothing():
    rows = [row(n, age=3 + (n % 15), sex=("boy", "girl")[n % 2], area=("n", "s")[n % 2],
                forms=("labour",)) for n in range(300)]
    published = publish(disaggregate(build_facts(rows)), 5)
    cells = view_cells(published.view)
    if not any(0 < count < 5 for count in cells.values()):
        assert not published.hidden
        assert published.summary() == ""


def random_rows(rng: random.Random, size: int):
    sexes = ["boy", "girl", None]
    nations = ["ua", "sy", "af", "er", None]
    areas = ["north", "south", "east", None]
    forms = ["labour", "begging", "sexual", "criminal"]
    decisions = ["information", "monitor", "referral", "urgent", None]
    rows = []
    for n in range(size):
        rows.append(row(
            n, age=rng.choice([None, *range(0, 19)]), sex=rng.choices(sexes, [8, 6, 1])[0],
            nationality=rng.choices(nations, [10, 4, 2, 1, 1])[0],
            area=rng.choices(areas, [6, 3, 2, 1])[0],
            decision=rng.choices(decisions, [5, 4, 3, 1, 1])[0],
            forms=rng.sample(forms, rng.choices([0, 1, 2], [3, 6, 1])[0]),
            day=rng.randint(1, 28)))
    return rows


@pytest.mark.parametrize("seed", range(40))
def test_random_views_with_small_cells_are_protected(seed):
    rng = random.Random(seed)
    facts = build_facts(random_rows(rng, rng.choice([3, 12, 30, 60, 150, 400])))
    query = DashboardFilter(age_bands=rng.choice(list(AgeBands)),
                            areas=rng.choice([None, frozenset({"north"}),
                                              frozenset({"south", "east"})]))
    for threshold in (5, 10):
        published = publish(disaggregate(facts, query), threshold)
        assert_protected(published)


def test_a_view_smaller_than_the_threshold_hides_every_count():
    rows = [row(n, age=10, sex="girl") for n in range(3)]
    published = publish(disaggregate(build_facts(rows)), 5)
    assert published.total_text() == HIDDEN
    assert published.is_hidden(TOTAL)
    assert_protected(published)


def test_the_console_says_how_many_were_hidden_and_why():
    published = publish(disaggregate(outsiders_case()), 5)
    text = published.summary()
    assert str(len(published.hidden)) in text and "fewer than 5" in text
    assert published.primary + published.secondary == len(published.hidden)
    assert published.secondary > 0


def test_the_threshold_cannot_go_below_the_deployment_minimum():
    with pytest.raises(UserError, match="below 5"):
        check_threshold(4)
    check_threshold(5)
    with pytest.raises(UserError, match="below 8"):
        check_threshold(6, minimum=8)


def _read_export(path, fmt, view):
    """The hidden set an export file shows, read back from the file alone."""
    import csv

    import openpyxl

    from fieldscreen.reporting.suppression import cross_key

    hidden = set()
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            counts = list(csv.reader(handle))[1:]
    else:
        book = openpyxl.load_workbook(path)
        counts = [list(r) for r in book["Counts"].iter_rows(min_row=2, values_only=True)]
        cross = [list(r) for r in book["Age by sex"].iter_rows(min_row=2, values_only=True)]
        for (band, _values), cells in zip(view.age_by_sex, cross, strict=True):
            # The last column is the training flag.
            for sex, cell in zip(view.sexes, cells[1:-1], strict=True):
                if cell == HIDDEN:
                    hidden.add(cross_key(band, sex))
        about = {r[0]: r[1] for r in book["Data dictionary"].iter_rows(values_only=True)}
        if about["Children counted"] == HIDDEN:
            hidden.add(TOTAL)
    for _title, dimension, _label, category, cell, _training in counts:
        if cell == HIDDEN:
            hidden.add(("count", dimension, category))
        else:
            assert int(cell) == view.count(Dimension(dimension), category)
    return hidden


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_exports_carry_the_dashboards_suppression_and_pass_the_audit(tmp_path, fmt, seed):
    import datetime as dt

    from fieldscreen.reporting.exports import export_counts
    from fieldscreen.reporting.suppression import PublishedView

    facts = (outsiders_case() if seed is None
             else build_facts(random_rows(random.Random(seed), 40)))
    view = disaggregate(facts)
    path = tmp_path / f"counts.{fmt}"
    export_counts(view, path, fmt=fmt, hxl=False, labels=lambda _d, c: c,
                  generated_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    dashboard = publish(view, 5)
    shown_in_file = _read_export(path, fmt, view)
    if fmt == "xlsx":
        assert shown_in_file == dashboard.hidden
    else:  # the CSV holds the one-way tables only, hidden as on the dashboard
        assert shown_in_file == {key for key in dashboard.hidden if key[0] == "count"}
    # Audited from the file's own cells. For a CSV the reader is assumed to hold the
    # dashboard's total and age-by-sex table too (the worst case), with the same hidden set.
    extra = set() if fmt == "xlsx" else {key for key in dashboard.hidden if key[0] != "count"}
    from_file = PublishedView(view, 5, frozenset(shown_in_file | extra), 0, 0)
    intervals = audit_view(from_file)
    assert intervals and all(i.width >= 5 for i in intervals)


def test_a_deployment_can_raise_its_minimum_and_nothing_lowers_it(tmp_path):
    import datetime as dt

    from fieldscreen.reporting.dashboard import plain_label
    from fieldscreen.reporting.exports import export_profile
    from fieldscreen.reporting.suppression import deployment_minimum, raise_deployment_minimum
    from tests.exchange_helpers import make_world

    world = make_world(tmp_path)
    request_close = world.close
    profile = world.coordinator
    assert deployment_minimum(profile) == 5
    raise_deployment_minimum(profile, 10)
    assert deployment_minimum(profile) == 10
    with pytest.raises(UserError, match="only be raised"):
        raise_deployment_minimum(profile, 6)
    assert deployment_minimum(profile) == 10
    raised = [entry for entry in profile.audit_entries()
              if entry.action == "statistics.minimum_raised"]
    assert [entry.details for entry in raised] == [{"from": 5, "to": 10}]  # the refusal: none
    path = tmp_path / "counts.csv"
    with pytest.raises(UserError, match="below 10"):
        export_profile(profile, path, fmt="csv", hxl=False, records=False,
                       query=DashboardFilter(), labels=plain_label, small_cell=5,
                       now=lambda: dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    assert not path.exists()
    export_profile(profile, path, fmt="csv", hxl=False, records=False,
                   query=DashboardFilter(), labels=plain_label, small_cell=10,
                   now=lambda: dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    assert path.exists()
    request_close()
