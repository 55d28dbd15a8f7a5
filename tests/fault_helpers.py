"""Tools for the fault-injection tests: small full disks, read-only mounts, kill -9 children.

The disk-full and read-only tests mount real file systems (a tmpfs of a few MiB, a
read-only bind mount), so the errors come from the kernel and SQLite exactly as on a
laptop. Mounting needs root; CI runs as root, elsewhere those tests skip with the reason.

Run as `python -m tests.fault_helpers` from the repository root, this module is also the
child process of the kill -9 tests, with one JSON object on stdin:

    {"mode": "sync", "data_dir": ..., "profile": ..., "passphrase": ..., "seed": 7,
     "screenings": [[answers, outcome], ...]}
        unlock the field profile, then loop: save 1-5 final records, printing
        "saved <id>" after each save returns; print "syncing"; run `sync` (seal, deliver to
        the pack's folder relay, read receipts, purge); print "synced <seconds> <ids>",
        where <ids> are the batches the outbox newly holds as delivered.
    {"mode": "import", "data_dir": ..., "profile": ..., "passphrase": ...,
     "quarantine_dir": ..., "folder": ...}
        unlock the coordinator profile and run `BatchImporter.run` on the folder (the
        pipelined import, with its checking process); print "outcome <status> <file name>"
        as each batch is settled, then "done <seconds>".

Both print "ready" once unlocked. Only `fieldscreen` and the standard library are imported
in the child, so it starts quickly.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The parent kills the child long before this; the bound only stops a runaway loop.
MAX_ROUNDS = 10_000


# -- mounts -----------------------------------------------------------------------------------


def _skip(reason: str) -> None:
    import pytest

    pytest.skip(reason)


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), capture_output=True, text=True, check=False)


@contextlib.contextmanager
def tiny_tmpfs(size: str) -> Iterator[Path]:
    """A fresh tmpfs of `size` (e.g. "2m"), unmounted afterwards. Skips without root."""
    if os.name != "posix" or os.geteuid() != 0:
        _skip("mounting a tmpfs needs root (CI runs as root)")
    mount = Path(tempfile.mkdtemp(prefix="fieldscreen-fault-"))
    result = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount))
    if result.returncode != 0:
        mount.rmdir()
        _skip(f"mount -t tmpfs is not permitted here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        _unmount(mount)
        mount.rmdir()


def _unmount(mount: Path) -> None:
    for _attempt in range(50):
        if _run("umount", str(mount)).returncode == 0:
            return
        time.sleep(0.1)  # a child killed a moment ago may still hold a file open
    _run("umount", "-l", str(mount))


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """`folder` made read-only for everyone, root included (a read-only bind mount over it).

    Root ignores permission bits, so chmod alone proves nothing in CI; a read-only mount
    is what a write-protected USB stick or a drive remounted after errors looks like.
    """
    if os.name != "posix" or os.geteuid() != 0:
        _skip("a read-only bind mount needs root (CI runs as root)")
    result = _run("mount", "--bind", str(folder), str(folder))
    if result.returncode != 0:
        _skip(f"mount --bind is not permitted here: {result.stderr.strip()}")
    try:
        result = _run("mount", "-o", "remount,bind,ro", str(folder))
        if result.returncode != 0:
            _skip(f"a read-only remount is not permitted here: {result.stderr.strip()}")
        yield folder
    finally:
        _unmount(folder)


def fill(path: Path, leave: int) -> None:
    """Write `path` until its file system is full, then give back `leave` bytes."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0" * 512):
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, chunk)
    finally:
        os.close(descriptor)
    os.truncate(path, max(0, path.stat().st_size - leave))


def without_root_file_powers() -> None:
    """For `preexec_fn`: the child (still uid 0) obeys permission bits like anyone else.

    Drops CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the bounding set
    before exec, so the executed program never gains them.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for capability in (1, 2, 3):
        if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


# -- databases --------------------------------------------------------------------------------


def integrity(path: Path) -> list[tuple[str]]:
    """PRAGMA integrity_check of a database file, read with a plain connection."""
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("PRAGMA integrity_check").fetchall()


def rows(path: Path, query: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(query, parameters).fetchall()


def leftovers(folder: Path) -> list[str]:
    """Temporary files (".name.<hex>.part") left in `folder`."""
    return sorted(path.name for path in folder.glob(".*.part"))


# -- kill -9 children -------------------------------------------------------------------------


def start_child(config: dict[str, Any]) -> subprocess.Popen[str]:
    """`python -m tests.fault_helpers` in its own session, fed `config`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fault_helpers"], cwd=ROOT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    process.stdin.write(json.dumps(config) + "\n")
    process.stdin.close()
    return process


