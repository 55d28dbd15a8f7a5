"""A child process for the kill -9 import test: it seals and imports batches until it is killed.

Run as `python -m tests.exchange_child` from the repository root, with one JSON object on
stdin:

    {"data_dir": ..., "profile": ..., "passphrase": ..., "quarantine_dir": ...,
     "folder": ..., "device_key": <hex of the device's Ed25519 private key>,
     "recipient": "age1...", "sequence": <first device sequence>, "records": 300,
     "answers": {...}, "outcome": {...}}

It unlocks the coordinator profile and prints "ready". Then, for each fresh batch, it:

1. seals `records` new records (fresh ids) with the device key, as sequence n, n+1 ...;
2. stores the batch file in `folder` (temp + fsync + rename, through FolderTransport) and
   prints "sealed <batch_id>", so the parent knows the file is complete on disk;
3. prints "importing <batch_id>" and calls `BatchImporter.import_one`;
4. prints "imported <batch_id> <status> <seconds>" once it RETURNS (the COMMIT is done).

The parent SIGKILLs it at random moments, mostly while step 3 runs. Only `fieldscreen` and
the standard library are imported, so the child starts quickly.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from fieldscreen.exchange.batch import batch_file_name, seal_batch
from fieldscreen.exchange.importer import BatchImporter
from fieldscreen.exchange.transports import FolderTransport
from fieldscreen.store.audit import GENESIS
from fieldscreen.store.crypto import SigningKey
from fieldscreen.store.profile import ProfileStore

# The parent kills the child long before this; the bound only stops a runaway loop.
MAX_BATCHES = 1_000


def _records(count: int, answers: dict[str, Any], outcome: dict[str, Any]
             ) -> list[dict[str, Any]]:
    stamp = "2026-03-01T09:00:00.000000Z"
    return [{"id": str(uuid.uuid4()), "version": 1, "form_id": "child-screening",
             "form_version": "2026.11.0", "created_at": stamp, "updated_at": stamp,
             "demo": False, "answers": answers, "outcome": outcome} for _n in range(count)]


def main() -> None:
    config = json.loads(sys.stdin.readline())
    store = ProfileStore(Path(config["data_dir"]))
    profile = store.open(config["profile"]).unlock(config["passphrase"])
    importer = BatchImporter(profile, Path(config["quarantine_dir"]),
                             lambda: dt.datetime.now(dt.UTC))
    folder = FolderTransport(Path(config["folder"]))
    key = SigningKey.from_bytes(bytes.fromhex(config["device_key"]))
    print("ready", flush=True)
    for n in range(MAX_BATCHES):
        sealed = seal_batch(
            _records(int(config["records"]), config["answers"], config["outcome"]),
            device_key=key, recipient=config["recipient"],
            sequence=int(config["sequence"]) + n, previous_manifest_sha256=GENESIS,
            audit_head=(0, GENESIS), demo=False, now=dt.datetime.now(dt.UTC))
        name = batch_file_name(sealed.batch_id)
        folder.put(name, sealed.data)
        print(f"sealed {sealed.batch_id}", flush=True)
        print(f"importing {sealed.batch_id}", flush=True)
        started = time.perf_counter()
        outcome = importer.import_one(sealed.data, name, folder)
        print(f"imported {sealed.batch_id} {outcome.status} "
              f"{time.perf_counter() - started:.4f}", flush=True)


if __name__ == "__main__":
    main()
