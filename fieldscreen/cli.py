"""The `fieldscreen` command: argparse verbs over the core; the GUI is imported only when needed.

Errors a person can fix (UserError) print their message and exit 1; anything else is a bug
and prints a report that names the exception type and where it happened, never its message,
which could carry a child's data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fieldscreen import __version__
from fieldscreen.errors import UserError
from fieldscreen.i18n import _

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_BUG = 70  # EX_SOFTWARE from sysexits.h


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fieldscreen",
        description=_("Screen children for vulnerability to trafficking and exploitation, "
                      "offline, with encrypted records."),
    )
    parser.add_argument("--version", action="version", version=f"fieldscreen {__version__}")
    parser.add_argument(
        "--basedir",
        metavar="DIR",
        type=Path,
        help=_("keep every file of this run under DIR instead of the usual per-user folders"),
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    demo = verbs.add_parser(
        "demo", help=_("open the app in training mode with synthetic data (no real records)")
    )
    demo.add_argument("--quit-after", type=int, metavar="MS", help=argparse.SUPPRESS)
    demo.set_defaults(run=_run_demo)

    forms = verbs.add_parser("forms", help=_("check and describe checklist form files"))
    form_verbs = forms.add_subparsers(dest="forms_verb", metavar="VERB")
    form_verbs.required = True
    check = form_verbs.add_parser(
        "check", help=_("validate form and services files; print file:line: message per problem")
    )
    check.add_argument("paths", nargs="+", metavar="PATH", type=Path,
                       help=_("form files or folders of them"))
    check.set_defaults(run=_run_forms_check)
    describe = form_verbs.add_parser("describe", help=_("list a form's items"))
    describe.add_argument("form", metavar="FORM", type=Path)
    describe.add_argument("--json", action="store_true", help=_("print JSON"))
    describe.set_defaults(run=_run_forms_describe)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except UserError as error:
        print(_("Error: {message}").format(message=error), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); not a bug. Silence the flush at exit.
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except Exception as error:
        _report_bug(error)
        return EXIT_BUG


def _report_bug(error: BaseException) -> None:
    # The message is left out on purpose: it may quote an answer about a child.
    frames = traceback.format_tb(error.__traceback__)
    print(
        _("FieldScreen hit a bug ({kind}). Nothing you saved is affected. Please report this "
          "to your coordinator with the lines below.").format(kind=type(error).__name__),
        file=sys.stderr,
    )
    print("".join(frames), file=sys.stderr, end="")


# -- demo -----------------------------------------------------------------------------


def _run_demo(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from fieldscreen.forms.loader import load_form
    from fieldscreen.paths import AppDirectories, shipped_dir

    # Training never touches real profiles: a throw-away base directory unless one is given.
    temporary = args.basedir is None
    base = Path(tempfile.mkdtemp(prefix="fieldscreen-demo-")) if temporary else args.basedir
    try:
        AppDirectories.under(base).ensure()
        shipped = shipped_dir("forms") / "child-screening.yaml"
        form = load_form(shipped) if shipped.is_file() else None
        try:
            from fieldscreen.ui.preview import run_preview
        except ImportError as error:
            raise UserError(
                _("The desktop interface cannot start: {reason}").format(reason=error),
                hint=_("Install FieldScreen with its Qt dependency (PySide6-Essentials)."),
            ) from None
        return run_preview(form, quit_after_ms=args.quit_after)
    finally:
        if temporary:
            shutil.rmtree(base, ignore_errors=True)


# -- forms ------------------------------------------------------------------------------


def _run_forms_check(args: argparse.Namespace) -> int:
    from fieldscreen.forms.loader import check_paths

    problems = check_paths(args.paths)
    for problem in problems:
        print(problem)
    if problems:
        return EXIT_USER_ERROR
    print(_("All files are valid."), file=sys.stderr)
    return EXIT_OK


def _describe_item(item: Any, language: str) -> dict[str, Any]:
    indicator = item.indicator
    return {
        "name": item.name,
        "type": item.type.value,
        "label": item.label.get(language) or None,
        "group": item.parent,
        "level": indicator.level.value if indicator else None,
        "kind": indicator.kind.value if indicator else None,
        "weight": indicator.weight if indicator else None,
        "red_flag": indicator.red_flag if indicator else False,
        "audience": item.audience.value if item.audience else None,
        "role": item.role.value if item.role else None,
        "choices": list(item.choice_list.names) if item.choice_list else [],
        "required": item.required,
        "relevant": item.relevant.source if item.relevant else None,
        "constraint": item.constraint.source if item.constraint else None,
        "calculation": item.calculation.source if item.calculation else None,
    }


def _run_forms_describe(args: argparse.Namespace) -> int:
    from fieldscreen.forms.loader import load_form

    form = load_form(args.form)
    items = [_describe_item(item, form.default_language) for item in form.items]
    if args.json:
        json.dump(items, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return EXIT_OK
    print(f"{form.id} {form.version}: {form.title.get(form.default_language)}")
    for item in items:
        marks = []
        if item["level"]:
            marks.append(f"{item['level']}/{item['kind']}/w{item['weight']:g}")
        if item["red_flag"]:
            marks.append(_("red flag"))
        if item["audience"]:
            marks.append(item["audience"])
        if item["role"]:
            marks.append(f"role={item['role']}")
        print(f"  {item['name']:<32} {item['type']:<16} {' '.join(marks)}")
    return EXIT_OK


# -- screen -----------------------------------------------------------------------------


def _read_answers(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(_("No answers file at {path}.").format(path=path)) from None
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
    if not isinstance(data, dict):
        raise UserError(_("{path}: the answers must be one JSON object of item name to answer."
                          ).format(path=path))
    return data


def _run_screen(args: argparse.Namespace) -> int:
    import datetime as dt

    from fieldscreen.engine.session import ScreeningSession, utc_now
    from fieldscreen.forms.loader import load_form

    form = load_form(args.form)
    answers = _read_answers(args.answers)
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


def _print_decision(form: Any, decision: Any, problems: list[Any]) -> None:
    from fieldscreen.engine.explain import outcome_title, reason_text

    language = form.default_language
    print(_("Decision: {outcome}").format(outcome=outcome_title(decision.outcome)))
    if decision.follow_up:
        print(_("Follow-up visit needed: many questions are still open."))
    for reason in decision.reasons:
        print(f"- {reason_text(reason, decision)}")
        for name in reason.items:
            print(f"    {name}: {form.item(name).label.get(language)}")
    if problems:
        print(_("Answers to check:"))
        for problem in problems:
            print(f"- {problem.item}: {problem.message}")
    print(_("This is a screening for referral, not identification or proof."))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
