"""The conversation as the reader sees it: one card per message, in a scrolling column.

Each card renders its message through a `MessageView` (safe Markdown, streamed incrementally)
that is exactly as tall as its text, so the column scrolls as one page.  Cards are plain widgets
made from the store's plain values; every action on a message (switch alternative, edit,
regenerate, continue, copy, delete) leaves the card as a `sig_action(action, message_id)` for the
window to carry out, so that the view itself never touches the database or the model.

A long conversation shows its last messages first, with a button for the earlier ones: building
thousands of cards would stall the window, and nobody reads them all at once.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QSizeF, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from chatapp.engine.remote import server_label
from chatapp.storage.entities import Branch, Message
from chatapp.ui.message_view import MessageView

#: Actions a card reports through `ChatView.sig_action`.
ACTIONS = ("previous", "next", "edit", "regenerate", "continue", "copy", "delete", "inspect")

#: Messages shown when a conversation opens; the rest come with "Show earlier messages".
INITIAL_MESSAGES = 50


class MessageCard(QFrame):
    """One message: its author, its text, its alternatives and actions, and how it was made.

    Signals:
        sig_action(str, str): an action from `ACTIONS` and this card's message id.

    Attributes:
        message: the message shown (for the streaming reply: its state when it began).
        view: the rendered text.
    """

    sig_action = Signal(str, str)

    def __init__(self, message: Message, branch: Branch | None, *, dark: bool,
                 last: bool, parent: QWidget | None = None) -> None:
        """A card for `message`; `branch` gives its place among its alternatives; `last` says
        whether it ends the conversation (only the last reply can be continued)."""
        super().__init__(parent)
        self.message = message
        self._branch = branch
        self._last = last
        self._streaming = message.status == "streaming"
        self._busy = False
        self.setObjectName(f"card-{message.role}")
        self.setFrameShape(QFrame.Shape.NoFrame)
        if message.role == "user":
            # The user's turns stand out from the replies, like a chat bubble but full width
            # (code and tables need the room).
            self.setAutoFillBackground(True)
            self.setBackgroundRole(self.palette().ColorRole.AlternateBase)

        self.author = QLabel()
        self.author.setTextFormat(Qt.TextFormat.PlainText)
        font = self.author.font()
        font.setBold(True)
        self.author.setFont(font)
        self.note = QLabel()  # stopped / interrupted / error
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.setForegroundRole(self.palette().ColorRole.PlaceholderText)

        self.view = MessageView(dark=dark)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # Transparent, so the card's own background (user turns) shows through.
        self.view.viewport().setAutoFillBackground(False)
        self.view.setStyleSheet("QTextBrowser { background: transparent; }")
        layout = self.view.document().documentLayout()
        layout.documentSizeChanged.connect(self._fit_height)
        self.view.horizontalScrollBar().rangeChanged.connect(lambda *_: self._fit_height())

        self.previous_button = self._tool("‹", "previous")
        self.branch_label = QLabel()
        self.next_button = self._tool("›", "next")
        self.edit_button = self._tool("", "edit")
        self.regenerate_button = self._tool("", "regenerate")
        self.continue_button = self._tool("", "continue")
        self.copy_button = self._tool("", "copy")
        self.delete_button = self._tool("", "delete")
        self.inspect_button = self._tool("", "inspect")
        self.footer = QLabel()
        self.footer.setTextFormat(Qt.TextFormat.PlainText)
        self.footer.setForegroundRole(self.palette().ColorRole.PlaceholderText)
        self.footer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        head = QHBoxLayout()
        head.addWidget(self.author)
        head.addStretch(1)
        for widget in (self.previous_button, self.branch_label, self.next_button):
            head.addWidget(widget)
        actions = QHBoxLayout()
        actions.setSpacing(2)
        for button in (self.edit_button, self.regenerate_button, self.continue_button,
                       self.copy_button, self.delete_button, self.inspect_button):
            actions.addWidget(button)
        actions.addSpacing(8)
        actions.addWidget(self.footer, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(12, 8, 12, 6)
        box.setSpacing(2)
        box.addLayout(head)
        box.addWidget(self.view)
        box.addWidget(self.note)
        box.addLayout(actions)

        self._retranslate()
        if self._streaming:
            self.view.clear_message()
            if message.content:  # a continued reply starts with the text it continues
                self.view.append_text(message.content)
        else:
            self.view.set_markdown(message.content)
        self._update_controls()

    # --- streaming -----------------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        """True while the reply is being generated."""
        return self._streaming

    def append_text(self, text: str) -> None:
        """More of the streaming reply."""
        self.view.append_text(text)

    def finish(self, message: Message) -> None:
        """The reply ended: show its final text and status (what the store saved)."""
        shown = self.view.markdown
        self.message = message
        self._streaming = False
        if message.content != shown:
            self.view.set_markdown(message.content)  # e.g. a held-back stop-string prefix
        self.view.finish()
        self._retranslate()
        self._update_controls()

    def set_place(self, branch: Branch | None, last: bool) -> None:
        """Update the card's place: among its alternatives, and whether it ends the path."""
        self._branch, self._last = branch, last
        self._update_controls()

    def set_busy(self, busy: bool) -> None:
        """Disable the actions that would start a reply or change the tree while one runs."""
        self._busy = busy
        self._update_controls()

    # --- presentation --------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate on a language switch."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _tool(self, text: str, action: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setAutoRaise(True)
        button.setObjectName(action)
        button.clicked.connect(lambda: self.sig_action.emit(action, self.message.id))
        return button

    def _retranslate(self) -> None:
        m = self.message
        names = {"user": self.tr("You"), "assistant": self.tr("Assistant"),
                 "system": self.tr("System")}
        self.author.setText(names.get(m.role, m.role))
        self.edit_button.setText(self.tr("Edit"))
        self.edit_button.setToolTip(self.tr("Edit this message: the edit starts a new branch, "
                                            "the original stays"))
        self.regenerate_button.setText(self.tr("Regenerate"))
        self.regenerate_button.setToolTip(self.tr("Write another reply (this one is kept as an "
                                                  "alternative)"))
        self.continue_button.setText(self.tr("Continue"))
        self.continue_button.setToolTip(self.tr("Let the model write more of this reply"))
        self.copy_button.setText(self.tr("Copy"))
        self.copy_button.setToolTip(self.tr("Copy the message's Markdown"))
        self.delete_button.setText(self.tr("Delete"))
        self.delete_button.setToolTip(self.tr("Delete this message and everything after it "
                                              "(can be undone)"))
        self.inspect_button.setText(self.tr("Inside"))
        self.inspect_button.setToolTip(self.tr("Show how each token of this reply was chosen, "
                                               "and its attention, in the side panel"))
        self.previous_button.setToolTip(self.tr("Previous alternative"))
        self.next_button.setToolTip(self.tr("Next alternative"))
        notes = {
            "cancelled": self.tr("Stopped."),
            "interrupted": self.tr("Interrupted: chatapp closed during this reply."),
            "error": self.tr("Error: {message}").format(message=m.error or ""),
            "streaming": self.tr("Writing…"),
        }
        self.note.setText(notes.get(m.status, ""))
        self.note.setVisible(m.status in notes)
        self.footer.setText(self._footer_text())

    def _footer_text(self) -> str:
        p = self.message.provenance or {}
        if self.message.role != "assistant" or self._streaming or not p.get("generated_tokens"):
            return ""
        parts = [
            self.tr("{n} tokens").format(n=p["generated_tokens"]),
            self.tr("{speed:.1f} tok/s").format(speed=float(p.get("tokens_per_s") or 0.0)),
            self.tr("first token {ms:.0f} ms").format(
                ms=float(p.get("time_to_first_token_ms") or 0.0)),
        ]
        if p.get("model_file"):
            parts.append(str(p["model_file"]))
        elif p.get("remote_model"):
            # A server's model: its name and where it ran (chatapp.engine.remote.server_label).
            parts.append(server_label(str(p["remote_model"]), str(p.get("endpoint") or "")))
        if p.get("seed") is not None:
            parts.append(self.tr("seed {seed}").format(seed=p["seed"]))
        return " · ".join(parts)

    def _update_controls(self) -> None:
        busy = self._busy
        m, branch = self.message, self._branch
        many = branch is not None and branch.count > 1
        for widget in (self.previous_button, self.branch_label, self.next_button):
            widget.setVisible(many)
        if branch is not None:
            self.branch_label.setText(f"{branch.index + 1}/{branch.count}")
            self.previous_button.setEnabled(not busy and branch.index > 0)
            self.next_button.setEnabled(not busy and branch.index + 1 < branch.count)
        reply = m.role == "assistant"
        self.edit_button.setVisible(m.role == "user")
        self.regenerate_button.setVisible(reply)
        self.continue_button.setVisible(reply and self._last)
        self.inspect_button.setVisible(reply)
        self.inspect_button.setEnabled(not self._streaming)
        for button in (self.edit_button, self.regenerate_button, self.continue_button,
                       self.delete_button):
            button.setEnabled(not busy and not self._streaming)
        self.copy_button.setEnabled(not self._streaming)

    def _fit_height(self, size: QSizeF | None = None) -> None:
        """Make the text view exactly as tall as its document (the column scrolls, not it)."""
        doc_height = (size if size is not None else self.view.document().size()).height()
        height = math.ceil(doc_height) + 2 * self.view.frameWidth()
        bar = self.view.horizontalScrollBar()
        if bar.maximum() > 0:  # a wide code block scrolls sideways inside its card
            height += bar.sizeHint().height()
        if height != self.view.height():
            self.view.setFixedHeight(height)


