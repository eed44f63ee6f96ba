"""The inside panel's "Attention" tab: selectors, mean, thumbnails, hover, query, export."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from chatapp.core.sampling import SamplingSettings
from chatapp.ui.inside import InsidePanel
from chatapp.ui.inside.attention_view import AttentionView
from tests.ui.test_inside_data import make_records, write_capture

SETTINGS = SamplingSettings()


@pytest.fixture
def panel(qtbot: QtBot) -> InsidePanel:
    made = InsidePanel()
    qtbot.addWidget(made)
    made.resize(520, 900)
    made.tabs.setCurrentIndex(1)
    made.show()
    qtbot.waitExposed(made)
    made.set_reply("m1", make_records(5, SETTINGS), SETTINGS)
    return made


def shown(panel: InsidePanel, tmp_path: Path, **kwargs: object) -> tuple[AttentionView, Path]:
    path = tmp_path / "capture.npz"
    event = write_capture(path, **kwargs)  # type: ignore[arg-type]
    panel.show_attention(event)
    return panel.attention, path


def stored(path: Path) -> np.ndarray:
    with np.load(path) as npz:
        return np.array(npz["attention"])


def test_capture_button_asks_for_this_reply(qtbot: QtBot, panel: InsidePanel) -> None:
    view = panel.attention
    assert view.capture_button.isEnabled()
    with qtbot.waitSignal(panel.sig_attention_requested) as blocker:
        view.capture_button.click()
    assert blocker.args == ["m1"]
    assert view.status_label.text() == "Capturing…"
    assert not view.capture_button.isEnabled()


def test_no_capture_while_streaming_or_without_a_reply(panel: InsidePanel) -> None:
    panel.set_reply("m2", [], SETTINGS)
    assert not panel.attention.capture_button.isEnabled()
    panel.finish()
    assert panel.attention.capture_button.isEnabled()
    panel.clear()
    assert not panel.attention.capture_button.isEnabled()


def test_selectors_change_the_matrix(panel: InsidePanel, tmp_path: Path) -> None:
    view, path = shown(panel, tmp_path, t=10, layers=2, heads=3)
    weights = stored(path)
    assert view.layer_combo.count() == 2 and view.head_combo.count() == 3
    assert view.layer_combo.itemText(1) == "Layer 2"  # the model's layer number
    np.testing.assert_array_equal(view.heatmap.matrix(), weights[0, 0])
    view.layer_combo.setCurrentIndex(1)
    view.head_combo.setCurrentIndex(2)
    np.testing.assert_array_equal(view.heatmap.matrix(), weights[1, 2])
    assert (view.layer_index(), view.head_index()) == (1, 2)


def test_mean_over_heads_is_the_numpy_mean(panel: InsidePanel, tmp_path: Path) -> None:
    view, path = shown(panel, tmp_path, t=9, layers=2, heads=4)
    view.layer_combo.setCurrentIndex(1)
    view.mean_box.setChecked(True)
    assert view.head_index() is None
    assert not view.head_combo.isEnabled()
    np.testing.assert_allclose(view.heatmap.matrix(), stored(path)[1].mean(axis=0), rtol=1e-6)
    assert view.thumbnails.current() is None


def test_thumbnails_show_every_head_and_select_on_click(qtbot: QtBot, panel: InsidePanel,
                                                       tmp_path: Path) -> None:
    view, path = shown(panel, tmp_path, t=8, layers=2, heads=9)
    assert view.thumbnails.count() == 9 == view.capture.n_head  # type: ignore[union-attr]
    assert view.thumbnails.labels[4] == "head 4"
    view.mean_box.setChecked(True)
    center = view.thumbnails._rect(5).center().toPoint()
    qtbot.mouseClick(view.thumbnails, Qt.MouseButton.LeftButton, pos=center)
    assert view.head_index() == 5 and not view.mean_box.isChecked()
    assert view.thumbnails.current() == 5
    np.testing.assert_array_equal(view.heatmap.matrix(), stored(path)[0, 5])


def test_hover_names_query_key_and_weight(panel: InsidePanel, tmp_path: Path) -> None:
    view, path = shown(panel, tmp_path, t=6, pieces=["<s>", " The", " cat", "\n", " sat", "."])
    w = stored(path)[0, 0]
    assert view.heatmap.text_for(4, 1) == f"‘␣sat’ #4 → ‘␣The’ #1: {w[4, 1]:.4f}"
    assert "masked" in view.heatmap.text_for(1, 4)
    heat = view.heatmap
    plot = heat.plot_rect()
    cell = plot.width() / 6
    pos = QPointF(plot.x() + 2.5 * cell, plot.y() + 3.5 * cell)
    move = QMouseEvent(QEvent.Type.MouseMove, pos, heat.mapToGlobal(pos),
                       Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(heat, move)
    assert view.hover_label.text() == heat.text_for(3, 2)
    assert "‘⏎’ #3 → ‘␣cat’ #2" in view.hover_label.text()
    QApplication.sendEvent(heat, QEvent(QEvent.Type.Leave))
    assert heat.hover_text == ""
    assert "Point at a cell" in view.hover_label.text()


def test_picking_a_query_token_shades_what_it_attends_to(qtbot: QtBot, panel: InsidePanel,
                                                         tmp_path: Path) -> None:
    view, path = shown(panel, tmp_path, t=12)
    assert view.query() == 11  # the last token by default
    heat = view.heatmap
    plot = heat.plot_rect()
    cell = plot.width() / 12
    qtbot.mouseClick(heat, Qt.MouseButton.LeftButton,
                     pos=QPointF(plot.x() + 0.5 * cell, plot.y() + 5.5 * cell).toPoint())
    assert view.query() == 5
    row = stored(path)[0, 0, 5]
    shades = view.query_view.shades()
    assert shades[6:] == [0.0] * 6  # later tokens: masked
    expected = np.sqrt(row[:6] / row[:6].max())
    np.testing.assert_allclose(shades[:6], expected, rtol=1e-5)
    assert view.query_view.selected() == 5
    assert "#5" in view.query_label.text()
    view.scale_combo.setCurrentIndex(1)  # linear
    np.testing.assert_allclose(view.query_view.shades()[:6], row[:6] / row[:6].max(),
                               rtol=1e-5)


def test_the_upper_triangle_is_drawn_empty(panel: InsidePanel, tmp_path: Path) -> None:
    view, _path = shown(panel, tmp_path, t=5)
    image = view.heatmap.image()
    assert image is not None and image.size().width() == 5
    base = view.heatmap.palette().color(view.heatmap.backgroundRole().Base).rgb()
    assert image.pixel(4, 0) == base  # above the diagonal: the background
    assert image.pixel(0, 4) != base


def test_left_out_is_always_shown(panel: InsidePanel, tmp_path: Path) -> None:
    view, _path = shown(panel, tmp_path, left_out="layers 4-29 (over the 512 MiB budget)")
    assert not view.left_out_label.isHidden()
    assert "layers 4-29 (over the 512 MiB budget)" in view.left_out_label.text()
    assert "Captured 12 tokens, 2 layers × 3 heads in 12 ms." in view.status_label.text()


def test_errors_are_shown_as_text(panel: InsidePanel, tmp_path: Path) -> None:
    panel.show_attention_error("<b>the model</b> is not loaded")
    assert panel.attention.status_label.text() == "Capture failed: <b>the model</b> is not loaded"
    assert panel.attention.status_label.textFormat() == Qt.TextFormat.PlainText
    (tmp_path / "junk.npz").write_bytes(b"junk")
    panel.show_attention({"type": "attention", "path": str(tmp_path / "junk.npz")})
    assert "cannot read junk.npz" in panel.attention.status_label.text()


def test_save_matrix_writes_valid_npz(panel: InsidePanel, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    view, path = shown(panel, tmp_path, t=7, layers=2, heads=3)
    view.select(1, 2)
    target = tmp_path / "out" / "shown"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    view.save_shown_action.trigger()
    with np.load(target.with_suffix(".npz")) as npz:
        np.testing.assert_array_equal(npz["attention"], stored(path)[1, 2])
        assert int(npz["layer"]) == 2 and int(npz["head"]) == 2
        assert list(npz["pieces"]) == view.capture.pieces  # type: ignore[union-attr]
    everything = tmp_path / "out" / "all.npz"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(everything), "")))
    view.save_all_action.trigger()
    with np.load(everything) as npz:
        np.testing.assert_array_equal(npz["attention"], stored(path))
        assert list(npz["layers"]) == [0, 2]


def test_save_picture_writes_a_png(panel: InsidePanel, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    view, _path = shown(panel, tmp_path)
    target = tmp_path / "heat.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(target), "")))
    view.save_picture_button.click()
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(target))
    assert not image.isNull() and image.width() > 500


def test_cancelled_save_writes_nothing(panel: InsidePanel, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    view, _path = shown(panel, tmp_path)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    assert view.save_matrix(everything=True) is None
    assert view.save_picture() is None


def test_a_thousand_tokens_stay_responsive(panel: InsidePanel, tmp_path: Path) -> None:
    start = time.perf_counter()
    view, _path = shown(panel, tmp_path, t=1000, layers=1, heads=2)
    shown_s = time.perf_counter() - start
    assert view.capture is not None and view.capture.mapped
    view.heatmap.grab()  # first paint scales the image once
    start = time.perf_counter()
    for _ in range(5):
        view.heatmap.grab()
    paint_s = (time.perf_counter() - start) / 5
    start = time.perf_counter()
    view.head_combo.setCurrentIndex(1)
    switch_s = time.perf_counter() - start
    assert shown_s < 3.0 and switch_s < 1.0 and paint_s < 0.25, (shown_s, switch_s, paint_s)


def test_hostile_pieces_stay_plain_text(panel: InsidePanel, tmp_path: Path) -> None:
    pieces = ["<b>bold</b>", "\u202eevil", "x" * 10_000, "<img src=x onerror=alert(1)>",
              "\u0000", "a\tb"]
    view, _path = shown(panel, tmp_path, t=6, pieces=pieces)
    assert view.query_view.texts()[1] == "⟨U+202E⟩evil"
    assert len(view.query_view.texts()[2]) < 500
    assert "<b>bold</b>" in view.heatmap.text_for(5, 0)
    view.set_query(2)
    assert view.query_label.textFormat() == Qt.TextFormat.PlainText
    assert len(view.query_label.text()) < 100
    assert panel.minimumSizeHint().width() < 600
    panel.grab()
