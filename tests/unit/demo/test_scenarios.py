"""Training scenarios: the shipped ones match the engine, and wrong or broken ones are caught."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from fieldscreen.demo.scenarios import (
    SCENARIO_FORMAT,
    check_all,
    check_scenario,
    load_scenario,
    load_scenarios,
    replay_steps,
    shipped_scenarios_dir,
)
from fieldscreen.engine.referral import Rule
from fieldscreen.errors import SourceProblems
from fieldscreen.forms.schema import Outcome
from tests.conftest import ROOT

TODAY = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
SHIPPED = ROOT / "forms" / "scenarios"


def clock():
    return TODAY


@pytest.fixture(scope="module")
def shipped_checks(shipped_form):
    return check_all(SHIPPED, shipped_form, clock)


def copy_shipped(tmp_path, stem):
    """Copy one shipped scenario into its own folder and return the copy's path."""
    (source,) = SHIPPED.glob(f"*-{stem}.yaml")
    target = tmp_path / source.name
    shutil.copy(source, target)
    return target


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path, fragment):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


# -- the shipped library --------------------------------------------------------------------


def test_shipped_dir_is_the_scenarios_folder():
    assert shipped_scenarios_dir().resolve() == SHIPPED.resolve()


def test_every_shipped_scenario_matches_the_engine(shipped_checks):
    assert len(shipped_checks) >= 12
    failures = [line for check in shipped_checks if not check.ok for line in check.lines()]
    assert not failures, "\n".join(failures)


def test_shipped_scenarios_name_exactly_the_rules_that_fire(shipped_checks):
    # The format only asks that the listed rules fire; the shipped notes list all of them.
    for check in shipped_checks:
        fired = {reason.rule for reason in check.decision.reasons}
        assert set(check.scenario.expected.rules) == fired, check.scenario.id


def test_shipped_scenarios_state_their_hand_computed_scores(shipped_checks):
    for check in shipped_checks:
        expected = check.scenario.expected
        assert None not in (expected.risk, expected.protection, expected.net), check.scenario.id


def test_shipped_scenarios_are_named_by_number_and_id():
    for path in SHIPPED.glob("*.yaml"):
        number, _, rest = path.stem.partition("-")
        assert number.isdigit() and len(number) == 2, path.name
        assert f"id: {rest}\n" in path.read_text(encoding="utf-8"), path.name


def test_shipped_children_have_fictional_names(shipped_checks):
    for check in shipped_checks:
        assert check.scenario.child.name.endswith(" Example"), check.scenario.child.name


def test_the_library_covers_every_lesson(shipped_checks):
    scenarios = [check.scenario for check in shipped_checks]
    assert {s.expected.decision for s in scenarios} == set(Outcome)
    assert {s.expected.follow_up for s in scenarios} == {True, False}
    fired = {reason.rule for check in shipped_checks for reason in check.decision.reasons}
    assert {Rule.RED_FLAG, Rule.ELEVATED_LEVELS, Rule.LOWERED_THRESHOLDS,
            Rule.INFORMATION_GAPS, Rule.NET_SCORE_REFER, Rule.NET_SCORE_MONITOR} <= fired
    assert any(s.worker_actions.escalate for s in scenarios)
    assert any(s.worker_actions.de_escalate for s in scenarios)
    assert any(s.worker_actions.no_consent_reason and s.expected.consent_reason_needed
               for s in scenarios)


def test_the_library_shows_both_kinds_of_red_flag(shipped_checks, shipped_form):
    audiences = set()
    for check in shipped_checks:
        for reason in check.decision.reasons:
            if reason.rule is Rule.RED_FLAG:
                audiences |= {shipped_form.item(name).audience.value for name in reason.items}
    assert audiences == {"child", "worker"}


def test_the_library_shows_resilience_halving_risk(shipped_checks):
    halved = [c for c in shipped_checks
              if c.decision.outcome is Outcome.MONITOR
              and c.decision.protection >= c.decision.risk / 2
              and c.decision.net == pytest.approx(c.decision.risk / 2)
              and c.decision.risk >= c.decision.thresholds.refer]
    assert halved


def test_the_library_lowers_thresholds_for_age_and_for_unaccompanied(shipped_checks):
    lowered = [c.scenario.answers for c in shipped_checks
               if c.decision.fired(Rule.LOWERED_THRESHOLDS)]
    assert any(answers["age_years"] < 12 and answers["unaccompanied"] != "yes"
               for answers in lowered)
    assert any(answers["age_years"] >= 12 and answers["unaccompanied"] == "yes"
               for answers in lowered)


