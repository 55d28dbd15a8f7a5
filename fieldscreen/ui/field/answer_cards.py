"""Large answer cards with pictures for questions to the child, and the outcome colours."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QPushButton, QSizePolicy, QWidget

from fieldscreen.i18n import _

# Colours chosen for contrast (WCAG AA on white) and to read without colour alone:
# every decision is also spelled out in words.
OUTCOME_COLOURS = {
    "urgent": "#a4161a",
    "referral": "#b45309",
    "monitor": "#1d4ed8",
    "information": "#166534",
}


def answer_icon(kind: str, size: int = 64) -> QIcon:
    """A simple, high-contrast picture for an answer card, drawn so no image files ship."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colours = {"answer-yes": "#166534", "answer-no": "#a4161a",
               "answer-not-sure": "#b45309", "answer-rather-not-say": "#475569"}
    colour = QColor(colours.get(kind, "#1d4ed8"))
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
    return QIcon(pixmap)


class AnswerCard(QPushButton):
    """A large, checkable answer with a picture and a keyboard number."""

    def __init__(self, text: str, image: str | None, number: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(f"{number}. {text}", parent)
        self.setCheckable(True)
        self.setAccessibleName(text)
        self.setAccessibleDescription(_("Answer {number}").format(number=number))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(72)
        if image:
            self.setIcon(answer_icon(image))
            self.setIconSize(QSize(48, 48))
        self.setObjectName("answerCard")
        self.setStyleSheet(
            "#answerCard { font-size: 16pt; text-align: left; padding: 10px; "
            "border: 2px solid #94a3b8; border-radius: 10px; background: #f8fafc; } "
            "#answerCard:checked { border: 4px solid #1d4ed8; background: #dbeafe; } "
            "#answerCard:focus { border: 4px dashed #0f172a; }")
