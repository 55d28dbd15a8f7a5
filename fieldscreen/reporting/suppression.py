"""Which cells of one dashboard view are hidden, so that none can be worked out from the rest.

A view is everything shown or exported together for one filter: the total, every one-way
table (age band, sex, nationality, form of exploitation, area, decision) and the age-by-sex
table. Counts from 1 to threshold-1 are hidden (primary suppression). Hiding them alone is
not enough: the age bands add up to the total, so "total 30, 12-17: 28" gives the other
band away. Complementary (secondary) suppression hides further cells until, for every
hidden cell, the published numbers leave a range of possible values at least `threshold`
wide. The ranges are computed exactly, by linear programming over the view's sums
(`audit`), and more cells are hidden until every range is wide enough, so the guarantee
does not rest on a heuristic.

Every hidden cell reads the same (HIDDEN): a "<5" beside an "x" would tell which hidden
cells are small and which are large, and that alone can narrow a range to a single value.
Zero is published: nobody can be recognised in an empty cell.

Limit: two views with different filters (one more day, one more area) can still be
subtracted from each other; docs/exports.md says so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fieldscreen.errors import UserError
from fieldscreen.i18n import _, ngettext
from fieldscreen.reporting.dashboard import DEFAULT_SMALL_CELL, Dimension, Disaggregation
from fieldscreen.store.audit import AuditAction

if TYPE_CHECKING:
    from fieldscreen.store.profile import UnlockedProfile

# What every hidden cell reads, in the console and in exports: a mark that does not say
# whether the cell is small or hidden to protect another one.
HIDDEN = "x"
# The threshold a deployment starts with; a coordinator can raise it, never lower it.
SMALL_CELL_MINIMUM = DEFAULT_SMALL_CELL
# Where a raised minimum is kept: the coordinator profile's encrypted secrets.
_MINIMUM_SETTING = "small_cell_minimum"

CellKey = tuple[str, ...]
TOTAL: CellKey = ("total",)
# The forms of exploitation do not add up to the total (a child can have several), so
# their sum is tied to the total through this unpublished count of children with a form.
_WITH_A_FORM: CellKey = ("with_a_form",)
_FORMS_NONE = "none_recorded"


def count_key(dimension: Dimension, category: str) -> CellKey:
    return ("count", dimension.value, category)


def cross_key(band: str, sex: str) -> CellKey:
    return ("cross", band, sex)


@dataclass(frozen=True, slots=True)
class Sum:
    """One published relation: the members add up to the total."""

    members: tuple[CellKey, ...]
    total: CellKey


def view_cells(view: Disaggregation) -> dict[CellKey, int]:
    """Every number one view shows, by key."""
    cells: dict[CellKey, int] = {TOTAL: view.total}
    for dimension, rows in view.counts.items():
        for category, count in rows:
            cells[count_key(dimension, category)] = count
    for band, counts in view.age_by_sex:
        for sex, count in zip(view.sexes, counts, strict=True):
            cells[cross_key(band, sex)] = count
    return cells


def view_sums(view: Disaggregation) -> list[Sum]:
    """The sums that hold between a view's numbers, as anyone reading it can see them."""
    sums = [Sum(tuple(count_key(dimension, category) for category, _c in rows), TOTAL)
            for dimension, rows in view.counts.items()
            if dimension is not Dimension.EXPLOITATION_FORM]
    bands = [band for band, _counts in view.age_by_sex]
    if view.age_by_sex and Dimension.AGE_BAND in view.counts and Dimension.SEX in view.counts:
        sums.extend(Sum(tuple(cross_key(band, sex) for sex in view.sexes),
                        count_key(Dimension.AGE_BAND, band)) for band in bands)
        sums.extend(Sum(tuple(cross_key(band, sex) for band in bands),
                        count_key(Dimension.SEX, sex)) for sex in view.sexes)
    return sums


def _form_keys(view: Disaggregation) -> tuple[list[CellKey], CellKey | None]:
    rows = view.counts.get(Dimension.EXPLOITATION_FORM, ())
    forms = [count_key(Dimension.EXPLOITATION_FORM, name) for name, _c in rows
             if name != _FORMS_NONE]
    none = (count_key(Dimension.EXPLOITATION_FORM, _FORMS_NONE)
            if any(name == _FORMS_NONE for name, _c in rows) else None)
    return forms, none


@dataclass(frozen=True, slots=True)
class Interval:
    """What the published numbers allow a hidden cell to be (high is inf when unbounded)."""

    cell: CellKey
    value: int
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


