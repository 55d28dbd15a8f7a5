"""The child code on the field laptop: letters the child says, hashed with the key, dropped.

The code links two screenings of one child without a name (decision 54). Only a laptop
whose pack brought the linkage key can make one; the letters are used once and never
kept: not in a draft, not in the final record, not in a batch, not in any file of the
profile folder, not in a log. What reaches the coordinator is the three keyed hashes.
"""

from __future__ import annotations

import json
import logging

import pytest

from fieldscreen.errors import UserError
from fieldscreen.exchange.pack import install_pack, linkage_share, read_pack
from fieldscreen.exchange.sync import seal_pending
from fieldscreen.reporting.linkage import child_code
from fieldscreen.store.incoming import summary_from_outcome
from fieldscreen.workflows.screening import ScreeningWorkflow, load_checklist
from tests.store_helpers import ANSWERS

GIVEN, FAMILY = "Zorblaxine", "Quentworthy"  # markers: no form or key contains them


def _linked_pack(world, sequence: int = 2) -> bytes:
    from fieldscreen.exchange.pack import SyncSettings, build_pack
    from tests.exchange_helpers import SHIPPED_FORM, SHIPPED_SERVICES

    return build_pack(
        signing_key=world.coordinator.coordinator_signing_key(),
        recipient=world.recipient, coordinator_name="Test coordinator",
        form_paths=[SHIPPED_FORM], services_path=SHIPPED_SERVICES,
        sync=SyncSettings(str(world.relay)), retention_days=30, demo=False,
        now=world.clock(), sequence=sequence, linkage=linkage_share(world.coordinator))


def _workflow(world, shipped_form) -> ScreeningWorkflow:
    flow = ScreeningWorkflow(world.clock)
    flow.form, flow.services, _audio = load_checklist(world.field, (shipped_form, None))
    flow.opened(world.field)
    return flow


def _answers(name: str = "referral") -> dict:
    return json.loads((ANSWERS / f"{name}.json").read_text(encoding="utf-8"))


def test_without_the_key_no_code_can_be_made(world, shipped_form):
    flow = _workflow(world, shipped_form)
    assert not flow.child_code_available()
    flow.start_new()
    with pytest.raises(UserError) as refusal:
        flow.set_child_code(given=GIVEN, family=FAMILY, birth_year=2012, sex="female")
    assert GIVEN not in refusal.value.message
    assert flow.child_code is None


def test_the_final_outcome_carries_the_keyed_hashes_and_the_coordinator_keeps_them(
        world, shipped_form):
    install_pack(world.field, _linked_pack(world))
    key = world.coordinator.coordinator_linkage_key()
    flow = _workflow(world, shipped_form)
    assert flow.child_code_available()
    with pytest.raises(UserError):
        flow.set_child_code(given=GIVEN, family=FAMILY, birth_year=2012, sex="female")
    session = flow.start_new()
    session.answer_all(_answers())
    with pytest.raises(UserError):
        flow.set_child_code(given=GIVEN, family=FAMILY, birth_year=1066, sex="female")
    assert flow.set_child_code(given=GIVEN, family=FAMILY, birth_year=2012, sex="female")
    record_id = flow.record_id
    flow.final_job(session.outcome())()
    flow.final_saved()
    assert flow.child_code is None

    stored = world.field.records.get(record_id)
    expected = child_code(key, given="zo", family="qu", birth_year=2012, sex="female")
    assert stored.outcome["child_code"] == {"full": expected.full, "given": expected.given,
                                            "family": expected.family}
    # The coordinator made the same code from the same letters: the key arrived intact.
    seal_pending(world.field, read_pack(world.field.installed_pack()), now=world.clock)
    batch = world.field.outbox.undelivered()[0]
    assert world.import_bytes(batch.file).status == "imported"
    summaries = {row[0]: row[3] for row in world.coordinator.inbox.summaries()}
    assert summaries[record_id]["child_code"]["full"] == expected.full


def test_too_little_gives_no_code_and_a_resumed_draft_asks_again(world, shipped_form):
    install_pack(world.field, _linked_pack(world))
    flow = _workflow(world, shipped_form)
    session = flow.start_new()
    assert not flow.set_child_code(given="", family=FAMILY, birth_year=2012, sex=None)
    assert flow.child_code is None
    assert flow.set_child_code(given=GIVEN, family=FAMILY, birth_year=2012, sex=None)
    session.answer_all(_answers())
    record_id = flow.record_id
    flow.draft_job()()
    flow.draft_saved()
    flow.stop()
    record, form = flow.resume_job(record_id, shipped_form)()
    flow.resumed(record, form)
    assert flow.child_code is None  # never in a draft, so not brought back either


@pytest.mark.parametrize("value", [
    None, "abc", {"full": "0" * 64}, {"full": "0" * 64, "given": "0" * 64, "family": 5},
    {"full": "0" * 64, "given": "0" * 64, "family": "G" * 64},
    {"full": "0" * 64, "given": "0" * 64, "family": "0" * 64, "name": "x"},
    {"full": "0" * 65, "given": "0" * 64, "family": "0" * 64},
])
def test_a_code_that_is_not_three_hashes_is_not_kept(value):
    assert "child_code" not in summary_from_outcome({"child_code": value})


def test_a_well_formed_code_is_kept():
    code = {"full": "a" * 64, "given": "b" * 64, "family": "c" * 64}
    assert summary_from_outcome({"child_code": code})["child_code"] == code


def test_the_letters_reach_no_draft_record_batch_file_or_log(world, shipped_form, caplog,
                                                              capsys):
    caplog.set_level(logging.DEBUG)
    install_pack(world.field, _linked_pack(world))
    flow = _workflow(world, shipped_form)
    session = flow.start_new()
    session.answer_all(_answers())
    assert flow.set_child_code(given=GIVEN, family=FAMILY, birth_year=2012, sex="female")
    record_id = flow.record_id
    flow.draft_job()()  # a draft saved while the code is held
    flow.draft_saved()
    draft = world.field.records.get(record_id)
    flow.final_job(session.outcome())()
    flow.final_saved()
    final = world.field.records.get(record_id)
    seal_pending(world.field, read_pack(world.field.installed_pack()), now=world.clock)
    batch = world.field.outbox.undelivered()[0]
    world.import_bytes(batch.file)
    (world.relay / "batch.age").write_bytes(batch.file)

    for marker in (GIVEN, FAMILY):
        for text in (json.dumps(draft.answers), json.dumps(final.answers),
                     json.dumps(final.outcome), caplog.text, "".join(capsys.readouterr())):
            assert marker.casefold() not in text.casefold()
        needles = [form.encode(encoding) for form in (marker, marker.casefold(),
                                                       marker.upper())
                   for encoding in ("utf-8", "utf-16-le")]
        files = [path for folder in (world.root,) for path in folder.rglob("*")
                 if path.is_file()]
        assert any(path.name.endswith(".sqlite") or "data" in path.parts for path in files)
        for path in files:
            data = path.read_bytes()
            assert not any(needle in data for needle in needles), path
    # The decrypted records hold the hashes, never the letters as letters.
    for record in (draft, final):
        assert '"zo"' not in json.dumps(record.outcome or {})
        assert "zo\x1fqu" not in json.dumps(record.outcome or {})
    assert set(final.outcome["child_code"]) == {"full", "given", "family"}
    assert "child_code" not in json.dumps(draft.answers)
