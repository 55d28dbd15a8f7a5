"""The recursive-descent parser: tokens to a syntax tree; checks names and arity."""

from __future__ import annotations

from fieldscreen.forms.expressions.errors import ExpressionError
from fieldscreen.forms.expressions.functions import _ARITY
from fieldscreen.forms.expressions.lexer import (
    _COMMA,
    _DOT,
    _EOF,
    _LPAREN,
    _NAME,
    _NUM,
    _OP,
    _REF,
    _RPAREN,
    _STR,
    _Lexer,
    _Token,
)
from fieldscreen.forms.expressions.limits import MAX_DEPTH
from fieldscreen.forms.expressions.regex_guard import _compile_pattern
from fieldscreen.forms.expressions.tree import (
    _BINARY_LEVELS,
    _Call,
    _Chain,
    _checked,
    _Current,
    _Literal,
    _Negate,
    _Node,
    _Ref,
    _too_deep,
)
from fieldscreen.i18n import _, ngettext

# What a choice column's name is looked up as: no item name can start with it.
COLUMN_PREFIX = "@"


class _Parser:
    """Recursive descent for operands, operator precedence (with a stack) for binary operators.

    Binary operators never recurse, and every construct that does (brackets, calls, unary
    minus) goes through `_enter`, so Python's recursion limit is out of reach.
    """

    def __init__(self, source: str, *, choice_columns: bool = False) -> None:
        self._source = source
        self._lexer = _Lexer(source)
        self._token = self._lexer.next_token()
        self._depth = 0
        self.references: set[str] = set()
        self.uses_current = False
        # In a choice filter a bare word is a column of the choice being tested (XLSForm).
        self._choice_columns = choice_columns
        self.columns: set[str] = set()

    def parse(self) -> _Node:
        if self._token.kind == _EOF:
            raise ExpressionError(_("The expression is empty."), 0)
        node = self._expression()
        token = self._token
        if token.kind != _EOF:
            raise ExpressionError(
                _("Unexpected '{token}' after the end of the expression.").format(
                    token=token.display()
                ),
                token.pos,
            )
        return node

    def _advance(self) -> None:
        self._token = self._lexer.next_token()

    def _enter(self, position: int) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _too_deep(position)

    def _expression(self) -> _Node:
        operands = [self._operand()]
        operators: list[tuple[int, str, int]] = []
        while True:
            token = self._token
            level = _BINARY_LEVELS.get(token.text) if token.kind == _OP else None
            if level is None:
                break
            while operators and operators[-1][0] >= level:
                self._reduce(operands, operators)
            operators.append((level, token.text, token.pos))
            self._advance()
            operands.append(self._operand())
        while operators:
            self._reduce(operands, operators)
        return operands[0]

    @staticmethod
    def _reduce(operands: list[_Node], operators: list[tuple[int, str, int]]) -> None:
        level, op, pos = operators.pop()
        right = operands.pop()
        left = operands.pop()
        # Folding left to right makes (a - b) - c and a - b - c the same chain, so merging
        # a same-level left operand is always correct.
        if isinstance(left, _Chain) and left.level == level:
            left.append(op, right)
            operands.append(_checked(left))
        else:
            operands.append(_checked(_Chain(level, left, op, right, pos)))

    def _operand(self) -> _Node:
        signs: list[int] = []
        while self._token.kind == _OP and self._token.text == "-":
            self._enter(self._token.pos)
            signs.append(self._token.pos)
            self._advance()
        node = self._primary()
        for pos in reversed(signs):
            node = _checked(_Negate(node, pos))
        self._depth -= len(signs)
        return node

    def _primary(self) -> _Node:
        token = self._token
        kind = token.kind
        if kind == _NUM or kind == _STR:
            self._advance()
            return _Literal(token.value, token.pos)
        if kind == _REF:
            self._advance()
            name = str(token.value)
            self.references.add(name)
            return _Ref(name, token.pos)
        if kind == _DOT:
            self._advance()
            self.uses_current = True
            return _Current(token.pos)
        if kind == _LPAREN:
            self._enter(token.pos)
            self._advance()
            node = self._expression()
            self._expect_close()
            self._depth -= 1
            return node
        if kind == _NAME:
            return self._call(token)
        if kind == _EOF:
            raise ExpressionError(_("The expression ends too early."), token.pos)
        raise ExpressionError(
            _("Expected a value but found '{token}'.").format(token=token.display()), token.pos
        )

    def _expect_close(self) -> None:
        token = self._token
        if token.kind == _RPAREN:
            self._advance()
            return
        if token.kind == _EOF:
            raise ExpressionError(_("A closing ')' is missing."), token.pos)
        raise ExpressionError(
            _("Expected ')' but found '{token}'.").format(token=token.display()), token.pos
        )

    def _call(self, name_token: _Token) -> _Node:
        name = name_token.text
        self._advance()
        if self._token.kind != _LPAREN and self._choice_columns:
            self.columns.add(name)
            return _Ref(COLUMN_PREFIX + name, name_token.pos)
        if self._token.kind != _LPAREN:
            raise ExpressionError(
                _("Unexpected word '{name}'. A question's value is written as ${{{name}}}.").format(
                    name=name
                ),
                name_token.pos,
            )
        if name not in _ARITY:
            raise ExpressionError(_("Unknown function '{name}'.").format(name=name), name_token.pos)
        self._enter(name_token.pos)
        self._advance()
        args: list[_Node] = []
        if self._token.kind != _RPAREN:
            while True:
                args.append(self._expression())
                token = self._token
                if token.kind == _COMMA:
                    self._advance()
                    continue
                if token.kind == _RPAREN:
                    break
                if token.kind == _EOF:
                    raise ExpressionError(_("A closing ')' is missing."), token.pos)
                raise ExpressionError(
                    _("Expected ',' or ')' in '{name}(...)' but found '{token}'.").format(
                        name=name, token=token.display()
                    ),
                    token.pos,
                )
        self._advance()
        self._depth -= 1
        _check_arity(name, len(args), name_token.pos)
        pattern = _compile_pattern(args[1]) if name == "regex" else None
        return _checked(_Call(name, args, name_token.pos, pattern))


def _check_arity(name: str, count: int, position: int) -> None:
    low, high = _ARITY[name]
    if low <= count and (high is None or count <= high):
        return
    if high is None:
        expected = ngettext("at least {count} argument", "at least {count} arguments", low)
        expected = expected.format(count=low)
    elif low == high:
        expected = ngettext("{count} argument", "{count} arguments", low).format(count=low)
    else:
        expected = _("{low} to {high} arguments").format(low=low, high=high)
    raise ExpressionError(
        _("The function '{name}' takes {expected}, not {count}.").format(
            name=name, expected=expected, count=count
        ),
        position,
    )


