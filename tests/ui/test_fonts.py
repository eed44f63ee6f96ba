"""Chinese text has glyphs even on a machine without CJK fonts (the bundled fallback)."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase, QFontMetrics
from PySide6.QtWidgets import QApplication

from chatapp.ui.fonts import ensure_cjk_font, has_cjk_font


def test_chinese_text_has_a_font_after_ensure(qapp: QApplication) -> None:
    ensure_cjk_font()
    assert has_cjk_font()
    families = QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese)
    metrics = QFontMetrics(QFont(families[0]))
    assert all(metrics.inFontUcs4(ord(ch)) for ch in "新对话发送搜索设置")
    assert ensure_cjk_font() is None  # idempotent: once there is one, nothing more is loaded
