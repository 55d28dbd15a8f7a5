"""`record add | list`: encrypted screening records saved from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fieldscreen.cli.screening import read_answers
from fieldscreen.cli.shared import EXIT_OK, Verbs, passphrase_options, unlock
from fieldscreen.errors import UserError
from fieldscreen.i18n import _, ngettext


def register(verbs: Verbs) -> None:
    record = verbs.add_parser("record", help=_("save and list encrypted screening records"))
    record_verbs = record.add_subparsers(dest="record_verb", metavar="VERB")
    record_verbs.required = True
    _add_add(record_verbs)
    _add_list(record_verbs)


def _add_add(verbs: Verbs) -> None:
    add = verbs.add_parser("add", help=_("save a final record from a file of answers; "
                                         "prints its id"))
    add.add_argument("form", metavar="FORM", type=Path)
    add.add_argument("--answers", metavar="ANSWERS.json", type=Path, required=True)
    passphrase_options(add)
    add.set_defaults(run=_run_add)


def _run_add(args: argparse.Namespace) -> int:
    from fieldscreen.engine.session import ScreeningSession
    from fieldscreen.forms.loader import load_form

    form = load_form(args.form)
    answers = read_answers(args.answers)
    session = ScreeningSession(form)
    session.answer_all(answers)
    problems = session.problems()
    if problems:
        raise UserError(
            _("The answers are not complete: {problems}").format(
                problems="; ".join(f"{p.item}: {p.message}" for p in problems)),
            hint=_("Fix the answers file and run the command again; nothing was saved."),
        )
    outcome = session.outcome()
    profile = unlock(args)
    try:
        summary = profile.records.save_final(form.id, form.version, session.answers_json(),
                                             outcome.to_json())
    finally:
        profile.lock()
    print(summary.id)
    return EXIT_OK


def _add_list(verbs: Verbs) -> None:
    listing = verbs.add_parser("list", help=_("list records (no answers shown)"))
    listing.add_argument("--json", action="store_true", help=_("print JSON"))
    passphrase_options(listing)
    listing.set_defaults(run=_run_list)


def _run_list(args: argparse.Namespace) -> int:
    profile = unlock(args)
    try:
        summaries = profile.records.list()
    finally:
        profile.lock()
    if args.json:
        json.dump([summary.to_json() for summary in summaries], sys.stdout, indent=2)
        print()
        return EXIT_OK
    for summary in summaries:
        print(f"{summary.id}  {summary.status.value:<8}  {summary.updated_at}  "
              f"{summary.form_id} {summary.form_version}  {summary.decision or '-'}")
    print(ngettext("{count} record", "{count} records", len(summaries)).format(
        count=len(summaries)), file=sys.stderr)
    return EXIT_OK
