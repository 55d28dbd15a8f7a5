"""The command line as a supervisor's login on a real server (row-level security).

What a supervisor may read works and shows their area only (the cases, the check of the
store, the audit chain, the export); what is a coordinator's (importing, writing a pack,
the devices, the quarantine, the deployment's smallest count, filling in areas) is refused
with the clear message, no traceback, and nothing changes on the server.
"""

from __future__ import annotations

from fieldscreen.cli import main
from fieldscreen.exchange.sync import sync
from tests.exchange_helpers import PASSPHRASE, make_world
from tests.unit.postgres.test_row_security import (
    NORTH,
    SCREENINGS,
    SOUTH,
    Logins,
    _rows,
    _screen,
)

RIGHTS = "does not have the rights FieldScreen needs"


def test_a_supervisor_reads_their_area_and_is_refused_what_is_a_coordinators(
        tmp_path, postgres_server, postgres_url, capsys):
    world = make_world(tmp_path, database=postgres_url)
    _screen(world.field, NORTH, 1)
    _screen(world.field, SOUTH, 1)
    assert sync(world.field, target=str(world.relay), now=world.clock).delivered_batches == 1
    for path in sorted(world.relay.glob("*.age")):
        assert world.import_bytes(path.read_bytes(), path.name).status == "imported"
    world.close()
    logins = Logins(postgres_server, postgres_url.rsplit("/", 1)[1])
    try:
        supervisor = logins.make("sup_cli", "supervisor", (NORTH,))
        secret = tmp_path / "passphrase"
        secret.write_text(PASSPHRASE + "\n", encoding="utf-8")

        def run(*verb: str) -> tuple[int, str, str]:
            code = main(["--basedir", str(tmp_path / "supervisor"), *verb, "--database",
                         supervisor, "--passphrase-file", str(secret)])
            captured = capsys.readouterr()
            assert "Traceback" not in captured.err
            return code, captured.out, captured.err

        north_ids = {row[0] for row in _rows(postgres_url, "SELECT id FROM imported_records "
                                             f"WHERE area = '{NORTH}'")}
        code, out, err = run("referral", "cases")
        assert code == 0, err
        listed = [line.split()[0] for line in out.splitlines() if line.strip()]
        assert len(listed) == sum(case for _name, case in SCREENINGS)
        assert set(listed) <= north_ids
        code, out, err = run("coordinator", "check")
        assert code == 0, err
        assert f"Checked {len(SCREENINGS)} imported records." in out
        assert "reads only the records of its areas" in out
        code, out, err = run("audit", "verify")
        assert code == 0 and "The audit chain holds" in out, err
        code, out, err = run("export", "--format", "csv", "-o", str(tmp_path / "north.csv"))
        assert code == 0 and f"counts of {len(SCREENINGS)} children" in err, err

        ledger = _rows(postgres_url, "SELECT count(*) FROM batch_ledger")
        secrets = _rows(postgres_url, "SELECT name, value FROM secrets ORDER BY name")
        for verb in (("import", str(world.relay)),
                     ("coordinator", "pack", "-o", str(tmp_path / "pack.json")),
                     ("coordinator", "small-cell-minimum", "7"),
                     ("coordinator", "devices"), ("coordinator", "quarantine"),
                     # The partners table is not granted to supervisors (decision 76):
                     # the sent referrals' list, which names partners, is refused too.
                     ("referral", "queue"), ("referral", "partners")):
            code, _out, err = run(*verb)
            assert code == 1 and RIGHTS in err, (verb, err)
        code, _out, err = run("coordinator", "fill-scopes")
        assert code == 1 and "Only a coordinator's database login" in err
        assert not (tmp_path / "pack.json").exists()
        assert _rows(postgres_url, "SELECT count(*) FROM batch_ledger") == ledger
        assert _rows(postgres_url, "SELECT name, value FROM secrets ORDER BY name") == secrets
    finally:
        logins.drop()
