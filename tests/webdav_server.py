"""A real WebDAV server for tests: wsgidav on cheroot, on loopback, with faults switched at will.

The sync and import code talk to relays that misbehave in the field: servers that are down,
full, that refuse a password, Wi-Fi captive portals that answer everything with a login
page, and connections that die half-way through an upload. Mocks of httpx would only test
what we believe those look like; this module runs the real thing and breaks it on purpose.

Layout of one server (all on 127.0.0.1)::

    client --TCP--> _CuttingProxy (public port, the one in `url`)
                        --TCP--> cheroot.wsgi.Server (private port)
                                    -> _FaultMiddleware -> wsgidav's WsgiDAVApp -> `root`

* `server.fault` switches faults on and off at runtime:
  - `None`: normal service;
  - `"507"`: every PUT is answered 507 Insufficient Storage;
  - `"401"`: every request is answered 401, whatever the credentials;
  - `"portal"`: every request is answered 200 with an HTML login page (a captive portal);
  - `"cut"`: the proxy forwards a PUT's headers and half of its body, then closes both
    connections, so the client really loses the connection mid-upload and the server
    really sees a truncated body (plain HTTP only: the proxy cannot read TLS).
* `server.stop()` / `server.start()` take the whole server down (connections are refused)
  and bring it back on the same public port.
* `server.requests` lists the `(method, path)` of every request that reached WebDAV.

Use it with `from tests.webdav_server import webdav_server  # noqa: F401` (and
`https_webdav_server` for the TLS variant, whose CA is `server.ca_pem`). Ruff then reports
each test parameter called `webdav_server` as a redefinition (F811); binding the fixture by
assignment instead (`from tests import webdav_server as dav`, then
`webdav_server = dav.webdav_server`) avoids that, as tests/unit/exchange/test_transports.py does.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wsgidav
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from wsgidav.wsgidav_app import WsgiDAVApp

USER = "fieldscreen"
PASSWORD = "relay password 42"
MOUNT = "/dav"
FAULTS = (None, "507", "401", "portal", "cut")

PORTAL_PAGE = (b"<!DOCTYPE html><html><head><title>Welcome to CafeNet</title></head><body>"
               b"<form action='/login'>Accept the terms to use the Wi-Fi "
               b"<input type='submit' value='Log in'></form></body></html>")

# Importing wsgidav (above) sets its logger to INFO, and it logs a line for every request;
# tests only want real problems. (Its one warning, that Basic auth without TLS is unsafe, is
# true, which is why the app allows http:// only to loopback.)
for _name in (wsgidav.__name__, "cheroot"):
    logging.getLogger(_name).setLevel(logging.WARNING)


# -- WSGI fault injection ---------------------------------------------------------------------


def _drain(environ: dict[str, Any]) -> None:
    # Read the request body before answering: a server that answers without reading it
    # makes the client see a reset instead of the status we mean to test.
    stream = environ.get("wsgi.input")
    try:
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        remaining = 0
    while stream is not None and remaining > 0:
        chunk = stream.read(min(remaining, 65536))
        if not chunk:
            break
        remaining -= len(chunk)


class _FaultMiddleware:
    """Sits in front of wsgidav and answers instead of it while a fault is switched on."""

    def __init__(self, app: Callable[..., Iterable[bytes]], owner: WebDavServer) -> None:
        self._app = app
        self._owner = owner

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        self._owner.requests.append((method, environ.get("PATH_INFO", "")))
        fault = self._owner.fault
        if fault == "401":
            _drain(environ)
            body = b"Unauthorized"
            start_response("401 Unauthorized", [
                ("WWW-Authenticate", 'Basic realm="FieldScreen relay"'),
                ("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        if fault == "507" and method == "PUT":
            _drain(environ)
            body = b"Insufficient Storage: quota exceeded"
            start_response("507 Insufficient Storage", [
                ("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        if fault == "portal":
            # A captive portal intercepts everything and says "200 OK" with a login page.
            _drain(environ)
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                      ("Content-Length", str(len(PORTAL_PAGE)))])
            return [PORTAL_PAGE]
        return self._app(environ, start_response)


# -- a TCP proxy that can cut an upload ------------------------------------------------------


class _CuttingProxy:
    """Forwards TCP between clients and the backend; in `cut` mode it kills PUT uploads.

    One thread accepts, one thread per connection pumps both directions with select(); all
    of them poll a stop flag so `close()` can join every one of them.
    """

    POLL = 0.05

    def __init__(self, port: int, backend: tuple[str, int], owner: WebDavServer) -> None:
        self._backend = backend
        self._owner = owner
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # create_server sets SO_REUSEADDR, so the same port can be bound again right after
        # a stop() even while old connections linger in TIME_WAIT.
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(self.POLL)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop,
                                          name=f"webdav-proxy-{self.port}", daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True,
                                      name=f"webdav-proxy-conn-{self.port}")
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._backend, timeout=5)
        except OSError:
            client.close()
            return
        try:
            self._pump(client, upstream)
        except OSError:
            pass  # either side went away: the connection simply ends, like a real network
        finally:
            upstream.close()
            client.close()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        held = b""  # the start of a PUT held back until we know where to cut it
        while not self._stopping.is_set():
            readable, _w, _x = select.select([client, upstream], [], [], self.POLL)
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                if sock is upstream:
                    client.sendall(data)
                    continue
                if self._owner.fault == "cut" and (held or data.startswith(b"PUT ")):
                    held += data
                    cut = self._cut_point(held)
                    if cut is None:
                        continue  # the headers are not complete yet
                    upstream.sendall(held[:cut])
                    self._owner.cuts += 1
                    return  # closes both sockets: mid-upload for client and server alike
                upstream.sendall(data)

    @staticmethod
    def _cut_point(held: bytes) -> int | None:
        end = held.find(b"\r\n\r\n")
        if end < 0:
            return None
        length = 0
        for line in held[:end].split(b"\r\n")[1:]:
            name, _sep, value = line.partition(b":")
            if name.strip().lower() == b"content-length" and value.strip().isdigit():
                length = int(value.strip())
        # Half the body: the server has begun writing the file, the client is not done.
        cut = end + 4 + length // 2
        return cut if len(held) >= cut else None

    def close(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)


# -- TLS material ---------------------------------------------------------------------------


def make_certificates(folder: Path) -> tuple[str, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1; returns (CA PEM, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "FieldScreen test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        # Clients match an IP address only against an IP SAN, never the common name.
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = folder / "server.pem"
    key_path = folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return ca_pem, cert_path, key_path


# -- the server --------------------------------------------------------------------------------


class WebDavServer:
    """wsgidav serving `root` at `url` with Basic auth, behind switchable faults.

    Args:
        root: the folder the WebDAV collection maps to.
        tls: (certificate path, key path) to serve HTTPS with cheroot's BuiltinSSLAdapter.
        ca_pem: the PEM of the CA that signed the certificate (kept for tests).
    """

    def __init__(self, root: Path, *, tls: tuple[Path, Path] | None = None,
                 ca_pem: str | None = None) -> None:
        self.root = root
        self.user = USER
        self.password = PASSWORD
        self.ca_pem = ca_pem
        self._fault: str | None = None
        self.requests: list[tuple[str, str]] = []
        self.cuts = 0
        self._tls = tls
        self._port = 0  # chosen by the first start(), then kept
        self._backend: Any = None
        self._backend_thread: threading.Thread | None = None
        self._proxy: _CuttingProxy | None = None

    @property
    def fault(self) -> str | None:
        """The fault switched on: None, "507", "401", "portal" or "cut"."""
        return self._fault

    @fault.setter
    def fault(self, value: str | None) -> None:
        # A typo would otherwise test the happy path while claiming to test a fault.
        if value not in FAULTS:
            raise ValueError(f"unknown fault {value!r}; choose one of {FAULTS}")
        if value == "cut" and self._tls is not None:
            raise ValueError("the proxy cannot find a PUT inside TLS; cut plain HTTP only")
        self._fault = value

    @property
    def scheme(self) -> str:
        return "https" if self._tls else "http"

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._port}{MOUNT}/"

    @property
    def running(self) -> bool:
        return self._proxy is not None

    def _app(self) -> Any:
        config = {
            "host": "127.0.0.1",
            "port": self._port,
            "provider_mapping": {MOUNT: str(self.root)},
            "http_authenticator": {
                "domain_controller": None,  # None means wsgidav's SimpleDomainController
                "accept_basic": True,
                "accept_digest": False,
                "default_to_digest": False,
            },
            "simple_dc": {"user_mapping": {"*": {self.user: {"password": self.password}}}},
            "verbose": 1,
            "logging": {"enable": False},
            "dir_browser": {"enable": False},
            "property_manager": True,
            "lock_storage": True,
        }
        app = WsgiDAVApp(config)
        return _FaultMiddleware(app, self)

    def start(self) -> None:
        """Bring the server up (again) on its public port."""
        if self.running:
            return
        backend = wsgi.Server(("127.0.0.1", 0), self._app(), numthreads=4, timeout=5,
                              shutdown_timeout=2)
        # cheroot's serve loop checks for stop() this often (0.5 s by default): keeps
        # stop() and every fixture teardown short.
        backend.expiration_interval = 0.05
        if self._tls is not None:
            backend.ssl_adapter = BuiltinSSLAdapter(str(self._tls[0]), str(self._tls[1]))
        backend.prepare()  # binds now, so the port is listening before start() returns
        thread = threading.Thread(target=backend.serve, name="webdav-cheroot", daemon=True)
        thread.start()
        self._backend, self._backend_thread = backend, thread
        host, port = backend.bind_addr[:2]
        self._proxy = _CuttingProxy(self._port, (host, port), self)
        self._port = self._proxy.port

    def stop(self) -> None:
        """Take the server down: connections to its port are refused until start()."""
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        if self._backend is not None:
            self._backend.stop()
            self._backend = None
        if self._backend_thread is not None:
            self._backend_thread.join(timeout=10)
            self._backend_thread = None

    def files(self) -> dict[str, bytes]:
        """Every file in the served folder, by name (dot files included)."""
        return {path.name: path.read_bytes() for path in sorted(self.root.iterdir())
                if path.is_file()}


def _wait_for_threads(before: set[threading.Thread], timeout: float = 10.0) -> list[str]:
    # cheroot's stop() signals some helper threads (e.g. the one for unservicable
    # connections) without joining them; give them a moment, then name any left over.
    deadline = time.monotonic() + timeout
    while True:
        left = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not left or time.monotonic() > deadline:
            return [t.name for t in left]
        time.sleep(0.02)


def _serve(root: Path, **options: Any) -> Iterator[WebDavServer]:
    before = set(threading.enumerate())
    server = WebDavServer(root, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        left = _wait_for_threads(before)
        assert not left, f"threads left running after the WebDAV server stopped: {left}"


@pytest.fixture
def webdav_server(tmp_path: Path) -> Iterator[WebDavServer]:
    """A plain-HTTP WebDAV server on loopback (the app allows http:// only there)."""
    root = tmp_path / "webdav-root"
    root.mkdir()
    yield from _serve(root)


@pytest.fixture
def https_webdav_server(tmp_path: Path) -> Iterator[WebDavServer]:
    """An HTTPS WebDAV server whose certificate a private CA (`server.ca_pem`) signed."""
    root = tmp_path / "webdav-root"
    root.mkdir()
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    ca_pem, cert, key = make_certificates(tls_dir)
    yield from _serve(root, tls=(cert, key), ca_pem=ca_pem)
