"""`screen`: a file of answers evaluated against a form, nothing saved; and reading such a
file, which `record add` shares."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldscreen.cli.shared import EXIT_OK, Verbs
from fieldscreen.errors import UserError
from fieldscreen.i18n import _

if TYPE_CHECKING:
    from fieldscreen.engine.referral import ReferralDecision
    from fieldscreen.engine.session import AnswerProblem
    from fieldscreen.forms.schema import Form


def register(verbs: Verbs) -> None:
    screen = verbs.add_parser(
        "screen", help=_("evaluate a file of answers against a form without saving anything")
    )
    screen.add_argument("form", metavar="FORM", type=Path)
    screen.add_argument("--answers", metavar="ANSWERS.json", type=Path, required=True,
                        help=_("a JSON object of item name to answer"))
    screen.add_argument("--today", metavar="YYYY-MM-DD",
                        help=_("evaluate as if today were this date"))
    screen.add_argument("--json", action="store_true", help=_("print JSON"))
    screen.set_defaults(run=_run_screen)


def _run_screen(args: argparse.Namespace) -> int:
    import datetime as dt

    from fieldscreen.engine.session import ScreeningSession, utc_now
    from fieldscreen.forms.loader import load_form

    form = load_form(args.form)
    answers = read_answers(args.answers)
    clock = utc_now
    if args.today:
        try:
            fixed = dt.datetime.combine(dt.date.fromisoformat(args.today), dt.time(12),
                                        tzinfo=dt.UTC)
        except ValueError:
            raise UserError(_("--today takes a date written YYYY-MM-DD.")) from None

        def clock() -> dt.datetime:
            return fixed

    session = ScreeningSession(form, clock=clock)
    session.answer_all(answers)
    decision = session.decision()
    problems = session.problems()
    if args.json:
        output = decision.to_json()
        output["problems"] = [
            {"item": problem.item, "message": problem.message} for problem in problems
        ]
        json.dump(output, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return EXIT_OK
    _print_decision(form, decision, problems)
    return EXIT_OK


def _print_decision(form: Form, decision: ReferralDecision,
                    problems: list[AnswerProblem]) -> None:
    from fieldscreen.engine.explain import outcome_title, reason_text
    from fieldscreen.forms.translations import with_catalog_languages
    from fieldscreen.i18n import active_language

    language = active_language()
    form = with_catalog_languages(form)
    print(_("Decision: {outcome}").format(outcome=outcome_title(decision.outcome)))
    if decision.follow_up:
        print(_("Follow-up visit needed: many questions are still open."))
    for reason in decision.reasons:
        print(f"- {reason_text(reason, decision)}")
        for name in reason.items:
            print(f"    {name}: {form.item(name).label.get(language, form.default_language)}")
    if problems:
        print(_("Answers to check:"))
        for problem in problems:
            print(f"- {problem.item}: {problem.message}")
    print(_("This is a screening for referral, not identification or proof."))


def read_answers(path: Path) -> dict[str, Any]:
    """The answers file at `path`: one JSON object of item name to answer.

    Every way it can be wrong is a UserError that names the file, never its content.
    """
    from fieldscreen.files import NotARegularFile, read_regular_file

    try:
        text = read_regular_file(path).decode("utf-8")
    except FileNotFoundError:
        raise UserError(_("No answers file at {path}.").format(path=path)) from None
    except NotARegularFile:
        raise UserError(_("{path} is not a file but a pipe or a device.").format(path=path),
                        hint=_("Give the path of a JSON file of answers.")) from None
    except (OSError, UnicodeDecodeError):
        raise UserError(_("Cannot read {path}; it must be a UTF-8 JSON file.").format(
            path=path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(
            _("{path}:{line}: not valid JSON: {problem}").format(
                path=path, line=error.lineno, problem=error.msg),
            hint=_("Write the answers as one JSON object of item name to answer."),
        ) from None
    except RecursionError:
        raise UserError(_("{path}: the JSON is nested too deeply.").format(path=path)) from None
    except ValueError:
        # json refuses integers of more than 4300 digits (a guard of Python's own).
        raise UserError(
            _("{path}: not valid JSON: {problem}").format(path=path, problem="number too long"),
            hint=_("Write the answers as one JSON object of item name to answer.")) from None
    if not isinstance(data, dict):
        raise UserError(_("{path}: the answers must be one JSON object of item name to answer."
                          ).format(path=path))
    return data
