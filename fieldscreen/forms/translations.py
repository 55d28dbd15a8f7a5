"""Translations of form text through gettext: the Babel extractor and the catalog lookup.

Form files carry their text per language (`{en: ..., fr: ...}`, docs/form-format.md). Most
forms are written in one language; translators then work in the `fieldscreen-forms` gettext
domain with the same tools as for the program's own messages (Poedit, Weblate):

- `extract_form` is a Babel extractor (entry point `fieldscreen_form` in the
  `babel.extractors` group). It yields the title, every label, hint and constraint message,
  and every choice label of a form file, each with a message context naming where it sits
  (`child-screening/items/a_threatened/label`,
  `child-screening/choice_lists/child_scale/yes/label`), so that the same English words in
  two places can be translated differently, and with a translator comment saying who the
  text is for: the child (read out; ages 8-17) or the worker.
- `translate_form` fills the languages a form lacks from that domain's catalogs; text
  written in the YAML file always wins over the catalog. `load_translated_form` loads a form
  file and fills every language that has a forms catalog.

Pure Python, no Qt. See docs/translating.md for the workflow.
"""

from __future__ import annotations

import dataclasses
import gettext
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from fieldscreen import i18n
from fieldscreen.forms.loader import load_form
from fieldscreen.forms.schema import Audience, ChoiceList, Form, Item, LocalizedText
from fieldscreen.forms.yamlsource import LocatedList, LocatedMap, parse_yaml

FORMS_DOMAIN = i18n.FORMS_DOMAIN
FORM_FORMAT_PREFIX = "fieldscreen-form/"

# The keys of an item whose text is shown to a person, in the order they are extracted.
ITEM_TEXT_KEYS = ("label", "hint", "constraint_message")

_CHILD_NOTE = "read out or shown to the child (ages 8-17): short, concrete, gentle words"
_WORKER_NOTE = "for the outreach worker, not read out to the child"
_UNSET_NOTE = "a heading on screen that the child may see: plain, friendly words"
_HINT_NOTE = (
    "a hint for the worker; words in quotes are examples the worker may say to the child"
)


# -- message contexts --------------------------------------------------------------------


def title_context(form_id: str) -> str:
    """The message context of a form's title."""
    return f"{form_id}/title"


def item_context(form_id: str, item_name: str, key: str) -> str:
    """The message context of an item's `label`, `hint` or `constraint_message`."""
    return f"{form_id}/items/{item_name}/{key}"


def choice_context(form_id: str, list_name: str, choice_name: str) -> str:
    """The message context of a choice's label."""
    return f"{form_id}/choice_lists/{list_name}/{choice_name}/label"


# -- the Babel extractor -----------------------------------------------------------------

ExtractedMessage = tuple[int, str, tuple[str, str], list[str]]


