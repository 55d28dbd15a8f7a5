"""The closed referral loop: the coordinator refers a case to an enrolled partner, the
partner opens the package and answers, and the answers move the case in the queue."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest

from fieldscreen.errors import UserError
from fieldscreen.exchange.referral_files import read_partner_code
from fieldscreen.exchange.referral_package import AGE_EXTENSION
from fieldscreen.store.follow_up import FollowUpStatus
from fieldscreen.workflows.referrals import (
    answer_referral,
    describe_referral,
    import_update,
    open_package,
    withdraw_referral,
)
from tests.exchange_helpers import record_dict
from tests.unit.referrals.conftest import Loop, validate_fhir


def _answer(loop: Loop, referral_id: str, status: str, **options: str) -> bytes:
    written = answer_referral(loop.partner, referral_id, status, now=loop.world.clock(),
                              deliver=loop.deliver, **options)
    return written.data


def _import(loop: Loop, data: bytes, source: str = "update.age"):
    return import_update(loop.coordinator, data, source=source,
                         quarantine_dir=loop.world.quarantine_dir)


def _opened_bundle(loop: Loop, data: bytes) -> dict:
    """The Bundle inside a package, as a partner's own tools would read it."""
    envelope = json.loads(loop.partner.partner_key().open_sealed(data))
    return json.loads(base64.b64decode(envelope["content"]))["bundle"]


def test_refer_accept_complete_and_the_queue_shows_it(loop: Loop):
    record_id = loop.cases()[0]
    package = loop.refer(record_id)
    assert loop.coordinator.referrals.case(record_id).status is FollowUpStatus.REFERRED
    [sent] = loop.coordinator.referral_ledger.list()
    assert (sent.status, sent.record_id, sent.answered_at) == ("requested", record_id, None)

    opened, new = open_package(loop.partner, package.data)
    assert new and opened.referral_id == package.referral_id
    validate_fhir(opened.bundle)
    text = "\n".join(describe_referral(loop.partner.partner_inbox.get(package.referral_id)))
    assert "Example Child Protection Office North" in text and "immediate danger" in text

    accepted = _answer(loop, package.referral_id, "accepted")
    outcome = _import(loop, accepted)
    assert (outcome.status, outcome.case_status) == ("imported", "accepted")
    assert loop.coordinator.referrals.case(record_id).status is FollowUpStatus.ACCEPTED

    loop.world.clock.advance(3 * 86400)
    completed = _answer(loop, package.referral_id, "completed", note="Placed in a shelter.")
    assert _import(loop, completed).case_status == "delivered"
    case = loop.coordinator.referrals.case(record_id)
    assert case.status is FollowUpStatus.DELIVERED
    assert [status for status, _at in case.history] == ["new", "referred", "accepted",
                                                        "delivered"]
    assert "Placed in a shelter." in loop.coordinator.referrals.notes(record_id)[-1].text
    [done] = loop.coordinator.referral_ledger.list()
    assert done.status == "completed" and done.last_sequence == 2 and not done.overdue
    actions = [entry.action for entry in loop.coordinator.audit_entries()]
    assert actions.count("referral.update_imported") == 2
    assert "referral.sent" in actions
    assert loop.coordinator.verify_audit().holds
    assert loop.partner.verify_audit().holds
    # Every FHIR resource written on both sides is valid R4B.
    for written in loop.sent:
        if written.name.startswith("fieldscreen-referral-update"):
            envelope = json.loads(loop.world.identity.decrypt(written.data))
            validate_fhir(json.loads(base64.b64decode(envelope["content"]))["task"])
        else:
            validate_fhir(_opened_bundle(loop, written.data))


def test_a_declined_referral_sends_the_case_back_with_the_partners_reason(loop: Loop):
    record_id = loop.cases()[0]
    package = loop.refer(record_id)
    open_package(loop.partner, package.data)
    with pytest.raises(UserError, match="why"):
        _answer(loop, package.referral_id, "rejected")
    declined = _answer(loop, package.referral_id, "rejected", reason="No places left")
    assert _import(loop, declined).case_status == "contacted"
    assert loop.coordinator.referrals.case(record_id).status is FollowUpStatus.CONTACTED
    assert "No places left" in loop.coordinator.referrals.notes(record_id)[-1].text


def test_the_package_is_minimised_by_default_and_shares_only_what_is_chosen(loop: Loop):
    [first, second] = loop.cases()[:2]
    patient = next(entry["resource"] for entry in
                   _opened_bundle(loop, loop.refer(first).data)["entry"]
                   if entry["resource"]["resourceType"] == "Patient")
    assert set(patient) == {"resourceType", "id"}
    shared = next(entry["resource"] for entry in
                  _opened_bundle(loop, loop.refer(second, share=["age", "sex"]).data)["entry"]
                  if entry["resource"]["resourceType"] == "Patient")
    assert shared["gender"] == "female"
    assert shared["extension"][0]["url"] == AGE_EXTENSION
    assert "address" not in shared
    with pytest.raises(UserError, match="Only age, sex and area"):
        loop.refer(second, share=["nationality"])


