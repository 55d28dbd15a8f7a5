"""Gettext for every person-facing string: `_`, `ngettext`, `N_`, and the active UI language.

Catalogs live in `translations/<lang>/LC_MESSAGES/<domain>.po`, one domain per kind of text:
`fieldscreen` for the program's own messages and `fieldscreen-forms` for the text of form
files (see `fieldscreen.forms.translations`). A compiled `.mo` next to the `.po` is used when
present and not older than it; otherwise the `.po` is compiled in memory with Babel on first
use (fuzzy entries left out, as gettext does), so nothing is written outside the base
directory and no `.mo` has to be committed. No Qt here: the UI loads Qt's own translators on
top of this.

Dates and numbers are formatted for the active language with Babel (`format_date`,
`format_datetime`, `format_number`, `format_decimal`), and `is_right_to_left` tells the UI
which languages are written right to left.
"""

from __future__ import annotations

import datetime as _datetime
import gettext as _gettext
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from fieldscreen.paths import shipped_dir

if TYPE_CHECKING:
    import decimal

    from babel import Locale
    from babel.messages.catalog import Catalog

DOMAIN = "fieldscreen"
FORMS_DOMAIN = "fieldscreen-forms"
SOURCE_LANGUAGE = "en"
TRANSLATIONS_DIR = shipped_dir("translations")

# Digits follow the locale's default numbering system in CLDR (Latin digits for `ar`, `fr`,
# `es`, `uk`); a regional locale such as `ar_EG` gets its own.
_NUMBERING_SYSTEM = "default"

_lock = threading.Lock()
# Keyed by language for the UI domain (kept so for callers that look at it) and by
# (domain, language) for every other domain.
_cache: dict[str | tuple[str, str], _gettext.NullTranslations] = {}
_active: _gettext.NullTranslations = _gettext.NullTranslations()
_active_language = SOURCE_LANGUAGE

DateLength = Literal["short", "medium", "long", "full"]


def _(message: str) -> str:
    """Translate `message` into the active UI language."""
    return _active.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Translate a message whose form depends on `count`."""
    return _active.ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it yet (translated where shown)."""
    return message


def catalog_languages(domain: str = DOMAIN) -> list[str]:
    """Language codes that have a `.po` catalog for `domain`, sorted (source language too)."""
    found = {SOURCE_LANGUAGE}
    if TRANSLATIONS_DIR.is_dir():
        for po in TRANSLATIONS_DIR.glob(f"*/LC_MESSAGES/{domain}.po"):
            found.add(po.parent.parent.name)
    return sorted(found)


def available_languages() -> list[str]:
    """Language codes with a UI catalog, plus the source language, sorted."""
    return catalog_languages(DOMAIN)


def translations_for(language: str, domain: str = DOMAIN) -> _gettext.NullTranslations:
    """The gettext translations of `domain` for `language` (the source language has none).

    Loaded once per process and language, then served from a cache.
    """
    key: str | tuple[str, str] = language if domain == DOMAIN else (domain, language)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        translations = _load(language, domain)
        _cache[key] = translations
        return translations


def clear_cache() -> None:
    """Forget loaded catalogs, so the next use reads them again (after an update)."""
    with _lock:
        _cache.clear()


def _load(language: str, domain: str = DOMAIN) -> _gettext.NullTranslations:
    if language == SOURCE_LANGUAGE:
        # Its catalogs stay empty (docs/translating.md): the text is the source itself.
        # Compiling them anyway cost every English start-up Babel's catalog reader.
        return _gettext.NullTranslations()
    folder = TRANSLATIONS_DIR / language / "LC_MESSAGES"
    mo_path = folder / f"{domain}.mo"
    po_path = folder / f"{domain}.po"
    if mo_path.is_file() and (
        not po_path.is_file() or mo_path.stat().st_mtime >= po_path.stat().st_mtime
    ):
        with mo_path.open("rb") as handle:
            return _gettext.GNUTranslations(handle)
    if po_path.is_file():
        # Imported here: Babel's catalog machinery is only needed when no .mo was built.
        import io

        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=language, domain=domain)
        _fill_missing_plural_forms(catalog)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        return _gettext.GNUTranslations(buffer)
    return _gettext.NullTranslations()


