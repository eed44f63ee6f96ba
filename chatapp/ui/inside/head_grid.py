"""A grid of small heatmaps, one per attention head of a layer; click one to select it."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QFontMetricsF,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

_GAP = 6.0
#: Thumbnail side: as large as fits every head in one row, within these bounds.
_SMALLEST, _LARGEST = 36.0, 64.0


class HeadThumbnails(QWidget):
    """Every head of one layer as a thumbnail, labelled with its head number.

    Signals:
        sig_head_clicked(int): the user clicked a thumbnail; the argument is its position
            among the captured heads.

    Attributes:
        labels: each thumbnail's caption (what tests read).
    """

    sig_head_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        """No thumbnails yet."""
        super().__init__(parent)
        self._images: list[QImage] = []
        self.labels: list[str] = []
        self._current: int | None = None
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def set_thumbnails(self, images: list[QImage], labels: list[str]) -> None:
        """Show ``images`` captioned with ``labels``."""
        self._images = list(images)
        self.labels = list(labels)
        self.updateGeometry()
        self.update()

    def set_labels(self, labels: list[str]) -> None:
        """New captions for the same thumbnails (a language switch)."""
        self.labels = list(labels)
        self.update()

    def image(self, index: int) -> QImage:
        """Thumbnail ``index``'s image."""
        return self._images[index]

    def count(self) -> int:
        """How many thumbnails are shown."""
        return len(self._images)

    def set_current(self, index: int | None) -> None:
        """Frame thumbnail ``index`` (None: none, e.g. while the mean is shown)."""
        self._current = index
        self.update()

    def current(self) -> int | None:
        """The framed thumbnail."""
        return self._current

    # --- geometry ------------------------------------------------------------------------------

    def _side(self, width: int) -> float:
        n = max(1, len(self._images))
        return max(_SMALLEST, min(_LARGEST, (width - _GAP) / n - _GAP))

    def _columns(self, width: int) -> int:
        return max(1, int((width - _GAP) // (self._side(width) + _GAP)))

    def _cell_h(self, width: int) -> float:
        return self._side(width) + QFontMetricsF(self.font()).height() + _GAP

    def hasHeightForWidth(self) -> bool:
        """Rows wrap with the width."""
        return True

    def heightForWidth(self, width: int) -> int:
        """Enough rows for every thumbnail at ``width``."""
        rows = math.ceil(len(self._images) / self._columns(width)) if self._images else 0
        return int(rows * self._cell_h(width) + _GAP)

    def sizeHint(self) -> QSize:
        """One row at the current width, or what the width allows."""
        width = max(self.width(), 300)
        return QSize(int(5 * (_SMALLEST + _GAP) + _GAP), self.heightForWidth(width))

    def _rect(self, k: int) -> QRectF:
        width = self.width()
        side = self._side(width)
        row, col = divmod(k, self._columns(width))
        return QRectF(_GAP + col * (side + _GAP), _GAP / 2 + row * self._cell_h(width),
                      side, side)

    def index_at(self, pos: QPointF) -> int | None:
        """The thumbnail under ``pos``."""
        for k in range(len(self._images)):
            if self._rect(k).adjusted(-2, -2, 2, 2).contains(pos):
                return k
        return None

    # --- painting and events -------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the thumbnails, their captions and a frame around the current one."""
        painter = QPainter(self)
        palette = self.palette()
        fm = QFontMetricsF(self.font())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        for k, image in enumerate(self._images):
            rect = self._rect(k)
            painter.drawImage(rect, image)
            if k == self._current:
                painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 3))
                painter.drawRect(rect.adjusted(-2, -2, 2, 2))
            else:
                painter.setPen(palette.color(QPalette.ColorRole.Mid))
                painter.drawRect(rect)
            painter.setPen(palette.color(QPalette.ColorRole.WindowText))
            label = fm.elidedText(self.labels[k] if k < len(self.labels) else "",
                                  Qt.TextElideMode.ElideRight, rect.width() + _GAP)
            painter.drawText(QPointF(rect.x(), rect.bottom() + fm.ascent() + 1), label)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """Clicking a thumbnail selects its head."""
        k = self.index_at(event.position())
        if k is not None and event.button() == Qt.MouseButton.LeftButton:
            self.sig_head_clicked.emit(k)
            return
        super().mousePressEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """A new width may change the number of rows."""
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()
