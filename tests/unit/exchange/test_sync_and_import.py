"""Importing many batches with checks in a second process gives the same result as one by one."""

from __future__ import annotations

from fieldscreen.exchange.transports import FolderTransport
from tests.exchange_helpers import make_world


def test_pipelined_import_matches_one_by_one(tmp_path):
    world = make_world(tmp_path)
    try:
        good = []
        for _round in range(3):
            world.save(2)
            good.extend(batch.file for batch in world.seal())
        garbage = b"age-encryption.org/v1\n" + b"\x00" * 200
        items = [(good[0], "b0.age"), (garbage, "bad.age"), (good[1], "b1.age"),
                 (good[0], "b0-again.age"), (good[2], "b2.age")]
        relay = FolderTransport(world.relay)
        outcomes = list(world.importer().import_many(
            (data, source, relay) for data, source in items))
        assert [o.status for o in outcomes] == [
            "imported", "quarantined", "imported", "duplicate", "imported"]
        assert outcomes[1].code == "undecryptable"
        assert len(world.coordinator.inbox.records()) == 6
        assert len(world.receipts()) == 3
    finally:
        world.close()
