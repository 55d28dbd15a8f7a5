"""The read-aloud playlist without Qt: what plays, in which order, and when it stops."""

from __future__ import annotations

from fieldscreen.workflows.read_aloud import Availability, Playlist, offer


class _Source:
    def __init__(self, recorded):
        self.recorded = recorded
        self.asked = []

    def clips(self, item_name, language):
        self.asked.append((item_name, language))
        return self.recorded.get((item_name, language), ())


def test_the_question_plays_first_then_each_answer_then_it_stops():
    playlist = Playlist()
    assert playlist.press("q", [b"question", b"yes", b"no"]) == b"question"
    assert playlist.playing and playlist.position == 0 and playlist.item_name == "q"
    assert playlist.clip_ended() == b"yes"
    assert playlist.clip_ended() == b"no"
    assert playlist.position == 2
    assert playlist.clip_ended() is None
    assert not playlist.playing and playlist.item_name is None
    assert playlist.clip_ended() is None, "a late end report after the stop is ignored"


def test_pressing_again_stops_and_a_third_press_starts_over():
    playlist = Playlist()
    playlist.press("q", [b"a", b"b"])
    playlist.clip_ended()
    assert playlist.press("q", [b"a", b"b"]) is None
    assert not playlist.playing
    assert playlist.press("q", [b"a", b"b"]) == b"a"
    assert playlist.position == 0


def test_another_question_on_the_same_page_starts_from_its_own_question():
    playlist = Playlist()
    playlist.press("first", [b"1", b"2"])
    assert playlist.press("second", [b"3"]) == b"3"
    assert playlist.item_name == "second"


def test_stop_says_whether_something_was_playing_and_empty_clips_play_nothing():
    playlist = Playlist()
    assert playlist.stop() is False
    assert playlist.press("q", [b"", b""]) is None
    assert not playlist.playing
    playlist.press("q", [b"", b"x"])
    assert playlist.stop() is True


def test_the_offer_says_why_nothing_can_play():
    source = _Source({("q", "ar"): (b"clip",), ("empty", "ar"): (b"",)})
    assert offer(None, "q", "ar").availability is Availability.NO_AUDIO
    assert offer(source, "q", "uk").availability is Availability.NOT_RECORDED
    assert offer(source, "empty", "ar").availability is Availability.NOT_RECORDED
    assert offer(source, "q", "ar", can_play=False).availability is Availability.NO_PLAYER
    ready = offer(source, "q", "ar")
    assert ready.availability is Availability.READY and ready.clips == (b"clip",)
    assert ("q", "uk") in source.asked

