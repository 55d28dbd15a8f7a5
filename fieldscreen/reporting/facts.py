"""The imported records as an in-memory column table, built once at unlock, for statistics.

Each record becomes a handful of small integers (screening day, age, codes for sex,
nationality, area and decision, a bit set of forms of exploitation), held in numpy arrays:
about 20 bytes a record, so a million records take some 20 MB and any count over them is
a vectorised pass. The table is dropped with the key; on disk it exists only sealed, as
the statistics snapshot (`reporting/snapshot.py`).
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

DECISIONS = ("information", "monitor", "referral", "urgent")
# Code 0 of every coded column means "not known".
UNKNOWN = 0
# One bit per form of exploitation; a deployment with more forms folds the rest into
# the last bit (shown as "other").
MAX_FORM_BITS = 63
_EPOCH = dt.date(1970, 1, 1)


class Vocabulary:
    """Names seen in one column, each given a small code in order of first appearance."""

    def __init__(self, limit: int | None = None) -> None:
        self.names: list[str | None] = [None]
        self._codes: dict[str | None, int] = {None: UNKNOWN}
        self._limit = limit

    def code(self, name: str | None) -> int:
        found = self._codes.get(name)
        if found is None:
            if self._limit is not None and len(self.names) > self._limit:
                return len(self.names) - 1
            found = self._codes[name] = len(self.names)
            self.names.append(name)
        return found

    def code_of(self, name: str | None) -> int | None:
        return self._codes.get(name)

    def __len__(self) -> int:
        return len(self.names)


# The day of a screening whose stored time cannot be read (imported before times were
# checked at import): it counts as "not known", is left out of every date filter, and
# `fieldscreen coordinator check` lists it.
UNKNOWN_DAY = int(np.iinfo(np.int32).min)


def screening_day(stamp: object) -> int:
    """Days since 1970-01-01 of an ISO timestamp's date (as written by the store), or
    UNKNOWN_DAY when the stored value is not a date at all."""
    day = stored_date(stamp)
    return UNKNOWN_DAY if day is None else (day - _EPOCH).days


def stored_date(stamp: object) -> dt.date | None:
    """The date of a stored ISO timestamp, or None when it is not a readable date."""
    if not isinstance(stamp, str):
        return None
    try:
        return dt.date.fromisoformat(stamp[:10])
    except ValueError:
        return None


def day_of(date: dt.date) -> int:
    return (date - _EPOCH).days


def date_of(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(day))


@dataclass(frozen=True, slots=True)
class ScreeningFacts:
    """Column arrays of equal length, one row per imported record."""

    day: np.ndarray  # int32, days since 1970-01-01 of the screening
    age: np.ndarray  # int16, -1 when not known
    sex: np.ndarray  # int16 codes into sexes.names
    nationality: np.ndarray
    area: np.ndarray
    decision: np.ndarray  # int8: 0 not known, then 1 + index in DECISIONS
    forms: np.ndarray  # uint64 bit set into form_names (bit i = form_names[i])
    sexes: tuple[str | None, ...]
    nationalities: tuple[str | None, ...]
    areas: tuple[str | None, ...]
    form_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.day)

    @property
    def unknown_days(self) -> int:
        """How many screenings have a stored time that cannot be read."""
        return int(np.count_nonzero(self.day == UNKNOWN_DAY))

    @property
    def first_day(self) -> dt.date | None:
        known = self.day[self.day != UNKNOWN_DAY]
        return date_of(known.min()) if len(known) else None

    @property
    def last_day(self) -> dt.date | None:
        known = self.day[self.day != UNKNOWN_DAY]
        return date_of(known.max()) if len(known) else None


def build_facts(summaries: Iterable[tuple[str, str, bool, dict[str, Any]]]) -> ScreeningFacts:
    """The column table of (id, created_at, demo, summary) rows as `Inbox.summaries()` gives."""
    builder = FactsBuilder()
    for _id, created_at, _demo, summary in summaries:
        builder.add(created_at, summary)
    return builder.build()


class FactsBuilder:
    """Rows added one at a time, coded with vocabularies that may continue an existing table.

    Seeded with a table, every name keeps that table's code and new names get the next
    codes, so the rows built here can be appended to it column by column (the statistics
    snapshot adds an import's records to the table it kept).
    """

    def __init__(self, seed: ScreeningFacts | None = None) -> None:
        self._day, self._age = array("i"), array("h")
        self._sex, self._nationality, self._area = array("h"), array("h"), array("h")
        self._decision, self._forms = array("b"), array("Q")
        self._sexes, self._nationalities, self._areas = Vocabulary(), Vocabulary(), Vocabulary()
        self._form_bits: dict[str, int] = {}
        if seed is not None:
            for vocabulary, names in ((self._sexes, seed.sexes),
                                      (self._nationalities, seed.nationalities),
                                      (self._areas, seed.areas)):
                for name in names[1:]:
                    vocabulary.code(name)
            self._form_bits = {name: bit for bit, name in enumerate(seed.form_names)}
        self._decision_codes = {name: index + 1 for index, name in enumerate(DECISIONS)}
        # Summaries repeat: most children share a handful of (sex, nationality, area,
        # forms) combinations, so coding each distinct combination once saves most of it.
        self._coded: dict[tuple[Any, ...], tuple[int, int, int, int]] = {}

    def add(self, created_at: object, summary: dict[str, Any]) -> None:
        self._day.append(screening_day(created_at))
        known_age = summary.get("age")
        self._age.append(known_age if isinstance(known_age, int) else -1)
        self._decision.append(self._decision_codes.get(summary.get("decision"), UNKNOWN))
        key = (summary.get("sex"), summary.get("nationality"), summary.get("area"),
               tuple(summary.get("forms") or ()))
        codes = self._coded.get(key)
        if codes is None:
            bits = 0
            for name in key[3]:
                bit = self._form_bits.get(name)
                if bit is None:
                    bit = self._form_bits[name] = min(len(self._form_bits), MAX_FORM_BITS - 1)
                bits |= 1 << bit
            codes = self._coded[key] = (self._sexes.code(key[0]),
                                        self._nationalities.code(key[1]),
                                        self._areas.code(key[2]), bits)
        self._sex.append(codes[0])
        self._nationality.append(codes[1])
        self._area.append(codes[2])
        self._forms.append(codes[3])

    def build(self) -> ScreeningFacts:
        """The rows added so far, with every name known to this builder."""
        names = sorted(self._form_bits, key=self._form_bits.__getitem__)[:MAX_FORM_BITS]
        if len(self._form_bits) >= MAX_FORM_BITS:
            names[-1] = "other"
        return ScreeningFacts(
            day=np.frombuffer(self._day, dtype=np.int32),
            age=np.frombuffer(self._age, dtype=np.int16),
            sex=np.frombuffer(self._sex, dtype=np.int16),
            nationality=np.frombuffer(self._nationality, dtype=np.int16),
            area=np.frombuffer(self._area, dtype=np.int16),
            decision=np.frombuffer(self._decision, dtype=np.int8),
            forms=np.frombuffer(self._forms, dtype=np.uint64),
            sexes=tuple(self._sexes.names), nationalities=tuple(self._nationalities.names),
            areas=tuple(self._areas.names), form_names=tuple(names))
