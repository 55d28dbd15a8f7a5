"""The typed, immutable shape of a checklist form once it has been loaded and validated."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fieldscreen.forms.expressions import Expression



# The longest answer a person may type into a text item (the engine refuses longer ones).
MAX_TEXT_ANSWER_LENGTH = 2000


class ItemType(StrEnum):
    """Question and structure types, with XLSForm meaning."""

    SELECT_ONE = "select_one"
    SELECT_MULTIPLE = "select_multiple"
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"
    DATE = "date"
    NOTE = "note"
    CALCULATE = "calculate"
    ACKNOWLEDGE = "acknowledge"
    GROUP = "group"
    # A time of day (XLSForm's `time`), answered and stored as the text HH:MM:SS, local to
    # the worker, without a zone (docs/decisions.md, 61).
    TIME = "time"

    @property
    def takes_answer(self) -> bool:
        """Whether a person answers this item (notes, calculations and groups are not answered)."""
        return self not in (ItemType.NOTE, ItemType.CALCULATE, ItemType.GROUP)

    @property
    def has_choices(self) -> bool:
        return self in (ItemType.SELECT_ONE, ItemType.SELECT_MULTIPLE)


class Level(StrEnum):
    """Ecological levels of the indicator model (DOMAIN.md)."""

    A = "A"  # immediate safety (red flags)
    B = "B"  # individual
    C = "C"  # family and relationships
    D = "D"  # community
    E = "E"  # structural


class IndicatorKind(StrEnum):
    RISK = "risk"
    RESILIENCE = "resilience"


class Audience(StrEnum):
    """Who an item is for: asked of the child, or observed by the worker."""

    CHILD = "child"
    WORKER = "worker"


class Role(StrEnum):
    """What an item means to statistics and rules beyond its own answer."""

    AGE = "age"
    SEX = "sex"
    NATIONALITY = "nationality"
    EXPLOITATION_FORM = "exploitation_form"
    AREA = "area"
    # Not a disaggregation: the child's or caregiver's agreement to be referred (rule 7).
    REFERRAL_CONSENT = "referral_consent"


class Outcome(StrEnum):
    """Referral decisions, in rising order of urgency."""

    INFORMATION = "information"
    MONITOR = "monitor"
    REFERRAL = "referral"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _OUTCOME_ORDER.index(self)


_OUTCOME_ORDER = (Outcome.INFORMATION, Outcome.MONITOR, Outcome.REFERRAL, Outcome.URGENT)

# A time of day as a `time` answer or default is written: HH:MM or HH:MM:SS, 24-hour.
TIME_OF_DAY = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?")

# The canonical answer scales that rules and tools rely on (DOMAIN.md "Answer scales").
CHILD_SCALE = ("yes", "not_sure", "no", "rather_not_say")
OBSERVATION_SCALE = ("clear", "some", "not_observed", "cannot_assess")
SCALE_FOR_AUDIENCE = {Audience.CHILD: CHILD_SCALE, Audience.WORKER: OBSERVATION_SCALE}


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """Text in several languages, e.g. a label; falls back to the form's default language."""

    by_language: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, language: str, fallback: str | None = None) -> str:
        text = self.by_language.get(language)
        if text is None and fallback is not None:
            text = self.by_language.get(fallback)
        if text is None and self.by_language:
            text = next(iter(self.by_language.values()))
        return text or ""

    def __bool__(self) -> bool:
        return bool(self.by_language)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self.by_language)


EMPTY_TEXT = LocalizedText()


@dataclass(frozen=True, slots=True)
class MediaRefs:
    """The media files an item or a choice names (forms/media.py says which names are valid).

    `audio` is a recording per language (the file a human voice was recorded in); `image`
    is one picture, the same in every language. Names, not files: the files travel in the
    deployment pack.
    """

    audio: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    image: str | None = None

    def __bool__(self) -> bool:
        return bool(self.audio) or self.image is not None

    def names(self) -> tuple[str, ...]:
        """Every file named, audio first (in language order as written), then the image."""
        return (*self.audio.values(), *((self.image,) if self.image else ()))


NO_MEDIA = MediaRefs()


