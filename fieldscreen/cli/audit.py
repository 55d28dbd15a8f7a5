"""`audit verify`: whether the profile's tamper-evident audit chain holds."""

from __future__ import annotations

import argparse

from fieldscreen.cli.shared import EXIT_OK, EXIT_USER_ERROR, Verbs, passphrase_options, unlock
from fieldscreen.i18n import _, ngettext


def register(verbs: Verbs) -> None:
    audit = verbs.add_parser("audit", help=_("check the tamper-evident audit log"))
    audit_verbs = audit.add_subparsers(dest="audit_verb", metavar="VERB")
    audit_verbs.required = True
    verify = audit_verbs.add_parser("verify", help=_("exit 0 when the audit chain holds"))
    passphrase_options(verify)
    verify.set_defaults(run=_run_verify)


def _run_verify(args: argparse.Namespace) -> int:
    profile = unlock(args)
    try:
        result = profile.verify_audit()
    finally:
        profile.lock()
    if result.holds:
        print(ngettext("The audit chain holds ({count} entry).",
                       "The audit chain holds ({count} entries).", result.entries).format(
            count=result.entries))
        return EXIT_OK
    print(_("The audit chain is broken at entry {seq}: {reason}.").format(
        seq=result.first_broken, reason=result.reason))
    return EXIT_USER_ERROR
