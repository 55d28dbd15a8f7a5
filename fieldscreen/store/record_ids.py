"""Record ids: time-ordered UUIDs (version 7, RFC 9562) for every new record.

A random (version 4) id lands anywhere in the coordinator's primary-key index, so each
imported batch dirtied pages all over it and every COMMIT's fsync carried more of them
(decision 29). A version 7 id starts with the creation time in milliseconds: a batch's
records sit next to each other at the growing end of the index. The time it carries is no
more than the store already keeps in clear beside it (`created_at`, to the second), and the
74 random bits keep ids unguessable. Records made before keep their version 4 ids.
"""

from __future__ import annotations

import datetime as dt
import secrets


def new_record_id(now: dt.datetime) -> str:
    """A lower-case version 7 UUID for a record created at `now` (an aware datetime)."""
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    random_a = secrets.randbits(12)
    random_b = secrets.randbits(62)
    value = (millis << 80) | (0x7 << 76) | (random_a << 64) | (0b10 << 62) | random_b
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
