"""Disaggregated counts for the dashboard and the exports, with small cells kept small.

One `Disaggregation` holds, for the records that pass a filter (screening dates, areas),
the number of children in each category of each dimension DOMAIN.md asks for: age band,
sex, nationality, form of exploitation, area and decision, plus one cross-tabulation.
Which counts are hidden (below the small-cell threshold, default 5, and those that would
give them away) is decided in `suppression`: a handful of children in one cell can be
recognised by people who know the area.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from fieldscreen.i18n import N_, _
from fieldscreen.reporting.facts import DECISIONS, ScreeningFacts, day_of

DEFAULT_SMALL_CELL = 5


class Dimension(StrEnum):
    AGE_BAND = "age_band"
    SEX = "sex"
    NATIONALITY = "nationality"
    EXPLOITATION_FORM = "exploitation_form"
    AREA = "area"
    DECISION = "decision"

    @property
    def title(self) -> str:
        return _(_DIMENSION_TITLES[self])


_DIMENSION_TITLES = {
    Dimension.AGE_BAND: N_("Age band"),
    Dimension.SEX: N_("Sex"),
    Dimension.NATIONALITY: N_("Nationality"),
    Dimension.EXPLOITATION_FORM: N_("Form of exploitation"),
    Dimension.AREA: N_("Area"),
    Dimension.DECISION: N_("Decision"),
}


class AgeBands(StrEnum):
    """The two banding schemes DOMAIN.md allows."""

    STANDARD = "standard"  # 0–5, 6–11, 12–17
    UNHCR = "unhcr"  # 0–4, 5–11, 12–17

    @property
    def bands(self) -> tuple[tuple[int, int], ...]:
        if self is AgeBands.UNHCR:
            return ((0, 4), (5, 11), (12, 17))
        return ((0, 5), (6, 11), (12, 17))

    def names(self) -> tuple[str, ...]:
        return tuple(f"{low}-{high}" for low, high in self.bands)


# The category used for "no answer" in every dimension (and "18+" for ages outside bands).
NOT_KNOWN = "not_known"
OVER_17 = "18+"
NONE_RECORDED = "none_recorded"


@dataclass(frozen=True, slots=True)
class DashboardFilter:
    """Which records count: screening dates (inclusive) and areas (None: every area)."""

    start: dt.date | None = None
    end: dt.date | None = None
    areas: frozenset[str] | None = None
    age_bands: AgeBands = AgeBands.STANDARD


@dataclass(frozen=True, slots=True)
class Disaggregation:
    """Counts of children by category for each dimension, and age band by sex."""

    total: int
    counts: dict[Dimension, tuple[tuple[str, int], ...]]
    # Rows are age bands, columns sexes (the names in counts' order).
    age_by_sex: tuple[tuple[str, tuple[int, ...]], ...]
    sexes: tuple[str, ...]
    filter: DashboardFilter = field(default_factory=DashboardFilter)

    def count(self, dimension: Dimension, category: str) -> int:
        return dict(self.counts[dimension]).get(category, 0)


def _age_band_codes(ages: np.ndarray, scheme: AgeBands) -> tuple[np.ndarray, tuple[str, ...]]:
    # A lookup table from age (with -1 for not known) to band index: one vectorised take.
    names = (NOT_KNOWN, *scheme.names(), OVER_17)
    table = np.full(132, len(names) - 1, dtype=np.int8)
    table[0] = 0
    for index, (low, high) in enumerate(scheme.bands, start=1):
        table[low + 1:high + 2] = index
    return table[np.clip(ages.astype(np.int32) + 1, 0, 131)], names


def _named(codes: tuple[str | None, ...]) -> tuple[str, ...]:
    return tuple(NOT_KNOWN if name is None else name for name in codes)


def disaggregate(facts: ScreeningFacts, query: DashboardFilter | None = None
                 ) -> Disaggregation:
    """Count the records that pass `query` in every dimension."""
    query = query or DashboardFilter()
    mask = np.ones(len(facts), dtype=bool)
    if query.start is not None:
        mask &= facts.day >= day_of(query.start)
    if query.end is not None:
        mask &= facts.day <= day_of(query.end)
    if query.areas is not None:
        wanted = [code for code, name in enumerate(facts.areas)
                  if (NOT_KNOWN if name is None else name) in query.areas]
        mask &= np.isin(facts.area, np.array(wanted, dtype=np.int16))
    everything = bool(mask.all())

    def chosen(column: np.ndarray) -> np.ndarray:
        return column if everything else column[mask]

    def tally(column: np.ndarray, names: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
        found = np.bincount(chosen(column), minlength=len(names))
        return tuple((name, int(found[code])) for code, name in enumerate(names))

    bands, band_names = _age_band_codes(chosen(facts.age), query.age_bands)
    total = int(mask.sum())
    forms = chosen(facts.forms)
    form_counts = [(name, int(np.count_nonzero(forms & np.uint64(1 << bit))))
                   for bit, name in enumerate(facts.form_names)]
    form_counts.append((NONE_RECORDED, int(np.count_nonzero(forms == 0))))
    sexes = _named(facts.sexes)
    cross = np.bincount(bands.astype(np.int32) * len(sexes) + chosen(facts.sex),
                        minlength=len(band_names) * len(sexes)).reshape(len(band_names),
                                                                        len(sexes))
    counts = {
        Dimension.AGE_BAND: tuple((name, int(count)) for name, count in zip(
            band_names, np.bincount(bands, minlength=len(band_names)), strict=True)),
        Dimension.SEX: tally(facts.sex, sexes),
        Dimension.NATIONALITY: tally(facts.nationality, _named(facts.nationalities)),
        Dimension.EXPLOITATION_FORM: tuple(form_counts),
        Dimension.AREA: tally(facts.area, _named(facts.areas)),
        Dimension.DECISION: tally(facts.decision, (NOT_KNOWN, *DECISIONS)),
    }
    return Disaggregation(
        total=total, counts=counts,
        age_by_sex=tuple((name, tuple(int(value) for value in row))
                         for name, row in zip(band_names, cross, strict=True)),
        sexes=sexes, filter=query)


CategoryLabel = Callable[[Dimension, str], str]


def plain_label(dimension: Dimension, category: str) -> str:
    """A category's words when no form says better: the shared ones, else the name itself."""
    del dimension
    shared = {NOT_KNOWN: N_("Not known"), NONE_RECORDED: N_("None recorded"),
              "information": N_("Information only"), "monitor": N_("Monitor"),
              "referral": N_("Referral"), "urgent": N_("Urgent referral")}
    text = shared.get(category)
    return _(text) if text is not None else category
