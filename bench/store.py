"""The `store` suite: the durable save of one encrypted record, and unlocking and listing 100k.

Cases (see bench/README.md for how to read them):

- `save_final()` of one realistic record (the shipped form's answers, a 200-character
  note, the session's outcome): one transaction with its COMMIT and fsync, the real cost of
  "saved"; measured in turns with
- the same plaintext row inserted with sqlite-utils into a plain SQLite database, and
- the same plaintext row inserted into a SQLCipher database (raw key), both with the
  profile database's durability settings (WAL, synchronous=FULL, BEGIN IMMEDIATE ...
  COMMIT per row); targets: ours / plain <= 2, ours / SQLCipher <= 1;
- opening and unlocking a profile holding 100,000 final records with calibrated Argon2id
  parameters (informational), then `records.list()` of all of them (every summary
  decrypted); target: median <= 1 s. `--quick` uses 10,000 records and drops the target.

All databases live in one temporary folder on a real disk: fsync on tmpfs costs nothing
and would hide what a save costs on a laptop.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
import re
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from bench.core import MIN_RUNS, Result, Target, measure, progress
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.forms.loader import load_form
from fieldscreen.store import records as records_module
from fieldscreen.store.crypto import SALT_BYTES, KdfParameters, b64
from fieldscreen.store.profile import ProfileRole, ProfileStore, UnlockedProfile
from fieldscreen.store.records import RecordStatus

SUITE = "store"
REPO = Path(__file__).resolve().parent.parent
SHIPPED_FORM = REPO / "forms" / "child-screening.yaml"
ANSWERS_DIR = REPO / "tests" / "data" / "answers"
INSTALL_HINT = ".venv/bin/pip install -e '.[bench]'  (sqlcipher3 is the optional `bench` extra)"

SAVE_CASE = "save_final 1 record, encrypted"
SAVE_VS_SQLCIPHER_CASE = "save_final 1 record (vs SQLCipher)"
PLAIN_CASE = "sqlite-utils insert 1 row, plain"
SQLCIPHER_CASE = "SQLCipher insert 1 row, raw key"

# The goals: encryption may at most double the cost of a durable save, and must
# be no slower than the established encrypted SQLite; a 100k-record list must stay under
# a second once unlocked.
PLAIN_TARGET = Target("ratio", 2.0)
SQLCIPHER_TARGET = Target("ratio", 1.0)
LIST_TARGET = Target("median", 1000.0)

# A throwaway passphrase for the benchmark profiles.
PASSPHRASE = "bench correct horse battery"
# Argon2id with tiny cost for the profile whose saves are timed: the passphrase slot is
# made once at creation and the KDF is not what those cases measure. Real (valid,
# checked) parameters, just fast; the unlock case uses calibrated ones.
FAST_KDF = KdfParameters(b64(os.urandom(SALT_BYTES)), iterations=1, lanes=1, memory_kib=8192)

# Records are written in transactions of this many rows while filling the big profile.
FILL_BATCH = 10_000
# Free space the full listing case needs (about 4.5 KiB per record on disk, the WAL, slack).
FULL_RECORDS = 100_000
QUICK_RECORDS = 10_000
SPACE_PER_RECORD = 10 * 1024

# Filesystems held in memory, where fsync is free: never measure saves there.
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "devtmpfs"})
_OCTAL = re.compile(r"\\([0-7]{3})")

# The profile database's pragmas (fieldscreen/store/database.py), for the two peers.
DURABILITY_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA journal_size_limit=4194304",
)

# The free text a worker might write in the form's `worker_note` (200 characters, with a
# non-ASCII letter as in real notes).
WORKER_NOTE = (
    "Met near the bus station café with an older cousin who answered for her twice. She "
    "said she sleeps at the shop where she works and was not sure of the address. She "
    "agreed to talk to me again next week"
)


def run(quick: bool) -> list[Result]:
    """Run every case of the suite.

    Args:
        quick: fewer samples and 10,000 instead of 100,000 records, for a smoke run.

    Returns:
        One result per case, in the order they are printed.
    """
    assert len(WORKER_NOTE) == 200, len(WORKER_NOTE)
    form = load_form(SHIPPED_FORM)
    samples = _sample_records(form)
    parent, filesystem = _scratch_parent()
    progress(f"store: databases in {parent} ({filesystem})")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="fieldscreen-bench-store-", dir=parent) as scratch:
        folder = Path(scratch)
        progress("store: save_final vs plain sqlite-utils vs SQLCipher, in turns")
        results += _save_cases(folder, form.id, form.version, samples["referral"], filesystem,
                               quick)
        results += _listing_cases(folder, form.id, form.version, list(samples.values()),
                                  quick)
    return results


# -- the records ---------------------------------------------------------------------------


def _fixed_clock() -> dt.datetime:
    return dt.datetime(2026, 11, 1, 9, 30, tzinfo=dt.UTC)


def _sample_records(form: Any) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """(answers, outcome) of the test answer sets, each with a 200-character worker note.

    The outcome is what the UI stores: `ScreeningSession(...).outcome().to_json()`.
    """
    found = {}
    for name in ("referral", "urgent", "information", "follow-up"):
        answers = json.loads((ANSWERS_DIR / f"{name}.json").read_text(encoding="utf-8"))
        answers["worker_note"] = WORKER_NOTE
        session = ScreeningSession(form, clock=_fixed_clock, answers=answers)
        found[name] = (session.answers_json(), session.outcome().to_json())
    answers, _outcome = found["referral"]
    assert len(answers) >= 60 and answers["worker_note"] == WORKER_NOTE, sorted(answers)
    return found


def _plain_template(profile: UnlockedProfile, form_id: str, form_version: str,
                    answers: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
    """A row exactly as `save_final` writes it (every column, read back from the file).

    Reading the columns back, rather than listing them here, keeps the peers' rows in step
    with the store's schema as it changes. The peers replace the id, the times and the two
    ciphertexts with their own values on every save.
    """
    saved = profile.records.save_final(form_id, form_version, answers, outcome)
    uri = f"{profile.database_path.as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as reader:
        cursor = reader.execute("SELECT * FROM records WHERE id = ?", [saved.id])
        values = cursor.fetchone()
        names = [column[0] for column in cursor.description]
    row = dict(zip(names, values, strict=True))
    assert {"id", "created_at", "updated_at", "summary", "payload"} <= set(row), names
    return row


def _plain_row(template: dict[str, Any], answers: dict[str, Any],
               outcome: dict[str, Any]) -> dict[str, Any]:
    """The row `save_final` would write, with the summary and payload as clear JSON text.

    Built inside the timed region, as a plain store would have to: a new id, the time and
    the JSON encoding are part of every save, ours included.
    """
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    summary = {"decision": outcome.get("final_decision", outcome.get("decision")),
               "follow_up": bool(outcome.get("follow_up"))}
    payload = {"answers": answers, "outcome": outcome}
    return {
        **template, "id": str(uuid.uuid4()), "created_at": now, "updated_at": now,
        "summary": json.dumps(summary, ensure_ascii=False, separators=(",", ":")),
        "payload": json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
    }


# -- where the files go ----------------------------------------------------------------------


def _mount_of(path: str) -> tuple[str, str, str] | None:
    """(filesystem type, device, mount point) holding `path`, from /proc/mounts (Linux)."""
    try:
        lines = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best: tuple[str, str, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts escapes spaces and the like as octal (\040).
        point = _OCTAL.sub(lambda match: chr(int(match.group(1), 8)), fields[1])
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[2])):
            best = (fields[2], fields[0], point)
    return best


def _describe_filesystem(path: str) -> str:
    stats = os.statvfs(path)
    free_gib = stats.f_bavail * stats.f_frsize / 2**30
    mount = _mount_of(path)
    if mount is None:
        return f"filesystem type unknown (no /proc/mounts), {free_gib:.1f} GiB free"
    kind, device, point = mount
    return f"{kind} ({device} on {point}), {free_gib:.1f} GiB free"


def _scratch_parent() -> tuple[str, str]:
    """A writable folder on a real disk for the databases, and its filesystem's description.

    The system temporary folder first; if it is in memory (tmpfs), /var/tmp, then the
    folder above the repository, which are normally on the disk.
    """
    candidates = [tempfile.gettempdir(), "/var/tmp", str(REPO.parent)]
    for candidate in candidates:
        if not (os.path.isdir(candidate) and os.access(candidate, os.W_OK)):
            continue
        mount = _mount_of(candidate)
        if mount is None or mount[0] not in MEMORY_FILESYSTEMS:
            return candidate, _describe_filesystem(candidate)
    fallback = tempfile.gettempdir()
    return fallback, (_describe_filesystem(fallback)
                      + "; WARNING: in memory, fsync is free, saves look too cheap")


def _fsync_cost(folder: Path) -> float:
    """Median seconds to write 4 KiB and fsync it here: how expensive 'durable' is."""
    path = folder / "fsync-probe"
    times = []
    with open(path, "wb") as file:
        for _ in range(21):
            file.write(b"\0" * 4096)
            file.flush()
            start = time.perf_counter()
            os.fsync(file.fileno())
            times.append(time.perf_counter() - start)
    path.unlink()
    return sorted(times)[len(times) // 2]


# -- one save: ours, plain, SQLCipher ----------------------------------------------------------


def _measure_in_turns(fns: list[Callable[[], object]], *, runs: int, warmup: int,
                      budget_s: float) -> list[list[int]]:
    """Like `measure_alternating`, for any number of operations: a, b, c, a, b, c, ...

    Turns spread a busy disk or a checkpoint storm over every writer instead of charging it
    to whichever ran at that moment.
    """
    for _ in range(warmup):
        for fn in fns:
            fn()
    gc.collect()
    samples: list[list[int]] = [[] for _ in fns]
    clock = time.perf_counter_ns
    deadline = clock() + int(budget_s * 1e9)
    while len(samples[0]) < runs and (len(samples[0]) < MIN_RUNS or clock() < deadline):
        for fn, out in zip(fns, samples, strict=True):
            start = clock()
            fn()
            out.append(clock() - start)
    return samples


def _configure(connection: Any) -> None:
    """The profile database's durability settings and the records table, exactly."""
    for pragma in DURABILITY_PRAGMAS:
        connection.execute(pragma)
    mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal", mode
    records_module.create_table(sqlite_utils.Database(connection))


