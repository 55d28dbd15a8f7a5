"""`forms check | describe | import-xlsform | export-xlsform`: checklist form files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fieldscreen.cli.shared import EXIT_OK, EXIT_USER_ERROR, Verbs
from fieldscreen.errors import UserError
from fieldscreen.i18n import _

if TYPE_CHECKING:
    from fieldscreen.forms.expressions import Expression
    from fieldscreen.forms.schema import Indicator, Item


def register(verbs: Verbs) -> None:
    forms = verbs.add_parser("forms", help=_("check and describe checklist form files"))
    form_verbs = forms.add_subparsers(dest="forms_verb", metavar="VERB")
    form_verbs.required = True
    _add_check(form_verbs)
    _add_describe(form_verbs)
    _add_import_xlsform(form_verbs)
    _add_export_xlsform(form_verbs)


def _add_check(verbs: Verbs) -> None:
    check = verbs.add_parser(
        "check", help=_("validate form and services files; print file:line: message per problem")
    )
    check.add_argument("paths", nargs="+", metavar="PATH", type=Path,
                       help=_("form files or folders of them"))
    check.set_defaults(run=_run_check)


def _run_check(args: argparse.Namespace) -> int:
    from fieldscreen.forms.loader import check_paths

    problems = check_paths(args.paths)
    for problem in problems:
        print(problem)
    if problems:
        return EXIT_USER_ERROR
    print(_("All files are valid."), file=sys.stderr)
    return EXIT_OK


def _add_describe(verbs: Verbs) -> None:
    describe = verbs.add_parser("describe", help=_("list a form's items"))
    describe.add_argument("form", metavar="FORM", type=Path)
    describe.add_argument("--json", action="store_true", help=_("print JSON"))
    describe.set_defaults(run=_run_describe)


def _run_describe(args: argparse.Namespace) -> int:
    from fieldscreen.forms.loader import load_form

    form = load_form(args.form)
    items = [_describe_item(item, form.default_language) for item in form.items]
    if args.json:
        json.dump(items, sys.stdout, ensure_ascii=False, indent=2)
        print()
        return EXIT_OK
    print(f"{form.id} {form.version}: {form.title.get(form.default_language)}")
    for item in items:
        print(f"  {item['name']:<32} {item['type']:<16} {' '.join(_marks(item))}")
    return EXIT_OK


def _describe_item(item: Item, language: str) -> dict[str, Any]:
    return {
        "name": item.name,
        "type": item.type.value,
        "label": item.label.get(language) or None,
        "group": item.parent,
        **_describe_indicator(item.indicator),
        "audience": item.audience.value if item.audience else None,
        "role": item.role.value if item.role else None,
        "choices": list(item.choice_list.names) if item.choice_list else [],
        "required": item.required,
        # A condition under which the item is required (XLSForm's expression `required`).
        "required_when": _source(item.required_when),
        "relevant": _source(item.relevant),
        "constraint": _source(item.constraint),
        "calculation": _source(item.calculation),
    }


def _describe_indicator(indicator: Indicator | None) -> dict[str, Any]:
    if indicator is None:
        return {"level": None, "kind": None, "weight": None, "red_flag": False}
    return {"level": indicator.level.value, "kind": indicator.kind.value,
            "weight": indicator.weight, "red_flag": indicator.red_flag}


def _source(expression: Expression | None) -> str | None:
    return expression.source if expression else None


def _marks(item: dict[str, Any]) -> list[str]:
    """What `forms describe` prints after an item's type: indicator, red flag, audience, role."""
    marks = []
    if item["level"]:
        marks.append(f"{item['level']}/{item['kind']}/w{item['weight']:g}")
    if item["red_flag"]:
        marks.append(_("red flag"))
    if item["audience"]:
        marks.append(item["audience"])
    if item["role"]:
        marks.append(f"role={item['role']}")
    return marks


def _add_import_xlsform(verbs: Verbs) -> None:
    import_xls = verbs.add_parser(
        "import-xlsform", help=_("convert an XLSForm spreadsheet into a FieldScreen form"))
    import_xls.add_argument("xlsform", metavar="FILE.xlsx", type=Path)
    import_xls.add_argument("-o", "--output", metavar="OUT", type=Path, required=True)
    import_xls.set_defaults(run=_run_import_xlsform)


def _run_import_xlsform(args: argparse.Namespace) -> int:
    from fieldscreen.files import write_atomically
    from fieldscreen.forms.xlsform import import_xlsform

    result = import_xlsform(args.xlsform)
    for warning in result.warnings:
        print(_("warning: {problem}").format(problem=warning), file=sys.stderr)
    try:
        write_atomically(args.output, result.yaml_text.encode("utf-8"), mode=0o644)
    except OSError as error:
        raise UserError(_("Cannot write {path}: {reason}").format(
            path=args.output, reason=error.strerror or error)) from None
    print(_("Wrote {path}; check it with: fieldscreen forms check {path}").format(
        path=args.output), file=sys.stderr)
    return EXIT_OK


def _add_export_xlsform(verbs: Verbs) -> None:
    export_xls = verbs.add_parser(
        "export-xlsform", help=_("write a FieldScreen form as an XLSForm spreadsheet"))
    export_xls.add_argument("form", metavar="FORM", type=Path)
    export_xls.add_argument("-o", "--output", metavar="FILE.xlsx", type=Path, required=True)
    export_xls.set_defaults(run=_run_export_xlsform)


def _run_export_xlsform(args: argparse.Namespace) -> int:
    from fieldscreen.forms.loader import load_form
    from fieldscreen.forms.xlsform import export_xlsform

    form = load_form(args.form)
    export_xlsform(form, args.form.read_text(encoding="utf-8"), args.output)
    print(_("Wrote {path}.").format(path=args.output), file=sys.stderr)
    return EXIT_OK
