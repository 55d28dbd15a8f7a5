"""A signed receipt listing none of a batch's records must not close that batch for good."""

from __future__ import annotations

import datetime as dt

from fieldscreen.exchange.receipt import receipt_file_name, write_receipt
from fieldscreen.exchange.sync import sync
from tests.exchange_helpers import make_world
from tests.store_helpers import raw_connection


def _statuses(world) -> dict[str, str]:
    with raw_connection(world.field.database_path) as connection:
        return dict(connection.execute("SELECT id, status FROM records").fetchall())


def test_records_left_out_of_a_receipt_are_sent_again(tmp_path):
    world = make_world(tmp_path)
    try:
        ids = world.save(3)
        first = sync(world.field, now=world.clock)
        assert first.delivered_batches == 1
        (batch,) = world.field.outbox.awaiting_receipt()
        # A genuine signature over a receipt that confirms nothing.
        empty = write_receipt(world.coordinator.coordinator_signing_key(),
                              batch_id=batch.batch_id,
                              device_public_key=world.device_key.public.raw, records=[],
                              now=dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC))
        (world.relay / receipt_file_name(batch.batch_id)).write_bytes(empty)
        second = sync(world.field, now=world.clock)
        assert second.received_records == 0
        assert any("will be sent again" in warning for warning in second.warnings)
        # Back to final, then sealed and delivered in a new batch.
        third = sync(world.field, now=world.clock)
        assert third.sealed_records == 3 and third.delivered_batches == 1
        assert set(_statuses(world).values()) == {"sealed"} and set(_statuses(world)) == set(ids)
    finally:
        world.close()
