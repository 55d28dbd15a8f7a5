"""One helper for background work: run a function off the GUI thread, get its result back on it.

All database and crypto work (unlock's Argon2id, saves, sync) goes through one worker thread,
so it is serialised like the profile's single writer connection and never blocks the GUI.
Results and errors come back through a queued signal and are handled on the GUI thread.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

_STOP = object()
# What one task returns: `run` hands the same type to its success callback.
T = TypeVar("T")


class TaskRunner(QObject):
    """Runs callables one at a time on a worker thread.

    Signals:
        finished(int, bool, object): task id, success, result or exception (internal).
        busy_changed(bool): whether a task is running or queued.
    """

    finished = Signal(int, bool, object)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._callbacks: dict[int, tuple[Callable[[Any], None], Callable[[BaseException],
                                                                         None]]] = {}
        self._ids = itertools.count(1)
        self._pending = 0
        self.finished.connect(self._deliver)
        self._thread = threading.Thread(target=self._work, name="fieldscreen-worker",
                                        daemon=True)
        self._thread.start()

    def run(self, function: Callable[[], T], on_success: Callable[[T], None],
            on_failure: Callable[[BaseException], None]) -> int:
        """Queue `function`; `on_success(result)` or `on_failure(error)` runs on the GUI thread.

        After `stop()` (the window is closing) nothing runs and 0 is returned: a timer that
        fires late must not start work on a closed profile.
        """
        if not self._thread.is_alive():
            return 0
        task_id = next(self._ids)
        self._callbacks[task_id] = (on_success, on_failure)
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        self._queue.put((task_id, function))
        return task_id

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            task_id, function = item
            try:
                result = function()
            except BaseException as error:
                self.finished.emit(task_id, False, error)
            else:
                self.finished.emit(task_id, True, result)

    @Slot(int, bool, object)
    def _deliver(self, task_id: int, ok: bool, value: object) -> None:
        on_success, on_failure = self._callbacks.pop(task_id)
        self._pending -= 1
        if self._pending == 0:
            self.busy_changed.emit(False)
        if ok:
            on_success(value)
        else:
            assert isinstance(value, BaseException)
            on_failure(value)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until queued work ran (tests and shutdown); results are delivered later."""
        if not self._thread.is_alive():
            return  # stopped: nothing can be queued any more
        done = threading.Event()
        self.run(done.set, lambda _result: None, lambda _error: None)
        done.wait(timeout)

    def stop(self) -> None:
        """Finish queued work and end the worker thread (a second call does nothing)."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=60)
