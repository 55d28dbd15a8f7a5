"""Synthetic children for training: fictional names, plausible answers, reproducible by seed.

Each child is drawn from a risk profile (low, moderate, high, urgent). Answers follow one or
two coherent situations (work, debt, violence at home, ...) and are added one by one while
the referral engine checks that the decision stays in the profile's band, so a trainer can
rely on "a high-risk child" being referred. Names are obviously fictional: a first name with
the word for "example" or "sample" as surname, in each language the app ships.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.forms.schema import Audience, Form, IndicatorKind, Outcome

SHIPPED_FORM_FILE = "child-screening.yaml"
DEFAULT_NAME_LANGUAGE = "en"


class RiskProfile(StrEnum):
    """How much risk a synthetic child's answers carry, and the decision that follows."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def intended_outcome(self) -> Outcome:
        return _INTENDED[self]


_INTENDED = {
    RiskProfile.LOW: Outcome.INFORMATION,
    RiskProfile.MODERATE: Outcome.MONITOR,
    RiskProfile.HIGH: Outcome.REFERRAL,
    RiskProfile.URGENT: Outcome.URGENT,
}


@dataclass(frozen=True, slots=True)
class SyntheticChild:
    """A fictional child to screen in demo mode.

    Attributes:
        id: stable for a seed and position, e.g. "demo-7-003".
        name: an obviously fictional name in `language`.
        sex: a choice name of the form's `sex_gender` list (girl, boy, ...).
        nationality: a choice name of the form's `nationality` list (ISO code or
            "stateless" / "unknown").
        area: a choice name of the form's `area` list.
        language: the language the name is in (the requested one, or English when no
            names exist for it).
        themes: the situations the answers follow, e.g. ("labour", "debt_bondage").
        answers: item name to answer, as `ScreeningSession.answer_all` takes them.
    """

    id: str
    name: str
    age: int
    sex: str
    nationality: str
    area: str
    profile: RiskProfile
    language: str
    themes: tuple[str, ...]
    answers: Mapping[str, Any]

    @property
    def intended_outcome(self) -> Outcome:
        """The decision band the profile aims at."""
        return self.profile.intended_outcome


# -- names ----------------------------------------------------------------------------------

# The surnames say "example" / "sample" in each language, so no name can be mistaken for a
# real child's. First names are common or invented given names; they never come with a real
# surname.
_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "girl": ("Tama", "Wren", "Lumi", "Fenna", "Juno", "Bexa", "Nisa", "Orla", "Pia", "Suki"),
        "boy": ("Rilo", "Kito", "Arlo", "Pim", "Oskie", "Tobin", "Cal", "Eli", "Joss", "Nat"),
        "neutral": ("Sky", "Robin", "Ari", "Kit", "Sam", "Remy"),
        "surname": ("Example", "Sample"),
    },
    "fr": {
        "girl": ("Lilou", "Anouk", "Maëlys", "Capucine", "Nina", "Romane", "Zélie", "Inès"),
        "boy": ("Mathis", "Noé", "Timéo", "Sacha", "Lino", "Basile", "Malo", "Yanis"),
        "neutral": ("Camille", "Charlie", "Alix", "Eden"),
        "surname": ("Exemple", "Modèle"),
    },
    "es": {
        "girl": ("Lucía", "Ximena", "Renata", "Valentina", "Alba", "Noa", "Carla", "Olivia"),
        "boy": ("Mateo", "Thiago", "Iker", "Bruno", "Hugo", "Leo", "Dante", "Gael"),
        "neutral": ("Alex", "Ariel", "Cruz", "Guadalupe"),
        "surname": ("Ejemplo", "Muestra"),
    },
    "ar": {
        "girl": ("ليان", "ريم", "هالة", "نور", "سلمى", "جنى", "رهف", "تالا"),
        "boy": ("سامي", "يوسف", "آدم", "كريم", "عمر", "زيد", "باسل", "هادي"),
        "neutral": ("نور", "سلام", "وئام", "إحسان"),
        "surname": ("مثال", "نموذج"),
    },
    "uk": {
        "girl": ("Оксана", "Мирослава", "Соломія", "Зоряна", "Дарина", "Яна", "Леся", "Орися"),
        "boy": ("Тарас", "Богдан", "Остап", "Данило", "Максим", "Назар", "Ярема", "Левко"),
        "neutral": ("Женя", "Саша", "Валя", "Слава"),
        "surname": ("Приклад", "Зразок"),
    },
}

