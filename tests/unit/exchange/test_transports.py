"""Sync and import through a real WebDAV server (wsgidav on loopback) that fails on purpose.

A screening must never count as sent unless the relay really holds its batch, and a bad
network must never cost a record or crash the app. Each test here builds real profiles
through the API (a coordinator, a field laptop created from the coordinator's signed pack
and enrolled by it), saves real screenings, and syncs them to `tests/webdav_server.py`
while the server is down, full, refusing the password, posing as a captive portal, or
cutting the upload half-way; then it checks what the app reports and what the outbox,
the records and the server's folder really hold.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fieldscreen.cli import main
from fieldscreen.engine.session import ScreeningSession
from fieldscreen.errors import UserError
from fieldscreen.exchange import importer as importer_module
from fieldscreen.exchange.batch import batch_file_name
from fieldscreen.exchange.importer import BatchImporter, ImportReport
from fieldscreen.exchange.pack import SyncSettings, build_pack, read_pack
from fieldscreen.exchange.receipt import receipt_file_name
from fieldscreen.exchange.sync import SyncReport, sync, target_reachable
from fieldscreen.exchange.transports import (
    Transport,
    TransportError,
    WebDavTransport,
    retrying,
    transport_for,
)
from fieldscreen.forms.loader import load_form
from fieldscreen.paths import AppDirectories
from fieldscreen.store.crypto import KdfParameters, b64
from fieldscreen.store.profile import ProfileRole, ProfileStore, UnlockedProfile
from fieldscreen.store.records import RecordStatus
from tests import webdav_server as dav
from tests.conftest import DATA, SHIPPED_FORM, SHIPPED_SERVICES
from tests.webdav_server import WebDavServer

# pytest finds fixtures by name in the test module. Bound by assignment rather than imported:
# ruff reports a test parameter named like an unused import as a redefinition (F811).
webdav_server = dav.webdav_server
https_webdav_server = dav.https_webdav_server

PASSPHRASE = "correct horse battery staple"
ANSWER_FILES = ("urgent.json", "referral.json", "information.json")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def weak_kdf() -> KdfParameters:
    # The cheapest Argon2id the store accepts: these tests are about the network, not KDFs.
    return KdfParameters(b64(os.urandom(16)), 1, 1, 8 * 1024)


class Sleeps:
    """A fake `sleep` that records the backoff delays instead of waiting.

    Not a list subclass on purpose: an empty list is falsy, and `sync` picks its default
    with `sleep or time.sleep`, so an empty recorder would be replaced by the real sleep.
    """

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclasses.dataclass
class Deployment:
    """A coordinator and an enrolled field laptop whose pack points at `settings.target`."""

    coordinator: UnlockedProfile
    field: UnlockedProfile
    coordinator_dir: Path
    settings: SyncSettings
    form: Any
    record_ids: list[str] = dataclasses.field(default_factory=list)

    def add_records(self, names: tuple[str, ...] = ANSWER_FILES) -> list[str]:
        """Save real, final screenings (answers checked and scored by the engine)."""
        import json

        ids = []
        for name in names:
            session = ScreeningSession(self.form)
            session.answer_all(json.loads((DATA / "answers" / name).read_text("utf-8")))
            assert not session.problems()
            summary = self.field.records.save_final(
                self.form.id, self.form.version, session.answers_json(),
                session.outcome().to_json())
            ids.append(summary.id)
        self.record_ids.extend(ids)
        return ids

    def sync(self, sleep: Sleeps | None = None, target: str | None = None) -> SyncReport:
        return sync(self.field, target=target, now=utc_now, sleep=sleep or Sleeps())

    def statuses(self) -> set[RecordStatus]:
        return {self.field.records.get(record_id).summary.status
                for record_id in self.record_ids}

    def import_from(self, url: str, server: WebDavServer,
                    opened: list[TrackedTransport] | None = None) -> ImportReport:
        """Import from `url` as the CLI does; `opened` collects the transports it made."""
        importer = BatchImporter(self.coordinator, self.coordinator_dir / "quarantine",
                                 utc_now)
        made: list[TrackedTransport] = [] if opened is None else opened

        def make_transport(source: str) -> Transport:
            made.append(TrackedTransport(transport_for(
                source, username=server.user, password=server.password)))
            return made[-1]

        try:
            return importer.run([url], make_transport)
        finally:
            # The importer leaves its transports open (see
            # test_import_closes_the_webdav_connections_it_opens); close them here so their
            # sockets do not surface as a ResourceWarning in whichever test runs next.
            for transport in made:
                transport.inner.close()


class TrackedTransport:
    """Wraps a transport to tell whether its user closed it."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.description = inner.description
        self.closed = False

    def put(self, name: str, data: bytes) -> None:
        self.inner.put(name, data)

    def get(self, name: str) -> bytes | None:
        return self.inner.get(name)

    def names(self) -> list[str]:
        return self.inner.names()

    def close(self) -> None:
        self.closed = True
        self.inner.close()


