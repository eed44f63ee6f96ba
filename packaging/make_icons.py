"""Draw chatapp's icon at every standard size, from code (run when the design changes).

Run:  .venv/bin/python packaging/make_icons.py

Writes resources/icons/hicolor/<N>x<N>/apps/chatapp.png for N in 16…512 (the freedesktop icon
theme layout the Linux installer copies), resources/icons/chatapp.ico (Windows) and
resources/icons/chatapp.icns (macOS).  The design: a speech bubble on a blue-violet tile, with a
small attention map inside (a lower-triangular grid of cells, darker where attention is
stronger) — a chat that shows what the Transformer does.  Each size is drawn, not scaled, so
the small ones stay crisp: at 16 and 24 px the grid becomes three bars.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICONS = ROOT / "resources" / "icons"


def draw(size: int) -> object:
    """The icon as a QImage of `size`×`size` pixels."""
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QBrush, QColor, QImage, QLinearGradient, QPainter, QPainterPath

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = float(size)
    margin = max(1.0, s * 0.04)
    tile = QRectF(margin, margin, s - 2 * margin, s - 2 * margin)
    gradient = QLinearGradient(tile.topLeft(), tile.bottomRight())
    gradient.setColorAt(0.0, QColor("#3b6fe0"))
    gradient.setColorAt(1.0, QColor("#7a3fd1"))
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(gradient))
    p.drawRoundedRect(tile, s * 0.22, s * 0.22)

    # The speech bubble: a rounded rectangle with a tail at the lower left.
    bubble = QRectF(s * 0.17, s * 0.18, s * 0.66, s * 0.50)
    path = QPainterPath()
    path.addRoundedRect(bubble, s * 0.12, s * 0.12)
    tail = QPainterPath()
    tail.moveTo(QPointF(s * 0.28, bubble.bottom() - s * 0.02))
    tail.lineTo(QPointF(s * 0.22, s * 0.84))
    tail.lineTo(QPointF(s * 0.46, bubble.bottom() - s * 0.02))
    tail.closeSubpath()
    p.setBrush(QColor("#ffffff"))
    p.drawPath(path.united(tail))

    # The attention map inside the bubble.
    inner = bubble.adjusted(s * 0.11, s * 0.09, -s * 0.11, -s * 0.09)
    if size <= 24:
        # Too small for a grid: three bars of falling strength.
        bar_h = inner.height() / 5
        for i, (alpha, width) in enumerate(((255, 1.0), (170, 0.75), (90, 0.5))):
            p.setBrush(QColor(91, 63, 209, alpha))
            p.drawRect(QRectF(inner.left(), inner.top() + i * 2 * bar_h,
                              inner.width() * width, bar_h))
    else:
        n = 4
        gap = max(1.0, s * 0.012)
        cell_w = (inner.width() - (n - 1) * gap) / n
        cell_h = (inner.height() - (n - 1) * gap) / n
        # Row i attends to columns 0..i (causal); the diagonal and the first token strongest.
        weights = [[0.95], [0.55, 0.85], [0.50, 0.25, 0.75], [0.45, 0.20, 0.30, 0.70]]
        for i, row in enumerate(weights):
            for j, w in enumerate(row):
                p.setBrush(QColor(91, 63, 209, int(40 + 215 * w)))
                p.drawRoundedRect(QRectF(inner.left() + j * (cell_w + gap),
                                         inner.top() + i * (cell_h + gap), cell_w, cell_h),
                                  s * 0.015, s * 0.015)
    p.end()
    return image


def main() -> int:
    """Write every icon file."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])
    images: dict[int, QImage] = {}
    for size in SIZES:
        image = draw(size)
        assert isinstance(image, QImage)
        images[size] = image
        target = ICONS / "hicolor" / f"{size}x{size}" / "apps" / "chatapp.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target)):
            raise OSError(f"could not write {target}")
    # Qt's image plugins write .ico (Windows takes the 256 px one and scales) and .icns.
    if not images[256].save(str(ICONS / "chatapp.ico")):
        raise OSError("could not write chatapp.ico")
    if not images[512].save(str(ICONS / "chatapp.icns")):
        raise OSError("could not write chatapp.icns")
    del app
    print(f"icons written to {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
