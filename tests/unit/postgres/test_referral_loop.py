"""The referral loop of the command line (tests/unit/referrals/test_referral_cli.py) with the
coordinator's profile on PostgreSQL: partners, referrals, their updates, the quarantine and
the withdrawal go through the same SQL on the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exchange_helpers import PASSPHRASE, make_world
from tests.unit.referrals import test_referral_cli as on_sqlite


@pytest.fixture
def sites(tmp_path: Path, postgres_url: str):
    world = make_world(tmp_path, database=postgres_url)
    world.import_bytes(world.sealed_batch(12).file)
    record_id = world.coordinator.referrals.cases()[0].record_id
    world.close()
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    coordinator = ["--basedir", str(world.coordinator_base), "--database", postgres_url]
    partner = ["--basedir", str(tmp_path / "partner"), "--profile", "shelter"]
    outbox = tmp_path / "to-send"
    outbox.mkdir()
    return world, record_id, coordinator, partner, ["--passphrase-file", str(secret)], outbox


def test_the_referral_loop_with_the_coordinator_on_postgresql(capsys, sites):
    on_sqlite.test_the_referral_loop_from_the_command_line(capsys, sites)


def test_withdrawal_with_the_coordinator_on_postgresql(capsys, sites):
    on_sqlite.test_withdrawal_fhir_view_and_the_stock_age_tool_from_the_command_line(
        capsys, sites)
