"""The chat window on the real model process and a real SQLite file, offscreen: the flows a
person goes through (send, stream, stop, regenerate and switch, edit into a branch, continue,
copy, delete and undo, search, restart)."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from chatapp.core.sampling import SamplingSettings
from chatapp.services.engine_service import EngineService
from chatapp.services.store_service import Changed, StoreService
from chatapp.storage.entities import Message
from chatapp.storage.repository import ChatStore
from chatapp.ui.chat_view import INITIAL_MESSAGES
from chatapp.ui.main_window import MainWindow

T = TypeVar("T")

#: Greedy and short: the flows are about the window, not the prose.
QUICK = SamplingSettings(temperature=0.0, max_tokens=24, seed=7).to_dict()


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


def _idle(qtbot: QtBot, window: MainWindow) -> None:
    """Wait until the reply ended, was saved, and the window shows what the store has."""
    qtbot.waitUntil(lambda: not window._busy and window.chat.streaming_card() is None,
                    timeout=60_000)
    cid = window.conversation_id
    if cid is not None:
        path = _query(qtbot, window.store, lambda s: s.active_path(cid))
        qtbot.waitUntil(lambda: [c.message.id for c in window.chat.cards]
                        == [m.id for m in path][-INITIAL_MESSAGES:], timeout=10_000)


def _send(qtbot: QtBot, window: MainWindow, text: str) -> dict[str, Any]:
    window.last_summary = None
    window.composer.setPlainText(text)
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.last_summary is not None, timeout=60_000)
    _idle(qtbot, window)
    assert window.last_summary is not None
    return window.last_summary


def _path(qtbot: QtBot, window: MainWindow) -> list[Message]:
    cid = window.conversation_id
    assert cid is not None
    return _query(qtbot, window.store, lambda s: s.active_path(cid))


def _quick_conversation(qtbot: QtBot, window: MainWindow) -> None:
    """A new conversation with greedy, short replies."""
    def create(s: ChatStore) -> str:
        return s.create_conversation(sampling=QUICK).id

    box: list[str] = []
    window.store.write(create, Changed(lists=True), box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    window.sidebar.select_conversation(box[0])
    window.open_conversation(box[0])
    qtbot.waitUntil(lambda: window.conversation_id == box[0], timeout=10_000)






@pytest.fixture
def window(qtbot: QtBot, starter_model: Path, engine: EngineService,
           store: StoreService) -> MainWindow:
    return _open_window(qtbot, engine, store, starter_model)


def test_send_streams_a_reply_token_by_token_and_stop_works(
        qtbot: QtBot, window: MainWindow, engine: EngineService, tmp_path: Path) -> None:
    shown_while_streaming: list[int] = []

    def watch(event: dict[str, Any]) -> None:
        if event["type"] == "token" and event.get("id") == window._gen_id:
            card = window.chat.streaming_card()
            shown_while_streaming.append(len(card.view.markdown) if card else -1)

    engine.sig_event.connect(watch)
    _send(qtbot, window, "What is the capital of France?")
    engine.sig_event.disconnect(watch)
    # Each token reached the streaming card as it arrived (the text grew before `done`).
    assert len(shown_while_streaming) > 3 and -1 not in shown_while_streaming
    assert shown_while_streaming == sorted(shown_while_streaming)
    assert shown_while_streaming[-1] > shown_while_streaming[0]

    text = window.chat.plain_text()
    _user, reply = _path(qtbot, window)
    assert "What is the capital of France?" in text
    assert reply.content and reply.content.split()[0] in text
    card = window.chat.cards[-1]
    assert card.message.id == reply.id
    assert "tok/s" in card.footer.text() and "seed" in card.footer.text()
    assert "Context:" in window.context_label.text() and window.context_bar.value() > 0
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


def test_regenerate_keeps_alternatives_and_switches_between_them(
        qtbot: QtBot, window: MainWindow) -> None:
    _send(qtbot, window, "Name a fruit.")
    first = _path(qtbot, window)[-1]
    window.chat.cards[-1].regenerate_button.click()
    qtbot.waitUntil(lambda: window._busy, timeout=5_000)
    _idle(qtbot, window)
    second = _path(qtbot, window)[-1]
    assert second.id != first.id and second.parent_id == first.parent_id
    card = window.chat.cards[-1]
    assert card.message.id == second.id
    assert card.branch_label.isVisibleTo(window) and card.branch_label.text() == "2/2"
    assert card.previous_button.isEnabled() and not card.next_button.isEnabled()

    card.previous_button.click()
    qtbot.waitUntil(lambda: window.chat.cards[-1].message.id == first.id, timeout=10_000)
    assert window.chat.cards[-1].branch_label.text() == "1/2"
    assert _path(qtbot, window)[-1].id == first.id  # the choice is saved
    window.chat.cards[-1].next_button.click()
    qtbot.waitUntil(lambda: window.chat.cards[-1].message.id == second.id, timeout=10_000)


def test_up_edits_the_last_message_into_a_new_branch(
        qtbot: QtBot, window: MainWindow) -> None:
    _send(qtbot, window, "Name a color.")
    original = _path(qtbot, window)
    window.composer.setFocus()
    qtbot.keyClick(window.composer, Qt.Key.Key_Up)
    assert window.composer.toPlainText() == "Name a color."
    assert window.edit_banner.isVisibleTo(window)
    # Esc leaves editing and gives the draft back
    qtbot.keyClick(window.composer, Qt.Key.Key_Escape)
    assert window.composer.toPlainText() == "" and not window.edit_banner.isVisibleTo(window)

    qtbot.keyClick(window.composer, Qt.Key.Key_Up)
    window.composer.setPlainText("Name an animal.")
    window.last_summary = None
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.last_summary is not None, timeout=60_000)
    _idle(qtbot, window)
    edited = _path(qtbot, window)
    assert [m.role for m in edited] == ["user", "assistant"]
    assert edited[0].content == "Name an animal." and edited[0].id != original[0].id
    user_card = window.chat.cards[0]
    assert user_card.branch_label.text() == "2/2"
    user_card.previous_button.click()  # the original question and its reply are still there
    qtbot.waitUntil(lambda: window.chat.cards[0].message.id == original[0].id, timeout=10_000)
    assert [c.message.id for c in window.chat.cards] == [m.id for m in original]


def test_continue_extends_the_reply_as_a_new_alternative(
        qtbot: QtBot, window: MainWindow) -> None:
    _quick_conversation(qtbot, window)
    summary = _send(qtbot, window, "Tell me about the sea.")
    assert summary["finish_reason"] == "length"
    short = _path(qtbot, window)[-1]
    window.chat.cards[-1].continue_button.click()
    qtbot.waitUntil(lambda: window._busy, timeout=5_000)
    _idle(qtbot, window)
    longer = _path(qtbot, window)[-1]
    assert longer.id != short.id and longer.content.startswith(short.content)
    assert len(longer.content) > len(short.content)
    assert longer.provenance is not None and longer.provenance["continued_from"] == short.id
    assert window.chat.cards[-1].branch_label.text() == "2/2"


def test_copy_puts_the_markdown_on_the_clipboard(qtbot: QtBot, window: MainWindow) -> None:
    _quick_conversation(qtbot, window)
    _send(qtbot, window, "Say hello.")
    reply = _path(qtbot, window)[-1]
    QGuiApplication.clipboard().clear()
    window.chat.cards[-1].copy_button.click()
    assert QGuiApplication.clipboard().text() == reply.content


def test_delete_and_undo(qtbot: QtBot, window: MainWindow) -> None:
    _quick_conversation(qtbot, window)
    _send(qtbot, window, "Say hello.")
    _send(qtbot, window, "Say goodbye.")
    before = _path(qtbot, window)
    assert len(before) == 4
    window.chat.cards[2].delete_button.click()  # the second question and its reply
    qtbot.waitUntil(lambda: len(window.chat.cards) == 2, timeout=10_000)
    assert window.undo_bar.isVisibleTo(window)
    assert [m.id for m in _path(qtbot, window)] == [m.id for m in before[:2]]
    window.undo_button.click()
    qtbot.waitUntil(lambda: len(window.chat.cards) == 4, timeout=10_000)
    assert [m.id for m in _path(qtbot, window)] == [m.id for m in before]
    assert not window.undo_bar.isVisibleTo(window)


def test_search_opens_the_conversation_at_the_hit(
        qtbot: QtBot, window: MainWindow) -> None:
    _quick_conversation(qtbot, window)
    _send(qtbot, window, "Remember the word pomegranate.")
    found_cid = window.conversation_id
    window.sidebar.new_button.click()
    qtbot.waitUntil(lambda: window.conversation_id not in (None, found_cid), timeout=10_000)
    assert window.chat.cards == []
    sidebar = window.sidebar
    qtbot.keyClicks(sidebar.search_box, "pomegranate")
    qtbot.waitUntil(lambda: sidebar.model.rowCount() == 1
                    and sidebar.model.row_at(0).message_id is not None, timeout=10_000)
    sidebar.view.setCurrentIndex(sidebar.model.index(0, 0))  # as a click does
    qtbot.waitUntil(lambda: window.conversation_id == found_cid and bool(window.chat.cards),
                    timeout=10_000)
    assert "pomegranate" in window.chat.plain_text()


def test_a_long_conversation_shows_its_end_first(qtbot: QtBot, window: MainWindow) -> None:
    def create(s: ChatStore) -> str:
        c = s.create_conversation()
        for i in range(60):
            s.add_message(c.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
        return c.id

    box: list[str] = []
    window.store.write(create, Changed(lists=True), box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=10_000)
    window.open_conversation(box[0])
    qtbot.waitUntil(lambda: len(window.chat.cards) == 50, timeout=10_000)
    assert window.chat.cards[-1].message.content == "message 59"
    assert window.chat.earlier == 10 and window.chat.earlier_button.isVisibleTo(window)
    window.chat.earlier_button.click()
    qtbot.waitUntil(lambda: len(window.chat.cards) == 60, timeout=10_000)
    assert not window.chat.earlier_button.isVisibleTo(window)


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

    cid = window.conversation_id
    assert cid is not None
    user, reply = _path(qtbot, window)
    assert user.content == "What is the capital of France?"
    assert reply.status == "complete"
    assert reply.provenance is not None
    assert reply.provenance["seed"] == summary["seed"]
    assert reply.provenance["model_sha256"]
    records = _query(qtbot, store, lambda s: s.token_records(reply.id))
    assert records and len(records) == summary["generated_tokens"]
    shown = window.chat.plain_text()

    # Restart: new window and service on the same data folder.
    window.close()
    store.close()
    store2 = _open_store(qtbot)
    try:
        window2 = _open_window(qtbot, engine, store2, starter_model)
        qtbot.waitUntil(lambda: window2.conversation_id == cid, timeout=10_000)
        qtbot.waitUntil(lambda: window2.chat.plain_text() == shown, timeout=10_000)
        assert [c.message.id for c in window2.chat.cards] == [user.id, reply.id]
        assert "tok/s" in window2.chat.cards[-1].footer.text()
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
    first_text = window.chat.plain_text()
    window.sidebar.new_button.click()
    qtbot.waitUntil(lambda: window.conversation_id not in (None, first), timeout=10_000)
    assert window.chat.plain_text() == "" and window.chat.empty_label.isVisibleTo(window)
    _send(qtbot, window, "Name a color.")
    second = window.conversation_id
    assert "Name a color." in window.chat.plain_text()
    assert "France" not in window.chat.plain_text()

    listed = _query(qtbot, store, lambda s: [c.id for c in s.list_conversations()])
    assert listed == [second, first]  # the most recent first
    sidebar = window.sidebar
    qtbot.waitUntil(lambda: sidebar.model.rowCount() == 2, timeout=10_000)
    qtbot.waitUntil(lambda: sidebar.model.row_at(0).conversation_id == second, timeout=10_000)
    sidebar.view.setCurrentIndex(sidebar.model.find(first))  # as a click does
    qtbot.waitUntil(lambda: window.chat.plain_text() == first_text, timeout=10_000)
    assert window.conversation_id == first

    # Ctrl+N (a window shortcut) makes a third, empty one.
    window.activateWindow()
    window.sidebar.action_new_chat.trigger()
    qtbot.waitUntil(lambda: window.conversation_id not in (first, second), timeout=10_000)
    assert window.chat.plain_text() == ""


def test_escape_mid_reply_saves_it_as_cancelled(
        qtbot: QtBot, window: MainWindow, engine: EngineService, store: StoreService) -> None:
    def stop_at_first_token(event: dict[str, Any]) -> None:
        if event["type"] == "token" and event.get("id") == window._gen_id:
            qtbot.keyClick(window.composer, Qt.Key.Key_Escape)

    engine.sig_event.connect(stop_at_first_token)
    summary = _send(qtbot, window, "Tell me a very long story about a dragon.")
    engine.sig_event.disconnect(stop_at_first_token)
    assert summary["finish_reason"] == "cancelled"
    reply = _path(qtbot, window)[-1]
    assert reply.role == "assistant" and reply.status == "cancelled"
    assert reply.provenance is not None and reply.provenance["finish_reason"] == "cancelled"
    assert window.chat.cards[-1].note.text() == "Stopped."
