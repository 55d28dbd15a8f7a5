"""The syntax tree the parser builds and the compiler reads, with its depth limit."""

from __future__ import annotations

from typing import Any

from fieldscreen.forms.expressions.errors import ExpressionError
from fieldscreen.forms.expressions.limits import MAX_DEPTH
from fieldscreen.forms.expressions.values import Value
from fieldscreen.i18n import _

_OR, _AND, _EQUALITY, _RELATION, _ADDITION, _MULTIPLICATION = range(1, 7)
_BINARY_LEVELS = {
    "or": _OR,
    "and": _AND,
    "=": _EQUALITY,
    "!=": _EQUALITY,
    "<": _RELATION,
    "<=": _RELATION,
    ">": _RELATION,
    ">=": _RELATION,
    "+": _ADDITION,
    "-": _ADDITION,
    "*": _MULTIPLICATION,
    "div": _MULTIPLICATION,
    "mod": _MULTIPLICATION,
}


class _Node:
    # Height is the tree depth below the node; it bounds the recursion of compiling and of
    # evaluating, which the parser's bracket counter alone does not (each bracket can add
    # one node per precedence level).
    __slots__ = ("height", "pos")

    def __init__(self, pos: int, height: int) -> None:
        self.pos = pos
        self.height = height


class _Literal(_Node):
    __slots__ = ("value",)

    def __init__(self, value: Value, pos: int) -> None:
        super().__init__(pos, 0)
        self.value = value


class _Ref(_Node):
    __slots__ = ("name",)

    def __init__(self, name: str, pos: int) -> None:
        super().__init__(pos, 0)
        self.name = name


class _Current(_Node):
    __slots__ = ()

    def __init__(self, pos: int) -> None:
        super().__init__(pos, 0)


class _Negate(_Node):
    __slots__ = ("operand",)

    def __init__(self, operand: _Node, pos: int) -> None:
        super().__init__(pos, operand.height + 1)
        self.operand = operand


class _Chain(_Node):
    """Operands of one precedence level folded left to right: ``a - b + c``.

    Keeping a run of same-level operators flat (rather than a left-leaning binary tree)
    keeps ``${q1} + ${q2} + ...`` shallow however many terms it has.
    """

    __slots__ = ("first", "level", "rest")

    def __init__(self, level: int, first: _Node, op: str, second: _Node, pos: int) -> None:
        super().__init__(pos, max(first.height, second.height) + 1)
        self.level = level
        self.first = first
        self.rest: list[tuple[str, _Node]] = [(op, second)]

    def append(self, op: str, operand: _Node) -> None:
        self.rest.append((op, operand))
        self.height = max(self.height, operand.height + 1)


class _Call(_Node):
    __slots__ = ("args", "name", "pattern")

    def __init__(
        self, name: str, args: list[_Node], pos: int, pattern: Any | None
    ) -> None:
        super().__init__(pos, max((arg.height for arg in args), default=-1) + 1)
        self.name = name
        self.args = args
        self.pattern = pattern


def _too_deep(position: int) -> ExpressionError:
    return ExpressionError(
        _("The expression is nested too deeply (the limit is {limit} levels).").format(
            limit=MAX_DEPTH
        ),
        position,
    )


def _checked(node: _Node) -> _Node:
    if node.height > MAX_DEPTH:
        raise _too_deep(node.pos)
    return node


