"""The deployment's linkage key travels in a pack only sealed to each enrolled device.

Packs are signed, not encrypted, and a child code has little entropy (two letters of each
name, a year, a sex): whoever held the key in clear could hash every combination and undo
the codes. So the key must never be in a pack file in clear; it is sealed to each
device's own key, bound to the pack and the device, and a laptop keeps it only inside its
encrypted profile. Every bad pack is refused with a clear reason before anything changes.
"""

from __future__ import annotations

import base64
import json

import pytest

from fieldscreen.errors import UserError
from fieldscreen.exchange.pack import (
    PACK_FORMAT,
    PREVIOUS_PACK_FORMAT,
    SIGNATURE_DOMAIN,
    LinkageShare,
    SyncSettings,
    build_pack,
    install_pack,
    linkage_share,
    read_pack,
)
from fieldscreen.store.crypto import SigningKey, b64, canonical_json
from fieldscreen.store.incoming import device_id_for
from fieldscreen.store.profile import LINKAGE_KEY, ProfileRole
from tests.exchange_helpers import SHIPPED_FORM, SHIPPED_SERVICES, make_profile, make_world


def _pack(world, *, linkage: LinkageShare | None, sequence: int = 2,
          signing_key: SigningKey | None = None) -> bytes:
    return build_pack(
        signing_key=signing_key or world.coordinator.coordinator_signing_key(),
        recipient=world.recipient, coordinator_name="Test coordinator",
        form_paths=[SHIPPED_FORM], services_path=SHIPPED_SERVICES,
        sync=SyncSettings(str(world.relay)), retention_days=30, demo=False,
        now=world.clock(), sequence=sequence, linkage=linkage)


def _resigned(world, raw: bytes, change) -> bytes:
    """The pack with its content changed by `change` and signed again by its coordinator
    (what only the coordinator could make: tests what the envelope itself checks)."""
    outer = json.loads(raw)
    content = json.loads(base64.b64decode(outer["content"]))
    change(content)
    body = canonical_json(content)
    key = world.coordinator.coordinator_signing_key()
    return json.dumps({"format": outer["format"], "content": b64(body),
                       "signature": b64(key.sign(SIGNATURE_DOMAIN, body))}).encode()


def _state(profile) -> tuple[bytes | None, bytes | None]:
    return profile.installed_pack(), profile.linkage_key()


def test_the_key_is_made_once_and_kept_in_the_coordinators_profile(world):
    key = world.coordinator.coordinator_linkage_key()
    assert len(key) == 32
    assert world.coordinator.coordinator_linkage_key() == key
    assert world.coordinator.secret(LINKAGE_KEY) == key
    assert [e.action for e in world.coordinator.audit_entries()].count(
        "linkage.key_created") == 1
    with pytest.raises(UserError):
        world.field.coordinator_linkage_key()  # a field laptop never makes one


def test_an_enrolled_laptop_opens_its_envelope_and_keeps_the_key(world):
    key = world.coordinator.coordinator_linkage_key()
    raw = _pack(world, linkage=linkage_share(world.coordinator))
    assert json.loads(raw)["format"] == PACK_FORMAT
    assert world.field.linkage_key() is None
    installed = install_pack(world.field, raw)
    assert installed.linkage
    assert world.field.linkage_key() == key
    assert world.field.installed_pack() == raw


def test_the_key_is_never_in_clear_in_the_pack_file(world):
    key = world.coordinator.coordinator_linkage_key()
    raw = _pack(world, linkage=linkage_share(world.coordinator))
    content = base64.b64decode(json.loads(raw)["content"])
    for encoded in (key, key.hex().encode(), b64(key).encode(),
                    base64.urlsafe_b64encode(key).rstrip(b"=")):
        assert encoded not in raw
        assert encoded not in content
    # ...and the pack does hold an envelope for the laptop (so the test can fail).
    device = device_id_for(world.device_key.public.raw)
    assert device in read_pack(raw).envelopes