NAME_LANGUAGES: tuple[str, ...] = tuple(_NAMES)


def fictional_surnames(language: str) -> tuple[str, ...]:
    """The words used as surnames in `language` (they mean "example" or "sample")."""
    return _NAMES[_name_language(language)]["surname"]


def _name_language(language: str) -> str:
    base = language.replace("_", "-").split("-", 1)[0].lower()
    return base if base in _NAMES else DEFAULT_NAME_LANGUAGE


def _name(rng: random.Random, language: str, sex: str) -> str:
    # Draw fixed-size numbers, so the rest of the child does not depend on the language.
    first_draw, surname_draw = rng.getrandbits(32), rng.getrandbits(32)
    names = _NAMES[language]
    firsts = names.get(sex, names["neutral"])
    return f"{firsts[first_draw % len(firsts)]} {names['surname'][surname_draw % 2]}"


# -- situations -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Theme:
    risks: tuple[str, ...]
    red_flags: tuple[str, ...]
    exploitation: tuple[str, ...]


# Coherent clusters of risk answers, so a synthetic child tells one believable story.
_THEMES = {
    "labour": _Theme(
        ("d_works_long_hours", "d_money_kept", "dw_unexplained_hours", "bw_malnourished",
         "d_misses_school", "b_untreated_pain"),
        ("a_dangerous_work", "a_night_work"), ("labour",)),
    "debt_bondage": _Theme(
        ("c_family_debt", "d_work_to_pay_back", "d_money_kept", "d_works_long_hours",
         "bw_on_guard"),
        ("a_papers_kept", "a_stopped_from_leaving"), ("labour",)),
    "violence_at_home": _Theme(
        ("c_hurt_at_home", "bw_injuries", "bw_fearful_withdrawn", "b_scared_often",
         "bw_on_guard"),
        ("a_afraid_to_go_back", "aw_untreated_injury"), ()),
    "online": _Theme(
        ("d_online_adults", "d_online_pictures", "c_older_partner", "dw_unexplained_money",
         "b_scared_often"),
        ("a_threatened",), ("online",)),
    "displacement": _Theme(
        ("e_left_home_danger", "ew_no_legal_status", "e_hungry_no_food",
         "ew_no_services_reachable", "c_lives_away_from_family", "cw_no_caregiver"),
        ("a_afraid_to_go_back",), ()),
    "street_life": _Theme(
        ("e_slept_outside", "e_hungry_no_food", "b_alcohol_drugs", "bw_substance_use",
         "dw_peers_exploited", "b_untreated_pain"),
        ("aw_untreated_injury", "a_night_work"), ("begging", "criminal_activities")),
    "control": _Theme(
        ("cw_unclear_adult", "bw_on_guard", "dw_unexplained_hours", "bw_fearful_withdrawn",
         "c_lives_away_from_family"),
        ("aw_adult_answers", "aw_child_watched"), ("domestic_servitude",)),
    "caring_burden": _Theme(
        ("d_adult_responsibilities", "cw_no_caregiver", "d_misses_school", "e_hungry_no_food"),
        (), ("domestic_servitude",)),
}


@dataclass(frozen=True, slots=True)
class _ProfileSettings:
    themes: int
    # Chances of a resilience answer being "yes" / "not sure" (else "no").
    resilience: tuple[float, float]
    full_strength: float
    gap_counts: tuple[int, ...]
    unaccompanied: float
    partial_red_flag: float


_SETTINGS = {
    RiskProfile.LOW: _ProfileSettings(0, (0.85, 0.1), 0.0, (0, 0, 0, 1), 0.05, 0.0),
    RiskProfile.MODERATE: _ProfileSettings(1, (0.55, 0.2), 0.5, (0, 0, 1, 2, 4), 0.15, 0.2),
    RiskProfile.HIGH: _ProfileSettings(2, (0.3, 0.2), 0.75, (0, 1, 2, 3, 4), 0.3, 0.3),
    RiskProfile.URGENT: _ProfileSettings(2, (0.2, 0.2), 0.8, (0, 1, 2, 3), 0.35, 0.0),
}
_PROFILE_WEIGHTS = (
    (RiskProfile.LOW, 0.3), (RiskProfile.MODERATE, 0.3), (RiskProfile.HIGH, 0.25),
    (RiskProfile.URGENT, 0.15),
)
_NATIONALITIES = ("ng", "ua", "sy", "af", "er", "so", "sd", "ro", "bg", "al", "vn", "ma",
                  "fr", "es", "stateless", "unknown")
