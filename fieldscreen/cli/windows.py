"""The verbs that open a window: `demo` (training, and its scenario check), `field`, `console`.

Qt is imported only here and only when a window opens, after checking the system libraries
it needs, so every other verb runs on a machine without them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from fieldscreen.cli.shared import (
    EXIT_OK,
    EXIT_USER_ERROR,
    Verbs,
    app_directories,
    database_url,
)
from fieldscreen.errors import UserError
from fieldscreen.i18n import _, ngettext

if TYPE_CHECKING:
    from types import ModuleType

    from fieldscreen.paths import AppDirectories


def register(verbs: Verbs) -> None:
    _add_demo(verbs)
    _add_field(verbs)
    _add_console(verbs)


# -- demo -----------------------------------------------------------------------------------


def _add_demo(verbs: Verbs) -> None:
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


def _run_demo(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from fieldscreen.paths import AppDirectories

    if args.check_scenarios:
        return _run_check_scenarios(args)
    if args.keep is not None and args.basedir is not None:
        raise UserError(_("Use --keep DIR or --basedir DIR, not both."))
    if database_url(args) is not None:
        # Training data must never reach a real programme's server, even an empty one.
        raise UserError(_("Training keeps its made-up data in its own folder, never on a "
                          "database server."),
                        hint=_("Leave out --database to start training."))
    # Training never touches real profiles: a throw-away base directory unless one is given.
    chosen = args.keep or args.basedir
    temporary = chosen is None
    base = Path(tempfile.mkdtemp(prefix="fieldscreen-demo-")) if temporary else chosen
    try:
        directories = AppDirectories.under(base).ensure()
        if args.coordinator:
            return _run_training_console(directories, args.quit_after,
                                         sandbox=base if temporary else None)
        return _run_field_window(AppDirectories.under(base), "training", demo=True,
                                 quit_after_ms=args.quit_after,
                                 sandbox=base if temporary else None)
    finally:
        if temporary:
            shutil.rmtree(base, ignore_errors=True)


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


def _run_training_console(directories: AppDirectories, quit_after_ms: int | None, *,
                          sandbox: Path | None = None) -> int:
    from fieldscreen.demo.loop import RELAY_FOLDER, TRAINING_COORDINATOR, seed_training_deployment

    app = _gui()
    relay = directories.data / RELAY_FOLDER
    print(_("Preparing the training deployment (a training laptop screens the scenarios "
            "and syncs them)…"), file=sys.stderr)
    seed_training_deployment(directories.data, relay, app.DEMO_PASSPHRASE)
    code: int = app.run_console(directories, TRAINING_COORDINATOR, demo=True,
                                quit_after_ms=quit_after_ms, import_source=str(relay),
                                sandbox=sandbox)
    return code


# -- field ----------------------------------------------------------------------------------


def _add_field(verbs: Verbs) -> None:
    field = verbs.add_parser(
        "field", help=_("open the outreach worker's window (creates a profile on first run)"))
    field.add_argument("--auto-lock-minutes", type=float, metavar="N", default=5.0,
                       help=_("lock after N idle minutes (default: %(default)s)"))
    field.add_argument("--quit-after", type=int, metavar="MS", help=argparse.SUPPRESS)
    field.set_defaults(run=_run_field)


def _run_field(args: argparse.Namespace) -> int:
    directories = app_directories(args)
    _check_auto_lock(args.auto_lock_minutes)
    return _run_field_window(directories, args.profile, demo=False,
                             quit_after_ms=args.quit_after, idle_minutes=args.auto_lock_minutes)


def _run_field_window(directories: AppDirectories, profile_name: str, *, demo: bool,
                      quit_after_ms: int | None, idle_minutes: float = 5.0,
                      sandbox: Path | None = None) -> int:
    code: int = _gui().run_field(directories, profile_name, demo=demo,
                                 quit_after_ms=quit_after_ms, idle_minutes=idle_minutes,
                                 sandbox=sandbox)
    return code


# -- console --------------------------------------------------------------------------------


def _add_console(verbs: Verbs) -> None:
    console = verbs.add_parser(
        "console", help=_("open the coordinator's console: import, referral queue, dashboard, "
                          "devices (creates the profile on first run)"))
    console.add_argument("--auto-lock-minutes", type=float, metavar="N", default=15.0,
                         help=_("lock after N idle minutes (default: %(default)s)"))
    console.add_argument("--quit-after", type=int, metavar="MS", help=argparse.SUPPRESS)
    console.set_defaults(run=_run_console)


def _run_console(args: argparse.Namespace) -> int:
    directories = app_directories(args)
    _check_auto_lock(args.auto_lock_minutes)
    _require_display_libraries()
    try:
        from fieldscreen.ui.console import window  # noqa: F401 - QtCharts is an extra wheel
    except ImportError as error:
        raise UserError(
            _("The coordinator's console cannot start: {reason}").format(reason=error),
            hint=_("Install FieldScreen with its Qt dependencies (PySide6-Essentials and "
                   "PySide6-Addons)."),
        ) from None
    code: int = _gui().run_console(directories, args.profile, quit_after_ms=args.quit_after,
                                   idle_minutes=args.auto_lock_minutes,
                                   database=database_url(args))
    return code


# -- what the windows share -----------------------------------------------------------------


def _check_auto_lock(minutes: float) -> None:
    if not 0.5 <= minutes <= 240:
        raise UserError(_("--auto-lock-minutes takes a number from 0.5 to 240."))


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


def _gui() -> ModuleType:
    _require_display_libraries()
    try:
        from fieldscreen.ui import app
    except ImportError as error:
        raise UserError(
            _("The desktop interface cannot start: {reason}").format(reason=error),
            hint=_("Install FieldScreen with its Qt dependency (PySide6-Essentials)."),
        ) from None
    return app
