"""The coordinator loop on both engines of the store, through the command line.

A field laptop screens children (a distinctive name in each worker's note) and syncs its
sealed batches to a folder relay; the coordinator imports them with `import`, sees the
referral queue, the dashboard's statistics and exports counts. The same steps pass on the
local SQLite file and on a real PostgreSQL server (`--database postgresql://...`). Then
nothing of the children is in the store in clear: every file on SQLite, a `pg_dump` of the
whole database on PostgreSQL (what a backup holds).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from fieldscreen.cli import main
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.reporting.snapshot import load_facts
from fieldscreen.store.layout import DATABASE_FILE
from fieldscreen.store.profile import ProfileStore
from tests.exchange_helpers import PASSPHRASE, PROFILE, make_world, shipped_form, weak_kdf
from tests.store_helpers import CHILD_NAME, CHILD_NAME_2, answers_with_note, files_containing
from tests.unit.postgres import engines

engine_url = engines.engine_url

SECRETS = [CHILD_NAME, CHILD_NAME_2, "Zuleikha", "Çocukgül"]
CHILDREN = 24


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def _screen(field, count: int) -> None:
    form = shipped_form()
    for n in range(count):
        name = CHILD_NAME if n % 2 else CHILD_NAME_2
        base = ("urgent.json", "referral.json", "follow-up.json", "information.json")[n % 4]
        session = ScreeningSession(form)
        session.answer_all(answers_with_note(f"{name} said her papers were taken", base))
        field.records.save_final(form.id, form.version, session.answers_json(),
                                 session.outcome().to_json())


def test_import_queue_dashboard_and_export_on_either_engine(tmp_path: Path, capsys, caplog,
                                                             engine_url, request):
    caplog.set_level(logging.DEBUG)
    world = make_world(tmp_path, database=engine_url)
    _screen(world.field, CHILDREN // 2)
    world.close()
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    unlock = ["--passphrase-file", str(secret)]
    field = ["--basedir", str(tmp_path / "field")]
    coordinator = ["--basedir", str(world.coordinator_base)]
    database = ["--database", engine_url] if engine_url else []

    # Two batches from the field laptop, through the relay.
    assert run(capsys, *field, "sync", *unlock)[0] == 0
    field_profile = ProfileStore(tmp_path / "field" / "data", kdf=weak_kdf()).open(
        PROFILE).unlock(PASSPHRASE)
    _screen(field_profile, CHILDREN - CHILDREN // 2)
    field_profile.lock()
    assert run(capsys, *field, "sync", *unlock)[0] == 0

    code, out, err = run(capsys, *coordinator, "import", str(world.relay), "--json",
                         *database, *unlock)
    assert code == 0, err
    report = json.loads(out)
    assert report["batches"]["imported"] == 2
    assert report["records"]["imported"] == CHILDREN

    # Importing the same files again changes nothing.
    code, out, err = run(capsys, *coordinator, "import", str(world.relay), "--json",
                         *database, *unlock)
    assert code == 0, err
    assert json.loads(out)["records"]["imported"] == 0

    code, out, err = run(capsys, *coordinator, "referral", "cases", "--json", *database,
                         *unlock)
    assert code == 0, err
    cases = json.loads(out)
    # Urgent and referral decisions open a case; follow-up and information do not.
    assert len(cases) == CHILDREN // 2

    # The dashboard's statistics, as the console loads them.
    store = ProfileStore(world.coordinator_base / "data", kdf=weak_kdf(), database=engine_url)
    profile = store.open(PROFILE).unlock(PASSPHRASE)
    try:
        facts = load_facts(profile.inbox)
        assert len(facts) == CHILDREN
        assert profile.verify_audit().holds
    finally:
        profile.lock()

    # The data check (every stored value opens, the store reads to the end) and the audit.
    code, out, err = run(capsys, *coordinator, "coordinator", "check", "--json", *database,
                         *unlock)
    assert code == 0, err
    checked = json.loads(out)
    assert checked["integrity_ok"] and checked["records"] == CHILDREN
    code, out, err = run(capsys, *coordinator, "audit", "verify", *database, *unlock)
    assert code == 0, err

    counts = tmp_path / "counts.csv"
    code, _out, err = run(capsys, *coordinator, "export", "--format", "csv", "-o",
                          str(counts), *database, *unlock)
    assert code == 0, err
    assert f"counts of {CHILDREN} children" in err
    with counts.open(encoding="utf-8") as handle:
        assert list(csv.reader(handle))

    # Nothing of the children in clear: not in the coordinator's files, not in the database.
    hits = files_containing(world.coordinator_base, [*SECRETS, PASSPHRASE])
    assert not hits, hits
    logged = caplog.text + "".join(record.getMessage() for record in caplog.records)
    assert not [secret for secret in (*SECRETS, PASSPHRASE) if secret in logged]
    if engine_url is not None:
        assert engine_url.split("@")[0].split(":")[-1] not in logged  # the URL's password
    local_files = list(world.coordinator_base.rglob(DATABASE_FILE))
    assert len(local_files) == (0 if engine_url else 1)
    if engine_url is not None:
        server = request.getfixturevalue("postgres_server")
        dump = server.pg_dump(engine_url.rsplit("/", 1)[1])
        assert b"CREATE TABLE fieldscreen.imported_records" in dump
        assert b"COPY fieldscreen.imported_records" in dump
        from tests.leak_helpers import found_in

        assert not found_in(dump, [*SECRETS, PASSPHRASE])
