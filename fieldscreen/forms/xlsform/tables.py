"""The column tables: the sheets, the columns read on each, XLSForm's aliases, the types,
what is ignored and why, and the fs_rules sheet's keys.
"""

from __future__ import annotations

import re

from fieldscreen.forms.schema import ItemType
from fieldscreen.forms.xlsform.limits import MAX_CHOICE_ROWS, MAX_SURVEY_ROWS
from fieldscreen.i18n import N_

_CODE_IN_PARENTHESES = re.compile(r"\(([^()]+)\)\s*$")

SURVEY, CHOICES, SETTINGS, RULES, NOTES = "survey", "choices", "settings", "fs_rules", "fs_notes"
# The choices of `select_one_external` questions (pyxform writes them to itemsets.csv for
# ODK Collect): read like the choices sheet (docs/decisions.md, 68).
EXTERNAL_CHOICES = "external_choices"
_SHEET_ORDER = (SURVEY, CHOICES, EXTERNAL_CHOICES, SETTINGS, RULES, NOTES)
_ROW_LIMITS = {SURVEY: MAX_SURVEY_ROWS, CHOICES: MAX_CHOICE_ROWS,
               EXTERNAL_CHOICES: MAX_CHOICE_ROWS}

# Columns read on each sheet; the translatable ones take `::Language (code)`.
_FIELDS = {
    SURVEY: frozenset({"type", "name", "relevant", "constraint", "required", "calculation",
                       "choice_filter", "default",
                       "fs_level", "fs_kind", "fs_weight", "fs_red_flag", "fs_audience",
                       "fs_role", "fs_pictogram", "read_only"}),
    CHOICES: frozenset({"list_name", "name", "fs_image"}),
    EXTERNAL_CHOICES: frozenset({"list_name", "name", "fs_image"}),
    # allow_choice_duplicates: read with the choices (sheets.py `_shared_name`).
    SETTINGS: frozenset({"form_id", "version", "default_language", "allow_choice_duplicates"}),
    RULES: frozenset({"key", "value", "note"}),
    NOTES: frozenset({"note"}),
}
_TRANSLATABLE = {
    SURVEY: ("label", "hint", "constraint_message"),
    CHOICES: ("label",),
    EXTERNAL_CHOICES: ("label",),
    SETTINGS: ("form_title", "fs_title"),
    RULES: (),
    NOTES: (),
}
_COLUMN_ALIASES = {
    "jr:constraintmsg": "constraint_message",
    "jr:requiredmsg": "required_message",
    "calculate": "calculation",
    "readonly": "read_only",
    "relevance": "relevant",
    "caption": "label",
    "constraining_message": "constraint_message",
    "no_app_error_string": "required_message",
    # settings (pyxform's settings_header; `title` and `id_string` are what they name)
    "title": "form_title",
    "set_form_title": "form_title",
    "id_string": "form_id",
    "set_form_id": "form_id",
}
# Columns whose value changes what is asked, offered or recorded: a value there refuses
# the form (docs/xlsform.md, "Out of scope") instead of being ignored.
_REFUSED_COLUMNS = frozenset({"trigger",
                              "repeat_count"})
_MEDIA_COLUMNS = frozenset({"image", "audio", "video", "big_image"})
# XLSForm columns FieldScreen knows but does not use: why each value is ignored.
_IGNORED_COLUMNS = {
    "appearance": N_("appearance is not used; FieldScreen lays out every question its own way"),
    "choice_filter": N_("a choice filter is used only on a select"),
    "read_only": N_("read-only questions are not supported"),
    "parameters": N_("question parameters are not supported"),
    "trigger": N_("triggered calculations are not supported"),
    "repeat_count": N_("repeats are not supported"),
    "guidance_hint": N_("guidance hints are not shown"),
    "required_message": N_("custom 'required' messages are not shown"),
    # media::audio and media::image are read (xlsform/media.py).
    "media": N_("videos and large pictures are not shown"),
    "instance_name": N_("FieldScreen names records itself"),
    "submission_url": N_("records are sent through FieldScreen's sealed exchange"),
    "public_key": N_("FieldScreen encrypts records with its own keys"),
    "style": N_("form styles are not used"),
}

