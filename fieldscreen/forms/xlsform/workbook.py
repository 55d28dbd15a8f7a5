"""Reading the workbook: the container's checks, then cell values only, within the limits."""

from __future__ import annotations

import io
import math
import warnings
import zipfile
from collections.abc import Iterable
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

from fieldscreen.errors import SourceProblem, SourceProblems
from fieldscreen.files import read_regular_file
from fieldscreen.forms.xlsform.cells import _as_text, _shorten
from fieldscreen.forms.xlsform.limits import (
    MAX_CELL_CHARACTERS,
    MAX_COLUMNS,
    MAX_EMPTY_RUN,
    MAX_OTHER_ROWS,
    MAX_SCANNED_ROWS,
    MAX_UNPACKED_BYTES,
    MAX_WORKBOOK_BYTES,
    MAX_ZIP_MEMBERS,
)
from fieldscreen.forms.xlsform.model import _Refused, _Row, _Sheet
from fieldscreen.forms.xlsform.sheet_access import _SheetAccess
from fieldscreen.forms.xlsform.tables import _ROW_LIMITS, _SHEET_ORDER, SURVEY
from fieldscreen.i18n import _

# The first bytes of an OLE2 compound file, the container of Excel 97-2003 (.xls) workbooks.
_OLE2_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")


def _sheet_kind(title: str, titles: list[str]) -> str:
    """Which sheet `title` is; as in pyxform, a workbook's only sheet is its survey."""
    kind = title.strip().lower()
    if len(titles) == 1 and kind not in _SHEET_ORDER:
        return SURVEY
    return kind


