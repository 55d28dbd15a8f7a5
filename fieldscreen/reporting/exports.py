"""Coordinator exports: the dashboard's counts, or one row per screening, as CSV or XLSX.

Both kinds can carry a row of HXL hashtags under the header, so humanitarian tools
(HDX, HXL Proxy, libhxl) recognise the columns. Every text cell that a spreadsheet would
run as a formula (starting with =, +, -, @, tab or carriage return) gets a leading
apostrophe. Files are built in memory and written atomically: the XLSX package is
assembled here rather than by openpyxl, because openpyxl spools every sheet through a
plaintext temporary file, and these sheets describe children. docs/exports.md describes
the columns, the hashtags and the small-cell rule.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from fieldscreen.errors import UserError
from fieldscreen.files import write_atomically
from fieldscreen.i18n import N_, _
from fieldscreen.reporting.dashboard import (
    DEFAULT_SMALL_CELL,
    NONE_RECORDED,
    NOT_KNOWN,
    OVER_17,
    AgeBands,
    CategoryLabel,
    DashboardFilter,
    Dimension,
    Disaggregation,
    disaggregate,
)
from fieldscreen.reporting.facts import DECISIONS, ScreeningFacts, build_facts, stored_date
from fieldscreen.reporting.suppression import (
    HIDDEN,
    SMALL_CELL_MINIMUM,
    TOTAL,
    check_threshold,
    count_key,
    cross_key,
    publish,
)
from fieldscreen.store.database import StorageFull
from fieldscreen.store.follow_up import FollowUpCase, FollowUpStatus
from fieldscreen.store.timestamps import utc_stamp

if TYPE_CHECKING:
    from fieldscreen.store.profile import UnlockedProfile

# What a spreadsheet would evaluate when a cell starts with it (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel's limits: rows per sheet, characters per cell (a longer cell makes it "repair"
# the file).
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CHARS = 32_767
FORMS_SEPARATOR = "; "
# Export files hold data about children: readable by their owner only.
_FILE_MODE = 0o600


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True, slots=True)
class Column:
    """One exported column: its header (translated when written), HXL hashtag and meaning."""

    header: str
    tag: str
    meaning: str


# The training flag: every row of a training export carries it, so a file cut out of its
# data dictionary, or a CSV, still says it is not real data (README: "every export it
# makes carries the training flag").
TRAINING_TAG = "#meta+training"
TRAINING_COLUMN = Column(N_("Training export"), TRAINING_TAG,
                         N_("1 when the export was made in training mode (made-up "
                            "children, not real data), 0 for a real one."))

COUNT_COLUMNS = (
    Column(N_("Dimension"), "#indicator+dimension+name",
           N_("What the children are counted by, in words.")),
    Column(N_("Dimension code"), "#indicator+dimension+code",
           N_("The same, as a code that does not change with the language.")),
    Column(N_("Category"), "#indicator+category+name",
           N_("One category of that dimension, in words (the checklist's labels).")),
    Column(N_("Category code"), "#indicator+category+code",
           N_("The category's code: the checklist's choice name, an age band, not_known "
              "(no answer), none_recorded (no form of exploitation) or 18+.")),
    Column(N_("Children"), "#affected+children+num",
           N_("How many screened children fall in the category.")),
    TRAINING_COLUMN,
)

AGE_BAND_TAG = "#affected+age+band"
CROSS_COUNT_TAG = "#affected+children+num"

RECORD_COLUMNS = (
    Column(N_("Record id"), "#meta+id",
           N_("The screening record's random id, made by the field laptop; it names no "
              "one.")),
    Column(N_("Screening date"), "#date+screening",
           N_("The day of the screening (UTC).")),
    Column(N_("Age"), "#affected+age+num", N_("The child's age in years, as recorded.")),
    Column(N_("Age band"), AGE_BAND_TAG, N_("The age band of that age.")),
    Column(N_("Sex"), "#affected+sex", N_("The child's sex or gender, as recorded.")),
    Column(N_("Nationality"), "#country+nationality+name",
           N_("The child's nationality or country of origin.")),
    Column(N_("Area"), "#loc+name", N_("The area where the screening took place.")),
    Column(N_("Forms of exploitation"), "#affected+exploitation+list",
           N_("Every form of exploitation the worker suspected, separated by \"; \".")),
    Column(N_("Decision"), "#status+referral", N_("The screening's final referral decision.")),
    Column(N_("Follow-up status"), "#status+follow_up",
           N_("Where the child's referral case stands; empty when the decision opened no "
              "case.")),
    Column(N_("Training record"), "#meta+training",
           N_("1 for a training (demo) record, 0 for a real one.")),
)

# Columns of the XLSX "Data dictionary" sheet.
_DICTIONARY_HEADERS = (N_("Sheet"), N_("Column"), N_("HXL hashtag"), N_("Meaning"),
                       N_("Allowed values"))


# -- record rows ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScreeningRow:
    """One imported screening as the record-level export writes it (codes, not words)."""

    record_id: str
    created_at: str
    age: int | None
    sex: str | None
    nationality: str | None
    area: str | None
    forms: tuple[str, ...]
    decision: str | None
    follow_up: FollowUpStatus | None
    demo: bool

    @property
    def screened_on(self) -> dt.date | None:
        # The same day the statistics count the record on (facts.screening_day); None
        # when the stored time cannot be read (it then counts as "not known").
        return stored_date(self.created_at)


def _passes(row: ScreeningRow, query: DashboardFilter) -> bool:
    day = row.screened_on
    if day is None:
        # An unreadable time is in no date range: counted only when no dates are asked.
        return (query.start is None and query.end is None
                and (query.areas is None or (row.area or NOT_KNOWN) in query.areas))
    return ((query.start is None or day >= query.start)
            and (query.end is None or day <= query.end)
            and (query.areas is None or (row.area or NOT_KNOWN) in query.areas))


def screening_rows(summaries: Iterable[tuple[str, str, bool, dict[str, Any]]],
                   cases: Iterable[FollowUpCase],
                   query: DashboardFilter | None = None) -> list[ScreeningRow]:
    """The rows of `Inbox.summaries()` that pass `query` (as `disaggregate` counts them),
    with each child's follow-up status, oldest screening first."""
    query = query or DashboardFilter()
    statuses = {case.record_id: case.status for case in cases}
    rows = []
    for record_id, created_at, demo, summary in summaries:
        row = ScreeningRow(
            record_id=record_id, created_at=created_at,
            age=summary.get("age") if type(summary.get("age")) is int else None,
            sex=summary.get("sex"), nationality=summary.get("nationality"),
            area=summary.get("area"), forms=tuple(summary.get("forms") or ()),
            decision=summary.get("decision") if summary.get("decision") in DECISIONS
            else None,
            follow_up=statuses.get(record_id), demo=demo)
        if _passes(row, query):
            rows.append(row)
    rows.sort(key=lambda row: (row.created_at, row.record_id))
    return rows


