"""Leak hunt: a child's name typed into every free-text place, then the whole loop, then a search.

A distinctive name goes into every place a worker can type free text on the shipped checklist
(the worker's note, the reason for lowering or raising the outcome, the reason a referral goes
ahead without consent) and into a coordinator's case note. Then the loop runs through the
real windows where it is cheap and the core elsewhere:

- field window (a real, non-training profile made from a signed pack): a draft autosaved as
  the note is typed, finals saved from the result screen, a draft left behind, sync to the
  USB folder and to the loopback WebDAV server (the pack's target), auto-lock in the middle of
  a screening, receipts collected and received records purged, quick exit with the name on
  the clipboard and in an open screening;
- a second laptop that was never enrolled, whose batch the coordinator quarantines;
- console: import from the folder and from WebDAV, the case note, the counts and
  record-level exports, a deployment pack written to disk, auto-lock, quick exit;
- a forced crash of `fieldscreen sync` whose exception quotes the note, and a bug in a slot
  of the running field window whose exception names the child.

Every file under the test's folder is then searched (profile folders with WAL and SHM, the
quarantine, the relay folder with its batches and receipts, the WebDAV store, the written
pack, TMPDIR, HOME with its XDG folders), once while both profiles are open and again at the
end, with everything printed, logged or said by Qt. Only the coordinator's deliberate
exports may hold the name; every widget must have let go of it after locking, and the
clipboard must be empty after quick exit.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLineEdit, QPlainTextEdit

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.exchange.pack import SyncSettings, build_pack, read_pack
from fieldscreen.exchange.sync import sync
from fieldscreen.forms.loader import load_form
from fieldscreen.forms.schema import ItemType
from fieldscreen.forms.services import load_services
from fieldscreen.store.layout import DATABASE_FILE
from fieldscreen.store.profile import ProfileRole
from fieldscreen.store.records import RecordStatus
from tests import webdav_server as dav
from tests.conftest import ROOT, SHIPPED_FORM, SHIPPED_SERVICES
from tests.exchange_helpers import (
    ANSWERS,
    PASSPHRASE,
    PROFILE,
    FakeClock,
    make_field,
    make_profile,
    shipped_form,
    weak_kdf,
)
from tests.leak_helpers import (
    FileScan,
    clipboard_leaks,
    found_in,
    found_in_text,
    scan_files,
    widget_leaks,
)
from tests.webdav_server import WebDavServer

# Bound by assignment so pytest finds the fixture by name without ruff's F811.
webdav_server = dav.webdav_server

CHILD = "Zanele Okonkwo-Petrov"
# The full name, and each part of it: a first name or a surname alone already identifies.
SECRETS = [CHILD, "Zanele", "Okonkwo-Petrov"]
NOTE = f"{CHILD} sleeps at the bus depot; her aunt keeps her papers"
LOWER_REASON = f"{CHILD} is already with a social worker today"
NO_CONSENT_REASON = f"{CHILD} is 9 and in danger tonight; her guardian cannot be reached"
RAISE_REASON = f"{CHILD} showed me bruises she would not explain"
CASE_NOTE = f"Called the shelter about {CHILD}; they will visit tomorrow"

# -- where everything lands -------------------------------------------------------------------


@dataclass
class Sandbox:
    """The folders of one hunt: every file any part of the app writes lands under `root`."""

    root: Path
    tmp: Path
    home: Path
    field_base: Path
    stray_base: Path
    coord_base: Path
    relay: Path
    exports: Path
    packs: Path
    inputs: Path
    allowed: set[Path] = field(default_factory=set)  # deliberate exports, recorded as made
    streams: dict[str, str] = field(default_factory=dict)  # output captured along the way

    @property
    def field_data(self) -> Path:
        return self.field_base / "data"

    @property
    def coord_data(self) -> Path:
        return self.coord_base / "data"


@pytest.fixture
def sandbox(tmp_path, monkeypatch) -> Sandbox:
    """TMPDIR, SQLite's temp folder, HOME and the XDG folders moved under the test's folder."""
    folders = {name: tmp_path / name for name in (
        "tmp", "home", "field", "stray", "coord", "relay", "exports", "packs", "inputs")}
    for folder in folders.values():
        folder.mkdir(mode=0o700)
    home = folders["home"]
    monkeypatch.setenv("TMPDIR", str(folders["tmp"]))
    monkeypatch.setenv("SQLITE_TMPDIR", str(folders["tmp"]))
    monkeypatch.setattr(tempfile, "tempdir", str(folders["tmp"]))
    monkeypatch.setenv("HOME", str(home))
    for variable, relative in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                               ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state"),
                               ("XDG_RUNTIME_DIR", "runtime")):
        target = home / relative
        target.mkdir(parents=True, mode=0o700)
        monkeypatch.setenv(variable, str(target))
    return Sandbox(root=tmp_path, tmp=folders["tmp"], home=home,
                   field_base=folders["field"], stray_base=folders["stray"],
                   coord_base=folders["coord"], relay=folders["relay"],
                   exports=folders["exports"], packs=folders["packs"],
                   inputs=folders["inputs"])


# -- the scanner must be able to fail ----------------------------------------------------------


def test_the_scanner_finds_a_planted_name(tmp_path, qtbot):
    """The control: every search used below finds the name where it was planted."""
    import gzip
    import io
    import zipfile

    planted = {
        "utf-8": CHILD.encode("utf-8"),
        "utf-16-le": CHILD.encode("utf-16-le"),
        "utf-16-be": CHILD.encode("utf-16-be"),
        "odd-utf-16": b"\x00" + CHILD.encode("utf-16-le"),
        "upper": CHILD.upper().encode("utf-8"),
        "upper-utf-16": CHILD.upper().encode("utf-16-be"),
        "surname": b"Dear OKONKWO-PETROV,",
        "escaped": json.dumps({"note": "Zanele Şahin"}).encode("ascii"),
        "gzip": gzip.compress(NOTE.encode("utf-8")),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", f"<t>{CHILD}</t>")
    planted["zip"] = buffer.getvalue()
    for name, data in planted.items():
        (tmp_path / name).write_bytes(b"\x01junk\x00" + data + b"\x00junk")
    (tmp_path / "clean").write_bytes(os.urandom(4096) + b"Zanel Okonkwo Petrov")
    (tmp_path / f"{CHILD}.txt").write_bytes(b"")
    scan = scan_files(tmp_path, [*SECRETS, "Zanele Şahin"])
    assert {path.name for path in scan.hits} == {*planted, f"{CHILD}.txt"}, scan.hits
    assert len(scan.files) == len(planted) + 2
    assert found_in(b"...\x00" + CHILD.encode("utf-16-be"), [CHILD])
    assert not found_in(b"Zanele Okonkwo Petrov", [CHILD])

    # Widgets: what is shown, and what undo would bring back after clear().
    edit = QLineEdit()
    qtbot.addWidget(edit)
    qtbot.keyClicks(edit, CHILD)
    assert any(CHILD in leak for leak in widget_leaks([CHILD]))
    edit.clear()
    assert edit.text() == ""
    assert any(CHILD in leak for leak in widget_leaks([CHILD])), "undo history not searched"
    notes = QPlainTextEdit()
    qtbot.addWidget(notes)
    notes.setPlainText(NOTE)
    notes.selectAll()
    notes.cut()
    assert clipboard_leaks([CHILD])
    assert any(CHILD in leak for leak in widget_leaks([CHILD]))
    QGuiApplication.clipboard().clear()
    assert not clipboard_leaks([CHILD])


# -- the deployment -------------------------------------------------------------------------


@dataclass
class Deployment:
    clock: FakeClock
    pack_raw: bytes


def deploy(box: Sandbox, server: WebDavServer) -> Deployment:
    """A coordinator, its signed pack (syncing to the WebDAV server) and an enrolled laptop."""
    clock = FakeClock()
    coordinator = make_profile(box.coord_data, ProfileRole.COORDINATOR, clock=clock)
    pack_raw = build_pack(
        signing_key=coordinator.coordinator_signing_key(),
        recipient=coordinator.coordinator_identity().recipient,
        coordinator_name="Leak hunt coordinator", form_paths=[SHIPPED_FORM],
        services_path=SHIPPED_SERVICES,
        sync=SyncSettings(server.url, server.user, server.password),
        retention_days=30, demo=False, now=clock())
    pack = read_pack(pack_raw)
    laptop = make_field(box.field_data, pack_raw, clock=clock, pack=pack)
    coordinator.devices.enroll(laptop.device_key().public.raw, "North team laptop")
    laptop.lock()
    coordinator.lock()
    return Deployment(clock, pack_raw)


def text_items() -> list[str]:
    """Every free-text question of the shipped checklist (today the worker's note alone)."""
    return [item.name for item in shipped_form().questions() if item.type is ItemType.TEXT]


def answers(base: str, *, typing: str | None = None, **changes: Any) -> dict[str, Any]:
    """A complete answer file with the note in every text question but the one `typing`."""
    loaded = json.loads((ANSWERS / base).read_text(encoding="utf-8"))
    loaded.update({name: NOTE for name in text_items() if name != typing})
    loaded.update(changes)
    return loaded


def checklist() -> tuple[Any, Any]:
    return load_form(SHIPPED_FORM), load_services(SHIPPED_SERVICES)


# -- driving the field window -------------------------------------------------------------------


def settle(window: Any, qtbot) -> None:
    window.tasks.wait_idle()
    qtbot.wait(20)


def open_field(qtbot, box: Sandbox, world: Deployment) -> Any:
    from fieldscreen.ui.field.window import FieldWindow

    window = FieldWindow(data_dir=box.field_data, profile_name=PROFILE, checklist=checklist,
                         demo=False, clock=world.clock, probe_seconds=3600, kdf=weak_kdf())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.shortcuts_ready, timeout=10_000)
    unlock_field(qtbot, window)
    return window


