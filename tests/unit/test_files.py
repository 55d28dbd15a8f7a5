"""Durable file writes: a write killed half-way leaves nothing behind for long."""

from __future__ import annotations

from fieldscreen.files import write_atomically


def test_a_write_removes_temporaries_an_earlier_killed_write_left(tmp_path):
    target = tmp_path / "export.csv"
    stale = tmp_path / ".export.csv.0123456789abcdef.part"
    stale.write_bytes(b"half a file")
    other = tmp_path / ".other.csv.0123.part"  # another file's temporary is not touched
    other.write_bytes(b"x")
    write_atomically(target, b"whole file")
    assert target.read_bytes() == b"whole file"
    assert not stale.exists() and other.exists()
