"""Checks and normalises one answer for one item, whatever its source (UI, JSON file, batch)."""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from fieldscreen.errors import UserError
from fieldscreen.forms.schema import MAX_TEXT_ANSWER_LENGTH, TIME_OF_DAY, Item, ItemType
from fieldscreen.i18n import _

if TYPE_CHECKING:
    from fieldscreen.forms.expressions import Value

MAX_TEXT_LENGTH = MAX_TEXT_ANSWER_LENGTH
# Far beyond any age or count a screening records; keeps arithmetic in exact doubles.
MAX_WHOLE_NUMBER = 10**9
ACKNOWLEDGED = "OK"


class AnswerError(UserError):
    """An answer that does not fit its item. `item` names the item."""

    def __init__(self, item: str, message: str) -> None:
        super().__init__(message)
        self.item = item


def normalise_answer(item: Item, raw: Any) -> Value:
    """The stored form of `raw` as an answer to `item`.

    Raises:
        AnswerError: the item takes no answer, or `raw` does not fit it.
    """
    name = item.name
    kind = item.type
    if not kind.takes_answer:
        raise AnswerError(name, _("'{name}' is a {type} and takes no answer").format(
            name=name, type=kind.value))
    if kind is ItemType.SELECT_ONE:
        assert item.choice_list is not None
        if not isinstance(raw, str) or raw not in item.choice_list:
            # Never the value itself: a name typed into the wrong field is a child's data.
            raise AnswerError(name, _("the answer to '{name}' is not one of its choices; use "
                                      "one of: {choices}").format(
                name=name, choices=", ".join(item.choice_list.names)))
        return raw
    if kind is ItemType.SELECT_MULTIPLE:
        assert item.choice_list is not None
        if isinstance(raw, str):
            raw = raw.split()
        if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
            raise AnswerError(name, _("'{name}' takes a list of choices").format(name=name))
        unknown = [value for value in raw if value not in item.choice_list]
        if unknown:
            raise AnswerError(name, _("an answer to '{name}' is not one of its choices; use "
                                      "any of: {choices}").format(
                name=name, choices=", ".join(item.choice_list.names)))
        chosen = set(raw)
        return tuple(choice for choice in item.choice_list.names if choice in chosen)
    if kind is ItemType.INTEGER:
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise AnswerError(name, _("'{name}' takes a whole number").format(name=name))
        if abs(raw) > MAX_WHOLE_NUMBER:
            raise AnswerError(name, _("'{name}': the number is too large").format(name=name))
        return raw
    if kind is ItemType.DECIMAL:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise AnswerError(name, _("'{name}' takes a number").format(name=name))
        value = float(raw)
        if not math.isfinite(value) or abs(value) > MAX_WHOLE_NUMBER:
            raise AnswerError(name, _("'{name}': the number is out of range").format(name=name))
        return value
    if kind is ItemType.TEXT:
        if not isinstance(raw, str):
            raise AnswerError(name, _("'{name}' takes text").format(name=name))
        if len(raw) > MAX_TEXT_LENGTH:
            raise AnswerError(name, _("'{name}': the text is longer than {limit} characters"
                                      ).format(name=name, limit=MAX_TEXT_LENGTH))
        if not _is_valid_text(raw):
            # A lone surrogate (from "\ud800" in JSON, or a broken input method) cannot be
            # stored or sent as UTF-8; say so instead of failing later on save.
            raise AnswerError(name, _("'{name}': the text contains a character that is not "
                                      "valid text (a broken or half character); type it "
                                      "again").format(name=name))
        return raw
    if kind is ItemType.DATE:
        if isinstance(raw, dt.datetime):
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if isinstance(raw, str):
            try:
                return dt.date.fromisoformat(raw)
            except ValueError:
                pass
        raise AnswerError(name, _("'{name}' takes a date written YYYY-MM-DD").format(name=name))
    if kind is ItemType.TIME:
        if isinstance(raw, dt.time):
            raw = raw.strftime("%H:%M:%S")
        if isinstance(raw, str) and TIME_OF_DAY.fullmatch(raw):
            # One stored spelling, HH:MM:SS, so a time typed 18:00 equals '18:00:00'.
            return raw if len(raw) == 8 else f"{raw}:00"
        raise AnswerError(name, _("'{name}' takes a time of day written HH:MM").format(
            name=name))
    if kind is ItemType.ACKNOWLEDGE:
        if raw is True or raw == ACKNOWLEDGED:
            return ACKNOWLEDGED
        raise AnswerError(name, _("'{name}' is acknowledged with \"OK\" or true").format(
            name=name))
    raise AssertionError(f"unhandled item type {kind}")


def _is_valid_text(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def answer_to_json(value: Value) -> Any:
    """A JSON-friendly form of a stored answer."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
