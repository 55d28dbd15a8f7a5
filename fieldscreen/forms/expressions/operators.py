"""The binary operators: comparisons and arithmetic on any two values."""

from __future__ import annotations

import math
from collections.abc import Callable

from fieldscreen.forms.expressions.values import Value, _equals, _ordered, _to_number

# Plain numbers are by far the most common case in relations; skip the conversions.
_FAST_NUMBER_TYPES = (int, float)


def _op_eq(left: Value, right: Value) -> bool:
    if type(left) is str and type(right) is str:
        return left == right
    return _equals(left, right)


def _op_ne(left: Value, right: Value) -> bool:
    return not _op_eq(left, right)


def _op_lt(left: Value, right: Value) -> bool:
    if type(left) in _FAST_NUMBER_TYPES and type(right) in _FAST_NUMBER_TYPES:
        return left < right  # type: ignore[operator]  # both numbers
    pair = _ordered(left, right)
    return pair is not None and pair[0] < pair[1]


def _op_le(left: Value, right: Value) -> bool:
    if type(left) in _FAST_NUMBER_TYPES and type(right) in _FAST_NUMBER_TYPES:
        return left <= right  # type: ignore[operator]  # both numbers
    pair = _ordered(left, right)
    return pair is not None and pair[0] <= pair[1]


def _op_gt(left: Value, right: Value) -> bool:
    if type(left) in _FAST_NUMBER_TYPES and type(right) in _FAST_NUMBER_TYPES:
        return left > right  # type: ignore[operator]  # both numbers
    pair = _ordered(left, right)
    return pair is not None and pair[0] > pair[1]


def _op_ge(left: Value, right: Value) -> bool:
    if type(left) in _FAST_NUMBER_TYPES and type(right) in _FAST_NUMBER_TYPES:
        return left >= right  # type: ignore[operator]  # both numbers
    pair = _ordered(left, right)
    return pair is not None and pair[0] >= pair[1]


def _op_add(left: Value, right: Value) -> float | None:
    x, y = _to_number(left), _to_number(right)
    if x is None or y is None:
        return None
    return x + y


def _op_sub(left: Value, right: Value) -> float | None:
    x, y = _to_number(left), _to_number(right)
    if x is None or y is None:
        return None
    return x - y


def _op_mul(left: Value, right: Value) -> float | None:
    x, y = _to_number(left), _to_number(right)
    if x is None or y is None:
        return None
    return x * y


def _op_div(left: Value, right: Value) -> float | None:
    x, y = _to_number(left), _to_number(right)
    if x is None or y is None:
        return None
    if y == 0.0:
        # IEEE division, which Python refuses: the sign of a zero divisor counts.
        if x == 0.0 or x != x:
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def _op_mod(left: Value, right: Value) -> float | None:
    x, y = _to_number(left), _to_number(right)
    if x is None or y is None:
        return None
    if y == 0.0 or x != x or y != y or x in (math.inf, -math.inf):
        return math.nan
    return math.fmod(x, y)


_BINARY_OPERATIONS: dict[str, Callable[[Value, Value], Value]] = {
    "=": _op_eq,
    "!=": _op_ne,
    "<": _op_lt,
    "<=": _op_le,
    ">": _op_gt,
    ">=": _op_ge,
    "+": _op_add,
    "-": _op_sub,
    "*": _op_mul,
    "div": _op_div,
    "mod": _op_mod,
}