def unlock_field(qtbot, window: Any) -> None:
    assert window.stack.currentWidget() is window.unlock_screen
    qtbot.keyClicks(window.unlock_screen.passphrase, PASSPHRASE)
    qtbot.keyClick(window.unlock_screen.passphrase, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.profile is not None, timeout=20_000)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.home, timeout=10_000)
    settle(window, qtbot)  # the first reachability probe, and its (empty) auto-sync


def start_screening(window: Any, given: dict[str, Any]) -> Any:
    """A new screening with `given` answered; the wizard shows where a worker would resume."""
    window.new_screening()
    session = window.session
    session.answer_all(given)
    window.wizard.start(session)
    return session


def move_on(wizard: Any) -> None:
    """Next, or Skip where nothing is answered (Next refuses to walk past questions)."""
    step = wizard.current_step()
    wizard.go_next()
    if wizard.current_step() is step and wizard.navigation.problem:
        wizard.skip()


def type_note(qtbot, window: Any, text: str) -> None:
    """Go to the worker's note and type `text` key by key (each key autosaves the draft)."""
    wizard = window.wizard
    # A draft resumes after its last answered step, which may lie past the note: walk
    # back to it then, as a worker would.
    note_step = next(index for index, step in enumerate(wizard.steps)
                     if any(item.name == "worker_note" for item in step.items))
    for _step in range(200):
        if any(item.name == "worker_note" for item in wizard.current_step().items):
            break
        if wizard.index > note_step:
            wizard.go_back()
        else:
            move_on(wizard)
    else:
        raise AssertionError("the worker's note never came")
    [note] = [item for item in wizard.current_step().items if item.name == "worker_note"]
    label = note.label.get("en")
    [line] = [edit for edit in wizard.question_area.widget().findChildren(QPlainTextEdit)
              if edit.accessibleName() == label]
    line.setFocus()
    qtbot.keyClicks(line, text)
    settle(window, qtbot)


