"""Training mode stays in its sandbox: nothing written outside it, scenarios checked by the CLI."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fieldscreen.cli import main
from tests.conftest import ROOT


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(path): path.stat().st_mtime for path in folder.rglob("*")}


@pytest.mark.parametrize("mode", [[], ["--coordinator"]], ids=["field", "coordinator"])
def test_demo_writes_nothing_outside_its_base_directory(tmp_path, mode):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".config").mkdir()
    before = _snapshot(home)
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)  # read-only home
    (home / ".config").chmod(stat.S_IRUSR | stat.S_IXUSR)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_DATA_HOME": str(home / ".local" / "share"),
           "XDG_CACHE_HOME": str(home / ".cache"), "TMPDIR": str(scratch),
           "QT_QPA_PLATFORM": "offscreen"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "fieldscreen", "demo", *mode, "--quit-after", "1500"],
            capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path, check=False)
    finally:
        home.chmod(stat.S_IRWXU)
        (home / ".config").chmod(stat.S_IRWXU)
    assert result.returncode == 0, result.stderr
    assert _snapshot(home) == before
    # The sandbox lived in TMPDIR and was removed at exit.
    assert list(scratch.iterdir()) == []
    # Nothing beside the working directory either.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "tmp"]


def test_demo_keep_leaves_the_training_sandbox(tmp_path):
    kept = tmp_path / "kept"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "fieldscreen", "demo", "--keep", str(kept), "--quit-after",
         "1500"], capture_output=True, text=True, timeout=180, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert (kept / "data" / "profiles" / "training" / "profile.db").is_file()


def test_demo_coordinator_keeps_a_whole_training_deployment(tmp_path):
    kept = tmp_path / "kept"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-m", "fieldscreen", "demo", "--coordinator", "--keep", str(kept),
         "--quit-after", "1500"], capture_output=True, text=True, timeout=180, env=env,
        check=False)
    assert result.returncode == 0, result.stderr
    profiles = kept / "data" / "profiles"
    assert (profiles / "training-coordinator" / "profile.db").is_file()
    assert (profiles / "training-laptop" / "profile.db").is_file()
    assert list((kept / "data" / "training-relay").glob("fieldscreen-batch-*.age"))


def test_check_scenarios_passes_on_the_shipped_library(capsys):
    assert main(["demo", "--check-scenarios"]) == 0
    out = capsys.readouterr().out
    assert out.count("gives the expected outcome") >= 12


def test_check_scenarios_names_a_wrong_expectation(capsys, tmp_path):
    folder = tmp_path / "scenarios"
    shutil.copytree(ROOT / "forms" / "scenarios", folder)
    target = sorted(folder.glob("*red-flag*.yaml"))[0]
    text = target.read_text(encoding="utf-8")
    assert "decision: urgent" in text
    target.write_text(text.replace("decision: urgent", "decision: information", 1),
                      encoding="utf-8")
    assert main(["demo", "--check-scenarios", "--scenarios", str(folder)]) == 1
    out = capsys.readouterr().out
    wrong = [line for line in out.splitlines() if line.startswith(str(target))]
    assert wrong and "urgent" in wrong[0]


@pytest.mark.parametrize("place", ["before", "after"])
def test_training_refuses_a_database_server(capsys, tmp_path, place):
    # Training data must never reach a real programme's server; nothing is created anywhere.
    url = "postgresql://trainer:secret-pw@127.0.0.1:1/programme"
    argv = (["--database", url, "demo", "--coordinator", "--keep", str(tmp_path / "kept")]
            if place == "before" else
            ["demo", "--coordinator", "--keep", str(tmp_path / "kept"), "--database", url])
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "never on a database server" in err and "Leave out --database" in err
    assert "secret-pw" not in err
    assert not (tmp_path / "kept").exists()
