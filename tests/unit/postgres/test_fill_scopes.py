"""`coordinator fill-scopes`: rows stored before areas and partners were kept in clear.

Records imported (and referrals sent) before schema version 9 (SQLite) or 3 (PostgreSQL)
have no clear area or partner, so row-level security shows them to coordinators only
(docs/decisions.md 75). The verb opens their sealed summaries and states on the
coordinator's side and writes the clear columns, in batches; a supervisor then sees an old
record of their area, and a partner organisation the referral sent to it, which they did
not before. Run again, it changes nothing. The audit entry holds counts only.
"""

from __future__ import annotations

import json
import uuid

import pytest

from fieldscreen.cli import main
from fieldscreen.store.audit import AuditAction
from fieldscreen.store.profile import ProfileStore
from tests.exchange_helpers import PASSPHRASE, PROFILE, make_world, weak_kdf
from tests.unit.postgres.engines import engine_url  # noqa: F401 (a fixture)
from tests.unit.postgres.test_row_security import (
    NORTH,
    PARTNER,
    SCREENINGS,
    SOUTH,
    Logins,
    _rows,
    _screen,
)


def _fill(base, database: str | None, secret, capsys) -> dict:
    server = ["--database", database] if database else []
    code = main(["--basedir", str(base), "coordinator", "fill-scopes", "--batch", "2",
                 "--json", *server, "--passphrase-file", str(secret)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _scopes(profile) -> dict[str, object]:
    with profile._database.read() as connection:
        return {
            "records": sorted(connection.execute(
                "SELECT area, count(*) FROM imported_records GROUP BY area").fetchall(),
                key=lambda row: str(row[0])),
            "referrals": [tuple(row) for row in connection.execute(
                "SELECT record_id, partner_id, area FROM referrals ORDER BY referral_id")]}


def test_old_rows_get_their_area_and_partner_and_the_supervisor_then_sees_them(
        tmp_path, engine_url, capsys, request):  # noqa: F811
    world = make_world(tmp_path, database=engine_url)
    _screen(world.field, NORTH, 1)
    _screen(world.field, SOUTH, 1)
    (batch,) = world.seal()
    assert world.import_bytes(batch.file).status == "imported"
    coordinator = world.coordinator
    referred = next(case.record_id for case in coordinator.referrals.cases()
                    if coordinator.inbox.record_payload(case.record_id)["answers"]["area"]
                    == NORTH)
    coordinator.referral_ledger.add(referral_id=str(uuid.uuid4()), record_id=referred,
                                    partner_id=PARTNER, service_id="shelter",
                                    service_name="Shelter", priority="high")
    filled = _scopes(coordinator)
    per_area = len(SCREENINGS)
    assert filled["records"] == [(NORTH, per_area), (SOUTH, per_area)]
    assert filled["referrals"] == [(referred, PARTNER, NORTH)]
    # As a store from before the columns would hold them.
    with coordinator._database.write() as db:
        db.execute("UPDATE imported_records SET area = NULL")
        db.execute("UPDATE referrals SET record_id = NULL, partner_id = NULL, area = NULL")
    world.close()

    supervisor = partner = None
    if engine_url is not None:
        logins = Logins(request.getfixturevalue("postgres_server"),
                        engine_url.rsplit("/", 1)[1])
        request.addfinalizer(logins.drop)
        supervisor = logins.make("sup_fill", "supervisor", (NORTH,))
        partner = logins.make("partner_fill", "partner", (PARTNER,))
        # Before: neither sees anything of the old rows.
        assert _rows(supervisor, "SELECT count(*) FROM imported_records") == [(0,)]
        assert _rows(partner, "SELECT count(*) FROM imported_records") == [(0,)]
        assert _rows(partner, "SELECT count(*) FROM referrals") == [(0,)]

    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    if supervisor is not None:
        # A supervisor cannot run it: refused, not "0 filled".
        code = main(["--basedir", str(tmp_path / "sup"), "coordinator", "fill-scopes",
                     "--database", supervisor, "--passphrase-file", str(secret)])
        captured = capsys.readouterr()
        assert code != 0 and "Only a coordinator's database login" in captured.err
        assert "Traceback" not in captured.err
    # In batches of two; records first, then the referral takes its record's area.
    assert _fill(world.coordinator_base, engine_url, secret, capsys) == {
        "records": 2 * per_area, "referrals": 1}
    assert _fill(world.coordinator_base, engine_url, secret, capsys) == {
        "records": 0, "referrals": 0}

    profile = ProfileStore(world.coordinator_base / "data", kdf=weak_kdf(),
                           database=engine_url).open(PROFILE).unlock(PASSPHRASE)
    try:
        assert _scopes(profile) == filled
        assert profile.verify_audit().holds
        runs = [entry for entry in profile.audit_entries()
                if entry.action == AuditAction.SCOPES_FILLED.value]
        assert [(entry.record_id, entry.details) for entry in runs] == [
            (None, {"records": 2 * per_area, "referrals": 1}),
            (None, {"records": 0, "referrals": 0})]
    finally:
        profile.lock()

    if supervisor is not None and partner is not None:
        # After: the supervisor's old records of the north, the partner's referred one.
        assert _rows(supervisor, "SELECT DISTINCT area FROM imported_records") == [(NORTH,)]
        assert _rows(supervisor, "SELECT count(*) FROM imported_records") == [(per_area,)]
        assert _rows(partner, "SELECT id FROM imported_records") == [(referred,)]
        assert _rows(partner, "SELECT partner_id FROM referrals") == [(PARTNER,)]


@pytest.mark.parametrize("batch", ["0", "-3"])
def test_a_batch_below_one_is_refused_before_the_passphrase(tmp_path, capsys, batch):
    code = main(["--basedir", str(tmp_path), "coordinator", "fill-scopes", "--batch", batch])
    captured = capsys.readouterr()
    assert code != 0 and "--batch must be 1 or more" in captured.err
