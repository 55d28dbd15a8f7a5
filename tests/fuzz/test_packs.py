"""Fuzzing deployment packs: altered bytes, and altered contents signed again.

At first install a laptop trusts whatever key signed the pack (the worker compares the
fingerprint by eye), so a pack rewritten and re-signed by anyone reaches every content
check. Any bytes give a `DeploymentPack` that the laptop can use, or `PackRefused`.
"""

from __future__ import annotations

import base64
import functools
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldscreen.exchange.pack import (
    MAX_PACK_BYTES,
    SIGNATURE_DOMAIN,
    DeploymentPack,
    PackRefused,
    read_pack,
)
from fieldscreen.store.crypto import SigningKey, VerifyKey, b64
from tests.exchange_helpers import make_world
from tests.fuzz.conftest import bounded_memory, fuzz_settings, parse_or_refuse
from tests.fuzz.strategies import dump_json, mutate_bytes, mutate_text, mutate_tree

# A key of the fuzzer's own: a stranger's re-signed pack is as good as the coordinator's
# until a profile pins one.
STRANGER = SigningKey.generate()
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def pack_raw(tmp_path_factory) -> bytes:
    world = make_world(tmp_path_factory.mktemp("pack-world"))
    try:
        return world.pack_raw
    finally:
        world.close()


@functools.cache
def _content(raw: bytes) -> dict:
    return json.loads(base64.b64decode(json.loads(raw)["content"]))


def signed(content: object, *, key: SigningKey = STRANGER, ascii_only: bool = True) -> bytes:
    if isinstance(content, dict) and isinstance(content.get("coordinator"), dict):
        content["coordinator"]["signing_key"] = b64(key.public.raw)
    body = dump_json(content, ascii_only=ascii_only).encode("utf-8", "surrogatepass")
    return json.dumps({"format": "fieldscreen-pack/1", "content": b64(body),
                       "signature": b64(key.sign(SIGNATURE_DOMAIN, body))}).encode("utf-8")


def read(raw: bytes, pinned: VerifyKey | None = None) -> None:
    """The property: a usable pack, or a clean PackRefused."""
    pack = parse_or_refuse(lambda: read_pack(raw, pinned=pinned), PackRefused)
    if isinstance(pack, DeploymentPack):
        assert pack.forms, "a pack without a form"
        pack.form()
        assert type(pack.retention_days) is int and 0 <= pack.retention_days <= 36_600
        for value in (pack.pack_id, pack.created_at, pack.coordinator_name, pack.recipient):
            assert isinstance(value, str)
        if pack.sync is not None:
            assert isinstance(pack.sync.target, str) and pack.sync.target
            for value in (pack.sync.username, pack.sync.password, pack.sync.ca_certificate):
                assert value is None or isinstance(value, str)


@fuzz_settings(80)
@given(data=st.data(), ascii_only=st.booleans())
def test_altered_contents_signed_again(pack_raw, data, ascii_only):
    content = mutate_tree(data, _content(pack_raw), max_mutations=3)
    read(signed(content, ascii_only=ascii_only))


@fuzz_settings(40)
@given(data=st.data(), part=st.sampled_from(["form", "services"]))
def test_altered_form_or_services_signed_again(pack_raw, data, part):
    content = json.loads(json.dumps(_content(pack_raw)))
    if part == "form":
        content["forms"][0]["yaml"] = mutate_text(data, content["forms"][0]["yaml"])
    else:
        content["services"] = mutate_text(data, content["services"])
    read(signed(content))


@fuzz_settings(40)
@given(data=st.data())
def test_altered_packs_are_refused_without_the_key(pack_raw, data):
    outer = json.loads(pack_raw)
    raw = (dump_json(mutate_tree(data, outer)).encode("utf-8") if data.draw(st.booleans())
           else mutate_bytes(data, pack_raw))
    pinned = VerifyKey(base64.b64decode(_content(pack_raw)["coordinator"]["signing_key"]))
    read(raw, pinned)


@fuzz_settings(30)
@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode)))
def test_random_bytes_as_a_pack(raw):
    read(raw)


def _giants(pack_raw: bytes) -> dict[str, bytes]:
    content = json.loads(json.dumps(_content(pack_raw)))
    form = content["forms"][0]
    padded = dict(content, forms=[form] * 200)
    deep: object = 0
    for _level in range(100_000):
        deep = [deep]
    return {
        "over the size limit": b" " * (MAX_PACK_BYTES + 1),
        "deeply nested outer json": b"[" * (MAX_PACK_BYTES - 1),
        "deeply nested contents": signed(dict(content, sync=deep)),
        "two hundred forms": signed(padded),
        "a form of 7 MiB": signed(dict(content, forms=[dict(form, yaml="#" * (7 * MIB))])),
    }


@pytest.mark.parametrize("name", ["over the size limit", "deeply nested outer json",
                                  "deeply nested contents", "two hundred forms",
                                  "a form of 7 MiB"])
def test_hostile_giant_packs_are_refused_in_bounded_memory_and_time(pack_raw, name):
    raw = _giants(pack_raw)[name]
    with bounded_memory(64 * MIB + 12 * len(raw)):
        read(raw)


def test_pack_fixture_is_a_real_pack(pack_raw):
    assert isinstance(read_pack(pack_raw), DeploymentPack)


# -- regressions: what the targets above found --------------------------------------------------


def _refusal(raw: bytes) -> str:
    with pytest.raises(PackRefused) as refused:
        read_pack(raw)
    return refused.value.message


def _with(pack_raw: bytes, **changes: object) -> bytes:
    return signed(dict(json.loads(json.dumps(_content(pack_raw))), **changes))


@pytest.mark.parametrize("sync", [
    {"target": "/relay", "username": ["field"]}, {"target": "/relay", "password": 1234},
    {"target": "/relay", "ca_certificate": {"pem": "x"}}, {"target": ["/relay"]},
    {"target": ""}, {"target": 5}])
def test_sync_settings_that_are_not_text_are_refused(pack_raw, sync):
    # They were kept as given, and the transport failed on them at the first sync.
    assert _refusal(_with(pack_raw, sync=sync)).endswith("its contents are incomplete")


@pytest.mark.parametrize("days", [1e999, -1e999, 1.5, True, "30", None])
def test_a_retention_that_is_not_a_whole_number_is_refused(pack_raw, days):
    # int(1e999) raised OverflowError, which read_pack did not catch.
    raw = _with(pack_raw, retention={"received_days": days})
    assert _refusal(raw).endswith("its contents are incomplete")


def test_a_retention_past_a_century_is_kept_to_a_century(pack_raw):
    # A larger one made the laptop's purge fail: now minus the retention is no date.
    assert read_pack(_with(pack_raw, retention={"received_days": 10**30})
                     ).retention_days == 36_600


@pytest.mark.parametrize("forms", [[], {}, "forms", None])
def test_a_pack_without_a_list_of_forms_is_refused(pack_raw, forms):
    # An empty list gave a pack the laptop could not screen with.
    assert _refusal(_with(pack_raw, forms=forms)).endswith("its contents are incomplete")


def test_a_form_with_a_lone_surrogate_in_a_pack_is_refused(pack_raw):
    # "\ud800" in the pack's JSON is a lone surrogate in the form's text.
    form = dict(_content(pack_raw)["forms"][0])
    form["yaml"] += "# \ud800\n"
    assert "not UTF-8" in _refusal(_with(pack_raw, forms=[form]))