def test_the_library_has_a_child_who_stops_early(shipped_checks, shipped_form):
    indicators = [item.name for item in shipped_form.indicators()]
    stopped = [c for c in shipped_checks
               if sum(name not in c.scenario.answers for name in indicators) >= 20]
    assert stopped and all(c.decision.follow_up for c in stopped)


def test_shipped_outcomes_can_be_stored(shipped_checks):
    for check in shipped_checks:
        assert check.outcome is not None, check.scenario.id
        assert check.outcome.final is check.final_decision


# -- wrong expectations ---------------------------------------------------------------------


def test_a_wrong_expectation_fails_and_says_what_differs(tmp_path, shipped_form):
    path = copy_shipped(tmp_path, "child-says-yes-to-red-flag")
    edit(path, "  decision: urgent", "  decision: monitor")
    edit(path, "  follow_up: false", "  follow_up: true")
    edit(path, "  rules: [red_flag]", "  rules: [red_flag, elevated_levels]")
    edit(path, "  net: 7\n", "  net: 6\n")
    (check,) = check_all(tmp_path, shipped_form, clock)
    assert not check.ok
    problems = {problem.line: problem.message for problem in check.mismatches}
    assert all(problem.path == str(path) for problem in check.mismatches)
    decision = problems[line_of(path, "  decision: monitor")]
    assert "child-says-yes-to-red-flag" in decision
    assert "'monitor'" in decision and "'urgent'" in decision
    assert "true" in problems[line_of(path, "  follow_up:")]
    rules = problems[line_of(path, "  rules:")]
    assert "elevated_levels" in rules and "red_flag" in rules
    assert "6" in problems[line_of(path, "  net:")] and "7" in problems[line_of(path, "  net:")]
    assert len(check.mismatches) == 4
    printed = "\n".join(check.lines())
    assert f"{path}:{line_of(path, '  decision: monitor')}:" in printed


def test_a_wrong_final_decision_fails(tmp_path, shipped_form):
    path = copy_shipped(tmp_path, "worker-escalates")
    edit(path, "  final_decision: referral", "  final_decision: urgent")
    (check,) = check_all(tmp_path, shipped_form, clock)
    (problem,) = check.mismatches
    assert problem.line == line_of(path, "final_decision")
    assert "'urgent'" in problem.message and "'referral'" in problem.message


def test_a_missing_no_consent_reason_fails(tmp_path, shipped_form):
    path = copy_shipped(tmp_path, "consent-refused")
    text = path.read_text(encoding="utf-8")
    start = text.index("worker_actions:")
    path.write_text(text[:start] + text[text.index("expected:"):], encoding="utf-8")
    (check,) = check_all(tmp_path, shipped_form, clock)
    assert not check.ok and check.outcome is None
    assert any("cannot be stored" in p.message and "not agreed" in p.message
               for p in check.mismatches)


def test_a_wrong_consent_expectation_fails(tmp_path, shipped_form):
    path = copy_shipped(tmp_path, "consent-refused")
    edit(path, "consent_reason_needed: true", "consent_reason_needed: false")
    (check,) = check_all(tmp_path, shipped_form, clock)
    (problem,) = check.mismatches
    assert problem.line == line_of(path, "consent_reason_needed")


def test_an_impossible_worker_action_fails(tmp_path, shipped_form):
    path = copy_shipped(tmp_path, "worker-escalates")
    edit(path, "    to: referral", "    to: information")
    (check,) = check_all(tmp_path, shipped_form, clock)
    assert any("cannot be taken" in p.message for p in check.mismatches)


def test_an_answer_breaking_a_constraint_fails_the_check(tmp_path, shipped_form):
    path = copy_shipped(tmp_path, "settled-child")
    edit(path, "  exploitation_forms: [none_identified]",
         "  exploitation_forms: [none_identified, labour]")
    (check,) = check_all(tmp_path, shipped_form, clock)
    (problem,) = check.mismatches
    assert problem.line == line_of(path, "exploitation_forms")
    assert "exploitation_forms" in problem.message


def test_rules_listed_are_the_minimum_that_must_fire(tmp_path, shipped_form):
    path = copy_shipped(tmp_path, "younger-child")
    edit(path, "  rules: [net_score_refer, lowered_thresholds]", "  rules: [net_score_refer]")
    (check,) = check_all(tmp_path, shipped_form, clock)
    assert check.ok


# -- broken files ---------------------------------------------------------------------------

