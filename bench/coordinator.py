"""The `coordinator` suite: the statistics dashboard over 1,000,000 records, and unlocking them.

The design measured: at unlock the coordinator decrypts every imported record's summary
once (`Inbox.summaries()`, AES-256-GCM per record) into an in-memory numpy column table
(`build_facts`); each dashboard refresh is `disaggregate(facts, filter)`, vectorised counts
over that table. Cases (see bench/README.md for how to read them):

- a dashboard refresh over all records, and with a one-year date range and one area;
  target: median <= 1 s each, with 1,000,000 records; each measured in turns with
- the same counts from SQLite GROUP BY queries over a plain in-memory table holding the
  same rows' facts (the baseline of the ratio), and once with a pure-Python loop;
- opening and unlocking the 1M-record profile with the Argon2id parameters `ProfileStore`
  calibrated when it was made, and building the facts table at unlock; the memory the
  table costs, measured in a fresh process;
- `ReferralQueue.cases()` with the ~15% of records that are urgent or referral cases.

The profile is filled by `Inbox.import_batch` itself (10,000 records per batch) and kept
in a cache folder keyed by a version string, so only the first run pays for it. `--quick`
uses 100,000 records and drops the targets.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bench.core import Result, Target, measure, measure_alternating, progress
from bench.store import (
    DURABILITY_PRAGMAS,
    PASSPHRASE,
    SHIPPED_FORM,
    _fixed_clock,
    _sample_records,
    _scratch_parent,
)
from fieldscreen.exchange.batch import record_line
from fieldscreen.forms.loader import load_form
from fieldscreen.reporting.dashboard import (
    NONE_RECORDED,
    NOT_KNOWN,
    OVER_17,
    DashboardFilter,
    Dimension,
    Disaggregation,
    disaggregate,
)
from fieldscreen.reporting.facts import DECISIONS, ScreeningFacts, build_facts, date_of
from fieldscreen.reporting.snapshot import load_facts
from fieldscreen.store.crypto import FieldCipher, SigningKey, random_key
from fieldscreen.store.follow_up import CASE_PRIORITIES
from fieldscreen.store.incoming import IncomingRecord, summary_from_outcome
from fieldscreen.store.profile import ProfileRole, ProfileStore, UnlockedProfile
from fieldscreen.store.schema import MIGRATIONS

SUITE = "coordinator"
REPO = Path(__file__).resolve().parent.parent

FULL_RECORDS = 1_000_000
QUICK_RECORDS = 100_000
CHUNK = 10_000  # records per import_batch: one transaction, one ledger entry
DEVICES = 20  # field laptops the batches come from, in turns
PROFILE = "coordinator-bench"
# Bump when the generated records change: the cached profile is then built again. The
# schema's migration count is part of the key too.
CACHE_VERSION = "1"
CACHE_ENV = "FIELDSCREEN_BENCH_CACHE"
# Free disk the profile needs per record: ~3.3 KB of row (a 3 KB record line, sealed
# twice over), the follow-up cases and audit entries, the WAL while importing, slack.
SPACE_PER_RECORD = 8 * 1024

# The goal: a dashboard refresh over 1,000,000 records within a second.
REFRESH_TARGET = Target("median", 1000.0)
# Issue 25's targets: the coordinator's wait from passphrase to dashboard within 3x the
# Argon2id it must pay anyway, opening a 1M profile in 0.3 s, the queue's first screen
# in 0.5 s.
UNLOCK_TO_DASHBOARD_TARGET = Target("ratio", 3.0)
OPEN_TARGET = Target("median", 300.0)
QUEUE_SCREEN_TARGET = Target("median", 500.0)
QUEUE_SCREEN_ROWS = 50

# The generated screenings: about two years, ending the day before the fixed clock.
SEED = 20261101
LAST_DAY = dt.date(2026, 10, 31)
SPAN_DAYS = 730
# The filtered refresh: the last twelve months, one area.
FILTER = DashboardFilter(start=dt.date(2025, 11, 1), end=LAST_DAY,
                         areas=frozenset({"north_district"}))
FILTER_TEXT = "2025-11-01..2026-10-31 + area north_district"

# Choice names of the shipped form (forms/child-screening.yaml); None is "not answered".
SEXES: tuple[str | None, ...] = (None, "girl", "boy", "another_identity", "rather_not_say")
SEX_P = (0.02, 0.47, 0.46, 0.03, 0.02)
NATIONALITIES: tuple[str | None, ...] = (
    None, "ng", "ua", "sy", "af", "er", "so", "sd", "ro", "bg", "al", "vn", "ma", "fr", "es",
    "stateless", "other", "unknown")
AREAS: tuple[str | None, ...] = (None, "north_district", "central_district", "south_district",
                                 "coastal_district")
AREA_P = (0.05, 0.32, 0.28, 0.20, 0.15)
FORMS = ("sexual", "labour", "domestic_servitude", "begging", "criminal_activities", "online",
         "forced_marriage", "armed_groups", "other")
FORM_WEIGHTS = (0.18, 0.26, 0.12, 0.10, 0.08, 0.07, 0.06, 0.03, 0.10)
NONE_IDENTIFIED = "none_identified"  # the tenth choice, never combined with another
FORM_COUNT_P = (0.30, 0.45, 0.18, 0.07)  # 0, 1, 2 or 3 forms
DECISION_P = (0.55, 0.30, 0.12, 0.03)  # in DECISIONS' order: referral + urgent = 15%
UNKNOWN_AGE_P = 0.06


# -- the generated records --------------------------------------------------------------------


class Population:
    """The statistics of `count` generated screenings, as columns (codes into the tuples)."""

    def __init__(self, count: int) -> None:
        rng = np.random.default_rng(SEED)
        self.count = count
        first = LAST_DAY - dt.timedelta(days=SPAN_DAYS - 1)
        # More screenings as the programme grows: day i is chosen with weight 1 + i/span.
        weights = 1.0 + np.arange(SPAN_DAYS) / SPAN_DAYS
        offsets = rng.choice(SPAN_DAYS, size=count, p=weights / weights.sum())
        self.day = (offsets + (first - dt.date(1970, 1, 1)).days).astype(np.int32)
        # Times as the field store writes them (utc_stamp: to the second, with a Z).
        seconds = rng.integers(7 * 3600, 19 * 3600, size=count)
        moments = (self.day.astype("datetime64[D]").astype("datetime64[s]")
                   + seconds.astype("timedelta64[s]"))
        self.stamps = [text + "Z" for text in np.datetime_as_string(moments, unit="s")]
        # Older children are met more often; some ages are not known.
        age_weights = np.linspace(1.0, 3.0, 18)
        self.age = rng.choice(18, size=count, p=age_weights / age_weights.sum()).astype(np.int16)
        self.age[rng.random(count) < UNKNOWN_AGE_P] = -1
        self.sex = rng.choice(len(SEXES), size=count, p=SEX_P).astype(np.int16)
        nationality_weights = np.array([0.02 * 16] + [1 / (k + 1) ** 0.9 for k in range(17)])
        self.nationality = rng.choice(len(NATIONALITIES), size=count,
                                      p=nationality_weights / nationality_weights.sum()
                                      ).astype(np.int16)
        self.area = rng.choice(len(AREAS), size=count, p=AREA_P).astype(np.int16)
        self.decision = rng.choice(len(DECISIONS), size=count, p=DECISION_P).astype(np.int8)
        self.follow_up = (self.decision > 0) & (rng.random(count) < 0.8)
        # 0-3 distinct forms, drawn by weight without replacement (Efraimidis-Spirakis keys);
        # a single form is "none identified" three times in ten.
        how_many = rng.choice(len(FORM_COUNT_P), size=count, p=FORM_COUNT_P)
        keys = rng.random((count, len(FORMS))) ** (1 / np.array(FORM_WEIGHTS))
        order = np.argsort(-keys, axis=1)[:, :3]
        bits = np.zeros(count, dtype=np.int64)
        for rank in range(3):
            chosen = how_many > rank
            bits[chosen] |= 1 << order[chosen, rank]
        none_identified = (how_many == 1) & (rng.random(count) < 0.3)
        bits[none_identified] = 1 << len(FORMS)
        self.forms = bits
        self.ids = [str(uuid.UUID(bytes=raw, version=4)) for raw in _chunks(rng.bytes(16 * count))]

    def form_names(self, bits: int) -> list[str] | None:
        names = [name for bit, name in enumerate((*FORMS, NONE_IDENTIFIED)) if bits >> bit & 1]
        return names or None

    def outcome(self, index: int) -> dict[str, Any]:
        """The part of a screening's outcome that `summary_from_outcome` reads."""
        age = int(self.age[index])
        return {
            "final_decision": DECISIONS[self.decision[index]],
            "follow_up": bool(self.follow_up[index]),
            "disaggregation": {
                "age": None if age < 0 else age,
                "sex": SEXES[self.sex[index]],
                "nationality": NATIONALITIES[self.nationality[index]],
                "area": AREAS[self.area[index]],
                "exploitation_form": self.form_names(int(self.forms[index])),
            },
        }

    @property
    def cases(self) -> int:
        """How many records open a follow-up case (urgent or referral)."""
        return int(np.isin(self.decision, [DECISIONS.index(name) for name in CASE_PRIORITIES]
                           ).sum())


