"""Referrals to partner services, both sides, without Qt (docs/referrals.md).

Coordinator: refer a case to an enrolled partner (a sealed, signed FHIR package), withdraw
it when the child withdraws consent, and import the partners' updates, which move the case
in the queue; a refused update is quarantined with its reason, as a batch is.
Partner: open packages addressed to it, show the referral, answer with a sealed, signed
Task update.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fieldscreen.errors import UserError
from fieldscreen.exchange.referral_files import (
    Package,
    ReferralRefused,
    RefusalCode,
    package_file_name,
    read_package,
    read_update,
    stamp,
    update_file_name,
    write_package,
    write_update,
)
from fieldscreen.exchange.referral_package import (
    PARTNER_STATUSES,
    SHAREABLE,
    ReferralContentInvalid,
    ReferralRequest,
    bundle_resources,
    read_task_update,
    reasons_in_words,
    referral_bundle,
    task_update,
    withdrawal_bundle,
)
from fieldscreen.files import write_atomically
from fieldscreen.forms.services import ServicesDirectory
from fieldscreen.i18n import _, active_language
from fieldscreen.store.crypto import sha256
from fieldscreen.store.database import storage_error
from fieldscreen.store.partners import (
    ReceivedReferral,
    ReferralUnknown,
    ReferralWithdrawn,
    UpdateReplayed,
)
from fieldscreen.store.profile import UnlockedProfile

Clock = Callable[[], dt.datetime]


@dataclass(frozen=True, slots=True)
class WrittenFile:
    referral_id: str
    name: str
    data: bytes


def _record_outcome(profile: UnlockedProfile, record_id: str) -> dict[str, Any]:
    try:
        outcome = profile.inbox.record_payload(record_id)["outcome"]
    except KeyError:
        raise UserError(_("There is no imported record {id}.").format(id=record_id[:40]),
                        hint=_("Choose a case from the referral queue.")) from None
    return outcome if isinstance(outcome, dict) else {}


def refer_case(profile: UnlockedProfile, *, record_id: str, partner: str, service_id: str,
               services: ServicesDirectory, share: Iterable[str] = (),
               note: str | None = None, now: dt.datetime,
               deliver: Callable[[WrittenFile], None]) -> WrittenFile:
    """A referral package for one case and one service, sealed to the partner.

    Only with the child's referral consent recorded; by default the package says nothing
    about the child but why the referral is made (`share` adds age, sex or area).
    `deliver` writes the file; the referral is recorded, and the case moves to
    "referred", only once it returned, so a file that could not be written leaves no
    referral behind.
    """
    signing_key = profile.coordinator_signing_key()
    case = profile.referrals.case(record_id)  # "no follow-up case" for anything else
    outcome = _record_outcome(profile, record_id)
    if outcome.get("consent_given") is not True:
        raise UserError(
            _("The child's consent to a referral is not recorded for this case, so no "
              "referral package is written."),
            hint=_("Refer the child only after they agreed; record it at the next visit."))
    wanted = list(dict.fromkeys(share))
    unknown = [name for name in wanted if name not in SHAREABLE]
    if unknown:
        raise UserError(_("Only age, sex and area can be shared with a partner."),
                        hint=_("Use --share age, --share sex or --share area."))
    found = profile.partners.find(partner)
    if found.revoked:
        raise UserError(_("Partner {name} was revoked; refer the child elsewhere.").format(
            name=found.name))
    service = next((item for item in services.services if item.id == service_id), None)
    if service is None:
        raise UserError(_("There is no service '{id}' in the services directory.").format(
            id=service_id[:64]), hint=_("Use the id of a service in the directory."))
    language = active_language()
    rules = outcome.get("rules")
    rule_names = [entry.get("rule") for entry in rules if isinstance(entry, dict)] \
        if isinstance(rules, list) else []
    referral_id = str(uuid.uuid4())
    bundle = referral_bundle(ReferralRequest(
        referral_id=referral_id, authored_on=stamp(now), priority=case.priority,
        service_name=" — ".join(filter(None, (
            service.organisation.get(language, services.default_language),
            service.name.get(language, services.default_language)))),
        service_type=service.type.value, coordinator_name=profile.info.name,
        partner_name=found.name,
        reasons=tuple(reasons_in_words(name for name in rule_names if isinstance(name, str))),
        shared={name: case.facts.get(name) for name in wanted
                if case.facts.get(name) is not None},
        note=(note or "").strip() or None))
    data = write_package(signing_key, kind="referral", referral_id=referral_id,
                         coordinator_name=profile.info.name,
                         coordinator_recipient=profile.coordinator_identity().recipient,
                         partner_key=found.public_key, bundle=bundle, now=now)
    written = WrittenFile(referral_id, package_file_name(referral_id, "referral"), data)
    deliver(written)
    profile.referral_ledger.add(referral_id=referral_id, record_id=record_id,
                                partner_id=found.partner_id, service_id=service.id,
                                service_name=service.name.get(language,
                                                              services.default_language),
                                priority=case.priority)
    return written


def withdraw_referral(profile: UnlockedProfile, referral_id: str, *, now: dt.datetime,
                      deliver: Callable[[WrittenFile], None]) -> WrittenFile:
    """The child withdrew consent: mark the referral withdrawn and write the package that
    tells the partner to stop and delete what it holds."""
    signing_key = profile.coordinator_signing_key()
    try:
        referral = profile.referral_ledger.get(referral_id)
    except ReferralUnknown:
        raise UserError(_("There is no referral {id}.").format(id=referral_id[:40]),
                        hint=_("List them with: fieldscreen referral queue")) from None
    partner = next(item for item in profile.partners.list()
                   if item.partner_id == referral.partner_id)
    data = write_package(
        signing_key, kind="withdrawal", referral_id=referral_id,
        coordinator_name=profile.info.name,
        coordinator_recipient=profile.coordinator_identity().recipient,
        partner_key=partner.public_key,
        bundle=withdrawal_bundle(referral_id, at=stamp(now),
                                 coordinator_name=profile.info.name), now=now)
    written = WrittenFile(referral_id, package_file_name(referral_id, "withdrawal"), data)
    deliver(written)
    profile.referral_ledger.withdraw(referral_id, _(
        "Referral to {partner} withdrawn: the child withdrew consent.").format(
            partner=partner.name))
    return written


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    source: str
    status: str  # imported | duplicate | quarantined
    code: str | None = None
    reason: str | None = None
    referral_id: str | None = None
    partner_status: str | None = None
    case_status: str | None = None


def import_update(profile: UnlockedProfile, data: bytes, *, source: str,
                  quarantine_dir: Path) -> UpdateOutcome:
    """Check a partner's update and apply it in one transaction, or quarantine the file
    with its reason. Never raises for bad input; storage errors still raise."""
    file_sha256 = sha256(data).hex()
    partner_id = None
    try:
        identity = profile.coordinator_identity()
        update = read_update(data, identity=identity,
                             partner_state=profile.partners.state_of)
        partner = profile.partners.by_public_key(update.partner_key)
        assert partner is not None  # read_update checked it is enrolled
        partner_id = partner.partner_id
        if profile.referral_ledger.message_hash(update.message_id) == file_sha256:
            return UpdateOutcome(source, "duplicate", referral_id=update.referral_id)
        try:
            referral = profile.referral_ledger.get(update.referral_id)
        except ReferralUnknown:
            referral = None
        if referral is None or referral.partner_id != partner.partner_id:
            raise ReferralRefused(RefusalCode.UNKNOWN_REFERRAL, _(
                "The update is about a referral this coordinator never sent to this "
                "partner."))
        try:
            task = read_task_update(update.task, update.referral_id)
        except ReferralContentInvalid:
            raise ReferralRefused(RefusalCode.BAD_UPDATE, _(
                "The update's Task is not a valid FHIR R4B answer to this referral.")
            ) from None
        try:
            moved = profile.referral_ledger.apply_update(
                referral_id=update.referral_id, partner_id=partner.partner_id,
                message_id=update.message_id, sequence=update.sequence,
                file_sha256=file_sha256, status=task.status, reason=task.reason,
                note=task.note, partner_name=partner.name)
        except UpdateReplayed:
            raise ReferralRefused(RefusalCode.REPLAYED, _(
                "The update is older than one already imported for this referral (a "
                "replay, or an old copy).")) from None
        except ReferralWithdrawn:
            raise ReferralRefused(RefusalCode.WITHDRAWN, _(
                "The referral was withdrawn (the child withdrew consent); the partner's "
                "update is not applied.")) from None
        except ReferralUnknown:
            raise ReferralRefused(RefusalCode.UNKNOWN_REFERRAL, _(
                "The update is about a referral this coordinator never sent to this "
                "partner.")) from None
        return UpdateOutcome(source, "imported", referral_id=update.referral_id,
                             partner_status=task.status, case_status=moved)
    except ReferralRefused as refusal:
        return _quarantine(profile, data, file_sha256, source, quarantine_dir,
                           refusal.code.value, refusal.reason, partner_id)
    except UserError:
        raise
    except Exception:
        return _quarantine(profile, data, file_sha256, source, quarantine_dir,
                           RefusalCode.CHECK_FAILED.value,
                           _("The update could not be checked; it was kept aside."),
                           partner_id)


def _quarantine(profile: UnlockedProfile, data: bytes, file_sha256: str, source: str,
                quarantine_dir: Path, code: str, reason: str,
                partner_id: str | None) -> UpdateOutcome:
    stored = quarantine_dir / f"{file_sha256}.age"
    try:
        quarantine_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not stored.exists():
            write_atomically(stored, data)
    except OSError as error:
        # A full or read-only disk says so; the update was not applied either way.
        raise storage_error(error) or UserError(_(
            "The refused update {source} could not be kept aside: {reason}").format(
                source=source, reason=error.strerror or error)) from None
    profile.inbox.quarantine(file_sha256=file_sha256, source=source, stored_as=str(stored),
                             reason_code=code, reason=reason, device_id=partner_id)
    return UpdateOutcome(source, "quarantined", code=code, reason=reason)


# -- partner side ------------------------------------------------------------------------


def open_package(profile: UnlockedProfile, data: bytes) -> tuple[Package, bool]:
    """Check a package addressed to this partner and keep it; (package, new).

    Raises:
        UserError: the package is refused; the message gives the reason and its code.
    """
    key = profile.partner_key()
    try:
        package = read_package(data, partner_key=key,
                               pinned=profile.partner_inbox.pinned_coordinator())
        new = profile.partner_inbox.receive(
            kind=package.kind, message_id=package.message_id,
            referral_id=package.referral_id, file_sha256=package.sha256,
            coordinator_key=package.coordinator_key,
            coordinator_name=package.coordinator_name,
            coordinator_recipient=package.coordinator_recipient, bundle=package.bundle)
    except ReferralRefused as refusal:
        raise PackageRefused(refusal.code.value, refusal.reason) from None
    except ReferralUnknown:
        raise PackageRefused(RefusalCode.UNKNOWN_REFERRAL.value, _(
            "The withdrawal is about a referral this partner never received.")) from None
    return package, new


class PackageRefused(UserError):
    """A package the partner does not accept; `code` as in docs/referrals.md."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(_("The package was refused ({code}): {reason}").format(
            code=code, reason=reason), hint=_("Nothing was stored. Ask the coordinator to "
                                              "send the package again."))
        self.code = code


