"""A stored value the readers cannot read counts as "not known", never a crash (trust, 2).

Before times were checked at import, a record with created_at "9999-99-99T99:99:99Z" made
every export and the dashboard fail for good. Profiles may still hold such records; this
puts one in the store directly, as an older import would have.
"""

from __future__ import annotations

import io
import json
import sys

import pytest

from fieldscreen.cli import main
from fieldscreen.reporting.dashboard import DashboardFilter, disaggregate
from fieldscreen.reporting.facts import build_facts
from tests.exchange_helpers import PASSPHRASE, make_world


@pytest.fixture
def broken(tmp_path):
    world = make_world(tmp_path)
    world.import_bytes(world.sealed_batch(3).file)
    connection = world.coordinator._database.connection
    (record_id,) = connection.execute("SELECT id FROM imported_records LIMIT 1").fetchone()
    connection.execute("UPDATE imported_records SET created_at = ? WHERE id = ?",
                       ["9999-99-99T99:99:99Z", record_id])
    secret = tmp_path / "secret"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    yield world, record_id, secret
    world.close()


def test_statistics_count_it_as_not_known(broken):
    world, _record_id, _secret = broken
    facts = build_facts(world.coordinator.inbox.summaries())
    assert len(facts) == 3 and facts.unknown_days == 1
    assert facts.first_day is not None
    assert disaggregate(facts).total == 3
    assert disaggregate(facts, DashboardFilter(start=facts.first_day)).total == 2


@pytest.mark.parametrize("extra", [[], ["--records"], ["--from", "2026-01-01"],
                                   ["--records", "--from", "2026-01-01"]])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_export_still_works(broken, tmp_path, capsys, fmt, extra):
    world, _record_id, secret = broken
    output = tmp_path / f"out.{fmt}"
    code = main(["--basedir", str(world.coordinator_base), "export", "--format", fmt,
                 "-o", str(output), *extra, "--passphrase-file", str(secret)])
    assert code == 0, capsys.readouterr().err
    assert output.stat().st_size > 0


def test_coordinator_check_names_the_record_and_exits_1(broken, capsys):
    world, record_id, secret = broken
    code = main(["--basedir", str(world.coordinator_base), "coordinator", "check", "--json",
                 "--passphrase-file", str(secret)])
    captured = capsys.readouterr()
    assert code == 1
    result = json.loads(captured.out)
    assert result["records"] == 3 and result["integrity_ok"] is True
    assert result["unreadable"] == [{"record": record_id, "field": "created_at"}]
    assert "Traceback" not in captured.err


def test_coordinator_check_of_a_sound_store_exits_0(tmp_path, capsys):
    world = make_world(tmp_path)
    try:
        world.import_bytes(world.sealed_batch(2).file)
        secret = tmp_path / "secret"
        secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
        code = main(["--basedir", str(world.coordinator_base), "coordinator", "check",
                     "--passphrase-file", str(secret)])
        out = capsys.readouterr().out
        assert code == 0
        assert "Checked 2 imported records." in out and "passed its integrity check" in out
    finally:
        world.close()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_coordinator_check_shows_that_it_works_on_a_terminal_only(tmp_path, capsys,
                                                                  monkeypatch):
    world = make_world(tmp_path)
    try:
        world.import_bytes(world.sealed_batch(2).file)
        secret = tmp_path / "secret"
        secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
        arguments = ["--basedir", str(world.coordinator_base), "coordinator", "check",
                     "--passphrase-file", str(secret)]
        assert main(arguments) == 0
        assert "Checking the whole data file" not in capsys.readouterr().err
        terminal = _Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert main(arguments) == 0
        shown = terminal.getvalue()
        assert shown.startswith("Checking the whole data file…") and shown.endswith("\n")
    finally:
        world.close()
