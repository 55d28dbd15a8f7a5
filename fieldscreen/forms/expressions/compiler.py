"""The compiler: a syntax tree to nested closures taking (lookup, current, today)."""

from __future__ import annotations

from collections.abc import Callable

from fieldscreen.forms.expressions.functions import (
    _clock_date,
    _count_selected,
    _int,
    _negate,
    _regex,
    _round,
    _selected,
)
from fieldscreen.forms.expressions.limits import _SCALAR_TEXT, MAX_VALUE_LENGTH
from fieldscreen.forms.expressions.operators import _BINARY_OPERATIONS
from fieldscreen.forms.expressions.tree import (
    _AND,
    _OR,
    _Call,
    _Chain,
    _Current,
    _Literal,
    _Negate,
    _Node,
    _Ref,
)
from fieldscreen.forms.expressions.values import (
    Value,
    _Clock,
    _Evaluator,
    _is_empty,
    _Lookup,
    _to_number,
    _to_string,
    is_truthy,
)


def _length_bound(node: _Node, bound_of: Callable[[str], int], current: int) -> int:
    cap = MAX_VALUE_LENGTH + 1

    def bound(node: _Node) -> int:
        if isinstance(node, _Literal):
            return len(_to_string(node.value))
        if isinstance(node, _Ref):
            return min(bound_of(node.name), cap)
        if isinstance(node, _Current):
            return min(current, cap)
        if isinstance(node, _Call):
            if node.name == "concat":
                return min(sum(bound(arg) for arg in node.args), cap)
            if node.name == "if":
                return max(bound(node.args[1]), bound(node.args[2]))
            if node.name in ("coalesce", "string"):
                return max(max(bound(arg) for arg in node.args), _SCALAR_TEXT)
        # Arithmetic, comparisons and every other function give a number, a date or a
        # truth value.
        return _SCALAR_TEXT

    return bound(node)


def _compile(node: _Node) -> _Evaluator:
    if isinstance(node, _Literal):
        value = node.value

        def literal(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return value

        return literal
    if isinstance(node, _Ref):
        name = node.name

        def reference(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return lookup(name)

        return reference
    if isinstance(node, _Current):

        def current_value(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return current

        return current_value
    if isinstance(node, _Negate):
        operand = _compile(node.operand)

        def negate(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return _negate(operand(lookup, current, today))

        return negate
    if isinstance(node, _Chain):
        return _compile_chain(node)
    if isinstance(node, _Call):
        return _compile_call(node)
    raise AssertionError(f"unknown node {type(node).__name__}")


def _compile_chain(node: _Chain) -> _Evaluator:
    if node.level in (_AND, _OR):
        return _compile_logic(node)
    first = _compile(node.first)
    if len(node.rest) == 1:
        op_name, right_node = node.rest[0]
        operation = _BINARY_OPERATIONS[op_name]
        if isinstance(right_node, _Literal):
            # `${x} = 'yes'` is the commonest shape; save a call for the constant.
            constant = right_node.value

            def binary_constant(lookup: _Lookup, current: Value, today: _Clock) -> Value:
                return operation(first(lookup, current, today), constant)

            return binary_constant
        right = _compile(right_node)

        def binary(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return operation(first(lookup, current, today), right(lookup, current, today))

        return binary
    steps = tuple((_BINARY_OPERATIONS[op], _compile(operand)) for op, operand in node.rest)

    def fold(lookup: _Lookup, current: Value, today: _Clock) -> Value:
        result = first(lookup, current, today)
        for operation, operand in steps:
            result = operation(result, operand(lookup, current, today))
        return result

    return fold


def _compile_logic(node: _Chain) -> _Evaluator:
    parts = (_compile(node.first), *(_compile(operand) for _op, operand in node.rest))
    if node.level == _AND:
        if len(parts) == 2:
            left, right = parts

            def and_two(lookup: _Lookup, current: Value, today: _Clock) -> Value:
                return is_truthy(left(lookup, current, today)) and is_truthy(
                    right(lookup, current, today)
                )

            return and_two

        def and_all(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            for part in parts:
                if not is_truthy(part(lookup, current, today)):
                    return False
            return True

        return and_all
    if len(parts) == 2:
        left, right = parts

        def or_two(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return is_truthy(left(lookup, current, today)) or is_truthy(
                right(lookup, current, today)
            )

        return or_two

    def or_any(lookup: _Lookup, current: Value, today: _Clock) -> Value:
        for part in parts:
            if is_truthy(part(lookup, current, today)):
                return True
        return False

    return or_any


def _unary(function: Callable[[Value], Value], argument: _Evaluator) -> _Evaluator:
    def call(lookup: _Lookup, current: Value, today: _Clock) -> Value:
        return function(argument(lookup, current, today))

    return call


def _constant(value: Value) -> _Evaluator:
    def constant(lookup: _Lookup, current: Value, today: _Clock) -> Value:
        return value

    return constant


def _compile_call(node: _Call) -> _Evaluator:
    name = node.name
    args = [_compile(arg) for arg in node.args]
    if name == "true":
        return _constant(True)
    if name == "false":
        return _constant(False)
    if name == "today":

        def today_date(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return _clock_date(today)

        return today_date
    if name == "not":
        return _unary(lambda value: not is_truthy(value), args[0])
    if name == "count-selected":
        return _unary(_count_selected, args[0])
    if name == "string-length":
        return _unary(lambda value: len(_to_string(value)), args[0])
    if name == "int":
        return _unary(_int, args[0])
    if name == "number":
        return _unary(_to_number, args[0])
    if name == "string":
        return _unary(_to_string, args[0])
    if name == "regex":
        pattern = node.pattern
        assert pattern is not None  # the parser compiles every regex() pattern
        subject = args[0]

        def regex(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return _regex(pattern, subject(lookup, current, today))

        return regex
    if name == "selected":
        selection, choice = args

        def selected(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return _selected(selection(lookup, current, today), choice(lookup, current, today))

        return selected
    if name == "if":
        condition, when_true, when_false = args

        def if_(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            if is_truthy(condition(lookup, current, today)):
                return when_true(lookup, current, today)
            return when_false(lookup, current, today)

        return if_
    if name == "coalesce":
        primary, fallback = args

        def coalesce(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            value = primary(lookup, current, today)
            if _is_empty(value):
                return fallback(lookup, current, today)
            return value

        return coalesce
    if name == "concat":
        parts = tuple(args)

        def concat(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            texts, length = [], 0
            for part in parts:
                text = _to_string(part(lookup, current, today))
                length += len(text)
                if length > MAX_VALUE_LENGTH:
                    return None  # too long to be a value: empty, never memory exhausted
                texts.append(text)
            return "".join(texts)

        return concat
    if name == "round":
        value_of = args[0]
        if len(args) == 1:
            return _unary(_round, value_of)
        digits_of = args[1]

        def round_(lookup: _Lookup, current: Value, today: _Clock) -> Value:
            return _round(value_of(lookup, current, today), digits_of(lookup, current, today))

        return round_
    raise AssertionError(f"function {name} has no implementation")