def test_a_pack_without_an_envelope_for_this_laptop_installs_without_linkage(world):
    world.coordinator.coordinator_linkage_key()
    install_pack(world.field, _pack(world, linkage=linkage_share(world.coordinator)))
    other = SigningKey.generate().public
    only_other = LinkageShare(world.coordinator.coordinator_linkage_key(),
                              ((device_id_for(other.raw), other.raw),))
    installed = install_pack(world.field, _pack(world, linkage=only_other, sequence=3))
    assert not installed.linkage
    assert world.field.linkage_key() is None  # the installed pack says: no child codes


def test_a_previous_format_pack_still_installs_without_linkage(world):
    raw = _pack(world, linkage=None)
    legacy = _resigned(world, raw, lambda content: content.pop("linkage"))
    outer = json.loads(legacy)
    outer["format"] = PREVIOUS_PACK_FORMAT
    legacy = json.dumps(outer).encode()
    assert read_pack(legacy).sequence == 2
    assert not install_pack(world.field, legacy).linkage


@pytest.mark.parametrize("with_key", [False, True])
def test_the_cli_says_when_a_pack_brings_no_linkage(world, tmp_path, capsys, with_key):
    from fieldscreen.cli import main
    from tests.exchange_helpers import PASSPHRASE

    path = tmp_path / "pack.json"
    path.write_bytes(_pack(world, linkage=linkage_share(world.coordinator) if with_key
                           else None))
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
    code = main(["--basedir", str(world.root / "field"), "profile", "update-pack",
                 str(path), "--passphrase-file", str(secret)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert ("no linkage key" in err) is not with_key
    assert (world.field.linkage_key() is not None) is with_key


# -- refusals: nothing installed, nothing changed ------------------------------------------


def _refused(world, raw: bytes, expected: str) -> None:
    before = _state(world.field)
    with pytest.raises(UserError) as refusal:
        install_pack(world.field, raw)
    assert expected in refusal.value.message
    assert "Traceback" not in refusal.value.message
    assert _state(world.field) == before


@pytest.fixture
def linked(world):
    """The laptop with a pack (sequence 2) that brought the key, and the key."""
    key = world.coordinator.coordinator_linkage_key()
    install_pack(world.field, _pack(world, linkage=linkage_share(world.coordinator)))
    return world, key


def test_flipped_bytes_anywhere_are_refused(linked):
    world, key = linked
    raw = _pack(world, linkage=linkage_share(world.coordinator), sequence=3)
    envelope_at = raw.index(b'"content"') + 40
    for position in (5, envelope_at, len(raw) // 2, len(raw) - 30):
        damaged = bytearray(raw)
        damaged[position] ^= 0x04
        _refused(world, bytes(damaged), "cannot be used")
    assert world.field.linkage_key() == key


def test_a_truncated_pack_is_refused(linked):
    world, key = linked
    raw = _pack(world, linkage=linkage_share(world.coordinator), sequence=3)
    for length in (0, 10, len(raw) // 3, len(raw) - 2):
        _refused(world, raw[:length], "cannot be used")
    assert world.field.linkage_key() == key


def test_an_oversized_pack_is_refused_before_parsing(linked, monkeypatch):
    world, _key = linked
    import fieldscreen.exchange.pack as pack_module

    parse = pack_module.loads_strict

    def never(text, *args, **kwargs):
        assert len(text) <= pack_module.MAX_PACK_BYTES, "parsed an oversized pack"
        return parse(text, *args, **kwargs)

    monkeypatch.setattr(pack_module, "loads_strict", never)
    _refused(world, b"{" + b" " * (pack_module.MAX_PACK_BYTES + 1), "larger than")


def test_an_envelope_sealed_to_another_device_is_refused(linked):
    world, key = linked
    me = device_id_for(world.device_key.public.raw)
    other = SigningKey.generate().public
    raw = _pack(world, linkage=LinkageShare(key, ((device_id_for(other.raw), other.raw),)),
                sequence=3)
    theirs = json.loads(base64.b64decode(json.loads(raw)["content"]))["linkage"]

    def swapped(content):  # the other device's envelope filed under this laptop's id
        content["linkage"] = {"envelopes": [{"device": me,
                                             "sealed": theirs["envelopes"][0]["sealed"]}]}
    _refused(world, _resigned(world, raw, swapped), "does not open with this laptop")


def test_an_envelope_moved_from_another_pack_is_refused(linked):
    world, _key = linked
    earlier = _pack(world, linkage=linkage_share(world.coordinator), sequence=3)
    later = _pack(world, linkage=linkage_share(world.coordinator), sequence=4)
    old_linkage = json.loads(base64.b64decode(json.loads(earlier)["content"]))["linkage"]

    def moved(content):  # bound to the earlier pack's id
        content["linkage"] = old_linkage
    _refused(world, _resigned(world, later, moved), "does not open with this laptop")


@pytest.mark.parametrize("linkage", [
    "key", [], {"envelopes": "x"}, {"envelopes": [], "key": "x"},
    {"envelopes": [{"device": "zz" * 8, "sealed": "AAAA"}]},
    {"envelopes": [{"device": "ab" * 8, "sealed": "A" * 5000}]},
    {"envelopes": [{"device": "ab" * 8, "sealed": "AAAA"},
                   {"device": "ab" * 8, "sealed": "AAAA"}]},
    {"envelopes": [{"device": "ab" * 8, "sealed": "AAAA", "key": "x"}]},
])
def test_a_malformed_linkage_section_is_refused(linked, linkage):
    world, _key = linked
    raw = _pack(world, linkage=None, sequence=3)

    def malformed(content):
        content["linkage"] = linkage
    _refused(world, _resigned(world, raw, malformed), "incomplete")


def test_a_pack_from_an_unknown_sender_is_refused(linked, tmp_path):
    world, _key = linked
    stranger = make_profile(tmp_path / "stranger", ProfileRole.COORDINATOR, clock=world.clock)
    try:
        raw = _pack(world, linkage=linkage_share(world.coordinator), sequence=9,
                    signing_key=stranger.coordinator_signing_key())
    finally:
        stranger.lock()
    _refused(world, raw, "different coordinator")


def test_a_replayed_older_pack_is_refused(linked):
    world, _key = linked
    newer = _pack(world, linkage=None, sequence=5)
    older = _pack(world, linkage=linkage_share(world.coordinator), sequence=4)
    install_pack(world.field, newer)
    assert world.field.linkage_key() is None
    _refused(world, older, "older than the one installed")
    assert world.field.linkage_key() is None


def test_a_failed_install_leaves_pack_and_key_as_they_were(linked, monkeypatch):
    world, _key = linked
    before = _state(world.field)
    raw = _pack(world, linkage=None, sequence=3)
    import fieldscreen.store.profile as profile_module

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(profile_module.RecoverySlot, "create", broken)
    with pytest.raises(OSError):
        install_pack(world.field, raw)
    assert _state(world.field) == before


def test_coordinator_pack_seals_the_key_only_when_child_codes_are_asked_for(tmp_path, capsys):
    from fieldscreen.cli import main
    from fieldscreen.exchange.pack import open_linkage_key, read_pack
    from tests.exchange_helpers import PASSPHRASE

    world = make_world(tmp_path / "world")
    try:
        world.coordinator.lock()
        secret = tmp_path / "secret"
        secret.write_text(PASSPHRASE + "\n", encoding="utf-8")
        base = ["--basedir", str(world.coordinator_base), "coordinator", "pack",
                "--passphrase-file", str(secret), "-o"]
        assert main([*base, str(tmp_path / "plain.fspack")]) == 0
        plain = read_pack((tmp_path / "plain.fspack").read_bytes())
        assert open_linkage_key(plain, world.device_key) is None
        assert main([*base, str(tmp_path / "codes.fspack"), "--child-codes"]) == 0
        assert "sealed to 1 enrolled laptop" in capsys.readouterr().err
        coded = read_pack((tmp_path / "codes.fspack").read_bytes())
        assert open_linkage_key(coded, world.device_key) is not None
    finally:
        world.close()
