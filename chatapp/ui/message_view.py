"""One chat message, rendered from untrusted Markdown, streamed in place.

The view never loads anything: every resource request gets empty data, links never open by
themselves, and an http(s) link only opens after :func:`confirm_and_open` showed the user the exact
address.  Streaming appends finished blocks once through a persistent cursor and replaces only the
tail, at most every 50 ms (less often when the tail is costly to show), in slices of at most
~12 ms of rendering per event-loop turn.
"""

from __future__ import annotations

import html
import math
import time
from typing import Any

from PySide6.QtCore import QByteArray, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QGuiApplication,
    QImage,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import QMessageBox, QTextBrowser, QWidget

from chatapp.core.markdown_render import (
    COPY_LABEL,
    COPY_SCHEME,
    ZWSP,
    safe_http_url,
    warm_up,
)
from chatapp.core.markdown_stream import StreamingMarkdown

RENDER_INTERVAL_MS = 50
# Finished blocks rendered per event-loop turn, in seconds (at least one block per turn).
SLICE_S = 0.012

# Qt merges the first block of inserted HTML into the block at the cursor, losing that block's
# format (a heading's margins, a code block's background).  Each insertion therefore starts with
# this throwaway paragraph: it merges instead, and the real blocks keep their own formats.
_SENTINEL = f'<p style="margin-top:0px; margin-bottom:0px">{ZWSP}</p>'

_STYLE_SHEET = """
a { text-decoration: underline; }
code { font-family: monospace; }
blockquote { margin-left: 12px; }
th, td { padding: 2px 6px; }
"""


