"""Horizontal bars per sampler stage for one token, painted with QPainter.

One block per stage: a header (the stage, its cut-off, survivors, entropy) and up to ten bars
(a candidate's text with visible whitespace, a bar as long as its probability on a 0…1 scale,
the number).  The chosen token is marked; candidates the stage removed are faded and struck
through.  Stages the settings switched off take one line.  Colours come from the palette, so
the light and the dark theme both work.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from chatapp.ui.inside.stage_model import Bar, StageRow
from chatapp.ui.inside.visible_text import visible

_PAD = 6.0
_GAP = 6.0
#: Stages drawn with their bars even when marked inactive: the distributions everything
#: starts from.
_ALWAYS_SHOWN = frozenset({"raw", "input"})


class StageBars(QWidget):
    """The selected token's distribution after each sampler stage.

    Signals:
        sig_candidate_clicked(int): the user clicked a candidate's bar; the argument is its
            token id (the panel offers it for "Branch here").

    Attributes:
        rows: the stages shown, as plain values (what tests read instead of pixels).
        caption: a line above the blocks ("what the model did" / "what-if …").
    """

    sig_candidate_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        """No stages yet."""
        super().__init__(parent)
        self.rows: list[StageRow] = []
        self.caption = ""
        self._hits: list[tuple[QRectF, int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def set_rows(self, rows: Sequence[StageRow], caption: str = "") -> None:
        """Show ``rows`` (and a caption above them)."""
        self.rows = list(rows)
        self.caption = caption
        self.updateGeometry()
        self.setMinimumHeight(int(self._height()))
        self.update()

    def final_distribution(self) -> list[tuple[int, float]]:
        """The last stage's bars as (token id, p), survivors only."""
        if not self.rows:
            return []
        return [(b.token_id, b.p) for b in self.rows[-1].bars if not b.cut]

    # --- geometry ------------------------------------------------------------------------------

    def _line(self) -> float:
        return QFontMetricsF(self.font()).height() + 3.0

    def _bold(self) -> QFont:
        bold = QFont(self.font())
        bold.setBold(True)
        return bold

    def _height(self, width: float | None = None) -> float:
        line = self._line()
        width = float(self.width()) if width is None else width
        bold = self._bold()
        h = _PAD + (line + 2.0 if self.caption else 0.0)
        for row in self.rows:
            h += line * (2 if self._split(row, width, bold) else 1)
            if row.active or row.name in _ALWAYS_SHOWN:
                h += line * len(row.bars) + _GAP
        return h + _PAD

    def sizeHint(self) -> QSize:
        """As tall as the blocks need; the width is the layout's."""
        return QSize(320, int(self._height()))

    def minimumSizeHint(self) -> QSize:
        """Never squeezed vertically (the panel scrolls instead)."""
        return QSize(200, int(self._height()))

    # --- painting ------------------------------------------------------------------------------

    def header_text(self, row: StageRow) -> str:
        """The block's header: stage, cut-off, survivors, entropy, chosen rank."""
        left, right = self.header_parts(row)
        return f"{left}  ·  {right}" if right else left

    def header_parts(self, row: StageRow) -> tuple[str, str]:
        """The header in two parts: (stage and cut-off, survivors and entropy); the second
        part goes on a line of its own when both do not fit on one."""
        title = self.stage_title(row.name)
        if not row.active and row.name not in _ALWAYS_SHOWN:
            return self.tr("{0} — off").format(title), ""
        left = [title]
        if row.cutoff is not None:
            left.append(self._cutoff_text(row))
        # A server's report does not say how many tokens its chain kept (-1).
        parts = [self.tr("survivors: {0}").format(row.survivors)] if row.survivors >= 0 else []
        if row.entropy_bits is not None:
            parts.append((self.tr("H = {0} bits") if row.entropy_exact
                          else self.tr("H ≈ {0} bits")).format(f"{row.entropy_bits:.2f}"))
        if row.chosen_rank is not None and not any(b.chosen for b in row.bars):
            parts.append(self.tr("chosen: cut") if row.chosen_rank < 0
                         else self.tr("chosen: rank {0}").format(row.chosen_rank + 1))
        return "  ·  ".join(left), "  ·  ".join(parts)

    def _split(self, row: StageRow, width: float, bold: QFont) -> bool:
        """Whether the header takes two lines at ``width``."""
        left, right = self.header_parts(row)
        if not right:
            return False
        return QFontMetricsF(bold).horizontalAdvance(f"{left}  ·  {right}") > width - 2 * _PAD

    def stage_title(self, name: str) -> str:
        """A stage's display name."""
        titles = {
            "raw": self.tr("raw (softmax, T = 1)"),
            "input": self.tr("after penalties (softmax, T = 1)"),
            "penalties": self.tr("penalties"),
            "top_k": self.tr("top-k"),
            "top_p": self.tr("top-p"),
            "min_p": self.tr("min-p"),
            "temperature": self.tr("temperature"),
            "server": self.tr("reported by the server"),
        }
        return titles.get(name, name)

    def _cutoff_text(self, row: StageRow) -> str:
        cut = row.cutoff
        assert cut is not None
        if cut.kind == "top_k":
            return self.tr("k = {0}").format(int(cut.setting))
        if cut.kind == "top_p":
            if cut.reached is None:
                return self.tr("p = {0}").format(f"{cut.setting:.2f}")
            return self.tr("p = {0}, reached {1}").format(f"{cut.setting:.2f}",
                                                          f"{cut.reached:.3f}")
        if cut.kind == "min_p":
            if cut.reached is None:
                return self.tr("min-p = {0}").format(f"{cut.setting:.2f}")
            return self.tr("min-p = {0}: keeps p ≥ {1}").format(f"{cut.setting:.2f}",
                                                                f"{cut.reached:.4f}")
        if cut.kind == "temperature":
            if cut.setting == 0.0:
                return self.tr("T = 0 (greedy)")
            return self.tr("T = {0}").format(f"{cut.setting:.2f}")
        if cut.kind == "penalties":
            frequency, presence = (*cut.extra, 0.0, 0.0)[:2]
            return self.tr("repeat ×{0}, frequency {1}, presence {2}").format(
                f"{cut.setting:.2f}", f"{frequency:.2f}", f"{presence:.2f}")
        return ""

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint every block (a few dozen bars: cheap)."""
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        faded = palette.color(QPalette.ColorRole.PlaceholderText)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        soft = QColor(highlight)
        soft.setAlphaF(0.45)
        rule = palette.color(QPalette.ColorRole.Mid)
        font = QFont(self.font())
        bold = QFont(font)
        bold.setBold(True)
        struck = QFont(font)
        struck.setStrikeOut(True)
        fm = QFontMetricsF(font)
        line = self._line()
        ascent = fm.ascent() + 1.5
        width = float(self.width())
        label_w = min(120.0, max(60.0, width * 0.24))
        number_w = fm.horizontalAdvance("0.0000") + 8.0
        bar_x = _PAD + label_w + 6.0
        bar_w = max(20.0, width - bar_x - number_w - _PAD)
        self._hits = []
        y = _PAD
        if self.caption:
            painter.setFont(bold)
            painter.setPen(text)
            painter.drawText(QPointF(_PAD, y + ascent),
                             fm.elidedText(self.caption, Qt.TextElideMode.ElideRight,
                                           width - 2 * _PAD))
            y += line + 2.0
        bold_fm = QFontMetricsF(bold)
        for row in self.rows:
            painter.setFont(bold)
            painter.setPen(text if row.active or row.name in _ALWAYS_SHOWN else faded)
            if self._split(row, width, bold):
                left, right = self.header_parts(row)
                painter.drawText(QPointF(_PAD, y + ascent), bold_fm.elidedText(
                    left, Qt.TextElideMode.ElideRight, width - 2 * _PAD))
                y += line
                painter.setFont(font)
                painter.drawText(QPointF(_PAD + 12, y + ascent), fm.elidedText(
                    right, Qt.TextElideMode.ElideRight, width - 2 * _PAD - 12))
            else:
                painter.drawText(QPointF(_PAD, y + ascent), bold_fm.elidedText(
                    self.header_text(row), Qt.TextElideMode.ElideRight, width - 2 * _PAD))
            y += line
            if not row.active and row.name not in _ALWAYS_SHOWN:
                continue
            for bar in row.bars:
                self._paint_bar(painter, bar, y, line, ascent, label_w, bar_x, bar_w,
                                (font, bold, struck), (text, faded, highlight, soft))
                self._hits.append((QRectF(0.0, y, width, line), bar.token_id))
                y += line
            painter.setPen(rule)
            painter.drawLine(QPointF(_PAD, y + _GAP / 2), QPointF(width - _PAD, y + _GAP / 2))
            y += _GAP

    def _paint_bar(self, painter: QPainter, bar: Bar, y: float, line: float, ascent: float,
                   label_w: float, bar_x: float, bar_w: float,
                   fonts: tuple[QFont, QFont, QFont],
                   colours: tuple[QColor, QColor, QColor, QColor]) -> None:
        font, bold, struck = fonts
        text, faded, highlight, soft = colours
        label_font = struck if bar.cut else bold if bar.chosen else font
        painter.setFont(label_font)
        painter.setPen(faded if bar.cut else text)
        marker = "▶ " if bar.chosen else ""
        label = QFontMetricsF(label_font).elidedText(
            marker + visible(bar.text, 24), Qt.TextElideMode.ElideRight, label_w)
        painter.drawText(QPointF(_PAD, y + ascent), label)
        length = max(1.0, min(1.0, bar.p) * bar_w) if bar.p > 0 else 0.0
        rect = QRectF(bar_x, y + 2.0, length, line - 4.0)
        if bar.cut:
            painter.setPen(faded)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect)
        else:
            painter.fillRect(rect, highlight if bar.chosen else soft)
        painter.setFont(struck if bar.cut else font)
        painter.setPen(faded if bar.cut else text)
        painter.drawText(QPointF(bar_x + length + 4.0, y + ascent), f"{bar.p:.4f}")

    # --- events --------------------------------------------------------------------------------

    def bar_at(self, pos: QPointF) -> int | None:
        """The token id of the bar at ``pos``, or None."""
        for rect, token in self._hits:
            if rect.contains(pos):
                return token
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Clicking a bar offers its candidate."""
        token = self.bar_at(event.position())
        if token is not None and event.button() == Qt.MouseButton.LeftButton:
            self.sig_candidate_clicked.emit(token)
            return
        super().mousePressEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Headers may need a second line at a new width."""
        super().resizeEvent(event)
        height = int(self._height(float(event.size().width())))
        if height != self.minimumHeight():
            self.setMinimumHeight(height)

    def changeEvent(self, event: QEvent) -> None:
        """Repaint on a language switch (headers are translated) and a new font (sizes)."""
        if event.type() in (QEvent.Type.LanguageChange, QEvent.Type.FontChange):
            self.updateGeometry()
            self.setMinimumHeight(int(self._height()))
            self.update()
        super().changeEvent(event)
