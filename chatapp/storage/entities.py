"""The plain values the store returns (no sqlite rows escape it), and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
Status = Literal["complete", "streaming", "interrupted", "cancelled", "error"]

ROLES: frozenset[str] = frozenset({"system", "user", "assistant"})
STATUSES: frozenset[str] = frozenset({"complete", "streaming", "interrupted", "cancelled", "error"})
#: Statuses a reply can end with (`finish_reply`).
FINAL_STATUSES: frozenset[str] = STATUSES - {"streaming"}


class StorageError(Exception):
    """Base of the store's errors."""


class NotFoundError(StorageError, LookupError):
    """No conversation, message or preset with that id or name."""


class ReadOnlyError(StorageError):
    """A write to a database that is open read-only (written by a newer chatapp)."""


class ConflictError(StorageError):
    """A write that contradicts the data (finishing a reply that is not streaming, renaming a
    preset onto an existing name, deleting a built-in preset)."""


@dataclass(frozen=True)
class Conversation:
    """One conversation.

    Attributes:
        id: uuid4 hex.
        title: shown in the sidebar; '' until the first user message gives one.
        title_is_auto: True while the title follows the first user message (until a rename).
        created_at: unix seconds.
        updated_at: unix seconds of the last message written.
        model: model file name, or None.
        system_prompt: the system prompt ('' for none).
        sampling: sampling settings of this conversation (a JSON object).
        folder: folder name, or None.
        pinned: listed first when True.
        deleted_at: unix seconds it went to the trash, or None.
        active_root_id: first message of the selected branch, or None.
    """

    id: str
    title: str
    title_is_auto: bool
    created_at: float
    updated_at: float
    model: str | None
    system_prompt: str
    sampling: dict[str, Any]
    folder: str | None
    pinned: bool
    deleted_at: float | None
    active_root_id: str | None


@dataclass(frozen=True)
class Message:
    """One message: a node of the conversation's tree.

    Attributes:
        id: uuid4 hex.
        conversation_id: the conversation.
        parent_id: the message it answers or follows; None for a root.
        role: 'system', 'user' or 'assistant'.
        content: the text (the last checkpoint while streaming).
        created_at: unix seconds.
        updated_at: unix seconds of the last write (checkpoints included).
        status: 'complete', 'streaming', 'interrupted', 'cancelled' or 'error'.
        active_child_id: the child on the selected branch below this message, or None.
        provenance: how a reply was made (model, versions, settings, timings), or None.
        error: what went wrong when status is 'error'.
    """

    id: str
    conversation_id: str
    parent_id: str | None
    role: Role
    content: str
    created_at: float
    updated_at: float
    status: Status
    active_child_id: str | None
    provenance: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True)
class Branch:
    """Where a message stands among its siblings, for a "‹ 2/3 ›" switch.

    Attributes:
        index: 0-based position among the siblings (oldest first).
        count: how many siblings there are, itself included.
    """

    index: int
    count: int


@dataclass(frozen=True)
class SearchHit:
    """One message found by `ChatStore.search`.

    Attributes:
        conversation_id: the conversation.
        conversation_title: its title.
        message_id: the message.
        role: its role.
        snippet: a short excerpt with each match between « and ».
        rank: bm25 score (lower is better).
        created_at: when the message was written.
    """

    conversation_id: str
    conversation_title: str
    message_id: str
    role: Role
    snippet: str
    rank: float
    created_at: float


@dataclass(frozen=True)
class Preset:
    """A named set of sampling settings.

    Attributes:
        name: unique name.
        sampling: the settings (a JSON object).
        builtin: True for the presets that ship with chatapp (they cannot be changed).
    """

    name: str
    sampling: dict[str, Any]
    builtin: bool


@dataclass(frozen=True)
class DeletedRow:
    """One message exactly as it was stored when `ChatStore.delete_message` removed it.

    The columns of `messages`, unconverted (provenance stays the JSON text it was stored as,
    so a restore writes back the very same bytes), and its row of `token_records`, if any.

    Attributes:
        seq: its place in the order messages were written; a restore puts it back there when
            that place is still free (so sibling order and "2/3" switches come back as they
            were), else after every message, keeping the relative order of the restored ones.
        id: the message id.
        conversation_id: the conversation.
        parent_id: the parent, None for a root.
        role: 'system', 'user' or 'assistant'.
        content: the text.
        created_at: unix seconds.
        updated_at: unix seconds.
        status: the status.
        active_child_id: the selected child below it, or None.
        provenance: the provenance as stored (JSON text), or None.
        error: the error text, or None.
        n_tokens: token_records.n_tokens, or None when it had no records.
        records: token_records.data (the encoded blob), or None when it had no records.
    """

    seq: int
    id: str
    conversation_id: str
    parent_id: str | None
    role: Role
    content: str
    created_at: float
    updated_at: float
    status: Status
    active_child_id: str | None
    provenance: str | None
    error: str | None
    n_tokens: int | None
    records: bytes | None


@dataclass(frozen=True)
class DeletedMessages:
    """What `ChatStore.delete_message` removed: enough for `ChatStore.restore_messages` to put
    it back exactly (the undo of a delete).

    Attributes:
        conversation_id: the conversation the messages belonged to.
        message_id: the message that was deleted; the other rows were below it.
        parent_id: its parent, None when it was a root.
        rows: every message removed, parents before their children (in the order they were
            written), the deleted message first.
        selected_before: what was selected in its place before the delete: the parent's
            active_child_id, or for a root the conversation's active_root_id (None if
            nothing was).
    """

    conversation_id: str
    message_id: str
    parent_id: str | None
    rows: tuple[DeletedRow, ...]
    selected_before: str | None
