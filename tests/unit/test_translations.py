"""Translations: the catalogs compile (Babel and GNU msgfmt), keep their placeholders and cover
the UI and the form; the form extractor and `load_translated_form`; right-to-left; dates and
numbers for the active language. See docs/translating.md."""

from __future__ import annotations

import datetime
import importlib
import io
import re
import shutil
import string
import subprocess
import tomllib
from pathlib import Path

import babel
import pytest
from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract, extract_from_dir
from babel.messages.frontend import CommandLineInterface, parse_mapping_cfg
from babel.messages.pofile import read_po, write_po
from babel.numbers import get_decimal_symbol, get_group_symbol

from fieldscreen import i18n
from fieldscreen.errors import SourceProblems
from fieldscreen.forms import translations
from fieldscreen.forms.schema import Audience
from fieldscreen.forms.translations import (
    coverage,
    extract_form,
    load_translated_form,
    translate_form,
)
from tests.conftest import ROOT, SHIPPED_FORM, SHIPPED_SERVICES

TRANSLATIONS = ROOT / "translations"
DOMAINS = (i18n.DOMAIN, i18n.FORMS_DOMAIN)
TEMPLATES = {
    i18n.DOMAIN: TRANSLATIONS / "fieldscreen.pot",
    i18n.FORMS_DOMAIN: TRANSLATIONS / "fieldscreen-forms.pot",
}
FORMS_MAPPING = TRANSLATIONS / "babel-forms.cfg"
DOCS = ROOT / "docs" / "translating.md"

# Every language folder is checked; these must be there.
REQUIRED_LANGUAGES = {"en", "fr", "es", "ar", "uk"}
LANGUAGES = sorted(
    folder.name for folder in TRANSLATIONS.iterdir() if (folder / "LC_MESSAGES").is_dir()
)
CATALOGS = [(language, domain) for language in LANGUAGES for domain in DOMAINS]
# Fully translated UI, and at least FORMS_TARGET of the form text, without fuzzy entries.
COMPLETE_LANGUAGES = ("fr", "es", "ar")
FORMS_TARGET = 0.95
# Languages still being translated keep at least this much, so nothing slips back unseen.
PARTIAL_LANGUAGES = {"uk": 0.90}


