"""A sound card for the read-aloud tests, and real spoken clips to play on it.

The test machines have no sound card. `start_null_sink` starts PulseAudio (Debian's
`pulseaudio`, installed by .ci/run) with only a null sink and a private socket, in a
temporary folder; Qt's multimedia (its FFmpeg backend plays through the PulseAudio client
library) then sees that sink as the default audio output, exactly as on a field laptop.
`MonitorRecording` records what reaches the sink (`parec` on its monitor): a player that
says it reached the end but sent no sound fails the test.

`SpokenQuestions` speaks a form's words with espeak-ng (the Debian package) and encodes
them as Ogg Vorbis with soundfile, the format a deployment pack carries (forms/media.py).
"""

from __future__ import annotations

import array
import io
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SINK = "fieldscreen_test"
# Samples above this (of 32767) count as sound: espeak's speech peaks above 10000, and a
# null sink's silence is exactly 0.
SOUND_LEVEL = 1000


def require(tool: str, package: str) -> str:
    """The path of `tool`; fails (never skips) when it is missing: .ci/run installs it."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is needed (apt-get install {package}; see .ci/run)")
    return path


@dataclass
class NullSink:
    """A running PulseAudio with one null sink; `server` is its PULSE_SERVER value."""

    process: subprocess.Popen[bytes]
    folder: Path
    server: str
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_null_sink() -> NullSink:
    """Start PulseAudio with a null sink on a private socket and wait until it answers."""
    pulseaudio = require("pulseaudio", "pulseaudio")
    pactl = require("pactl", "pulseaudio-utils")
    folder = Path(tempfile.mkdtemp(prefix="fieldscreen-pulse-"))
    socket = folder / "native"
    log = folder / "pulseaudio.log"
    environment = {**os.environ, "HOME": str(folder), "XDG_RUNTIME_DIR": str(folder),
                   "XDG_CONFIG_HOME": str(folder / "config")}
    # -n: no default script (no hardware modules, no D-Bus, no session login). As root (CI
    # runs as root) PulseAudio warns and runs; --system is not needed for one socket.
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [pulseaudio, "--daemonize=no", "-n", "--exit-idle-time=-1", "--disallow-exit",
             "--use-pid-file=no", "--log-target=stderr",
             f"--load=module-null-sink sink_name={SINK}",
             f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1"],
            env=environment, stdout=subprocess.DEVNULL, stderr=log_file)
    server = f"unix:{socket}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        answer = subprocess.run([pactl, "--server", server, "info"], capture_output=True,
                                text=True, check=False, env=environment)
        if answer.returncode == 0 and f"Default Sink: {SINK}" in answer.stdout:
            return NullSink(process, folder, server, log)
        time.sleep(0.1)
    text = log.read_text(errors="replace")
    sink = NullSink(process, folder, server, log)
    sink.stop()
    pytest.fail(f"PulseAudio did not start a null sink:\n{text}")


class MonitorRecording:
    """Records what is played into the null sink while it is open."""

    def __init__(self, sink: NullSink) -> None:
        parec = require("parec", "pulseaudio-utils")
        self._process = subprocess.Popen(
            [parec, "--server", sink.server, f"--device={SINK}.monitor", "--raw",
             "--format=s16le", "--rate=22050", "--channels=1", "--latency-msec=20"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def peak(self) -> int:
        """Stop recording; the loudest sample heard."""
        self._process.terminate()
        data, _errors = self._process.communicate(timeout=10)
        samples = array.array("h", data[: len(data) // 2 * 2])
        return max((abs(sample) for sample in samples), default=0)


def speak_ogg(text: str, voice: str) -> bytes:
    """`text` spoken by espeak-ng's `voice`, as Ogg Vorbis."""
    import soundfile

    espeak = require("espeak-ng", "espeak-ng")
    wav = subprocess.run([espeak, "-v", voice, "--stdout", text], capture_output=True,
                         check=True, timeout=60).stdout
    samples, rate = soundfile.read(io.BytesIO(wav))
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="OGG", subtype="VORBIS")
    return out.getvalue()


@dataclass
class SpokenQuestions:
    """A QuestionAudio source: each question to the child and its answers, spoken by
    espeak-ng in the child's language (`texts` gives the words per item and language)."""

    texts: dict[tuple[str, str], Sequence[str]]
    _made: dict[tuple[str, str], tuple[bytes, ...]] = field(default_factory=dict)

    def clips(self, item_name: str, language: str) -> Sequence[bytes]:
        key = (item_name, language)
        if key not in self._made:
            words = self.texts.get(key, ())
            self._made[key] = tuple(speak_ogg(text, language) for text in words)
        return self._made[key]
