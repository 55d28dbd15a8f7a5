"""Deployment packs: what a coordinator hands to field laptops, signed so it cannot be altered.

A pack carries every coordinator of the deployment (each one's age recipient and signing
key), the checklist forms, their media (recordings and pictures, with generated readings),
the services directory, the sync settings and the retention policy. The first pack a profile
installs pins its coordinators' signing keys; a later pack (form updates, coordinators added
or removed) must be signed by a coordinator the installed pack lists, so a coordinator
removed from the installed pack can no longer sign one.
"""

from __future__ import annotations

import binascii
import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from fieldscreen.errors import SourceProblems, UserError
from fieldscreen.exchange.strict_json import loads_strict
from fieldscreen.forms.loader import load_form_text
from fieldscreen.forms.media import (
    AUDIO,
    JPEG,
    MAX_MEDIA_BYTES,
    MAX_MEDIA_FILES,
    MEDIA_NAME,
    MEDIA_TYPES,
    OGG_EXTENSIONS,
    PNG,
    FormAudio,
    QuestionAudio,
    is_generated_name,
    limit_for,
    media_folder,
    media_kind,
    referenced_names,
    sniff,
)
from fieldscreen.forms.schema import Form
from fieldscreen.forms.services import ServicesDirectory, read_services
from fieldscreen.forms.yamlsource import parse_yaml
from fieldscreen.i18n import _
from fieldscreen.store.crypto import (
    CryptoError,
    SigningKey,
    VerifyKey,
    b64,
    canonical_json,
    check_age_recipient,
    unb64,
)
from fieldscreen.store.incoming import device_id_for

if TYPE_CHECKING:
    from fieldscreen.exchange.speech import SpeechEngine
    from fieldscreen.store.profile import UnlockedProfile

# Version 2 adds `sequence`: packs are ordered by it, never by their clock-made date.
# Version 3 adds `linkage`: the deployment's linkage key, sealed to each enrolled device.
# Version 5 adds `coordinators`: every coordinator of the deployment; `coordinator` is the
# one who signed. Version 4 added `media`: recordings and pictures, each file's digest
# signed in the content.
PACK_FORMAT = "fieldscreen-pack/5"
MEDIA_PACK_FORMAT = "fieldscreen-pack/4"  # still read: one coordinator
LINKAGE_PACK_FORMAT = "fieldscreen-pack/3"  # still read: a pack without media
PREVIOUS_PACK_FORMAT = "fieldscreen-pack/2"  # still read: a pack without linkage
FIRST_PACK_FORMAT = "fieldscreen-pack/1"  # still read: sequence 0, older than any later one
_SEQUENCED = (PACK_FORMAT, MEDIA_PACK_FORMAT, LINKAGE_PACK_FORMAT, PREVIOUS_PACK_FORMAT)
_WITH_LINKAGE = (PACK_FORMAT, MEDIA_PACK_FORMAT, LINKAGE_PACK_FORMAT)
_WITH_MEDIA = (PACK_FORMAT, MEDIA_PACK_FORMAT)
# Coordinators of one deployment: a batch is sealed to each of them, and a laptop checks a
# receipt or pack against each, so the list is short by design (a pack listing thousands
# would make every batch's age header as long).
MAX_COORDINATORS = 16
MAX_COORDINATOR_NAME = 200
MAX_PACK_SEQUENCE = 2**31
SIGNATURE_DOMAIN = "deployment-pack"
# Media (at most 40 MiB, base64 in the file) made 8 MiB too small: a checklist read aloud
# in five languages is a few MiB, and recorded human voices more (decision 63).
MAX_PACK_BYTES = 64 * 1024 * 1024
# Everything but the media (the signed content, as base64 text: forms, services, settings,
# envelopes) keeps the 8 MiB the whole pack had before media: forms are slow to check,
# media files are only hashed.
MAX_CONTENT_BYTES = 8 * 1024 * 1024
# A recording handed to the pack writer in WAV or FLAC is larger than the Ogg it becomes.
MAX_MEDIA_SOURCE_BYTES = 32 * 1024 * 1024
DEFAULT_RETENTION_DAYS = 30
# A century: longer than any policy, and short enough that "now minus the retention" is
# still a date (a larger number would make the laptop's purge fail with OverflowError).
MAX_RETENTION_DAYS = 36_600
# The linkage key (HMAC-SHA-256 key of the child codes) and its envelopes: one per enrolled
# device, each an age file of a few hundred bytes sealed to the device's ssh-ed25519 key.
LINKAGE_KEY_BYTES = 32
LINKAGE_PURPOSE = "fieldscreen-linkage-key/1"
MAX_ENVELOPES = 2000
MAX_ENVELOPE_BYTES = 2048
_DEVICE_ID = frozenset("0123456789abcdef")


