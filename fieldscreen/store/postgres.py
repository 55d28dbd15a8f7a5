"""The coordinator store on PostgreSQL: the profile database's engine for a shared server.

The store modules (inbox, ledger, devices, follow-up cases, audit, statistics snapshot,
queue index) speak one portable subset of SQL through `ProfileDatabase.read()` and
`.write()`. This module is the same surface on PostgreSQL through psycopg 3, plus the small
dialect layer that subset needs there (docs/decisions.md, "The coordinator store on
PostgreSQL"):

* `?` parameters become psycopg's `%s` (and a literal `%` is doubled);
* `INSERT OR REPLACE INTO t (...)` becomes `INSERT ... ON CONFLICT (t's key) DO UPDATE`
  and `INSERT OR IGNORE` becomes `... ON CONFLICT DO NOTHING`.

Everything is sealed before it reaches the driver, exactly as on SQLite: the server holds
the same ciphertext and the same clear columns (docs/security.md).

Transactions: one `write()` is one PostgreSQL transaction, so a batch import is all or
nothing whatever happens to the server or the connection. Every write takes one
transaction-scoped advisory lock, the server-wide counterpart of SQLite's `BEGIN
IMMEDIATE`: writers (several consoles on one server) queue instead of racing, which keeps
the audit chain and the sealed snapshots' delta numbering single-file. An import takes it
only after writing its ledger row and records (`write(queue_later=True)`,
docs/decisions.md 77). Row-level security (schema version 3) limits what a login reads;
`sees_every_row` tells the store when it is limited. A `read()` is one
REPEATABLE READ transaction, the one snapshot SQLite's reads see.

A connection lost (server restarted, connection cut) fails the transaction in progress,
which the server rolls back, and the next `read()` or `write()` connects again, so a
re-import completes. Errors are told in the person's words with what to do next, and never
carry the server's message or the connection string (it may hold the password).
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fieldscreen.errors import UserError
from fieldscreen.i18n import _
from fieldscreen.store.database import ProfileDatabase, StorageFull, StorageUnavailable
from fieldscreen.store.postgres_schema import MIGRATIONS, PRIMARY_KEYS, SCHEMA

# pg_advisory_xact_lock key of the single writer: "FSCR" as a number, so it does not
# collide with another application's locks on a shared server.
WRITER_LOCK = 0x46534352
CONNECT_TIMEOUT_SECONDS = 10
URL_PREFIXES = ("postgresql://", "postgres://")


def is_server_url(text: str | None) -> bool:
    return bool(text) and str(text).startswith(URL_PREFIXES)


def is_readable_url(url: str) -> bool:
    """Whether libpq can read `url` at all (a bracket left open, a bad %-escape, an unknown
    parameter): its own message quotes the URL, password included, so only yes or no."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(url)
    except ProgrammingError:
        return False
    return True


class ServerUnreachable(StorageUnavailable):
    """The server cannot be reached, or the connection to it was lost."""


class ServerRefused(StorageUnavailable):
    """The server refused the user name or password, or the role lacks a right."""


class ServerStorageFull(StorageFull):
    """The server's disk (or tablespace) is full; nothing of the failed write was kept."""


# -- the dialect ---------------------------------------------------------------------------

_UPSERT = re.compile(r"^\s*INSERT\s+OR\s+(REPLACE|IGNORE)\s+INTO\s+(\w+)\s*\(([^)]*)\)",
                     re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """The shared SQL as PostgreSQL reads it through psycopg (see the module's docstring)."""
    conflict = ""
    found = _UPSERT.match(sql)
    if found:
        kind, table, columns = found.group(1).upper(), found.group(2), found.group(3)
        sql = f"INSERT INTO {table} ({columns})" + sql[found.end():]
        if kind == "IGNORE":
            conflict = " ON CONFLICT DO NOTHING"
        else:
            key = PRIMARY_KEYS[table]
            names = [name.strip() for name in columns.split(",")]
            updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in names
                                if name not in key)
            conflict = (f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}" if updates
                        else f" ON CONFLICT ({', '.join(key)}) DO NOTHING")
    out = []
    quoted = False
    for character in sql:
        if character == "'":
            quoted = not quoted
        if character == "%":
            out.append("%%")
        elif character == "?" and not quoted:
            out.append("%s")
        else:
            out.append(character)
    return "".join(out).rstrip().rstrip(";") + conflict


