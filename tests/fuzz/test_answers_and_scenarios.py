"""Fuzzing answers: answer files (JSON) given to a screening, and training scenario files.

Answers arrive as JSON (`fieldscreen screen --answers`), from a draft, or inside a scenario
file. Whatever they hold, `ScreeningSession.answer_all` and `answer` record them or raise
`AnswerError` (a `UserError`), and the session still decides. A scenario file gives a
`Scenario` or `SourceProblems`; a scenario that loads is checked and replayed without error.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldscreen.demo.scenarios import (
    Scenario,
    check_scenario,
    load_scenario,
    replay_steps,
    shipped_scenarios_dir,
)
from fieldscreen.engine.answers import AnswerError
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.errors import SourceProblems, UserError
from fieldscreen.forms.loader import load_form
from fieldscreen.forms.yamlsource import parse_yaml
from tests.conftest import DATA, SHIPPED_FORM
from tests.fuzz.conftest import check_user_error, fuzz_settings, parse_or_refuse
from tests.fuzz.strategies import (
    dump_json,
    dump_yaml,
    json_values,
    mutate_text,
    mutate_tree,
    odd_text,
    to_plain,
)

NOON = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@functools.cache
def form():
    return load_form(SHIPPED_FORM)


@functools.cache
def answer_files() -> tuple[dict, ...]:
    return tuple(json.loads(path.read_text(encoding="utf-8"))
                 for path in sorted((DATA / "answers").glob("*.json")))


def screen(answers: object) -> None:
    """The property: answers are recorded or refused with AnswerError; the session decides."""
    if not isinstance(answers, dict):
        return  # the CLI refuses anything but an object before a session sees it
    session = ScreeningSession(form(), clock=lambda: NOON)
    parse_or_refuse(lambda: session.answer_all(answers), AnswerError)
    for name, value in list(answers.items())[:20]:
        parse_or_refuse(lambda name=name, value=value: session.answer(name, value), AnswerError)
    session.decision()
    session.problems()
    session.answers_json()
    outcome = parse_or_refuse(session.outcome)
    if not isinstance(outcome, UserError):
        outcome.to_json()


def as_json(value: object) -> object:
    """What json.loads gives for the answers file the fuzzer wrote (None if it refuses it)."""
    try:
        return json.loads(dump_json(value))
    except (ValueError, RecursionError):  # refused by the CLI before the session
        return None


@fuzz_settings(80)
@given(data=st.data())
def test_answer_files_changed(data):
    base = data.draw(st.sampled_from(answer_files()), label="file")
    screen(as_json(mutate_tree(data, base, max_mutations=4)))


@fuzz_settings(60)
@given(answers=st.dictionaries(
    st.one_of(st.sampled_from([item.name for item in load_form(SHIPPED_FORM).items]),
              odd_text(70)),
    json_values(), max_size=8))
def test_any_values_for_any_items(answers):
    screen(answers)
    screen(as_json(answers))


def test_an_answers_file_with_a_huge_integer_is_refused_cleanly(tmp_path):
    from fieldscreen.cli.screening import read_answers

    path = tmp_path / "answers.json"
    path.write_text('{"age_years": ' + "9" * 5000 + "}", encoding="utf-8")
    with pytest.raises(UserError) as refused:
        read_answers(path)
    check_user_error(refused.value)


# -- scenario files -------------------------------------------------------------------------------


@functools.cache
def scenario_texts() -> tuple[str, ...]:
    return tuple(path.read_text(encoding="utf-8")
                 for path in sorted(shipped_scenarios_dir().glob("*.yaml"))[:4])


@functools.cache
def scenario_trees() -> tuple[object, ...]:
    return tuple(to_plain(parse_yaml(text, "scenario.yaml")) for text in scenario_texts())


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("scenarios")


_names = itertools.count()


def load(folder: Path, text: str) -> None:
    """The property: a Scenario that checks and replays, or clean SourceProblems."""
    path = folder / f"scenario-{next(_names)}.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        scenario = parse_or_refuse(lambda: load_scenario(path, form()), SourceProblems)
    finally:
        path.unlink()
    if isinstance(scenario, Scenario):
        check = check_scenario(scenario, form(), clock=lambda: NOON)
        check.lines()
        for step in replay_steps(scenario, form(), clock=lambda: NOON):
            step.why()


@fuzz_settings(60)
@given(data=st.data())
def test_scenario_documents_changed(fuzz_dir, data):
    tree = data.draw(st.sampled_from(scenario_trees()), label="scenario")
    load(fuzz_dir, dump_yaml(mutate_tree(data, tree, max_mutations=3)))


@fuzz_settings(40)
@given(data=st.data())
def test_scenario_text_changed(fuzz_dir, data):
    text = data.draw(st.sampled_from(scenario_texts()), label="scenario")
    load(fuzz_dir, mutate_text(data, text))


def test_scenario_messages_quote_at_most_a_line_of_what_they_refuse(fuzz_dir):
    text = scenario_texts()[0].replace("id: settled-child", "id: " + "x" * 100_000).replace(
        "answers:\n", "answers:\n  " + "k" * 1000 + ": 1\n", 1)
    path = fuzz_dir / "long.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceProblems) as refused:
        load_scenario(path, form())
    assert len(refused.value.problems) == 2
    assert all(len(p.message) < 400 for p in refused.value.problems)
