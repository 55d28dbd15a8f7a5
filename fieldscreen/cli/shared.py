"""What every verb group shares: exit codes, the passphrase and WebDAV options, reading
secrets and files, unlocking the profile, and the bug report that carries no data."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from fieldscreen.errors import UserError
from fieldscreen.i18n import _

if TYPE_CHECKING:
    import datetime as dt

    from fieldscreen.paths import AppDirectories
    from fieldscreen.store.profile import ProfileStore, UnlockedProfile

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_BUG = 70  # EX_SOFTWARE from sysexits.h

# The object `add_subparsers()` returns: a verb group's `register(verbs)` adds its verbs to it.
Verbs: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def report_bug(error: BaseException) -> None:
    """Print the exception's type and frames for a bug report, never its message."""
    # The message is left out on purpose: it may quote an answer about a child.
    frames = traceback.format_tb(error.__traceback__)
    print(
        _("FieldScreen hit a bug ({kind}). Nothing you saved is affected. Please report this "
          "to your coordinator with the lines below.").format(kind=type(error).__name__),
        file=sys.stderr,
    )
    print("".join(frames), file=sys.stderr, end="")


# -- options -------------------------------------------------------------------------------


def webdav_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--webdav-user", metavar="USER", help=_("WebDAV user name"))
    parser.add_argument("--webdav-password-file", metavar="FILE", type=Path,
                        help=_("read the WebDAV password from the first line of FILE"))


def passphrase_options(parser: argparse.ArgumentParser) -> None:
    # Never on the command line itself: it would show in the shell history and `ps`.
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--passphrase-file", metavar="FILE", type=Path,
                       help=_("read the passphrase from the first line of FILE"))
    group.add_argument("--passphrase-stdin", action="store_true",
                       help=_("read the passphrase from the first line of standard input"))


# -- secrets and files ---------------------------------------------------------------------


def read_secret_line(path: Path) -> str:
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


def passphrase(args: argparse.Namespace, prompt: str, *, confirm: bool = False) -> str:
    """The passphrase from --passphrase-file, --passphrase-stdin or, last, the terminal."""
    if args.passphrase_file is not None:
        return read_secret_line(args.passphrase_file)
    if args.passphrase_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return _ask(prompt, confirm=confirm)


def new_passphrase(args: argparse.Namespace) -> str:
    """The new passphrase from --new-passphrase-file, else typed twice at the terminal."""
    if args.new_passphrase_file is not None:
        return read_secret_line(args.new_passphrase_file)
    return _ask(_("New passphrase: "), confirm=True)


def webdav_password(args: argparse.Namespace) -> str | None:
    if args.webdav_password_file is None:
        return None
    return read_secret_line(args.webdav_password_file)


def read_bytes(path: Path) -> bytes:
    from fieldscreen.files import read_regular_file

    try:
        return read_regular_file(path)
    except OSError as error:
        raise UserError(_("Cannot read {path}: {reason}").format(
            path=path, reason=error.strerror or error)) from None


def now() -> dt.datetime:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


# -- profiles ------------------------------------------------------------------------------


def app_directories(args: argparse.Namespace) -> AppDirectories:
    """The folders of this run: under --basedir if given, else the platform's own."""
    from fieldscreen.paths import AppDirectories

    return (AppDirectories.under(args.basedir) if args.basedir
            else AppDirectories.platform_default())


def database_option(parser: argparse.ArgumentParser) -> None:
    """`--database URL`: the coordinator's profile on a PostgreSQL server (docs/postgresql.md).

    Given before the verb or after it. The URL may carry the password; libpq also takes it
    from PGPASSWORD or ~/.pgpass, which keep it out of the shell history and `ps`.
    """
    parser.add_argument(
        "--database", metavar="postgresql://...", default=argparse.SUPPRESS,
        help=_("keep the coordinator's profile in this PostgreSQL database instead of the "
               "local file (the password may come from PGPASSWORD or ~/.pgpass)"))


def database_url(args: argparse.Namespace) -> str | None:
    """The --database URL, checked to be one; None for the local SQLite file."""
    from fieldscreen.store.postgres import is_readable_url, is_server_url

    url: str | None = getattr(args, "database", None)
    if url is None:
        return None
    if not is_server_url(url):
        # Not echoed: a mistyped URL may still hold a password.
        raise UserError(_("--database takes a PostgreSQL URL (postgresql://user@host/name)."),
                        hint=_("Leave it out to keep the profile in the local file."))
    if not is_readable_url(url):
        raise UserError(_("The --database URL cannot be read."),
                        hint=_("Write it as postgresql://user@host:port/name (a password is "
                               "better kept in ~/.pgpass or PGPASSWORD), then try again."))
    return url


def profile_store(args: argparse.Namespace) -> ProfileStore:
    from fieldscreen.store.profile import ProfileStore

    return ProfileStore(app_directories(args).ensure().data, database=database_url(args))


def unlock(args: argparse.Namespace) -> UnlockedProfile:
    """The --profile profile, unlocked; the passphrase is asked only once it is found."""
    from fieldscreen.workflows.profiles import unlock_profile

    return unlock_profile(profile_store(args), args.profile, lambda: passphrase(
        args, _("Passphrase for {name}: ").format(name=args.profile)))
