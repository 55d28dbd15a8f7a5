"""The profile, record and recovery verbs of the CLI, as a worker or a script would run them.

Passphrases come only from a file, standard input or a terminal, never from an argument;
every failure a person can fix exits 1 with a message and no traceback. `profile create`
runs the real Argon2id calibration (about 2 s), so most tests here start from a profile made
through the API with weak parameters instead; the CLI unlocks it the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from fieldscreen.cli import main
from fieldscreen.paths import AppDirectories
from fieldscreen.store.crypto import AgeIdentity
from fieldscreen.store.profile import ProfileStore, WrongPassphrase
from tests.conftest import ROOT, SHIPPED_FORM
from tests.store_helpers import (
    ANSWERS,
    OTHER_PASSPHRASE,
    PASSPHRASE,
    PROFILE,
    create_profile,
    database_path,
    raw_connection,
)


def run(capsys, basedir, *argv: str) -> tuple[int, str, str]:
    code = main(["--basedir", str(basedir), "--profile", PROFILE, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_process(basedir, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """A real process: for standard input and for having no terminal at all."""
    return subprocess.run(
        [sys.executable, "-m", "fieldscreen", "--basedir", str(basedir), "--profile", PROFILE,
         *argv],
        cwd=ROOT, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.fixture
def secrets(tmp_path):
    """Files holding the test passphrases (outside the base directory)."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    files = {}
    for name, value in (("old", PASSPHRASE), ("new", OTHER_PASSPHRASE),
                        ("wrong", "not the passphrase at all")):
        files[name] = folder / name
        files[name].write_text(value + "\n", encoding="utf-8")
    return files


@pytest.fixture
def weak_profile(basedir):
    """A profile in `basedir` made through the API with weak key derivation (fast unlocks)."""
    _store, profile = create_profile(basedir / "data")
    profile.lock()
    return basedir


def _store(basedir) -> ProfileStore:
    return ProfileStore(AppDirectories.under(basedir).data)


def _assert_clean_failure(code: int, err: str, message: str) -> None:
    assert code == 1
    assert message in err
    assert "Traceback" not in err and "bug" not in err


# -- creating ------------------------------------------------------------------------------------


def test_create_with_passphrase_file_then_add_and_list(basedir, secrets, capsys):
    code, out, err = run(capsys, basedir, "profile", "create", "--role", "field",
                         "--passphrase-file", str(secrets["old"]))
    assert code == 0, err
    assert f"Created the field profile '{PROFILE}'." in err
    assert "no recovery slot" in err  # created without a coordinator's recipient

    code, out, err = run(capsys, basedir, "record", "add", str(SHIPPED_FORM), "--answers",
                         str(ANSWERS / "urgent.json"), "--passphrase-file",
                         str(secrets["old"]))
    assert code == 0, err
    record_id = out.strip()
    assert str(uuid.UUID(record_id)) == record_id

    code, out, err = run(capsys, basedir, "record", "list", "--json", "--passphrase-file",
                         str(secrets["old"]))
    assert code == 0, err
    listed = json.loads(out)
    assert [(entry["id"], entry["status"], entry["decision"]) for entry in listed] == [
        (record_id, "final", "urgent")]
    assert "worker_note" not in out and "answers" not in out  # a list shows no answers


def test_create_with_passphrase_stdin(basedir):
    result = run_process(basedir, "profile", "create", "--role", "coordinator",
                         "--passphrase-stdin", stdin=PASSPHRASE + "\n")
    assert result.returncode == 0, result.stderr
    assert f"Created the coordinator profile '{PROFILE}'." in result.stderr
    # The line read from stdin, without its newline, is the passphrase.
    profile = _store(basedir).open(PROFILE).unlock(PASSPHRASE)
    try:
        assert profile.info.role.value == "coordinator"
    finally:
        profile.lock()


@pytest.mark.parametrize("argv", [
    ["profile", "create", "--role", "field", "--passphrase", PASSPHRASE],
    ["record", "list", "--passphrase", PASSPHRASE],
    ["profile", "passwd", "--passphrase-file", "x", "--new-passphrase", OTHER_PASSPHRASE],
    ["profile", "recover", "--identity-file", "x", "--new-passphrase", OTHER_PASSPHRASE],
], ids=["create", "list", "passwd-new", "recover-new"])
def test_no_passphrase_option_takes_the_passphrase_itself(basedir, capsys, argv):
    """argparse refuses these outright (abbreviations of the *-file options included)."""
    with pytest.raises(SystemExit) as caught:
        main(["--basedir", str(basedir), "--profile", PROFILE, *argv])
    assert caught.value.code == 2
    capsys.readouterr()
    assert not (basedir / "data" / "profiles").exists()


