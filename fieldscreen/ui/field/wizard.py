"""The checklist wizard: one question per screen for the child, observations grouped for the worker.

It renders the steps `fieldscreen.engine.steps` computes from the screening session and
writes every answer straight into the session; relevance, scoring and the decision stay in
the engine. The child's language can change at any moment, independently of the UI's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, QSize, Qt, QTime, QTimer, Signal
from PySide6.QtGui import QHideEvent, QIcon, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from fieldscreen.engine.answers import AnswerError, answer_to_json
from fieldscreen.engine.steps import WizardStep
from fieldscreen.forms.schema import Audience, Item, ItemType, LocalizedText
from fieldscreen.i18n import _, active_language, is_right_to_left, language_name
from fieldscreen.ui.field.answer_cards import AnswerCard, card_numbers
from fieldscreen.ui.field.choices import SEARCH_FROM, ChoiceColumn, SearchableChoices
from fieldscreen.ui.field.pictogram import PictogramLabel, pictogram_pixmap
from fieldscreen.ui.field.style import scaled_font
from fieldscreen.workflows.navigation import Move, WizardNavigation
from fieldscreen.workflows.read_aloud import Availability, QuestionAudio, offer

if TYPE_CHECKING:
    from fieldscreen.engine.session import ScreeningSession
    from fieldscreen.ui.field.read_aloud import ReadAloudPlayer

# The Listen key: Alt+L beside Alt+← and Alt+→, and F5, which needs no letter (a letter key
# is another character under an Arabic or Ukrainian keyboard layout).
LISTEN_KEYS = ("Alt+L", "F5")
# A question's pictogram, in lines of its own text: it grows with the person's text scale.
PICTOGRAM_LINES = {True: 3.6, False: 2.4}



class WizardScreen(QWidget):
    """Walks through a screening session.

    Signals:
        answered(): an answer changed (the window autosaves a draft).
        finished(): the worker reached the end and asked for the result.
        stopped(): the worker stopped the screening (the draft is kept).
    """

    answered = Signal()
    finished = Signal()
    stopped = Signal()
    child_language_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session: ScreeningSession | None = None
        # Which step is current, and the rules for moving (fieldscreen/workflows).
        self.navigation = WizardNavigation()
        self.child_language = "en"
        self._cards: list[AnswerCard] = []
        # The control that takes focus when a step opens (the first answer).
        self._first_input: QWidget | None = None
        # Each answerable item's first control, in order: Enter moves from one to the next.
        self._item_controls: list[QWidget] = []
        self._item_names: list[str] = []
        self._choices: list[ChoiceColumn | SearchableChoices] = []
        self._item_boxes: list[QWidget] = []
        # Read-aloud: the deployment's recordings (None: there are none), the player (made
        # at the first question with recordings) and this step's Listen buttons by item.
        self._audio: QuestionAudio | None = None
        self._player: ReadAloudPlayer | None = None
        self._player_missing = False
        self._listen_buttons: dict[str, QPushButton] = {}
        self._listen_clips: dict[str, tuple[bytes, ...]] = {}

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.progress = QProgressBar(self)
        self.progress.setAccessibleName(_("Progress through the checklist"))
        self.progress.setTextVisible(True)
        top.addWidget(self.progress, 1)
        self.language_label = QLabel(_("Child's language:"), self)
        top.addWidget(self.language_label)
        self.language = QComboBox(self)
        self.language.setAccessibleName(_("Child's language"))
        self.language_label.setBuddy(self.language)
        self.language.currentIndexChanged.connect(self._language_changed)
        top.addWidget(self.language)
        layout.addLayout(top)

        self.audience_label = QLabel(self)
        self.audience_label.setAccessibleName(_("Who this screen is for"))
        self.audience_label.setObjectName("audienceLabel")
        layout.addWidget(self.audience_label)

        self.question_area = QScrollArea(self)
        self.question_area.setWidgetResizable(True)
        # Text wraps and long lists are columns: nothing needs a sideways scroll.
        self.question_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.question_area.setFrameShape(QFrame.Shape.NoFrame)
        # Tab goes to the answers inside, never to the invisible scroll area itself.
        self.question_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.question_area.setAccessibleName(_("Question"))
        layout.addWidget(self.question_area, 1)

        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setAccessibleName(_("Message about the answer"))
        self.message.setStyleSheet("color: #a4161a; font-weight: bold;")
        layout.addWidget(self.message)

        buttons = QHBoxLayout()
        self.back_button = QPushButton(_("← Back"), self)
        self.back_button.setAccessibleName(_("Back to the previous question"))
        self.skip_button = QPushButton(_("Skip"), self)
        self.skip_button.setAccessibleName(_("Skip this question"))
        self.stop_button = QPushButton(_("Stop screening"), self)
        self.stop_button.setAccessibleName(_("Stop the screening; answers are kept as a draft"))
        self.next_button = QPushButton(_("Next →"), self)
        self.next_button.setAccessibleName(_("Next question"))
        for button in (self.back_button, self.skip_button, self.stop_button, self.next_button):
            # Enter on a focused navigation button presses it (outside dialogs Qt does not).
            button.setAutoDefault(True)
        for button in (self.back_button, self.skip_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.next_button)
        # The keys, on screen: nobody reads tooltips in the field.
        # Key names are isolated left to right (U+2066..U+2069): "Alt+←" stays whole in Arabic.
        keys = {name: f"\u2066{key}\u2069" for name, key in (
            ("enter", "Enter"), ("back", "Alt+←"), ("answers", "1–4"), ("exit", "F12"))}
        self._keys_text = _("Keys: {enter} = next · {back} = back · {answers} = answer "
                            "· {exit} = quick exit").format(**keys)
        self.keys_hint = QLabel(self._keys_text, self)
        self.keys_hint.setWordWrap(True)
        self.keys_hint.setAccessibleName(_("Keyboard shortcuts"))
        self.keys_hint.setStyleSheet("color:#334155;")
        layout.addWidget(self.keys_hint)
        layout.addLayout(buttons)
        self.back_button.clicked.connect(self.go_back)
        self.skip_button.clicked.connect(self.skip)
        self.next_button.clicked.connect(self.go_next)
        self.stop_button.clicked.connect(self.stopped.emit)

        QShortcut(QKeySequence("Alt+Left"), self, self.go_back)
        QShortcut(QKeySequence("Alt+Right"), self, self.go_next)
        QShortcut(QKeySequence("Ctrl+Return"), self, self.go_next)
        for listen_key in LISTEN_KEYS:
            QShortcut(QKeySequence(listen_key), self, self.listen)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        # Digits choose answers; text and number fields consume digits themselves, so they
        # only reach here when focus is on a card, a choice or a button.
        text = event.text()
        focus = QApplication.focusWidget()
        if text.isdigit() and text != "0" and not event.modifiers() & (
                Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
            if self._cards:
                self._press_card(int(text))
                return
            column = self._choice_holding(focus)
            if column is not None and column.choose_number(int(text)):
                return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers() & (
                Qt.KeyboardModifier.ControlModifier):
            self._enter(focus)
            return
        super().keyPressEvent(event)

    def _choice_holding(self, widget: QWidget | None) -> ChoiceColumn | SearchableChoices | None:
        while widget is not None and widget is not self:
            if isinstance(widget, ChoiceColumn | SearchableChoices):
                return widget
            widget = widget.parentWidget()
        return None

    def _enter(self, focus: QWidget | None) -> None:
        """Enter: the next question, never an answer.

        Answers are chosen by their number, Space or a click: an Enter pressed again and
        again must not answer "Yes" to every question. On a step with several questions
        Enter moves to the next question of the step first, so one key press never leaves
        questions behind unseen; a step with nothing answered refuses to move (Skip).
        """
        if isinstance(focus, QComboBox):
            return  # Enter on the child's language menu is not a request to move on
        owner = self._owning_control(focus)
        if owner is not None and owner in self._item_controls:
            position = self._item_controls.index(owner)
            if position + 1 < len(self._item_controls):
                target = self._item_controls[position + 1]
                target.setFocus(Qt.FocusReason.TabFocusReason)
                self.question_area.ensureWidgetVisible(target)
                return
        self.go_next()

    def _owning_control(self, widget: QWidget | None) -> QWidget | None:
        """The item control `widget` belongs to (itself, or the list or column it is in)."""
        while widget is not None and widget is not self:
            if widget in self._item_controls:
                return widget
            if widget in self._item_boxes:
                return self._item_controls[self._item_boxes.index(widget)]
            widget = widget.parentWidget()
        return None

    # -- starting and clearing -----------------------------------------------------------------

    def start(self, session: ScreeningSession, child_language: str | None = None) -> None:
        """Show `session` from its first step (or where a resumed draft left off)."""
        self.session = session
        form = session.form
        self.language.blockSignals(True)
        self.language.clear()
        for code in form.languages:
            self.language.addItem(language_name(code), code)
        # The child's language defaults to the worker's (the window remembers the last one).
        worker = self.worker_language()
        wanted = (child_language if child_language in form.languages
                  else worker if worker in form.languages else form.default_language)
        self.language.setCurrentIndex(list(form.languages).index(wanted))
        self.language.blockSignals(False)
        self.child_language = wanted
        self.navigation.start(session)
        self._render()

    def clear(self) -> None:
        """Forget the session and empty every widget (auto-lock, quick exit)."""
        self.stop_reading()
        self.session = None
        self._listen_buttons = {}
        self._listen_clips = {}
        self.navigation.clear()
        self._cards = []
        old = self.question_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.message.clear()
        self.audience_label.clear()
        self.language.clear()
        self.progress.reset()

    # -- navigation ----------------------------------------------------------------------------

    # The navigation's state, under the names the window and the tests use.
    @property
    def index(self) -> int:
        return self.navigation.index

    @index.setter
    def index(self, value: int) -> None:
        self.navigation.index = value

    @property
    def steps(self) -> list[WizardStep]:
        return self.navigation.steps

    def current_step(self) -> WizardStep | None:
        return self.navigation.current_step()

    def go_next(self) -> None:
        # Reading stops at the press, also when the step refuses to move (its message shows).
        self.stop_reading()
        self._moved(self.navigation.go_next())

    def go_back(self) -> None:
        self.stop_reading()
        if self.navigation.go_back():
            self._render()

    def skip(self) -> None:
        """Leave this step's questions unanswered (an information gap, never a "no")."""
        self.stop_reading()
        changed, move = self.navigation.skip()
        if changed:
            self.answered.emit()
        self._moved(move)

    def _moved(self, move: Move) -> None:
        if move is Move.BLOCKED:
            if self.navigation.problem is not None:
                self.message.setText(self.navigation.problem)
        elif move is Move.FINISHED:
            self.finished.emit()
        else:
            self._render()

    # -- rendering -------------------------------------------------------------------------------

    def worker_language(self) -> str:
        """The worker's interface language when the form has it, else the form's default."""
        language = active_language()
        if self.session is not None and language not in self.session.form.languages:
            return self.session.form.default_language
        return language

    def item_language(self, item: Item) -> str:
        """Worker items follow the worker's interface language, the rest the child's."""
        return self.worker_language() if item.audience is Audience.WORKER else (
            self.child_language)

    def _text(self, item: Item, which: str = "label") -> str:
        assert self.session is not None
        form = self.session.form
        # Hints are written for the worker (docs/translating.md): the worker's language.
        language = self.worker_language() if which == "hint" else self.item_language(item)
        return getattr(item, which).get(language, form.default_language)

    def _choice_text(self, item: Item, label: LocalizedText) -> str:
        assert self.session is not None
        return label.get(self.item_language(item), self.session.form.default_language)

    def _language_changed(self, _index: int) -> None:
        code = self.language.currentData()
        if code and self.session is not None:
            self.child_language = code
            self.child_language_chosen.emit(code)
            self._render()

    def _render(self) -> None:
        session = self.session
        if session is None:
            return
        step = self.navigation.refresh()
        if step is not None and any([session.offer_default(item.name) for item in step.items]):
            # Pre-filled now that the worker sees them (and saved with the draft from now).
            self.answered.emit()
        self.stop_reading()  # Next, Back, Skip, a new language: the worker moved on
        self._listen_buttons = {}
        self._listen_clips = {}
        self.message.clear()
        self._cards = []
        self._choices = []
        self._item_controls = []
        self._item_names = []
        self._item_boxes = []
        self._first_input = None
        # Counted over the whole screening, not only the steps shown so far.
        total = self.navigation.total
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(self.index + 1)
        self.progress.setFormat(_("Step {step} of {total}").format(step=self.index + 1,
                                                                   total=total))
        self.back_button.setEnabled(self.index > 0)
        page = QWidget()
        layout = QVBoxLayout(page)
        if step is None:
            self.question_area.setWidget(page)
            return
        if step.for_worker:
            self.audience_label.setText(_("For you (the worker): your own observations — do "
                                          "not read these aloud."))
            self.audience_label.setStyleSheet("background:#e2e8f0; padding:4px;")
        else:
            self.audience_label.setText(_("Ask the child"))
            self.audience_label.setStyleSheet("background:#dcfce7; padding:4px;")
        child_page = not step.for_worker
        # The child's page follows the child's language; the worker's pages and the
        # window follow the UI language.
        direction = (is_right_to_left(self.child_language) if child_page
                     else self.layoutDirection() == Qt.LayoutDirection.RightToLeft)
        page.setLayoutDirection(Qt.LayoutDirection.RightToLeft if direction
                                else Qt.LayoutDirection.LeftToRight)
        for item in step.items:
            self._add_item(layout, item, large=child_page and len(step.items) == 1)
        layout.addStretch(1)
        old = self.question_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.question_area.setWidget(page)
        # Tab from the last answer goes on to Next (not round to the window's header).
        focusable = [widget for widget in page.findChildren(QWidget)
                     if widget.focusPolicy() & Qt.FocusPolicy.TabFocus
                     and not isinstance(widget.parentWidget(), QAbstractSpinBox | QComboBox)]
        if focusable:
            QWidget.setTabOrder(focusable[-1], self.next_button)
        self.focus_first()

    def focus_first(self) -> None:
        """Focus the step's first answer (the chosen one if any), else Next."""
        target = self._first_input or self.next_button
        target.setFocus(Qt.FocusReason.TabFocusReason)
        if isinstance(target, QAbstractSpinBox | QLineEdit):
            # Typing replaces "not answered" (or the earlier answer) instead of adding to it.
            target.selectAll()

    def _add_item(self, layout: QVBoxLayout, item: Item, *, large: bool) -> None:
        assert self.session is not None
        label = QLabel(self._text(item), layout.parentWidget())
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setAccessibleName(self._text(item))
        label.setFont(scaled_font(label, 1.8 if large else 1.2))
        listen = self._listen_button(item, layout.parentWidget())
        if item.pictogram is None and listen is None:
            layout.addWidget(label)
        else:
            # The picture on the side the child starts reading from (the page's direction
            # puts it on the right in Arabic), the words and the Listen button beside it.
            row = QHBoxLayout()
            if item.pictogram is not None:
                size = round(label.fontMetrics().height() * PICTOGRAM_LINES[large])
                row.addWidget(PictogramLabel(item.pictogram, size, layout.parentWidget()), 0,
                              Qt.AlignmentFlag.AlignTop)
            words = QVBoxLayout()
            words.addWidget(label)
            if listen is not None:
                words.addWidget(listen, 0, Qt.AlignmentFlag.AlignLeading)
            row.addLayout(words, 1)
            layout.addLayout(row)
        hint = self._text(item, "hint")
        if hint:
            # A hint is for the worker, in the worker's language, marked as such: on a
            # child's page it must never read as something to show the child.
            hint_label = QLabel(_("For you (the worker): {hint}").format(hint=hint),
                                layout.parentWidget())
            hint_label.setObjectName("workerHint")
            hint_label.setWordWrap(True)
            hint_label.setTextFormat(Qt.TextFormat.PlainText)
            hint_label.setAccessibleName(_("Hint for you: {hint}").format(hint=hint))
            worker_rtl = is_right_to_left(self.worker_language())
            hint_label.setLayoutDirection(Qt.LayoutDirection.RightToLeft if worker_rtl
                                          else Qt.LayoutDirection.LeftToRight)
            hint_label.setAlignment(Qt.AlignmentFlag.AlignRight if worker_rtl
                                    else Qt.AlignmentFlag.AlignLeft)
            # Not italic: common fonts have no oblique Arabic glyphs.
            hint_label.setStyleSheet("color:#1e293b; background:#e2e8f0; padding:4px;")
            layout.addWidget(hint_label)
        before = self._first_input
        self._first_input = None
        editor = self._editor(item, large=large, label=label)
        if editor is not None:
            layout.addWidget(editor)
        if self._first_input is not None:
            self._item_controls.append(self._first_input)
            self._item_names.append(item.name)
            self._item_boxes.append(editor if editor is not None else self._first_input)
        self._first_input = before or self._first_input

    def _set(self, item: Item, value: object) -> None:
        assert self.session is not None
        self.stop_reading()  # an answer given: the child has heard enough
        try:
            self.session.answer(item.name, value)
        except AnswerError as error:
            self.message.setText(error.message)
            return
        problem = self.session.problem_with(item.name)
        self.message.setText(problem.message if problem else "")
        self.answered.emit()
        step = self.navigation.current_step()
        if step is not None and any(_follows(other, item.name) for other in step.items):
            # Choices offered or answers worked out on this page changed: draw it again,
            # after this signal (the sending widget is replaced), keeping the message.
            message = self.message.text()

            def redraw() -> None:
                self._render()
                self.message.setText(message)

            QTimer.singleShot(0, redraw)

    def _computed_answer(self, item: Item, parent: QWidget | None) -> QWidget:
        # A computed answer is shown, never edited: the form works it out from other answers.
        assert self.session is not None
        value = self.session.value(item.name)
        if value is None:
            text = _("Not worked out yet")
        elif item.choice_list is not None:
            chosen = value if isinstance(value, tuple | list | frozenset) else (value,)
            labels = [self._choice_text(item, choice.label)
                      for choice in item.choice_list.distinct() if choice.name in chosen]
            text = ", ".join(labels) or str(value)
        else:
            text = str(answer_to_json(value))
        shown = QLabel(_("Worked out by the form: {value}").format(value=text), parent)
        shown.setObjectName("computedAnswer")
        shown.setWordWrap(True)
        shown.setTextFormat(Qt.TextFormat.PlainText)
        shown.setAccessibleName(shown.text())
        return shown

    def _editor(self, item: Item, *, large: bool, label: QLabel) -> QWidget | None:
        session = self.session
        assert session is not None
        current = session.answers.get(item.name)
        parent = label.parentWidget()
        kind = item.type
        if kind is ItemType.NOTE:
            return None
        if item.is_computed:
            if item.read_only and item.calculation is None and (
                    session.value(item.name) is None):
                return None  # read-only with no value: its label is all it shows
            return self._computed_answer(item, parent)
        if kind.has_choices and not session.visible_choices(item.name):
            none = QLabel(_("No choice applies here with the answers given so far."), parent)
            none.setWordWrap(True)
            return none
        if kind is ItemType.SELECT_ONE and large:
            return self._answer_cards(item, current, parent)
        if kind is ItemType.SELECT_ONE:
            return self._radio_row(item, current, parent, label)
        if kind is ItemType.SELECT_MULTIPLE:
            box = QWidget(parent)
            grid = QGridLayout(box)
            chosen = set(current) if isinstance(current, tuple | list | frozenset) else set()
            assert item.choice_list is not None
            checks: list[QCheckBox] = []

            def changed() -> None:
                self._set(item, [c.property("choice") for c in checks if c.isChecked()] or None)

            for index, choice in enumerate(session.visible_choices(item.name)):
                check = QCheckBox(self._choice_text(item, choice.label), box)
                check.setProperty("choice", choice.name)
                check.setAccessibleName(check.text())
                check.setChecked(choice.name in chosen)
                check.toggled.connect(changed)
                if index == 0:
                    self._focus_first(check)
                checks.append(check)
                grid.addWidget(check, index // 2, index % 2)
            return box
        if kind in (ItemType.INTEGER, ItemType.DECIMAL):
            whole = kind is ItemType.INTEGER
            spin: QSpinBox | QDoubleSpinBox
            # -1 shows as "not answered": a number box cannot be empty.
            if whole:
                spin = QSpinBox(parent)
                spin.setRange(-1, 120)
                spin.setValue(current if isinstance(current, int) else -1)
            else:
                spin = QDoubleSpinBox(parent)
                spin.setRange(-1, 1_000_000)
                spin.setValue(float(current) if isinstance(current, int | float) else -1.0)
            spin.setSpecialValueText(_("not answered"))
            spin.setAccessibleName(self._text(item))
            self._focus_first(spin)
            spin.valueChanged.connect(lambda v: self._set(item, None if v < 0 else v))
            label.setBuddy(spin)
            return spin
        if kind is ItemType.TEXT and item.audience is Audience.WORKER:
            # The worker's notes: several lines, readable back; Tab leaves the box.
            notes = QPlainTextEdit(parent)
            notes.setPlainText(current if isinstance(current, str) else "")
            notes.setAccessibleName(self._text(item))
            notes.setTabChangesFocus(True)
            notes.setMinimumHeight(90)
            self._focus_first(notes)
            notes.textChanged.connect(
                lambda: self._set(item, notes.toPlainText()[:2000] or None))
            label.setBuddy(notes)
            return notes
        if kind is ItemType.TEXT:
            line = QLineEdit(parent)
            line.setText(current if isinstance(current, str) else "")
            line.setAccessibleName(self._text(item))
            self._focus_first(line)
            line.setMaxLength(2000)
            line.textChanged.connect(lambda text: self._set(item, text or None))
            label.setBuddy(line)
            return line
        if kind is ItemType.DATE:
            date = QDateEdit(parent)
            date.setCalendarPopup(True)
            date.setDisplayFormat("yyyy-MM-dd")
            if isinstance(current, dt.date):
                date.setDate(QDate(current.year, current.month, current.day))
            date.setAccessibleName(self._text(item))
            self._focus_first(date)
            date.dateChanged.connect(lambda d: self._set(item, d.toString("yyyy-MM-dd")))
            label.setBuddy(date)
            return date
        if kind is ItemType.TIME:
            # A time of day (imported XLSForm `time`), stored as HH:MM:SS; like a date, it
            # becomes an answer when the worker changes it.
            clock = QTimeEdit(parent)
            clock.setDisplayFormat("HH:mm")
            if isinstance(current, str):
                clock.setTime(QTime.fromString(current, "HH:mm:ss"))
            clock.setAccessibleName(self._text(item))
            self._focus_first(clock)
            clock.timeChanged.connect(lambda t: self._set(item, t.toString("HH:mm:ss")))
            label.setBuddy(clock)
            return clock
        if kind is ItemType.ACKNOWLEDGE:
            check = QCheckBox(_("Done / understood"), parent)
            check.setAccessibleName(_("Confirm: {text}").format(text=self._text(item)))
            check.setChecked(current == "OK")
            check.setProperty("acknowledge", True)
            self._focus_first(check)
            check.toggled.connect(lambda on: self._set(item, "OK" if on else None))
            return check
        return None

    def _answer_cards(self, item: Item, current: object, parent: QWidget | None) -> QWidget:
        assert item.choice_list is not None and self.session is not None
        box = QWidget(parent)
        grid = QGridLayout(box)
        group = QButtonGroup(box)
        group.setExclusive(True)
        choices = self.session.visible_choices(item.name)
        # The same answer has the same number and place on every question.
        numbers = card_numbers([choice.name for choice in choices])
        cards: dict[int, AnswerCard] = {}
        for choice, number in zip(choices, numbers, strict=True):
            card = AnswerCard(self._choice_text(item, choice.label), choice.image, number, box)
            card.setChecked(choice.name == current)
            card.clicked.connect(lambda _checked, name=choice.name: self._set(item, name))
            group.addButton(card)
            grid.addWidget(card, (number - 1) // 2, (number - 1) % 2)
            cards[number] = card
        self._cards = [cards[number] for number in sorted(cards)]
        chosen = next((card for card in self._cards if card.isChecked()), self._cards[0])
        self._focus_first(chosen)
        # Tab follows the numbers, whatever order the form lists the choices in.
        for first, second in zip(self._cards, self._cards[1:], strict=False):
            QWidget.setTabOrder(first, second)
        return box

    def _radio_row(self, item: Item, current: object, parent: QWidget | None,
                   label: QLabel) -> QWidget:
        """A column of choices, or a searchable list past a handful (never a row)."""
        assert item.choice_list is not None and self.session is not None
        choices = [(choice.name, self._choice_text(item, choice.label))
                   for choice in self.session.visible_choices(item.name)]
        widget: ChoiceColumn | SearchableChoices
        if len(choices) >= SEARCH_FROM:
            widget = SearchableChoices(choices, current, self._text(item), parent)
            label.setBuddy(widget.search)
        else:
            widget = ChoiceColumn(choices, current, self._text(item), parent)
        widget.chosen.connect(lambda name: self._set(item, name))
        self._choices.append(widget)
        self._focus_first(widget.first_control())
        return widget

    def _focus_first(self, widget: QWidget) -> None:
        if self._first_input is None:
            self._first_input = widget

    def _press_card(self, number: int) -> None:
        if 0 < number <= len(self._cards):
            self._cards[number - 1].click()
            self._cards[number - 1].setFocus()

    def set_autosave(self, callback: Callable[[], None]) -> None:
        self.answered.connect(callback)

    # -- reading aloud -------------------------------------------------------------------------

    def set_question_audio(self, source: QuestionAudio | None) -> None:
        """The recordings of the form's questions (from the deployment pack); None: none."""
        self.stop_reading()
        self._audio = source
        listen = "\u2066" + LISTEN_KEYS[0] + "\u2069"
        self.keys_hint.setText(self._keys_text if source is None else (
            self._keys_text + " · " + _("{listen} = listen").format(listen=listen)))
        if self.session is not None:
            self._render()

    @property
    def player(self) -> ReadAloudPlayer | None:
        """The read-aloud player, made on first use; None when this laptop has no sound
        (QtMultimedia could not load: its system library is missing)."""
        if self._player is None and not self._player_missing:
            try:
                from fieldscreen.ui.field.read_aloud import ReadAloudPlayer
            except ImportError:
                self._player_missing = True
                return None
            self._player = ReadAloudPlayer(self)
            self._player.playing_changed.connect(self._show_playing)
            self._player.failed.connect(self.message.setText)
        return self._player

    def _listen_button(self, item: Item, parent: QWidget | None) -> QPushButton | None:
        """The Listen button of a question to the child; None when the deployment has no
        recordings at all (a button that never works is noise on every page)."""
        if item.audience is not Audience.CHILD or self._audio is None:
            return None
        offered = offer(self._audio, item.name, self.child_language,
                        can_play=self.player is not None)
        if offered.availability is Availability.NO_AUDIO:
            return None
        button = QPushButton(parent)
        button.setObjectName("listenButton")
        button.setAutoDefault(True)
        # Larger than the worker's buttons: the child may press it too.
        button.setFont(scaled_font(button, 1.3))
        side = round(button.fontMetrics().height() * 1.6)
        icon = pictogram_pixmap("speaker", side, self.devicePixelRatioF())
        if icon is not None:
            button.setIcon(QIcon(icon))
            button.setIconSize(QSize(side, side))
        self._listen_buttons[item.name] = button
        if offered.availability is Availability.READY:
            self._listen_clips[item.name] = offered.clips
            button.clicked.connect(lambda _checked=False, name=item.name: self._listen_to(name))
            self._show_listen(button, playing=False)
        else:
            # Disabled, with the reason as its text: a tooltip is never read in the field.
            button.setEnabled(False)
            button.setText(
                _("No recording in {language}").format(language=language_name(
                    self.child_language)) if offered.availability is Availability.NOT_RECORDED
                else _("Sound cannot play on this laptop"))
            button.setAccessibleName(button.text())
        return button

    def _show_listen(self, button: QPushButton, *, playing: bool) -> None:
        keys = " / ".join(f"\u2066{key}\u2069" for key in LISTEN_KEYS)
        button.setText(_("Stop") if playing else _("Listen"))
        button.setAccessibleName(_("Stop reading aloud") if playing else
                                 _("Listen: hear the question and its answers"))
        button.setToolTip(_("Reads the question and its answers aloud in the child's language "
                            "({keys}); press again to stop").format(keys=keys))

    def _show_playing(self, playing: bool) -> None:
        current = self._player.playlist.item_name if self._player is not None else None
        for name, button in self._listen_buttons.items():
            if name in self._listen_clips:
                self._show_listen(button, playing=playing and name == current)

    def _listen_to(self, name: str) -> None:
        player = self.player
        clips = self._listen_clips.get(name)
        if player is None or not clips:
            return
        player.press(name, clips)

    def listen(self) -> None:
        """The Listen key: the focused question's recording, else the step's first one;
        pressed again while it plays, it stops."""
        if not self._listen_clips:
            return
        owner = self._owning_control(QApplication.focusWidget())
        name = next(iter(self._listen_clips))
        if owner is not None:
            focused = self._item_names[self._item_controls.index(owner)]
            if focused in self._listen_clips:
                name = focused
        self._listen_to(name)

    def stop_reading(self) -> None:
        """Stop reading aloud (the worker moved on, or the wizard closes)."""
        if self._player is not None:
            self._player.stop()

    def hideEvent(self, event: QHideEvent) -> None:
        self.stop_reading()
        super().hideEvent(event)


def _follows(item: Item, name: str) -> bool:
    """Whether what `item` offers or shows is worked out from the answer to `name`."""
    return item.name != name and any(
        expression is not None and name in expression.references
        for expression in (item.choice_filter, item.calculation))