def _inserter(connection: Any, row: Callable[[], dict[str, Any]]) -> Callable[[], None]:
    """One sample of a peer: build the row, BEGIN IMMEDIATE, sqlite-utils insert, COMMIT."""
    table = sqlite_utils.Database(connection).table("records")

    def insert() -> None:
        values = row()
        connection.execute("BEGIN IMMEDIATE")
        # Inside a transaction, sqlite-utils wraps its insert in a SAVEPOINT: our COMMIT is
        # the only one, so each row is exactly one durable transaction.
        table.insert(values)
        connection.execute("COMMIT")
        # The profile database checkpoints each transaction into the main file before it
        # acknowledges it (so a lost -wal file loses nothing); the peers do the same, so
        # the comparison stays one of encryption, not of durability.
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    return insert


def _sqlcipher_settings(connection: Any) -> str:
    def pragma(name: str) -> str:
        return str(connection.execute(f"PRAGMA {name}").fetchone()[0])

    return (f"SQLCipher {pragma('cipher_version')} (SQLite "
            f"{connection.execute('SELECT sqlite_version()').fetchone()[0]}, "
            f"{pragma('cipher_provider')} {pragma('cipher_provider_version')}): AES-256-CBC "
            f"pages with {pragma('cipher_hmac_algorithm')}, cipher_page_size "
            f"{pragma('cipher_page_size')}, page_size {pragma('page_size')}; raw 256-bit key, "
            "so no key derivation runs (kdf_iter is not used)")


