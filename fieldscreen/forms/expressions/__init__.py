"""Parse and evaluate the safe expression language of forms (relevant, constraint, calculation).

The language is a small XLSForm/XPath subset. Source text is read by a hand-written
tokenizer and a recursive-descent parser into a syntax tree, which is then compiled once
into nested Python closures; nothing is ever handed to ``eval``/``exec``/``compile`` and no
attribute is ever looked up by a name taken from the source.

Grammar, lowest precedence first (binary operators associate to the left)::

    or  <  and  <  = !=  <  < <= > >=  <  + -  <  * div mod  <  unary -  <  primary

A primary is a number (``12``, ``3.5``, ``.5``, ``1e3``), a string in single or double
quotes (no escapes, as in XPath), ``${name}`` (the value of a form item), ``.`` (the
current item's own value), a parenthesised expression, or a call of one of `FUNCTIONS`.
Function names and arity are checked while parsing.

Values (`Value`) are ``None`` (unanswered or not relevant), ``bool``, ``int``, ``float``,
``str``, ``datetime.date`` and ``tuple[str, ...]`` (a select_multiple answer).

Semantics:

* Numbers are IEEE doubles, as in XPath: arithmetic is done in ``float``, so results of
  ``+ - * div mod`` and unary ``-`` are floats. Integer literals stay ``int`` when
  ``|x| < 2**53``. Division by zero gives ``inf``/``-inf``/``nan``; ``mod`` is the
  truncating remainder (like C ``fmod``) and ``x mod 0`` is ``nan``.
* Arithmetic with ``None`` gives ``None``. Converting to a number: ``bool`` is 1/0, a
  numeric-looking string (``' 12'``, ``'-3.5'``, ``'1e3'``) is its number, any other string
  is ``nan``, a date is its day count since 1970-01-01 (so ``today() - ${dob}`` is an age in
  days), a tuple is converted through its space-joined text.
* ``=``/``!=``: ``None`` equals ``None``, ``''`` and ``()``. A tuple compares as its
  space-joined text. A date equals the same date or its ISO text (``'2020-01-31'``). Two
  numbers (or bools) compare as numbers; a number against a numeric-looking string compares
  numerically, against any other string it is unequal (a bool against a non-numeric string
  compares with that string's truthiness). Strings compare as text. ``!=`` is the negation of
  ``=``.
* ``< <= > >=``: false when either side is ``None`` or ``nan``. Dates compare with dates and
  ISO date strings (a date against a number compares day counts); everything else is
  converted to a number, so non-numeric strings compare false.
* Truthiness (`is_truthy`): ``None``, ``''``, ``0``, ``0.0``, ``nan``, ``False`` and ``()``
  are false, everything else (including the string ``'0'`` and every date) is true. ``and``
  and ``or`` short-circuit and give a ``bool``.
* Functions: ``selected(list, choice)`` (a tuple, or a space-separated string such as a
  select_one answer; false for ``None``), ``count-selected(list)``, ``if(c, a, b)``,
  ``coalesce(a, b)`` (``a`` unless it is ``None``, ``''`` or ``()``), ``today()``,
  ``string-length(s)``, ``regex(s, 'pattern')``, ``not(x)``, ``true()``, ``false()``,
  ``int(x)`` (truncates toward zero), ``number(x)``, ``string(x)``, ``concat(a, ...)`` and
  ``round(x[, digits])`` (half away from zero, on the decimal text of ``x``). ``int``,
  ``number`` and ``round`` give ``None`` for ``None``. ``int``, ``count-selected`` and
  ``string-length`` give an ``int`` when ``|x| < 2**53`` and a ``float`` otherwise.
* ``string(x)``: ``None`` is ``''``, integral floats print without ``.0``, ``nan`` is
  ``NaN``, infinities are ``Infinity``/``-Infinity``, dates are ISO, tuples are
  space-joined, bools are ``true``/``false``.
* ``regex(s, pattern)``: the pattern must be a string literal; it is compiled once when
  parsing. Patterns over `MAX_PATTERN_LENGTH` characters, back-references, verbose mode and
  a repeated group that contains a repeat (``(a+)+``, ``(a*)*``; a guard against
  catastrophic backtracking) are refused. Evaluation is a search with RE2 (linear time in
  the text: no pattern can backtrack for minutes; ``\\d`` and ``\\w`` are ASCII, as in
  ODK's Java regexes) on ``string(s)`` and is false for text longer than
  `MAX_REGEX_SUBJECT` characters.
* Limits against hostile input: at most `MAX_SOURCE_LENGTH` characters, nesting (brackets,
  calls, unary minus, and the depth of the resulting tree) at most `MAX_DEPTH`, number
  literals at most `MAX_NUMBER_LENGTH` characters.

Evaluation never raises for any value, except ``RuntimeError`` when ``today()`` is
evaluated without a clock, which is a programming error.
"""


from fieldscreen.forms.expressions.errors import ExpressionError
from fieldscreen.forms.expressions.expression import Expression, parse_expression
from fieldscreen.forms.expressions.functions import FUNCTIONS
from fieldscreen.forms.expressions.limits import (
    MAX_DEPTH,
    MAX_NUMBER_LENGTH,
    MAX_PATTERN_LENGTH,
    MAX_REGEX_SUBJECT,
    MAX_SOURCE_LENGTH,
    MAX_VALUE_LENGTH,
)
from fieldscreen.forms.expressions.parser import COLUMN_PREFIX
from fieldscreen.forms.expressions.values import Value, is_truthy

__all__ = [
    "COLUMN_PREFIX",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_NUMBER_LENGTH",
    "MAX_PATTERN_LENGTH",
    "MAX_REGEX_SUBJECT",
    "MAX_SOURCE_LENGTH",
    "MAX_VALUE_LENGTH",
    "Expression",
    "ExpressionError",
    "Value",
    "is_truthy",
    "parse_expression",
]