class PackRefused(UserError):
    """A deployment pack that cannot be trusted or used."""


def absolute_sync_target(target: str) -> str:
    """The target a pack records: a folder as an absolute path, a URL as it is.

    A relative folder ("relay") would be looked up from wherever the laptop happens to start
    FieldScreen, so the pack writer fixes it to the folder it means now (decision 34).
    """
    if "://" in target:
        return target
    return str(Path(target).expanduser().resolve())


def is_relative_folder(target: str) -> bool:
    """Whether `target` is a folder given relative to the current directory."""
    return "://" not in target and not Path(target).expanduser().is_absolute()


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """Where field laptops deliver batches: a folder or a WebDAV URL."""

    target: str
    username: str | None = None
    password: str | None = None
    # PEM of a private certificate authority for a self-hosted HTTPS server (optional).
    ca_certificate: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "username": self.username, "password": self.password,
                "ca_certificate": self.ca_certificate}


@dataclass(frozen=True, slots=True)
class PackCoordinator:
    """One coordinator of the deployment, as a pack lists them."""

    name: str
    recipient: str  # the age X25519 recipient batches are sealed to
    signing_key: VerifyKey  # signs packs and receipts

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "age_recipient": self.recipient,
                "signing_key": b64(self.signing_key.raw)}


@dataclass(frozen=True, slots=True)
class DeploymentPack:
    """A verified pack's contents.

    `coordinator_name`, `recipient` and `signing_key` are the coordinator who signed it;
    `coordinators` lists every coordinator of the deployment, the signer among them.
    """

    pack_id: str
    created_at: str
    coordinator_name: str
    recipient: str
    signing_key: VerifyKey
    forms: tuple[Form, ...]
    form_sources: tuple[str, ...] = field(repr=False)
    services: ServicesDirectory | None = None
    services_source: str | None = field(default=None, repr=False)
    sync: SyncSettings | None = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    demo: bool = False
    # The coordinator's pack counter (format 2); 0 for a format-1 pack.
    sequence: int = 0
    # The linkage key sealed to each enrolled device, by device id (format 3); empty when
    # the deployment collects no child codes.
    envelopes: dict[str, bytes] = field(default_factory=dict, repr=False)
    # Media files by name (format 4): the forms' recordings (Ogg) and pictures (PNG, JPEG)
    # and the readings generated for them, each checked against its signed digest and type.
    media: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}),
                                       repr=False)

    def question_audio(self, form_id: str | None = None) -> QuestionAudio:
        """What the wizard plays for the questions of this pack's form (`form_id` or the
        first), in `QuestionAudio` form."""
        return FormAudio(self.form(form_id), self.media)

    def listen_audio(self) -> QuestionAudio | None:
        """What the field wizard plays when the worker presses Listen; None when the pack
        carries no audio at all, so the wizard offers no Listen button (and loads no sound
        libraries)."""
        if not any(is_generated_name(name) or media_kind(name) == "audio"
                   for name in self.media):
            return None
        return self.question_audio()

    # Every coordinator of the deployment (format 5); before, the signer alone.
    coordinators: tuple[PackCoordinator, ...] = ()

    @property
    def recipients(self) -> tuple[str, ...]:
        """The age recipients a batch is sealed to: every coordinator's."""
        return tuple(entry.recipient for entry in self.coordinators) or (self.recipient,)

    @property
    def signing_keys(self) -> tuple[VerifyKey, ...]:
        """The keys a receipt or a later pack may be signed with: every coordinator's."""
        return tuple(entry.signing_key for entry in self.coordinators) or (self.signing_key,)

    def is_older_than(self, other: DeploymentPack) -> bool:
        """Whether this pack came before `other` from the same coordinator.

        By the coordinator's counter: a pack dated by a wrong clock (2099) must never block
        every later genuine pack. Two format-1 packs, which have no counter, fall back to
        their dates.
        """
        if self.sequence or other.sequence:
            return self.sequence < other.sequence
        return self.created_at < other.created_at

    def form(self, form_id: str | None = None) -> Form:
        """The pack's form with that id, or its first form."""
        for form in self.forms:
            if form_id is None or form.id == form_id:
                return form
        raise UserError(_("The deployment pack has no form '{id}'.").format(id=form_id))


