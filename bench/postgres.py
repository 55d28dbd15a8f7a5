"""The `postgres` suite: the coordinator store on PostgreSQL next to SQLite, in the same run.

Cases (docs/postgresql.md; bench/README.md for how to read them):

- importing 100,000 records (`Inbox.import_batch`, 10,000 a batch, one transaction each, as
  the importer stores a checked batch): each sample is one batch, SQLite and PostgreSQL in
  turns, so a busy neighbour slows both; the ratio is PostgreSQL's median over SQLite's;
- importing the same 100,000 records with two consoles at once: two processes, each its
  own connection and unlock, importing alternate batches into one fresh database, timed
  from the moment both are ready to the last commit; its ratio is that wall time over the
  one console's total for the same batches (1.0: no faster than one console);
- the dashboard on 1,000,000 records held by PostgreSQL: what the coordinator waits for
  after unlocking (open + unlock + `load_facts`, which reads the sealed statistics
  snapshot from the server), and a dashboard refresh (`disaggregate`, the same in-memory
  counts whatever the engine), plus the referral queue's first screen from the server.

The server is the one `FIELDSCREEN_BENCH_DATABASE=postgresql://...` names (an empty
database, which is then filled and left), else a throwaway cluster started here with
tests/postgres_server.py, with fsync on (a durable server, as SQLite runs with
synchronous=FULL), on loopback, removed at the end. `--quick` imports 20,000 and fills
100,000 for the dashboard.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.coordinator import (
    CHUNK,
    DEVICES,
    FILTER,
    FILTER_TEXT,
    PROFILE,
    Population,
    _comparable,
    _label,
    _lines,
)
from bench.core import Result, measure, progress
from bench.store import PASSPHRASE, SHIPPED_FORM, _fixed_clock, _scratch_parent
from fieldscreen.forms.loader import load_form
from fieldscreen.reporting.dashboard import disaggregate
from fieldscreen.reporting.snapshot import load_facts
from fieldscreen.store.crypto import KdfParameters, SigningKey, b64
from fieldscreen.store.incoming import IncomingRecord, summary_from_outcome
from fieldscreen.store.profile import ProfileRole, ProfileStore, UnlockedProfile

SUITE = "postgres"
IMPORT_RECORDS, QUICK_IMPORT_RECORDS = 100_000, 20_000
DASHBOARD_RECORDS, QUICK_DASHBOARD_RECORDS = 1_000_000, 100_000
DATABASE_ENV = "FIELDSCREEN_BENCH_DATABASE"
QUEUE_ROWS = 50


def _kdf() -> KdfParameters:
    # Unlocking is not what this suite measures (the coordinator suite does, calibrated).
    return KdfParameters(b64(os.urandom(16)), 1, 1, 8 * 1024)


@contextlib.contextmanager
def _server(parent: str) -> Iterator[tuple[Any, str]]:
    """(a function giving a fresh database's URL, a description of the server)."""
    given = os.environ.get(DATABASE_ENV, "").strip()
    if given:
        yield (lambda: given), f"the server of {DATABASE_ENV}"
        return
    from tests.postgres_server import PostgresServer

    server = PostgresServer(durable=True, parent=parent)
    try:
        with server.admin() as connection:
            version = connection.execute("SHOW server_version").fetchone()[0]
        yield (lambda: server.url(server.create_database())), (
            f"PostgreSQL {version} started for this run on loopback (fsync on, "
            f"shared_buffers 512MB) in {parent}")
    finally:
        server.remove()


def _batch(population: Population, form: Any, lines: dict[str, bytes],
           first: int) -> list[IncomingRecord]:
    """The records of the batch starting at `first`, as the importer gets them checked."""
    records = []
    for index in range(first, min(population.count, first + CHUNK)):
        summary = summary_from_outcome(population.outcome(index))
        stamp = population.stamps[index]
        records.append(IncomingRecord(
            id=population.ids[index], version=1, form_id=form.id, form_version=form.version,
            created_at=stamp, updated_at=stamp, demo=False, summary=summary,
            line=lines[summary["decision"]]))
    return records


def _coordinator(data_dir: Path, database: str | None) -> tuple[UnlockedProfile, list[Any]]:
    store = ProfileStore(data_dir, clock=_fixed_clock, kdf=_kdf(), database=database)
    profile = store.create(PROFILE, ProfileRole.COORDINATOR, PASSPHRASE)
    devices = [profile.devices.enroll(SigningKey.generate().public.raw, f"laptop {n + 1}")
               for n in range(DEVICES)]
    return profile, devices


def _import(profile: UnlockedProfile, devices: list[Any], index: int,
            records: list[IncomingRecord]) -> int:
    device = devices[index % DEVICES]
    begun = time.perf_counter_ns()
    counts = profile.inbox.import_batch(
        device.device_id, str(uuid.uuid4()), index // DEVICES + 1, os.urandom(32).hex(),
        os.urandom(32).hex(), records)
    assert counts.imported == len(records), counts
    return time.perf_counter_ns() - begun


def _size_mib(profile: UnlockedProfile) -> float:
    """The server's database size: tables, indexes and the TOASTed ciphertext."""
    with profile._database.read() as connection:
        return float(connection.execute(
            "SELECT pg_database_size(current_database())").fetchone()[0]) / 2**20


def run(quick: bool) -> list[Result]:
    import psycopg

    parent, filesystem = _scratch_parent()
    form = load_form(SHIPPED_FORM)
    import_count = QUICK_IMPORT_RECORDS if quick else IMPORT_RECORDS
    dashboard_count = QUICK_DASHBOARD_RECORDS if quick else DASHBOARD_RECORDS
    scratch = Path(parent) / f"fieldscreen-bench-postgres-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        with _server(parent) as (fresh_database, server_note):
            results = _import_cases(scratch, fresh_database, form, import_count,
                                    f"{server_note}; SQLite on {filesystem}")
            results += _dashboard_cases(scratch, fresh_database(), form, dashboard_count,
                                        quick)
            return results
    except psycopg.Error as error:
        return [Result(SUITE, "import into PostgreSQL", skipped=f"the server failed: {error}")]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _import_cases(scratch: Path, fresh_database: Any, form: Any, count: int,
                  note: str) -> list[Result]:
    url = fresh_database()
    label = _label(count)
    progress(f"postgres: generating {count:,} screenings")
    population, lines = Population(count), _lines(form)
    batches = [_batch(population, form, lines, first) for first in range(0, count, CHUNK)]
    sqlite_profile, sqlite_devices = _coordinator(scratch / "sqlite" / "data", None)
    server_profile, server_devices = _coordinator(scratch / "server" / "data", url)
    sqlite_ns: list[int] = []
    server_ns: list[int] = []
    for index, records in enumerate(batches):
        sqlite_ns.append(_import(sqlite_profile, sqlite_devices, index, records))
        server_ns.append(_import(server_profile, server_devices, index, records))
        progress(f"postgres: batch {index + 1}/{len(batches)}: SQLite "
                 f"{sqlite_ns[-1] / 1e6:,.0f} ms, PostgreSQL {server_ns[-1] / 1e6:,.0f} ms")
    server_mib = _size_mib(server_profile)
    sqlite_profile.lock()
    server_profile.lock()
    two_ns, two_each = _two_consoles(scratch, fresh_database(), batches)
    rate = {name: count / (sum(samples) / 1e9)
            for name, samples in (("sqlite", sqlite_ns), ("server", server_ns))}
    sqlite_case = f"import {label} records, SQLite (per {CHUNK // 1000}k batch)"
    return [
        Result(SUITE, f"import {label} records, PostgreSQL (per {CHUNK // 1000}k batch)",
               server_ns, baseline=sqlite_case,
               note=f"Inbox.import_batch of {CHUNK:,} checked records (seal each summary and "
                    f"payload, upsert, open the follow-up cases, the ledger entry, the "
                    f"statistics delta, the audit entry) in one transaction; {count:,} "
                    f"records in {sum(server_ns) / 1e9:.1f} s = {rate['server']:,.0f} "
                    f"records/s; in turns with SQLite; the database then took "
                    f"{server_mib:,.0f} MiB; {note}"),
        Result(SUITE, f"import {label} records, PostgreSQL, two consoles at once (wall)",
               [two_ns], baseline=f"import {label} records, PostgreSQL, one console (total)",
               note=f"two processes, each its own connection, importing alternate batches "
                    f"of the same {count:,} records into one database at once: "
                    f"{count / (two_ns / 1e9):,.0f} records/s together; each console's "
                    f"busy time {two_each[0] / 1e9:.1f} s and {two_each[1] / 1e9:.1f} s; "
                    f"they write records side by side and queue on the server's writer "
                    f"lock for the audit chain, the statistics delta and the cases "
                    f"(docs/decisions.md 77); client and server share this machine's "
                    f"cores"),
        Result(SUITE, f"import {label} records, PostgreSQL, one console (total)",
               [sum(server_ns)], note="the one console's batches above, summed"),
        Result(SUITE, sqlite_case, sqlite_ns,
               note=f"the same batches into the local SQLite file (WAL, synchronous=FULL): "
                    f"{sum(sqlite_ns) / 1e9:.1f} s = {rate['sqlite']:,.0f} records/s"),
    ]


def _console(url: str, data_dir: Path, batches: list[list[IncomingRecord]], share: int,
             ready: Any, results: Any) -> None:
    """One console (a process of its own): unlock, wait for the other, import its share."""
    profile = ProfileStore(data_dir, clock=_fixed_clock, database=url).open(PROFILE).unlock(
        PASSPHRASE)
    devices = profile.devices.list()
    ready.wait()
    busy = 0
    for index in range(share, len(batches), 2):
        busy += _import(profile, devices, index, batches[index])
    profile.lock()
    results.put((share, busy, time.perf_counter_ns()))


def _two_consoles(scratch: Path, url: str, batches: list[list[IncomingRecord]]
                  ) -> tuple[int, tuple[int, int]]:
    """Wall time of two console processes importing alternate batches into one database,
    and each one's busy time."""
    import multiprocessing

    data_dir = scratch / "two-consoles" / "data"
    profile, _devices = _coordinator(data_dir, url)
    profile.lock()  # no connection crosses the fork
    context = multiprocessing.get_context("fork")
    ready, results = context.Barrier(3), context.Queue()
    consoles = [context.Process(target=_console,
                                args=(url, data_dir, batches, share, ready, results))
                for share in (0, 1)]
    for console in consoles:
        console.start()
    progress(f"postgres: two consoles importing {len(batches)} batches at once")
    ready.wait()
    started = time.perf_counter_ns()
    done = [results.get(timeout=3600) for _console in consoles]
    for console in consoles:
        console.join()
        assert console.exitcode == 0, console.exitcode
    busy = dict((share, ns) for share, ns, _end in done)
    return max(end for _share, _ns, end in done) - started, (busy[0], busy[1])


def _dashboard_cases(scratch: Path, url: str, form: Any, count: int,
                     quick: bool) -> list[Result]:
    label = _label(count)
    progress(f"postgres: filling PostgreSQL with {count:,} records for the dashboard "
             "(set-up, not measured)")
    population, lines = Population(count), _lines(form)
    data_dir = scratch / "dashboard" / "data"
    profile, devices = _coordinator(data_dir, url)
    started = time.perf_counter()
    for first in range(0, count, CHUNK):
        index = first // CHUNK
        records = _batch(population, form, lines, first)
        _import(profile, devices, index, records)
        if index % 10 == 9:
            done = first + len(records)
            rate = done / (time.perf_counter() - started)
            progress(f"postgres: {done:,} / {count:,} ({rate:,.0f}/s)")
    fill_s = time.perf_counter() - started
    first_load = time.perf_counter_ns()
    facts = load_facts(profile.inbox)  # builds and seals the snapshot's base
    first_load_ns = time.perf_counter_ns() - first_load
    assert len(facts) == count
    expected = _comparable(disaggregate(facts, FILTER))
    profile.referrals.page(0, QUEUE_ROWS)  # builds the sealed queue index
    filled_mib = _size_mib(profile)
    profile.lock()

    store = ProfileStore(data_dir, clock=_fixed_clock, database=url)
    kept: list[tuple[UnlockedProfile, Any]] = []

    def unlock_and_load() -> None:
        while kept:
            kept.pop()[0].lock()
        unlocked = store.open(PROFILE).unlock(PASSPHRASE)
        kept.append((unlocked, load_facts(unlocked.inbox)))

    opened = measure(unlock_and_load, runs=3 if quick else 5, warmup=0, budget_s=60)
    unlocked, loaded = kept.pop()
    assert _comparable(disaggregate(loaded, FILTER)) == expected
    refresh = measure(lambda: disaggregate(loaded, FILTER), runs=7 if quick else 21,
                      warmup=1, budget_s=30)
    reload = measure(lambda: load_facts(unlocked.inbox), runs=5 if quick else 11, warmup=1,
                     budget_s=60)
    page = measure(lambda: unlocked.referrals.page(0, QUEUE_ROWS), runs=5 if quick else 11,
                   warmup=1, budget_s=60)
    unlocked.lock()
    target_note = f"; --quick: {count:,} records" if quick else ""
    return [
        Result(SUITE, f"open+unlock+load_facts {label}, PostgreSQL", opened,
               note=f"what the coordinator waits for before the dashboard, the profile on "
                    f"PostgreSQL: connect, migrations check, unlock (weak Argon2id: not "
                    f"measured here), read and open the sealed statistics snapshot; set-up "
                    f"filled {count:,} records in {fill_s:.0f} s ({filled_mib:,.0f} MiB on "
                    f"the server); the first load_facts "
                    f"(build and seal the base) took {first_load_ns / 1e9:.1f} s"
                    f"{target_note}"),
        Result(SUITE, f"dashboard refresh {label}, PostgreSQL profile", refresh,
               note=f"disaggregate(facts, {FILTER_TEXT}) over the table load_facts read "
                    "from the server: in memory, the same work as on SQLite"),
        Result(SUITE, f"load_facts {label} again, PostgreSQL", reload,
               note="the dashboard's reload after an import: the snapshot's base and deltas "
                    "read from the server and opened"),
        Result(SUITE, f"ReferralQueue.page() first {QUEUE_ROWS}, PostgreSQL {label}", page,
               note="the queue's first screen from the sealed queue index on the server"),
    ]

