"""What the importer works on: sheets, rows and columns as read, the item tree it builds,
and its result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter

from fieldscreen.errors import SourceProblem, SourceProblems


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What `import_xlsform` gives back.

    Attributes:
        yaml_text: A native form file (docs/form-format.md) that `load_form_text` accepts.
        warnings: What was left out or assumed. Each names the sheet in its path
            (``file.xlsx#survey``) and the spreadsheet row as its line; line 0 means the
            sheet as a whole.
    """

    yaml_text: str
    warnings: list[SourceProblem]


class _Refused(SourceProblems):
    """Stops the import at once (unreadable file, limits exceeded)."""


@dataclass(frozen=True, slots=True)
class _Column:
    index: int
    header: str
    base: str  # the normalised name before '::', e.g. "label" or "media::image"
    language: str | None  # the text after '::' as written, e.g. "English (en)"

    @property
    def letter(self) -> str:
        return get_column_letter(self.index)


@dataclass(slots=True)
class _Row:
    number: int
    cells: dict[int, Any]  # column index -> value; empty cells are absent


@dataclass(slots=True)
class _Sheet:
    kind: str
    title: str
    columns: list[_Column] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)
    # Filled once languages are known: field name (e.g. "label::fr") -> column index.
    fields: dict[str, int] = field(default_factory=dict)
    ignored: dict[int, _Column] = field(default_factory=dict)


@dataclass(slots=True)
class _Node:
    """A kept survey row on its way to becoming a YAML item."""

    row: int
    name: str
    entry: dict[str, Any]
    children: list[_Node] | None = None
    # (column, names referred to) for the check against left-out items.
    references: list[tuple[str, frozenset[str]]] = field(default_factory=list)

    def to_data(self) -> dict[str, Any]:
        data = dict(self.entry)
        if self.children is not None:
            data["items"] = [child.to_data() for child in self.children]
        return data

    def walk(self) -> Iterable[_Node]:
        yield self
        for child in self.children or ():
            yield from child.walk()


@dataclass(slots=True)
class _Frame:
    """An open begin_group or begin_repeat."""

    kind: str  # "group" or "repeat"
    row: int
    name: str
    dropped: bool
    node: _Node | None = None
    container: list[_Node] | None = None
    inside: int = 0  # rows inside a left-out repeat


