"""JSON as the exchange formats read it: a key given twice is an error, never "last wins".

Two readers of one file must never see two different documents: Python's json keeps the
last of two equal keys, another language's parser may keep the first, so a signed manifest
could mean one thing to the signer and another to the importer. Every exchange format
(batches, receipts, packs, enrolment codes) is read through `loads_strict`.
"""

from __future__ import annotations

import json
from typing import Any


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("duplicate key")
    return found


def loads_strict(raw: bytes | str) -> Any:
    """Parse JSON, refusing duplicate keys.

    Raises:
        ValueError: not JSON (JSONDecodeError is a ValueError), a key twice in one object,
            or an integer of more than 4,300 digits (Python's limit on int conversion).
    """
    return json.loads(raw, object_pairs_hook=_unique_keys)
