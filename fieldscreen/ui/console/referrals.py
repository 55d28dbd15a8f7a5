"""The console's referral queue: urgent first, overdue alerts, statuses and notes.

The chosen case shows why the child was referred, consent and the worker's notes, the
local services that match its decision and area, and the audit log's entries for it.

The queue, the deadlines and every change live in the store (`ReferralQueue`); this panel
shows them and sends the coordinator's changes there on the worker thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.forms.schema import Audience, ItemType, Outcome
from fieldscreen.i18n import N_, _, active_language, format_datetime, ngettext
from fieldscreen.store.follow_up import FollowUpStatus
from fieldscreen.ui.widgets import read_only_table

if TYPE_CHECKING:
    from fieldscreen.store.audit import AuditEntry
    from fieldscreen.store.follow_up import CaseNote, Deadlines, FollowUpCase, QueuePage
    from fieldscreen.ui.console.shell import ConsoleShell

# A table of more rows than anyone can work through only slows the console down; the
# queue is in working order, so the first rows are the ones to act on.
SHOWN_CASES = 500
_PRIORITY_WORDS = {"urgent": N_("Urgent"), "referral": N_("Referral")}
# The audit log's actions that concern one case, in words; any other is shown by its code.
_ACTION_WORDS = {
    "record.received": N_("Screening imported from a field laptop"),
    "record.updated": N_("Screening replaced by a newer version from the field laptop"),
    "follow_up.status_changed": N_("Status changed"),
    "follow_up.note_added": N_("Note added"),
    "referral.sent": N_("Referred to a partner organisation"),
    "referral.withdrawn": N_("Referral to a partner withdrawn"),
    "referral.update_imported": N_("Update from a partner organisation imported"),
    "linkage.linked": N_("Linked with another screening of the same child"),
    "linkage.unlinked": N_("Link with another screening undone"),
    "data.exported": N_("Exported"),
}
_URGENT_COLOUR = QColor("#fde2e1")
_OVERDUE_COLOUR = QColor("#a4161a")


def short_id(record_id: str) -> str:
    """The end of a record id, which tells cases apart: record ids are version 7 UUIDs,
    whose first characters are the time they were made, so records saved in the same
    moment share them."""
    return record_id[-8:]


def _isolated(text: str) -> str:
    # First-strong isolate: an Arabic service name beside a phone number keeps each
    # field's own direction instead of scrambling the line (as the field's result screen).
    return f"\u2068{text}\u2069"


def _phone(text: str) -> str:
    # A phone number has no letter to take its direction from: in an Arabic line a
    # first-strong isolate would order its groups right to left ("001 000 00+"). No-break
    # spaces keep it on one line.
    return "\u2066" + text.replace(" ", "\u00a0") + "\u2069"


def _when(stamp: str) -> str:
    import datetime as dt

    moment = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return format_datetime(moment.astimezone())


class ReferralPanel(QWidget):
    """The list of follow-up cases and the chosen case's status, notes and history."""

    def __init__(self, window: ConsoleShell, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ = window
        self.cases: list[FollowUpCase] = []
        self.chosen: str | None = None
        # False for a login that may read cases but not change them (a supervisor's).
        self.may_change = True
        layout = QVBoxLayout(self)

        self.alert = QLabel(self)
        self.alert.setWordWrap(True)
        self.alert.setAccessibleName(_("Overdue cases"))
        self.alert.setStyleSheet("font-weight: bold; color: #a4161a;")
        layout.addWidget(self.alert)

        self.more = QLabel(self)
        self.more.setWordWrap(True)
        self.more.setAccessibleName(_("How many cases are shown"))
        self.more.hide()
        layout.addWidget(self.more)

        top = QHBoxLayout()
        self.show_closed = QCheckBox(_("Show closed cases"), self)
        self.show_closed.setAccessibleName(_("Show closed cases"))
        self.show_closed.toggled.connect(lambda _checked: self.refresh())
        top.addWidget(self.show_closed)
        top.addStretch(1)
        top.addWidget(QLabel(_("Overdue when still new after:"), self))
        self.urgent_hours = QSpinBox(self)
        self.urgent_hours.setRange(1, 24 * 14)
        self.urgent_hours.setSuffix(_(" h (urgent)"))
        self.urgent_hours.setAccessibleName(_("Hours before an urgent case is overdue"))
        top.addWidget(self.urgent_hours)
        self.referral_days = QSpinBox(self)
        self.referral_days.setRange(1, 90)
        self.referral_days.setSuffix(_(" days (referral)"))
        self.referral_days.setAccessibleName(_("Days before a referral is overdue"))
        top.addWidget(self.referral_days)
        self.deadlines_button = QPushButton(_("Save deadlines"), self)
        self.deadlines_button.setAccessibleName(_("Save the overdue deadlines"))
        self.deadlines_button.clicked.connect(self._save_deadlines)
        top.addWidget(self.deadlines_button)
        layout.addLayout(top)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        headers = [_("Priority"), _("Status"), _("Screened"), _("Due"), _("Age"), _("Sex"),
                   _("Area"), _("Record")]
        self.table = read_only_table(splitter, headers, _("Referral queue"))
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        detail = QGroupBox(_("Case"), splitter)
        detail_layout = QVBoxLayout(detail)
        self.case_title = QLabel(_("Choose a case in the list."), detail)
        self.case_title.setWordWrap(True)
        self.case_title.setAccessibleName(_("Chosen case"))
        detail_layout.addWidget(self.case_title)
        self.reasons = QLabel(detail)
        self.reasons.setWordWrap(True)
        self.reasons.setAccessibleName(_("Why this child was referred"))
        detail_layout.addWidget(self.reasons)
        # What the worker wrote and what the child agreed to, as the record carries them.
        self.case_facts = QLabel(detail)
        self.case_facts.setWordWrap(True)
        self.case_facts.setTextFormat(Qt.TextFormat.PlainText)
        self.case_facts.setAccessibleName(_("Consent and the worker's notes"))
        detail_layout.addWidget(self.case_facts)
        form = QFormLayout()
        self.status = QComboBox(detail)
        self.status.setAccessibleName(_("Follow-up status"))
        for status in FollowUpStatus:
            self.status.addItem(status.label, status.value)
        form.addRow(_("Status:"), self.status)
        self.note = QPlainTextEdit(detail)
        self.note.setAccessibleName(_("Note"))
        self.note.setPlaceholderText(_("What was done, who was contacted, what comes next. "
                                       "Required when a case moves back or closes early."))
        self.note.setMaximumHeight(90)
        form.addRow(_("Note:"), self.note)
        detail_layout.addLayout(form)
        self.save_button = QPushButton(_("Save change"), detail)
        self.save_button.setAccessibleName(_("Save the status and note"))
        self.save_button.clicked.connect(self._save)
        detail_layout.addWidget(self.save_button)
        self.message = QLabel(detail)
        self.message.setWordWrap(True)
        self.message.setAccessibleName(_("Message"))
        detail_layout.addWidget(self.message)
        # Three lists in tabs: side by side they would not fit a small screen at 200 %.
        self.case_tabs = QTabWidget(detail)
        self.case_tabs.setAccessibleName(_("About the case"))
        self.history = QListWidget(self.case_tabs)
        self.history.setAccessibleName(_("Notes and history of the case"))
        self.case_tabs.addTab(self.history, _("Notes and history"))
        services_page = QWidget(self.case_tabs)
        services_layout = QVBoxLayout(services_page)
        self.services_note = QLabel(services_page)
        self.services_note.setWordWrap(True)
        self.services_note.setAccessibleName(_("Which services are listed"))
        services_layout.addWidget(self.services_note)
        self.services = QListWidget(services_page)
        self.services.setAccessibleName(_("Local services that match the case"))
        self.services.setWordWrap(True)
        self.services.setSpacing(3)
        services_layout.addWidget(self.services, 1)
        self.case_tabs.addTab(services_page, _("Local services"))
        changes_page = QWidget(self.case_tabs)
        changes_layout = QVBoxLayout(changes_page)
        self.changes_note = QLabel(changes_page)
        self.changes_note.setWordWrap(True)
        self.changes_note.setAccessibleName(_("Who made the changes"))
        changes_layout.addWidget(self.changes_note)
        self.changes = QListWidget(changes_page)
        self.changes.setAccessibleName(_("Who changed what when: the audit log of the case"))
        self.changes.setWordWrap(True)
        self.changes.setSpacing(3)
        changes_layout.addWidget(self.changes, 1)
        self.case_tabs.addTab(changes_page, _("Changes"))
        detail_layout.addWidget(self.case_tabs, 1)
        splitter.addWidget(self.table)
        splitter.addWidget(detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout.addWidget(splitter, 1)
        self._set_case_enabled(False)

    def _set_case_enabled(self, enabled: bool) -> None:
        for widget in (self.status, self.note, self.save_button):
            widget.setEnabled(enabled and self.may_change)

    def set_may_change(self, allowed: bool, reason: str) -> None:
        """Whether this login may change cases and deadlines; `reason` says why not."""
        self.may_change = allowed
        self.deadlines_button.setEnabled(allowed)
        for widget in (self.deadlines_button, self.save_button, self.status, self.note):
            widget.setToolTip(reason)
        self._set_case_enabled(self.chosen is not None)

    # -- the list --------------------------------------------------------------------------

    def refresh(self) -> None:
        profile = self.window_.profile
        if profile is None:
            return
        include_closed = self.show_closed.isChecked()

        def work() -> tuple[QueuePage, Deadlines]:
            # Only the cases shown are opened; the order comes from the sealed queue index.
            return (profile.referrals.page(0, SHOWN_CASES, include_closed=include_closed),
                    profile.referrals.deadlines())

        self.window_.run_task(work, self._show, self.message.setText)

    def _show(self, found: tuple[QueuePage, Deadlines]) -> None:
        from fieldscreen.reporting.labels import form_labels

        page, deadlines = found
        cases, total = page.cases, page.total
        self.urgent_hours.setValue(deadlines.urgent_hours)
        self.referral_days.setValue(deadlines.referral_days)
        self.cases = cases
        self.more.setText(_("Showing the first {shown} of {total} cases, most urgent first."
                            ).format(shown=len(cases), total=total)
                          if total > len(cases) else "")
        self.more.setVisible(total > len(cases))
        label = form_labels(self.window_.form, active_language())
        from fieldscreen.reporting.dashboard import Dimension

        # Rebuilt without selection signals: emptying the table must not forget the case.
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for row, case in enumerate(cases):
            self.table.insertRow(row)
            facts = case.facts
            status = (_("OVERDUE — {status}").format(status=case.status.label)
                      if case.overdue else case.status.label)
            values = (_(_PRIORITY_WORDS[case.priority]), status, _when(case.screened_at),
                      _when(case.due_at),
                      "—" if facts.get("age") is None else str(facts["age"]),
                      label(Dimension.SEX, facts.get("sex") or "not_known"),
                      label(Dimension.AREA, facts.get("area") or "not_known"),
                      short_id(case.record_id))
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if case.priority == "urgent":
                    item.setBackground(QBrush(_URGENT_COLOUR))
                if case.overdue:
                    item.setForeground(QBrush(_OVERDUE_COLOUR))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
        self.table.blockSignals(False)
        overdue = page.overdue
        self.alert.setText(ngettext(
            "{count} case is overdue: it is still new after its deadline.",
            "{count} cases are overdue: they are still new after their deadline.",
            overdue).format(count=overdue) if overdue else "")
        self.alert.setVisible(bool(overdue))
        if self.chosen is not None:
            for row, case in enumerate(cases):
                if case.record_id == self.chosen:
                    self.table.selectRow(row)
                    self._show_case(case)
                    return
        self._show_case(None)

    def _selection_changed(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        case = self.cases[rows.pop()] if len(rows) == 1 else None
        self._show_case(case)

    def select_case(self, record_id: str) -> None:
        for row, case in enumerate(self.cases):
            if case.record_id == record_id:
                self.table.selectRow(row)
                return

    # -- one case --------------------------------------------------------------------------

    def _show_case(self, case: FollowUpCase | None) -> None:
        self.history.clear()
        self._clear_case_lists()
        self.note.clear()
        if case is None or case.record_id != self.chosen:
            self.message.clear()  # a message about the same case ("Saved.") stays
        self.reasons.clear()
        self.case_facts.clear()
        if case is None:
            self.chosen = None
            self.case_title.setText(_("Choose a case in the list."))
            self._set_case_enabled(False)
            return
        self.chosen = case.record_id
        self._set_case_enabled(True)
        self.case_title.setText(_("{priority} case {record}, screened {when}").format(
            priority=_(_PRIORITY_WORDS[case.priority]), record=short_id(case.record_id),
            when=_when(case.screened_at)))
        self.status.setCurrentIndex(self.status.findData(case.status.value))
        profile = self.window_.profile
        if profile is None:
            return
        record_id = case.record_id
        self._show_services(case)

        linked_ids = [other for other, _summary in case.linked]

        def work() -> tuple[list[CaseNote], dict[str, Any], list[AuditEntry],
                            list[tuple[str, dict[str, Any]]], dict[str, str]]:
            # The screenings linked into this case as the same child: their reasons too.
            linked = [(other, profile.inbox.record_payload(other)) for other in linked_ids]
            return (profile.referrals.notes(record_id), profile.inbox.record_payload(record_id),
                    profile.audit_entries(record_id), linked, profile.coordinator_names())

        def shown(found: tuple[list[CaseNote], dict[str, Any], list[AuditEntry],
                               list[tuple[str, dict[str, Any]]], dict[str, str]]) -> None:
            if self.chosen != record_id:
                return
            notes, record, audited, linked, names = found
            # Two lookups can be in flight for one case (a refresh re-selects it): the
            # last one to arrive replaces the list instead of adding to it.
            self.history.clear()
            entries = [(at, _("Status: {status}").format(
                status=FollowUpStatus(status).label)) for status, at in case.history]
            entries += [(note.at, note.text) for note in notes]
            for at, text in sorted(entries, key=lambda entry: entry[0]):
                self.history.addItem(f"{_when(at)} — {text}")
            reasons = [self._reasons_text(record.get("outcome") or {})]
            for other, other_record in linked:
                reasons.append(_("Also screened as the same child (record {record}):").format(
                    record=short_id(other)))
                reasons.append(self._reasons_text(other_record.get("outcome") or {}))
            self.reasons.setText("\n".join(reasons))
            self.case_facts.setText(self._facts_text(record))
            self._show_changes(audited, profile.info.name, names)

        self.window_.run_task(work, shown, self.message.setText)

    def _clear_case_lists(self) -> None:
        for widget in (self.services, self.changes):
            widget.clear()
        self.services_note.clear()
        self.changes_note.clear()

    def _show_services(self, case: FollowUpCase) -> None:
        """The directory's services for the case's decision in the child's area, as the
        field laptop's result screen lists them."""
        from fieldscreen.reporting.dashboard import Dimension
        from fieldscreen.reporting.labels import form_labels
        self.services.clear()
        directory = self.window_.services
        if directory is None:
            self.services_note.setText(_("No services directory is installed."))
            return
        area = case.facts.get("area")
        area = area if isinstance(area, str) else None
        label = form_labels(self.window_.form, active_language())
        outcome = Outcome(case.priority)
        self.services_note.setText(
            _("Services for {decision} cases in {area}:").format(
                decision=_(_PRIORITY_WORDS[case.priority]).lower(),
                area=label(Dimension.AREA, area or "not_known")) if area
            else _("Services for {decision} cases (the area is not known):").format(
                decision=_(_PRIORITY_WORDS[case.priority]).lower()))
        fallback, language = directory.default_language, active_language()
        for service in directory.matching(outcome, area):
            organisation, name, hours = (
                _isolated(text.get(language, fallback))
                for text in (service.organisation, service.name, service.hours))
            phone = _phone(service.phone)
            urgent = _(" — takes urgent cases") if service.urgent else ""
            self.services.addItem(f"{organisation}: {name} — {phone} — {hours}{urgent}")
        if self.services.count() == 0:
            self.services.addItem(_("No matching service in the directory for this area."))

    def _show_changes(self, audited: list[AuditEntry], profile_name: str,
                      names: dict[str, str]) -> None:
        """The audit log's entries for the case: when, what was done, and by which
        coordinator of this profile (the audit log's actor; decision 64)."""
        self.changes.clear()
        if len(names) > 1:
            self.changes_note.setText(_(
                "Every change below was made in this coordinator profile, \u201c{name}\u201d, "
                "and names the coordinator who made it.").format(name=profile_name))
        else:
            self.changes_note.setText(_(
                "Every change below was made in this coordinator profile, \u201c{name}\u201d. "
                "The console has one coordinator profile, so the audit log names no other "
                "person.").format(name=profile_name))
        for entry in audited:
            words = _ACTION_WORDS.get(entry.action)
            text = _(words) if words else entry.action
            if entry.action == "follow_up.status_changed":
                moved = entry.details
                try:
                    text = _("Status changed from {old} to {new}").format(
                        old=FollowUpStatus(str(moved.get("from"))).label,
                        new=FollowUpStatus(str(moved.get("to"))).label)
                except ValueError:
                    pass
                if moved.get("with_note"):
                    text = _("{change}, with a note").format(change=text)
            self.changes.addItem(_("{when} — {what} — by {who}").format(
                when=_when(entry.at[:19] + "Z"), what=text,
                who=names.get(entry.actor, profile_name)))
        if not audited:
            self.changes.addItem(_("No change yet: the case is as the import opened it."))

    def _reasons_text(self, outcome: dict[str, Any]) -> str:
        form = self.window_.form
        items = [name for name in outcome.get("reasons", []) if isinstance(name, str)]
        labels = []
        for name in items[:12]:
            label = name
            if form is not None:
                try:
                    label = form.item(name).label.get(active_language(), form.default_language)
                except KeyError:
                    pass
            labels.append(label)
        text = _("Why: {items}").format(items="; ".join(labels)) if labels else ""
        if outcome.get("override_reason"):
            text += "\n" + _("The worker changed the outcome: {reason}").format(
                reason=outcome["override_reason"])
        return text

    def _facts_text(self, record: dict[str, Any]) -> str:
        """Consent to the referral and the worker's own notes, from the record."""
        outcome = record.get("outcome") or {}
        answers = record.get("answers") or {}
        consent = outcome.get("consent_given")
        lines = [_("Consent to a referral: yes") if consent is True
                 else _("Consent to a referral: no") if consent is False
                 else _("Consent to a referral: not asked")]
        if outcome.get("no_consent_reason"):
            lines.append(_("Why the referral goes ahead without consent: {reason}").format(
                reason=outcome["no_consent_reason"]))
        form = self.window_.form
        names = [item.name for item in form.items
                 if item.type is ItemType.TEXT and item.audience is Audience.WORKER
                 ] if form is not None else []
        for name in names:
            text = answers.get(name)
            if isinstance(text, str) and text.strip():
                lines.append(_("The worker's notes: {notes}").format(notes=text.strip()))
        return "\n".join(lines)

    def _save(self) -> None:
        profile = self.window_.profile
        record_id = self.chosen
        if profile is None or record_id is None:
            return
        status = FollowUpStatus(self.status.currentData())
        note = self.note.toPlainText()
        current = next((case for case in self.cases if case.record_id == record_id), None)

        def work() -> None:
            if current is not None and status is current.status:
                profile.referrals.add_note(record_id, note)
            else:
                # The version shown: a case another console changed since is refused
                # with "Someone else changed this case", never written over.
                profile.referrals.change_status(
                    record_id, status, note,
                    expected_version=current.version if current is not None else None)

        def done(_result: None) -> None:
            self.message.setText(_("Saved."))
            self.refresh()

        self.window_.run_task(work, done, self.message.setText)

    def _save_deadlines(self) -> None:
        profile = self.window_.profile
        if profile is None:
            return
        from fieldscreen.store.follow_up import Deadlines

        deadlines = Deadlines(self.urgent_hours.value(), self.referral_days.value())
        self.window_.run_task(lambda: profile.referrals.set_deadlines(deadlines),
                              lambda _r: self.refresh(), self.message.setText)

    def clear(self) -> None:
        self.cases = []
        self.chosen = None
        self.table.setRowCount(0)
        self.history.clear()
        self._clear_case_lists()
        self.note.clear()
        self.reasons.clear()
        self.case_facts.clear()
        self.message.clear()
        self.alert.clear()
        self.more.clear()
        self.case_title.setText(_("Choose a case in the list."))
        self._set_case_enabled(False)