class MessageView(QTextBrowser):
    """A read-only view of one message's Markdown, safe for hostile text.

    Signals:
        sig_link_requested(str): the user clicked an http(s) link; the argument is the exact URL.
            The window should call :func:`confirm_and_open` with it; nothing opens otherwise.

    Attributes:
        requested_resources: every URL the document asked to load (each got empty data).
    """

    sig_link_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, dark: bool = False) -> None:
        """An empty view; ``dark`` picks the dark code highlighting style."""
        super().__init__(parent)
        self._dark = dark
        self.requested_resources: list[str] = []
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setReadOnly(True)
        doc = self.document()
        # Streaming replaces the tail many times; an undo history would only grow.
        doc.setUndoRedoEnabled(False)
        doc.setDefaultStyleSheet(_STYLE_SHEET)
        self._stream = StreamingMarkdown(dark=dark)
        self._cursor = QTextCursor(doc)
        self._tail_start = 0
        self._last_render = 0.0
        self._interval_ms = float(RENDER_INTERVAL_MS)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        # A coarse timer may fire 5% early; the interval is a promise about the render rate.
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._render_pending)
        self.anchorClicked.connect(self._on_anchor_clicked)
        #: The copy links' text in the current language (set when the view is built: a
        #: language switch rebuilds the views, see ChatView).
        self._copy_label = html.escape(self.tr("Copy"))
        warm_up()  # here, when the UI is built, rather than as a stall in the first reply

    # --- content -------------------------------------------------------------------------------

    @property
    def markdown(self) -> str:
        """The message's Markdown source so far."""
        return self._stream.text

    @property
    def code_blocks(self) -> list[str]:
        """The exact text of each code block rendered so far (what its Copy link copies)."""
        return self._stream.code_blocks

    @property
    def rendering(self) -> bool:
        """Whether text shown so far still waits to be rendered (a render is scheduled)."""
        return self._timer.isActive()

    def set_markdown(self, text: str) -> None:
        """Show a finished message (replaces whatever was shown).

        What renders within one time slice (12 ms) is shown at once; a longer message follows
        over the next event-loop turns, so that even a hostile one never freezes the window.
        Call :meth:`flush` to have it all now.
        """
        self.clear_message()
        self._stream.append(text)
        self._stream.finish()
        self._render_pending()

    def append_text(self, delta: str) -> None:
        """Add streamed text; the view catches up within 50 ms (deltas are coalesced)."""
        self._stream.append(delta)
        if not self._timer.isActive():
            waited_ms = (time.monotonic() - self._last_render) * 1000
            self._timer.start(max(0, math.ceil(self._interval_ms - waited_ms)))

    def finish(self) -> None:
        """The reply is complete: render its last block as finished."""
        self._stream.finish()
        self.flush()

    def flush(self) -> None:
        """Render everything appended so far now, however long it takes."""
        self._timer.stop()
        self._render_pending(time_limit=None)

    def clear_message(self) -> None:
        """Empty the view and start a new message."""
        self._timer.stop()
        self.document().clear()
        self._stream = StreamingMarkdown(dark=self._dark)
        self._cursor = QTextCursor(self.document())
        self._tail_start = 0
        self._interval_ms = float(RENDER_INTERVAL_MS)

    def _render_pending(self, time_limit: float | None = SLICE_S) -> None:
        started = time.monotonic()
        self._apply(*self._stream.take_update(time_limit))
        self._last_render = time.monotonic()
        # A tail that is costly to show (a huge unfinished block) is shown less often: rendering
        # takes at most a fifth of the time, whatever the model sends.
        self._interval_ms = max(RENDER_INTERVAL_MS, 4000 * (self._last_render - started))
        if self._stream.pending:
            self._timer.start(0)  # the rest of the finished blocks, after pending events

    def _apply(self, fragments: list[str], tail: str) -> None:
        """Append finished fragments once, then replace the previous tail with ``tail``."""
        bar = self.verticalScrollBar()
        # Follow the end only if the user was there (not while they read further up).
        at_bottom = bar.value() >= bar.maximum() - 4
        cursor = self._cursor
        cursor.beginEditBlock()
        cursor.setPosition(self._tail_start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        for fragment in filter(None, fragments):
            self._insert(fragment)
        self._tail_start = cursor.position()
        if tail:
            self._insert(tail)
        cursor.endEditBlock()
        if at_bottom:
            bar.setValue(bar.maximum())

    def _insert(self, fragment: str) -> None:
        cursor = self._cursor
        landing = cursor.block()
        if landing.length() == 1:
            # An empty block (the document's first, or the one Qt keeps after a table): reset
            # it so that it does not lend its format to what follows.
            cursor.setBlockFormat(QTextBlockFormat())
            cursor.setCharFormat(QTextCharFormat())
        if COPY_SCHEME in fragment:
            # Only our own copy links can match: model text reaches here escaped by nh3.
            fragment = fragment.replace(f'">{COPY_LABEL}</a>', f'">{self._copy_label}</a>')
        cursor.insertHtml(_SENTINEL + fragment)
        if landing.text() == ZWSP:
            # It holds only the sentinel: hide it so that it takes no vertical space.
            landing.setVisible(False)
            self.document().markContentsDirty(landing.position(), landing.length())

    # --- safety --------------------------------------------------------------------------------

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        """Record the request and return empty data: nothing named by model text is loaded.

        Returning None lets QTextDocument fall back to reading ``file:`` paths itself, and for an
        image an empty QByteArray lets Qt's image handler load the name as a file (seen with
        PySide6 6.11.3: a local PNG appeared), so images get a 1×1 transparent pixel instead.
        The renderer never emits images; this is the second line of defence.
        """
        self.requested_resources.append(name.toString() if isinstance(name, QUrl) else name)
        if type == QTextDocument.ResourceType.ImageResource.value:
            pixel = QImage(1, 1, QImage.Format.Format_ARGB32)
            pixel.fill(QColor(0, 0, 0, 0))
            return pixel
        return QByteArray()

    def _on_anchor_clicked(self, url: QUrl) -> None:
        scheme = url.scheme().lower()
        if scheme == COPY_SCHEME:
            self._copy_code_block(url.path())
        elif scheme in ("http", "https"):
            address = safe_http_url(url.toString())
            if address is not None:
                self.sig_link_requested.emit(address)
        # Anything else was never rendered as a link; if it arrives anyway, it is ignored.

    def _copy_code_block(self, index_text: str) -> None:
        blocks = self.code_blocks
        if index_text.isdigit() and int(index_text) < len(blocks):
            QGuiApplication.clipboard().setText(blocks[int(index_text)])


def confirm_and_open(parent: QWidget | None, url: str) -> bool:
    """Ask the user to confirm the exact http(s) URL, then open it; True if it was opened.

    The dialog shows the URL as plain text (never as rich text), and also the ASCII form the
    browser will receive when it differs: that reveals look-alike international host names
    (``аррӏе.com`` is ``xn--80ak6aa92e.com``) and percent-encoding.
    """
    address = safe_http_url(url)
    if address is None:
        return False
    qurl = QUrl(address)
    if not qurl.isValid() or qurl.scheme() not in ("http", "https") or not qurl.host():
        return False
    text = f"Open this address in your web browser?\n\n{address}"
    encoded = bytes(qurl.toEncoded().data()).decode("ascii", "replace")
    if encoded != address:
        text += f"\n\nThe browser will receive it as:\n{encoded}"
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Open link")
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    box.setStandardButtons(QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    if QMessageBox.StandardButton(box.exec()) != QMessageBox.StandardButton.Open:
        return False
    return QDesktopServices.openUrl(qurl)
