"""Continuing a reply: a new alternative that starts with the old reply's text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chatapp.storage import Branch, ChatStore, Message
from chatapp.storage.reply_writer import ReplyWriter


def token(text: str, i: int) -> dict[str, Any]:
    """A token event as the model process sends it (with one sampler stage)."""
    return {"type": "token", "id": "r1", "i": i, "text": text,
            "stages": [{"name": "raw", "active": True, "survivors": 2, "top": [[i, text, 0.5]]}]}


def finished_reply(store: ChatStore, conversation_id: str, parent_id: str) -> Message:
    """A reply that stopped early (the user stopped it, or it hit its token limit)."""
    r = store.begin_reply(conversation_id, parent_id)
    writer = ReplyWriter(store, r.id)
    for n, piece in enumerate(["Once", " upon"]):
        writer.token(token(piece, n))
    return writer.done({"type": "done", "id": "r1", "finish_reason": "length",
                        "model_path": "/m/first.gguf"})


def test_continuing_makes_a_selected_sibling_ending_with_the_continuation(
        store: ChatStore) -> None:
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "Tell me a story")
    old = finished_reply(store, c.id, q.id)
    assert old.content == "Once upon"

    cont = store.begin_reply(c.id, q.id, content=old.content,
                             provenance={"continued_from": old.id})
    assert (cont.content, cont.status, cont.parent_id) == ("Once upon", "streaming", q.id)
    writer = ReplyWriter(store, cont.id, text=old.content)
    writer.token(token(" a", 0))
    writer.checkpoint()
    assert store.message(cont.id).content == "Once upon a"  # checkpoints hold the old text
    writer.token(token(" time", 1))
    done = writer.done({"type": "done", "id": "r1", "tail": ".", "finish_reason": "stop",
                        "model_path": "/m/second.gguf"})

    assert (done.content, done.status) == ("Once upon a time.", "complete")
    assert done.provenance is not None
    assert done.provenance["continued_from"] == old.id
    assert done.provenance["model_file"] == "second.gguf"
    # The records are the continuation's tokens only.
    records = store.token_records(cont.id)
    assert records is not None and [r["text"] for r in records] == [" a", " time"]
    assert store.message(old.id) == old  # the original is untouched
    assert [m.id for m in store.active_path(c.id)] == [q.id, cont.id]
    assert store.branches(c.id) == {q.id: Branch(0, 1), cont.id: Branch(1, 2)}
    assert [m.id for m in store.siblings(old.id)] == [old.id, cont.id]
    assert [h.message_id for h in store.search("time")] == [cont.id]

    store.select_branch(old.id)  # the switch goes back to the original, as it was
    assert [m.content for m in store.active_path(c.id)] == ["Tell me a story", "Once upon"]


def test_a_crash_while_continuing_keeps_the_old_text_and_the_checkpoints(
        db_path: Path) -> None:
    store = ChatStore(db_path)
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "Tell me a story")
    old = finished_reply(store, c.id, q.id)
    cont = store.begin_reply(c.id, q.id, content=old.content,
                             provenance={"continued_from": old.id})
    writer = ReplyWriter(store, cont.id, text=old.content)
    writer.token(token(" a", 0))
    writer.token(token(" time", 1))
    writer.checkpoint()
    writer.token(token(" there", 2))  # after the last checkpoint: lost
    store.close()  # no done: the app went away mid-reply

    with ChatStore(db_path) as reopened:
        assert reopened.interrupted == 1
        got = reopened.message(cont.id)
        assert (got.status, got.content) == ("interrupted", "Once upon a time")
        assert got.provenance == {"continued_from": old.id}
        assert reopened.message(old.id) == old
        assert [m.id for m in reopened.active_path(c.id)] == [q.id, cont.id]
        assert reopened.branches(c.id)[cont.id] == Branch(1, 2)


def test_a_continuation_that_fails_keeps_the_old_text(store: ChatStore) -> None:
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "Tell me a story")
    old = finished_reply(store, c.id, q.id)
    cont = store.begin_reply(c.id, q.id, content=old.content)
    writer = ReplyWriter(store, cont.id, text=old.content)
    failed = writer.failed("the model process stopped")
    assert (failed.content, failed.status, failed.error) == (
        "Once upon", "error", "the model process stopped")
    assert writer.checkpoints == 0  # nothing grew: nothing to write before the end


def test_a_reply_still_begins_empty_by_default(store: ChatStore) -> None:
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "hi")
    r = store.begin_reply(c.id, q.id)
    assert (r.content, r.provenance) == ("", None)
    writer = ReplyWriter(store, r.id)
    assert writer.text == ""
