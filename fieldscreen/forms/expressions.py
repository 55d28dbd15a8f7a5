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

from __future__ import annotations

import datetime
import decimal
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from fieldscreen.i18n import _, ngettext

__all__ = [
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

Value: TypeAlias = bool | int | float | str | datetime.date | tuple[str, ...] | None

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

# Doubles represent every integer below this exactly; beyond it an int would pretend to a
# precision the arithmetic does not have.
_EXACT_INT_LIMIT = 2**53
# Below this an integral float prints as plain digits (the threshold JavaScript and most
# XPath engines use before switching to exponent notation).
_PLAIN_DIGITS_LIMIT = 1e21
_EPOCH = datetime.date(1970, 1, 1)

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


class ExpressionError(Exception):
    """Bad expression source.

    Args:
        message: What is wrong, translated for the person who wrote the form.
        position: 0-based character offset into the source where the problem is.
    """

    def __init__(self, message: str, position: int) -> None:
        # Both go to args so the exception survives pickling (e.g. across processes).
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return self.message


_Lookup: TypeAlias = Callable[[str], Value]
_Clock: TypeAlias = Callable[[], datetime.date] | None
_Evaluator: TypeAlias = Callable[[_Lookup, Value, _Clock], Value]


@dataclass(frozen=True)
class Expression:
    """A parsed, compiled expression; create it with `parse_expression`.

    Attributes:
        source: The text it was parsed from.
        references: Every name used as ``${name}``.
        uses_current: Whether ``.`` (the item's own value) appears.
    """

    source: str
    references: frozenset[str]
    uses_current: bool
    _evaluator: _Evaluator = field(repr=False, compare=False)
    _tree: Any = field(default=None, repr=False, compare=False)

    def length_bound(self, bound_of: Callable[[str], int], current: int = 0) -> int:
        """The longest text this expression can produce, in characters (an upper bound).

        `bound_of(name)` gives the bound of an item's value; `current` that of ``.``. The
        result is capped just past `MAX_VALUE_LENGTH`, so a chain of doublings stays cheap.
        """
        return _length_bound(self._tree, bound_of, current)

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


def parse_expression(source: str) -> Expression:
    """Parse and compile expression `source`.

    Args:
        source: The expression text from a form file.

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
    parser = _Parser(source)
    tree = parser.parse()
    return Expression(
        source=source,
        references=frozenset(parser.references),
        uses_current=parser.uses_current,
        _evaluator=_compile(tree),
        _tree=tree,
    )


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


# ---------------------------------------------------------------------------------------
# Tokenizer

_NUM, _STR, _REF, _DOT, _NAME, _OP, _LPAREN, _RPAREN, _COMMA, _EOF = range(10)

_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")
# ASCII classes on purpose: \d would accept other scripts' digits that float() then reads.
_NUMBER_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# A hyphen belongs to a name only when a letter follows, so `x mod-1` still reads as `mod -1`.
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*")
_KEYWORDS = frozenset({"and", "or", "div", "mod"})
_SYMBOLS = ("!=", "<=", ">=", "=", "<", ">", "+", "-", "*")
_PUNCTUATION = {"(": _LPAREN, ")": _RPAREN, ",": _COMMA}
_DISPLAY_LIMIT = 30


class _Token:
    __slots__ = ("kind", "pos", "text", "value")

    def __init__(self, kind: int, text: str, pos: int, value: Value = None) -> None:
        self.kind = kind
        self.text = text
        self.pos = pos
        self.value = value

    def display(self) -> str:
        if len(self.text) > _DISPLAY_LIMIT:
            return self.text[:_DISPLAY_LIMIT] + "…"
        return self.text


class _Lexer:
    """Produces tokens on demand, so the leftmost problem in the source is reported first."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._pos = 0

    def next_token(self) -> _Token:
        source = self._source
        end = len(source)
        pos = self._pos
        while pos < end and source[pos].isspace():
            pos += 1
        if pos >= end:
            self._pos = end
            return _Token(_EOF, "", end)
        char = source[pos]
        token = self._read(source, pos, char)
        self._pos = pos + len(token.text)
        return token

    def _read(self, source: str, pos: int, char: str) -> _Token:
        if char == "$":
            match = _REF_RE.match(source, pos)
            if match is None:
                raise ExpressionError(
                    _("A question's value is written as ${name}, for example ${age}."), pos
                )
            return _Token(_REF, match.group(0), pos, match.group(1))
        if char == "'" or char == '"':
            close = source.find(char, pos + 1)
            if close < 0:
                raise ExpressionError(
                    _("The text in quotes has no closing {quote}.").format(quote=char), pos
                )
            return _Token(_STR, source[pos : close + 1], pos, source[pos + 1 : close])
        match = _NUMBER_RE.match(source, pos)
        if match is not None:
            return self._number(match.group(0), pos)
        if char == ".":
            return _Token(_DOT, ".", pos)
        match = _NAME_RE.match(source, pos)
        if match is not None:
            word = match.group(0)
            return _Token(_OP if word in _KEYWORDS else _NAME, word, pos)
        if char in _PUNCTUATION:
            return _Token(_PUNCTUATION[char], char, pos)
        for symbol in _SYMBOLS:
            if source.startswith(symbol, pos):
                return _Token(_OP, symbol, pos)
        raise ExpressionError(_("Unexpected character '{char}'.").format(char=char), pos)

    @staticmethod
    def _number(text: str, pos: int) -> _Token:
        if len(text) > MAX_NUMBER_LENGTH:
            raise ExpressionError(
                _("The number is too long (the limit is {limit} characters).").format(
                    limit=MAX_NUMBER_LENGTH
                ),
                pos,
            )
        value: int | float
        if text.isdigit() and int(text) < _EXACT_INT_LIMIT:
            value = int(text)
        else:
            value = float(text)
        return _Token(_NUM, text, pos, value)


# ---------------------------------------------------------------------------------------
# Syntax tree

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


# ---------------------------------------------------------------------------------------
# Parser


class _Parser:
    """Recursive descent for operands, operator precedence (with a stack) for binary operators.

    Binary operators never recurse, and every construct that does (brackets, calls, unary
    minus) goes through `_enter`, so Python's recursion limit is out of reach.
    """

    def __init__(self, source: str) -> None:
        self._source = source
        self._lexer = _Lexer(source)
        self._token = self._lexer.next_token()
        self._depth = 0
        self.references: set[str] = set()
        self.uses_current = False

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


# ---------------------------------------------------------------------------------------
# regex() patterns

_REPEAT_RE = re.compile(r"\{([0-9]*)(,([0-9]*))?\}")
_INLINE_FLAGS_RE = re.compile(r"\(\?([aiLmsux-]*)[:)]")
# Character-set syntax that Python's re warns about (FutureWarning) because its meaning
# will change; refusing it keeps warnings (errors under test) out of form loading.
_SET_AMBIGUITIES = ("[", "--", "&&", "||", "~~")


def _compile_pattern(node: _Node) -> Any:
    if not isinstance(node, _Literal) or not isinstance(node.value, str):
        raise ExpressionError(
            _("The pattern of regex() must be written directly in quotes."), node.pos
        )
    pattern = node.value
    problem = _pattern_problem(pattern)
    if problem is not None:
        raise ExpressionError(problem, node.pos)
    # RE2, not `re`: shape checks cannot catch every pattern that backtracks for minutes
    # (a*a*a*b, (a|a)*b), and RE2 never backtracks. Its own logging would print the
    # pattern on stderr, so it is switched off.
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        # Valid for both: `re` is the syntax the form format documents (and refuses
        # absurd repeat counts that RE2 would read as literal text).
        re.compile(pattern)
        return re2.compile(pattern, options=options)
    except (re2.error, re.error, OverflowError, ValueError, RecursionError, TypeError
            ) as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ExpressionError(
            _("The regex pattern is not valid: {reason}.").format(reason=reason), node.pos
        ) from None


def _pattern_problem(pattern: str) -> str | None:
    """Say why a regex pattern is refused, or return None when it may be compiled.

    The nested-repeat check is a heuristic: it looks for a repeated group that contains a
    repeat, the shape behind most catastrophic backtracking.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        return _(
            "The regex pattern is too long ({length} characters; the limit is {limit})."
        ).format(length=len(pattern), limit=MAX_PATTERN_LENGTH)
    backreference = _(
        "The regex pattern refers back to a group (such as \\1); this is not allowed."
    )
    nested = _(
        "The regex pattern repeats a group that itself contains a repeat, such as (a+)+; "
        "checking it could take too long."
    )
    # One flag per open group: whether something inside it repeats.
    groups = [False]
    end = len(pattern)
    index = 0
    while index < end:
        char = pattern[index]
        if char == "\\":
            if pattern[index + 1 : index + 2] in tuple("123456789"):
                return backreference
            index += 2
        elif char == "[":
            index, problem = _skip_set(pattern, index)
            if problem is not None:
                return problem
        elif char == "(":
            if pattern.startswith("(?#", index):
                close = pattern.find(")", index)
                index = end if close < 0 else close + 1
                continue
            if pattern.startswith(("(?P=", "(?("), index):
                return backreference
            flags = _INLINE_FLAGS_RE.match(pattern, index)
            if flags is not None and "x" in flags.group(1):
                # Verbose mode makes whitespace and '#' mean something else to re than to
                # this scanner, which would let a nested repeat slip through.
                return _("The regex pattern may not use verbose mode (?x).")
            groups.append(False)
            # '?' straight after '(' introduces an extension, it is not a repeat.
            index += 2 if pattern.startswith("(?", index) else 1
        elif char == ")":
            inner = groups.pop() if len(groups) > 1 else False
            index += 1
            length, repeats = _quantifier_at(pattern, index)
            if length and repeats and inner:
                return nested
            groups[-1] = groups[-1] or inner or bool(length)
            index += length
        else:
            length, _repeats = _quantifier_at(pattern, index)
            if length:
                groups[-1] = True
                index += length
            else:
                index += 1
    return None


def _skip_set(pattern: str, start: int) -> tuple[int, str | None]:
    """Return the index after the character set opening at `start`, and any problem."""
    index = start + 1
    end = len(pattern)
    if pattern[index : index + 1] == "^":
        index += 1
    if pattern[index : index + 1] == "]":
        index += 1
    while index < end:
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "]":
            return index + 1, None
        for ambiguous in _SET_AMBIGUITIES:
            if pattern.startswith(ambiguous, index):
                return index, _(
                    "The regex pattern has '{text}' inside [...]; put a backslash before it."
                ).format(text=ambiguous)
        index += 1
    return end, None


def _quantifier_at(pattern: str, index: int) -> tuple[int, bool]:
    """Return (length, repeats) of a quantifier at `index`; length 0 when there is none.

    `repeats` says whether it can match more than once (``?`` and ``{0,1}`` cannot).
    """
    char = pattern[index : index + 1]
    if char in ("*", "+"):
        length, repeats = 1, True
    elif char == "?":
        length, repeats = 1, False
    elif char == "{":
        match = _REPEAT_RE.match(pattern, index)
        if match is None or (not match.group(1) and not match.group(3)):
            return 0, False
        length = len(match.group(0))
        if match.group(2) is None:
            repeats = int(match.group(1)) > 1
        else:
            repeats = not match.group(3) or int(match.group(3)) > 1
    else:
        return 0, False
    # A lazy '?' or possessive '+' modifies the quantifier rather than adding one.
    if pattern[index + length : index + length + 1] in ("?", "+"):
        length += 1
    return length, repeats


# ---------------------------------------------------------------------------------------
# Value conversions (none of these raise, whatever they are given)

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
            return _days(day) == _to_number(other)
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


def _ordered(left: object, right: object) -> tuple[object, object] | None:
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
            day_value = _days(day)
        else:
            return None
        return (day_value, other_value) if left_is_date else (other_value, day_value)
    return _to_number(left), _to_number(right)


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
        return left < right
    pair = _ordered(left, right)
    return pair is not None and pair[0] < pair[1]


def _op_le(left: Value, right: Value) -> bool:
    if type(left) in _FAST_NUMBER_TYPES and type(right) in _FAST_NUMBER_TYPES:
        return left <= right
    pair = _ordered(left, right)
    return pair is not None and pair[0] <= pair[1]


def _op_gt(left: Value, right: Value) -> bool:
    if type(left) in _FAST_NUMBER_TYPES and type(right) in _FAST_NUMBER_TYPES:
        return left > right
    pair = _ordered(left, right)
    return pair is not None and pair[0] > pair[1]


def _op_ge(left: Value, right: Value) -> bool:
    if type(left) in _FAST_NUMBER_TYPES and type(right) in _FAST_NUMBER_TYPES:
        return left >= right
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


# ---------------------------------------------------------------------------------------
# Compiler: syntax tree -> closures taking (lookup, current, today)


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