@dataclass(frozen=True, slots=True)
class PublishedView:
    """One view as it may be shown or exported: its numbers and which of them are hidden."""

    view: Disaggregation
    threshold: int
    hidden: frozenset[CellKey]
    primary: int  # hidden because 1 to threshold-1 children
    secondary: int  # hidden so that the others cannot be worked out

    def is_hidden(self, key: CellKey) -> bool:
        return key in self.hidden

    def text(self, key: CellKey, count: int) -> str:
        return HIDDEN if key in self.hidden else str(count)

    def total_text(self) -> str:
        return self.text(TOTAL, self.view.total)

    def count_text(self, dimension: Dimension, category: str) -> str:
        return self.text(count_key(dimension, category), self.view.count(dimension, category))

    def cross_text(self, band: str, sex: str, count: int) -> str:
        return self.text(cross_key(band, sex), count)

    def cell(self, key: CellKey, count: int) -> int | str:
        """An export cell: the number, or HIDDEN."""
        return HIDDEN if key in self.hidden else count

    def summary(self) -> str:
        """What the console says about the hidden cells (empty when none is hidden)."""
        if not self.hidden:
            return ""
        return ngettext(
            "{count} number is hidden (x): {primary} count fewer than {threshold} children, "
            "{secondary} more are hidden so that the small ones cannot be worked out from "
            "the totals.",
            "{count} numbers are hidden (x): {primary} count fewer than {threshold} "
            "children, {secondary} more are hidden so that the small ones cannot be worked "
            "out from the totals.", len(self.hidden)).format(
            count=len(self.hidden), primary=self.primary, threshold=self.threshold,
            secondary=self.secondary)


def small(count: int, threshold: int) -> bool:
    return 0 < count < threshold


def publish(view: Disaggregation, threshold: int) -> PublishedView:
    """Hide the small cells of `view` and enough others that none can be narrowed."""
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    cells = view_cells(view)
    sums = view_sums(view)
    forms, none = _form_keys(view)
    # For choosing cells the forms are treated as if they added up to a published number:
    # stricter than the truth, so the choice never relies on the reader not knowing it.
    if forms:
        sums.append(Sum((*forms, *([none] if none else [])), ("forms_sum",)))
        cells[("forms_sum",)] = sum(cells[key] for key in forms) + (cells[none] if none else 0)
    primary = {key for key, count in cells.items()
               if small(count, threshold) and key != ("forms_sum",)}
    hidden = set(primary)
    if threshold > 1:
        while True:
            _complete(cells, sums, hidden, threshold)
            narrow = [interval for interval in audit(cells, hidden, view)
                      if interval.width < threshold]
            if not narrow:
                break
            before = len(hidden)
            for interval in narrow:
                if _hide_partner(interval.cell, cells, sums, hidden):
                    break
            if len(hidden) == before:  # nothing left to hide: cannot happen, all are wide
                raise AssertionError("complementary suppression did not converge")
    hidden.discard(("forms_sum",))
    return PublishedView(view, threshold, frozenset(hidden), len(primary),
                         len(hidden) - len(primary))


def _smallest_published(keys: Iterable[CellKey], cells: Mapping[CellKey, int],
                        hidden: set[CellKey]) -> CellKey | None:
    # The smallest cell costs the reader least; ties go to one-way cells before the
    # age-by-sex ones, then by name so the choice does not depend on order of arrival.
    candidates = [key for key in keys if key not in hidden and cells.get(key, 0) > 0]
    if not candidates:
        return None
    return min(candidates, key=lambda key: (cells[key], key[0] == "cross", key))


def _complete(cells: Mapping[CellKey, int], sums: list[Sum], hidden: set[CellKey],
              threshold: int) -> None:
    """The quick rule: a sum with hidden cells hides at least two, holding enough children."""
    changed = True
    while changed:
        changed = False
        for relation in sums:
            inside = [key for key in relation.members if key in hidden]
            total_hidden = relation.total in hidden
            if not inside and not total_hidden:
                continue
            mass = sum(cells[key] for key in inside)
            if total_hidden and inside:
                continue  # both sides unknown: the audit decides
            if total_hidden or len(inside) == 1 or mass < threshold + len(inside):
                partner = _smallest_published(relation.members, cells, hidden)
                if partner is None:
                    partner = relation.total if relation.total in cells else None
                if partner is not None and partner not in hidden:
                    hidden.add(partner)
                    changed = True


def _hide_partner(key: CellKey, cells: Mapping[CellKey, int], sums: list[Sum],
                  hidden: set[CellKey]) -> bool:
    """Hide one more cell next to `key` (in a sum it belongs to); False if none is left."""
    for relation in sums:
        if key in relation.members or key == relation.total:
            partner = _smallest_published((*relation.members, relation.total), cells, hidden)
            if partner is not None:
                hidden.add(partner)
                return True
    everything = _smallest_published(cells, cells, hidden)
    if everything is None:
        return False
    hidden.add(everything)
    return True


