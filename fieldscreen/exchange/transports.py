"""Moving sealed files to and from a relay: a folder (USB stick, synced folder) or WebDAV.

The relay is untrusted storage that only ever sees age files and signed receipts. Every
upload is confirmed (the stored size must match) before a batch counts as delivered, so a
captive portal answering "200 OK" with a login page never makes records look sent.
"""

from __future__ import annotations

import ipaddress
import random
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, unquote, urlsplit

from fieldscreen.errors import UserError
from fieldscreen.files import write_atomically
from fieldscreen.i18n import _

T = TypeVar("T")
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
MAX_LISTING_BYTES = 16 * 1024 * 1024
_DAV = "{DAV:}"


class TransportError(UserError):
    """A relay could not be used. `transient` errors are worth retrying after a pause."""

    def __init__(self, message: str, *, hint: str | None = None, transient: bool) -> None:
        super().__init__(message, hint=hint)
        self.transient = transient


class Transport(Protocol):
    """A place batches and receipts are put and fetched by name."""

    description: str

    def put(self, name: str, data: bytes) -> None:
        """Store `data` under `name` and confirm it is stored; same bytes again is a no-op."""

    def get(self, name: str) -> bytes | None:
        """The file called `name`, or None when there is none."""

    def names(self) -> list[str]:
        """The names of the files at the relay."""

    def reachable(self) -> bool:
        """Whether the relay answers now (a cheap probe; never raises)."""

    def close(self) -> None: ...


def retrying(operation: Callable[[], T], *, attempts: int = 4, base: float = 0.5,
             cap: float = 8.0, sleep: Callable[[float], None] = time.sleep,
             jitter: Callable[[], float] = random.random) -> T:
    """Run `operation`, retrying transient TransportErrors with exponential backoff and jitter.

    Jitter keeps many laptops that regain a connection at once from retrying in step.
    """
    for attempt in range(attempts):
        try:
            return operation()
        except TransportError as error:
            if not error.transient or attempt == attempts - 1:
                raise
            sleep(min(cap, base * 2**attempt) * (0.5 + jitter() / 2))
    raise AssertionError("unreachable")


# -- folder -----------------------------------------------------------------------------------


