"""ReplyWriter's records: the model process's blob stored as it is, the writer's own copies only
when there is no usable blob, and no record kept as Python containers while a reply streams."""

from __future__ import annotations

import base64
import gc
from typing import Any

import pytest

from chatapp.storage import ChatStore, records
from chatapp.storage.records import RecordsError
from chatapp.storage.reply_writer import ReplyWriter
from tests.storage.test_records import whatif_records


def token_events(n: int) -> list[dict[str, Any]]:
    """`n` token events shaped like the model process's (6 stages x 20, 64 candidates)."""
    return [{"type": "token", "id": "r1", **r} for r in whatif_records(n)]


def bare(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of token events: the events without "type" and "id"."""
    return [{k: v for k, v in e.items() if k not in ("type", "id")} for e in events]


def begun(store: ChatStore) -> tuple[str, ReplyWriter]:
    c = store.create_conversation()
    q = store.add_message(c.id, "user", "Hello")
    reply = store.begin_reply(c.id, q.id)
    return reply.id, ReplyWriter(store, reply.id)


def done_event(blob: bytes | None, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "done", "id": "r1", "finish_reason": "stop", "tail": "",
                             **extra}
    if blob is not None:
        event["records_blob"] = base64.b64encode(blob).decode("ascii")
    return event


def stored_blob(store: ChatStore, message_id: str) -> bytes:
    row = store._conn.execute("SELECT data, n_tokens FROM token_records WHERE message_id = ?",
                              (message_id,)).fetchone()
    assert row is not None and row[1] == records.check(bytes(row[0]))
    return bytes(row[0])


def test_the_blob_of_done_is_stored_as_it_is(store: ChatStore) -> None:
    events = token_events(30)
    message_id, writer = begun(store)
    for event in events:
        writer.token(event)
    blob = records.encode(bare(events))
    message = writer.done(done_event(blob))
    assert message.status == "complete" and writer.records_source == "blob"
    assert stored_blob(store, message_id) == blob
    assert store.token_records(message_id) == records.decode(blob)
    table = store.token_record_table(message_id)
    assert table is not None and [table.record(i) for i in range(len(table))] == \
        records.decode(blob)


@pytest.mark.parametrize("damage", ["no blob", "not base64", "damaged", "other format"])
def test_without_a_usable_blob_the_kept_records_are_stored(store: ChatStore,
                                                           damage: str) -> None:
    events = token_events(12)
    message_id, writer = begun(store)
    for event in events:
        writer.token(event)
    blob = records.encode(bare(events))
    done = {
        "no blob": done_event(None),
        "not base64": done_event(None, records_blob="%%% not base64 %%%"),
        "damaged": done_event(blob[:-7]),
        "other format": done_event(bytes([99]) + blob[1:]),
    }[damage]
    writer.done(done)
    assert writer.records_source == "kept"
    # Never the damaged blob: the same records, from the token events.
    assert stored_blob(store, message_id) == blob


def test_failed_stores_the_kept_records(store: ChatStore) -> None:
    events = token_events(5)
    message_id, writer = begun(store)
    for event in events:
        writer.token(event)
    message = writer.failed("the model process stopped")
    assert (message.status, message.error) == ("error", "the model process stopped")
    assert writer.records_source == "kept"
    assert store.token_records(message_id) == records.decode(records.encode(bare(events)))


def test_a_reply_without_records_stores_none(store: ChatStore) -> None:
    message_id, writer = begun(store)
    writer.token({"type": "token", "id": "r1", "i": 0, "text": "Hi"})
    writer.done(done_event(None))
    assert writer.records_source is None and store.token_records(message_id) is None


def test_finish_reply_takes_records_or_a_checked_blob(store: ChatStore) -> None:
    message_id, _writer = begun(store)
    blob = records.encode(whatif_records(3))
    with pytest.raises(ValueError, match="not both"):
        store.finish_reply(message_id, "x", status="complete", provenance=None,
                           records=whatif_records(3), records_blob=blob)
    with pytest.raises(RecordsError):
        store.finish_reply(message_id, "x", status="complete", provenance=None,
                           records_blob=blob[:-3])
    assert store.message(message_id).status == "streaming"  # nothing was written
    store.finish_reply(message_id, "x", status="complete", provenance=None, records_blob=blob)
    assert stored_blob(store, message_id) == blob


def test_streaming_keeps_no_record_as_python_containers(store: ChatStore) -> None:
    """What the garbage collector walks must not grow with the reply: the writer keeps each
    token's record as one bytes object, which it does not track."""
    events = token_events(40) * 5
    _message_id, writer = begun(store)
    gc.collect()
    before = len(gc.get_objects())
    for event in events:
        writer.token(event)
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert grown < 50, grown  # the dicts would be about 200 a token: 40,000