TINY = f"""\
format: {SCENARIO_FORMAT}
id: tiny
title: {{en: A tiny scenario}}
form: child-screening
story: {{en: A fictional child answers a few questions.}}
child: {{name: Test Example, age: 14}}
answers:
  child_assent: "yes"
  age_years: 14
  exploitation_forms: [labour]
  a_papers_kept: "yes"
  referral_consent: "yes"
worker_actions:
  de_escalate: {{to: referral, reason: Already referred last week.}}
expected:
  decision: urgent
  follow_up: true
  final_decision: referral
  rules: [red_flag, information_gaps]
explanation: {{en: The red flag fires; most questions are open.}}
"""


def test_the_tiny_scenario_is_valid(tmp_path, shipped_form):
    (tmp_path / "01-tiny.yaml").write_text(TINY, encoding="utf-8")
    (check,) = check_all(tmp_path, shipped_form, clock)
    assert check.ok, check.lines()
    assert check.scenario.worker_actions.de_escalate.reason == "Already referred last week."


@pytest.mark.parametrize(
    ("old", "new", "line_fragment", "words"),
    [
        ("form: child-screening\n", "form: child-screening\nsetting: x\n", "setting:",
         "unknown key 'setting'"),
        ('  a_papers_kept: "yes"', '  a_paper_kept: "yes"', "a_paper_kept",
         "did you mean 'a_papers_kept'"),
        ('  a_papers_kept: "yes"', "  a_papers_kept: clear", "a_papers_kept",
         "the answer to 'a_papers_kept' is not one of its choices"),
        ("[labour]", "[labour, smuggling]", "exploitation_forms", "not one of its choices"),
        ("  age_years: 14", "  age_years: fourteen", "age_years", "whole number"),
        ("[red_flag, information_gaps]", "[red_flag, gaps]", "rules:", "unknown rule 'gaps'"),
        ("  follow_up: true", "  follow_up: true\n  score: 3", "score:", "unknown key 'score'"),
        ("  decision: urgent", "  decision: critical", "decision:", "'critical'"),
        ("  follow_up: true", "  follow_up: yes", "follow_up", "true or false"),
        (f"format: {SCENARIO_FORMAT}", "format: fieldscreen-scenario/2", "format:",
         SCENARIO_FORMAT),
        ("form: child-screening", "form: other-form", "form:", "'other-form'"),
        ("title: {en: A tiny scenario}", "title: {fr: Un petit scénario}", "title:",
         "default language 'en'"),
        ("reason: Already referred last week.", "reason: ''", "de_escalate",
         "reason' must be non-empty"),
        ("{to: referral,", "{to: later,", "de_escalate", "'later'"),
        ("age: 14}", "age: 15}", "child:", "differs from the answer to 'age_years'"),
        ("name: Test Example, ", "", "child:", "'name'"),
        ("id: tiny", "id: Tiny Scenario", "id:", "lower-case"),
        ("  child_assent:", "  knows_referral_options: maybe\n  child_assent:",
         "knows_referral_options", "acknowledged"),
        ("  child_assent:", "  consent: x\n  child_assent:", "consent: x", "takes no answer"),
        ('  child_assent: "yes"', '  child_assent: "yes"\n  child_assent: "no"',
         'child_assent: "no"', "appears twice"),
        ("explanation: {en: The red flag fires; most questions are open.}\n", "", None,
         "'explanation' is missing"),
    ],
)
def test_a_broken_file_names_file_and_line(tmp_path, shipped_form, old, new, line_fragment,
                                           words):
    path = tmp_path / "01-tiny.yaml"
    assert old in TINY
    path.write_text(TINY.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SourceProblems) as caught:
        load_scenarios(tmp_path, shipped_form)
    problems = caught.value.problems
    matching = [p for p in problems if words in p.message]
    assert matching, [str(p) for p in problems]
    assert all(p.path == str(path) for p in problems)
    expected_line = line_of(path, line_fragment) if line_fragment else 1
    assert matching[0].line == expected_line, str(matching[0])
    assert str(path) in str(caught.value)


def test_every_broken_file_is_reported_at_once(tmp_path, shipped_form):
    (tmp_path / "01-a.yaml").write_text(TINY.replace("id: tiny", "id: a").replace(
        '"yes"', "maybe", 1), encoding="utf-8")
    (tmp_path / "02-b.yaml").write_text(TINY.replace("id: tiny", "id: b").replace(
        "red_flag,", "no_such_rule,"), encoding="utf-8")
    (tmp_path / "03-c.yaml").write_text(TINY.replace("id: tiny", "id: c"), encoding="utf-8")
    with pytest.raises(SourceProblems) as caught:
        check_all(tmp_path, shipped_form, clock)
    paths = {problem.path for problem in caught.value.problems}
    assert paths == {str(tmp_path / "01-a.yaml"), str(tmp_path / "02-b.yaml")}


