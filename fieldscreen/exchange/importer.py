"""Coordinator import: find batches in files, folders or WebDAV, verify, record, and answer.

Every batch is verified completely before anything is written; then its records and ledger
entry commit in one transaction. A refused batch is copied into the profile's quarantine
folder with its reason, and can be imported again later (e.g. once its device is enrolled).
After a successful (or repeated) import the coordinator's signed receipt is written next to
the batch so the device can mark its records received.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldscreen.errors import UserError
from fieldscreen.exchange.batch import (
    MAX_BATCH_BYTES,
    BatchRefused,
    RefusalCode,
    VerifiedBatch,
    verify_batch,
)
from fieldscreen.exchange.checking import BatchChecker, check_batch
from fieldscreen.exchange.receipt import receipt_file_name, seal_receipt, write_receipt
from fieldscreen.exchange.transports import FolderTransport, Transport, TransportError, retrying
from fieldscreen.files import read_regular_file, write_atomically
from fieldscreen.i18n import _, active_language, ngettext
from fieldscreen.store.crypto import sha256
from fieldscreen.store.database import StorageFull, StorageUnavailable, storage_error
from fieldscreen.store.inbox import (
    BatchAlreadyInLedger,
    LedgerVerdict,
    QuarantineEntry,
    RecordOwnershipConflict,
)
from fieldscreen.store.incoming import Sealed
from fieldscreen.store.postgres import ServerStorageFull
from fieldscreen.store.profile import UnlockedProfile

BATCH_SUFFIX = ".age"
BATCH_PREFIX = "fieldscreen-batch-"


@dataclass
class BatchOutcome:
    """What happened to one batch file."""

    source: str
    status: str  # imported | duplicate | quarantined
    records: int = 0
    duplicates: int = 0
    reason: str | None = None
    code: str | None = None
    warning: str | None = None
    # Of `records`, how many replaced an older version the same device had sent.
    updated: int = 0
    # The chain and gap checks of a stored batch, settled once the whole run is stored:
    # a folder's files come in no useful order (their names are random batch ids), so
    # batch 3 may be stored before batch 2 of the same run.
    pending: _PendingChecks | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _PendingChecks:
    device_id: str
    device_name: str
    sequence: int
    previous_manifest_sha256: str


@dataclass
class ImportReport:
    batches: list[BatchOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for batch in self.batches if batch.status == status)

    @property
    def quarantined(self) -> int:
        return self.count("quarantined")

    def to_json(self) -> dict[str, Any]:
        return {
            "batches": {"imported": self.count("imported"), "duplicate": self.count("duplicate"),
                        "quarantined": self.quarantined},
            "records": {
                "imported": sum(b.records for b in self.batches if b.status == "imported"),
                "new": sum(b.records - b.updated for b in self.batches
                           if b.status == "imported"),
                "updated": sum(b.updated for b in self.batches if b.status == "imported"),
                "duplicate": sum(b.duplicates for b in self.batches),
                "quarantined": sum(b.records for b in self.batches if b.status == "quarantined"),
            },
            "warnings": [b.warning for b in self.batches if b.warning],
            "errors": list(self.errors),
            "details": [
                {"source": b.source, "status": b.status, "records": b.records,
                 "updated": b.updated, "duplicates": b.duplicates, "reason": b.reason,
                 "code": b.code}
                for b in self.batches
            ],
        }


@dataclass(frozen=True, slots=True)
class _Found:
    """A batch file and the relay (folder or WebDAV) where its receipt belongs."""

    source: str
    name: str
    read: Callable[[], bytes | None]
    relay: Transport | None


def _is_batch_name(name: str) -> bool:
    return name.startswith(BATCH_PREFIX) and name.endswith(BATCH_SUFFIX)


def _read_file(path: Path) -> bytes | None:
    # Read no more than one byte over the limit: the size check refuses it unparsed. A
    # pipe or a device is refused before anything is read (it could block for ever).
    return read_regular_file(path, MAX_BATCH_BYTES + 1)


def find_batches(sources: list[str], make_transport: Callable[[str], Transport],
                 opened: contextlib.ExitStack) -> Iterator[_Found]:
    """Batch files in `sources`: files, folders (their batch files) or WebDAV URLs.

    WebDAV connections are entered into `opened`, so they stay open until the caller has
    written every receipt back over them, and close with it.
    """
    for source in sources:
        if source.startswith(("https://", "http://")):
            relay = opened.enter_context(contextlib.closing(make_transport(source)))
            for name in retrying(relay.names):
                if _is_batch_name(name):
                    yield _Found(f"{relay.description}{name}", name,
                                 lambda relay=relay, name=name: retrying(
                                     lambda: relay.get(name)), relay)
            continue
        path = Path(source).expanduser()
        if path.is_dir():
            folder = FolderTransport(path)
            for entry in sorted(path.iterdir()):
                if entry.is_file() and _is_batch_name(entry.name):
                    yield _Found(str(entry), entry.name,
                                 lambda entry=entry: _read_file(entry), folder)
        elif path.is_file():
            folder = FolderTransport(path.parent)
            yield _Found(str(path), path.name, lambda path=path: _read_file(path), folder)
        else:
            raise UserError(_("Nothing to import at {source}: no such file or folder.").format(
                source=source))


@contextlib.contextmanager
def _storing(source: str) -> Iterator[None]:
    """Storage failures while keeping a batch, as errors that say what to do about them."""
    try:
        yield
    except (StorageFull, OSError) as error:
        mapped = error if isinstance(error, StorageFull) else storage_error(error)
        if isinstance(mapped, ServerStorageFull):
            raise  # the database server's disk, not this computer's: its message says so
        if isinstance(mapped, StorageFull):
            raise StorageFull(
                _("The disk is full, so batch {source} was not imported.").format(
                    source=source),
                hint=_("Nothing of it was kept. Free some space on this computer, then "
                       "import again; batches already imported stay imported.")) from None
        if mapped is not None:
            raise mapped from None
        raise


class BatchImporter:
    """Imports batches into one unlocked coordinator profile.

    Args:
        profile: the coordinator's unlocked profile.
        quarantine_dir: where refused batch files are kept with their reasons.
        now: the clock.
    """

    def __init__(self, profile: UnlockedProfile, quarantine_dir: Path,
                 now: Callable[[], dt.datetime]) -> None:
        self._profile = profile
        self._identity = profile.coordinator_identity()
        self._signing_key = profile.coordinator_signing_key()
        self._quarantine_dir = quarantine_dir
        self._now = now

    def run(self, sources: list[str], make_transport: Callable[[str], Transport],
            progress: Callable[[int, str], None] | None = None,
            on_outcome: Callable[[BatchOutcome], None] | None = None) -> ImportReport:
        """Import every batch found in `sources`.

        `progress(index, source)` is called as each batch file is read and `on_outcome`
        as each one is settled (on the calling thread), so a window can show both.
        """
        report = ImportReport()

        def readable(opened: contextlib.ExitStack
                     ) -> Iterator[tuple[bytes, str, Transport | None]]:
            for index, found in enumerate(find_batches(sources, make_transport, opened)):
                if progress:
                    progress(index, found.source)
                try:
                    data = found.read()
                except (TransportError, OSError) as error:
                    report.errors.append(_("{source}: {problem}").format(
                        source=found.source, problem=error))
                    continue
                if data is not None:
                    yield data, found.source, found.relay

        try:
            with contextlib.ExitStack() as opened:
                for outcome in self.import_many(readable(opened)):
                    report.batches.append(outcome)
                    if on_outcome:
                        on_outcome(outcome)
        except (TransportError, StorageFull, StorageUnavailable) as error:
            # The batches settled so far stand; the report says why the rest did not.
            report.errors.append(str(error))
        return report

    def retry(self, entry: QuarantineEntry) -> BatchOutcome:
        """Import a quarantined batch again from its kept file (e.g. once its device was
        enrolled). Its receipt goes back to the folder it came from when that folder is
        still there; a batch from WebDAV gets its receipt when it is imported from there
        again (an imported file is answered again, never imported twice)."""
        stored = Path(entry.stored_as)
        try:
            data = _read_file(stored)
        except OSError:
            raise UserError(
                _("The kept copy of this batch is gone ({path}).").format(path=stored),
                hint=_("Import the batch again from the USB stick, folder or WebDAV "
                       "target it came from.")) from None
        source = Path(entry.source)
        relay = (FolderTransport(source.parent)
                 if not entry.source.startswith(("https://", "http://"))
                 and source.parent.is_dir() else None)
        return self.import_one(data or b"", entry.source, relay)

    def import_many(self, batches: Iterable[tuple[bytes, str, Transport | None]]
                    ) -> Iterator[BatchOutcome]:
        """Import batches in order, checking the next one in a second process meanwhile.

        Checking a batch (decryption, hashes, strict parsing, the signature) and storing one
        take about as long as each other; on a two-core laptop they overlap. The results
        are the same as `import_one` on each batch in turn.
        """
        # A batch with earlier ones missing waits for the rest of the run: they may be
        # later files of the same folder. Every other batch is settled at once.
        held: list[BatchOutcome] = []
        for outcome in self._import_in_order(batches):
            if outcome.pending is not None and self._missing(outcome.pending):
                held.append(outcome)
            else:
                yield self._settle(outcome)
        for outcome in held:
            yield self._settle(outcome)

    def _import_in_order(self, batches: Iterable[tuple[bytes, str, Transport | None]]
                         ) -> Iterator[BatchOutcome]:
        checker: BatchChecker | None = None
        waiting: tuple[bytes, str, str, Transport | None, BatchChecker, int] | None = None
        try:
            for data, source, relay in batches:
                file_sha256 = sha256(data).hex()
                if self._profile.inbox.known_file(file_sha256):
                    if waiting is not None:
                        yield self._finish(*waiting)
                        waiting = None
                    yield self._import_unsettled(data, source, relay)
                    continue
                if checker is None:
                    devices = {device.public_key: device
                               for device in self._profile.devices.list()}
                    checker = BatchChecker(self._identity,
                                           self._profile.imported_records_key(), devices,
                                           self._profile.info.demo, active_language())
                ticket = checker.submit(data)
                if waiting is not None:
                    yield self._finish(*waiting)
                waiting = (data, file_sha256, source, relay, checker, ticket)
            if waiting is not None:
                yield self._finish(*waiting)
        finally:
            if checker is not None:
                checker.close()

    def _finish(self, data: bytes, file_sha256: str, source: str, relay: Transport | None,
                checker: BatchChecker, ticket: int) -> BatchOutcome:
        try:
            kind, value = checker.result(ticket)
        except Exception:
            # The checking process died before answering: check this batch here.
            return self._import_unsettled(data, source, relay)
        return self._store(data, file_sha256, source, relay, kind, value)

    def import_one(self, data: bytes, source: str, relay: Transport | None) -> BatchOutcome:
        return self._settle(self._import_unsettled(data, source, relay))

    def _import_unsettled(self, data: bytes, source: str, relay: Transport | None
                          ) -> BatchOutcome:
        file_sha256 = sha256(data).hex()
        inbox = self._profile.inbox
        if inbox.known_file(file_sha256):
            # Already imported: answer again, in case the first receipt was lost.
            outcome = BatchOutcome(source, "duplicate")
            self._answer_again(data, relay, outcome)
            return outcome
        kind, value = check_batch(data, self._identity, self._profile.devices.by_public_key,
                                  self._profile.info.demo)
        return self._store(data, file_sha256, source, relay, kind, value)

    def _store(self, data: bytes, file_sha256: str, source: str, relay: Transport | None,
               kind: str, value: Any) -> BatchOutcome:
        inbox = self._profile.inbox
        if kind == "refused":
            code, reason, device_id, batch_id = value
            return self._quarantine(data, file_sha256, source, BatchRefused(
                RefusalCode(code), reason, device_id=device_id, batch_id=batch_id))
        if kind == "failed":
            # A file that breaks a check in an unforeseen way is kept, not imported, and
            # the batches after it are still imported.
            return self._quarantine(data, file_sha256, source, BatchRefused(
                RefusalCode.CHECK_FAILED,
                _("the batch could not be checked ({kind}); it was kept for review").format(
                    kind=value)))
        verified: VerifiedBatch = value[0]
        sealed: Sealed | None = value[1]
        device = verified.device
        verdict = inbox.check(device.device_id, verified.batch_id, verified.sequence,
                              verified.manifest_sha256).verdict
        outcome: BatchOutcome | None = None
        if verdict is LedgerVerdict.NEW:
            try:
                with _storing(source):
                    counts = inbox.import_batch(device.device_id, verified.batch_id,
                                                verified.sequence, verified.manifest_sha256,
                                                file_sha256, list(verified.records), sealed)
            except RecordOwnershipConflict as conflict:
                return self._quarantine(data, file_sha256, source, BatchRefused(
                    RefusalCode.CONFLICT,
                    ngettext("ALERT: device {device} sent {count} record that another device "
                             "sent first; only the device a record came from may update it. "
                             "Nothing of this batch was imported (a compromised or "
                             "misconfigured device?)",
                             "ALERT: device {device} sent {count} records that another "
                             "device sent first; only the device a record came from may "
                             "update it. Nothing of this batch was imported (a compromised "
                             "or misconfigured device?)", conflict.count).format(
                        device=device.name, count=conflict.count),
                    device_id=device.device_id, batch_id=verified.batch_id))
            except BatchAlreadyInLedger:
                # Another console stored it (or another batch with its sequence) since the
                # check above: the ledger refused this copy and nothing of it was written.
                # It is settled as the ledger now says: already imported, or a conflict.
                verdict = inbox.check(device.device_id, verified.batch_id, verified.sequence,
                                      verified.manifest_sha256).verdict
            else:
                outcome = BatchOutcome(
                    source, "imported", records=counts.imported, duplicates=counts.duplicate,
                    updated=counts.updated, pending=_PendingChecks(
                        device.device_id, device.name, verified.sequence,
                        verified.previous_manifest_sha256))
        if verdict is LedgerVerdict.CONFLICT:
            return self._quarantine(data, file_sha256, source, BatchRefused(
                RefusalCode.CONFLICT,
                _("ALERT: device {device} already sent batch {batch} (or sequence {sequence}) "
                  "with different contents; this copy was altered or the device is "
                  "compromised").format(device=device.name, batch=verified.batch_id,
                                        sequence=verified.sequence),
                device_id=device.device_id, batch_id=verified.batch_id))
        if outcome is None:
            outcome = BatchOutcome(source, "duplicate", duplicates=len(verified.records))
        self._write_receipt(verified, relay, outcome)
        return outcome

    def _missing(self, pending: _PendingChecks) -> list[int]:
        """The earlier sequences of the batch's device that are not stored (yet)."""
        return self._profile.inbox.missing_sequences(pending.device_id, pending.sequence)

    def _settle(self, outcome: BatchOutcome) -> BatchOutcome:
        """The chain and gap checks of an imported batch, against everything stored now."""
        pending, outcome.pending = outcome.pending, None
        if pending is None:
            return outcome
        inbox = self._profile.inbox
        sequence = pending.sequence
        previous = inbox.manifest_hash(pending.device_id, sequence - 1)
        if previous is not None and previous != pending.previous_manifest_sha256:
            outcome.warning = _(
                "ALERT: batch {sequence} from device {device} does not continue the chain of "
                "its batch {before} (restored from a backup, or forged?)").format(
                sequence=sequence, device=pending.device_name, before=sequence - 1)
            return outcome
        missing = self._missing(pending)
        if missing:
            outcome.warning = _("Batches {first} to {last} from device {device} have not "
                                "arrived yet (imported {sequence}).").format(
                first=missing[0], last=missing[-1], device=pending.device_name,
                sequence=sequence)
        return outcome

    def _answer_again(self, data: bytes, relay: Transport | None,
                      outcome: BatchOutcome) -> None:
        try:
            verified = verify_batch(data, identity=self._identity,
                                    find_device=self._profile.devices.by_public_key,
                                    demo=self._profile.info.demo)
        except BatchRefused:
            return  # e.g. the device was revoked since: no new receipt
        outcome.duplicates = len(verified.records)
        self._write_receipt(verified, relay, outcome)

    def _write_receipt(self, verified: VerifiedBatch, relay: Transport | None,
                       outcome: BatchOutcome) -> None:
        if relay is None:
            return
        # Sealed to the device: the relay learns nothing from it (receipt file version 2).
        receipt = seal_receipt(write_receipt(
            self._signing_key, batch_id=verified.batch_id,
            device_public_key=verified.device.public_key,
            records=[(record.id, record.version) for record in verified.records],
            now=self._now()), verified.device.public_key)
        try:
            retrying(lambda: relay.put(receipt_file_name(verified.batch_id), receipt))
        except TransportError as error:
            # The import stands; the receipt is written again at the next import.
            outcome.warning = _("The receipt could not be written: {problem}").format(
                problem=error)

    def _quarantine(self, data: bytes, file_sha256: str, source: str,
                    refusal: BatchRefused) -> BatchOutcome:
        stored = self._quarantine_dir / f"{file_sha256}.age"
        with _storing(source):
            self._quarantine_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not stored.exists():
                write_atomically(stored, data)
            self._profile.inbox.quarantine(
                file_sha256=file_sha256, source=source, stored_as=str(stored),
                reason_code=refusal.code.value, reason=refusal.reason,
                device_id=refusal.device_id, batch_id=refusal.batch_id)
        return BatchOutcome(source, "quarantined", reason=refusal.reason,
                            code=refusal.code.value)
