"""An exception in the middle of a multi-row write leaves nothing half-written."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chatapp.storage import ChatStore, records, repository


class Boom(RuntimeError):
    """The injected failure."""


def snapshot(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read on a connection of its own (so only commits count)."""
    conn = sqlite3.connect(db_path)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in ("conversations", "messages", "token_records", "presets", "settings")}
    finally:
        conn.close()


def test_failing_records_encoder_leaves_the_reply_as_it_was(
        store: ChatStore, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "hello")
    r = store.begin_reply(c.id, q.id, provenance={"model": "m"})
    store.checkpoint_reply(r.id, "partial text")
    before = snapshot(db_path)

    def explode(rows: list[dict[str, Any]]) -> bytes:
        raise Boom("encoder failed")

    monkeypatch.setattr(records, "encode", explode)
    with pytest.raises(Boom):
        store.finish_reply(r.id, "partial text and the rest", status="complete",
                           provenance={"tokens_per_s": 9.0}, records=[{"i": 0}])
    assert snapshot(db_path) == before
    got = store.message(r.id)
    assert (got.status, got.content, got.provenance) == ("streaming", "partial text",
                                                         {"model": "m"})
    assert store.token_records(r.id) is None
    assert store.search("rest") == []

    # The caller can still finish it (here without the records).
    monkeypatch.undo()
    done = store.finish_reply(r.id, "partial text and the rest", status="complete",
                              provenance={"tokens_per_s": 9.0})
    assert done.status == "complete" and done.provenance == {"model": "m", "tokens_per_s": 9.0}


def test_exception_inside_transaction_rolls_back_every_write(
        store: ChatStore, db_path: Path) -> None:
    c = store.create_conversation()
    first = store.add_message(c.id, "user", "kept")
    before = snapshot(db_path)
    with pytest.raises(Boom), store.transaction():
        a = store.add_message(c.id, "assistant", "lost 1")
        store.add_message(c.id, "user", "lost 2", parent_id=a.id)
        store.rename(c.id, "lost title")
        store.set_setting("lost", True)
        store.save_preset("Lost", {"temperature": 1.0})
        raise Boom
    assert snapshot(db_path) == before
    assert [m.id for m in store.active_path(c.id)] == [first.id]
    assert store.get_conversation(c.id).title == "kept"


def test_inner_failure_rolls_back_only_the_inner_block(store: ChatStore, db_path: Path) -> None:
    c = store.create_conversation()
    with store.transaction():
        store.add_message(c.id, "user", "outer")
        with pytest.raises(Boom), store.transaction():
            store.add_message(c.id, "assistant", "inner")
            raise Boom
    assert [m.content for m in store.active_path(c.id)] == ["outer"]


def test_failure_after_the_insert_leaves_no_orphan_or_dangling_pointer(
        store: ChatStore, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = store.create_conversation()
    before = snapshot(db_path)

    def explode(text: str) -> str:
        raise Boom("title failed")

    # The title is the last step of add_message, after the insert and the pointer update.
    monkeypatch.setattr(repository, "auto_title", explode)
    with pytest.raises(Boom):
        store.add_message(c.id, "user", "first words")
    assert snapshot(db_path) == before
    assert store.get_conversation(c.id).active_root_id is None


def test_the_schema_refuses_to_overwrite_a_message(store: ChatStore) -> None:
    """Below the code: a finished message's text and place in the tree cannot change."""
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "original")
    r = store.begin_reply(c.id, q.id)
    store.checkpoint_reply(r.id, "streaming text may change")
    conn = store.open_result.connection
    for statement in ("UPDATE messages SET content = 'x' WHERE id = ?",
                      "UPDATE messages SET parent_id = NULL WHERE id = ?",
                      "UPDATE messages SET role = 'assistant' WHERE id = ?"):
        with pytest.raises(sqlite3.IntegrityError, match="message"), store.transaction():
            conn.execute(statement, (q.id,))
    assert store.message(q.id).content == "original"
