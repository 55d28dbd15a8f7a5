"""The form format's vocabulary: its tag, the keys each mapping may hold, default scores."""

from __future__ import annotations

from fieldscreen.forms.schema import (
    ItemType,
    Role,
)

FORM_FORMAT = "fieldscreen-form/1"


_TOP_KEYS = frozenset(
    {"format", "id", "version", "title", "default_language", "languages", "choice_lists",
     "rules", "items"}
)
_ITEM_KEYS = frozenset(
    {"name", "type", "label", "hint", "relevant", "required", "constraint",
     "constraint_message", "calculation", "choices", "items", "audience", "role", "level",
     "kind", "weight", "red_flag", "choice_filter", "default", "pictogram", "media",
     "xlsform_type", "read_only"}
)
# `xlsform_type`: the XLSForm type an item was imported from, where it is not the native
# type's own, so that export writes it back (docs/decisions.md, 68 and 69).
XLSFORM_TYPES = {"select_one_external": ItemType.SELECT_ONE, "hidden": ItemType.CALCULATE}
_CHOICE_KEYS = frozenset({"name", "label", "image", "columns", "media"})
# An item's or a choice's `media:` mapping (forms/media.py names the valid files).
_MEDIA_KEYS = frozenset({"audio", "image"})
_RULE_KEYS = frozenset(
    {"version", "thresholds", "lowered_thresholds", "lowered_when", "elevated_level_score",
     "elevated_levels_for_referral", "resilience_cap", "gaps_for_follow_up", "answer_scores"}
)
_GAP = "gap"
DEFAULT_ANSWER_SCORES: dict[str, float | None] = {
    "yes": 1.0, "not_sure": 0.5, "no": 0.0, "rather_not_say": None,
    "clear": 1.0, "some": 0.5, "not_observed": 0.0, "cannot_assess": None,
}
_ROLE_TYPES = {
    Role.AGE: (ItemType.INTEGER, ItemType.CALCULATE, ItemType.DECIMAL),
    Role.SEX: (ItemType.SELECT_ONE,),
    Role.NATIONALITY: (ItemType.SELECT_ONE, ItemType.TEXT),
    Role.EXPLOITATION_FORM: (ItemType.SELECT_MULTIPLE, ItemType.SELECT_ONE),
    Role.AREA: (ItemType.SELECT_ONE, ItemType.TEXT),
    Role.REFERRAL_CONSENT: (ItemType.SELECT_ONE,),
}


