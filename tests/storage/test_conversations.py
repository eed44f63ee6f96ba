"""Conversations: titles, listing order, folders, per-conversation settings, the trash."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chatapp.storage import ChatStore, NotFoundError
from chatapp.storage.titles import auto_title


def test_title_follows_the_first_user_message_until_renamed(store: ChatStore) -> None:
    c = store.create_conversation(system_prompt="Be brief.")
    assert store.get_conversation(c.id).title == ""
    store.add_message(c.id, "system", "You are a poet.")
    first = store.add_message(c.id, "user", "  What   rhymes\nwith orange?  ")
    assert store.get_conversation(c.id).title == "What rhymes with orange?"
    store.add_message(c.id, "assistant", "Nothing.")
    store.add_message(c.id, "user", "Really?")
    assert store.get_conversation(c.id).title == "What rhymes with orange?"
    store.edit_message(first.id, "What rhymes with purple?")
    assert store.get_conversation(c.id).title == "What rhymes with purple?"
    store.rename(c.id, "Rhymes")
    store.edit_message(first.id, "Anything else")
    got = store.get_conversation(c.id)
    assert (got.title, got.title_is_auto) == ("Rhymes", False)
    with pytest.raises(ValueError):
        store.rename(c.id, "   ")


def test_auto_title_cuts_on_a_word_boundary() -> None:
    text = "Please explain how the tides work and why there are two of them every single day"
    title = auto_title(text)
    assert title == "Please explain how the tides work and why there are two of…"
    assert len(title) <= 60
    assert auto_title("x" * 100) == "x" * 59 + "…"
    assert auto_title("short") == "short"


def test_listing_is_pinned_first_then_newest(store: ChatStore) -> None:
    ids = []
    for n in range(4):
        c = store.create_conversation(folder="work" if n % 2 else None)
        store.add_message(c.id, "user", f"message {n}")
        ids.append(c.id)
        time.sleep(0.002)
    store.set_pinned(ids[0], True)
    assert [c.id for c in store.list_conversations()] == [ids[0], ids[3], ids[2], ids[1]]
    assert [c.id for c in store.list_conversations(limit=2, offset=1)] == [ids[3], ids[2]]
    assert [c.id for c in store.list_conversations(folder="work")] == [ids[3], ids[1]]
    store.add_message(ids[1], "assistant", "a reply moves it up")
    assert [c.id for c in store.list_conversations()][:2] == [ids[0], ids[1]]


def test_per_conversation_settings_stick(db_path: Path) -> None:
    with ChatStore(db_path) as store:
        c = store.create_conversation(model="a.gguf", sampling={"temperature": 0.1})
        store.set_model(c.id, "b.gguf")
        store.set_sampling(c.id, {"temperature": 0.9, "seed": 7})
        store.set_system_prompt(c.id, "Answer in French.")
        store.set_folder(c.id, "Langues")
    with ChatStore(db_path) as store:
        got = store.get_conversation(c.id)
        assert (got.model, got.sampling, got.system_prompt, got.folder) == (
            "b.gguf", {"temperature": 0.9, "seed": 7}, "Answer in French.", "Langues")
        with pytest.raises(NotFoundError):
            store.set_model("nope", "x")
        with pytest.raises(ValueError, match="dict"):
            store.set_sampling(c.id, [1, 2])  # type: ignore[arg-type]


def test_trash_delete_restore_and_empty(store: ChatStore) -> None:
    keep = store.create_conversation()
    gone = store.create_conversation()
    q = store.add_message(gone.id, "user", "bye")
    r = store.begin_reply(gone.id, q.id)
    store.finish_reply(r.id, "farewell", status="complete", provenance={"m": 1},
                       records=[{"i": 0, "token": 1, "piece": "x", "text": "x"}])
    store.delete(gone.id)
    assert [c.id for c in store.list_conversations()] == [keep.id]
    assert [c.id for c in store.trash()] == [gone.id]
    assert store.get_conversation(gone.id).deleted_at is not None
    assert {c.id for c in store.list_conversations(include_deleted=True)} == {keep.id, gone.id}
    store.restore(gone.id)
    assert store.trash() == [] and len(store.list_conversations()) == 2
    store.delete(gone.id)
    assert store.empty_trash() == 1
    assert store.trash() == []
    with pytest.raises(NotFoundError):
        store.get_conversation(gone.id)
    with pytest.raises(NotFoundError):
        store.message(r.id)
    counts = [store._conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("messages", "token_records")]
    assert counts == [0, 0]
    assert [c.id for c in store.list_conversations()] == [keep.id]


def test_messages_and_replies_are_validated(store: ChatStore) -> None:
    a = store.create_conversation()
    b = store.create_conversation()
    m = store.add_message(a.id, "user", "hi")
    with pytest.raises(ValueError, match="role"):
        store.add_message(a.id, "robot", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not in conversation"):
        store.add_message(b.id, "user", "x", parent_id=m.id)
    with pytest.raises(NotFoundError):
        store.add_message("nope", "user", "x")
    r = store.begin_reply(a.id, m.id)
    with pytest.raises(ValueError, match="status"):
        store.finish_reply(r.id, "x", status="streaming", provenance=None)
    with pytest.raises(ValueError, match="JSON"):
        store.finish_reply(r.id, "x", status="complete", provenance={"f": object()})
    done = store.finish_reply(r.id, "oops", status="error", provenance=None, error="crashed")
    assert (done.status, done.error, done.provenance) == ("error", "crashed", None)
    assert store.token_records(r.id) is None


def test_text_with_lone_surrogates_is_stored_not_lost(store: ChatStore) -> None:
    c = store.create_conversation()
    m = store.add_message(c.id, "user", "broken \ud83d pair")
    assert store.message(m.id).content == "broken \ufffd pair"


def test_a_very_long_conversation_can_be_deleted_for_good(store: ChatStore) -> None:
    """A cascade along parent links would recurse once per message (SQLite stops at 1,000)."""
    chain = [{"id": f"m{n}", "parent_id": f"m{n - 1}" if n else None,
              "role": "user" if n % 2 == 0 else "assistant", "content": f"message {n}"}
             for n in range(2_500)]
    c = store.import_tree({"title": "long"}, chain)
    assert len(store.active_path(c.id)) == 2_500
    store.delete(c.id)
    assert store.empty_trash() == 1
    assert store._conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
