"""A first window for `fieldscreen demo` until the field-mode GUI lands: says what is coming."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QVBoxLayout, QWidget

from fieldscreen.forms.schema import Form
from fieldscreen.i18n import _


class PreviewWindow(QMainWindow):
    """Shows the training banner and a summary of the shipped checklist."""

    def __init__(self, form: Form | None) -> None:
        super().__init__()
        self.setWindowTitle(_("FieldScreen — training"))
        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.banner = QLabel(_("TRAINING — not real data"), body)
        self.banner.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.banner.setStyleSheet(
            "background:#8a1c1c;color:white;font-weight:bold;padding:8px;font-size:16pt"
        )
        self.banner.setAccessibleName(_("Training mode banner"))
        layout.addWidget(self.banner)
        if form is not None:
            questions = sum(1 for _item in form.questions())
            summary = _("Checklist '{title}' (version {version}) is loaded: {count} questions."
                        ).format(title=form.title.get(form.default_language),
                                 version=form.version, count=questions)
        else:
            summary = _("No checklist is installed.")
        self.summary = QLabel(summary, body)
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName(_("Checklist summary"))
        layout.addWidget(self.summary)
        self.coming = QLabel(
            _("The screening screens, the encrypted store and sync are on their way. "
              "Meanwhile, try 'fieldscreen screen' on the command line."),
            body,
        )
        self.coming.setWordWrap(True)
        self.coming.setAccessibleName(_("What is coming"))
        layout.addWidget(self.coming)
        self.setCentralWidget(body)
        self.resize(640, 320)


def run_preview(form: Form | None, quit_after_ms: int | None = None) -> int:
    """Open the preview window and run the event loop until it is closed."""
    app = QApplication.instance() or QApplication([])
    window = PreviewWindow(form)
    window.show()
    if quit_after_ms is not None:
        QTimer.singleShot(quit_after_ms, app.quit)
    return app.exec()
