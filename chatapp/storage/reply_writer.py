"""Saving a reply while it streams: checkpoints, then the final text, provenance and records.

Used by every front end (command line, GUI) so that a reply is saved the same way everywhere:
the text is checkpointed at least every 250 ms or 64 tokens, so a crash loses at most that much.
"""

from __future__ import annotations

import os
import time
from typing import Any

from chatapp.storage.entities import Message
from chatapp.storage.repository import ChatStore

CHECKPOINT_SECONDS = 0.25
CHECKPOINT_TOKENS = 64

#: Token-event keys that are transport, not record.
_TRANSPORT_KEYS = frozenset({"type", "id"})


def provenance_from_done(done: dict[str, Any]) -> dict[str, Any]:
    """How a reply was made, from the model process's `done` event."""
    path = str(done.get("model_path") or "")
    return {
        "model_file": os.path.basename(path) or None,
        "model_sha256": done.get("model_sha256"),
        "versions": done.get("versions"),
        "sampling": done.get("sampling"),
        "seed": done.get("seed"),
        "n_ctx": done.get("n_ctx"),
        "n_threads": done.get("n_threads"),
        "n_threads_batch": done.get("n_threads_batch"),
        "n_gpu_layers": done.get("n_gpu_layers"),
        "time_to_first_token_ms": done.get("time_to_first_token_ms"),
        "tokens_per_s": done.get("tokens_per_s"),
        "prompt_tokens": done.get("prompt_tokens"),
        "generated_tokens": done.get("generated_tokens"),
        "cached_prompt_tokens": done.get("cached_prompt_tokens"),
        "finish_reason": done.get("finish_reason"),
        # How many of the oldest messages the model did not see (the context was full).
        "dropped_messages": done.get("dropped_messages"),
    }


class ReplyWriter:
    """Follows one reply's events and keeps the database up to date with it.

    Attributes:
        message_id: the reply's message (created 'streaming' by `ChatStore.begin_reply`).
        text: the reply's showable text so far (when continuing a reply, the text it was
            begun with, then the continuation).
        records: the per-token records received (stage candidates, timings).
        checkpoints: how many checkpoints were written.
    """

    def __init__(self, store: ChatStore, message_id: str, text: str = "") -> None:
        """Write to `message_id` in `store` (a reply that `begin_reply` created).

        `text` is the content the reply was begun with (`begin_reply(content=...)`): the
        events carry only what follows it, and checkpoints and the final text start with it.
        """
        self._store = store
        self.message_id = message_id
        self.text = text
        self.records: list[dict[str, Any]] = []
        self.checkpoints = 0
        # begin_reply stored `text` already: the first checkpoint is due once it grows.
        self._saved_len = len(text)
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()

    def token(self, event: dict[str, Any]) -> None:
        """One `token` event: extend the text, keep the record, checkpoint when due."""
        self.text += event.get("text", "")
        if "stages" in event:
            self.records.append({k: v for k, v in event.items() if k not in _TRANSPORT_KEYS})
        self._since_checkpoint += 1
        now = time.monotonic()
        if (self._since_checkpoint >= CHECKPOINT_TOKENS
                or now - self._last_checkpoint >= CHECKPOINT_SECONDS):
            self.checkpoint(now)

    def checkpoint(self, now: float | None = None) -> None:
        """Save the text so far (if it grew)."""
        if len(self.text) != self._saved_len:
            self._store.checkpoint_reply(self.message_id, self.text)
            self._saved_len = len(self.text)
            self.checkpoints += 1
        self._since_checkpoint = 0
        self._last_checkpoint = now if now is not None else time.monotonic()

    def done(self, event: dict[str, Any]) -> Message:
        """The `done` event: final text, status, provenance and records, in one transaction."""
        self.text += event.get("tail", "")
        status = "cancelled" if event.get("finish_reason") == "cancelled" else "complete"
        return self._store.finish_reply(
            self.message_id, self.text, status=status, provenance=provenance_from_done(event),
            records=self.records or None,
        )

    def failed(self, message: str, *, cancelled: bool = False) -> Message:
        """The reply ended without `done` (an error, or the user stopped the program)."""
        return self._store.finish_reply(
            self.message_id, self.text, status="cancelled" if cancelled else "error",
            provenance=None, records=self.records or None,
            error=None if cancelled else message,
        )
