"""Fuzzing services directories: from a file, from text (as a deployment pack carries one).

Any input gives a `ServicesDirectory` or `SourceProblems`; a directory that loads answers
`matching` for every decision and area without error.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldscreen.errors import SourceProblems
from fieldscreen.forms.schema import Outcome
from fieldscreen.forms.services import ServicesDirectory, load_services, read_services
from fieldscreen.forms.yamlsource import parse_yaml
from tests.conftest import SHIPPED_SERVICES
from tests.fuzz.conftest import fuzz_settings, parse_or_refuse
from tests.fuzz.strategies import (
    dump_yaml,
    mutate_bytes,
    mutate_text,
    mutate_tree,
    odd_text,
    to_plain,
)


@functools.cache
def services_text() -> str:
    return SHIPPED_SERVICES.read_text(encoding="utf-8")


@functools.cache
def services_tree() -> object:
    return to_plain(parse_yaml(services_text(), "services.yaml"))


def read(text: str) -> None:
    result = parse_or_refuse(lambda: read_services(parse_yaml(text, "pack:services"),
                                                   "pack:services"), SourceProblems)
    if isinstance(result, ServicesDirectory):
        for outcome in Outcome:
            for area in (None, "all", "central_district", "\ud800"):
                result.matching(outcome, area)


@fuzz_settings(80)
@given(data=st.data())
def test_mutated_services_documents(data):
    read(dump_yaml(mutate_tree(data, services_tree())))


@fuzz_settings(60)
@given(data=st.data())
def test_mutated_services_text(data):
    read(mutate_text(data, services_text()))


@fuzz_settings(40)
@given(text=odd_text(300))
def test_random_text_as_services(text):
    read(text)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("services-files")


_names = itertools.count()


@fuzz_settings(30)
@given(data=st.data())
def test_mutated_services_file_bytes(fuzz_dir, data):
    path = fuzz_dir / f"services-{next(_names)}.yaml"
    path.write_bytes(mutate_bytes(data, SHIPPED_SERVICES.read_bytes()))
    try:
        parse_or_refuse(lambda: load_services(path), SourceProblems)
    finally:
        path.unlink()


def test_a_default_language_that_is_no_language_code_is_refused_briefly():
    # A megabyte of default_language was echoed in every service's message.
    text = services_text().replace("default_language: en", "default_language: " + "x" * 100_000)
    with pytest.raises(SourceProblems) as refused:
        read_services(parse_yaml(text, "services.yaml"), "services.yaml")
    messages = [p.message for p in refused.value.problems]
    assert messages == ["default_language must be a language code"]
