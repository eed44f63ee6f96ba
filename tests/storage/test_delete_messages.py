"""Deleting a message with everything below it, and undoing that exactly."""

from __future__ import annotations

import itertools
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from chatapp.storage import (
    Branch,
    ChatStore,
    ConflictError,
    Conversation,
    DeletedMessages,
    Message,
    NotFoundError,
)

TABLES = ("conversations", "messages", "token_records")


def snapshot(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row (seq included) of the tables a delete touches, as committed: read on a
    connection of its own."""
    conn = sqlite3.connect(db_path)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in TABLES}
    finally:
        conn.close()


def reply(store: ChatStore, conversation_id: str, parent_id: str, text: str) -> Message:
    """A finished reply with one token record."""
    r = store.begin_reply(conversation_id, parent_id, provenance={"seed": 1})
    return store.finish_reply(r.id, text, status="complete", provenance={"n": 1},
                              records=[{"i": 0, "token": 7, "piece": text, "text": text}])


def fts_rows(store: ChatStore) -> int:
    """Entries in the full-text index itself (the table reads through to `messages`)."""
    # In a transaction of the store's: sqlite3 would open one implicitly and leave it open.
    with store.transaction():
        store._conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
    return int(store._conn.execute("SELECT count(*) FROM messages_fts_docsize").fetchone()[0])


def assert_consistent(store: ChatStore, conversation_id: str) -> None:
    """The selected path runs from a root to a leaf along existing pointers, `branches()`
    agrees with `siblings()`, and nothing dangles."""
    conv = store.get_conversation(conversation_id)
    path = store.active_path(conversation_id)
    if not path:
        assert conv.active_root_id is None and store.message_count(conversation_id) == 0
        return
    assert conv.active_root_id == path[0].id and path[0].parent_id is None
    for above, below in itertools.pairwise(path):
        assert below.parent_id == above.id and above.active_child_id == below.id
    assert store.children(path[-1].id) == [] and path[-1].active_child_id is None
    branches = store.branches(conversation_id)
    for m in path:
        ids = [s.id for s in store.siblings(m.id)]
        assert branches[m.id] == Branch(ids.index(m.id), len(ids))
    conn = store._conn
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute(
        "SELECT count(*) FROM messages AS m WHERE active_child_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM messages AS c WHERE c.id = m.active_child_id "
        "AND c.parent_id = m.id)").fetchone()[0] == 0
    assert fts_rows(store) == conn.execute("SELECT count(*) FROM messages").fetchone()[0]


def sample(store: ChatStore) -> tuple[Conversation, dict[str, Message]]:
    """u1 → a1 → {u2 → {a2, a2b} → u3 → a3,  u2b (an edit) → a2c}; u2's branch selected."""
    c = store.create_conversation()
    m: dict[str, Message] = {}
    m["u1"] = store.add_message(c.id, "user", "first question")
    m["a1"] = reply(store, c.id, m["u1"].id, "first answer")
    m["u2"] = store.add_message(c.id, "user", "second question doomed")
    m["a2"] = reply(store, c.id, m["u2"].id, "doomed answer")
    m["a2b"] = reply(store, c.id, m["u2"].id, "doomed regeneration")
    m["u3"] = store.add_message(c.id, "user", "third doomed question")
    m["a3"] = reply(store, c.id, m["u3"].id, "third doomed answer")
    m["u2b"] = store.edit_message(m["u2"].id, "second question kept")
    m["a2c"] = reply(store, c.id, m["u2b"].id, "kept answer")
    store.select_branch(m["a3"].id)
    return c, m


def test_deleting_a_middle_message_takes_its_subtree_and_keeps_the_siblings(
        store: ChatStore) -> None:
    c, m = sample(store)
    listed = store.get_conversation(c.id).updated_at
    assert [x.id for x in store.active_path(c.id)] == [
        m[k].id for k in ("u1", "a1", "u2", "a2b", "u3", "a3")]
    time.sleep(0.01)

    deleted = store.delete_message(m["u2"].id)

    assert (deleted.conversation_id, deleted.message_id, deleted.parent_id,
            deleted.selected_before) == (c.id, m["u2"].id, m["a1"].id, m["u2"].id)
    assert [r.id for r in deleted.rows] == [m[k].id for k in ("u2", "a2", "a2b", "u3", "a3")]
    assert [r.content for r in deleted.rows][:2] == ["second question doomed", "doomed answer"]
    assert deleted.rows[1].provenance == '{"seed":1,"n":1}' and deleted.rows[1].n_tokens == 1
    for k in ("u2", "a2", "a2b", "u3", "a3"):
        with pytest.raises(NotFoundError):
            store.message(m[k].id)
        assert store.token_records(m[k].id) is None
    assert [x.content for x in store.tree(c.id)] == [
        "first question", "first answer", "second question kept", "kept answer"]
    assert [x.id for x in store.active_path(c.id)] == [
        m[k].id for k in ("u1", "a1", "u2b", "a2c")]
    assert store.branches(c.id)[m["u2b"].id] == Branch(0, 1)
    assert store.token_records(m["a2c"].id) is not None
    assert store.search("doomed") == [] and len(store.search("kept")) == 2
    assert store.get_conversation(c.id).updated_at == listed  # does not move up the list
    assert_consistent(store, c.id)


def test_deleting_an_unselected_branch_keeps_the_selection(store: ChatStore) -> None:
    c, m = sample(store)
    path = [x.id for x in store.active_path(c.id)]
    store.delete_message(m["a2"].id)
    assert [x.id for x in store.active_path(c.id)] == path
    assert store.branches(c.id)[m["a2b"].id] == Branch(0, 1)
    store.delete_message(m["u2b"].id)
    assert [x.id for x in store.active_path(c.id)] == path
    assert_consistent(store, c.id)


def test_deleting_the_selected_leaf_selects_the_newest_remaining_sibling(
        store: ChatStore) -> None:
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "q")
    first, second, third = (reply(store, c.id, q.id, t) for t in ("one", "two", "three"))
    store.select_branch(second.id)
    store.delete_message(second.id)
    assert store.message(q.id).active_child_id == third.id
    store.delete_message(third.id)
    assert [x.id for x in store.active_path(c.id)] == [q.id, first.id]
    store.delete_message(first.id)
    assert store.message(q.id).active_child_id is None
    assert [x.id for x in store.active_path(c.id)] == [q.id]
    assert_consistent(store, c.id)


