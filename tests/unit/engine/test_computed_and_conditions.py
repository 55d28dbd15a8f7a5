"""Computed read-only answers and conditional `required`, as XLSForm means them."""

from __future__ import annotations

import pytest

from fieldscreen.engine.answers import AnswerError
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import load_form_text
from fieldscreen.workflows.navigation import Move

HEAD = """\
format: fieldscreen-form/1
id: probe
version: "1"
title: Probe
default_language: en
languages: [en]
choice_lists:
  yes_no:
    - {name: "yes", label: "Yes"}
    - {name: "no", label: "No"}
  colours:
    - {name: red, label: Red, columns: {warm: "1"}}
    - {name: blue, label: Blue, columns: {warm: 0}}
    - {name: green, label: Green}
rules:
  version: r1
  thresholds: {refer: 8, monitor: 4}
  lowered_thresholds: {refer: 5, monitor: 2}
  elevated_level_score: 2
  elevated_levels_for_referral: 3
  resilience_cap: 0.5
  gaps_for_follow_up: 4
items:
"""

FORM = HEAD + """\
  - {name: age, type: integer, label: Age}
  - {name: age_next_year, type: integer, label: Age next year, calculation: "${age} + 1"}
  - {name: alone, type: select_one, choices: yes_no, label: Alone?}
  - {name: guardian, type: text, label: Guardian, required: "${alone} = 'no'"}
  - {name: likes_warm, type: select_one, choices: yes_no, label: Warm colours?}
  - {name: colour, type: select_one, choices: colours, label: Colour,
     choice_filter: "(${likes_warm} = 'yes' and warm = 1) or (${likes_warm} = 'no' and warm != 1)"}
  - {name: colours, type: select_multiple, choices: colours, label: Colours,
     choice_filter: "name != 'green' or ${likes_warm} = 'no'"}
"""


def session() -> ScreeningSession:
    return ScreeningSession(load_form_text(FORM, "probe.yaml"))


def test_a_computed_answer_follows_its_inputs_and_is_recorded():
    s = session()
    assert s.value("age_next_year") is None
    s.answer("age", 11)
    assert s.value("age_next_year") == 12
    assert s.answers_json()["age_next_year"] == 12
    s.answer("age", 13)
    assert s.answers_json()["age_next_year"] == 14


def test_a_computed_answer_cannot_be_typed_in():
    s = session()
    with pytest.raises(AnswerError, match="computed"):
        s.answer("age_next_year", 40)


def test_a_saved_computed_answer_is_worked_out_again_on_restore():
    restored = ScreeningSession(load_form_text(FORM, "probe.yaml"),
                                answers={"age": 9, "age_next_year": 99})
    assert restored.value("age_next_year") == 10
    restored.answer_all({"age": 10, "age_next_year": 1})
    assert restored.value("age_next_year") == 11


def test_required_with_a_condition_is_required_only_while_it_holds():
    s = session()
    assert not s.is_required("guardian") and s.problem_with("guardian") is None
    s.answer("alone", "no")
    assert s.is_required("guardian")
    assert s.problem_with("guardian") is not None
    assert [p.item for p in s.problems()] == ["guardian"]
    assert not s.is_complete_enough()
    s.answer("alone", "yes")
    assert s.is_complete_enough()


def test_next_and_skip_use_the_condition():
    from fieldscreen.workflows.navigation import WizardNavigation

    s = session()
    navigation = WizardNavigation()
    navigation.start(s)
    s.answer("age", 11)
    assert navigation.go_next() is Move.MOVED
    # The computed step has nothing to answer: Next does not ask for an answer.
    assert [i.name for i in navigation.current_step().items] == ["age_next_year"]
    assert navigation.go_next() is Move.MOVED
    s.answer("alone", "no")
    assert navigation.go_next() is Move.MOVED
    assert navigation.go_next() is Move.BLOCKED and navigation.problem
    s.answer("guardian", "aunt")
    navigation.skip()
    assert s.value("guardian") == "aunt"  # required now: Skip keeps it
    s.answer("alone", "yes")
    navigation.index = 3
    navigation.skip()
    assert s.value("guardian") is None  # optional now: Skip clears it


def test_a_choice_filter_offers_the_choices_whose_columns_match():
    s = session()
    assert s.visible_choices("colour") == ()
    s.answer("likes_warm", "yes")
    assert [c.name for c in s.visible_choices("colour")] == ["red"]
    assert [c.name for c in s.visible_choices("colours")] == ["red", "blue"]
    s.answer("likes_warm", "no")
    # A choice without the column reads it as empty text, as in ODK.
    assert [c.name for c in s.visible_choices("colour")] == ["blue", "green"]
    assert [c.name for c in s.visible_choices("colours")] == ["red", "blue", "green"]


def test_a_choice_not_offered_now_cannot_be_chosen():
    s = session()
    s.answer("likes_warm", "yes")
    with pytest.raises(AnswerError, match="offers now") as raised:
        s.answer("colour", "blue")
    assert "blue" not in raised.value.message