def test_ids_must_be_unique(tmp_path, shipped_form):
    (tmp_path / "01-tiny.yaml").write_text(TINY, encoding="utf-8")
    (tmp_path / "02-tiny.yaml").write_text(TINY, encoding="utf-8")
    with pytest.raises(SourceProblems) as caught:
        load_scenarios(tmp_path, shipped_form)
    (problem,) = caught.value.problems
    assert problem.path == str(tmp_path / "02-tiny.yaml")
    assert "01-tiny.yaml" in problem.message


def test_a_file_that_is_not_a_mapping(tmp_path, shipped_form):
    path = tmp_path / "01-list.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(SourceProblems) as caught:
        load_scenario(path, shipped_form)
    assert caught.value.problems[0].path == str(path)


def test_a_missing_folder_is_a_problem(tmp_path, shipped_form):
    with pytest.raises(SourceProblems) as caught:
        load_scenarios(tmp_path / "nowhere", shipped_form)
    assert "nowhere" in str(caught.value)


def test_other_files_in_the_folder_are_ignored(tmp_path, shipped_form):
    (tmp_path / "README.md").write_text("# notes\n", encoding="utf-8")
    assert load_scenarios(tmp_path, shipped_form) == []
    (tmp_path / "01-tiny.yaml").write_text(TINY, encoding="utf-8")
    assert [s.id for s in load_scenarios(tmp_path, shipped_form)] == ["tiny"]


def test_scenarios_load_in_file_name_order(shipped_form):
    scenarios = load_scenarios(SHIPPED, shipped_form)
    assert [s.path.name for s in scenarios] == sorted(p.name for p in SHIPPED.glob("*.yaml"))


def test_the_readme_documents_every_key():
    readme = (SHIPPED / "README.md").read_text(encoding="utf-8")
    for key in ("format", "id", "title", "form", "story", "child", "answers", "worker_actions",
                "escalate", "de_escalate", "no_consent_reason", "expected", "decision",
                "follow_up", "final_decision", "rules", "consent_reason_needed", "risk",
                "protection", "net", "explanation", SCENARIO_FORMAT):
        assert f"{key}:" in readme or f"`{key}`" in readme, key
    for rule in Rule:
        assert f"`{rule.value}`" in readme


# -- replay ---------------------------------------------------------------------------------


def scenario_named(shipped_form, stem):
    (path,) = SHIPPED.glob(f"*-{stem}.yaml")
    return load_scenario(path, shipped_form)


def test_replay_goes_answer_by_answer_in_form_order(shipped_form):
    scenario = scenario_named(shipped_form, "child-says-yes-to-red-flag")
    steps = replay_steps(scenario, shipped_form, clock)
    order = [item.name for item in shipped_form.questions()]
    assert [step.item for step in steps] == [n for n in order if n in scenario.answers]
    assert [step.number for step in steps] == list(range(1, len(steps) + 1))
    final = check_scenario(scenario, shipped_form, clock).decision
    assert steps[-1].decision.to_json() == final.to_json()


def test_replay_shows_where_the_red_flag_fires(shipped_form):
    steps = replay_steps(scenario_named(shipped_form, "child-says-yes-to-red-flag"),
                         shipped_form, clock)
    flagged = [step for step in steps if Rule.RED_FLAG in step.new_rules]
    (step,) = flagged
    assert step.item == "a_papers_kept" and step.answer == "yes" and step.counts
    assert step.outcome_changed and step.decision.outcome is Outcome.URGENT
    assert step.cited_by[0] is Rule.RED_FLAG
    assert step.new_reasons[0].items == ("a_papers_kept",)
    assert step.why() and all(isinstance(text, str) and text for text in step.why())
    # Later answers do not fire the rule again, and nothing before it had fired it.
    assert all(s.decision.fired(Rule.RED_FLAG) and not s.new_rules == (Rule.RED_FLAG,)
               for s in steps[step.number:])
    assert all(not s.decision.fired(Rule.RED_FLAG) for s in steps[: step.number - 1])


def test_replay_shows_gaps_closing_and_levels_adding_up(shipped_form):
    steps = replay_steps(scenario_named(shipped_form, "three-levels"), shipped_form, clock)
    by_item = {step.item: step for step in steps}
    # Once the child agrees to talk, every unanswered question is open until answered.
    assert Rule.INFORMATION_GAPS in by_item["child_assent"].new_rules
    cleared = [step for step in steps if Rule.INFORMATION_GAPS in step.cleared_rules]
    assert len(cleared) == 1
    assert Rule.ELEVATED_LEVELS in by_item["e_hungry_no_food"].new_rules
    assert by_item["e_hungry_no_food"].decision.outcome is Outcome.REFERRAL
    assert not by_item["age_years"].counts