def _deploy(tmp_path: Path, settings: SyncSettings) -> Iterator[Deployment]:
    coordinator_dir = tmp_path / "coordinator"
    coordinator = ProfileStore(coordinator_dir, kdf=weak_kdf()).create(
        "coordinator", ProfileRole.COORDINATOR, PASSPHRASE)
    recipient = coordinator.coordinator_identity().recipient
    raw = build_pack(signing_key=coordinator.coordinator_signing_key(), recipient=recipient,
                     coordinator_name="coordinator", form_paths=[SHIPPED_FORM],
                     services_path=SHIPPED_SERVICES, sync=settings, retention_days=30,
                     demo=False, now=utc_now())
    pack = read_pack(raw)
    field_profile = ProfileStore(tmp_path / "field", kdf=weak_kdf()).create(
        "field", ProfileRole.FIELD, PASSPHRASE, recovery_recipient=pack.recipient)
    field_profile.install_pack(raw, pack.recipient)
    coordinator.devices.enroll(field_profile.device_key().public.raw, "laptop")
    deployment = Deployment(coordinator, field_profile, coordinator_dir, settings,
                            load_form(SHIPPED_FORM))
    try:
        yield deployment
    finally:
        field_profile.lock()
        coordinator.lock()


@pytest.fixture
def deployment(tmp_path, webdav_server) -> Iterator[Deployment]:
    settings = SyncSettings(webdav_server.url, webdav_server.user, webdav_server.password)
    yield from _deploy(tmp_path, settings)


def _real_names(server: WebDavServer) -> dict[str, bytes]:
    """The server's files except upload leftovers (dot files ending in .part)."""
    return {name: data for name, data in server.files().items()
            if not (name.startswith(".") and name.endswith(".part"))}


def _assert_nothing_delivered(deployment: Deployment, server: WebDavServer,
                              report: SyncReport) -> None:
    [batch] = deployment.field.outbox.undelivered()
    assert batch.delivered_at is None
    assert report.delivered_batches == 0
    assert report.pending_batches == 1
    assert deployment.statuses() == {RecordStatus.SEALED}
    assert batch_file_name(batch.batch_id) not in server.files()


# -- the normal case ----------------------------------------------------------------------------


def test_sync_uploads_the_batch_under_its_real_name_and_marks_it_delivered(
        deployment, webdav_server):
    deployment.add_records()
    report = deployment.sync()

    assert report.error is None
    assert (report.sealed_batches, report.sealed_records) == (1, 3)
    assert (report.delivered_batches, report.pending_batches) == (1, 0)
    [batch] = deployment.field.outbox.all()
    assert batch.delivered_at is not None
    assert deployment.field.outbox.undelivered() == []
    # Exactly the sealed bytes, under the real name; the temporary upload was moved away.
    assert webdav_server.files() == {batch_file_name(batch.batch_id): batch.file}
    methods = [method for method, _path in webdav_server.requests]
    assert "PUT" in methods and "MOVE" in methods
    assert deployment.statuses() == {RecordStatus.SEALED}


def test_a_second_sync_uploads_nothing_new(deployment, webdav_server):
    deployment.add_records()
    assert deployment.sync().delivered_batches == 1
    files = webdav_server.files()
    [batch] = deployment.field.outbox.all()
    webdav_server.requests.clear()

    again = deployment.sync()

    assert again.error is None
    assert (again.sealed_batches, again.delivered_batches, again.pending_batches) == (0, 0, 0)
    assert [batch.batch_id for batch in deployment.field.outbox.all()] == [batch.batch_id]
    assert webdav_server.files() == files
    assert not [m for m, _p in webdav_server.requests if m in ("PUT", "MOVE")]


def test_putting_the_same_bytes_again_is_a_no_op(deployment, webdav_server):
    # A retry after a lost confirmation: the relay already holds the file, nothing is sent.
    deployment.add_records()
    deployment.sync()
    [batch] = deployment.field.outbox.all()
    webdav_server.requests.clear()
    transport = WebDavTransport(webdav_server.url, username=webdav_server.user,
                                password=webdav_server.password, timeout=5)
    try:
        transport.put(batch_file_name(batch.batch_id), batch.file)
    finally:
        transport.close()
    assert [m for m, _p in webdav_server.requests] == ["PROPFIND", "GET"]
    assert webdav_server.files() == {batch_file_name(batch.batch_id): batch.file}


