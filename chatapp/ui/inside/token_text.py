"""A reply shown token by token, each token's background shaded by a value in [0, 1].

The layout is the view's own: every token becomes one or more fragments (a stretch of text on
one line) placed left to right, wrapping at token boundaries (inside a token only when it is
wider than a line).  Appending a token places only that token, so streaming costs the same for
the 4,000th token as for the first; painting touches only the visible lines.  A new width lays
everything out again once.

Token texts are drawn with `QPainter.drawText`, one fragment at a time: model text is never
markup, and a bidi override inside a token cannot reorder its neighbours (the characters are
shown as escapes anyway, see `visible_text.flowing`).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from chatapp.ui.inside.plain_text import PlainTip
from chatapp.ui.inside.visible_text import flowing

_MARGIN = 6.0
_NEWLINE_MARK = "⏎"
_EMPTY_WIDTH = 5.0
#: Strongest shade, as the highlight colour's opacity over the background.
MAX_SHADE_ALPHA = 0.55


class TokenTextView(QAbstractScrollArea):
    """Read-only text made of tokens; click selects one, hovering shows a plain-text tip.

    Signals:
        sig_token_clicked(int): the user clicked a token, or moved with the arrow keys; the
            argument is its index.  The view does not select it by itself: the owner calls
            `set_selected`, so a selection always has one source of truth.

    Attributes:
        tip: the plain-text hover window (its ``shown_text`` is what the user sees).
    """

    sig_token_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty view."""
        super().__init__(parent)
        self._texts: list[str] = []  # per token, as shown (see `flowing`)
        self._shades: list[float] = []
        self._shading = True
        self._selected: int | None = None
        self._tooltip: Callable[[int], str] | None = None
        self._widths: dict[str, float] = {}
        self._fm = QFontMetricsF(self.font())
        self._line_h = self._fm.height() + 2.0
        self._width = 0.0
        self._reset_layout()
        self.tip = PlainTip(self)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)
        self.viewport().setBackgroundRole(QPalette.ColorRole.Base)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    # --- content -------------------------------------------------------------------------------

    def count(self) -> int:
        """How many tokens the view holds."""
        return len(self._texts)

    def texts(self) -> list[str]:
        """The tokens' texts as shown (whitespace kept, invisible characters escaped)."""
        return list(self._texts)

    def shades(self) -> list[float]:
        """Each token's shade, 0 (none) … 1 (strongest)."""
        return list(self._shades)

    def set_tokens(self, texts: Sequence[str], shades: Sequence[float] | None = None) -> None:
        """Replace the content; ``shades`` defaults to none."""
        self._texts = [flowing(t) for t in texts]
        self._shades = [_clamp(s) for s in shades] if shades is not None else [0.0] * len(texts)
        if len(self._shades) != len(self._texts):
            raise ValueError("one shade per token is needed")
        self._selected = None
        self._relayout()

    def append_token(self, text: str, shade: float = 0.0) -> None:
        """Add one token at the end.  Cheap: call `flush` (e.g. from a timer) to show it."""
        shown = flowing(text)
        self._texts.append(shown)
        self._shades.append(_clamp(shade))
        self._place(len(self._texts) - 1, shown)

    def set_shades(self, shades: Sequence[float]) -> None:
        """New shades for every token."""
        if len(shades) != len(self._texts):
            raise ValueError("one shade per token is needed")
        self._shades = [_clamp(s) for s in shades]
        self.viewport().update()

    def set_shading(self, on: bool) -> None:
        """Show the shades, or plain text."""
        self._shading = on
        self.viewport().update()

    def shading(self) -> bool:
        """Whether the shades are shown."""
        return self._shading

    def set_selected(self, index: int | None) -> None:
        """Mark token ``index`` (None: no token) and scroll it into view."""
        if index is not None and not 0 <= index < len(self._texts):
            index = None
        self._selected = index
        if index is not None:
            self.ensure_visible(index)
        self.viewport().update()

    def selected(self) -> int | None:
        """The marked token."""
        return self._selected

    def set_tooltip_provider(self, provider: Callable[[int], str] | None) -> None:
        """What hovering over token i shows: ``provider(i)``, plain text."""
        self._tooltip = provider

    def flush(self) -> None:
        """Show what was appended since the last call."""
        self._sync_scrollbar()
        self.viewport().update()

    def scroll_to_end(self) -> None:
        """Scroll to the last line."""
        self._sync_scrollbar()
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def ensure_visible(self, index: int) -> None:
        """Scroll so that token ``index`` is in view."""
        if not 0 <= index < len(self._token_frag):
            return
        self._sync_scrollbar()
        line = self._frag_line[self._token_frag[index]]
        top, bottom = line * self._line_h, (line + 1) * self._line_h
        bar = self.verticalScrollBar()
        view_h = self.viewport().height()
        if top < bar.value():
            bar.setValue(int(top))
        elif bottom > bar.value() + view_h:
            bar.setValue(int(bottom - view_h) + 1)

    # --- hit testing ---------------------------------------------------------------------------

    def token_at(self, pos: QPoint | QPointF) -> int | None:
        """The token under ``pos`` (viewport coordinates), or None."""
        y = pos.y() + self.verticalScrollBar().value() - _MARGIN / 2
        x = pos.x() - _MARGIN
        line = int(y // self._line_h) if y >= 0 else -1
        if not 0 <= line < len(self._line_start):
            return None
        start = self._line_start[line]
        end = self._line_start[line + 1] if line + 1 < len(self._line_start) else len(
            self._frag_x)
        xs = self._frag_x[start:end]
        k = bisect_right(xs, x) - 1
        if k < 0:
            return None
        frag = start + k
        if x > self._frag_x[frag] + self._frag_w[frag]:
            return None
        return self._frag_token[frag]

    def tooltip_at(self, pos: QPoint | QPointF) -> str:
        """The hover text at ``pos`` (viewport coordinates); "" where there is none."""
        index = self.token_at(pos)
        if index is None or self._tooltip is None:
            return ""
        return self._tooltip(index)

    def token_rect(self, index: int) -> QRectF:
        """Where token ``index`` starts, in viewport coordinates (for tests and scrolling)."""
        frag = self._token_frag[index]
        return self._frag_rect(frag, float(self.verticalScrollBar().value()))

    # --- layout --------------------------------------------------------------------------------

    def _reset_layout(self) -> None:
        self._frag_token: list[int] = []
        self._frag_line: list[int] = []
        self._frag_x: list[float] = []
        self._frag_w: list[float] = []
        self._frag_text: list[str] = []
        self._frag_mark: list[bool] = []  # a line-break mark "⏎"
        self._line_start: list[int] = [0]
        self._token_frag: list[int] = []
        self._x = 0.0

    def _relayout(self) -> None:
        self._width = max(40.0, self.viewport().width() - 2 * _MARGIN)
        self._reset_layout()
        for i, text in enumerate(self._texts):
            self._place(i, text)
        self.flush()

    def _measure(self, text: str) -> float:
        width = self._widths.get(text)
        if width is None:
            width = self._fm.horizontalAdvance(text)
            if len(self._widths) < 50_000:
                self._widths[text] = width
        return width

    def _add(self, token: int, text: str, width: float, mark: bool = False) -> None:
        self._frag_token.append(token)
        self._frag_line.append(len(self._line_start) - 1)
        self._frag_x.append(self._x)
        self._frag_w.append(width)
        self._frag_text.append(text)
        self._frag_mark.append(mark)
        self._x += width

    def _new_line(self) -> None:
        self._line_start.append(len(self._frag_x))
        self._x = 0.0

    def _place(self, token: int, text: str) -> None:
        if self._width <= 0:
            self._width = max(40.0, self.viewport().width() - 2 * _MARGIN)
        self._token_frag.append(len(self._frag_x))
        if not text:
            if self._x + _EMPTY_WIDTH > self._width:
                self._new_line()
            self._add(token, "", _EMPTY_WIDTH)
            return
        parts = text.split("\n")
        for k, part in enumerate(parts):
            if part:
                self._place_part(token, part)
            if k < len(parts) - 1:
                mark_w = self._measure(_NEWLINE_MARK)
                if self._x + mark_w > self._width and self._x > 0:
                    self._new_line()
                self._add(token, _NEWLINE_MARK, mark_w, mark=True)
                self._new_line()

    def _place_part(self, token: int, part: str) -> None:
        width = self._measure(part)
        if self._x + width <= self._width:
            self._add(token, part, width)
            return
        if width <= self._width:
            self._new_line()
            self._add(token, part, width)
            return
        # Wider than a line: cut it into line-sized pieces (never measuring the whole text).
        rest = part
        if self._x > self._width * 0.6:
            self._new_line()
        while rest:
            room = self._width - self._x
            n = self._fitting(rest, room)
            if n == 0:
                if self._x == 0:
                    n = 1  # a single glyph wider than the view: place it anyway
                else:
                    self._new_line()
                    continue
            chunk = rest[:n]
            self._add(token, chunk, self._fm.horizontalAdvance(chunk))
            rest = rest[n:]
            if rest:
                self._new_line()

    def _fitting(self, text: str, room: float) -> int:
        """How many leading characters of ``text`` fit in ``room`` pixels."""
        average = max(1.0, self._fm.averageCharWidth())
        lo, hi = 0, min(len(text), int(room / average * 3) + 2)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._fm.horizontalAdvance(text[:mid]) <= room:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _content_height(self) -> float:
        return len(self._line_start) * self._line_h + _MARGIN

    def _sync_scrollbar(self) -> None:
        bar = self.verticalScrollBar()
        view_h = self.viewport().height()
        bar.setRange(0, max(0, int(self._content_height() - view_h + 0.5)))
        bar.setPageStep(max(1, view_h))
        bar.setSingleStep(max(1, int(self._line_h)))

    def _frag_rect(self, frag: int, scroll: float) -> QRectF:
        return QRectF(
            _MARGIN + self._frag_x[frag],
            _MARGIN / 2 + self._frag_line[frag] * self._line_h - scroll,
            self._frag_w[frag],
            self._line_h,
        )

    # --- events --------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint the visible lines only."""
        painter = QPainter(self.viewport())
        palette = self.palette()
        text_color = palette.color(QPalette.ColorRole.Text)
        mark_color = palette.color(QPalette.ColorRole.PlaceholderText)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        selected_text = palette.color(QPalette.ColorRole.HighlightedText)
        shade = QColor(highlight)
        scroll = float(self.verticalScrollBar().value())
        first = max(0, int((scroll - _MARGIN) // self._line_h))
        last = min(len(self._line_start) - 1,
                   int((scroll + self.viewport().height()) // self._line_h) + 1)
        if first > last:
            return
        start = self._line_start[first]
        end = (self._line_start[last + 1] if last + 1 < len(self._line_start)
               else len(self._frag_x))
        ascent = self._fm.ascent() + 1.0
        painter.setFont(self.font())
        for frag in range(start, end):
            token = self._frag_token[frag]
            rect = self._frag_rect(frag, scroll)
            is_selected = token == self._selected
            if is_selected:
                painter.fillRect(rect, highlight)
            elif self._shading and self._shades[token] > 0.0:
                shade.setAlphaF(self._shades[token] * MAX_SHADE_ALPHA)
                painter.fillRect(rect, shade)
            if not self._frag_text[frag]:
                painter.setPen(mark_color)
                painter.drawRect(rect.adjusted(1, 3, -1, -3))
                continue
            if is_selected:
                painter.setPen(selected_text)
            else:
                painter.setPen(mark_color if self._frag_mark[frag] else text_color)
            painter.drawText(QPointF(rect.x(), rect.y() + ascent), self._frag_text[frag])

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Lay out again when the width changed."""
        super().resizeEvent(event)
        if abs(max(40.0, self.viewport().width() - 2 * _MARGIN) - self._width) > 0.5:
            self._relayout()
        else:
            self._sync_scrollbar()

    def changeEvent(self, event: QEvent) -> None:
        """A new font means new widths."""
        if event.type() == QEvent.Type.FontChange:
            self._fm = QFontMetricsF(self.font())
            self._line_h = self._fm.height() + 2.0
            self._widths.clear()
            self._relayout()
        super().changeEvent(event)

    def viewportEvent(self, event: QEvent) -> bool:
        """Hover tips (plain text) and hiding them when the mouse leaves."""
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            self.tip.show_text(event.globalPos(), self.tooltip_at(event.pos()))
            return True
        if event.type() == QEvent.Type.Leave:
            self.tip.hide_tip()
        return super().viewportEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Hide a tip that no longer belongs to the token under the mouse."""
        if self.tip.isVisible() and self.tooltip_at(event.position()) != self.tip.shown_text:
            self.tip.hide_tip()
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """A click on a token asks for it to be selected."""
        if event.button() == Qt.MouseButton.LeftButton:
            index = self.token_at(event.position())
            if index is not None:
                self.sig_token_clicked.emit(index)
                return
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Left/Right (and Home/End) move the selection by one token."""
        n = len(self._texts)
        current = self._selected
        key = event.key()
        target: int | None = None
        if n and key == Qt.Key.Key_Left:
            target = max(0, (current if current is not None else n) - 1)
        elif n and key == Qt.Key.Key_Right:
            target = min(n - 1, (current if current is not None else -1) + 1)
        elif n and key == Qt.Key.Key_Home:
            target = 0
        elif n and key == Qt.Key.Key_End:
            target = n - 1
        if target is None:
            super().keyPressEvent(event)
            return
        self.sig_token_clicked.emit(target)


def _clamp(value: float) -> float:
    if not value > 0.0:  # also NaN
        return 0.0
    return min(1.0, float(value))