_ANSWER = {
    Audience.CHILD: {"full": "yes", "partial": "not_sure", "zero": "no",
                     "gap": "rather_not_say"},
    Audience.WORKER: {"full": "clear", "partial": "some", "zero": "not_observed",
                      "gap": "cannot_assess"},
}
# Screening is for referral, not a date calculation; a fixed day keeps children reproducible.
_DEMO_DAY = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


@functools.cache
def shipped_form() -> Form:
    """The shipped child-screening form (loaded once)."""
    # Imported here: loading a form pulls in YAML, which `import fieldscreen.demo` should not.
    from fieldscreen.forms.loader import load_form
    from fieldscreen.paths import shipped_dir

    return load_form(shipped_dir("forms") / SHIPPED_FORM_FILE)


def synthetic_children(
    seed: int,
    count: int,
    language: str,
    *,
    form: Form | None = None,
    profiles: Sequence[RiskProfile] | None = None,
) -> list[SyntheticChild]:
    """Make `count` fictional children; the same arguments always give the same children.

    Child number *i* depends only on `seed`, *i* and the profile, so a longer list starts
    with the shorter one, and the same seed in another language gives the same children with
    names in that language.

    Args:
        seed: any whole number.
        count: how many children (0 or more).
        language: the language of the names (en, fr, es, ar, uk; a region such as "fr-CA"
            is fine). Other languages get English names.
        form: the form to answer; the shipped child-screening form by default. Items the
            generator uses but the form lacks are left out.
        profiles: the risk profile of each child, repeated in turn; by default each child's
            profile is drawn (30% low, 30% moderate, 25% high, 15% urgent).

    Raises:
        ValueError: `count` is negative or `profiles` is empty.
    """
    if count < 0:
        raise ValueError("count must be 0 or more")
    if profiles is not None and not profiles:
        raise ValueError("profiles must name at least one profile")
    form = form or shipped_form()
    name_language = _name_language(language)
    children = []
    for index in range(count):
        # A string seed is hashed with SHA-512: stable across Python versions and platforms.
        rng = random.Random(f"fieldscreen-demo/{seed}/{index}")  # noqa: S311 - not a secret
        profile = RiskProfile(profiles[index % len(profiles)]) if profiles else _draw_profile(rng)
        children.append(_make_child(rng, form, f"demo-{seed}-{index + 1:03d}", profile,
                                    name_language))
    return children


def _draw_profile(rng: random.Random) -> RiskProfile:
    draw = rng.random()
    for profile, weight in _PROFILE_WEIGHTS:
        if draw < weight:
            return profile
        draw -= weight
    return RiskProfile.URGENT


def _make_child(rng: random.Random, form: Form, child_id: str, profile: RiskProfile,
                language: str) -> SyntheticChild:
    settings = _SETTINGS[profile]
    age = rng.randint(8, 17)
    sex_draw = rng.random()
    sex = ("girl" if sex_draw < 0.47 else "boy" if sex_draw < 0.94
           else "another_identity" if sex_draw < 0.98 else "rather_not_say")
    name = _name(rng, language, sex)
    nationality = rng.choice(_choices(form, "nationality", _NATIONALITIES))
    area = rng.choice(_choices(form, "area", ("unknown",)))
    unaccompanied_draw = rng.random()
    unaccompanied = ("yes" if unaccompanied_draw < settings.unaccompanied
                     else "unknown" if unaccompanied_draw > 0.97 else "no")
    source_draw = rng.random()
    age_source = ("child_said" if source_draw < 0.8
                  else "document" if source_draw < 0.9 else "worker_estimate")
    themes = tuple(rng.sample(sorted(_THEMES), settings.themes))

    session = ScreeningSession(form, clock=lambda: _DEMO_DAY)
    _answer(session, "knows_referral_options", "OK")
    _answer(session, "child_assent", "yes")
    for item, value in (("age_years", age), ("age_source", age_source), ("sex_gender", sex),
                        ("nationality", nationality), ("area", area),
                        ("unaccompanied", unaccompanied)):
        _answer(session, item, value)
    _answer_indicators(rng, session, profile, themes)
    forms = sorted({f for theme in themes for f in _THEMES[theme].exploitation})
    _answer(session, "exploitation_forms", forms or ["none_identified"])
    _answer(session, "referral_consent", _consent(rng, profile))

    recorded = session.answers
    answers = {item.name: recorded[item.name] for item in form.questions()
               if item.name in recorded}
    return SyntheticChild(
        id=child_id, name=name, age=age, sex=sex, nationality=nationality, area=area,
        profile=profile, language=language, themes=themes,
        answers=MappingProxyType(answers),
    )


