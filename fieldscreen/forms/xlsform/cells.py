"""Cell values as text, numbers and flags; short quotes; bounded problem lists; language names."""

from __future__ import annotations

import datetime
import math
from typing import Any

from babel import Locale, UnknownLocaleError

from fieldscreen.errors import SourceProblem
from fieldscreen.forms.xlsform.limits import MAX_REPORTED
from fieldscreen.forms.xlsform.tables import _FALSE, _TRUE
from fieldscreen.i18n import _


def _as_text(value: Any) -> str:
    """A cell value as the text a person sees in it."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(
            value) < 2**53:
        return str(int(value))
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return "" if value is None else str(value)


def _number_or_text(value: Any) -> Any:
    """A number cell (or numeric text) as int or float; anything else as text."""
    if isinstance(value, bool):
        return _as_text(value)
    if isinstance(value, int | float):
        return _plain_number(float(value))
    text = _as_text(value)
    try:
        number = float(text)
    except ValueError:
        return text
    return _plain_number(number) if math.isfinite(number) else text


def _plain_number(number: float) -> int | float:
    return int(number) if number == int(number) and abs(number) < 2**53 else number


def _flag(value: Any) -> bool | str:
    """yes/true/TRUE/1 and no/false/0 as a bool; anything else as its text."""
    if isinstance(value, bool):
        return value
    text = _as_text(value)
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    return text


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bounded(problems: list[SourceProblem]) -> list[SourceProblem]:
    if len(problems) <= MAX_REPORTED:
        return problems
    last = problems[MAX_REPORTED - 1]
    return [*problems[:MAX_REPORTED], SourceProblem(last.path, last.line, _(
        "... and {count} more").format(count=len(problems) - MAX_REPORTED))]


def _language_name(code: str) -> str:
    """The English name of a language for column headers, e.g. 'French' for 'fr'."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name("en")
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return name or code


_NAMES: dict[str, str] = {}


def _english_language_names() -> dict[str, str]:
    """Lower-case English language names to codes ('french' -> 'fr'), built once."""
    if not _NAMES:
        for code, name in Locale("en").languages.items():
            _NAMES.setdefault(name.lower(), code)
    return _NAMES


def _out_of_scope(what: str) -> str:
    """The message that refuses a form for `what`, a feature it cannot carry over."""
    return _("{what}: FieldScreen refuses the form rather than change what it asks, shows or "
             "records (docs/xlsform.md, \"Out of scope\")").format(what=what)


# Where docs/xlsform.md lists the mistakes that stop ODK too (the form cannot run there).
FORM_MISTAKES = 'docs/xlsform.md, "Form mistakes"'
_TYPOGRAPHIC_QUOTES = "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f"


def _form_mistake(what: str, fix: str) -> str:
    """The message that refuses a form for a mistake of its own, one ODK could not run."""
    return _("{what}: this is a mistake in the form, which would not work in ODK either; {fix} "
             "(docs/xlsform.md, \"Form mistakes\")").format(what=what, fix=fix)


def _expression_mistake(source: str, *, choice_filter: bool = False) -> str | None:
    """How to fix an expression that is not one in XLSForm either, or None when it may be
    a valid XLSForm expression that FieldScreen does not evaluate (out of scope)."""
    quotes = sorted({char for char in source if char in _TYPOGRAPHIC_QUOTES})
    if quotes:
        return _("it uses typographic quotes ({quotes}), which spreadsheets put in by "
                 "themselves; write straight quotes (' or \") instead").format(
            quotes=" ".join(quotes))
    opened: str | None = None
    for char in source:
        if opened is None and char in "'\"":
            opened = char
        elif char == opened:
            opened = None
    if opened is not None:
        return _("a quote ({quote}) is not closed, so it is not an expression (is it a note "
                 "to the author?); write an expression, or close the quote").format(
            quote=opened)
    if choice_filter and "::" in source:
        return _("a choice filter tests the columns of the choices sheet, and a label in a "
                 "language ('label::English') is not one of them; filter on a column of "
                 "the choices sheet instead")
    return None