def to_result(qtbot, window: Any) -> Any:
    wizard = window.wizard
    for _step in range(200):
        if window.stack.currentWidget() is not wizard:
            break
        move_on(wizard)
    assert window.stack.currentWidget() is window.result
    return window.result


def save_result(qtbot, window: Any, final: str, reason: str,
                no_consent: str | None = None) -> str:
    result = window.result
    result.final.setCurrentIndex(result.final.findData(final))
    qtbot.keyClicks(result.reason, reason)
    if no_consent is not None:
        assert result.consent_reason.isVisible()
        qtbot.keyClicks(result.consent_reason, no_consent)
    result.confirm.setChecked(True)  # saving needs the worker's confirmation
    with qtbot.waitSignal(window.saved, timeout=20_000) as saved:
        qtbot.mouseClick(result.save_button, Qt.MouseButton.LeftButton)
    settle(window, qtbot)
    return saved.args[0]


def field_sync(qtbot, window: Any, target: str | None) -> Any:
    settle(window, qtbot)
    with qtbot.waitSignal(window.sync_finished, timeout=30_000) as finished:
        window.sync_now(target)
    report = finished.args[0]
    assert report.error is None, report.error
    settle(window, qtbot)
    return report


def lock_by_idling(qtbot, window: Any) -> None:
    """Let the window's idle timer run out (shortened), then give it its interval back."""
    interval = window.idle_timer.interval()
    window.idle_timer.setInterval(50)
    with qtbot.waitSignal(window.locked, timeout=10_000):
        window.idle_timer.start()
    window.idle_timer.setInterval(interval)
    settle(window, qtbot)
    assert window.profile is None


