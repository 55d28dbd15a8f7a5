"""Limits against hostile or accidental giant workbooks (docs/xlsform.md, "Limits")."""

from __future__ import annotations

MAX_WORKBOOK_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_ZIP_MEMBERS = 10_000
MAX_SURVEY_ROWS = 5_000
MAX_CHOICE_ROWS = 20_000
MAX_OTHER_ROWS = 500
# Rows are scanned up to here even when empty; a sheet formatted down to row 1,048,576
# would otherwise make the reader produce a million empty rows.
MAX_SCANNED_ROWS = 50_000
# 256: every column an Excel 97-2003 (.xls) sheet can have (A to IV); workbooks made
# there often carry a stray header far to the right.
MAX_COLUMNS = 256
MAX_CELL_CHARACTERS = 10_000
# pyxform stops reading a sheet after this many empty rows in a row (its reader's rule).
MAX_EMPTY_RUN = 60
# Beyond this, further warnings or errors are summarised in one line.
MAX_REPORTED = 500
