"""Generated readings: the coordinator speaks a form's child questions and answers with
espeak-ng when it writes a pack, so field laptops need no speech engine.

Only form text reaches espeak-ng (labels of items and choices, as the form file and the
form catalogs hold them), never an answer or anything about a child: this module takes a
`Form` and nothing else. The WAV espeak-ng writes on stdout is encoded to Ogg Vorbis with
soundfile (libsndfile, bundled in its wheels) in memory; no file is written.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fieldscreen.errors import UserError
from fieldscreen.forms.media import (
    MAX_AUDIO_BYTES,
    answer_order,
    generated_answer_name,
    generated_question_name,
    read_aloud_items,
)
from fieldscreen.forms.schema import Form
from fieldscreen.i18n import _

# One reading is a sentence or two; espeak-ng takes milliseconds. A stuck process must not
# hold the pack writer for ever.
_SPEAK_SECONDS = 30
# Longer text is not a question a child hears read (a label is a sentence or two).
MAX_SPOKEN_CHARACTERS = 1000
# Ogg Vorbis quality (soundfile's compression_level, 0 best to 1 smallest): speech at
# espeak-ng's 22 050 Hz stays clear at a high level and takes about 5 KB a second.
_COMPRESSION = 0.7
_HOME_REGIONS = {"en": "en-gb", "pt": "pt-pt", "zh": "cmn"}


@dataclass(frozen=True, slots=True)
class Reading:
    """One text to speak: the pack's media name for it, the language and the words."""

    name: str
    language: str
    text: str


@dataclass
class SpeechEngine:
    """espeak-ng on this machine, with the voices it has (by language code).

    Attributes:
        executable: the espeak-ng program.
        voices: espeak-ng's voice per language it lists (e.g. "fr" and "fr-fr": "fr-fr").
        unvoiced: languages a pack asked for that have no voice here (filled as it speaks).
    """

    executable: str
    voices: Mapping[str, str]
    unvoiced: set[str] = field(default_factory=set)

    def voice_for(self, language: str) -> str | None:
        """The espeak-ng voice for a form language code ("es_419", "fr", "ar"), or None."""
        code = language.replace("_", "-").lower()
        if code in self.voices:
            return self.voices[code]
        base = code.split("-")[0]
        if base in self.voices:
            return self.voices[base]
        # A language espeak-ng has only with a region: its home region ("fr" -> "fr-fr"),
        # English as espeak-ng's own default voice speaks it, else the first listed.
        for regional in (f"{base}-{base}", _HOME_REGIONS.get(base, "")):
            if regional in self.voices:
                return self.voices[regional]
        return next((voice for listed, voice in self.voices.items()
                     if listed.startswith(base + "-")), None)

    def speak(self, text: str, voice: str) -> bytes:
        """`text` read by `voice`, as Ogg Vorbis bytes.

        Raises:
            UserError: espeak-ng failed or the reading is too long for a pack.
        """
        try:
            # The program found on PATH, a fixed argument list, the text on stdin: no shell.
            result = subprocess.run(  # noqa: S603
                [self.executable, "-v", voice, "-b", "1", "--stdout"],
                input=text[:MAX_SPOKEN_CHARACTERS].encode("utf-8"), capture_output=True,
                timeout=_SPEAK_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired):
            raise UserError(_("espeak-ng did not finish a reading."),
                            hint=_("Check that espeak-ng works (espeak-ng --version), or "
                                   "write the pack on a machine where it does.")) from None
        if result.returncode != 0 or not result.stdout:
            # stderr is not shown: it can quote the text, and the text is enough to retry.
            raise UserError(_("espeak-ng could not read a question with the voice "
                              "'{voice}'.").format(voice=voice),
                            hint=_("Check the voice with: espeak-ng --voices"))
        clip = encode_ogg_vorbis(result.stdout)
        if len(clip) > MAX_AUDIO_BYTES:
            raise UserError(_("A generated reading is larger than {size} KiB.").format(
                size=MAX_AUDIO_BYTES >> 10), hint=_("Shorten the question's label."))
        return clip

    def generate(self, readings: Iterable[Reading], *, workers: int = 4) -> dict[str, bytes]:
        """Speak every reading whose language has a voice (in parallel processes)."""
        voiced: list[tuple[Reading, str]] = []
        for reading in readings:
            voice = self.voice_for(reading.language)
            if voice is None:
                self.unvoiced.add(reading.language)
            else:
                voiced.append((reading, voice))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            clips = pool.map(lambda pair: self.speak(pair[0].text, pair[1]), voiced)
            return {reading.name: clip for (reading, _voice), clip in zip(voiced, clips,
                                                                          strict=True)}


def find_speech_engine() -> SpeechEngine | None:
    """espeak-ng with its voices, or None when it is not installed (Windows, the bundle)."""
    executable = shutil.which("espeak-ng")
    if executable is None:
        return None
    try:
        listing = subprocess.run(  # noqa: S603
            [executable, "--voices"], capture_output=True, text=True, timeout=_SPEAK_SECONDS,
            check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if listing.returncode != 0:
        return None
    return SpeechEngine(executable, parse_voices(listing.stdout))


def parse_voices(listing: str) -> dict[str, str]:
    """`espeak-ng --voices` output to {language code: voice}, the first voice of each."""
    voices: dict[str, str] = {}
    for line in listing.splitlines()[1:]:
        columns = line.split()
        if len(columns) >= 2:
            voices.setdefault(columns[1].lower(), columns[1])
    return voices


def readings(form: Form, recorded: Iterable[str]) -> Iterator[Reading]:
    """What to generate for `form`: every child item and each of its answers, in every
    language the form has text in, unless a recording for it is in `recorded`.

    `form` should carry its catalog languages (forms.translations.with_catalog_languages):
    those are the languages the field wizard offers the child.
    """
    present = set(recorded)
    answered: set[str] = set()
    for language in form.languages:
        for item in read_aloud_items(form):
            if item.media.audio.get(language) not in present and (
                    language in item.label.by_language):
                yield Reading(generated_question_name(form.id, language, item.name), language,
                              item.label.by_language[language])
            if item.choice_list is None:
                continue
            for choice in answer_order(item.choice_list.choices):
                name = generated_answer_name(form.id, language, item.choice_list.name,
                                             choice.name)
                if name in answered or choice.media.audio.get(language) in present or (
                        language not in choice.label.by_language):
                    continue
                answered.add(name)
                yield Reading(name, language, choice.label.by_language[language])


def encode_ogg_vorbis(sound: bytes) -> bytes:
    """Any sound soundfile reads (WAV, FLAC, MP3, Ogg) as Ogg Vorbis bytes.

    Raises:
        ValueError: the bytes are not a sound libsndfile reads.
    """
    import soundfile  # heavy (numpy, cffi): only the coordinator writing a pack needs it

    try:
        data, rate = soundfile.read(io.BytesIO(sound), always_2d=False)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError("not a sound") from error
    out = io.BytesIO()
    soundfile.write(out, data, rate, format="OGG", subtype="VORBIS",
                    compression_level=_COMPRESSION)
    return out.getvalue()
