"""Real XLSForms (pyxform's own examples) come in whole, or are refused for a documented reason.

pyxform's parse of each original is the oracle (tests/xlsform_corpus.py): a workbook that
imports must give the same names, types, logic, choices and labels after import, `forms
check`, export and pyxform again. Any silent difference fails. The counts are printed by
``python -m tests.xlsform_corpus``.
"""

from __future__ import annotations

import pytest

from fieldscreen.errors import SourceProblems
from fieldscreen.forms.xlsform import import_xlsform
from tests.conftest import ROOT
from tests.xlsform_corpus import CORPUS, classify, corpus

pytest.importorskip("pyxform")

# The floor only rises: faithful imports measured when the corpus came in (issue 24).
FAITHFUL_AT_LEAST = 29
# Every refusal names its reason in docs/xlsform.md: out of scope, or a mistake of the
# form's own ("Form mistakes": bad_calc.xlsx's prose, or_other.xlsx's `pastel=yes`...).
OTHER_REFUSALS_AT_MOST = 0
DOC = ROOT / "docs" / "xlsform.md"


@pytest.fixture(scope="module")
def outcomes():
    return {path.relative_to(CORPUS).as_posix(): classify(path) for path in corpus()}


def test_the_corpus_is_there_with_its_licence():
    assert len(corpus()) >= 49
    licence = (CORPUS / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("Copyright (c) 2015, XLSForm")
    assert "pyxform" in (CORPUS / "README.md").read_text(encoding="utf-8")


def test_no_form_is_imported_wrong(outcomes):
    wrong = {name: o.reason for name, o in outcomes.items() if o.kind == "wrong"}
    assert not wrong, wrong


def test_faithful_imports_do_not_fall(outcomes):
    faithful = sorted(name for name, o in outcomes.items() if o.kind == "faithful")
    assert len(faithful) >= FAITHFUL_AT_LEAST, faithful


def test_refusals_name_the_documented_scope(outcomes):
    text = DOC.read_text(encoding="utf-8")
    assert "## Out of scope" in text
    refused = [o for o in outcomes.values() if o.kind == "refused"]
    assert refused and all(o.reason for o in refused)
    for reason in ("repeats are not supported", "locations are not collected",
                   "photos, recordings and files are not collected"):
        assert reason in text and any(reason in o.reason for o in refused), reason


def test_form_mistakes_are_documented_and_say_what_to_fix(outcomes):
    text = DOC.read_text(encoding="utf-8")
    assert "## Form mistakes" in text and "a form ODK itself could not run" in text
    mistakes = {name: o.reason for name, o in outcomes.items() if o.kind == "mistake"}
    assert set(mistakes) >= {"example_xls/bad_calc.xlsx", "example_xls/or_other.xlsx",
                             "bug_example_xls/xl_date_ambiguous.xlsx"}, mistakes
    for name in mistakes:
        with pytest.raises(SourceProblems) as refused:
            import_xlsform(CORPUS / name)
        assert all("a mistake in the form" in problem.message
                   and 'docs/xlsform.md, "Form mistakes"' in problem.message
                   for problem in refused.value.problems), name


def test_other_refusals_do_not_grow(outcomes):
    # Refused for a reason that is not out of scope (a limit, a choice without a label):
    # each is a rule FieldScreen keeps, but the list should only shrink.
    other = sorted(name for name, o in outcomes.items() if o.kind == "refused_other")
    assert len(other) <= OTHER_REFUSALS_AT_MOST, other


def test_the_carried_form_logic_matches_pyxform(tmp_path, monkeypatch):
    # A cascade, a conditional required, a computed answer and a worker's default in one
    # workbook: pyxform's reading of the export must equal its reading of the original.
    import openpyxl

    import tests.xlsform_corpus as oracle

    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    for row in [["type", "name", "label", "choice_filter", "required", "calculation",
                 "default", "fs_audience"],
                ["select_one states", "state", "State", None, "yes", None, "washington",
                 "worker"],
                ["select_one counties", "county", "County", "${state}=cf", None, None, None,
                 None],
                ["integer", "n", "N", None, "${state}='texas'", None, None, None],
                ["integer", "n2", "N2", None, None, "${n} * 2", None, None]]:
        survey.append(row)
    choices = book.create_sheet("choices")
    for row in [["list_name", "name", "label", "cf"], ["states", "texas", "Texas", None],
                ["states", "washington", "Washington", None],
                ["counties", "king", "King", "washington"],
                ["counties", "cameron", "Cameron", "texas"]]:
        choices.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version"])
    settings.append(["cascade", "1"])
    path = tmp_path / "cascade.xlsx"
    book.save(path)
    monkeypatch.setattr(oracle, "CORPUS", tmp_path)
    outcome = classify(path)
    assert outcome.kind == "faithful", outcome.reason


def test_the_xform_check_sees_a_changed_bind_and_not_a_moved_path():
    from tests.xlsform_corpus import _bind_difference, _binds

    def xform(bind: str) -> str:
        return f"<instance>\n <data id='x'><q/></data></instance>{bind}"

    plain = xform('<bind nodeset="/data/q" type="string" relevant="${a} = 1"/>')
    same = xform('<bind nodeset="/data/g/q" type="string" relevant="${a} = 1"/>')
    required = xform('<bind nodeset="/data/q" type="string" relevant="${a} = 1" '
                     'required="true()"/>')
    assert _bind_difference(_binds(plain), _binds(same)) == ""
    assert "XForm binds differ" in _bind_difference(_binds(plain), _binds(required))


def test_readonly_hidden_and_external_choices_match_pyxform(tmp_path, monkeypatch):
    # The features of decisions 68, 69 and 73 in one workbook: pyxform's reading of the
    # export (and its XForm's binds) must equal its reading of the original.
    import openpyxl

    import tests.xlsform_corpus as oracle

    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    for row in [["type", "name", "label", "choice_filter", "readonly", "default",
                 "calculation"],
                ["select_one zones", "zone", "Zone", None, None, None, None],
                ["select_one_external kinds", "kind", "Kind", "zone=${zone}", None, None,
                 None],
                ["text", "site", "Site", None, "yes", "Camp 4", None],
                ["integer", "twice", "Twice", None, "true()", None, "2 * 2"],
                ["note", "seen", "Seen", None, None, None, None],
                ["hidden", "batch", None, None, None, "b-7", None],
                ["hidden", "empty", None, None, None, None, None]]:
        survey.append(row)
    choices = book.create_sheet("choices")
    for row in [["list_name", "name", "label"], ["zones", "north", "North"],
                ["zones", "south", "South"]]:
        choices.append(row)
    external = book.create_sheet("external_choices")
    for row in [["list_name", "name", "label", "zone"], ["kinds", "a", "A", "north"],
                ["kinds", "b", "B", "south"]]:
        external.append(row)
    path = tmp_path / "features.xlsx"
    book.save(path)
    monkeypatch.setattr(oracle, "CORPUS", tmp_path)
    outcome = classify(path)
    assert outcome.kind == "faithful", outcome.reason
