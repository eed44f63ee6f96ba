"""`chatapp render`: a Markdown file or a stored conversation, drawn offscreen to a PNG.

The picture comes from the same widgets the window uses (a `ChatView` of `MessageCard`s, each a
`MessageView`), so what it shows is what a user would see: for screenshots, bug reports, and
tests of the rendering.  The HTML written beside it is what the safe renderer produced for each
message, the input the view was given.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from chatapp.core.markdown_render import render_markdown
from chatapp.storage.entities import Branch, Message
from chatapp.ui.chat_view import ChatView

#: Taller pictures are cut here (QImage and viewers cope badly with more).
MAX_HEIGHT = 32_000


@dataclass(frozen=True)
class RenderResult:
    """What `render_messages` wrote.

    Attributes:
        png: the picture.
        html: the HTML file, or None when none was asked for.
        width: the picture's width in pixels.
        height: its height in pixels.
        cut: True when the conversation was taller than MAX_HEIGHT and the picture stops there.
    """

    png: Path
    html: Path | None
    width: int
    height: int
    cut: bool


def markdown_message(text: str) -> Message:
    """A reply holding `text` (how a Markdown file is shown)."""
    now = time.time()
    return Message(id="render", conversation_id="render", parent_id=None, role="assistant",
                   content=text, created_at=now, updated_at=now, status="complete",
                   active_child_id=None, provenance=None, error=None)


def render_messages(messages: list[Message], png: Path, *, html_path: Path | None = None,
                    width: int = 900, dark: bool = False,
                    branches: dict[str, Branch] | None = None) -> RenderResult:
    """Draw `messages` as the window shows them into `png` (and their HTML into `html_path`).

    Needs a QApplication (the offscreen platform is enough).
    """
    app = QApplication.instance()
    if app is None:
        raise RuntimeError("render_messages needs a QApplication")
    view = ChatView()
    # The picture is the whole column: no scroll bar takes width from it, even when cut.
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.set_dark(dark)
    view.show_messages(messages, branches or {}, 0)
    for card in view.cards:
        card.view.flush()  # the whole text now, not in 12 ms slices
    column = view.column
    # Lay out at the asked width, then give the column the height its cards want.
    view.resize(width, 600)
    view.show()
    app.processEvents()
    height = min(column.sizeHint().height(), MAX_HEIGHT)
    for _ in range(3):  # card heights follow the document layout, which follows the width
        view.resize(width, height)
        app.processEvents()
        wanted = min(column.sizeHint().height(), MAX_HEIGHT)
        if wanted == height:
            break
        height = wanted
    picture = column.grab()
    png.parent.mkdir(parents=True, exist_ok=True)
    if not picture.save(str(png)):
        raise OSError(f"could not write {png}")
    if html_path is not None:
        html_path.write_text(_html_document(messages, dark), encoding="utf-8")
    cut = column.sizeHint().height() > MAX_HEIGHT
    size = picture.size()
    view.close()
    view.deleteLater()
    return RenderResult(png, html_path, size.width(), size.height(), cut)


def _html_document(messages: list[Message], dark: bool) -> str:
    parts = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8">',
             "<title>chatapp render</title></head><body>"]
    for m in messages:
        parts.append(f'<section class="{html.escape(m.role)}">'
                     f"<h3>{html.escape(m.role)}</h3>")
        parts.append(render_markdown(m.content, dark=dark).html)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)