def test_without_a_terminal_or_option_says_what_to_use(basedir):
    result = run_process(basedir, "profile", "create", "--role", "field")
    _assert_clean_failure(result.returncode, result.stderr,
                          "There is no terminal to ask for the passphrase.")
    assert "--passphrase-file" in result.stderr and "--passphrase-stdin" in result.stderr
    assert _store(basedir).names() == []


# -- records ---------------------------------------------------------------------------------------


def test_record_add_with_a_bad_answer_saves_nothing(weak_profile, secrets, capsys):
    code, out, err = run(capsys, weak_profile, "record", "add", str(SHIPPED_FORM), "--answers",
                         str(ANSWERS / "bad-choice.json"), "--passphrase-file",
                         str(secrets["old"]))
    _assert_clean_failure(code, err, "the answer to 'a_papers_kept' is not one of its choices")
    assert out == ""
    profile = _store(weak_profile).open(PROFILE).unlock(PASSPHRASE)
    try:
        assert profile.records.count() == 0
        # Not even unlocked: the answers were refused before the passphrase was used.
        assert [entry.action for entry in profile.audit_entries()] == [
            "profile.created", "profile.unlocked"]
    finally:
        profile.lock()


# -- passphrases -------------------------------------------------------------------------------


def test_passwd_then_only_the_new_passphrase_opens(weak_profile, secrets, capsys):
    code, _out, err = run(capsys, weak_profile, "profile", "passwd", "--passphrase-file",
                          str(secrets["old"]), "--new-passphrase-file", str(secrets["new"]))
    assert code == 0, err
    assert "The passphrase was changed." in err

    code, _out, err = run(capsys, weak_profile, "record", "list", "--passphrase-file",
                          str(secrets["new"]))
    assert code == 0, err
    code, _out, err = run(capsys, weak_profile, "record", "list", "--passphrase-file",
                          str(secrets["old"]))
    _assert_clean_failure(code, err, "That passphrase does not open this profile.")


def test_wrong_passphrase_is_a_message_not_a_traceback(weak_profile, secrets, capsys):
    code, out, err = run(capsys, weak_profile, "record", "list", "--passphrase-file",
                         str(secrets["wrong"]))
    _assert_clean_failure(code, err, "Error: That passphrase does not open this profile.")
    assert "coordinator can recover" in err
    assert out == ""
    # More failures recorded (a 16 s delay, so a slow machine cannot outwait it): even the
    # right passphrase is then refused with the wait explained, not a traceback either.
    with raw_connection(database_path(weak_profile / "data")) as connection:
        connection.execute("UPDATE unlock_attempts SET failures = 5")
    code, _out, err = run(capsys, weak_profile, "record", "list", "--passphrase-file",
                          str(secrets["old"]))
    _assert_clean_failure(code, err, "Too many wrong passphrases. Wait 1")  # 15 or 16 s
    assert "seconds before trying again" in err


def test_recover_with_an_identity_file(basedir, secrets, capsys, tmp_path):
    coordinator = AgeIdentity.generate()
    identity = tmp_path / "coordinator.key"
    # The layout age-keygen writes: comments, then the secret key.
    identity.write_text(f"# created: 2026-03-01T09:00:00Z\n# public key: "
                        f"{coordinator.recipient}\n{coordinator.secret}\n", encoding="utf-8")
    code, _out, err = run(capsys, basedir, "profile", "create", "--role", "field",
                          "--recovery-recipient", coordinator.recipient, "--passphrase-file",
                          str(secrets["old"]))
    assert code == 0, err
    assert "no recovery slot" not in err

    code, _out, err = run(capsys, basedir, "profile", "recover", "--identity-file",
                          str(identity), "--new-passphrase-file", str(secrets["new"]))
    assert code == 0, err
    assert "The profile was recovered and has a new passphrase." in err

    code, _out, err = run(capsys, basedir, "record", "list", "--passphrase-file",
                          str(secrets["new"]))
    assert code == 0, err
    locked = _store(basedir).open(PROFILE)
    try:
        with pytest.raises(WrongPassphrase):
            locked.unlock(PASSPHRASE)
    finally:
        locked.close()
