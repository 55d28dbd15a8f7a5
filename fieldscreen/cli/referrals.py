"""The `referral` (coordinator) and `partner` (partner service) command-line verbs.

`register(subparsers)` adds both groups to the `fieldscreen` parser; each handler's
arguments sit next to it. The flows are in `fieldscreen.workflows.referrals`; this module
reads files and options and prints results (docs/referrals.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from fieldscreen.cli import shared
from fieldscreen.errors import UserError
from fieldscreen.i18n import _, ngettext

EXIT_OK = shared.EXIT_OK
EXIT_USER_ERROR = shared.EXIT_USER_ERROR
MAX_NOTE_FILE_BYTES = 64 * 1024


def _text_file(path: Path | None) -> str | None:
    """A note read from a file: free text about a child never goes on the command line,
    where shell history and process lists would keep it."""
    if path is None:
        return None
    from fieldscreen.files import read_regular_file

    try:
        raw = read_regular_file(path, MAX_NOTE_FILE_BYTES)
        return raw.decode("utf-8").strip()
    except OSError:
        raise UserError(_("Cannot read the note file {path} (at most 64 KiB).").format(
            path=path)) from None
    except UnicodeDecodeError:
        raise UserError(_("The note file {path} is not UTF-8 text.").format(path=path)
                        ) from None


def _deliver(output: Path) -> Any:
    """Write a package or update to `output` (a folder: under its own name)."""
    from fieldscreen.files import write_atomically

    def write(written: Any) -> None:
        target = output / written.name if output.is_dir() else output
        try:
            write_atomically(target, written.data)
        except OSError as error:
            raise UserError(_("Cannot write {path}: {reason}").format(
                path=target, reason=error.strerror or error),
                hint=_("Nothing was recorded; choose another place with -o.")) from None
        print(_("Wrote {path}").format(path=target), file=sys.stderr)

    return write


def register(subparsers: Any) -> None:
    """Add the `referral` and `partner` verb groups."""
    passphrase_options = shared.passphrase_options

    referral = subparsers.add_parser(
        "referral", help=_("refer cases to partner services and import their answers"))
    verbs = referral.add_subparsers(dest="referral_verb", metavar="VERB")
    verbs.required = True

    enroll = verbs.add_parser("partner-enroll", help=_("enrol a partner service by its code"))
    enroll.add_argument("code", metavar="CODE")
    enroll.add_argument("--name", metavar="NAME", help=_("a name for the partner"))
    passphrase_options(enroll)
    enroll.set_defaults(run=_run_partner_enroll)

    partners = verbs.add_parser("partners", help=_("list enrolled partner services"))
    partners.add_argument("--json", action="store_true", help=_("print JSON"))
    passphrase_options(partners)
    partners.set_defaults(run=_run_partners)

    revoke = verbs.add_parser("partner-revoke", help=_("refuse further updates from a partner"))
    revoke.add_argument("partner", metavar="PARTNER", help=_("partner id or name"))
    passphrase_options(revoke)
    revoke.set_defaults(run=_run_partner_revoke)

    send = verbs.add_parser("send", help=_("write a sealed referral package for one case"))
    send.add_argument("case", metavar="RECORD_ID", help=_("the case's record id"))
    send.add_argument("--partner", metavar="PARTNER", required=True)
    send.add_argument("--service", metavar="SERVICE_ID", required=True,
                      help=_("the service's id in the services directory"))
    send.add_argument("--services", metavar="PATH", type=Path,
                      help=_("the services directory (default: the shipped example)"))
    send.add_argument("--share", metavar="FACT", action="append", default=[],
                      choices=["age", "sex", "area"],
                      help=_("also share this fact the child agreed to share (repeatable); "
                             "nothing is shared by default"))
    send.add_argument("--note-file", metavar="FILE", type=Path,
                      help=_("a note for the partner, read from FILE"))
    send.add_argument("-o", "--output", metavar="PATH", type=Path, required=True)
    passphrase_options(send)
    send.set_defaults(run=_run_send)

    withdraw = verbs.add_parser(
        "withdraw", help=_("the child withdrew consent: tell the partner to stop"))
    withdraw.add_argument("referral", metavar="REFERRAL_ID")
    withdraw.add_argument("-o", "--output", metavar="PATH", type=Path, required=True)
    passphrase_options(withdraw)
    withdraw.set_defaults(run=_run_withdraw)

    importing = verbs.add_parser("import", help=_("import partners' updates"))
    importing.add_argument("files", metavar="FILE", type=Path, nargs="+")
    importing.add_argument("--json", action="store_true", help=_("print JSON"))
    passphrase_options(importing)
    importing.set_defaults(run=_run_import)

    cases = verbs.add_parser("cases", help=_("list the follow-up cases a referral can be "
                                             "sent for"))
    cases.add_argument("--json", action="store_true", help=_("print JSON"))
    passphrase_options(cases)
    cases.set_defaults(run=_run_cases)

    status = verbs.add_parser("case-status", help=_("move a follow-up case to another status"))
    status.add_argument("case", metavar="RECORD_ID", help=_("the case's record id"))
    status.add_argument("status", metavar="STATUS", choices=[
        "new", "contacted", "referred", "accepted", "delivered", "closed"])
    status.add_argument("--note-file", metavar="FILE", type=Path,
                        help=_("a note for the case, read from FILE"))
    status.add_argument("--version", metavar="N", type=int, dest="case_version",
                        help=_("the case's version as `referral cases --json` showed it: "
                               "refused if another console changed the case since"))
    passphrase_options(status)
    status.set_defaults(run=_run_case_status)

    queue = verbs.add_parser("queue", help=_("list referrals sent, overdue first"))
    queue.add_argument("--json", action="store_true", help=_("print JSON"))
    passphrase_options(queue)
    queue.set_defaults(run=_run_queue)

    partner = subparsers.add_parser(
        "partner", help=_("a partner service: open referrals and answer them"))
    partner_verbs = partner.add_subparsers(dest="partner_verb", metavar="VERB")
    partner_verbs.required = True

    code = partner_verbs.add_parser("code", help=_("print this partner's enrolment code"))
    passphrase_options(code)
    code.set_defaults(run=_run_partner_code)

    identity = partner_verbs.add_parser(
        "identity", help=_("export the key that opens packages with the stock age tool"))
    identity.add_argument("--export", metavar="FILE", type=Path, required=True)
    passphrase_options(identity)
    identity.set_defaults(run=_run_partner_identity)

    opening = partner_verbs.add_parser("open", help=_("open referral packages"))
    opening.add_argument("files", metavar="FILE", type=Path, nargs="+")
    passphrase_options(opening)
    opening.set_defaults(run=_run_partner_open)

    listing = partner_verbs.add_parser("list", help=_("list the referrals received"))
    listing.add_argument("--json", action="store_true", help=_("print JSON"))
    passphrase_options(listing)
    listing.set_defaults(run=_run_partner_list)

    show = partner_verbs.add_parser("show", help=_("show one referral"))
    show.add_argument("referral", metavar="REFERRAL_ID")
    show.add_argument("--fhir", action="store_true",
                      help=_("print the referral's FHIR Bundle as JSON"))
    passphrase_options(show)
    show.set_defaults(run=_run_partner_show)

    update = partner_verbs.add_parser(
        "update", help=_("answer a referral with a sealed, signed Task update"))
    update.add_argument("referral", metavar="REFERRAL_ID")
    update.add_argument("--status", required=True,
                        choices=["accepted", "rejected", "in-progress", "completed"])
    update.add_argument("--reason", metavar="TEXT",
                        help=_("why the referral is declined (needed with rejected)"))
    update.add_argument("--note-file", metavar="FILE", type=Path,
                        help=_("a note for the coordinator, read from FILE"))
    update.add_argument("-o", "--output", metavar="PATH", type=Path, required=True)
    passphrase_options(update)
    update.set_defaults(run=_run_partner_update)


# -- coordinator ---------------------------------------------------------------------------


def _run_partner_enroll(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.referral_files import read_partner_code

    key = read_partner_code(args.code)
    profile = shared.unlock(args)
    try:
        profile.coordinator_signing_key()  # a coordinator profile only
        partner = profile.partners.enroll(key.raw, args.name or key.fingerprint()[:9])
    finally:
        profile.lock()
    print(_("Enrolled partner {id} ({name}). Fingerprint: {fingerprint} — check it matches "
            "the one the partner reads out.").format(
        id=partner.partner_id, name=partner.name, fingerprint=key.fingerprint()))
    return EXIT_OK


def _run_partners(args: argparse.Namespace) -> int:
    from fieldscreen.store.crypto import VerifyKey

    profile = shared.unlock(args)
    try:
        profile.coordinator_signing_key()
        partners = profile.partners.list()
    finally:
        profile.lock()
    rows = [{"partner_id": p.partner_id, "name": p.name,
             "fingerprint": VerifyKey(p.public_key).fingerprint(),
             "enrolled_at": p.enrolled_at, "revoked_at": p.revoked_at} for p in partners]
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    for row in rows:
        state = _("revoked") if row["revoked_at"] else _("active")
        print(f"{row['partner_id']}  {row['name']:<20} {row['fingerprint']}  {state}")
    return EXIT_OK


def _run_partner_revoke(args: argparse.Namespace) -> int:
    profile = shared.unlock(args)
    try:
        profile.coordinator_signing_key()
        partner = profile.partners.revoke(args.partner)
    finally:
        profile.lock()
    print(_("Revoked partner {id} ({name}): its updates are refused from now on.").format(
        id=partner.partner_id, name=partner.name))
    return EXIT_OK


def _run_send(args: argparse.Namespace) -> int:
    from fieldscreen.forms.services import load_services
    from fieldscreen.paths import shipped_dir
    from fieldscreen.workflows.referrals import refer_case

    services = load_services(args.services or shipped_dir("forms") / "services.yaml")
    note = _text_file(args.note_file)
    profile = shared.unlock(args)
    try:
        written = refer_case(profile, record_id=args.case, partner=args.partner,
                             service_id=args.service, services=services, share=args.share,
                             note=note, now=shared.now(), deliver=_deliver(args.output))
    finally:
        profile.lock()
    print(_("Referral {id} recorded; the case is now \"referred\".").format(
        id=written.referral_id))
    return EXIT_OK


def _run_withdraw(args: argparse.Namespace) -> int:
    from fieldscreen.workflows.referrals import withdraw_referral

    profile = shared.unlock(args)
    try:
        written = withdraw_referral(profile, args.referral, now=shared.now(),
                                    deliver=_deliver(args.output))
    finally:
        profile.lock()
    print(_("Referral {id} withdrawn; send the file to the partner.").format(
        id=written.referral_id))
    return EXIT_OK


def _run_import(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.referral_files import MAX_UPDATE_BYTES
    from fieldscreen.files import read_regular_file
    from fieldscreen.workflows.referrals import UpdateOutcome, import_update

    profile = shared.unlock(args)
    outcomes: list[UpdateOutcome] = []
    try:
        profile.coordinator_signing_key()
        quarantine_dir = profile.database_path.parent / "quarantine"
        for path in args.files:
            try:
                # One byte over the limit is enough to refuse it as too large.
                data = read_regular_file(path, MAX_UPDATE_BYTES + 1)
            except OSError as error:
                raise UserError(_("Cannot read {path}: {reason}").format(
                    path=path, reason=error.strerror or error)) from None
            outcomes.append(import_update(profile, data, source=str(path),
                                          quarantine_dir=quarantine_dir))
    finally:
        profile.lock()
    if args.json:
        json.dump([dataclasses.asdict(outcome) for outcome in outcomes], sys.stdout,
                  indent=2, ensure_ascii=False)
        print()
    else:
        for outcome in outcomes:
            if outcome.status == "imported":
                print(_("{source}: imported ({status}); case now {case}.").format(
                    source=outcome.source, status=outcome.partner_status,
                    case=outcome.case_status or _("unchanged")))
            elif outcome.status == "duplicate":
                print(_("{source}: already imported; nothing changed.").format(
                    source=outcome.source))
            else:
                print(_("{source}: quarantined ({code}): {reason}").format(
                    source=outcome.source, code=outcome.code, reason=outcome.reason))
    quarantined = sum(outcome.status == "quarantined" for outcome in outcomes)
    if quarantined:
        print(ngettext("{count} update was quarantined; see: fieldscreen coordinator "
                       "quarantine", "{count} updates were quarantined; see: fieldscreen "
                       "coordinator quarantine", quarantined).format(count=quarantined),
              file=sys.stderr)
        return EXIT_USER_ERROR
    return EXIT_OK


def _run_cases(args: argparse.Namespace) -> int:
    profile = shared.unlock(args)
    try:
        profile.coordinator_signing_key()
        cases = profile.referrals.cases()
    finally:
        profile.lock()
    rows = [{"record_id": case.record_id, "priority": case.priority,
             "status": case.status.value, "screened_at": case.screened_at,
             "due_at": case.due_at, "overdue": case.overdue, "version": case.version}
            for case in cases]
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    for row in rows:
        flag = _("OVERDUE") if row["overdue"] else ""
        print(f"{row['record_id']}  {row['priority']:<8} {row['status']:<10} "
              f"{row['screened_at']}  {flag}")
    return EXIT_OK


def _run_case_status(args: argparse.Namespace) -> int:
    from fieldscreen.store.follow_up import FollowUpStatus

    note = _text_file(args.note_file)
    profile = shared.unlock(args)
    try:
        profile.coordinator_signing_key()  # a coordinator profile only
        case = profile.referrals.change_status(args.case, FollowUpStatus(args.status), note,
                                               expected_version=args.case_version)
    finally:
        profile.lock()
    print(f"{case.record_id}  {case.status.value}  {case.version}")
    return EXIT_OK


def _run_queue(args: argparse.Namespace) -> int:
    profile = shared.unlock(args)
    try:
        profile.coordinator_signing_key()
        referrals = profile.referral_ledger.list(profile.referrals.deadlines())
        names = {p.partner_id: p.name for p in profile.partners.list()}
        cases = {case.record_id: case.status.value
                 for case in profile.referrals.cases(include_closed=True)}
    finally:
        profile.lock()
    rows = [{"referral_id": r.referral_id, "record_id": r.record_id,
             "partner": names.get(r.partner_id, r.partner_id), "service": r.service_name,
             "priority": r.priority, "status": r.status, "case_status": cases.get(r.record_id),
             "sent_at": r.sent_at, "answered_at": r.answered_at, "due_at": r.due_at,
             "overdue": r.overdue} for r in referrals]
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    for row in rows:
        flag = _("OVERDUE, no answer") if row["overdue"] else ""
        print(f"{row['referral_id']}  {row['priority']:<8} {row['status']:<11} "
              f"{row['partner']:<20} {row['sent_at']}  {flag}")
    return EXIT_OK


# -- partner -------------------------------------------------------------------------------


def _run_partner_code(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.referral_files import partner_code

    profile = shared.unlock(args)
    try:
        key = profile.partner_key().public
    finally:
        profile.lock()
    print(partner_code(key))
    print(_("Fingerprint: {fingerprint}").format(fingerprint=key.fingerprint()))
    return EXIT_OK


def _run_partner_identity(args: argparse.Namespace) -> int:
    from fieldscreen.files import write_atomically

    profile = shared.unlock(args)
    try:
        key = profile.partner_key()
    finally:
        profile.lock()
    try:
        write_atomically(args.export, key.openssh_private_key(), mode=0o600)
    except OSError as error:
        raise UserError(_("Cannot write {path}: {reason}").format(
            path=args.export, reason=error.strerror or error)) from None
    print(_("Wrote the partner's private key to {path}. It opens every referral sent to "
            "this partner: keep it as safe as the children's files.").format(
        path=args.export), file=sys.stderr)
    return EXIT_OK


def _run_partner_open(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.referral_files import MAX_PACKAGE_BYTES
    from fieldscreen.files import read_regular_file
    from fieldscreen.workflows.referrals import describe_referral, open_package

    profile = shared.unlock(args)
    try:
        for path in args.files:
            try:
                data = read_regular_file(path, MAX_PACKAGE_BYTES + 1)
            except OSError as error:
                raise UserError(_("Cannot read {path}: {reason}").format(
                    path=path, reason=error.strerror or error)) from None
            package, new = open_package(profile, data)
            if not new:
                print(_("{path}: opened before; nothing changed.").format(path=path))
            for line in describe_referral(profile.partner_inbox.get(package.referral_id)):
                print(line)
    finally:
        profile.lock()
    return EXIT_OK


def _run_partner_list(args: argparse.Namespace) -> int:
    profile = shared.unlock(args)
    try:
        profile.partner_key()
        referrals = profile.partner_inbox.list()
    finally:
        profile.lock()
    rows = [{"referral_id": r.referral_id, "received_at": r.received_at, "status": r.status,
             "coordinator": r.coordinator_name} for r in referrals]
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    for row in rows:
        print(f"{row['referral_id']}  {row['received_at']}  {row['status']:<11} "
              f"{row['coordinator']}")
    return EXIT_OK


def _run_partner_show(args: argparse.Namespace) -> int:
    from fieldscreen.store.partners import ReferralUnknown
    from fieldscreen.workflows.referrals import describe_referral

    profile = shared.unlock(args)
    try:
        profile.partner_key()
        try:
            referral = profile.partner_inbox.get(args.referral)
        except ReferralUnknown:
            raise UserError(_("There is no referral {id} in this partner's inbox.").format(
                id=args.referral[:40]), hint=_("List them with: fieldscreen partner list")
            ) from None
    finally:
        profile.lock()
    if args.fhir:
        json.dump(referral.bundle, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        for line in describe_referral(referral):
            print(line)
    return EXIT_OK


def _run_partner_update(args: argparse.Namespace) -> int:
    from fieldscreen.workflows.referrals import answer_referral

    note = _text_file(args.note_file)
    profile = shared.unlock(args)
    try:
        answer_referral(profile, args.referral, args.status, note=note, reason=args.reason,
                        now=shared.now(), deliver=_deliver(args.output))
    finally:
        profile.lock()
    print(_("Answered referral {id}: {status}. Send the file to the coordinator.").format(
        id=args.referral, status=args.status))
    return EXIT_OK