def build_pack(*, signing_key: SigningKey, recipient: str, coordinator_name: str,
               form_paths: list[Path], services_path: Path | None, sync: SyncSettings | None,
               retention_days: int, demo: bool, now: dt.datetime, sequence: int = 1,
               linkage: LinkageShare | None = None,
               speech: SpeechEngine | None = None,
               coordinators: Sequence[PackCoordinator] = ()) -> bytes:
    """Validate the files and write a signed pack (UTF-8 JSON bytes).

    With `linkage`, the deployment's linkage key goes in sealed to each of its devices
    (never in clear: the pack itself is signed, not encrypted). The media each form names
    comes from its `<form>-media` folder; with `speech`, every child question and answer
    without a recording in a language is read by espeak-ng (exchange/speech.py).
    `coordinators` lists every coordinator of the deployment (`deployment_coordinators`);
    the signer (`signing_key`, `recipient`, `coordinator_name`) must be one of them, and is
    the only one when it is empty.

    Raises:
        SourceProblems: a form or the services file is not valid.
        UserError: a media file is missing, too large or not what its name says; the
            coordinators listed are too many, or list one twice.
    """
    from fieldscreen.forms.translations import with_catalog_languages

    signer = PackCoordinator(coordinator_name, check_age_recipient(recipient),
                             signing_key.public)
    listed = tuple(coordinators) or (signer,)
    _check_coordinators(listed)
    if not any(entry.signing_key.raw == signer.signing_key.raw
               and entry.recipient == signer.recipient for entry in listed):
        raise ValueError("the coordinator signing a pack must be one of those it lists")
    forms = []
    media: dict[str, bytes] = {}
    for path in form_paths:
        text = _read(path)
        form = load_form_text(text, str(path))
        forms.append({"id": form.id, "version": form.version, "yaml": text})
        for name, data in _form_media(form, path).items():
            if media.setdefault(name, data) != data:
                # One name, one file in the pack: two forms cannot mean two recordings.
                raise _media_refused(name, _("another form of the pack names a different "
                                             "file by the same name"))
        if speech is not None:
            from fieldscreen.exchange.speech import readings

            # The languages the field wizard offers: the form's and its catalogs'.
            media.update(speech.generate(readings(with_catalog_languages(form), media)))
    services = None
    if services_path is not None:
        services = _read(services_path)
        read_services(parse_yaml(services, str(services_path)), str(services_path))
    if not 1 <= sequence <= MAX_PACK_SEQUENCE:
        raise ValueError("a pack sequence is 1 to 2^31")
    pack_id = str(uuid.uuid4())
    content = {
        "sequence": sequence,
        "pack_id": pack_id,
        "created_at": now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "coordinator": signer.to_json(),
        "coordinators": [entry.to_json() for entry in listed],
        "forms": forms,
        "services": services,
        "sync": sync.to_json() if sync else None,
        "retention": {"received_days": retention_days},
        "demo": demo,
        "linkage": _envelopes(linkage, pack_id) if linkage is not None else None,
        "media": _media_index(media),
    }
    raw = canonical_json(content)
    if len(raw) > MAX_CONTENT_BYTES // 4 * 3:
        raise UserError(_("The forms and settings of the deployment pack would be larger "
                          "than {size} MiB.").format(size=MAX_CONTENT_BYTES >> 20),
                        hint=_("Put fewer forms in one pack."))
    pack = json.dumps({
        "format": PACK_FORMAT,
        "content": b64(raw),
        "signature": b64(signing_key.sign(SIGNATURE_DOMAIN, raw)),
        "media": {name: b64(data) for name, data in sorted(media.items())},
    }, indent=1).encode("utf-8")
    if len(pack) > MAX_PACK_BYTES:
        raise UserError(_("The deployment pack would be larger than {size} MiB.").format(
            size=MAX_PACK_BYTES >> 20), hint=_("Use shorter or fewer recordings, or smaller "
                                               "pictures."))
    return pack


