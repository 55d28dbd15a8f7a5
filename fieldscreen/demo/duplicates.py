"""Synthetic screenings with planted duplicates: the same child met twice, told differently.

For training and for measuring the linkage (bench/linkage.py): each child gets a sex,
nationality, area, age, forms of exploitation, a screening date and the letters of a
pseudonymous code; a share of the children is screened a second time within days, with
what really differs between two screenings of one child: a letter heard differently
(the code no longer agrees), an age a year off (and, for half of those, the birth year
too), another area. Everything is drawn from a seeded generator, so a run is repeatable,
and the true pairs are returned with the rows.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from dataclasses import dataclass
from typing import Any

import numpy as np

from fieldscreen.reporting.linkage import ChildCode, child_code

# A fixed, plainly fictional key: demo codes must never be comparable with real ones.
DEMO_LINKAGE_KEY = b"fieldscreen-demo-linkage-key-not-for-real-use"
SEXES = ("boy", "girl")
NATIONALITIES = ("ua", "sy", "af", "er", "so", "sd", "ng", "ma", "iq", "ve", "bd", "pk")
FORMS = ("labour", "begging", "sexual", "criminal", "marriage", "domestic")
FIRST_DAY = dt.date(2025, 1, 1)


@dataclass(frozen=True, slots=True)
class PlantedDuplicates:
    """Rows as `Inbox.summaries()` gives them, each row's child code, the true pairs."""

    rows: list[tuple[str, str, bool, dict[str, Any]]]
    codes: np.ndarray  # object array of ChildCode | None
    pairs: set[tuple[int, int]]  # (first, second) positions, first < second


def planted_duplicates(screenings: int, *, duplicate_share: float = 0.05, seed: int = 7,
                       days: int = 730, areas: int = 25, typo: float = 0.2,
                       year_off: float = 0.3, other_area: float = 0.3,
                       with_codes: float = 1.0) -> PlantedDuplicates:
    """`screenings` rows of which `duplicate_share` are second screenings of a child."""
    rng = random.Random(seed)  # noqa: S311 - made-up data, repeatable by design
    area_names = tuple(f"area_{n:02d}" for n in range(areas))
    nationality_weights = [1 / (rank + 1) for rank in range(len(NATIONALITIES))]
    duplicates = round(screenings * duplicate_share)
    children = screenings - duplicates
    rows: list[tuple[str, str, bool, dict[str, Any]]] = []
    codes: list[ChildCode | None] = []
    people: list[dict[str, Any]] = []

    def add(person: dict[str, Any], day: int) -> None:
        date = FIRST_DAY + dt.timedelta(days=day)
        rows.append((f"demo-{len(rows):07d}", f"{date.isoformat()}T10:00:00Z", True, {
            "decision": person["decision"], "follow_up": False, "age": person["age"],
            "sex": person["sex"], "nationality": person["nationality"],
            "area": person["area"], "forms": list(person["forms"])}))
        code = None
        if person["has_code"] and person["age"] is not None:
            code = child_code(DEMO_LINKAGE_KEY, given=person["given"],
                              family=person["family"], birth_year=person["birth_year"],
                              sex=person["sex"])
        codes.append(code)

    for _child in range(children):
        age = rng.randrange(18) if rng.random() > 0.03 else None
        person = {
            "sex": rng.choice(SEXES), "age": age,
            "nationality": rng.choices(NATIONALITIES, nationality_weights)[0],
            "area": rng.choice(area_names),
            "forms": sorted(rng.sample(FORMS, rng.choices([0, 1, 2], [2, 6, 2])[0])),
            "decision": rng.choice(("information", "monitor", "referral", "urgent")),
            "given": "".join(rng.choices(string.ascii_lowercase, k=2)),
            "family": "".join(rng.choices(string.ascii_lowercase, k=2)),
            "birth_year": 2025 - (age or 0), "has_code": rng.random() < with_codes,
            "day": rng.randrange(days),
        }
        people.append(person)
    # Rows in screening order; duplicates are added after their first screening.
    seconds: dict[int, list[dict[str, Any]]] = {}
    for original in rng.sample(range(children), duplicates):
        first = people[original]
        second = dict(first)
        second["first"] = original
        if rng.random() < typo:
            letters = list(second["family"])
            letters[rng.randrange(2)] = rng.choice(string.ascii_lowercase)
            second["family"] = "".join(letters)
        if rng.random() < year_off and first["age"] is not None:
            second["age"] = min(17, max(0, first["age"] + rng.choice((-1, 1))))
            if rng.random() < 0.5:
                second["birth_year"] = 2025 - second["age"]
        if rng.random() < other_area:
            second["area"] = rng.choice(area_names)
        second["day"] = min(days - 1, first["day"] + rng.randrange(0, 10))
        seconds.setdefault(original, []).append(second)
    order = sorted(range(children), key=lambda index: people[index]["day"])
    position: dict[int, int] = {}
    pending: list[tuple[int, int, dict[str, Any]]] = []
    for index in order:
        position[index] = len(rows)
        add(people[index], people[index]["day"])
        pending.extend((second["day"], index, second) for second in seconds.get(index, ()))
    pairs: set[tuple[int, int]] = set()
    for _day, original, second in sorted(pending, key=lambda item: (item[0], item[1])):
        pairs.add((position[original], len(rows)))
        add(second, second["day"])
    return PlantedDuplicates(rows, np.array(codes, dtype=object), pairs)
