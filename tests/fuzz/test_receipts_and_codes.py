"""Fuzzing the two small readers of the exchange: receipts and enrolment codes.

A receipt comes from the relay and is checked against the coordinator's pinned key: any
bytes give a `Receipt` for this batch and device or `ReceiptInvalid` (which sync turns
into a translated warning). An enrolment code is typed by a person: any text gives the
device key or a `UserError` saying to copy it again.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from fieldscreen.errors import UserError
from fieldscreen.exchange.enrolment import enrolment_code, read_enrolment_code
from fieldscreen.exchange.receipt import (
    MAX_RECEIPT_BYTES,
    SIGNATURE_DOMAIN,
    Receipt,
    ReceiptInvalid,
    read_receipt,
    write_receipt,
)
from fieldscreen.store.crypto import SigningKey, VerifyKey, b64
from tests.fuzz.conftest import bounded_memory, fuzz_settings, parse_or_refuse
from tests.fuzz.strategies import dump_json, mutate_bytes, mutate_text, mutate_tree, odd_text

COORDINATOR = SigningKey.generate()
DEVICE = SigningKey.generate().public.raw
BATCH_ID = "0f7d8b5e-2a47-4c1e-9a55-3c1f1d5e8b11"
NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
RECEIPT = write_receipt(COORDINATOR, batch_id=BATCH_ID, device_public_key=DEVICE,
                        records=[("a1", 1), ("b2", 3)], now=NOW)
MIB = 1024 * 1024


def read(raw: bytes) -> None:
    """The property: a Receipt for this batch and device, or ReceiptInvalid."""
    receipt = parse_or_refuse(lambda: read_receipt(
        raw, coordinator=COORDINATOR.public, batch_id=BATCH_ID, device_public_key=DEVICE),
        ReceiptInvalid)
    if isinstance(receipt, Receipt):
        assert receipt.batch_id == BATCH_ID and receipt.device_public_key == DEVICE
        for record_id, version in receipt.records:
            assert isinstance(record_id, str) and type(version) is int
        set(receipt.records)  # what accept_receipt does with them


def _inner() -> dict:
    return json.loads(base64.b64decode(json.loads(RECEIPT)["content"]))


def signed(content: bytes, key: SigningKey = COORDINATOR) -> bytes:
    return json.dumps({"format": "fieldscreen-receipt/1", "content": b64(content),
                       "signature": b64(key.sign(SIGNATURE_DOMAIN, content))}).encode()


@fuzz_settings(80)
@given(data=st.data())
def test_receipt_contents_signed_by_the_coordinator(data):
    # The coordinator's key is pinned, so only the coordinator (or its stolen key) gets
    # this far; what it signed must still be read without a crash.
    read(signed(dump_json(mutate_tree(data, _inner())).encode("utf-8")))


@fuzz_settings(40)
@given(data=st.data())
def test_altered_receipts(data):
    outer = json.loads(RECEIPT)
    if data.draw(st.booleans(), label="as a tree"):
        read(dump_json(mutate_tree(data, outer)).encode("utf-8"))
    else:
        read(mutate_bytes(data, RECEIPT))


@fuzz_settings(30)
@given(raw=st.binary(max_size=300))
def test_random_bytes_as_a_receipt(raw):
    read(raw)


def test_giant_receipts_are_refused_in_bounded_memory():
    for raw in (b"[" * MAX_RECEIPT_BYTES, b" " * (MAX_RECEIPT_BYTES + 1),
                signed(b"[" * (MAX_RECEIPT_BYTES // 2))):
        with bounded_memory(16 * MIB + 12 * len(raw)):
            read(raw)


# -- enrolment codes ------------------------------------------------------------------------------

CODE = enrolment_code(VerifyKey(DEVICE))


def read_code(text: str) -> None:
    key = parse_or_refuse(lambda: read_enrolment_code(text), UserError)
    if isinstance(key, VerifyKey):
        assert key.raw == DEVICE


@fuzz_settings(100)
@given(data=st.data())
def test_enrolment_codes_mistyped(data):
    read_code(mutate_text(data, CODE, max_mutations=4))


@fuzz_settings(60)
@given(text=st.one_of(odd_text(120), st.text(st.sampled_from(
    "FSE1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567 01890Oolıİß\u0131\ufb03\u2160"), max_size=90)))
def test_random_text_as_an_enrolment_code(text):
    read_code(text)


def test_a_giant_enrolment_code_is_refused_in_bounded_memory():
    for text in ("FSE1" + "A" * 10 * MIB, " " * 10 * MIB, "ß" * MIB):
        with bounded_memory(16 * MIB + 8 * len(text)):
            read_code(text)


# -- regressions --------------------------------------------------------------------------------


def test_a_signed_receipt_with_a_version_that_is_not_a_whole_number_is_invalid():
    # int(1e999) raised OverflowError, which sync does not catch; int(1.5) and int("2")
    # accepted versions no coordinator writes.
    for version in ("Infinity", "-Infinity", "NaN", "1.5", '"2"', "true", "1e999", "null"):
        content = json.dumps(dict(_inner(), records=[["a1", "VERSION"]])).replace(
            '"VERSION"', version).encode()
        try:
            read_receipt(signed(content), coordinator=COORDINATOR.public, batch_id=BATCH_ID,
                         device_public_key=DEVICE)
        except ReceiptInvalid:
            continue
        raise AssertionError(f"a receipt with version {version} was accepted")
