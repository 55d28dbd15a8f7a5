"""Statistics: summaries from outside input, the column table and disaggregated counts."""

from __future__ import annotations

import datetime as dt

from fieldscreen.reporting.dashboard import (
    AgeBands,
    DashboardFilter,
    Dimension,
    disaggregate,
)
from fieldscreen.reporting.facts import build_facts
from fieldscreen.store.incoming import summary_from_outcome
from tests.exchange_helpers import make_world


def row(n, day, **facts):
    summary = {"decision": "referral", "follow_up": False, "age": None, "sex": None,
               "nationality": None, "area": None, "forms": []}
    summary.update(facts)
    return (f"id-{n}", f"2026-03-{day:02d}T10:00:00Z", False, summary)


ROWS = [
    row(1, 1, age=3, sex="girl", area="north", forms=["labour", "begging"]),
    row(2, 1, age=5, sex="boy", area="north", decision="urgent"),
    row(3, 2, age=11, sex="girl", area="south", forms=["labour"]),
    row(4, 3, age=17, sex="girl", area="south", nationality="ua"),
    row(5, 4, age=None, sex=None, area=None, decision=None),
]


def test_counts_per_dimension_including_not_known():
    counts = disaggregate(build_facts(ROWS))
    assert counts.total == 5
    assert dict(counts.counts[Dimension.AGE_BAND]) == {
        "not_known": 1, "0-5": 2, "6-11": 1, "12-17": 1, "18+": 0}
    assert dict(counts.counts[Dimension.SEX]) == {"not_known": 1, "girl": 3, "boy": 1}
    assert dict(counts.counts[Dimension.EXPLOITATION_FORM]) == {
        "labour": 2, "begging": 1, "none_recorded": 3}
    assert dict(counts.counts[Dimension.DECISION])["urgent"] == 1
    assert dict(counts.counts[Dimension.DECISION])["not_known"] == 1
    cross = dict(counts.age_by_sex)
    assert cross["0-5"] == (0, 1, 1)  # not known, girl, boy
    assert counts.sexes == ("not_known", "girl", "boy")


def test_unhcr_bands_and_filters_by_date_and_area():
    facts = build_facts(ROWS)
    unhcr = disaggregate(facts, DashboardFilter(age_bands=AgeBands.UNHCR))
    assert dict(unhcr.counts[Dimension.AGE_BAND])["0-4"] == 1
    assert dict(unhcr.counts[Dimension.AGE_BAND])["5-11"] == 2
    dated = disaggregate(facts, DashboardFilter(start=dt.date(2026, 3, 2),
                                                end=dt.date(2026, 3, 3)))
    assert dated.total == 2
    south = disaggregate(facts, DashboardFilter(areas=frozenset({"south"})))
    assert south.total == 2
    unknown_area = disaggregate(facts, DashboardFilter(areas=frozenset({"not_known"})))
    assert unknown_area.total == 1


def test_hostile_outcome_values_are_counted_as_not_known():
    summary = summary_from_outcome({
        "final_decision": "delete everything", "follow_up": "yes",
        "disaggregation": {"age": True, "sex": "<script>", "nationality": 7,
                           "area": "x" * 200, "exploitation_form": ["labour", 3, "=cmd"]}})
    assert summary == {"decision": None, "follow_up": False, "age": None, "sex": None,
                       "nationality": None, "area": None, "forms": ["labour"]}
    assert summary_from_outcome({"disaggregation": "nope"})["age"] is None
    assert summary_from_outcome({"disaggregation": {"age": 400}})["age"] is None


def test_imported_screenings_carry_their_disaggregation(tmp_path):
    world = make_world(tmp_path)
    world.import_bytes(world.sealed_batch(6).file)
    counts = disaggregate(build_facts(world.coordinator.inbox.summaries()))
    assert counts.total == 6
    known_ages = sum(c for name, c in counts.counts[Dimension.AGE_BAND] if name != "not_known")
    assert known_ages == 6
    assert dict(counts.counts[Dimension.AREA]).get("north_district", 0) > 0
