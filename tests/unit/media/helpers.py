"""Writing test packs with media: a form, its media folder and a coordinator key."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fieldscreen.exchange.pack import build_pack
from fieldscreen.exchange.speech import SpeechEngine
from fieldscreen.store.crypto import AgeIdentity, SigningKey, b64, canonical_json, unb64
from tests.unit.media.forms import FORM_WITH_MEDIA

NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.UTC)
# The smallest real PNG: one transparent pixel.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def ogg_tone(seconds: float = 0.5) -> bytes:
    """A real Ogg Vorbis recording (a quiet tone) made with soundfile."""
    import numpy
    import soundfile

    rate = 22050
    samples = numpy.sin(numpy.arange(int(rate * seconds)) * 0.05) * 0.2
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="OGG", subtype="VORBIS")
    return out.getvalue()


def form_with_media(folder: Path, files: dict[str, bytes] | None = None) -> Path:
    """The test form and its `-media` folder holding `files` (default: every named file)."""
    path = folder / "media-test.yaml"
    path.write_text(FORM_WITH_MEDIA, encoding="utf-8")
    media = folder / "media-test-media"
    media.mkdir(exist_ok=True)
    if files is None:
        files = {"sleeps_ar.ogg": ogg_tone(), "yes_ar.ogg": ogg_tone(0.3),
                 "house.png": PNG_BYTES, "no.png": PNG_BYTES}
    for name, data in files.items():
        (media / name).write_bytes(data)
    return path


def write_pack(key: SigningKey, form: Path, speech: SpeechEngine | None = None) -> bytes:
    return build_pack(signing_key=key, recipient=AgeIdentity.generate().recipient,
                      coordinator_name="Coordinator", form_paths=[form], services_path=None,
                      sync=None, retention_days=30, demo=False, now=NOW, speech=speech)


def resigned(raw: bytes, key: SigningKey, change: Callable[[dict[str, Any], dict[str, Any]],
                                                          None]) -> bytes:
    """The pack with its content and media changed by `change`, signed again by `key`: what
    a coordinator's own writer could produce, so only the media checks can refuse it."""
    outer = json.loads(raw)
    content = json.loads(unb64(outer["content"]))
    change(content, outer["media"])
    signed = canonical_json(content)
    outer["content"] = b64(signed)
    outer["signature"] = b64(key.sign("deployment-pack", signed))
    return json.dumps(outer).encode()
