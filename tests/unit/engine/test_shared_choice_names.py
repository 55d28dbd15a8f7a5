"""Choices sharing a name in a cascade (XLSForm allow_choice_duplicates): same words, one offer."""

from __future__ import annotations

import pytest

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import load_form_text
from tests.unit.engine.test_computed_and_conditions import HEAD

LISTS = """\
  states:
    - {name: texas, label: Texas}
    - {name: washington, label: Washington}
  counties:
    - {name: king, label: King, columns: {cf: washington}}
    - {name: pierce, label: Pierce, columns: {cf: washington}}
    - {name: king, label: King, columns: {cf: texas}}
    - {name: cameron, label: Cameron, columns: {cf: texas}}
"""
FORM = HEAD.replace("choice_lists:\n", "choice_lists:\n" + LISTS) + """\
  - {name: state, type: select_one, choices: states, label: State, audience: worker}
  - {name: county, type: select_one, choices: counties, label: County, audience: worker,
     choice_filter: "${state} = cf"}
  - {name: all_counties, type: select_multiple, choices: counties, label: All,
     audience: worker}
"""


def session() -> ScreeningSession:
    return ScreeningSession(load_form_text(FORM, "probe.yaml"))


def test_each_state_offers_its_own_king_and_the_name_is_recorded():
    s = session()
    s.answer("state", "texas")
    assert [c.name for c in s.visible_choices("county")] == ["king", "cameron"]
    s.answer("county", "king")
    s.answer("state", "washington")
    assert [c.name for c in s.visible_choices("county")] == ["king", "pierce"]
    assert s.value("county") == "king"  # still offered, so kept, as in ODK
    assert s.answers_json()["county"] == "king"


def test_without_a_filter_a_shared_name_is_offered_and_recorded_once():
    s = session()
    assert [c.name for c in s.visible_choices("all_counties")] == ["king", "pierce", "cameron"]
    s.answer("all_counties", ["king", "cameron"])
    assert s.value("all_counties") == ("king", "cameron")


def test_choices_sharing_a_name_with_other_words_are_refused():
    text = FORM.replace("{name: king, label: King, columns: {cf: texas}}",
                        "{name: king, label: King County, columns: {cf: texas}}")
    with pytest.raises(SourceProblems) as raised:
        load_form_text(text, "probe.yaml")
    assert any("appears twice" in p.message and "different words" in p.message
               for p in raised.value.problems), raised.value.problems


def test_an_indicator_scale_never_shares_a_name():
    text = HEAD.replace("choice_lists:\n", "choice_lists:\n  scale:\n"
                        "    - {name: 'yes', label: 'Yes'}\n    - {name: 'yes', label: 'Yes'}\n"
                        "    - {name: not_sure, label: N}\n    - {name: 'no', label: 'No'}\n"
                        "    - {name: rather_not_say, label: R}\n") + (
        "  - {name: q, type: select_one, choices: scale, label: Q, audience: child, level: B,"
        " kind: risk}\n")
    with pytest.raises(SourceProblems) as raised:
        load_form_text(text, "probe.yaml")
    assert any("canonical scale" in p.message for p in raised.value.problems)
