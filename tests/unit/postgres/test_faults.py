"""Faults of the database server, against the real server: each a message that says what to
do next, never a traceback or the password, and never a half-imported batch.

Mid-import faults are struck from inside the import's own transaction (when the statistics
snapshot learns of the batch, after the records and before the ledger entry are written):
a restart of the whole server, and `pg_terminate_backend` from another connection. The
disk-full case puts the database on a tablespace on an 8 MiB tmpfs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fieldscreen.cli import main
from fieldscreen.exchange.batch import batch_file_name
from fieldscreen.store.statistics_snapshot import StatisticsSnapshotStore
from tests import postgres_server as pg
from tests.exchange_helpers import PASSPHRASE, make_world, record_dict

RECORDS = 40


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


@dataclass
class Site:
    """A coordinator whose profile is on the server, and one laptop's batch in the relay."""

    server: pg.PostgresServer
    database: str
    url: str
    relay: Path
    argv: list[str]
    role: str

    def count(self, table: str) -> int:
        with self.server.admin(self.database) as connection:
            return int(connection.execute(
                f"SELECT count(*) FROM fieldscreen.{table}").fetchone()[0])

    def imported(self) -> tuple[int, int, int]:
        return (self.count("imported_records"), self.count("batch_ledger"),
                self.count("follow_ups"))


def _site(tmp_path: Path, server: pg.PostgresServer, database: str, *,
          records: int = RECORDS) -> Site:
    url = server.url(database)
    world = make_world(tmp_path, database=url)
    try:
        sealed = world.seal_by_hand([record_dict(n) for n in range(records)], sequence=1)
        (world.relay / batch_file_name(sealed.batch_id)).write_bytes(sealed.data)
    finally:
        world.close()
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    argv = ["--basedir", str(world.coordinator_base), "--passphrase-file", str(secret)]
    # The faults strike a coordinator's own login, bound by row-level security as every
    # login but the administrator's is (the superuser passes every policy).
    role = "fs_coord_" + uuid.uuid4().hex[:8]
    with server.admin(database) as connection:
        connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'coordinator pw 3'")
        connection.execute("SELECT fieldscreen.grant_access(%s, 'coordinator')", [role])
    return Site(server, database, server.url(database, user=role,
                                             password="coordinator pw 3"),
                world.relay, argv, role)


def _drop_login(site: Site) -> None:
    with site.server.admin(site.database) as connection:
        connection.execute(f"DROP OWNED BY {site.role}")
    with site.server.admin() as connection:
        connection.execute(f"DROP ROLE {site.role}")


@pytest.fixture
def site(tmp_path: Path, postgres_server: pg.PostgresServer,
         postgres_url: str) -> Iterator[Site]:
    made = _site(tmp_path, postgres_server, postgres_url.rsplit("/", 1)[1])
    yield made
    _drop_login(made)


def _import(capsys, site: Site, url: str | None = None) -> tuple[int, str, str]:
    return run(capsys, "--database", url or site.url, *site.argv[:2], "import",
               str(site.relay), "--json", *site.argv[2:])


@contextlib.contextmanager
def _inside_the_import(monkeypatch, strike: Callable[[], None]) -> Iterator[None]:
    """Run `strike` once, inside the import's transaction, after its records are written."""
    original = StatisticsSnapshotStore.append_delta
    struck = []

    def append_delta(self, db, *args, **kwargs):
        if not struck:
            struck.append(True)
            strike()
        return original(self, db, *args, **kwargs)

    monkeypatch.setattr(StatisticsSnapshotStore, "append_delta", append_delta)
    yield
    monkeypatch.setattr(StatisticsSnapshotStore, "append_delta", original)
    assert struck, "the fault was never struck: this test would prove nothing"


def _assert_completes_after(capsys, site: Site) -> None:
    code, out, err = _import(capsys, site)
    assert code == 0, err
    assert json.loads(out)["records"]["imported"] == RECORDS
    assert site.imported() == (RECORDS, 1, site.count("follow_ups"))
    assert site.count("follow_ups") > 0


