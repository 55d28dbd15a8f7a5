"""The result screen: the decision in colour and words, why, the worker's own call, and services.

Everything shown is computed by the engine (`ScreeningSession.decision()`, `outcome()`) and
the services directory; this screen only lets the worker escalate, de-escalate with a
reason, record why a referral goes ahead without consent, and save.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.engine.explain import outcome_title, reason_text
from fieldscreen.errors import UserError
from fieldscreen.forms.schema import Outcome, Role
from fieldscreen.i18n import _, active_language
from fieldscreen.ui.field.answer_cards import OUTCOME_COLOURS
from fieldscreen.ui.field.style import scaled_font

# Unicode bidi isolates: each field of a service (name, phone, hours) keeps its own
# direction, so an Arabic name next to a phone number does not scramble the line.
FSI, PDI = "\u2068", "\u2069"
# An "incomplete" banner is neutral slate: never the green of "information only".
INCOMPLETE_COLOUR = "#475569"


LRI = "\u2066"


def isolated(text: str) -> str:
    return f"{FSI}{text}{PDI}"


def phone_number(text: str) -> str:
    """A phone number kept left to right and on one line in any line's direction.

    It has no letter to take a direction from, so a first-strong isolate in an Arabic line
    ordered its groups right to left ("001 000 000 00+"); no-break spaces keep it whole.
    """
    return LRI + text.replace(" ", "\u00a0") + PDI


if TYPE_CHECKING:
    from fieldscreen.engine.session import ScreeningSession
    from fieldscreen.forms.services import ServicesDirectory


class ResultScreen(QWidget):
    """Shows a session's decision and saves it as a final record.

    Signals:
        save_requested(object): the worker confirmed; carries the ScreeningOutcome.
        back_requested(): back to the questions.
    """

    save_requested = Signal(object)
    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: ScreeningSession | None = None
        self.services: ServicesDirectory | None = None
        outer = QVBoxLayout(self)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        scroll.setAccessibleName(_("Screening result"))
        outer.addWidget(scroll, 1)
        body = QWidget()
        layout = QVBoxLayout(body)
        scroll.setWidget(body)

        self.disclaimer = QLabel(_("Screening for referral — not identification or proof."),
                                 body)
        self.disclaimer.setAccessibleName(self.disclaimer.text())
        self.disclaimer.setWordWrap(True)
        # Prominent: this line is what keeps a screening from being read as a verdict.
        self.disclaimer.setFont(scaled_font(self.disclaimer, 1.3))
        self.disclaimer.setStyleSheet("font-weight: bold; color: #0f172a; "
                                      "background: #fef3c7; border: 2px solid #92400e; "
                                      "padding: 6px;")
        layout.addWidget(self.disclaimer)
        self.decision = QLabel(body)
        self.decision.setAccessibleName(_("Decision"))
        self.decision.setWordWrap(True)
        self.decision.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.decision)
        self.follow_up = QLabel(body)
        self.follow_up.setAccessibleName(_("Follow-up"))
        self.follow_up.setWordWrap(True)
        layout.addWidget(self.follow_up)

        # The services come right after the decision: visible without scrolling.
        services_label = QLabel(_("Services that can help:"), body)
        services_label.setAccessibleName(_("Services that can help"))
        layout.addWidget(services_label)
        self.service_list = QListWidget(body)
        self.service_list.setAccessibleName(_("Matching services"))
        self.service_list.setWordWrap(True)
        layout.addWidget(self.service_list)
        self.service_list.setMaximumHeight(160)

        why = QLabel(_("Why:"), body)
        why.setAccessibleName(_("Why"))
        layout.addWidget(why)
        self.reasons = QListWidget(body)
        self.reasons.setAccessibleName(_("Reasons for the decision"))
        self.reasons.setWordWrap(True)
        layout.addWidget(self.reasons)

        override = QHBoxLayout()
        self.final_label = QLabel(_("Your decision:"), body)
        override.addWidget(self.final_label)
        self.final = QComboBox(body)
        self.final.setAccessibleName(_("Final decision (you may raise or lower it)"))
        self.final_label.setBuddy(self.final)
        for outcome in reversed(Outcome):
            self.final.addItem(outcome_title(outcome), outcome.value)
        self.final.currentIndexChanged.connect(self._refresh_requirements)
        override.addWidget(self.final, 1)
        layout.addLayout(override)
        self.reason_label = QLabel(body)
        self.reason_label.setWordWrap(True)
        layout.addWidget(self.reason_label)
        self.reason = QPlainTextEdit(body)
        self.reason.setAccessibleName(_("Reason for your decision"))
        self.reason_label.setBuddy(self.reason)
        self.reason.setMaximumHeight(90)
        self.reason.setTabChangesFocus(True)  # Tab leaves the notes box
        layout.addWidget(self.reason)
        self.consent_label = QLabel(body)
        self.consent_label.setWordWrap(True)
        layout.addWidget(self.consent_label)
        self.consent_reason = QPlainTextEdit(body)
        self.consent_reason.setAccessibleName(_("Why the referral goes ahead without consent"))
        self.consent_label.setBuddy(self.consent_reason)
        self.consent_reason.setMaximumHeight(90)
        self.consent_reason.setTabChangesFocus(True)
        layout.addWidget(self.consent_reason)


        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAccessibleName(_("Message"))
        self.message.setStyleSheet("color: #a4161a; font-weight: bold;")
        outer.addWidget(self.message)
        # Saving is deliberate: the box must be ticked first, so Enter or Ctrl+Return pressed
        # again and again can never save a screening nobody looked at.
        self.confirm = QCheckBox(_("I have checked the answers and this decision"), self)
        self.confirm.setAccessibleName(_("Confirm before saving: I have checked the answers "
                                         "and this decision"))
        self.confirm.toggled.connect(self._confirm_changed)
        outer.addWidget(self.confirm)
        buttons = QHBoxLayout()
        self.back_button = QPushButton(_("← Back to the questions"), self)
        self.back_button.setAccessibleName(_("Back to the questions"))
        self.back_button.clicked.connect(self.back_requested.emit)
        self.save_button = QPushButton(_("Save screening"), self)
        self.save_button.setAccessibleName(_("Save the screening as final"))
        self.save_button.setAutoDefault(True)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save)
        self.back_button.setAutoDefault(True)
        buttons.addWidget(self.back_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        outer.addLayout(buttons)

    def show_session(self, session: ScreeningSession,
                     services: ServicesDirectory | None) -> None:
        self.session = session
        self.services = services
        decision = session.decision()
        form = session.form
        # The reasons are for the worker: in the interface's language.
        language = active_language()
        colour = OUTCOME_COLOURS[decision.outcome.value]
        title = outcome_title(decision.outcome)
        self.incomplete = decision.follow_up
        if decision.follow_up and decision.outcome is Outcome.INFORMATION:
            # Many open questions: "information only" would read as "all is well".
            colour = INCOMPLETE_COLOUR
            title = _("Incomplete — plan a follow-up")
        elif decision.follow_up:
            title = _("{decision} (incomplete)").format(decision=title)
        self.decision.setText(title)
        self.decision.setFont(scaled_font(self.decision, 2.0))
        self.decision.setStyleSheet(f"background:{colour}; color:white; "
                                    "font-weight:bold; padding:12px; border-radius:8px;")
        self.follow_up.setText(
            _("Plan a follow-up visit: several questions are still open.")
            if decision.follow_up else "")
        self.reasons.clear()
        for reason in decision.reasons:
            self.reasons.addItem(reason_text(reason, decision))
            for name in reason.items:
                label = form.item(name).label.get(language, form.default_language)
                self.reasons.addItem("    • " + label)
        if decision.protective_items:
            self.reasons.addItem(_("Strengths that lower the risk:"))
            for name in decision.protective_items:
                label = form.item(name).label.get(language, form.default_language)
                self.reasons.addItem("    • " + label)
        if not decision.reasons:
            self.reasons.addItem(_("No rule raised a concern."))
        self.final.blockSignals(True)
        self.final.setCurrentIndex(self.final.findData(decision.outcome.value))
        self.final.blockSignals(False)
        self.reason.clear()
        self.consent_reason.clear()
        self.message.clear()
        self.confirm.setChecked(False)
        self.save_button.setEnabled(False)
        self._refresh_requirements()

    def focus_first(self) -> None:
        self.confirm.setFocus()

    def _confirm_changed(self, checked: bool) -> None:
        self.save_button.setEnabled(checked)

    def _chosen(self) -> Outcome:
        return Outcome(self.final.currentData())

    def _refresh_requirements(self) -> None:
        session = self.session
        if session is None:
            return
        computed = session.decision().outcome
        chosen = self._chosen()
        if chosen.rank < computed.rank:
            self.reason_label.setText(_("You chose a less urgent decision: write why (required)."))
        elif chosen.rank > computed.rank:
            self.reason_label.setText(_("You chose a more urgent decision: a reason helps "
                                        "the coordinator (optional)."))
        else:
            self.reason_label.setText(_("Notes on the decision (optional):"))
        consent = session.consent_given()
        needs = chosen in (Outcome.URGENT, Outcome.REFERRAL) and consent is False
        self.consent_label.setText(
            _("The child has not agreed to a referral. Ask again, or write why it must go "
              "ahead anyway (required):") if needs else _("Consent to a referral: recorded."))
        self.consent_reason.setVisible(needs)
        self._list_services(chosen)

    def _list_services(self, outcome: Outcome) -> None:
        self.service_list.clear()
        if self.services is None or self.session is None:
            self.service_list.addItem(_("No services directory is installed."))
            return
        area_item = self.session.form.item_with_role(Role.AREA)
        area = self.session.value(area_item.name) if area_item else None
        # The services are for the worker: in the interface language when the directory
        # has it.
        fallback = self.services.default_language
        language = active_language()
        for service in self.services.matching(outcome, area if isinstance(area, str) else None):
            urgent = _(" — takes urgent cases") if service.urgent else ""
            fields = (service.organisation.get(language, fallback),
                      service.name.get(language, fallback), service.phone,
                      service.hours.get(language, fallback))
            organisation, name, hours = (isolated(text) for text in
                                         (fields[0], fields[1], fields[3]))
            phone = phone_number(service.phone)
            self.service_list.addItem(
                f"{organisation}: {name} — {phone} — {hours}{urgent}")
        if self.service_list.count() == 0:
            self.service_list.addItem(_("No matching service in the directory for this area."))

    def _save(self) -> None:
        session = self.session
        if session is None:
            return
        computed = session.decision().outcome
        chosen = self._chosen()
        reason = self.reason.toPlainText()
        try:
            if chosen.rank > computed.rank:
                session.escalate(chosen, reason)
            elif chosen.rank < computed.rank:
                session.de_escalate(chosen, reason)
            else:
                session.keep_computed_outcome()
            session.record_no_consent_reason(self.consent_reason.toPlainText())
            outcome = session.outcome()
        except UserError as error:
            self.message.setText(str(error))
            return
        self.message.clear()
        self.save_requested.emit(outcome)

    def clear(self) -> None:
        self.session = None
        for widget in (self.reasons, self.service_list):
            widget.clear()
        for edit in (self.reason, self.consent_reason):
            edit.clear()
        for label in (self.decision, self.follow_up, self.message, self.consent_label):
            label.clear()
        self.confirm.setChecked(False)
