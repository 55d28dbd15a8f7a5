"""The benchmark's generated forms stay valid, so the benchmark measures a real form."""

from __future__ import annotations

from bench.formgen import generate_form
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.forms.loader import load_form_text


def test_generated_forms_load_and_screen():
    form = load_form_text(generate_form(120), "generated.yaml")
    assert len(form.items) == 120
    assert set(form.languages) == {"en", "fr"}
    session = ScreeningSession(form)
    indicator = next(form.indicators())
    session.answer(indicator.name, indicator.choice_list.names[0])
    assert session.decision() is not None
