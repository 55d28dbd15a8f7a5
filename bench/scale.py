"""The `scale` suite: the statistics snapshot and the queue index at ten million records.

Importing ten million records here would take over fifteen minutes and 40 GiB, so this
suite builds what unlock reads directly, at the level the snapshot and the index hold it:

- a statistics table of 10,000,000 screenings (the same columns `build_facts` makes, drawn
  with the coordinator suite's mix: two years of dates, ages 0-17, sexes, 17 nationalities,
  4 areas, 0-3 forms of exploitation, four decisions), encoded exactly as
  `reporting/snapshot.py` seals it, and sealed with AES-256-GCM;
- a queue index of 1,500,000 open cases (15 %, urgent and referral), as
  `store/queue_index.py` seals it.

Cases: opening the sealed snapshot (decrypt + decode), a dashboard refresh over it, and
ordering the index for the queue's first screen (decrypt, parse, order with deadlines, as
`ReferralQueue.page` does before opening the shown cases). The note gives the bytes per
record on disk and in memory. `--quick` uses 1,000,000 records and 150,000 cases.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.core import Result, measure, progress
from fieldscreen.reporting import snapshot
from fieldscreen.reporting.dashboard import DashboardFilter, disaggregate
from fieldscreen.reporting.facts import ScreeningFacts
from fieldscreen.store.crypto import FieldCipher, KdfParameters, b64, random_key
from fieldscreen.store.profile import ProfileRole, ProfileStore
from fieldscreen.store.queue_index import QueueEntries

SUITE = "scale"
FULL_RECORDS = 10_000_000
QUICK_RECORDS = 1_000_000
CASE_SHARE = 0.15
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def _facts(count: int, rng: np.random.Generator) -> tuple[ScreeningFacts, np.ndarray]:
    start = (dt.date(2024, 11, 1) - dt.date(1970, 1, 1)).days
    day = (start + np.sqrt(rng.random(count)) * 730).astype(np.int32)
    age = rng.integers(-1, 18, count, dtype=np.int16)
    sex = rng.integers(0, 4, count, dtype=np.int16)
    nationality = np.minimum(rng.zipf(1.6, count), 17).astype(np.int16)
    area = rng.integers(0, 5, count, dtype=np.int16)
    decision = rng.choice(np.array([1, 2, 3, 4], dtype=np.int8), count,
                          p=[0.55, 0.30, 0.12, 0.03])
    forms = (rng.integers(0, 1 << 10, count, dtype=np.uint64)
             & rng.integers(0, 1 << 10, count, dtype=np.uint64)
             & rng.integers(0, 1 << 10, count, dtype=np.uint64))
    facts = ScreeningFacts(
        day=day, age=age, sex=sex, nationality=nationality, area=area, decision=decision,
        forms=forms, sexes=(None, "girl", "boy", "another_way"),
        nationalities=(None, *(f"country_{n}" for n in range(1, 18))),
        areas=(None, "north_district", "south_district", "east_district", "west_district"),
        form_names=tuple(f"form_{n}" for n in range(10)))
    ids = np.frombuffer(rng.bytes(16 * count), dtype="S16")
    return facts, ids


def _entries(cases: int, rng: np.random.Generator) -> dict[str, list[str]]:
    statuses = ("new", "contacted", "referred", "accepted", "delivered", "closed")
    weights = np.array([0.5, 0.15, 0.1, 0.1, 0.05, 0.1])
    chosen = rng.choice(len(statuses), cases, p=weights)
    urgent = rng.random(cases) < 0.2
    minutes = rng.integers(0, 730 * 24 * 60, cases)
    base = NOW - dt.timedelta(days=730)
    entries = {}
    for index in range(cases):
        moment = base + dt.timedelta(minutes=int(minutes[index]))
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        record_id = rng.bytes(16).hex()
        entries[f"{record_id[:8]}-{record_id[8:12]}-4{record_id[13:16]}-a{record_id[17:20]}-"
                f"{record_id[20:]}"] = ["urgent" if urgent[index] else "referral",
                                        statuses[chosen[index]], stamp, stamp]
    return entries


def run(quick: bool) -> list[Result]:
    count = QUICK_RECORDS if quick else FULL_RECORDS
    cases = int(count * CASE_SHARE)
    label = f"{count // 1_000_000}M"
    rng = np.random.default_rng(2026)
    progress(f"scale: generating {count:,} screenings' statistics and {cases:,} queue entries")
    facts, ids = _facts(count, rng)
    cipher = FieldCipher(random_key())
    context = FieldCipher.context("statistics_snapshot", "base", "1:1", 1)
    started = time.perf_counter()
    plain = snapshot._encode(facts, ids)
    sealed = cipher.seal(plain, context)
    encode_s = time.perf_counter() - started
    table_bytes = sum(getattr(facts, name).nbytes for name in
                      ("day", "age", "sex", "nationality", "area", "decision", "forms"))
    del plain

    def open_snapshot() -> ScreeningFacts:
        decoded = snapshot._decode(cipher.open(sealed, context))
        assert decoded is not None
        return decoded[0]

    progress(f"scale: opening the sealed snapshot of {label}")
    opened = open_snapshot()
    assert len(opened) == count
    open_samples = measure(open_snapshot, runs=5 if quick else 7, warmup=1, budget_s=60)
    progress(f"scale: dashboard refresh over {label}")
    refresh_samples = measure(lambda: disaggregate(opened, DashboardFilter()),
                              runs=5, warmup=1, budget_s=60)
    gc.collect()

    progress(f"scale: ordering a queue index of {cases:,} cases")
    entries = _entries(cases, rng)
    index_plain = QueueEntries.from_entries(
        {key: (value[0], value[1], value[2], value[3]) for key, value in entries.items()}
    ).encode()
    index_sealed = cipher.seal(index_plain, context)
    with tempfile.TemporaryDirectory(prefix="fieldscreen-bench-scale-") as scratch:
        store = ProfileStore(Path(scratch), clock=lambda: NOW,
                             kdf=KdfParameters(b64(os.urandom(16)), iterations=1, lanes=1,
                                               memory_kib=8192))
        profile = store.create("scale", ProfileRole.COORDINATOR, "bench correct horse staple")
        queue = profile.referrals

        deadlines = queue.deadlines()

        def order_first_screen() -> list[str]:
            decoded = QueueEntries.decode(cipher.open(index_sealed, context))
            assert decoded is not None
            rows = decoded.order(
                ranks={"urgent": 0, "referral": 1}, closed="closed", new="new",
                limit_of=deadlines.limit, now=NOW, clock_back_tolerance=dt.timedelta(days=1),
                include_closed=False).rows[:50]
            return [decoded.ids[row].decode("ascii") for row in rows]

        first = order_first_screen()
        assert len(first) == 50
        queue_samples = measure(order_first_screen, runs=5, warmup=1, budget_s=60)
        profile.lock()
    per_case = len(index_sealed) / cases
    return [
        Result(SUITE, f"open sealed statistics snapshot {label}", open_samples,
               note=f"AES-256-GCM open of one {len(sealed) / 2**20:,.0f} MiB blob + decode "
                    f"(np.frombuffer per column): {len(sealed) / count:.0f} bytes a record "
                    f"on disk (table {table_bytes / count:.0f} bytes a record in memory, "
                    f"16 for the record id); encoding and sealing took {encode_s:.1f} s "
                    "(compaction pays it, never unlock)"),
        Result(SUITE, f"dashboard refresh {label}, all records", refresh_samples,
               note="disaggregate() over the opened table, as the console after unlock"),
        Result(SUITE, f"queue first screen: order {cases // 1000:,}k index entries",
               queue_samples,
               note=f"open the sealed index ({len(index_sealed) / 2**20:,.0f} MiB, "
                    f"{per_case:.0f} bytes a case), decode its columns, order every open "
                    "case (urgent, overdue, oldest; numpy lexsort) as ReferralQueue.page() "
                    "does; opening the "
                    "50 cases shown is not included (the coordinator suite measures the "
                    "whole page at 150k); median "
                    f"{statistics.median(queue_samples) / 1e9:.2f} s"),
    ]
