"""The coordinator's linkage workflow, without Qt: candidate pairs, and links a person decides.

`LinkageWorkflow` scores the imported screenings once (`reporting.linkage`), lists the
candidate pairs with their score and the fields that agree, and links or unlinks two
screenings on the coordinator's word. Links are kept sealed in the profile (a secret,
like the keys) and every change is written with its audit entry in one transaction. A
screening's child code, when the deployment collects one, is read from its summary
(`child_code`: the keyed hashes, never the letters). The console's pair list is a view
over this class.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fieldscreen.errors import UserError
from fieldscreen.i18n import _
from fieldscreen.reporting.facts import build_facts
from fieldscreen.reporting.linkage import ChildCode, candidate_pairs
from fieldscreen.store.profile import SCREENING_LINKS

if TYPE_CHECKING:
    from fieldscreen.store.profile import UnlockedProfile

Row = tuple[str, str, bool, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class CandidatePair:
    """Two screenings that may be one child: their ids, the score, the fields that agree."""

    first: str
    second: str
    score: float
    reasons: tuple[str, ...]
    linked: bool


def _code(summary: dict[str, Any]) -> ChildCode | None:
    found = summary.get("child_code")
    if not isinstance(found, dict):
        return None
    parts = [found.get(name) for name in ("full", "given", "family")]
    if not all(isinstance(part, str) and len(part) == 64 for part in parts):
        return None  # a damaged or hostile value links nothing
    return ChildCode(*parts)  # type: ignore[arg-type]


def _key(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first < second else (second, first)


class LinkageWorkflow:
    """Candidate pairs over a coordinator's imported screenings, and the links decided."""

    def __init__(self, profile: UnlockedProfile, rows: Iterable[Row] | None = None) -> None:
        self.profile = profile
        chosen = list(rows if rows is not None else profile.inbox.summaries())
        self._ids = [row[0] for row in chosen]
        facts = build_facts(chosen)
        codes = [_code(row[3]) for row in chosen]
        scored = candidate_pairs(
            facts, np.array(codes, dtype=object) if any(codes) else None)
        self._pairs = [(self._ids[int(scored.left[n])], self._ids[int(scored.right[n])],
                        float(scored.score[n]), scored.reasons(n))
                       for n in range(len(scored))]

    def links(self) -> set[tuple[str, str]]:
        """The pairs of screening ids the coordinator linked (first id < second id)."""
        try:
            stored = json.loads(self.profile.secret(SCREENING_LINKS).decode("utf-8"))
        except KeyError:
            return set()
        return {(first, second) for first, second in stored}

    def pairs(self) -> list[CandidatePair]:
        """The candidate pairs, best score first, each marked when already linked."""
        linked = self.links()
        return [CandidatePair(first, second, score, reasons,
                              _key(first, second) in linked)
                for first, second, score, reasons in self._pairs]

    def _known(self, first: str, second: str) -> tuple[str, str]:
        if first == second or first not in self._ids or second not in self._ids:
            raise UserError(_("These two screenings cannot be linked: one of them is not "
                              "among the imported screenings."),
                            hint=_("Refresh the list of pairs and choose again."))
        return _key(first, second)

    def link(self, first: str, second: str) -> None:
        """Record that two screenings are one child (audited)."""
        pair = self._known(first, second)
        links = self.links()
        if pair in links:
            return
        self._store(links | {pair}, pair, linked=True)

    def unlink(self, first: str, second: str) -> None:
        """Undo a link (audited); unlinking a pair that is not linked changes nothing."""
        pair = self._known(first, second)
        links = self.links()
        if pair not in links:
            return
        self._store(links - {pair}, pair, linked=False)

    def _store(self, links: set[tuple[str, str]], pair: tuple[str, str], *,
               linked: bool) -> None:
        score = next((round(score, 4) for first, second, score, _r in self._pairs
                      if _key(first, second) == pair), None)
        payload = json.dumps(sorted(links)).encode("utf-8")
        self.profile.change_links(payload, linked=linked, first=pair[0], second=pair[1],
                                  details={"score": score})

