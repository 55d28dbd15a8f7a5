"""Two consoles on one server write at the same time: they queue, and the audit chain holds."""

from __future__ import annotations

import threading

from fieldscreen.store.crypto import SigningKey
from fieldscreen.store.profile import ProfileRole, ProfileStore
from tests.exchange_helpers import PASSPHRASE, PROFILE, weak_kdf

WRITES = 15


def test_two_consoles_enrolling_at_once_keep_one_audit_chain(tmp_path, postgres_url):
    store = ProfileStore(tmp_path / "first", kdf=weak_kdf(), database=postgres_url)
    store.create(PROFILE, ProfileRole.COORDINATOR, PASSPHRASE).lock()
    consoles = [ProfileStore(tmp_path / name, kdf=weak_kdf(), database=postgres_url)
                .open(PROFILE).unlock(PASSPHRASE) for name in ("office", "district")]
    failures: list[BaseException] = []
    start = threading.Barrier(len(consoles))

    def enrol(profile, name: str) -> None:
        try:
            start.wait()
            for n in range(WRITES):
                profile.devices.enroll(SigningKey.generate().public.raw, f"{name} {n}")
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=enrol, args=(profile, name))
               for profile, name in zip(consoles, ("office", "district"), strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not failures, failures
        assert len(consoles[0].devices.list()) == 2 * WRITES
        verification = consoles[1].verify_audit()
        assert verification.holds, verification
        assert verification.entries >= 2 * WRITES
    finally:
        for profile in consoles:
            profile.lock()
