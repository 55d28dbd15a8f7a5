"""Bad input on the command line: read-only folders, damaged records, runaway forms, odd
text, non-regular files, and never a child's data in an error.

Each test here failed on the code before it and passes now. Commands run as real processes
where the finding was about a process (a read-only mount, a FIFO, a hang); the rest call
`main()` in the test's process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from fieldscreen.cli import main
from fieldscreen.errors import UserError
from fieldscreen.exchange.sync import sync
from fieldscreen.forms.expressions import MAX_VALUE_LENGTH, parse_expression
from fieldscreen.store.keyslots import PASSPHRASE_SLOT, PassphraseSlot
from fieldscreen.store.profile import ProfileRole
from tests.conftest import DATA, ROOT, SHIPPED_FORM
from tests.exchange_helpers import make_world
from tests.fault_helpers import read_only
from tests.store_helpers import (
    ANSWERS,
    PASSPHRASE,
    PROFILE,
    create_profile,
    database_path,
    new_store,
    raw_connection,
    weak_kdf,
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_process(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fieldscreen", *argv], cwd=ROOT,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture
def passphrase_file(tmp_path) -> Path:
    path = tmp_path / "secret"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


def _saved_profile(base: Path, count: int = 2) -> set[str]:
    _store, profile = create_profile(base / "data")
    ids = {profile.records.save_final("child-screening", "2026.11.0", {"n": n},
                                      {"final_decision": "urgent"}).id for n in range(count)}
    profile.lock()
    return ids


# -- a read-only data folder ---------------------------------------------------------------


def test_a_read_only_data_folder_still_reads_and_says_why_it_cannot_write(tmp_path,
                                                                         passphrase_file):
    base = tmp_path / "base"
    ids = _saved_profile(base)
    before = database_path(base / "data").read_bytes()
    common = ["--basedir", str(base), "--profile", PROFILE]
    with read_only(base):
        listed = run_process(*common, "record", "list", "--json", "--passphrase-file",
                             str(passphrase_file))
        added = run_process(*common, "record", "add", str(SHIPPED_FORM), "--answers",
                            str(ANSWERS / "urgent.json"), "--passphrase-file",
                            str(passphrase_file))
    assert listed.returncode == 0, listed.stderr
    assert {entry["id"] for entry in json.loads(listed.stdout)} == ids
    assert added.returncode == 1, added.stderr
    assert "cannot write to its data folder" in added.stderr
    assert "read-only" in added.stderr
    assert "Traceback" not in listed.stderr + added.stderr
    assert database_path(base / "data").read_bytes() == before


# -- one damaged record --------------------------------------------------------------------


def _damage(database: Path, record_id: str, column: str) -> None:
    with raw_connection(database) as connection:
        sealed = bytearray(connection.execute(
            f"SELECT {column} FROM records WHERE id = ?", [record_id]).fetchone()[0])
        sealed[-5] ^= 0xFF  # one flipped byte in the ciphertext
        connection.execute(f"UPDATE records SET {column} = ? WHERE id = ?",
                           [bytes(sealed), record_id])


@pytest.mark.parametrize("column", ["payload", "summary"])
def test_one_damaged_record_does_not_stop_the_others_from_syncing(tmp_path, column):
    world = make_world(tmp_path)
    try:
        ids = world.save(4)
        damaged = ids[1]
        _damage(world.field.database_path, damaged, column)
        report = sync(world.field, now=world.clock)
        assert report.error is None
        assert report.damaged_records == [damaged]
        assert report.sealed_records == 3 and report.delivered_batches == 1
        assert any(damaged in warning and "coordinator" in warning
                   for warning in report.warnings)
        # Kept as it is: still final, still there, and reported again next time.
        with raw_connection(world.field.database_path) as connection:
            assert connection.execute("SELECT status FROM records WHERE id = ?",
                                      [damaged]).fetchone() == ("final",)
        again = sync(world.field, now=world.clock)
        assert again.damaged_records == [damaged] and again.sealed_records == 0
    finally:
        world.close()


# -- a form whose values can grow without bound --------------------------------------------


def _doubling_form(tmp_path: Path, steps: int) -> Path:
    """The mini form with `steps` calculations, each concat() of the previous one twice."""
    text = (DATA / "forms" / "mini.yaml").read_text(encoding="utf-8")
    chain = ["      - name: grow_0\n        type: calculate\n"
             "        calculation: \"concat(${b_afraid_more}, ${b_afraid_more})\"\n"]
    for step in range(1, steps):
        chain.append(f"      - name: grow_{step}\n        type: calculate\n"
                     f"        calculation: \"concat(${{grow_{step - 1}}}, "
                     f"${{grow_{step - 1}}})\"\n")
    anchor = "      - name: risk_total\n"
    path = tmp_path / "doubling.yaml"
    path.write_text(text.replace(anchor, "".join(chain) + anchor, 1), encoding="utf-8")
    return path


def test_forms_check_refuses_calculations_that_double_at_every_step(capsys, tmp_path):
    code, out, err = run(capsys, "forms", "check", str(_doubling_form(tmp_path, 60)))
    assert code == 1
    assert "grow_" in out and "can grow past 10000 characters" in out
    assert "Traceback" not in err


def test_a_modest_concat_chain_is_still_a_valid_form(capsys, tmp_path):
    code, out, _err = run(capsys, "forms", "check", str(_doubling_form(tmp_path, 2)))
    assert code == 0, out


def test_no_expression_value_grows_past_the_limit_at_run_time():
    expression = parse_expression("concat(${a}, ${a})")
    assert expression.evaluate(lambda _name: "x" * (MAX_VALUE_LENGTH // 2)) == (
        "x" * MAX_VALUE_LENGTH)
    assert expression.evaluate(lambda _name: "x" * (MAX_VALUE_LENGTH // 2 + 1)) is None
    # A doubling chain evaluated by hand stays small: it empties instead of growing.
    value: object = "seed"
    for _step in range(60):
        value = expression.evaluate(lambda _name, held=value: held)
    assert value is None or len(value) <= MAX_VALUE_LENGTH


# -- odd text, and no child's data in an error ---------------------------------------------


def _answers_file(tmp_path: Path, extra: dict, raw: str | None = None) -> Path:
    answers = json.loads((ANSWERS / "referral.json").read_text(encoding="utf-8"))
    answers.update(extra)
    path = tmp_path / "answers.json"
    path.write_text(raw if raw is not None else json.dumps(answers), encoding="utf-8")
    return path


def test_a_name_typed_as_a_choice_is_never_echoed(capsys, tmp_path, passphrase_file):
    child = "Zuleikha Testchild"
    answers = _answers_file(tmp_path, {"sex_gender": child})
    screened = run(capsys, "screen", str(SHIPPED_FORM), "--answers", str(answers))
    base = tmp_path / "base"
    _saved_profile(base, count=0)
    added = run(capsys, "--basedir", str(base), "--profile", PROFILE, "record", "add",
                str(SHIPPED_FORM), "--answers", str(answers), "--passphrase-file",
                str(passphrase_file))
    for code, out, err in (screened, added):
        assert code == 1
        assert "sex_gender" in err and "not one of its choices" in err
        assert "Zuleikha" not in out + err and "Testchild" not in out + err


def test_a_lone_surrogate_in_a_text_answer_is_refused_clearly(capsys, tmp_path,
                                                              passphrase_file):
    # JSON may spell a lone surrogate; Python reads it as a str that UTF-8 cannot hold.
    text = json.dumps({**json.loads((ANSWERS / "referral.json").read_text(encoding="utf-8")),
                       "worker_note": "PLACEHOLDER"}).replace("PLACEHOLDER", "abc\\ud800")
    answers = _answers_file(tmp_path, {}, raw=text)
    base = tmp_path / "base"
    _saved_profile(base, count=0)
    for argv in (["screen", str(SHIPPED_FORM), "--answers", str(answers)],
                 ["--basedir", str(base), "--profile", PROFILE, "record", "add",
                  str(SHIPPED_FORM), "--answers", str(answers), "--passphrase-file",
                  str(passphrase_file)]):
        code, _out, err = run(capsys, *argv)
        assert code == 1, err
        assert "worker_note" in err and "not valid text" in err
        assert "Traceback" not in err and "bug" not in err


def test_an_undecodable_argument_is_refused_clearly(tmp_path):
    # `coordinator revoke $'\xff'` from a shell: the byte 0xff is not UTF-8.
    result = subprocess.run(
        [sys.executable, "-m", "fieldscreen", "--basedir", str(tmp_path), "coordinator",
         "revoke", os.fsdecode(b"\xff")], cwd=ROOT, capture_output=True, timeout=120,
        stdin=subprocess.DEVNULL, check=False)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, stderr
    assert "argument 5 is not valid text" in stderr
    assert "Traceback" not in stderr


# -- passphrases from another keyboard -----------------------------------------------------

NFC_PASSPHRASE = unicodedata.normalize("NFC", "café crème brûlée")
NFD_PASSPHRASE = unicodedata.normalize("NFD", "café crème brûlée")


def test_a_passphrase_typed_composed_opens_when_typed_decomposed_and_back(tmp_path):
    assert NFC_PASSPHRASE != NFD_PASSPHRASE
    for created, typed in ((NFC_PASSPHRASE, NFD_PASSPHRASE), (NFD_PASSPHRASE, NFC_PASSPHRASE)):
        data = tmp_path / f"{len(created)}-{len(typed)}"
        store = new_store(data)
        store.create(PROFILE, ProfileRole.FIELD, created).lock()
        store.open(PROFILE).unlock(typed).lock()


def test_profiles_whose_slot_was_written_before_normalising_still_open(tmp_path):
    # A slot written from the decomposed text as it was typed, as the old code did.
    store = new_store(tmp_path)
    profile = store.create(PROFILE, ProfileRole.FIELD, NFC_PASSPHRASE)
    slot = PassphraseSlot.create(profile._dek, NFD_PASSPHRASE, weak_kdf(), profile.profile_id)
    with profile._database.write() as db:
        db.execute("UPDATE key_slots SET data = ? WHERE slot = ?",
                   [slot.to_json(), PASSPHRASE_SLOT])
    profile.lock()
    for typed in (NFD_PASSPHRASE, NFC_PASSPHRASE):
        store.open(PROFILE).unlock(typed).lock()


# -- pipes and devices instead of files ----------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")
def test_a_fifo_with_no_writer_is_refused_at_once_not_waited_on(tmp_path):
    fifo = tmp_path / "answers.json"
    os.mkfifo(fifo)
    form_fifo = tmp_path / "form.yaml"
    os.mkfifo(form_fifo)
    screened = run_process("screen", str(SHIPPED_FORM), "--answers", str(fifo), timeout=60)
    assert screened.returncode == 1, screened.stderr
    assert "not a file but a pipe or a device" in screened.stderr
    checked = run_process("forms", "check", str(form_fifo), timeout=60)
    assert checked.returncode == 1
    assert "pipe or a device" in checked.stdout + checked.stderr
    device = run_process("screen", str(SHIPPED_FORM), "--answers", "/dev/zero", timeout=60)
    assert device.returncode == 1 and "pipe or a device" in device.stderr


def test_reading_a_regular_file_and_a_folder(tmp_path):
    from fieldscreen.files import read_regular_file

    path = tmp_path / "file"
    path.write_bytes(b"0123456789")
    assert read_regular_file(path) == b"0123456789"
    assert read_regular_file(path, 4) == b"0123"
    with pytest.raises(IsADirectoryError):
        read_regular_file(tmp_path)


# -- a relative sync folder in a pack ------------------------------------------------------


def test_a_relative_sync_target_is_written_as_the_folder_it_means(tmp_path, passphrase_file):
    from fieldscreen.exchange.pack import read_pack

    work = tmp_path / "work"
    (work / "relay").mkdir(parents=True)
    coordinator = tmp_path / "coord"
    _store, profile = create_profile(coordinator / "data", role=ProfileRole.COORDINATOR)
    profile.lock()
    pack = tmp_path / "pack.json"
    result = subprocess.run(
        [sys.executable, "-m", "fieldscreen", "--basedir", str(coordinator), "--profile",
         PROFILE, "coordinator", "pack", "-o", str(pack), "--sync-target", "relay",
         "--passphrase-file", str(passphrase_file)],
        cwd=work, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert result.returncode == 0, result.stderr
    assert read_pack(pack.read_bytes()).sync.target == str((work / "relay").resolve())


def test_an_older_pack_with_a_relative_folder_says_what_to_do(tmp_path):
    from fieldscreen.exchange.pack import SyncSettings, build_pack
    from tests.exchange_helpers import SHIPPED_SERVICES, make_field, make_profile
    from tests.store_helpers import FakeClock

    clock = FakeClock()
    coordinator = make_profile(tmp_path / "coord", ProfileRole.COORDINATOR, clock=clock)
    raw = build_pack(signing_key=coordinator.coordinator_signing_key(),
                     recipient=coordinator.coordinator_identity().recipient,
                     coordinator_name="Test", form_paths=[SHIPPED_FORM],
                     services_path=SHIPPED_SERVICES, sync=SyncSettings("relay"),
                     retention_days=30, demo=False, now=clock())
    field = make_field(tmp_path / "field", raw, clock=clock)
    try:
        field.records.save_final("child-screening", "2026.11.0", {"n": 1}, {})
        with pytest.raises(UserError, match="relative to wherever"):
            sync(field, now=clock)
    finally:
        field.lock()
        coordinator.lock()


# -- a folder of batches, imported whatever their file names ---------------------------------


def _folder_of_batches(world, folder: Path, count: int) -> list[int]:
    """`count` one-record batches, named so that the file names sort against the sequence."""
    folder.mkdir()
    sequences = []
    for _ in range(count):
        world.save(1)
        (batch,) = world.seal()
        # Reverse order by name: "fieldscreen-batch-9...", "-8..." (names are random ids).
        name = f"fieldscreen-batch-{9 - batch.sequence}-{batch.batch_id}.age"
        (folder / name).write_bytes(batch.file)
        sequences.append(batch.sequence)
    return sequences


def test_a_folder_imports_without_false_not_arrived_warnings(tmp_path):
    from fieldscreen.exchange.transports import transport_for

    world = make_world(tmp_path)
    try:
        folder = tmp_path / "stick"
        assert _folder_of_batches(world, folder, 5) == [1, 2, 3, 4, 5]
        report = world.importer().run([str(folder)], transport_for)
        assert report.count("imported") == 5, report.to_json()
        assert report.to_json()["warnings"] == []
    finally:
        world.close()


def test_a_real_gap_is_still_reported_once_the_folder_is_done(tmp_path):
    from fieldscreen.exchange.transports import transport_for

    world = make_world(tmp_path)
    try:
        folder = tmp_path / "stick"
        _folder_of_batches(world, folder, 5)
        (missing,) = folder.glob("fieldscreen-batch-6-*.age")  # sequence 3
        missing.unlink()
        report = world.importer().run([str(folder)], transport_for)
        warnings = report.to_json()["warnings"]
        assert report.count("imported") == 4
        assert sorted(warnings) == sorted(
            f"Batches 3 to 3 from device laptop have not arrived yet (imported {sequence})."
            for sequence in (4, 5))
    finally:
        world.close()
