"""A pack carries the forms' media, signed: it round-trips, and anything altered, oversized,
of another type or under a path-like name is refused with a reason."""

from __future__ import annotations

import hashlib
import json

import pytest

from fieldscreen.errors import UserError
from fieldscreen.exchange import pack as pack_module
from fieldscreen.exchange.pack import PackRefused, read_pack
from fieldscreen.exchange.speech import find_speech_engine
from fieldscreen.forms.media import AUDIO, generated_question_name, sniff
from fieldscreen.store.crypto import SigningKey, b64, unb64
from tests.unit.media.helpers import (
    PNG_BYTES,
    form_with_media,
    ogg_tone,
    resigned,
    write_pack,
)


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def pack_raw(tmp_path, key) -> bytes:
    return write_pack(key, form_with_media(tmp_path))


def _refused(raw: bytes, *words: str) -> str:
    with pytest.raises(PackRefused) as refusal:
        read_pack(raw)
    message = refusal.value.message
    for word in words:
        assert word in message
    return message


def test_a_pack_with_media_round_trips_and_verifies(tmp_path, key, pack_raw):
    assert json.loads(pack_raw)["format"] == "fieldscreen-pack/5"
    pack = read_pack(pack_raw, pinned=key.public)
    folder = tmp_path / "media-test-media"
    for name in ("sleeps_ar.ogg", "yes_ar.ogg", "house.png", "no.png"):
        assert pack.media[name] == (folder / name).read_bytes()
    assert pack.form().item("sleeps_safe").media.image == "house.png"


def test_generated_readings_travel_in_the_pack(tmp_path, key):
    engine = find_speech_engine()
    assert engine is not None, "espeak-ng is a system package of .ci/run"
    pack = read_pack(write_pack(key, form_with_media(tmp_path), speech=engine))
    # French has no recording: its question is generated; Arabic's is the recorded voice.
    generated = pack.media[generated_question_name("media-test", "fr", "sleeps_safe")]
    assert sniff(generated) == AUDIO
    assert generated_question_name("media-test", "ar", "sleeps_safe") not in pack.media
    # The worker's own question is never read to the child.
    assert generated_question_name("media-test", "fr", "worker_note") not in pack.media
    audio = pack.question_audio()
    assert audio.clips("sleeps_safe", "ar")[0] == pack.media["sleeps_ar.ogg"]
    assert len(audio.clips("sleeps_safe", "fr")) == 5  # the question and its four answers


def test_a_tampered_media_file_is_refused(pack_raw):
    outer = json.loads(pack_raw)
    data = bytearray(unb64(outer["media"]["sleeps_ar.ogg"]))
    data[-10] ^= 0x01
    outer["media"]["sleeps_ar.ogg"] = b64(bytes(data))
    _refused(json.dumps(outer).encode(), "sleeps_ar.ogg", "altered")


def test_a_media_file_added_outside_the_signature_is_refused(pack_raw):
    outer = json.loads(pack_raw)
    outer["media"]["extra.ogg"] = outer["media"]["yes_ar.ogg"]
    _refused(json.dumps(outer).encode(), "signature does not cover")


def _declare(name: str, data: bytes, kind: str):
    def change(content, media):
        content["media"].append({"name": name, "type": kind, "bytes": len(data),
                                 "sha256": hashlib.sha256(data).hexdigest()})
        media[name] = b64(data)
    return change


@pytest.mark.parametrize(("name", "data", "kind", "words"), [
    ("picture.ogg", PNG_BYTES, AUDIO, ("picture.ogg", "not the audio/ogg")),
    ("page.ogg", b"<html><script>alert(1)</script></html>", AUDIO,
     ("page.ogg", "not the audio/ogg")),
    ("sound.png", ogg_tone(), "image/png", ("sound.png", "not the image/png")),
    ("picture.ogg", PNG_BYTES, "image/png", ("picture.ogg", "another type")),
    ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml", ()),
])
def test_a_file_that_is_not_its_declared_type_is_refused(key, pack_raw, name, data, kind, words):
    _refused(resigned(pack_raw, key, _declare(name, data, kind)), *words)


@pytest.mark.parametrize("name", ["../x.ogg", "/etc/x.ogg", "a\x00.ogg", "sub/x.ogg",
                                  "speech/../../x"])
def test_a_path_like_media_name_is_refused(key, pack_raw, name):
    message = _refused(resigned(pack_raw, key, _declare(name, ogg_tone(), AUDIO)),
                       "name that is not allowed")
    assert "\x00" not in message


def test_an_oversized_media_file_is_refused(key, pack_raw, monkeypatch):
    big = ogg_tone(seconds=8)
    monkeypatch.setattr(pack_module, "limit_for", lambda _kind: len(big) - 1)
    _refused(resigned(pack_raw, key, _declare("long.ogg", big, AUDIO)), "long.ogg",
             "larger than")