def audit(cells: Mapping[CellKey, int], hidden: Iterable[CellKey],
          view: Disaggregation) -> list[Interval]:
    """For each hidden cell, the smallest and largest value the published numbers allow.

    The reader knows every published number, every sum in the view, that a hidden cell
    holds at least one child (zero is published) and, for the forms of exploitation, that
    no form counts more children than have a form and that together they count at least
    as many. Each bound is one linear programme (scipy's HiGHS). Integer solutions are
    not required, which can only widen a range by less than one.
    """
    from scipy.optimize import linprog

    hidden_keys = sorted(key for key in hidden if key in cells and key[0] != "forms_sum")
    if not hidden_keys:
        return []
    forms, none = _form_keys(view)
    unknowns = [*hidden_keys, *([_WITH_A_FORM] if forms else [])]
    index = {key: position for position, key in enumerate(unknowns)}
    size = len(unknowns)
    equal_rows: list[np.ndarray] = []
    equal_values: list[float] = []
    upper_rows: list[np.ndarray] = []
    upper_values: list[float] = []

    def add(terms: list[tuple[CellKey, float]], rows: list[np.ndarray],
            values: list[float]) -> None:
        row, constant = np.zeros(size), 0.0
        for key, factor in terms:
            if key in index:
                row[index[key]] += factor
            else:
                constant += factor * cells[key]
        if row.any():
            rows.append(row)
            values.append(-constant)

    for relation in view_sums(view):
        add([*((key, 1.0) for key in relation.members), (relation.total, -1.0)],
            equal_rows, equal_values)
    if forms:
        cells = {**cells, _WITH_A_FORM: view.total - (cells[none] if none else 0)}
        add([(_WITH_A_FORM, 1.0), *([(none, 1.0)] if none else []), (TOTAL, -1.0)],
            equal_rows, equal_values)
        for key in forms:
            add([(key, 1.0), (_WITH_A_FORM, -1.0)], upper_rows, upper_values)
        add([(_WITH_A_FORM, 1.0), *((key, -1.0) for key in forms)], upper_rows, upper_values)
    bounds = [(1.0, None)] * len(hidden_keys) + ([(0.0, None)] if forms else [])
    problem = {
        "A_eq": np.array(equal_rows) if equal_rows else None,
        "b_eq": np.array(equal_values) if equal_rows else None,
        "A_ub": np.array(upper_rows) if upper_rows else None,
        "b_ub": np.array(upper_values) if upper_rows else None,
        "bounds": bounds, "method": "highs",
    }
    intervals = []
    for key in hidden_keys:
        objective = np.zeros(size)
        objective[index[key]] = 1.0
        low = linprog(objective, **problem)
        high = linprog(-objective, **problem)
        if low.status == 2 or high.status == 2:
            raise AssertionError("the published numbers contradict each other")
        intervals.append(Interval(
            key, cells[key], float(low.fun) if low.status == 0 else -math.inf,
            math.inf if high.status == 3 else float(-high.fun)))
    return intervals


def audit_view(published: PublishedView) -> list[Interval]:
    """The feasible range of every hidden cell of a published view."""
    return audit(view_cells(published.view), published.hidden, published.view)


# -- the deployment's minimum --------------------------------------------------------------


def deployment_minimum(profile: UnlockedProfile) -> int:
    """The lowest threshold this coordinator may use: SMALL_CELL_MINIMUM unless raised."""
    try:
        stored = profile.secret(_MINIMUM_SETTING)
    except KeyError:
        return SMALL_CELL_MINIMUM
    try:
        return max(SMALL_CELL_MINIMUM, int(stored.decode("ascii")))
    except ValueError:
        return SMALL_CELL_MINIMUM


def raise_deployment_minimum(profile: UnlockedProfile, minimum: int) -> None:
    """Raise the deployment's minimum threshold; lowering it is refused."""
    current = deployment_minimum(profile)
    if minimum < current:
        raise UserError(
            _("The smallest count shown can only be raised: this deployment hides counts "
              "below {minimum}.").format(minimum=current),
            hint=_("Choose {minimum} or more.").format(minimum=current))
    # Audited with the change: who raised the deployment's floor, from what, when.
    profile.put_secret(_MINIMUM_SETTING, str(minimum).encode("ascii"),
                       audit=AuditAction.SMALL_CELL_MINIMUM_RAISED,
                       details={"from": current, "to": minimum})


def check_threshold(threshold: int, minimum: int = SMALL_CELL_MINIMUM) -> None:
    """Refuse a threshold below the deployment's minimum (a console or command cannot)."""
    if threshold < minimum:
        raise UserError(
            _("Counts below {minimum} are always hidden in this deployment; {threshold} is "
              "too low, and nothing was written.").format(minimum=minimum,
                                                          threshold=threshold),
            hint=_("Choose {minimum} or more.").format(minimum=minimum))