def age_band(age: int | None, scheme: AgeBands) -> str:
    """The band `disaggregate` counts an age in: a band name, not_known or 18+."""
    if age is None or age < 0:
        return NOT_KNOWN
    for low, high in scheme.bands:
        if low <= age <= high:
            return f"{low}-{high}"
    return OVER_17


# -- cells ---------------------------------------------------------------------------------


def neutralised(text: str) -> str:
    """`text` as a spreadsheet shows it without running it: a leading apostrophe before
    anything a spreadsheet would take for a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


Cell = str | int | None


def _clean(value: Cell) -> Cell:
    return neutralised(value) if isinstance(value, str) else value


# -- writing -------------------------------------------------------------------------------


def _table(columns: Sequence[Column], rows: Iterable[Sequence[Cell]],
           hxl: bool) -> Iterator[Sequence[Cell]]:
    yield [_(column.header) for column in columns]
    if hxl:
        yield [column.tag for column in columns]
    yield from rows


def _csv_bytes(table: Iterable[Sequence[Cell]]) -> bytes:
    # UTF-8 with a byte order mark: Excel then reads Arabic or Ukrainian labels correctly
    # instead of guessing a legacy code page; csv readers and libhxl skip the mark.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in table:
        writer.writerow(["" if value is None else _clean(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")


@dataclass(frozen=True, slots=True)
class _Sheet:
    name: str
    rows: Iterable[Sequence[Cell]]
    frozen_rows: int
    widths: Sequence[float]
    wrap_columns: frozenset[int] = frozenset()


_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
# Characters XML 1.0 cannot carry at all.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_STYLES = (
    f'{_XML_HEAD}<styleSheet xmlns="{_MAIN_NS}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    '</cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '</styleSheet>')
_BOLD, _WRAP = 1, 2


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _sheet_name(name: str, taken: set[str]) -> str:
    # Excel refuses []:*?/\ and names over 31 characters; a translation may have them.
    base = _SHEET_NAME_FORBIDDEN.sub(" ", name).strip(" '")[:31] or "Sheet"
    candidate, number = base, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{base[:31 - len(str(number)) - 1]} {number}"
    taken.add(candidate.casefold())
    return candidate


def _cell_xml(reference: str, value: Cell, style: int) -> str:
    if value is None or value == "":
        return ""
    styled = f' s="{style}"' if style else ""
    if isinstance(value, int):
        return f'<c r="{reference}"{styled}><v>{int(value)}</v></c>'
    text = escape(_NOT_XML.sub("", neutralised(value))[:XLSX_MAX_CHARS], {"\r": "&#13;"})
    return (f'<c r="{reference}" t="inlineStr"{styled}><is><t xml:space="preserve">{text}'
            "</t></is></c>")


def _sheet_chunks(sheet: _Sheet) -> Iterator[str]:
    width = len(sheet.widths)
    letters = [_column_letter(index) for index in range(max(width, 1))]
    head = [f'{_XML_HEAD}<worksheet xmlns="{_MAIN_NS}"><sheetViews>'
            '<sheetView workbookViewId="0">']
    if sheet.frozen_rows:
        head.append(f'<pane ySplit="{sheet.frozen_rows}" topLeftCell="A{sheet.frozen_rows + 1}"'
                    ' activePane="bottomLeft" state="frozen"/>')
    head.append("</sheetView></sheetViews>")
    if sheet.widths:  # an empty <cols> is not valid
        head.append("<cols>")
        head.extend(f'<col min="{index}" max="{index}" width="{column_width:g}" '
                    'customWidth="1"/>'
                    for index, column_width in enumerate(sheet.widths, start=1))
        head.append("</cols>")
    head.append("<sheetData>")
    yield "".join(head)
    chunk: list[str] = []
    for number, row in enumerate(sheet.rows, start=1):
        if len(row) > len(letters):
            letters.extend(_column_letter(index) for index in range(len(letters), len(row)))
        cells = []
        for index, value in enumerate(row):
            style = (_BOLD if number <= sheet.frozen_rows
                     else _WRAP if index in sheet.wrap_columns else 0)
            cells.append(_cell_xml(f"{letters[index]}{number}", value, style))
        chunk.append(f'<row r="{number}">{"".join(cells)}</row>')
        if len(chunk) >= 1000:
            yield "".join(chunk)
            chunk = []
    chunk.append("</sheetData></worksheet>")
    yield "".join(chunk)


def _xlsx_bytes(sheets: Sequence[_Sheet], moment: dt.datetime) -> bytes:
    """A minimal Office Open XML workbook (inline strings, one style sheet), in memory."""
    taken: set[str] = set()
    names = [_sheet_name(sheet.name, taken) for sheet in sheets]
    stamp = moment.astimezone(dt.UTC).timetuple()[:6]
    buffer = io.BytesIO()

    def member(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=max(stamp, (1980, 1, 1, 0, 0, 0)))
        info.compress_type = zipfile.ZIP_DEFLATED
        return info

    sheet_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in range(1, len(sheets) + 1))
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(member("[Content_Types].xml"), (
            f'{_XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            f'sheet.main+xml"/>{sheet_types}<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'styles+xml"/></Types>'))
        package.writestr(member("_rels/.rels"), (
            f'{_XML_HEAD}<Relationships xmlns="{_PACKAGE_REL_NS}"><Relationship Id="rId1" '
            f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        entries = "".join(f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>'
                          for n, name in enumerate(names, start=1))
        package.writestr(member("xl/workbook.xml"), (
            f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><bookViews>'
            f'<workbookView/></bookViews><sheets>{entries}</sheets></workbook>'))
        links = "".join(f'<Relationship Id="rId{n}" Type="{_REL_NS}/worksheet" '
                        f'Target="worksheets/sheet{n}.xml"/>'
                        for n in range(1, len(sheets) + 1))
        package.writestr(member("xl/_rels/workbook.xml.rels"), (
            f'{_XML_HEAD}<Relationships xmlns="{_PACKAGE_REL_NS}">{links}<Relationship '
            f'Id="rId{len(sheets) + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
            '</Relationships>'))
        package.writestr(member("xl/styles.xml"), _STYLES)
        for n, sheet in enumerate(sheets, start=1):
            with package.open(member(f"xl/worksheets/sheet{n}.xml"), "w") as stream:
                for chunk in _sheet_chunks(sheet):
                    stream.write(chunk.encode("utf-8"))
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    try:
        write_atomically(Path(path), data, mode=_FILE_MODE)
    except OSError as error:
        raise UserError(
            _("Cannot write {path}: {reason}").format(path=path,
                                                      reason=error.strerror or error),
            hint=_("Nothing was written. Choose a folder you can write to, with free space, "
                   "and export again.")) from None


# -- the data dictionary ---------------------------------------------------------------------


def _dates_text(query: DashboardFilter) -> str:
    start, end = query.start, query.end
    if start is not None and end is not None:
        return _("{start} to {end} (both included)").format(start=start.isoformat(),
                                                           end=end.isoformat())
    if start is not None:
        return _("From {start}").format(start=start.isoformat())
    if end is not None:
        return _("Until {end}").format(end=end.isoformat())
    return _("All dates")


def _areas_text(query: DashboardFilter, labels: CategoryLabel) -> str:
    if query.areas is None:
        return _("All areas")
    return FORMS_SEPARATOR.join(f"{labels(Dimension.AREA, name)} ({name})"
                                for name in sorted(query.areas))


def _coded_values(dimension: Dimension, codes: Iterable[str], labels: CategoryLabel) -> str:
    return FORMS_SEPARATOR.join(f"{labels(dimension, code)} ({code})" for code in codes)


def _training_text(training: bool) -> str:
    if training:
        return _("Yes: TRAINING — not real data. Made in training mode from made-up "
                 "screenings; do not use it in a report.")
    return _("No: real screenings.")


def _about(query: DashboardFilter, labels: CategoryLabel, generated_at: dt.datetime,
           what: str, rule: str, counted: tuple[str, Cell],
           training: bool) -> list[Sequence[Cell]]:
    bands = ", ".join(query.age_bands.names())
    return [
        [],
        [_("About this export")],
        [_("Training export"), _training_text(training)],
        [_("Export"), what],
        [_("Screening dates"), _dates_text(query)],
        [_("Areas"), _areas_text(query, labels)],
        [_("Age bands"), f"{bands} ({query.age_bands.value})"],
        [_("Small-cell rule"), rule],
        [_("Generated at"), utc_stamp(generated_at)],
        list(counted),
    ]


def _dictionary_sheet(rows: list[Sequence[Cell]]) -> _Sheet:
    return _Sheet(_("Data dictionary"),
                  [[_(header) for header in _DICTIONARY_HEADERS], *rows],
                  frozen_rows=1, widths=(16, 24, 30, 60, 60),
                  wrap_columns=frozenset({1, 3, 4}))


# -- counts ----------------------------------------------------------------------------------


def _hxl_attribute(code: str) -> str:
    attribute = re.sub(r"[^a-z0-9_]", "_", code.lower())
    return attribute if attribute[:1].isalpha() else f"x{attribute}"


def export_counts(disaggregation: Disaggregation, path: Path, *, fmt: ExportFormat | str,
                  hxl: bool, labels: CategoryLabel, small_cell: int = DEFAULT_SMALL_CELL,
                  minimum: int = SMALL_CELL_MINIMUM, generated_at: dt.datetime,
                  training: bool = False) -> int:
    """Write the dashboard's counts to `path`; returns the number of table rows.

    `training` (a training profile's export) puts 1 in the "Training export" column of
    every row of every table, and says so in the data dictionary; otherwise 0.

    The cells the dashboard hides for this view and threshold (`suppression.publish`: counts
    from 1 to `small_cell` - 1 and the cells that would give them away) are written as the
    text "x"; the others as whole numbers. The hidden set is that of the whole view (total,
    every table, age by sex) even in a CSV, which holds the counts table only; XLSX adds
    the age-by-sex table and a data dictionary.

    Raises:
        UserError: a threshold below the deployment's `minimum`, or the file could not be
            written; nothing was left behind.
    """
    check_threshold(small_cell, minimum)
    fmt = ExportFormat(fmt)
    published = publish(disaggregation, small_cell)
    flag = int(training)

    rows: list[Sequence[Cell]] = [
        [dimension.title, dimension.value, labels(dimension, category), category,
         published.cell(count_key(dimension, category), count), flag]
        for dimension in Dimension
        for category, count in disaggregation.counts.get(dimension, ())]
    if fmt is ExportFormat.CSV:
        _write(path, _csv_bytes(_table(COUNT_COLUMNS, rows, hxl)))
        return len(rows)

    sexes = disaggregation.sexes
    cross_header: list[Cell] = [Dimension.AGE_BAND.title,
                                *(labels(Dimension.SEX, sex) for sex in sexes),
                                _(TRAINING_COLUMN.header)]
    cross_tags: list[Cell] = [AGE_BAND_TAG, *(f"{CROSS_COUNT_TAG}+{_hxl_attribute(sex)}"
                                              for sex in sexes), TRAINING_TAG]
    cross: list[Sequence[Cell]] = [cross_header, *([cross_tags] if hxl else [])]
    cross.extend([labels(Dimension.AGE_BAND, band),
                  *(published.cell(cross_key(band, sex), count)
                    for sex, count in zip(sexes, counts, strict=True)), flag]
                 for band, counts in disaggregation.age_by_sex)

    counts_sheet, cross_sheet = _("Counts"), _("Age by sex")
    categories = [(dimension, category) for dimension in Dimension
                  for category, _count in disaggregation.counts.get(dimension, ())]
    values = {
        "#indicator+dimension+name": FORMS_SEPARATOR.join(d.title for d in Dimension),
        "#indicator+dimension+code": FORMS_SEPARATOR.join(d.value for d in Dimension),
        "#indicator+category+name": _("The words for each code below."),
        "#indicator+category+code": FORMS_SEPARATOR.join(
            f"{dimension.value}: {category}" for dimension, category in categories),
        "#affected+children+num": _(
            "A whole number, or \"{hidden}\" when the number is hidden (see the small-cell "
            "rule).").format(hidden=HIDDEN),
        TRAINING_TAG: "0; 1",
    }
    dictionary: list[Sequence[Cell]] = [
        [counts_sheet, _(column.header), column.tag, _(column.meaning), values[column.tag]]
        for column in COUNT_COLUMNS]
    dictionary.append([cross_sheet, Dimension.AGE_BAND.title, AGE_BAND_TAG,
                       _("The age band (rows)."),
                       _coded_values(Dimension.AGE_BAND, [band for band, _c in
                                                          disaggregation.age_by_sex], labels)])
    dictionary.extend(
        [cross_sheet, labels(Dimension.SEX, sex), f"{CROSS_COUNT_TAG}+{_hxl_attribute(sex)}",
         _("Children of this sex in each age band; small cells as above."),
         _coded_values(Dimension.SEX, [sex], labels)] for sex in sexes)
    dictionary.append([cross_sheet, _(TRAINING_COLUMN.header), TRAINING_TAG,
                       _(TRAINING_COLUMN.meaning), "0; 1"])
    rule = _("Counts from 1 to {below} are hidden (written \"{hidden}\"): a handful of "
             "children in one cell can be recognised by people who know the area. Further "
             "cells are hidden so that no hidden count can be worked out from the total and "
             "the other tables of this file to within fewer than {threshold} children. "
             "{hidden_count} numbers are hidden. Two files with different filters can still "
             "be subtracted from each other.").format(
        below=small_cell - 1, hidden=HIDDEN, threshold=small_cell,
        hidden_count=len(published.hidden))
    dictionary.extend(_about(
        disaggregation.filter, labels, generated_at,
        _("Counts of screened children, as the dashboard shows them. A child can have "
          "several forms of exploitation, so that dimension can add up to more than the "
          "total."), rule, (_("Children counted"),
                            published.cell(TOTAL, disaggregation.total)), training))
    header_rows = 2 if hxl else 1
    data = _xlsx_bytes([
        _Sheet(counts_sheet, list(_table(COUNT_COLUMNS, rows, hxl)), header_rows,
               widths=(24, 20, 30, 24, 12, 12)),
        _Sheet(cross_sheet, cross, header_rows, widths=(16, *(14 for _s in sexes), 12)),
        _dictionary_sheet(dictionary),
    ], generated_at)
    _write(path, data)
    return len(rows)


# -- records ---------------------------------------------------------------------------------


def _record_cells(row: ScreeningRow, labels: CategoryLabel, scheme: AgeBands,
                  training: bool) -> list[Cell]:
    forms = (FORMS_SEPARATOR.join(labels(Dimension.EXPLOITATION_FORM, name)
                                  for name in row.forms)
             or labels(Dimension.EXPLOITATION_FORM, NONE_RECORDED))
    return [
        row.record_id, row.screened_on.isoformat() if row.screened_on else None, row.age,
        labels(Dimension.AGE_BAND, age_band(row.age, scheme)),
        labels(Dimension.SEX, row.sex or NOT_KNOWN),
        labels(Dimension.NATIONALITY, row.nationality or NOT_KNOWN),
        labels(Dimension.AREA, row.area or NOT_KNOWN), forms,
        labels(Dimension.DECISION, row.decision or NOT_KNOWN),
        row.follow_up.label if row.follow_up is not None else None,
        int(row.demo or training),
    ]


def _record_dictionary(rows: Sequence[ScreeningRow], labels: CategoryLabel,
                       query: DashboardFilter, sheet: str) -> list[Sequence[Cell]]:
    def seen(codes: Iterable[str | None]) -> list[str]:
        return sorted({code or NOT_KNOWN for code in codes})

    days = [row.screened_on for row in rows if row.screened_on is not None]
    scheme = query.age_bands
    values = {
        "#meta+id": _("Text (a UUID)."),
        "#date+screening": (_("YYYY-MM-DD, from {first} to {last}.").format(
            first=min(days).isoformat(), last=max(days).isoformat()) if days
            else _("YYYY-MM-DD.")),
        "#affected+age+num": _("A whole number of years; empty when not known."),
        AGE_BAND_TAG: _coded_values(Dimension.AGE_BAND,
                                    (NOT_KNOWN, *scheme.names(), OVER_17), labels),
        "#affected+sex": _coded_values(Dimension.SEX, seen(r.sex for r in rows), labels),
        "#country+nationality+name": _coded_values(
            Dimension.NATIONALITY, seen(r.nationality for r in rows), labels),
        "#loc+name": _coded_values(Dimension.AREA, seen(r.area for r in rows), labels),
        "#affected+exploitation+list": _coded_values(
            Dimension.EXPLOITATION_FORM,
            [*sorted({name for r in rows for name in r.forms}), NONE_RECORDED], labels),
        "#status+referral": _coded_values(Dimension.DECISION, (NOT_KNOWN, *DECISIONS),
                                          labels),
        "#status+follow_up": FORMS_SEPARATOR.join(status.label for status in FollowUpStatus),
        "#meta+training": "0; 1",
    }
    return [[sheet, _(column.header), column.tag, _(column.meaning), values[column.tag]]
            for column in RECORD_COLUMNS]


def export_records(rows: Sequence[ScreeningRow], path: Path, *, fmt: ExportFormat | str,
                   hxl: bool, labels: CategoryLabel, query: DashboardFilter | None = None,
                   generated_at: dt.datetime, training: bool = False) -> int:
    """Write one row per screening to `path` (no notes, no answers); returns the row count.

    `training` (a training profile's export) marks every row as a training record and says
    so in the data dictionary, whatever each record's own flag.

    `query` is the filter the rows were chosen with (`screening_rows`): its age bands are
    used for the age band column, and the XLSX data dictionary states it.

    Raises:
        UserError: the rows do not fit in one XLSX sheet, or the file could not be
            written; nothing was left behind.
    """
    fmt = ExportFormat(fmt)
    query = query or DashboardFilter()
    scheme = query.age_bands
    header_rows = 2 if hxl else 1
    table = _table(RECORD_COLUMNS,
                   (_record_cells(row, labels, scheme, training) for row in rows), hxl)
    if fmt is ExportFormat.CSV:
        _write(path, _csv_bytes(table))
        return len(rows)
    if len(rows) + header_rows > XLSX_MAX_ROWS:
        raise UserError(
            _("{count} screenings do not fit in one spreadsheet sheet (at most {limit} "
              "rows); nothing was written.").format(count=len(rows),
                                                    limit=XLSX_MAX_ROWS - header_rows),
            hint=_("Export as CSV, or choose fewer dates or areas."))
    sheet = _("Screenings")
    dictionary = _record_dictionary(rows, labels, query, sheet)
    dictionary.extend(_about(
        query, labels, generated_at,
        _("One row per imported screening (record level). It holds no names, notes or "
          "answers, but it is personal data: keep it encrypted and share it only with "
          "people who need it."),
        _("Does not apply: each row is one child, so nothing is suppressed."),
        (_("Screenings"), len(rows)), training))
    data = _xlsx_bytes([
        _Sheet(sheet, table, header_rows,
               widths=(38, 14, 8, 12, 16, 20, 20, 40, 18, 20, 10)),
        _dictionary_sheet(dictionary),
    ], generated_at)
    _write(path, data)
    return len(rows)


# -- a whole export from a profile -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    fmt: ExportFormat
    records: bool
    rows: int  # table rows written (categories, or screenings)
    total: int  # children counted (records: screenings written)


def export_profile(profile: UnlockedProfile, path: Path, *, fmt: ExportFormat | str,
                   hxl: bool, records: bool, query: DashboardFilter, labels: CategoryLabel,
                   small_cell: int = DEFAULT_SMALL_CELL, known_areas: Collection[str] = (),
                   now: Callable[[], dt.datetime],
                   facts: ScreeningFacts | None = None) -> ExportResult:
    """Export a coordinator profile's imported screenings and note it in the audit log.

    `facts` is the statistics table when the caller already holds it (the console builds
    it at unlock); otherwise it is built from the profile.

    `known_areas` are area codes that count as real even with no screening (the form's
    choices); asking for any other area is refused, so a typing mistake cannot give an
    empty export that looks like "no children".

    Raises:
        UserError: a field profile, an unknown area, or the file could not be written.
    """
    from fieldscreen.store.profile import ProfileRole

    if profile.info.role is not ProfileRole.COORDINATOR:
        raise UserError(_("Exports are made from the coordinator's profile; this is a field "
                          "profile, which keeps no imported screenings."),
                        hint=_("Choose the coordinator profile with --profile NAME."))
    fmt = ExportFormat(fmt)
    if records:
        everything = screening_rows(profile.inbox.summaries(),
                                    profile.referrals.cases(include_closed=True))
        seen_areas = {row.area or NOT_KNOWN for row in everything}
    else:
        facts = facts if facts is not None else build_facts(profile.inbox.summaries())
        seen_areas = {name or NOT_KNOWN for name in facts.areas}
    if query.areas is not None:
        unknown = sorted(set(query.areas) - seen_areas - set(known_areas) - {NOT_KNOWN})
        if unknown:
            choices = sorted((seen_areas | set(known_areas)) - {NOT_KNOWN})
            raise UserError(
                _("No area is called {names}; nothing was written.").format(
                    names=", ".join(unknown)),
                hint=_("Use the area codes: {choices}.").format(
                    choices=", ".join(choices) or NOT_KNOWN))
    moment = now()
    if records:
        chosen = [row for row in everything if _passes(row, query)]
        written = total = export_records(chosen, path, fmt=fmt, hxl=hxl, labels=labels,
                                         query=query, generated_at=moment,
                                         training=profile.info.demo)
    else:
        from fieldscreen.reporting.suppression import deployment_minimum

        counts = disaggregate(facts, query)
        written = export_counts(counts, path, fmt=fmt, hxl=hxl, labels=labels,
                                small_cell=small_cell, minimum=deployment_minimum(profile),
                                generated_at=moment, training=profile.info.demo)
        total = counts.total
    try:
        profile.record_export(fmt=fmt.value, records=records, rows=written)
    except BaseException as error:
        # An export the audit log does not know about must not stay behind.
        Path(path).unlink(missing_ok=True)
        if isinstance(error, StorageFull):
            raise StorageFull(
                _("The disk is full, so the export could not be noted in the audit log; "
                  "the file was removed."),
                hint=_("Free some space on this computer, then export again.")) from None
        raise
    return ExportResult(Path(path), fmt, records, written, total)