class ChatView(QScrollArea):
    """The shown conversation: message cards in a column that follows new text.

    The column scrolls along with a streaming reply only while the reader is at the bottom;
    scrolling up to read stops that until they come back down.

    Signals:
        sig_action(str, str): an action on a message (see `ACTIONS`) and its id.
        sig_show_earlier(): the user asked for the messages before the first one shown.
        sig_link_requested(str): an http(s) link was clicked (the window confirms it).

    Attributes:
        column: the widget holding the cards (as tall as they are).
        cards: the cards shown, oldest first.
        earlier: how many messages of the path come before the first card.
    """

    sig_action = Signal(str, str)
    sig_show_earlier = Signal()
    sig_link_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        """An empty view (its empty state says what to do)."""
        super().__init__(parent)
        self.cards: list[MessageCard] = []
        self.earlier = 0
        self._dark = False
        self._busy = False
        self._follow = True
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.column = column = QWidget()
        column.setObjectName("chat-column")
        self._column = QVBoxLayout(column)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(6)
        self.earlier_button = QPushButton()
        self.earlier_button.setFlat(True)
        self.earlier_button.clicked.connect(self.sig_show_earlier)
        self.empty_label = QLabel()
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setForegroundRole(self.palette().ColorRole.PlaceholderText)
        self.empty_label.setMinimumHeight(200)
        self._column.addWidget(self.earlier_button)
        self._column.addWidget(self.empty_label)
        self._column.addStretch(1)
        self.setWidget(column)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)
        self._empty_text = ""
        self._retranslate()
        self._update_chrome()

    # --- content -------------------------------------------------------------------------------

    def show_messages(self, path: list[Message], branches: dict[str, Branch],
                      earlier: int = 0) -> None:
        """Show these messages (the tail of the active path; `earlier` more come before).

        Cards whose message did not change are kept as they are, so switching an alternative
        near the end re-renders only what differs.
        """
        keep = {c.message.id: c for c in self.cards if not c.streaming}
        self.earlier = earlier
        new_cards: list[MessageCard] = []
        for i, m in enumerate(path):
            last = i == len(path) - 1
            card = keep.pop(m.id, None)
            if card is None or card.message != m:
                card = self._make_card(m, branches.get(m.id), last)
            else:
                card.set_place(branches.get(m.id), last)
            new_cards.append(card)
        for card in self.cards:
            if card not in new_cards:
                self._discard(card)
        self.cards = new_cards
        for index, card in enumerate(new_cards):
            self._column.insertWidget(index + 1, card)  # after the "earlier" button
        self._follow = True
        self._update_chrome()
        self.scroll_to_bottom()

    def add_streaming(self, message: Message) -> MessageCard:
        """Append the card of a reply that is about to stream (status 'streaming')."""
        for card in self.cards:
            card.set_place(card._branch, False)
        card = self._make_card(message, None, True)
        self.cards.append(card)
        self._column.insertWidget(len(self.cards), card)
        self._update_chrome()
        return card

    def streaming_card(self) -> MessageCard | None:
        """The card of the reply being generated, if shown."""
        return next((c for c in reversed(self.cards) if c.streaming), None)

    def clear(self) -> None:
        """Show nothing (the empty state)."""
        self.show_messages([], {}, 0)

    def set_busy(self, busy: bool) -> None:
        """While a reply runs, actions that start another one are disabled."""
        self._busy = busy
        for card in self.cards:
            card.set_busy(busy)

    def set_dark(self, dark: bool) -> None:
        """Code highlighting for a dark or light background (rebuilds the finished cards)."""
        if dark == self._dark:
            return
        self._dark = dark
        self._rebuild_finished()

    def _rebuild_finished(self) -> None:
        """Render the finished cards again (a new theme or language reaches their HTML)."""
        finished = [c for c in self.cards if not c.streaming]
        for card in finished:
            replacement = self._make_card(card.message, card._branch, card._last)
            index = self.cards.index(card)
            self.cards[index] = replacement
            self._column.insertWidget(self._column.indexOf(card), replacement)
            self._discard(card)

    def set_font_size(self, points: int) -> None:
        """The size of the messages' text (the cards inherit the column's font)."""
        font = self.column.font()
        if font.pointSize() != points:
            font.setPointSize(points)
            self.column.setFont(font)

    def set_empty_text(self, text: str) -> None:
        """What the empty state says (the window knows whether a model is ready)."""
        self._empty_text = text
        self._retranslate()

    def plain_text(self) -> str:
        """Every shown message's text as rendered, cards separated by blank lines (for tests
        and for copying a whole conversation)."""
        return "\n\n".join(c.view.toPlainText() for c in self.cards)

    def card_for(self, message_id: str) -> MessageCard | None:
        """The card showing this message, if any."""
        return next((c for c in self.cards if c.message.id == message_id), None)

    # --- scrolling -----------------------------------------------------------------------------

    @property
    def following(self) -> bool:
        """True while the view keeps the newest text in sight."""
        return self._follow

    def scroll_to_bottom(self) -> None:
        """Go to the end and follow new text from now on."""
        self._follow = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def reveal(self, card: MessageCard) -> None:
        """Scroll so that the card's top is in sight (a search hit), and stop following."""
        self._column.activate()  # positions are current before scrolling
        self._follow = False
        self.verticalScrollBar().setValue(card.y())

    def _on_scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._follow = value >= bar.maximum() - 4

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    # --- internals -----------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate on a language switch (the cards' rendered links too)."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
            self._rebuild_finished()
        super().changeEvent(event)

    def _make_card(self, message: Message, branch: Branch | None, last: bool) -> MessageCard:
        card = MessageCard(message, branch, dark=self._dark, last=last)
        card.set_busy(self._busy)
        card.sig_action.connect(self._on_card_action)
        card.view.sig_link_requested.connect(self.sig_link_requested)
        return card

    def _discard(self, card: MessageCard) -> None:
        # Hidden at once: deleteLater waits for the event loop, and until then a card taken out
        # of the layout would still be painted where it was, under the new ones.
        self._column.removeWidget(card)
        card.hide()
        card.deleteLater()

    def _on_card_action(self, action: str, message_id: str) -> None:
        if action == "copy":
            card = self.card_for(message_id)
            if card is not None:
                QGuiApplication.clipboard().setText(card.message.content
                                                    if not card.streaming else card.view.markdown)
        self.sig_action.emit(action, message_id)

    def _update_chrome(self) -> None:
        self.earlier_button.setVisible(self.earlier > 0)
        self.empty_label.setVisible(not self.cards)
        self._retranslate()

    def _retranslate(self) -> None:
        self.earlier_button.setText(
            self.tr("Show {n} earlier messages").format(n=self.earlier))
        self.empty_label.setText(self._empty_text)

