"""The shipped checklist's English child-facing words stay easy to read.

Children aged 8 to 17 hear or read these words, often in a second language, so every
English label and note shown to the child must score grade 4 or below on the
Flesch-Kincaid grade (textstat, pinned in the `test` extra so the figures do not move
between machines). Hints are the worker's text: grade 6 or below. Each failure lists
every offender with its score, so a writer can fix them all in one pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fieldscreen.forms.loader import load_form
from fieldscreen.forms.schema import Audience, Form, ItemType

textstat = pytest.importorskip("textstat")

FORM = Path(__file__).resolve().parents[3] / "forms" / "child-screening.yaml"
CHILD_GRADE_LIMIT = 4.0
HINT_GRADE_LIMIT = 6.0


def grade(text: str) -> float:
    return float(textstat.flesch_kincaid_grade(text))


def child_texts(form: Form) -> list[tuple[str, str]]:
    """(item name, English text) of every label and note the child sees or hears."""
    texts = []
    for item in form.items:
        if item.audience is Audience.CHILD and item.label:
            texts.append((item.name, item.label.get(form.default_language)))
    return texts


def hints_on_child_items(form: Form) -> list[tuple[str, str]]:
    return [
        (item.name, item.hint.get(form.default_language))
        for item in form.items
        if item.audience is Audience.CHILD and item.hint
    ]


def offenders(texts: list[tuple[str, str]], limit: float) -> list[str]:
    return [
        f"{name}: grade {grade(text):.1f}: {text!r}"
        for name, text in texts
        if grade(text) > limit
    ]


@pytest.fixture(scope="module")
def form() -> Form:
    return load_form(FORM)


def test_textstat_is_the_pinned_version() -> None:
    # The grade formula's syllable counter changes between releases; the limits were
    # set against this one.
    from importlib.metadata import version

    assert version("textstat") == "0.7.8"


def test_child_labels_and_notes_are_grade_4_or_below(form: Form) -> None:
    texts = child_texts(form)
    assert len(texts) > 40  # the walk found the child's questions, not an empty list
    bad = offenders(texts, CHILD_GRADE_LIMIT)
    assert not bad, "Child-facing text above grade 4:\n" + "\n".join(bad)


def test_hints_on_child_items_are_grade_6_or_below(form: Form) -> None:
    texts = hints_on_child_items(form)
    assert texts
    bad = offenders(texts, HINT_GRADE_LIMIT)
    assert not bad, "Hints above grade 6:\n" + "\n".join(bad)


def test_the_grade_measure_catches_hard_text() -> None:
    # Guards against a textstat that silently scores everything 0.
    hard = (
        "Has anyone representing an organisation solicited photographic material "
        "that you subsequently regretted transmitting electronically?"
    )
    assert grade(hard) > CHILD_GRADE_LIMIT
    assert offenders([("example", hard)], CHILD_GRADE_LIMIT)


def test_ground_rules_come_first_and_match_the_cards(form: Form) -> None:
    first_child_note = next(
        item
        for item in form.items
        if item.audience is Audience.CHILD and item.type is ItemType.NOTE
        and "understand" in item.label.get("en")
    )
    text = first_child_note.label.get("en")
    assert "If you don't understand, tell me." in text
    assert "say 'not sure'" in text
    assert "You can stop any time." in text
    first_question = next(item for item in form.items if item.type is ItemType.SELECT_ONE)
    assert form.items.index(first_child_note) < form.items.index(first_question)
    assert "I don't know" not in " ".join(text for _, text in child_texts(form))


def test_worker_only_choices_never_show_as_child_cards(form: Form) -> None:
    for item in form.items:
        if item.audience is Audience.CHILD and item.choice_list is not None:
            names = set(item.choice_list.names)
            assert "not_asked" not in names, item.name
            assert "cannot_assess" not in names, item.name


def test_sex_gender_offers_not_sure(form: Form) -> None:
    assert form.item("sex_gender").choice_list is not None
    assert "not_sure" in form.item("sex_gender").choice_list.names
