"""The FHIR side of a referral: the R4B Bundle a partner service receives, and its Task.

A referral for one case and one service is a FHIR R4B `Bundle` (type `collection`) of three
resources: the `ServiceRequest` (what is asked of the service, and why, in plain words),
the `Task` that tracks its state, and a minimal `Patient` holding only what the child
agreed to share (nothing but a random id by default; age, sex and area only when the
coordinator chooses to share them). A withdrawal of consent is a Bundle of the same
`ServiceRequest` (status `revoked`) and `Task` (status `cancelled`), without a Patient. A
partner answers with a `Task` alone. Every resource written is validated with
`fhir.resources` before it leaves, and every resource read is validated the same way
before anything is taken from it. docs/referrals.md describes the fields.

Validation errors from `fhir.resources` quote the offending input, which could be a
child's data: they are turned into `ReferralContentInvalid` with a fixed message, never
passed on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fieldscreen.i18n import N_, _

FHIR_VERSION = "4.3.0"  # R4B
# The Task statuses a partner may send, and what each means to the coordinator.
PARTNER_STATUSES = ("accepted", "rejected", "in-progress", "completed")
REQUESTED = "requested"
CANCELLED = "cancelled"
# The identifier system for referral ids: RFC 3986 URIs (`urn:uuid:…`), as FHIR advises.
URI_SYSTEM = "urn:ietf:rfc:3986"
AGE_EXTENSION = "urn:fieldscreen:fhir:age-at-screening"
# What the coordinator may choose to share about the child; nothing by default.
SHAREABLE = ("age", "sex", "area")
MAX_NOTE_CHARS = 4000

_GENDERS = {"girl": "female", "boy": "male", "another_identity": "other",
            "rather_not_say": "unknown"}

_RULE_WORDS = {
    "red_flag": N_("The screening found a sign that the child may be in immediate danger."),
    "net_score_refer": N_("The child's answers and the worker's observations together reach "
                          "the level at which a referral is advised."),
    "elevated_levels": N_("Concerns show in several parts of the child's life."),
    "net_score_monitor": N_("Some concerns were found that are worth following up."),
    "lowered_thresholds": N_("The child is young or without a caring adult, so less is "
                             "needed before a referral is advised."),
    "information_gaps": N_("Some questions are still open: the screening is not complete."),
}


class ReferralContentInvalid(Exception):
    """A FHIR resource that is not what a referral carries (the message never quotes it)."""


def _validate(resource_type: str, data: Mapping[str, Any]) -> Any:
    # Imported here: fhir.resources loads pydantic models, needed only for referrals.
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource_type)
        return model.model_validate(dict(data))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        # pydantic's ValidationError is a ValueError; its text quotes the input.
        raise ReferralContentInvalid(
            f"not a valid FHIR R4B {resource_type}") from None


def validate_resource(data: Mapping[str, Any]) -> None:
    """Raise ReferralContentInvalid unless `data` is a valid FHIR R4B resource."""
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str) or resource_type not in (
            "Bundle", "Task", "ServiceRequest", "Patient"):
        raise ReferralContentInvalid("not a resource a referral carries")
    _validate(resource_type, data)


def reasons_in_words(rules: Iterable[str]) -> list[str]:
    """The screening's rules as sentences a partner reads; unknown rules are skipped."""
    return [_(_RULE_WORDS[rule]) for rule in dict.fromkeys(rules) if rule in _RULE_WORDS]


@dataclass(frozen=True, slots=True)
class ReferralRequest:
    """Everything a referral Bundle says, chosen by the coordinator."""

    referral_id: str
    authored_on: str  # FHIR dateTime (UTC, seconds)
    priority: str  # "urgent" or "referral" (the case's priority)
    service_name: str
    service_type: str
    coordinator_name: str
    partner_name: str
    reasons: tuple[str, ...]  # plain words
    shared: Mapping[str, Any]  # a subset of SHAREABLE -> value
    note: str | None = None


def _reference(resource_id: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource_id}"}


def _identifier(referral_id: str) -> list[dict[str, str]]:
    return [{"system": URI_SYSTEM, "value": f"urn:uuid:{referral_id}"}]


def resource_ids(referral_id: str) -> tuple[str, str, str]:
    """The ids of the ServiceRequest, Task and Patient of a referral: derived from the
    referral id (UUID version 5), so a withdrawal names the very resources it revokes."""
    base = uuid.UUID(referral_id)
    return tuple(str(uuid.uuid5(base, name))  # type: ignore[return-value]
                 for name in ("ServiceRequest", "Task", "Patient"))


def _patient(patient_id: str, shared: Mapping[str, Any]) -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": patient_id}
    age = shared.get("age")
    if type(age) is int:
        patient["extension"] = [{"url": AGE_EXTENSION, "valueAge": {
            "value": age, "unit": "years", "system": "http://unitsofmeasure.org",
            "code": "a"}}]
    sex = shared.get("sex")
    if isinstance(sex, str) and sex in _GENDERS:
        patient["gender"] = _GENDERS[sex]
    area = shared.get("area")
    if isinstance(area, str) and area:
        patient["address"] = [{"district": area}]
    return patient