def _fill_missing_plural_forms(catalog: Catalog) -> None:
    """Give every empty plural slot of a translated message the catalog's "other" form.

    The compiled catalog keeps the `.po` file's own `Plural-Forms` header, so its slots mean
    what the translator meant. But when CLDR adds a category (Babel 2.19 gave French and
    Spanish "many", for a million and its multiples), a catalog brought up to the new header
    has that slot empty until a translator fills it, and gettext shows an empty slot in
    English. CLDR's own fallback for a missing category is "other", which is the last slot
    in every language's order, so the person sees their language, never English.
    """
    for message in catalog:
        if not message.id or not message.pluralizable:
            continue
        forms = list(message.string) if isinstance(message.string, (list, tuple)) else []
        filled = [form for form in forms if form]
        if filled and len(filled) < catalog.num_plurals:
            forms += [""] * (catalog.num_plurals - len(forms))
            message.string = tuple(form or filled[-1] for form in forms)


def set_language(language: str) -> None:
    """Make `language` the active UI language for `_`, `ngettext` and the formatters."""
    global _active, _active_language
    translations = translations_for(language)
    with _lock:
        _active = translations
        _active_language = language


def active_language() -> str:
    """The code of the active UI language."""
    return _active_language


# -- scripts -----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE_LANGUAGE)


@lru_cache(maxsize=64)
def is_right_to_left(language: str) -> bool:
    """Whether `language` is written right to left (Arabic, Persian, Hebrew, Urdu, ...).

    Taken from Babel's locale data (CLDR `characterOrder`); an unknown code counts as
    left to right.
    """
    if language == SOURCE_LANGUAGE:
        return False  # without loading Babel's locale data: the app asks this at start-up
    from babel import Locale, UnknownLocaleError

    try:
        locale = Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return False
    return locale.character_order == "right-to-left"


def language_name(language: str) -> str:
    """The name of `language` in that language ("Français", "العربية"), for language menus.

    An unknown code is returned as it is.
    """
    from babel import Locale, UnknownLocaleError

    try:
        locale = Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return language
    name = locale.get_display_name(locale) or language
    return name[:1].upper() + name[1:]


# -- dates and numbers -------------------------------------------------------------------


def format_date(date: _datetime.date, length: DateLength = "medium") -> str:
    """`date` written for the active language ("23 nov. 2026", "23‏/11‏/2026")."""
    from babel.dates import format_date as babel_format_date

    if isinstance(date, _datetime.datetime):
        date = _local(date).date()
    return babel_format_date(date, length, locale=_locale(_active_language))


def format_datetime(moment: _datetime.datetime, length: DateLength = "medium") -> str:
    """`moment` as a date of the given length and a short time, for the active language.

    An aware moment (records keep UTC) is shown in the device's local time; a naive one is
    shown as it is.
    """
    from babel.dates import format_date as babel_format_date
    from babel.dates import format_time as babel_format_time

    locale = _locale(_active_language)
    moment = _local(moment)
    date_text = babel_format_date(moment.date(), length, locale=locale)
    time_text = babel_format_time(moment.replace(tzinfo=None).time(), "short", locale=locale)
    pattern = str(locale.datetime_formats.get(length) or "{1} {0}")
    return pattern.replace("'", "").replace("{0}", time_text).replace("{1}", date_text)


def format_time(moment: _datetime.datetime) -> str:
    """The time of day of `moment` (local time), short form, for the active language."""
    from babel.dates import format_time as babel_format_time

    moment = _local(moment)
    return babel_format_time(moment.replace(tzinfo=None).time(), "short",
                             locale=_locale(_active_language))


def _local(moment: _datetime.datetime) -> _datetime.datetime:
    return moment.astimezone() if moment.tzinfo is not None else moment


def format_number(value: int | float | decimal.Decimal) -> str:
    """A whole or decimal number with the active language's separators ("12 345", "12,345")."""
    from babel.numbers import format_decimal as babel_format_decimal

    return babel_format_decimal(value, locale=_locale(_active_language),
                                numbering_system=_NUMBERING_SYSTEM)


def format_decimal(value: int | float | decimal.Decimal, digits: int) -> str:
    """`value` rounded to exactly `digits` decimal places, for the active language ("0,50")."""
    import copy
    import decimal

    if digits < 0:
        raise ValueError("digits must be 0 or more")
    locale = _locale(_active_language)
    pattern = copy.copy(locale.decimal_formats[None])
    pattern.frac_prec = (digits, digits)
    exact = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    return pattern.apply(exact, locale, numbering_system=_NUMBERING_SYSTEM)
