"""The Listen button's sound: plays a question's recordings one after the other (QtMultimedia).

Which clips play and when playback stops is decided in fieldscreen/workflows/read_aloud.py;
this module only turns each clip into sound and reports its end. Clips play from memory
(a QBuffer handed to QMediaPlayer): nothing is written to disk, so no file is left behind.
The clips are the form's words, never a child's data, but a temp folder is still no place
for a deployment's files.

Importing this module loads QtMultimedia, which needs the system's PulseAudio client
library (fieldscreen/system_libraries.py); the wizard imports it only when a form has
recordings, and offers no Listen button when it cannot be loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QTimer, QUrl, Signal
from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

from fieldscreen.i18n import _
from fieldscreen.workflows.read_aloud import Playlist

# The name QMediaPlayer sees for a clip in memory: its extension tells FFmpeg the format.
_CLIP_URL = QUrl("question.ogg")


class ReadAloudPlayer(QObject):
    """Plays the clips of one question in order.

    Signals:
        playing_changed(bool): playback started or stopped (the button's text follows it).
        clip_finished(int): the clip at this position reached its end (0 is the question).
        failed(str): a clip could not be played; the message is for the worker.
    """

    playing_changed = Signal(bool)
    clip_finished = Signal(int)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.playlist = Playlist()
        self._player = QMediaPlayer(self)
        self._output = QAudioOutput(self)
        self._player.setAudioOutput(self._output)
        self._buffer: QBuffer | None = None
        self._player.mediaStatusChanged.connect(self._status_changed)
        self._player.errorOccurred.connect(self._error)

    @property
    def playing(self) -> bool:
        return self.playlist.playing

    @property
    def media_player(self) -> QMediaPlayer:
        return self._player

    def press(self, item_name: str, clips: Sequence[bytes]) -> None:
        """The Listen button: start `item_name`'s clips, or stop when they are playing."""
        was_playing = self.playlist.playing
        clip = self.playlist.press(item_name, clips)
        if clip is None:
            self._silence()
            if was_playing:
                self.playing_changed.emit(False)
            return
        self._play(clip)
        # Also when another question of the page was playing: its button goes back.
        self.playing_changed.emit(True)

    def stop(self) -> None:
        """Stop at once (the worker moved on); nothing happens when nothing plays."""
        if self.playlist.stop():
            self._silence()
            self.playing_changed.emit(False)

    def _play(self, clip: bytes) -> None:
        old = self._buffer
        buffer = QBuffer(self)
        buffer.setData(QByteArray(clip))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._buffer = buffer
        self._player.setSourceDevice(buffer, _CLIP_URL)
        self._player.play()
        if old is not None:
            old.deleteLater()

    def _silence(self) -> None:
        self._player.stop()
        self._player.setSource(QUrl())
        if self._buffer is not None:
            self._buffer.deleteLater()
            self._buffer = None

    def _status_changed(self, status: QMediaPlayer.MediaStatus) -> None:
        if status is QMediaPlayer.MediaStatus.EndOfMedia and self.playlist.playing:
            position = self.playlist.position
            assert position is not None
            following = self.playlist.clip_ended()
            self.clip_finished.emit(position)
            if following is None:
                self._silence()
                self.playing_changed.emit(False)
            else:
                # After this signal: QMediaPlayer must not get a new source from inside
                # its own status report.
                QTimer.singleShot(0, lambda: self._play_if_current(following))
        elif status is QMediaPlayer.MediaStatus.InvalidMedia and self.playlist.playing:
            self._fail()

    def _play_if_current(self, clip: bytes) -> None:
        if self.playlist.playing:
            self._play(clip)

    def _error(self, error: QMediaPlayer.Error, _detail: str) -> None:
        if error is not QMediaPlayer.Error.NoError and self.playlist.playing:
            self._fail()

    def _fail(self) -> None:
        # Qt's own detail names the codec and the stream; the worker needs what to do.
        self.playlist.stop()
        self._silence()
        self.playing_changed.emit(False)
        self.failed.emit(_("This recording could not be played. Read the question aloud "
                           "instead; tell your coordinator so the pack can be fixed."))
