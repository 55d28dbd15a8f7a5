"""`sync` (a field laptop delivers its batches) and `import` (the coordinator takes them in)."""

from __future__ import annotations

import argparse
import json
import sys

from fieldscreen.cli.shared import (
    EXIT_OK,
    EXIT_USER_ERROR,
    Verbs,
    now,
    passphrase_options,
    unlock,
    webdav_options,
    webdav_password,
)
from fieldscreen.i18n import _


def register(verbs: Verbs) -> None:
    _add_sync(verbs)
    _add_import(verbs)


def _add_sync(verbs: Verbs) -> None:
    sync_verb = verbs.add_parser(
        "sync", help=_("seal final records into batches, deliver them, read receipts"))
    sync_verb.add_argument("--to", metavar="DIR_OR_URL",
                           help=_("a folder or WebDAV URL (default: the pack's target)"))
    sync_verb.add_argument("--json", action="store_true", help=_("print JSON"))
    passphrase_options(sync_verb)
    sync_verb.set_defaults(run=_run_sync)


def _run_sync(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.sync import sync

    profile = unlock(args)
    try:
        report = sync(profile, target=args.to, now=now)
    finally:
        profile.lock()
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(_("Sealed {records} records into {batches} batches; delivered {delivered}; "
                "{pending} waiting; {received} records confirmed received; {purged} purged."
                ).format(records=report.sealed_records, batches=report.sealed_batches,
                         delivered=report.delivered_batches, pending=report.pending_batches,
                         received=report.received_records, purged=report.purged_records))
        for warning in report.warnings:
            print(warning, file=sys.stderr)
    if report.error:
        print(_("Error: {message}").format(message=report.error), file=sys.stderr)
        return EXIT_USER_ERROR
    return EXIT_OK


def _add_import(verbs: Verbs) -> None:
    import_verb = verbs.add_parser(
        "import", help=_("import batches from files, folders or a WebDAV URL (coordinator)"))
    import_verb.add_argument("sources", nargs="+", metavar="SOURCE")
    import_verb.add_argument("--json", action="store_true", help=_("print JSON"))
    webdav_options(import_verb)
    passphrase_options(import_verb)
    import_verb.set_defaults(run=_run_import)


def _run_import(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.importer import BatchImporter
    from fieldscreen.exchange.transports import transport_for

    password = webdav_password(args)
    profile = unlock(args)
    try:
        importer = BatchImporter(profile, profile.database_path.parent / "quarantine", now)
        report = importer.run(
            args.sources,
            lambda url: transport_for(url, username=args.webdav_user, password=password))
    finally:
        profile.lock()
    summary = report.to_json()
    if args.json:
        json.dump(summary, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        batches, records = summary["batches"], summary["records"]
        print(_("Batches: {imported} imported, {duplicate} already imported, {quarantined} "
                "quarantined. Records: {records_imported} imported, {records_duplicate} "
                "duplicates.").format(
            imported=batches["imported"], duplicate=batches["duplicate"],
            quarantined=batches["quarantined"], records_imported=records["imported"],
            records_duplicate=records["duplicate"]))
        for detail in report.batches:
            if detail.status == "quarantined":
                print(_("Quarantined {source}: {reason}").format(
                    source=detail.source, reason=detail.reason), file=sys.stderr)
            if detail.warning:
                print(detail.warning, file=sys.stderr)
    for error in report.errors:
        print(_("Error: {message}").format(message=error), file=sys.stderr)
    return EXIT_USER_ERROR if report.quarantined or report.errors else EXIT_OK
