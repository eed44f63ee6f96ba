"""The inside panel as a whole: its API, retranslation, themes and hostile model text."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt, QTranslator
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QDockWidget
from pytestqt.qtbot import QtBot

from chatapp.core.sampling import SamplingSettings
from chatapp.ui.inside import InsidePanel
from chatapp.ui.theme import dark_palette, light_palette
from tests.ui.test_inside_data import make_records, write_capture

SETTINGS = SamplingSettings(temperature=0.8, top_k=40, top_p=0.9, min_p=0.05)


class _Marker(QTranslator):
    """Translates every string to «string», so a test sees what was retranslated."""

    def translate(self, context: str, source: str, disambiguation: str | None = None,
                  n: int = -1) -> str:
        return f"«{source}»"

    def isEmpty(self) -> bool:
        return False




def test_is_a_named_dock_with_two_tabs(panel: InsidePanel) -> None:
    assert isinstance(panel, QDockWidget)
    assert panel.objectName() == "inside-panel"
    assert panel.windowTitle() == "Inside the model"
    assert [panel.tabs.tabText(i) for i in range(panel.tabs.count())] == ["Sampling",
                                                                          "Attention"]


def test_a_new_reply_forgets_the_old_capture(panel: InsidePanel, tmp_path: Path) -> None:
    panel.set_reply("m1", make_records(5, SETTINGS), SETTINGS)
    panel.show_attention(write_capture(tmp_path / "a.npz"))
    assert panel.attention.capture is not None
    panel.set_reply("m1", make_records(6, SETTINGS), SETTINGS)  # same reply: kept
    assert panel.attention.capture is not None
    panel.set_reply("m2", make_records(5, SETTINGS), SETTINGS)
    assert panel.attention.capture is None
    assert panel.attention.heatmap.matrix() is None


def test_clear_empties_both_tabs(panel: InsidePanel, tmp_path: Path) -> None:
    panel.set_reply("m1", make_records(5, SETTINGS), SETTINGS)
    panel.show_attention(write_capture(tmp_path / "a.npz"))
    panel.clear()
    assert panel.message_id() is None
    assert panel.sampling.token_view.count() == 0
    assert panel.sampling.bars.rows == []
    assert panel.attention.capture is None
    assert panel.sampling.info_label.text() == "No reply selected."


def test_token_selection_is_forwarded(qtbot: QtBot, panel: InsidePanel) -> None:
    panel.set_following(False)
    panel.set_reply("m1", make_records(5, SETTINGS), SETTINGS)
    with qtbot.waitSignal(panel.sig_token_selected) as blocker:
        panel.sampling.select(3)
    assert blocker.args == [3]


def test_explanations_are_collapsible_and_name_what_is_shown(panel: InsidePanel,
                                                             tmp_path: Path) -> None:
    panel.set_reply("m1", make_records(3, SETTINGS), SETTINGS)
    box = panel.sampling.explanation
    assert not box.is_open() and box.body.isHidden()
    box.toggle.click()
    assert box.is_open() and not box.body.isHidden()
    text = box.body.text()
    assert "Temperature (now 0.80)" in text and "Top-k (now 40" in text
    assert "Entropy" in text and "min-p × the probability" in text
    panel.sampling.controls.temperature.slider.setValue(130)
    assert "Temperature (now 1.30)" in box.body.text()
    panel.show_attention(write_capture(tmp_path / "a.npz", t=12, layers=2, heads=3))
    text = panel.attention.explanation.body.text()
    assert "softmax(QKᵀ / √d_k) V" in text and "12 × 12" in text
    assert "causal mask" in text and "4 layers of 3 attention heads" in text
    assert "Shown: layer 0, head 0." in text
    panel.attention.mean_box.setChecked(True)
    assert "the mean over its heads" in panel.attention.explanation.body.text()


def test_language_change_retranslates_everything(qtbot: QtBot, panel: InsidePanel,
                                                 tmp_path: Path) -> None:
    panel.set_reply("m1", make_records(4, SETTINGS), SETTINGS)
    panel.show_attention(write_capture(tmp_path / "a.npz"))
    marker = _Marker()
    QCoreApplication.installTranslator(marker)
    try:
        qtbot.waitUntil(lambda: panel.windowTitle() == "«Inside the model»", timeout=2000)
        assert panel.tabs.tabText(0) == "«Sampling»"
        s, a = panel.sampling, panel.attention
        assert s.follow_box.text() == "«Follow»"
        assert s.shade_box.text() == "«Shade by probability»"
        assert s.branch_button.text() == "«Branch here»"
        assert s.controls.reset_button.text() == "«Reset to the reply's settings»"
        assert s.explanation.toggle.text() == "«What am I looking at?»"
        assert s.bars.stage_title("top_k") == "«top-k»"
        assert s.bars.caption == "«What the model did»"
        assert a.capture_button.text() == "«Capture attention for this reply»"
        assert a.mean_box.text() == "«Mean over heads»"
        assert a.layer_combo.itemText(0) == "«Layer 0»"
        assert a.thumbnails.labels[0] == "«head 0»"
        assert a.save_picture_button.text() == "«Save picture (PNG)…»"
        assert a.status_label.text().startswith("«Captured")
        assert a.explanation.body.text().startswith("«Self-attention")
    finally:
        QCoreApplication.removeTranslator(marker)
    qtbot.waitUntil(lambda: panel.windowTitle() == "Inside the model", timeout=2000)
    assert panel.sampling.follow_box.text() == "Follow"


@pytest.mark.parametrize("palette", [light_palette, dark_palette], ids=["light", "dark"])
def test_both_themes_paint_from_the_palette(panel: InsidePanel, tmp_path: Path,
                                            palette: object) -> None:
    pal: QPalette = palette()  # type: ignore[operator]
    panel.setPalette(pal)
    panel.set_following(False)
    panel.set_reply("m1", make_records(20, SETTINGS), SETTINGS)
    panel.sampling.select(5)
    panel.show_attention(write_capture(tmp_path / "a.npz", t=20))
    QApplication.processEvents()
    base = pal.color(QPalette.ColorRole.Base)
    bars = panel.sampling.bars.grab().toImage()
    assert bars.pixelColor(bars.width() - 2, 2) == base
    image = panel.attention.heatmap.image()
    assert image is not None and image.pixelColor(19, 0) == base  # the masked triangle
    for tab in range(2):
        panel.tabs.setCurrentIndex(tab)
        assert not panel.grab().isNull()


def test_a_live_theme_switch_recolours_the_pictures(panel: InsidePanel, tmp_path: Path) -> None:
    panel.setPalette(light_palette())
    panel.show_attention(write_capture(tmp_path / "a.npz", t=10))
    dark = dark_palette()
    panel.setPalette(dark)
    base = dark.color(QPalette.ColorRole.Base)
    image = panel.attention.heatmap.image()
    assert image is not None and image.pixelColor(9, 0) == base
    assert panel.attention.thumbnails.image(0).pixelColor(9, 0) == base


def test_hostile_pieces_are_plain_text_and_keep_the_layout(qtbot: QtBot,
                                                           panel: InsidePanel) -> None:
    hostile = ["<b>bold</b>", "\u202eevil\u202c", "x" * 10_000,
               "<img src='file:///etc/passwd'>", "\u2067rtl\u2069", "&amp;", "\r\n"]
    records = make_records(len(hostile), SETTINGS)
    for record, piece in zip(records, hostile, strict=True):
        record["piece"] = record["text"] = piece
        for stage in record["stages"]:
            for item in stage["top"]:
                if item[0] == record["token"]:
                    item[1] = piece
    panel.set_following(False)
    panel.set_reply("m1", records, SETTINGS)
    view = panel.sampling
    texts = view.token_view.texts()
    assert texts[0] == "<b>bold</b>"  # shown literally, as characters
    assert texts[1] == "⟨U+202E⟩evil⟨U+202C⟩"
    assert len(texts[2]) < 500
    assert texts[4] == "⟨U+2067⟩rtl⟨U+2069⟩"
    for i in range(len(hostile)):
        view.select(i)
        tip = view.token_tooltip(i)
        assert len(tip) < 400
        for label in (view.info_label, view.formula_label, view.note_label):
            assert label.textFormat() == Qt.TextFormat.PlainText
            assert len(label.text()) < 2000
    view.select(0)
    assert "<b>bold</b>" in view.info_label.text()
    assert "<b>bold</b>" in view.token_tooltip(0)
    assert view.token_view.tip.textFormat() == Qt.TextFormat.PlainText
    assert all(len(view.branch_combo.itemText(i)) < 80 for i in range(view.branch_combo.count()))
    assert panel.minimumSizeHint().width() < 600
    assert panel.width() <= 600
    view.token_view.resize(300, 200)
    view.token_view.resize(500, 300)  # re-layout of a 10,000-character token at two widths
    assert not panel.grab().isNull()
