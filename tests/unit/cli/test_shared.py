"""What the verb groups share: the passphrase is asked last, after everything else passed."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def _run_without_terminal(basedir, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fieldscreen", "--basedir", str(basedir), *argv],
        cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
        check=False)


def test_a_missing_profile_is_named_before_any_passphrase_is_asked(tmp_path):
    # Without a terminal, asking first would fail with "There is no terminal" instead.
    result = _run_without_terminal(tmp_path, "--profile", "nobody", "record", "list")
    assert result.returncode == 1
    assert "There is no profile called 'nobody'." in result.stderr
    assert "terminal" not in result.stderr and "Traceback" not in result.stderr


def test_a_bad_pack_is_refused_before_any_passphrase_is_asked(tmp_path):
    pack = tmp_path / "pack.fspack"
    pack.write_bytes(b"\x00 not a pack")
    result = _run_without_terminal(tmp_path / "base", "profile", "create", "--role", "field",
                                   "--pack", str(pack))
    assert result.returncode == 1
    assert "not a FieldScreen deployment pack" in result.stderr
    assert "terminal" not in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "base" / "data" / "profiles").exists()
