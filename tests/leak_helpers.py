"""Searching for a child's name wherever the app might have left it: files, streams, widgets.

The file search looks for each secret as UTF-8, UTF-16 (both byte orders, both alignments)
and ASCII-escaped JSON, ignoring case, in every file under a folder, inside zip members and
gzip streams, and in the files' own names. The widget search reads every text a widget can
show or give back: labels, edits (and what their undo history would restore), buttons,
item views, combo boxes, tab titles, window titles, tooltips and accessible names.

Qt is imported only by the widget and clipboard helpers, so the file search works headless.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

UNDO_LIMIT = 200  # undo steps replayed per edit: far more than any test types
GZIP_MAGIC = b"\x1f\x8b\x08"
MAX_INFLATED = 64 * 1024 * 1024


def _folded(text: str) -> str:
    return text.casefold()


def _decodings(data: bytes) -> Iterator[tuple[str, str]]:
    """`data` read as each encoding a name could be stored in (undecodable bytes dropped)."""
    yield "utf-8", data.decode("utf-8", "ignore")
    for start in (0, 1):  # a UTF-16 string can begin at an odd offset
        yield "utf-16-le", data[start:].decode("utf-16-le", "ignore")
        yield "utf-16-be", data[start:].decode("utf-16-be", "ignore")


def _escaped(text: str) -> str | None:
    escaped = json.dumps(text, ensure_ascii=True)[1:-1]
    return escaped if escaped != text else None


def found_in_text(text: str, secrets: Iterable[str]) -> list[str]:
    """Which secrets `text` holds, ignoring case (also as ASCII-escaped JSON)."""
    folded = _folded(text)
    hits = []
    for secret in secrets:
        if _folded(secret) in folded:
            hits.append(repr(secret))
        escaped = _escaped(secret)
        if escaped is not None and _folded(escaped) in folded:
            hits.append(f"{secret!r} (json-escaped)")
    return hits


def found_in(data: bytes, secrets: Iterable[str], *, depth: int = 0) -> list[str]:
    """Which secrets occur in `data`, as 'secret (encoding)'; zip and gzip are opened."""
    secrets = list(secrets)
    hits: list[str] = []
    for encoding, text in _decodings(data):
        hits += [f"{hit} ({encoding})" for hit in found_in_text(text, secrets)
                 if f"{hit} ({encoding})" not in hits]
    if depth < 2:
        hits += [f"{hit} [{where}]" for where, inner in _containers(data)
                 for hit in found_in(inner, secrets, depth=depth + 1)]
    return hits


def _containers(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The decompressed contents of zip archives and gzip streams anywhere in `data`."""
    if b"PK\x05\x06" in data:  # a zip's end record (zipfile finds the archive from it)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist():
                    yield f"zip:{name}", archive.read(name)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            pass
    start = data.find(GZIP_MAGIC)
    while start >= 0:
        inflater = zlib.decompressobj(wbits=31)
        try:
            yield f"gzip@{start}", inflater.decompress(data[start:], MAX_INFLATED)
        except zlib.error:
            pass
        start = data.find(GZIP_MAGIC, start + 1)


@dataclass
class FileScan:
    """What a scan of one or more folders saw: every file, and the hits by file."""

    files: list[Path] = field(default_factory=list)
    hits: dict[Path, list[str]] = field(default_factory=dict)

    def add(self, other: FileScan) -> None:
        self.files += other.files
        for path, hits in other.hits.items():
            self.hits.setdefault(path, []).extend(hits)

    def matching(self, predicate: Any) -> list[Path]:
        return [path for path in self.files if predicate(path)]


def scan_files(root: Path, secrets: Iterable[str]) -> FileScan:
    """Search every regular file under `root` (contents and name) for the secrets."""
    secrets = list(secrets)
    scan = FileScan()
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            scan.files.append(path)
            hits = found_in(path.read_bytes(), secrets)
            hits += [f"{hit} (in the file's name)"
                     for hit in found_in_text(str(path.relative_to(root)), secrets)]
            if hits:
                scan.hits[path] = hits
    return scan


# -- widgets and the clipboard -----------------------------------------------------------


def _columns(model: Any, parent: Any) -> int:
    try:
        return model.columnCount(parent)
    except TypeError:  # list models make columnCount private: they have one column
        return 1


def _has_children(model: Any, index: Any) -> bool:
    try:
        return bool(model.hasChildren(index))
    except TypeError:  # list and table models: flat
        return False