def _save_cases(folder: Path, form_id: str, form_version: str,
                record: tuple[dict[str, Any], dict[str, Any]], filesystem: str,
                quick: bool) -> list[Result]:
    answers, outcome = record
    store = ProfileStore(folder / "ours", kdf=FAST_KDF)
    profile = store.create("save-bench", ProfileRole.FIELD, PASSPHRASE)

    def ours() -> None:
        profile.records.save_final(form_id, form_version, answers, outcome)

    template = _plain_template(profile, form_id, form_version, answers, outcome)

    def row() -> dict[str, Any]:
        return _plain_row(template, answers, outcome)

    plain = sqlite3.connect(folder / "plain.db", isolation_level=None)
    _configure(plain)
    writers: list[Callable[[], object]] = [ours, _inserter(plain, row)]

    sqlcipher: Any = None
    try:
        import sqlcipher3  # the optional `bench` extra
    except ModuleNotFoundError:
        sqlcipher_note = None
    else:
        sqlcipher = sqlcipher3.connect(str(folder / "sqlcipher.db"), isolation_level=None)
        # The key must be the first statement on the connection.
        sqlcipher.execute(f"PRAGMA key = \"x'{os.urandom(32).hex()}'\"")
        _configure(sqlcipher)
        sqlcipher_note = _sqlcipher_settings(sqlcipher)
        writers.append(_inserter(sqlcipher, row))

    runs, warmup, budget = (100, 10, 4.0) if quick else (1000, 30, 30.0)
    timings = _measure_in_turns(writers, runs=runs, warmup=warmup, budget_s=budget)
    calls = warmup + len(timings[0])
    # Make sure every writer did write one row per call (and nothing was left uncommitted).
    assert profile.records.count() == calls + 1  # and the template's record
    for connection in (plain, sqlcipher):
        if connection is not None:
            assert not connection.in_transaction
            assert connection.execute("SELECT COUNT(*) FROM records").fetchone()[0] == calls
    fsync_ms = _fsync_cost(folder) * 1e3
    payload_bytes = len(row()["payload"].encode("utf-8"))
    profile.lock()
    plain.close()
    if sqlcipher is not None:
        sqlcipher.close()

    turns = "ours, plain, SQLCipher" if sqlcipher is not None else "ours, plain"
    where = (f"files on {filesystem}; a bare 4 KiB write+fsync there takes {fsync_ms:.2f} ms "
             f"(median); samples taken in turns ({turns}, ...), {warmup} warm-up rounds")
    results = [
        Result(SUITE, SAVE_CASE, timings[0], baseline=PLAIN_CASE, target=PLAIN_TARGET,
               note=f"{len(answers)} answers (incl. a 200-char note) + the outcome, "
                    f"{payload_bytes} bytes of payload JSON; one sample = save_final(): "
                    "JSON, AES-256-GCM of summary and payload, an audit entry (HMAC chain), "
                    f"BEGIN IMMEDIATE ... COMMIT with fsync; {where}"),
    ]
    if sqlcipher is not None:
        results.append(Result(
            SUITE, SAVE_VS_SQLCIPHER_CASE, timings[0], baseline=SQLCIPHER_CASE,
            target=SQLCIPHER_TARGET,
            note=f"the same samples as '{SAVE_CASE}', compared with SQLCipher"))
    results.append(Result(
        SUITE, PLAIN_CASE, timings[1],
        note=f"sqlite3 (SQLite {sqlite3.sqlite_version}), the records table of the profile "
             "schema, same pragmas (WAL, synchronous=FULL, temp_store=MEMORY); one sample "
             "= build the row (uuid, time, JSON of summary and payload in clear) + BEGIN "
             "IMMEDIATE, sqlite_utils .table('records').insert(row), COMMIT, then a passive "
             "checkpoint as the profile database does"))
    if sqlcipher is None:
        message = f"sqlcipher3 is not installed, so it is not compared; install it: {INSTALL_HINT}"
        progress(message)
        results += [Result(SUITE, SAVE_VS_SQLCIPHER_CASE, baseline=SQLCIPHER_CASE,
                           target=SQLCIPHER_TARGET, skipped=message),
                    Result(SUITE, SQLCIPHER_CASE, skipped=message)]
    else:
        results.append(Result(
            SUITE, SQLCIPHER_CASE, timings[2],
            note=f"{sqlcipher_note}; the same table, pragmas, row and sqlite-utils insert as "
                 "the plain case"))
    return results


