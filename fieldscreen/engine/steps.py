"""How a screening is paced on screen: one question to the child per step, observations grouped.

DOMAIN.md asks for one idea per screen for the child and keeps the worker's own observations
apart; this module turns the items shown now into those steps, so the wizard only renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fieldscreen.forms.schema import Audience, Item, ItemType

if TYPE_CHECKING:
    from fieldscreen.engine.session import ScreeningSession


@dataclass(frozen=True, slots=True)
class WizardStep:
    """The items shown together on one screen."""

    items: tuple[Item, ...]
    audience: Audience | None
    group: str | None

    @property
    def key(self) -> str:
        return self.items[0].name

    @property
    def for_worker(self) -> bool:
        return self.audience is Audience.WORKER


def wizard_steps(session: ScreeningSession) -> list[WizardStep]:
    """The steps for the items shown now, in form order.

    Consecutive worker items of the same group share a step; every other item (questions to
    the child, notes read aloud, background questions) has a step of its own.
    """
    steps: list[WizardStep] = []
    for item in session.shown_items():
        if item.type in (ItemType.GROUP, ItemType.CALCULATE):
            continue
        previous = steps[-1] if steps else None
        if (item.audience is Audience.WORKER and previous is not None
                and previous.for_worker and previous.group == item.parent
                and item.type is not ItemType.NOTE):
            steps[-1] = WizardStep((*previous.items, item), Audience.WORKER, item.parent)
            continue
        steps.append(WizardStep((item,), item.audience, item.parent))
    return steps
