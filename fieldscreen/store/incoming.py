"""What a verified batch hands to the coordinator's store: devices, records, summaries.

Kept apart from the inbox (and free of SQLite) because the batch checker imports it in
its own process: that process starts for every import, and it should start quickly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from fieldscreen.store.crypto import FieldCipher, sha256

IMPORTED_TABLE = "imported_records"
IMPORTED_SCHEMA_VERSION = 1
# Each record's sealed (summary, payload), in the order of its batch.
Sealed = list[tuple[bytes, bytes]]

_DECISIONS = frozenset({"information", "monitor", "referral", "urgent"})
# Choice names as forms define them; anything else from a batch is not counted.
_CHOICE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
MAX_AGE = 130
MAX_FORMS = 16
# A child code's parts: HMAC-SHA-256 values in lower-case hex (reporting.linkage).
_CODE_PART = re.compile(r"[0-9a-f]{64}\Z")
_CODE_PARTS = ("full", "given", "family")


@lru_cache(maxsize=4096)
def _is_choice_name(value: str) -> bool:
    # A batch repeats the same few sexes, nationalities and areas thousands of times:
    # remembering the verdicts saves most of the pattern matching of an import.
    return _CHOICE_NAME.match(value) is not None


def _choice(value: Any) -> str | None:
    return value if isinstance(value, str) and _is_choice_name(value) else None


def _child_code(value: Any) -> dict[str, str] | None:
    """The outcome's child code (keyed hashes only) when it has exactly their form."""
    if not (isinstance(value, dict) and set(value) == set(_CODE_PARTS)):
        return None
    parts = {name: value[name] for name in _CODE_PARTS}
    if not all(isinstance(part, str) and _CODE_PART.match(part) for part in parts.values()):
        return None
    return parts


def summary_from_outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    """What the coordinator keeps (encrypted) to list, queue and count a record.

    The outcome comes from a signed batch but is still outside input: every value is
    checked, and one that is not what a form can produce is counted as not known.
    """
    decision = outcome.get("final_decision", outcome.get("decision"))
    facts = outcome.get("disaggregation")
    facts = facts if isinstance(facts, dict) else {}
    age = facts.get("age")
    forms = facts.get("exploitation_form")
    if isinstance(forms, str):
        forms = [forms]
    summary: dict[str, Any] = {
        "decision": decision if isinstance(decision, str) and decision in _DECISIONS
        else None,
        "follow_up": outcome.get("follow_up") is True,
        "age": age if type(age) is int and 0 <= age <= MAX_AGE else None,
        "sex": _choice(facts.get("sex")),
        "nationality": _choice(facts.get("nationality")),
        "area": _choice(facts.get("area")),
        "forms": sorted({name for name in forms if _choice(name)})[:MAX_FORMS]
        if isinstance(forms, list) else [],
    }
    # Only screenings that carry a code have the key: most summaries stay as they were.
    code = _child_code(outcome.get("child_code"))
    if code is not None:
        summary["child_code"] = code
    return summary


def device_id_for(public_key: bytes) -> str:
    """A device's short, stable id: derived from its public key."""
    return sha256(b"fieldscreen device id\x00" + public_key).hex()[:16]


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    public_key: bytes
    name: str
    enrolled_at: str
    revoked_at: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class IncomingRecord(NamedTuple):
    """One record of a verified batch, ready to store.

    A named tuple rather than a dataclass: a batch's 500 records cross from the checking
    process to the importer, and tuples are what pickle moves fastest.
    """

    id: str
    version: int
    form_id: str
    form_version: str
    created_at: str
    updated_at: str
    demo: bool
    summary: dict[str, Any]
    # The record's exact line from the batch, as verified against the signed manifest; it
    # is stored as it came (encrypted), which also saves serialising it again.
    line: bytes


def seal_incoming(cipher: FieldCipher, records: tuple[IncomingRecord, ...] | list[IncomingRecord]
                  ) -> Sealed:
    """Each record's (summary, payload) sealed as the coordinator stores them.

    The payload is the record's verified line as it came; the summary is what lists,
    queues and statistics read. Both are bound to the record's row.
    """
    summary_context = FieldCipher.row_context(IMPORTED_TABLE, "summary",
                                              IMPORTED_SCHEMA_VERSION)
    payload_context = FieldCipher.row_context(IMPORTED_TABLE, "payload",
                                              IMPORTED_SCHEMA_VERSION)
    count = len(records)
    sealed = cipher.seal_many(
        [(orjson.dumps(record.summary), summary_context(record.id)) for record in records]
        + [(record.line, payload_context(record.id)) for record in records])
    return list(zip(sealed[:count], sealed[count:], strict=True))
