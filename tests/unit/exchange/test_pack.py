"""Deployment packs, enrolment codes and the exported coordinator identity.

A deployment pack is how a field laptop learns whom to trust: the coordinator's age
recipient (where its records go) and signing key (whose receipts and form updates count).
So a pack must round-trip exactly, any change to it must be refused with a message a
worker can act on, and a later pack must come from the coordinator the profile already
trusts. Enrolment codes carry a device key the other way, read aloud or typed; their
checksum must catch typing mistakes. The exported identity must be a file the stock `age`
tool reads, written so that it cannot overwrite anything or be read by other users.

The CLI tests run against profiles made through the API with weak key derivation (see
tests/exchange_helpers.py), so no test pays for a calibrated Argon2id.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import stat
import subprocess
import uuid

import pytest

from fieldscreen.cli import main
from fieldscreen.errors import UserError
from fieldscreen.exchange.enrolment import PREFIX, enrolment_code, read_enrolment_code
from fieldscreen.exchange.pack import SIGNATURE_DOMAIN as PACK_DOMAIN
from fieldscreen.exchange.pack import PackRefused, SyncSettings, build_pack, read_pack
from fieldscreen.forms.services import read_services
from fieldscreen.forms.yamlsource import parse_yaml
from fieldscreen.store.crypto import AgeIdentity, SigningKey, b64, canonical_json
from fieldscreen.store.profile import ProfileStore
from tests.exchange_helpers import (
    MEMBERS,
    PASSPHRASE,
    SHIPPED_FORM,
    SHIPPED_SERVICES,
    FakeClock,
    make_pack,
    make_world,
    shipped_form,
    untar,
)

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@pytest.fixture
def passphrase_file(tmp_path):
    path = tmp_path / "pass.txt"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


def _content(raw: bytes) -> tuple[dict, dict]:
    """(outer JSON, decoded signed content) of a pack."""
    outer = json.loads(raw)
    return outer, json.loads(base64.b64decode(outer["content"]))


def _with_content(outer: dict, content_bytes: bytes) -> bytes:
    """The pack with new content and the OLD signature (nobody re-signed it)."""
    return json.dumps({**outer, "content": b64(content_bytes)}, indent=1).encode("utf-8")


# -- round trip -------------------------------------------------------------------------------


def test_pack_round_trips(world):
    raw = build_pack(
        signing_key=world.coordinator.coordinator_signing_key(), recipient=world.recipient,
        coordinator_name="North region", form_paths=[SHIPPED_FORM],
        services_path=SHIPPED_SERVICES,
        sync=SyncSettings("https://dav.example.org/fieldscreen/", "field", "s3cret",
                          "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
        retention_days=14, demo=False, now=world.clock())

    pack = read_pack(raw)

    assert pack.recipient == world.recipient
    assert pack.signing_key == world.coordinator.coordinator_signing_key().public
    assert pack.coordinator_name == "North region"
    # The same form, item for item (only where it was read from differs).
    assert [dataclasses.replace(form, source=None) for form in pack.forms] == [
        dataclasses.replace(shipped_form(), source=None)]
    assert pack.form_sources == (SHIPPED_FORM.read_text(encoding="utf-8"),)
    services_text = SHIPPED_SERVICES.read_text(encoding="utf-8")
    assert pack.services_source == services_text
    assert pack.services == read_services(parse_yaml(services_text, "x"), "x")
    assert pack.sync == SyncSettings("https://dav.example.org/fieldscreen/", "field",
                                     "s3cret", "-----BEGIN CERTIFICATE-----\nMIIB\n"
                                     "-----END CERTIFICATE-----\n")
    assert (pack.retention_days, pack.demo) == (14, False)
    # What the field profile keeps is the pack itself, unchanged.
    assert world.field.installed_pack() == world.pack_raw
    assert read_pack(world.field.installed_pack()).sync.target == str(world.relay)


# -- tampering --------------------------------------------------------------------------------


def _tampered(kind: str, raw: bytes) -> bytes:
    outer, content = _content(raw)
    if kind == "form_character":
        # One character of the form's YAML: e.g. a red flag's weight or a label.
        text = content["forms"][0]["yaml"]
        at = text.index("title:")
        content["forms"][0]["yaml"] = text[:at] + "T" + text[at + 1:]
        return _with_content(outer, canonical_json(content))
    if kind == "signature_byte":
        signature = bytearray(base64.b64decode(outer["signature"]))
        signature[10] ^= 0x01
        return json.dumps({**outer, "signature": b64(bytes(signature))}).encode("utf-8")
    if kind == "signing_key":  # another coordinator's key swapped in, not re-signed
        content["coordinator"]["signing_key"] = b64(SigningKey.generate().public.raw)
        return _with_content(outer, canonical_json(content))
    # "age_recipient": records would be sealed for someone else: the worst change of all.
    content["coordinator"]["age_recipient"] = AgeIdentity.generate().recipient
    return _with_content(outer, canonical_json(content))


TAMPERINGS = ["form_character", "signature_byte", "signing_key", "age_recipient"]


@pytest.mark.parametrize("kind", TAMPERINGS)
def test_tampered_pack_is_refused(world, kind):
    with pytest.raises(PackRefused) as refused:
        read_pack(_tampered(kind, world.pack_raw))
    assert refused.value.message == ("This deployment pack cannot be used: its signature does "
                                     "not match (it was altered)")
    assert refused.value.hint == "Ask your coordinator for a fresh copy of the pack."


@pytest.mark.parametrize("kind", TAMPERINGS)
def test_cli_profile_create_from_a_tampered_pack_fails_and_creates_nothing(
        world, kind, tmp_path, passphrase_file, capsys):
    pack_file = tmp_path / "pack.json"
    pack_file.write_bytes(_tampered(kind, world.pack_raw))
    base = tmp_path / "laptop"

    code = main(["--basedir", str(base), "profile", "create", "--role", "field",
                 "--pack", str(pack_file), "--passphrase-file", str(passphrase_file)])

    assert code == 1
    err = capsys.readouterr().err
    assert "This deployment pack cannot be used: its signature does not match" in err
    assert "Traceback" not in err
    assert ProfileStore(base / "data").names() == []
    assert not (base / "data" / "profiles").exists()


@pytest.mark.parametrize("retention", [None, [], "30"], ids=["null", "list", "string"])
def test_malformed_pack_signed_with_its_own_key_is_refused_not_a_crash(world, retention):
    # At first install any key is trusted (the worker compares the fingerprint), so a pack
    # someone rewrote and re-signed with their own key reaches the content checks. A
    # malformed field must be a PackRefused ("its contents are incomplete"), as read_pack
    # documents, not an AttributeError that the CLI reports as a bug.
    outer, content = _content(world.pack_raw)
    stranger = SigningKey.generate()
    content["coordinator"]["signing_key"] = b64(stranger.public.raw)
    content["coordinators"][0]["signing_key"] = b64(stranger.public.raw)
    content["retention"] = retention
    signed = canonical_json(content)
    raw = json.dumps({**outer, "content": b64(signed),
                      "signature": b64(stranger.sign(PACK_DOMAIN, signed))}).encode("utf-8")

    with pytest.raises(PackRefused) as refused:
        read_pack(raw)

    assert "its contents are incomplete" in refused.value.message


def test_pack_that_is_not_a_pack_is_refused():
    for raw in (b"", b"{}", b"\xff\xfe", json.dumps({"format": "fieldscreen-pack/1"}).encode()):
        with pytest.raises(PackRefused, match="not a FieldScreen deployment pack"):
            read_pack(raw)


# -- updates ----------------------------------------------------------------------------------


def _form_version(tmp_path, version: str):
    path = tmp_path / f"child-screening-{version}.yaml"
    text = SHIPPED_FORM.read_text(encoding="utf-8")
    shipped = shipped_form().version
    path.write_text(text.replace(f'version: "{shipped}"', f'version: "{version}"', 1),
                    encoding="utf-8")
    return path


def test_update_signed_by_another_coordinator_is_refused(world, tmp_path):
    # A complete, validly signed pack, only from someone else: trusted on its own, refused
    # as an update of a profile that already trusts our coordinator.
    other = make_world(tmp_path / "other")
    try:
        foreign = make_pack(other.coordinator, relay=None, clock=world.clock,
                            form_paths=[_form_version(tmp_path, "2026.12.0")])
    finally:
        other.close()
    assert read_pack(foreign).signing_key != world.pack.signing_key
    pinned = read_pack(world.field.installed_pack()).signing_key

    with pytest.raises(PackRefused) as refused:
        read_pack(foreign, pinned=pinned)

    assert "signed by a different coordinator" in refused.value.message
    assert pinned.fingerprint() in refused.value.message
    assert world.field.installed_pack() == world.pack_raw


def test_cli_update_pack_from_another_coordinator_fails_and_keeps_the_old_pack(
        world, tmp_path, passphrase_file, capsys):
    other = make_world(tmp_path / "other")
    try:
        foreign = make_pack(other.coordinator, relay=None, clock=world.clock)
    finally:
        other.close()
    pack_file = tmp_path / "update.json"
    pack_file.write_bytes(foreign)

    code = main(["--basedir", str(world.root / "field"), "profile", "update-pack",
                 str(pack_file), "--passphrase-file", str(passphrase_file)])

    assert code == 1
    assert "signed by a different coordinator" in capsys.readouterr().err
    assert world.field.installed_pack() == world.pack_raw


def test_update_from_the_same_coordinator_with_a_new_form_version_installs(world, tmp_path):
    update = make_pack(world.coordinator, relay=world.relay, clock=FakeClock(),
                       form_paths=[_form_version(tmp_path, "2026.12.0")])
    pinned = read_pack(world.field.installed_pack()).signing_key

    pack = read_pack(update, pinned=pinned)
    world.field.install_pack(update, pack.recipient)

    installed = read_pack(world.field.installed_pack(), pinned=pinned)
    assert [(form.id, form.version) for form in installed.forms] == [
        ("child-screening", "2026.12.0")]
    assert installed.recipient == world.recipient


# -- enrolment codes --------------------------------------------------------------------------


@pytest.fixture
def device_key():
    return SigningKey.generate().public


def test_enrolment_code_round_trips(device_key):
    code = enrolment_code(device_key)
    assert code.startswith(PREFIX + "-")
    assert all(len(group) <= 6 for group in code.split("-")[1:])
    assert set(code.replace("-", "")) <= set(BASE32 + PREFIX)
    assert read_enrolment_code(code) == device_key


def test_every_one_character_typo_is_caught_or_harmless(device_key):
    # Every substitution of every character by every base32 letter or digit: the checksum
    # must report it, unless the changed bits are padding and the key read is the same.
    code = enrolment_code(device_key)
    harmless = 0
    for index, original in enumerate(code):
        if index < len(PREFIX) or original == "-":
            continue
        for typo in BASE32.replace(original, ""):
            mistyped = code[:index] + typo + code[index + 1:]
            try:
                key = read_enrolment_code(mistyped)
            except UserError as error:
                assert error.message == ("The enrolment code has a typing mistake; copy it "
                                         "again."), mistyped
                continue
            assert key == device_key, f"{mistyped} reads as another key"
            harmless += 1
    # Only the last character carries padding bits (36 bytes = 288 bits in 58 characters).
    assert harmless <= 3


def test_a_digit_that_base32_lacks_is_reported_as_a_typing_mistake(device_key):
    # Typing 0 for O or 1 for I is the most likely mistake of all. The code still has the
    # right length, so "wrong length" would send the person looking for a missing
    # character; it must be called what it is, like every other one-character typo.
    code = enrolment_code(device_key)
    index = len(PREFIX) + 1
    messages = {}
    for typo in "0189":
        with pytest.raises(UserError) as error:
            read_enrolment_code(code[:index] + typo + code[index + 1:])
        messages[typo] = error.value.message
    assert messages == dict.fromkeys(
        "0189", "The enrolment code has a typing mistake; copy it again.")


def test_enrolment_code_accepts_lower_case_and_spaces(device_key):
    code = enrolment_code(device_key)
    for variant in (code.lower(), code.replace("-", " "), code.replace("-", ""),
                    "  " + code.lower().replace("-", " \n ") + "\n"):
        assert read_enrolment_code(variant) == device_key, variant


@pytest.mark.parametrize("prefix", ["FSE2", "XXXX", ""])
def test_enrolment_code_with_a_wrong_prefix_is_refused(device_key, prefix):
    body = enrolment_code(device_key)[len(PREFIX):]
    with pytest.raises(UserError) as error:
        read_enrolment_code(prefix + body)
    assert error.value.message == ("This is not a FieldScreen enrolment code (it starts with "
                                   "FSE1).")


def test_enrolment_code_of_the_wrong_length_is_refused(device_key):
    code = enrolment_code(device_key)
    with pytest.raises(UserError) as error:
        read_enrolment_code(code[:-7])
    assert error.value.message == "The enrolment code has the wrong length; copy it again."


# -- the exported identity --------------------------------------------------------------------


def _export(world, path, passphrase_file) -> int:
    return main(["--basedir", str(world.coordinator_base), "coordinator", "identity",
                 "--export", str(path), "--passphrase-file", str(passphrase_file)])


def test_identity_export_refuses_to_overwrite_a_file(world, tmp_path, passphrase_file,
                                                     capsys):
    target = tmp_path / "id.txt"
    target.write_text("keep me\n", encoding="utf-8")

    assert _export(world, target, passphrase_file) == 1

    assert "already exists; nothing was written" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.skipif(shutil.which("age") is None, reason="the stock age tool is not installed")
def test_identity_export_is_private_and_opens_batches_with_stock_age(
        world, tmp_path, passphrase_file, capsys):
    target = tmp_path / "id.txt"

    assert _export(world, target, passphrase_file) == 0

    assert "WARNING" in capsys.readouterr().err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text(encoding="ascii")
    assert world.identity.secret in text.splitlines()
    assert f"# public key: {world.recipient}" in text
    batch = world.sealed_batch(2)
    batch_file = tmp_path / f"fieldscreen-batch-{uuid.uuid4()}.age"
    batch_file.write_bytes(batch.file)
    opened = subprocess.run(["age", "-d", "-i", str(target), str(batch_file)],
                            capture_output=True, check=True, timeout=30).stdout
    assert [member.name for member in untar(opened)] == list(MEMBERS)