# -- media ----------------------------------------------------------------------------------


def _form_media(form: Form, path: Path) -> dict[str, bytes]:
    """The media files `form` names, from its media folder, checked and with recordings in
    Ogg (WAV, FLAC and MP3 are encoded to Ogg Vorbis here, on the coordinator)."""
    folder = media_folder(path)
    found: dict[str, bytes] = {}
    for name, kind in sorted(referenced_names(form).items()):
        file = folder / name
        try:
            if file.stat().st_size > MAX_MEDIA_SOURCE_BYTES:
                raise _media_refused(name, _("it is larger than {size} MiB").format(
                    size=MAX_MEDIA_SOURCE_BYTES >> 20))
            data = file.read_bytes()
        except FileNotFoundError:
            raise UserError(_("The form {form} names the media file '{name}', which is not "
                              "in {folder}.").format(form=path, name=name, folder=folder),
                            hint=_("Put the file there, or remove its name from the form "
                                   "(fieldscreen forms check lists every missing one).")) from None
        except OSError as error:
            raise UserError(_("Cannot read {path}: {reason}").format(
                path=file, reason=error.strerror or error)) from None
        found[name] = _checked_media(name, kind, data)
    return found


def _media_refused(name: str, reason: str) -> UserError:
    return UserError(_("The media file '{name}' cannot go in the pack: {reason}.").format(
        name=name, reason=reason), hint=_("Replace the file in the form's media folder."))


def _checked_media(name: str, kind: str, data: bytes) -> bytes:
    found = sniff(data)
    if kind == "audio" and Path(name).suffix.lower() not in OGG_EXTENSIONS:
        from fieldscreen.exchange.speech import encode_ogg_vorbis

        try:
            data = encode_ogg_vorbis(data)
        except ValueError:
            raise _media_refused(name, _("it is not a recording")) from None
        found = sniff(data)
    expected = {"audio": (AUDIO,), "image": (PNG, JPEG)}[kind]
    if found not in expected or (found == PNG) != (Path(name).suffix.lower() == ".png"):
        raise _media_refused(name, _("it is not the {kind} its name says").format(
            kind=_("Ogg Vorbis or Opus recording") if kind == "audio"
            else Path(name).suffix.lstrip(".").upper()))
    assert found is not None
    if len(data) > limit_for(found):
        raise _media_refused(name, _("it is larger than {size} KiB").format(
            size=limit_for(found) >> 10))
    return data