# -- driving the console ------------------------------------------------------------------


def open_console(qtbot, box: Sandbox, world: Deployment) -> Any:
    from fieldscreen.ui.console.window import ConsoleWindow

    window = ConsoleWindow(data_dir=box.coord_data, profile_name=PROFILE,
                           form_loader=lambda: load_form(SHIPPED_FORM), clock=world.clock)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    unlock_console(qtbot, window)
    return window


def unlock_console(qtbot, window: Any) -> None:
    qtbot.keyClicks(window.unlock_screen.passphrase, PASSPHRASE)
    with qtbot.waitSignal(window.facts_ready, timeout=30_000):
        window.unlock_screen.unlock_button.click()
    qtbot.waitUntil(lambda: not window.tasks.busy, timeout=10_000)


def console_import(qtbot, window: Any, source: str) -> dict[str, Any]:
    panel = window.import_panel
    panel.source.setText(source)
    with qtbot.waitSignal(window.imported, timeout=60_000) as report:
        panel.import_button.click()
    qtbot.waitUntil(lambda: window.facts is not None and not window.tasks.busy,
                    timeout=30_000)
    return report.args[0].to_json()


def show_case(qtbot, window: Any, record_id: str) -> Any:
    queue = window.referral_panel
    qtbot.waitUntil(lambda: record_id in [case.record_id for case in queue.cases],
                    timeout=10_000)
    queue.select_case(record_id)
    qtbot.waitUntil(lambda: CHILD in queue.reasons.text(), timeout=10_000)
    return queue


def export(qtbot, window: Any, box: Sandbox, name: str, *, fmt: str, records: bool) -> Path:
    panel = window.dashboard_panel
    panel.export_format.setCurrentIndex(panel.export_format.findData(fmt))
    panel.export_records.setChecked(records)
    panel.export_hxl.setChecked(True)
    path = box.exports / name
    box.allowed.add(path)
    panel.export_to(str(path))
    qtbot.waitUntil(lambda: "Exported" in panel.message.text(), timeout=20_000)
    panel.message.clear()
    assert path.is_file()
    return path


# -- the crashes ---------------------------------------------------------------------------------

# A bug whose message quotes the record it choked on, as bugs do: `fieldscreen sync` is
# made to crash while sealing, after the profile was unlocked and the note decrypted.
CRASH_SYNC = """
import sys
import fieldscreen.exchange.sync as sync_module
from fieldscreen.cli import main

def broken_record_line(record):
    raise ValueError("cannot encode the note " + repr(record["answers"].get("worker_note")))

sync_module.record_line = broken_record_line
sys.exit(main(sys.argv[1:]))
"""