def _model_texts(model: Any, parent: Any = None) -> Iterator[str]:
    from PySide6.QtCore import QModelIndex, Qt

    parent = parent if parent is not None else QModelIndex()
    columns = _columns(model, parent)
    for row in range(model.rowCount(parent)):
        for column in range(columns):
            index = model.index(row, column, parent)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                         Qt.ItemDataRole.EditRole, Qt.ItemDataRole.AccessibleTextRole):
                value = model.data(index, role)
                if isinstance(value, str) and value:
                    yield value
            if column == 0 and _has_children(model, index):
                yield from _model_texts(model, index)
    for orientation, count in ((Qt.Orientation.Horizontal, columns),
                               (Qt.Orientation.Vertical, model.rowCount(parent))):
        for section in range(count):
            value = model.headerData(section, orientation, Qt.ItemDataRole.DisplayRole)
            if isinstance(value, str) and value:
                yield value


def _undo_texts(widget: Any) -> list[str]:
    """What pressing Ctrl+Z in an edit would bring back; the edit is then redone as it was."""
    from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QTextEdit

    if isinstance(widget, QLineEdit):
        if widget.echoMode() is not QLineEdit.EchoMode.Normal:
            return []  # Qt keeps no undo history worth reading in password fields
        can_undo, undo, redo, text = (widget.isUndoAvailable, widget.undo, widget.redo,
                                      widget.text)
    elif isinstance(widget, QPlainTextEdit | QTextEdit):
        document = widget.document()
        can_undo, undo, redo, text = (document.isUndoAvailable, document.undo, document.redo,
                                      document.toPlainText)
    else:
        return []
    texts = []
    steps = 0
    while steps < UNDO_LIMIT and can_undo():
        undo()
        steps += 1
        texts.append(text())
    for _step in range(steps):
        redo()
    return texts


def widget_texts(widget: Any) -> Iterator[str]:
    """Every text `widget` shows, holds or could give back through undo."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QComboBox,
        QGroupBox,
        QLabel,
        QLineEdit,
        QPlainTextEdit,
        QTabBar,
        QTextEdit,
    )

    yield widget.windowTitle()
    yield widget.toolTip()
    yield widget.statusTip()
    yield widget.whatsThis()
    yield widget.accessibleName()
    yield widget.accessibleDescription()
    if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
        yield widget.text()
    if isinstance(widget, QLineEdit | QPlainTextEdit | QTextEdit):
        yield widget.placeholderText()
    if isinstance(widget, QPlainTextEdit | QTextEdit):
        yield widget.toPlainText()
    if isinstance(widget, QGroupBox):
        yield widget.title()
    if isinstance(widget, QComboBox):
        yield widget.currentText()
        yield from (widget.itemText(i) for i in range(widget.count()))
    if isinstance(widget, QTabBar):
        yield from (widget.tabText(i) for i in range(widget.count()))
    if isinstance(widget, QAbstractItemView) and widget.model() is not None:
        yield from _model_texts(widget.model())
    yield from _undo_texts(widget)


def _describe(widget: Any) -> str:
    name = widget.accessibleName() or widget.objectName()
    owner = widget.window()
    where = type(owner).__name__ if owner is not None and owner is not widget else "window"
    return f"{type(widget).__name__}({name!r}) in {where}"


def widget_leaks(secrets: Iterable[str]) -> list[str]:
    """Every live widget of the application still holding one of the secrets.

    Widgets already scheduled for deletion are deleted first: they are gone once the
    event loop turns, and a widget that outlives that is a finding.
    """
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    secrets = list(secrets)
    leaks = []
    for widget in QApplication.allWidgets():
        for text in widget_texts(widget):
            for hit in found_in_text(text or "", secrets):
                leaks.append(f"{_describe(widget)}: {hit} in {text[:80]!r}")
    return sorted(set(leaks))


def clipboard_leaks(secrets: Iterable[str]) -> list[str]:
    """What the clipboard still holds of the secrets, in every format it offers."""
    from PySide6.QtGui import QClipboard, QGuiApplication

    secrets = list(secrets)
    clipboard = QGuiApplication.clipboard()
    leaks = []
    modes = [QClipboard.Mode.Clipboard]
    if clipboard.supportsSelection():
        modes.append(QClipboard.Mode.Selection)
    for mode in modes:
        leaks += [f"{mode.name} text: {hit}" for hit in found_in_text(clipboard.text(mode),
                                                                      secrets)]
        data = clipboard.mimeData(mode)
        for fmt in (data.formats() if data is not None else []):
            raw = bytes(data.data(fmt).data())
            leaks += [f"{mode.name} {fmt}: {hit}" for hit in found_in(raw, secrets)]
    return leaks