# (what the type is, why it is left out)
_UNSUPPORTED_TYPES = {
    # `osm` (OpenStreetMap, with or without a tags list) collects map features: places.
    **dict.fromkeys(("geopoint", "geotrace", "geoshape", "start-geopoint", "osm"),
                    N_("locations are not collected")),
    **dict.fromkeys(("image", "audio", "video", "file", "background-audio"),
                    N_("photos, recordings and files are not collected")),
    "barcode": N_("barcode scanning is not supported"),
    "range": N_("range questions are not supported"),
    "rank": N_("ranking questions are not supported"),
    # A time of day is carried (`time`); a date with a time is not (docs/decisions.md, 61).
    "datetime": N_("a date with a time is not supported, only a date or a time of day"),
    **dict.fromkeys(("xml-external", "csv-external"), N_("external data is not supported")),
    **dict.fromkeys(("start", "end", "today", "deviceid", "phonenumber", "username", "email",
                     "simserial", "subscriberid", "audit"),
                    N_("device metadata is not collected")),
    **dict.fromkeys(("select_one_from_file", "select_multiple_from_file"),
                    N_("choices from a file are not supported")),
}
# pyxform's other names for types (its question_type_dictionary and aliases.py), read as
# the type they name.
_TYPE_ALIASES = {
    **dict.fromkeys(("q int", "add integer prompt"), "integer"),
    **dict.fromkeys(("q decimal", "add decimal prompt"), "decimal"),
    **dict.fromkeys(("q string", "add text prompt"), "text"),
    **dict.fromkeys(("q date", "add date prompt"), "date"),
    **dict.fromkeys(("q note", "add note prompt"), "note"),
    **dict.fromkeys(("q calculate", "add calculate prompt"), "calculate"),
    **dict.fromkeys(("q acknowledge", "add acknowledge prompt"), "acknowledge"),
    **dict.fromkeys(("gps", "location", "q location", "q geopoint", "add location prompt"),
                    "geopoint"),
    "q geoshape": "geoshape",
    "q geotrace": "geotrace",
    **dict.fromkeys(("imei", "device id", "device_id"), "deviceid"),
    # Not `phone number` (with a space): that one is a question, below.
    "get phone number": "phonenumber",
    **dict.fromkeys(("sim id", "get sim id"), "simserial"),
    **dict.fromkeys(("subscriber id", "get subscriber id"), "subscriberid"),
    "get start time": "start",
    **dict.fromkeys(("get end time", "end time"), "end"),
    "get today": "today",
    **dict.fromkeys(("photo", "q picture", "q image", "add image prompt", "add photo prompt"),
                    "image"),
    **dict.fromkeys(("q audio", "add audio prompt"), "audio"),
    **dict.fromkeys(("q video", "add video prompt"), "video"),
    "add file prompt": "file",
    **dict.fromkeys(("q barcode", "add barcode prompt"), "barcode"),
    **dict.fromkeys(("q date time", "add date time prompt", "date time"), "datetime"),
    # pyxform's device-metadata types under their jr:preload names.
    **{f"uri:{name}": name for name in ("deviceid", "phonenumber", "simserial",
                                        "subscriberid", "username", "email")},
    "background-geopoint": "geopoint",
}
# pyxform's questions that are a plain type with a constraint (and a hint) built in
# (question_type_dictionary): read as that type with the same constraint and hint, unless
# the row gives its own, exactly as pyxform merges them. `phone number` is a number the
# person types (e.g. a parent's), not the device's phone number (`phonenumber`).
_PRESET_TYPES: dict[str, tuple[ItemType, str, str | None]] = {
    "phone number": (ItemType.TEXT, r"regex(., '^\d*$')", "Enter numbers only."),
    "percentage": (ItemType.INTEGER, "0 <= . and . <= 100", None),
}
# Metadata FieldScreen's own records stand for (each record has its times): left out with
# a warning. Every other type it does not have refuses the form.
_KEPT_OUT_METADATA = frozenset({"start", "end", "today"})
_SIMPLE_TYPES = {
    "integer": ItemType.INTEGER, "int": ItemType.INTEGER, "decimal": ItemType.DECIMAL,
    "text": ItemType.TEXT, "string": ItemType.TEXT, "date": ItemType.DATE,
    "time": ItemType.TIME,
    "note": ItemType.NOTE, "calculate": ItemType.CALCULATE,
    "acknowledge": ItemType.ACKNOWLEDGE, "trigger": ItemType.ACKNOWLEDGE,
}
_SELECT_PREFIXES = (
    # pyxform's longer spellings first (aliases.py `select`).
    (("add", "select", "one", "prompt", "using"), ItemType.SELECT_ONE),
    (("add", "select", "multiple", "prompt", "using"), ItemType.SELECT_MULTIPLE),
    (("select", "all", "that", "apply", "from"), ItemType.SELECT_MULTIPLE),
    (("select", "one", "from"), ItemType.SELECT_ONE),
    (("select", "multiple", "from"), ItemType.SELECT_MULTIPLE),
    (("select", "one", "using"), ItemType.SELECT_ONE),
    (("select", "multiple", "using"), ItemType.SELECT_MULTIPLE),
    (("select1",), ItemType.SELECT_ONE),
    (("select_one",), ItemType.SELECT_ONE),
    (("select", "one"), ItemType.SELECT_ONE),
    (("select_multiple",), ItemType.SELECT_MULTIPLE),
    (("select", "multiple"), ItemType.SELECT_MULTIPLE),
    (("select", "all", "that", "apply"), ItemType.SELECT_MULTIPLE),
)
_OR_OTHER = (("or_other",), ("or", "specify", "other"))
_CONTAINERS = {
    "begin_group": ("begin", "group"), "begin group": ("begin", "group"),
    "end_group": ("end", "group"), "end group": ("end", "group"),
    "begin_repeat": ("begin", "repeat"), "begin repeat": ("begin", "repeat"),
    "end_repeat": ("end", "repeat"), "end repeat": ("end", "repeat"),
    # pyxform's loops and looped groups are repeats (aliases.py `control`).
    "end_loop": ("end", "repeat"), "end loop": ("end", "repeat"),
    "begin_lgroup": ("begin", "repeat"), "begin lgroup": ("begin", "repeat"),
    "end_lgroup": ("end", "repeat"), "end lgroup": ("end", "repeat"),
    "begin looped group": ("begin", "repeat"), "end looped group": ("end", "repeat"),
}
_TRUE = frozenset({"yes", "true", "1", "true()"})
_FALSE = frozenset({"no", "false", "0", "false()"})

