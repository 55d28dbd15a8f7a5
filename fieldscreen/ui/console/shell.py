"""What a console panel may ask of the window it sits in: the narrow interface panels use.

The panels never import `ConsoleWindow`; they are given something with these members, so
the window depends on the panels and not the other way round, and a panel can be built in a
test around a smaller shell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fieldscreen.exchange.transports import Transport
    from fieldscreen.forms.schema import Form
    from fieldscreen.forms.services import ServicesDirectory
    from fieldscreen.store.profile import UnlockedProfile


class ConsoleShell(Protocol):
    """The console window as its panels see it."""

    profile: UnlockedProfile | None
    form: Form | None
    services: ServicesDirectory | None
    clock: Callable[[], dt.datetime]

    @property
    def quarantine_dir(self) -> Path:
        """Where refused batches are kept, inside the open profile's folder."""
        ...

    def run_task(self, work: Callable[[], Any], done: Callable[[Any], None],
                 failed: Callable[[str], None]) -> None:
        """Run `work` on the worker thread; `done` or `failed` back on the GUI thread."""
        ...

    def transport_for(self, url: str, user: str | None, password: str | None) -> Transport:
        """The transport (folder or WebDAV relay) for a source the coordinator typed."""
        ...

    def after_import(self, report: Any) -> None:
        """Refresh every panel after an import settled."""
        ...