class PostgresConnection:
    """What `read()` and `write()` yield: `execute`/`executemany` in the shared SQL.

    `conn` is itself, as sqlite_utils' `Database.conn` is the raw connection the store
    modules use for `executemany`.
    """

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    @property
    def conn(self) -> PostgresConnection:
        return self

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        return self._raw.execute(translate(sql), list(parameters or ()))

    def executemany(self, sql: str, rows: Any) -> Any:
        cursor = self._raw.cursor()
        cursor.executemany(translate(sql), list(rows))
        return cursor

    def queue_for_writers(self) -> None:
        """Wait for this transaction's turn among the server's writers (the advisory lock,
        held to the end of the transaction; taking it again is free)."""
        self._raw.execute(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")


# -- errors --------------------------------------------------------------------------------


def describe(url: str) -> tuple[str, str, str]:
    """(host:port, database, user) of a connection URL, without its password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(url)
    except Exception:  # a malformed URL: say nothing of it, it may hold the password
        return "?", "?", "?"
    host = str(info.get("host") or "localhost")
    port = str(info.get("port") or "5432")
    return f"{host}:{port}", str(info.get("dbname") or "?"), str(info.get("user") or "?")


def server_error(error: BaseException, url: str, *, connecting: bool = False) -> UserError:
    """The person-facing error for a psycopg error; never its text (it may quote the URL)."""
    import psycopg
    from psycopg import errors

    where, database, user = describe(url)
    state = getattr(error, "sqlstate", None) or ""
    if connecting and not state:
        state = _connection_state(str(error))
    if state == "53300" or isinstance(error, errors.TooManyConnections):
        return ServerUnreachable(
            _("The database server {server} has no free connection for FieldScreen now.").format(
                server=where),
            hint=_("Nothing was changed. Try again in a moment; if it lasts, ask the database "
                   "administrator to allow more connections (docs/postgresql.md)."))
    if isinstance(error, errors.DiskFull) or state == "53100":
        return ServerStorageFull(
            _("The database server's disk is full, so this was not saved."),
            hint=_("Nothing of it was kept. Ask the database administrator to free space on "
                   "the server ({server}), then do it again.").format(server=where))
    if isinstance(error, errors.InsufficientPrivilege) or state == "42501":
        return ServerRefused(
            _("The database role {user} does not have the rights FieldScreen needs on "
              "database {database}.").format(user=user, database=database),
            hint=_("Nothing was changed. Ask the database administrator to grant it the "
                   "coordinator's rights (docs/postgresql.md), then try again."))
    if state.startswith("28") or isinstance(error, errors.InvalidPassword):
        return ServerRefused(
            _("The database server {server} refused the user name or password.").format(
                server=where),
            hint=_("Check the user and password (in --database, PGPASSWORD or ~/.pgpass) "
                   "with the database administrator, then try again."))
    if state == "3D000":
        return ServerRefused(
            _("There is no database {database} on the server {server}.").format(
                database=database, server=where),
            hint=_("Check the database name in --database, or ask the database "
                   "administrator to create it."))
    if connecting and isinstance(error, psycopg.OperationalError):
        return ServerUnreachable(
            _("Cannot reach the database server {server}.").format(server=where),
            hint=_("Check that the server is running and this computer can reach it, then "
                   "try again. Nothing was changed."))
    if isinstance(error, psycopg.OperationalError) or state.startswith(("57", "08")):
        return ServerUnreachable(
            _("The connection to the database server {server} was lost, so this was not "
              "saved.").format(server=where),
            hint=_("Nothing of it was kept; what was saved before stays saved. Try again "
                   "once the server is back."))
    return StorageUnavailable(
        _("The database server {server} refused this (code {code}).").format(
            server=where, code=state or type(error).__name__),
        hint=_("Nothing of it was kept. Tell the database administrator the code, then "
               "try again."))


def _connection_state(text: str) -> str:
    """The SQLSTATE a refused connection would have: libpq gives only the server's text.

    The text is read here and never shown: it can quote the user and the host, and a
    malformed URL can put the password in it.
    """
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered or (
            "authentication failed" in lowered) or "pg_hba.conf" in lowered:
        return "28P01"
    if "database" in lowered and "does not exist" in lowered:
        return "3D000"
    if "role" in lowered and "does not exist" in lowered:
        return "28000"
    if "permission denied" in lowered:
        return "42501"
    if "too many clients" in lowered or "too many connections" in lowered:
        return "53300"
    return ""


# -- the database --------------------------------------------------------------------------


class PostgresDatabase(ProfileDatabase):
    """One coordinator profile held by a PostgreSQL database (see the module's docstring).

    Args:
        url: `postgresql://user[:password]@host[:port]/database`; libpq also reads the
            password from PGPASSWORD or ~/.pgpass, and every PG* variable.
        local_folder: the profile's folder on this computer, for what stays local
            (refused batch files kept in quarantine); `path` names a file in it.
    """

    def __init__(self, url: str, local_folder: Path) -> None:
        self.url = url
        self.path = local_folder / "postgresql"
        self.read_only = False
        self.sees_every_row = True
        self._lock = threading.RLock()
        self._raw: Any = None
        self._raw = self._connect()
        try:
            self._migrate_server()
            self.sees_every_row = self._reads_every_row()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> Any:
        import psycopg

        try:
            raw = psycopg.connect(self.url, autocommit=True,
                                  connect_timeout=CONNECT_TIMEOUT_SECONDS,
                                  application_name="fieldscreen")
        except psycopg.Error as error:
            raise server_error(error, self.url, connecting=True) from None
        try:
            raw.execute(f"SET search_path TO {SCHEMA}")
        except psycopg.Error as error:
            raw.close()
            raise server_error(error, self.url) from None
        return raw

    def _live(self) -> Any:
        """The connection, connected again if the last one was lost."""
        if self._raw is None or self._raw.closed or self._raw.broken:
            with contextlib.suppress(Exception):
                if self._raw is not None:
                    self._raw.close()
            self._raw = None
            self._raw = self._connect()
        return self._raw

    @contextlib.contextmanager
    def _transaction(self, *, writer: bool,
                     queue_later: bool = False) -> Iterator[PostgresConnection]:
        """One transaction (a savepoint when nested).

        `queue_later` (a writer) leaves taking the writer lock to the caller
        (`PostgresConnection.queue_for_writers`), so what it writes first, under unique
        keys, runs beside other consoles' writes (an import's ledger row and records).

        `writer` takes the writer lock (re-entrant within the connection, so a write nested
        in a read still queues) and stays READ COMMITTED: each statement then sees what
        the writer before it committed, which a snapshot taken before the lock was granted
        would not. A read, outermost, is one REPEATABLE READ snapshot.
        """
        import psycopg

        with self._lock:
            raw = self._live()
            outermost = raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            if outermost:
                # A connection the server dropped while it was idle (a restart, an
                # administrator) is only found out by using it: one round trip before the
                # transaction, so that nothing has been done yet when it is replaced.
                try:
                    raw.execute("SELECT 1")
                except psycopg.OperationalError:
                    with contextlib.suppress(Exception):
                        raw.close()
                    raw = self._live()
            try:
                with raw.transaction():
                    if outermost and not writer:
                        raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    connection = PostgresConnection(raw)
                    if writer and not queue_later:
                        connection.queue_for_writers()
                    yield connection
            except psycopg.Error as error:
                raise server_error(error, self.url) from None

    def _migrate_server(self) -> None:
        with self._transaction(writer=True) as db:
            # Looked up before anything is created: PostgreSQL checks the right to create
            # before IF NOT EXISTS, and a role an administrator gave a ready schema (and no
            # right to create one) must still open it.
            if db.execute("SELECT 1 FROM pg_namespace WHERE nspname = ?",
                          [SCHEMA]).fetchone() is None:
                db.execute(f"CREATE SCHEMA {SCHEMA}")
            if db.execute("SELECT to_regclass(?)",
                          [f"{SCHEMA}.schema_migrations"]).fetchone()[0] is None:
                db.execute("CREATE TABLE schema_migrations (number bigint PRIMARY KEY, "
                           "name text NOT NULL, applied_at text NOT NULL)")
            applied = {row[0] for row in db.execute("SELECT number FROM schema_migrations")}
            for migration in MIGRATIONS:
                if migration.number in applied:
                    continue
                db._raw.execute(migration.sql)
                db.execute("INSERT INTO schema_migrations (number, name, applied_at) VALUES "
                           "(?, ?, to_char(now() AT TIME ZONE 'UTC', "
                           "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))",
                           [migration.number, migration.name])

    def _reads_every_row(self) -> bool:
        """Whether row-level security leaves this login every row: a coordinator's login,
        or one that passes every policy (a superuser, BYPASSRLS). A supervisor or a partner
        organisation reads some rows only (docs/decisions.md 76)."""
        with self.read() as connection:
            return bool(connection.execute(
                "SELECT is_coordinator() OR rolsuper OR rolbypassrls FROM pg_roles "
                "WHERE rolname = current_user").fetchone()[0])

    @property
    def schema_version(self) -> int:
        with self.read() as connection:
            row = connection.execute("SELECT MAX(number) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def holds_profile(self) -> bool:
        with self.read() as connection:
            return connection.execute("SELECT 1 FROM profile LIMIT 1").fetchone() is not None

    @contextlib.contextmanager
    def write(self, *, queue_later: bool = False) -> Iterator[Any]:
        """One write transaction, serialised server-wide; rolled back on any error.

        With `queue_later` it joins the writers' queue only when the caller asks
        (`store.database.queue_for_writers`): the import's ledger row and records, which
        unique keys and a version guard protect, are written beside other consoles'.
        """
        with self._transaction(writer=True, queue_later=queue_later) as db:
            yield db

    @contextlib.contextmanager
    def read(self) -> Iterator[Any]:
        """A consistent read: one REPEATABLE READ snapshot."""
        with self._transaction(writer=False) as db:
            yield db

    def integrity_check(self, progress: Callable[[], None] | None = None) -> bool:
        """Reads every row of every table (the server checks its pages as it reads them).

        PostgreSQL keeps its own page checksums (`initdb --data-checksums`) and its own
        crash safety; what this adds is that every table of the profile can be read to the
        end. Each stored value is AES-GCM-authenticated anyway when it is opened.

        A supervisor's or partner's login may not read every table (the ledger, the
        coordinators' sealed snapshots): it checks the tables it may read, and row-level
        security limits those to its rows, so a right withheld is not reported as damage.
        """
        import psycopg

        try:
            with self.read() as connection:
                for table in PRIMARY_KEYS:
                    if not self.sees_every_row and not connection.execute(
                            "SELECT has_table_privilege(?, 'SELECT')",
                            [f"{SCHEMA}.{table}"]).fetchone()[0]:
                        continue
                    connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
                    if progress is not None:
                        progress()
        except (psycopg.Error, UserError):
            return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                with contextlib.suppress(Exception):
                    self._raw.close()
            self._raw = None
