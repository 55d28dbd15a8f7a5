"""Form loading: shipped forms are valid; every class of bad form is named by file and line."""

from __future__ import annotations

import pytest

from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import check_paths, load_form
from fieldscreen.forms.schema import Audience, IndicatorKind, ItemType, Level, Role
from fieldscreen.forms.services import ServiceType, load_services
from tests.conftest import DATA, SHIPPED_FORM, SHIPPED_SERVICES

MINI = (DATA / "forms" / "mini.yaml").read_text(encoding="utf-8")


def problems_for(tmp_path, text: str, name: str = "form.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceProblems) as raised:
        load_form(path)
    return path, raised.value.problems


def line_of(text: str, marker: str) -> int:
    """The line on which `marker` (which may span lines) starts."""
    position = text.find(marker)
    if position < 0:
        raise AssertionError(f"marker {marker!r} not in text")
    return text.count("\n", 0, position) + 1


# (what is wrong, text to replace, replacement, marker on the expected line, words expected)
BAD_FORMS = [
    # PyYAML notices the unclosed bracket on the next line.
    ("yaml syntax", "id: mini", "id: [mini", 'version: "1.0"', "YAML"),
    ("duplicate key", "id: mini", "id: mini\nid: other", "id: other", "twice"),
    ("anchor", "id: mini", "id: &x mini", "id: &x", "anchors"),
    ("wrong format", "format: fieldscreen-form/1", "format: xlsform", "format: xlsform",
     "format must be"),
    ("bad id", "id: mini", "id: Mini Form", "id: Mini Form", "id 'Mini Form'"),
    ("unknown top key", "id: mini", "id: mini\nrevision: 2", "revision: 2", "unknown key"),
    ("item key typo", "relevant: \"${assent} = 'yes'\"", "relevent: \"${assent} = 'yes'\"",
     "relevent:", "unknown key 'relevent'"),
    ("bad item name", "- name: age\n", "- name: 2age\n", "name: 2age", "item name"),
    ("duplicate item", "- name: sex\n", "- name: age\n", "name: age\n        type: select_one",
     "used twice"),
    ("unknown type", "type: integer", "type: number", "type: number", "unknown type"),
    ("missing choice list", "choices: sexes", "choices: genders", "choices: genders",
     "no choice list"),
    ("select without choices", "        choices: sexes\n", "", "- name: sex",
     "needs 'choices"),
    ("duplicate choice", "- {name: boy, label: {en: Boy}}",
     "- {name: girl, label: {en: Boy}}", "{name: girl, label: {en: Boy}}", "appears twice"),
    ("choice without label", "- {name: boy, label: {en: Boy}}", "- {name: boy}",
     "{name: boy}", "needs a label"),
    ("bad level", "level: E", "level: F", "level: F", "level must be"),
    ("bad kind", "kind: resilience\n        weight: 10", "kind: protective\n        weight: 10",
     "kind: protective", "kind must be"),
    ("zero weight", "weight: 10", "weight: 0", "weight: 0", "'weight' must be between"),
    ("non-canonical scale", "choices: observation\n        audience: worker\n        level: A",
     "choices: child_scale\n        audience: worker\n        level: A",
     "choices: child_scale\n        audience: worker", "canonical"),
    ("red flag on resilience", "kind: resilience\n        weight: 10",
     "kind: resilience\n        red_flag: true\n        weight: 10",
     "red_flag: true\n        weight: 10", "only risk items"),
    ("indicator without audience",
     "        audience: child\n        level: E", "        level: E", "- name: e_no_papers",
     "needs 'audience"),
    ("expression syntax", "relevant: \"${b_afraid} = 'yes'\"",
     "relevant: \"${b_afraid} = = 'yes'\"", "= = 'yes'", "item 'b_afraid_more': relevant"),
    ("expression unknown function", "count-selected(${exploitation})",
     "__import__('os')", "__import__", "item 'risk_total'"),
    ("unknown reference", "relevant: \"${b_afraid} = 'yes'\"",
     "relevant: \"${b_scared} = 'yes'\"", "- name: b_afraid_more", "${b_scared}"),
    ("cycle", "relevant: \"${assent} = 'yes'\"", "relevant: \"${risk_total} > 0\"",
     "- name: main", "circle"),
    ("label without default language", "title: {en: Mini screening, fr: Mini dépistage}",
     "title: {fr: Mini dépistage}", "title:", "default language"),
    ("label in unlisted language", "title: {en: Mini screening, fr: Mini dépistage}",
     "title: {en: Mini screening, de: Mini}", "title:", "'de' is not listed"),
    ("rules key missing", "  gaps_for_follow_up: 3\n", "", 'version: "mini-r1"',
     "'gaps_for_follow_up'"),
    ("monitor above refer", "thresholds: {refer: 6, monitor: 3}",
     "thresholds: {refer: 6, monitor: 9}", "thresholds: {refer: 6", "monitor must not"),
    ("bad answer score", "gaps_for_follow_up: 3",
     "gaps_for_follow_up: 3\n  answer_scores: {not_sure: 2}", "answer_scores:", "from 0 to 1"),
    ("role twice", "role: sex", "role: age", "- name: sex", "already given"),
    ("role on wrong type", "role: exploitation_form", "role: referral_consent",
     "role: referral_consent\n        audience: worker", "referral_consent role needs"),
    ("empty group", "    items:\n      - name: age",
     "    items: []\n    hidden:\n      - name: age", "- name: main", "needs a non-empty"),
    ("required note", "- name: risk_total\n        type: calculate",
     "- name: risk_total\n        required: true\n        type: calculate",
     "required: true\n        type: calculate", "cannot be required"),
    ("boolean written yes", "required: true", "required: yes", "required: yes",
     "true or false"),
]


@pytest.mark.parametrize(("old", "new", "marker", "words"),
                         [case[1:] for case in BAD_FORMS], ids=[case[0] for case in BAD_FORMS])
def test_each_class_of_bad_form_is_named_by_file_and_line(tmp_path, old, new, marker, words):
    assert old in MINI, "the test case no longer matches the mini form"
    text = MINI.replace(old, new, 1)
    path, problems = problems_for(tmp_path, text)
    expected_line = line_of(text, marker)
    matching = [p for p in problems if words in p.message]
    assert matching, f"no problem mentions {words!r}: {[str(p) for p in problems]}"
    assert all(p.path == str(path) for p in problems)
    assert expected_line in [p.line for p in matching], [str(p) for p in problems]
    assert str(matching[0]).startswith(f"{path}:")


def test_expression_errors_name_item_and_position(tmp_path):
    text = MINI.replace("count-selected(${exploitation})", "count-selected(${exploitation}) +")
    _path, problems = problems_for(tmp_path, text)
    [problem] = problems
    assert "item 'risk_total': calculation" in problem.message
    assert "character" in problem.message


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MINI.replace("dépistage", "d\xe9pistage").encode("latin-1"))
    with pytest.raises(SourceProblems) as raised:
        load_form(path)
    [problem] = raised.value.problems
    assert problem.line == line_of(MINI, "dépistage")
    assert "UTF-8" in problem.message


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(SourceProblems) as raised:
        load_form(tmp_path / "nope.yaml")
    assert "no such file" in str(raised.value)
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(SourceProblems) as raised:
        load_form(empty)
    assert str(raised.value).startswith(f"{empty}:1:")


