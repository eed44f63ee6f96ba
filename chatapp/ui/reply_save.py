"""Saving the reply in flight, on the store's worker thread (the window only queues calls)."""

from __future__ import annotations

from typing import Any

from chatapp.storage.entities import Message
from chatapp.storage.reply_writer import ReplyWriter
from chatapp.storage.repository import ChatStore


class ReplySave:
    """One reply's saving, touched only on the store's worker thread.

    The GUI thread creates this empty and queues `begin`, then `token`, `done` or `failed`
    through `StoreService.run`/`write`; the worker runs them in that order, so the
    `ReplyWriter` inside is never shared between threads.

    Attributes:
        conversation_id: the conversation the reply belongs to.
        prefix: the text a continued reply starts with ('' for a new reply).
        writer: the reply's writer once `begin` ran (None if it failed).
    """

    def __init__(self, conversation_id: str, prefix: str = "") -> None:
        """A save for a reply in `conversation_id` (nothing written yet)."""
        self.conversation_id = conversation_id
        self.prefix = prefix
        self.writer: ReplyWriter | None = None

    def begin(self, store: ChatStore, parent_id: str,
              provenance: dict[str, Any] | None = None) -> Message:
        """Worker: create the 'streaming' reply below `parent_id`."""
        message = store.begin_reply(self.conversation_id, parent_id, content=self.prefix,
                                    provenance=provenance)
        self.writer = ReplyWriter(store, message.id, text=self.prefix)
        return message

    def token(self, event: dict[str, Any]) -> None:
        """Worker: one token (checkpointed when due)."""
        if self.writer is not None:
            self.writer.token(event)

    def done(self, event: dict[str, Any]) -> Message | None:
        """Worker: the reply's end (complete, or cancelled by Stop)."""
        return self.writer.done(event) if self.writer is not None else None

    def failed(self, message: str, *, cancelled: bool = False) -> Message | None:
        """Worker: the reply ended without a `done` event."""
        if self.writer is None:
            return None
        return self.writer.failed(message, cancelled=cancelled)
