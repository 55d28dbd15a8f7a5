"""Coordinator exports: the files say what the dashboard says, HXL tools read them, and
nothing in them runs as a formula.

The coordinator here has imported a real sealed batch (`tests/exchange_helpers.py`), so the
counts are those of real screenings of the shipped checklist; the expected values always
come from `disaggregate()`, the dashboard's own function.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import socket

import openpyxl
import pytest

from fieldscreen.cli import main
from fieldscreen.errors import UserError
from fieldscreen.reporting import exports
from fieldscreen.reporting.dashboard import (
    AgeBands,
    DashboardFilter,
    Dimension,
    disaggregate,
)
from fieldscreen.reporting.exports import (
    COUNT_COLUMNS,
    RECORD_COLUMNS,
    age_band,
    export_counts,
    export_profile,
    export_records,
    neutralised,
    screening_rows,
)
from fieldscreen.reporting.facts import build_facts
from fieldscreen.reporting.labels import form_labels
from fieldscreen.reporting.suppression import HIDDEN, TOTAL, count_key, cross_key, publish
from fieldscreen.store.follow_up import FollowUpStatus
from tests.exchange_helpers import PASSPHRASE, make_world, shipped_form

NOW = dt.datetime(2026, 3, 2, 8, 30, tzinfo=dt.UTC)
RECORDS = 12
# libhxl reads XLSX through xlrd3, which imports a module defusedxml marks deprecated.
XLRD3_WARNING = "ignore:defusedxml.cElementTree is deprecated:DeprecationWarning"
COUNT_TAGS = [column.tag for column in COUNT_COLUMNS]
RECORD_TAGS = [column.tag for column in RECORD_COLUMNS]


@pytest.fixture
def world(tmp_path):
    built = make_world(tmp_path)
    built.import_bytes(built.sealed_batch(RECORDS).file)
    yield built
    built.close()


@pytest.fixture
def labels():
    return form_labels(shipped_form(), "en")


@pytest.fixture
def counts(world):
    return disaggregate(build_facts(world.coordinator.inbox.summaries()))


@pytest.fixture
def rows(world):
    profile = world.coordinator
    return screening_rows(profile.inbox.summaries(), profile.referrals.cases(include_closed=True))


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to reach the network fails the test."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def out(tmp_path):
    """An empty folder for export files (the world's profiles live beside it)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def passphrase_file(tmp_path):
    path = tmp_path / "pass.txt"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


def expected_counts(counts, labels, threshold=5, training=0):
    """The Counts table as the dashboard shows it: hidden cells as "x", others as numbers."""
    published = publish(counts, threshold)
    found = []
    for dimension in Dimension:
        for category, count in counts.counts[dimension]:
            found.append([dimension.title, dimension.value, labels(dimension, category),
                          category, published.cell(count_key(dimension, category), count),
                          training])
    return found


def sheet_rows(path, name):
    workbook = openpyxl.load_workbook(path)
    try:
        return [list(row) for row in workbook[name].iter_rows(values_only=True)]
    finally:
        workbook.close()


def csv_rows(path):
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def read_hxl(path):
    import hxl

    with path.open("rb") as handle:
        dataset = hxl.data(handle)
        return dataset.display_tags, [row.values for row in dataset]


# -- counts ----------------------------------------------------------------------------------


def test_xlsx_counts_match_the_dashboard_cell_by_cell(counts, labels, tmp_path):
    path = tmp_path / "counts.xlsx"
    written = export_counts(counts, path, fmt="xlsx", hxl=False, labels=labels,
                            generated_at=NOW)

    table = sheet_rows(path, "Counts")
    expected = expected_counts(counts, labels)
    assert table[0] == ["Dimension", "Dimension code", "Category", "Category code", "Children",
                        "Training export"]
    assert table[1:] == expected
    assert written == len(expected)
    children = [row[4] for row in expected]
    # The batch gives both kinds of cell, so both are checked.
    assert HIDDEN in children and any(isinstance(c, int) and c >= 5 for c in children)
    assert 0 in children


def test_xlsx_age_by_sex_is_the_dashboard_cross_tab_with_small_cells_hidden(
        counts, labels, tmp_path):
    path = tmp_path / "counts.xlsx"
    export_counts(counts, path, fmt="xlsx", hxl=False, labels=labels, generated_at=NOW)

    table = sheet_rows(path, "Age by sex")
    assert table[0] == ["Age band", *(labels(Dimension.SEX, sex) for sex in counts.sexes),
                        "Training export"]
    published = publish(counts, 5)
    expected = [[labels(Dimension.AGE_BAND, band),
                 *(published.cell(cross_key(band, sex), value)
                   for sex, value in zip(counts.sexes, values, strict=True)), 0]
                for band, values in counts.age_by_sex]
    assert table[1:] == expected
    assert any(HIDDEN in row for row in expected)


def test_xlsx_data_dictionary_names_every_column_the_filter_and_the_rule(
        world, labels, tmp_path):
    facts = build_facts(world.coordinator.inbox.summaries())
    query = DashboardFilter(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31),
                            areas=frozenset({"north_district"}), age_bands=AgeBands.UNHCR)
    path = tmp_path / "counts.xlsx"
    export_counts(disaggregate(facts, query), path, fmt="xlsx", hxl=True, labels=labels,
                  small_cell=10, generated_at=NOW)

    table = sheet_rows(path, "Data dictionary")
    assert table[0] == ["Sheet", "Column", "HXL hashtag", "Meaning", "Allowed values"]
    tags = {row[2] for row in table[1:]}
    assert set(COUNT_TAGS) <= tags
    about = {row[0]: row[1] for row in table if row[0] and row[1] and not row[2]}
    assert about["Screening dates"] == "2026-03-01 to 2026-03-31 (both included)"
    assert about["Areas"] == "North District (north_district)"
    assert about["Age bands"] == "0-4, 5-11, 12-17 (unhcr)"
    assert about["Generated at"] == "2026-03-02T08:30:00Z"
    assert "1 to 9 are hidden" in about["Small-cell rule"]
    assert "can still be subtracted" in about["Small-cell rule"]
    published = publish(disaggregate(facts, query), 10)
    assert about["Children counted"] == published.cell(TOTAL, published.view.total)


