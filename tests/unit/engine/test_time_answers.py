"""A time of day (XLSForm `time`): one stored spelling, HH:MM:SS, and defaults that fit."""

from __future__ import annotations

import datetime as dt

import pytest

from fieldscreen.engine.answers import AnswerError
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import load_form_text
from tests.unit.engine.test_computed_and_conditions import HEAD

FORM = HEAD + """\
  - {name: arrived, type: time, label: Arrived at, audience: worker, default: "09:30"}
  - {name: at_six, type: note, label: Six, relevant: "${arrived} = '18:00:00'"}
"""


def session() -> ScreeningSession:
    return ScreeningSession(load_form_text(FORM, "probe.yaml"))


@pytest.mark.parametrize("raw, stored", [
    ("07:05", "07:05:00"), ("23:59:59", "23:59:59"), (dt.time(18, 30), "18:30:00"),
])
def test_a_time_is_stored_as_hh_mm_ss(raw, stored):
    s = session()
    s.answer("arrived", raw)
    assert s.value("arrived") == stored and s.answers_json()["arrived"] == stored


@pytest.mark.parametrize("raw", ["7:05", "24:00", "12:60", "noon", 930, "2024-01-01T09:30"])
def test_a_time_not_written_hh_mm_is_refused_with_what_to_type(raw):
    s = session()
    with pytest.raises(AnswerError) as refused:
        s.answer("arrived", raw)
    assert "HH:MM" in str(refused.value) and s.value("arrived") is None
    assert str(raw) not in str(refused.value)  # the answer is never echoed


def test_a_time_is_text_in_expressions():
    # Stored in one spelling, a time a worker types as 18:00 equals '18:00:00'.
    s = session()
    s.answer("arrived", "09:00")
    assert not s.is_shown("at_six")
    s.answer("arrived", "18:00")
    assert s.is_shown("at_six")


def test_a_time_default_is_offered_like_any_default():
    s = session()
    assert s.value("arrived") is None
    assert s.offer_default("arrived") and s.value("arrived") == "09:30:00"


@pytest.mark.parametrize("default", ['"9:30"', '"25:00"', "930"])
def test_a_time_default_that_is_not_a_time_is_refused(default):
    entry = f"  - {{name: t, type: time, label: T, audience: worker, default: {default}}}\n"
    with pytest.raises(SourceProblems) as raised:
        load_form_text(HEAD + entry, "probe.yaml")
    assert any("not an answer" in p.message for p in raised.value.problems)


@pytest.mark.parametrize("entry", [
    "  - {name: n, type: note, label: N, relevant: \"${arrived} > '18:00:00'\"}\n",
    "  - {name: t, type: time, label: T, constraint: \". <= '12:00:00'\"}\n",
    "  - {name: n, type: note, label: N, relevant: \"not(${arrived} < ${arrived})\"}\n",
])
def test_ordering_a_time_is_refused_since_it_would_always_be_false(entry):
    with pytest.raises(SourceProblems) as raised:
        load_form_text(FORM + entry, "probe.yaml")
    assert any("always false" in p.message for p in raised.value.problems), raised.value
