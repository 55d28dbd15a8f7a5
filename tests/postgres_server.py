"""A real PostgreSQL server for tests: `initdb` + `pg_ctl` in a temporary folder, on loopback.

The coordinator store on PostgreSQL (docs/postgresql.md) is tested against the real server
Debian ships, never a mock: the tests need its real errors (a refused password, a role
without rights, a connection cut by `pg_terminate_backend`, a full tablespace).

How it runs, also as root in CI:

* The binaries come from `pg_config --bindir` or, as Debian installs them off the PATH,
  the newest `/usr/lib/postgresql/<version>/bin`. Missing binaries fail the test with a
  message that names the Debian package; they are never a skip.
* `initdb` refuses to run as root. As root, every server command runs through
  `runuser -u <user>` for an unprivileged system user (`postgres` when the package made
  it, else `nobody`), and the temporary folder is made by root, then handed to that user
  (`chown`). The folder is under /tmp itself, not pytest's per-user folder, which is 0700
  and so closed to that user.
* The server listens on 127.0.0.1 only, on a free port, with its Unix socket in the same
  temporary folder (not /run/postgresql, which the user may not write), and password
  (scram-sha-256) authentication for every connection, so the tests see what a
  deployment sees. `fsync=off` only makes the tests faster; nothing here tests durability (the bench
  starts it with `durable=True`: fsync on, as a deployment runs).
* `stop()` and `start()` take it down and bring it back on the same port (the fault tests);
  the session fixture stops it and removes the folder at the end.

The fixtures `postgres_server` (the session's one server) and `postgres_url` (a fresh
database on it for each test, dropped after) are imported by tests/conftest.py, so every
test can ask for them by name.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

try:
    import pytest
except ImportError:  # bench/postgres.py starts a server too, without the test tools
    pytest = None  # type: ignore[assignment]

ADMIN = "fieldscreen_admin"
ADMIN_PASSWORD = "admin pass 7 on loopback"
DEBIAN_PACKAGE = "postgresql"


class PostgresUnavailable(RuntimeError):
    pass


def binaries() -> Path:
    """The folder of initdb, pg_ctl and pg_dump, or a clear failure naming the package."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            candidates.append(Path(subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True,
                timeout=30).stdout.strip()))

    def version(path: str) -> int:
        name = Path(path).parent.name
        return int(name) if name.isdigit() else 0

    candidates += [Path(found) for found in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresUnavailable(
        "PostgreSQL's server binaries (initdb, pg_ctl) were not found. Install the Debian "
        f"package `{DEBIAN_PACKAGE}` (apt-get install {DEBIAN_PACKAGE}); .ci/run does.")


def _server_user() -> str | None:
    """The unprivileged user to run the server as when we are root, else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable("Running as root, but there is no unprivileged user "
                              "(postgres or nobody) to run PostgreSQL as.")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder; see the module's docstring."""

    def __init__(self, *, durable: bool = False, parent: str = "/tmp") -> None:
        # `durable`: fsync on, as a real server runs (the bench); the tests run without.
        self.durable = durable
        self.bin = binaries()
        self.user = _server_user()
        self.folder = Path(tempfile.mkdtemp(prefix="fieldscreen-pg-", dir=parent))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = _free_port()
        self.host = "127.0.0.1"
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        os.chmod(self.folder, 0o700)
        password_file = self.folder / "admin-password"
        password_file.write_text(ADMIN_PASSWORD + "\n", encoding="utf-8")
        if self.user is not None:
            os.chown(password_file, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", ADMIN, "--auth=scram-sha-256",
                  f"--pwfile={password_file}", "-E", "UTF8", "--locale=C.UTF-8")
        password_file.unlink()
        self.start()

    def _command(self, tool: str, *arguments: str) -> list[str]:
        command = [str(self.bin / tool), *arguments]
        if self.user is not None:
            return ["runuser", "-u", self.user, "--", *command]
        return command

    def _run(self, tool: str, *arguments: str) -> None:
        done = subprocess.run(self._command(tool, *arguments), capture_output=True, text=True,
                              timeout=120, cwd=self.folder)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresUnavailable(
                f"PostgreSQL's {tool} failed ({done.returncode}): {done.stderr.strip()} "
                f"{done.stdout.strip()[-1000:]}\n{log}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses={self.host} "
                   "-c max_connections=60")
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        else:
            options += " -c shared_buffers=512MB -c max_wal_size=4GB"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres", user: str = ADMIN,
            password: str | None = ADMIN_PASSWORD) -> str:
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        return f"postgresql://{credentials}@{self.host}:{self.port}/{database}"

    def admin(self, database: str = "postgres"):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(self.url(database), autocommit=True)

    def create_database(self) -> str:
        name = "fs_" + uuid.uuid4().hex[:12]
        with self.admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pg_dump(self, database: str) -> bytes:
        """A plain-SQL dump of one database, as a backup would take it."""
        environment = {**os.environ, "PGPASSWORD": ADMIN_PASSWORD}
        done = subprocess.run(
            [str(self.bin / "pg_dump"), "-h", self.host, "-p", str(self.port), "-U", ADMIN,
             "--no-owner", database], capture_output=True, env=environment, timeout=300)
        if done.returncode != 0:
            raise PostgresUnavailable(f"pg_dump failed: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def remove(self) -> None:
        with contextlib.suppress(PostgresUnavailable):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@(pytest.fixture(scope="session") if pytest is not None else (lambda function: function))
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except PostgresUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.remove()


@(pytest.fixture if pytest is not None else (lambda function: function))
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, as a connection URL (with password)."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