def read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        errors = kill_and_drain(process)[1]
        raise AssertionError(f"the child stopped early: {errors[-2000:]}")
    return line.rstrip("\n")


def kill_and_drain(process: subprocess.Popen[str]) -> tuple[list[str], str]:
    """SIGKILL the child; the lines it printed before dying (still in the pipe) and stderr.

    The child runs in its own session; any process it started (the importer's checking
    process) must end with it. One that outlives it by 10 seconds is killed, by its id,
    and reported as a failure: it would also hold the pipes open and hang the read.
    """
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while (alive := session_members(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert process.stdout is not None and process.stderr is not None
    rest = process.stdout.read().splitlines()
    errors = process.stderr.read()
    process.stdout.close()
    process.stderr.close()
    assert not alive, f"processes {alive} outlived the killed child"
    return rest, errors


def session_members(session: int) -> list[int]:
    """Process ids still alive in the session `session` (the child's helpers, if any)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields: state, ppid, pgrp, session ...; a zombie is already gone.
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(entry.name))
    return found


# -- the child --------------------------------------------------------------------------------


def _sync_child(config: dict[str, Any]) -> None:
    import datetime as dt
    import random

    from fieldscreen.exchange.sync import sync
    from fieldscreen.store.profile import ProfileStore

    profile = ProfileStore(Path(config["data_dir"])).open(config["profile"]).unlock(
        config["passphrase"])
    rng = random.Random(config["seed"])
    screenings = config["screenings"]
    reported = {batch.batch_id for batch in profile.outbox.all() if batch.delivered_at}
    print("ready", flush=True)
    for _round in range(MAX_ROUNDS):
        for _save in range(rng.randint(1, 5)):
            answers, outcome = screenings[rng.randrange(len(screenings))]
            summary = profile.records.save_final("child-screening", "2026.11.0", answers,
                                                 outcome)
            # Printed only now: the COMMIT has returned, so the save is acknowledged.
            print(f"saved {summary.id}", flush=True)
        print("syncing", flush=True)
        started = time.perf_counter()
        report = sync(profile, now=lambda: dt.datetime.now(dt.UTC))
        if report.error:
            raise SystemExit(f"sync reported: {report.error}")
        delivered = [batch.batch_id for batch in profile.outbox.all()
                     if batch.delivered_at and batch.batch_id not in reported]
        reported.update(delivered)
        print(f"synced {time.perf_counter() - started:.4f} {' '.join(delivered)}".rstrip(),
              flush=True)


def _import_child(config: dict[str, Any]) -> None:
    import datetime as dt

    from fieldscreen.exchange.importer import BatchImporter
    from fieldscreen.exchange.transports import transport_for
    from fieldscreen.store.profile import ProfileStore

    profile = ProfileStore(Path(config["data_dir"])).open(config["profile"]).unlock(
        config["passphrase"])
    importer = BatchImporter(profile, Path(config["quarantine_dir"]),
                             lambda: dt.datetime.now(dt.UTC))
    print("ready", flush=True)
    started = time.perf_counter()

    def settled(outcome: Any) -> None:
        # Printed once the batch's transaction (and its receipt) are done.
        print(f"outcome {outcome.status} {Path(outcome.source).name}", flush=True)

    report = importer.run([config["folder"]], transport_for, on_outcome=settled)
    if report.errors:
        raise SystemExit(f"import reported: {report.errors}")
    print(f"done {time.perf_counter() - started:.4f}", flush=True)
    time.sleep(3600)  # wait to be killed, so every run ends the same way


def main() -> None:
    config = json.loads(sys.stdin.readline())
    {"sync": _sync_child, "import": _import_child}[config["mode"]](config)


if __name__ == "__main__":
    main()
