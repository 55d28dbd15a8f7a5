"""A coordinator with imported cases, one enrolled partner service, and the services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fhir.resources.R4B import get_fhir_model_class

from fieldscreen.exchange.referral_files import partner_code, read_partner_code
from fieldscreen.forms.services import ServicesDirectory, load_services
from fieldscreen.store.partners import Partner
from fieldscreen.store.profile import ProfileRole, UnlockedProfile
from fieldscreen.workflows.referrals import WrittenFile, refer_case
from tests.exchange_helpers import SHIPPED_SERVICES, World, make_profile, make_world

SERVICE = "example-child-protection-north"


@dataclass
class Loop:
    world: World
    partner: UnlockedProfile
    enrolled: Partner
    services: ServicesDirectory
    sent: list[WrittenFile]

    @property
    def coordinator(self) -> UnlockedProfile:
        return self.world.coordinator

    def cases(self) -> list[str]:
        return [case.record_id for case in self.coordinator.referrals.cases()]

    def deliver(self, written: WrittenFile) -> None:
        self.sent.append(written)

    def refer(self, record_id: str | None = None, **options: object) -> WrittenFile:
        return refer_case(self.coordinator, record_id=record_id or self.cases()[0],
                          partner=self.enrolled.name, service_id=SERVICE,
                          services=self.services, now=self.world.clock(),
                          deliver=self.deliver, **options)  # type: ignore[arg-type]


@pytest.fixture
def loop(tmp_path: Path):
    world = make_world(tmp_path)
    world.import_bytes(world.sealed_batch(12).file)
    partner = make_profile(tmp_path / "partner" / "data", ProfileRole.PARTNER,
                           clock=world.clock, name="shelter")
    # Enrolled as a coordinator does it: from the partner's code.
    key = read_partner_code(partner_code(partner.partner_key().public))
    enrolled = world.coordinator.partners.enroll(key.raw, "Example shelter")
    created = Loop(world, partner, enrolled, load_services(SHIPPED_SERVICES), [])
    yield created
    world.close()
    if partner.records is not None:
        partner.lock()


def validate_fhir(resource: dict) -> None:
    """Validate one resource, and each resource inside a Bundle, with fhir.resources."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry", []):
        inner = entry["resource"]
        get_fhir_model_class(inner["resourceType"]).model_validate(inner)