def test_csv_counts_match_the_dashboard_and_carry_a_byte_order_mark(counts, labels,
                                                                    tmp_path):
    path = tmp_path / "counts.csv"
    export_counts(counts, path, fmt="csv", hxl=False, labels=labels, generated_at=NOW)

    assert path.read_bytes().startswith(b"\xef\xbb\xbfDimension,")
    table = csv_rows(path)
    assert table[0] == ["Dimension", "Dimension code", "Category", "Category code", "Children",
                        "Training export"]
    assert table[1:] == [[str(cell) for cell in row] for row in expected_counts(counts, labels)]


def test_a_higher_threshold_hides_more_and_none_goes_below_the_minimum(counts, labels,
                                                                        tmp_path):
    path = tmp_path / "counts.csv"
    export_counts(counts, path, fmt="csv", hxl=False, labels=labels, small_cell=1000,
                  generated_at=NOW)
    assert {row[4] for row in csv_rows(path)[1:]} <= {"0", HIDDEN}

    for low, minimum in ((1, 5), (4, 5), (6, 8)):
        with pytest.raises(UserError, match=f"below {minimum}"):
            export_counts(counts, tmp_path / "low.csv", fmt="csv", hxl=False, labels=labels,
                          small_cell=low, minimum=minimum, generated_at=NOW)
        assert not (tmp_path / "low.csv").exists()


@pytest.mark.filterwarnings(XLRD3_WARNING)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_libhxl_reads_the_hashtags_and_the_counts_offline(counts, labels, tmp_path, fmt,
                                                          offline):
    path = tmp_path / f"counts.{fmt}"
    export_counts(counts, path, fmt=fmt, hxl=True, labels=labels, generated_at=NOW)

    tags, values = read_hxl(path)

    assert tags == COUNT_TAGS
    found = {(row[1], row[3]): str(row[4]) for row in values}
    published = publish(counts, 5)
    expected = {(d.value, category): str(published.cell(count_key(d, category), count))
                for d in Dimension for category, count in counts.counts[d]}
    assert found == expected


