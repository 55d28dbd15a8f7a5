"""Packs are ordered by the coordinator's counter, never by their clock (trust, finding 3).

A pack dated 2099 blocked every later genuine pack as "older".
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from fieldscreen.cli import main
from fieldscreen.exchange.pack import FIRST_PACK_FORMAT, build_pack, read_pack
from fieldscreen.store.profile import ProfileRole
from tests.conftest import SHIPPED_FORM
from tests.exchange_helpers import SHIPPED_SERVICES, make_field, make_profile
from tests.store_helpers import PASSPHRASE, FakeClock


def _pack(coordinator, *, year: int, sequence: int) -> bytes:
    return build_pack(signing_key=coordinator.coordinator_signing_key(),
                      recipient=coordinator.coordinator_identity().recipient,
                      coordinator_name="Test", form_paths=[SHIPPED_FORM],
                      services_path=SHIPPED_SERVICES, sync=None, retention_days=30,
                      demo=False, now=dt.datetime(year, 1, 1, tzinfo=dt.UTC),
                      sequence=sequence)


@pytest.fixture
def setting(tmp_path):
    clock = FakeClock()
    coordinator = make_profile(tmp_path / "coord", ProfileRole.COORDINATOR, clock=clock)
    secret = tmp_path / "secret"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    yield coordinator, clock, tmp_path, secret
    coordinator.lock()


def _update(base, secret, pack_path) -> int:
    return main(["--basedir", str(base), "--profile", "default", "profile", "update-pack",
                 str(pack_path), "--passphrase-file", str(secret)])


def test_a_pack_dated_2099_does_not_block_the_next_genuine_pack(setting, capsys):
    coordinator, clock, tmp_path, secret = setting
    future = _pack(coordinator, year=2099, sequence=1)
    base = tmp_path / "field"
    make_field(base / "data", future, clock=clock).lock()
    later = tmp_path / "later.json"
    later.write_bytes(_pack(coordinator, year=2026, sequence=2))
    assert _update(base, secret, later) == 0, capsys.readouterr().err
    earlier = tmp_path / "earlier.json"
    earlier.write_bytes(_pack(coordinator, year=2100 - 1, sequence=1))
    assert _update(base, secret, earlier) == 1
    assert "older than the one installed" in capsys.readouterr().err


def test_the_coordinator_counts_its_packs(setting):
    coordinator, _clock, _tmp, _secret = setting
    assert [coordinator.next_pack_sequence() for _ in range(3)] == [1, 2, 3]


def test_a_format_1_pack_is_still_read_and_counts_as_older(setting):
    coordinator, _clock, _tmp, _secret = setting
    current = read_pack(_pack(coordinator, year=2026, sequence=1))
    # A format-1 pack as coordinators wrote it before: no sequence, the old format name.
    outer = json.loads(_pack(coordinator, year=2030, sequence=1))
    content = json.loads(base64.b64decode(outer["content"]))
    del content["sequence"]
    from fieldscreen.exchange.pack import SIGNATURE_DOMAIN
    from fieldscreen.store.crypto import b64, canonical_json

    raw_content = canonical_json(content)
    old = json.dumps({"format": FIRST_PACK_FORMAT, "content": b64(raw_content),
                      "signature": b64(coordinator.coordinator_signing_key().sign(
                          SIGNATURE_DOMAIN, raw_content))}).encode()
    legacy = read_pack(old)
    assert legacy.sequence == 0
    assert legacy.is_older_than(current) and not current.is_older_than(legacy)