def _no_password(text: str) -> None:
    assert pg.ADMIN_PASSWORD not in text
    assert "admin%20pass" not in text and "postgresql://" not in text


def test_server_down_is_a_message_with_what_to_do(capsys, postgres_server):
    down = f"postgresql://{pg.ADMIN}:secret-pw-1@127.0.0.1:{pg._free_port()}/nothing"
    code, _out, err = run(capsys, "--database", down, "coordinator", "devices",
                          "--passphrase-file", "/dev/null")
    assert code == 1
    assert "Cannot reach the database server 127.0.0.1:" in err
    assert "Check that the server is running" in err
    assert "secret-pw-1" not in err


def test_wrong_credentials_are_refused_without_echoing_the_password(capsys, caplog, site,
                                                                    monkeypatch, tmp_path):
    caplog.set_level(logging.DEBUG)
    wrong = site.server.url(site.database, password="wrong-pw-93")
    code, _out, err = _import(capsys, site, wrong)
    assert code == 1
    assert "refused the user name or password" in err and "PGPASSWORD" in err
    assert "wrong-pw-93" not in err and "wrong-pw-93" not in caplog.text
    assert site.imported() == (0, 0, 0)
    # As libpq does, the password may come from ~/.pgpass (here PGPASSFILE) ...
    without = site.server.url(site.database, password=None)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{site.server.port}:{site.database}:{pg.ADMIN}:"
                        f"{pg.ADMIN_PASSWORD}\n", encoding="utf-8")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    code, out, err = run(capsys, "--database", without, *site.argv[:2], "coordinator",
                         "devices", *site.argv[2:])
    assert code == 0, err
    monkeypatch.delenv("PGPASSFILE")
    # ... or from PGPASSWORD, instead of the URL.
    monkeypatch.setenv("PGPASSWORD", pg.ADMIN_PASSWORD)
    code, out, err = _import(capsys, site, without)
    assert code == 0, err
    _no_password(out + err + caplog.text)
    assert site.imported()[0] == RECORDS


def test_a_database_that_does_not_exist_is_named(capsys, postgres_server):
    missing = postgres_server.url("fs_not_there")
    code, _out, err = run(capsys, "--database", missing, "coordinator", "devices",
                          "--passphrase-file", "/dev/null")
    assert code == 1
    assert "There is no database fs_not_there" in err
    _no_password(err)


def test_no_free_connection_is_a_message_with_what_to_do(capsys, site):
    busy = "fs_busy_" + uuid.uuid4().hex[:6]
    with site.server.admin(site.database) as connection:
        connection.execute(f"CREATE ROLE {busy} LOGIN PASSWORD 'busy pw 8' CONNECTION LIMIT 0")
    try:
        code, _out, err = _import(capsys, site, site.server.url(
            site.database, user=busy, password="busy pw 8"))
        assert code == 1
        assert "has no free connection for FieldScreen now" in err
        assert "allow more connections" in err and "busy pw 8" not in err
        assert site.imported() == (0, 0, 0)
    finally:
        with site.server.admin(site.database) as connection:
            connection.execute(f"DROP ROLE {busy}")


def test_a_role_without_rights_imports_nothing(capsys, site):
    reader = "fs_reader_" + uuid.uuid4().hex[:6]
    with site.server.admin(site.database) as connection:
        connection.execute(f"CREATE ROLE {reader} LOGIN PASSWORD 'reader pw 5'")
        connection.execute(f"GRANT USAGE ON SCHEMA fieldscreen TO {reader}")
        connection.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA fieldscreen TO {reader}")
    try:
        code, _out, err = _import(capsys, site, site.server.url(
            site.database, user=reader, password="reader pw 5"))
        assert code == 1
        assert f"The database role {reader} does not have the rights" in err
        assert "grant it the coordinator's rights" in err
        assert "reader pw 5" not in err
        assert site.imported() == (0, 0, 0)
    finally:
        with site.server.admin(site.database) as connection:
            connection.execute(f"DROP OWNED BY {reader}")
            connection.execute(f"DROP ROLE {reader}")
    _assert_completes_after(capsys, site)


