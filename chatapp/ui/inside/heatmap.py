"""A token × token attention heatmap: rows are query tokens, columns the keys they look at.

The matrix becomes a QImage once per selection (one pixel per cell, through the colour ramp);
painting draws a cached, scaled copy, so a 1,000-token matrix paints as fast as a 10-token one.
Cells above the diagonal (the causal mask: a token never sees later ones) are painted in the
background colour and hatched, so they read as "nothing here" rather than "weight 0".
Axes carry the token texts when a cell is tall enough for a line of text, token numbers
otherwise; hovering names the cell.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetricsF,
    QImage,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from chatapp.ui.inside.colormap import ramp_color, scaled, to_image
from chatapp.ui.inside.visible_text import quoted, visible

_PAD = 4.0
_LABEL_CHARS = 12


class Heatmap(QWidget):
    """Draws one (T, T) attention matrix.

    Signals:
        sig_query_clicked(int): the user clicked a row; the argument is its query token.
        sig_hovered(str): the hover text changed ("" when the mouse left the matrix).

    Attributes:
        hover_text: the text for the cell under the mouse ("" for none).
    """

    sig_query_clicked = Signal(int)
    sig_hovered = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty heatmap."""
        super().__init__(parent)
        self._matrix: npt.NDArray[np.float32] | None = None
        self._pieces: list[str] = []
        self._labels: list[str] = []
        self._sqrt = True
        self._top = 1.0
        self._image: QImage | None = None
        self._scaled: QPixmap | None = None
        self._scaled_key: tuple[int, int] = (-1, -1)
        self._query: int | None = None
        self._hover: tuple[int, int] | None = None
        self.hover_text = ""
        self.setMouseTracking(True)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # --- content -------------------------------------------------------------------------------

    def set_matrix(self, matrix: npt.NDArray[np.float32] | None, pieces: list[str],
                   sqrt: bool = True) -> None:
        """Show ``matrix`` (None: nothing); ``pieces`` label its T tokens."""
        self._matrix = matrix
        self._pieces = pieces
        self._labels = [visible(p, _LABEL_CHARS) for p in pieces]
        self._sqrt = sqrt
        if matrix is not None and matrix.size:
            lower = np.tril(matrix)
            self._top = float(lower.max()) if lower.size else 1.0
        self._hover = None
        self._rebuild_image()

    def matrix(self) -> npt.NDArray[np.float32] | None:
        """The matrix shown."""
        return self._matrix

    def image(self) -> QImage | None:
        """The colour image, one pixel per cell."""
        return self._image

    def set_query(self, query: int | None) -> None:
        """Outline the row of query token ``query``."""
        self._query = query
        self.update()

    def top(self) -> float:
        """The weight drawn in the ramp's brightest colour."""
        return self._top

    def _rebuild_image(self) -> None:
        self._scaled = None
        if self._matrix is None or not self._matrix.size:
            self._image = None
        else:
            unit = scaled(self._matrix, self._top, self._sqrt)
            self._image = to_image(unit, self.palette().color(QPalette.ColorRole.Base))
        self.update()

    # --- hit testing ---------------------------------------------------------------------------

    def plot_rect(self) -> QRectF:
        """Where the matrix is drawn, in widget coordinates (empty when nothing is shown)."""
        if self._matrix is None or self._image is None:
            return QRectF()
        return self._geometry(QRectF(self.rect()), QFontMetricsF(self.font()))[0]

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        """(query, key) under ``pos``, or None."""
        plot = self.plot_rect()
        if self._matrix is None or not plot.contains(pos):
            return None
        t = self._matrix.shape[0]
        cell = plot.width() / t
        i = min(t - 1, int((pos.y() - plot.y()) / cell))
        j = min(t - 1, int((pos.x() - plot.x()) / cell))
        return i, j

    def text_for(self, query: int, key: int) -> str:
        """"query → key: weight" for one cell (plain text)."""
        if self._matrix is None:
            return ""
        q = quoted(self._pieces[query], 20) if query < len(self._pieces) else "?"
        k = quoted(self._pieces[key], 20) if key < len(self._pieces) else "?"
        if key > query:
            return self.tr("{0} #{1} → {2} #{3}: masked (a later token)").format(
                q, query, k, key)
        weight = float(self._matrix[query, key])
        return self.tr("{0} #{1} → {2} #{3}: {4}").format(q, query, k, key, f"{weight:.4f}")

    # --- painting ------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        """Square, as large as the layout allows."""
        return QSize(420, 420)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the cached image scaled into the plot, the axes, the legend and outlines."""
        painter = QPainter(self)
        self.paint_into(painter, QRectF(self.rect()), cached=True)

    def render_picture(self, size: QSize) -> QImage:
        """The heatmap with its axes and legend as an image of ``size`` (for "Save picture")."""
        image = QImage(size, QImage.Format.Format_RGB32)
        image.fill(self.palette().color(QPalette.ColorRole.Window))
        painter = QPainter(image)
        self.paint_into(painter, QRectF(0, 0, size.width(), size.height()), cached=False)
        painter.end()
        return image

    def _geometry(self, area: QRectF, fm: QFontMetricsF) -> tuple[QRectF, bool, float]:
        """(plot rectangle, whether token texts fit as labels, label margin)."""
        t = self._matrix.shape[0] if self._matrix is not None else 1
        legend_h = fm.height() * 2 + 10
        number_w = fm.horizontalAdvance(str(max(t - 1, 0))) + 8
        avail_w = area.width() - 2 * _PAD
        avail_h = area.height() - 2 * _PAD - legend_h
        widest = max((fm.horizontalAdvance(lbl) for lbl in self._labels), default=0.0)
        label_w = min(widest + 8, max(60.0, avail_w * 0.22))
        side = min(avail_w - label_w, avail_h - label_w)
        with_text = t > 0 and side / t >= fm.height() * 0.95
        margin = label_w if with_text else number_w
        side = max(10.0, min(avail_w - margin, avail_h - margin))
        plot = QRectF(area.x() + _PAD + margin, area.y() + _PAD + margin, side, side)
        return plot, with_text, margin

    def paint_into(self, painter: QPainter, area: QRectF, cached: bool) -> QRectF:
        """Paint into ``area``; returns the plot rectangle."""
        palette = self.palette()
        painter.fillRect(area, palette.color(QPalette.ColorRole.Window))
        fm = QFontMetricsF(self.font())
        painter.setFont(self.font())
        if self._matrix is None or self._image is None:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, self.tr("No attention shown"))
            return QRectF()
        t = self._matrix.shape[0]
        plot, with_text, margin = self._geometry(area, fm)
        self._draw_image(painter, plot, cached)
        self._draw_mask(painter, plot, t, palette)
        self._draw_axes(painter, plot, t, with_text, margin, fm, palette)
        self._draw_outlines(painter, plot, t, palette)
        self._draw_legend(painter, plot, fm, palette)
        return plot

    def _draw_image(self, painter: QPainter, plot: QRectF, cached: bool) -> None:
        assert self._image is not None
        side = max(1, round(plot.width()))
        smooth = self._image.width() > side  # averaging when shrinking, crisp cells otherwise
        mode = (Qt.TransformationMode.SmoothTransformation if smooth
                else Qt.TransformationMode.FastTransformation)
        if not cached:
            painter.drawImage(plot, self._image.scaled(side, side,
                                                       Qt.AspectRatioMode.IgnoreAspectRatio,
                                                       mode))
            return
        key = (side, int(self._image.cacheKey() & 0x7FFFFFFF))
        if self._scaled is None or self._scaled_key != key:
            self._scaled = QPixmap.fromImage(self._image.scaled(
                side, side, Qt.AspectRatioMode.IgnoreAspectRatio, mode))
            self._scaled_key = key
        painter.drawPixmap(QPointF(plot.x(), plot.y()), self._scaled)

    def _draw_mask(self, painter: QPainter, plot: QRectF, t: int, palette: QPalette) -> None:
        """Hatch the upper triangle (a staircase along the diagonal)."""
        if t < 2:
            return
        cell = plot.width() / t

        def corner(col: int, row: int) -> QPointF:
            return QPointF(plot.x() + col * cell, plot.y() + row * cell)

        points = [corner(1, 0), corner(t, 0), corner(t, t - 1)]
        if cell >= 1.0:  # below a pixel per cell a straight diagonal looks the same
            for i in range(t - 2, -1, -1):
                points += [corner(i + 1, i + 1), corner(i + 1, i)]
        hatch = QColor(palette.color(QPalette.ColorRole.Text))
        hatch.setAlphaF(0.3)
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(hatch, Qt.BrushStyle.BDiagPattern))
        painter.drawPolygon(QPolygonF(points))
        painter.restore()

    def _draw_axes(self, painter: QPainter, plot: QRectF, t: int, with_text: bool,
                   margin: float, fm: QFontMetricsF, palette: QPalette) -> None:
        painter.setPen(palette.color(QPalette.ColorRole.WindowText))
        cell = plot.width() / t
        if with_text:
            indices = range(t)
        else:
            step = _nice_step(t, plot.width() / max(1.0, fm.height() * 2.2))
            indices = range(0, t, step)
        for i in indices:
            text = self._labels[i] if with_text else str(i)
            text = fm.elidedText(text, Qt.TextElideMode.ElideRight, margin - 6)
            y = plot.y() + (i + 0.5) * cell + fm.ascent() / 2 - 1
            painter.drawText(QPointF(plot.x() - 4 - fm.horizontalAdvance(text), y), text)
            painter.save()
            painter.translate(plot.x() + (i + 0.5) * cell + fm.ascent() / 2 - 1, plot.y() - 4)
            painter.rotate(-90)
            painter.drawText(QPointF(0, 0), text)
            painter.restore()
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(plot)

    def _draw_outlines(self, painter: QPainter, plot: QRectF, t: int,
                       palette: QPalette) -> None:
        cell = plot.width() / t
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self._query is not None and 0 <= self._query < t:
            row = QRectF(plot.x(), plot.y() + self._query * cell, plot.width(), cell)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Base), 3))
            painter.drawRect(row)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.WindowText), 1))
            painter.drawRect(row)
        if self._hover is not None:
            i, j = self._hover
            painter.setPen(QPen(palette.color(QPalette.ColorRole.WindowText), 1))
            painter.drawRect(QRectF(plot.x() + j * cell, plot.y() + i * cell, cell, cell))

    def _draw_legend(self, painter: QPainter, plot: QRectF, fm: QFontMetricsF,
                     palette: QPalette) -> None:
        y = plot.bottom() + 6
        bar = QRectF(plot.x(), y, min(plot.width(), 220.0), fm.height() * 0.8)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for k in range(11):
            gradient.setColorAt(k / 10, ramp_color(k / 10))
        painter.fillRect(bar, gradient)
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.drawRect(bar)
        painter.setPen(palette.color(QPalette.ColorRole.WindowText))
        base = bar.bottom() + fm.ascent() + 1
        painter.drawText(QPointF(bar.x(), base), "0")
        top = f"{self._top:.3g}"
        painter.drawText(QPointF(bar.right() - fm.horizontalAdvance(top), base), top)
        note = self.tr("√ scale") if self._sqrt else self.tr("linear scale")
        painter.drawText(QPointF(bar.right() + 8, bar.y() + fm.ascent() - 1), note)

    # --- events --------------------------------------------------------------------------------

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Name the cell under the mouse."""
        cell = self.cell_at(event.position())
        if cell != self._hover:
            self._hover = cell
            self.hover_text = self.text_for(*cell) if cell is not None else ""
            self.sig_hovered.emit(self.hover_text)
            self.update()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        """Forget the hovered cell."""
        if self._hover is not None:
            self._hover = None
            self.hover_text = ""
            self.sig_hovered.emit("")
            self.update()
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """A click picks the row's query token."""
        cell = self.cell_at(event.position())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.sig_query_clicked.emit(cell[0])
            return
        super().mousePressEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        """New palette: the masked cells take the new background colour."""
        if event.type() == QEvent.Type.PaletteChange:
            self._rebuild_image()
        elif event.type() == QEvent.Type.LanguageChange:
            self.update()
        super().changeEvent(event)


def _nice_step(count: int, room: float) -> int:
    """A 1-2-5 step so that about ``room`` labels (or fewer) are drawn."""
    if room <= 0:
        return max(1, count)
    raw = max(1.0, count / room)
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if mult * power >= raw:
            return int(mult * power)
    return int(10 * power)
