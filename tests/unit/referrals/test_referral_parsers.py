"""Property tests of the referral readers: any input gives a result or the documented
refusal (ReferralRefused, ReferralContentInvalid, UserError), never another exception.

The mutated contents are signed with the real keys and sealed to the real recipients, so
the checks behind the signature (fields, FHIR validation, ids) are reached too.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

from hypothesis import given
from hypothesis import strategies as st

from fieldscreen.errors import UserError
from fieldscreen.exchange.referral_files import (
    PACKAGE_DOMAIN,
    PACKAGE_FORMAT,
    UPDATE_DOMAIN,
    UPDATE_FORMAT,
    ReferralRefused,
    partner_code,
    read_package,
    read_partner_code,
    read_update,
    write_package,
    write_update,
)
from fieldscreen.exchange.referral_package import (
    ReferralContentInvalid,
    ReferralRequest,
    TaskState,
    bundle_resources,
    read_task_update,
    referral_bundle,
    task_update,
)
from fieldscreen.store.crypto import AgeIdentity, SigningKey, VerifyKey, age_encrypt, b64
from tests.fuzz.conftest import fuzz_settings, parse_or_refuse
from tests.fuzz.strategies import dump_json, mutate_bytes, mutate_text, mutate_tree

COORDINATOR = SigningKey.generate()
IDENTITY = AgeIdentity.generate()
PARTNER = SigningKey.generate()
REFERRAL = str(uuid.uuid4())
NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
BUNDLE = referral_bundle(ReferralRequest(
    referral_id=REFERRAL, authored_on="2026-03-01T09:00:00Z", priority="urgent",
    service_name="Duty team", service_type="child_protection", coordinator_name="c",
    partner_name="p", reasons=("A reason.",), shared={"age": 14, "sex": "girl"}))
TASK = task_update(REFERRAL, "accepted", at="2026-03-01T09:00:00Z", partner_name="p",
                   note="seen")
UPDATE = write_update(PARTNER, referral_id=REFERRAL, sequence=1,
                      recipient=IDENTITY.recipient, task=TASK, now=NOW)
PACKAGE = write_package(COORDINATOR, kind="referral", referral_id=REFERRAL,
                        coordinator_name="c", coordinator_recipient=IDENTITY.recipient,
                        partner_key=PARTNER.public.raw, bundle=BUNDLE, now=NOW)


def _state(key: bytes) -> str | None:
    return "active" if key == PARTNER.public.raw else None


def _content(sealed: bytes, opener) -> dict:
    return json.loads(base64.b64decode(json.loads(opener(sealed))["content"]))


@given(st.data())
@fuzz_settings(40)
def test_any_update_bytes_are_read_or_refused(data):
    raw = mutate_bytes(data, UPDATE)
    parse_or_refuse(lambda: read_update(raw, identity=IDENTITY, partner_state=_state),
                    ReferralRefused)


@given(st.data())
@fuzz_settings(40)
def test_any_signed_update_content_is_read_or_refused(data):
    tree = mutate_tree(data, _content(UPDATE, IDENTITY.decrypt))
    content = dump_json(tree).encode()
    envelope = json.dumps({"format": UPDATE_FORMAT, "content": b64(content),
                           "signature": b64(PARTNER.sign(UPDATE_DOMAIN, content))})
    sealed = age_encrypt(envelope.encode(), IDENTITY.recipient)
    update = parse_or_refuse(lambda: read_update(sealed, identity=IDENTITY,
                                                 partner_state=_state), ReferralRefused)
    if not isinstance(update, ReferralRefused):
        parse_or_refuse(lambda: read_task_update(update.task, update.referral_id),
                        ReferralContentInvalid)


@given(st.data())
@fuzz_settings(60)
def test_any_task_is_read_or_refused(data):
    task = mutate_tree(data, TASK)
    state = parse_or_refuse(lambda: read_task_update(task, REFERRAL), ReferralContentInvalid)
    if isinstance(state, TaskState):
        assert state.status in ("accepted", "rejected", "in-progress", "completed")


@given(st.data())
@fuzz_settings(40)
def test_any_bundle_is_read_or_refused(data):
    bundle = mutate_tree(data, BUNDLE)
    parse_or_refuse(lambda: bundle_resources(bundle), ReferralContentInvalid)


@given(st.data())
@fuzz_settings(30)
def test_any_signed_package_content_is_read_or_refused(data):
    tree = mutate_tree(data, _content(PACKAGE, PARTNER.open_sealed))
    content = dump_json(tree).encode()
    envelope = json.dumps({"format": PACKAGE_FORMAT, "content": b64(content),
                           "signature": b64(COORDINATOR.sign(PACKAGE_DOMAIN, content))})
    sealed = VerifyKey(PARTNER.public.raw).seal(envelope.encode())
    parse_or_refuse(lambda: read_package(sealed, partner_key=PARTNER,
                                         pinned=COORDINATOR.public.raw), ReferralRefused)


@given(st.data())
@fuzz_settings(60)
def test_any_partner_code_text_is_read_or_refused(data):
    text = mutate_text(data, partner_code(PARTNER.public))
    parse_or_refuse(lambda: read_partner_code(text), UserError)