def extract_form(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[ExtractedMessage]:
    """Babel extractor for form files (`fieldscreen-form/1`).

    Yields `(line, "pgettext", (context, text), translator_comments)` for the title, every
    item's label, hint and constraint message and every choice label, in the default
    language of the form. Files of another format (services directories, scenarios) yield
    nothing. A file that is not valid YAML raises `SourceProblems` naming the line.

    Args:
        fileobj: the form file, opened in binary mode.
        keywords: the keywords of the extraction run (unused; contexts need `pgettext`).
        comment_tags: unused; the comments come from the form's structure.
        options: `encoding` (default UTF-8).
    """
    del keywords, comment_tags  # the extractor does not look at source comments
    encoding = str(options.get("encoding") or "utf-8")
    shown_path = str(getattr(fileobj, "name", "<form>"))
    data = parse_yaml(fileobj.read().decode(encoding), shown_path)
    if not isinstance(data, LocatedMap):
        return
    fmt = data.get("format")
    if not isinstance(fmt, str) or not fmt.startswith(FORM_FORMAT_PREFIX):
        return
    form_id = str(data.get("id") or Path(shown_path).stem)
    default = str(data.get("default_language") or i18n.SOURCE_LANGUAGE)

    def message(line: int, context: str, value: Any, comments: list[str]) -> Iterator[Any]:
        text = _source_text(value, default)
        if text:
            yield line, "pgettext", (context, text), comments

    yield from message(data.line_of("title"), title_context(form_id), data.get("title"),
                       [f"Form title. {_audience_comment(Audience.WORKER)}"])

    items = data.get("items")
    list_audience = _choice_list_audiences(items)
    lists = data.get("choice_lists")
    if isinstance(lists, LocatedMap):
        for list_name, entries in lists.items():
            if not isinstance(entries, LocatedList):
                continue
            audience: Audience | None = list_audience.get(list_name, Audience.WORKER)
            for line, entry in zip(entries.item_lines, entries, strict=True):
                if not isinstance(entry, LocatedMap) or not isinstance(entry.get("name"), str):
                    continue
                yield from message(
                    line, choice_context(form_id, list_name, entry["name"]), entry.get("label"),
                    [f"Answer choice '{entry['name']}' of the list '{list_name}'. "
                     f"{_audience_comment(audience)}"])
    for entry, audience in _walk_items(items, None):
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        kind = str(entry.get("type", "item"))
        for key in ITEM_TEXT_KEYS:
            if key == "label":
                what = "Group heading" if kind == "group" else f"Label of a {kind} item"
                comment = f"{what} ({name}). {_audience_comment(audience)}"
            elif key == "hint":
                comment = f"Hint on the item {name}. audience: worker, {_HINT_NOTE}."
            else:
                comment = (f"Message when the answer to {name} is not accepted. "
                           f"{_audience_comment(Audience.WORKER)}")
            yield from message(entry.line_of(key), item_context(form_id, name, key),
                               entry.get(key), [comment])


def _audience_comment(audience: Audience | None) -> str:
    if audience is None:
        return f"audience: not set, {_UNSET_NOTE}."
    note = _CHILD_NOTE if audience is Audience.CHILD else _WORKER_NOTE
    return f"audience: {audience.value}, {note}."


def _source_text(value: Any, default_language: str) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        text = value.get(default_language)
        return text if isinstance(text, str) and text.strip() else None
    return None


def _audience_of(entry: LocatedMap, inherited: Audience | None) -> Audience | None:
    try:
        return Audience(entry["audience"])
    except (KeyError, ValueError):
        return inherited


def _walk_items(
    entries: Any, inherited: Audience | None
) -> Iterator[tuple[LocatedMap, Audience | None]]:
    """Every item mapping in document order, with its own or its group's audience."""
    if not isinstance(entries, LocatedList):
        return
    for entry in entries:
        if not isinstance(entry, LocatedMap):
            continue
        audience = _audience_of(entry, inherited)
        yield entry, audience
        yield from _walk_items(entry.get("items"), audience)


def _choice_list_audiences(items: Any) -> dict[str, Audience]:
    """A choice list is for the child when any item asked of the child uses it."""
    found: dict[str, Audience] = {}
    for entry, audience in _walk_items(items, None):
        list_name = entry.get("choices")
        if isinstance(list_name, str) and found.get(list_name) is not Audience.CHILD:
            found[list_name] = audience or Audience.WORKER
    return found


# -- filling a form's languages from the catalogs ----------------------------------------

Lookup = Callable[[str, str], str | None]

_CACHE_SIZE = 32
_cache_lock = threading.Lock()
# (id(form), language) -> (form, translated form); the form is kept so its id stays unique.
_translated: OrderedDict[tuple[int, str], tuple[Form, Form]] = OrderedDict()


def catalog_lookup(language: str) -> Lookup | None:
    """A function giving the catalog's translation of `(context, text)` in `language`.

    It returns None where the catalog has no (non-fuzzy) translation. None when there is no
    `fieldscreen-forms` catalog for `language`.
    """
    translations = i18n.translations_for(language, FORMS_DOMAIN)
    if type(translations) is gettext.NullTranslations:
        return None
    # GNUTranslations keeps its messages in `_catalog`, keyed "context\x04text". Looking
    # there tells a translation that happens to equal the English ("Afghanistan") from a
    # missing one; pgettext alone cannot.
    messages = getattr(translations, "_catalog", None)

    def lookup(context: str, text: str) -> str | None:
        if isinstance(messages, dict):
            found = messages.get(f"{context}\x04{text}")
            return found if isinstance(found, str) and found else None
        translated = translations.pgettext(context, text)
        return translated if translated and translated != text else None

    return lookup


def translate_form(form: Form, language: str, lookup: Lookup | None = None) -> Form:
    """`form` with the text for `language` filled in from the `fieldscreen-forms` catalog.

    Text the form file already has in `language` wins over the catalog. Text the catalog
    lacks stays missing, so it falls back to the default language when shown
    (`LocalizedText.get(language, form.default_language)`). `language` is added to
    `form.languages` when at least one text was filled in. The result is cached per form and
    language; the form itself is never changed.

    Args:
        form: a loaded form.
        language: the language to fill in, e.g. "fr".
        lookup: where translations come from (tests); the installed catalog by default.
    """
    if language == form.default_language:
        return form
    key = (id(form), language)
    if lookup is None:
        with _cache_lock:
            cached = _translated.get(key)
            if cached is not None and cached[0] is form:
                _translated.move_to_end(key)
                return cached[1]
        lookup = catalog_lookup(language)
        if lookup is None:
            return form
        translated = _fill(form, language, lookup)
        with _cache_lock:
            _translated[key] = (form, translated)
            while len(_translated) > _CACHE_SIZE:
                _translated.popitem(last=False)
        return translated
    return _fill(form, language, lookup)


def clear_cache() -> None:
    """Forget translated forms (after catalogs change, e.g. in tests); see also i18n."""
    with _cache_lock:
        _translated.clear()


def translate_form_languages(form: Form, languages: Iterable[str]) -> Form:
    """`translate_form` for each of `languages` in turn."""
    for language in languages:
        form = translate_form(form, language)
    return form


def with_catalog_languages(form: Form) -> Form:
    """`form` with every language that has a `fieldscreen-forms` catalog filled in."""
    languages = [code for code in i18n.catalog_languages(FORMS_DOMAIN)
                 if code != form.default_language]
    return translate_form_languages(form, languages)


def load_translated_form(path: str | Path) -> Form:
    """Load the form at `path` and fill every language that has a `fieldscreen-forms` catalog.

    Raises:
        SourceProblems: the form file is not valid (as `load_form`).
    """
    return with_catalog_languages(load_form(path))


def coverage(form: Form, language: str) -> float:
    """The share (0 to 1) of the form's texts that exist in `language`."""
    total = done = 0
    for text in _texts(form):
        if text:
            total += 1
            done += language in text.by_language
    return done / total if total else 1.0


def _texts(form: Form) -> Iterator[LocalizedText]:
    yield form.title
    for choice_list in form.choice_lists.values():
        for choice in choice_list.choices:
            yield choice.label
    for item in form.items:
        for key in ITEM_TEXT_KEYS:
            yield getattr(item, key)


class _Filler:
    """Fills one language into the LocalizedTexts of a form, counting what it filled."""

    def __init__(self, form: Form, language: str, lookup: Lookup) -> None:
        self.default = form.default_language
        self.language = language
        self.lookup = lookup
        self.filled = 0

    def text(self, text: LocalizedText, context: str) -> LocalizedText:
        if not text or self.language in text.by_language:
            return text
        source = text.by_language.get(self.default)
        if not source:
            return text
        translated = self.lookup(context, source)
        if translated is None:
            return text
        self.filled += 1
        return LocalizedText(MappingProxyType({**text.by_language, self.language: translated}))


def _fill(form: Form, language: str, lookup: Lookup) -> Form:
    filler = _Filler(form, language, lookup)
    title = filler.text(form.title, title_context(form.id))
    lists: dict[str, ChoiceList] = {}
    for name, choice_list in form.choice_lists.items():
        choices = tuple(
            dataclasses.replace(
                choice, label=filler.text(choice.label,
                                          choice_context(form.id, name, choice.name)))
            for choice in choice_list.choices
        )
        lists[name] = dataclasses.replace(choice_list, choices=choices)
    items: list[Item] = []
    for item in form.items:
        changes: dict[str, Any] = {
            key: filler.text(getattr(item, key), item_context(form.id, item.name, key))
            for key in ITEM_TEXT_KEYS
        }
        if item.choice_list is not None:
            changes["choice_list"] = lists.get(item.choice_list.name, item.choice_list)
        items.append(dataclasses.replace(item, **changes))
    if not filler.filled:
        return form
    languages = form.languages if language in form.languages else (*form.languages, language)
    return dataclasses.replace(form, title=title, languages=languages, items=tuple(items),
                               choice_lists=MappingProxyType(lists))
