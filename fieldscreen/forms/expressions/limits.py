"""The limits that keep hostile expression source cheap to read and to evaluate."""

from __future__ import annotations

MAX_SOURCE_LENGTH = 4000
MAX_DEPTH = 64
MAX_NUMBER_LENGTH = 40
MAX_PATTERN_LENGTH = 200
MAX_REGEX_SUBJECT = 10_000
# The longest text any expression may produce. concat() of calculations can double a value
# at each step (60 steps filled 10 GB); past this limit the result is empty, and
# `forms check` refuses a form whose calculations can reach it (Expression.length_bound).
MAX_VALUE_LENGTH = 10_000
# The longest text of a number, a date or a truth value as `string()` writes it.
_SCALAR_TEXT = 32
