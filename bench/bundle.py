"""The `bundle` suite: the packaged app (tools/build-bundle) next to the virtualenv it came from.

Both run the same verbs as a fresh process: the field window up to its unlock screen on an
existing profile (then it quits), and a command-line verb. The bundle is built into dist/
when it is missing (about a minute on two cores); without PyInstaller the cases are reported
as skipped with the command that installs it. The sizes go in the notes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.core import Result, Target, progress
from bench.ui import _profile_folder

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
PROGRAM = DIST / "fieldscreen" / ("fieldscreen.exe" if sys.platform == "win32" else "fieldscreen")


def _size_mib(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*")
               if path.is_file() and not path.is_symlink()) / 2**20


def _ensure_bundle() -> str | None:
    """Build the bundle when missing; the reason it cannot be measured, or None."""
    if PROGRAM.is_file():
        return None
    try:
        import PyInstaller  # noqa: F401 - only to know whether the build can run
    except ImportError:
        return ("PyInstaller is not installed: .venv/bin/pip install --require-hashes "
                "-r requirements/bench.lock")
    progress("bundle: building dist/fieldscreen with tools/build-bundle")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build-bundle")],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0 or not PROGRAM.is_file():
        return f"tools/build-bundle failed: {result.stderr.strip().splitlines()[-1:]}"
    return None


def _time_once(command: list[str]) -> int:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    started = time.perf_counter_ns()
    subprocess.run(command, capture_output=True, env=environment, timeout=300, check=True)
    return time.perf_counter_ns() - started


def run(quick: bool) -> list[Result]:
    window_case = "venv: field window to unlock screen, cold"
    cli_case = "venv: forms check forms/, cold"
    skipped = _ensure_bundle()
    if skipped is not None:
        return [Result("bundle", "bundle: field window to unlock screen, cold", skipped=skipped),
                Result("bundle", "bundle: forms check forms/, cold", skipped=skipped)]
    rounds = 5 if quick else 15
    venv_program = [sys.executable, "-m", "fieldscreen"]
    with tempfile.TemporaryDirectory() as temporary:
        base = Path(temporary)
        _profile_folder(base)
        window = ["--basedir", str(base), "--profile", "worker", "field", "--quit-after", "1"]
        check = ["forms", "check", str(ROOT / "forms")]
        samples: dict[str, list[int]] = {"vw": [], "bw": [], "vc": [], "bc": []}
        for command in ([*venv_program, *window], [str(PROGRAM), *window]):
            _time_once(command)  # warm the file cache for both
        for _ in range(rounds):
            # Alternate, so a busy machine slows both alike.
            samples["vw"].append(_time_once([*venv_program, *window]))
            samples["bw"].append(_time_once([str(PROGRAM), *window]))
            samples["vc"].append(_time_once([*venv_program, *check]))
            samples["bc"].append(_time_once([str(PROGRAM), *check]))
    site_packages = Path(next(p for p in sys.path if p.endswith("site-packages")))
    sizes = (f"bundle folder {_size_mib(PROGRAM.parent):.0f} MiB; the virtualenv's "
             f"site-packages {_size_mib(site_packages):.0f} MiB (with the test and bench tools)")
    return [
        Result("bundle", "bundle: field window to unlock screen, cold", samples["bw"],
               baseline=window_case, target=Target("ratio", 1.5),
               note=f"dist/fieldscreen/fieldscreen field --quit-after 1 on a profile; {sizes}"),
        Result("bundle", window_case, samples["vw"],
               note="python -m fieldscreen field --quit-after 1, the same profile"),
        Result("bundle", "bundle: forms check forms/, cold", samples["bc"], baseline=cli_case,
               target=Target("ratio", 1.5)),
        Result("bundle", cli_case, samples["vc"]),
    ]
