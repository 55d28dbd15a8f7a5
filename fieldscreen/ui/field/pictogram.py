"""Draws a question's pictogram (an OpenMoji SVG, fieldscreen/forms/pictograms.py) with QtSvg.

The picture is rendered at the size it is shown, in device pixels: sharp at 100 % and 200 %
text and on high-density screens, never a small bitmap scaled up.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from fieldscreen.forms import pictograms


@lru_cache(maxsize=128)
def pictogram_pixmap(name: str, size: int, ratio: float) -> QPixmap | None:
    """Pictogram `name` as a `size`×`size` (logical pixels) picture; None when it cannot be
    read (a broken install): the question is still shown, without its picture."""
    try:
        data = pictograms.svg_bytes(name)
    except (pictograms.UnknownPictogram, OSError):
        return None
    renderer = QSvgRenderer(QByteArray(data))
    if not renderer.isValid():
        return None
    device = max(1, round(size * ratio))
    pixmap = QPixmap(device, device)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, device, device))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


class PictogramLabel(QLabel):
    """A question's picture: decorative (the question's words say it all to a screen reader),
    never focused, sized from the text so it grows with the person's text scale."""

    def __init__(self, name: str, size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pictogram = name
        self.setObjectName("pictogram")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setFixedSize(size, size)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pixmap = pictogram_pixmap(name, size, self.devicePixelRatioF())
        if pixmap is not None:
            self.setPixmap(pixmap)
