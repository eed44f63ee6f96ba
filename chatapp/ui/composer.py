"""The message editor under the chat."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit


class Composer(QPlainTextEdit):
    """Message editor: Enter sends, Shift+Enter inserts a new line, Esc stops the reply (or
    leaves editing), Up in an empty box edits the last message.

    Signals:
        sig_send(): the user pressed Enter.
        sig_stop(): the user pressed Esc.
        sig_edit_last(): the user pressed Up with nothing typed.
    """

    sig_send = Signal()
    sig_stop = Signal()
    sig_edit_last = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Route Enter, Esc and Up; everything else edits."""
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            mods & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
        ):
            self.sig_send.emit()
        elif key == Qt.Key.Key_Escape:
            self.sig_stop.emit()
        elif key == Qt.Key.Key_Up and not self.toPlainText():
            self.sig_edit_last.emit()
        else:
            super().keyPressEvent(event)
