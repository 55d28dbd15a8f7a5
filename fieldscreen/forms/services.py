"""The local services directory: its file format, loader, and which services fit a decision."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from fieldscreen.errors import SourceProblem, SourceProblems
from fieldscreen.forms.names import LANGUAGE_CODE
from fieldscreen.forms.schema import EMPTY_TEXT, LocalizedText, Outcome
from fieldscreen.forms.yamlsource import (
    LocatedList,
    LocatedMap,
    Quoted,
    parse_yaml,
    read_source_text,
)
from fieldscreen.i18n import _

SERVICES_FORMAT = "fieldscreen-services/1"
ALL_AREAS = "all"
_SERVICE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_KEYS = frozenset({"format", "version", "default_language", "services"})
_SERVICE_KEYS = frozenset(
    {"id", "organisation", "name", "type", "areas", "phone", "email", "address", "hours",
     "languages", "urgent", "description"}
)


class ServiceType(StrEnum):
    EMERGENCY = "emergency"
    CHILD_PROTECTION = "child_protection"
    HEALTH = "health"
    SHELTER = "shelter"
    LEGAL = "legal"
    EDUCATION = "education"
    PSYCHOSOCIAL = "psychosocial"
    HOTLINE = "hotline"


# Which kinds of service the result screen offers first for each decision.
_TYPES_FOR_OUTCOME = {
    Outcome.URGENT: (ServiceType.EMERGENCY, ServiceType.CHILD_PROTECTION, ServiceType.HOTLINE,
                     ServiceType.SHELTER, ServiceType.HEALTH),
    Outcome.REFERRAL: (ServiceType.CHILD_PROTECTION, ServiceType.PSYCHOSOCIAL,
                       ServiceType.HEALTH, ServiceType.SHELTER, ServiceType.LEGAL,
                       ServiceType.EDUCATION, ServiceType.HOTLINE),
    Outcome.MONITOR: (ServiceType.PSYCHOSOCIAL, ServiceType.EDUCATION, ServiceType.HEALTH,
                      ServiceType.CHILD_PROTECTION, ServiceType.HOTLINE),
    Outcome.INFORMATION: (ServiceType.HOTLINE, ServiceType.EDUCATION, ServiceType.PSYCHOSOCIAL),
}


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    organisation: LocalizedText
    name: LocalizedText
    type: ServiceType
    areas: tuple[str, ...]
    phone: str
    hours: LocalizedText
    languages: tuple[str, ...]
    urgent: bool
    email: str | None = None
    address: LocalizedText = EMPTY_TEXT
    description: LocalizedText = EMPTY_TEXT

    def serves(self, area: str | None) -> bool:
        return ALL_AREAS in self.areas or area is None or area in self.areas


@dataclass(frozen=True, slots=True)
class ServicesDirectory:
    version: str
    default_language: str
    services: tuple[Service, ...]

    def matching(self, outcome: Outcome, area: str | None) -> list[Service]:
        """Services that fit `outcome` in `area`, most relevant type first.

        An urgent decision lists only services that take urgent cases.
        """
        order = _TYPES_FOR_OUTCOME[outcome]
        found = [
            service
            for service in self.services
            if service.type in order
            and service.serves(area)
            and (outcome is not Outcome.URGENT or service.urgent)
        ]
        # Services for the child's own area before area-wide ones, then by type order.
        return sorted(
            found,
            key=lambda s: (order.index(s.type), ALL_AREAS in s.areas, s.id),
        )


def load_services(path: str | Path) -> ServicesDirectory:
    """Load and validate a services directory file.

    Raises:
        SourceProblems: every problem found, each with file and line.
    """
    path = Path(path)
    shown = str(path)
    return read_services(parse_yaml(read_source_text(path), shown), shown)


def read_services(data: object, shown: str) -> ServicesDirectory:
    """Validate parsed services data (from a file or a deployment pack)."""
    problems: list[SourceProblem] = []

    def problem(line: int, message: str) -> None:
        problems.append(SourceProblem(shown, line, message))

    if not isinstance(data, LocatedMap):
        problem(1, _("a services file must be a mapping with format, version and services"))
        raise SourceProblems(problems)
    for key in data:
        if key not in _KEYS:
            problem(data.line_of(key), _("unknown key '{key}'").format(key=Quoted(key)))
    if data.get("format") != SERVICES_FORMAT:
        problem(data.line_of("format"), _("format must be '{expected}'").format(
            expected=SERVICES_FORMAT))
    version = data.get("version")
    if not isinstance(version, str) or not version:
        problem(data.line_of("version"), _("'version' must be text, e.g. \"2026.11.0\""))
    default_language = data.get("default_language", "en")
    if not isinstance(default_language, str) or not LANGUAGE_CODE.match(default_language):
        problem(data.line_of("default_language"), _("default_language must be a language code"))
        default_language = "en"

    def text(entry: LocatedMap, key: str, required: bool) -> LocalizedText:
        value = entry.get(key)
        if value is None:
            if required:
                problem(entry.line, _("service needs '{key}'").format(key=key))
            return LocalizedText()
        if isinstance(value, str):
            return LocalizedText(MappingProxyType({default_language: value}))
        if isinstance(value, LocatedMap) and all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
        ):
            if default_language not in value:
                problem(entry.line_of(key), _(
                    "'{key}' has no text in the default language '{language}'").format(
                    key=key, language=default_language))
            return LocalizedText(MappingProxyType(dict(value)))
        problem(entry.line_of(key), _(
            "'{key}' must be text or a mapping of language code to text").format(key=key))
        return LocalizedText()

    def string_list(entry: LocatedMap, key: str) -> tuple[str, ...]:
        value = entry.get(key)
        if not isinstance(value, LocatedList) or not value or not all(
            isinstance(v, str) for v in value
        ):
            problem(entry.line_of(key), _("'{key}' must be a non-empty list of names").format(
                key=key))
            return ()
        return tuple(value)

    services: list[Service] = []
    entries = data.get("services")
    if not isinstance(entries, LocatedList) or not entries:
        problem(data.line_of("services"), _("services must be a non-empty list"))
        entries = LocatedList()
        entries.item_lines = []
    seen: set[str] = set()
    for line, entry in zip(entries.item_lines, entries, strict=True):
        if not isinstance(entry, LocatedMap):
            problem(line, _("a service must be a mapping"))
            continue
        for key in entry:
            if key not in _SERVICE_KEYS:
                problem(entry.line_of(key), _(
                    "unknown key '{key}' in a service; allowed keys are: {allowed}").format(
                    key=Quoted(key), allowed=", ".join(sorted(_SERVICE_KEYS))))
        service_id = entry.get("id")
        if not isinstance(service_id, str) or not _SERVICE_ID.match(service_id):
            problem(entry.line_of("id"), _(
                "service id {id!r} must be lower-case letters, digits or '-'").format(
                id=Quoted(service_id)))
            continue
        if service_id in seen:
            problem(entry.line_of("id"), _("service id '{id}' is used twice").format(
                id=service_id))
            continue
        seen.add(service_id)
        try:
            service_type = ServiceType(str(entry.get("type")))
        except ValueError:
            problem(entry.line_of("type"), _("service type must be one of: {types}").format(
                types=", ".join(t.value for t in ServiceType)))
            continue
        phone = entry.get("phone")
        if not isinstance(phone, str) or not phone.strip():
            problem(entry.line_of("phone"), _("service '{id}' needs a phone number in quotes"
                                              ).format(id=service_id))
            phone = ""
        email = entry.get("email")
        if email is not None and (not isinstance(email, str) or "@" not in email):
            problem(entry.line_of("email"), _("email must be an address such as "
                                              "help@example.org"))
            email = None
        urgent = entry.get("urgent", False)
        if not isinstance(urgent, bool):
            problem(entry.line_of("urgent"), _("urgent must be true or false"))
            urgent = False
        services.append(
            Service(
                id=service_id,
                organisation=text(entry, "organisation", True),
                name=text(entry, "name", True),
                type=service_type,
                areas=string_list(entry, "areas"),
                phone=phone,
                hours=text(entry, "hours", True),
                languages=string_list(entry, "languages"),
                urgent=urgent,
                email=email,
                address=text(entry, "address", False),
                description=text(entry, "description", False),
            )
        )
    if problems:
        raise SourceProblems(problems)
    return ServicesDirectory(
        version=str(version), default_language=default_language, services=tuple(services)
    )
