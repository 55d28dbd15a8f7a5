"""The tokenizer: expression source text to tokens, with positions for messages."""

from __future__ import annotations

import re

from fieldscreen.forms.expressions.errors import ExpressionError
from fieldscreen.forms.expressions.limits import MAX_NUMBER_LENGTH
from fieldscreen.forms.expressions.values import _EXACT_INT_LIMIT, Value
from fieldscreen.i18n import _

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


