"""A perceptual colour ramp for attention weights, and numpy matrix → QImage.

The ramp goes from a deep violet through blue, teal and green to yellow, with lightness rising
steadily, so a brighter cell always means a larger weight, in colour and in greyscale alike
(and for most colour-blind readers).  256 entries, interpolated from five anchors chosen here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtGui import QColor, QImage

# (position, (r, g, b)): lightness increases monotonically along the ramp.
_ANCHORS: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (0.00, (30, 10, 58)),
    (0.25, (52, 68, 140)),
    (0.50, (32, 138, 140)),
    (0.75, (112, 196, 88)),
    (1.00, (250, 232, 84)),
)


def _ramp() -> npt.NDArray[np.uint8]:
    x = np.linspace(0.0, 1.0, 256)
    positions = [a[0] for a in _ANCHORS]
    channels = [np.interp(x, positions, [a[1][c] for a in _ANCHORS]) for c in range(3)]
    return np.rint(np.stack(channels, axis=1)).astype(np.uint8)


#: The ramp as (256, 3) uint8 RGB.
RAMP: npt.NDArray[np.uint8] = _ramp()
#: The ramp as 0xFFRRGGBB (QImage.Format_RGB32 pixels).
RAMP_ARGB: npt.NDArray[np.uint32] = np.asarray(
    0xFF000000
    + RAMP[:, 0].astype(np.uint32) * 0x10000
    + RAMP[:, 1].astype(np.uint32) * 0x100
    + RAMP[:, 2].astype(np.uint32),
    dtype=np.uint32,
)


def ramp_color(value: float) -> QColor:
    """The ramp's colour at ``value`` in [0, 1]."""
    r, g, b = (int(c) for c in RAMP[round(min(1.0, max(0.0, value)) * 255)])
    return QColor(r, g, b)


def scaled(values: npt.NDArray[np.floating], top: float, sqrt: bool) -> npt.NDArray[np.float32]:
    """``values`` mapped to [0, 1]: divided by ``top`` (the largest weight shown), then, with
    ``sqrt``, square-rooted so that small weights stay visible."""
    out = np.asarray(values, dtype=np.float32) / np.float32(top if top > 0 else 1.0)
    np.clip(out, 0.0, 1.0, out=out)
    if sqrt:
        np.sqrt(out, out=out)
    return out


def to_image(unit: npt.NDArray[np.float32], masked: QColor | None = None) -> QImage:
    """A (rows, cols) matrix of values in [0, 1] as an RGB32 image, one pixel per cell.

    With ``masked``, cells above the diagonal (column > row: the causal mask) get that colour
    instead of the ramp's, so the empty triangle does not read as "weight 0".
    """
    rows, cols = unit.shape
    index = np.rint(np.nan_to_num(unit, nan=0.0) * 255.0).astype(np.uint8)
    pixels = RAMP_ARGB[index]
    if masked is not None:
        upper = np.triu(np.ones((rows, cols), dtype=bool), k=1)
        pixels[upper] = np.uint32(0xFF000000 | (masked.rgb() & 0xFFFFFF))
    pixels = np.ascontiguousarray(pixels)
    image = QImage(pixels.data, cols, rows, cols * 4, QImage.Format.Format_RGB32)
    return image.copy()  # detach from the numpy buffer
