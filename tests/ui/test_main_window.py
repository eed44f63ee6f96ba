"""The chat window on the real model process, offscreen."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from chatapp.services.engine_service import EngineService
from chatapp.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot: QtBot, starter_model: Path, tmp_path: Path) -> Iterator[MainWindow]:
    engine = EngineService(log_path=tmp_path / "engine.log")
    engine.start()
    win = MainWindow(engine, starter_model)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win._ready, timeout=60_000)
    yield win
    engine.shutdown()


def test_send_streams_a_reply_and_stop_works(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.composer.setPlainText("What is the capital of France?")
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.last_summary is not None, timeout=60_000)
    text = window.transcript.toPlainText()
    assert "What is the capital of France?" in text
    reply = window.messages[-1]
    assert reply["role"] == "assistant" and reply["content"] and reply["content"] in text
    assert "tok/s" in window.statusBar().currentMessage()
    window.grab().save(str(tmp_path / "chat.png"))

    # Shift+Enter is a new line, not a send
    window.composer.setPlainText("Tell me a very long story")
    qtbot.keyClick(window.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert "\n" in window.composer.toPlainText()
    window.last_summary = None
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.stop_button.isEnabled(), timeout=10_000)
    qtbot.keyClick(window.composer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.last_summary is not None, timeout=30_000)
    assert window.last_summary["finish_reason"] in ("cancelled", "stop")


def test_model_text_is_plain_text(qtbot: QtBot, window: MainWindow) -> None:
    window._append("I <smirk> at you <img src='file:///etc/passwd'> [x](file:///etc)")
    assert "I <smirk> at you <img src='file:///etc/passwd'>" in window.transcript.toPlainText()
    assert window.transcript.document().allFormats()  # rendered, yet nothing was interpreted
    assert "<img" not in window.transcript.toHtml().split("<body")[1].replace("&lt;img", "")


def test_none_refcount_does_not_drift_over_10000_ui_updates(qapp: QApplication) -> None:
    """PySide6 6.12.0 on CPython 3.11 leaked a reference to None per call and crashed."""
    label = QLabel()
    for i in range(500):  # warm up caches
        label.setText(str(i))
        qapp.processEvents()
    before = sys.getrefcount(None)
    for i in range(10_000):
        label.setText(str(i))
        qapp.processEvents()
    assert abs(sys.getrefcount(None) - before) < 100
