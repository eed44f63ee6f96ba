"""Plain-text widgets for model text: a tool tip that never parses markup, and labels.

`QToolTip` guesses whether its text is rich text, so a token such as "<b>" would be rendered as
markup.  Model text must never be, so the inside panel shows hover texts in this small window
instead: a `QLabel` fixed to `Qt.PlainText`, coloured from the palette's tool-tip roles.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel, QSizePolicy, QWidget


class PlainTip(QLabel):
    """A frameless tool-tip window showing plain text next to the mouse.

    Attributes:
        shown_text: the text last shown ("" while hidden); tests read it instead of pixels.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        """A hidden tip; `show_text` shows it."""
        super().__init__(parent, Qt.WindowType.ToolTip)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setMargin(4)
        self.setWordWrap(False)
        self.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.setAutoFillBackground(True)
        self.setFrameShape(QLabel.Shape.Box)
        self.shown_text = ""

    def show_text(self, global_pos: QPoint, text: str) -> None:
        """Show ``text`` just below and right of ``global_pos`` (hide when it is empty)."""
        if not text:
            self.hide_tip()
            return
        app = QApplication.instance()
        if isinstance(app, QApplication):
            self.setPalette(app.palette())
        self.shown_text = text
        self.setText(text)
        self.adjustSize()
        self.move(global_pos + QPoint(12, 16))
        self.show()

    def hide_tip(self) -> None:
        """Hide the tip."""
        self.shown_text = ""
        self.hide()


def plain_label(parent: QWidget) -> QLabel:
    """A word-wrapping label fixed to plain text that never widens its layout."""
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
    return label