def referral_bundle(request: ReferralRequest) -> dict[str, Any]:
    """The referral Bundle as JSON, validated with fhir.resources."""
    unknown = set(request.shared) - set(SHAREABLE)
    if unknown:
        raise ValueError("only age, sex and area can be shared")
    request_id, task_id, patient_id = resource_ids(request.referral_id)
    service_request: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": request_id,
        "identifier": _identifier(request.referral_id),
        "status": "active", "intent": "order",
        "priority": "urgent" if request.priority == "urgent" else "routine",
        "code": {"text": request.service_name},
        "category": [{"text": request.service_type}],
        "subject": _reference(patient_id),
        "authoredOn": request.authored_on,
        "requester": {"display": request.coordinator_name},
        "performer": [{"display": request.partner_name}],
        "reasonCode": [{"text": reason} for reason in request.reasons],
    }
    if request.note:
        service_request["note"] = [{"text": request.note[:MAX_NOTE_CHARS]}]
    task = {
        "resourceType": "Task", "id": task_id,
        "identifier": _identifier(request.referral_id),
        "status": REQUESTED, "intent": "order",
        "priority": service_request["priority"],
        "basedOn": [_reference(request_id)], "focus": _reference(request_id),
        "for": _reference(patient_id), "authoredOn": request.authored_on,
        "lastModified": request.authored_on,
        "requester": {"display": request.coordinator_name},
        "owner": {"display": request.partner_name},
    }
    bundle = {
        "resourceType": "Bundle", "id": request.referral_id,
        "meta": {"tag": [{"system": URI_SYSTEM, "code": "urn:fieldscreen:referral"}]},
        "identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{request.referral_id}"},
        "type": "collection", "timestamp": request.authored_on,
        "entry": [{"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
                  for resource in (service_request, task,
                                   _patient(patient_id, request.shared))],
    }
    _validate("Bundle", bundle)
    return bundle


def withdrawal_bundle(referral_id: str, *, at: str, coordinator_name: str) -> dict[str, Any]:
    """The Bundle that tells a partner the child withdrew consent: the ServiceRequest
    revoked and its Task cancelled. It carries no Patient."""
    request_id, task_id, patient_id = resource_ids(referral_id)
    reason = _("The child withdrew consent. Stop the referral and delete what you hold "
               "about the child from it.")
    service_request = {
        "resourceType": "ServiceRequest", "id": request_id,
        "identifier": _identifier(referral_id), "status": "revoked", "intent": "order",
        "subject": _reference(patient_id), "requester": {"display": coordinator_name},
        "note": [{"text": reason}],
    }
    task = {
        "resourceType": "Task", "id": task_id, "identifier": _identifier(referral_id),
        "status": CANCELLED, "intent": "order", "statusReason": {"text": reason},
        "focus": _reference(request_id), "lastModified": at,
        "requester": {"display": coordinator_name},
    }
    bundle = {
        "resourceType": "Bundle", "id": str(uuid.uuid4()),
        "identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{referral_id}"},
        "type": "collection", "timestamp": at,
        "entry": [{"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}
                  for resource in (service_request, task)],
    }
    _validate("Bundle", bundle)
    return bundle


def task_update(referral_id: str, status: str, *, at: str, partner_name: str,
                note: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """The Task a partner returns: the referral's new state, its reason and note."""
    if status not in PARTNER_STATUSES:
        raise ValueError("a partner's Task status is accepted, rejected, in-progress or "
                         "completed")
    request_id, task_id, patient_id = resource_ids(referral_id)
    task: dict[str, Any] = {
        "resourceType": "Task", "id": task_id, "identifier": _identifier(referral_id),
        "status": status, "intent": "order", "focus": _reference(request_id),
        "basedOn": [_reference(request_id)], "for": _reference(patient_id),
        "lastModified": at, "owner": {"display": partner_name},
    }
    if reason:
        task["statusReason"] = {"text": reason[:MAX_NOTE_CHARS]}
    if note:
        task["note"] = [{"text": note[:MAX_NOTE_CHARS], "time": at}]
    _validate("Task", task)
    return task


@dataclass(frozen=True, slots=True)
class TaskState:
    """What the coordinator takes from a partner's Task."""

    status: str
    reason: str | None
    note: str | None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_NOTE_CHARS:
        raise ReferralContentInvalid("a text is too long or not text")
    return value.strip() or None


def read_task_update(task: Any, referral_id: str) -> TaskState:
    """The state in a partner's Task for `referral_id`, after validating it as FHIR R4B.

    Raises:
        ReferralContentInvalid: not a valid Task, not about this referral, a status a
            partner cannot send, or a rejection without its reason.
    """
    if not isinstance(task, dict) or task.get("resourceType") != "Task":
        raise ReferralContentInvalid("not a Task")
    _validate("Task", task)
    request_id, task_id, _patient_id = resource_ids(referral_id)
    if task.get("id") != task_id or task.get("focus") != _reference(request_id):
        raise ReferralContentInvalid("a Task about another referral")
    if task.get("identifier") != _identifier(referral_id):
        raise ReferralContentInvalid("a Task about another referral")
    status = task.get("status")
    if status not in PARTNER_STATUSES:
        raise ReferralContentInvalid("a Task status a partner cannot send")
    reason_field = task.get("statusReason")
    reason = _text(reason_field.get("text")) if isinstance(reason_field, dict) else None
    notes = task.get("note")
    note = _text(notes[0].get("text")) if isinstance(notes, list) and notes and isinstance(
        notes[0], dict) else None
    if status == "rejected" and not reason:
        raise ReferralContentInvalid("a declined referral without its reason")
    return TaskState(status, reason, note)


def bundle_resources(bundle: Any) -> dict[str, dict[str, Any]]:
    """The resources of a referral or withdrawal Bundle by type, after validating it.

    Raises:
        ReferralContentInvalid: not a valid Bundle, or not one resource of each type.
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ReferralContentInvalid("not a Bundle")
    _validate("Bundle", bundle)
    found: dict[str, dict[str, Any]] = {}
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(kind, str) or kind in found:
            raise ReferralContentInvalid("a Bundle with an unexpected entry")
        found[kind] = resource  # type: ignore[assignment]
    if "ServiceRequest" not in found or "Task" not in found:
        raise ReferralContentInvalid("a Bundle without its ServiceRequest and Task")
    return found
