"""What-if sliders: temperature, top-k, top-p and min-p, each with a number box.

The controls start at the reply's own settings; `settings()` is the reply's settings with the
four values the user moved.  A slider and its box stay in step; one user move emits one
`sig_changed`.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from chatapp.core.sampling import SamplingSettings


class _Knob:
    """A slider and a number box for one setting; the slider works in steps of 1/scale."""

    def __init__(self, parent: QWidget, box: QAbstractSpinBox, scale: float,
                 slider_range: tuple[int, int]) -> None:
        self.label = QLabel(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, parent)
        self.slider.setRange(*slider_range)
        self.box = box
        self.scale = scale

    def value(self) -> float:
        box = self.box
        return box.value() if isinstance(box, QDoubleSpinBox | QSpinBox) else 0.0

    def set_value(self, value: float) -> None:
        """Set both without signals."""
        for widget in (self.slider, self.box):
            widget.blockSignals(True)
        if isinstance(self.box, QDoubleSpinBox):
            self.box.setValue(value)
        elif isinstance(self.box, QSpinBox):
            self.box.setValue(int(value))
        self.slider.setValue(round(value * self.scale))
        for widget in (self.slider, self.box):
            widget.blockSignals(False)


class WhatIfControls(QWidget):
    """Sliders and boxes for the four settings a what-if can change.

    Signals:
        sig_changed(): the user changed a value (or pressed reset).

    Attributes:
        temperature, top_k, top_p, min_p: each a knob with ``slider`` and ``box``.
        reset_button: back to the reply's settings.
    """

    sig_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        """Controls at the default settings."""
        super().__init__(parent)
        self._base = SamplingSettings()
        t_box = QDoubleSpinBox(self)
        t_box.setRange(0.0, 2.0)
        t_box.setDecimals(2)
        t_box.setSingleStep(0.05)
        k_box = QSpinBox(self)
        k_box.setRange(0, 100_000)
        p_box = QDoubleSpinBox(self)
        p_box.setRange(0.001, 1.0)
        p_box.setDecimals(3)
        p_box.setSingleStep(0.01)
        m_box = QDoubleSpinBox(self)
        m_box.setRange(0.0, 1.0)
        m_box.setDecimals(3)
        m_box.setSingleStep(0.01)
        self.temperature = _Knob(self, t_box, 100.0, (0, 200))
        self.top_k = _Knob(self, k_box, 1.0, (0, 100))
        self.top_p = _Knob(self, p_box, 100.0, (1, 100))
        self.min_p = _Knob(self, m_box, 100.0, (0, 100))
        self.reset_button = QPushButton(self)
        self.reset_button.clicked.connect(self.reset)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        for row, knob in enumerate(self.knobs()):
            grid.addWidget(knob.label, row, 0)
            grid.addWidget(knob.slider, row, 1)
            grid.addWidget(knob.box, row, 2)
            knob.box.setMinimumWidth(80)
            knob.slider.valueChanged.connect(lambda v, k=knob: self._slider_moved(k, v))
            box = knob.box
            if isinstance(box, QDoubleSpinBox | QSpinBox):
                box.valueChanged.connect(lambda _v, k=knob: self._box_changed(k))
        grid.addWidget(self.reset_button, len(self.knobs()), 0, 1, 3,
                       Qt.AlignmentFlag.AlignLeft)
        grid.setColumnStretch(1, 1)
        self.set_settings(self._base)
        self._retranslate()

    def knobs(self) -> list[_Knob]:
        """The four knobs, in chain order."""
        return [self.top_k, self.top_p, self.min_p, self.temperature]

    def set_settings(self, settings: SamplingSettings) -> None:
        """Start from ``settings`` (the reply's); emits nothing."""
        self._base = settings
        t_box = self.temperature.box
        if isinstance(t_box, QDoubleSpinBox):
            t_box.setMaximum(max(2.0, settings.temperature))
        self.temperature.set_value(settings.temperature)
        self.top_k.set_value(settings.top_k)
        self.top_p.set_value(settings.top_p)
        self.min_p.set_value(settings.min_p)
        self._update_reset()

    def base(self) -> SamplingSettings:
        """The reply's settings."""
        return self._base

    def settings(self) -> SamplingSettings:
        """The reply's settings with the knobs' values (the reply's own when unmoved)."""
        if not self.is_modified():
            return self._base
        return replace(
            self._base,
            temperature=self.temperature.value(),
            top_k=int(self.top_k.value()),
            top_p=max(0.001, self.top_p.value()),
            min_p=self.min_p.value(),
        )

    def is_modified(self) -> bool:
        """Whether any knob differs from the reply's settings (at the boxes' precision)."""
        b = self._base
        return (
            round(self.temperature.value(), 2) != round(b.temperature, 2)
            or int(self.top_k.value()) != b.top_k
            or round(self.top_p.value(), 3) != round(b.top_p, 3)
            or round(self.min_p.value(), 3) != round(b.min_p, 3)
        )

    def reset(self) -> None:
        """Back to the reply's settings."""
        self.set_settings(self._base)
        self.sig_changed.emit()

    def _slider_moved(self, knob: _Knob, value: int) -> None:
        box = knob.box
        if isinstance(box, QDoubleSpinBox):
            box.setValue(value / knob.scale)  # its valueChanged emits sig_changed
        elif isinstance(box, QSpinBox):
            box.setValue(value)

    def _box_changed(self, knob: _Knob) -> None:
        knob.slider.blockSignals(True)
        knob.slider.setValue(round(knob.value() * knob.scale))
        knob.slider.blockSignals(False)
        self._update_reset()
        self.sig_changed.emit()

    def _update_reset(self) -> None:
        self.reset_button.setEnabled(self.is_modified())

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate on a language switch."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.temperature.label.setText(self.tr("Temperature"))
        self.top_k.label.setText(self.tr("Top-k"))
        self.top_p.label.setText(self.tr("Top-p"))
        self.min_p.label.setText(self.tr("Min-p"))
        off = self.tr("off")
        k_box, m_box = self.top_k.box, self.min_p.box
        if isinstance(k_box, QSpinBox):
            k_box.setSpecialValueText(off)
        if isinstance(m_box, QDoubleSpinBox):
            m_box.setSpecialValueText(off)
        self.reset_button.setText(self.tr("Reset to the reply's settings"))
        self.temperature.slider.setToolTip(self.tr("Divides the logits before the softmax"))
        self.top_k.slider.setToolTip(self.tr("Keep the k most likely candidates (0 = off)"))
        self.top_p.slider.setToolTip(
            self.tr("Keep the most likely candidates up to this total probability (1 = off)"))
        self.min_p.slider.setToolTip(
            self.tr("Drop candidates below this share of the top probability (0 = off)"))
