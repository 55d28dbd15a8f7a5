"""The documentation tells the truth: every verb is documented, and CI runs the README's command."""

from __future__ import annotations

import argparse
import re

from fieldscreen.cli import build_parser
from fieldscreen.forms.schema import ItemType, Role
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _verbs(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _verbs(sub, f"{prefix}{name} ")
                found.extend(nested or [f"{prefix}{name}"])
    return found


def test_every_verb_is_documented_in_the_readme():
    verbs = _verbs(build_parser())
    assert "forms check" in verbs and "screen" in verbs
    for verb in verbs:
        assert f"### `fieldscreen {verb}" in README, f"README lacks a section for {verb!r}"


def _code_line_after(heading: str) -> str:
    section = README.split(heading, 1)[1]
    return re.search(r"```sh\n(.+?)\n```", section, re.DOTALL).group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    command = _code_line_after("## Run the tests")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines()
    assert "pytest" in command


def test_readme_try_it_command_installs_and_starts_the_demo():
    command = _code_line_after("## Try it")
    assert "pip install --require-hashes -r requirements/app.lock" in command
    assert "pip install --no-deps --no-build-isolation . " in command
    assert command.endswith("fieldscreen demo")


def test_readme_test_command_installs_from_the_test_lock():
    command = _code_line_after("## Run the tests")
    assert "pip install --require-hashes -r requirements/test.lock" in command
    assert "pip install --no-deps --no-build-isolation -e ." in command


def test_form_format_doc_covers_every_type_and_role():
    doc = (ROOT / "docs" / "form-format.md").read_text(encoding="utf-8")
    for item_type in ItemType:
        assert f"`{item_type.value}`" in doc
    for role in Role:
        assert f"`{role.value}`" in doc
