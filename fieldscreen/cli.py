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
from fieldscreen.files import write_atomically
from fieldscreen.i18n import _, ngettext

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_BUG = 70  # EX_SOFTWARE from sysexits.h


class _ExactArgumentParser(argparse.ArgumentParser):
    """No abbreviated options: `--new-passphrase X` must not pass for `--new-passphrase-file`.

    With abbreviations on, a passphrase typed after such a prefix would be taken as a file
    name and echoed back in the error message. Subparsers inherit this class.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def _build_parser() -> argparse.ArgumentParser:
    parser = _ExactArgumentParser(
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
    parser.add_argument(
        "--language",
        metavar="CODE",
        help=_("the interface language, e.g. fr, es, ar, uk (default: from the "
               "environment, else English)"),
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        default="default",
        help=_("the profile to use (default: %(default)s)"),
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    demo = verbs.add_parser(
        "demo", help=_("open the app in training mode with synthetic data (no real records)")
    )
    demo.add_argument("--check-scenarios", action="store_true",
                      help=_("check every training scenario's expected outcome against the "
                             "rules; exit 1 naming each that differs"))
    demo.add_argument("--scenarios", metavar="DIR", type=Path,
                      help=_("the scenario folder (default: the shipped scenarios)"))
    demo.add_argument("--keep", metavar="DIR", type=Path,
                      help=_("keep the training sandbox in DIR instead of removing it at exit"))
    demo.add_argument("--coordinator", action="store_true",
                      help=_("open the training coordinator's console, with training batches "
                             "from a training laptop waiting to be imported"))
    demo.add_argument("--quit-after", type=int, metavar="MS", help=argparse.SUPPRESS)
    demo.set_defaults(run=_run_demo)

    field = verbs.add_parser(
        "field", help=_("open the outreach worker's window (creates a profile on first run)"))
    field.add_argument("--auto-lock-minutes", type=float, metavar="N", default=5.0,
                       help=_("lock after N idle minutes (default: %(default)s)"))
    field.add_argument("--quit-after", type=int, metavar="MS", help=argparse.SUPPRESS)
    field.set_defaults(run=_run_field)

    console = verbs.add_parser(
        "console", help=_("open the coordinator's console: import, referral queue, dashboard, "
                          "devices (creates the profile on first run)"))
    console.add_argument("--auto-lock-minutes", type=float, metavar="N", default=15.0,
                         help=_("lock after N idle minutes (default: %(default)s)"))
    console.add_argument("--quit-after", type=int, metavar="MS", help=argparse.SUPPRESS)
    console.set_defaults(run=_run_console)

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
    import_xls = form_verbs.add_parser(
        "import-xlsform", help=_("convert an XLSForm spreadsheet into a FieldScreen form"))
    import_xls.add_argument("xlsform", metavar="FILE.xlsx", type=Path)
    import_xls.add_argument("-o", "--output", metavar="OUT", type=Path, required=True)
    import_xls.set_defaults(run=_run_forms_import_xlsform)
    export_xls = form_verbs.add_parser(
        "export-xlsform", help=_("write a FieldScreen form as an XLSForm spreadsheet"))
    export_xls.add_argument("form", metavar="FORM", type=Path)
    export_xls.add_argument("-o", "--output", metavar="FILE.xlsx", type=Path, required=True)
    export_xls.set_defaults(run=_run_forms_export_xlsform)

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

    profile = verbs.add_parser("profile", help=_("create and manage encrypted profiles"))
    profile_verbs = profile.add_subparsers(dest="profile_verb", metavar="VERB")
    profile_verbs.required = True
    create = profile_verbs.add_parser("create", help=_("create a profile protected by a "
                                                       "passphrase"))
    create.add_argument("--role", choices=["field", "coordinator", "partner"], required=True)
    create.add_argument("--name", metavar="NAME",
                        help=_("the profile's name (default: the --profile value)"))
    create.add_argument("--recovery-recipient", metavar="AGE1...",
                        help=_("the coordinator's age recipient, so a forgotten passphrase "
                               "loses nothing"))
    create.add_argument("--pack", metavar="FILE", type=Path,
                        help=_("install the coordinator's deployment pack (field profiles)"))
    _passphrase_options(create)
    create.set_defaults(run=_run_profile_create)
    passwd = profile_verbs.add_parser("passwd", help=_("change the profile's passphrase"))
    _passphrase_options(passwd)
    passwd.add_argument("--new-passphrase-file", metavar="FILE", type=Path,
                        help=_("read the new passphrase from the first line of FILE"))
    passwd.set_defaults(run=_run_profile_passwd)
    recover = profile_verbs.add_parser(
        "recover", help=_("open a profile with the coordinator's age identity and set a new "
                          "passphrase"))
    recover.add_argument("--identity-file", metavar="FILE", type=Path, required=True,
                         help=_("the coordinator's exported age identity"))
    recover.add_argument("--new-passphrase-file", metavar="FILE", type=Path,
                         help=_("read the new passphrase from the first line of FILE"))
    recover.set_defaults(run=_run_profile_recover)
    update_pack = profile_verbs.add_parser(
        "update-pack", help=_("install a newer deployment pack from the same coordinator"))
    update_pack.add_argument("pack", metavar="FILE", type=Path)
    _passphrase_options(update_pack)
    update_pack.set_defaults(run=_run_profile_update_pack)
    code = profile_verbs.add_parser(
        "enrolment-code", help=_("print this device's enrolment code and fingerprint"))
    _passphrase_options(code)
    code.set_defaults(run=_run_profile_enrolment_code)

    record = verbs.add_parser("record", help=_("save and list encrypted screening records"))
    record_verbs = record.add_subparsers(dest="record_verb", metavar="VERB")
    record_verbs.required = True
    add = record_verbs.add_parser("add", help=_("save a final record from a file of answers; "
                                                "prints its id"))
    add.add_argument("form", metavar="FORM", type=Path)
    add.add_argument("--answers", metavar="ANSWERS.json", type=Path, required=True)
    _passphrase_options(add)
    add.set_defaults(run=_run_record_add)
    listing = record_verbs.add_parser("list", help=_("list records (no answers shown)"))
    listing.add_argument("--json", action="store_true", help=_("print JSON"))
    _passphrase_options(listing)
    listing.set_defaults(run=_run_record_list)

    sync_verb = verbs.add_parser(
        "sync", help=_("seal final records into batches, deliver them, read receipts"))
    sync_verb.add_argument("--to", metavar="DIR_OR_URL",
                           help=_("a folder or WebDAV URL (default: the pack's target)"))
    sync_verb.add_argument("--json", action="store_true", help=_("print JSON"))
    _passphrase_options(sync_verb)
    sync_verb.set_defaults(run=_run_sync)

    import_verb = verbs.add_parser(
        "import", help=_("import batches from files, folders or a WebDAV URL (coordinator)"))
    import_verb.add_argument("sources", nargs="+", metavar="SOURCE")
    import_verb.add_argument("--json", action="store_true", help=_("print JSON"))
    _webdav_options(import_verb)
    _passphrase_options(import_verb)
    import_verb.set_defaults(run=_run_import)

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
    _passphrase_options(export)
    export.set_defaults(run=_run_export)

    coordinator = verbs.add_parser("coordinator", help=_("coordinator keys, packs and devices"))
    coordinator_verbs = coordinator.add_subparsers(dest="coordinator_verb", metavar="VERB")
    coordinator_verbs.required = True
    identity = coordinator_verbs.add_parser(
        "identity", help=_("export the age identity for escrow and disaster recovery"))
    identity.add_argument("--export", metavar="FILE", type=Path, required=True)
    _passphrase_options(identity)
    identity.set_defaults(run=_run_coordinator_identity)
    pack = coordinator_verbs.add_parser("pack", help=_("write a signed deployment pack"))
    pack.add_argument("-o", "--output", metavar="FILE", type=Path, required=True)
    pack.add_argument("--form", metavar="PATH", type=Path, action="append",
                      help=_("a checklist form (repeatable; default: the shipped checklist)"))
    pack.add_argument("--services", metavar="PATH", type=Path,
                      help=_("the services directory (default: the shipped example)"))
    pack.add_argument("--sync-target", metavar="DIR_OR_URL",
                      help=_("where field laptops deliver batches"))
    _webdav_options(pack)
    pack.add_argument("--ca-certificate", metavar="PEM", type=Path,
                      help=_("a private certificate authority for a self-hosted HTTPS server"))
    pack.add_argument("--retention-days", metavar="N", type=int, default=30,
                      help=_("days a received record stays on a laptop (default: %(default)s)"))
    _passphrase_options(pack)
    pack.set_defaults(run=_run_coordinator_pack)
    enroll = coordinator_verbs.add_parser("enroll", help=_("accept batches from a device"))
    enroll.add_argument("code", metavar="CODE")
    enroll.add_argument("--name", metavar="NAME", help=_("a name for the device"))
    _passphrase_options(enroll)
    enroll.set_defaults(run=_run_coordinator_enroll)
    revoke = coordinator_verbs.add_parser("revoke", help=_("refuse further batches from a "
                                                           "device"))
    revoke.add_argument("device", metavar="DEVICE", help=_("device id or name"))
    _passphrase_options(revoke)
    revoke.set_defaults(run=_run_coordinator_revoke)
    check = coordinator_verbs.add_parser(
        "check", help=_("check the store: values that cannot be read, and the file's integrity"))
    check.add_argument("--json", action="store_true", help=_("print JSON"))
    _passphrase_options(check)
    check.set_defaults(run=_run_coordinator_check)
    devices = coordinator_verbs.add_parser("devices", help=_("list enrolled devices"))
    devices.add_argument("--json", action="store_true", help=_("print JSON"))
    _passphrase_options(devices)
    devices.set_defaults(run=_run_coordinator_devices)
    quarantine = coordinator_verbs.add_parser(
        "quarantine", help=_("list refused batches and why"))
    quarantine.add_argument("--json", action="store_true", help=_("print JSON"))
    _passphrase_options(quarantine)
    quarantine.set_defaults(run=_run_coordinator_quarantine)

    audit = verbs.add_parser("audit", help=_("check the tamper-evident audit log"))
    audit_verbs = audit.add_subparsers(dest="audit_verb", metavar="VERB")
    audit_verbs.required = True
    verify = audit_verbs.add_parser("verify", help=_("exit 0 when the audit chain holds"))
    _passphrase_options(verify)
    verify.set_defaults(run=_run_audit_verify)
    from fieldscreen.referral_verbs import register as register_referral_verbs
    register_referral_verbs(verbs)
    return parser


def _webdav_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webdav-user", metavar="USER", help=_("WebDAV user name"))
    parser.add_argument("--webdav-password-file", metavar="FILE", type=Path,
                        help=_("read the WebDAV password from the first line of FILE"))


def _passphrase_options(parser: argparse.ArgumentParser) -> None:
    # Never on the command line itself: it would show in the shell history and `ps`.
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--passphrase-file", metavar="FILE", type=Path,
                       help=_("read the passphrase from the first line of FILE"))
    group.add_argument("--passphrase-stdin", action="store_true",
                       help=_("read the passphrase from the first line of standard input"))


def _choose_language(argv: Sequence[str]) -> None:
    """Set the UI language before the parser is built, so its help is translated too.

    `--language CODE` wins; otherwise the environment's (LANGUAGE, LC_ALL, LC_MESSAGES,
    LANG) when a catalog exists for it; otherwise English.
    """
    from fieldscreen.i18n import SOURCE_LANGUAGE, available_languages, set_language

    available = available_languages()
    wanted: list[str] = []
    for index, argument in enumerate(argv):
        if argument == "--language" and index + 1 < len(argv):
            wanted = [argv[index + 1]]
        elif argument.startswith("--language="):
            wanted = [argument.split("=", 1)[1]]
    if not wanted:
        for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
            value = os.environ.get(variable, "")
            if value and value not in ("C", "POSIX"):
                wanted = [part.split(".")[0] for part in value.split(":")]
                break
    for code in wanted:
        for candidate in (code, code.split("_")[0]):
            if candidate in available:
                set_language(candidate)
                return
    set_language(SOURCE_LANGUAGE)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    _choose_language(arguments)
    broken = _undecodable_argument(arguments)
    if broken is not None:
        print(_("Error: {message}").format(message=_(
            "argument {number} is not valid text for this computer (bytes that are not "
            "UTF-8).").format(number=broken)), file=sys.stderr)
        print(_("Type it again with the keyboard, or rename the file it names."),
              file=sys.stderr)
        return EXIT_USER_ERROR
    parser = _build_parser()
    args = parser.parse_args(arguments)
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


def _undecodable_argument(arguments: list[str]) -> int | None:
    """The position (from 1) of an argument holding bytes that are not valid text, if any.

    Python keeps such bytes as lone surrogates ("\\udcff"), which cannot be stored, printed
    or compared with anything saved; a path to an existing file is still accepted, since
    the file system takes it back as the same bytes.
    """
    for number, argument in enumerate(arguments, start=1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            if not os.path.exists(argument):
                return number
    return None


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


def _run_check_scenarios(args: argparse.Namespace) -> int:
    from fieldscreen.demo.scenarios import check_all, shipped_scenarios_dir
    from fieldscreen.forms.loader import load_form
    from fieldscreen.paths import shipped_dir

    form = load_form(shipped_dir("forms") / "child-screening.yaml")
    folder = args.scenarios or shipped_scenarios_dir()
    checks = check_all(folder, form)
    if not checks:
        raise UserError(_("No scenarios in {folder}.").format(folder=folder))
    for check in checks:
        for line in check.lines():
            print(line)
    failed = [check for check in checks if not check.ok]
    print(ngettext("{count} scenario checked", "{count} scenarios checked", len(checks)).format(
        count=len(checks)) + "; " + ngettext("{failed} differs from the rules.",
                                             "{failed} differ from the rules.",
                                             len(failed)).format(failed=len(failed)),
          file=sys.stderr)
    return EXIT_USER_ERROR if failed else EXIT_OK


def _run_demo(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from fieldscreen.paths import AppDirectories

    if args.check_scenarios:
        return _run_check_scenarios(args)
    if args.keep is not None and args.basedir is not None:
        raise UserError(_("Use --keep DIR or --basedir DIR, not both."))
    # Training never touches real profiles: a throw-away base directory unless one is given.
    chosen = args.keep or args.basedir
    temporary = chosen is None
    base = Path(tempfile.mkdtemp(prefix="fieldscreen-demo-")) if temporary else chosen
    try:
        directories = AppDirectories.under(base).ensure()
        if args.coordinator:
            return _run_training_console(directories, args.quit_after,
                                         sandbox=base if temporary else None)
        return _run_gui(AppDirectories.under(base), "training", demo=True,
                        quit_after_ms=args.quit_after, sandbox=base if temporary else None)
    finally:
        if temporary:
            shutil.rmtree(base, ignore_errors=True)


def _require_display_libraries() -> None:
    """Stop with the packages to install before Qt aborts for a missing system library."""
    from fieldscreen.system_libraries import missing_packages

    missing = missing_packages()
    if missing:
        libraries = sorted(soname for sonames in missing.values() for soname in sonames)
        raise UserError(
            _("The desktop interface cannot start: this computer lacks system libraries "
              "that Qt needs to open a window ({libraries}).").format(
                libraries=", ".join(libraries)),
            hint=_("On Debian or Ubuntu, install them with: sudo apt-get install {packages}\n"
                   "Reinstalling FieldScreen does not help. The command-line verbs work "
                   "without them.").format(packages=" ".join(sorted(missing))),
        )


def _gui() -> Any:
    _require_display_libraries()
    try:
        from fieldscreen.ui import app
    except ImportError as error:
        raise UserError(
            _("The desktop interface cannot start: {reason}").format(reason=error),
            hint=_("Install FieldScreen with its Qt dependency (PySide6-Essentials)."),
        ) from None
    return app


def _run_gui(directories: Any, profile_name: str, *, demo: bool,
             quit_after_ms: int | None, idle_minutes: float = 5.0,
             sandbox: Path | None = None) -> int:
    return _gui().run_field(directories, profile_name, demo=demo,
                            quit_after_ms=quit_after_ms, idle_minutes=idle_minutes,
                            sandbox=sandbox)


def _run_console(args: argparse.Namespace) -> int:
    from fieldscreen.paths import AppDirectories

    directories = (AppDirectories.under(args.basedir) if args.basedir
                   else AppDirectories.platform_default())
    if not 0.5 <= args.auto_lock_minutes <= 240:
        raise UserError(_("--auto-lock-minutes takes a number from 0.5 to 240."))
    _require_display_libraries()
    try:
        from fieldscreen.ui.console import window  # noqa: F401 - QtCharts is an extra wheel
    except ImportError as error:
        raise UserError(
            _("The coordinator's console cannot start: {reason}").format(reason=error),
            hint=_("Install FieldScreen with its Qt dependencies (PySide6-Essentials and "
                   "PySide6-Addons)."),
        ) from None
    return _gui().run_console(directories, args.profile, quit_after_ms=args.quit_after,
                              idle_minutes=args.auto_lock_minutes)


def _run_training_console(directories: Any, quit_after_ms: int | None, *,
                          sandbox: Path | None = None) -> int:
    from fieldscreen.demo.loop import RELAY_FOLDER, TRAINING_COORDINATOR, seed_training_deployment

    app = _gui()
    relay = directories.data / RELAY_FOLDER
    print(_("Preparing the training deployment (a training laptop screens the scenarios "
            "and syncs them)…"), file=sys.stderr)
    seed_training_deployment(directories.data, relay, app.DEMO_PASSPHRASE)
    return app.run_console(directories, TRAINING_COORDINATOR, demo=True,
                           quit_after_ms=quit_after_ms, import_source=str(relay),
                           sandbox=sandbox)


def _run_field(args: argparse.Namespace) -> int:
    from fieldscreen.paths import AppDirectories

    directories = (AppDirectories.under(args.basedir) if args.basedir
                   else AppDirectories.platform_default())
    if not 0.5 <= args.auto_lock_minutes <= 240:
        raise UserError(_("--auto-lock-minutes takes a number from 0.5 to 240."))
    return _run_gui(directories, args.profile, demo=False, quit_after_ms=args.quit_after,
                    idle_minutes=args.auto_lock_minutes)


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


def _run_forms_import_xlsform(args: argparse.Namespace) -> int:
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


def _run_forms_export_xlsform(args: argparse.Namespace) -> int:
    from fieldscreen.forms.loader import load_form
    from fieldscreen.forms.xlsform import export_xlsform

    form = load_form(args.form)
    export_xlsform(form, args.form.read_text(encoding="utf-8"), args.output)
    print(_("Wrote {path}.").format(path=args.output), file=sys.stderr)
    return EXIT_OK


# -- screen -----------------------------------------------------------------------------


def _read_answers(path: Path) -> dict[str, Any]:
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


# -- profiles, records, audit ---------------------------------------------------------------


def _read_secret_line(path: Path) -> str:
    try:
        with path.open(encoding="utf-8") as handle:
            line = handle.readline()
    except OSError:
        raise UserError(_("Cannot read the passphrase file {path}.").format(path=path)) from None
    except UnicodeDecodeError:
        raise UserError(_("The passphrase file {path} is not UTF-8 text.").format(
            path=path)) from None
    return line.rstrip("\r\n")


def _ask(prompt: str, *, confirm: bool = False) -> str:
    import getpass

    if not sys.stdin.isatty():
        raise UserError(_("There is no terminal to ask for the passphrase."),
                        hint=_("Use --passphrase-file FILE or --passphrase-stdin."))
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass(_("Repeat it: ")) != first:
        raise UserError(_("The two passphrases differ; nothing was changed."))
    return first


def _passphrase(args: argparse.Namespace, prompt: str, *, confirm: bool = False) -> str:
    if args.passphrase_file is not None:
        return _read_secret_line(args.passphrase_file)
    if args.passphrase_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return _ask(prompt, confirm=confirm)


def _new_passphrase(args: argparse.Namespace) -> str:
    if args.new_passphrase_file is not None:
        return _read_secret_line(args.new_passphrase_file)
    return _ask(_("New passphrase: "), confirm=True)


def _profile_store(args: argparse.Namespace) -> Any:
    from fieldscreen.paths import AppDirectories
    from fieldscreen.store.profile import ProfileStore

    directories = (AppDirectories.under(args.basedir) if args.basedir
                   else AppDirectories.platform_default())
    return ProfileStore(directories.ensure().data)


def _unlock(args: argparse.Namespace) -> Any:
    locked = _profile_store(args).open(args.profile)
    try:
        return locked.unlock(_passphrase(args, _("Passphrase for {name}: ").format(
            name=args.profile)))
    except BaseException:
        locked.close()
        raise


def _run_profile_create(args: argparse.Namespace) -> int:
    from fieldscreen.store.profile import ProfileRole

    name = args.name or args.profile
    store = _profile_store(args)
    store.path(name)  # refuse a bad name before asking for a passphrase
    pack_raw = pack = None
    if args.pack is not None:
        from fieldscreen.exchange.pack import read_pack

        if args.role != "field":
            raise UserError(_("A deployment pack is installed on field profiles."))
        pack_raw = _read_bytes(args.pack)
        pack = read_pack(pack_raw)
    passphrase = _passphrase(args, _("New passphrase: "), confirm=True)
    profile = store.create(name, ProfileRole(args.role), passphrase,
                           recovery_recipient=pack.recipient if pack else args.recovery_recipient,
                           demo=pack.demo if pack else False)
    try:
        if pack is not None and pack_raw is not None:
            profile.install_pack(pack_raw, pack.recipient)
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


def _run_profile_passwd(args: argparse.Namespace) -> int:
    profile = _unlock(args)
    try:
        profile.change_passphrase(_new_passphrase(args))
    finally:
        profile.lock()
    print(_("The passphrase was changed."), file=sys.stderr)
    return EXIT_OK


def _run_profile_recover(args: argparse.Namespace) -> int:
    from fieldscreen.store.crypto import AgeIdentity, CryptoError

    try:
        text = _read_bytes(args.identity_file).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        raise UserError(_("Cannot read the identity file {path}.").format(
            path=args.identity_file)) from None
    lines = [line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-")]
    try:
        identity = AgeIdentity(lines[0] if lines else text)
    except CryptoError:
        raise UserError(_("{path} holds no age identity (AGE-SECRET-KEY-1...).").format(
            path=args.identity_file)) from None
    locked = _profile_store(args).open(args.profile)
    try:
        profile = locked.recover(identity, _new_passphrase(args))
    except BaseException:
        locked.close()
        raise
    profile.lock()
    print(_("The profile was recovered and has a new passphrase."), file=sys.stderr)
    return EXIT_OK


def _run_record_add(args: argparse.Namespace) -> int:
    from fieldscreen.engine.session import ScreeningSession
    from fieldscreen.forms.loader import load_form

    form = load_form(args.form)
    answers = _read_answers(args.answers)
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
    profile = _unlock(args)
    try:
        summary = profile.records.save_final(form.id, form.version, session.answers_json(),
                                             outcome.to_json())
    finally:
        profile.lock()
    print(summary.id)
    return EXIT_OK


def _run_record_list(args: argparse.Namespace) -> int:
    profile = _unlock(args)
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


def _run_audit_verify(args: argparse.Namespace) -> int:
    profile = _unlock(args)
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


# -- exchange -----------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    from fieldscreen.files import read_regular_file

    try:
        return read_regular_file(path)
    except OSError as error:
        raise UserError(_("Cannot read {path}: {reason}").format(
            path=path, reason=error.strerror or error)) from None


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def _run_profile_update_pack(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.pack import read_pack

    raw = _read_bytes(args.pack)
    profile = _unlock(args)
    try:
        current = read_pack(installed) if (installed := profile.installed_pack()) else None
        pack = read_pack(raw, pinned=current.signing_key if current else None)
        if current is not None and pack.is_older_than(current):
            raise UserError(_("This deployment pack is older than the one installed; nothing "
                              "was changed."),
                            hint=_("Ask your coordinator for the newest pack."))
        profile.install_pack(raw, pack.recipient)
    finally:
        profile.lock()
    print(_("Installed the deployment pack ({forms}).").format(
        forms=", ".join(f"{form.id} {form.version}" for form in pack.forms)), file=sys.stderr)
    return EXIT_OK


def _run_profile_enrolment_code(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.enrolment import enrolment_code

    profile = _unlock(args)
    try:
        key = profile.device_key().public
    finally:
        profile.lock()
    print(enrolment_code(key))
    print(_("Fingerprint: {fingerprint}").format(fingerprint=key.fingerprint()))
    return EXIT_OK


def _run_sync(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.sync import sync

    profile = _unlock(args)
    try:
        report = sync(profile, target=args.to, now=_now)
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


def _webdav_password(args: argparse.Namespace) -> str | None:
    if args.webdav_password_file is None:
        return None
    return _read_secret_line(args.webdav_password_file)


def _run_import(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.importer import BatchImporter
    from fieldscreen.exchange.transports import transport_for

    password = _webdav_password(args)
    profile = _unlock(args)
    try:
        importer = BatchImporter(profile, profile.database_path.parent / "quarantine", _now)
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


def _export_date(text: str | None, option: str) -> Any:
    import datetime as dt

    if text is None:
        return None
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise UserError(_("{option} takes a date written YYYY-MM-DD, not '{text}'.").format(
            option=option, text=text[:40]),
            hint=_("For example: {option} 2026-03-01").format(option=option)) from None


def _run_export(args: argparse.Namespace) -> int:
    from fieldscreen.reporting.dashboard import DEFAULT_SMALL_CELL, AgeBands, DashboardFilter

    start, end = _export_date(args.start, "--from"), _export_date(args.end, "--to")
    if start is not None and end is not None and start > end:
        raise UserError(_("--from {start} is after --to {end}.").format(
            start=start.isoformat(), end=end.isoformat()),
            hint=_("Give the earlier date with --from and the later one with --to."))
    if args.small_cell is not None and args.records:
        raise UserError(_("--small-cell applies to counts: a record-level export has one row "
                          "per child, so nothing in it is suppressed."),
                        hint=_("Leave out --records to export counts with small cells "
                               "hidden."))
    small_cell = DEFAULT_SMALL_CELL if args.small_cell is None else args.small_cell
    if small_cell < 1:
        raise UserError(_("--small-cell takes a whole number of 1 or more."),
                        hint=_("5 (the default) writes counts from 1 to 4 as \"<5\"; 1 "
                               "hides nothing."))
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
    profile = _unlock(args)
    try:
        result = export_profile(
            profile, args.output, fmt=args.format, hxl=args.hxl, records=args.records,
            query=query, labels=form_labels(form, active_language()), small_cell=small_cell,
            known_areas=known_areas, now=_now)
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


def _run_coordinator_identity(args: argparse.Namespace) -> int:
    profile = _unlock(args)
    try:
        identity = profile.coordinator_identity()
        text = (f"# created: {_now().strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
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


def _run_coordinator_pack(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.pack import SyncSettings, absolute_sync_target, build_pack
    from fieldscreen.paths import shipped_dir

    forms = args.form or [shipped_dir("forms") / "child-screening.yaml"]
    services = args.services or shipped_dir("forms") / "services.yaml"
    sync_settings = None
    if args.sync_target:
        ca = args.ca_certificate.read_text(encoding="ascii") if args.ca_certificate else None
        sync_settings = SyncSettings(absolute_sync_target(args.sync_target), args.webdav_user,
                                     _webdav_password(args), ca)
    profile = _unlock(args)
    try:
        raw = build_pack(
            signing_key=profile.coordinator_signing_key(),
            recipient=profile.coordinator_identity().recipient,
            coordinator_name=profile.info.name, form_paths=forms, services_path=services,
            sync=sync_settings, retention_days=args.retention_days, demo=profile.info.demo,
            now=_now(), sequence=profile.next_pack_sequence())
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
    return EXIT_OK


def _run_coordinator_enroll(args: argparse.Namespace) -> int:
    from fieldscreen.exchange.enrolment import read_enrolment_code

    key = read_enrolment_code(args.code)
    profile = _unlock(args)
    try:
        device = profile.devices.enroll(key.raw, args.name or key.fingerprint()[:9])
    finally:
        profile.lock()
    print(_("Enrolled device {id} ({name}). Fingerprint: {fingerprint} — check it matches "
            "the one on the device's screen.").format(
        id=device.device_id, name=device.name, fingerprint=key.fingerprint()))
    return EXIT_OK


def _run_coordinator_revoke(args: argparse.Namespace) -> int:
    profile = _unlock(args)
    try:
        device = profile.devices.revoke(args.device)
    finally:
        profile.lock()
    print(_("Revoked device {id} ({name}): its batches are refused from now on.").format(
        id=device.device_id, name=device.name))
    return EXIT_OK


def _run_coordinator_check(args: argparse.Namespace) -> int:
    from fieldscreen.workflows.store_check import check_coordinator_store

    profile = _unlock(args)
    try:
        result = check_coordinator_store(profile)
    finally:
        profile.lock()
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        print()
    else:
        print(ngettext("Checked {count} imported record.", "Checked {count} imported records.",
                       result.records).format(count=result.records))
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


def _run_coordinator_devices(args: argparse.Namespace) -> int:
    from fieldscreen.store.crypto import VerifyKey

    profile = _unlock(args)
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


def _run_coordinator_quarantine(args: argparse.Namespace) -> int:
    profile = _unlock(args)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
