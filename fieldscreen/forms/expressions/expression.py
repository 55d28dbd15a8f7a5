"""Expression (a parsed, compiled expression) and parse_expression, the way to make one."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fieldscreen.forms.expressions.compiler import _compile, _length_bound
from fieldscreen.forms.expressions.errors import ExpressionError
from fieldscreen.forms.expressions.limits import MAX_SOURCE_LENGTH
from fieldscreen.forms.expressions.parser import _Parser
from fieldscreen.forms.expressions.tree import _RELATION, _Call, _Chain, _Current, _Negate, _Ref
from fieldscreen.forms.expressions.values import Value, _Evaluator
from fieldscreen.i18n import _


@dataclass(frozen=True)
class Expression:
    """A parsed, compiled expression; create it with `parse_expression`.

    Attributes:
        source: The text it was parsed from.
        references: Every name used as ``${name}``.
        uses_current: Whether ``.`` (the item's own value) appears.
        columns: In a choice filter, the choice columns its bare words name.
    """

    source: str
    references: frozenset[str]
    uses_current: bool
    _evaluator: _Evaluator = field(repr=False, compare=False)
    _tree: Any = field(default=None, repr=False, compare=False)
    # In a choice filter: the choice columns named by bare words (looked up as
    # COLUMN_PREFIX + name); empty elsewhere.
    columns: frozenset[str] = frozenset()

    def length_bound(self, bound_of: Callable[[str], int], current: int = 0) -> int:
        """The longest text this expression can produce, in characters (an upper bound).

        `bound_of(name)` gives the bound of an item's value; `current` that of ``.``. The
        result is capped just past `MAX_VALUE_LENGTH`, so a chain of doublings stays cheap.
        """
        return _length_bound(self._tree, bound_of, current)

    def ordered_operands(self) -> frozenset[str]:
        """The names (``.`` for the item's own value) compared directly with ``<``, ``<=``,
        ``>`` or ``>=``, so a form can refuse ordering values that do not order (times)."""
        return _ordered_operands(self._tree)

    def evaluate(
        self,
        lookup: Callable[[str], Value],
        current: Value = None,
        today: Callable[[], datetime.date] | None = None,
    ) -> Value:
        """Compute the expression's value.

        Args:
            lookup: Gives the value of form item ``name`` (None when unanswered or not
                relevant).
            current: The value of ``.``.
            today: The clock used by ``today()``.

        Returns:
            The value; never raises for any values returned by `lookup`.

        Raises:
            RuntimeError: ``today()`` was evaluated and no clock was given.
        """
        return self._evaluator(lookup, current, today)


def _ordered_operands(tree: Any) -> frozenset[str]:
    found: set[str] = set()
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, _Chain):
            operands = [node.first, *(operand for _op, operand in node.rest)]
            if node.level == _RELATION:
                found.update(operand.name if isinstance(operand, _Ref) else "."
                             for operand in operands
                             if isinstance(operand, _Ref | _Current))
            pending.extend(operands)
        elif isinstance(node, _Negate):
            pending.append(node.operand)
        elif isinstance(node, _Call):
            pending.extend(node.args)
    return frozenset(found)


def parse_expression(source: str, *, choice_columns: bool = False) -> Expression:
    """Parse and compile expression `source`.

    Args:
        source: The expression text from a form file.
        choice_columns: A choice filter: a bare word names a column of the choice being
            tested (``state = ${state}``), as in XLSForm.

    Returns:
        The compiled expression.

    Raises:
        ExpressionError: The text is not a valid expression or exceeds a limit.
    """
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            _("The expression is too long ({length} characters; the limit is {limit}).").format(
                length=len(source), limit=MAX_SOURCE_LENGTH
            ),
            MAX_SOURCE_LENGTH,
        )
    parser = _Parser(source, choice_columns=choice_columns)
    tree = parser.parse()
    return Expression(
        source=source,
        references=frozenset(parser.references),
        uses_current=parser.uses_current,
        columns=frozenset(parser.columns),
        _evaluator=_compile(tree),
        _tree=tree,
    )


