"""Fuzzing form files: the strict YAML reader and the form loader, from text and from bytes.

A form file is written by hand or arrives inside a deployment pack, so any text must give
either a `Form` or `SourceProblems` (every problem located and worded for a person). A form
that loads must also be usable: a screening session on it starts and decides.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import check_paths, load_form, load_form_text
from fieldscreen.forms.schema import Form
from fieldscreen.forms.yamlsource import parse_yaml
from tests.conftest import DATA, SHIPPED_FORM
from tests.fuzz.conftest import (
    bounded_memory,
    check_message,
    fuzz_settings,
    parse_or_refuse,
)
from tests.fuzz.strategies import (
    dump_yaml,
    mutate_bytes,
    mutate_text,
    mutate_tree,
    odd_text,
    to_plain,
)

MINI_FORM = DATA / "forms" / "mini.yaml"
NOON = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@functools.cache
def form_texts() -> tuple[str, ...]:
    return tuple(path.read_text(encoding="utf-8") for path in (MINI_FORM, SHIPPED_FORM))


@functools.cache
def form_trees() -> tuple[object, ...]:
    return tuple(to_plain(parse_yaml(text, "<form>")) for text in form_texts())


def load(text: str) -> Form | Exception:
    """The property: a Form, or clean SourceProblems; a loaded form screens without error."""
    result = parse_or_refuse(lambda: load_form_text(text, "fuzz.yaml"), SourceProblems)
    if isinstance(result, Form):
        session = ScreeningSession(result, clock=lambda: NOON)
        session.decision()
        session.problems()
    return result


@fuzz_settings(60)
@given(data=st.data(), which=st.sampled_from([0, 1]))
def test_mutated_form_documents(data, which):
    tree = mutate_tree(data, form_trees()[which])
    load(dump_yaml(tree))


@fuzz_settings(60)
@given(data=st.data(), which=st.sampled_from([0, 1]))
def test_mutated_form_text(data, which):
    load(mutate_text(data, form_texts()[which]))


@fuzz_settings(60)
@given(text=st.one_of(odd_text(400), st.lists(st.sampled_from(
    ["- ", "  ", "a: ", "items:", "[", "]", "{", "}", "? ", "&x ", "*x", "!!str ", "'", '"',
     "---\n", "...\n", "\n", "# c\n", "|\n", ">-\n", "${x}", "\t", "\ud800", "\x00"]),
    max_size=60).map("".join)))
def test_random_text_as_form(text):
    load(text)


@fuzz_settings(40)
@given(data=st.data(), which=st.sampled_from([0, 1]))
def test_mutated_form_text_with_the_pure_python_reader(data, which):
    # The pure-Python reader is the one used where libyaml is missing.
    text = mutate_text(data, form_texts()[which])
    with mock.patch.object(yaml, "__with_libyaml__", False):
        load(text)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("form-files")


_names = itertools.count()


@fuzz_settings(40)
@given(data=st.data(), raw=st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00" * 10]).flatmap(
        lambda prefix: st.just(prefix + MINI_FORM.read_bytes())),
    st.just(MINI_FORM.read_text(encoding="utf-8").encode("utf-16")),
    st.just(MINI_FORM.read_bytes())))
def test_form_file_bytes(fuzz_dir, data, raw):
    raw = mutate_bytes(data, raw) if data.draw(st.booleans(), label="mutate") else raw
    path = fuzz_dir / f"form-{next(_names)}.yaml"
    path.write_bytes(raw)
    try:
        parse_or_refuse(lambda: load_form(path), SourceProblems)
        for problem in parse_or_refuse(lambda: check_paths([path, fuzz_dir / "missing.yaml"])):
            check_message(problem.message)
    finally:
        path.unlink()


# -- hostile giants ------------------------------------------------------------------------------

MIB = 1024 * 1024


def _giants() -> dict[str, str]:
    # Large enough to show how memory and time grow, small enough to trace in CI; the
    # ones over the 2 MiB limit for form text must be refused before parsing.
    item = "  - {name: q%d, type: text, label: {en: Question}}\n"
    base = form_texts()[0]
    return {
        "deep flow lists": "items: " + "[" * 100_000 + "]" * 100_000,
        "deep block mappings": "".join(f"{' ' * level}k{level}:\n" for level in range(3000)),
        "many keys": "".join(f"k{n}: {n}\n" for n in range(8_000)),
        "many items": base + "".join(item % n for n in range(1_000)),
        "one long scalar": "title: " + "x" * (MIB + MIB // 2),
        "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n"
                      + "".join(f"{chr(98 + n)}: &{chr(98 + n)} [*{chr(97 + n)}] \n"
                                for n in range(20)),
        "long expression": base.replace('relevant: "${assent} = \'yes\'"',
                                        "relevant: \"" + "(" * 100_000 + "\""),
        "huge integer": "version: " + "9" * 100_000,
        "over the limit": "k: v\n" * 600_000,
        "over the limit, deep": "[" * (3 * MIB),
    }


@pytest.mark.parametrize("name", list(_giants()))
def test_hostile_giant_forms_are_refused_in_bounded_memory_and_time(name):
    text = _giants()[name]
    with bounded_memory(64 * MIB + 60 * len(text)):
        load(text)


# -- regressions: what the targets above found --------------------------------------------------


def _refused(text: str) -> SourceProblems:
    with pytest.raises(SourceProblems) as refused:
        load_form_text(text, "fuzz.yaml")
    return refused.value


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
def test_a_lone_surrogate_is_text_that_is_not_utf8(libyaml):
    # It arrives as "\ud800" in a pack's JSON; libyaml raised UnicodeEncodeError.
    text = form_texts()[0].replace("version: \"1.0\"", "version: \"1.0\ud800\"")
    with mock.patch.object(yaml, "__with_libyaml__", libyaml and yaml.__with_libyaml__):
        problems = _refused(text).problems
    assert [(p.line, p.message) for p in problems] == [
        (4, "the file is not UTF-8 text; save it as UTF-8")]


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
def test_numbers_and_dates_python_cannot_build_stay_text(libyaml):
    # int() refuses more than 4300 digits and date() refuses 30 February, with a bare
    # ValueError from inside PyYAML; as text they reach the checks that name the key.
    with mock.patch.object(yaml, "__with_libyaml__", libyaml and yaml.__with_libyaml__):
        data = parse_yaml("a: " + "9" * 5000 + "\nb: 2026-02-30\nc: 2026-03-01\nd: 12\n", "x")
        problems = _refused(form_texts()[0].replace("weight: 3", "weight: " + "9" * 5000))
    assert data == {"a": "9" * 5000, "b": "2026-02-30", "c": dt.date(2026, 3, 1), "d": 12}
    assert any(p.message == "'weight' must be a number" for p in problems.problems)


def test_form_text_over_the_file_limit_is_refused_before_parsing():
    # A pack carries form text without a file; it gets the limit a file gets.
    problems = _refused("k: v\n" * 600_000).problems
    assert [(p.line, p.message) for p in problems] == [
        (1, "the file is larger than 2 MiB; split it or remove media")]


def test_a_list_where_a_choice_list_name_belongs_is_a_located_problem():
    # `choices: [yes_no]` raised TypeError (a list cannot be looked up in a dict).
    text = form_texts()[0].replace("choices: yes_no\n    required: true",
                                   "choices: [yes_no]\n    required: true", 1)
    messages = [p.message for p in _refused(text).problems]
    assert "item 'assent': no choice list called ['yes_no']" in messages


def test_messages_quote_at_most_a_line_of_what_they_refuse():
    huge, key = "x" * 100_000, "k" * 1000  # YAML keys stop at 1024 characters
    text = form_texts()[0].replace("format: fieldscreen-form/1", f"format: {huge}\n{key}: 1")
    problems = _refused(text).problems
    assert {p.line for p in problems} == {2, 3}
    assert all(len(p.message) < 400 for p in problems), [len(p.message) for p in problems]