def test_deleting_a_root(store: ChatStore) -> None:
    c = store.create_conversation()
    old = store.add_message(c.id, "user", "old root", parent_id=None)
    reply(store, c.id, old.id, "old answer")
    middle = store.add_message(c.id, "user", "middle root", parent_id=None)
    new = store.add_message(c.id, "user", "new root", parent_id=None)
    store.select_branch(middle.id)

    store.delete_message(new.id)  # not selected: the selection stays
    assert store.get_conversation(c.id).active_root_id == middle.id
    deleted = store.delete_message(middle.id)
    assert deleted.parent_id is None and deleted.selected_before == middle.id
    assert store.get_conversation(c.id).active_root_id == old.id  # the newest remaining
    assert [x.content for x in store.active_path(c.id)] == ["old root", "old answer"]
    assert_consistent(store, c.id)

    store.restore_messages(deleted)
    assert store.get_conversation(c.id).active_root_id == middle.id
    assert [x.content for x in store.active_path(c.id)] == ["middle root"]
    assert_consistent(store, c.id)


def test_deleting_the_only_message_and_undoing_it(store: ChatStore, db_path: Path) -> None:
    c = store.create_conversation()
    only = store.add_message(c.id, "user", "lonely words")
    before = snapshot(db_path)
    deleted = store.delete_message(only.id)
    assert store.active_path(c.id) == [] and store.message_count(c.id) == 0
    assert store.get_conversation(c.id).active_root_id is None
    assert store.active_path_tail(c.id, 50) == ([], 0)
    assert store.search("lonely") == []
    assert_consistent(store, c.id)
    store.restore_messages(deleted)
    assert snapshot(db_path) == before
    assert [h.message_id for h in store.search("lonely")] == [only.id]


