"""A form's media: which file names are valid, what their bytes must be, and the recordings
the wizard plays for a question (the `QuestionAudio` seam).

Qt-free and file-system-free: the deployment pack (exchange/pack.py) carries the bytes and
the laptop hands them here by name. Media is form material, never child data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fieldscreen.errors import SourceProblem
from fieldscreen.forms.schema import Audience, Choice, Form, Item, ItemType
from fieldscreen.i18n import _

# A media name is one plain file name: no folder, no "..", no NUL, nothing a file system
# or a spreadsheet reads differently. It is a key in the pack, never a path on a laptop.
MEDIA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Recordings a pack stores as they are (Ogg Vorbis or Opus) and those the coordinator
# encodes to Ogg Vorbis when writing the pack (through soundfile).
OGG_EXTENSIONS = frozenset({".ogg", ".oga", ".opus"})
ENCODED_AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3"})
AUDIO_EXTENSIONS = OGG_EXTENSIONS | ENCODED_AUDIO_EXTENSIONS
# No SVG: it can carry scripts and external references, and a sanitiser is one more parser
# of hostile input on every laptop (docs/decisions.md 63).
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg"})

AUDIO = "audio/ogg"
PNG = "image/png"
JPEG = "image/jpeg"
MEDIA_TYPES = frozenset({AUDIO, PNG, JPEG})

# Per file and per pack (docs/batch-format.md "Media"): a spoken question is seconds long,
# about 10 KB a second at most in Ogg Vorbis; a picture for a question is a small PNG.
MAX_AUDIO_BYTES = 1024 * 1024
MAX_IMAGE_BYTES = 512 * 1024
MAX_MEDIA_BYTES = 40 * 1024 * 1024
MAX_MEDIA_FILES = 10_000

# Recordings the coordinator generated (espeak-ng) are stored under names no form can use
# (a form's names have no '/'): speech/<form>/<language>/q/<item> for a question and
# speech/<form>/<language>/a/<list>/<choice> for an answer.
GENERATED_PREFIX = "speech/"

# The wizard's answer card numbers (ui/field/answer_cards.py ANSWER_NUMBERS): the same
# answer has the same place on every question, so answers are read in that order.
_ANSWER_NUMBERS = {"yes": 1, "no": 2, "not_sure": 3, "rather_not_say": 4}


class QuestionAudio(Protocol):
    """What the wizard asks for when the worker presses Listen."""

    def clips(self, item_name: str, language: str) -> Sequence[bytes]:
        """Ogg Vorbis clips in playing order: the question first, then each answer the child
        sees (in display order); empty when nothing is recorded for that language."""
        ...


def media_kind(name: str) -> str | None:
    """"audio" or "image" by the name's extension; None for any other file."""
    suffix = Path(name).suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    return None


def name_problem(name: object, kind: str) -> str | None:
    """Why `name` cannot name a media file of `kind` ("audio" or "image"), or None."""
    if not isinstance(name, str) or not MEDIA_NAME.match(name):
        return _("{name!r} is not a media file name: use one plain file name (letters, digits, "
                 "'.', '-' or '_', no folder), such as q1_ar.ogg").format(
            name=str(name)[:60].replace("\x00", "\\0"))
    if media_kind(name) != kind:
        allowed = sorted(AUDIO_EXTENSIONS if kind == "audio" else IMAGE_EXTENSIONS)
        return _("'{name}' is not {kind}: its name must end in {extensions}").format(
            name=name, kind=_("a recording") if kind == "audio" else _("a picture"),
            extensions=", ".join(allowed))
    return None


def sniff(data: bytes) -> str | None:
    """The media type the bytes really are (AUDIO, PNG or JPEG), or None.

    Ogg must carry Vorbis or Opus in its first page: an Ogg video or an HTML page renamed
    .ogg is not a recording.
    """
    if data.startswith(b"OggS") and len(data) >= 36:
        # The first page's header is 27 bytes plus one lacing byte per segment; the first
        # packet (the codec's identification header) follows.
        segments = data[26]
        packet = data[27 + segments:27 + segments + 8]
        if packet.startswith(b"\x01vorbis") or packet.startswith(b"OpusHead"):
            return AUDIO
        return None
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    return None


def limit_for(media_type: str) -> int:
    return MAX_AUDIO_BYTES if media_type == AUDIO else MAX_IMAGE_BYTES


