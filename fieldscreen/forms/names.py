"""The rules for names and codes in a form: its id, item, list and choice names, languages.

One home for them, so the YAML loader, the XLSForm importer and the services directory
accept exactly the same names (the importer checks them first, to report problems in
spreadsheet words before the YAML is built).
"""

from __future__ import annotations

import re

__all__ = ["CHOICE_NAME", "FORM_ID", "ITEM_NAME", "LANGUAGE_CODE"]

# Lower case, so that ids compare the same on every file system and in batch manifests.
FORM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Item and list names appear inside ${...} references, so they follow the expression
# language's name rule.
ITEM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Choice names are recorded as answers and compared by selected(): lower case only.
CHOICE_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
# A BCP 47 style code: a two- or three-letter language, then optional subtags.
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*$")
