"""The command line is assembled from verb groups: each `register(verbs)` adds its own verbs,
in the order `VERB_GROUPS` lists them, and a group kept outside the package plugs in with
one line."""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap

import pytest

import fieldscreen.cli as cli
from fieldscreen.cli import VERB_GROUPS, build_parser, main


def _top_verbs(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def test_help_lists_the_groups_verbs_in_registry_order():
    verbs = _top_verbs(build_parser())
    # In this order (another group may add its verbs in between, where it is registered).
    shipped = ["demo", "field", "console", "forms", "screen", "profile", "record", "sync",
               "import", "export", "coordinator", "audit"]
    assert [verb for verb in verbs if verb in shipped] == shipped
    # Every group module adds at least one verb and only through `register`.
    for name in VERB_GROUPS:
        assert callable(importlib.import_module(name).register), name


def test_every_verb_has_a_handler():
    def leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
        found = False
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found = True
                    yield from leaves(sub, (*path, name))
        if not found:
            yield path, parser

    for path, parser in leaves(build_parser()):
        assert callable(parser.get_default("run")), " ".join(path)


@pytest.fixture
def outside_group(tmp_path, monkeypatch):
    """A verb group written outside the package, as a partner module would be."""
    (tmp_path / "outside_verbs.py").write_text(textwrap.dedent('''
        """A verb group kept outside fieldscreen/cli/."""
        from fieldscreen.errors import UserError


        def register(verbs):
            greet = verbs.add_parser("greet", help="say hello")
            greet.add_argument("--refuse", action="store_true")
            greet.set_defaults(run=_run_greet)


        def _run_greet(args):
            if args.refuse:
                raise UserError("Refused, as asked.")
            print("hello from", args.profile)
            return 0
    '''), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli, "VERB_GROUPS", (*VERB_GROUPS, "outside_verbs"))
    yield
    sys.modules.pop("outside_verbs", None)


def test_a_group_outside_the_package_plugs_in_with_one_line(outside_group, capsys):
    assert _top_verbs(build_parser())[-1] == "greet"
    assert main(["--profile", "p1", "greet"]) == 0
    assert capsys.readouterr().out == "hello from p1\n"
    # Its errors go through the same handling as every other verb's.
    assert main(["greet", "--refuse"]) == 1
    assert "Error: Refused, as asked." in capsys.readouterr().err
