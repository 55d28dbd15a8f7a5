"""espeak-ng readings: real Ogg Vorbis in Arabic and French, from form text only."""

from __future__ import annotations

import io

import pytest

from fieldscreen.exchange.speech import find_speech_engine, parse_voices, readings
from fieldscreen.forms.loader import load_form_text
from fieldscreen.forms.media import AUDIO, sniff
from tests.unit.media.forms import FORM_WITH_MEDIA


@pytest.fixture(scope="module")
def engine():
    found = find_speech_engine()
    assert found is not None, "espeak-ng is a system package of .ci/run"
    return found


@pytest.mark.parametrize(("language", "text"), [
    ("ar", "هل لديك مكان آمن للنوم؟"),
    ("fr", "As-tu un endroit sûr pour dormir ?"),
])
def test_espeak_reads_arabic_and_french_into_ogg_vorbis(engine, language, text):
    import soundfile

    voice = engine.voice_for(language)
    assert voice is not None
    clip = engine.speak(text, voice)
    assert sniff(clip) == AUDIO and clip[29:35] == b"vorbis"
    data, rate = soundfile.read(io.BytesIO(clip))
    assert len(data) / rate > 0.8  # a spoken sentence, not silence or a click


def test_voices_map_form_languages(engine):
    assert engine.voice_for("fr") == "fr-fr"
    assert engine.voice_for("es_419") == "es-419"
    assert engine.voice_for("uk") == "uk"
    assert engine.voice_for("tlh") is None
    assert parse_voices("Pty Language Age/Gender\n 5  af  --/M  Afrikaans  gmw/af\n") == {
        "af": "af"}


def test_readings_are_form_text_for_child_items_without_a_recording():
    form = load_form_text(FORM_WITH_MEDIA, "media.yaml")
    found = {reading.name: reading for reading in readings(form, {"sleeps_ar.ogg",
                                                                  "yes_ar.ogg"})}
    assert "speech/media-test/ar/q/sleeps_safe" not in found  # a human voice exists
    assert "speech/media-test/ar/a/child_scale/yes" not in found
    assert found["speech/media-test/fr/q/sleeps_safe"].text == (
        "As-tu un endroit sûr pour dormir ?")
    assert not any("worker_note" in name for name in found)
    texts = {reading.text for reading in found.values()}
    labels = {text for item in form.items for text in item.label.by_language.values()} | {
        text for choice in form.choice_lists["child_scale"].choices
        for text in choice.label.by_language.values()}
    assert texts <= labels




@pytest.mark.parametrize("with_espeak", [True, False])
def test_coordinator_pack_generates_readings_or_says_in_one_line_why_not(
        tmp_path, capsys, monkeypatch, with_espeak):
    from fieldscreen.cli import main
    from fieldscreen.exchange import speech
    from fieldscreen.exchange.pack import read_pack
    from tests.exchange_helpers import PASSPHRASE, make_world
    from tests.unit.media.helpers import form_with_media

    if not with_espeak:
        monkeypatch.setattr(speech.shutil, "which", lambda _name: None)
    form = form_with_media(tmp_path)
    world = make_world(tmp_path / "world")
    try:
        world.coordinator.lock()
        secret = tmp_path / "secret"
        secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
        output = tmp_path / "media.fspack"
        assert main(["--basedir", str(world.coordinator_base), "coordinator", "pack",
                     "--passphrase-file", str(secret), "--form", str(form),
                     "-o", str(output)]) == 0
    finally:
        world.close()
    said = [line for line in capsys.readouterr().err.splitlines() if "espeak-ng" in line]
    pack = read_pack(output.read_bytes())
    generated = [name for name in pack.media if name.startswith("speech/")]
    assert "sleeps_ar.ogg" in pack.media  # recorded voices travel either way
    if with_espeak:
        assert generated and not said
    else:
        assert not generated
        assert said == ["espeak-ng is not installed here, so the pack has no generated "
                        "readings: only the recordings the forms name."]
