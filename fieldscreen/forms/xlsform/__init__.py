"""XLSForm import and export: the spreadsheets ODK and KoboToolbox authors already keep.

One module a job: `workbook` (reading the container and its cells within `limits`),
`tables` (the columns, aliases and types), `item_types` (a row's type cell), `model`
(sheets, rows, the item tree), `sheet_access`, `sheets` and `survey` (the per-sheet import),
`importer` (`import_xlsform`, checked by the form loader), `export` (`export_xlsform`) and
`cells` (cell values as text). See docs/xlsform.md.
"""

from fieldscreen.forms.xlsform import workbook
from fieldscreen.forms.xlsform.export import export_xlsform
from fieldscreen.forms.xlsform.importer import import_xlsform
from fieldscreen.forms.xlsform.limits import (
    MAX_CELL_CHARACTERS,
    MAX_CHOICE_ROWS,
    MAX_COLUMNS,
    MAX_OTHER_ROWS,
    MAX_REPORTED,
    MAX_SCANNED_ROWS,
    MAX_SURVEY_ROWS,
    MAX_UNPACKED_BYTES,
    MAX_WORKBOOK_BYTES,
    MAX_ZIP_MEMBERS,
)
from fieldscreen.forms.xlsform.model import ImportResult
from fieldscreen.forms.xlsform.tables import DEFAULT_RULES

__all__ = [
    "DEFAULT_RULES",
    "MAX_CELL_CHARACTERS",
    "MAX_CHOICE_ROWS",
    "MAX_COLUMNS",
    "MAX_OTHER_ROWS",
    "MAX_REPORTED",
    "MAX_SCANNED_ROWS",
    "MAX_SURVEY_ROWS",
    "MAX_UNPACKED_BYTES",
    "MAX_WORKBOOK_BYTES",
    "MAX_ZIP_MEMBERS",
    "ImportResult",
    "export_xlsform",
    "import_xlsform",
    "workbook",
]
