"""Gettext: the template catalog is current, and catalogs reach `_` and `ngettext`."""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from fieldscreen import i18n
from tests.conftest import ROOT


def _extracted_ids() -> set[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    ids = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_template_catalog_is_current():
    with (ROOT / "translations" / "fieldscreen.pot").open("rb") as handle:
        template = read_po(handle)
    committed = {message.id if isinstance(message.id, str) else message.id[0]
                 for message in template if message.id}
    extracted = _extracted_ids()
    missing = extracted - committed
    assert not missing, (
        "translations/fieldscreen.pot is out of date; run: pybabel extract -F babel.cfg "
        f"-o translations/fieldscreen.pot --no-wrap .  Missing: {sorted(missing)[:5]}"
    )
    assert len(extracted) > 100


def _write_french(tmp_path, monkeypatch, record_forms, plural_forms=None) -> None:
    catalog = Catalog(locale="fr", domain=i18n.DOMAIN)
    if plural_forms is not None:
        catalog.mime_headers = [("Plural-Forms", plural_forms)]
    catalog.add("All files are valid.", "Tous les fichiers sont valides.")
    catalog.add(("{count} record", "{count} records"), record_forms)
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "fieldscreen.po").open("wb") as handle:
        write_po(handle, catalog)
    monkeypatch.setattr(i18n, "TRANSLATIONS_DIR", tmp_path)
    monkeypatch.setattr(i18n, "_cache", {})


@pytest.fixture
def french_catalog(tmp_path, monkeypatch):
    # The slots of the pinned Babel's French rule: one, many (a million), other.
    assert Catalog(locale="fr").num_plurals == 3
    _write_french(tmp_path, monkeypatch,
                  ("{count} fiche", "{count} de fiches", "{count} fiches"))
    yield
    i18n.set_language(i18n.SOURCE_LANGUAGE)


@pytest.fixture
def restore_language():
    yield
    i18n.set_language(i18n.SOURCE_LANGUAGE)


def test_catalog_is_compiled_in_memory_and_used(french_catalog, tmp_path):
    assert "fr" in i18n.available_languages()
    i18n.set_language("fr")
    assert i18n.active_language() == "fr"
    assert i18n._("All files are valid.") == "Tous les fichiers sont valides."
    assert i18n.ngettext("{count} record", "{count} records", 2) == "{count} fiches"
    assert i18n._("Not in the catalog") == "Not in the catalog"
    # Compiled in memory: nothing is written beside the catalog.
    assert not list(tmp_path.rglob("*.mo"))
    i18n.set_language("en")
    assert i18n._("All files are valid.") == "All files are valid."


def test_plural_categories_of_the_pinned_babel_reach_the_person(french_catalog):
    i18n.set_language("fr")
    assert i18n.ngettext("{count} record", "{count} records", 1) == "{count} fiche"
    assert i18n.ngettext("{count} record", "{count} records", 0) == "{count} fiche"
    assert i18n.ngettext("{count} record", "{count} records", 1_000_000) == "{count} de fiches"


def test_a_catalog_keeps_the_plural_rule_of_its_own_header(tmp_path, monkeypatch,
                                                           restore_language):
    # A catalog written under Babel 2.18 (two French forms, `n > 1`) still shows French.
    _write_french(tmp_path, monkeypatch, ("{count} fiche", "{count} fiches"),
                  plural_forms="nplurals=2; plural=(n > 1);")
    i18n.set_language("fr")
    assert i18n.ngettext("{count} record", "{count} records", 2) == "{count} fiches"
    assert i18n.ngettext("{count} record", "{count} records", 1) == "{count} fiche"


def test_an_empty_plural_slot_shows_the_other_form_not_english(tmp_path, monkeypatch,
                                                               restore_language):
    # The header of the pinned Babel, but the new "many" slot not yet translated.
    _write_french(tmp_path, monkeypatch, ("{count} fiche", "", "{count} fiches"))
    i18n.set_language("fr")
    assert i18n.ngettext("{count} record", "{count} records", 2_000_000) == "{count} fiches"
    assert i18n.ngettext("{count} record", "{count} records", 2) == "{count} fiches"


def test_n_marks_without_translating():
    assert i18n.N_("Urgent referral (today)") == "Urgent referral (today)"


def test_english_is_the_source_text_without_reading_its_empty_catalog(monkeypatch):
    """The `en` catalogs stay empty (docs/translating.md), so English reads none: compiling
    one cost every English start-up Babel's catalog reader. Same text as the catalog gives."""
    import gettext
    import io

    from babel.messages.mofile import write_mo

    with (ROOT / "translations" / "en" / "LC_MESSAGES" / "fieldscreen.po").open("rb") as handle:
        catalog = read_po(handle, locale="en", domain=i18n.DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    compiled = gettext.GNUTranslations(buffer)
    monkeypatch.setattr(i18n, "_cache", {})
    english = i18n.translations_for(i18n.SOURCE_LANGUAGE)
    assert type(english) is gettext.NullTranslations
    messages = [message for message in catalog if message.id]
    assert len(messages) > 100
    for message in messages:
        if isinstance(message.id, tuple):
            for count in (0, 1, 2, 5, 21, 1_000_000):
                assert (english.ngettext(*message.id[:2], count)
                        == compiled.ngettext(*message.id[:2], count)), message.id
        else:
            assert english.gettext(message.id) == compiled.gettext(message.id), message.id