def test_without_hxl_the_second_row_is_data(counts, labels, tmp_path):
    path = tmp_path / "counts.csv"
    export_counts(counts, path, fmt="csv", hxl=False, labels=labels, generated_at=NOW)
    assert not any(cell.startswith("#") for cell in csv_rows(path)[1])


# -- records ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_record_export_has_one_row_per_imported_screening(world, rows, labels, tmp_path, fmt):
    path = tmp_path / f"records.{fmt}"
    written = export_records(rows, path, fmt=fmt, hxl=False, labels=labels, generated_at=NOW)

    table = sheet_rows(path, "Screenings") if fmt == "xlsx" else csv_rows(path)
    imported = world.coordinator.inbox.records()
    assert written == len(table) - 1 == len(imported) == RECORDS
    assert table[0] == ["Record id", "Screening date", "Age", "Age band", "Sex", "Nationality",
                        "Area", "Forms of exploitation", "Decision", "Follow-up status",
                        "Training record"]
    assert {row[0] for row in table[1:]} == {record.id for record in imported}
    assert {row[1] for row in table[1:]} == {"2026-03-01"}


def test_record_rows_agree_with_the_dashboard_and_the_referral_queue(world, rows, counts):
    assert len(rows) == counts.total
    bands = {}
    for row in rows:
        band = age_band(row.age, AgeBands.STANDARD)
        bands[band] = bands.get(band, 0) + 1
    assert bands == {band: count for band, count in counts.counts[Dimension.AGE_BAND] if count}
    queue = {case.record_id for case in world.coordinator.referrals.cases()}
    assert {row.record_id for row in rows if row.follow_up is FollowUpStatus.NEW} == queue
    assert all(row.follow_up is None for row in rows if row.decision not in ("urgent",
                                                                            "referral"))


def test_record_rows_pass_the_same_filter_as_the_counts(world):
    profile = world.coordinator
    facts = build_facts(profile.inbox.summaries())
    for query in (DashboardFilter(areas=frozenset({"north_district"})),
                  DashboardFilter(areas=frozenset({"not_known"})),
                  DashboardFilter(start=dt.date(2026, 3, 2)),
                  DashboardFilter(end=dt.date(2026, 3, 1))):
        chosen = screening_rows(profile.inbox.summaries(), (), query)
        assert len(chosen) == disaggregate(facts, query).total


@pytest.mark.filterwarnings(XLRD3_WARNING)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_libhxl_reads_the_record_export(rows, labels, tmp_path, fmt, offline):
    path = tmp_path / f"records.{fmt}"
    export_records(rows, path, fmt=fmt, hxl=True, labels=labels, generated_at=NOW)

    tags, values = read_hxl(path)

    assert tags == RECORD_TAGS
    assert len(values) == RECORDS
    assert {str(row[10]) for row in values} == {"0"}


def test_record_dictionary_says_nothing_is_suppressed(rows, labels, tmp_path):
    path = tmp_path / "records.xlsx"
    export_records(rows, path, fmt="xlsx", hxl=True, labels=labels, generated_at=NOW)

    table = sheet_rows(path, "Data dictionary")
    assert {row[2] for row in table[1:] if row[2]} == set(RECORD_TAGS)
    about = {row[0]: row[1] for row in table if row[0] and row[1] and not row[2]}
    assert about["Small-cell rule"].startswith("Does not apply")
    assert about["Screenings"] == RECORDS
    assert "personal data" in about["Export"]
    assert sheet_rows(path, "Screenings")[1] == RECORD_TAGS