# -- unlock and list a big profile -------------------------------------------------------------


class _SetClock:
    """A clock that says what it was last set to: each filled record gets its own time."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _fill(profile: UnlockedProfile, clock: _SetClock, form_id: str, form_version: str,
          records: list[tuple[dict[str, Any], dict[str, Any]]], count: int) -> None:
    """Write `count` final records with `save_final` itself, in a few big transactions.

    Not measured. Each record is written by the repository's own `save_final` (same columns,
    same encryption, an audit entry each), so the rows are what a worker's saves leave;
    only the commits are batched: while one outer transaction is open, the profile
    database's `write()` is shadowed on this instance so every save joins it instead of
    committing alone. Times are ten minutes apart, ending at the fixed clock.
    """
    database = profile._database
    start = _fixed_clock() - dt.timedelta(minutes=10 * count)
    for first in range(0, count, FILL_BATCH):
        with database.write() as db:
            database.write = lambda: contextlib.nullcontext(db)  # type: ignore[method-assign]
            try:
                for index in range(first, min(count, first + FILL_BATCH)):
                    answers, outcome = records[index % len(records)]
                    clock.now = start + dt.timedelta(minutes=10 * index)
                    profile.records.save_final(form_id, form_version, answers, outcome)
            finally:
                del database.write  # back to the class's write()
    clock.now = _fixed_clock()


def _check_fill(profile: UnlockedProfile, record: tuple[dict[str, Any], dict[str, Any]],
                count: int) -> None:
    """Check that the records are all there, final, and open with the profile's key."""
    assert profile.records.count(RecordStatus.FINAL) == count
    answers, outcome = record
    uri = f"{profile.database_path.as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as reader:
        oldest = reader.execute("SELECT id FROM records ORDER BY updated_at LIMIT 1").fetchone()
    opened = profile.records.get(oldest[0])
    assert opened.answers == answers and opened.outcome == outcome


