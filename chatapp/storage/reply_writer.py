"""Saving a reply while it streams: checkpoints, then the final text, provenance and records.

Used by every front end (command line, GUI) so that a reply is saved the same way everywhere:
the text is checkpointed at least every 250 ms or 64 tokens, so a crash loses at most that much.

The per-token records are stored as the model process encoded them: its `done` event carries
the reply's records blob (see chatapp.engine.protocol), which is checked and stored as it is.
The writer keeps no record as Python containers: a long reply's records are about 300 of them
a token, and every full garbage collection walks all that are alive while it holds the GIL,
stalling every thread of the app, the GUI's included.  It keeps each token's record pickled
instead (one bytes object, which the collector does not track), only for a reply that ends
without a blob: a crash or a stop before `done`, or a model process that sends none.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import pickle
import time
from collections.abc import Iterator
from typing import Any

from chatapp.storage import records as record_codec
from chatapp.storage.entities import Message
from chatapp.storage.repository import ChatStore

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 0.25
CHECKPOINT_TOKENS = 64

#: Token-event keys that are transport, not record.
_TRANSPORT_KEYS = frozenset({"type", "id"})


def provenance_from_done(done: dict[str, Any]) -> dict[str, Any]:
    """How a reply was made, from the `done` event of the model process or of a server
    (chatapp.engine.remote: "endpoint" and "remote_model" say where; None for a local model)."""
    path = str(done.get("model_path") or "")
    endpoint = done.get("endpoint") or None
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
        "endpoint": endpoint,
        "remote_model": done.get("model_name") if endpoint else None,
    }


class ReplyWriter:
    """Follows one reply's events and keeps the database up to date with it.

    Attributes:
        message_id: the reply's message (created 'streaming' by `ChatStore.begin_reply`).
        text: the reply's showable text so far (when continuing a reply, the text it was
            begun with, then the continuation).
        checkpoints: how many checkpoints were written.
        records_source: where the stored records came from once the reply ended: "blob"
            (the model process's), "kept" (the writer's own copies: no usable blob), or None
            (no records).
    """

    def __init__(self, store: ChatStore, message_id: str, text: str = "") -> None:
        """Write to `message_id` in `store` (a reply that `begin_reply` created).

        `text` is the content the reply was begun with (`begin_reply(content=...)`): the
        events carry only what follows it, and checkpoints and the final text start with it.
        """
        self._store = store
        self.message_id = message_id
        self.text = text
        self.checkpoints = 0
        self.records_source: str | None = None
        # Each token's record, pickled: the fallback for a reply that ends without a blob.
        # (In-process only: these bytes never leave this object, so unpickling them is safe.)
        self._kept: list[bytes] = []
        # begin_reply stored `text` already: the first checkpoint is due once it grows.
        self._saved_len = len(text)
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()

    def token(self, event: dict[str, Any]) -> None:
        """One `token` event: extend the text, keep the record (pickled), checkpoint when due."""
        self.text += event.get("text", "")
        if "stages" in event:
            self._kept.append(pickle.dumps(
                {k: v for k, v in event.items() if k not in _TRANSPORT_KEYS},
                pickle.HIGHEST_PROTOCOL))
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
        """The `done` event: final text, status, provenance and records, in one transaction.

        The records are the event's ``records_blob`` when it has a readable one (checked, not
        decoded); otherwise the ones this writer kept, encoded now.  A damaged blob is never
        stored."""
        self.text += event.get("tail", "")
        status = "cancelled" if event.get("finish_reason") == "cancelled" else "complete"
        provenance = provenance_from_done(event)
        blob = _blob_of(event)
        if blob is not None:
            try:
                message = self._store.finish_reply(
                    self.message_id, self.text, status=status, provenance=provenance,
                    records_blob=blob)
            except record_codec.RecordsError as exc:
                # Damaged on the way: never stored; the records kept here are, instead.
                log.warning("the records blob of reply %s was refused (%s): storing the "
                            "records of its token events", self.message_id, exc)
            else:
                self.records_source = "blob"
                self._kept = []
                return message
        return self._finish_with_kept(status, provenance, None)

    def failed(self, message: str, *, cancelled: bool = False) -> Message:
        """The reply ended without `done` (an error, or the user stopped the program)."""
        return self._finish_with_kept("cancelled" if cancelled else "error", None,
                                      None if cancelled else message)

    def _finish_with_kept(self, status: str, provenance: dict[str, Any] | None,
                          error: str | None) -> Message:
        """Finish with the records this writer kept (encoded one record at a time, so that
        they never all live as Python containers at once)."""
        blob = record_codec.encode(self._unpickled()) if self._kept else None
        finished = self._store.finish_reply(self.message_id, self.text, status=status,
                                            provenance=provenance, records_blob=blob,
                                            error=error)
        self.records_source = "kept" if blob is not None else None
        self._kept = []
        return finished

    def _unpickled(self) -> Iterator[dict[str, Any]]:
        for data in self._kept:
            record: dict[str, Any] = pickle.loads(data)  # our own bytes (see __init__)
            yield record


def _blob_of(event: dict[str, Any]) -> bytes | None:
    """The records blob of a `done` event (base64 in the JSON), None when it has none or it
    is not base64 (the empty blob: `finish_reply` refuses it)."""
    text = event.get("records_blob")
    if text is None:
        return None
    if not isinstance(text, str):
        log.warning("a records blob that is not a string was ignored")
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        log.warning("a records blob that is not base64 was ignored (%s)", exc)
        return None