def test_undo_restores_exactly(store: ChatStore, db_path: Path) -> None:
    c, m = sample(store)
    store.select_branch(m["a2"].id)  # below the deleted message, another branch than a2b
    tree = store.tree(c.id)
    records = {x.id: store.token_records(x.id) for x in tree}
    path, branches = store.active_path(c.id), store.branches(c.id)
    before = snapshot(db_path)

    deleted = store.delete_message(m["u2"].id)
    assert snapshot(db_path) != before
    store.restore_messages(deleted)

    assert snapshot(db_path) == before  # every column, seq and token records included
    assert store.tree(c.id) == tree
    assert {x.id: store.token_records(x.id) for x in tree} == records
    assert store.active_path(c.id) == path and store.branches(c.id) == branches
    assert {h.message_id for h in store.search("doomed")} == {
        m[k].id for k in ("u2", "a2", "a2b", "u3", "a3")}
    assert_consistent(store, c.id)


def test_restoring_twice_is_a_conflict_and_writes_nothing(
        store: ChatStore, db_path: Path) -> None:
    _c, m = sample(store)
    deleted = store.delete_message(m["u3"].id)
    store.restore_messages(deleted)
    before = snapshot(db_path)
    with pytest.raises(ConflictError, match="restored before"):
        store.restore_messages(deleted)
    assert snapshot(db_path) == before


def test_restoring_below_a_deleted_parent_is_refused_until_the_parent_is_back(
        store: ChatStore, db_path: Path) -> None:
    c, m = sample(store)
    lower = store.delete_message(m["u3"].id)
    upper = store.delete_message(m["u2"].id)
    before = snapshot(db_path)
    with pytest.raises(NotFoundError, match=f"message {m['a2b'].id!r}.*no longer exists"):
        store.restore_messages(lower)
    assert snapshot(db_path) == before
    store.restore_messages(upper)
    store.restore_messages(lower)
    assert {x.id for x in store.tree(c.id)} == {x.id for x in m.values()}
    assert [x.id for x in store.active_path(c.id)] == [
        m[k].id for k in ("u1", "a1", "u2", "a2b", "u3", "a3")]
    assert_consistent(store, c.id)


def test_restoring_into_a_conversation_deleted_for_good_is_refused(
        store: ChatStore, db_path: Path) -> None:
    c, m = sample(store)
    deleted = store.delete_message(m["u2"].id)
    store.delete(c.id)
    store.empty_trash()
    before = snapshot(db_path)
    with pytest.raises(NotFoundError, match=f"conversation {c.id!r} no longer exists"):
        store.restore_messages(deleted)
    assert snapshot(db_path) == before


def test_restored_messages_go_to_the_end_when_their_places_were_taken(
        store: ChatStore) -> None:
    c, m = sample(store)
    deleted = store.delete_message(m["a2c"].id)  # the newest message: its seq is reused
    newer = reply(store, c.id, m["u2b"].id, "written after the delete")
    store.restore_messages(deleted)
    assert [x.id for x in store.siblings(newer.id)] == [newer.id, m["a2c"].id]
    # What was selected before the delete is selected again.
    assert store.message(m["u2b"].id).active_child_id == m["a2c"].id

    # A whole subtree that held the newest message keeps its relative order.
    sub = store.delete_message(m["u2b"].id)
    assert [r.id for r in sub.rows] == [m["u2b"].id, newer.id, m["a2c"].id]
    taker = store.add_message(c.id, "user", "takes a freed place", parent_id=m["a1"].id)
    store.restore_messages(sub)
    order = [x.id for x in store.tree(c.id)]
    assert order[-4:] == [taker.id, m["u2b"].id, newer.id, m["a2c"].id]
    # Selected before the delete (the reply `newer` selected the path through u2b), and
    # selected again, though `taker` was selected since.
    assert sub.selected_before == m["u2b"].id
    assert store.message(m["a1"].id).active_child_id == m["u2b"].id
    assert store.message(m["u2b"].id).active_child_id == m["a2c"].id
    assert_consistent(store, c.id)


