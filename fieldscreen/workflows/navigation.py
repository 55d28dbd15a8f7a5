"""Where the worker is in a screening: the steps, the current one, next, back and skip.

The wizard screen renders the current step and forwards the buttons; the rules live here:
a step with an answer problem cannot be left forward, nor can a step on which nothing is
answered yet (leaving a question open takes Skip, so a key held down or pressed again and
again never walks past questions unseen), skipping leaves optional questions
unanswered (an information gap, never a "no"), the steps are recomputed after every move
because answers change what is shown, and a resumed draft opens after its last answered
step.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from fieldscreen.engine.steps import WizardStep, wizard_steps
from fieldscreen.forms.schema import Audience, ItemType
from fieldscreen.i18n import _

if TYPE_CHECKING:
    from fieldscreen.engine.session import ScreeningSession


class Move(Enum):
    """What a forward move did."""

    MOVED = "moved"        # the next step is current
    FINISHED = "finished"  # there was no next step: show the result
    BLOCKED = "blocked"    # an answer on this step is not accepted (see `problem`)


class WizardNavigation:
    """The steps of one screening and the index of the current one."""

    def __init__(self) -> None:
        self.session: ScreeningSession | None = None
        self.steps: list[WizardStep] = []
        self.index = 0
        self.problem: str | None = None
        # Steps of the whole screening: those shown now, and those that answers may still
        # open (before consent only the consent steps are shown).
        self._whole = 0

    def start(self, session: ScreeningSession) -> None:
        """From the first step, or after the last answered one for a resumed draft."""
        self.session = session
        self.index = 0
        self.problem = None
        self.steps = wizard_steps(session)
        self._whole = whole_screening_steps(session)
        if session.answers:
            answered = [i for i, step in enumerate(self.steps)
                        if any(item.name in session.answers for item in step.items)]
            self.index = min((answered[-1] + 1) if answered else 0,
                             max(len(self.steps) - 1, 0))

    def clear(self) -> None:
        self.session = None
        self.steps = []
        self.index = 0
        self.problem = None

    def refresh(self) -> WizardStep | None:
        """Recompute the steps (answers change what is shown); the current step."""
        if self.session is None:
            return None
        self.steps = wizard_steps(self.session)
        self.index = max(0, min(self.index, len(self.steps) - 1))
        return self.current_step()

    def current_step(self) -> WizardStep | None:
        return self.steps[self.index] if 0 <= self.index < len(self.steps) else None

    @property
    def total(self) -> int:
        """How many steps the screening has, counted over the whole screening."""
        return max(len(self.steps), self._whole)

    def go_next(self) -> Move:
        """Move forward unless an answer on this step is not accepted."""
        self.problem = None
        if self.session is None:
            return Move.BLOCKED
        step = self.current_step()
        if step is not None:
            for item in step.items:
                problem = self.session.problem_with(item.name)
                if problem is not None:
                    self.problem = problem.message
                    return Move.BLOCKED
            answerable = [item for item in step.items
                          if item.type.takes_answer and not item.is_computed]
            if answerable and all(self.session.value(item.name) is None
                                  for item in answerable):
                self.problem = _("Nothing is answered here yet. Choose an answer, or press "
                                 "Skip to leave it open.")
                return Move.BLOCKED
        return self._forward()

    def skip(self) -> tuple[bool, Move]:
        """Clear this step's optional answers and move on; (whether answers changed, move)."""
        if self.session is None:
            return False, Move.BLOCKED
        changed = False
        step = self.current_step()
        if step is not None:
            for item in step.items:
                if item.type.takes_answer and not self.session.is_required(item.name):
                    self.session.clear(item.name)
            changed = True
        return changed, self._forward()

    def go_back(self) -> bool:
        """One step back; False on the first step."""
        if self.session is None or self.index == 0:
            return False
        self.index -= 1
        return True

    def _forward(self) -> Move:
        assert self.session is not None
        self.steps = wizard_steps(self.session)
        if self.index + 1 >= len(self.steps):
            return Move.FINISHED
        self.index += 1
        return Move.MOVED


def whole_screening_steps(session: ScreeningSession) -> int:
    """The number of steps if every item the form has were shown.

    Items that exclude each other (the note shown when a child says no to talking) make
    this a slight over-count; the progress bar then ends a step or two short, which reads
    better than a total that jumps from 5 to 53 after consent.
    """
    count = 0
    previous_group: object = object()
    previous_worker = False
    for item in session.form.items:
        if item.type in (ItemType.GROUP, ItemType.CALCULATE):
            continue
        worker = item.audience is Audience.WORKER
        if worker and previous_worker and previous_group == item.parent \
                and item.type is not ItemType.NOTE:
            continue
        count += 1
        previous_worker, previous_group = worker, item.parent
    return count
