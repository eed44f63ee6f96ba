"""The shortcut sheet: what it lists, filtering, live updates and retranslation."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from chatapp.ui.shortcut_sheet import (
    ShortcutSection,
    ShortcutSheet,
    native_key_text,
    strip_mnemonic,
)


def native(portable: str) -> str:
    """What the platform shows for a key sequence (⌘N on macOS, Ctrl+N elsewhere)."""
    return QKeySequence(portable).toString(QKeySequence.SequenceFormat.NativeText)


@pytest.fixture
def owner(qtbot: QtBot) -> QWidget:
    """The window the actions belong to, as in the app."""
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def action(owner: QWidget, text: str, *keys: str) -> QAction:
    made = QAction(text, owner)
    made.setShortcuts([QKeySequence(k) for k in keys])
    return made


@pytest.fixture
def actions(owner: QWidget) -> dict[str, QAction]:
    return {
        "new": action(owner, "&New chat", "Ctrl+N"),
        "find": action(owner, "&Search messages…", "Ctrl+F"),
        "close": action(owner, "&Close window", "Ctrl+W", "Ctrl+F4"),
        "rename": action(owner, "&Rename…"),  # no shortcut
        "copy": action(owner, "Copy && paste", "Ctrl+Shift+C"),
    }


def make_sheet(qtbot: QtBot, sections: list[ShortcutSection]) -> ShortcutSheet:
    sheet = ShortcutSheet(sections)
    qtbot.addWidget(sheet)
    sheet.show()
    qtbot.waitExposed(sheet)
    return sheet


def headings(sheet: ShortcutSheet) -> list[str]:
    """The visible section titles."""
    table = sheet.table
    found = []
    for r in range(table.rowCount()):
        item = table.item(r, 0)
        if item is not None and table.columnSpan(r, 0) == 2 and not table.isRowHidden(r):
            found.append(item.text())
    return found


@pytest.fixture
def sheet(qtbot: QtBot, actions: dict[str, QAction]) -> ShortcutSheet:
    return make_sheet(qtbot, [
        ("Conversations", [actions["new"], actions["find"], actions["rename"]]),
        ("Window", [actions["close"], actions["copy"]]),
        ("Composer", [("Send the message", "Enter"), ("New line", "Shift+Enter")]),
    ])


def test_lists_every_action_with_its_shortcut(sheet: ShortcutSheet) -> None:
    assert sheet.windowTitle() == "Keyboard Shortcuts"
    assert sheet.shown_rows() == [
        ("New chat", native("Ctrl+N")),
        ("Search messages", native("Ctrl+F")),
        # "Rename…" has no shortcut: not listed.
        ("Close window", native("Ctrl+W") + "\n" + native("Ctrl+F4")),
        ("Copy & paste", native("Ctrl+Shift+C")),
        ("Send the message", native("Enter")),
        ("New line", native("Shift+Enter")),
    ]
    assert headings(sheet) == ["Conversations", "Window", "Composer"]
    # Read-only: no cell can be edited.
    assert sheet.table.editTriggers() == sheet.table.EditTrigger.NoEditTriggers
    for r in range(sheet.table.rowCount()):
        for c in range(2):
            item = sheet.table.item(r, c)
            if item is not None:
                assert not item.flags() & Qt.ItemFlag.ItemIsEditable


def test_filter_hides_rows_that_do_not_match(qtbot: QtBot, sheet: ShortcutSheet) -> None:
    assert sheet.filter_box.hasFocus()
    qtbot.keyClicks(sheet.filter_box, "NEW")  # case-blind, over all sections
    assert sheet.shown_rows() == [("New chat", native("Ctrl+N")), ("New line", "Shift+Enter")]
    assert headings(sheet) == ["Conversations", "Composer"]  # Window has no match left
    sheet.filter_box.setText("f4")  # keys match too
    assert [d for d, _ in sheet.shown_rows()] == ["Close window"]
    sheet.filter_box.setText("ctrl+shift")  # and the portable notation (for macOS)
    assert [d for d, _ in sheet.shown_rows()] == ["Copy & paste"]
    sheet.filter_box.setText("composer")  # a section title lists its section
    assert [d for d, _ in sheet.shown_rows()] == ["Send the message", "New line"]
    sheet.filter_box.setText("rename")  # the action without a shortcut stays out
    assert sheet.shown_rows() == []
    assert headings(sheet) == []
    assert sheet.empty_label.isVisible()
    assert not sheet.table.isVisible()
    sheet.filter_box.clear()
    assert len(sheet.shown_rows()) == 6
    assert sheet.table.isVisible() and not sheet.empty_label.isVisible()


def test_enter_in_the_filter_does_not_close(qtbot: QtBot, sheet: ShortcutSheet) -> None:
    qtbot.keyClicks(sheet.filter_box, "new")
    qtbot.keyClick(sheet.filter_box, Qt.Key.Key_Return)
    assert sheet.isVisible()
    with qtbot.waitSignal(sheet.rejected):
        qtbot.keyClick(sheet.filter_box, Qt.Key.Key_Escape)
    assert not sheet.isVisible()


def test_close_button(qtbot: QtBot, sheet: ShortcutSheet) -> None:
    close = sheet.buttons.button(sheet.buttons.StandardButton.Close)
    with qtbot.waitSignal(sheet.rejected):
        qtbot.mouseClick(close, Qt.MouseButton.LeftButton)


def test_follows_changed_actions(sheet: ShortcutSheet, actions: dict[str, QAction]) -> None:
    actions["rename"].setShortcut(QKeySequence("F2"))
    assert ("Rename", native("F2")) in sheet.shown_rows()
    actions["new"].setText("&Start a chat")
    assert sheet.shown_rows()[0] == ("Start a chat", native("Ctrl+N"))
    actions["find"].setVisible(False)  # a hidden action's shortcut does not work
    assert "Search messages" not in [d for d, _ in sheet.shown_rows()]
    actions["find"].setVisible(True)
    assert "Search messages" in [d for d, _ in sheet.shown_rows()]


def test_language_change_rereads_actions(sheet: ShortcutSheet, actions: dict[str, QAction]) -> None:
    # An action whose signals are blocked changes without telling anyone; the language
    # change event still makes the sheet read it again.
    actions["new"].blockSignals(True)
    actions["new"].setText("新建对话(&N)")
    actions["new"].blockSignals(False)
    assert sheet.shown_rows()[0][0] == "New chat"
    QApplication.sendEvent(sheet, QEvent(QEvent.Type.LanguageChange))
    assert sheet.shown_rows()[0][0] == "新建对话"
    assert sheet.windowTitle() == "Keyboard Shortcuts"
    labels = [sheet.table.model().headerData(c, Qt.Orientation.Horizontal) for c in range(2)]
    assert labels == ["Action", "Shortcut"]


def test_deleted_action_and_new_sections(qtbot: QtBot, owner: QWidget) -> None:
    doomed = action(owner, "&Doomed", "Ctrl+D")
    kept = action(owner, "&Kept", "Ctrl+K")
    sheet = make_sheet(qtbot, [("", [doomed, kept])])
    assert headings(sheet) == []  # an untitled section has no heading row
    assert len(sheet.shown_rows()) == 2
    doomed.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QApplication.sendEvent(sheet, QEvent(QEvent.Type.LanguageChange))
    assert sheet.shown_rows() == [("Kept", native("Ctrl+K"))]
    sheet.filter_box.setText("k")
    sheet.set_sections([("Other", [kept, ("Zoom", "Ctrl+Wheel")])])
    assert sheet.filter_box.text() == "k"  # the filter survives and applies
    assert sheet.shown_rows() == [("Kept", native("Ctrl+K"))]
    sheet.filter_box.clear()
    assert sheet.shown_rows()[1] == ("Zoom", "Ctrl+Wheel")  # not a key: shown as given
    assert headings(sheet) == ["Other"]


def test_strip_mnemonic() -> None:
    assert strip_mnemonic("&New chat") == "New chat"
    assert strip_mnemonic("Save &As…") == "Save As"
    assert strip_mnemonic("Export...") == "Export"
    assert strip_mnemonic("Fish && Chips") == "Fish & Chips"
    assert strip_mnemonic("新建(&N)") == "新建"
    assert strip_mnemonic("新建 (&N)…") == "新建"
    assert strip_mnemonic("&Quit\tCtrl+Q") == "Quit"


def test_native_key_text() -> None:
    assert native_key_text("Shift+Enter") == native("Shift+Enter")
    assert native_key_text("ctrl+k, ctrl+s") == native("Ctrl+K, Ctrl+S")
    assert native_key_text("Ctrl+Click") == "Ctrl+Click"
    assert native_key_text("Double-click") == "Double-click"


def test_actions_outlive_the_sheet(qtbot: QtBot, actions: dict[str, QAction]) -> None:
    sheet = ShortcutSheet([("", list(actions.values()))])
    sheet.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    actions["new"].setText("&Still fine")  # no slot of the deleted sheet is called
    assert actions["new"].text() == "&Still fine"
