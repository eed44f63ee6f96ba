"""The chat window on the real model process and a real SQLite file, offscreen."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from chatapp.services.engine_service import EngineService
from chatapp.services.store_service import Changed, StoreService
from chatapp.storage.repository import ChatStore
from chatapp.ui.main_window import MainWindow

T = TypeVar("T")


def _open_store(qtbot: QtBot) -> StoreService:
    store = StoreService()
    qtbot.waitUntil(lambda: store.is_open, timeout=10_000)
    return store


def _open_window(qtbot: QtBot, engine: EngineService, store: StoreService,
                 model: Path) -> MainWindow:
    win = MainWindow(engine, store, model)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win._ready, timeout=60_000)
    return win


def _query(qtbot: QtBot, store: StoreService, fn: Callable[[ChatStore], T]) -> T:
    """Run `fn` on the store's worker (after every write queued before) and wait for it."""
    box: list[T] = []
    store.run(fn, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    return box[0]


def _send(qtbot: QtBot, window: MainWindow, text: str) -> dict[str, Any]:
    window.last_summary = None
    window.composer.setPlainText(text)
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.last_summary is not None, timeout=60_000)
    assert window.last_summary is not None
    return window.last_summary


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineService]:
    service = EngineService(log_path=tmp_path / "engine.log")
    service.start()
    yield service
    service.shutdown()


@pytest.fixture
def store(qtbot: QtBot) -> Iterator[StoreService]:
    service = _open_store(qtbot)
    yield service
    service.close()


@pytest.fixture
def window(qtbot: QtBot, starter_model: Path, engine: EngineService,
           store: StoreService) -> MainWindow:
    return _open_window(qtbot, engine, store, starter_model)


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


def test_a_reply_is_saved_after_the_user_message_and_restored_after_a_restart(
        qtbot: QtBot, window: MainWindow, engine: EngineService, store: StoreService,
        starter_model: Path, data_dir: Path) -> None:
    order: list[str] = []
    user_rows_at_first_token: list[int] = []

    def on_changed(changed: Changed) -> None:
        order.append("saved")

    def on_event(event: dict[str, Any]) -> None:
        if event["type"] == "token" and "token" not in order:
            # Another connection, at the moment the first token arrives: committed or not.
            with sqlite3.connect(f"file:{data_dir / 'chats.db'}?mode=ro", uri=True) as db:
                user_rows_at_first_token.append(db.execute(
                    "SELECT COUNT(*) FROM messages WHERE role = 'user'").fetchone()[0])
        if event["type"] in ("token", "done"):
            order.append(event["type"])

    store.sig_changed.connect(on_changed)
    engine.sig_event.connect(on_event)
    summary = _send(qtbot, window, "What is the capital of France?")
    engine.sig_event.disconnect(on_event)
    assert order[0] == "saved" and "token" in order  # the user message, then the reply
    assert user_rows_at_first_token == [1]
    qtbot.waitUntil(lambda: order[-1] == "saved", timeout=10_000)  # the finished reply

    cid = window.conversation_id
    assert cid is not None
    path = _query(qtbot, store, lambda s: s.active_path(cid))
    assert [m.role for m in path] == ["user", "assistant"]
    user, reply = path
    assert user.content == "What is the capital of France?"
    assert reply.status == "complete" and reply.content == window.messages[-1]["content"]
    assert reply.provenance is not None
    assert reply.provenance["seed"] == summary["seed"]
    assert reply.provenance["model_sha256"]
    records = _query(qtbot, store, lambda s: s.token_records(reply.id))
    assert records and len(records) == summary["generated_tokens"]
    shown = window.transcript.toPlainText()

    # Restart: new window and service on the same data folder.
    window.close()
    store.close()
    store2 = _open_store(qtbot)
    try:
        window2 = _open_window(qtbot, engine, store2, starter_model)
        qtbot.waitUntil(lambda: window2.conversation_id == cid, timeout=10_000)
        qtbot.waitUntil(lambda: window2.transcript.toPlainText() == shown, timeout=10_000)
        assert window2.messages == [{"role": "user", "content": user.content},
                                    {"role": "assistant", "content": reply.content}]
        qtbot.waitUntil(lambda: window2.sidebar.model.rowCount() == 1, timeout=10_000)
        assert window2.sidebar.model.row_at(0).conversation_id == cid
        assert window2.sidebar.current_conversation_id == cid
    finally:
        window2.close()
        store2.close()


def test_new_chat_makes_a_second_conversation_and_selecting_shows_each(
        qtbot: QtBot, window: MainWindow, store: StoreService) -> None:
    _send(qtbot, window, "What is the capital of France?")
    first = window.conversation_id
    first_text = window.transcript.toPlainText()
    window.sidebar.new_button.click()
    qtbot.waitUntil(lambda: window.conversation_id not in (None, first), timeout=10_000)
    assert window.transcript.toPlainText() == "" and window.messages == []
    _send(qtbot, window, "Name a color.")
    second = window.conversation_id
    assert "Name a color." in window.transcript.toPlainText()
    assert "France" not in window.transcript.toPlainText()

    listed = _query(qtbot, store, lambda s: [c.id for c in s.list_conversations()])
    assert listed == [second, first]  # the most recent first
    sidebar = window.sidebar
    qtbot.waitUntil(lambda: sidebar.model.rowCount() == 2, timeout=10_000)
    qtbot.waitUntil(lambda: sidebar.model.row_at(0).conversation_id == second, timeout=10_000)
    sidebar.view.setCurrentIndex(sidebar.model.find(first))  # as a click does
    qtbot.waitUntil(lambda: window.transcript.toPlainText() == first_text, timeout=10_000)
    assert window.conversation_id == first and window.messages[0]["content"].startswith("What")
    window.grab().save("/tmp/window.png")

    # Ctrl+N (a window shortcut) makes a third, empty one.
    window.activateWindow()
    window.sidebar.action_new_chat.trigger()
    qtbot.waitUntil(lambda: window.conversation_id not in (first, second), timeout=10_000)
    assert window.transcript.toPlainText() == ""


def test_escape_mid_reply_saves_it_as_cancelled(
        qtbot: QtBot, window: MainWindow, engine: EngineService, store: StoreService) -> None:
    def stop_at_first_token(event: dict[str, Any]) -> None:
        if event["type"] == "token" and event.get("id") == window._gen_id:
            qtbot.keyClick(window.composer, Qt.Key.Key_Escape)

    engine.sig_event.connect(stop_at_first_token)
    summary = _send(qtbot, window, "Tell me a very long story about a dragon.")
    engine.sig_event.disconnect(stop_at_first_token)
    assert summary["finish_reason"] == "cancelled"
    cid = window.conversation_id
    assert cid is not None
    reply = _query(qtbot, store, lambda s: s.active_path(cid))[-1]
    assert reply.role == "assistant" and reply.status == "cancelled"
    assert reply.provenance is not None and reply.provenance["finish_reason"] == "cancelled"
