"""The `engine` suite: form load+validate, answer-to-decision latency, and pyxform for comparison.

Cases (see bench/README.md for how to read them):

- load+validate of the shipped form, forms/child-screening.yaml;
- one `session.answer()` followed by `session.decision()` (what the UI does after each
  answer) on the shipped form and on generated 300- and 1,000-item en+fr forms, cycling
  through changing answers to the indicator items; target: median <= 2 ms at 300 items;
- the worst single answer: flipping the assent that every group's `relevant` uses;
- load+validate of the generated 1,000-item form against pyxform converting the
  equivalent XLSForm, measured in turns in the same run; target: ours / pyxform < 1.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from pathlib import Path

from bench.core import Result, Target, measure, measure_alternating, progress
from bench.formgen import FormModel, build_model, to_yaml, write_xlsform
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.forms.loader import load_form
from fieldscreen.forms.schema import Form

SUITE = "engine"
FORMS_DIR = Path(__file__).resolve().parent.parent / "forms"
SHIPPED_FORM = FORMS_DIR / "child-screening.yaml"
INSTALL_HINT = ".venv/bin/pip install -e '.[bench]'  (pyxform is the optional `bench` extra)"

# The latency target of the issue: the UI re-evaluates after every answer and must feel
# instant on a modest laptop.
ANSWER_TARGET = Target("median", 2.0)
# Loading our YAML should beat the reference XLSForm tool on the same content.
LOAD_TARGET = Target("ratio", 1.0, strict=True)

PYXFORM_CASE = "pyxform convert 1000 items (.xlsx)"

# A fixed clock: `today()` must not make runs differ.
_NOW = dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)

# Background answers that open every group, as a worker would give them first.
_BACKGROUND = {
    "child_assent": "yes",
    "age_years": 14,
    "sex_gender": "girl",
    "nationality": "ng",
    "area": "north_district",
    "unaccompanied": "no",
    "exploitation_forms": ["labour"],
    "referral_consent": "yes",
}


def _clock() -> dt.datetime:
    return _NOW


def run(quick: bool) -> list[Result]:
    """Run every case of the suite.

    Args:
        quick: fewer samples, for a smoke run; the cases are the same.

    Returns:
        One result per case, in the order they are printed.
    """
    answers = 400 if quick else 3000
    loads = 3 if quick else 10
    results: list[Result] = []

    progress("engine: load+validate of the shipped form")
    if not SHIPPED_FORM.is_file():
        raise FileNotFoundError(f"the shipped form is missing: {SHIPPED_FORM}")
    shipped = load_form(SHIPPED_FORM)
    results.append(Result(
        SUITE, "load+validate shipped form",
        measure(lambda: load_form(SHIPPED_FORM), runs=8 if quick else 40,
                warmup=1 if quick else 3, budget_s=2 if quick else 10),
        note=f"{SHIPPED_FORM.name}: {len(shipped.items)} items, "
             f"{_count_indicators(shipped)} indicators, {len(shipped.languages)} language(s)",
    ))

    with tempfile.TemporaryDirectory(prefix="fieldscreen-bench-") as scratch:
        forms = {"shipped form": shipped}
        models: dict[int, FormModel] = {}
        for size in (300, 1000):
            progress(f"engine: generating and checking a {size}-item en+fr form")
            models[size] = build_model(size, ("en", "fr"))
            path = Path(scratch) / f"generated-{size}.yaml"
            path.write_text(to_yaml(models[size]), encoding="utf-8")
            forms[f"{size} items en+fr"] = _checked_form(path, size)

        for label, form in forms.items():
            progress(f"engine: answer -> decision, {label}")
            results.append(_answer_latency(label, form, answers, quick))
        for size in (300, 1000):
            label = f"{size} items en+fr"
            progress(f"engine: assent flip, {label}")
            results.append(_assent_flip(label, forms[label], quick))

        progress("engine: load+validate 1000 items vs pyxform (takes the longest)")
        results += _load_vs_pyxform(models[1000], Path(scratch), loads, quick)
    return results


def _count_indicators(form: Form) -> int:
    return sum(1 for _ in form.indicators())


def _checked_form(path: Path, size: int) -> Form:
    """Load a generated form, making sure it is what the benchmark claims to time."""
    form = load_form(path)  # raises SourceProblems if the generator wrote a broken form
    assert len(form.items) == size, f"{path.name}: {len(form.items)} items, not {size}"
    assert set(form.languages) == {"en", "fr"}
    both = frozenset({"en", "fr"})
    for item in form.items:
        assert not item.label or item.label.languages == both, item.name
        assert not item.hint or item.hint.languages == both, item.name
    for choices in form.choice_lists.values():
        assert all(choice.label.languages == both for choice in choices.choices)
    return form


def _ready_session(form: Form) -> ScreeningSession:
    """A session past the background questions, so every level group is shown."""
    session = ScreeningSession(form, clock=_clock)
    for name, value in _BACKGROUND.items():
        if name in form:
            session.answer(name, value)
    session.decision()
    return session


def _answer_plan(form: Form) -> list[tuple[str, object]]:
    """Answers to every indicator, pass after pass, each differing from the item's last.

    Item i gets the scale's choice (i + pass) mod 4, so consecutive passes always change
    the answer (an unchanged answer returns early and would flatter the timing) and each
    pass mixes full-strength, partial, "no" and gap answers.
    """
    indicators = list(form.indicators())
    plan: list[tuple[str, object]] = []
    for round_ in range(4):
        for index, item in enumerate(indicators):
            assert item.choice_list is not None
            names = item.choice_list.names
            plan.append((item.name, names[(index + round_) % len(names)]))
    return plan


class _Answering:
    """Answers the plan's items in turn, one `answer()` + `decision()` per timed step.

    Choosing the next answer happens in `choose()`, outside the timed region: it skips
    items that are hidden now (the UI does not offer them) and answers equal to the
    current one (`answer()` would return at once and flatter the timing).
    """

    def __init__(self, session: ScreeningSession, plan: list[tuple[str, object]]) -> None:
        self.session = session
        self.steps = itertools.cycle(plan)
        self.skip_limit = len(plan)
        self.name, self.value = plan[0]

    def choose(self) -> None:
        session = self.session
        for _ in range(self.skip_limit):
            name, value = next(self.steps)
            if session.is_shown(name) and session.value(name) != value:
                self.name, self.value = name, value
                return
        raise AssertionError("no shown item left to answer differently")

    def step(self) -> None:
        self.session.answer(self.name, self.value)
        self.session.decision()


def _timed_answers(
    session: ScreeningSession, plan: list[tuple[str, object]], *, runs: int, warmup: int,
    budget_s: float,
) -> list[int]:
    answering = _Answering(session, plan)
    return measure(answering.step, setup=answering.choose, runs=runs, warmup=warmup,
                   budget_s=budget_s)


def _answer_latency(label: str, form: Form, answers: int, quick: bool) -> Result:
    session = _ready_session(form)
    plan = _answer_plan(form)
    samples = _timed_answers(session, plan, runs=answers, warmup=50 if quick else 300,
                             budget_s=3 if quick else 15)
    target = ANSWER_TARGET if label.startswith("300 ") else None
    return Result(
        SUITE, f"answer+decision {label}", samples, target=target,
        note=f"{len(form.items)} items, {_count_indicators(form)} indicators answered in "
             "turn; one sample = answer() + decision()",
    )


def _assent_flip(label: str, form: Form, quick: bool) -> Result:
    session = _ready_session(form)
    # Answer every indicator once so the flip has real values to hide and restore.
    for name, value in _answer_plan(form)[: _count_indicators(form)]:
        session.answer(name, value)
    plan = [("child_assent", "no"), ("child_assent", "yes")]
    samples = _timed_answers(session, plan, runs=60 if quick else 400,
                             warmup=4 if quick else 20, budget_s=3 if quick else 10)
    return Result(
        SUITE, f"assent flip {label}", samples,
        note="worst single answer: yes<->no on the assent re-evaluates every group "
             "(informational)",
    )


def _load_vs_pyxform(
    model: FormModel, scratch: Path, loads: int, quick: bool
) -> list[Result]:
    yaml_path = scratch / "generated-1000.yaml"
    ours_case = "load+validate 1000 items en+fr"
    note = f"{yaml_path.stat().st_size // 1024} KiB of YAML; parse, validate, build the Form"
    try:
        from pyxform.xls2xform import convert  # the optional `bench` extra
    except ModuleNotFoundError:
        message = f"pyxform is not installed, so it is not compared; install it: {INSTALL_HINT}"
        progress(message)
        samples = measure(lambda: load_form(yaml_path), runs=loads, warmup=1,
                          budget_s=5 if quick else 20)
        return [
            Result(SUITE, ours_case, samples, baseline=PYXFORM_CASE, target=LOAD_TARGET,
                   note=note),
            Result(SUITE, PYXFORM_CASE, skipped=message),
        ]

    import pyxform

    xlsx_path = scratch / "generated-1000.xlsx"
    write_xlsform(model, xlsx_path)

    def pyxform_convert() -> None:
        # In memory: no XForm file is written, and ODK Validate (Java) is not run.
        convert(xlsform=str(xlsx_path), validate=False, pretty_print=False,
                file_type=".xlsx")

    # Check once that pyxform accepts the workbook before timing it.
    warnings: list[str] = []
    xform = convert(xlsform=str(xlsx_path), warnings=warnings, validate=False,
                    file_type=".xlsx").xform
    assert xform.count("fs:level=") == _count_indicators(load_form(yaml_path))

    ours, theirs = measure_alternating(
        lambda: load_form(yaml_path), pyxform_convert, runs=loads, warmup=1,
        budget_s=8 if quick else 40,
    )
    return [
        Result(SUITE, ours_case, ours, baseline=PYXFORM_CASE, target=LOAD_TARGET, note=note),
        Result(
            SUITE, PYXFORM_CASE, theirs,
            note=f"pyxform {pyxform.__version__}: read {xlsx_path.stat().st_size // 1024} KiB "
                 f".xlsx, build the survey, write the XForm XML in memory; no ODK Validate; "
                 f"{len(warnings)} warnings",
        ),
    ]
