"""The system libraries Qt's windows need on Linux, checked before Qt can abort without them.

PySide6's wheels carry Qt itself but not the X11, OpenGL and font libraries of the system.
When one is missing, Qt's xcb platform plugin aborts the process (SIGABRT) with a hint to
"reinstall the application", which sends a person the wrong way. The GUI verbs call
`missing_packages()` first and stop with the Debian/Ubuntu packages to install instead; the
command-line verbs never load Qt and never need them.

The tables map each shared library (its soname, as the loader looks it up) to the Debian
package that ships it. They cover every library that Qt's own libraries, the xcb platform
plugin and its GL integrations list as NEEDED, apart from the C and C++ runtime that every
system has; a test reads those NEEDED entries from the installed wheel and fails when a new
Qt adds one, and another checks that README.md's apt line names every package here.

No Qt here: this must run before anything imports PySide6.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

# Every Qt platform, the offscreen one included: QtGui's own dependencies.
QT_GUI_LIBRARIES: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
}

# The xcb platform plugin (a window on an X11 or XWayland desktop) and its GL integrations.
XCB_LIBRARIES: dict[str, str] = {
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-glx.so.0": "libxcb-glx0",
}

# Reading questions aloud (QtMultimedia and its FFmpeg plugin, which the wheel carries): the
# PulseAudio client library (PipeWire desktops run its PulseAudio server too) and a few X11
# and DRM libraries the plugin links. Not required to start: without them the wizard shows
# its questions and says that sound cannot play on this laptop.
MULTIMEDIA_LIBRARIES: dict[str, str] = {
    "libpulse.so.0": "libpulse0",
    "libXrandr.so.2": "libxrandr2",
    "libXext.so.6": "libxext6",
    "libdrm.so.2": "libdrm2",
    "libbz2.so.1": "libbz2-1.0",
}

# Platforms that draw nowhere on screen need only QtGui's libraries.
_HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "linuxfb", "eglfs")


def _platform() -> str:
    return os.environ.get("QT_QPA_PLATFORM", "").strip().lower()


def required_libraries(platform: str | None = None) -> dict[str, str]:
    """The libraries (soname → Debian package) the Qt platform about to start will load."""
    chosen = _platform() if platform is None else platform.lower()
    needed = dict(QT_GUI_LIBRARIES)
    # Unset means Qt's default on Linux, which is xcb (or wayland, falling back to xcb).
    if not chosen.startswith(_HEADLESS_PLATFORMS):
        needed.update(XCB_LIBRARIES)
    return needed


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_packages(libraries: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Debian packages to install, each with the missing libraries it ships; {} when none.

    A library counts as present when the dynamic loader can load it, the same lookup Qt's
    plugin will make. Only Linux has this problem; elsewhere the answer is always {}.
    """
    if not sys.platform.startswith("linux"):
        return {}
    wanted = required_libraries() if libraries is None else libraries
    missing: dict[str, list[str]] = {}
    for soname, package in wanted.items():
        if not _loads(soname):
            missing.setdefault(package, []).append(soname)
    return missing
