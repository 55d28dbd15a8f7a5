"""`linkage pairs | link | unlink`: screenings that may be one child, for a person to decide.

A view over `workflows.linkage.LinkageWorkflow`, as the console's "Same child?" tab is. It
prints record ids, scores and the names of the fields on which two screenings agree; never
an answer, a child code or any other child data.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING

from fieldscreen.cli.shared import EXIT_OK, Verbs, passphrase_options, unlock
from fieldscreen.errors import UserError
from fieldscreen.i18n import _, ngettext

if TYPE_CHECKING:
    from fieldscreen.store.profile import UnlockedProfile

# A record id as field laptops make them: a lower-case UUID (store.record_ids).
_RECORD_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def register(verbs: Verbs) -> None:
    linkage = verbs.add_parser(
        "linkage", help=_("screenings that may be the same child: list, link, unlink"))
    linkage_verbs = linkage.add_subparsers(dest="linkage_verb", metavar="VERB")
    linkage_verbs.required = True

    pairs = linkage_verbs.add_parser(
        "pairs", help=_("list candidate pairs with their score and the fields that agree"))
    pairs.add_argument("--json", action="store_true", help=_("print JSON"))
    passphrase_options(pairs)
    pairs.set_defaults(run=_run_pairs)

    for verb, helped, run in (
            ("link", _("record that two screenings are the same child (audited)"), _run_link),
            ("unlink", _("undo a link between two screenings (audited)"), _run_unlink)):
        parser = linkage_verbs.add_parser(verb, help=helped)
        parser.add_argument("first", metavar="ID1", help=_("a screening's record id"))
        parser.add_argument("second", metavar="ID2", help=_("the other screening's record id"))
        passphrase_options(parser)
        parser.set_defaults(run=run)


def _run_pairs(args: argparse.Namespace) -> int:
    from fieldscreen.workflows.linkage import LinkageWorkflow

    profile = _coordinator(args)
    try:
        pairs = LinkageWorkflow(profile).pairs()
    finally:
        profile.lock()
    if args.json:
        json.dump([{"first": pair.first, "second": pair.second,
                    "score": round(pair.score, 4), "reasons": list(pair.reasons),
                    "linked": pair.linked} for pair in pairs], sys.stdout, indent=2)
        print()
        return EXIT_OK
    for pair in pairs:
        state = _("linked") if pair.linked else _("not linked")
        print(f"{pair.score:.2f}  {pair.first}  {pair.second}  {state:<10}  "
              f"{', '.join(pair.reasons)}")
    print(ngettext("{count} pair to look at.", "{count} pairs to look at.",
                   len(pairs)).format(count=len(pairs)) if pairs
          else _("No screenings look like the same child."), file=sys.stderr)
    return EXIT_OK


def _run_link(args: argparse.Namespace) -> int:
    return _decide(args, link=True)


def _run_unlink(args: argparse.Namespace) -> int:
    return _decide(args, link=False)


def _decide(args: argparse.Namespace, *, link: bool) -> int:
    from fieldscreen.workflows.linkage import LinkageWorkflow

    first, second = _record_id(args.first), _record_id(args.second)
    if first == second:
        raise UserError(_("Give two different record ids; a screening is not linked with "
                          "itself."),
                        hint=_("'fieldscreen linkage pairs' lists the candidate pairs."))
    pair = (first, second) if first < second else (second, first)
    profile = _coordinator(args)
    try:
        workflow = LinkageWorkflow(profile)
        before = pair in workflow.links()
        if link:
            workflow.link(first, second)
        else:
            workflow.unlink(first, second)
    finally:
        profile.lock()
    if link:
        message = (_("{first} and {second} were already linked; nothing changed.") if before
                   else _("Linked {first} and {second}: recorded as two screenings of the "
                          "same child, and noted in the audit log."))
    else:
        message = (_("Unlinked {first} and {second}: they are separate screenings again, "
                     "and the change is noted in the audit log.") if before
                   else _("{first} and {second} were not linked; nothing changed."))
    print(message.format(first=pair[0], second=pair[1]))
    return EXIT_OK


def _record_id(text: str) -> str:
    if not _RECORD_ID.match(text.strip().lower()):
        raise UserError(
            _("'{text}' is not a record id.").format(text=text[:40]),
            hint=_("A record id looks like 0190f3a2-7c41-7d2e-9b1a-3f5e8c2d4a61; "
                   "'fieldscreen linkage pairs' lists them."))
    return text.strip().lower()


def _coordinator(args: argparse.Namespace) -> UnlockedProfile:
    from fieldscreen.store.profile import ProfileRole

    profile = unlock(args)
    if profile.info.role is not ProfileRole.COORDINATOR:
        profile.lock()
        raise UserError(_("Screenings are linked on the coordinator's profile; this is a "
                          "field profile, which keeps no imported screenings."),
                        hint=_("Choose the coordinator profile with --profile NAME."))
    return profile
