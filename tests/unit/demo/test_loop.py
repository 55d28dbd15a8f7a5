"""The training deployment: demo batches reach a demo coordinator, never a real one."""

from __future__ import annotations

from fieldscreen.demo.loop import TRAINING_COORDINATOR, seed_training_deployment
from fieldscreen.exchange.importer import BatchImporter
from fieldscreen.exchange.transports import transport_for
from fieldscreen.reporting.dashboard import disaggregate
from fieldscreen.reporting.facts import build_facts
from fieldscreen.store.profile import ProfileStore
from tests.exchange_helpers import FakeClock, make_world, weak_kdf

PASSPHRASE = "training sandbox passphrase"


def test_training_batches_import_into_the_training_console_only(tmp_path):
    clock = FakeClock()
    data, relay = tmp_path / "data", tmp_path / "relay"
    saved = seed_training_deployment(data, relay, PASSPHRASE, kdf=weak_kdf(), clock=clock)
    assert saved >= 24  # every shipped scenario, twice
    assert seed_training_deployment(data, relay, PASSPHRASE, kdf=weak_kdf()) == 0
    batches = sorted(relay.glob("fieldscreen-batch-*.age"))
    assert batches

    coordinator = ProfileStore(data, clock=clock).open(TRAINING_COORDINATOR).unlock(PASSPHRASE)
    try:
        report = BatchImporter(coordinator, tmp_path / "q", clock).run([str(relay)],
                                                                         transport_for)
        assert report.quarantined == 0
        assert report.to_json()["records"]["imported"] == saved
        records = coordinator.inbox.records()
        assert records and all(record.demo for record in records)
        assert coordinator.referrals.cases()  # the scenarios include urgent cases
        counts = disaggregate(build_facts(coordinator.inbox.summaries()))
        assert counts.total == saved
    finally:
        coordinator.lock()

    real = make_world(tmp_path / "real")
    outcome = real.import_bytes(batches[0].read_bytes(), str(batches[0]))
    assert outcome.status == "quarantined"
    assert real.coordinator.inbox.records() == []
