"""Fuzzing the expression language from the expressions real forms use, and its regex patterns.

tests/unit/forms/test_expressions.py already generates expressions from the grammar and random
text; these targets start instead from every relevant, constraint and calculation of the
shipped form, change them a little, and evaluate what still parses against hostile values
(huge numbers, lone surrogates, dates, selections). They also throw random patterns at
regex(), which must be refused or answer quickly on the longest text it accepts.
"""

from __future__ import annotations

import datetime as dt
import functools
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldscreen.forms.expressions import (
    MAX_REGEX_SUBJECT,
    Expression,
    ExpressionError,
    is_truthy,
    parse_expression,
)
from fieldscreen.forms.loader import load_form
from tests.conftest import SHIPPED_FORM
from tests.fuzz.conftest import (
    bounded_time,
    check_message,
    fuzz_settings,
    parse_or_refuse,
)
from tests.fuzz.strategies import HUGE_NUMBERS, mutate_text, odd_text

RESULT_TYPES = (type(None), bool, int, float, str, dt.date, tuple)


@functools.cache
def form_expressions() -> tuple[str, ...]:
    form = load_form(SHIPPED_FORM)
    found = [expression.source for item in form.items
             for expression in (item.relevant, item.constraint, item.calculation)
             if expression is not None]
    if form.rules.lowered_when is not None:
        found.append(form.rules.lowered_when.source)
    return tuple(found)


def values() -> st.SearchStrategy[object]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE_NUMBERS),
        st.floats(), odd_text(), st.dates(), st.datetimes(),
        st.lists(odd_text(8), max_size=4).map(tuple),
        st.sampled_from(["x" * (MAX_REGEX_SUBJECT + 1), "9" * 5000, "1e999", "2020-02-30"]),
    )


def clock() -> dt.date:
    return dt.date(2026, 3, 1)


def parse(source: str) -> Expression | None:
    result = parse_or_refuse(lambda: parse_expression(source), ExpressionError)
    if isinstance(result, ExpressionError):
        check_message(result.message)
        assert 0 <= result.position <= len(source)
        return None
    return result


def evaluate(expression: Expression, answers: dict[str, object], current: object) -> None:
    result = expression.evaluate(answers.get, current, clock)
    assert isinstance(result, RESULT_TYPES)
    assert isinstance(is_truthy(result), bool)


@fuzz_settings(150)
@given(data=st.data(), answers=st.dictionaries(st.sampled_from(
    ["age_years", "unaccompanied", "sex_gender", "exploitation_forms", "a_threatened",
     "child_assent", "x"]), values(), max_size=7), current=values())
def test_mutated_form_expressions(data, answers, current):
    source = data.draw(st.sampled_from(form_expressions()), label="expression")
    expression = parse(mutate_text(data, source, max_mutations=4))
    if expression is not None:
        evaluate(expression, {**answers, **dict.fromkeys(expression.references)} | answers,
                 current)


@fuzz_settings(100)
@given(data=st.data(), current=values())
def test_spliced_form_expressions(data, current):
    # Halves of two real expressions joined by an operator: grammatical more often than not.
    first, second = (data.draw(st.sampled_from(form_expressions())) for _pair in range(2))
    cut_first = data.draw(st.integers(0, len(first)))
    cut_second = data.draw(st.integers(0, len(second)))
    joint = data.draw(st.sampled_from([" and ", " or ", " + ", " div ", " = ", ", ", "(", ""]))
    expression = parse(first[:cut_first] + joint + second[cut_second:])
    if expression is not None:
        evaluate(expression, {}, current)


REGEX_PIECES = st.sampled_from([
    "a", "b", ".", "\\w", "\\d", "\\s", "\\b", "[a-z]", "[^a]", "[ab]", "(", ")", "(?:", "|",
    "*", "+", "?", "*?", "++", "{2}", "{1,3}", "{2,}", "^", "$", "\\", "(?i)", "(?s)", "[",
    "]", "-", "\\1", "(?=a)", "(?!a)", "(?<=a)", "\\u00e9", "\\p{L}", "{", "}", "'", '"',
])


@fuzz_settings(200)
@given(pieces=st.lists(REGEX_PIECES, max_size=14),
       subject=st.sampled_from(["a", "b", "ab", " ", "é", "-", "1"]))
def test_regex_patterns_are_refused_or_answer_quickly(pieces, subject):
    pattern = "".join(pieces)
    quote = '"' if "'" in pattern else "'"
    if quote in pattern:
        return
    expression = parse(f"regex(., {quote}{pattern}{quote})")
    if expression is None:
        return
    # The longest text regex() searches, made of what the pattern matches, then a
    # character that fails it: the shape that makes backtracking explode.
    for text in (subject * MAX_REGEX_SUBJECT, subject * (MAX_REGEX_SUBJECT - 1) + "!",
                 subject * 30 + "!"):
        start = time.perf_counter()
        with bounded_time(2.0):  # a pattern that explodes would take minutes to shrink
            evaluate(expression, {}, text)
        assert time.perf_counter() - start < 1.0, (pattern, len(text))


# -- a finding, fixed: regex() patterns whose backtracking exploded ------------------------------
# The nested-repeat check refuses (a+)+ and its kin, but adjacent repeats over the same
# characters backtrack polynomially and a repeated alternation with overlapping branches
# exponentially: with `re` each of these ran for minutes. regex() now matches with RE2,
# which runs in linear time.


@pytest.mark.parametrize(("pattern", "text"), [
    ("a*a*a*a*a*a*b", "a" * 100),
    ("(a|a)*b", "a" * 60),
    ("\\w*\\s*\\w*\\s*\\w*x", "a" * 2000),
], ids=["adjacent-repeats", "overlapping-alternation", "word-and-space-repeats"])
def test_regex_backtracking_is_bounded(pattern, text):
    expression = parse_expression(f"regex(., '{pattern}')")
    with bounded_time(0.5):
        evaluate(expression, {}, text)
