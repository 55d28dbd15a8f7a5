"""Tar tricks inside a batch are refused before anything is expanded.

A 3 KiB batch whose first member was a GNU sparse file expanded to about 190 MiB in memory
before the batch was refused (the tar is read before the signature can be checked).
"""

from __future__ import annotations

import io
import tarfile
import tracemalloc

import pytest

from fieldscreen.exchange.batch import MEMBERS, RefusalCode
from fieldscreen.store.crypto import age_encrypt
from tests.exchange_helpers import make_world, tar_bytes

# Under the 64 MiB entry limit, so only refusing the member kind keeps it unexpanded.
EXPANDED = 60 * 1024 * 1024


def _octal(value: int, width: int) -> bytes:
    return f"{value:0{width - 1}o}".encode("ascii") + b"\0"


def _sparse_member(name: str, realsize: int) -> bytes:
    """A GNU sparse member: one byte stored, `realsize` bytes when expanded."""
    info = tarfile.TarInfo(name)
    info.size = 1
    info.type = tarfile.GNUTYPE_SPARSE
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    # The GNU sparse map: one data block of one byte at the very end of the file.
    header[386:398] = _octal(realsize - 1, 12)
    header[398:410] = _octal(1, 12)
    header[482] = 0  # no extended sparse headers
    header[483:495] = _octal(realsize, 12)
    header[148:156] = b" " * 8
    checksum = sum(header[:512])
    header[148:156] = f"{checksum:06o}".encode("ascii") + b"\0 "
    return bytes(header[:512]) + b"x" + b"\0" * 511


def _sparse_archive() -> bytes:
    rest = tar_bytes([(MEMBERS[1], b"sig"), (MEMBERS[2], b"")])
    return _sparse_member(MEMBERS[0], EXPANDED) + rest


@pytest.fixture
def world(tmp_path):
    world = make_world(tmp_path)
    yield world
    world.close()


def test_a_sparse_member_is_refused_without_being_expanded(world):
    archive = _sparse_archive()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:  # the trick is real
        first = tar.next()
        assert first is not None and first.issparse() and first.size == EXPANDED
    data = age_encrypt(archive, world.recipient)
    assert len(data) < 16 * 1024
    tracemalloc.start()
    try:
        outcome = world.import_bytes(data)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.status == "quarantined" and outcome.code == RefusalCode.BAD_ARCHIVE
    # The worst case stays near the size of the file, nowhere near the 60 MiB it claims.
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_a_member_claiming_more_bytes_than_the_archive_holds_is_refused(world):
    archive = bytearray(tar_bytes([(MEMBERS[0], b"{}"), (MEMBERS[1], b"s"),
                                   (MEMBERS[2], b"")]))
    archive[124:136] = _octal(50 * 1024 * 1024, 12)  # the first member's size field
    archive[148:156] = b" " * 8
    archive[148:156] = f"{sum(archive[:512]):06o}".encode("ascii") + b"\0 "
    outcome = world.import_bytes(age_encrypt(bytes(archive), world.recipient))
    assert outcome.status == "quarantined" and outcome.code == RefusalCode.BAD_ARCHIVE
