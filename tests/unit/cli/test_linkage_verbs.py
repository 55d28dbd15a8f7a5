"""`linkage pairs | link | unlink` and `coordinator small-cell-minimum` on a real coordinator
profile: ids, scores and agreeing fields only, audited links, and a minimum that only rises."""

from __future__ import annotations

import json

import pytest

from fieldscreen.cli import main
from fieldscreen.reporting.suppression import deployment_minimum
from fieldscreen.store.inbox import Inbox
from fieldscreen.workflows.linkage import LinkageWorkflow
from tests.exchange_helpers import PASSPHRASE, make_world

RECORDS = 6


@pytest.fixture
def world(tmp_path):
    built = make_world(tmp_path)
    built.import_bytes(built.sealed_batch(RECORDS).file)
    yield built
    built.close()


@pytest.fixture
def passphrase_file(tmp_path):
    path = tmp_path / "pass.txt"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


def run(world, capsys, passphrase_file, *argv):
    code = main(["--basedir", str(world.coordinator_base), *argv, "--passphrase-file",
                 str(passphrase_file)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def imported_ids(world):
    return sorted(row[0] for row in world.coordinator.inbox.summaries())


def linkage_entries(world):
    return [(entry.action, entry.record_id, entry.details.get("other"))
            for entry in world.coordinator.audit_entries()
            if entry.action.startswith("linkage.")]


def test_link_and_unlink_two_imported_screenings_are_audited(world, capsys, passphrase_file):
    first, second = imported_ids(world)[:2]
    code, out, err = run(world, capsys, passphrase_file, "linkage", "link", second, first)
    assert code == 0, err
    assert out.startswith(f"Linked {first} and {second}")
    assert LinkageWorkflow(world.coordinator).links() == {(first, second)}
    code, out, _err = run(world, capsys, passphrase_file, "linkage", "link", first, second)
    assert code == 0 and "already linked; nothing changed" in out

    code, out, _err = run(world, capsys, passphrase_file, "linkage", "unlink", first, second)
    assert code == 0 and out.startswith(f"Unlinked {first} and {second}")
    assert LinkageWorkflow(world.coordinator).links() == set()
    assert linkage_entries(world) == [("linkage.linked", first, second),
                                      ("linkage.unlinked", first, second)]
    assert world.coordinator.verify_audit().holds


@pytest.mark.parametrize(("ids", "message"), [
    (("not-a-record", None), "is not a record id"),
    ((None, None), "two different record ids"),
    ((None, "0190f3a2-7c41-7d2e-9b1a-3f5e8c2d4a61"), "not among the imported screenings"),
])
def test_bad_ids_exit_1_with_a_reason_and_change_nothing(world, capsys, passphrase_file, ids,
                                                          message):
    known = imported_ids(world)[0]
    first, second = (known if value is None else value for value in ids)
    code, out, err = run(world, capsys, passphrase_file, "linkage", "link", first, second)
    assert code == 1
    assert message in err and "Traceback" not in err and out == ""
    assert linkage_entries(world) == []


def test_pairs_print_ids_scores_and_agreeing_fields_only(world, capsys, passphrase_file,
                                                         monkeypatch):
    code, out, err = run(world, capsys, passphrase_file, "linkage", "pairs", "--json")
    assert code == 0 and json.loads(out) == []  # six different children

    # Planted screenings of one child (with typos, a year off, another area), as the
    # demo generator makes them, stand in for the imported summaries.
    from fieldscreen.demo.duplicates import planted_duplicates
    from tests.unit.workflows.test_linkage import rows_with_codes

    rows = rows_with_codes(planted_duplicates(300, seed=4))
    monkeypatch.setattr(Inbox, "summaries", lambda _self: iter(rows))
    code, out, err = run(world, capsys, passphrase_file, "linkage", "pairs", "--json")
    assert code == 0, err
    pairs = json.loads(out)
    assert pairs and all(set(pair) == {"first", "second", "score", "reasons", "linked"}
                         for pair in pairs)
    assert all(0.5 <= pair["score"] <= 1 for pair in pairs)
    code, text, err = run(world, capsys, passphrase_file, "linkage", "pairs")
    assert code == 0 and f"{len(pairs)} pairs to look at." in err
    assert len(text.splitlines()) == len(pairs)
    # Nothing of the children: no answer, no code, only ids, scores and field names.
    for _record_id, _created, _demo, summary in rows:
        for name, value in summary.items():
            if name == "child_code":
                assert all(part not in out + text for part in value.values())
            elif isinstance(value, str) and len(value) > 3:
                assert f'"{value}"' not in out


def test_small_cell_minimum_only_rises(world, capsys, passphrase_file):
    profile = world.coordinator
    code, out, err = run(world, capsys, passphrase_file, "coordinator", "small-cell-minimum",
                         "8")
    assert code == 0, err
    assert "now hidden" in out and "(it was 5)" in out
    assert deployment_minimum(profile) == 8
    for lower in ("6", "3"):
        code, out, err = run(world, capsys, passphrase_file, "coordinator",
                             "small-cell-minimum", lower)
        assert code == 1 and "can only be raised" in err and "Traceback" not in err
    assert deployment_minimum(profile) == 8
    code, out, _err = run(world, capsys, passphrase_file, "coordinator", "small-cell-minimum",
                          "8")
    assert code == 0 and "already hidden; nothing changed" in out


def test_a_field_profile_is_refused(world, tmp_path, capsys, passphrase_file):
    base = str(world.root / "field")
    for argv in (["linkage", "pairs"], ["coordinator", "small-cell-minimum", "9"]):
        code = main(["--basedir", base, *argv, "--passphrase-file", str(passphrase_file)])
        err = capsys.readouterr().err
        assert code == 1 and "field profile" in err, argv