# The fs_rules sheet: key -> path in the native `rules:` mapping.
_RULE_NUMBERS = (
    "thresholds.refer", "thresholds.monitor", "lowered_thresholds.refer",
    "lowered_thresholds.monitor", "elevated_level_score", "elevated_levels_for_referral",
    "resilience_cap", "gaps_for_follow_up",
)
# Used when the workbook does not say (the shipped checklist's values; docs/xlsform.md).
DEFAULT_RULES: dict[str, float] = {
    "thresholds.refer": 8, "thresholds.monitor": 4,
    "lowered_thresholds.refer": 5, "lowered_thresholds.monitor": 2,
    "elevated_level_score": 2, "elevated_levels_for_referral": 3,
    "resilience_cap": 0.5, "gaps_for_follow_up": 4,
}
_RULE_NOTES = {
    "version": N_("the rule set's own version, kept with every decision"),
    "thresholds.refer": N_("net risk at which a referral is advised"),
    "thresholds.monitor": N_("net risk at which monitoring is advised"),
    "lowered_thresholds.refer": N_("referral threshold when lowered_when holds"),
    "lowered_thresholds.monitor": N_("monitoring threshold when lowered_when holds"),
    "lowered_when": N_("expression: when the lowered thresholds apply"),
    "elevated_level_score": N_("weighted risk at which a level counts as elevated"),
    "elevated_levels_for_referral": N_("this many elevated levels advise a referral"),
    "resilience_cap": N_("resilience offsets at most this fraction of risk"),
    "gaps_for_follow_up": N_("this many information gaps schedule a follow-up"),
    "answer_scores": N_("score of this answer from 0 to 1, or 'gap'"),
}
_GAP = "gap"