def test_deeply_nested_yaml_is_refused_cleanly(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("items: " + "[" * 50_000 + "]" * 50_000, encoding="utf-8")
    with pytest.raises(SourceProblems):
        load_form(path)


def test_all_problems_are_reported_at_once(tmp_path):
    text = MINI.replace("level: E", "level: F").replace("type: integer", "type: number")
    _path, problems = problems_for(tmp_path, text)
    assert len(problems) >= 2


def test_yes_and_no_stay_strings(mini_form):
    assert mini_form.choice_lists["yes_no"].names == ("yes", "no")


def test_mini_form_shape(mini_form):
    age = mini_form.item("age")
    assert age.type is ItemType.INTEGER and age.role is Role.AGE and age.parent == "main"
    flag = mini_form.item("a_watched")
    assert flag.audience is Audience.WORKER
    assert flag.indicator.level is Level.A and flag.indicator.red_flag
    assert mini_form.item("c_family_support").indicator.kind is IndicatorKind.RESILIENCE
    assert mini_form.item("main").children[0] == "age"
    assert [item.name for item in mini_form.items][:3] == ["assent", "main", "age"]


# -- the shipped files ---------------------------------------------------------------------


def test_shipped_checklist_is_valid_and_complete(shipped_form):
    questions = list(shipped_form.questions())
    # Issue 20 added the missing exploitation themes (about 20 child questions, 17 worker
    # observations, several behind filters); the bound still catches a runaway form.
    assert 40 <= len(questions) <= 100
    indicators = list(shipped_form.indicators())
    levels = {item.indicator.level for item in indicators}
    assert levels == set(Level)
    assert any(item.indicator.red_flag for item in indicators)
    assert any(item.indicator.kind is IndicatorKind.RESILIENCE for item in indicators)
    assert {item.audience for item in indicators} == {Audience.CHILD, Audience.WORKER}
    roles = {item.role for item in shipped_form.items if item.role}
    assert roles == set(Role)
    # Consent comes first: the first group asks for the child's assent, and everything
    # after it depends on that answer.
    first_group = shipped_form.items[0]
    assert first_group.type is ItemType.GROUP
    assent = [shipped_form.item(name) for name in first_group.children
              if "assent" in name]
    assert assent and assent[0].required
    later_groups = [item for item in shipped_form.items
                    if item.type is ItemType.GROUP and item.parent is None][1:]
    assert all(assent[0].name in group.relevant.references for group in later_groups)
    assert all(item.label.get("en") for item in questions)


def test_shipped_services_cover_every_type():
    directory = load_services(SHIPPED_SERVICES)
    assert {service.type for service in directory.services} == set(ServiceType)
    assert any(service.urgent for service in directory.services)


def test_check_paths_on_shipped_folder():
    assert check_paths([SHIPPED_FORM.parent]) == []


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
def test_both_yaml_parsers_agree_and_refuse_the_same(monkeypatch, libyaml):
    import yaml

    from fieldscreen.forms.yamlsource import parse_yaml

    if libyaml and not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml here")
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    data = parse_yaml(SHIPPED_FORM.read_text(encoding="utf-8"), "f.yaml")
    monkeypatch.undo()
    assert data == parse_yaml(SHIPPED_FORM.read_text(encoding="utf-8"), "f.yaml")
    assert data["items"].item_lines[0] == line_of(SHIPPED_FORM.read_text(encoding="utf-8"),
                                                  "  - name: consent\n")
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    for text, words in [("a: &x 1\nb: *x", "&name"), ("a: !foo 1", "tags"),
                        ("a: 1\na: 2", "twice"), ("a: yes", None)]:
        if words is None:
            assert parse_yaml(text, "f.yaml") == {"a": "yes"}
            continue
        with pytest.raises(SourceProblems) as raised:
            parse_yaml(text, "f.yaml")
        assert words in str(raised.value)
