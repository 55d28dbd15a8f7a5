"""The profile database: one writer connection, crash-safe settings, checks on open, migrations.

WAL with `synchronous=FULL` means a transaction that returned from COMMIT survives a crash
or power cut; `BEGIN IMMEDIATE` takes the write lock up front so a save never fails half-way
on a busy database; `temp_store=MEMORY` keeps SQLite's own temporary files off the disk.
Each write is checkpointed into the main file before it is acknowledged, so what was
acknowledged never depends on the `-wal` file surviving (see `ProfileDatabase.write`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from fieldscreen.errors import UserError
from fieldscreen.i18n import _

# Up to this size the whole file is checked (`PRAGMA quick_check`) at every open: about
# 40 ms for 64 MiB, which is a field laptop's profile with ~20,000 records. Past it (a
# coordinator's national year is gigabytes, 2.3-30 s of reading) the open-time check is the
# cheap one of `_cheap_check`, and the full check runs on demand (`fieldscreen coordinator
# check`, the console's "Check the data file"). Every stored value is AES-GCM-authenticated
# anyway, so a damaged page that the cheap check misses is still refused when it is read.
FULL_CHECK_AT_OPEN_BYTES = 64 * 1024 * 1024

_SQLITE_MAGIC = b"SQLite format 3\x00"
_WAL_MAGICS = (0x377F0682, 0x377F0683)
_WAL_HEADER_BYTES = 32


class StorageFull(UserError):
    """The disk (or the database's size limit) is full; nothing of the failed save was kept."""


class StorageDamaged(UserError):
    """The database failed its integrity check or is not a FieldScreen database."""


class StorageUnavailable(UserError):
    """The database cannot be opened or written (read-only folder, removed drive...)."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One recorded schema change. `apply` runs inside the migration's transaction."""

    number: int
    name: str
    apply: Callable[[sqlite_utils.Database], None]


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _damaged() -> StorageDamaged:
    return StorageDamaged(
        _("The profile database is damaged."),
        hint=_("Do not delete it. Ask your coordinator to restore from the last sync."),
    )


def _full_disk_error() -> StorageFull:
    return StorageFull(
        _("The disk is full, so this was not saved."),
        hint=_("Your answers are still on screen. Free some space (or plug the laptop into "
               "its usual storage) and save again."),
    )


def _read_only_error() -> StorageUnavailable:
    return StorageUnavailable(
        _("FieldScreen cannot write to its data folder."),
        hint=_("Check that the folder is writable and the drive is not read-only."),
    )


def unwritable(path: Path) -> bool:
    """Whether the database (or the folder its -wal and -shm files go in) is read-only."""
    return _unwritable(path)


def _unwritable(path: Path) -> bool:
    """Whether the database (or the folder its -wal and -shm files go in) is read-only."""
    return not os.access(path.parent, os.W_OK) or (
        path.exists() and not os.access(path, os.W_OK))


def storage_error(error: BaseException) -> UserError | None:
    """The person-facing error for a storage failure, or None if it is not one."""
    if isinstance(error, sqlite3.OperationalError | OSError):
        message = str(error).lower()
        code = getattr(error, "errno", None)
        if code == errno.ENOSPC or "disk is full" in message or "database or disk is full" in (
            message
        ):
            return _full_disk_error()
        if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in message or (
            "read-only" in message
        ):
            return _read_only_error()
        if "disk i/o error" in message or code == errno.EIO:
            return StorageUnavailable(
                _("The disk reported an error."),
                hint=_("Nothing on screen is lost. Check the drive (and that it is not full), "
                       "then try again."),
            )
    if isinstance(error, sqlite3.DatabaseError) and (
        "malformed" in str(error) or "not a database" in str(error)
    ):
        return StorageDamaged(
            _("The profile database is damaged."),
            hint=_("Do not delete it. Ask your coordinator to restore from the last sync."),
        )
    return None


class ProfileDatabase:
    """The single connection to one profile's SQLite database.

    All writes go through `write()`, serialised by a lock, so there is exactly one writer.

    `read_only` opens a database that lies in a folder nobody can write (a write-protected
    stick, a drive remounted read-only): every read works, every write is refused with the
    read-only message, and nothing is attempted on disk. SQLite needs to create the `-shm`
    file even to read a WAL database, which such a folder does not allow, so the file is
    opened as immutable: safe there, because nothing can change it while it is read-only,
    and every acknowledged write was checkpointed into the main file (see `write`).
    """

    def __init__(self, path: Path, migrations: list[Migration],
                 max_page_count: int | None = None, *, read_only: bool = False,
                 full_check_limit: int | None = None) -> None:
        self.path = path
        self.read_only = read_only
        # Whether this connection reads every row: False only for a login limited by a
        # server's row-level security (store/postgres.py), which must not write the sealed
        # snapshots that cover every row.
        self.sees_every_row = True
        self._lock = threading.RLock()
        try:
            if read_only:
                uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
                connection = sqlite3.connect(uri, uri=True, isolation_level=None,
                                             check_same_thread=False, timeout=10)
            else:
                connection = sqlite3.connect(
                    path, isolation_level=None, check_same_thread=False, timeout=10
                )
        except sqlite3.Error as error:
            if _unwritable(path):
                raise _read_only_error() from None
            raise storage_error(error) or StorageUnavailable(
                _("Cannot open the profile database: {reason}").format(reason=error)
            ) from None
        self.connection = connection
        try:
            # The cheap check reads the file's own header before SQLite does anything with
            # it (WAL recovery included), so a truncated file is refused, not "repaired".
            limit = FULL_CHECK_AT_OPEN_BYTES if full_check_limit is None else full_check_limit
            large = _file_size(path) > limit
            if large:
                self._cheap_check()
            if not read_only:
                self._configure(max_page_count)
            if not large:
                self._quick_check()
            self.db = sqlite_utils.Database(connection)
            self._migrate(migrations)
        except BaseException:
            connection.close()
            raise

    def _configure(self, max_page_count: int | None) -> None:
        try:
            execute = self.connection.execute
            mode = execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StorageUnavailable(_("The data folder does not support safe saving "
                                           "(write-ahead log)."),
                                         hint=_("Keep the profile on the laptop's own disk, "
                                                "not on a USB stick or network folder."))
            execute("PRAGMA synchronous=FULL")
            execute("PRAGMA foreign_keys=ON")
            execute("PRAGMA temp_store=MEMORY")
            # The WAL is checkpointed back regularly; cap its size after a checkpoint.
            execute("PRAGMA journal_size_limit=4194304")
            if max_page_count is not None:
                execute(f"PRAGMA max_page_count={int(max_page_count)}")
        except sqlite3.DatabaseError as error:
            # WAL needs to create the -shm file beside the database even to read it: on a
            # read-only drive or folder that fails with "unable to open database file",
            # which is not damage.
            if _unwritable(self.path):
                raise _read_only_error() from None
            raise storage_error(error) or StorageDamaged(
                _("The profile database cannot be read: {reason}").format(reason=error)
            ) from None

    def _quick_check(self) -> None:
        try:
            rows = self.connection.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as error:
            raise storage_error(error) or _damaged() from None
        if rows != [("ok",)]:
            raise StorageDamaged(
                _("The profile database failed its integrity check."),
                hint=_("Do not delete it. Ask your coordinator to restore from the last sync."),
            )

    def _cheap_check(self) -> None:
        """What can be checked without reading the whole file: header, size, WAL, schema.

        The header must be SQLite's, with a valid page size, and the file must hold every
        page the header counts (a truncated copy is the commonest damage: a full stick, a
        copy cut short). A `-wal` file must have a WAL header and whole frames. The schema
        must parse. A damaged page inside the file is found by the full check, or by the
        AES-GCM check of any value read from it.
        """
        try:
            with open(self.path, "rb") as handle:
                header = handle.read(100)
                size = os.fstat(handle.fileno()).st_size
        except OSError as error:
            raise storage_error(error) or _damaged() from None
        if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
            raise _damaged()
        page_size = int.from_bytes(header[16:18], "big")
        page_size = 65536 if page_size == 1 else page_size
        if page_size < 512 or page_size & (page_size - 1):
            raise _damaged()
        pages = int.from_bytes(header[28:32], "big")
        wal = Path(str(self.path) + "-wal")
        try:
            wal_size = wal.stat().st_size
        except FileNotFoundError:
            wal_size = 0
        # The header's page count is valid only when written by the same change as the
        # "version valid for" field (SQLite 3.7.0 and later always write both), and final
        # only when no WAL is left to replay (a checkpoint cut short writes page 1 first).
        if not wal_size and header[24:28] == header[92:96] and size < pages * page_size:
            raise _damaged()
        # A WAL shorter than its header, or ending in a torn frame, is what a crash leaves
        # and SQLite ignores safely; a header that is not a WAL header for this page size
        # is damage (or another file put in its place).
        if wal_size >= _WAL_HEADER_BYTES:
            with open(wal, "rb") as handle:
                wal_header = handle.read(_WAL_HEADER_BYTES)
            if (int.from_bytes(wal_header[0:4], "big") not in _WAL_MAGICS
                    or int.from_bytes(wal_header[8:12], "big") != page_size):
                raise _damaged()
        try:
            self.connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as error:
            raise storage_error(error) or _damaged() from None

    def _migrate(self, migrations: list[Migration]) -> None:
        if self.read_only:
            # Nothing can be migrated on a read-only folder; a profile that needs it is
            # refused with the read-only message rather than read with the wrong schema.
            try:
                applied = {row[0] for row in self.connection.execute(
                    "SELECT number FROM schema_migrations")}
            except sqlite3.DatabaseError:
                raise _read_only_error() from None
            if {migration.number for migration in migrations} - applied:
                raise _read_only_error()
            return
        with self.write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        applied = {row[0] for row in self.connection.execute(
            "SELECT number FROM schema_migrations")}
        for migration in sorted(migrations, key=lambda m: m.number):
            if migration.number in applied:
                continue
            with self.write() as db:
                migration.apply(db)
                db.execute(
                    "INSERT INTO schema_migrations (number, name, applied_at) "
                    "VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                    [migration.number, migration.name],
                )

    @property
    def schema_version(self) -> int:
        row = self.connection.execute("SELECT MAX(number) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    @contextlib.contextmanager
    def write(self, *, queue_later: bool = False) -> Iterator[sqlite_utils.Database]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT); rolled back on any error.

        `queue_later` lets a server's transaction write rows that unique keys protect
        before it joins the writers' queue (`queue_for_writers`, store/postgres.py); SQLite
        has one writer at a time from BEGIN IMMEDIATE, so it changes nothing here.

        Storage failures are raised as UserErrors (StorageFull, StorageUnavailable...).
        When the block returns, the COMMIT has returned: the data is durable.

        The transaction is then checkpointed into the main database file. The `-wal`
        file left by a crash is otherwise the only copy of the last writes, and SQLite
        silently opens without them if it is deleted, truncated or damaged (a clean-up
        tool, a copy of the profile without it): acknowledged records would vanish with
        no sign. A checkpoint that cannot run (a full disk) leaves the write safe in the
        WAL, so it does not fail the write.
        """
        if self.read_only:
            raise _read_only_error()
        with self._lock:
            try:
                self.connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise storage_error(error) or error from None
            try:
                yield self.db
                self.connection.execute("COMMIT")
            except BaseException as error:
                with contextlib.suppress(sqlite3.Error):
                    self.connection.execute("ROLLBACK")
                mapped = storage_error(error)
                if mapped is not None:
                    raise mapped from None
                raise
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read (one snapshot) on the same connection."""
        with self._lock:
            yield self.connection

    def integrity_check(self, progress: Callable[[], None] | None = None) -> bool:
        """The full check of every page (`PRAGMA integrity_check`); False when it fails.

        `progress` is called every few thousand steps of SQLite's work (a console's busy
        indicator); the check cannot say in advance how many steps there are.
        """
        with self._lock:
            if progress is not None:
                self.connection.set_progress_handler(lambda: progress() or 0, 1000)
            try:
                return self.connection.execute(
                    "PRAGMA integrity_check").fetchall() == [("ok",)]
            except sqlite3.DatabaseError:
                return False
            finally:
                if progress is not None:
                    self.connection.set_progress_handler(None, 0)

    def close(self) -> None:
        with self._lock:
            if not self.read_only:
                with contextlib.suppress(sqlite3.Error):
                    self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.connection.close()


def queue_for_writers(db: Any) -> bool:
    """Join the writers' queue now, in a write opened with `queue_later`.

    True when this waited its turn (a server, whose other writers may have committed
    since the transaction began: what it read before may be out of date); False on SQLite,
    whose write held the one writer's lock from its start.
    """
    join = getattr(db, "queue_for_writers", None)
    if join is None:
        return False
    join()
    return True
