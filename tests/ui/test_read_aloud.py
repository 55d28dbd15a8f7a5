"""Listen: the wizard plays a question and its answers to the child, and stops when the
worker moves on.

The sound is real: espeak-ng speaks the checklist's Arabic words, soundfile encodes them as
Ogg Vorbis, QtMultimedia plays them into a PulseAudio null sink started for this module
(tests/audio_helpers.py), and the sink's monitor is recorded: a player that reports the end
of the media without having sent any sound fails.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from fieldscreen import i18n
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.forms.schema import Audience
from fieldscreen.forms.translations import load_translated_form
from fieldscreen.ui.field.pictogram import PictogramLabel
from fieldscreen.ui.field.wizard import LISTEN_KEYS, WizardScreen
from tests.audio_helpers import (
    SOUND_LEVEL,
    MonitorRecording,
    SpokenQuestions,
    speak_ogg,
    start_null_sink,
)
from tests.conftest import ROOT, SHIPPED_FORM

pytestmark = [
    pytest.mark.slow,
    # Qt's multimedia looks for PipeWire first and says so when it is not installed; the
    # PulseAudio sink is what plays.
    pytest.mark.qt_log_ignore("Couldn't (load|resolve) pipewire"),
]
PLAY_WITHIN_MS = 30_000


@pytest.fixture(scope="module")
def audio_sink():
    """A PulseAudio null sink, the default audio output for this process's Qt."""
    sink = start_null_sink()
    before = os.environ.get("PULSE_SERVER")
    os.environ["PULSE_SERVER"] = sink.server
    yield sink
    if before is None:
        os.environ.pop("PULSE_SERVER", None)
    else:
        os.environ["PULSE_SERVER"] = before
    sink.stop()


@pytest.fixture(scope="module")
def arabic_form():
    form = load_translated_form(SHIPPED_FORM)
    assert "ar" in form.languages
    return form


def _spoken(form, language: str = "ar") -> SpokenQuestions:
    """The question and its answers of every question to the child, in `language`."""
    texts = {}
    for item in form.questions():
        if item.audience is not Audience.CHILD:
            continue
        words = [item.label.get(language, form.default_language)]
        if item.choice_list is not None:
            words += [choice.label.get(language, form.default_language)
                      for choice in item.choice_list.choices]
        texts[(item.name, language)] = words
    return SpokenQuestions(texts)


def _first_child_question(wizard: WizardScreen) -> None:
    """Move to the first step with a scored question to the child."""
    session = wizard.session
    session.answer_all({"knows_referral_options": "OK", "child_assent": "yes",
                        "age_years": 13, "sex_gender": "girl"})
    while wizard.current_step() and (wizard.current_step().for_worker
                                     or not wizard.current_step().items[0].indicator):
        step = wizard.current_step()
        wizard.go_next()
        if wizard.current_step() is step:
            wizard.skip()
    assert wizard.current_step() is not None


def _listen_button(wizard: WizardScreen) -> QPushButton:
    buttons = [button for button in wizard.question_area.widget().findChildren(QPushButton)
               if button.objectName() == "listenButton"]
    assert len(buttons) == 1
    return buttons[0]


@pytest.fixture
def wizard(qtbot, audio_sink, arabic_form):
    screen = WizardScreen()
    qtbot.addWidget(screen)
    screen.resize(1000, 720)
    screen.set_question_audio(_spoken(arabic_form))
    screen.start(ScreeningSession(arabic_form), "ar")
    _first_child_question(screen)
    screen.show()
    qtbot.waitExposed(screen)
    yield screen
    screen.stop_reading()


def test_the_player_plays_a_real_question_and_its_answer_to_the_end(qtbot, audio_sink):
    from PySide6.QtMultimedia import QMediaDevices, QMediaPlayer

    from fieldscreen.ui.field.read_aloud import ReadAloudPlayer

    assert QMediaDevices.audioOutputs(), "Qt sees no audio output: the null sink is not used"
    clips = [speak_ogg("هل تذهب إلى المدرسة؟", "ar"), speak_ogg("نعم", "ar")]
    player = ReadAloudPlayer()
    statuses: list[QMediaPlayer.MediaStatus] = []
    player.media_player.mediaStatusChanged.connect(statuses.append)
    finished: list[int] = []
    player.clip_finished.connect(finished.append)
    failures: list[str] = []
    player.failed.connect(failures.append)
    recording = MonitorRecording(audio_sink)
    with qtbot.waitSignal(player.playing_changed, timeout=5_000) as started:
        player.press("d_goes_to_school", clips)
    assert started.args == [True]
    with qtbot.waitSignal(player.playing_changed, timeout=PLAY_WITHIN_MS) as ended:
        pass
    peak = recording.peak()
    assert ended.args == [False]
    assert failures == []
    assert finished == [0, 1], "both clips reach their end, in order"
    assert statuses.count(QMediaPlayer.MediaStatus.EndOfMedia) == 2
    assert peak > SOUND_LEVEL, f"nothing was heard on the sink (peak {peak})"
    assert not player.playing


@pytest.mark.qt_log_ignore("Could not open media")
def test_a_clip_that_is_not_audio_stops_with_a_message_for_the_worker(qtbot, audio_sink):
    from fieldscreen.ui.field.read_aloud import ReadAloudPlayer

    player = ReadAloudPlayer()
    with qtbot.waitSignal(player.failed, timeout=PLAY_WITHIN_MS) as failed:
        player.press("q", [b"OggS" + bytes(range(256)) * 8])
    assert "could not be played" in failed.args[0]
    assert "OggS" not in failed.args[0]
    assert not player.playing


