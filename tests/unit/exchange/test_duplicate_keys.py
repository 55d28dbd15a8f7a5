"""A key given twice in any exchange format is refused: receipts and packs too."""

from __future__ import annotations

import json

import pytest

from fieldscreen.exchange.pack import PackRefused, read_pack
from fieldscreen.exchange.receipt import ReceiptInvalid, read_receipt
from fieldscreen.exchange.strict_json import loads_strict
from tests.exchange_helpers import make_world


def test_loads_strict_refuses_a_key_twice_at_any_depth():
    assert loads_strict('{"a": {"b": 1}}') == {"a": {"b": 1}}
    for text in ('{"a": 1, "a": 1}', '{"a": {"b": 1, "b": 2}}', '[{"c": 0, "c": 0}]'):
        with pytest.raises(ValueError):
            loads_strict(text)


def test_a_pack_with_a_key_twice_is_refused(tmp_path):
    world = make_world(tmp_path)
    try:
        text = world.pack_raw.decode("utf-8")
        outer = json.loads(text)
        doubled = text.replace('"format":', f'"format":{json.dumps(outer["format"])},"format":',
                               1)
        assert doubled != text
        with pytest.raises(PackRefused):
            read_pack(doubled.encode("utf-8"))
    finally:
        world.close()


def test_a_receipt_with_a_key_twice_is_refused(tmp_path):
    world = make_world(tmp_path)
    try:
        batch = world.sealed_batch(1)
        world.import_bytes(batch.file)
        (receipt_path,) = world.receipts()
        text = world.device_key.open_sealed(receipt_path.read_bytes()).decode("utf-8")
        doubled = text.replace('"format":', '"format":"x","format":', 1)
        assert doubled != text
        read_receipt(text.encode(), coordinator=world.pack.signing_key,
                     batch_id=batch.batch_id, device_public_key=world.device_key.public.raw)
        with pytest.raises(ReceiptInvalid):
            read_receipt(doubled.encode(), coordinator=world.pack.signing_key,
                         batch_id=batch.batch_id,
                         device_public_key=world.device_key.public.raw)
    finally:
        world.close()