def _media_index(media: Mapping[str, bytes]) -> list[dict[str, Any]]:
    if len(media) > MAX_MEDIA_FILES or sum(map(len, media.values())) > MAX_MEDIA_BYTES:
        raise UserError(_("The forms' media is more than a pack carries ({count} files, "
                          "{size} MiB).").format(count=MAX_MEDIA_FILES,
                                                  size=MAX_MEDIA_BYTES >> 20),
                        hint=_("Use shorter or fewer recordings, or smaller pictures."))
    return [{"name": name, "type": sniff(data), "bytes": len(data),
             "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in sorted(media.items())]


_GENERATED = re.compile(
    r"^speech/[a-z0-9][a-z0-9_-]{0,63}/[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*/"
    r"(?:q/[A-Za-z_][A-Za-z0-9_]{0,63}|a/[A-Za-z_][A-Za-z0-9_]{0,63}/[a-z0-9_]{1,64})$")


def _read_media(index: Any, files: Any) -> dict[str, bytes]:
    """A format-4 pack's media: every file declared in the signed index, present, with its
    digest, size and type; nothing undeclared. Raises `_MediaRefused` with the reason."""
    if index is None:
        index = []
    if not isinstance(index, list) or len(index) > MAX_MEDIA_FILES or not isinstance(
            files, dict):
        raise ValueError("media")
    found: dict[str, bytes] = {}
    total = 0
    for entry in index:
        if not isinstance(entry, dict) or set(entry) != {"name", "type", "bytes", "sha256"}:
            raise ValueError("media")
        name, kind, size, digest = entry["name"], entry["type"], entry["bytes"], entry["sha256"]
        if not isinstance(name, str) or name in found or not (
                MEDIA_NAME.match(name) or _GENERATED.match(name)):
            raise _MediaRefused(_("a media file has a name that is not allowed ({name!r})"
                                  ).format(name=str(name)[:60].replace("\x00", "\\0")))
        if kind not in MEDIA_TYPES or type(size) is not int or not isinstance(digest, str):
            raise ValueError("media")
        if (is_generated_name(name) and kind != AUDIO) or (
                not is_generated_name(name) and media_kind(name) != (
                "audio" if kind == AUDIO else "image")):
            raise _MediaRefused(_("the media file '{name}' is declared as another type than "
                                  "its name says").format(name=name))
        if not 0 < size <= limit_for(kind):
            raise _MediaRefused(_("the media file '{name}' is larger than {size} KiB").format(
                name=name, size=limit_for(kind) >> 10))
        total += size
        if total > MAX_MEDIA_BYTES:
            raise _MediaRefused(_("its media is larger than {size} MiB").format(
                size=MAX_MEDIA_BYTES >> 20))
        encoded = files.get(name)
        if not isinstance(encoded, str) or len(encoded) > (size + 2) // 3 * 4:
            raise _MediaRefused(_("the media file '{name}' is missing or altered").format(
                name=name))
        try:
            data = unb64(encoded)
        except (ValueError, binascii.Error):
            raise _MediaRefused(_("the media file '{name}' is missing or altered").format(
                name=name)) from None
        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise _MediaRefused(_("the media file '{name}' does not match the pack's "
                                  "signature (it was altered)").format(name=name))
        if sniff(data) != kind:
            raise _MediaRefused(_("the media file '{name}' is not the {kind} it is declared "
                                  "as").format(name=name, kind=kind))
        found[name] = data
    if set(files) - set(found):
        raise _MediaRefused(_("it holds media files its signature does not cover"))
    return found


class _MediaRefused(Exception):
    """A format-4 pack's media is not what its signed index declares (the reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(_("Cannot read {path}: {reason}").format(
            path=path, reason=error.strerror or error)) from None
    except UnicodeDecodeError:
        raise UserError(_("{path} is not UTF-8 text.").format(path=path)) from None


def read_pack(raw: bytes, *,
              pinned: VerifyKey | Sequence[VerifyKey] | None = None) -> DeploymentPack:
    """Verify and parse a pack.

    Args:
        raw: the pack file's bytes.
        pinned: the coordinator keys this profile already trusts (the installed pack's
            `signing_keys`); a pack signed by any other key is refused.

    Raises:
        PackRefused: altered, unsigned, signed by a coordinator not trusted, malformed, or
            listing its coordinators wrongly (too many, one twice, a key that is not one).
    """
    def refused(reason: str) -> PackRefused:
        return PackRefused(
            _("This deployment pack cannot be used: {reason}").format(reason=reason),
            hint=_("Ask your coordinator for a fresh copy of the pack."))

    if len(raw) > MAX_PACK_BYTES:
        raise refused(_("it is larger than {size} MiB").format(size=MAX_PACK_BYTES >> 20))
    try:
        outer = loads_strict(raw.decode("utf-8"))
        if not isinstance(outer, dict) or outer.get("format") not in (
                PACK_FORMAT, MEDIA_PACK_FORMAT, LINKAGE_PACK_FORMAT, PREVIOUS_PACK_FORMAT,
                FIRST_PACK_FORMAT):
            raise ValueError
        encoded_content = str(outer["content"])
        if len(encoded_content) > MAX_CONTENT_BYTES:
            raise _MediaRefused(_("its forms and settings are larger than {size} MiB").format(
                size=MAX_CONTENT_BYTES >> 20))
        content_bytes = unb64(encoded_content)
        signature = unb64(str(outer["signature"]))
        content = loads_strict(content_bytes.decode("utf-8"))
        coordinator = content["coordinator"]
        key = VerifyKey(unb64(str(coordinator["signing_key"])))
    except _MediaRefused as problem:
        raise refused(problem.reason) from None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, CryptoError, RecursionError):
        raise refused(_("it is not a FieldScreen deployment pack")) from None
    try:
        key.verify(SIGNATURE_DOMAIN, content_bytes, signature)
    except CryptoError:
        raise refused(_("its signature does not match (it was altered)")) from None
    trusted = ([pinned] if isinstance(pinned, VerifyKey) else list(pinned)
               if pinned is not None else None)
    if trusted is not None and key.raw not in {each.raw for each in trusted}:
        # The installed pack's signer is the one people compare by eye.
        raise refused(_("it is signed by a different coordinator than this profile's "
                        "({fingerprint})").format(fingerprint=trusted[0].fingerprint()))
    coordinators: tuple[PackCoordinator, ...] = ()
    if outer["format"] == PACK_FORMAT:
        coordinators = _read_coordinators(content.get("coordinators"), refused)
        if not any(entry.signing_key.raw == key.raw for entry in coordinators):
            raise refused(_("the coordinator who signed it is not among the coordinators "
                            "it lists"))
    try:
        recipient = check_age_recipient(str(coordinator["age_recipient"]))
        if coordinators and not any(entry.signing_key.raw == key.raw
                                    and entry.recipient == recipient
                                    for entry in coordinators):
            raise ValueError("signer")
        if not isinstance(content["forms"], list) or not content["forms"]:
            raise ValueError("forms")
        forms, sources = [], []
        for entry in content["forms"]:
            text = str(entry["yaml"])
            forms.append(load_form_text(text, f"pack:{entry['id']}"))
            sources.append(text)
        services = services_source = None
        if content.get("services"):
            services_source = str(content["services"])
            services = read_services(parse_yaml(services_source, "pack:services"),
                                     "pack:services")
        sync = None
        if content.get("sync"):
            entry = content["sync"]
            sync = SyncSettings(entry["target"], entry.get("username"),
                                entry.get("password"), entry.get("ca_certificate"))
            # Transports use these as they are: text, or absent for the optional ones.
            if not isinstance(sync.target, str) or not sync.target.strip() or not all(
                    value is None or isinstance(value, str)
                    for value in (sync.username, sync.password, sync.ca_certificate)):
                raise ValueError("sync")
        retention_entry = content.get("retention", {})
        if not isinstance(retention_entry, dict):
            raise ValueError("retention")
        retention = retention_entry.get("received_days", DEFAULT_RETENTION_DAYS)
        if type(retention) is not int:
            raise ValueError("retention")
        demo = content.get("demo", False)
        if not isinstance(demo, bool):
            raise ValueError("demo")
        sequence = 0
        if outer["format"] in _SEQUENCED:
            sequence = content["sequence"]
            if type(sequence) is not int or not 1 <= sequence <= MAX_PACK_SEQUENCE:
                raise ValueError("sequence")
        envelopes = (_read_envelopes(content.get("linkage"))
                     if outer["format"] in _WITH_LINKAGE else {})
        media = (_read_media(content.get("media"), outer.get("media", {}))
                 if outer["format"] in _WITH_MEDIA else {})
        name = str(coordinator.get("name", ""))
        return DeploymentPack(
            pack_id=str(content["pack_id"]), created_at=str(content["created_at"]),
            coordinator_name=name, recipient=recipient,
            signing_key=key, forms=tuple(forms), form_sources=tuple(sources),
            services=services, services_source=services_source, sync=sync,
            retention_days=min(max(0, retention), MAX_RETENTION_DAYS), demo=demo,
            sequence=sequence, envelopes=envelopes, media=MappingProxyType(media),
            coordinators=coordinators or (PackCoordinator(name, recipient, key),),
        )
    except _MediaRefused as problem:
        raise refused(problem.reason) from None
    except SourceProblems as problems:
        raise refused(_("a form or the services directory in it is not valid: {problems}"
                        ).format(problems=problems.message)) from None
    except (ValueError, KeyError, TypeError, AttributeError, CryptoError):
        raise refused(_("its contents are incomplete")) from None


# -- the coordinators -----------------------------------------------------------------------


def deployment_coordinators(profile: UnlockedProfile) -> tuple[PackCoordinator, ...]:
    """Every coordinator of this coordinator profile, as `build_pack(coordinators=...)`
    lists them: a batch is sealed to each, and each may sign packs and receipts."""
    return tuple(PackCoordinator(entry.name, entry.age_recipient, VerifyKey(entry.signing_key))
                 for entry in profile.coordinators())


def _check_coordinators(listed: Sequence[PackCoordinator]) -> None:
    """What a pack writer refuses: more coordinators than a pack may list, or one twice."""
    if len(listed) > MAX_COORDINATORS:
        raise UserError(_("A deployment has at most {count} coordinators.").format(
            count=MAX_COORDINATORS), hint=_("Remove a coordinator, then try again."))
    for values in ({entry.recipient for entry in listed},
                   {entry.signing_key.raw for entry in listed}):
        if len(values) != len(listed):
            raise UserError(_("The deployment lists the same coordinator key twice."),
                            hint=_("Remove the duplicate coordinator, then try again."))


def _read_coordinators(entries: Any, refused: Any) -> tuple[PackCoordinator, ...]:
    """The coordinators of a format-4 pack: 1 to MAX_COORDINATORS, each with a valid age
    recipient and Ed25519 key, no key twice. Checked before any form is read."""
    if not isinstance(entries, list) or not entries:
        raise refused(_("it lists no coordinator"))
    if len(entries) > MAX_COORDINATORS:
        raise refused(_("it lists {count} coordinators; a deployment has at most "
                        "{limit}").format(count=len(entries), limit=MAX_COORDINATORS))
    found = []
    for entry in entries:
        if not (isinstance(entry, dict) and set(entry) == {"name", "age_recipient",
                                                           "signing_key"}
                and isinstance(entry["name"], str)
                and 0 < len(entry["name"]) <= MAX_COORDINATOR_NAME
                and isinstance(entry["age_recipient"], str)
                and isinstance(entry["signing_key"], str)):
            raise refused(_("its list of coordinators is malformed"))
        try:
            recipient = check_age_recipient(entry["age_recipient"])
        except CryptoError:
            raise refused(_("a coordinator's age recipient is not an age key (age1…)")
                          ) from None
        try:
            key = VerifyKey(unb64(entry["signing_key"]))
            if len(key.raw) != 32:
                raise CryptoError("length")
        except CryptoError:
            raise refused(_("a coordinator's signing key is not an Ed25519 key")) from None
        found.append(PackCoordinator(entry["name"], recipient, key))
    if (len({entry.recipient for entry in found}) != len(found)
            or len({entry.signing_key.raw for entry in found}) != len(found)):
        raise refused(_("it lists the same coordinator key twice"))
    return tuple(found)


# -- the linkage key ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkageShare:
    """The deployment's linkage key and the devices a pack seals it to: (id, public key)."""

    key: bytes = field(repr=False)
    devices: tuple[tuple[str, bytes], ...]


def linkage_share(profile: UnlockedProfile) -> LinkageShare:
    """The coordinator's linkage key (made on first use) for every enrolled, unrevoked
    device: what `build_pack(linkage=...)` seals into the pack."""
    devices = tuple((device.device_id, device.public_key)
                    for device in profile.devices.list() if not device.revoked)
    return LinkageShare(profile.coordinator_linkage_key(), devices)


def _envelope_plaintext(key: bytes, pack_id: str, device_id: str) -> bytes:
    # Bound to this pack and this device: an envelope moved to another pack or another
    # device's entry does not open as valid there.
    return canonical_json({"purpose": LINKAGE_PURPOSE, "pack_id": pack_id,
                           "device": device_id, "key": b64(key)})


def _envelopes(linkage: LinkageShare, pack_id: str) -> dict[str, Any]:
    if len(linkage.key) != LINKAGE_KEY_BYTES:
        raise ValueError("a linkage key is 32 bytes")
    if len(linkage.devices) > MAX_ENVELOPES:
        raise UserError(_("A deployment pack can carry the linkage key for at most {count} "
                          "devices.").format(count=MAX_ENVELOPES))
    envelopes = []
    for device_id, public_key in sorted(linkage.devices):
        sealed = VerifyKey(public_key).seal(_envelope_plaintext(linkage.key, pack_id,
                                                                device_id))
        envelopes.append({"device": device_id, "sealed": b64(sealed)})
    return {"envelopes": envelopes}


def _read_envelopes(linkage: Any) -> dict[str, bytes]:
    """The envelopes of a format-3 pack, checked for shape and size (not yet opened)."""
    if linkage is None:
        return {}
    if not isinstance(linkage, dict) or set(linkage) != {"envelopes"}:
        raise ValueError("linkage")
    entries = linkage["envelopes"]
    if not isinstance(entries, list) or len(entries) > MAX_ENVELOPES:
        raise ValueError("linkage")
    found: dict[str, bytes] = {}
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != {"device", "sealed"}:
            raise ValueError("linkage")
        device, sealed = entry["device"], entry["sealed"]
        if not (isinstance(device, str) and len(device) == 16 and set(device) <= _DEVICE_ID
                and isinstance(sealed, str) and len(sealed) <= MAX_ENVELOPE_BYTES * 2
                and device not in found):
            raise ValueError("linkage")
        found[device] = unb64(sealed)
        if len(found[device]) > MAX_ENVELOPE_BYTES:
            raise ValueError("linkage")
    return found


def open_linkage_key(pack: DeploymentPack, device_key: SigningKey) -> bytes | None:
    """This laptop's copy of the deployment's linkage key, or None when the pack has no
    envelope for it (the pack then installs without child codes).

    Raises:
        PackRefused: the envelope for this device does not open with its key, or does not
            name this pack and this device.
    """
    device_id = device_id_for(device_key.public.raw)
    sealed = pack.envelopes.get(device_id)
    if sealed is None:
        return None
    refusal = PackRefused(
        _("This deployment pack cannot be used: the linkage key it carries for this laptop "
          "does not open with this laptop's key."),
        hint=_("Ask your coordinator for a fresh pack made after this laptop was "
               "enrolled. Nothing was changed."))
    try:
        opened = loads_strict(device_key.open_sealed(sealed).decode("utf-8"))
        if not (isinstance(opened, dict)
                and set(opened) == {"purpose", "pack_id", "device", "key"}
                and opened["purpose"] == LINKAGE_PURPOSE
                and opened["pack_id"] == pack.pack_id and opened["device"] == device_id):
            raise ValueError("envelope")
        key = unb64(str(opened["key"]))
    except (CryptoError, ValueError, UnicodeDecodeError, RecursionError):
        raise refusal from None
    if len(key) != LINKAGE_KEY_BYTES:
        raise refusal
    return key


@dataclass(frozen=True, slots=True)
class InstalledPack:
    """What `install_pack` installed: the pack, and whether it brought the linkage key."""

    pack: DeploymentPack
    linkage: bool


def install_pack(profile: UnlockedProfile, raw: bytes) -> InstalledPack:
    """Verify a pack against the installed one and install it on a field laptop.

    The pack must be signed by the coordinator already trusted, must not be older than the
    installed one (a replayed pack would bring back old forms or an old sync target), and
    its envelope for this laptop, if any, must open. Everything is checked before anything
    is written; the pack and the linkage key are then kept in one transaction.

    Raises:
        PackRefused, UserError: nothing was changed.
    """
    installed = profile.installed_pack()
    current = read_pack(installed) if installed is not None else None
    pack = read_pack(raw, pinned=current.signing_keys if current else None)
    if current is not None and pack.is_older_than(current):
        raise UserError(_("This deployment pack is older than the one installed; nothing "
                          "was changed."),
                        hint=_("Ask your coordinator for the newest pack."))
    from fieldscreen.store.profile import ProfileRole

    key = (open_linkage_key(pack, profile.device_key())
           if profile.info.role is ProfileRole.FIELD else None)
    profile.install_pack(raw, pack.recipients, linkage_key=key)
    return InstalledPack(pack, key is not None)
