"""XLSForm's media columns: `media::audio::<language>` and `media::image` (and pyxform's
aliases `audio`, `image`) on the survey and choices sheets, read into the form's `media:`
and written back.

Recordings are per language; a picture is one per item, so an image column per language
gives the default language's picture (or the only one), and a different picture in another
language is warned about and left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fieldscreen.forms.media import name_problem
from fieldscreen.forms.schema import Form, MediaRefs
from fieldscreen.forms.xlsform.cells import _as_text, _shorten
from fieldscreen.forms.xlsform.model import _Node, _Row, _Sheet
from fieldscreen.forms.xlsform.tables import CHOICES, SURVEY
from fieldscreen.i18n import _

if TYPE_CHECKING:
    from fieldscreen.forms.xlsform.sheet_access import _SheetAccess

# A header's normalised base (sheet_access `_header`) -> the kind of media it holds.
# pyxform's aliases.py maps `audio` and `image` to `media::audio` and `media::image` on
# both sheets; `video` and `big-image` stay ignored (FieldScreen shows neither).
_MEDIA_BASES = {"media::audio": "audio", "audio": "audio",
                "media::image": "image", "image": "image"}


@dataclass(slots=True)
class MediaColumns:
    """The media columns of the survey and choices sheets: index -> (kind, language)."""

    by_sheet: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def claim(cls, importer: _SheetAccess) -> MediaColumns:
        """Take the media columns out of the ignored ones (before any row is read, so that
        no row warns about them) and resolve their languages."""
        claimed = cls()
        for kind in (SURVEY, CHOICES):
            sheet = importer.sheets.get(kind)
            if sheet is None:
                continue
            columns: dict[int, tuple[str, str]] = {}
            for index, column in sorted(sheet.ignored.items()):
                media = _MEDIA_BASES.get(column.base)
                if media is None:
                    continue
                language: str | None = importer.default_language
                if column.language is not None:
                    language = importer._language_code(column.language, {})
                if language is None or language not in importer.languages:
                    importer.error(kind, 1, _(
                        "column '{header}': '{language}' is not one of the form's languages "
                        "({languages}); write it like 'media::audio::Arabic (ar)'").format(
                        header=column.header, language=column.language,
                        languages=", ".join(importer.languages)))
                    del sheet.ignored[index]
                    continue
                columns[index] = (media, language)
                del sheet.ignored[index]
            claimed.by_sheet[kind] = columns
        return claimed

    def apply(self, importer: _SheetAccess, items: list[_Node],
              choice_lists: dict[str, list[tuple[int, dict[str, Any]]]]) -> None:
        """Put each row's media names into its item's or choice's entry."""
        survey = importer.sheets.get(SURVEY)
        if survey is not None and self.by_sheet.get(SURVEY):
            rows = {row.number: row for row in survey.rows}
            done: set[int] = set()
            for node in (node for top in items for node in top.walk()):
                # An `or_other` row also makes a text item on the same row: not its media.
                if node.row in done or node.row not in rows:
                    continue
                done.add(node.row)
                media = self._row_media(importer, survey, rows[node.row])
                if media:
                    node.entry["media"] = media
        choices = importer.sheets.get(CHOICES)
        if choices is not None and self.by_sheet.get(CHOICES):
            rows = {row.number: row for row in choices.rows}
            for list_name, entries in choice_lists.items():
                for number, entry in entries:
                    row = rows.get(number)
                    # The `other` choice `or_other` adds carries a survey row's number.
                    if row is None or importer._identifier(choices, row, "list_name") != (
                            list_name) or importer._identifier(choices, row, "name") != (
                            entry["name"]):
                        continue
                    media = self._row_media(importer, choices, row)
                    if media:
                        entry["media"] = media

    def _row_media(self, importer: _SheetAccess, sheet: _Sheet, row: _Row) -> dict[str, Any]:
        audio: dict[str, str] = {}
        images: dict[str, str] = {}
        for index, (kind, language) in self.by_sheet[sheet.kind].items():
            value = row.cells.get(index)
            name = _as_text(value) if value is not None else ""
            if not name:
                continue
            problem = name_problem(name, kind)
            if problem is not None:
                importer.error(sheet.kind, row.number, problem)
                continue
            (audio if kind == "audio" else images)[language] = name
        media: dict[str, Any] = {}
        if audio:
            media["audio"] = audio
        if images:
            image = images.get(importer.default_language) or next(iter(images.values()))
            media["image"] = image
            for language, other in images.items():
                if other != image:
                    importer.warn(sheet.kind, row.number, _(
                        "one picture is shown in every language: '{other}' ({language}) is "
                        "left out, '{image}' is used").format(
                        other=_shorten(other), language=language, image=image))
        return media


def media_headers(media: list[MediaRefs], form: Form, names: dict[str, str]) -> list[str]:
    """The media columns an export needs for these items' or choices' media: a recording
    column per language some row uses, then a picture column per language holding the same
    picture (ODK shows a language's own image column, so the picture shows in each)."""
    used = {language for refs in media for language in refs.audio}
    headers = [f"media::audio::{names[code]} ({code})" for code in form.languages
               if code in used]
    if any(refs.image for refs in media):
        headers.extend(_image_headers(form, names))
    return headers


def media_cells(refs: MediaRefs, form: Form, names: dict[str, str]) -> dict[str, str]:
    """One row's media cells, by the headers of `media_headers`."""
    cells = {f"media::audio::{names[code]} ({code})": name
             for code, name in refs.audio.items() if code in names}
    if refs.image:
        cells.update(dict.fromkeys(_image_headers(form, names), refs.image))
    return cells


def _image_headers(form: Form, names: dict[str, str]) -> list[str]:
    return [f"media::image::{names[code]} ({code})" for code in form.languages]