def test_the_pack_writer_refuses_wrong_or_missing_files(tmp_path, key):
    files = {"sleeps_ar.ogg": b"<html>not a recording</html>", "yes_ar.ogg": ogg_tone(),
             "house.png": PNG_BYTES, "no.png": PNG_BYTES}
    with pytest.raises(UserError, match=r"sleeps_ar\.ogg"):
        write_pack(key, form_with_media(tmp_path, files))
    files["sleeps_ar.ogg"] = ogg_tone()
    files["house.png"] = b"\xff\xd8\xff\xe0 a jpeg named .png"
    with pytest.raises(UserError, match=r"house\.png.*not the PNG"):
        write_pack(key, form_with_media(tmp_path, files))
    (tmp_path / "media-test-media" / "house.png").unlink()
    with pytest.raises(UserError, match=r"names the media file 'house\.png'"):
        write_pack(key, form_with_media(tmp_path, {}))


def test_a_wav_recording_is_stored_as_ogg_vorbis(tmp_path, key):
    import io

    import numpy
    import soundfile

    wav = io.BytesIO()
    soundfile.write(wav, numpy.zeros(4410), 22050, format="WAV")
    path = form_with_media(tmp_path)
    text = path.read_text(encoding="utf-8").replace("sleeps_ar.ogg", "sleeps_ar.wav")
    path.write_text(text, encoding="utf-8")
    (tmp_path / "media-test-media" / "sleeps_ar.wav").write_bytes(wav.getvalue())
    pack = read_pack(write_pack(key, path))
    assert sniff(pack.media["sleeps_ar.wav"]) == AUDIO


def test_a_previous_format_pack_still_reads(key, pack_raw):
    def strip(content, media):
        content.pop("media")
        media.clear()
    legacy = json.loads(resigned(pack_raw, key, strip))
    legacy["format"] = "fieldscreen-pack/3"
    legacy.pop("media")
    pack = read_pack(json.dumps(legacy).encode())
    assert not pack.media
    assert pack.question_audio().clips("sleeps_safe", "ar") == ()


def test_a_media_pack_of_one_coordinator_still_reads(key, pack_raw):
    # Format 4 carried media before packs listed their coordinators (format 5).
    def strip(content, media):
        content.pop("coordinators")
    legacy = json.loads(resigned(pack_raw, key, strip))
    legacy["format"] = "fieldscreen-pack/4"
    pack = read_pack(json.dumps(legacy).encode())
    assert pack.media and len(pack.coordinators) == 1
    assert pack.coordinators[0].signing_key.raw == pack.signing_key.raw
    assert pack.question_audio().clips("sleeps_safe", "ar")


def test_two_forms_naming_different_files_by_one_name_are_refused(tmp_path, key):
    from fieldscreen.exchange.pack import build_pack
    from fieldscreen.store.crypto import AgeIdentity
    from tests.unit.media.helpers import NOW

    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = form_with_media(tmp_path / "one")
    same = {name: (tmp_path / "one" / "media-test-media" / name).read_bytes()
            for name in ("sleeps_ar.ogg", "yes_ar.ogg", "house.png", "no.png")}
    second = form_with_media(tmp_path / "two", {**same, "sleeps_ar.ogg": ogg_tone(0.9)})
    with pytest.raises(UserError, match="different file by the same name"):
        build_pack(signing_key=key, recipient=AgeIdentity.generate().recipient,
                   coordinator_name="C", form_paths=[first, second], services_path=None,
                   sync=None, retention_days=30, demo=False, now=NOW)


def test_a_field_laptop_plays_the_installed_packs_recordings(tmp_path, shipped_form):
    from fieldscreen.exchange.pack import build_pack, install_pack
    from fieldscreen.workflows.screening import load_checklist
    from tests.exchange_helpers import make_world
    from tests.unit.media.helpers import NOW

    def installed_question_audio(profile):
        # What the field window hands the wizard at unlock.
        return load_checklist(profile, (shipped_form, None))[2]

    world = make_world(tmp_path / "world")
    try:
        # The world's pack has no media: no Listen button at all.
        assert installed_question_audio(world.field) is None
        form = form_with_media(tmp_path)
        raw = build_pack(signing_key=world.coordinator.coordinator_signing_key(),
                         recipient=world.coordinator.coordinator_identity().recipient,
                         coordinator_name="Coordinator", form_paths=[form],
                         services_path=None, sync=None, retention_days=30, demo=False,
                         now=NOW, sequence=world.pack.sequence + 1)
        install_pack(world.field, raw)
        audio = installed_question_audio(world.field)
        assert audio is not None
        clips = audio.clips("sleeps_safe", "ar")
        folder = tmp_path / "media-test-media"
        # The recorded question, then the recorded "yes"; no generated readings in this pack.
        assert list(clips) == [(folder / "sleeps_ar.ogg").read_bytes(),
                               (folder / "yes_ar.ogg").read_bytes()]
    finally:
        world.close()


def test_more_media_than_a_pack_carries_is_refused(pack_raw, monkeypatch):
    monkeypatch.setattr(pack_module, "MAX_MEDIA_BYTES", 1000)
    _refused(pack_raw, "its media is larger than")


def test_forms_and_settings_over_their_own_limit_are_refused_before_parsing(pack_raw):
    outer = json.loads(pack_raw)
    outer["content"] = "A" * (pack_module.MAX_CONTENT_BYTES + 4)
    _refused(json.dumps(outer).encode(), "its forms and settings are larger than 8 MiB")