class _WorkbookReader:
    """Reads the sheets the importer needs, cell values only, within the limits."""

    def __init__(self, importer: _SheetAccess) -> None:
        self.importer = importer
        self.path = importer.path
        self.data = b""
        self.legacy = False

    def read(self) -> None:
        self._check_container()
        formulas: dict[str, set[tuple[int, int]]] = {}
        if self.legacy:
            self._store(self._read_legacy(), {})
            return
        book = self._open(data_only=False)
        try:
            with warnings.catch_warnings():
                # openpyxl warns while it reads rows too (unknown extensions, data
                # validation): no concern of a form, and never raw on a person's terminal.
                warnings.simplefilter("ignore")
                raw = self._scan_sheets(book)
        except _Refused:
            raise
        except Exception as error:  # openpyxl raises many kinds on a damaged workbook
            raise self._unreadable(error) from None
        finally:
            book.close()
        for kind, rows in raw.items():
            formulas[kind] = {(number, index) for number, cells in rows
                              for index, (_value, data_type) in cells.items()
                              if data_type == "f"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cached = self._cached_values(
                {kind: cells for kind, cells in formulas.items() if cells})
        self._store(raw, cached)

    def _scan_sheets(self, book: Any) -> dict[str, list[tuple[int, dict[int, tuple[Any, str]]]]]:
        raw: dict[str, list[tuple[int, dict[int, tuple[Any, str]]]]] = {}
        for title in book.sheetnames:
            kind = _sheet_kind(title, book.sheetnames)
            if kind not in _SHEET_ORDER or kind in raw:
                self._unread_sheet(title, kind)
                continue
            self.importer.titles[kind] = title
            raw[kind] = self._scan(book[title], kind)
        return raw

    def _store(self, raw: dict[str, list[tuple[int, dict[int, tuple[Any, str]]]]],
               cached: dict[tuple[str, int, int], Any]) -> None:
        for kind, rows in raw.items():
            sheet = _Sheet(kind, self.importer.titles[kind])
            for number, cells in rows:
                values = {}
                for index, (value, data_type) in cells.items():
                    value = self._value(kind, number, index, value, data_type,
                                        cached.get((kind, number, index)))
                    if value is not None:
                        values[index] = value
                if values:
                    sheet.rows.append(_Row(number, values))
            self.importer.sheets[kind] = sheet

    def _check_container(self) -> None:
        shown = self.importer.shown
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise SourceProblems([SourceProblem(shown, 0, _("no such file; check the path"))]
                                 ) from None
        except OSError as error:
            raise SourceProblems([SourceProblem(shown, 0, _(
                "cannot read the file: {reason}").format(reason=error.strerror or error))]
            ) from None
        if not self.path.is_file():
            raise SourceProblems([SourceProblem(shown, 0, _(
                "this is not a file; give the path of an .xlsx workbook"))])
        if size > MAX_WORKBOOK_BYTES:
            raise SourceProblems([SourceProblem(shown, 0, _(
                "the workbook is larger than {limit} MiB; remove pictures or unused sheets"
            ).format(limit=MAX_WORKBOOK_BYTES // (1024 * 1024)))])
        try:
            # Read once, into memory (the size is checked above): openpyxl leaves its file
            # open when a damaged workbook makes it fail half-way.
            self.data = read_regular_file(self.path)
        except OSError as error:
            raise SourceProblems([SourceProblem(shown, 0, _(
                "cannot read the file: {reason}").format(reason=error.strerror or error))]
            ) from None
        if self.data.startswith(_OLE2_SIGNATURE):
            # An Excel 97-2003 (.xls) workbook: read through calamine (docs/decisions.md).
            self.legacy = True
            return
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
                members = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise SourceProblems([SourceProblem(shown, 0, _(
                "this is not an .xlsx workbook; save it in Excel or LibreOffice as 'Excel "
                "Workbook (.xlsx)' (old .xls files and CSV are not read)"))]) from None
        unpacked = sum(member.file_size for member in members)
        if len(members) > MAX_ZIP_MEMBERS or unpacked > MAX_UNPACKED_BYTES:
            raise SourceProblems([SourceProblem(shown, 0, _(
                "the workbook unpacks to more than {limit} MiB; it is not a form FieldScreen "
                "can read").format(limit=MAX_UNPACKED_BYTES // (1024 * 1024)))])

    def _read_legacy(self) -> dict[str, list[tuple[int, dict[int, tuple[Any, str]]]]]:
        """The cell values of an .xls workbook's sheets (saved results stand for formulas)."""
        from python_calamine import CalamineWorkbook  # only .xls needs it

        raw: dict[str, list[tuple[int, dict[int, tuple[Any, str]]]]] = {}
        try:
            book = CalamineWorkbook.from_filelike(io.BytesIO(self.data))
            for title in book.sheet_names:
                kind = _sheet_kind(title, book.sheet_names)
                if kind not in _SHEET_ORDER or kind in raw:
                    self._unread_sheet(title, kind)
                    continue
                self.importer.titles[kind] = title
                rows = book.get_sheet_by_name(title).to_python(skip_empty_area=False)
                raw[kind] = self._collect(
                    kind, title, ([(value, "n") for value in row] for row in rows))
        except _Refused:
            raise
        except Exception as error:  # calamine raises its own kinds on a damaged workbook
            raise self._unreadable(error) from None
        return raw

    def _open(self, *, data_only: bool) -> Any:
        try:
            # openpyxl warns about Excel features it drops (data validation, styles); those
            # are no concern of a form, and the test suite turns warnings into errors.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return openpyxl.load_workbook(io.BytesIO(self.data), read_only=True,
                                              data_only=data_only, keep_links=False)
        except Exception as error:  # openpyxl raises many kinds on a damaged workbook
            raise self._unreadable(error) from None

    def _unreadable(self, error: Exception) -> SourceProblems:
        return SourceProblems([SourceProblem(self.importer.shown, 0, _(
            "the workbook cannot be read ({reason}); open it in Excel or LibreOffice and save "
            "it again as .xlsx").format(reason=_shorten(str(error) or type(error).__name__)))])

    def _unread_sheet(self, title: str, kind: str) -> None:
        problem = SourceProblem(f"{self.importer.shown}#{title}", 0, _(
            "external choices are not supported; the sheet is not read")
            if kind == "external_choices" else _(
            "FieldScreen does not read a sheet called '{title}'; it is ignored").format(
            title=title))
        self.importer.warnings.append(problem)

    def _scan(self, worksheet: Any, kind: str) -> list[tuple[int, dict[int, tuple[Any, str]]]]:
        # The stored dimensions may claim a million rows or columns; without them each row
        # is as wide as its last cell and the gaps between rows are empty tuples.
        worksheet.reset_dimensions()
        return self._collect(kind, worksheet.title, (
            [(cell.value, cell.data_type) for cell in cells] for cells in worksheet.iter_rows()))

    def _collect(self, kind: str, title: str, cell_rows: Iterable[list[tuple[Any, str]]]
                 ) -> list[tuple[int, dict[int, tuple[Any, str]]]]:
        limit = _ROW_LIMITS.get(kind, MAX_OTHER_ROWS)
        rows: list[tuple[int, dict[int, tuple[Any, str]]]] = []
        for number, cells in enumerate(cell_rows, start=1):
            found = {index: (value, data_type)
                     for index, (value, data_type) in enumerate(cells, start=1)
                     if value is not None and not (isinstance(value, str)
                                                   and not value.strip())}
            if not found:
                # Formatting often runs to the sheet's last row (1,048,576): empty rows cost
                # nothing kept, so only data past the limit is refused.
                continue
            if rows and number - rows[-1][0] - 1 > MAX_EMPTY_RUN:
                # pyxform (so ODK) ends a sheet at a run of empty rows; what follows is not
                # part of the form it runs, so it is not part of the one imported either.
                self.importer.warn(kind, number, _(
                        "this row and those below it are not read: they follow more than "
                        "{count} empty rows, where pyxform and ODK end the sheet").format(
                        count=MAX_EMPTY_RUN))
                break
            if number > MAX_SCANNED_ROWS:
                raise self.importer.refuse(kind, number, _(
                    "the sheet goes on past row {limit}; FieldScreen reads at most {rows} rows "
                    "(delete the empty rows at the end of the sheet)").format(
                    limit=MAX_SCANNED_ROWS, rows=limit))
            if max(found) > MAX_COLUMNS:
                raise self.importer.refuse(kind, number, _(
                    "this row goes past column {letter}; FieldScreen reads at most {limit} "
                    "columns").format(letter=get_column_letter(MAX_COLUMNS), limit=MAX_COLUMNS))
            rows.append((number, found))
            if len(rows) > limit + 1:  # the column names do not count
                raise self.importer.refuse(kind, number, _(
                    "the {sheet} sheet has more than {limit} rows; FieldScreen refuses forms "
                    "this large").format(sheet=title, limit=limit))
        return rows

    def _cached_values(self, wanted: dict[str, set[tuple[int, int]]]
                       ) -> dict[tuple[str, int, int], Any]:
        found: dict[tuple[str, int, int], Any] = {}
        if not wanted:
            return found
        book = self._open(data_only=True)
        try:
            for kind, positions in wanted.items():
                last = max(number for number, _index in positions)
                worksheet = book[self.importer.titles[kind]]
                worksheet.reset_dimensions()
                for number, cells in enumerate(worksheet.iter_rows(
                        max_row=last, max_col=MAX_COLUMNS), start=1):
                    for index, cell in enumerate(cells, start=1):
                        if (number, index) in positions:
                            found[(kind, number, index)] = cell.value
        except Exception as error:  # openpyxl raises many kinds on a damaged workbook
            raise self._unreadable(error) from None
        finally:
            book.close()
        return found

    def _value(self, kind: str, number: int, index: int, value: Any, data_type: str,
               cached: Any) -> Any:
        reference = f"{get_column_letter(index)}{number}"
        if data_type == "e":
            self.importer.error(kind, number, _(
                "cell {cell} holds the Excel error {value}; correct it").format(
                cell=reference, value=value))
            return None
        if data_type == "f":
            if cached is None or cached == "":
                self.importer.error(kind, number, _(
                    "cell {cell} holds a formula with no saved result; type the value instead "
                    "(or open the workbook in Excel or LibreOffice and save it)").format(
                    cell=reference))
                return None
            self.importer.warn(kind, number, _(
                "cell {cell} holds a formula; its saved result '{value}' is used").format(
                cell=reference, value=_shorten(_as_text(cached))))
            value = cached
        if isinstance(value, float) and not math.isfinite(value):
            self.importer.error(kind, number, _("cell {cell} is not a finite number").format(
                cell=reference))
            return None
        if isinstance(value, str):
            if len(value) > MAX_CELL_CHARACTERS:
                self.importer.error(kind, number, _(
                    "cell {cell} holds more than {limit} characters").format(
                    cell=reference, limit=MAX_CELL_CHARACTERS))
                return None
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        return value


