"""The console's devices panel: enrol a laptop by its code, list and revoke devices, and
write (publish) signed deployment packs.

Enrolment is two-step on purpose: the code is checked first and its fingerprint shown,
and the device is enrolled only once the coordinator confirms it matches the one on the
laptop's screen (a swapped key would otherwise be trusted silently).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.i18n import _
from fieldscreen.ui.widgets import read_only_table

if TYPE_CHECKING:
    from fieldscreen.store.crypto import VerifyKey
    from fieldscreen.store.incoming import Device
    from fieldscreen.store.partners import Partner
    from fieldscreen.ui.console.shell import ConsoleShell


class DevicesPanel(QWidget):
    """Enrolment, the device list, and deployment packs."""

    def __init__(self, window: ConsoleShell, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ = window
        self.devices: list[Device] = []
        self.checked_key: VerifyKey | None = None
        layout = QVBoxLayout(self)

        enrol = QGroupBox(_("Enrol a field laptop"), self)
        enrol_layout = QFormLayout(enrol)
        code_row = QHBoxLayout()
        self.code = QLineEdit(enrol)
        self.code.setPlaceholderText("FSE1-…")
        self.code.setAccessibleName(_("Enrolment code shown on the field laptop"))
        self.code.textChanged.connect(self._code_changed)
        code_row.addWidget(self.code, 1)
        self.check_button = QPushButton(_("Check the code"), enrol)
        self.check_button.setAccessibleName(_("Check the enrolment code"))
        self.check_button.clicked.connect(self.check_code)
        code_row.addWidget(self.check_button)
        enrol_layout.addRow(_("Enrolment code:"), code_row)
        self.fingerprint = QLabel(enrol)
        self.fingerprint.setWordWrap(True)
        self.fingerprint.setAccessibleName(_("Fingerprint to compare"))
        self.fingerprint.setStyleSheet("font-family: monospace; font-size: 13pt;")
        enrol_layout.addRow(_("Fingerprint:"), self.fingerprint)
        self.device_name = QLineEdit(enrol)
        self.device_name.setAccessibleName(_("A name for this laptop"))
        self.device_name.setPlaceholderText(_("e.g. North team laptop 2"))
        enrol_layout.addRow(_("Name:"), self.device_name)
        self.matches = QCheckBox(_("The fingerprint matches the one on the laptop's screen"),
                                 enrol)
        self.matches.setAccessibleName(self.matches.text())
        self.matches.toggled.connect(self._update_enrol_button)
        enrol_layout.addRow(self.matches)
        self.enrol_button = QPushButton(_("Enrol"), enrol)
        self.enrol_button.setAccessibleName(_("Enrol this laptop"))
        self.enrol_button.clicked.connect(self.enrol)
        enrol_layout.addRow(self.enrol_button)
        layout.addWidget(enrol)

        listing = QGroupBox(_("Enrolled devices"), self)
        listing_layout = QVBoxLayout(listing)
        headers = [_("Name"), _("Device"), _("Fingerprint"), _("Enrolled"), _("State"),
                   _("Last batch")]
        self.table = read_only_table(listing, headers, _("Enrolled devices"))
        listing_layout.addWidget(self.table)
        revoke_row = QHBoxLayout()
        self.revoke_confirm = QCheckBox(
            _("I understand: batches this device sends from now on will be refused"), listing)
        self.revoke_confirm.setAccessibleName(self.revoke_confirm.text())
        revoke_row.addWidget(self.revoke_confirm, 1)
        self.revoke_button = QPushButton(_("Revoke the chosen device"), listing)
        self.revoke_button.setAccessibleName(_("Revoke the chosen device"))
        self.revoke_button.clicked.connect(self._revoke_clicked)
        revoke_row.addWidget(self.revoke_button)
        listing_layout.addLayout(revoke_row)
        layout.addWidget(listing, 1)

        # Partner services are enrolled from the command line (docs/referrals.md); the
        # tab lists them beside the laptops, with the fingerprints to compare.
        partners = QGroupBox(_("Partner services (referrals)"), self)
        partners_layout = QVBoxLayout(partners)
        self.partners_table = read_only_table(
            partners, [_("Name"), _("Partner"), _("Fingerprint"), _("Enrolled"), _("State")],
            _("Enrolled partner services"))
        partners_layout.addWidget(self.partners_table)
        layout.addWidget(partners)

        pack = QGroupBox(_("Deployment pack"), self)
        pack_layout = QFormLayout(pack)
        self.pack_form = QLineEdit(pack)
        self.pack_form.setPlaceholderText(_("The shipped child-screening checklist"))
        self.pack_form.setAccessibleName(_("Checklist form file"))
        pack_layout.addRow(_("Checklist form:"), self._with_browse(self.pack_form, pack))
        self.pack_services = QLineEdit(pack)
        self.pack_services.setPlaceholderText(_("The shipped services directory"))
        self.pack_services.setAccessibleName(_("Services directory file"))
        pack_layout.addRow(_("Services directory:"), self._with_browse(self.pack_services,
                                                                        pack))
        self.pack_target = QLineEdit(pack)
        self.pack_target.setPlaceholderText(_("A shared folder or an https:// WebDAV address"))
        self.pack_target.setAccessibleName(_("Where field laptops deliver batches"))
        pack_layout.addRow(_("Sync target:"), self.pack_target)
        self.pack_user = QLineEdit(pack)
        self.pack_user.setAccessibleName(_("WebDAV user name for field laptops"))
        pack_layout.addRow(_("WebDAV user:"), self.pack_user)
        self.pack_password = QLineEdit(pack)
        self.pack_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.pack_password.setAccessibleName(_("WebDAV password for field laptops"))
        pack_layout.addRow(_("WebDAV password:"), self.pack_password)
        self.retention = QSpinBox(pack)
        self.retention.setRange(0, 3650)
        self.retention.setValue(30)
        self.retention.setSuffix(_(" days"))
        self.retention.setAccessibleName(_("Days a field laptop keeps received records"))
        pack_layout.addRow(_("Keep received records on laptops for:"), self.retention)
        self.child_codes = QCheckBox(
            _("Let laptops make child codes (links two screenings of one child; the "
              "linkage key is sealed to each enrolled laptop)"), pack)
        self.child_codes.setAccessibleName(_("Let laptops make child codes"))
        pack_layout.addRow(self.child_codes)
        self.pack_button = QPushButton(_("Write the pack…"), pack)
        self.pack_button.setAccessibleName(_("Write and sign the deployment pack"))
        self.pack_button.clicked.connect(self._pack_clicked)
        pack_layout.addRow(self.pack_button)
        layout.addWidget(pack)

        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAccessibleName(_("Message"))
        layout.addWidget(self.message)
        self._update_enrol_button()

    def _with_browse(self, edit: QLineEdit, parent: QWidget) -> QWidget:
        holder = QWidget(parent)
        row = QHBoxLayout(holder)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QPushButton(_("Choose…"), holder)
        button.setAccessibleName(_("Choose a file for: {what}").format(
            what=edit.accessibleName()))

        def browse() -> None:
            path, _filter = QFileDialog.getOpenFileName(
                self, edit.accessibleName(), "", _("Form files (*.yaml *.yml);;All files (*)"))
            if path:
                edit.setText(path)

        button.clicked.connect(browse)
        row.addWidget(button)
        return holder

    # -- enrolment -------------------------------------------------------------------------

    def _code_changed(self, _text: str) -> None:
        self.checked_key = None
        self.fingerprint.clear()
        self.matches.setChecked(False)
        self._update_enrol_button()

    def _update_enrol_button(self) -> None:
        self.enrol_button.setEnabled(self.checked_key is not None and self.matches.isChecked())

    def check_code(self) -> None:
        """Read the code; show its fingerprint to compare (nothing is enrolled yet)."""
        from fieldscreen.errors import UserError
        from fieldscreen.exchange.enrolment import read_enrolment_code

        try:
            key = read_enrolment_code(self.code.text())
        except UserError as error:
            self.checked_key = None
            self.fingerprint.clear()
            self.message.setText(str(error))
            self._update_enrol_button()
            return
        self.checked_key = key
        self.fingerprint.setText(key.fingerprint())
        self.message.setText(_("Compare this fingerprint with the one on the laptop's "
                               "screen, then tick the box and enrol."))
        self._update_enrol_button()

    def enrol(self) -> None:
        profile = self.window_.profile
        key = self.checked_key
        if profile is None or key is None or not self.matches.isChecked():
            return
        name = self.device_name.text().strip() or key.fingerprint()[:9]

        def done(device: Device) -> None:
            self.code.clear()
            self.device_name.clear()
            self.message.setText(_("Enrolled {name}. Batches it already sent that were "
                                   "quarantined can now be tried again (Import).").format(
                name=device.name))
            self.refresh()

        self.window_.run_task(lambda: profile.devices.enroll(key.raw, name), done,
                              self.message.setText)

    # -- the list --------------------------------------------------------------------------

    def refresh(self) -> None:
        profile = self.window_.profile
        if profile is None:
            return
        self.window_.run_task(lambda: (profile.devices.list(), profile.inbox.last_sequences(),
                                       profile.partners.list()),
                              self._show, self.message.setText)

    def _show(self, found: tuple[list[Device], dict[str, int], list[Partner]]) -> None:
        from fieldscreen.store.crypto import VerifyKey

        devices, last, partners = found
        self.partners_table.setRowCount(0)
        for row, partner in enumerate(partners):
            self.partners_table.insertRow(row)
            for column, value in enumerate((
                    partner.name, partner.partner_id,
                    VerifyKey(partner.public_key).fingerprint(), partner.enrolled_at,
                    _("revoked") if partner.revoked else _("active"))):
                self.partners_table.setItem(row, column, QTableWidgetItem(value))
        self.devices = devices
        self.table.setRowCount(0)
        for row, device in enumerate(devices):
            self.table.insertRow(row)
            values = (device.name, device.device_id, VerifyKey(device.public_key).fingerprint(),
                      device.enrolled_at, _("revoked") if device.revoked else _("active"),
                      str(last.get(device.device_id, 0)))
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))

    def _revoke_clicked(self) -> None:
        row = self.table.currentRow()
        if row < 0 or row >= len(self.devices):
            self.message.setText(_("Choose a device in the list first."))
            return
        if not self.revoke_confirm.isChecked():
            self.message.setText(_("Tick the box to confirm, then revoke."))
            return
        self.revoke(self.devices[row].device_id)

    def revoke(self, device_id: str) -> None:
        profile = self.window_.profile
        if profile is None:
            return

        def done(device: Device) -> None:
            self.revoke_confirm.setChecked(False)
            self.message.setText(_("Revoked {name}: its batches are refused from now on."
                                   ).format(name=device.name))
            self.refresh()

        self.window_.run_task(lambda: profile.devices.revoke(device_id), done,
                              self.message.setText)

    # -- packs -----------------------------------------------------------------------------

    def _pack_clicked(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, _("Write the deployment pack"), "fieldscreen-pack.fspack",
            _("Deployment packs (*.fspack *.json)"))
        if path:
            self.write_pack(Path(path))

    def write_pack(self, output: Path) -> None:
        """Sign and write a deployment pack with the chosen files and settings."""
        profile = self.window_.profile
        if profile is None:
            return
        from fieldscreen.exchange.pack import (
            SyncSettings,
            absolute_sync_target,
            build_pack,
            deployment_coordinators,
            linkage_share,
        )
        from fieldscreen.files import write_atomically
        from fieldscreen.paths import shipped_dir

        child_codes = self.child_codes.isChecked()
        forms = Path(self.pack_form.text().strip() or
                     shipped_dir("forms") / "child-screening.yaml")
        services = Path(self.pack_services.text().strip() or
                        shipped_dir("forms") / "services.yaml")
        target = self.pack_target.text().strip()
        sync = (SyncSettings(absolute_sync_target(target),
                             self.pack_user.text().strip() or None,
                             self.pack_password.text() or None) if target else None)
        retention = self.retention.value()
        clock = self.window_.clock

        def work() -> str:
            from fieldscreen.errors import UserError
            from fieldscreen.exchange.speech import find_speech_engine

            speech = find_speech_engine()
            raw = build_pack(
                signing_key=profile.coordinator_signing_key(),
                recipient=profile.coordinator_identity().recipient,
                coordinator_name=profile.acting_coordinator().name,
                coordinators=deployment_coordinators(profile), form_paths=[forms],
                services_path=services, sync=sync, retention_days=retention,
                demo=profile.info.demo, now=clock(), sequence=profile.next_pack_sequence(),
                linkage=linkage_share(profile) if child_codes else None, speech=speech)
            try:
                write_atomically(output, raw, mode=0o644)
            except OSError as error:
                raise UserError(_("Cannot write {path}: {reason}").format(
                    path=output, reason=error.strerror or error),
                    hint=_("Choose another folder, or free some space.")) from None
            wrote = _("Wrote the deployment pack {path}; its key fingerprint is "
                      "{fingerprint}. Give it to the field laptops (USB stick or shared "
                      "folder).").format(
                path=output, fingerprint=profile.coordinator_signing_key().public.fingerprint())
            if speech is None:
                # Said, so a coordinator on Windows or the bundle knows why Listen is missing.
                wrote += " " + _("espeak-ng is not installed here, so the pack has no "
                                 "generated readings: only the recordings the forms name.")
            return wrote

        def done(message: Any) -> None:
            self.message.setText(str(message))

        self.message.setText(_("Writing the pack…"))
        self.window_.run_task(work, done, self.message.setText)

    def clear(self) -> None:
        self.devices = []
        self.table.setRowCount(0)
        self.partners_table.setRowCount(0)
        self.code.clear()
        self.device_name.clear()
        self.fingerprint.clear()
        self.pack_password.clear()
        self.message.clear()
        self.checked_key = None
        self._update_enrol_button()
