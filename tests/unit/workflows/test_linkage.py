"""The linkage workflow: planted screenings of one child are listed, linked and unlinked."""

from __future__ import annotations

import dataclasses

import pytest

from fieldscreen.demo.duplicates import planted_duplicates
from fieldscreen.errors import UserError
from fieldscreen.workflows.linkage import LinkageWorkflow


def rows_with_codes(demo):
    """The demo's rows with each screening's child code in its summary, as a field laptop
    that collects the code would send it (the keyed hashes only)."""
    rows = []
    for (record_id, created, flag, summary), code in zip(demo.rows, demo.codes, strict=True):
        summary = dict(summary)
        if code is not None:
            summary["child_code"] = dataclasses.asdict(code)
        rows.append((record_id, created, flag, summary))
    return rows


def test_two_planted_screenings_of_one_child_are_linked_and_unlinked_with_audit(world):
    demo = planted_duplicates(3000, seed=11)
    rows = rows_with_codes(demo)
    workflow = LinkageWorkflow(world.coordinator, rows)
    pairs = workflow.pairs()
    ids = [row[0] for row in rows]
    planted = {(ids[a], ids[b]) for a, b in demo.pairs}
    listed = {tuple(sorted((p.first, p.second))) for p in pairs}
    true_listed = {tuple(sorted(pair)) for pair in planted} & listed
    assert len(true_listed) >= 0.9 * len(planted)
    assert len(true_listed) >= 0.95 * len(listed)

    pair = next(p for p in pairs if tuple(sorted((p.first, p.second))) in true_listed)
    assert 0.5 <= pair.score <= 1.0
    assert {"sex", "nationality"} <= set(pair.reasons)
    assert not pair.linked
    workflow.link(pair.first, pair.second)
    linked = tuple(sorted((pair.first, pair.second)))
    assert workflow.links() == {linked}
    # A second workflow (another session) sees the link: it is stored in the profile.
    again = LinkageWorkflow(world.coordinator, rows)
    assert any(p.linked for p in again.pairs()
               if tuple(sorted((p.first, p.second))) == linked)
    workflow.link(pair.second, pair.first)  # linking twice adds no second entry

    workflow.unlink(pair.first, pair.second)
    assert workflow.links() == set()
    entries = [e for e in world.coordinator.audit_entries()
               if e.action in ("linkage.linked", "linkage.unlinked")]
    assert [e.action for e in entries] == ["linkage.linked", "linkage.unlinked"]
    assert {e.record_id for e in entries} == {linked[0]}
    assert entries[0].details["other"] == linked[1]
    assert world.coordinator.verify_audit().first_broken is None


def test_a_screening_that_is_not_imported_cannot_be_linked(world):
    demo = planted_duplicates(200, seed=3)
    workflow = LinkageWorkflow(world.coordinator, rows_with_codes(demo))
    with pytest.raises(UserError, match="not among the imported"):
        workflow.link(demo.rows[0][0], "no-such-screening")
    with pytest.raises(UserError):
        workflow.link(demo.rows[0][0], demo.rows[0][0])
    assert workflow.links() == set()
    assert not [e for e in world.coordinator.audit_entries() if e.action.startswith("linkage")]


def test_a_damaged_child_code_links_nothing(world):
    demo = planted_duplicates(200, seed=3)
    rows = rows_with_codes(demo)
    hostile = [(i, c, f, {**s, "child_code": {"full": "<script>", "given": 7}})
               for i, c, f, s in rows]
    workflow = LinkageWorkflow(world.coordinator, hostile)
    assert all("code" not in p.reasons for p in workflow.pairs())


def test_the_real_inbox_is_read_when_no_rows_are_given(world):
    world.import_bytes(world.sealed_batch(3).file)
    workflow = LinkageWorkflow(world.coordinator)
    assert isinstance(workflow.pairs(), list)


def test_a_link_whose_audit_entry_fails_is_not_kept(world, monkeypatch):
    demo = planted_duplicates(300, seed=5)
    rows = rows_with_codes(demo)
    workflow = LinkageWorkflow(world.coordinator, rows)
    first, second = rows[0][0], rows[1][0]

    def broken(*_args, **_kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(world.coordinator._audit, "append", broken)
    with pytest.raises(OSError):
        workflow.link(first, second)
    monkeypatch.undo()
    assert workflow.links() == set()
