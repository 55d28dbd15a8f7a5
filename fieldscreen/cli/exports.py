"""`export`: the coordinator's counts (small cells hidden) or one row per screening, as CSV
or XLSX, with every argument checked before the passphrase is asked."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from fieldscreen.cli.shared import EXIT_OK, Verbs, now, passphrase_options, unlock
from fieldscreen.errors import UserError
from fieldscreen.i18n import _, ngettext


def register(verbs: Verbs) -> None:
    export = verbs.add_parser(
        "export", help=_("write the coordinator's counts, or one row per screening, as CSV or "
                         "XLSX (coordinator)"))
    export.add_argument("--format", choices=["csv", "xlsx"], required=True,
                        help=_("the file format"))
    export.add_argument("-o", "--output", metavar="FILE", type=Path, required=True)
    export.add_argument("--hxl", action="store_true",
                        help=_("add a row of HXL hashtags under the header"))
    export.add_argument("--records", action="store_true",
                        help=_("one row per screening instead of counts (personal data)"))
    export.add_argument("--from", dest="start", metavar="YYYY-MM-DD",
                        help=_("only screenings on or after this date"))
    export.add_argument("--to", dest="end", metavar="YYYY-MM-DD",
                        help=_("only screenings on or before this date"))
    export.add_argument("--area", dest="areas", metavar="CODE", action="append",
                        help=_("only screenings in this area, by its code (repeatable)"))
    export.add_argument("--age-bands", choices=["standard", "unhcr"], default="standard",
                        help=_("standard: 0-5, 6-11, 12-17; unhcr: 0-4, 5-11, 12-17 "
                               "(default: %(default)s)"))
    export.add_argument("--small-cell", metavar="N", type=int,
                        help=_("write counts from 1 to N-1 as \"<N\" (default: 5)"))
    passphrase_options(export)
    export.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from fieldscreen.reporting.dashboard import AgeBands, DashboardFilter

    start, end = _export_date(args.start, "--from"), _export_date(args.end, "--to")
    if start is not None and end is not None and start > end:
        raise UserError(_("--from {start} is after --to {end}.").format(
            start=start.isoformat(), end=end.isoformat()),
            hint=_("Give the earlier date with --from and the later one with --to."))
    small_cell = _small_cell(args)
    query = DashboardFilter(start=start, end=end,
                            areas=frozenset(args.areas) if args.areas else None,
                            age_bands=AgeBands(args.age_bands))

    from fieldscreen.forms.schema import Role
    from fieldscreen.forms.translations import load_translated_form
    from fieldscreen.i18n import active_language
    from fieldscreen.paths import shipped_dir
    from fieldscreen.reporting.exports import export_profile
    from fieldscreen.reporting.labels import form_labels

    # Category words come from the shipped checklist, in the interface language.
    form = load_translated_form(shipped_dir("forms") / "child-screening.yaml")
    area_item = form.item_with_role(Role.AREA)
    known_areas = (area_item.choice_list.names
                   if area_item is not None and area_item.choice_list is not None else ())
    profile = unlock(args)
    try:
        result = export_profile(
            profile, args.output, fmt=args.format, hxl=args.hxl, records=args.records,
            query=query, labels=form_labels(form, active_language()), small_cell=small_cell,
            known_areas=known_areas, now=now)
    finally:
        profile.lock()
    if result.records:
        print(ngettext("Wrote {path}: {count} screening, one row per child. It is personal "
                       "data: keep it encrypted and share it only with people who need it.",
                       "Wrote {path}: {count} screenings, one row per child. It is personal "
                       "data: keep it encrypted and share it only with people who need it.",
                       result.rows).format(path=result.path, count=result.rows),
              file=sys.stderr)
    else:
        print(ngettext("Wrote {path}: counts of {count} child.",
                       "Wrote {path}: counts of {count} children.", result.total).format(
            path=result.path, count=result.total), file=sys.stderr)
    return EXIT_OK


def _export_date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise UserError(_("{option} takes a date written YYYY-MM-DD, not '{text}'.").format(
            option=option, text=text[:40]),
            hint=_("For example: {option} 2026-03-01").format(option=option)) from None


def _small_cell(args: argparse.Namespace) -> int:
    """The --small-cell threshold, refused where it means nothing or hides nothing sensible."""
    from fieldscreen.reporting.dashboard import DEFAULT_SMALL_CELL

    if args.small_cell is not None and args.records:
        raise UserError(_("--small-cell applies to counts: a record-level export has one row "
                          "per child, so nothing in it is suppressed."),
                        hint=_("Leave out --records to export counts with small cells "
                               "hidden."))
    small_cell: int = DEFAULT_SMALL_CELL if args.small_cell is None else args.small_cell
    if small_cell < 1:
        raise UserError(_("--small-cell takes a whole number of 1 or more."),
                        hint=_("5 (the default) writes counts from 1 to 4 as \"<5\"; 1 "
                               "hides nothing."))
    return small_cell
