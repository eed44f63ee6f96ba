"""Random sequences of adds, replies, selections, deletes and undos (in any order, twice
included) keep the tree whole: no orphan, no dangling selection, the index in step."""

from __future__ import annotations

import itertools
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from chatapp.storage import ChatStore, ConflictError, DeletedMessages, NotFoundError

TABLES = ("conversations", "messages", "token_records")


class DeleteUndoMachine(RuleBasedStateMachine):
    """Drives one conversation (and a bystander); the model is which messages exist and what
    each must hold."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="chatapp-delete-"))
        self.store = ChatStore(self.folder / "chats.db")
        self.conversation = self.store.create_conversation().id
        # Another conversation that no delete or undo may touch.
        self.bystander = self.store.create_conversation().id
        self.store.add_message(self.bystander, "user", "bystander")
        self.known: dict[str, tuple[str | None, str]] = {}  # id -> (parent, content), forever
        self.alive: set[str] = set()
        self.deletions: list[DeletedMessages] = []  # every delete made, restored or not
        self.counter = 0
        # (the last delete, every committed row before it) while nothing else was written.
        self.just_deleted: tuple[DeletedMessages, dict[str, list[tuple[Any, ...]]]] | None = None

    def teardown(self) -> None:
        """Close the store and remove its folder."""
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _text(self) -> str:
        # One word per message, all of the same length: a prefix search finds only itself,
        # and a search for "w" finds every message of the conversation.
        self.counter += 1
        return f"w{self.counter:05d}"

    def _added(self, message_id: str, parent: str | None, content: str) -> None:
        self.known[message_id] = (parent, content)
        self.alive.add(message_id)
        self.just_deleted = None

    def _snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        conn = sqlite3.connect(self.folder / "chats.db")
        try:
            return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                    for t in TABLES}
        finally:
            conn.close()

    def _pick(self, data: st.DataObject) -> str:
        # In the order written, not by id: ids are random, and a replay must draw the same.
        return data.draw(st.sampled_from(sorted(self.alive,
                                                key=lambda m: self.known[m][1])))

    @rule(as_root=st.booleans())
    def add_root(self, as_root: bool) -> None:
        text = self._text()
        m = (self.store.add_message(self.conversation, "user", text, parent_id=None) if as_root
             else self.store.add_message(self.conversation, "user", text))
        self._added(m.id, m.parent_id, text)

    @precondition(lambda self: self.alive)
    @rule(data=st.data(), records=st.booleans())
    def reply(self, data: st.DataObject, records: bool) -> None:
        parent, text = self._pick(data), self._text()
        r = self.store.begin_reply(self.conversation, parent, provenance={"k": 1})
        self.store.finish_reply(r.id, text, status="complete", provenance=None,
                                records=[{"i": 0, "text": text}] if records else None)
        self._added(r.id, parent, text)

    @precondition(lambda self: self.alive)
    @rule(data=st.data())
    def select(self, data: st.DataObject) -> None:
        self.store.select_branch(self._pick(data))
        self.just_deleted = None

    @precondition(lambda self: self.alive)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        target = self._pick(data)
        before = self._snapshot()
        deleted = self.store.delete_message(target)
        gone = {r.id for r in deleted.rows}
        below = {target}
        for _ in range(len(self.known)):  # the model's subtree, found the slow way
            below |= {m for m in self.alive if self.known[m][0] in below}
        assert gone == below
        for r in deleted.rows:
            assert (r.parent_id, r.content) == self.known[r.id]
        self.alive -= gone
        self.deletions.append(deleted)
        self.just_deleted = (deleted, before)

    @precondition(lambda self: self.deletions)
    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        """Any delete made, the last one or an older one, restored already or not."""
        deleted = data.draw(st.sampled_from(self.deletions))
        ids = {r.id for r in deleted.rows}
        before = self._snapshot()
        if deleted.parent_id is not None and deleted.parent_id not in self.alive:
            expected: type[Exception] | None = NotFoundError
        elif ids & self.alive:
            expected = ConflictError
        else:
            expected = None
        if expected is not None:
            try:
                self.store.restore_messages(deleted)
            except expected:
                pass
            else:
                raise AssertionError(f"restore should have raised {expected.__name__}")
            assert self._snapshot() == before  # nothing written
            return
        self.store.restore_messages(deleted)
        self.alive |= ids
        if self.just_deleted is not None and self.just_deleted[0] is deleted:
            # Undone right after the delete: every row is back as it was, seq included.
            assert self._snapshot() == self.just_deleted[1]
        self.just_deleted = None

    @precondition(lambda self: len(self.alive) > 1)
    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = ChatStore(self.folder / "chats.db")

    @invariant()
    def the_model_is_what_is_stored(self) -> None:
        tree = self.store.tree(self.conversation)
        assert {m.id for m in tree} == self.alive
        for m in tree:
            assert (m.parent_id, m.content) == self.known[m.id]
        assert self.store.message_count(self.conversation) == len(self.alive)
        assert [m.content for m in self.store.tree(self.bystander)] == ["bystander"]

    @invariant()
    def every_selection_names_an_existing_child(self) -> None:
        tree = self.store.tree(self.conversation)
        children: dict[str | None, list[str]] = {}
        for m in tree:
            children.setdefault(m.parent_id, []).append(m.id)
        for m in tree:
            if m.id in children:
                assert m.active_child_id in children[m.id]
            else:
                assert m.active_child_id is None
        root = self.store.get_conversation(self.conversation).active_root_id
        assert root in children[None] if None in children else root is None

    @invariant()
    def the_active_path_runs_from_a_root_to_a_leaf(self) -> None:
        path = self.store.active_path(self.conversation)
        assert bool(path) == bool(self.alive)
        if not path:
            return
        assert path[0].parent_id is None
        for above, below in itertools.pairwise(path):
            assert below.parent_id == above.id and above.active_child_id == below.id
        assert self.store.children(path[-1].id) == []
        branches = self.store.branches(self.conversation)
        assert set(branches) == {m.id for m in path}
        for m in path:
            siblings = [s.id for s in self.store.siblings(m.id)]
            assert (branches[m.id].index, branches[m.id].count) == (
                siblings.index(m.id), len(siblings))
        tail, before = self.store.active_path_tail(self.conversation, 2)
        assert tail == path[-2:] and before == len(path) - len(tail)

    @invariant()
    def no_orphans_and_the_index_is_in_step(self) -> None:
        conn = self.store._conn
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute(
            "SELECT count(*) FROM messages AS m WHERE parent_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM messages AS p WHERE p.id = m.parent_id)").fetchone()[0] == 0
        assert conn.execute(
            "SELECT count(*) FROM token_records AS t WHERE NOT EXISTS "
            "(SELECT 1 FROM messages AS m WHERE m.id = t.message_id)").fetchone()[0] == 0
        # The index's own rows (the fts table itself reads through to `messages`).
        indexed = conn.execute("SELECT count(*) FROM messages_fts_docsize").fetchone()[0]
        assert indexed == conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        with self.store.transaction():  # sqlite3 would leave an implicit transaction open
            conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        found = {h.message_id for h in self.store.search("w", limit=10_000)}
        assert found == self.alive


DeleteUndoMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30,
                                               deadline=None)
test_delete_and_undo = DeleteUndoMachine.TestCase
