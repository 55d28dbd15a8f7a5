"""Records flow to the real WebDAV server by themselves once it comes back: no click needed."""

from __future__ import annotations

import datetime as dt
import os

from fieldscreen.engine.session import ScreeningSession
from fieldscreen.exchange.pack import SyncSettings, build_pack, read_pack
from fieldscreen.forms.loader import load_form
from fieldscreen.forms.services import load_services
from fieldscreen.store.crypto import KdfParameters, b64
from fieldscreen.store.profile import ProfileRole, ProfileStore
from fieldscreen.store.records import RecordStatus
from fieldscreen.ui.field.sync_watcher import SyncWatcher
from fieldscreen.ui.field.window import FieldWindow
from tests.conftest import DATA, SHIPPED_FORM, SHIPPED_SERVICES
from tests.webdav_server import webdav_server  # noqa: F401 - a fixture

PASSPHRASE = "correct horse battery"


def fast_kdf() -> KdfParameters:
    return KdfParameters(b64(os.urandom(16)), 1, 1, 8 * 1024)


def test_records_flow_when_the_server_comes_back(qtbot, tmp_path, webdav_server):  # noqa: F811
    now = dt.datetime.now(dt.UTC)
    coordinator = ProfileStore(tmp_path / "coord", kdf=fast_kdf()).create(
        "coordinator", ProfileRole.COORDINATOR, PASSPHRASE)
    raw = build_pack(
        signing_key=coordinator.coordinator_signing_key(),
        recipient=coordinator.coordinator_identity().recipient, coordinator_name="c",
        form_paths=[SHIPPED_FORM], services_path=SHIPPED_SERVICES,
        sync=SyncSettings(webdav_server.url, webdav_server.user, webdav_server.password),
        retention_days=30, demo=False, now=now)
    coordinator.lock()
    store = ProfileStore(tmp_path / "field", kdf=fast_kdf())
    field = store.create("worker", ProfileRole.FIELD, PASSPHRASE,
                         recovery_recipient=read_pack(raw).recipient)
    field.install_pack(raw, read_pack(raw).recipient)
    form = load_form(SHIPPED_FORM)
    session = ScreeningSession(form)
    import json

    session.answer_all(json.loads((DATA / "answers" / "urgent.json").read_text()))
    field.records.save_final(form.id, form.version, session.answers_json(),
                             session.outcome().to_json())
    field.lock()

    webdav_server.stop()
    window = FieldWindow(data_dir=tmp_path / "field", profile_name="worker",
                         checklist=lambda: (form, load_services(SHIPPED_SERVICES)),
                         probe_seconds=0.2)
    qtbot.addWidget(window)
    window.show()
    window._unlock(PASSPHRASE)
    qtbot.waitUntil(lambda: window.watcher is not None, timeout=20_000)
    # Server down: probes fail and back off; nothing is sealed as delivered.
    qtbot.waitUntil(lambda: window.watcher.reachable is False, timeout=10_000)
    qtbot.wait(600)
    assert not any(name.endswith(".age") for name in webdav_server.files())
    assert window.profile.outbox.counts()["undelivered"] == 0

    with qtbot.waitSignal(window.sync_finished, timeout=20_000) as finished:
        webdav_server.start()
    report = finished.args[0]
    assert report.error is None and report.delivered_batches == 1
    assert any(name.endswith(".age") for name in webdav_server.files())
    [record] = window.profile.records.list()
    assert record.status is RecordStatus.SEALED
    window.close()


def test_backoff_grows_with_failures_and_has_jitter(qtbot):
    from fieldscreen.ui.tasks import TaskRunner

    tasks = TaskRunner()
    watcher = SyncWatcher(tasks, lambda: False, base_seconds=10, max_seconds=100,
                          jitter=lambda: 1.0)
    delays = []
    for failures in range(1, 7):
        watcher._failures = failures
        delays.append(watcher.next_delay())
    assert delays == [10, 20, 40, 80, 100, 100]
    low = SyncWatcher(tasks, lambda: False, base_seconds=10, jitter=lambda: 0.0)
    low._failures = 1
    assert low.next_delay() == 5
    watcher.stop()
    low.stop()
    tasks.stop()