def test_no_package_without_the_childs_referral_consent(loop: Loop):
    record = record_dict(0)
    record["outcome"] = dict(record["outcome"], consent_given=False,
                             no_consent_reason="Danger to life")
    batch = loop.world.seal_by_hand([record], sequence=2)
    assert loop.world.import_bytes(batch.data).status == "imported"
    before = len(loop.coordinator.audit_entries())
    with pytest.raises(UserError, match="consent"):
        loop.refer(record["id"])
    assert loop.sent == [] and loop.coordinator.referral_ledger.list() == []
    assert len(loop.coordinator.audit_entries()) == before
    assert loop.coordinator.referrals.case(record["id"]).status is FollowUpStatus.NEW


def test_a_case_that_does_not_exist_cannot_be_referred(loop: Loop):
    with pytest.raises(UserError, match="no follow-up case"):
        loop.refer("0b8e7a4e-3c1d-4b0e-9a53-3f1e7b7b4b21")
    assert loop.sent == []


def test_a_file_that_cannot_be_written_leaves_no_referral(loop: Loop):
    record_id = loop.cases()[0]

    def full_disk(_written: object) -> None:
        raise UserError("disk full")

    with pytest.raises(UserError, match="disk full"):
        from fieldscreen.workflows.referrals import refer_case

        refer_case(loop.coordinator, record_id=record_id, partner=loop.enrolled.name,
                   service_id="example-child-protection-north", services=loop.services,
                   now=loop.world.clock(), deliver=full_disk)
    assert loop.coordinator.referral_ledger.list() == []
    assert loop.coordinator.referrals.case(record_id).status is FollowUpStatus.NEW


def test_overdue_referrals_are_those_no_partner_answered(loop: Loop):
    urgent, answered = loop.cases()[:2]
    unanswered = loop.refer(urgent)
    package = loop.refer(answered)
    open_package(loop.partner, package.data)
    _import(loop, _answer(loop, package.referral_id, "in-progress"))
    assert not any(referral.overdue for referral in loop.coordinator.referral_ledger.list())
    loop.world.clock.advance(25 * 3600)  # past the urgent deadline (24 hours)
    overdue = [r.referral_id for r in loop.coordinator.referral_ledger.list() if r.overdue]
    assert overdue == [unanswered.referral_id]


def test_a_withdrawal_erases_the_childs_details_and_stops_further_answers(loop: Loop):
    record_id = loop.cases()[0]
    package = loop.refer(record_id, share=["age", "sex", "area"])
    open_package(loop.partner, package.data)
    late = _answer(loop, package.referral_id, "accepted")  # crosses the withdrawal
    withdrawal = withdraw_referral(loop.coordinator, package.referral_id,
                                   now=loop.world.clock(), deliver=loop.deliver)
    validate_fhir(_opened_bundle(loop, withdrawal.data))
    opened, _new = open_package(loop.partner, withdrawal.data)
    assert opened.kind == "withdrawal"
    held = loop.partner.partner_inbox.get(package.referral_id)
    assert held.status == "withdrawn" and held.bundle is None
    with pytest.raises(UserError, match="withdrew consent"):
        _answer(loop, package.referral_id, "completed")
    outcome = _import(loop, late)
    assert (outcome.status, outcome.code) == ("quarantined", "withdrawn")
    assert loop.coordinator.referrals.case(record_id).status is FollowUpStatus.REFERRED
    assert "withdrew consent" in loop.coordinator.referrals.notes(record_id)[-1].text


def test_partner_codes_catch_typing_mistakes_and_device_codes():
    from fieldscreen.exchange.enrolment import enrolment_code
    from fieldscreen.exchange.referral_files import partner_code
    from fieldscreen.store.crypto import SigningKey

    key = SigningKey.generate().public
    code = partner_code(key)
    assert read_partner_code(code.lower().replace("-", " ")) == key
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    for bad in (typo, enrolment_code(key), "FSP1-" + "A" * 500, ""):
        with pytest.raises(UserError):
            read_partner_code(bad)


@pytest.mark.skipif(shutil.which("age") is None, reason="the stock age tool is installed "
                    "by .ci/run")
def test_the_stock_age_tool_opens_a_package_with_the_partners_identity(loop: Loop, tmp_path):
    package = loop.refer()
    sealed = tmp_path / package.name
    sealed.write_bytes(package.data)
    identity = tmp_path / "partner-key"
    identity.write_bytes(loop.partner.partner_key().openssh_private_key())
    identity.chmod(0o600)
    opened = subprocess.run(["age", "-d", "-i", str(identity), str(sealed)],
                            capture_output=True, check=True, timeout=60).stdout
    envelope = json.loads(opened)
    assert envelope["format"] == "fieldscreen-referral/1"
    bundle = json.loads(base64.b64decode(envelope["content"]))["bundle"]
    validate_fhir(bundle)
    assert bundle["id"] == package.referral_id


def test_a_childs_name_in_the_notes_reaches_no_file_in_clear(loop: Loop):
    from tests.store_helpers import files_containing

    name = "Oksana Zhyvotovska"
    record_id = loop.cases()[0]
    package = loop.refer(record_id, note=f"{name} waits at the station")
    open_package(loop.partner, package.data)
    _import(loop, _answer(loop, package.referral_id, "rejected", reason=f"{name} left",
                          note=f"We met {name}"))
    assert name in loop.coordinator.referrals.notes(record_id)[-1].text  # kept, encrypted
    for profile in (loop.coordinator, loop.partner):
        profile.lock()
    assert files_containing(loop.world.root, [name]) == []
    assert all(name.encode() not in written.data for written in loop.sent)
