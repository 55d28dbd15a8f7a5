"""Linked screenings share one follow-up case, and unlinking gives each case back as it was.

The coordinator links screenings it believes are one child (workflows.linkage). The
referral queue must then show one case for the child (the earliest screening's, as urgent
as the most urgent of them) with every screening's reasons, and an unlink must restore the
other case with the status it had: a mistaken link must not lose a child's follow-up.
"""

from __future__ import annotations

from fieldscreen.exchange.pack import read_pack
from fieldscreen.exchange.sync import seal_pending
from fieldscreen.store.follow_up import FollowUpStatus
from fieldscreen.workflows.linkage import LinkageWorkflow
from tests.exchange_helpers import record_dict, screenings, shipped_form


def _outcome(decision: str) -> tuple[dict, dict]:
    for answers, outcome in screenings():
        if outcome["final_decision"] == decision:
            return answers, outcome
    raise AssertionError(decision)


def _import(world, decisions: list[str]) -> list[str]:
    """One screening per decision, a day apart, imported; their ids in that order."""
    form = shipped_form()
    ids = []
    for decision in decisions:
        answers, outcome = _outcome(decision)
        ids.append(world.field.records.save_final(form.id, form.version, answers,
                                                  outcome).id)
        world.clock.advance(86400)
    seal_pending(world.field, read_pack(world.field.installed_pack()), now=world.clock)
    for batch in world.field.outbox.undelivered():
        assert world.import_bytes(batch.file).status == "imported"
    return ids


def _open(world) -> dict:
    return {case.record_id: case for case in world.coordinator.referrals.cases()}


def test_the_earlier_case_carries_the_later_and_takes_its_urgency(world):
    first, second = _import(world, ["referral", "urgent"])
    linkage = LinkageWorkflow(world.coordinator)
    linkage.link(second, first)
    cases = _open(world)
    assert list(cases) == [first]
    assert cases[first].priority == "urgent"
    assert [record_id for record_id, _summary in cases[first].linked] == [second]
    assert dict(cases[first].linked)[second]["decision"] == "urgent"
    linkage.unlink(first, second)
    cases = _open(world)
    assert set(cases) == {first, second}
    assert cases[first].priority == "referral" and cases[second].priority == "urgent"


def test_a_case_worked_on_comes_back_with_its_status(world):
    first, second = _import(world, ["referral", "referral"])
    queue = world.coordinator.referrals
    queue.change_status(second, FollowUpStatus.CONTACTED)
    linkage = LinkageWorkflow(world.coordinator)
    linkage.link(first, second)
    assert queue.case(second).status is FollowUpStatus.CLOSED
    assert queue.case(second).shared_with == first
    linkage.unlink(first, second)
    assert queue.case(second).status is FollowUpStatus.CONTACTED
    assert queue.case(second).shared_with is None
    assert queue.page().total == 2


def test_a_screening_without_a_case_shows_its_reasons_on_the_others(world):
    first, second = _import(world, ["information", "referral"])
    linkage = LinkageWorkflow(world.coordinator)
    linkage.link(first, second)
    cases = _open(world)
    assert list(cases) == [second]
    assert dict(cases[second].linked)[first]["decision"] == "information"
    linkage.unlink(second, first)
    assert _open(world)[second].linked == ()


def test_two_screenings_without_a_case_link_and_change_no_case(world):
    first, second, third = _import(world, ["information", "information", "referral"])
    linkage = LinkageWorkflow(world.coordinator)
    linkage.link(first, second)
    assert linkage.links() == {tuple(sorted((first, second)))}
    assert list(_open(world)) == [third] and _open(world)[third].linked == ()


def test_a_chain_of_links_is_one_case_and_unlinks_a_step_at_a_time(world):
    first, second, third = _import(world, ["referral", "referral", "referral"])
    linkage = LinkageWorkflow(world.coordinator)
    linkage.link(second, third)
    linkage.link(first, second)
    cases = _open(world)
    assert list(cases) == [first]
    assert {record_id for record_id, _s in cases[first].linked} == {second, third}
    linkage.unlink(second, third)
    cases = _open(world)
    assert set(cases) == {first, third}
    assert [record_id for record_id, _s in cases[first].linked] == [second]
    entries = [e for e in world.coordinator.audit_entries()
               if e.action in ("linkage.linked", "linkage.unlinked")]
    assert [e.details.get("case") for e in entries] == [second, first, first]
    assert world.coordinator.verify_audit().first_broken is None


def test_a_shared_screening_made_urgent_by_a_new_version_makes_its_carrier_urgent(world):
    first, second = _import(world, ["referral", "referral"])
    linkage = LinkageWorkflow(world.coordinator)
    linkage.link(first, second)
    # A newer version of the later screening arrives: now urgent.
    answers, outcome = _outcome("urgent")
    record = record_dict(record_id=second, answers=answers, outcome=outcome)
    record["version"] = 2
    sealed = world.seal_by_hand([record], sequence=2)
    assert world.import_bytes(sealed.data).status == "imported"
    cases = _open(world)
    assert list(cases) == [first]
    assert cases[first].priority == "urgent"
    assert world.coordinator.referrals.page().cases[0].priority == "urgent"
