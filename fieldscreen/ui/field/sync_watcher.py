"""Watches for connectivity and asks for a sync when the deployment's target becomes reachable.

Qt's QNetworkInformation says when the operating system thinks the laptop went online
(where a backend exists); that alone proves nothing about the sync target (a captive portal,
a dead server), so the watcher also probes the target itself, on a timer with exponential
backoff and jitter, and only then asks the window to sync.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from fieldscreen.ui.tasks import TaskRunner

Probe = Callable[[], bool]


class SyncWatcher(QObject):
    """Probes the sync target and emits `sync_due` when it is reachable and work is waiting.

    Args:
        tasks: the worker the probe runs on (it touches the profile and the network).
        probe: returns True when the sync target answers.
        base_seconds, max_seconds: the backoff between probes after failures.

    Signals:
        sync_due(): the target answers: sync if there is work.
        reachability_changed(bool): the last probe's answer.
    """

    sync_due = Signal()
    reachability_changed = Signal(bool)

    def __init__(self, tasks: TaskRunner, probe: Probe, *, base_seconds: float = 30.0,
                 max_seconds: float = 1800.0, jitter: Callable[[], float] = random.random,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._probe = probe
        self._base = base_seconds
        self._max = max_seconds
        self._jitter = jitter
        self._failures = 0
        self._probing = False
        self._paused = False
        self.reachable: bool | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.probe_now)
        self._network = self._connect_network_information()

    def _connect_network_information(self) -> object | None:
        from PySide6.QtNetwork import QNetworkInformation

        try:
            if not QNetworkInformation.loadDefaultBackend():
                return None
        except RuntimeError:
            return None
        info = QNetworkInformation.instance()
        if info is None:
            return None
        info.reachabilityChanged.connect(self._reachability_changed)
        return info

    def _reachability_changed(self, reachability: object) -> None:
        from PySide6.QtNetwork import QNetworkInformation

        if reachability == QNetworkInformation.Reachability.Online:
            # The OS says we are back online: probe at once instead of waiting out backoff.
            self._failures = 0
            self.probe_now()

    def start(self) -> None:
        self._paused = False
        self._schedule(0.0)

    def stop(self) -> None:
        self._paused = True
        self._timer.stop()

    def next_delay(self) -> float:
        """Seconds until the next probe: base x 2^failures, capped, with jitter."""
        delay = min(self._max, self._base * (2 ** max(0, self._failures - 1)))
        return delay * (0.5 + self._jitter() / 2) if self._failures else 0.0

    def _schedule(self, seconds: float) -> None:
        if not self._paused:
            self._timer.start(int(seconds * 1000))

    def probe_now(self) -> None:
        if self._probing or self._paused:
            return
        self._probing = True
        self._tasks.run(self._probe, self._probed, self._probe_failed)

    def _probed(self, ready: bool) -> None:
        self._probing = False
        if self._paused:
            return  # the profile was locked while the probe ran
        changed = ready != self.reachable
        self.reachable = ready
        if changed:
            self.reachability_changed.emit(ready)
        if ready:
            self._failures = 0
            self.sync_due.emit()
            self._schedule(self._base)
        else:
            self._failures += 1
            self._schedule(self.next_delay())

    def _probe_failed(self, _error: BaseException) -> None:
        self._probed(False)
