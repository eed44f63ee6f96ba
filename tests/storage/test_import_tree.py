"""Writing a whole conversation tree at once (`tree` and `import_tree`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest

from chatapp.storage import ChatStore, Conversation


def export(store: ChatStore, conversation_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The conversation and every message, as plain dicts (what an export holds)."""
    conv = asdict(store.get_conversation(conversation_id))
    messages = [asdict(m) | {"records": store.token_records(m.id)}
                for m in store.tree(conversation_id)]
    return conv, messages


def sample(store: ChatStore) -> Conversation:
    """A conversation with two roots, a regenerated reply and records."""
    c = store.create_conversation(model="m.gguf", folder="f")
    q = store.add_message(c.id, "user", "question one")
    r1 = store.begin_reply(c.id, q.id, provenance={"seed": 1})
    store.finish_reply(r1.id, "answer one", status="complete", provenance=None,
                       records=[{"i": 0, "token": 3, "piece": "a", "text": "a"}])
    r2 = store.begin_reply(c.id, q.id)
    store.finish_reply(r2.id, "answer two", status="cancelled", provenance=None)
    store.edit_message(q.id, "question one, edited")
    store.select_branch(r1.id)
    return store.get_conversation(c.id)


def test_tree_lists_every_branch_parents_first(store: ChatStore) -> None:
    c = sample(store)
    tree = store.tree(c.id)
    assert len(tree) == 4
    seen: set[str] = set()
    for m in tree:
        assert m.parent_id is None or m.parent_id in seen
        seen.add(m.id)


def test_import_into_another_store_is_lossless(store: ChatStore, tmp_path: Any) -> None:
    c = sample(store)
    conv, messages = export(store, c.id)
    with ChatStore(tmp_path / "other.db") as other:
        imported = other.import_tree(conv, list(reversed(messages)))  # any order will do
        assert imported.id == c.id
        again_conv, again_messages = export(other, c.id)
        assert again_conv == conv | {"updated_at": again_conv["updated_at"]}
        key = {m["id"]: m for m in messages}
        assert {m["id"]: m for m in again_messages} == key
        assert [m.content for m in other.active_path(c.id)] == [
            m.content for m in store.active_path(c.id)]
        assert other.search("edited")


def test_importing_twice_makes_a_copy_with_new_ids(store: ChatStore) -> None:
    c = sample(store)
    conv, messages = export(store, c.id)
    copy = store.import_tree(conv, messages)
    assert copy.id != c.id
    assert [m.content for m in store.active_path(copy.id)] == [
        m.content for m in store.active_path(c.id)]
    assert not {m.id for m in store.tree(copy.id)} & {m["id"] for m in messages}
    records = [store.token_records(m.id) for m in store.tree(copy.id)]
    assert [{"i": 0, "token": 3, "piece": "a", "text": "a"}] in records


@pytest.mark.parametrize("broken", [
    [{"id": "a", "role": "user", "content": "x", "parent_id": "missing"}],
    [{"id": "a", "role": "user", "content": "x"}, {"id": "a", "role": "user", "content": "y"}],
    [{"id": "a", "role": "robot", "content": "x"}],
    [{"id": "a", "role": "user", "content": 5}],
    [{"id": "a", "role": "user", "content": "x", "parent_id": "b"},
     {"id": "b", "role": "user", "content": "y", "parent_id": "a"}],
    [{"id": "a", "role": "user", "content": "x", "status": "weird"}],
])
def test_a_bad_document_writes_nothing(store: ChatStore, broken: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError):
        store.import_tree({"title": "t"}, broken)
    assert store.list_conversations(include_deleted=True) == []


def test_streaming_comes_in_as_interrupted(store: ChatStore) -> None:
    c = store.import_tree({"title": "t"}, [
        {"id": "q", "role": "user", "content": "hi"},
        {"id": "r", "parent_id": "q", "role": "assistant", "content": "hel",
         "status": "streaming"}])
    assert [m.status for m in store.active_path(c.id)] == ["complete", "interrupted"]
    assert c.sampling  # the default sampling when the document has none
