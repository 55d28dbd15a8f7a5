"""Reading a survey row's `type` cell: a simple type, a select with its list, a container."""

from __future__ import annotations

from dataclasses import dataclass

from fieldscreen.forms.schema import ItemType
from fieldscreen.forms.xlsform.tables import (
    _CONTAINERS,
    _KEPT_OUT_METADATA,
    _OR_OTHER,
    _PRESET_TYPES,
    _SELECT_PREFIXES,
    _SIMPLE_TYPES,
    _TYPE_ALIASES,
    _UNSUPPORTED_TYPES,
)
from fieldscreen.i18n import N_


@dataclass(frozen=True, slots=True)
class _Type:
    kind: str  # "item", "group", "repeat", "end", "metadata", "unsupported", "unknown"
    item_type: ItemType | None = None
    list_name: str | None = None
    or_other: bool = False
    reason: str = ""
    container: str = ""  # "begin" or "end" for groups and repeats
    structure: str = ""  # "group" or "repeat"
    # pyxform's built-in constraint and hint for the type (`phone number`, `percentage`).
    preset_constraint: str | None = None
    preset_hint: str | None = None
    # The XLSForm type to write back on export when it is not the native type's own
    # (`select_one_external`, `hidden`; docs/decisions.md, 68 and 69).
    xlsform_type: str | None = None


def _parse_type(text: str) -> _Type:
    lowered = " ".join(text.lower().split())
    words = lowered.split()
    if words[:2] in (["begin", "loop"], ["begin_loop"]) or words[:1] == ["begin_loop"]:
        return _Type("repeat", container="begin", structure="repeat")
    if lowered in _TYPE_ALIASES:
        lowered = _TYPE_ALIASES[lowered]
        words = [lowered]
    if lowered in _CONTAINERS:
        container, structure = _CONTAINERS[lowered]
        if container == "end":
            return _Type("end", container=container, structure=structure)
        if structure == "group":
            return _Type("group", ItemType.GROUP, container=container, structure=structure)
        return _Type("repeat", container=container, structure=structure)
    if lowered in _PRESET_TYPES:
        item_type, constraint, hint = _PRESET_TYPES[lowered]
        return _Type("item", item_type, preset_constraint=constraint, preset_hint=hint)
    if lowered == "hidden":
        # A value no one sees: a calculation (its default, or empty) that is never shown.
        return _Type("item", ItemType.CALCULATE, xlsform_type="hidden")
    if words[:1] == ["select_one_external"]:
        # Its choices are on the workbook's external_choices sheet: an ordinary select.
        if len(words) != 2:
            return _Type("unknown", reason=N_("a select needs the name of its choice list"))
        return _Type("item", ItemType.SELECT_ONE, list_name=text.split()[1],
                     xlsform_type="select_one_external")
    if lowered in _SIMPLE_TYPES:
        return _Type("item", _SIMPLE_TYPES[lowered])
    if words and words[0] in _UNSUPPORTED_TYPES:
        if words[0] in _KEPT_OUT_METADATA and len(words) == 1:
            return _Type("metadata", reason=_UNSUPPORTED_TYPES[words[0]])
        return _Type("unsupported", reason=_UNSUPPORTED_TYPES[words[0]])
    if words[:2] in (["select", "one"], ["select", "multiple"]) and "file" in words[2:4]:
        return _Type("unsupported", reason=_UNSUPPORTED_TYPES["select_one_from_file"])
    for prefix, item_type in _SELECT_PREFIXES:
        if tuple(words[: len(prefix)]) != prefix:
            continue
        original = text.split()[len(prefix):]
        rest = tuple(words[len(prefix):])
        if not original:
            return _Type("unknown", reason=N_("a select needs the name of its choice list"))
        if original[0].startswith("${"):
            return _Type("unsupported", reason=N_("choices taken from other answers are not "
                                                  "supported"))
        if len(rest) == 1:
            return _Type("item", item_type, list_name=original[0])
        if rest[1:] in _OR_OTHER:
            return _Type("item", item_type, list_name=original[0], or_other=True)
        return _Type("unknown")
    return _Type("unknown")


