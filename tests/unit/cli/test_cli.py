"""The command line: every verb's success and failure, as a person or a script would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fieldscreen.cli import main
from tests.conftest import DATA, ROOT, SHIPPED_FORM

ANSWERS = DATA / "answers"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_forms_check_shipped_folder_passes(capsys):
    code, out, _err = run(capsys, "forms", "check", str(ROOT / "forms"))
    assert code == 0
    assert out == ""


def test_forms_check_broken_form_names_file_and_line(capsys, tmp_path):
    broken = tmp_path / "broken.yaml"
    text = SHIPPED_FORM.read_text(encoding="utf-8").replace("level: C", "level: Z", 1)
    broken.write_text(text, encoding="utf-8")
    line = text[: text.index("level: Z")].count("\n") + 1
    code, out, _err = run(capsys, "forms", "check", str(broken), str(SHIPPED_FORM))
    assert code == 1
    assert out.splitlines() == [f"{broken}:{line}: {out.split(': ', 1)[1].strip()}"]
    assert "level must be" in out


def test_forms_describe_json_lists_every_item(capsys, shipped_form):
    code, out, _err = run(capsys, "forms", "describe", str(SHIPPED_FORM), "--json")
    assert code == 0
    items = json.loads(out)
    assert [item["name"] for item in items] == [item.name for item in shipped_form.items]
    required_keys = {"name", "type", "level", "kind", "weight", "red_flag", "audience", "choices"}
    assert all(required_keys <= set(item) for item in items)
    flag = next(item for item in items if item["red_flag"])
    assert flag["level"] == "A" and flag["kind"] == "risk"
    assert flag["choices"] in (["yes", "not_sure", "no", "rather_not_say"],
                               ["clear", "some", "not_observed", "cannot_assess"])


def test_forms_describe_text(capsys):
    code, out, _err = run(capsys, "forms", "describe", str(SHIPPED_FORM))
    assert code == 0
    assert "red flag" in out


@pytest.mark.parametrize(
    ("answers", "decision", "follow_up"),
    [("information", "information", False), ("urgent", "urgent", False),
     ("referral", "referral", False), ("follow-up", "information", True)],
)
def test_screen_json(capsys, answers, decision, follow_up):
    code, out, _err = run(capsys, "screen", str(SHIPPED_FORM), "--answers",
                          str(ANSWERS / f"{answers}.json"), "--json", "--today", "2026-11-23")
    assert code == 0
    result = json.loads(out)
    assert result["decision"] == decision
    assert result["follow_up"] is follow_up
    assert set(result["scores"]) == {"A", "B", "C", "D", "E"}
    if decision == "urgent":
        assert result["reasons"] == ["a_papers_kept"]


def test_screen_text_says_what_it_is_not(capsys):
    code, out, _err = run(capsys, "screen", str(SHIPPED_FORM), "--answers",
                          str(ANSWERS / "referral.json"))
    assert code == 0
    assert "Referral" in out
    assert "not identification or proof" in out


@pytest.mark.parametrize(
    ("answers", "words"),
    [("unknown-item", "'favourite_colour' is not an item"),
     ("bad-choice", "the answer to 'a_papers_kept' is not one of its choices")],
)
def test_screen_rejects_bad_answers(capsys, answers, words):
    code, out, err = run(capsys, "screen", str(SHIPPED_FORM), "--answers",
                         str(ANSWERS / f"{answers}.json"))
    assert code == 1
    assert out == ""
    assert words in err


@pytest.mark.parametrize(
    ("content", "words"),
    [("{not json", "not valid JSON"), ("[1, 2]", "one JSON object"),
     ("[" * 100_000, "JSON"), (b"\xff\xfe", "UTF-8")],
)
def test_screen_rejects_bad_answer_files(capsys, tmp_path, content, words):
    path = tmp_path / "answers.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    code, _out, err = run(capsys, "screen", str(SHIPPED_FORM), "--answers", str(path))
    assert code == 1
    assert words in err
    assert "Traceback" not in err


def test_screen_missing_answers_file(capsys, tmp_path):
    code, _out, err = run(capsys, "screen", str(SHIPPED_FORM), "--answers",
                          str(tmp_path / "none.json"))
    assert code == 1 and "No answers file" in err


def test_bug_report_leaves_out_the_message(capsys, monkeypatch):
    import fieldscreen.cli as cli
    import fieldscreen.cli.forms as forms_verbs

    secret = "Amina Example, 12, lives at the harbour"

    def explode(_args):
        raise ValueError(secret)

    monkeypatch.setattr(forms_verbs, "_run_check", explode)
    code, out, err = run(capsys, "forms", "check", "x")
    assert code == cli.EXIT_BUG
    assert "ValueError" in err
    assert "Amina" not in err + out


def _console_script() -> Path:
    return Path(sys.executable).parent / "fieldscreen"


def test_console_script_and_module_both_run(tmp_path):
    for command in ([str(_console_script())], [sys.executable, "-m", "fieldscreen"]):
        result = subprocess.run([*command, "forms", "check", str(SHIPPED_FORM)],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr


def test_broken_pipe_is_not_a_bug():
    describe = subprocess.Popen(
        [sys.executable, "-m", "fieldscreen", "forms", "describe", str(SHIPPED_FORM), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert describe.stdout is not None
    describe.stdout.read(10)
    describe.stdout.close()
    _out, err = describe.communicate(timeout=60)
    assert b"bug" not in err


def test_xlsform_verbs_round_trip_the_shipped_checklist(capsys, tmp_path, shipped_form):
    from fieldscreen.forms.loader import load_form

    workbook = tmp_path / "checklist.xlsx"
    code, _out, err = run(capsys, "forms", "export-xlsform", str(SHIPPED_FORM), "-o",
                          str(workbook))
    assert code == 0, err
    back = tmp_path / "back.yaml"
    code, _out, err = run(capsys, "forms", "import-xlsform", str(workbook), "-o", str(back))
    assert code == 0, err
    assert "warning" not in err
    again = load_form(back)
    assert [item.name for item in again.items] == [item.name for item in shipped_form.items]


def test_import_xlsform_of_a_broken_file_exits_1(capsys, tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a spreadsheet")
    code, _out, err = run(capsys, "forms", "import-xlsform", str(broken), "-o",
                          str(tmp_path / "out.yaml"))
    assert code == 1
    assert "Traceback" not in err
    assert not (tmp_path / "out.yaml").exists()


def test_language_option_translates_messages_and_labels(capsys):
    code, out, _err = run(capsys, "--language", "fr", "screen", str(SHIPPED_FORM),
                          "--answers", str(ANSWERS / "urgent.json"))
    assert code == 0
    assert "Decision:" not in out
    assert "identification" in out
    # The next command, without the option, is in English again.
    code, out, _err = run(capsys, "screen", str(SHIPPED_FORM), "--answers",
                          str(ANSWERS / "urgent.json"))
    assert "Decision:" in out


def test_forms_describe_shows_a_conditional_required(capsys, tmp_path):
    from tests.conftest import DATA

    text = (DATA / "forms" / "mini.yaml").read_text(encoding="utf-8")
    marker = "      - name: sex\n"
    assert marker in text
    form = tmp_path / "conditional.yaml"
    form.write_text(text.replace(marker, marker + "        required: \"${assent} = 'yes'\"\n",
                                 1), encoding="utf-8")
    code, out, _err = run(capsys, "forms", "describe", str(form), "--json")
    assert code == 0
    [sex] = [item for item in json.loads(out) if item["name"] == "sex"]
    assert sex["required"] is False and sex["required_when"] == "${assent} = 'yes'"