def answer_referral(profile: UnlockedProfile, referral_id: str, status: str, *,
                    note: str | None = None, reason: str | None = None,
                    now: dt.datetime, deliver: Callable[[WrittenFile], None]) -> WrittenFile:
    """The partner's signed Task update, sealed to the coordinator; recorded as sent once
    `deliver` wrote it."""
    key = profile.partner_key()
    if status not in PARTNER_STATUSES:
        raise UserError(_("The status is one of: accepted, rejected, in-progress, completed."))
    if status == "rejected" and not (reason or "").strip():
        raise UserError(_("Say why the referral is declined."),
                        hint=_("Use --reason TEXT; the coordinator refers the child "
                               "elsewhere."))
    try:
        referral = profile.partner_inbox.get(referral_id)
    except ReferralUnknown:
        raise UserError(_("There is no referral {id} in this partner's inbox.").format(
            id=referral_id[:40]), hint=_("List them with: fieldscreen partner list")) from None
    if referral.bundle is None:
        raise UserError(_("This referral was withdrawn: the child withdrew consent. Nothing "
                          "more is sent about it."))
    sequence = referral.next_sequence
    task = task_update(referral_id, status, at=stamp(now), partner_name=profile.info.name,
                       note=(note or "").strip() or None, reason=(reason or "").strip() or None)
    data = write_update(key, referral_id=referral_id, sequence=sequence,
                        recipient=referral.coordinator_recipient, task=task, now=now)
    written = WrittenFile(referral_id, update_file_name(referral_id, sequence), data)
    deliver(written)
    try:
        profile.partner_inbox.answered(referral_id, sequence, status)
    except ReferralWithdrawn:
        raise UserError(_("This referral was withdrawn: the child withdrew consent. Nothing "
                          "more is sent about it.")) from None
    return written


