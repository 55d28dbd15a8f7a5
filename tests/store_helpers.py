"""Shared helpers for the encrypted-store tests: weak Argon2id, a settable clock, byte searches.

The store's real key derivation is calibrated to about half a second; these helpers build
profiles with the weakest parameters the store accepts so that unit tests stay fast. The
parameters are stored in the profile's key slot, so a child process or the CLI that unlocks
such a profile is fast too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from fieldscreen.store.crypto import KdfParameters, b64
from fieldscreen.store.profile import DATABASE_FILE, ProfileRole, ProfileStore, UnlockedProfile
from tests.conftest import DATA

ANSWERS = DATA / "answers"

# A name nobody else uses, so any occurrence in a file or log came from the test.
CHILD_NAME = "Zuleikha Testchild"
# A second one with letters outside ASCII, so escaped JSON (`\u015f`) would be caught too.
CHILD_NAME_2 = "Ayşe Çocukgül"

PASSPHRASE = "correct horse battery staple"
OTHER_PASSPHRASE = "tulip orbit lantern seventeen"
THIRD_PASSPHRASE = "granite willow comet harbour"
PROFILE = "field1"
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def weak_kdf() -> KdfParameters:
    """The cheapest Argon2id parameters the store accepts (about 10 ms)."""
    return KdfParameters(b64(os.urandom(16)), iterations=1, lanes=1, memory_kib=8 * 1024)


class FakeClock:
    """An aware clock that moves only when told to (unlock delays are tested with it)."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def new_store(data_dir: Path, clock: FakeClock | None = None) -> ProfileStore:
    return ProfileStore(data_dir, clock=clock or FakeClock(), kdf=weak_kdf())


def create_profile(data_dir: Path, *, name: str = PROFILE, clock: FakeClock | None = None,
                   passphrase: str = PASSPHRASE, role: ProfileRole = ProfileRole.FIELD,
                   recovery_recipient: str | None = None,
                   ) -> tuple[ProfileStore, UnlockedProfile]:
    """A new profile with weak key derivation, returned unlocked with its store."""
    store = new_store(data_dir, clock)
    profile = store.create(name, role, passphrase, recovery_recipient=recovery_recipient)
    return store, profile


def database_path(data_dir: Path, name: str = PROFILE) -> Path:
    return data_dir / "profiles" / name / DATABASE_FILE


def raw_connection(path: Path) -> closing[sqlite3.Connection]:
    """A plain sqlite3 connection in autocommit mode, as someone editing the file would use."""
    return closing(sqlite3.connect(path, isolation_level=None))


def load_answers(name: str) -> dict[str, Any]:
    return json.loads((ANSWERS / name).read_text(encoding="utf-8"))


def answers_with_note(note: str, base: str = "urgent.json") -> dict[str, Any]:
    """A complete answer set for the shipped form whose free-text note says `note`."""
    answers = load_answers(base)
    answers["worker_note"] = note
    return answers


# -- searching bytes for a child's name ------------------------------------------------------


def encodings(text: str) -> dict[str, bytes]:
    """The ways `text` could sit in a file: UTF-8, UTF-16 both ways, JSON with escapes."""
    forms = {
        "utf-8": text.encode("utf-8"),
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
    }
    escaped = json.dumps(text, ensure_ascii=True)[1:-1].encode("ascii")
    if escaped != forms["utf-8"]:
        forms["json-escaped"] = escaped
    return forms


def found_in(data: bytes, texts: Iterable[str]) -> list[str]:
    """Which of `texts` (in which encoding) occur in `data`, as 'text (encoding)'."""
    return [f"{text!r} ({encoding})" for text in texts
            for encoding, needle in encodings(text).items() if needle in data]


def walk_files(root: Path) -> Iterator[Path]:
    for folder, _dirs, files in os.walk(root):
        for file in files:
            yield Path(folder) / file


def files_containing(root: Path, texts: Iterable[str]) -> list[str]:
    """Every file under `root` holding one of `texts`, as 'path: text (encoding)'."""
    texts = list(texts)
    hits = []
    for path in walk_files(root):
        if path.is_symlink() or not path.is_file():
            continue
        for hit in found_in(path.read_bytes(), texts):
            hits.append(f"{path.relative_to(root)}: {hit}")
    return hits


def bytes_containing(root: Path, needles: dict[str, bytes]) -> list[str]:
    """Every file under `root` holding one of the raw byte strings in `needles`."""
    hits = []
    for path in walk_files(root):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits.extend(f"{path.relative_to(root)}: {label}"
                        for label, needle in needles.items() if needle in data)
    return hits
