"""What every window over an unlocked profile shares: quick exit, the idle watch, and the
words for a task that failed.

The field window and the coordinator's console both subclass `ProfileWindow`; each keeps
its own `lock()` (what it clears differs) and says when to start watching for activity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow

from fieldscreen.errors import UserError
from fieldscreen.i18n import _


def person_message(error: BaseException) -> str:
    """What to show for a failed task: the UserError's words, or a bug without details."""
    if isinstance(error, UserError):
        return str(error)
    # A bug: say so without echoing details that could hold a child's data.
    return _("Something went wrong ({kind}). Your saved records are safe.").format(
        kind=type(error).__name__)


def unlock_failure(error: BaseException, has_recovery: bool | None = None) -> str:
    """Why an unlock failed, with the wait before the next try when there is one.

    `has_recovery`: whether the coordinator can recover this profile. A standalone profile
    was set up with no recovery, and the message must not promise one.
    """
    message = person_message(error)
    if has_recovery is not None and isinstance(error, UserError) and hasattr(error, "delay"):
        if has_recovery:
            hint = _("Check Caps Lock and the keyboard language. If you forgot it, your "
                     "coordinator can recover the profile.")
        else:
            hint = _("Check Caps Lock and the keyboard language. This profile has no "
                     "recovery: only its passphrase opens it.")
        message = f"{error.message}\n{hint}"
    delay = getattr(error, "delay", 0)
    if delay:
        message += "\n" + _("You can try again in {seconds} seconds.").format(
            seconds=int(delay))
    return message


# How long quick exit lets a save already running finish before the process ends anyway.
# Quick exit is for danger: a save that has not committed by then is lost, and that is
# accepted (the last autosaved draft is on disk).
QUICK_EXIT_GRACE_S = 0.5


class ProfileWindow(QMainWindow):
    """A main window that locks: subclasses provide `lock()`, `profile`, `tasks` and
    `idle_timer`, and install this window as the application's event filter.

    `end_process` is set by the app runner (fieldscreen/ui/app.py): quick exit then ends
    the whole process instead of only closing the window. Tests leave it None.
    """

    profile: Any
    tasks: Any
    idle_timer: Any
    end_process: Callable[[], None] | None = None

    def lock(self) -> None:
        raise NotImplementedError

    def quick_exit(self) -> None:
        """Clear the clipboard, hide, drop the keys and end the process at once."""
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.clear()
        # Off the screen first: whoever is looking must see nothing from here on.
        self.hide()
        self.lock()
        self.tasks.wait_idle(timeout=QUICK_EXIT_GRACE_S)
        if self.end_process is not None:
            self.end_process()  # does not return
        self.close()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Any key, click or scroll while unlocked restarts the auto-lock countdown.
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress,
                            QEvent.Type.Wheel) and self.profile is not None:
            self.idle_timer.start()
        return False