# -- failures -----------------------------------------------------------------------------------


def test_server_down_keeps_the_batch_until_it_comes_back(deployment, webdav_server):
    deployment.add_records()
    webdav_server.stop()
    sleeps = Sleeps()

    report = deployment.sync(sleeps)

    assert report.error is not None and "cannot be reached" in report.error
    assert len(sleeps.delays) == 3  # four attempts in all, then it gives up until the next sync
    _assert_nothing_delivered(deployment, webdav_server, report)
    [batch] = deployment.field.outbox.undelivered()

    webdav_server.start()
    later = deployment.sync()

    assert later.error is None
    assert (later.sealed_batches, later.delivered_batches, later.pending_batches) == (0, 1, 0)
    # The same sealed file (same batch id, same bytes) is what finally arrives.
    assert webdav_server.files() == {batch_file_name(batch.batch_id): batch.file}
    assert deployment.field.outbox.undelivered() == []


def test_connection_cut_mid_upload_leaves_no_file_under_the_real_name(
        deployment, webdav_server):
    deployment.add_records()
    webdav_server.fault = "cut"

    report = deployment.sync()

    assert webdav_server.cuts >= 1, "the proxy never cut an upload"
    assert report.error is not None and "cannot be reached" in report.error
    _assert_nothing_delivered(deployment, webdav_server, report)
    [batch] = deployment.field.outbox.undelivered()
    # Whatever the server kept of the cut uploads is shorter and under a temporary name.
    assert _real_names(webdav_server) == {}
    for name, data in webdav_server.files().items():
        assert name.endswith(".part") and len(data) < len(batch.file)

    webdav_server.fault = None
    later = deployment.sync()

    assert later.error is None and later.delivered_batches == 1
    assert _real_names(webdav_server) == {batch_file_name(batch.batch_id): batch.file}


def test_full_server_is_reported_and_not_retried(deployment, webdav_server):
    deployment.add_records()
    webdav_server.fault = "507"
    sleeps = Sleeps()

    report = deployment.sync(sleeps)

    assert report.error is not None and "The sync server is full." in report.error
    assert sleeps.delays == []  # retrying cannot make room: ask the coordinator instead
    assert [m for m, _p in webdav_server.requests].count("PUT") == 1
    _assert_nothing_delivered(deployment, webdav_server, report)


def test_refused_password_is_reported_and_not_retried(deployment, webdav_server):
    deployment.add_records()
    webdav_server.fault = "401"
    sleeps = Sleeps()

    report = deployment.sync(sleeps)

    assert report.error is not None
    assert "refused the user name or password" in report.error
    assert sleeps.delays == []
    assert len(webdav_server.requests) == 1
    _assert_nothing_delivered(deployment, webdav_server, report)


def test_wrong_password_in_the_pack_is_refused_by_the_real_server(tmp_path, webdav_server):
    # Not the injected 401: wsgidav's own Basic auth check turns the password down.
    settings = SyncSettings(webdav_server.url, webdav_server.user, "not the password")
    for deployment in _deploy(tmp_path, settings):
        deployment.add_records()
        sleeps = Sleeps()
        report = deployment.sync(sleeps)
        assert report.error is not None
        assert "refused the user name or password" in report.error
        assert sleeps.delays == []
        _assert_nothing_delivered(deployment, webdav_server, report)


def test_captive_portal_never_counts_as_delivered(deployment, webdav_server):
    deployment.add_records()
    webdav_server.fault = "portal"
    sleeps = Sleeps()

    report = deployment.sync(sleeps)

    assert report.error is not None
    assert "web page" in report.error and "log in" in report.error
    assert len(sleeps.delays) == 3  # worth retrying (the login may happen), but not forever
    _assert_nothing_delivered(deployment, webdav_server, report)
    assert webdav_server.files() == {}


def test_captive_portal_answering_the_receipt_check_marks_nothing_received(
        deployment, webdav_server):
    deployment.add_records()
    assert deployment.sync().delivered_batches == 1
    assert deployment.import_from(webdav_server.url, webdav_server).count("imported") == 1
    webdav_server.fault = "portal"

    report = deployment.sync()

    assert report.error is not None and "web page" in report.error
    assert (report.receipts, report.received_records) == (0, 0)
    assert deployment.statuses() == {RecordStatus.SEALED}


