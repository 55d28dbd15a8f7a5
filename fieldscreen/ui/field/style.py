"""The field window's look where it matters for use: a focus ring that is always visible."""

from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QWidget

# The keyboard focus ring: at least 2 px, contrast above 5:1 on white and on the light
# backgrounds used here, on every focusable control from the first moment (a style sheet
# rule, not the platform style, which draws focus only after the first Tab).
FOCUS_COLOUR = "#c2410c"


def scaled_font(widget: QWidget, factor: float) -> QFont:
    """The application's font times `factor`: text sizes follow the person's text scale
    (a fixed point size in a style sheet would stay small at 200 % text)."""
    font = QFont(widget.font())
    font.setPointSizeF(QApplication.font().pointSizeF() * factor)
    return font
FOCUS_WIDTH_PX = 3
FOCUS_STYLE = f"""
QPushButton {{ border: 1px solid #64748b; border-radius: 4px; padding: 5px 12px;
               background: #f1f5f9; color: #0f172a; }}
QPushButton:disabled {{ color: #64748b; background: #e2e8f0; }}
QPushButton:focus {{ border: {FOCUS_WIDTH_PX}px solid {FOCUS_COLOUR}; padding: 3px 10px; }}
QRadioButton, QCheckBox {{ border: {FOCUS_WIDTH_PX}px solid transparent; padding: 2px; }}
QRadioButton:focus, QCheckBox:focus {{ border: {FOCUS_WIDTH_PX}px solid {FOCUS_COLOUR}; }}
QLineEdit, QPlainTextEdit, QListWidget, QSpinBox, QDoubleSpinBox, QDateEdit, QComboBox
    {{ border: 1px solid #64748b; padding: 2px; background: white; }}
QLineEdit:focus, QPlainTextEdit:focus, QListWidget:focus, QSpinBox:focus,
QDoubleSpinBox:focus, QDateEdit:focus, QComboBox:focus
    {{ border: {FOCUS_WIDTH_PX}px solid {FOCUS_COLOUR}; }}
"""
