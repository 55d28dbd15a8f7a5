"""The `fieldscreen` command: argparse verbs over the core; the GUI is imported only when needed.

Each verb group is a module of this package (or, for a group kept elsewhere, any module)
with a `register(verbs)` function that adds its verbs, each verb's arguments written next
to its handler. `VERB_GROUPS` lists them in the order `--help` shows them.

Errors a person can fix (UserError) print their message and exit 1; anything else is a bug
and prints a report that names the exception type and where it happened, never its message,
which could carry a child's data.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from fieldscreen import __version__
from fieldscreen.cli.shared import (
    EXIT_BUG,
    EXIT_OK,
    EXIT_USER_ERROR,
    database_option,
    report_bug,
)
from fieldscreen.errors import UserError
from fieldscreen.i18n import _

__all__ = ["EXIT_BUG", "EXIT_OK", "EXIT_USER_ERROR", "VERB_GROUPS", "build_parser", "main"]

# The verb groups, in the order of `fieldscreen --help`. To add one, write a module with
# `register(verbs: fieldscreen.cli.shared.Verbs) -> None` and name it here, on its own line.
VERB_GROUPS: tuple[str, ...] = (
    "fieldscreen.cli.windows",      # demo, field, console
    "fieldscreen.cli.forms",        # forms check | describe | import-xlsform | export-xlsform
    "fieldscreen.cli.screening",    # screen
    "fieldscreen.cli.profiles",     # profile create | passwd | recover | update-pack | ...
    "fieldscreen.cli.records",      # record add | list
    "fieldscreen.cli.exchange",     # sync, import
    "fieldscreen.cli.exports",      # export
    "fieldscreen.cli.coordinator",  # coordinator identity | pack | enroll | revoke | ...
    "fieldscreen.cli.referrals",    # referral ... | partner ...
    "fieldscreen.cli.linkage",      # linkage pairs | link | unlink
    "fieldscreen.cli.audit",        # audit verify
)


class _ExactArgumentParser(argparse.ArgumentParser):
    """No abbreviated options: `--new-passphrase X` must not pass for `--new-passphrase-file`.

    With abbreviations on, a passphrase typed after such a prefix would be taken as a file
    name and echoed back in the error message. Subparsers inherit this class.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the global options, then every group's verbs."""
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
    database_option(parser)
    verbs = parser.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    for group in VERB_GROUPS:
        importlib.import_module(group).register(verbs)
    _database_on_verbs(verbs)
    return parser


def _database_on_verbs(verbs: Any) -> None:
    """`--database` after the verb too (`fieldscreen console --database URL`), at any depth."""
    for parser in verbs.choices.values():
        if not any("--database" in action.option_strings for action in parser._actions):
            database_option(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _database_on_verbs(action)


def _choose_language(argv: Sequence[str]) -> None:
    """Set the UI language before the parser is built, so its help is translated too.

    `--language CODE` wins; otherwise the environment's (LANGUAGE, LC_ALL, LC_MESSAGES,
    LANG) when a catalog exists for it; otherwise English.
    """
    from fieldscreen.i18n import SOURCE_LANGUAGE, available_languages, set_language

    available = available_languages()
    for code in _asked_language(argv) or _environment_languages():
        for candidate in (code, code.split("_")[0]):
            if candidate in available:
                set_language(candidate)
                return
    set_language(SOURCE_LANGUAGE)


def _asked_language(argv: Sequence[str]) -> list[str]:
    """The last `--language CODE` (or `--language=CODE`) of the arguments, if any."""
    wanted: list[str] = []
    for index, argument in enumerate(argv):
        if argument == "--language" and index + 1 < len(argv):
            wanted = [argv[index + 1]]
        elif argument.startswith("--language="):
            wanted = [argument.split("=", 1)[1]]
    return wanted


def _environment_languages() -> list[str]:
    """The languages the environment asks for, first variable set wins, as gettext reads it."""
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value and value not in ("C", "POSIX"):
            return [part.split(".")[0] for part in value.split(":")]
    return []


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
    parser = build_parser()
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
        report_bug(error)
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