def _chunks(raw: bytes) -> Iterator[bytes]:
    for start in range(0, len(raw), 16):
        yield raw[start:start + 16]


def _lines(form: Any) -> dict[str, bytes]:
    """A realistic record line (~3 KB) per decision: the test answer sets and outcomes.

    The same bytes are stored for every record with that decision: what is timed reads
    only the summaries, and the payload's size (not its content) is what fills the file.
    """
    samples = _sample_records(form)
    by_decision = {"information": "information", "monitor": "follow-up",
                   "referral": "referral", "urgent": "urgent"}
    stamp = "2026-01-01T09:30:00Z"
    lines = {}
    for decision, name in by_decision.items():
        answers, outcome = samples[name]
        lines[decision] = record_line({
            "id": str(uuid.uuid4()), "version": 1, "form_id": form.id,
            "form_version": form.version, "created_at": stamp, "updated_at": stamp,
            "demo": False, "answers": answers, "outcome": outcome})
    return lines


# -- the cached profile -----------------------------------------------------------------------


def _cache_root(parent: str) -> tuple[Path | None, str]:
    """Where built profiles are kept (None: a temporary folder), and how to say so."""
    setting = os.environ.get(CACHE_ENV, "").strip()
    if setting.lower() in {"0", "off", "no"}:
        return None, f"{CACHE_ENV}={setting}: built in a temporary folder, removed after"
    root = Path(setting) if setting else Path(parent) / "fieldscreen-bench-cache"
    return root, f"cached in {root} (set {CACHE_ENV}=off to rebuild every run)"


