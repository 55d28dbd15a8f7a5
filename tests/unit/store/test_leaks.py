"""No child's name, passphrase or data key reaches the disk, the temp folder or a log in clear.

A distinctive name is typed into a final record, a draft and edits of both; then every file
under the base directory (the database, its `-wal` and `-shm`, anything else), the temporary
folder and everything logged or printed is searched for it as UTF-8, UTF-16 (both byte
orders) and escaped JSON: while the profile is open with an uncheckpointed WAL, and after it
is locked. The same through the CLI's `record add`.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fieldscreen.cli import main
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.store.crypto import b64
from tests.conftest import ROOT, SHIPPED_FORM
from tests.store_helpers import (
    CHILD_NAME,
    CHILD_NAME_2,
    OTHER_PASSPHRASE,
    PASSPHRASE,
    PROFILE,
    THIRD_PASSPHRASE,
    answers_with_note,
    bytes_containing,
    create_profile,
    files_containing,
    found_in,
    new_store,
)

# Besides the full names, the first names alone are already identifying.
SECRETS = [CHILD_NAME, CHILD_NAME_2, "Zuleikha", "Çocukgül"]
PASSPHRASES = [PASSPHRASE, OTHER_PASSPHRASE, THIRD_PASSPHRASE]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Point TMPDIR and the tempfile module at a folder this test then searches."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setenv("SQLITE_TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _assert_clean(*roots: Path, extra: tuple[str, ...] = ()) -> None:
    hits = []
    for root in roots:
        hits += files_containing(root, [*SECRETS, *extra])
    assert not hits, "found in clear:\n" + "\n".join(hits)


def _assert_key_not_stored(root: Path, dek: bytes) -> None:
    # The data key may exist on disk only wrapped inside key slots.
    hits = bytes_containing(root, {"raw data key": dek, "base64 data key": b64(dek).encode(),
                                   "hex data key": dek.hex().encode()})
    assert not hits, hits


def test_the_search_finds_a_planted_name(tmp_path):
    """The control: the search used below does find the name in every encoding it checks."""
    for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
        (tmp_path / encoding).write_bytes(b"\x00junk" + CHILD_NAME_2.encode(encoding) + b"\x00")
    (tmp_path / "escaped").write_text(json.dumps({"note": CHILD_NAME_2}), encoding="ascii")
    hits = files_containing(tmp_path, [CHILD_NAME_2])
    assert len(hits) == 4, hits
    assert found_in(b"..." + CHILD_NAME.encode("utf-16-be"), [CHILD_NAME])


def test_names_stay_encrypted_through_a_profile_life(tmp_path, private_tmp, caplog, capsys,
                                                     shipped_form):
    caplog.set_level(logging.DEBUG)
    data_dir = tmp_path / "base" / "data"
    store, profile = create_profile(data_dir)
    dek = profile._dek
    records = profile.records
    form_id, version = shipped_form.id, shipped_form.version

    # A draft, then edited twice; a final made from a draft; a final edited; one deleted.
    draft = records.save_draft(form_id, version, {"worker_note": f"{CHILD_NAME_2} at market"})
    records.save_draft(form_id, version, {"worker_note": f"{CHILD_NAME_2}, 13"},
                       record_id=draft.id)
    session = ScreeningSession(shipped_form)
    session.answer_all(answers_with_note(f"{CHILD_NAME} said her papers were taken"))
    final = records.save_final(form_id, version, session.answers_json(),
                               session.outcome().to_json())
    records.save_final(form_id, version,
                       {**session.answers_json(), "worker_note": f"{CHILD_NAME} (edited)"},
                       session.outcome().to_json(), record_id=final.id)
    promoted = records.save_draft(form_id, version, {"worker_note": CHILD_NAME})
    records.save_final(form_id, version, session.answers_json(), session.outcome().to_json(),
                       record_id=promoted.id)
    doomed = records.save_draft(form_id, version, {"worker_note": f"{CHILD_NAME} draft"})
    records.delete(doomed.id)
    profile.change_passphrase(OTHER_PASSPHRASE)
    assert CHILD_NAME in records.get(final.id).answers["worker_note"]
    records.list()

    # Open, WAL not checkpointed: the name must not be in the WAL either.
    wal = profile.database_path.with_name(profile.database_path.name + "-wal")
    assert wal.stat().st_size > 0, "the WAL was checkpointed: this check would prove less"
    _assert_clean(tmp_path / "base", private_tmp, extra=tuple(PASSPHRASES))
    _assert_key_not_stored(tmp_path / "base", dek)

    profile.lock()
    _assert_clean(tmp_path / "base", private_tmp, extra=tuple(PASSPHRASES))

    # Reopen, read, change the passphrase again, lock: still nothing.
    profile = new_store(data_dir).open(PROFILE).unlock(OTHER_PASSPHRASE)
    assert profile.records.get(promoted.id).summary.decision == "urgent"
    profile.change_passphrase(THIRD_PASSPHRASE)
    profile.lock()
    _assert_clean(tmp_path / "base", private_tmp, extra=tuple(PASSPHRASES))
    _assert_key_not_stored(tmp_path / "base", dek)
    del store

    captured = capsys.readouterr()
    logged = caplog.text + "".join(record.getMessage() for record in caplog.records)
    for stream in (captured.out, captured.err, logged):
        assert not found_in(stream.encode("utf-8"), SECRETS + PASSPHRASES), stream


def test_record_add_through_the_cli_leaks_nothing(tmp_path, private_tmp, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    base = tmp_path / "base"
    inputs = tmp_path / "inputs"  # outside the base directory: it holds the name on purpose
    inputs.mkdir()
    secret = inputs / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    answers = inputs / "answers.json"
    answers.write_text(json.dumps(answers_with_note(f"{CHILD_NAME} / {CHILD_NAME_2}"),
                                  ensure_ascii=False), encoding="utf-8")
    common = ["--basedir", str(base), "--profile", PROFILE]

    # Created by a real process, through the real calibration.
    created = subprocess.run(
        [sys.executable, "-m", "fieldscreen", *common, "profile", "create", "--role", "field",
         "--passphrase-file", str(secret)],
        cwd=ROOT, capture_output=True, check=False)
    assert created.returncode == 0, created.stderr
    assert main([*common, "record", "add", str(SHIPPED_FORM), "--answers", str(answers),
                 "--passphrase-file", str(secret)]) == 0
    record_id = capsys.readouterr().out.strip()
    assert main([*common, "record", "list", "--json", "--passphrase-file", str(secret)]) == 0
    captured = capsys.readouterr()
    assert [entry["id"] for entry in json.loads(captured.out)] == [record_id]

    _assert_clean(base, private_tmp, extra=(PASSPHRASE,))
    outputs = [created.stdout, created.stderr, captured.out.encode(), captured.err.encode(),
               caplog.text.encode()]
    for output in outputs:
        assert not found_in(output, [*SECRETS, PASSPHRASE]), output
