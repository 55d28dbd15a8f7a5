"""`fieldscreen coordinator check`: what in the coordinator's store cannot be read.

The readers (statistics, exports, the referral queue) count an unreadable stored value as
"not known" and carry on; this check says which records hold one, so a coordinator can look
at them instead of wondering why a count is off. It also runs SQLite's integrity check of
the whole file (the performance work adds its own checks here, to keep one verb for both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fieldscreen.reporting.facts import stored_date

if TYPE_CHECKING:
    from fieldscreen.store.profile import UnlockedProfile


@dataclass(slots=True)
class StoreCheck:
    """The result: the file's integrity, and (record id, field) pairs that do not read."""

    records: int = 0
    integrity_ok: bool = True
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.integrity_ok and not self.unreadable

    def to_json(self) -> dict[str, object]:
        return {"records": self.records, "integrity_ok": self.integrity_ok,
                "unreadable": [{"record": record_id, "field": name}
                               for record_id, name in self.unreadable]}


def check_coordinator_store(profile: UnlockedProfile,
                            progress: Callable[[], None] | None = None) -> StoreCheck:
    """Read every imported record's stored values as the readers do; check the file.

    `progress` is called now and then during the full check of the file (minutes on a
    large profile), for a busy indicator.
    """
    result = StoreCheck()
    for record_id, created_at, _demo, summary in profile.inbox.summaries():
        result.records += 1
        if stored_date(created_at) is None:
            result.unreadable.append((record_id, "created_at"))
        age = summary.get("age")
        if age is not None and (type(age) is not int or not 0 <= age <= 130):
            result.unreadable.append((record_id, "age"))
    result.integrity_ok = profile.integrity_check(progress)
    return result
