"""The message column: follows a streaming reply only while the reader is at the bottom, and
survives hostile sizes."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from chatapp.storage.entities import Message
from chatapp.ui.chat_view import ChatView


def _message(role: str, text: str, status: str = "complete", mid: str = "m") -> Message:
    now = time.time()
    return Message(id=mid, conversation_id="c", parent_id=None, role=role,  # type: ignore[arg-type]
                   content=text, created_at=now, updated_at=now,
                   status=status, active_child_id=None, provenance=None,  # type: ignore[arg-type]
                   error=None)


def test_streaming_follows_only_when_the_reader_is_at_the_bottom(
        qtbot: QtBot, qapp: QApplication) -> None:
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.show()
    view.show_messages([_message("user", "Tell me a long story.", mid="u")], {}, 0)
    card = view.add_streaming(_message("assistant", "", "streaming", mid="r"))
    bar = view.verticalScrollBar()
    for i in range(40):
        card.append_text(f"Paragraph {i} of the story goes on and on.\n\n")
    card.view.flush()
    qtbot.waitUntil(lambda: bar.maximum() > 500, timeout=5000)
    assert bar.value() == bar.maximum() and view.following

    bar.setValue(0)  # the reader scrolls up to read the beginning
    assert not view.following
    for i in range(40, 80):
        card.append_text(f"Paragraph {i} continues the story.\n\n")
    card.view.flush()
    qapp.processEvents()
    assert bar.value() == 0  # left where the reader is

    bar.setValue(bar.maximum())  # back at the bottom: following again
    assert view.following
    for i in range(80, 120):
        card.append_text(f"Paragraph {i} ends the story.\n\n")
    card.view.flush()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum(), timeout=5000)


def test_a_one_megabyte_line_wraps_inside_its_card(qtbot: QtBot, qapp: QApplication) -> None:
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    view.show_messages([_message("assistant", "x" * 1_000_000)], {}, 0)
    card = view.cards[0]
    card.view.flush()
    qapp.processEvents()
    # Wrapped to the width: no sideways scrolling, and every character is in the document.
    assert card.view.horizontalScrollBar().maximum() == 0
    assert card.view.toPlainText().replace("\u200b", "").count("x") == 1_000_000
    assert card.view.height() > 10_000