def test_an_answer_whose_choice_is_no_longer_offered_is_cleared():
    s = session()
    s.answer("likes_warm", "no")
    s.answer("colour", "blue")
    s.answer("colours", ["blue", "green"])
    s.answer("likes_warm", "yes")
    assert s.value("colour") is None and "colour" not in s.answers_json()
    assert s.value("colours") == ("blue",) and s.answers_json()["colours"] == ["blue"]
    restored = ScreeningSession(s.form, answers={"likes_warm": "yes", "colour": "blue"})
    assert restored.value("colour") is None and "colour" not in restored.answers


@pytest.mark.parametrize("entry, words", [
    ('{name: n, type: note, label: N, calculation: "1"}', "cannot have a calculation"),
    ('{name: q, type: integer, label: Q, calculation: "1", required: true}',
     "cannot be required"),
    ('{name: q, type: text, label: Q, required: "${nowhere} = 1"}', "nowhere"),
    ('{name: q, type: text, label: Q, required: "1 +"}', "required"),
    ('{name: q, type: text, label: Q, required: "yes"}', "true or false"),
    ('{name: q, type: text, label: Q, choice_filter: "1"}', "only select items"),
    ('{name: q, type: select_one, choices: colours, label: Q, choice_filter: "hot = 1"}',
     "column 'hot'"),
    ('{name: q, type: select_one, choices: colours, label: Q, choice_filter: "${z} = 1"}',
     "${z}"),
    ('{name: q, type: select_one, choices: colours, label: Q, choice_filter: ". = 1"}',
     "'.'"),
])
def test_bad_calculations_and_conditions_are_refused(entry, words):
    with pytest.raises(SourceProblems) as raised:
        load_form_text(HEAD + "  - " + entry + "\n", "probe.yaml")
    assert any(words in p.message for p in raised.value.problems), raised.value.problems


DEFAULTS = HEAD + """\
  - {name: place, type: select_one, choices: yes_no, label: Seen at the station?,
     audience: worker, default: "yes"}
  - {name: count, type: integer, label: Adults present, audience: worker, default: 2}
  - {name: likes_warm, type: select_one, choices: yes_no, label: Warm?, audience: worker}
  - {name: colour, type: select_one, choices: colours, label: Colour, audience: worker,
     default: blue, choice_filter: "warm = 1 or ${likes_warm} = 'no'"}
"""


def test_a_default_is_an_answer_only_once_offered_on_screen():
    s = ScreeningSession(load_form_text(DEFAULTS, "probe.yaml"))
    assert s.value("place") is None and "place" not in s.answers_json()
    assert s.offer_default("place") and s.value("place") == "yes"
    assert s.answers_json()["place"] == "yes"
    s.clear("place")
    assert not s.offer_default("place") and s.value("place") is None  # offered once only
    s.answer("count", 5)
    assert not s.offer_default("count") and s.value("count") == 5  # never over an answer


def test_a_default_choice_not_offered_now_is_not_filled_in():
    s = ScreeningSession(load_form_text(DEFAULTS, "probe.yaml"))
    assert not s.offer_default("colour") and s.value("colour") is None


@pytest.mark.parametrize("entry, words", [
    ('{name: q, type: text, label: Q, default: "x"}', "audience: worker"),
    ('{name: q, type: text, label: Q, audience: child, default: "x"}', "audience: worker"),
    ('{name: q, type: select_one, choices: yes_no, label: Q, audience: worker, default: maybe}',
     "not an answer"),
    ('{name: q, type: integer, label: Q, audience: worker, default: "two"}', "not an answer"),
    ('{name: q, type: date, label: Q, audience: worker, default: "2024-13-01"}',
     "not an answer"),
    ('{name: q, type: note, label: Q, audience: worker, default: "x"}', "no default"),
])
def test_defaults_that_could_put_words_in_a_childs_mouth_or_do_not_fit_are_refused(entry, words):
    with pytest.raises(SourceProblems) as raised:
        load_form_text(HEAD + "  - " + entry + "\n", "probe.yaml")
    assert any(words in p.message for p in raised.value.problems), raised.value.problems


def test_an_indicator_cannot_have_a_default():
    entry = ('{name: q, type: select_one, choices: obs, label: Q, audience: worker, '
             'level: B, kind: risk, default: clear}')
    text = HEAD.replace("choice_lists:\n", "choice_lists:\n  obs:\n"
                        "    - {name: clear, label: C}\n    - {name: some, label: S}\n"
                        "    - {name: not_observed, label: N}\n"
                        "    - {name: cannot_assess, label: A}\n")
    with pytest.raises(SourceProblems) as raised:
        load_form_text(text + "  - " + entry + "\n", "probe.yaml")
    assert any("not indicators" in p.message for p in raised.value.problems)