@dataclass(frozen=True, slots=True)
class Choice:
    name: str
    label: LocalizedText
    # A picture for large answer cards (a name from the UI's icon set).
    image: str | None = None
    # Extra values a choice filter can test (XLSForm's extra choices columns), as text.
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Recordings of this answer per language, and a picture file (XLSForm media::audio and
    # media::image on the choices sheet); not the icon name above.
    media: MediaRefs = NO_MEDIA


def first_of_each_name(choices: Iterable[Choice]) -> tuple[Choice, ...]:
    """The first of the choices sharing each name (a cascade's), in order: what is offered."""
    first: dict[str, Choice] = {}
    for choice in choices:
        first.setdefault(choice.name, choice)
    return tuple(first.values())


@dataclass(frozen=True, slots=True)
class ChoiceList:
    name: str
    choices: tuple[Choice, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Each choice name once, in list order. A name appears twice in `choices` only in
        a cascade (XLSForm's allow_choice_duplicates), where both read the same words and
        differ in the columns a choice filter tests (docs/decisions.md, 62)."""
        return tuple(dict.fromkeys(choice.name for choice in self.choices))

    @property
    def has_shared_names(self) -> bool:
        return len(self.names) != len(self.choices)

    def distinct(self) -> tuple[Choice, ...]:
        """The first choice of each name, in list order (what a record's name reads as)."""
        return first_of_each_name(self.choices)

    def __contains__(self, name: object) -> bool:
        return any(choice.name == name for choice in self.choices)


@dataclass(frozen=True, slots=True)
class Indicator:
    """What an answer means to scoring: level, kind, weight and the red-flag marker."""

    level: Level
    kind: IndicatorKind
    weight: float
    red_flag: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    """One node of the form, in document order: a question, note, calculation or group."""

    name: str
    type: ItemType
    line: int
    label: LocalizedText = EMPTY_TEXT
    hint: LocalizedText = EMPTY_TEXT
    parent: str | None = None
    audience: Audience | None = None
    indicator: Indicator | None = None
    role: Role | None = None
    choice_list: ChoiceList | None = None
    relevant: Expression | None = None
    constraint: Expression | None = None
    constraint_message: LocalizedText = EMPTY_TEXT
    required: bool = False
    # `required` given as an expression: the item needs an answer only while it holds.
    required_when: Expression | None = None
    # On a calculate, its value; on a question, a computed read-only answer (XLSForm's
    # `calculation` on a question), which the person sees but cannot change.
    calculation: Expression | None = None
    # On a select: which choices are offered now, tested for each choice with its columns
    # (XLSForm's choice_filter, for cascading selects).
    choice_filter: Expression | None = None
    # An answer shown pre-filled when the question is first on screen (never saved unseen);
    # only on questions that are neither the child's nor scored (docs/decisions.md).
    default: str | int | float | None = None
    # For groups: the names of the direct children, in order.
    children: tuple[str, ...] = ()
    # A picture of what the question is about, by its name in fieldscreen/forms/pictograms.py
    # (`house`, `school`): shown beside a question to the child, for children who read poorly.
    pictogram: str | None = None
    # Recordings of the question per language and a picture file (XLSForm media::audio,
    # media::image); when a language has none, the pack carries a generated reading.
    media: MediaRefs = NO_MEDIA
    # The XLSForm type the item came from when it is not the native type's own: a select
    # whose choices were on the external_choices sheet (`select_one_external`), a calculate
    # that was a `hidden` value. Only export reads it, to write the workbook back as it was.
    xlsform_type: str | None = None
    # XLSForm's `readonly`: the question shows the value the form gives it (its calculation,
    # its default, or nothing) and no one can change it (docs/decisions.md, 73).
    read_only: bool = False

    @property
    def is_computed(self) -> bool:
        """A question whose answer the form gives (read-only), not the person."""
        return (self.calculation is not None or self.read_only) and self.type.takes_answer

    @property
    def may_be_required(self) -> bool:
        """Whether the item is required always or under a condition."""
        return self.required or self.required_when is not None


@dataclass(frozen=True, slots=True)
class Thresholds:
    refer: float
    monitor: float


@dataclass(frozen=True, slots=True)
class ReferralRules:
    """The deterministic referral scheme's parameters, declared in and versioned with the form.

    See DOMAIN.md "Default referral rule scheme" for what each one does.
    """

    version: str
    thresholds: Thresholds
    lowered_thresholds: Thresholds
    # When this holds, `lowered_thresholds` apply (under-12s, unaccompanied children).
    lowered_when: Expression | None
    # A level counts as elevated when its weighted risk reaches this.
    elevated_level_score: float
    elevated_levels_for_referral: int
    # Resilience offsets at most this fraction of risk (0.5: it can halve risk, never cancel it).
    resilience_cap: float
    gaps_for_follow_up: int
    # Score of each canonical answer; None marks an information gap.
    answer_scores: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class Form:
    """A loaded, validated checklist form."""

    id: str
    version: str
    title: LocalizedText
    default_language: str
    languages: tuple[str, ...]
    items: tuple[Item, ...]
    choice_lists: Mapping[str, ChoiceList]
    rules: ReferralRules
    source: Path | None = None
    _by_name: Mapping[str, Item] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_by_name", MappingProxyType({item.name: item for item in self.items})
        )

    def item(self, name: str) -> Item:
        """The item called `name`; KeyError when there is none."""
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def questions(self) -> Iterator[Item]:
        """Items a person answers, in document order."""
        return (item for item in self.items if item.type.takes_answer)

    def indicators(self) -> Iterator[Item]:
        """Items that count towards scoring, in document order."""
        return (item for item in self.items if item.indicator is not None)

    def ancestors(self, name: str) -> Iterator[Item]:
        """The groups enclosing `name`, innermost first."""
        parent = self._by_name[name].parent
        while parent is not None:
            group = self._by_name[parent]
            yield group
            parent = group.parent

    def item_with_role(self, role: Role) -> Item | None:
        return next((item for item in self.items if item.role is role), None)
