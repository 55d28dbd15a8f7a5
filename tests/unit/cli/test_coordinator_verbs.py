"""`coordinator coordinators | add-coordinator | remove-coordinator`, and packs with several
coordinators through the command line: what a person can get wrong exits 1 with a message
and no traceback, and changes nothing."""

from __future__ import annotations

import json

import pytest

from fieldscreen.cli import main
from fieldscreen.exchange.pack import SIGNATURE_DOMAIN, read_pack
from fieldscreen.store.crypto import b64, canonical_json, unb64
from tests.exchange_helpers import PASSPHRASE

SECOND = "amina's own long passphrase"


@pytest.fixture
def files(tmp_path):
    found = {}
    for name, value in (("first", PASSPHRASE), ("second", SECOND)):
        found[name] = tmp_path / f"{name}.pass"
        found[name].write_text(value + "\n", encoding="utf-8")
    return found


def run(capsys, world, *argv: str) -> tuple[int, str, str]:
    code = main(["--basedir", str(world.coordinator_base), "coordinator", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_add_list_pack_and_remove_a_coordinator(world, files, capsys, tmp_path):
    code, out, _err = run(capsys, world, "add-coordinator", "Amina", "--new-passphrase-file",
                          str(files["second"]), "--passphrase-file", str(files["first"]))
    assert code == 0 and "Added coordinator Amina" in out

    code, out, _err = run(capsys, world, "coordinators", "--json", "--passphrase-file",
                          str(files["second"]))
    listed = json.loads(out)
    assert [(row["name"], row["first"], row["you"]) for row in listed] == [
        ("default", True, False), ("Amina", False, True)]

    pack_file = tmp_path / "pack.json"
    code, _out, _err = run(capsys, world, "pack", "-o", str(pack_file), "--passphrase-file",
                           str(files["second"]))
    assert code == 0
    pack = read_pack(pack_file.read_bytes())
    assert pack.coordinator_name == "Amina"
    assert [entry.recipient for entry in pack.coordinators] == [
        row["age_recipient"] for row in listed]

    code, out, _err = run(capsys, world, "remove-coordinator", "Amina", "--passphrase-file",
                          str(files["first"]))
    assert code == 0 and "Removed coordinator Amina" in out
    code, _out, err = run(capsys, world, "coordinators", "--passphrase-file",
                          str(files["second"]))
    assert code == 1 and "does not open this profile" in err and "Traceback" not in err


@pytest.mark.parametrize(("argv", "expected"), [
    (("remove-coordinator", "default"), "cannot be removed"),
    (("remove-coordinator", "nobody"), "There is no coordinator 'nobody'"),
    (("add-coordinator", "Bogdan", "--new-passphrase-file", "{first}"), "already opens"),
    (("add-coordinator", "", "--new-passphrase-file", "{second}"), "cannot be a coordinator"),
])
def test_what_a_person_gets_wrong_exits_1_and_changes_nothing(world, files, capsys, argv,
                                                              expected):
    before = world.coordinator.coordinators()
    argv = tuple(arg.format(first=files["first"], second=files["second"]) for arg in argv)
    code, _out, err = run(capsys, world, *argv, "--passphrase-file", str(files["first"]))
    assert code == 1
    assert expected in err and "Traceback" not in err
    assert world.coordinator.coordinators() == before


def test_a_pack_listing_10000_coordinators_is_refused_by_update_pack(world, files, capsys,
                                                                      tmp_path):
    outer = json.loads(world.pack_raw)
    content = json.loads(unb64(outer["content"]))
    content["sequence"] = 5
    content["coordinators"] += [dict(content["coordinators"][0], name=f"c{n}")
                                for n in range(10_000)]
    signed = canonical_json(content)
    key = world.coordinator.coordinator_signing_key()
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps({**outer, "content": b64(signed),
                                   "signature": b64(key.sign(SIGNATURE_DOMAIN, signed))}))
    code = main(["--basedir", str(world.root / "field"), "profile", "update-pack",
                 str(hostile), "--passphrase-file", str(files["first"])])
    err = capsys.readouterr().err
    assert code == 1
    assert "lists 10001 coordinators; a deployment has at most 16" in err
    assert "Traceback" not in err
    assert world.field.installed_pack() == world.pack_raw
