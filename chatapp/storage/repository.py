"""ChatStore: every read and write of conversations, messages, presets and settings.

The store is the single writer of the database (see notes/reliability.md: SQLite here has a
WAL bug when two connections write, and one app instance owns the file).  It holds one
connection and is not thread-safe: use it from one thread at a time — the GUI keeps it on a
one-worker executor.

Nothing is overwritten.  Editing a message or regenerating a reply adds a sibling (same parent)
and selects it; the only UPDATEs of content are the checkpoints of a streaming reply and its
final text.  Deleting a message removes it with everything below it, and hands back the rows
so that `restore_messages` can undo it exactly.  A multi-row write runs in one transaction;
outside an enclosing `transaction()`, every method has committed when it returns.
"""

from __future__ import annotations

import enum
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import sqlite_utils

from chatapp import paths
from chatapp.storage import backups, rows, search
from chatapp.storage import records as record_codec
from chatapp.storage.backups import Check
from chatapp.storage.database import OpenResult, open_database
from chatapp.storage.entities import (
    FINAL_STATUSES,
    ROLES,
    Branch,
    ConflictError,
    Conversation,
    DeletedMessages,
    DeletedRow,
    Message,
    NotFoundError,
    Preset,
    ReadOnlyError,
    Role,
    SearchHit,
)
from chatapp.storage.importer import insert_tree
from chatapp.storage.owner_lock import OwnerLock
from chatapp.storage.schema import BUILTIN_PRESETS
from chatapp.storage.titles import auto_title, storable
from chatapp.storage.tree import Node, walk_active

#: Setting that holds the sampling of new conversations.
DEFAULT_SAMPLING_KEY = "defaults.sampling"

_CONVERSATION_COLUMNS = rows.CONVERSATION_COLUMNS
_MESSAGE_COLUMNS = rows.MESSAGE_COLUMNS


class _Missing(enum.Enum):
    MISSING = enum.auto()


#: Default of `add_message(parent_id=...)`: the end of the active path.
END_OF_ACTIVE_PATH = _Missing.MISSING