def test_a_server_restart_mid_import_keeps_nothing_and_the_import_completes_after(
        capsys, site, monkeypatch):
    def restart() -> None:
        site.server.stop("fast")
        site.server.start()

    with _inside_the_import(monkeypatch, restart):
        code, out, err = _import(capsys, site)
    assert code == 1
    assert "The connection to the database server" in err and "was lost" in err
    assert "Nothing of it was kept" in err
    _no_password(out + err)
    assert site.imported() == (0, 0, 0)
    _assert_completes_after(capsys, site)


def test_a_connection_cut_mid_transaction_keeps_nothing(capsys, site, monkeypatch):
    def cut() -> None:
        with site.server.admin() as connection:
            killed = connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND application_name = 'fieldscreen'", [site.database]).fetchall()
        assert killed == [(True,)]

    with _inside_the_import(monkeypatch, cut):
        code, _out, err = _import(capsys, site)
    assert code == 1 and "was lost" in err
    assert site.imported() == (0, 0, 0)
    _assert_completes_after(capsys, site)


def test_an_open_profile_connects_again_after_its_connection_was_cut(site):
    from fieldscreen.store.profile import ProfileStore
    from tests.exchange_helpers import PROFILE, weak_kdf

    profile = ProfileStore(Path(site.argv[1]) / "data", kdf=weak_kdf(),
                           database=site.url).open(PROFILE).unlock(PASSPHRASE)
    try:
        with site.server.admin() as connection:
            connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                               "datname = %s AND application_name = 'fieldscreen'",
                               [site.database])
        # The console keeps its profile open for hours: the next read simply reconnects.
        assert len(profile.devices.list()) == 1
    finally:
        profile.lock()


@pytest.fixture
def small_tablespace(postgres_server: pg.PostgresServer) -> Iterator[tuple[str, Path]]:
    """A tablespace on an 8 MiB tmpfs (we are root in CI; elsewhere this test is skipped)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root, so it runs there)")
    mount = Path(postgres_server.folder) / f"small-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    assert done.returncode == 0, f"could not mount a tmpfs: {done.stderr}"
    name = "fs_small_" + uuid.uuid4().hex[:6]
    database = "fs_" + uuid.uuid4().hex[:12]
    try:
        if postgres_server.user is not None:
            entry = pwd.getpwnam(postgres_server.user)
            os.chown(mount, entry.pw_uid, entry.pw_gid)
        with postgres_server.admin() as connection:
            connection.execute(f"CREATE TABLESPACE {name} LOCATION '{mount}'")
            connection.execute(f'CREATE DATABASE "{database}" TABLESPACE {name}')
        yield database, mount
    finally:
        postgres_server.drop_database(database)
        with postgres_server.admin() as connection:
            connection.execute(f"DROP TABLESPACE IF EXISTS {name}")
        subprocess.run(["umount", str(mount)], check=False)
        mount.rmdir()


def test_a_full_disk_on_the_server_keeps_nothing_and_the_import_completes_after(
        capsys, tmp_path, postgres_server, small_tablespace):
    database, mount = small_tablespace
    # About 3 KB a record sealed: 4000 records do not fit in what the tablespace has left.
    site = _site(tmp_path, postgres_server, database, records=4000)
    try:
        _full_disk_then_room(capsys, site, mount)
    finally:
        _drop_login(site)


def _full_disk_then_room(capsys, site: Site, mount: Path) -> None:
    code, out, err = _import(capsys, site)
    assert code == 1, out
    assert "The database server's disk is full, so this was not saved." in err
    assert "Ask the database administrator to free space" in err
    assert "this computer" not in err
    _no_password(out + err)
    assert site.imported() == (0, 0, 0)
    # The administrator grows the volume: the same import completes.
    subprocess.run(["mount", "-o", "remount,size=256m", str(mount)], check=True)
    code, out, err = _import(capsys, site)
    assert code == 0, err
    assert json.loads(out)["records"]["imported"] == 4000
    assert site.imported()[:2] == (4000, 1)
