"""The conversation sidebar on a real StoreService and SQLite file, offscreen."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QElapsedTimer, QEvent, QPoint, Qt, QTimer
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from chatapp.services.store_service import Changed, StoreService
from chatapp.storage import ChatStore
from chatapp.ui.sidebar import (
    PAGE_SIZE,
    ConversationRow,
    ConversationSidebar,
    parse_snippet,
    snippet_html,
)


@pytest.fixture
def sidebar(qtbot: QtBot, service: StoreService) -> ConversationSidebar:
    bar = ConversationSidebar(service)
    qtbot.addWidget(bar)
    bar.resize(300, 560)
    with qtbot.waitSignal(bar.model.sig_loaded, timeout=10_000):
        bar.show()
    qtbot.waitExposed(bar)
    return bar


def write(qtbot: QtBot, bar: ConversationSidebar, fn: Callable[[ChatStore], Any]) -> Any:
    """Run a write through the service and wait until the sidebar shows its result."""
    with qtbot.waitCallback() as done, qtbot.waitSignal(bar.model.sig_loaded, timeout=10_000):
        bar._service.write(fn, Changed(lists=True), done)
    return done.args[0]


def chat(store: ChatStore, first: str, *replies: str, folder: str | None = None) -> str:
    """A conversation titled after its first message; returns its id."""
    cid = store.create_conversation(folder=folder).id
    store.add_message(cid, "user", first)
    for i, text in enumerate(replies):
        store.add_message(cid, "assistant" if i % 2 == 0 else "user", text)
    return cid


def titles(bar: ConversationSidebar) -> list[str]:
    return [bar.model.row_at(i).title for i in range(bar.model.rowCount())]


def focus_list(qtbot: QtBot, bar: ConversationSidebar, row: int) -> None:
    bar.activateWindow()
    bar.view.setFocus()
    qtbot.waitUntil(bar.view.hasFocus)
    bar.view.setCurrentIndex(bar.model.index(row))


def test_empty_state_then_new_chat(qtbot: QtBot, sidebar: ConversationSidebar) -> None:
    assert sidebar.empty_label.isVisible()
    assert sidebar.empty_label.text() == "No conversations yet. Start one with New chat."
    assert not sidebar.folder_combo.isVisible()
    with qtbot.waitSignal(sidebar.sig_new_chat):
        qtbot.mouseClick(sidebar.new_button, Qt.MouseButton.LeftButton)
    sidebar.activateWindow()
    sidebar.search_box.setFocus()
    qtbot.waitUntil(sidebar.search_box.hasFocus)
    with qtbot.waitSignal(sidebar.sig_new_chat):  # anywhere in the window
        qtbot.keyClick(sidebar.search_box, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    # A language switch retranslates in place (here back to the same language).
    QApplication.sendEvent(sidebar, QEvent(QEvent.Type.LanguageChange))
    assert sidebar.new_button.text() == sidebar.action_new_chat.text() == "New chat"
    assert sidebar.empty_label.text() == "No conversations yet. Start one with New chat."

    write(qtbot, sidebar, lambda s: chat(s, "Hello there"))
    assert sidebar.view.isVisible() and not sidebar.empty_label.isVisible()
    assert titles(sidebar) == ["Hello there"]


def test_pinned_first_folders_rename_and_selection(qtbot: QtBot,
                                                   sidebar: ConversationSidebar) -> None:
    ids = write(qtbot, sidebar, lambda s: [chat(s, f"Chat {i}") for i in range(3)])
    assert titles(sidebar) == ["Chat 2", "Chat 1", "Chat 0"]  # most recent first

    with qtbot.waitSignal(sidebar.model.sig_loaded):
        sidebar.set_pinned([ids[0]], True)
    assert titles(sidebar) == ["Chat 0", "Chat 2", "Chat 1"]
    assert sidebar.model.row_at(0).pinned
    assert sidebar.model.index(0).data(Qt.ItemDataRole.AccessibleTextRole) == "Pinned: Chat 0"

    with qtbot.waitSignal(sidebar.model.sig_loaded):
        sidebar.move_to_folder([ids[1]], "Work")
    assert sidebar.folder_combo.isVisible()
    with qtbot.waitSignal(sidebar.model.sig_loaded):
        sidebar.set_folder_filter("Work")
    assert titles(sidebar) == ["Chat 1"]
    with qtbot.waitSignal(sidebar.model.sig_loaded):
        sidebar.set_folder_filter(None)
    assert len(titles(sidebar)) == 3

    with qtbot.waitSignal(sidebar.model.sig_loaded):
        sidebar.rename_conversation(ids[2], "  Trip planning ")
    assert titles(sidebar)[1] == "Trip planning"

    # A click opens a conversation; a refresh keeps it selected without a second signal.
    rect = sidebar.view.visualRect(sidebar.model.index(2))
    with qtbot.waitSignal(sidebar.sig_conversation_selected) as chosen:
        qtbot.mouseClick(sidebar.view.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.center())
    assert chosen.args == [ids[1]] and sidebar.current_conversation_id == ids[1]
    with qtbot.assertNotEmitted(sidebar.sig_conversation_selected), \
            qtbot.waitSignal(sidebar.model.sig_loaded):
        sidebar.set_pinned([ids[1]], True)
    assert sidebar.selected_ids() == [ids[1]]
    assert sidebar.action_pin.text() == "Unpin"


def test_f2_renames_in_place(qtbot: QtBot, sidebar: ConversationSidebar) -> None:
    cid = write(qtbot, sidebar, lambda s: chat(s, "Old name"))
    focus_list(qtbot, sidebar, 0)
    qtbot.keyClick(sidebar.view, Qt.Key.Key_F2)
    editor = sidebar.view.viewport().findChild(QLineEdit)
    assert editor is not None and editor.text() == "Old name"
    editor.selectAll()
    qtbot.keyClicks(editor, "New name")
    with qtbot.waitSignal(sidebar.model.sig_loaded):
        qtbot.keyClick(editor, Qt.Key.Key_Return)
    assert titles(sidebar) == ["New name"]
    with qtbot.waitCallback() as got:
        sidebar._service.run(lambda s: s.get_conversation(cid).title, got)
    got.assert_called_with("New name")


def test_delete_key_then_undo_restores(qtbot: QtBot, sidebar: ConversationSidebar) -> None:
    ids = write(qtbot, sidebar, lambda s: [chat(s, "Keep me"), chat(s, "Bin me")])
    focus_list(qtbot, sidebar, 0)  # "Bin me", the most recent
    with qtbot.waitSignal(sidebar.model.sig_loaded):
        qtbot.keyClick(sidebar.view, Qt.Key.Key_Delete)
    assert titles(sidebar) == ["Keep me"]
    assert sidebar.undo_label.isVisible()
    assert sidebar.undo_label.text() == "Deleted “Bin me”"
    assert sidebar.action_undo_delete.isEnabled()
    with qtbot.waitCallback() as trash:
        sidebar._service.run(lambda s: [c.id for c in s.trash()], trash)
    trash.assert_called_with([ids[1]])

    with qtbot.waitSignal(sidebar.model.sig_loaded):
        qtbot.mouseClick(sidebar.undo_button, Qt.MouseButton.LeftButton)
    assert titles(sidebar) == ["Bin me", "Keep me"]
    assert not sidebar.undo_label.isVisible()
    assert not sidebar.action_undo_delete.isEnabled()

    # The same from the keyboard: Delete, then Ctrl+Z while the list has focus.
    focus_list(qtbot, sidebar, 1)
    with qtbot.waitSignal(sidebar.model.sig_loaded):
        qtbot.keyClick(sidebar.view, Qt.Key.Key_Delete)
    assert titles(sidebar) == ["Bin me"]
    with qtbot.waitSignal(sidebar.model.sig_loaded):
        qtbot.keyClick(sidebar.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert titles(sidebar) == ["Bin me", "Keep me"]


def test_the_undo_bar_goes_away_by_itself(qtbot: QtBot, sidebar: ConversationSidebar) -> None:
    ids = write(qtbot, sidebar, lambda s: [chat(s, "A"), chat(s, "B")])
    sidebar._undo_timer.setInterval(50)  # 8 s in the app
    with qtbot.waitSignal(sidebar.model.sig_loaded):
        sidebar.delete_conversations(ids)
    assert sidebar.undo_label.text() == "Deleted 2 conversations"
    qtbot.waitUntil(lambda: not sidebar.undo_label.isVisible())
    assert sidebar.empty_label.isVisible()


def test_search_shows_the_hit_with_its_snippet(qtbot: QtBot,
                                               sidebar: ConversationSidebar) -> None:
    ids = write(qtbot, sidebar, lambda s: [
        chat(s, "Cooking", "Simmer the tomatoes slowly <b>with</b> basil and garlic."),
        chat(s, "Travel", "Pack light for the mountains."),
    ])
    with qtbot.waitSignal(sidebar.model.sig_loaded) as loaded:
        qtbot.keyClicks(sidebar.search_box, "basil")
    assert loaded.signal_triggered
    assert sidebar.model.rowCount() == 1
    row = sidebar.model.row_at(0)
    assert row.conversation_id == ids[0] and row.title == "Cooking"
    assert row.snippet is not None and "«basil»" in row.snippet
    tip = sidebar.model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert "<b>basil</b>" in tip and "&lt;b&gt;with&lt;/b&gt;" in tip

    with qtbot.waitSignal(sidebar.sig_message_selected) as hit:
        focus_list(qtbot, sidebar, 0)
    assert hit.args[0] == ids[0]

    with qtbot.waitSignal(sidebar.model.sig_loaded):
        qtbot.keyClicks(sidebar.search_box, "zzz")
    assert sidebar.empty_label.isVisible()
    assert sidebar.empty_label.text() == "No messages match “basilzzz”."
    sidebar.search_box.setFocus()
    qtbot.waitUntil(sidebar.search_box.hasFocus)
    with qtbot.waitSignal(sidebar.model.sig_loaded):
        qtbot.keyClick(sidebar.search_box, Qt.Key.Key_Escape)  # Esc clears the search
    assert sidebar.search_box.text() == ""
    assert sorted(titles(sidebar)) == ["Cooking", "Travel"]


def test_snippet_markers_are_parsed_and_escaped() -> None:
    text, spans = parse_snippet("…an 🦊 «fox»\njumps «over» a «lazy\n")
    assert text == "…an 🦊 fox jumps over a «lazy"  # a lone marker is text
    assert [text[s:s + n] for s, n in spans] == ["fox", "over"]
    assert snippet_html("<img src=x> «<script>»") == "&lt;img src=x&gt; <b>&lt;script&gt;</b>"


def test_2000_conversations_list_fast_and_page_on_scroll(
        qtbot: QtBot, sidebar: ConversationSidebar, capsys: pytest.CaptureFixture[str]) -> None:
    def seed(store: ChatStore) -> None:
        for i in range(2000):
            c = store.create_conversation(folder="Work" if i % 100 == 0 else None)
            store.rename(c.id, f"Conversation {i:04}")
        store.set_pinned(c.id, True)

    # The GUI thread must stay responsive while the worker writes and reads.
    ticks: list[float] = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: ticks.append(time.perf_counter()))
    heartbeat.start(10)
    write(qtbot, sidebar, seed)
    heartbeat.stop()
    longest_gap = max(b - a for a, b in itertools.pairwise(ticks))

    model = sidebar.model
    assert model.rowCount() == PAGE_SIZE
    assert titles(sidebar)[:2] == ["Conversation 1999", "Conversation 1998"]
    first_page_ms = model.apply_seconds * 1000
    assert first_page_ms < 50

    clock = QElapsedTimer()
    clock.start()
    with qtbot.waitSignal(model.rowsInserted, timeout=10_000):
        sidebar.view.scrollToBottom()
    fetch_ms = clock.elapsed()
    assert model.rowCount() == 2 * PAGE_SIZE
    assert titles(sidebar)[PAGE_SIZE] == f"Conversation {1999 - PAGE_SIZE:04}"
    with capsys.disabled():
        print(f"\n2,000 conversations: first page applied on the GUI thread in "
              f"{first_page_ms:.1f} ms; next page {fetch_ms} ms after the scroll; "
              f"longest GUI pause while seeding {longest_gap * 1000:.0f} ms")
    assert longest_gap < 0.5


def test_screenshot(qtbot: QtBot, sidebar: ConversationSidebar, tmp_path: Path) -> None:
    def seed(store: ChatStore) -> None:
        chat(store, "Why does my sourdough collapse in the oven?",
             "Over-proofing is the usual cause: the gluten can no longer hold the gas.")
        chat(store, "Plan a three-day hike in the Alps", "Day one: Grindelwald to Bachalpsee.")
        chat(store, "Explain Python decorators with an example",
             "A decorator is a function that wraps another function; in Python you apply it "
             "with @name above the definition.", folder="Work")
        chat(store, "Regex for ISO dates", "Use ^\\d{4}-\\d{2}-\\d{2}$ — Python's re module "
             "understands it.")
        chat(store, "Birthday poem for grandma", "Ninety candles, one bright smile…")
        chat(store, "Summarise the attention paper",
             "Self-attention lets every token look at every other token.")
        chat(store, "Fix: <b>ImportError</b> in my Python script",
             "The module is not on sys.path; in Python, run it with -m from the project root.")
        chat(store, "Translate «bonjour» into Japanese", "こんにちは (konnichiwa).")
        chat(store, "Weekly meal plan, vegetarian", "Monday: lentil soup. Tuesday: risotto.")
        pinned = chat(store, "Project notes — keep these handy",
                      "Remember to benchmark Python 3.11 against 3.12.")
        store.set_pinned(pinned, True)

    write(qtbot, sidebar, seed)
    index = next(sidebar.model.index(i) for i in range(sidebar.model.rowCount())
                 if sidebar.model.row_at(i).folder == "Work")
    with qtbot.waitSignal(sidebar.sig_conversation_selected):
        qtbot.mouseClick(sidebar.view.viewport(), Qt.MouseButton.LeftButton,
                         pos=sidebar.view.visualRect(index).center())
    listing = sidebar.grab()
    with qtbot.waitSignal(sidebar.model.sig_loaded):
        qtbot.keyClicks(sidebar.search_box, "python")
    assert sidebar.model.rowCount() >= 3
    assert all(isinstance(sidebar.model.row_at(i), ConversationRow) and
               "«" in (sidebar.model.row_at(i).snippet or "")
               for i in range(sidebar.model.rowCount()))
    found = sidebar.grab()

    # Both states side by side in one picture.
    image = QImage(listing.width() + found.width() + 12, max(listing.height(), found.height()),
                   QImage.Format.Format_ARGB32)
    image.fill(QApplication.palette().window().color().darker(130))
    painter = QPainter(image)
    painter.drawPixmap(QPoint(0, 0), listing)
    painter.drawPixmap(QPoint(listing.width() + 12, 0), found)
    painter.end()
    path = tmp_path / "sidebar.png"
    assert image.save(str(path))
    assert path.stat().st_size > 0
