"""Values and their conversions (number, text, date, truth); none of these raise."""

from __future__ import annotations

import datetime
import decimal
import math
import re
from collections.abc import Callable
from typing import Any, TypeAlias

Value: TypeAlias = bool | int | float | str | datetime.date | tuple[str, ...] | None

# Doubles represent every integer below this exactly; beyond it an int would pretend to a
# precision the arithmetic does not have.
_EXACT_INT_LIMIT = 2**53
# Below this an integral float prints as plain digits (the threshold JavaScript and most
# XPath engines use before switching to exponent notation).
_PLAIN_DIGITS_LIMIT = 1e21
_EPOCH = datetime.date(1970, 1, 1)

_Lookup: TypeAlias = Callable[[str], Value]
_Clock: TypeAlias = Callable[[], datetime.date] | None
_Evaluator: TypeAlias = Callable[[_Lookup, Value, _Clock], Value]

def is_truthy(value: Value) -> bool:
    """Convert a value to a boolean the way ``relevant`` and ``constraint`` do.

    Args:
        value: Any value.

    Returns:
        False for None, '', 0, 0.0, nan, False and (); True otherwise.
    """
    if value is None:
        return False
    if isinstance(value, float):
        return not (value == 0.0 or value != value)
    if isinstance(value, str | tuple | int):
        return bool(value)
    return True



_NUMERIC_RE = re.compile(
    r"[ \t\r\n]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\r\n]*"
)
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ROUNDING = decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_UP)
_MAX_ROUND_DIGITS = 400


def _string_to_number(text: str) -> float:
    if _NUMERIC_RE.fullmatch(text) is None:
        return math.nan
    return float(text)


def _int_to_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _days(day: datetime.date) -> float:
    return float((day - _EPOCH).days)


def _to_number(value: object) -> float | None:
    """XPath number(), except that None stays None so arithmetic can propagate it."""
    if value is None:
        return None
    if type(value) is float:
        return value
    if isinstance(value, str):
        return _string_to_number(value)
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int):
        return _int_to_float(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime.datetime):
        return _days(value.date())
    if isinstance(value, datetime.date):
        return _days(value)
    if isinstance(value, tuple):
        return _string_to_number(_to_string(value))
    return math.nan


def _format_float(number: float) -> str:
    if number != number:
        return "NaN"
    if number in (math.inf, -math.inf):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < _PLAIN_DIGITS_LIMIT:
        return str(int(number))
    return repr(number)


def _to_string(value: object) -> str:
    """XPath string()."""
    if value is None:
        return ""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < _EXACT_INT_LIMIT:
            return str(int(value))
        # Huge ints would also trip Python's int-to-text digit limit.
        return _format_float(_int_to_float(value))
    if isinstance(value, float):
        return _format_float(float(value))
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return " ".join(_to_string(item) if not isinstance(item, tuple) else "" for item in value)
    try:
        return str(value)
    except Exception:
        return ""


def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str | tuple) and len(value) == 0)


def _plain(value: object) -> object:
    """Tuples become their text, datetimes their date (a datetime cannot be ordered against
    a date in Python)."""
    if isinstance(value, tuple):
        return _to_string(value)
    if isinstance(value, datetime.datetime):
        return value.date()
    return value


def _parse_iso_date(text: str) -> datetime.date | None:
    if _ISO_DATE_RE.fullmatch(text) is None:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float)


def _equals(left: object, right: object) -> bool:
    if left is None:
        return _is_empty(right)
    if right is None:
        return _is_empty(left)
    left = _plain(left)
    right = _plain(right)
    left_is_date = isinstance(left, datetime.date)
    right_is_date = isinstance(right, datetime.date)
    if left_is_date or right_is_date:
        if left_is_date and right_is_date:
            return left == right
        day, other = (left, right) if left_is_date else (right, left)
        if isinstance(other, str):
            return _parse_iso_date(other) == day
        if _is_number(other):
            return _days(day) == _to_number(other)  # type: ignore[arg-type]
        return False
    left_is_number = _is_number(left)
    right_is_number = _is_number(right)
    if left_is_number and right_is_number:
        if isinstance(left, bool) and isinstance(right, bool):
            return left == right
        return _to_number(left) == _to_number(right)
    if left_is_number or right_is_number:
        number, other = (left, right) if left_is_number else (right, left)
        if not isinstance(other, str):
            return False
        parsed = _string_to_number(other)
        if parsed == parsed:
            return _to_number(number) == parsed
        if isinstance(number, bool):
            return number == is_truthy(other)
        return False
    if isinstance(left, str) and isinstance(right, str):
        return str(left) == str(right)
    return False


def _ordered(left: object, right: object) -> tuple[Any, Any] | None:
    """Return the two sides in comparable form, or None when they cannot be ordered."""
    if left is None or right is None:
        return None
    left = _plain(left)
    right = _plain(right)
    left_is_date = isinstance(left, datetime.date)
    right_is_date = isinstance(right, datetime.date)
    if left_is_date and right_is_date:
        return left, right
    if left_is_date or right_is_date:
        day, other = (left, right) if left_is_date else (right, left)
        other_value: object
        if isinstance(other, str):
            other_value = _parse_iso_date(other)
            if other_value is None:
                return None
            day_value: object = day
        elif _is_number(other):
            other_value = _to_number(other)
            day_value = _days(day)  # type: ignore[arg-type]
        else:
            return None
        return (day_value, other_value) if left_is_date else (other_value, day_value)
    return _to_number(left), _to_number(right)


