"""A whole training deployment in one base directory, to show the loop end to end.

A training coordinator, a training field laptop created from its deployment pack and
enrolled with it, and the shipped scenarios screened on that laptop and synced as sealed
training batches into a relay folder. The trainer opens the training console and imports
them like real ones. Every profile, record and batch carries the training flag, so none
of it can enter a real deployment (a real coordinator refuses training batches).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from fieldscreen.demo.scenarios import check_scenario, load_scenarios, shipped_scenarios_dir
from fieldscreen.engine.session import utc_now
from fieldscreen.exchange.pack import SyncSettings, build_pack
from fieldscreen.exchange.sync import sync
from fieldscreen.forms.translations import load_translated_form
from fieldscreen.i18n import _
from fieldscreen.paths import shipped_dir
from fieldscreen.store.crypto import KdfParameters
from fieldscreen.store.layout import profile_names
from fieldscreen.store.profile import ProfileRole, ProfileStore

TRAINING_COORDINATOR = "training-coordinator"
TRAINING_LAPTOP = "training-laptop"
RELAY_FOLDER = "training-relay"


def seed_training_deployment(data_dir: Path, relay: Path, passphrase: str, *,
                             rounds: int = 2, kdf: KdfParameters | None = None,
                             clock: Callable[[], dt.datetime] = utc_now) -> int:
    """Create the training coordinator and laptop and sync the scenarios' screenings.

    Does nothing when the training coordinator already exists (a kept sandbox).
    Returns the number of screenings delivered to `relay`.
    """
    if TRAINING_COORDINATOR in profile_names(data_dir):
        return 0
    forms = shipped_dir("forms")
    form_path = forms / "child-screening.yaml"
    form = load_translated_form(form_path)
    scenarios = load_scenarios(shipped_scenarios_dir(), form)
    relay.mkdir(parents=True, exist_ok=True)
    store = ProfileStore(data_dir, clock=clock, kdf=kdf)
    coordinator = store.create(TRAINING_COORDINATOR, ProfileRole.COORDINATOR, passphrase,
                               demo=True)
    try:
        recipient = coordinator.coordinator_identity().recipient
        pack = build_pack(
            signing_key=coordinator.coordinator_signing_key(), recipient=recipient,
            coordinator_name=_("Training coordinator"), form_paths=[form_path],
            services_path=forms / "services.yaml", sync=SyncSettings(str(relay)),
            retention_days=30, demo=True, now=clock(),
            sequence=coordinator.next_pack_sequence())
        laptop = store.create(TRAINING_LAPTOP, ProfileRole.FIELD, passphrase,
                              recovery_recipient=recipient, demo=True)
        try:
            laptop.install_pack(pack, recipient)
            coordinator.devices.enroll(laptop.device_key().public.raw,
                                       _("Training laptop"))
            saved = 0
            for _round in range(rounds):
                for scenario in scenarios:
                    checked = check_scenario(scenario, form, clock)
                    if checked.outcome is None:
                        continue  # e.g. a scenario about a referral that cannot be stored
                    laptop.records.save_final(form.id, form.version, dict(scenario.answers),
                                              checked.outcome.to_json())
                    saved += 1
            report = sync(laptop, target=str(relay), now=clock)
            if report.error:
                from fieldscreen.errors import UserError

                raise UserError(report.error)
            return saved
        finally:
            laptop.lock()
    finally:
        coordinator.lock()
