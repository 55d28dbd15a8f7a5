"""Several people on one server, each with their own login, each seeing only their own rows.

The loop of issue 27 on a real PostgreSQL with real roles: two coordinators (each their own
login and their own passphrase), two field laptops screening in two areas, both consoles
importing the same folder at the same time (two real processes), then a supervisor limited
to one area and a partner organisation limited to the case referred to it. Each role is
connected to as itself and what it can and cannot read is checked at the server
(row-level security, docs/postgresql.md), and through the app: a supervisor's export holds
only their area's children. A login without rights is told so, in the person's words.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid

import psycopg
import pytest
from psycopg import sql

from fieldscreen.cli import main
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.exchange.pack import build_pack, deployment_coordinators, install_pack
from fieldscreen.exchange.sync import sync
from fieldscreen.reporting.snapshot import load_facts
from fieldscreen.store.follow_up import CaseChangedElsewhere, FollowUpStatus
from fieldscreen.store.postgres_schema import SCHEMA
from fieldscreen.store.profile import ProfileStore
from tests.exchange_helpers import (
    PASSPHRASE,
    PROFILE,
    ROOT,
    SHIPPED_FORM,
    SHIPPED_SERVICES,
    SyncSettings,
    make_field,
    make_world,
    shipped_form,
    weak_kdf,
)
from tests.store_helpers import load_answers

SECOND = "amina's own long passphrase"
NORTH, SOUTH = "north_district", "south_district"
PARTNER = "partner-shelter-01"
# (answer file, opens a case): urgent and referral decisions open one.
SCREENINGS = [("urgent.json", True), ("referral.json", True), ("information.json", False)]


def _screen(field, area: str, rounds: int) -> None:
    form = shipped_form()
    for _round in range(rounds):
        for name, _case in SCREENINGS:
            answers = load_answers(name)
            answers["area"] = area
            session = ScreeningSession(form)
            session.answer_all(answers)
            field.records.save_final(form.id, form.version, session.answers_json(),
                                     session.outcome().to_json())


class Logins:
    """Login roles on the session's server, each granted through `grant_access()` as the
    administrator would (docs/postgresql.md); dropped at the end of the test."""

    def __init__(self, server, database: str) -> None:
        self.server, self.database = server, database
        self.made: list[str] = []

    def make(self, name: str, kind: str | None, scopes: tuple[str, ...] = ()) -> str:
        role = f"{name}_{self.database[-8:]}"
        password = f"{name} password on loopback"
        with self.server.admin(self.database) as connection:
            connection.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)))
            self.made.append(role)
            if kind is not None:
                connection.execute(f"SELECT {SCHEMA}.grant_access(%s, %s, %s)",
                                   [role, kind, list(scopes)])
        return self.server.url(self.database, user=role, password=password)

    def drop(self) -> None:
        with self.server.admin(self.database) as connection:
            for role in self.made:
                connection.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with self.server.admin() as connection:
            for role in self.made:
                connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def logins(postgres_server, postgres_url):
    made = Logins(postgres_server, postgres_url.rsplit("/", 1)[1])
    yield made
    made.drop()


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"SET search_path TO {SCHEMA}")
        return connection.execute(query).fetchall()


def _refused(url: str, statement: str) -> bool:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"SET search_path TO {SCHEMA}")
        try:
            connection.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def _import_at_once(world, urls_and_passphrases, tmp_path) -> list[dict]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = []
    for n, (url, passphrase) in enumerate(urls_and_passphrases):
        secret = tmp_path / f"console-{n}.pass"
        secret.write_text(passphrase + "\n", encoding="utf-8")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "fieldscreen", "--basedir", str(world.coordinator_base),
             "import", str(world.relay), "--json", "--database", url,
             "--passphrase-file", str(secret)],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True))
    results = [process.communicate(timeout=600) for process in processes]
    for process, (_out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert "Traceback" not in err
    return [json.loads(out) for out, _err in results]


@pytest.mark.slow
def test_two_coordinators_two_laptops_a_supervisor_and_a_partner(tmp_path, postgres_url,
                                                                  logins, capsys):
    world = make_world(tmp_path, database=postgres_url)
    # The deployment's two coordinators: the profile's first, and Amina with her own
    # passphrase; both laptops install the pack that lists them both.
    world.coordinator.add_coordinator("Amina", SECOND)
    pack_raw = build_pack(
        signing_key=world.coordinator.coordinator_signing_key(),
        recipient=world.recipient, coordinator_name=PROFILE,
        coordinators=deployment_coordinators(world.coordinator),
        form_paths=[SHIPPED_FORM], services_path=SHIPPED_SERVICES,
        sync=SyncSettings(str(world.relay)), retention_days=30, demo=False,
        now=world.clock(), sequence=2)
    pack = install_pack(world.field, pack_raw).pack
    second_laptop = make_field(tmp_path / "field2" / "data", pack_raw, clock=world.clock,
                               pack=pack)
    world.coordinator.devices.enroll(second_laptop.device_key().public.raw, "laptop south")
    world.coordinator.lock()
    try:
        for rounds in (2, 1):  # two batches from each laptop
            _screen(world.field, NORTH, rounds)
            assert sync(world.field, now=world.clock).delivered_batches == 1
            _screen(second_laptop, SOUTH, rounds)
            assert sync(second_laptop, now=world.clock).delivered_batches == 1
    finally:
        world.field.lock()
        second_laptop.lock()
    north = south = 3 * len(SCREENINGS)
    cases_north = 3 * sum(case for _name, case in SCREENINGS)

    first = logins.make("coord_one", "coordinator")
    amina = logins.make("coord_two", "coordinator")
    supervisor = logins.make("supervisor_north", "supervisor", (NORTH,))
    partner = logins.make("shelter", "partner", (PARTNER,))
    nobody = logins.make("no_rights", None)

    # Both consoles import the same folder at once, each as its own login: every batch
    # exactly once.
    reports = _import_at_once(world, [(first, PASSPHRASE), (amina, SECOND)], tmp_path)
    assert sum(report["batches"]["imported"] for report in reports) == 4, reports
    assert sum(report["batches"]["duplicate"] for report in reports) == 4, reports
    assert _rows(first, "SELECT count(*) FROM batch_ledger") == [(4,)]
    assert _rows(amina, "SELECT area, count(*) FROM imported_records GROUP BY area "
                 "ORDER BY area") == [(NORTH, north), (SOUTH, south)]

    # A coordinator refers one child of the north to the partner organisation.
    console = ProfileStore(tmp_path / "console-one", kdf=weak_kdf(), database=first).open(
        PROFILE).unlock(PASSPHRASE)
    try:
        referred = next(case.record_id for case in console.referrals.cases()
                        if _rows(first, f"SELECT area FROM imported_records WHERE id = "
                                 f"'{case.record_id}'") == [(NORTH,)])
        console.referral_ledger.add(referral_id=str(uuid.uuid4()), record_id=referred,
                                    partner_id=PARTNER, service_id="shelter",
                                    service_name="Shelter", priority="high")
        console.referral_ledger.add(referral_id=str(uuid.uuid4()), record_id=next(
            case.record_id for case in console.referrals.cases()
            if case.record_id != referred), partner_id="another-partner",
            service_id="clinic", service_name="Clinic", priority="high")
        assert console.verify_audit().holds
        # The dashboard's first load seals the national statistics snapshot.
        assert len(load_facts(console.inbox)) == north + south
        # ... and the queue's first screen the sealed queue index.
        assert console.referrals.page(0, 50).total == 2 * cases_north
    finally:
        console.lock()

    # The supervisor: their area's records, cases and referrals, nothing else; the sealed
    # national statistics and queue are not theirs; they write no row of the data.
    assert _rows(supervisor, "SELECT DISTINCT area FROM imported_records") == [(NORTH,)]
    assert _rows(supervisor, "SELECT count(*) FROM imported_records") == [(north,)]
    assert _rows(supervisor, "SELECT count(*) FROM follow_ups") == [(cases_north,)]
    assert _rows(supervisor, "SELECT count(*) FROM statistics_snapshot") == [(0,)]
    assert _rows(first, "SELECT count(*) FROM statistics_snapshot")[0][0] > 0
    assert _rows(supervisor, "SELECT count(*) FROM queue_index") == [(0,)]
    assert _rows(first, "SELECT count(*) FROM queue_index")[0][0] > 0
    assert _rows(supervisor, "SELECT role_name FROM row_access") == [
        (supervisor.split("://")[1].split(":")[0],)]
    for statement in ("UPDATE imported_records SET area = 'south_district'",
                      "DELETE FROM follow_ups", "INSERT INTO row_access VALUES ('x', "
                      "'coordinator', '')", "ALTER TABLE imported_records DISABLE ROW "
                      "LEVEL SECURITY", "SELECT * FROM batch_ledger"):
        assert _refused(supervisor, statement), statement

    # The partner organisation: the one case referred to it, nothing of the other.
    assert _rows(partner, "SELECT id FROM imported_records") == [(referred,)]
    assert _rows(partner, "SELECT record_id FROM follow_ups") == [(referred,)]
    assert _rows(partner, "SELECT partner_id FROM referrals") == [(PARTNER,)]
    assert _rows(partner, "SELECT count(*) FROM statistics_snapshot") == [(0,)]
    # The coordinators see everything.
    assert _rows(amina, "SELECT count(*) FROM referrals") == [(2,)]
    assert _rows(amina, "SELECT count(*) FROM imported_records") == [(north + south,)]

    # The supervisor's console: their statistics and their queue, computed from their
    # rows; the national snapshots are neither read nor written.
    sealed_before = _rows(first, "SELECT count(*), sum(length(sealed)) FROM "
                          "statistics_snapshot")
    console = ProfileStore(tmp_path / "supervisor-app", kdf=weak_kdf(),
                           database=supervisor).open(PROFILE).unlock(PASSPHRASE)
    try:
        assert not console.inbox.sees_every_row
        facts = load_facts(console.inbox)
        assert len(facts) == north
        assert console.referrals.page(0, 50).total == cases_north
        assert len(console.referrals.cases()) == cases_north
    finally:
        console.lock()
    assert _rows(first, "SELECT count(*), sum(length(sealed)) FROM "
                 "statistics_snapshot") == sealed_before

    # Through the app: the supervisor unlocks (their unlock audited) and exports; the
    # export reads through their connection, so it holds their area's children only.
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    base = ["--basedir", str(tmp_path / "supervisor-console")]
    counts = tmp_path / "north.csv"
    code = main([*base, "export", "--format", "csv", "--records", "-o", str(counts),
                 "--database", supervisor, "--passphrase-file", str(secret)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"{north} screenings" in captured.err, captured.err
    with counts.open(encoding="utf-8") as handle:
        body = handle.read()
    assert "South District" not in body and "south_district" not in body
    code = main([*base, "export", "--format", "csv", "-o", str(tmp_path / "all.csv"),
                 "--database", first, "--passphrase-file", str(secret)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"counts of {north + south} children" in captured.err

    # A supervisor who tries to change a case of their own area is told they lack the
    # rights, and nothing changes.
    code = main([*base, "referral", "case-status", referred, "accepted", "--database",
                 supervisor, "--passphrase-file", str(secret)])
    captured = capsys.readouterr()
    assert code != 0
    assert "does not have the rights FieldScreen needs" in captured.err
    assert "Traceback" not in captured.err
    assert _rows(first, "SELECT version FROM follow_ups WHERE record_id = "
                 f"'{referred}'") == _rows(supervisor, "SELECT version FROM follow_ups "
                                           f"WHERE record_id = '{referred}'")

    # A login the administrator gave no rights: the clear message, nothing changed.
    code = main([*base, "referral", "cases", "--database", nobody, "--passphrase-file",
                 str(secret)])
    captured = capsys.readouterr()
    assert code != 0
    assert "does not have the rights FieldScreen needs" in captured.err
    assert "Traceback" not in captured.err and "password" not in captured.err.split(
        "(in --database")[0]

    # The audit chain holds after everyone's work, read by the second coordinator.
    console = ProfileStore(tmp_path / "console-two", kdf=weak_kdf(), database=amina).open(
        PROFILE).unlock(SECOND)
    try:
        assert console.verify_audit().holds
    finally:
        console.lock()


def test_two_coordinators_changing_one_case_on_the_server_lose_neither(tmp_path, postgres_url,
                                                                      logins):
    """The version check on PostgreSQL, each coordinator on their own login: a change
    decided on an older version is refused, and notes from both are kept."""
    world = make_world(tmp_path, database=postgres_url)
    try:
        world.coordinator.add_coordinator("Amina", SECOND)
        batch = world.sealed_batch(1).file  # the first answer file: an urgent case
        assert world.import_bytes(batch).status == "imported"
        (case,) = world.coordinator.referrals.cases()
    finally:
        world.close()
    first = ProfileStore(tmp_path / "one", kdf=weak_kdf(),
                         database=logins.make("coord_a", "coordinator")
                         ).open(PROFILE).unlock(PASSPHRASE)
    second = ProfileStore(tmp_path / "two", kdf=weak_kdf(),
                          database=logins.make("coord_b", "coordinator")
                          ).open(PROFILE).unlock(SECOND)
    try:
        seen_here = first.referrals.case(case.record_id)
        seen_there = second.referrals.case(case.record_id)
        second.referrals.change_status(case.record_id, FollowUpStatus.CONTACTED,
                                       expected_version=seen_there.version)
        with pytest.raises(CaseChangedElsewhere) as refused:
            first.referrals.change_status(case.record_id, FollowUpStatus.REFERRED, "mine",
                                          expected_version=seen_here.version)
        assert "Someone else changed this case" in refused.value.message
        now = first.referrals.case(case.record_id)
        assert now.status is FollowUpStatus.CONTACTED
        assert first.referrals.notes(case.record_id) == []
        # Notes from both consoles are both kept, numbered by the server.
        first.referrals.add_note(case.record_id, "called the family")
        second.referrals.add_note(case.record_id, "school visited")
        assert sorted(note.text for note in second.referrals.notes(case.record_id)) == [
            "called the family", "school visited"]
        assert first.verify_audit().holds
    finally:
        first.lock()
        second.lock()


def _incoming(record_id: str, version: int):
    from fieldscreen.store.incoming import IncomingRecord, summary_from_outcome
    from tests.exchange_helpers import screenings

    answers, outcome = screenings()[0]
    stamp = f"2026-03-0{version}T09:00:00Z"
    return IncomingRecord(id=record_id, version=version, form_id="child-screening",
                          form_version="2026.11.0", created_at=stamp, updated_at=stamp,
                          demo=False, summary=summary_from_outcome(outcome),
                          line=json.dumps({"answers": answers, "outcome": outcome}).encode())


def test_a_newer_version_stored_by_another_console_meanwhile_is_never_rolled_back(
        tmp_path, postgres_url, logins, monkeypatch):
    """Imports write their ledger row and records before they queue for the writer lock
    (docs/decisions.md 77). Console A reads what is held, then console B stores a newer
    version of the same record and commits, then A writes its older one: the version
    guard keeps B's, A finds it when its turn comes, and starts again in the queue, where
    its record is counted as already held. Nothing is lost, the audit chain holds."""
    from fieldscreen.store import inbox as inbox_module

    world = make_world(tmp_path, database=postgres_url)
    device = world.device.device_id
    world.close()
    record_id = str(uuid.uuid4())
    consoles = [ProfileStore(tmp_path / name, kdf=weak_kdf(),
                             database=logins.make(name, "coordinator")).open(PROFILE).unlock(
        PASSPHRASE) for name in ("console_a", "console_b")]
    original = inbox_module._upsert_records
    calls: list[int] = []

    def upsert_after_the_other_console_stored_v2(connection, rows):
        calls.append(len(rows))
        if len(calls) == 1:  # console A, between its read and its write: B runs whole
            done = []
            other = threading.Thread(target=lambda: done.append(
                consoles[1].inbox.import_batch(device, "batch-2", 2, "m2", "f2",
                                               [_incoming(record_id, 2)])))
            other.start()
            other.join(timeout=60)
            assert done and done[0].imported == 1
        return original(connection, rows)

    monkeypatch.setattr(inbox_module, "_upsert_records",
                        upsert_after_the_other_console_stored_v2)
    try:
        counts = consoles[0].inbox.import_batch(device, "batch-1", 1, "m1", "f1",
                                                [_incoming(record_id, 1)])
        assert len(calls) == 3, calls  # A, B, then A again in the queue
        assert (counts.imported, counts.duplicate) == (0, 1)
        with consoles[0]._database.read() as connection:
            assert connection.execute(
                "SELECT version FROM imported_records WHERE id = ?",
                [record_id]).fetchone()[0] == 2
            assert connection.execute("SELECT count(*) FROM batch_ledger").fetchone()[0] == 2
        assert consoles[1].verify_audit().holds
    finally:
        for console in consoles:
            console.lock()
