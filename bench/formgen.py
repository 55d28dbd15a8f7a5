"""Generates realistic checklist forms of any size, as fieldscreen YAML and as an XLSForm.

The generated form is shaped like forms/child-screening.yaml: an assent item, a background
group with every role, one child group and one worker group per level A-E (each with a
`relevant` on the assent), indicator items on the canonical scales, follow-up questions
whose `relevant` depends on earlier answers (about a fifth of the items), a few
calculates (`count-selected`, `if`), constraints on integers, and a rules section. Every
text is given in every language of the form.

Both renderings come from one `FormModel`, so the YAML and the XLSForm describe the same
questions, choices, relevance, constraints and calculations.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Items outside the level groups' bodies: the consent group (4), the background group
# (9), the closing group (4) and the ten level groups with the child groups' intro notes
# (15). `build_model` checks the count it actually produced.
FIXED_ITEMS = 32
# One indicator per level group at least.
MIN_ITEMS = FIXED_ITEMS + 10

LEVELS = ("A", "B", "C", "D", "E")
CHILD_SCALE = ("yes", "not_sure", "no", "rather_not_say")
WORKER_SCALE = ("clear", "some", "not_observed", "cannot_assess")
# The XLSForm namespace that carries the indicator model as custom bind attributes,
# which is how XLSForm tools pass extra per-question metadata through pyxform.
XLSFORM_NAMESPACE = 'fs="https://fieldscreen.invalid/xforms"'

_LANGUAGE_NAMES = {"en": "English", "fr": "French", "es": "Spanish", "ar": "Arabic"}

Text = dict[str, str]

# Per level: (slug, child topic en, child topic fr, worker topic en, worker topic fr).
_TOPICS: dict[str, tuple[tuple[str, str, str, str, str], ...]] = {
    "A": (
        ("going_home", "going home when you want", "rentrer chez toi quand tu veux",
         "the child's freedom to leave", "la liberté de l'enfant de partir"),
        ("papers_kept", "your passport or ID card", "ton passeport ou ta carte d'identité",
         "the child's identity papers", "les papiers d'identité de l'enfant"),
        ("threats", "someone who threatens you", "quelqu'un qui te menace",
         "threats made to the child", "les menaces faites à l'enfant"),
        ("night_work", "working at night", "travailler la nuit",
         "work at night", "le travail de nuit"),
        ("where_staying", "the place where you stay", "l'endroit où tu restes",
         "where the child stays", "l'endroit où l'enfant reste"),
    ),
    "B": (
        ("feelings", "how you feel", "ce que tu ressens",
         "the child's mood", "l'humeur de l'enfant"),
        ("sleep", "sleeping well", "bien dormir",
         "signs of tiredness", "les signes de fatigue"),
        ("health", "your health", "ta santé",
         "the child's health", "la santé de l'enfant"),
        ("strengths", "things you are good at", "ce que tu sais bien faire",
         "the child's confidence", "la confiance de l'enfant"),
    ),
    "C": (
        ("family", "your family", "ta famille",
         "the child's family", "la famille de l'enfant"),
        ("adults_home", "the adults you live with", "les adultes avec qui tu vis",
         "the adult with the child", "l'adulte qui accompagne l'enfant"),
        ("family_debt", "money your family owes", "l'argent que ta famille doit",
         "family debts", "les dettes de la famille"),
        ("caregiver", "someone who looks after you", "quelqu'un qui s'occupe de toi",
         "the caregiver's care", "l'attention de la personne qui s'occupe de l'enfant"),
    ),
    "D": (
        ("school", "school", "l'école",
         "school attendance", "la fréquentation scolaire"),
        ("work", "your work", "ton travail",
         "the child's work", "le travail de l'enfant"),
        ("friends", "your friends", "tes amis",
         "the child's friends", "les amis de l'enfant"),
        ("online", "people you meet online", "les personnes rencontrées en ligne",
         "online contacts", "les contacts en ligne"),
        ("earnings", "the money you earn", "l'argent que tu gagnes",
         "unexplained money or goods", "l'argent ou les biens inexpliqués"),
    ),
    "E": (
        ("food", "food at home", "la nourriture à la maison",
         "access to food", "l'accès à la nourriture"),
        ("doctor", "seeing a doctor or nurse", "voir un médecin ou une infirmière",
         "access to health care", "l'accès aux soins"),
        ("papers", "your papers", "tes papiers",
         "legal status", "le statut légal"),
        ("housing", "a safe place to live", "un endroit sûr où vivre",
         "housing", "le logement"),
    ),
}

# Question stems per (audience, kind); {t} is the topic.
_STEMS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("child", "risk"): (
        ("Is there something that worries you about {t}?",
         "Y a-t-il quelque chose qui t'inquiète à propos de {t} ?"),
        ("Has anyone made you feel unsafe about {t}?",
         "Quelqu'un t'a-t-il fait te sentir en danger à propos de {t} ?"),
        ("Do you have problems with {t}?", "As-tu des problèmes avec {t} ?"),
    ),
    ("child", "resilience"): (
        ("Is there someone who helps you with {t}?",
         "Y a-t-il quelqu'un qui t'aide pour {t} ?"),
        ("Do you feel good about {t}?", "Te sens-tu bien par rapport à {t} ?"),
    ),
    ("worker", "risk"): (
        ("Concern observed about {t}", "Inquiétude observée concernant {t}"),
        ("Others seem to control {t}", "D'autres personnes semblent contrôler {t}"),
    ),
    ("worker", "resilience"): (
        ("Support observed regarding {t}", "Soutien observé concernant {t}"),
        ("A protective adult helps with {t}", "Un adulte protecteur aide pour {t}"),
    ),
}

_HINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "child": (
        ("Ask gently and accept any answer, including \"I'd rather not say\".",
         "Demande avec douceur et accepte toute réponse, même « Je préfère ne pas le dire »."),
        ("Give an example if the child does not understand the question.",
         "Donne un exemple si l'enfant ne comprend pas la question."),
    ),
    "worker": (
        ("Your own observation; do not read it out to the child.",
         "Votre propre observation ; ne la lisez pas à l'enfant."),
        ("Think of what you saw and heard during the whole conversation.",
         "Pensez à ce que vous avez vu et entendu pendant toute la conversation."),
    ),
}

_GROUP_TITLES = {
    "A": ("Being safe", "Être en sécurité", "immediate safety", "sécurité immédiate"),
    "B": ("How you are", "Comment tu vas", "the child", "l'enfant"),
    "C": ("Family", "La famille", "family and relationships", "famille et relations"),
    "D": ("School, work and friends", "École, travail et amis", "community", "communauté"),
    "E": ("Home, food and help", "Logement, nourriture et aide", "living situation",
          "conditions de vie"),
}

# The share of level-group body items of each shape; the rest are plain indicators.
# Follow-ups and age-gated indicators carry a `relevant` on an earlier answer (~20%).
_P_FOLLOW_UP_TEXT = 0.05
_P_FOLLOW_UP_NUMBER = 0.03
_P_FOLLOW_UP_INDICATOR = 0.08
_P_AGE_GATED = 0.04
_P_CALCULATE = 0.02

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_YAML_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})


@dataclass(slots=True)
class FormModel:
    """A form as plain data, renderable as fieldscreen YAML or as an XLSForm.

    Attributes:
        items: item mappings in document order, keyed like the YAML format; a group has
            an "items" list of its children.
        choice_lists: list name to choice mappings ({"name", "label"[, "image"]}).
    """

    form_id: str
    version: str
    title: Text
    languages: tuple[str, ...]
    choice_lists: dict[str, list[dict[str, Any]]]
    rules: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def default_language(self) -> str:
        return self.languages[0]


def generate_form(items: int, languages: tuple[str, ...] = ("en", "fr")) -> str:
    """The YAML text of a realistic form with exactly `items` items (groups included).

    Args:
        items: the number of items of the loaded form, counting groups, notes and
            calculates; at least `MIN_ITEMS`.
        languages: the form's languages; the first is the default. Every text is given
            in each of them.

    Returns:
        A `fieldscreen-form/1` document; the same arguments always give the same text.
    """
    return to_yaml(build_model(items, languages))


def build_model(items: int, languages: tuple[str, ...] = ("en", "fr")) -> FormModel:
    """The form that `generate_form` renders, as data (see `generate_form` for the args).

    Raises:
        ValueError: `items` is below `MIN_ITEMS` or `languages` is empty.
    """
    if items < MIN_ITEMS:
        raise ValueError(f"a generated form needs at least {MIN_ITEMS} items")
    if not languages:
        raise ValueError("a generated form needs at least one language")
    builder = _Builder(languages, random.Random(items))
    model = builder.build(items)
    produced = _count(model.items)
    if produced != items:  # a bug in the generator, not in the form under test
        raise AssertionError(f"generated {produced} items instead of {items}")
    return model


class _Builder:
    """Builds one FormModel; holds the texts' languages and the seeded random source."""

    def __init__(self, languages: tuple[str, ...], rng: random.Random) -> None:
        self.languages = languages
        self.rng = rng
        self.serial = 0

    def text(self, en: str, fr: str) -> Text:
        """A localized text in every language of the form."""
        known = {"en": en, "fr": fr}
        return {lang: known.get(lang, f"{en} [{lang}]") for lang in self.languages}

    def build(self, total: int) -> FormModel:
        t = self.text
        groups = [(level, audience) for level in LEVELS for audience in ("child", "worker")]
        # Child conversations are longer than the worker's observations.
        shares = [3 if audience == "child" else 2 for _, audience in groups]
        # One indicator per group, the rest shared out by weight.
        spare = total - FIXED_ITEMS - len(groups)
        quotas = [1 + spare * share // sum(shares) for share in shares]
        for index in range(total - FIXED_ITEMS - sum(quotas)):
            quotas[index % len(quotas)] += 1
        items = [self.consent(), self.background()]
        items += [
            self.level_group(level, audience, quota)
            for (level, audience), quota in zip(groups, quotas, strict=True)
        ]
        items.append(self.closing())
        return FormModel(
            form_id=f"bench-{total}",
            version="2026.11.0",
            title=t(f"Generated screening ({total} items)",
                    f"Dépistage généré ({total} éléments)"),
            languages=self.languages,
            choice_lists=self.choice_lists(),
            rules={
                "version": "2026.11.0-r1",
                "thresholds": {"refer": 8, "monitor": 4},
                "lowered_thresholds": {"refer": 5, "monitor": 2},
                "lowered_when": "${age_years} < 12 or ${unaccompanied} = 'yes'",
                "elevated_level_score": 2,
                "elevated_levels_for_referral": 3,
                "resilience_cap": 0.5,
                "gaps_for_follow_up": 4,
            },
            items=items,
        )

    # -- choice lists ------------------------------------------------------------------

    def choice_lists(self) -> dict[str, list[dict[str, Any]]]:
        t = self.text

        def choices(*entries: tuple[str, str, str]) -> list[dict[str, Any]]:
            return [{"name": name, "label": t(en, fr)} for name, en, fr in entries]

        child_scale = choices(("yes", "Yes", "Oui"), ("not_sure", "Not sure", "Pas sûr"),
                              ("no", "No", "Non"),
                              ("rather_not_say", "I'd rather not say",
                               "Je préfère ne pas le dire"))
        for choice, icon in zip(child_scale, ("yes", "not-sure", "no", "rather-not-say"),
                                strict=True):
            choice["image"] = f"answer-{icon}"
        return {
            "child_scale": child_scale,
            "observation_risk": choices(
                ("clear", "Clear concern", "Inquiétude nette"),
                ("some", "Some concern", "Une certaine inquiétude"),
                ("not_observed", "Not observed", "Non observé"),
                ("cannot_assess", "Couldn't assess", "Impossible d'évaluer")),
            "observation_resilience": choices(
                ("clear", "Clearly present", "Nettement présent"),
                ("some", "Partly present", "Partiellement présent"),
                ("not_observed", "Not observed", "Non observé"),
                ("cannot_assess", "Couldn't assess", "Impossible d'évaluer")),
            "yes_no": choices(("yes", "Yes", "Oui"), ("no", "No", "Non")),
            "yes_no_unknown": choices(("yes", "Yes", "Oui"), ("no", "No", "Non"),
                                      ("unknown", "Don't know yet", "Pas encore connu")),
            "sex_gender": choices(("girl", "Girl", "Fille"), ("boy", "Boy", "Garçon"),
                                  ("another_identity", "Another way", "Autrement"),
                                  ("rather_not_say", "I'd rather not say",
                                   "Je préfère ne pas le dire")),
            "nationality": choices(
                ("ng", "Nigeria", "Nigéria"), ("ua", "Ukraine", "Ukraine"),
                ("sy", "Syria", "Syrie"), ("af", "Afghanistan", "Afghanistan"),
                ("er", "Eritrea", "Érythrée"), ("ro", "Romania", "Roumanie"),
                ("vn", "Viet Nam", "Viet Nam"), ("ma", "Morocco", "Maroc"),
                ("stateless", "Stateless", "Apatride"), ("other", "Other", "Autre"),
                ("unknown", "Unknown", "Inconnue")),
            "area": choices(("north_district", "North District", "District nord"),
                            ("central_district", "Central District", "District central"),
                            ("south_district", "South District", "District sud")),
            "exploitation_form": choices(
                ("sexual", "Sexual exploitation", "Exploitation sexuelle"),
                ("labour", "Labour exploitation", "Exploitation par le travail"),
                ("domestic_servitude", "Domestic servitude", "Servitude domestique"),
                ("begging", "Forced begging", "Mendicité forcée"),
                ("criminal_activities", "Forced criminal activities",
                 "Activités criminelles forcées"),
                ("online", "Online exploitation", "Exploitation en ligne"),
                ("other", "Other", "Autre"),
                ("none_identified", "None identified", "Aucune identifiée")),
            "referral_consent": choices(("yes", "Yes", "Oui"), ("no", "No", "Non"),
                                        ("not_asked", "Not asked", "Pas demandé")),
        }

    # -- fixed groups ------------------------------------------------------------------

    def consent(self) -> dict[str, Any]:
        t = self.text
        return {"name": "consent", "type": "group",
                "label": t("Before we start", "Avant de commencer"), "items": [
                    {"name": "consent_intro", "type": "note", "audience": "child",
                     "label": t("You choose. You can stop at any time and skip any question.",
                                "Tu choisis. Tu peux arrêter à tout moment et passer une "
                                "question.")},
                    {"name": "knows_referral_options", "type": "acknowledge",
                     "audience": "worker",
                     "label": t("I have checked which services I can offer in this area.",
                                "J'ai vérifié les services que je peux proposer ici.")},
                    {"name": "child_assent", "type": "select_one", "choices": "yes_no",
                     "audience": "child", "required": True,
                     "label": t("Is it OK for you to talk with me now?",
                                "Es-tu d'accord pour parler avec moi maintenant ?")},
                ]}

    def background(self) -> dict[str, Any]:
        t = self.text
        return {"name": "background", "type": "group", "relevant": _ASSENTED,
                "label": t("About you", "À propos de toi"), "items": [
                    {"name": "age_years", "type": "integer", "role": "age",
                     "audience": "child", "constraint": ". >= 0 and . <= 17",
                     "constraint_message": t("This checklist is for children aged 0 to 17.",
                                             "Cette liste est pour les enfants de 0 à 17 ans."),
                     "label": t("How old are you?", "Quel âge as-tu ?")},
                    {"name": "sex_gender", "type": "select_one", "choices": "sex_gender",
                     "role": "sex", "audience": "child",
                     "label": t("Are you a girl, a boy, or would you say it another way?",
                                "Es-tu une fille, un garçon, ou le dirais-tu autrement ?")},
                    {"name": "nationality", "type": "select_one", "choices": "nationality",
                     "role": "nationality", "audience": "worker",
                     "label": t("Nationality or country of origin",
                                "Nationalité ou pays d'origine")},
                    {"name": "area", "type": "select_one", "choices": "area", "role": "area",
                     "audience": "worker",
                     "label": t("Area where this conversation takes place",
                                "Zone où a lieu cette conversation")},
                    {"name": "unaccompanied", "type": "select_one",
                     "choices": "yes_no_unknown", "audience": "worker",
                     "label": t("Is the child without a parent or usual caregiver here?",
                                "L'enfant est-il ici sans parent ni tuteur habituel ?")},
                    {"name": "exploitation_forms", "type": "select_multiple",
                     "choices": "exploitation_form", "role": "exploitation_form",
                     "audience": "worker",
                     "constraint": "not(selected(., 'none_identified') and "
                                   "count-selected(.) > 1)",
                     "constraint_message": t('"None identified" cannot be combined.',
                                             "« Aucune identifiée » ne peut être combinée."),
                     "label": t("Forms of exploitation suspected",
                                "Formes d'exploitation suspectées")},
                    {"name": "exploitation_count", "type": "calculate",
                     "calculation": "count-selected(${exploitation_forms})"},
                    {"name": "age_band", "type": "calculate",
                     "calculation": "if(${age_years} < 12, 'under_12', "
                                    "if(${age_years} < 15, '12_14', '15_17'))"},
                ]}

    def closing(self) -> dict[str, Any]:
        t = self.text
        return {"name": "closing", "type": "group", "relevant": _ASSENTED,
                "label": t("Finishing", "Pour finir"), "items": [
                    {"name": "referral_consent", "type": "select_one",
                     "choices": "referral_consent", "role": "referral_consent",
                     "audience": "child",
                     "label": t("Is it OK if I tell a service about you?",
                                "Es-tu d'accord pour que je parle de toi à un service ?")},
                    {"name": "worker_note", "type": "text", "audience": "worker",
                     "label": t("Your notes", "Vos notes")},
                    {"name": "closing_thanks", "type": "note", "audience": "child",
                     "label": t("Thank you for talking with me.",
                                "Merci d'avoir parlé avec moi.")},
                ]}

    # -- level groups ------------------------------------------------------------------

    def level_group(self, level: str, audience: str, quota: int) -> dict[str, Any]:
        """One level's child or worker group with `quota` items besides the group and note."""
        t = self.text
        rng = self.rng
        child_en, child_fr, worker_en, worker_fr = _GROUP_TITLES[level]
        prefix = f"{level.lower()}{'c' if audience == 'child' else 'w'}"
        group_name = f"level_{level.lower()}_{audience}"
        children: list[dict[str, Any]] = []
        if audience == "child":
            label = t(child_en, child_fr)
            children.append({"name": f"{group_name}_intro", "type": "note", "audience": "child",
                             "label": t(f"Now some questions about {child_en.lower()}.",
                                        f"Maintenant, des questions : {child_fr.lower()}.")})
        else:
            label = t(f"Your observations: {worker_en}", f"Vos observations : {worker_fr}")
        indicators: list[dict[str, Any]] = []
        calculates: list[str] = []
        for _ in range(quota):
            draw = rng.random()
            earlier = indicators[-6:]
            if not indicators:
                draw = 1.0  # a group opens with a plain indicator
            if (draw := draw - _P_FOLLOW_UP_TEXT) < 0:
                children.append(self.follow_up_text(prefix, audience, rng.choice(earlier)))
                continue
            if (draw := draw - _P_FOLLOW_UP_NUMBER) < 0:
                children.append(self.follow_up_number(prefix, rng.choice(earlier)))
                continue
            if (draw := draw - _P_CALCULATE) < 0 and len(indicators) >= 2:
                children.append(self.calculate(prefix, audience, indicators[-3:]))
                calculates.append(children[-1]["name"])
                continue
            item = self.indicator(prefix, level, audience)
            if (draw := draw - _P_FOLLOW_UP_INDICATOR) < 0:
                if calculates and rng.random() < 0.3:
                    item["relevant"] = f"${{{calculates[-1]}}} >= 1"
                else:
                    item["relevant"] = _follow_up_condition(rng.choice(earlier), audience)
            elif draw - _P_AGE_GATED < 0:
                item["relevant"] = "${age_years} >= 12"
            _reorder(item)
            children.append(item)
            indicators.append(item)
        return {"name": group_name, "type": "group", "audience": audience,
                "relevant": _ASSENTED, "label": label, "items": children}

    def _next(self, prefix: str, slug: str) -> str:
        self.serial += 1
        return f"{prefix}_{self.serial:04d}_{slug}"

    def indicator(self, prefix: str, level: str, audience: str) -> dict[str, Any]:
        rng = self.rng
        kind = "risk" if level == "A" or rng.random() < 0.65 else "resilience"
        slug, c_en, c_fr, w_en, w_fr = rng.choice(_TOPICS[level])
        topic_en, topic_fr = (c_en, c_fr) if audience == "child" else (w_en, w_fr)
        stem_en, stem_fr = rng.choice(_STEMS[(audience, kind)])
        if audience == "child":
            choices = "child_scale"
        else:
            choices = "observation_risk" if kind == "risk" else "observation_resilience"
        item: dict[str, Any] = {
            "name": self._next(prefix, slug), "type": "select_one", "choices": choices,
            "audience": audience, "level": level, "kind": kind,
            "weight": 3 if level == "A" else rng.choice((1, 1, 2, 2, 3)),
        }
        if level == "A":
            item["red_flag"] = True
        item["label"] = self.text(stem_en.format(t=topic_en), stem_fr.format(t=topic_fr))
        if rng.random() < 0.3:
            item["hint"] = self.text(*rng.choice(_HINTS[audience]))
        item["_topic"] = (topic_en, topic_fr)
        return item

    def follow_up_text(
        self, prefix: str, audience: str, source: dict[str, Any]
    ) -> dict[str, Any]:
        topic_en, topic_fr = source["_topic"]
        if audience == "child":
            label = self.text(f"Tell me more about {topic_en}.",
                              f"Parle-moi davantage de {topic_fr}.")
        else:
            label = self.text(f"Describe what you saw about {topic_en}",
                              f"Décrivez ce que vous avez vu concernant {topic_fr}")
        return {"name": self._next(prefix, "details"), "type": "text", "audience": audience,
                "relevant": _follow_up_condition(source, audience), "label": label}

    def follow_up_number(self, prefix: str, source: dict[str, Any]) -> dict[str, Any]:
        return {"name": self._next(prefix, "times"), "type": "integer",
                "audience": source["audience"],
                "relevant": _follow_up_condition(source, source["audience"]),
                "constraint": ". >= 0 and . <= 100",
                "constraint_message": self.text("Enter a number from 0 to 100.",
                                                "Saisissez un nombre de 0 à 100."),
                "label": self.text("How many times in the last month?",
                                   "Combien de fois le mois dernier ?")}

    def calculate(
        self, prefix: str, audience: str, sources: list[dict[str, Any]]
    ) -> dict[str, Any]:
        full = "yes" if audience == "child" else "clear"
        terms = [f"if(${{{item['name']}}} = '{full}', 1, 0)" for item in sources]
        return {"name": self._next(prefix, "count"), "type": "calculate",
                "calculation": " + ".join(terms)}


_ASSENTED = "${child_assent} = 'yes'"


def _follow_up_condition(source: dict[str, Any], audience: str) -> str:
    name = source["name"]
    first, second = (("yes", "not_sure") if audience == "child" else ("clear", "some"))
    return f"${{{name}}} = '{first}' or ${{{name}}} = '{second}'"


_KEY_ORDER = ("name", "type", "choices", "audience", "role", "level", "kind", "weight",
              "red_flag", "required", "relevant", "calculation", "constraint",
              "constraint_message", "label", "hint", "items", "_topic")


def _reorder(item: dict[str, Any]) -> None:
    # Keys in the order an author writes them (as in forms/child-screening.yaml).
    ordered = {key: item[key] for key in _KEY_ORDER if key in item}
    item.clear()
    item.update(ordered)


def _count(items: list[dict[str, Any]]) -> int:
    return sum(1 + _count(item.get("items", [])) for item in items)


def walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every item mapping of `items`, groups before their children, in document order."""
    found: list[dict[str, Any]] = []
    for item in items:
        found.append(item)
        found.extend(walk(item.get("items", [])))
    return found


# -- YAML ------------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if _PLAIN.match(value) and value.lower() not in _YAML_WORDS:
        return value
    # A JSON string is a valid YAML double-quoted scalar.
    return json.dumps(value, ensure_ascii=False)


def _flow(mapping: dict[str, Any]) -> str:
    parts = [
        f"{key}: {_flow(value) if isinstance(value, dict) else _scalar(value)}"
        for key, value in mapping.items()
    ]
    return "{" + ", ".join(parts) + "}"


def _emit_items(items: list[dict[str, Any]], indent: str, out: list[str]) -> None:
    for position, item in enumerate(items):
        if position:
            out.append("")
        first = True
        for key, value in item.items():
            if key.startswith("_"):
                continue  # generator bookkeeping, not part of the form
            lead = f"{indent}- " if first else f"{indent}  "
            first = False
            if key == "items":
                out.append(f"{lead}items:")
                _emit_items(value, indent + "    ", out)
            elif isinstance(value, dict):
                out.append(f"{lead}{key}: {_flow(value)}")
            else:
                out.append(f"{lead}{key}: {_scalar(value)}")


def to_yaml(model: FormModel) -> str:
    """The model as a `fieldscreen-form/1` YAML document, laid out like the shipped form."""
    out = [
        "# Generated by bench/formgen.py for benchmarks; not a real checklist.",
        "format: fieldscreen-form/1",
        f"id: {model.form_id}",
        f'version: "{model.version}"',
        f"title: {_flow(model.title)}",
        f"default_language: {model.default_language}",
        f"languages: [{', '.join(model.languages)}]",
        "",
        "choice_lists:",
    ]
    for name, choices in model.choice_lists.items():
        out.append(f"  {name}:")
        out.extend(f"    - {_flow(choice)}" for choice in choices)
    out += ["", "rules:"]
    for key, value in model.rules.items():
        shown = _flow(value) if isinstance(value, dict) else _scalar(value)
        out.append(f"  {key}: {shown}")
    out += ["", "items:"]
    _emit_items(model.items, "  ", out)
    return "\n".join(out) + "\n"


# -- XLSForm ---------------------------------------------------------------------------


def _language_column(kind: str, language: str) -> str:
    return f"{kind}::{_LANGUAGE_NAMES.get(language, language)} ({language})"


def write_xlsform(model: FormModel, path: Path) -> None:
    """Write the model as an XLSForm workbook with survey, choices and settings sheets.

    Labels, hints and constraint messages get one `label::English (en)`-style column per
    language. The indicator model (level, kind, weight, red flag, audience, role) has no
    XLSForm column, so it travels as namespaced custom bind attributes (`bind::fs:level`),
    the XLSForm way of carrying extra metadata. The rules have no XLSForm equivalent.

    Raises:
        ModuleNotFoundError: openpyxl is not installed (it comes with pyxform).
    """
    from openpyxl import Workbook  # optional: only the pyxform comparison needs it

    languages = model.languages
    texts = ("label", "hint", "constraint_message")
    bind_keys = ("audience", "role", "level", "kind", "weight", "red_flag")
    header = ["type", "name"]
    for kind in texts:
        header += [_language_column(kind, lang) for lang in languages]
    header += ["required", "relevant", "constraint", "calculation"]
    header += [f"bind::fs:{key}" for key in bind_keys]

    workbook = Workbook()
    survey = workbook.active
    survey.title = "survey"
    survey.append(header)

    def rows(items: list[dict[str, Any]]) -> None:
        for item in items:
            kind = item["type"]
            if kind == "group":
                xls_type = "begin_group"
            elif "choices" in item:
                xls_type = f"{kind} {item['choices']}"
            else:
                xls_type = kind
            row: list[Any] = [xls_type, item["name"]]
            for key in texts:
                text = item.get(key, {})
                row += [text.get(lang) for lang in languages]
            row += ["yes" if item.get("required") else None, item.get("relevant"),
                    item.get("constraint"), item.get("calculation")]
            for key in bind_keys:
                value = item.get(key)
                if isinstance(value, bool):
                    value = "true" if value else "false"
                row.append(value)
            survey.append(row)
            if kind == "group":
                rows(item["items"])
                survey.append(["end_group", item["name"]])

    rows(model.items)

    choices = workbook.create_sheet("choices")
    choices.append(["list_name", "name", *(_language_column("label", lang)
                                           for lang in languages)])
    for list_name, entries in model.choice_lists.items():
        for entry in entries:
            choices.append([list_name, entry["name"],
                            *(entry["label"].get(lang) for lang in languages)])

    settings = workbook.create_sheet("settings")
    settings.append(["form_title", "form_id", "version", "default_language", "namespaces"])
    settings.append([model.title[model.default_language], model.form_id, model.version,
                     f"{_LANGUAGE_NAMES.get(model.default_language, model.default_language)}"
                     f" ({model.default_language})", XLSFORM_NAMESPACE])
    workbook.save(path)
