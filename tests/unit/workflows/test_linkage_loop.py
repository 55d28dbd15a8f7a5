"""One child screened on two laptops, linked at the coordinator, followed as one case.

The whole loop through the workflow layer, with real packs, batches and an import: the
coordinator's pack brings the linkage key sealed to both laptops; each laptop makes the
child code from the letters the child says (spelt differently: accents and case, which
the code folds) and sees the child a year apart in age; both batches are imported; the
coordinator's linkage workflow lists the two screenings as a candidate pair with the code
among the agreeing fields; linking them leaves one case in the referral queue that shows
both screenings' reasons, and unlinking gives each its own case back.
"""

from __future__ import annotations

import json

import pytest

from fieldscreen.demo.duplicates import planted_duplicates
from fieldscreen.exchange.pack import SyncSettings, build_pack, install_pack, linkage_share
from fieldscreen.exchange.sync import seal_pending
from fieldscreen.store.follow_up import FollowUpStatus
from fieldscreen.workflows.linkage import LinkageWorkflow
from fieldscreen.workflows.screening import ScreeningWorkflow, load_checklist
from tests.exchange_helpers import SHIPPED_FORM, SHIPPED_SERVICES, make_field, make_world
from tests.store_helpers import ANSWERS
from tests.unit.workflows.test_linkage import rows_with_codes


@pytest.fixture
def world(tmp_path):
    built = make_world(tmp_path)
    second = make_field(tmp_path / "field2" / "data", built.pack_raw, clock=built.clock,
                        pack=built.pack)
    built.coordinator.devices.enroll(second.device_key().public.raw, "laptop 2")
    built.second = second
    yield built
    second.lock()
    built.close()


def _screen(world, laptop, shipped_form, *, age: int, area: str, given: str,
            family: str) -> str:
    flow = ScreeningWorkflow(world.clock)
    flow.form, flow.services, _audio = load_checklist(laptop, (shipped_form, None))
    flow.opened(laptop)
    session = flow.start_new()
    answers = json.loads((ANSWERS / "referral.json").read_text(encoding="utf-8"))
    answers.update(age_years=age, area=area)
    session.answer_all(answers)
    assert flow.set_child_code(given=given, family=family, birth_year=2011, sex="female")
    record_id = flow.record_id
    flow.final_job(session.outcome())()
    flow.final_saved()
    return record_id


def _deliver(world, laptop) -> None:
    from fieldscreen.exchange.pack import read_pack

    seal_pending(laptop, read_pack(laptop.installed_pack()), now=world.clock)
    for batch in laptop.outbox.undelivered():
        assert world.import_bytes(batch.file).status == "imported"


def test_two_screenings_of_one_child_on_two_laptops_become_one_case(world, shipped_form):
    pack = build_pack(
        signing_key=world.coordinator.coordinator_signing_key(), recipient=world.recipient,
        coordinator_name="Test coordinator", form_paths=[SHIPPED_FORM],
        services_path=SHIPPED_SERVICES, sync=SyncSettings(str(world.relay)),
        retention_days=30, demo=False, now=world.clock(), sequence=2,
        linkage=linkage_share(world.coordinator))
    assert install_pack(world.field, pack).linkage
    assert install_pack(world.second, pack).linkage

    first = _screen(world, world.field, shipped_form, age=14, area="north_district",
                    given="Amina", family="Yusuf")
    world.clock.advance(3 * 86400)
    second = _screen(world, world.second, shipped_form, age=15, area="north_district",
                     given="AMÍNA", family="yusuf")
    # Another child met the same week (other letters): not the pair to link.
    world.clock.advance(3600)
    other = _screen(world, world.second, shipped_form, age=9, area="north_district",
                    given="Oleksandr", family="Koval")
    _deliver(world, world.field)
    _deliver(world, world.second)
    queue = world.coordinator.referrals
    assert {case.record_id for case in queue.cases()} == {first, second, other}

    # The scorer learns its weights from the pairs themselves (unsupervised), so it needs
    # a realistic number of screenings around the two: the demo's, with their codes.
    background = rows_with_codes(planted_duplicates(3000, seed=11))
    rows = list(world.coordinator.inbox.summaries()) + background
    linkage = LinkageWorkflow(world.coordinator, rows)
    pair = next(p for p in linkage.pairs() if {p.first, p.second} == {first, second})
    assert "code" in pair.reasons
    assert not any({p.first, p.second} == {first, other} for p in linkage.pairs())
    linkage.link(pair.first, pair.second)

    cases = {case.record_id: case for case in queue.cases()}
    assert set(cases) == {first, other}  # one case for the child, the earlier screening's
    shared = cases[first]
    assert [record_id for record_id, _summary in shared.linked] == [second]
    # Both screenings' reasons are visible on the one case.
    assert shared.facts["age"] == 14 and shared.facts["decision"] == "referral"
    assert dict(shared.linked)[second]["age"] == 15
    assert dict(shared.linked)[second]["forms"] == ["labour"]
    moved = queue.case(second)
    assert moved.shared_with == first and moved.status is FollowUpStatus.CLOSED
    assert queue.page().total == 2
    linked_entry = [e for e in world.coordinator.audit_entries()
                    if e.action == "linkage.linked"][-1]
    assert linked_entry.details["case"] == first

    # A second session sees the same: links and the shared case are stored.
    again = LinkageWorkflow(world.coordinator, rows)
    assert any(p.linked for p in again.pairs() if {p.first, p.second} == {first, second})

    again.unlink(second, first)
    cases = {case.record_id: case for case in queue.cases()}
    assert set(cases) == {first, second, other}
    assert cases[first].linked == () and cases[second].shared_with is None
    assert cases[second].status is FollowUpStatus.NEW
    assert queue.page().total == 3
