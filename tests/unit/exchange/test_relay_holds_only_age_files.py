"""What a sync and import round leaves on the relay is only age files (trust, finding 1).

Receipts used to sit on the relay as readable JSON listing every record id and version
and the device key: enough for an enrolled device to target another device's records.
"""

from __future__ import annotations

import base64
import re

from fieldscreen.exchange.sync import sync
from fieldscreen.exchange.transports import transport_for
from tests.exchange_helpers import make_world

AGE_MAGIC = b"age-encryption.org/v1\n"


def _stanza_types(data: bytes) -> set[bytes]:
    """The recipient stanza types in an age header; every grease type counts as one."""
    header = data.split(b"\n---", 1)[0]
    types = set()
    for line in header.split(b"\n")[1:]:
        if line.startswith(b"-> "):
            kind = line[3:].split(b" ", 1)[0]
            types.add(b"grease" if kind.endswith(b"-grease") else kind)
        else:
            # Stanza bodies are base64 only: no JSON, no names.
            assert re.fullmatch(rb"[A-Za-z0-9+/]*", line), line
    return types


def test_every_file_on_the_relay_is_an_age_file_that_names_nothing(tmp_path):
    world = make_world(tmp_path)
    try:
        ids = world.save(3)
        assert sync(world.field, now=world.clock).delivered_batches == 1
        report = world.importer().run([str(world.relay)], transport_for)
        assert report.count("imported") == 1
        assert sync(world.field, now=world.clock).received_records == 3
        files = sorted(path for path in world.relay.iterdir() if path.is_file())
        assert {path.suffix for path in files} == {".age", ".receipt"}
        device_key = world.device_key.public.raw
        secrets = [record_id.encode() for record_id in ids] + [
            base64.b64encode(device_key), device_key.hex().encode()]
        for path in files:
            data = path.read_bytes()
            assert data.startswith(AGE_MAGIC), path.name
            assert not any(secret in data for secret in secrets), path.name
            # The header names only recipient types; age adds a random grease stanza
            # whose arguments may be any printable bytes, so those are not inspected.
            assert _stanza_types(data) <= {b"X25519", b"ssh-ed25519", b"grease"}, path.name
            assert b"records" not in data
    finally:
        world.close()