def _po_path(language: str, domain: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / f"{domain}.po"


def _read(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def _strings(message: Message) -> tuple[str, ...]:
    value = message.string
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def _ids(message: Message) -> tuple[str, ...]:
    return tuple(message.id) if isinstance(message.id, list | tuple) else (message.id,)


def _is_translated(message: Message | None) -> bool:
    """gettext's rule: a translation is used when it is not fuzzy and not empty."""
    return (message is not None and not message.fuzzy
            and all(text for text in _strings(message)))


def test_the_programme_languages_have_catalogs():
    assert REQUIRED_LANGUAGES <= set(LANGUAGES)
    for language, domain in CATALOGS:
        assert _po_path(language, domain).is_file(), f"missing {_po_path(language, domain)}"


# -- compiling ----------------------------------------------------------------------------


@pytest.mark.parametrize(("language", "domain"), CATALOGS)
def test_catalog_compiles_with_pybabel(language, domain, tmp_path):
    po = _po_path(language, domain)
    catalog = _read(po, language)
    assert not catalog.fuzzy, (
        f"{po}: the header is marked fuzzy, so `pybabel compile` skips the whole catalog")
    errors = [(message.id, error) for message, message_errors in catalog.check()
              for error in message_errors]
    assert not errors, f"{po}: {errors[:5]}"
    mo = tmp_path / f"{domain}.mo"
    code = CommandLineInterface().run(
        ["pybabel", "-q", "compile", "-i", str(po), "-o", str(mo), "-l", language,
         "-D", domain])
    assert code == 0
    assert mo.is_file() and mo.stat().st_size > 0


def _msgfmt() -> str:
    found = shutil.which("msgfmt")
    if found is None:
        pytest.fail("GNU gettext's msgfmt is not installed, so the catalogs cannot be checked "
                    "with `msgfmt --check`: install gettext (apt-get install gettext)")
    return found


@pytest.mark.parametrize(("language", "domain"), CATALOGS)
def test_catalog_passes_msgfmt_check(language, domain, tmp_path):
    po = _po_path(language, domain)
    result = subprocess.run(
        [_msgfmt(), "--check", "-o", str(tmp_path / "out.mo"), str(po)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr, result.stderr


# -- catalog contents ---------------------------------------------------------------------

_PERCENT = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]")
_BRACES = re.compile(r"\{[^{}]*\}")


def _placeholders(text: str, percent: bool) -> set[str]:
    """`{name}` fields (with conversion and format spec) and, for python-format, `%(name)s`."""
    found: set[str] = set()
    try:
        for _literal, field, spec, conversion in string.Formatter().parse(text):
            if field is not None:
                found.add("{" + field + (f"!{conversion}" if conversion else "")
                          + (f":{spec}" if spec else "") + "}")
    except ValueError:  # not a format string: compare the brace groups as written
        found.update(_BRACES.findall(text))
    if percent:
        found.update(_PERCENT.findall(text.replace("%%", "")))
    return found


@pytest.mark.parametrize(("language", "domain"), CATALOGS)
def test_placeholders_are_kept(language, domain):
    catalog = _read(_po_path(language, domain), language)
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        percent = "python-format" in message.flags
        wanted = set().union(*(_placeholders(text, percent) for text in _ids(message)))
        for index, text in enumerate(_strings(message)):
            if text and _placeholders(text, percent) != wanted:
                wrong.append(f"{_ids(message)[0]!r} [{index}]: {text!r}")
    assert not wrong, f"{language}/{domain}: placeholders differ:\n" + "\n".join(wrong[:10])


@pytest.mark.parametrize(("language", "domain"), CATALOGS)
def test_headers_and_plural_forms_follow_babel(language, domain):
    po = _po_path(language, domain)
    catalog = _read(po, language)
    expected = Catalog(locale=language).plural_forms
    assert catalog.plural_forms == expected
    assert f'"Plural-Forms: {expected}\\n"' in po.read_text(encoding="utf-8")
    assert str(catalog.locale) == language
    assert catalog.domain in (None, domain)
    for message in catalog:
        if message.pluralizable and any(_strings(message)):
            assert len(_strings(message)) == catalog.num_plurals, message.id


def test_arabic_has_six_plural_forms_and_ukrainian_three():
    assert _read(_po_path("ar", i18n.DOMAIN), "ar").num_plurals == 6
    assert _read(_po_path("uk", i18n.DOMAIN), "uk").num_plurals == 3


@pytest.mark.parametrize(("language", "domain"), CATALOGS)
def test_catalog_is_updated_from_its_template(language, domain):
    template = _read(TEMPLATES[domain])
    catalog = _read(_po_path(language, domain), language)
    missing = [message.id for message in template
               if message.id and catalog.get(message.id, context=message.context) is None]
    assert not missing, (
        f"{language}/{domain} lacks {len(missing)} messages of the template; run "
        f"pybabel update (docs/translating.md). First: {missing[:3]}")


def _coverage(language: str, domain: str) -> tuple[list[object], int]:
    template = _read(TEMPLATES[domain])
    catalog = _read(_po_path(language, domain), language)
    ids = [(message.id, message.context) for message in template if message.id]
    missing = [key for key in ids if not _is_translated(catalog.get(key[0], context=key[1]))]
    return missing, len(ids)


@pytest.mark.parametrize("language", COMPLETE_LANGUAGES)
def test_ui_is_fully_translated(language):
    missing, total = _coverage(language, i18n.DOMAIN)
    assert total > 100
    assert not missing, (
        f"{language}: {len(missing)} of {total} UI messages are untranslated or fuzzy: "
        f"{missing[:5]}")


@pytest.mark.parametrize("language", COMPLETE_LANGUAGES)
def test_forms_are_mostly_translated(language):
    missing, total = _coverage(language, i18n.FORMS_DOMAIN)
    assert total > 50
    assert (total - len(missing)) / total >= FORMS_TARGET, (
        f"{language}: only {total - len(missing)} of {total} form texts are translated")


@pytest.mark.parametrize(("language", "share"), sorted(PARTIAL_LANGUAGES.items()))
@pytest.mark.parametrize("domain", DOMAINS)
def test_partial_languages_keep_their_coverage(language, share, domain):
    missing, total = _coverage(language, domain)
    assert (total - len(missing)) / total >= share


def test_fuzzy_entries_are_listed_in_the_docs():
    doc_lines = DOCS.read_text(encoding="utf-8").splitlines()
    unlisted = []
    for language, domain in CATALOGS:
        for message in _read(_po_path(language, domain), language):
            if message.id and message.fuzzy:
                key = message.context or _ids(message)[0]
                if not any(f"`{key}`" in line and f"| {language} |" in line
                           for line in doc_lines):
                    unlisted.append(f"{language}: {key}")
    assert not unlisted, f"fuzzy entries missing from docs/translating.md: {unlisted}"


def test_every_language_is_installed_with_the_package():
    with (ROOT / "pyproject.toml").open("rb") as handle:
        data_files = tomllib.load(handle)["tool"]["setuptools"]["data-files"]
    for language in LANGUAGES:
        key = f"share/fieldscreen/translations/{language}/LC_MESSAGES"
        assert data_files.get(key) == [f"translations/{language}/LC_MESSAGES/*.po"], key


# -- the forms template and the extractor --------------------------------------------------


def _extracted_forms_messages() -> dict[tuple[str, str], str]:
    with FORMS_MAPPING.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = {}
    for _filename, _lineno, message, comments, context in extract_from_dir(
        ROOT, method_map, options_map
    ):
        found[(context, message)] = " ".join(" ".join(comments).split())
    return found


def test_forms_template_is_current():
    with TEMPLATES[i18n.FORMS_DOMAIN].open("rb") as handle:
        template = read_po(handle)
    committed = {(message.context, message.id): " ".join(" ".join(message.auto_comments).split())
                 for message in template if message.id}
    extracted = _extracted_forms_messages()
    assert extracted == committed, (
        "translations/fieldscreen-forms.pot is out of date; run: pybabel extract "
        "-F translations/babel-forms.cfg -o translations/fieldscreen-forms.pot --project "
        "FieldScreen --version 0.1.0 --copyright-holder \"FieldScreen contributors\" "
        "--no-wrap .  (docs/translating.md)")
    assert len(extracted) > 100


def _shipped_texts(form) -> dict[tuple[str, str], Audience | None]:
    """Every text of the loaded form, keyed as the extractor must key it, with its audience."""
    texts: dict[tuple[str, str], Audience | None] = {
        (f"{form.id}/title", form.title.get("en")): Audience.WORKER}
    child_lists = {item.choice_list.name for item in form.items
                   if item.choice_list is not None and item.audience is Audience.CHILD}
    for choice_list in form.choice_lists.values():
        for choice in choice_list.choices:
            audience = Audience.CHILD if choice_list.name in child_lists else Audience.WORKER
            texts[(f"{form.id}/choice_lists/{choice_list.name}/{choice.name}/label",
                   choice.label.get("en"))] = audience
    for item in form.items:
        if item.label:
            texts[(f"{form.id}/items/{item.name}/label", item.label.get("en"))] = item.audience
        if item.hint:
            texts[(f"{form.id}/items/{item.name}/hint", item.hint.get("en"))] = Audience.WORKER
        if item.constraint_message:
            texts[(f"{form.id}/items/{item.name}/constraint_message",
                   item.constraint_message.get("en"))] = Audience.WORKER
    return texts


def test_extractor_finds_every_text_of_the_shipped_form(shipped_form):
    with SHIPPED_FORM.open("rb") as handle:
        found = {(context, text): " ".join(comments)
                 for _line, funcname, (context, text), comments
                 in extract_form(handle, DEFAULT_KEYWORDS.keys(), [], {})}
    expected = _shipped_texts(shipped_form)
    assert set(found) == set(expected)
    kinds = {context.split("/")[-1] for context, _text in found}
    assert kinds == {"title", "label", "hint", "constraint_message"}
    assert sum(context.endswith("/constraint_message") for context, _ in found) == 2
    for key, audience in expected.items():
        if audience is not None:
            assert f"audience: {audience.value}," in found[key], key
    assert "audience: child," in found[
        ("child-screening/items/a_threatened/label",
         shipped_form.item("a_threatened").label.get("en"))]
    assert "audience: worker," in found[
        ("child-screening/items/aw_adult_answers/label",
         shipped_form.item("aw_adult_answers").label.get("en"))]


def test_extractor_gives_contexts_through_babel():
    with SHIPPED_FORM.open("rb") as handle:
        results = list(extract("fieldscreen.forms.translations.extract_form", handle))
    assert results and all(context and context.startswith("child-screening/")
                           for _line, _message, _comments, context in results)
    yes = [message for _line, message, _comments, context in results
           if context == "child-screening/choice_lists/child_scale/yes/label"]
    assert yes == ["Yes"]


def test_extractor_is_registered_as_a_babel_entry_point():
    with (ROOT / "pyproject.toml").open("rb") as handle:
        entry_points = tomllib.load(handle)["project"]["entry-points"]["babel.extractors"]
    module, attribute = entry_points["fieldscreen_form"].split(":")
    assert getattr(importlib.import_module(module), attribute) is extract_form


def test_extractor_skips_other_yaml_and_reports_broken_files():
    with SHIPPED_SERVICES.open("rb") as handle:
        assert list(extract_form(handle, [], [], {})) == []
    broken = io.BytesIO(b"format: fieldscreen-form/1\nitems: [\n")
    with pytest.raises(SourceProblems):
        list(extract_form(broken, [], [], {}))


# -- form translations at run time --------------------------------------------------------


def test_load_translated_form_gives_french_labels(shipped_form):
    translations.clear_cache()
    form = load_translated_form(SHIPPED_FORM)
    assert form.languages[0] == "en"
    assert {"fr", "es", "ar"} <= set(form.languages)
    french = _read(_po_path("fr", i18n.FORMS_DOMAIN), "fr")
    item = form.item("a_threatened")
    wanted = french.get(item.label.get("en"), context="child-screening/items/a_threatened/label")
    assert item.label.get("fr") == wanted.string != item.label.get("en")
    # The items point at the translated choice lists, not the English ones.
    assert item.choice_list is form.choice_lists["child_scale"]
    assert item.choice_list.choices[0].label.get("fr") == "Oui"
    assert form.title.get("fr") != form.title.get("en")
    assert coverage(form, "fr") == 1.0
    # The form that was loaded is left as it was.
    assert "fr" not in shipped_form.languages
    assert "fr" not in shipped_form.item("a_threatened").label.languages


def test_translated_forms_are_cached(shipped_form):
    assert translate_form(shipped_form, "fr") is translate_form(shipped_form, "fr")
    assert translate_form(shipped_form, "en") is shipped_form
    assert translate_form(shipped_form, "de") is shipped_form  # no catalog: nothing to add


def _write_forms_catalog(folder: Path, language: str,
                         entries: list[tuple[str, str, str, bool]]) -> None:
    catalog = Catalog(locale=language, domain=i18n.FORMS_DOMAIN)
    for context, source, text, fuzzy in entries:
        catalog.add(source, text, context=context, flags=("fuzzy",) if fuzzy else ())
    target = folder / language / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / f"{i18n.FORMS_DOMAIN}.po").open("wb") as handle:
        write_po(handle, catalog)


@pytest.fixture
def catalog_dir(tmp_path, monkeypatch):
    """An empty translations folder in place of the shipped one."""
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    monkeypatch.setattr(i18n, "_cache", {})
    translations.clear_cache()
    yield tmp_path
    translations.clear_cache()


def test_missing_and_fuzzy_texts_fall_back_to_english(catalog_dir, shipped_form):
    threatened = shipped_form.item("a_threatened").label.get("en")
    _write_forms_catalog(catalog_dir, "fr", [
        ("child-screening/title", shipped_form.title.get("en"), "Titre en français", False),
        ("child-screening/choice_lists/child_scale/yes/label", "Yes", "Oui", False),
        ("child-screening/items/a_threatened/label", threatened, "Traduction douteuse", True),
    ])
    form = load_translated_form(SHIPPED_FORM)
    assert form.languages == ("en", "fr")
    assert form.title.get("fr") == "Titre en français"
    label = form.item("a_threatened").label
    assert "fr" not in label.languages  # fuzzy: not used, as gettext does
    assert label.get("fr", form.default_language) == threatened
    missing = form.item("b_trusted_adult").label
    assert missing.get("fr", form.default_language) == missing.get("en")
    assert 0 < coverage(form, "fr") < 0.1


def test_yaml_text_wins_over_the_catalog(catalog_dir, mini_form):
    assent = mini_form.item("assent").label.get("en")
    _write_forms_catalog(catalog_dir, "fr", [
        ("mini/title", mini_form.title.get("en"), "Titre du catalogue", False),
        ("mini/items/assent/label", assent, "Est-ce qu'on peut parler un moment ?", False),
    ])
    form = translate_form(mini_form, "fr")
    assert form.title.get("fr") == "Mini dépistage"  # written in the YAML file
    assert form.item("assent").label.get("fr") == "Est-ce qu'on peut parler un moment ?"
    assert form.languages == mini_form.languages == ("en", "fr")


def test_forms_catalogs_are_a_gettext_domain():
    assert {"en", "fr", "es", "ar", "uk"} <= set(i18n.catalog_languages(i18n.FORMS_DOMAIN))
    forms = i18n.translations_for("es", i18n.FORMS_DOMAIN)
    assert forms.pgettext("child-screening/choice_lists/child_scale/yes/label", "Yes") == "Sí"
    assert i18n.translations_for("es").gettext("Skip") == "Saltar"


# -- scripts, dates and numbers -----------------------------------------------------------


def test_arabic_is_declared_right_to_left():
    assert babel.Locale("ar").character_order == "right-to-left"
    assert i18n.is_right_to_left("ar")
    for language in LANGUAGES:
        expected = babel.Locale.parse(language).character_order == "right-to-left"
        assert i18n.is_right_to_left(language) is expected
    assert i18n.is_right_to_left("fa") and i18n.is_right_to_left("he")
    assert not i18n.is_right_to_left("uk") and not i18n.is_right_to_left("fr")
    assert not i18n.is_right_to_left("not a language")


def test_language_names_are_written_in_their_own_language():
    assert i18n.language_name("fr") == "Français"
    assert i18n.language_name("ar") == "العربية"
    assert i18n.language_name("uk") == "Українська"
    assert i18n.language_name("zz-unknown") == "zz-unknown"


@pytest.fixture
def use_language():
    yield i18n.set_language
    i18n.set_language(i18n.SOURCE_LANGUAGE)


def test_dates_follow_the_active_language(use_language):
    day = datetime.date(2026, 11, 3)
    use_language("en")
    assert i18n.format_date(day) == "Nov 3, 2026"
    use_language("fr")
    assert i18n.format_date(day) == "3 nov. 2026"
    assert i18n.format_date(day, "long") == "3 novembre 2026"
    use_language("ar")
    assert "2026" in i18n.format_date(day) and i18n.format_date(day) != "Nov 3, 2026"
    use_language("es")
    moment = datetime.datetime(2026, 11, 3, 14, 5)
    text = i18n.format_datetime(moment)
    assert babel_format_date(day, "medium", locale="es") in text
    assert babel_format_time(moment.time(), "short", locale="es") in text
    assert "14:05" in text


def test_numbers_follow_the_active_language(use_language):
    use_language("en")
    assert i18n.format_number(1234567) == "1,234,567"
    assert i18n.format_decimal(0.5, 2) == "0.50"
    use_language("fr")
    group, decimal = get_group_symbol("fr"), get_decimal_symbol("fr")
    assert i18n.format_number(1234.5) == f"1{group}234{decimal}5"
    assert i18n.format_decimal(1234.567, 1) == f"1{group}234{decimal}6"
    use_language("es")
    assert i18n.format_decimal(0.5, 2) == "0,50"
    assert i18n.format_decimal(3, 0) == "3"
    with pytest.raises(ValueError):
        i18n.format_decimal(1, -1)