# A bug in a slot of the running field window, naming the child in its message.
CRASH_GUI = """
import os
import sys
from fieldscreen.cli import main
from fieldscreen.ui.field import window as field_window

def broken(self):
    raise RuntimeError("could not show the card of " + os.environ["LEAK_HUNT_CHILD"])

field_window.FieldWindow._after_first_paint = broken
sys.exit(main(sys.argv[1:]))
"""


def run_crash(box: Sandbox, name: str, script: str, *arguments: str,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `script` in a new interpreter; its output is kept for the search."""
    before = set(box.root.rglob("*"))
    done = subprocess.run([sys.executable, "-c", script, *arguments], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, **(env or {})})
    box.streams[f"{name} stdout"] = done.stdout
    box.streams[f"{name} stderr"] = done.stderr
    new = sorted(str(path.relative_to(box.root)) for path in set(box.root.rglob("*")) - before
                 if path.is_file())
    box.streams[f"{name} new files"] = "\n".join(new)
    return done


# -- the hunt ------------------------------------------------------------------------------------


def search(box: Sandbox) -> FileScan:
    return scan_files(box.root, SECRETS)


def describe_hits(scan: FileScan, box: Sandbox) -> str:
    return "\n".join(f"{path.relative_to(box.root)}: {', '.join(hits)}"
                     for path, hits in sorted(scan.hits.items()))


def not_allowed(scan: FileScan, box: Sandbox) -> FileScan:
    return FileScan(scan.files, {path: hits for path, hits in scan.hits.items()
                                 if path not in box.allowed})


def test_a_childs_name_stays_inside_the_app_through_the_whole_loop(
        qtbot, sandbox, webdav_server, caplog, capfd, qtlog):
    started = time.monotonic()
    caplog.set_level(logging.DEBUG)
    box = sandbox
    world = deploy(box, webdav_server)
    field_window = open_field(qtbot, box, world)
    scans = FileScan()
    assert "worker_note" in text_items()

    # 1. Draft: the note is typed into the checklist; every key autosaves the draft.
    start_screening(field_window, answers("urgent.json", typing="worker_note",
                                          referral_consent="no"))
    type_note(qtbot, field_window, NOTE)
    profile = field_window.profile
    [draft] = profile.records.list()
    assert draft.status is RecordStatus.DRAFT
    assert profile.records.get(draft.id).answers["worker_note"] == NOTE
    wal = profile.database_path.with_name(profile.database_path.name + "-wal")
    assert wal.stat().st_size > 0
    early = search(box)  # the profile open, the draft in an uncheckpointed WAL
    assert not early.hits, describe_hits(early, box)
    scans.add(early)

    # 2. Final: lowered from urgent with a reason, referred without consent with a reason.
    to_result(qtbot, field_window)
    first = save_result(qtbot, field_window, "referral", LOWER_REASON, NO_CONSENT_REASON)
    outcome = field_window.profile.records.get(first).outcome
    assert CHILD in outcome["override_reason"] and CHILD in outcome["no_consent_reason"]

    # 3. Sync to the USB folder; a second final (raised, with a reason) to WebDAV.
    assert field_sync(qtbot, field_window, str(box.relay)).delivered_batches == 1
    start_screening(field_window, answers("referral.json", typing="worker_note"))
    type_note(qtbot, field_window, NOTE)
    to_result(qtbot, field_window)
    second = save_result(qtbot, field_window, "urgent", RAISE_REASON)
    assert field_sync(qtbot, field_window, None).delivered_batches == 1
    assert any(name.endswith(".age") for name in webdav_server.files())

    # 4. A draft left behind, and auto-lock in the middle of a screening's result.
    start_screening(field_window, {"child_assent": "yes"})
    type_note(qtbot, field_window, NOTE)
    qtbot.mouseClick(field_window.wizard.stop_button, Qt.MouseButton.LeftButton)
    settle(field_window, qtbot)
    start_screening(field_window, answers("urgent.json"))
    to_result(qtbot, field_window)
    qtbot.keyClicks(field_window.result.reason, LOWER_REASON)
    assert widget_leaks(SECRETS)  # the control: the name is on screen before the lock
    lock_by_idling(qtbot, field_window)
    assert widget_leaks(SECRETS) == [], "auto-lock left the name in the field window"
    unlock_field(qtbot, field_window)

    # 5. A laptop that was never enrolled syncs a screening into the same folder.
    stray = make_field(box.stray_base / "data", world.pack_raw, clock=world.clock)
    screening = ScreeningSession(load_form(SHIPPED_FORM), clock=world.clock)
    screening.answer_all(answers("urgent.json"))
    stray.records.save_final(screening.form.id, screening.form.version,
                             screening.answers_json(), screening.outcome().to_json())
    assert sync(stray, target=str(box.relay), now=world.clock).delivered_batches == 1
    stray.lock()

    # 6. The coordinator imports from both relays; the stray batch is quarantined.
    console = open_console(qtbot, box, world)
    from_folder = console_import(qtbot, console, str(box.relay))
    assert from_folder["batches"]["imported"] == 1, from_folder
    assert from_folder["batches"]["quarantined"] == 1, from_folder
    console.import_panel.webdav_user.setText(webdav_server.user)
    console.import_panel.webdav_password.setText(webdav_server.password)
    from_webdav = console_import(qtbot, console, webdav_server.url)
    assert from_webdav["records"]["imported"] == 1, from_webdav
    quarantine = console.quarantine_dir
    assert list(quarantine.glob("*.age"))
    assert list(box.relay.glob("*.receipt"))
    assert any(name.endswith(".receipt") for name in webdav_server.files())

    # 7. A case note naming the child; the deliberate exports; a pack written to disk.
    queue = show_case(qtbot, console, first)
    queue.note.setFocus()
    qtbot.keyClicks(queue.note, CASE_NOTE)
    queue.save_button.click()
    qtbot.waitUntil(lambda: queue.message.text() == "Saved.", timeout=10_000)
    qtbot.waitUntil(lambda: any(CHILD in queue.history.item(i).text()
                                for i in range(queue.history.count())), timeout=10_000)
    assert [note.text for note in console.profile.referrals.notes(first)] == [CASE_NOTE]
    assert second in [case.record_id for case in queue.cases]
    export(qtbot, console, box, "counts.xlsx", fmt="xlsx", records=False)
    export(qtbot, console, box, "records.csv", fmt="csv", records=True)
    export(qtbot, console, box, "records.xlsx", fmt="xlsx", records=True)
    devices = console.devices_panel
    devices.pack_target.setText(str(box.relay))
    devices.write_pack(box.packs / "north.fspack")
    qtbot.waitUntil(lambda: "Wrote the deployment pack" in devices.message.text(),
                    timeout=20_000)

    # Both profiles open, every WAL and SHM present: search everything.
    opened = search(box)
    assert any(path.name.endswith("-wal") for path in opened.files)
    assert not_allowed(opened, box).hits == {}, describe_hits(not_allowed(opened, box), box)
    scans.add(opened)

    # 8. The console locks itself when idle, then is unlocked and quick-exited.
    lock_by_idling(qtbot, console)
    assert console.facts is None
    assert widget_leaks(SECRETS) == [], "auto-lock left the name in the console"
    unlock_console(qtbot, console)
    show_case(qtbot, console, first)
    QGuiApplication.clipboard().setText(CASE_NOTE)  # the coordinator copied the note
    assert clipboard_leaks(SECRETS) and widget_leaks(SECRETS)  # the controls
    console.quick_exit()
    assert console.profile is None and not console.isVisible()
    assert clipboard_leaks(SECRETS) == []
    assert widget_leaks(SECRETS) == [], "quick exit left the name in the console"

    # 9. The laptop collects both receipts; a month later the received records are purged.
    received = field_sync(qtbot, field_window, str(box.relay)).received_records
    received += field_sync(qtbot, field_window, None).received_records
    assert received == 2
    world.clock.advance(dt.timedelta(days=31).total_seconds())
    assert field_sync(qtbot, field_window, None).purged_records == 2
    # One more final waits unsent for the crash below; one screening is open at quick exit.
    start_screening(field_window, answers("urgent.json", typing="worker_note"))
    type_note(qtbot, field_window, NOTE)
    to_result(qtbot, field_window)
    save_result(qtbot, field_window, "referral", LOWER_REASON)
    start_screening(field_window, answers("referral.json", typing="worker_note"))
    type_note(qtbot, field_window, NOTE)
    QGuiApplication.clipboard().setText(NOTE)  # the worker copied the note
    assert clipboard_leaks(SECRETS) and widget_leaks(SECRETS)  # the controls
    field_window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is field_window, timeout=5_000)
    qtbot.keyClick(QApplication.focusWidget() or field_window, Qt.Key.Key_F12)
    settle(field_window, qtbot)
    assert field_window.profile is None and not field_window.isVisible()
    assert clipboard_leaks(SECRETS) == []
    assert widget_leaks(SECRETS) == [], "quick exit left the name in the field window"

    # 10. Crashes: `fieldscreen sync` dies mid-sealing on an exception quoting the note...
    passphrase_file = box.inputs / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n", encoding="utf-8")
    crashed = run_crash(box, "crashed sync", CRASH_SYNC, "--basedir", str(box.field_base),
                        "--profile", PROFILE, "sync", "--passphrase-file",
                        str(passphrase_file))
    assert crashed.returncode == 70, crashed.stderr
    assert "hit a bug (ValueError)" in crashed.stderr
    # ... and a slot of the running field window raises an exception naming the child.
    shown = run_crash(box, "crashed window", CRASH_GUI, "--basedir", str(box.field_base),
                      "--profile", PROFILE, "field", "--quit-after", "1500",
                      env={"LEAK_HUNT_CHILD": CHILD, "QT_QPA_PLATFORM": "offscreen"})
    assert "RuntimeError" in shown.stderr, shown.stderr  # the crash did happen

    # Everything the app wrote, in the end.
    final = search(box)
    scans.add(final)
    leaks = not_allowed(final, box)
    assert leaks.hits == {}, "the name was found outside the deliberate exports:\n" + (
        describe_hits(leaks, box))

    # Everything printed, logged or said by Qt, by this process and by the crashed ones.
    captured = capfd.readouterr()
    box.streams["stdout"] = captured.out
    box.streams["stderr"] = captured.err
    box.streams["log records"] = caplog.text + "\n".join(
        str(record.getMessage()) for record in caplog.records)
    box.streams["Qt messages"] = "\n".join(str(record.message) for record in qtlog.records)
    box.streams["WebDAV requests"] = "\n".join(f"{m} {p}" for m, p in webdav_server.requests)
    said = {name: found_in_text(text, SECRETS) for name, text in box.streams.items()}
    assert not any(said.values()), {name: hits for name, hits in said.items() if hits}

    # The categories the brief names were really searched (and were clean, above).
    def kinds(predicate: Any) -> int:
        return len({path for path in scans.files if predicate(path)})

    counted = {
        "database files": kinds(lambda p: p.name == DATABASE_FILE),
        "WAL and SHM": kinds(lambda p: p.name.endswith(("-wal", "-shm"))),
        "quarantine copies": kinds(lambda p: p.parent.name == "quarantine"),
        "receipts": kinds(lambda p: p.suffix == ".receipt"),
        "batches": kinds(lambda p: p.name.startswith("fieldscreen-batch-")),
        "packs": kinds(lambda p: p.suffix == ".fspack"),
        "WebDAV store": kinds(lambda p: webdav_server.root in p.parents),
        "TMPDIR": kinds(lambda p: box.tmp in p.parents),
        "HOME": kinds(lambda p: box.home in p.parents),
    }
    for kind in ("WAL and SHM", "quarantine copies", "receipts", "batches", "packs",
                 "WebDAV store"):
        assert counted[kind] > 0, (kind, counted)
    exports_holding = sorted(path.name for path in final.hits if path in box.allowed)
    elapsed = time.monotonic() - started
    print(f"\nleak hunt: {len(final.files)} files at the end ({len(scans.files)} scanned in "
          f"all), {counted}; exports holding the name: {exports_holding or 'none'}; "
          f"{elapsed:.1f} s")
