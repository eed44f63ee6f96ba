"""Turning database rows into the store's values, and values into JSON columns."""

from __future__ import annotations

import json
from typing import Any

from chatapp.storage.entities import Conversation, Message

CONVERSATION_COLUMNS = ("id, title, title_is_auto, created_at, updated_at, model, system_prompt, "
                        "sampling, folder, pinned, deleted_at, active_root_id")
MESSAGE_COLUMNS = ("id, conversation_id, parent_id, role, content, created_at, updated_at, "
                   "status, active_child_id, provenance, error")


def conversation(row: tuple[Any, ...]) -> Conversation:
    """A Conversation from a row of CONVERSATION_COLUMNS."""
    (cid, title, auto, created, updated, model, system_prompt, sampling, folder, pinned,
     deleted, root) = row
    return Conversation(cid, title, bool(auto), created, updated, model, system_prompt,
                        json.loads(sampling), folder, bool(pinned), deleted, root)


def message(row: tuple[Any, ...]) -> Message:
    """A Message from a row of MESSAGE_COLUMNS."""
    (mid, cid, parent, role, content, created, updated, status, child, provenance,
     error) = row
    return Message(mid, cid, parent, role, content, created, updated, status, child,
                   None if provenance is None else json.loads(provenance), error)


def json_text(value: Any, what: str) -> str:
    """`value` as JSON text, or ValueError naming `what` if it cannot be."""
    try:
        # ensure_ascii: lone surrogates are escaped rather than failing the write; NaN is
        # refused because it is not JSON (and SQLite's JSON functions reject it).
        return json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable: {exc}") from None


def json_object(value: dict[str, Any], what: str) -> str:
    """A dict with str keys as JSON text (int keys would come back as str: refused)."""
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{what} must be a dict with str keys")
    return json_text(value, what)
