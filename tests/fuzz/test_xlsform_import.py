"""Fuzzing XLSForm import: workbooks changed cell by cell, zip member by member, byte by byte.

tests/unit/forms/test_xlsform.py builds small arbitrary workbooks from scratch; these targets
start from real exported forms (the mini form and the shipped checklist) so the changes
reach the deep checks, and damage the .xlsx container itself. Any file gives an
`ImportResult` whose YAML loads, or `SourceProblems` located by sheet and row.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import io
import itertools
import os
import tempfile
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from fieldscreen.errors import SourceProblems
from fieldscreen.forms.loader import load_form, load_form_text
from fieldscreen.forms.xlsform import ImportResult, export_xlsform, import_xlsform
from tests.conftest import DATA, SHIPPED_FORM
from tests.fuzz.conftest import (
    bounded_memory,
    check_message,
    fuzz_settings,
    parse_or_refuse,
)
from tests.fuzz.strategies import HUGE_NUMBERS, mutate_bytes, odd_text

MINI_FORM = DATA / "forms" / "mini.yaml"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("xlsform")


@functools.cache
def exported(which: int) -> bytes:
    source = (MINI_FORM, SHIPPED_FORM)[which]
    with tempfile.TemporaryDirectory(prefix="fuzz-xlsform-") as folder:
        path = Path(folder) / "form.xlsx"
        export_xlsform(load_form(source), source.read_text(encoding="utf-8"), path)
        return path.read_bytes()


_names = itertools.count()


def import_bytes(folder: Path, raw: bytes) -> ImportResult | Exception:
    """The property: an ImportResult whose YAML loads, or clean located SourceProblems."""
    path = folder / f"fuzz-{next(_names)}.xlsx"
    path.write_bytes(raw)
    try:
        result = parse_or_refuse(lambda: import_xlsform(path), SourceProblems)
    finally:
        path.unlink()
    if isinstance(result, ImportResult):
        for warning in result.warnings:
            check_message(warning.message)
        load_form_text(result.yaml_text, "imported.yaml")
    return result


CELL_VALUES = st.one_of(
    odd_text(30).map(lambda text: ILLEGAL_CHARACTERS_RE.sub("", text)),
    st.sampled_from(["text", "integer", "select_one yes_no", "select_multiple nope",
                     "begin_group", "end_group", "begin_repeat", "end_repeat", "calculate",
                     "note", "acknowledge", "${age} > 1", ". >= 0", "regex(., '(a+)+')",
                     "=1/0", "=A1", "=NA()", "#N/A", "yes", "no", "gap", "risk", "child",
                     "worker", "A", "E", "Z", "thresholds.refer", "lowered_when", "version",
                     "label::Français (fr)", "label::xx", "list_name", "name", "type",
                     "x" * 10_001]),
    st.sampled_from([n for n in HUGE_NUMBERS if isinstance(n, float) or abs(n) < 2**63]),
    st.integers(-10, 10), st.booleans(), st.none(),
    st.dates(min_value=dt.date(1900, 3, 1)),
)


@fuzz_settings(25)
@given(data=st.data(), which=st.sampled_from([0, 1]))
def test_workbooks_changed_cell_by_cell(fuzz_dir, data, which):
    book = openpyxl.load_workbook(io.BytesIO(exported(which)))
    for _change in range(data.draw(st.integers(1, 6), label="changes")):
        sheet = book[data.draw(st.sampled_from(book.sheetnames), label="sheet")]
        op = data.draw(st.sampled_from(["cell", "cell", "cell", "delete_row", "insert_row",
                                        "rename", "header"]), label="op")
        row = data.draw(st.integers(1, max(1, sheet.max_row + 1)), label="row")
        column = data.draw(st.integers(1, max(1, sheet.max_column + 1)), label="column")
        if op == "cell" or (op == "header" and (row := 1)):
            value = data.draw(CELL_VALUES, label="value")
            sheet.cell(row=row, column=column).value = value
        elif op == "delete_row":
            sheet.delete_rows(row)
        elif op == "insert_row":
            sheet.insert_rows(row)
        else:
            title = data.draw(st.sampled_from(["survey", "choices", "settings", "fs_rules",
                                               "Survey ", "external_choices", "x"]))
            if title not in book.sheetnames:
                sheet.title = title
    buffer = io.BytesIO()
    book.save(buffer)
    import_bytes(fuzz_dir, buffer.getvalue())


def _rezip(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED
                                                    ) as archive:
        warnings.simplefilter("ignore")  # a duplicate name is one of the damages wanted
        for info, content in members:
            archive.writestr(info.filename, content)
    return buffer.getvalue()


@fuzz_settings(40)
@given(data=st.data(), which=st.sampled_from([0, 1]))
def test_workbooks_changed_inside_their_xml(fuzz_dir, data, which):
    with zipfile.ZipFile(io.BytesIO(exported(which))) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    index = data.draw(st.integers(0, len(members) - 1), label="member")
    info, content = members[index]
    op = data.draw(st.sampled_from(["bytes", "drop", "duplicate", "empty"]), label="op")
    if op == "bytes":
        members[index] = (info, mutate_bytes(data, content, max_mutations=5))
    elif op == "drop":
        del members[index]
    elif op == "duplicate":
        members.append((info, content))
    else:
        members[index] = (info, b"")
    import_bytes(fuzz_dir, _rezip(members))


@fuzz_settings(40)
@given(data=st.data(), which=st.sampled_from([0, 1]))
def test_workbook_files_changed_byte_by_byte(fuzz_dir, data, which):
    import_bytes(fuzz_dir, mutate_bytes(data, exported(which), max_mutations=4))


@fuzz_settings(30)
@given(raw=st.one_of(st.binary(max_size=400),
                     st.binary(max_size=200).map(lambda tail: b"PK\x03\x04" + tail)))
def test_random_bytes_as_a_workbook(fuzz_dir, raw):
    import_bytes(fuzz_dir, raw)


# -- hostile giants ------------------------------------------------------------------------------


def _with_member(name: str, content: bytes, which: int = 0) -> bytes:
    with zipfile.ZipFile(io.BytesIO(exported(which))) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()
                   if info.filename != name]
    return _rezip([*members, (zipfile.ZipInfo(name), content)])


@functools.cache
def _giants() -> dict[str, bytes]:
    sheet = "xl/worksheets/sheet1.xml"
    open_sheet = (b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
                  b'spreadsheetml/2006/main"><sheetData>')
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n else b"&lol;")
                                                     * 10) for n in range(1, 10))
              + b']><worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;'
              b"</t></is></c></row></sheetData></worksheet>")
    return {
        "a zip bomb": _with_member(sheet, open_sheet + b"<row/>" * (40 * MIB) + b"</sheetData>"
                                   b"</worksheet>"),
        "deeply nested xml": _with_member(sheet, open_sheet + b"<a>" * 200_000),
        "billion laughs": _with_member(sheet, laughs),
        "a row far down": _with_member(sheet, open_sheet + b'<row r="1048576"><c r="A1048576" '
                                       b't="inlineStr"><is><t>x</t></is></c></row>'
                                       b"</sheetData></worksheet>"),
        "a cell far right": _with_member(sheet, open_sheet + b'<row r="2"><c r="XFD2" '
                                         b't="inlineStr"><is><t>x</t></is></c></row>'
                                         b"</sheetData></worksheet>"),
        "many members": _rezip([(zipfile.ZipInfo(f"m{n}"), b"") for n in range(12_000)]),
    }


@pytest.mark.parametrize("name", list(_giants()))
def test_hostile_giant_workbooks_are_refused_in_bounded_memory_and_time(fuzz_dir, name):
    raw = _giants()[name]
    with bounded_memory(96 * MIB + 20 * len(raw)):
        import_bytes(fuzz_dir, raw)


# -- regressions: what the targets above found --------------------------------------------------


def _open_on(path: Path) -> list[str]:
    folder = Path("/proc/self/fd")
    return [fd.name for fd in folder.iterdir() if os.path.realpath(fd) == str(path)]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("member", ["xl/workbook.xml", "xl/_rels/workbook.xml.rels",
                                    "xl/styles.xml"])
def test_a_workbook_openpyxl_fails_on_leaves_no_file_open(fuzz_dir, member):
    # openpyxl kept the file open when it failed half-way; the handle stayed until the
    # garbage collector ran (a ResourceWarning, an error under pytest, at a random later
    # test). The importer now hands it the bytes, read once.
    with zipfile.ZipFile(io.BytesIO(exported(0))) as archive:
        members = [(info, b"<broken" if info.filename == member else archive.read(info))
                   for info in archive.infolist()]
    path = fuzz_dir / "broken.xlsx"
    path.write_bytes(_rezip(members))
    gc.disable()
    try:
        with pytest.raises(SourceProblems):
            import_xlsform(path)
        assert _open_on(path) == []
    finally:
        gc.enable()
        gc.collect()
        path.unlink()