def _cache_key(count: int) -> str:
    return f"coordinator-v{CACHE_VERSION}-m{len(MIGRATIONS)}-{count}"


def _build(data_dir: Path, population: Population, form: Any) -> dict[str, Any]:
    """Create the coordinator profile (calibrated Argon2id) and import every record."""
    lines = _lines(form)
    store = ProfileStore(data_dir, clock=_fixed_clock)  # kdf=None: calibrates, ~0.5 s
    profile = store.create(PROFILE, ProfileRole.COORDINATOR, PASSPHRASE)
    devices = [profile.devices.enroll(SigningKey.generate().public.raw, f"laptop {n + 1}")
               for n in range(DEVICES)]
    started = time.perf_counter()
    import_s = 0.0
    for batch, first in enumerate(range(0, population.count, CHUNK)):
        records = []
        for index in range(first, min(population.count, first + CHUNK)):
            summary = summary_from_outcome(population.outcome(index))
            stamp = population.stamps[index]
            records.append(IncomingRecord(
                id=population.ids[index], version=1, form_id=form.id,
                form_version=form.version, created_at=stamp, updated_at=stamp, demo=False,
                summary=summary, line=lines[summary["decision"]]))
        device = devices[batch % DEVICES]
        begun = time.perf_counter()
        counts = profile.inbox.import_batch(
            device.device_id, str(uuid.uuid4()), batch // DEVICES + 1, os.urandom(32).hex(),
            os.urandom(32).hex(), records)
        import_s += time.perf_counter() - begun
        assert counts.imported == len(records), counts
        if batch % 10 == 9:
            done = first + len(records)
            rate = done / (time.perf_counter() - started)
            progress(f"coordinator: {done:,} / {population.count:,} records imported "
                     f"({rate:,.0f}/s)")
    with profile._database.read() as connection:
        held = connection.execute("SELECT COUNT(*) FROM imported_records").fetchone()[0]
        cases = connection.execute("SELECT COUNT(*) FROM follow_ups").fetchone()[0]
        calibrated = connection.execute(
            "SELECT value FROM profile WHERE key = 'kdf_calibrated_seconds'").fetchone()[0]
    assert held == population.count and cases == population.cases, (held, cases)
    profile.lock()
    database = store.path(PROFILE)
    return {"records": population.count, "cases": cases,
            "build_s": round(time.perf_counter() - started, 1), "import_s": round(import_s, 1),
            "chunk": CHUNK, "devices": DEVICES, "kdf_calibrated_seconds": calibrated,
            "size_mib": round(sum(path.stat().st_size for path in database.iterdir())
                              / 2**20),
            "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


@contextlib.contextmanager
def _profile(parent: str, population: Population, form: Any
             ) -> Iterator[tuple[Path, dict[str, Any], str]]:
    """The data folder of a profile holding the population, built now or taken from the cache.

    Yields (data folder, what its build reported, a note on the cache).
    """
    root, where = _cache_root(parent)
    if root is None:
        with tempfile.TemporaryDirectory(prefix="fieldscreen-bench-coordinator-",
                                         dir=parent) as scratch:
            progress(f"coordinator: importing {population.count:,} records (set-up, "
                     "not measured)")
            built = _build(Path(scratch) / "data", population, form)
            yield Path(scratch) / "data", built, f"profile {where}"
        return
    folder = root / _cache_key(population.count)
    manifest = folder / "built.json"
    if manifest.is_file():
        built = json.loads(manifest.read_text(encoding="utf-8"))
        progress(f"coordinator: using the cached profile in {folder}")
        yield folder / "data", built, f"profile {where}; reused, built {built['built_at']}"
        return
    shutil.rmtree(folder, ignore_errors=True)
    building = root / (folder.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    progress(f"coordinator: importing {population.count:,} records into {building} (set-up, "
             "not measured; cached for the next runs)")
    try:
        built = _build(building / "data", population, form)
        (building / "built.json").write_text(json.dumps(built, indent=2) + "\n",
                                             encoding="utf-8")
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    building.rename(folder)
    yield folder / "data", built, f"profile {where}; built in this run"


# -- the counts, three ways --------------------------------------------------------------------


def _comparable(result: Disaggregation) -> dict[str, dict[Any, int]]:
    """Our counts as {dimension: {category: count}}, zero cells left out (SQL has none)."""
    found: dict[str, dict[Any, int]] = {
        dimension.value: {name: count for name, count in categories if count}
        for dimension, categories in result.counts.items()}
    found["age_by_sex"] = {(band, sex): count for band, row in result.age_by_sex
                           for sex, count in zip(result.sexes, row, strict=True) if count}
    found["total"] = {"total": result.total}
    return found


_BAND_SQL = ("CASE WHEN age IS NULL THEN 'not_known' WHEN age <= 5 THEN '0-5' "
             "WHEN age <= 11 THEN '6-11' WHEN age <= 17 THEN '12-17' ELSE '18+' END")


class SqliteBaseline:
    """The same facts in a plain in-memory SQLite table; counts by GROUP BY queries.

    One row per record: the screening date as ISO text, the age as an integer (NULL: not
    known), sex, nationality, area and decision as their names (NULL: not known); the
    forms of exploitation in a link table (record, form). Indexed on each filtered or
    grouped column and ANALYZEd, so the planner may use whatever helps.
    """

    def __init__(self, facts: ScreeningFacts) -> None:
        connection = sqlite3.connect(":memory:", isolation_level=None)
        self.connection = connection
        connection.execute(
            "CREATE TABLE facts (id INTEGER PRIMARY KEY, day TEXT NOT NULL, age INTEGER, "
            "sex TEXT, nationality TEXT, area TEXT, decision TEXT)")
        connection.execute("CREATE TABLE facts_forms (record INTEGER NOT NULL, form TEXT NOT "
                           "NULL, PRIMARY KEY (record, form)) WITHOUT ROWID")
        first, last = int(facts.day.min()), int(facts.day.max())
        dates = {day: date_of(day).isoformat() for day in range(first, last + 1)}
        decisions = (None, *DECISIONS)
        rows = zip(range(len(facts)), map(dates.__getitem__, facts.day.tolist()),
                   [None if age < 0 else age for age in facts.age.tolist()],
                   map(facts.sexes.__getitem__, facts.sex.tolist()),
                   map(facts.nationalities.__getitem__, facts.nationality.tolist()),
                   map(facts.areas.__getitem__, facts.area.tolist()),
                   map(decisions.__getitem__, facts.decision.tolist()), strict=True)
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO facts VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        links = ((record, facts.form_names[bit]) for record, bits in
                 enumerate(facts.forms.tolist()) if bits
                 for bit in range(len(facts.form_names)) if bits >> bit & 1)
        connection.executemany("INSERT INTO facts_forms VALUES (?, ?)", links)
        for column in ("day", "sex", "nationality", "area", "decision"):
            connection.execute(f"CREATE INDEX facts_{column} ON facts ({column})")
        connection.execute("CREATE INDEX facts_area_day ON facts (area, day)")
        connection.execute("COMMIT")
        connection.execute("ANALYZE")

    def counts(self, query: DashboardFilter) -> dict[str, dict[Any, int]]:
        """6 GROUP BYs and the age-by-sex cross-tab, with the filter's WHERE."""
        where, parameters = [], []
        if query.start is not None:
            where.append("day >= ?")
            parameters.append(query.start.isoformat())
        if query.end is not None:
            where.append("day <= ?")
            parameters.append(query.end.isoformat())
        if query.areas is not None:
            where.append(f"area IN ({', '.join('?' * len(query.areas))})")
            parameters.extend(sorted(query.areas))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        execute = self.connection.execute

        def grouped(expression: str) -> dict[Any, int]:
            sql = f"SELECT {expression} AS g, COUNT(*) FROM facts{clause} GROUP BY g"
            return {NOT_KNOWN if name is None else name: count
                    for name, count in execute(sql, parameters)}

        sexes = grouped("sex")
        forms_sql = ("SELECT COALESCE(form, ?) AS g, COUNT(*) FROM facts LEFT JOIN "
                     f"facts_forms ON record = id{clause} GROUP BY g")
        cross_sql = (f"SELECT {_BAND_SQL} AS band, sex, COUNT(*) FROM facts{clause} "
                     "GROUP BY band, sex")
        return {
            Dimension.AGE_BAND.value: grouped(_BAND_SQL),
            Dimension.SEX.value: sexes,
            Dimension.NATIONALITY.value: grouped("nationality"),
            Dimension.EXPLOITATION_FORM.value: dict(
                execute(forms_sql, [NONE_RECORDED, *parameters]).fetchall()),
            Dimension.AREA.value: grouped("area"),
            Dimension.DECISION.value: grouped("decision"),
            "age_by_sex": {(band, NOT_KNOWN if sex is None else sex): count
                           for band, sex, count in execute(cross_sql, parameters)},
            "total": {"total": sum(sexes.values())},
        }


class PythonBaseline:
    """The same facts as a list of tuples, counted by one pure-Python loop (no filter)."""

    def __init__(self, facts: ScreeningFacts) -> None:
        decisions = (NOT_KNOWN, *DECISIONS)
        self.rows = list(zip(
            facts.day.tolist(), facts.age.tolist(),
            map(facts.sexes.__getitem__, facts.sex.tolist()),
            map(facts.nationalities.__getitem__, facts.nationality.tolist()),
            map(facts.areas.__getitem__, facts.area.tolist()),
            map(decisions.__getitem__, facts.decision.tolist()),
            [tuple(name for bit, name in enumerate(facts.form_names) if bits >> bit & 1)
             for bits in facts.forms.tolist()], strict=True))

    def counts(self) -> dict[str, dict[Any, int]]:
        bands = [NOT_KNOWN] + ["0-5"] * 6 + ["6-11"] * 6 + ["12-17"] * 6 + [OVER_17] * 113
        age, sex, nationality, area, decision = (Counter(), Counter(), Counter(), Counter(),
                                                 Counter())
        forms: Counter[str] = Counter()
        cross: Counter[tuple[str, str]] = Counter()
        for _day, years, who, country, place, decided, kinds in self.rows:
            band = bands[years + 1]
            who = who or NOT_KNOWN
            age[band] += 1
            sex[who] += 1
            nationality[country or NOT_KNOWN] += 1
            area[place or NOT_KNOWN] += 1
            decision[decided] += 1
            cross[band, who] += 1
            if kinds:
                for kind in kinds:
                    forms[kind] += 1
            else:
                forms[NONE_RECORDED] += 1
        return {
            Dimension.AGE_BAND.value: dict(age), Dimension.SEX.value: dict(sex),
            Dimension.NATIONALITY.value: dict(nationality),
            Dimension.EXPLOITATION_FORM.value: dict(forms), Dimension.AREA.value: dict(area),
            Dimension.DECISION.value: dict(decision), "age_by_sex": dict(cross),
            "total": {"total": len(self.rows)},
        }


_COLUMNS = ("day", "age", "sex", "nationality", "area", "decision", "forms")


class SealedSnapshot:
    """The alternative measured against building the table at unlock: the table itself,
    sealed (AES-256-GCM, the app's FieldCipher) as one blob in a SQLite file.

    A profile could keep such a snapshot up to date in each import's transaction; unlocking
    would then read and open one blob instead of a million summaries. Only the reading side
    is timed here.
    """

    def __init__(self, facts: ScreeningFacts, folder: Path) -> None:
        self._cipher = FieldCipher(random_key())
        self._context = FieldCipher.context("statistics", "facts", "snapshot", 1)
        header = orjson.dumps({
            "columns": [[name, getattr(facts, name).dtype.str, len(facts)] for name in _COLUMNS],
            "sexes": facts.sexes, "nationalities": facts.nationalities, "areas": facts.areas,
            "form_names": facts.form_names})
        plain = b"".join([len(header).to_bytes(4, "big"), header,
                          *(getattr(facts, name).tobytes() for name in _COLUMNS)])
        self.size = len(plain)
        self.connection = sqlite3.connect(folder / "snapshot.db", isolation_level=None)
        for pragma in DURABILITY_PRAGMAS:
            self.connection.execute(pragma)
        self.connection.execute("CREATE TABLE snapshot (id INTEGER PRIMARY KEY, data BLOB)")
        self.connection.execute("INSERT INTO snapshot VALUES (1, ?)",
                                [self._cipher.seal(plain, self._context)])

    def load(self) -> ScreeningFacts:
        """Read the blob, open it, and view its columns as arrays (no copy)."""
        sealed = self.connection.execute("SELECT data FROM snapshot WHERE id = 1").fetchone()[0]
        plain = self._cipher.open(sealed, self._context)
        length = int.from_bytes(plain[:4], "big")
        header = orjson.loads(plain[4:4 + length])
        offset, columns = 4 + length, {}
        for name, dtype, count in header["columns"]:
            columns[name] = np.frombuffer(plain, dtype=dtype, count=count, offset=offset)
            offset += columns[name].nbytes
        return ScreeningFacts(
            **columns, sexes=tuple(header["sexes"]),
            nationalities=tuple(header["nationalities"]), areas=tuple(header["areas"]),
            form_names=tuple(header["form_names"]))


# -- memory and a first unlock, in a fresh process ----------------------------------------------


def _memory_kib() -> dict[str, int]:
    """This process's resident memory now (VmRSS) and its peak (VmHWM), in KiB (Linux)."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in {"VmRSS", "VmHWM"}:
                found[name] = int(value.split()[0])
    return found


def _reset_peak() -> bool:
    """Start VmHWM again from the current RSS (Linux >= 4.0); False if not allowed.

    `ru_maxrss` would not do: it survives exec, so a child started by a big parent
    reports the parent's peak, and unlocking alone peaks at Argon2id's 128 MiB.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def memory_probe(data_dir: str) -> None:
    """In a fresh process: open, unlock, build the facts; print times and memory as JSON."""
    store = ProfileStore(Path(data_dir), clock=_fixed_clock)
    gc.collect()
    reset = _reset_peak()
    before_unlock = _memory_kib()
    start = time.perf_counter()
    locked = store.open(PROFILE)
    opened = time.perf_counter()
    profile = locked.unlock(PASSPHRASE)
    unlocked = time.perf_counter()
    unlock_peak = _memory_kib()["VmHWM"] - before_unlock["VmRSS"]
    gc.collect()
    reset = _reset_peak() and reset
    before = _memory_kib()
    facts = build_facts(profile.inbox.summaries())
    built = time.perf_counter()
    after = _memory_kib()
    table_bytes = sum(getattr(facts, name).nbytes for name in
                      ("day", "age", "sex", "nationality", "area", "decision", "forms"))
    records = len(facts)
    del facts
    gc.collect()
    tracemalloc.start()
    build_facts(profile.inbox.summaries())
    traced_current, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    profile.lock()
    print(json.dumps({
        "records": records, "open_s": opened - start, "unlock_s": unlocked - opened,
        "facts_s": built - unlocked, "peak_reset": reset,
        "unlock_peak_kib": unlock_peak, "rss_before_kib": before["VmRSS"],
        "peak_delta_kib": after["VmHWM"] - before["VmRSS"],
        "retained_kib": after["VmRSS"] - before["VmRSS"], "table_bytes": table_bytes,
        "traced_peak": traced_peak, "traced_current": traced_current}))


def _probe(data_dir: Path) -> dict[str, Any]:
    code = f"from bench.coordinator import memory_probe; memory_probe({str(data_dir)!r})"
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                               text=True, check=False, timeout=1800)
    if completed.returncode != 0:
        raise RuntimeError(f"the memory probe failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# -- the suite ------------------------------------------------------------------------------------


def _label(count: int) -> str:
    return f"{count // 1_000_000}M" if count >= 1_000_000 else f"{count // 1000}k"


def _speedup(slow: list[int], fast: list[int]) -> str:
    return f"{statistics.median(slow) / statistics.median(fast):,.0f}x"


def _ms(samples_ns: list[int]) -> str:
    return f"{statistics.median(samples_ns) / 1e6:,.0f} ms"


def run(quick: bool) -> list[Result]:
    """Run every case of the suite.

    Args:
        quick: 100,000 records instead of 1,000,000 and fewer samples; the targets (for
            1M) are then informational.

    Returns:
        One result per case, in the order they are printed.
    """
    count = QUICK_RECORDS if quick else FULL_RECORDS
    label = _label(count)
    parent, filesystem = _scratch_parent()
    root, _where = _cache_root(parent)
    cached = root is not None and (root / _cache_key(count) / "built.json").is_file()
    free_at = root if root is not None and root.exists() else Path(parent)
    free = shutil.disk_usage(free_at).free
    if not cached and free < count * SPACE_PER_RECORD:
        message = (f"{free / 2**30:.1f} GiB free in {free_at}, about "
                   f"{count * SPACE_PER_RECORD / 2**30:.1f} GiB needed for {count:,} records")
        progress(f"coordinator: {message}")
        return [Result(SUITE, f"dashboard refresh {label}, all records", skipped=message)]
    progress(f"coordinator: generating {count:,} screenings' statistics")
    population = Population(count)
    form = load_form(SHIPPED_FORM)
    with _profile(parent, population, form) as (data_dir, built, cache_note):
        return _cases(data_dir, built, f"{cache_note}; {filesystem}", population, parent,
                      quick)


def _cases(data_dir: Path, built: dict[str, Any], cache_note: str, population: Population,
           parent: str, quick: bool) -> list[Result]:
    count = population.count
    label = _label(count)
    target = None if quick else REFRESH_TARGET
    quick_note = f"; --quick: {count:,} records, the target is for 1M" if quick else ""
    store = ProfileStore(data_dir, clock=_fixed_clock)

    progress("coordinator: a first unlock and facts table in a fresh process (memory)")
    probe = _probe(data_dir)

    # -- open, unlock, build the facts table ---------------------------------------------------
    progress(f"coordinator: open + unlock + build_facts of {label} records")
    locked = store.open(PROFILE)
    kdf = locked._passphrase_slot().kdf
    locked.close()
    phases: dict[str, list[int]] = {"open": [], "unlock": [], "facts": []}
    timer = time.perf_counter_ns
    kept: list[tuple[UnlockedProfile, ScreeningFacts]] = []

    def unlock_and_build() -> None:
        while kept:
            kept.pop()[0].lock()
        start = timer()
        locked = store.open(PROFILE)  # PRAGMA quick_check of the whole file, migrations
        opened = timer()
        profile = locked.unlock(PASSPHRASE)  # Argon2id, unwrap the DEK, an audit entry
        unlocked = timer()
        facts = build_facts(profile.inbox.summaries())
        phases["open"].append(opened - start)
        phases["unlock"].append(unlocked - opened)
        phases["facts"].append(timer() - unlocked)
        kept.append((profile, facts))

    totals = measure(unlock_and_build, runs=3, warmup=0, budget_s=20 if quick else 60)
    profile, facts = kept.pop()
    assert len(facts) == count, len(facts)
    # The table holds what was imported: same dates, ages, decisions, areas.
    assert np.array_equal(np.bincount(facts.day), np.bincount(population.day))
    assert np.array_equal(np.bincount(facts.decision), np.bincount(population.decision + 1))
    assert sorted(np.bincount(facts.area).tolist()) == sorted(
        np.bincount(population.area).tolist())

    # -- what the app does now: the sealed statistics snapshot (decision 38) ----------------
    progress("coordinator: the statistics snapshot (first load writes it, then open+unlock+"
             "load_facts)")
    gc.collect()
    start = timer()
    first_snapshot = load_facts(profile.inbox)  # builds and seals the base if there is none
    first_snapshot_ns = timer() - start
    assert _comparable(disaggregate(first_snapshot, FILTER)) == _comparable(
        disaggregate(facts, FILTER))
    del first_snapshot
    snapshot_phases: dict[str, list[int]] = {"open": [], "unlock": [], "facts": []}

    def unlock_and_load() -> None:
        while kept:
            kept.pop()[0].lock()
        start = timer()
        locked = store.open(PROFILE)
        opened = timer()
        unlocked_profile = locked.unlock(PASSPHRASE)
        unlocked = timer()
        loaded = load_facts(unlocked_profile.inbox)
        snapshot_phases["open"].append(opened - start)
        snapshot_phases["unlock"].append(unlocked - opened)
        snapshot_phases["facts"].append(timer() - unlocked)
        kept.append((unlocked_profile, loaded))

    profile.lock()
    snapshot_totals = measure(unlock_and_load, runs=5, warmup=0, budget_s=20 if quick else 60)
    profile, loaded = kept.pop()
    assert _comparable(disaggregate(loaded, FILTER)) == _comparable(disaggregate(facts, FILTER))
    del loaded

    # -- the alternative: the table kept sealed in the profile, opened at unlock -------------
    progress("coordinator: the alternative, a sealed snapshot of the facts table")
    with tempfile.TemporaryDirectory(prefix="fieldscreen-bench-snapshot-", dir=parent) as scratch:
        snapshot = SealedSnapshot(facts, Path(scratch))
        assert _comparable(disaggregate(snapshot.load(), FILTER)) == _comparable(
            disaggregate(facts, FILTER))
        snapshot_samples = measure(snapshot.load, runs=7 if quick else 11, warmup=1,
                                   budget_s=10)
        snapshot.connection.close()

    # -- the dashboard: ours, SQLite, Python ---------------------------------------------------
    progress("coordinator: loading the same facts into an in-memory SQLite table")
    started = time.perf_counter()
    sqlite_baseline = SqliteBaseline(facts)
    sqlite_load_s = time.perf_counter() - started
    unfiltered = DashboardFilter()
    for query in (unfiltered, FILTER):
        ours = _comparable(disaggregate(facts, query))
        theirs = sqlite_baseline.counts(query)
        assert ours == theirs, (query, ours, theirs)
    filtered_total = disaggregate(facts, FILTER).total

    runs, warmup, budget = (7, 1, 10.0) if quick else (21, 2, 40.0)
    progress("coordinator: dashboard refresh, all records (ours and SQLite in turns)")
    ours_all, sqlite_all = measure_alternating(
        lambda: disaggregate(facts, unfiltered), lambda: sqlite_baseline.counts(unfiltered),
        runs=runs, warmup=warmup, budget_s=budget)
    progress(f"coordinator: dashboard refresh, {FILTER_TEXT} (ours and SQLite in turns)")
    ours_filtered, sqlite_filtered = measure_alternating(
        lambda: disaggregate(facts, FILTER), lambda: sqlite_baseline.counts(FILTER),
        runs=runs, warmup=warmup, budget_s=budget)
    sqlite_baseline.connection.close()

    progress("coordinator: the same counts by a pure-Python loop")
    python_baseline = PythonBaseline(facts)
    assert python_baseline.counts() == _comparable(disaggregate(facts, unfiltered))
    python_all = measure(python_baseline.counts, runs=3, warmup=1, budget_s=15)
    del python_baseline

    # -- the referral queue ---------------------------------------------------------------------
    progress("coordinator: ReferralQueue.cases()")
    gc.collect()
    start = timer()
    cases = profile.referrals.cases()
    first_cases_ns = timer() - start
    assert len(cases) == population.cases, (len(cases), population.cases)
    overdue = sum(1 for case in cases if case.overdue)
    del cases
    cases_samples = measure(profile.referrals.cases, runs=5 if quick else 7, warmup=0,
                            budget_s=15 if quick else 40)
    progress("coordinator: ReferralQueue.page(), the first screen from the sealed index")
    gc.collect()
    start = timer()
    first_page, queue_total, _overdue = profile.referrals.page(0, QUEUE_SCREEN_ROWS)  # builds
    first_page_ns = timer() - start
    assert queue_total == population.cases
    expected_first = [case.record_id for case in profile.referrals.cases()[:QUEUE_SCREEN_ROWS]]
    assert [case.record_id for case in first_page] == expected_first
    page_samples = measure(lambda: profile.referrals.page(0, QUEUE_SCREEN_ROWS),
                           runs=7 if quick else 11, warmup=1, budget_s=20)
    profile.lock()

    # -- the results ----------------------------------------------------------------------------
    all_case = f"dashboard refresh {label}, all records"
    filtered_case = f"dashboard refresh {label}, 1 year + 1 area"
    sqlite_all_case = f"SQLite GROUP BY {label}, all records"
    sqlite_filtered_case = f"SQLite GROUP BY {label}, 1 year + 1 area"
    python_case = f"pure-Python loop {label}, all records"
    all_vs_python_case = f"dashboard refresh {label} (vs Python)"
    table_mib = probe["table_bytes"] / 2**20
    what = ("disaggregate(facts, filter): counts by age band, sex, nationality, form of "
            "exploitation, area, decision, and age band x sex")
    peak = ("" if probe["peak_reset"] else
            " (VmHWM could not be reset here: the peak may be the unlock's)")
    memory = (f"facts table {table_mib:.1f} MiB ({probe['table_bytes'] / count:.0f} bytes a "
              f"record); in a fresh process, building it raised the peak RSS (VmHWM) by "
              f"{probe['peak_delta_kib'] / 1024:.0f} MiB{peak} over the "
              f"{probe['rss_before_kib'] / 1024:.0f} MiB held once unlocked, and kept "
              f"{probe['retained_kib'] / 1024:.0f} MiB; tracemalloc peak during the build "
              f"{probe['traced_peak'] / 2**20:.0f} MiB (Python objects and numpy only)")
    first = (f"in a fresh process (first unlock): open {probe['open_s']:.2f} s + unlock "
             f"{probe['unlock_s']:.2f} s + build_facts {probe['facts_s']:.2f} s")
    kdf_text = (f"Argon2id m={kdf.memory_kib // 1024} MiB t={kdf.iterations} p={kdf.lanes}, "
                f"as ProfileStore calibrated it when the profile was made "
                f"({built['kdf_calibrated_seconds']} s then)")
    build = (f"set-up: {count:,} records imported by Inbox.import_batch in batches of "
             f"{built['chunk']:,} from {built['devices']} devices in {built['import_s']:.0f} s "
             f"({count / max(built['import_s'], 1e-9):,.0f} records/s), {built['cases']:,} "
             f"follow-up cases opened, {built['size_mib']:,} MiB; {cache_note}")
    return [
        Result(SUITE, all_case, ours_all, baseline=sqlite_all_case, target=target,
               note=f"{what}; no filter, {count:,} records; in turns with the SQLite "
                    f"baseline{quick_note}"),
        Result(SUITE, filtered_case, ours_filtered, baseline=sqlite_filtered_case,
               target=target,
               note=f"the same with DashboardFilter({FILTER_TEXT}): {filtered_total:,} of "
                    f"{count:,} records pass{quick_note}"),
        Result(SUITE, sqlite_all_case, sqlite_all,
               note=f"sqlite3 (SQLite {sqlite3.sqlite_version}) in memory: 6 GROUP BYs + the "
                    "age band x sex cross-tab over a plain table of the same facts (names as "
                    "text, date as ISO text, forms in a link table via LEFT JOIN), indexed "
                    f"on day, sex, nationality, area, decision and (area, day), ANALYZEd; "
                    f"loading it took {sqlite_load_s:.1f} s (not measured); counts checked "
                    "equal to ours"),
        Result(SUITE, sqlite_filtered_case, sqlite_filtered,
               note=f"the same queries with WHERE day BETWEEN ... AND area IN (...) "
                    f"({FILTER_TEXT})"),
        Result(SUITE, python_case, python_all,
               note="informational: one loop over the facts as a list of tuples, "
                    "collections.Counter per dimension; counts checked equal to ours"),
        Result(SUITE, all_vs_python_case, ours_all, baseline=python_case,
               note=f"the samples of '{all_case}', compared with the pure-Python loop"),
        Result(SUITE, f"open() {label} profile", phases["open"],
               note=f"store.open(): PRAGMA quick_check of the whole file, migrations; "
                    f"{build}"),
        Result(SUITE, "unlock() Argon2id, calibrated", phases["unlock"],
               note=f"locked.unlock(passphrase): {kdf_text}; unwrap the DEK, an audit "
                    f"entry; peak RSS +{probe['unlock_peak_kib'] / 1024:.0f} MiB (fresh "
                    "process, open+unlock)"),
        Result(SUITE, f"build_facts(summaries()) {label}", phases["facts"],
               note=f"decrypt every summary (AES-256-GCM) + orjson + the column table; "
                    f"{memory}"),
        Result(SUITE, f"sealed facts snapshot {label}: read+open", snapshot_samples,
               baseline=f"build_facts(summaries()) {label}",
               note=f"informational, an alternative the app does not have: the same table "
                    f"sealed as one AES-256-GCM blob ({snapshot.size / 2**20:.1f} MiB) in a "
                    "SQLite file; one sample = SELECT the blob, FieldCipher.open, "
                    "np.frombuffer per column (counts checked equal); "
                    f"{_speedup(phases['facts'], snapshot_samples)} less time than building "
                    "the table from the summaries"),
        Result(SUITE, f"open+unlock+build_facts {label}", totals,
               note=f"what the coordinator waits for before the dashboard; medians: open "
                    f"{_ms(phases['open'])}, unlock {_ms(phases['unlock'])}, build_facts "
                    f"{_ms(phases['facts'])}; {first}"),
        Result(SUITE, f"open() {label} profile (target)", phases["open"],
               target=None if quick else OPEN_TARGET,
               note="the same samples as 'open()': past 64 MiB the open-time check is the "
                    "cheap one (header, page count, WAL header, schema; decision 36)"),
        Result(SUITE, f"open+unlock+load_facts {label}", snapshot_totals,
               baseline="unlock() Argon2id, calibrated",
               target=None if quick else UNLOCK_TO_DASHBOARD_TARGET,
               note=f"what the coordinator waits for now, with the sealed statistics snapshot "
                    f"(decision 38): medians open {_ms(snapshot_phases['open'])}, unlock "
                    f"{_ms(snapshot_phases['unlock'])}, load_facts "
                    f"{_ms(snapshot_phases['facts'])}; the first load_facts of this profile "
                    f"(no snapshot yet: build from the summaries and seal the base, what the "
                    f"first unlock after upgrading costs) took {first_snapshot_ns / 1e9:.1f} s; "
                    "counts checked equal to build_facts"),
        Result(SUITE, f"ReferralQueue.page() first {QUEUE_SCREEN_ROWS} of "
                      f"{population.cases // 1000}k cases", page_samples,
               target=None if quick else QUEUE_SCREEN_TARGET,
               note=f"the queue's first screen from the sealed queue index (decision 42): "
                    f"open the index blobs, order {population.cases:,} entries (urgent, "
                    f"overdue, oldest), open only the {QUEUE_SCREEN_ROWS} cases shown and "
                    f"check them against their entries; the first call built the index from "
                    f"every case state in {first_page_ns / 1e6:,.0f} ms; the page equals the "
                    "first rows of cases()"),
        Result(SUITE, f"ReferralQueue.cases() {population.cases // 1000}k cases",
               cases_samples,
               note=f"{population.cases:,} urgent/referral cases ({population.cases / count:.0%}"
                    f" of {count:,} records, {overdue:,} overdue): read, decrypt state and "
                    f"summary of each, sort; the first call after unlock took "
                    f"{first_cases_ns / 1e6:,.0f} ms"),
    ]