class FolderTransport:
    """A folder: a USB stick, or a folder Syncthing / OneDrive / Nextcloud keeps in sync."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = str(folder)

    def _require(self) -> None:
        if not self.folder.is_dir():
            raise TransportError(
                _("The sync folder {folder} is not there.").format(folder=self.folder),
                hint=_("Plug in the USB stick (or check the synced folder), then sync again."),
                transient=True)

    def put(self, name: str, data: bytes) -> None:
        self._require()
        target = self.folder / name
        try:
            if target.is_file() and target.read_bytes() == data:
                return
            write_atomically(target, data, mode=0o644)
            # A failing stick can accept a write and return other bytes: read it back.
            if target.read_bytes() != data:
                raise TransportError(_("The file written to {folder} reads back differently."
                                       ).format(folder=self.folder),
                                     hint=_("The USB stick may be failing; use another one."),
                                     transient=False)
        except OSError as error:
            raise _folder_error(self.folder, error, writing=True) from None

    def get(self, name: str) -> bytes | None:
        self._require()
        path = self.folder / name
        try:
            if not path.is_file():
                return None
            if path.stat().st_size > MAX_DOWNLOAD_BYTES:
                raise TransportError(_("{name} is too large to be a FieldScreen file.").format(
                    name=name), transient=False)
            return path.read_bytes()
        except OSError as error:
            raise _folder_error(self.folder, error) from None

    def names(self) -> list[str]:
        self._require()
        try:
            return sorted(entry.name for entry in self.folder.iterdir() if entry.is_file())
        except OSError as error:
            raise _folder_error(self.folder, error) from None

    def reachable(self) -> bool:
        return self.folder.is_dir()

    def close(self) -> None:
        pass


def _folder_error(folder: Path, error: OSError, *, writing: bool = False) -> TransportError:
    import errno

    if error.errno == errno.ENOSPC:
        return TransportError(_("The sync folder {folder} is full.").format(folder=folder),
                              hint=_("Free space on the stick or use another one."),
                              transient=False)
    if error.errno == errno.EROFS or (writing and error.errno in (errno.EACCES, errno.EPERM)):
        # Waiting does not make a write-protected stick writable: no retries.
        return TransportError(_("The sync folder {folder} is read-only.").format(folder=folder),
                              hint=_("Turn off the USB stick's write protection, or choose a "
                                     "folder you can write to, then sync again."),
                              transient=False)
    return TransportError(_("Cannot use the sync folder {folder}: {reason}").format(
        folder=folder, reason=error.strerror or error), transient=True)


# -- WebDAV -----------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebDavTransport:
    """A WebDAV collection (Nextcloud, Apache/nginx dav, rclone serve webdav, wsgidav).

    Uses HTTPS with the server's certificate verified; plain HTTP is accepted only to this
    computer itself (loopback), because Basic auth would otherwise cross the network in
    clear.

    Args:
        url: the collection's URL.
        username, password: Basic auth credentials, if the server needs them.
        ca_certificate: PEM text of a private certificate authority to trust, for a
            self-hosted server; the system's authorities are used otherwise.
        timeout: seconds for connecting and for each read or write.
    """

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 ca_certificate: str | None = None, timeout: float = 30.0) -> None:
        import httpx  # imported here: only syncing needs it

        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise UserError(_("'{url}' is not a web address (https://...).").format(url=url))
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise UserError(_("The sync address must use https://, so the password and files "
                              "are protected on the way."),
                            hint=_("Ask your coordinator for the https:// address."))
        self.base = url if url.endswith("/") else url + "/"
        port = f":{parts.port}" if parts.port else ""
        # Never the credentials: the description is shown and logged.
        self.description = f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
        auth = httpx.BasicAuth(username, password or "") if username else None
        verify: Any = True
        if ca_certificate is not None:
            import ssl

            try:
                verify = ssl.create_default_context(cadata=ca_certificate)
            except (ssl.SSLError, ValueError):
                raise UserError(_("The certificate authority in the deployment pack is not "
                                  "valid PEM.")) from None
        self._httpx = httpx
        self._client = httpx.Client(auth=auth, verify=verify, timeout=timeout,
                                    follow_redirects=False)

    def _url(self, name: str) -> str:
        return self.base + quote(name)

    def _request(self, method: str, url: str, **kwargs: Any) -> Any:
        httpx = self._httpx
        try:
            return self._client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise TransportError(_("The sync server did not answer in time."),
                                 hint=_("The connection may be slow; FieldScreen will try "
                                        "again."), transient=True) from None
        except httpx.TransportError as error:
            certificate = "CERTIFICATE" in str(error).upper()
            if certificate:
                raise TransportError(
                    _("The sync server's certificate is not trusted, so nothing was sent."),
                    hint=_("Check the address; if the server is your organisation's own, "
                           "the deployment pack must include its certificate authority."),
                    transient=False) from None
            raise TransportError(_("The sync server cannot be reached."),
                                 hint=_("FieldScreen will try again when the connection "
                                        "returns."), transient=True) from None

    def _fail(self, response: Any, what: str) -> TransportError:
        status = response.status_code
        if status in (401, 403):
            return TransportError(_("The sync server refused the user name or password."),
                                  hint=_("Ask your coordinator for a new deployment pack."),
                                  transient=False)
        if status == 507:
            return TransportError(_("The sync server is full."),
                                  hint=_("Tell your coordinator; your records stay safe on "
                                         "this laptop until then."), transient=False)
        if status in (300, 301, 302, 303, 307, 308) or _looks_like_portal(response):
            return TransportError(
                _("The network sent a web page instead of the sync server (a Wi-Fi login "
                  "page?)."),
                hint=_("Open a browser and log in to the Wi-Fi, then sync again."),
                transient=True)
        if status >= 500 or status in (408, 429):
            return TransportError(_("The sync server had a problem ({status}) while {what}."
                                    ).format(status=status, what=what), transient=True)
        return TransportError(_("The sync server answered {status} while {what}.").format(
            status=status, what=what), transient=False)

    def _stored_size(self, url: str) -> int | None:
        response = self._request("PROPFIND", url, headers={"Depth": "0"})
        if response.status_code == 404:
            return None
        if response.status_code != 207 or not _is_xml(response):
            raise self._fail(response, _("checking an upload"))
        for entry in _multistatus(response.content):
            if entry["size"] is not None:
                return entry["size"]
        return None

    def put(self, name: str, data: bytes) -> None:
        final = self._url(name)
        if self._stored_size(final) == len(data):
            existing = self.get(name)
            if existing == data:
                return
        # Upload under a temporary name, then MOVE: a cut connection never leaves a
        # half-written batch under its real name.
        partial = self._url(f".{name}.{uuid.uuid4().hex}.part")
        response = self._request("PUT", partial, content=data,
                                 headers={"Content-Type": "application/octet-stream"})
        # Servers may describe a successful PUT in an HTML body, so only the status counts
        # here; a captive portal is caught by the MOVE and the size check that follow.
        if response.status_code not in (200, 201, 204):
            raise self._fail(response, _("uploading"))
        response = self._request("MOVE", partial, headers={"Destination": final,
                                                           "Overwrite": "T"})
        if response.status_code not in (201, 204):
            self._request("DELETE", partial)
            raise self._fail(response, _("finishing an upload"))
        if self._stored_size(final) != len(data):
            raise TransportError(_("The sync server did not keep the whole file."),
                                 hint=_("FieldScreen will send it again."), transient=True)

    def get(self, name: str) -> bytes | None:
        response = self._request("GET", self._url(name))
        if response.status_code == 404:
            return None
        if response.status_code != 200 or _looks_like_portal(response):
            raise self._fail(response, _("downloading"))
        if len(response.content) > MAX_DOWNLOAD_BYTES:
            raise TransportError(_("{name} is too large to be a FieldScreen file.").format(
                name=name), transient=False)
        return response.content

    def names(self) -> list[str]:
        response = self._request("PROPFIND", self.base, headers={"Depth": "1"})
        if response.status_code != 207 or not _is_xml(response):
            raise self._fail(response, _("listing files"))
        base_path = urlsplit(self.base).path
        found = []
        for entry in _multistatus(response.content):
            path = unquote(urlsplit(entry["href"]).path)
            if entry["collection"] or path.rstrip("/") == unquote(base_path).rstrip("/"):
                continue
            found.append(path.rsplit("/", 1)[-1])
        return sorted(found)

    def reachable(self) -> bool:
        try:
            response = self._request("PROPFIND", self.base, headers={"Depth": "0"},
                                     timeout=5.0)
        except TransportError:
            return False
        # A captive portal answers too, with a web page: that is not the relay.
        return response.status_code == 207 and _is_xml(response)

    def close(self) -> None:
        self._client.close()


def _is_xml(response: Any) -> bool:
    kind = response.headers.get("content-type", "")
    return "xml" in kind


def _looks_like_portal(response: Any) -> bool:
    # A captive portal answers any request with an HTML page and a success status.
    return "text/html" in response.headers.get("content-type", "")


def _multistatus(content: bytes) -> list[dict[str, Any]]:
    if len(content) > MAX_LISTING_BYTES:
        raise TransportError(_("The sync server's listing is too large."), transient=False)
    try:
        root = ElementTree.fromstring(content)  # noqa: S314 - expat refuses external entities
    except ElementTree.ParseError:
        raise TransportError(_("The sync server's answer is not valid WebDAV."),
                             transient=True) from None
    entries = []
    for response in root.iter(f"{_DAV}response"):
        href = response.findtext(f"{_DAV}href") or ""
        size_text = None
        collection = False
        for prop in response.iter(f"{_DAV}prop"):
            size_text = prop.findtext(f"{_DAV}getcontentlength") or size_text
            if prop.find(f"{_DAV}resourcetype/{_DAV}collection") is not None:
                collection = True
        try:
            size = int(size_text) if size_text is not None else None
        except ValueError:
            size = None
        entries.append({"href": href, "size": size, "collection": collection})
    return entries


def transport_for(target: str, *, username: str | None = None, password: str | None = None,
                  ca_certificate: str | None = None) -> Transport:
    """The transport for a folder path or an http(s) URL."""
    if target.startswith(("https://", "http://")):
        return WebDavTransport(target, username=username, password=password,
                               ca_certificate=ca_certificate)
    return FolderTransport(Path(target).expanduser())