class ChatStore:
    """The chat database of one process (see the module docstring).

    Attributes:
        open_result: what opening did (recovery, migration, backup).
        path: the database file in use (differs from the one asked for after a recovery).
        read_only: True when the file was written by a newer chatapp; writes raise ReadOnlyError.
        notice: what to tell the user about the open, or None.
        interrupted: replies found still streaming at open, now marked 'interrupted'.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        backups_dir: Path | None = None,
        keep_backups: int = 5,
        check: Check = "quick",
        backup_check: Check = "integrity",
    ) -> None:
        """Open `db_path` (see `open_database` for the checks) and mark replies cut off by a
        crash."""
        self.backups_dir = backups_dir if backups_dir is not None else db_path.parent / "backups"
        self.keep_backups = keep_backups
        self._backup_check: Check = backup_check
        # One owner per database (before anything reads or repairs it): DatabaseInUseError.
        self._lock = OwnerLock(db_path)
        try:
            self.open_result: OpenResult = open_database(
                db_path, backups_dir=self.backups_dir, keep_backups=keep_backups, check=check,
                backup_check=backup_check)
        except BaseException:
            self._lock.release()
            raise
        self.path = self.open_result.path
        self.read_only = self.open_result.read_only
        self.notice = self.open_result.notice
        self._conn = self.open_result.connection
        self._closed = False
        try:
            # No plugins: nothing outside chatapp may hook this connection.
            self._db = sqlite_utils.Database(self._conn, execute_plugins=False)
            self.interrupted = 0 if self.read_only else self.mark_interrupted()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open_default(cls) -> ChatStore:
        """The store in the data folder: chats.db and backups/."""
        folder = paths.data_dir()
        return cls(folder / "chats.db", backups_dir=folder / "backups")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self.read_only:
                # Keeps the query planner's statistics fresh; cheap when nothing changed.
                self._conn.execute("PRAGMA optimize")
        finally:
            self._conn.close()
            self._lock.release()

    def __enter__(self) -> ChatStore:
        """The store itself; closed at the end of the block."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Close."""
        self.close()

    # -- transactions and durability ---------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction: everything inside is committed together, or nothing if it raises.

        Nested use (the store's own methods inside) becomes a savepoint of the outer one.
        """
        with self._db.atomic():
            yield

    def backup_now(self) -> Path:
        """Make a verified backup now (see chatapp.storage.backups); returns its path."""
        return backups.make_backup(self._conn, self.backups_dir, keep=self.keep_backups,
                                   check=self._backup_check)

    # -- conversations -----------------------------------------------------------------------

    def create_conversation(
        self,
        *,
        model: str | None = None,
        system_prompt: str = "",
        sampling: dict[str, Any] | None = None,
        folder: str | None = None,
    ) -> Conversation:
        """A new, empty conversation.  Sampling defaults to the "defaults.sampling" setting,
        else the Balanced preset."""
        self._writable()
        if sampling is None:
            default = self.get_setting(DEFAULT_SAMPLING_KEY)
            sampling = default if isinstance(default, dict) else BUILTIN_PRESETS["Balanced"]
        now = time.time()
        conversation_id = uuid.uuid4().hex
        self._db.table("conversations").insert({
            "id": conversation_id, "title": "", "title_is_auto": 1, "created_at": now,
            "updated_at": now, "model": model, "system_prompt": storable(system_prompt),
            "sampling": rows.json_object(sampling, "sampling"), "folder": folder, "pinned": 0,
            "deleted_at": None, "active_root_id": None,
        })
        return self.get_conversation(conversation_id)

    def get_conversation(self, conversation_id: str) -> Conversation:
        """The conversation with this id (in the trash or not)."""
        row = self._conn.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
            (conversation_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no conversation {conversation_id!r}")
        return rows.conversation(row)

    def list_conversations(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        folder: str | None = None,
        include_deleted: bool = False,
    ) -> list[Conversation]:
        """Conversations, pinned first, then the most recently written first.

        `folder` None lists every folder.
        """
        where: list[str] = []
        params: list[Any] = []
        if not include_deleted:
            where.append("deleted_at IS NULL")  # written as in the partial index, to use it
        if folder is not None:
            where.append("folder = ?")
            params.append(folder)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        found = self._conn.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations {clause} "
            "ORDER BY pinned DESC, updated_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset)).fetchall()
        return [rows.conversation(r) for r in found]

    def rename(self, conversation_id: str, title: str) -> None:
        """Give the conversation a title of the user's; it no longer follows the first
        message."""
        title = storable(title).strip()
        if not title:
            raise ValueError("a title cannot be empty")
        self._update_conversation(conversation_id, title=title, title_is_auto=0)

    def set_folder(self, conversation_id: str, folder: str | None) -> None:
        """Move the conversation to a folder (None: no folder)."""
        self._update_conversation(conversation_id,
                                  folder=None if folder is None else storable(folder))

    def set_pinned(self, conversation_id: str, pinned: bool) -> None:
        """Pin or unpin the conversation."""
        self._update_conversation(conversation_id, pinned=int(bool(pinned)))

    def set_system_prompt(self, conversation_id: str, system_prompt: str) -> None:
        """Change the conversation's system prompt."""
        self._update_conversation(conversation_id, system_prompt=storable(system_prompt))

    def set_sampling(self, conversation_id: str, sampling: dict[str, Any]) -> None:
        """Change the conversation's sampling settings (they stick to it)."""
        self._update_conversation(conversation_id,
                                  sampling=rows.json_object(sampling, "sampling"))

    def set_model(self, conversation_id: str, model: str | None) -> None:
        """Change the conversation's model file name."""
        self._update_conversation(conversation_id, model=model)

    def delete(self, conversation_id: str) -> None:
        """Move the conversation to the trash (recoverable with `restore`)."""
        self._writable()
        with self.transaction():
            self.get_conversation(conversation_id)
            self._conn.execute(
                "UPDATE conversations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                (time.time(), conversation_id))

    def restore(self, conversation_id: str) -> None:
        """Take the conversation out of the trash."""
        self._update_conversation(conversation_id, deleted_at=None)

    def trash(self) -> list[Conversation]:
        """Conversations in the trash, most recently deleted first."""
        found = self._conn.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE deleted_at IS NOT NULL "
            "ORDER BY deleted_at DESC").fetchall()
        return [rows.conversation(r) for r in found]

    def empty_trash(self) -> int:
        """Delete the conversations in the trash for good, with their messages and records.

        Returns how many conversations went.
        """
        self._writable()
        with self.transaction():
            cursor = self._conn.execute("DELETE FROM conversations WHERE deleted_at IS NOT NULL")
        return cursor.rowcount

    # -- messages ----------------------------------------------------------------------------

    def add_message(
        self,
        conversation_id: str,
        role: Role,
        content: str,
        *,
        parent_id: str | Literal[_Missing.MISSING] | None = END_OF_ACTIVE_PATH,
    ) -> Message:
        """Add a complete message below `parent_id` (default: the end of the active path;
        None: a new root) and select it.  Committed when it returns."""
        self._writable()
        if role not in ROLES:
            raise ValueError(f"role must be one of {sorted(ROLES)}, not {role!r}")
        with self.transaction():
            self.get_conversation(conversation_id)
            on_path = parent_id is END_OF_ACTIVE_PATH
            if parent_id is END_OF_ACTIVE_PATH:
                path = self._active_nodes(conversation_id)
                parent_id = path[-1].id if path else None
            message = self._insert_message(conversation_id, parent_id, role, content,
                                           status="complete", provenance=None,
                                           parent_is_active_leaf=on_path)
            self._maybe_auto_title(message)
        return message

    def message(self, message_id: str) -> Message:
        """The message with this id."""
        row = self._conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?",
                                 (message_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no message {message_id!r}")
        return rows.message(row)

    def active_path(self, conversation_id: str) -> list[Message]:
        """The selected branch, root to leaf (empty for a new conversation)."""
        root, found = self._tree_rows(conversation_id, full=True)
        by_id = {r[0]: r for r in found}
        path = walk_active(root, [_node(r) for r in found])
        return [rows.message(by_id[n.id]) for n in path]

    def active_path_tail(self, conversation_id: str,
                         limit: int) -> tuple[list[Message], int]:
        """The last `limit` messages of the active path, and how many come before them.

        For a long conversation the window shows the end first: the path is found from the
        links alone, and only the messages returned are read in full (their text).
        """
        if limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit}")
        path = self._active_nodes(conversation_id)
        before = max(len(path) - limit, 0)
        wanted = [n.id for n in path[before:]]
        if not wanted:
            return [], before
        # json_each: one parameter however many ids (SQLite limits the number of parameters).
        found = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages "
            "WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(wanted),)).fetchall()
        by_id = {r[0]: r for r in found}
        return [rows.message(by_id[mid]) for mid in wanted], before

    def message_count(self, conversation_id: str) -> int:
        """How many messages the conversation holds, every branch counted."""
        self.get_conversation(conversation_id)
        row = self._conn.execute("SELECT count(*) FROM messages WHERE conversation_id = ?",
                                 (conversation_id,)).fetchone()
        return int(row[0])

    def branches(self, conversation_id: str) -> dict[str, Branch]:
        """For each message of the active path, its place among its siblings."""
        root, found = self._tree_rows(conversation_id, full=False)
        nodes = [_node(r) for r in found]
        siblings: dict[str | None, list[str]] = {}
        for n in nodes:
            siblings.setdefault(n.parent_id, []).append(n.id)
        return {n.id: Branch(siblings[n.parent_id].index(n.id), len(siblings[n.parent_id]))
                for n in walk_active(root, nodes)}

    def children(self, message_id: str) -> list[Message]:
        """The messages directly below this one, oldest first."""
        self.message(message_id)
        found = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE parent_id = ? ORDER BY seq",
            (message_id,)).fetchall()
        return [rows.message(r) for r in found]

    def siblings(self, message_id: str) -> list[Message]:
        """This message and the others with the same parent (roots: of the same conversation),
        oldest first."""
        m = self.message(message_id)
        if m.parent_id is not None:
            return self.children(m.parent_id)
        found = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages "
            "WHERE conversation_id = ? AND parent_id IS NULL ORDER BY seq",
            (m.conversation_id,)).fetchall()
        return [rows.message(r) for r in found]

    def tree(self, conversation_id: str) -> list[Message]:
        """Every message of the conversation, every branch, parents before their children
        (in the order they were written)."""
        _root, found = self._tree_rows(conversation_id, full=True)
        return [rows.message(r) for r in found]

    def import_tree(self, conversation: dict[str, Any],
                    messages: list[dict[str, Any]]) -> Conversation:
        """Add a whole conversation (an import): the fields of Conversation and, per message,
        those of Message plus "records" (list or None).  See
        chatapp.storage.importer.insert_tree for ids, statuses and validation.  One
        transaction: a bad document writes nothing."""
        self._writable()
        default = self.get_setting(DEFAULT_SAMPLING_KEY)
        with self.transaction():
            conversation_id = insert_tree(
                self._conn, conversation, messages,
                default_sampling=default if isinstance(default, dict)
                else BUILTIN_PRESETS["Balanced"])
        return self.get_conversation(conversation_id)

    def select_branch(self, message_id: str) -> None:
        """Make the path through this message the active one; below it, the branch that was
        selected there before stays selected."""
        self._writable()
        with self.transaction():
            self._select(message_id)

    def edit_message(self, message_id: str, new_content: str) -> Message:
        """A new version of a message: a sibling with the same parent and role, selected.

        The original and everything below it stay.  The descendants are not copied: the new
        version starts a branch of its own.  Unchanged content selects the original instead.
        """
        self._writable()
        with self.transaction():
            original = self.message(message_id)
            if storable(new_content) == original.content:
                self._select(message_id)
                return original
            message = self._insert_message(original.conversation_id, original.parent_id,
                                           original.role, new_content, status="complete",
                                           provenance=None)
            self._maybe_auto_title(message)
        return message

    def begin_reply(self, conversation_id: str, parent_id: str, *,
                    provenance: dict[str, Any] | None = None, content: str = "") -> Message:
        """Start an assistant reply below `parent_id` ('streaming'), selected.  A reply to a
        message that already has one is a regeneration: a sibling of it.

        `content` is the text the reply starts with: continuing a reply is a new sibling
        that starts with the old reply's text (the old one stays as it is); give
        ``provenance={"continued_from": old_id}`` to say so, and a ReplyWriter made with
        ``text=content``.
        """
        self._writable()
        with self.transaction():
            message = self._insert_message(conversation_id, parent_id, "assistant", content,
                                           status="streaming", provenance=provenance)
        return message

    def checkpoint_reply(self, message_id: str, content: str) -> None:
        """Save the text of a streaming reply so far (one cheap UPDATE, committed).

        The caller checkpoints at least every 250 ms or 64 tokens, so a crash loses at most
        that much of a reply.
        """
        self._writable()
        cursor = self._db.execute(
            "UPDATE messages SET content = ?, updated_at = ? WHERE id = ? AND status = 'streaming'",
            (storable(content), time.time(), message_id))
        if cursor.rowcount == 0:
            self.message(message_id)  # raises NotFoundError if there is no such message
            raise ConflictError(f"message {message_id!r} is not streaming")

    def finish_reply(
        self,
        message_id: str,
        content: str,
        *,
        status: str,
        provenance: dict[str, Any] | None,
        records: list[dict[str, Any]] | None = None,
        records_blob: bytes | None = None,
        error: str | None = None,
    ) -> Message:
        """End a streaming reply: final text, status, provenance (its keys update those given
        to `begin_reply`), per-token records and error, with the conversation's time, in one
        transaction.  If it raises, the reply stays 'streaming' with its last checkpoint.

        The records are given either as dicts (`records`, encoded here) or already encoded
        (`records_blob`, as chatapp.storage.records.encode makes it, e.g. by the model
        process): the blob is stored as it is once `records.check` has read its layout through,
        which costs no Python object per record; a damaged one raises RecordsError."""
        self._writable()
        if status not in FINAL_STATUSES:
            raise ValueError(f"status must be one of {sorted(FINAL_STATUSES)}, not {status!r}")
        if records is not None and records_blob is not None:
            raise ValueError("give records or records_blob, not both")
        stored: tuple[int, bytes] | None = None
        if records_blob is not None:
            stored = (record_codec.check(records_blob), bytes(records_blob))
        elif records is not None:
            stored = (len(records), record_codec.encode(records))
        if provenance is not None:
            rows.json_object(provenance, "provenance")
        now = time.time()
        with self.transaction():
            current = self.message(message_id)
            if current.status != "streaming":
                raise ConflictError(f"message {message_id!r} is {current.status}, not streaming")
            merged = {**(current.provenance or {}), **(provenance or {})}
            merged_json = rows.json_object(merged, "provenance") if merged else None
            self._conn.execute(
                "UPDATE messages SET content = ?, status = ?, provenance = ?, error = ?, "
                "updated_at = ? WHERE id = ?",
                (storable(content), status, merged_json,
                 None if error is None else storable(error), now, message_id))
            if stored is not None:
                self._conn.execute(
                    "INSERT OR REPLACE INTO token_records (message_id, n_tokens, data) "
                    "VALUES (?, ?, ?)", (message_id, *stored))
            self._conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                               (now, current.conversation_id))
        return self.message(message_id)

    def token_records(self, message_id: str) -> list[dict[str, Any]] | None:
        """The per-token records given to `finish_reply`, or None if there were none
        (probabilities within chatapp.storage.records.P_MAX_ERROR)."""
        row = self._conn.execute("SELECT data FROM token_records WHERE message_id = ?",
                                 (message_id,)).fetchone()
        return None if row is None else record_codec.decode(bytes(row[0]))

    def token_record_table(self, message_id: str) -> record_codec.RecordTable | None:
        """The same records as `token_records`, as a `RecordTable`: read column by column,
        each record built only when asked for (what a viewer of a long reply wants: no Python
        object per record)."""
        row = self._conn.execute("SELECT data FROM token_records WHERE message_id = ?",
                                 (message_id,)).fetchone()
        return None if row is None else record_codec.table(bytes(row[0]))

    def mark_interrupted(self) -> int:
        """Mark every 'streaming' reply 'interrupted', keeping its last checkpoint.

        Called at open: nothing can be streaming before this process started one.  Returns how
        many there were.
        """
        self._writable()
        with self.transaction():
            cursor = self._conn.execute(
                "UPDATE messages SET status = 'interrupted', updated_at = ? "
                "WHERE status = 'streaming'", (time.time(),))
        return cursor.rowcount

    # -- deleting messages and undoing it ----------------------------------------------------

    def delete_message(self, message_id: str) -> DeletedMessages:
        """Delete a message and everything below it (every branch), with their per-token
        records, in one transaction; returns what `restore_messages` needs to undo it.

        The selected path stays valid: if the parent's selected child was the deleted
        message, the newest remaining sibling is selected (none: no child is); a deleted root
        that was selected gives way to the newest remaining root.  The conversation's
        updated_at stays: deleting does not move a conversation to the top of the list.
        Refused (ConflictError) while a reply in the subtree is streaming: its writer still
        needs the row.
        """
        self._writable()
        with self.transaction():
            target = self.message(message_id)
            deleted = self._subtree(target)
            streaming = [r.id for r in deleted if r.status == "streaming"]
            if streaming:
                raise ConflictError(f"message {streaming[0]!r} below {message_id!r} is still "
                                    "being written; stop the reply before deleting")
            selected_before = self._selected_child(target.conversation_id, target.parent_id)
            # One statement for the whole subtree: the parent_id foreign key (NO ACTION) is
            # checked when the statement ends, when no deleted row has a child left.  A
            # cascade would recurse per level instead (see schema.py).  token_records go by
            # their own cascade, one level deep.
            self._conn.execute(
                "DELETE FROM messages WHERE seq IN (SELECT value FROM json_each(?))",
                (json.dumps([r.seq for r in deleted]),))
            if selected_before in {r.id for r in deleted}:
                self._select_newest_child(target.conversation_id, target.parent_id)
        return DeletedMessages(target.conversation_id, message_id, target.parent_id,
                               tuple(deleted), selected_before)

    def restore_messages(self, deleted: DeletedMessages) -> None:
        """Undo `delete_message`: the same rows with the same ids, records and selection
        below them, in one transaction.

        What was selected in the deleted message's place before is selected again if it
        still exists.  Raises NotFoundError if the conversation or the parent is gone, and
        ConflictError if the messages exist (restored already); either way nothing is written.
        """
        self._writable()
        if not deleted.rows:
            raise ValueError("nothing to restore")
        with self.transaction():
            if self._conn.execute("SELECT 1 FROM conversations WHERE id = ?",
                                  (deleted.conversation_id,)).fetchone() is None:
                raise NotFoundError(
                    f"conversation {deleted.conversation_id!r} no longer exists: its deleted "
                    "messages cannot be restored")
            if deleted.parent_id is not None and self._conn.execute(
                    "SELECT 1 FROM messages WHERE id = ?",
                    (deleted.parent_id,)).fetchone() is None:
                raise NotFoundError(
                    f"message {deleted.parent_id!r}, which message {deleted.message_id!r} "
                    "followed, no longer exists: it cannot be restored")
            taken = self._conn.execute(
                "SELECT id FROM messages WHERE id IN (SELECT value FROM json_each(?)) LIMIT 1",
                (json.dumps([r.id for r in deleted.rows]),)).fetchone()
            if taken is not None:
                raise ConflictError(f"message {taken[0]!r} exists already: these messages "
                                    "were restored before")
            self._insert_deleted(deleted.rows)
            self._reselect(deleted)

    # -- search ------------------------------------------------------------------------------

    def search(self, text: str, *, limit: int = 50) -> list[SearchHit]:
        """Messages matching every word of `text` (as word prefixes), best first; matches are
        marked « » in the snippets; conversations in the trash are left out."""
        return search.search(self._conn, text, limit)

    # -- presets and settings ----------------------------------------------------------------

    def presets(self) -> list[Preset]:
        """Built-in presets first, in their order, then the user's in the order saved."""
        found = self._conn.execute(
            "SELECT name, sampling, builtin FROM presets ORDER BY builtin DESC, rowid").fetchall()
        return [Preset(name, json.loads(sampling), bool(builtin))
                for name, sampling, builtin in found]

    def save_preset(self, name: str, sampling: dict[str, Any]) -> None:
        """Create or replace a user preset."""
        self._writable()
        name = _preset_name(name)
        value = rows.json_object(sampling, "sampling")
        with self.transaction():
            if self._preset_is_builtin(name, must_exist=False):
                raise ConflictError(f"{name!r} is a built-in preset and cannot be changed")
            self._conn.execute(
                "INSERT INTO presets (name, sampling, builtin) VALUES (?, ?, 0) "
                "ON CONFLICT (name) DO UPDATE SET sampling = excluded.sampling", (name, value))

    def delete_preset(self, name: str) -> None:
        """Delete a user preset."""
        self._writable()
        with self.transaction():
            if self._preset_is_builtin(name, must_exist=True):
                raise ConflictError(f"{name!r} is a built-in preset and cannot be deleted")
            self._conn.execute("DELETE FROM presets WHERE name = ?", (name,))

    def rename_preset(self, old: str, new: str) -> None:
        """Rename a user preset (not onto an existing name)."""
        self._writable()
        new = _preset_name(new)
        with self.transaction():
            if self._preset_is_builtin(old, must_exist=True):
                raise ConflictError(f"{old!r} is a built-in preset and cannot be renamed")
            if new != old and self._conn.execute(
                    "SELECT 1 FROM presets WHERE name = ?", (new,)).fetchone():
                raise ConflictError(f"a preset named {new!r} exists already")
            self._conn.execute("UPDATE presets SET name = ? WHERE name = ?", (new, old))

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The value of a setting (JSON), or `default`."""
        row = self._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        """Set a setting to a JSON-serialisable value."""
        self._writable()
        self._db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, rows.json_text(value, f"setting {key!r}")))

    # -- internals ---------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(
                f"{self.path.name} was written by a newer chatapp (schema "
                f"{self.open_result.schema_version}) and is open read-only: "
                "changes cannot be saved")

    def _update_conversation(self, conversation_id: str, **values: Any) -> None:
        self._writable()
        with self.transaction():
            try:
                self._db.table("conversations").update(conversation_id, values)
            except sqlite_utils.db.NotFoundError:
                raise NotFoundError(f"no conversation {conversation_id!r}") from None

    def _preset_is_builtin(self, name: str, *, must_exist: bool) -> bool:
        row = self._conn.execute("SELECT builtin FROM presets WHERE name = ?",
                                 (name,)).fetchone()
        if row is None and must_exist:
            raise NotFoundError(f"no preset {name!r}")
        return row is not None and bool(row[0])

    def _insert_message(self, conversation_id: str, parent_id: str | None, role: Role,
                        content: str, *, status: str, provenance: dict[str, Any] | None,
                        parent_is_active_leaf: bool = False) -> Message:
        """Insert a message and select the path to it (caller holds a transaction).

        `parent_is_active_leaf`: the path to the parent is active already, so only the
        parent's pointer changes (saves a climb to the root on a long conversation).
        """
        if parent_id is not None:
            parent = self.message(parent_id)
            if parent.conversation_id != conversation_id:
                raise ValueError(f"message {parent_id!r} is not in conversation "
                                 f"{conversation_id!r}")
        else:
            self.get_conversation(conversation_id)
        now = time.time()
        message_id = uuid.uuid4().hex
        provenance_json = None if provenance is None else rows.json_object(provenance,
                                                                            "provenance")
        self._conn.execute(
            f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (message_id, conversation_id, parent_id, role, storable(content), now, now, status,
             None, provenance_json, None))
        if parent_is_active_leaf and parent_id is not None:
            self._conn.execute("UPDATE messages SET active_child_id = ? WHERE id = ?",
                               (message_id, parent_id))
        else:
            self._select(message_id)
        self._conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?",
                           (now, conversation_id))
        return self.message(message_id)

    def _select(self, message_id: str) -> None:
        """Point every ancestor of the message (and the conversation) along its path."""
        chain = self._conn.execute(
            """WITH RECURSIVE up(id, parent_id, active_child_id, conversation_id) AS (
                   SELECT id, parent_id, active_child_id, conversation_id
                   FROM messages WHERE id = ?
                   UNION ALL
                   SELECT m.id, m.parent_id, m.active_child_id, m.conversation_id
                   FROM messages AS m JOIN up ON m.id = up.parent_id)
               SELECT id, active_child_id, conversation_id FROM up""",
            (message_id,)).fetchall()
        if not chain:
            raise NotFoundError(f"no message {message_id!r}")
        # Only pointers that change are written: on a long conversation most already point
        # the right way.
        self._conn.executemany(
            "UPDATE messages SET active_child_id = ? WHERE id = ?",
            [(child[0], parent[0]) for child, parent in itertools.pairwise(chain)
             if parent[1] != child[0]])
        root, _child, conversation_id = chain[-1]
        self._conn.execute(
            "UPDATE conversations SET active_root_id = ? WHERE id = ? "
            "AND active_root_id IS NOT ?", (root, conversation_id, root))

    def _maybe_auto_title(self, message: Message) -> None:
        """Title the conversation after its first user message while the title is automatic."""
        if message.role != "user":
            return
        auto = self._conn.execute("SELECT title_is_auto FROM conversations WHERE id = ?",
                                  (message.conversation_id,)).fetchone()
        if not auto or not auto[0]:
            return
        # Climb until the first user message above (if any): on a long conversation it is a
        # step or two away, so this does not walk to the root.
        row = self._conn.execute(
            """WITH RECURSIVE up(id, parent_id, role, depth) AS (
                   SELECT id, parent_id, role, 0 FROM messages WHERE id = ?
                   UNION ALL
                   SELECT m.id, m.parent_id, m.role, up.depth + 1 FROM messages AS m
                   JOIN up ON m.id = up.parent_id WHERE up.depth = 0 OR up.role <> 'user')
               SELECT count(*) FROM up WHERE role = 'user' AND depth > 0""",
            (message.id,)).fetchone()
        if row[0] == 0:
            self._conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND title_is_auto = 1",
                (auto_title(message.content), message.conversation_id))

    def _subtree(self, top: Message) -> list[DeletedRow]:
        """Every row of `top` and the messages below it, as stored, in the order written
        (parents first: a message is always written after its parent)."""
        # A recursive CTE runs as a loop over a queue, not as nested calls, so SQLite's
        # trigger and cascade depth limit (1,000) does not apply: any depth is fine.  UNION
        # rather than UNION ALL: a hand-edited cycle ends the walk instead of looping forever.
        found = self._conn.execute(
            f"""WITH RECURSIVE below(id) AS (
                    SELECT ?
                    UNION
                    SELECT m.id FROM messages AS m JOIN below ON m.parent_id = below.id)
                SELECT m.seq, {", ".join(f"m.{c}" for c in _MESSAGE_COLUMNS.split(", "))},
                       t.n_tokens, t.data
                FROM messages AS m LEFT JOIN token_records AS t ON t.message_id = m.id
                WHERE m.id IN below ORDER BY m.seq""", (top.id,)).fetchall()
        return [_deleted_row(r) for r in found]

    def _selected_child(self, conversation_id: str, parent_id: str | None) -> str | None:
        """The parent's active_child_id, or the conversation's active_root_id for roots."""
        if parent_id is None:
            return self.get_conversation(conversation_id).active_root_id
        row = self._conn.execute("SELECT active_child_id FROM messages WHERE id = ?",
                                 (parent_id,)).fetchone()
        return None if row is None else row[0]

    def _select_newest_child(self, conversation_id: str, parent_id: str | None) -> None:
        """Point the parent (for roots: the conversation) at its newest child, or at nothing
        when it has none, so that the walk of the active path need not fall back."""
        if parent_id is None:
            self._conn.execute(
                "UPDATE conversations SET active_root_id = (SELECT id FROM messages "
                "WHERE conversation_id = ?1 AND parent_id IS NULL ORDER BY seq DESC LIMIT 1) "
                "WHERE id = ?1", (conversation_id,))
        else:
            self._conn.execute(
                "UPDATE messages SET active_child_id = (SELECT id FROM messages "
                "WHERE parent_id = ?1 ORDER BY seq DESC LIMIT 1) WHERE id = ?1", (parent_id,))

    def _insert_deleted(self, deleted: tuple[DeletedRow, ...]) -> None:
        """Insert deleted rows again, at their old places in the order of writing if these
        are all free, else after every message in the same relative order."""
        seqs = [r.seq for r in deleted]
        if self._conn.execute(
                "SELECT 1 FROM messages WHERE seq IN (SELECT value FROM json_each(?)) LIMIT 1",
                (json.dumps(seqs),)).fetchone() is not None:
            # Some places were reused by messages written since (SQLite hands out the
            # largest seq + 1): all go to the end, so parents still precede children.
            start = self._conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM messages"
                                       ).fetchone()[0]
            rank = {seq: n for n, seq in enumerate(sorted(seqs))}
            seqs = [start + rank[seq] for seq in seqs]
        # Rows are in the order written, so each parent is inserted before its children
        # and the parent_id foreign key holds row by row.
        self._conn.executemany(
            f"INSERT INTO messages (seq, {_MESSAGE_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(seq, r.id, r.conversation_id, r.parent_id, r.role, r.content, r.created_at,
              r.updated_at, r.status, r.active_child_id, r.provenance, r.error)
             for seq, r in zip(seqs, deleted, strict=True)])
        self._conn.executemany(
            "INSERT INTO token_records (message_id, n_tokens, data) VALUES (?, ?, ?)",
            [(r.id, r.n_tokens, r.records) for r in deleted if r.records is not None])

    def _reselect(self, deleted: DeletedMessages) -> None:
        """After a restore: select in the restored message's place what was selected there
        before the delete, if it still exists; else keep the current choice, unless that
        names no child (then the newest child)."""
        wanted = deleted.selected_before
        if deleted.parent_id is None:
            siblings = self._conn.execute(
                "SELECT id FROM messages WHERE conversation_id = ? AND parent_id IS NULL",
                (deleted.conversation_id,)).fetchall()
        else:
            siblings = self._conn.execute("SELECT id FROM messages WHERE parent_id = ?",
                                          (deleted.parent_id,)).fetchall()
        ids = {r[0] for r in siblings}
        if wanted is not None and wanted not in ids:
            # Deleted since: the choice made meanwhile stands, if it names a child.
            if self._selected_child(deleted.conversation_id, deleted.parent_id) not in ids:
                self._select_newest_child(deleted.conversation_id, deleted.parent_id)
        elif deleted.parent_id is None:
            self._conn.execute("UPDATE conversations SET active_root_id = ? WHERE id = ?",
                               (wanted, deleted.conversation_id))
        else:
            self._conn.execute("UPDATE messages SET active_child_id = ? WHERE id = ?",
                               (wanted, deleted.parent_id))

    def _tree_rows(self, conversation_id: str, *,
                   full: bool) -> tuple[str | None, list[tuple[Any, ...]]]:
        """(active root id, every message row of the conversation in creation order)."""
        root = self.get_conversation(conversation_id).active_root_id
        columns = _MESSAGE_COLUMNS if full else "id, parent_id, active_child_id"
        found = self._conn.execute(
            f"SELECT {columns} FROM messages WHERE conversation_id = ? ORDER BY seq",
            (conversation_id,)).fetchall()
        return root, found

    def _active_nodes(self, conversation_id: str) -> list[Node]:
        root, found = self._tree_rows(conversation_id, full=False)
        return walk_active(root, [_node(r) for r in found])


def _node(row: tuple[Any, ...]) -> Node:
    # Full message rows start id, conversation_id, parent_id, …; skeleton rows are
    # id, parent_id, active_child_id.
    if len(row) == 3:
        return Node(row[0], row[1], row[2])
    return Node(row[0], row[2], row[8])


def _deleted_row(row: tuple[Any, ...]) -> DeletedRow:
    # seq, the MESSAGE_COLUMNS, then token_records' n_tokens and data (NULL without records).
    (seq, mid, cid, parent, role, content, created, updated, status, child, provenance,
     error, n_tokens, data) = row
    return DeletedRow(seq, mid, cid, parent, role, content, created, updated, status, child,
                      provenance, error, n_tokens, None if data is None else bytes(data))


def _preset_name(name: str) -> str:
    name = storable(name).strip()
    if not name:
        raise ValueError("a preset name cannot be empty")
    return name
