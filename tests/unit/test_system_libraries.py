"""The GUI verbs name the Debian packages to install before Qt can abort for a missing library.

The proof for a bare machine, without a container: the NEEDED entries of the installed Qt
wheel's libraries and xcb plugin, outside Qt's own, are all in the tables, and README.md's
apt line names every package of the tables.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fieldscreen import system_libraries
from tests.conftest import ROOT

# The C and C++ runtime and zlib: present on every system that runs Python.
BASE_LIBRARIES = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1",
                  "libzstd.so.1", "libpthread.so.0", "libdl.so.2", "librt.so.1",
                  "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
IMPOSSIBLE = {"libfieldscreen-cannot-exist.so.9": "fieldscreen-missing-package"}

# What a GUI verb loads: QtCore/Gui/Widgets/DBus, the charts of the console, and the xcb
# platform plugin with its GL integrations.
QT_LIBRARIES = ["lib/libQt6Core.so.6", "lib/libQt6Gui.so.6", "lib/libQt6Widgets.so.6",
                "lib/libQt6DBus.so.6", "lib/libQt6Charts.so.6", "lib/libQt6OpenGL.so.6",
                "lib/libQt6OpenGLWidgets.so.6", "lib/libQt6XcbQpa.so.6",
                "plugins/platforms/libqxcb.so", "plugins/platforms/libqoffscreen.so",
                "plugins/xcbglintegrations/libqxcb-egl-integration.so",
                "plugins/xcbglintegrations/libqxcb-glx-integration.so",
                # Pictograms (QtSvg) and reading aloud (QtMultimedia, its FFmpeg plugin).
                "lib/libQt6Svg.so.6", "lib/libQt6Multimedia.so.6",
                "plugins/multimedia/libffmpegmediaplugin.so", "lib/libavcodec.so.63",
                "lib/libavformat.so.63", "lib/libavutil.so.61", "lib/libswresample.so.7",
                "lib/libswscale.so.10"]


def _qt_root() -> Path:
    import PySide6

    return Path(PySide6.__file__).parent / "Qt"


def _needed(library: Path) -> set[str]:
    output = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True,
                            check=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", output))


def _run_cli(arguments: list[str], table: dict[str, str], platform: str = "xcb"):
    """Run `fieldscreen ARGUMENTS` in a new process whose xcb table has `table` added."""
    program = (
        "import sys\n"
        "from fieldscreen import system_libraries as s\n"
        f"s.XCB_LIBRARIES.update({table!r})\n"
        "from fieldscreen.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('QT-LOADED' if 'PySide6.QtGui' in sys.modules else 'QT-NOT-LOADED')\n"
        "sys.exit(code)\n"
    )
    environment = {**os.environ, "QT_QPA_PLATFORM": platform, "DISPLAY": ":99"}
    return subprocess.run([sys.executable, "-c", program, *arguments], capture_output=True,
                          text=True, env=environment, cwd=ROOT, timeout=120)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's loader only")
def test_every_library_qt_needs_is_in_the_tables():
    if shutil.which("readelf") is None:
        pytest.fail("readelf (Debian's binutils) is needed to read the Qt wheel's libraries")
    root = _qt_root()
    own = {path.name for path in (root / "lib").iterdir()}
    known = (set(system_libraries.QT_GUI_LIBRARIES) | set(system_libraries.XCB_LIBRARIES)
             | set(system_libraries.MULTIMEDIA_LIBRARIES))
    unlisted = {}
    for relative in QT_LIBRARIES:
        for soname in _needed(root / relative) - own - BASE_LIBRARIES - known:
            unlisted.setdefault(soname, relative)
    assert not unlisted, f"add these to fieldscreen/system_libraries.py: {unlisted}"


def test_the_readme_apt_line_names_every_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = [line for line in readme.splitlines() if "apt-get install" in line]
    listed = {word for line in lines for word in line.split()}
    packages = (set(system_libraries.QT_GUI_LIBRARIES.values())
                | set(system_libraries.XCB_LIBRARIES.values())
                | set(system_libraries.MULTIMEDIA_LIBRARIES.values()))
    assert packages <= listed, sorted(packages - listed)


def test_offscreen_needs_only_qtgui_libraries():
    assert set(system_libraries.required_libraries("offscreen")) == set(
        system_libraries.QT_GUI_LIBRARIES)
    assert "libxcb-cursor.so.0" in system_libraries.required_libraries("xcb")
    assert "libxcb-cursor.so.0" in system_libraries.required_libraries("")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's loader only")
def test_missing_packages_names_the_package_of_a_missing_library():
    assert system_libraries.missing_packages(IMPOSSIBLE) == {
        "fieldscreen-missing-package": ["libfieldscreen-cannot-exist.so.9"]}
    assert system_libraries.missing_packages({"libc.so.6": "libc6"}) == {}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's loader only")
@pytest.mark.parametrize("verb", [["demo"], ["field"], ["console"], ["demo", "--coordinator"]])
def test_gui_verbs_stop_with_the_package_to_install_before_loading_qt(verb, tmp_path):
    result = _run_cli(["--basedir", str(tmp_path), *verb], IMPOSSIBLE)
    assert result.returncode == 1, result.stderr
    assert "sudo apt-get install fieldscreen-missing-package" in result.stderr
    assert "libfieldscreen-cannot-exist.so.9" in result.stderr
    assert "Reinstalling FieldScreen does not help" in result.stderr
    assert "Traceback" not in result.stderr
    assert "QT-NOT-LOADED" in result.stdout
    assert not list(tmp_path.rglob("*.sqlite*")), "nothing is created before the check"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's loader only")
def test_command_line_verbs_never_need_them(tmp_path):
    result = _run_cli(["--basedir", str(tmp_path), "forms", "check", "forms/"], IMPOSSIBLE)
    assert result.returncode == 0, result.stderr
    assert "apt-get" not in result.stderr
