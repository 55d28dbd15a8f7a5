"""The README's walkthrough, run for real: field laptop to coordinator and back, twice.

This is the acceptance test of the sync feature. Every step goes through the command line
(`fieldscreen.cli.main`, in-process, with the real key-derivation calibration), with
separate base directories for the coordinator and the field laptop and passphrases read
from a file, exactly as the README's "Walkthrough" section types them:

1. through a folder relay (a USB stick): pack, profile from the pack, enrolment, three
   screenings, sync, import, and the receipt that marks the records received; then the
   coordinator's exported identity opens the batch with the stock `age` tool;
2. through a real WebDAV server (tests/webdav_server.py): a second pack carrying the server
   address and credentials, installed with `profile update-pack`, then the same loop.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fieldscreen.cli import main
from tests import webdav_server as dav
from tests.conftest import DATA, SHIPPED_FORM
from tests.webdav_server import WebDavServer

# The fixture, bound by assignment so pytest finds it by name (an import would make ruff
# report the test's parameter of the same name as a redefinition, F811).
webdav_server = dav.webdav_server

PASSPHRASE = "correct horse battery"
ANSWERS = [DATA / "answers" / name for name in ("urgent.json", "referral.json",
                                                 "information.json")]


class Cli:
    """Runs `fieldscreen --basedir BASE VERB ... --passphrase-file FILE` and captures it."""

    def __init__(self, capsys: pytest.CaptureFixture[str], base: Path, passphrase: Path
                 ) -> None:
        self._capsys = capsys
        self._base = base
        self._passphrase = passphrase

    def __call__(self, *argv: str, expect: int = 0) -> str:
        code = main(["--basedir", str(self._base), *argv,
                     "--passphrase-file", str(self._passphrase)])
        captured = self._capsys.readouterr()
        assert code == expect, f"fieldscreen {' '.join(argv)} exited {code}:\n{captured.err}"
        assert "Traceback" not in captured.err
        self.err = captured.err
        return captured.out

    def json(self, *argv: str, expect: int = 0) -> Any:
        return json.loads(self(*argv, "--json", expect=expect))


def _statuses(field: Cli) -> dict[str, str]:
    return {row["id"]: row["status"] for row in field.json("record", "list")}


def _add_screenings(field: Cli) -> list[str]:
    return [field("record", "add", str(SHIPPED_FORM), "--answers", str(path)).strip()
            for path in ANSWERS]


@pytest.mark.slow
def test_walkthrough_folder_then_webdav(tmp_path, capsys, webdav_server: WebDavServer):
    passphrase = tmp_path / "pass.txt"
    passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")
    relay = tmp_path / "relay"
    relay.mkdir()
    coordinator = Cli(capsys, tmp_path / "coord", passphrase)
    field = Cli(capsys, tmp_path / "field", passphrase)

    # -- Coordinator: a profile, and a deployment pack that points at the folder relay.
    coordinator("profile", "create", "--role", "coordinator")
    pack = tmp_path / "pack.json"
    coordinator("coordinator", "pack", "-o", str(pack), "--sync-target", str(relay))
    assert pack.is_file()

    # -- Field laptop: a profile from the pack; its enrolment code for the coordinator.
    field("profile", "create", "--role", "field", "--pack", str(pack))
    code_line, fingerprint_line = field("profile", "enrolment-code").splitlines()
    fingerprint = fingerprint_line.split(": ", 1)[1]
    enrolled = coordinator("coordinator", "enroll", code_line, "--name", "laptop-1")
    # Both sides show the same fingerprint, for the people to compare by eye.
    assert fingerprint in enrolled

    # -- Field laptop: three screenings, then sync to the folder.
    first = _add_screenings(field)
    assert set(_statuses(field)) == set(first)
    report = field.json("sync")
    assert report["error"] is None
    assert (report["sealed_batches"], report["sealed_records"]) == (1, 3)
    assert (report["delivered_batches"], report["pending_batches"]) == (1, 0)
    [batch_file] = relay.glob("fieldscreen-batch-*.age")
    assert set(_statuses(field).values()) == {"sealed"}

    # -- Coordinator: import the folder; a signed receipt lands next to the batch.
    imported = coordinator.json("import", str(relay))
    assert imported["batches"] == {"imported": 1, "duplicate": 0, "quarantined": 0}
    assert imported["records"]["imported"] == 3
    assert imported["errors"] == []
    assert batch_file.with_suffix(".receipt").is_file()

    # -- Field laptop: the next sync reads the receipt; the records are received.
    report = field.json("sync")
    assert report["error"] is None
    assert (report["receipts"], report["received_records"]) == (1, 3)
    assert _statuses(field) == dict.fromkeys(first, "received")

    # -- Anyone holding the coordinator's identity opens a batch with the stock age tool.
    age = shutil.which("age")
    assert age, "the stock `age` tool is needed (apt-get install age; see .ci/run)"
    identity = tmp_path / "id.txt"
    coordinator("coordinator", "identity", "--export", str(identity))
    opened = subprocess.run([age, "-d", "-i", str(identity), str(batch_file)],
                            capture_output=True, timeout=30, check=True)
    with tarfile.open(fileobj=io.BytesIO(opened.stdout)) as archive:
        members = archive.getmembers()
        assert sorted(member.name for member in members) == [
            "manifest.json", "manifest.sig", "records.jsonl"]
        assert all(member.isfile() for member in members)
        records = archive.extractfile("records.jsonl").read().splitlines()
    assert sorted(json.loads(line)["id"] for line in records) == sorted(first)

    # -- Now through WebDAV. Three more screenings on the laptop.
    second = _add_screenings(field)

    # `sync --to URL` never carries the pack's credentials to an address typed on the
    # command line, so the server turns it down; the new batch stays pending.
    report = field.json("sync", "--to", webdav_server.url, expect=1)
    assert "refused the user name or password" in report["error"]
    assert (report["sealed_batches"], report["pending_batches"]) == (1, 1)
    assert webdav_server.files() == {}

    # -- Coordinator: a second pack whose sync target is the WebDAV server, with its
    # credentials (the password from a file, never on the command line).
    dav_password = tmp_path / "dav-password.txt"
    dav_password.write_text(webdav_server.password + "\n", encoding="utf-8")
    pack2 = tmp_path / "pack2.json"
    coordinator("coordinator", "pack", "-o", str(pack2), "--sync-target", webdav_server.url,
                "--webdav-user", webdav_server.user,
                "--webdav-password-file", str(dav_password))
    field("profile", "update-pack", str(pack2))

    # -- Field laptop: sync to the pack's target delivers the pending batch.
    report = field.json("sync")
    assert report["error"] is None, report["error"]
    assert (report["sealed_batches"], report["delivered_batches"]) == (0, 1)
    assert report["pending_batches"] == 0
    [dav_batch] = [name for name in webdav_server.files() if name.endswith(".age")]
    assert not [name for name in webdav_server.files() if name.endswith(".part")]

    # -- Coordinator: import from the WebDAV URL; the receipt is written back there.
    imported = coordinator.json("import", webdav_server.url,
                                "--webdav-user", webdav_server.user,
                                "--webdav-password-file", str(dav_password))
    assert imported["errors"] == []
    assert imported["batches"] == {"imported": 1, "duplicate": 0, "quarantined": 0}
    assert imported["records"]["imported"] == 3
    assert dav_batch.removesuffix(".age") + ".receipt" in webdav_server.files()

    # -- Field laptop: the next sync reads that receipt.
    report = field.json("sync")
    assert report["error"] is None
    assert (report["receipts"], report["received_records"]) == (1, 3)
    assert _statuses(field) == dict.fromkeys(first + second, "received")
    # Neither password ever shows in what the commands printed.
    assert webdav_server.password not in field.err + coordinator.err