@pytest.mark.parametrize(("state", "expected"), [
    (None, True), ("down", False), ("portal", False), ("401", False)])
def test_target_reachable_only_when_the_real_relay_answers(
        deployment, webdav_server, state, expected):
    # The connectivity watcher syncs when this turns True: a portal's "200 OK" must not.
    if state == "down":
        webdav_server.stop()
    else:
        webdav_server.fault = state
    assert target_reachable(deployment.field) is expected


# -- backoff ------------------------------------------------------------------------------------


def test_transient_failures_back_off_with_growing_jittered_capped_delays(
        deployment, webdav_server):
    deployment.add_records()
    webdav_server.stop()
    rounds = []
    for _ in range(3):
        sleeps = Sleeps()
        assert deployment.sync(sleeps).error is not None
        rounds.append(sleeps.delays)

    for delays in rounds:
        assert len(delays) == 3  # bounded: attempts - 1 pauses, then the sync gives up
        # Attempt k waits between half and all of min(cap, 0.5 * 2**k) seconds.
        for attempt, delay in enumerate(delays):
            ceiling = min(8.0, 0.5 * 2**attempt)
            assert ceiling / 2 <= delay <= ceiling
        assert delays == sorted(delays)
    # Jitter: laptops that come back online together do not retry in step.
    assert len({tuple(delays) for delays in rounds}) > 1
    assert deployment.field.outbox.undelivered() != []


def test_retrying_follows_the_exact_schedule_with_a_fake_jitter():
    jitters = iter([0.0, 1.0, 0.5, 0.25, 1.0])
    sleeps = Sleeps()
    calls = []

    def failing() -> None:
        calls.append(1)
        raise TransportError("down", transient=True)

    with pytest.raises(TransportError, match="down"):
        retrying(failing, attempts=6, base=0.5, cap=3.0, sleep=sleeps,
                 jitter=lambda: next(jitters))

    # min(cap, base * 2**k) * (0.5 + jitter / 2): 0.5*0.5, 1*1, 2*0.75, 3 (capped)*0.625, 3*1
    assert sleeps.delays == [0.25, 1.0, 1.5, 1.875, 3.0]
    assert len(calls) == 6


def test_retrying_returns_once_the_operation_succeeds():
    outcomes = iter([TransportError("a", transient=True), TransportError("b", transient=True),
                     "done"])
    sleeps = Sleeps()

    def operation() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert retrying(operation, sleep=sleeps, jitter=lambda: 0.0) == "done"
    assert sleeps.delays == [0.25, 0.5]


def test_retrying_gives_up_at_once_on_a_permanent_failure():
    sleeps = Sleeps()
    calls = []

    def refused() -> None:
        calls.append(1)
        raise TransportError("refused", transient=False)

    with pytest.raises(TransportError, match="refused"):
        retrying(refused, sleep=sleeps)
    assert (len(calls), sleeps.delays) == (1, [])


# -- HTTPS ----------------------------------------------------------------------------------


def test_https_with_the_private_ca_in_the_pack_delivers(tmp_path, https_webdav_server):
    server = https_webdav_server
    assert server.url.startswith("https://")
    settings = SyncSettings(server.url, server.user, server.password, server.ca_pem)
    for deployment in _deploy(tmp_path, settings):
        deployment.add_records()
        report = deployment.sync()
        assert report.error is None and report.delivered_batches == 1
        [batch] = deployment.field.outbox.all()
        assert server.files() == {batch_file_name(batch.batch_id): batch.file}


def test_https_without_the_ca_is_refused_and_nothing_is_sent(tmp_path, https_webdav_server):
    server = https_webdav_server
    settings = SyncSettings(server.url, server.user, server.password)
    for deployment in _deploy(tmp_path, settings):
        deployment.add_records()
        sleeps = Sleeps()
        report = deployment.sync(sleeps)
        assert report.error is not None
        assert "certificate is not trusted" in report.error
        assert sleeps.delays == []  # a wrong certificate does not fix itself
        # The TLS handshake failed, so not one HTTP request (nor the password) got through.
        assert server.requests == []
        _assert_nothing_delivered(deployment, server, report)


