"""Reading a question to the child: which recordings play, in which order, and when it stops.

The wizard's Listen button plays the question, then each answer the child sees, in the
child's language. This module holds that logic without Qt, so it is tested without a sound
card: the field window's player (fieldscreen/ui/field/read_aloud.py) only turns each clip
into sound and reports when it ended.

Decisions (docs/decisions.md): pressing Listen again while it plays stops it (a child who
wants to hear it again presses once more; one key that both starts and stops is easier to
learn than two); moving on in any way (Next, Back, an answer, leaving the wizard) stops it;
a question with no recording in the child's language offers no playback and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

# One seam for the recordings, defined beside the media that fill it; re-exported here for
# the wizard, which asks only this module.
from fieldscreen.forms.media import QuestionAudio

__all__ = ["Availability", "Offer", "Playlist", "QuestionAudio", "offer"]


class Availability(Enum):
    """Whether Listen can play a question, and if not, why (the button says so)."""

    READY = "ready"
    # The deployment carries no recordings at all: the button is not shown.
    NO_AUDIO = "no-audio"
    # Recordings exist, but not of this question in the child's language.
    NOT_RECORDED = "not-recorded"
    # This laptop cannot play sound (Qt's multimedia could not start).
    NO_PLAYER = "no-player"


@dataclass(frozen=True, slots=True)
class Offer:
    """What Listen offers for one question: the clips, or the reason there are none."""

    availability: Availability
    clips: tuple[bytes, ...] = ()


def offer(source: QuestionAudio | None, item_name: str, language: str, *,
          can_play: bool = True) -> Offer:
    """What the Listen button of `item_name` can do in `language`."""
    if source is None:
        return Offer(Availability.NO_AUDIO)
    clips = tuple(clip for clip in source.clips(item_name, language) if clip)
    if not clips:
        return Offer(Availability.NOT_RECORDED)
    if not can_play:
        return Offer(Availability.NO_PLAYER)
    return Offer(Availability.READY, clips)


class Playlist:
    """The clips of one question, played one after the other, and where playback is.

    `press` is the Listen button (start, or stop when already playing); `clip_ended` is the
    player's report that a clip reached its end and returns the next one; `stop` is any
    move away from the question.
    """

    def __init__(self) -> None:
        self._clips: tuple[bytes, ...] = ()
        self._position: int | None = None
        self.item_name: str | None = None

    @property
    def playing(self) -> bool:
        return self._position is not None

    @property
    def position(self) -> int | None:
        """The index of the clip playing now (0 is the question), None when stopped."""
        return self._position

    def press(self, item_name: str, clips: Sequence[bytes]) -> bytes | None:
        """Listen pressed on `item_name`: the clip to play first, or None when this press
        stopped the playback (or there is nothing to play)."""
        if self.playing and self.item_name == item_name:
            self.stop()
            return None
        return self.start(item_name, clips)

    def start(self, item_name: str, clips: Sequence[bytes]) -> bytes | None:
        """Play `clips` of `item_name` from the question on; whatever played stops."""
        self._clips = tuple(clip for clip in clips if clip)
        self.item_name = item_name
        self._position = 0 if self._clips else None
        return self._clips[0] if self._clips else None

    def clip_ended(self) -> bytes | None:
        """The clip playing now ended: the next one, or None when the question is done."""
        if self._position is None:
            return None
        self._position += 1
        if self._position >= len(self._clips):
            self.stop()
            return None
        return self._clips[self._position]

    def stop(self) -> bool:
        """Stop; True when something was playing."""
        was_playing = self.playing
        self._position = None
        self._clips = ()
        self.item_name = None
        return was_playing