def test_records_that_do_not_fit_a_sheet_are_refused_before_writing(rows, labels, out,
                                                                    monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 5)
    path = out / "records.xlsx"
    with pytest.raises(UserError) as error:
        export_records(rows, path, fmt="xlsx", hxl=False, labels=labels, generated_at=NOW)
    assert "Export as CSV" in error.value.hint
    assert list(out.iterdir()) == []


# -- formula injection -----------------------------------------------------------------------


HOSTILE = ("=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd")


def test_neutralised_prefixes_only_what_would_run():
    for text in HOSTILE:
        assert neutralised(text) == "'" + text
    for text in ("#affected+children+num", "<5", "0-5", "18+", "Girl", ""):
        assert neutralised(text) == text


def hostile_labels(dimension, category):
    return HOSTILE[(len(dimension) + len(category)) % len(HOSTILE)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", ["counts", "records"])
def test_no_cell_starts_like_a_formula(counts, rows, tmp_path, fmt, kind):
    path = tmp_path / f"{kind}.{fmt}"
    if kind == "counts":
        export_counts(counts, path, fmt=fmt, hxl=True, labels=hostile_labels, generated_at=NOW)
    else:
        export_records(rows, path, fmt=fmt, hxl=True, labels=hostile_labels, generated_at=NOW)

    if fmt == "csv":
        cells = [cell for row in csv_rows(path) for cell in row]
    else:
        workbook = openpyxl.load_workbook(path)
        assert not any(cell.data_type == "f" for sheet in workbook for row in sheet.iter_rows()
                       for cell in row)
        cells = [cell for sheet in workbook for row in sheet.iter_rows(values_only=True)
                 for cell in row if isinstance(cell, str)]
        workbook.close()
    assert any(cell.startswith("'") for cell in cells)
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]


# -- writing ---------------------------------------------------------------------------------


def test_a_folder_that_does_not_exist_is_a_clean_error(counts, labels, out):
    with pytest.raises(UserError) as error:
        export_counts(counts, out / "missing" / "counts.csv", fmt="csv", hxl=False,
                      labels=labels, generated_at=NOW)
    assert "Cannot write" in error.value.message
    assert "Nothing was written" in error.value.hint
    assert list(out.iterdir()) == []


def test_a_full_disk_leaves_neither_the_file_nor_a_temporary_one(counts, labels, out,
                                                                 monkeypatch):
    def full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("fieldscreen.files.os.fsync", full)
    with pytest.raises(UserError, match="No space left on device"):
        export_counts(counts, out / "counts.xlsx", fmt="xlsx", hxl=True, labels=labels,
                      generated_at=NOW)
    assert list(out.iterdir()) == []


def test_an_existing_export_is_replaced_whole(counts, labels, out):
    path = out / "counts.csv"
    path.write_text("old\n", encoding="utf-8")
    export_counts(counts, path, fmt="csv", hxl=False, labels=labels, generated_at=NOW)
    assert csv_rows(path)[0][0] == "Dimension"
    assert [p.name for p in out.iterdir()] == ["counts.csv"]


