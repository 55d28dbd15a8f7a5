"""Real windows under Xvfb, real key presses from xdotool: quick exit and first-run typing.

Quick exit is for danger. Hiding the window while the process lives on (as it did) leaves
the keys in memory and the training sandbox on disk; this runs the app as a person does and
presses the keys.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fieldscreen.store.profile import DATABASE_FILE
from tests.store_helpers import PASSPHRASE, create_profile

pytestmark = pytest.mark.slow
EXIT_WITHIN_S = 2.0


def _xdotool(display: str, *arguments: str) -> str:
    return subprocess.run(["xdotool", *arguments], capture_output=True, text=True,
                          env={**os.environ, "DISPLAY": display}, timeout=90,
                          check=True).stdout.strip()


def _start(display: str, tmp_path: Path, *arguments: str) -> subprocess.Popen[str]:
    temporary = tmp_path / "tmp"
    temporary.mkdir(exist_ok=True)
    environment = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
                   "TMPDIR": str(temporary)}
    return subprocess.Popen([sys.executable, "-m", "fieldscreen", *arguments],
                            env=environment, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _press_and_time(display: str, process: subprocess.Popen[str], keys: str) -> float:
    window = _xdotool(display, "search", "--sync", "--onlyvisible", "--name",
                      "FieldScreen").splitlines()[0]
    time.sleep(1.0)  # the shortcuts are set up just after the first paint
    _xdotool(display, "windowfocus", "--sync", window)
    pressed = time.monotonic()
    _xdotool(display, "key", keys)
    try:
        process.wait(timeout=EXIT_WITHIN_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the process was still running {EXIT_WITHIN_S} s after {keys}")
    return time.monotonic() - pressed


def test_f12_in_training_ends_the_process_and_removes_the_sandbox(display, tmp_path):
    process = _start(display, tmp_path, "demo")
    try:
        elapsed = _press_and_time(display, process, "F12")
    finally:
        if process.poll() is None:
            process.kill()
        _out, errors = process.communicate(timeout=10)
    assert process.returncode == 0, errors
    assert elapsed < EXIT_WITHIN_S
    assert not list((tmp_path / "tmp").glob("fieldscreen-demo-*")), "the sandbox is left"
    # Nothing is left on screen.
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "FieldScreen"],
                           capture_output=True, text=True,
                           env={**os.environ, "DISPLAY": display}, check=False)
    assert found.stdout.strip() == ""


def test_ctrl_shift_x_on_a_real_profile_ends_the_process(display, tmp_path):
    base = tmp_path / "base"
    _store, profile = create_profile(base / "data", name="worker", passphrase=PASSPHRASE)
    profile.lock()
    process = _start(display, tmp_path, "--basedir", str(base), "--profile", "worker",
                     "field")
    try:
        _press_and_time(display, process, "ctrl+shift+x")
    finally:
        if process.poll() is None:
            process.kill()
        _out, errors = process.communicate(timeout=10)
    assert process.returncode == 0, errors


def test_first_run_by_keyboard_alone_types_the_passphrase_and_creates_the_profile(
        display, tmp_path):
    # Focus used to start on a header control (Quick exit, or the language list): the
    # first space of a passphrase pressed it, and the passphrase never reached its field.
    base = tmp_path / "new"
    process = _start(display, tmp_path, "--basedir", str(base), "field")
    try:
        window = _xdotool(display, "search", "--sync", "--onlyvisible", "--name",
                          "FieldScreen").splitlines()[0]
        time.sleep(1.0)
        _xdotool(display, "windowfocus", "--sync", window)
        _xdotool(display, "type", "--delay", "20", "purple tractor river lantern")
        _xdotool(display, "key", "Tab")
        _xdotool(display, "type", "--delay", "20", "purple tractor river lantern")
        _xdotool(display, "key", "Return")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(base.rglob(DATABASE_FILE)):
            assert process.poll() is None, "typing a passphrase ended the app"
            time.sleep(0.2)
        assert list(base.rglob(DATABASE_FILE)), "the keys never reached the passphrase fields"
        visible = _xdotool(display, "search", "--onlyvisible", "--name", "FieldScreen")
        assert window in visible.splitlines()
    finally:
        process.kill()
        process.communicate(timeout=10)