def _listing_cases(folder: Path, form_id: str, form_version: str,
                   records: list[tuple[dict[str, Any], dict[str, Any]]],
                   quick: bool) -> list[Result]:
    count = QUICK_RECORDS if quick else FULL_RECORDS
    label = f"{count // 1000}k records"
    unlock_case = f"open+unlock (Argon2id), {label}"
    list_case = f"records.list() {label}"
    free = shutil.disk_usage(folder).free
    if free < count * SPACE_PER_RECORD:
        message = (f"{free / 2**30:.1f} GiB free in {folder.parent}, about "
                   f"{count * SPACE_PER_RECORD / 2**30:.1f} GiB needed for {count} records")
        progress(f"store: {message}")
        return [Result(SUITE, unlock_case, skipped=message),
                Result(SUITE, list_case, target=None if quick else LIST_TARGET,
                       skipped=message)]

    progress("store: calibrating Argon2id (~0.5 s) and creating the big profile")
    clock = _SetClock(_fixed_clock())
    store = ProfileStore(folder / "big", clock=clock)
    profile = store.create("list-bench", ProfileRole.FIELD, PASSPHRASE)
    progress(f"store: writing {count:,} records (set-up, not measured)")
    started = time.perf_counter()
    _fill(profile, clock, form_id, form_version, records, count)
    _check_fill(profile, records[0], count)
    fill_s = time.perf_counter() - started
    size_mib = profile.database_path.stat().st_size / 2**20
    profile.lock()

    progress(f"store: open+unlock the {label} profile")
    locked = store.open("list-bench")
    kdf = locked._passphrase_slot().kdf
    with locked._database.read() as connection:
        calibrated = connection.execute(
            "SELECT value FROM profile WHERE key = 'kdf_calibrated_seconds'").fetchone()[0]
    locked.close()

    opens: list[int] = []
    unlocks: list[int] = []
    timer = time.perf_counter_ns

    def open_and_unlock() -> None:
        start = timer()
        locked = store.open("list-bench")  # PRAGMA quick_check of the whole file, migrations
        middle = timer()
        unlocked = locked.unlock(PASSPHRASE)  # Argon2id, unwrap the DEK, an audit entry
        opens.append(middle - start)
        unlocks.append(timer() - middle)
        unlocked.lock()

    unlock_samples = measure(open_and_unlock, runs=3 if quick else 6, warmup=1,
                             budget_s=5 if quick else 15)
    opens, unlocks = opens[1:], unlocks[1:]  # drop the warm-up run

    progress(f"store: records.list() of {label}")
    unlocked = store.open("list-bench").unlock(PASSPHRASE)
    # The first list right after unlocking is what the worker waits for; kept apart.
    start = timer()
    listed = unlocked.records.list()
    first_list_ns = timer() - start
    assert len(listed) == count, len(listed)
    del listed
    list_samples = measure(unlocked.records.list, runs=3 if quick else 7, warmup=0,
                           budget_s=5 if quick else 20)
    unlocked.lock()

    quick_note = (f"; --quick: {count:,} records, so the 1 s target (for 100k) does not apply"
                  if quick else "")
    return [
        Result(
            SUITE, unlock_case, unlock_samples,
            note=f"informational; store.open() (PRAGMA quick_check of {size_mib:.0f} MiB, "
                 f"migrations) median {_ms(opens)} + unlock() (Argon2id m={kdf.memory_kib // 1024}"
                 f" MiB t={kdf.iterations} p={kdf.lanes}, calibrated at {calibrated} s here; "
                 f"unwrap the DEK, an audit entry) median {_ms(unlocks)}"),
        Result(
            SUITE, list_case, list_samples, target=None if quick else LIST_TARGET,
            note=f"all {count:,} summaries decrypted (AES-256-GCM + JSON each), newest "
                 f"first; the first call after unlock took {first_list_ns / 1e6:.0f} ms; "
                 f"set-up (not measured): {count:,} records written by save_final in "
                 f"transactions of {FILL_BATCH:,} in {fill_s:.0f} s, "
                 f"{size_mib:.0f} MiB{quick_note}"),
    ]


def _ms(samples_ns: list[int]) -> str:
    return f"{statistics.median(samples_ns) / 1e6:.0f} ms"
