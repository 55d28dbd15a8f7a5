"""Scoring pairs without the optional `linkage` extra says what to install, not a traceback."""

from __future__ import annotations

import sys

import pytest

from fieldscreen.errors import UserError
from fieldscreen.reporting.facts import build_facts
from fieldscreen.reporting.linkage import candidate_pairs

ROWS = [(f"id-{n}", "2026-03-01T09:00:00Z", False,
         {"age": 9, "sex": "girl", "nationality": "a", "area": "north", "decision": "urgent"})
        for n in range(4)]


def test_without_the_linkage_extra_the_coordinator_is_told_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "recordlinkage", None)  # as if not installed
    with pytest.raises(UserError) as refused:
        candidate_pairs(build_facts(ROWS))
    assert "linkage" in refused.value.hint and "pip install" in refused.value.hint
