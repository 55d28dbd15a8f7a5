"""A child process for the durability tests: it writes to a profile until the parent kills it.

Run as `python -m tests.store_child` from the repository root, with one JSON object on stdin:

    {"mode": "saves", "data_dir": ..., "profile": ..., "passphrase": ..., "run": 3}
        unlock, then save final records in a loop; after each `save_final` RETURNS print
        "<id> <run> <n>" and flush, so every line the parent reads is an acknowledged save.
    {"mode": "passwd", "data_dir": ..., "profile": ..., "passphrases": [current, other]}
        unlock with the first, then change the passphrase back and forth; after each
        `change_passphrase` RETURNS print the index (0 or 1) of the one now in force.
    {"mode": "creates", "data_dir": ..., "prefix": ..., "passphrase": ...}
        create profiles <prefix>0, <prefix>1 ... with weak key derivation; after each
        `create` RETURNS (and the profile is locked) print its number.

It prints "ready" once unlocked. Only `fieldscreen` is imported, so the child starts quickly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fieldscreen.store.crypto import KdfParameters, b64
from fieldscreen.store.profile import ProfileRole, ProfileStore

# The parent kills the child long before this; the bound only stops a runaway loop.
MAX_STEPS = 100_000


def note(run: int, n: int) -> str:
    """The free-text answer saved as record `n` of run `run` (the parent checks it)."""
    return f"durability note {run}/{n}"


def answers(run: int, n: int) -> dict[str, Any]:
    return {"worker_note": note(run, n), "age_years": n % 18, "child_assent": "yes"}


def _saves(config: dict[str, Any]) -> None:
    store = ProfileStore(Path(config["data_dir"]))
    profile = store.open(config["profile"]).unlock(config["passphrase"])
    print("ready", flush=True)
    run = int(config["run"])
    for n in range(MAX_STEPS):
        summary = profile.records.save_final("child-screening", "2026.11.0", answers(run, n),
                                             {"final_decision": "urgent"})
        # Printed only now: the COMMIT has returned, so the save is acknowledged.
        print(f"{summary.id} {run} {n}", flush=True)


def _passwd(config: dict[str, Any]) -> None:
    passphrases = config["passphrases"]
    store = ProfileStore(Path(config["data_dir"]))
    profile = store.open(config["profile"]).unlock(passphrases[0])
    print("ready", flush=True)
    current = 0
    for _step in range(MAX_STEPS):
        target = 1 - current
        profile.change_passphrase(passphrases[target])
        current = target
        print(current, flush=True)


def _creates(config: dict[str, Any]) -> None:
    # The weak parameters of tests/store_helpers.py, without importing the tests package.
    kdf = KdfParameters(b64(b"\x00" * 16), iterations=1, lanes=1, memory_kib=8 * 1024)
    store = ProfileStore(Path(config["data_dir"]), kdf=kdf)
    print("ready", flush=True)
    for n in range(MAX_STEPS):
        store.create(f"{config['prefix']}{n}", ProfileRole.FIELD, config["passphrase"]).lock()
        print(n, flush=True)


def main() -> None:
    config = json.loads(sys.stdin.readline())
    {"saves": _saves, "passwd": _passwd, "creates": _creates}[config["mode"]](config)


if __name__ == "__main__":
    main()
