"""`profile create | passwd | recover | update-pack | enrolment-code`: a profile's keys.

Creating and unlocking go through `workflows/profiles.py`, as the windows do; a passphrase
is asked only once nothing else can fail first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fieldscreen.cli.shared import (
    EXIT_OK,
    Verbs,
    new_passphrase,
    passphrase,
    passphrase_options,
    profile_store,
    read_bytes,
    unlock,
)
from fieldscreen.errors import UserError
from fieldscreen.i18n import _


def register(verbs: Verbs) -> None:
    profile = verbs.add_parser("profile", help=_("create and manage encrypted profiles"))
    profile_verbs = profile.add_subparsers(dest="profile_verb", metavar="VERB")
    profile_verbs.required = True
    _add_create(profile_verbs)
    _add_passwd(profile_verbs)
    _add_recover(profile_verbs)
    _add_update_pack(profile_verbs)
    _add_enrolment_code(profile_verbs)


def _new_passphrase_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--new-passphrase-file", metavar="FILE", type=Path,
                        help=_("read the new passphrase from the first line of FILE"))


def _add_create(verbs: Verbs) -> None:
    create = verbs.add_parser("create", help=_("create a profile protected by a passphrase"))
    create.add_argument("--role", choices=["field", "coordinator", "partner"], required=True)
    create.add_argument("--name", metavar="NAME",
                        help=_("the profile's name (default: the --profile value)"))
    create.add_argument("--recovery-recipient", metavar="AGE1...",
                        help=_("the coordinator's age recipient, so a forgotten passphrase "
                               "loses nothing"))
    create.add_argument("--pack", metavar="FILE", type=Path,
                        help=_("install the coordinator's deployment pack (field profiles)"))
    passphrase_options(create)
    create.set_defaults(run=_run_create)


def _run_create(args: argparse.Namespace) -> int:
    from fieldscreen.store.profile import ProfileRole
    from fieldscreen.workflows.profiles import create_profile

    name = args.name or args.profile
    store = profile_store(args)
    store.path(name)  # refuse a bad name before reading the pack
    pack_raw = None
    if args.pack is not None:
        # The combination is refused before the file is read, as any argument error is.
        if args.role != "field":
            raise UserError(_("A deployment pack is installed on field profiles."))
        pack_raw = read_bytes(args.pack)
    profile, pack = create_profile(
        store, name, ProfileRole(args.role),
        lambda: passphrase(args, _("New passphrase: "), confirm=True),
        pack_raw=pack_raw, recovery_recipient=args.recovery_recipient)
    try:
        if pack is not None:
            print(_("Installed the deployment pack of {name} (key {fingerprint}).").format(
                name=pack.coordinator_name or _("the coordinator"),
                fingerprint=pack.signing_key.fingerprint()), file=sys.stderr)
        info = profile.info
        has_recovery = pack is not None or info.has_recovery
    finally:
        profile.lock()
    print(_("Created the {role} profile '{name}'.").format(role=info.role.value, name=name),
          file=sys.stderr)
    if not has_recovery:
        print(_("It has no recovery slot: if the passphrase is forgotten, its records are "
                "lost. Creating it from a deployment pack adds one."), file=sys.stderr)
    return EXIT_OK


def _add_passwd(verbs: Verbs) -> None:
    passwd = verbs.add_parser("passwd", help=_("change the profile's passphrase"))
    passphrase_options(passwd)
    _new_passphrase_option(passwd)
    passwd.set_defaults(run=_run_passwd)


def _run_passwd(args: argparse.Namespace) -> int:
    profile = unlock(args)
    try:
        profile.change_passphrase(new_passphrase(args))
    finally:
        profile.lock()
    print(_("The passphrase was changed."), file=sys.stderr)
    return EXIT_OK


def _add_recover(verbs: Verbs) -> None:
    recover = verbs.add_parser(
        "recover", help=_("open a profile with the coordinator's age identity and set a new "
                          "passphrase"))
    recover.add_argument("--identity-file", metavar="FILE", type=Path, required=True,
                         help=_("the coordinator's exported age identity"))
    _new_passphrase_option(recover)
    recover.set_defaults(run=_run_recover)


def _run_recover(args: argparse.Namespace) -> int:
    from fieldscreen.store.crypto import AgeIdentity, CryptoError

    try:
        text = read_bytes(args.identity_file).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise UserError(_("Cannot read the identity file {path}.").format(
            path=args.identity_file)) from None
    lines = [line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-")]
    try:
        identity = AgeIdentity(lines[0] if lines else text)
    except CryptoError:
        raise UserError(_("{path} holds no age identity (AGE-SECRET-KEY-1...).").format(
            path=args.identity_file)) from None
    locked = profile_store(args).open(args.profile)
    try:
        profile = locked.recover(identity, new_passphrase(args))
    except BaseException:
        locked.close()
        raise
    profile.lock()
    print(_("The profile was recovered and has a new passphrase."), file=sys.stderr)
    return EXIT_OK


def _add_update_pack(verbs: Verbs) -> None:
    update_pack = verbs.add_parser(
        "update-pack", help=_("install a newer deployment pack from the same coordinator"))
    update_pack.add_argument("pack", metavar="FILE", type=Path)
    passphrase_options(update_pack)
    update_pack.set_defaults(run=_run_update_pack)


def _run_update_pack(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.pack import install_pack

    raw = read_bytes(args.pack)
    profile = unlock(args)
    try:
        installed = install_pack(profile, raw)
    finally:
        profile.lock()
    pack = installed.pack
    print(_("Installed the deployment pack ({forms}).").format(
        forms=", ".join(f"{form.id} {form.version}" for form in pack.forms)), file=sys.stderr)
    if not installed.linkage:
        print(_("This pack carries no linkage key for this laptop: screenings will have no "
                "child code."), file=sys.stderr)
    return EXIT_OK


def _add_enrolment_code(verbs: Verbs) -> None:
    code = verbs.add_parser(
        "enrolment-code", help=_("print this device's enrolment code and fingerprint"))
    passphrase_options(code)
    code.set_defaults(run=_run_enrolment_code)


def _run_enrolment_code(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.enrolment import enrolment_code

    profile = unlock(args)
    try:
        key = profile.device_key().public
    finally:
        profile.lock()
    print(enrolment_code(key))
    print(_("Fingerprint: {fingerprint}").format(fingerprint=key.fingerprint()))
    return EXIT_OK
