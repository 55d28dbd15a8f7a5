"""What every window over an unlocked profile shares: quick exit, the idle watch, and the
words for a task that failed.

The field window and the coordinator's console both subclass `ProfileWindow`; each keeps
its own `lock()` (what it clears differs) and says when to start watching for activity.
"""

from __future__ import annotations

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


def unlock_failure(error: BaseException) -> str:
    """Why an unlock failed, with the wait before the next try when there is one."""
    message = person_message(error)
    delay = getattr(error, "delay", 0)
    if delay:
        message += "\n" + _("You can try again in {seconds} seconds.").format(
            seconds=int(delay))
    return message


class ProfileWindow(QMainWindow):
    """A main window that locks: subclasses provide `lock()`, `profile`, `tasks` and
    `idle_timer`, and install this window as the application's event filter."""

    profile: Any
    tasks: Any
    idle_timer: Any

    def lock(self) -> None:
        raise NotImplementedError

    def quick_exit(self) -> None:
        """Lock, clear the clipboard and close at once."""
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.clear()
        self.lock()
        self.hide()
        self.tasks.wait_idle()
        self.close()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Any key, click or scroll while unlocked restarts the auto-lock countdown.
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress,
                            QEvent.Type.Wheel) and self.profile is not None:
            self.idle_timer.start()
        return False