def generated_question_name(form_id: str, language: str, item_name: str) -> str:
    return f"{GENERATED_PREFIX}{form_id}/{language}/q/{item_name}"


def generated_answer_name(form_id: str, language: str, list_name: str, choice_name: str) -> str:
    return f"{GENERATED_PREFIX}{form_id}/{language}/a/{list_name}/{choice_name}"


def is_generated_name(name: str) -> bool:
    return name.startswith(GENERATED_PREFIX)


def read_aloud_items(form: Form) -> Iterator[Item]:
    """The items the wizard puts to the child (an item without an audience is the child's),
    in document order: what gets a generated reading when no one recorded it."""
    for item in form.items:
        if item.audience is Audience.WORKER or item.is_computed or item.type in (
                ItemType.GROUP, ItemType.CALCULATE):
            continue
        yield item


def answer_order(choices: Sequence[Choice]) -> list[Choice]:
    """The choices in the wizard's display order (by answer card number)."""
    fixed = {c.name: _ANSWER_NUMBERS[c.name] for c in choices if c.name in _ANSWER_NUMBERS}
    taken = set(fixed.values())
    free = (n for n in range(1, len(choices) + len(_ANSWER_NUMBERS) + 1) if n not in taken)
    numbered = [(fixed[c.name] if c.name in fixed else next(free), c) for c in choices]
    return [choice for _number, choice in sorted(numbered, key=lambda pair: pair[0])]


def referenced_names(form: Form) -> dict[str, str]:
    """Every media file the form names, with its kind ("audio" or "image")."""
    found: dict[str, str] = {}
    for item in form.items:
        found.update(dict.fromkeys(item.media.audio.values(), "audio"))
        if item.media.image:
            found[item.media.image] = "image"
    for choice_list in form.choice_lists.values():
        for choice in choice_list.choices:
            found.update(dict.fromkeys(choice.media.audio.values(), "audio"))
            if choice.media.image:
                found[choice.media.image] = "image"
    return found


def media_folder(form_path: Path) -> Path:
    """Where a form file's media lives: `<form>-media/` beside it, as ODK names it."""
    return form_path.with_name(f"{form_path.stem}-media")


def missing_media(form: Form, form_path: Path) -> list[SourceProblem]:
    """`forms check`: a problem for every media name the form uses that is not a file in its
    media folder."""
    folder = media_folder(form_path)
    problems = []
    for name in sorted(referenced_names(form)):
        if not (folder / name).is_file():
            problems.append(SourceProblem(str(form_path), _media_line(form, name), _(
                "media file '{name}' is not in {folder}; put it there or remove the "
                "name").format(name=name, folder=folder)))
    return problems


def _media_line(form: Form, name: str) -> int:
    for item in form.items:
        if name in item.media.names():
            return item.line
    return 0


@dataclass(frozen=True)
class FormAudio:
    """`QuestionAudio` over the media files a pack carries: a recorded voice when the form
    names one for the language, else the coordinator's generated reading, else nothing.

    The answers are every choice of the item's list in answer-card order; a choice filter
    depends on the answers given so far, which this seam does not see, so a filtered list is
    read whole (the shipped checklist filters none of the child's questions).

    Attributes:
        form: the form the wizard shows (its choices and media names).
        files: media bytes by name, recorded and generated (already checked by the pack).
    """

    form: Form
    files: Mapping[str, bytes]

    def clips(self, item_name: str, language: str) -> Sequence[bytes]:
        if item_name not in self.form:
            return ()
        item = self.form.item(item_name)
        question = self._clip(item.media.audio.get(language),
                              generated_question_name(self.form.id, language, item.name))
        if question is None:
            return ()
        clips = [question]
        if item.choice_list is not None:
            for choice in answer_order(item.choice_list.choices):
                answer = self._clip(choice.media.audio.get(language), generated_answer_name(
                    self.form.id, language, item.choice_list.name, choice.name))
                if answer is not None:
                    clips.append(answer)
        return tuple(clips)

    def _clip(self, recorded: str | None, generated: str) -> bytes | None:
        # A human voice, when a deployment recorded one, takes precedence.
        if recorded is not None and recorded in self.files:
            return self.files[recorded]
        return self.files.get(generated)