def test_plain_http_to_another_host_is_refused_before_any_connection(tmp_path, monkeypatch):
    connections = []
    original_connect = socket.socket.connect

    def connect(self, address):
        connections.append(address)
        return original_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    # 192.0.2.0/24 is reserved for documentation: nothing would answer there anyway.
    settings = SyncSettings("http://192.0.2.10/dav/", "fieldscreen", "secret")
    for deployment in _deploy(tmp_path, settings):
        deployment.add_records()
        with pytest.raises(UserError, match="https://"):
            deployment.sync()
        with pytest.raises(UserError, match="https://"):
            transport_for("http://relay.example.org/dav/", username="u", password="p")
        assert connections == []
        assert len(deployment.field.outbox.undelivered()) == 1
        assert deployment.statuses() == {RecordStatus.SEALED}


# -- the coordinator's side -------------------------------------------------------------------


def test_import_from_webdav_writes_the_receipt_that_closes_the_records(
        deployment, webdav_server):
    deployment.add_records()
    assert deployment.sync().delivered_batches == 1
    [batch] = deployment.field.outbox.all()

    report = deployment.import_from(webdav_server.url, webdav_server)

    summary = report.to_json()
    assert summary["errors"] == []
    assert summary["batches"] == {"imported": 1, "duplicate": 0, "quarantined": 0}
    assert summary["records"]["imported"] == 3
    assert {record.id for record in deployment.coordinator.inbox.records()} == set(
        deployment.record_ids)
    receipt = receipt_file_name(batch.batch_id)
    assert set(_real_names(webdav_server)) == {batch_file_name(batch.batch_id), receipt}
    assert [name for name in webdav_server.files() if name.endswith(".part")] == []

    after = deployment.sync()

    assert after.error is None
    assert (after.receipts, after.received_records) == (1, 3)
    assert deployment.statuses() == {RecordStatus.RECEIVED}
    assert deployment.field.outbox.awaiting_receipt() == []

    # Importing again is a no-op that answers again (in case a receipt was lost).
    again = deployment.import_from(webdav_server.url, webdav_server).to_json()
    assert again["batches"] == {"imported": 0, "duplicate": 1, "quarantined": 0}
    assert again["errors"] == []


def test_import_closes_the_webdav_connections_it_opens(deployment, webdav_server):
    # A coordinator's app imports many times in one session: each import must give back
    # its HTTP connections (and their sockets) instead of leaving them to the collector.
    deployment.add_records()
    assert deployment.sync().delivered_batches == 1
    opened: list[TrackedTransport] = []

    report = deployment.import_from(webdav_server.url, webdav_server, opened)

    assert report.count("imported") == 1
    assert len(opened) == 1
    assert opened[0].closed, "BatchImporter.run never closed the transport it opened"


@pytest.mark.parametrize("fault", ["down", "401", "portal"])
def test_import_listing_failure_is_a_clear_error_not_a_traceback(
        deployment, webdav_server, monkeypatch, fault):
    # The listing is the first request, so no batch is needed on the server for this.
    # The importer has no `sleep` parameter; give its retries a recording one.
    sleeps = Sleeps()
    monkeypatch.setattr(importer_module, "retrying",
                        functools.partial(retrying, sleep=sleeps))
    if fault == "down":
        webdav_server.stop()
    else:
        webdav_server.fault = fault
    expected = {"down": "cannot be reached", "401": "refused the user name or password",
                "portal": "web page"}[fault]

    report = deployment.import_from(webdav_server.url, webdav_server)

    assert report.batches == []
    assert len(report.errors) == 1 and expected in report.errors[0]
    assert len(sleeps.delays) == (0 if fault == "401" else 3)
    assert deployment.coordinator.inbox.records() == []


def test_import_cli_with_the_server_down_exits_1_with_the_reason(
        tmp_path, webdav_server, monkeypatch, capsys):
    basedir = tmp_path / "cli"
    ProfileStore(AppDirectories.under(basedir).data, kdf=weak_kdf()).create(
        "default", ProfileRole.COORDINATOR, PASSPHRASE).lock()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "pass").write_text(PASSPHRASE + "\n", encoding="utf-8")
    (secrets / "dav").write_text(webdav_server.password + "\n", encoding="utf-8")
    monkeypatch.setattr(importer_module, "retrying",
                        functools.partial(retrying, sleep=Sleeps()))
    webdav_server.stop()

    code = main(["--basedir", str(basedir), "import", webdav_server.url,
                 "--webdav-user", webdav_server.user,
                 "--webdav-password-file", str(secrets / "dav"),
                 "--passphrase-file", str(secrets / "pass")])

    captured = capsys.readouterr()
    assert code == 1
    assert "Error: The sync server cannot be reached." in captured.err
    assert "Traceback" not in captured.err and "bug" not in captured.err
    assert webdav_server.password not in captured.out + captured.err