def test_restore_keeps_a_choice_made_since_when_the_old_one_is_gone(store: ChatStore) -> None:
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "q")
    hidden = reply(store, c.id, q.id, "hidden")
    shown = reply(store, c.id, q.id, "shown")
    first = store.delete_message(hidden.id)
    assert first.selected_before == shown.id
    store.delete_message(shown.id)
    assert store.message(q.id).active_child_id is None
    store.restore_messages(first)  # `shown` is gone: the only child is selected
    assert store.message(q.id).active_child_id == hidden.id
    assert_consistent(store, c.id)


def test_a_streaming_reply_cannot_be_deleted(store: ChatStore, db_path: Path) -> None:
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "q")
    r = store.begin_reply(c.id, q.id)
    before = snapshot(db_path)
    for target in (q.id, r.id):
        with pytest.raises(ConflictError, match="still being written"):
            store.delete_message(target)
    assert snapshot(db_path) == before
    store.finish_reply(r.id, "done", status="complete", provenance=None)
    store.delete_message(q.id)
    assert store.message_count(c.id) == 0


def test_unknown_message(store: ChatStore) -> None:
    with pytest.raises(NotFoundError):
        store.delete_message("nope")


def test_a_20000_deep_chain_is_deleted_and_restored(
        store: ChatStore, db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Beyond SQLite's 1,000-level limit on triggers and cascades: the subtree is found by a
    recursive CTE and deleted by one statement."""
    n = 20_000
    chain = [{"id": f"deep{k}", "parent_id": f"deep{k - 1}" if k else None,
              "active_child_id": f"deep{k + 1}" if k + 1 < n else None,
              "role": "user" if k % 2 == 0 else "assistant",
              "content": f"message {k} of the deep chain"} for k in range(n)]
    c = store.import_tree({"id": "deep", "title": "deep", "active_root_id": "deep0"}, chain)
    assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1  # enforced
    tree = store.tree(c.id)
    before = snapshot(db_path)

    started = time.perf_counter()
    middle = store.delete_message("deep10000")
    deleted_s = time.perf_counter() - started
    assert len(middle.rows) == n - 10_000
    assert [r.id for r in middle.rows] == [f"deep{k}" for k in range(10_000, n)]
    assert store.message_count(c.id) == 10_000
    assert store.active_path(c.id)[-1].id == "deep9999"
    started = time.perf_counter()
    store.restore_messages(middle)
    restored_s = time.perf_counter() - started
    assert snapshot(db_path) == before and store.tree(c.id) == tree

    whole = store.delete_message("deep0")
    assert len(whole.rows) == n and store.message_count(c.id) == 0
    assert fts_rows(store) == 0
    store.restore_messages(whole)
    assert snapshot(db_path) == before
    assert_consistent(store, c.id)
    with capsys.disabled():
        print(f"\n20,000-deep chain: delete of 10,000 levels {deleted_s * 1000:.0f} ms, "
              f"restore {restored_s * 1000:.0f} ms")


def test_deleted_messages_are_plain_frozen_values(store: ChatStore) -> None:
    _c, m = sample(store)
    deleted = store.delete_message(m["u3"].id)
    assert isinstance(deleted, DeletedMessages) and isinstance(deleted.rows, tuple)
    with pytest.raises(AttributeError):
        deleted.message_id = "x"  # type: ignore[misc]
    row = deleted.rows[1]
    assert isinstance(row.records, bytes) and row.n_tokens == 1
    assert deleted.rows[0].records is None and deleted.rows[0].n_tokens is None
