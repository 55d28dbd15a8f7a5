"""Field-side sync: seal final records into batches, deliver them, read receipts, purge.

Each step leaves the profile consistent on its own: sealing commits batch and record
status together; a batch counts as delivered only once the relay confirmed its bytes;
records count as received only with the coordinator's signed receipt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fieldscreen.errors import UserError
from fieldscreen.exchange.batch import (
    BYTES_PER_BATCH,
    RECORDS_PER_BATCH,
    batch_file_name,
    record_line,
    seal_batch,
)
from fieldscreen.exchange.pack import DeploymentPack, is_relative_folder, read_pack
from fieldscreen.exchange.receipt import ReceiptInvalid, read_receipt, receipt_file_name
from fieldscreen.exchange.transports import Transport, TransportError, retrying, transport_for
from fieldscreen.forms.schema import Form
from fieldscreen.i18n import _, ngettext
from fieldscreen.store.database import StorageFull
from fieldscreen.store.profile import UnlockedProfile
from fieldscreen.store.records import RecordStatus, RecordUnreadable

Progress = Callable[[str, int, int], None]


@dataclass
class SyncReport:
    """What one sync did; `error` is the message of what stopped delivery, if anything."""

    sealed_batches: int = 0
    sealed_records: int = 0
    delivered_batches: int = 0
    pending_batches: int = 0
    receipts: int = 0
    received_records: int = 0
    purged_records: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Final records whose encrypted data does not open: kept, not sent, reported.
    damaged_records: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def installed_pack(profile: UnlockedProfile) -> DeploymentPack:
    raw = profile.installed_pack()
    if raw is None:
        raise UserError(_("This profile has no deployment pack, so it does not know where "
                          "to send records."),
                        hint=_("Create the profile from your coordinator's pack "
                               "(profile create --pack FILE) or install one with "
                               "profile update-pack FILE."))
    return read_pack(raw)


def form_for_draft(profile: UnlockedProfile, form_id: str, form_version: str,
                   also: Iterable[Form] = ()) -> Form:
    """The exact form version a draft was started with, to resume it against.

    A newer pack may rename or drop questions the draft answers, or change what its
    answers mean, so a draft never moves to another version on its own. The installed
    pack is searched first, then the earlier packs the profile keeps while drafts exist
    (`UnlockedProfile.install_pack`), then `also` (e.g. the checklist shipped with the
    app, for drafts made before any pack was installed).

    Raises:
        UserError: no pack this laptop holds has that version; the draft is kept.
    """
    for raw in profile.deployment_packs():
        for form in read_pack(raw).forms:
            if (form.id, form.version) == (form_id, form_version):
                return form
    for form in also:
        if (form.id, form.version) == (form_id, form_version):
            return form
    raise UserError(
        _("This draft was started with version {version} of the form '{form}', which this "
          "laptop no longer has.").format(version=form_version, form=form_id),
        hint=_("The draft is kept. Ask your coordinator for a deployment pack with that "
               "version, or start a new screening."))


def pending_work(profile: UnlockedProfile) -> bool:
    """Whether a sync has anything to do: records to seal, batches to send, receipts to read."""
    counts = profile.outbox.counts()
    return bool(counts["undelivered"] or counts["awaiting_receipt"]
                or profile.records.count(RecordStatus.FINAL))


def target_reachable(profile: UnlockedProfile, target: str | None = None) -> bool:
    """Probe the sync target (the pack's unless given); False when there is none."""
    raw = profile.installed_pack()
    pack = read_pack(raw) if raw is not None else None
    destination = target or (pack.sync.target if pack and pack.sync else None)
    if destination is None or (target is None and is_relative_folder(destination)):
        return False
    sync_settings = pack.sync if pack and target is None else None
    transport = transport_for(
        destination,
        username=sync_settings.username if sync_settings else None,
        password=sync_settings.password if sync_settings else None,
        ca_certificate=sync_settings.ca_certificate if sync_settings else None)
    try:
        return transport.reachable()
    finally:
        transport.close()


def seal_pending(profile: UnlockedProfile, pack: DeploymentPack, *,
                 now: Callable[[], dt.datetime],
                 damaged: list[str] | None = None) -> tuple[int, int]:
    """Seal every final record into batches; returns (batches, records) sealed.

    A record whose encrypted data does not open is skipped, kept as it is, and its id added
    to `damaged`: one damaged record must not stop every other record from leaving.
    """
    finals, unreadable = profile.records.list_readable([RecordStatus.FINAL])
    finals.sort(key=lambda summary: (summary.updated_at, summary.id))
    batches = records = 0
    device_key = profile.device_key()
    start = 0
    while start < len(finals):
        chunk, size, taken = [], 0, 0
        for summary in finals[start:]:
            try:
                record = profile.records.get(summary.id)
            except RecordUnreadable:
                unreadable.append(summary.id)
                taken += 1
                continue
            line = {
                "id": record.id, "version": record.summary.version,
                "form_id": record.summary.form_id, "form_version": record.summary.form_version,
                "created_at": record.summary.created_at,
                "updated_at": record.summary.updated_at, "demo": record.summary.demo,
                "answers": record.answers, "outcome": record.outcome or {},
            }
            size += len(record_line(line))
            if chunk and (len(chunk) >= RECORDS_PER_BATCH or size > BYTES_PER_BATCH):
                break
            chunk.append(line)
            taken += 1
        start += taken
        if not chunk:
            continue
        sequence, previous = profile.outbox.next_link()
        sealed = seal_batch(chunk, device_key=device_key, recipient=pack.recipients,
                            sequence=sequence, previous_manifest_sha256=previous,
                            audit_head=profile.audit_head(), demo=profile.info.demo, now=now())
        profile.outbox.add(sealed.batch_id, sequence, sealed.manifest_sha256, sealed.data,
                           sealed.records)
        batches += 1
        records += len(chunk)
    if damaged is not None:
        damaged.extend(sorted(set(unreadable)))
    return batches, records


def sync(profile: UnlockedProfile, *, target: str | None = None,
         now: Callable[[], dt.datetime], progress: Progress | None = None,
         sleep: Callable[[float], None] | None = None) -> SyncReport:
    """Seal, deliver, collect receipts and purge, as far as the relay allows.

    A transport failure stops delivery and is reported in `error`; nothing undelivered is
    ever marked sent, and the next sync picks up where this one stopped.

    Raises:
        StorageFull: this laptop's disk is full; every step done so far stands.
    """
    try:
        return _sync(profile, target=target, now=now, progress=progress, sleep=sleep)
    except StorageFull:
        # The save-time message talks of answers on screen; say what it means here.
        raise StorageFull(
            _("The disk is full, so the sync could not finish."),
            hint=_("Nothing was lost: records not yet sent stay on this laptop. Free some "
                   "space, then sync again.")) from None


def _sync(profile: UnlockedProfile, *, target: str | None,
          now: Callable[[], dt.datetime], progress: Progress | None,
          sleep: Callable[[float], None] | None) -> SyncReport:
    import time

    pack = installed_pack(profile)
    report = SyncReport()
    report.sealed_batches, report.sealed_records = seal_pending(
        profile, pack, now=now, damaged=report.damaged_records)
    if report.damaged_records:
        report.warnings.append(ngettext(
            "{count} record could not be opened (its encrypted data is damaged) and was not "
            "sent: {ids}. Every other record was. Keep this laptop's profile as it is and "
            "tell your coordinator the record id; do not delete anything.",
            "{count} records could not be opened (their encrypted data is damaged) and were "
            "not sent: {ids}. Every other record was. Keep this laptop's profile as it is "
            "and tell your coordinator the record ids; do not delete anything.",
            len(report.damaged_records)).format(count=len(report.damaged_records),
                                               ids=", ".join(report.damaged_records)))
    destination = target or (pack.sync.target if pack.sync else None)
    if destination is None:
        raise UserError(_("No sync target: the deployment pack names none."),
                        hint=_("Give one with --to FOLDER_OR_URL."))
    if target is None and is_relative_folder(destination):
        # Older packs could hold "relay": its meaning depended on where FieldScreen started.
        raise UserError(_("The deployment pack names its sync folder relative to wherever "
                          "FieldScreen is started, so it cannot be found reliably."),
                        hint=_("Sync with --to FOLDER for now, and ask your coordinator for a "
                               "new pack (new packs hold the full path)."))
    transport: Transport | None = None
    try:
        transport = transport_for(
            destination,
            username=pack.sync.username if pack.sync and target is None else None,
            password=pack.sync.password if pack.sync and target is None else None,
            ca_certificate=pack.sync.ca_certificate if pack.sync else None,
        )
        wait = time.sleep if sleep is None else sleep
        pending = profile.outbox.undelivered()
        for index, batch in enumerate(pending):
            if progress:
                progress("deliver", index, len(pending))
            retrying(lambda batch=batch: transport.put(batch_file_name(batch.batch_id),
                                                       batch.file), sleep=wait)
            profile.outbox.mark_delivered(batch.batch_id)
            report.delivered_batches += 1
        signing_key = profile.device_key()
        device_key = signing_key.public.raw
        for batch in profile.outbox.awaiting_receipt():
            raw = retrying(lambda batch=batch: transport.get(receipt_file_name(
                batch.batch_id)), sleep=wait)
            if raw is None:
                continue
            try:
                receipt = read_receipt(raw, coordinator=pack.signing_keys,
                                       batch_id=batch.batch_id, device_public_key=device_key,
                                       device_key=signing_key)
            except ReceiptInvalid:
                report.warnings.append(_("A receipt for batch {id} is not valid and was "
                                         "ignored.").format(id=batch.batch_id))
                continue
            closed, reopened = profile.outbox.accept_receipt(batch.batch_id, receipt.records)
            report.received_records += closed
            report.receipts += 1
            if reopened:
                report.warnings.append(ngettext(
                    "The coordinator's receipt for batch {id} did not confirm {count} of its "
                    "records; it will be sent again with the next sync.",
                    "The coordinator's receipt for batch {id} did not confirm {count} of its "
                    "records; they will be sent again with the next sync.",
                    reopened).format(id=batch.batch_id, count=reopened))
        if progress:
            progress("done", len(pending), len(pending))
    except TransportError as error:
        report.error = str(error)
    finally:
        if transport is not None:
            transport.close()
    report.purged_records = profile.records.purge_received(
        dt.timedelta(days=pack.retention_days))
    report.pending_batches = len(profile.outbox.undelivered())
    return report
