"""Export and import of conversations.

- Markdown: readable, the active branch only, a footer per reply saying how it was made.
- chatapp JSON: lossless — every branch, statuses, provenance, settings, per-token records;
  importing it and exporting again gives the same document.
- llama.cpp web UI JSON (its "Export" button): `{conv, messages}` or a list of them, a tree
  hung below a `root` node, the selected leaf in `conv.currNode`.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from chatapp.storage.entities import Conversation, Message
from chatapp.storage.repository import ChatStore

FORMAT = "chatapp.conversation"
VERSION = 1
_ROLES = ("system", "user", "assistant")


class ImportFormatError(ValueError):
    """The document is not a conversation we can import; str() says what is wrong."""


# -- export -------------------------------------------------------------------------------------


def to_markdown(store: ChatStore, conversation_id: str) -> str:
    """The active branch as Markdown."""
    conv = store.get_conversation(conversation_id)
    lines = [f"# {conv.title or 'Untitled conversation'}", ""]
    created = datetime.datetime.fromtimestamp(conv.created_at).strftime("%Y-%m-%d %H:%M")
    lines += [f"*{created}" + (f" · {conv.model}" if conv.model else "") + "*", ""]
    if conv.system_prompt:
        lines += ["**System:** " + conv.system_prompt, ""]
    names = {"user": "You", "assistant": "Assistant", "system": "System"}
    for m in store.active_path(conversation_id):
        status = "" if m.status == "complete" else f" ({m.status})"
        lines += [f"### {names[m.role]}{status}", "", m.content, ""]
        if m.role == "assistant" and m.provenance:
            lines += [_footer(m.provenance), ""]
    return "\n".join(lines).rstrip() + "\n"


def _footer(p: dict[str, Any]) -> str:
    parts = [
        str(p["model_file"]) if p.get("model_file") else None,
        f"seed {p['seed']}" if p.get("seed") is not None else None,
        f"{p['generated_tokens']} tokens" if p.get("generated_tokens") is not None else None,
        f"{p['tokens_per_s']} tok/s" if p.get("tokens_per_s") else None,
        f"first token {p['time_to_first_token_ms']:.0f} ms"
        if isinstance(p.get("time_to_first_token_ms"), int | float) else None,
    ]
    return "<sub>" + " · ".join(x for x in parts if x) + "</sub>"


def to_json(store: ChatStore, conversation_id: str) -> dict[str, Any]:
    """Everything about one conversation, as a JSON-ready document."""
    conv = store.get_conversation(conversation_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        "conversation": _conversation_fields(conv),
        "messages": [
            _message_fields(m) | {"records": store.token_records(m.id)}
            for m in store.tree(conversation_id)
        ],
    }


def _conversation_fields(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id, "title": c.title, "title_is_auto": c.title_is_auto,
        "created_at": c.created_at, "updated_at": c.updated_at, "model": c.model,
        "system_prompt": c.system_prompt, "sampling": c.sampling, "folder": c.folder,
        "pinned": c.pinned, "active_root_id": c.active_root_id,
    }


def _message_fields(m: Message) -> dict[str, Any]:
    return {
        "id": m.id, "parent_id": m.parent_id, "role": m.role, "content": m.content,
        "created_at": m.created_at, "updated_at": m.updated_at, "status": m.status,
        "active_child_id": m.active_child_id, "provenance": m.provenance, "error": m.error,
    }


# -- import -------------------------------------------------------------------------------------


def import_any(store: ChatStore, data: Any) -> list[Conversation]:
    """Import a chatapp document, a llama.cpp web UI export, or a list of either."""
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ImportFormatError("the file holds no conversation")
    docs = [_normalise(item) for item in items]  # validate everything before writing anything
    try:
        with store.transaction():  # several conversations: all of them or none
            return [store.import_tree(conv, messages) for conv, messages in docs]
    except ImportFormatError:
        raise
    except ValueError as exc:  # the store's own validation (not a tree, bad field)
        raise ImportFormatError(str(exc)) from None


def _normalise(item: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if isinstance(item, dict) and item.get("format") == FORMAT:
        if item.get("version") != VERSION:
            raise ImportFormatError(
                f"chatapp conversation format version {item.get('version')!r} is not supported"
            )
        return _from_chatapp(item)
    if isinstance(item, dict) and isinstance(item.get("conv"), dict) \
            and isinstance(item.get("messages"), list):
        return _from_llama_webui(item)
    raise ImportFormatError(
        "not a chatapp conversation or a llama.cpp web UI export "
        "(expected 'format': 'chatapp.conversation', or 'conv' and 'messages')"
    )


def _from_chatapp(doc: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    conv = doc.get("conversation")
    messages = doc.get("messages")
    if not isinstance(conv, dict) or not isinstance(messages, list):
        raise ImportFormatError("'conversation' must be an object and 'messages' a list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES \
                or not isinstance(m.get("content"), str) or not isinstance(m.get("id"), str):
            raise ImportFormatError(f"message #{i} needs an id, a role and text content")
    return conv, messages


def _from_llama_webui(doc: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    conv, raw = doc["conv"], doc["messages"]
    by_id: dict[str, dict[str, Any]] = {}
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            raise ImportFormatError(f"message #{i} has no id")
        by_id[m["id"]] = m
    # The web UI hangs every conversation below a content-less "root" node: skip it, and its
    # children become our roots.
    skipped = {mid for mid, m in by_id.items() if m.get("type") == "root"}
    kept = [m for m in raw if m["id"] not in skipped]
    # Its ids are only unique within one browser; ours are global.
    new_ids = {m["id"]: uuid.uuid4().hex for m in kept}
    selected = _selected_path(by_id, conv.get("currNode"))
    messages: list[dict[str, Any]] = []
    for m in kept:
        role = m.get("role")
        if role not in _ROLES or not isinstance(m.get("content", ""), str):
            raise ImportFormatError(f"message {m['id']!r} has role {role!r}; "
                                    "only system, user and assistant can be imported")
        children = [c for c in m.get("children") or [] if c in new_ids]
        active = next((c for c in children if c in selected), children[-1] if children else None)
        ts = _seconds(m.get("timestamp"))
        provenance: dict[str, Any] | None = None
        if role == "assistant":
            provenance = {"imported_from": "llama.cpp web UI", "model_file": m.get("model"),
                          "timings": m.get("timings")}
            if m.get("thinking"):
                provenance["thinking"] = m["thinking"]
        parent = m.get("parent")
        messages.append({
            "id": new_ids[m["id"]],
            "parent_id": new_ids.get(parent) if isinstance(parent, str) else None,
            "role": role, "content": m.get("content", ""), "created_at": ts, "updated_at": ts,
            "status": "complete", "active_child_id": new_ids.get(active) if active else None,
            "provenance": provenance, "error": None, "records": None,
        })
    roots = [m for m in messages if m["parent_id"] is None]
    old_of = {new: old for old, new in new_ids.items()}
    active_root = next((m["id"] for m in roots if old_of[m["id"]] in selected),
                       roots[-1]["id"] if roots else None)
    modified = _seconds(conv.get("lastModified"))
    created = min((m["created_at"] for m in messages), default=modified)
    return {
        "id": uuid.uuid4().hex, "title": str(conv.get("name") or ""), "title_is_auto": False,
        "created_at": created, "updated_at": modified, "model": None, "system_prompt": "",
        "sampling": None, "folder": None, "pinned": False, "active_root_id": active_root,
    }, messages


def _selected_path(by_id: dict[str, dict[str, Any]], leaf: Any) -> set[str]:
    """Ids from the web UI's current node up to its root (bounded: a cycle cannot hang us)."""
    path: set[str] = set()
    node = by_id.get(leaf) if isinstance(leaf, str) else None
    while node is not None and node["id"] not in path:
        path.add(node["id"])
        parent = node.get("parent")
        node = by_id.get(parent) if isinstance(parent, str) else None
    return path


def _seconds(value: Any) -> float:
    """The web UI's milliseconds (or anything unusable: now) as unix seconds."""
    if isinstance(value, int | float) and value > 0:
        return float(value) / 1000.0
    return datetime.datetime.now().timestamp()
