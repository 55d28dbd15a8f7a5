"""The console's list of screenings that may be one child: score, reasons, link, unlink.

A view over `workflows.linkage.LinkageWorkflow`: "Find pairs" scores the imported
screenings on the worker thread; the table lists each pair with its score, the fields on
which the two screenings agree, and whether it is linked; a person links or unlinks the
chosen pair (each change is audited by the workflow, on the worker thread too). A tab of
the console window, cleared when it locks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.i18n import N_, _, format_decimal, ngettext

if TYPE_CHECKING:
    from fieldscreen.ui.console.shell import ConsoleShell
    from fieldscreen.workflows.linkage import CandidatePair, LinkageWorkflow

# The words for each reason (reporting.linkage.FIELDS).
REASON_WORDS = {
    "code": N_("child code"),
    "given_letters": N_("letters of the given name"),
    "family_letters": N_("letters of the family name"),
    "age": N_("age"),
    "age_near": N_("age within a year"),
    "sex": N_("sex"),
    "nationality": N_("nationality"),
    "area": N_("area"),
    "same_day": N_("same day"),
    "dates_near": N_("dates within two weeks"),
    "forms": N_("forms of exploitation"),
}


def reasons_text(reasons: tuple[str, ...]) -> str:
    """The agreeing fields in words; "age" is left out when "age within a year" says it."""
    shown = [name for name in reasons if not (name == "age_near" and "age" in reasons)]
    return ", ".join(_(REASON_WORDS[name]) for name in shown if name in REASON_WORDS)


class LinkagePanel(QWidget):
    """Candidate pairs of one child screened twice, for a person to decide."""

    def __init__(self, window: ConsoleShell, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ = window
        self.workflow: LinkageWorkflow | None = None
        self.shown: list[CandidatePair] = []
        layout = QVBoxLayout(self)
        buttons = QHBoxLayout()
        self.find_button = QPushButton(_("Find pairs"), self)
        self.find_button.setAccessibleName(_("Find screenings that may be the same child"))
        self.find_button.clicked.connect(self.find_pairs)
        self.link_button = QPushButton(_("Link"), self)
        self.link_button.setAccessibleName(_("Link the chosen pair: the same child"))
        self.link_button.clicked.connect(lambda: self._decide(link=True))
        self.unlink_button = QPushButton(_("Unlink"), self)
        self.unlink_button.setAccessibleName(_("Unlink the chosen pair"))
        self.unlink_button.clicked.connect(lambda: self._decide(link=False))
        for button in (self.find_button, self.link_button, self.unlink_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.table = QTableWidget(0, 5, self)
        # The reasons last, stretched: the decision columns stay in view on a small
        # screen or at 200 % text.
        self.table.setHorizontalHeaderLabels(
            [_("Score"), _("Linked"), _("Screening"), _("Other screening"), _("Agree on")])
        self.table.setAccessibleName(_("Screenings that may be the same child"))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAccessibleName(_("Message"))
        layout.addWidget(self.message)

    def find_pairs(self) -> None:
        """Score the imported screenings on the worker thread, then list the pairs."""
        from fieldscreen.workflows.linkage import LinkageWorkflow

        profile = self.window_.profile
        if profile is None:
            return
        self.message.setText(_("Looking for screenings of the same child…"))

        def work() -> tuple[LinkageWorkflow, list[CandidatePair]]:
            workflow = LinkageWorkflow(profile)
            return workflow, workflow.pairs()

        self.window_.run_task(work, lambda found: self.show_workflow(*found),
                              self.message.setText)

    def show_workflow(self, workflow: LinkageWorkflow,
                      pairs: list[CandidatePair] | None = None) -> None:
        """List `workflow`'s pairs (`pairs` when the worker already read them)."""
        self.workflow = workflow
        self.fill(workflow.pairs() if pairs is None else pairs)

    def fill(self, pairs: list[CandidatePair]) -> None:
        self.shown = pairs
        self.table.setRowCount(len(self.shown))
        for row, pair in enumerate(self.shown):
            cells = (format_decimal(pair.score, 2), _("Yes") if pair.linked else _("No"),
                     pair.first, pair.second, reasons_text(pair.reasons))
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        self.message.setText(
            ngettext("{count} pair to look at.", "{count} pairs to look at.",
                     len(self.shown)).format(count=len(self.shown))
            if self.shown else _("No screenings look like the same child."))

    def _decide(self, *, link: bool) -> None:
        row = self.table.currentRow()
        if self.workflow is None or not 0 <= row < len(self.shown):
            self.message.setText(_("Choose a pair in the list first."))
            return
        pair, workflow = self.shown[row], self.workflow

        def work() -> list[CandidatePair]:
            if link:
                workflow.link(pair.first, pair.second)
            else:
                workflow.unlink(pair.first, pair.second)
            return workflow.pairs()

        def done(pairs: list[CandidatePair]) -> None:
            if self.workflow is not workflow:
                return
            self.fill(pairs)
            self.table.selectRow(row)
            self.message.setText(_("Linked: both screenings are now one child.") if link
                                 else _("Unlinked: the two screenings are separate again."))

        self.window_.run_task(work, done, self.message.setText)

    def clear(self) -> None:
        """Forget the pairs (the console locked): nothing of them stays on screen."""
        self.workflow = None
        self.shown = []
        self.table.clearContents()
        self.table.setRowCount(0)
        self.message.clear()
