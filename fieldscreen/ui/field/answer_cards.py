"""Large answer cards with pictures for questions to the child, and the outcome colours."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QPushButton, QSizePolicy, QWidget

from fieldscreen.i18n import _
from fieldscreen.ui.field.style import FOCUS_COLOUR, scaled_font

# The answers every question to the child can have, by the number (and the place in the
# grid) they always get: "No" is 2 on consent and on every risk question alike, so a child
# and a worker learn one layout. Other choices take the lowest free numbers in form order.
ANSWER_NUMBERS = {"yes": 1, "no": 2, "not_sure": 3, "rather_not_say": 4}
# The chosen card: a thick dark border, an amber fill and a check mark, which read in
# sunlight and without colour; focus is a separate, thinner orange ring.
CHOSEN_MARK = "✓"


def card_numbers(names: list[str]) -> list[int]:
    """The keyboard number of each choice (1-based), stable across questions."""
    fixed = {name: ANSWER_NUMBERS[name] for name in names if name in ANSWER_NUMBERS}
    taken = set(fixed.values())
    numbers = []
    free = (n for n in range(1, len(names) + len(ANSWER_NUMBERS) + 1) if n not in taken)
    for name in names:
        numbers.append(fixed[name] if name in fixed else next(free))
    return numbers

# Colours chosen for contrast (WCAG AA on white) and to read without colour alone:
# every decision is also spelled out in words.
OUTCOME_COLOURS = {
    "urgent": "#a4161a",
    "referral": "#b45309",
    "monitor": "#1d4ed8",
    "information": "#166534",
}


def answer_icon(kind: str, size: int = 64, ratio: float = 1.0) -> QIcon:
    """A simple, high-contrast picture for an answer card, drawn so no image files ship;
    `size` in device pixels, `ratio` the screen's pixel density."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    # One neutral colour for every answer: a green "yes" and a red "no" nudge a child.
    colour = QColor("#334155")
    painter.setBrush(colour)
    painter.setPen(Qt.PenStyle.NoPen)
    margin = size * 0.06
    painter.drawEllipse(QRectF(margin, margin, size - 2 * margin, size - 2 * margin))
    pen = QPen(QColor("white"), size * 0.1, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
               Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    s = size
    if kind == "answer-yes":
        path = QPainterPath(QPointF(s * 0.28, s * 0.52))
        path.lineTo(QPointF(s * 0.44, s * 0.68))
        path.lineTo(QPointF(s * 0.72, s * 0.34))
        painter.drawPath(path)
    elif kind == "answer-no":
        painter.drawLine(QPointF(s * 0.32, s * 0.32), QPointF(s * 0.68, s * 0.68))
        painter.drawLine(QPointF(s * 0.68, s * 0.32), QPointF(s * 0.32, s * 0.68))
    elif kind == "answer-not-sure":
        font = QFont()
        font.setPixelSize(int(s * 0.6))
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(QRectF(0, 0, s, s), Qt.AlignmentFlag.AlignCenter, "?")
    elif kind == "answer-rather-not-say":
        # A hand raised flat: "stop, I'd rather not".
        painter.drawLine(QPointF(s * 0.3, s * 0.5), QPointF(s * 0.7, s * 0.5))
    else:
        painter.drawEllipse(QRectF(s * 0.4, s * 0.4, s * 0.2, s * 0.2))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return QIcon(pixmap)


class AnswerCard(QPushButton):
    """A large, checkable answer with a picture and a keyboard number."""

    def __init__(self, text: str, image: str | None, number: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.number = number
        self.answer_text = text
        self.setCheckable(True)
        self.toggled.connect(self._show_state)
        self._show_state(False)
        self.setAccessibleName(text)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(72)
        self.setObjectName("answerCard")
        self.setFont(scaled_font(self, 1.6))
        if image:
            # As tall as about one and a half lines of the card's text: the symbol grows
            # with the text scale, drawn at the screen's pixel density so it stays sharp.
            side = max(48, round(self.fontMetrics().height() * 1.5))
            ratio = self.devicePixelRatioF()
            self.setIcon(answer_icon(image, round(side * ratio), ratio))
            self.setIconSize(QSize(side, side))
        self.setStyleSheet(
            "#answerCard { text-align: left; padding: 10px; "
            "border: 2px solid #64748b; border-radius: 10px; background: #f8fafc; "
            "color: #0f172a; } "
            "#answerCard:checked { border: 6px solid #0f172a; background: #fde68a; "
            "font-weight: bold; } "
            f"#answerCard:focus {{ outline: none; border: 4px solid {FOCUS_COLOUR}; }} "
            f"#answerCard:checked:focus {{ border: 6px solid {FOCUS_COLOUR}; }}")

    def _show_state(self, checked: bool) -> None:
        mark = f"{CHOSEN_MARK} " if checked else ""
        self.setText(f"{mark}{self.number}. {self.answer_text}")
        self.setAccessibleDescription(
            _("Answer {number}, chosen").format(number=self.number) if checked
            else _("Answer {number}").format(number=self.number))