def describe_referral(referral: ReceivedReferral) -> list[str]:
    """What a partner reads about a referral, line by line, in plain words."""
    lines = [_("Referral {id} from {coordinator}, received {at}: {status}").format(
        id=referral.referral_id, coordinator=referral.coordinator_name,
        at=referral.received_at, status=referral.status)]
    if referral.bundle is None:
        lines.append(_("Withdrawn: the child withdrew consent. The child's details were "
                       "deleted from this profile."))
        return lines
    resources = bundle_resources(referral.bundle)
    request, patient = resources["ServiceRequest"], resources["Patient"]
    lines.append(_("Service: {service} (priority: {priority})").format(
        service=request.get("code", {}).get("text", ""), priority=request.get("priority")))
    for reason in request.get("reasonCode", []):
        lines.append(_("Why: {reason}").format(reason=reason.get("text", "")))
    for note in request.get("note", []):
        lines.append(_("Note: {note}").format(note=note.get("text", "")))
    shared = []
    for extension in patient.get("extension", []):
        if extension.get("valueAge"):
            shared.append(_("age {age}").format(age=extension["valueAge"].get("value")))
    if patient.get("gender"):
        shared.append(_("gender {gender}").format(gender=patient["gender"]))
    for address in patient.get("address", []):
        shared.append(_("area {area}").format(area=address.get("district", "")))
    lines.append(_("Shared about the child: {facts}").format(
        facts=", ".join(shared) if shared else _("nothing beyond the reasons")))
    return lines
