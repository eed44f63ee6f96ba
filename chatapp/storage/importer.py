"""Writing a whole conversation tree at once (import of an exported conversation).

The caller holds a transaction, so a document that fails half-way writes nothing.
"""

from __future__ import annotations

import math
import sqlite3
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from chatapp.storage import records as record_codec
from chatapp.storage.entities import ROLES, STATUSES
from chatapp.storage.rows import json_object
from chatapp.storage.titles import storable


def insert_tree(
    conn: sqlite3.Connection,
    conversation: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
    *,
    default_sampling: dict[str, Any],
) -> str:
    """Insert a conversation and all its messages; returns the conversation's id.

    Ids are kept when they are free; if the conversation or any message id is taken (the same
    file imported twice), the whole conversation gets new ids and its links follow.  A reply
    that was still 'streaming' comes in as 'interrupted'.  Raises ValueError for a document
    that is not a tree (unknown parent, duplicate id, cycle) or has a bad field.
    """
    by_id = _validated(messages)
    order = _parents_first(by_id)
    conversation_id = conversation.get("id")
    if not isinstance(conversation_id, str) or not conversation_id or _taken(
            conn, conversation_id, list(by_id)):
        new_ids = {old: uuid.uuid4().hex for old in by_id}
        conversation_id = uuid.uuid4().hex
    else:
        new_ids = {old: old for old in by_id}

    now = time.time()
    roots = [m for m in by_id if by_id[m].get("parent_id") is None]
    root = conversation.get("active_root_id")
    sampling = conversation.get("sampling")
    conn.execute(
        "INSERT INTO conversations (id, title, title_is_auto, created_at, updated_at, model, "
        "system_prompt, sampling, folder, pinned, deleted_at, active_root_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
        (conversation_id, storable(str(conversation.get("title") or "")),
         int(bool(conversation.get("title_is_auto", False))),
         _seconds(conversation.get("created_at"), now), _seconds(conversation.get("updated_at"),
                                                                 now),
         _optional_text(conversation.get("model")),
         storable(str(conversation.get("system_prompt") or "")),
         json_object(sampling if isinstance(sampling, dict) else default_sampling, "sampling"),
         _optional_text(conversation.get("folder")), int(bool(conversation.get("pinned"))),
         new_ids[root] if root in roots else None))

    children: dict[str, list[str]] = {}
    for mid in order:
        parent = by_id[mid].get("parent_id")
        if parent is not None:
            children.setdefault(parent, []).append(mid)
    for mid in order:
        m = by_id[mid]
        parent = m.get("parent_id")
        active = m.get("active_child_id")
        status = "interrupted" if m.get("status", "complete") == "streaming" else m.get(
            "status", "complete")
        provenance = m.get("provenance")
        error = m.get("error")
        conn.execute(
            "INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at, "
            "updated_at, status, active_child_id, provenance, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (new_ids[mid], conversation_id, None if parent is None else new_ids[parent],
             m["role"], storable(m["content"]), _seconds(m.get("created_at"), now),
             _seconds(m.get("updated_at"), now), status,
             new_ids[active] if isinstance(active, str) and active in children.get(mid, ())
             else None,
             None if provenance is None else json_object(provenance, "provenance"),
             None if error is None else storable(str(error))))
        recs = m.get("records")
        if recs is not None:
            conn.execute("INSERT INTO token_records (message_id, n_tokens, data) VALUES (?, ?, ?)",
                         (new_ids[mid], len(recs), record_codec.encode(list(recs))))
    return conversation_id


def _validated(messages: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    by_id: dict[str, Mapping[str, Any]] = {}
    for n, m in enumerate(messages):
        mid = m.get("id")
        if not isinstance(mid, str) or not mid:
            raise ValueError(f"message #{n} has no id")
        if mid in by_id:
            raise ValueError(f"message id {mid!r} appears twice")
        if m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise ValueError(f"message {mid!r} needs a role ({', '.join(sorted(ROLES))}) "
                             "and text content")
        if m.get("status", "complete") not in STATUSES:
            raise ValueError(f"message {mid!r} has an unknown status {m.get('status')!r}")
        recs = m.get("records")
        if recs is not None and not isinstance(recs, list):
            raise ValueError(f"message {mid!r}: records must be a list")
        by_id[mid] = m
    for mid, m in by_id.items():
        parent = m.get("parent_id")
        if parent is not None and parent not in by_id:
            raise ValueError(f"message {mid!r} answers {parent!r}, which is not in the file")
    return by_id


def _parents_first(by_id: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Message ids ordered so that every parent comes before its children (the foreign key
    is checked row by row), keeping the document's order among siblings."""
    children: dict[str | None, list[str]] = {}
    for mid, m in by_id.items():
        children.setdefault(m.get("parent_id"), []).append(mid)
    order: list[str] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        mid = stack.pop()
        order.append(mid)
        stack.extend(reversed(children.get(mid, [])))
    if len(order) != len(by_id):
        raise ValueError("the messages' parent links form a cycle")
    return order


def _taken(conn: sqlite3.Connection, conversation_id: str, message_ids: list[str]) -> bool:
    if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone():
        return True
    for start in range(0, len(message_ids), 500):  # stay under SQLite's variable limit
        chunk = message_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        if conn.execute(f"SELECT 1 FROM messages WHERE id IN ({marks}) LIMIT 1",
                        chunk).fetchone():
            return True
    return False


def _seconds(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return default


def _optional_text(value: Any) -> str | None:
    return None if value is None else storable(str(value))
