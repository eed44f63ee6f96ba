"""The "Attention" tab: capture a reply's attention, then look at it layer by layer, head by head.

What is captured is decided by the model process; this view only reads the NPZ it wrote (see
`attention_data`), shows one layer and head (or the mean over heads) as a heatmap, every head of
the layer as thumbnails, and the conversation shaded by what one query token attends to.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from chatapp.ui.inside.attention_data import (
    AttentionCapture,
    AttentionError,
    row_weights,
    save_selection,
)
from chatapp.ui.inside.colormap import scaled, to_image
from chatapp.ui.inside.explanations import Explanations, WhatIsThis
from chatapp.ui.inside.head_grid import HeadThumbnails
from chatapp.ui.inside.heatmap import Heatmap
from chatapp.ui.inside.plain_text import plain_label
from chatapp.ui.inside.token_text import TokenTextView
from chatapp.ui.inside.visible_text import quoted

#: Size of the picture "Save picture" writes (the heatmap with its axes and legend).
PICTURE_SIZE = QSize(1200, 1260)


class AttentionView(QWidget):
    """Attention weights of a captured reply.

    Signals:
        sig_capture_requested(): the user pressed "Capture attention for this reply".

    Attributes:
        capture: the capture shown (None: none).
        heatmap, thumbnails, query_view: the three pictures.
        layer_combo, head_combo, mean_box, scale_combo: the selectors.
        capture_button, status_label, left_out_label, hover_label: controls and status.
        save_matrix_button (menu: save_shown_action, save_all_action), save_picture_button.
        explanation: the collapsible "What am I looking at?" box.
    """

    sig_capture_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        """Nothing captured yet."""
        super().__init__(parent)
        self.capture: AttentionCapture | None = None
        self._query: int | None = None
        self._thumb_layer: int | None = None
        self._can_capture = False
        self._needs_local = False  # a model on a server is in use: nothing to capture from
        self._state = "empty"  # empty | capturing | shown | error
        self._error = ""
        self._explain = Explanations(self)

        self.capture_button = QPushButton(self)
        self.capture_button.clicked.connect(self.sig_capture_requested)
        self.status_label = plain_label(self)
        self.left_out_label = plain_label(self)
        self.left_out_label.hide()

        self.layer_label = QLabel(self)
        self.layer_combo = QComboBox(self)
        self.head_label = QLabel(self)
        self.head_combo = QComboBox(self)
        self.mean_box = QCheckBox(self)
        self.scale_combo = QComboBox(self)
        self.scale_combo.addItems(["", ""])
        self.layer_combo.currentIndexChanged.connect(self._on_selection_changed)
        self.head_combo.currentIndexChanged.connect(self._on_selection_changed)
        self.mean_box.toggled.connect(self._on_selection_changed)
        self.scale_combo.currentIndexChanged.connect(self._on_selection_changed)

        self.heatmap = Heatmap(self)
        self.heatmap.sig_hovered.connect(self._on_hovered)
        self.heatmap.sig_query_clicked.connect(self.set_query)
        self.hover_label = plain_label(self)
        self.thumbnails = HeadThumbnails(self)
        self.thumbnails.sig_head_clicked.connect(self._on_thumbnail_clicked)
        self.query_label = plain_label(self)
        self.query_view = TokenTextView(self)
        self.query_view.setMinimumHeight(70)
        self.query_view.setMaximumHeight(140)
        self.query_view.sig_token_clicked.connect(self.set_query)
        self.query_view.set_tooltip_provider(self.query_tooltip)

        self.save_matrix_button = QPushButton(self)
        menu = QMenu(self.save_matrix_button)
        self.save_shown_action = QAction(menu)
        self.save_shown_action.triggered.connect(lambda: self.save_matrix(everything=False))
        self.save_all_action = QAction(menu)
        self.save_all_action.triggered.connect(lambda: self.save_matrix(everything=True))
        menu.addAction(self.save_shown_action)
        menu.addAction(self.save_all_action)
        self.save_matrix_button.setMenu(menu)
        self.save_picture_button = QPushButton(self)
        self.save_picture_button.clicked.connect(self.save_picture)
        self.explanation = WhatIsThis(self)

        head = QHBoxLayout()
        head.addWidget(self.capture_button)
        head.addStretch(1)
        selectors = QHBoxLayout()
        for widget in (self.layer_label, self.layer_combo, self.head_label, self.head_combo,
                       self.mean_box):
            selectors.addWidget(widget)
        selectors.addStretch(1)
        selectors.addWidget(self.scale_combo)
        export = QHBoxLayout()
        export.addWidget(self.save_matrix_button)
        export.addWidget(self.save_picture_button)
        export.addStretch(1)

        content = QWidget()
        box = QVBoxLayout(content)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(head)
        box.addWidget(self.status_label)
        box.addWidget(self.left_out_label)
        box.addLayout(selectors)
        box.addWidget(self.heatmap, 1)
        box.addWidget(self.hover_label)
        box.addWidget(self.thumbnails)
        box.addWidget(self.query_label)
        box.addWidget(self.query_view)
        box.addLayout(export)
        box.addWidget(self.explanation)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidget(content)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content.setMinimumHeight(560)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)
        self._retranslate()
        self._update_enabled()

    # --- capture state -------------------------------------------------------------------------

    def set_can_capture(self, on: bool) -> None:
        """Whether there is a finished reply to capture."""
        self._can_capture = on
        self._update_enabled()

    def set_needs_local_model(self, on: bool) -> None:
        """Whether the model in use is on a server: then the view says that attention needs a
        local model instead of offering a capture (a capture already shown stays)."""
        self._needs_local = on
        self._update_status()
        self._update_enabled()

    def needs_local_model(self) -> bool:
        """Whether the view says that attention needs a local model."""
        return self._needs_local

    def set_capturing(self) -> None:
        """A capture was asked for: say so until it arrives."""
        self._state = "capturing"
        self._update_status()
        self._update_enabled()

    def show_capture(self, event: Mapping[str, Any]) -> None:
        """Show the capture an "attention" event describes (errors are shown, not raised)."""
        try:
            capture = AttentionCapture.load(event)
        except AttentionError as exc:
            self.show_error(str(exc))
            return
        self.capture = capture
        self._state = "shown"
        self._thumb_layer = None
        self._query = capture.n_tokens - 1 if capture.n_tokens else None
        self.query_view.set_tokens(capture.pieces)
        for combo in (self.layer_combo, self.head_combo):
            combo.blockSignals(True)
            combo.clear()
        self._fill_combos()
        for combo in (self.layer_combo, self.head_combo):
            combo.blockSignals(False)
        self._update_status()
        self._update_enabled()
        self._on_selection_changed()
        self.hover_label.setText(self._hover_hint())

    def show_error(self, message: str) -> None:
        """A capture failed; ``message`` says why (plain text)."""
        self._state = "error"
        self._error = message
        self._update_status()
        self._update_enabled()

    def clear(self) -> None:
        """Forget the capture."""
        self.capture = None
        self._state = "empty"
        self._query = None
        self._thumb_layer = None
        for combo in (self.layer_combo, self.head_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.blockSignals(False)
        self.heatmap.set_matrix(None, [])
        self.thumbnails.set_thumbnails([], [])
        self.query_view.set_tokens([])
        self.hover_label.clear()
        self.query_label.clear()
        self._update_status()
        self._update_enabled()
        self._update_explanation()

    # --- selection -----------------------------------------------------------------------------

    def layer_index(self) -> int | None:
        """The shown layer's position among the captured ones."""
        i = self.layer_combo.currentIndex()
        return i if self.capture is not None and i >= 0 else None

    def head_index(self) -> int | None:
        """The shown head's position among the captured ones (None: the mean is shown)."""
        i = self.head_combo.currentIndex()
        if self.capture is None or self.mean_box.isChecked() or i < 0:
            return None
        return i

    def select(self, layer: int, head: int | None) -> None:
        """Show captured layer ``layer`` and head ``head`` (positions; None: the mean)."""
        self.layer_combo.setCurrentIndex(layer)
        if head is None:
            self.mean_box.setChecked(True)
        else:
            self.mean_box.setChecked(False)
            self.head_combo.setCurrentIndex(head)

    def sqrt_scale(self) -> bool:
        """Whether colours use the square-root scale."""
        return self.scale_combo.currentIndex() == 0

    def query(self) -> int | None:
        """The query token whose weights shade the text."""
        return self._query

    def set_query(self, index: int) -> None:
        """Pick query token ``index``."""
        if self.capture is None or not 0 <= index < self.capture.n_tokens:
            return
        self._query = index
        self.heatmap.set_query(index)
        self._update_query_text()

    def _fill_combos(self) -> None:
        capture = self.capture
        if capture is None:
            return
        self.layer_combo.addItems([self.tr("Layer {0}").format(n) for n in capture.layers])
        self.head_combo.addItems([self.tr("Head {0}").format(n) for n in capture.heads])

    def _on_selection_changed(self) -> None:
        capture = self.capture
        layer = self.layer_index()
        self.head_combo.setEnabled(capture is not None and not self.mean_box.isChecked())
        if capture is None or layer is None:
            self._update_explanation()
            return
        head = self.head_index()
        matrix = capture.matrix(layer, head)
        self.heatmap.set_matrix(matrix, capture.pieces, self.sqrt_scale())
        self.heatmap.set_query(self._query)
        if self._thumb_layer != layer or self.sender() is self.scale_combo:
            self._thumb_layer = layer
            self._fill_thumbnails(capture, layer)
        self.thumbnails.set_current(head)
        self._update_query_text()
        self._update_explanation()

    def _fill_thumbnails(self, capture: AttentionCapture, layer: int) -> None:
        images = []
        for small in capture.thumbnails(layer):
            top = float(np.tril(small).max()) if small.size else 1.0
            images.append(to_image(scaled(small, top, self.sqrt_scale()),
                                   self.palette().color(self.palette().ColorRole.Base)))
        self.thumbnails.set_thumbnails(images, [self.tr("head {0}").format(n)
                                                for n in capture.heads])

    def _on_thumbnail_clicked(self, k: int) -> None:
        self.mean_box.setChecked(False)
        self.head_combo.setCurrentIndex(k)

    def _on_hovered(self, text: str) -> None:
        self.hover_label.setText(text or self._hover_hint())

    def _hover_hint(self) -> str:
        if self.capture is None:
            return ""
        return self.tr("Point at a cell to read its weight; click a row to pick the query "
                       "token.")

    def _update_query_text(self) -> None:
        capture, matrix, q = self.capture, self.heatmap.matrix(), self._query
        if capture is None or matrix is None or q is None:
            return
        weights = row_weights(matrix, q)
        top = max(weights[:q + 1], default=0.0)
        power = 0.5 if self.sqrt_scale() else 1.0
        shades = [(w / top) ** power if top > 0 else 0.0 for w in weights]
        self.query_view.set_shades(shades)
        self.query_view.set_selected(q)
        self.query_label.setText(self.tr("What {0} (#{1}) attends to:").format(
            quoted(capture.pieces[q], 24), q))

    def query_tooltip(self, index: int) -> str:
        """Hover text of token ``index`` in the shaded conversation (plain text)."""
        capture, matrix, q = self.capture, self.heatmap.matrix(), self._query
        if capture is None or matrix is None or q is None or index >= capture.n_tokens:
            return ""
        head = f"{quoted(capture.pieces[index], 40)} #{index}"
        if index > q:
            return head + "\n" + self.tr("after the query token: masked")
        return head + "\n" + self.tr("weight from the query token: {0}").format(
            f"{float(matrix[q, index]):.4f}")

    # --- export --------------------------------------------------------------------------------

    def save_matrix(self, everything: bool) -> Path | None:
        """Ask for a file name and write the shown matrix, or everything captured, as NPZ."""
        capture, layer = self.capture, self.layer_index()
        if capture is None or layer is None:
            return None
        name, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Save attention matrix"), "attention.npz",
            self.tr("NumPy archive (*.npz)"))
        if not name:
            return None
        path = Path(name if name.endswith(".npz") else name + ".npz")
        try:
            if everything:
                save_selection(path, capture, None, None)
            else:
                save_selection(path, capture, layer, self.head_index(),
                               mean=self.head_index() is None)
        except OSError as exc:
            self.show_error(self.tr("Could not save {0}: {1}").format(path.name, exc.strerror
                                                                       or str(exc)))
            return None
        return path

    def save_picture(self) -> Path | None:
        """Ask for a file name and write the heatmap (with axes and legend) as PNG."""
        if self.capture is None:
            return None
        name, _filter = QFileDialog.getSaveFileName(
            self, self.tr("Save attention picture"), "attention.png",
            self.tr("PNG image (*.png)"))
        if not name:
            return None
        path = Path(name if name.lower().endswith(".png") else name + ".png")
        if not self.heatmap.render_picture(PICTURE_SIZE).save(str(path)):
            self.show_error(self.tr("Could not save {0}.").format(path.name))
            return None
        return path

    # --- status and translation ----------------------------------------------------------------

    def _update_enabled(self) -> None:
        has = self.capture is not None
        self.capture_button.setEnabled(self._can_capture and self._state != "capturing"
                                       and not self._needs_local)
        self.capture_button.setVisible(not self._needs_local)
        for widget in (self.layer_combo, self.mean_box, self.scale_combo,
                       self.save_matrix_button, self.save_picture_button):
            widget.setEnabled(has)
        self.head_combo.setEnabled(has and not self.mean_box.isChecked())

    def _update_status(self) -> None:
        capture = self.capture
        if self._state == "capturing":
            text = self.tr("Capturing…")
        elif self._state == "error":
            text = self.tr("Capture failed: {0}").format(self._error)
        elif self._needs_local and capture is None:
            text = self.tr("Attention weights need a local model: they are read inside "
                           "llama.cpp while it computes.")
        elif capture is not None:
            ms = f"{capture.capture_ms:.0f}" if capture.capture_ms is not None else "?"
            text = self.tr("Captured {0} tokens, {1} layers × {2} heads in {3} ms.").format(
                capture.n_tokens, len(capture.layers), len(capture.heads), ms)
        elif self._can_capture:
            text = self.tr("No capture for this reply yet.")
        else:
            text = self.tr("Select a finished reply to capture its attention.")
        self.status_label.setText(text)
        left_out = capture.left_out if capture is not None and self._state == "shown" else None
        self.left_out_label.setText(self.tr("⚠ Left out: {0}").format(left_out) if left_out
                                    else "")
        self.left_out_label.setVisible(bool(left_out))

    def _update_explanation(self) -> None:
        capture = self.capture
        layer = self.layer_index()
        head = self.head_index()
        self.explanation.set_text(self._explain.attention(
            capture.layers[layer] if capture is not None and layer is not None else None,
            capture.heads[head] if capture is not None and head is not None else None,
            capture.n_tokens if capture is not None else 0,
            capture.n_layer if capture is not None else 0,
            capture.n_head if capture is not None else 0,
        ))

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate on a language switch; repaint the thumbnails' empty triangles in the
        new background colour on a theme switch."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        elif event.type() == QEvent.Type.PaletteChange:
            layer = self.layer_index()
            if self.capture is not None and layer is not None:
                self._fill_thumbnails(self.capture, layer)
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.capture_button.setText(self.tr("Capture attention for this reply"))
        self.layer_label.setText(self.tr("Layer"))
        self.head_label.setText(self.tr("Head"))
        self.mean_box.setText(self.tr("Mean over heads"))
        self.scale_combo.setItemText(0, self.tr("√ scale"))
        self.scale_combo.setItemText(1, self.tr("Linear scale"))
        self.scale_combo.setToolTip(self.tr("The square-root scale keeps small weights "
                                            "visible"))
        self.save_matrix_button.setText(self.tr("Save matrix (NPZ)…"))
        self.save_shown_action.setText(self.tr("The layer and head shown…"))
        self.save_all_action.setText(self.tr("Everything captured…"))
        self.save_picture_button.setText(self.tr("Save picture (PNG)…"))
        capture = self.capture
        if capture is not None:
            for i, n in enumerate(capture.layers):
                self.layer_combo.setItemText(i, self.tr("Layer {0}").format(n))
            for i, n in enumerate(capture.heads):
                self.head_combo.setItemText(i, self.tr("Head {0}").format(n))
            self.thumbnails.set_labels([self.tr("head {0}").format(n) for n in capture.heads])
            self._update_query_text()
            self.hover_label.setText(self._hover_hint())
        self._update_status()
        self._update_explanation()