def test_every_question_to_the_child_shows_its_pictogram_in_arabic(qtbot, wizard):
    seen = set()
    while wizard.current_step() is not None:
        step = wizard.current_step()
        page = wizard.question_area.widget()
        if not step.for_worker:
            shown = {label.pictogram for label in page.findChildren(PictogramLabel)}
            wanted = {item.pictogram for item in step.items
                      if item.audience is Audience.CHILD and item.type.takes_answer}
            assert wanted <= shown, step.items[0].name
            for label in page.findChildren(PictogramLabel):
                assert label.pixmap() is not None and not label.pixmap().isNull()
            if wanted:
                # The page reads right to left: the picture is at the right of the words.
                assert page.layoutDirection() == Qt.LayoutDirection.RightToLeft
                pictogram = page.findChildren(PictogramLabel)[0]
                button = _listen_button(wizard)
                assert pictogram.mapTo(page, pictogram.rect().topLeft()).x() > button.mapTo(
                    page, button.rect().topLeft()).x()
                seen |= {item.name for item in step.items}
        index = wizard.index
        wizard.go_next()
        if wizard.index == index:
            wizard.skip()
        if wizard.index == index:
            break  # the last step: finished
    assert len(seen) >= 40


def test_listen_plays_and_next_back_an_answer_or_a_second_press_stop_it(qtbot, wizard):
    button = _listen_button(wizard)
    assert button.isEnabled()
    button.click()
    assert wizard.player.playing
    assert _listen_button(wizard).text() == i18n._("Stop")
    _listen_button(wizard).click()  # pressed again: stops
    assert not wizard.player.playing
    assert _listen_button(wizard).text() == i18n._("Listen")

    _listen_button(wizard).click()
    wizard.go_next()
    assert not wizard.player.playing, "Next stops it"
    _listen_button(wizard).click()
    wizard.go_back()
    assert not wizard.player.playing, "Back stops it"
    _listen_button(wizard).click()
    wizard._press_card(2)
    assert not wizard.player.playing, "an answer stops it"
    QApplication.processEvents()
    _listen_button(wizard).click()
    wizard.hide()
    assert not wizard.player.playing, "leaving the wizard stops it"


def test_the_listen_key_starts_it_and_next_stops_it(qtbot, wizard):
    wizard.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is wizard)
    step = wizard.current_step()
    assert LISTEN_KEYS[0] == "Alt+L"
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_L, Qt.KeyboardModifier.AltModifier)
    assert wizard.player.playing
    assert wizard.player.playlist.item_name == step.items[0].name
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_F5)  # the other key: stops
    assert not wizard.player.playing
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_2)  # an answer: "No"
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_F5)
    assert wizard.player.playing
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)  # Enter: next
    assert wizard.current_step() is not step
    assert not wizard.player.playing


class _Recorded:
    """Recordings of some questions only, in some languages only."""

    def __init__(self, recorded: dict[tuple[str, str], tuple[bytes, ...]]) -> None:
        self.recorded = recorded

    def clips(self, item_name: str, language: str) -> tuple[bytes, ...]:
        return self.recorded.get((item_name, language), ())


def test_without_a_recording_in_the_childs_language_the_button_says_so(qtbot, audio_sink,
                                                                       arabic_form):
    screen = WizardScreen()
    qtbot.addWidget(screen)
    screen.set_question_audio(_Recorded({("a_stopped_from_leaving", "en"): (b"x",)}))
    screen.start(ScreeningSession(arabic_form), "ar")
    _first_child_question(screen)
    button = _listen_button(screen)
    assert not button.isEnabled()
    assert button.text() == i18n._("No recording in {language}").format(
        language=i18n.language_name("ar"))
    screen.listen()  # the key does nothing either
    assert screen.player is None or not screen.player.playing


def test_without_any_recordings_there_is_no_listen_button(qtbot, arabic_form):
    screen = WizardScreen()
    qtbot.addWidget(screen)
    screen.start(ScreeningSession(arabic_form), "ar")
    _first_child_question(screen)
    page = screen.question_area.widget()
    assert not [b for b in page.findChildren(QPushButton) if b.objectName() == "listenButton"]
    assert page.findChildren(PictogramLabel), "the pictogram is shown all the same"
    assert "listen" not in screen.keys_hint.text()
    screen.listen()
    assert screen._player is None, "no player is made for a form without recordings"


# -- real windows, real keys ------------------------------------------------------------------


def _next_line(process: subprocess.Popen[str], wanted: str, timeout: float = 30) -> str:
    """The child's next line starting with `wanted`, within `timeout` seconds."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _w, _x = select.select([process.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(wanted):
            return line.strip()
    pytest.fail(f"the window never said {wanted!r}")


def test_real_keys_alt_l_reads_aloud_and_enter_moves_on_and_stops_it(display, audio_sink):
    environment = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
                   "PULSE_SERVER": audio_sink.server}
    process = subprocess.Popen([sys.executable, "-m", "tests.read_aloud_child"],
                               env=environment, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        start = int(_next_line(process, "ready").split()[1])
        xdotool = {**os.environ, "DISPLAY": display}
        window = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name",
                                 "FieldScreen listen"], capture_output=True, text=True,
                                env=xdotool, timeout=30, check=True).stdout.split()[0]
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=xdotool, timeout=30,
                       check=True)
        subprocess.run(["xdotool", "key", "2"], env=xdotool, timeout=30, check=True)
        subprocess.run(["xdotool", "key", "alt+l"], env=xdotool, timeout=30, check=True)
        assert _next_line(process, "playing") == "playing True"
        subprocess.run(["xdotool", "key", "Return"], env=xdotool, timeout=30, check=True)
        assert _next_line(process, "playing") == "playing False"
        assert int(_next_line(process, "step").split()[1]) == start + 1
    finally:
        process.kill()
        process.communicate(timeout=10)