def test_exports_never_touch_temporary_files(counts, rows, labels, out, monkeypatch):
    import tempfile

    def refuse(*_args, **_kwargs):
        raise AssertionError("a temporary file was made")

    for name in ("mkstemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse)
    export_counts(counts, out / "c.xlsx", fmt="xlsx", hxl=True, labels=labels,
                  generated_at=NOW)
    export_records(rows, out / "r.xlsx", fmt="xlsx", hxl=True, labels=labels,
                   generated_at=NOW)
    assert sorted(p.name for p in out.iterdir()) == ["c.xlsx", "r.xlsx"]


def test_an_export_the_audit_log_cannot_note_is_removed(world, labels, tmp_path,
                                                        monkeypatch):
    def broken(**_details):
        raise OSError("disk gone")

    monkeypatch.setattr(world.coordinator, "record_export", broken)
    path = tmp_path / "counts.csv"
    with pytest.raises(OSError, match="disk gone"):
        export_profile(world.coordinator, path, fmt="csv", hxl=False, records=False,
                       query=DashboardFilter(), labels=labels, now=lambda: NOW)
    assert not path.exists()


# -- the command line ------------------------------------------------------------------------


def run_export(world, capsys, *argv, basedir=None):
    code = main(["--basedir", str(basedir or world.coordinator_base), "export", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def exported_entries(world):
    return [entry for entry in world.coordinator.audit_entries()
            if entry.action == "data.exported"]


def test_cli_exports_counts_and_notes_it_in_the_audit_log(world, counts, labels, tmp_path,
                                                          passphrase_file, capsys):
    path = tmp_path / "out.xlsx"
    code, _out, err = run_export(world, capsys, "--format", "xlsx", "--hxl", "-o", str(path),
                                 "--passphrase-file", str(passphrase_file))

    assert code == 0, err
    assert f"Wrote {path}: counts of {RECORDS} children." in err
    assert sheet_rows(path, "Counts")[2:] == expected_counts(counts, labels)
    [entry] = exported_entries(world)
    assert entry.details == {"format": "xlsx", "records": False,
                             "rows": len(expected_counts(counts, labels))}
    assert world.coordinator.verify_audit().holds


def test_cli_record_export_warns_it_is_personal_data(world, tmp_path, passphrase_file, capsys):
    path = tmp_path / "out.csv"
    code, _out, err = run_export(world, capsys, "--format", "csv", "--records", "-o",
                                 str(path), "--passphrase-file", str(passphrase_file))

    assert code == 0, err
    assert f"{RECORDS} screenings, one row per child" in err and "personal data" in err
    assert len(csv_rows(path)) == RECORDS + 1
    [entry] = exported_entries(world)
    assert entry.details == {"format": "csv", "records": True, "rows": RECORDS}


def test_cli_filters_and_age_bands_reach_the_file(world, labels, tmp_path, passphrase_file,
                                                  capsys):
    path = tmp_path / "out.csv"
    code, _out, err = run_export(
        world, capsys, "--format", "csv", "-o", str(path), "--from", "2026-03-01", "--to",
        "2026-03-01", "--area", "north_district", "--area", "south_district",
        "--age-bands", "unhcr", "--small-cell", "7", "--passphrase-file", str(passphrase_file))

    assert code == 0, err
    query = DashboardFilter(start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 1),
                            areas=frozenset({"north_district", "south_district"}),
                            age_bands=AgeBands.UNHCR)
    expected = disaggregate(build_facts(world.coordinator.inbox.summaries()), query)
    assert csv_rows(path)[1:] == [[str(cell) for cell in row]
                                  for row in expected_counts(expected, labels, threshold=7)]
    assert "0-4" in {row[3] for row in csv_rows(path)}


@pytest.mark.parametrize(("argv", "message"), [
    (["--from", "01/03/2026"], "--from takes a date written YYYY-MM-DD"),
    (["--to", "2026-02-30"], "--to takes a date written YYYY-MM-DD"),
    (["--from", "2026-03-05", "--to", "2026-03-01"], "--from 2026-03-05 is after --to"),
    (["--small-cell", "0"], "--small-cell takes a whole number of 1 or more"),
    (["--records", "--small-cell", "10"], "--small-cell applies to counts"),
])
def test_cli_bad_input_exits_1_before_asking_for_the_passphrase(world, tmp_path, capsys,
                                                                 argv, message):
    path = tmp_path / "out.csv"
    # No passphrase option and no terminal: reaching the unlock would be another error.
    code, _out, err = run_export(world, capsys, "--format", "csv", "-o", str(path), *argv)

    assert code == 1
    assert message in err
    assert "Traceback" not in err and "bug" not in err
    assert not path.exists()


def test_cli_unknown_area_is_refused_with_the_codes(world, tmp_path, passphrase_file, capsys):
    path = tmp_path / "out.csv"
    code, _out, err = run_export(world, capsys, "--format", "csv", "-o", str(path), "--area",
                                 "nort_district", "--passphrase-file", str(passphrase_file))

    assert code == 1
    assert "No area is called nort_district" in err and "north_district" in err
    assert not path.exists()
    assert exported_entries(world) == []


def test_cli_refuses_a_field_profile(world, tmp_path, passphrase_file, capsys):
    path = tmp_path / "out.xlsx"
    code, _out, err = run_export(world, capsys, "--format", "xlsx", "-o", str(path),
                                 "--passphrase-file", str(passphrase_file),
                                 basedir=world.root / "field")

    assert code == 1
    assert "this is a field profile" in err
    assert "Traceback" not in err
    assert not path.exists()


def test_cli_unwritable_output_exits_1_and_leaves_nothing(world, tmp_path, passphrase_file,
                                                          capsys):
    target = tmp_path / "a-folder"
    target.mkdir()
    code, _out, err = run_export(world, capsys, "--format", "csv", "-o", str(target),
                                 "--passphrase-file", str(passphrase_file))

    assert code == 1
    assert f"Cannot write {target}" in err and "Nothing was written" in err
    assert list(target.iterdir()) == []
    assert exported_entries(world) == []


def test_csv_is_readable_from_memory_too(counts, labels, tmp_path):
    # What a person gets by opening the file in a text editor: one header, CRLF lines.
    path = tmp_path / "counts.csv"
    export_counts(counts, path, fmt="csv", hxl=True, labels=labels, generated_at=NOW)
    text = path.read_bytes().decode("utf-8-sig")
    assert text.count("\r\n") == len(expected_counts(counts, labels)) + 2
    assert next(csv.reader(io.StringIO(text.splitlines()[1]))) == COUNT_TAGS


def test_cli_threshold_below_the_deployment_minimum_writes_nothing(world, tmp_path,
                                                                  passphrase_file, capsys):
    path = tmp_path / "out.csv"
    code, _out, err = run_export(world, capsys, "--format", "csv", "-o", str(path),
                                 "--small-cell", "3", "--passphrase-file", str(passphrase_file))
    assert code == 1
    assert "below 5" in err and "Traceback" not in err
    assert not path.exists()
    assert exported_entries(world) == []


# -- training exports --------------------------------------------------------------------------


@pytest.fixture
def training_world(tmp_path):
    """A training coordinator (demo mode) that imported a training laptop's batch."""
    built = make_world(tmp_path / "training", coordinator_demo=True)
    assert built.coordinator.info.demo and built.field.info.demo
    built.import_bytes(built.sealed_batch(RECORDS).file)
    yield built
    built.close()


def _export(world, path, labels, *, records):
    return export_profile(world.coordinator, path, fmt=path.suffix[1:], hxl=True,
                          records=records, query=DashboardFilter(), labels=labels,
                          now=lambda: NOW)


@pytest.mark.filterwarnings(XLRD3_WARNING)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("records", [False, True], ids=["counts", "records"])
def test_every_row_of_a_training_export_carries_the_training_flag(
        training_world, world, labels, out, fmt, records, offline):
    for built, flag in ((training_world, "1"), (world, "0")):
        path = out / f"{flag}.{fmt}"
        _export(built, path, labels, records=records)
        tags, values = read_hxl(path)
        column = tags.index("#meta+training")
        assert values and {str(row[column]) for row in values} == {flag}


def test_the_training_flag_is_in_every_sheet_and_the_data_dictionary(
        training_world, world, labels, out):
    for built, flag, said in ((training_world, 1, "Yes: TRAINING — not real data"),
                              (world, 0, "No: real screenings")):
        for records, sheets in ((False, ("Counts", "Age by sex")), (True, ("Screenings",))):
            path = out / f"{flag}-{records}.xlsx"
            _export(built, path, labels, records=records)
            for sheet in sheets:
                table = sheet_rows(path, sheet)
                column = table[1].index("#meta+training")
                assert {row[column] for row in table[2:]} == {flag}, sheet
            dictionary = sheet_rows(path, "Data dictionary")
            about = {row[0]: row[1] for row in dictionary if row[0] and row[1] and not row[2]}
            assert about["Training export"].startswith(said)
            assert "#meta+training" in {row[2] for row in dictionary}
