"""Media in the form format: names per item and choice, refused when path-like or of the
wrong kind, `forms check` refusing a missing file, XLSForm media columns both ways, and the
order of the clips the wizard plays."""

from __future__ import annotations

import pytest

from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import check_paths, load_form_text
from fieldscreen.forms.media import (
    FormAudio,
    answer_order,
    generated_answer_name,
    generated_question_name,
)
from fieldscreen.forms.xlsform import export_xlsform, import_xlsform
from tests.unit.media.forms import FORM_WITH_MEDIA
from tests.unit.media.helpers import form_with_media


def test_items_and_choices_carry_their_media():
    form = load_form_text(FORM_WITH_MEDIA, "media.yaml")
    item = form.item("sleeps_safe")
    assert dict(item.media.audio) == {"ar": "sleeps_ar.ogg"}
    assert item.media.image == "house.png"
    choices = form.choice_lists["child_scale"].choices
    assert dict(choices[0].media.audio) == {"ar": "yes_ar.ogg"}
    assert choices[2].media.image == "no.png"
    assert choices[2].image == "answer-no" or choices[2].image is None  # the icon stays


@pytest.mark.parametrize(("written", "words"), [
    ("../x.ogg", "not a media file name"),
    ("/etc/x.ogg", "not a media file name"),
    ("x\\0.ogg", "not a media file name"),
    ("sub/x.ogg", "not a media file name"),
    ("page.html", "not a recording"),
    ("drawing.svg", "not a recording"),
])
def test_a_path_like_or_wrong_kind_of_media_name_is_refused(written, words):
    text = FORM_WITH_MEDIA.replace("{ar: sleeps_ar.ogg}", '{ar: "' + written + '"}')
    with pytest.raises(SourceProblems) as problems:
        load_form_text(text, "media.yaml")
    assert words in problems.value.message
    assert "\x00" not in problems.value.message


def test_an_svg_picture_is_refused():
    text = FORM_WITH_MEDIA.replace("image: house.png", "image: house.svg")
    with pytest.raises(SourceProblems, match=r"must end in \.jpeg, \.jpg, \.png"):
        load_form_text(text, "media.yaml")


def test_audio_in_a_language_the_form_does_not_have_is_refused():
    text = FORM_WITH_MEDIA.replace("{ar: sleeps_ar.ogg}", "{uk: sleeps_uk.ogg}")
    with pytest.raises(SourceProblems, match="'uk' is not listed"):
        load_form_text(text, "media.yaml")


def test_forms_check_refuses_a_media_file_missing_from_the_media_folder(tmp_path):
    path = form_with_media(tmp_path)
    assert check_paths([path]) == []
    (tmp_path / "media-test-media" / "house.png").unlink()
    problems = check_paths([path])
    assert len(problems) == 1
    assert "house.png" in problems[0].message and "media-test-media" in problems[0].message
    assert problems[0].line > 0


def test_the_forms_check_command_fails_on_a_missing_media_file(tmp_path, capsys):
    from fieldscreen.cli import main

    path = form_with_media(tmp_path, {})
    assert main(["forms", "check", str(path)]) == 1
    assert "sleeps_ar.ogg" in capsys.readouterr().out


def test_xlsform_media_columns_round_trip_and_pyxform_accepts_them(tmp_path):
    from pyxform.xls2xform import convert

    form = load_form_text(FORM_WITH_MEDIA, "media.yaml")
    workbook = tmp_path / "media.xlsx"
    export_xlsform(form, FORM_WITH_MEDIA, workbook)
    result = import_xlsform(workbook)
    again = load_form_text(result.yaml_text, "again.yaml")
    assert again.item("sleeps_safe").media == form.item("sleeps_safe").media
    assert [c.media for c in again.choice_lists["child_scale"].choices] == [
        c.media for c in form.choice_lists["child_scale"].choices]
    xform = convert(xlsform=str(workbook)).xform
    assert '<value form="audio">jr://audio/sleeps_ar.ogg</value>' in xform
    assert '<value form="image">jr://images/house.png</value>' in xform
    assert '<value form="audio">jr://audio/yes_ar.ogg</value>' in xform


def test_pyxform_aliases_and_plain_media_columns_are_read(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    survey = workbook.active
    survey.title = "survey"
    survey.append(["type", "name", "label::English (en)", "label::Arabic (ar)",
                   "audio::Arabic (ar)", "media::audio", "image", "fs_audience"])
    survey.append(["select_one yn", "q1", "Hello", "مرحبا", "q1_ar.ogg", "q1_en.mp3",
                   "door.jpg", "child"])
    choices = workbook.create_sheet("choices")
    choices.append(["list_name", "name", "label::English (en)", "label::Arabic (ar)",
                    "media::audio::Arabic (ar)", "media::image"])
    choices.append(["yn", "yes", "Yes", "نعم", "yes_ar.ogg", "tick.png"])
    choices.append(["yn", "no", "No", "لا", None, None])
    settings = workbook.create_sheet("settings")
    settings.append(["form_id", "version", "default_language"])
    settings.append(["aliases", "1", "English (en)"])
    path = tmp_path / "aliases.xlsx"
    workbook.save(path)
    result = import_xlsform(path)
    assert not [w for w in result.warnings if "media" in w.message or "audio" in w.message]
    form = load_form_text(result.yaml_text, "aliases.yaml")
    assert dict(form.item("q1").media.audio) == {"ar": "q1_ar.ogg", "en": "q1_en.mp3"}
    assert form.item("q1").media.image == "door.jpg"
    yes = form.choice_lists["yn"].choices[0]
    assert dict(yes.media.audio) == {"ar": "yes_ar.ogg"} and yes.media.image == "tick.png"


def test_a_bad_media_name_in_a_workbook_is_refused_at_its_row(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    survey = workbook.active
    survey.title = "survey"
    survey.append(["type", "name", "label::English (en)", "media::audio::English (en)"])
    survey.append(["note", "n1", "Hello", "../../etc/passwd.ogg"])
    path = tmp_path / "bad.xlsx"
    workbook.save(path)
    with pytest.raises(SourceProblems) as problems:
        import_xlsform(path)
    assert "#survey:2:" in str(problems.value.problems[0]) or problems.value.problems[0].line == 2
    assert "not a media file name" in problems.value.message


def test_clips_play_the_question_then_its_answers_in_card_order():
    from fieldscreen.ui.field.answer_cards import card_numbers

    form = load_form_text(FORM_WITH_MEDIA, "media.yaml")
    choices = form.choice_lists["child_scale"].choices
    ordered = answer_order(choices)
    numbers = card_numbers([choice.name for choice in choices])
    assert [c.name for c in ordered] == [c.name for _n, c in sorted(
        zip(numbers, choices, strict=True), key=lambda pair: pair[0])]
    files = {"sleeps_ar.ogg": b"recorded question", "yes_ar.ogg": b"recorded yes"}
    for choice in choices:
        files[generated_answer_name(form.id, "ar", "child_scale", choice.name)] = (
            b"generated " + choice.name.encode())
    files[generated_question_name(form.id, "ar", "sleeps_safe")] = b"generated question"
    clips = FormAudio(form, files).clips("sleeps_safe", "ar")
    # The recorded voices win over the generated ones; answers by card: yes, no, not sure...
    assert clips == (b"recorded question", b"recorded yes", b"generated no",
                     b"generated not_sure", b"generated rather_not_say")
    assert FormAudio(form, files).clips("sleeps_safe", "uk") == ()
    assert FormAudio(form, files).clips("no_such_item", "ar") == ()