def _choices(form: Form, list_name: str, preferred: tuple[str, ...]) -> tuple[str, ...]:
    choice_list = form.choice_lists.get(list_name)
    if choice_list is None:
        return preferred
    wanted = tuple(name for name in preferred if name in choice_list)
    return wanted or choice_list.names


def _answer(session: ScreeningSession, item: str, value: Any) -> None:
    if item in session.form:
        session.answer(item, value)


def _consent(rng: random.Random, profile: RiskProfile) -> str:
    draw = rng.random()
    if profile in (RiskProfile.LOW, RiskProfile.MODERATE):
        return "yes" if draw < 0.9 else "not_asked"
    return "yes" if draw < 0.8 else "no" if draw < 0.95 else "not_asked"


def _answer_indicators(rng: random.Random, session: ScreeningSession, profile: RiskProfile,
                       themes: tuple[str, ...]) -> None:
    form = session.form
    settings = _SETTINGS[profile]
    indicators = {item.name: item for item in form.indicators()}

    def value(name: str, strength: str) -> str:
        audience = indicators[name].audience or Audience.CHILD
        return _ANSWER[audience][strength]

    # Resilience first (school decides whether "misses school" is asked), everything else
    # starts at "no" / "not observed".
    yes, not_sure = settings.resilience
    for name, item in indicators.items():
        if item.indicator and item.indicator.kind is IndicatorKind.RESILIENCE:
            draw = rng.random()
            strength = "full" if draw < yes else "partial" if draw < yes + not_sure else "zero"
            session.answer(name, value(name, strength))
    for name, item in indicators.items():
        if item.indicator and item.indicator.kind is IndicatorKind.RISK and session.is_shown(
                name):
            session.answer(name, value(name, "zero"))

    themed = [n for theme in themes for n in _THEMES[theme].risks if n in indicators]
    # Only items the form still marks as red flags: a form update may retire one (issue 20
    # made "hurt while working" an ordinary risk), and the urgent profile must stay urgent.
    red_flags = [n for theme in themes for n in _THEMES[theme].red_flags
                 if n in indicators and (marker := indicators[n].indicator) is not None
                 and marker.red_flag]
    everything_else = [name for name, item in indicators.items()
                       if item.indicator and item.indicator.kind is IndicatorKind.RISK
                       and not item.indicator.red_flag and name not in themed]
    # Some questions stay open: the child would rather not say, or the worker cannot tell.
    gap_count = rng.choice(settings.gap_counts)
    open_items = rng.sample(everything_else, min(gap_count, len(everything_else)))
    for name in open_items:
        session.answer(name, value(name, "gap"))
    if red_flags and rng.random() < settings.partial_red_flag:
        # "Not sure" to a red-flag question: counts half, never urgent on its own.
        flag = rng.choice(red_flags)
        _try(session, flag, value(flag, "partial"), profile.intended_outcome)

    target = Outcome.REFERRAL if profile is RiskProfile.URGENT else profile.intended_outcome
    candidates = list(dict.fromkeys(themed))
    rng.shuffle(candidates)
    fallback = [name for name in everything_else if name not in open_items]
    rng.shuffle(fallback)
    if profile is RiskProfile.LOW:
        # At most one mild concern, and only if it keeps the child at information only.
        if candidates or fallback:
            name = (candidates or fallback)[0]
            if rng.random() < 0.5:
                _try(session, name, value(name, "partial"), target)
    else:
        for name in candidates + fallback:
            if not session.is_shown(name):
                continue
            strength = "full" if rng.random() < settings.full_strength else "partial"
            _try(session, name, value(name, strength), target)
            # Once in the band, usually stop; sometimes add a little more within it.
            if session.decision().outcome is target and rng.random() < 0.65:
                break
    if profile is RiskProfile.URGENT:
        pool = red_flags or [name for name, item in indicators.items()
                             if item.indicator and item.indicator.red_flag]
        name = rng.choice(pool)
        session.answer(name, value(name, "full"))


def _try(session: ScreeningSession, name: str, answer: str, ceiling: Outcome) -> None:
    """Give `answer` unless it would take the decision above `ceiling`."""
    before = session.value(name)
    session.answer(name, answer)
    if session.decision().outcome.rank > ceiling.rank:
        session.answer(name, before)
