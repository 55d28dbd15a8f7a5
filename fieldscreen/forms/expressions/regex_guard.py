"""regex() patterns: only ones that run in bounded time are compiled."""

from __future__ import annotations

import re
from typing import Any

from fieldscreen.forms.expressions.errors import ExpressionError
from fieldscreen.forms.expressions.limits import MAX_PATTERN_LENGTH
from fieldscreen.forms.expressions.tree import _Literal, _Node
from fieldscreen.i18n import _

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
    import re2  # type: ignore[import-untyped]

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


