"""The functions an expression may call: their arity and the ones that need code of their own."""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Callable
from typing import Any

from fieldscreen.forms.expressions.limits import MAX_REGEX_SUBJECT
from fieldscreen.forms.expressions.values import (
    _EXACT_INT_LIMIT,
    _MAX_ROUND_DIGITS,
    _ROUNDING,
    Value,
    _to_number,
    _to_string,
)

# (minimum, maximum) argument counts; None means no maximum.
_ARITY: dict[str, tuple[int, int | None]] = {
    "selected": (2, 2),
    "count-selected": (1, 1),
    "if": (3, 3),
    "coalesce": (2, 2),
    "today": (0, 0),
    "string-length": (1, 1),
    "regex": (2, 2),
    "not": (1, 1),
    "true": (0, 0),
    "false": (0, 0),
    "int": (1, 1),
    "number": (1, 1),
    "string": (1, 1),
    "concat": (1, None),
    "round": (1, 2),
}
FUNCTIONS: frozenset[str] = frozenset(_ARITY)

def _negate(value: Value) -> float | None:
    number = _to_number(value)
    return None if number is None else -number


def _selected(selection: Value, choice: Value) -> bool:
    if selection is None:
        return False
    wanted = _to_string(choice).strip()
    if isinstance(selection, tuple):
        return any(_to_string(item) == wanted for item in selection)
    return wanted in _to_string(selection).split()


def _count_selected(selection: Value) -> int:
    if selection is None:
        return 0
    if isinstance(selection, tuple):
        return len(selection)
    return len(_to_string(selection).split())


def _int(value: Value) -> int | float | None:
    number = _to_number(value)
    if number is None:
        return None
    if number != number or number in (math.inf, -math.inf):
        return number
    if abs(number) < _EXACT_INT_LIMIT:
        return int(number)
    # Doubles this large are already whole numbers.
    return number


def _round(value: Value, digits: Value = 0) -> float | None:
    number = _to_number(value)
    places = _to_number(digits)
    if number is None or places is None:
        return None
    if number != number or number in (math.inf, -math.inf) or places != places:
        return number if places == places else math.nan
    places = max(-_MAX_ROUND_DIGITS, min(_MAX_ROUND_DIGITS, places))
    # Rounding the shortest decimal text (repr) gives what the person sees: 1.005 -> 1.01.
    try:
        exact = decimal.Decimal(repr(number))
        rounded = exact.quantize(decimal.Decimal(1).scaleb(-int(places)), context=_ROUNDING)
        return float(rounded)
    except (decimal.DecimalException, ValueError, OverflowError):
        return math.nan


def _regex(pattern: Any, value: Value) -> bool:
    text = _to_string(value)
    if len(text) > MAX_REGEX_SUBJECT:
        return False
    return pattern.search(text) is not None


def _clock_date(today: Callable[[], datetime.date] | None) -> datetime.date:
    if today is None:
        raise RuntimeError("today() was evaluated but evaluate() was given no clock")
    day = today()
    if isinstance(day, datetime.datetime):
        return day.date()
    return day


