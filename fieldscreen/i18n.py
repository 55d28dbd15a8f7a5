"""Gettext for every person-facing string: `_`, `ngettext`, `N_`, and the active UI language.

Catalogs live in `translations/<lang>/LC_MESSAGES/fieldscreen.po`. A compiled `.mo` next to
the `.po` is used when present (built at install); otherwise the `.po` is compiled in memory
with Babel on first use, so nothing is written outside the base directory. No Qt here: the
UI loads Qt's own translators on top of this.
"""

from __future__ import annotations

import gettext as _gettext
import io
import threading

from fieldscreen.paths import shipped_dir

DOMAIN = "fieldscreen"
SOURCE_LANGUAGE = "en"
TRANSLATIONS_DIR = shipped_dir("translations")

_lock = threading.Lock()
_cache: dict[str, _gettext.NullTranslations] = {}
_active: _gettext.NullTranslations = _gettext.NullTranslations()
_active_language = SOURCE_LANGUAGE


def _(message: str) -> str:
    """Translate `message` into the active UI language."""
    return _active.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Translate a message whose form depends on `count`."""
    return _active.ngettext(singular, plural, count)


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it yet (translated where shown)."""
    return message


def available_languages() -> list[str]:
    """Language codes with a catalog, plus the source language, sorted."""
    found = {SOURCE_LANGUAGE}
    if TRANSLATIONS_DIR.is_dir():
        for po in TRANSLATIONS_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
            found.add(po.parent.parent.name)
    return sorted(found)


def translations_for(language: str) -> _gettext.NullTranslations:
    """The gettext translations for `language` (the source language has none)."""
    with _lock:
        cached = _cache.get(language)
        if cached is not None:
            return cached
        translations = _load(language)
        _cache[language] = translations
        return translations


def _load(language: str) -> _gettext.NullTranslations:
    folder = TRANSLATIONS_DIR / language / "LC_MESSAGES"
    mo_path = folder / f"{DOMAIN}.mo"
    po_path = folder / f"{DOMAIN}.po"
    if mo_path.is_file() and (
        not po_path.is_file() or mo_path.stat().st_mtime >= po_path.stat().st_mtime
    ):
        with mo_path.open("rb") as handle:
            return _gettext.GNUTranslations(handle)
    if po_path.is_file():
        # Imported here: Babel's catalog machinery is only needed when no .mo was built.
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=language, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        return _gettext.GNUTranslations(buffer)
    return _gettext.NullTranslations()


def set_language(language: str) -> None:
    """Make `language` the active UI language for `_` and `ngettext`."""
    global _active, _active_language
    translations = translations_for(language)
    with _lock:
        _active = translations
        _active_language = language


def active_language() -> str:
    """The code of the active UI language."""
    return _active_language
