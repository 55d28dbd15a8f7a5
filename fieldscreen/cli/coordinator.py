"""`coordinator identity | pack | enroll | revoke | check | fill-scopes | devices |
quarantine | small-cell-minimum | coordinators | add-coordinator | remove-coordinator`: the
coordinator's keys, deployment packs, enrolled devices, the health of its store, the areas
and partners of rows stored before they were kept, the deployment's smallest count shown,
and the several coordinators who share one coordinator profile."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from fieldscreen.cli.shared import (
    EXIT_OK,
    EXIT_USER_ERROR,
    Verbs,
    new_passphrase,
    now,
    passphrase_options,
    unlock,
    webdav_options,
    webdav_password,
)
from fieldscreen.errors import UserError
from fieldscreen.i18n import _, ngettext


def register(verbs: Verbs) -> None:
    coordinator = verbs.add_parser("coordinator", help=_("coordinator keys, packs and devices"))
    coordinator_verbs = coordinator.add_subparsers(dest="coordinator_verb", metavar="VERB")
    coordinator_verbs.required = True
    _add_identity(coordinator_verbs)
    _add_pack(coordinator_verbs)
    _add_enroll(coordinator_verbs)
    _add_revoke(coordinator_verbs)
    _add_check(coordinator_verbs)
    _add_fill_scopes(coordinator_verbs)
    _add_devices(coordinator_verbs)
    _add_quarantine(coordinator_verbs)
    _add_small_cell_minimum(coordinator_verbs)
    _add_coordinators(coordinator_verbs)
    _add_add_coordinator(coordinator_verbs)
    _add_remove_coordinator(coordinator_verbs)


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=_("print JSON"))


# -- keys and packs ---------------------------------------------------------------------------


def _add_identity(verbs: Verbs) -> None:
    identity = verbs.add_parser(
        "identity", help=_("export the age identity for escrow and disaster recovery"))
    identity.add_argument("--export", metavar="FILE", type=Path, required=True)
    passphrase_options(identity)
    identity.set_defaults(run=_run_identity)


def _run_identity(args: argparse.Namespace) -> int:
    profile = unlock(args)
    try:
        identity = profile.coordinator_identity()
        text = (f"# created: {now().strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
                f"# public key: {identity.recipient}\n{identity.secret}\n")
    finally:
        profile.lock()
    try:
        descriptor = os.open(args.export, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UserError(_("{path} already exists; nothing was written.").format(
            path=args.export)) from None
    except OSError as error:
        raise UserError(_("Cannot write {path}: {reason}").format(
            path=args.export, reason=error.strerror or error)) from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(text)
    print(_("WARNING: {path} now holds the key that opens EVERY batch and recovers EVERY "
            "field profile of this deployment. Keep it offline, in a safe, and never send "
            "it over the network.").format(path=args.export), file=sys.stderr)
    return EXIT_OK


def _add_pack(verbs: Verbs) -> None:
    pack = verbs.add_parser("pack", help=_("write a signed deployment pack"))
    pack.add_argument("-o", "--output", metavar="FILE", type=Path, required=True)
    pack.add_argument("--form", metavar="PATH", type=Path, action="append",
                      help=_("a checklist form (repeatable; default: the shipped checklist)"))
    pack.add_argument("--services", metavar="PATH", type=Path,
                      help=_("the services directory (default: the shipped example)"))
    pack.add_argument("--sync-target", metavar="DIR_OR_URL",
                      help=_("where field laptops deliver batches"))
    webdav_options(pack)
    pack.add_argument("--ca-certificate", metavar="PEM", type=Path,
                      help=_("a private certificate authority for a self-hosted HTTPS server"))
    pack.add_argument("--retention-days", metavar="N", type=int, default=30,
                      help=_("days a received record stays on a laptop (default: %(default)s)"))
    pack.add_argument("--child-codes", action="store_true",
                      help=_("let laptops make the pseudonymous child code that links two "
                             "screenings of one child: the deployment's linkage key goes in, "
                             "sealed to each enrolled laptop (docs/security.md)"))
    passphrase_options(pack)
    pack.set_defaults(run=_run_pack)


def _run_pack(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.pack import (
        SyncSettings,
        absolute_sync_target,
        build_pack,
        deployment_coordinators,
        linkage_share,
    )
    from fieldscreen.exchange.speech import find_speech_engine
    from fieldscreen.files import write_atomically
    from fieldscreen.paths import shipped_dir

    forms = args.form or [shipped_dir("forms") / "child-screening.yaml"]
    services = args.services or shipped_dir("forms") / "services.yaml"
    sync_settings = None
    if args.sync_target:
        ca = args.ca_certificate.read_text(encoding="ascii") if args.ca_certificate else None
        sync_settings = SyncSettings(absolute_sync_target(args.sync_target), args.webdav_user,
                                     webdav_password(args), ca)
    speech = find_speech_engine()
    profile = unlock(args)
    try:
        raw = build_pack(
            signing_key=profile.coordinator_signing_key(),
            recipient=profile.coordinator_identity().recipient,
            coordinator_name=profile.acting_coordinator().name,
            coordinators=deployment_coordinators(profile), form_paths=forms,
            services_path=services,
            sync=sync_settings, retention_days=args.retention_days, demo=profile.info.demo,
            now=now(), sequence=profile.next_pack_sequence(),
            linkage=linkage_share(profile) if args.child_codes else None, speech=speech)
        laptops = len(linkage_share(profile).devices) if args.child_codes else 0
        fingerprint = profile.coordinator_signing_key().public.fingerprint()
    finally:
        profile.lock()
    try:
        write_atomically(args.output, raw, mode=0o644)
    except OSError as error:
        raise UserError(_("Cannot write {path}: {reason}").format(
            path=args.output, reason=error.strerror or error)) from None
    print(_("Wrote the deployment pack {path}; its key fingerprint is {fingerprint}.").format(
        path=args.output, fingerprint=fingerprint), file=sys.stderr)
    if speech is None:
        print(_("espeak-ng is not installed here, so the pack has no generated readings: "
                "only the recordings the forms name."), file=sys.stderr)
    elif speech.unvoiced:
        print(_("espeak-ng has no voice for {languages}: the pack has no generated readings "
                "in them.").format(languages=", ".join(sorted(speech.unvoiced))),
              file=sys.stderr)
    if args.child_codes:
        print(ngettext("Child codes: the linkage key is sealed to {count} enrolled laptop; a "
                       "laptop enrolled later gets it in the next pack.",
                       "Child codes: the linkage key is sealed to {count} enrolled laptops; a "
                       "laptop enrolled later gets it in the next pack.",
                       laptops).format(count=laptops), file=sys.stderr)
    return EXIT_OK


# -- devices ----------------------------------------------------------------------------------


def _add_enroll(verbs: Verbs) -> None:
    enroll = verbs.add_parser("enroll", help=_("accept batches from a device"))
    enroll.add_argument("code", metavar="CODE")
    enroll.add_argument("--name", metavar="NAME", help=_("a name for the device"))
    passphrase_options(enroll)
    enroll.set_defaults(run=_run_enroll)


def _run_enroll(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.enrolment import read_enrolment_code

    key = read_enrolment_code(args.code)
    profile = unlock(args)
    try:
        device = profile.devices.enroll(key.raw, args.name or key.fingerprint()[:9])
    finally:
        profile.lock()
    print(_("Enrolled device {id} ({name}). Fingerprint: {fingerprint} — check it matches "
            "the one on the device's screen.").format(
        id=device.device_id, name=device.name, fingerprint=key.fingerprint()))
    return EXIT_OK


def _add_revoke(verbs: Verbs) -> None:
    revoke = verbs.add_parser("revoke", help=_("refuse further batches from a device"))
    revoke.add_argument("device", metavar="DEVICE", help=_("device id or name"))
    passphrase_options(revoke)
    revoke.set_defaults(run=_run_revoke)


def _run_revoke(args: argparse.Namespace) -> int:
    profile = unlock(args)
    try:
        device = profile.devices.revoke(args.device)
    finally:
        profile.lock()
    print(_("Revoked device {id} ({name}): its batches are refused from now on.").format(
        id=device.device_id, name=device.name))
    return EXIT_OK


def _add_devices(verbs: Verbs) -> None:
    devices = verbs.add_parser("devices", help=_("list enrolled devices"))
    _json_option(devices)
    passphrase_options(devices)
    devices.set_defaults(run=_run_devices)


def _run_devices(args: argparse.Namespace) -> int:
    from fieldscreen.store.crypto import VerifyKey

    profile = unlock(args)
    try:
        devices = profile.devices.list()
        last = profile.inbox.last_sequences()
    finally:
        profile.lock()
    rows = [{"device_id": d.device_id, "name": d.name,
             "fingerprint": VerifyKey(d.public_key).fingerprint(),
             "enrolled_at": d.enrolled_at, "revoked_at": d.revoked_at,
             "last_sequence": last.get(d.device_id, 0)} for d in devices]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return EXIT_OK
    for row in rows:
        state = _("revoked") if row["revoked_at"] else _("active")
        print(f"{row['device_id']}  {row['name']:<20} {row['fingerprint']}  {state}")
    return EXIT_OK


# -- the store --------------------------------------------------------------------------------


def _add_check(verbs: Verbs) -> None:
    check = verbs.add_parser(
        "check", help=_("check the store: values that cannot be read, and the file's integrity"))
    _json_option(check)
    passphrase_options(check)
    check.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    from fieldscreen.workflows.store_check import check_coordinator_store

    profile = unlock(args)
    progress = None
    if sys.stderr.isatty():
        # A 4 GiB file takes minutes: show that the check is working (dots on the
        # terminal only, so scripts and pipes read the result alone).
        print(_("Checking the whole data file") + "…", end="", file=sys.stderr, flush=True)
        steps = [0]

        def progress() -> None:
            steps[0] += 1
            if steps[0] % 2000 == 0:
                print(".", end="", file=sys.stderr, flush=True)
    # A supervisor's or partner organisation's login reads only its rows (and not the
    # coordinators' tables): the check covers those, and says so.
    every_row = profile.inbox.sees_every_row
    try:
        result = check_coordinator_store(profile, progress)
    finally:
        profile.lock()
        if progress is not None:
            print(file=sys.stderr)
    if args.json:
        json.dump({**result.to_json(), "every_row": every_row}, sys.stdout, indent=2)
        print()
    else:
        print(ngettext("Checked {count} imported record.", "Checked {count} imported records.",
                       result.records).format(count=result.records))
        if not every_row:
            print(_("This database login reads only the records of its areas or partner "
                    "organisation: the check covered those, and the tables it may read."))
        for record_id, name in result.unreadable:
            print(_("Record {id}: its stored {field} cannot be read; it counts as "
                    "\"not known\".").format(id=record_id, field=name))
        print(_("The database file passed its integrity check.") if result.integrity_ok
              else _("The database file FAILED its integrity check."))
    if result.ok:
        return EXIT_OK
    print(_("Error: {message}").format(message=_(
        "the store holds values that cannot be read, or the file is damaged.")),
        file=sys.stderr)
    print(_("Keep the profile as it is and make a copy of its folder before anything else; "
            "the records named above stay counted as \"not known\"."), file=sys.stderr)
    return EXIT_USER_ERROR


def _add_fill_scopes(verbs: Verbs) -> None:
    fill = verbs.add_parser(
        "fill-scopes", help=_("write the area and partner of records and referrals stored "
                              "before they were kept, so supervisors and partners see them"))
    fill.add_argument("--batch", metavar="N", type=int, default=500,
                      help=_("rows per transaction (default 500)"))
    _json_option(fill)
    passphrase_options(fill)
    fill.set_defaults(run=_run_fill_scopes)


def _run_fill_scopes(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise UserError(_("--batch must be 1 or more."), hint=_("Leave it out to use 500."))
    from fieldscreen.store.profile import ProfileRole

    profile = unlock(args)
    try:
        if profile.info.role is not ProfileRole.COORDINATOR:
            raise UserError(_("Areas and partners are filled in on the coordinator's "
                              "profile; this is a field profile."),
                            hint=_("Choose the coordinator profile with --profile NAME."))
        if not profile.inbox.sees_every_row:
            # Row-level security would hide the very rows to fill: refused, not "0 filled".
            raise UserError(
                _("Only a coordinator's database login can fill in areas and partners: "
                  "this login reads only some rows."),
                hint=_("Nothing was changed. Run it again with a coordinator's login in "
                       "--database."))
        # Records first: a referral takes its record's area.
        records = profile.inbox.fill_areas(args.batch)
        referrals = profile.referral_ledger.fill_scopes(args.batch)
        profile.inbox.audit_scopes_filled(records, referrals)
    finally:
        profile.lock()
    if args.json:
        json.dump({"records": records, "referrals": referrals}, sys.stdout, indent=2)
        print()
    else:
        print(ngettext("Filled in the area of {count} record.",
                       "Filled in the area of {count} records.", records).format(count=records))
        print(ngettext("Filled in the partner and area of {count} referral.",
                       "Filled in the partner and area of {count} referrals.",
                       referrals).format(count=referrals))
    return EXIT_OK


def _add_quarantine(verbs: Verbs) -> None:
    quarantine = verbs.add_parser("quarantine", help=_("list refused batches and why"))
    _json_option(quarantine)
    passphrase_options(quarantine)
    quarantine.set_defaults(run=_run_quarantine)


def _run_quarantine(args: argparse.Namespace) -> int:
    profile = unlock(args)
    try:
        entries = profile.inbox.quarantined()
    finally:
        profile.lock()
    rows = [{"id": e.id, "source": e.source, "stored_as": e.stored_as, "code": e.reason_code,
             "reason": e.reason, "at": e.at, "device_id": e.device_id, "batch_id": e.batch_id}
            for e in entries]
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    for row in rows:
        print(f"{row['at']}  {row['code']:<16} {row['source']}\n    {row['reason']}")
    return EXIT_OK


# -- statistics ---------------------------------------------------------------------------------


def _add_small_cell_minimum(verbs: Verbs) -> None:
    minimum = verbs.add_parser(
        "small-cell-minimum",
        help=_("raise the deployment's smallest count shown (it can never be lowered)"))
    minimum.add_argument("minimum", metavar="N", type=int,
                         help=_("counts below N are hidden in every dashboard and export"))
    passphrase_options(minimum)
    minimum.set_defaults(run=_run_small_cell_minimum)


def _run_small_cell_minimum(args: argparse.Namespace) -> int:
    from fieldscreen.reporting.suppression import (
        SMALL_CELL_MINIMUM,
        deployment_minimum,
        raise_deployment_minimum,
    )
    from fieldscreen.store.profile import ProfileRole

    if args.minimum < SMALL_CELL_MINIMUM:
        # Refused before the passphrase is asked: no deployment goes below the default.
        raise UserError(
            _("The smallest count shown can only be raised: counts below {minimum} are "
              "always hidden.").format(minimum=SMALL_CELL_MINIMUM),
            hint=_("Choose {minimum} or more.").format(minimum=SMALL_CELL_MINIMUM))
    profile = unlock(args)
    try:
        if profile.info.role is not ProfileRole.COORDINATOR:
            raise UserError(_("The smallest count shown is set on the coordinator's profile; "
                              "this is a field profile."),
                            hint=_("Choose the coordinator profile with --profile NAME."))
        before = deployment_minimum(profile)
        raise_deployment_minimum(profile, args.minimum)
    finally:
        profile.lock()
    if args.minimum == before:
        print(_("Counts below {minimum} were already hidden; nothing changed.").format(
            minimum=before))
    else:
        print(_("Counts below {minimum} are now hidden in every dashboard and export of this "
                "deployment (it was {before}). This cannot be lowered again.").format(
            minimum=args.minimum, before=before))
    return EXIT_OK


# -- several coordinators ----------------------------------------------------------------------


def _add_coordinators(verbs: Verbs) -> None:
    listing = verbs.add_parser("coordinators",
                               help=_("list the coordinators who share this profile"))
    _json_option(listing)
    passphrase_options(listing)
    listing.set_defaults(run=_run_coordinators)


def _run_coordinators(args: argparse.Namespace) -> int:
    from fieldscreen.store.crypto import VerifyKey

    profile = unlock(args)
    try:
        entries = profile.coordinators()
        acting = profile.acting_coordinator().coordinator_id
    finally:
        profile.lock()
    rows = [{"coordinator_id": entry.coordinator_id, "name": entry.name,
             "age_recipient": entry.age_recipient,
             "fingerprint": VerifyKey(entry.signing_key).fingerprint(),
             "added_at": entry.added_at, "first": entry.first,
             "you": entry.coordinator_id == acting} for entry in entries]
    if args.json:
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return EXIT_OK
    for row in rows:
        print(f"{row['name']:<20} {row['fingerprint']}  {row['age_recipient']}"
              + ("  *" if row["you"] else ""))
    return EXIT_OK


def _add_add_coordinator(verbs: Verbs) -> None:
    add = verbs.add_parser(
        "add-coordinator",
        help=_("add a coordinator who opens this profile with their own passphrase"))
    add.add_argument("name", metavar="NAME")
    add.add_argument("--new-passphrase-file", metavar="FILE", type=Path,
                     help=_("read the new coordinator's passphrase from the first line of "
                            "FILE"))
    passphrase_options(add)
    add.set_defaults(run=_run_add_coordinator)


def _run_add_coordinator(args: argparse.Namespace) -> int:
    profile = unlock(args)
    try:
        profile.coordinator_signing_key()  # a coordinator profile only
        entry = profile.add_coordinator(args.name, new_passphrase(args))
    finally:
        profile.lock()
    print(_("Added coordinator {name}. Write a new deployment pack so that laptops seal "
            "batches to them too.").format(name=entry.name))
    return EXIT_OK


def _add_remove_coordinator(verbs: Verbs) -> None:
    remove = verbs.add_parser(
        "remove-coordinator", help=_("close a coordinator's key slot in this profile"))
    remove.add_argument("name", metavar="NAME")
    passphrase_options(remove)
    remove.set_defaults(run=_run_remove_coordinator)


def _run_remove_coordinator(args: argparse.Namespace) -> int:
    profile = unlock(args)
    try:
        profile.coordinator_signing_key()  # a coordinator profile only
        entry = profile.remove_coordinator(args.name)
    finally:
        profile.lock()
    print(_("Removed coordinator {name}: their passphrase no longer opens this profile. "
            "Write a new deployment pack: laptops that install it refuse their packs and "
            "receipts.").format(name=entry.name))
    return EXIT_OK
