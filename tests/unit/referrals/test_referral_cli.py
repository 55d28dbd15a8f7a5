"""The scripted loop through the command line, as the README walkthrough types it: the
coordinator enrols a partner and refers a case; the partner accepts, then completes; the
queue shows it. Bad input on the command line is a message and exit 1, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fieldscreen.cli import main
from tests.exchange_helpers import PASSPHRASE, flip, make_world

SERVICE = "example-child-protection-north"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


@pytest.fixture
def sites(tmp_path: Path):
    world = make_world(tmp_path)
    world.import_bytes(world.sealed_batch(12).file)
    record_id = world.coordinator.referrals.cases()[0].record_id
    world.close()  # the command line opens the profiles itself
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    coordinator = ["--basedir", str(world.coordinator_base)]
    partner = ["--basedir", str(tmp_path / "partner"), "--profile", "shelter"]
    outbox = tmp_path / "to-send"
    outbox.mkdir()
    return world, record_id, coordinator, partner, ["--passphrase-file", str(secret)], outbox


def test_the_referral_loop_from_the_command_line(capsys, sites):
    _world, record_id, coordinator, partner, secret, outbox = sites
    assert run(capsys, *partner, "profile", "create", "--role", "partner", *secret)[0] == 0
    code, out, _err = run(capsys, *partner, "partner", "code", *secret)
    assert code == 0
    partner_code, fingerprint_line = out.splitlines()[:2]
    code, out, _err = run(capsys, *coordinator, "referral", "partner-enroll", partner_code,
                          "--name", "Shelter", *secret)
    assert code == 0 and fingerprint_line.split(": ")[1] in out

    code, out, _err = run(capsys, *coordinator, "referral", "cases", "--json", *secret)
    assert record_id in [case["record_id"] for case in json.loads(out)]
    to_partner = outbox / "partner"
    to_partner.mkdir()
    code, out, err = run(capsys, *coordinator, "referral", "send", record_id, "--partner",
                         "Shelter", "--service", SERVICE, "--share", "age", "-o",
                         str(to_partner), *secret)
    assert code == 0, err
    [package] = to_partner.iterdir()
    code, out, _err = run(capsys, *partner, "partner", "open", str(package), *secret)
    assert code == 0 and "Example Child Protection Office North" in out and "age 14" in out
    referral_id = package.name.removeprefix("fieldscreen-referral-").removesuffix(".age")

    for status in ("accepted", "completed"):
        back = outbox / status
        back.mkdir()
        code, _out, err = run(capsys, *partner, "partner", "update", referral_id,
                              "--status", status, "-o", str(back), *secret)
        assert code == 0, err
        [update] = back.iterdir()
        code, out, err = run(capsys, *coordinator, "referral", "import", str(update), *secret)
        assert code == 0, err
        assert "imported" in out

    code, out, _err = run(capsys, *coordinator, "referral", "queue", "--json", *secret)
    [row] = json.loads(out)
    assert (row["referral_id"], row["status"], row["case_status"], row["overdue"]) == (
        referral_id, "completed", "delivered", False)
    code, out, _err = run(capsys, *coordinator, "referral", "partners", "--json", *secret)
    assert [partner["name"] for partner in json.loads(out)] == ["Shelter"]

    # A damaged update: quarantined with its reason, exit 1, no traceback.
    damaged = outbox / "damaged.age"
    damaged.write_bytes(flip(update.read_bytes(), 200))
    code, out, err = run(capsys, *coordinator, "referral", "import", str(damaged), *secret)
    assert code == 1 and "quarantined" in out
    code, out, _err = run(capsys, *coordinator, "coordinator", "quarantine", "--json",
                          *secret)
    assert [entry["code"] for entry in json.loads(out)] == ["undecryptable"]
    code, out, _err = run(capsys, *coordinator, "referral", "queue", "--json", *secret)
    assert json.loads(out)[0]["case_status"] == "delivered"


def test_command_line_refusals_say_what_to_do(capsys, sites):
    _world, record_id, coordinator, partner, secret, outbox = sites
    code, _out, err = run(capsys, *coordinator, "referral", "partner-enroll", "FSE1-AAAA",
                          *secret)
    assert code == 1 and "partner code" in err
    code, _out, err = run(capsys, *coordinator, "referral", "send", record_id, "--partner",
                          "nobody", "--service", SERVICE, "-o", str(outbox), *secret)
    assert code == 1 and "No single enrolled partner" in err
    assert list(outbox.iterdir()) == []
    assert run(capsys, *partner, "profile", "create", "--role", "partner", *secret)[0] == 0
    junk = outbox / "junk.age"
    junk.write_bytes(b"age-encryption.org/v1\n-> X25519 junk\n")
    code, _out, err = run(capsys, *partner, "partner", "open", str(junk), *secret)
    assert code == 1 and "refused (undecryptable)" in err


def test_withdrawal_fhir_view_and_the_stock_age_tool_from_the_command_line(capsys, sites):
    import shutil
    import subprocess

    from tests.unit.referrals.conftest import validate_fhir

    _world, record_id, coordinator, partner, secret, outbox = sites
    assert run(capsys, *partner, "profile", "create", "--role", "partner", *secret)[0] == 0
    partner_code = run(capsys, *partner, "partner", "code", *secret)[1].splitlines()[0]
    run(capsys, *coordinator, "referral", "partner-enroll", partner_code, "--name",
        "Shelter", *secret)
    package = outbox / "package.age"
    assert run(capsys, *coordinator, "referral", "send", record_id, "--partner", "Shelter",
               "--service", SERVICE, "-o", str(package), *secret)[0] == 0
    assert run(capsys, *partner, "partner", "open", str(package), *secret)[0] == 0
    code, out, _err = run(capsys, *partner, "partner", "list", "--json", *secret)
    [listed] = json.loads(out)
    referral_id = listed["referral_id"]
    code, out, _err = run(capsys, *partner, "partner", "show", referral_id, "--fhir", *secret)
    validate_fhir(json.loads(out))
    if shutil.which("age"):
        key = outbox / "partner-key"
        assert run(capsys, *partner, "partner", "identity", "--export", str(key),
                   *secret)[0] == 0
        opened = subprocess.run(["age", "-d", "-i", str(key), str(package)],
                                capture_output=True, check=True, timeout=60).stdout
        assert json.loads(opened)["format"] == "fieldscreen-referral/1"

    withdrawal = outbox / "withdrawal.age"
    assert run(capsys, *coordinator, "referral", "withdraw", referral_id, "-o",
               str(withdrawal), *secret)[0] == 0
    code, out, _err = run(capsys, *partner, "partner", "open", str(withdrawal), *secret)
    assert code == 0 and "Withdrawn" in out
    code, _out, err = run(capsys, *partner, "partner", "update", referral_id, "--status",
                          "accepted", "-o", str(outbox), *secret)
    assert code == 1 and "withdrew consent" in err
    code, out, _err = run(capsys, *coordinator, "referral", "queue", "--json", *secret)
    assert json.loads(out)[0]["status"] == "withdrawn"
