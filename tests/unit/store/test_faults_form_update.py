"""A form updated (a new deployment pack) while drafts of the old version exist.

What the product does: a draft is resumed with the exact form version it was started
with, never silently moved to the new one (which may have renamed or dropped questions it
answers). The profile keeps the packs it replaced while drafts exist; a draft whose version
this laptop no longer holds is kept, and resuming it is a clear message. New screenings use
the new version; records of both versions sync and import side by side.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldscreen.cli import main
from fieldscreen.engine.answers import AnswerError
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.errors import UserError
from fieldscreen.exchange.pack import read_pack
from fieldscreen.exchange.sync import form_for_draft, installed_pack, sync
from fieldscreen.exchange.transports import transport_for
from fieldscreen.store.profile import ProfileStore
from tests.exchange_helpers import (
    ANSWERS,
    PASSPHRASE,
    PROFILE,
    SHIPPED_FORM,
    make_pack,
    shipped_form,
)

# The shipped form's own version: every change to the checklist bumps it.
OLD = shipped_form().version
NEW = "2027.1.0"
RENAMED = ("a_night_work", "a_night_shift")


def _answers(name: str = "urgent.json") -> dict:
    return json.loads((ANSWERS / name).read_text(encoding="utf-8"))


def _partial() -> dict:
    """The first answers of a screening stopped half-way, including the renamed question."""
    answers = _answers()
    keys = list(answers)
    partial = {key: answers[key] for key in keys[: keys.index(RENAMED[0]) + 1]}
    assert RENAMED[0] in partial
    return partial


def _new_version(tmp_path, version: str = NEW) -> Path:
    """The shipped form as version `version`, with one question renamed throughout."""
    text = SHIPPED_FORM.read_text(encoding="utf-8")
    assert f'version: "{OLD}"' in text and RENAMED[0] in text
    path = tmp_path / f"child-screening-{version}.yaml"
    path.write_text(text.replace(f'version: "{OLD}"', f'version: "{version}"').replace(
        *RENAMED), encoding="utf-8")
    return path


def _update_pack_with_the_cli(world, tmp_path, pack_raw: bytes) -> None:
    """`fieldscreen profile update-pack`, as a worker does it."""
    pack_file = tmp_path / "update.fieldscreen-pack"
    pack_file.write_bytes(pack_raw)
    secret = tmp_path / "passphrase.txt"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    world.field.lock()
    code = main(["--basedir", str(world.root / "field"), "profile", "update-pack",
                 str(pack_file), "--passphrase-file", str(secret)])
    assert code == 0
    world.field = ProfileStore(world.root / "field" / "data").open(PROFILE).unlock(PASSPHRASE)


def test_drafts_resume_with_their_own_version_after_a_form_update(world, tmp_path, capsys):
    form = shipped_form()
    drafts = [world.field.records.save_draft(form.id, form.version, _partial()).id
              for _n in range(2)]
    world.save(1)
    world.clock.advance(86400)
    new_pack = make_pack(world.coordinator, relay=world.relay, clock=world.clock,
                         form_paths=[_new_version(tmp_path)])

    _update_pack_with_the_cli(world, tmp_path, new_pack)
    capsys.readouterr()

    field = world.field
    assert installed_pack(field).form().version == NEW
    # Nothing of the drafts was lost or changed.
    for record_id in drafts:
        draft = field.records.get(record_id)
        assert (draft.summary.status.value, draft.summary.form_version) == ("draft", OLD)
        assert draft.answers == _partial()
    # Why a draft must not move to the new version: it answers a question that is gone.
    with pytest.raises(AnswerError):
        ScreeningSession(installed_pack(field).form()).answer_all(_partial())

    # Resumed with its own version, finished and saved: still that version.
    for record_id in drafts:
        summary = field.records.get(record_id).summary
        old_form = form_for_draft(field, summary.form_id, summary.form_version)
        assert old_form.version == OLD
        session = ScreeningSession(old_form, clock=world.clock)
        session.answer_all(field.records.get(record_id).answers)
        session.answer_all(_answers())
        field.records.save_final(old_form.id, old_form.version, session.answers_json(),
                                 session.outcome().to_json(), record_id=record_id)
    # A new screening uses the new version.
    new_form = installed_pack(field).form()
    session = ScreeningSession(new_form, clock=world.clock)
    answers = _answers()
    answers[RENAMED[1]] = answers.pop(RENAMED[0])
    session.answer_all(answers)
    field.records.save_final(new_form.id, new_form.version, session.answers_json(),
                             session.outcome().to_json())

    # Both versions travel in the same sync and import side by side.
    report = sync(field, now=world.clock)
    assert report.error is None and report.sealed_records == 4
    imported = world.importer().run([str(world.relay)], transport_for)
    assert imported.errors == [] and imported.quarantined == 0
    versions = sorted(record.form_version for record in world.coordinator.inbox.records())
    assert versions == [OLD, OLD, OLD, NEW]

    # No draft is left: the next update drops the packs kept for them.
    assert len(field.deployment_packs()) == 2
    world.clock.advance(86400)
    field.install_pack(make_pack(world.coordinator, relay=world.relay, clock=world.clock,
                                 form_paths=[_new_version(tmp_path, "2027.2.0")]),
                       world.recipient)
    assert [read_pack(raw).forms[0].version for raw in field.deployment_packs()] == [
        "2027.2.0"]


def test_several_updates_keep_every_version_a_draft_still_needs(world, tmp_path):
    form = shipped_form()
    first = world.field.records.save_draft(form.id, form.version, _partial()).id
    second = None
    for version in ["2027.1.0", "2027.2.0", "2027.3.0"]:
        world.clock.advance(86400)
        world.field.install_pack(make_pack(world.coordinator, relay=world.relay,
                                           clock=world.clock,
                                           form_paths=[_new_version(tmp_path, version)]),
                                 world.recipient)
        if second is None:  # a draft of the second version too
            second = world.field.records.save_draft(form.id, version, {"child_assent": "yes"})
    kept = [read_pack(raw).forms[0].version for raw in world.field.deployment_packs()]
    assert kept == ["2027.3.0", "2027.2.0", "2027.1.0", OLD]
    assert form_for_draft(world.field, form.id, OLD).version == OLD
    assert form_for_draft(world.field, form.id, second.form_version).version == "2027.1.0"
    assert world.field.records.get(first).answers == _partial()
    assert world.field.verify_audit().holds


def test_a_draft_of_a_version_no_pack_holds_is_kept_and_says_so(world):
    form = shipped_form()
    draft = world.field.records.save_draft(form.id, "2025.1.0", {"child_assent": "yes"})

    with pytest.raises(UserError) as caught:
        form_for_draft(world.field, form.id, "2025.1.0")

    error = caught.value
    assert "2025.1.0" in error.message and "no longer has" in error.message
    assert error.hint and "The draft is kept" in error.hint
    assert world.field.records.get(draft.id).answers == {"child_assent": "yes"}
    # The checklist shipped with the app is offered as a last resort, version for version.
    assert form_for_draft(world.field, form.id, OLD, also=[form]) is not None
    with pytest.raises(UserError):
        form_for_draft(world.field, form.id, "2025.1.0", also=[form])
