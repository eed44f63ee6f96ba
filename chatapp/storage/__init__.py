"""Chat history: SQLite storage of conversations, messages, presets and settings (no Qt).

`ChatStore` is the entry point; see chatapp.storage.repository.
"""

from chatapp.storage.database import OpenResult, open_database
from chatapp.storage.entities import (
    Branch,
    ConflictError,
    Conversation,
    DeletedMessages,
    DeletedRow,
    Message,
    NotFoundError,
    Preset,
    ReadOnlyError,
    SearchHit,
    StorageError,
)
from chatapp.storage.repository import END_OF_ACTIVE_PATH, ChatStore
from chatapp.storage.schema import SCHEMA_VERSION

__all__ = [
    "END_OF_ACTIVE_PATH",
    "SCHEMA_VERSION",
    "Branch",
    "ChatStore",
    "ConflictError",
    "Conversation",
    "DeletedMessages",
    "DeletedRow",
    "Message",
    "NotFoundError",
    "OpenResult",
    "Preset",
    "ReadOnlyError",
    "SearchHit",
    "StorageError",
    "open_database",
]
